// SPDX-License-Identifier: LGPL-2.1-or-later
/* host-agent/hostd/config.c — hostd.conf parser (see config.h and hostd.conf.5). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"

#define CONFIG_FILE_MAX ((size_t)256 * 1024)

void config_defaults(struct hostd_config *c)
{
	memset(c, 0, sizeof(*c));
	(void)snprintf(c->ctl_socket, sizeof(c->ctl_socket), "/run/hybond/hostd.sock");
	(void)snprintf(c->state_dir, sizeof(c->state_dir), "/var/lib/hybond");
	c->txqueuelen = CFG_TXQLEN_DEF;
	c->vf_up_timeout_ms = CFG_VF_UP_TIMEOUT_MS_DEF;
	c->prepare_deadline_ms = CFG_PREPARE_DEADLINE_MS_DEF;
	c->resume_deadline_ms = CFG_RESUME_DEADLINE_MS_DEF;
	(void)snprintf(c->tls_ca, sizeof(c->tls_ca), "%s", CFG_TLS_CA_DEF);
	(void)snprintf(c->tls_cert, sizeof(c->tls_cert), "%s", CFG_TLS_CERT_DEF);
	(void)snprintf(c->tls_key, sizeof(c->tls_key), "%s", CFG_TLS_KEY_DEF);
	(void)snprintf(c->tls_priority, sizeof(c->tls_priority), "%s", CFG_TLS_PRIORITY_DEF);
	c->libvirt_coordinate = 1;
	c->hook_wait_ms = CFG_HOOK_WAIT_MS_DEF;
	c->vf_watch = 1;
	c->guest_sentry = 1;
	c->peer_sentry = 1;
}

void vm_config_defaults(struct vm_config *v, const char *name)
{
	memset(v, 0, sizeof(*v));
	(void)snprintf(v->name, sizeof(v->name), "%s", name);
	(void)snprintf(v->esw_kind, sizeof(v->esw_kind), "bridge");
	(void)snprintf(v->esw_bridge, sizeof(v->esw_bridge), "br0");
	(void)snprintf(v->vf_driver, sizeof(v->vf_driver), "e1000e");
	(void)snprintf(v->vf_id, sizeof(v->vf_id), "vf0");
	(void)snprintf(v->hv, sizeof(v->hv), "qmp");
}

int vm_config_libvirt(const struct vm_config *v)
{
	return !strcmp(v->hv, "libvirt");
}

const char *vm_config_domain(const struct vm_config *v)
{
	return v->domain[0] ? v->domain : v->name;
}

int config_valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > CFG_NAME_MAX || s[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return 0;
	return 1;
}

const char *vm_mode_name(enum vm_mode m)
{
	return m == VM_MODE_BOND ? "bond" : "failover";
}

static int set_str(char *dst, size_t cap, const char *val, const char *key,
		   char *err, size_t errlen)
{
	if (strlen(val) >= cap) {
		(void)snprintf(err, errlen, "%s: value longer than %zu bytes", key, cap - 1);
		return -EINVAL;
	}
	memcpy(dst, val, strlen(val) + 1);
	return 0;
}

static int set_u32(uint32_t *dst, const char *val, uint32_t min, uint32_t max,
		   const char *key, char *err, size_t errlen)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(val, &end, 10);
	if (errno || end == val || *end || val[0] == '-' || v < min || v > max) {
		(void)snprintf(err, errlen, "%s: '%s' is not a number in %u..%u", key, val, min, max);
		return -EINVAL;
	}
	*dst = (uint32_t)v;
	return 0;
}

/* on|off, or 1|0 */
static int set_onoff(uint32_t *dst, const char *val, const char *key, char *err, size_t errlen)
{
	if (!strcmp(val, "on") || !strcmp(val, "1")) {
		*dst = 1;
	} else if (!strcmp(val, "off") || !strcmp(val, "0")) {
		*dst = 0;
	} else {
		(void)snprintf(err, errlen, "%s: '%s' (on or off)", key, val);
		return -EINVAL;
	}
	return 0;
}

#define STR_KEY(k, field) if (!strcmp(key, k)) \
	return set_str(field, sizeof(field), val, key, err, errlen)

