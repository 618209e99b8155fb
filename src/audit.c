/*-------------------------------------------------------------------------
 *
 * audit.c
 *	  Every read and write of gw_audit rows.  Statements bind every value; callers run
 *	  them inside their own transaction with SPI connected, as a role that
 *	  owns the table (the worker's bootstrap superuser, or a backend that
 *	  switched to the table owner).
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/xlog.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "gwresize.h"
#include "audit.h"

/*
 * The SQL of this file is run with search_path pinned to pg_catalog, pg_temp
 * (the worker sets it for good; the owner switches of callers for their
 * bracket, gw_owner_begin), and writes its operators with exact operand
 * types or as OPERATOR(pg_catalog.x) all the same: what a schema holds never
 * decides what runs.  These build the three expressions that would
 * otherwise need an implicit cast.
 */
#define PARAM(key) "(params OPERATOR(pg_catalog.->>) '" key "'::pg_catalog.text)"
#define AGE_MS(col) \
	"(extract(epoch FROM pg_catalog.clock_timestamp() OPERATOR(pg_catalog.-) " col ")" \
	" OPERATOR(pg_catalog.*) 1000::pg_catalog.numeric)::pg_catalog.int8"
#define AFTER_MS(ms) \
	"OPERATOR(pg_catalog.+) (interval '1 millisecond' OPERATOR(pg_catalog.*) " ms "::pg_catalog.float8)"



static SPIPlanPtr plans[NUM_STMTS];	/* see audit.h */

/* forget every kept plan: the extension changed */
void
gw_audit_free_plans(void)
{
	int			i;

	for (i = 0; i < NUM_STMTS; i++)
		if (plans[i])
		{
			SPI_freeplan(plans[i]);
			plans[i] = NULL;
		}
}

/*
 * gw_audit_plan
 *		The kept plan of statement stmt, prepared from sql (where %s or %1$s
 *		is gw_audit, %2$s gw_installation: a statement that names the
 *		second names the first too) on first use.
 */
SPIPlanPtr
gw_audit_plan(GwAuditStmt stmt, const char *sql, int nargs, Oid *types)
{
	const char *audit;
	const char *installation;

	if (!gw_audit_names(&audit, &installation))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"gwresize\" is not installed in this database")));
	if (plans[stmt] == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(psprintf(sql, audit, installation),
									nargs, types);

		if (p == NULL)
			elog(ERROR, "could not prepare a gw_audit statement: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "could not keep a gw_audit plan");
		plans[stmt] = p;
	}
	return plans[stmt];
}

