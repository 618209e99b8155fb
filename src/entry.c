/*-------------------------------------------------------------------------
 *
 * entry.c
 *	  The SQL functions: argument checks, hand-off to the worker, waiting
 *	  for its answer, and the returned gw_audit row.
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

static const char *const huawei_specs[] = {
	"BASIC", "PROFESSIONAL", "ENTERPRISE", "PLATINUM",
	"BASIC_IPV6", "PROFESSIONAL_IPV6", "ENTERPRISE_IPV6", "PLATINUM_IPV6",
	"PLATINUM_X2", "PLATINUM_X3", "PLATINUM_X4", "PLATINUM_X5",
	"PLATINUM_X6", "PLATINUM_X7", "PLATINUM_X8",
	NULL
};

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
static bool wake_at_commit = false; /* gw_adopt(): the worker looks again */

/* the slot this backend waits on, for the exit callback */
static int	my_slot = -1;
static uint64 my_ticket = 0;
static bool exit_cb_registered = false;

/* ---- argument checks ---- */

static char *
arg_text(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

static bool
arg_bool(FunctionCallInfo fcinfo, int n, const char *name)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
	return PG_GETARG_BOOL(n);
}

/* the server argument n: NULL picks the one server the caller may use */
static char *
arg_server(FunctionCallInfo fcinfo, int n)
{
	return PG_ARGISNULL(n) ? NULL : NameStr(*PG_GETARG_NAME(n));
}

/* instance and project ids: 1 to 64 letters, digits, '-' or '_' */
static void
check_id(const char *name, const char *v, char *dst)
{
	size_t		len = strlen(v);
	const char *p;

	for (p = v; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			  (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			break;
	if (len == 0 || len > GW_ID_MAXLEN || *p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s", name),
				 errdetail("An id is 1 to %d letters, digits, '-' or '_'; this one is %zu bytes%s.",
						   GW_ID_MAXLEN, len,
						   len > 0 && *p != '\0' ? " with other characters" : "")));
	strlcpy(dst, v, GW_ID_MAXLEN + 1);
}

/* Alibaba specs: api.<family>.<size>, lower-case letters and digits */
static void
check_aliyun_spec(const char *v, char *dst)
{
	const char *p = v;
	int			parts = 0;
	bool		ok = strncmp(v, "api.", 4) == 0 && strlen(v) <= GW_SPEC_MAXLEN;

	if (ok)
	{
		p = v + 4;
		while (ok && *p)
		{
			int			n = 0;

			while ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
				p++, n++;
			ok = n > 0;
			parts++;
			if (*p == '.')
				p++, ok = ok && *p != '\0';
			else if (*p != '\0')
				ok = false;
		}
		ok = ok && parts == 2;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid instance_spec"),
				 errdetail("An Alibaba Cloud API Gateway specification looks like api.<family>.<size>, such as api.s1.small or api.s2.large.")));
	strlcpy(dst, v, GW_SPEC_MAXLEN + 1);
}

static void
check_huawei_spec(const char *v, char *dst)
{
	int			i;

	for (i = 0; huawei_specs[i]; i++)
		if (strcmp(v, huawei_specs[i]) == 0)
		{
			strlcpy(dst, v, GW_SPEC_MAXLEN + 1);
			return;
		}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid spec_id"),
			 errdetail("Huawei Cloud APIG editions are BASIC, PROFESSIONAL, ENTERPRISE, PLATINUM, their _IPV6 variants, and PLATINUM_X2 to PLATINUM_X8.")));
}

/* Token: 1 to 64 printable ASCII characters, no surrounding spaces */
static void
check_token(const char *v, char *dst)
{
	size_t		len = strlen(v);
	const char *p;

	for (p = v; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			break;
	if (len == 0 || len > GW_TOKEN_MAXLEN || *p != '\0' ||
		v[0] == ' ' || v[len - 1] == ' ')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid token"),
				 errdetail("A token is 1 to %d printable ASCII characters without surrounding spaces.",
						   GW_TOKEN_MAXLEN)));
	strlcpy(dst, v, GW_TOKEN_MAXLEN + 1);
}

