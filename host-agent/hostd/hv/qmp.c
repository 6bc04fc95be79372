/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/hv/qmp.c — non-blocking QMP client (see qmp.h for the model).
 *
 * Reading: bytes accumulate in one buffer that grows (up to QMP_LINE_MAX plus
 * one read) until a newline completes a line, which json_loadb parses.
 * Writing: commands are serialised into an output queue the caller flushes on
 * EPOLLOUT; commands issued before the capabilities handshake sit in a hold
 * queue so they never reach QEMU while it only accepts qmp_capabilities.
 * Outstanding commands live in a fixed slot table (QMP_MAX_PENDING): the ids
 * are ours and strictly increasing, so an answer that matches no slot is a
 * late one (timed out) and is ignored.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp.h"

#define QMP_IN_MAX (QMP_LINE_MAX + QMP_READ_CHUNK)

struct qmp_pending {
	bool used;
	bool internal;          /* our qmp_capabilities */
	int64_t id;
	uint64_t deadline_ms;
	qmp_answer_fn cb;
	void *arg;
	char command[48];      /* same size as qmp_answer.command */
};

struct qmp_buf {
	char *data;
	size_t len, off, cap;
};

struct qmp {
	const struct qmp_ops *ops;
	void *arg;
	char name[64];
	int fd;
	enum qmp_state st;
	int close_err;
	uint64_t greet_deadline_ms;
	json_t *greeting;
	char *in;
	size_t in_len, in_cap;
	struct qmp_buf out, hold;
	struct qmp_pending pend[QMP_MAX_PENDING];
	int64_t next_id;
	struct qmp_stats stats;
};

uint64_t qmp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

__attribute__((format(printf, 3, 4)))
static void qlog(struct qmp *q, enum qmp_log_prio prio, const char *fmt, ...)
{
	char msg[512];
	int n;
	va_list ap;

	if (!q->ops || !q->ops->on_log)
		return;
	n = snprintf(msg, sizeof(msg), "qmp %s: ", q->name);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): false positive (va_start above) */
	(void)vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	q->ops->on_log(q, q->arg, prio, msg);
}

static const struct {
	const char *name;
	enum qmp_event_kind kind;
} event_names[] = {
	{ "STOP", QMP_EV_STOP },
	{ "RESUME", QMP_EV_RESUME },
	{ "MIGRATION", QMP_EV_MIGRATION },
	{ "MIGRATION_PASS", QMP_EV_MIGRATION_PASS },
	{ "UNPLUG_PRIMARY", QMP_EV_UNPLUG_PRIMARY },
	{ "FAILOVER_NEGOTIATED", QMP_EV_FAILOVER_NEGOTIATED },
	{ "DEVICE_DELETED", QMP_EV_DEVICE_DELETED },
	{ "NIC_RX_FILTER_CHANGED", QMP_EV_NIC_RX_FILTER_CHANGED },
	{ "SHUTDOWN", QMP_EV_SHUTDOWN },
	{ "JOB_STATUS_CHANGE", QMP_EV_JOB_STATUS_CHANGE },
};

enum qmp_event_kind qmp_event_kind_of(const char *name)
{
	size_t i;

	for (i = 0; name && i < sizeof(event_names) / sizeof(event_names[0]); i++)
		if (strcmp(event_names[i].name, name) == 0)
			return event_names[i].kind;
	return QMP_EV_OTHER;
}

const char *qmp_state_name(enum qmp_state st)
{
	switch (st) {
	case QMP_ST_IDLE: return "idle";
	case QMP_ST_GREETING: return "greeting";
	case QMP_ST_NEGOTIATING: return "negotiating";
	case QMP_ST_READY: return "ready";
	case QMP_ST_CLOSED: return "closed";
	}
	return "?";
}

struct qmp *qmp_new(const struct qmp_ops *ops, void *arg, const char *name)
{
	struct qmp *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->ops = ops;
	q->arg = arg;
	q->fd = -1;
	q->next_id = 1;
	(void)snprintf(q->name, sizeof(q->name), "%s", name ? name : "-");
	return q;
}

