// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/test_hostd_config.c — hybond-hostd pieces that need no QEMU:
 * the hostd.conf parser and its error messages, the RARP announce frame,
 * and the daemon <-> daemon MIGRATE_* messages through the peer channel
 * (a socketpair, the real epoll loop) including a malformed frame.
 */
#include "tests/unit/cu_run.h"
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host-agent/hostd/esw/announce.h"
#include "host-agent/hostd/config.h"
#include "host-agent/common/loop.h"
#include "host-agent/hostd/peer/peer.h"

static const char good[] =
	"# lab host A\n"
	"host = A\n"
	"ctl_socket = /run/x/ctl.sock\n"
	"peer_socket = /run/x/peer-A.sock\n"
	"uplink = uplink\n"
	"txqueuelen = 8192\n"
	"\n"
	"[peer B]\n"
	"socket = /run/x/peer-B.sock\n"
	"[vm vm1]\n"
	"qmp = /run/x/qmp.sock\n"
	"agent = /run/x/agent.sock\n"
	"mac = 52:54:00:18:00:10\n"
	"mode = bond\n"
	"standby_port = hs-vm1\n"
	"vf_port = hv-vm1\n"
	"vf_bus = rp1\n";

static void test_config_good(void)
{
	struct hostd_config c;
	char err[256] = "";

	config_defaults(&c);
	CU_ASSERT_EQUAL(config_parse(&c, good, "t.conf", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.host, "A");
	CU_ASSERT_EQUAL(c.txqueuelen, 8192);
	CU_ASSERT_EQUAL(c.vf_up_timeout_ms, CFG_VF_UP_TIMEOUT_MS_DEF);
	CU_ASSERT_EQUAL(c.n_peers, 1);
	CU_ASSERT_STRING_EQUAL(config_peer(&c, "B")->socket, "/run/x/peer-B.sock");
	CU_ASSERT_PTR_NULL(config_peer(&c, "C"));
	CU_ASSERT_EQUAL(c.n_vms, 1);
	CU_ASSERT_EQUAL(c.vms[0].mode, VM_MODE_BOND);
	CU_ASSERT_STRING_EQUAL(c.vms[0].esw_kind, "bridge");
	CU_ASSERT_STRING_EQUAL(c.vms[0].vf_id, "vf0");
	CU_ASSERT_STRING_EQUAL(c.vms[0].vf_bus, "rp1");
}

static void expect_err(const char *text, const char *needle)
{
	struct hostd_config c;
	char err[256] = "";

	config_defaults(&c);
	CU_ASSERT_NOT_EQUAL(config_parse(&c, text, "t.conf", err, sizeof(err)), 0);
	if (!strstr(err, needle))
		(void)fprintf(stderr, "\nwanted '%s' in '%s'\n", needle, err);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, needle));
}

static void test_config_errors(void)
{
	expect_err("host = A\nbogus = 1\n", "t.conf:2: unknown key 'bogus'");
	expect_err("host = A\ntxqueuelen = 12x\n", "t.conf:2: txqueuelen: '12x' is not a number");
	expect_err("host = A\ntxqueuelen = -5\n", "txqueuelen");
	expect_err("host = A\n[vm a/b]\n", "t.conf:2: section");
	expect_err("host = A\n[disk d]\n", "unknown section kind 'disk'");
	expect_err("host = A\n[vm v]\nmac = 01:00:00:00:00:01\n", "not a unicast");
	expect_err("host = A\n[vm v]\nmode = team\n", "mode: 'team'");
	expect_err("host = A\n[vm v]\nmac = 52:54:00:00:00:01\n", "standby_port and vf_port");
	expect_err("host = A\n[vm v]\nmac = 52:54:00:00:00:01\nstandby_port = s\nvf_port = f\n",
		   "needs qmp");
	expect_err("[vm a/b]\n", "t.conf:1: section");
	expect_err("host = A\n[peer B]\n", "peer B has no socket");
	expect_err("host = A\nno equals here\n", "t.conf:2: want 'key = value'");
	expect_err("host = A\nuplink =\n", "uplink: empty value");
	expect_err("host = A\n[vm v]\nmac = 52:54:00:00:00:01\nstandby_port = s\nvf_port = f\n"
		   "qmp = /q\n[vm v]\nmac = 52:54:00:00:00:01\nstandby_port = s\nvf_port = f\n"
		   "qmp = /q\n", "defined twice");
}

