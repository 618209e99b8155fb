/*-------------------------------------------------------------------------
 *
 * sign.c
 *	  Encoding, digests and the three request-signature schemes.
 *
 * Digests and MACs come from OpenSSL; this file only arranges the strings
 * each provider's scheme signs.  See sign.h for the contracts.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#ifdef FRONTEND
#include "postgres_fe.h"
#else
#include "postgres.h"
#endif

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "sign.h"

static const char hexdigits_lower[] = "0123456789abcdef";
static const char hexdigits_upper[] = "0123456789ABCDEF";

/*
 * gw_uri_encode
 *		Append s to buf, percent-encoding every byte outside RFC 3986's
 *		unreserved set with upper-case hex digits.
 */
void
gw_uri_encode(StringInfo buf, const char *s)
{
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
			c == '~')
			appendStringInfoChar(buf, (char) c);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hexdigits_upper[c >> 4]);
			appendStringInfoChar(buf, hexdigits_upper[c & 0xF]);
		}
	}
}

/*
 * gw_hex_encode
 *		Lower-case hex of len bytes into out, which must hold 2 * len + 1.
 */
void
gw_hex_encode(const unsigned char *data, int len, char *out)
{
	int			i;

	for (i = 0; i < len; i++)
	{
		out[2 * i] = hexdigits_lower[data[i] >> 4];
		out[2 * i + 1] = hexdigits_lower[data[i] & 0xF];
	}
	out[2 * len] = '\0';
}

/*
 * gw_sha256_hex
 *		Hex SHA-256 of data into out (GW_SHA256_HEX_LEN + 1 bytes).
 */
void
gw_sha256_hex(const char *data, size_t len, char *out)
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *) data, len, md);
	gw_hex_encode(md, SHA256_DIGEST_LENGTH, out);
}

/*
 * gw_hmac_sha256
 *		HMAC-SHA256 into out (32 bytes).
 */
void
gw_hmac_sha256(const char *key, size_t keylen, const char *data, size_t len,
			   unsigned char *out)
{
	unsigned int outlen = 0;

	HMAC(EVP_sha256(), key, (int) keylen, (const unsigned char *) data, len,
		 out, &outlen);
}

/*
 * gw_hmac_sha1
 *		HMAC-SHA1 into out (20 bytes).
 */
void
gw_hmac_sha1(const char *key, size_t keylen, const char *data, size_t len,
			 unsigned char *out)
{
	unsigned int outlen = 0;

	HMAC(EVP_sha1(), key, (int) keylen, (const unsigned char *) data, len,
		 out, &outlen);
}

/*
 * gw_base64_encode
 *		Append standard base64 (with padding) of data to buf.
 */
void
gw_base64_encode(StringInfo buf, const unsigned char *data, int len)
{
	int			need = 4 * ((len + 2) / 3) + 1;

	enlargeStringInfo(buf, need);
	buf->len += EVP_EncodeBlock((unsigned char *) buf->data + buf->len,
								data, len);
	buf->data[buf->len] = '\0';
}

/*
 * gw_random_hex
 *		nbytes of cryptographically strong randomness as hex into out
 *		(2 * nbytes + 1 bytes).  Used for signature nonces.
 */
void
gw_random_hex(char *out, int nbytes)
{
	unsigned char raw[64];

	Assert(nbytes <= (int) sizeof(raw));
	if (RAND_bytes(raw, nbytes) != 1)
	{
		/* OpenSSL's CSPRNG failing is not something we can work around */
#ifdef FRONTEND
		fprintf(stderr, "RAND_bytes failed\n");
		exit(1);
#else
		elog(ERROR, "could not generate random bytes");
#endif
	}
	gw_hex_encode(raw, nbytes, out);
}

static int
kv_cmp(const void *a, const void *b)
{
	const GwKV *x = (const GwKV *) a;
	const GwKV *y = (const GwKV *) b;
	int			r = strcmp(x->key, y->key);

	if (r != 0)
		return r;
	return strcmp(x->value ? x->value : "", y->value ? y->value : "");
}

/*
 * gw_kv_room
 *		Room for anything built from the n pairs kv (their keys and values
 *		percent-encoded twice: five bytes a byte at most), plus slack.  A
 *		buffer made this big before a secret goes into it never grows, so
 *		no shorter copy of the secret is left behind in freed memory.
 */
int
gw_kv_room(const GwKV *kv, int n)
{
	int			room = 1024;
	int			i;

	for (i = 0; i < n; i++)
		room += 5 * (strlen(kv[i].key) + (kv[i].value ? strlen(kv[i].value) : 0) + 2);
	return room;
}

void
gw_sort_kv(GwKV *kv, int n)
{
	if (n > 1)
		qsort(kv, n, sizeof(GwKV), kv_cmp);
}

/*
 * gw_canonical_query
 *		Sort params and append enc(k)=enc(v) pairs joined by '&'.  An empty
 *		or NULL value gives "k=".
 */
void
gw_canonical_query(StringInfo buf, GwKV *params, int n)
{
	int			i;

	gw_sort_kv(params, n);
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(buf, '&');
		gw_uri_encode(buf, params[i].key);
		appendStringInfoChar(buf, '=');
		if (params[i].value)
			gw_uri_encode(buf, params[i].value);
	}
}

void
gw_acs_rpc_string_to_sign(StringInfo out, const char *method,
						  GwKV *params, int n)
{
	StringInfoData cq;
	int			room = gw_kv_room(params, n);

	initStringInfo(&cq);
	enlargeStringInfo(&cq, room);
	enlargeStringInfo(out, room);
	gw_canonical_query(&cq, params, n);
	appendStringInfoString(out, method);
	appendStringInfoString(out, "&%2F&");
	gw_uri_encode(out, cq.data);
	explicit_bzero(cq.data, cq.len);
	pfree(cq.data);
}

