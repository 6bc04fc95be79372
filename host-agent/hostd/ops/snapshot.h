/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/snapshot.h — the QEMU side of `hybond snapshot VM FILE` (the
 * phases are in drill.c, which runs drill and snapshot as one state machine).
 *
 * What works with QEMU 7.2 (measured in the lab, docs/host-agent.md "snapshot"):
 *  - HMP savevm needs a qcow2 disk (the lab VM has none: "no block device can
 *    store vmstate"); the `file:` migration URI does not exist before QEMU 8.2.
 *  - `migrate` to "exec:cat > FILE" works; the VM stays paused (postmigrate)
 *    until `cont`.  With failover=on QEMU unplugs the primary itself at the
 *    start (UNPLUG_PRIMARY) and does NOT re-plug it after completion, not even
 *    at `cont`; device_del/device_add of it then fail (hidden, "Duplicate ID",
 *    "more than one primary", netdev in use).  QEMU re-plugs it only when a
 *    migration FAILS: so the snapshot starts a second migration that must fail
 *    at once ("exec:false": the reader exits, EPIPE) and QEMU re-plugs its own
 *    primary, with failover semantics kept.
 *  - restore: a QEMU started with the same devices and `-incoming defer`,
 *    then migrate-incoming "exec:cat FILE" (bond: without the VF device).
 */
#ifndef HYBOND_SNAPSHOT_H
#define HYBOND_SNAPSHOT_H

#include <stddef.h>

/* The migration URI that fails at once and makes QEMU re-plug a failover primary. */
#define SNAP_REPLUG_URI "exec:false"

/* FILE must be absolute, made of [A-Za-z0-9_.+/-] (QEMU runs exec: URIs
 * through /bin/sh), no "..", and must not exist (never overwrite).  0 or
 * negative errno with err set. */
int snap_check_file(const char *file, char *err, size_t errlen);
/* "exec:cat > FILE" into uri; 0 or -ENAMETOOLONG. */
int snap_save_uri(const char *file, char *uri, size_t len);
/* "exec:cat FILE" (for -incoming / migrate-incoming). */
int snap_restore_uri(const char *file, char *uri, size_t len);

#endif
