/*-------------------------------------------------------------------------
 *
 * raw.c
 *	  The baselines of the gwresize benchmark: the same requests the worker
 *	  sends, sent straight with libcurl to the mock cloud over HTTPS.
 *
 *	    - Alibaba ModifyInstanceSpec, classic RPC signature (src/sign.c);
 *	    - Huawei postpaid-resize with X-Auth-Token (a static token, or an
 *	      IAM token fetched once), or signed SDK-HMAC-SHA256 (src/sign.c);
 *	    - the mock's capacity: signed Alibaba POSTs on several connections
 *	      at once (curl multi), as many as it takes in a time window.
 *
 * Each easy handle keeps its connection and TLS session between requests.
 * Requests are built and signed before the clock starts: only the transfer
 * is timed.  Any answer but the expected status ends the run.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <time.h>

#include "bench.h"
#include "sign.h"

#define HW_JSON_TYPE	"application/json;charset=UTF-8"
#define HW_BODY			"{\"spec_id\":\"" BENCH_HW_SPEC "\"}"
#define ERRBODY_MAX		400

/* The start of an answer's body, kept for error messages */
typedef struct RawBody
{
	char		text[ERRBODY_MAX + 1];
	size_t		len;
} RawBody;

/* A header value a transfer captures (X-Subject-Token) */
typedef struct RawHeader
{
	const char *name;
	char	   *value;
} RawHeader;

/*
 * body_sink
 *		libcurl write callback: keep the first bytes of the body.
 */
static size_t
body_sink(char *p, size_t size, size_t nmemb, void *arg)
{
	RawBody    *b = (RawBody *) arg;
	size_t		n = size * nmemb;
	size_t		room = ERRBODY_MAX - b->len;

	if (room > 0)
	{
		memcpy(b->text + b->len, p, Min(room, n));
		b->len += Min(room, n);
		b->text[b->len] = '\0';
	}
	return n;
}

/*
 * header_sink
 *		libcurl header callback: capture the value of one named header.
 */
static size_t
header_sink(char *p, size_t size, size_t nmemb, void *arg)
{
	RawHeader  *h = (RawHeader *) arg;
	size_t		n = size * nmemb;
	size_t		nl = strlen(h->name);

	if (n > nl + 1 && pg_strncasecmp(p, h->name, nl) == 0 && p[nl] == ':')
	{
		const char *v = p + nl + 1;
		const char *end = p + n;

		while (v < end && (*v == ' ' || *v == '\t'))
			v++;
		while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
			end--;
		h->value = pnstrdup(v, end - v);
	}
	return n;
}

/*
 * raw_handle
 *		A libcurl easy handle verifying TLS against ca_file, with its own
 *		body buffer (reachable through CURLINFO_PRIVATE).
 */
CURL *
raw_handle(const char *ca_file)
{
	CURL	   *curl = curl_easy_init();
	RawBody    *b = palloc0(sizeof(RawBody));

	if (curl == NULL)
		bench_fail("curl_easy_init failed\n");
	curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, body_sink);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(curl, CURLOPT_PRIVATE, b);
	return curl;
}

/*
 * raw_close
 *		Close a handle from raw_handle, and its connection.
 */
void
raw_close(CURL *curl)
{
	RawBody    *b = NULL;

	curl_easy_getinfo(curl, CURLINFO_PRIVATE, (char **) &b);
	curl_easy_cleanup(curl);
	if (b)
		pfree(b);
}

/*
 * check_answer
 *		End the run unless the finished transfer on curl answered expect.
 */
static void
check_answer(CURL *curl, CURLcode rc, long expect, const char *what)
{
	long		code = 0;
	RawBody    *b = NULL;

	curl_easy_getinfo(curl, CURLINFO_PRIVATE, (char **) &b);
	if (rc != CURLE_OK)
		bench_fail("%s failed: %s\n", what, curl_easy_strerror(rc));
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != expect)
		bench_fail("%s failed: HTTP %ld (expected %ld): %s\n", what, code,
				   expect, b ? b->text : "");
}

/*
 * reset_body
 *		Forget the previous answer's body before a new transfer.
 */
static void
reset_body(CURL *curl)
{
	RawBody    *b = NULL;

	curl_easy_getinfo(curl, CURLINFO_PRIVATE, (char **) &b);
	if (b)
	{
		b->len = 0;
		b->text[0] = '\0';
	}
}

/*
 * raw_aliyun_url
 *		A ModifyInstanceSpec URL for instance_id under base (no trailing
 *		slash), RPC-signed with the bench key, with a fresh nonce and Token,
 *		as the worker sends it for the server 'bench' (signature hmac-sha1).
 */
