// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/peer/peer_tls.c — mutual TLS on the peer channel (GnuTLS), as libvirt
 * does between hosts: credentials loaded and checked once, one non-blocking
 * session per connection, both certificates verified against tls_ca (and
 * tls_crl), names checked: the client wants the [peer]'s tls_name in the
 * server certificate, the server maps the client certificate to the
 * configured [peer] whose tls_name it carries, or refuses it.
 * See peer.h and docs/peer-tls.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "peer_int.h"

#define PTLS_RECORD_MAX   16384u                 /* one TLS record of application data */
#define PTLS_RENEW_WARN_S ((time_t)30 * 24 * 3600) /* warn when our certificate expires sooner */

struct ptls_id {
	struct sockaddr_storage sa;     /* its configured address (the port is not compared) */
	char peer[CFG_NAME_MAX + 1];
	char tls_name[CFG_DNS_MAX + 1];
};

#define PTLS_MAX_RETIRED 8             /* credentials replaced by SIGHUP, still in use */

struct peer_tls {
	gnutls_certificate_credentials_t cred;
	/* replaced credentials that sessions opened before the reload still use (a gnutls
	 * session keeps a pointer to its credentials): each freed when the last connection
	 * using it goes (retire_unused), or with the rest */
	gnutls_certificate_credentials_t retired[PTLS_MAX_RETIRED];
	unsigned n_retired;
	gnutls_priority_t prio;
	struct ptls_id ids[CFG_MAX_PEERS];
	size_t n_ids;
	struct loop *l;                 /* bound at the first connection (the ticker) */
	struct peer_conn *conns;
	unsigned n_server;              /* accepted connections open */
	struct sentry *sn;              /* reads the open connections' frames; NULL: we do */
};

/* ---- texts -------------------------------------------------------------------------- */
static const struct {
	unsigned bit;
	const char *why;
} vbits[] = {
	{ GNUTLS_CERT_SIGNER_NOT_FOUND, "signer not found: not issued by the CA in tls_ca" },
	{ GNUTLS_CERT_SIGNER_NOT_CA, "its issuer is not a CA" },
	{ GNUTLS_CERT_REVOKED, "revoked (tls_crl)" },
	{ GNUTLS_CERT_EXPIRED, "expired" },
	{ GNUTLS_CERT_NOT_ACTIVATED, "not yet valid (check both clocks)" },
	{ GNUTLS_CERT_SIGNATURE_FAILURE, "bad signature" },
	{ GNUTLS_CERT_INSECURE_ALGORITHM, "insecure signature algorithm" },
	{ GNUTLS_CERT_PURPOSE_MISMATCH, "its key purpose excludes this use (certtool template: "
	  "tls_www_server and tls_www_client)" },
	{ GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE, "the CA's constraints forbid it" },
	{ GNUTLS_CERT_REVOCATION_DATA_SUPERSEDED, "the CRL is superseded" },
	{ GNUTLS_CERT_REVOCATION_DATA_ISSUED_IN_FUTURE, "the CRL is issued in the future" },
	{ GNUTLS_CERT_MISSING_OCSP_STATUS, "missing OCSP status" },
	{ GNUTLS_CERT_INVALID_OCSP_STATUS, "invalid OCSP status" },
	{ GNUTLS_CERT_UNKNOWN_CRIT_EXTENSIONS, "an unknown critical extension" },
};

/* "signer not found: …, expired" for the bits of a verification status */
static void status_text(unsigned status, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = 0;
	for (i = 0; i < sizeof(vbits) / sizeof(vbits[0]) && off < len; i++)
		if (status & vbits[i].bit)
			off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
						vbits[i].why);
	if (!buf[0])
		(void)snprintf(buf, len, "status 0x%x", status);
}

/* Names from an untrusted certificate, made safe for logs. */
static void safe_copy(char *dst, size_t cap, const char *src, size_t n)
{
	size_t i;

	if (!cap)
		return;
	for (i = 0; i < n && i + 1 < cap; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = (ch >= 0x21 && ch < 0x7f && ch != '\\') ? (char)ch : '?';
	}
	dst[i] = 0;
}

