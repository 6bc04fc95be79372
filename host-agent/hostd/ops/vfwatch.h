/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/vfwatch.h — the daemon's reaction to a VF that leaves a running VM
 * while no hybond operation runs (an operator's device_del on another monitor,
 * QEMU's own failover unplug nobody announced, an unbind in the guest).  The
 * eswitch keeps steering the VM's MAC to the VF port, so RX would be blackholed
 * and the guest agent would hold TX on the standby forever.  One small state
 * machine per VM (docs/host-agent.md, "Unannounced VF loss"):
 *
 *   IDLE --trigger--> VF_AWAY     RX steered to the standby port at once
 *   VF_AWAY --VF up in the guest, and QEMU shows the VF device--> RETURNING
 *                                 RX to the VF port, then RESUME_FAST_PATH
 *   RETURNING --FAST_PATH_UP(FAST)--> IDLE
 *   RETURNING --refused / timed out / session down--> VF_AWAY
 *                                 RX back to the standby, retried later
 *
 * Triggers, whichever comes first: the guest's EVENT VF_LEAVING (kernel shim)
 * or VF_VANISHED, a STATUS without the VF, QEMU's DEVICE_DELETED for the VM's
 * VF id or UNPLUG_PRIMARY (failover).  Only while the VM runs here, no
 * migration, drill or snapshot owns the datapath, and `vf_watch = on`.  An
 * operation that starts takes the datapath over: the watch forgets its episode.
 *
 * The guest is untrusted: its word alone never steers RX to a VF.  The hypervisor must
 * show the VF device in the VM (query_vf: the VM's VF id, or a device behind its vf_bus
 * root port, as an operator's re-plug under a fresh id), and a VM that loses its VF
 * again within VFW_FLAP_WINDOW_MS of getting it back waits a hold-down that doubles
 * with each such loss (1 s .. 60 s) before the next return: a guest flapping
 * VF_VANISHED / VF up cannot make the host rewrite the PF's MAC table 30 times a second.
 */
#ifndef HYBOND_VFWATCH_H
#define HYBOND_VFWATCH_H

#include <jansson.h>
#include <stdint.h>

#include <hybond/proto.h>

#include "host-agent/hostd/hv/hv.h"
#include "fastpath.h"

struct vm;
struct loop_timer;

enum vfw_state { VFW_IDLE, VFW_VF_AWAY, VFW_RETURNING };

enum vfw_trigger {
	VFW_TRIG_NONE, VFW_TRIG_VF_LEAVING, VFW_TRIG_VF_VANISHED, VFW_TRIG_STATUS,
	VFW_TRIG_DEVICE_DELETED, VFW_TRIG_UNPLUG_PRIMARY,
};

struct vfwatch {
	enum vfw_state state;
	enum vfw_trigger trigger;       /* of the last episode */
	uint64_t since_ms;              /* monotonic: the state was entered */
	uint64_t t_trigger_us;          /* monotonic µs: the last trigger arrived */
	int64_t steer_us;               /* trigger -> RX on the standby; -1: nothing to steer */
	int64_t event_age_ms;           /* QEMU's event timestamp -> RX steered; -1: n/a */
	uint64_t retry_at_ms;           /* monotonic: no return attempt before (back-off) */
	unsigned retry_ms;
	int vf_deleted;                 /* QEMU said DEVICE_DELETED for v->vf_id, no VF since */
	char leaving[16 * 4 + 1];       /* the VF named in VF_LEAVING (escaped), until it vanished: a
					 * STATUS may still show it up, it is not "back" */
	unsigned losses, returns, resume_failures;
	unsigned flaps;                 /* losses in a row, each soon after a return */
	uint64_t t_returned_ms;         /* monotonic: the last return to the fast path */
	enum { VFW_HV_UNKNOWN, VFW_HV_ASKING, VFW_HV_PRESENT } hv;  /* the VF in the VM? */
	unsigned hv_refusals;           /* the guest said VF up, the hypervisor showed none */
	struct loop_timer *timer;       /* steering retry, return back-off */
	struct fastpath fp;             /* back to the fast path (VF_AWAY: waiting) */
};

int vfw_init(struct vm *v);
void vfw_fini(struct vm *v);
/* Inputs (ops/idle.c, after the running operation saw them). */
void vfw_on_hv_event(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms);
void vfw_on_guest_event(struct vm *v, const struct hb_event *e);
void vfw_on_guest(struct vm *v);        /* STATUS, session up/down */
/* The answer to the watch's own RESUME_FAST_PATH (request cookie vfw_cookie(v)). */
void vfw_on_answer(struct vm *v, uint16_t req_type, const struct hb_msg *ans, int res);
void *vfw_cookie(struct vm *v);
/* For operations: -EBUSY with err set while the watch is bringing the VF back (a
 * RESUME_FAST_PATH is outstanding: the guest would refuse a PREPARE_SWITCH). */
int vfw_busy(const struct vm *v, char *err, size_t errlen);
/* QEMU removed the VM's VF device (DEVICE_DELETED) and none came back since. */
int vfw_vf_deleted(const struct vm *v);
json_t *vfw_to_json(const struct vm *v);
const char *vfw_state_name(enum vfw_state s);
const char *vfw_trigger_name(enum vfw_trigger t);

#endif
