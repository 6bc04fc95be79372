/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/vm.h — one VM as this host sees it: its hypervisor handle, its
 * guest channel, its eswitch ports and the failover pair the guest reported.
 * The operations (ops/) drive it; vm.c keeps the connections alive, the guest's
 * view up to date, and routes every input to the running operation (v->op) and
 * then to the background handler (v->bg: ops/idle.c) — ops/op.h.
 */
#ifndef HYBOND_VM_H
#define HYBOND_VM_H

#include <jansson.h>
#include <stdint.h>

#include "config.h"
#include "host-agent/hostd/esw/esw.h"
#include "host-agent/hostd/guest/guestchan.h"
#include "host-agent/hostd/hv/hv.h"
#include "hostd.h"
#include "host-agent/hostd/ops/op.h"

/* An interface name as the guest said it, escaped (str_escape: \xNN for anything not
 * printable): it goes into logs and status as is. */
#define VM_IFNAME_MAX (16 * 4 + 1)

/* What the guest last told us about its pair (STATUS, EVENT). */
struct vm_pair {
	int valid;
	uint32_t id;
	uint8_t active;                 /* enum hb_path */
	char master[VM_IFNAME_MAX], standby[VM_IFNAME_MAX], vf[VM_IFNAME_MAX];
	int sb_link, sb_carrier;
	int vf_present, vf_link, vf_carrier;
	uint64_t vf_up_ms;              /* monotonic: when the guest last reported it up */
};

struct vfwatch;

/* What happened to a VM here (status "counters"). */
struct vm_counters {
	unsigned drills, drills_failed, snapshots, snapshots_failed;
	unsigned steer_vf, steer_standby, steer_errors;
};

struct vm {
	struct hostd *d;
	struct vm_config cfg;
	uint8_t mac[6];
	const struct hv_ops *hvo;
	struct hv *hv;
	struct gc_chan *gc;
	int gc_fd;
	unsigned gc_watched;
	int session_up;
	struct esw *esw;
	struct esw_port vf_port, sb_port;
	int ports_ok;
	struct vm_pair pair;
	struct vm_op *op;               /* the operation in progress (migration, drill, snapshot) */
	const struct vm_bg_ops *bg;     /* what runs when none does (ops/idle.c) */
	unsigned vf_seq;                /* fresh VF ids: vf0, hb-vf1, hb-vf2, … */
	char vf_id[32];                 /* the VF device id in the current QEMU */
	int here;                       /* the VM runs on this host */
	json_t *last_op;                /* the last drill/snapshot/migration's figures (owned) */
	int rx_steer;                   /* enum esw_target the eswitch was last set to; -1: unknown */
	struct vm_counters cnt;
	struct loop_timer *recover_timer;       /* journal recovery (bg->recover) */
	struct vfwatch *vfw;            /* unannounced VF loss (ops/vfwatch.c, owned by bg) */
};

/* bg: the background handler (NULL: none, unit tests of one operation). */
struct vm *vm_new(struct hostd *d, const struct vm_config *cfg, const struct vm_bg_ops *bg);
void vm_free(struct vm *v);
/* Connect QMP and the guest channel (paths from the config or the launcher). */
int vm_attach(struct vm *v, char *err, size_t errlen);
void vm_detach(struct vm *v);
/* A new guest-channel session now (libvirt: the incoming domain's socket exists). */
void vm_gc_restart(struct vm *v);
/* The eswitch and this host's ports of the VM. */
int vm_esw_ready(struct vm *v, char *err, size_t errlen);
int vm_steer(struct vm *v, enum esw_target to, char *err, size_t errlen);
/* The guest reported its VF with link and carrier (since the last reset). */
int vm_vf_up(const struct vm *v);
/* The guest agent has a session and has reported its pair: it can take requests. */
int vm_guest_ready(const struct vm *v);
void vm_vf_forget(struct vm *v);
/* Next fresh VF id (QEMU 7.2 refuses a re-used -device id after device_del). */
const char *vm_next_vf_id(struct vm *v);
json_t *vm_to_json(const struct vm *v);
/* Remember a finished operation's figures for status (o stolen). */
void vm_set_last_op(struct vm *v, json_t *o);
/* The operation op (embedded in its state) owns the VM's datapath from now on / no more. */
void vm_op_begin(struct vm *v, struct vm_op *op);
void vm_op_end(struct vm *v, const struct vm_op *op);
/* -EBUSY with err saying which operation runs, else 0. */
int vm_op_busy(const struct vm *v, char *err, size_t errlen);

#endif