static void buf_reset(struct qmp_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static int buf_append(struct qmp_buf *b, const char *s, size_t n)
{
	if (b->off > 0 && b->off == b->len) {
		b->off = 0;
		b->len = 0;
	}
	if (b->len + n > QMP_OUT_MAX)
		return -ENOBUFS;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	return 0;
}

/* Run a pending slot's callback once, freeing the slot first (re-entrancy). */
static void pend_finish(struct qmp *q, struct qmp_pending *p, struct qmp_answer *a)
{
	struct qmp_pending copy = *p;

	p->used = false;
	a->id = copy.id;
	memcpy(a->command, copy.command, sizeof(a->command));
	if (copy.cb)
		copy.cb(q, copy.arg, a);
}

static void abandon_all(struct qmp *q, const char *why)
{
	size_t i;

	for (i = 0; i < QMP_MAX_PENDING; i++) {
		struct qmp_answer a = { .result = QMP_ABANDONED, .err_desc = why };

		if (q->pend[i].used)
			pend_finish(q, &q->pend[i], &a);
	}
}

/* End the session: close, abandon commands, tell the owner (unless freeing). */
static void session_end(struct qmp *q, int err, bool notify)
{
	if (q->st == QMP_ST_CLOSED || q->st == QMP_ST_IDLE) {
		if (q->fd >= 0)
			(void)close(q->fd);
		q->fd = -1;
		return;
	}
	q->st = QMP_ST_CLOSED;
	q->close_err = err;
	if (q->fd >= 0)
		(void)close(q->fd);
	q->fd = -1;
	buf_reset(&q->out);
	buf_reset(&q->hold);
	q->in_len = 0;
	abandon_all(q, notify ? "QMP session ended" : "QMP client freed");
	if (notify) {
		qlog(q, err == -ECONNRESET ? QMP_LOG_INFO : QMP_LOG_ERR,
		     "session ended: %s", strerror(-err));
		if (q->ops && q->ops->on_closed)
			q->ops->on_closed(q, q->arg, err);
	}
}

void qmp_free(struct qmp *q)
{
	if (!q)
		return;
	session_end(q, -ECANCELED, false);
	json_decref(q->greeting);
	free(q->in);
	buf_reset(&q->out);
	buf_reset(&q->hold);
	free(q);
}

int qmp_attach_fd(struct qmp *q, int fd, uint64_t now_ms)
{
	int fl;

	if (q->st != QMP_ST_IDLE && q->st != QMP_ST_CLOSED)
		return -EISCONN;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	q->fd = fd;
	q->st = QMP_ST_GREETING;
	q->close_err = 0;
	q->in_len = 0;
	q->greet_deadline_ms = now_ms + QMP_GREETING_TIMEOUT_MS;
	json_decref(q->greeting);
	q->greeting = NULL;
	return 0;
}

int qmp_connect(struct qmp *q, const char *path, uint64_t now_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err;

	if (q->st != QMP_ST_IDLE && q->st != QMP_ST_CLOSED)
		return -EISCONN;
	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		qlog(q, QMP_LOG_ERR, "connect %s: %s (is QEMU running with -qmp/-mon on it, "
		     "and is no other client attached?)", path, strerror(-err));
		(void)close(fd);
		return err;
	}
	err = qmp_attach_fd(q, fd, now_ms);
	if (err < 0)
		(void)close(fd);
	return err;
}

int qmp_fd(const struct qmp *q) { return q->fd; }
bool qmp_want_write(const struct qmp *q) { return q->fd >= 0 && q->out.off < q->out.len; }
enum qmp_state qmp_get_state(const struct qmp *q) { return q->st; }
int qmp_close_reason(const struct qmp *q) { return q->close_err; }
const struct qmp_stats *qmp_get_stats(const struct qmp *q) { return &q->stats; }

static struct qmp_pending *pend_alloc(struct qmp *q)
{
	size_t i;

	for (i = 0; i < QMP_MAX_PENDING; i++)
		if (!q->pend[i].used)
			return &q->pend[i];
	return NULL;
}