/* "CN=hb-b, DNS:hb-b.example.org, IP:198.19.250.2" */
static void cert_names(gnutls_x509_crt_t crt, char *buf, size_t len)
{
	char v[256], s[128];
	size_t off, sz = sizeof(v);
	unsigned i;

	buf[0] = 0;
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, v, &sz) == 0) {
		safe_copy(s, sizeof(s), v, sz);
		(void)snprintf(buf, len, "CN=%s", s);
	}
	for (i = 0; i < 8; i++) {
		int type;

		sz = sizeof(v);
		type = gnutls_x509_crt_get_subject_alt_name(crt, i, v, &sz, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		off = strlen(buf);
		if (off + 4 >= len)
			break;
		if (type == GNUTLS_SAN_DNSNAME) {
			safe_copy(s, sizeof(s), v, sz);
			(void)snprintf(buf + off, len - off, "%sDNS:%s", off ? ", " : "", s);
		} else if (type == GNUTLS_SAN_IPADDRESS && (sz == 4 || sz == 16)) {
			(void)inet_ntop(sz == 4 ? AF_INET : AF_INET6, v, s, sizeof(s));
			(void)snprintf(buf + off, len - off, "%sIP:%s", off ? ", " : "", s);
		}
	}
	if (!buf[0])
		(void)snprintf(buf, len, "no CN, no DNS or IP name");
}

static int is_cert_alert(gnutls_alert_description_t a)
{
	switch (a) {
	case GNUTLS_A_BAD_CERTIFICATE:
	case GNUTLS_A_UNSUPPORTED_CERTIFICATE:
	case GNUTLS_A_CERTIFICATE_REVOKED:
	case GNUTLS_A_CERTIFICATE_EXPIRED:
	case GNUTLS_A_CERTIFICATE_UNKNOWN:
	case GNUTLS_A_UNKNOWN_CA:
	case GNUTLS_A_ACCESS_DENIED:
	case GNUTLS_A_CERTIFICATE_REQUIRED:
		return 1;
	default:
		return 0;
	}
}

/* A GnuTLS failure as text in pc->err ("TLS handshake with B (addr): …"); the errno. */
static int tls_failed(struct peer_conn *pc, int rc, const char *what)
{
	char who[CFG_NAME_MAX + CFG_ADDR_MAX + 8];
	int err = -EPROTO;

	pc_label(pc, who, sizeof(who));
	switch (rc) {
	case GNUTLS_E_CERTIFICATE_ERROR:
	case GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR:
		err = pc->verr ? pc->verr : -EKEYREJECTED;
		pc_errf(pc, "%s with %s: the certificate was refused", what, who);
		break;
	case GNUTLS_E_FATAL_ALERT_RECEIVED: {
		gnutls_alert_description_t a = gnutls_alert_get(pc->s);
		const char *an = gnutls_alert_get_name(a);

		if (is_cert_alert(a)) {
			err = -EKEYREJECTED;
			pc_errf(pc, "%s with %s: the peer refused our certificate (alert: %s): our "
				"tls_cert must be signed by a CA it trusts and carry the tls_name of "
				"its [peer] section for us", what, who, an ? an : "?");
		} else {
			pc_errf(pc, "%s with %s: the peer ended it (alert: %s)", what, who,
				an ? an : "?");
		}
		break;
	}
	case GNUTLS_E_NO_CERTIFICATE_FOUND:
	case GNUTLS_E_CERTIFICATE_REQUIRED:
		err = -EKEYREJECTED;
		pc_errf(pc, "%s with %s: the peer sent no certificate (both sides need tls_cert "
			"and tls_key)", what, who);
		break;
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		err = -ECONNRESET;
		/* TLS 1.3: the server checks our certificate after our handshake is done;
		 * its alert can be lost in the reset of a connection it closes */
		pc_errf(pc, "%s with %s: the connection closed%s", what, who,
			pc->state == PC_HANDSHAKE || !pc->in.frames ? " before any answer (did "
			"the peer refuse our certificate? see its log)" : "");
		break;
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
	case GNUTLS_E_NO_CIPHER_SUITES:
	case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
	case GNUTLS_E_NO_PRIORITIES_WERE_SET:
		pc_errf(pc, "%s with %s: no TLS version or cipher in common (tls_priority on "
			"both hosts): %s", what, who, gnutls_strerror(rc));
		break;
	case GNUTLS_E_UNEXPECTED_PACKET_LENGTH:
	case GNUTLS_E_UNEXPECTED_PACKET:
	case GNUTLS_E_UNEXPECTED_HANDSHAKE_PACKET:
	case GNUTLS_E_RECORD_OVERFLOW:
		pc_errf(pc, "%s with %s: not TLS or broken TLS (%s)", what, who, gnutls_strerror(rc));
		break;
	default:
		pc_errf(pc, "%s with %s: %s", what, who, gnutls_strerror(rc));
		break;
	}
	return err;
}

