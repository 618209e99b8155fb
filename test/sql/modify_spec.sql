-- gw_modify_spec against the mock: both signatures, STS, HTTPS, tokens,
-- provider errors, retries, rollbacks.  The mock verifies every signature
-- with its own implementation.
\! "$GW_MOCKCTL" reset
\getenv mock_https GW_MOCK_HTTPS
SELECT 'https://127.0.0.1:' || :'mock_https' AS mock_https_url \gset
CREATE SERVER ali_rpc FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'mock_https_url',
           signature 'hmac-sha1', max_retries '2', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_rpc
  OPTIONS (access_key_id 'STS.testStsKeyId', access_key_secret 'testStsKeySecret',
           security_token 'testStsSecurityToken');
\set cols 'provider, server_name, instance_id, target_spec, mode, status, attempts, http_status, request_id IS NOT NULL AS has_request_id, error_code, requested_by = current_user AS by_me, sent_at >= requested_at AND answered_at >= sent_at AS times_ok'

-- ACS3 over HTTP, with an explicit Token
SELECT :cols, client_token, params
  FROM gw_modify_spec('apigateway-cn-a1', 'api.s1.medium', token => 'regress-token-0001', server => 'ali');
\! "$GW_MOCKCTL" tokens aliyun ModifyInstanceSpec
-- the classic RPC signature with STS credentials over HTTPS; a generated Token
SELECT :cols, client_token ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$' AS uuid_token
  FROM gw_modify_spec('apigateway-cn-a2', 'api.s2.large', 'DOWNGRADE', true, true, server => 'ali_rpc');
SELECT request->>'method' AS method,
       regexp_replace(regexp_replace(request->>'url', '(Timestamp|SignatureNonce|Token)=[^&]*', '\1=...', 'g'),
                      '127\.0\.0\.1:[0-9]+', 'MOCK') AS url,
       (request->'headers') - 'Host'::text AS headers, request->'body' AS body
  FROM gw_audit WHERE instance_id = 'apigateway-cn-a2';
-- the ACS3 request as recorded: signature masked, signed headers shown
SELECT jsonb_object_keys(request->'headers') AS header FROM gw_audit WHERE instance_id = 'apigateway-cn-a1' ORDER BY 1;
SELECT request->'headers'->>'Authorization' AS authorization FROM gw_audit WHERE instance_id = 'apigateway-cn-a1';
-- the mock has the resize
\! "$GW_MOCKCTL" resizes apigateway-cn-a2

-- dry run: validates, builds and signs, sends and writes nothing
SELECT count(*) AS rows_before FROM gw_audit \gset
SELECT id, status, mode, attempts, client_token, request->>'method' AS method,
       split_part(request->>'url', '?', 2) AS query,
       request->'headers'->>'Authorization' AS authorization,
       request->'headers'->>'x-acs-security-token' AS sts
  FROM gw_modify_spec('apigateway-cn-a3', 'api.s1.small', token => 'dry-1', server => 'ali', dry_run => true);
SELECT regexp_replace(regexp_replace(request->>'url', '(Timestamp|SignatureNonce)=[^&]*', '\1=...', 'g'),
                      '127\.0\.0\.1:[0-9]+', 'MOCK') AS url
  FROM gw_modify_spec('apigateway-cn-a3', 'api.s1.small', token => 'dry-1', server => 'ali_rpc', dry_run => true);
SELECT count(*) - :rows_before AS rows_written FROM gw_audit;
\! "$GW_MOCKCTL" count aliyun ModifyInstanceSpec

-- provider errors: an ERROR (never XX000) with code, message and request id
-- in DETAIL, and a failed row
CREATE FUNCTION try_detail(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
  RETURN SQLSTATE || ': ' || SQLERRM || ' / ' ||
         coalesce(substring(d from '^(HTTP [0-9]+, code "[^"]*")'),
                  substring(d from '^(No answer: code "[^"]*")')) ||
         CASE WHEN d ~ 'request id "[0-9A-F-]{36}"' THEN ', with request id' ELSE '' END ||
         coalesce(', ' || substring(d from 'after [0-9]+ attempt\(s\)'), '');
END $$;
CREATE SERVER ali_badsecret FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'mock_https_url', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_badsecret
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'wrongSecret');
CREATE SERVER ali_nokey FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'mock_https_url', signature 'hmac-sha1', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_nokey
  OPTIONS (access_key_id 'LTAInosuchkey', access_key_secret 'whatever');
