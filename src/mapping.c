/*-------------------------------------------------------------------------
 *
 * mapping.c
 *	  User mappings: which one source of credentials their options name,
 *	  who may grant which source, and the credentials read at call time.
 *
 * A mapping holds a key or a token of its own, or names a source bound to
 * the machine the server runs on (the ECS instance's RAM role or agency) or
 * a role or agency to assume.  Those act as an identity the mapping's role
 * was never given a key for, so, as postgres_fdw does with
 * password_required, only a superuser may create or alter a mapping that
 * names one.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "gwresize.h"

#define HAS(name) (strcmp(def->defname, (name)) == 0)

/* 1 to max characters, each a letter, a digit or one of extra */
static bool
name_ok(const char *v, int min, int max, const char *extra)
{
	int			n = 0;

	for (; *v; v++, n++)
		if (!(isalnum((unsigned char) *v) || strchr(extra, *v)) ||
			(unsigned char) *v >= 0x80)
			return false;
	return n >= min && n <= max;
}

/*
 * check_source_option
 *		The values of the options that name a credential source: they go
 *		into URLs, request parameters and bodies.
 */
static void
check_source_option(const char *name, const char *v)
{
	bool		ok = true;
	const char *detail = NULL;

	if (strcmp(name, "ram_role_name") == 0 || strcmp(name, "agency_name") == 0)
	{
		ok = name_ok(v, 1, 64, "._-");
		detail = "A role or agency name is 1 to 64 letters, digits, '.', '_' or '-'.";
	}
	else if (strcmp(name, "role_arn") == 0)
	{
		ok = strncmp(v, "acs:ram::", 9) == 0 && name_ok(v + 9, 1, 247, ":/._-@");
		detail = "A role ARN looks like acs:ram::<account id>:role/<role name>.";
	}
	else if (strcmp(name, "role_session_name") == 0)
	{
		ok = name_ok(v, 2, 64, "._@-");
		detail = "A session name is 2 to 64 letters, digits, '.', '_', '@' or '-'.";
	}
	else if (strcmp(name, "external_id") == 0)
	{
		ok = name_ok(v, 2, 1224, "=,.@:/_+-");
		detail = "An external id is 2 to 1224 letters, digits or =,.@:/_+- characters.";
	}
	else if (strcmp(name, "agency_domain_name") == 0)
	{
		ok = name_ok(v, 1, 64, "._-");
		detail = "An account (domain) name is 1 to 64 letters, digits, '.', '_' or '-'.";
	}
	else if (strcmp(name, "ecs_agency") == 0)
	{
		bool		b;

		ok = parse_bool(v, &b) && b;
		detail = "ecs_agency takes only 'true'.";
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("%s", detail)));
}

/*
 * GwMappingOpts: which user-mapping options are present.
 */
typedef struct GwMappingOpts
{
	bool		akid,
				aksecret,
				sts,
				token,
				ak,
				sk,
				user,
				pw,
				dom,
				ram_role,
				ecs_agency,
				role_arn,
				role_extra,		/* role_session_name, external_id */
				duration,
				agency_dom,
				agency;
} GwMappingOpts;

/*
 * creds_kind
 *		Which one source of credentials a user mapping's options name, or 0
 *		when they mix sources or lack options; *why says what is wrong.
 *		Exactly one base: an access key (aliyun), a token, AK/SK, an IAM
 *		user (huawei), the ECS RAM role (aliyun) or the ECS agency (huawei).
 *		On top, a role to assume (aliyun role_arn, from an access key or
 *		the RAM role) or an agency to assume (huawei, from any other base).
 */
static GwAuthKind
creds_kind(const GwMappingOpts *m, const char **why)
{
	int			bases = (m->akid || m->aksecret) + m->token + (m->ak || m->sk) +
		(m->user || m->pw || m->dom) + m->ram_role + m->ecs_agency;
	GwAuthKind	kind = 0;

	*why = NULL;
	if (bases != 1)
		return 0;
	if (m->akid && m->aksecret)
		kind = GW_AUTH_ACS;
	else if (m->token && !m->sts)
		kind = GW_AUTH_TOKEN;
	else if (m->ak && m->sk)
		kind = GW_AUTH_AKSK;
	else if (m->user && m->pw && m->dom && !m->sts)
		kind = GW_AUTH_PASSWORD;
	else if ((m->ram_role || m->ecs_agency) && !m->sts)
		kind = GW_AUTH_METADATA;
	if (kind == 0)
		return 0;

	if (m->role_arn && (m->agency || m->agency_dom))
		*why = "Give role_arn (aliyun) or agency_domain_name and agency_name (huawei), not both.";
	else if (m->role_extra && !m->role_arn)
		*why = "role_session_name and external_id go with role_arn.";
	else if (m->agency != m->agency_dom)
		*why = "agency_domain_name and agency_name go together.";
	else if (m->duration && !m->role_arn && !m->agency)
		*why = "duration_seconds goes with role_arn or agency_name.";
	else if (m->role_arn && !(kind == GW_AUTH_ACS || m->ram_role))
		*why = "role_arn assumes a role with an access key (access_key_id and access_key_secret) or with ram_role_name.";
	else if (m->agency && (kind == GW_AUTH_ACS || m->ram_role))
		*why = "An agency is assumed with auth_token, access_key and secret_key, user_name and password, or ecs_agency.";
	return *why ? 0 : kind;
}

/*
 * superuser_only
 *		The options only a superuser may put in a mapping, and what each
 *		makes the mapping's calls act as.
 */
