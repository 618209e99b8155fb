-- Bad input never reaches the network: a clear error, nothing sent, nothing
-- written.  The mock counts what it receives.
\! "$GW_MOCKCTL" reset
\getenv mock_http GW_MOCK_HTTP
\getenv mock_https GW_MOCK_HTTPS
SELECT 'http://127.0.0.1:' || :'mock_http' AS mock_http_url,
       'https://127.0.0.1:' || :'mock_https' AS mock_https_url \gset
CREATE SERVER ali FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'mock_http_url',
           max_retries '2', poll_interval_ms '3600000', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
CREATE SERVER hw FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'mock_http_url', iam_endpoint :'mock_http_url', max_retries '2',
           poll_interval_ms '3600000', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw
  OPTIONS (access_key 'HWTESTAK0001', secret_key 'hwTestSecretKey0001');
SELECT count(*) AS rows_before FROM gw_audit \gset

-- instance ids: 1 to 64 letters, digits, '-' or '_'
SELECT left(v, 24) AS instance_id, try(format('SELECT gw_modify_spec(%L, %L, server => %L)', v, 'api.s1.small', 'ali'))
  FROM unnest(ARRAY[NULL, '', ' ', 'a b', 'a/b', '..', '../etc', E'a\r\nb', E'a\tb',
                    E'a\x01b', 'ünï', 'a;b', 'a%2Fb', repeat('a', 65)]) AS v;
SELECT left(try(format('SELECT gw_modify_spec(%L, %L, server => %L)', repeat('x', 10240), 'api.s1.small', 'ali')), 60) AS ten_kb;

-- Alibaba specs: api.<family>.<size>
SELECT left(v, 24) AS instance_spec, try(format('SELECT gw_modify_spec(%L, %L, server => %L)', 'inst-1', v, 'ali'))
  FROM unnest(ARRAY[NULL, '', 'api.s1', 'API.S1.SMALL', 'api.s1.small.x', 'api..small',
                    'api.s1.', 'api.s1.small/..', 'api.s1.small ', E'api.s1.sm\nall',
                    'xapi.s1.small', repeat('a', 10240)]) AS v;

-- actions, booleans, tokens
SELECT try($$SELECT gw_modify_spec('inst-1', 'api.s1.small', modify_action => NULL, server => 'ali')$$);
SELECT try($$SELECT gw_modify_spec('inst-1', 'api.s1.small', modify_action => 'SIDEWAYS', server => 'ali')$$);
SELECT try($$SELECT gw_modify_spec('inst-1', 'api.s1.small', modify_action => '', server => 'ali')$$);
SELECT try($$SELECT gw_modify_spec('inst-1', 'api.s1.small', auto_pay => NULL, server => 'ali')$$);
SELECT try($$SELECT gw_modify_spec('inst-1', 'api.s1.small', skip_wait_switch => NULL, server => 'ali')$$);
SELECT try($$SELECT gw_modify_spec('inst-1', 'api.s1.small', dry_run => NULL, server => 'ali')$$);
SELECT left(v, 24) AS token, try(format('SELECT gw_modify_spec(%L, %L, token => %L, server => %L)', 'inst-1', 'api.s1.small', v, 'ali'))
  FROM unnest(ARRAY['', repeat('t', 65), E'tok\n', E'tok\x7f', ' lead', 'trail ', 'tökén']) AS v;

-- Huawei: ids and editions
SELECT left(v, 24) AS spec_id, try(format('SELECT gw_resize(%L, %L, server => %L)', 'inst-1', v, 'hw'))
  FROM unnest(ARRAY[NULL, '', 'GOLD', 'professional', 'PROFESSIONAL ', 'PLATINUM_X9',
                    'BASIC/../ENTERPRISE', repeat('B', 10240)]) AS v;
SELECT left(v, 24) AS instance_id, try(format('SELECT gw_resize(%L, %L, server => %L)', v, 'PROFESSIONAL', 'hw'))
  FROM unnest(ARRAY[NULL, '', '../x', 'a/postpaid-resize', E'a\r\nX-Evil: 1', repeat('h', 65)]) AS v;
SELECT try($$SELECT gw_resize('inst-1', 'PROFESSIONAL', dry_run => NULL, server => 'hw')$$);

-- nothing was sent, nothing was written
\! "$GW_MOCKCTL" count
SELECT count(*) - :rows_before AS rows_written FROM gw_audit;
