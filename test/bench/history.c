/*-------------------------------------------------------------------------
 *
 * history.c
 *	  Report timings on a year of history (make bench): fills gw_audit of a
 *	  scratch database with 1,000,000 finished rows for 2,000 instances
 *	  over a year, then times the queries a manager runs against the views,
 *	  printing each median beside its target.
 *
 *	  history CONNINFO [ROWS]
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#define RUNS 5

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void
run(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "history: %s\n%s", sql, PQerrorMessage(conn));
		exit(1);
	}
	PQclear(res);
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return x < y ? -1 : x > y;
}

/* the median of RUNS timings of sql, after one warm-up run */
static double
time_query(PGconn *conn, const char *sql, long *rows)
{
	double		t[RUNS];
	int			i;

	for (i = -1; i < RUNS; i++)
	{
		double		t0 = now_ms();
		PGresult   *res = PQexec(conn, sql);

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			fprintf(stderr, "history: %s\n%s", sql, PQerrorMessage(conn));
			exit(1);
		}
		if (i >= 0)
			t[i] = now_ms() - t0;
		*rows = PQntuples(res);
		PQclear(res);
	}
	qsort(t, RUNS, sizeof(double), cmp_double);
	return t[RUNS / 2];
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	long		nrows = argc > 2 ? atol(argv[2]) : 1000000;
	char		sql[4096];
	double		t0;
	long		rows;
	struct
	{
		const char *what;
		const char *sql;
		double		target_ms;
	}			q[] = {
		{"gw_history, the last hour", "SELECT * FROM gw_history WHERE requested_at >= now() - interval '1 hour'", 500},
		{"gw_history, one instance", "SELECT * FROM gw_history WHERE instance_id = 'bench-gw-0042' ORDER BY requested_at", 100},
		{"gw_summary", "SELECT * FROM gw_summary", 5000},
		{"report: month by provider",
			"SELECT provider, count(*), count(*) FILTER (WHERE outcome = 'succeeded') FROM gw_history"
			" WHERE requested_at >= date_trunc('month', now()) GROUP BY provider", 5000},
		{"report: who resized what last week",
			"SELECT requested_by, instance_id, from_spec, to_spec, outcome FROM gw_history"
			" WHERE requested_at >= now() - interval '7 days' ORDER BY id", 500},
	};
	int			i;

	if (argc < 2)
	{
		fprintf(stderr, "usage: history CONNINFO [ROWS]\n");
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "history: %s", PQerrorMessage(conn));
		return 1;
	}

	/*
	 * A year of finished rows: instances bench-gw-0000 .. 1999, a call every
	 * 31.5 s (1,000,000 a year), both providers, the outcomes a real fleet
	 * sees.  Written directly as the superuser: the worker acts on none.
	 */
	t0 = now_ms();
	run(conn, "TRUNCATE gw_audit");
	snprintf(sql, sizeof(sql),
			 "INSERT INTO gw_audit (provider, server_name, instance_id, target_spec, from_spec,"
			 " params, client_token, mode, status, attempts, requested_by, requested_at, sent_at,"
			 " answered_at, finished_at, http_status, request_id, error_code, error_message)"
			 " SELECT p, CASE WHEN p = 'aliyun' THEN 'ali' ELSE 'hw' END,"
			 "  'bench-gw-' || lpad((i %% 2000)::text, 4, '0'),"
			 "  CASE WHEN p = 'aliyun' THEN 'api.s1.large' ELSE 'ENTERPRISE' END,"
			 "  CASE WHEN p = 'aliyun' THEN 'api.s1.small' ELSE 'BASIC' END,"
			 "  jsonb_build_object('ModifyAction', CASE WHEN i %% 3 = 0 THEN 'DOWNGRADE' ELSE 'UPGRADE' END),"
			 "  CASE WHEN p = 'aliyun' THEN md5(i::text) END, 'sync', st, 1,"
			 "  CASE WHEN i %% 4 = 0 THEN 'cron' ELSE 'ops' END, t, t + interval '10 ms',"
			 "  t + interval '300 ms', t + interval '6 minutes',"
			 "  CASE WHEN st = 'failed' THEN 400 ELSE 200 END, md5(i::text),"
			 "  CASE st WHEN 'failed' THEN 'InvalidInstanceSpec' WHEN 'resize_failed' THEN 'ResizeFailed' END,"
			 "  CASE WHEN st IN ('failed', 'resize_failed') THEN 'bench' END"
			 " FROM (SELECT i, CASE WHEN i %% 2 = 0 THEN 'aliyun' ELSE 'huawei' END AS p,"
			 "  (ARRAY['succeeded', 'succeeded', 'succeeded', 'succeeded', 'unchanged',"
			 "   'failed', 'resize_failed', 'succeeded'])[1 + i %% 8] AS st,"
			 "  now() - i * (interval '1 year' / %ld) AS t"
			 " FROM generate_series(1, %ld) i) s",
			 nrows, nrows);
	run(conn, sql);
	run(conn, "VACUUM ANALYZE gw_audit");
	printf("history: %ld rows for 2,000 instances over a year written in %.1f s\n",
		   nrows, (now_ms() - t0) / 1000.0);

	printf("%-36s %10s %10s %8s\n", "query", "median ms", "target ms", "rows");
	for (i = 0; i < (int) (sizeof(q) / sizeof(q[0])); i++)
	{
		double		ms = time_query(conn, q[i].sql, &rows);

		printf("%-36s %10.1f %10.0f %8ld%s\n", q[i].what, ms, q[i].target_ms, rows,
			   ms <= q[i].target_ms ? "" : "  (over target)");
	}
	run(conn, "TRUNCATE gw_audit");
	PQfinish(conn);
	return 0;
}
