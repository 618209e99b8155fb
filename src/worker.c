/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The gwresize background worker: it owns every outbound call and every
 *	  write of a call's lifecycle to gw_audit.
 *
 * One loop: claim the calls callers handed over in shared memory and
 * commit a 'sending' row for each (before a byte leaves); start the due
 * attempts on the libcurl multi handle; sleep until the latch, a socket or
 * a timer wakes us; judge finished transfers (retry with backoff and
 * jitter, refresh a Huawei token once, or finish); commit the outcomes in
 * one transaction; wake the callers.  At start, rows a crash left in
 * 'sending' become 'unknown'.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_database.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "foreign/foreign.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "catalog/pg_type.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "gwresize.h"

#define BACKOFF_BASE_MS 250
#define BACKOFF_CAP_MS	20000
#define IDLE_WAKE_MS	10000
#define NOT_READY_WAKE_MS 600000	/* asleep while there is nothing to serve */

typedef struct GwJob
{
	dlist_node	node;
	MemoryContext cxt;			/* everything of this job */
	int64		audit_id;
	int			slot;			/* shared-memory slot of a sync caller, or -1 */
	uint64		ticket;
	GwCall		call;
	char	   *server_name;	/* as recorded in the row */
	GwServer   *server;
	GwCreds    *creds;
	GwOp		op;				/* what the next attempt sends */
	GwOp		op_after_token; /* what to send once an IAM token came */
	bool		reconciling;	/* an interrupted call being resolved */
	bool		reading;		/* the instance is read before the change */
	char	   *from_spec;		/* what that read saw: the spec, */
	char	   *read_state;		/* ... and the instance (JSON) */
	bool		tracking;		/* an accepted resize being polled */
	int64		answered_age_ms;	/* tracking: since the provider accepted */
	char	   *seen_status;	/* tracking: the status seen at the last poll */
	const char *track_status;	/* tracking: succeeded, resize_failed or NULL */
	char	   *track_state;	/* tracking: the instance as seen (JSON) */
	int			poll_ms;		/* when the next poll goes, once written */
	int			attempts;		/* resize attempts made, all runs */
	int			reserved;		/* attempts committed to the row: a resize
								 * attempt leaves only once counted there */
	bool		reserve_pending;	/* the next attempt waits for that commit */
	bool		vanished;		/* the row was cancelled (gw_cancel) */
	bool		rate_slot;		/* its rate-limit slot is taken */
	int			run_attempts;	/* ... in this run of the worker */
	int			aux_attempts;	/* IAM and instance queries made */
	bool		token_refreshed;
	TimestampTz next_at;
	bool		retry_noted;	/* next_at must be written to gw_audit */
	GwTransfer *xfer;			/* non-NULL while in flight */
	bool		finished;
	const char *final_status;
	long		http_status;
	GwOutcome	out;
} GwJob;

/* When each rate-limited server may send next, for requests_per_second */
typedef struct GwRate
{
	Oid			serverid;
	TimestampTz next_send;
	struct GwRate *next_rate;
} GwRate;

/* Huawei IAM tokens, per server and user, kept until shortly before expiry */
typedef struct GwTokenEntry
{
	Oid			serverid;
	Oid			userid;
	char	   *token;			/* in TopMemoryContext */
	TimestampTz expires_at;
	bool		fetching;
	struct GwTokenEntry *next;
} GwTokenEntry;

#define MAX_JOBS		256		/* calls in the worker's hands at once */
#define RECONCILE_MS	10000	/* how often unknown rows are looked at */
#define MAX_RECONCILE_ATTEMPTS 10

static dlist_head jobs = DLIST_STATIC_INIT(jobs);
static int	njobs = 0;
static int	ntracking = 0;		/* of which tracking polls */
static GwTokenEntry *tokens = NULL;
static GwRate *rates = NULL;
static bool reconciled = false;
static TimestampTz last_reconcile = 0;
static TimestampTz next_track = 0;	/* next tracking poll due; 0: look now,
										 * DT_NOEND: none */
static GwInstallState state = GW_NOT_INSTALLED;	/* see check_state */
static int	state_logged = -1;	/* the state last logged */
static uint32 state_generation = 0; /* gw_adopt() count seen */
static TimestampTz last_check = 0;	/* when check_state last ran; 0: now */

/* ---- transactions ---- */

static MemoryContext tx_caller_cxt = NULL;

/*
 * tx_begin, tx_commit
 *		Bracket a unit of work in its own transaction with SPI connected,
 *		shown in pg_stat_activity; the caller's memory context is restored
 *		after the commit.
 */
static void
tx_begin(const char *what)
{
	tx_caller_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, what);
}

static void
tx_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(true);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(tx_caller_cxt);
}

/* ---- shared-memory slots ---- */

/*
 * reply
 *		Hand a result to the slot's caller and wake it; a slot its caller
 *		abandoned is simply freed.
 */
