# SPDX-License-Identifier: GPL-2.0
# kmod-shim/kmod.mk — hybond_shim.ko, the optional guest kernel module (docs/kmod-shim.md).
#
#   make kmod         the module for both lab guest kernel series (6.1 and 6.12):
#                     $(B)/kmod/KVER/hybond_shim.ko, built in a copy of the sources
#                     ($(B)/kmod/KVER/src) so kmod-shim/ stays clean
#   make check-kmod   the same with warnings as errors (Kbuild's ccflags), sparse
#                     (C=2; any sparse warning fails) and checkpatch --strict;
#                     part of `make check` (check-net)
#   make check-dkms   kmod-shim/dkms-check.sh: dkms.conf used as a distribution
#                     package would (sources in /usr/src/NAME-VERSION, dkms add,
#                     build and install for both guest kernels, modinfo -k checks),
#                     then everything removed and restored; root, Debian's dkms
#                     (apt-get install dkms), ~25 s. NOT part of `make check`: it
#                     writes to /usr/src, /var/lib/dkms and /lib/modules/KVER (put
#                     back afterwards) and needs a package whose kernel hooks
#                     rebuild DKMS modules on every kernel install. Logs in
#                     $(B)/kmod/dkms
#   $(B)/bin/hybond-shimctl   genetlink test tool (monitor, status, pin, unpin),
#                     packed into the lab guest
#
# The kernel versions come from kmod-shim/kvers.sh: the same resolution
# tests/lab/build.sh uses for the guest kernel, so the packed module matches it.

KMOD_DIR     := kmod-shim
KMOD_SRCS    := $(addprefix $(KMOD_DIR)/,Kbuild hb_main.c hb_pair.c hb_genl.c hb_shim.h hybond_genl.h)
KMOD_OUT      = $(abspath $(B))/kmod
# checkpatch.pl comes from Debian's linux-source-6.12 (tarball in /usr/src)
KMOD_LINUX_SRC_TAR := /usr/src/linux-source-6.12.tar.xz
KMOD_CHECKPATCH     = $(KMOD_OUT)/checkpatch/scripts/checkpatch.pl
# Qdisc is the kernel's own type name; checkpatch without a tree cannot know.
# It runs in its own directory (its caches land there, with an empty include/).
KMOD_CHECKPATCH_FLAGS := --no-tree --strict --terse --ignore CAMELCASE

SHIMCTL_SRCS := $(KMOD_DIR)/shimctl.c
SHIMCTL_BIN  := $(B)/bin/hybond-shimctl
BINS      += $(SHIMCTL_BIN)
LINT_SRCS += $(SHIMCTL_SRCS)

$(SHIMCTL_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(call pc_cflags,libmnl)

# guest-agent/shim.o: the request builder and nlctrl parser hybond-guestd uses
$(SHIMCTL_BIN): $(SHIMCTL_SRCS:%.c=$(B)/obj/%.o) $(B)/obj/guest-agent/shim.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(or $(call pc_libs,libmnl),-lmnl)

.PHONY: kmod check-kmod check-dkms kmod-clean

# kmod_build EXTRA: one Kbuild run per guest kernel; EXTRA goes to Kbuild's make.
# make's own lines ("make[1]: warning: jobserver unavailable" under -j) are not
# compiler warnings.
define kmod_build
	@set -e; lines=$$($(KMOD_DIR)/kvers.sh); \
	[ -n "$$lines" ] || { echo "kmod-shim: no kernel headers installed (make deps): nothing built"; exit 0; }; \
	echo "$$lines" | while read -r kver hdr; do \
		src=$(KMOD_OUT)/$$kver/src; mkdir -p $$src; \
		cp -p $(KMOD_SRCS) $$src/; \
		echo "kmod-shim: $$kver ($$hdr)"; \
		$(MAKE) --no-print-directory -C $$hdr M=$$src $(1) modules >$$src/build.log 2>&1 || \
			{ cat $$src/build.log; exit 1; }; \
		grep -v '^make\|Skipping BTF generation' $$src/build.log || true; \
		if grep -v '^make' $$src/build.log | grep -E ': (warning|error):' >/dev/null; then \
			echo "kmod-shim: $$kver: warnings (above)"; exit 1; fi; \
		cp $$src/hybond_shim.ko $(KMOD_OUT)/$$kver/hybond_shim.ko; \
	done
endef

kmod:
	$(call kmod_build,)

check-kmod:
	$(call kmod_build,C=2)
	@set -e; \
	if [ ! -f $(KMOD_CHECKPATCH) ] && [ -f $(KMOD_LINUX_SRC_TAR) ]; then \
		mkdir -p $(KMOD_OUT)/checkpatch; \
		tar -xJf $(KMOD_LINUX_SRC_TAR) -C $(KMOD_OUT)/checkpatch --strip-components=1 \
			--wildcards '*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
			'*/scripts/const_structs.checkpatch'; \
	fi; \
	if [ -f $(KMOD_CHECKPATCH) ]; then \
		mkdir -p $(KMOD_OUT)/checkpatch/include; \
		(cd $(KMOD_OUT)/checkpatch && perl $(KMOD_CHECKPATCH) $(KMOD_CHECKPATCH_FLAGS) \
			--root=$(KMOD_OUT)/checkpatch -f $(abspath $(KMOD_SRCS))) || exit 1; \
		echo "kmod-shim: checkpatch --strict clean"; \
	else echo "kmod-shim: $(KMOD_LINUX_SRC_TAR) missing (linux-source-6.12): checkpatch skipped"; fi
	@command -v sparse >/dev/null || echo "kmod-shim: sparse not installed: C=2 ran no checker"

check-dkms:
	DKMS_LOG=$(KMOD_OUT)/dkms HYBOND_VERSION=$(HYBOND_VERSION) $(KMOD_DIR)/dkms-check.sh

# make install-dkms [DESTDIR=…]: the module's sources where DKMS looks for them,
# /usr/src/hybond-shim-VERSION, with dkms.conf's version filled in (the
# hybond-shim-dkms package; by hand: then `dkms install hybond-shim/VERSION`)
DKMS_SRCDIR := /usr/src/hybond-shim-$(HYBOND_VERSION)
.PHONY: install-dkms
install-dkms:
	$(INSTALL) -d $(DESTDIR)$(DKMS_SRCDIR) $(DESTDIR)$(MODULESLOADDIR)
	$(INSTALL) -m 0644 $(KMOD_DIR)/hybond-shim.modules-load $(DESTDIR)$(MODULESLOADDIR)/hybond-shim.conf
	$(INSTALL) -m 0644 $(KMOD_SRCS) $(KMOD_DIR)/Makefile $(DESTDIR)$(DKMS_SRCDIR)/
	sed '/^PACKAGE_VERSION=/s/#MODULE_VERSION#/$(HYBOND_VERSION)/' $(KMOD_DIR)/dkms.conf > $(DESTDIR)$(DKMS_SRCDIR)/dkms.conf

kmod-clean:
	rm -rf $(KMOD_OUT)

check-net:: check-kmod
	@echo "kmod-shim: check-kmod passed"

# The lab guest carries the module (loaded with hybond.shim=1) and the tool.
lab-build: kmod $(SHIMCTL_BIN)
