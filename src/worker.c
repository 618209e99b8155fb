/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The gwresize background worker: it owns every outbound call and every
 *	  write of a call's lifecycle to gw_audit.  This file is its loop and
 *	  what it may do in each state of the cluster; job.c runs one call's
 *	  attempts, claim.c takes calls and rows and commits their outcomes.
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
#include "job.h"


dlist_head	gw_jobs = DLIST_STATIC_INIT(gw_jobs);
int			gw_njobs = 0;
int			gw_ntracking = 0;		/* of which tracking polls */
TimestampTz gw_next_track = 0;		/* next tracking poll due; 0: look now,
								 * DT_NOEND: none */
TimestampTz gw_last_check = 0;		/* when check_state last ran; 0: now */
static GwInstallState state = GW_NOT_INSTALLED;	/* see check_state */
static bool reconciled = false;
static TimestampTz last_reconcile = 0;
static int	state_logged = -1;	/* the state last logged */
static uint32 state_generation = 0; /* gw_adopt() count seen */
static TimestampTz settle_at = 0;	/* a second look after a wake, or 0 */

#define SETTLE_MS 250

/* ---- transactions ---- */

static MemoryContext tx_caller_cxt = NULL;

/*
 * tx_begin, tx_commit
 *		Bracket a unit of work in its own transaction with SPI connected,
 *		shown in pg_stat_activity; the caller's memory context is restored
 *		after the commit.
 */
void
gw_tx_begin(const char *what)
{
	tx_caller_cxt = CurrentMemoryContext;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, what);
}

void
gw_tx_commit(void)
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
void
gw_reply(int slotno, uint64 ticket, int64 audit_id, const ErrorData *why)
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
			slot->sqlerrcode = why ? why->sqlerrcode : 0;
			strlcpy(slot->errmsg, why && why->message ? why->message : "",
					GW_ERRMSG_MAXLEN);
			strlcpy(slot->errdetail, why && why->detail ? why->detail : "",
					GW_ERRMSG_MAXLEN);
			strlcpy(slot->errhint, why && why->hint ? why->hint : "",
					GW_ERRMSG_MAXLEN);
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
	gw_shared->worker_procno = GW_MY_PROCNO;
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


void
gw_refuse_waiting_calls(void)
{
	int			i;
	ErrorData	why;

	memset(&why, 0, sizeof(why));
	why.sqlerrcode = ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE;
	why.message = state == GW_NEEDS_UPDATE ?
		"the installed gwresize SQL is older than its library" :
		state == GW_FOREIGN ?
		"gwresize is not active in this copy of the database" :
		"extension \"gwresize\" is not installed in the worker's database";
	why.hint = state == GW_NEEDS_UPDATE ? "Run ALTER EXTENSION gwresize UPDATE." :
		state == GW_FOREIGN ? "The extension owner decides with gw_adopt()." : NULL;

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
			gw_reply(i, ticket, 0, &why);
	}
}

