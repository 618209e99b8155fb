-- The foreign-data wrapper's validator: every option checked at CREATE/ALTER.
CREATE EXTENSION gwresize;

-- a helper for the tests that follow: run a statement, show its SQLSTATE
CREATE FUNCTION try(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- the wrapper itself takes no options
ALTER FOREIGN DATA WRAPPER gwresize OPTIONS (foo 'bar');

-- servers: required options, known names, good values
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (region 'cn-hangzhou');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'gcp', region 'x');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'CN Hangzhou');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', bogus '1');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', access_key_secret 'x');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', signature 'md5');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', timeout_ms '0');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', timeout_ms '1.5');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', max_retries 'many');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', max_retries '21');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', requests_per_second '-1');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint 'ftp://example.com');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint 'https://user@example.com');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint 'https://example.com/?a=b');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint '');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', project_id 'p1');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id '../p');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', signature 'hmac-sha1');

-- plain http only with gwresize.allow_http (a superuser setting)
SET gwresize.allow_http = off;
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint 'http://127.0.0.1:9');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', sts_endpoint 'http://127.0.0.1:9');
RESET gwresize.allow_http;
-- and when a call is made: sts_endpoint like the others
CREATE SERVER ali_http_sts FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', sts_endpoint 'http://127.0.0.1:9');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_http_sts OPTIONS (access_key_id 'a', access_key_secret 'b', role_arn 'acs:ram::1:role/x');
SET gwresize.allow_http = off;
SELECT status FROM gw_modify_spec('i-1', 'api.s1.medium', server => 'ali_http_sts', dry_run => true);
RESET gwresize.allow_http;
DROP SERVER ali_http_sts CASCADE;

-- good servers; ALTER is validated too
CREATE SERVER ali_default FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou');
CREATE SERVER hw_default FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'eu-west-101', project_id 'p0123456789');
ALTER SERVER ali_default OPTIONS (ADD timeout_ms '-5');
ALTER SERVER ali_default OPTIONS (ADD timeout_ms '2000', ADD max_retries '0', ADD requests_per_second '2.5');

