/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_qmp.c — the QMP client against a fake QEMU on a socketpair
 * that replays transcripts captured from the lab's QEMU 7.2
 * (tests/data/qmp/, see README there).  The client's own commands are compared
 * (as JSON, including the id) with what the capture sent, and QEMU's lines are
 * replayed byte for byte: whole, one byte per read, or all at once.
 */
#include "tests/unit/cu_run.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "host-agent/hostd/hv/qmp.h"

#ifndef HB_TESTDATA
#define HB_TESTDATA "tests/data"
#endif
#define T0 1000000u

/* ---- transcript files ------------------------------------------------------ */
struct rec_line {
	char dir;               /* 'S' QEMU -> client, 'C' client -> QEMU */
	char *text;
};

struct transcript {
	struct rec_line *l;
	size_t n;
};

/* Load connection number conn (1-based; files without markers are connection 1). */
static int load_transcript(const char *name, int conn, struct transcript *t)
{
	char path[512], *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int cur = 1, seen_marker = 0;
	FILE *f;

	memset(t, 0, sizeof(*t));
	(void)snprintf(path, sizeof(path), "%s/qmp/%s", HB_TESTDATA, name);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	while ((len = getline(&line, &cap, f)) > 0) {
		struct rec_line *nl;

		if (strncmp(line, "# connection ", 13) == 0) {
			cur = seen_marker ? cur + 1 : 1;
			seen_marker = 1;
			continue;
		}
		if (cur != conn || len < 4 || (line[0] != 'S' && line[0] != 'C') || line[1] != ':')
			continue;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		nl = realloc(t->l, (t->n + 1) * sizeof(*t->l));
		if (!nl)
			break;
		t->l = nl;
		t->l[t->n].dir = line[0];
		t->l[t->n].text = strdup(line + 3);
		t->n++;
	}
	free(line);
	(void)fclose(f);
	return t->n ? 0 : -ENOENT;
}

static void free_transcript(struct transcript *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->l[i].text);
	free(t->l);
}

/* ---- what the client reported ---------------------------------------------- */
#define MAXREC 64
struct seen {
	int ready, closed, close_err;
	int n_ans;
	struct { enum qmp_result r; int64_t id; char cls[32]; char cmd[48]; json_t *ret; } ans[MAXREC];
	int n_ev;
	struct { enum qmp_event_kind k; char name[32]; struct timespec ts; json_t *data; } ev[MAXREC];
};

static struct seen S;

static void seen_reset(void)
{
	int i;

	for (i = 0; i < S.n_ans; i++)
		json_decref(S.ans[i].ret);
	for (i = 0; i < S.n_ev; i++)
		json_decref(S.ev[i].data);
	memset(&S, 0, sizeof(S));
}

static void on_answer(struct qmp *q, void *arg, const struct qmp_answer *a)
{
	(void)q;
	(void)arg;
	if (S.n_ans >= MAXREC)
		return;
	S.ans[S.n_ans].r = a->result;
	S.ans[S.n_ans].id = a->id;
	(void)snprintf(S.ans[S.n_ans].cls, sizeof(S.ans[0].cls), "%s", a->err_class ? a->err_class : "");
	(void)snprintf(S.ans[S.n_ans].cmd, sizeof(S.ans[0].cmd), "%s", a->command);
	S.ans[S.n_ans].ret = json_incref(a->ret);
	S.n_ans++;
}

static void on_ready(struct qmp *q, void *arg, json_t *greeting)
{
	(void)q;
	(void)arg;
	CU_ASSERT_PTR_NOT_NULL(json_object_get(greeting, "version"));
	S.ready++;
}

static void on_event(struct qmp *q, void *arg, const struct qmp_event *ev)
{
	(void)q;
	(void)arg;
	if (S.n_ev >= MAXREC)
		return;
	S.ev[S.n_ev].k = ev->kind;
	(void)snprintf(S.ev[S.n_ev].name, sizeof(S.ev[0].name), "%s", ev->name);
	S.ev[S.n_ev].ts = ev->ts;
	S.ev[S.n_ev].data = json_incref(ev->data);
	S.n_ev++;
}

static void on_closed(struct qmp *q, void *arg, int err)
{
	(void)q;
	(void)arg;
	S.closed++;
	S.close_err = err;
}

static void on_log(struct qmp *q, void *arg, enum qmp_log_prio prio, const char *msg)
{
	(void)q;
	(void)arg;
	(void)prio;
	CU_ASSERT(strncmp(msg, "qmp vm1: ", 9) == 0);
}

static const struct qmp_ops OPS = {
	.on_ready = on_ready, .on_event = on_event, .on_closed = on_closed, .on_log = on_log,
};

