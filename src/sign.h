/*-------------------------------------------------------------------------
 *
 * sign.h
 *	  Request-signing primitives for gwresize: RFC 3986 encoding, digests
 *	  and MACs over OpenSSL, and the three signature schemes the providers
 *	  use (Alibaba classic RPC HMAC-SHA1, Alibaba ACS3-HMAC-SHA256, Huawei
 *	  SDK-HMAC-SHA256).
 *
 * Everything here is pure computation on strings: no catalog access, no
 * ereport.  The file compiles both into the server module and, with
 * -DFRONTEND, into the vector test driver (test/vectors/), which checks it
 * byte for byte against requests signed by the providers' official SDKs.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_SIGN_H
#define GW_SIGN_H

#include "lib/stringinfo.h"

/* A name/value pair: a query parameter or a header to sign. */
typedef struct GwKV
{
	const char *key;
	const char *value;
} GwKV;

#define GW_SHA256_HEX_LEN 64

/* RFC 3986: keep A-Z a-z 0-9 - _ . ~, %XX (upper case) for every other byte */
extern void gw_uri_encode(StringInfo buf, const char *s);
extern void gw_hex_encode(const unsigned char *data, int len, char *out);
extern void gw_sha256_hex(const char *data, size_t len, char *out);
extern void gw_hmac_sha256(const char *key, size_t keylen,
						   const char *data, size_t len, unsigned char *out);
extern void gw_hmac_sha1(const char *key, size_t keylen,
						 const char *data, size_t len, unsigned char *out);
extern void gw_base64_encode(StringInfo buf, const unsigned char *data, int len);
extern void gw_random_hex(char *out, int nbytes);

/* sort pairs by key (bytewise), then by value */
extern void gw_sort_kv(GwKV *kv, int n);
extern int	gw_kv_room(const GwKV *kv, int n);

/* "k=enc(v)&..." over pairs sorted in place; key encoded too */
extern void gw_canonical_query(StringInfo buf, GwKV *params, int n);

/*
 * Alibaba classic RPC signature (SignatureVersion 1.0, HMAC-SHA1).
 * string_to_sign = METHOD&%2F&enc(canonical query); the signature is
 * base64(HMAC-SHA1(secret + "&", string_to_sign)).
 */
extern void gw_acs_rpc_string_to_sign(StringInfo out, const char *method,
									  GwKV *params, int n);
extern void gw_acs_rpc_signature(StringInfo out, const char *secret,
								 const char *string_to_sign);

/*
 * Alibaba ACS3-HMAC-SHA256.  headers are the headers to sign, with
 * lower-case names; they are sorted in place.  Fills canonical request and
 * the signed-headers list; gw_acs3_authorization then builds the
 * Authorization header value.
 */
extern void gw_acs3_canonical_request(StringInfo out, StringInfo signed_headers,
									  const char *method, const char *path,
									  GwKV *query, int nq,
									  GwKV *headers, int nh,
									  const char *body_sha256_hex);
extern void gw_acs3_authorization(StringInfo out, const char *access_key_id,
								  const char *secret,
								  const char *canonical_request,
								  const char *signed_headers);

/*
 * Huawei SDK-HMAC-SHA256.  path is the decoded path; each segment is
 * encoded and a trailing "/" added.  headers as for ACS3 (lower-case names).
 */
extern void gw_sdk_canonical_request(StringInfo out, StringInfo signed_headers,
									 const char *method, const char *path,
									 GwKV *query, int nq,
									 GwKV *headers, int nh,
									 const char *body, size_t bodylen);
extern void gw_sdk_authorization(StringInfo out, const char *access_key,
								 const char *secret_key, const char *sdk_date,
								 const char *canonical_request,
								 const char *signed_headers);

#endif							/* GW_SIGN_H */
