#!/bin/bash
# make test-sanitize: gwresize built with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer (-fno-sanitize-recover=undefined, no -fwrapv,
# so signed overflow is caught), run by run-tests.sh's vectors, pg_regress,
# isolation and TAP suites against a private copy of PostgreSQL whose
# postgres preloads the sanitizer runtime; then the libFuzzer target
# test/fuzz/fuzz_sign.c for GW_FUZZ_SECONDS (default 60).  Fails on any
# sanitizer report.  Ends with "N passed, N failed".
#   GW_SAN_CC        the clang to use (default clang-14)
#   GW_FUZZ_SECONDS  fuzzing time (default 60; 0 skips the fuzzer)
#   GW_SAN_OPTIONS   more ASAN_OPTIONS for the server, e.g. quarantine_size_mb=64
#   GW_ONLY, TAP_TESTS, REGRESS_TESTS  as for run-tests.sh
# The system PostgreSQL is only read: the sanitizer build is installed into
# the copy, in a directory under /tmp that is removed after a passing run.
set -u
. "$(dirname "$0")/lib.sh"
cd "$GW_ROOT" || exit 1

CC=${GW_SAN_CC:-clang-14}
FUZZ_SECONDS=${GW_FUZZ_SECONDS:-60}
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-wrapv -fno-omit-frame-pointer -g -O1"
# PostgreSQL's headers were configured for gcc: its format attribute
# gnu_printf is unknown to clang (-Wignored-attributes under -Werror), and
# printf is the same check
CLANG_CPPFLAGS="-Dgnu_printf=printf"
SAN_PATTERN='runtime error:|AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer|==[0-9]+==ERROR'

pass=0
fail=0
failed_names=()
ok() { echo "ok - $1"; pass=$((pass + 1)); }
not_ok() { echo "not ok - $1"; fail=$((fail + 1)); failed_names+=("$2"); }
# die MESSAGE: a setup step failed; nothing more can run
die() {
	echo "$1"
	fail=$((fail + 1))
	echo "$pass passed, $fail failed"
	exit 1
}

command -v "$CC" >/dev/null || die "$CC not found (scripts/deps.sh sanitize installs it)"
RESOURCE_DIR=$("$CC" -print-resource-dir)
ASAN_RT="$RESOURCE_DIR/lib/linux/libclang_rt.asan-x86_64.so"
[ -f "$ASAN_RT" ] || die "$ASAN_RT not found (apt-get install libclang-rt-14-dev)"
SYMBOLIZER="$(dirname "$(readlink -f "$(command -v "$CC")")")/llvm-symbolizer"
[ -x "$SYMBOLIZER" ] || SYMBOLIZER=$(command -v llvm-symbolizer) ||
	die "llvm-symbolizer not found (apt-get install llvm-14)"

W=$(mktemp -d /tmp/gwresize-san.XXXXXX)
chmod 755 "$W"
REPORTS="$W/reports"
mkdir -m 1777 "$REPORTS"
CANARY_DATA=
cleanup() {
	[ -n "$CANARY_DATA" ] && [ -f "$CANARY_DATA/postmaster.pid" ] &&
		as_pg "$PGBIN_SAN/pg_ctl" -D "$CANARY_DATA" -m immediate -w stop >/dev/null 2>&1
	if [ "$fail" = 0 ]; then rm -rf "$W"; else echo "left for inspection: $W"; fi
}
trap cleanup EXIT

echo "== private PostgreSQL with the sanitizer build ($W)"
# PostgreSQL finds its share and lib directories relative to its binary,
# so a copy of the directory trees under $W works as an installation
bindir=$("$GW_PG_CONFIG" --bindir)
sharedir=$("$GW_PG_CONFIG" --sharedir)
pkglibdir=$("$GW_PG_CONFIG" --pkglibdir)
includedir=$("$GW_PG_CONFIG" --includedir)
for d in "$(dirname "$bindir")" "$sharedir"; do
	mkdir -p "$W$(dirname "$d")"
	cp -a "$d" "$W$d" || die "could not copy $d"
