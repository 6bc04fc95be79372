// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/test_peer_tls.c — the peer channel over mutual TLS (host-agent/peer.c,
 * peer_tls.c) and its configuration keys.
 *
 * Certificates are made here with GnuTLS's x509 API (ECDSA P-256, into a mkdtemp
 * directory): CA1 and CA2, hosts A and B (CA1), X (CA2), Z (CA1, a name no peer has),
 * E (CA1, expired).  Client and server run in one loop over a socketpair; endpoints
 * that peer.c cannot be (no certificate, an expired one) are raw GnuTLS sessions
 * driven by the same loop.  Handshake deadlines are driven with peer_tls_tick() and a
 * clock of the test's own: nothing sleeps.  The peer sentry (sentry/sentry.h) is this
 * binary re-executed with SENTRY_ARG, as the daemon does it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cu_run.h"
#include "host-agent/hostd/config.h"
#include "host-agent/common/loop.h"
#include "host-agent/hostd/peer/peer.h"
#include "host-agent/hostd/sentry/sentry.h"

#define DAY ((time_t)24 * 3600)
#define A_WHERE "198.19.250.1:40000"
#define B_WHERE "198.19.250.2:16515"

static char dir[64];

/* ---- certificates -------------------------------------------------------------- */
struct cred {
	gnutls_x509_privkey_t key;
	gnutls_x509_crt_t crt;
};

static struct cred ca1, ca2, ha, hb, hx, hz, he;