/* ---- certificate check (both sides, during the handshake) ------------------------- */
static int verify_refuse(struct peer_conn *pc, const char *why)
{
	char who[CFG_NAME_MAX + CFG_ADDR_MAX + 8];

	pc_label(pc, who, sizeof(who));
	pc_errf(pc, "TLS handshake with %s: %s", who, why);
	pc->verr = -EKEYREJECTED;
	return GNUTLS_E_CERTIFICATE_ERROR;
}

static int ptls_verify(gnutls_session_t s)
{
	struct peer_conn *pc = gnutls_session_get_ptr(s);
	gnutls_typed_vdata_st vd[2];
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt = NULL;
	char why[256], msg[768];
	unsigned n = 0, status = 0, nv = 0;
	size_t i;
	int rc;

	certs = gnutls_certificate_get_peers(s, &n);
	if (!certs || !n)
		return verify_refuse(pc, "the peer sent no certificate");
	if (gnutls_x509_crt_init(&crt) < 0)
		return GNUTLS_E_MEMORY_ERROR;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		return verify_refuse(pc, "the peer's certificate does not parse");
	}
	cert_names(crt, pc->cert_names, sizeof(pc->cert_names));
	if (!pc->server) {
		vd[nv].type = GNUTLS_DT_DNS_HOSTNAME;
		vd[nv].data = (unsigned char *)pc->tls_name;
		vd[nv++].size = 0;
	}
	vd[nv].type = GNUTLS_DT_KEY_PURPOSE_OID;
	vd[nv].data = (unsigned char *)(pc->server ? GNUTLS_KP_TLS_WWW_CLIENT
					: GNUTLS_KP_TLS_WWW_SERVER);
	vd[nv++].size = 0;
	rc = gnutls_certificate_verify_peers(s, vd, nv, &status);
	if (rc < 0 || status) {
		gnutls_x509_crt_deinit(crt);
		if (rc < 0) {
			(void)snprintf(msg, sizeof(msg), "the certificate could not be checked (%s)",
				       gnutls_strerror(rc));
		} else if (status == (GNUTLS_CERT_INVALID | GNUTLS_CERT_UNEXPECTED_OWNER)) {
			(void)snprintf(msg, sizeof(msg), "the certificate names %s, not %s (set "
				       "tls_name in [peer %s] to a name in its certificate, or "
				       "reissue it)", pc->cert_names, pc->tls_name, pc->name);
		} else {
			status_text(status & ~(unsigned)(GNUTLS_CERT_INVALID |
							GNUTLS_CERT_UNEXPECTED_OWNER), why,
				    sizeof(why));
			(void)snprintf(msg, sizeof(msg), "the certificate is not trusted (%s%s%s); "
				       "it names %s", why, status & GNUTLS_CERT_UNEXPECTED_OWNER ?
				       ", and not " : "", status & GNUTLS_CERT_UNEXPECTED_OWNER ?
				       pc->tls_name : "", pc->cert_names);
		}
		return verify_refuse(pc, msg);
	}
	/* the client checked the server's name above; the server maps the client's */
	if (!pc->server) {
		(void)snprintf(pc->peer, sizeof(pc->peer), "%s", pc->name);
	} else {
		for (i = 0; i < pc->t->n_ids && !pc->peer[0]; i++)
			if (gnutls_x509_crt_check_hostname2(crt, pc->t->ids[i].tls_name, 0))
				(void)snprintf(pc->peer, sizeof(pc->peer), "%s", pc->t->ids[i].peer);
		if (!pc->peer[0]) {
			gnutls_x509_crt_deinit(crt);
			(void)snprintf(msg, sizeof(msg), "the certificate (%s) names no configured "
				       "peer: a [peer] section needs address = and tls_name = one of "
				       "its names", pc->cert_names);
			return verify_refuse(pc, msg);
		}
	}
	gnutls_x509_crt_deinit(crt);
	return 0;
}

