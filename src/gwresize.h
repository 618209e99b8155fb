/*-------------------------------------------------------------------------
 *
 * gwresize.h
 *	  Private declarations shared by the files of the gwresize extension.
 *
 * The path of a call, by file:
 *	 entry.c (SQL functions: hand-off, waiting, gw_wait/gw_cancel/gw_adopt),
 *		with args.c (argument checks) and access.c (prerequisites, reading
 *		gw_audit, errors of failed calls)
 *	 -> option.c (foreign server and user mapping: GwServer, GwCreds)
 *	 -> provider.c (the registry of GwProviderRoutine tables) and one file
 *		per provider, aliyun.c / huawei.c (its arguments and options, build
 *		and sign a GwHttpRequest, judge the answer, its instance states),
 *		over request.c (what all share) and sign.c (signature schemes)
 *	 -> http.c (libcurl multi transport) driven by the worker: worker.c (the
 *		loop, the cluster's states), claim.c (taking calls and rows,
 *		committing outcomes), job.c (one call's attempts), cred.c (the
 *		credentials they sign with: obtained, cached, refreshed), sharing
 *		job.h
 *	 -> audit.c (every read and write of gw_audit rows), with install.c
 *		(where gw_audit is, whether the installation is this cluster's).
 *	 gwresize.c holds _PG_init, the settings and the shared memory.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GWRESIZE_H
#define GWRESIZE_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/pg_list.h"
#include "port/atomics.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/snapshot.h"

#include "sign.h"
#include "compat.h"

#define GW_SQL_VERSION		"1.3"	/* the extension version this library needs */

#define GW_ID_MAXLEN		64	/* instance and project ids */
#define GW_SPEC_MAXLEN		64
#define GW_TOKEN_MAXLEN		64
#define GW_NAME_MAXLEN		64	/* NAMEDATALEN */
#define GW_ERRMSG_MAXLEN	512
#define GW_FIELD_MAX		256	/* provider codes, request and job ids kept */
#define GW_MESSAGE_MAX		2048	/* provider messages kept */
#define GW_JSON_MAX_DEPTH	64	/* deeper answers are not parsed */
#define GW_RETRY_HINT_MAX_MS 60000	/* longer provider hints end the call */
#define GW_RESPONSE_KEEP	(64 * 1024) /* response bytes stored in gw_audit */
#define GW_RESPONSE_MAX		(1024 * 1024)	/* a larger body aborts the call */
#define GW_METADATA_TIMEOUT_MS 5000 /* a metadata service answers at once */

/*
 * The longest credential an answer may give: Huawei's IAM token (PKI, its
 * size grows with the catalog and roles it carries: "several KB", and
 * Keystone PKI tokens reach 10-20 kB) and STS tokens go into one header
 * line, which http.c reads up to GW_HEADER_MAX.
 */
#define GW_CRED_MAX			(48 * 1024)
#define GW_HEADER_MAX		(64 * 1024) /* longer header lines are ignored */

typedef enum GwProvider
{
	GW_ALIYUN = 1,
	GW_HUAWEI = 2
} GwProvider;

typedef enum GwOp
{
	GW_OP_RESIZE = 0,			/* ModifyInstanceSpec / postpaid-resize */
	GW_OP_DESCRIBE,				/* DescribeInstances / instance query */
	GW_OP_CREDENTIAL			/* a step that obtains credentials */
} GwOp;

/* The steps that obtain temporary credentials, in the order they run */
typedef enum GwCredStep
{
	GW_STEP_METADATA_TOKEN = 1, /* the metadata service's session token */
	GW_STEP_METADATA,			/* the VM's role or agency credentials */
	GW_STEP_IAM_TOKEN,			/* a token for the mapping's IAM user */
	GW_STEP_ASSUME				/* STS AssumeRole / IAM assume_role */
} GwCredStep;

#define GW_MAX_CRED_STEPS	4

/* A foreign server of ours, options resolved and defaults applied. */
typedef struct GwServer
{
	Oid			serverid;
	char	   *name;
	GwProvider	provider;
	char	   *region;
	char	   *endpoint;		/* base URL, no trailing slash */
	bool		rpc_signature;	/* aliyun: hmac-sha1 instead of ACS3 */
	char	   *project_id;		/* huawei */
	char	   *iam_endpoint;	/* huawei */
	char	   *sts_endpoint;	/* aliyun: STS, for role_arn */
	int			connect_timeout_ms;
	int			timeout_ms;
	int			max_retries;
	double		requests_per_second;	/* 0: unlimited */
	int			poll_interval_ms;
	int			tracking_timeout_ms;
	bool		read_before;	/* read the instance before a change */
} GwServer;

