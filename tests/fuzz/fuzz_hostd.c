// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/fuzz/fuzz_hostd.c — the fuzzers' daemon (see fuzz_hostd.h).
 */
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "host-agent/common/loop.h"
#include "host-agent/hostd/registry.h"
#include "tests/fuzz/fuzz_hostd.h"

struct hostd fz_d;
char fz_dir[64];

static void quit_cb(void *arg)
{
	loop_quit(arg);
}

void fz_turns(unsigned n)
{
	static struct loop_timer *t;

	if (!t)
		t = loop_timer_new(fz_d.l, quit_cb, fz_d.l);
	while (n--) {
		(void)loop_timer_arm(t, 0);
		(void)loop_run(fz_d.l);
	}
}

void fz_vm1(void)
{
	struct vm_config vc;
	char err[256];

	if (hostd_vm(&fz_d, "vm1"))
		return;
	vm_config_defaults(&vc, "vm1");
	(void)snprintf(vc.standby_port, sizeof(vc.standby_port), "hs-vm1");
	(void)snprintf(vc.vf_port, sizeof(vc.vf_port), "hv-vm1");
	(void)snprintf(vc.launcher, sizeof(vc.launcher), "false");
	if (vm_config_set(&vc, "mac", "52:54:00:18:00:10", err, sizeof(err)) ||
	    hostd_vm_add(&fz_d, &vc, err, sizeof(err))) {
		(void)fprintf(stderr, "fuzz: vm1: %s\n", err);
		abort();
	}
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* the journal's directory goes with the fuzzer (libFuzzer ends with exit()) */
static void fz_cleanup(void)
{
	(void)nftw(fz_dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
}

void fz_init(const char *name)
{
	char err[256];

	/* what an operation does to links and FDBs stays in an empty namespace */
	if (geteuid() == 0 && unshare(CLONE_NEWNET) < 0)
		abort();
	(void)snprintf(fz_dir, sizeof(fz_dir), "/tmp/hb-%s-XXXXXX", name);
	if (!mkdtemp(fz_dir) || atexit(fz_cleanup))
		abort();
	config_defaults(&fz_d.cfg);
	(void)snprintf(fz_d.cfg.host, sizeof(fz_d.cfg.host), "A");
	(void)snprintf(fz_d.cfg.peers[0].name, sizeof(fz_d.cfg.peers[0].name), "B");
	(void)snprintf(fz_d.cfg.peers[0].socket, sizeof(fz_d.cfg.peers[0].socket),
		       "%s/none.sock", fz_dir);
	fz_d.cfg.n_peers = 1;
	fz_d.l = loop_new();
	if (!fz_d.l || jrnl_open(fz_dir, &fz_d.j, err, sizeof(err)))
		abort();
	fz_vm1();
}
