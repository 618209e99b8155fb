/*-------------------------------------------------------------------------
 *
 * json.c
 *	  Reading providers' JSON answers with PostgreSQL's JSON support: the
 *	  whole answer as jsonb, a scalar at a path of it, and the fields of a
 *	  credential source's answer read with the JSON lexer so that every
 *	  copy of a credential is zeroed.  Nothing here throws for what a
 *	  provider can send.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "common/jsonapi.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "gwresize.h"
#include "compat.h"

/*
 * gw_json_nesting_ok
 *		Whether the JSON text nests arrays and objects at most maxdepth
 *		deep.  A cheap scan that knows strings and escapes, run before a
 *		provider's answer is parsed: the parser recurses per level, and a
 *		hostile answer must not exhaust the stack.
 */
static bool
gw_json_nesting_ok(const char *s, int len, int maxdepth)
{
	int			depth = 0;
	bool		in_string = false;
	int			i;

	for (i = 0; i < len; i++)
	{
		char		c = s[i];

		if (in_string)
		{
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		}
		else if (c == '"')
			in_string = true;
		else if (c == '[' || c == '{')
		{
			if (++depth > maxdepth)
				return false;
		}
		else if (c == ']' || c == '}')
			depth--;
	}
	return true;
}

/*
 * gw_json_parse
 *		The body as jsonb, or NULL when it is not valid JSON, nests deeper
 *		than GW_JSON_MAX_DEPTH, or is not storable as jsonb (such as a
 *		\u0000 escape).  The body must be valid text (gw_clean_body).
 *		Never throws for anything a provider can send.
 */
Jsonb *
gw_json_parse(const char *body, int len)
{
	JsonLexContext *lex;
	MemoryContext oldcxt = CurrentMemoryContext;
	Jsonb	   *result = NULL;

	if (body == NULL || len == 0 || len > GW_RESPONSE_MAX ||
		!gw_json_nesting_ok(body, len, GW_JSON_MAX_DEPTH))
		return NULL;
	lex = gw_json_lex_new(body, len, false);
	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
	{
		gw_json_lex_free(lex);
		return NULL;
	}
	gw_json_lex_free(lex);

	/* jsonb_in only computes, so trapping its error needs no subxact */
	PG_TRY();
	{
		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													CStringGetDatum(body)));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		FlushErrorState();
		result = NULL;
	}
	PG_END_TRY();
	return result;
}

static char *
scalar_text(JsonbValue *v)
{
	switch (v->type)
	{
		case jbvString:
			return pnstrdup(v->val.string.val, v->val.string.len);
		case jbvNumeric:
			return DatumGetCString(DirectFunctionCall1(numeric_out,
													   NumericGetDatum(v->val.numeric)));
		case jbvBool:
			return pstrdup(v->val.boolean ? "true" : "false");
		default:
			return NULL;
	}
}

/*
 * gw_json_get_path
 *		The scalar at a path of object keys and array indexes (digits) in a
 *		jsonb value, as text; NULL when any step is missing.
 */
char *
gw_json_get_path(Jsonb *jb, const char *const *path, int n)
{
	JsonbContainer *c;
	JsonbValue	v;
	JsonbValue *e;
	int			i;

	if (jb == NULL)
		return NULL;
	c = &jb->root;
	for (i = 0; i < n; i++)
	{
		if (JsonContainerIsArray(c) && isdigit((unsigned char) path[i][0]))
		{
			e = getIthJsonbValueFromContainer(c, atoi(path[i]));
			if (e == NULL)
				return NULL;
			v = *e;
		}
		else if (!JsonContainerIsObject(c) ||
				 !getKeyJsonValueFromContainer(c, path[i], strlen(path[i]), &v))
			return NULL;
		if (i == n - 1)
			return scalar_text(&v);
		if (v.type != jbvBinary)
			return NULL;
		c = v.val.binary.data;
	}
	return NULL;
}

/*
 * gw_json_get_text
 *		The scalar at key1 (or key1.key2) of a jsonb object as text, or NULL.
 */
char *
gw_json_get_text(Jsonb *jb, const char *key1, const char *key2)
{
	const char *path[2] = {key1, key2};

	return gw_json_get_path(jb, path, key2 ? 2 : 1);
}

/*
 * FieldScan: the state of gw_json_fields' semantic actions.
 */
