/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  What differs between the PostgreSQL versions gwresize builds against
 *	  (15, 16, 17, 18 and 19), in one place: the rest of the code reads as
 *	  one version.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_COMPAT_H
#define GW_COMPAT_H

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"

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
