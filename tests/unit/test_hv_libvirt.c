// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/test_hv_libvirt.c — the libvirt hypervisor backend (host-agent/hv_libvirt.c)
 * against libvirt's test driver (test:///default: in-process, no libvirtd, a running
 * domain "test"; lifecycle events, but no QEMU monitor, no migration, no device
 * passthrough).  The daemon's loop runs here; the test drives domains through a
 * connection of its own (the test driver's state is shared while a connection is open).
 * Cases: a bad URI; open -> on_ready; query_status; suspend -> STOP (synthesized),
 * cont -> RESUME; a domain defined and started after open -> on_ready, destroyed ->
 * on_closed; migrate_out refused exactly once with libvirt's reason; vf_unplug,
 * query_vf and vf_plug errors; vf_plug's hostdev XML (lv_xml) through libvirt's domain
 * parser; query_migrate; quit; close with calls in flight (no callback after close); a
 * reconnect (on_ready again, events still come); snapshot_save and failover_replug
 * refused with libvirt's reason (the test driver has no NO_METADATA snapshots and no
 * QMP), the domain running and without snapshot metadata after.
 */
#include "tests/unit/cu_run.h"
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host-agent/hostd/hostd.h"
#include "host-agent/hostd/hv/hv.h"
#include "host-agent/hostd/hv/hv_libvirt.h"
#include "host-agent/hostd/hv/lv_xml.h"

#define URI "test:///default"
#define LATE "hvl-late"
#define LATE_XML "<domain type='test'><name>" LATE "</name><memory>65536</memory>" \
	"<os><type>hvm</type></os></domain>"
#define WAIT_MS 3000u

static const struct hv_ops *O = &hv_libvirt_ops;
static struct loop *L;
static virConnectPtr TC;        /* the test's own connection */

/* ---- what the backend told us ---- */
struct rec {
	int ready, closed, close_err, n_ev;
	struct { enum hv_ev ev; char detail[32]; uint64_t ts; } ev[32];
};

static void on_ready(void *arg)
{
	((struct rec *)arg)->ready++;
}

static void on_event(void *arg, enum hv_ev ev, const char *detail, uint64_t ts_ms)
{
	struct rec *r = arg;

	if (r->n_ev < 32) {
		r->ev[r->n_ev].ev = ev;
		(void)snprintf(r->ev[r->n_ev].detail, sizeof(r->ev[0].detail), "%s", detail);
		r->ev[r->n_ev].ts = ts_ms;
	}
	r->n_ev++;
}

static void on_closed(void *arg, int err)
{
	struct rec *r = arg;

	r->closed++;
	r->close_err = err;
}

static const struct hv_cb CB = { .on_ready = on_ready, .on_event = on_event,
				 .on_closed = on_closed };

struct done {
	int n;
	struct hv_result r;
	char msg[512];
};

static void done_fn(void *arg, const struct hv_result *r)
{
	struct done *d = arg;

	d->n++;
	d->r = *r;
	(void)snprintf(d->msg, sizeof(d->msg), "%s", r->msg ? r->msg : "");
	d->r.msg = d->msg;
}

/* ---- the loop ---- */
static void quit_cb(void *arg)
{
	loop_quit(arg);
}

/* Run the loop until *flag >= want or ms passed; returns whether it got there. */
static int run_until(const int *flag, int want, unsigned ms)
{
	struct loop_timer *t = loop_timer_new(L, quit_cb, L);
	uint64_t end = loop_now_ms() + ms;

	while ((!flag || *flag < want) && loop_now_ms() < end) {
		(void)loop_timer_arm(t, 5);
		(void)loop_run(L);
	}
	loop_timer_free(t);
	return !flag || *flag >= want;
}

static int find_ev(const struct rec *r, enum hv_ev ev, const char *detail)
{
	int i, n = 0;

	for (i = 0; i < r->n_ev && i < 32; i++)
		if (r->ev[i].ev == ev && (!detail || !strcmp(r->ev[i].detail, detail)))
			n++;
	return n;
}

static struct hv *open_ready(const char *target, struct rec *r)
{
	int err = 1;
	struct hv *h;

