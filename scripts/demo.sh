#!/bin/bash
# make demo: a throwaway cluster with gwresize preloaded and the local mock
# cloud; one resize per provider; the audit history.  Stops everything.
set -eu
. "$(dirname "$0")/lib.sh"
gw_up gwdemo
export PGDATABASE=gwdemo
echo "cluster: $GW_WORK/data (port $PGPORT); mock cloud: https://127.0.0.1:$GW_MOCK_HTTPS"
# the mock's resizes take 3 s here (5-30 minutes in real life)
GW_MOCK_HTTP=$GW_MOCK_HTTP python3 test/mock/mockctl.py config '{"default_resize_delay_ms": 3000}'
psql -X -q -v ON_ERROR_STOP=1 -v ep="https://127.0.0.1:$GW_MOCK_HTTPS" <<'SQL'
CREATE EXTENSION gwresize;

-- one Alibaba Cloud account (region cn-hangzhou) and one Huawei Cloud project
CREATE SERVER aliyun_hz FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'ep', poll_interval_ms '500');
CREATE USER MAPPING FOR CURRENT_USER SERVER aliyun_hz
  OPTIONS (access_key_id 'testAccessKeyId', access_key_secret 'testAccessKeySecret');
CREATE SERVER huawei_bj4 FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id '9f0e1d2c3b4a49587766554433221100',
           endpoint :'ep', iam_endpoint :'ep', poll_interval_ms '500');
CREATE USER MAPPING FOR CURRENT_USER SERVER huawei_bj4
  OPTIONS (user_name 'testuser', password 'testPassword!1', domain_name 'testdomain');

\echo
\echo '== dry run: the exact request, secrets and signature masked'
SELECT jsonb_pretty(request) AS request
  FROM gw_modify_spec('apigateway-cn-demo01', 'api.s1.medium', dry_run => true);

\echo '== Alibaba Cloud ModifyInstanceSpec'
SELECT id, status, http_status, request_id, client_token
  FROM gw_modify_spec('apigateway-cn-demo01', 'api.s1.medium');

\echo '== Huawei Cloud APIG postpaid-resize (IAM token fetched by the worker)'
SELECT id, status, http_status, request_id, job_id
  FROM gw_resize('6a7d71827fd54572b1f31aa9548fcc81', 'PROFESSIONAL');

\echo
\echo '== the audit rows'
SELECT id, provider, server_name, instance_id, target_spec, status, attempts,
       http_status, coalesce(job_id, request_id) AS provider_ref, error_code,
       requested_by, to_char(requested_at, 'HH24:MI:SS.MS') AS requested,
       round(extract(epoch FROM answered_at - sent_at) * 1000, 1) AS answer_ms
  FROM gw_audit ORDER BY id;

\echo '== the worker tracks the accepted resizes to their end (polling the instances)'
SELECT instance_id, status, last_polled_at IS NOT NULL AS polled FROM gw_inflight;
DO $$
BEGIN
  FOR i IN 1..200 LOOP
    EXIT WHEN NOT EXISTS (SELECT FROM gw_inflight);
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;

\echo '== the same spec again: the instance is read first, nothing is sent'
SELECT id, status, from_spec, target_spec FROM gw_modify_spec('apigateway-cn-demo01', 'api.s1.medium');

\echo '== a rejected call still leaves its row (Huawei resizes upgrade only)'
\set ON_ERROR_STOP 0
SELECT gw_resize('6a7d71827fd54572b1f31aa9548fcc81', 'BASIC');
\set ON_ERROR_STOP 1

\echo '== the history report'
SELECT id, instance_id, provider, from_spec, to_spec, modify_action, requested_by AS who,
       to_char(requested_at, 'HH24:MI:SS') AS at,
       round(extract(epoch FROM time_to_accepted) * 1000, 1) AS to_accepted_ms,
       round(extract(epoch FROM time_to_finished)::numeric, 1) AS to_finished_s,
       outcome, failure_class, error_code
  FROM gw_history ORDER BY id;
SELECT server_name, provider, calls, succeeded, unchanged, rejected, resize_failed, success_rate,
       round(extract(epoch FROM p50_to_finished)::numeric, 1) AS p50_finished_s
  FROM gw_summary ORDER BY 1;
SQL
echo "demo finished; stopping the cluster and the mock"