/*
 * claim_calls
 *		Take the calls callers submitted and commit a 'sending' row for
 *		each, in one transaction.  A call that cannot be recorded (its
 *		instance has an open resize, its server vanished) is answered with
 *		the error at once.
 */

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
	PG_TRY();
	{
		gw_tx_begin("gwresize: checking the installation");
		st = gw_install_state(&recorded);
		if (st == GW_FOREIGN && (int) st != state_logged)
			open = gw_audit_open_rows();
		gw_tx_commit();
	}
	PG_CATCH();
	{
		/*
		 * The extension changed under us (a DROP whose invalidations we
		 * had not seen yet): nothing to serve until the next look, soon
		 */
		ErrorData  *edata;

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		pgstat_report_activity(STATE_IDLE, NULL);
		ereport(LOG,
				(errmsg("gwresize: could not read the installation in database \"%s\": %s; the worker looks again",
						gw_database_name, edata->message)));
		FreeErrorData(edata);
		state = GW_NOT_INSTALLED;
		state_logged = -1;
		settle_at = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), SETTLE_MS);
		return;
	}
	PG_END_TRY();

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
						 10 * 1000L, GW_WAIT_WORKER);
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

	/*
	 * Every statement the worker runs, it runs as a superuser: whatever the
	 * database's or the role's settings put on search_path (a database
	 * owner may ALTER DATABASE ... SET it), only pg_catalog is looked in.
	 */
	gw_pin_search_path(PGC_S_OVERRIDE);

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

		/*
		 * Whoever wakes us changes shared state first (a slot, a row, the
		 * recheck generation) and sets the latch after: what is read once
		 * the latch is reset is never older than the wake.
		 */
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
		if (gw_last_check == 0 || (state != GW_READY && woken) ||
			pg_atomic_read_u32(&gw_shared->recheck_generation) != state_generation ||
			(settle_at != 0 && GetCurrentTimestamp() >= settle_at) ||
			(state == GW_READY &&
			 TimestampDifferenceExceeds(gw_last_check, GetCurrentTimestamp(), IDLE_WAKE_MS)))
		{
			bool		again = settle_at == 0 && gw_last_check != 0;

			/*
			 * Commits wake us once their invalidations are out (entry.c),
			 * but a look that races a commit, or fails (check_state then
			 * sets settle_at itself), is repeated shortly: still nothing to
			 * serve after a wake means one more look.
			 */
			settle_at = 0;
			check_state();
			gw_last_check = GetCurrentTimestamp();
			if (settle_at == 0 && again && state != GW_READY)
				settle_at = TimestampTzPlusMilliseconds(gw_last_check, SETTLE_MS);
		}
		if (state != GW_READY)
		{
			/* nothing to serve: sleep until a call, a commit or a reload */
			gw_refuse_waiting_calls();
			gw_http_wait_and_dispatch(settle_at != 0 ? SETTLE_MS : NOT_READY_WAKE_MS);
			gw_write_outcomes();
			continue;
		}

		/* rows a crash or restart left in 'sending' become 'unknown' */
		if (!reconciled)
		{
			int			n;

			gw_tx_begin("gwresize: reconciling");
			n = gw_audit_reconcile_sending();
			gw_tx_commit();
			if (n > 0)
				ereport(LOG,
						(errmsg("gwresize: %d call(s) interrupted by a restart marked unknown", n)));
			reconciled = true;
		}

		gw_claim_calls();

		/*
		 * A commit that queued rows sets our latch; a claim that filled the
		 * room it had may have left more behind.
		 */
		if ((woken || queue_pending) && gw_njobs < MAX_JOBS)
		{
			int			room = MAX_JOBS - gw_njobs;

			queue_pending = gw_claim_rows(CLAIM_QUEUED, room) == room;
		}
		if (gw_njobs < MAX_JOBS &&
			TimestampDifferenceExceeds(last_reconcile, GetCurrentTimestamp(),
									   RECONCILE_MS))
		{
			int			room = MAX_JOBS - gw_njobs;

			/* a claim that filled its room looks again as soon as there is room */
			last_reconcile = gw_claim_rows(CLAIM_UNKNOWN, room) == room ? 0 :
				GetCurrentTimestamp();
		}
		/* accepted resizes whose next poll is due */
		/* polls take at most a quarter of the room: calls come first */
		if (gw_ntracking < MAX_JOBS / 4 && gw_njobs < MAX_JOBS &&
			gw_next_track <= GetCurrentTimestamp())
			gw_claim_rows(CLAIM_TRACK, Min(MAX_JOBS - gw_njobs, MAX_JOBS / 4 - gw_ntracking));
		timeout = gw_start_due();
		gw_write_outcomes();

		/*
		 * Wake for the next due poll, if there is room to make it (without
		 * room, a transfer that ends makes some, and wakes us).
		 */
		if (gw_next_track != DT_NOEND && gw_ntracking < MAX_JOBS / 4 && gw_njobs < MAX_JOBS)
		{
			long		track_ms = Max(0, (long) ((gw_next_track - GetCurrentTimestamp()) / 1000));

			if (timeout < 0 || track_ms < timeout)
				timeout = track_ms;
		}
		if (timeout < 0 || timeout > IDLE_WAKE_MS)
		{
			timeout = IDLE_WAKE_MS;
			queue_pending = true;	/* now and then, look anyway */
			gw_next_track = 0;		/* and look for due polls */
		}
		gw_http_wait_and_dispatch(timeout);
		gw_write_outcomes();
	}
}