/* a fresh idempotency token: PostgreSQL's own random UUID */
static void
make_token(char *dst)
{
	Datum		uuid = OidFunctionCall0Coll(F_GEN_RANDOM_UUID, InvalidOid);

	strlcpy(dst, DatumGetCString(DirectFunctionCall1(uuid_out, uuid)),
			GW_TOKEN_MAXLEN + 1);
}

/* ---- the transactional outbox ---- */

static void
gw_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (nqueued > 0 || wake_at_commit)
			{
				if (wake_at_commit && gw_shared)
					pg_atomic_fetch_add_u32(&gw_shared->recheck_generation, 1);
				gw_wake_worker();	/* the queued rows are visible now */
			}
			/* FALLTHROUGH */
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
remember_xact_callback(void)
{
	if (!xact_cb_registered)
	{
		RegisterXactCallback(gw_xact_callback, NULL);
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

/* ---- prerequisites ---- */

static void
require_worker_setup(void)
{
	char	   *dbname;

	if (gw_shared == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("gwresize is not loaded through shared_preload_libraries"),
				 errhint("Add gwresize to shared_preload_libraries in postgresql.conf and restart the server.")));
	dbname = get_database_name(MyDatabaseId);
	if (strcmp(dbname, gw_database_name) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the gwresize worker serves database \"%s\", not \"%s\"",
						gw_database_name, dbname),
				 errhint("Call the function in database \"%s\", or set gwresize.database_name and restart the server.",
						 gw_database_name)));
}

/*
 * refuse_on_standby
 *		A hot standby sends and queues nothing: refused at once, before
 *		anything enters shared memory (its worker does not run, and a call
 *		left waiting would be sent after a promotion).
 */
static void
refuse_on_standby(const char *what)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s on a hot standby", what),
				 errdetail("gwresize sends and records calls on the primary only."),
				 errhint("Run it on the primary.")));
}

/* run fn(arg) with SPI connected, as the owner of gw_audit */
static int64
as_owner(int64 (*fn) (void *), void *arg)
{
	Oid			save_userid;
	int			save_sec;
	int64		result;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(gw_audit_owner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	SPI_connect();
	result = fn(arg);
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	return result;
}

static int64
state_fn(void *arg)
{
	return (int64) gw_install_state((int64 *) arg);
}

/*
 * require_active
 *		For every function that sends, queues or changes calls: the primary,
 *		an extension whose SQL matches this library, and an installation
 *		that belongs to this cluster (not a restored copy nobody adopted).
 */
static void
require_active(const char *what, bool allow_copy)
{
	int64		recorded = 0;
	GwInstallState st;

	refuse_on_standby(what);
	if (!OidIsValid(gw_audit_relid()))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"gwresize\" is not installed in this database")));
	st = (GwInstallState) as_owner(state_fn, &recorded);
	if (st != GW_READY && gw_shared)
	{
		/* the worker may not know yet: have it look, and say so in its log */
		pg_atomic_fetch_add_u32(&gw_shared->recheck_generation, 1);
		gw_wake_worker();
	}
	if (st == GW_NEEDS_UPDATE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the installed gwresize SQL is older than its library (%s)", GW_SQL_VERSION),
				 errhint("Run ALTER EXTENSION gwresize UPDATE.")));
	if (st == GW_FOREIGN && !allow_copy)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("gwresize is not active in this copy of the database"),
				 errdetail("Its gw_audit was written by the cluster with system identifier %lld; this is cluster %llu (a restore, a pg_upgrade or a clone), so the worker sends and polls nothing here.",
						   (long long) recorded,
						   (unsigned long long) GetSystemIdentifier()),
				 errhint("The extension owner decides: SELECT gw_adopt() makes the worker act on the open rows here, or gw_cancel() them first.")));
}

/* ---- reading gw_audit as its owner ---- */

/*
 * fetch_row
 *		Fetch gw_audit row id with the latest snapshot (it was committed by
 *		the worker after our snapshot was taken), as the table's owner: the
 *		caller needs no privilege on the table.  Returns a tuple shaped as
 *		the function's result type.
 */
