/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/drill.h — local switch operations on one host, as one explicit
 * state machine: the drill (`hybond drill`: standby and back N times under
 * hybond-probe) and the snapshot (`hybond snapshot`: standby, VF out, state
 * to a file, VF back, fast path).  The snapshot-specific QEMU steps are in
 * snapshot.c.  Reading drill.c in order tells the story (docs/host-agent.md).
 */
#ifndef HYBOND_DRILL_H
#define HYBOND_DRILL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <hybond/proto.h>

#include "bounds.h"
#include "op.h"

struct vm;

#define DRILL_PHASES(P) \
	P(PREFLIGHT) P(PROBE_START) P(STEER_STANDBY) P(SWITCH_TX) P(ON_STANDBY) \
	P(UNPLUG_VF) P(SAVE) P(CONT) P(REPLUG_VF) P(WAIT_VF) P(STEER_VF) P(RESUME) \
	P(SETTLE) P(REPORT) P(DONE) \
	P(ROLLBACK) P(RB_REPLUG) P(RB_WAIT_VF) P(RB_STEER_VF) P(RB_RESUME) P(FAILED)

#define DRILL_ENUM_(n) DRILL_##n,
enum drill_phase { DRILL_PHASES(DRILL_ENUM_) DRILL_N_PHASES };
#undef DRILL_ENUM_

enum drill_kind { DRILL_KIND_DRILL, DRILL_KIND_SNAPSHOT };


/* What the operator asked for (the control request). */
struct drill_req {
	enum drill_kind kind;
	unsigned cycles;                /* drill: 1..DRILL_MAX_CYCLES */
	int unplug;                     /* drill: device_del + re-plug the VF each cycle */
	char file[256];                 /* snapshot: absolute path of the state file */
	/* the prober: none when target is "" */
	char probe_kind[8];             /* "udp" (guest's echo responder) or "icmp" */
	char probe_target[64];          /* udp: IP:PORT, icmp: IP */
	char probe_netns[64];           /* /run/netns/NAME to run it in; "" = the daemon's */
	unsigned rate_pps;
};

/* The static plan: which phase follows which on the way without failure. */
struct drill_plan {
	enum drill_kind kind;
	int bond;                       /* guest mode bond (else failover) */
	int unplug;                     /* drill --unplug */
	int qemu_primary;               /* failover primary under QEMU's control (-device id) */
	int probe;                      /* a prober runs */
	unsigned cycle, cycles;         /* current (1-based) and total */
};
enum drill_phase drill_next(const struct drill_plan *p, enum drill_phase cur);
const char *drill_phase_name(enum drill_phase p);
int drill_phase_from_name(const char *name);    /* -1: unknown */

/*
 * Attribute the probe's outages to windows: each outage belongs to the window
 * whose start (realtime s) is the last one <= the outage's first lost packet.
 * Returns {"windows":[{cycle, phase, start_ms, lost_to_guest, lost_from_guest,
 * lost, outages, outage_ms, longest_outage_ms}…], "before": {…}} (start_ms
 * relative to the first window).  Windows must be in time order.
 */
struct drill_win {
	unsigned cycle;
	const char *phase;              /* "to_standby", "on_standby", "paused", "back_to_vf" */
	double start_s;                 /* CLOCK_REALTIME seconds */
};
json_t *drill_attribute(json_t *probe, const struct drill_win *w, size_t n);
/* The windows of drill_attribute()'s result summed per phase name (the short form
 * status keeps): {"to_standby": {lost_to_guest, …, longest_outage_ms}, …}. */
json_t *drill_per_phase(json_t *att);

/* Starting, from the control socket.  0, or negative errno with err set. */
int drill_start(struct vm *v, const struct drill_req *rq, const struct op_sink *sink,
		char *err, size_t errlen);
/* Journal recovery (ops/idle.c's one pass): roll back what a previous daemon left
 * (VM.drill.json / VM.snapshot.json), or load the last finished one's figures. */
struct jrnl_op;
void drill_recover(struct vm *v, const struct jrnl_op *op);
json_t *drill_to_json(const struct vm *v);      /* the operation in progress or null */
void drill_free(struct vm *v);

#endif
