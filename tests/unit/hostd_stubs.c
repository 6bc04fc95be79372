// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/unit/hostd_stubs.c — hostd.c's registry for unit tests that link the
 * daemon's objects without hostd.c (test_hostd_drill, test_hostd_evacuate,
 * test_migrate, test_vfwatch; the last two through tests/unit/hostd_harness.c);
 * hlog() is in tests/unit/hlog_stub.c.
 */
#include <errno.h>
#include <string.h>

#include "host-agent/hostd/hostd.h"
#include "host-agent/hostd/vm.h"

struct vm *hostd_vm(struct hostd *d, const char *name)
{
	size_t i;

	for (i = 0; i < CFG_MAX_VMS; i++)
		if (d->vms[i] && !strcmp(d->vms[i]->cfg.name, name))
			return d->vms[i];
	return NULL;
}

int hostd_vm_add(struct hostd *d, const struct vm_config *vc, char *err, size_t errlen)
{
	(void)d;
	(void)vc;
	(void)err;
	(void)errlen;
	return -ENOSYS;
}

int hostd_vm_del(struct hostd *d, const char *name, char *err, size_t errlen)
{
	(void)d;
	(void)name;
	(void)err;
	(void)errlen;
	return -ENOSYS;
}

void hostd_peer_msg(struct hostd *d, struct peer_conn *pc, const struct hb_msg *m)
{
	(void)d;
	(void)pc;
	(void)m;
}
