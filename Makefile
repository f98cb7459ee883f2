# temporald build. One GNU Makefile; libraries found with pkg-config.
#
#   make                      release build into build/release
#   make FLAVOUR=debug        -O0 -g into build/debug
#   make SANITIZE=address,undefined   into build/san-address-undefined
#   make test                 every suite (unit, store on SQLite and PostgreSQL, gRPC, SDK)
#   make test-cluster         the cluster suite (make test-cluster-long: every fault round)
#   make bench                benchmarks (figures, not pass/fail)
#   make fuzz                 libFuzzer drivers (clang) into build/fuzz
#   make install PREFIX=/usr/local DESTDIR=
#   make deps                 install missing Debian packages (root or sudo)
#   make format               clang-format every C file

FLAVOUR  ?= release
SANITIZE ?=
WERROR   ?=
PREFIX   ?= /usr/local
DESTDIR  ?=
CC       ?= cc

comma := ,
ifneq ($(SANITIZE),)
FLAVOUR := san-$(subst $(comma),-,$(SANITIZE))
endif

BUILD   := build/$(FLAVOUR)
APIDIR  := build/api
GEN     := build/gen
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GITREV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

PKGS := libprotobuf-c libnghttp2 libevent libevent_pthreads libevent_openssl openssl \
        sqlite3 libpq inih zlib jansson

# Fail early, listing every missing library and the command that installs it.
ifeq ($(filter deps format clean help,$(MAKECMDGOALS)),)
MISSING := $(strip $(foreach p,$(PKGS),$(if $(shell pkg-config --exists $(p) && echo y),,$(p))))
ifneq ($(MISSING),)
$(error missing libraries: $(MISSING). Install them with: make deps  (or: sudo scripts/deps.sh build))
endif
ifeq ($(shell command -v protoc-c),)
$(error protoc-c not found. Install it with: make deps  (or: sudo apt-get install protobuf-c-compiler))
endif
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

OPT_release := -O2 -g
OPT_debug   := -O0 -g3
OPT := $(or $(OPT_$(FLAVOUR)),-O1 -g -fno-omit-frame-pointer)

WARN := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla -Wformat=2 \
        -Wno-unused-parameter
ifneq ($(WERROR),)
WARN += -Werror
endif
SAN ?= $(if $(SANITIZE),-fsanitize=$(SANITIZE) -fno-sanitize-recover=all,)

CPPFLAGS := -D_GNU_SOURCE -DTD_VERSION='"$(VERSION)"' -DTD_GITREV='"$(GITREV)"' \
            -Isrc -I$(GEN) -I$(BUILD)/gen-own $(PKG_CFLAGS)
CFLAGS   := -std=c11 $(OPT) $(SAN) -MMD -MP -pthread
LDFLAGS  := $(SAN) -pthread
LDLIBS   := $(PKG_LIBS) -lm

# ---- public Temporal API protos: fetched from the pinned package, compiled by protoc-c ----

API_STAMP := $(APIDIR)/protos/.stamp
GEN_STAMP := $(GEN)/.stamp

$(API_STAMP): scripts/fetch-api-protos.sh
	scripts/fetch-api-protos.sh $(APIDIR)

# Every .proto of the API tree plus the few google/grpc files it needs, generated in one
# protoc-c run per include root so imports resolve exactly as upstream lays them out.
$(GEN_STAMP): $(API_STAMP)
	rm -rf $(GEN) && mkdir -p $(GEN)
	cd $(APIDIR)/protos/api_upstream && protoc-c -I. -I/usr/include --c_out=$(CURDIR)/$(GEN) \
	    $$(find temporal google nexusannotations -name '*.proto' | sort) \
	    google/protobuf/field_mask.proto
	cd $(APIDIR)/protos/testsrv_upstream && protoc-c -I. -I../api_upstream -I/usr/include \
	    --c_out=$(CURDIR)/$(GEN) $$(find temporal -name '*.proto' | sort)
	cd $(APIDIR)/protos && protoc-c -I. -Iapi_upstream -I/usr/include --c_out=$(CURDIR)/$(GEN) \
	    google/rpc/status.proto grpc/health/v1/health.proto
	touch $@

