# SPDX-License-Identifier: LGPL-2.1-or-later
# host-agent/hostd/hybond-hostd.mk — hybond-hostd, the host daemon, and its tests.
#
#   $(B)/bin/hybond-hostd        the daemon (docs/host-agent.md, hybond-hostd.8, hostd.conf.5)
#   $(B)/tests/test_hostd_config CUnit: configuration parser, RARP frame, peer messages
#   $(B)/tests/test_peer_tls     CUnit: the peer channel over mutual TLS (GnuTLS), certificates
#                                made by the test; make check-net: tests/net/test_peer_tls.sh
#   make check-lab               also: tests/lab/hostd_migrate.py check (one hybond
#                                migration per guest mode, 1000 pps each way) and
#                                hostd_migrate.py failures (cancel, rollback, no agent,
#                                SIGKILL recovery; $(B)/lab-failures.json)
#   make bench-hostd R=5         R hybond migrations per mode + the plain-QEMU baseline:
#                                $(B)/bench/hostd.json and the docs/benchmarks.md section
#   make bench-hostile R=3       R honest migrations beside a hostile guest (hostile.py)
#   make bench-hostile-vport R=3 the same, the hostile guest a lab VM writing into its real
#                                virtio-serial port (hostile.py vport)

HD := host-agent/hostd
# the peer channel (peer/), what is common to the daemon (config, vm)
HOSTD_PEER_SRCS := $(HD)/peer/peer.c $(HD)/peer/peer_tls.c $(HD)/peer/peer_uri.c
# the sentries (sentry/): guest channels and TLS peers' frames parsed unprivileged
HOSTD_SENTRY_SRCS := $(HD)/sentry/sentry.c $(HD)/sentry/sentry_link.c
HOSTD_SRCS := $(HD)/config.c $(HD)/registry.c $(HD)/ops/idle.c $(HD)/esw/announce.c $(HOSTD_PEER_SRCS) $(HD)/peer/peer_check.c \
              $(HD)/hv/hv_qmp.c $(HD)/vm.c $(HD)/ops/migrate.c $(HD)/ctl/ctl.c \
              $(HD)/ops/drill.c $(HD)/ops/drill_plan.c $(HD)/ops/snapshot.c $(HD)/ops/evacuate.c \
              $(HD)/ops/vfwatch.c $(HD)/ops/steps.c $(HD)/ops/fastpath.c \
              $(HD)/ops/migrate_source.c $(HD)/ops/migrate_dest.c \
              $(HD)/ops/migrate_libvirt.c $(HD)/ops/migrate_recover.c $(HD)/ops/migrate_drivers.c \
              $(HOSTD_SENTRY_SRCS) $(HD)/peer_route.c $(HD)/reload.c
HOSTD_MAIN := $(HD)/main.c $(HD)/logfields.c
# libvirt: the backend (hv/hv_libvirt.mk) and the XML the hook sends (hv/lv_xml.mk)
HOSTD_OBJS := $(HOSTD_SRCS:%.c=$(B)/obj/%.o) $(LV_XML_OBJS) $(HV_LIBVIRT_OBJS)
HOSTD_LV_LDLIBS = $(LV_XML_LDLIBS) $(HV_LIBVIRT_LDLIBS)
$(B)/obj/$(HD)/ctl/ctl.o: CFLAGS += $(LV_XML_CFLAGS)
HOSTD_TEST_SRCS := tests/unit/test_hostd_config.c
HOSTD_TEST := $(B)/tests/test_hostd_config

BINS       += $(B)/bin/hybond-hostd
UNIT_TESTS += $(HOSTD_TEST)
LINT_SRCS  += $(HOSTD_SRCS) $(HOSTD_MAIN) $(HOSTD_TEST_SRCS)

