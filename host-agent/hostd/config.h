/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/config.h — /etc/hybond/hostd.conf (format: hostd.conf.5).
 *
 *   # global
 *   host = A
 *   ctl_socket = /run/hybond/hostd.sock
 *   peer_listen = 198.19.250.1:16515     # TCP + mutual TLS (docs/peer-tls.md)
 *   [peer B]
 *   socket = /run/hybond/peer-B.sock    # unix (lab), or:
 *   address = 198.19.250.2:16515        # TCP + mutual TLS
 *   tls_name = hb-b.example.org         # the name in B's certificate
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
#include <sys/socket.h>

#define CFG_NAME_MAX   64
#define CFG_PATH_MAX   256
#define CFG_CMD_MAX    512
#define CFG_MAX_PEERS  8
#define CFG_MAX_VMS    32
#define CFG_ADDR_MAX   64              /* "[v6 literal]:port" */
#define CFG_DNS_MAX    253             /* a DNS name or an IP literal */
#define CFG_PRIO_MAX   256

#define CFG_TXQLEN_DEF            4096u
#define CFG_VF_UP_TIMEOUT_MS_DEF  40000u
#define CFG_PREPARE_DEADLINE_MS_DEF 2000u
#define CFG_RESUME_DEADLINE_MS_DEF  10000u
#define CFG_HOOK_WAIT_MS_DEF      10000u   /* < the hook's own 15 s bound */

/* TLS on the peer channel: libvirt's /etc/pki layout (docs/peer-tls.md) */
#define CFG_TLS_CA_DEF        "/etc/pki/CA/cacert.pem"
#define CFG_TLS_CERT_DEF      "/etc/pki/hybond/servercert.pem"
#define CFG_TLS_KEY_DEF       "/etc/pki/hybond/private/serverkey.pem"
#define CFG_TLS_PRIORITY_DEF  "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

enum vm_mode { VM_MODE_FAILOVER = 0, VM_MODE_BOND = 1 };

/* (a new field: compare it in reload.c's vm_same too) */
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
	char launcher[CFG_CMD_MAX];     /* destination: starts the incoming QEMU (libvirt:
					 * prepares what the incoming domain needs, e.g. taps) */
	char hv[16];                    /* qmp (default) | libvirt */
	char domain[CFG_NAME_MAX + 1];  /* libvirt: the domain's name (default: the VM's) */
	char vf_pci[16];                /* libvirt: the VF (dddd:bb:ss.f) this host gives the
					 * domain when it arrives (hook: XML rewritten) */
	char cleanup[CFG_CMD_MAX];      /* after the VM left (source) or an abort (dest.) */
};

/* A peer daemon: a unix socket (lab) XOR a TCP address with mutual TLS. */
struct peer_config {
	char name[CFG_NAME_MAX + 1];
	char socket[CFG_PATH_MAX];
	char address[CFG_ADDR_MAX];     /* IPv4:PORT or [IPv6]:PORT (literals only) */
	char tls_name[CFG_DNS_MAX + 1]; /* identity in its certificate; default: address's host */
	char libvirt_uri[CFG_PATH_MAX]; /* libvirt: how this host's libvirtd reaches the peer's */
	char migrate_uri[CFG_PATH_MAX]; /* libvirt: QEMU's migration URI to the peer (optional) */
	unsigned line;                  /* of its [peer NAME] line, for messages */
};

struct hostd_config {
	char host[CFG_NAME_MAX + 1];
	char ctl_socket[CFG_PATH_MAX];
	char ctl_group[CFG_NAME_MAX + 1];
	char peer_socket[CFG_PATH_MAX]; /* where this daemon listens for peers */
	char peer_listen[CFG_ADDR_MAX]; /* TCP + mutual TLS listener, ADDR:PORT */
	char tls_ca[CFG_PATH_MAX], tls_cert[CFG_PATH_MAX], tls_key[CFG_PATH_MAX];
	char tls_crl[CFG_PATH_MAX];     /* optional */
	char tls_priority[CFG_PRIO_MAX];
	char state_dir[CFG_PATH_MAX];
	char uplink[16];                /* announce (RARP) out of this link */
	char libvirt_uri[CFG_PATH_MAX]; /* this host's libvirtd ("" = libvirt's default) */
	uint32_t libvirt_coordinate;    /* hook: ask the source daemon first (1) or not (0) */
	uint32_t hook_wait_ms;          /* hook: how long the destination waits for the source */
	uint32_t txqueuelen;            /* destination standby tap: rate x worst downtime */
	uint32_t sched_fifo;            /* SCHED_FIFO priority of the daemon, 0 = normal */
	uint32_t vf_up_timeout_ms;
	uint32_t prepare_deadline_ms, resume_deadline_ms;
	uint32_t vf_watch;              /* react to a VF that leaves without notice (1, default) */
	uint32_t guest_sentry;          /* read guest channels in the unprivileged sentry (1) */
	uint32_t peer_sentry;           /* ... and TLS peers' frames in a second one (1) */
	char sentry_user[CFG_NAME_MAX + 1]; /* its account ("": hybond-sentry, else nobody) */
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
/* The VM runs under libvirt (hv = libvirt); its domain name. */
int vm_config_libvirt(const struct vm_config *v);
const char *vm_config_domain(const struct vm_config *v);
const struct peer_config *config_peer(const struct hostd_config *c, const char *name);
/* The peer is reached over TCP + TLS (address =), not a unix socket. */
int config_peer_tls(const struct peer_config *p);
/* peer_listen or a TLS peer: the TLS credentials are needed. */
int config_uses_tls(const struct hostd_config *c);
/*
 * "IPv4:PORT" or "[IPv6]:PORT" (literals, no name resolution) into sa, salen;
 * host (may be NULL) gets the address part.  0, or -EINVAL with err set.
 */
int config_parse_hostport(const char *s, struct sockaddr_storage *sa, socklen_t *salen,
			  char *host, size_t hostlen, char *err, size_t errlen);
const char *vm_mode_name(enum vm_mode m);
/* host's default when hostd.conf has none: the hostname's first label */
int config_default_host(char *buf, size_t len);
int config_valid_name(const char *s);

#endif