/* Made in the suite's init, where CUnit assertions cannot be used: 0 or -1. */
static int mk_cert(struct cred *c, const char *cn, const char *dns, const char *ip,
		   const struct cred *issuer, time_t from, time_t to)
{
	static uint8_t serial = 1;
	unsigned char id[64];
	size_t idlen = sizeof(id);
	uint8_t ip4[4];
	int rc;

	if (gnutls_x509_privkey_init(&c->key) || gnutls_x509_crt_init(&c->crt))
		return -1;
	rc = gnutls_x509_privkey_generate(c->key, GNUTLS_PK_ECDSA,
					  GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	rc |= gnutls_x509_crt_set_version(c->crt, 3);
	rc |= gnutls_x509_crt_set_serial(c->crt, &serial, 1);
	serial++;
	rc |= gnutls_x509_crt_set_activation_time(c->crt, from);
	rc |= gnutls_x509_crt_set_expiration_time(c->crt, to);
	rc |= gnutls_x509_crt_set_dn_by_oid(c->crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
					    (unsigned)strlen(cn));
	rc |= gnutls_x509_crt_set_key(c->crt, c->key);
	if (!issuer) {
		rc |= gnutls_x509_crt_set_basic_constraints(c->crt, 1, -1);
		rc |= gnutls_x509_crt_set_key_usage(c->crt, GNUTLS_KEY_KEY_CERT_SIGN |
						    GNUTLS_KEY_CRL_SIGN);
	} else {
		rc |= gnutls_x509_crt_set_basic_constraints(c->crt, 0, -1);
		rc |= gnutls_x509_crt_set_key_usage(c->crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
		rc |= gnutls_x509_crt_set_key_purpose_oid(c->crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
		rc |= gnutls_x509_crt_set_key_purpose_oid(c->crt, GNUTLS_KP_TLS_WWW_CLIENT, 0);
		if (dns)
			rc |= gnutls_x509_crt_set_subject_alt_name(c->crt, GNUTLS_SAN_DNSNAME, dns,
				(unsigned)strlen(dns), GNUTLS_FSAN_APPEND);
		if (ip && inet_pton(AF_INET, ip, ip4) == 1)
			rc |= gnutls_x509_crt_set_subject_alt_name(c->crt, GNUTLS_SAN_IPADDRESS,
				ip4, 4, GNUTLS_FSAN_APPEND);
	}
	rc |= gnutls_x509_crt_get_key_id(c->crt, 0, id, &idlen);
	rc |= gnutls_x509_crt_set_subject_key_id(c->crt, id, idlen);
	if (issuer) {
		idlen = sizeof(id);
		rc |= gnutls_x509_crt_get_subject_key_id(issuer->crt, id, &idlen, NULL);
		rc |= gnutls_x509_crt_set_authority_key_id(c->crt, id, idlen);
	}
	rc |= gnutls_x509_crt_sign2(c->crt, issuer ? issuer->crt : c->crt,
				    issuer ? issuer->key : c->key, GNUTLS_DIG_SHA256, 0);
	return rc ? -1 : 0;
}

static int write_file(const char *name, const gnutls_datum_t *d, int append, mode_t mode)
{
	char path[128];
	FILE *f;
	int rc;

	(void)snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, append ? "a" : "w");
	if (!f)
		return -1;
	rc = fwrite(d->data, 1, d->size, f) == d->size ? 0 : -1;
	rc |= fclose(f);
	rc |= chmod(path, mode);
	return rc ? -1 : 0;
}

static int save(const struct cred *c, const char *crt_name, const char *key_name, int append)
{
	gnutls_datum_t d;
	int rc;

	if (gnutls_x509_crt_export2(c->crt, GNUTLS_X509_FMT_PEM, &d))
		return -1;
	rc = write_file(crt_name, &d, append, 0644);
	gnutls_free(d.data);
	if (rc || !key_name)
		return rc;
	if (gnutls_x509_privkey_export2(c->key, GNUTLS_X509_FMT_PEM, &d))
		return -1;
	rc = write_file(key_name, &d, 0, 0600);
	gnutls_free(d.data);
	return rc;
}

/* crl.pem: CA1 revokes host A's certificate */
static int save_crl(time_t now)
{
	gnutls_x509_crl_t crl;
	gnutls_datum_t d;
	int rc;

	if (gnutls_x509_crl_init(&crl))
		return -1;
	rc = gnutls_x509_crl_set_version(crl, 2);
	rc |= gnutls_x509_crl_set_this_update(crl, now - 60);
	rc |= gnutls_x509_crl_set_next_update(crl, now + 30 * DAY);
	rc |= gnutls_x509_crl_set_crt(crl, ha.crt, now - 60);
	rc |= gnutls_x509_crl_sign2(crl, ca1.crt, ca1.key, GNUTLS_DIG_SHA256, 0);
	if (!rc && !gnutls_x509_crl_export2(crl, GNUTLS_X509_FMT_PEM, &d)) {
		rc = write_file("crl.pem", &d, 0, 0644);
		gnutls_free(d.data);
	} else {
		rc = -1;
	}
	gnutls_x509_crl_deinit(crl);
	return rc;
}

static void free_cred(struct cred *c)
{
	gnutls_x509_crt_deinit(c->crt);
	gnutls_x509_privkey_deinit(c->key);
}

static int suite_init(void)
{
	time_t now = time(NULL);
	int rc;

	(void)snprintf(dir, sizeof(dir), "/tmp/hb-peer-tls.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	rc = mk_cert(&ca1, "hybond test CA 1", NULL, NULL, NULL, now - DAY, now + 400 * DAY);
	rc |= mk_cert(&ca2, "hybond test CA 2", NULL, NULL, NULL, now - DAY, now + 400 * DAY);
	rc |= mk_cert(&ha, "hb-a", "hb-a.test", "198.19.250.1", &ca1, now - DAY, now + 365 * DAY);
	rc |= mk_cert(&hb, "hb-b", "hb-b.test", "198.19.250.2", &ca1, now - DAY, now + 365 * DAY);
	rc |= mk_cert(&hx, "hb-x", "hb-a.test", NULL, &ca2, now - DAY, now + 365 * DAY);
	rc |= mk_cert(&hz, "hb-z", "hb-z.test", NULL, &ca1, now - DAY, now + 10 * DAY - 60);
	rc |= mk_cert(&he, "hb-e", "hb-a.test", NULL, &ca1, now - 20 * DAY, now - DAY);
	rc |= save(&ca1, "ca1.pem", NULL, 0);
	rc |= save(&ca2, "ca2.pem", NULL, 0);
	rc |= save(&ca1, "ca12.pem", NULL, 0);
	rc |= save(&ca2, "ca12.pem", NULL, 1);
	rc |= save(&ha, "a.pem", "a.key", 0);
	rc |= save(&hb, "b.pem", "b.key", 0);
	rc |= save(&hx, "x.pem", "x.key", 0);
	rc |= save(&hz, "z.pem", "z.key", 0);
	rc |= save(&he, "e.pem", "e.key", 0);
	rc |= save_crl(now);
	return rc ? 1 : 0;
}

static int suite_clean(void)
{
	static const char *const files[] = { "ca1.pem", "ca2.pem", "ca12.pem", "a.pem", "a.key",
		"b.pem", "b.key", "x.pem", "x.key", "z.pem", "z.key", "e.pem", "e.key", "crl.pem" };
	char path[128];
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		(void)unlink(path);
	}
	(void)rmdir(dir);
	free_cred(&ca1);
	free_cred(&ca2);
	free_cred(&ha);
	free_cred(&hb);
	free_cred(&hx);
	free_cred(&hz);
	free_cred(&he);
	return 0;
}

/* ---- daemons' TLS contexts ------------------------------------------------------ */
static void path(char *dst, size_t len, const char *name)
{
	(void)snprintf(dst, len, "%s/%s", dir, name);
}

/* host "self" with its files; one TLS peer NAME at IP:PORT named TLS_NAME ("" = default) */
static void mk_config(struct hostd_config *c, const char *ca, const char *crt, const char *key,
		      const char *peer, const char *addr, const char *tls_name)
{
	char text[1024], err[256] = "";
	char pca[128], pcrt[128], pkey[128];

	path(pca, sizeof(pca), ca);
	path(pcrt, sizeof(pcrt), crt);
	path(pkey, sizeof(pkey), key);
	(void)snprintf(text, sizeof(text), "host = self\ntls_ca = %s\ntls_cert = %s\n"
		       "tls_key = %s\n[peer %s]\naddress = %s\n%s%s\n", pca, pcrt, pkey, peer, addr,
		       tls_name[0] ? "tls_name = " : "", tls_name);
	config_defaults(c);
	CU_ASSERT_EQUAL(config_parse(c, text, "t.conf", err, sizeof(err)), 0);
	if (err[0])
		(void)fprintf(stderr, "\nconfig: %s\n", err);
}

static struct peer_tls *mk_tls(const struct hostd_config *c)
{
	struct peer_tls *t = NULL;
	char err[PEER_ERR_MAX] = "", warn[PEER_ERR_MAX];

	CU_ASSERT_EQUAL(peer_tls_new(c, &t, err, sizeof(err), warn, sizeof(warn)), 0);
	if (err[0])
		(void)fprintf(stderr, "\npeer_tls_new: %s\n", err);
	return t;
}

/* ---- endpoints -------------------------------------------------------------------- */
struct ep {
	struct loop *l;
	struct peer_conn *pc;
	int n, closed, err, ready;
	int n_closed;           /* n when it closed */
	int reply;              /* answer each MIGRATE_PREPARE with a MIGRATE_READY */
	uint16_t types[8];
	char vm[70], uri[260], text[PEER_ERR_MAX], peer[70], info[PEER_INFO_MAX];
};

static void ep_msg(void *arg, struct peer_conn *pc, const struct hb_msg *m)
{
	struct ep *e = arg;

	(void)pc;
	if (e->n < 8)
		e->types[e->n] = m->type;
	e->n++;
	if (m->type == HB_MSG_MIGRATE_PREPARE)
		(void)snprintf(e->vm, sizeof(e->vm), "%s", m->u.migrate_prepare.vm);
	if (m->type == HB_MSG_MIGRATE_PREPARE && e->reply) {
		struct hb_msg r;

		hb_msg_init_reply(&r, HB_MSG_MIGRATE_READY, m);
		r.u.migrate_ready.vm = "vm1";
		r.u.migrate_ready.uri = "tcp:198.19.250.2:4444";
		(void)peer_send(pc, &r);        /* may fail: the peer may be gone */
	}
	if (m->type == HB_MSG_MIGRATE_READY)
		(void)snprintf(e->uri, sizeof(e->uri), "%s", m->u.migrate_ready.uri);
	loop_quit(e->l);
}

static void ep_closed(void *arg, struct peer_conn *pc, int err)
{
	struct ep *e = arg;

	e->closed = 1;
	e->n_closed = e->n;
	e->err = err;
	e->pc = NULL;
	(void)snprintf(e->text, sizeof(e->text), "%s", peer_conn_error(pc));
	loop_quit(e->l);
}

static void ep_ready(void *arg, struct peer_conn *pc)
{
	struct ep *e = arg;
	const char *who = peer_conn_peer(pc);

	e->ready = 1;
	(void)snprintf(e->peer, sizeof(e->peer), "%s", who ? who : "");
	(void)snprintf(e->info, sizeof(e->info), "%s", peer_conn_tls_info(pc));
	loop_quit(e->l);
}

static const struct peer_ops ep_ops = { .on_msg = ep_msg, .on_closed = ep_closed,
					.on_ready = ep_ready };

/* A GnuTLS session of the test's own: what peer.c never is (no or expired certificate). */
struct raw {
	struct loop *l;
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	int fd, done, rc, in_loop;
	uint8_t got[1024];      /* what it received, from the start */
	int got_n;
	int flood;              /* send records of zeros as fast as the socket takes them */
	size_t sent;
};

static void raw_io(void *arg, unsigned events)
{
	struct raw *r = arg;
	char buf[512];
	ssize_t n;

	(void)events;
	if (!r->done) {
		r->rc = gnutls_handshake(r->s);
		if (r->rc == GNUTLS_E_AGAIN || r->rc == GNUTLS_E_INTERRUPTED) {
			(void)loop_mod_fd(r->l, r->fd, gnutls_record_get_direction(r->s) ?
					  EPOLLOUT : EPOLLIN);
			return;
		}
		r->done = 1;
		loop_quit(r->l);
		(void)loop_mod_fd(r->l, r->fd, EPOLLIN);
	}
	while (r->flood && r->rc >= 0) {
		static const uint8_t zeros[8192];
		ssize_t w = gnutls_record_send(r->s, zeros, sizeof(zeros));

		if (w == GNUTLS_E_AGAIN) {
			(void)loop_mod_fd(r->l, r->fd, EPOLLIN | EPOLLOUT);
			break;
		}
		if (w <= 0) {
			r->flood = 0;
			(void)loop_mod_fd(r->l, r->fd, EPOLLIN);
			break;
		}
		r->sent += (size_t)w;
	}
	n = r->rc < 0 ? -1 : gnutls_record_recv(r->s, buf, sizeof(buf));
	if (n == GNUTLS_E_AGAIN)
		return;
	if (n > 0) {
		if ((size_t)r->got_n + (size_t)n <= sizeof(r->got)) {
			memcpy(r->got + r->got_n, buf, (size_t)n);
			r->got_n += (int)n;
		}
		loop_quit(r->l);
		return;
	}
	loop_del_fd(r->l, r->fd);       /* alert, EOF or failure: nothing more to do */
	r->in_loop = 0;
}

/* host: "e" for e.pem + e.key, or NULL for no certificate */
static void raw_start(struct raw *r, struct loop *l, int fd, int server, const char *host)
{
	char pca[128], pcrt[128], pkey[128], name[16];

	memset(r, 0, sizeof(*r));
	r->l = l;
	r->fd = fd;
	path(pca, sizeof(pca), "ca1.pem");
	CU_ASSERT_EQUAL_FATAL(gnutls_certificate_allocate_credentials(&r->cred), 0);
	CU_ASSERT(gnutls_certificate_set_x509_trust_file(r->cred, pca, GNUTLS_X509_FMT_PEM) > 0);
	if (host) {
		(void)snprintf(name, sizeof(name), "%s.pem", host);
		path(pcrt, sizeof(pcrt), name);
		(void)snprintf(name, sizeof(name), "%s.key", host);
		path(pkey, sizeof(pkey), name);
		CU_ASSERT(gnutls_certificate_set_x509_key_file(r->cred, pcrt, pkey,
							       GNUTLS_X509_FMT_PEM) >= 0);
	}
	CU_ASSERT_EQUAL_FATAL(gnutls_init(&r->s, (server ? GNUTLS_SERVER : GNUTLS_CLIENT) |
					  GNUTLS_NONBLOCK), 0);
	CU_ASSERT_EQUAL(gnutls_set_default_priority(r->s), 0);
	CU_ASSERT_EQUAL(gnutls_credentials_set(r->s, GNUTLS_CRD_CERTIFICATE, r->cred), 0);
	if (server)
		gnutls_certificate_server_set_request(r->s, GNUTLS_CERT_REQUEST);
	gnutls_transport_set_int(r->s, fd);
	CU_ASSERT_EQUAL(loop_add_fd(l, fd, EPOLLIN | EPOLLOUT, raw_io, r), 0);
	r->in_loop = 1;
}

static void raw_end(struct raw *r)
{
	if (r->in_loop)
		loop_del_fd(r->l, r->fd);
	gnutls_deinit(r->s);
	gnutls_certificate_free_credentials(r->cred);
	(void)close(r->fd);
}

/* ---- the loop --------------------------------------------------------------------- */
static int watchdog_fired;

static void watchdog(void *arg)
{
	watchdog_fired = 1;
	loop_quit(arg);
}

/* Run until *v reaches want; a watchdog (20 s: valgrind is slow) ends a hang. */
/* Runs the loop until done(arg), at most 20 s (then a failed assertion). */
static void run_cond(struct loop *l, int (*done)(const void *), const void *arg)
{
	struct loop_timer *w = loop_timer_new(l, watchdog, l);

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	watchdog_fired = 0;
	(void)loop_timer_arm(w, 20000);
	while (!done(arg) && !watchdog_fired)
		(void)loop_run(l);
	CU_ASSERT_FALSE(watchdog_fired);
	loop_timer_free(w);
}

struct at_least {
	const int *v;
	int want;
};

static int reached(const void *arg)
{
	const struct at_least *a = arg;

	return *a->v >= a->want;
}

static void run_to(struct loop *l, const int *v, int want)
{
	const struct at_least a = { v, want };

	run_cond(l, reached, &a);
}

static void run_until(struct loop *l, const int *flag)
{
	run_to(l, flag, 1);
}

static int pair(int sv[2])
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv);
}

