// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/main.c — hybond-hostd: configuration, the event loop, the
 * control socket, the peer listener (its messages: peer_route.c), the VMs and the
 * journal recovery.
 * See hybond-hostd.8 and docs/host-agent.md.
 */
#include <errno.h>
#include <cap-ng.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "host-agent/hostd/ctl/ctl.h"
#include "host-agent/hostd/sentry/sentry.h"
#include "hostd.h"
#include "host-agent/hostd/hv/hv_libvirt.h"
#include "host-agent/hostd/ops/idle.h"
#include "host-agent/hostd/ops/migrate.h"
#include "host-agent/hostd/peer/peer.h"
#include "host-agent/hostd/peer/peer_check.h"
#include "peer_route.h"
#include "reload.h"
#include "logfields.h"
#include "registry.h"
#include "vm.h"

/* ---- journal: what recovery cannot reach --------------------------------------- */
/* Each registered VM recovers its own entries (ops/idle.c, at its first loop turn);
 * an entry whose VM is not in hostd.conf waits for `hybond vm add`: say so. */
static void jr_orphan(void *arg, struct jrnl_op *op)
{
	struct hostd *d = arg;

	if (!hostd_vm(d, op->vm) && op->kind == JRNL_MIGRATE)
		hlog(HLOG_WARN, "journal: migration of unknown VM %s left in %s", op->vm,
		     op->phase);
}

/* ---- signals --------------------------------------------------------------------- */
static int sig_fd = -1;
static const char *conf_path;

/* SIGTERM, SIGINT: stop (operations in flight are journalled); SIGHUP: reload.c. */
static void on_signal(void *arg, unsigned events)
{
	struct hostd *d = arg;
	struct signalfd_siginfo si;

	(void)events;
	if (read(sig_fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		(void)sd_notify(0, "RELOADING=1");
		(void)hostd_reload(d, conf_path);
		(void)sd_notify(0, "READY=1");
		return;
	}
	hlog(HLOG_INFO, "signal %u", si.ssi_signo);
	loop_quit(d->l);
}

/*
 * Root, but only with what the daemon needs — the set hybond-hostd.service's
 * CapabilityBoundingSet= names, so a start without the unit (a hand start, another init)
 * is no stronger. Under systemd ($INVOCATION_ID) the unit's set rules instead: a drop-in
 * may widen it for a launcher (CAP_IPC_LOCK for a QEMU with VFIO, say). The set: the
 * eswitch and the taps (NET_ADMIN), the RARP announce (NET_RAW), setns into an eswitch
 * namespace (SYS_ADMIN), the sentries' account and bounding
 * set (SETUID, SETGID, SETPCAP), signals to it (KILL), sched_fifo (SYS_NICE), the control
 * socket's group (CHOWN), QEMU's sockets (DAC_OVERRIDE). Dropped from the effective,
 * permitted, inheritable and bounding sets, so commands the daemon starts (launchers)
 * cannot get the others back either. libcap-ng does the capset()/PR_CAPBSET_DROP work.
 */
static const unsigned keep_caps[] = {
	CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN, CAP_SETUID, CAP_SETGID, CAP_SETPCAP,
	CAP_KILL, CAP_SYS_NICE, CAP_CHOWN, CAP_DAC_OVERRIDE,
};

static int drop_caps(void)
{
	unsigned cap, i, dropped = 0;

	if (geteuid() != 0 || getenv("INVOCATION_ID"))
		return 0;
	if (capng_get_caps_process() < 0) {
		(void)fprintf(stderr, "hybond-hostd: reading this process's capabilities failed\n");
		return -1;
	}
	for (cap = 0; cap <= CAP_LAST_CAP; cap++) {
		for (i = 0; i < sizeof(keep_caps) / sizeof(keep_caps[0]); i++)
			if (keep_caps[i] == cap)
				break;
		if (i < sizeof(keep_caps) / sizeof(keep_caps[0]))
			continue;
		if (capng_update(CAPNG_DROP, CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_INHERITABLE |
				 CAPNG_BOUNDING_SET, cap) < 0) {
			(void)fprintf(stderr, "hybond-hostd: dropping capability %u failed\n", cap);
			return -1;
		}
		dropped++;
	}
	if (capng_apply(CAPNG_SELECT_BOTH) < 0) {
		(void)fprintf(stderr, "hybond-hostd: dropping capabilities failed (capset, "
			      "PR_CAPBSET_DROP): %s\n", strerror(errno));
		return -1;
	}
	hlog(HLOG_DEBUG, "capabilities: %u dropped; kept the unit's %zu (those this process "
	     "had)", dropped, sizeof(keep_caps) / sizeof(keep_caps[0]));
	return 0;
}

/*
 * The STOP -> announce path is the one place where the daemon's own latency turns
 * into lost packets: every ms between the source's STOP and the destination's RARP,
 * frames land in the stopped source's tap and die with it (1 per ms at 1000 pps).
 * On a host whose CPUs are busy (QEMU vCPUs, TCG in the lab) a normal-priority
 * daemon waits for a time slice; SCHED_FIFO makes it run at once.  The daemon
 * sleeps in epoll otherwise, so a real-time priority costs nothing.
 */
static void set_sched(uint32_t prio)
{
	struct sched_param sp = { .sched_priority = (int)prio };

	if (!prio)
		return;
	/* RESET_ON_FORK: what the daemon starts (the launcher, hence the incoming QEMU and
	 * its vCPU threads; cleanup hooks; the drill prober) runs SCHED_OTHER: a real-time
	 * vCPU thread that spins (TCG, a busy guest) starves the daemons and the host */
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp))
		hlog(HLOG_WARN, "sched_fifo %u: %s; running at normal priority "
		     "(announce at STOP may come late on a busy host)", prio, strerror(errno));
	else
		hlog(HLOG_INFO, "running with SCHED_FIFO priority %u", prio);
}