static Datum
text_or_null(const char *s, char *nulls, int i)
{
	nulls[i] = s ? ' ' : 'n';
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/*
 * gw_audit_insert
 *		Insert a row in status status ('sending' from the worker, 'queued'
 *		from a caller's transaction) and return its id.  A 'sending' row
 *		counts the attempt about to leave.  When the instance
 *		already has an open row (queued, sending or unknown, or accepted and
 *		still tracked) nothing is
 *		inserted and a 55006 ERROR names it: one resize per instance.
 */
int64
gw_audit_insert(const GwCall *call, GwServer *server, const char *status,
				const char *params_json, const char *requested_by)
{
	Oid			types[10] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, TEXTOID, NAMEOID, TEXTOID, OIDOID};
	Datum		values[10];
	char		nulls[11] = "          ";
	bool		isnull;
	int			rc;
	NameData	who;
	int64		open_id = 0;
	char	   *open_status = NULL;

	values[0] = CStringGetTextDatum(gw_provider_name(call->provider));
	values[1] = CStringGetTextDatum(server->name);
	values[2] = CStringGetTextDatum(call->instance_id);
	values[3] = CStringGetTextDatum(call->spec);
	values[4] = CStringGetTextDatum(params_json);
	values[5] = text_or_null(gw_provider(call->provider)->has_client_token ?
							 call->token : NULL,
							 nulls, 5);
	values[6] = CStringGetTextDatum(status);
	namestrcpy(&who, requested_by);
	values[7] = NameGetDatum(&who);
	values[8] = CStringGetTextDatum(call->async ? "async" : "sync");
	values[9] = ObjectIdGetDatum(call->userid);

	rc = SPI_execute_plan(gw_audit_plan(STMT_INSERT,
									 "INSERT INTO %s AS a (provider, server_name, instance_id, target_spec,"
									 " params, client_token, mode, status, requested_by, requested_by_oid,"
									 " sent_at, attempts)"
									 " VALUES ($1, $2, $3, $4, $5::pg_catalog.jsonb, $6, $9, $7, $8, $10,"
									 " CASE WHEN $7 = 'sending' THEN pg_catalog.clock_timestamp() END,"
									 " CASE WHEN $7 = 'sending' THEN 1 ELSE 0 END)"
									 " ON CONFLICT (provider, instance_id)"
									 " WHERE " GW_OPEN_ROW " DO NOTHING"
									 " RETURNING id",
									 10, types),
						  values, nulls, false, 1);
	if (rc != SPI_OK_INSERT_RETURNING)
		elog(ERROR, "could not insert into gw_audit: %s", SPI_result_code_string(rc));
	if (SPI_processed == 1)
		return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));

	/* the instance has an open resize: find it for the message */
	values[1] = values[2];		/* provider, instance */
	rc = SPI_execute_plan(gw_audit_plan(STMT_FIND_OPEN,
									 "SELECT id, status FROM %s WHERE provider = $1 AND instance_id = $2"
									 " AND " GW_OPEN_ROW,
									 2, types),
						  values, NULL, false, 1);
	if (rc == SPI_OK_SELECT && SPI_processed == 1)
	{
		open_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));
		open_status = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("instance \"%s\" already has a resize in progress",
					call->instance_id),
			 open_status && strcmp(open_status, "accepted") == 0 ?
			 errdetail("gw_audit row %lld was accepted and the provider is still applying it.",
					   (long long) open_id) :
			 errdetail("gw_audit row %lld is still open (%s).", (long long) open_id,
					   open_status ? open_status : "committing"),
			 open_status && strcmp(open_status, "accepted") == 0 ?
			 errhint("Wait for it to finish (gw_inflight), or end its tracking with gw_cancel(%lld).",
					 (long long) open_id) : 0));
	return 0;					/* keep compiler quiet */
}

/*
 * gw_audit_finish_call
 *		Record the outcome of a row in 'queued' or 'sending' (a row
 *		gw_cancel() took meanwhile stays cancelled): the provider's answer
 *		or the transport's failure, or, when nothing was sent, why (the
 *		instance already at the target: 'unchanged').  from_spec and
 *		state_json are what the read before the change saw, if it ran.
 */
