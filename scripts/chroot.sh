#!/bin/bash
# A Debian chroot per PostgreSQL major version, to build and test gwresize
# against servers this Debian 12 host does not package: their libc is newer,
# so each runs on its own suite.  As root.
#
#   scripts/chroot.sh setup NN            make sure the chroot for NN exists
#                                         and is complete (a couple of
#                                         seconds when it is)
#   scripts/chroot.sh run NN [--head|--keep] -- CMD...
#                                         run CMD in it, in /src: a fresh copy
#                                         of this tree, with PostgreSQL NN's
#                                         bindir first in PATH (setting
#                                         the chroot up first if need be);
#                                         exits with CMD's status
#   scripts/chroot.sh clean NN|all        unmount and remove the chroot
#   scripts/chroot.sh status              the chroots, their size and mounts
#   scripts/chroot.sh versions            the versions it has a chroot for
#   scripts/chroot.sh portlock            make sure the directory where suites
#                                         reserve their ports exists, and
#                                         print it (the host's suites use it
#                                         as PG_TEST_PORT_DIR; see below)
#
#   NN: 17 (trixie), 18 (sid), 19 (sid, with postgresql-19* and what they
#   need from experimental, pinned).  Each chroot has, besides a minbase
#   system: postgresql-NN, postgresql-server-dev-NN, what scripts/deps.sh
#   names for the build and the suite, git, and pg_cron: Debian's
#   postgresql-NN-cron where the suite has it, else built by setup against
#   NN from GW_CHROOT_PG_CRON_SRC if set, else from Debian's pg-cron source
#   package (deb-src sid); the build is kept for later setups, and a
#   failed one leaves the chroot without pg_cron (or with the earlier
#   build) and says so (setup, status).  Then what "make
#   package-check" needs (dpkg-dev, build-essential, debhelper,
#   postgresql-server-dev-all, lintian) unless GW_CHROOT_NO_PACKAGING=1.
#   No cluster is created and no service is started by the packages
#   (policy-rc.d, create_main_cluster = false): the suite makes its own.
#
# "run" copies the tree instead of bind-mounting it: the build writes
# src/*.o, *.bc and gwresize.so into the tree, and the host's PostgreSQL 15
# build (or another chroot's) must not see nor clobber them, nor the other
# way round.  The copy (/src, replaced at every run) is the working tree's
# tracked and untracked-but-not-ignored files as they are on disk, so
# uncommitted work is tested, plus .git (git archive HEAD, make dist and
# make package-check work in it); --head copies the committed tree (git
# archive HEAD) instead, --keep reuses /src as the last run left it.  /proc,
# /sys (read-only), /dev, /dev/pts and a private /dev/shm are mounted for
# the command and unmounted when it ends, whatever the way; the network
# (127.0.0.1 included) is the host's, as a chroot is no namespace, so the
# tests pick free ports that do not clash with tests on the host.  Processes
# the command leaves running in the chroot (a cluster after a failed test)
# are ended first.  One command at a time per chroot (flock); setups
# take turns, as they share the package cache.
#
#   GW_CHROOT_CACHE   where the chroots live (default /var/cache/gwresize/chroot):
#                     <suite>-pgNN/ each, archives/ the .deb files they share
#   GW_CHROOT_MIRROR  the Debian mirror (default http://deb.debian.org/debian)
#   GW_CHROOT_NO_PACKAGING=1  setup leaves out the package-check tools
#   GW_CHROOT_PG_CRON_SRC     a pg_cron source tree or tarball, for a version
#                     without postgresql-NN-cron (19 today)
# CMD sees LANG=C.UTF-8, HOME=/root, PATH=/usr/lib/postgresql/NN/bin:..., and
# the caller's GW_* (but GW_PG_CONFIG, GW_ROOT, GW_WORK, GW_CHROOT_*),
# REGRESS_TESTS, ISOLATION_TESTS and TAP_TESTS; DEBIAN_FRONTEND=noninteractive;
# PG_TEST_PORT_DIR, a directory bind-mounted from $GW_CHROOT_CACHE/portlock
# (the host's suites use that one): suites running at once in several
# chroots and on the host share one network, and reserve their ports there.
set -u
GW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${GW_CHROOT_CACHE:-/var/cache/gwresize/chroot}
MIRROR=${GW_CHROOT_MIRROR:-http://deb.debian.org/debian}
ARCHIVES=$CACHE/archives
# the port reservations of PostgreSQL's test modules (PG_TEST_PORT_DIR),
# shared by the suites running at once on the host and in every chroot:
# they share one network
PORTLOCK=$CACHE/portlock
CHROOT_PORTLOCK=/var/lib/gwresize-portlock
# bump when what setup does changes: a chroot whose stamp differs is set up again
STAMP_VERSION=1
# in a chroot: what build_cron built and installed, when it did
CRON_BUILT=/usr/local/src/pg-cron.built

die() { echo "chroot.sh: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -u/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2; exit 2; }
T0=$SECONDS
phase() { echo "== $1 [$((SECONDS - T0)) s]"; }

# ---- what a version needs

# pick NN: SUITE, ROOT, PGBIN and the package lists for PostgreSQL NN
# the versions with a chroot, and the Debian suite of each
VERSIONS="17 18 19"
pick() {
	PG=$1
	case "$PG" in
	17) SUITE=trixie ;;
	18 | 19) SUITE=sid ;;
	*) die "PostgreSQL $PG: no chroot for it ($VERSIONS)" ;;
	esac
	ROOT=$CACHE/$SUITE-pg$PG
	PGBIN=/usr/lib/postgresql/$PG/bin
	PKGS="postgresql-$PG postgresql-server-dev-$PG libcurl4-openssl-dev libssl-dev
	      libkrb5-dev pkg-config gcc make libipc-run-perl python3 openssl procps git
	      ca-certificates"
	PACKAGING="dpkg-dev build-essential debhelper postgresql-server-dev-all lintian"
	[ -n "${GW_CHROOT_NO_PACKAGING:-}" ] && PACKAGING=""
	PKGS=$(echo $PKGS)
}

