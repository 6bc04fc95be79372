# SPDX-License-Identifier: LGPL-2.1-or-later
# host-agent/libvirt-hook/hybond-libvirt-hook.mk — hybond's qemu hook for libvirt
# (docs/libvirt.md, hybond-libvirt-hook.8).
#
#   $(B)/bin/hybond-libvirt-hook     the qemu hook (/etc/libvirt/hooks/qemu.d/hybond); it
#                                    talks to hybond-hostd only, never to libvirt
# Its tests are in test_lv_xml (hostd/hv/lv_xml.mk).

LV_HOOK_SRCS := host-agent/libvirt-hook/libvirt_hook.c
LV_HOOK      := $(B)/bin/hybond-libvirt-hook

BINS       += $(LV_HOOK)
LINT_SRCS  += $(LV_HOOK_SRCS)

$(LV_HOOK_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(LV_XML_CFLAGS)

$(LV_HOOK): $(LV_HOOK_SRCS:%.c=$(B)/obj/%.o) $(LV_XML_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LV_XML_LDLIBS)