-- user mappings: exactly one set of credentials
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (access_key_id 'a');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (access_key_id 'a', access_key_secret 'b', auth_token 'c');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (region 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (access_key_id 'a', access_key_secret E'b\nc');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (user_name 'u', password 'p');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (auth_token 't', security_token 's');
-- credential sources: exactly one base, and what may assume a role on top
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r', access_key_id 'a', access_key_secret 'b');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r', ecs_agency 'true');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r', security_token 't');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (role_arn 'acs:ram::1:role/x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r', role_session_name 'sess');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r', external_id 'ext-1');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r', duration_seconds '900');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r', role_arn 'acs:ram::1:role/x', duration_seconds '899');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r', role_arn 'acs:ram::1:role/x', duration_seconds '3600.5');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r/../x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r', role_arn 'arn:aws:iam::1:role/x');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r', role_arn 'acs:ram::1:role/x', role_session_name 'a b');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'r', role_arn 'acs:ram::1:role/x', agency_name 'a', agency_domain_name 'd');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (auth_token 't', role_arn 'acs:ram::1:role/x');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (ecs_agency 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (ecs_agency 'true', agency_name 'a');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (access_key_id 'a', access_key_secret 'b', agency_name 'a', agency_domain_name 'd');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (user_name 'u', password 'p', domain_name 'd', agency_name 'a', agency_domain_name 'd', duration_seconds '86401');
-- each good combination
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ram_role_name 'gwresize-ecs-role');
ALTER USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ADD role_arn 'acs:ram::1234567890123456:role/resizer', ADD role_session_name 'gw@db1', ADD external_id 'ext-0001', ADD duration_seconds '3600');
DROP USER MAPPING FOR CURRENT_USER SERVER ali_default;
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (access_key_id 'a', access_key_secret 'b', role_arn 'acs:ram::1234567890123456:role/resizer');
DROP USER MAPPING FOR CURRENT_USER SERVER ali_default;
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (ecs_agency 'true', agency_domain_name 'other', agency_name 'resizer', duration_seconds '86400');
DROP USER MAPPING FOR CURRENT_USER SERVER hw_default;
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (access_key 'a', secret_key 'b', agency_domain_name 'other', agency_name 'resizer');
DROP USER MAPPING FOR CURRENT_USER SERVER hw_default;
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (auth_token 't', agency_domain_name 'other', agency_name 'resizer');
DROP USER MAPPING FOR CURRENT_USER SERVER hw_default;
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (user_name 'u', password 'p', domain_name 'd', agency_domain_name 'other', agency_name 'resizer');
DROP USER MAPPING FOR CURRENT_USER SERVER hw_default;
-- a source for the other provider is caught at call time
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (ram_role_name 'r');
SELECT try($$SELECT gw_resize('i1', 'PROFESSIONAL', server => 'hw_default', dry_run => true)$$);
DROP USER MAPPING FOR CURRENT_USER SERVER hw_default;
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (ecs_agency 'true');
SELECT try($$SELECT gw_modify_spec('i1', 'api.s1.small', server => 'ali_default', dry_run => true)$$);
DROP USER MAPPING FOR CURRENT_USER SERVER ali_default;
-- sts_endpoint is an aliyun server option, checked like every endpoint
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', sts_endpoint 'https://sts.example');
CREATE SERVER s FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', sts_endpoint 'ftp://sts.example');
-- the metadata services' URLs are superuser settings
SET gwresize.aliyun_metadata_url = 'ftp://x';
SET gwresize.huawei_metadata_url = 'http://a b';
SHOW gwresize.aliyun_metadata_url;
SHOW gwresize.huawei_metadata_url;
CREATE ROLE gw_md_user;
SET ROLE gw_md_user;
SET gwresize.aliyun_metadata_url = 'http://127.0.0.1:9';
RESET ROLE;
DROP ROLE gw_md_user;
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_default OPTIONS (access_key_id 'LTAIdefault', access_key_secret 'defaultSecret');
-- a mapping for the wrong provider is caught at call time
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_default OPTIONS (access_key_id 'a', access_key_secret 'b');
SELECT try($$SELECT gw_resize('i1', 'PROFESSIONAL', server => 'hw_default', dry_run => true)$$);
ALTER USER MAPPING FOR CURRENT_USER SERVER hw_default
  OPTIONS (DROP access_key_id, DROP access_key_secret, ADD auth_token 'tok-123');

-- endpoints derive from the region
SELECT split_part(request->>'url', '?', 1) AS url
  FROM gw_modify_spec('apigateway-cn-x', 'api.s1.small', server => 'ali_default', dry_run => true);
SELECT request->>'url' AS url
  FROM gw_resize('inst1', 'PROFESSIONAL', server => 'hw_default', dry_run => true);

-- the functions name the server they need
SELECT try($$SELECT gw_modify_spec('i1', 'api.s1.small', server => 'nosuch')$$);
SELECT try($$SELECT gw_modify_spec('i1', 'api.s1.small', server => 'hw_default')$$);

-- the extension's objects (from 17, the row types of its tables and views
-- are members too: they come with their relations)
SELECT pg_describe_object(classid, objid, objsubid) AS object
  FROM pg_depend
 WHERE refobjid = (SELECT oid FROM pg_extension WHERE extname = 'gwresize')
   AND deptype = 'e' AND classid <> 'pg_type'::regclass
 ORDER BY 1;
SELECT relname, pg_catalog.obj_description(c.oid, 'pg_class') IS NOT NULL AS commented
  FROM pg_class c JOIN pg_extension e ON c.relnamespace = e.extnamespace
 WHERE e.extname = 'gwresize' AND c.relkind IN ('r', 'v') ORDER BY 1;
SELECT extconfig::regclass[] FROM pg_extension WHERE extname = 'gwresize';
