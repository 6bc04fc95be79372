/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/config.h — /etc/hybond/hostd.conf (format: hostd.conf.5).
 *
 *   # global
 *   host = A
 *   ctl_socket = /run/hybond/hostd.sock
 *   [peer B]
 *   socket = /run/hybond/peer-B.sock
 *   [vm vm1]
 *   mac = 52:54:00:18:00:10
 *   ...
 *
 * One "key = value" per line; '#' starts a comment line; unknown keys,
 * missing values and bad numbers are errors naming the file and line.
 */
#ifndef HYBOND_CONFIG_H
#define HYBOND_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CFG_NAME_MAX   64
#define CFG_PATH_MAX   256
#define CFG_CMD_MAX    512
#define CFG_MAX_PEERS  8
#define CFG_MAX_VMS    32

#define CFG_TXQLEN_DEF            4096u
#define CFG_VF_UP_TIMEOUT_MS_DEF  40000u
#define CFG_PREPARE_DEADLINE_MS_DEF 2000u
#define CFG_RESUME_DEADLINE_MS_DEF  10000u

enum vm_mode { VM_MODE_FAILOVER = 0, VM_MODE_BOND = 1 };

struct vm_config {
	char name[CFG_NAME_MAX + 1];
	char qmp[CFG_PATH_MAX];         /* "" on a destination until the launcher says */
	char agent[CFG_PATH_MAX];
	char mac[18];
	enum vm_mode mode;
	char standby_port[16], vf_port[16];
	char esw_kind[16];              /* bridge | sriov-legacy */
	char esw_bridge[16], esw_pf[16], esw_netns[CFG_PATH_MAX];
	/* how to plug a VF (bond mode, rollback): QMP device_add arguments */
	char vf_driver[32], vf_id[32], vf_bus[32], vf_netdev[32];
	char launcher[CFG_CMD_MAX];     /* destination: starts the incoming QEMU */
	char cleanup[CFG_CMD_MAX];      /* after the VM left (source) or an abort (dest.) */
};

struct peer_config {
	char name[CFG_NAME_MAX + 1];
	char socket[CFG_PATH_MAX];
};

struct hostd_config {
	char host[CFG_NAME_MAX + 1];
	char ctl_socket[CFG_PATH_MAX];
	char ctl_group[CFG_NAME_MAX + 1];
	char peer_socket[CFG_PATH_MAX]; /* where this daemon listens for peers */
	char state_dir[CFG_PATH_MAX];
	char uplink[16];                /* announce (RARP) out of this link */
	uint32_t txqueuelen;            /* destination standby tap: rate x worst downtime */
	uint32_t sched_fifo;            /* SCHED_FIFO priority of the daemon, 0 = normal */
	uint32_t vf_up_timeout_ms;
	uint32_t prepare_deadline_ms, resume_deadline_ms;
	struct peer_config peers[CFG_MAX_PEERS];
	size_t n_peers;
	struct vm_config vms[CFG_MAX_VMS];
	size_t n_vms;
};

void config_defaults(struct hostd_config *c);
void vm_config_defaults(struct vm_config *v, const char *name);
/* 0, or -errno / -EINVAL with err naming file:line and the problem. */
int config_load(struct hostd_config *c, const char *path, char *err, size_t errlen);
int config_parse(struct hostd_config *c, const char *text, const char *fname,
		 char *err, size_t errlen);
/* Set one key of a VM (config file and `hybond vm add` share it). */
int vm_config_set(struct vm_config *v, const char *key, const char *val, char *err, size_t errlen);
/* The VM is complete enough to be used; err says what is missing. */
int vm_config_check(const struct vm_config *v, char *err, size_t errlen);
const struct peer_config *config_peer(const struct hostd_config *c, const char *name);
const char *vm_mode_name(enum vm_mode m);
int config_valid_name(const char *s);

#endif
