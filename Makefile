# SPDX-License-Identifier: LGPL-2.1-or-later
# hybond — top-level GNU Makefile (no autotools).
#
#   make              build the programs into build/bin (no test, no test-only package)
#   make tests        build the unit tests (CUnit) too
#   make check        every test the project has (installs missing Debian packages)
#   make demo         the lab migration drill with its measured table
#   make demo-libvirt `virsh migrate` between two libvirtd: plain, reactive, with hybond's
#                     hook, and hybond migrate, side by side (tests/lab/libvirt.mk)
#   make deps         install the Debian packages the project needs
#   make lint         cppcheck + clang-tidy on the project's sources (part of make check)
#   make fuzz FUZZ_SECONDS=N   run the libFuzzer targets for N seconds each
#
# Variables: CC (gcc or clang), B (build directory), SAN=asan (ASan+UBSan build).
# Each component adds its targets in its own <dir>/*.mk, included below.

B        ?= build
CC       ?= gcc
SAN      ?=
FUZZ_SECONDS ?= 60
# the fuzz run inside `make check` is kept short (the issue's bound is 60 s)
CHECK_FUZZ_SECONDS ?= 20

# hybond's version: the one place (hybond/version.h; every program's --version)
HYBOND_VERSION := 0.2.0
PKGS     := jansson libmnl libnl-route-3.0 cunit zlib gnutls
WARN     := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wpointer-arith \
            -Wstrict-prototypes -Wmissing-prototypes -Wvla
# Headers from another folder are included by repository path
# ("host-agent/hostd/esw/esw.h"), so same-named headers never shadow each other.
CPPFLAGS += -D_GNU_SOURCE -Iproto/include -I. -DHYBOND_VERSION='"$(HYBOND_VERSION)"'
CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 $(WARN) -fno-common
ifeq ($(SAN),asan)
CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=address,undefined
endif

# pkg-config is only asked when something links against these libraries.
pc_cflags = $(shell pkg-config --cflags $(1) 2>/dev/null)
pc_libs   = $(shell pkg-config --libs $(1) 2>/dev/null)

# Filled in by the component makefiles.
LIBS_ALL   :=
BINS       :=
UNIT_TESTS :=
FUZZERS    :=
LINT_SRCS  :=

.PHONY: all tests deps deps-auto run-unit check check-build check-layout check-unit check-asan check-valgrind \
        check-fuzz check-net check-lab lint fuzz demo clean bench-baseline
.DEFAULT_GOAL := all

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

include proto/proto.mk
include guest-agent/guestd.mk
include tests/unit/unit.mk
include tests/fuzz/fuzz.mk
include host-agent/probe/hybond-probe.mk
include host-agent/common/common.mk
include host-agent/guestctl/hybond-guestctl.mk
include host-agent/hostd/libhybond-host.mk
include host-agent/hostd/hv/lv_xml.mk
include host-agent/libvirt-hook/hybond-libvirt-hook.mk
include host-agent/hostd/hv/hv_libvirt.mk
include host-agent/hostd/hybond-hostd.mk
include host-agent/cli/hybond.mk
include host-agent/hostd/install.mk
include tests/net/net.mk
include tests/lab/lab.mk
include tests/lab/libvirt.mk
include tests/lab/shim.mk
include kmod-shim/kmod.mk

# `make` builds what `make install` installs (and the lab's tools); the tests need
# CUnit, a test-only package, and are built by `make tests` and every check target.
all: $(LIBS_ALL) $(BINS)

tests: $(UNIT_TESTS)

deps:
	tools/deps.sh

# Run by check/demo: installs only if something is missing.
deps-auto:
	@tools/deps.sh --check 2>/dev/null || tools/deps.sh

# --- tests -----------------------------------------------------------------
check: deps-auto
	$(MAKE) check-build
	$(MAKE) lint
	$(MAKE) check-unit
	$(MAKE) check-asan
	$(MAKE) check-valgrind
	$(MAKE) check-fuzz
	$(MAKE) check-net
	$(MAKE) check-lab
	@echo "hybond: make check passed"

# Both compilers must build the tree warning-free; no include cycle among the modules.
check-build: check-layout
	$(MAKE) all tests
	$(MAKE) B=build/clang CC=clang all tests

check-layout:
	tools/include-cycles.py host-agent guest-agent proto
	tools/spdx-check.sh

# Unit tests print CUnit's summary; any failure makes the binary exit non-zero.
run-unit: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== $$t"; \
		ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $$t; done

check-unit: run-unit

check-asan:
	$(MAKE) B=build/asan SAN=asan run-unit

check-valgrind: $(UNIT_TESTS)
	@set -e; for t in $(UNIT_TESTS); do echo "== valgrind $$t"; \
		valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all \
		  --show-leak-kinds=all --suppressions=tests/unit/libvirt.supp $$t >/dev/null; done

check-fuzz:
	@if command -v clang >/dev/null; then $(MAKE) fuzz FUZZ_SECONDS=$(CHECK_FUZZ_SECONDS); \
	 else echo "clang not installed: fuzz step skipped"; fi

# Components add recipes to these with double-colon rules.
check-net::
check-lab::

lint: check-layout
	tools/lint.sh $(sort $(LINT_SRCS))

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
