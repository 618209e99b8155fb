/*-------------------------------------------------------------------------
 *
 * job.c
 *	  One call in the worker's hands: its attempts (built, signed and sent
 *	  through the provider's file and http.c, each counted in its row
 *	  before it leaves), the judgement of every answer under error
 *	  recovery, retries with backoff, the read before a change, tracking
 *	  polls and the per-server rate limits.  What each request is signed
 *	  with comes from cred.c.
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
#include "job.h"


static GwRate *rates = NULL;

static void judge_track(GwJob *job);
static void cred_failure(GwJob *job);

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

/* ---- gw_jobs ---- */

void
gw_job_finish(GwJob *job, const char *status)
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

	ready = gw_provider(job->call.provider)->ready_for_change(status);
	if (ready && o->instance_spec && strcmp(o->instance_spec, job->call.spec) == 0)
	{
		memset(o, 0, sizeof(GwOutcome));
		job->http_status = 0;
		gw_job_finish(job, "unchanged");
		return;
	}
	if (!ready)
	{
		char	   *msg = psprintf("the instance is %s at %s; a change needs it %s: nothing was sent",
								   status, o->instance_spec ? o->instance_spec : "an unknown spec",
								   gw_provider(job->call.provider)->ready_states);

		memset(o, 0, sizeof(GwOutcome));
		o->verdict = GW_VERDICT_FAIL;
		o->error_code = pstrdup("InstanceNotReady");
		o->error_message = msg;
		job->http_status = 0;
		gw_job_finish(job, "failed");
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
judge_aux(GwJob *job, GwOp op, GwHttpResponse *resp)
{
	char	   *request_json = job->out.request_json;
	/* credential steps and reads each count their own attempts */
	int			attempts = op == GW_OP_CREDENTIAL ? job->cred_attempts :
		job->aux_attempts;

	if (job->out.verdict == GW_VERDICT_OK && op == GW_OP_CREDENTIAL)
	{
		job->out.request_json = request_json;
		gw_cred_step_done(job);
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
		 * An interrupted resize of a provider whose resize is not
		 * idempotent: look before sending again.  Changing, or already at
		 * the target: the provider had it.  Otherwise send it again.
		 */
		if ((job->out.instance_status &&
			 strcmp(job->out.instance_status,
					gw_provider(job->call.provider)->changing_status) == 0) ||
			(job->out.instance_spec &&
			 strcmp(job->out.instance_spec, job->call.spec) == 0))
		{
			job->out.error_message = NULL;
			job->out.request_json = request_json;
			gw_job_finish(job, "accepted");
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
	if (job->out.verdict == GW_VERDICT_RETRY && !hint_too_long(job) &&
		attempts <= job->server->max_retries)
	{
		job_retry_later(job, attempts);
		return;
	}
	/* the resize was never (re)sent: say why */
	job->out.job_id = NULL;
	job->out.request_json = request_json;
	if (op == GW_OP_CREDENTIAL)
	{
		if (gw_cred_failed(job))
			cred_failure(job);
		return;
	}
	if (job->reading)
		job->out.error_message = psprintf("could not read the instance before the change (the server option read_before_resize 'false' skips the read): %s",
										  job->out.error_message ?
										  job->out.error_message : "no answer");
	else
		job->out.error_message = psprintf("could not check the instance after an interruption: %s",
										  job->out.error_message ?
										  job->out.error_message : "no answer");
	job->out.response_json = NULL;
	gw_job_finish(job, "failed");
}

/* the server's poll interval, with +-20% jitter */
int
gw_poll_delay_ms(GwServer *server)
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
	const GwProviderRoutine *prov = gw_provider(job->call.provider);
	const char *running = prov->running_status;
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
		else if (prov->change_failed(status))
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
	gw_job_finish(job, "tracked");
}

/*
 * cred_failure
 *		The credentials of the job could not be obtained (its outcome says
 *		why): a tracking poll counts as a failed poll, and polls go on until
 *		the tracking deadline; any other request was not sent, and the call
 *		fails.
 */
static void
cred_failure(GwJob *job)
{
	job->out.response_json = NULL;
	if (job->tracking)
		judge_track(job);
	else
		gw_job_finish(job, "failed");
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
		if (op == GW_OP_CREDENTIAL)
			gw_cred_judge(job, resp);
		else
			gw_provider(job->call.provider)->judge(resp, op, &job->out);
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
next_step(GwJob *job, GwOp op, GwHttpResponse *resp)
{
	/*
	 * Any gateway request (the resize, a read, a poll) rejected because
	 * the credentials obtained for it are no longer valid: a new set, once,
	 * and the same request again.
	 */
	if (job->out.verdict == GW_VERDICT_REFRESH_TOKEN && gw_cred_refresh(job))
		return;

	if (job->tracking && op == GW_OP_DESCRIBE)
	{
		judge_track(job);
		return;
	}
	if (op != GW_OP_RESIZE)
	{
		judge_aux(job, op, resp);
		return;
	}

	switch (job->out.verdict)
	{
		case GW_VERDICT_OK:
			gw_job_finish(job, "accepted");
			break;
		case GW_VERDICT_REFRESH_TOKEN:
			/* the mapping's own credentials, or refreshed already: final */
			gw_job_finish(job, "failed");
			break;
		case GW_VERDICT_RETRY:
			if (hint_too_long(job))
				gw_job_finish(job, "failed");
			else if (job->run_attempts <= job->server->max_retries)
			{
				/*
				 * A resize that is not idempotent (Huawei's POST): after
				 * any answer but a 429 (a 5xx, a 2xx without the
				 * documented body), or a transport failure once the
				 * request left, look at the instance before sending it
				 * again.
				 */
				if (gw_provider(job->call.provider)->resend_needs_read &&
					resp->sent &&
					resp->http_status != 429)
					job->op = GW_OP_DESCRIBE;
				job_retry_later(job, job->run_attempts);
			}
			else
				gw_job_finish(job, "failed");
			break;
		case GW_VERDICT_FAIL:

			/*
			 * An answer to a re-sent resize saying the first send got
			 * through (Alibaba's RepeatedCommit for a re-sent Token):
			 * accepted; tracking tells how it ends.
			 */
			if (gw_provider(job->call.provider)->already_applied(&job->out) &&
				(job->run_attempts > 1 || job->reconciling))
				gw_job_finish(job, "accepted");
			else
				gw_job_finish(job, "failed");
			break;
	}
}

/*
 * transfer_done
 *		A transfer of the job ended: mask every secret the job knows in the
 *		answer (before anything of it is cut or decoded), judge it, mask
 *		what the judge decoded, bound every text, decide the next step.  A
 *		good answer of a credential source is the one answer not masked
 *		first: the credentials it brings may be the ones in use (a metadata
 *		service hands out the same set until it rotates it), and nothing of
 *		it is kept.  Nothing here may end the worker: an unexpected ERROR
 *		leaves a resize 'unknown' (to be reconciled) and a poll to be made
 *		again.
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
		GwMask	   *mask = gw_cred_mask(job);
		bool		masked;

		if (op != GW_OP_CREDENTIAL ||
			resp->http_status < 200 || resp->http_status >= 300)
			gw_mask_body(mask, &resp->body);
		judge_answer(job, resp, op);
		job->out.request_json = request_json;
		gw_http_release(t);

		/* nothing kept of an answer may quote a secret back */
		masked = gw_mask_outcome(mask, &job->out);
		pfree(mask);
		gw_bound_outcome(&job->out, masked);
		next_step(job, op, resp);
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
		/*
		 * whatever failed, its message is kept: mask secrets there too,
		 * with the sets the job knows now (next_step may have retired one)
		 */
		job->out.error_message = gw_mask_text(gw_cred_mask(job),
											  job->out.error_message, -1);
		if (job->tracking)
			job->track_status = NULL;	/* poll again later */
		gw_job_finish(job, job->tracking ? "tracked" :
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
	GwCreds    *signing = job->creds;
	GwHttpRequest *req;
	int64		wait_us;

	/* what it is signed with: obtained first, when it must be */
	if (job->op != GW_OP_CREDENTIAL)
	{
		GwCredState cs = gw_cred_prepare(job, &signing);

		if (cs != GW_CRED_READY)
		{
			if (cs == GW_CRED_FAILED)
				cred_failure(job);
			MemoryContextSwitchTo(old);
			return;
		}
	}

	/*
	 * The rate limit counts what reaches the gateway, not the credential
	 * sources; a slot once taken is kept until the request leaves.
	 */
	if (job->op != GW_OP_CREDENTIAL && !job->rate_slot)
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

	if (job->op == GW_OP_CREDENTIAL)
		req = gw_cred_request(job);
	else
		req = gw_provider(job->call.provider)->build_request(job->server,
															 signing, job->op,
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
	else if (job->op == GW_OP_CREDENTIAL)
		job->cred_attempts++;
	else
		job->aux_attempts++;
	job->xfer = gw_http_start(job->server, req, transfer_done, job);
	gw_request_wipe(req);		/* libcurl has its own copies of the headers */
	if (job->op != GW_OP_CREDENTIAL)
		job->rate_slot = false;
	MemoryContextSwitchTo(old);
}

void
gw_job_free(GwJob *job)
{
	if (job->xfer)
		gw_http_release(job->xfer);
	gw_cred_release(job);
	dlist_delete(&job->node);
	gw_njobs--;
	if (job->tracking)
		gw_ntracking--;
	MemoryContextDelete(job->cxt);
}

GwJob *
gw_job_new(void)
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
 * gw_start_due
 *		Start every job whose next attempt is due; returns the ms until the
 *		next one that is not (-1: none).
 */
long
gw_start_due(void)
{
	dlist_iter	it;
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz next = 0;
	bool		waiting = false;

	dlist_foreach(it, &gw_jobs)
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
