/*-------------------------------------------------------------------------
 *
 * huawei.c
 *	  Huawei Cloud APIG: building postpaid-resize, the instance query and
 *	  the IAM token request, authenticating them (X-Auth-Token or
 *	  SDK-HMAC-SHA256 signing), and judging the answers.
 *
 * This file knows nothing of the worker or the audit table; the worker
 * fetches and caches IAM tokens and hands them in.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "gwresize.h"

#define HW_JSON_TYPE "application/json;charset=UTF-8"

/*
 * huawei_params_json
 *		The request parameters of a resize, for gw_audit.params.
 */
static void
huawei_params_json(StringInfo buf, const GwCall *call, const GwServer *server)
{
	appendStringInfoString(buf, "{\"project_id\": ");
	escape_json(buf, server->project_id);
	appendStringInfoString(buf, ", \"instance_id\": ");
	escape_json(buf, call->instance_id);
	appendStringInfoString(buf, ", \"spec_id\": ");
	escape_json(buf, call->spec);
	appendStringInfoChar(buf, '}');
}

/* the IAM password-token body; with mask, the password shown as *** */
static char *
iam_body(GwServer *server, const GwCreds *creds, bool mask)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"auth\":{\"identity\":{\"methods\":[\"password\"],"
						   "\"password\":{\"user\":{\"domain\":{\"name\":");
	escape_json(&b, creds->domain_name);
	appendStringInfoString(&b, "},\"name\":");
	escape_json(&b, creds->user_name);
	appendStringInfoString(&b, ",\"password\":");
	escape_json(&b, mask ? "***" : creds->password);
	appendStringInfoString(&b, "}}},\"scope\":{\"project\":{\"id\":");
	escape_json(&b, server->project_id);
	appendStringInfoString(&b, "}}}}");
	return b.data;
}

/*
 * authenticate
 *		Sign req (whose path is path, on host) with AK/SK and a fresh
 *		X-Sdk-Date, the project (when given) and the security token of
 *		temporary credentials signed in; or give it the token.
 */
static void
authenticate(GwHttpRequest *req, const GwCreds *creds, const char *host,
			 const char *path, const char *project_id)
{
	if (creds->kind == GW_AUTH_AKSK)
	{
		char	   *date = gw_utc_now("%Y%m%dT%H%M%SZ");
		GwKV		hv[5];
		int			nh = 0;
		StringInfoData cr,
					sh,
					auth;

		hv[nh].key = "host";
		hv[nh++].value = host;
		if (req->body)
		{
			hv[nh].key = "content-type";
			hv[nh++].value = HW_JSON_TYPE;
		}
		if (project_id)
		{
			hv[nh].key = "x-project-id";
			hv[nh++].value = project_id;
		}
		hv[nh].key = "x-sdk-date";
		hv[nh++].value = date;
		if (creds->security_token)
		{
			hv[nh].key = "x-security-token";
			hv[nh++].value = creds->security_token;
		}
		initStringInfo(&cr);
		initStringInfo(&sh);
		initStringInfo(&auth);
		enlargeStringInfo(&cr, gw_kv_room(hv, nh) + 3 * strlen(path));
		gw_sdk_canonical_request(&cr, &sh, req->method, path, NULL, 0,
								 hv, nh, req->body, req->body_len);
		gw_sdk_authorization(&auth, creds->access_key, creds->secret, date,
							 cr.data, sh.data);
		gw_free_secret_buf(&cr);
		if (project_id)
			gw_add_header(req, "X-Project-Id", project_id, false);
		gw_add_header(req, "X-Sdk-Date", date, false);
		if (creds->security_token)
			gw_add_header(req, "X-Security-Token", creds->security_token, true);
		gw_add_header(req, "Authorization", auth.data, true);
		explicit_bzero(auth.data, auth.len);
	}
	else
		gw_add_header(req, "X-Auth-Token",
					  creds->auth_token ? creds->auth_token : "", true);
}

/*
 * huawei_build_request
 *		A gateway request for op, signed with AK/SK (the mapping's or
 *		temporary ones) or with a token (the mapping's, or the one IAM gave
 *		for its password).
 */