static void usage(FILE *f)
{
	(void)fprintf(f, "usage: hybond-hostd [-c FILE] [-v] [-t | --peer-check PEER]\n"
		"  -c, --config FILE   configuration (default /etc/hybond/hostd.conf; hostd.conf(5))\n"
		"  -t, --check         parse the configuration (and load the TLS files) and exit\n"
		"      --peer-check PEER  connect to PEER's daemon (TLS or unix), PING it, print the\n"
		"                      channel or the error, exit 0 / 1 (no daemon is started)\n"
		"  -v, --verbose       debug log lines\n"
		"      --version       print the version and exit\n");
}

/* The TLS credentials, when a [peer] has an address or peer_listen is set. */
static int tls_setup(struct hostd *d)
{
	char err[PEER_ERR_MAX], warn[PEER_ERR_MAX];

	if (!config_uses_tls(&d->cfg))
		return 0;
	if (peer_tls_new(&d->cfg, &d->tls, err, sizeof(err), warn, sizeof(warn))) {
		(void)fprintf(stderr, "hybond-hostd: peer TLS: %s\n", err);
		return -1;
	}
	if (warn[0])
		hlog(HLOG_WARN, "peer TLS: %s", warn);
	return 0;
}

static int peer_check_main(struct hostd *d, const char *peer)
{
	char out[PEER_ERR_MAX + PEER_INFO_MAX + 64];
	int rc;

	(void)signal(SIGPIPE, SIG_IGN);
	d->l = loop_new();
	if (!d->l || tls_setup(d))
		return 1;
	rc = pcheck_run(d, peer, out, sizeof(out));
	if (rc)
		(void)fprintf(stderr, "hybond-hostd: peer-check %s: %s\n", peer, out);
	else
		(void)printf("peer-check %s: %s\n", peer, out);
	peer_tls_free(d->tls);
	loop_free(d->l);
	return rc ? 1 : 0;
}

/* The accounts hostd.conf names exist (--check, the unit's ExecStartPre, says so before
 * the start fails on them). 0, or -1 (said why). */
