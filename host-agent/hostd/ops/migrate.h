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

#include "host-agent/hostd/hv/hv.h"

struct vm;
struct ctl_conn;
struct peer_conn;
struct jrnl_op;

/* Source: run `hybond migrate VM --to PEER`.  0, or negative errno with err set. */
int mig_start_source(struct vm *v, const char *peer, int force, struct ctl_conn *cc,
		     char *err, size_t errlen);
/* Destination: a peer's MIGRATE_PREPARE. */
int mig_start_dest(struct vm *v, struct peer_conn *pc, const struct hb_msg *m,
		   char *err, size_t errlen);
/* libvirt, `virsh migrate` (docs/libvirt.md).  Source: the destination's hook asked
 * (MIGRATE_INCOMING).  Destination: the qemu hook's `migrate begin` on the control
 * socket; source = the host named in the domain's hybond metadata; *xml (taken when
 * the hook is answered later) the domain XML naming this host, for libvirt.  0 with
 * *answered set: answer ok now (err says why); 0 otherwise: answered later. */
int mig_start_source_incoming(struct vm *v, struct peer_conn *pc, const struct hb_msg *m,
			      char *err, size_t errlen);
int mig_hook_incoming(struct vm *v, struct ctl_conn *cc, const char *source, char **xml,
		      char *err, size_t errlen, int *answered);
/* Inputs from the VM's connections and the peer. */
void mig_on_hv_event(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms);
void mig_on_hv_closed(struct vm *v, int err);
void mig_on_hv_ready(struct vm *v);             /* QMP session up (recovery waits for it) */
void mig_on_guest(struct vm *v);                /* pair state changed / session up */
void mig_on_guest_answer(struct vm *v, uint16_t req_type, const struct hb_msg *ans, int res);
void mig_on_peer_msg(struct vm *v, struct peer_conn *pc, const struct hb_msg *m);
void mig_on_peer_closed(struct vm *v, struct peer_conn *pc, int err);
void mig_on_ctl_gone(struct vm *v, struct ctl_conn *cc);
/* `hybond cancel VM` (source only, before stop-and-copy): 0 with msg saying what is
 * done (the migrating CLI gets the final result), or -ENOENT / -EINVAL / -EBUSY /
 * -EALREADY with msg saying why not. */
int mig_cancel(struct vm *v, char *msg, size_t len);
/* Journal recovery: an operation left by a previous daemon (hostd.c at start, and
 * mig_recover_vm() when a VM is registered); nothing happens while v->mig exists. */
void mig_recover(struct vm *v, const struct jrnl_op *op);
void mig_recover_vm(struct vm *v);
json_t *mig_to_json(const struct vm *v);
void mig_free(struct vm *v);

#endif
