// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/libvirt-hook/libvirt_hook.c — hybond-libvirt-hook, installed as
 * /etc/libvirt/hooks/qemu.d/hybond.  libvirt runs it as
 *
 *     hybond DOMAIN OPERATION SUBOP EXTRA   < domain XML
 *
 * and waits for it, holding the domain's job: so it must NEVER call libvirt (that is
 * a deadlock) and must never make a VM wait on hybond.  It tells hybond-hostd what
 * happened with ONE JSON line on the control socket:
 *
 *     {"cmd":"libvirt-hook","domain":D,"op":OP,"sub":SUBOP,"uuid":U,"xml":"<domain…>"}
 *
 * - "migrate" (incoming, on the destination; libvirt takes a non-empty stdout as the
 *   new domain XML): waits for the answer, at most migrate_timeout_ms.
 *   {"ok":true,"xml":X} prints X; {"ok":true} prints nothing;
 *   {"ok":false,"error":E,"refuse":true} prints E on stderr and exits 1 (libvirt aborts
 *   the migration: the daemon's hard refusals only).  Any other error (no daemon, a
 *   timeout, garbage, {"ok":false} without "refuse", a domain XML longer than the
 *   daemon's request line): a warning, nothing on stdout, exit 0 — the migration goes
 *   on in plain QEMU order and the daemons react on their own.
 * - every other operation: connect + write within HOOK_EVENT_MS, no answer awaited,
 *   exit 0 whatever happens (a VM must start even when hybond is down).
 * - a domain without the hybond channel and metadata: exit 0 at once, nobody asked.
 *
 * Configuration: /etc/hybond/hook.conf (HYBOND_HOOK_CONF), key=value lines
 * ctl_socket= and migrate_timeout_ms=; HYBOND_CTL_SOCKET overrides the socket.
 * Messages go to stderr with the "hybond-hook:" prefix (libvirt logs them, and shows
 * them to the operator when the hook fails).  See hybond-libvirt-hook.8.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host-agent/hostd/ctl/ctl.h"
#include "host-agent/hostd/hv/lv_xml.h"
#include <hybond/version.h>

#define HOOK_CONF_DEFAULT     "/etc/hybond/hook.conf"
#define HOOK_CTL_DEFAULT      "/run/hybond/hostd.sock"
#define HOOK_MIGRATE_MS       15000             /* default migrate_timeout_ms */
#define HOOK_MIGRATE_MS_MIN   100
#define HOOK_MIGRATE_MS_MAX   600000
#define HOOK_EVENT_MS         1000              /* connect + write for the other ops */
#define HOOK_STDIN_MAX        LV_XML_MAX
#define HOOK_ANSWER_MAX       (2u * LV_XML_MAX + 4096u)   /* the XML, JSON-escaped */
#define HOOK_CONF_LINE_MAX    512

struct hook {
	const char *domain, *op, *sub;
	char ctl_socket[sizeof(((struct sockaddr_un *)0)->sun_path)];
	long migrate_ms;
	int64_t deadline_ms;
};

__attribute__((format(printf, 2, 3)))
static void say(const struct hook *h, const char *fmt, ...)
{
	va_list ap;

	(void)fprintf(stderr, "hybond-hook: %s %s: ", h->domain, h->op);
	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): false positive (va_start above) */
	(void)vfprintf(stderr, fmt, ap);
	va_end(ap);
	(void)fputc('\n', stderr);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(const struct hook *h)
{
	int64_t l = h->deadline_ms - now_ms();

	return l < 0 ? 0 : (int)l;
}

static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* key=value lines; a missing file is the defaults, a bad line a warning */
static void read_conf(struct hook *h, const char *path)
{
	char line[HOOK_CONF_LINE_MAX];
	FILE *f = fopen(path, "re");
	int no = 0;

	if (!f) {
		if (errno != ENOENT)
			say(h, "%s: %s (defaults used)", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		char *k = trim(line), *v = strchr(k, '='), *end;
		long ms;

		no++;
		if (!*k || *k == '#')
			continue;
		if (!v) {
			say(h, "%s:%d: not key=value (ignored)", path, no);
			continue;
		}
		*v++ = '\0';
		k = trim(k);
		v = trim(v);
		if (!strcmp(k, "ctl_socket")) {
			if (!v[0] || strlen(v) >= sizeof(h->ctl_socket))
				say(h, "%s:%d: ctl_socket: empty or longer than a unix socket path "
				    "(ignored)", path, no);
			else
				(void)snprintf(h->ctl_socket, sizeof(h->ctl_socket), "%s", v);
		} else if (!strcmp(k, "migrate_timeout_ms")) {
			errno = 0;
			ms = strtol(v, &end, 10);
			if (errno || end == v || *end || ms < HOOK_MIGRATE_MS_MIN ||
			    ms > HOOK_MIGRATE_MS_MAX)
				say(h, "%s:%d: migrate_timeout_ms=%s: want %d to %d (ignored)", path, no,
				    v, HOOK_MIGRATE_MS_MIN, HOOK_MIGRATE_MS_MAX);
			else
				h->migrate_ms = ms;
		} else {
			say(h, "%s:%d: unknown key '%s' (ignored)", path, no, k);
		}
	}
	(void)fclose(f);
}

/* Read stdin to its end: libvirt treats a hook that leaves its input unread (EPIPE)
 * as failed, and a failed migrate hook aborts the migration. */
static void drain_stdin(char *scratch, size_t size)
{
	ssize_t n;

	do
		n = read(STDIN_FILENO, scratch, size);
	while (n > 0 || (n < 0 && errno == EINTR));
}

/* All of stdin, NUL-terminated; NULL (and a message) when too big or unreadable. */
static char *read_stdin(const struct hook *h)
{
	size_t cap = (size_t)64 * 1024, len = 0;
	char *buf = malloc(cap), *nb;
	ssize_t n;

	if (!buf)
		return NULL;
	for (;;) {
		if (len + 1 == cap) {
			if (len > HOOK_STDIN_MAX) {
				say(h, "domain XML on stdin is larger than %u bytes: ignored",
				    HOOK_STDIN_MAX);
				drain_stdin(buf, cap);
				break;
			}
			cap = cap * 2 > HOOK_STDIN_MAX + 2 ? HOOK_STDIN_MAX + 2 : cap * 2;
			nb = realloc(buf, cap);
			if (!nb)
				break;
			buf = nb;
		}
		n = read(STDIN_FILENO, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			say(h, "reading the domain XML from stdin: %s", strerror(errno));
			break;
		}
		if (n == 0) {
			buf[len] = '\0';
			return buf;
		}
		len += (size_t)n;
	}
	free(buf);
	return NULL;
}

/* Wait for `events` on fd until the deadline: 1 ready, 0 timeout, <0 error. */
static int wait_fd(const struct hook *h, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int rc;

	do
		rc = poll(&p, 1, left_ms(h));
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? -errno : rc;
}

/* Connect to the control socket and write the line, both within the deadline. */
static int send_request(const struct hook *h, const char *line, int *out_fd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(line), off = 0;
	int fd, rc;

	memcpy(sa.sun_path, h->ctl_socket, strlen(h->ctl_socket) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* a full backlog: EAGAIN on unix sockets; wait for it within the bound */
		if (errno != EAGAIN && errno != EINPROGRESS) {
			rc = -errno;
			goto fail;
		}
		if ((rc = wait_fd(h, fd, POLLOUT)) <= 0) {
			rc = rc ? rc : -ETIMEDOUT;
			goto fail;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EISCONN) {
			rc = -errno;
			goto fail;
		}
	}
	while (off < len) {
		ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);

		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			rc = -errno;
			goto fail;
		}
		if ((rc = wait_fd(h, fd, POLLOUT)) <= 0) {
			rc = rc ? rc : -ETIMEDOUT;
			goto fail;
		}
	}
	*out_fd = fd;
	return 0;
fail:
	(void)close(fd);
	return rc;
}

