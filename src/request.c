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
#include <limits.h>
#include <time.h>

#include <curl/curl.h>

#include "common/int.h"
#include "common/jsonapi.h"
#include "common/string.h"
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
 * gw_request_wipe
 *		Zero the values of req's secret headers, once the transport has
 *		copied them (the body goes on being sent from req: http.c zeroes it
 *		when the transfer is released).
 */
void
gw_request_wipe(GwHttpRequest *req)
{
	ListCell   *lc;

	foreach(lc, req->headers)
	{
		GwHeader   *h = (GwHeader *) lfirst(lc);

		if (h->secret)
			explicit_bzero(h->value, strlen(h->value));
	}
	/* libcurl copied the URL (an RPC call's carries its security token) */
	explicit_bzero(req->url, strlen(req->url));
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
 * gw_clean_text
 *		Provider text made fit for gw_audit and messages: at most maxbytes
 *		bytes (cut at a character boundary, with " [truncated]" appended),
 *		NUL bytes dropped, and every byte that is not part of a valid
 *		character replaced by '?'.  Providers speak UTF-8: in a UTF-8 (or
 *		SQL_ASCII) database valid UTF-8 is kept; in any other database
 *		encoding only ASCII is, since no conversion can be trusted to cover
 *		what a provider sends.  NULL in, NULL out.
 */
char *
gw_clean_text(const char *s, int len, int maxbytes)
{
	int			dbenc = GetDatabaseEncoding();
	bool		utf8 = dbenc == PG_UTF8 || dbenc == PG_SQL_ASCII;
	StringInfoData buf;
	int			i = 0;
	bool		cut = false;

	if (s == NULL)
		return NULL;
	if (len < 0)
		len = strlen(s);
	initStringInfo(&buf);
	while (i < len)
	{
		unsigned char c = (unsigned char) s[i];
		int			n = 1;

		if (c == '\0')
		{
			i++;
			continue;
		}
		if (c >= 0x80)
		{
			n = utf8 ? pg_utf_mblen((const unsigned char *) s + i) : 0;
			if (n <= 1 || i + n > len ||
				!pg_utf8_islegal((const unsigned char *) s + i, n))
				n = 0;
		}
		if (buf.len + Max(n, 1) > maxbytes)
		{
			cut = true;
			break;
		}
		if (n == 0)
		{
			appendStringInfoChar(&buf, '?');
			i++;
		}
		else
		{
			appendBinaryStringInfo(&buf, s + i, n);
			i += n;
		}
	}
	if (cut)
		appendStringInfoString(&buf, " [truncated]");
	return buf.data;
}

/*
 * gw_clean_body
 *		An answer's body made valid text in place, as gw_clean_text does but
 *		without a size limit: NULs dropped, bad bytes replaced by '?'.  Run
 *		before the body is parsed or kept, so that nothing invalid reaches
 *		jsonb (whose input function trusts its input's encoding).
 */
void
gw_clean_body(StringInfo body)
{
	char	   *clean;

	if (body->len == 0)
		return;
	/* the common case: valid already */
	if (memchr(body->data, '\0', body->len) == NULL &&
		pg_encoding_verifymbstr(GetDatabaseEncoding() == PG_UTF8 ||
								GetDatabaseEncoding() == PG_SQL_ASCII ?
								PG_UTF8 : PG_SQL_ASCII,
								body->data, body->len) == body->len &&
		(GetDatabaseEncoding() == PG_UTF8 ||
		 GetDatabaseEncoding() == PG_SQL_ASCII ||
		 pg_is_ascii(body->data)))
		return;
	clean = gw_clean_text(body->data, body->len, INT_MAX / 2);
	resetStringInfo(body);
	appendStringInfoString(body, clean);
	pfree(clean);
}

/*
 * gw_parse_retry_hint
 *		A retry hint header (digits, in units of unit_ms) in milliseconds,
 *		saturating at PG_INT64_MAX; -1 when absent, negative or not a
 *		number (an HTTP date included: then our own backoff applies).
 */
int64
gw_parse_retry_hint(const char *v, int64 unit_ms)
{
	int64		n = 0;
	const char *p = v;

	if (v == NULL)
		return -1;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
	{
		if (pg_mul_s64_overflow(n, 10, &n) ||
			pg_add_s64_overflow(n, *p - '0', &n))
			return PG_INT64_MAX;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '\0')
		return -1;
	if (pg_mul_s64_overflow(n, unit_ms, &n))
		return PG_INT64_MAX;
	return n;
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
		/* not JSON (or too deep): keep a clean prefix as a string */
		appendStringInfoString(&buf, "{\"unparsable\": ");
		escape_json(&buf, gw_clean_text(resp->body.data, resp->body.len, 1024));
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
	bool		tls = false;

	switch (resp->curl_code)
	{
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CRL_BADFILE:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
			tls = true;
			break;
		default:
			break;
	}
	out->verdict = GW_VERDICT_RETRY;
	out->error_code = pstrdup(resp->too_large ? "ResponseTooLarge" :
							  tls ? "TLSVerificationFailed" :
							  resp->curl_code == CURLE_OPERATION_TIMEDOUT ? "Timeout" : "TransportError");
	out->error_message = gw_clean_text(resp->curl_error ? resp->curl_error :
									   "no answer", -1, GW_MESSAGE_MAX);
	/* a peer we cannot trust is a configuration error: retrying won't help */
	if (resp->too_large || tls)
		out->verdict = GW_VERDICT_FAIL;
}

/*
 * gw_plain_judge
 *		Judge the answer of a service without an error format of its own
 *		(a metadata service): 2xx is good, 429 and 5xx are retryable, any
 *		other status is final, with the start of the body as its message.
 */
void
gw_plain_judge(const GwHttpResponse *resp, GwOutcome *out)
{
	memset(out, 0, sizeof(GwOutcome));
	out->retry_after_ms = Max(gw_parse_retry_hint(resp->retry_after, 1000), 0);
	if (resp->curl_code != 0)
	{
		gw_transport_outcome(resp, out);
		return;
	}
	if (resp->http_status >= 200 && resp->http_status < 300)
	{
		out->verdict = GW_VERDICT_OK;
		return;
	}
	out->verdict = resp->http_status == 429 || resp->http_status >= 500 ?
		GW_VERDICT_RETRY : GW_VERDICT_FAIL;
	out->error_code = psprintf("HTTP%ld", resp->http_status);
	out->error_message = gw_clean_text(resp->body.len > 0 ? resp->body.data :
									   "no message", Min(resp->body.len, 200), 256);
}

/*
 * gw_cred_value_ok
 *		Whether a credential from an answer may be used: 1 to GW_CRED_MAX
 *		visible ASCII characters (it goes into headers and signatures; len
 *		-1: up to the NUL).
 */
bool
gw_cred_value_ok(const char *v, int len)
{
	int			i;

	if (v == NULL)
		return false;
	if (len < 0)
		len = strlen(v);
	if (len < 1 || len > GW_CRED_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (v[i] <= ' ' || v[i] >= 0x7f)
			return false;
	return v[len] == '\0';
}

/* a good status whose body lacks what was asked for: retried */
void
gw_cred_malformed(GwOutcome *out, const char *what)
{
	out->verdict = GW_VERDICT_RETRY;
	out->error_code = pstrdup("MalformedResponse");
	out->error_message = psprintf("the answer has no valid %s", what);
}

/*
 * gw_metadata_request
 *		A plain request of a metadata service (base, one of the settings),
 *		with its shorter timeout.
 */
GwHttpRequest *
gw_metadata_request(const char *base, const char *method, const char *path)
{
	GwHttpRequest *req = palloc0(sizeof(GwHttpRequest));
	StringInfoData url,
				host,
				ignored;

	initStringInfo(&url);
	initStringInfo(&host);
	initStringInfo(&ignored);
	appendStringInfo(&url, "%s%s", base, path);
	gw_url_host(base, &host, &ignored);
	req->method = method;
	req->url = url.data;
	req->url_shown = url.data;
	req->timeout_ms = GW_METADATA_TIMEOUT_MS;
	/* the VM's own credentials: never to a proxy the environment names */
	req->direct = true;
	gw_add_header(req, "Host", host.data, false);
	return req;
}

/*
 * gw_take_metadata_token
 *		A good answer to a metadata session token request: its body is the
 *		token, kept in have for the next step.
 */
void
gw_take_metadata_token(const GwHttpResponse *resp, GwOutcome *out, GwCreds *have)
{
	if (!gw_cred_value_ok(resp->body.data, resp->body.len))
		gw_cred_malformed(out, "a metadata session token");
	else
		have->metadata_token = pstrdup(resp->body.data);
}

/*
 * gw_bound_outcome
 *		Every provider text of an outcome made valid and bounded, before it
 *		is stored or put in a message.  The stored response keeps its own
 *		bound (GW_RESPONSE_KEEP); with recheck_response (secrets were masked
 *		in it) it is checked to still be valid JSON.
 */
void
gw_bound_outcome(GwOutcome *out, bool recheck_response)
{
	out->error_code = gw_clean_text(out->error_code, -1, GW_FIELD_MAX);
	out->error_message = gw_clean_text(out->error_message, -1, GW_MESSAGE_MAX);
	out->request_id = gw_clean_text(out->request_id, -1, GW_FIELD_MAX);
	out->job_id = gw_clean_text(out->job_id, -1, GW_FIELD_MAX);
	out->instance_status = gw_clean_text(out->instance_status, -1, GW_FIELD_MAX);
	out->instance_spec = gw_clean_text(out->instance_spec, -1, GW_FIELD_MAX);
	if (recheck_response && out->response_json &&
		gw_json_parse(out->response_json, strlen(out->response_json)) == NULL)
	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoString(&buf, "{\"unparsable\": ");
		escape_json(&buf, gw_clean_text(out->response_json, -1, 1024));
		appendStringInfoChar(&buf, '}');
		out->response_json = buf.data;
	}
}

/*
 * gw_params_json
 *		A resize's parameters as JSON, for gw_audit.params.
 */
char *
gw_params_json(const GwCall *call, const GwServer *server)
{
	StringInfoData buf;

	initStringInfo(&buf);
	gw_provider(call->provider)->params_json(&buf, call, server);
	return buf.data;
}
