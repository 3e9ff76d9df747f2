# capstan: one top-level Makefile.
#
#   make              build user space (build/bin) and BPF objects (build/bpf)
#   make deps         install the Debian packages (a no-op when present)
#   make test         every test layer: unit (+ASan/UBSan), bpf, integration, e2e
#   make test-unit | test-unit-asan | test-bpf | test-integration | test-e2e
#   make up / down    a local cluster
#   V=1               show the commands
#
# Every output goes under build/. Sources are found by wildcard: a new lib/
# module or test file needs no Makefile change; a new binary needs one line in
# the BINARIES section.

.DELETE_ON_ERROR:
.SUFFIXES:
MAKEFLAGS += --no-builtin-rules

BUILD ?= build
V ?= 0
ifeq ($(V),1)
Q :=
say := @true
else
Q := @
say := @printf '  %-9s %s\n'
endif

CC := gcc
CLANG := clang
BPFTOOL := bpftool
DEPS_STAMP := $(BUILD)/.deps

# Libraries every user-space object may use. Recursive (=) on purpose: the
# pkg-config calls run only when a recipe needs them, after `deps` installed
# the packages.
PKGS := libbpf libelf zlib libmicrohttpd jansson libcurl yaml-0.1 sqlite3 \
	libprotobuf-c libnghttp2 libnl-3.0 libnl-route-3.0
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))

WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes \
	-Wmissing-prototypes -Wno-unused-parameter
CFLAGS_BASE = -std=gnu11 -D_GNU_SOURCE -g $(WARN) -I. -Ilib -I$(BUILD)/bpf \
	-Ibpf/include -Itests/harness $(PKG_CFLAGS) -MMD -MP
CFLAGS ?= -O2
LDLIBS = -Wl,--as-needed $(PKG_LIBS) -lpthread -lm
SAN_FLAGS := -O1 -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined

# ---------------------------------------------------------------- sources

LIB_SRCS := $(wildcard lib/*.c)
HARNESS_SRCS := $(wildcard tests/harness/*.c)
UNIT_SRCS := $(wildcard tests/unit/*.c)
BPFTEST_SRCS := $(wildcard tests/bpf/*.c)
BPF_SRCS := $(wildcard bpf/*.bpf.c)

# BINARIES: name := sources of its entry point and private modules.
BINARIES := capstan
capstan_SRCS := $(wildcard cli/*.c)

# ---------------------------------------------------------------- outputs

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
asan_obj = $(patsubst %.c,$(BUILD)/asan/%.o,$(1))

LIB_OBJS := $(call obj,$(LIB_SRCS))
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))
VMLINUX := $(BUILD)/bpf/vmlinux.h
BIN_PATHS := $(addprefix $(BUILD)/bin/,$(BINARIES))
UNIT_BIN := $(BUILD)/tests/unit-tests
UNIT_ASAN_BIN := $(BUILD)/tests/unit-tests-asan
BPFTEST_BIN := $(BUILD)/tests/bpf-tests

.PHONY: all deps bpf test test-unit test-unit-asan test-bpf test-integration \
	test-e2e tests-build up down clean format
all: $(BIN_PATHS) $(BPF_OBJS)

# `deps` is cheap (one dpkg-query) and runs first whenever a build does; the
# stamp is order-only so it never forces a rebuild.
deps:
	$(Q)bash mk/deps.sh
$(DEPS_STAMP): mk/deps.sh
	$(Q)bash mk/deps.sh
	$(Q)mkdir -p $(@D) && touch $@

# ---------------------------------------------------------------- BPF

$(VMLINUX): | $(DEPS_STAMP)
	$(say) GEN $@
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Wextra -Werror \
	-Wno-unused-parameter -I$(BUILD)/bpf -Ibpf/include -MMD -MP

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(VMLINUX) | $(DEPS_STAMP)
	$(say) BPF $@
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(say) SKEL $@
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*) > $@

bpf: $(BPF_OBJS) $(SKELS)

# ---------------------------------------------------------------- user space

# Every user-space object may include a skeleton: generate them first.
$(BUILD)/obj/%.o: %.c | $(DEPS_STAMP) $(SKELS)
	$(say) CC $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_BASE) $(CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c | $(DEPS_STAMP) $(SKELS)
	$(say) CC-SAN $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS_BASE) $(SAN_FLAGS) -c $< -o $@

$(BUILD)/lib/libcapstan.a: $(LIB_OBJS)
	$(say) AR $@
	$(Q)mkdir -p $(@D)
	$(Q)rm -f $@ && ar rcs $@ $^

define binary_rule
$(BUILD)/bin/$(1): $(call obj,$($(1)_SRCS)) $(BUILD)/lib/libcapstan.a
	$$(say) LD $$@
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(CC) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach b,$(BINARIES),$(eval $(call binary_rule,$(b))))

# ---------------------------------------------------------------- tests

$(UNIT_BIN): $(call obj,$(UNIT_SRCS) $(HARNESS_SRCS)) $(BUILD)/lib/libcapstan.a
	$(say) LD $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LDLIBS)

$(UNIT_ASAN_BIN): $(call asan_obj,$(UNIT_SRCS) $(HARNESS_SRCS) $(LIB_SRCS))
	$(say) LD $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

$(BPFTEST_BIN): $(call obj,$(BPFTEST_SRCS) $(HARNESS_SRCS)) $(BUILD)/lib/libcapstan.a
	$(say) LD $@
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) -o $@ $^ $(LDLIBS)

tests-build: all $(UNIT_BIN) $(UNIT_ASAN_BIN) $(BPFTEST_BIN)

# `make test` runs every layer even when one fails, then fails if any did.
test: tests-build
	$(Q)bash tests/run-layers.sh unit unit-asan bpf integration e2e

test-unit: $(UNIT_BIN)
	$(Q)bash tests/run-layers.sh unit
test-unit-asan: $(UNIT_ASAN_BIN)
	$(Q)bash tests/run-layers.sh unit-asan
test-bpf: all $(BPFTEST_BIN)
	$(Q)bash tests/run-layers.sh bpf
test-integration: all
	$(Q)bash tests/run-layers.sh integration
test-e2e: all
	$(Q)bash tests/run-layers.sh e2e

# ---------------------------------------------------------------- cluster

DATA_DIR ?= $(CURDIR)/data
up: all
	$(Q)$(BUILD)/bin/capstan up --data-dir $(DATA_DIR)
down: all
	$(Q)$(BUILD)/bin/capstan down --data-dir $(DATA_DIR) $(if $(PURGE),--purge)

# ---------------------------------------------------------------- misc

format:
	$(Q)clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
