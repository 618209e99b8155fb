/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  The queue measurements of the gwresize benchmark:
 *
 *	    - commit -> sent: one gw_modify_spec_async() in its own transaction;
 *	      from the moment the client has COMMIT's answer to the row's
 *	      sent_at (the worker's clock_timestamp() when it moves the row to
 *	      'sending', just before it sends).  Client and server read the
 *	      same wall clock (one host), so the two compare directly; a
 *	      negative value means the worker got there before the client saw
 *	      its COMMIT return.  Baseline: PostgreSQL's own commit-time
 *	      wake-up, a NOTIFY reaching a listening client, timed the same way
 *	      (the listener runs in a thread, so its arrival time is taken when
 *	      it arrives, even before the COMMIT returns);
 *	    - drain: calls per second the worker sends from a queue of
 *	      thousands committed at once;
 *	    - the worker's resident memory and open file descriptors, read
 *	      from /proc (bench runs as root, or as the server's user).
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <dirent.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>

#include "bench.h"

#define DRAIN_TIMEOUT_MS	120000.0
#define DRAIN_POLL_US		10000
#define NOTIFY_TIMEOUT_S	10

/* What the NOTIFY listener thread shares with the main thread */
typedef struct Listener
{
	PGconn	   *conn;
	int			total;			/* notifications to expect */
	int64	   *arrival_us;		/* wall clock at arrival, by payload */
	int			received;
	bool		failed;
	pthread_mutex_t mutex;
	pthread_cond_t cond;
} Listener;

/*
 * queue_worker_pid
 *		The gwresize worker's process id, from pg_stat_activity.
 */
int
queue_worker_pid(PGconn *conn)
{
	return (int) bench_query_int(conn,
								 "SELECT pid FROM pg_stat_activity"
								 " WHERE backend_type = 'gwresize worker'");
}

/*
 * queue_rss_kb
 *		RssAnon of process pid in kB (its private memory: VmRSS also counts
 *		the shared buffers it touched, which grow with the table), or -1
 *		when /proc does not say.
 */
long
queue_rss_kb(int pid)
{
	char		path[64],
				line[256];
	FILE	   *f;
	long		kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "RssAnon:", 8) == 0)
		{
			kb = atol(line + 8);
			break;
		}
	fclose(f);
	return kb;
}

/*
 * queue_fd_count
 *		How many file descriptors process pid has open, or -1 when
 *		/proc/<pid>/fd cannot be read (another user's process).
 */