static void expect_text(const char *text, const char *needle)
{
	if (!strstr(text, needle))
		(void)fprintf(stderr, "\nwanted '%s' in '%s'\n", needle, text);
	CU_ASSERT_PTR_NOT_NULL(strstr(text, needle));
}

/* ---- tests ------------------------------------------------------------------------- */
static void prepare_msg(struct hb_msg *m, const char *source)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0, 0x18, 0, 0x10 };

	hb_msg_init(m, HB_MSG_MIGRATE_PREPARE, 0);
	m->u.migrate_prepare.vm = "vm1";
	memcpy(m->u.migrate_prepare.mac, mac, 6);
	m->u.migrate_prepare.mode = 0;
	m->u.migrate_prepare.source = source;
}

static struct sentry *peer_sentry(struct loop *l)
{
	char err[512];
	struct sentry *s = sentry_start(l, "nobody", SENTRY_PEERS, err, sizeof(err));

	if (!s)
		(void)fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

/* Mutual TLS: handshake, identities, MIGRATE_* both ways (queued before the handshake,
 * and 200 frames to cross record and socket boundaries), SOURCE vs. identity, close;
 * @sentries: both sides read through a peer sentry each. */
static void roundtrip(int sentries)
{
	struct hostd_config ca, cb;
	struct peer_tls *ta, *tb;
	struct loop *l = loop_new();
	struct ep ea = { .l = l }, eb = { .l = l };
	struct sentry *sa = NULL, *sb = NULL;
	struct hb_msg m;
	char err[PEER_ERR_MAX], text[256];
	int sv[2], i;

	mk_config(&ca, "ca1.pem", "a.pem", "a.key", "B", B_WHERE, "hb-b.test");
	mk_config(&cb, "ca1.pem", "b.pem", "b.key", "A", "198.19.250.1:16515", "hb-a.test");
	ta = mk_tls(&ca);
	tb = mk_tls(&cb);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ta);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
	if (sentries) {
		sa = peer_sentry(l);
		sb = peer_sentry(l);
		peer_tls_set_sentry(ta, sa);
		peer_tls_set_sentry(tb, sb);
	}
	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	ea.pc = peer_tls_client(l, ta, sv[0], config_peer(&ca, "B"), B_WHERE, &ep_ops, &ea, &i);
	eb.pc = peer_tls_server(l, tb, sv[1], A_WHERE, &ep_ops, &eb, &i);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ea.pc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(eb.pc);
	CU_ASSERT_PTR_NULL(peer_conn_peer(eb.pc));              /* not authenticated yet */
	CU_ASSERT_STRING_EQUAL(peer_conn_tls_info(ea.pc), "");

	prepare_msg(&m, "A");
	CU_ASSERT_EQUAL(peer_send(ea.pc, &m), 0);               /* queued until the handshake */
	run_until(l, &eb.n);
	CU_ASSERT_EQUAL(eb.types[0], HB_MSG_MIGRATE_PREPARE);
	CU_ASSERT_STRING_EQUAL(eb.vm, "vm1");
	CU_ASSERT(ea.ready && eb.ready);
	CU_ASSERT_STRING_EQUAL(ea.peer, "B");
	CU_ASSERT_STRING_EQUAL(eb.peer, "A");
	CU_ASSERT_STRING_EQUAL(peer_conn_name(eb.pc), "A");
	CU_ASSERT_STRING_EQUAL(peer_conn_peer(eb.pc), "A");
	expect_text(ea.info, "TLS1.3");
	expect_text(ea.info, "peer cert CN=hb-b, DNS:hb-b.test, IP:198.19.250.2");
	expect_text(eb.info, "peer cert CN=hb-a");