# write_sources: the suite (and for 19 experimental, pinned to the
# PostgreSQL 19 packages only; and deb-src, for pg-cron's source)
write_sources() {
	local s=$ROOT/etc/apt/sources.list
	case "$SUITE" in
	trixie)
		echo "deb $MIRROR trixie main"
		echo "deb $MIRROR trixie-updates main"
		;;
	sid)
		echo "deb $MIRROR sid main"
		if [ "$PG" = 19 ]; then
			echo "deb $MIRROR experimental main"
			echo "deb-src $MIRROR sid main"
		fi
		;;
	esac >"$s"
	# sid's and experimental's Release files expire within a week: a mirror
	# that is a dated snapshot (or a clock ahead of it) would refuse them
	echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99gwresize-valid-until"
	rm -f "$ROOT/etc/apt/preferences.d/gwresize-experimental"
	if [ "$PG" = 19 ]; then
		# experimental is NotAutomatic (priority 1): nothing comes from it
		# but these, which follow it there (19 needs its own libpq)
		cat >"$ROOT/etc/apt/preferences.d/gwresize-experimental" <<-EOF
			Package: postgresql-19 postgresql-19-* postgresql-client-19 postgresql-server-dev-19 libpq5 libpq-dev
			Pin: release a=experimental
			Pin-Priority: 500
		EOF
	fi
}

# ---- mounts, processes, locks

# mounts_under DIR: the mount points at DIR or below, deepest first
mounts_under() {
	awk -v d="$1" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/self/mounts | sort -r
}