int
queue_fd_count(int pid)
{
	char		path[64];
	DIR		   *d;
	struct dirent *de;
	int			n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/*
 * queue_commit_to_sent
 *		warm + n times: queue one call in its own transaction, COMMIT, read
 *		the wall clock, then gw_wait() for the answer and read sent_at.
 *		Fills lat_ms[0..n-1] with sent_at - COMMIT's return, in ms.  Each
 *		call is answered before the next is queued: the worker is idle when
 *		the commit wakes it.  A call that does not go through ends the run.
 */
void
queue_commit_to_sent(PGconn *conn, int n, int warm, double *lat_ms)
{
	int			i;

	for (i = 0; i < warm + n; i++)
	{
		char		sql[256];
		long long	id;
		int64		committed_us;
		PGresult   *res;

		bench_exec(conn, "BEGIN");
		snprintf(sql, sizeof(sql),
				 "SELECT gw_modify_spec_async('lat-%d', 'api.s1.medium', server => 'bench')",
				 i);
		id = bench_query_int(conn, sql);
		bench_exec(conn, "COMMIT");
		committed_us = bench_wall_us();

		snprintf(sql, sizeof(sql),
				 "SELECT status, (extract(epoch FROM sent_at) * 1000000)::bigint,"
				 " coalesce(error_code, ''), coalesce(error_message, '')"
				 " FROM gw_wait(%lld, '30 s')", id);
		res = bench_query(conn, sql);
		if (PQntuples(res) != 1 || !bench_ok_status(PQgetvalue(res, 0, 0)) ||
			PQgetisnull(res, 0, 1))
			bench_fail("queued call %lld (lat-%d) ended %s %s: %s\n", id, i,
					   PQntuples(res) ? PQgetvalue(res, 0, 0) : "?",
					   PQntuples(res) ? PQgetvalue(res, 0, 2) : "",
					   PQntuples(res) ? PQgetvalue(res, 0, 3) : "");
		if (i >= warm)
			lat_ms[i - warm] = (atoll(PQgetvalue(res, 0, 1)) - committed_us) / 1000.0;
		PQclear(res);
	}
}

/*
 * listener_main
 *		The listener thread: wait on the socket, and stamp each notification
 *		(its payload is its index) with the wall clock the moment it is read.
 */
static void *
listener_main(void *arg)
{
	Listener   *l = (Listener *) arg;
	int			sock = PQsocket(l->conn);
	time_t		deadline = time(NULL) + NOTIFY_TIMEOUT_S;

	for (;;)
	{
		struct pollfd pfd = {sock, POLLIN, 0};
		PGnotify   *note;
		bool		done;

		pthread_mutex_lock(&l->mutex);
		done = l->received >= l->total || l->failed;
		pthread_mutex_unlock(&l->mutex);
		if (done)
			break;
		if (time(NULL) > deadline)
		{
			pthread_mutex_lock(&l->mutex);
			l->failed = true;
			pthread_cond_signal(&l->cond);
			pthread_mutex_unlock(&l->mutex);
			break;
		}
		if (poll(&pfd, 1, 100) < 0 || !PQconsumeInput(l->conn))
		{
			pthread_mutex_lock(&l->mutex);
			l->failed = true;
			pthread_cond_signal(&l->cond);
			pthread_mutex_unlock(&l->mutex);
			break;
		}
		while ((note = PQnotifies(l->conn)) != NULL)
		{
			int64		t = bench_wall_us();
			int			idx = atoi(note->extra);

			pthread_mutex_lock(&l->mutex);
			if (idx >= 0 && idx < l->total && l->arrival_us[idx] == 0)
			{
				l->arrival_us[idx] = t;
				l->received++;
				deadline = time(NULL) + NOTIFY_TIMEOUT_S;
			}
			pthread_cond_signal(&l->cond);
			pthread_mutex_unlock(&l->mutex);
			PQfreemem(note);
		}
	}
	return NULL;
}

/*
 * queue_notify_baseline
 *		warm + n times: NOTIFY in its own transaction on conn, COMMIT, read
 *		the wall clock; a second session (its own thread) listens and stamps
 *		arrivals.  Fills lat_ms[0..n-1] with arrival - COMMIT's return.
 */
void
queue_notify_baseline(PGconn *conn, const char *conninfo, int n, int warm,
					  double *lat_ms)
{
	Listener	l;
	pthread_t	thread;
	int64	   *committed_us = palloc0(sizeof(int64) * (warm + n));
	int			i;

	memset(&l, 0, sizeof(l));
	l.total = warm + n;
	l.arrival_us = palloc0(sizeof(int64) * l.total);
	l.conn = PQconnectdb(conninfo);
	if (PQstatus(l.conn) != CONNECTION_OK)
		bench_fail("listener: %s", PQerrorMessage(l.conn));
	bench_exec(l.conn, "LISTEN gw_bench_wake");
	pthread_mutex_init(&l.mutex, NULL);
	pthread_cond_init(&l.cond, NULL);
	if (pthread_create(&thread, NULL, listener_main, &l) != 0)
		bench_fail("could not start the listener thread\n");

	for (i = 0; i < l.total; i++)
	{
		char		sql[128];

		bench_exec(conn, "BEGIN");
		snprintf(sql, sizeof(sql), "SELECT pg_notify('gw_bench_wake', '%d')", i);
		bench_exec(conn, sql);
		bench_exec(conn, "COMMIT");
		committed_us[i] = bench_wall_us();

		/* the next NOTIFY only once this one has arrived */
		pthread_mutex_lock(&l.mutex);
		while (l.arrival_us[i] == 0 && !l.failed)
			pthread_cond_wait(&l.cond, &l.mutex);
		pthread_mutex_unlock(&l.mutex);
		if (l.failed)
			bench_fail("NOTIFY %d never reached the listener\n", i);
	}
	pthread_join(thread, NULL);
	for (i = warm; i < l.total; i++)
		lat_ms[i - warm] = (l.arrival_us[i] - committed_us[i]) / 1000.0;
	PQfinish(l.conn);
	pthread_mutex_destroy(&l.mutex);
	pthread_cond_destroy(&l.cond);
	pfree(l.arrival_us);
	pfree(committed_us);
}

/*
 * queue_drain
 *		Queue n calls in one transaction (instances bulk-1..bulk-n), then
 *		poll until none is queued or sending.  Returns the seconds from the
 *		COMMIT's return to the poll that found the queue empty; *enqueue_s
 *		is how long the queuing transaction took, *span_s the first sent_at
 *		to the last answered_at in gw_audit, *pause_s the longest time
 *		between two consecutive sent_at (a stalled queue shows there).  A
 *		call that does not go through (bench_ok_status) ends the run.
 */
double
queue_drain(PGconn *conn, int n, double *enqueue_s, double *span_s,
			double *pause_s)
{
	char		sql[512];
	PGresult   *res;
	double		t0,
				t_commit,
				t_done;

	snprintf(sql, sizeof(sql),
			 "SELECT gw_modify_spec_async('bulk-' || i, 'api.s1.medium', server => 'bench')"
			 " FROM generate_series(1, %d) i", n);
	t0 = bench_now_ms();
	res = bench_query(conn, sql);	/* autocommit: returns once committed */
	t_commit = bench_now_ms();
	if (PQntuples(res) != n)
		bench_fail("queued %d calls, expected %d\n", PQntuples(res), n);
	PQclear(res);
	*enqueue_s = (t_commit - t0) / 1000.0;

	for (;;)
	{
		long long	open = bench_query_int(conn,
										   "SELECT count(*) FROM gw_audit"
										   " WHERE status IN ('queued', 'sending')");

		t_done = bench_now_ms();
		if (open == 0)
			break;
		if (t_done - t_commit > DRAIN_TIMEOUT_MS)
			bench_fail("drain: %lld calls still queued or sending after %.0f s\n",
					   open, DRAIN_TIMEOUT_MS / 1000.0);
		pg_usleep(DRAIN_POLL_US);
	}

	res = bench_query(conn,
					  "SELECT count(*),"
					  " count(*) FILTER (WHERE status NOT IN ('accepted', 'succeeded')),"
					  " coalesce(extract(epoch FROM max(answered_at) - min(sent_at)), 0),"
					  " coalesce(string_agg(DISTINCT status || ' ' || coalesce(error_code, ''), ', ')"
					  "   FILTER (WHERE status NOT IN ('accepted', 'succeeded')), ''),"
					  " coalesce(extract(epoch FROM max(gap)), 0)"
					  " FROM (SELECT *, sent_at - lag(sent_at) OVER (ORDER BY sent_at) AS gap"
					  "       FROM gw_audit WHERE instance_id LIKE 'bulk-%') b");
	if (atoi(PQgetvalue(res, 0, 0)) != n || atoi(PQgetvalue(res, 0, 1)) != 0)
		bench_fail("drain: %s rows, %s did not go through (%s)\n", PQgetvalue(res, 0, 0),
				   PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 3));
	*span_s = atof(PQgetvalue(res, 0, 2));
	*pause_s = atof(PQgetvalue(res, 0, 4));
	PQclear(res);
	return (t_done - t_commit) / 1000.0;
}
