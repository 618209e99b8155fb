/*-------------------------------------------------------------------------
 *
 * aliyun.c
 *	  Alibaba Cloud API Gateway (CloudAPI 2016-07-14): building and signing
 *	  ModifyInstanceSpec and DescribeInstances, and judging the answers.
 *
 * The SDK's way is followed: POST / with every parameter in the query
 * string and an empty body, signed with ACS3-HMAC-SHA256 (default) or the
 * classic RPC HMAC-SHA1 signature (server option signature 'hmac-sha1').
 * Also the arguments of gw_modify_spec, the aliyun server options and
 * what the instance states mean, all reached through gw_aliyun_routine.
 * This file knows nothing of the worker or the audit table.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/string.h"
#include "utils/guc.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "gwresize.h"

#define ACS_VERSION "2016-07-14"
#define STS_VERSION "2015-04-01"
#define METADATA_TOKEN_TTL "300"	/* seconds; it is used at once */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define MAX_PARAMS 24

/* the operation's own parameters, in the order the SDK lists them */
static int
op_params(GwOp op, const GwCall *call, GwKV *kv)
{
	int			n = 0;

	kv[n].key = "InstanceId";
	kv[n++].value = call->instance_id;
	if (op == GW_OP_RESIZE)
	{
		kv[n].key = "InstanceSpec";
		kv[n++].value = call->spec;
		kv[n].key = "Token";
		kv[n++].value = call->token;
		kv[n].key = "ModifyAction";
		kv[n++].value = call->action;
		kv[n].key = "AutoPay";
		kv[n++].value = call->auto_pay ? "true" : "false";
		kv[n].key = "SkipWaitSwitch";
		kv[n++].value = call->skip_wait_switch ? "true" : "false";
	}
	return n;
}

/*
 * aliyun_params_json
 *		The request parameters of a resize, for gw_audit.params.
 */
static void
aliyun_params_json(StringInfo buf, const GwCall *call, const GwServer *server)
{
	GwKV		kv[MAX_PARAMS];
	int			n = op_params(GW_OP_RESIZE, call, kv);
	int			i;

	appendStringInfoString(buf, "{\"Action\": \"ModifyInstanceSpec\"");
	for (i = 0; i < n; i++)
	{
		appendStringInfoString(buf, ", ");
		escape_json(buf, kv[i].key);
		appendStringInfoString(buf, ": ");
		if (strcmp(kv[i].key, "AutoPay") == 0 ||
			strcmp(kv[i].key, "SkipWaitSwitch") == 0)
			appendStringInfoString(buf, kv[i].value);
		else
			escape_json(buf, kv[i].value);
	}
	appendStringInfoChar(buf, '}');
}

/* "k=enc(v)&..." with the masked names' values replaced by "***" */
static char *
query_shown(GwKV *kv, int n)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, '&');
		gw_uri_encode(&buf, kv[i].key);
		appendStringInfoChar(&buf, '=');
		if (strcmp(kv[i].key, "Signature") == 0 ||
			strcmp(kv[i].key, "SecurityToken") == 0)
			appendStringInfoString(&buf, "***");
		else if (strcmp(kv[i].key, "AccessKeyId") == 0)
			gw_uri_encode(&buf, gw_mask_id(kv[i].value));
		else
			gw_uri_encode(&buf, kv[i].value);
	}
	return buf.data;
}

/*
 * signed_request
 *		A signed RPC-style call of action (API version) on endpoint with the
 *		n parameters kv (room for MAX_PARAMS), ready for http.c.  A fresh
 *		nonce and timestamp each time: a retry re-signs.
 */
