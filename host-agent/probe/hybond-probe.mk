# SPDX-License-Identifier: LGPL-2.1-or-later
# host-agent/probe/hybond-probe.mk — hybond-probe, the traffic prober (see docs/probe.md).
#
#   $(B)/bin/hybond-probe         icmp / udp client and udp-echo responder
#   $(B)/tests/test_probe         CUnit tests of the accounting, wire format, parsers
#   probe-static                  $(B)/bin/hybond-probe-static for a busybox guest
#                                 (not part of `all`)

PROBE_DIR      := host-agent/probe
# Pure logic (no sockets, no clocks): unit-tested.
PROBE_CORE     := $(PROBE_DIR)/probe_acct.c $(PROBE_DIR)/probe_wire.c \
                  $(PROBE_DIR)/probe_opts.c $(PROBE_DIR)/probe_report.c
PROBE_SRCS     := $(PROBE_CORE) $(PROBE_DIR)/probe_client.c $(PROBE_DIR)/probe_echo.c \
                  $(PROBE_DIR)/probe_main.c
PROBE_OBJS     := $(PROBE_SRCS:%.c=$(B)/obj/%.o)
PROBE_CORE_OBJS := $(PROBE_CORE:%.c=$(B)/obj/%.o)
PROBE_TEST_OBJS := $(B)/obj/tests/unit/test_probe.o $(PROBE_CORE_OBJS)

BINS       += $(B)/bin/hybond-probe
UNIT_TESTS += $(B)/tests/test_probe
LINT_SRCS  += $(PROBE_SRCS) tests/unit/test_probe.c

$(PROBE_OBJS) $(PROBE_TEST_OBJS): CFLAGS += $(call pc_cflags,jansson)
$(B)/obj/tests/unit/test_probe.o: CFLAGS += $(call pc_cflags,cunit)

$(B)/bin/hybond-probe: $(PROBE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,jansson) -lm

$(B)/tests/test_probe: $(PROBE_TEST_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,cunit) $(call pc_libs,jansson) -lm

# Static binary for a busybox-initramfs guest (udp-echo needs nothing else).
.PHONY: probe-static
probe-static: $(B)/bin/hybond-probe-static
$(B)/bin/hybond-probe-static: $(PROBE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -static -o $@ $^ $(call pc_libs,jansson) -lm