	/* the authenticated identity against MIGRATE_PREPARE's SOURCE */
	CU_ASSERT_EQUAL(peer_check_source(eb.pc, HB_MSG_MIGRATE_PREPARE, "A", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(peer_check_source(eb.pc, HB_MSG_MIGRATE_PREPARE, "C", err, sizeof(err)), -EPERM);
	expect_text(err, "names source host 'C', but its TLS certificate authenticates peer A");
	CU_ASSERT_EQUAL(peer_check_source(eb.pc, HB_MSG_MIGRATE_INCOMING, "C", err, sizeof(err)),
			-EPERM);
	expect_text(err, "MIGRATE_INCOMING from");
	expect_text(err, "names destination host 'C'");

	hb_msg_init_reply(&m, HB_MSG_MIGRATE_READY, &m);
	m.u.migrate_ready.vm = "vm1";
	m.u.migrate_ready.uri = "tcp:198.19.250.2:4444";
	CU_ASSERT_EQUAL(peer_send(eb.pc, &m), 0);
	run_until(l, &ea.n);
	CU_ASSERT_STRING_EQUAL(ea.uri, "tcp:198.19.250.2:4444");

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = 0;
	for (i = 0; i < 200; i++) {
		hb_msg_init(&m, HB_MSG_MIGRATE_FINISHED, 0);
		m.u.migrate_finished.vm = "vm1";
		m.u.migrate_finished.path = HB_PATH_FAST;
		m.u.migrate_finished.text = text;
		CU_ASSERT_EQUAL(peer_send(eb.pc, &m), 0);
	}
	run_to(l, &ea.n, 201);
	CU_ASSERT_EQUAL(ea.n, 201);
	CU_ASSERT_FALSE(ea.closed);

	if (sentries) {
		/* B's frames were read by B's sentry: its death ends the connection */
		CU_ASSERT_EQUAL(kill(sentry_pid(sb), SIGKILL), 0);
		run_until(l, &eb.closed);
		CU_ASSERT_EQUAL(eb.err, -ECONNABORTED);
		expect_text(eb.text, "the peer sentry reading A (" A_WHERE ") died");
		peer_conn_free(ea.pc);
	} else {
		peer_conn_free(ea.pc);                          /* TLS bye, then close */
		run_until(l, &eb.closed);
		CU_ASSERT_EQUAL(eb.err, -ECONNRESET);
		expect_text(eb.text, "A (" A_WHERE ") closed the connection");
	}
	peer_tls_free(ta);
	peer_tls_free(tb);
	sentry_stop(sa);
	sentry_stop(sb);
	loop_free(l);
}

static void test_roundtrip(void)
{
	roundtrip(0);
}

static void test_roundtrip_sentry(void)
{
	roundtrip(1);
}

static void raw_send(struct raw *r, const void *buf, int len)
{
	CU_ASSERT_FATAL(len > 0);
	CU_ASSERT_EQUAL(gnutls_record_send(r->s, buf, (size_t)len), len);
}

static int got_frame(const void *arg)
{
	const struct raw *r = arg;
	struct hb_hdr h;

	return r->got_n >= (int)HB_HDR_LEN && hb_hdr_decode(r->got, (size_t)r->got_n, &h) == 0 &&
	       (size_t)r->got_n >= HB_HDR_LEN + h.len;
}

static void tick(void *arg)
{
	int *fired = arg;

	*fired = 1;
}

static void quit(void *arg)
{
	loop_quit(arg);
}

/* The loop for @ms (the sentry's restart is a timer of sentry_link.c's). */
static void run_for(struct loop *l, uint64_t ms)
{
	int fired = 0;
	struct loop_timer *t = loop_timer_new(l, tick, &fired);

	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	(void)loop_timer_arm(t, ms);
	while (!fired) {
		struct loop_timer *q = loop_timer_new(l, quit, l);

		(void)loop_timer_arm(q, 10);
		(void)loop_run(l);
		loop_timer_free(q);
	}
	loop_timer_free(t);
}

/* Through the peer sentry: what the daemon gets is the sentry's checked hand-over; a
 * malformed frame is answered ERROR MALFORMED; a peer that sends faster than the sentry
 * reads is closed, and one that sends more frames than the token bucket takes; the sentry's death closes the connections it read, and the next one
 * is read by its successor; frames sent right before a close all arrive, then the
 * close (a MIGRATE_FINISHED and the end behind it must not swap places). */
/* A fresh endpoint @e: B's server on @tb, its client a raw GnuTLS session with A's
 * certificate, the handshake done on both sides. */
static void raw_connected(struct loop *l, struct peer_tls *tb, struct ep *e, struct raw *r)
{
	int sv[2], rc;

	memset(e, 0, sizeof(*e));
	e->l = l;
	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	e->pc = peer_tls_server(l, tb, sv[1], A_WHERE, &ep_ops, e, &rc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e->pc);
	raw_start(r, l, sv[0], 0, "a");
	run_until(l, &e->ready);
	run_until(l, &r->done);
	CU_ASSERT_FATAL(r->rc >= 0);
}

static void test_through_sentry(void)
{
	struct hostd_config cb;
	struct peer_tls *tb;
	struct loop *l = loop_new();
	struct ep e = { .l = l };
	struct sentry *sn;
	struct hb_msg m;
	struct raw r;
	uint8_t buf[512];
	pid_t pid;

	mk_config(&cb, "ca1.pem", "b.pem", "b.key", "A", "198.19.250.1:16515", "hb-a.test");
	tb = mk_tls(&cb);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
	sn = peer_sentry(l);
	peer_tls_set_sentry(tb, sn);

	raw_connected(l, tb, &e, &r);
	prepare_msg(&m, "A");
	m.seq = 5;
	raw_send(&r, buf, hb_encode(buf, sizeof(buf), &m));
	raw_send(&r, buf, hb_frame_finish(buf, sizeof(buf), HB_MSG_PING, 0, 6, 0)); /* no TOKEN */
	run_until(l, &e.n);
	CU_ASSERT_EQUAL(e.types[0], HB_MSG_MIGRATE_PREPARE);
	CU_ASSERT_STRING_EQUAL(e.vm, "vm1");
	run_cond(l, got_frame, &r);
	CU_ASSERT_TRUE(hb_decode(r.got, (size_t)r.got_n, &m) > 0);
	CU_ASSERT_EQUAL(m.type, HB_MSG_ERROR);
	CU_ASSERT_EQUAL(m.seq, 6);
	CU_ASSERT_EQUAL(m.u.error.code, HB_ERR_MALFORMED);
	CU_ASSERT_EQUAL(e.n, 1);

	/* the sentry dies: its connection closes, with the reason */
	pid = sentry_pid(sn);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	run_until(l, &e.closed);
	CU_ASSERT_EQUAL(e.err, -ECONNABORTED);
	expect_text(e.text, "the peer sentry reading A (" A_WHERE ") died (see the journal): "
		    "connection closed");
	raw_end(&r);

	/* its successor reads the next connection; stopped, it falls behind a flood */
	run_for(l, 600);        /* it died within a second of its start: 0.2 s back-off */
	CU_ASSERT_TRUE(sentry_pid(sn) > 0);
	CU_ASSERT_NOT_EQUAL(sentry_pid(sn), pid);
	raw_connected(l, tb, &e, &r);
	prepare_msg(&m, "A");
	raw_send(&r, buf, hb_encode(buf, sizeof(buf), &m));
	run_until(l, &e.n);
	CU_ASSERT_EQUAL(e.types[0], HB_MSG_MIGRATE_PREPARE);
	pid = sentry_pid(sn);
	CU_ASSERT_EQUAL(kill(pid, SIGSTOP), 0);
	r.flood = 1;
	(void)loop_mod_fd(l, r.fd, EPOLLIN | EPOLLOUT);
	run_until(l, &e.closed);
	CU_ASSERT_EQUAL(e.err, -ENOBUFS);
	expect_text(e.text, "A (" A_WHERE ") sends faster than the peer sentry reads");
	CU_ASSERT_TRUE(r.sent >= PEER_SENTRY_BACKLOG);
	CU_ASSERT_EQUAL(kill(pid, SIGCONT), 0);
	raw_end(&r);

	/* frames and the close right behind them: every frame first, then the close, also
	 * when the answers to the first ones fail (the peer is gone) */
	raw_connected(l, tb, &e, &r);
	e.reply = 1;
	for (int i = 0; i < 20; i++) {
		prepare_msg(&m, "A");
		m.seq = 100u + (uint32_t)i;
		raw_send(&r, buf, hb_encode(buf, sizeof(buf), &m));
	}
	(void)gnutls_bye(r.s, GNUTLS_SHUT_WR);
	raw_end(&r);
	run_until(l, &e.closed);
	CU_ASSERT_EQUAL(e.n_closed, 20);
	CU_ASSERT_EQUAL(e.err, -ECONNRESET);    /* at the end of stream, not PEER_END_MS's */

	/* more frames at once than the bucket holds (PEER_BURST): closed, not dropped
	 * silently (an operation would wait for an answer that never comes). The sentry is
	 * stopped while they are handed over, so it meets all of them at once however slow
	 * this machine is. */
	raw_connected(l, tb, &e, &r);
	pid = sentry_pid(sn);
	CU_ASSERT_EQUAL(kill(pid, SIGSTOP), 0);
	{
		static uint8_t many[(PEER_BURST + 100) * 64];
		size_t len = 0, off;

		for (uint32_t i = 0; i < PEER_BURST + 100; i++) {
			int n;

			hb_msg_init(&m, HB_MSG_PING, i + 1);
			m.u.ping.token = i;
			n = hb_encode(many + len, sizeof(many) - len, &m);
			CU_ASSERT_FATAL(n > 0);
			len += (size_t)n;
		}
		for (off = 0; off < len; off += 8192)
			raw_send(&r, many + off, (int)(len - off < 8192 ? len - off : 8192));
	}
	run_for(l, 300);                /* the daemon hands everything to the socketpair */
	CU_ASSERT_EQUAL(kill(pid, SIGCONT), 0);
	run_until(l, &e.closed);
	CU_ASSERT_EQUAL(e.err, -EPROTO);
	expect_text(e.text, "A (" A_WHERE ") sent more than 5000 frames a second (burst 1024)");
	CU_ASSERT_TRUE(e.n_closed >= (int)PEER_BURST && e.n_closed < (int)PEER_BURST + 100);
	raw_end(&r);

	/* the stream ended, the sentry never hands its end back (stopped): PEER_END_MS */
	raw_connected(l, tb, &e, &r);
	pid = sentry_pid(sn);
	CU_ASSERT_EQUAL(kill(pid, SIGSTOP), 0);
	(void)gnutls_bye(r.s, GNUTLS_SHUT_WR);
	raw_end(&r);
	run_for(l, 300);                /* the daemon reads the end */
	CU_ASSERT_FALSE(e.closed);
	(void)peer_tls_tick(tb, loop_now_ms() + PEER_END_MS + 1);
	CU_ASSERT_TRUE(e.closed);
	CU_ASSERT_EQUAL(e.err, -ECONNRESET);
	expect_text(e.text, "A (" A_WHERE ") closed the connection; A (" A_WHERE "): the peer "
		    "sentry did not hand back its last frames within 5 s");
	CU_ASSERT_EQUAL(kill(pid, SIGCONT), 0);
	peer_tls_free(tb);
	sentry_stop(sn);
	loop_free(l);
}

/* tls_name defaults to the address's host: an IP address, matched with the IP SAN. */
static void test_ip_name(void)
{
	struct hostd_config ca, cb;
	struct peer_tls *ta, *tb;
	struct loop *l = loop_new();
	struct ep ea = { .l = l }, eb = { .l = l };
	int sv[2], rc;

	mk_config(&ca, "ca1.pem", "a.pem", "a.key", "B", B_WHERE, "");
	mk_config(&cb, "ca1.pem", "b.pem", "b.key", "A", "198.19.250.1:16515", "");
	CU_ASSERT_STRING_EQUAL(config_peer(&ca, "B")->tls_name, "198.19.250.2");
	ta = mk_tls(&ca);
	tb = mk_tls(&cb);
	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	ea.pc = peer_tls_client(l, ta, sv[0], config_peer(&ca, "B"), B_WHERE, &ep_ops, &ea, &rc);
	eb.pc = peer_tls_server(l, tb, sv[1], A_WHERE, &ep_ops, &eb, &rc);
	run_until(l, &eb.ready);
	run_until(l, &ea.ready);
	CU_ASSERT_STRING_EQUAL(eb.peer, "A");
	CU_ASSERT_STRING_EQUAL(ea.peer, "B");
	peer_conn_free(ea.pc);
	peer_conn_free(eb.pc);
	peer_tls_free(ta);
	peer_tls_free(tb);
	loop_free(l);
}

/* One handshake between a client made from (ca, crt, key) expecting tls_name of B and
 * B's server (ca1, b.pem); the first side to fail and its text. */
struct fail_case {
	const char *c_ca, *c_crt, *c_key, *c_name;      /* client A */
	const char *s_ca, *s_crt, *s_key;               /* server B, its peer A = hb-a.test */
	const char *s_crl;                              /* server's tls_crl, or NULL */
	int server_fails;
	int err;
	const char *needle;
};

static void run_fail_case(const struct fail_case *fc)
{
	struct hostd_config ca, cb;
	struct peer_tls *ta, *tb;
	struct loop *l = loop_new();
	struct ep ea = { .l = l }, eb = { .l = l };
	struct ep *bad = fc->server_fails ? &eb : &ea;
	int sv[2], rc;

	mk_config(&ca, fc->c_ca, fc->c_crt, fc->c_key, "B", B_WHERE, fc->c_name);
	mk_config(&cb, fc->s_ca, fc->s_crt, fc->s_key, "A", "198.19.250.1:16515", "hb-a.test");
	if (fc->s_crl)
		path(cb.tls_crl, sizeof(cb.tls_crl), fc->s_crl);
	ta = mk_tls(&ca);
	tb = mk_tls(&cb);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ta);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	ea.pc = peer_tls_client(l, ta, sv[0], config_peer(&ca, "B"), B_WHERE, &ep_ops, &ea, &rc);
	eb.pc = peer_tls_server(l, tb, sv[1], A_WHERE, &ep_ops, &eb, &rc);
	run_until(l, &bad->closed);
	CU_ASSERT_EQUAL(bad->err, fc->err);
	CU_ASSERT_FALSE(bad->ready);
	expect_text(bad->text, fc->needle);
	if (fc->server_fails)
		CU_ASSERT_FALSE(eb.n);
	/* the other side learns it too (an alert or the close), never a message */
	run_until(l, fc->server_fails ? &ea.closed : &eb.closed);
	CU_ASSERT_EQUAL(ea.n + eb.n, 0);
	expect_text(fc->server_fails ? ea.text : eb.text,
		    "the peer refused our certificate (alert: Certificate is bad)");
	peer_tls_free(ta);
	peer_tls_free(tb);
	loop_free(l);
}

static void test_reject_other_ca(void)
{
	/* the server's certificate from CA2, the client trusts CA1 only */
	static const struct fail_case server_cert = {
		"ca1.pem", "a.pem", "a.key", "hb-a.test", "ca12.pem", "x.pem", "x.key", NULL, 0,
		-EKEYREJECTED,
		"TLS handshake with B (" B_WHERE "): the certificate is not trusted (signer not "
		"found: not issued by the CA in tls_ca); it names CN=hb-x"
	};
	/* the client's certificate from CA2 (it trusts both), the server trusts CA1 only */
	static const struct fail_case client_cert = {
		"ca12.pem", "x.pem", "x.key", "hb-b.test", "ca1.pem", "b.pem", "b.key", NULL, 1,
		-EKEYREJECTED,
		"TLS handshake with " A_WHERE ": the certificate is not trusted (signer not found"
	};

	run_fail_case(&server_cert);
	run_fail_case(&client_cert);
}

static void test_reject_wrong_name(void)
{
	/* A expects hb-c.test at B's address; B's certificate names hb-b */
	static const struct fail_case server_name = {
		"ca1.pem", "a.pem", "a.key", "hb-c.test", "ca1.pem", "b.pem", "b.key", NULL, 0,
		-EKEYREJECTED,
		"the certificate names CN=hb-b, DNS:hb-b.test, IP:198.19.250.2, not hb-c.test"
	};
	/* the client's certificate (hb-z) names no configured peer of B */
	static const struct fail_case client_name = {
		"ca1.pem", "z.pem", "z.key", "hb-b.test", "ca1.pem", "b.pem", "b.key", NULL, 1,
		-EKEYREJECTED,
		"the certificate (CN=hb-z, DNS:hb-z.test) names no configured peer"
	};

	run_fail_case(&server_name);
	run_fail_case(&client_name);
}

static void test_reject_revoked(void)
{
	/* B's tls_crl revokes A's certificate */
	static const struct fail_case revoked = {
		"ca1.pem", "a.pem", "a.key", "hb-b.test", "ca1.pem", "b.pem", "b.key", "crl.pem", 1,
		-EKEYREJECTED,
		"TLS handshake with " A_WHERE ": the certificate is not trusted (revoked (tls_crl))"
	};

	run_fail_case(&revoked);
}

/* Both ends ready, or one closed. */
static int settled(const void *arg)
{
	const struct ep *const *e = arg;

	return (e[0]->ready && e[1]->ready) || e[0]->closed || e[1]->closed;
}

/* One connection from A (client, ta) to B (server, tb): 1 when both ends are ready, 0
 * when it was refused. With keep, the established connection is left open (ea, eb). */
static int try_connect(struct loop *l, struct peer_tls *ta, const struct hostd_config *ca,
		       struct peer_tls *tb, struct ep *ea, struct ep *eb, int keep)
{
	int sv[2], rc, ok;