/* ---- the fake QEMU end --------------------------------------------------- */
static struct qmp *Q;
static int F = -1;              /* fake QEMU's end of the socketpair */
static char fin[1 << 16];       /* bytes the client sent, not yet consumed */
static size_t fin_len;

static void setup(void)
{
	int sv[2];

	seen_reset();
	fin_len = 0;
	CU_ASSERT_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	F = sv[1];
	CU_ASSERT_FATAL(fcntl(F, F_SETFL, O_NONBLOCK) == 0);
	Q = qmp_new(&OPS, NULL, "vm1");
	CU_ASSERT_FATAL(Q != NULL);
	CU_ASSERT_EQUAL(qmp_attach_fd(Q, sv[0], T0), 0);
	CU_ASSERT_EQUAL(qmp_get_state(Q), QMP_ST_GREETING);
}

static void teardown(void)
{
	qmp_free(Q);
	Q = NULL;
	if (F >= 0)
		(void)close(F);
	F = -1;
	seen_reset();
}

/* Let the client write what it queued and read what the fake sent. */
static void pump(void)
{
	int i;

	for (i = 0; i < 64 && qmp_fd(Q) >= 0; i++) {
		char c;

		if (qmp_want_write(Q))
			(void)qmp_on_writable(Q, T0);
		if (recv(qmp_fd(Q), &c, 1, MSG_PEEK | MSG_DONTWAIT) != 1)
			break;
		if (qmp_on_readable(Q, T0) < 0)
			break;
	}
	if (qmp_fd(Q) >= 0 && qmp_want_write(Q))
		(void)qmp_on_writable(Q, T0);
}