static int64_t queue_command(struct qmp *q, const char *command, json_t *args, uint32_t timeout_ms,
			     qmp_answer_fn cb, void *cb_arg, uint64_t now_ms, bool internal)
{
	struct qmp_pending *p;
	json_t *msg = NULL;
	char *text = NULL;
	int64_t id, ret;
	int err;

	if (!command || !*command || strlen(command) >= sizeof(p->command)) {
		ret = -EINVAL;
		goto out;
	}
	if (q->st == QMP_ST_IDLE || q->st == QMP_ST_CLOSED || q->fd < 0) {
		ret = -ENOTCONN;
		goto out;
	}
	p = pend_alloc(q);
	if (!p) {
		ret = -EBUSY;
		goto out;
	}
	id = q->next_id++;
	msg = json_pack("{s:s, s:I}", "execute", command, "id", (json_int_t)id);
	if (!msg) {
		ret = -ENOMEM;
		goto out;
	}
	if (args && json_object_set_new(msg, "arguments", args) < 0) {
		args = NULL;
		ret = -ENOMEM;
		goto out;
	}
	args = NULL;
	text = json_dumps(msg, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!text) {
		ret = -ENOMEM;
		goto out;
	}
	/* Before the handshake only qmp_capabilities may go out. */
	{
		struct qmp_buf *b = (internal || q->st == QMP_ST_READY) ? &q->out : &q->hold;

		err = buf_append(b, text, strlen(text));
		if (err == 0)
			err = buf_append(b, "\n", 1);
		if (err < 0) {
			ret = err;
			goto out;
		}
	}
	memset(p, 0, sizeof(*p));
	p->used = true;
	p->internal = internal;
	p->id = id;
	p->deadline_ms = now_ms + (timeout_ms ? timeout_ms : QMP_DEFAULT_TIMEOUT_MS);
	p->cb = cb;
	p->arg = cb_arg;
	memcpy(p->command, command, strlen(command) + 1);
	ret = id;
out:
	json_decref(args);
	json_decref(msg);
	free(text);
	return ret;
}

int64_t qmp_execute(struct qmp *q, const char *command, json_t *args,
		    uint32_t timeout_ms, qmp_answer_fn cb, void *cb_arg, uint64_t now_ms)
{
	return queue_command(q, command, args, timeout_ms, cb, cb_arg, now_ms, false);
}

static void caps_answer(struct qmp *q, void *arg, const struct qmp_answer *a)
{
	(void)arg;
	if (q->st != QMP_ST_NEGOTIATING)
		return;
	if (a->result != QMP_OK) {
		qlog(q, QMP_LOG_ERR, "qmp_capabilities failed: %s %s", a->err_class ? a->err_class : "",
		     a->err_desc ? a->err_desc : "");
		session_end(q, a->result == QMP_TIMEOUT ? -ETIMEDOUT : -EPROTO, true);
		return;
	}
	q->st = QMP_ST_READY;
	if (q->hold.len > q->hold.off) {
		if (buf_append(&q->out, q->hold.data + q->hold.off, q->hold.len - q->hold.off) < 0) {
			session_end(q, -ENOBUFS, true);
			return;
		}
	}
	buf_reset(&q->hold);
	qlog(q, QMP_LOG_DEBUG, "capabilities negotiated");
	if (q->ops && q->ops->on_ready)
		q->ops->on_ready(q, q->arg, q->greeting);
}

static void handle_greeting(struct qmp *q, json_t *msg)
{
	json_t *g = json_object_get(msg, "QMP");
	int64_t id;

	json_decref(q->greeting);
	q->greeting = json_incref(g);
	q->st = QMP_ST_NEGOTIATING;
	id = queue_command(q, "qmp_capabilities", NULL, QMP_GREETING_TIMEOUT_MS, caps_answer, NULL,
			   q->greet_deadline_ms - QMP_GREETING_TIMEOUT_MS, true);
	if (id < 0)
		session_end(q, (int)id, true);
}

static void handle_answer(struct qmp *q, json_t *msg)
{
	json_t *jid = json_object_get(msg, "id");
	json_t *err = json_object_get(msg, "error");
	struct qmp_answer a = { .result = QMP_OK };
	size_t i;

	if (!json_is_integer(jid)) {
		q->stats.unknown_ids++;
		qlog(q, QMP_LOG_DEBUG, "answer without a numeric id ignored");
		return;
	}
	for (i = 0; i < QMP_MAX_PENDING; i++)
		if (q->pend[i].used && q->pend[i].id == json_integer_value(jid))
			break;
	if (i == QMP_MAX_PENDING) {
		q->stats.unknown_ids++;
		qlog(q, QMP_LOG_DEBUG, "answer with unknown id %" JSON_INTEGER_FORMAT " ignored (late?)",
		     json_integer_value(jid));
		return;
	}
	q->stats.answers++;
	if (err) {
		a.result = QMP_ERROR;
		a.err_class = json_string_value(json_object_get(err, "class"));
		a.err_desc = json_string_value(json_object_get(err, "desc"));
		if (!a.err_class)
			a.err_class = "GenericError";
		if (!a.err_desc)
			a.err_desc = "(no description)";
	} else {
		a.ret = json_object_get(msg, "return");
	}
	pend_finish(q, &q->pend[i], &a);
}

