-- Privileges, as an ordinary role.
CREATE ROLE gw_ops LOGIN;
CREATE ROLE gw_other LOGIN;
CREATE USER MAPPING FOR gw_other SERVER ali
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'otherSecret');
SET ROLE gw_ops;
-- EXECUTE is revoked from PUBLIC
SELECT try($$SELECT gw_modify_spec('apigateway-cn-p1', 'api.s1.medium', server => 'ali')$$);
RESET ROLE;
GRANT EXECUTE ON FUNCTION gw_modify_spec(text, text, text, boolean, boolean, text, name, boolean),
                          gw_resize(text, text, name, boolean) TO gw_ops;
SET ROLE gw_ops;
-- no USAGE on the server
SELECT try($$SELECT gw_modify_spec('apigateway-cn-p1', 'api.s1.medium', server => 'ali')$$);
-- without a server name: none usable
SELECT try($$SELECT gw_modify_spec('apigateway-cn-p1', 'api.s1.medium')$$);
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER ali TO gw_ops;
SET ROLE gw_ops;
-- USAGE but no user mapping
SELECT try($$SELECT gw_modify_spec('apigateway-cn-p1', 'api.s1.medium')$$);
RESET ROLE;
CREATE USER MAPPING FOR gw_ops SERVER ali
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
SET ROLE gw_ops;
-- the one aliyun server gw_ops may use is picked; requested_by is the caller
SELECT server_name, status, requested_by FROM gw_modify_spec('apigateway-cn-p1', 'api.s1.medium');
-- other roles' secrets stay hidden; our own are shown to us
SELECT usename, srvname, umoptions FROM pg_user_mappings
 WHERE srvname = 'ali' ORDER BY usename;
-- the audit is the extension's: no writes, and no reads until granted
SELECT try($$INSERT INTO gw_audit (provider, server_name, instance_id, target_spec, params, mode, status, requested_by)
             VALUES ('aliyun', 'ali', 'x', 'api.s1.small', '{}', 'sync', 'accepted', 'gw_ops')$$);
SELECT try($$UPDATE gw_audit SET status = 'succeeded'$$);
SELECT try($$DELETE FROM gw_audit$$);
SELECT try($$SELECT count(*) FROM gw_audit$$);
-- servers and settings are not ours to change
SELECT try($$ALTER SERVER ali OPTIONS (SET endpoint 'https://evil.example.com')$$);
SELECT try($$SET gwresize.allow_http = on$$);
SELECT try($$SET gwresize.ca_file = '/tmp/ca.pem'$$);
SELECT try($$CREATE SERVER mine FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou')$$);
RESET ROLE;
GRANT SELECT ON gw_audit TO gw_ops;
SET ROLE gw_ops;
SELECT instance_id, status, requested_by FROM gw_audit WHERE requested_by = 'gw_ops';
SELECT try($$UPDATE gw_audit SET status = 'succeeded'$$);
RESET ROLE;
-- Credential sources bound to the machine, and role assumptions, are a
-- superuser's to grant: a role with USAGE and a mapping of its own may not
-- turn its mapping into one (42501), whatever the order of its options.
SET ROLE gw_ops;
SELECT try($$ALTER USER MAPPING FOR CURRENT_USER SERVER ali OPTIONS (DROP access_key_id, DROP access_key_secret, ADD ram_role_name 'gwresize-ecs-role')$$);
SELECT try($$ALTER USER MAPPING FOR CURRENT_USER SERVER ali OPTIONS (ADD role_arn 'acs:ram::1234567890123456:role/gwresize-resizer')$$);
SELECT try($$ALTER USER MAPPING FOR CURRENT_USER SERVER ali OPTIONS (ADD external_id 'ab', ADD role_arn 'acs:ram::1:role/x')$$);
SELECT try($$DROP USER MAPPING FOR CURRENT_USER SERVER ali$$);
SELECT try($$CREATE USER MAPPING FOR CURRENT_USER SERVER ali OPTIONS (ram_role_name 'gwresize-ecs-role')$$);
RESET ROLE;
GRANT USAGE ON FOREIGN SERVER hw TO gw_ops;
SET ROLE gw_ops;
SELECT try($$CREATE USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (ecs_agency 'true')$$);
SELECT try($$CREATE USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (auth_token 't', agency_domain_name 'other', agency_name 'resizer')$$);
-- a key or a token of its own stays the role's to set
SELECT try($$CREATE USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (auth_token 'hw-static-token-0001')$$);
SELECT try($$CREATE USER MAPPING FOR CURRENT_USER SERVER ali OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret')$$);
RESET ROLE;
-- a superuser may grant them
CREATE ROLE gw_role LOGIN;
GRANT USAGE ON FOREIGN SERVER ali, hw TO gw_role;
CREATE USER MAPPING FOR gw_role SERVER ali OPTIONS (ram_role_name 'gwresize-ecs-role', role_arn 'acs:ram::1:role/x', external_id 'ab');
CREATE USER MAPPING FOR gw_role SERVER hw OPTIONS (ecs_agency 'true', agency_domain_name 'other', agency_name 'resizer');
-- and the role it was granted to cannot change it, even to drop the role
SET ROLE gw_role;
SELECT try($$ALTER USER MAPPING FOR CURRENT_USER SERVER ali OPTIONS (SET external_id 'other-id')$$);
SELECT try($$ALTER USER MAPPING FOR CURRENT_USER SERVER hw OPTIONS (DROP agency_name, DROP agency_domain_name)$$);
RESET ROLE;
-- Endpoints are a superuser's too: a role that may create servers (USAGE
-- on the wrapper) and owns one can set neither endpoint, sts_endpoint nor
-- iam_endpoint, where the requests it signs would go.
GRANT USAGE ON FOREIGN DATA WRAPPER gwresize TO gw_ops;
SET ROLE gw_ops;
SELECT try($$CREATE SERVER mine FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou')$$);
SELECT try($$CREATE SERVER mine2 FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint 'https://evil.example.com')$$);
SELECT try($$ALTER SERVER mine OPTIONS (ADD endpoint 'https://evil.example.com')$$);
SELECT try($$ALTER SERVER mine OPTIONS (ADD sts_endpoint 'https://evil.example.com')$$);
SELECT try($$CREATE SERVER mine3 FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'p1', iam_endpoint 'https://evil.example.com')$$);
SELECT try($$ALTER SERVER mine OPTIONS (ADD timeout_ms '5000')$$);
RESET ROLE;
-- a superuser may; then the server's owner may drop that endpoint (back
-- to the provider's), not change the server around it
ALTER SERVER mine OPTIONS (ADD sts_endpoint 'https://sts.example.com');
SET ROLE gw_ops;
SELECT try($$ALTER SERVER mine OPTIONS (SET timeout_ms '6000')$$);
SELECT try($$ALTER SERVER mine OPTIONS (DROP sts_endpoint)$$);
RESET ROLE;
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname = 'mine';
DROP SERVER mine;
REVOKE USAGE ON FOREIGN DATA WRAPPER gwresize FROM gw_ops;
DROP USER MAPPING FOR gw_role SERVER ali;
DROP USER MAPPING FOR gw_role SERVER hw;
DROP USER MAPPING FOR gw_ops SERVER hw;
REVOKE USAGE ON FOREIGN SERVER ali, hw FROM gw_role;
REVOKE USAGE ON FOREIGN SERVER hw FROM gw_ops;
DROP ROLE gw_role;
