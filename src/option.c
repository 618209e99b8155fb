/*-------------------------------------------------------------------------
 *
 * option.c
 *	  The gwresize foreign-data wrapper's validator, and the lookup of
 *	  servers and user mappings at call time.
 *
 * An account and region is a foreign server; credentials live only in
 * user mappings, so PostgreSQL's own USAGE privilege and pg_user_mappings'
 * secret hiding apply, as for postgres_fdw.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "gwresize.h"

PG_FUNCTION_INFO_V1(gw_fdw_validator);

typedef enum OptKind
{
	OPT_TEXT,
	OPT_INT,
	OPT_REAL
} OptKind;

typedef struct GwOption
{
	const char *name;
	Oid			context;		/* catalog the option belongs to */
	OptKind		kind;
	double		min;
	double		max;
	bool		secret;
} GwOption;

static const GwOption gw_options[] = {
	{"provider", ForeignServerRelationId, OPT_TEXT},
	{"region", ForeignServerRelationId, OPT_TEXT},
	{"endpoint", ForeignServerRelationId, OPT_TEXT},
	{"connect_timeout_ms", ForeignServerRelationId, OPT_INT, 1, 600000},
	{"timeout_ms", ForeignServerRelationId, OPT_INT, 1, 3600000},
	{"max_retries", ForeignServerRelationId, OPT_INT, 0, 20},
	{"requests_per_second", ForeignServerRelationId, OPT_REAL, 0.01, 100000},
	{"poll_interval_ms", ForeignServerRelationId, OPT_INT, 100, 3600000},
	{"tracking_timeout_ms", ForeignServerRelationId, OPT_INT, 1000, 604800000},
	{"read_before_resize", ForeignServerRelationId, OPT_TEXT},
	{"access_key_id", UserMappingRelationId, OPT_TEXT, 0, 0, false},
	{"access_key_secret", UserMappingRelationId, OPT_TEXT, 0, 0, true},
	{"security_token", UserMappingRelationId, OPT_TEXT, 0, 0, true},
	{"auth_token", UserMappingRelationId, OPT_TEXT, 0, 0, true},
	{"access_key", UserMappingRelationId, OPT_TEXT, 0, 0, false},
	{"secret_key", UserMappingRelationId, OPT_TEXT, 0, 0, true},
	{"user_name", UserMappingRelationId, OPT_TEXT, 0, 0, false},
	{"password", UserMappingRelationId, OPT_TEXT, 0, 0, true},
	{"domain_name", UserMappingRelationId, OPT_TEXT, 0, 0, false},
	{"ram_role_name", UserMappingRelationId, OPT_TEXT, 0, 0, false},
	{"role_arn", UserMappingRelationId, OPT_TEXT, 0, 0, false},
	{"role_session_name", UserMappingRelationId, OPT_TEXT, 0, 0, false},
	{"external_id", UserMappingRelationId, OPT_TEXT, 0, 0, true},
	{"duration_seconds", UserMappingRelationId, OPT_INT, 900, 86400, false},
	{"ecs_agency", UserMappingRelationId, OPT_TEXT, 0, 0, false},
	{"agency_domain_name", UserMappingRelationId, OPT_TEXT, 0, 0, false},
	{"agency_name", UserMappingRelationId, OPT_TEXT, 0, 0, false},
	{NULL}
};