/* ---- sessions ---------------------------------------------------------------------- */
static ssize_t ptls_push(gnutls_transport_ptr_t p, const giovec_t *iov, int iovcnt)
{
	struct msghdr mh;

	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = (struct iovec *)iov;        /* giovec_t is struct iovec */
	mh.msg_iovlen = (size_t)iovcnt;
	/* MSG_NOSIGNAL: a peer that went away must not SIGPIPE the daemon */
	return sendmsg((int)(intptr_t)p, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static int ptls_ticker(void *arg, uint64_t now_ms)
{
	return peer_tls_tick(arg, now_ms);
}

/* The host part of "IP:PORT" / "[IPv6]:PORT". */
static size_t host_len(const char *where)
{
	const char *c = strrchr(where, ':');

	return c ? (size_t)(c - where) : strlen(where);
}

/* Handshakes that have not completed (an accepted connection costs a TLS handshake, and
 * a slot, until it authenticates or times out): at most PEER_MAX_HANDSHAKES, and
 * PEER_MAX_HANDSHAKES_PER_IP from one address, so idle handshakes cannot hold every
 * slot while a real peer wants one. */
static int handshakes_full(const struct peer_tls *t, const char *where)
{
	const struct peer_conn *c;
	unsigned all = 0, same = 0;
	size_t n = host_len(where);

	for (c = t->conns; c; c = c->next) {
		if (!c->server || c->state == PC_OPEN)
			continue;
		all++;
		if (host_len(c->where) == n && !strncmp(c->where, where, n))
			same++;
	}
	return all >= PEER_MAX_HANDSHAKES || same >= PEER_MAX_HANDSHAKES_PER_IP;
}

/* The same IP address (an IPv4 client on a dual-stack listener comes as ::ffff:a.b.c.d). */
static int same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;

	if (a->ss_family == AF_INET6 && b->ss_family == AF_INET &&
	    IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr))
		return !memcmp(&a6->sin6_addr.s6_addr[12], &b4->sin_addr, 4);
	if (a->ss_family == AF_INET && b->ss_family == AF_INET6)
		return same_ip(b, a);
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return a->ss_family == AF_INET6 &&
	       !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}

int peer_tls_admit(const struct peer_tls *t, const struct sockaddr_storage *sa)
{
	size_t i;

	for (i = 0; i < t->n_ids; i++)
		if (same_ip(&t->ids[i].sa, sa))
			return 0;
	return -EPERM;
}

int ptls_attach(struct peer_tls *t, struct peer_conn *pc, struct loop *l)
{
	int rc;

	if (t->l && t->l != l)
		return -EINVAL;
	if (pc->server && t->n_server >= PEER_MAX_CONNS)
		return -EMFILE;
	if (pc->server && handshakes_full(t, pc->where))
		return -EBUSY;
	if (!t->l) {
		rc = loop_add_ticker(l, ptls_ticker, t);
		if (rc)
			return rc;
		t->l = l;
	}
	pc->next = t->conns;
	if (t->conns)
		t->conns->pprev = &pc->next;
	pc->pprev = &t->conns;
	t->conns = pc;
	if (pc->server)
		t->n_server++;
	return 0;
}

/* Frees the retired credentials no open connection uses any more. */
static void retire_unused(struct peer_tls *t)
{
	unsigned i = 0;

	while (i < t->n_retired) {
		const struct peer_conn *pc;

		for (pc = t->conns; pc && pc->cred != t->retired[i]; pc = pc->next)
			;
		if (pc) {
			i++;
			continue;
		}
		gnutls_certificate_free_credentials(t->retired[i]);
		t->retired[i] = t->retired[--t->n_retired];
	}
}

