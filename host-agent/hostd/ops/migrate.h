/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/migrate.h — the live-migration state machine, both roles.
 * Reading migrate.c in order tells the story of a migration.
 */
#ifndef HYBOND_MIGRATE_H
#define HYBOND_MIGRATE_H

#include <jansson.h>
#include <stdint.h>

#include <hybond/proto.h>

#include "op.h"

struct vm;
struct peer_conn;
struct jrnl_op;

/* Source: run `hybond migrate VM --to PEER`; sink (may be NULL): who hears its progress
 * and result.  0, or negative errno with err set. */
int mig_start_source(struct vm *v, const char *peer, int force, const struct op_sink *sink,
		     char *err, size_t errlen);
/* Destination: a peer's MIGRATE_PREPARE. */
int mig_start_dest(struct vm *v, struct peer_conn *pc, const struct hb_msg *m,
		   char *err, size_t errlen);
/* libvirt, `virsh migrate` (docs/libvirt.md).  Source: the destination's hook asked
 * (MIGRATE_INCOMING).  Destination: the qemu hook's `migrate begin` on the control
 * socket; source = the host named in the domain's hybond metadata; *xml (taken when
 * the hook is answered later) the domain XML naming this host, for libvirt.  0 with
 * *answered set: answer ok now (err says why); 0 otherwise: answered later through
 * hook's finish(ok, {"mode", "msg"[, "xml"]}). */
int mig_start_source_incoming(struct vm *v, struct peer_conn *pc, const struct hb_msg *m,
			      char *err, size_t errlen);
int mig_hook_incoming(struct vm *v, const struct op_sink *hook, const char *source, char **xml,
		      char *err, size_t errlen, int *answered);
/* No operation runs: a migration nobody announced (reactive source, unannounced
 * destination) may start from QEMU's events (ops/idle.c). */
void mig_watch_hv_event(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms);
/* The peer channel of the VM's migration (hostd/main.c routes them; tests too). */
void mig_on_peer_msg(struct vm *v, struct peer_conn *pc, const struct hb_msg *m);
void mig_on_peer_closed(struct vm *v, struct peer_conn *pc, int err);
/* `hybond cancel VM` (source only, before stop-and-copy): 0 with msg saying what is
 * done (the migrating CLI gets the final result), or -ENOENT / -EINVAL / -EBUSY /
 * -EALREADY with msg saying why not. */
int mig_cancel(struct vm *v, char *msg, size_t len);
/* Journal recovery (ops/idle.c's one pass when the VM is registered): a migration a
 * previous daemon left; nothing happens while an operation runs. */
void mig_recover(struct vm *v, const struct jrnl_op *op);
json_t *mig_to_json(const struct vm *v);
void mig_free(struct vm *v);

#endif
