// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/registry.c — the daemon's VM table (see registry.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "host-agent/hostd/hv/hv_libvirt.h"
#include "host-agent/hostd/ops/idle.h"
#include "registry.h"
#include "vm.h"

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
	struct vm *v;
	size_t i;
	int rc;

	rc = vm_config_check(vc, err, errlen);
	if (rc)
		return rc;
	if (hostd_vm(d, vc->name)) {
		(void)snprintf(err, errlen, "VM %s exists (hybond vm del first)", vc->name);
		return -EEXIST;
	}
	for (i = 0; i < CFG_MAX_VMS && d->vms[i]; i++)
		;
	if (i == CFG_MAX_VMS) {
		(void)snprintf(err, errlen, "more than %d VMs", CFG_MAX_VMS);
		return -ENOSPC;
	}
	if (vm_config_libvirt(vc) && !d->libvirt_up) {
		/* one libvirt connection (and its event thread) for every libvirt VM */
		rc = hv_libvirt_init(d->l, d->cfg.libvirt_uri, err, errlen);
		if (rc)
			return rc;
		d->libvirt_up = 1;
	}
	v = vm_new(d, vc, &idle_bg_ops);
	if (!v)
		return -ENOMEM;
	if (v->here || vm_config_libvirt(vc)) {
		rc = vm_attach(v, err, errlen);
		if (rc) {
			vm_free(v);
			return rc;
		}
	}
	d->vms[i] = v;
	hlog(HLOG_INFO, "vm %s: registered (%s, %s)", vc->name, vm_mode_name(vc->mode),
	     vm_config_libvirt(vc) ? "libvirt domain" : v->here ? "runs here" : "may arrive here");
	return 0;
}

int hostd_vm_del(struct hostd *d, const char *name, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < CFG_MAX_VMS; i++)
		if (d->vms[i] && !strcmp(d->vms[i]->cfg.name, name)) {
			if (d->vms[i]->op && d->vms[i]->op->ops->places_vm) {
				(void)snprintf(err, errlen, "vm %s: a migration is in progress", name);
				return -EBUSY;
			}
			vm_free(d->vms[i]);
			d->vms[i] = NULL;
			return 0;
		}
	(void)snprintf(err, errlen, "no VM '%s'", name);
	return -ENOENT;
}
