# SPDX-License-Identifier: LGPL-2.1-or-later
# guest-agent/guestd.mk — hybond-guestd, the guest agent (see docs/guest-agent.md).
#
#   $(B)/bin/hybond-guestd        the daemon, --status client and --capture tool
#   $(B)/tests/test_guest_*       CUnit tests: pairing and state machine on captured
#                                 kernel messages (tests/data/netlink), message bytes

GUESTD_DIR  := guest-agent
# Pure logic (no syscalls): unit-tested.
GUESTD_CORE := $(GUESTD_DIR)/link.c $(GUESTD_DIR)/pair.c $(GUESTD_DIR)/agent.c \
               $(GUESTD_DIR)/nlbuild.c $(GUESTD_DIR)/config.c $(GUESTD_DIR)/log.c \
               $(GUESTD_DIR)/announce.c $(GUESTD_DIR)/shim.c
# The live system: netlink sockets, the real gd_ops, control socket, main loop.
GUESTD_SRCS := $(GUESTD_CORE) $(GUESTD_DIR)/nlsock.c $(GUESTD_DIR)/sys.c \
               $(GUESTD_DIR)/ctl.c $(GUESTD_DIR)/main.c
GUESTD_OBJS := $(GUESTD_SRCS:%.c=$(B)/obj/%.o)
GUESTD_CORE_OBJS := $(GUESTD_CORE:%.c=$(B)/obj/%.o)
GUESTD_BIN  := $(B)/bin/hybond-guestd
GUESTD_LIBS  = $(or $(call pc_libs,libmnl),-lmnl) $(or $(call pc_libs,jansson),-ljansson)

GUESTD_TESTS := $(B)/tests/test_guest_pair $(B)/tests/test_guest_agent $(B)/tests/test_guest_msgs
GUESTD_TEST_SRCS := tests/unit/test_guest_pair.c tests/unit/test_guest_agent.c \
                    tests/unit/test_guest_msgs.c tests/unit/test_guest_util.c

BINS       += $(GUESTD_BIN)
UNIT_TESTS += $(GUESTD_TESTS)
LINT_SRCS  += $(GUESTD_SRCS) $(GUESTD_TEST_SRCS)

$(GUESTD_OBJS) $(GUESTD_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(call pc_cflags,libmnl jansson)
$(GUESTD_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(call pc_cflags,cunit)
$(GUESTD_TEST_SRCS:%.c=$(B)/obj/%.o): CPPFLAGS += -DGD_DATA_DIR='"$(CURDIR)/tests/data/netlink"'

$(GUESTD_BIN): $(GUESTD_OBJS) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(GUESTD_LIBS) $(PROTO_LDLIBS)

$(B)/tests/test_guest_%: $(B)/obj/tests/unit/test_guest_%.o $(B)/obj/tests/unit/test_guest_util.o \
		$(GUESTD_CORE_OBJS) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(GUESTD_LIBS) $(PROTO_LDLIBS)

# make install-guest (host-agent/hostd/install.mk has the directories): the agent, its
# unit (ExecStart pointed at $(SBINDIR)), the udev rule that starts it when the port
# org.hybond.0 appears, a commented guest.conf (an existing one is kept), its man page
.PHONY: install-guest
install-guest: $(GUESTD_BIN)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(SYSCONFDIR)/hybond
	$(INSTALL) -m 0755 $(GUESTD_BIN) $(DESTDIR)$(SBINDIR)/
	sed 's|/usr/sbin/hybond-guestd|$(SBINDIR)/hybond-guestd|' \
		$(GUESTD_DIR)/systemd/hybond-guestd.service > $(DESTDIR)$(UNITDIR)/hybond-guestd.service
	$(INSTALL) -m 0644 $(GUESTD_DIR)/systemd/60-hybond-guestd.rules $(DESTDIR)$(UDEVRULESDIR)/
	$(INSTALL) -m 0644 $(GUESTD_DIR)/hybond-guestd.8 $(DESTDIR)$(MANDIR)/man8/
	$(INSTALL) -m 0644 $(GUESTD_DIR)/guest.conf.5 $(DESTDIR)$(MANDIR)/man5/
	@if [ ! -e $(DESTDIR)$(SYSCONFDIR)/hybond/guest.conf ]; then \
		echo "$(INSTALL) -m 0644 guest.conf $(DESTDIR)$(SYSCONFDIR)/hybond/guest.conf"; \
		$(INSTALL) -m 0644 $(GUESTD_DIR)/systemd/guest.conf $(DESTDIR)$(SYSCONFDIR)/hybond/guest.conf; \
	else echo "$(DESTDIR)$(SYSCONFDIR)/hybond/guest.conf exists: kept"; fi
