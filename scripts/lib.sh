# Shared by run-tests.sh, demo.sh and bench.sh: a throwaway cluster with
# gwresize preloaded, and the mock cloud on 127.0.0.1.  Source it.

GW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# GW_PG_CONFIG: the pg_config of the PostgreSQL to run (scripts/sanitize.sh
# points it at a private copy; make sets it from PG_CONFIG, whatever the
# environment says); the one in PATH by default
GW_PG_CONFIG=${GW_PG_CONFIG:-pg_config}
PGBIN=$("$GW_PG_CONFIG" --bindir)
export PATH="$PGBIN:$PATH"

# postgres refuses to run as root: when root, run it as the postgres user
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# gw_workdir: a scratch directory the cluster's user can write, in
# GW_TMPDIR (default /tmp)
gw_workdir() {
	GW_WORK=$(mktemp -d "${GW_TMPDIR:-/tmp}/gwresize.XXXXXX")
	chmod 755 "$GW_WORK"
	[ "$(id -u)" = 0 ] && chown postgres: "$GW_WORK"
	export GW_WORK
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# gw_start_mock: certificates and the mock; exports GW_MOCK_HTTP/HTTPS, GW_CA
gw_start_mock() {
	bash "$GW_ROOT/test/mock/make-certs.sh" "$GW_WORK/certs" >/dev/null
	chmod -R a+rX "$GW_WORK/certs"
	python3 "$GW_ROOT/test/mock/mockcloud.py" --http-port 0 --https-port 0 \
		--cert "$GW_WORK/certs/server.pem" --key "$GW_WORK/certs/server.key" \
		--port-file "$GW_WORK/mock-ports.json" >"$GW_WORK/mock.log" 2>&1 &
	GW_MOCK_PID=$!
	for _ in $(seq 1 100); do
		[ -s "$GW_WORK/mock-ports.json" ] && break
		sleep 0.1
	done
	GW_MOCK_HTTP=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['http'])" "$GW_WORK/mock-ports.json")
	GW_MOCK_HTTPS=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['https'])" "$GW_WORK/mock-ports.json")
	GW_CA="$GW_WORK/certs/ca.pem"
	export GW_MOCK_HTTP GW_MOCK_HTTPS GW_CA GW_MOCK_PID
}

# gw_start_cluster DBNAME [extra conf lines]: exports PGHOST PGPORT PGUSER
gw_start_cluster() {
	local db=$1
	shift
	export PGPORT=$(free_port) PGHOST="$GW_WORK" PGUSER=postgres
	as_pg initdb -D "$GW_WORK/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
	{
		echo "port = $PGPORT"
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$GW_WORK'"
		echo "shared_preload_libraries = 'gwresize'"
		echo "gwresize.database_name = '$db'"
		echo "gwresize.allow_http = on"
		echo "gwresize.ca_file = '$GW_CA'"
		echo "fsync = on"
		for l in "$@"; do echo "$l"; done
	} | as_pg tee -a "$GW_WORK/data/postgresql.conf" >/dev/null
	as_pg pg_ctl -D "$GW_WORK/data" -l "$GW_WORK/postgres.log" -w start >/dev/null
}

gw_stop_all() {
	[ -n "${GW_WORK:-}" ] && [ -d "$GW_WORK/data" ] &&
		as_pg pg_ctl -D "$GW_WORK/data" -m fast -w stop >/dev/null 2>&1
	[ -n "${GW_MOCK_PID:-}" ] && kill "$GW_MOCK_PID" 2>/dev/null
	wait 2>/dev/null
	true
}

# gw_up DBNAME: install the build, start the mock and a cluster whose worker
# serves DBNAME, create DBNAME; everything stops when the script exits
gw_up() {
	cd "$GW_ROOT"
	make -s install PG_CONFIG="$GW_PG_CONFIG" >/dev/null
	gw_workdir
	trap gw_stop_all EXIT
	gw_start_mock
	gw_start_cluster "$1"
	createdb "$1"
}