/* Credentials from a user mapping.  Never logged, never stored. */
typedef enum GwAuthKind
{
	GW_AUTH_ACS = 1,			/* aliyun access key (+ STS token) */
	GW_AUTH_TOKEN,				/* huawei ready IAM token */
	GW_AUTH_AKSK,				/* huawei AK/SK (+ security token) */
	GW_AUTH_PASSWORD,			/* huawei IAM user; token fetched and cached */
	GW_AUTH_METADATA			/* the VM's RAM role / agency: no key kept */
} GwAuthKind;

/*
 * GwCreds: a user mapping's credentials (its source), or the temporary
 * ones obtained from it that requests are signed with.
 */
typedef struct GwCreds
{
	GwAuthKind	kind;
	char	   *access_key;		/* aliyun access_key_id, huawei access_key */
	char	   *secret;			/* aliyun access_key_secret, huawei secret_key */
	char	   *security_token;
	char	   *auth_token;
	char	   *user_name;
	char	   *password;
	char	   *domain_name;
	char	   *ram_role_name;	/* aliyun: the ECS instance's RAM role */
	bool		ecs_agency;		/* huawei: the ECS instance's agency */
	char	   *role_arn;		/* aliyun: STS AssumeRole */
	char	   *role_session_name;
	char	   *external_id;
	int			duration_seconds;	/* 0: the default */
	char	   *agency_domain_name; /* huawei: IAM assume_role */
	char	   *agency_name;
	char	   *metadata_token; /* between steps: the metadata session token */
} GwCreds;

/* What a caller asked for: validated, fixed size, fits in shared memory. */
typedef struct GwCall
{
	GwProvider	provider;
	Oid			serverid;
	Oid			userid;
	bool		async;
	char		instance_id[GW_ID_MAXLEN + 1];
	char		spec[GW_SPEC_MAXLEN + 1];
	char		action[16];		/* aliyun UPGRADE | DOWNGRADE */
	bool		auto_pay;
	bool		skip_wait_switch;
	char		token[GW_TOKEN_MAXLEN + 1]; /* aliyun idempotency Token */
} GwCall;

typedef struct GwHeader
{
	char	   *name;
	char	   *value;
	bool		secret;			/* masked in every copy we show */
} GwHeader;

/* An HTTP request as it goes on the wire. */
typedef struct GwHttpRequest
{
	const char *method;
	char	   *url;
	char	   *url_shown;		/* url with secrets and signatures masked */
	List	   *headers;		/* of GwHeader */
	char	   *body;
	size_t		body_len;
	char	   *body_shown;		/* body with secrets masked, if it has any */
	int			timeout_ms;		/* 0: the server's; else the lower of both */
	bool		direct;			/* never through a proxy (metadata services) */
} GwHttpRequest;

/* An HTTP answer, or a transport failure. */
typedef struct GwHttpResponse
{
	int			curl_code;		/* CURLE_OK when an answer came */
	bool		sent;			/* the request (or part of it) left */
	char	   *curl_error;		/* transport error text */
	long		http_status;
	StringInfoData body;
	bool		too_large;
	char	   *request_id;		/* from the provider's header, if any */
	char	   *retry_after;	/* Retry-After / x-acs-retry-after */
	char	   *subject_token;	/* huawei IAM X-Subject-Token */
} GwHttpResponse;

typedef enum GwVerdict
{
	GW_VERDICT_OK = 0,			/* accepted */
	GW_VERDICT_RETRY,			/* retryable failure */
	GW_VERDICT_REFRESH_TOKEN,	/* huawei: token must be updated, once */
	GW_VERDICT_FAIL				/* final failure */
} GwVerdict;