# chroot_pids DIR: the processes whose root is DIR
chroot_pids() {
	local p
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$1" ] && echo "${p#/proc/}"
	done
}

# end_procs DIR: TERM then KILL what still runs in the chroot DIR (a
# cluster or the mock a failed test left behind); only processes that
# this script's command started can be there (one command per chroot)
end_procs() {
	local pids i
	pids=$(chroot_pids "$1")
	[ -z "$pids" ] && return 0
	echo "chroot.sh: ending processes left in $1: $(echo $pids)" >&2
	kill -TERM $pids 2>/dev/null
	for _ in $(seq 1 50); do
		pids=$(chroot_pids "$1")
		[ -z "$pids" ] && return 0
		sleep 0.1
	done
	kill -KILL $pids 2>/dev/null
	sleep 0.5
}

# unmount_all DIR: end what runs in it, unmount everything at or below
# it; fails if anything is still mounted there
unmount_all() {
	local m left
	end_procs "$1"
	for m in $(mounts_under "$1"); do
		umount "$m" 2>/dev/null || { end_procs "$1"; umount "$m"; }
	done
	left=$(mounts_under "$1")
	[ -z "$left" ] || { echo "chroot.sh: still mounted: $left" >&2; return 1; }
}

# bind SRC DST: a private bind mount (nothing mounted below it later
# propagates back to the host, even where / is a shared mount)
bind() {
	mount --bind "$1" "$2" && mount --make-private "$2"
}

# portlock: the port reservations' directory, made if need be
portlock() {
	mkdir -p "$PORTLOCK" && chmod 1777 "$PORTLOCK" && echo "$PORTLOCK"
}

# mount_all: what a command in the chroot needs; undone by unmount_all
mount_all() {
	portlock >/dev/null && mkdir -p -m 1777 "$ROOT$CHROOT_PORTLOCK" &&
		mount -t proc proc "$ROOT/proc" &&
		mount -t sysfs -o ro sysfs "$ROOT/sys" &&
		bind /dev "$ROOT/dev" &&
		bind /dev/pts "$ROOT/dev/pts" &&
		mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$ROOT/dev/shm" &&
		bind "$PORTLOCK" "$ROOT$CHROOT_PORTLOCK" ||
		{ unmount_all "$ROOT"; die "could not mount /proc, /sys, /dev in $ROOT"; }
	cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null
	true
}

# lock_setup, lock_root: hold $CACHE/.setup.lock (fd 8: setups share the
# package cache) or this chroot's lock (fd 9: one setup, command or clean
# at a time) until the script ends
LOCKED=""
lock_setup() {
	exec 8>"$CACHE/.setup.lock"
	flock -n 8 || { echo "chroot.sh: waiting for $CACHE/.setup.lock"; flock 8; }
}
lock_root() {
	[ "$LOCKED" = "$ROOT" ] && return 0
	exec 9>"$CACHE/.$SUITE-pg$PG.lock"
	flock -n 9 || { echo "chroot.sh: waiting for $CACHE/.$SUITE-pg$PG.lock"; flock 9; }
	LOCKED=$ROOT
}

# in_root CMD...: CMD in the chroot, a clean environment, the locks' fds closed
in_root() {
	chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
		DEBIAN_FRONTEND=noninteractive \
		PATH="$PGBIN:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" "$@" 8>&- 9>&-
}

# apt_in ARGS...: apt-get in the chroot, quiet, confold for our conffiles
apt_in() {
	in_root apt-get -y -q -o Dpkg::Options::=--force-confdef \
		-o Dpkg::Options::=--force-confold -o APT::Install-Recommends=false "$@"
}

# ---- setup

# stamp_want: what a complete chroot for NN has (compared with its stamp)
stamp_want() {
	echo "gwresize chroot $STAMP_VERSION"
	echo "suite: $SUITE"
	echo "mirror: $MIRROR"
	echo "packages: $PKGS"
	echo "packaging: $PACKAGING"
	echo "pg_cron: postgresql-$PG-cron, else built from source"
}

# whether the pg_cron built from source is from GW_CHROOT_PG_CRON_SRC, when
# that names one
cron_src_built() {
	[ -z "${GW_CHROOT_PG_CRON_SRC:-}" ] ||
		grep -qF "from $GW_CHROOT_PG_CRON_SRC" "$ROOT$CRON_BUILT" 2>/dev/null
}

setup() {
	local stamp=$ROOT/etc/gwresize-chroot.stamp want
	want=$(stamp_want)
	# ready: the same stamp, and pg_cron packaged or built from the source named
	if [ -f "$stamp" ] && [ "$(sed '/^#/d' "$stamp")" = "$want" ] && [ -x "$ROOT$PGBIN/pg_config" ] &&
		{ head -1 "$stamp" | grep -q "; pg_cron: postgresql-$PG-cron\$" || cron_src_built; }; then
		echo "chroot for PostgreSQL $PG ready: $ROOT ($(sed -n '1s/^# [^ ]* //p' "$stamp"))"
		return 0
	fi
	mkdir -p "$ARCHIVES/partial"
	lock_setup
	lock_root
	command -v debootstrap >/dev/null || {
		phase "apt-get install debootstrap (host)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
			die "could not install debootstrap"
	}
	unmount_all "$ROOT" || die "cannot set up $ROOT while something is mounted there"
	trap 'unmount_all "$ROOT"' EXIT

	# a debootstrap that did not finish is started again from nothing
	if [ -d "$ROOT" ] && [ ! -f "$ROOT/etc/gwresize-chroot.debootstrapped" ]; then
		phase "removing the unfinished $ROOT"
		rm -rf --one-file-system "$ROOT"
	fi
	if [ ! -d "$ROOT" ]; then
		phase "debootstrap --variant=minbase $SUITE $ROOT"
		mkdir -p "$ROOT"
		if ! debootstrap --variant=minbase --cache-dir="$ARCHIVES" "$SUITE" "$ROOT" "$MIRROR" \
			>"$CACHE/debootstrap-$SUITE-pg$PG.log" 2>&1; then
			tail -20 "$CACHE/debootstrap-$SUITE-pg$PG.log"
			unmount_all "$ROOT"
			die "debootstrap failed (log: $CACHE/debootstrap-$SUITE-pg$PG.log)"
		fi
		unmount_all "$ROOT" || die "debootstrap left mounts behind"
		# never start services (postgresql's init script would start a
		# cluster), and create no "main" cluster: the suite makes its own
		printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
		chmod 755 "$ROOT/usr/sbin/policy-rc.d"
		# no manuals, documentation nor translations: less to unpack and store
		printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
			'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' \
			'path-exclude=/usr/share/locale/*' >"$ROOT/etc/dpkg/dpkg.cfg.d/01gwresize-nodoc"
		mkdir -p "$ROOT/etc/postgresql-common"
		echo "create_main_cluster = false" >"$ROOT/etc/postgresql-common/createcluster.conf"
		touch "$ROOT/etc/gwresize-chroot.debootstrapped"
	fi
	cp -L /etc/hosts "$ROOT/etc/hosts" 2>/dev/null
	write_sources
	mount_all
	# the .deb files, shared by the chroots (a file name holds the version)
	bind "$ARCHIVES" "$ROOT/var/cache/apt/archives" || die "could not mount $ARCHIVES"

	local suites=$SUITE
	[ "$PG" = 19 ] && suites="$SUITE + experimental"
	phase "apt-get update ($suites)"
	apt_in update >"$CACHE/apt-$SUITE-pg$PG.log" 2>&1 ||
		{ tail -20 "$CACHE/apt-$SUITE-pg$PG.log"; die "apt-get update failed"; }
	# pg_cron: the suite's package when it has one, else built (build_cron)
	local pkgs=$PKGS cron=postgresql-$PG-cron cron_note
	if in_root apt-cache policy "$cron" 2>/dev/null | grep -q 'Candidate: [^(]'; then
		pkgs="$pkgs $cron"
		cron_note=$cron
	fi
	phase "apt-get install $pkgs"
	apt_in install $pkgs >>"$CACHE/apt-$SUITE-pg$PG.log" 2>&1 ||
		{ tail -30 "$CACHE/apt-$SUITE-pg$PG.log"; die "apt-get install failed (log: $CACHE/apt-$SUITE-pg$PG.log)"; }
	if [ -n "$PACKAGING" ]; then
		phase "apt-get install $PACKAGING (make package-check)"
		apt_in install $PACKAGING >>"$CACHE/apt-$SUITE-pg$PG.log" 2>&1 ||
			{ tail -30 "$CACHE/apt-$SUITE-pg$PG.log"; die "apt-get install failed (log: $CACHE/apt-$SUITE-pg$PG.log)"; }
	fi
	# else the build from source made earlier, unless another source is
	# named; a failed build keeps the earlier one
	if [ -z "${cron_note:-}" ]; then
		if { [ -f "$ROOT$CRON_BUILT" ] && cron_src_built; } || build_cron; then
			cron_note="built from source: $(cat "$ROOT$CRON_BUILT")"
		elif [ -f "$ROOT$CRON_BUILT" ]; then
			cron_note="built from source: $(cat "$ROOT$CRON_BUILT") (a new build failed: $CACHE/pg-cron-$PG.log)"
		else
			cron_note="NONE: no $cron in $SUITE, and the build from source failed ($CACHE/pg-cron-$PG.log)"
			echo "chroot.sh: warning: PostgreSQL $PG has no pg_cron: $cron_note" >&2
		fi
	fi
	[ -x "$ROOT$PGBIN/pg_config" ] || die "$PGBIN/pg_config missing after the install"
	[ -z "$(ls -A "$ROOT/etc/postgresql" 2>/dev/null)" ] ||
		echo "note: clusters in $ROOT/etc/postgresql (not made by this script)"
	{
		echo "# $(date -u +%FT%TZ) PostgreSQL $(in_root "$PGBIN/pg_config" --version | sed 's/^PostgreSQL //'); pg_cron: $cron_note"
		echo "$want"
	} >"$stamp"
	unmount_all "$ROOT" || die "could not unmount everything under $ROOT"
	trap - EXIT
	exec 8>&-	# the next setup may go on ("run" keeps this chroot's lock)
	phase "ready: $ROOT ($(du -sh --one-file-system "$ROOT" | cut -f1); package cache $(du -sh "$ARCHIVES" | cut -f1))"
}

# build_cron: pg_cron built with PGXS against NN and installed into it,
# from GW_CHROOT_PG_CRON_SRC (a pg_cron source tree or tarball) when set,
# else from Debian's pg-cron source package (sid, deb-src); then preloaded
# by a throwaway cluster that creates the extension.  Only then is the
# build recorded ($CRON_BUILT: its version and source).
build_cron() {
	local log=$CACHE/pg-cron-$PG.log dir=/usr/local/src/pg-cron from rc
	rm -rf --one-file-system "$ROOT$dir"
	mkdir -p "$ROOT$dir"
	if [ -n "${GW_CHROOT_PG_CRON_SRC:-}" ]; then
		phase "pg_cron from $GW_CHROOT_PG_CRON_SRC: make, make install (log: $log)"
		if [ -d "$GW_CHROOT_PG_CRON_SRC" ]; then
			cp -a "$GW_CHROOT_PG_CRON_SRC" "$ROOT$dir/pg_cron"
		else
			mkdir "$ROOT$dir/pg_cron" &&
				tar -x -C "$ROOT$dir/pg_cron" --strip-components=1 -f "$GW_CHROOT_PG_CRON_SRC"
		fi >"$log" 2>&1 || { tail -5 "$log"; return 1; }
		dir=$dir/pg_cron
		from="$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\\(.*\\)'/\\1/p" \
			"$ROOT$dir/pg_cron.control" 2>/dev/null) from $GW_CHROOT_PG_CRON_SRC"
	else
		phase "pg_cron from Debian's source package: apt-get source pg-cron, make, make install (log: $log)"
		in_root sh -c "cd $dir && apt-get source -q pg-cron" >"$log" 2>&1 ||
			{ tail -5 "$log"; return 1; }
		dir=$dir/$(cd "$ROOT$dir" && ls -d pg-cron-*/ | head -1)
		dir=${dir%/}
		from="${dir##*/pg-cron-} from Debian's pg-cron source package"
	fi
	in_root sh -c "cd $dir && make -j2 PG_CONFIG=$PGBIN/pg_config &&
		make install PG_CONFIG=$PGBIN/pg_config" >>"$log" 2>&1 ||
		{ grep -E 'error|warning' "$log" | head -20; return 1; }
	phase "pg_cron: preloaded by a throwaway cluster, CREATE EXTENSION pg_cron"
	cat >"$ROOT/tmp/gwresize-cron-check.sh" <<-'EOF'
		# a cluster on a private socket (no TCP) with pg_cron preloaded
		d=$(mktemp -d) && chown postgres: "$d" && cd / || exit 1
		runuser -u postgres -- initdb -D "$d/data" -A trust -U postgres >/dev/null || exit 1
		cat >>"$d/data/postgresql.conf" <<-CONF
			listen_addresses = ''
			unix_socket_directories = '$d'
			shared_preload_libraries = 'pg_cron'
		CONF
		runuser -u postgres -- pg_ctl -D "$d/data" -l "$d/log" -w start >/dev/null &&
			runuser -u postgres -- psql -X -h "$d" -d postgres -Atc \
				"CREATE EXTENSION pg_cron; SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'"
		rc=$?
		runuser -u postgres -- pg_ctl -D "$d/data" -m fast -w stop >/dev/null 2>&1
		[ $rc = 0 ] || cat "$d/log"
		rm -rf "$d"
		exit $rc
	EOF
	in_root sh /tmp/gwresize-cron-check.sh >>"$log" 2>&1
	rc=$?
	rm -f "$ROOT/tmp/gwresize-cron-check.sh"
	[ $rc = 0 ] || { tail -20 "$log"; return 1; }
	echo "$from" >"$ROOT$CRON_BUILT"
	echo "pg_cron $(tail -1 "$log") loads in PostgreSQL $PG"
}

