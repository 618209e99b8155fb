#!/bin/bash
# make test-versions: the whole suite (make test: vectors, mock, pg_regress,
# isolation, TAP) against every PostgreSQL version gwresize supports: the
# host's own (15 on Debian 12) here, 17, 18 and 19 each in a chroot of the
# Debian suite that packages it (scripts/chroot.sh: set up on first use,
# cached after).  As root.
#
#   GW_VERSIONS      the versions (default: the host's, 15 on Debian 12, and
#                    those scripts/chroot.sh has a chroot for: "15 17 18 19")
#   GW_VERSION_JOBS  how many run at once (default 2): a suite spends most
#                    of its time waiting (timeouts, polls, restarts), not
#                    computing; they share one network, and reserve their
#                    ports in one directory (PG_TEST_PORT_DIR)
#
# Prints, as each version ends, "PostgreSQL NN: N passed, N failed (setup
# S s, suite T s)", with the failing stages and the end of its log when it
# failed; the last line is the sum: "N passed, N failed".  The logs stay in
# a directory under /tmp when something failed.
set -u
cd "$(dirname "$0")/.."
JOBS=${GW_VERSION_JOBS:-2}
OUT=$(mktemp -d /tmp/gwresize-versions.XXXXXX)
# the host's suites reserve their ports where the chroots' do
if PG_TEST_PORT_DIR=$(scripts/chroot.sh portlock); then
	export PG_TEST_PORT_DIR
fi

host=$(pg_config --version 2>/dev/null | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
# by default the host's version and those with a chroot
VERSIONS=${GW_VERSIONS:-$(printf '%s\n' $host $(scripts/chroot.sh versions) | sort -un | xargs)}

# one NN: its suite into $OUT/NN.log, "passed failed setup_s suite_s" into $OUT/NN.sum
one() {
	local v=$1 log="$OUT/$1.log" t0=$SECONDS t1 last rc f
	if [ "$v" = "$host" ]; then
		t1=$SECONDS
		make -s test PG_CONFIG="$(pg_config --bindir)/pg_config" >"$log" 2>&1
		rc=$?
	elif scripts/chroot.sh setup "$v" >"$log" 2>&1; then
		t1=$SECONDS
		scripts/chroot.sh run "$v" -- make -s test \
			PG_CONFIG="/usr/lib/postgresql/$v/bin/pg_config" >>"$log" 2>&1
		rc=$?
	else
		t1=$SECONDS
		echo "the chroot of PostgreSQL $v could not be set up" >>"$log"
		rc=1
	fi
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
		f=${BASH_REMATCH[2]}
		# a failing exit with no failure counted still fails
		[ "$rc" != 0 ] && [ "$f" = 0 ] && f=1
		echo "${BASH_REMATCH[1]} $f $((t1 - t0)) $((SECONDS - t1))" >"$OUT/$v.sum"
	else
		echo "0 1 $((t1 - t0)) $((SECONDS - t1))" >"$OUT/$v.sum"
	fi
}

report() {
	local v=$1 p f s t
	read -r p f s t <"$OUT/$v.sum"
	echo "PostgreSQL $v: $p passed, $f failed (setup $s s, suite $t s)"
	if [ "$f" != 0 ]; then
		grep -E '^failing:' "$OUT/$v.log" | sed "s/^/  $v /"
		tail -n 60 "$OUT/$v.log" | sed "s/^/  $v| /"
	fi
}

# reap: wait for one version to end, and report it
declare -A running=()
reap() {
	local p
	wait -n -p p
	report "${running[$p]}"
	unset "running[$p]"
}
T0=$SECONDS
for v in $VERSIONS; do
	while [ ${#running[@]} -ge "$JOBS" ]; do reap; done
	one "$v" &
	running[$!]=$v
done
while [ ${#running[@]} -gt 0 ]; do reap; done

pass=0
fail=0
for v in $VERSIONS; do
	read -r p f _ _ <"$OUT/$v.sum"
	pass=$((pass + p))
	fail=$((fail + f))
done
echo "all versions ($VERSIONS) in $((SECONDS - T0)) s"
[ "$fail" = 0 ] && rm -rf "$OUT" || echo "logs: $OUT"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
