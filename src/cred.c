/*-------------------------------------------------------------------------
 *
 * cred.c
 *	  The worker's credentials: what each call is signed with.  A mapping
 *	  with an access key or a token signs with those.  Any other source (an
 *	  IAM user's password, the VM's RAM role or agency, a role or agency to
 *	  assume) is run through its provider's steps by one job, and what they
 *	  give is kept in the worker's memory only, per server and role, until
 *	  shortly before it expires: one refresh per expiry (with jitter), not
 *	  one per call, and calls keep signing with the old set while the new
 *	  one is fetched.  An answer that says the credentials are no longer
 *	  valid makes the job refresh them once.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "common/pg_prng.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "job.h"

#define WAIT_FOR_FETCH_MS	20	/* another job is fetching: look again */
#define FAILURE_KEPT_MS		2000	/* calls waiting meanwhile fail alike */
#define MIN_LIFETIME_US		(1 * USECS_PER_SEC)
#define MAX_LIFETIME_US		(24 * 3600 * USECS_PER_SEC)
#define UNKNOWN_LIFETIME_US (3600 * USECS_PER_SEC)

#define ENTRY_IDLE_US		(600 * USECS_PER_SEC)	/* then an entry goes */

static GwCredEntry *entries = NULL;

/* a string kept in TopMemoryContext, or NULL */
static char *
keep(const char *s)
{
	return s ? MemoryContextStrdup(TopMemoryContext, s) : NULL;
}

static void
wipe(char **s)
{
	gw_free_secret(*s);
	*s = NULL;
}

/* zero s unless it is one of the strings of keep (NULL-safe) */
static void
wipe_unless(char *s, const GwCreds *keep1, const GwCreds *keep2)
{
	const GwCreds *k[2] = {keep1, keep2};
	int			i;

	if (s == NULL)
		return;
	for (i = 0; i < 2; i++)
		if (k[i] && (s == k[i]->access_key || s == k[i]->secret ||
					 s == k[i]->security_token || s == k[i]->auth_token ||
					 s == k[i]->metadata_token))
			return;
	explicit_bzero(s, strlen(s));
}

/* zero the secrets of got that are in neither keep1 nor keep2 */
static void
wipe_obtained(GwCreds *got, const GwCreds *keep1, const GwCreds *keep2)
{
	wipe_unless(got->access_key, keep1, keep2);
	wipe_unless(got->secret, keep1, keep2);
	wipe_unless(got->security_token, keep1, keep2);
	wipe_unless(got->auth_token, keep1, keep2);
	wipe_unless(got->metadata_token, keep1, keep2);
}

/* zero what the job's steps obtained (not the mapping's own) */
static void
wipe_have(GwJob *job)
{
	if (job->have == NULL)
		return;
	wipe_obtained(job->have, job->creds, NULL);
	job->have = NULL;
}

/* zero and free a set of credentials */
static void
free_set(GwCredSet *set)
{
	wipe(&set->creds.access_key);
	wipe(&set->creds.secret);
	wipe(&set->creds.security_token);
	wipe(&set->creds.auth_token);
	pfree(set);
}

/*
 * Sets are counted: the entry that serves one holds it, and so does every
 * job whose requests it signs, until the job signs with another or ends.
 * A set the entry no longer serves (retired: refreshed, rejected, or its
 * entry gone) is freed once no job holds it: an answer to a request it
 * signed is masked with it, however late it comes.
 */
static void
unhold(GwCredSet **set)
{
	if (*set)
	{
		if (--(*set)->refs == 0)
			free_set(*set);
		*set = NULL;
	}
}

static void
hold(GwCredSet **slot, GwCredSet *set)
{
	if (*slot == set)
		return;
	unhold(slot);
	set->refs++;
	*slot = set;
}

/* the set the entry serves is no longer served */
static void
retire(GwCredEntry *e)
{
	unhold(&e->current);
	e->refresh_at = 0;
	e->expires_at = 0;
}

/*
 * fingerprint
 *		A hash of everything the credentials depend on: the mapping's
 *		options and the server's endpoints.  Each fingerprint has an entry
 *		of its own: after ALTER USER MAPPING or ALTER SERVER, the jobs that
 *		read the new options obtain a new set, and jobs still working with
 *		the old ones keep theirs, without either undoing the other's.
 */
