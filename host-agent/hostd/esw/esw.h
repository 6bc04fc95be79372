/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/esw/esw.h — the eswitch backend interface: who receives the frames
 * for a VM's MAC, the VF or the standby (virtio) path.
 *
 * Like net_failover's ops, the generic part (netlink socket, namespaces,
 * errors) is split from the policy of each eswitch through a small ops table:
 *
 *   bridge        a Linux bridge models the NIC's embedded switch (the lab):
 *                 a static sticky FDB entry per VM MAC, learning off on VF
 *                 ports; steering = ONE RTM_NEWNEIGH NLM_F_REPLACE that moves
 *                 the entry to the other port (no window without an entry).
 *   sriov-legacy  a real PF in legacy SR-IOV mode: RTM_NEWLINK on the PF with
 *                 IFLA_VFINFO_LIST; steering = the VF's MAC filter set (RX to
 *                 the VF) or cleared (RX falls back to the PF, where the
 *                 standby's tap sits on a bridge over the PF).
 *
 * Every call is synchronous (one request, one ACK; the kernel answers at
 * once) and returns 0 or a negative errno; esw_errmsg() then says what failed
 * and what to do.  The netlink socket is opened inside the given network
 * namespace (setns there and back on the calling thread), or in the current
 * one when no namespace is given.
 */
#ifndef HYBOND_ESW_H
#define HYBOND_ESW_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nlmsghdr;
struct esw;

enum esw_port_kind {
	ESW_PORT_VF = 1,        /* bridge: the VF's tap port; sriov: VF number */
	ESW_PORT_STANDBY = 2,   /* bridge: the standby's tap port; sriov: the PF */
};

struct esw_port {
	enum esw_port_kind kind;
	int ifindex;            /* bridge: the port; sriov: the PF */
	int vf;                 /* sriov: VF number; -1 otherwise */
	char name[IF_NAMESIZE]; /* link name ("" for a VF without a netdev) */
	char pci[16];           /* sriov VF: PCI address, e.g. 0000:03:10.0 */
};

enum esw_target {
	ESW_TO_VF = 1,          /* RX for the MAC goes to the VF */
	ESW_TO_STANDBY,         /* RX for the MAC goes to the standby path */
	ESW_TO_NONE,            /* no steering entry at all (VM gone from this host) */
};

struct esw_steer_req {
	uint8_t mac[6];
	uint16_t vlan;                  /* 0: untagged / no VLAN */
	const struct esw_port *vf;      /* the VM's VF port (required) */
	const struct esw_port *standby; /* the VM's standby port (bridge: required) */
	enum esw_target to;
};

#define ESW_LEAVE (-1)          /* esw_vf_cfg tri-state: do not touch */

struct esw_vf_cfg {
	bool set_mac;
	uint8_t mac[6];         /* 00:00:00:00:00:00 clears the VF's MAC filter */
	bool set_vlan;
	uint16_t vlan;          /* 0 removes the VF's port VLAN */
	uint8_t qos;
	uint16_t vlan_proto;    /* 0 or ETH_P_8021Q: IFLA_VF_VLAN; ETH_P_8021AD: VLAN_LIST */
	int spoofchk;           /* ESW_LEAVE, 0, 1 */
	int trust;              /* ESW_LEAVE, 0, 1 */
	int link_state;         /* ESW_LEAVE or IFLA_VF_LINK_STATE_{AUTO,ENABLE,DISABLE} */
	int learning;           /* bridge only: ESW_LEAVE, 0, 1 (VF ports: 0) */
};

/* Fill fields with ESW_LEAVE / false. */
void esw_vf_cfg_init(struct esw_vf_cfg *cfg);

/* Test hook: requests are handed here instead of the kernel. */
typedef int (*esw_xmit_fn)(void *arg, const struct nlmsghdr *nlh);

struct esw_config {
	const char *kind;       /* "bridge" or "sriov-legacy" */
	const char *netns;      /* name under /run/netns, or an absolute path; NULL: current */
	const char *bridge;     /* bridge: the bridge device (e.g. "br0") */
	const char *pf;         /* sriov-legacy: the PF netdev (e.g. "enp3s0f0") */
	const char *sysfs_root; /* sriov-legacy: NULL = "/sys" (tests: a fake tree) */
	bool pf_uc_filter;      /* sriov: while steered to standby, put the MAC in the
	                         * PF's own unicast filter (NTF_SELF FDB entry) */
	bool vf_link_disable;   /* sriov: while steered to standby, VF link_state disable */
	esw_xmit_fn xmit;       /* tests only: no socket; requests go here */
	void *xmit_arg;
};

struct esw_ops {
	const char *kind;
	int (*open)(struct esw *e, const struct esw_config *cfg);
	int (*port_lookup)(struct esw *e, const char *name, enum esw_port_kind kind,
			   struct esw_port *out);
	int (*steer)(struct esw *e, const struct esw_steer_req *req);
	int (*program_vf)(struct esw *e, const struct esw_port *vf, const struct esw_vf_cfg *cfg);
	int (*describe)(struct esw *e, char *buf, size_t len);
	void (*close)(struct esw *e);
};

/* Open a backend.  On failure *out is still set (when memory allowed) so
 * esw_errmsg() can say why; call esw_close() either way. */
int esw_open(const struct esw_config *cfg, struct esw **out);
void esw_close(struct esw *e);
const char *esw_errmsg(const struct esw *e);
const char *esw_kind(const struct esw *e);

/* bridge: name is a bridge port ("hv-vm1"); sriov: VF ports are "vfN", "N",
 * the VF's netdev name or PCI address, the standby port is the PF's name. */
int esw_port_lookup(struct esw *e, const char *name, enum esw_port_kind kind,
		    struct esw_port *out);
int esw_steer(struct esw *e, const struct esw_steer_req *req);
int esw_program_vf(struct esw *e, const struct esw_port *vf, const struct esw_vf_cfg *cfg);
/* One line of text: backend, device, ports/VFs. */
int esw_describe(struct esw *e, char *buf, size_t len);

/* Parse "52:54:00:18:00:10"; 0 or -EINVAL (also for multicast/broadcast:
 * a unicast MAC is the only thing an eswitch steers). */
int esw_parse_mac(const char *s, uint8_t mac[6]);

/* ---- message builders (exact iproute2 layouts; exposed for tests) ---- */
#define ESW_NL_BUFSZ 1024

/* bridge fdb replace MAC dev PORT master static sticky [vlan V] */
struct nlmsghdr *esw_msg_fdb_sticky(void *buf, uint32_t seq, int ifindex,
				    const uint8_t mac[6], uint16_t vlan);
/* bridge fdb del MAC dev PORT master [vlan V] */
struct nlmsghdr *esw_msg_fdb_del(void *buf, uint32_t seq, int ifindex,
				 const uint8_t mac[6], uint16_t vlan);
/* bridge fdb add MAC dev DEV self permanent / bridge fdb del MAC dev DEV self */
struct nlmsghdr *esw_msg_fdb_self(void *buf, uint32_t seq, int ifindex,
				  const uint8_t mac[6], bool add);
/* bridge link set dev PORT learning on|off */
struct nlmsghdr *esw_msg_learning(void *buf, uint32_t seq, int ifindex, bool on);
/* ip link set dev PF vf N [mac M] [vlan V [qos Q] [proto P]] [spoofchk] [trust] [state] */
struct nlmsghdr *esw_msg_vf(void *buf, uint32_t seq, int pf_ifindex, int vf,
			    const struct esw_vf_cfg *cfg);

/* ---- for the backends (esw_bridge.c, esw_sriov.c) only ---- */
struct esw {
	const struct esw_ops *ops;
	struct mnl_socket *nl;
	uint32_t seq, portid;
	esw_xmit_fn xmit;
	void *xmit_arg;
	char netns[128];        /* "" = the daemon's own */
	char err[384];
	void *priv;             /* the backend's state */
};

struct esw_link {
	int ifindex;
	int master;             /* IFLA_MASTER, 0 if none */
	char kind[16];          /* IFLA_INFO_KIND ("bridge", "veth", …), "" if none */
};

extern const struct esw_ops esw_bridge_ops;
extern const struct esw_ops esw_sriov_ops;

/* Record the message for esw_errmsg() and return err (a negative errno). */
int esw_fail(struct esw *e, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Send one request (seq assigned here), wait for its ACK; reply messages go
 * to cb (may be NULL).  0 or the kernel's negative errno. */
int esw_nl_talk(struct esw *e, struct nlmsghdr *nlh,
		int (*cb)(const struct nlmsghdr *nlh, void *data), void *data);
/* RTM_GETLINK by name in the backend's namespace.  -ENODEV if none. */
int esw_link_get(struct esw *e, const char *name, struct esw_link *out);
const char *esw_mac_str(const uint8_t mac[6], char buf[18]);

#endif