static GwHttpRequest *
huawei_build_request(GwServer *server, const GwCreds *creds, GwOp op,
					 const GwCall *call)
{
	GwHttpRequest *req = palloc0(sizeof(GwHttpRequest));
	StringInfoData url,
				host,
				path;

	initStringInfo(&url);
	initStringInfo(&host);
	initStringInfo(&path);

	gw_url_host(server->endpoint, &host, &path);
	appendStringInfo(&path, "/v2/%s/apigw/instances/%s", server->project_id,
					 call->instance_id);
	if (op == GW_OP_RESIZE)
	{
		StringInfoData body;

		appendStringInfoString(&path, "/postpaid-resize");
		req->method = "POST";
		initStringInfo(&body);
		appendStringInfoString(&body, "{\"spec_id\":");
		escape_json(&body, call->spec);
		appendStringInfoChar(&body, '}');
		req->body = body.data;
		req->body_len = body.len;
	}
	else
		req->method = "GET";

	/* the endpoint may carry a path prefix; path holds the whole path */
	appendStringInfo(&url, "%.*s%s%s",
					 (int) (strstr(server->endpoint, "://") + 3 - server->endpoint),
					 server->endpoint, host.data, path.data);
	req->url = url.data;
	req->url_shown = url.data;

	gw_add_header(req, "Host", host.data, false);
	if (req->body)
		gw_add_header(req, "Content-Type", HW_JSON_TYPE, false);
	gw_add_header(req, "Accept", "application/json", false);

	authenticate(req, creds, host.data, path.data, server->project_id);
	return req;
}

/*
 * huawei_judge
 *		Judge an answer.  A 2xx with the documented body is acceptance (with
 *		X-Subject-Token for the IAM request); 429, 5xx, transport errors and
 *		2xx answers without the documented body are retryable;
 *		401 "the token must be updated" or "incorrect IAM authentication
 *		information" asks for one refresh of credentials that can be
 *		refreshed; every other error is final (bad signatures lock an
 *		access key after five).
 */
static void
huawei_judge(const GwHttpResponse *resp, GwOp op, GwOutcome *out)
{
	Jsonb	   *jb;

	memset(out, 0, sizeof(GwOutcome));
	out->request_id = resp->request_id ? pstrdup(resp->request_id) : NULL;
	out->retry_after_ms = Max(gw_parse_retry_hint(resp->retry_after, 1000), 0);	/* s */

	if (resp->curl_code != 0)
	{
		gw_transport_outcome(resp, out);
		out->response_json = gw_response_for_audit(resp, NULL);
		return;
	}

	/* a good credential answer: cred_answer reads it */
	if (op == GW_OP_CREDENTIAL && resp->http_status >= 200 && resp->http_status < 300)
	{
		out->verdict = GW_VERDICT_OK;
		return;
	}

	jb = gw_json_parse(resp->body.data, resp->body.len);
	/* credential answers are not stored: they may hold credentials */
	out->response_json = op == GW_OP_CREDENTIAL ? NULL :
		gw_response_for_audit(resp, jb);

	if (resp->http_status >= 200 && resp->http_status < 300)
	{
		if (op == GW_OP_RESIZE)
			out->job_id = gw_json_get_text(jb, "job_id", NULL);
		else
		{
			/* the instance query: the instance as it is now */
			out->instance_status = gw_json_get_text(jb, "status", NULL);
			out->instance_spec = gw_json_get_text(jb, "spec", NULL);
		}

		/*
		 * Success is the documented answer: a job id for a resize, a status
		 * for the instance query.  Anything else (an HTML page from a proxy,
		 * say) may or may not have reached the gateway: retried, and for a
		 * resize only after the instance was read.
		 */
		if ((op == GW_OP_RESIZE && (out->job_id == NULL || out->job_id[0] == '\0')) ||
			(op == GW_OP_DESCRIBE && out->instance_status == NULL))
		{
			out->verdict = GW_VERDICT_RETRY;
			out->error_code = pstrdup("MalformedResponse");
			out->error_message = psprintf("HTTP %ld without the documented JSON answer (%s)",
										  resp->http_status,
										  op == GW_OP_RESIZE ? "job_id" : "status");
			out->job_id = NULL;
			out->instance_status = NULL;
			out->instance_spec = NULL;
			return;
		}
		out->verdict = GW_VERDICT_OK;
		return;
	}

	if (jb)
	{
		out->error_code = gw_json_get_text(jb, "error_code", NULL);
		out->error_message = gw_json_get_text(jb, "error_msg", NULL);
		if (out->error_code == NULL)
		{
			out->error_code = gw_json_get_text(jb, "error", "code");
			out->error_message = gw_json_get_text(jb, "error", "message");
		}
		if (out->request_id == NULL)
			out->request_id = gw_json_get_text(jb, "request_id", NULL);
	}
	if (out->error_code == NULL)
		out->error_code = psprintf("HTTP%ld", resp->http_status);
	if (out->error_message == NULL)
		out->error_message = pstrdup(jb ? "error answer without a message" :
									 "error answer that is not JSON");

	if (resp->http_status == 429 || resp->http_status >= 500)
		out->verdict = GW_VERDICT_RETRY;
	else if (resp->http_status == 401 &&
			 (strcmp(out->error_code, "APIGW.0307") == 0 ||
			  strcmp(out->error_code, "APIG.0307") == 0 ||
			  strcmp(out->error_code, "APIGW.0301") == 0))
		out->verdict = GW_VERDICT_REFRESH_TOKEN;	/* if it can be */
	else
		out->verdict = GW_VERDICT_FAIL;
}


