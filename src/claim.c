/*-------------------------------------------------------------------------
 *
 * claim.c
 *	  What the worker takes and what it commits: the calls callers hand
 *	  over (their rows written), queued, interrupted and tracked rows
 *	  claimed from gw_audit, each resolved (server, mapping, USAGE) in a
 *	  subtransaction; and the outcomes, retries and attempt counts of the
 *	  calls in hand, committed in one transaction before callers are woken.
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
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "gwresize.h"
#include "job.h"


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
job_setup(GwJob *job, bool insert)
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
		/*
		 * The role, by the OID its row recorded: a role dropped and created
		 * again under the same name is another role, and takes over no
		 * call of the old one
		 */
		if (!OidIsValid(job->call.userid) ||
			!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(job->call.userid)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("the role that requested the call no longer exists")));
		job->server = gw_get_server(job->call.serverid);
		job->server_name = job->server->name;
		gw_check_server(job->server, job->call.provider, job->call.userid);
		job->creds = gw_get_creds(job->server, job->call.userid);
		/* an altered mapping or server: its credentials are looked at again */
		if (!job->cred_fetcher)
			job->cred_planned = false;
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
	gw_job_finish(job, "failed");
	MemoryContextSwitchTo(old);
}

/*
 * refuse_waiting_calls
 *		While there is nothing to serve (see check_state), calls handed over
 *		(in a race with what the caller checked) are answered with why.
 */

void
gw_claim_calls(void)
{
	int			claimed[MAX_JOBS];
	int			n = 0;
	int			i;
	dlist_head	recorded = DLIST_STATIC_INIT(recorded);
	dlist_mutable_iter it;

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < gw_shared->nslots && n < MAX_JOBS - gw_njobs; i++)
		if (gw_shared->slots[i].state == GW_SLOT_SUBMITTED)
		{
			gw_shared->slots[i].state = GW_SLOT_CLAIMED;
			claimed[n++] = i;
		}
	LWLockRelease(gw_shared->lock);
	if (n == 0)
		return;

	gw_tx_begin("gwresize: recording calls");
	for (i = 0; i < n; i++)
	{
		GwSlot	   *slot = &gw_shared->slots[claimed[i]];
		GwJob	   *job = gw_job_new();
		ErrorData  *edata;

		job->slot = claimed[i];
		job->ticket = slot->ticket;
		memcpy(&job->call, &slot->call, sizeof(GwCall));
		edata = job_setup(job, true);
		if (edata)
		{
			gw_reply(claimed[i], job->ticket, 0, edata);
			FreeErrorData(edata);
			MemoryContextDelete(job->cxt);
			continue;
		}
		dlist_push_tail(&recorded, &job->node);
	}
	gw_tx_commit();

	/* the rows are committed: now, and only now, the requests may leave */
	dlist_foreach_modify(it, &recorded)
	{
		dlist_delete(it.cur);
		dlist_push_tail(&gw_jobs, it.cur);
		gw_njobs++;
	}
}

/* the provider a gw_audit row names */
static GwProvider
provider_of(const char *name)
{
	const GwProviderRoutine *p = gw_provider_by_name(name);

	if (p == NULL)
		elog(ERROR, "gw_audit row of unknown provider \"%s\"", name);
	return p->id;
}

/* the gw_audit ids of the gw_jobs in hand, as an int8[] */
static Datum
held_ids(void)
{
	Datum	   *ids = palloc(sizeof(Datum) * Max(gw_njobs, 1));
	int			n = 0;
	dlist_iter	it;

	dlist_foreach(it, &gw_jobs)
		ids[n++] = Int64GetDatum(dlist_container(GwJob, node, it.cur)->audit_id);
	return PointerGetDatum(construct_array(ids, n, INT8OID, 8, true, TYPALIGN_DOUBLE));
}

/*
 * gw_claim_rows
 *		Queued rows (CLAIM_QUEUED), rows a restart left unknown
 *		(CLAIM_UNKNOWN) or accepted rows due for a tracking poll
 *		(CLAIM_TRACK), at most room of them: claimed and committed in one
 *		transaction, then handed to gw_jobs.  Rows that cannot be sent
 *		(server or role gone, nothing left to try) are finished as failed.
 *		Returns how many rows were claimed.
 */