done
mkdir -p "$W$(dirname "$includedir")"
ln -s "$includedir" "$W$includedir"
PGBIN_SAN="$W$bindir"
SAN_PG_CONFIG="$PGBIN_SAN/pg_config"
[ "$("$SAN_PG_CONFIG" --sharedir)" = "$W$sharedir" ] &&
	[ "$("$SAN_PG_CONFIG" --pkglibdir)" = "$W$pkglibdir" ] &&
	[ -d "$("$SAN_PG_CONFIG" --includedir-server)" ] ||
	die "the copy of PostgreSQL does not find its own directories"

# the build, in a copy of the tree so the normal objects stay as they are;
# PGXS's CFLAGS are gcc's: -fwrapv (which would hide signed overflow) and
# the options clang does not know are left out.  gcc's
# -Wimplicit-fallthrough=3 honours /* FALLTHROUGH */ comments, clang's only
# the attribute, so fall-through is left to the gcc build
cflags=""
for f in $("$GW_PG_CONFIG" --cflags); do
	case $f in
		-fwrapv | -fexcess-precision=* | -Wimplicit-fallthrough* | \
			-Wno-format-truncation | -Wno-stringop-truncation | -O* | -g) ;;
		*) cflags="$cflags $f" ;;
	esac
done
mkdir "$W/build"
tar -c --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' . |
	tar -x -C "$W/build"
sanmake() {
	make -s -C "$W/build" CC="$CC" with_llvm=no CFLAGS="$cflags $SAN" \
		CPPFLAGS="-D_GNU_SOURCE $CLANG_CPPFLAGS" \
		LDFLAGS="$("$GW_PG_CONFIG" --ldflags) -shared-libsan" "$@"
}
sanmake >"$W/build.log" 2>&1 && sanmake install DESTDIR="$W" >>"$W/build.log" 2>&1 || {
	cat "$W/build.log"
	die "the sanitizer build failed"
}
readelf -d "$W$pkglibdir/gwresize.so" | grep -q 'libclang_rt.asan' ||
	die "$W$pkglibdir/gwresize.so is not linked against the ASan runtime"

# the runtime's options: reports go to files in $REPORTS, one per process
# (log_path is shared by both: in the combined runtime UBSAN_OPTIONS is
# parsed last and its common options win, so they are the same in both);
# detect_leaks=0 since PostgreSQL leaves its memory to process exit;
# abort_on_error so that a report ends its process with SIGABRT, which the
# postmaster logs as a crash; quarantine_size_mb=8 rather than 256, as
# quarantined frees count as the worker's private memory, which
# test/t/005_queue.pl bounds
common="abort_on_error=1:detect_leaks=0:log_path=$REPORTS/sanitizer:external_symbolizer_path=$SYMBOLIZER"
SAN_ASAN_OPTIONS="$common:quarantine_size_mb=8${GW_SAN_OPTIONS:+:$GW_SAN_OPTIONS}"
SAN_UBSAN_OPTIONS="$common:print_stacktrace=1:halt_on_error=1:report_error_type=1"

# the launcher in place of postgres; see test/sanitize/preload.c for why
# that library comes right after the runtime
"$CC" -shared -fPIC -O1 -Wall -Werror test/sanitize/preload.c -o "$W/preload.so" ||
	die "could not build test/sanitize/preload.c"
mv "$PGBIN_SAN/postgres" "$PGBIN_SAN/postgres.real"
cat >"$PGBIN_SAN/postgres" <<EOF
#!/bin/bash
# postgres with the sanitizer runtime for the gwresize build (written by
# scripts/sanitize.sh).  Options are set here, when the process starts:
# the runtime reads them once, before main(); a backend could not re-read
# them later, as PostgreSQL overwrites its environment block with the
# process title.
export LD_PRELOAD="$ASAN_RT:$W/preload.so"
export ASAN_OPTIONS="$SAN_ASAN_OPTIONS"
export UBSAN_OPTIONS="$SAN_UBSAN_OPTIONS"
exec -a "\$0" "\${0%/*}/postgres.real" "\$@"
EOF
chmod 755 "$PGBIN_SAN/postgres"
chmod -R a+rX "$W"
if [ "$(timeout 60 "$PGBIN_SAN/postgres" --version)" = "$("$PGBIN_SAN/postgres.real" --version)" ]; then
	ok "postgres starts with the sanitizer runtime preloaded"