/* The judgement of one answer. */
typedef struct GwOutcome
{
	GwVerdict	verdict;
	char	   *error_code;
	char	   *error_message;
	char	   *request_id;
	char	   *job_id;
	char	   *response_json;	/* body as JSON text to store, or NULL */
	char	   *request_json;	/* the last attempt's request, masked */
	char	   *instance_status;	/* describe: the instance's status */
	char	   *instance_spec;	/* describe: its spec */
	int64		retry_after_ms; /* provider's hint, 0 if none (saturating) */
} GwOutcome;

/* in gwresize.c */
extern bool gw_allow_http;
extern char *gw_ca_file;
extern char *gw_database_name;
extern int	gw_max_pending;
extern int	gw_max_connections;

typedef enum GwSlotState
{
	GW_SLOT_FREE = 0,
	GW_SLOT_SUBMITTED,			/* caller filled it, worker not yet seen */
	GW_SLOT_CLAIMED,			/* worker owns the call */
	GW_SLOT_DONE				/* result filled in, caller may read */
} GwSlotState;

typedef struct GwSlot
{
	GwSlotState state;
	bool		abandoned;		/* caller gave up waiting (cancel) */
	int			caller_procno;
	uint64		ticket;			/* distinguishes reuses of the slot */
	GwCall		call;
	/* result */
	int64		audit_id;		/* 0 when no row was written */
	int			sqlerrcode;		/* when audit_id == 0: why, */
	char		errmsg[GW_ERRMSG_MAXLEN];	/* ... with the whole error */
	char		errdetail[GW_ERRMSG_MAXLEN];
	char		errhint[GW_ERRMSG_MAXLEN];
} GwSlot;

typedef struct GwShared
{
	LWLock	   *lock;
	pid_t		worker_pid;
	int			worker_procno;	/* -1 when no worker */
	uint64		next_ticket;
	pg_atomic_uint32 recheck_generation;	/* bumped to have the worker look at
												 * the installation again */
	bool		db_missing;		/* the worker's database was not there */
	TimestampTz nodb_logged_at; /* when a missing database was last logged */
	int			nslots;
	GwSlot		slots[FLEXIBLE_ARRAY_MEMBER];
} GwShared;

extern GwShared *gw_shared;
extern void gw_wake_worker(void);

/* in entry.c */
extern void gw_wake_worker_at_commit(void);

/* in args.c */
extern char *gw_arg_text(FunctionCallInfo fcinfo, int n, const char *name);
extern bool gw_arg_bool(FunctionCallInfo fcinfo, int n, const char *name);
extern char *gw_arg_server(FunctionCallInfo fcinfo, int n);
extern void gw_check_id(const char *name, const char *v, char *dst);

/* in access.c */
#define GW_SAFE_SEARCH_PATH "pg_catalog, pg_temp"	/* every SQL of ours */

typedef struct GwOwnerScope
{
	Oid			save_userid;
	int			save_sec;
	int			save_nestlevel;
} GwOwnerScope;

extern void gw_owner_begin(GwOwnerScope *scope);
extern void gw_owner_end(GwOwnerScope *scope);
extern void gw_pin_search_path(GucSource source);
extern void gw_require_worker_setup(void);
extern void gw_refuse_on_standby(const char *what);
extern int64 gw_as_owner(int64 (*fn) (void *), void *arg);
extern void gw_require_active(const char *what, bool allow_copy);
extern HeapTuple gw_fetch_row(FunctionCallInfo fcinfo, int64 id, TupleDesc *desc_out);
extern char *gw_col_text(HeapTuple tup, TupleDesc desc, const char *name);
extern void gw_raise_if_failed(HeapTuple tup, TupleDesc desc, int64 id);

/* in option.c */
extern GwServer *gw_get_server(Oid serverid);
extern GwServer *gw_lookup_server(const char *name, GwProvider provider,
								  Oid userid);
extern void gw_check_server(GwServer *s, GwProvider provider, Oid userid);
extern bool gw_is_id(const char *s);
extern void gw_check_url(const char *optname, const char *v);
extern void gw_check_endpoint(const char *optname, const char *v,
							  bool validating);
extern bool gw_check_metadata_url(char **newval, void **extra, GucSource source);
extern void gw_trim_url(char *url);

/* in mapping.c */
extern void gw_check_mapping(List *options);
extern GwCreds *gw_get_creds(GwServer *server, Oid userid);

/* in request.c */
extern void gw_add_header(GwHttpRequest *req, const char *name,
						  const char *value, bool secret);