/* The final answer (progress lines skipped) within the deadline, or NULL + why. */
static json_t *read_answer(const struct hook *h, int fd, const char **why)
{
	size_t cap = (size_t)64 * 1024, len = 0, start = 0;
	char *buf = malloc(cap), *nl, *nb;
	json_t *o = NULL;
	ssize_t n;
	int rc;

	*why = "out of memory";
	if (!buf)
		return NULL;
	for (;;) {
		while ((nl = memchr(buf + start, '\n', len - start))) {
			o = json_loadb(buf + start, (size_t)(nl - buf - start), 0, NULL);
			start = (size_t)(nl - buf) + 1;
			if (!json_is_object(o)) {
				json_decref(o);
				o = NULL;
				*why = "an answer line that is not a JSON object";
				goto out;
			}
			if (!json_object_get(o, "progress"))
				goto out;
			json_decref(o);         /* progress: the final answer follows */
			o = NULL;
		}
		if (len == cap - 1) {
			if (cap >= HOOK_ANSWER_MAX) {
				*why = "an answer larger than the limit";
				goto out;
			}
			nb = realloc(buf, cap * 2);
			if (!nb)
				goto out;
			buf = nb;
			cap *= 2;
		}
		if ((rc = wait_fd(h, fd, POLLIN)) <= 0) {
			*why = rc ? "poll failed" : "no answer in time";
			goto out;
		}
		n = recv(fd, buf + len, cap - 1 - len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			*why = n ? strerror(errno) : "the daemon closed the connection without an answer";
			goto out;
		}
		len += (size_t)n;
	}
out:
	free(buf);
	return o;
}

/* The daemon's XML must still be this domain: libvirt would abort on anything else. */
static int answer_xml_ok(const struct hook *h, const struct lv_domain *d, const char *xml)
{
	struct lv_domain *n = calloc(1, sizeof(*n));
	char err[256];
	int ok = 0;

	if (!n)
		return 0;
	if (lv_domain_parse(xml, n, err, sizeof(err)) < 0)
		say(h, "hybond-hostd answered a domain XML that does not parse (%s): ignored, "
		    "the migration goes on with libvirt's XML", err);
	else if (strcmp(n->name, d->name) != 0 || strcmp(n->uuid, d->uuid) != 0)
		say(h, "hybond-hostd answered the XML of another domain (%s %s): ignored, the "
		    "migration goes on with libvirt's XML", n->name, n->uuid);
	else
		ok = 1;
	free(n);
	return ok;
}

