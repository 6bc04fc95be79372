// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/test_sentry.c — the sentries (host-agent/hostd/sentry/sentry*.c): the
 * sandbox as the kernel shows it (guest and peer role; a SCHED_FIFO daemon's peer
 * sentry), a system call outside the filter kills it, a guest channel read through it, a
 * sentry that dies or lies is replaced and the channel reconnects (the peer channel
 * through it: test_peer_tls.c). This binary is its own sentry (re-executed with SENTRY_ARG, as the daemon).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/cu_run.h"

#include "host-agent/common/loop.h"
#include "host-agent/hostd/sentry/sentry.h"

static struct loop *L;
static int session_up, answers;

static void quit_cb(void *arg)
{
	loop_quit(arg);
}

static void pump(unsigned ms)
{
	struct loop_timer *t = loop_timer_new(L, quit_cb, L);

	for (unsigned i = 0; i < ms; i += 5) {
		(void)loop_timer_arm(t, 5);
		(void)loop_run(L);
	}
	loop_timer_free(t);
}

/* The line of /proc/PID/FILE that starts with @key, what follows the key and one
 * separator; "" when absent. */
static void proc_field(pid_t pid, const char *file, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	out[0] = 0;
	(void)snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key))) {
			(void)snprintf(out, len, "%s", line + strlen(key) + 1);
			out[strcspn(out, "\n")] = 0;
			break;
		}
	(void)fclose(f);
}

/* A line of /proc/PID/status ("Seccomp:"), its value; "" when absent. */
static void status_field(pid_t pid, const char *key, char *out, size_t len)
{
	proc_field(pid, "status", key, out, len);
}

static struct sentry *start_as(enum sentry_role role)
{
	char err[512];
	struct sentry *s = sentry_start(L, "nobody", role, err, sizeof(err));

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

static struct sentry *start(void)
{
	return start_as(SENTRY_GUESTS);
}

/* Wait until the sentry has entered its sandbox (after its exec): 1 when it did. */
static int sandboxed(pid_t pid)
{
	char v[64];

	for (int i = 0; i < 400; i++) {
		status_field(pid, "Seccomp:", v, sizeof(v));
		if (!strcmp(v + strspn(v, "\t "), "2"))
			return 1;
		pump(5);
	}
	return 0;
}

/* @role's sentry in its sandbox; the guest sentry at nice 10, the peer sentry at the
 * daemon's (MIGRATE_STOPPED passes through it) */
static void sandbox(enum sentry_role role)
{
	struct sentry *s;
	char v[128];
	pid_t pid;

	L = loop_new();
	s = start_as(role);
	pid = sentry_pid(s);
	CU_ASSERT_TRUE_FATAL(pid > 0);
	CU_ASSERT_TRUE(sandboxed(pid));
	{
		char path[64], stat[512];
		FILE *f;
		int nice = -100;

		/* /proc/PID/stat field 19: nice; 41: policy (0 = SCHED_OTHER) */
		(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (f && fgets(stat, sizeof(stat), f)) {
			const char *p = strrchr(stat, ')');
			int field = 2;

			for (; p && *p; p++)
				if (*p == ' ' && ++field == 19)
					nice = atoi(p + 1);
		}
		if (f)
			(void)fclose(f);
		errno = 0;
		CU_ASSERT_EQUAL(nice, role == SENTRY_GUESTS ? 10 : getpriority(PRIO_PROCESS, 0));
	}
	status_field(pid, "NoNewPrivs:", v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v + strspn(v, "\t "), "1");
	status_field(pid, "CapEff:", v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v + strspn(v, "\t "), "0000000000000000");
	if (geteuid() == 0) {
		/* root's child: its own uid, nothing left in the bounding set */
		status_field(pid, "Uid:", v, sizeof(v));
		CU_ASSERT_EQUAL(atoi(v + strspn(v, "\t ")), 65534);
		status_field(pid, "CapBnd:", v, sizeof(v));
		CU_ASSERT_STRING_EQUAL(v + strspn(v, "\t "), "0000000000000000");
		status_field(pid, "Groups:", v, sizeof(v));
		CU_ASSERT_STRING_EQUAL(v + strspn(v, "\t "), "");
	}
	sentry_stop(s);
	loop_free(L);
}

/* A limit's line of /proc/PID/limits ("Max realtime timeout"): "SOFT HARD" or "". */
static void limit_field(pid_t pid, const char *key, char *out, size_t len)
{
	char line[256];
	unsigned long long soft = 0, hard = 0;

	proc_field(pid, "limits", key, line, sizeof(line));
	out[0] = 0;
	if (sscanf(line, "%llu %llu", &soft, &hard) == 2)
		(void)snprintf(out, len, "%llu %llu", soft, hard);
}

/* A SCHED_FIFO daemon (sched_fifo; its RESET_ON_FORK as main.c sets it): the guest sentry
 * SCHED_OTHER at nice 10, the peer sentry SCHED_FIFO at the daemon's priority with
 * RLIMIT_RTTIME. Root only (CAP_SYS_NICE). */
static void fifo_daemon(void)
{
	struct sched_param sp = { .sched_priority = 3 }, none = { 0 };
	struct sentry *g, *p;
	char v[64];

	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp) < 0) {
		(void)fprintf(stderr, "\n(SCHED_FIFO not allowed here: %s; case skipped)\n",
			      strerror(errno));
		return;
	}
	L = loop_new();
	g = start_as(SENTRY_GUESTS);
	p = start_as(SENTRY_PEERS);
	CU_ASSERT_TRUE(sandboxed(sentry_pid(g)));
	CU_ASSERT_TRUE(sandboxed(sentry_pid(p)));
	CU_ASSERT_EQUAL(sched_getscheduler(sentry_pid(g)), SCHED_OTHER);
	CU_ASSERT_EQUAL(sched_getscheduler(sentry_pid(p)) & ~SCHED_RESET_ON_FORK, SCHED_FIFO);
	CU_ASSERT_EQUAL(sched_getparam(sentry_pid(p), &none), 0);
	CU_ASSERT_EQUAL(none.sched_priority, 3);
	limit_field(sentry_pid(p), "Max realtime timeout", v, sizeof(v));
	CU_ASSERT_STRING_EQUAL(v, "200000 400000");
	sentry_stop(g);
	sentry_stop(p);
	loop_free(L);
	none.sched_priority = 0;
	CU_ASSERT_EQUAL(sched_setscheduler(0, SCHED_OTHER, &none), 0);
}

