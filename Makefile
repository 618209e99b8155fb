# gwresize: PGXS build
MODULE_big = gwresize
OBJS = \
	src/access.o \
	src/aliyun.o \
	src/args.o \
	src/audit.o \
	src/claim.o \
	src/cred.o \
	src/entry.o \
	src/gwresize.o \
	src/http.o \
	src/huawei.o \
	src/install.o \
	src/job.o \
	src/json.o \
	src/mapping.o \
	src/mask.o \
	src/option.o \
	src/provider.o \
	src/request.o \
	src/sign.o \
	src/worker.o

EXTENSION = gwresize
DATA = sql/gwresize--1.0.sql \
	sql/gwresize--1.0--1.1.sql \
	sql/gwresize--1.1--1.2.sql \
	sql/gwresize--1.2--1.3.sql \
	sql/gwresize--1.3.sql
PGFILEDESC = "gwresize - resize cloud API gateways from SQL"

PG_CPPFLAGS = -Isrc $(shell pkg-config --cflags libcurl openssl)
SHLIB_LINK = $(shell pkg-config --libs libcurl openssl)
PG_CFLAGS = -Wall -Werror

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every object depends on every header
$(OBJS): $(wildcard src/*.h)

# ---- tests, demo and benchmarks (see README.md) ----

.PHONY: test test-versions test-sanitize demo bench deps dist package-check

# the PostgreSQL to build and test against: PG_CONFIG (make test
# PG_CONFIG=/usr/lib/postgresql/17/bin/pg_config)
export GW_PG_CONFIG = $(PG_CONFIG)

deps:
	@scripts/deps.sh

test: deps all
	@scripts/run-tests.sh

# every supported version: 15 here, 17, 18 and 19 in Debian chroots of
# their own suites; see scripts/versions.sh
test-versions:
	@scripts/versions.sh

# clang with ASan and UBSan against a private copy of PostgreSQL, then the
# libFuzzer target; see scripts/sanitize.sh
test-sanitize:
	@scripts/deps.sh sanitize
	@scripts/sanitize.sh

demo: deps all
	@scripts/demo.sh

bench: deps all
	@scripts/bench.sh

# ---- releases (see README.md, "Install") ----

# the one version: default_version in the control file
EXTVERSION = $(shell sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(srcdir)/$(EXTENSION).control)

# the PGXN release: committed files only (git archive HEAD), after the check
# that META.json and debian/changelog tell the control file's version
dist:
	@test/version-check.sh >/dev/null || { test/version-check.sh | grep -E '^not ok|^#'; exit 1; }
	@git diff --quiet HEAD -- || echo "note: uncommitted changes are not in the archive (git archive HEAD)"
	git archive --format zip --prefix $(EXTENSION)-$(EXTVERSION)/ -o $(EXTENSION)-$(EXTVERSION).zip HEAD

# build the Debian package, lintian, install it, test the installed package
package-check:
	@scripts/package-check.sh