static void
reply(int slotno, uint64 ticket, int64 audit_id, int sqlerrcode,
	  const char *msg)
{
	GwSlot	   *slot = &gw_shared->slots[slotno];
	int			procno = -1;

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	if (slot->ticket == ticket && slot->state == GW_SLOT_CLAIMED)
	{
		if (slot->abandoned)
			slot->state = GW_SLOT_FREE;
		else
		{
			slot->audit_id = audit_id;
			slot->sqlerrcode = sqlerrcode;
			strlcpy(slot->errmsg, msg ? msg : "", GW_ERRMSG_MAXLEN);
			slot->state = GW_SLOT_DONE;
			procno = slot->caller_procno;
		}
	}
	LWLockRelease(gw_shared->lock);
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

static void
worker_detach(int code, Datum arg)
{
	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	if (gw_shared->worker_pid == MyProcPid)
	{
		gw_shared->worker_pid = 0;
		gw_shared->worker_procno = -1;
	}
	LWLockRelease(gw_shared->lock);
}

/*
 * worker_attach
 *		Announce ourselves; calls an earlier incarnation of the worker had
 *		claimed are answered: their rows (if any) are reconciled below.
 */
static void
worker_attach(void)
{
	int			i;

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	gw_shared->worker_pid = MyProcPid;
	gw_shared->worker_procno = MyProc->pgprocno;
	for (i = 0; i < gw_shared->nslots; i++)
	{
		GwSlot	   *slot = &gw_shared->slots[i];

		if (slot->state != GW_SLOT_CLAIMED)
			continue;
		if (slot->abandoned)
		{
			slot->state = GW_SLOT_FREE;
			continue;
		}
		slot->state = GW_SLOT_DONE;
		slot->sqlerrcode = ERRCODE_CONNECTION_FAILURE;
		strlcpy(slot->errmsg, "the gwresize worker restarted during the call",
				GW_ERRMSG_MAXLEN);
		SetLatch(&ProcGlobal->allProcs[slot->caller_procno].procLatch);
	}
	LWLockRelease(gw_shared->lock);
	before_shmem_exit(worker_detach, (Datum) 0);
}

/* ---- Huawei IAM token cache ---- */

static GwTokenEntry *
token_entry(Oid serverid, Oid userid)
{
	GwTokenEntry *e;

	for (e = tokens; e; e = e->next)
		if (e->serverid == serverid && e->userid == userid)
			return e;
	e = MemoryContextAllocZero(TopMemoryContext, sizeof(GwTokenEntry));
	e->serverid = serverid;
	e->userid = userid;
	e->next = tokens;
	tokens = e;
	return e;
}

static void
token_forget(GwTokenEntry *e)
{
	if (e->token)
	{
		explicit_bzero(e->token, strlen(e->token));
		pfree(e->token);
	}
	e->token = NULL;
}

/*
 * gw_clamp_refresh
 *		When to refresh a credential that expires at expires (0 or not
 *		finite: unknown): five minutes before, but never sooner than 30 s
 *		from now (a credential that claims to be expired is used once, not
 *		fetched again for every call) and never later than 24 hours.  No
 *		arithmetic here can overflow, whatever a provider claims.
 */
static TimestampTz
gw_clamp_refresh(TimestampTz expires, TimestampTz now)
{
	TimestampTz lo = now + 30 * USECS_PER_SEC;
	TimestampTz hi = now + 24 * 3600 * USECS_PER_SEC;

	if (expires == 0 || TIMESTAMP_NOT_FINITE(expires))
		return now + 3600 * USECS_PER_SEC;	/* unknown: an hour */
	if (expires <= lo + 300 * USECS_PER_SEC)
		return lo;
	if (expires >= hi + 300 * USECS_PER_SEC)
		return hi;
	return expires - 300 * USECS_PER_SEC;
}

/* expires_at "2026-11-23T05:20:49.123000Z"; refresh 5 minutes before it */
static TimestampTz
token_refresh_at(const char *expires_at)
{
	TimestampTz t = 0;

	if (expires_at)
	{
		MemoryContext old = CurrentMemoryContext;

		PG_TRY();
		{
			t = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
														CStringGetDatum(expires_at),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(old);
			FlushErrorState();
			t = 0;
		}
		PG_END_TRY();
	}
	return gw_clamp_refresh(t, GetCurrentTimestamp());
}

/* ---- rate limits ---- */

/*
 * rate_wait_us
 *		0 when server may send now (and the send is counted), else how long
 *		to wait.  Sends are spaced 1.1 / requests_per_second apart: no
 *		second holds more than requests_per_second of them, with a margin
 *		for jitter on the way to the provider, and no bursts.
 */
static int64
rate_wait_us(GwServer *server)
{
	GwRate	   *r;
	TimestampTz now = GetCurrentTimestamp();

	if (server->requests_per_second <= 0)
		return 0;
	for (r = rates; r; r = r->next_rate)
		if (r->serverid == server->serverid)
			break;
	if (r == NULL)
	{
		r = MemoryContextAllocZero(TopMemoryContext, sizeof(GwRate));
		r->serverid = server->serverid;
		r->next_rate = rates;
		rates = r;
	}
	if (now < r->next_send)
		return r->next_send - now;
	r->next_send = now + (int64) (1.1 * USECS_PER_SEC / server->requests_per_second);
	return 0;
}

/* ---- jobs ---- */

static void
job_finish(GwJob *job, const char *status)
{
	job->finished = true;
	job->final_status = status;
}

/*
 * backoff_ms
 *		Exponential backoff with full jitter, capped at BACKOFF_CAP_MS, but
 *		never sooner than the provider asked (a hint is honoured up to
 *		GW_RETRY_HINT_MAX_MS; longer ones end the call before we get here).
 */
static long
backoff_ms(GwJob *job, int attempt)
{
	double		cap = Min((double) BACKOFF_CAP_MS,
						  (double) BACKOFF_BASE_MS * pow(2.0, Min(Max(attempt, 1), 30) - 1));
	long		ms = (long) (pg_prng_double(&pg_global_prng_state) * cap);

	return Max(ms, (long) Min(job->out.retry_after_ms, (int64) GW_RETRY_HINT_MAX_MS));
}

/*
 * hint_too_long
 *		The provider asked to be retried later than we wait: the outcome's
 *		code becomes RetryAfterTooLong (SQLSTATE 53400 for the caller) and
 *		its message keeps the provider's code, message and hint.
 */
static bool
hint_too_long(GwJob *job)
{
	GwOutcome  *o = &job->out;

	if (o->retry_after_ms <= GW_RETRY_HINT_MAX_MS)
		return false;
	o->error_message = psprintf("%s: %s; the provider asked to be retried after %lld ms, longer than the %d ms gwresize waits",
								o->error_code ? o->error_code : "error",
								o->error_message ? o->error_message : "no message",
								(long long) o->retry_after_ms, GW_RETRY_HINT_MAX_MS);
	o->error_code = pstrdup("RetryAfterTooLong");
	o->verdict = GW_VERDICT_FAIL;
	return true;
}

/* schedule the job's next attempt after a backoff, and show it */
static void
job_retry_later(GwJob *job, int attempt)
{
	job->next_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
											   backoff_ms(job, attempt));
	job->retry_noted = true;
}

/* {"status": status, "spec": spec or null}: the instance as seen */
static void
append_instance_json(StringInfo buf, const char *status, const char *spec)
{
	appendStringInfoString(buf, "{\"status\": ");
	escape_json(buf, status);
	appendStringInfoString(buf, ", \"spec\": ");
	if (spec)
		escape_json(buf, spec);
	else
		appendStringInfoString(buf, "null");
	appendStringInfoChar(buf, '}');
}

/*
 * judge_read
 *		The instance as it was just before the change (read_before_resize):
 *		kept as from_spec and the state.  Already at the target: the call
 *		ends 'unchanged', nothing sent.  Not in a state that accepts a change
 *		(a resize under way, say): it ends 'failed', InstanceNotReady, nothing
 *		sent.  Not found in the answer: the resize goes, and the provider
 *		judges.  Else the resize goes.
 */
