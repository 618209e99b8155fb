/*-------------------------------------------------------------------------
 *
 * gwresize.c
 *	  Module entry: settings, shared memory and the background worker's
 *	  registration.
 *
 * gwresize must be in shared_preload_libraries: the worker that sends every
 * request and writes every audit row is registered here, and the slots
 * through which callers hand it synchronous calls live in shared memory.
 * Loaded any other way, the settings exist but the SQL functions refuse to
 * run (see entry.c).
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/guc.h"

#include "gwresize.h"

GW_MODULE_MAGIC;

void		_PG_init(void);

bool		gw_allow_http = false;
char	   *gw_ca_file = NULL;
char	   *gw_database_name = NULL;
int			gw_max_pending = 64;
int			gw_max_connections = 16;

GwShared   *gw_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

#if PG_VERSION_NUM >= 170000
/*
 * gw_wait_event
 *		The wait event GW_WAIT_CALL or GW_WAIT_WORKER stands for (compat.h),
 *		registered once per process: WaitEventExtensionNew looks it up in
 *		shared memory.
 */
uint32
gw_wait_event(int which)
{
	static const char *const names[] = {"GwresizeCall", "GwresizeWorker"};
	static uint32 ids[lengthof(names)];

	if (ids[which] == 0)
		ids[which] = WaitEventExtensionNew(names[which]);
	return ids[which];
}
#endif

static Size
gw_shmem_size(void)
{
	return add_size(offsetof(GwShared, slots),
					mul_size(sizeof(GwSlot), gw_max_pending));
}

static void
gw_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(gw_shmem_size());
	RequestNamedLWLockTranche("gwresize", 1);
}

static void
gw_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	gw_shared = ShmemInitStruct("gwresize", gw_shmem_size(), &found);
	if (!found)
	{
		memset(gw_shared, 0, gw_shmem_size());
		gw_shared->lock = &(GetNamedLWLockTranche("gwresize"))->lock;
		gw_shared->worker_procno = -1;
		gw_shared->next_ticket = 1;
		gw_shared->nslots = gw_max_pending;
		pg_atomic_init_u32(&gw_shared->recheck_generation, 0);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * gw_wake_worker
 *		Set the worker's latch, if a worker is running.
 */
void
gw_wake_worker(void)
{
	int			procno;

	if (gw_shared == NULL)
		return;
	procno = gw_shared->worker_procno;
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

/* whether a utility statement creates, updates or drops extension gwresize */
static bool
touches_gwresize(Node *stmt)
{
	if (IsA(stmt, CreateExtensionStmt))
		return strcmp(((CreateExtensionStmt *) stmt)->extname, "gwresize") == 0;
	if (IsA(stmt, AlterExtensionStmt))
		return strcmp(((AlterExtensionStmt *) stmt)->extname, "gwresize") == 0;
	if (IsA(stmt, DropStmt) && ((DropStmt *) stmt)->removeType == OBJECT_EXTENSION)
	{
		ListCell   *lc;

		foreach(lc, ((DropStmt *) stmt)->objects)
			if (strcmp(strVal(lfirst(lc)), "gwresize") == 0)
				return true;
	}
	return false;
}

/*
 * gw_ProcessUtility
 *		Wake the worker when CREATE, ALTER or DROP EXTENSION gwresize
 *		commits, so that it picks up the new state at once instead of at its
 *		next idle look.
 */
static void
gw_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	if (touches_gwresize(pstmt->utilityStmt))
		gw_wake_worker_at_commit();
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
							queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

void
_PG_init(void)
{
	BackgroundWorker worker;

	DefineCustomBoolVariable("gwresize.allow_http",
							 "Allows plain http:// endpoints.",
							 "Meant for tests and local mocks: requests and "
							 "provider answers then cross the network unencrypted.",
							 &gw_allow_http,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("gwresize.ca_file",
							   "File of CA certificates that TLS peers are verified against.",
							   "Empty means the system's CA store.",
							   &gw_ca_file,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	/* the providers' own: their metadata services */
	gw_provider_define_settings();

	/* sizing and the worker exist only when preloaded */
	if (!process_shared_preload_libraries_in_progress)
	{
		MarkGUCPrefixReserved("gwresize");
		return;
	}

	DefineCustomStringVariable("gwresize.database_name",
							   "Database the gwresize worker connects to.",
							   "The extension must be created in this database.",
							   &gw_database_name,
							   "postgres",
							   PGC_POSTMASTER,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("gwresize.max_pending",
							"Synchronous calls that can wait for the worker at once.",
							NULL,
							&gw_max_pending,
							64, 1, 10000,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("gwresize.max_connections",
							"Connections the worker keeps open to providers, in all.",
							NULL,
							&gw_max_connections,
							16, 1, 256,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("gwresize");

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = gw_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = gw_shmem_startup;
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = gw_ProcessUtility;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "gwresize");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "gw_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "gwresize worker");
	snprintf(worker.bgw_type, BGW_MAXLEN, "gwresize worker");
	RegisterBackgroundWorker(&worker);
}