	memset(ea, 0, sizeof(*ea));
	memset(eb, 0, sizeof(*eb));
	ea->l = eb->l = l;
	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	ea->pc = peer_tls_client(l, ta, sv[0], config_peer(ca, "B"), B_WHERE, &ep_ops, ea, &rc);
	eb->pc = peer_tls_server(l, tb, sv[1], A_WHERE, &ep_ops, eb, &rc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ea->pc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(eb->pc);
	run_cond(l, settled, (const struct ep *const[2]){ ea, eb });
	ok = ea->ready && eb->ready;
	if (ok && keep)
		return ok;
	if (ea->pc)
		peer_conn_free(ea->pc);
	if (!eb->closed)
		run_until(l, &eb->closed);
	return ok;
}

/* SIGHUP: the TLS files read again. B trusts CA 1 only and refuses A's certificate from
 * CA 2; after a reload with CA 1 + 2 it accepts it; a reload with a missing key changes
 * nothing; a connection opened before a reload keeps working (its credentials retired,
 * freed with the rest). */
static void test_reload(void)
{
	struct hostd_config ca, cb, bad;
	struct peer_tls *ta, *tb;
	struct loop *l = loop_new();
	struct ep ea, eb, oa, ob;
	struct hb_msg m;
	char err[PEER_ERR_MAX] = "", warn[PEER_ERR_MAX];

	mk_config(&ca, "ca12.pem", "x.pem", "x.key", "B", B_WHERE, "hb-b.test");
	mk_config(&cb, "ca1.pem", "b.pem", "b.key", "A", "198.19.250.1:16515", "hb-a.test");
	ta = mk_tls(&ca);
	tb = mk_tls(&cb);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ta);
	CU_ASSERT_PTR_NOT_NULL_FATAL(tb);
	CU_ASSERT_FALSE(try_connect(l, ta, &ca, tb, &ea, &eb, 0));
	expect_text(eb.text, "signer not found");