# temporald's own protos (internal role RPCs, persistence records).
OWN_PROTOS := $(wildcard proto/*.proto)
OWN_GEN_C  := $(patsubst proto/%.proto,$(BUILD)/gen-own/%.pb-c.c,$(OWN_PROTOS))
OWN_GEN_H  := $(OWN_GEN_C:.c=.h)
$(BUILD)/gen-own/%.pb-c.c $(BUILD)/gen-own/%.pb-c.h: proto/%.proto $(GEN_STAMP)
	@mkdir -p $(BUILD)/gen-own
	protoc-c -Iproto -I$(APIDIR)/protos/api_upstream -I/usr/include --c_out=$(BUILD)/gen-own $<

# The generated C list is only known after generation, so it is read from the folder.
GEN_C = $(shell find $(GEN) -name '*.pb-c.c' 2>/dev/null | sort)
GEN_O = $(patsubst $(GEN)/%.c,$(BUILD)/gen-obj/%.o,$(GEN_C))

$(BUILD)/gen-obj/%.o: $(GEN)/%.c $(GEN_STAMP)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) $(SAN) -w -I$(GEN) $(shell pkg-config --cflags libprotobuf-c) -c $< -o $@

$(BUILD)/libtdapi.a: $(GEN_STAMP)
	@$(MAKE) --no-print-directory gen-objs
	@rm -f $@ && ar rcs $@ $(GEN_O)

.PHONY: gen-objs
gen-objs: $(GEN_O)

# ---- temporald itself ----

SRC_C   := $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c src/*/*/*.c src/*/*/*/*.c))
SRC_O   := $(patsubst %.c,$(BUILD)/obj/%.o,$(SRC_C)) \
           $(patsubst $(BUILD)/gen-own/%.c,$(BUILD)/obj/gen-own/%.o,$(OWN_GEN_C))
# Schema migrations embedded into the binary (td_store_migrations, src/store/store_backend.h).
SCHEMA_SQL   := $(sort $(wildcard schema/*/[0-9]*.sql))
SCHEMA_GEN_C := $(BUILD)/gen-own/td_schema_migrations.c
SRC_O        += $(BUILD)/obj/gen-own/td_schema_migrations.o
UNIT_C  := test/runner.c $(wildcard test/unit/*.c)
UNIT_O  := $(patsubst %.c,$(BUILD)/obj/%.o,$(UNIT_C))
STORE_C := test/runner.c $(wildcard test/store/*.c)
STORE_O := $(patsubst %.c,$(BUILD)/obj/%.o,$(STORE_C))

$(BUILD)/obj/%.o: %.c $(GEN_STAMP) $(OWN_GEN_C) $(OWN_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARN) -c $< -o $@

$(BUILD)/obj/test/%.o: test/%.c $(GEN_STAMP) $(OWN_GEN_C) $(OWN_GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Itest $(CFLAGS) $(WARN) -c $< -o $@

$(BUILD)/obj/gen-own/%.o: $(BUILD)/gen-own/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=c11 $(OPT) $(SAN) -w -I$(GEN) -I$(BUILD)/gen-own $(PKG_CFLAGS) -c $< -o $@

$(SCHEMA_GEN_C): $(SCHEMA_SQL) schema/embed.sh
	@mkdir -p $(dir $@)
	schema/embed.sh $(SCHEMA_SQL) >$@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen-own/td_schema_migrations.o: $(SCHEMA_GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -w -c $< -o $@

# The HTTP API's route table, from the google.api.http annotations of the service protos.
HTTP_ROUTES_C := $(BUILD)/gen-own/td_http_routes.c
SRC_O         += $(BUILD)/obj/gen-own/td_http_routes.o
HTTP_PROTOS   := $(APIDIR)/protos/api_upstream/temporal/api/workflowservice/v1/service.proto \
                 $(APIDIR)/protos/api_upstream/temporal/api/operatorservice/v1/service.proto
$(HTTP_ROUTES_C): $(GEN_STAMP) scripts/gen-http-routes.sh
	@mkdir -p $(dir $@)
	scripts/gen-http-routes.sh $(HTTP_PROTOS) >$@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen-own/td_http_routes.o: $(HTTP_ROUTES_C)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -w -c $< -o $@

# The Web UI's files, embedded into the binary (src/roles/frontend/fe_ui.c).
UI_FILES  := $(sort $(wildcard src/ui/*))
UI_GEN_C  := $(BUILD)/gen-own/td_ui_assets.c
SRC_O     += $(BUILD)/obj/gen-own/td_ui_assets.o
$(UI_GEN_C): $(UI_FILES) scripts/embed-ui.sh
	@mkdir -p $(dir $@)
	scripts/embed-ui.sh $(UI_FILES) >$@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen-own/td_ui_assets.o: $(UI_GEN_C)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -w -c $< -o $@

$(BUILD)/libtemporald.a: $(SRC_O)
	@rm -f $@ && ar rcs $@ $^

$(BUILD)/temporald: $(BUILD)/obj/src/main.o $(BUILD)/libtemporald.a $(BUILD)/libtdapi.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test-unit: $(UNIT_O) $(BUILD)/libtemporald.a $(BUILD)/libtdapi.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test-store: $(STORE_O) $(BUILD)/libtemporald.a $(BUILD)/libtdapi.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Helper programs for the suites and benchmarks: test/progs/NAME.c -> $(BUILD)/progs/NAME,
# each linked with the whole of temporald (test servers, load generators, crash writers).
PROGS   := $(patsubst test/progs/%.c,$(BUILD)/progs/%,$(wildcard test/progs/*.c))
$(BUILD)/progs/%: $(BUILD)/obj/test/progs/%.o $(BUILD)/libtemporald.a $(BUILD)/libtdapi.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer drivers: test/fuzz/NAME.c -> build/fuzz/NAME, built with clang against a
# clang build of temporald (FLAVOUR=fuzz). `make fuzz-run` runs each for FUZZ_SECONDS.
FUZZ_SECONDS ?= 60
FUZZ_DRIVERS := $(patsubst test/fuzz/%.c,%,$(wildcard test/fuzz/*.c))

.DEFAULT_GOAL := all
# Generated sources are kept: make must not delete them as intermediates.
.SECONDARY: $(OWN_GEN_C) $(OWN_GEN_H) $(SCHEMA_GEN_C) $(HTTP_ROUTES_C) $(UI_GEN_C)
.PHONY: all tests test test-san bench fuzz fuzz-build fuzz-run install deps format clean help
all: $(BUILD)/temporald

tests: $(BUILD)/temporald $(BUILD)/test-unit $(BUILD)/test-store $(PROGS)

# Every suite of the project; prints one closing line "N passed, N failed".
test: tests
	BUILD=$(BUILD) scripts/test.sh

# The C suites, the process-level CLI suite and the SDK suite (on SQLite) under
# AddressSanitizer and UndefinedBehaviorSanitizer. TD_SAN=1 makes the SDK harness fail a test
# on any sanitizer report in the log of a temporald it ran (test/sdk/harness.mjs).
test-san:
	$(MAKE) SANITIZE=address,undefined tests
	BUILD=build/san-address-undefined TD_TEST_SUITES="$(or $(SAN_SUITES),unit cli store sdk)" \
	    ASAN_OPTIONS=detect_leaks=1 TD_SAN=1 TD_SDK_BACKENDS=sqlite scripts/test.sh

# The cluster suite (test/cluster/run.sh: processes on network-namespace hosts, one
# PostgreSQL): the short form, and the long form with every fault round and more load.
.PHONY: test-cluster test-cluster-long
test-cluster: tests
	BUILD=$(BUILD) TD_CLUSTER=1 test/cluster/run.sh $(BUILD)/temporald

test-cluster-long: tests
	BUILD=$(BUILD) TD_CLUSTER_LONG=1 test/cluster/run.sh $(BUILD)/temporald

ifeq ($(FLAVOUR),fuzz)
$(BUILD)/fuzzers/%: $(BUILD)/obj/test/fuzz/%.o $(BUILD)/libtemporald.a $(BUILD)/libtdapi.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
fuzz-build: $(patsubst %,$(BUILD)/fuzzers/%,$(FUZZ_DRIVERS))
endif

fuzz:
	$(MAKE) FLAVOUR=fuzz CC=clang SAN="-fsanitize=fuzzer-no-link,address,undefined" fuzz-build

fuzz-run: fuzz
	scripts/fuzz-run.sh build/fuzz/fuzzers $(FUZZ_SECONDS)

bench: all $(PROGS)
	BUILD=$(BUILD) scripts/bench.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/temporald/schema
	install -m 755 $(BUILD)/temporald $(DESTDIR)$(PREFIX)/bin/temporald
	cp -r schema/. $(DESTDIR)$(PREFIX)/share/temporald/schema/
	install -d $(DESTDIR)$(PREFIX)/share/temporald/conf
	install -m 644 conf/*.ini $(DESTDIR)$(PREFIX)/share/temporald/conf/

deps:
	scripts/deps.sh all

format:
	clang-format -i $$(find src test -name '*.[ch]')

clean:
	rm -rf build/release build/debug build/san-* build/fuzz build/gen

help:
	@sed -n '3,13p' Makefile

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
