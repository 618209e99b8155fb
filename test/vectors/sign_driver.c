/*-------------------------------------------------------------------------
 *
 * sign_driver.c
 *	  Frontend driver that runs src/sign.c on test cases read from stdin,
 *	  so run_vectors.py can compare its output with the official SDKs'.
 *
 * Input: one record per case, one field per line, every value hex-encoded:
 *	 scheme rpc|acs3|sdk, method M, path P, q K V, h K V, body B,
 *	 ak A, sk S, date D, then "end".  Output for each record, hex-encoded:
 *	 "sts X" (rpc) or "canonical X" (acs3, sdk), then "auth X" (the
 *	 signature for rpc, the Authorization value otherwise), then "done".
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "sign.h"

#define MAXKV 64

static char *
unhex(const char *h)
{
	size_t		n = strlen(h) / 2;
	char	   *out = palloc(n + 1);
	size_t		i;

	for (i = 0; i < n; i++)
	{
		unsigned int b;

		if (sscanf(h + 2 * i, "%2x", &b) != 1)
		{
			fprintf(stderr, "bad hex input\n");
			exit(2);
		}
		out[i] = (char) b;
	}
	out[n] = '\0';
	return out;
}

static void
put(const char *tag, const char *s)
{
	const unsigned char *p = (const unsigned char *) s;

	printf("%s ", tag);
	for (; *p; p++)
		printf("%02x", *p);
	printf("\n");
}

int
main(void)
{
	char		line[65536];
	char	   *scheme = NULL,
			   *method = NULL,
			   *path = NULL,
			   *body = "",
			   *ak = NULL,
			   *sk = NULL,
			   *date = NULL;
	GwKV		q[MAXKV],
				h[MAXKV];
	int			nq = 0,
				nh = 0;

	while (fgets(line, sizeof(line), stdin))
	{
		char	   *f1,
				   *f2,
				   *f3;

		line[strcspn(line, "\r\n")] = '\0';
		f1 = strtok(line, " ");
		if (!f1)
			continue;
		f2 = strtok(NULL, " ");
		f3 = strtok(NULL, " ");
		if (strcmp(f1, "end") == 0)
		{
			StringInfoData out,
						sh,
						auth;

			initStringInfo(&out);
			initStringInfo(&sh);
			initStringInfo(&auth);
			if (strcmp(scheme, "rpc") == 0)
			{
				gw_acs_rpc_string_to_sign(&out, method, q, nq);
				gw_acs_rpc_signature(&auth, sk, out.data);
				put("sts", out.data);
			}
			else if (strcmp(scheme, "acs3") == 0)
			{
				char		bh[GW_SHA256_HEX_LEN + 1];

				gw_sha256_hex(body, strlen(body), bh);
				gw_acs3_canonical_request(&out, &sh, method, path, q, nq,
										  h, nh, bh);
				gw_acs3_authorization(&auth, ak, sk, out.data, sh.data);
				put("canonical", out.data);
			}
			else
			{
				gw_sdk_canonical_request(&out, &sh, method, path, q, nq,
										 h, nh, body, strlen(body));
				gw_sdk_authorization(&auth, ak, sk, date, out.data, sh.data);
				put("canonical", out.data);
			}
			put("auth", auth.data);
			printf("done\n");
			fflush(stdout);
			nq = nh = 0;
			body = "";
			continue;
		}
		if (!f2)
			f2 = "";
		if (strcmp(f1, "q") == 0 || strcmp(f1, "h") == 0)
		{
			GwKV	   *kv = (f1[0] == 'q') ? &q[nq++] : &h[nh++];

			if (nq >= MAXKV || nh >= MAXKV)
			{
				fprintf(stderr, "too many pairs\n");
				return 2;
			}
			kv->key = unhex(f2);
			kv->value = unhex(f3 ? f3 : "");
		}
		else if (strcmp(f1, "scheme") == 0)
			scheme = unhex(f2);
		else if (strcmp(f1, "method") == 0)
			method = unhex(f2);
		else if (strcmp(f1, "path") == 0)
			path = unhex(f2);
		else if (strcmp(f1, "body") == 0)
			body = unhex(f2);
		else if (strcmp(f1, "ak") == 0)
			ak = unhex(f2);
		else if (strcmp(f1, "sk") == 0)
			sk = unhex(f2);
		else if (strcmp(f1, "date") == 0)
			date = unhex(f2);
		else
		{
			fprintf(stderr, "unknown field %s\n", f1);
			return 2;
		}
	}
	return 0;
}