static void handle_event(struct qmp *q, json_t *msg, const char *name)
{
	json_t *ts = json_object_get(msg, "timestamp");
	json_t *sec = json_object_get(ts, "seconds"), *usec = json_object_get(ts, "microseconds");
	struct qmp_event ev = { .name = name, .kind = qmp_event_kind_of(name) };

	ev.data = json_object_get(msg, "data");
	if (json_is_integer(sec) && json_is_integer(usec) && json_integer_value(sec) >= 0 &&
	    json_integer_value(usec) >= 0 && json_integer_value(usec) < 1000000) {
		ev.ts.tv_sec = (time_t)json_integer_value(sec);
		ev.ts.tv_nsec = (long)json_integer_value(usec) * 1000L;
	}
	q->stats.events++;
	if (q->ops && q->ops->on_event)
		q->ops->on_event(q, q->arg, &ev);
}

static void handle_line(struct qmp *q, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *msg, *ev;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return;
	q->stats.lines_in++;
	msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(msg)) {
		q->stats.bad_lines++;
		qlog(q, QMP_LOG_WARN, "skipping a line that is not a JSON object (%zu bytes): %s",
		     len, msg ? "not an object" : jerr.text);
		json_decref(msg);
		return;
	}
	ev = json_object_get(msg, "event");
	if (q->st == QMP_ST_GREETING) {
		if (json_object_get(msg, "QMP"))
			handle_greeting(q, msg);
		else {
			q->stats.bad_lines++;
			qlog(q, QMP_LOG_WARN, "expected the QMP greeting, got something else: ignored");
		}
	} else if (json_is_string(ev)) {
		handle_event(q, msg, json_string_value(ev));
	} else if (json_object_get(msg, "return") || json_object_get(msg, "error")) {
		handle_answer(q, msg);
	} else {
		q->stats.bad_lines++;
		qlog(q, QMP_LOG_WARN, "skipping a message that is neither answer nor event");
	}
	json_decref(msg);
}

/* Split the input buffer into lines; keep the incomplete tail. */
static void dispatch_lines(struct qmp *q)
{
	size_t start = 0;
	char *nl;

	while (q->st != QMP_ST_CLOSED && start < q->in_len &&
	       (nl = memchr(q->in + start, '\n', q->in_len - start)) != NULL) {
		size_t end = (size_t)(nl - q->in);

		handle_line(q, q->in + start, end - start);
		start = end + 1;
	}
	if (q->st == QMP_ST_CLOSED)
		return;
	memmove(q->in, q->in + start, q->in_len - start);
	q->in_len -= start;
}

int qmp_on_readable(struct qmp *q, uint64_t now_ms)
{
	ssize_t n;

	(void)now_ms;
	if (q->fd < 0)
		return q->close_err ? q->close_err : -ENOTCONN;
	if (q->in_cap - q->in_len < QMP_READ_CHUNK) {
		size_t cap = q->in_cap ? q->in_cap * 2 : 2 * QMP_READ_CHUNK;
		char *p;

		if (cap > QMP_IN_MAX)
			cap = QMP_IN_MAX;
		p = realloc(q->in, cap);
		if (!p) {
			session_end(q, -ENOMEM, true);
			return -ENOMEM;
		}
		q->in = p;
		q->in_cap = cap;
	}
	n = read(q->fd, q->in + q->in_len, QMP_READ_CHUNK);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		n = -errno;
		session_end(q, (int)n, true);
		return (int)n;
	}
	if (n == 0) {
		session_end(q, -ECONNRESET, true);
		return -ECONNRESET;
	}
	q->in_len += (size_t)n;
	dispatch_lines(q);
	if (q->st == QMP_ST_CLOSED)
		return q->close_err;
	if (q->in_len > QMP_LINE_MAX) {
		qlog(q, QMP_LOG_ERR, "a QMP line exceeds %zu bytes: closing the monitor connection",
		     QMP_LINE_MAX);
		session_end(q, -EMSGSIZE, true);
		return -EMSGSIZE;
	}
	return 0;
}

