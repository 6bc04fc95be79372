# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/lab/shim.mk — issue #8's proof: unplugs nobody announced, with and without the
# guest kernel module hybond_shim.ko (kmod-shim/, docs/kmod-shim.md), measured by
# tests/lab/shim_unplug.py. All targets need root (the lab; QEMU TCG).
#
#   make bench-shim R=5   the full matrix: per guest kernel (6.1 and 6.12) and guest kind
#                         (failover, bond) R unannounced unplugs (device_del from QEMU's
#                         second monitor, hybond-hostd running but not told, re-plug)
#                         with the shim and R without it, plus R plain QEMU failover
#                         migrations per kernel with and without the shim (daemons
#                         stopped); hybond-probe udp 1000 pps each way. One JSON per run,
#                         shim.json and the docs/benchmarks.md table shim.md in
#                         $(B)/bench/shim. Not a pass/fail target (no --check): the lead
#                         decides when the bar (0 lost at the unplug with the shim) holds.
#   make demo-shim        one unplug with and one without the shim, failover guest, 6.1,
#                         and one plain migration each way: $(B)/lab/shim
#   make check-lab        also: one unannounced unplug per guest kind (failover, bond; 6.1
#                         guest) with the shim — fails unless 0 are lost at the unplug in
#                         each direction — and one without it (loss reported; fails if
#                         hybond-hostd does not take the VM back to its fast path)
#
# The 6.12 guest image is built by the script (once, cached) in $(B)/lab-612
# (HBL_OUT_612) with HBL_KERNEL_META=linux-image-6.12-amd64; `make kmod` (a dependency
# of lab-build) builds the module for both kernels. A private lab beside somebody
# else's: HBL_PREFIX=x- HBL_RUN=/run/hybond-lab-x (exported by the caller).

SHIM_LAB_BINS = $(B)/bin/hybond-hostd $(B)/bin/hybond $(B)/bin/hybond-probe \
                $(B)/bin/hybond-guestd $(B)/bin/hybond-shimctl
SHIM_BENCH   := /usr/bin/python3 tests/lab/shim_unplug.py

.PHONY: bench-shim demo-shim

check-lab:: deps-auto lab-build $(SHIM_LAB_BINS)
	B=$(B) $(SHIM_BENCH) --scenarios unplug --modes failover,bond --kernels 6.1 \
		--shim on,off --runs 1 --check --report $(B)/lab/shim-check

bench-shim: deps-auto lab-build $(SHIM_LAB_BINS)
	B=$(B) $(SHIM_BENCH) --runs $(R) --report $(B)/bench/shim
	@echo "the docs/benchmarks.md table: $(B)/bench/shim/shim.md"

demo-shim: deps-auto lab-build $(SHIM_LAB_BINS)
	B=$(B) $(SHIM_BENCH) --kernels 6.1 --modes failover --runs 1 --report $(B)/lab/shim