void
gw_acs_rpc_signature(StringInfo out, const char *secret,
					 const char *string_to_sign)
{
	size_t		klen = strlen(secret);
	char	   *key = palloc(klen + 2);
	unsigned char mac[20];

	memcpy(key, secret, klen);
	key[klen] = '&';
	key[klen + 1] = '\0';
	gw_hmac_sha1(key, klen + 1, string_to_sign, strlen(string_to_sign), mac);
	explicit_bzero(key, klen + 1);
	pfree(key);
	gw_base64_encode(out, mac, sizeof(mac));
}

/*
 * Shared by both header-signing schemes: "name:value\n" for each header
 * (sorted), then a blank line, then the ';'-joined names.  Values are
 * trimmed of surrounding spaces as both providers' SDKs do.
 */
static void
append_canonical_headers(StringInfo out, StringInfo signed_headers,
						 GwKV *headers, int nh)
{
	int			i;

	gw_sort_kv(headers, nh);
	for (i = 0; i < nh; i++)
	{
		const char *v = headers[i].value ? headers[i].value : "";
		int			vlen;

		while (*v == ' ' || *v == '\t')
			v++;
		vlen = strlen(v);
		while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		appendStringInfo(out, "%s:", headers[i].key);
		appendBinaryStringInfo(out, v, vlen);
		appendStringInfoChar(out, '\n');
		if (i > 0)
			appendStringInfoChar(signed_headers, ';');
		appendStringInfoString(signed_headers, headers[i].key);
	}
	appendStringInfoChar(out, '\n');
	appendStringInfoString(out, signed_headers->data);
	appendStringInfoChar(out, '\n');
}

void
gw_acs3_canonical_request(StringInfo out, StringInfo signed_headers,
						  const char *method, const char *path,
						  GwKV *query, int nq, GwKV *headers, int nh,
						  const char *body_sha256_hex)
{
	appendStringInfo(out, "%s\n%s\n", method, path);
	gw_canonical_query(out, query, nq);
	appendStringInfoChar(out, '\n');
	append_canonical_headers(out, signed_headers, headers, nh);
	appendStringInfoString(out, body_sha256_hex);
}

void
gw_acs3_authorization(StringInfo out, const char *access_key_id,
					  const char *secret, const char *canonical_request,
					  const char *signed_headers)
{
	char		crhash[GW_SHA256_HEX_LEN + 1];
	char		sig[GW_SHA256_HEX_LEN + 1];
	unsigned char mac[32];
	StringInfoData sts;

	gw_sha256_hex(canonical_request, strlen(canonical_request), crhash);
	initStringInfo(&sts);
	appendStringInfo(&sts, "ACS3-HMAC-SHA256\n%s", crhash);
	gw_hmac_sha256(secret, strlen(secret), sts.data, sts.len, mac);
	gw_hex_encode(mac, sizeof(mac), sig);
	pfree(sts.data);
	appendStringInfo(out,
					 "ACS3-HMAC-SHA256 Credential=%s,SignedHeaders=%s,Signature=%s",
					 access_key_id, signed_headers, sig);
	explicit_bzero(sig, sizeof(sig));
}

void
gw_sdk_canonical_request(StringInfo out, StringInfo signed_headers,
						 const char *method, const char *path,
						 GwKV *query, int nq, GwKV *headers, int nh,
						 const char *body, size_t bodylen)
{
	char		bodyhash[GW_SHA256_HEX_LEN + 1];
	const char *p = path;

	appendStringInfo(out, "%s\n", method);
	/* each segment encoded; the canonical URI always ends with '/' */
	while (*p)
	{
		const char *slash = strchr(p, '/');
		int			seglen = slash ? (int) (slash - p) : (int) strlen(p);

		if (seglen > 0)
		{
			char	   *seg = pnstrdup(p, seglen);

			gw_uri_encode(out, seg);
			pfree(seg);
		}
		if (!slash)
			break;
		appendStringInfoChar(out, '/');
		p = slash + 1;
	}
	if (out->len == 0 || out->data[out->len - 1] != '/')
		appendStringInfoChar(out, '/');
	appendStringInfoChar(out, '\n');
	gw_canonical_query(out, query, nq);
	appendStringInfoChar(out, '\n');
	append_canonical_headers(out, signed_headers, headers, nh);
	gw_sha256_hex(body ? body : "", body ? bodylen : 0, bodyhash);
	appendStringInfoString(out, bodyhash);
}

void
gw_sdk_authorization(StringInfo out, const char *access_key,
					 const char *secret_key, const char *sdk_date,
					 const char *canonical_request, const char *signed_headers)
{
	char		crhash[GW_SHA256_HEX_LEN + 1];
	char		sig[GW_SHA256_HEX_LEN + 1];
	unsigned char mac[32];
	StringInfoData sts;

	gw_sha256_hex(canonical_request, strlen(canonical_request), crhash);
	initStringInfo(&sts);
	appendStringInfo(&sts, "SDK-HMAC-SHA256\n%s\n%s", sdk_date, crhash);
	gw_hmac_sha256(secret_key, strlen(secret_key), sts.data, sts.len, mac);
	gw_hex_encode(mac, sizeof(mac), sig);
	pfree(sts.data);
	appendStringInfo(out,
					 "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s",
					 access_key, signed_headers, sig);
	explicit_bzero(sig, sizeof(sig));
}