static HeapTuple
fetch_row(FunctionCallInfo fcinfo, int64 id, TupleDesc *desc_out)
{
	Oid			save_userid;
	int			save_sec;
	TupleDesc	resdesc;
	HeapTuple	result = NULL;

	if (get_call_result_type(fcinfo, NULL, &resdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "function returning gw_audit called in an unexpected way");
	resdesc = BlessTupleDesc(resdesc);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(gw_audit_owner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	SPI_connect();
	if (gw_audit_fetch(id, GetLatestSnapshot()))
	{
		int			natts = resdesc->natts;
		Datum	   *values = palloc(natts * sizeof(Datum));
		bool	   *nulls = palloc(natts * sizeof(bool));

		heap_deform_tuple(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
						  values, nulls);
		/* SPI_copytuple puts the result in the caller's context */
		result = SPI_copytuple(heap_form_tuple(resdesc, values, nulls));
	}
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("gw_audit row %lld does not exist", (long long) id)));
	*desc_out = resdesc;
	return result;
}

/* column name of a gw_audit tuple as text, or NULL */
static char *
col_text(HeapTuple tup, TupleDesc desc, const char *name)
{
	bool		isnull;
	int			attno = SPI_fnumber(desc, name);
	Datum		d;
	Oid			typoutput;
	bool		varlena;

	if (attno <= 0)
		elog(ERROR, "gw_audit has no column \"%s\"", name);
	d = heap_getattr(tup, attno, desc, &isnull);
	if (isnull)
		return NULL;
	getTypeOutputInfo(TupleDescAttr(desc, attno - 1)->atttypid, &typoutput,
					  &varlena);
	return OidOutputFunctionCall(typoutput, d);
}

/*
 * raise_if_failed
 *		A row whose call did not succeed becomes an ERROR whose DETAIL holds
 *		the provider's code, message and request id and the row's id.
 */