char *
raw_aliyun_url(const char *base, const char *instance_id)
{
	static long seq = 0;
	char		tok[64],
				nonce[33],
				ts[32];
	time_t		now = time(NULL);
	GwKV		kv[14];
	int			n = 0;
	StringInfoData sts,
				sig,
				url;

	snprintf(tok, sizeof(tok), "bench-raw-%ld-%ld", (long) now, ++seq);
	gw_random_hex(nonce, 16);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	kv[n++] = (GwKV) {"Action", "ModifyInstanceSpec"};
	kv[n++] = (GwKV) {"Version", "2016-07-14"};
	kv[n++] = (GwKV) {"Format", "JSON"};
	kv[n++] = (GwKV) {"AccessKeyId", BENCH_ALI_AK};
	kv[n++] = (GwKV) {"SignatureMethod", "HMAC-SHA1"};
	kv[n++] = (GwKV) {"SignatureVersion", "1.0"};
	kv[n++] = (GwKV) {"SignatureNonce", nonce};
	kv[n++] = (GwKV) {"Timestamp", ts};
	kv[n++] = (GwKV) {"InstanceId", instance_id};
	kv[n++] = (GwKV) {"InstanceSpec", "api.s1.medium"};
	kv[n++] = (GwKV) {"Token", tok};
	kv[n++] = (GwKV) {"ModifyAction", "UPGRADE"};
	kv[n++] = (GwKV) {"AutoPay", "false"};
	kv[n++] = (GwKV) {"SkipWaitSwitch", "false"};
	initStringInfo(&sts);
	initStringInfo(&sig);
	initStringInfo(&url);
	gw_acs_rpc_string_to_sign(&sts, "POST", kv, n);
	gw_acs_rpc_signature(&sig, BENCH_ALI_SECRET, sts.data);
	appendStringInfo(&url, "%s/?", base);
	gw_canonical_query(&url, kv, n);
	appendStringInfoString(&url, "&Signature=");
	gw_uri_encode(&url, sig.data);
	pfree(sts.data);
	pfree(sig.data);
	return url.data;
}

/*
 * aliyun_prepare
 *		Make curl send a bodiless POST to url (without the default
 *		Content-Type), as the worker's RPC calls are.
 */
static void
aliyun_prepare(CURL *curl, const char *url)
{
	static struct curl_slist *h = NULL;

	if (h == NULL)
		h = curl_slist_append(NULL, "Content-Type:");
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, 0L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	reset_body(curl);
}

/*
 * raw_aliyun_post
 *		One signed ModifyInstanceSpec for instance_id; returns the ms the
 *		transfer took.  The mock answers 200.
 */
double
raw_aliyun_post(CURL *curl, const char *base, const char *instance_id)
{
	char	   *url = raw_aliyun_url(base, instance_id);
	double		t;
	CURLcode	rc;

	aliyun_prepare(curl, url);
	pfree(url);
	t = bench_now_ms();
	rc = curl_easy_perform(curl);
	t = bench_now_ms() - t;
	check_answer(curl, rc, 200, "raw Alibaba POST");
	return t;
}

/* host[:port] of base ("https://host:port") */
static const char *
base_host(const char *base)
{
	const char *p = strstr(base, "://");

	return p ? p + 3 : base;
}

/*
 * raw_iam_token
 *		Fetch one project-scoped IAM token with the mock user's password, as
 *		the worker does for a password mapping; returns X-Subject-Token.
 */
char *
raw_iam_token(CURL *curl, const char *base)
{
	struct curl_slist *h = NULL;
	RawHeader	subject = {"X-Subject-Token", NULL};
	char		url[256];
	CURLcode	rc;
	static const char body[] =
	"{\"auth\":{\"identity\":{\"methods\":[\"password\"],\"password\":{\"user\":"
	"{\"domain\":{\"name\":\"" BENCH_HW_DOMAIN "\"},\"name\":\"" BENCH_HW_USER
	"\",\"password\":\"" BENCH_HW_PASSWORD "\"}}},\"scope\":{\"project\":"
	"{\"id\":\"" BENCH_HW_PROJECT "\"}}}}";

	snprintf(url, sizeof(url), "%s/v3/auth/tokens", base);
	h = curl_slist_append(h, "Content-Type: application/json;charset=utf8");
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(body));
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_sink);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &subject);
	reset_body(curl);
	rc = curl_easy_perform(curl);
	check_answer(curl, rc, 201, "raw IAM token request");
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, NULL);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	if (subject.value == NULL || subject.value[0] == '\0')
		bench_fail("raw IAM token request: no X-Subject-Token\n");
	return subject.value;
}

/*
 * raw_huawei_post
 *		One postpaid-resize to PROFESSIONAL for instance_id, authenticated
 *		with X-Auth-Token token or signed with the mock's AK/SK (the headers
 *		the worker signs: host, content-type, x-project-id, x-sdk-date).
 *		Returns the ms the transfer took.  The mock answers 202.
 */
