# binrelay - parallel compilation for a fleet of compiler pods.
#
#   make            bin/builder and bin/sidecar
#   make demo       a local fleet of 3 workers on loopback
#   make test       unit tests (cmocka) and end-to-end tests
#   make lint       clang-format, cppcheck, gcc and clang with -Werror
#   make test-asan  make test under AddressSanitizer and UBSan
#   make test-faults  the long fault-injection cases
#   make fuzz       each libFuzzer target for a bounded time
#   make bench      benchmarks against baselines -> docs/BENCHMARKS.md

CC      ?= cc
BUILD   ?= build
BIN     ?= bin
PKGS    := libcurl libmicrohttpd jansson libxxhash
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
# gcc warns of every snprintf that may cut; binrelay cuts on purpose.
ifeq ($(findstring clang,$(shell $(CC) --version 2>/dev/null)),)
WARN    += -Wno-format-truncation
endif
OPT     ?= -O2 -g
CFLAGS  += $(OPT) -std=gnu11 $(WARN) -D_GNU_SOURCE -Ishared \
           $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

SHARED_SRC  := $(wildcard shared/*.c)
BUILDER_SRC := $(wildcard builder/*.c)
SIDECAR_SRC := $(wildcard sidecar/*.c)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
TOOL_SRC    := $(wildcard tests/tools/*.c)

obj = $(patsubst %.c,$(BUILD)/%.o,$(1))
# Modules a unit test may link: everything but each daemon's main.
LIB_OBJ := $(call obj,$(SHARED_SRC)) \
           $(call obj,$(filter-out builder/main.c,$(BUILDER_SRC))) \
           $(call obj,$(filter-out sidecar/main.c,$(SIDECAR_SRC)))

DEB_BUILD := gcc make pkg-config libcurl4-openssl-dev libmicrohttpd-dev \
             libjansson-dev libxxhash-dev
DEB_TEST  := libcmocka-dev curl jq openssl xxhash iproute2 procps psmisc \
             clang libclang-rt-14-dev \
             ccache sccache redis-server unzip e2fsprogs

.PHONY: all deps deps-test demo test test-unit test-e2e test-asan \
        test-faults lint fuzz bench reliability clean

all: $(BIN)/builder $(BIN)/sidecar

# Order-only: the libraries are installed first when missing, and a
# build on a machine that has them costs one dpkg query per package.
$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

$(BIN)/builder: $(call obj,$(BUILDER_SRC) $(SHARED_SRC))
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/sidecar: $(call obj,$(SIDECAR_SRC) $(SHARED_SRC))
	@mkdir -p $(BIN)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# -iquote: builder/sched.h must not hide the system's <sched.h>.
$(BUILD)/tests/unit/%: tests/unit/%.c $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -iquote builder -iquote sidecar -o $@ $^ $(LDLIBS) \
	    -lcmocka

$(BUILD)/tests/tools/%: tests/tools/%.c $(call obj,$(SHARED_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))
TOOL_BIN := $(patsubst tests/tools/%.c,$(BUILD)/tests/tools/%,$(TOOL_SRC))

# Installs whatever Debian packages are missing; quiet when none are.
deps:
	@missing=; for p in $(DEB_BUILD) $(DEPS_EXTRA); do \
	    dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

deps-test:
	@$(MAKE) --no-print-directory deps DEPS_EXTRA="$(DEB_TEST)"

demo: deps
	@$(MAKE) --no-print-directory all
	@tests/demo.sh

test: deps-test
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(TOOL_BIN)
	@BIN=$(BIN) BUILD=$(BUILD) tests/run.sh $(TESTS)

test-unit: all $(UNIT_BIN)
	@BIN=$(BIN) BUILD=$(BUILD) tests/run.sh unit

test-faults: deps-test
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(TOOL_BIN)
	@BIN=$(BIN) BUILD=$(BUILD) tests/run.sh faults

SAN := -fsanitize=address,undefined -fno-omit-frame-pointer \
       -fno-sanitize-recover=undefined
test-asan: deps-test
	@$(MAKE) --no-print-directory test BUILD=build/asan BIN=build/asan/bin \
	    OPT="-O1 -g $(SAN)" LDFLAGS="$(SAN)"

lint: deps-test
	clang-format --dry-run -Werror shared/*.[ch] builder/*.[ch] \
	    sidecar/*.[ch] tests/unit/*.c tests/tools/*.c tests/fuzz/*.c \
	    tests/bench/brb.c
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	    --inline-suppr -D__GNUC__ -Ishared shared builder sidecar
	$(MAKE) --no-print-directory all BUILD=build/gcc BIN=build/gcc/bin CC=gcc
	$(MAKE) --no-print-directory all BUILD=build/clang BIN=build/clang/bin \
	    CC=clang

# libFuzzer: each target for FUZZ_SECONDS, from its seed corpus.
FUZZ_SECONDS ?= 30
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_LIB := $(SHARED_SRC) sidecar/route.c sidecar/request.c
fuzz: deps-test
	@mkdir -p build/fuzz
	@set -e; for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); t=$${n#fuzz_}; \
	    clang -g -O1 -std=gnu11 -D_GNU_SOURCE -Ishared -Isidecar \
	        -fsanitize=fuzzer,address,undefined -o build/fuzz/$$n \
	        $$f $(FUZZ_LIB) $(LDLIBS); \
	    mkdir -p build/fuzz/corpus-$$t; \
	    echo "fuzzing $$t for $(FUZZ_SECONDS) s"; \
	    build/fuzz/$$n -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	        -artifact_prefix=build/fuzz/$$n- \
	        build/fuzz/corpus-$$t tests/fuzz/corpus/$$t \
	        2>build/fuzz/$$n.log || { tail -n 30 build/fuzz/$$n.log; \
	        exit 1; }; \
	    grep -E '^Done [0-9]+ runs' build/fuzz/$$n.log || true; \
	done

# docs/RELIABILITY.md, from the checks of a full run of every scenario.
reliability: deps-test
	@$(MAKE) --no-print-directory all $(UNIT_BIN) $(TOOL_BIN)
	@BIN=$(BIN) BUILD=$(BUILD) tests/run.sh e2e faults || true
	@tests/reliability.sh

bench: deps-test
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

clean:
	rm -rf $(BUILD) $(BIN)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
