/*-------------------------------------------------------------------------
 *
 * bench.c
 *	  What gwresize's calls cost beside their parts, in one run against the
 *	  mock cloud over HTTPS (make bench):
 *
 *	  Synchronous calls, each against a new instance, each beside a raw
 *	  libcurl POST of the same request on a reused connection (raw.c) and
 *	  two durable commits (the worker commits the row twice).  The SQL
 *	  calls of the series take turns, so none meets a busier worker:
 *	    - gw_modify_spec() (Alibaba, classic RPC signature);
 *	    - gw_resize() (Huawei) with a static auth_token, with AK/SK signing,
 *	      and with a password mapping (the worker fetches one IAM token and
 *	      caches it; the raw POST uses one IAM token too).
 *	  Each row: median and p95 of the call, of the raw POST, of POST + 2
 *	  commits, and the ratio call / (POST + 2 commits).
 *
 *	  Queued calls (queue.c):
 *	    - draining thousands of gw_modify_spec_async() queued by one
 *	      transaction, in calls per second, beside what the mock takes
 *	      alone from raw POSTs on several connections at once;
 *	    - commit -> sent_at of a single queued call, beside a NOTIFY;
 *	    - the worker's private memory (RssAnon) and open file descriptors before and after the
 *	      drain.
 *
 * It asserts nothing, but exits 1 as soon as any call or request fails.
 *
 * Usage: bench CONNINFO HTTPS_BASE_URL CA_FILE [N [DRAIN_N [LAT_N]]]
 *	  HTTPS_BASE_URL is the mock's, without a trailing slash; the servers
 *	  bench and ali_role (aliyun), hw_token, hw_aksk, hw_pwd and hw_agency
 *	  (huawei) must exist
 *	  with the current user mapped (scripts/bench.sh creates them).
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <time.h>
#include <unistd.h>

#include "bench.h"

#define WARM			20		/* untimed rounds before the timed ones */
#define CAPACITY_WARM_S	0.5		/* per mock-capacity run: not counted, */
#define CAPACITY_S		3.0		/* then counted */

/*
 * Connections of the mock-capacity runs: 8, and 16, the most the worker
 * uses (gwresize.max_connections' default); the best run is the baseline.
 */
static const int capacity_conns[] = {8, 16};

#define NCAPACITY lengthof(capacity_conns)

/* How a series' raw baseline is sent */
typedef enum RawKind
{
	RAW_ALIYUN,					/* RPC-signed ModifyInstanceSpec */
	RAW_HW_STATIC,				/* X-Auth-Token: the static token */
	RAW_HW_AKSK,				/* SDK-HMAC-SHA256 */
	RAW_HW_IAM					/* X-Auth-Token: one IAM token */
} RawKind;

/* One synchronous series: the SQL call and its raw POST */
typedef struct Series
{
	const char *label;
	const char *func;
	const char *spec;
	const char *server;
	const char *prefix;			/* instance ids: prefix-<i> */
	RawKind		raw;
	double	   *call_ms;		/* the timed calls */
	double	   *post_ms;		/* the timed raw POSTs */
	BenchDist	call;
	BenchDist	post;
} Series;

static Series series[] = {
	{"gw_modify_spec  Alibaba RPC", "gw_modify_spec", "api.s1.medium", "bench", "ali", RAW_ALIYUN},
	{"gw_resize  auth_token", "gw_resize", BENCH_HW_SPEC, "hw_token", "hwtok", RAW_HW_STATIC},
	{"gw_resize  AK/SK", "gw_resize", BENCH_HW_SPEC, "hw_aksk", "hwaksk", RAW_HW_AKSK},
	{"gw_resize  password (IAM)", "gw_resize", BENCH_HW_SPEC, "hw_pwd", "hwpwd", RAW_HW_IAM},
	/* temporary credentials, cached by the worker: the baseline is a key */
	{"gw_modify_spec  ECS RAM role", "gw_modify_spec", "api.s1.medium", "ali_role", "alirole", RAW_ALIYUN},
	{"gw_resize  ECS agency", "gw_resize", BENCH_HW_SPEC, "hw_agency", "hwagency", RAW_HW_AKSK},
};

#define NSERIES lengthof(series)

/*
 * bench_now_ms
 *		A monotonic clock in ms, for durations.
 */
double
bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/*
 * bench_wall_us
 *		The wall clock in microseconds since the epoch: the clock the
 *		server's clock_timestamp() reads.
 */
int64
bench_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* qsort comparator for doubles */
static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * bench_dist
 *		Median and p95 of v[0..n-1] (sorted in place).
 */
