# gwresize: PGXS build
MODULE_big = gwresize
OBJS = \
	src/aliyun.o \
	src/audit.o \
	src/entry.o \
	src/gwresize.o \
	src/http.o \
	src/huawei.o \
	src/option.o \
	src/request.o \
	src/sign.o \
	src/worker.o

EXTENSION = gwresize
DATA = sql/gwresize--1.0.sql \
	sql/gwresize--1.0--1.1.sql
PGFILEDESC = "gwresize - resize cloud API gateways from SQL"

PG_CPPFLAGS = -Isrc $(shell pkg-config --cflags libcurl openssl)
SHLIB_LINK = $(shell pkg-config --libs libcurl openssl)
PG_CFLAGS = -Wall -Werror

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# ---- tests, demo and benchmarks (see README.md) ----

.PHONY: test demo bench deps

deps:
	@scripts/deps.sh

test: deps all
	@scripts/run-tests.sh

demo: deps all
	@scripts/demo.sh

bench: deps all
	@scripts/bench.sh