	memset(r, 0, sizeof(*r));
	h = O->open(L, target, &CB, r, "vm-t", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(err, 0);
	CU_ASSERT_TRUE(run_until(&r->ready, 1, WAIT_MS));
	CU_ASSERT_TRUE(O->ready(h));
	return h;
}

/* ---- suite ---- */
static int suite_init(void)
{
	char err[512];

	L = loop_new();
	if (!L)
		return 1;
	/* a URI libvirt refuses: an error that says so, and nothing left running */
	if (hv_libvirt_init(L, "nosuchdriver:///x", err, sizeof(err)) >= 0 || !strstr(err, "URI"))
		return 1;
	if (hv_libvirt_init(L, URI, err, sizeof(err)) < 0) {
		(void)fprintf(stderr, "%s\n", err);
		return 1;
	}
	TC = virConnectOpen(URI);
	return TC ? 0 : 1;
}

static int suite_clean(void)
{
	hv_libvirt_fini();
	if (TC)
		(void)virConnectClose(TC);
	loop_free(L);
	return 0;
}

/* ---- cases ---- */
static void test_init_twice(void)
{
	char err[256];

	CU_ASSERT_EQUAL(hv_libvirt_init(L, URI, err, sizeof(err)), -EALREADY);
	CU_ASSERT_TRUE(hv_libvirt_connected());
}

static void test_ready_status(void)
{
	struct rec r;
	struct done d = { 0 };
	struct hv *h = open_ready("test", &r);

	CU_ASSERT_EQUAL(O->query_status(h, done_fn, &d), 0);
	CU_ASSERT_TRUE(run_until(&d.n, 1, WAIT_MS));
	CU_ASSERT_EQUAL(d.r.err, 0);
	CU_ASSERT_EQUAL(d.r.running, 1);
	CU_ASSERT_STRING_EQUAL(d.r.status, "running");
	CU_ASSERT_EQUAL(r.closed, 0);
	O->close(h);
}

static void test_stop_cont(void)
{
	struct rec r;
	struct done d = { 0 }, s = { 0 };
	struct hv *h = open_ready("test", &r);
	virDomainPtr dom = virDomainLookupByName(TC, "test");
	uint64_t t0 = hv_realtime_ms();

	CU_ASSERT_PTR_NOT_NULL_FATAL(dom);
	CU_ASSERT_EQUAL(virDomainSuspend(dom), 0);
	CU_ASSERT_TRUE(run_until(&r.n_ev, 1, WAIT_MS));
	CU_ASSERT_EQUAL(r.ev[0].ev, HV_EV_STOP);
	CU_ASSERT_TRUE(r.ev[0].ts >= t0 && r.ev[0].ts <= hv_realtime_ms());
	CU_ASSERT_EQUAL(O->query_status(h, done_fn, &s), 0);
	CU_ASSERT_TRUE(run_until(&s.n, 1, WAIT_MS));
	CU_ASSERT_EQUAL(s.r.running, 0);
	CU_ASSERT_STRING_EQUAL(s.r.status, "paused");
	CU_ASSERT_EQUAL(O->cont(h, done_fn, &d), 0);
	CU_ASSERT_TRUE(run_until(&r.n_ev, 2, WAIT_MS));
	CU_ASSERT_TRUE(run_until(&d.n, 1, WAIT_MS));
	CU_ASSERT_EQUAL(d.r.err, 0);
	CU_ASSERT_EQUAL(r.ev[1].ev, HV_EV_RESUME);
	/* cont on a running domain: libvirt's reason */
	memset(&d, 0, sizeof(d));
	CU_ASSERT_EQUAL(O->cont(h, done_fn, &d), 0);
	CU_ASSERT_TRUE(run_until(&d.n, 1, WAIT_MS));
	CU_ASSERT_TRUE(d.r.err < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "not paused"));
	CU_ASSERT_STRING_EQUAL(O->last_error(h), d.msg);
	run_until(NULL, 0, 50);
	CU_ASSERT_EQUAL(r.n_ev, 2);     /* one STOP, one RESUME: nothing doubled */
	(void)virDomainFree(dom);
	O->close(h);
}