BenchDist
bench_dist(double *v, int n)
{
	BenchDist	d;

	qsort(v, n, sizeof(double), cmp_double);
	d.med = v[n / 2];
	d.p95 = v[Min(n - 1, (int) (n * 0.95))];
	return d;
}

/*
 * bench_fail
 *		Say what failed and end the run with status 1.
 */
void
bench_fail(const char *fmt,...)
{
	va_list		ap;

	fflush(stdout);
	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	exit(1);
}

/*
 * bench_query
 *		Run sql; the result, or the end of the run if it failed.
 */
PGresult *
bench_query(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		PQresultStatus(res) != PGRES_TUPLES_OK)
		bench_fail("query failed: %s\n  %s\n", PQerrorMessage(conn), sql);
	return res;
}

/*
 * bench_exec
 *		Run sql and drop its result.
 */
void
bench_exec(PGconn *conn, const char *sql)
{
	PQclear(bench_query(conn, sql));
}

/*
 * bench_query_int
 *		Run sql, which must return one non-null integer.
 */
long long
bench_query_int(PGconn *conn, const char *sql)
{
	PGresult   *res = bench_query(conn, sql);
	long long	v;

	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		bench_fail("expected one value, got %d rows: %s\n", PQntuples(res), sql);
	v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/*
 * bench_ok_status
 *		Did a call with this gw_audit status go through: accepted by the
 *		provider, or already tracked to the end of the resize?
 */
bool
bench_ok_status(const char *status)
{
	return strcmp(status, "accepted") == 0 || strcmp(status, "succeeded") == 0;
}

/*
 * run_calls
 *		WARM + n synchronous calls of every series, one new instance each,
 *		taking the series in turn (call i of each, then call i + 1), so that
 *		all see the same worker and mock state; the last n of each are
 *		timed into its call_ms.  Every call must go through.
 */
static void
run_calls(PGconn *conn, int n)
{
	int			i,
				k;

	for (i = 0; i < WARM + n; i++)
		for (k = 0; k < (int) NSERIES; k++)
		{
			Series	   *s = &series[k];
			char		sql[256];
			double		t;
			PGresult   *res;

			snprintf(sql, sizeof(sql),
					 "SELECT status FROM %s('%s-%d', '%s', server => '%s')",
					 s->func, s->prefix, i, s->spec, s->server);
			t = bench_now_ms();
			res = bench_query(conn, sql);
			t = bench_now_ms() - t;
			if (PQntuples(res) != 1 || !bench_ok_status(PQgetvalue(res, 0, 0)))
				bench_fail("%s: status %s\n", sql,
						   PQntuples(res) ? PQgetvalue(res, 0, 0) : "(none)");
			PQclear(res);
			if (i >= WARM)
				s->call_ms[i - WARM] = t;
		}
}

/*
 * run_posts
 *		For every series in turn, WARM + n raw POSTs of its request back to
 *		back on one connection, one new instance each (raw POSTs do not
 *		depend on the worker: the tightest baseline is an unbroken run).
 *		The last n of each are timed into its post_ms.
 */
static void
run_posts(const char *base, const char *ca_file, int n)
{
	char	   *iam_token;
	CURL	   *iam = raw_handle(ca_file);
	int			i,
				k;

	/* the password series' raw POSTs carry one IAM token, as the worker's */
	iam_token = raw_iam_token(iam, base);
	raw_close(iam);

	for (k = 0; k < (int) NSERIES; k++)
	{
		Series	   *s = &series[k];
		CURL	   *curl = raw_handle(ca_file);

		for (i = 0; i < WARM + n; i++)
		{
			char		inst[64];
			double		t = 0;

			snprintf(inst, sizeof(inst), "%s-raw-%d", s->prefix, i);
			switch (s->raw)
			{
				case RAW_ALIYUN:
					t = raw_aliyun_post(curl, base, inst);
					break;
				case RAW_HW_STATIC:
					t = raw_huawei_post(curl, base, BENCH_HW_XAUTH,
										BENCH_HW_TOKEN, inst);
					break;
				case RAW_HW_AKSK:
					t = raw_huawei_post(curl, base, BENCH_HW_AKSK, NULL, inst);
					break;
				case RAW_HW_IAM:
					t = raw_huawei_post(curl, base, BENCH_HW_XAUTH,
										iam_token, inst);
					break;
			}
			if (i >= WARM)
				s->post_ms[i - WARM] = t;
		}
		raw_close(curl);
	}
	pfree(iam_token);
}

/*
 * run_commits
 *		n times two durable single-row commits, as the worker makes per
 *		synchronous call; times of each pair into out.
 */
static void
run_commits(PGconn *conn, int n, double *out)
{
	int			i;

	bench_exec(conn, "CREATE TABLE IF NOT EXISTS bench_commit (i int, t text)");
	bench_exec(conn, "SET synchronous_commit = on");
	for (i = 0; i < n; i++)
	{
		double		t = bench_now_ms();

		bench_exec(conn, "INSERT INTO bench_commit VALUES (1, 'sending')");
		bench_exec(conn, "INSERT INTO bench_commit VALUES (1, 'accepted')");
		out[i] = bench_now_ms() - t;
	}
}

/* a number of kB, or "n/a" when /proc could not be read */
static char *
kb_text(long kb)
{
	return kb < 0 ? pstrdup("n/a") : psprintf("%ld kB", kb);
}

/* a count, or "n/a" */
static char *
count_text(long n)
{
	return n < 0 ? pstrdup("n/a") : psprintf("%ld", n);
}

/* the change between two counts that may be missing (-1) */
static char *
delta_text(long before, long after, const char *unit)
{
	return (before < 0 || after < 0) ? pstrdup("n/a") :
		psprintf("%+ld%s", after - before, unit);
}

/*
 * main
 *		Run every measurement, then print the tables and the summary.
 *		Nothing is printed before the end: a failure leaves only its
 *		message, on stderr, and status 1.
 */
int
main(int argc, char **argv)
{
	const char *conninfo,
			   *base,
			   *ca_file;
	int			n,
				drain_n,
				lat_n;
	double	   *buf,
			   *buf2;
	BenchDist	commits,
				lat,
				notify;
	double		capacity[NCAPACITY],
				best = 0,
				drain_s,
				enqueue_s,
				span_s,
				pause_s,
				drain_rate;
	long		capacity_done[NCAPACITY];
	int			pid;
	long		rss_before,
				rss_after;
	int			fd_before,
				fd_after;
	PGconn	   *conn;
	int			i;

	if (argc < 4)
	{
		fprintf(stderr, "usage: %s CONNINFO HTTPS_BASE_URL CA_FILE [N [DRAIN_N [LAT_N]]]\n",
				argv[0]);
		return 2;
	}
	conninfo = argv[1];
	base = argv[2];
	ca_file = argv[3];
	n = argc > 4 ? atoi(argv[4]) : 300;
	drain_n = argc > 5 ? atoi(argv[5]) : 5000;
	lat_n = argc > 6 ? atoi(argv[6]) : 200;
	if (n < 1 || drain_n < 1 || lat_n < 1)
		bench_fail("N, DRAIN_N and LAT_N must be positive\n");
	buf = palloc(sizeof(double) * Max(n, lat_n));
	buf2 = palloc(sizeof(double) * lat_n);

	curl_global_init(CURL_GLOBAL_ALL);
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK)
		bench_fail("%s", PQerrorMessage(conn));

	/* synchronous calls, then their raw POSTs, then the commits */
	for (i = 0; i < (int) NSERIES; i++)
	{
		series[i].call_ms = palloc(sizeof(double) * n);
		series[i].post_ms = palloc(sizeof(double) * n);
	}
	run_calls(conn, n);
	run_posts(base, ca_file, n);
	for (i = 0; i < (int) NSERIES; i++)
	{
		series[i].call = bench_dist(series[i].call_ms, n);
		series[i].post = bench_dist(series[i].post_ms, n);
	}
	run_commits(conn, n, buf);
	commits = bench_dist(buf, n);

	/* one queued call at a time, and a NOTIFY likewise */
	queue_commit_to_sent(conn, lat_n, WARM, buf);
	lat = bench_dist(buf, lat_n);
	queue_notify_baseline(conn, conninfo, lat_n, WARM, buf2);
	notify = bench_dist(buf2, lat_n);

	/* what the mock takes alone, then the drain with the worker watched */
	for (i = 0; i < (int) NCAPACITY; i++)
	{
		capacity[i] = raw_capacity(base, ca_file, capacity_conns[i],
								   CAPACITY_WARM_S, CAPACITY_S, &capacity_done[i]);
		best = Max(best, capacity[i]);
	}
	pid = queue_worker_pid(conn);
	rss_before = queue_rss_kb(pid);
	fd_before = queue_fd_count(pid);
	drain_s = queue_drain(conn, drain_n, &enqueue_s, &span_s, &pause_s);
	if (queue_worker_pid(conn) != pid)
		bench_fail("the gwresize worker restarted during the drain\n");
	rss_after = queue_rss_kb(pid);
	fd_after = queue_fd_count(pid);
	drain_rate = drain_n / drain_s;

	/* the report */
	printf("gwresize bench: the mock cloud over HTTPS on 127.0.0.1, %ld CPUs\n\n",
		   sysconf(_SC_NPROCESSORS_ONLN));
	printf("Synchronous calls: %d per row after %d warm-up (SQL calls of the rows in turn),\n"
		   "each on a new instance; ms\n", n, WARM);
	printf("%-28s %17s %17s %17s %15s\n", "", "SQL call", "raw POST",
		   "POST + 2 commits", "call/baseline");
	printf("%-28s %8s %8s %8s %8s %8s %8s %7s %7s\n", "",
		   "median", "p95", "median", "p95", "median", "p95", "median", "p95");
	for (i = 0; i < (int) NSERIES; i++)
	{
		Series	   *s = &series[i];
		double		bm = s->post.med + commits.med,
					bp = s->post.p95 + commits.p95;

		printf("%-28s %8.3f %8.3f %8.3f %8.3f %8.3f %8.3f %7.2f %7.2f\n",
			   s->label, s->call.med, s->call.p95, s->post.med, s->post.p95,
			   bm, bp, s->call.med / bm, s->call.p95 / bp);
	}
	printf("%-28s %8.3f %8.3f   (two INSERT ... COMMITs, synchronous_commit on)\n",
		   "two durable commits", commits.med, commits.p95);

	printf("\nQueued calls\n");
	printf("%-42s %-28s %s\n", "", "measured", "baseline");
	printf("%-42s %-28s %s\n", psprintf("drain %d queued by one transaction", drain_n),
		   psprintf("%.0f calls/s (%.2f s)", drain_rate, drain_s),
		   "the mock alone, raw signed POSTs:");
	for (i = 0; i < (int) NCAPACITY; i++)
		printf("%-42s %-28s %s\n",
			   i == 0 ? "  (from its COMMIT to none queued/sending)" : "", "",
			   psprintf("  %.0f req/s on %d connections (%ld in %.1f s)",
						capacity[i], capacity_conns[i], capacity_done[i],
						CAPACITY_S));
	printf("%-42s %.2f s\n", "  queuing them", enqueue_s);
	printf("%-42s %.2f s\n", "  first sent_at to last answered_at", span_s);
	printf("%-42s %.3f s\n", "  longest pause between two sent_at", pause_s);
	printf("%-42s %-28s %s\n", psprintf("COMMIT -> sent_at, 1 queued call (n=%d)", lat_n),
		   psprintf("median %.3f  p95 %.3f ms", lat.med, lat.p95),
		   psprintf("median %.3f  p95 %.3f ms: NOTIFY,", notify.med, notify.p95));
	printf("%-42s %-28s %s\n", "", "", "  COMMIT to a listening client");
	printf("%-42s %-28s %s before (%s)\n", "worker private memory (RssAnon), drain",
		   psprintf("%s after", kb_text(rss_after)), kb_text(rss_before),
		   delta_text(rss_before, rss_after, " kB"));
	printf("%-42s %-28s %s before (%s)\n", "worker open file descriptors, same",
		   psprintf("%s after", count_text(fd_after)), count_text(fd_before),
		   delta_text(fd_before, fd_after, ""));

	printf("\nSummary\n");
	for (i = 0; i < (int) NSERIES; i++)
	{
		Series	   *s = &series[i];

		printf("  %-32s %7.3f ms median, %5.2fx raw POST + 2 commits (p95 %.3f ms, %.2fx)\n",
			   s->label, s->call.med, s->call.med / (s->post.med + commits.med),
			   s->call.p95, s->call.p95 / (s->post.p95 + commits.p95));
	}
	printf("  %-32s %7.0f calls/s, %.0f%% of the best %.0f req/s the mock took alone"
		   " (longest pause %.3f s)\n",
		   "queue drain", drain_rate, 100.0 * drain_rate / best, best,
		   pause_s);
	printf("  %-32s %7.3f ms median, p95 %.3f ms (NOTIFY: %.3f, p95 %.3f ms)\n",
		   "queue COMMIT -> sent_at", lat.med, lat.p95, notify.med, notify.p95);
	printf("  %-32s RssAnon %s (%s -> %s), open fds %s (%s -> %s)\n",
		   psprintf("worker over %d queued calls", drain_n),
		   delta_text(rss_before, rss_after, " kB"), kb_text(rss_before),
		   kb_text(rss_after), delta_text(fd_before, fd_after, ""),
		   count_text(fd_before), count_text(fd_after));
	printf("  %-32s %d synchronous and %d queued calls went through;"
		   " every raw request answered as expected\n",
		   "no failures", (int) NSERIES * (WARM + n), WARM + lat_n + drain_n);

	PQfinish(conn);
	return 0;
}