static const GwOption *
find_option(const char *name)
{
	const GwOption *o;

	for (o = gw_options; o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* letters, digits, '-' and '_', 1 to 64 of them */
bool
gw_is_id(const char *s)
{
	int			n = 0;

	for (; *s; s++, n++)
		if (!(isalnum((unsigned char) *s) || *s == '-' || *s == '_') ||
			(unsigned char) *s >= 0x80)
			return false;
	return n >= 1 && n <= GW_ID_MAXLEN;
}

static bool
is_region(const char *s)
{
	int			n = 0;

	for (; *s; s++, n++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return n >= 1 && n <= 40;
}

/*
 * url_problem, gw_check_url
 *		A base URL after its scheme, http(s)://host[:port][/path]: printable
 *		ASCII without spaces, quotes, backslashes, credentials, query or
 *		fragment, at most 512 bytes (url_problem: what is wrong, or NULL).
 *		An endpoint option is https, or http with gwresize.allow_http.
 */
static const char *
url_problem(const char *v)
{
	int			skip = strncmp(v, "https://", 8) == 0 ? 8 : 7;
	const char *p;

	for (p = v; *p; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '"' || *p == '\\' || *p == '@' ||
			*p == '?' || *p == '#')
			return "An endpoint is a base URL without spaces, credentials, query or fragment.";
	if (strlen(v) > 512 || v[skip] == '\0' || v[skip] == '/')
		return "The endpoint has no host or is too long.";
	return NULL;
}

void
gw_check_url(const char *optname, const char *v)
{
	const char *problem;

	if (strncmp(v, "https://", 8) != 0 && strncmp(v, "http://", 7) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for option \"%s\"", optname),
				 errdetail("An endpoint must start with https://.")));
	if ((problem = url_problem(v)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for option \"%s\"", optname),
				 errdetail("%s", problem)));
	if (strncmp(v, "http://", 7) == 0 && !gw_allow_http)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("plain http endpoints are not allowed"),
				 errdetail("Option \"%s\" is \"%s\".", optname, v),
				 errhint("Use https://, or have a superuser set gwresize.allow_http = on for tests against a local mock.")));
}

/*
 * gw_check_metadata_url
 *		GUC check hook of the metadata services' base URLs: http:// (the
 *		real services' scheme, on link-local addresses) or https://, then
 *		what every base URL must be (url_problem).  Kept without a
 *		trailing slash.
 */
bool
gw_check_metadata_url(char **newval, void **extra, GucSource source)
{
	const char *problem;

	if (*newval == NULL)
		return false;
	if (strncmp(*newval, "http://", 7) != 0 && strncmp(*newval, "https://", 8) != 0)
		problem = "A metadata URL starts with http:// or https://.";
	else
		problem = url_problem(*newval);
	if (problem != NULL)
	{
		GUC_check_errdetail("%s", problem);
		return false;
	}
	gw_trim_url(*newval);
	return true;
}

static double
parse_number(const GwOption *o, const char *v)
{
	char	   *end;
	double		d;

	errno = 0;
	d = strtod(v, &end);
	if (errno != 0 || end == v || *end != '\0' || isnan(d) ||
		(o->kind == OPT_INT && d != floor(d)) || d < o->min || d > o->max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for option \"%s\": \"%s\"", o->name, v),
				 errdetail("Valid values are %s from %.15g to %.15g.",
						   o->kind == OPT_INT ? "integers" : "numbers",
						   o->min, o->max)));
	return d;
}

static const char *
list_names(Oid context)
{
	StringInfoData buf;
	const GwOption *o;

	initStringInfo(&buf);
	for (o = gw_options; o->name; o++)
		if (o->context == context)
			appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", o->name);
	if (context == ForeignServerRelationId)
		appendStringInfoString(&buf, gw_provider_option_names());
	return buf.data;
}

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

#define HAS(name) (strcmp(def->defname, (name)) == 0)

/*
 * gw_fdw_validator
 *		Check every option of the wrapper, a server or a user mapping.
 */