static void test_late_domain(void)
{
	struct rec r;
	struct done d = { 0 };
	int err;
	struct hv *h;
	virDomainPtr dom;

	memset(&r, 0, sizeof(r));
	h = O->open(L, LATE, &CB, &r, "vm-late", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	run_until(NULL, 0, 100);
	CU_ASSERT_EQUAL(r.ready, 0);
	CU_ASSERT_FALSE(O->ready(h));
	/* defined: still not running */
	dom = virDomainDefineXML(TC, LATE_XML);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dom);
	run_until(NULL, 0, 50);
	CU_ASSERT_EQUAL(r.ready, 0);
	/* started: ready */
	CU_ASSERT_EQUAL(virDomainCreate(dom), 0);
	CU_ASSERT_TRUE(run_until(&r.ready, 1, WAIT_MS));
	CU_ASSERT_TRUE(O->ready(h));
	CU_ASSERT_EQUAL(O->query_status(h, done_fn, &d), 0);
	CU_ASSERT_TRUE(run_until(&d.n, 1, WAIT_MS));
	CU_ASSERT_STRING_EQUAL(d.r.status, "running");
	/* destroyed: QEMU gone */
	CU_ASSERT_EQUAL(virDomainDestroy(dom), 0);
	CU_ASSERT_TRUE(run_until(&r.closed, 1, WAIT_MS));
	CU_ASSERT_TRUE(r.close_err < 0);
	CU_ASSERT_FALSE(O->ready(h));
	/* a transient domain with the same name: bound again */
	CU_ASSERT_EQUAL(virDomainUndefine(dom), 0);
	(void)virDomainFree(dom);
	dom = virDomainCreateXML(TC, LATE_XML, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dom);
	CU_ASSERT_TRUE(run_until(&r.ready, 2, WAIT_MS));
	CU_ASSERT_EQUAL(virDomainDestroy(dom), 0);
	CU_ASSERT_TRUE(run_until(&r.closed, 2, WAIT_MS));
	run_until(NULL, 0, 50);
	CU_ASSERT_EQUAL(r.ready, 2);
	CU_ASSERT_EQUAL(r.closed, 2);
	(void)virDomainFree(dom);
	O->close(h);
}

static void test_migrate_refused(void)
{
	struct rec r;
	struct done d = { 0 };
	struct hv *h = open_ready("test", &r);
	int failed;

	CU_ASSERT_EQUAL(O->migrate_out(h, "", done_fn, &d), -EINVAL);
	CU_ASSERT_EQUAL(O->migrate_out(h, "qemu+tcp://198.51.100.1/system tcp://198.51.100.1:49152",
				       done_fn, &d), 0);
	CU_ASSERT_EQUAL(O->migrate_out(h, "qemu+tcp://198.51.100.1/system", done_fn, &d), -EBUSY);
	CU_ASSERT_TRUE(run_until(&d.n, 1, WAIT_MS));
	run_until(NULL, 0, 100);
	failed = find_ev(&r, HV_EV_MIGRATION, "failed");
	CU_ASSERT_EQUAL(d.n, 1);
	/* refused before the job ran (fn) or after (a MIGRATION failed event): once */
	CU_ASSERT_EQUAL((d.r.err < 0) + failed, 1);
	CU_ASSERT_EQUAL(find_ev(&r, HV_EV_MIGRATION, "completed"), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(O->last_error(h), "migration is not supported"));
	if (d.r.err < 0)
		CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "migration is not supported"));
	CU_ASSERT_TRUE(O->ready(h));
	O->close(h);
}