static int check_accounts(const struct hostd_config *c)
{
	if (c->ctl_group[0] && !getgrnam(c->ctl_group)) {
		(void)fprintf(stderr, "hybond-hostd: ctl_group %s: no such group (the package's "
			      "sysusers.d entry creates group hybond: systemd-sysusers)\n",
			      c->ctl_group);
		return -1;
	}
	if ((c->guest_sentry || (c->peer_sentry && config_uses_tls(c))) && c->sentry_user[0] &&
	    !getpwnam(c->sentry_user)) {
		(void)fprintf(stderr, "hybond-hostd: sentry_user %s: no such user (the package's "
			      "sysusers.d entry creates hybond-sentry: systemd-sysusers)\n",
			      c->sentry_user);
		return -1;
	}
	return 0;
}

/* One sentry; NULL after saying on stderr why and which key turns it off. */
static struct sentry *start_sentry(struct hostd *d, const char *user, enum sentry_role role)
{
	char err[512];
	struct sentry *s = sentry_start(d->l, user, role, err, sizeof(err));

	if (!s)
		(void)fprintf(stderr, "hybond-hostd: %s (%s = off in hostd.conf runs without it: %s "
			      "are then parsed by the daemon itself)\n", err,
			      role == SENTRY_PEERS ? "peer_sentry" : "guest_sentry",
			      role == SENTRY_PEERS ? "TLS peers' frames" : "guest channels");
	return s;
}

/* The sentries (guest_sentry, and peer_sentry when a peer uses TLS), both as their own
 * account (a dedicated one, else nobody). 0 or -1 (said why). */