static void
judge_read(GwJob *job)
{
	GwOutcome  *o = &job->out;
	const char *status = o->instance_status;
	bool		ready;
	StringInfoData st;

	job->reading = false;
	if (status == NULL)
	{
		memset(o, 0, sizeof(GwOutcome));
		job->op = GW_OP_RESIZE;
		job->next_at = GetCurrentTimestamp();
		return;
	}
	initStringInfo(&st);
	append_instance_json(&st, status, o->instance_spec);
	job->read_state = st.data;
	job->from_spec = o->instance_spec;

	ready = job->call.provider == GW_ALIYUN ? strcmp(status, "RUNNING") == 0 :
		(strcmp(status, "Running") == 0 || strcmp(status, "ResizeFailed") == 0);
	if (ready && o->instance_spec && strcmp(o->instance_spec, job->call.spec) == 0)
	{
		memset(o, 0, sizeof(GwOutcome));
		job->http_status = 0;
		job_finish(job, "unchanged");
		return;
	}
	if (!ready)
	{
		char	   *msg = psprintf("the instance is %s at %s; a change needs it %s: nothing was sent",
								   status, o->instance_spec ? o->instance_spec : "an unknown spec",
								   job->call.provider == GW_ALIYUN ? "RUNNING" :
								   "Running (or ResizeFailed)");

		memset(o, 0, sizeof(GwOutcome));
		o->verdict = GW_VERDICT_FAIL;
		o->error_code = pstrdup("InstanceNotReady");
		o->error_message = msg;
		job->http_status = 0;
		job_finish(job, "failed");
		return;
	}
	memset(o, 0, sizeof(GwOutcome));
	job->op = GW_OP_RESIZE;
	job->next_at = GetCurrentTimestamp();
}

/*
 * judge_aux
 *		An IAM token or instance query finished; decide the job's next step.
 */
static void
judge_aux(GwJob *job, GwOp op, GwHttpResponse *resp, GwTokenEntry *te)
{
	char	   *request_json = job->out.request_json;

	if (job->out.verdict == GW_VERDICT_OK && op == GW_OP_IAM_TOKEN)
	{
		te->fetching = false;
		token_forget(te);
		te->token = MemoryContextStrdup(TopMemoryContext, resp->subject_token);
		te->expires_at = token_refresh_at(job->out.job_id);
		explicit_bzero(resp->subject_token, strlen(resp->subject_token));
		memset(&job->out, 0, sizeof(GwOutcome));
		job->out.request_json = request_json;
		job->op = job->op_after_token;
		job->next_at = GetCurrentTimestamp();
		return;
	}
	if (job->out.verdict == GW_VERDICT_OK && job->reading)
	{
		judge_read(job);
		job->out.request_json = request_json;
		return;
	}
	if (job->out.verdict == GW_VERDICT_OK)
	{
		/*
		 * An interrupted Huawei resize: the POST is not idempotent, so look
		 * before sending again.  Resizing, or already at the target: the
		 * provider had it.  Otherwise send it again.
		 */
		if ((job->out.instance_status &&
			 strcmp(job->out.instance_status, "Resizing") == 0) ||
			(job->out.instance_spec &&
			 strcmp(job->out.instance_spec, job->call.spec) == 0))
		{
			job->out.error_message = NULL;
			job->out.request_json = request_json;
			job_finish(job, "accepted");
		}
		else
		{
			memset(&job->out, 0, sizeof(GwOutcome));
			job->out.request_json = request_json;
			job->op = GW_OP_RESIZE;
			job->next_at = GetCurrentTimestamp();
		}
		return;
	}
	if (op == GW_OP_IAM_TOKEN)
		te->fetching = false;
	if (job->out.verdict == GW_VERDICT_RETRY && !hint_too_long(job) &&
		job->aux_attempts <= job->server->max_retries)
	{
		job_retry_later(job, job->aux_attempts);
		return;
	}
	/* the resize was never (re)sent: say why */
	job->out.job_id = NULL;
	job->out.request_json = request_json;
	if (op == GW_OP_IAM_TOKEN)
	{
		job->out.error_code = psprintf("IAM.%s", job->out.error_code ?
									   job->out.error_code : "error");
		job->out.error_message = psprintf("IAM token request failed: %s",
										  job->out.error_message ?
										  job->out.error_message : "no answer");
	}
	else if (job->reading)
		job->out.error_message = psprintf("could not read the instance before the change (the server option read_before_resize 'false' skips the read): %s",
										  job->out.error_message ?
										  job->out.error_message : "no answer");
	else
		job->out.error_message = psprintf("could not check the instance after an interruption: %s",
										  job->out.error_message ?
										  job->out.error_message : "no answer");
	job->out.response_json = NULL;
	job_finish(job, "failed");
}

/* the server's poll interval, with +-20% jitter */
static int
poll_delay_ms(GwServer *server)
{
	return (int) (server->poll_interval_ms *
				  (0.8 + 0.4 * pg_prng_double(&pg_global_prng_state)));
}

/*
 * judge_track
 *		A tracking poll came back.  Running at the target spec: succeeded.
 *		ResizeFailed / ResizeTimeout, back to running at the old spec after
 *		a change was seen, or the deadline passed: resize_failed.  Else poll
 *		again later.  The instance as seen goes to instance_state.
 */
static void
judge_track(GwJob *job)
{
	GwOutcome  *o = &job->out;
	const char *running = job->call.provider == GW_ALIYUN ? "RUNNING" : "Running";
	bool		past_deadline = job->answered_age_ms > job->server->tracking_timeout_ms;
	StringInfoData st;

	if (o->verdict == GW_VERDICT_RETRY &&
		o->retry_after_ms <= GW_RETRY_HINT_MAX_MS &&
		job->aux_attempts <= job->server->max_retries)
	{
		job_retry_later(job, job->aux_attempts);
		return;
	}

	initStringInfo(&st);
	if (o->verdict != GW_VERDICT_OK)
	{
		/* this poll failed: say so, and poll again later */
		appendStringInfoString(&st, "{\"status\": ");
		escape_json(&st, job->seen_status ? job->seen_status : "unknown");
		appendStringInfoString(&st, ", \"poll_error\": ");
		escape_json(&st, psprintf("%s: %s", o->error_code ? o->error_code : "error",
								  o->error_message ? o->error_message : ""));
		appendStringInfo(&st, ", \"http_status\": %ld}", job->http_status);
		o->error_code = NULL;
		o->error_message = NULL;
	}
	else
	{
		const char *status = o->instance_status ? o->instance_status : "unknown";
		bool		is_running = strcmp(status, running) == 0;
		bool		at_target = o->instance_spec &&
			strcmp(o->instance_spec, job->call.spec) == 0;
		bool		seen_change = job->seen_status &&
			strcmp(job->seen_status, running) != 0;

		append_instance_json(&st, status, o->instance_spec);
		o->error_code = NULL;
		o->error_message = NULL;

		if (is_running && at_target)
			job->track_status = "succeeded";
		else if (strcmp(status, "ResizeFailed") == 0 ||
				 strcmp(status, "ResizeTimeout") == 0)
		{
			job->track_status = "resize_failed";
			o->error_code = pstrdup(status);
			o->error_message = psprintf("the provider reports %s; the instance is at %s",
										status, o->instance_spec ? o->instance_spec : "an unknown spec");
		}
		else if (is_running && seen_change)
		{
			job->track_status = "resize_failed";
			o->error_code = pstrdup("SpecUnchanged");
			o->error_message = psprintf("the change ended with the instance still at %s",
										o->instance_spec ? o->instance_spec : "an unknown spec");
		}
		job->seen_status = pstrdup(status);
	}
	if (job->track_status == NULL && past_deadline)
	{
		job->track_status = "resize_failed";
		o->error_code = pstrdup("TrackingTimeout");
		o->error_message = psprintf("not at %s after %d ms of tracking",
									job->call.spec, job->server->tracking_timeout_ms);
	}
	job->track_state = st.data;
	job_finish(job, "tracked");
}

