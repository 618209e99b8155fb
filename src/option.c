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
 * gw_check_endpoint
 *		A server's endpoint option (endpoint, and each provider's own): a
 *		base URL as gw_check_url wants it.  When a validator checks it
 *		(validating), only a superuser may set one: an endpoint decides
 *		where requests signed with a mapping's credentials, or with the
 *		temporary ones obtained for it, go, and RPC signatures do not cover
 *		the host they are sent to.  Left out, it is derived from the region,
 *		a host of the provider.
 */
void
gw_check_endpoint(const char *optname, const char *v, bool validating)
{
	if (validating && !superuser())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser may set option \"%s\"", optname),
				 errdetail("An endpoint decides where requests signed with the server's credentials are sent."),
				 errhint("Leave it out (the provider's endpoint is derived from the region), or ask a superuser.")));
	gw_check_url(optname, v);
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
			gw_check_endpoint(def->defname, v, true);
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
		gw_check_mapping(options);

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
	aclresult = gw_server_aclcheck(fs->serverid, userid, ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, fs->servername);
	if ((strncmp(s->endpoint, "http://", 7) == 0 ||
		 (s->iam_endpoint && strncmp(s->iam_endpoint, "http://", 7) == 0) ||
		 (s->sts_endpoint && strncmp(s->sts_endpoint, "http://", 7) == 0)) &&
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
				gw_server_aclcheck(srv->oid, userid, ACL_USAGE) != ACLCHECK_OK)
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

