#!/bin/bash
# make package-check: the Debian package as a DBA gets it, for the host's
# PostgreSQL and then for each other supported version in its chroot.  In a copy of
# the committed tree (git archive HEAD: untracked files never enter the
# package, and neither do uncommitted changes), build the package with
# dpkg-buildpackage -us -uc -b, run lintian (errors fail), install it with
# apt-get, check its file list, run debian/tests/installcheck (the suite
# against the installed package), and check that "make dist" makes a PGXN
# zip that builds.  As root: it installs the build and test dependencies it
# lacks.  Ends with "N passed, N failed".
#
#   GW_PACKAGE_UNCOMMITTED=1  package the working tree's tracked files as
#                             they are (git stash create) instead of HEAD
#   TAP_TESTS                 TAP files for the installed-package test
#                             (default: cancel, pg_cron, the update from 1.0
#                             and search_path: the whole suite runs on the
#                             build of the same tree, make test and make
#                             test-versions; "test/t/*.pl" for all of it)
#   GW_PACKAGE_KEEP=1         leave the package installed afterwards (by
#                             default it is removed again unless it was
#                             installed before)
#   GW_PACKAGE_OUT=DIR        copy the built .deb files there
#   GW_PACKAGE_VERSIONS       the other versions to check, each in its
#                             chroot (default: scripts/chroot.sh versions;
#                             "" for the host's alone)
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8

