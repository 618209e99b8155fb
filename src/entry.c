/*-------------------------------------------------------------------------
 *
 * entry.c
 *	  The SQL functions: hand-off to the worker, waiting for its answer,
 *	  the returned gw_audit row, the transactional outbox, gw_wait,
 *	  gw_cancel and gw_adopt (argument checks in args.c, prerequisites and
 *	  reading gw_audit in access.c).
 *
 * Every argument is checked before anything is recorded or sent.  A
 * synchronous call is handed to the worker through a shared-memory slot;
 * the caller sleeps on its latch, so a cancel or statement_timeout ends
 * the wait at once while the worker goes on to record the true outcome.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "gwresize.h"

PG_FUNCTION_INFO_V1(gw_modify_spec);
PG_FUNCTION_INFO_V1(gw_resize);
PG_FUNCTION_INFO_V1(gw_modify_spec_async);
PG_FUNCTION_INFO_V1(gw_resize_async);
PG_FUNCTION_INFO_V1(gw_wait);
PG_FUNCTION_INFO_V1(gw_cancel);
PG_FUNCTION_INFO_V1(gw_adopt);

/*
 * Calls queued by the current transaction: the worker is woken when it
 * commits, and a synchronous call or gw_wait() in the same transaction on
 * one of them is refused (it could only wait for itself).
 */
typedef struct QueuedCall
{
	int64		id;
	GwProvider	provider;
	char		instance_id[GW_ID_MAXLEN + 1];
} QueuedCall;

static QueuedCall *queued = NULL;	/* in TopTransactionContext */
static int	nqueued = 0;
static int	queued_alloc = 0;
static bool xact_cb_registered = false;
static bool wake_at_commit = false; /* the installation changed: the worker
										 * looks again ... */
static bool wake_after_commit = false;	/* ... once the commit is out */

/* the slot this backend waits on, for the exit callback */
static int	my_slot = -1;
static uint64 my_ticket = 0;
static bool exit_cb_registered = false;

/* ---- the transactional outbox ---- */

/*
 * The worker is woken when what it must see is visible.  Queued rows are
 * once the commit's transaction callbacks run: it is woken there.  A
 * change of the extension (CREATE, ALTER or DROP EXTENSION, gw_adopt())
 * must also reach its caches, and the commit sends its invalidations after
 * those callbacks: so the commit sets wake_after_commit, and a
 * resource-release callback of the top transaction, after its locks (after
 * AtEOXact_Inval), wakes.
 */

static void
gw_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (nqueued > 0)
				gw_wake_worker();	/* the queued rows are visible now */
			wake_after_commit = wake_at_commit;
			pg_fallthrough;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			queued = NULL;		/* freed with TopTransactionContext */
			nqueued = 0;
			queued_alloc = 0;
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

static void
gw_release_callback(ResourceReleasePhase phase, bool isCommit,
					bool isTopLevel, void *arg)
{
	if (phase != RESOURCE_RELEASE_AFTER_LOCKS || !isTopLevel || !wake_after_commit)
		return;
	wake_after_commit = false;
	if (!isCommit)
		return;
	if (gw_shared)
		pg_atomic_fetch_add_u32(&gw_shared->recheck_generation, 1);
	gw_wake_worker();			/* the catalog is current */
}

static void
remember_xact_callback(void)
{
	if (!xact_cb_registered)
	{
		RegisterXactCallback(gw_xact_callback, NULL);
		RegisterResourceReleaseCallback(gw_release_callback, NULL);
		xact_cb_registered = true;
	}
}

static void
remember_queued(int64 id, const GwCall *call)
{
	remember_xact_callback();
	if (nqueued == queued_alloc)
	{
		queued_alloc = Max(8, queued_alloc * 2);
		queued = queued ?
			repalloc(queued, queued_alloc * sizeof(QueuedCall)) :
			MemoryContextAlloc(TopTransactionContext,
							   queued_alloc * sizeof(QueuedCall));
	}
	queued[nqueued].id = id;
	queued[nqueued].provider = call->provider;
	strlcpy(queued[nqueued].instance_id, call->instance_id, GW_ID_MAXLEN + 1);
	nqueued++;
}