typedef struct FieldScan
{
	const char *const *paths;	/* wanted: keys joined by '.' */
	int			npaths;
	char	  **values;			/* found: one per path, or NULL */
	int			depth;			/* objects open */
	int			in_array;		/* arrays open */
	char	   *keys[GW_JSON_MAX_DEPTH];	/* the key at each depth */
} FieldScan;

static GW_JSON_ACTION
scan_object_start(void *state)
{
	((FieldScan *) state)->depth++;
	GW_JSON_ACTION_DONE;
}

static GW_JSON_ACTION
scan_object_end(void *state)
{
	((FieldScan *) state)->depth--;
	GW_JSON_ACTION_DONE;
}

static GW_JSON_ACTION
scan_array_start(void *state)
{
	((FieldScan *) state)->in_array++;
	GW_JSON_ACTION_DONE;
}

static GW_JSON_ACTION
scan_array_end(void *state)
{
	((FieldScan *) state)->in_array--;
	GW_JSON_ACTION_DONE;
}

static GW_JSON_ACTION
scan_field_start(void *state, char *fname, bool isnull)
{
	FieldScan  *fs = (FieldScan *) state;

	if (fs->depth >= 1 && fs->depth <= GW_JSON_MAX_DEPTH)
		fs->keys[fs->depth - 1] = fname;
	GW_JSON_ACTION_DONE;
}

/* a scalar: kept when it is at a wanted path (the first time), else zeroed */
static GW_JSON_ACTION
scan_scalar(void *state, char *token, JsonTokenType tokentype)
{
	FieldScan  *fs = (FieldScan *) state;
	int			i;

	if (token == NULL)
		GW_JSON_ACTION_DONE;
	if (fs->in_array == 0 && fs->depth >= 1 && fs->depth <= GW_JSON_MAX_DEPTH)
	{
		for (i = 0; i < fs->npaths; i++)
		{
			const char *p = fs->paths[i];
			int			d;

			if (fs->values[i] != NULL)
				continue;
			for (d = 0; d < fs->depth && p; d++)
			{
				size_t		klen = strlen(fs->keys[d]);

				if (strncmp(p, fs->keys[d], klen) != 0 ||
					p[klen] != (d == fs->depth - 1 ? '\0' : '.'))
					p = NULL;
				else
					p += klen + 1;
			}
			if (p)
			{
				fs->values[i] = token;
				GW_JSON_ACTION_DONE;
			}
		}
	}
	gw_free_secret(token);
	GW_JSON_ACTION_DONE;
}

/*
 * gw_json_fields
 *		The scalars of a credential source's answer at paths (object keys
 *		joined by '.'), each as a new string in values[i], or NULL.  Read
 *		with PostgreSQL's JSON lexer, not into a jsonb: each copy of a value
 *		the lexer makes comes through here, and what is not asked for is
 *		zeroed at once, as is the lexer's string buffer (made big enough up
 *		front never to grow and leave a copy behind).  Returns false, all
 *		values NULL, when the body is not JSON or nests too deep.
 */
bool
gw_json_fields(const char *body, int len, const char *const *paths, int n,
			   char **values)
{
	JsonLexContext *lex;
	JsonSemAction sem;
	FieldScan	fs;
	bool		ok;
	int			i;

	for (i = 0; i < n; i++)
		values[i] = NULL;
	if (body == NULL || len == 0 || len > GW_RESPONSE_MAX ||
		!gw_json_nesting_ok(body, len, GW_JSON_MAX_DEPTH))
		return false;
	memset(&fs, 0, sizeof(fs));
	fs.paths = paths;
	fs.npaths = n;
	fs.values = values;
	memset(&sem, 0, sizeof(sem));
	sem.semstate = &fs;
	sem.object_start = scan_object_start;
	sem.object_end = scan_object_end;
	sem.array_start = scan_array_start;
	sem.array_end = scan_array_end;
	sem.object_field_start = scan_field_start;
	sem.scalar = scan_scalar;

	lex = gw_json_lex_new(body, len, true);
	enlargeStringInfo(lex->strval, len + 1);
	ok = pg_parse_json(lex, &sem) == JSON_SUCCESS;
	explicit_bzero(lex->strval->data, lex->strval->maxlen);
	gw_json_lex_free(lex);
	if (!ok)
		for (i = 0; i < n; i++)
		{
			gw_free_secret(values[i]);
			values[i] = NULL;
		}
	return ok;
}