static void fake_write(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(F, s, n);

		if (w < 0) {
			CU_FAIL("fake QEMU write failed");
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

/* Next line the client sent, parsed; NULL if none. */
static json_t *fake_read_cmd(void)
{
	ssize_t n;
	char *nl;
	json_t *j;

	pump();
	n = read(F, fin + fin_len, sizeof(fin) - 1 - fin_len);
	if (n > 0)
		fin_len += (size_t)n;
	nl = memchr(fin, '\n', fin_len);
	if (!nl)
		return NULL;
	j = json_loadb(fin, (size_t)(nl - fin), 0, NULL);
	fin_len -= (size_t)(nl - fin) + 1;
	memmove(fin, nl + 1, fin_len);
	return j;
}

enum chunking { WHOLE_LINES, ONE_BYTE, ALL_AT_ONCE };

/* Replay QEMU's lines: per line, per byte, or all pending lines in one write. */
static void fake_send_lines(char **lines, size_t n, enum chunking how)
{
	size_t i, j, total = 0, off = 0;
	char *all;

	if (!lines || n == 0)
		return;
	if (how == ALL_AT_ONCE) {
		for (i = 0; i < n; i++)
			total += strlen(lines[i]) + 1;
		all = malloc(total + 1);
		if (!all) {
			CU_FAIL("out of memory");
			return;
		}
		for (i = 0; i < n; i++) {
			memcpy(all + off, lines[i], strlen(lines[i]));
			off += strlen(lines[i]);
			all[off++] = '\n';
		}
		fake_write(all, total);
		free(all);
		pump();
		return;
	}
	for (i = 0; i < n; i++) {
		size_t len = strlen(lines[i]);

		if (how == ONE_BYTE) {
			for (j = 0; j < len; j++) {
				fake_write(lines[i] + j, 1);
				pump();
			}
		} else {
			fake_write(lines[i], len);
		}
		fake_write("\n", 1);
		pump();
	}
}

/* Issue a captured command through the matching helper (so the helpers'
 * output is what is checked against QEMU's transcript). */
static int64_t issue(json_t *cmd)
{
	const char *ex = json_string_value(json_object_get(cmd, "execute"));
	json_t *a = json_object_get(cmd, "arguments");
	struct qmp_cmd_ctx c = { .timeout_ms = 5000, .cb = on_answer, .now_ms = T0 };
	const char *s = json_string_value(json_object_get(a, "id"));

	if (!ex)
		return -EINVAL;
	if (!strcmp(ex, "query-status"))
		return qmp_query_status(Q, &c);
	if (!strcmp(ex, "query-migrate"))
		return qmp_query_migrate(Q, &c);
	if (!strcmp(ex, "query-pci"))
		return qmp_query_pci(Q, &c);
	if (!strcmp(ex, "stop"))
		return qmp_stop(Q, &c);
	if (!strcmp(ex, "cont"))
		return qmp_cont(Q, &c);
	if (!strcmp(ex, "migrate_cancel"))
		return qmp_migrate_cancel(Q, &c);
	if (!strcmp(ex, "migrate"))
		return qmp_migrate(Q, json_string_value(json_object_get(a, "uri")), &c);
	if (!strcmp(ex, "migrate-incoming"))
		return qmp_migrate_incoming(Q, json_string_value(json_object_get(a, "uri")), &c);
	if (!strcmp(ex, "qom-list"))
		return qmp_qom_list(Q, json_string_value(json_object_get(a, "path")), &c);
	if (!strcmp(ex, "device_del"))
		return qmp_device_del(Q, s, &c);
	if (!strcmp(ex, "set_link"))
		return qmp_set_link(Q, json_string_value(json_object_get(a, "name")),
				    json_is_true(json_object_get(a, "up")), &c);
	if (!strcmp(ex, "migrate-set-capabilities"))
		return qmp_migrate_set_capability(Q, "events", true, &c);
	if (!strcmp(ex, "device_add")) {
		struct qmp_device d = {
			.driver = json_string_value(json_object_get(a, "driver")), .id = s,
			.bus = json_string_value(json_object_get(a, "bus")),
			.mac = json_string_value(json_object_get(a, "mac")),
			.netdev = json_string_value(json_object_get(a, "netdev")),
			.failover_pair_id = json_string_value(json_object_get(a, "failover_pair_id")),
			.romfile = json_string_value(json_object_get(a, "romfile")),
		};
		return qmp_device_add(Q, &d, &c);
	}
	if (!strcmp(ex, "human-monitor-command")) {
		const char *cl = json_string_value(json_object_get(a, "command-line"));

		if (cl && !strncmp(cl, "savevm ", 7))
			return qmp_savevm(Q, cl + 7, &c);
	}
	if (!strcmp(ex, "snapshot-save")) {
		const char *devs[4];
		json_t *d = json_object_get(a, "devices");
		size_t i, n = json_array_size(d) < 4 ? json_array_size(d) : 4;

		for (i = 0; i < n; i++)
			devs[i] = json_string_value(json_array_get(d, i));
		return qmp_snapshot_save(Q, json_string_value(json_object_get(a, "job-id")),
					 json_string_value(json_object_get(a, "tag")),
					 json_string_value(json_object_get(a, "vmstate")), devs, n, &c);
	}
	return qmp_execute(Q, ex, json_deep_copy(a), 5000, on_answer, NULL, T0);
}

/* A captured answer without an id (the lab's tool sends none) gets ours. */
static char *with_id(const char *line, int64_t id)
{
	json_t *j = json_loads(line, 0, NULL);
	char *out, *end;
	size_t n = strlen(line);

	if (!j || json_object_get(j, "event") || json_object_get(j, "QMP") ||
	    json_object_get(j, "id")) {
		json_decref(j);
		return strdup(line);
	}
	json_decref(j);
	out = malloc(n + 32);
	if (!out)
		return NULL;
	memcpy(out, line, n + 1);
	end = strrchr(out, '}');
	if (end)
		(void)sprintf(end, ", \"id\": %lld}", (long long)id);
	return out;
}

/*
 * Replay a transcript: C lines are issued through the helpers and what the
 * client writes is compared with the capture (ids included when the capture
 * has them); runs of S lines are sent with the chosen chunking.
 */
static void replay(const struct transcript *t, enum chunking how)
{
	char *batch[64];
	size_t nb = 0, i;
	int64_t ids[64];
	size_t nids = 0, next_ans = 0;

	for (i = 0; i <= t->n; i++) {
		if (i == t->n || t->l[i].dir == 'C') {
			fake_send_lines(batch, nb, how);
			while (nb)
				free(batch[--nb]);
		}
		if (i == t->n)
			break;
		if (t->l[i].dir == 'S') {
			int64_t id = next_ans < nids ? ids[next_ans] : -1;
			json_t *j = json_loads(t->l[i].text, 0, NULL);

			if (j && (json_object_get(j, "return") || json_object_get(j, "error")))
				next_ans++;
			json_decref(j);
			CU_ASSERT_FATAL(nb < 64);
			batch[nb++] = with_id(t->l[i].text, id);
		} else {
			json_t *want = json_loads(t->l[i].text, 0, NULL), *got;
			int64_t id;

			CU_ASSERT_FATAL(want != NULL);
			if (!strcmp(json_string_value(json_object_get(want, "execute")), "qmp_capabilities")) {
				id = 1;        /* the client sends it by itself, with id 1 */
			} else {
				id = issue(want);
				CU_ASSERT(id > 0);
			}
			got = fake_read_cmd();
			CU_ASSERT_PTR_NOT_NULL(got);
			if (!json_object_get(want, "id"))
				(void)json_object_set_new(want, "id", json_integer(id));
			if (!json_equal(got, want)) {
				char *g = got ? json_dumps(got, JSON_SORT_KEYS) : NULL;

				(void)fprintf(stderr, "\nclient sent %s\ncapture has %s\n", g ? g : "nothing",
					t->l[i].text);
				free(g);
				CU_FAIL("client's command differs from the captured one");
			}
			json_decref(got);
			json_decref(want);
			CU_ASSERT_FATAL(nids < 64);
			ids[nids++] = id;
		}
	}
}

static const struct seen *ans_by_id(int64_t id, int *idx)
{
	int i;

	for (i = 0; i < S.n_ans; i++)
		if (S.ans[i].id == id) {
			*idx = i;
			return &S;
		}
	*idx = -1;
	return NULL;
}

/* ---- tests -------------------------------------------------------------- */

static void check_session_commands(enum chunking how)
{
	struct transcript t;
	struct qmp_status st;
	char hmp[128];
	int i;
	static const int64_t errors[] = { 10, 14, 15, 16, 19 };

	CU_ASSERT_FATAL(load_transcript("session-commands.txt", 1, &t) == 0);
	setup();
	replay(&t, how);
	CU_ASSERT_EQUAL(S.ready, 1);
	CU_ASSERT_EQUAL(qmp_get_state(Q), QMP_ST_READY);
	CU_ASSERT_EQUAL(S.n_ans, 19);          /* ids 2..20; caps is internal */
	for (i = 0; i < S.n_ans; i++) {
		size_t k;
		enum qmp_result want = QMP_OK;

		CU_ASSERT_EQUAL(S.ans[i].id, i + 2);
		for (k = 0; k < sizeof(errors) / sizeof(errors[0]); k++)
			if (errors[k] == S.ans[i].id)
				want = QMP_ERROR;
		CU_ASSERT_EQUAL(S.ans[i].r, want);
	}
	CU_ASSERT_STRING_EQUAL(S.ans[8].cls, "DeviceNotFound");   /* id 10 */
	CU_ASSERT_STRING_EQUAL(S.ans[13].cls, "CommandNotFound"); /* id 15 */
	CU_ASSERT_STRING_EQUAL(S.ans[8].cmd, "device_del");
	/* query-status */
	CU_ASSERT_EQUAL(qmp_parse_status(S.ans[0].ret, &st), 0);
	CU_ASSERT_TRUE(st.running);
	CU_ASSERT_STRING_EQUAL(st.status, "running");
	/* qom-list, query-pci (vf0 sits behind the root port rp1) */
	CU_ASSERT_TRUE(qmp_qom_has_child(S.ans[2].ret, "vf0"));
	CU_ASSERT_FALSE(qmp_qom_has_child(S.ans[2].ret, "type"));
	CU_ASSERT_TRUE(qmp_pci_has_qdev(S.ans[3].ret, "standby0"));
	CU_ASSERT_TRUE(qmp_pci_has_qdev(S.ans[3].ret, "vf0"));
	CU_ASSERT_FALSE(qmp_pci_has_qdev(S.ans[3].ret, "vf9"));
	/* the VF sits behind the root port rp1 (the VF watch's evidence by bus) */
	CU_ASSERT_TRUE(qmp_pci_bridge_used(S.ans[3].ret, "rp1"));
	CU_ASSERT_FALSE(qmp_pci_bridge_used(S.ans[3].ret, "vser0"));    /* not a bridge */
	CU_ASSERT_FALSE(qmp_pci_bridge_used(S.ans[3].ret, "rp9"));
	{
		json_t *empty = json_loads("[{\"bus\": 0, \"devices\": [{\"qdev_id\": \"rp1\", "
					   "\"pci_bridge\": {\"devices\": []}}]}]", 0, NULL);

		CU_ASSERT_FALSE(qmp_pci_bridge_used(empty, "rp1"));     /* unplugged */
		json_decref(empty);
	}
	CU_ASSERT_FALSE(qmp_qom_has_child(S.ans[16].ret, "vf0")); /* id 18: after DEVICE_DELETED */
	/* savevm over HMP "succeeds" with an error text */
	CU_ASSERT_TRUE(qmp_hmp_failed(S.ans[9].ret, hmp, sizeof(hmp)));
	CU_ASSERT_STRING_EQUAL(hmp, "Error: no block device can store vmstate for snapshot");
	CU_ASSERT_FALSE(qmp_hmp_failed(S.ans[5].ret, hmp, sizeof(hmp)));
	/* events: STOP, RESUME, 4 x JOB_STATUS_CHANGE, DEVICE_DELETED */
	CU_ASSERT_EQUAL(S.n_ev, 7);
	CU_ASSERT_EQUAL(S.ev[0].k, QMP_EV_STOP);
	CU_ASSERT_EQUAL(S.ev[0].ts.tv_sec, 1795623607);
	CU_ASSERT_EQUAL(S.ev[0].ts.tv_nsec, 37558000L);
	CU_ASSERT_EQUAL(S.ev[1].k, QMP_EV_RESUME);
	CU_ASSERT_EQUAL(S.ev[2].k, QMP_EV_JOB_STATUS_CHANGE);
	CU_ASSERT_EQUAL(S.ev[6].k, QMP_EV_DEVICE_DELETED);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(S.ev[6].data, "device")), "vf0");
	CU_ASSERT_EQUAL(qmp_get_stats(Q)->bad_lines, 0);
	CU_ASSERT_EQUAL(qmp_get_stats(Q)->unknown_ids, 0);
	teardown();
	free_transcript(&t);
}