/* a call this transaction queued for the same instance, or row id, or -1 */
static int
queued_here(const GwCall *call, int64 id)
{
	int			i;

	for (i = 0; i < nqueued; i++)
		if ((call && queued[i].provider == call->provider &&
			 strcmp(queued[i].instance_id, call->instance_id) == 0) ||
			(!call && queued[i].id == id))
			return i;
	return -1;
}

/* ---- hand-off and waiting ---- */

static void
abandon_slot(void)
{
	GwSlot	   *slot;

	if (my_slot < 0)
		return;
	slot = &gw_shared->slots[my_slot];
	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	if (slot->ticket == my_ticket)
	{
		if (slot->state == GW_SLOT_DONE || slot->state == GW_SLOT_SUBMITTED)
			slot->state = GW_SLOT_FREE; /* nothing recorded yet, or all done */
		else if (slot->state == GW_SLOT_CLAIMED)
			slot->abandoned = true; /* the worker frees it */
	}
	LWLockRelease(gw_shared->lock);
	my_slot = -1;
}

static void
abandon_slot_at_exit(int code, Datum arg)
{
	abandon_slot();
}

/*
 * submit_and_wait
 *		Hand call to the worker and sleep until it answers.  Returns the
 *		audit row's id; a call the worker could not record raises its error.
 */
static int64
submit_and_wait(const GwCall *call)
{
	int			i;
	GwSlot	   *slot = NULL;
	int64		audit_id = 0;
	int			sqlerrcode = 0;
	char		errmsg_buf[GW_ERRMSG_MAXLEN];
	char		detail_buf[GW_ERRMSG_MAXLEN];
	char		hint_buf[GW_ERRMSG_MAXLEN];

	if (!exit_cb_registered)
	{
		before_shmem_exit(abandon_slot_at_exit, (Datum) 0);
		exit_cb_registered = true;
	}

	LWLockAcquire(gw_shared->lock, LW_EXCLUSIVE);
	for (i = 0; i < gw_shared->nslots; i++)
		if (gw_shared->slots[i].state == GW_SLOT_FREE)
		{
			slot = &gw_shared->slots[i];
			memcpy(&slot->call, call, sizeof(GwCall));
			slot->abandoned = false;
			slot->caller_procno = GW_MY_PROCNO;
			slot->ticket = gw_shared->next_ticket++;
			slot->audit_id = 0;
			slot->sqlerrcode = 0;
			slot->errmsg[0] = '\0';
			slot->errdetail[0] = '\0';
			slot->errhint[0] = '\0';
			slot->state = GW_SLOT_SUBMITTED;
			my_slot = i;
			my_ticket = slot->ticket;
			break;
		}
	LWLockRelease(gw_shared->lock);
	if (slot == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many gwresize calls are waiting"),
				 errdetail("All %d slots for synchronous calls are in use.",
						   gw_shared->nslots),
				 errhint("Retry, use the _async functions, or raise gwresize.max_pending.")));

	gw_wake_worker();

	PG_TRY();
	{
		for (;;)
		{
			bool		done;

			LWLockAcquire(gw_shared->lock, LW_SHARED);
			done = slot->state == GW_SLOT_DONE;
			if (done)
			{
				audit_id = slot->audit_id;
				sqlerrcode = slot->sqlerrcode;
				strlcpy(errmsg_buf, slot->errmsg, sizeof(errmsg_buf));
				strlcpy(detail_buf, slot->errdetail, sizeof(detail_buf));
				strlcpy(hint_buf, slot->errhint, sizeof(hint_buf));
			}
			LWLockRelease(gw_shared->lock);
			if (done)
				break;

			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 1000L, GW_WAIT_CALL);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		abandon_slot();
		PG_RE_THROW();
	}
	PG_END_TRY();
	abandon_slot();				/* frees the slot */

	/* the worker's refusal, whole: code, message, detail and hint */
	if (audit_id == 0)
		ereport(ERROR,
				(errcode(sqlerrcode ? sqlerrcode : ERRCODE_INTERNAL_ERROR),
				 errmsg("%s", errmsg_buf),
				 detail_buf[0] ? errdetail("%s", detail_buf) : 0,
				 hint_buf[0] ? errhint("%s", hint_buf) : 0));
	return audit_id;
}

/* ---- dry run ---- */

static void
set_col(TupleDesc desc, Datum *values, bool *nulls, const char *name, Datum v)
{
	int			attno = SPI_fnumber(desc, name);

	if (attno <= 0)
		elog(ERROR, "gw_audit has no column \"%s\"", name);
	values[attno - 1] = v;
	nulls[attno - 1] = false;
}

