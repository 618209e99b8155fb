/*-------------------------------------------------------------------------
 *
 * aliyun.c
 *	  Alibaba Cloud API Gateway (CloudAPI 2016-07-14): building and signing
 *	  ModifyInstanceSpec and DescribeInstances, and judging the answers.
 *
 * The SDK's way is followed: POST / with every parameter in the query
 * string and an empty body, signed with ACS3-HMAC-SHA256 (default) or the
 * classic RPC HMAC-SHA1 signature (server option signature 'hmac-sha1').
 * This file knows nothing of the worker or the audit table.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"

#include "gwresize.h"

#define ACS_VERSION "2016-07-14"
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
void
aliyun_params_json(StringInfo buf, const GwCall *call)
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
 * aliyun_build_request
 *		A signed request for op on call's instance, ready for http.c.  A
 *		fresh nonce and timestamp each time: a retry re-signs.
 */
GwHttpRequest *
aliyun_build_request(GwServer *server, GwCreds *creds, GwOp op,
					 const GwCall *call)
{
	GwHttpRequest *req = palloc0(sizeof(GwHttpRequest));
	const char *action = op == GW_OP_RESIZE ? "ModifyInstanceSpec" :
		"DescribeInstances";
	GwKV		kv[MAX_PARAMS];
	int			n = op_params(op, call, kv);
	char		nonce[33];
	char	   *date = gw_utc_now("%Y-%m-%dT%H:%M:%SZ");
	StringInfoData host,
				path,
				url,
				shown;

	Assert(creds->kind == GW_AUTH_ACS);
	initStringInfo(&host);
	initStringInfo(&path);
	gw_url_host(server->endpoint, &host, &path);
	appendStringInfoChar(&path, '/');
	gw_random_hex(nonce, 16);

	req->method = "POST";
	req->body = NULL;
	req->body_len = 0;
	initStringInfo(&url);
	initStringInfo(&shown);
	/* url = endpoint/?query; the endpoint has no trailing slash */
	appendStringInfo(&url, "%s/?", server->endpoint);
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
		kv[n++].value = ACS_VERSION;
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
		hv[nh++].value = ACS_VERSION;
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
		gw_acs3_canonical_request(&cr, &sh, req->method, path.data, kv, n,
								  hv, nh, EMPTY_SHA256);
		gw_acs3_authorization(&auth, creds->access_key, creds->secret,
							  cr.data, sh.data);
		gw_canonical_query(&url, kv, n);
		appendStringInfoString(&shown, query_shown(kv, n));
		gw_add_header(req, "x-acs-action", action, false);
		gw_add_header(req, "x-acs-version", ACS_VERSION, false);
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

/*
 * aliyun_judge
 *		Judge an answer: success is 200 with a RequestId; throttling (400
 *		with a Throttling* code), 5xx and transport errors are retryable;
 *		any other error is final.  A 200 whose body is not JSON is retried
 *		too: re-sending with the same Token is idempotent.
 */
void
aliyun_judge(const GwHttpResponse *resp, GwOutcome *out)
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

	jb = gw_json_parse(resp->body.data, resp->body.len);
	out->response_json = gw_response_for_audit(resp, jb);
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
	else
		out->verdict = GW_VERDICT_FAIL;
}
