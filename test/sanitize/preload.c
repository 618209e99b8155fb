/*-------------------------------------------------------------------------
 *
 * preload.c
 *	  Preloaded after the AddressSanitizer runtime into the postgres of
 *	  `make test-sanitize` (scripts/sanitize.sh), so that postgres starts.
 *
 * postgres itself is not instrumented, so the ASan runtime is preloaded and
 * initialises lazily, on the first malloc.  That first malloc happens in
 * libp11-kit's constructor (postgres -> libldap -> libgnutls -> libp11-kit),
 * inside newlocale(), which holds glibc's __libc_setlocale_lock for writing.
 * The runtime's initialisation looks up the optional symbol swift_demangle
 * with dlsym() and then calls dlerror(), which translates its message with
 * dcgettext(), which takes the same lock again: glibc's rwlock returns
 * EDEADLK, dcgettext's unlock then releases newlocale's write lock, and
 * newlocale's own unlock drives the reader count negative.  The next
 * bindtextdomain(), setlocale() or freelocale() waits forever: postgres,
 * psql and initdb all hang at start (or, for initdb --version, at exit).
 *
 * Defining swift_demangle makes that dlsym() succeed, so dlerror() has no
 * message to translate and the lock is left alone.  The runtime only calls
 * it for names mangled by Swift ("_T..."); returning NULL makes it fall
 * back to its usual demangling.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include <stddef.h>
#include <stdint.h>

char	   *swift_demangle(const char *mangled, size_t len, char *out,
						   size_t *outlen, uint32_t flags);

char *
swift_demangle(const char *mangled, size_t len, char *out, size_t *outlen,
			   uint32_t flags)
{
	return NULL;
}