/*
 * judge_answer
 *		Judge resp into job->out under error recovery: the body is made
 *		valid text first, and an ERROR while reading it (anything a hostile
 *		answer could still provoke) becomes the outcome MalformedResponse,
 *		retryable, instead of ending the worker.  Runs outside a transaction
 *		and only allocates memory, so no cleanup beyond the error state is
 *		needed.
 */
static void
judge_answer(GwJob *job, GwHttpResponse *resp, GwOp op)
{
	MemoryContext cxt = CurrentMemoryContext;

	PG_TRY();
	{
		gw_clean_body(&resp->body);
		gw_judge(job->call.provider, resp, op, &job->out);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		memset(&job->out, 0, sizeof(GwOutcome));
		job->out.verdict = GW_VERDICT_RETRY;
		job->out.error_code = pstrdup("MalformedResponse");
		job->out.error_message = psprintf("the answer (HTTP %ld, %d bytes) could not be read: %s",
										  resp->http_status, resp->body.len,
										  edata->message);
		job->out.request_id = resp->request_id;
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

/*
 * next_step
 *		Decide what follows an answer to the job's request.
 */
static void
next_step(GwJob *job, GwOp op, GwHttpResponse *resp, GwTokenEntry *te)
{
	if (job->tracking && op == GW_OP_DESCRIBE)
	{
		judge_track(job);
		return;
	}
	if (op != GW_OP_RESIZE)
	{
		judge_aux(job, op, resp, te);
		return;
	}

	switch (job->out.verdict)
	{
		case GW_VERDICT_OK:
			job_finish(job, "accepted");
			break;
		case GW_VERDICT_REFRESH_TOKEN:
			if (te != NULL && !job->token_refreshed)
			{
				job->token_refreshed = true;
				token_forget(te);
				job->op_after_token = GW_OP_RESIZE;
				job->op = GW_OP_IAM_TOKEN;
				job->next_at = GetCurrentTimestamp();
			}
			else
				job_finish(job, "failed");
			break;
		case GW_VERDICT_RETRY:
			if (hint_too_long(job))
				job_finish(job, "failed");
			else if (job->run_attempts <= job->server->max_retries)
			{
				/*
				 * A Huawei POST is not idempotent: after any answer but a
				 * 429 (a 5xx, a 2xx without the documented body), or a
				 * transport failure once the request left, look at the
				 * instance before sending it again.
				 */
				if (job->call.provider == GW_HUAWEI && resp->sent &&
					resp->http_status != 429)
					job->op = GW_OP_DESCRIBE;
				job_retry_later(job, job->run_attempts);
			}
			else
				job_finish(job, "failed");
			break;
		case GW_VERDICT_FAIL:

			/*
			 * Alibaba answers a re-sent Token with RepeatedCommit: the first
			 * send got through.  Accepted; tracking tells how it ends.
			 */
			if (job->call.provider == GW_ALIYUN && job->out.error_code &&
				strcmp(job->out.error_code, "RepeatedCommit") == 0 &&
				(job->run_attempts > 1 || job->reconciling))
				job_finish(job, "accepted");
			else
				job_finish(job, "failed");
			break;
	}
}

/*
 * transfer_done
 *		A transfer of the job ended: judge the answer, mask echoed secrets,
 *		bound every text, decide the next step.  Nothing here may end the
 *		worker: an unexpected ERROR leaves a resize 'unknown' (to be
 *		reconciled) and a poll to be made again.
 */
static void
transfer_done(GwTransfer *t, void *arg)
{
	GwJob	   *job = (GwJob *) arg;
	GwHttpResponse *resp = gw_http_response(t);
	MemoryContext old = MemoryContextSwitchTo(job->cxt);
	GwOp		op = job->op;
	char	   *request_json = job->out.request_json;

	job->http_status = resp->http_status;
	job->xfer = NULL;
	PG_TRY();
	{
		GwTokenEntry *te = NULL;
		bool		masked;

		judge_answer(job, resp, op);
		job->out.request_json = request_json;
		gw_http_release(t);

		if (job->creds->kind == GW_AUTH_PASSWORD)
			te = token_entry(job->server->serverid, job->call.userid);
		/* nothing kept of an answer may quote a secret back */
		masked = gw_scrub_outcome(&job->out, job->creds, te ? te->token : NULL);
		gw_bound_outcome(&job->out, masked);
		next_step(job, op, resp, te);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(job->cxt);
		edata = CopyErrorData();
		FlushErrorState();
		gw_http_release(t);
		memset(&job->out, 0, sizeof(GwOutcome));
		job->out.request_json = request_json;
		job->out.error_code = pstrdup("InternalError");
		job->out.error_message = gw_clean_text(edata->message, -1, GW_MESSAGE_MAX);
		FreeErrorData(edata);
		if (job->tracking)
			job->track_status = NULL;	/* poll again later */
		job_finish(job, job->tracking ? "tracked" :
				   op == GW_OP_RESIZE && resp->sent ? "unknown" : "failed");
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
}

/*
 * start_attempt
 *		Build, sign and send the job's next request, unless the server's
 *		rate limit says to wait.
 */
static void
start_attempt(GwJob *job)
{
	MemoryContext old = MemoryContextSwitchTo(job->cxt);
	const char *iam_token = NULL;
	GwHttpRequest *req;
	int64		wait_us;

	if (job->creds->kind == GW_AUTH_PASSWORD && job->op != GW_OP_IAM_TOKEN)
	{
		GwTokenEntry *te = token_entry(job->server->serverid, job->call.userid);

		if (te->token && GetCurrentTimestamp() < te->expires_at)
			iam_token = te->token;
		else if (te->fetching)
		{
			/* another job is fetching it: look again shortly */
			job->next_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 20);
			MemoryContextSwitchTo(old);
			return;
		}
		else
		{
			te->fetching = true;
			job->op_after_token = job->op;
			job->op = GW_OP_IAM_TOKEN;
		}
	}

	/*
	 * The rate limit counts what reaches the gateway, not IAM; a slot once
	 * taken is kept until the request leaves.
	 */
	if (job->op != GW_OP_IAM_TOKEN && !job->rate_slot)
	{
		if ((wait_us = rate_wait_us(job->server)) > 0)
		{
			job->next_at = GetCurrentTimestamp() + wait_us;
			MemoryContextSwitchTo(old);
			return;
		}
		job->rate_slot = true;
	}

	/*
	 * A resize attempt leaves only once it is counted in its committed row
	 * (write_outcomes commits the count, moves a queued row to 'sending',
	 * and finds out whether the row was cancelled or its server or mapping
	 * changed meanwhile): a call whose answer could end the worker is
	 * retried a bounded number of times, and a row waiting for its turn
	 * stays 'queued'.
	 */
	if (job->op == GW_OP_RESIZE && job->attempts >= job->reserved)
	{
		job->reserve_pending = true;
		MemoryContextSwitchTo(old);
		return;
	}

	req = gw_build_request(job->server, job->creds, iam_token, job->op,
						   &job->call);
	if (job->op == GW_OP_RESIZE)
	{
		StringInfoData rj;

		job->attempts++;
		job->run_attempts++;
		initStringInfo(&rj);
		gw_request_json(&rj, req);
		job->out.request_json = rj.data;
	}
	else
		job->aux_attempts++;
	job->xfer = gw_http_start(job->server, req, transfer_done, job);
	if (job->op != GW_OP_IAM_TOKEN)
		job->rate_slot = false;
	MemoryContextSwitchTo(old);
}

static void
job_free(GwJob *job)
{
	if (job->xfer)
		gw_http_release(job->xfer);
	dlist_delete(&job->node);
	njobs--;
	if (job->tracking)
		ntracking--;
	MemoryContextDelete(job->cxt);
}

static GwJob *
job_new(void)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "gwresize job",
											  ALLOCSET_SMALL_SIZES);
	GwJob	   *job = MemoryContextAllocZero(cxt, sizeof(GwJob));

	job->cxt = cxt;
	job->slot = -1;
	job->op = GW_OP_RESIZE;
	return job;
}