# ---- run

# copy_tree MODE: /src in the chroot, from this tree (see the top)
copy_tree() {
	local src=$ROOT/src
	[ "$1" = keep ] && [ -d "$src" ] && return 0
	rm -rf --one-file-system "$src"
	mkdir -m 755 "$src"
	if [ "$1" = head ]; then
		git -C "$GW_ROOT" archive HEAD | tar -x -C "$src" || die "git archive HEAD failed"
		cp -a "$GW_ROOT/.git" "$src/.git"
	elif git -C "$GW_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		# every part of both pipelines counts (pipefail)
		(set -o pipefail
		 cd "$GW_ROOT" && git ls-files -z --cached --others --exclude-standard |
			xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
			tar --null -T - -cf - && tar -cf - .git) | tar -x -C "$src" -f - -i
		[ "${PIPESTATUS[*]}" = "0 0" ] || die "could not copy the tree"
	else
		tar -C "$GW_ROOT" --exclude='*.o' --exclude='*.so' --exclude='*.bc' -cf - . |
			tar -x -C "$src" || die "could not copy the tree"
	fi
}

run() {
	local mode=fresh rc v
	while [ $# -gt 0 ]; do
		case "$1" in
		--head) mode=head ;;
		--keep) mode=keep ;;
		--) shift; break ;;
		*) usage ;;
		esac
		shift
	done
	[ $# -gt 0 ] || usage
	setup >&2 || exit 1
	lock_root
	[ -f "$ROOT/etc/gwresize-chroot.stamp" ] || die "$ROOT went away"
	unmount_all "$ROOT" || die "cannot run in $ROOT while something is mounted there"
	trap 'unmount_all "$ROOT"' EXIT
	copy_tree "$mode"
	mount_all
	# the caller's test settings come along (GW_ONLY, TAP_TESTS, ...)
	local pass=()
	for v in $(compgen -e); do
		case "$v" in
		GW_CHROOT_* | GW_PG_CONFIG | GW_ROOT | GW_WORK) ;;
		GW_* | REGRESS_TESTS | ISOLATION_TESTS | TAP_TESTS) pass+=("$v=${!v}") ;;
		esac
	done
	# in the background with wait, so that a signal to this script is
	# handled at once (the EXIT trap ends CMD); stdin stays the caller's
	in_root PG_TEST_PORT_DIR="$CHROOT_PORTLOCK" "${pass[@]}" \
		sh -c 'cd /src && exec "$@"' sh "$@" <&0 &
	wait $!
	rc=$?
	unmount_all "$ROOT" || rc=1
	trap - EXIT
	return $rc
}