static void test_session_lines(void) { check_session_commands(WHOLE_LINES); }
static void test_session_bytes(void) { check_session_commands(ONE_BYTE); }
static void test_session_batched(void) { check_session_commands(ALL_AT_ONCE); }

static void test_migration(void)
{
	struct transcript t;
	struct qmp_migrate_info mi;
	static const char *const want[] = { "MIGRATION", "UNPLUG_PRIMARY", "MIGRATION_PASS",
		"MIGRATION", "MIGRATION", "MIGRATION_PASS", "STOP", "MIGRATION_PASS", "MIGRATION" };
	static const char *const status[] = { "setup", NULL, NULL, "wait-unplug", "active",
		NULL, NULL, NULL, "completed" };
	int i, idx;

	CU_ASSERT_FATAL(load_transcript("migrate-failover-src.txt", 1, &t) == 0);
	setup();
	replay(&t, ALL_AT_ONCE);
	CU_ASSERT_EQUAL(S.n_ev, 9);
	for (i = 0; i < 9 && i < S.n_ev; i++) {
		CU_ASSERT_STRING_EQUAL(S.ev[i].name, want[i]);
		if (status[i])
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(S.ev[i].data, "status")),
					       status[i]);
	}
	CU_ASSERT_EQUAL(S.ev[1].k, QMP_EV_UNPLUG_PRIMARY);
	CU_ASSERT_EQUAL(S.ev[6].k, QMP_EV_STOP);
	CU_ASSERT_EQUAL(S.ev[6].ts.tv_sec, 1795623588);
	CU_ASSERT_EQUAL(S.ev[6].ts.tv_nsec, 620949000L);
	/* answers: query-status, set-capabilities, migrate, query-migrate x2 */
	CU_ASSERT_EQUAL(S.n_ans, 5);
	CU_ASSERT_EQUAL(qmp_parse_migrate(S.ans[3].ret, &mi), 0);
	CU_ASSERT_STRING_EQUAL(mi.status, "setup");
	CU_ASSERT_EQUAL(mi.downtime_ms, -1);
	ans_by_id(6, &idx);
	CU_ASSERT_FATAL(idx >= 0);
	CU_ASSERT_EQUAL(qmp_parse_migrate(S.ans[idx].ret, &mi), 0);
	CU_ASSERT_STRING_EQUAL(mi.status, "completed");
	CU_ASSERT_EQUAL(mi.total_time_ms, 922);
	CU_ASSERT_EQUAL(mi.downtime_ms, 8);
	CU_ASSERT_EQUAL(mi.setup_time_ms, 256);
	CU_ASSERT_EQUAL(mi.ram_transferred, 97477732);
	CU_ASSERT_EQUAL(mi.ram_remaining, 0);
	CU_ASSERT_EQUAL(mi.ram_total, 268967936);
	CU_ASSERT(mi.mbps > 1173.0 && mi.mbps < 1173.1);
	teardown();
	free_transcript(&t);

	/* the second connection: quit, SHUTDOWN before the answer */
	CU_ASSERT_FATAL(load_transcript("migrate-failover-src.txt", 2, &t) == 0);
	setup();
	replay(&t, ONE_BYTE);
	CU_ASSERT_EQUAL(S.n_ev, 1);
	CU_ASSERT_EQUAL(S.ev[0].k, QMP_EV_SHUTDOWN);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(S.ev[0].data, "reason")),
			       "host-qmp-quit");
	CU_ASSERT_EQUAL(S.n_ans, 1);
	CU_ASSERT_EQUAL(S.ans[0].r, QMP_OK);
	teardown();
	free_transcript(&t);
}