extern char *gw_mask_id(const char *id);
extern void gw_request_wipe(GwHttpRequest *req);
extern void gw_request_json(StringInfo buf, const GwHttpRequest *req);
extern void gw_url_host(const char *url, StringInfo host, StringInfo path);
extern char *gw_utc_now(const char *fmt);
extern char *gw_clean_text(const char *s, int len, int maxbytes);
extern void gw_clean_body(StringInfo body);
extern int64 gw_parse_retry_hint(const char *v, int64 unit_ms);
extern void gw_bound_outcome(GwOutcome *out, bool recheck_response);

extern char *gw_response_for_audit(const GwHttpResponse *resp,
								   Jsonb *parsed);
extern void gw_transport_outcome(const GwHttpResponse *resp, GwOutcome *out);
extern void gw_plain_judge(const GwHttpResponse *resp, GwOutcome *out);
extern bool gw_cred_value_ok(const char *v, int len);
extern void gw_cred_malformed(GwOutcome *out, const char *what);
extern GwHttpRequest *gw_metadata_request(const char *base, const char *method,
										  const char *path);
extern void gw_take_metadata_token(const GwHttpResponse *resp, GwOutcome *out,
								   GwCreds *have);
extern char *gw_params_json(const GwCall *call, const GwServer *server);

/* in json.c */
extern Jsonb *gw_json_parse(const char *body, int len);
extern char *gw_json_get_path(Jsonb *jb, const char *const *path, int n);
extern char *gw_json_get_text(Jsonb *jb, const char *key1,
							  const char *key2);
extern bool gw_json_fields(const char *body, int len, const char *const *paths,
						   int n, char **values);

/* in mask.c */
typedef struct GwMask GwMask;

extern GwMask *gw_mask_new(void);
extern void gw_mask_add(GwMask *m, const char *secret);
extern void gw_mask_add_creds(GwMask *m, const GwCreds *c);
extern char *gw_mask_text(const GwMask *m, char *text, int len);
extern void gw_mask_body(const GwMask *m, StringInfo body);
extern bool gw_mask_outcome(const GwMask *m, GwOutcome *out);
extern void gw_free_secret(char *s);
extern void gw_free_secret_buf(StringInfo buf);

/*
 * GwProviderRoutine
 *		Everything that differs between clouds, as one table of functions
 *		and facts per provider (the way FdwRoutine describes a foreign-data
 *		wrapper).  The shared code calls through it and never names a
 *		provider; a provider is one file and one line in provider.c's
 *		registry.
 */
typedef struct GwProviderRoutine
{
	GwProvider	id;
	const char *name;			/* the server option, gw_audit.provider */
	const char *resize_function;	/* the SQL function that resizes with it */

	/* the SQL function's arguments, checked into call (not provider, server) */
	void		(*read_args) (FunctionCallInfo fcinfo, GwCall *call);
	/* a resize's parameters, as JSON for gw_audit.params */
	void		(*params_json) (StringInfo buf, const GwCall *call,
								const GwServer *server);
	/* call->token is the provider's idempotency token (gw_audit.client_token) */
	bool		has_client_token;

	/*
	 * Server options of this provider only: checks the value of option
	 * name (ERROR when invalid) and returns true when it is one; with s,
	 * also stores it.  Then server_defaults fills what is unset, and names
	 * an option it requires (or NULL).
	 */
	const char *const *server_options;	/* their names, NULL-terminated */
	bool		(*server_option) (const char *name, const char *value,
								  GwServer *s);
	const char *required_option;
	void		(*server_defaults) (GwServer *s);

	/* which mapping credentials it signs with, and the hint when others */
	bool		(*accepts_creds) (const GwCreds *c);
	const char *creds_hint;

	/* build and sign a request for op: creds are what it is signed with */
	GwHttpRequest *(*build_request) (GwServer *server, const GwCreds *creds,
									 GwOp op, const GwCall *call);
	/* judge an answer to op into out (never throws for what is sent) */
	void		(*judge) (const GwHttpResponse *resp, GwOp op, GwOutcome *out);

	/*
	 * Credentials.  cred_plan lists the steps that obtain what calls are
	 * signed with (none: the mapping's own credentials) and describes the
	 * source for messages.  cred_request builds step's request, signed
	 * with have (the mapping's credentials, then what earlier steps gave);
	 * cred_answer judges its answer into out and, when it is good, into
	 * have and *expires (the provider's text, or NULL).  The worker caches
	 * the result until shortly before it expires.
	 */
	int			(*cred_plan) (const GwCreds *c, GwCredStep *steps,
							  StringInfo source);
	GwHttpRequest *(*cred_request) (GwServer *server, const GwCreds *mapping,
									GwCredStep step, const GwCreds *have);
	void		(*cred_answer) (const GwHttpResponse *resp, GwCredStep step,
								GwOutcome *out, GwCreds *have,
								char **expires);
	void		(*define_settings) (void);
	GwAuthKind	temporary_kind; /* what temporary credentials sign as */

	/* the instance's states, as the instance read gives them */
	const char *running_status; /* at rest */
	const char *changing_status;	/* a resize under way */
	const char *ready_states;	/* the states a change may start from */
	bool		(*ready_for_change) (const char *status);
	bool		(*change_failed) (const char *status);

	/*
	 * Idempotency: whether a resize that may have left must not be sent
	 * again before the instance was read, and whether an answer to a
	 * re-sent resize means the first one got through.
	 */
	bool		resend_needs_read;
	bool		(*already_applied) (const GwOutcome *out);
} GwProviderRoutine;