# ---- clean, status

clean() {
	[ -d "$ROOT" ] || { echo "no chroot for PostgreSQL $PG ($ROOT)"; return 0; }
	lock_root
	unmount_all "$ROOT" || die "not removing $ROOT: something is still mounted there"
	rm -rf --one-file-system "$ROOT"
	echo "removed $ROOT"
}

status() {
	local d
	for d in "$CACHE"/*-pg*/; do
		[ -d "$d" ] || continue
		d=${d%/}
		echo "$(basename "$d"): $(du -sh --one-file-system "$d" | cut -f1);" \
			"$(sed -n '1s/^# //p' "$d/etc/gwresize-chroot.stamp" 2>/dev/null || echo "not set up")"
		mounts_under "$d" | sed 's/^/  mounted: /'
	done
	[ -d "$ARCHIVES" ] && echo "archives: $(du -sh "$ARCHIVES" | cut -f1) ($ARCHIVES)"
	true
}

case "$CACHE" in /*) ;; *) die "GW_CHROOT_CACHE must be an absolute path" ;; esac
case "$CACHE" in *[[:space:]]*) die "GW_CHROOT_CACHE must not contain spaces" ;; esac
# a signal ends the script through exit, so that the EXIT trap unmounts
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
cmd=${1:-}
[ $# -gt 0 ] && shift
[ "$(id -u)" = 0 ] || [ "$cmd" = status ] || [ "$cmd" = portlock ] || [ "$cmd" = versions ] ||
	die "run it as root (debootstrap, mount, chroot)"
mkdir -p "$CACHE" 2>/dev/null
case "$cmd" in
status) status ;;
portlock) portlock ;;
versions) echo "$VERSIONS" ;;
setup) [ $# = 1 ] || usage; pick "$1"; setup ;;
run) [ $# -ge 2 ] || usage; pick "$1"; shift; run "$@" ;;
clean)
	[ $# = 1 ] || usage
	if [ "$1" = all ]; then
		for v in $VERSIONS; do pick "$v"; clean; done
	else
		pick "$1"; clean
	fi
	;;
*) usage ;;
esac