static Datum
jsonb_datum(const char *json)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
}

/*
 * dry_run_row
 *		The row a call would write, status 'dry_run', with the exact request
 *		(secrets and signature masked).  Nothing is sent or written.  A
 *		mapping whose calls sign with temporary credentials shows the
 *		request signed with the placeholder TEMPORARY: only the worker
 *		obtains them.
 */
static Datum
dry_run_row(FunctionCallInfo fcinfo, GwServer *server, GwCreds *creds,
			const GwCall *call)
{
	TupleDesc	desc;
	Datum	   *values;
	bool	   *nulls;
	GwHttpRequest *req;
	StringInfoData rj;
	int			i;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "function returning gw_audit called in an unexpected way");
	desc = BlessTupleDesc(desc);
	values = palloc0(desc->natts * sizeof(Datum));
	nulls = palloc(desc->natts * sizeof(bool));
	for (i = 0; i < desc->natts; i++)
		nulls[i] = true;

	if (creds->kind == GW_AUTH_METADATA || creds->role_arn || creds->agency_name)
	{
		GwCreds    *placeholder = palloc0(sizeof(GwCreds));

		placeholder->kind = gw_provider(call->provider)->temporary_kind;
		placeholder->access_key = "TEMPORARY";
		placeholder->secret = "TEMPORARY";
		placeholder->security_token = "TEMPORARY";
		creds = placeholder;
	}
	req = gw_provider(call->provider)->build_request(server, creds,
													 GW_OP_RESIZE, call);
	initStringInfo(&rj);
	gw_request_json(&rj, req);

	set_col(desc, values, nulls, "provider",
			CStringGetTextDatum(gw_provider_name(call->provider)));
	set_col(desc, values, nulls, "server_name", CStringGetTextDatum(server->name));
	set_col(desc, values, nulls, "instance_id", CStringGetTextDatum(call->instance_id));
	set_col(desc, values, nulls, "target_spec", CStringGetTextDatum(call->spec));
	set_col(desc, values, nulls, "params", jsonb_datum(gw_params_json(call, server)));
	set_col(desc, values, nulls, "request", jsonb_datum(rj.data));
	if (gw_provider(call->provider)->has_client_token)
		set_col(desc, values, nulls, "client_token", CStringGetTextDatum(call->token));
	set_col(desc, values, nulls, "mode", CStringGetTextDatum("sync"));
	set_col(desc, values, nulls, "status", CStringGetTextDatum("dry_run"));
	set_col(desc, values, nulls, "attempts", Int32GetDatum(0));
	set_col(desc, values, nulls, "requested_by",
			DirectFunctionCall1(namein,
								CStringGetDatum(GetUserNameFromId(GetUserId(), false))));
	set_col(desc, values, nulls, "requested_at",
			TimestampTzGetDatum(GetCurrentTimestamp()));
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

/* ---- the common path ---- */

static Datum
run_call(FunctionCallInfo fcinfo, GwCall *call, const char *servername,
		 bool dry_run)
{
	GwServer   *server;
	GwCreds    *creds;
	TupleDesc	desc;
	HeapTuple	tup;
	int64		id;

	if (!dry_run)
		gw_refuse_on_standby("send a resize");
	gw_require_worker_setup();
	call->userid = GetUserId();
	server = gw_lookup_server(servername, call->provider, call->userid);
	creds = gw_get_creds(server, call->userid);
	call->serverid = server->serverid;

	if (dry_run)
		return dry_run_row(fcinfo, server, creds, call);
	gw_require_active("send a resize", false);

	if (queued_here(call, 0) >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("instance \"%s\" already has a resize in progress",
						call->instance_id),
				 errdetail("This transaction queued gw_audit row %lld for it; it is sent when the transaction commits.",
						   (long long) queued[queued_here(call, 0)].id)));

	id = submit_and_wait(call);
	tup = gw_fetch_row(fcinfo, id, &desc);
	gw_raise_if_failed(tup, desc, id);
	return HeapTupleGetDatum(tup);
}

/*
 * gw_modify_spec(instance_id, instance_spec, modify_action, auto_pay,
 *				  skip_wait_switch, token, server, dry_run) RETURNS gw_audit
 */