static uint32
fingerprint(const GwServer *s, const GwCreds *c)
{
	StringInfoData b;
	uint32		h;
	const char *parts[] = {c->access_key, c->secret, c->security_token,
		c->auth_token, c->user_name, c->password, c->domain_name,
		c->ram_role_name, c->role_arn, c->role_session_name, c->external_id,
		c->agency_domain_name, c->agency_name, s->endpoint, s->iam_endpoint,
	s->sts_endpoint, s->project_id, s->region};
	int			i;

	initStringInfo(&b);
	appendStringInfo(&b, "%d|%d|%d|%d|", (int) c->kind, (int) c->ecs_agency,
					 c->duration_seconds, (int) s->rpc_signature);
	for (i = 0; i < lengthof(parts); i++)
		appendStringInfo(&b, "%s|", parts[i] ? parts[i] : "");
	h = hash_bytes((const unsigned char *) b.data, b.len);
	gw_free_secret_buf(&b);
	return h;
}

/* the entry of the job's server, role and options, or NULL */
static GwCredEntry *
find_entry(GwJob *job)
{
	GwCredEntry *e;

	for (e = entries; e; e = e->next)
		if (e->serverid == job->server->serverid && e->userid == job->call.userid &&
			e->fingerprint == job->cred_fingerprint)
			return e;
	return NULL;
}

/*
 * forget_idle
 *		Entries nobody used for ENTRY_IDLE_US and that no job is fetching
 *		for go, their set retired (a mapping altered or dropped leaves its
 *		old entry behind).
 */
static void
forget_idle(TimestampTz now)
{
	GwCredEntry **link = &entries;

	while (*link)
	{
		GwCredEntry *e = *link;

		if (!e->fetching && now - e->last_used > ENTRY_IDLE_US)
		{
			*link = e->next;
			retire(e);
			if (e->failed_code)
				pfree(e->failed_code);
			if (e->failed_message)
				pfree(e->failed_message);
			pfree(e);
		}
		else
			link = &e->next;
	}
}

/* the job's entry, used now: one per server, role and fingerprint */
static GwCredEntry *
entry_for(GwJob *job, TimestampTz now)
{
	GwCredEntry *e = find_entry(job);

	if (e == NULL)
	{
		forget_idle(now);
		e = MemoryContextAllocZero(TopMemoryContext, sizeof(GwCredEntry));
		e->serverid = job->server->serverid;
		e->userid = job->call.userid;
		e->fingerprint = job->cred_fingerprint;
		e->next = entries;
		entries = e;
	}
	e->last_used = now;
	return e;
}

/*
 * lifetime
 *		When a set that expires at expires (the provider's text) is
 *		refreshed, and when it is last used.  Refreshed a fifth of its life
 *		before (at most 5 minutes) less up to a tenth (at most a minute) of
 *		jitter, so that the workers of several clusters do not all go at
 *		once; not used in its last tenth (at most 10 s).  Whatever a
 *		provider claims, a set is kept at least 1 s (a credential that
 *		claims to be expired is used, not fetched again for every call) and
 *		at most 24 hours; unknown or unreadable: an hour.  No arithmetic
 *		here can overflow.
 */
static void
lifetime(GwCredEntry *e, const char *expires, TimestampTz now)
{
	TimestampTz t = 0;
	int64		life;
	int64		margin;
	int64		jitter;

	if (expires)
	{
		MemoryContext old = CurrentMemoryContext;

		PG_TRY();
		{
			t = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
														CStringGetDatum(expires),
														ObjectIdGetDatum(InvalidOid),
														Int32GetDatum(-1)));
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(old);
			FlushErrorState();
			t = 0;
		}
		PG_END_TRY();
	}
	if (t == 0 || TIMESTAMP_NOT_FINITE(t))
		life = UNKNOWN_LIFETIME_US;
	else if (t <= now + MIN_LIFETIME_US)
		life = MIN_LIFETIME_US;
	else if (t >= now + MAX_LIFETIME_US)
		life = MAX_LIFETIME_US;
	else
		life = t - now;

	margin = Min(life / 5, 300 * USECS_PER_SEC);
	jitter = (int64) (pg_prng_double(&pg_global_prng_state) *
					  Min(life / 10, 60 * USECS_PER_SEC));
	e->refresh_at = now + Max(life - margin - jitter, MIN_LIFETIME_US);
	e->expires_at = Max(now + life - Min(life / 10, 10 * USECS_PER_SEC),
						e->refresh_at);
}

/* does the job sign with something its provider's steps obtain? */
static bool
planned(GwJob *job)
{
	if (!job->cred_planned)
	{
		StringInfoData source;

		initStringInfo(&source);
		job->nsteps = gw_provider(job->call.provider)->cred_plan(job->creds,
																 job->steps,
																 &source);
		Assert(job->nsteps <= GW_MAX_CRED_STEPS);
		job->cred_source = source.data;
		/* the mapping's own credentials need no entry: no hashing per call */
		if (job->nsteps > 0)
			job->cred_fingerprint = fingerprint(job->server, job->creds);
		job->cred_planned = true;
	}
	return job->nsteps > 0;
}

