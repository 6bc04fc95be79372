# SPDX-License-Identifier: LGPL-2.1-or-later
# host-agent/guestctl/hybond-guestctl.mk — hybond-guestctl and the guest channel it shares
# with hybond-hostd (see docs/guest-channel.md).
#
#   GUESTCHAN_OBJS                the host side of the guest channel (hostd/guest/guestchan.c,
#                                 gc_reader.c: the part that reads the guest's bytes)
#   $(B)/bin/hybond-guestctl      talk to a guest's hybond agent over its chardev socket
#   $(B)/tests/test_guestchan     CUnit tests of the guest channel (socketpair-driven)

GUESTCHAN_SRCS := host-agent/hostd/guest/guestchan.c host-agent/hostd/guest/gc_reader.c
GUESTCTL_SRCS  := host-agent/guestctl/guestctl.c
GUESTCHAN_OBJS := $(GUESTCHAN_SRCS:%.c=$(B)/obj/%.o)
GUESTCTL_OBJS  := $(GUESTCTL_SRCS:%.c=$(B)/obj/%.o) $(GUESTCHAN_OBJS)
TEST_GUESTCHAN := $(B)/tests/test_guestchan
TEST_GUESTCHAN_OBJS := $(B)/obj/tests/unit/test_guestchan.o $(GUESTCHAN_OBJS)

BINS       += $(B)/bin/hybond-guestctl
UNIT_TESTS += $(TEST_GUESTCHAN)
LINT_SRCS  += $(GUESTCHAN_SRCS) $(GUESTCTL_SRCS) tests/unit/test_guestchan.c

$(GUESTCTL_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(call pc_cflags,jansson)
$(B)/obj/tests/unit/test_guestchan.o: CFLAGS += $(call pc_cflags,cunit)

$(B)/bin/hybond-guestctl: $(GUESTCTL_OBJS) $(PROTO_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,jansson) $(PROTO_LDLIBS)

$(TEST_GUESTCHAN): $(TEST_GUESTCHAN_OBJS) $(PROTO_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(PROTO_LDLIBS)
