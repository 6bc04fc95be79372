// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/peer/peer_check.c — `peer-check`: the peer channel without a VM (see peer_check.h). */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host-agent/hostd/hostd.h"
#include "peer.h"
#include "peer_check.h"

struct pcheck {
	struct hostd *d;
	struct op_sink sink;            /* answer here, or (none) into out/result */
	char *out;
	size_t outlen;
	int *result;
	struct peer_conn *pc;
	struct loop_timer *timer;
	const struct peer_config *p;
	uint64_t token, t0_ms;
	struct pcheck *next;
};

static struct pcheck *pchecks;          /* pending, for pcheck_sink_gone() */
static uint64_t pcheck_seq;

static const char *pk_where(const struct pcheck *pk)
{
	return config_peer_tls(pk->p) ? pk->p->address : pk->p->socket;
}

static void pk_unlink(struct pcheck *pk)
{
	struct pcheck **pp;

	for (pp = &pchecks; *pp; pp = &(*pp)->next)
		if (*pp == pk) {
			*pp = pk->next;
			return;
		}
}

/* The verdict: answered, the connection and timer released, pk freed. */
static void pk_finish(struct pcheck *pk, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void pk_finish(struct pcheck *pk, int err, const char *fmt, ...)
{
	char text[PEER_ERR_MAX + PEER_INFO_MAX + 64];
	uint64_t ms = loop_now_ms() - pk->t0_ms;
	const char *info = "";
	va_list ap;

	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): false positive (va_start above) */
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	pk_unlink(pk);
	if (pk->pc)
		info = peer_conn_tls_info(pk->pc);
	if (op_sink_listens(&pk->sink) && !err)
		op_finish(&pk->sink, 1, json_pack("{s:b, s:s, s:s, s:s, s:s, s:I, s:s}", "ok", 1,
						  "peer", pk->p->name, "transport",
						  config_peer_tls(pk->p) ? "tls" : "unix",
						  "where", pk_where(pk), "tls", info,
						  "ms", (json_int_t)ms, "text", text));
	else if (op_sink_listens(&pk->sink))
		op_finish(&pk->sink, 0, json_pack("{s:b, s:s, s:s}", "ok", 0, "peer", pk->p->name,
						  "error", text));
	if (pk->out) {
		(void)snprintf(pk->out, pk->outlen, "%s", text);
		*pk->result = err;
		loop_quit(pk->d->l);
	}
	peer_conn_free(pk->pc);         /* from its own callback: deferred by peer.c */
	loop_timer_free(pk->timer);
	free(pk);
}

static void pk_msg(void *arg, struct peer_conn *pc, const struct hb_msg *m)
{
	struct pcheck *pk = arg;

	(void)pc;
	if (m->type == HB_MSG_PONG && (m->flags & HB_F_REPLY) && m->u.pong.token == pk->token) {
		if (config_peer_tls(pk->p))
			pk_finish(pk, 0, "ok, %s (%llu ms)", peer_conn_tls_info(pc),
				  (unsigned long long)(loop_now_ms() - pk->t0_ms));
		else
			pk_finish(pk, 0, "ok, unix socket %s (%llu ms)", pk->p->socket,
				  (unsigned long long)(loop_now_ms() - pk->t0_ms));
	} else if (m->type == HB_MSG_ERROR) {
		pk_finish(pk, -EPROTO, "peer %s answered ERROR %u: %.256s (the channel works; an "
			  "older hybond-hostd does not answer PING)", pk->p->name, m->u.error.code,
			  m->u.error.text ? m->u.error.text : "");
	}
}

static void pk_closed(void *arg, struct peer_conn *pc, int err)
{
	struct pcheck *pk = arg;
	const char *why = peer_conn_error(pc);

	pk->pc = NULL;                  /* peer.c frees it */
	if (why[0])
		pk_finish(pk, err ? err : -ECONNRESET, "%s", why);
	else
		pk_finish(pk, err ? err : -ECONNRESET, "peer %s (%s): connection closed: %s",
			  pk->p->name, pk_where(pk), strerror(err ? -err : ECONNRESET));
}

static void pk_timeout(void *arg)
{
	struct pcheck *pk = arg;

	pk_finish(pk, -ETIMEDOUT, "peer %s (%s): no PONG within %u s", pk->p->name, pk_where(pk),
		  PCHECK_TIMEOUT_MS / 1000);
}

static const struct peer_ops pk_ops = { .on_msg = pk_msg, .on_closed = pk_closed };

/* 0 and pk started, or negative errno with err set (nothing to free). */
static int pk_start(struct hostd *d, const char *peer, struct pcheck **out, char *err,
		    size_t errlen)
{
	const struct peer_config *p = config_peer(&d->cfg, peer);
	struct pcheck *pk;
	struct hb_msg m;
	int rc;

	if (!p) {
		(void)snprintf(err, errlen, "no peer '%.64s' in the configuration ([peer NAME])",
			       peer);
		return -ENOENT;
	}
	pk = calloc(1, sizeof(*pk));
	if (!pk)
		return -ENOMEM;
	pk->d = d;
	pk->p = p;
	pk->t0_ms = loop_now_ms();
	pk->token = (pk->t0_ms << 16) ^ ++pcheck_seq;
	pk->timer = loop_timer_new(d->l, pk_timeout, pk);
	if (!pk->timer) {
		free(pk);
		return -ENOMEM;
	}
	pk->pc = peer_connect_to(d->l, d->tls, p, &pk_ops, pk, &rc);
	if (!pk->pc) {
		(void)snprintf(err, errlen, "peer %s (%s) unreachable: %s", p->name, pk_where(pk),
			       strerror(-rc));
		loop_timer_free(pk->timer);
		free(pk);
		return rc ? rc : -ENOMEM;
	}
	hb_msg_init(&m, HB_MSG_PING, 0);
	m.u.ping.token = pk->token;
	(void)peer_send(pk->pc, &m);    /* queued until the TLS handshake completes */
	(void)loop_timer_arm(pk->timer, PCHECK_TIMEOUT_MS);
	pk->next = pchecks;
	pchecks = pk;
	*out = pk;
	return 0;
}

void pcheck_start(struct hostd *d, const char *peer, const struct op_sink *sink)
{
	struct op_sink s = *sink;
	struct pcheck *pk;
	char err[PEER_ERR_MAX];

	if (pk_start(d, peer, &pk, err, sizeof(err))) {
		op_finish(&s, 0, json_pack("{s:b, s:s, s:s}", "ok", 0, "peer", peer, "error", err));
		return;
	}
	pk->sink = s;
}

void pcheck_sink_gone(const void *arg)
{
	struct pcheck *pk;

	for (pk = pchecks; pk; pk = pk->next)
		op_sink_forget(&pk->sink, arg);  /* finishes on its own, answering nobody */
}

int pcheck_run(struct hostd *d, const char *peer, char *out, size_t outlen)
{
	struct pcheck *pk;
	int rc, result = -EINPROGRESS;

	rc = pk_start(d, peer, &pk, out, outlen);
	if (rc)
		return rc;
	pk->out = out;
	pk->outlen = outlen;
	pk->result = &result;
	while (result == -EINPROGRESS) {
		rc = loop_run(d->l);
		if (rc) {
			(void)snprintf(out, outlen, "event loop: %s", strerror(-rc));
			return rc;
		}
	}
	return result;
}
