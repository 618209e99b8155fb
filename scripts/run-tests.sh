#!/bin/bash
# The whole test suite: signing vectors, the mock's own tests, pg_regress
# against a throwaway cluster with gwresize preloaded, and the TAP tests
# (PostgreSQL::Test::Cluster).  Ends with "N passed, N failed".
set -u
. "$(dirname "$0")/lib.sh"
cd "$GW_ROOT"

REGRESS_TESTS=${REGRESS_TESTS:-"validator inputs modify_spec privileges huawei queue tracking reads"}
ISOLATION_TESTS=${ISOLATION_TESTS:-"one_per_instance"}
TAP_TESTS=${TAP_TESTS:-"test/t/*.pl"}
# GW_ONLY=regress (or version, vectors, mock, tap, or a list: "vectors tap") runs
# only those stages: for development, and for scripts/sanitize.sh, which also
# sets GW_NO_INSTALL=1 (it installs its own build), GW_CC and GW_CFLAGS (the
# compiler and flags of the vectors' driver), GW_PG_CONFIG (see lib.sh), and
# GW_KEEP_WORK=1 to scan the logs after a passing run.
GW_ONLY=${GW_ONLY:-}
want() { [ -z "$GW_ONLY" ] || [[ " $GW_ONLY " == *" $1 "* ]]; }
PG_REGRESS="$("$GW_PG_CONFIG" --pkglibdir)/pgxs/src/test/regress/pg_regress"
pass=0
fail=0
failed_names=()

# count_tap NAME FILE: ok / not ok lines of a TAP stream, and a stream
# that ended without its plan counts as one more failure
count_tap() {
	local ok nok
	ok=$(grep -cE '^[[:space:]]*ok [0-9]+' "$2")
	nok=$(grep -cE '^[[:space:]]*not ok [0-9]+' "$2")
	pass=$((pass + ok))
	fail=$((fail + nok))
	[ "$nok" -gt 0 ] && failed_names+=("$1")
}

if [ -z "${GW_NO_INSTALL:-}" ]; then
	make -s install PG_CONFIG="$GW_PG_CONFIG" >/dev/null || { echo "make install failed"; echo "0 passed, 1 failed"; exit 1; }
else
	# the gwresize already installed (a package: debian/tests; a copy:
	# scripts/sanitize.sh) is what is tested
	for f in "$("$GW_PG_CONFIG" --pkglibdir)/gwresize.so" "$("$GW_PG_CONFIG" --sharedir)/extension/gwresize.control"; do
		[ -f "$f" ] || { echo "GW_NO_INSTALL is set but $f is missing"; echo "0 passed, 1 failed"; exit 1; }
	done
fi
gw_workdir
trap gw_stop_all EXIT

if want version; then
echo "== versions (test/version-check.sh)"
GW_NO_INSTALL="${GW_NO_INSTALL:-}" bash test/version-check.sh >"$GW_WORK/version.tap" 2>&1
v_rc=$?
grep -E '^(not ok|#)' "$GW_WORK/version.tap"
count_tap version "$GW_WORK/version.tap"
if [ "$v_rc" != 0 ] && ! grep -q '^not ok' "$GW_WORK/version.tap"; then
	fail=$((fail + 1)); failed_names+=("version"); cat "$GW_WORK/version.tap"
fi
grep -c '^ok' "$GW_WORK/version.tap" | sed 's/$/ version checks passed/'
fi

if want vectors; then
echo "== signing vectors (test/vectors)"
${GW_CC:-gcc} -Wall -Werror ${GW_CFLAGS:--O2} -DFRONTEND -Isrc \
	-I"$("$GW_PG_CONFIG" --includedir-server)" -I"$("$GW_PG_CONFIG" --includedir)" \
	test/vectors/sign_driver.c src/sign.c \
	-L"$("$GW_PG_CONFIG" --pkglibdir)" -lpgcommon -lpgport -lssl -lcrypto \
	-o "$GW_WORK/sign_driver"
python3 test/vectors/run_vectors.py "$GW_WORK/sign_driver" test/vectors >"$GW_WORK/vectors.tap" 2>&1
grep -E '^(not ok|#)' "$GW_WORK/vectors.tap"
count_tap vectors "$GW_WORK/vectors.tap"
grep -c '^ok' "$GW_WORK/vectors.tap" | sed 's/$/ vectors reproduced/'
fi

if want mock; then
echo "== mock cloud self-test (test/mock)"
python3 test/mock/test_mockcloud.py >"$GW_WORK/mock-test.log" 2>&1
ran=$(sed -n 's/^Ran \([0-9]*\) tests\{0,1\}.*/\1/p' "$GW_WORK/mock-test.log")
bad=$(sed -n 's/^FAILED (\(.*\))/\1/p' "$GW_WORK/mock-test.log" | grep -oE '[0-9]+' | awk '{s += $1} END {print s + 0}')
ran=${ran:-0}
bad=${bad:-0}
if [ "$ran" = 0 ]; then bad=1; tail -20 "$GW_WORK/mock-test.log"; fi
pass=$((pass + ran - (bad > ran ? ran : bad)))
fail=$((fail + bad))
[ "$bad" -gt 0 ] && { failed_names+=("mock"); tail -30 "$GW_WORK/mock-test.log"; }
echo "$ran mock tests, $bad failed"
fi