static GwHttpRequest *
signed_request(GwServer *server, const char *endpoint, const GwCreds *creds,
			   const char *action, const char *version, GwKV *kv, int n)
{
	GwHttpRequest *req = palloc0(sizeof(GwHttpRequest));
	char		nonce[33];
	char	   *date = gw_utc_now("%Y-%m-%dT%H:%M:%SZ");
	StringInfoData host,
				path,
				url,
				shown;

	Assert(creds->kind == GW_AUTH_ACS);
	initStringInfo(&host);
	initStringInfo(&path);
	gw_url_host(endpoint, &host, &path);
	appendStringInfoChar(&path, '/');
	gw_random_hex(nonce, 16);

	req->method = "POST";
	req->body = NULL;
	req->body_len = 0;
	initStringInfo(&url);
	initStringInfo(&shown);
	/* url = endpoint/?query; the endpoint has no trailing slash */
	appendStringInfo(&url, "%s/?", endpoint);
	appendStringInfoString(&shown, url.data);

	gw_add_header(req, "Host", host.data, false);
	gw_add_header(req, "Accept", "application/json", false);

	if (server->rpc_signature)
	{
		StringInfoData sts,
					sig;

		kv[n].key = "Action";
		kv[n++].value = action;
		kv[n].key = "Version";
		kv[n++].value = version;
		kv[n].key = "Format";
		kv[n++].value = "JSON";
		kv[n].key = "AccessKeyId";
		kv[n++].value = creds->access_key;
		kv[n].key = "SignatureMethod";
		kv[n++].value = "HMAC-SHA1";
		kv[n].key = "SignatureVersion";
		kv[n++].value = "1.0";
		kv[n].key = "SignatureNonce";
		kv[n++].value = nonce;
		kv[n].key = "Timestamp";
		kv[n++].value = date;
		if (creds->security_token)
		{
			kv[n].key = "SecurityToken";
			kv[n++].value = creds->security_token;
		}
		initStringInfo(&sts);
		initStringInfo(&sig);
		gw_acs_rpc_string_to_sign(&sts, req->method, kv, n);	/* sorts kv */
		gw_acs_rpc_signature(&sig, creds->secret, sts.data);
		gw_free_secret_buf(&sts);
		enlargeStringInfo(&url, gw_kv_room(kv, n));
		gw_canonical_query(&url, kv, n);
		appendStringInfoString(&url, "&Signature=");
		gw_uri_encode(&url, sig.data);
		kv[n].key = "Signature";
		kv[n++].value = sig.data;
		appendStringInfoString(&shown, query_shown(kv, n));
		explicit_bzero(sig.data, sig.len);
	}
	else
	{
		GwKV		hv[8];
		int			nh = 0;
		StringInfoData cr,
					sh,
					auth;

		hv[nh].key = "host";
		hv[nh++].value = host.data;
		hv[nh].key = "x-acs-action";
		hv[nh++].value = action;
		hv[nh].key = "x-acs-version";
		hv[nh++].value = version;
		hv[nh].key = "x-acs-date";
		hv[nh++].value = date;
		hv[nh].key = "x-acs-signature-nonce";
		hv[nh++].value = nonce;
		hv[nh].key = "x-acs-content-sha256";
		hv[nh++].value = EMPTY_SHA256;
		if (creds->security_token)
		{
			hv[nh].key = "x-acs-security-token";
			hv[nh++].value = creds->security_token;
		}
		initStringInfo(&cr);
		initStringInfo(&sh);
		initStringInfo(&auth);
		enlargeStringInfo(&cr, gw_kv_room(kv, n) + gw_kv_room(hv, nh));
		gw_acs3_canonical_request(&cr, &sh, req->method, path.data, kv, n,
								  hv, nh, EMPTY_SHA256);
		gw_acs3_authorization(&auth, creds->access_key, creds->secret,
							  cr.data, sh.data);
		gw_free_secret_buf(&cr);
		gw_canonical_query(&url, kv, n);
		appendStringInfoString(&shown, query_shown(kv, n));
		gw_add_header(req, "x-acs-action", action, false);
		gw_add_header(req, "x-acs-version", version, false);
		gw_add_header(req, "x-acs-date", date, false);
		gw_add_header(req, "x-acs-signature-nonce", nonce, false);
		gw_add_header(req, "x-acs-content-sha256", EMPTY_SHA256, false);
		if (creds->security_token)
			gw_add_header(req, "x-acs-security-token", creds->security_token, true);
		gw_add_header(req, "Authorization", auth.data, true);
		explicit_bzero(auth.data, auth.len);
	}
	req->url = url.data;
	req->url_shown = shown.data;
	return req;
}

