/*-------------------------------------------------------------------------
 *
 * canary.c
 *	  Two functions with deliberate bugs, built with the sanitizer flags
 *	  and called by scripts/sanitize.sh in a backend before the suites run:
 *	  each must kill its backend and leave a report, with a stack trace, in
 *	  the report directory.  That proves the runtime is loaded, that the
 *	  options reached a backend (PostgreSQL has overwritten the process's
 *	  environment block by then) and that a report fails the run.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(gw_canary_overflow);
PG_FUNCTION_INFO_V1(gw_canary_heap);

/* signed overflow for INT_MAX: UndefinedBehaviorSanitizer */
Datum
gw_canary_overflow(PG_FUNCTION_ARGS)
{
	int32		a = PG_GETARG_INT32(0);

	PG_RETURN_INT32(a + 1);
}

/* reads byte i of an 8-byte malloc'd block: AddressSanitizer for i >= 8 */
Datum
gw_canary_heap(PG_FUNCTION_ARGS)
{
	int32		i = PG_GETARG_INT32(0);
	volatile char *p = malloc(8);
	char		c;

	if (p == NULL)
		elog(ERROR, "out of memory");
	memset((char *) p, 0, 8);
	c = p[i];
	free((char *) p);
	PG_RETURN_INT32(c);
}
