# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/fuzz/fuzz.mk — libFuzzer targets: libhybond-proto (decode, stream), hostd.conf,
# the migration URI from a peer's offer, the domain XML (lv_xml), guest.conf, the
# control socket's requests (fuzz_ctl) and a peer daemon's byte stream (fuzz_peer): the
# daemon's objects around tests/fuzz/fuzz_hostd.c.
#
#   make fuzz [FUZZ_SECONDS=N]   build with clang and run each target N seconds
#   make fuzz-corpus             regenerate the committed seed corpus
#
# Targets are built under $(B)/fuzz with their own objects (the library is
# recompiled with sanitizer and coverage instrumentation).  Each run works on
# a copy of tests/fuzz/corpus/<target> in $(B)/fuzz/corpus/<target>, so new
# inputs and crash artifacts never land in the source tree.

FUZZ_CC      ?= clang
FUZZ_DIR     := $(B)/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := -g -O1 -fno-omit-frame-pointer -std=gnu11 $(WARN) $(FUZZ_SAN) \
                -fsanitize=fuzzer-no-link
FUZZ_TARGETS := fuzz_decode fuzz_stream fuzz_hostd_conf fuzz_peer_uri fuzz_lv_xml \
                fuzz_guest_conf fuzz_ctl fuzz_peer
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/bin/%)
FUZZ_LIBOBJS := $(PROTO_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
# what each target parses beyond libhybond-proto (instrumented the same way)
FUZZ_OBJS_fuzz_hostd_conf := $(FUZZ_DIR)/obj/host-agent/hostd/config.o
FUZZ_OBJS_fuzz_peer_uri   := $(FUZZ_DIR)/obj/host-agent/hostd/peer/peer_uri.o \
                             $(FUZZ_DIR)/obj/host-agent/common/escape.o
FUZZ_OBJS_fuzz_lv_xml     := $(FUZZ_DIR)/obj/host-agent/hostd/hv/lv_xml.o
FUZZ_OBJS_fuzz_guest_conf := $(FUZZ_DIR)/obj/guest-agent/config.o
FUZZ_LIBS_fuzz_lv_xml      = $(LV_XML_LDLIBS)
# the daemon without main.c (its logging stubbed), behind the control socket
FUZZ_HOSTD_SRCS = $(HOSTD_SRCS) $(LV_XML_SRCS) $(HV_LIBVIRT_SRCS) $(GUESTCHAN_SRCS) \
                  $(HOST_SRCS) $(filter-out host-agent/common/log.c,$(COMMON_SRCS)) \
                  tests/unit/hlog_stub.c tests/fuzz/fuzz_hostd.c
FUZZ_OBJS_fuzz_ctl  = $(FUZZ_HOSTD_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_LIBS_fuzz_ctl  = $(HOST_LDLIBS) $(PEER_TLS_LDLIBS) $(HOSTD_LV_LDLIBS) $(LV_XML_LDLIBS)
FUZZ_OBJS_fuzz_peer = $(FUZZ_OBJS_fuzz_ctl)
FUZZ_LIBS_fuzz_peer = $(FUZZ_LIBS_fuzz_ctl)

FUZZERS   += $(FUZZ_BINS)
LINT_SRCS += $(FUZZ_TARGETS:%=tests/fuzz/%.c) tests/fuzz/mkcorpus.c tests/fuzz/fuzz_hostd.c

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_DIR)/obj/host-agent/hostd/hv/lv_xml.o $(FUZZ_DIR)/obj/tests/fuzz/fuzz_lv_xml.o: \
	FUZZ_CFLAGS += $(LV_XML_CFLAGS)
$(FUZZ_DIR)/obj/host-agent/hostd/%.o $(FUZZ_DIR)/obj/tests/fuzz/fuzz_ctl.o \
$(FUZZ_DIR)/obj/tests/fuzz/fuzz_peer.o $(FUZZ_DIR)/obj/tests/fuzz/fuzz_hostd.o: \
	FUZZ_CFLAGS += $(LV_XML_CFLAGS) $(HOST_CFLAGS) $(call pc_cflags,gnutls)

.SECONDEXPANSION:
$(FUZZ_DIR)/bin/%: $(FUZZ_DIR)/obj/tests/fuzz/%.o $(FUZZ_LIBOBJS) $$(FUZZ_OBJS_$$*)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(PROTO_LDLIBS) $(FUZZ_LIBS_$*)

fuzz: $(FUZZ_BINS)
	@set -e; for t in $(FUZZ_TARGETS); do \
		run=$(FUZZ_DIR)/corpus/$$t; rm -rf $$run; mkdir -p $$run $(FUZZ_DIR)/artifacts; \
		cp tests/fuzz/corpus/$$t/* $$run/ 2>/dev/null || true; \
		echo "== fuzz $$t for $(FUZZ_SECONDS)s (corpus $$run)"; \
		$(FUZZ_DIR)/bin/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- $$run; \
	done

MKCORPUS := $(B)/bin/hb-mkcorpus
$(MKCORPUS): $(B)/obj/tests/fuzz/mkcorpus.o $(B)/obj/tests/unit/test_proto_samples.o $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(PROTO_LDLIBS)

.PHONY: fuzz-corpus
fuzz-corpus: $(MKCORPUS)
	mkdir -p tests/fuzz/corpus/fuzz_decode tests/fuzz/corpus/fuzz_stream \
		tests/fuzz/corpus/fuzz_peer
	$(MKCORPUS) tests/fuzz/corpus

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)

# Keep the instrumented objects between runs (they are intermediate files
# of the pattern rules above, which make would otherwise delete).
.SECONDARY: $(FUZZ_LIBOBJS) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/obj/tests/fuzz/%.o) \
	    $(foreach t,$(FUZZ_TARGETS),$(FUZZ_OBJS_$(t))) $(FUZZ_HOSTD_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