SELECT try_detail($$SELECT gw_modify_spec('apigateway-cn-e1', 'api.s1.medium', server => 'ali_badsecret')$$);
SELECT try_detail($$SELECT gw_modify_spec('apigateway-cn-e2', 'api.s1.medium', server => 'ali_nokey')$$);
SELECT try_detail($$SELECT gw_modify_spec('nf-e3', 'api.s1.medium', server => 'ali')$$);
\! "$GW_MOCKCTL" instance '{"provider": "aliyun", "instance_id": "apigateway-cn-busy", "spec": "api.s1.small", "status": "MODIFYING"}'
SELECT try_detail($$SELECT gw_modify_spec('apigateway-cn-busy', 'api.s1.medium', server => 'ali')$$);
-- throttling and 5xx are retried (max_retries 2: three attempts), then fail
\! "$GW_MOCKCTL" fault '{"provider": "aliyun", "kind": "throttle", "count": 3}'
SELECT try_detail($$SELECT gw_modify_spec('apigateway-cn-e4', 'api.s1.medium', server => 'ali')$$);
\! "$GW_MOCKCTL" fault '{"provider": "aliyun", "kind": "status", "status": 503, "code": "ServiceUnavailable", "message": "The request has failed due to a temporary failure of the server.", "count": 3}'
SELECT try_detail($$SELECT gw_modify_spec('apigateway-cn-e5', 'api.s1.medium', server => 'ali')$$);
-- a retry re-sends the same Token with a fresh nonce and signature
\! "$GW_MOCKCTL" fault '{"provider": "aliyun", "kind": "status", "status": 500, "code": "InternalError", "message": "oops", "count": 2}'
SELECT :cols FROM gw_modify_spec('apigateway-cn-e6', 'api.s1.medium', token => 'retry-token-e6', server => 'ali');
\! "$GW_MOCKCTL" count provider=aliyun token=retry-token-e6
-- a malformed answer and a dropped connection are retried
\! "$GW_MOCKCTL" fault '{"provider": "aliyun", "kind": "malformed"}'
SELECT :cols FROM gw_modify_spec('apigateway-cn-e7', 'api.s1.medium', server => 'ali');
\! "$GW_MOCKCTL" fault '{"provider": "aliyun", "kind": "drop"}'
SELECT :cols FROM gw_modify_spec('apigateway-cn-e8', 'api.s1.medium', server => 'ali');
-- an oversized answer is cut off, and the call fails
\! "$GW_MOCKCTL" fault '{"provider": "aliyun", "kind": "oversized"}'
SELECT try_detail($$SELECT gw_modify_spec('apigateway-cn-e9', 'api.s1.medium', server => 'ali')$$);
-- a hang is cut by timeout_ms
CREATE SERVER ali_fast FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'mock_https_url',
           timeout_ms '500', max_retries '0', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_fast
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
\! "$GW_MOCKCTL" fault '{"provider": "aliyun", "kind": "hang", "ms": 5000}'
SELECT try_detail($$SELECT gw_modify_spec('apigateway-cn-e10', 'api.s1.medium', server => 'ali_fast')$$);
SELECT instance_id, status, attempts, http_status, error_code,
       response IS NOT NULL AS has_response, request_id IS NOT NULL AS has_request_id
  FROM gw_audit WHERE instance_id LIKE '%-e%' ORDER BY id;
SELECT error_message FROM gw_audit WHERE instance_id = 'nf-e3';

-- the record does not depend on the caller's transaction
BEGIN;
SELECT status FROM gw_modify_spec('apigateway-cn-r1', 'api.s1.large', server => 'ali');
ROLLBACK;
SELECT (gw_modify_spec('apigateway-cn-r2', 'api.s1.large', server => 'ali')).attempts / 0;
SELECT instance_id, status, attempts FROM gw_audit WHERE instance_id LIKE 'apigateway-cn-r%' ORDER BY id;
\! "$GW_MOCKCTL" resizes apigateway-cn-r1
\! "$GW_MOCKCTL" resizes apigateway-cn-r2
-- a retry answered RepeatedCommit: the first send got through (accepted,
-- tracking tells the end); on a first attempt it is a real error
\! "$GW_MOCKCTL" fault '{"provider": "aliyun", "kind": "status", "status": 500, "code": "InternalError", "message": "oops"}'
\! "$GW_MOCKCTL" fault '{"provider": "aliyun", "kind": "status", "status": 400, "code": "RepeatedCommit", "message": "Resubmit request."}'
SELECT :cols FROM gw_modify_spec('apigateway-cn-r3', 'api.s1.large', server => 'ali');
\! "$GW_MOCKCTL" fault '{"provider": "aliyun", "kind": "status", "status": 400, "code": "RepeatedCommit", "message": "Resubmit request."}'
SELECT try_detail($$SELECT gw_modify_spec('apigateway-cn-r4', 'api.s1.large', server => 'ali')$$);
