/*-------------------------------------------------------------------------
 *
 * fuzz_sign.c
 *	  libFuzzer target for src/sign.c: RFC 3986 encoding, the canonical
 *	  query, the three signature schemes, base64 and hex, on arbitrary
 *	  bytes.  Built with -DFRONTEND like test/vectors/sign_driver.c and run
 *	  for a bounded time by `make test-sanitize` (scripts/sanitize.sh).
 *
 * Input: one control byte, then fields separated by NUL bytes:
 *	 method, path, access key, secret, date, body, then name/value pairs.
 * The low four bits of the control byte are how many pairs are query
 * parameters (the others are headers); bit 4 makes the value of every
 * second pair NULL, a parameter or header given without a value.  Missing
 * fields are empty.  test/fuzz/make_seeds.py writes the signing vectors in
 * this format as the seed corpus.
 *
 * Besides the sanitizers' own checks, a few properties of the output are
 * asserted (abort() on failure, which libFuzzer reports as a crash).
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "sign.h"

#define NFIXED		6
#define MAXPAIRS	32
#define MAXFIELDS	(NFIXED + 2 * MAXPAIRS)

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(bool ok)
{
	if (!ok)
		abort();
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* gw_uri_encode: only unreserved bytes and %XX, and it decodes back to s */
static void
check_uri_encode(const char *s)
{
	StringInfoData buf;
	const char *p;
	const char *q = s;

	initStringInfo(&buf);
	gw_uri_encode(&buf, s);
	check(strlen(buf.data) == (size_t) buf.len);
	for (p = buf.data; *p; q++)
	{
		unsigned char c = (unsigned char) *p;

		if (c == '%')
		{
			int			hi = hexval(p[1]);
			int			lo = hi < 0 ? -1 : hexval(p[2]);

			check(hi >= 0 && lo >= 0);
			check((unsigned char) *q == hi * 16 + lo);
			p += 3;
		}
		else
		{
			check((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
				  (c >= '0' && c <= '9') || c == '-' || c == '_' ||
				  c == '.' || c == '~');
			check(*q == *p);
			p++;
		}
	}
	check(*q == '\0');
	pfree(buf.data);
}

static bool
has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *copy;
	char	   *p;
	char	   *end;
	const char *field[MAXFIELDS];
	int			nf = 0;
	int			npairs,
				nq,
				nh,
				i;
	GwKV		query[MAXPAIRS],
				headers[MAXPAIRS];
	const char *method,
			   *path,
			   *ak,
			   *sk,
			   *date,
			   *body;
	char		bodyhash[GW_SHA256_HEX_LEN + 1];
	char	   *hex;
	StringInfoData buf,
				sts,
				sig,
				canonical,
				signed_headers,
				auth;

	if (size < 1 || size > 65536)
		return 0;

	/* the fields, NUL-terminated in a copy */
	copy = palloc(size);
	memcpy(copy, data + 1, size - 1);
	copy[size - 1] = '\0';
	end = copy + size - 1;
	for (p = copy; p <= end && nf < MAXFIELDS; p += strlen(p) + 1)
		field[nf++] = p;
	for (i = nf; i < NFIXED; i++)
		field[i] = "";
	method = field[0];
	path = field[1];
	ak = field[2];
	sk = field[3];
	date = field[4];
	body = field[5];

	npairs = nf > NFIXED ? (nf - NFIXED) / 2 : 0;
	nq = Min(data[0] & 0x0F, npairs);
	nh = npairs - nq;
	for (i = 0; i < npairs; i++)
	{
		GwKV	   *kv = i < nq ? &query[i] : &headers[i - nq];

		kv->key = field[NFIXED + 2 * i];
		kv->value = ((data[0] & 0x10) && (i % 2)) ? NULL :
			field[NFIXED + 2 * i + 1];
	}

	for (i = 0; i < Max(nf, NFIXED); i++)
		check_uri_encode(field[i]);

	initStringInfo(&buf);
	gw_canonical_query(&buf, query, nq);
	check(strlen(buf.data) == (size_t) buf.len);

	/* Alibaba classic RPC */
	initStringInfo(&sts);
	initStringInfo(&sig);
	gw_acs_rpc_string_to_sign(&sts, method, query, nq);
	gw_acs_rpc_signature(&sig, sk, sts.data);
	check(has_prefix(sts.data, method));
	check(sig.len == 28 && sig.data[27] == '=');

	/* Alibaba ACS3-HMAC-SHA256 */
	initStringInfo(&canonical);
	initStringInfo(&signed_headers);
	initStringInfo(&auth);
	gw_sha256_hex(body, strlen(body), bodyhash);
	gw_acs3_canonical_request(&canonical, &signed_headers, method, path,
							  query, nq, headers, nh, bodyhash);
	gw_acs3_authorization(&auth, ak, sk, canonical.data, signed_headers.data);
	check(canonical.len >= GW_SHA256_HEX_LEN &&
		  strcmp(canonical.data + canonical.len - GW_SHA256_HEX_LEN,
				 bodyhash) == 0);
	check(has_prefix(auth.data, "ACS3-HMAC-SHA256 Credential="));

	/* Huawei SDK-HMAC-SHA256 */
	resetStringInfo(&canonical);
	resetStringInfo(&signed_headers);
	resetStringInfo(&auth);
	gw_sdk_canonical_request(&canonical, &signed_headers, method, path,
							 query, nq, headers, nh, body, strlen(body));
	gw_sdk_authorization(&auth, ak, sk, date, canonical.data,
						 signed_headers.data);
	check(canonical.len >= GW_SHA256_HEX_LEN &&
		  strcmp(canonical.data + canonical.len - GW_SHA256_HEX_LEN,
				 bodyhash) == 0);
	check(has_prefix(auth.data, "SDK-HMAC-SHA256 Access="));

	/* base64 and hex of the raw input, NUL bytes included */
	resetStringInfo(&buf);
	gw_base64_encode(&buf, data, (int) size);
	check(buf.len == 4 * (((int) size + 2) / 3) &&
		  strlen(buf.data) == (size_t) buf.len);
	hex = palloc(2 * size + 1);
	gw_hex_encode(data, (int) size, hex);
	check(strlen(hex) == 2 * size);

	pfree(hex);
	pfree(buf.data);
	pfree(sts.data);
	pfree(sig.data);
	pfree(canonical.data);
	pfree(signed_headers.data);
	pfree(auth.data);
	pfree(copy);
	return 0;
}