/* ---- arguments ---- */

static const char *const specs[] = {
	"BASIC", "PROFESSIONAL", "ENTERPRISE", "PLATINUM",
	"BASIC_IPV6", "PROFESSIONAL_IPV6", "ENTERPRISE_IPV6", "PLATINUM_IPV6",
	"PLATINUM_X2", "PLATINUM_X3", "PLATINUM_X4", "PLATINUM_X5",
	"PLATINUM_X6", "PLATINUM_X7", "PLATINUM_X8",
	NULL
};

/* gw_resize's and gw_resize_async's arguments: instance_id, spec_id */
static void
huawei_read_args(FunctionCallInfo fcinfo, GwCall *call)
{
	const char *v;
	int			i;

	gw_check_id("instance_id", gw_arg_text(fcinfo, 0, "instance_id"), call->instance_id);
	v = gw_arg_text(fcinfo, 1, "spec_id");
	for (i = 0; specs[i]; i++)
		if (strcmp(v, specs[i]) == 0)
		{
			strlcpy(call->spec, v, GW_SPEC_MAXLEN + 1);
			return;
		}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid spec_id"),
			 errdetail("Huawei Cloud APIG editions are BASIC, PROFESSIONAL, ENTERPRISE, PLATINUM, their _IPV6 variants, and PLATINUM_X2 to PLATINUM_X8.")));
}

/* ---- server options and credentials ---- */

static bool
huawei_server_option(const char *name, const char *value, GwServer *s)
{
	if (strcmp(name, "project_id") == 0)
	{
		if (!gw_is_id(value))
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
					 errmsg("invalid value for option \"project_id\""),
					 errdetail("A project id is 1 to 64 letters, digits, '-' or '_'.")));
		if (s)
			s->project_id = pstrdup(value);
		return true;
	}
	if (strcmp(name, "iam_endpoint") == 0)
	{
		gw_check_endpoint(name, value, s == NULL);
		if (s)
			s->iam_endpoint = pstrdup(value);
		return true;
	}
	return false;
}

static const char *
region_suffix(const char *region)
{
	return strcmp(region, "eu-west-101") == 0 ? "myhuaweicloud.eu" :
		"myhuaweicloud.com";
}

static void
huawei_server_defaults(GwServer *s)
{
	if (s->endpoint == NULL)
		s->endpoint = psprintf("https://apig.%s.%s", s->region,
							   region_suffix(s->region));
	if (s->iam_endpoint == NULL)
		s->iam_endpoint = psprintf("https://iam.%s.%s", s->region,
								   region_suffix(s->region));
	gw_trim_url(s->iam_endpoint);
}

/* a token, AK/SK, an IAM user or the ECS agency; any may assume an agency */
static bool
huawei_accepts_creds(const GwCreds *c)
{
	return (c->kind == GW_AUTH_TOKEN || c->kind == GW_AUTH_AKSK ||
			c->kind == GW_AUTH_PASSWORD ||
			(c->kind == GW_AUTH_METADATA && c->ecs_agency)) &&
		c->role_arn == NULL;
}

/* ---- credential sources ---- */

static char *metadata_url = NULL;	/* gwresize.huawei_metadata_url */

static void
huawei_define_settings(void)
{
	DefineCustomStringVariable("gwresize.huawei_metadata_url",
							   "Base URL of the Huawei Cloud ECS metadata service.",
							   "Where user mappings with ecs_agency get their temporary credentials.",
							   &metadata_url,
							   "http://169.254.169.254",
							   PGC_SUSET, 0,
							   gw_check_metadata_url, NULL, NULL);
}