	path(cb.tls_ca, sizeof(cb.tls_ca), "ca12.pem");
	CU_ASSERT_EQUAL(peer_tls_reload(tb, &cb, err, sizeof(err), warn, sizeof(warn)), 0);
	CU_ASSERT_TRUE(try_connect(l, ta, &ca, tb, &oa, &ob, 1));       /* stays open */

	bad = cb;
	path(bad.tls_key, sizeof(bad.tls_key), "missing.key");
	CU_ASSERT_EQUAL(peer_tls_reload(tb, &bad, err, sizeof(err), warn, sizeof(warn)), -ENOENT);
	expect_text(err, "missing.key");
	CU_ASSERT_TRUE(try_connect(l, ta, &ca, tb, &ea, &eb, 0));       /* still CA 1 + 2 */

	/* reloaded while oa/ob is open: back to CA 1 only; the open one keeps talking */
	path(cb.tls_ca, sizeof(cb.tls_ca), "ca1.pem");
	CU_ASSERT_EQUAL(peer_tls_reload(tb, &cb, err, sizeof(err), warn, sizeof(warn)), 0);
	prepare_msg(&m, "A");
	CU_ASSERT_EQUAL(peer_send(oa.pc, &m), 0);
	run_until(l, &ob.n);
	CU_ASSERT_EQUAL(ob.types[0], HB_MSG_MIGRATE_PREPARE);
	CU_ASSERT_FALSE(try_connect(l, ta, &ca, tb, &ea, &eb, 0));
	expect_text(eb.text, "signer not found");