/*
 * job_setup
 *		Resolve the job's server (by the name recorded in its row, when
 *		known), role, credentials and the right to use them, and for a new
 *		call (insert true) write its 'sending' row.  Done when a job is
 *		claimed and again before each further resize attempt, so a dropped
 *		server or mapping, a revoked USAGE or an altered server take effect
 *		on calls already in the worker's hands.  Runs in a subtransaction:
 *		a call that cannot proceed spoils no other.  Returns NULL, or the
 *		error (in the caller's context).
 */
static ErrorData *
job_setup(GwJob *job, bool insert, const char *requested_by)
{
	MemoryContext txcxt = CurrentMemoryContext;
	ResourceOwner txowner = CurrentResourceOwner;
	ErrorData  *edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(job->cxt);
	PG_TRY();
	{
		if (job->server_name)
		{
			ForeignServer *fs = GetForeignServerByName(job->server_name, true);

			if (fs == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("server \"%s\" no longer exists", job->server_name)));
			job->call.serverid = fs->serverid;
		}
		else if (GetForeignServerExtended(job->call.serverid, FSV_MISSING_OK) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the server of the call no longer exists")));
		if (requested_by)
			job->call.userid = get_role_oid(requested_by, false);
		job->server = gw_get_server(job->call.serverid);
		job->server_name = job->server->name;
		gw_check_server(job->server, job->call.provider, job->call.userid);
		job->creds = gw_get_creds(job->server, job->call.userid);
		if (insert)
		{
			/*
			 * 'sending' (its attempt counted) when it leaves at once; else
			 * 'queued' until the read before it, or the rate limit, lets it
			 */
			bool		at_once = !job->server->read_before &&
				job->server->requests_per_second <= 0;

			job->audit_id = gw_audit_insert(&job->call, job->server,
											at_once ? "sending" : "queued",
											gw_params_json(&job->call, job->server),
											GetUserNameFromId(job->call.userid, false));
			job->reserved = at_once ? 1 : 0;
			job->reading = job->server->read_before;
			if (job->reading)
				job->op = GW_OP_DESCRIBE;
		}
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(txcxt);
		CurrentResourceOwner = txowner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(txcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(txcxt);
		CurrentResourceOwner = txowner;
	}
	PG_END_TRY();
	return edata;
}

/*
 * not_sent
 *		The job ends 'failed' without (another) attempt, for the reason in
 *		edata: its server, mapping or privilege is gone.
 */
static void
not_sent(GwJob *job, ErrorData *edata)
{
	MemoryContext old = MemoryContextSwitchTo(job->cxt);
	char	   *request_json = job->out.request_json;

	memset(&job->out, 0, sizeof(GwOutcome));
	job->out.request_json = request_json;	/* what was sent before, if any */
	job->out.verdict = GW_VERDICT_FAIL;
	job->out.error_code = pstrdup(edata->sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE ?
								  "PermissionDenied" : "NotSent");
	job->out.error_message = pstrdup(edata->message);
	job->http_status = 0;
	job_finish(job, "failed");
	MemoryContextSwitchTo(old);
}

/*
 * refuse_waiting_calls
 *		While there is nothing to serve (see check_state), calls handed over
 *		(in a race with what the caller checked) are answered with why.
 */
static void
refuse_waiting_calls(void)
{
	int			i;
	const char *why = state == GW_NEEDS_UPDATE ?
		"the installed gwresize SQL is older than its library: run ALTER EXTENSION gwresize UPDATE" :
		state == GW_FOREIGN ?
		"gwresize is not active in this copy of the database: the extension owner decides with gw_adopt()" :
		"extension \"gwresize\" is not installed in the worker's database";

	for (i = 0; i < gw_shared->nslots; i++)
	{
		uint64		ticket = 0;

		LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
		if (gw_shared->slots[i].state == GW_SLOT_SUBMITTED)
		{
			gw_shared->slots[i].state = GW_SLOT_CLAIMED;
			ticket = gw_shared->slots[i].ticket;
		}
		LWLockRelease(gw_shared->lock);
		if (ticket != 0)
			reply(i, ticket, 0, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, why);
	}
}

/*
 * claim_calls
 *		Take the calls callers submitted and commit a 'sending' row for
 *		each, in one transaction.  A call that cannot be recorded (its
 *		instance has an open resize, its server vanished) is answered with
 *		the error at once.
 */
static void
claim_calls(void)
{
	int			claimed[MAX_JOBS];
	int			n = 0;
	int			i;
	dlist_head	recorded = DLIST_STATIC_INIT(recorded);
	dlist_mutable_iter it;

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < gw_shared->nslots && n < MAX_JOBS - njobs; i++)
		if (gw_shared->slots[i].state == GW_SLOT_SUBMITTED)
		{
			gw_shared->slots[i].state = GW_SLOT_CLAIMED;
			claimed[n++] = i;
		}
	LWLockRelease(gw_shared->lock);
	if (n == 0)
		return;

	tx_begin("gwresize: recording calls");
	for (i = 0; i < n; i++)
	{
		GwSlot	   *slot = &gw_shared->slots[claimed[i]];
		GwJob	   *job = job_new();
		ErrorData  *edata;

		job->slot = claimed[i];
		job->ticket = slot->ticket;
		memcpy(&job->call, &slot->call, sizeof(GwCall));
		edata = job_setup(job, true, NULL);
		if (edata)
		{
			reply(claimed[i], job->ticket, 0, edata->sqlerrcode, edata->message);
			FreeErrorData(edata);
			MemoryContextDelete(job->cxt);
			continue;
		}
		dlist_push_tail(&recorded, &job->node);
	}
	tx_commit();

	/* the rows are committed: now, and only now, the requests may leave */
	dlist_foreach_modify(it, &recorded)
	{
		dlist_delete(it.cur);
		dlist_push_tail(&jobs, it.cur);
		njobs++;
	}
}

