-- gw_resize against the mock: the three ways to authenticate, IAM token
-- caching and refresh, and Huawei's error shapes.
\! "$GW_MOCKCTL" reset
\getenv mock_http GW_MOCK_HTTP
\getenv mock_https GW_MOCK_HTTPS
SELECT 'http://127.0.0.1:' || :'mock_http' AS mock_http_url,
       'https://127.0.0.1:' || :'mock_https' AS mock_https_url \gset
\set cols 'provider, server_name, instance_id, target_spec, client_token, mode, status, attempts, http_status, request_id ~ ''^[0-9a-f]{32}$'' AS request_id_ok, job_id ~ ''^JOB-[0-9a-f]{32}$'' AS job_id_ok, response->>''instance_id'' AS resp_instance, error_code'

-- AK/SK signing (server hw, from inputs.sql) over HTTP
SELECT :cols, params FROM gw_resize('hw-a1', 'PROFESSIONAL', server => 'hw');
SELECT jsonb_object_keys(request->'headers') AS header FROM gw_audit WHERE instance_id = 'hw-a1' ORDER BY 1;
SELECT request->'headers'->>'Authorization' AS authorization, request->>'body' AS body,
       regexp_replace(request->>'url', '127\.0\.0\.1:[0-9]+', 'MOCK') AS url
  FROM gw_audit WHERE instance_id = 'hw-a1';

-- temporary AK/SK with a security token, over HTTPS
CREATE SERVER hw_tls FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'mock_https_url', iam_endpoint :'mock_https_url', max_retries '2', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_tls
  OPTIONS (access_key 'HWTEMPAK0001', secret_key 'hwTempSecretKey0001',
           security_token 'hwTempSecurityToken0001');
SELECT :cols FROM gw_resize('hw-a2', 'ENTERPRISE_IPV6', server => 'hw_tls');
SELECT request->'headers'->>'X-Security-Token' AS sts FROM gw_audit WHERE instance_id = 'hw-a2';

-- a ready IAM token
CREATE SERVER hw_token FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'mock_https_url', max_retries '2', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_token OPTIONS (auth_token 'hw-static-token-0001');
SELECT :cols FROM gw_resize('hw-a3', 'PLATINUM', server => 'hw_token');
SELECT (request->'headers') - 'Host'::text AS headers FROM gw_audit WHERE instance_id = 'hw-a3';
-- dry run masks the token too
SELECT status, request->'headers'->>'X-Auth-Token' AS token
  FROM gw_resize('hw-a4', 'PLATINUM', server => 'hw_token', dry_run => true);

-- password: the worker fetches a project-scoped token once and reuses it
CREATE SERVER hw_iam FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'mock_https_url', iam_endpoint :'mock_https_url', max_retries '2', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_iam
  OPTIONS (user_name 'testuser', password 'testPassword!1', domain_name 'testdomain');
SELECT :cols FROM gw_resize('hw-b1', 'PROFESSIONAL', server => 'hw_iam');
SELECT :cols FROM gw_resize('hw-b2', 'PROFESSIONAL', server => 'hw_iam');
SELECT :cols FROM gw_resize('hw-b3', 'PROFESSIONAL', server => 'hw_iam');
\! "$GW_MOCKCTL" count provider=iam
-- a revoked token ("must be updated") is refreshed once, and the call goes through
\! "$GW_MOCKCTL" revoke
SELECT :cols FROM gw_resize('hw-b4', 'PROFESSIONAL', server => 'hw_iam');
\! "$GW_MOCKCTL" count provider=iam
\! "$GW_MOCKCTL" count instance_id=hw-b4
-- a token that is refused even when fresh is not refreshed again
\! "$GW_MOCKCTL" fault '{"provider": "huawei", "kind": "expire_token", "count": 2}'
SELECT try_detail($$SELECT gw_resize('hw-b5', 'PROFESSIONAL', server => 'hw_iam')$$);
\! "$GW_MOCKCTL" count provider=iam
\! "$GW_MOCKCTL" count instance_id=hw-b5
-- a wrong password fails at once, without a retry storm
CREATE USER MAPPING FOR gw_ops SERVER hw_iam
  OPTIONS (user_name 'testuser', password 'notThePassword9', domain_name 'testdomain');