pass=0
fail=0
PKG_TAP=${TAP_TESTS:-test/t/001_cancel.pl test/t/006_cron_tracking.pl test/t/009_upgrade.pl test/t/013_search_path.pl}
failed_names=()
ok() { pass=$((pass + 1)); echo "ok - $1"; }
nok() { fail=$((fail + 1)); failed_names+=("$1"); echo "not ok - $1"; }
T0=$SECONDS
phase() { echo "== $1 [$((SECONDS - T0)) s]"; }
finish() {
	phase "done"
	[ ${#failed_names[@]} -gt 0 ] && echo "failing: ${failed_names[*]}"
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
	exit
}

if [ "$(id -u)" != 0 ]; then
	echo "make package-check installs the package with apt-get: run it as root"
	echo "0 passed, 1 failed"
	exit 1
fi
command -v git >/dev/null || { echo "git is needed (git archive)"; echo "0 passed, 1 failed"; exit 1; }

ver=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" gwresize.control)
ref=HEAD
if [ -n "${GW_PACKAGE_UNCOMMITTED:-}" ]; then
	ref=$(git stash create)
	ref=${ref:-HEAD}
elif [ -n "$(git status --porcelain --untracked-files=no)" ]; then
	echo "note: uncommitted changes are not packaged (git archive HEAD); GW_PACKAGE_UNCOMMITTED=1 packages them"
fi
WORK=$(mktemp -d /tmp/gwresize-pkg.XXXXXX)
chmod 755 "$WORK"	# apt's _apt user reads the .deb, the postgres user the tree
SRC="$WORK/gwresize-$ver"
mkdir "$SRC"
git archive "$ref" | tar -x -C "$SRC" || { nok "git archive $ref"; finish; }
echo "source: $(git rev-parse --short "$ref") in $SRC"

# The PostgreSQL of the pg_config in PATH: the package is built for it alone
# (PG_SUPPORTED_VERSIONS), its debian/control written for it from
# debian/control.in (PG_UPDATECONTROL: the committed one names 15, Debian
# 12's), pg_cron installed for the tests where the distribution has it.
pgv=$(pg_config --version | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
export PG_SUPPORTED_VERSIONS=$pgv PG_UPDATECONTROL=yes
echo "PostgreSQL $pgv ($(. /etc/os-release && echo "$PRETTY_NAME"))"

# ---- dependencies: the declared build-dependencies, lintian, the test's
# Depends (debian/tests/control, less "@": the package itself)
phase "dependencies"
missing_pkgs() {
	local p
	for p in "$@"; do
		dpkg-query -W -f '${db:Status-Status}' "$p" 2>/dev/null | grep -qx installed || echo "$p"
	done
}
test_deps=$(awk '/^Depends:/ {on = 1; sub(/^Depends:/, "")} /^[A-Za-z-]+:/ && !/^Depends:/ {on = 0}
	on {gsub(/[,@]/, " "); print}' "$SRC/debian/tests/control" | xargs)
# pg_cron's package, where the package lists know it
cron_pkg() {
	apt-cache show "postgresql-$pgv-cron" >/dev/null 2>&1 && echo "postgresql-$pgv-cron"
}
need=$(missing_pkgs dpkg-dev build-essential lintian $test_deps $(cron_pkg) | xargs)
if ! (cd "$SRC" && dpkg-checkbuilddeps >/dev/null 2>&1) || [ -n "$need" ]; then
	apt-get update -qq >/dev/null 2>&1
	# on a fresh machine the lists were empty: pg_cron is known only now
	need=$(missing_pkgs dpkg-dev build-essential lintian $test_deps $(cron_pkg) | xargs)
	echo "installing: build-dependencies of debian/control${need:+ and $need}"
	(cd "$SRC" && apt-get build-dep -y -qq ./ >"$WORK/apt-deps.log" 2>&1) &&
		{ [ -z "$need" ] || apt-get install -y -qq $need >>"$WORK/apt-deps.log" 2>&1; } ||
		{ tail -20 "$WORK/apt-deps.log"; nok "install the build and test dependencies"; finish; }
fi
if (cd "$SRC" && dpkg-checkbuilddeps); then
	ok "build-dependencies declared in debian/control are installed"
else
	nok "build-dependencies"
	finish
fi

# ---- build
phase "dpkg-buildpackage -us -uc -b"
if (cd "$SRC" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	tail -40 "$WORK/build.log"
	nok "dpkg-buildpackage -us -uc -b (log: $WORK/build.log)"
	finish
fi
grep -E '^dpkg-deb: building' "$WORK/build.log"
changes=$(ls "$WORK"/gwresize_*.changes)
debs=$(ls "$WORK"/postgresql-*-gwresize_*.deb)

# ---- lintian: errors fail; warnings and notes are printed
phase "lintian"
runuser -u nobody -- lintian --info --fail-on error "$changes" >"$WORK/lintian.out" 2>&1
l_rc=$?
sed 's/^/  /' "$WORK/lintian.out"
if [ "$l_rc" = 0 ] && ! grep -q '^E: ' "$WORK/lintian.out"; then
	ok "lintian: no errors ($(grep -c '^W: ' "$WORK/lintian.out") warnings)"
else
	nok "lintian"
fi

# ---- install, as a DBA does
phase "apt-get install"
was_installed=""
for deb in $debs; do
	pkg=$(dpkg-deb -f "$deb" Package)
	[ "$(dpkg-query -W -f '${db:Status-Status}' "$pkg" 2>/dev/null)" = installed ] && was_installed="$was_installed $pkg"
	if apt-get install -y -qq --reinstall "$deb" >"$WORK/apt-install.log" 2>&1; then
		ok "apt-get install $(basename "$deb")"
	else
		tail -20 "$WORK/apt-install.log"
		nok "apt-get install $(basename "$deb")"
		finish
	fi
	# the library, the control file and every SQL script of the tree
	v=$(echo "$pkg" | sed 's/^postgresql-\([0-9]*\)-gwresize$/\1/')
	want="/usr/lib/postgresql/$v/lib/gwresize.so /usr/share/postgresql/$v/extension/gwresize.control"
	for f in "$SRC"/sql/gwresize--*.sql; do
		want="$want /usr/share/postgresql/$v/extension/$(basename "$f")"
	done
	missing=""
	for f in $want; do
		dpkg -L "$pkg" | grep -qx "$f" || missing="$missing $f"
	done
	if [ -z "$missing" ]; then
		ok "dpkg -L $pkg: $(echo "$want" | wc -w) files: gwresize.so, gwresize.control, $(ls "$SRC"/sql/gwresize--*.sql | wc -l) SQL scripts"
	else
		nok "dpkg -L $pkg lacks:$missing"
	fi
done

# ---- the suite against the installed package
phase "debian/tests/installcheck"
(cd "$SRC" && TAP_TESTS="$PKG_TAP" debian/tests/installcheck) 2>&1 | tee "$WORK/installcheck.out"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$WORK/installcheck.out" | tail -1)
if [ -n "$line" ]; then
	i_pass=${line%% passed*}
	i_fail=$(echo "$line" | sed 's/.* \([0-9]*\) failed.*/\1/')
	pass=$((pass + i_pass))
	fail=$((fail + i_fail))
	[ "$i_fail" -gt 0 ] && failed_names+=("installcheck")
else
	nok "debian/tests/installcheck ended without its result line"
fi

# ---- make dist: the PGXN zip of the same tree, and it builds and installs
phase "make dist"
DIST="$WORK/dist"
mkdir "$DIST"
git archive "$ref" | tar -x -C "$DIST"
if (cd "$DIST" && git init -q && git add -A && git -c user.name=package-check \
	-c user.email=package-check@example.org commit -q -m dist &&
	make -s dist) >"$WORK/dist.log" 2>&1 && [ -f "$DIST/gwresize-$ver.zip" ]; then
	ok "make dist: gwresize-$ver.zip"
	python3 - "$DIST/gwresize-$ver.zip" "gwresize-$ver/" >"$WORK/dist-check.log" 2>&1 <<'PY'
import sys, zipfile
z, prefix = zipfile.ZipFile(sys.argv[1]), sys.argv[2]
names = z.namelist()
bad = [n for n in names if not n.startswith(prefix)]
need = [prefix + f for f in ("META.json", "gwresize.control", "Makefile", "debian/changelog")]
lack = [n for n in need if n not in names]
print(len(names), "entries;", "outside the prefix:", bad, "; missing:", lack)
sys.exit(1 if bad or lack else 0)
PY
	if [ $? = 0 ]; then ok "the zip: one gwresize-$ver/ folder with META.json, the control file, Makefile, debian/"; else cat "$WORK/dist-check.log"; nok "the zip's contents"; fi
	# what "pgxn install" does: make && make install, here into a staging root
	rm -rf "$WORK/unzip" && mkdir "$WORK/unzip"
	python3 -m zipfile -e "$DIST/gwresize-$ver.zip" "$WORK/unzip"
	if (cd "$WORK/unzip/gwresize-$ver" && bash test/version-check.sh && make -s &&
		make -s install DESTDIR="$WORK/stage") >"$WORK/pgxn-build.log" 2>&1 &&
		[ -f "$WORK/stage$(pg_config --pkglibdir)/gwresize.so" ]; then
		ok "the zip builds (-Wall -Werror) and installs: $(cd "$WORK/stage" && find . -type f | grep -vc /bitcode/) files besides bitcode"
	else
		tail -30 "$WORK/pgxn-build.log"
		nok "the zip builds and installs"
	fi
else
	tail -20 "$WORK/dist.log"
	nok "make dist"
fi

# ---- leave the system as it was, unless asked to keep the package
if [ -n "${GW_PACKAGE_OUT:-}" ]; then
	mkdir -p "$GW_PACKAGE_OUT" && cp $debs "$GW_PACKAGE_OUT"/ && echo "packages copied to $GW_PACKAGE_OUT"
fi
if [ -z "${GW_PACKAGE_KEEP:-}" ]; then
	for deb in $debs; do
		pkg=$(dpkg-deb -f "$deb" Package)
		case " $was_installed " in *" $pkg "*) echo "$pkg was installed before: left installed (this build)"; continue ;; esac
		apt-get remove -y -qq "$pkg" >/dev/null 2>&1 &&
			echo "removed $pkg again (it was not installed before); its files are gone: make install or install the package to get gwresize back"
	done
fi
# ---- the same for every other supported version, in its chroot (Debian's
# own packages of that version: scripts/chroot.sh), its installed-package
# test on a part of the suite: the whole suite ran on the build there
# (make test-versions)
if [ -z "${GW_PACKAGE_IN_CHROOT:-}" ]; then
	# the tree packaged here: HEAD (--head), or as it is on disk
	tree=--head
	[ -n "${GW_PACKAGE_UNCOMMITTED:-}" ] && tree=
	for v in ${GW_PACKAGE_VERSIONS-$(scripts/chroot.sh versions)}; do
		[ "$v" = "$pgv" ] && continue
		phase "PostgreSQL $v: make package-check in its chroot"
		GW_PACKAGE_IN_CHROOT=1 TAP_TESTS="$PKG_TAP" \
			scripts/chroot.sh run "$v" $tree -- scripts/package-check.sh >"$WORK/chroot-$v.log" 2>&1
		rc=$?
		# the last summary line: the chroot's clean-up may write after it
		last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$WORK/chroot-$v.log" | tail -n 1)
		grep -E '^(ok|not ok) - |^PostgreSQL [0-9]+ \(' "$WORK/chroot-$v.log" | sed "s/^/  $v: /"
		if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
			pass=$((pass + BASH_REMATCH[1]))
			fail=$((fail + BASH_REMATCH[2]))
			echo "PostgreSQL $v: $last"
			if [ "$rc" != 0 ] && [ "${BASH_REMATCH[2]}" = 0 ]; then
				nok "PostgreSQL $v: package-check in its chroot exited with $rc"
			fi
			[ "${BASH_REMATCH[2]}" != 0 ] && { failed_names+=("package-$v"); tail -40 "$WORK/chroot-$v.log"; }
		else
			tail -40 "$WORK/chroot-$v.log"
			nok "PostgreSQL $v: package-check in its chroot ended without its summary"
		fi
	done
fi

[ "$fail" = 0 ] && rm -rf "$WORK"
[ "$fail" != 0 ] && echo "logs: $WORK"
finish