int vm_config_set(struct vm_config *v, const char *key, const char *val, char *err, size_t errlen)
{
	if (!strcmp(key, "mode")) {
		if (!strcmp(val, "failover"))
			v->mode = VM_MODE_FAILOVER;
		else if (!strcmp(val, "bond"))
			v->mode = VM_MODE_BOND;
		else {
			(void)snprintf(err, errlen, "mode: '%s' (failover or bond)", val);
			return -EINVAL;
		}
		return 0;
	}
	if (!strcmp(key, "mac")) {
		unsigned b[6];
		char tail;

		if (strlen(val) != 17 || sscanf(val, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1],
						&b[2], &b[3], &b[4], &b[5], &tail) != 6 ||
		    (b[0] & 1)) {
			(void)snprintf(err, errlen, "mac: '%s' is not a unicast xx:xx:xx:xx:xx:xx", val);
			return -EINVAL;
		}
		return set_str(v->mac, sizeof(v->mac), val, key, err, errlen);
	}
	STR_KEY("qmp", v->qmp);
	STR_KEY("agent", v->agent);
	STR_KEY("standby_port", v->standby_port);
	STR_KEY("vf_port", v->vf_port);
	STR_KEY("eswitch", v->esw_kind);
	STR_KEY("eswitch_bridge", v->esw_bridge);
	STR_KEY("eswitch_pf", v->esw_pf);
	STR_KEY("eswitch_netns", v->esw_netns);
	STR_KEY("vf_driver", v->vf_driver);
	STR_KEY("vf_id", v->vf_id);
	STR_KEY("vf_bus", v->vf_bus);
	STR_KEY("vf_netdev", v->vf_netdev);
	STR_KEY("launcher", v->launcher);
	STR_KEY("cleanup", v->cleanup);
	if (!strcmp(key, "hv")) {
		if (strcmp(val, "qmp") != 0 && strcmp(val, "libvirt") != 0) {
			(void)snprintf(err, errlen, "hv: '%s' (qmp or libvirt)", val);
			return -EINVAL;
		}
		return set_str(v->hv, sizeof(v->hv), val, key, err, errlen);
	}
	if (!strcmp(key, "domain")) {
		if (!config_valid_name(val)) {
			(void)snprintf(err, errlen, "domain: '%s': use [A-Za-z0-9_.-], at most %d",
				       val, CFG_NAME_MAX);
			return -EINVAL;
		}
		return set_str(v->domain, sizeof(v->domain), val, key, err, errlen);
	}
	if (!strcmp(key, "vf_pci")) {
		unsigned dom, bus, slot, fn;
		char tail;

		if (sscanf(val, "%4x:%2x:%2x.%1x%c", &dom, &bus, &slot, &fn, &tail) != 4 ||
		    strlen(val) != 12 || slot > 0x1f || fn > 7) {
			(void)snprintf(err, errlen, "vf_pci: '%s' is not a PCI address dddd:bb:ss.f",
				       val);
			return -EINVAL;
		}
		return set_str(v->vf_pci, sizeof(v->vf_pci), val, key, err, errlen);
	}
	(void)snprintf(err, errlen, "unknown VM key '%s'", key);
	return -EINVAL;
}

int vm_config_check(const struct vm_config *v, char *err, size_t errlen)
{
	if (!config_valid_name(v->name))
		(void)snprintf(err, errlen, "VM name '%s': use [A-Za-z0-9_.-], at most %d", v->name,
			 CFG_NAME_MAX);
	else if (!v->mac[0])
		(void)snprintf(err, errlen, "VM %s: no mac", v->name);
	else if (!v->standby_port[0] || !v->vf_port[0])
		(void)snprintf(err, errlen, "VM %s: standby_port and vf_port are required", v->name);
	else if (strcmp(v->esw_kind, "bridge") != 0 && strcmp(v->esw_kind, "sriov-legacy") != 0)
		(void)snprintf(err, errlen, "VM %s: eswitch '%s' (bridge or sriov-legacy)", v->name,
			 v->esw_kind);
	else if (!vm_config_libvirt(v) && !v->qmp[0] && !v->launcher[0])
		(void)snprintf(err, errlen, "VM %s: needs qmp (runs here) or launcher (can arrive here)",
			 v->name);
	else
		return 0;
	return -EINVAL;
}

/* host's default: the first label of this machine's hostname, as the peers'
 * [peer NAME] would name it ("hv1" for hv1.example.net); -EINVAL when it is not a
 * valid name (then hostd.conf must say host = NAME). */
int config_default_host(char *buf, size_t len)
{
	char name[256];

	if (gethostname(name, sizeof(name) - 1) < 0)
		return -errno;
	name[sizeof(name) - 1] = '\0';
	name[strcspn(name, ".")] = '\0';
	if (!config_valid_name(name) || strlen(name) >= len)
		return -EINVAL;
	memcpy(buf, name, strlen(name) + 1);
	return 0;
}