else
	die "not ok - postgres with the sanitizer runtime did not start within 60 s"
fi

echo "== canaries: a report from a backend must reach $REPORTS"
"$CC" $SAN -fPIC -shared -shared-libsan -Wall -Werror $CLANG_CPPFLAGS \
	-I"$("$GW_PG_CONFIG" --includedir-server)" test/sanitize/canary.c -o "$W/canary.so" ||
	die "could not build test/sanitize/canary.c"
chmod a+rx "$W/canary.so"
mkdir "$W/canary"
[ "$(id -u)" = 0 ] && chown postgres: "$W/canary"
CANARY_DATA="$W/canary/data"
canary_port=$(free_port)
as_pg "$PGBIN_SAN/initdb" -D "$CANARY_DATA" -A trust -U postgres >"$W/canary/initdb.log" 2>&1 ||
	{ cat "$W/canary/initdb.log"; die "initdb under the sanitizers failed"; }
{
	echo "port = $canary_port"
	echo "listen_addresses = ''"
	echo "unix_socket_directories = '$W/canary'"
	echo "shared_preload_libraries = 'gwresize'"
} | as_pg tee -a "$CANARY_DATA/postgresql.conf" >/dev/null
as_pg "$PGBIN_SAN/pg_ctl" -D "$CANARY_DATA" -l "$W/canary/postgres.log" -w start >/dev/null ||
	{ cat "$W/canary/postgres.log"; die "the server with gwresize under the sanitizers did not start"; }
canary_sql() {
	"$PGBIN_SAN/psql" -X -q -h "$W/canary" -p "$canary_port" -U postgres -d postgres \
		-v ON_ERROR_STOP=1 -c "$1" >>"$W/canary/psql.log" 2>&1
}
canary_sql "CREATE FUNCTION gw_canary_overflow(int) RETURNS int
	AS '$W/canary.so' LANGUAGE C STRICT;
	CREATE FUNCTION gw_canary_heap(int) RETURNS int
	AS '$W/canary.so' LANGUAGE C STRICT;
	SELECT gw_canary_overflow(1), gw_canary_heap(7)" ||
	{ cat "$W/canary/psql.log"; die "the canary functions do not work"; }
# canary NAME SQL PATTERN: SQL must end its backend with a report matching
# PATTERN, with a stack trace, in $REPORTS, and the postmaster log a crash
canary() {
	local name=$1 sql=$2 pattern=$3
	canary_sql "$sql" && { not_ok "canary $name: the query succeeded" canary; return; }
	for _ in $(seq 1 100); do
		grep -qE "$pattern" "$REPORTS"/sanitizer.* 2>/dev/null && break
		sleep 0.1
	done
	if grep -qE "$pattern" "$REPORTS"/sanitizer.* 2>/dev/null &&
		grep -qE '#0 0x[0-9a-f]+ in gw_canary' "$REPORTS"/sanitizer.* &&
		grep -q 'was terminated by signal 6' "$W/canary/postgres.log"; then
		ok "canary $name: report with its stack in $REPORTS, backend aborted"
	else
		not_ok "canary $name: no report in $REPORTS" canary
		cat "$REPORTS"/sanitizer.* "$W/canary/psql.log" 2>/dev/null
		tail -5 "$W/canary/postgres.log"
	fi
	mkdir -p "$W/canary/reports"
	mv "$REPORTS"/sanitizer.* "$W/canary/reports/" 2>/dev/null
	as_pg "$PGBIN_SAN/pg_ctl" -D "$CANARY_DATA" -w status >/dev/null 2>&1 &&
		for _ in $(seq 1 100); do canary_sql "SELECT 1" && break; sleep 0.2; done
}
canary UBSan "SELECT gw_canary_overflow(2147483647)" 'runtime error: signed integer overflow'
canary ASan "SELECT gw_canary_heap(8)" 'AddressSanitizer: heap-buffer-overflow'
as_pg "$PGBIN_SAN/pg_ctl" -D "$CANARY_DATA" -m fast -w stop >/dev/null
CANARY_DATA=

