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
