# host-agent/common/common.mk — what every host-side program shares (no daemon state):
#
#   COMMON_OBJS   the event loop (loop.c: epoll, timerfd timers, one monotonic clock)
#
# Link them into a program with its own objects; nothing here needs a library.

COMMON_SRCS := host-agent/common/loop.c
COMMON_OBJS := $(COMMON_SRCS:%.c=$(B)/obj/%.o)

LINT_SRCS  += $(COMMON_SRCS)
