#!/bin/bash
# Installs (as root) or names (otherwise) the Debian packages gwresize needs
# to build, test and run its demo against the PostgreSQL whose pg_config is
# GW_PG_CONFIG (default: the one in PATH; when there is none, 15, Debian
# 12's); "deps.sh sanitize" adds clang, its sanitizer runtimes and
# llvm-symbolizer for make test-sanitize.  pg_cron comes from
# postgresql-NN-cron where the distribution packages it; where it does not
# (19 in Debian today), the pg_cron tests are skipped unless pg_cron is
# installed some other way.
set -eu
pgc=${GW_PG_CONFIG:-pg_config}
v=15
if command -v "$pgc" >/dev/null 2>&1; then
	v=$("$pgc" --version | sed -n 's/^PostgreSQL \([0-9][0-9]*\).*/\1/p')
fi
# pg_cron's package, where the package lists know it
cron_pkg() {
	apt-cache show "postgresql-$v-cron" >/dev/null 2>&1 && echo "postgresql-$v-cron"
}
# the packages of $* not installed
not_installed() {
	local p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			echo -n " $p"
	done
}
pkgs="gcc make pkg-config postgresql-$v postgresql-server-dev-$v libcurl4-openssl-dev
      libssl-dev libkrb5-dev libipc-run-perl python3 openssl"
[ "${1:-}" = sanitize ] && pkgs="$pkgs clang-14 libclang-rt-14-dev llvm-14"
missing=$(not_installed $pkgs $(cron_pkg))
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# on a fresh machine the lists were empty: pg_cron is known only now
	missing=$(not_installed $pkgs $(cron_pkg))
	echo "installing:$missing"
	apt-get install -y -qq $missing >/dev/null
else
	echo "gwresize needs these Debian packages; as root run:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
