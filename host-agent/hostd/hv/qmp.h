/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/hv/qmp.h — a non-blocking QMP client for one QEMU monitor socket.
 *
 * Meant to sit in the daemon's epoll loop; the caller owns the loop and the
 * clock (CLOCK_MONOTONIC milliseconds, qmp_now_ms()), so tests drive
 * deadlines without sleeping:
 *
 *     q = qmp_new(&ops, arg, "vm1");
 *     qmp_connect(q, "/run/.../qmp.sock", now);    or qmp_attach_fd(q, fd, now)
 *     loop:
 *         poll qmp_fd(q) for EPOLLIN (| EPOLLOUT while qmp_want_write(q)),
 *         at most qmp_timeout_ms(q, now) ms (-1: nothing pending);
 *         on EPOLLIN  qmp_on_readable(q, now);  on EPOLLOUT qmp_on_writable(q, now);
 *         qmp_tick(q, now);                     expires command deadlines
 *
 * Session: QEMU greets ({"QMP": …}); the client answers with
 * qmp_capabilities; when that succeeds ops->on_ready runs.  Commands issued
 * before that are held and sent after it.  Every command carries an integer
 * "id"; its answer ("return" or "error" with the same id) is delivered once
 * through the command's callback; answers with an unknown id (late, or not
 * ours) are ignored and counted.  Events go to ops->on_event with QEMU's
 * own timestamp converted to a CLOCK_REALTIME timespec.
 *
 * Input is newline-framed JSON (QMP sends one object per line); a line is
 * parsed with json_loadb once complete.  Limits: a line longer than
 * QMP_LINE_MAX ends the session (-EMSGSIZE); a line that is not a JSON object
 * is skipped, counted and reported through ops->on_log (QEMU is trusted more
 * than a guest, but a bug must not take the daemon down).  A disconnect ends
 * the session: every outstanding command gets QMP_ABANDONED, then
 * ops->on_closed runs.  No reconnect: the owner decides (a QEMU that went
 * away usually means the migration finished or the VM died).
 *
 * Callbacks may issue new commands; they must not call qmp_free().
 */
#ifndef HYBOND_QMP_H
#define HYBOND_QMP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define QMP_LINE_MAX            ((size_t)1 << 20) /* longest accepted line (bytes) */
#define QMP_READ_CHUNK          ((size_t)64 << 10) /* bytes read per qmp_on_readable */
#define QMP_OUT_MAX             ((size_t)256 << 10) /* queued output before qmp_execute fails */
#define QMP_MAX_PENDING         64               /* outstanding commands */
#define QMP_GREETING_TIMEOUT_MS 5000u            /* connect -> greeting + capabilities */
#define QMP_DEFAULT_TIMEOUT_MS  10000u           /* qmp_execute with timeout_ms 0 */

enum qmp_state {
	QMP_ST_IDLE = 0,        /* no fd */
	QMP_ST_GREETING,        /* connected, waiting for {"QMP": …} */
	QMP_ST_NEGOTIATING,     /* qmp_capabilities sent */
	QMP_ST_READY,           /* commands flow */
	QMP_ST_CLOSED,          /* peer gone or fatal error; qmp_close_reason() says why */
};

/* Why a command's callback runs. */
enum qmp_result {
	QMP_OK = 0,             /* a "return"; ans->ret is it */
	QMP_ERROR,              /* an "error"; ans->err_class/err_desc */
	QMP_TIMEOUT,            /* its deadline passed (a late answer is ignored) */
	QMP_ABANDONED,          /* session ended (disconnect, error, qmp_free) */
};

/* The events hybond acts on; everything else is QMP_EV_OTHER (name still given). */
enum qmp_event_kind {
	QMP_EV_OTHER = 0,
	QMP_EV_STOP,
	QMP_EV_RESUME,
	QMP_EV_MIGRATION,             /* data.status */
	QMP_EV_MIGRATION_PASS,
	QMP_EV_UNPLUG_PRIMARY,        /* data.device-id */
	QMP_EV_FAILOVER_NEGOTIATED,   /* data.device-id */
	QMP_EV_DEVICE_DELETED,        /* data.device, data.path */
	QMP_EV_NIC_RX_FILTER_CHANGED, /* data.name, data.path */
	QMP_EV_SHUTDOWN,              /* data.guest, data.reason */
	QMP_EV_JOB_STATUS_CHANGE,     /* data.id, data.status */
};