/*
 * claim_rows
 *		Queued rows (reconcile false), or rows a restart left unknown
 *		(reconcile true): moved to 'sending' and committed in one
 *		transaction, then handed to jobs.  Rows that cannot be sent (server
 *		or role gone, nothing left to try) are finished as failed.
 *		Returns how many rows were claimed.
 */
typedef enum ClaimKind
{
	CLAIM_QUEUED,
	CLAIM_UNKNOWN,
	CLAIM_TRACK
} ClaimKind;

/* the gw_audit ids of the jobs in hand, as an int8[] */
static Datum
held_ids(void)
{
	Datum	   *ids = palloc(sizeof(Datum) * Max(njobs, 1));
	int			n = 0;
	dlist_iter	it;

	dlist_foreach(it, &jobs)
		ids[n++] = Int64GetDatum(dlist_container(GwJob, node, it.cur)->audit_id);
	return PointerGetDatum(construct_array(ids, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
}

static int
claim_rows(ClaimKind kind, int room)
{
	bool		reconcile = kind == CLAIM_UNKNOWN;
	int			n,
				i;
	GwJob	  **claimed;
	char	  **requested_by;

	if (room <= 0)
		return 0;
	/* in the caller's context: they outlive the transaction */
	claimed = palloc0(sizeof(GwJob *) * room);
	requested_by = palloc0(sizeof(char *) * room);
	tx_begin(kind == CLAIM_UNKNOWN ? "gwresize: reconciling interrupted calls" :
			 kind == CLAIM_TRACK ? "gwresize: tracking accepted resizes" :
			 "gwresize: claiming queued calls");
	/* (the claims themselves take only this cluster's rows: CLAIM_OURS) */
	if (!OidIsValid(gw_audit_relid()))
	{
		tx_commit();
		last_check = 0;			/* look again, and say why */
		return 0;
	}
	n = kind == CLAIM_TRACK ? gw_audit_claim_tracking(room) :
		gw_audit_claim(reconcile, room, held_ids());

	/*
	 * Copy every claimed row out of SPI's result before anything else runs
	 * a statement: the writes below replace SPI_tuptable.
	 */
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		GwJob	   *job = job_new();
		char	   *v;
		MemoryContext old = MemoryContextSwitchTo(job->cxt);

		job->audit_id = atoll(SPI_getvalue(tup, desc, 1));
		job->call.provider = strcmp(SPI_getvalue(tup, desc, 2), "aliyun") == 0 ?
			GW_ALIYUN : GW_HUAWEI;
		job->server_name = SPI_getvalue(tup, desc, 3);
		strlcpy(job->call.instance_id, SPI_getvalue(tup, desc, 4), GW_ID_MAXLEN + 1);
		strlcpy(job->call.spec, SPI_getvalue(tup, desc, 5), GW_SPEC_MAXLEN + 1);
		strlcpy(job->call.action, SPI_getvalue(tup, desc, 6), sizeof(job->call.action));
		job->call.auto_pay = strcmp(SPI_getvalue(tup, desc, 7), "t") == 0;
		job->call.skip_wait_switch = strcmp(SPI_getvalue(tup, desc, 8), "t") == 0;
		if ((v = SPI_getvalue(tup, desc, 9)) != NULL)
			strlcpy(job->call.token, v, GW_TOKEN_MAXLEN + 1);
		requested_by[i] = SPI_getvalue(tup, desc, 10);
		job->call.async = strcmp(SPI_getvalue(tup, desc, 11), "t") == 0;

		/* attempts as committed: the next one is counted when it starts */
		job->reserved = atoi(SPI_getvalue(tup, desc, 12));
		job->attempts = job->reserved;
		if ((v = SPI_getvalue(tup, desc, 13)) != NULL)
			job->answered_age_ms = atoll(v);	/* track: since accepted;
												 * unknown: since sent */
		if (kind == CLAIM_TRACK && (v = SPI_getvalue(tup, desc, 14)) != NULL)
			job->seen_status = v;
		MemoryContextSwitchTo(old);
		claimed[i] = job;
	}
	if (kind == CLAIM_TRACK)
	{
		/* the claimed rows are leased; when is the next one due? */
		next_track = gw_audit_next_poll();
		if (next_track == 0)
			next_track = DT_NOEND;	/* nothing tracked */
	}

	for (i = 0; i < n; i++)
	{
		GwJob	   *job = claimed[i];
		ErrorData  *edata = job_setup(job, false, requested_by[i]);

		if (edata && kind == CLAIM_TRACK)
		{
			/*
			 * cannot poll (server, role or mapping gone, plain http no
			 * longer allowed): accepted, and how it ended is not known
			 */
			gw_audit_track(job->audit_id, "accepted", NULL, 0,
						   "NotTracked", psprintf("tracking ended: %s", edata->message));
			FreeErrorData(edata);
			MemoryContextDelete(job->cxt);
			claimed[i] = NULL;
			continue;
		}
		if (edata)
		{
			not_sent(job, edata);
			FreeErrorData(edata);
			gw_audit_finish_call(job->audit_id, "failed", job->attempts, 0, &job->out, 0,
									 NULL, NULL);
			MemoryContextDelete(job->cxt);
			claimed[i] = NULL;
			continue;
		}
		if (kind == CLAIM_TRACK)
		{
			job->tracking = true;
			job->op = GW_OP_DESCRIBE;
		}
		else if (kind == CLAIM_QUEUED && job->server->read_before)
		{
			job->reading = true;
			job->op = GW_OP_DESCRIBE;
		}
		else if (reconcile)
		{
			job->reconciling = true;
			if (job->attempts >= MAX_RECONCILE_ATTEMPTS)
			{
				job->out.verdict = GW_VERDICT_FAIL;
				job->out.error_code = pstrdup("Unresolved");
				job->out.error_message = psprintf("the call was interrupted %d times (the worker stopped while it was in flight) and is not tried again",
												  job->attempts);
				gw_audit_finish_call(job->audit_id, "failed", job->attempts, 0, &job->out, 0,
									 NULL, NULL);
				MemoryContextDelete(job->cxt);
				claimed[i] = NULL;
				continue;
			}
			/* Alibaba: re-send with the same Token; Huawei: look first */
			if (job->call.provider == GW_HUAWEI)
				job->op = GW_OP_DESCRIBE;

			/*
			 * Not before the interrupted attempt could still be under way at
			 * the provider: its per-attempt limit, and a second, after it left.
			 */
			{
				int64		wait_ms = job->server->timeout_ms + 1000 - job->answered_age_ms;

				if (wait_ms > 0)
				{
					GwOutcome	o;

					job->next_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
															   wait_ms);
					/* show when it is resolved */
					memset(&o, 0, sizeof(o));
					o.error_code = "WorkerRestarted";
					o.error_message = "the worker stopped while the call was in flight; it is resolved once that attempt cannot be under way any more";
					gw_audit_note_retry(job->audit_id, job->attempts, job->next_at, &o);
				}
			}
		}
	}
	tx_commit();

	for (i = 0; i < n; i++)
	{
		if (claimed[i] == NULL)
			continue;
		dlist_push_tail(&jobs, &claimed[i]->node);
		njobs++;
		if (kind == CLAIM_TRACK)
			ntracking++;
	}
	return n;
}

