/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  What differs between the PostgreSQL versions gwresize builds against
 *	  (15, 16, 17, 18 and 19), in one place: the rest of the code reads as
 *	  one version.  Each guard names the version that changed.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_COMPAT_H
#define GW_COMPAT_H

#include "catalog/pg_foreign_server.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"		/* 19's headers no longer bring it in */
#include "utils/wait_event.h"

/*
 * PG_MODULE_MAGIC_EXT (18) also names the module and its version, for
 * pg_get_loaded_modules().
 */
#if PG_VERSION_NUM >= 180000
#define GW_MODULE_MAGIC PG_MODULE_MAGIC_EXT(.name = "gwresize", .version = GW_SQL_VERSION)
#else
#define GW_MODULE_MAGIC PG_MODULE_MAGIC
#endif

/* this process's PGPROC number: MyProcNumber from 17, MyProc->pgprocno before */
#if PG_VERSION_NUM >= 170000
#define GW_MY_PROCNO	MyProcNumber
#else
#define GW_MY_PROCNO	(MyProc->pgprocno)
#endif

/* a wait event set for the life of the process (17: a resource owner) */
#if PG_VERSION_NUM >= 170000
#define gw_wait_event_set_new(n)	CreateWaitEventSet(NULL, (n))
#else
#define gw_wait_event_set_new(n)	CreateWaitEventSet(TopMemoryContext, (n))
#endif

/* USAGE on a foreign server: object_aclcheck from 16 */
#if PG_VERSION_NUM >= 160000
#define gw_server_aclcheck(srv, role, mode) \
	object_aclcheck(ForeignServerRelationId, (srv), (role), (mode))
#else
#define gw_server_aclcheck(srv, role, mode) \
	pg_foreign_server_aclcheck((srv), (role), (mode))
#endif

/*
 * Wait events: named ones from 17, shown in pg_stat_activity as
 * "GwresizeCall" (a caller waiting for the worker, gw_wait) and
 * "GwresizeWorker" (the worker waiting for work or the network);
 * PG_WAIT_EXTENSION ("Extension") before.
 */
#if PG_VERSION_NUM >= 170000
#define GW_WAIT_CALL	gw_wait_event(0)	/* GwresizeCall */
#define GW_WAIT_WORKER	gw_wait_event(1)	/* GwresizeWorker */
extern uint32 gw_wait_event(int which);
#else
#define GW_WAIT_CALL	PG_WAIT_EXTENSION
#define GW_WAIT_WORKER	PG_WAIT_EXTENSION
#endif

/*
 * A switch case that falls through: 19 builds with
 * -Wimplicit-fallthrough=5, where only the attribute counts, and defines
 * pg_fallthrough; before, the comment form sufficed.
 */
#ifndef pg_fallthrough
#if defined(__has_attribute)
#if __has_attribute(fallthrough)
#define pg_fallthrough __attribute__((fallthrough))
#endif
#endif
#endif
#ifndef pg_fallthrough
#define pg_fallthrough ((void) 0)
#endif

/*
 * JSON lexer: 17 takes the context to fill (NULL: allocate one) and frees
 * it with freeJsonLexContext; before, the caller pfrees it.  Semantic
 * actions return JsonParseErrorType from 16 on.
 */
#if PG_VERSION_NUM >= 170000
#define gw_json_lex_new(json, len, need_escapes) \
	makeJsonLexContextCstringLen(NULL, (json), (len), GetDatabaseEncoding(), \
								 (need_escapes))
#define gw_json_lex_free(lex)	freeJsonLexContext(lex)
#else
#define gw_json_lex_new(json, len, need_escapes) \
	makeJsonLexContextCstringLen(unconstify(char *, (json)), (len), \
								 GetDatabaseEncoding(), (need_escapes))
#define gw_json_lex_free(lex) \
	do { \
		if ((lex)->strval) \
			pfree((lex)->strval->data); \
		pfree(lex); \
	} while (0)
#endif

#if PG_VERSION_NUM >= 160000
#define GW_JSON_ACTION			JsonParseErrorType
#define GW_JSON_ACTION_DONE		return JSON_SUCCESS
#else
#define GW_JSON_ACTION			void
#define GW_JSON_ACTION_DONE		return
#endif

#endif							/* GW_COMPAT_H */
