/*-------------------------------------------------------------------------
 *
 * request.c
 *	  What both providers' request builders and answer judges share: the
 *	  HTTP request value, its masked JSON rendering for the audit table,
 *	  and reading fields out of JSON answers with PostgreSQL's jsonb.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>
#include <time.h>

#include <curl/curl.h>

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

#include "gwresize.h"

/*
 * gw_add_header
 *		Append a header to req; secret ones are masked wherever shown.
 */
void
gw_add_header(GwHttpRequest *req, const char *name, const char *value,
			  bool secret)
{
	GwHeader   *h = palloc(sizeof(GwHeader));

	h->name = pstrdup(name);
	h->value = pstrdup(value);
	h->secret = secret;
	req->headers = lappend(req->headers, h);
}

/*
 * gw_mask_id
 *		An access key id shown as its first four characters and "***".
 */
char *
gw_mask_id(const char *id)
{
	return psprintf("%.4s***", id);
}

/*
 * gw_request_json
 *		{"method":..,"url":..,"headers":{..},"body":..} with every secret
 *		header masked.  body_shown overrides the body (for bodies that carry
 *		a secret, such as Huawei's IAM password request).
 */
void
gw_request_json(StringInfo buf, const GwHttpRequest *req)
{
	ListCell   *lc;
	bool		first = true;

	appendStringInfoString(buf, "{\"method\": ");
	escape_json(buf, req->method);
	appendStringInfoString(buf, ", \"url\": ");
	escape_json(buf, req->url_shown);
	appendStringInfoString(buf, ", \"headers\": {");
	foreach(lc, req->headers)
	{
		GwHeader   *h = (GwHeader *) lfirst(lc);

		if (!first)
			appendStringInfoString(buf, ", ");
		first = false;
		escape_json(buf, h->name);
		appendStringInfoString(buf, ": ");
		if (h->secret && pg_strcasecmp(h->name, "Authorization") == 0)
		{
			/* keep the scheme and signed-header list, mask the rest */
			const char *sp = strchr(h->value, ' ');
			char	   *shown = psprintf("%.*s ***",
										 sp ? (int) (sp - h->value) : 0,
										 h->value);

			escape_json(buf, shown);
		}
		else
			escape_json(buf, h->secret ? "***" : h->value);
	}
	appendStringInfoString(buf, "}, \"body\": ");
	if (req->body_shown)
		escape_json(buf, req->body_shown);
	else if (req->body && req->body_len > 0)
		escape_json(buf, req->body);
	else
		appendStringInfoString(buf, "null");
	appendStringInfoChar(buf, '}');
}

/*
 * gw_url_host
 *		Split a URL "scheme://authority/path" into authority (host[:port],
 *		exactly as written) and path (without a trailing '/').
 */
void
gw_url_host(const char *url, StringInfo host, StringInfo path)
{
	const char *p = strstr(url, "://");
	const char *slash;

	p = p ? p + 3 : url;
	slash = strchr(p, '/');
	if (slash)
	{
		appendBinaryStringInfo(host, p, slash - p);
		appendStringInfoString(path, slash);
		while (path->len > 0 && path->data[path->len - 1] == '/')
			path->data[--path->len] = '\0';
	}
	else
		appendStringInfoString(host, p);
}

/*
 * gw_utc_now
 *		The current UTC time formatted with strftime's fmt.
 */
char *
gw_utc_now(const char *fmt)
{
	time_t		now = time(NULL);
	struct tm	tm;
	char		buf[64];

	gmtime_r(&now, &tm);
	strftime(buf, sizeof(buf), fmt, &tm);
	return pstrdup(buf);
}

/*
 * gw_json_parse
 *		The body as jsonb, or NULL when it is not valid JSON (or not
 *		storable as jsonb, such as a \u0000 escape).  Never throws.
 */
Jsonb *
gw_json_parse(const char *body, int len)
{
	JsonLexContext *lex;
	MemoryContext oldcxt = CurrentMemoryContext;
	Jsonb	   *result = NULL;

	if (body == NULL || len == 0)
		return NULL;
	lex = makeJsonLexContextCstringLen(unconstify(char *, body), len,
									   GetDatabaseEncoding(), false);
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
		return NULL;

	/* jsonb_in only computes, so trapping its error needs no subxact */
	PG_TRY();
	{
		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													CStringGetDatum(body)));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		result = NULL;
	}
	PG_END_TRY();
	return result;
}

