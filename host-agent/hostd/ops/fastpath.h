/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/ops/fastpath.h — back to the fast path: the one sub-machine every
 * operation that brings a VM back onto its VF runs (the destination of a migration,
 * a migration's rollback, a drill and its rollback, the VF watch).
 *
 *   IDLE --fastpath_wait()--> WAITING
 *   WAITING --the guest reports its VF up (and the owner's may_try agrees)--> ready()
 *   fastpath_attempt(): RX to the VF port (journalled), RESUME_FAST_PATH --> ASKED
 *                       (steer failed, request not sent --> done())
 *   ASKED --the guest's answer--> done(): FASTPATH_UP or FASTPATH_REFUSED (RX back on
 *                                 the standby unless keep_rx)
 *
 * Never steer to the VF before the guest says it is up: frames sent to a VF the guest
 * has not enslaved are lost.  What differs between the owners stays theirs: how long
 * they wait for the VF (their own timer), how they back off, what a refusal means.
 * ready() is where the owner enters its phase (journal, report) and calls
 * fastpath_attempt(); ready() and done() are always the last thing the sub-machine does,
 * so an owner may end (and free) itself in them.
 */
#ifndef HYBOND_FASTPATH_H
#define HYBOND_FASTPATH_H

#include <stdint.h>

#include <hybond/proto.h>

#include "host-agent/hostd/jrnl.h"

struct vm;

enum fastpath_state { FASTPATH_IDLE, FASTPATH_WAITING, FASTPATH_ASKED };

enum fastpath_outcome {
	FASTPATH_UP,            /* the guest is on its fast path (pair.active FAST) */
	FASTPATH_REFUSED,       /* it answered STANDBY, refused or timed out (why) */
	FASTPATH_NOT_ASKED,     /* RX was steered, RESUME_FAST_PATH could not be sent */
	FASTPATH_STEER_FAILED,  /* RX could not move to the VF port: where it was */
};

struct fastpath_result {
	enum fastpath_outcome outcome;
	int rc;                 /* STEER_FAILED, NOT_ASKED: negative errno; REFUSED: enum
				 * gc_result */
	const char *why;        /* what failed, whole (NULL for UP; REFUSED: NULL = it
				 * answered STANDBY) */
};

struct fastpath_ops {
	/* The guest's VF is up: enter the owner's phase and call fastpath_attempt(). */
	void (*ready)(void *owner);
	/* The attempt's outcome. */
	void (*done)(void *owner, const struct fastpath_result *r);
	/* Optional: may the owner try now (its back-off, its own view of the VF)? */
	int (*may_try)(void *owner);
};

struct fastpath {
	struct vm *v;
	const struct fastpath_ops *ops;
	void *owner;
	void *cookie;                   /* of the owner's RESUME_FAST_PATH */
	enum jrnl_steer *journal;       /* the owner's journal field for RX (NULL: none) */
	enum fastpath_state state;
	int keep_rx;                    /* of the attempt in flight */
};

void fastpath_init(struct fastpath *fp, struct vm *v, const struct fastpath_ops *ops,
		   void *owner, void *cookie, enum jrnl_steer *journal);

/* fastpath_wait()'s flags. */
#define FASTPATH_POLL  1u       /* ask the guest for a fresh STATUS (its answer decides) */
#define FASTPATH_NOW   2u       /* its VF up already: ready() now */
/* Wait for the guest to report its VF up.  1 when ready() ran (the owner may be gone:
 * touch nothing), 0 when it waits. */
int fastpath_wait(struct fastpath *fp, unsigned flags);
/* The guest's view changed (STATUS, EVENT, session): WAITING -> ready() when its VF is
 * up.  1 when ready() ran, as above. */
int fastpath_on_guest(struct fastpath *fp);
/* RX to the VF port, then RESUME_FAST_PATH; keep_rx: a request not sent or refused
 * leaves RX on the VF port (the owner retries soon).  1: asked (the answer comes
 * through fastpath_on_answer()); 0: done() ran with the failure. */
int fastpath_attempt(struct fastpath *fp, int keep_rx);
/* A guest answer: 1 when it was this sub-machine's (done() ran), 0 when not. */
int fastpath_on_answer(struct fastpath *fp, uint16_t req_type, const struct hb_msg *ans,
		       int res);
/* Forget what is waiting or asked (the owner changed its mind: timeout, cancel). */
void fastpath_stop(struct fastpath *fp);

#endif
