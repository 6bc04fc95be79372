# SPDX-License-Identifier: LGPL-2.1-or-later
# host-agent/hostd/hv/lv_xml.mk — libvirt domain and network XML (docs/libvirt.md).
#
#   LV_XML_OBJS                      lv_xml.o: domain / network XML (libxml2, no libvirt
#                                    connection), used by hybond-hostd's libvirt backend, the
#                                    control socket, the hook and `hybond libvirt …`
#   $(B)/tests/test_lv_xml           CUnit: parsing, generated XML, rewrite, pools, advice,
#                                    and the hook binary against a fake control socket

LV_XML_SRCS  := host-agent/hostd/hv/lv_xml.c
LV_XML_OBJS  := $(LV_XML_SRCS:%.c=$(B)/obj/%.o)
LV_TEST_SRCS := tests/unit/test_lv_xml.c
LV_TEST      := $(B)/tests/test_lv_xml
# lv_xml.o needs libxml2 and jansson (the JSON -device of <qemu:commandline>): whatever
# links $(LV_XML_OBJS) adds $(LV_XML_LDLIBS) (the hook, test_lv_xml, hybond, and
# hybond-hostd.mk's HOSTD_LV_LDLIBS for hybond-hostd and its tests); code including
# lv_xml.h or jansson.h adds $(LV_XML_CFLAGS).
LV_XML_CFLAGS  = $(or $(call pc_cflags,libxml-2.0),-I/usr/include/libxml2) \
		 $(call pc_cflags,jansson)
LV_XML_LDLIBS  = $(or $(call pc_libs,libxml-2.0),-lxml2) $(or $(call pc_libs,jansson),-ljansson)
LV_VIRT_CFLAGS = $(call pc_cflags,libvirt)
LV_VIRT_LDLIBS = $(or $(call pc_libs,libvirt),-lvirt)

UNIT_TESTS += $(LV_TEST)
LINT_SRCS  += $(LV_XML_SRCS) $(LV_TEST_SRCS)

$(LV_XML_OBJS): CFLAGS += $(LV_XML_CFLAGS)
$(LV_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(LV_XML_CFLAGS) $(call pc_cflags,cunit)
# fixtures from the source tree, the hook from this build, wherever the test runs
$(LV_TEST_SRCS:%.c=$(B)/obj/%.o): CPPFLAGS += \
	-DLV_TESTDATA='"$(CURDIR)/tests/unit/data/libvirt"' \
	-DLV_HOOK_BIN='"$(abspath $(B)/bin/hybond-libvirt-hook)"'

# the hook tests exec the hook binary (libvirt-hook/hybond-libvirt-hook.mk): build it first
$(LV_TEST): $(LV_TEST_SRCS:%.c=$(B)/obj/%.o) $(LV_XML_OBJS) | $(B)/bin/hybond-libvirt-hook
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(LV_XML_LDLIBS)
