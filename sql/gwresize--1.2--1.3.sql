/* gwresize--1.2--1.3.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION gwresize UPDATE TO '1.3'" to load this file. \quit

-- Security (see README.md, "Security model").  This script and every view
-- it defines name operators exactly: operands of the operator's own types,
-- or OPERATOR(pg_catalog.x), so that an operator planted in a schema on the
-- search_path (the extension's own schema, when others may create there)
-- is never bound instead of pg_catalog's.

-- The role that requested each call, by OID: the worker resolves a row's
-- role by it, gw_cancel() and gw_wait() match the caller against it, so a
-- role dropped and created again under the same name is another role and
-- takes over no call of the old one.  Rows written before this version are
-- tied to the role that bears their requested_by name now.
ALTER TABLE @extschema@.gw_audit ADD COLUMN requested_by_oid oid;
UPDATE @extschema@.gw_audit a
   SET requested_by_oid = r.oid
  FROM pg_catalog.pg_roles r
 WHERE r.rolname OPERATOR(pg_catalog.=) a.requested_by;

COMMENT ON COLUMN @extschema@.gw_audit.requested_by_oid IS
  'the OID of the role that called (NULL: no such role when the row was tied to one); the worker acts for that role only';

-- The reports again, their operators named exactly (1.2 wrote jsonb ->>
-- with an untyped key, numeric / bigint and a numeric[] of percentiles).
-- Same columns: comments and privileges stay.
CREATE OR REPLACE VIEW @extschema@.gw_history AS
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

CREATE OR REPLACE VIEW @extschema@.gw_summary AS
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

COMMENT ON FUNCTION @extschema@.gw_cancel(bigint) IS
  'cancel a call that is queued or waiting to be retried, or end the tracking of an accepted resize (your own role''s; any for the extension owner); in a copy not yet adopted, any open call; false otherwise';
