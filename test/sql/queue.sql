-- The transactional outbox: queued calls are sent after commit, never after
-- rollback; gw_wait, gw_cancel and the in-flight view.
\getenv mock_http GW_MOCK_HTTP
SELECT 'http://127.0.0.1:' || :'mock_http' AS mock_http_url \gset
\! "$GW_MOCKCTL" reset
\set cols 'provider, instance_id, target_spec, mode, status, attempts, http_status, error_code, requested_by = current_user AS by_me'

-- a rollback sends nothing
BEGIN;
SELECT gw_modify_spec_async('apigateway-cn-q1', 'api.s1.medium', server => 'ali') > 0 AS queued;
SELECT instance_id, status, mode FROM gw_inflight WHERE instance_id = 'apigateway-cn-q1';
ROLLBACK;
SELECT count(*) AS rows FROM gw_audit WHERE instance_id = 'apigateway-cn-q1';

-- a commit sends
BEGIN;
SELECT gw_modify_spec_async('apigateway-cn-q2', 'api.s1.large', 'DOWNGRADE', true, true, 'queue-token-2', 'ali') AS q2 \gset
SELECT gw_resize_async('hw-q3', 'PROFESSIONAL', 'hw') AS q3 \gset
-- waiting, or a synchronous call for the same instance, in the same transaction cannot work
SELECT regexp_replace(try(format('SELECT gw_wait(%s)', :q2)), 'row [0-9]+', 'row N') AS try;
SELECT try($$SELECT gw_modify_spec('apigateway-cn-q2', 'api.s1.small', server => 'ali')$$);
-- a second queued call for the instance is refused
SELECT try($$SELECT gw_resize_async('hw-q3', 'ENTERPRISE', 'hw')$$);
COMMIT;
SELECT :cols, client_token, params FROM gw_wait(:q2);
SELECT :cols, job_id IS NOT NULL AS has_job FROM gw_wait(:q3, '10 seconds');
\! "$GW_MOCKCTL" count provider=aliyun token=queue-token-2

-- 429, 500 and 503, then success: four attempts; a Huawei POST that got a
-- 5xx is not re-sent before the instance has been looked at
\! "$GW_MOCKCTL" fault '{"provider": "huawei", "action": "resize", "kind": "throttle"}'
\! "$GW_MOCKCTL" fault '{"provider": "huawei", "action": "resize", "kind": "status", "status": 500, "code": "APIC.9000", "message": "Failed to request internal service"}'
\! "$GW_MOCKCTL" fault '{"provider": "huawei", "action": "resize", "kind": "status", "status": 503, "code": "APIG.9999", "message": "busy"}'
CREATE SERVER hw4 FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'mock_http_url', max_retries '3', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw4
  OPTIONS (access_key 'HWTESTAK0001', secret_key 'hwTestSecretKey0001');
SELECT gw_resize_async('hw-q4', 'PROFESSIONAL', 'hw4') AS q4 \gset
SELECT :cols FROM gw_wait(:q4, '20 seconds');
\! "$GW_MOCKCTL" count instance_id=hw-q4 action=resize
\! "$GW_MOCKCTL" count instance_id=hw-q4 action=show
\! "$GW_MOCKCTL" resizes hw-q4
-- a 4xx: one attempt
SELECT gw_resize_async('nf-q5', 'PROFESSIONAL', 'hw4') AS q5 \gset
SELECT :cols FROM gw_wait(:q5);

-- gw_cancel: a queued call is cancelled and never sent
BEGIN;
SELECT gw_modify_spec_async('apigateway-cn-q6', 'api.s1.medium', server => 'ali') AS q6 \gset
SELECT gw_cancel(:q6) AS cancelled;
COMMIT;
SELECT :cols, finished_at IS NOT NULL AS finished FROM gw_wait(:q6);
SELECT gw_cancel(:q6) AS cancelled_again, gw_cancel(:q2) AS cancel_sent;
\! "$GW_MOCKCTL" count instance_id=apigateway-cn-q6
-- other roles' calls are not yours to cancel, nor to wait on
GRANT EXECUTE ON FUNCTION gw_cancel(bigint), gw_wait(bigint, interval),
  gw_modify_spec_async(text, text, text, boolean, boolean, text, name) TO gw_ops;
REVOKE SELECT ON gw_audit FROM gw_ops;
BEGIN;
SELECT gw_modify_spec_async('apigateway-cn-q7', 'api.s1.medium', server => 'ali') AS q7 \gset
SET LOCAL ROLE gw_ops;
SELECT gw_cancel(:q7) AS cancelled_by_other;
SELECT regexp_replace(try(format('SELECT gw_wait(%s, %L)', :q2, '1 second')), 'row [0-9]+', 'row N') AS try;
SELECT gw_modify_spec_async('apigateway-cn-q8', 'api.s1.medium') AS q8 \gset
SELECT gw_cancel(:q8) AS cancelled_own;
ROLLBACK;
SELECT try('SELECT gw_wait(-1)');
SELECT try($$SELECT gw_wait(1, '-1 second')$$);
-- bad input is refused before anything is queued
SELECT try($$SELECT gw_modify_spec_async('a/b', 'api.s1.small', server => 'ali')$$);
SELECT try($$SELECT gw_resize_async('hw-q9', 'GOLD', 'hw')$$);
SELECT count(*) AS left_in_flight FROM gw_inflight WHERE status IN ('queued', 'sending', 'unknown');