static int start_sentries(struct hostd *d)
{
	const char *user = d->cfg.sentry_user[0] ? d->cfg.sentry_user : "hybond-sentry";

	if (!d->cfg.sentry_user[0] && geteuid() == 0 && !getpwnam(user)) {
		hlog(HLOG_WARN, "sentries: no account \"%s\": they run as nobody (create one: "
		     "useradd --system --no-create-home --shell /usr/sbin/nologin %s)", user, user);
		user = "nobody";
	}
	if (d->cfg.guest_sentry) {
		d->sentry = start_sentry(d, user, SENTRY_GUESTS);
		if (!d->sentry)
			return -1;
	}
	if (d->cfg.peer_sentry && d->tls) {
		d->peer_sentry = start_sentry(d, user, SENTRY_PEERS);
		if (!d->peer_sentry)
			return -1;
		peer_tls_set_sentry(d->tls, d->peer_sentry);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' }, { "check", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' }, { "help", no_argument, NULL, 'h' },
		{ "peer-check", required_argument, NULL, 'P' }, { "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = "/etc/hybond/hostd.conf", *check_peer = NULL;
	struct peer_listener *tcp_listener = NULL;
	static struct hostd d;
	struct vm_config vms[CFG_MAX_VMS];
	char err[512];
	sigset_t ss;
	size_t i, n_vms;
	int c, check = 0, sfd, rc;

	/* re-executed as a sentry (sentry/sentry.h): nothing of the daemon runs */
	if (argc > 1 && !strcmp(argv[1], SENTRY_ARG))
		return sentry_main(argc - 2, argv + 2);
	while ((c = getopt_long(argc, argv, "c:tvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 't': check = 1; break;
		case 'v': hlog_verbose(1); break;
		case 'P': check_peer = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': (void)printf("%s\n", HOSTD_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	config_defaults(&d.cfg);
	if (config_load(&d.cfg, conf, err, sizeof(err))) {
		(void)fprintf(stderr, "hybond-hostd: %s\n", err);
		return 1;
	}
	if (check_peer)
		return peer_check_main(&d, check_peer);
	if (check_accounts(&d.cfg))
		return 1;
	hostd_log_fields_init(&d);
	if (check) {
		if (tls_setup(&d))
			return 1;
		(void)printf("%s: OK (host %s, %zu peers, %zu VMs%s)\n", conf, d.cfg.host,
			     d.cfg.n_peers, d.cfg.n_vms, d.tls ? ", TLS credentials loaded" : "");
		peer_tls_free(d.tls);
		return 0;
	}
	peer_route_init(&d);
	if (drop_caps())
		return 1;
	set_sched(d.cfg.sched_fifo);
	(void)signal(SIGPIPE, SIG_IGN);
	d.l = loop_new();
	if (!d.l)
		return 1;
	(void)sigemptyset(&ss);
	(void)sigaddset(&ss, SIGTERM);
	(void)sigaddset(&ss, SIGINT);
	(void)sigaddset(&ss, SIGHUP);
	conf_path = conf;
	(void)sigprocmask(SIG_BLOCK, &ss, NULL);
	sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);
	sig_fd = sfd;
	if (sfd < 0 || loop_add_fd(d.l, sfd, EPOLLIN, on_signal, &d)) {
		(void)fprintf(stderr, "hybond-hostd: signalfd: %s\n", strerror(errno));
		return 1;
	}
	if (tls_setup(&d))
		return 1;
	if (start_sentries(&d))
		return 1;
	if (jrnl_open(d.cfg.state_dir, &d.j, err, sizeof(err))) {
		(void)fprintf(stderr, "hybond-hostd: journal: %s\n", err);
		return 1;
	}
	if (ctl_listen(&d, err, sizeof(err))) {
		(void)fprintf(stderr, "hybond-hostd: %s\n", err);
		return 1;
	}
	if (d.cfg.peer_socket[0]) {
		rc = peer_listen(d.l, d.cfg.peer_socket, &hostd_peer_ops, NULL);
		if (rc) {
			(void)fprintf(stderr, "hybond-hostd: peer_socket %s: %s\n", d.cfg.peer_socket,
				strerror(-rc));
			return 1;
		}
	}
	if (d.cfg.peer_listen[0] && peer_listen_tcp(d.l, d.tls, d.cfg.peer_listen, &hostd_peer_ops,
						    NULL, &tcp_listener, err, sizeof(err))) {
		(void)fprintf(stderr, "hybond-hostd: %s\n", err);
		return 1;
	}
	n_vms = d.cfg.n_vms;
	memcpy(vms, d.cfg.vms, sizeof(vms[0]) * n_vms);
	for (i = 0; i < n_vms; i++)
		if (hostd_vm_add(&d, &vms[i], err, sizeof(err)))
			hlog(HLOG_ERR, "%s", err);
	(void)jrnl_load(d.j, &(struct jrnl_load_cb){ .ok = jr_orphan, .bad = idle_journal_bad,
						    .arg = &d });
	hlog(HLOG_INFO, "%s: host %s, control %s, peers %s%s%s", HOSTD_VERSION, d.cfg.host,
	     d.cfg.ctl_socket, d.cfg.peer_socket[0] ? d.cfg.peer_socket : "",
	     d.cfg.peer_listen[0] ? (d.cfg.peer_socket[0] ? " and TLS " : "TLS ") : "",
	     d.cfg.peer_listen[0] ? d.cfg.peer_listen :
	     d.cfg.peer_socket[0] ? "" : "(not listening)");
	/* Type=notify: listening, VMs registered, journal read (no-op without systemd) */
	for (i = 0, n_vms = 0; i < CFG_MAX_VMS; i++)
		n_vms += d.vms[i] != NULL;
	(void)sd_notifyf(0, "READY=1\nSTATUS=host %s: %zu VMs, guest sentry %s, peer sentry %s",
			 d.cfg.host, n_vms, d.sentry ? "on" : "off", d.peer_sentry ? "on" :
			 d.tls ? "off" : "no TLS peer");
	rc = loop_run(d.l);
	(void)sd_notify(0, "STOPPING=1");
	hlog(HLOG_INFO, "exiting");
	/* the journal sink looks VMs up by name: not while they are freed */
	hlog_set_sink(NULL);
	for (i = 0; i < CFG_MAX_VMS; i++) {
		vm_free(d.vms[i]);
		d.vms[i] = NULL;
	}
	sentry_stop(d.sentry);
	if (d.libvirt_up)
		hv_libvirt_fini();
	peer_listener_free(tcp_listener);
	peer_tls_free(d.tls);           /* its connections detach from the peer sentry */
	sentry_stop(d.peer_sentry);
	(void)unlink(d.cfg.ctl_socket);
	if (d.cfg.peer_socket[0])
		(void)unlink(d.cfg.peer_socket);
	jrnl_close(d.j);
	loop_free(d.l);
	(void)close(sfd);
	return rc ? 1 : 0;
}