int qmp_on_writable(struct qmp *q, uint64_t now_ms)
{
	(void)now_ms;
	while (q->fd >= 0 && q->out.off < q->out.len) {
		ssize_t n = send(q->fd, q->out.data + q->out.off, q->out.len - q->out.off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			int err = -errno;

			if (err == -EAGAIN || err == -EINTR)
				return 0;
			session_end(q, err, true);
			return err;
		}
		q->out.off += (size_t)n;
	}
	if (q->out.off == q->out.len)
		q->out.off = q->out.len = 0;
	return q->fd >= 0 ? 0 : (q->close_err ? q->close_err : -ENOTCONN);
}

void qmp_tick(struct qmp *q, uint64_t now_ms)
{
	size_t i;

	if ((q->st == QMP_ST_GREETING || q->st == QMP_ST_NEGOTIATING) &&
	    now_ms >= q->greet_deadline_ms) {
		qlog(q, QMP_LOG_ERR, "no QMP greeting/handshake within %u ms: is this a QMP "
		     "monitor socket (-mon mode=control)?", QMP_GREETING_TIMEOUT_MS);
		session_end(q, -ETIMEDOUT, true);
		return;
	}
	for (i = 0; i < QMP_MAX_PENDING; i++) {
		struct qmp_pending *p = &q->pend[i];
		struct qmp_answer a = { .result = QMP_TIMEOUT, .err_desc = "no answer before the deadline" };

		if (!p->used || p->internal || now_ms < p->deadline_ms)
			continue;
		q->stats.timeouts++;
		qlog(q, QMP_LOG_WARN, "%s (id %" PRId64 ") timed out", p->command, p->id);
		pend_finish(q, p, &a);
	}
}

uint64_t qmp_next_deadline_ms(const struct qmp *q)
{
	uint64_t d = 0;
	size_t i;

	if (q->st == QMP_ST_GREETING || q->st == QMP_ST_NEGOTIATING)
		d = q->greet_deadline_ms;
	for (i = 0; i < QMP_MAX_PENDING; i++)
		if (q->pend[i].used && !q->pend[i].internal && (d == 0 || q->pend[i].deadline_ms < d))
			d = q->pend[i].deadline_ms;
	return d;
}

int qmp_timeout_ms(const struct qmp *q, uint64_t now_ms)
{
	uint64_t d = qmp_next_deadline_ms(q);

	if (d == 0)
		return -1;
	if (d <= now_ms)
		return 0;
	return d - now_ms > (uint64_t)INT32_MAX ? INT32_MAX : (int)(d - now_ms);
}

/* ---- command helpers ---------------------------------------------------- */

static int64_t run(struct qmp *q, const char *cmd, json_t *args, const struct qmp_cmd_ctx *c)
{
	if (!c) {
		json_decref(args);
		return -EINVAL;
	}
	return qmp_execute(q, cmd, args, c->timeout_ms, c->cb, c->arg, c->now_ms);
}

/* json_pack with NULL strings fails: helpers check their arguments first. */
static int64_t run_str(struct qmp *q, const char *cmd, const char *key, const char *val,
		       const struct qmp_cmd_ctx *c)
{
	if (!val)
		return -EINVAL;
	return run(q, cmd, json_pack("{s:s}", key, val), c);
}

int64_t qmp_query_status(struct qmp *q, const struct qmp_cmd_ctx *c) { return run(q, "query-status", NULL, c); }
int64_t qmp_stop(struct qmp *q, const struct qmp_cmd_ctx *c) { return run(q, "stop", NULL, c); }
int64_t qmp_cont(struct qmp *q, const struct qmp_cmd_ctx *c) { return run(q, "cont", NULL, c); }
int64_t qmp_migrate_cancel(struct qmp *q, const struct qmp_cmd_ctx *c) { return run(q, "migrate_cancel", NULL, c); }
int64_t qmp_query_migrate(struct qmp *q, const struct qmp_cmd_ctx *c) { return run(q, "query-migrate", NULL, c); }
int64_t qmp_query_pci(struct qmp *q, const struct qmp_cmd_ctx *c) { return run(q, "query-pci", NULL, c); }