Datum
gw_fdw_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			catalog = PG_GETARG_OID(1);
	ListCell   *lc;
	const GwProviderRoutine *provider = NULL;
	bool		has_region = false,
				has_required = false;
	GwMappingOpts m;
	const char *why;

	memset(&m, 0, sizeof(m));
	foreach(lc, options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		const GwOption *o = find_option(def->defname);
		char	   *v = defGetString(def);

		if (catalog == ForeignServerRelationId && o == NULL &&
			gw_option_provider(def->defname) != NULL)
			continue;			/* checked once the provider is known */
		if (o == NULL || o->context != catalog)
		{
			if (o != NULL && o->secret && catalog != UserMappingRelationId)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" belongs in a user mapping",
								def->defname),
						 errhint("Credentials go in CREATE USER MAPPING ... OPTIONS, where pg_user_mappings hides them.")));
			if (o != NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" is not valid here", def->defname),
						 errhint("%s", catalog == ForeignServerRelationId ?
								 "Credentials go in a user mapping." :
								 "Server settings go in CREATE SERVER ... OPTIONS.")));
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid option \"%s\"", def->defname),
					 catalog == ForeignDataWrapperRelationId ?
					 errhint("The gwresize wrapper takes no options.") :
					 errhint("Valid options here are: %s.", list_names(catalog))));
		}

		if (v[0] == '\0' || strlen(v) > 65536)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("option \"%s\" must not be empty or oversized",
							def->defname)));

		if (o->kind != OPT_TEXT)
			(void) parse_number(o, v);
		else if (HAS("provider"))
		{
			provider = gw_provider_by_name(v);
			if (provider == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("invalid value for option \"provider\": \"%s\"", v),
						 errhint("Valid values are %s.", gw_provider_names())));
		}
		else if (HAS("region"))
		{
			if (!is_region(v))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("invalid value for option \"region\": \"%s\"", v),
						 errdetail("A region is lower-case letters, digits and '-', such as cn-hangzhou or cn-north-4.")));
			has_region = true;
		}
		else if (HAS("read_before_resize"))
		{
			bool		b;

			if (!parse_bool(v, &b))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("invalid value for option \"read_before_resize\": \"%s\"", v),
						 errhint("Valid values are \"true\" and \"false\".")));
		}
		else if (HAS("endpoint"))
			gw_check_url(def->defname, v);
		else
		{
			/* user mapping: credentials are opaque, but single-line ASCII */
			const char *p;

			for (p = v; *p; p++)
				if ((unsigned char) *p < 0x20 || (unsigned char) *p == 0x7f)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
							 errmsg("option \"%s\" contains control characters",
									def->defname)));
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
		}
		m.duration |= HAS("duration_seconds");
	}

	if (catalog == ForeignServerRelationId)
	{
		if (provider == NULL || !has_region)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("a gwresize server needs options \"provider\" and \"region\"")));
		/* the provider's own options, now that it is known */
		foreach(lc, options)
		{
			DefElem    *def = (DefElem *) lfirst(lc);

			if (find_option(def->defname) != NULL)
				continue;
			if (!gw_provider_has_option(provider, def->defname))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
						 errmsg("option \"%s\" is for %s servers only",
								def->defname,
								gw_option_provider(def->defname)->name)));
			(void) provider->server_option(def->defname, defGetString(def), NULL);
			if (provider->required_option &&
				strcmp(def->defname, provider->required_option) == 0)
				has_required = true;
		}
		if (provider->required_option && !has_required)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
					 errmsg("a %s server needs option \"%s\"",
							provider->name, provider->required_option)));
	}
	else if (catalog == UserMappingRelationId)
	{
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

	PG_RETURN_VOID();
}

/* base URLs are kept without a trailing slash */
void
gw_trim_url(char *url)
{
	size_t		len = strlen(url);

	while (len > 8 && url[len - 1] == '/')
		url[--len] = '\0';
}

/*
 * gw_get_server
 *		Read a gwresize server's options; defaults applied.
 */
GwServer *
gw_get_server(Oid serverid)
{
	ForeignServer *fs = GetForeignServer(serverid);
	GwServer   *s = palloc0(sizeof(GwServer));
	const GwProviderRoutine *p;
	ListCell   *lc;

	s->serverid = serverid;
	s->name = pstrdup(fs->servername);
	s->connect_timeout_ms = 5000;
	s->timeout_ms = 30000;
	s->max_retries = 3;
	s->poll_interval_ms = 30000;
	s->tracking_timeout_ms = 45 * 60 * 1000;
	s->read_before = true;

	foreach(lc, fs->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);
		char	   *v = defGetString(def);

		if (HAS("provider"))
			s->provider = gw_provider_by_name(v)->id;
		else if (HAS("region"))
			s->region = v;
		else if (HAS("endpoint"))
			s->endpoint = pstrdup(v);
		else if (HAS("connect_timeout_ms"))
			s->connect_timeout_ms = atoi(v);
		else if (HAS("timeout_ms"))
			s->timeout_ms = atoi(v);
		else if (HAS("max_retries"))
			s->max_retries = atoi(v);
		else if (HAS("requests_per_second"))
			s->requests_per_second = strtod(v, NULL);
		else if (HAS("poll_interval_ms"))
			s->poll_interval_ms = atoi(v);
		else if (HAS("tracking_timeout_ms"))
			s->tracking_timeout_ms = atoi(v);
		else if (HAS("read_before_resize"))
			(void) parse_bool(v, &s->read_before);
	}

	/* the provider's own options, then its defaults */
	p = gw_provider(s->provider);
	foreach(lc, fs->options)
	{
		DefElem    *def = (DefElem *) lfirst(lc);

		if (find_option(def->defname) == NULL)
			(void) p->server_option(def->defname, defGetString(def), s);
	}
	p->server_defaults(s);
	s->endpoint = pstrdup(s->endpoint);
	gw_trim_url(s->endpoint);
	return s;
}