static void
raise_if_failed(HeapTuple tup, TupleDesc desc, int64 id)
{
	char	   *status = col_text(tup, desc, "status");
	char	   *code,
			   *msg,
			   *rid,
			   *http,
			   *inst,
			   *provider,
			   *attempts;
	int			sqlstate;
	int			status_code;

	if (strcmp(status, "cancelled") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("the resize of instance \"%s\" was cancelled",
						col_text(tup, desc, "instance_id")),
				 errdetail("gw_cancel() ended gw_audit row %lld while it waited to be retried.",
						   (long long) id)));
	if (strcmp(status, "failed") != 0 && strcmp(status, "unknown") != 0)
		return;
	code = col_text(tup, desc, "error_code");
	msg = col_text(tup, desc, "error_message");
	rid = col_text(tup, desc, "request_id");
	http = col_text(tup, desc, "http_status");
	inst = col_text(tup, desc, "instance_id");
	provider = col_text(tup, desc, "provider");
	attempts = col_text(tup, desc, "attempts");
	status_code = http ? atoi(http) : 0;

	if (code && strcmp(code, "RetryAfterTooLong") == 0)
		sqlstate = ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;	/* throttled */
	else if (status_code == 0 || status_code >= 500)
		sqlstate = ERRCODE_CONNECTION_FAILURE;
	else if (status_code < 300)
		sqlstate = ERRCODE_PROTOCOL_VIOLATION;	/* an answer we cannot use */
	else if (status_code == 409 ||
			 (code && (strcmp(code, "InstanceStatusNotSupport") == 0 ||
					   strcmp(code, "InstanceNotReady") == 0)))
		sqlstate = ERRCODE_OBJECT_IN_USE;	/* busy, or already at that spec */
	else if (status_code == 429 || (code && (strstr(code, "Throttling") ||
											 strcmp(code, "RetryAfterTooLong") == 0)))
		sqlstate = ERRCODE_CONFIGURATION_LIMIT_EXCEEDED;
	else if (status_code == 401 || status_code == 403 ||
			 (code && (strstr(code, "Signature") || strstr(code, "AccessKey") ||
					   strstr(code, "SecurityToken") || strstr(code, "TimeStamp"))))
		sqlstate = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
	else
		sqlstate = ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;

	if (strcmp(status, "unknown") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("the outcome of the resize of instance \"%s\" is unknown", inst),
				 errdetail("The gwresize worker restarted while the call was in flight; gw_audit row %lld will be reconciled.",
						   (long long) id)));
	if (code && strcmp(code, "InstanceNotReady") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("instance \"%s\" is not ready for a change", inst),
				 errdetail_internal("%s; gw_audit row %lld.", msg ? msg : "no message",
									(long long) id),
				 errhint("Retry once the instance runs again; gw_history shows what it was doing.")));
	if (status_code == 0)
		ereport(ERROR,
				(errcode(sqlstate),
				 errmsg("%s call for instance \"%s\" failed after %s attempt(s)",
						provider, inst, attempts),
				 errdetail_internal("No answer: code \"%s\", message \"%s\"; gw_audit row %lld.",
									code ? code : "none", msg ? msg : "none",
									(long long) id)));
	ereport(ERROR,
			(errcode(sqlstate),
			 sqlstate == ERRCODE_PROTOCOL_VIOLATION ?
			 errmsg("%s gave an unusable answer to the resize of instance \"%s\"",
					provider, inst) :
			 errmsg("%s rejected the resize of instance \"%s\"", provider, inst),
			 errdetail_internal("HTTP %s, code \"%s\", message \"%s\", request id \"%s\", after %s attempt(s); gw_audit row %lld.",
								http, code ? code : "none", msg ? msg : "none",
								rid ? rid : "none", attempts, (long long) id)));
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
			slot->caller_procno = MyProc->pgprocno;
			slot->ticket = gw_shared->next_ticket++;
			slot->audit_id = 0;
			slot->sqlerrcode = 0;
			slot->errmsg[0] = '\0';
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
			}
			LWLockRelease(gw_shared->lock);
			if (done)
				break;

			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 1000L, PG_WAIT_EXTENSION);
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

	if (audit_id == 0)
		ereport(ERROR,
				(errcode(sqlerrcode ? sqlerrcode : ERRCODE_INTERNAL_ERROR),
				 errmsg("%s", errmsg_buf)));
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
 *		(secrets and signature masked).  Nothing is sent or written.
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

	req = gw_build_request(server, creds, NULL, GW_OP_RESIZE, call);
	initStringInfo(&rj);
	gw_request_json(&rj, req);

	set_col(desc, values, nulls, "provider",
			CStringGetTextDatum(gw_provider_name(call->provider)));
	set_col(desc, values, nulls, "server_name", CStringGetTextDatum(server->name));
	set_col(desc, values, nulls, "instance_id", CStringGetTextDatum(call->instance_id));
	set_col(desc, values, nulls, "target_spec", CStringGetTextDatum(call->spec));
	set_col(desc, values, nulls, "params", jsonb_datum(gw_params_json(call, server)));
	set_col(desc, values, nulls, "request", jsonb_datum(rj.data));
	if (call->provider == GW_ALIYUN)
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
		refuse_on_standby("send a resize");
	require_worker_setup();
	call->userid = GetUserId();
	server = gw_lookup_server(servername, call->provider, call->userid);
	creds = gw_get_creds(server, call->userid);
	call->serverid = server->serverid;

	if (dry_run)
		return dry_run_row(fcinfo, server, creds, call);
	require_active("send a resize", false);

	if (queued_here(call, 0) >= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("instance \"%s\" already has a resize in progress",
						call->instance_id),
				 errdetail("This transaction queued gw_audit row %lld for it; it is sent when the transaction commits.",
						   (long long) queued[queued_here(call, 0)].id)));

	id = submit_and_wait(call);
	tup = fetch_row(fcinfo, id, &desc);
	raise_if_failed(tup, desc, id);
	return HeapTupleGetDatum(tup);
}

