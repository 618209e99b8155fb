/*-------------------------------------------------------------------------
 *
 * mask.c
 *	  Secrets masked in every form they can take on the wire.
 *
 * A provider may quote back what it was sent: Alibaba's SignatureDoesNotMatch
 * quotes the string to sign, where an STS token is percent-encoded (twice in
 * the RPC style); a JSON answer may escape '/' as "\/" or any character as
 * "\u002b"; a plain-text answer is kept as it came.  A secret is therefore
 * matched one character at a time, each character as itself or in any of
 * its encodings: a JSON escape ("\/", "\"", "\\" or "\uXXXX"), a percent
 * escape ("%XX", either case) or one applied twice ("%25XX"), or '+' for a
 * space (form encoding), in any mixture.  Every occurrence becomes "***".
 * The longest secrets are masked first, so that a short one (an external id
 * of two characters) masked inside a longer one does not break the longer
 * one's match; what is kept of an answer is masked before anything cuts it,
 * and again after JSON decoding (jsonb decodes escapes on the way into
 * gw_audit).
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/jsonb.h"

#include "gwresize.h"

#define MASK_MAX_SECRETS 16

struct GwMask
{
	int			n;
	const char *secrets[MASK_MAX_SECRETS];	/* longest first */
	int			lens[MASK_MAX_SECRETS];
};

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* the byte written as n hex digits at p (no more than end), or -1 */
static int
hex_byte(const char *p, const char *end, int n)
{
	int			v = 0;
	int			i;

	if (end - p < n)
		return -1;
	for (i = 0; i < n; i++)
	{
		int			h = hex_value(p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/*
 * char_at
 *		How many bytes of text at p (before end) spell the byte c, in any of
 *		the encodings above; 0 when none does.  The longest spelling wins.
 */
static int
char_at(const char *p, const char *end, unsigned char c)
{
	if (*p == '\\' && end - p >= 2)
	{
		/* \u00XX spells an ASCII character (higher ones are code points) */
		if (p[1] == 'u' && c < 0x80 && end - p >= 6 && p[2] == '0' &&
			p[3] == '0' && hex_byte(p + 4, end, 2) == c)
			return 6;
		if (p[1] == (char) c && (c == '/' || c == '"' || c == '\\'))
			return 2;
	}
	if (*p == '%')
	{
		/* twice first: "%2525" is a '%' encoded twice, "%25" once */
		if (end - p >= 5 && p[1] == '2' && p[2] == '5' && hex_byte(p + 3, end, 2) == c)
			return 5;
		if (hex_byte(p + 1, end, 2) == c)
			return 3;
	}
	if ((unsigned char) *p == c)
		return 1;
	if (*p == '+' && c == ' ')
		return 1;
	return 0;
}

/* how many bytes of text at p spell the whole secret s, or 0 */
static int
secret_at(const char *p, const char *end, const char *s, int slen)
{
	const char *q = p;
	int			i;

	for (i = 0; i < slen; i++)
	{
		int			n;

		if (q >= end || (n = char_at(q, end, (unsigned char) s[i])) == 0)
			return 0;
		q += n;
	}
	return (int) (q - p);
}

/*
 * mask_one
 *		text (len bytes) with every spelling of s replaced by "***", as a
 *		new string; NULL when s is not in it.
 */
static char *
mask_one(const char *text, int len, const char *s, int slen)
{
	const char *end = text + len;
	const char *p = text;
	const char *copied = text;
	StringInfoData buf;
	bool		any = false;

	while (p < end)
	{
		int			n = secret_at(p, end, s, slen);

		if (n == 0)
		{
			p++;
			continue;
		}
		if (!any)
			initStringInfo(&buf);
		any = true;
		appendBinaryStringInfo(&buf, copied, p - copied);
		appendStringInfoString(&buf, "***");
		p += n;
		copied = p;
	}
	if (!any)
		return NULL;
	appendBinaryStringInfo(&buf, copied, end - copied);
	return buf.data;
}

/*
 * gw_free_secret, gw_free_secret_buf
 *		Zero, then free, a string (NULL-safe) or a StringInfo's buffer that
 *		held a secret: freed memory is not cleared, and is reused later.
 */
void
gw_free_secret(char *s)
{
	if (s)
	{
		explicit_bzero(s, strlen(s));
		pfree(s);
	}
}

void
gw_free_secret_buf(StringInfo buf)
{
	explicit_bzero(buf->data, buf->len);
	pfree(buf->data);
	buf->data = NULL;
}

/*
 * gw_mask_new, gw_mask_add, gw_mask_add_creds
 *		A set of secrets to mask: each secret value of a set of credentials
 *		(the secret key, security token, IAM token, password, metadata
 *		session token and external id), kept longest first.  Access key ids
 *		are not secret.  The strings are not copied: they must outlive the
 *		mask.
 */
GwMask *
gw_mask_new(void)
{
	return palloc0(sizeof(GwMask));
}

void
gw_mask_add(GwMask *m, const char *secret)
{
	int			len;
	int			i;

	if (secret == NULL || (len = strlen(secret)) == 0)
		return;
	for (i = 0; i < m->n; i++)
		if (m->lens[i] == len && memcmp(m->secrets[i], secret, len) == 0)
			return;				/* the same value twice */
	if (m->n == MASK_MAX_SECRETS)
		elog(ERROR, "too many secrets to mask");
	/* insert in order of decreasing length */
	for (i = m->n; i > 0 && m->lens[i - 1] < len; i--)
	{
		m->secrets[i] = m->secrets[i - 1];
		m->lens[i] = m->lens[i - 1];
	}
	m->secrets[i] = secret;
	m->lens[i] = len;
	m->n++;
}

void
gw_mask_add_creds(GwMask *m, const GwCreds *c)
{
	if (c == NULL)
		return;
	gw_mask_add(m, c->secret);
	gw_mask_add(m, c->security_token);
	gw_mask_add(m, c->auth_token);
	gw_mask_add(m, c->password);
	gw_mask_add(m, c->metadata_token);
	gw_mask_add(m, c->external_id);
}

/*
 * gw_mask_text
 *		text (len bytes; -1: up to its NUL) with every secret of m masked,
 *		longest first: the same pointer when nothing was, else a new string.
 *		The steps between (masked of some secrets, not yet of the others)
 *		are zeroed and freed.  NULL in, NULL out.
 */
char *
gw_mask_text(const GwMask *m, char *text, int len)
{
	char	   *given = text;
	int			i;

	if (text == NULL || m == NULL)
		return text;
	if (len < 0)
		len = strlen(text);
	for (i = 0; i < m->n; i++)
	{
		char	   *masked = mask_one(text, len, m->secrets[i], m->lens[i]);

		if (masked)
		{
			if (text != given)
				gw_free_secret(text);
			text = masked;
			len = strlen(masked);
		}
	}
	return text;
}

/*
 * gw_mask_body
 *		An answer's body masked in place, before it is judged: whatever is
 *		kept of it (a cut prefix, a message) then holds no secret.
 */
void
gw_mask_body(const GwMask *m, StringInfo body)
{
	char	   *masked;

	if (body->len == 0 || m == NULL || m->n == 0)
		return;
	masked = gw_mask_text(m, body->data, body->len);
	if (masked == body->data)
		return;
	explicit_bzero(body->data, body->len);
	resetStringInfo(body);
	appendStringInfoString(body, masked);
	pfree(masked);
}

/*
 * gw_mask_outcome
 *		Every text of an outcome masked, after the judge decoded them; the
 *		response is first made the text jsonb will store (escapes decoded,
 *		PostgreSQL's own escaping), then masked.  Returns whether the
 *		response changed, so that the caller checks it is still JSON.
 */
bool
gw_mask_outcome(const GwMask *m, GwOutcome *out)
{
	char	   *given = out->response_json;
	char	   *response = given;
	bool		masked = false;

	out->error_code = gw_mask_text(m, out->error_code, -1);
	out->error_message = gw_mask_text(m, out->error_message, -1);
	out->request_id = gw_mask_text(m, out->request_id, -1);
	out->job_id = gw_mask_text(m, out->job_id, -1);
	out->instance_status = gw_mask_text(m, out->instance_status, -1);
	out->instance_spec = gw_mask_text(m, out->instance_spec, -1);
	if (response && m && m->n > 0)
	{
		/* JSON text without an escape decodes to what it says */
		if (strchr(response, '\\') != NULL)
		{
			Jsonb	   *jb = gw_json_parse(response, strlen(response));

			if (jb)
			{
				response = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
				explicit_bzero(jb, VARSIZE(jb));
				pfree(jb);
			}
		}
		out->response_json = gw_mask_text(m, response, -1);
		masked = out->response_json != response;
		if (masked && response != given)
		{
			/* the decoded text quoted a secret: it goes */
			gw_free_secret(response);
		}
	}
	return masked;
}