static Oid
gw_fdw_oid(void)
{
	return GetForeignDataWrapperByName("gwresize", false)->fdwid;
}

/*
 * check_usable
 *		The server must be ours, of the provider, usable by userid, and its
 *		endpoint allowed by gwresize.allow_http.
 */
static void
check_usable(GwServer *s, ForeignServer *fs, GwProvider provider, Oid userid)
{
	AclResult	aclresult;

	if (fs->fdwid != gw_fdw_oid())
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" does not use the gwresize foreign-data wrapper",
						fs->servername)));
	if (s->provider != provider)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("server \"%s\" is for provider \"%s\"",
						fs->servername, gw_provider_name(s->provider)),
				 errhint("%s needs a server with provider '%s'.",
						 gw_provider(provider)->resize_function,
						 gw_provider_name(provider))));
	aclresult = pg_foreign_server_aclcheck(fs->serverid, userid, ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, fs->servername);
	if ((strncmp(s->endpoint, "http://", 7) == 0 ||
		 (s->iam_endpoint && strncmp(s->iam_endpoint, "http://", 7) == 0)) &&
		!gw_allow_http)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("server \"%s\" has a plain http endpoint", fs->servername),
				 errhint("Use https://, or have a superuser set gwresize.allow_http = on.")));
}

/*
 * gw_check_server
 *		check_usable for a server already resolved: the worker's check, at
 *		every claim and attempt, that the call's role may still use it.
 */
void
gw_check_server(GwServer *s, GwProvider provider, Oid userid)
{
	check_usable(s, GetForeignServer(s->serverid), provider, userid);
}

/*
 * gw_lookup_server
 *		The server a call goes to: the one named, or when name is NULL the
 *		only server of the provider that userid may use.
 */
GwServer *
gw_lookup_server(const char *name, GwProvider provider, Oid userid)
{
	ForeignServer *fs;
	GwServer   *s;

	if (name == NULL)
	{
		Relation	rel;
		SysScanDesc scan;
		HeapTuple	tup;
		Oid			fdwid = gw_fdw_oid();
		Oid			found = InvalidOid;
		int			nfound = 0;

		rel = table_open(ForeignServerRelationId, AccessShareLock);
		scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
		while (HeapTupleIsValid(tup = systable_getnext(scan)))
		{
			Form_pg_foreign_server srv = (Form_pg_foreign_server) GETSTRUCT(tup);
			GwServer   *cand;

			if (srv->srvfdw != fdwid)
				continue;
			cand = gw_get_server(srv->oid);
			if (cand->provider != provider ||
				pg_foreign_server_aclcheck(srv->oid, userid, ACL_USAGE) != ACLCHECK_OK)
				continue;
			found = srv->oid;
			nfound++;
		}
		systable_endscan(scan);
		table_close(rel, AccessShareLock);

		if (nfound == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("no %s server is available to role \"%s\"",
							gw_provider_name(provider),
							GetUserNameFromId(userid, false)),
					 errhint("Create one with CREATE SERVER ... FOREIGN DATA WRAPPER gwresize OPTIONS (provider '%s', ...) and grant USAGE on it.",
							 gw_provider_name(provider))));
		if (nfound > 1)
			ereport(ERROR,
					(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
					 errmsg("more than one %s server is available", gw_provider_name(provider)),
					 errhint("Name one with the argument server => '...'.")));
		fs = GetForeignServer(found);
	}
	else
	{
		fs = GetForeignServerByName(name, true);
		if (fs == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("server \"%s\" does not exist", name)));
	}

	s = gw_get_server(fs->serverid);
	check_usable(s, fs, provider, userid);
	return s;
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