/* a signed request for op on call's instance */
static GwHttpRequest *
aliyun_build_request(GwServer *server, const GwCreds *creds, GwOp op,
					 const GwCall *call)
{
	GwKV		kv[MAX_PARAMS];
	int			n = op_params(op, call, kv);

	return signed_request(server, server->endpoint, creds,
						  op == GW_OP_RESIZE ? "ModifyInstanceSpec" :
						  "DescribeInstances", ACS_VERSION, kv, n);
}

/*
 * aliyun_judge
 *		Judge an answer: success is 200 with a RequestId; throttling (400
 *		with a Throttling* code), 5xx and transport errors are retryable;
 *		any other error is final.  A 200 whose body is not JSON is retried
 *		too: re-sending with the same Token is idempotent.
 */
static void
aliyun_judge(const GwHttpResponse *resp, GwOp op, GwOutcome *out)
{
	Jsonb	   *jb;

	memset(out, 0, sizeof(GwOutcome));
	out->request_id = resp->request_id ? pstrdup(resp->request_id) : NULL;
	out->retry_after_ms = Max(gw_parse_retry_hint(resp->retry_after, 1), 0);	/* ms */

	if (resp->curl_code != 0)
	{
		gw_transport_outcome(resp, out);
		out->response_json = gw_response_for_audit(resp, NULL);
		return;
	}

	/* a good AssumeRole answer: cred_answer reads it, and nothing else */
	if (op == GW_OP_CREDENTIAL && resp->http_status == 200)
	{
		out->verdict = GW_VERDICT_OK;
		return;
	}

	jb = gw_json_parse(resp->body.data, resp->body.len);
	/* credential answers are not stored: they may hold credentials */
	out->response_json = op == GW_OP_CREDENTIAL ? NULL :
		gw_response_for_audit(resp, jb);
	if (jb)
	{
		char	   *rid = gw_json_get_text(jb, "RequestId", NULL);

		if (rid)
			out->request_id = rid;
		out->error_code = gw_json_get_text(jb, "Code", NULL);
		out->error_message = gw_json_get_text(jb, "Message", NULL);
	}

	if (resp->http_status == 200)
	{
		if (jb && out->request_id && out->error_code == NULL)
		{
			static const char *const status_path[] =
			{"Instances", "InstanceAttribute", "0", "Status"};
			static const char *const spec_path[] =
			{"Instances", "InstanceAttribute", "0", "InstanceSpec"};

			/* DescribeInstances: the instance as it is now */
			out->instance_status = gw_json_get_path(jb, status_path, 4);
			out->instance_spec = gw_json_get_path(jb, spec_path, 4);
			out->verdict = GW_VERDICT_OK;
			return;
		}
		out->verdict = GW_VERDICT_RETRY;
		out->error_code = pstrdup("MalformedResponse");
		out->error_message = pstrdup("HTTP 200 without a JSON body carrying a RequestId");
		return;
	}

	if (out->error_code == NULL)
	{
		out->error_code = psprintf("HTTP%ld", resp->http_status);
		if (out->error_message == NULL)
			out->error_message = pstrdup(jb ? "error answer without a Code" :
										 "error answer that is not JSON");
	}
	if (resp->http_status >= 500 ||
		strstr(out->error_code, "Throttling") != NULL ||
		strcmp(out->error_code, "ServiceUnavailable") == 0)
		out->verdict = GW_VERDICT_RETRY;
	else if (strcmp(out->error_code, "InvalidSecurityToken.Expired") == 0)
		out->verdict = GW_VERDICT_REFRESH_TOKEN;	/* if it can be */
	else
		out->verdict = GW_VERDICT_FAIL;
}


/* ---- arguments ---- */

/* specs: api.<family>.<size>, lower-case letters and digits */
static void
check_spec(const char *v, char *dst)
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

/*
 * aliyun_read_args
 *		gw_modify_spec's and gw_modify_spec_async's arguments: instance_id,
 *		instance_spec, modify_action, auto_pay, skip_wait_switch, token.
 */
