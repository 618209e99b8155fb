/*-------------------------------------------------------------------------
 *
 * audit.h
 *	  The statements gwresize runs on gw_audit and gw_installation, and the
 *	  plans kept of them: shared by audit.c (the rows) and install.c (the
 *	  installation).  Only those two include it.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_AUDIT_H
#define GW_AUDIT_H

#include "executor/spi.h"

/*
 * Plans of the statements, prepared once per process and kept while the
 * extension stays the same (install.c frees them when it changes).
 */
typedef enum GwAuditStmt
{
	STMT_INSERT,
	STMT_FIND_OPEN,
	STMT_FINISH,
	STMT_FETCH,
	STMT_CLAIM_QUEUED,
	STMT_CLAIM_UNKNOWN,
	STMT_RETRY,
	STMT_CANCEL,
	STMT_CLAIM_TRACK,
	STMT_TRACK,
	STMT_NEXT_POLL,
	STMT_RESERVE,
	STMT_FOREIGN,
	STMT_OPEN_ROWS,
	STMT_ADOPT_DELETE,
	STMT_ADOPT_INSERT,
	STMT_ADOPT_ROLES,
	STMT_CANCEL_ANY,
	NUM_STMTS
} GwAuditStmt;

/*
 * A row that is not final: queued, sending, unknown, or accepted and still
 * tracked.  It is also the predicate of the unique index on (provider,
 * instance_id) that allows one open resize per instance.
 */
#define GW_OPEN_ROW \
	"(status IN ('queued', 'sending', 'unknown')" \
	" OR (status = 'accepted' AND finished_at IS NULL))"

/* in audit.c */
extern SPIPlanPtr gw_audit_plan(GwAuditStmt stmt, const char *sql, int nargs,
								Oid *types);
extern void gw_audit_free_plans(void);

/* in install.c */
extern bool gw_audit_names(const char **audit, const char **installation);

#endif							/* GW_AUDIT_H */