/* in provider.c */
extern const GwProviderRoutine *gw_provider(GwProvider id);
extern const GwProviderRoutine *gw_provider_by_name(const char *name);
extern const char *gw_provider_name(GwProvider id);
extern const char *gw_provider_names(void);
extern bool gw_provider_has_option(const GwProviderRoutine *p,
								   const char *name);
extern const GwProviderRoutine *gw_option_provider(const char *name);
extern const char *gw_provider_option_names(void);
extern void gw_provider_define_settings(void);

extern const GwProviderRoutine gw_aliyun_routine;
extern const GwProviderRoutine gw_huawei_routine;

/* in http.c */
typedef struct GwTransfer GwTransfer;
typedef void (*GwTransferDone) (GwTransfer *t, void *arg);

extern void gw_http_init(void);
extern void gw_http_apply_settings(void);
extern GwTransfer *gw_http_start(GwServer *server, GwHttpRequest *req,
								 GwTransferDone done, void *arg);
extern GwHttpResponse *gw_http_response(GwTransfer *t);
extern void gw_http_release(GwTransfer *t);
extern void gw_http_wait_and_dispatch(long timeout_ms);

/* in install.c */
typedef enum GwInstallState
{
	GW_NOT_INSTALLED,			/* no CREATE EXTENSION in this database */
	GW_NEEDS_UPDATE,			/* its SQL is older than this library */
	GW_FOREIGN,					/* a copy made by another cluster, not adopted */
	GW_READY
} GwInstallState;

extern GwInstallState gw_install_state(int64 *recorded);
extern int64 gw_audit_open_rows(void);
extern int64 gw_audit_adopt(void);
extern const char *gw_audit_table(void);
extern Oid	gw_audit_relid(void);
extern Oid	gw_audit_owner(void);

/* in audit.c */
extern int64 gw_audit_insert(const GwCall *call, GwServer *server,
							 const char *status, const char *params_json,
							 const char *requested_by);
extern void gw_audit_finish_call(int64 id, const char *status, int attempts,
								 long http_status, const GwOutcome *out,
								 int poll_after_ms, const char *from_spec,
								 const char *state_json);
extern int	gw_audit_claim_tracking(int limit);
extern TimestampTz gw_audit_next_poll(void);
extern void gw_audit_track(int64 id, const char *status, const char *state_json,
						   int next_poll_ms, const char *error_code,
						   const char *error_message);
extern bool gw_audit_fetch(int64 id, Snapshot snapshot);
extern int	gw_audit_claim(bool reconcile, int limit, Datum held);
extern void gw_audit_note_retry(int64 id, int attempts, TimestampTz next_at,
								const GwOutcome *out);
extern bool gw_audit_reserve(int64 id, int attempts);
extern bool gw_audit_cancel(int64 id, Oid by_role, const char *caller,
							bool any_open);
extern int	gw_audit_reconcile_sending(void);

/* in worker.c */
extern PGDLLEXPORT void gw_worker_main(Datum main_arg);

#endif							/* GWRESIZE_H */