struct qmp_event {
	enum qmp_event_kind kind;
	const char *name;       /* "STOP", … (valid during the callback) */
	json_t *data;           /* the "data" object or NULL (borrowed) */
	struct timespec ts;     /* QEMU's timestamp, CLOCK_REALTIME; 0 when absent */
};

struct qmp_answer {
	enum qmp_result result;
	int64_t id;
	json_t *ret;            /* QMP_OK: the "return" value (borrowed) */
	const char *err_class;  /* QMP_ERROR: e.g. "GenericError", "DeviceNotFound" */
	const char *err_desc;   /* QMP_ERROR: QEMU's text; QMP_TIMEOUT/ABANDONED: ours */
	char command[48];       /* the command's name */
};

struct qmp;
typedef void (*qmp_answer_fn)(struct qmp *q, void *arg, const struct qmp_answer *ans);

enum qmp_log_prio { QMP_LOG_DEBUG, QMP_LOG_INFO, QMP_LOG_WARN, QMP_LOG_ERR };

struct qmp_ops {
	/* capabilities negotiated; greeting is QEMU's {"QMP": …} body (borrowed) */
	void (*on_ready)(struct qmp *q, void *arg, json_t *greeting);
	void (*on_event)(struct qmp *q, void *arg, const struct qmp_event *ev);
	/* session over; err is a negative errno (-ECONNRESET: QEMU closed it) */
	void (*on_closed)(struct qmp *q, void *arg, int err);
	/* optional: diagnostics, already prefixed with the client's name */
	void (*on_log)(struct qmp *q, void *arg, enum qmp_log_prio prio, const char *msg);
};

struct qmp_stats {
	uint64_t lines_in, events, answers, unknown_ids, bad_lines, timeouts;
};

uint64_t qmp_now_ms(void);

/* name labels log lines (e.g. the VM name); NULL on ENOMEM. */
struct qmp *qmp_new(const struct qmp_ops *ops, void *arg, const char *name);
/* Closes the fd; outstanding commands get QMP_ABANDONED (callbacks run). */
void qmp_free(struct qmp *q);

/* Connect to a unix socket path (non-blocking).  0 or negative errno. */
int qmp_connect(struct qmp *q, const char *path, uint64_t now_ms);
/* Take over a connected stream fd (made non-blocking, closed by qmp_free). */
int qmp_attach_fd(struct qmp *q, int fd, uint64_t now_ms);

int qmp_fd(const struct qmp *q);
bool qmp_want_write(const struct qmp *q);
enum qmp_state qmp_get_state(const struct qmp *q);
int qmp_close_reason(const struct qmp *q);   /* negative errno once CLOSED */
const struct qmp_stats *qmp_get_stats(const struct qmp *q);

/* Read at most QMP_READ_CHUNK bytes and dispatch complete lines.  Returns 0,
 * or a negative errno when the session ended (ops->on_closed has run). */
int qmp_on_readable(struct qmp *q, uint64_t now_ms);
/* Flush queued output.  0 or negative errno (session ended). */
int qmp_on_writable(struct qmp *q, uint64_t now_ms);
/* Expire deadlines (QMP_TIMEOUT callbacks; the greeting timeout ends the session). */
void qmp_tick(struct qmp *q, uint64_t now_ms);
/* Earliest deadline (absolute ms), or 0 when none. */
uint64_t qmp_next_deadline_ms(const struct qmp *q);
/* ms until that deadline (0 if due), -1 when none: a ready epoll_wait timeout. */
int qmp_timeout_ms(const struct qmp *q, uint64_t now_ms);

/*
 * Queue a command.  args (may be NULL) is STOLEN, even on failure.
 * timeout_ms 0 means QMP_DEFAULT_TIMEOUT_MS.  Returns the command's id (> 0)
 * or a negative errno: -ENOTCONN (closed), -EBUSY (QMP_MAX_PENDING reached),
 * -ENOBUFS (QMP_OUT_MAX queued), -EINVAL, -ENOMEM.
 */
int64_t qmp_execute(struct qmp *q, const char *command, json_t *args,
		    uint32_t timeout_ms, qmp_answer_fn cb, void *cb_arg, uint64_t now_ms);