void
gw_audit_finish_call(int64 id, const char *status, int attempts,
					 long http_status, const GwOutcome *out, int poll_after_ms,
					 const char *from_spec, const char *state_json)
{
	Oid			types[13] = {INT8OID, TEXTOID, INT4OID, INT4OID, TEXTOID,
	TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID};
	Datum		values[13];
	char		nulls[14] = "             ";
	int			rc;

	values[10] = Int32GetDatum(poll_after_ms);
	values[0] = Int64GetDatum(id);
	values[1] = CStringGetTextDatum(status);
	values[2] = Int32GetDatum(attempts);
	values[3] = Int32GetDatum((int32) http_status);
	if (http_status == 0)
		nulls[3] = 'n';
	values[4] = text_or_null(out->request_id, nulls, 4);
	values[5] = text_or_null(out->job_id, nulls, 5);
	values[6] = text_or_null(out->verdict == GW_VERDICT_OK ? NULL : out->error_code,
							 nulls, 6);
	values[7] = text_or_null(out->verdict == GW_VERDICT_OK ? NULL : out->error_message,
							 nulls, 7);
	values[8] = text_or_null(out->response_json, nulls, 8);
	values[9] = text_or_null(out->request_json, nulls, 9);
	values[11] = text_or_null(from_spec, nulls, 11);
	values[12] = text_or_null(state_json, nulls, 12);

	rc = SPI_execute_plan(gw_audit_plan(STMT_FINISH,
									 "UPDATE %s SET status = $2, attempts = $3,"
									 " answered_at = CASE WHEN $3 > 0 THEN pg_catalog.clock_timestamp() END,"
									 " http_status = $4,"
									 " request_id = $5, job_id = $6, error_code = $7,"
									 " error_message = $8, response = $9::pg_catalog.jsonb,"
									 " request = coalesce($10::pg_catalog.jsonb, request),"
									 " finished_at = CASE WHEN $2 IN ('failed', 'unchanged') THEN pg_catalog.clock_timestamp() END,"
									 " next_attempt_at = CASE WHEN $2 = 'accepted'"
									 "   THEN pg_catalog.clock_timestamp() " AFTER_MS("$11") " END,"
									 " from_spec = coalesce($12, from_spec),"
									 " instance_state = coalesce($13::pg_catalog.jsonb, instance_state)"
									 " WHERE id = $1 AND status IN ('queued', 'sending')",
									 13, types),
						  values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update gw_audit: %s", SPI_result_code_string(rc));
}

/*
 * gw_audit_fetch
 *		Run the kept "SELECT * FROM gw_audit WHERE id = $1" with snapshot:
 *		the tuple lands in SPI_tuptable.  Returns whether the row exists.
 */
bool
gw_audit_fetch(int64 id, Snapshot snapshot)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int			rc;

	values[0] = Int64GetDatum(id);
	rc = SPI_execute_snapshot(gw_audit_plan(STMT_FETCH,
										 "SELECT * FROM %s WHERE id = $1", 1, types),
							  values, NULL, snapshot, InvalidSnapshot,
							  true, false, 1);
	return rc == SPI_OK_SELECT && SPI_processed == 1;
}

/*
 * Rows are claimed only from an installation that is this cluster's ($2 is
 * its system identifier), and only rows not older than it, in the snapshot
 * that claims them: a restore that has just brought rows is never acted on.
 */
#define CLAIM_OURS \
	" AND requested_at >= (SELECT pg_catalog.min(acts_since) FROM %2$s)" \
	" AND NOT EXISTS (SELECT FROM %2$s WHERE system_identifier <> $2)"

#define CLAIM_LIST \
	" id, provider, server_name, instance_id, target_spec," \
	" coalesce(" PARAM("ModifyAction") ", 'UPGRADE'), coalesce(" PARAM("AutoPay") "::pg_catalog.bool, false)," \
	" coalesce(" PARAM("SkipWaitSwitch") "::pg_catalog.bool, false), client_token, requested_by_oid," \
	" mode = 'async', attempts, " AGE_MS("sent_at")
#define CLAIM_COLUMNS " RETURNING" CLAIM_LIST

/*
 * gw_audit_claim
 *		Up to limit rows 'queued' (reconcile false: read, not changed, and
 *		none of the ids in held, the int8[] of the rows the worker already
 *		has: a queued row stays 'queued' until its first attempt is counted
 *		and starts) or moved from 'unknown' to 'sending' (reconcile true),
 *		oldest first, skipping rows locked by others (a gw_cancel() in
 *		progress).  Reconciled rows keep their
 *		sent_at (the last column gives its age in ms).  A queued row's
 *		first attempt is counted here; an unknown row's next one when it
 *		is sent.  The caller commits before it sends anything.  The rows are in SPI_tuptable, in the order of
 *		GwClaimed's fields; returns how many.
 */
