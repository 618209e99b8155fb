/*-------------------------------------------------------------------------
 *
 * install.c
 *	  The installation of gwresize in the worker's database: where gw_audit
 *	  is (its schema, OID and owner, looked up once per installation),
 *	  whether the installation is this cluster's and its SQL this library's,
 *	  and gw_adopt().
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
 * extension_schema
 *		The schema gwresize is installed in (get_extension_schema is not
 *		exported before PostgreSQL 16).
 */
static Oid
extension_schema(Oid extoid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			nsp = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		nsp = ((Form_pg_extension) GETSTRUCT(tup))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return nsp;
}

/*
 * Where gw_audit is, looked up once per installation of the extension: a
 * dropped and re-created extension has a new OID, and then its table and
 * the kept plans below are looked up again.
 */
static Oid	known_ext = InvalidOid;
static Oid	known_nsp = InvalidOid;
static Oid	known_relid = InvalidOid;
static char *known_table = NULL;	/* schema-qualified, quoted */
static char *known_inst = NULL;		/* gw_installation, the same way */

/* the extension's OID (InvalidOid when not installed), the cache refreshed */
static Oid
audit_known(void)
{
	Oid			ext = get_extension_oid("gwresize", true);

	if (ext != known_ext)
	{
		gw_audit_free_plans();
		if (known_table)
			pfree(known_table);
		if (known_inst)
			pfree(known_inst);
		known_table = NULL;
		known_inst = NULL;
		known_relid = InvalidOid;
		known_nsp = InvalidOid;
		if (OidIsValid(ext))
		{
			Oid			nsp = extension_schema(ext);

			known_nsp = nsp;
			known_relid = get_relname_relid("gw_audit", nsp);
			known_table = MemoryContextStrdup(TopMemoryContext,
											  quote_qualified_identifier(get_namespace_name(nsp),
																		 "gw_audit"));
			known_inst = MemoryContextStrdup(TopMemoryContext,
											 quote_qualified_identifier(get_namespace_name(nsp),
																		"gw_installation"));
		}
		known_ext = ext;
	}
	return ext;
}

/*
 * gw_audit_table
 *		The schema-qualified, quoted name of gw_audit, or NULL when the
 *		extension is not installed in this database.
 */
const char *
gw_audit_table(void)
{
	audit_known();
	return known_table;
}

/*
 * gw_audit_relid
 *		gw_audit's OID, or InvalidOid when the extension is not installed.
 */
Oid
gw_audit_relid(void)
{
	audit_known();
	return known_relid;
}

/*
 * gw_audit_owner
 *		The role that owns gw_audit: the extension's writes run as it.
 */
Oid
gw_audit_owner(void)
{
	HeapTuple	tp;
	Oid			owner;
	Oid			relid = gw_audit_relid();

	tp = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tp))->relowner;
	ReleaseSysCache(tp);
	return owner;
}

/*
 * gw_audit_names
 *		The schema-qualified, quoted names of gw_audit and gw_installation,
 *		for statements; false when the extension is not installed.
 */
bool
gw_audit_names(const char **audit, const char **installation)
{
	if (!OidIsValid(audit_known()))
		return false;
	*audit = known_table;
	*installation = known_inst;
	return true;
}

/*
 * gw_install_state
 *		What this database's installation allows (a transaction is open and
 *		SPI connected): not installed; installed but its SQL older than this
 *		library (gw_installation, new in 1.1, is missing); a copy (a
 *		restore, pg_upgrade or a clone): gw_installation names another
 *		cluster (*recorded is set to its system identifier, else 0), or is
 *		empty, or open rows are older than it (a restore under way: the
 *		dump's rows arrive after its CREATE EXTENSION); or ready.
 */
GwInstallState
gw_install_state(int64 *recorded)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	Datum		other;
	bool		isnull;
	int			rc;

	if (!OidIsValid(audit_known()) || !OidIsValid(known_relid))
		return GW_NOT_INSTALLED;
	/* the newest objects: gw_installation (1.1), gw_audit.requested_by_oid (1.3) */
	if (!OidIsValid(get_relname_relid("gw_installation", known_nsp)) ||
		get_attnum(known_relid, "requested_by_oid") == InvalidAttrNumber)
		return GW_NEEDS_UPDATE;
	values[0] = Int64GetDatum((int64) GetSystemIdentifier());
	rc = SPI_execute_plan(gw_audit_plan(STMT_FOREIGN,
									 "SELECT (SELECT system_identifier FROM %2$s WHERE system_identifier <> $1 LIMIT 1),"
									 " NOT EXISTS (SELECT FROM %2$s)"
									 "  OR EXISTS (SELECT FROM %1$s a WHERE a.status IN ('queued', 'sending', 'unknown', 'accepted')"
									 "   AND a.requested_at < (SELECT pg_catalog.min(acts_since) FROM %2$s))",
									 1, types),
						  values, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read gw_installation: %s", SPI_result_code_string(rc));
	other = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull &&
		!DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull)))
		return GW_READY;
	if (recorded)
		*recorded = isnull ? 0 : DatumGetInt64(other);
	return GW_FOREIGN;
}

/*
 * gw_audit_open_rows
 *		How many rows are not final: queued, sending, unknown, or accepted
 *		and still tracked.
 */
int64
gw_audit_open_rows(void)
{
	bool		isnull;
	int			rc;

	rc = SPI_execute_plan(gw_audit_plan(STMT_OPEN_ROWS,
									 "SELECT pg_catalog.count(*) FROM %s WHERE " GW_OPEN_ROW,
									 0, NULL),
						  NULL, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not count open gw_audit rows: %s", SPI_result_code_string(rc));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * gw_audit_adopt
 *		Make this cluster the installation's own: gw_installation then holds
 *		this cluster's system identifier alone, and the open rows are tied
 *		to the roles of this cluster that bear the names they were
 *		requested by (role OIDs differ between clusters; NULL when no role
 *		has the name: the worker then sends nothing for the row).  Returns
 *		the open rows the worker now acts on.
 */
int64
gw_audit_adopt(void)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	int			rc;

	values[0] = Int64GetDatum((int64) GetSystemIdentifier());
	rc = SPI_execute_plan(gw_audit_plan(STMT_ADOPT_DELETE,
										   "DELETE FROM %2$s /* the installation of %1$s */", 0, NULL),
						  NULL, NULL, false, 0);
	if (rc != SPI_OK_DELETE)
		elog(ERROR, "could not update gw_installation: %s", SPI_result_code_string(rc));
	rc = SPI_execute_plan(gw_audit_plan(STMT_ADOPT_INSERT,
									 "INSERT INTO %2$s (system_identifier, acts_since)"
									 " SELECT $1, least(pg_catalog.now(), (SELECT pg_catalog.min(requested_at) FROM %1$s))",
									 1, types),
						  values, NULL, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "could not update gw_installation: %s", SPI_result_code_string(rc));
	rc = SPI_execute_plan(gw_audit_plan(STMT_ADOPT_ROLES,
									 "UPDATE %1$s a SET requested_by_oid ="
									 " (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname = a.requested_by)"
									 " WHERE " GW_OPEN_ROW,
									 0, NULL),
						  NULL, NULL, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update gw_audit: %s", SPI_result_code_string(rc));
	return gw_audit_open_rows();
}

