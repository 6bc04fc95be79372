// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/ops/steps.c — the switch steps (see steps.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host-agent/hostd/vm.h"
#include "steps.h"

static enum jrnl_steer journal_of(enum esw_target to)
{
	return to == ESW_TO_VF ? JRNL_STEER_VF : to == ESW_TO_STANDBY ? JRNL_STEER_STANDBY :
	       JRNL_STEER_NONE;
}

int step_rx_to(struct vm *v, enum esw_target to, enum jrnl_steer *journal, char *err,
	       size_t errlen)
{
	int rc = vm_steer(v, to, err, errlen);

	if (!rc && journal)
		*journal = journal_of(to);
	return rc;
}

int step_rx_to_standby(struct vm *v, enum jrnl_steer *journal, char *err, size_t errlen)
{
	if (v->rx_steer == ESW_TO_STANDBY)
		return 0;
	return step_rx_to(v, ESW_TO_STANDBY, journal, err, errlen);
}

int step_pin_tx_standby(struct vm *v, void *cookie)
{
	if (!v->gc || !vm_guest_ready(v))
		return -ENOTCONN;
	return gc_prepare_switch(v->gc, v->pair.id, HB_PATH_STANDBY,
				 v->d->cfg.prepare_deadline_ms, cookie, gc_now_ms());
}

int step_resume_fast_path(struct vm *v, void *cookie)
{
	if (!v->gc || !vm_guest_ready(v))
		return -ENOTCONN;
	return gc_resume_fast_path(v->gc, v->pair.id, v->d->cfg.resume_deadline_ms, cookie,
				   gc_now_ms());
}

int step_vf_plug(struct vm *v, const char *id, hv_done_fn fn, void *arg)
{
	const struct vm_config *c = &v->cfg;
	struct hv_vf vf = { .driver = c->vf_driver, .id = id, .bus = c->vf_bus[0] ? c->vf_bus : NULL,
			    .mac = c->mac, .netdev = c->vf_netdev[0] ? c->vf_netdev : NULL,
			    .romfile = "" };

	if (!v->hv)
		return -ENOTCONN;
	return v->hvo->vf_plug(v->hv, &vf, fn, arg);
}