Datum
gw_modify_spec(PG_FUNCTION_ARGS)
{
	GwCall		call;
	char	   *server;
	bool		dry_run;

	memset(&call, 0, sizeof(call));
	call.provider = GW_ALIYUN;
	gw_provider(GW_ALIYUN)->read_args(fcinfo, &call);
	server = gw_arg_server(fcinfo, 6);
	dry_run = gw_arg_bool(fcinfo, 7, "dry_run");

	return run_call(fcinfo, &call, server, dry_run);
}

/*
 * gw_resize(instance_id, spec_id, server, dry_run) RETURNS gw_audit
 */
Datum
gw_resize(PG_FUNCTION_ARGS)
{
	GwCall		call;
	char	   *server;
	bool		dry_run;

	memset(&call, 0, sizeof(call));
	call.provider = GW_HUAWEI;
	gw_provider(GW_HUAWEI)->read_args(fcinfo, &call);
	server = gw_arg_server(fcinfo, 2);
	dry_run = gw_arg_bool(fcinfo, 3, "dry_run");

	return run_call(fcinfo, &call, server, dry_run);
}

/*
 * run_async
 *		Queue call in the caller's transaction (the transactional outbox):
 *		the row is inserted 'queued' and the worker is woken at commit; a
 *		rollback sends nothing.  Returns the row's id.
 */
static int64
run_async(GwCall *call, const char *servername)
{
	GwServer   *server;
	GwOwnerScope scope;
	int64		id;
	char	   *who;

	gw_refuse_on_standby("queue a resize");
	gw_require_worker_setup();
	gw_require_active("queue a resize", false);
	call->userid = GetUserId();
	call->async = true;
	server = gw_lookup_server(servername, call->provider, call->userid);
	(void) gw_get_creds(server, call->userid);
	call->serverid = server->serverid;
	who = GetUserNameFromId(call->userid, false);

	gw_owner_begin(&scope);
	id = gw_audit_insert(call, server, "queued", gw_params_json(call, server),
						 who);
	gw_owner_end(&scope);
	remember_queued(id, call);
	return id;
}

/*
 * gw_modify_spec_async(instance_id, instance_spec, modify_action, auto_pay,
 *						skip_wait_switch, token, server) RETURNS bigint
 */
Datum
gw_modify_spec_async(PG_FUNCTION_ARGS)
{
	GwCall		call;
	char	   *server;

	memset(&call, 0, sizeof(call));
	call.provider = GW_ALIYUN;
	gw_provider(GW_ALIYUN)->read_args(fcinfo, &call);
	server = gw_arg_server(fcinfo, 6);
	PG_RETURN_INT64(run_async(&call, server));
}

/*
 * gw_resize_async(instance_id, spec_id, server) RETURNS bigint
 */
Datum
gw_resize_async(PG_FUNCTION_ARGS)
{
	GwCall		call;
	char	   *server;

	memset(&call, 0, sizeof(call));
	call.provider = GW_HUAWEI;
	gw_provider(GW_HUAWEI)->read_args(fcinfo, &call);
	server = gw_arg_server(fcinfo, 2);
	PG_RETURN_INT64(run_async(&call, server));
}

/* may the current role read row tup: its own, or with SELECT on gw_audit */
static void
check_row_access(HeapTuple tup, TupleDesc desc, int64 id)
{
	char	   *who = gw_col_text(tup, desc, "requested_by_oid");

	if ((who == NULL || atooid(who) != GetUserId()) &&
		pg_class_aclcheck(gw_audit_relid(), GetUserId(), ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for gw_audit row %lld", (long long) id),
				 errdetail("The row was requested by another role.")));
}

/*
 * interval_us_saturating
 *		An interval in microseconds (a month as 30 days), saturating at the
 *		int64 limits instead of overflowing.
 */
static int64
interval_us_saturating(const Interval *iv)
{
	int64		days;
	int64		us;

	if (pg_mul_s64_overflow((int64) iv->month, DAYS_PER_MONTH, &days) ||
		pg_add_s64_overflow(days, (int64) iv->day, &days) ||
		pg_mul_s64_overflow(days, USECS_PER_DAY, &us) ||
		pg_add_s64_overflow(us, iv->time, &us))
		return iv->month < 0 || (iv->month == 0 && iv->day < 0) ?
			PG_INT64_MIN : PG_INT64_MAX;
	return us;
}

