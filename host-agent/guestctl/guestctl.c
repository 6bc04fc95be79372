/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/guestctl/guestctl.c — hybond-guestctl: talk to a guest's hybond agent
 * over its chardev socket, on top of guestchan.
 *
 *   hybond-guestctl --sock PATH status [-j]
 *   hybond-guestctl --sock PATH prepare --pair N [--deadline-ms MS] [--path standby|fast] [-j]
 *   hybond-guestctl --sock PATH resume --pair N [--deadline-ms MS] [-j]
 *   hybond-guestctl --sock PATH ping [-j]
 *   hybond-guestctl --sock PATH watch [-j] [--stdin]
 *
 * Every message is turned into JSON by one generic printer expanded from
 * msgs.def (so a new attribute shows up without touching this file); the
 * text output is built from the same JSON.  See hybond-guestctl(8).
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host-agent/hostd/guest/guestchan.h"
#include <hybond/version.h>

#define EXIT_FAIL   1
#define EXIT_USAGE  2

#define SESSION_TIMEOUT_MS_DEF  5000u
#define PREPARE_DEADLINE_MS_DEF 2000u
#define RESUME_DEADLINE_MS_DEF  10000u
#define STDIN_LINE_MAX          512

enum cmd { CMD_NONE, CMD_STATUS, CMD_PREPARE, CMD_RESUME, CMD_PING, CMD_WATCH };

struct ctl {
	enum cmd cmd;
	int json;
	int use_stdin;
	int verbose;
	const char *sock;
	uint32_t pair;
	int have_pair;
	uint32_t deadline_ms;
	int have_deadline;
	uint8_t path;
	uint32_t timeout_ms;

	struct gc_chan *chan;
	int sent;               /* the one-shot request went out */
	int done;               /* finished: exit with rc */
	int rc;
	uint64_t ping_token;
	char inbuf[STDIN_LINE_MAX];
	size_t inlen;
	int stdin_eof;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* ---- JSON of a message, generated from msgs.def ---------------------------------- */

static double realtime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static json_t *js_str(const char *s, size_t max)
{
	char buf[1025];

	(void)str_escape(buf, sizeof(buf), s, max);
	return json_string(buf);
}

static json_t *js_mac(const uint8_t *m)
{
	char buf[18];

	(void)snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		       m[4], m[5]);
	return json_string(buf);
}