/* migrate: exit status for libvirt (0 go on, 1 abort); the new XML on stdout if any */
static int migrate_answer(const struct hook *h, const struct lv_domain *d, int fd)
{
	const char *why, *xml, *e;
	json_t *o = read_answer(h, fd, &why);
	int rc = 0;

	if (!o) {
		say(h, "%s from hybond-hostd (%s) within %ld ms: the migration goes on in plain "
		    "QEMU order", why, h->ctl_socket, h->migrate_ms);
		return 0;
	}
	xml = json_string_value(json_object_get(o, "xml"));
	if (json_is_true(json_object_get(o, "ok"))) {
		if (xml && xml[0] && answer_xml_ok(h, d, xml) &&
		    (fputs(xml, stdout) < 0 || fflush(stdout) != 0))
			say(h, "writing the new domain XML to stdout: %s", strerror(errno));
	} else if (json_is_false(json_object_get(o, "ok"))) {
		e = json_string_value(json_object_get(o, "error"));
		if (json_is_true(json_object_get(o, "refuse"))) {
			say(h, "hybond-hostd refuses this migration: %s", e ? e : "(no reason given)");
			rc = 1;
		} else {
			say(h, "hybond-hostd: %s: the migration goes on in plain QEMU order",
			    e ? e : "(no reason given)");
		}
	} else {
		say(h, "hybond-hostd answered without \"ok\": ignored, the migration goes on in "
		    "plain QEMU order");
	}
	json_decref(o);
	return rc;
}

int main(int argc, char **argv)
{
	struct hook h = { .migrate_ms = HOOK_MIGRATE_MS };
	struct lv_domain *d = NULL;
	const char *conf = getenv("HYBOND_HOOK_CONF"), *env_sock = getenv("HYBOND_CTL_SOCKET");
	char *xml = NULL, *line = NULL, *nl, err[256];
	json_t *req;
	int migrate, fd = -1, rc = 0, r;

	if (argc == 2 && !strcmp(argv[1], "--version")) {
		(void)printf("hybond-libvirt-hook %s\n", HYBOND_VERSION);
		return 0;
	}
	if (argc < 4) {
		(void)fprintf(stderr, "usage: hybond-libvirt-hook DOMAIN OPERATION SUBOP [EXTRA] "
			      "< domain.xml\n(libvirt's qemu hook: install as "
			      "/etc/libvirt/hooks/qemu.d/hybond)\n");
		return 2;
	}
	h.domain = argv[1];
	h.op = argv[2];
	h.sub = argv[3];
	migrate = !strcmp(h.op, "migrate");
	(void)snprintf(h.ctl_socket, sizeof(h.ctl_socket), "%s", HOOK_CTL_DEFAULT);
	read_conf(&h, conf && conf[0] ? conf : HOOK_CONF_DEFAULT);
	if (env_sock && env_sock[0]) {
		if (strlen(env_sock) >= sizeof(h.ctl_socket))
			say(&h, "HYBOND_CTL_SOCKET is longer than a unix socket path: ignored");
		else
			(void)snprintf(h.ctl_socket, sizeof(h.ctl_socket), "%s", env_sock);
	}
	h.deadline_ms = now_ms() + (migrate ? h.migrate_ms : HOOK_EVENT_MS);

	xml = read_stdin(&h);
	d = calloc(1, sizeof(*d));
	if (!xml || !d)
		goto out;
	if (lv_domain_parse(xml, d, err, sizeof(err)) < 0) {
		say(&h, "the domain XML does not parse (%s): hybond ignores this event", err);
		goto out;
	}
	if (!lv_domain_is_hybond(d))
		goto out;               /* not ours: nobody is contacted */
	req = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "cmd", "libvirt-hook", "domain", h.domain,
			"op", h.op, "sub", h.sub, "uuid", d->uuid, "xml", xml);
	line = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!line || !(nl = malloc(strlen(line) + 2))) {
		say(&h, "out of memory (or arguments that are not UTF-8)");
		goto out;
	}
	(void)snprintf(nl, strlen(line) + 2, "%s\n", line);
	free(line);
	line = nl;
	if (strlen(line) > (size_t)CTL_LINE_MAX) {
		say(&h, "the domain XML makes a request of %zu bytes, hybond-hostd takes %u: %s",
		    strlen(line), CTL_LINE_MAX, migrate ? "the migration goes on in plain QEMU "
		    "order" : "hybond learns of this when it looks");
		goto out;
	}
	if ((r = send_request(&h, line, &fd)) < 0) {
		say(&h, "hybond-hostd at %s: %s (%s)", h.ctl_socket, strerror(-r),
		    migrate ? "the migration goes on in plain QEMU order" :
		    "hybond learns of this when it looks");
		goto out;
	}
	if (migrate)
		rc = migrate_answer(&h, d, fd);
out:
	if (fd >= 0)
		(void)close(fd);
	free(line);
	free(xml);
	free(d);
	return rc;
}