	peer_conn_free(oa.pc);
	run_until(l, &ob.closed);
	peer_tls_free(ta);
	peer_tls_free(tb);
	loop_free(l);
}

/* Raw GnuTLS peers: a client without certificate, an expired client and server. */
static void test_reject_raw(void)
{
	struct hostd_config ca, cb;
	struct peer_tls *ta, *tb;
	struct loop *l = loop_new();
	struct ep e = { .l = l };
	struct raw r;
	int sv[2], rc;

	mk_config(&ca, "ca1.pem", "a.pem", "a.key", "B", B_WHERE, "hb-b.test");
	mk_config(&cb, "ca1.pem", "b.pem", "b.key", "A", "198.19.250.1:16515", "hb-a.test");
	ta = mk_tls(&ca);
	tb = mk_tls(&cb);

	/* no client certificate: B refuses */
	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	e.pc = peer_tls_server(l, tb, sv[1], A_WHERE, &ep_ops, &e, &rc);
	raw_start(&r, l, sv[0], 0, NULL);
	run_until(l, &e.closed);
	CU_ASSERT_EQUAL(e.err, -EKEYREJECTED);
	expect_text(e.text, "TLS handshake with " A_WHERE ": the peer sent no certificate");
	raw_end(&r);

	/* an expired client certificate (hb-e names hb-a.test, signed by CA1) */
	memset(&e, 0, sizeof(e));
	e.l = l;
	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	e.pc = peer_tls_server(l, tb, sv[1], A_WHERE, &ep_ops, &e, &rc);
	raw_start(&r, l, sv[0], 0, "e");
	run_until(l, &e.closed);
	CU_ASSERT_EQUAL(e.err, -EKEYREJECTED);
	expect_text(e.text, "the certificate is not trusted (expired)");
	raw_end(&r);

	/* an expired server certificate: A refuses */
	memset(&e, 0, sizeof(e));
	e.l = l;
	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	e.pc = peer_tls_client(l, ta, sv[0], config_peer(&ca, "B"), B_WHERE, &ep_ops, &e, &rc);
	raw_start(&r, l, sv[1], 1, "e");
	run_until(l, &e.closed);
	CU_ASSERT_EQUAL(e.err, -EKEYREJECTED);
	expect_text(e.text, "TLS handshake with B (" B_WHERE "): the certificate is not trusted "
		    "(expired, and not hb-b.test)");
	raw_end(&r);

	peer_tls_free(ta);
	peer_tls_free(tb);
	loop_free(l);
}

/* Bytes that are no ClientHello; deadlines driven by the test's clock. */
static void test_garbage_and_timeout(void)
{
	struct hostd_config ca, cb;
	struct peer_tls *ta, *tb;
	struct loop *l = loop_new();
	struct ep e = { .l = l }, e2 = { .l = l };
	static const char junk[] = "GET / HTTP/1.0\r\nHost: hb-b\r\n\r\n";
	int sv[2], sv2[2], rc, left;
	uint64_t now;

	mk_config(&ca, "ca1.pem", "a.pem", "a.key", "B", B_WHERE, "hb-b.test");
	mk_config(&cb, "ca1.pem", "b.pem", "b.key", "A", "198.19.250.1:16515", "hb-a.test");
	ta = mk_tls(&ca);
	tb = mk_tls(&cb);

	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	e.pc = peer_tls_server(l, tb, sv[1], A_WHERE, &ep_ops, &e, &rc);
	CU_ASSERT_EQUAL(write(sv[0], junk, sizeof(junk) - 1), (ssize_t)sizeof(junk) - 1);
	run_until(l, &e.closed);
	CU_ASSERT_EQUAL(e.err, -EPROTO);
	expect_text(e.text, "TLS handshake with " A_WHERE ": ");
	CU_ASSERT_EQUAL(e.n, 0);
	(void)close(sv[0]);

	/* a client whose server never answers, a server whose client never speaks */
	memset(&e, 0, sizeof(e));
	e.l = l;
	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	CU_ASSERT_EQUAL_FATAL(pair(sv2), 0);
	e.pc = peer_tls_client(l, ta, sv[0], config_peer(&ca, "B"), B_WHERE, &ep_ops, &e, &rc);
	e2.pc = peer_tls_server(l, tb, sv2[1], A_WHERE, &ep_ops, &e2, &rc);
	now = loop_now_ms();
	left = peer_tls_tick(ta, now);
	CU_ASSERT(left > 0 && left <= (int)PEER_HANDSHAKE_TIMEOUT_MS);
	CU_ASSERT_EQUAL(peer_tls_tick(ta, now + PEER_HANDSHAKE_TIMEOUT_MS / 2) > 0, 1);
	CU_ASSERT_FALSE(e.closed);
	(void)peer_tls_tick(ta, now + PEER_HANDSHAKE_TIMEOUT_MS + 1);
	CU_ASSERT_EQUAL(e.closed, 1);
	CU_ASSERT_EQUAL(e.err, -ETIMEDOUT);
	expect_text(e.text, "TLS handshake with B (" B_WHERE "): no answer within 10 s");
	CU_ASSERT_EQUAL(peer_tls_tick(ta, now + PEER_HANDSHAKE_TIMEOUT_MS + 2), -1);
	(void)peer_tls_tick(tb, now + PEER_HANDSHAKE_TIMEOUT_MS + 1);
	CU_ASSERT_EQUAL(e2.err, -ETIMEDOUT);
	expect_text(e2.text, "TLS handshake with " A_WHERE ": not completed within 10 s");
	(void)close(sv[1]);
	(void)close(sv2[0]);
	peer_tls_free(ta);
	peer_tls_free(tb);
	loop_free(l);
}

/* PEER_MAX_CONNS accepted connections at once; freeing before the handshake. */
static void test_limits(void)
{
	struct hostd_config cb;
	struct peer_tls *tb;
	struct loop *l = loop_new();
	struct peer_conn *pcs[PEER_MAX_HANDSHAKES];
	struct ep e = { .l = l };
	struct sockaddr_storage sa;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;
	int sv[2], others[PEER_MAX_HANDSHAKES], rc;
	char where[64];
	unsigned i;

	mk_config(&cb, "ca1.pem", "b.pem", "b.key", "A", "198.19.250.1:16515", "hb-a.test");
	tb = mk_tls(&cb);
	/* idle handshakes from one address hold PEER_MAX_HANDSHAKES_PER_IP slots, no more */
	for (i = 0; i < PEER_MAX_HANDSHAKES; i++) {
		if (i < PEER_MAX_HANDSHAKES_PER_IP)
			(void)snprintf(where, sizeof(where), "%s", A_WHERE);
		else
			(void)snprintf(where, sizeof(where), "198.19.250.%u:40000", 10 + i);
		CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
		pcs[i] = peer_tls_server(l, tb, sv[1], where, &ep_ops, &e, &rc);
		CU_ASSERT_PTR_NOT_NULL(pcs[i]);
		others[i] = sv[0];
		if (i + 1 == PEER_MAX_HANDSHAKES_PER_IP) {
			CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
			CU_ASSERT_PTR_NULL(peer_tls_server(l, tb, sv[1], "198.19.250.1:40001",
							   &ep_ops, &e, &rc));
			CU_ASSERT_EQUAL(rc, -EBUSY);
			(void)close(sv[0]);
		}
	}
	/* PEER_MAX_HANDSHAKES in all: a fifth address waits for a slot */
	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	CU_ASSERT_PTR_NULL(peer_tls_server(l, tb, sv[1], "198.19.250.99:1", &ep_ops, &e, &rc));
	CU_ASSERT_EQUAL(rc, -EBUSY);
	(void)close(sv[0]);
	for (i = 0; i < PEER_MAX_HANDSHAKES; i++) {
		peer_conn_free(pcs[i]);         /* mid-handshake: no callback, no leak */
		(void)close(others[i]);
	}
	CU_ASSERT_EQUAL(e.closed, 0);
	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	pcs[0] = peer_tls_server(l, tb, sv[1], A_WHERE, &ep_ops, &e, &rc);
	CU_ASSERT_PTR_NOT_NULL(pcs[0]);
	(void)close(sv[0]);
	/* admission before any TLS: only the address of a configured peer, any port */
	memset(&sa, 0, sizeof(sa));
	a4->sin_family = AF_INET;
	a4->sin_port = htons(51234);
	CU_ASSERT_EQUAL(inet_pton(AF_INET, "198.19.250.1", &a4->sin_addr), 1);
	CU_ASSERT_EQUAL(peer_tls_admit(tb, &sa), 0);
	CU_ASSERT_EQUAL(inet_pton(AF_INET, "203.0.113.9", &a4->sin_addr), 1);
	CU_ASSERT_EQUAL(peer_tls_admit(tb, &sa), -EPERM);
	memset(&sa, 0, sizeof(sa));
	a6->sin6_family = AF_INET6;     /* a dual-stack listener: IPv4 as ::ffff:a.b.c.d */
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "::ffff:198.19.250.1", &a6->sin6_addr), 1);
	CU_ASSERT_EQUAL(peer_tls_admit(tb, &sa), 0);
	CU_ASSERT_EQUAL(inet_pton(AF_INET6, "2001:db8::1", &a6->sin6_addr), 1);
	CU_ASSERT_EQUAL(peer_tls_admit(tb, &sa), -EPERM);
	peer_tls_free(tb);                      /* frees what is still open */
	loop_free(l);
}

