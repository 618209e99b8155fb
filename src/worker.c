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
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "lib/ilist.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "gwresize.h"

#define BACKOFF_BASE_MS 250
#define BACKOFF_CAP_MS	20000
#define IDLE_WAKE_MS	10000

typedef struct GwJob
{
	dlist_node	node;
	MemoryContext cxt;			/* everything of this job */
	int64		audit_id;
	int			slot;			/* shared-memory slot of a sync caller */
	uint64		ticket;
	GwCall		call;
	GwServer   *server;
	GwCreds    *creds;
	GwOp		op;				/* what the next attempt sends */
	int			attempts;		/* resize attempts made */
	int			iam_attempts;	/* IAM token requests made */
	bool		token_refreshed;
	TimestampTz next_at;
	GwTransfer *xfer;			/* non-NULL while in flight */
	bool		finished;
	const char *final_status;
	long		http_status;
	GwOutcome	out;
} GwJob;

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

static dlist_head jobs = DLIST_STATIC_INIT(jobs);
static GwTokenEntry *tokens = NULL;
static bool reconciled = false;

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
	if (t == 0)					/* no usable expiry: keep it an hour */
		t = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 3600 * 1000);
	return TimestampTzPlusMilliseconds(t, -300 * 1000);
}

/* ---- jobs ---- */

static void
job_finish(GwJob *job, const char *status)
{
	job->finished = true;
	job->final_status = status;
}

static long
backoff_ms(GwJob *job)
{
	double		cap = Min((double) BACKOFF_CAP_MS,
						  (double) BACKOFF_BASE_MS * pow(2.0, job->attempts - 1));
	long		ms = (long) (pg_prng_double(&pg_global_prng_state) * cap);

	/* full jitter, but never sooner than the provider asked */
	return Max(ms, (long) job->out.retry_after_ms);
}

static void
transfer_done(GwTransfer *t, void *arg)
{
	GwJob	   *job = (GwJob *) arg;
	GwHttpResponse *resp = gw_http_response(t);
	MemoryContext old = MemoryContextSwitchTo(job->cxt);
	GwOp		op = job->op;
	char	   *request_json = job->out.request_json;
	GwTokenEntry *te = NULL;

	gw_judge(job->call.provider, resp, op, &job->out);
	job->out.request_json = request_json;
	job->http_status = resp->http_status;
	gw_http_release(t);
	job->xfer = NULL;

	if (job->creds->kind == GW_AUTH_PASSWORD)
		te = token_entry(job->server->serverid, job->call.userid);

	if (op == GW_OP_IAM_TOKEN)
	{
		te->fetching = false;
		if (job->out.verdict == GW_VERDICT_OK)
		{
			token_forget(te);
			te->token = MemoryContextStrdup(TopMemoryContext, resp->subject_token);
			te->expires_at = token_refresh_at(job->out.job_id);
			explicit_bzero(resp->subject_token, strlen(resp->subject_token));
			memset(&job->out, 0, sizeof(GwOutcome));
			job->out.request_json = request_json;
			job->op = GW_OP_RESIZE;
			job->next_at = GetCurrentTimestamp();
		}
		else if (job->out.verdict == GW_VERDICT_RETRY &&
				 job->iam_attempts <= job->server->max_retries)
			job->next_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													   backoff_ms(job));
		else
		{
			/* the resize was never sent: say why, as IAM's error */
			job->out.job_id = NULL;
			job->out.error_code = psprintf("IAM.%s", job->out.error_code ?
										   job->out.error_code : "error");
			job->out.error_message = psprintf("IAM token request failed: %s",
											  job->out.error_message ?
											  job->out.error_message : "no answer");
			job->out.response_json = NULL;
			job_finish(job, "failed");
		}
		MemoryContextSwitchTo(old);
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
				job->op = GW_OP_IAM_TOKEN;
				job->next_at = GetCurrentTimestamp();
			}
			else
				job_finish(job, "failed");
			break;
		case GW_VERDICT_RETRY:
			if (job->attempts <= job->server->max_retries)
				job->next_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														   backoff_ms(job));
			else
				job_finish(job, "failed");
			break;
		case GW_VERDICT_FAIL:
			job_finish(job, "failed");
			break;
	}
	MemoryContextSwitchTo(old);
}

/*
 * start_attempt
 *		Build, sign and send the job's next request.
 */
static void
start_attempt(GwJob *job)
{
	MemoryContext old = MemoryContextSwitchTo(job->cxt);
	const char *iam_token = NULL;
	GwHttpRequest *req;

	if (job->creds->kind == GW_AUTH_PASSWORD && job->op == GW_OP_RESIZE)
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
			job->op = GW_OP_IAM_TOKEN;
		}
	}

	req = gw_build_request(job->server, job->creds, iam_token, job->op,
						   &job->call);
	if (job->op == GW_OP_RESIZE)
	{
		StringInfoData rj;

		job->attempts++;
		initStringInfo(&rj);
		gw_request_json(&rj, req);
		job->out.request_json = rj.data;
	}
	else
		job->iam_attempts++;
	job->xfer = gw_http_start(job->server, req, transfer_done, job);
	MemoryContextSwitchTo(old);
}