static void
aliyun_read_args(FunctionCallInfo fcinfo, GwCall *call)
{
	char	   *action;

	gw_check_id("instance_id", gw_arg_text(fcinfo, 0, "instance_id"), call->instance_id);
	check_spec(gw_arg_text(fcinfo, 1, "instance_spec"), call->spec);
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

/* ---- server options and credentials ---- */

static bool
aliyun_server_option(const char *name, const char *value, GwServer *s)
{
	if (strcmp(name, "sts_endpoint") == 0)
	{
		gw_check_endpoint(name, value, s == NULL);
		if (s)
			s->sts_endpoint = pstrdup(value);
		return true;
	}
	if (strcmp(name, "signature") != 0)
		return false;
	if (strcmp(value, "acs3-hmac-sha256") != 0 && strcmp(value, "hmac-sha1") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid value for option \"signature\": \"%s\"", value),
				 errhint("Valid values are \"acs3-hmac-sha256\" and \"hmac-sha1\".")));
	if (s)
		s->rpc_signature = strcmp(value, "hmac-sha1") == 0;
	return true;
}

static void
aliyun_server_defaults(GwServer *s)
{
	if (s->endpoint == NULL)
		s->endpoint = psprintf("https://apigateway.%s.aliyuncs.com", s->region);
	if (s->sts_endpoint == NULL)
		s->sts_endpoint = psprintf("https://sts.%s.aliyuncs.com", s->region);
	gw_trim_url(s->sts_endpoint);
}

/* an access key, or the ECS instance's RAM role; either may assume a role */
static bool
aliyun_accepts_creds(const GwCreds *c)
{
	return (c->kind == GW_AUTH_ACS ||
			(c->kind == GW_AUTH_METADATA && c->ram_role_name != NULL)) &&
		c->agency_name == NULL;
}

/* ---- credential sources ---- */

static char *metadata_url = NULL;	/* gwresize.aliyun_metadata_url */

static void
aliyun_define_settings(void)
{
	DefineCustomStringVariable("gwresize.aliyun_metadata_url",
							   "Base URL of the Alibaba Cloud ECS instance metadata service.",
							   "Where user mappings with ram_role_name get their temporary credentials.",
							   &metadata_url,
							   "http://100.100.100.200",
							   PGC_SUSET, 0,
							   gw_check_metadata_url, NULL, NULL);
}

/*
 * aliyun_cred_plan
 *		The ECS RAM role: the metadata service's session token (hardened
 *		mode), then the role's credentials.  role_arn: then STS AssumeRole,
 *		signed with those or with the mapping's access key.
 */
static int
aliyun_cred_plan(const GwCreds *c, GwCredStep *steps, StringInfo source)
{
	int			n = 0;

	if (c->kind == GW_AUTH_METADATA)
	{
		steps[n++] = GW_STEP_METADATA_TOKEN;
		steps[n++] = GW_STEP_METADATA;
		appendStringInfo(source, "the ECS RAM role \"%s\" (metadata service %s)",
						 c->ram_role_name, metadata_url);
	}
	if (c->role_arn)
	{
		steps[n++] = GW_STEP_ASSUME;
		if (n == 1)
			appendStringInfoString(source, "the mapping's access key");
		appendStringInfo(source, ", then STS AssumeRole of \"%s\"", c->role_arn);
	}
	return n;
}

static GwHttpRequest *
aliyun_cred_request(GwServer *server, const GwCreds *mapping, GwCredStep step,
					const GwCreds *have)
{
	GwHttpRequest *req;
	GwKV		kv[MAX_PARAMS];
	int			n = 0;
	char		duration[16];

	switch (step)
	{
		case GW_STEP_METADATA_TOKEN:
			req = gw_metadata_request(metadata_url, "PUT", "/latest/api/token");
			gw_add_header(req, "X-aliyun-ecs-metadata-token-ttl-seconds",
						  METADATA_TOKEN_TTL, false);
			return req;
		case GW_STEP_METADATA:
			req = gw_metadata_request(metadata_url, "GET",
									  psprintf("/latest/meta-data/ram/security-credentials/%s",
											   mapping->ram_role_name));
			gw_add_header(req, "X-aliyun-ecs-metadata-token",
						  have->metadata_token ? have->metadata_token : "", true);
			return req;
		case GW_STEP_ASSUME:
			kv[n].key = "RoleArn";
			kv[n++].value = mapping->role_arn;
			kv[n].key = "RoleSessionName";
			kv[n++].value = mapping->role_session_name ?
				mapping->role_session_name : "gwresize";
			if (mapping->duration_seconds > 0)
			{
				snprintf(duration, sizeof(duration), "%d", mapping->duration_seconds);
				kv[n].key = "DurationSeconds";
				kv[n++].value = duration;
			}
			if (mapping->external_id)
			{
				kv[n].key = "ExternalId";
				kv[n++].value = mapping->external_id;
			}
			return signed_request(server, server->sts_endpoint, have,
								  "AssumeRole", STS_VERSION, kv, n);
		default:
			elog(ERROR, "aliyun has no credential step %d", (int) step);
	}
	return NULL;				/* keep compiler quiet */
}