void ptls_detach(struct peer_conn *pc)
{
	if (pc->s) {
		gnutls_deinit(pc->s);
		pc->s = NULL;
	}
	if (!pc->pprev)
		return;
	*pc->pprev = pc->next;
	if (pc->next)
		pc->next->pprev = pc->pprev;
	pc->pprev = NULL;
	if (pc->server)
		pc->t->n_server--;
	if (pc->t->n_retired && pc->cred != pc->t->cred)
		retire_unused(pc->t);   /* pc is out of the list: its credentials may go */
}

int ptls_session_start(struct peer_conn *pc)
{
	struct in6_addr a6;
	struct in_addr a4;
	unsigned flags = (pc->server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NONBLOCK |
			 GNUTLS_NO_TICKETS;

	if (gnutls_init(&pc->s, flags) < 0) {
		pc->s = NULL;
		return -ENOMEM;
	}
	pc->cred = pc->t->cred;
	if (gnutls_priority_set(pc->s, pc->t->prio) < 0 ||
	    gnutls_credentials_set(pc->s, GNUTLS_CRD_CERTIFICATE, pc->cred) < 0)
		return -EINVAL;
	gnutls_session_set_ptr(pc->s, pc);
	gnutls_transport_set_int(pc->s, pc->fd);
	gnutls_transport_set_vec_push_function(pc->s, ptls_push);
	/* our own deadline (PEER_HANDSHAKE_TIMEOUT_MS) bounds it, in the loop */
	gnutls_handshake_set_timeout(pc->s, GNUTLS_INDEFINITE_TIMEOUT);
	if (pc->server) {
		gnutls_certificate_server_set_request(pc->s, GNUTLS_CERT_REQUIRE);
		/* no CA list in the request: a client with a certificate from another CA
		 * then sends it anyway, and the refusal says "signer not found" instead
		 * of "no certificate" */
		gnutls_certificate_send_x509_rdn_sequence(pc->s, 1);
	} else if (inet_pton(AF_INET, pc->tls_name, &a4) != 1 &&
		 inet_pton(AF_INET6, pc->tls_name, &a6) != 1)
		(void)gnutls_server_name_set(pc->s, GNUTLS_NAME_DNS, pc->tls_name,
					     strlen(pc->tls_name));
	return 0;
}

int ptls_handshake(struct peer_conn *pc, unsigned *events)
{
	int rc, tries = 0;
	const char *proto, *cipher;

	do
		rc = gnutls_handshake(pc->s);
	while ((rc == GNUTLS_E_INTERRUPTED || rc == GNUTLS_E_WARNING_ALERT_RECEIVED) &&
	       ++tries < 8);
	if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED ||
	    rc == GNUTLS_E_WARNING_ALERT_RECEIVED) {
		*events = gnutls_record_get_direction(pc->s) ? EPOLLOUT : EPOLLIN;
		return -EAGAIN;
	}
	if (rc < 0) {
		int err = tls_failed(pc, rc, "TLS handshake");

		(void)gnutls_alert_send_appropriate(pc->s, rc);   /* best effort, may not fit */
		return err;
	}
	proto = gnutls_protocol_get_name(gnutls_protocol_get_version(pc->s));
	cipher = gnutls_cipher_get_name(gnutls_cipher_get(pc->s));
	(void)snprintf(pc->info, sizeof(pc->info), "%s, %s, peer cert %s", proto ? proto : "?",
		       cipher ? cipher : "?", pc->cert_names);
	return 0;
}

ssize_t ptls_recv(struct peer_conn *pc, void *buf, size_t len)
{
	ssize_t n;

	do
		n = gnutls_record_recv(pc->s, buf, len);
	while (n == GNUTLS_E_INTERRUPTED);
	if (n == GNUTLS_E_AGAIN)
		return -EAGAIN;
	if (n == GNUTLS_E_REHANDSHAKE) {
		char who[CFG_NAME_MAX + CFG_ADDR_MAX + 8];

		pc_label(pc, who, sizeof(who));
		pc_errf(pc, "TLS session with %s: renegotiation is not supported", who);
		return -EPROTO;
	}
	if (n < 0)
		return tls_failed(pc, (int)n, "TLS session");
	return n;
}

