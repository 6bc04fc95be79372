// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/hv/hv_qmp.c — the hypervisor backend for plain QEMU over QMP (see hv.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "hv.h"

#define HV_QMP_CMD_TIMEOUT_MS     10000u
#define HV_QMP_MIGRATE_TIMEOUT_MS 30000u

struct hv {
	struct loop *l;
	struct qmp *q;
	const struct hv_cb *cb;
	void *arg;
	int fd;
	unsigned watched;
	int ready;
};

struct hv_call {
	hv_done_fn fn;
	void *arg;
	int kind;               /* 0 plain, 1 query-migrate, 2 query-status, 3 query-pci */
	char id[64];            /* query-pci: the device looked for */
	char bus[64];           /* ... or a device behind this root port ("": none) */
};

uint64_t hv_realtime_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const struct hv_cb hq_no_cb;

static void hq_ready(struct qmp *q, void *arg, json_t *greeting)
{
	struct hv *h = arg;

	(void)q;
	(void)greeting;
	h->ready = 1;
	if (h->cb->on_ready)
		h->cb->on_ready(h->arg);
}

static void hq_event(struct qmp *q, void *arg, const struct qmp_event *ev)
{
	struct hv *h = arg;
	const char *detail = NULL;
	enum hv_ev k;
	uint64_t ts = (uint64_t)ev->ts.tv_sec * 1000u + (uint64_t)ev->ts.tv_nsec / 1000000u;

	(void)q;
	switch (ev->kind) {
	case QMP_EV_STOP: k = HV_EV_STOP; break;
	case QMP_EV_RESUME: k = HV_EV_RESUME; break;
	case QMP_EV_MIGRATION:
		k = HV_EV_MIGRATION;
		detail = json_string_value(json_object_get(ev->data, "status"));
		break;
	case QMP_EV_UNPLUG_PRIMARY: k = HV_EV_UNPLUG_PRIMARY; break;
	case QMP_EV_FAILOVER_NEGOTIATED: k = HV_EV_FAILOVER_NEGOTIATED; break;
	case QMP_EV_DEVICE_DELETED:
		k = HV_EV_DEVICE_DELETED;
		detail = json_string_value(json_object_get(ev->data, "device"));
		break;
	case QMP_EV_SHUTDOWN: k = HV_EV_SHUTDOWN; break;
	default: return;
	}
	if (!ts)
		ts = hv_realtime_ms();
	if (h->cb->on_event)
		h->cb->on_event(h->arg, k, detail ? detail : "", ts);
}

static void hq_closed(struct qmp *q, void *arg, int err)
{
	struct hv *h = arg;

	(void)q;
	h->ready = 0;
	if (h->fd >= 0) {
		loop_del_fd(h->l, h->fd);
		h->fd = -1;
	}
	if (h->cb->on_closed)
		h->cb->on_closed(h->arg, err);
}

static const struct qmp_ops hq_ops = {
	.on_ready = hq_ready, .on_event = hq_event, .on_closed = hq_closed,
};

