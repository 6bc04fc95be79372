/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* agent.h — hybond-guestd's state: pairs, their state machine, the session.
 *
 * The agent is driven by three inputs — rtnetlink link messages, frames
 * from the host, and time — and acts through a small ops table, so that the
 * unit tests can run it on captured kernel messages with a recording fake
 * (tests/unit/test_guest_agent.c) and the daemon with the real system
 * (sys.c).  Times are CLOCK_MONOTONIC microseconds passed in by the caller.
 *
 * Per pair:
 *
 *   IDLE ──PREPARE_SWITCH(STANDBY)──▶ DRAINING ──VF queues empty / deadline──▶ IDLE (pinned)
 *     ▲                                  │ standby not usable: ERROR, nothing changed
 *     └──── VF up (answer FAST_PATH_UP) ◀─ RESUMING ◀──RESUME_FAST_PATH── IDLE (pinned)
 *                                           │ deadline: FAST_PATH_UP STANDBY / ERROR NO_VF
 *
 * "pinned" is the TX decision: TX held on the standby (net_failover: egress
 * redirect on the master; bond: active slave = standby).  Not pinned: TX on
 * the VF whenever it is up (the kernel's own choice for net_failover; the
 * agent's for a bond, whose primary it clears).
 */
#ifndef GD_AGENT_H
#define GD_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hybond/proto.h>
#include <hybond/version.h>

#include "pair.h"
#include "shim.h"

#define GD_AGENT_NAME "hybond-guestd " HYBOND_VERSION

enum gd_state { GD_ST_IDLE = 0, GD_ST_DRAINING, GD_ST_RESUMING };

struct gd_pair {
	uint32_t id;
	bool present;             /* found in the table at the last reconcile */
	struct gd_pair_links l;
	bool ingress_ok;          /* standby accepts RX (tc ingress / all_slaves_active) */
	bool pinned;              /* TX held on the standby */
	bool pin_known;           /* failover: pin_applied reflects the kernel */
	bool pin_applied;         /* failover: the egress redirect is installed */
	enum gd_state state;
	/* the request being served (DRAINING / RESUMING) */
	uint32_t req_seq;
	uint64_t req_start_us;
	uint64_t deadline_us;
	uint64_t recheck_us;      /* 0 = none */
	/* last reported interface states, for EVENTs */
	int last_vf;
	int enslave_tried;         /* VF candidate we last tried to enslave */
	int leaving_vf;           /* kernel shim: this VF is being unplugged (0 = none) */
	bool release_pending;     /* kernel shim: its barrier waits for RELEASE, sent
				   * when the host has moved RX (PREPARE_SWITCH(STANDBY)) */
	bool host_rx_standby;     /* answered PREPARE_SWITCH(STANDBY), no RESUME since:
				   * the host has RX on the standby port */
	uint8_t last_up[3], last_carrier[3];
};

struct gd_agent;

struct gd_ops {
	/* Writes one encoded frame to the host; <0 when the port is closed. */
	int (*send)(void *ctx, const void *frame, size_t len);
	/* Makes the standby accept RX while a VF is registered (at discovery). */
	int (*accept_standby_rx)(void *ctx, const struct gd_agent *a, const struct gd_pair *p);
	/* Applies p->pinned: TX on the standby (true) or on the VF (false). */
	int (*apply_pin)(void *ctx, const struct gd_agent *a, const struct gd_pair *p);
	/* Enslaves a VF (bond pairs). */
	int (*enslave)(void *ctx, const struct gd_agent *a, const struct gd_pair *p, int ifindex);
	/* Creates the bond of a guest.conf entry. */
	int (*create_bond)(void *ctx, const struct gd_bond_conf *b);
	/* Enslaves a standby found by MAC into a configured bond. */
	int (*enslave_standby)(void *ctx, int bond, int ifindex);
	/* Packets still queued on the VF (qdisc backlog + BQL inflight);
	 * returns 0 when drained, 1 when not, <0 on error (treated as drained). */
	int (*queued)(void *ctx, const struct gd_agent *a, const struct gd_pair *p,
		      uint32_t *pkts);
	/* Gratuitous ARP + unsolicited NA for the master's addresses, out of ifindex. */
	int (*announce)(void *ctx, const struct gd_agent *a, const struct gd_pair *p, int ifindex);
	/* Kernel shim: HYBOND_CMD_RELEASE for that master (its unplug barrier
	 * may end: RX is off the leaving VF, or nobody will move it). */
	int (*shim_release)(void *ctx, int master);
	/* Optional: the clock, read again when an answer reports ELAPSED_US (the
	 * requests above take real time; tests leave it NULL). */
	uint64_t (*now_us)(void);
};

struct gd_agent {
	struct gd_table links;
	struct gd_pair pairs[HB_MAX_PAIRS];
	int npairs;
	uint32_t next_id;
	const struct gd_config *cfg;
	bool links_complete;      /* the initial dump is in: guest.conf bonds may be created */
	int conf_tried_bond[GD_MAX_BONDS];      /* guest.conf bonds: creation tried */
	int conf_tried_standby[GD_MAX_BONDS];   /* standby ifindex we tried to enslave */
	const struct gd_ops *ops;
	void *ctx;
	uint32_t caps;
	/* session with the host */
	bool connected;           /* the port has a peer */
	bool session;             /* HELLO / HELLO_ACK exchanged */
	uint16_t host_ver;        /* the session's protocol version (HELLO_ACK ver_use) */
	uint32_t seq;             /* our request counter */
	uint32_t hello_seq;
	uint64_t hello_due_us;    /* next HELLO (re)try, 0 = none */
	unsigned int hello_tries;
	uint64_t status_due_us;   /* next periodic STATUS */
	bool status_dirty;        /* send an unsolicited STATUS soon */
	/* counters */
	uint64_t frames_in, frames_bad, frames_out;
	uint8_t txbuf[HB_FRAME_MAX];
	struct hb_msg scratch;    /* big (STATUS): not on the stack */
};

void gd_agent_init(struct gd_agent *a, const struct gd_config *cfg, const struct gd_ops *ops,
		   void *ctx, uint32_t caps);
/* One RTM_NEWLINK / RTM_DELLINK (initial dump or monitor). */
void gd_agent_link_msg(struct gd_agent *a, const struct nlmsghdr *nlh, uint64_t now_us);
/* The initial RTM_GETLINK dump has been applied: only now does a guest.conf
 * bond that is not in the table really not exist (the dump is in ifindex
 * order, a bond made after its slaves comes last), so only now is it created. */
void gd_agent_links_complete(struct gd_agent *a, uint64_t now_us);
/* The port got a peer (HELLO goes out) or lost it. */
void gd_agent_channel(struct gd_agent *a, bool up, uint64_t now_us);
/* A frame from hb_stream_next(): rc is its return (1 or an error). */
void gd_agent_frame(struct gd_agent *a, int rc, const struct hb_frame *f, uint64_t now_us);
/* Timers: run what is due; gd_agent_next_us() says when to call again (0: never). */
void gd_agent_tick(struct gd_agent *a, uint64_t now_us);
uint64_t gd_agent_next_us(const struct gd_agent *a);

/* The kernel shim's "events" group: subscribed (true) or not.  Sets
 * HB_CAP_KMOD_SHIM for the next HELLO / HELLO_ACK; a session already open
 * keeps its capabilities (a HELLO in the middle of a session would make the
 * host abandon its requests, protocol.md HELLO). */
void gd_agent_shim(struct gd_agent *a, bool subscribed);
/* One event of the kernel shim (gd_shim_parse()).  UNPLUG_STARTING of a
 * pair's VF: EVENT VF_LEAVING at once (once per VF), then TX held on the
 * standby until RESUME_FAST_PATH, as for a VF that vanished; the barrier is
 * released (ops->shim_release) at once when no host will move RX (no
 * session, not our pair) or the host already has (answered
 * PREPARE_SWITCH(STANDBY), no RESUME_FAST_PATH since), else when the host's
 * PREPARE_SWITCH(STANDBY) for the pair arrives (it moves RX first), or the
 * session ends; DRAINED: logged; the others: debug log only (rtnetlink
 * drives the pairs). */
void gd_agent_shim_event(struct gd_agent *a, const struct gd_shim_ev *ev, uint64_t now_us);

/* Helpers for status printing. */
struct gd_pair *gd_agent_pair(struct gd_agent *a, uint32_t id);
uint8_t gd_pair_active(const struct gd_agent *a, const struct gd_pair *p);
/* Fills m (type STATUS) with every pair, or only pair_id when non-zero. */
int gd_agent_fill_status(struct gd_agent *a, struct hb_msg *m, uint32_t pair_id);
const char *gd_state_name(enum gd_state s);

#endif
