/*-------------------------------------------------------------------------
 *
 * args.c
 *	  The SQL functions' arguments: every one is checked before anything is
 *	  recorded or sent (ids, specs, actions, tokens; NULLs refused), into
 *	  the fixed-size GwCall handed to the worker.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "gwresize.h"


static const char *const huawei_specs[] = {
	"BASIC", "PROFESSIONAL", "ENTERPRISE", "PLATINUM",
	"BASIC_IPV6", "PROFESSIONAL_IPV6", "ENTERPRISE_IPV6", "PLATINUM_IPV6",
	"PLATINUM_X2", "PLATINUM_X3", "PLATINUM_X4", "PLATINUM_X5",
	"PLATINUM_X6", "PLATINUM_X7", "PLATINUM_X8",
	NULL
};


/* ---- argument checks ---- */

char *
gw_arg_text(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

bool
gw_arg_bool(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return PG_GETARG_BOOL(n);
}

/* the server argument n: NULL picks the one server the caller may use */
char *
gw_arg_server(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : NameStr(*PG_GETARG_NAME(n));
}

/* instance and project ids: 1 to 64 letters, digits, '-' or '_' */
static void
check_id(const char *name, const char *v, char *dst)
{
	size_t		len = strlen(v);
	const char *p;

	for (p = v; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			break;
	if (len == 0 || len > GW_ID_MAXLEN || *p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s", name),
				 errdetail("An id is 1 to %d letters, digits, '-' or '_'; this one is %zu bytes%s.",
						   GW_ID_MAXLEN, len,
						   len > 0 && *p != '\0' ? " with other characters" : "")));
	strlcpy(dst, v, GW_ID_MAXLEN + 1);
}

/* Alibaba specs: api.<family>.<size>, lower-case letters and digits */
static void
check_aliyun_spec(const char *v, char *dst)
{
	const char *p = v;
	int			parts = 0;
	bool		ok = strncmp(v, "api.", 4) == 0 && strlen(v) <= GW_SPEC_MAXLEN;

	if (ok)
	{
		p = v + 4;
		while (ok && *p)
		{
			int			n = 0;

			while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
				p++, n++;
			ok = n > 0;
			parts++;
			if (*p == '.')
				p++, ok = ok && *p != '\0';
			else if (*p != '\0')
				ok = false;
		}
		ok = ok && parts == 2;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid instance_spec"),
				 errdetail("An Alibaba Cloud API Gateway specification looks like api.<family>.<size>, such as api.s1.small or api.s2.large.")));
	strlcpy(dst, v, GW_SPEC_MAXLEN + 1);
}

static void
check_huawei_spec(const char *v, char *dst)
{
	int			i;

	for (i = 0; huawei_specs[i]; i++)
		if (strcmp(v, huawei_specs[i]) == 0)
		{
			strlcpy(dst, v, GW_SPEC_MAXLEN + 1);
			return;
		}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid spec_id"),
			 errdetail("Huawei Cloud APIG editions are BASIC, PROFESSIONAL, ENTERPRISE, PLATINUM, their _IPV6 variants, and PLATINUM_X2 to PLATINUM_X8.")));
}

/* Token: 1 to 64 printable ASCII characters, no surrounding spaces */
static void
check_token(const char *v, char *dst)
{
	size_t		len = strlen(v);
	const char *p;

	for (p = v; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			break;
	if (len == 0 || len > GW_TOKEN_MAXLEN || *p != '\0' ||
		v[0] == ' ' || v[len - 1] == ' ')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid token"),
				 errdetail("A token is 1 to %d printable ASCII characters without surrounding spaces.",
						   GW_TOKEN_MAXLEN)));
	strlcpy(dst, v, GW_TOKEN_MAXLEN + 1);
}

/* a fresh idempotency token: PostgreSQL's own random UUID */
static void
make_token(char *dst)
{
	Datum		uuid = OidFunctionCall0Coll(F_GEN_RANDOM_UUID, InvalidOid);

	strlcpy(dst, DatumGetCString(DirectFunctionCall1(uuid_out, uuid)),
			GW_TOKEN_MAXLEN + 1);
}


/* the Alibaba arguments shared by gw_modify_spec and its _async twin */
void
gw_aliyun_args(FunctionCallInfo fcinfo, GwCall *call)
{
	char	   *action;

	check_id("instance_id", gw_arg_text(fcinfo, 0, "instance_id"), call->instance_id);
	check_aliyun_spec(gw_arg_text(fcinfo, 1, "instance_spec"), call->spec);
	action = gw_arg_text(fcinfo, 2, "modify_action");
	if (pg_strcasecmp(action, "UPGRADE") == 0)
		strlcpy(call->action, "UPGRADE", sizeof(call->action));
	else if (pg_strcasecmp(action, "DOWNGRADE") == 0)
		strlcpy(call->action, "DOWNGRADE", sizeof(call->action));
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid modify_action"),
				 errhint("Valid values are 'UPGRADE' and 'DOWNGRADE'.")));
	call->auto_pay = gw_arg_bool(fcinfo, 3, "auto_pay");
	call->skip_wait_switch = gw_arg_bool(fcinfo, 4, "skip_wait_switch");
	if (PG_ARGISNULL(5))
		make_token(call->token);
	else
		check_token(text_to_cstring(PG_GETARG_TEXT_PP(5)), call->token);
}

/* the Huawei arguments shared by gw_resize and its _async twin */
void
gw_huawei_args(FunctionCallInfo fcinfo, GwCall *call)
{
	check_id("instance_id", gw_arg_text(fcinfo, 0, "instance_id"), call->instance_id);
	check_huawei_spec(gw_arg_text(fcinfo, 1, "spec_id"), call->spec);
}