static void greet(void)
{
	struct transcript t;
	json_t *caps;
	char ans[64], *line = ans;

	CU_ASSERT_FATAL(load_transcript("session-hotplug.txt", 1, &t) == 0);
	fake_send_lines(&t.l[0].text, 1, WHOLE_LINES);      /* the greeting */
	caps = fake_read_cmd();
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(caps, "execute")) ?: "",
			       "qmp_capabilities");
	(void)snprintf(ans, sizeof(ans), "{\"return\": {}, \"id\": %lld}",
		       (long long)json_integer_value(json_object_get(caps, "id")));
	json_decref(caps);
	fake_send_lines(&line, 1, WHOLE_LINES);
	CU_ASSERT_EQUAL(qmp_get_state(Q), QMP_ST_READY);
	free_transcript(&t);
}

static void test_all_events(void)
{
	struct transcript t;
	size_t i;
	int kinds[16] = { 0 };

	CU_ASSERT_FATAL(load_transcript("events-from-jsonl.txt", 1, &t) == 0);
	setup();
	greet();
	for (i = 0; i < t.n; i++)
		fake_send_lines(&t.l[i].text, 1, WHOLE_LINES);
	CU_ASSERT_EQUAL((size_t)S.n_ev, t.n);
	for (i = 0; i < (size_t)S.n_ev; i++) {
		CU_ASSERT_NOT_EQUAL(S.ev[i].k, QMP_EV_OTHER);
		kinds[S.ev[i].k]++;
		CU_ASSERT(S.ev[i].ts.tv_sec > 1795600000);
	}
	CU_ASSERT(kinds[QMP_EV_FAILOVER_NEGOTIATED] == 2 && kinds[QMP_EV_NIC_RX_FILTER_CHANGED] == 1 &&
		  kinds[QMP_EV_SHUTDOWN] == 1 && kinds[QMP_EV_RESUME] == 2 &&
		  kinds[QMP_EV_DEVICE_DELETED] == 2 && kinds[QMP_EV_UNPLUG_PRIMARY] == 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(S.ev[0].data, "device-id")), "standby0");
	teardown();
	free_transcript(&t);
}