$(HOSTD_OBJS) $(HOSTD_MAIN:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS)
$(HOSTD_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS) $(call pc_cflags,cunit)
# the peer channel's TLS (peer_int.h includes gnutls.h)
PEER_TLS_LDLIBS = $(or $(call pc_libs,gnutls),-lgnutls)
# the guest sentry's system call filter (sentry/sentry.c); linked wherever HOSTD_LV_LDLIBS is
SECCOMP_LDLIBS = $(or $(call pc_libs,libseccomp),-lseccomp)
HOSTD_LV_LDLIBS += $(SECCOMP_LDLIBS)
# sd_notify, sd_journal_sendv (main.c, logfields.c); capabilities dropped (main.c)
$(B)/bin/hybond-hostd: LDLIBS_SD = $(or $(call pc_libs,libsystemd),-lsystemd) \
	$(or $(call pc_libs,libcap-ng),-lcap-ng)
$(HOSTD_PEER_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(call pc_cflags,gnutls)

$(B)/bin/hybond-hostd: $(HOSTD_MAIN:%.c=$(B)/obj/%.o) $(HOSTD_OBJS) $(GUESTCHAN_OBJS) $(HOST_LIB) $(PROTO_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(HOST_LDLIBS) $(PROTO_LDLIBS) $(PEER_TLS_LDLIBS) $(HOSTD_LV_LDLIBS) $(LDLIBS_SD)

# the peer channel reads through the peer sentry (sentry/), which links guest channels
PEER_CHAN_OBJS := $(HOSTD_PEER_SRCS:%.c=$(B)/obj/%.o) $(HOSTD_SENTRY_SRCS:%.c=$(B)/obj/%.o) \
		  $(GUESTCHAN_OBJS)
HOSTD_TEST_OBJS := $(addprefix $(B)/obj/$(HD)/,config.o esw/announce.o) $(PEER_CHAN_OBJS)
$(HOSTD_TEST): $(HOSTD_TEST_SRCS:%.c=$(B)/obj/%.o) $(HOSTD_TEST_OBJS) $(PROTO_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(HOST_LDLIBS) $(PROTO_LDLIBS) $(PEER_TLS_LDLIBS) $(HOSTD_LV_LDLIBS)

# the peer channel over mutual TLS: certificates generated in the test (GnuTLS x509 API)
PEER_TLS_TEST := $(B)/tests/test_peer_tls
PEER_TLS_TEST_SRCS := tests/unit/test_peer_tls.c
UNIT_TESTS += $(PEER_TLS_TEST)
LINT_SRCS  += $(PEER_TLS_TEST_SRCS)
$(PEER_TLS_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS) $(call pc_cflags,cunit) \
	$(call pc_cflags,gnutls)
$(PEER_TLS_TEST): $(PEER_TLS_TEST_SRCS:%.c=$(B)/obj/%.o) \
		  $(B)/obj/$(HD)/config.o $(PEER_CHAN_OBJS) $(PROTO_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(PROTO_LDLIBS) $(PEER_TLS_LDLIBS) $(HOSTD_LV_LDLIBS)

# two hybond-hostd in namespaces hB-* (198.19.250.0/30), certificates made by certtool
check-net:: $(B)/bin/hybond-hostd
	tests/net/test_peer_tls.sh $(B)/bin/hybond-hostd

# drill / snapshot state machine (drill.c, snapshot.c): the daemon's objects without main.c
HOSTD_DRILL_TEST := $(B)/tests/test_hostd_drill
HOSTD_DRILL_TEST_SRCS := tests/unit/test_hostd_drill.c tests/unit/hlog_stub.c
UNIT_TESTS += $(HOSTD_DRILL_TEST)
LINT_SRCS  += $(HOSTD_DRILL_TEST_SRCS)
$(HOSTD_DRILL_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS) $(call pc_cflags,cunit)
$(HOSTD_DRILL_TEST): $(HOSTD_DRILL_TEST_SRCS:%.c=$(B)/obj/%.o) $(HOSTD_OBJS) $(GUESTCHAN_OBJS) $(HOST_LIB) $(PROTO_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(HOST_LDLIBS) $(PROTO_LDLIBS) $(PEER_TLS_LDLIBS) $(HOSTD_LV_LDLIBS)

# hybond evacuate (evacuate.c): the scheduler with a fake start, the daemon side on a loop
HOSTD_EVAC_TEST := $(B)/tests/test_hostd_evacuate
HOSTD_EVAC_TEST_SRCS := tests/unit/test_hostd_evacuate.c tests/unit/hlog_stub.c
UNIT_TESTS += $(HOSTD_EVAC_TEST)
LINT_SRCS  += $(HOSTD_EVAC_TEST_SRCS)
$(HOSTD_EVAC_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS) $(call pc_cflags,cunit)
$(HOSTD_EVAC_TEST): $(HOSTD_EVAC_TEST_SRCS:%.c=$(B)/obj/%.o) $(HOSTD_OBJS) $(GUESTCHAN_OBJS) $(HOST_LIB) $(PROTO_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(HOST_LDLIBS) $(PROTO_LDLIBS) $(PEER_TLS_LDLIBS) $(HOSTD_LV_LDLIBS)

# the migration state machine (migrate.c): fake hypervisor, guest and peer on sockets
# (tests/unit/hostd_harness.c, shared with test_vfwatch)
HOSTD_HARNESS_SRCS := tests/unit/hostd_harness.c tests/unit/hlog_stub.c
HOSTD_MIG_TEST := $(B)/tests/test_migrate
HOSTD_MIG_TEST_SRCS := tests/unit/test_migrate.c $(HOSTD_HARNESS_SRCS)
UNIT_TESTS += $(HOSTD_MIG_TEST)
LINT_SRCS  += $(HOSTD_MIG_TEST_SRCS)
$(HOSTD_MIG_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS) $(call pc_cflags,cunit)
$(HOSTD_MIG_TEST_SRCS:%.c=$(B)/obj/%.o): CPPFLAGS += -DHB_TESTDATA='"$(CURDIR)/tests/data"'
$(HOSTD_MIG_TEST): $(HOSTD_MIG_TEST_SRCS:%.c=$(B)/obj/%.o) $(HOSTD_OBJS) $(GUESTCHAN_OBJS) $(HOST_LIB) $(PROTO_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(HOST_LDLIBS) $(PROTO_LDLIBS) $(PEER_TLS_LDLIBS) $(HOSTD_LV_LDLIBS)

# unannounced VF loss (vfwatch.c): the same fakes as test_migrate (hypervisor, guest, peer)
HOSTD_VFW_TEST := $(B)/tests/test_vfwatch
HOSTD_VFW_TEST_SRCS := tests/unit/test_vfwatch.c $(HOSTD_HARNESS_SRCS)
UNIT_TESTS += $(HOSTD_VFW_TEST)
LINT_SRCS  += $(HOSTD_VFW_TEST_SRCS)
$(HOSTD_VFW_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(HOST_CFLAGS) $(call pc_cflags,cunit)
$(HOSTD_VFW_TEST_SRCS:%.c=$(B)/obj/%.o): CPPFLAGS += -DHB_TESTDATA='"$(CURDIR)/tests/data"'
$(HOSTD_VFW_TEST): $(HOSTD_VFW_TEST_SRCS:%.c=$(B)/obj/%.o) $(HOSTD_OBJS) $(GUESTCHAN_OBJS) $(HOST_LIB) $(PROTO_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(HOST_LDLIBS) $(PROTO_LDLIBS) $(PEER_TLS_LDLIBS) $(HOSTD_LV_LDLIBS)

HOSTD_LAB_BINS = $(B)/bin/hybond-hostd $(B)/bin/hybond $(B)/bin/hybond-probe

.PHONY: bench-hostd bench bench-hostile bench-hostile-vport
# lab-build (tests/lab/lab.mk) packs the guest agent into the guest image first.
check-lab:: deps-auto lab-build $(HOSTD_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/hostd_migrate.py check

# the failure paths (issue 6), ~4 min: cancel (hybond cancel, Ctrl-C, QEMU's migrate_cancel),
# destination QEMU killed, no VF on the destination, no guest agent (--force), either daemon
# SIGKILLed mid-migration and restarted; each ends on ONE host's fast path, nothing left.
# Per-case JSON: $(B)/lab-failures.json; the verdicts go to stderr.
check-lab:: deps-auto lab-build $(HOSTD_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/hostd_migrate.py failures > $(B)/lab-failures.json

# hybond evacuate (two VMs at once, an agentless VM skipped then forced, Ctrl-C, unknown
# peer), ~2 min: tests/lab/hostd_evacuate.py
check-lab:: deps-auto lab-build $(HOSTD_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/hostd_evacuate.py check > $(B)/lab-evacuate.json

# drill (2 cycles, both guest modes) + snapshot and restore (failover): tests/lab/hostd_ops.py
check-lab:: deps-auto
	@[ -x $(B)/bin/hybond-guestd ] || echo "check-lab: SKIPPED hostd_ops: $(B)/bin/hybond-guestd does not exist"
	@[ ! -x $(B)/bin/hybond-guestd ] || $(MAKE) --no-print-directory $(HOSTD_LAB_BINS)
	@[ ! -x $(B)/bin/hybond-guestd ] || B=$(B) /usr/bin/python3 tests/lab/hostd_ops.py check

# a hostile guest on A (CRC amplification, frame flood, HELLO storm, random bytes; no VF in
# its QMP) while an honest VM migrates A -> B under the probe (docs/security.md), ~1.5 min
check-lab:: deps-auto lab-build $(HOSTD_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/hostile.py check > $(B)/lab-hostile.json

# a hostile peer (B's certificate, MIGRATE_READY with exec:/file:/unix:/another host's tcp:)
# and an unauthenticated connection flood during a real migration over TLS, ~2 min
check-lab:: deps-auto lab-build $(HOSTD_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/hostile.py peer > $(B)/lab-hostile-peer.json
	B=$(B) /usr/bin/python3 tests/lab/hostile.py flood > $(B)/lab-hostile-flood.json

bench-hostile: deps-auto lab-build $(HOSTD_LAB_BINS)
	@mkdir -p $(B)/bench
	B=$(B) /usr/bin/python3 tests/lab/hostile.py bench --runs $(R) > $(B)/bench/hostile.json

bench-hostile-vport: deps-auto lab-build $(HOSTD_LAB_BINS)
	@mkdir -p $(B)/bench
	B=$(B) /usr/bin/python3 tests/lab/hostile.py vport --runs $(R) > $(B)/bench/hostile-vport.json

bench-hostd: deps-auto lab-build $(HOSTD_LAB_BINS)
	B=$(B) /usr/bin/python3 tests/lab/hostd_migrate.py bench --runs $(R) --out $(B)/bench

bench: bench-hostd

# the guest sentry (sentry/sentry*.c): its sandbox in /proc, the filter, channels through it
SENTRY_TEST := $(B)/tests/test_sentry
SENTRY_TEST_SRCS := tests/unit/test_sentry.c
UNIT_TESTS += $(SENTRY_TEST)
LINT_SRCS  += $(SENTRY_TEST_SRCS)
$(SENTRY_TEST_SRCS:%.c=$(B)/obj/%.o): CFLAGS += $(call pc_cflags,cunit)
$(SENTRY_TEST): $(SENTRY_TEST_SRCS:%.c=$(B)/obj/%.o) $(B)/obj/$(HD)/sentry/sentry.o \
		$(B)/obj/$(HD)/sentry/sentry_link.o $(GUESTCHAN_OBJS) $(PROTO_LIB) $(COMMON_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(UNIT_CUNIT_LIBS) $(HOST_LDLIBS) $(PROTO_LDLIBS) $(SECCOMP_LDLIBS)