static char *
scalar_text(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

/*
 * gw_json_get_path
 *		The scalar at a path of object keys and array indexes (digits) in a
 *		jsonb value, as text; NULL when any step is missing.
 */
char *
gw_json_get_path(Jsonb *jb, const char *const *path, int n)
{
	JsonbContainer *c;
	JsonbValue	v;
	JsonbValue *e;
	int			i;

	if (jb == NULL)
		return NULL;
	c = &jb->root;
	for (i = 0; i < n; i++)
	{
		if (JsonContainerIsArray(c) && isdigit((unsigned char) path[i][0]))
		{
			e = getIthJsonbValueFromContainer(c, atoi(path[i]));
			if (e == NULL)
				return NULL;
			v = *e;
		}
		else if (!JsonContainerIsObject(c) ||
				 !getKeyJsonValueFromContainer(c, path[i], strlen(path[i]), &v))
			return NULL;
		if (i == n - 1)
			return scalar_text(&v);
		if (v.type != jbvBinary)
			return NULL;
		c = v.val.binary.data;
	}
	return NULL;
}

/*
 * gw_json_get_text
 *		The scalar at key1 (or key1.key2) of a jsonb object as text, or NULL.
 */
char *
gw_json_get_text(Jsonb *jb, const char *key1, const char *key2)
{
	const char *path[2] = {key1, key2};

	return gw_json_get_path(jb, path, key2 ? 2 : 1);
}

/*
 * gw_response_for_audit
 *		What the response column keeps of an answer: the body when it is
 *		JSON of bounded size, else a small object saying what came.
 */
char *
gw_response_for_audit(const GwHttpResponse *resp, Jsonb *parsed)
{
	StringInfoData buf;

	if (resp->curl_code != 0 && resp->body.len == 0)
		return NULL;
	initStringInfo(&buf);
	if (resp->too_large)
		appendStringInfo(&buf, "{\"truncated\": true, \"bytes_received\": %d}",
						 resp->body.len);
	else if (parsed && resp->body.len <= GW_RESPONSE_KEEP)
		appendBinaryStringInfo(&buf, resp->body.data, resp->body.len);
	else if (parsed)
		appendStringInfo(&buf, "{\"truncated\": true, \"bytes\": %d}",
						 resp->body.len);
	else
	{
		/* not JSON: keep a valid-UTF-8 prefix as a string */
		int			n = Min(resp->body.len, 1024);
		char	   *prefix;

		n = pg_encoding_verifymbstr(PG_UTF8, resp->body.data, n);
		prefix = pnstrdup(resp->body.data, n);
		appendStringInfoString(&buf, "{\"unparsable\": ");
		escape_json(&buf, prefix);
		appendStringInfo(&buf, ", \"bytes\": %d}", resp->body.len);
	}
	return buf.data;
}

/*
 * gw_transport_outcome
 *		A transfer that got no HTTP answer: retryable, with curl's reason.
 */
void
gw_transport_outcome(const GwHttpResponse *resp, GwOutcome *out)
{
	out->verdict = GW_VERDICT_RETRY;
	out->error_code = pstrdup(resp->too_large ? "ResponseTooLarge" :
							  resp->curl_code == CURLE_OPERATION_TIMEDOUT ? "Timeout" : "TransportError");
	out->error_message = pstrdup(resp->curl_error ? resp->curl_error :
								 "no answer");
	if (resp->too_large)
		out->verdict = GW_VERDICT_FAIL;
}

/* text with every occurrence of secret replaced by "***" (NULL-safe) */
static char *
scrub_one(char *text, const char *secret)
{
	StringInfoData buf;
	char	   *p,
			   *hit;
	size_t		len;

	if (text == NULL || secret == NULL || (len = strlen(secret)) == 0 ||
		strstr(text, secret) == NULL)
		return text;
	initStringInfo(&buf);
	for (p = text; (hit = strstr(p, secret)) != NULL; p = hit + len)
	{
		appendBinaryStringInfo(&buf, p, hit - p);
		appendStringInfoString(&buf, "***");
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

/*
 * gw_scrub_outcome
 *		Mask every secret of creds (and a cached IAM token) that a provider
 *		echoed back in what is kept of its answer: Alibaba's
 *		SignatureDoesNotMatch message, for one, quotes the canonical request
 *		with the signed STS token in it.
 */
void
gw_scrub_outcome(GwOutcome *out, const GwCreds *creds, const char *iam_token)
{
	const char *secrets[5];
	int			i;

	secrets[0] = creds->secret;
	secrets[1] = creds->security_token;
	secrets[2] = creds->auth_token;
	secrets[3] = creds->password;
	secrets[4] = iam_token;
	for (i = 0; i < lengthof(secrets); i++)
	{
		out->error_code = scrub_one(out->error_code, secrets[i]);
		out->error_message = scrub_one(out->error_message, secrets[i]);
		out->response_json = scrub_one(out->response_json, secrets[i]);
	}
}

/*
 * gw_build_request, gw_judge, gw_params_json
 *		Dispatch to the provider's file.
 */
GwHttpRequest *
gw_build_request(GwServer *server, GwCreds *creds, const char *iam_token,
				 GwOp op, const GwCall *call)
{
	if (server->provider == GW_ALIYUN)
		return aliyun_build_request(server, creds, op, call);
	return huawei_build_request(server, creds, iam_token, op, call);
}

void
gw_judge(GwProvider provider, const GwHttpResponse *resp, GwOp op,
		 GwOutcome *out)
{
	if (provider == GW_ALIYUN)
		aliyun_judge(resp, out);
	else
		huawei_judge(resp, op, out);
}

char *
gw_params_json(const GwCall *call, const GwServer *server)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (call->provider == GW_ALIYUN)
		aliyun_params_json(&buf, call);
	else
		huawei_params_json(&buf, call, server);
	return buf.data;
}