/* ---- the commands hybond uses (each returns what qmp_execute returns) ---- */
struct qmp_cmd_ctx {            /* common tail of every helper */
	uint32_t timeout_ms;
	qmp_answer_fn cb;
	void *arg;
	uint64_t now_ms;
};

struct qmp_device {             /* device_add (NULL fields are left out) */
	const char *driver;     /* "e1000e", "vfio-pci", … (required) */
	const char *id;         /* required */
	const char *bus;
	const char *mac;
	const char *netdev;
	const char *failover_pair_id;
	const char *romfile;    /* "" is meaningful: no option ROM (QEMU failover needs it) */
	const char *host;       /* vfio-pci: the VF's PCI address */
};

int64_t qmp_query_status(struct qmp *q, const struct qmp_cmd_ctx *c);
int64_t qmp_stop(struct qmp *q, const struct qmp_cmd_ctx *c);
int64_t qmp_cont(struct qmp *q, const struct qmp_cmd_ctx *c);
int64_t qmp_migrate(struct qmp *q, const char *uri, const struct qmp_cmd_ctx *c);
int64_t qmp_migrate_incoming(struct qmp *q, const char *uri, const struct qmp_cmd_ctx *c);
int64_t qmp_migrate_cancel(struct qmp *q, const struct qmp_cmd_ctx *c);
int64_t qmp_query_migrate(struct qmp *q, const struct qmp_cmd_ctx *c);
/* migrate-set-capabilities with one capability, e.g. "events" */
int64_t qmp_migrate_set_capability(struct qmp *q, const char *cap, bool on,
				   const struct qmp_cmd_ctx *c);
int64_t qmp_device_add(struct qmp *q, const struct qmp_device *d, const struct qmp_cmd_ctx *c);
int64_t qmp_device_del(struct qmp *q, const char *id, const struct qmp_cmd_ctx *c);
int64_t qmp_query_pci(struct qmp *q, const struct qmp_cmd_ctx *c);
int64_t qmp_qom_list(struct qmp *q, const char *path, const struct qmp_cmd_ctx *c);
int64_t qmp_set_link(struct qmp *q, const char *name, bool up, const struct qmp_cmd_ctx *c);
/* HMP "savevm TAG": needs a qcow2 disk; check the answer with qmp_hmp_failed() */
int64_t qmp_savevm(struct qmp *q, const char *tag, const struct qmp_cmd_ctx *c);
/* snapshot-save job: vmstate and devices are block node names; follow JOB_STATUS_CHANGE */
int64_t qmp_snapshot_save(struct qmp *q, const char *job_id, const char *tag,
			  const char *vmstate, const char *const *devices, size_t n_devices,
			  const struct qmp_cmd_ctx *c);

/* ---- parsers for answers (ret is an answer's "return") ---- */
struct qmp_status {
	bool running;
	char status[32];        /* "running", "paused", "inmigrate", "postmigrate", … */
};

struct qmp_migrate_info {
	char status[32];        /* "" when QEMU reported no migration ({}) */
	int64_t total_time_ms, downtime_ms, setup_time_ms, expected_downtime_ms; /* -1: absent */
	int64_t ram_transferred, ram_remaining, ram_total;                      /* bytes, -1 */
	double mbps;                                                            /* -1 */
};

int qmp_parse_status(json_t *ret, struct qmp_status *out);
int qmp_parse_migrate(json_t *ret, struct qmp_migrate_info *out);
/* qom-list's answer has a child named name (e.g. "vf0" under /machine/peripheral) */
bool qmp_qom_has_child(json_t *ret, const char *name);
/* query-pci's answer has a device with this qdev_id (searching bridges too) */
bool qmp_pci_has_qdev(json_t *ret, const char *qdev_id);
/* query-pci's answer: a device behind the PCI bridge (root port) bridge_id. */
bool qmp_pci_bridge_used(json_t *ret, const char *bridge_id);
/* An HMP command "succeeded" with an error text ("Error: …"): true, text in buf. */
bool qmp_hmp_failed(json_t *ret, char *buf, size_t len);

enum qmp_event_kind qmp_event_kind_of(const char *name);
const char *qmp_state_name(enum qmp_state st);

#endif
