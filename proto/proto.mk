# SPDX-License-Identifier: LGPL-2.1-or-later
# proto/proto.mk — libhybond-proto, the host <-> guest wire protocol library,
# and hybond-protodoc, the generator of docs/protocol.md's tables.

PROTO_SRCS   := proto/frame.c proto/attr.c proto/msg.c proto/stream.c proto/err.c proto/pack.c
PROTO_OBJS   := $(PROTO_SRCS:%.c=$(B)/obj/%.o)
PROTO_LIB    := $(B)/lib/libhybond-proto.a
# link flags of anything that links PROTO_LIB (crc32 comes from zlib)
PROTO_LDLIBS  = $(or $(call pc_libs,zlib),-lz)

PROTODOC_SRCS := tools/protodoc.c tools/protodoc_gen.c
PROTODOC      := $(B)/bin/hybond-protodoc

LIBS_ALL  += $(PROTO_LIB)
BINS      += $(PROTODOC)
LINT_SRCS += $(PROTO_SRCS) $(PROTODOC_SRCS)

$(PROTO_LIB): $(PROTO_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

$(PROTODOC): $(PROTODOC_SRCS:%.c=$(B)/obj/%.o) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PROTO_LDLIBS)

# Rewrite the generated section of docs/protocol.md after editing msgs.def.
.PHONY: protodoc-update
protodoc-update: $(PROTODOC)
	$(PROTODOC) --update docs/protocol.md