double
raw_huawei_post(CURL *curl, const char *base, BenchHwAuth auth,
				const char *token, const char *instance_id)
{
	struct curl_slist *h = NULL;
	const char *host = base_host(base);
	StringInfoData path,
				url,
				line;
	double		t;
	CURLcode	rc;

	initStringInfo(&path);
	initStringInfo(&url);
	initStringInfo(&line);
	appendStringInfo(&path, "/v2/%s/apigw/instances/%s/postpaid-resize",
					 BENCH_HW_PROJECT, instance_id);
	appendStringInfo(&url, "%s%s", base, path.data);

	appendStringInfo(&line, "Host: %s", host);
	h = curl_slist_append(h, line.data);
	h = curl_slist_append(h, "Content-Type: " HW_JSON_TYPE);
	h = curl_slist_append(h, "Accept: application/json");
	h = curl_slist_append(h, "Expect:");
	if (auth == BENCH_HW_AKSK)
	{
		char		date[32];
		time_t		now = time(NULL);
		GwKV		hv[4];
		StringInfoData cr,
					sh,
					authz;

		strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", gmtime(&now));
		hv[0] = (GwKV) {"host", host};
		hv[1] = (GwKV) {"content-type", HW_JSON_TYPE};
		hv[2] = (GwKV) {"x-project-id", BENCH_HW_PROJECT};
		hv[3] = (GwKV) {"x-sdk-date", date};
		initStringInfo(&cr);
		initStringInfo(&sh);
		initStringInfo(&authz);
		gw_sdk_canonical_request(&cr, &sh, "POST", path.data, NULL, 0, hv, 4,
								 HW_BODY, strlen(HW_BODY));
		gw_sdk_authorization(&authz, BENCH_HW_AK, BENCH_HW_SK, date,
							 cr.data, sh.data);
		h = curl_slist_append(h, "X-Project-Id: " BENCH_HW_PROJECT);
		resetStringInfo(&line);
		appendStringInfo(&line, "X-Sdk-Date: %s", date);
		h = curl_slist_append(h, line.data);
		resetStringInfo(&line);
		appendStringInfo(&line, "Authorization: %s", authz.data);
		h = curl_slist_append(h, line.data);
		pfree(cr.data);
		pfree(sh.data);
		pfree(authz.data);
	}
	else
	{
		resetStringInfo(&line);
		appendStringInfo(&line, "X-Auth-Token: %s", token);
		h = curl_slist_append(h, line.data);
	}
	curl_easy_setopt(curl, CURLOPT_URL, url.data);
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, HW_BODY);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) strlen(HW_BODY));
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	reset_body(curl);

	t = bench_now_ms();
	rc = curl_easy_perform(curl);
	t = bench_now_ms() - t;
	check_answer(curl, rc, 202, "raw Huawei POST");

	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(h);
	pfree(path.data);
	pfree(url.data);
	pfree(line.data);
	return t;
}

/*
 * start_capacity_request
 *		Put handle e back on the multi handle with a new signed POST for a
 *		new instance.
 */
static void
start_capacity_request(CURLM *multi, CURL *e, const char *base, long seq)
{
	char		inst[64];
	char	   *url;

	snprintf(inst, sizeof(inst), "cap-%ld", seq);
	url = raw_aliyun_url(base, inst);
	aliyun_prepare(e, url);		/* libcurl copies the URL */
	pfree(url);
	curl_multi_add_handle(multi, e);
}

/*
 * raw_capacity
 *		What the mock can take: nconn connections each sending signed
 *		ModifyInstanceSpec POSTs back to back (curl multi).  Answers that
 *		finish in the first warm_s seconds (TLS handshakes) are not counted;
 *		returns the answers per second in the next window_s seconds, and
 *		their count in *done.
 */
double
raw_capacity(const char *base, const char *ca_file, int nconn,
			 double warm_s, double window_s, long *done)
{
	static long seq = 0;		/* instances cap-<seq>, new in every run */
	CURLM	   *multi = curl_multi_init();
	CURL	  **h = palloc(sizeof(CURL *) * nconn);
	double		t0 = bench_now_ms();
	double		t_warm = t0 + warm_s * 1000.0;
	double		t_end = t_warm + window_s * 1000.0;
	long		counted = 0;
	int			inflight = 0;
	int			i;

	curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long) nconn);
	for (i = 0; i < nconn; i++)
	{
		h[i] = raw_handle(ca_file);
		start_capacity_request(multi, h[i], base, ++seq);
		inflight++;
	}
	while (inflight > 0)
	{
		int			running = 0;
		int			left = 0;
		CURLMsg    *msg;
		CURLMcode	mc;

		mc = curl_multi_perform(multi, &running);
		if (mc != CURLM_OK)
			bench_fail("curl_multi_perform: %s\n", curl_multi_strerror(mc));
		while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		{
			CURL	   *e = msg->easy_handle;
			double		t = bench_now_ms();

			if (msg->msg != CURLMSG_DONE)
				continue;
			check_answer(e, msg->data.result, 200, "raw Alibaba POST (capacity)");
			curl_multi_remove_handle(multi, e);
			inflight--;
			if (t >= t_warm && t <= t_end)
				counted++;
			if (t < t_end)
			{
				start_capacity_request(multi, e, base, ++seq);
				inflight++;
			}
		}
		if (inflight > 0)
			curl_multi_poll(multi, NULL, 0, 100, NULL);
	}
	curl_multi_cleanup(multi);
	for (i = 0; i < nconn; i++)
		raw_close(h[i]);
	pfree(h);
	*done = counted;
	return counted / window_s;
}
