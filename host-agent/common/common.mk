# SPDX-License-Identifier: LGPL-2.1-or-later
# host-agent/common/common.mk — what every host-side program shares (no daemon state):
#
#   $(B)/lib/libhybond-common.a   the event loop (loop.c: epoll, timerfd timers, one
#                                 monotonic clock), the log (log.c: hlog) and commands
#                                 with their stdout on the loop (child.c), JSON lines out
#                                 of a socket (jsonl.c), untrusted strings escaped for
#                                 logs (escape.c)
#
# A static library, so a unit test's own hlog() (tests/unit/hlog_stub.c, linked first)
# keeps log.o out.

COMMON_SRCS := host-agent/common/loop.c host-agent/common/log.c host-agent/common/child.c \
               host-agent/common/jsonl.c host-agent/common/escape.c
COMMON_LIB  := $(B)/lib/libhybond-common.a

LIBS_ALL   += $(COMMON_LIB)
LINT_SRCS  += $(COMMON_SRCS)

$(COMMON_LIB): $(COMMON_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(COMMON_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(call pc_cflags,jansson)
