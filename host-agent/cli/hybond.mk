# SPDX-License-Identifier: LGPL-2.1-or-later
# host-agent/cli/hybond.mk — hybond, the operator's CLI (hybond.8): it talks to hybond-hostd's
# control socket; `hybond libvirt check|xml` reads domain XML itself (lv_xml.o, libvirt).

HYBOND_CLI_SRCS := host-agent/cli/hybond.c

BINS       += $(B)/bin/hybond
LINT_SRCS  += $(HYBOND_CLI_SRCS)

$(HYBOND_CLI_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS) $(LV_XML_CFLAGS) $(LV_VIRT_CFLAGS)

$(B)/bin/hybond: $(HYBOND_CLI_SRCS:%.c=$(B)/obj/%.o) $(LV_XML_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(HOST_LDLIBS) $(LV_XML_LDLIBS) $(LV_VIRT_LDLIBS)