int
gw_claim_rows(ClaimKind kind, int room)
{
	bool		reconcile = kind == CLAIM_UNKNOWN;
	int			n,
				i;
	GwJob	  **claimed;

	if (room <= 0)
		return 0;
	/* in the caller's context: they outlive the transaction */
	claimed = palloc0(sizeof(GwJob *) * room);
	gw_tx_begin(kind == CLAIM_UNKNOWN ? "gwresize: reconciling interrupted calls" :
			 kind == CLAIM_TRACK ? "gwresize: tracking accepted resizes" :
			 "gwresize: claiming queued calls");
	/* (the claims themselves take only this cluster's rows: CLAIM_OURS) */
	if (!OidIsValid(gw_audit_relid()))
	{
		gw_tx_commit();
		gw_last_check = 0;			/* look again, and say why */
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
		GwJob	   *job = gw_job_new();
		char	   *v;
		MemoryContext old = MemoryContextSwitchTo(job->cxt);

		job->audit_id = atoll(SPI_getvalue(tup, desc, 1));
		job->call.provider = provider_of(SPI_getvalue(tup, desc, 2));
		job->server_name = SPI_getvalue(tup, desc, 3);
		strlcpy(job->call.instance_id, SPI_getvalue(tup, desc, 4), GW_ID_MAXLEN + 1);
		strlcpy(job->call.spec, SPI_getvalue(tup, desc, 5), GW_SPEC_MAXLEN + 1);
		strlcpy(job->call.action, SPI_getvalue(tup, desc, 6), sizeof(job->call.action));
		job->call.auto_pay = strcmp(SPI_getvalue(tup, desc, 7), "t") == 0;
		job->call.skip_wait_switch = strcmp(SPI_getvalue(tup, desc, 8), "t") == 0;
		if ((v = SPI_getvalue(tup, desc, 9)) != NULL)
			strlcpy(job->call.token, v, GW_TOKEN_MAXLEN + 1);
		if ((v = SPI_getvalue(tup, desc, 10)) != NULL)
			job->call.userid = atooid(v);	/* NULL: no such role */
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
		gw_next_track = gw_audit_next_poll();
		if (gw_next_track == 0)
			gw_next_track = DT_NOEND;	/* nothing tracked */
	}

	for (i = 0; i < n; i++)
	{
		GwJob	   *job = claimed[i];
		ErrorData  *edata = job_setup(job, false);

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
			/* re-send an idempotent resize (a Token); else look first */
			if (gw_provider(job->call.provider)->resend_needs_read)
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
	gw_tx_commit();

	for (i = 0; i < n; i++)
	{
		if (claimed[i] == NULL)
			continue;
		dlist_push_tail(&gw_jobs, &claimed[i]->node);
		gw_njobs++;
		if (kind == CLAIM_TRACK)
			gw_ntracking++;
	}
	return n;
}

/*
 * gw_write_outcomes
 *		In one transaction: count the resize attempts about to leave, note
 *		retries and write the outcomes of finished jobs; once committed, the
 *		counted attempts may leave and the callers of finished jobs hear.
 */
void
gw_write_outcomes(void)
{
	dlist_mutable_iter it;
	bool		any = false;

	dlist_foreach_modify(it, &gw_jobs)
	{
		GwJob	   *job = dlist_container(GwJob, node, it.cur);

		if (job->finished || job->retry_noted || job->reserve_pending)
			any = true;
	}
	if (!any)
		return;

	gw_tx_begin("gwresize: recording outcomes");

	/*
	 * Resize attempts about to leave: count each in its row, unless the
	 * server, mapping or privilege it needs is gone, or the row was
	 * cancelled while it waited.
	 */
	dlist_foreach_modify(it, &gw_jobs)
	{
		GwJob	   *job = dlist_container(GwJob, node, it.cur);
		ErrorData  *edata;

		if (!job->reserve_pending || job->finished)
			continue;
		if ((edata = job_setup(job, false)) != NULL)
		{
			not_sent(job, edata);
			FreeErrorData(edata);
		}
		else if (!gw_audit_reserve(job->audit_id, job->attempts + 1))
		{
			job->vanished = true;
			gw_job_finish(job, NULL);
		}
	}

	dlist_foreach_modify(it, &gw_jobs)
	{
		GwJob	   *job = dlist_container(GwJob, node, it.cur);

		if (job->finished && !job->vanished)
		{
			job->poll_ms = gw_poll_delay_ms(job->server);
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
	gw_tx_commit();

	dlist_foreach_modify(it, &gw_jobs)
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
			gw_reply(job->slot, job->ticket, job->audit_id, NULL);
		/* a poll was scheduled: make sure we wake for it */
		if (!job->vanished &&
			((job->tracking && job->track_status == NULL) ||
			 (!job->tracking && strcmp(job->final_status, "accepted") == 0)))
		{
			TimestampTz due = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														  job->poll_ms);

			if (due < gw_next_track)
				gw_next_track = due;
		}
		gw_job_free(job);
	}
}