/*
 * aliyun_cred_answer
 *		The metadata session token is the body; the role's credentials and
 *		AssumeRole's are AccessKeyId, AccessKeySecret, SecurityToken and
 *		Expiration (at the top, or under Credentials).
 */
static void
aliyun_cred_answer(const GwHttpResponse *resp, GwCredStep step, GwOutcome *out,
				   GwCreds *have, char **expires)
{
	static const char *const role_fields[] =
	{"AccessKeyId", "AccessKeySecret", "SecurityToken", "Expiration"};
	static const char *const sts_fields[] =
	{"Credentials.AccessKeyId", "Credentials.AccessKeySecret",
	"Credentials.SecurityToken", "Credentials.Expiration"};
	char	   *v[4];

	if (step == GW_STEP_ASSUME)
		aliyun_judge(resp, GW_OP_CREDENTIAL, out);
	else
		gw_plain_judge(resp, out);
	if (out->verdict != GW_VERDICT_OK)
		return;

	if (step == GW_STEP_METADATA_TOKEN)
	{
		gw_take_metadata_token(resp, out, have);
		return;
	}

	(void) gw_json_fields(resp->body.data, resp->body.len,
						  step == GW_STEP_ASSUME ? sts_fields : role_fields, 4, v);
	have->kind = GW_AUTH_ACS;
	have->access_key = v[0];
	have->secret = v[1];
	have->security_token = v[2];
	*expires = v[3];
	if (!gw_cred_value_ok(have->access_key, -1) ||
		!gw_cred_value_ok(have->secret, -1) ||
		!gw_cred_value_ok(have->security_token, -1) || *expires == NULL)
		gw_cred_malformed(out, "AccessKeyId, AccessKeySecret, SecurityToken and Expiration");
}

/* ---- instance states ---- */

static bool
aliyun_ready_for_change(const char *status)
{
	return strcmp(status, "RUNNING") == 0;
}

static bool
aliyun_change_failed(const char *status)
{
	return false;				/* a failed change is back at RUNNING */
}

/* a re-sent Token answered RepeatedCommit: the first send got through */
static bool
aliyun_already_applied(const GwOutcome *out)
{
	return out->error_code && strcmp(out->error_code, "RepeatedCommit") == 0;
}

static const char *const server_options[] = {"signature", "sts_endpoint", NULL};

const GwProviderRoutine gw_aliyun_routine = {
	.id = GW_ALIYUN,
	.name = "aliyun",
	.resize_function = "gw_modify_spec()",
	.read_args = aliyun_read_args,
	.params_json = aliyun_params_json,
	.has_client_token = true,
	.server_options = server_options,
	.server_option = aliyun_server_option,
	.required_option = NULL,
	.server_defaults = aliyun_server_defaults,
	.accepts_creds = aliyun_accepts_creds,
	.creds_hint = "An aliyun mapping takes access_key_id and access_key_secret, or ram_role_name; either may add role_arn.",
	.cred_plan = aliyun_cred_plan,
	.cred_request = aliyun_cred_request,
	.cred_answer = aliyun_cred_answer,
	.define_settings = aliyun_define_settings,
	.temporary_kind = GW_AUTH_ACS,
	.build_request = aliyun_build_request,
	.judge = aliyun_judge,
	.running_status = "RUNNING",
	.changing_status = "MODIFYING",
	.ready_states = "RUNNING",
	.ready_for_change = aliyun_ready_for_change,
	.change_failed = aliyun_change_failed,
	.resend_needs_read = false,
	.already_applied = aliyun_already_applied,
};