int
gw_audit_claim(bool reconcile, int limit, Datum held)
{
	Oid			types[3] = {INT4OID, INT8OID, INT8ARRAYOID};
	Datum		values[3];
	int			rc;

	values[0] = Int32GetDatum(limit);
	values[1] = Int64GetDatum((int64) GetSystemIdentifier());
	values[2] = held;
	if (reconcile)
		rc = SPI_execute_plan(gw_audit_plan(STMT_CLAIM_UNKNOWN,
										 "UPDATE %1$s SET status = 'sending', next_attempt_at = NULL"
										 " WHERE id IN (SELECT id FROM %1$s WHERE status = 'unknown'"
										 CLAIM_OURS
										 " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)"
										 CLAIM_COLUMNS, 2, types),
							  values, NULL, false, 0);
	else
		rc = SPI_execute_plan(gw_audit_plan(STMT_CLAIM_QUEUED,
										 "SELECT " CLAIM_LIST " FROM %1$s WHERE status = 'queued'"
										 CLAIM_OURS
										 " AND id <> ALL ($3) ORDER BY id LIMIT $1",
										 3, types),
							  values, NULL, true, 0);
	if (rc != (reconcile ? SPI_OK_UPDATE_RETURNING : SPI_OK_SELECT))
		elog(ERROR, "could not claim gw_audit rows: %s", SPI_result_code_string(rc));
	return (int) SPI_processed;
}

/*
 * gw_audit_claim_tracking
 *		Accepted rows whose next poll is due, leased to this worker for five
 *		minutes (a restart clears leases).  Columns as gw_audit_claim's, then
 *		the age of answered_at in ms and the status last observed.
 */
int
gw_audit_claim_tracking(int limit)
{
	Oid			types[2] = {INT4OID, INT8OID};
	Datum		values[2];
	int			rc;

	values[0] = Int32GetDatum(limit);
	values[1] = Int64GetDatum((int64) GetSystemIdentifier());
	rc = SPI_execute_plan(gw_audit_plan(STMT_CLAIM_TRACK,
									 "UPDATE %1$s SET next_attempt_at = pg_catalog.clock_timestamp() + interval '5 minutes'"
									 " WHERE id IN (SELECT id FROM %1$s WHERE status = 'accepted'"
									 " AND finished_at IS NULL"
									 " AND coalesce(next_attempt_at, answered_at) <= pg_catalog.clock_timestamp()"
									 CLAIM_OURS
									 " ORDER BY coalesce(next_attempt_at, answered_at)"
									 " LIMIT $1 FOR UPDATE SKIP LOCKED)"
									 " RETURNING id, provider, server_name, instance_id, target_spec,"
									 " coalesce(" PARAM("ModifyAction") ", 'UPGRADE'), false, false,"
									 " client_token, requested_by_oid, mode = 'async', attempts, "
									 AGE_MS("answered_at") ","
									 " instance_state OPERATOR(pg_catalog.->>) 'status'::pg_catalog.text",
									 2, types),
						  values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "could not claim gw_audit rows: %s", SPI_result_code_string(rc));
	return (int) SPI_processed;
}

/*
 * gw_audit_next_poll
 *		When the next tracking poll is due (0: nothing is being tracked).
 */