static void hq_io(void *arg, unsigned events)
{
	struct hv *h = arg;
	uint64_t now = qmp_now_ms();

	if (events & EPOLLOUT)
		qmp_on_writable(h->q, now);
	if (h->fd >= 0 && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		qmp_on_readable(h->q, now);
}

/* every loop turn: deadlines, and EPOLLOUT while output is queued */
static int hq_tick(void *arg, uint64_t now)
{
	struct hv *h = arg;
	unsigned want;

	qmp_tick(h->q, now);
	if (h->fd < 0)
		return -1;
	want = EPOLLIN | (qmp_want_write(h->q) ? EPOLLOUT : 0);
	if (want != h->watched && loop_mod_fd(h->l, h->fd, want) == 0)
		h->watched = want;
	return qmp_timeout_ms(h->q, now);
}

static struct hv *hq_open(struct loop *l, const char *target, const struct hv_cb *cb, void *arg,
			  const char *name, int *err)
{
	struct hv *h = calloc(1, sizeof(*h));

	if (!h) {
		*err = -ENOMEM;
		return NULL;
	}
	h->l = l;
	h->cb = cb;
	h->arg = arg;
	h->fd = -1;
	h->q = qmp_new(&hq_ops, h, name);
	if (!h->q) {
		free(h);
		*err = -ENOMEM;
		return NULL;
	}
	*err = qmp_connect(h->q, target, qmp_now_ms());
	if (*err == 0) {
		h->fd = qmp_fd(h->q);
		h->watched = EPOLLIN | EPOLLOUT;
		*err = loop_add_fd(l, h->fd, h->watched, hq_io, h);
	}
	if (*err == 0)
		*err = loop_add_ticker(l, hq_tick, h);
	if (*err) {
		if (h->fd >= 0)
			loop_del_fd(l, h->fd);
		qmp_free(h->q);
		free(h);
		return NULL;
	}
	return h;
}

static void hq_close(struct hv *h)
{
	if (!h)
		return;
	loop_del_ticker(h->l, h);
	if (h->fd >= 0)
		loop_del_fd(h->l, h->fd);
	h->fd = -1;
	h->cb = &hq_no_cb;
	qmp_free(h->q);
	free(h);
}

static int hq_is_ready(const struct hv *h)
{
	return h && h->ready;
}

static void hq_answer(struct qmp *q, void *arg, const struct qmp_answer *a)
{
	struct hv_call *c = arg;
	struct hv_result r;

	(void)q;
	memset(&r, 0, sizeof(r));
	if (a->result != QMP_OK) {
		r.err = a->result == QMP_TIMEOUT ? -ETIMEDOUT :
			a->result == QMP_ABANDONED ? -ECONNRESET : -EIO;
		r.msg = a->err_desc ? a->err_desc : "?";
	} else if (c->kind == 1) {
		qmp_parse_migrate(a->ret, &r.mig);
	} else if (c->kind == 2) {
		struct qmp_status st;

		if (qmp_parse_status(a->ret, &st) == 0) {
			r.running = st.running;
			(void)snprintf(r.status, sizeof(r.status), "%s", st.status);
		}
	} else if (c->kind == 3) {
		r.present = qmp_pci_has_qdev(a->ret, c->id) ||
			    (c->bus[0] && qmp_pci_bridge_used(a->ret, c->bus));
	}
	if (c->fn)
		c->fn(c->arg, &r);
	free(c);
}

static struct hv_call *call_new(hv_done_fn fn, void *arg, int kind, struct qmp_cmd_ctx *ctx,
				uint32_t timeout_ms)
{
	struct hv_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fn = fn;
	c->arg = arg;
	c->kind = kind;
	ctx->timeout_ms = timeout_ms;
	ctx->cb = hq_answer;
	ctx->arg = c;
	ctx->now_ms = qmp_now_ms();
	return c;
}

/* qmp helpers steal nothing but free nothing on failure: the call is ours to free */
#define HQ_CALL(kind_, timeout_, expr_) do {                                  \
		struct qmp_cmd_ctx ctx;                                       \
		struct hv_call *c = call_new(fn, arg, (kind_), &ctx, (timeout_)); \
		int64_t id_;                                                  \
		if (!c)                                                       \
			return -ENOMEM;                                       \
		id_ = (expr_);                                                \
		if (id_ < 0) {                                                \
			free(c);                                              \
			return (int)id_;                                      \
		}                                                             \
		return 0;                                                     \
	} while (0)

static int hq_migrate_out(struct hv *h, const char *uri, hv_done_fn fn, void *arg)
{
	struct qmp_cmd_ctx ctx0 = { HV_QMP_CMD_TIMEOUT_MS, NULL, NULL, qmp_now_ms() };

	/* events on: MIGRATION status changes drive the state machine */
	qmp_migrate_set_capability(h->q, "events", true, &ctx0);
	HQ_CALL(0, HV_QMP_MIGRATE_TIMEOUT_MS, qmp_migrate(h->q, uri, &ctx));
}