/*
 * start_due
 *		Start every job whose next attempt is due; returns the ms until the
 *		next one that is not (-1: none).
 */
static long
start_due(void)
{
	dlist_iter	it;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next = 0;
	bool		waiting = false;

	dlist_foreach(it, &jobs)
	{
		GwJob	   *job = dlist_container(GwJob, node, it.cur);

		if (job->finished || job->xfer)
			continue;
		if (job->next_at <= now)
			start_attempt(job);
		if (job->finished || job->xfer)
			continue;
		/* waiting for its attempt to be counted: go again at once */
		if (job->reserve_pending)
			job->next_at = now;
		if (!waiting || job->next_at < next)
			next = job->next_at;
		waiting = true;
	}
	if (!waiting)
		return -1;
	return Max(0, (long) ((next - now + 999) / 1000));
}

/*
 * write_outcomes
 *		Commit the outcome of every finished job, and the next attempt of
 *		every job waiting to retry, in one transaction; then wake callers.
 */
static void
write_outcomes(void)
{
	dlist_mutable_iter it;
	bool		any = false;

	dlist_foreach_modify(it, &jobs)
	{
		GwJob	   *job = dlist_container(GwJob, node, it.cur);

		if (job->finished || job->retry_noted || job->reserve_pending)
			any = true;
	}
	if (!any)
		return;

	tx_begin("gwresize: recording outcomes");

	/*
	 * Resize attempts about to leave: count each in its row, unless the
	 * server, mapping or privilege it needs is gone, or the row was
	 * cancelled while it waited.
	 */
	dlist_foreach_modify(it, &jobs)
	{
		GwJob	   *job = dlist_container(GwJob, node, it.cur);
		ErrorData  *edata;

		if (!job->reserve_pending || job->finished)
			continue;
		if ((edata = job_setup(job, false, NULL)) != NULL)
		{
			not_sent(job, edata);
			FreeErrorData(edata);
		}
		else if (!gw_audit_reserve(job->audit_id, job->attempts + 1))
		{
			job->vanished = true;
			job_finish(job, NULL);
		}
	}

	dlist_foreach_modify(it, &jobs)
	{
		GwJob	   *job = dlist_container(GwJob, node, it.cur);

		if (job->finished && !job->vanished)
		{
			job->poll_ms = poll_delay_ms(job->server);
			if (job->tracking)
				gw_audit_track(job->audit_id, job->track_status, job->track_state,
							   job->poll_ms, job->out.error_code,
							   job->out.error_message);
			else
				gw_audit_finish_call(job->audit_id, job->final_status, job->attempts,
									 job->http_status, &job->out, job->poll_ms,
									 job->from_spec, job->read_state);
		}
		else if (job->retry_noted && !job->finished)
			gw_audit_note_retry(job->audit_id, job->attempts, job->next_at,
								&job->out);
		job->retry_noted = false;
	}
	tx_commit();

	dlist_foreach_modify(it, &jobs)
	{
		GwJob	   *job = dlist_container(GwJob, node, it.cur);

		if (job->reserve_pending && !job->finished)
		{
			/* counted: the attempt may leave now */
			job->reserved = job->attempts + 1;
			job->reserve_pending = false;
		}
		if (!job->finished)
			continue;
		if (job->slot >= 0)
			reply(job->slot, job->ticket, job->audit_id, 0, NULL);
		/* a poll was scheduled: make sure we wake for it */
		if (!job->vanished &&
			((job->tracking && job->track_status == NULL) ||
			 (!job->tracking && strcmp(job->final_status, "accepted") == 0)))
		{
			TimestampTz due = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														  job->poll_ms);

			if (due < next_track)
				next_track = due;
		}
		job_free(job);
	}
}

/* ---- what the worker may do ---- */


/*
 * check_state
 *		Look at the installation in the worker's database: not installed,
 *		SQL older than the library, a copy nobody adopted, or ready.  Each
 *		change is logged once; until ready the worker sends, polls and
 *		reconciles nothing.
 */
