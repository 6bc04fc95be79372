# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/lab/lab.mk — the migration lab (see docs/lab.md).
#
#   make lab-build        guest kernel + initramfs in $(B)/lab (with hybond-probe and
#                         hybond-guestd when their makefiles build them)
#   make check-lab        the lab smoke test (root; QEMU TCG; about a minute)
#   make demo             one migration under traffic without and with hybond, side by side
#   make bench-baseline   R migrations (default 5) per case of the plain-QEMU baseline:
#                         $(B)/bench/baseline.json and baseline.md
#
# The lab itself is tests/lab/lab (up, down, status, vm, migrate).

R ?= 5
LAB      := tests/lab/lab
# Guest binaries registered by other components (expanded when a recipe runs, so
# makefiles included after this one count too).
LAB_BINS  = $(filter %/hybond-probe %/hybond-guestd,$(BINS))

.PHONY: lab-build lab-down

lab-build:
	$(if $(strip $(LAB_BINS)),$(MAKE) --no-print-directory $(LAB_BINS))
	B=$(B) $(LAB) build

lab-down:
	B=$(B) $(LAB) down

check-lab:: deps-auto
	$(if $(strip $(LAB_BINS)),$(MAKE) --no-print-directory $(LAB_BINS))
	B=$(B) tests/lab/smoke.sh

# The main job: plain QEMU failover and hybond, one migration each, side by side.
demo: deps-auto lab-build $(HOSTD_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/demo.py

bench-baseline: deps-auto
	$(if $(strip $(LAB_BINS)),$(MAKE) --no-print-directory $(LAB_BINS))
	B=$(B) /usr/bin/python3 tests/lab/bench.py --runs $(R) --out $(B)/bench

# --- hybond guest agent: the host side of a switch (tests/lab/agent_switch.py) -------------
#   make check-lab        also: 1 switch cycle + 1 migration per guest mode (failover, bond)
#                         and the edge cases, against hybond-guestd
#   make bench-guest R=5  R cycles + R migrations per mode: $(B)/bench/guest.json, guest.md
#                         and the "switch in the right order" section of docs/benchmarks.md
AGENT_LAB_BINS = $(B)/bin/hybond-guestctl $(B)/bin/hybond-probe

.PHONY: bench-guest

check-lab:: deps-auto lab-build $(AGENT_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/agent_switch.py check

bench-guest: deps-auto lab-build $(AGENT_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/agent_switch.py bench --runs $(R) --out $(B)/bench
