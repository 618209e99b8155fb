#!/bin/bash
# make bench: the benchmarks of test/bench against a throwaway cluster and
# the mock cloud.  Prints numbers beside their baselines; asserts nothing.
set -eu
. "$(dirname "$0")/lib.sh"
cd "$GW_ROOT"
make -s install >/dev/null
gw_workdir
trap gw_stop_all EXIT
gw_start_mock
gw_start_cluster gwbench
createdb gwbench
gcc -O2 -Wall -Werror -DFRONTEND -Isrc -I"$(pg_config --includedir-server)" \
	-I"$(pg_config --includedir)" test/bench/bench.c src/sign.c -o "$GW_WORK/bench" \
	-L"$(pg_config --libdir)" -L"$(pg_config --pkglibdir)" -lpq -lpgcommon -lpgport -lcurl -lssl -lcrypto
psql -X -q -d gwbench -v ep="https://127.0.0.1:$GW_MOCK_HTTPS" <<'SQL'
CREATE EXTENSION gwresize;
CREATE SERVER bench FOREIGN DATA WRAPPER gwresize
  OPTIONS (provider 'aliyun', region 'cn-hangzhou', endpoint :'ep', signature 'hmac-sha1');
CREATE USER MAPPING FOR CURRENT_USER SERVER bench
  OPTIONS (access_key_id 'LTAIbenchkey', access_key_secret 'benchsecret');
SQL
"$GW_WORK/bench" "host=$PGHOST port=$PGPORT dbname=gwbench user=postgres" \
	"https://127.0.0.1:$GW_MOCK_HTTPS/" "$GW_CA" "${BENCH_N:-300}"