static void
job_free(GwJob *job)
{
	if (job->xfer)
		gw_http_release(job->xfer);
	dlist_delete(&job->node);
	MemoryContextDelete(job->cxt);
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
	int			claimed[1024];
	int			n = 0;
	int			i;
	dlist_head	recorded = DLIST_STATIC_INIT(recorded);
	dlist_mutable_iter it;
	MemoryContext txcxt;
	ResourceOwner txowner;

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < gw_shared->nslots && n < lengthof(claimed); i++)
		if (gw_shared->slots[i].state == GW_SLOT_SUBMITTED)
		{
			gw_shared->slots[i].state = GW_SLOT_CLAIMED;
			claimed[n++] = i;
		}
	LWLockRelease(gw_shared->lock);
	if (n == 0)
		return;

	tx_begin("gwresize: recording calls");
	if (!reconciled && OidIsValid(gw_audit_relid()))
	{
		gw_audit_reconcile_sending();
		reconciled = true;
	}
	txcxt = CurrentMemoryContext;
	txowner = CurrentResourceOwner;
	for (i = 0; i < n; i++)
	{
		GwSlot	   *slot = &gw_shared->slots[claimed[i]];
		GwJob	   *job;
		MemoryContext cxt;

		cxt = AllocSetContextCreate(TopMemoryContext, "gwresize job",
									ALLOCSET_SMALL_SIZES);
		job = MemoryContextAllocZero(cxt, sizeof(GwJob));
		job->cxt = cxt;
		job->slot = claimed[i];
		job->ticket = slot->ticket;
		memcpy(&job->call, &slot->call, sizeof(GwCall));
		job->op = GW_OP_RESIZE;
		job->next_at = 0;

		/* each call in a subtransaction: one bad call spoils no other */
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(cxt);
		PG_TRY();
		{
			int64		conflict = 0;
			char	   *params;

			job->server = gw_get_server(job->call.serverid);
			job->creds = gw_get_creds(job->server, job->call.userid);
			params = gw_params_json(&job->call, job->server);
			job->audit_id = gw_audit_insert(&job->call, job->server, "sending",
											params, NULL,
											GetUserNameFromId(job->call.userid, false),
											&conflict);
			if (job->audit_id == 0)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_IN_USE),
						 errmsg("instance \"%s\" already has a resize in progress",
								job->call.instance_id),
						 errdetail("gw_audit row %lld is still open.",
								   (long long) conflict)));
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(txcxt);
			CurrentResourceOwner = txowner;
			dlist_push_tail(&recorded, &job->node);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(txcxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(txcxt);
			CurrentResourceOwner = txowner;
			reply(claimed[i], job->ticket, 0, edata->sqlerrcode, edata->message);
			FreeErrorData(edata);
			MemoryContextDelete(cxt);
		}
		PG_END_TRY();
	}
	tx_commit();

	/* the rows are committed: now, and only now, the requests may leave */
	dlist_foreach_modify(it, &recorded)
	{
		dlist_delete(it.cur);
		dlist_push_tail(&jobs, it.cur);
	}
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

	dlist_foreach(it, &jobs)
	{
		GwJob	   *job = dlist_container(GwJob, node, it.cur);

		if (job->finished || job->xfer)
			continue;
		if (job->next_at <= now)
			start_attempt(job);
		if (!job->finished && !job->xfer && (next == 0 || job->next_at < next))
			next = job->next_at;
	}
	if (next == 0)
		return -1;
	return Max(0, (long) ((next - now) / 1000));
}

/*
 * finish_jobs
 *		Commit the outcome of every finished job in one transaction, then
 *		wake their callers.
 */
static void
finish_jobs(void)
{
	dlist_mutable_iter it;
	bool		any = false;

	dlist_foreach_modify(it, &jobs)
		if (dlist_container(GwJob, node, it.cur)->finished)
			any = true;
	if (!any)
		return;

	tx_begin("gwresize: recording outcomes");
	dlist_foreach_modify(it, &jobs)
	{
		GwJob	   *job = dlist_container(GwJob, node, it.cur);

		if (job->finished)
			gw_audit_finish_call(job->audit_id, job->final_status, job->attempts,
								 job->http_status, &job->out);
	}
	tx_commit();

	dlist_foreach_modify(it, &jobs)
	{
		GwJob	   *job = dlist_container(GwJob, node, it.cur);

		if (!job->finished)
			continue;
		if (job->slot >= 0)
			reply(job->slot, job->ticket, job->audit_id, 0, NULL);
		job_free(job);
	}
}

void
gw_worker_main(Datum main_arg)
{
	MemoryContext loopcxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(gw_database_name, NULL, 0);
	pgstat_report_appname("gwresize worker");

	gw_http_init();
	worker_attach();

	/* rows a crash left in 'sending' become 'unknown' */
	tx_begin("gwresize: reconciling");
	if (OidIsValid(gw_audit_relid()))
	{
		int			n = gw_audit_reconcile_sending();

		if (n > 0)
			ereport(LOG,
					(errmsg("gwresize: %d call(s) interrupted by a restart marked unknown", n)));
		reconciled = true;
	}
	tx_commit();

	loopcxt = AllocSetContextCreate(TopMemoryContext, "gwresize loop",
									ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		long		timeout;

		MemoryContextSwitchTo(loopcxt);
		MemoryContextReset(loopcxt);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		claim_calls();
		timeout = start_due();
		finish_jobs();
		if (timeout < 0 || timeout > IDLE_WAKE_MS)
			timeout = IDLE_WAKE_MS;
		gw_http_wait_and_dispatch(timeout);
		finish_jobs();
	}
}