static void test_hotplug(void)
{
	struct transcript t;

	CU_ASSERT_FATAL(load_transcript("session-hotplug.txt", 1, &t) == 0);
	setup();
	replay(&t, WHOLE_LINES);
	CU_ASSERT_EQUAL(S.n_ans, 4);
	CU_ASSERT_EQUAL(S.ans[0].r, QMP_OK);     /* device_add vf1 */
	CU_ASSERT_TRUE(qmp_qom_has_child(S.ans[1].ret, "vf1"));
	CU_ASSERT_EQUAL(S.n_ev, 1);
	CU_ASSERT_EQUAL(S.ev[0].k, QMP_EV_DEVICE_DELETED);
	teardown();
	free_transcript(&t);
}

/* Commands issued before the handshake wait until qmp_capabilities succeeded. */
static void test_held_until_ready(void)
{
	json_t *c;
	struct qmp_cmd_ctx ctx = { .cb = on_answer, .now_ms = T0 };

	setup();
	CU_ASSERT_EQUAL(qmp_query_status(Q, &ctx), 1);
	CU_ASSERT_PTR_NULL(fake_read_cmd());
	greet();
	c = fake_read_cmd();
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(c, "execute")) ?: "", "query-status");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(c, "id")), 1);
	json_decref(c);
	CU_ASSERT_EQUAL(S.ready, 1);
	teardown();
}

static void test_malformed_and_unknown_id(void)
{
	struct qmp_cmd_ctx ctx = { .cb = on_answer, .now_ms = T0 };
	char *lines[] = { "{not json", "[1,2]", "{\"something\": 1}",
		"{\"return\": {}, \"id\": 999}", "{\"return\": {}, \"id\": \"x\"}",
		"{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": 2}" };

	setup();
	greet();
	CU_ASSERT_EQUAL(qmp_query_status(Q, &ctx), 2);
	json_decref(fake_read_cmd());
	fake_send_lines(lines, 6, ALL_AT_ONCE);
	CU_ASSERT_EQUAL(qmp_get_stats(Q)->bad_lines, 3);
	CU_ASSERT_EQUAL(qmp_get_stats(Q)->unknown_ids, 2);
	CU_ASSERT_EQUAL(S.n_ans, 1);
	CU_ASSERT_EQUAL(S.ans[0].id, 2);
	CU_ASSERT_EQUAL(S.closed, 0);
	CU_ASSERT_EQUAL(qmp_get_state(Q), QMP_ST_READY);
	teardown();
}

