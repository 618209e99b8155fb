/*-------------------------------------------------------------------------
 *
 * bench.h
 *	  Shared declarations of the gwresize benchmark (make bench): clocks and
 *	  statistics, libpq helpers that end the run on any failure, the raw
 *	  libcurl baselines (raw.c) and the queue measurements (queue.c).
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_BENCH_H
#define GW_BENCH_H

#include <curl/curl.h>
#include <libpq-fe.h>

/* the mock's built-in credentials (test/mock/README.md) */
#define BENCH_ALI_AK		"LTAIbenchkey"
#define BENCH_ALI_SECRET	"benchsecret"
#define BENCH_HW_TOKEN		"hw-static-token-0001"
#define BENCH_HW_AK			"HWTESTAK0001"
#define BENCH_HW_SK			"hwTestSecretKey0001"
#define BENCH_HW_USER		"testuser"
#define BENCH_HW_PASSWORD	"testPassword!1"
#define BENCH_HW_DOMAIN		"testdomain"
#define BENCH_HW_PROJECT	"proj0001"
#define BENCH_HW_SPEC		"PROFESSIONAL"

/* A median and a 95th percentile, in the unit of the samples */
typedef struct BenchDist
{
	double		med;
	double		p95;
} BenchDist;

/* How a raw Huawei POST authenticates */
typedef enum BenchHwAuth
{
	BENCH_HW_XAUTH,				/* X-Auth-Token: a static or an IAM token */
	BENCH_HW_AKSK				/* SDK-HMAC-SHA256 signature */
} BenchHwAuth;

/* bench.c */
extern double bench_now_ms(void);
extern int64 bench_wall_us(void);
extern BenchDist bench_dist(double *v, int n);
/* noreturn: a prefix from PostgreSQL 18 (pg_noreturn), a suffix before */
#ifdef pg_noreturn
extern pg_noreturn void bench_fail(const char *fmt,...) pg_attribute_printf(1, 2);
#else
extern void bench_fail(const char *fmt,...) pg_attribute_printf(1, 2) pg_attribute_noreturn();
#endif
extern PGresult *bench_query(PGconn *conn, const char *sql);
extern void bench_exec(PGconn *conn, const char *sql);
extern long long bench_query_int(PGconn *conn, const char *sql);
extern bool bench_ok_status(const char *status);

/* raw.c */
extern CURL *raw_handle(const char *ca_file);
extern void raw_close(CURL *curl);
extern char *raw_aliyun_url(const char *base, const char *instance_id);
extern double raw_aliyun_post(CURL *curl, const char *base, const char *instance_id);
extern char *raw_iam_token(CURL *curl, const char *base);
extern double raw_huawei_post(CURL *curl, const char *base, BenchHwAuth auth,
							  const char *token, const char *instance_id);
extern double raw_capacity(const char *base, const char *ca_file, int nconn,
						   double warm_s, double window_s, long *done);

/* queue.c */
extern int	queue_worker_pid(PGconn *conn);
extern long queue_rss_kb(int pid);
extern int	queue_fd_count(int pid);
extern void queue_commit_to_sent(PGconn *conn, int n, int warm, double *lat_ms);
extern void queue_notify_baseline(PGconn *conn, const char *conninfo, int n,
								  int warm, double *lat_ms);
extern double queue_drain(PGconn *conn, int n, double *enqueue_s,
						  double *span_s, double *pause_s);

#endif							/* GW_BENCH_H */