int64_t qmp_migrate(struct qmp *q, const char *uri, const struct qmp_cmd_ctx *c)
{
	return run_str(q, "migrate", "uri", uri, c);
}

int64_t qmp_migrate_incoming(struct qmp *q, const char *uri, const struct qmp_cmd_ctx *c)
{
	return run_str(q, "migrate-incoming", "uri", uri, c);
}

int64_t qmp_migrate_set_capability(struct qmp *q, const char *cap, bool on,
				   const struct qmp_cmd_ctx *c)
{
	if (!cap)
		return -EINVAL;
	return run(q, "migrate-set-capabilities",
		   json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability", cap, "state", on), c);
}

int64_t qmp_device_del(struct qmp *q, const char *id, const struct qmp_cmd_ctx *c)
{
	return run_str(q, "device_del", "id", id, c);
}

int64_t qmp_qom_list(struct qmp *q, const char *path, const struct qmp_cmd_ctx *c)
{
	return run_str(q, "qom-list", "path", path, c);
}

int64_t qmp_set_link(struct qmp *q, const char *name, bool up, const struct qmp_cmd_ctx *c)
{
	if (!name)
		return -EINVAL;
	return run(q, "set_link", json_pack("{s:s, s:b}", "name", name, "up", up), c);
}

int64_t qmp_device_add(struct qmp *q, const struct qmp_device *d, const struct qmp_cmd_ctx *c)
{
	const struct { const char *key, *val; } opt[] = {
		{ "bus", d ? d->bus : NULL }, { "mac", d ? d->mac : NULL },
		{ "netdev", d ? d->netdev : NULL },
		{ "failover_pair_id", d ? d->failover_pair_id : NULL },
		{ "romfile", d ? d->romfile : NULL }, { "host", d ? d->host : NULL },
	};
	json_t *args;
	size_t i;

	if (!d || !d->driver || !d->id)
		return -EINVAL;
	args = json_pack("{s:s, s:s}", "driver", d->driver, "id", d->id);
	for (i = 0; args && i < sizeof(opt) / sizeof(opt[0]); i++)
		if (opt[i].val && json_object_set_new(args, opt[i].key, json_string(opt[i].val)) < 0) {
			json_decref(args);
			args = NULL;
		}
	if (!args)
		return -ENOMEM;
	return run(q, "device_add", args, c);
}

int64_t qmp_savevm(struct qmp *q, const char *tag, const struct qmp_cmd_ctx *c)
{
	char line[160];
	size_t i;

	if (!tag || !*tag || strlen(tag) > 100)
		return -EINVAL;
	for (i = 0; tag[i]; i++)   /* HMP would split on spaces; no quoting games */
		if (tag[i] <= ' ' || tag[i] == '"' || tag[i] == '\\')
			return -EINVAL;
	(void)snprintf(line, sizeof(line), "savevm %s", tag);
	return run_str(q, "human-monitor-command", "command-line", line, c);
}

int64_t qmp_snapshot_save(struct qmp *q, const char *job_id, const char *tag,
			  const char *vmstate, const char *const *devices, size_t n_devices,
			  const struct qmp_cmd_ctx *c)
{
	json_t *devs, *args;
	size_t i;

	if (!job_id || !tag || !vmstate || (n_devices && !devices))
		return -EINVAL;
	devs = json_array();
	for (i = 0; devs && i < n_devices; i++)
		if (!devices[i] || json_array_append_new(devs, json_string(devices[i])) < 0) {
			json_decref(devs);
			return devices[i] ? -ENOMEM : -EINVAL;
		}
	if (!devs)
		return -ENOMEM;
	args = json_pack("{s:s, s:s, s:s, s:o}", "job-id", job_id, "tag", tag, "vmstate", vmstate,
			 "devices", devs);
	if (!args)
		return -ENOMEM;
	return run(q, "snapshot-save", args, c);
}

/* ---- answer parsers ----------------------------------------------------- */

int qmp_parse_status(json_t *ret, struct qmp_status *out)
{
	json_t *run_ = json_object_get(ret, "running");
	const char *st = json_string_value(json_object_get(ret, "status"));

	memset(out, 0, sizeof(*out));
	if (!json_is_boolean(run_) || !st)
		return -EPROTO;
	out->running = json_is_true(run_);
	(void)snprintf(out->status, sizeof(out->status), "%s", st);
	return 0;
}

static int64_t int_or(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

int qmp_parse_migrate(json_t *ret, struct qmp_migrate_info *out)
{
	json_t *ram = json_object_get(ret, "ram"), *mbps = json_object_get(ram, "mbps");
	json_t *st = json_object_get(ret, "status");

	memset(out, 0, sizeof(*out));
	if (!json_is_object(ret) || (st && !json_is_string(st)))
		return -EPROTO;
	(void)snprintf(out->status, sizeof(out->status), "%s", st ? json_string_value(st) : "");
	out->total_time_ms = int_or(ret, "total-time");
	out->downtime_ms = int_or(ret, "downtime");
	out->setup_time_ms = int_or(ret, "setup-time");
	out->expected_downtime_ms = int_or(ret, "expected-downtime");
	out->ram_transferred = int_or(ram, "transferred");
	out->ram_remaining = int_or(ram, "remaining");
	out->ram_total = int_or(ram, "total");
	out->mbps = json_is_number(mbps) ? json_number_value(mbps) : -1.0;
	return 0;
}

bool qmp_qom_has_child(json_t *ret, const char *name)
{
	size_t i;
	json_t *e;

	json_array_foreach(ret, i, e) {
		const char *n = json_string_value(json_object_get(e, "name"));
		const char *t = json_string_value(json_object_get(e, "type"));

		if (n && t && strcmp(n, name) == 0 && strncmp(t, "child<", 6) == 0)
			return true;
	}
	return false;
}

/* query-pci: [{bus, devices: [{qdev_id, pci_bridge: {devices: [...]}}]}] */
static bool pci_devices_have(json_t *devs, const char *qdev_id, int depth)
{
	size_t i;
	json_t *d;

	if (depth > 8)
		return false;
	json_array_foreach(devs, i, d) {
		const char *id = json_string_value(json_object_get(d, "qdev_id"));
		json_t *br = json_object_get(json_object_get(d, "pci_bridge"), "devices");

		if (id && strcmp(id, qdev_id) == 0)
			return true;
		if (br && pci_devices_have(br, qdev_id, depth + 1))
			return true;
	}
	return false;
}

bool qmp_pci_has_qdev(json_t *ret, const char *qdev_id)
{
	size_t i;
	json_t *bus;

	json_array_foreach(ret, i, bus)
		if (pci_devices_have(json_object_get(bus, "devices"), qdev_id, 0))
			return true;
	return false;
}

/* The bridge bridge_id among devs (and bridges below them): its devices, or NULL. */
static json_t *pci_bridge_devices(json_t *devs, const char *bridge_id, int depth)
{
	size_t i;
	json_t *d, *found;

	if (depth > 8)
		return NULL;
	json_array_foreach(devs, i, d) {
		const char *id = json_string_value(json_object_get(d, "qdev_id"));
		json_t *br = json_object_get(json_object_get(d, "pci_bridge"), "devices");

		if (id && br && strcmp(id, bridge_id) == 0)
			return br;
		if (br && (found = pci_bridge_devices(br, bridge_id, depth + 1)))
			return found;
	}
	return NULL;
}

bool qmp_pci_bridge_used(json_t *ret, const char *bridge_id)
{
	size_t i;
	json_t *bus, *devs;

	json_array_foreach(ret, i, bus) {
		devs = pci_bridge_devices(json_object_get(bus, "devices"), bridge_id, 0);
		if (devs)
			return json_array_size(devs) > 0;
	}
	return false;
}

bool qmp_hmp_failed(json_t *ret, char *buf, size_t len)
{
	const char *s = json_string_value(ret);
	size_t n;

	if (!s || !*s)
		return false;       /* HMP commands that succeed print nothing */
	if (buf && len) {
		n = strcspn(s, "\r\n");
		if (n >= len)
			n = len - 1;
		memcpy(buf, s, n);
		buf[n] = '\0';
	}
	return true;
}
