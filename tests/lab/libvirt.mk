# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/lab/libvirt.mk — two libvirtd on the migration lab (tests/lab/lvlab; docs/lab.md,
# "Two libvirtd"; docs/libvirt.md). All targets need root; B is the build directory (its
# lab/ holds the guest image, as for tests/lab/lab).
#
#   make demo-libvirt                one `virsh migrate` A->B under hybond-probe traffic per
#                                    way: plain (no hybond), reactive (hybond, source not
#                                    warned), hook (virsh migrate + hybond's qemu hook),
#                                    hybond-migrate (hybond migrate, libvirt backend); per
#                                    mode the loss per direction and the event timeline,
#                                    then the modes side by side
#   make check-lab                   also: hook, reactive and hybond-migrate, one run each,
#                                    --check (fast path on the destination, nothing left on
#                                    the source; hook and hybond-migrate: no loss outside
#                                    the stop-and-copy floor), each after a restart of the
#                                    source's libvirtd under the running VM (hybond-hostd
#                                    must reconnect); JSON in $(B)/lab/libvirt-*.json
#   make check-lab                   also: tests/lab/libvirt_ops.py --check: `hybond snapshot`
#                                    of a libvirt failover VM under 1000 pps each way (no
#                                    loss, libvirt's save image, libvirt sane after), then
#                                    `virsh restore` of the file; $(B)/lab/libvirt-snapshot.json
#   make bench-libvirt R=5           R runs per mode: $(B)/bench/libvirt-*.json and the
#                                    docs/benchmarks.md table ($(B)/bench/libvirt.md)
#   make lvlab-up / lvlab-down       the two libvirtd by hand
#   make check-lab-libvirt-plain     one plain `virsh migrate` (the baseline; loss not asserted)
#
# A private lab beside somebody else's: HBL_PREFIX=lv- HBL_RUN=/run/hybond-lab-lv
# HBL_OUT=$(B)/lab (exported by the caller).

LVLAB := tests/lab/lvlab
LVLAB_BINS = $(filter %/hybond-probe %/hybond-guestd,$(BINS))
LV_LAB_BINS = $(B)/bin/hybond-hostd $(B)/bin/hybond $(B)/bin/hybond-libvirt-hook \
              $(B)/bin/hybond-probe
LV_MIGRATE := /usr/bin/python3 tests/lab/libvirt_migrate.py

.PHONY: lvlab-up lvlab-down check-lab-libvirt-plain demo-libvirt bench-libvirt

lvlab-up: lab-build
	B=$(B) $(LVLAB) up

lvlab-down:
	B=$(B) $(LVLAB) down

check-lab-libvirt-plain: deps-auto lab-build $(LVLAB_BINS)
	B=$(B) $(LV_MIGRATE) --mode plain --runs 1 --out $(B)/lab/libvirt-plain.json

demo-libvirt: deps-auto lab-build $(LV_LAB_BINS)
	B=$(B) $(LV_MIGRATE) --modes plain,reactive,hook,hybond-migrate --runs 1 --out $(B)/lab

check-lab:: deps-auto lab-build $(LV_LAB_BINS)
	B=$(B) $(LV_MIGRATE) --modes hook,reactive,hybond-migrate --runs 1 --check \
		--restart-libvirtd --out $(B)/lab

check-lab:: deps-auto lab-build $(LV_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/libvirt_ops.py --check \
		--out $(B)/lab/libvirt-snapshot.json

bench-libvirt: deps-auto lab-build $(LV_LAB_BINS)
	B=$(B) $(LV_MIGRATE) --modes plain,reactive,hook,hybond-migrate --runs $(R) \
		--out $(B)/bench
	B=$(B) $(LV_MIGRATE) --report $(B)/bench > $(B)/bench/libvirt.md
	@echo "the docs/benchmarks.md table: $(B)/bench/libvirt.md"
