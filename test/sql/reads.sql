-- The record and reports a manager can trust: the instance read before a
-- change (from_spec, 'unchanged', an instance not ready), one resize per
-- instance until the cloud has applied it, gw_cancel ending a tracking,
-- truthful states, plain http refused for polls too, and the report
-- queries of the README against the views.
\! "$GW_MOCKCTL" reset
\! "$GW_MOCKCTL" config '{"default_resize_delay_ms": 600}'
\getenv mock_http GW_MOCK_HTTP
\getenv mock_https GW_MOCK_HTTPS
SELECT 'https://127.0.0.1:' || :'mock_https' AS mock_https_url,
       'http://127.0.0.1:' || :'mock_http' AS mock_http_url \gset
CREATE SERVER ali_read FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'mock_https_url', poll_interval_ms '150');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_read
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
CREATE SERVER hw_read FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'mock_https_url', poll_interval_ms '150');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_read OPTIONS (auth_token 'hw-static-token-0001');
CREATE SERVER bad_read FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'mock_https_url', read_before_resize 'maybe');

CREATE FUNCTION rtry(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN regexp_replace(SQLSTATE || ': ' || SQLERRM, 'row [0-9]+', 'row N');
END $$;
CREATE FUNCTION wait_final(inst text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
  FOR i IN 1..200 LOOP
    SELECT status INTO s FROM gw_audit WHERE instance_id = inst
     ORDER BY id DESC LIMIT 1;
    IF s NOT IN ('queued', 'sending', 'unknown')
       AND NOT (s = 'accepted' AND (SELECT finished_at IS NULL FROM gw_audit WHERE instance_id = inst ORDER BY id DESC LIMIT 1)) THEN
      RETURN s;
    END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN 'still ' || s;
END $$;
\set cols 'instance_id, status, from_spec, target_spec, attempts, instance_state, error_code, answered_at IS NULL AS unanswered, finished_at IS NOT NULL AS finished'

-- the read before the change records where the instance came from
SELECT :cols FROM gw_modify_spec('rd-a1', 'api.s1.medium', server => 'ali_read');
SELECT :cols FROM gw_resize('rd-h1', 'PROFESSIONAL', server => 'hw_read');
\! "$GW_MOCKCTL" count instance_id=rd-a1 action=DescribeInstances | awk '{ print ($1 >= 1 ? "read before the change" : "not read") }'
\! "$GW_MOCKCTL" count instance_id=rd-h1 action=show | awk '{ print ($1 >= 1 ? "read before the change" : "not read") }'

-- already at the target: 'unchanged', nothing sent, no error (a cron job
-- that "ensures" a spec stays green)
\! "$GW_MOCKCTL" instance '{"provider": "aliyun", "instance_id": "rd-a2", "spec": "api.s1.large"}'
\! "$GW_MOCKCTL" instance '{"provider": "huawei", "instance_id": "rd-h2", "spec": "ENTERPRISE"}'
SELECT :cols FROM gw_modify_spec('rd-a2', 'api.s1.large', 'DOWNGRADE', server => 'ali_read');
SELECT :cols FROM gw_resize('rd-h2', 'ENTERPRISE', server => 'hw_read');
SELECT gw_modify_spec_async('rd-a3', 'api.s1.small', server => 'ali_read') AS a3 \gset
SELECT status, from_spec FROM gw_wait(:a3);
\! "$GW_MOCKCTL" count instance_id=rd-a2 action=ModifyInstanceSpec
\! "$GW_MOCKCTL" count instance_id=rd-h2 action=resize

-- not in a state that accepts a change: 55006, nothing sent
\! "$GW_MOCKCTL" instance '{"provider": "aliyun", "instance_id": "rd-a4", "spec": "api.s1.small", "status": "MODIFYING"}'
\! "$GW_MOCKCTL" instance '{"provider": "huawei", "instance_id": "rd-h4", "spec": "BASIC", "status": "Resizing"}'
SELECT rtry($$SELECT gw_modify_spec('rd-a4', 'api.s1.medium', server => 'ali_read')$$);
SELECT rtry($$SELECT gw_resize('rd-h4', 'PROFESSIONAL', server => 'hw_read')$$);
SELECT :cols, error_message FROM gw_audit WHERE instance_id IN ('rd-a4', 'rd-h4') ORDER BY id;
\! "$GW_MOCKCTL" count instance_id=rd-a4 action=ModifyInstanceSpec
\! "$GW_MOCKCTL" count instance_id=rd-h4 action=resize
SELECT rtry($$CREATE SERVER bad_read FOREIGN DATA WRAPPER gwresize OPTIONS (provider 'aliyun', region 'cn-hangzhou', read_before_resize 'maybe')$$);

-- one resize per instance until the cloud has applied it: a second call,
-- sync or async, is refused while the first is being tracked; nothing sent
\! "$GW_MOCKCTL" instance '{"provider": "aliyun", "instance_id": "rd-a5", "spec": "api.s1.small", "resize_delay_ms": 600000}'
\! "$GW_MOCKCTL" instance '{"provider": "huawei", "instance_id": "rd-h5", "spec": "BASIC", "resize_delay_ms": 600000}'
SELECT id AS a5 FROM gw_modify_spec('rd-a5', 'api.s1.medium', server => 'ali_read') \gset
SELECT id AS h5 FROM gw_resize('rd-h5', 'PROFESSIONAL', server => 'hw_read') \gset
SELECT rtry($$SELECT gw_modify_spec('rd-a5', 'api.s1.large', server => 'ali_read')$$);
SELECT rtry($$SELECT gw_modify_spec_async('rd-a5', 'api.s1.large', server => 'ali_read')$$);
SELECT rtry($$SELECT gw_resize('rd-h5', 'ENTERPRISE', server => 'hw_read')$$);
SELECT rtry($$SELECT gw_resize_async('rd-h5', 'ENTERPRISE', server => 'hw_read')$$);
\! "$GW_MOCKCTL" count instance_id=rd-a5 action=ModifyInstanceSpec
-- its owner ends the tracking: the row says so, and the instance is free of
-- it (the read then finds the instance still changing in the cloud)
SELECT gw_cancel(:a5) AS tracking_ended;
SELECT status, error_code, error_message LIKE 'tracking ended by gw_cancel()%' AS says_so,
       finished_at IS NOT NULL AS finished FROM gw_audit WHERE id = :a5;
SELECT rtry($$SELECT gw_modify_spec('rd-a5', 'api.s1.large', server => 'ali_read')$$) AS after_cancel;
-- the tracking deadline frees the instance too
ALTER SERVER hw_read OPTIONS (ADD tracking_timeout_ms '1000');
SELECT wait_final('rd-h5') AS h5;
SELECT error_code FROM gw_audit WHERE id = :h5;
SELECT rtry($$SELECT gw_resize('rd-h5', 'ENTERPRISE', server => 'hw_read')$$) AS after_deadline;
ALTER SERVER hw_read OPTIONS (DROP tracking_timeout_ms);

-- truthful states: a call waiting for its turn (rate limit) is 'queued'
CREATE SERVER ali_slow FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'mock_https_url',
           requests_per_second '2', read_before_resize 'false', poll_interval_ms '3600000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_slow
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
SELECT max(gw_modify_spec_async('rd-q' || i, 'api.s1.medium', server => 'ali_slow')) AS q6
  FROM generate_series(1, 6) i \gset
SELECT pg_sleep(0.6);
SELECT count(*) FILTER (WHERE status = 'queued') >= 3 AS some_still_queued,
       count(*) FILTER (WHERE status = 'queued' AND sent_at IS NULL AND attempts = 0)
         = count(*) FILTER (WHERE status = 'queued') AS queued_never_sent
  FROM gw_audit WHERE instance_id LIKE 'rd-q%';
SELECT status FROM gw_wait(:q6, '10 seconds');

-- with gwresize.allow_http off, nothing goes over plain http: polls included
CREATE SERVER ali_plain FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'mock_http_url',
           poll_interval_ms '300', read_before_resize 'false');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_plain
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
\! "$GW_MOCKCTL" instance '{"provider": "aliyun", "instance_id": "rd-p1", "spec": "api.s1.small", "resize_delay_ms": 600000}'
SELECT status FROM gw_modify_spec('rd-p1', 'api.s1.medium', server => 'ali_plain');
ALTER SYSTEM SET gwresize.allow_http = off;
SELECT pg_reload_conf();
SELECT wait_final('rd-p1') AS p1;
SELECT status, error_code, error_message FROM gw_audit WHERE instance_id = 'rd-p1';
ALTER SYSTEM RESET gwresize.allow_http;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);

