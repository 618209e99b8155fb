-- Tracking accepted resizes to their end, and the reports.
\! "$GW_MOCKCTL" reset
\! "$GW_MOCKCTL" config '{"default_resize_delay_ms": 600}'
\getenv mock_https GW_MOCK_HTTPS
SELECT 'https://127.0.0.1:' || :'mock_https' AS mock_https_url \gset
CREATE SERVER ali_track FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'mock_https_url',
           poll_interval_ms '150', tracking_timeout_ms '4000');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_track
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
CREATE SERVER hw_track FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'mock_https_url', poll_interval_ms '150', tracking_timeout_ms '4000');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_track OPTIONS (auth_token 'hw-static-token-0001');

-- wait until a row is finished (succeeded, resize_failed or failed)
CREATE FUNCTION wait_finished(rid bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
  FOR i IN 1..200 LOOP
    SELECT status INTO s FROM gw_audit WHERE id = rid AND finished_at IS NOT NULL;
    IF FOUND THEN RETURN s; END IF;
    PERFORM pg_sleep(0.05);
  END LOOP;
  RETURN 'still ' || (SELECT status FROM gw_audit WHERE id = rid);
END $$;

\! "$GW_MOCKCTL" instance '{"provider": "aliyun", "instance_id": "trk-a2", "spec": "api.s1.small", "resize_outcome": "fail", "resize_delay_ms": 2000}'
\! "$GW_MOCKCTL" instance '{"provider": "huawei", "instance_id": "trk-h2", "spec": "BASIC", "resize_outcome": "fail"}'
\! "$GW_MOCKCTL" instance '{"provider": "aliyun", "instance_id": "trk-a3", "spec": "api.s1.small", "resize_delay_ms": 600000}'
SELECT id AS a1 FROM gw_modify_spec('trk-a1', 'api.s2.large', server => 'ali_track') \gset
SELECT id AS a2 FROM gw_modify_spec('trk-a2', 'api.s2.large', server => 'ali_track') \gset
SELECT id AS a3 FROM gw_modify_spec('trk-a3', 'api.s2.large', server => 'ali_track') \gset
SELECT id AS h1 FROM gw_resize('trk-h1', 'ENTERPRISE', server => 'hw_track') \gset
SELECT id AS h2 FROM gw_resize('trk-h2', 'ENTERPRISE', server => 'hw_track') \gset
-- while they run, the in-flight view shows them
SELECT instance_id, status FROM gw_inflight WHERE instance_id LIKE 'trk-%' ORDER BY instance_id;
SELECT wait_finished(:a1) AS a1, wait_finished(:a2) AS a2, wait_finished(:h1) AS h1,
       wait_finished(:h2) AS h2, wait_finished(:a3) AS a3;
SELECT instance_id, status, error_code, error_message, instance_state,
       finished_at > answered_at AS finished_after_accepted,
       last_polled_at IS NOT NULL AS polled
  FROM gw_audit WHERE instance_id LIKE 'trk-%' ORDER BY instance_id;
\! "$GW_MOCKCTL" count instance_id=trk-a1 action=DescribeInstances | awk '{ print ($1 >= 1 ? "polled until done" : "not polled") }'
SELECT count(*) AS left_in_flight FROM gw_inflight WHERE instance_id LIKE 'trk-%';

-- a second resize of trk-a1: the history knows where it came from
SELECT id AS a4 FROM gw_modify_spec('trk-a1', 'api.s3.xlarge', 'UPGRADE', server => 'ali_track') \gset
SELECT wait_finished(:a4) AS a4;
SELECT instance_id, provider, from_spec, to_spec, outcome, requested_by = current_user AS by_me,
       time_to_accepted < time_to_finished AS accepted_first, error_code
  FROM gw_history WHERE instance_id LIKE 'trk-%' ORDER BY id;

-- the summary's numbers, checked against the rows
SELECT server_name, provider, calls, in_progress, succeeded, rejected, resize_failed, tracking_failed, success_rate,
       p50_to_accepted <= p95_to_accepted AS acc_ordered,
       p50_to_finished <= p95_to_finished AS fin_ordered,
       p95_to_finished > p95_to_accepted AS fin_after_acc
  FROM gw_summary WHERE server_name IN ('ali_track', 'hw_track') ORDER BY 1;
SELECT s.p50_to_finished = (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY finished_at - requested_at)
                              FROM gw_audit WHERE server_name = 'ali_track'
                               AND status IN ('succeeded', 'resize_failed')) AS p50_matches
  FROM gw_summary s WHERE server_name = 'ali_track';
\! "$GW_MOCKCTL" config '{"default_resize_delay_ms": 2000}'
