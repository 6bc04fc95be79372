/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/hv/hv_libvirt.h — setup of the libvirt hypervisor backend
 * (hv_libvirt_ops in hv.h, the same contract as hv_qmp).
 *
 * One libvirt connection serves every VM of the daemon.  hv_libvirt_init()
 * opens it, starts libvirt's event loop on a thread of its own and hooks a
 * wake-up eventfd into the daemon's loop: libvirt's callbacks and the
 * blocking libvirt calls (run on worker threads) hand their results to the
 * loop thread, where every hv_cb and hv_done_fn runs.  A lost connection
 * (libvirtd restarted) is re-opened with a back-off of 0.5 s doubling to 5 s;
 * every open VM is looked up again and gets on_ready once more.
 *
 * hv_libvirt_ops.open()'s target is the libvirt domain's name or UUID.
 */
#ifndef HYBOND_HV_LIBVIRT_H
#define HYBOND_HV_LIBVIRT_H

#include <stddef.h>

#include "host-agent/common/loop.h"

/*
 * Connect to uri ("" or NULL: libvirt's default URI) and start the backend's
 * threads.  Call once, on the loop thread, before any hv_libvirt_ops.open().
 * 0, or a negative errno with the reason (libvirt's message) in err:
 * -EALREADY (already set up), -ECONNREFUSED and friends (libvirt refused the
 * URI: is libvirtd running, is the URI right?), -ENOMEM, ...
 */
int hv_libvirt_init(struct loop *l, const char *uri, char *err, size_t errlen);

/*
 * Close every VM first (hv_libvirt_ops.close); then this closes the
 * connection and stops the threads.  It waits for libvirt calls still
 * running: a migration in flight runs to its end.  Callbacks of VMs left open
 * are dropped.  Safe to call when init failed or was never called.
 */
void hv_libvirt_fini(void);

/* 1 while the connection to libvirt is up. */
int hv_libvirt_connected(void);

/*
 * Drop the connection as if libvirtd had closed it and reconnect (tests; an
 * operator's "reconnect" after libvirtd was reconfigured).  Loop thread only.
 */
void hv_libvirt_reconnect(void);

#endif