echo "== suites under the sanitizers (scripts/run-tests.sh)"
start=$(date +%s)
GW_PG_CONFIG="$SAN_PG_CONFIG" GW_NO_INSTALL=1 GW_ONLY="${GW_ONLY:-vectors regress tap}" \
	GW_CC="$CC" GW_CFLAGS="$SAN $CLANG_CPPFLAGS" GW_TMPDIR="$W" GW_KEEP_WORK=1 \
	ASAN_OPTIONS="$SAN_ASAN_OPTIONS" UBSAN_OPTIONS="$SAN_UBSAN_OPTIONS" \
	scripts/run-tests.sh 2>&1 | tee "$W/suites.out"
summary=$(tail -n 1 "$W/suites.out")
if [[ "$summary" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
	pass=$((pass + BASH_REMATCH[1]))
	fail=$((fail + BASH_REMATCH[2]))
	[ "${BASH_REMATCH[2]}" != 0 ] && failed_names+=("suites")
else
	not_ok "the suites ended without their summary line" suites
fi
echo "suites took $(($(date +%s) - start)) s"

reports=$(ls "$REPORTS")
if [ -z "$reports" ]; then
	ok "no sanitizer report from the suites"
else
	not_ok "sanitizer reports from the suites: $(echo $reports)" reports
	for f in "$REPORTS"/*; do echo "--- $f"; head -60 "$f"; done
fi
logs=$(grep -rlIE "$SAN_PATTERN" "$W"/gwresize.* 2>/dev/null)
if [ -z "$logs" ]; then
	ok "no sanitizer output in the server and test logs"
else
	not_ok "sanitizer output in: $(echo $logs)" logs
	grep -rIE -B2 -A20 "$SAN_PATTERN" $logs | head -200
fi

if [ "$FUZZ_SECONDS" -gt 0 ]; then
	echo "== libFuzzer: test/fuzz/fuzz_sign.c for $FUZZ_SECONDS s"
	mkdir -p "$W/fuzz/corpus"
	if ! "$CC" $SAN -fsanitize=fuzzer -Wall -Werror -Wmissing-prototypes -DFRONTEND \
		$CLANG_CPPFLAGS -Isrc -I"$("$GW_PG_CONFIG" --includedir-server)" \
		-I"$includedir" test/fuzz/fuzz_sign.c src/sign.c -L"$pkglibdir" \
		-lpgcommon -lpgport -lssl -lcrypto -o "$W/fuzz/fuzz_sign"; then
		not_ok "fuzz_sign does not build" fuzz
	else
		nseeds=$(python3 -B test/fuzz/make_seeds.py test/vectors "$W/fuzz/seeds")
		(cd "$W/fuzz" && ASAN_OPTIONS="detect_leaks=1:external_symbolizer_path=$SYMBOLIZER" \
			UBSAN_OPTIONS="print_stacktrace=1:external_symbolizer_path=$SYMBOLIZER" \
			./fuzz_sign corpus seeds -max_total_time="$FUZZ_SECONDS" -max_len=4096 \
			-timeout=10 -print_final_stats=1 -artifact_prefix="$W/fuzz/" \
			>fuzz.log 2>&1)
		rc=$?
		done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$W/fuzz/fuzz.log" | tail -1)
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$W/fuzz/fuzz.log")
		eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$W/fuzz/fuzz.log")
		cov=$(echo "$done_line" | sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/cov \1, ft \2, corpus \3 units/p')
		echo "fuzz_sign: ${runs:-?} runs, ${eps:-?} execs/s, ${cov:-no coverage line}; $nseeds seeds from test/vectors"
		artifacts=$(find "$W/fuzz" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' \
			-o -name 'timeout-*' -o -name 'oom-*' \) -printf '%f ')
		if [ "$rc" = 0 ] && [ -z "$artifacts" ] && [ -n "$done_line" ]; then
			ok "fuzz_sign: $FUZZ_SECONDS s without a finding"
		else
			not_ok "fuzz_sign: exit $rc, ${artifacts:-no artifact}" fuzz
			grep -vE '^#[0-9]+ ' "$W/fuzz/fuzz.log" | tail -80
		fi
	fi
fi

[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