/* A unix connection has no identity: SOURCE is not checked there. */
static void test_unix_identity(void)
{
	struct loop *l = loop_new();
	struct ep e = { .l = l };
	struct peer_conn *pc;
	char err[PEER_ERR_MAX];
	int sv[2];

	CU_ASSERT_EQUAL_FATAL(pair(sv), 0);
	pc = peer_conn_new(l, sv[0], &ep_ops, &e, "B");
	CU_ASSERT_PTR_NULL(peer_conn_peer(pc));
	CU_ASSERT_EQUAL(peer_check_source(pc, HB_MSG_MIGRATE_PREPARE, "anything", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(peer_conn_tls_info(pc), "");
	peer_conn_free(pc);
	(void)close(sv[1]);

	/* peer_connect_to: a socket peer connects at once; a TLS peer needs credentials */
	{
		struct peer_config p;
		int rc;

		memset(&p, 0, sizeof(p));
		(void)snprintf(p.name, sizeof(p.name), "L");
		path(p.socket, sizeof(p.socket), "p.sock");
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		CU_ASSERT_FATAL(strlen(p.socket) < sizeof(sa.sun_path));
		memcpy(sa.sun_path, p.socket, strlen(p.socket) + 1);
		CU_ASSERT_EQUAL(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		CU_ASSERT_EQUAL(listen(lfd, 1), 0);
		pc = peer_connect_to(l, NULL, &p, &ep_ops, &e, &rc);
		CU_ASSERT_PTR_NOT_NULL(pc);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_STRING_EQUAL(peer_conn_name(pc), "L");
		peer_conn_free(pc);
		(void)close(lfd);
		(void)unlink(p.socket);
		p.socket[0] = 0;
		(void)snprintf(p.address, sizeof(p.address), "%s", B_WHERE);
		CU_ASSERT_PTR_NULL(peer_connect_to(l, NULL, &p, &ep_ops, &e, &rc));
		CU_ASSERT_EQUAL(rc, -ENOPKG);
	}
	loop_free(l);
}

/* Credentials: what an operator gets wrong, said at start. */
static void expect_tls_err(const char *ca, const char *crt, const char *key, const char *prio,
			   const char *needle)
{
	struct hostd_config c;
	struct peer_tls *t = NULL;
	char err[PEER_ERR_MAX] = "", warn[PEER_ERR_MAX];

	mk_config(&c, ca, crt, key, "B", B_WHERE, "");
	if (prio)
		(void)snprintf(c.tls_priority, sizeof(c.tls_priority), "%s", prio);
	CU_ASSERT(peer_tls_new(&c, &t, err, sizeof(err), warn, sizeof(warn)) < 0);
	CU_ASSERT_PTR_NULL(t);
	expect_text(err, needle);
}

static void test_credentials(void)
{
	struct hostd_config c;
	struct peer_tls *t = NULL;
	char err[PEER_ERR_MAX] = "", warn[PEER_ERR_MAX], p[128];

	expect_tls_err("nope.pem", "a.pem", "a.key", NULL, "nope.pem: No such file or directory");
	expect_tls_err("ca1.pem", "a.pem", "missing.key", NULL, "tls_key");
	expect_tls_err("ca1.pem", "a.pem", "b.key", NULL, "tls_cert");    /* key of another cert */
	expect_tls_err("ca1.pem", "x.pem", "x.key", NULL,
		       "not valid as a TLS server certificate under tls_ca");
	expect_tls_err("ca1.pem", "e.pem", "e.key", NULL, "expired");
	expect_tls_err("ca1.pem", "a.pem", "a.key", "NORMAL:+BOGUS", "tls_priority 'NORMAL:+BOGUS'");
	expect_tls_err("a.key", "a.pem", "a.key", NULL, "tls_ca");

	/* our own certificate revoked by our tls_crl; a tls_crl that is no CRL */
	mk_config(&c, "ca1.pem", "a.pem", "a.key", "B", B_WHERE, "");
	path(c.tls_crl, sizeof(c.tls_crl), "crl.pem");
	CU_ASSERT(peer_tls_new(&c, &t, err, sizeof(err), warn, sizeof(warn)) < 0);
	expect_text(err, "revoked (tls_crl)");
	path(c.tls_crl, sizeof(c.tls_crl), "a.key");
	CU_ASSERT(peer_tls_new(&c, &t, err, sizeof(err), warn, sizeof(warn)) < 0);
	expect_text(err, "tls_crl");
	CU_ASSERT_PTR_NULL(t);

	/* a group-readable key and a certificate about to expire: warnings */
	path(p, sizeof(p), "z.key");
	CU_ASSERT_EQUAL(chmod(p, 0640), 0);
	mk_config(&c, "ca1.pem", "z.pem", "z.key", "B", B_WHERE, "");
	CU_ASSERT_EQUAL(peer_tls_new(&c, &t, err, sizeof(err), warn, sizeof(warn)), 0);
	expect_text(warn, "is readable by its group (mode 0640): chmod 600");
	expect_text(warn, "expires in 9 days");
	peer_tls_free(t);
	CU_ASSERT_EQUAL(chmod(p, 0600), 0);
}

static void expect_cfg(const char *text, const char *needle)
{
	struct hostd_config c;
	char err[256] = "";

	config_defaults(&c);
	CU_ASSERT_NOT_EQUAL(config_parse(&c, text, "t.conf", err, sizeof(err)), 0);
	expect_text(err, needle);
}

static void test_config(void)
{
	struct hostd_config c;
	char err[256] = "";
	struct sockaddr_storage sa;
	socklen_t len;
	char host[64];

	config_defaults(&c);
	CU_ASSERT_STRING_EQUAL(c.tls_ca, "/etc/pki/CA/cacert.pem");
	CU_ASSERT_STRING_EQUAL(c.tls_cert, "/etc/pki/hybond/servercert.pem");
	CU_ASSERT_STRING_EQUAL(c.tls_key, "/etc/pki/hybond/private/serverkey.pem");
	CU_ASSERT_EQUAL(config_parse(&c, "host = A\npeer_socket = /run/p.sock\n"
				     "peer_listen = [::]:16515\ntls_crl = /etc/pki/CA/cacrl.pem\n"
				     "tls_priority = SECURE256:-VERS-ALL:+VERS-TLS1.3\n"
				     "[peer B]\naddress = [2001:db8::2]:16515\n"
				     "[peer C]\naddress = 198.19.250.2:16515\ntls_name = hb-c.test\n"
				     "[peer L]\nsocket = /run/l.sock\n", "t.conf", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_STRING_EQUAL(c.peer_listen, "[::]:16515");
	CU_ASSERT_STRING_EQUAL(config_peer(&c, "B")->tls_name, "2001:db8::2");
	CU_ASSERT_STRING_EQUAL(config_peer(&c, "C")->tls_name, "hb-c.test");
	CU_ASSERT(config_peer_tls(config_peer(&c, "C")));
	CU_ASSERT_FALSE(config_peer_tls(config_peer(&c, "L")));
	CU_ASSERT(config_uses_tls(&c));
	CU_ASSERT_EQUAL(config_parse_hostport("198.19.250.1:1", &sa, &len, host, sizeof(host),
					      err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(sa.ss_family, AF_INET);
	CU_ASSERT_STRING_EQUAL(host, "198.19.250.1");
	CU_ASSERT_EQUAL(config_parse_hostport("[::1]:65535", &sa, &len, NULL, 0, err,
					      sizeof(err)), 0);
	CU_ASSERT_EQUAL(sa.ss_family, AF_INET6);

	expect_cfg("host = A\npeer_listen = 16515\n", "t.conf:2: '16515': want IPv4:PORT");
	expect_cfg("host = A\npeer_listen = ::1:16515\n", "want IPv4:PORT or [IPv6]:PORT");
	expect_cfg("host = A\npeer_listen = 198.19.250.1:0\n", "port '0' is not in 1..65535");
	expect_cfg("host = A\npeer_listen = 198.19.250.1:70000\n", "port '70000'");
	expect_cfg("host = A\n[peer B]\naddress = hb-b.test:16515\n",
		   "t.conf:3: 'hb-b.test:16515': 'hb-b.test' is not an IPv4 address (host names "
		   "are not resolved");
	expect_cfg("host = A\n[peer B]\naddress = [zz::1]:1\n", "'zz::1' is not an IPv6 address");
	expect_cfg("host = A\n[peer B]\nsocket = /x\naddress = 198.19.250.2:1\n",
		   "t.conf:2: peer B: socket and address exclude each other");
	expect_cfg("host = A\n[peer B]\nsocket = /x\ntls_name = b\n",
		   "peer B: tls_name needs address");
	expect_cfg("host = A\n[peer B]\n", "t.conf:2: peer B has no socket");
	expect_cfg("host = A\n[peer B]\naddress = 198.19.250.2:1\ntls_name = a b\n",
		   "t.conf:4: tls_name: 'a b' is not a DNS name");
	expect_cfg("host = A\n[peer B]\naddress = 198.19.250.2:1\n[peer C]\n"
		   "address = 198.19.250.3:1\ntls_name = 198.19.250.2\n",
		   "peers B and C both have tls_name 198.19.250.2");
	expect_cfg("host = A\n[peer B]\nsocket = /x\n[peer B]\nsocket = /y\n",
		   "t.conf:4: peer B defined twice");
	expect_cfg("host = A\n[peer B]\ncert = /x\n",
		   "peer: unknown key 'cert' (socket, address, tls_name, libvirt_uri, migrate_uri)");
}

static CU_TestInfo tests[] = {
	{ "config: peer_listen, address, tls_name, TLS files; errors", test_config },
	{ "credentials: missing, mismatched, untrusted, expired, priority; warnings",
	  test_credentials },
	{ "mutual TLS: handshake, identities, MIGRATE_* both ways, source check", test_roundtrip },
	{ "the same through a peer sentry on each side", test_roundtrip_sentry },
	{ "peer sentry: checked hand-over, MALFORMED answered, a flood closed, its death",
	  test_through_sentry },
	{ "tls_name defaults to the address (IP SAN)", test_ip_name },
	{ "refused: certificate from another CA (server, client)", test_reject_other_ca },
	{ "refused: wrong server name, client naming no peer", test_reject_wrong_name },
	{ "refused: a certificate revoked by tls_crl", test_reject_revoked },
	{ "SIGHUP: TLS files read again; bad ones change nothing; open connections stay",
	  test_reload },
	{ "refused: client without certificate, expired client and server", test_reject_raw },
	{ "refused: garbage instead of a ClientHello; handshake timeouts", test_garbage_and_timeout },
	{ "limits: handshakes per address and in all, admission, free mid-handshake", test_limits },
	{ "unix socket: no identity, SOURCE not checked", test_unix_identity },
	CU_TEST_INFO_NULL,
};

int main(int argc, char **argv)
{
	CU_SuiteInfo suites[] = {
		{ "peer_tls", suite_init, suite_clean, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};

	if (argc > 1 && !strcmp(argv[1], SENTRY_ARG))   /* this binary is its own sentry */
		return sentry_main(argc - 2, argv + 2);
	(void)signal(SIGPIPE, SIG_IGN);         /* the raw GnuTLS peers write without MSG_NOSIGNAL */
	return hb_cu_run(suites);
}
