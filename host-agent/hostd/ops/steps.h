/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/steps.h — the switch steps every operation is made of, written
 * once: migrate.c, drill.c and vfwatch.c call these instead of their own copies.
 *
 *   step_rx_to          RX for the VM's MAC to a port of the eswitch; only a steer that
 *                       happened is journalled
 *   step_pin_tx_standby the guest's TX to the standby (PREPARE_SWITCH)
 *   step_vf_plug        a VF device into the VM, built from its configuration
 *   step_fast_path      back to the fast path once the guest reports its VF up: RX to
 *                       the VF port, then RESUME_FAST_PATH; step_fast_path_answer()
 *                       takes the guest's answer (RX back to the standby on a refusal)
 *
 * What differs between the operations — how long they wait for the VF, how they back
 * off, what a refusal means for them — stays in their own state machines.
 */
#ifndef HYBOND_STEPS_H
#define HYBOND_STEPS_H

#include <stddef.h>

#include <hybond/proto.h>

#include "host-agent/hostd/esw/esw.h"
#include "host-agent/hostd/hv/hv.h"
#include "host-agent/hostd/jrnl.h"

struct vm;

/* RX for the VM's MAC to `to`.  On success *journal (the operation's journal field;
 * NULL: none) says so; on failure it keeps what it said.  0, or negative errno with
 * err saying what failed ("vm N: steer to VF: …"). */
int step_rx_to(struct vm *v, enum esw_target to, enum jrnl_steer *journal, char *err,
	       size_t errlen);
/* The same to the standby, nothing done when RX is there already. */
int step_rx_to_standby(struct vm *v, enum jrnl_steer *journal, char *err, size_t errlen);

/* PREPARE_SWITCH(STANDBY) within prepare_deadline_ms, answer with cookie: gc's result
 * (>= 0 sent), -ENOTCONN without a guest session. */
int step_pin_tx_standby(struct vm *v, void *cookie);
/* RESUME_FAST_PATH within resume_deadline_ms: gc's result, -ENOTCONN without a session. */
int step_resume_fast_path(struct vm *v, void *cookie);

/* device_add of the VM's VF (vf_driver, vf_bus, mac, vf_netdev of its configuration)
 * under id; the hypervisor answers fn(arg).  0, or negative errno (-ENOTCONN: no
 * hypervisor session). */
int step_vf_plug(struct vm *v, const char *id, hv_done_fn fn, void *arg);

/* step_fast_path()'s outcome. */
enum step_fp {
	STEP_FP_ASKED = 0,      /* RX on the VF port, RESUME_FAST_PATH sent */
	STEP_FP_NOT_ASKED = 1,  /* RX was steered but the request could not be sent (err);
				 * RX is back on the standby unless keep_rx */
};
/* The guest reports its VF up: RX to the VF port (journalled), then RESUME_FAST_PATH
 * with cookie.  STEP_FP_ASKED, STEP_FP_NOT_ASKED, or negative errno when the steer
 * failed (RX where it was; err says why).  keep_rx: a request not sent leaves RX on
 * the VF port (the caller retries). */
int step_fast_path(struct vm *v, void *cookie, enum jrnl_steer *journal, int keep_rx,
		   char *err, size_t errlen);
/* The guest's answer to it (ans may be NULL, res: enum gc_result): 1 the guest is on
 * its fast path (pair.active is FAST until its STATUS says more); 0 it stays on the
 * standby: *why is the failure (NULL: it answered STANDBY), and RX goes back to the
 * standby unless keep_rx. */
int step_fast_path_answer(struct vm *v, const struct hb_msg *ans, int res,
			  enum jrnl_steer *journal, int keep_rx, const char **why);

#endif