static void test_sandbox(void)
{
	sandbox(SENTRY_GUESTS);
	sandbox(SENTRY_PEERS);
	if (geteuid() == 0)
		fifo_daemon();
}

/* This binary with @arg after the sandbox: how it ended. */
static int run_sandboxed(const char *arg)
{
	char exe[512];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	pid_t pid;
	int st = 0;

	CU_ASSERT_TRUE_FATAL(n > 0);
	exe[n] = 0;
	pid = fork();
	CU_ASSERT_TRUE_FATAL(pid >= 0);
	if (pid == 0) {
		execl(exe, exe, arg, (char *)NULL);
		_exit(127);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
	return st;
}

static void test_filter(void)
{
	int st = run_sandboxed("--sandboxed-write");

	CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	st = run_sandboxed("--sandboxed-open");
	CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	st = run_sandboxed("--sandboxed-socket");
	CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
	st = run_sandboxed("--sandboxed-write-stdout");
	CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
}

/* A sentry of another build refuses to talk to this daemon: another version or layout,
 * or this very build's layout from another file (the binary replaced by an upgrade since
 * the daemon started: another inode). */
static void test_layout(void)
{
	char exe[512], pp[16], same_build_other_file[96];
	const char *tags[2] = { "0.0-other/1/2", same_build_other_file };
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat other;
	int sv[2], st = 0;
	pid_t pid;

	CU_ASSERT_TRUE_FATAL(n > 0);
	exe[n] = 0;
	CU_ASSERT_EQUAL_FATAL(stat(exe, &other), 0);
	other.st_ino++;
	sentry_layout(same_build_other_file, sizeof(same_build_other_file), &other);
	(void)snprintf(pp, sizeof(pp), "%d", (int)getpid());
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
		pid = fork();
		CU_ASSERT_TRUE_FATAL(pid >= 0);
		if (pid == 0) {
			if (dup2(sv[1], 3) < 0)
				_exit(127);
			execl(exe, exe, SENTRY_ARG, "-", "-", pp, tags[i], (char *)NULL);
			_exit(127);
		}
		CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
		CU_ASSERT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == SENTRY_EXIT_LAYOUT);
		(void)close(sv[0]);
		(void)close(sv[1]);
	}
}