/* NOLINTBEGIN(bugprone-macro-parentheses): these expand to statements */
#define JS_U8(set, attr, f, nest, lim)  json_object_set_new(o, #f, json_integer(v->f));
#define JS_U16(set, attr, f, nest, lim) json_object_set_new(o, #f, json_integer(v->f));
#define JS_U32(set, attr, f, nest, lim) json_object_set_new(o, #f, json_integer(v->f));
#define JS_U64(set, attr, f, nest, lim) \
	json_object_set_new(o, #f, json_integer((json_int_t)v->f));
#define JS_STR(set, attr, f, nest, lim) \
	if (v->f) json_object_set_new(o, #f, js_str(v->f, lim));
#define JS_MAC(set, attr, f, nest, lim) json_object_set_new(o, #f, js_mac(v->f));
#define JS_NEST(set, attr, f, nest, lim) json_object_set_new(o, #f, js_set_##nest(&v->f));
#define JS_NESTN(set, attr, f, nest, lim) { \
		json_t *a = json_array(); \
		for (unsigned i_ = 0; i_ < v->n_##f; i_++) \
			json_array_append_new(a, js_set_##nest(&v->f[i_])); \
		json_object_set_new(o, #f, a); \
	}
#define JS_ATTR_(set, attr, id, kind, f, req, lim, nest, max, text) \
	if (HB_PRESENT(v, set, attr)) { JS_##kind(set, attr, f, nest, lim) }
#define JS_FN_(set, lname, text) \
	static json_t *js_set_##set(const hb_##set##_t *v) \
	{ \
		json_t *o = json_object(); \
		HB_SET_##set(JS_ATTR_) \
		return o; \
	}
HB_SETS(JS_FN_)
#undef JS_FN_
#undef JS_ATTR_
/* NOLINTEND(bugprone-macro-parentheses) */

#define NAME_ENT_(name, val, text) { #name, (val) },
struct name_ent { const char *name; unsigned val; };
static const struct name_ent path_names[] = { HB_PATHS(NAME_ENT_) { NULL, 0 } };
static const struct name_ent event_names[] = { HB_EVENT_KINDS(NAME_ENT_) { NULL, 0 } };
static const struct name_ent cap_names[] = { HB_CAPS(NAME_ENT_) { NULL, 0 } };
#undef NAME_ENT_

static const char *ent_name(const struct name_ent *t, unsigned v)
{
	for (; t->name; t++)
		if (t->val == v)
			return t->name;
	return "UNKNOWN";
}

static json_t *js_caps(uint32_t caps)
{
	json_t *a = json_array();

	for (const struct name_ent *t = cap_names; t->name; t++)
		if (caps & (1u << t->val))
			json_array_append_new(a, json_string(t->name));
	return a;
}

/* Add readable names beside the numbers an operator cannot decode by eye. */
static void js_decorate(json_t *body, const struct hb_msg *m)
{
	const char *pk = NULL;
	json_t *pairs;
	size_t i;
	json_t *p;

	switch (m->type) {
	case HB_MSG_EVENT:
		json_object_set_new(body, "kind_name",
				    json_string(ent_name(event_names, m->u.event.kind)));
		if (HB_PRESENT(&m->u.event, EVENT, ACTIVE))
			pk = "active";
		break;
	case HB_MSG_ERROR:
		json_object_set_new(body, "code_name",
				    json_string(hb_error_code_name(m->u.error.code)));
		break;
	case HB_MSG_SWITCH_DONE:
	case HB_MSG_FAST_PATH_UP:
		pk = "path";
		break;
	case HB_MSG_HELLO:
	case HB_MSG_HELLO_ACK:
		json_object_set_new(body, "caps_names", js_caps(m->u.hello.caps));
		break;
	case HB_MSG_STATUS:
		pairs = json_object_get(body, "pairs");
		for (i = 0; i < json_array_size(pairs); i++) {
			p = json_array_get(pairs, i);
			json_object_set_new(p, "active_name", json_string(ent_name(
				path_names, (unsigned)json_integer_value(json_object_get(p, "active")))));
		}
		break;
	default:
		break;
	}
	if (pk)
		json_object_set_new(body, "path_name", json_string(ent_name(
			path_names, (unsigned)json_integer_value(json_object_get(body, pk)))));
}

/* {"ts":…, "dir":"rx", "type":"EVENT", "seq":7, "reply":false, "body":{…}} */
static json_t *js_msg(const struct hb_msg *m, const char *dir)
{
	json_t *body;

	switch (m->type) {
#define JS_MSG_(name, id, set, field, sender, answer, text) \
	case HB_MSG_##name: body = js_set_##set(&m->u.field); break;
	HB_MESSAGES(JS_MSG_)
#undef JS_MSG_
	default:
		body = json_object();
		break;
	}
	js_decorate(body, m);
	return json_pack("{s:f, s:s, s:s, s:I, s:b, s:o}", "ts", realtime_s(), "dir", dir,
			 "type", hb_msg_name(m->type), "seq", (json_int_t)m->seq, "reply",
			 (m->flags & HB_F_REPLY) != 0, "body", body);
}

static void emit(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(16));

	if (s) {
		(void)puts(s);
		(void)fflush(stdout);
		free(s);
	}
	json_decref(j);
}

/* Text form of a message: "TYPE seq N key=value …" from the same JSON. */
static void print_text_msg(const struct hb_msg *m, const char *prefix)
{
	json_t *j = js_msg(m, "rx");
	char *s = json_dumps(json_object_get(j, "body"), JSON_COMPACT | JSON_SORT_KEYS);

	(void)printf("%s%s seq %u%s %s\n", prefix, hb_msg_name(m->type), m->seq,
		     (m->flags & HB_F_REPLY) ? " (reply)" : "", s ? s : "{}");
	(void)fflush(stdout);
	free(s);
	json_decref(j);
}

static void print_status_text(const struct ctl *x, const struct hb_msg *m)
{
	const struct gc_peer *p = gc_peer(x->chan);
	const hb_STATUS_t *st = &m->u.status;

	if (p)
		(void)printf("guest agent \"%s\", protocol %u.%u, caps %#x\n", p->agent,
			     (unsigned)(p->ver_use >> 8), (unsigned)(p->ver_use & 0xff), p->caps);
	if (!st->n_pairs)
		(void)printf("no failover pairs\n");
	for (unsigned i = 0; i < st->n_pairs; i++) {
		const hb_PAIR_t *pr = &st->pairs[i];
		const hb_IFACE_t *ifs[3] = { &pr->master, &pr->standby,
					      HB_PRESENT(pr, PAIR, VF) ? &pr->vf : NULL };
		static const char *const role[3] = { "master", "standby", "vf" };
		char mac[18], name[65];

		(void)snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", pr->mac[0],
			       pr->mac[1], pr->mac[2], pr->mac[3], pr->mac[4], pr->mac[5]);
		(void)printf("pair %u  mac %s  active %s", pr->id, mac,
			     ent_name(path_names, pr->active));
		if (pr->vf_pci) {
			(void)str_escape(name, sizeof(name), pr->vf_pci, 32);
			(void)printf("  vf_pci %s", name);
		}
		(void)printf("\n");
		for (unsigned k = 0; k < 3; k++) {
			if (!ifs[k]) {
				(void)printf("  %-8s (none)\n", role[k]);
				continue;
			}
			(void)str_escape(name, sizeof(name), ifs[k]->name, 16);
			(void)printf("  %-8s %-15s index %u  %s  carrier %s  rx %llu tx %llu drops %llu\n",
				     role[k], name, ifs[k]->ifindex, ifs[k]->link ? "up" : "down",
				     ifs[k]->carrier ? "on" : "off",
				     (unsigned long long)ifs[k]->rx_packets,
				     (unsigned long long)ifs[k]->tx_packets,
				     (unsigned long long)ifs[k]->drops);
		}
	}
	(void)fflush(stdout);
}

/* ---- callbacks ---------------------------------------------------------------- */

static void finish(struct ctl *x, int rc)
{
	x->done = 1;
	x->rc = rc;
}

static const char *req_name(uint16_t type)
{
	switch (type) {
	case HB_MSG_PREPARE_SWITCH: return "prepare";
	case HB_MSG_RESUME_FAST_PATH: return "resume";
	case HB_MSG_PING: return "ping";
	case HB_MSG_STATUS: return "status";
	default: return hb_msg_name(type);
	}
}

/* Whether an answer means success for the operator. */
static int answer_ok(const struct hb_msg *ans, char *why, size_t n)
{
	if (ans->type == HB_MSG_ERROR) {
		char t[256 * 4 + 1];

		(void)str_escape(t, sizeof(t), ans->u.error.text, 256);
		(void)snprintf(why, n, "guest answered ERROR %s%s%s",
			       hb_error_code_name(ans->u.error.code), t[0] ? ": " : "", t);
		return 0;
	}
	if (ans->type == HB_MSG_FAST_PATH_UP && ans->u.fast_path_up.path != HB_PATH_FAST) {
		(void)snprintf(why, n, "the fast path did not come up: pair %u stays on %s",
			       ans->u.fast_path_up.pair_id,
			       ent_name(path_names, ans->u.fast_path_up.path));
		return 0;
	}
	return 1;
}

static void on_answer(void *arg, const struct gc_request *req, const struct hb_msg *ans,
		      enum gc_result res)
{
	struct ctl *x = arg;
	uint64_t now = gc_now_ms();
	char why[1400] = "";
	int ok = 0;

	if (res == GC_ANSWERED)
		ok = answer_ok(ans, why, sizeof(why));
	else if (res == GC_TIMEOUT)
		(void)snprintf(why, sizeof(why), "no answer within %llu ms",
			       (unsigned long long)(req->deadline_ms - req->sent_ms));
	else
		(void)snprintf(why, sizeof(why), "the channel closed or the guest restarted "
			       "its session before answering");
	if (x->cmd == CMD_WATCH) {
		json_t *j = json_pack("{s:f, s:s, s:I, s:b, s:I}", "ts", realtime_s(), "result",
				      req_name(req->type), "seq", (json_int_t)req->seq, "ok", ok,
				      "elapsed_ms", (json_int_t)(now - req->sent_ms));

		if (ans)
			json_object_set_new(j, "answer", js_msg(ans, "rx"));
		if (!ok)
			json_object_set_new(j, "error", json_string(why));
		if (x->json) {
			emit(j);
		} else {
			(void)printf("%s: %s (%llu ms)%s%s\n", req_name(req->type),
				     ok ? "ok" : "FAILED",
				     (unsigned long long)(now - req->sent_ms), ok ? "" : ": ",
				     ok ? "" : why);
			(void)fflush(stdout);
			json_decref(j);
		}
		return;
	}
	if (!ok) {
		(void)fprintf(stderr, "hybond-guestctl: %s (pair %u) on %s: %s\n",
			      req_name(req->type), x->pair, x->sock, why);
		finish(x, EXIT_FAIL);
		return;
	}
	if (x->cmd == CMD_STATUS)
		return;         /* printed by on_message */
	if (x->cmd == CMD_PING && ans->u.pong.token != x->ping_token) {
		(void)fprintf(stderr, "hybond-guestctl: PONG token %#llx, sent %#llx\n",
			      (unsigned long long)ans->u.pong.token,
			      (unsigned long long)x->ping_token);
		finish(x, EXIT_FAIL);
		return;
	}
	if (x->json) {
		json_t *j = js_msg(ans, "rx");

		json_object_set_new(j, "elapsed_ms", json_integer((json_int_t)(now - req->sent_ms)));
		emit(j);
	} else {
		print_text_msg(ans, "");
	}
	finish(x, 0);
}

static void on_message(void *arg, const struct hb_msg *m)
{
	struct ctl *x = arg;

	if (x->cmd == CMD_WATCH) {
		if (x->json)
			emit(js_msg(m, "rx"));
		else
			print_text_msg(m, "");
		return;
	}
	if (x->cmd == CMD_STATUS && m->type == HB_MSG_STATUS && gc_session_up(x->chan)) {
		if (x->json) {
			const struct gc_peer *p = gc_peer(x->chan);
			json_t *j = js_msg(m, "rx");

			char ver[16];

			(void)snprintf(ver, sizeof(ver), "%u.%u", (unsigned)(p->ver_use >> 8),
				       (unsigned)(p->ver_use & 0xff));
			json_object_set_new(j, "guest", json_pack(
				"{s:s, s:I, s:o, s:s}", "agent", p->agent, "caps",
				(json_int_t)p->caps, "caps_names", js_caps(p->caps), "version", ver));
			emit(j);
		} else {
			print_status_text(x, m);
		}
		finish(x, 0);
	}
}

static void send_request(struct ctl *x, enum cmd cmd, uint32_t pair, uint32_t deadline_ms,
			 uint8_t path)
{
	uint64_t now = gc_now_ms();
	int rc = -EINVAL;

	switch (cmd) {
	case CMD_STATUS:
		rc = gc_status(x->chan, NULL, now);
		break;
	case CMD_PREPARE:
		rc = gc_prepare_switch(x->chan, pair, path, deadline_ms, NULL, now);
		break;
	case CMD_RESUME:
		rc = gc_resume_fast_path(x->chan, pair, deadline_ms, NULL, now);
		break;
	case CMD_PING:
		x->ping_token = ((uint64_t)getpid() << 32) ^ now;
		rc = gc_ping(x->chan, x->ping_token, NULL, now);
		break;
	default:
		break;
	}
	if (rc < 0) {
		if (x->cmd == CMD_WATCH) {
			emit(json_pack("{s:f, s:s, s:b, s:s}", "ts", realtime_s(), "result",
				       "send", "ok", 0, "error", strerror(-rc)));
			return;
		}
		(void)fprintf(stderr, "hybond-guestctl: cannot send to %s: %s\n", x->sock,
			      strerror(-rc));
		finish(x, EXIT_FAIL);
	}
}

static void on_session(void *arg, int up)
{
	struct ctl *x = arg;

	if (x->cmd == CMD_WATCH) {
		const struct gc_peer *p = gc_peer(x->chan);
		json_t *j = json_pack("{s:f, s:s}", "ts", realtime_s(), "session",
				      up ? "up" : "down");

		if (up && p) {
			json_object_set_new(j, "agent", json_string(p->agent));
			json_object_set_new(j, "caps", json_integer(p->caps));
			json_object_set_new(j, "caps_names", js_caps(p->caps));
			json_object_set_new(j, "ver_use", json_integer(p->ver_use));
		}
		if (x->json) {
			emit(j);
		} else {
			(void)printf("session %s%s%s\n", up ? "up" : "down", up && p ? ": " : "",
				     up && p ? p->agent : "");
			(void)fflush(stdout);
			json_decref(j);
		}
		return;
	}
	if (up && !x->sent) {
		x->sent = 1;
		send_request(x, x->cmd, x->pair, x->deadline_ms, x->path);
	}
}

static void on_log(void *arg, enum gc_log_prio prio, const char *line)
{
	const struct ctl *x = arg;

	if (prio >= GC_LOG_WARN || x->verbose > (prio == GC_LOG_DEBUG))
		(void)fprintf(stderr, "hybond-guestctl: %s\n", line);
}

/* ---- watch --stdin: one command per line ------------------------------------------------ */

static int parse_u32(const char *s, uint32_t *v)
{
	char *end;
	unsigned long n;

	if (!s || !*s)
		return -1;
	errno = 0;
	n = strtoul(s, &end, 10);
	if (errno || *end || n > UINT32_MAX)
		return -1;
	*v = (uint32_t)n;
	return 0;
}

static void stdin_command(struct ctl *x, char *line)
{
	char *save = NULL;
	char *w = strtok_r(line, " \t", &save);
	char *a1 = w ? strtok_r(NULL, " \t", &save) : NULL;
	char *a2 = a1 ? strtok_r(NULL, " \t", &save) : NULL;
	char *a3 = a2 ? strtok_r(NULL, " \t", &save) : NULL;
	uint32_t pair = 0, dl = 0;

	if (!w || w[0] == '#')
		return;
	if (!strcmp(w, "quit")) {
		finish(x, 0);
	} else if (!strcmp(w, "ping")) {
		send_request(x, CMD_PING, 0, 0, 0);
	} else if (!strcmp(w, "status")) {
		send_request(x, CMD_STATUS, 0, 0, 0);
	} else if (!strcmp(w, "connect") && a1) {
		int rc = gc_set_path(x->chan, a1);

		gc_disconnect(x->chan, gc_now_ms());
		if (rc == 0)
			rc = gc_connect(x->chan, gc_now_ms());
		emit(json_pack("{s:f, s:s, s:s, s:b}", "ts", realtime_s(), "result", "connect",
			       "sock", a1, "ok", rc == 0));
	} else if ((!strcmp(w, "prepare") || !strcmp(w, "resume")) && parse_u32(a1, &pair) == 0) {
		int prep = w[0] == 'p';
		uint8_t path = HB_PATH_STANDBY;

		dl = prep ? PREPARE_DEADLINE_MS_DEF : RESUME_DEADLINE_MS_DEF;
		if (a2 && parse_u32(a2, &dl) < 0)
			goto bad;
		if (a3 && !strcmp(a3, "fast"))
			path = HB_PATH_FAST;
		else if (a3 && strcmp(a3, "standby") != 0)
			goto bad;
		send_request(x, prep ? CMD_PREPARE : CMD_RESUME, pair, dl, path);
	} else {
		goto bad;
	}
	return;
bad:
	emit(json_pack("{s:f, s:s, s:b, s:s}", "ts", realtime_s(), "result", "parse", "ok", 0,
		       "error", "commands: prepare PAIR [DEADLINE_MS] [standby|fast] | resume PAIR "
		       "[DEADLINE_MS] | ping | status | connect SOCK | quit"));
}

static void read_stdin(struct ctl *x)
{
	ssize_t n = read(STDIN_FILENO, x->inbuf + x->inlen, sizeof(x->inbuf) - 1 - x->inlen);
	char *nl;

	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return;
		x->stdin_eof = 1;
		finish(x, 0);
		return;
	}
	x->inlen += (size_t)n;
	x->inbuf[x->inlen] = '\0';
	while ((nl = memchr(x->inbuf, '\n', x->inlen)) != NULL) {
		size_t len = (size_t)(nl - x->inbuf) + 1;

		*nl = '\0';
		stdin_command(x, x->inbuf);
		memmove(x->inbuf, x->inbuf + len, x->inlen - len);
		x->inlen -= len;
	}
	if (x->inlen == sizeof(x->inbuf) - 1)
		x->inlen = 0;   /* an over-long line: drop it */
}

/* ---- main loop ------------------------------------------------------------------------ */

static int run(struct ctl *x)
{
	uint64_t start = gc_now_ms();
	int rc;

	/* a missing socket (QEMU not started yet) is retried until the timeout */
	rc = gc_connect(x->chan, start);
	if (rc < 0 && x->verbose)
		(void)fprintf(stderr, "hybond-guestctl: connect %s: %s (retrying)\n", x->sock,
			      strerror(-rc));
	while (!x->done && !stop_signal) {
		struct pollfd p[2];
		nfds_t n = 0;
		uint64_t now = gc_now_ms();
		int t = gc_timeout_ms(x->chan, now);

		if (x->cmd != CMD_WATCH && !x->sent) {
			uint64_t end = start + x->timeout_ms;

			if (now >= end) {
				(void)fprintf(stderr, "hybond-guestctl: %s: %s within %u ms\n",
					      x->sock, gc_connected(x->chan)
					      ? "no session with the guest agent (no HELLO; is the "
						"agent running, or does another client hold the socket?)"
					      : "cannot connect", x->timeout_ms);
				return EXIT_FAIL;
			}
			if (t < 0 || (uint64_t)t > end - now)
				t = (int)(end - now);
		}
		if (x->cmd == CMD_STATUS && x->sent && !x->done && t < 0)
			t = 1000;
		if (gc_fd(x->chan) >= 0) {
			p[n].fd = gc_fd(x->chan);
			p[n].events = POLLIN | (gc_want_write(x->chan) ? POLLOUT : 0);
			p[n++].revents = 0;
		}
		if (x->use_stdin && !x->stdin_eof) {
			p[n].fd = STDIN_FILENO;
			p[n].events = POLLIN;
			p[n++].revents = 0;
		}
		rc = poll(p, n, t);
		if (rc < 0 && errno != EINTR) {
			(void)fprintf(stderr, "hybond-guestctl: poll: %s\n", strerror(errno));
			return EXIT_FAIL;
		}
		now = gc_now_ms();
		for (nfds_t i = 0; rc > 0 && i < n; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == STDIN_FILENO)
				read_stdin(x);
			else
				(void)gc_handle_io(x->chan, (unsigned)p[i].revents, now);
		}
		gc_tick(x->chan, now);
		if (x->cmd != CMD_WATCH && x->sent && !gc_connected(x->chan) && !x->done) {
			(void)fprintf(stderr, "hybond-guestctl: %s: the channel closed\n", x->sock);
			return EXIT_FAIL;
		}
	}
	return x->done ? x->rc : 0;
}

static void usage(FILE *f)
{
	(void)fputs(
		"usage: hybond-guestctl --sock PATH [options] COMMAND\n"
		"commands:\n"
		"  status                      wait for HELLO and the first STATUS, print it\n"
		"  prepare --pair N            PREPARE_SWITCH to the standby, wait SWITCH_DONE\n"
		"  resume --pair N             RESUME_FAST_PATH, wait FAST_PATH_UP\n"
		"  ping                        PING, wait PONG\n"
		"  watch                       print every message (JSON lines with -j); with\n"
		"                              --stdin also run commands read from stdin\n"
		"options:\n"
		"  -s, --sock PATH             the VM's org.hybond.0 chardev socket\n"
		"  -p, --pair N                failover pair id\n"
		"  -d, --deadline-ms MS        guest deadline (prepare 2000, resume 10000)\n"
		"      --path standby|fast     prepare: target path (default standby)\n"
		"  -t, --timeout-ms MS         wait this long for the session (default 5000)\n"
		"  -j, --json                  JSON output\n"
		"      --stdin                 watch: read commands from stdin\n"
		"  -v, --verbose               log the channel's info messages\n"
		"      --version               print the version and exit\n"
		"Exit status: 0 ok, 1 ERROR answer, timeout or closed channel, 2 usage.\n", f);
}

static int parse_args(struct ctl *x, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sock", required_argument, NULL, 's' },
		{ "pair", required_argument, NULL, 'p' },
		{ "deadline-ms", required_argument, NULL, 'd' },
		{ "path", required_argument, NULL, 'P' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "stdin", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct { const char *name; enum cmd cmd; } cmds[] = {
		{ "status", CMD_STATUS }, { "prepare", CMD_PREPARE }, { "resume", CMD_RESUME },
		{ "ping", CMD_PING }, { "watch", CMD_WATCH },
	};
	int c;

	x->timeout_ms = SESSION_TIMEOUT_MS_DEF;
	while ((c = getopt_long(argc, argv, "s:p:d:t:jvh", opts, NULL)) != -1) {
		switch (c) {
		case 's': x->sock = optarg; break;
		case 'p':
			if (parse_u32(optarg, &x->pair) < 0)
				goto bad_val;
			x->have_pair = 1;
			break;
		case 'd':
			if (parse_u32(optarg, &x->deadline_ms) < 0 || x->deadline_ms > 3600000)
				goto bad_val;
			x->have_deadline = 1;
			break;
		case 't':
			if (parse_u32(optarg, &x->timeout_ms) < 0 || x->timeout_ms > 3600000)
				goto bad_val;
			break;
		case 'P':
			if (!strcmp(optarg, "standby"))
				x->path = HB_PATH_STANDBY;
			else if (!strcmp(optarg, "fast"))
				x->path = HB_PATH_FAST;
			else
				goto bad_val;
			break;
		case 'j': x->json = 1; break;
		case 'S': x->use_stdin = 1; break;
		case 'v': x->verbose++; break;
		case 'h': usage(stdout); exit(0);
		case 'V': (void)printf("hybond-guestctl %s\n", HYBOND_VERSION); exit(0);
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		(void)fprintf(stderr, "hybond-guestctl: exactly one command expected (see --help)\n");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[optind], cmds[i].name))
			x->cmd = cmds[i].cmd;
	if (x->cmd == CMD_NONE) {
		(void)fprintf(stderr, "hybond-guestctl: unknown command '%s' (see --help)\n",
			      argv[optind]);
		return EXIT_USAGE;
	}
	if (!x->sock) {
		(void)fprintf(stderr, "hybond-guestctl: --sock PATH is required\n");
		return EXIT_USAGE;
	}
	if ((x->cmd == CMD_PREPARE || x->cmd == CMD_RESUME) && !x->have_pair) {
		(void)fprintf(stderr, "hybond-guestctl %s: --pair N is required\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (x->use_stdin && x->cmd != CMD_WATCH) {
		(void)fprintf(stderr, "hybond-guestctl: --stdin only with watch\n");
		return EXIT_USAGE;
	}
	if (!x->have_deadline)
		x->deadline_ms = x->cmd == CMD_RESUME ? RESUME_DEADLINE_MS_DEF
						     : PREPARE_DEADLINE_MS_DEF;
	return 0;
bad_val:
	(void)fprintf(stderr, "hybond-guestctl: invalid value '%s' for an option\n", optarg);
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct ctl x;
	struct gc_config cfg;
	struct gc_ops ops = { .on_message = on_message, .on_answer = on_answer,
			      .on_session = on_session, .on_log = on_log };
	struct sigaction sa;
	int rc;

	memset(&x, 0, sizeof(x));
	rc = parse_args(&x, argc, argv);
	if (rc)
		return rc;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
	memset(&cfg, 0, sizeof(cfg));
	cfg.name = x.sock;
	cfg.path = x.sock;
	cfg.caps = 0;
	x.chan = gc_new(&cfg, &ops, &x);
	if (!x.chan) {
		(void)fprintf(stderr, "hybond-guestctl: %s: %s\n", x.sock, strerror(errno));
		return EXIT_FAIL;
	}
	rc = run(&x);
	gc_free(x.chan);
	return rc;
}
