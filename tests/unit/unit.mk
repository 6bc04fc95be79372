# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/unit/unit.mk — CUnit tests of libhybond-proto.
#
#   $(B)/tests/test_proto     codec, validator and stream reader
#   $(B)/tests/test_protodoc  docs/protocol.md's generated tables match msgs.def
#
# Each binary exits non-zero when any assertion fails.

UNIT_CUNIT_LIBS = $(or $(call pc_libs,cunit),-lcunit)

TEST_PROTO        := $(B)/tests/test_proto
TEST_PROTO_OBJS   := $(B)/obj/tests/unit/test_proto.o $(B)/obj/tests/unit/test_proto_samples.o
TEST_PROTODOC     := $(B)/tests/test_protodoc
TEST_PROTODOC_OBJS := $(B)/obj/tests/unit/test_protodoc.o $(B)/obj/tools/protodoc_gen.o

UNIT_TESTS += $(TEST_PROTO) $(TEST_PROTODOC)
LINT_SRCS  += tests/unit/test_proto.c tests/unit/test_proto_samples.c tests/unit/test_protodoc.c

# The doc check reads the source tree's spec wherever the test runs from.
$(B)/obj/tests/unit/test_protodoc.o: CPPFLAGS += -DHB_DOC_PATH='"$(CURDIR)/docs/protocol.md"'
# Rebuild when the doc changes is not needed: the file is read at run time.

# --wrap=crc32: the test counts the bytes the stream reader checksums (its work bound)
$(TEST_PROTO): $(TEST_PROTO_OBJS) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,--wrap=crc32 -o $@ $^ $(UNIT_CUNIT_LIBS) $(PROTO_LDLIBS)

$(TEST_PROTODOC): $(TEST_PROTODOC_OBJS) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(PROTO_LDLIBS)
