# host-agent/hostd.mk — hybond-hostd (the host daemon) and hybond (its CLI).
#
#   $(B)/bin/hybond-hostd        the daemon (docs/host-agent.md, hybond-hostd.8, hostd.conf.5)
#   $(B)/bin/hybond              the CLI (hybond.8)
#   $(B)/tests/test_hostd_config CUnit: configuration parser, RARP frame, peer messages
#   make check-lab               also: tests/lab/hostd_migrate.py check (one hybond
#                                migration per guest mode, 1000 pps each way)
#   make bench-hostd R=5         R hybond migrations per mode + the plain-QEMU baseline:
#                                $(B)/bench/hostd.json and the docs/benchmarks.md section

HOSTD_SRCS := host-agent/loop.c host-agent/config.c host-agent/announce.c host-agent/peer.c \
              host-agent/hv_qmp.c host-agent/vm.c host-agent/migrate.c host-agent/ctl.c \
              host-agent/drill.c host-agent/snapshot.c
HOSTD_MAIN := host-agent/hostd.c
HOSTD_OBJS := $(HOSTD_SRCS:%.c=$(B)/obj/%.o)
HYBOND_CLI_SRCS := host-agent/cli/hybond.c
HOSTD_TEST_SRCS := tests/unit/test_hostd_config.c
HOSTD_TEST := $(B)/tests/test_hostd_config

BINS       += $(B)/bin/hybond-hostd $(B)/bin/hybond
UNIT_TESTS += $(HOSTD_TEST)
LINT_SRCS  += $(HOSTD_SRCS) $(HOSTD_MAIN) $(HYBOND_CLI_SRCS) $(HOSTD_TEST_SRCS)

$(HOSTD_OBJS) $(HOSTD_MAIN:%.c=$(B)/obj/%.o) $(HYBOND_CLI_SRCS:%.c=$(B)/obj/%.o): \
	CFLAGS += $(HOST_CFLAGS)
$(HOSTD_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS) $(call pc_cflags,cunit)

$(B)/bin/hybond-hostd: $(B)/obj/host-agent/hostd.o $(HOSTD_OBJS) $(GUESTCHAN_OBJS) $(HOST_LIB) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(HOST_LDLIBS) $(PROTO_LDLIBS)

$(B)/bin/hybond: $(HYBOND_CLI_SRCS:%.c=$(B)/obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(HOST_LDLIBS)

HOSTD_TEST_OBJS := $(addprefix $(B)/obj/host-agent/,loop.o config.o announce.o peer.o)
$(HOSTD_TEST): $(HOSTD_TEST_SRCS:%.c=$(B)/obj/%.o) $(HOSTD_TEST_OBJS) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(HOST_LDLIBS) $(PROTO_LDLIBS)

# drill / snapshot state machine (drill.c, snapshot.c): the daemon's objects, hostd.c stubbed
HOSTD_DRILL_TEST := $(B)/tests/test_hostd_drill
HOSTD_DRILL_TEST_SRCS := tests/unit/test_hostd_drill.c
UNIT_TESTS += $(HOSTD_DRILL_TEST)
LINT_SRCS  += $(HOSTD_DRILL_TEST_SRCS)
$(HOSTD_DRILL_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS) $(call pc_cflags,cunit)
$(HOSTD_DRILL_TEST): $(HOSTD_DRILL_TEST_SRCS:%.c=$(B)/obj/%.o) $(HOSTD_OBJS) $(GUESTCHAN_OBJS) $(HOST_LIB) $(PROTO_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(HOST_LDLIBS) $(PROTO_LDLIBS)

HOSTD_LAB_BINS = $(B)/bin/hybond-hostd $(B)/bin/hybond $(B)/bin/hybond-probe

.PHONY: bench-hostd bench
# lab-build (tests/lab/lab.mk) packs the guest agent into the guest image first.
check-lab:: deps-auto lab-build $(HOSTD_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/hostd_migrate.py check

# drill (2 cycles, both guest modes) + snapshot and restore (failover): tests/lab/hostd_ops.py
check-lab:: deps-auto
	@[ -x $(B)/bin/hybond-guestd ] || echo "check-lab: SKIPPED hostd_ops: $(B)/bin/hybond-guestd does not exist"
	@[ ! -x $(B)/bin/hybond-guestd ] || $(MAKE) --no-print-directory $(HOSTD_LAB_BINS)
	@[ ! -x $(B)/bin/hybond-guestd ] || B=$(B) /usr/bin/python3 tests/lab/hostd_ops.py check

bench-hostd: deps-auto lab-build $(HOSTD_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/hostd_migrate.py bench --runs $(R) --out $(B)/bench

bench: bench-hostd
