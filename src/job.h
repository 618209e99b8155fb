/*-------------------------------------------------------------------------
 *
 * job.h
 *	  The worker's calls in hand (GwJob) and the state its files share:
 *	  worker.c (the loop, what it may do), job.c (one call's attempts:
 *	  signing, sending, judging the answers, retries and the rate limits),
 *	  cred.c (the credentials calls sign with) and claim.c (taking calls and rows, committing
 *	  their outcomes).  Only the worker includes it.
 *
 * Copyright (c) 2026, gwresize developers
 *
 *-------------------------------------------------------------------------
 */
#ifndef GW_JOB_H
#define GW_JOB_H

#include "lib/ilist.h"

#include "gwresize.h"

#define BACKOFF_BASE_MS 250
#define BACKOFF_CAP_MS	20000
#define IDLE_WAKE_MS	10000
#define NOT_READY_WAKE_MS 600000	/* asleep while there is nothing to serve */

typedef struct GwJob
{
	dlist_node	node;
	MemoryContext cxt;			/* everything of this job */
	int64		audit_id;
	int			slot;			/* shared-memory slot of a sync caller, or -1 */
	uint64		ticket;
	GwCall		call;
	char	   *server_name;	/* as recorded in the row */
	GwServer   *server;
	GwCreds    *creds;
	GwOp		op;				/* what the next attempt sends */
	GwOp		op_after_creds; /* what to send once credentials came */
	/* credentials obtained by steps (cred.c) */
	bool		cred_planned;	/* steps and source known */
	int			nsteps;			/* 0: signs with the mapping's own */
	GwCredStep	steps[GW_MAX_CRED_STEPS];
	char	   *cred_source;	/* the source, for messages */
	uint32		cred_fingerprint;
	bool		cred_fetcher;	/* this job is running the steps */
	int			step;			/* ... this one */
	GwCreds    *have;			/* ... with what the earlier ones gave */
	char	   *cred_expires;	/* ... and when that expires */
	uint64		cred_generation;	/* the set its last request signed with */
	struct GwCredSet *signed_with;	/* ... held until it signs with another */
	int			cred_attempts;	/* attempts of the current step */
	bool		cred_refreshed; /* refreshed once after a rejection */
	bool		reconciling;	/* an interrupted call being resolved */
	bool		reading;		/* the instance is read before the change */
	char	   *from_spec;		/* what that read saw: the spec, */
	char	   *read_state;		/* ... and the instance (JSON) */
	bool		tracking;		/* an accepted resize being polled */
	int64		answered_age_ms;	/* tracking: since the provider accepted */
	char	   *seen_status;	/* tracking: the status seen at the last poll */
	const char *track_status;	/* tracking: succeeded, resize_failed or NULL */
	char	   *track_state;	/* tracking: the instance as seen (JSON) */
	int			poll_ms;		/* when the next poll goes, once written */
	int			attempts;		/* resize attempts made, all runs */
	int			reserved;		/* attempts committed to the row: a resize
								 * attempt leaves only once counted there */
	bool		reserve_pending;	/* the next attempt waits for that commit */
	bool		vanished;		/* the row was cancelled (gw_cancel) */
	bool		rate_slot;		/* its rate-limit slot is taken */
	int			run_attempts;	/* ... in this run of the worker */
	int			aux_attempts;	/* instance reads and polls made */
	TimestampTz next_at;
	bool		retry_noted;	/* next_at must be written to gw_audit */
	GwTransfer *xfer;			/* non-NULL while in flight */
	bool		finished;
	const char *final_status;
	long		http_status;
	GwOutcome	out;
} GwJob;

/* When each rate-limited server may send next, for requests_per_second */
typedef struct GwRate
{
	Oid			serverid;
	TimestampTz next_send;
	struct GwRate *next_rate;
} GwRate;

/*
 * A set of credentials obtained by steps (an IAM user's token, temporary
 * credentials), in TopMemoryContext: held by the entry that serves it and
 * by each job that signs with it, freed (zeroed) when the last lets go.
 */
typedef struct GwCredSet
{
	GwCreds		creds;
	int			refs;
} GwCredSet;

/*
 * The credentials the calls of one server and role sign with, as one
 * version of the mapping's and server's options gives them (fingerprint):
 * kept in the worker's memory only, until shortly before they expire.
 */
typedef struct GwCredEntry
{
	Oid			serverid;
	Oid			userid;
	uint32		fingerprint;	/* of the options they come from */
	GwCredSet  *current;		/* the set served; NULL: none */
	TimestampTz refresh_at;		/* a new set is obtained from then on */
	TimestampTz expires_at;		/* and this one not used from then on */
	uint64		generation;		/* counts the sets */
	int			fetches;		/* sets obtained (for the debug log) */
	bool		fetching;		/* a job is obtaining a set */
	TimestampTz last_used;		/* idle entries go */
	TimestampTz failed_at;		/* the last attempt failed then, so: */
	long		failed_http;
	char	   *failed_code;
	char	   *failed_message;
	struct GwCredEntry *next;
} GwCredEntry;

#define MAX_JOBS		256		/* calls in the worker's hands at once */
#define RECONCILE_MS	10000	/* how often unknown rows are looked at */
#define MAX_RECONCILE_ATTEMPTS 10

typedef enum ClaimKind
{
	CLAIM_QUEUED,
	CLAIM_UNKNOWN,
	CLAIM_TRACK
} ClaimKind;

/* in worker.c */
extern dlist_head gw_jobs;
extern int	gw_njobs;
extern int	gw_ntracking;
extern TimestampTz gw_next_track;
extern TimestampTz gw_last_check;
extern void gw_tx_begin(const char *what);
extern void gw_tx_commit(void);
extern void gw_reply(int slotno, uint64 ticket, int64 audit_id,
					 const ErrorData *why);
extern void gw_refuse_waiting_calls(void);

/* in job.c */
extern GwJob *gw_job_new(void);
extern void gw_job_free(GwJob *job);
extern void gw_job_finish(GwJob *job, const char *status);
extern int	gw_poll_delay_ms(GwServer *server);
extern long gw_start_due(void);

/* in cred.c */
typedef enum GwCredState
{
	GW_CRED_READY,				/* sign with what *signing points to */
	GW_CRED_WAIT,				/* another job obtains them: wait */
	GW_CRED_FAILED				/* they could not be obtained just now */
} GwCredState;

extern GwCredState gw_cred_prepare(GwJob *job, GwCreds **signing);
extern GwHttpRequest *gw_cred_request(GwJob *job);
extern void gw_cred_judge(GwJob *job, const GwHttpResponse *resp);
extern void gw_cred_step_done(GwJob *job);
extern bool gw_cred_failed(GwJob *job);
extern bool gw_cred_refresh(GwJob *job);
extern void gw_cred_release(GwJob *job);
extern GwMask *gw_cred_mask(GwJob *job);

/* in claim.c */
extern void gw_claim_calls(void);
extern int	gw_claim_rows(ClaimKind kind, int room);
extern void gw_write_outcomes(void);

#endif							/* GW_JOB_H */