static int global_set(struct hostd_config *c, const char *key, const char *val,
		      char *err, size_t errlen)
{
	if (!strcmp(key, "host")) {
		if (!config_valid_name(val)) {
			(void)snprintf(err, errlen, "host: '%s' is not a valid name", val);
			return -EINVAL;
		}
		return set_str(c->host, sizeof(c->host), val, key, err, errlen);
	}
	STR_KEY("ctl_socket", c->ctl_socket);
	STR_KEY("ctl_group", c->ctl_group);
	STR_KEY("sentry_user", c->sentry_user);
	STR_KEY("peer_socket", c->peer_socket);
	if (!strcmp(key, "peer_listen")) {
		struct sockaddr_storage sa;
		socklen_t salen;

		if (config_parse_hostport(val, &sa, &salen, NULL, 0, err, errlen))
			return -EINVAL;
		return set_str(c->peer_listen, sizeof(c->peer_listen), val, key, err, errlen);
	}
	STR_KEY("tls_ca", c->tls_ca);
	STR_KEY("tls_cert", c->tls_cert);
	STR_KEY("tls_key", c->tls_key);
	STR_KEY("tls_crl", c->tls_crl);
	STR_KEY("tls_priority", c->tls_priority);
	STR_KEY("state_dir", c->state_dir);
	STR_KEY("uplink", c->uplink);
	STR_KEY("libvirt_uri", c->libvirt_uri);
	if (!strcmp(key, "libvirt_coordinate"))
		return set_onoff(&c->libvirt_coordinate, val, key, err, errlen);
	if (!strcmp(key, "hook_wait_ms"))
		return set_u32(&c->hook_wait_ms, val, 100, 600000, key, err, errlen);
	if (!strcmp(key, "sched_fifo"))
		return set_u32(&c->sched_fifo, val, 0, 99, key, err, errlen);
	if (!strcmp(key, "txqueuelen"))
		return set_u32(&c->txqueuelen, val, 16, 1u << 20, key, err, errlen);
	if (!strcmp(key, "vf_up_timeout_ms"))
		return set_u32(&c->vf_up_timeout_ms, val, 100, 600000, key, err, errlen);
	if (!strcmp(key, "prepare_deadline_ms"))
		return set_u32(&c->prepare_deadline_ms, val, 10, 60000, key, err, errlen);
	if (!strcmp(key, "resume_deadline_ms"))
		return set_u32(&c->resume_deadline_ms, val, 10, 600000, key, err, errlen);
	if (!strcmp(key, "vf_watch"))
		return set_onoff(&c->vf_watch, val, key, err, errlen);
	if (!strcmp(key, "guest_sentry"))
		return set_onoff(&c->guest_sentry, val, key, err, errlen);
	if (!strcmp(key, "peer_sentry"))
		return set_onoff(&c->peer_sentry, val, key, err, errlen);
	(void)snprintf(err, errlen, "unknown key '%s'", key);
	return -EINVAL;
}

/* A DNS name ([A-Za-z0-9.-], labels not starting with '-') or an IP literal. */
static int valid_tls_name(const char *s)
{
	struct in6_addr a6;
	size_t n = strlen(s), i;

	if (inet_pton(AF_INET6, s, &a6) == 1)
		return 1;
	if (n == 0 || n > CFG_DNS_MAX || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
			return 0;
	return !strstr(s, "..") && !strstr(s, ".-");
}

static int peer_set(struct peer_config *p, const char *key, const char *val, char *err,
		    size_t errlen)
{
	if (!strcmp(key, "address")) {
		struct sockaddr_storage sa;
		socklen_t salen;

		if (config_parse_hostport(val, &sa, &salen, NULL, 0, err, errlen))
			return -EINVAL;
		return set_str(p->address, sizeof(p->address), val, key, err, errlen);
	}
	if (!strcmp(key, "tls_name")) {
		if (!valid_tls_name(val)) {
			(void)snprintf(err, errlen, "tls_name: '%s' is not a DNS name or IP address", val);
			return -EINVAL;
		}
		return set_str(p->tls_name, sizeof(p->tls_name), val, key, err, errlen);
	}
	STR_KEY("socket", p->socket);
	STR_KEY("libvirt_uri", p->libvirt_uri);
	STR_KEY("migrate_uri", p->migrate_uri);
	(void)snprintf(err, errlen, "peer: unknown key '%s' (socket, address, tls_name, "
		       "libvirt_uri, migrate_uri)", key);
	return -EINVAL;
}
#undef STR_KEY

int config_parse_hostport(const char *s, struct sockaddr_storage *sa, socklen_t *salen,
			  char *host, size_t hostlen, char *err, size_t errlen)
{
	char h[INET6_ADDRSTRLEN + 1], *end;
	const char *port, *close;
	unsigned long pn;
	size_t hl;
	int v6 = s[0] == '[';

	if (v6) {
		close = strchr(s, ']');
		port = close && close[1] == ':' ? close + 2 : NULL;
		hl = close ? (size_t)(close - s - 1) : 0;
	} else {
		close = strrchr(s, ':');
		port = close && strchr(s, ':') == close ? close + 1 : NULL;
		hl = close ? (size_t)(close - s) : 0;
	}
	if (!port || hl == 0 || hl >= sizeof(h)) {
		(void)snprintf(err, errlen, "'%s': want IPv4:PORT or [IPv6]:PORT", s);
		return -EINVAL;
	}
	memcpy(h, s + v6, hl);
	h[hl] = 0;
	errno = 0;
	pn = strtoul(port, &end, 10);
	if (!isdigit((unsigned char)*port) || *end || errno || pn == 0 || pn > 65535) {
		(void)snprintf(err, errlen, "'%s': port '%s' is not in 1..65535", s, port);
		return -EINVAL;
	}
	memset(sa, 0, sizeof(*sa));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)sa;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)pn);
		*salen = sizeof(*a);
		if (inet_pton(AF_INET6, h, &a->sin6_addr) != 1) {
			(void)snprintf(err, errlen, "'%s': '%s' is not an IPv6 address", s, h);
			return -EINVAL;
		}
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)sa;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)pn);
		*salen = sizeof(*a);
		if (inet_pton(AF_INET, h, &a->sin_addr) != 1) {
			(void)snprintf(err, errlen, "'%s': '%s' is not an IPv4 address (host names are "
				       "not resolved: use the address, and the name as tls_name)", s, h);
			return -EINVAL;
		}
	}
	if (host)
		(void)snprintf(host, hostlen, "%s", h);
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