TimestampTz
gw_audit_next_poll(void)
{
	bool		isnull;
	Datum		d;
	int			rc;

	rc = SPI_execute_plan(gw_audit_plan(STMT_NEXT_POLL,
									 "SELECT coalesce(next_attempt_at, answered_at) FROM %s"
									 " WHERE status = 'accepted' AND finished_at IS NULL"
									 " ORDER BY 1 LIMIT 1",
									 0, NULL),
						  NULL, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		return 0;				/* nothing tracked */
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	return isnull ? 0 : DatumGetTimestampTz(d);
}

/*
 * gw_audit_track
 *		Record what a poll saw: instance_state; status (succeeded or
 *		resize_failed) when the resize is over, else the next poll time.
 */
void
gw_audit_track(int64 id, const char *status, const char *state_json,
			   int next_poll_ms, const char *error_code,
			   const char *error_message)
{
	Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, INT4OID, TEXTOID, TEXTOID};
	Datum		values[6];
	char		nulls[7] = "      ";
	int			rc;

	values[0] = Int64GetDatum(id);
	values[1] = text_or_null(status, nulls, 1);
	values[2] = text_or_null(state_json, nulls, 2);
	values[3] = Int32GetDatum(next_poll_ms);
	values[4] = text_or_null(error_code, nulls, 4);
	values[5] = text_or_null(error_message, nulls, 5);
	rc = SPI_execute_plan(gw_audit_plan(STMT_TRACK,
									 "UPDATE %s SET status = coalesce($2, status),"
									 " finished_at = CASE WHEN $2 IS NOT NULL THEN pg_catalog.clock_timestamp() END,"
									 " instance_state = coalesce($3::pg_catalog.jsonb, instance_state),"
									 " last_polled_at = pg_catalog.clock_timestamp(),"
									 " next_attempt_at = CASE WHEN $2 IS NULL"
									 "   THEN pg_catalog.clock_timestamp() " AFTER_MS("$4") " END,"
									 " error_code = coalesce($5, error_code),"
									 " error_message = coalesce($6, error_message)"
									 " WHERE id = $1 AND status = 'accepted' AND finished_at IS NULL",
									 6, types),
						  values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update gw_audit: %s", SPI_result_code_string(rc));
}

/*
 * gw_audit_note_retry
 *		A call waits for its next attempt: show its attempts, when the next
 *		one goes and the last error (the in-flight view reads these).
 */
void
gw_audit_note_retry(int64 id, int attempts, TimestampTz next_at,
					const GwOutcome *out)
{
	Oid			types[5] = {INT8OID, INT4OID, TIMESTAMPTZOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[6] = "     ";
	int			rc;

	values[0] = Int64GetDatum(id);
	values[1] = Int32GetDatum(attempts);
	values[2] = TimestampTzGetDatum(next_at);
	values[3] = text_or_null(out->error_code, nulls, 3);
	values[4] = text_or_null(out->error_message, nulls, 4);
	rc = SPI_execute_plan(gw_audit_plan(STMT_RETRY,
									 "UPDATE %s SET attempts = $2, next_attempt_at = $3,"
									 " error_code = $4, error_message = $5"
									 " WHERE id = $1 AND status IN ('queued', 'sending')",
									 5, types),
						  values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update gw_audit: %s", SPI_result_code_string(rc));
}

/*
 * gw_audit_reserve
 *		Count the attempt about to leave (attempts is its number) in a row
 *		still 'queued' or 'sending', make it 'sending' and clear its retry
 *		time: from this commit on it cannot be cancelled.  Returns false
 *		when the row was cancelled meanwhile (gw_cancel()): then nothing may
 *		be sent.
 */
bool
gw_audit_reserve(int64 id, int attempts)
{
	Oid			types[2] = {INT8OID, INT4OID};
	Datum		values[2];
	int			rc;

	values[0] = Int64GetDatum(id);
	values[1] = Int32GetDatum(attempts);
	rc = SPI_execute_plan(gw_audit_plan(STMT_RESERVE,
									 "UPDATE %s SET status = 'sending', attempts = $2, next_attempt_at = NULL,"
									 " sent_at = coalesce(sent_at, pg_catalog.clock_timestamp())"
									 " WHERE id = $1 AND status IN ('queued', 'sending')",
									 2, types),
						  values, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update gw_audit: %s", SPI_result_code_string(rc));
	return SPI_processed == 1;
}

/*
 * gw_audit_cancel
 *		Cancel a queued row, or one waiting for its next attempt after a
 *		retryable failure (the worker finds it cancelled when it would count
 *		that attempt, and sends nothing more; a row whose attempt was
 *		interrupted is not cancelled: it must be resolved first), or end the
 *		tracking of an accepted one.  With any_open (a copy of the database
 *		not adopted, where the worker acts on nothing), any open row: queued,
 *		sending, unknown, or accepted and tracked.  by_role limits it to the
 *		rows of the role with that OID (InvalidOid: any); caller names who
 *		cancels in the row's message.  Returns whether a row was cancelled.
 */
bool
gw_audit_cancel(int64 id, Oid by_role, const char *caller, bool any_open)
{
	Oid			types[3] = {INT8OID, OIDOID, TEXTOID};
	Datum		values[3];
	char		nulls[4] = "   ";
	int			rc;

	values[0] = Int64GetDatum(id);
	values[1] = ObjectIdGetDatum(by_role);
	nulls[1] = OidIsValid(by_role) ? ' ' : 'n';
	values[2] = CStringGetTextDatum(caller);
	if (any_open)
		rc = SPI_execute_plan(gw_audit_plan(STMT_CANCEL_ANY,
										 "UPDATE %s SET status = 'cancelled', finished_at = pg_catalog.clock_timestamp(),"
										 " next_attempt_at = NULL,"
										 " error_message = 'cancelled in a copy of the database (before gw_adopt()) by '"
										 "   || $3 || '; was ' || status || coalesce(': ' || error_code, '')"
										 " WHERE id = $1 AND " GW_OPEN_ROW
										 " AND ($2 IS NULL OR requested_by_oid = $2)",
										 3, types),
							  values, nulls, false, 0);
	else
		rc = SPI_execute_plan(gw_audit_plan(STMT_CANCEL,
										 "UPDATE %s SET finished_at = pg_catalog.clock_timestamp(), next_attempt_at = NULL,"
										 " status = CASE WHEN status = 'accepted' THEN 'accepted' ELSE 'cancelled' END,"
										 " error_code = CASE WHEN status = 'accepted' THEN 'TrackingCancelled' ELSE error_code END,"
										 " error_message = CASE WHEN status = 'queued'"
										 "   THEN 'cancelled before it was sent'"
										 "   WHEN status = 'accepted'"
										 "   THEN 'tracking ended by gw_cancel() (' || $3 || '): the provider accepted the resize; how it ended is not known'"
										 "   ELSE 'cancelled while waiting to be retried; the last attempt: '"
										 "     || coalesce(error_code, 'error') || ': ' || coalesce(error_message, '') END"
										 " WHERE id = $1 AND (status = 'queued'"
										 "   OR (status = 'sending' AND next_attempt_at IS NOT NULL"
										 "       AND error_code IS DISTINCT FROM 'WorkerRestarted')"
										 "   OR (status = 'accepted' AND finished_at IS NULL))"
										 " AND ($2 IS NULL OR requested_by_oid = $2)",
										 3, types),
							  values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update gw_audit: %s", SPI_result_code_string(rc));
	return SPI_processed == 1;
}

/*
 * gw_audit_reconcile_sending
 *		Rows a crash or restart left in 'sending' become 'unknown': whether
 *		the provider saw them cannot be known from here.  Returns how many.
 */
int
gw_audit_reconcile_sending(void)
{
	int			rc;
	int			n;

	rc = SPI_execute(psprintf("UPDATE %s SET status = 'unknown',"
							  " error_code = 'WorkerRestarted',"
							  " error_message = 'the worker stopped while the call was in flight'"
							  " WHERE status = 'sending'", gw_audit_table()),
					 false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update gw_audit: %s", SPI_result_code_string(rc));
	n = (int) SPI_processed;

	/* tracking leases of the worker that stopped: poll those rows again */
	rc = SPI_execute(psprintf("UPDATE %s SET next_attempt_at = NULL"
							  " WHERE status = 'accepted' AND finished_at IS NULL",
							  gw_audit_table()),
					 false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update gw_audit: %s", SPI_result_code_string(rc));
	return n;
}
