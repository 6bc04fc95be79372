/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/steps.h — the switch steps every operation is made of, written
 * once: migrate.c, drill.c and vfwatch.c call these instead of their own copies.
 *
 *   step_rx_to          RX for the VM's MAC to a port of the eswitch; only a steer that
 *                       happened is journalled
 *   step_pin_tx_standby the guest's TX to the standby (PREPARE_SWITCH)
 *   step_vf_plug        a VF device into the VM, built from its configuration
 *   step_resume_fast_path  RESUME_FAST_PATH (the guest's TX back to its VF)
 *
 * Back to the fast path — wait for the VF, RX to the VF port, RESUME_FAST_PATH, the
 * answer — is the sub-machine in fastpath.c built from these.
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

#endif