/* no host line: the hostname's first label, the name the peers give this host; comments
 * after values */
static void test_config_default_host(void)
{
	struct hostd_config c;
	char err[256] = "", want[256];

	CU_ASSERT_EQUAL(gethostname(want, sizeof(want)), 0);
	want[strcspn(want, ".")] = '\0';
	config_defaults(&c);
	CU_ASSERT_EQUAL_FATAL(config_parse(&c, "ctl_socket = /x\n", "t.conf", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.host, want);
	config_defaults(&c);
	CU_ASSERT_EQUAL_FATAL(config_parse(&c, "host = hv7\n", "t.conf", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.host, "hv7");
	/* a comment after a value (after a blank); '#' inside a value stays */
	config_defaults(&c);
	CU_ASSERT_EQUAL_FATAL(config_parse(&c, "host = hv8   # this host\nuplink = a#b\t# x\n"
					   "libvirt_uri = qemu:///system\t#c\n", "t.conf", err,
					   sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.host, "hv8");
	CU_ASSERT_STRING_EQUAL(c.uplink, "a#b");
	CU_ASSERT_STRING_EQUAL(c.libvirt_uri, "qemu:///system");
	config_defaults(&c);
	CU_ASSERT_NOT_EQUAL(config_parse(&c, "host = hv8\nuplink = # nothing\n", "t.conf", err,
					 sizeof(err)), 0);
}

/* libvirt: hv = libvirt needs neither qmp nor launcher; the new keys and their errors */
static void test_config_libvirt(void)
{
	static const char text[] =
		"host = A\nlibvirt_uri = qemu:///system\nlibvirt_coordinate = 0\nhook_wait_ms = 5000\n"
		"[peer B]\nsocket = /run/x/peer-B.sock\nlibvirt_uri = qemu+tls://b/system\n"
		"migrate_uri = tcp://198.19.254.2:49152\n"
		"[vm v]\nmac = 52:54:00:00:00:01\nstandby_port = s\nvf_port = f\nhv = libvirt\n"
		"domain = guest-1\n"
		"[vm w]\nmac = 52:54:00:00:00:02\nstandby_port = s\nvf_port = f\nhv = libvirt\n";
	struct hostd_config c;
	char err[256] = "";

	config_defaults(&c);
	CU_ASSERT_EQUAL(c.libvirt_coordinate, 1);
	CU_ASSERT_EQUAL(c.hook_wait_ms, CFG_HOOK_WAIT_MS_DEF);
	CU_ASSERT_EQUAL_FATAL(config_parse(&c, text, "t.conf", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(c.libvirt_uri, "qemu:///system");
	CU_ASSERT_EQUAL(c.libvirt_coordinate, 0);
	CU_ASSERT_EQUAL(c.hook_wait_ms, 5000);
	CU_ASSERT_STRING_EQUAL(config_peer(&c, "B")->libvirt_uri, "qemu+tls://b/system");
	CU_ASSERT_STRING_EQUAL(config_peer(&c, "B")->migrate_uri, "tcp://198.19.254.2:49152");
	CU_ASSERT_TRUE(vm_config_libvirt(&c.vms[0]));
	CU_ASSERT_STRING_EQUAL(vm_config_domain(&c.vms[0]), "guest-1");
	CU_ASSERT_STRING_EQUAL(vm_config_domain(&c.vms[1]), "w");     /* default: the VM's name */
	CU_ASSERT_STRING_EQUAL(c.vms[0].hv, "libvirt");
	expect_err("host = A\n[vm v]\nhv = xen\n", "hv: 'xen' (qmp or libvirt)");
	expect_err("host = A\n[vm v]\ndomain = a/b\n", "domain: 'a/b'");
	expect_err("host = A\nlibvirt_coordinate = 2\n", "libvirt_coordinate: '2' (on or off)");
	config_defaults(&c);
	CU_ASSERT_EQUAL(config_parse(&c, "host = A\nlibvirt_coordinate = off\n", "t.conf", err,
				     sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.libvirt_coordinate, 0);
	expect_err("host = A\nhook_wait_ms = 5\n", "hook_wait_ms");
	expect_err("host = A\n[peer B]\nsocket = /s\nlibvirt = x\n", "libvirt_uri, migrate_uri");
	/* hv = qmp (the default) still needs qmp or a launcher */
	expect_err("host = A\n[vm v]\nmac = 52:54:00:00:00:01\nstandby_port = s\nvf_port = f\n"
		   "hv = qmp\n", "needs qmp");
}

/* vf_watch (global, on by default): on|off, 1|0; anything else names the key */
static void test_config_vf_watch(void)
{
	struct hostd_config c;
	char err[256] = "";

	config_defaults(&c);
	CU_ASSERT_EQUAL(c.vf_watch, 1);
	CU_ASSERT_EQUAL(config_parse(&c, "host = A\nvf_watch = off\n", "t.conf", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.vf_watch, 0);
	CU_ASSERT_EQUAL(config_parse(&c, "host = A\nvf_watch = on\n", "t.conf", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.vf_watch, 1);
	config_defaults(&c);
	CU_ASSERT_EQUAL(config_parse(&c, "host = A\nvf_watch = 0\n", "t.conf", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.vf_watch, 0);
	expect_err("host = A\nvf_watch = maybe\n", "t.conf:2: vf_watch: 'maybe' (on or off)");
	expect_err("host = A\n[vm v]\nvf_watch = on\n", "unknown VM key 'vf_watch'");
}

/* guest_sentry and peer_sentry (on by default) and sentry_user (empty: the daemon's
 * default account) */
static void test_config_sentry(void)
{
	struct hostd_config c;
	char err[256] = "";

	config_defaults(&c);
	CU_ASSERT_EQUAL(c.guest_sentry, 1);
	CU_ASSERT_EQUAL(c.peer_sentry, 1);
	CU_ASSERT_STRING_EQUAL(c.sentry_user, "");
	CU_ASSERT_EQUAL(config_parse(&c, "host = A\nguest_sentry = off\nsentry_user = hbs\n"
				     "peer_sentry = 0\n", "t.conf", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(c.guest_sentry, 0);
	CU_ASSERT_EQUAL(c.peer_sentry, 0);
	CU_ASSERT_STRING_EQUAL(c.sentry_user, "hbs");
	expect_err("host = A\nguest_sentry = later\n", "t.conf:2: guest_sentry: 'later' (on or off)");
	expect_err("host = A\n[vm v]\nguest_sentry = on\n", "unknown VM key 'guest_sentry'");
	expect_err("host = A\npeer_sentry = yes please\n",
		   "t.conf:2: peer_sentry: 'yes please' (on or off)");
}

static void test_rarp(void)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x18, 0, 0x10 };
	uint8_t f[ANNOUNCE_FRAME_LEN];
	char err[128];

	announce_build_rarp(f, mac);
	CU_ASSERT_EQUAL(f[0], 0xff);
	CU_ASSERT_EQUAL(memcmp(f + 6, mac, 6), 0);
	CU_ASSERT_EQUAL(f[12], 0x80);
	CU_ASSERT_EQUAL(f[13], 0x35);
	CU_ASSERT_EQUAL(f[21], 3);
	CU_ASSERT_EQUAL(memcmp(f + 22, mac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(f + 32, mac, 6), 0);
	CU_ASSERT_EQUAL(announce_rarp("no-such-link0", mac, 1, err, sizeof(err)), -ENODEV);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "no-such-link0"));
}

/* ---- peer channel over a socketpair -------------------------------------- */
struct rx {
	struct loop *l;
	int n;
	uint16_t types[8];
	char vm[70];
	char uri[260];
	int closed;
};

static void rx_msg(void *arg, struct peer_conn *pc, const struct hb_msg *m)
{
	struct rx *r = arg;

	(void)pc;
	if (r->n < 8)
		r->types[r->n] = m->type;
	r->n++;
	if (m->type == HB_MSG_MIGRATE_PREPARE)
		(void)snprintf(r->vm, sizeof(r->vm), "%s", m->u.migrate_prepare.vm);
	if (m->type == HB_MSG_MIGRATE_READY)
		(void)snprintf(r->uri, sizeof(r->uri), "%s", m->u.migrate_ready.uri);
	loop_quit(r->l);
}

static void rx_closed(void *arg, struct peer_conn *pc, int err)
{
	struct rx *r = arg;

	(void)pc;
	(void)err;
	r->closed = 1;
	loop_quit(r->l);
}

static const struct peer_ops rx_ops = { .on_msg = rx_msg, .on_closed = rx_closed };

static void run_until(struct loop *l, struct rx *r, int n)
{
	int guard = 0;

	while (r->n < n && !r->closed && guard++ < 10) {
		loop_run(l);    /* returns on loop_quit() from a callback */
	}
}

static void test_peer_roundtrip(void)
{
	struct loop *l = loop_new();
	struct rx ra = { .l = l }, rb = { .l = l };
	struct peer_conn *a, *b;
	struct hb_msg m;
	int sv[2];
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x18, 0, 0x10 };
	uint8_t junk[64];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	a = peer_conn_new(l, sv[0], &rx_ops, &ra, "A");
	b = peer_conn_new(l, sv[1], &rx_ops, &rb, "B");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);

	hb_msg_init(&m, HB_MSG_MIGRATE_PREPARE, 0);
	m.u.migrate_prepare.vm = "vm1";
	memcpy(m.u.migrate_prepare.mac, mac, 6);
	m.u.migrate_prepare.mode = 0;
	m.u.migrate_prepare.source = "A";
	CU_ASSERT_EQUAL(peer_send(a, &m), 0);
	run_until(l, &rb, 1);
	CU_ASSERT_EQUAL(rb.types[0], HB_MSG_MIGRATE_PREPARE);
	CU_ASSERT_STRING_EQUAL(rb.vm, "vm1");

	hb_msg_init_reply(&m, HB_MSG_MIGRATE_READY, &m);
	m.u.migrate_ready.vm = "vm1";
	m.u.migrate_ready.uri = "unix:/x/mig.sock";
	CU_ASSERT_EQUAL(peer_send(b, &m), 0);
	run_until(l, &ra, 1);
	CU_ASSERT_STRING_EQUAL(ra.uri, "unix:/x/mig.sock");

	/* a required attribute missing: B answers ERROR MALFORMED, delivers nothing */
	hb_msg_init(&m, HB_MSG_MIGRATE_STOPPED, 0);
	m.u.migrate_stopped.vm = NULL;
	CU_ASSERT_NOT_EQUAL(peer_send(a, &m), 0);       /* the encoder refuses it */
	memset(junk, 0xa5, sizeof(junk));
	CU_ASSERT_EQUAL(write(sv[0], junk, sizeof(junk)), (ssize_t)sizeof(junk));
	hb_msg_init(&m, HB_MSG_MIGRATE_STOPPED, 0);
	m.u.migrate_stopped.vm = "vm1";
	CU_ASSERT_EQUAL(peer_send(a, &m), 0);
	run_until(l, &rb, 2);
	CU_ASSERT_EQUAL(rb.n, 2);                       /* garbage skipped, frame delivered */
	CU_ASSERT_EQUAL(rb.types[1], HB_MSG_MIGRATE_STOPPED);

	peer_conn_free(a);
	run_until(l, &rb, 99);
	CU_ASSERT_EQUAL(rb.closed, 1);
	loop_free(l);
}

static CU_TestInfo tests[] = {
	{ "config: a full file", test_config_good },
	{ "config: errors name file:line and the problem", test_config_errors },
	{ "config: host defaults to the hostname", test_config_default_host },
	{ "config: libvirt keys", test_config_libvirt },
	{ "config: vf_watch", test_config_vf_watch },
	{ "config: guest_sentry, peer_sentry, sentry_user", test_config_sentry },
	{ "announce: RARP frame", test_rarp },
	{ "peer: MIGRATE_* round trip, garbage skipped, close", test_peer_roundtrip },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "hostd", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return hb_cu_run(suites);
}