static void test_oversize(void)
{
	struct qmp_cmd_ctx ctx = { .cb = on_answer, .now_ms = T0 };
	char *blob = malloc(QMP_LINE_MAX + 100);
	size_t sent = 0;

	if (!blob) {
		CU_FAIL("out of memory");
		return;
	}
	memset(blob, 'x', QMP_LINE_MAX + 100);
	blob[0] = '"';
	setup();
	greet();
	CU_ASSERT(qmp_query_status(Q, &ctx) > 0);
	json_decref(fake_read_cmd());
	while (sent < QMP_LINE_MAX + 100 && qmp_fd(Q) >= 0) {
		ssize_t w = write(F, blob + sent, QMP_LINE_MAX + 100 - sent);

		if (w > 0)
			sent += (size_t)w;
		pump();
	}
	CU_ASSERT_EQUAL(S.closed, 1);
	CU_ASSERT_EQUAL(S.close_err, -EMSGSIZE);
	CU_ASSERT_EQUAL(qmp_get_state(Q), QMP_ST_CLOSED);
	CU_ASSERT_EQUAL(S.n_ans, 1);
	CU_ASSERT_EQUAL(S.ans[0].r, QMP_ABANDONED);
	CU_ASSERT_EQUAL(qmp_query_status(Q, &ctx), -ENOTCONN);
	teardown();
	free(blob);
}

static void test_deadline(void)
{
	struct qmp_cmd_ctx ctx = { .timeout_ms = 100, .cb = on_answer, .now_ms = T0 };
	char *late[] = { "{\"return\": {}, \"id\": 2}" };

	setup();
	CU_ASSERT_EQUAL(qmp_next_deadline_ms(Q), T0 + QMP_GREETING_TIMEOUT_MS);
	greet();
	CU_ASSERT_EQUAL(qmp_timeout_ms(Q, T0), -1);
	CU_ASSERT_EQUAL(qmp_stop(Q, &ctx), 2);
	CU_ASSERT_EQUAL(qmp_next_deadline_ms(Q), T0 + 100);
	CU_ASSERT_EQUAL(qmp_timeout_ms(Q, T0 + 40), 60);
	qmp_tick(Q, T0 + 99);
	CU_ASSERT_EQUAL(S.n_ans, 0);
	qmp_tick(Q, T0 + 100);
	CU_ASSERT_EQUAL(S.n_ans, 1);
	CU_ASSERT_EQUAL(S.ans[0].r, QMP_TIMEOUT);
	CU_ASSERT_STRING_EQUAL(S.ans[0].cmd, "stop");
	CU_ASSERT_EQUAL(qmp_get_stats(Q)->timeouts, 1);
	fake_send_lines(late, 1, WHOLE_LINES);
	CU_ASSERT_EQUAL(S.n_ans, 1);
	CU_ASSERT_EQUAL(qmp_get_stats(Q)->unknown_ids, 1);
	CU_ASSERT_EQUAL(qmp_get_state(Q), QMP_ST_READY);
	teardown();
}

static void test_greeting_timeout(void)
{
	setup();
	qmp_tick(Q, T0 + QMP_GREETING_TIMEOUT_MS - 1);
	CU_ASSERT_EQUAL(S.closed, 0);
	qmp_tick(Q, T0 + QMP_GREETING_TIMEOUT_MS);
	CU_ASSERT_EQUAL(S.closed, 1);
	CU_ASSERT_EQUAL(S.close_err, -ETIMEDOUT);
	CU_ASSERT_EQUAL(qmp_fd(Q), -1);
	teardown();
}

static void test_disconnect(void)
{
	struct qmp_cmd_ctx ctx = { .cb = on_answer, .now_ms = T0 };

	setup();
	greet();
	CU_ASSERT(qmp_migrate(Q, "unix:/tmp/x.sock", &ctx) > 0);
	CU_ASSERT(qmp_query_migrate(Q, &ctx) > 0);
	(void)close(F);
	F = -1;
	CU_ASSERT_EQUAL(qmp_on_readable(Q, T0), -ECONNRESET);
	CU_ASSERT_EQUAL(S.closed, 1);
	CU_ASSERT_EQUAL(S.close_err, -ECONNRESET);
	CU_ASSERT_EQUAL(S.n_ans, 2);
	CU_ASSERT(S.ans[0].r == QMP_ABANDONED && S.ans[1].r == QMP_ABANDONED);
	CU_ASSERT_EQUAL(qmp_get_state(Q), QMP_ST_CLOSED);
	CU_ASSERT_EQUAL(qmp_close_reason(Q), -ECONNRESET);
	CU_ASSERT_EQUAL(qmp_on_readable(Q, T0), -ECONNRESET);
	teardown();
}