/*
 * huawei_cred_plan
 *		An IAM user: its token (kept for the calls themselves).  The ECS
 *		agency: a metadata session token, as the SDKs ask for one (a service
 *		without them answers 404 or 405, and is then read without), then
 *		the agency's temporary AK/SK.  An agency to assume: then IAM
 *		assume_role, authenticated with what came before or with the
 *		mapping's token or AK/SK.
 */
static int
huawei_cred_plan(const GwCreds *c, GwCredStep *steps, StringInfo source)
{
	int			n = 0;

	if (c->kind == GW_AUTH_PASSWORD)
	{
		steps[n++] = GW_STEP_IAM_TOKEN;
		appendStringInfo(source, "the IAM token of user \"%s\"", c->user_name);
	}
	else if (c->kind == GW_AUTH_METADATA)
	{
		steps[n++] = GW_STEP_METADATA_TOKEN;
		steps[n++] = GW_STEP_METADATA;
		appendStringInfo(source, "the ECS agency (metadata service %s)", metadata_url);
	}
	if (c->agency_name)
	{
		if (n == 0)
			appendStringInfo(source, "the mapping's %s",
							 c->kind == GW_AUTH_AKSK ? "AK/SK" : "token");
		steps[n++] = GW_STEP_ASSUME;
		appendStringInfo(source, ", then IAM assume_role of agency \"%s\" of \"%s\"",
						 c->agency_name, c->agency_domain_name);
	}
	return n;
}

/* the IAM assume_role body */
static char *
assume_body(const GwCreds *c)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoString(&b, "{\"auth\":{\"identity\":{\"methods\":[\"assume_role\"],"
						   "\"assume_role\":{\"domain_name\":");
	escape_json(&b, c->agency_domain_name);
	appendStringInfoString(&b, ",\"agency_name\":");
	escape_json(&b, c->agency_name);
	if (c->duration_seconds > 0)
		appendStringInfo(&b, ",\"duration_seconds\":%d", c->duration_seconds);
	appendStringInfoString(&b, "}}}}");
	return b.data;
}

static GwHttpRequest *
huawei_cred_request(GwServer *server, const GwCreds *mapping, GwCredStep step,
					const GwCreds *have)
{
	GwHttpRequest *req;
	const char *suffix;
	StringInfoData url,
				host,
				path;

	switch (step)
	{
		case GW_STEP_METADATA_TOKEN:
			req = gw_metadata_request(metadata_url, "PUT", "/meta-data/latest/api/token");
			gw_add_header(req, "X-Metadata-Token-Ttl-Seconds", "300", false);
			return req;
		case GW_STEP_METADATA:
			req = gw_metadata_request(metadata_url, "GET", "/openstack/latest/securitykey");
			if (have->metadata_token)
				gw_add_header(req, "X-Metadata-Token", have->metadata_token, true);
			return req;
		case GW_STEP_IAM_TOKEN:
		case GW_STEP_ASSUME:
			break;
		default:
			elog(ERROR, "huawei has no credential step %d", (int) step);
	}

	/* IAM: a JSON POST */
	suffix = step == GW_STEP_IAM_TOKEN ? "/v3/auth/tokens" :
		"/v3.0/OS-CREDENTIAL/securitytokens";
	req = palloc0(sizeof(GwHttpRequest));
	initStringInfo(&url);
	initStringInfo(&host);
	initStringInfo(&path);
	appendStringInfo(&url, "%s%s", server->iam_endpoint, suffix);
	gw_url_host(server->iam_endpoint, &host, &path);
	appendStringInfoString(&path, suffix);
	req->method = "POST";
	req->url = url.data;
	req->url_shown = url.data;
	gw_add_header(req, "Host", host.data, false);
	if (step == GW_STEP_IAM_TOKEN)
	{
		req->body = iam_body(server, mapping, false);
		req->body_shown = iam_body(server, mapping, true);
		req->body_len = strlen(req->body);
		gw_add_header(req, "Content-Type", "application/json;charset=utf8", false);
		return req;
	}
	req->body = assume_body(mapping);
	req->body_len = strlen(req->body);
	gw_add_header(req, "Content-Type", HW_JSON_TYPE, false);
	gw_add_header(req, "Accept", "application/json", false);
	authenticate(req, have, host.data, path.data, NULL);
	return req;
}