/* the job runs the steps now, starting from the mapping's credentials */
static void
start_fetch(GwJob *job, GwCredEntry *e)
{
	e->fetching = true;
	job->cred_fetcher = true;
	job->step = 0;
	job->cred_attempts = 0;
	job->have = MemoryContextAlloc(job->cxt, sizeof(GwCreds));
	*job->have = *job->creds;
	job->cred_expires = NULL;
	job->op_after_creds = job->op;
	job->op = GW_OP_CREDENTIAL;
}

/*
 * gw_cred_prepare
 *		Before the job's next gateway request: what it is signed with, in
 *		*signing (GW_CRED_READY); the job holds that set until it signs with
 *		another or ends.  GW_CRED_WAIT: another job is obtaining the
 *		credentials, next_at is set.  GW_CRED_FAILED: a fetch of the same
 *		credentials just failed, and the job's outcome says so.  When the
 *		set must be (re)fetched first, the job does it: its op becomes
 *		GW_OP_CREDENTIAL, and the gateway request follows.
 */
GwCredState
gw_cred_prepare(GwJob *job, GwCreds **signing)
{
	TimestampTz now = GetCurrentTimestamp();
	GwCredEntry *e;

	*signing = job->creds;
	if (!planned(job))
		return GW_CRED_READY;
	e = entry_for(job, now);
	if (e->current && now < e->expires_at)
	{
		hold(&job->signed_with, e->current);
		*signing = &e->current->creds;
		job->cred_generation = e->generation;
		if (now >= e->refresh_at && !e->fetching)
			start_fetch(job, e);	/* the others sign with these meanwhile */
		return GW_CRED_READY;
	}
	if (e->fetching)
	{
		job->next_at = TimestampTzPlusMilliseconds(now, WAIT_FOR_FETCH_MS);
		return GW_CRED_WAIT;
	}
	if (e->failed_at != 0 && now - e->failed_at < FAILURE_KEPT_MS * 1000)
	{
		memset(&job->out, 0, sizeof(GwOutcome));
		job->out.verdict = GW_VERDICT_FAIL;
		job->out.error_code = pstrdup(e->failed_code);
		job->out.error_message = pstrdup(e->failed_message);
		job->http_status = e->failed_http;
		return GW_CRED_FAILED;
	}
	start_fetch(job, e);
	return GW_CRED_READY;
}

/* the request of the job's current step */
GwHttpRequest *
gw_cred_request(GwJob *job)
{
	return gw_provider(job->call.provider)->cred_request(job->server, job->creds,
														 job->steps[job->step],
														 job->have);
}

/*
 * gw_cred_judge
 *		Judge the answer to the job's current step into job->out; what a
 *		good answer gives replaces job->have, and what it replaces of an
 *		earlier step (a RAM role's keys before AssumeRole, an IAM token
 *		before assume_role, a metadata session token) is zeroed.
 */
void
gw_cred_judge(GwJob *job, const GwHttpResponse *resp)
{
	GwCreds		got = *job->have;
	char	   *expires = NULL;

	gw_provider(job->call.provider)->cred_answer(resp, job->steps[job->step],
												 &job->out, &got, &expires);
	job->out.response_json = NULL;	/* it would hold credentials */
	if (job->out.verdict == GW_VERDICT_OK)
	{
		wipe_obtained(job->have, &got, job->creds);
		*job->have = got;
		if (expires)
			job->cred_expires = expires;
		return;
	}
	/* what a rejected answer held is not kept */
	wipe_obtained(&got, job->have, job->creds);
	if (job->out.verdict == GW_VERDICT_REFRESH_TOKEN)
		job->out.verdict = GW_VERDICT_FAIL;
}

/*
 * gw_cred_step_done
 *		A step succeeded: go on to the next, or keep what the last one gave
 *		as the entry's set and send the job's own request.
 */
void
gw_cred_step_done(GwJob *job)
{
	TimestampTz now = GetCurrentTimestamp();
	GwCredEntry *e = entry_for(job, now);
	char	   *request_json = job->out.request_json;
	GwCredSet  *set;

	memset(&job->out, 0, sizeof(GwOutcome));
	job->out.request_json = request_json;
	job->next_at = now;
	job->cred_attempts = 0;
	if (++job->step < job->nsteps)
		return;

	retire(e);
	set = MemoryContextAllocZero(TopMemoryContext, sizeof(GwCredSet));
	set->creds.kind = job->have->kind;
	set->creds.access_key = keep(job->have->access_key);
	set->creds.secret = keep(job->have->secret);
	set->creds.security_token = keep(job->have->security_token);
	set->creds.auth_token = keep(job->have->auth_token);
	hold(&e->current, set);
	lifetime(e, job->cred_expires, now);
	e->generation++;
	e->fetches++;
	e->failed_at = 0;
	e->fetching = false;
	job->cred_fetcher = false;
	job->cred_generation = e->generation;
	wipe_have(job);
	job->op = job->op_after_creds;
	ereport(DEBUG1,
			(errmsg_internal("gwresize: credentials from %s obtained for server \"%s\" (set %d), refreshed in %lld ms",
							 job->cred_source, job->server->name, e->fetches,
							 (long long) ((e->refresh_at - now) / 1000))));
}