-- the reports: failure classes and the summary
SELECT instance_id, outcome, failure_class, modify_action, from_spec, to_spec
  FROM gw_history WHERE instance_id LIKE 'rd-%' AND instance_id NOT LIKE 'rd-q%' ORDER BY id;
SELECT server_name, calls, in_progress, succeeded, unchanged, accepted_untracked, rejected,
       resize_failed, tracking_failed, busy, credentials_failed, throttled, transport_failed,
       setup_failed, cancelled, success_rate
  FROM gw_summary WHERE server_name IN ('ali_read', 'hw_read') ORDER BY 1;

-- the README's report queries, as a manager would run them
-- 1. this month's resizes and success rate, per provider
SELECT provider, count(*) AS resizes,
       count(*) FILTER (WHERE outcome = 'succeeded') AS succeeded,
       round(count(*) FILTER (WHERE outcome = 'succeeded')::numeric
             / nullif(count(*) FILTER (WHERE outcome = 'succeeded' OR failure_class IN ('provider', 'resize')), 0), 2)
         AS success_rate
  FROM gw_history
 WHERE requested_at >= date_trunc('month', now()) AND instance_id LIKE 'rd-%'
 GROUP BY provider ORDER BY provider;
-- 2. how long resizes take to finish, per provider
SELECT provider, count(*) AS finished,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY time_to_finished) > interval '0' AS has_median,
       max(time_to_finished) >= min(time_to_finished) AS ordered
  FROM gw_history
 WHERE outcome = 'succeeded' AND instance_id LIKE 'rd-%'
 GROUP BY provider ORDER BY provider;
-- 3. who resized what last week
SELECT requested_by = current_user AS me, instance_id, from_spec, to_spec, modify_action, outcome
  FROM gw_history
 WHERE requested_at >= now() - interval '7 days' AND outcome IN ('succeeded', 'unchanged')
   AND instance_id LIKE 'rd-%'
 ORDER BY id;

-- every column of the table and the views has a comment
SELECT c.relname, count(*) AS columns,
       count(*) FILTER (WHERE col_description(c.oid, a.attnum) IS NULL) AS uncommented
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relname IN ('gw_audit', 'gw_history', 'gw_summary', 'gw_inflight', 'gw_installation')
 GROUP BY 1 ORDER BY 1;
\! "$GW_MOCKCTL" config '{"default_resize_delay_ms": 2000}'
