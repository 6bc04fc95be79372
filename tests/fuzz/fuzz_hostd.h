/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/fuzz_hostd.h — the daemon the fuzz targets of its inputs run against
 * (fuzz_ctl, fuzz_peer): one registered VM "vm1" (MAC 52:54:00:18:00:10, not running
 * here, launcher "false": an incoming start fails at once), one peer "B" (unreachable), a journal in a temporary directory, in
 * a network namespace of its own (root) so that no operation touches the host's links.
 */
#ifndef HYBOND_FUZZ_HOSTD_H
#define HYBOND_FUZZ_HOSTD_H

#include "host-agent/hostd/hostd.h"

extern struct hostd fz_d;
extern char fz_dir[64];

/* Once, from LLVMFuzzerInitialize (aborts on failure). */
void fz_init(const char *name);
/* vm1 registered again if an input deleted it. */
void fz_vm1(void);
/* @n turns of the daemon's loop (each: every ready fd and timer due). */
void fz_turns(unsigned n);

#endif
