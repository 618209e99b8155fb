#!/bin/bash
# Installs (as root) or names (otherwise) the Debian packages gwresize needs
# to build, test and run its demo; "deps.sh sanitize" adds clang, its
# sanitizer runtimes and llvm-symbolizer for make test-sanitize.
set -eu
pkgs="gcc make pkg-config postgresql-15 postgresql-server-dev-15 libcurl4-openssl-dev
      libssl-dev libkrb5-dev postgresql-15-cron libipc-run-perl python3 openssl"
[ "${1:-}" = sanitize ] && pkgs="$pkgs clang-14 libclang-rt-14-dev llvm-14"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	apt-get install -y -qq $missing >/dev/null
else
	echo "gwresize needs these Debian packages; as root run:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