ssize_t ptls_send(struct peer_conn *pc, const void *buf, size_t len)
{
	ssize_t n;

	/* after AGAIN, GnuTLS wants the same call again: out[] keeps its head meanwhile */
	if (pc->inflight)
		len = pc->inflight;
	else if (len > PTLS_RECORD_MAX)
		len = PTLS_RECORD_MAX;
	n = gnutls_record_send(pc->s, buf, len);
	if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
		pc->inflight = len;
		return -EAGAIN;
	}
	pc->inflight = 0;
	if (n < 0)
		return tls_failed(pc, (int)n, "TLS session");
	return n;
}

int ptls_pending(struct peer_conn *pc)
{
	return gnutls_record_check_pending(pc->s) > 0;
}

void ptls_bye(struct peer_conn *pc)
{
	(void)gnutls_bye(pc->s, GNUTLS_SHUT_WR);   /* best effort, never waits */
}

int peer_tls_tick(struct peer_tls *t, uint64_t now_ms)
{
	char who[CFG_NAME_MAX + CFG_ADDR_MAX + 8];
	struct peer_conn *pc;
	int next = -1;

again:
	for (pc = t->conns; pc; pc = pc->next) {
		if (pc->dead || !pc->deadline_ms)
			continue;
		if (now_ms < pc->deadline_ms) {
			uint64_t left = pc->deadline_ms - now_ms;

			if (next < 0 || left < (uint64_t)next)
				next = (int)left;
			continue;
		}
		pc_enter(pc);
		pc_label(pc, who, sizeof(who));
		if (pc->state == PC_OPEN) {     /* read by the peer sentry, ending */
			char first[PEER_ERR_MAX];

			/* the reason it ended first (if one was given), then why it ends now */
			(void)snprintf(first, sizeof(first), "%s", pc->err);
			pc->err[0] = 0;
			pc_errf(pc, "%.200s%s%s: %s within %u s", first, first[0] ? "; " : "", who,
				pc->rd_end ? "the peer sentry did not hand back its last frames" :
				"a send failed and the stream did not end", PEER_END_MS / 1000);
			pc_close(pc, pc->rd_end ? pc->rd_end : pc->pend_err ? pc->pend_err :
				 -ETIMEDOUT);
			pc_leave(pc);
			goto again;
		}
		if (pc->state == PC_CONNECTING)
			pc_errf(pc, "connect to %s: no answer within %u s (address, routing, "
				"firewall?)", who, PEER_HANDSHAKE_TIMEOUT_MS / 1000);
		else if (pc->server)
			pc_errf(pc, "TLS handshake with %s: not completed within %u s", who,
				PEER_HANDSHAKE_TIMEOUT_MS / 1000);
		else
			pc_errf(pc, "TLS handshake with %s: no answer within %u s (is "
				"hybond-hostd with peer_listen at that address?)", who,
				PEER_HANDSHAKE_TIMEOUT_MS / 1000);
		pc_close(pc, -ETIMEDOUT);
		pc_leave(pc);           /* may free it: walk the list again */
		goto again;
	}
	return next;
}

/* ---- credentials -------------------------------------------------------------------- */
static int check_file(const char *key, const char *path, int secret, char *err, size_t errlen,
		      char *warn, size_t warnlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		(void)snprintf(err, errlen, "%s %s: %s (create it as hostd.conf(5), TLS "
			       "CERTIFICATES, says, or set %s in hostd.conf)", key, path,
			       strerror(-rc), key);
		return rc;
	}
	rc = fstat(fd, &st);
	(void)close(fd);
	if (rc < 0 || !S_ISREG(st.st_mode)) {
		(void)snprintf(err, errlen, "%s %s: not a regular file", key, path);
		return -EINVAL;
	}
	if (secret && (st.st_mode & 077)) {
		size_t off = strlen(warn);

		(void)snprintf(warn + off, warnlen - off, "%s%s %s is readable by %s (mode %04o): "
			       "chmod 600 %s", off ? "; " : "", key, path,
			       (st.st_mode & 007) ? "everyone" : "its group",
			       (unsigned)(st.st_mode & 07777), path);
	}
	return 0;
}

