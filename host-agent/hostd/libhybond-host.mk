# SPDX-License-Identifier: LGPL-2.1-or-later
# host-agent/hostd/libhybond-host.mk — hybond-hostd's foundation modules (docs/host-agent.md):
#
#   $(B)/lib/libhybond-host.a   qmp (QMP client), esw (eswitch backends: bridge,
#                               sriov-legacy), jrnl (crash-safe operation journal)
#   $(B)/tests/test_qmp         CUnit: QMP client vs. captured QEMU transcripts
#   $(B)/tests/test_esw         CUnit: netlink requests vs. captured iproute2 bytes
#   $(B)/tests/test_jrnl        CUnit: journal round trip and crash leftovers
#   $(B)/tests/esw-tool         debug CLI of the eswitch backends (check-net uses it)
#
# Link the library with $(HOST_LDLIBS).

HOST_LIB     := $(B)/lib/libhybond-host.a
HOST_SRCS    := host-agent/hostd/hv/qmp.c host-agent/hostd/esw/esw.c \
                host-agent/hostd/esw/esw_bridge.c host-agent/hostd/esw/esw_sriov.c \
                host-agent/hostd/jrnl.c
HOST_OBJS    := $(HOST_SRCS:%.c=$(B)/obj/%.o)
HOST_LDLIBS   = $(or $(call pc_libs,jansson),-ljansson) $(or $(call pc_libs,libmnl),-lmnl)
HOST_CFLAGS   = $(call pc_cflags,jansson) $(call pc_cflags,libmnl)

CORE_TESTS   := $(B)/tests/test_qmp $(B)/tests/test_esw $(B)/tests/test_jrnl
ESW_TOOL     := $(B)/tests/esw-tool
CORE_TEST_SRCS := tests/unit/test_qmp.c tests/unit/test_esw.c tests/unit/test_jrnl.c

LIBS_ALL   += $(HOST_LIB)
BINS       += $(ESW_TOOL)
UNIT_TESTS += $(CORE_TESTS)
LINT_SRCS  += $(HOST_SRCS) $(CORE_TEST_SRCS) tests/net/esw_tool.c

$(HOST_OBJS): CFLAGS += $(HOST_CFLAGS)
$(CORE_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS) $(call pc_cflags,cunit)
# fixtures are read from the source tree wherever the test binary runs
$(CORE_TEST_SRCS:%.c=$(B)/obj/%.o): CPPFLAGS += -DHB_TESTDATA='"$(CURDIR)/tests/data"'

$(HOST_LIB): $(HOST_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(CORE_TESTS): $(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(HOST_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(HOST_LDLIBS)

$(ESW_TOOL): $(B)/obj/tests/net/esw_tool.o $(HOST_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(HOST_LDLIBS)

# The bridge backend in a namespace of its own (root; hbesw-<pid>, no traffic).
check-net:: $(ESW_TOOL)
	tests/net/test_esw_bridge.sh $(ESW_TOOL)
