/*-------------------------------------------------------------------------
 *
 * args.c
 *	  What every SQL function's arguments share: NULLs refused, the server
 *	  argument, instance ids.  Each provider checks its own (specs,
 *	  actions, tokens) in its file, through GwProviderRoutine.read_args,
 *	  into the fixed-size GwCall handed to the worker; nothing is recorded
 *	  or sent before.
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
void
gw_check_id(const char *name, const char *v, char *dst)
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