static void
check_state(void)
{
	int64		recorded = 0;
	int64		open = 0;
	GwInstallState st;

	state_generation = pg_atomic_read_u32(&gw_shared->recheck_generation);
	tx_begin("gwresize: checking the installation");
	st = gw_install_state(&recorded);
	if (st == GW_FOREIGN && (int) st != state_logged)
		open = gw_audit_open_rows();
	tx_commit();

	if ((int) st != state_logged)
	{
		switch (st)
		{
			case GW_NOT_INSTALLED:
				ereport(LOG,
						(errmsg("gwresize: extension \"gwresize\" is not installed in database \"%s\"; the worker waits for CREATE EXTENSION",
								gw_database_name)));
				break;
			case GW_NEEDS_UPDATE:
				ereport(WARNING,
						(errmsg("gwresize: the extension's SQL in database \"%s\" is older than its library (%s); nothing is sent",
								gw_database_name, GW_SQL_VERSION),
						 errhint("Run ALTER EXTENSION gwresize UPDATE.")));
				break;
			case GW_FOREIGN:
				ereport(WARNING,
						(errmsg("gwresize: database \"%s\" is a copy made by another cluster: its %lld open call(s) are left alone",
								gw_database_name, (long long) open),
						 errdetail("gw_installation names the cluster with system identifier %lld; this is cluster %llu (a restore, a pg_upgrade or a clone).",
								   (long long) recorded,
								   (unsigned long long) GetSystemIdentifier()),
						 errhint("The extension owner runs SELECT gw_adopt() to have the worker act on them, or cancels them with gw_cancel().")));
				break;
			case GW_READY:
				if (state_logged >= 0)
					ereport(LOG,
							(errmsg("gwresize: serving database \"%s\"", gw_database_name)));
				break;
		}
		state_logged = (int) st;
	}
	if (st != GW_READY)
		reconciled = false;		/* once ready: rows left in 'sending' first */
	state = st;
}

/*
 * database_exists
 *		Whether database name exists, read from pg_database with a plain
 *		heap scan: a process bound to no database can read shared catalogs,
 *		but not the relation cache an index scan needs (as the autovacuum
 *		launcher does).
 */
static bool
database_exists(const char *name)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (!found && HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
		found = strcmp(NameStr(((Form_pg_database) GETSTRUCT(tup))->datname), name) == 0;
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return found;
}

/*
 * wait_for_database
 *		The worker's database does not exist (yet): connected to no
 *		database, look for it every 10 s, and once it exists exit so that
 *		the postmaster starts the worker again (a process cannot change its
 *		database).  Logged once when first seen and at most every 10
 *		minutes after, not once a second.
 */
static void
wait_for_database(void)
{
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("gwresize worker");
	for (;;)
	{
		bool		exists;
		TimestampTz now = GetCurrentTimestamp();

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		exists = database_exists(gw_database_name);
		if (exists)
		{
			gw_shared->db_missing = false;
			ereport(LOG,
					(errmsg("gwresize: database \"%s\" exists now; the worker restarts to serve it",
							gw_database_name)));
			proc_exit(1);
		}
		if (gw_shared->nodb_logged_at == 0 ||
			TimestampDifferenceExceeds(gw_shared->nodb_logged_at, now, 600 * 1000))
		{
			ereport(WARNING,
					(errmsg("gwresize: database \"%s\" does not exist; the worker looks for it every 10 s",
							gw_database_name),
					 errhint("Create it, or set gwresize.database_name and restart the server.")));
			gw_shared->nodb_logged_at = now;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10 * 1000L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

void
gw_worker_main(Datum main_arg)
{
	MemoryContext loopcxt;
	bool		queue_pending = true;	/* look for queued rows */

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/*
	 * Connecting to a database that does not exist ends the process; the
	 * flag, set until the connection is made, sends the next start to
	 * wait_for_database instead of failing again every second.
	 */
	if (gw_shared->db_missing)
		wait_for_database();
	gw_shared->db_missing = true;
	BackgroundWorkerInitializeConnection(gw_database_name, NULL, 0);
	gw_shared->db_missing = false;
	gw_shared->nodb_logged_at = 0;
	pgstat_report_appname("gwresize worker");

	gw_http_init();
	worker_attach();

	loopcxt = AllocSetContextCreate(TopMemoryContext, "gwresize loop",
									ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		long		timeout;
		bool		woken;

		MemoryContextSwitchTo(loopcxt);
		MemoryContextReset(loopcxt);
		woken = MyLatch->is_set;
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			gw_http_apply_settings();
		}

		/*
		 * Whether there is anything to serve: at start, on every wake while
		 * not, after gw_adopt(), and now and then.
		 */
		if (last_check == 0 || (state != GW_READY ? woken :
								(pg_atomic_read_u32(&gw_shared->recheck_generation) != state_generation ||
								 TimestampDifferenceExceeds(last_check, GetCurrentTimestamp(), IDLE_WAKE_MS))))
		{
			check_state();
			last_check = GetCurrentTimestamp();
		}
		if (state != GW_READY)
		{
			/* nothing to serve: sleep until a call, a commit or a reload */
			refuse_waiting_calls();
			gw_http_wait_and_dispatch(NOT_READY_WAKE_MS);
			write_outcomes();
			continue;
		}

		/* rows a crash or restart left in 'sending' become 'unknown' */
		if (!reconciled)
		{
			int			n;

			tx_begin("gwresize: reconciling");
			n = gw_audit_reconcile_sending();
			tx_commit();
			if (n > 0)
				ereport(LOG,
						(errmsg("gwresize: %d call(s) interrupted by a restart marked unknown", n)));
			reconciled = true;
		}

		claim_calls();

		/*
		 * A commit that queued rows sets our latch; a claim that filled the
		 * room it had may have left more behind.
		 */
		if ((woken || queue_pending) && njobs < MAX_JOBS)
		{
			int			room = MAX_JOBS - njobs;

			queue_pending = claim_rows(CLAIM_QUEUED, room) == room;
		}
		if (njobs < MAX_JOBS &&
			TimestampDifferenceExceeds(last_reconcile, GetCurrentTimestamp(),
									   RECONCILE_MS))
		{
			int			room = MAX_JOBS - njobs;

			/* a claim that filled its room looks again as soon as there is room */
			last_reconcile = claim_rows(CLAIM_UNKNOWN, room) == room ? 0 :
				GetCurrentTimestamp();
		}
		/* accepted resizes whose next poll is due */
		/* polls take at most a quarter of the room: calls come first */
		if (ntracking < MAX_JOBS / 4 && njobs < MAX_JOBS &&
			next_track <= GetCurrentTimestamp())
			claim_rows(CLAIM_TRACK, Min(MAX_JOBS - njobs, MAX_JOBS / 4 - ntracking));
		timeout = start_due();
		write_outcomes();

		/*
		 * Wake for the next due poll, if there is room to make it (without
		 * room, a transfer that ends makes some, and wakes us).
		 */
		if (next_track != DT_NOEND && ntracking < MAX_JOBS / 4 && njobs < MAX_JOBS)
		{
			long		track_ms = Max(0, (long) ((next_track - GetCurrentTimestamp()) / 1000));

			if (timeout < 0 || track_ms < timeout)
				timeout = track_ms;
		}
		if (timeout < 0 || timeout > IDLE_WAKE_MS)
		{
			timeout = IDLE_WAKE_MS;
			queue_pending = true;	/* now and then, look anyway */
			next_track = 0;		/* and look for due polls */
		}
		gw_http_wait_and_dispatch(timeout);
		write_outcomes();
	}
}
