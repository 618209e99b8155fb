/* gwresize--1.1--1.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION gwresize UPDATE TO '1.2'" to load this file. \quit

-- What the instance ran at, read by the worker just before the change
-- (server option read_before_resize, on by default).
ALTER TABLE @extschema@.gw_audit ADD COLUMN from_spec text;

-- 'unchanged': the instance already ran at the target spec; nothing was sent.
ALTER TABLE @extschema@.gw_audit DROP CONSTRAINT gw_audit_status_check;
ALTER TABLE @extschema@.gw_audit ADD CONSTRAINT gw_audit_status_check
  CHECK (status IN ('queued', 'sending', 'accepted', 'failed', 'unknown', 'cancelled',
                    'unchanged', 'succeeded', 'resize_failed'));

-- One resize per instance, end to end: a resize the provider is still
-- applying (accepted, tracking not finished) holds the instance too.  Rows
-- 1.1 allowed (two tracked resizes of one instance) keep the newest tracked.
UPDATE @extschema@.gw_audit a
   SET finished_at = pg_catalog.clock_timestamp(),
       error_code = 'TrackingSuperseded',
       error_message = 'tracking ended by the update to gwresize 1.2: a later resize of the instance was accepted'
 WHERE a.status = 'accepted' AND a.finished_at IS NULL
   AND EXISTS (SELECT FROM @extschema@.gw_audit b
                WHERE b.provider = a.provider AND b.instance_id = a.instance_id AND b.id > a.id
                  AND (b.status IN ('queued', 'sending', 'unknown')
                       OR (b.status = 'accepted' AND b.finished_at IS NULL)));
DROP INDEX @extschema@.gw_audit_open_instance;
CREATE UNIQUE INDEX gw_audit_open_instance
    ON @extschema@.gw_audit (provider, instance_id)
    WHERE status IN ('queued', 'sending', 'unknown') OR (status = 'accepted' AND finished_at IS NULL);

-- reports by time
CREATE INDEX gw_audit_requested_at ON @extschema@.gw_audit (requested_at);

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

DROP VIEW @extschema@.gw_history;
CREATE VIEW @extschema@.gw_history AS
SELECT a.id,
       a.provider,
       a.server_name,
       a.instance_id,
       a.from_spec,
       a.target_spec AS to_spec,
       CASE WHEN a.provider = 'aliyun' THEN coalesce(a.params->>'ModifyAction', 'UPGRADE')
            ELSE 'UPGRADE' END AS modify_action,
       a.mode,
       a.requested_by,
       a.requested_at,
       a.answered_at,
       a.finished_at,
       a.answered_at - a.requested_at AS time_to_accepted,
       a.finished_at - a.requested_at AS time_to_finished,
       a.status AS outcome,
       @extschema@.gw_failure_class(a.status, a.http_status, a.error_code) AS failure_class,
       a.error_code,
       a.error_message,
       a.instance_state->>'spec' AS last_seen_spec
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

DROP VIEW @extschema@.gw_summary;
CREATE VIEW @extschema@.gw_summary AS
SELECT server_name, provider, calls, in_progress, succeeded, unchanged, accepted_untracked,
       rejected, resize_failed, tracking_failed, busy, credentials_failed, throttled,
       transport_failed, setup_failed, cancelled,
       round(succeeded::numeric / nullif(succeeded + rejected + resize_failed, 0), 3) AS success_rate,
       to_accepted[1] AS p50_to_accepted,
       to_accepted[2] AS p95_to_accepted,
       to_finished[1] AS p50_to_finished,
       to_finished[2] AS p95_to_finished
  FROM (SELECT server_name,
               provider,
               count(*) AS calls,
               count(*) FILTER (WHERE status IN ('queued', 'sending', 'unknown')
                                   OR (status = 'accepted' AND finished_at IS NULL)) AS in_progress,
               count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
               count(*) FILTER (WHERE status = 'unchanged') AS unchanged,
               count(*) FILTER (WHERE status = 'accepted' AND finished_at IS NOT NULL) AS accepted_untracked,
               count(*) FILTER (WHERE class = 'provider') AS rejected,
               count(*) FILTER (WHERE class = 'resize') AS resize_failed,
               count(*) FILTER (WHERE class = 'tracking') AS tracking_failed,
               count(*) FILTER (WHERE class = 'busy') AS busy,
               count(*) FILTER (WHERE class = 'credentials') AS credentials_failed,
               count(*) FILTER (WHERE class = 'throttled') AS throttled,
               count(*) FILTER (WHERE class = 'transport') AS transport_failed,
               count(*) FILTER (WHERE class = 'setup') AS setup_failed,
               count(*) FILTER (WHERE class = 'cancelled') AS cancelled,
               -- one sort per measure for both percentiles
               percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY answered_at - requested_at)
                 FILTER (WHERE status IN ('accepted', 'succeeded', 'resize_failed')) AS to_accepted,
               percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY finished_at - requested_at)
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

COMMENT ON FUNCTION @extschema@.gw_cancel(bigint) IS
  'cancel a call that is queued or waiting to be retried, or end the tracking of an accepted resize (your own; any for the extension owner); in a copy not yet adopted, any open call; false otherwise';