enum section { SEC_GLOBAL, SEC_PEER, SEC_VM };

static int parse_section(struct hostd_config *c, char *line, unsigned lineno, enum section *sec,
			 char *err, size_t errlen)
{
	char kind[16], name[CFG_NAME_MAX + 2], tail;

	if (sscanf(line, "[%15s %65[^]]]%c", kind, name, &tail) != 2 || !config_valid_name(name)) {
		(void)snprintf(err, errlen, "section '%s': want [vm NAME] or [peer NAME]", line);
		return -EINVAL;
	}
	if (!strcmp(kind, "vm")) {
		if (c->n_vms == CFG_MAX_VMS) {
			(void)snprintf(err, errlen, "more than %d VMs", CFG_MAX_VMS);
			return -ENOSPC;
		}
		vm_config_defaults(&c->vms[c->n_vms++], name);
		*sec = SEC_VM;
	} else if (!strcmp(kind, "peer")) {
		if (c->n_peers == CFG_MAX_PEERS) {
			(void)snprintf(err, errlen, "more than %d peers", CFG_MAX_PEERS);
			return -ENOSPC;
		}
		if (config_peer(c, name)) {
			(void)snprintf(err, errlen, "peer %s defined twice", name);
			return -EINVAL;
		}
		memcpy(c->peers[c->n_peers].name, name, strlen(name) + 1);
		c->peers[c->n_peers++].line = lineno;
		*sec = SEC_PEER;
	} else {
		(void)snprintf(err, errlen, "unknown section kind '%s' (vm or peer)", kind);
		return -EINVAL;
	}
	return 0;
}

/* After the file: exactly one transport, the default tls_name, names unambiguous. */
static int peer_check(struct hostd_config *c, size_t i, char *err, size_t errlen)
{
	struct peer_config *p = &c->peers[i];
	struct sockaddr_storage sa;
	socklen_t salen;
	size_t k;

	if (!p->socket[0] && !p->address[0]) {
		(void)snprintf(err, errlen, "peer %s has no socket = PATH (unix) and no "
			       "address = HOST:PORT (TLS)", p->name);
		return -EINVAL;
	}
	if (p->socket[0] && p->address[0]) {
		(void)snprintf(err, errlen, "peer %s: socket and address exclude each other "
			       "(unix in the lab, TLS between hosts)", p->name);
		return -EINVAL;
	}
	if (!p->address[0]) {
		if (p->tls_name[0]) {
			(void)snprintf(err, errlen, "peer %s: tls_name needs address (TLS); a unix "
				       "socket has no certificate", p->name);
			return -EINVAL;
		}
		return 0;
	}
	if (!p->tls_name[0] && config_parse_hostport(p->address, &sa, &salen, p->tls_name,
						     sizeof(p->tls_name), err, errlen))
		return -EINVAL;
	for (k = 0; k < i; k++)
		if (c->peers[k].address[0] && !strcasecmp(c->peers[k].tls_name, p->tls_name)) {
			(void)snprintf(err, errlen, "peers %s and %s both have tls_name %s: a "
				       "certificate must name one peer", c->peers[k].name, p->name,
				       p->tls_name);
			return -EINVAL;
		}
	return 0;
}