static const struct
{
	const char *name;
	const char *acts_as;
}			superuser_only[] = {
	{"ram_role_name", "the RAM role of the ECS instance the server runs on"},
	{"ecs_agency", "the agency of the ECS instance the server runs on"},
	{"role_arn", "the RAM role it names, assumed through STS"},
	{"agency_name", "the agency it names, assumed through IAM"},
	{"agency_domain_name", "the agency it names, assumed through IAM"},
	{NULL, NULL}
};

/*
 * gw_check_mapping
 *		The validator's checks of a user mapping's options (their names,
 *		emptiness and numbers are checked already): every value a single
 *		line of ASCII, the values that go into URLs and parameters well
 *		formed, exactly one source, and a source bound to the machine or a
 *		role to assume only from a superuser (42501).
 */
void
gw_check_mapping(List *options)
{
	GwMappingOpts m;
	const char *why;
	ListCell   *lc;

	memset(&m, 0, sizeof(m));
	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		char	   *v = defGetString(def);
		const char *p;
		int			i;

		for (p = v; *p; p++)
			if ((unsigned char) *p < 0x20 || (unsigned char) *p == 0x7f)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" contains control characters",
								def->defname)));
		for (i = 0; superuser_only[i].name; i++)
			if (HAS(superuser_only[i].name) && !superuser())
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("only a superuser may create or alter a user mapping with option \"%s\"",
								def->defname),
						 errdetail("Its calls would act as %s, not with a key or token the mapping holds.",
								   superuser_only[i].acts_as),
						 errhint("Ask a superuser to create the mapping, or give it a key or token of its own.")));
		check_source_option(def->defname, v);
		m.akid |= HAS("access_key_id");
		m.aksecret |= HAS("access_key_secret");
		m.sts |= HAS("security_token");
		m.token |= HAS("auth_token");
		m.ak |= HAS("access_key");
		m.sk |= HAS("secret_key");
		m.user |= HAS("user_name");
		m.pw |= HAS("password");
		m.dom |= HAS("domain_name");
		m.ram_role |= HAS("ram_role_name");
		m.ecs_agency |= HAS("ecs_agency");
		m.role_arn |= HAS("role_arn");
		m.role_extra |= HAS("role_session_name") || HAS("external_id");
		m.agency_dom |= HAS("agency_domain_name");
		m.agency |= HAS("agency_name");
		m.duration |= HAS("duration_seconds");
	}

	if (creds_kind(&m, &why) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("a gwresize user mapping needs exactly one set of credentials"),
				 why ? errdetail("%s", why) :
				 errdetail("Give access_key_id and access_key_secret (aliyun, optionally security_token); "
						   "or ram_role_name (aliyun, the ECS instance's RAM role); "
						   "or auth_token; or access_key and secret_key (optionally security_token); "
						   "or user_name, password and domain_name; or ecs_agency 'true' (huawei, the ECS agency). "
						   "Any may add a role to assume: role_arn (aliyun) or agency_domain_name and agency_name (huawei).")));
}

/*
 * gw_get_creds
 *		userid's credentials for the server, from its user mapping (or the
 *		PUBLIC one).  Errors name neither values nor secrets.
 */
GwCreds *
gw_get_creds(GwServer *server, Oid userid)
{
	UserMapping *um;
	GwCreds    *c = palloc0(sizeof(GwCreds));
	ListCell   *lc;

	if (!SearchSysCacheExists2(USERMAPPINGUSERSERVER,
							   ObjectIdGetDatum(userid),
							   ObjectIdGetDatum(server->serverid)) &&
		!SearchSysCacheExists2(USERMAPPINGUSERSERVER,
							   ObjectIdGetDatum(InvalidOid),
							   ObjectIdGetDatum(server->serverid)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no user mapping for role \"%s\" on server \"%s\"",
						GetUserNameFromId(userid, false), server->name),
				 errhint("Create one with CREATE USER MAPPING FOR ... SERVER %s OPTIONS (...).",
						 server->name)));

	um = GetUserMapping(userid, server->serverid);
	foreach(lc, um->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		char	   *v = defGetString(def);

		if (HAS("access_key_id") || HAS("access_key"))
			c->access_key = v;
		else if (HAS("access_key_secret") || HAS("secret_key"))
			c->secret = v;
		else if (HAS("security_token"))
			c->security_token = v;
		else if (HAS("auth_token"))
			c->auth_token = v;
		else if (HAS("user_name"))
			c->user_name = v;
		else if (HAS("password"))
			c->password = v;
		else if (HAS("domain_name"))
			c->domain_name = v;
		else if (HAS("ram_role_name"))
			c->ram_role_name = v;
		else if (HAS("ecs_agency"))
			c->ecs_agency = true;
		else if (HAS("role_arn"))
			c->role_arn = v;
		else if (HAS("role_session_name"))
			c->role_session_name = v;
		else if (HAS("external_id"))
			c->external_id = v;
		else if (HAS("duration_seconds"))
			c->duration_seconds = atoi(v);
		else if (HAS("agency_domain_name"))
			c->agency_domain_name = v;
		else if (HAS("agency_name"))
			c->agency_name = v;
		if (HAS("access_key_id"))
			c->kind = GW_AUTH_ACS;
		else if (HAS("auth_token"))
			c->kind = GW_AUTH_TOKEN;
		else if (HAS("access_key"))
			c->kind = GW_AUTH_AKSK;
		else if (HAS("user_name"))
			c->kind = GW_AUTH_PASSWORD;
		else if (HAS("ram_role_name") || HAS("ecs_agency"))
			c->kind = GW_AUTH_METADATA;
	}

	if (c->kind == 0 || !gw_provider(server->provider)->accepts_creds(c))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("the user mapping on server \"%s\" has no credentials for %s",
						server->name, gw_provider_name(server->provider)),
				 errhint("%s", gw_provider(server->provider)->creds_hint)));
	return c;
}