/*
 * gw_wait(id, timeout) RETURNS gw_audit
 *		Wait until row id leaves 'queued' and 'sending', or the timeout
 *		passes; return the row as it is then.  Cancel and statement_timeout
 *		end the wait at once.
 */
Datum
gw_wait(PG_FUNCTION_ARGS)
{
	int64		id;
	Interval   *timeout;
	int64		timeout_us;
	TimestampTz deadline;
	TupleDesc	desc;
	HeapTuple	tup;
	bool		checked = false;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", PG_ARGISNULL(0) ? "id" : "timeout")));
	id = PG_GETARG_INT64(0);
	timeout = PG_GETARG_INTERVAL_P(1);
	timeout_us = interval_us_saturating(timeout);
	if (timeout_us < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timeout must not be negative")));
	if (nqueued > 0 && queued_here(NULL, id) >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("gw_audit row %lld was queued by this transaction", (long long) id),
				 errhint("It is sent when the transaction commits: wait for it in a later transaction.")));
	if (pg_add_s64_overflow(GetCurrentTimestamp(), timeout_us, &deadline) ||
		deadline > END_TIMESTAMP)
		deadline = DT_NOEND;	/* as good as forever: cancel ends it */

	for (;;)
	{
		char	   *status;
		long		sleep_ms;

		tup = gw_fetch_row(fcinfo, id, &desc);
		if (!checked)
		{
			check_row_access(tup, desc, id);
			checked = true;
		}
		status = gw_col_text(tup, desc, "status");
		if (strcmp(status, "queued") != 0 && strcmp(status, "sending") != 0)
			break;
		if (deadline != DT_NOEND)
		{
			sleep_ms = (long) ((deadline - GetCurrentTimestamp()) / 1000);
			if (sleep_ms <= 0)
				break;
		}
		else
			sleep_ms = 50;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(sleep_ms, 50L), GW_WAIT_CALL);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	return HeapTupleGetDatum(tup);
}

/*
 * gw_cancel(id) RETURNS boolean
 *		Cancel a queued call that has not been sent, or one waiting for its
 *		next attempt after a retryable failure.  A role cancels its own
 *		calls; the table's owner and superusers any.  False when the row is
 *		in neither state (being sent, or finished).
 */
Datum
gw_cancel(PG_FUNCTION_ARGS)
{
	int64		id;
	Oid			caller = GetUserId();
	Oid			by_role = InvalidOid;
	const char *caller_name = GetUserNameFromId(caller, false);
	GwOwnerScope scope;
	bool		done;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("id must not be null")));
	id = PG_GETARG_INT64(0);
	gw_require_active("cancel a call", true);
	if (!has_privs_of_role(caller, gw_audit_owner()))
		by_role = caller;

	gw_owner_begin(&scope);
	/* in a copy nobody adopted the worker acts on nothing: any open row */
	done = gw_audit_cancel(id, by_role, caller_name,
						   gw_install_state(NULL) == GW_FOREIGN);
	gw_owner_end(&scope);
	PG_RETURN_BOOL(done);
}

/*
 * gw_wake_worker_at_commit
 *		Have the worker look at the installation again once the current
 *		transaction commits (CREATE, ALTER or DROP EXTENSION gwresize, and
 *		gw_adopt()).
 */
void
gw_wake_worker_at_commit(void)
{
	wake_at_commit = true;
	remember_xact_callback();
}

static int64
adopt_fn(void *arg)
{
	return gw_audit_adopt();
}

/*
 * gw_adopt() RETURNS bigint
 *		Make this cluster the installation's own, so that the worker acts on
 *		the open rows it holds (a restored copy, after pg_upgrade or a
 *		clone).  The extension owner or a superuser only.  Returns how many
 *		rows are open; the worker looks again when the transaction commits.
 */
Datum
gw_adopt(PG_FUNCTION_ARGS)
{
	int64		n;

	gw_require_active("adopt gwresize's open calls", true);
	if (!has_privs_of_role(GetUserId(), gw_audit_owner()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to adopt gwresize's open calls"),
				 errdetail("Only the owner of extension \"gwresize\" or a superuser may decide what happens to them.")));
	n = gw_as_owner(adopt_fn, NULL);
	gw_wake_worker_at_commit();
	PG_RETURN_INT64(n);
}