/*
 * huawei_cred_answer
 *		The IAM token is X-Subject-Token, expiring at token.expires_at; the
 *		agency's credentials (metadata or assume_role) are credential.access,
 *		.secret, .securitytoken and .expires_at.
 */
static void
huawei_cred_answer(const GwHttpResponse *resp, GwCredStep step, GwOutcome *out,
				   GwCreds *have, char **expires)
{
	static const char *const token_fields[] = {"token.expires_at"};
	static const char *const agency_fields[] =
	{"credential.access", "credential.secret", "credential.securitytoken",
	"credential.expires_at"};
	char	   *v[4];

	if (step == GW_STEP_METADATA || step == GW_STEP_METADATA_TOKEN)
		gw_plain_judge(resp, out);
	else
		huawei_judge(resp, GW_OP_CREDENTIAL, out);
	if (step == GW_STEP_METADATA_TOKEN)
	{
		/* a metadata service without session tokens: read without one */
		if (resp->curl_code == 0 &&
			(resp->http_status == 404 || resp->http_status == 405))
		{
			memset(out, 0, sizeof(GwOutcome));
			out->verdict = GW_VERDICT_OK;
			have->metadata_token = NULL;
			return;
		}
		if (out->verdict == GW_VERDICT_OK)
			gw_take_metadata_token(resp, out, have);
		return;
	}
	if (out->verdict != GW_VERDICT_OK)
		return;

	if (step == GW_STEP_IAM_TOKEN)
	{
		if (resp->subject_token == NULL)
		{
			out->verdict = GW_VERDICT_FAIL;
			out->error_code = pstrdup("NoToken");
			out->error_message = pstrdup("IAM answered without X-Subject-Token");
			return;
		}
		memset(have, 0, sizeof(GwCreds));
		have->kind = GW_AUTH_TOKEN;
		have->auth_token = pstrdup(resp->subject_token);
		(void) gw_json_fields(resp->body.data, resp->body.len, token_fields, 1,
							  expires);
		if (!gw_cred_value_ok(have->auth_token, -1))
			gw_cred_malformed(out, "X-Subject-Token");
		return;
	}
	(void) gw_json_fields(resp->body.data, resp->body.len, agency_fields, 4, v);
	memset(have, 0, sizeof(GwCreds));
	have->kind = GW_AUTH_AKSK;
	have->access_key = v[0];
	have->secret = v[1];
	have->security_token = v[2];
	*expires = v[3];
	if (!gw_cred_value_ok(have->access_key, -1) ||
		!gw_cred_value_ok(have->secret, -1) ||
		!gw_cred_value_ok(have->security_token, -1) || *expires == NULL)
		gw_cred_malformed(out, "credential.access, .secret, .securitytoken and .expires_at");
}

/* ---- instance states ---- */

static bool
huawei_ready_for_change(const char *status)
{
	return strcmp(status, "Running") == 0 || strcmp(status, "ResizeFailed") == 0;
}

static bool
huawei_change_failed(const char *status)
{
	return strcmp(status, "ResizeFailed") == 0 || strcmp(status, "ResizeTimeout") == 0;
}

static bool
huawei_already_applied(const GwOutcome *out)
{
	return false;				/* a re-sent POST is a new resize */
}

static const char *const server_options[] = {"project_id", "iam_endpoint", NULL};

const GwProviderRoutine gw_huawei_routine = {
	.id = GW_HUAWEI,
	.name = "huawei",
	.resize_function = "gw_resize()",
	.read_args = huawei_read_args,
	.params_json = huawei_params_json,
	.has_client_token = false,
	.server_options = server_options,
	.server_option = huawei_server_option,
	.required_option = "project_id",
	.server_defaults = huawei_server_defaults,
	.accepts_creds = huawei_accepts_creds,
	.creds_hint = "A huawei mapping takes auth_token, or access_key and secret_key, or user_name, password and domain_name, or ecs_agency; any may add agency_domain_name and agency_name.",
	.cred_plan = huawei_cred_plan,
	.cred_request = huawei_cred_request,
	.cred_answer = huawei_cred_answer,
	.define_settings = huawei_define_settings,
	.temporary_kind = GW_AUTH_AKSK,
	.build_request = huawei_build_request,
	.judge = huawei_judge,
	.running_status = "Running",
	.changing_status = "Resizing",
	.ready_states = "Running (or ResizeFailed)",
	.ready_for_change = huawei_ready_for_change,
	.change_failed = huawei_change_failed,
	.resend_needs_read = true,
	.already_applied = huawei_already_applied,
};
