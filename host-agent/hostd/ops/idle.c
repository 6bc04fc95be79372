// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/ops/idle.c — the VMs' background handler (see idle.h). */
#include <string.h>

#include "host-agent/hostd/vm.h"
#include "drill.h"
#include "idle.h"
#include "migrate.h"
#include "vfwatch.h"

/* ---- the one journal recovery pass ------------------------------------------------- */
void idle_journal_bad(void *arg, const char *file, const char *why, const char *moved_to)
{
	(void)arg;
	hlog(HLOG_WARN, "journal: %s: %s (moved to %s)", file, why, moved_to ? moved_to : "-");
}

static void recover_mig(void *arg, struct jrnl_op *op)
{
	struct vm *v = arg;

	if (!strcmp(op->vm, v->cfg.name) && op->kind == JRNL_MIGRATE)
		mig_recover(v, op);
}

static void recover_drill(void *arg, struct jrnl_op *op)
{
	struct vm *v = arg;

	if (!strcmp(op->vm, v->cfg.name) && (op->kind == JRNL_DRILL || op->kind == JRNL_SNAPSHOT))
		drill_recover(v, op);
}

/* What a previous daemon left for this VM: a migration first (it decides where the VM
 * runs), then a drill or snapshot is rolled back (the last finished one's figures are
 * loaded for status either way). */
static void idle_recover(struct vm *v)
{
	if (!v->d->j)
		return;
	(void)jrnl_load(v->d->j, &(struct jrnl_load_cb){ .ok = recover_mig,
							.bad = idle_journal_bad, .arg = v });
	(void)jrnl_load(v->d->j, &(struct jrnl_load_cb){ .ok = recover_drill,
							.bad = idle_journal_bad, .arg = v });
}

static void idle_hv_event(struct vm *v, enum hv_ev ev, const char *detail, uint64_t ts_ms)
{
	mig_watch_hv_event(v, ev, detail, ts_ms);
	vfw_on_hv_event(v, ev, detail, ts_ms);  /* after it: an operation may own it now */
}

static int idle_answer(struct vm *v, void *cookie, uint16_t req_type, const struct hb_msg *ans,
		       int res)
{
	if (!cookie || cookie != vfw_cookie(v))
		return 0;
	vfw_on_answer(v, req_type, ans, res);     /* the watch's own RESUME_FAST_PATH / PREPARE_SWITCH */
	return 1;
}

static void idle_to_json(const struct vm *v, json_t *o)
{
	(void)json_object_set_new(o, "vf_watch", vfw_to_json(v));
}

const struct vm_bg_ops idle_bg_ops = {
	.init = vfw_init, .fini = vfw_fini, .recover = idle_recover,
	.on_hv_event = idle_hv_event, .on_status = vfw_on_guest,
	.on_event = vfw_on_guest_event, .on_answer = idle_answer, .to_json = idle_to_json,
};
