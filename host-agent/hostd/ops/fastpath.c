// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/ops/fastpath.c — back to the fast path (see fastpath.h). */
#include <stdio.h>
#include <string.h>

#include "host-agent/hostd/vm.h"
#include "fastpath.h"
#include "steps.h"

void fastpath_init(struct fastpath *fp, struct vm *v, const struct fastpath_ops *ops,
		   void *owner, void *cookie, enum jrnl_steer *journal)
{
	memset(fp, 0, sizeof(*fp));
	fp->v = v;
	fp->ops = ops;
	fp->owner = owner;
	fp->cookie = cookie;
	fp->journal = journal;
}

static int vf_ready(struct fastpath *fp)
{
	return vm_vf_up(fp->v) && vm_guest_ready(fp->v) &&
	       (!fp->ops->may_try || fp->ops->may_try(fp->owner));
}

static int hand_over(struct fastpath *fp)
{
	fp->state = FASTPATH_IDLE;
	fp->ops->ready(fp->owner);      /* last: the owner may end itself */
	return 1;
}

int fastpath_wait(struct fastpath *fp, unsigned flags)
{
	struct vm *v = fp->v;

	fp->state = FASTPATH_WAITING;
	if ((flags & FASTPATH_POLL) && v->gc && v->session_up)
		(void)gc_status(v->gc, NULL, gc_now_ms());
	if ((flags & FASTPATH_NOW) && vf_ready(fp))
		return hand_over(fp);
	return 0;
}

int fastpath_on_guest(struct fastpath *fp)
{
	if (fp->state != FASTPATH_WAITING || !vf_ready(fp))
		return 0;
	return hand_over(fp);
}

static void finish(struct fastpath *fp, enum fastpath_outcome outcome, int rc,
		   const char *why)
{
	struct fastpath_result r = { .outcome = outcome, .rc = rc, .why = why };

	fp->state = FASTPATH_IDLE;
	fp->ops->done(fp->owner, &r);   /* last: the owner may end itself */
}

/* RX back to the standby the guest listens on; a failure is only logged (the owner goes
 * on, and retries where it can). */
static void rx_back(struct fastpath *fp)
{
	char err[256];

	if (!fp->keep_rx && step_rx_to_standby(fp->v, fp->journal, err, sizeof(err)))
		hlog(HLOG_WARN, "%s", err);
}

int fastpath_attempt(struct fastpath *fp, int keep_rx)
{
	char err[512];
	int rc;

	fp->keep_rx = keep_rx;
	rc = step_rx_to(fp->v, ESW_TO_VF, fp->journal, err, sizeof(err));
	if (rc) {
		finish(fp, FASTPATH_STEER_FAILED, rc, err);     /* RX where it was */
		return 0;
	}
	rc = step_resume_fast_path(fp->v, fp->cookie);
	if (rc >= 0) {
		fp->state = FASTPATH_ASKED;
		return 1;
	}
	(void)snprintf(err, sizeof(err), "RESUME_FAST_PATH: %s", strerror(-rc));
	rx_back(fp);
	finish(fp, FASTPATH_NOT_ASKED, rc, err);
	return 0;
}

int fastpath_on_answer(struct fastpath *fp, uint16_t req_type, const struct hb_msg *ans,
		       int res)
{
	const char *why;

	if (fp->state != FASTPATH_ASKED || req_type != HB_MSG_RESUME_FAST_PATH)
		return 0;
	why = gc_answer_failure(ans, res);
	if (!why && ans && ans->type == HB_MSG_FAST_PATH_UP &&
	    ans->u.fast_path_up.path == HB_PATH_FAST) {
		fp->v->pair.active = HB_PATH_FAST;      /* its STATUS follows */
		finish(fp, FASTPATH_UP, 0, NULL);
		return 1;
	}
	/* the guest does not use the VF: RX back to the standby it listens on */
	rx_back(fp);
	finish(fp, FASTPATH_REFUSED, res, why);
	return 1;
}

void fastpath_stop(struct fastpath *fp)
{
	fp->state = FASTPATH_IDLE;
}
