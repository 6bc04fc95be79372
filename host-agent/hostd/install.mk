# SPDX-License-Identifier: LGPL-2.1-or-later
# host-agent/hostd/install.mk — `make install`: what an operator installs, GNU style.
#
#   make install [DESTDIR=/tmp/root] [PREFIX=/usr] [SYSCONFDIR=/etc]
#   make install-host    hybond-hostd, hybond, hybond-guestctl, hybond-probe, the libvirt
#                        hook (in $(LIBVIRT_HOOKDIR) as "hybond"), the unit, sysusers.d and
#                        tmpfiles.d entries, man pages, an example hostd.conf
#   make install-guest   hybond-guestd, its unit and udev rule, guest.conf, its man page
#                        (guest-agent/guestd.mk)
#   make install-dkms    hybond_shim's sources in /usr/src/hybond-shim-VERSION for DKMS,
#                        and its modules-load.d entry (kmod-shim/kmod.mk)
#
# Only programs, their man pages, units and examples: no test binary, no library (the
# programs link libhybond-* statically). An existing hostd.conf is never overwritten;
# the example goes to $(DOCDIR). systemd and libvirt read new units and hooks only when
# told: `systemctl daemon-reload`, `systemd-sysusers`, `systemd-tmpfiles --create`, and
# libvirtd (or virtqemud) restarted to see a new hook (docs/install.md).

PREFIX          ?= /usr/local
BINDIR          ?= $(PREFIX)/bin
SBINDIR         ?= $(PREFIX)/sbin
LIBEXECDIR      ?= $(PREFIX)/libexec
MANDIR          ?= $(PREFIX)/share/man
DOCDIR          ?= $(PREFIX)/share/doc/hybond
SYSCONFDIR      ?= /etc
UNITDIR         ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR     ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR     ?= $(PREFIX)/lib/tmpfiles.d
LIBVIRT_HOOKDIR ?= $(SYSCONFDIR)/libvirt/hooks/qemu.d
UDEVRULESDIR    ?= $(PREFIX)/lib/udev/rules.d
MODULESLOADDIR  ?= $(PREFIX)/lib/modules-load.d
INSTALL         ?= install

SUBST_DIRS  = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
		  -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g'

.PHONY: install install-host install-guest
install: install-host install-guest

install-host: $(B)/bin/hybond-hostd $(B)/bin/hybond $(B)/bin/hybond-guestctl \
	      $(B)/bin/hybond-probe $(LV_HOOK)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(LIBEXECDIR)/hybond $(DESTDIR)$(LIBVIRT_HOOKDIR) \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR) $(DESTDIR)$(SYSCONFDIR)/hybond
	$(INSTALL) -m 0755 $(B)/bin/hybond-hostd $(B)/bin/hybond-guestctl $(DESTDIR)$(SBINDIR)/
	$(INSTALL) -m 0755 $(B)/bin/hybond $(B)/bin/hybond-probe $(DESTDIR)$(BINDIR)/
	$(INSTALL) -m 0755 $(LV_HOOK) $(DESTDIR)$(LIBEXECDIR)/hybond/hybond-libvirt-hook
	ln -sf $(LIBEXECDIR)/hybond/hybond-libvirt-hook $(DESTDIR)$(LIBVIRT_HOOKDIR)/hybond
	$(SUBST_DIRS) host-agent/hostd/systemd/hybond-hostd.service.in \
		> $(DESTDIR)$(UNITDIR)/hybond-hostd.service
	$(INSTALL) -m 0644 host-agent/hostd/systemd/hybond.sysusers $(DESTDIR)$(SYSUSERSDIR)/hybond.conf
	$(INSTALL) -m 0644 host-agent/hostd/systemd/hybond.tmpfiles $(DESTDIR)$(TMPFILESDIR)/hybond.conf
	$(INSTALL) -m 0644 host-agent/probe/hybond-probe.1 $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 host-agent/hostd/hostd.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(INSTALL) -m 0644 host-agent/hostd/hybond-hostd.8 host-agent/cli/hybond.8 \
		host-agent/guestctl/hybond-guestctl.8 \
		host-agent/libvirt-hook/hybond-libvirt-hook.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 host-agent/hostd/systemd/hostd.conf.example $(DESTDIR)$(DOCDIR)/
	@if [ ! -e $(DESTDIR)$(SYSCONFDIR)/hybond/hostd.conf ]; then \
		echo "$(INSTALL) -m 0644 hostd.conf.example $(DESTDIR)$(SYSCONFDIR)/hybond/hostd.conf"; \
		$(INSTALL) -m 0644 host-agent/hostd/systemd/hostd.conf.example \
			$(DESTDIR)$(SYSCONFDIR)/hybond/hostd.conf; \
	else echo "$(DESTDIR)$(SYSCONFDIR)/hybond/hostd.conf exists: kept"; fi

# The unit and the installed tree, checked (make check): installed into an empty
# DESTDIR, tests/net/test_install.sh checks the files, the units (systemd-analyze) and
# runs the installed daemon as its unit does.
.PHONY: check-install
check-install: $(B)/bin/hybond-hostd $(B)/bin/hybond $(B)/bin/hybond-guestctl \
	       $(B)/bin/hybond-probe $(LV_HOOK) $(GUESTD_BIN)
	rm -rf $(CURDIR)/$(B)/destdir
	$(MAKE) --no-print-directory DESTDIR=$(CURDIR)/$(B)/destdir PREFIX=/usr \
		install-host install-guest install-dkms >/dev/null
	HYBOND_VERSION=$(HYBOND_VERSION) tests/net/test_install.sh $(CURDIR)/$(B)/destdir
check-net:: check-install

# make check-packages (in make check-lab; root): the three Debian packages built from a
# clean copy of the tree, lintian, installed with apt, a lab migration with the installed
# programs, purged with nothing left (tests/net/test_packages.sh; logs in $(B)/pkg/log)
.PHONY: check-packages
check-packages: deps-auto $(B)/bin/hybond-shimctl
	$(MAKE) --no-print-directory kmod
	HYBOND_VERSION=$(HYBOND_VERSION) tests/net/test_packages.sh $(B)
check-lab:: check-packages

# make check-man (in check-net): every installed man page complete (NAME, SYNOPSIS,
# DESCRIPTION, OPTIONS, EXIT STATUS, FILES, SIGNALS for the daemons, EXAMPLES, SEE ALSO
# naming installed pages), rendered by groff without a warning, read by lexgrog
MAN_PAGES := host-agent/probe/hybond-probe.1 host-agent/hostd/hostd.conf.5 \
	     guest-agent/guest.conf.5 host-agent/hostd/hybond-hostd.8 host-agent/cli/hybond.8 \
	     host-agent/guestctl/hybond-guestctl.8 host-agent/libvirt-hook/hybond-libvirt-hook.8 \
	     guest-agent/hybond-guestd.8
.PHONY: check-man
check-man:
	tools/man-check.sh $(MAN_PAGES)
check-net:: check-man