int config_parse(struct hostd_config *c, const char *text, const char *fname,
		 char *err, size_t errlen)
{
	char *copy = strdup(text), *save = NULL, *line;
	enum section sec = SEC_GLOBAL;
	unsigned lineno = 0;
	int rc = 0;
	size_t i;
	char why[256];

	if (!copy)
		return -ENOMEM;
	/* strsep keeps empty lines so the numbers stay right */
	for (save = copy; (line = strsep(&save, "\n")) != NULL && rc == 0;) {
		char *l = trim(line), *eq, *key, *val;

		lineno++;
		why[0] = 0;
		if (!*l || *l == '#')
			continue;
		if (*l == '[') {
			rc = parse_section(c, l, lineno, &sec, why, sizeof(why));
		} else if (!(eq = strchr(l, '='))) {
			(void)snprintf(why, sizeof(why), "want 'key = value'");
			rc = -EINVAL;
		} else {
			char *hash;

			*eq = 0;
			key = trim(l);
			val = eq + 1;
			/* a comment after the value: '#' after a blank ("a#b" stays a value) */
			for (hash = strchr(val, '#'); hash; hash = strchr(hash + 1, '#'))
				if (hash > val && (hash[-1] == ' ' || hash[-1] == '\t')) {
					*hash = 0;
					break;
				}
			val = trim(val);
			if (!*val) {
				(void)snprintf(why, sizeof(why), "%s: empty value", key);
				rc = -EINVAL;
			} else if (sec == SEC_GLOBAL) {
				rc = global_set(c, key, val, why, sizeof(why));
			} else if (sec == SEC_PEER) {
				rc = peer_set(&c->peers[c->n_peers - 1], key, val, why, sizeof(why));
			} else {
				rc = vm_config_set(&c->vms[c->n_vms - 1], key, val, why, sizeof(why));
			}
		}
		if (rc)
			(void)snprintf(err, errlen, "%s:%u: %s", fname, lineno, why);
	}
	free(copy);
	if (rc)
		return rc;
	if (!c->host[0] && config_default_host(c->host, sizeof(c->host)) < 0) {
		(void)snprintf(err, errlen, "%s: 'host = NAME' is required (this machine's "
			 "hostname is not a valid name)", fname);
		return -EINVAL;
	}
	for (i = 0; i < c->n_peers; i++) {
		rc = peer_check(c, i, why, sizeof(why));
		if (rc) {
			(void)snprintf(err, errlen, "%s:%u: %s", fname, c->peers[i].line, why);
			return rc;
		}
	}
	for (i = 0; i < c->n_vms; i++) {
		size_t k;

		if (vm_config_check(&c->vms[i], why, sizeof(why))) {
			(void)snprintf(err, errlen, "%s: %s", fname, why);
			return -EINVAL;
		}
		for (k = 0; k < i; k++)
			if (!strcmp(c->vms[k].name, c->vms[i].name)) {
				(void)snprintf(err, errlen, "%s: VM %s defined twice", fname, c->vms[i].name);
				return -EINVAL;
			}
	}
	return 0;
}

int config_load(struct hostd_config *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t n;
	int rc;

	if (!f) {
		rc = -errno;
		(void)snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	buf = malloc(CONFIG_FILE_MAX + 1);
	if (!buf) {
		(void)fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
	(void)fclose(f);
	if (n > CONFIG_FILE_MAX) {
		free(buf);
		(void)snprintf(err, errlen, "%s: larger than %zu bytes", path, CONFIG_FILE_MAX);
		return -EFBIG;
	}
	buf[n] = 0;
	if (strlen(buf) != n) {
		free(buf);
		(void)snprintf(err, errlen, "%s: contains a NUL byte", path);
		return -EINVAL;
	}
	rc = config_parse(c, buf, path, err, errlen);
	free(buf);
	return rc;
}

int config_peer_tls(const struct peer_config *p)
{
	return p->address[0] != 0;
}

int config_uses_tls(const struct hostd_config *c)
{
	size_t i;

	for (i = 0; i < c->n_peers; i++)
		if (config_peer_tls(&c->peers[i]))
			return 1;
	return c->peer_listen[0] != 0;
}

const struct peer_config *config_peer(const struct hostd_config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n_peers; i++)
		if (!strcmp(c->peers[i].name, name))
			return &c->peers[i];
	return NULL;
}
