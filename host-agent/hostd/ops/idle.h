/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/idle.h — every VM's background handler (struct vm_bg_ops,
 * op.h): what watches a VM whether or not an operation runs.
 *
 *  - the one journal recovery pass, at the VM's first loop turn: a drill or
 *    snapshot left by a previous daemon is rolled back, a migration recovered
 *    (drill_recover, mig_recover);
 *  - QEMU's events while no operation runs: a migration nobody announced
 *    (mig_watch_hv_event: reactive source, unannounced destination);
 *  - the VF watch (vfwatch.c): a VF that leaves while no operation runs.
 */
#ifndef HYBOND_IDLE_H
#define HYBOND_IDLE_H

#include "op.h"

extern const struct vm_bg_ops idle_bg_ops;
/* jrnl_load()'s bad-file callback: a warning saying where the file went. */
void idle_journal_bad(void *arg, const char *file, const char *why, const char *moved_to);

#endif