/* Our own certificate: trusted by tls_ca, valid now, usable as TLS server and client. */
static int check_own(struct peer_tls *t, const struct hostd_config *c, char *err, size_t errlen,
		     char *warn, size_t warnlen)
{
	static const char *const kp[2] = { GNUTLS_KP_TLS_WWW_SERVER, GNUTLS_KP_TLS_WWW_CLIENT };
	gnutls_x509_trust_list_t tl;
	gnutls_x509_crt_t *crts = NULL;
	unsigned n = 0, i, status;
	char why[256];
	int rc = 0;
	time_t exp;

	if (gnutls_certificate_get_x509_crt(t->cred, 0, &crts, &n) < 0 || !n) {
		(void)snprintf(err, errlen, "tls_cert %s: no certificate loaded", c->tls_cert);
		return -EINVAL;
	}
	gnutls_certificate_get_trust_list(t->cred, &tl);
	for (i = 0; i < 2 && !rc; i++) {
		gnutls_typed_vdata_st vd = { .type = GNUTLS_DT_KEY_PURPOSE_OID,
					     .data = (unsigned char *)kp[i] };

		status = 0;
		if (gnutls_x509_trust_list_verify_crt2(tl, crts, n, &vd, 1, 0, &status, NULL) < 0 ||
		    status) {
			status_text(status & ~(unsigned)GNUTLS_CERT_INVALID, why, sizeof(why));
			(void)snprintf(err, errlen, "tls_cert %s: not valid as a TLS %s certificate "
				       "under tls_ca %s: %s", c->tls_cert, i ? "client" : "server",
				       c->tls_ca, why);
			rc = -EKEYREJECTED;
		}
	}
	exp = gnutls_x509_crt_get_expiration_time(crts[0]);
	if (!rc && exp != (time_t)-1 && exp - time(NULL) < PTLS_RENEW_WARN_S) {
		size_t off = strlen(warn);

		(void)snprintf(warn + off, warnlen - off, "%stls_cert %s expires in %lld days: "
			       "renew it (hostd.conf(5), TLS CERTIFICATES)", off ? "; " : "",
			       c->tls_cert, (long long)((exp - time(NULL)) / 86400));
	}
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);
	return rc;
}

static int check_files(const struct hostd_config *c, char *err, size_t errlen, char *warn,
		       size_t warnlen)
{
	int rc = check_file("tls_ca", c->tls_ca, 0, err, errlen, warn, warnlen);

	if (!rc && c->tls_crl[0])
		rc = check_file("tls_crl", c->tls_crl, 0, err, errlen, warn, warnlen);
	if (!rc)
		rc = check_file("tls_cert", c->tls_cert, 0, err, errlen, warn, warnlen);
	if (!rc)
		rc = check_file("tls_key", c->tls_key, 1, err, errlen, warn, warnlen);
	return rc;
}

static int load_cred(struct peer_tls *t, const struct hostd_config *c, char *err, size_t errlen)
{
	int rc;

	if (gnutls_certificate_allocate_credentials(&t->cred) < 0) {
		t->cred = NULL;
		return -ENOMEM;
	}
	rc = gnutls_certificate_set_x509_trust_file(t->cred, c->tls_ca, GNUTLS_X509_FMT_PEM);
	if (rc <= 0) {
		(void)snprintf(err, errlen, "tls_ca %s: %s", c->tls_ca,
			       rc < 0 ? gnutls_strerror(rc) : "no PEM CA certificate in it");
		return -EINVAL;
	}
	if (c->tls_crl[0]) {
		rc = gnutls_certificate_set_x509_crl_file(t->cred, c->tls_crl, GNUTLS_X509_FMT_PEM);
		if (rc <= 0) {
			(void)snprintf(err, errlen, "tls_crl %s: %s (a PEM CRL signed by tls_ca)",
				       c->tls_crl, rc < 0 ? gnutls_strerror(rc) : "no CRL in it");
			return -EINVAL;
		}
	}
	rc = gnutls_certificate_set_x509_key_file2(t->cred, c->tls_cert, c->tls_key,
						   GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc < 0) {
		(void)snprintf(err, errlen, "tls_cert %s / tls_key %s: %s (PEM, the key "
			       "unencrypted and matching the certificate)", c->tls_cert, c->tls_key,
			       gnutls_strerror(rc));
		return -EINVAL;
	}
	gnutls_certificate_set_verify_function(t->cred, ptls_verify);
	return 0;
}