static int hq_accept_incoming(struct hv *h, const char *uri, hv_done_fn fn, void *arg)
{
	struct qmp_cmd_ctx ctx0 = { HV_QMP_CMD_TIMEOUT_MS, NULL, NULL, qmp_now_ms() };

	qmp_migrate_set_capability(h->q, "events", true, &ctx0);
	HQ_CALL(0, HV_QMP_CMD_TIMEOUT_MS, qmp_migrate_incoming(h->q, uri, &ctx));
}

static int hq_migrate_cancel(struct hv *h, hv_done_fn fn, void *arg)
{
	HQ_CALL(0, HV_QMP_CMD_TIMEOUT_MS, qmp_migrate_cancel(h->q, &ctx));
}

static int hq_query_migrate(struct hv *h, hv_done_fn fn, void *arg)
{
	HQ_CALL(1, HV_QMP_CMD_TIMEOUT_MS, qmp_query_migrate(h->q, &ctx));
}

static int hq_query_status(struct hv *h, hv_done_fn fn, void *arg)
{
	HQ_CALL(2, HV_QMP_CMD_TIMEOUT_MS, qmp_query_status(h->q, &ctx));
}

static int hq_vf_unplug(struct hv *h, const char *id, hv_done_fn fn, void *arg)
{
	HQ_CALL(0, HV_QMP_CMD_TIMEOUT_MS, qmp_device_del(h->q, id, &ctx));
}

static int hq_vf_plug(struct hv *h, const struct hv_vf *vf, hv_done_fn fn, void *arg)
{
	struct qmp_device d = {
		.driver = vf->driver, .id = vf->id, .bus = vf->bus, .mac = vf->mac,
		.netdev = vf->netdev, .failover_pair_id = vf->failover_pair_id,
		.romfile = vf->romfile, .host = vf->host,
	};

	HQ_CALL(0, HV_QMP_CMD_TIMEOUT_MS, qmp_device_add(h->q, &d, &ctx));
}

static int hq_query_vf(struct hv *h, const char *id, const char *bus, hv_done_fn fn,
		       void *arg)
{
	struct qmp_cmd_ctx ctx;
	struct hv_call *c = call_new(fn, arg, 3, &ctx, HV_QMP_CMD_TIMEOUT_MS);
	int64_t id_;

	if (!c)
		return -ENOMEM;
	(void)snprintf(c->id, sizeof(c->id), "%s", id);
	(void)snprintf(c->bus, sizeof(c->bus), "%s", bus ? bus : "");
	id_ = qmp_query_pci(h->q, &ctx);
	if (id_ < 0) {
		free(c);
		return (int)id_;
	}
	return 0;
}

static int hq_cont(struct hv *h, hv_done_fn fn, void *arg)
{
	HQ_CALL(0, HV_QMP_CMD_TIMEOUT_MS, qmp_cont(h->q, &ctx));
}

static int hq_quit(struct hv *h, hv_done_fn fn, void *arg)
{
	HQ_CALL(0, HV_QMP_CMD_TIMEOUT_MS, qmp_execute(h->q, "quit", NULL, ctx.timeout_ms,
						       ctx.cb, ctx.arg, ctx.now_ms));
}

const struct hv_ops hv_qmp_ops = {
	.kind = "qmp",
	.open = hq_open,
	.close = hq_close,
	.ready = hq_is_ready,
	.migrate_out = hq_migrate_out,
	.accept_incoming = hq_accept_incoming,
	.migrate_cancel = hq_migrate_cancel,
	.query_migrate = hq_query_migrate,
	.query_status = hq_query_status,
	.vf_unplug = hq_vf_unplug,
	.vf_plug = hq_vf_plug,
	.query_vf = hq_query_vf,
	.cont = hq_cont,
	.quit = hq_quit,
};
