/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/hv/lv_xml.h — what hybond needs from libvirt's XML, with libxml2 and no
 * libvirt connection (pure functions: the hook, the CLI and the daemon share them).
 *
 * The domain XML may come from a migrating domain (the migrate hook's stdin, another
 * host's libvirtd), so it is untrusted: size cap (LV_XML_MAX), no DTD or entity at
 * all, no network, fixed-size results with limits; anything beyond them is refused
 * with a message, never truncated silently.  See docs/libvirt.md.
 *
 * Every function returns 0 or a negative errno; err (may be NULL) gets a sentence
 * saying what failed.
 */
#ifndef HYBOND_LV_XML_H
#define HYBOND_LV_XML_H

#include <stddef.h>
#include <stdint.h>

#define LV_XML_MAX        (4u << 20)    /* a domain or network XML, bytes */
#define LV_NAME_MAX       256           /* domain / network / alias / path strings */
#define LV_IFNAME_MAX     16            /* IFNAMSIZ */
#define LV_IFACES_MAX     32
#define LV_HOSTDEVS_MAX   32
#define LV_QEMU_VFS_MAX   8
#define LV_PAIRS_MAX      16
#define LV_POOL_PFS_MAX   16
#define LV_POOL_ADDRS_MAX 256
#define LV_ADVICE_MAX     32

#define LV_CHANNEL_NAME   "org.hybond.0"
#define LV_HYBOND_NS      "https://hybond.invalid/xmlns/libvirt/1"
#define LV_QEMU_NS        "http://libvirt.org/schemas/domain/qemu/1.0"
#define LV_CHANNEL_DIR    "/run/hybond"         /* suggested: /run/hybond/DOMAIN/agent.sock */

struct lv_pci {
	uint16_t domain;
	uint8_t bus, slot, function;
};

enum lv_teaming { LV_TEAM_NONE = 0, LV_TEAM_PERSISTENT, LV_TEAM_TRANSIENT };

/* one <interface> */
struct lv_iface {
	char type[16];                  /* ethernet, network, bridge, hostdev, direct, … */
	char mac[18];                   /* lower case, "" if none */
	char model[32];                 /* <model type>, "" if none */
	char target_dev[LV_IFNAME_MAX]; /* <target dev> (the tap) */
	char network[LV_NAME_MAX];      /* <source network> */
	char bridge[LV_NAME_MAX];       /* <source bridge> */
	char alias[LV_NAME_MAX];        /* <alias name> */
	enum lv_teaming teaming;
	char persistent[LV_NAME_MAX];   /* <teaming persistent> (transient only) */
	int has_pci, managed;           /* type hostdev: <source><address type='pci'> */
	struct lv_pci pci;
};

/* one plain <hostdev mode='subsystem' type='pci'> */
struct lv_hostdev {
	struct lv_pci pci;
	int managed;
	char alias[LV_NAME_MAX];
	enum lv_teaming teaming;
	char persistent[LV_NAME_MAX];
};

/* a NIC given to QEMU through <qemu:commandline> (the lab's e1000e "VF"): -device and
 * -netdev as key=value or JSON ({"driver":"e1000e","netdev":…}) */
struct lv_qemu_vf {
	char id[LV_NAME_MAX];           /* -device …,id= */
	char driver[32];                /* e1000e, … */
	char netdev[LV_NAME_MAX];       /* -device …,netdev= */
	char mac[18];
	char bus[LV_NAME_MAX];
	char failover_pair_id[LV_NAME_MAX];
	char tap[LV_IFNAME_MAX];        /* -netdev tap,id=NETDEV,ifname= */
};

enum lv_vf_kind { LV_VF_HOSTDEV = 0, LV_VF_POOL, LV_VF_QEMU };

/* a failover pair: persistent virtio interface <-> transient VF */
struct lv_pair {
	unsigned standby;               /* index in ifaces[] */
	char standby_alias[LV_NAME_MAX], standby_mac[18], standby_dev[LV_IFNAME_MAX];
	enum lv_vf_kind kind;
	int vf_is_iface;                /* LV_VF_HOSTDEV: 1 ifaces[vf], 0 hostdevs[vf] */
	unsigned vf;                    /* index in ifaces[], hostdevs[] or qemu_vfs[] */
	struct lv_pci pci;              /* LV_VF_HOSTDEV */
	char pool[LV_NAME_MAX];         /* LV_VF_POOL: the libvirt network */
	char qemu_id[LV_NAME_MAX];      /* LV_VF_QEMU */
	char tap[LV_IFNAME_MAX];        /* LV_VF_QEMU */
	char vf_mac[18];                /* "" for a plain <hostdev> */
};

struct lv_domain {
	char name[LV_NAME_MAX];
	char uuid[37];
	unsigned n_ifaces, n_hostdevs, n_qemu_vfs, n_pairs;
	struct lv_iface ifaces[LV_IFACES_MAX];
	struct lv_hostdev hostdevs[LV_HOSTDEVS_MAX];
	struct lv_qemu_vf qemu_vfs[LV_QEMU_VFS_MAX];
	struct lv_pair pairs[LV_PAIRS_MAX];
	int has_channel;                /* <channel type='unix'> named org.hybond.0 */
	char channel_path[108];         /* sun_path */
	int has_metadata;               /* <hybond:vm> in <metadata> */
	char meta_host[LV_NAME_MAX];    /* its host= */
	char meta_mode[16];             /* its optional mode= ("failover" | "bond" | "") */
};

/* A libvirt <network> with <forward mode='hostdev'>: a VF pool. */
struct lv_pool {
	char name[LV_NAME_MAX];
	int managed;
	unsigned n_pfs, n_addrs;
	char pfs[LV_POOL_PFS_MAX][LV_IFNAME_MAX];      /* <pf dev>: libvirt lists the VFs */
	struct lv_pci addrs[LV_POOL_ADDRS_MAX];         /* explicit <address type='pci'> */
};

enum lv_problem {
	LV_P_NO_CHANNEL = 0,    /* no org.hybond.0 channel */
	LV_P_NO_METADATA,       /* no <hybond:vm host=…> */
	LV_P_STANDBY_TEAMING,   /* virtio standby without <teaming type='persistent'/> */
	LV_P_STANDBY_ALIAS,     /* standby without a user alias (ua-…) to pair with */
	LV_P_STANDBY_MODEL,     /* the standby is not virtio */
	LV_P_VF_TEAMING,        /* a VF without <teaming type='transient'/> next to teamed ones */
	LV_P_VF_DANGLING,       /* transient teaming / failover_pair_id naming no standby */
	LV_P_NO_VF,             /* no VF at all */
	LV_P_BOND_GUEST,        /* VF without teaming: virsh migrate refused, use hybond migrate */
	LV_P_MAC_MISMATCH,      /* the pair's two MACs differ */
};

enum lv_severity { LV_SEV_ERROR = 0, LV_SEV_NOTE };

struct lv_issue {
	enum lv_problem code;
	enum lv_severity severity;
	char what[512];         /* the problem and what to do */
	char where[64];         /* the element the snippet goes into, "" if no snippet */
	char xml[1024];         /* the XML to add, "" if none */
};

struct lv_advice {
	unsigned n, n_errors;
	struct lv_issue items[LV_ADVICE_MAX];
};

/* "dddd:bb:ss.f" <-> struct lv_pci; lv_pci_format needs 13 bytes. */
int lv_pci_parse(const char *s, struct lv_pci *p);
void lv_pci_format(const struct lv_pci *p, char out[13]);
const char *lv_problem_name(enum lv_problem p);

/* Parse a domain XML (len = strlen(xml)); the failover pairs are derived too. */
int lv_domain_parse(const char *xml, struct lv_domain *d, char *err, size_t errlen);
/* Is it a hybond domain (the guest channel or the metadata)? */
int lv_domain_is_hybond(const struct lv_domain *d);
/* The problems that keep the domain from hybond migrations, with the XML to add.
 * 0 ready (notes only), 1 not ready (a->n_errors > 0). */
int lv_domain_check(const struct lv_domain *d, struct lv_advice *a);

/* A VF interface to hot-plug (virDomainAttachDeviceFlags): by PCI address (type='hostdev'
 * managed='yes') or from a pool (type='network'), exactly one of pci and pool. */
struct lv_vf_spec {
	const char *mac;                /* NULL or "": no <mac> (libvirt makes one up) */
	const char *pci;                /* dddd:bb:ss.f */
	const char *pool;               /* a libvirt network with <forward mode='hostdev'> */
	const char *alias;              /* <alias name>, a user alias ua-…; NULL: none */
	const char *persistent_alias;   /* <teaming type='transient' persistent=…>; NULL: no
					 * teaming (a bonding guest's VF) */
	const char *romfile;            /* NULL: QEMU's default ROM, "": <rom enabled='no'/>,
					 * else <rom file=…/> */
};
/* 0, -EINVAL a bad value, -ENOMEM.  *out is malloc'ed. */
int lv_vf_iface_xml(const struct lv_vf_spec *v, char **out);

/* lv_vf_iface_xml as the transient half of the pair PERSISTENT_ALIAS (mac and
 * persistent_alias required, alias may be NULL, no <rom>).  *out is malloc'ed. */
int lv_hostdev_iface_xml(const char *mac, const char *pci, const char *alias,
			 const char *persistent_alias, char **out);
int lv_pool_iface_xml(const char *mac, const char *pool, const char *alias,
		      const char *persistent_alias, char **out);

/* The domain XML with the transient VF's source PCI address replaced by new_pci.
 * alias: the VF's own <alias name> or the standby alias its teaming names.
 * -ENOENT no such VF, -EINVAL bad input. *out_xml is malloc'ed. */
int lv_domain_rewrite_vf(const char *xml, const char *alias, const char *new_pci,
			 char **out_xml, char *err, size_t errlen);

/* The domain XML with <metadata><hybond:vm host=HOST> set (added if missing). */
int lv_domain_set_host(const char *xml, const char *host, char **out_xml, char *err,
		       size_t errlen);

int lv_network_pool_parse(const char *netxml, struct lv_pool *p, char *err, size_t errlen);
/* The first pool address not in used[]: 0, or -ENOSPC none free, -ENOENT the pool
 * lists PFs only (libvirt picks the VF: use an <interface type='network'>). */
int lv_pool_pick(const struct lv_pool *p, const struct lv_pci *used, unsigned n_used,
		 struct lv_pci *out);

#endif
