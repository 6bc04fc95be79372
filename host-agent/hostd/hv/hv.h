/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/hv/hv.h — the hypervisor backend as a small ops table.  hv_qmp.c
 * drives a plain QEMU through its QMP socket; a libvirt backend can implement
 * the same table later.  All calls are asynchronous: the result comes back
 * through a hv_done_fn exactly once; events through hv_cb.on_event.
 */
#ifndef HYBOND_HV_H
#define HYBOND_HV_H

#include <stdint.h>

#include "host-agent/common/loop.h"
#include "qmp.h"

enum hv_ev {
	HV_EV_STOP = 1,                 /* the VM stopped (stop-and-copy began) */
	HV_EV_RESUME,                   /* the VM runs (destination: after incoming) */
	HV_EV_MIGRATION,                /* status changed: detail = the status */
	HV_EV_UNPLUG_PRIMARY,           /* failover: QEMU asked the guest to unplug */
	HV_EV_FAILOVER_NEGOTIATED,      /* failover: the guest acked; QEMU re-plugs the primary */
	HV_EV_DEVICE_DELETED,           /* detail = device id */
	HV_EV_SHUTDOWN,
};

struct hv;

struct hv_result {
	int err;                        /* 0 or negative errno */
	const char *msg;                /* the hypervisor's reason when err */
	struct qmp_migrate_info mig;    /* query_migrate */
	int running;                    /* query_status */
	char status[32];
	int present;                    /* query_vf: the device is in the VM (by its id, or
					 * a device behind the VF's root port bus) */
};

typedef void (*hv_done_fn)(void *arg, const struct hv_result *r);

struct hv_cb {
	void (*on_ready)(void *arg);
	void (*on_event)(void *arg, enum hv_ev ev, const char *detail, uint64_t ts_ms);
	void (*on_closed)(void *arg, int err);
};

/* What to hot-plug as the VF. */
struct hv_vf {
	const char *driver, *id, *bus, *mac, *netdev, *failover_pair_id, *romfile, *host;
};

struct hv_ops {
	const char *kind;
	struct hv *(*open)(struct loop *l, const char *target, const struct hv_cb *cb, void *arg,
			   const char *name, int *err);
	void (*close)(struct hv *h);
	int (*ready)(const struct hv *h);
	int (*migrate_out)(struct hv *h, const char *uri, hv_done_fn fn, void *arg);
	int (*accept_incoming)(struct hv *h, const char *uri, hv_done_fn fn, void *arg);
	int (*migrate_cancel)(struct hv *h, hv_done_fn fn, void *arg);
	int (*query_migrate)(struct hv *h, hv_done_fn fn, void *arg);
	int (*query_status)(struct hv *h, hv_done_fn fn, void *arg);
	int (*vf_unplug)(struct hv *h, const char *id, hv_done_fn fn, void *arg);
	int (*vf_plug)(struct hv *h, const struct hv_vf *vf, hv_done_fn fn, void *arg);
	/* Is device ID in the VM (a rollback after a crash: was the VF unplugged)?  With
	 * bus (the VF's root port, NULL: none), a device behind it counts too: an operator
	 * re-plugs a VF under another id (the VF watch's evidence). */
	int (*query_vf)(struct hv *h, const char *id, const char *bus, hv_done_fn fn,
			void *arg);
	int (*cont)(struct hv *h, hv_done_fn fn, void *arg);
	int (*quit)(struct hv *h, hv_done_fn fn, void *arg);
	/*
	 * Optional (NULL in hv_qmp): the hypervisor's last error text for this VM,
	 * "" when none; valid until the next call into the backend.  libvirt: the
	 * reason behind a MIGRATION "failed" event it synthesized (libvirt's own
	 * message), or of the last call that failed.
	 */
	const char *(*last_error)(const struct hv *h);
	/*
	 * Optional (NULL in hv_qmp, whose snapshot is migrate_out to "exec:cat > FILE" +
	 * cont): a live memory snapshot to FILE (absolute) through the hypervisor's own
	 * API, which pauses the VM for the last copy and runs it again before answering.
	 * fn once: 0 with the save's statistics in mig (status "completed"), or the
	 * hypervisor's reason.  STOP, RESUME, MIGRATION and UNPLUG_PRIMARY arrive as
	 * events meanwhile; QEMU's MIGRATION "completed" comes before fn (the hypervisor
	 * is not done yet), "failed"/"cancelled" before fn's error.  libvirt: an external
	 * memory snapshot without metadata (a save image: `virsh restore FILE`).
	 */
	int (*snapshot_save)(struct hv *h, const char *file, hv_done_fn fn, void *arg);
	/*
	 * Optional (NULL: migrate_out(SNAP_REPLUG_URI), snapshot.h): make QEMU re-plug the
	 * failover primary it hid for a migration that completed, by a migration that
	 * fails at once, outside the hypervisor's own jobs.  fn: QEMU took the command.
	 */
	int (*failover_replug)(struct hv *h, hv_done_fn fn, void *arg);
};

extern const struct hv_ops hv_qmp_ops;
/* libvirt (hv_libvirt.c, set up with hv_libvirt_init() in hv_libvirt.h) */
extern const struct hv_ops hv_libvirt_ops;

/* CLOCK_REALTIME ms (events and the journal; the probe uses the same clock). */
uint64_t hv_realtime_ms(void);

#endif