static void on_session(void *arg, int up)
{
	(void)arg;
	session_up = up;
}

static void on_message(void *arg, const struct hb_msg *m)
{
	(void)arg;
	if (m->type == HB_MSG_PING)
		answers++;
}

static const struct gc_ops ops = { .on_session = on_session, .on_message = on_message };

static void guest_send(int fd, const struct hb_msg *m)
{
	static uint8_t b[HB_FRAME_MAX];
	int n = hb_encode(b, sizeof(b), m);

	CU_ASSERT_TRUE_FATAL(n > 0);
	CU_ASSERT_EQUAL(write(fd, b, (size_t)n), n);
}

static void guest_hello(int fd)
{
	struct hb_msg m;

	hb_msg_init(&m, HB_MSG_HELLO, 1);
	m.u.hello.ver_min = HB_VERSION(1, 0);
	m.u.hello.ver_max = HB_VERSION_CURRENT;
	m.u.hello.agent = "test-guest";
	guest_send(fd, &m);
}

/* A HELLO_ACK came back on the guest's end. */
static int got_hello_ack(int fd)
{
	static uint8_t b[HB_FRAME_MAX];
	struct hb_msg m;
	ssize_t n = recv(fd, b, sizeof(b), MSG_DONTWAIT);

	return n > 0 && hb_decode(b, (size_t)n, &m) > 0 && m.type == HB_MSG_HELLO_ACK;
}

/* A channel in the sentry; *guest is the guest's end. */
static struct gc_chan *chan(struct sentry *s, int *guest)
{
	struct gc_config cfg = { .name = "t", .no_reconnect = 1 };
	struct gc_chan *c = gc_new(&cfg, &ops, NULL);
	int sv[2];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	gc_set_reader(c, &sentry_reader_ops, s);
	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	CU_ASSERT_EQUAL_FATAL(gc_attach_fd(c, sv[0], gc_now_ms()), 0);
	CU_ASSERT_EQUAL(gc_poll_events(c), 0u);         /* the daemon never reads it */
	*guest = sv[1];
	return c;
}

