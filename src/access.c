/*-------------------------------------------------------------------------
 *
 * access.c
 *	  What the SQL functions need before and after a call: the worker set
 *	  up, the primary, an installation that is this cluster's and whose SQL
 *	  matches the library; gw_audit read as its owner; a failed row turned
 *	  into an ERROR with the provider's code, message and request id.
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
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "gwresize.h"


/* ---- prerequisites ---- */

void
gw_require_worker_setup(void)
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
void
gw_refuse_on_standby(const char *what)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot %s on a hot standby", what),
				 errdetail("gwresize sends and records calls on the primary only."),
				 errhint("Run it on the primary.")));
}

/*
 * gw_owner_begin, gw_owner_end
 *		Bracket SQL that gwresize runs for a caller as the owner of gw_audit:
 *		the role switched (a restricted operation, as for index functions),
 *		search_path pinned to pg_catalog, pg_temp for the bracket only (a
 *		GUC nest level, undone at the end or by an error's rollback), SPI
 *		connected.  Nothing the caller or a schema on the caller's path
 *		holds decides which operator or function the owner's SQL runs.
 */
void
gw_owner_begin(GwOwnerScope *scope)
{
	GetUserIdAndSecContext(&scope->save_userid, &scope->save_sec);
	SetUserIdAndSecContext(gw_audit_owner(),
						   scope->save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	scope->save_nestlevel = NewGUCNestLevel();
	gw_pin_search_path(PGC_S_SESSION);
	SPI_connect();
}

void
gw_owner_end(GwOwnerScope *scope)
{
	SPI_finish();
	AtEOXact_GUC(true, scope->save_nestlevel);
	SetUserIdAndSecContext(scope->save_userid, scope->save_sec);
}

/*
 * gw_pin_search_path
 *		search_path = pg_catalog, pg_temp at source: for the rest of the
 *		current GUC nest level (PGC_S_SESSION), or for good (the worker:
 *		PGC_S_OVERRIDE, above what ALTER DATABASE or ALTER ROLE ... SET
 *		gave its connection).
 */
void
gw_pin_search_path(GucSource source)
{
	(void) set_config_option("search_path", GW_SAFE_SEARCH_PATH,
							 source == PGC_S_OVERRIDE ? PGC_SUSET : PGC_USERSET,
							 source,
							 source == PGC_S_OVERRIDE ? GUC_ACTION_SET : GUC_ACTION_SAVE,
							 true, 0, false);
}

/* run fn(arg) as the owner of gw_audit (gw_owner_begin) */
int64
gw_as_owner(int64 (*fn) (void *), void *arg)
{
	GwOwnerScope scope;
	int64		result;

	gw_owner_begin(&scope);
	result = fn(arg);
	gw_owner_end(&scope);
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
void
gw_require_active(const char *what, bool allow_copy)
{
	int64		recorded = 0;
	GwInstallState st;

	gw_refuse_on_standby(what);
	if (!OidIsValid(gw_audit_relid()))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"gwresize\" is not installed in this database")));
	st = (GwInstallState) gw_as_owner(state_fn, &recorded);
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
HeapTuple
gw_fetch_row(FunctionCallInfo fcinfo, int64 id, TupleDesc *desc_out)
{
	GwOwnerScope scope;
	TupleDesc	resdesc;
	HeapTuple	result = NULL;

	if (get_call_result_type(fcinfo, NULL, &resdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "function returning gw_audit called in an unexpected way");
	resdesc = BlessTupleDesc(resdesc);

	gw_owner_begin(&scope);
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
	gw_owner_end(&scope);
	if (result == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("gw_audit row %lld does not exist", (long long) id)));
	*desc_out = resdesc;
	return result;
}

/* column name of a gw_audit tuple as text, or NULL */
char *
gw_col_text(HeapTuple tup, TupleDesc desc, const char *name)
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
void
gw_raise_if_failed(HeapTuple tup, TupleDesc desc, int64 id)
{
	char	   *status = gw_col_text(tup, desc, "status");
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
						gw_col_text(tup, desc, "instance_id")),
				 errdetail("gw_cancel() ended gw_audit row %lld while it waited to be retried.",
						   (long long) id)));
	if (strcmp(status, "failed") != 0 && strcmp(status, "unknown") != 0)
		return;
	code = gw_col_text(tup, desc, "error_code");
	msg = gw_col_text(tup, desc, "error_message");
	rid = gw_col_text(tup, desc, "request_id");
	http = gw_col_text(tup, desc, "http_status");
	inst = gw_col_text(tup, desc, "instance_id");
	provider = gw_col_text(tup, desc, "provider");
	attempts = gw_col_text(tup, desc, "attempts");
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
	if (code && strcmp(code, "AccessKeyUnavailable") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("could not obtain credentials for the resize of instance \"%s\"", inst),
				 errdetail_internal("%s; nothing was sent; gw_audit row %lld.",
									msg ? msg : "no message", (long long) id),
				 errhint("Check the user mapping's credential source and that this host can reach it.")));
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

