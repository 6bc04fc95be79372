/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/registry.h — the daemon's VM table: VMs from hostd.conf and
 * `hybond vm add`, each with the background handler of ops/idle.c (journal
 * recovery at its first loop turn, the VF watch, migrations nobody announced).
 */
#ifndef HYBOND_REGISTRY_H
#define HYBOND_REGISTRY_H

#include <stddef.h>

#include "config.h"

struct hostd;
struct vm;

struct vm *hostd_vm(struct hostd *d, const char *name);
/* Register (and attach when it runs here or is a libvirt domain); 0 or negative
 * errno with err saying why. */
int hostd_vm_add(struct hostd *d, const struct vm_config *vc, char *err, size_t errlen);
/* -EBUSY while a migration runs; a drill or snapshot in progress is freed with it. */
int hostd_vm_del(struct hostd *d, const char *name, char *err, size_t errlen);

#endif
