/* gwresize--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION gwresize" to load this file. \quit

-- The foreign-data wrapper: servers are accounts and regions, user mappings
-- hold credentials.  It has no handler: it wraps no tables.
CREATE FUNCTION @extschema@.gw_fdw_validator(text[], oid)
RETURNS void
AS 'MODULE_PATHNAME', 'gw_fdw_validator'
LANGUAGE C STRICT;

CREATE FOREIGN DATA WRAPPER gwresize
  VALIDATOR @extschema@.gw_fdw_validator;

COMMENT ON FOREIGN DATA WRAPPER gwresize IS
  'cloud API gateway accounts: one server per provider account and region, credentials in user mappings';

-- The audit: one row per requested call, written only by the extension.
CREATE TABLE @extschema@.gw_audit (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider        text NOT NULL CHECK (provider IN ('aliyun', 'huawei')),
    server_name     text NOT NULL,
    instance_id     text NOT NULL,
    target_spec     text NOT NULL,
    params          jsonb NOT NULL,
    request         jsonb,
    client_token    text,
    mode            text NOT NULL CHECK (mode IN ('sync', 'async')),
    status          text NOT NULL CHECK (status IN ('queued', 'sending', 'accepted',
                        'failed', 'unknown', 'cancelled', 'succeeded', 'resize_failed')),
    attempts        integer NOT NULL DEFAULT 0,
    requested_by    name NOT NULL,
    requested_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    sent_at         timestamptz,
    answered_at     timestamptz,
    finished_at     timestamptz,
    http_status     integer,
    request_id      text,
    job_id          text,
    error_code      text,
    error_message   text,
    response        jsonb,
    next_attempt_at timestamptz,
    last_polled_at  timestamptz,
    instance_state  jsonb
);

-- one open resize per instance: the guarantee, enforced by the index
CREATE UNIQUE INDEX gw_audit_open_instance
    ON @extschema@.gw_audit (provider, instance_id)
    WHERE status IN ('queued', 'sending', 'unknown');

-- what the worker scans for: rows not yet final
CREATE INDEX gw_audit_pending
    ON @extschema@.gw_audit (status, id)
    WHERE status IN ('queued', 'sending', 'unknown', 'accepted');

-- accepted resizes by when they are next polled
CREATE INDEX gw_audit_tracking
    ON @extschema@.gw_audit ((coalesce(next_attempt_at, answered_at)))
    WHERE status = 'accepted' AND finished_at IS NULL;

CREATE INDEX gw_audit_instance
    ON @extschema@.gw_audit (instance_id, requested_at);

SELECT pg_catalog.pg_extension_config_dump('@extschema@.gw_audit', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.gw_audit_id_seq', '');

REVOKE ALL ON @extschema@.gw_audit FROM PUBLIC;

COMMENT ON TABLE @extschema@.gw_audit IS
  'gwresize: one row per requested gateway resize, with its request (secrets masked), answer and outcome';
COMMENT ON COLUMN @extschema@.gw_audit.params IS 'every request parameter, secrets masked';
COMMENT ON COLUMN @extschema@.gw_audit.request IS 'method, URL, headers and body of the last attempt, secrets and signatures masked';
COMMENT ON COLUMN @extschema@.gw_audit.client_token IS 'Alibaba idempotency Token; NULL for Huawei';
COMMENT ON COLUMN @extschema@.gw_audit.status IS 'queued, sending, accepted, failed, unknown, cancelled, then succeeded or resize_failed once tracked';
COMMENT ON COLUMN @extschema@.gw_audit.attempts IS 'HTTP attempts made for the resize call';
COMMENT ON COLUMN @extschema@.gw_audit.response IS 'the provider''s last response body (bounded size)';
COMMENT ON COLUMN @extschema@.gw_audit.next_attempt_at IS 'when a queued or retried call is next sent';
COMMENT ON COLUMN @extschema@.gw_audit.last_polled_at IS 'when the instance was last read while tracking the resize';
COMMENT ON COLUMN @extschema@.gw_audit.instance_state IS 'the instance as last observed (spec, status)';

-- The SQL functions
CREATE FUNCTION @extschema@.gw_modify_spec(
    instance_id text,
    instance_spec text,
    modify_action text DEFAULT 'UPGRADE',
    auto_pay boolean DEFAULT false,
    skip_wait_switch boolean DEFAULT false,
    token text DEFAULT NULL,
    server name DEFAULT NULL,
    dry_run boolean DEFAULT false)
RETURNS @extschema@.gw_audit
AS 'MODULE_PATHNAME', 'gw_modify_spec'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.gw_modify_spec(text, text, text, boolean, boolean, text, name, boolean) IS
  'resize an Alibaba Cloud API Gateway instance (ModifyInstanceSpec); returns the committed audit row';

CREATE FUNCTION @extschema@.gw_resize(
    instance_id text,
    spec_id text,
    server name DEFAULT NULL,
    dry_run boolean DEFAULT false)
RETURNS @extschema@.gw_audit
AS 'MODULE_PATHNAME', 'gw_resize'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.gw_resize(text, text, name, boolean) IS
  'resize a pay-per-use Huawei Cloud APIG gateway (postpaid-resize, upgrades only); returns the committed audit row';

CREATE FUNCTION @extschema@.gw_modify_spec_async(
    instance_id text,
    instance_spec text,
    modify_action text DEFAULT 'UPGRADE',
    auto_pay boolean DEFAULT false,
    skip_wait_switch boolean DEFAULT false,
    token text DEFAULT NULL,
    server name DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'gw_modify_spec_async'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.gw_modify_spec_async(text, text, text, boolean, boolean, text, name) IS
  'queue an Alibaba Cloud resize in the caller''s transaction; it is sent after commit, never after rollback; returns the gw_audit id';

CREATE FUNCTION @extschema@.gw_resize_async(
    instance_id text,
    spec_id text,
    server name DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'gw_resize_async'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.gw_resize_async(text, text, name) IS
  'queue a Huawei Cloud resize in the caller''s transaction; it is sent after commit, never after rollback; returns the gw_audit id';

CREATE FUNCTION @extschema@.gw_wait(id bigint, timeout interval DEFAULT '30 seconds')
RETURNS @extschema@.gw_audit
AS 'MODULE_PATHNAME', 'gw_wait'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.gw_wait(bigint, interval) IS
  'wait until a gw_audit row leaves queued and sending (or the timeout passes) and return it';

CREATE FUNCTION @extschema@.gw_cancel(id bigint)
RETURNS boolean
AS 'MODULE_PATHNAME', 'gw_cancel'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.gw_cancel(bigint) IS
  'cancel a queued call that has not been sent (your own; any for the extension owner); false if it is no longer queued';

-- what the worker has in hand now
CREATE VIEW @extschema@.gw_inflight AS
SELECT id, provider, server_name, instance_id, target_spec, mode, status,
       attempts, requested_by, requested_at, sent_at,
       pg_catalog.clock_timestamp() - coalesce(sent_at, requested_at) AS elapsed,
       next_attempt_at AS next_retry_at,
       last_polled_at,
       error_code AS last_error_code,
       error_message AS last_error
  FROM @extschema@.gw_audit
 WHERE status IN ('queued', 'sending', 'unknown')
    OR (status = 'accepted' AND finished_at IS NULL);

COMMENT ON VIEW @extschema@.gw_inflight IS
  'calls not finished yet: queued, being sent or retried, interrupted, or accepted and being tracked';

REVOKE ALL ON @extschema@.gw_inflight FROM PUBLIC;

-- reporting
CREATE VIEW @extschema@.gw_history AS
SELECT a.id,
       a.provider,
       a.server_name,
       a.instance_id,
       (SELECT p.target_spec FROM @extschema@.gw_audit p
         WHERE p.provider = a.provider AND p.instance_id = a.instance_id
           AND p.id < a.id AND p.status = 'succeeded'
         ORDER BY p.id DESC LIMIT 1) AS from_spec,
       a.target_spec AS to_spec,
       a.mode,
       a.requested_by,
       a.requested_at,
       a.answered_at - a.requested_at AS time_to_accepted,
       a.finished_at - a.requested_at AS time_to_finished,
       a.status AS outcome,
       a.error_code,
       a.error_message,
       a.instance_state->>'spec' AS last_seen_spec
  FROM @extschema@.gw_audit a;

COMMENT ON VIEW @extschema@.gw_history IS
  'one line per resize: instance, provider, from-spec (the last known: the target of the instance''s previous successful resize) and to-spec, who, when, time to accepted and to finished, outcome';

CREATE VIEW @extschema@.gw_summary AS
SELECT server_name,
       provider,
       count(*) AS calls,
       count(*) FILTER (WHERE status = 'queued') AS queued,
       count(*) FILTER (WHERE status = 'sending') AS sending,
       count(*) FILTER (WHERE status = 'accepted') AS accepted,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       count(*) FILTER (WHERE status = 'resize_failed') AS resize_failed,
       count(*) FILTER (WHERE status = 'unknown') AS unknown,
       count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
       round(count(*) FILTER (WHERE status = 'succeeded')::numeric
             / nullif(count(*) FILTER (WHERE status IN ('succeeded', 'failed', 'resize_failed')), 0), 3)
         AS success_rate,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY answered_at - requested_at)
         FILTER (WHERE status IN ('accepted', 'succeeded', 'resize_failed')) AS p50_to_accepted,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY answered_at - requested_at)
         FILTER (WHERE status IN ('accepted', 'succeeded', 'resize_failed')) AS p95_to_accepted,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY finished_at - requested_at)
         FILTER (WHERE status IN ('succeeded', 'resize_failed')) AS p50_to_finished,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY finished_at - requested_at)
         FILTER (WHERE status IN ('succeeded', 'resize_failed')) AS p95_to_finished
  FROM @extschema@.gw_audit
 GROUP BY server_name, provider;

COMMENT ON VIEW @extschema@.gw_summary IS
  'per server: calls by status, success rate (succeeded over finished), p50/p95 time to accepted and to finished';

REVOKE ALL ON @extschema@.gw_history FROM PUBLIC;
REVOKE ALL ON @extschema@.gw_summary FROM PUBLIC;

REVOKE ALL ON FUNCTION @extschema@.gw_modify_spec(text, text, text, boolean, boolean, text, name, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_modify_spec_async(text, text, text, boolean, boolean, text, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_resize_async(text, text, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_wait(bigint, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_cancel(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_resize(text, text, name, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_fdw_validator(text[], oid) FROM PUBLIC;