static void test_bad_arguments(void)
{
	struct qmp_cmd_ctx ctx = { .cb = on_answer, .now_ms = T0 };
	struct qmp_device d = { .driver = "e1000e" };
	struct qmp_status st;
	struct qmp_migrate_info mi;
	json_t *j;
	int i;

	setup();
	CU_ASSERT_EQUAL(qmp_device_add(Q, &d, &ctx), -EINVAL);       /* no id */
	CU_ASSERT_EQUAL(qmp_device_add(Q, NULL, &ctx), -EINVAL);
	CU_ASSERT_EQUAL(qmp_savevm(Q, "a b", &ctx), -EINVAL);
	CU_ASSERT_EQUAL(qmp_savevm(Q, "", &ctx), -EINVAL);
	CU_ASSERT_EQUAL(qmp_migrate(Q, NULL, &ctx), -EINVAL);
	CU_ASSERT_EQUAL(qmp_set_link(Q, NULL, true, &ctx), -EINVAL);
	CU_ASSERT_EQUAL(qmp_execute(Q, "", NULL, 0, NULL, NULL, T0), -EINVAL);
	CU_ASSERT_EQUAL(qmp_query_status(Q, NULL), -EINVAL);
	for (i = 0; i < QMP_MAX_PENDING; i++)
		CU_ASSERT(qmp_stop(Q, &ctx) > 0);
	CU_ASSERT_EQUAL(qmp_stop(Q, &ctx), -EBUSY);
	CU_ASSERT_EQUAL(qmp_connect(Q, "/nonexistent/qmp.sock", T0), -EISCONN);
	/* parsers refuse what is not the expected shape */
	j = json_pack("{s:s}", "status", "running");
	CU_ASSERT_EQUAL(qmp_parse_status(j, &st), -EPROTO);
	json_decref(j);
	CU_ASSERT_EQUAL(qmp_parse_migrate(NULL, &mi), -EPROTO);
	j = json_object();
	CU_ASSERT_EQUAL(qmp_parse_migrate(j, &mi), 0);             /* {}: no migration yet */
	CU_ASSERT_STRING_EQUAL(mi.status, "");
	json_decref(j);
	CU_ASSERT_EQUAL(qmp_event_kind_of("MIGRATION_PASS"), QMP_EV_MIGRATION_PASS);
	CU_ASSERT_EQUAL(qmp_event_kind_of("BLOCK_JOB_READY"), QMP_EV_OTHER);
	teardown();     /* the 64 pending commands are abandoned on free */
	CU_ASSERT_EQUAL(S.n_ans, 0);
}

static void test_connect_errors(void)
{
	struct qmp *q = qmp_new(&OPS, NULL, "vm1");
	char longp[200];

	CU_ASSERT_FATAL(q != NULL);
	CU_ASSERT_EQUAL(qmp_connect(q, "/nonexistent/qmp.sock", T0), -ENOENT);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	CU_ASSERT_EQUAL(qmp_connect(q, longp, T0), -ENAMETOOLONG);
	CU_ASSERT_EQUAL(qmp_get_state(q), QMP_ST_IDLE);
	CU_ASSERT_EQUAL(qmp_stop(q, &(struct qmp_cmd_ctx){ .now_ms = T0 }), -ENOTCONN);
	qmp_free(q);
}

static CU_TestInfo tests[] = {
	{ "captured session, line per read", test_session_lines },
	{ "captured session, one byte per read", test_session_bytes },
	{ "captured session, all lines in one read", test_session_batched },
	{ "captured failover migration (source)", test_migration },
	{ "every captured event kind", test_all_events },
	{ "captured device_add/device_del", test_hotplug },
	{ "commands held until capabilities", test_held_until_ready },
	{ "malformed lines, unknown ids", test_malformed_and_unknown_id },
	{ "oversize line ends the session", test_oversize },
	{ "command deadline", test_deadline },
	{ "greeting timeout", test_greeting_timeout },
	{ "disconnect abandons commands", test_disconnect },
	{ "bad arguments", test_bad_arguments },
	{ "connect errors", test_connect_errors },
	CU_TEST_INFO_NULL,
};

int main(void)
{
	CU_SuiteInfo suites[] = {
		{ "qmp", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};
	return hb_cu_run(suites);
}
