#!/bin/bash
# make bench: the benchmarks of test/bench against a throwaway cluster and
# the mock cloud over HTTPS.  Prints numbers beside their baselines; asserts
# nothing, but fails if any call fails.
#   BENCH_N        synchronous calls per series (default 300)
#   BENCH_DRAIN_N  calls queued at once for the drain (default 5000)
#   BENCH_LAT_N    single queued calls timed from COMMIT to sent_at (default 200)
#   BENCH_HISTORY_N rows of history the report timings run on (default 1000000)
set -eu
. "$(dirname "$0")/lib.sh"
gw_up gwbench
gcc -O2 -Wall -Werror -pthread -DFRONTEND -Isrc -I"$(pg_config --includedir-server)" \
	-I"$(pg_config --includedir)" test/bench/bench.c test/bench/raw.c test/bench/queue.c \
	src/sign.c -o "$GW_WORK/bench" \
	-L"$(pg_config --libdir)" -L"$(pg_config --pkglibdir)" -lpq -lpgcommon -lpgport -lcurl -lssl -lcrypto
GW_MOCK_URL="https://127.0.0.1:$GW_MOCK_HTTPS"
psql -X -q -v ON_ERROR_STOP=1 -d gwbench -v ep="$GW_MOCK_URL" <<'SQL'
CREATE EXTENSION gwresize;
CREATE SERVER bench FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'ep', signature 'hmac-sha1');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench
  OPTIONS (access_key_id 'LTAIbenchkey', access_key_secret 'benchsecret');
CREATE SERVER hw_token FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'ep', iam_endpoint :'ep');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_token
  OPTIONS (auth_token 'hw-static-token-0001');
CREATE SERVER hw_aksk FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'ep', iam_endpoint :'ep');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_aksk
  OPTIONS (access_key 'HWTESTAK0001', secret_key 'hwTestSecretKey0001');
CREATE SERVER hw_pwd FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001',
           endpoint :'ep', iam_endpoint :'ep');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_pwd
  OPTIONS (user_name 'testuser', password 'testPassword!1', domain_name 'testdomain');
CREATE SERVER ali_role FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'ep', signature 'hmac-sha1');
CREATE USER MAPPING FOR CURRENT_USER SERVER ali_role OPTIONS (ram_role_name 'gwresize-ecs-role');
CREATE SERVER hw_agency FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'huawei', region 'cn-north-4', project_id 'proj0001', endpoint :'ep');
CREATE USER MAPPING FOR CURRENT_USER SERVER hw_agency OPTIONS (ecs_agency 'true');
ALTER SYSTEM SET gwresize.aliyun_metadata_url = :'ep';
ALTER SYSTEM SET gwresize.huawei_metadata_url = :'ep';
SELECT pg_reload_conf() \g /dev/null
SQL
"$GW_WORK/bench" "host=$PGHOST port=$PGPORT dbname=gwbench user=postgres" \
	"$GW_MOCK_URL" "$GW_CA" "${BENCH_N:-300}" "${BENCH_DRAIN_N:-5000}" "${BENCH_LAT_N:-200}"

# reports on a year of history, in a database of their own (the worker
# serves gwbench only)
gcc -O2 -Wall -Werror -I"$(pg_config --includedir)" test/bench/history.c -o "$GW_WORK/history" \
	-L"$(pg_config --libdir)" -lpq
createdb gwhistory
psql -X -q -d gwhistory -c 'CREATE EXTENSION gwresize'
"$GW_WORK/history" "host=$PGHOST port=$PGPORT dbname=gwhistory user=postgres" "${BENCH_HISTORY_N:-1000000}"