if want regress; then
echo "== pg_regress (test/sql)"
gw_start_mock
gw_start_cluster contrib_regression
export GW_MOCKCTL="$GW_ROOT/test/mock/mockctl.py"

"$PG_REGRESS" --inputdir=test --outputdir="$GW_WORK/regress" --bindir="$PGBIN" \
	--host="$PGHOST" --port="$PGPORT" --user=postgres \
	--dbname=contrib_regression $REGRESS_TESTS >"$GW_WORK/regress.out" 2>&1
cat "$GW_WORK/regress.out" | grep -E '^(test|ok|not ok| )' | grep -vE '^ *$'
r_ok=$(grep -cE '^(test .*\.\.\. ok|ok [0-9]+)' "$GW_WORK/regress.out")
r_bad=$(grep -cE '(\.\.\. FAILED|^not ok [0-9]+)' "$GW_WORK/regress.out")
pass=$((pass + r_ok))
fail=$((fail + r_bad))
if [ "$r_ok" = 0 ] && [ "$r_bad" = 0 ]; then fail=$((fail + 1)); cat "$GW_WORK/regress.out"; fi
if [ "$r_bad" -gt 0 ]; then
	failed_names+=("regress")
	cat "$GW_WORK/regress/regression.diffs" 2>/dev/null | head -300
fi
# isolation specs, in the same database after the regress tests
"$("$GW_PG_CONFIG" --pkglibdir)/pgxs/src/test/isolation/pg_isolation_regress" \
	--inputdir=test --outputdir="$GW_WORK/isolation" --bindir="$PGBIN" \
	--host="$PGHOST" --port="$PGPORT" --user=postgres --use-existing \
	--dbname=contrib_regression $ISOLATION_TESTS >"$GW_WORK/isolation.out" 2>&1
grep -E '^(test|ok|not ok)' "$GW_WORK/isolation.out"
i_ok=$(grep -cE '^(test .*\.\.\. ok|ok [0-9]+)' "$GW_WORK/isolation.out")
i_bad=$(grep -cE '(\.\.\. FAILED|^not ok [0-9]+)' "$GW_WORK/isolation.out")
pass=$((pass + i_ok))
fail=$((fail + i_bad))
if [ "$i_ok" = 0 ] && [ "$i_bad" = 0 ]; then fail=$((fail + 1)); cat "$GW_WORK/isolation.out"; fi
if [ "$i_bad" -gt 0 ]; then
	failed_names+=("isolation")
	cat "$GW_WORK/isolation/regression.diffs" 2>/dev/null | head -200
fi
gw_stop_all
GW_MOCK_PID=
fi

if want tap; then
echo "== TAP (test/t)"
tapdir="$GW_WORK/tap"
as_pg mkdir -p "$tapdir"
# TESTDATADIR, TESTLOGDIR: where PostgreSQL 17's test modules put clusters
# and logs (15 derives them from TESTDIR)
# PG_TEST_PORT_DIR: where suites running at once reserve their ports
as_pg env PATH="$PATH" TESTDIR="$tapdir" TESTDATADIR="$tapdir/tmp_check" \
	TESTLOGDIR="$tapdir/tmp_check/log" GW_ROOT="$GW_ROOT" \
	${PG_TEST_PORT_DIR:+PG_TEST_PORT_DIR="$PG_TEST_PORT_DIR"} \
	PERL5LIB="$("$GW_PG_CONFIG" --pkglibdir)/pgxs/src/test/perl:$GW_ROOT/test/t" \
	PG_REGRESS="$PG_REGRESS" \
	prove -v --merge $TAP_TESTS >"$GW_WORK/tap.out" 2>&1
grep -E '^(t/|test/t/|[[:space:]]*(not )?ok [0-9]|Result|Files=)' "$GW_WORK/tap.out"
count_tap tap "$GW_WORK/tap.out"
# a file that failed without a failed test is one more failure: prove
# reports it (it exited non-zero, broke its plan, or skipped all after
# dying), or it died and PostgreSQL's test modules ended it as if done (17+:
# "# die: ..." then done_testing, exit 0)
dubious=$(awk '
	/^test\/t\/[^ ]*\.pl \.+/ { file = $1 }
	/^# die: / && file != "" { bad[file] = 1 }
	/^Test Summary Report/ { summary = 1 }
	summary && /^[^ ].*\.pl +\(Wstat: [0-9]+ .*Failed: 0\)/ { bad[$1] = 1 }
	END { n = 0; for (f in bad) n++; print n }' "$GW_WORK/tap.out")
fail=$((fail + dubious))
if [ "$dubious" -gt 0 ] || grep -qE '^[[:space:]]*not ok' "$GW_WORK/tap.out"; then
	failed_names+=("tap")
	grep -B2 -A12 -E '^[[:space:]]*not ok|Dubious' "$GW_WORK/tap.out" | head -200
	for f in "$tapdir"/tmp_check/log/*.log; do
		[ -f "$f" ] && { echo "--- $f"; tail -40 "$f"; }
	done
fi
fi

[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
[ "$fail" = 0 ] && [ -z "${GW_KEEP_WORK:-}" ] && rm -rf "$GW_WORK"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