static void test_devices(void)
{
	struct rec r;
	struct done u = { 0 }, q = { 0 }, p = { 0 }, x = { 0 };
	struct hv *h = open_ready("test", &r);
	struct hv_vf pci = { .driver = "vfio-pci", .id = "ua-vf0", .mac = "52:54:00:18:00:10",
			     .failover_pair_id = "ua-net0", .romfile = "", .host = "0000:3b:02.1" };
	struct hv_vf qmp = { .driver = "e1000e", .id = "vf0", .mac = "52:54:00:18:00:10" };
	/* a bonding guest's VF: no teaming, no mac, QEMU's default ROM */
	struct hv_vf lone = { .id = "ua-vf1", .host = "0000:3b:02.2" };
	struct done l = { 0 };
	struct hv_vf bad = pci;

	CU_ASSERT_EQUAL(O->vf_unplug(h, "vf'0", done_fn, &u), -EINVAL);
	CU_ASSERT_EQUAL(O->vf_unplug(h, "ua-nope", done_fn, &u), 0);
	CU_ASSERT_EQUAL(O->query_vf(h, "ua-nope", NULL, done_fn, &q), 0);
	CU_ASSERT_EQUAL(O->vf_plug(h, &pci, done_fn, &p), 0);
	CU_ASSERT_EQUAL(O->vf_plug(h, &qmp, done_fn, &x), 0);
	CU_ASSERT_EQUAL(O->vf_plug(h, &lone, done_fn, &l), 0);
	bad.id = "vf0";                 /* libvirt needs a user alias */
	CU_ASSERT_EQUAL(O->vf_plug(h, &bad, done_fn, &x), -EINVAL);
	/* refused before a job: lv_xml's <interface type='hostdev'> cannot take them */
	bad = pci;
	bad.host = "0000:3b:20.1";      /* slot > 0x1f */
	CU_ASSERT_EQUAL(O->vf_plug(h, &bad, done_fn, &x), -EINVAL);
	bad = pci;
	bad.failover_pair_id = "ua net0";
	CU_ASSERT_EQUAL(O->vf_plug(h, &bad, done_fn, &x), -EINVAL);
	bad = pci;
	bad.mac = "52:54:00:18:00";
	CU_ASSERT_EQUAL(O->vf_plug(h, &bad, done_fn, &x), -EINVAL);
	CU_ASSERT_TRUE(run_until(&u.n, 1, WAIT_MS));
	CU_ASSERT_TRUE(run_until(&q.n, 1, WAIT_MS));
	CU_ASSERT_TRUE(run_until(&p.n, 1, WAIT_MS));
	CU_ASSERT_TRUE(run_until(&x.n, 1, WAIT_MS));
	CU_ASSERT_TRUE(run_until(&l.n, 1, WAIT_MS));
	/* the test driver knows no such device and has no QMP passthrough */
	CU_ASSERT_TRUE(u.r.err < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(u.msg, "device_del ua-nope"));
	CU_ASSERT_PTR_NOT_NULL(strstr(u.msg, "not supported"));
	CU_ASSERT_TRUE(q.r.err < 0);
	CU_ASSERT_EQUAL(q.r.present, 0);
	CU_ASSERT_TRUE(p.r.err < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(p.msg, "attach device"));
	CU_ASSERT_TRUE(l.r.err < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(l.msg, "attach device"));
	CU_ASSERT_TRUE(x.r.err < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(x.msg, "device_add"));
	CU_ASSERT_EQUAL(u.n + q.n + p.n + x.n + l.n, 5);
	O->close(h);
}

/*
 * snapshot_save: files the snapshot XML cannot carry are refused before a job; the test
 * driver refuses VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA ("unsupported flags (0x4)"),
 * which shows the XML was built (its <disk> vda became snapshot='no' without complaint)
 * and libvirt's reason comes back once.  failover_replug: QMP passthrough, refused.
 */