/*
 * gw_cred_failed
 *		A step failed for good.  When it was a refresh and the set in use is
 *		still good, that set is kept, the refresh is tried again later, the
 *		job goes on with its request and false is returned.  Otherwise the
 *		job's outcome says why (true): a password's IAM token keeps its own
 *		codes (IAM.<code>); any other source gives AccessKeyUnavailable
 *		(SQLSTATE 28000), naming the source.  Calls waiting for the same
 *		credentials then fail alike for a moment.
 */
bool
gw_cred_failed(GwJob *job)
{
	TimestampTz now = GetCurrentTimestamp();
	GwCredEntry *e = entry_for(job, now);
	const char *code = job->out.error_code ? job->out.error_code : "error";
	const char *msg = job->out.error_message ? job->out.error_message : "no answer";

	e->fetching = false;
	job->cred_fetcher = false;
	job->cred_attempts = 0;
	wipe_have(job);
	if (e->current && now < e->expires_at)
	{
		char	   *request_json = job->out.request_json;

		ereport(LOG,
				(errmsg("gwresize: could not refresh the credentials from %s for server \"%s\": %s: %s",
						job->cred_source, job->server->name, code, msg),
				 errdetail("The current ones are used until they expire, in %lld ms.",
						   (long long) ((e->expires_at - now) / 1000))));
		e->refresh_at = now + Min((e->expires_at - now) / 2, 30 * USECS_PER_SEC);
		memset(&job->out, 0, sizeof(GwOutcome));
		job->out.request_json = request_json;
		job->op = job->op_after_creds;
		job->next_at = now;
		return false;
	}

	if (job->nsteps == 1 && job->steps[0] == GW_STEP_IAM_TOKEN)
	{
		job->out.error_code = psprintf("IAM.%s", code);
		job->out.error_message = psprintf("IAM token request failed: %s", msg);
	}
	else
	{
		job->out.error_code = pstrdup("AccessKeyUnavailable");
		job->out.error_message = psprintf("could not obtain credentials from %s: %s: %s",
										  job->cred_source, code, msg);
		/* the call was not sent: its status is not the source's */
		job->http_status = 0;
	}
	job->out.verdict = GW_VERDICT_FAIL;
	job->out.response_json = NULL;
	job->out.job_id = NULL;
	e->failed_at = now;
	e->failed_http = job->http_status;
	if (e->failed_code)
		pfree(e->failed_code);
	if (e->failed_message)
		pfree(e->failed_message);
	e->failed_code = keep(job->out.error_code);
	e->failed_message = keep(job->out.error_message);
	return true;
}

/*
 * gw_cred_refresh
 *		The provider said the credentials are not (or no longer) valid.
 *		When they were obtained and this job has not refreshed them yet,
 *		retire them (unless another job already has, or is fetching new
 *		ones) and return true: the job goes again with a new set.
 */
bool
gw_cred_refresh(GwJob *job)
{
	GwCredEntry *e;

	if (!planned(job) || job->cred_refreshed)
		return false;
	job->cred_refreshed = true;
	job->next_at = GetCurrentTimestamp();
	e = entry_for(job, job->next_at);
	if (e->generation == job->cred_generation && !e->fetching)
		retire(e);
	return true;
}

/*
 * gw_cred_release
 *		The job ends: let another job fetch, if it was fetching, and let go
 *		of the set it signed with.
 */
void
gw_cred_release(GwJob *job)
{
	GwCredEntry *e;

	unhold(&job->signed_with);
	if (!job->cred_fetcher)
		return;
	job->cred_fetcher = false;
	wipe_have(job);
	if ((e = find_entry(job)) != NULL)
		e->fetching = false;
}

/*
 * gw_cred_mask
 *		Every secret the job knows, to mask what its answers echo: the
 *		mapping's, the set its requests are signed with, the set its entry
 *		serves now, and what its steps obtained so far.
 */
GwMask *
gw_cred_mask(GwJob *job)
{
	GwMask	   *m = gw_mask_new();
	GwCredEntry *e;

	gw_mask_add_creds(m, job->creds);
	if (job->signed_with)
		gw_mask_add_creds(m, &job->signed_with->creds);
	if (job->cred_planned && job->nsteps > 0 && (e = find_entry(job)) != NULL &&
		e->current)
		gw_mask_add_creds(m, &e->current->creds);
	gw_mask_add_creds(m, job->have);
	return m;
}
