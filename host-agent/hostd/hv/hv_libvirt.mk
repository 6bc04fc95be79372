# SPDX-License-Identifier: LGPL-2.1-or-later
# host-agent/hostd/hv/hv_libvirt.mk — the libvirt hypervisor backend (hv_libvirt.c: the loop side,
# hv_libvirt_worker.c: the worker and event threads, hv_libvirt_int.h: what they share).
#
#   HV_LIBVIRT_OBJS     objects to link into hybond-hostd (with $(HOST_LIB): qmp.o, and
#                       $(LV_XML_OBJS) + $(LV_XML_LDLIBS): the VF's <interface> XML)
#   HV_LIBVIRT_LDLIBS   their link flags (libvirt, libvirt-qemu, pthread)
#   $(B)/tests/test_hv_libvirt   CUnit: the backend against libvirt's test driver
#                                (test:///default, in-process, no libvirtd)
#
# valgrind: libvirt keeps process-wide allocations (its classes, the event loop, thread
# locals) that it never frees; tests/unit/libvirt.supp suppresses those "still reachable"
# blocks: valgrind --suppressions=tests/unit/libvirt.supp ...

HV_LIBVIRT_SRCS    := host-agent/hostd/hv/hv_libvirt.c host-agent/hostd/hv/hv_libvirt_worker.c
HV_LIBVIRT_OBJS    := $(HV_LIBVIRT_SRCS:%.c=$(B)/obj/%.o)
HV_LIBVIRT_CFLAGS   = $(call pc_cflags,libvirt libvirt-qemu)
HV_LIBVIRT_LDLIBS   = $(or $(call pc_libs,libvirt libvirt-qemu),-lvirt-qemu -lvirt) -lpthread
HV_LIBVIRT_TEST    := $(B)/tests/test_hv_libvirt
HV_LIBVIRT_TEST_SRCS := tests/unit/test_hv_libvirt.c tests/unit/hlog_stub.c

UNIT_TESTS += $(HV_LIBVIRT_TEST)
LINT_SRCS  += $(HV_LIBVIRT_SRCS) $(HV_LIBVIRT_TEST_SRCS)

# lv_xml.mk is included before this file: LV_XML_* are defined
$(HV_LIBVIRT_OBJS): CFLAGS += $(HOST_CFLAGS) $(HV_LIBVIRT_CFLAGS) $(LV_XML_CFLAGS) -pthread
$(HV_LIBVIRT_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS) $(HV_LIBVIRT_CFLAGS) \
	$(call pc_cflags,cunit) -pthread

# hv_qmp.o: hv_realtime_ms(); loop.o: the daemon's loop the test drives; lv_xml.o: vf_plug's
# <interface type='hostdev'>
$(HV_LIBVIRT_TEST): $(HV_LIBVIRT_TEST_SRCS:%.c=$(B)/obj/%.o) $(HV_LIBVIRT_OBJS) $(LV_XML_OBJS) \
		    $(B)/obj/host-agent/hostd/hv/hv_qmp.o $(HOST_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(UNIT_CUNIT_LIBS) $(HOST_LDLIBS) $(HV_LIBVIRT_LDLIBS) \
		$(LV_XML_LDLIBS)