static void test_snapshot(void)
{
	struct rec r;
	struct done s = { 0 }, p = { 0 }, st = { 0 };
	struct hv *h = open_ready("test", &r);
	virDomainPtr dom = virDomainLookupByName(TC, "test");

	CU_ASSERT_PTR_NOT_NULL_FATAL(dom);
	CU_ASSERT_EQUAL(O->snapshot_save(h, "vm.mem", done_fn, &s), -EINVAL);
	CU_ASSERT_EQUAL(O->snapshot_save(h, "/tmp/a'b.mem", done_fn, &s), -EINVAL);
	CU_ASSERT_EQUAL(O->snapshot_save(h, "/tmp/a<b.mem", done_fn, &s), -EINVAL);
	CU_ASSERT_EQUAL(O->snapshot_save(h, "/tmp/hvl-test-snapshot.mem", done_fn, &s), 0);
	CU_ASSERT_EQUAL(O->failover_replug(h, done_fn, &p), 0);
	CU_ASSERT_TRUE(run_until(&s.n, 1, WAIT_MS));
	CU_ASSERT_TRUE(run_until(&p.n, 1, WAIT_MS));
	run_until(NULL, 0, 50);
	CU_ASSERT_EQUAL(s.n, 1);
	CU_ASSERT_TRUE(s.r.err < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(s.msg, "snapshot: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(s.msg, "unsupported flags"));
	CU_ASSERT_PTR_NULL(strstr(s.msg, "<disk>"));
	CU_ASSERT_EQUAL(p.n, 1);
	CU_ASSERT_TRUE(p.r.err < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(p.msg, "migrate exec:false"));
	CU_ASSERT_PTR_NOT_NULL(strstr(p.msg, "not supported"));
	CU_ASSERT_EQUAL(r.n_ev, 0);     /* nothing stopped, nothing migrated */
	CU_ASSERT_EQUAL(virDomainSnapshotNum(dom, 0), 0);
	CU_ASSERT_EQUAL(O->query_status(h, done_fn, &st), 0);
	CU_ASSERT_TRUE(run_until(&st.n, 1, WAIT_MS));
	CU_ASSERT_STRING_EQUAL(st.r.status, "running");
	(void)virDomainFree(dom);
	O->close(h);
}

/*
 * The test driver attaches nothing, but its domain parser is libvirt's: vf_plug's
 * <interface type='hostdev'> (lv_vf_iface_xml, as hv_libvirt's hostdev_xml fills it) in
 * a defined domain next to its standby keeps its alias, MAC, teaming, ROM and address.
 */
static void test_vf_xml_libvirt(void)
{
	const struct lv_vf_spec spec = { .mac = "52:54:00:18:00:10", .pci = "0000:3b:02.1",
					 .alias = "ua-vf0", .persistent_alias = "ua-net0",
					 .romfile = "" };
	static const char *const want[] = {
		"<interface type='hostdev' managed='yes'>", "<mac address='52:54:00:18:00:10'/>",
		"<address type='pci' domain='0x0000' bus='0x3b' slot='0x02' function='0x1'/>",
		"<teaming type='transient' persistent='ua-net0'/>", "<alias name='ua-vf0'/>",
		"<rom enabled='no'/>",
	};
	char *vf = NULL, *xml = NULL, *dump;
	virDomainPtr dom;
	size_t i;

	CU_ASSERT_EQUAL_FATAL(lv_vf_iface_xml(&spec, &vf), 0);
	CU_ASSERT_FATAL(asprintf(&xml, "<domain type='test'><name>hvl-vf</name>"
				 "<memory>65536</memory><os><type>hvm</type></os><devices>"
				 "<interface type='ethernet'><mac address='52:54:00:18:00:10'/>"
				 "<model type='virtio'/><teaming type='persistent'/>"
				 "<alias name='ua-net0'/></interface>%s</devices></domain>",
				 vf) > 0);
	free(vf);
	dom = virDomainDefineXML(TC, xml);
	free(xml);
	CU_ASSERT_PTR_NOT_NULL_FATAL(dom);
	dump = virDomainGetXMLDesc(dom, 0);
	CU_ASSERT_PTR_NOT_NULL(dump);
	for (i = 0; dump && i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(dump, want[i])) {
			(void)fprintf(stderr, "\nlibvirt dropped %s:\n%s\n", want[i], dump);
			CU_FAIL("libvirt's XML lacks a part of the VF");
		}
	free(dump);
	CU_ASSERT_EQUAL(virDomainUndefine(dom), 0);
	(void)virDomainFree(dom);
}

static void test_query_migrate_cancel(void)
{
	struct rec r;
	struct done d = { 0 }, c = { 0 }, a = { 0 };
	struct hv *h = open_ready("test", &r);

	CU_ASSERT_EQUAL(O->query_migrate(h, done_fn, &d), 0);
	CU_ASSERT_EQUAL(O->migrate_cancel(h, done_fn, &c), 0);
	CU_ASSERT_EQUAL(O->accept_incoming(h, "tcp:0:0", done_fn, &a), 0);
	CU_ASSERT_EQUAL(a.n, 0);        /* never from inside the call */
	CU_ASSERT_TRUE(run_until(&d.n, 1, WAIT_MS));
	CU_ASSERT_TRUE(run_until(&c.n, 1, WAIT_MS));
	CU_ASSERT_TRUE(run_until(&a.n, 1, WAIT_MS));
	/* no job statistics in the test driver: an error with libvirt's reason */
	CU_ASSERT_TRUE(d.r.err < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "job statistics"));
	CU_ASSERT_TRUE(c.r.err < 0);
	CU_ASSERT_EQUAL(a.r.err, 0);
	O->close(h);
}

static void test_close_in_flight(void)
{
	struct rec r;
	struct done d = { 0 }, s = { 0 }, m = { 0 };
	struct hv *h = open_ready("test", &r);
	int err;

	CU_ASSERT_EQUAL(O->query_status(h, done_fn, &s), 0);
	CU_ASSERT_EQUAL(O->vf_unplug(h, "ua-nope", done_fn, &d), 0);
	CU_ASSERT_EQUAL(O->migrate_out(h, "qemu+tcp://198.51.100.1/system", done_fn, &m), 0);
	O->close(h);
	/* and one closed before its first lookup came back */
	h = O->open(L, "test", &CB, &r, "vm-t2", &err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	O->close(h);
	run_until(NULL, 0, 200);
	CU_ASSERT_EQUAL(d.n + s.n + m.n, 0);
	CU_ASSERT_EQUAL(r.ready, 1);
	CU_ASSERT_EQUAL(r.n_ev + r.closed, 0);
}

static void test_reconnect(void)
{
	struct rec r;
	struct hv *h = open_ready("test", &r);
	virDomainPtr dom = virDomainLookupByName(TC, "test");

	CU_ASSERT_PTR_NOT_NULL_FATAL(dom);
	hv_libvirt_reconnect();
	CU_ASSERT_FALSE(O->ready(h));
	CU_ASSERT_FALSE(hv_libvirt_connected());
	CU_ASSERT_TRUE(run_until(&r.ready, 2, WAIT_MS));
	CU_ASSERT_TRUE(O->ready(h));
	CU_ASSERT_EQUAL(r.closed, 0);
	/* events come over the new connection */
	CU_ASSERT_EQUAL(virDomainSuspend(dom), 0);
	CU_ASSERT_TRUE(run_until(&r.n_ev, 1, WAIT_MS));
	CU_ASSERT_EQUAL(r.ev[0].ev, HV_EV_STOP);
	CU_ASSERT_EQUAL(virDomainResume(dom), 0);
	CU_ASSERT_TRUE(run_until(&r.n_ev, 2, WAIT_MS));
	CU_ASSERT_EQUAL(r.ev[1].ev, HV_EV_RESUME);
	(void)virDomainFree(dom);
	O->close(h);
}

static void test_quit(void)
{
	struct rec r;
	struct done d = { 0 }, e = { 0 };
	struct hv *h = open_ready("test", &r);
	virDomainPtr dom = virDomainLookupByName(TC, "test");

	CU_ASSERT_PTR_NOT_NULL_FATAL(dom);
	CU_ASSERT_EQUAL(O->quit(h, done_fn, &d), 0);
	CU_ASSERT_TRUE(run_until(&d.n, 1, WAIT_MS));
	CU_ASSERT_EQUAL(d.r.err, 0);
	CU_ASSERT_TRUE(run_until(&r.closed, 1, WAIT_MS));
	run_until(NULL, 0, 50);
	CU_ASSERT_EQUAL(r.closed, 1);
	CU_ASSERT_FALSE(O->ready(h));
	/* not running any more: still a success */
	CU_ASSERT_EQUAL(O->quit(h, done_fn, &e), 0);
	CU_ASSERT_TRUE(run_until(&e.n, 1, WAIT_MS));
	CU_ASSERT_EQUAL(e.r.err, 0);
	/* started again: the same hv is ready again */
	CU_ASSERT_EQUAL(virDomainCreate(dom), 0);
	CU_ASSERT_TRUE(run_until(&r.ready, 2, WAIT_MS));
	(void)virDomainFree(dom);
	O->close(h);
}

int main(void)
{
	static CU_TestInfo tests[] = {
		{ "init twice, connected", test_init_twice },
		{ "open -> on_ready, query_status", test_ready_status },
		{ "suspend -> STOP, cont -> RESUME (synthesized), cont refused", test_stop_cont },
		{ "a domain that appears later, destroyed, re-created", test_late_domain },
		{ "migrate_out refused exactly once, with libvirt's reason", test_migrate_refused },
		{ "vf_unplug, query_vf, vf_plug: clear errors", test_devices },
		{ "vf_plug's hostdev XML through libvirt's parser", test_vf_xml_libvirt },
		{ "query_migrate, migrate_cancel, accept_incoming", test_query_migrate_cancel },
		{ "close with calls in flight: no callback after close", test_close_in_flight },
		{ "reconnect: on_ready again, events still come", test_reconnect },
		{ "quit: on_closed; again: success; restarted: ready", test_quit },
		{ "snapshot_save, failover_replug: refused with libvirt's reason", test_snapshot },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "hv_libvirt", suite_init, suite_clean, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};

	return hb_cu_run(suites);
}
