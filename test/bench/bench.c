/*-------------------------------------------------------------------------
 *
 * bench.c
 *	  How much a synchronous gw_modify_spec() costs beside its parts, in one
 *	  run against the mock over HTTPS:
 *	    - the SQL call, end to end (libpq);
 *	    - a raw libcurl POST of the same call (signed with src/sign.c, fresh
 *	      nonce) to the same endpoint on a reused connection: the mock does
 *	      the same work for it;
 *	    - two durable commits (the worker commits the row twice).
 *	  Prints median and p95 of each and the ratio call / (POST + 2 commits).
 *
 * Usage: bench CONNINFO HTTPS_URL CA_FILE [N]
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <time.h>

#include <curl/curl.h>
#include <libpq-fe.h>

#include "sign.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static int
cmp(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

static void
stats(const char *name, double *v, int n, double *med, double *p95)
{
	qsort(v, n, sizeof(double), cmp);
	*med = v[n / 2];
	*p95 = v[(int) (n * 0.95)];
	printf("%-38s median %7.3f ms   p95 %7.3f ms\n", name, *med, *p95);
}

static size_t
sink(char *p, size_t s, size_t n, void *u)
{
	return s * n;
}

/* a signed RPC ModifyInstanceSpec URL for instance i */
static char *
signed_url(const char *base, int i)
{
	char		inst[64],
				tok[64],
				nonce[33],
				ts[32];
	time_t		now = time(NULL);
	GwKV		kv[14];
	int			n = 0;
	StringInfoData sts,
				sig,
				url;

	snprintf(inst, sizeof(inst), "bench-raw-%d", i);
	snprintf(tok, sizeof(tok), "bench-raw-token-%d-%ld", i, (long) now);
	gw_random_hex(nonce, 16);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	kv[n++] = (GwKV) {"Action", "ModifyInstanceSpec"};
	kv[n++] = (GwKV) {"Version", "2016-07-14"};
	kv[n++] = (GwKV) {"Format", "JSON"};
	kv[n++] = (GwKV) {"AccessKeyId", "LTAIbenchkey"};
	kv[n++] = (GwKV) {"SignatureMethod", "HMAC-SHA1"};
	kv[n++] = (GwKV) {"SignatureVersion", "1.0"};
	kv[n++] = (GwKV) {"SignatureNonce", nonce};
	kv[n++] = (GwKV) {"Timestamp", ts};
	kv[n++] = (GwKV) {"InstanceId", inst};
	kv[n++] = (GwKV) {"InstanceSpec", "api.s1.medium"};
	kv[n++] = (GwKV) {"Token", tok};
	kv[n++] = (GwKV) {"ModifyAction", "UPGRADE"};
	kv[n++] = (GwKV) {"AutoPay", "false"};
	kv[n++] = (GwKV) {"SkipWaitSwitch", "false"};
	initStringInfo(&sts);
	initStringInfo(&sig);
	initStringInfo(&url);
	gw_acs_rpc_string_to_sign(&sts, "POST", kv, n);
	gw_acs_rpc_signature(&sig, "benchsecret", sts.data);
	appendStringInfo(&url, "%s?", base);
	gw_canonical_query(&url, kv, n);
	appendStringInfoString(&url, "&Signature=");
	gw_uri_encode(&url, sig.data);
	return url.data;
}

static void
must(PGresult *r, PGconn *c)
{
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "query failed: %s", PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
}

int
main(int argc, char **argv)
{
	int			n = argc > 4 ? atoi(argv[4]) : 300;
	double	   *call = malloc(sizeof(double) * n),
			   *post = malloc(sizeof(double) * n),
			   *commit2 = malloc(sizeof(double) * n);
	double		cm,
				cp,
				pm,
				pp,
				km,
				kp;
	PGconn	   *conn = PQconnectdb(argv[1]);
	CURL	   *curl;
	struct curl_slist *h = NULL;
	int			i;
	char		sql[256];

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "%s", PQerrorMessage(conn));
		return 1;
	}
	must(PQexec(conn, "CREATE TABLE IF NOT EXISTS bench_commit (i int, t text)"), conn);
	must(PQexec(conn, "SET synchronous_commit = on"), conn);

	/* warm up: connections, TLS sessions, caches */
	for (i = 0; i < 20; i++)
	{
		snprintf(sql, sizeof(sql),
				 "SELECT status FROM gw_modify_spec('bench-warm-%d', 'api.s1.medium', server => 'bench')", i);
		must(PQexec(conn, sql), conn);
	}

	for (i = 0; i < n; i++)
	{
		double		t = now_ms();

		snprintf(sql, sizeof(sql),
				 "SELECT status FROM gw_modify_spec('bench-%d', 'api.s1.medium', server => 'bench')", i);
		must(PQexec(conn, sql), conn);
		call[i] = now_ms() - t;
	}

	curl_global_init(CURL_GLOBAL_ALL);
	curl = curl_easy_init();
	h = curl_slist_append(h, "Content-Type:");
	curl_easy_setopt(curl, CURLOPT_POST, 1L);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(curl, CURLOPT_CAINFO, argv[3]);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sink);
	for (i = 0; i < n + 20; i++)
	{
		char	   *url = signed_url(argv[2], i);
		double		t = now_ms();
		long		code = 0;

		curl_easy_setopt(curl, CURLOPT_URL, url);
		if (curl_easy_perform(curl) != CURLE_OK ||
			curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
			code != 200)
		{
			fprintf(stderr, "raw POST failed (HTTP %ld)\n", code);
			return 1;
		}
		if (i >= 20)			/* the first 20 warm up */
			post[i - 20] = now_ms() - t;
	}

	for (i = 0; i < n; i++)
	{
		double		t = now_ms();

		must(PQexec(conn, "INSERT INTO bench_commit VALUES (1, 'sending')"), conn);
		must(PQexec(conn, "INSERT INTO bench_commit VALUES (1, 'accepted')"), conn);
		commit2[i] = now_ms() - t;
	}

	printf("gwresize bench: %d calls each, mock over HTTPS on 127.0.0.1\n", n);
	stats("SELECT gw_modify_spec(...)", call, n, &cm, &cp);
	stats("raw libcurl POST (same call, signed)", post, n, &pm, &pp);
	stats("two durable commits", commit2, n, &km, &kp);
	printf("baseline (POST + 2 commits)             median %7.3f ms   p95 %7.3f ms\n",
		   pm + km, pp + kp);
	printf("ratio call / baseline                   median %7.2f      p95 %7.2f\n",
		   cm / (pm + km), cp / (pp + kp));
	PQfinish(conn);
	return 0;
}