GRANT USAGE ON FOREIGN SERVER hw_iam TO gw_ops;
SET ROLE gw_ops;
SELECT try_detail($$SELECT gw_resize('hw-b6', 'PROFESSIONAL', server => 'hw_iam')$$);
RESET ROLE;
SELECT instance_id, status, attempts, http_status, error_code, error_message FROM gw_audit WHERE instance_id = 'hw-b6';
\! "$GW_MOCKCTL" count provider=iam
\! "$GW_MOCKCTL" count instance_id=hw-b6

-- a ready token and a password over plain HTTP too
CREATE SERVER hw_http_tok FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'mock_http_url', poll_interval_ms '3600000', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_http_tok OPTIONS (auth_token 'hw-static-token-0001');
CREATE SERVER hw_http_iam FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'mock_http_url', iam_endpoint :'mock_http_url', poll_interval_ms '3600000', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_http_iam
  OPTIONS (user_name 'testuser', password 'testPassword!1', domain_name 'testdomain');
SELECT :cols FROM gw_resize('hw-d1', 'PROFESSIONAL', server => 'hw_http_tok');
SELECT :cols FROM gw_resize('hw-d2', 'PROFESSIONAL', server => 'hw_http_iam');
-- the record does not depend on the caller's transaction
BEGIN;
SELECT status FROM gw_resize('hw-d3', 'PROFESSIONAL', server => 'hw');
ROLLBACK;
SELECT (gw_resize('hw-d4', 'PROFESSIONAL', server => 'hw')).attempts / 0;
SELECT instance_id, status FROM gw_audit WHERE instance_id IN ('hw-d3', 'hw-d4') ORDER BY id;

-- Huawei's errors
SELECT try_detail($$SELECT gw_resize('nf-c1', 'PROFESSIONAL', server => 'hw')$$);
SELECT try_detail($$SELECT gw_resize('denied-c2', 'PROFESSIONAL', server => 'hw')$$);
\! "$GW_MOCKCTL" instance '{"provider": "huawei", "instance_id": "hw-busy", "spec": "BASIC", "status": "Resizing"}'
SELECT try_detail($$SELECT gw_resize('hw-busy', 'PROFESSIONAL', server => 'hw')$$);
SELECT try_detail($$SELECT gw_resize('hw-c3', 'BASIC', server => 'hw')$$);
\! "$GW_MOCKCTL" instance '{"provider": "huawei", "instance_id": "hw-c8", "spec": "ENTERPRISE"}'
SELECT try_detail($$SELECT gw_resize('hw-c8', 'PROFESSIONAL', server => 'hw')$$);
CREATE USER MAPPING FOR gw_ops SERVER hw_token OPTIONS (auth_token 'not-a-token');
GRANT USAGE ON FOREIGN SERVER hw_token TO gw_ops;
SET ROLE gw_ops;
SELECT try_detail($$SELECT gw_resize('hw-c4', 'PROFESSIONAL', server => 'hw_token')$$);
RESET ROLE;
CREATE USER MAPPING FOR gw_other SERVER hw OPTIONS (access_key 'HWTESTAK0001', secret_key 'bad');
GRANT USAGE ON FOREIGN SERVER hw TO gw_other;
GRANT EXECUTE ON FUNCTION gw_resize(text, text, name, boolean) TO gw_other;
SET ROLE gw_other;
SELECT try_detail($$SELECT gw_resize('hw-c5', 'PROFESSIONAL', server => 'hw')$$);
RESET ROLE;
-- 429 and 5xx are retried; 401s never are
\! "$GW_MOCKCTL" fault '{"provider": "huawei", "action": "resize", "kind": "throttle", "count": 1}'
\! "$GW_MOCKCTL" fault '{"provider": "huawei", "action": "resize", "kind": "status", "status": 500, "code": "APIC.9000", "message": "Failed to request internal service", "count": 1}'
SELECT :cols FROM gw_resize('hw-c6', 'PROFESSIONAL', server => 'hw');
\! "$GW_MOCKCTL" fault '{"provider": "huawei", "action": "resize", "kind": "status", "status": 503, "code": "APIG.9999", "message": "busy", "count": 3}'
SELECT try_detail($$SELECT gw_resize('hw-c7', 'PROFESSIONAL', server => 'hw')$$);
SELECT instance_id, status, attempts, http_status, error_code
  FROM gw_audit WHERE provider = 'huawei' AND instance_id ~ '-c[0-9]' ORDER BY id;
SELECT error_message FROM gw_audit WHERE instance_id = 'nf-c1';
