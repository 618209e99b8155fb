/* gwresize--1.3.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION gwresize" to load this file. \quit

-- Security (see README.md, "Security model").  Every object of this script
-- is named through @extschema@ or pg_catalog, and every operator exactly:
-- operands of the operator's own types, or OPERATOR(pg_catalog.x), so that
-- an operator planted in a schema on the search_path (the extension's own
-- schema, when others may create there) is never bound instead of
-- pg_catalog's.  (A fresh install runs this script alone; an installed
-- 1.0 reaches the same objects through the upgrade scripts.)

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
    status          text NOT NULL,
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
    instance_state  jsonb,
    from_spec       text,
    requested_by_oid oid,
    CONSTRAINT gw_audit_status_check
      CHECK (status IN ('queued', 'sending', 'accepted', 'failed', 'unknown', 'cancelled',
                        'unchanged', 'succeeded', 'resize_failed'))
);

-- one open resize per instance: the guarantee, enforced by the index
CREATE UNIQUE INDEX gw_audit_open_instance
    ON @extschema@.gw_audit (provider, instance_id)
    WHERE status IN ('queued', 'sending', 'unknown') OR (status = 'accepted' AND finished_at IS NULL);

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

-- reports by time
CREATE INDEX gw_audit_requested_at ON @extschema@.gw_audit (requested_at);

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

-- The cluster this installation belongs to, and since when it acts on
-- gw_audit.  pg_dump carries the row: a copy restored into another cluster
-- (or one after pg_upgrade) finds another cluster's system identifier here,
-- and while a restore runs, its rows are older than the new installation.
-- Either way its worker sends and polls nothing, and new calls are refused,
-- until the extension owner runs gw_adopt().
CREATE TABLE @extschema@.gw_installation (
    system_identifier bigint NOT NULL,
    acts_since        timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- a fresh install: this cluster's, acting from now on
INSERT INTO @extschema@.gw_installation (system_identifier)
SELECT c.system_identifier FROM pg_catalog.pg_control_system() c;

SELECT pg_catalog.pg_extension_config_dump('@extschema@.gw_installation', '');

REVOKE ALL ON @extschema@.gw_installation FROM PUBLIC;

COMMENT ON TABLE @extschema@.gw_installation IS
  'gwresize: the cluster (system identifier) whose worker acts on gw_audit; a copy restored elsewhere waits for gw_adopt()';
COMMENT ON COLUMN @extschema@.gw_installation.system_identifier IS
  'pg_control_system().system_identifier of the cluster the installation belongs to';
COMMENT ON COLUMN @extschema@.gw_installation.acts_since IS
  'the worker acts on calls requested from this time on: older open calls came with a restore, until gw_adopt()';

CREATE FUNCTION @extschema@.gw_adopt()
RETURNS bigint
AS 'MODULE_PATHNAME', 'gw_adopt'
LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION @extschema@.gw_adopt() IS
  'make this cluster the owner of a restored or upgraded copy''s open calls, so the worker acts on them; extension owner or superuser; returns how many are open';

REVOKE ALL ON FUNCTION @extschema@.gw_adopt() FROM PUBLIC;

-- What kind of failure a row is: the provider's "no", the resize failing in
-- the cloud, or ours and the way there (setup, credentials, throttling,
-- transport), or an instance that was busy changing (nothing sent).  NULL
-- for rows that did not fail.
CREATE FUNCTION @extschema@.gw_failure_class(status text, http_status integer, error_code text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
  WHEN status IN ('queued', 'sending', 'unknown', 'accepted', 'succeeded', 'unchanged') THEN NULL
  WHEN status = 'cancelled' THEN 'cancelled'
  WHEN status = 'resize_failed' THEN
    CASE WHEN error_code IN ('TrackingTimeout', 'NotTracked') THEN 'tracking' ELSE 'resize' END
  WHEN error_code IN ('NotSent', 'PermissionDenied', 'Unresolved', 'InternalError') THEN 'setup'
  WHEN error_code = 'InstanceNotReady' THEN 'busy'
  WHEN error_code LIKE 'IAM.%' OR http_status IN (401, 403)
       OR error_code ~ '(Signature|AccessKey|SecurityToken|InvalidTimeStamp|Forbidden|NoPermission)' THEN 'credentials'
  WHEN http_status = 429 OR error_code LIKE '%Throttling%' OR error_code = 'RetryAfterTooLong' THEN 'throttled'
  WHEN http_status IS NULL OR http_status >= 500
       OR error_code IN ('Timeout', 'TransportError', 'TLSVerificationFailed', 'ResponseTooLarge',
                         'MalformedResponse') THEN 'transport'
  ELSE 'provider'
END;

COMMENT ON FUNCTION @extschema@.gw_failure_class(text, integer, text) IS
  'failure class of a gw_audit row: provider (its "no"), resize (failed in the cloud), tracking, busy (the instance was changing: nothing sent), credentials, throttled, transport, setup, cancelled; NULL when it did not fail';

-- reporting
CREATE VIEW @extschema@.gw_history AS
SELECT a.id,
       a.provider,
       a.server_name,
       a.instance_id,
       a.from_spec,
       a.target_spec AS to_spec,
       CASE WHEN a.provider OPERATOR(pg_catalog.=) 'aliyun'::pg_catalog.text
            THEN coalesce(a.params OPERATOR(pg_catalog.->>) 'ModifyAction'::pg_catalog.text,
                          'UPGRADE'::pg_catalog.text)
            ELSE 'UPGRADE'::pg_catalog.text END AS modify_action,
       a.mode,
       a.requested_by,
       a.requested_at,
       a.answered_at,
       a.finished_at,
       a.answered_at OPERATOR(pg_catalog.-) a.requested_at AS time_to_accepted,
       a.finished_at OPERATOR(pg_catalog.-) a.requested_at AS time_to_finished,
       a.status AS outcome,
       @extschema@.gw_failure_class(a.status, a.http_status, a.error_code) AS failure_class,
       a.error_code,
       a.error_message,
       a.instance_state OPERATOR(pg_catalog.->>) 'spec'::pg_catalog.text AS last_seen_spec
  FROM @extschema@.gw_audit a;

REVOKE ALL ON @extschema@.gw_history FROM PUBLIC;

COMMENT ON VIEW @extschema@.gw_history IS
  'one line per resize: instance, from-spec (as read before the change) and to-spec, action, who, when, times to accepted and to finished, outcome and failure class';
COMMENT ON COLUMN @extschema@.gw_history.id IS 'gw_audit row id';
COMMENT ON COLUMN @extschema@.gw_history.provider IS 'aliyun or huawei';
COMMENT ON COLUMN @extschema@.gw_history.server_name IS 'the foreign server (account and region) used';
COMMENT ON COLUMN @extschema@.gw_history.instance_id IS 'the gateway instance';
COMMENT ON COLUMN @extschema@.gw_history.from_spec IS 'the spec the instance ran at, read just before the change (NULL when not read: read_before_resize off, or the call failed before)';
COMMENT ON COLUMN @extschema@.gw_history.to_spec IS 'the spec asked for';
COMMENT ON COLUMN @extschema@.gw_history.modify_action IS 'UPGRADE or DOWNGRADE (Huawei resizes are upgrades)';
COMMENT ON COLUMN @extschema@.gw_history.mode IS 'sync (gw_modify_spec, gw_resize) or async (the _async functions)';
COMMENT ON COLUMN @extschema@.gw_history.requested_by IS 'the role that called';
COMMENT ON COLUMN @extschema@.gw_history.requested_at IS 'when the call was made';
COMMENT ON COLUMN @extschema@.gw_history.answered_at IS 'when the provider answered the resize call';
COMMENT ON COLUMN @extschema@.gw_history.finished_at IS 'when the row became final (tracked to its end, failed, cancelled or unchanged)';
COMMENT ON COLUMN @extschema@.gw_history.time_to_accepted IS 'from the call to the provider''s answer';
COMMENT ON COLUMN @extschema@.gw_history.time_to_finished IS 'from the call to the end of the resize in the cloud (or the failure)';
COMMENT ON COLUMN @extschema@.gw_history.outcome IS 'the row''s status: succeeded, unchanged, resize_failed, failed, cancelled, accepted (not tracked to its end), or still open';
COMMENT ON COLUMN @extschema@.gw_history.failure_class IS 'provider, resize, tracking, busy, credentials, throttled, transport, setup or cancelled; NULL when it did not fail (gw_failure_class)';
COMMENT ON COLUMN @extschema@.gw_history.error_code IS 'the provider''s or gwresize''s error code';
COMMENT ON COLUMN @extschema@.gw_history.error_message IS 'the provider''s or gwresize''s error message';
COMMENT ON COLUMN @extschema@.gw_history.last_seen_spec IS 'the spec the instance was last seen at while tracked';

CREATE VIEW @extschema@.gw_summary AS
SELECT server_name, provider, calls, in_progress, succeeded, unchanged, accepted_untracked,
       rejected, resize_failed, tracking_failed, busy, credentials_failed, throttled,
       transport_failed, setup_failed, cancelled,
       pg_catalog.round(succeeded::pg_catalog.numeric OPERATOR(pg_catalog./)
                        nullif(succeeded OPERATOR(pg_catalog.+) rejected OPERATOR(pg_catalog.+) resize_failed,
                               0::pg_catalog.int8)::pg_catalog.numeric,
                        3) AS success_rate,
       to_accepted[1] AS p50_to_accepted,
       to_accepted[2] AS p95_to_accepted,
       to_finished[1] AS p50_to_finished,
       to_finished[2] AS p95_to_finished
  FROM (SELECT server_name,
               provider,
               pg_catalog.count(*) AS calls,
               pg_catalog.count(*) FILTER (WHERE status IN ('queued', 'sending', 'unknown')
                                   OR (status = 'accepted' AND finished_at IS NULL)) AS in_progress,
               pg_catalog.count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
               pg_catalog.count(*) FILTER (WHERE status = 'unchanged') AS unchanged,
               pg_catalog.count(*) FILTER (WHERE status = 'accepted' AND finished_at IS NOT NULL) AS accepted_untracked,
               pg_catalog.count(*) FILTER (WHERE class = 'provider') AS rejected,
               pg_catalog.count(*) FILTER (WHERE class = 'resize') AS resize_failed,
               pg_catalog.count(*) FILTER (WHERE class = 'tracking') AS tracking_failed,
               pg_catalog.count(*) FILTER (WHERE class = 'busy') AS busy,
               pg_catalog.count(*) FILTER (WHERE class = 'credentials') AS credentials_failed,
               pg_catalog.count(*) FILTER (WHERE class = 'throttled') AS throttled,
               pg_catalog.count(*) FILTER (WHERE class = 'transport') AS transport_failed,
               pg_catalog.count(*) FILTER (WHERE class = 'setup') AS setup_failed,
               pg_catalog.count(*) FILTER (WHERE class = 'cancelled') AS cancelled,
               -- one sort per measure for both percentiles
               pg_catalog.percentile_cont(ARRAY[0.5, 0.95]::pg_catalog.float8[])
                 WITHIN GROUP (ORDER BY answered_at OPERATOR(pg_catalog.-) requested_at)
                 FILTER (WHERE status IN ('accepted', 'succeeded', 'resize_failed')) AS to_accepted,
               pg_catalog.percentile_cont(ARRAY[0.5, 0.95]::pg_catalog.float8[])
                 WITHIN GROUP (ORDER BY finished_at OPERATOR(pg_catalog.-) requested_at)
                 FILTER (WHERE status IN ('succeeded', 'resize_failed')) AS to_finished
          FROM (SELECT server_name, provider, status, finished_at, answered_at, requested_at,
                       @extschema@.gw_failure_class(status, http_status, error_code) AS class
                  FROM @extschema@.gw_audit) a
         GROUP BY server_name, provider) s;

REVOKE ALL ON @extschema@.gw_summary FROM PUBLIC;

COMMENT ON VIEW @extschema@.gw_summary IS
  'per server: calls by outcome and failure class, success rate (what the provider decided), p50/p95 times to accepted and to finished';
COMMENT ON COLUMN @extschema@.gw_summary.server_name IS 'the foreign server (account and region)';
COMMENT ON COLUMN @extschema@.gw_summary.provider IS 'aliyun or huawei';
COMMENT ON COLUMN @extschema@.gw_summary.calls IS 'rows in gw_audit';
COMMENT ON COLUMN @extschema@.gw_summary.in_progress IS 'queued, being sent, interrupted, or accepted and still tracked';
COMMENT ON COLUMN @extschema@.gw_summary.succeeded IS 'resizes tracked to the target spec';
COMMENT ON COLUMN @extschema@.gw_summary.unchanged IS 'calls whose instance already ran at the target: nothing sent';
COMMENT ON COLUMN @extschema@.gw_summary.accepted_untracked IS 'accepted, but tracking ended before the resize did (gw_cancel, tracking superseded)';
COMMENT ON COLUMN @extschema@.gw_summary.rejected IS 'refused by the provider (a 4xx that is not about credentials or throttling)';
COMMENT ON COLUMN @extschema@.gw_summary.resize_failed IS 'accepted, then failed in the cloud';
COMMENT ON COLUMN @extschema@.gw_summary.tracking_failed IS 'accepted, then not seen at the target within tracking_timeout_ms, or no longer trackable';
COMMENT ON COLUMN @extschema@.gw_summary.busy IS 'not sent: the read before the change found the instance changing (InstanceNotReady)';
COMMENT ON COLUMN @extschema@.gw_summary.credentials_failed IS 'signature, key, token, permission or IAM failures';
COMMENT ON COLUMN @extschema@.gw_summary.throttled IS 'still throttled after the retries';
COMMENT ON COLUMN @extschema@.gw_summary.transport_failed IS 'no usable answer: DNS, connection, TLS, timeout, 5xx, malformed or oversized answers';
COMMENT ON COLUMN @extschema@.gw_summary.setup_failed IS 'not sent: server, mapping or privilege gone, or interrupted too often';
COMMENT ON COLUMN @extschema@.gw_summary.cancelled IS 'cancelled with gw_cancel() before being sent';
COMMENT ON COLUMN @extschema@.gw_summary.success_rate IS 'succeeded over what the provider decided: succeeded, rejected and resize_failed (other classes are ours or the way there, shown beside it)';
COMMENT ON COLUMN @extschema@.gw_summary.p50_to_accepted IS 'median time from the call to the provider''s acceptance';
COMMENT ON COLUMN @extschema@.gw_summary.p95_to_accepted IS '95th percentile of the time to acceptance';
COMMENT ON COLUMN @extschema@.gw_summary.p50_to_finished IS 'median time from the call to the end of the resize in the cloud';
COMMENT ON COLUMN @extschema@.gw_summary.p95_to_finished IS '95th percentile of the time to the end of the resize';

COMMENT ON COLUMN @extschema@.gw_inflight.id IS 'gw_audit row id';
COMMENT ON COLUMN @extschema@.gw_inflight.provider IS 'aliyun or huawei';
COMMENT ON COLUMN @extschema@.gw_inflight.server_name IS 'the foreign server used';
COMMENT ON COLUMN @extschema@.gw_inflight.instance_id IS 'the gateway instance';
COMMENT ON COLUMN @extschema@.gw_inflight.target_spec IS 'the spec asked for';
COMMENT ON COLUMN @extschema@.gw_inflight.mode IS 'sync or async';
COMMENT ON COLUMN @extschema@.gw_inflight.status IS 'queued (not yet sent), sending (an attempt is out or will be retried), unknown (interrupted, being resolved), accepted (tracked)';
COMMENT ON COLUMN @extschema@.gw_inflight.attempts IS 'HTTP attempts of the resize call so far';
COMMENT ON COLUMN @extschema@.gw_inflight.requested_by IS 'the role that called';
COMMENT ON COLUMN @extschema@.gw_inflight.requested_at IS 'when the call was made';
COMMENT ON COLUMN @extschema@.gw_inflight.sent_at IS 'when its first attempt left';
COMMENT ON COLUMN @extschema@.gw_inflight.elapsed IS 'time since it was sent (or requested, if not yet sent)';
COMMENT ON COLUMN @extschema@.gw_inflight.next_retry_at IS 'when the next attempt or poll is due';
COMMENT ON COLUMN @extschema@.gw_inflight.last_polled_at IS 'when the instance was last read while tracking';
COMMENT ON COLUMN @extschema@.gw_inflight.last_error_code IS 'the last attempt''s or poll''s error code';
COMMENT ON COLUMN @extschema@.gw_inflight.last_error IS 'the last attempt''s or poll''s error message';

COMMENT ON COLUMN @extschema@.gw_audit.id IS 'row id';
COMMENT ON COLUMN @extschema@.gw_audit.provider IS 'aliyun or huawei';
COMMENT ON COLUMN @extschema@.gw_audit.server_name IS 'the foreign server (account and region) used';
COMMENT ON COLUMN @extschema@.gw_audit.instance_id IS 'the gateway instance';
COMMENT ON COLUMN @extschema@.gw_audit.target_spec IS 'the spec asked for';
COMMENT ON COLUMN @extschema@.gw_audit.mode IS 'sync or async';
COMMENT ON COLUMN @extschema@.gw_audit.status IS 'queued, sending, accepted, failed, unknown, cancelled, unchanged (already at the target: nothing sent), then succeeded or resize_failed once tracked';
COMMENT ON COLUMN @extschema@.gw_audit.requested_by IS 'the role that called';
COMMENT ON COLUMN @extschema@.gw_audit.requested_at IS 'when the call was made';
COMMENT ON COLUMN @extschema@.gw_audit.sent_at IS 'when the first attempt of the resize call left';
COMMENT ON COLUMN @extschema@.gw_audit.answered_at IS 'when the provider answered (or the call ended without an answer)';
COMMENT ON COLUMN @extschema@.gw_audit.finished_at IS 'when the row became final';
COMMENT ON COLUMN @extschema@.gw_audit.http_status IS 'HTTP status of the provider''s last answer';
COMMENT ON COLUMN @extschema@.gw_audit.request_id IS 'the provider''s request id';
COMMENT ON COLUMN @extschema@.gw_audit.job_id IS 'Huawei''s job id of an accepted resize';
COMMENT ON COLUMN @extschema@.gw_audit.error_code IS 'the provider''s or gwresize''s error code (bounded, cleaned)';
COMMENT ON COLUMN @extschema@.gw_audit.error_message IS 'the provider''s or gwresize''s error message (bounded, cleaned)';
COMMENT ON COLUMN @extschema@.gw_audit.from_spec IS 'the spec the instance ran at, read just before the change';
COMMENT ON COLUMN @extschema@.gw_audit.instance_state IS 'the instance as last observed (status, spec): before the change, then while tracked';

COMMENT ON COLUMN @extschema@.gw_audit.requested_by_oid IS
  'the OID of the role that called (NULL: no such role when the row was tied to one); the worker acts for that role only';

COMMENT ON FUNCTION @extschema@.gw_cancel(bigint) IS
  'cancel a call that is queued or waiting to be retried, or end the tracking of an accepted resize (your own role''s; any for the extension owner); in a copy not yet adopted, any open call; false otherwise';

REVOKE ALL ON FUNCTION @extschema@.gw_modify_spec(text, text, text, boolean, boolean, text, name, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_modify_spec_async(text, text, text, boolean, boolean, text, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_resize_async(text, text, name) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_wait(bigint, interval) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_cancel(bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_resize(text, text, name, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.gw_fdw_validator(text[], oid) FROM PUBLIC;