int peer_tls_new(const struct hostd_config *c, struct peer_tls **out, char *err, size_t errlen,
		 char *warn, size_t warnlen)
{
	struct peer_tls *t;
	const char *pos = NULL;
	size_t i;
	int rc;

	*out = NULL;
	warn[0] = 0;
	rc = check_files(c, err, errlen, warn, warnlen);
	if (rc)
		return rc;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	for (i = 0; i < c->n_peers; i++)
		if (config_peer_tls(&c->peers[i])) {
			socklen_t salen;
			char why[160];

			if (config_parse_hostport(c->peers[i].address, &t->ids[t->n_ids].sa, &salen,
						  NULL, 0, why, sizeof(why)))
				t->ids[t->n_ids].sa.ss_family = AF_UNSPEC;      /* checked at load */
			(void)snprintf(t->ids[t->n_ids].peer, sizeof(t->ids[0].peer), "%s",
				       c->peers[i].name);
			(void)snprintf(t->ids[t->n_ids++].tls_name, sizeof(t->ids[0].tls_name), "%s",
				       c->peers[i].tls_name);
		}
	if (gnutls_priority_init(&t->prio, c->tls_priority, &pos) < 0) {
		t->prio = NULL;
		(void)snprintf(err, errlen, "tls_priority '%s': not a GnuTLS priority string (error "
			       "at '%.40s'); the default is %s", c->tls_priority, pos ? pos : "",
			       CFG_TLS_PRIORITY_DEF);
		rc = -EINVAL;
	}
	if (!rc)
		rc = load_cred(t, c, err, errlen);
	if (!rc)
		rc = check_own(t, c, err, errlen, warn, warnlen);
	if (rc) {
		peer_tls_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int peer_tls_reload(struct peer_tls *t, const struct hostd_config *c, char *err, size_t errlen,
		    char *warn, size_t warnlen)
{
	gnutls_certificate_credentials_t old = t->cred;
	int rc;

	warn[0] = 0;
	retire_unused(t);
	if (t->n_retired == PTLS_MAX_RETIRED) {
		(void)snprintf(err, errlen, "peer connections still use the certificates of %u "
			       "earlier reloads: try again once they closed", t->n_retired);
		return -EBUSY;
	}
	rc = check_files(c, err, errlen, warn, warnlen);
	if (rc)
		return rc;
	/* the new credentials are loaded and checked beside the old ones, which stay in
	 * force until the new ones are known good */
	rc = load_cred(t, c, err, errlen);
	if (!rc)
		rc = check_own(t, c, err, errlen, warn, warnlen);
	if (rc) {
		if (t->cred)
			gnutls_certificate_free_credentials(t->cred);
		t->cred = old;
		return rc;
	}
	t->retired[t->n_retired++] = old;
	retire_unused(t);               /* freed at once when no connection uses it */
	return 0;
}

void peer_tls_set_sentry(struct peer_tls *t, struct sentry *s)
{
	t->sn = s;
}

struct sentry *ptls_sentry(const struct peer_tls *t)
{
	return t->sn;
}

void peer_tls_free(struct peer_tls *t)
{
	if (!t)
		return;
	while (t->conns) {
		struct peer_conn *pc = t->conns;

		peer_conn_free(pc);
		if (t->conns == pc)     /* still referenced from a callback: unlink anyway */
			ptls_detach(pc);
	}
	if (t->l)
		loop_del_ticker(t->l, t);
	if (t->cred)
		gnutls_certificate_free_credentials(t->cred);
	retire_unused(t);               /* no connection is left: every retired one goes */
	if (t->prio)
		gnutls_priority_deinit(t->prio);
	free(t);
}