/* the Alibaba arguments shared by gw_modify_spec and its _async twin */
static void
aliyun_args(FunctionCallInfo fcinfo, GwCall *call)
{
	char	   *action;

	check_id("instance_id", arg_text(fcinfo, 0, "instance_id"), call->instance_id);
	check_aliyun_spec(arg_text(fcinfo, 1, "instance_spec"), call->spec);
	action = arg_text(fcinfo, 2, "modify_action");
	if (pg_strcasecmp(action, "UPGRADE") == 0)
		strlcpy(call->action, "UPGRADE", sizeof(call->action));
	else if (pg_strcasecmp(action, "DOWNGRADE") == 0)
		strlcpy(call->action, "DOWNGRADE", sizeof(call->action));
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid modify_action"),
				 errhint("Valid values are 'UPGRADE' and 'DOWNGRADE'.")));
	call->auto_pay = arg_bool(fcinfo, 3, "auto_pay");
	call->skip_wait_switch = arg_bool(fcinfo, 4, "skip_wait_switch");
	if (PG_ARGISNULL(5))
		make_token(call->token);
	else
		check_token(text_to_cstring(PG_GETARG_TEXT_PP(5)), call->token);
}

/* the Huawei arguments shared by gw_resize and its _async twin */
static void
huawei_args(FunctionCallInfo fcinfo, GwCall *call)
{
	check_id("instance_id", arg_text(fcinfo, 0, "instance_id"), call->instance_id);
	check_huawei_spec(arg_text(fcinfo, 1, "spec_id"), call->spec);
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
	aliyun_args(fcinfo, &call);
	server = arg_server(fcinfo, 6);
	dry_run = arg_bool(fcinfo, 7, "dry_run");

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
	huawei_args(fcinfo, &call);
	server = arg_server(fcinfo, 2);
	dry_run = arg_bool(fcinfo, 3, "dry_run");

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
	Oid			save_userid;
	int			save_sec;
	int64		id;
	char	   *who;

	refuse_on_standby("queue a resize");
	require_worker_setup();
	require_active("queue a resize", false);
	call->userid = GetUserId();
	call->async = true;
	server = gw_lookup_server(servername, call->provider, call->userid);
	(void) gw_get_creds(server, call->userid);
	call->serverid = server->serverid;
	who = GetUserNameFromId(call->userid, false);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(gw_audit_owner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	SPI_connect();
	id = gw_audit_insert(call, server, "queued", gw_params_json(call, server),
						 who);
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
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
	aliyun_args(fcinfo, &call);
	server = arg_server(fcinfo, 6);
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
	huawei_args(fcinfo, &call);
	server = arg_server(fcinfo, 2);
	PG_RETURN_INT64(run_async(&call, server));
}

/* may the current role read row tup: its own, or with SELECT on gw_audit */
static void
check_row_access(HeapTuple tup, TupleDesc desc, int64 id)
{
	char	   *who = col_text(tup, desc, "requested_by");

	if (strcmp(who, GetUserNameFromId(GetUserId(), false)) != 0 &&
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

		tup = fetch_row(fcinfo, id, &desc);
		if (!checked)
		{
			check_row_access(tup, desc, id);
			checked = true;
		}
		status = col_text(tup, desc, "status");
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
						 Min(sleep_ms, 50L), PG_WAIT_EXTENSION);
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
	Oid			owner;
	Oid			save_userid;
	int			save_sec;
	bool		done;
	const char *by_role = NULL;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("id must not be null")));
	id = PG_GETARG_INT64(0);
	require_active("cancel a call", true);
	owner = gw_audit_owner();
	if (!has_privs_of_role(GetUserId(), owner))
		by_role = GetUserNameFromId(GetUserId(), false);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	SPI_connect();
	/* in a copy nobody adopted the worker acts on nothing: any open row */
	done = gw_audit_cancel(id, by_role, gw_install_state(NULL) == GW_FOREIGN);
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);
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

	require_active("adopt gwresize's open calls", true);
	if (!has_privs_of_role(GetUserId(), gw_audit_owner()))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to adopt gwresize's open calls"),
				 errdetail("Only the owner of extension \"gwresize\" or a superuser may decide what happens to them.")));
	n = as_owner(adopt_fn, NULL);
	gw_wake_worker_at_commit();
	PG_RETURN_INT64(n);
}