static void test_channel(void)
{
	static const uint8_t junk[1000] = { 0x17 };
	struct sentry *s;
	struct gc_chan *c;
	struct hb_msg m;
	pid_t pid;
	int g;

	L = loop_new();
	s = start();
	c = chan(s, &g);
	session_up = answers = 0;
	guest_hello(g);
	for (int i = 0; i < 200 && !session_up; i++)
		pump(5);
	CU_ASSERT_TRUE(session_up);
	CU_ASSERT_TRUE(got_hello_ack(g));
	CU_ASSERT_STRING_EQUAL(gc_peer(c)->agent, "test-guest");
	/* garbage, then a PING: skipped and counted in the sentry, the PING decoded */
	CU_ASSERT_EQUAL(write(g, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	hb_msg_init(&m, HB_MSG_PING, 2);
	m.u.ping.token = 7;
	guest_send(g, &m);
	for (int i = 0; i < 100 && (!answers || gc_stats(c)->rx_garbage_bytes < sizeof(junk));
	     i++)
		pump(5);
	CU_ASSERT_EQUAL(answers, 1);
	CU_ASSERT_EQUAL(gc_stats(c)->rx_garbage_bytes, sizeof(junk));
	CU_ASSERT_TRUE(gc_stats(c)->rx_bytes > sizeof(junk));
	/* the sentry dies: the channel is closed (it reconnects, with a path), another
	 * sentry takes over */
	pid = sentry_pid(s);
	CU_ASSERT_EQUAL(kill(pid, SIGKILL), 0);
	for (int i = 0; i < 200 && gc_connected(c); i++)
		pump(5);
	CU_ASSERT_FALSE(gc_connected(c));
	for (int i = 0; i < 200 && sentry_pid(s) <= 0; i++)
		pump(5);
	CU_ASSERT_TRUE(sentry_pid(s) > 0 && sentry_pid(s) != pid);
	(void)close(g);
	gc_free(c);
	/* and serves the next channel */
	c = chan(s, &g);
	session_up = 0;
	guest_hello(g);
	for (int i = 0; i < 200 && !session_up; i++)
		pump(5);
	CU_ASSERT_TRUE(session_up);
	/* the guest closes: the channel hears of it through the sentry */
	(void)close(g);
	for (int i = 0; i < 200 && gc_connected(c); i++)
		pump(5);
	CU_ASSERT_FALSE(gc_connected(c));
	gc_free(c);
	sentry_stop(s);
	loop_free(L);
}

/* A sentry that sends what does not check out is killed and replaced. */
static void test_liar(void)
{
	struct sentry *s;
	struct gc_chan *c;
	pid_t pid;
	int g;

	L = loop_new();
	CU_ASSERT_EQUAL(setenv("HB_TEST_SENTRY_LIE", "1", 1), 0);
	s = start();
	CU_ASSERT_EQUAL(unsetenv("HB_TEST_SENTRY_LIE"), 0);
	pid = sentry_pid(s);
	c = chan(s, &g);
	for (int i = 0; i < 200 && (sentry_pid(s) == pid || sentry_pid(s) <= 0); i++)
		pump(5);
	CU_ASSERT_TRUE(sentry_pid(s) > 0 && sentry_pid(s) != pid);
	CU_ASSERT_FALSE(gc_connected(c));
	(void)close(g);
	gc_free(c);
	sentry_stop(s);
	loop_free(L);
}

/* ---- this binary as a sentry (or a sandboxed process) ---- */

/* HB_TEST_SENTRY_LIE: a compromised sentry's message (a MSG whose string points out of
 * its buffer), then nothing. */
static __attribute__((noreturn)) int lying_sentry(void)
{
	struct {
		struct sentry_ev ev;
		struct hb_msg m;
	} b;
	uintptr_t v = 4096;

	memset(&b, 0, sizeof(b));
	b.ev.id = 1;
	b.ev.in.kind = GC_IN_MSG;
	b.m.type = HB_MSG_HELLO;
	b.m.u.hello.ver_min = 1;
	b.m.u.hello.ver_max = 1;
	b.m.u.hello.present = 0xf;
	memcpy(&b.m.u.hello.agent, &v, sizeof(v));
	for (;;) {
		(void)send(3, &b, sizeof(b), MSG_NOSIGNAL);
		(void)sleep(1);
	}
}

int main(int argc, char **argv)
{
	static CU_TestInfo tests[] = {
		{ "the sandbox as the kernel shows it (guest and peer sentry; a SCHED_FIFO daemon)",
		  test_sandbox },
		{ "a system call outside the filter kills", test_filter },
		{ "a sentry of another build refuses", test_layout },
		{ "a channel read through the sentry; it dies, another serves", test_channel },
		{ "a sentry that lies is killed and replaced", test_liar },
		CU_TEST_INFO_NULL,
	};
	CU_SuiteInfo suites[] = {
		{ "sentry", NULL, NULL, NULL, NULL, tests },
		CU_SUITE_INFO_NULL,
	};

	if (argc > 1 && !strcmp(argv[1], SENTRY_ARG))
		return getenv("HB_TEST_SENTRY_LIE") ? lying_sentry() :
		       sentry_main(argc - 2, argv + 2);
	if (argc > 1 && !strncmp(argv[1], "--sandboxed-", 12)) {
		char pp[16];
		ssize_t n = 0;

		(void)snprintf(pp, sizeof(pp), "%d", (int)getppid());
		sentry_sandbox("-", "-", pp, SENTRY_GUESTS);
		if (!strcmp(argv[1], "--sandboxed-open"))
			(void)open("/etc/hostname", O_RDONLY);
		else if (!strcmp(argv[1], "--sandboxed-socket"))
			(void)socket(AF_INET, SOCK_STREAM, 0);
		else if (!strcmp(argv[1], "--sandboxed-write-stdout"))
			n = write(1, "", 0);  /* another fd than stderr: a guest's, say */
		else
			n = write(2, "", 0);
		_exit(n < 0 ? 1 : 0);
	}
	return hb_cu_run(suites);
}
