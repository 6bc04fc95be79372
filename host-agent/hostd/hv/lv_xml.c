// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * host-agent/hostd/hv/lv_xml.c — libvirt domain / network XML for hybond (see lv_xml.h).
 *
 * Reading: one libxml2 parse with a parser context of our own (errors land in the
 * context, nothing is printed), flags without XML_PARSE_NOENT / DTDLOAD / DTDATTR and
 * with XML_PARSE_NONET; a document that declares a DTD or an entity is refused before
 * libxml2 sees it (libvirt never writes one, so it can only be a trick).  Then a walk
 * of the few elements hybond needs; every string goes into a fixed field and a value
 * that does not fit is an error, not a truncation.  A NIC given through
 * <qemu:commandline> is read in both of QEMU's option forms, key=value and JSON (jansson,
 * size-capped, duplicate keys refused, the values hybond reads must be strings).
 *
 * Writing: device XML and the advice snippets are built as libxml2 trees and
 * serialised by libxml2, so names and MACs are always escaped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "lv_xml.h"

#define QEMU_ARGS_MAX    1024   /* <qemu:arg> elements looked at */
#define QEMU_NETDEVS_MAX 16
#define QEMU_TOKEN_MAX   512    /* one key=value of a -device / -netdev string */
#define QEMU_JSON_MAX    8192   /* one JSON -device / -netdev string, bytes */

struct pctx {
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int fail(struct pctx *pc, int rc, const char *fmt, ...)
{
	va_list ap;

	if (pc->err && pc->errlen) {
		va_start(ap, fmt);
		/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): false positive (va_start above) */
		(void)vsnprintf(pc->err, pc->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -ENAMETOOLONG;
	memcpy(dst, src, n + 1);
	return 0;
}

/* ---- small libxml2 helpers ---------------------------------------------------------- */

static int is_el(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && !n->ns && !strcmp((const char *)n->name, name);
}

static int is_ns_el(const xmlNode *n, const char *href, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
	       !strcmp((const char *)n->ns->href, href) && !strcmp((const char *)n->name, name);
}

static xmlNode *child(const xmlNode *n, const char *name)
{
	xmlNode *c;

	for (c = n->children; c; c = c->next)
		if (is_el(c, name))
			return c;
	return NULL;
}

/* Attribute NAME (no namespace) of n into buf: 1 present, 0 absent (buf ""), <0 too long. */
static int attr(const xmlNode *n, const char *name, char *buf, size_t size)
{
	xmlChar *v = xmlGetNoNsProp(n, (const xmlChar *)name);
	int rc;

	buf[0] = '\0';
	if (!v)
		return 0;
	rc = copy_str(buf, size, (const char *)v);
	xmlFree(v);
	return rc < 0 ? rc : 1;
}

/* attr() with the error message: "<ELEM NAME='…'> is too long" */
static int attr_c(struct pctx *pc, const xmlNode *n, const char *name, char *buf, size_t size)
{
	int rc = attr(n, name, buf, size);

	if (rc < 0)
		return fail(pc, -ENAMETOOLONG, "<%s %s='…'> is longer than %zu bytes",
			    (const char *)n->name, name, size - 1);
	return rc;
}

static int text_c(struct pctx *pc, const xmlNode *n, char *buf, size_t size)
{
	xmlChar *v = xmlNodeGetContent(n);
	int rc;

	buf[0] = '\0';
	if (!v)
		return 0;
	rc = copy_str(buf, size, (const char *)v);
	xmlFree(v);
	if (rc < 0)
		return fail(pc, rc, "<%s> is longer than %zu bytes", (const char *)n->name, size - 1);
	return 0;
}

static int yes(const xmlNode *n, const char *name)
{
	char v[8];

	return attr(n, name, v, sizeof(v)) == 1 && !strcmp(v, "yes");
}

static int parse_doc(struct pctx *pc, const char *xml, const char *what, xmlDoc **out)
{
	size_t len = strlen(xml);
	xmlParserCtxt *ctxt;
	xmlDoc *doc;

	*out = NULL;
	if (len == 0)
		return fail(pc, -EINVAL, "empty %s XML", what);
	if (len > LV_XML_MAX)
		return fail(pc, -EFBIG, "%s XML of %zu bytes refused (limit %u)", what, len,
			    LV_XML_MAX);
	/* libvirt never writes a DTD; one here can only be an entity trick */
	if (memmem(xml, len, "<!DOCTYPE", 9) || memmem(xml, len, "<!ENTITY", 8))
		return fail(pc, -EINVAL, "%s XML with a DOCTYPE or ENTITY declaration refused "
			    "(libvirt never writes one)", what);
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		return fail(pc, -ENOMEM, "out of memory");
	doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "untrusted.xml", NULL,
				XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char msg[200] = "unknown error";

		if (e && e->message) {
			size_t m;

			(void)snprintf(msg, sizeof(msg), "%s", e->message);
			m = strlen(msg);
			while (m && msg[m - 1] == '\n')
				msg[--m] = '\0';
		}
		(void)fail(pc, -EINVAL, "%s XML is not well-formed (line %d: %s)", what,
			   e ? e->line : 0, msg);
	} else if (doc->intSubset || doc->extSubset) {
		(void)fail(pc, -EINVAL, "%s XML with a DTD refused", what);
		xmlFreeDoc(doc);
		doc = NULL;
	} else if (!xmlDocGetRootElement(doc)) {
		(void)fail(pc, -EINVAL, "%s XML has no root element", what);
		xmlFreeDoc(doc);
		doc = NULL;
	}
	xmlFreeParserCtxt(ctxt);
	*out = doc;
	return doc ? 0 : -EINVAL;
}

/* ---- values ------------------------------------------------------------------------- */

static int parse_num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (!s[0] || s[0] == '-' || s[0] == '+')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 0);        /* libvirt takes 0x…, decimal and octal alike */
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int lv_pci_parse(const char *s, struct lv_pci *p)
{
	unsigned int dom, bus, slot, fn;
	int n = -1;

	if (!s || sscanf(s, "%4x:%2x:%2x.%1x%n", &dom, &bus, &slot, &fn, &n) != 4 ||
	    n != (int)strlen(s) || strlen(s) != 12 || slot > 0x1f || fn > 7)
		return -EINVAL;
	p->domain = (uint16_t)dom;
	p->bus = (uint8_t)bus;
	p->slot = (uint8_t)slot;
	p->function = (uint8_t)fn;
	return 0;
}

void lv_pci_format(const struct lv_pci *p, char out[13])
{
	(void)snprintf(out, 13, "%04x:%02x:%02x.%x", p->domain, p->bus, p->slot & 0x1fu,
		       p->function & 7u);
}

static int pci_eq(const struct lv_pci *a, const struct lv_pci *b)
{
	return a->domain == b->domain && a->bus == b->bus && a->slot == b->slot &&
	       a->function == b->function;
}

/* <address type='pci' domain= bus= slot= function=/> (absent attributes are 0, as in libvirt) */
static int parse_pci_el(struct pctx *pc, const xmlNode *n, struct lv_pci *p)
{
	static const char *const names[] = { "domain", "bus", "slot", "function" };
	static const unsigned long max[] = { 0xffff, 0xff, 0x1f, 7 };
	unsigned long v[4] = { 0, 0, 0, 0 };
	char buf[32];
	int i, rc;

	for (i = 0; i < 4; i++) {
		rc = attr(n, names[i], buf, sizeof(buf));
		if (rc < 0 || (rc == 1 && parse_num(buf, max[i], &v[i]) < 0))
			return fail(pc, -EINVAL, "<address type='pci'>: bad %s='%s'", names[i],
				    rc < 0 ? "(too long)" : buf);
	}
	p->domain = (uint16_t)v[0];
	p->bus = (uint8_t)v[1];
	p->slot = (uint8_t)v[2];
	p->function = (uint8_t)v[3];
	return 0;
}

static int mac_norm(char *mac)
{
	int i;

	if (strlen(mac) != 17)
		return -EINVAL;
	for (i = 0; i < 17; i++) {
		char c = mac[i];

		if (i % 3 == 2) {
			if (c != ':')
				return -EINVAL;
		} else if (c >= 'A' && c <= 'F') {
			mac[i] = (char)(c - 'A' + 'a');
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_teaming(struct pctx *pc, const xmlNode *t, enum lv_teaming *team,
			 char *persistent, size_t size)
{
	char type[16];
	int rc = attr_c(pc, t, "type", type, sizeof(type));

	if (rc < 0)
		return rc;
	if (!strcmp(type, "persistent"))
		*team = LV_TEAM_PERSISTENT;
	else if (!strcmp(type, "transient"))
		*team = LV_TEAM_TRANSIENT;
	else
		return fail(pc, -EINVAL, "<teaming type='%s'>: want persistent or transient", type);
	rc = attr_c(pc, t, "persistent", persistent, size);
	return rc < 0 ? rc : 0;
}

/* ---- <devices> ---------------------------------------------------------------------- */

static int parse_iface(struct pctx *pc, const xmlNode *n, struct lv_iface *f)
{
	xmlNode *c, *a;
	int rc;

	if ((rc = attr_c(pc, n, "type", f->type, sizeof(f->type))) < 0)
		return rc;
	f->managed = yes(n, "managed");
	for (c = n->children; c; c = c->next) {
		if (is_el(c, "mac")) {
			rc = attr_c(pc, c, "address", f->mac, sizeof(f->mac));
			if (rc == 0 || (rc > 0 && mac_norm(f->mac) < 0))
				return fail(pc, -EINVAL, "<mac address='%s'> is not a MAC address",
					    f->mac);
		} else if (is_el(c, "model")) {
			rc = attr_c(pc, c, "type", f->model, sizeof(f->model));
		} else if (is_el(c, "target")) {
			rc = attr_c(pc, c, "dev", f->target_dev, sizeof(f->target_dev));
		} else if (is_el(c, "alias")) {
			rc = attr_c(pc, c, "name", f->alias, sizeof(f->alias));
		} else if (is_el(c, "teaming")) {
			rc = parse_teaming(pc, c, &f->teaming, f->persistent, sizeof(f->persistent));
		} else if (is_el(c, "source")) {
			if ((rc = attr_c(pc, c, "network", f->network, sizeof(f->network))) < 0 ||
			    (rc = attr_c(pc, c, "bridge", f->bridge, sizeof(f->bridge))) < 0)
				return rc;
			a = child(c, "address");
			if (a && !strcmp(f->type, "hostdev")) {
				char at[8];

				if (attr(a, "type", at, sizeof(at)) < 0 || (at[0] && strcmp(at, "pci") != 0))
					return fail(pc, -EINVAL, "<interface type='hostdev'>: only PCI "
						    "source addresses are supported");
				if ((rc = parse_pci_el(pc, a, &f->pci)) < 0)
					return rc;
				f->has_pci = 1;
			}
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* 1 a PCI hostdev (filled), 0 another kind of hostdev (skipped) */
static int parse_hostdev(struct pctx *pc, const xmlNode *n, struct lv_hostdev *h)
{
	char v[16];
	xmlNode *c, *a;
	int rc = 0;

	if (attr(n, "mode", v, sizeof(v)) != 1 || strcmp(v, "subsystem") != 0 ||
	    attr(n, "type", v, sizeof(v)) != 1 || strcmp(v, "pci") != 0)
		return 0;
	h->managed = yes(n, "managed");
	for (c = n->children; c; c = c->next) {
		if (is_el(c, "source")) {
			a = child(c, "address");
			if (!a)
				return fail(pc, -EINVAL, "<hostdev type='pci'> without a source address");
			rc = parse_pci_el(pc, a, &h->pci);
		} else if (is_el(c, "alias")) {
			rc = attr_c(pc, c, "name", h->alias, sizeof(h->alias));
		} else if (is_el(c, "teaming")) {
			rc = parse_teaming(pc, c, &h->teaming, h->persistent, sizeof(h->persistent));
		}
		if (rc < 0)
			return rc;
	}
	return 1;
}

static int parse_channel(struct pctx *pc, const xmlNode *n, struct lv_domain *d)
{
	char v[LV_NAME_MAX];
	xmlNode *t = child(n, "target"), *s = child(n, "source");

	if (!t || attr(t, "name", v, sizeof(v)) != 1 || strcmp(v, LV_CHANNEL_NAME) != 0)
		return 0;
	if (attr(n, "type", v, sizeof(v)) != 1 || strcmp(v, "unix") != 0)
		return 0;               /* a pty or file channel is no use to hybond-hostd */
	d->has_channel = 1;
	if (s && attr(s, "path", d->channel_path, sizeof(d->channel_path)) < 0)
		return fail(pc, -ENAMETOOLONG, "channel %s: source path longer than a unix socket "
			    "path (%zu bytes)", LV_CHANNEL_NAME, sizeof(d->channel_path) - 1);
	return 0;
}

static int parse_devices(struct pctx *pc, const xmlNode *devs, struct lv_domain *d)
{
	xmlNode *c;
	int rc = 0;

	for (c = devs->children; c; c = c->next) {
		if (is_el(c, "interface")) {
			if (d->n_ifaces == LV_IFACES_MAX)
				return fail(pc, -E2BIG, "more than %d interfaces", LV_IFACES_MAX);
			rc = parse_iface(pc, c, &d->ifaces[d->n_ifaces]);
			if (rc < 0) {
				char why[256];

				(void)snprintf(why, sizeof(why), "%s", pc->err);
				return fail(pc, rc, "interface %u: %s", d->n_ifaces + 1, why);
			}
			d->n_ifaces++;
		} else if (is_el(c, "hostdev")) {
			if (d->n_hostdevs == LV_HOSTDEVS_MAX)
				return fail(pc, -E2BIG, "more than %d host devices", LV_HOSTDEVS_MAX);
			rc = parse_hostdev(pc, c, &d->hostdevs[d->n_hostdevs]);
			if (rc > 0)
				d->n_hostdevs++;
			else
				memset(&d->hostdevs[d->n_hostdevs], 0, sizeof(d->hostdevs[0]));
		} else if (is_el(c, "channel")) {
			rc = parse_channel(pc, c, d);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- <qemu:commandline> ------------------------------------------------------------- */

/* The next comma-separated token of a QEMU option string (",," is a literal comma). */
static const char *kv_next(const char *p, char *tok, size_t size)
{
	size_t n = 0;

	for (; *p; p++) {
		if (*p == ',') {
			if (p[1] != ',')
				break;
			p++;
		}
		if (n + 1 >= size)
			return NULL;
		tok[n++] = *p;
	}
	tok[n] = '\0';
	return *p ? p + 1 : p;
}

/* Value of KEY in a QEMU option string; the first token without '=' is key "".
 * 1 found, 0 absent, -ENAMETOOLONG. */
static int kv_get(const char *spec, const char *key, char *out, size_t size)
{
	char tok[QEMU_TOKEN_MAX];
	const char *p = spec;
	int first = 1;

	while (*p) {
		const char *eq;

		p = kv_next(p, tok, sizeof(tok));
		if (!p)
			return -ENAMETOOLONG;
		eq = strchr(tok, '=');
		if ((!eq && first && !key[0]) ||
		    (eq && (size_t)(eq - tok) == strlen(key) && !strncmp(tok, key, strlen(key))))
			return copy_str(out, size, eq ? eq + 1 : tok) < 0 ? -ENAMETOOLONG : 1;
		first = 0;
	}
	out[0] = '\0';
	return 0;
}

struct qnetdev {
	char id[LV_NAME_MAX];
	char ifname[LV_IFNAME_MAX];
};

/*
 * One -device / -netdev option string in either of QEMU's forms: key=value (kv) or a
 * JSON object (js, QEMU >= 6.2; the lab uses it since QEMU 7.2 creates every key=value
 * -device before every JSON one, libvirt's included).
 */
struct qopts {
	const char *spec;
	json_t *js;
};

/* Value of KEY: 1 found, 0 absent, -ENAMETOOLONG, -EINVAL (JSON: not a string).
 * key "" is the first key=value token without '=' (the driver / netdev type); JSON
 * has no such thing. */
static int q_get(const struct qopts *o, const char *key, char *out, size_t size)
{
	json_t *v;

	if (!o->js)
		return kv_get(o->spec, key, out, size);
	out[0] = '\0';
	v = key[0] ? json_object_get(o->js, key) : NULL;
	if (!v)
		return 0;
	if (!json_is_string(v))
		return -EINVAL;
	if (json_string_length(v) != strlen(json_string_value(v)))
		return -EINVAL;         /* an embedded NUL ("\u0000") */
	return copy_str(out, size, json_string_value(v)) < 0 ? -ENAMETOOLONG : 1;
}

/* Fill *o from spec; 0 or the error (message set). o->js is freed by q_done(). */
static int q_open(struct pctx *pc, const char *opt, const char *spec, struct qopts *o)
{
	size_t len = strlen(spec);
	json_error_t je;

	o->spec = spec;
	o->js = NULL;
	if (spec[0] != '{')
		return 0;
	if (len > QEMU_JSON_MAX)
		return fail(pc, -E2BIG, "qemu:commandline %s: JSON of %zu bytes refused (limit %d)",
			    opt, len, QEMU_JSON_MAX);
	o->js = json_loadb(spec, len, JSON_REJECT_DUPLICATES, &je);
	if (!o->js)
		return fail(pc, -EINVAL, "qemu:commandline %s %.40s…: not valid JSON (column %d: "
			    "%.80s)", opt, spec, je.column, je.text);
	if (!json_is_object(o->js)) {
		json_decref(o->js);
		o->js = NULL;
		return fail(pc, -EINVAL, "qemu:commandline %s %.40s…: JSON is not an object", opt,
			    spec);
	}
	return 0;
}

static void q_done(struct qopts *o)
{
	json_decref(o->js);
	o->js = NULL;
}

/* q_get() with the message: "-device {…: mac is not a string" */
static int q_get_c(struct pctx *pc, const char *opt, const struct qopts *o, const char *key,
		   char *out, size_t size)
{
	int rc = q_get(o, key, out, size);

	if (rc == -ENAMETOOLONG)
		return fail(pc, rc, "qemu:commandline %s %.40s…: %s is longer than %zu bytes", opt,
			    o->spec, key[0] ? key : "the first token", size - 1);
	if (rc < 0)
		return fail(pc, rc, "qemu:commandline %s %.40s…: %s is not a string", opt, o->spec,
			    key);
	return rc;
}

static int qemu_device(struct pctx *pc, const char *spec, struct lv_domain *d)
{
	static const char opt[] = "-device";
	struct lv_qemu_vf v;
	struct qopts o;
	int rc;

	if ((rc = q_open(pc, opt, spec, &o)) < 0)
		return rc;
	memset(&v, 0, sizeof(v));
	rc = q_get_c(pc, opt, &o, "netdev", v.netdev, sizeof(v.netdev));
	if (rc <= 0)
		goto out;               /* 0: not a NIC */
	if (d->n_qemu_vfs == LV_QEMU_VFS_MAX) {
		rc = fail(pc, -E2BIG, "more than %d NICs in <qemu:commandline>", LV_QEMU_VFS_MAX);
		goto out;
	}
	rc = q_get_c(pc, opt, &o, "driver", v.driver, sizeof(v.driver));
	if (rc == 0 && !o.js)
		rc = q_get_c(pc, opt, &o, "", v.driver, sizeof(v.driver));
	if (rc < 0 || (rc = q_get_c(pc, opt, &o, "id", v.id, sizeof(v.id))) < 0 ||
	    (rc = q_get_c(pc, opt, &o, "mac", v.mac, sizeof(v.mac))) < 0 ||
	    (rc = q_get_c(pc, opt, &o, "bus", v.bus, sizeof(v.bus))) < 0 ||
	    (rc = q_get_c(pc, opt, &o, "failover_pair_id", v.failover_pair_id,
			  sizeof(v.failover_pair_id))) < 0)
		goto out;
	if (v.mac[0] && mac_norm(v.mac) < 0) {
		rc = fail(pc, -EINVAL, "qemu:commandline -device %.40s…: bad mac", spec);
		goto out;
	}
	d->qemu_vfs[d->n_qemu_vfs++] = v;
	rc = 0;
out:
	q_done(&o);
	return rc;
}

static int qemu_netdev(struct pctx *pc, const char *spec, struct qnetdev *nd, unsigned *n)
{
	static const char opt[] = "-netdev";
	char type[16];
	struct qopts o;
	int rc;

	if ((rc = q_open(pc, opt, spec, &o)) < 0)
		return rc;
	rc = q_get(&o, "type", type, sizeof(type));
	if (rc == 0 && !o.js)
		rc = q_get(&o, "", type, sizeof(type));
	if (rc != 1 || strcmp(type, "tap") != 0) {
		rc = 0;                 /* user, bridge, …: no tap of ours */
		goto out;
	}
	if (*n == QEMU_NETDEVS_MAX) {
		rc = fail(pc, -E2BIG, "more than %d tap netdevs in <qemu:commandline>",
			  QEMU_NETDEVS_MAX);
		goto out;
	}
	if ((rc = q_get_c(pc, opt, &o, "id", nd[*n].id, sizeof(nd[*n].id))) < 0 ||
	    (rc = q_get_c(pc, opt, &o, "ifname", nd[*n].ifname, sizeof(nd[*n].ifname))) < 0)
		goto out;
	(*n)++;
	rc = 0;
out:
	q_done(&o);
	return rc;
}

static int parse_qemu_cmdline(struct pctx *pc, const xmlNode *cl, struct lv_domain *d)
{
	struct qnetdev nd[QEMU_NETDEVS_MAX];
	unsigned n_nd = 0, n_args = 0, i, k;
	char prev[16] = "", *val = NULL;
	xmlNode *c;
	int rc = 0;

	memset(nd, 0, sizeof(nd));
	for (c = cl->children; c && rc >= 0; c = c->next) {
		if (!is_ns_el(c, LV_QEMU_NS, "arg"))
			continue;
		if (++n_args > QEMU_ARGS_MAX)
			return fail(pc, -E2BIG, "more than %d <qemu:arg>", QEMU_ARGS_MAX);
		val = (char *)xmlGetNoNsProp(c, (const xmlChar *)"value");
		if (!val)
			continue;
		if (!strcmp(prev, "-device"))
			rc = qemu_device(pc, val, d);
		else if (!strcmp(prev, "-netdev"))
			rc = qemu_netdev(pc, val, nd, &n_nd);
		if (copy_str(prev, sizeof(prev), val) < 0)
			prev[0] = '\0';
		xmlFree(val);
	}
	if (rc < 0)
		return rc;
	for (i = 0; i < d->n_qemu_vfs; i++)
		for (k = 0; k < n_nd; k++)
			if (!strcmp(d->qemu_vfs[i].netdev, nd[k].id))
				memcpy(d->qemu_vfs[i].tap, nd[k].ifname, sizeof(nd[k].ifname));
	return 0;
}

/* ---- the pairs ---------------------------------------------------------------------- */

static int find_alias(const struct lv_domain *d, const char *alias)
{
	unsigned i;

	if (!alias[0])
		return -1;
	for (i = 0; i < d->n_ifaces; i++)
		if (!strcmp(d->ifaces[i].alias, alias))
			return (int)i;
	return -1;
}

static struct lv_pair *new_pair(struct pctx *pc, struct lv_domain *d, int s, int *rc)
{
	struct lv_pair *p;

	if (d->n_pairs == LV_PAIRS_MAX) {
		*rc = fail(pc, -E2BIG, "more than %d failover pairs", LV_PAIRS_MAX);
		return NULL;
	}
	p = &d->pairs[d->n_pairs++];
	memset(p, 0, sizeof(*p));
	p->standby = (unsigned)s;
	memcpy(p->standby_alias, d->ifaces[s].alias, sizeof(p->standby_alias));
	memcpy(p->standby_mac, d->ifaces[s].mac, sizeof(p->standby_mac));
	memcpy(p->standby_dev, d->ifaces[s].target_dev, sizeof(p->standby_dev));
	return p;
}

static int derive_pairs(struct pctx *pc, struct lv_domain *d)
{
	struct lv_pair *p;
	unsigned i;
	int s, rc = 0;

	for (i = 0; i < d->n_ifaces; i++) {
		const struct lv_iface *f = &d->ifaces[i];
		int hostdev = !strcmp(f->type, "hostdev");

		if (f->teaming != LV_TEAM_TRANSIENT || (s = find_alias(d, f->persistent)) < 0 ||
		    (!hostdev && strcmp(f->type, "network") != 0))
			continue;
		if (!(p = new_pair(pc, d, s, &rc)))
			return rc;
		p->kind = hostdev ? LV_VF_HOSTDEV : LV_VF_POOL;
		p->vf_is_iface = 1;
		p->vf = i;
		p->pci = f->pci;
		memcpy(p->pool, f->network, sizeof(p->pool));
		memcpy(p->vf_mac, f->mac, sizeof(p->vf_mac));
	}
	for (i = 0; i < d->n_hostdevs; i++) {
		if (d->hostdevs[i].teaming != LV_TEAM_TRANSIENT ||
		    (s = find_alias(d, d->hostdevs[i].persistent)) < 0)
			continue;
		if (!(p = new_pair(pc, d, s, &rc)))
			return rc;
		p->kind = LV_VF_HOSTDEV;
		p->vf = i;
		p->pci = d->hostdevs[i].pci;
	}
	for (i = 0; i < d->n_qemu_vfs; i++) {
		const struct lv_qemu_vf *v = &d->qemu_vfs[i];

		if ((s = find_alias(d, v->failover_pair_id)) < 0)
			continue;
		if (!(p = new_pair(pc, d, s, &rc)))
			return rc;
		p->kind = LV_VF_QEMU;
		p->vf = i;
		memcpy(p->qemu_id, v->id, sizeof(p->qemu_id));
		memcpy(p->tap, v->tap, sizeof(p->tap));
		memcpy(p->vf_mac, v->mac, sizeof(p->vf_mac));
	}
	return 0;
}

/* ---- the domain --------------------------------------------------------------------- */

static int parse_domain_el(struct pctx *pc, const xmlNode *root, struct lv_domain *d)
{
	xmlNode *c, *m;
	int rc = 0;

	if (!is_el(root, "domain"))
		return fail(pc, -EINVAL, "not a libvirt domain XML (root <%s>)",
			    (const char *)root->name);
	for (c = root->children; c && rc >= 0; c = c->next) {
		if (is_el(c, "name")) {
			rc = text_c(pc, c, d->name, sizeof(d->name));
		} else if (is_el(c, "uuid")) {
			rc = text_c(pc, c, d->uuid, sizeof(d->uuid));
		} else if (is_el(c, "devices")) {
			rc = parse_devices(pc, c, d);
		} else if (is_ns_el(c, LV_QEMU_NS, "commandline")) {
			rc = parse_qemu_cmdline(pc, c, d);
		} else if (is_el(c, "metadata")) {
			for (m = c->children; m; m = m->next) {
				if (!is_ns_el(m, LV_HYBOND_NS, "vm"))
					continue;
				d->has_metadata = 1;
				if (attr_c(pc, m, "host", d->meta_host, sizeof(d->meta_host)) < 0 ||
				    attr_c(pc, m, "mode", d->meta_mode, sizeof(d->meta_mode)) < 0)
					return -ENAMETOOLONG;
			}
		}
	}
	if (rc < 0)
		return rc;
	if (!d->name[0])
		return fail(pc, -EINVAL, "domain XML without a <name>");
	return derive_pairs(pc, d);
}

int lv_domain_parse(const char *xml, struct lv_domain *d, char *err, size_t errlen)
{
	char tmp[256];
	struct pctx pc = { err ? err : tmp, err ? errlen : sizeof(tmp) };
	xmlDoc *doc;
	int rc;

	memset(d, 0, sizeof(*d));
	pc.err[0] = '\0';
	if (!xml)
		return fail(&pc, -EINVAL, "no domain XML");
	if ((rc = parse_doc(&pc, xml, "domain", &doc)) < 0)
		return rc;
	rc = parse_domain_el(&pc, xmlDocGetRootElement(doc), d);
	xmlFreeDoc(doc);
	return rc;
}

int lv_domain_is_hybond(const struct lv_domain *d)
{
	return d->has_channel || d->has_metadata;
}

/* ---- writing: libxml2 trees --------------------------------------------------------- */

struct builder {
	xmlDoc *doc;
	int oom;
};

static xmlNode *b_el(struct builder *b, xmlNode *parent, const char *name)
{
	xmlNode *n = b->oom ? NULL : xmlNewDocNode(b->doc, NULL, (const xmlChar *)name, NULL);

	if (!n) {
		b->oom = 1;
		return NULL;
	}
	if (!parent)
		(void)xmlDocSetRootElement(b->doc, n);
	else if (!xmlAddChild(parent, n)) {
		xmlFreeNode(n);
		b->oom = 1;
		return NULL;
	}
	return n;
}

static void b_at(struct builder *b, xmlNode *n, const char *k, const char *v)
{
	if (!n || !xmlNewProp(n, (const xmlChar *)k, (const xmlChar *)v))
		b->oom = 1;
}

static xmlNode *b_el1(struct builder *b, xmlNode *parent, const char *name, const char *k,
		      const char *v)
{
	xmlNode *n = b_el(b, parent, name);

	b_at(b, n, k, v);
	return n;
}

static int b_begin(struct builder *b)
{
	b->oom = 0;
	b->doc = xmlNewDoc((const xmlChar *)"1.0");
	return b->doc ? 0 : -ENOMEM;
}

/* Serialise the root (indented), free the tree. */
static int b_end(struct builder *b, char **out)
{
	xmlBuffer *buf = b->oom ? NULL : xmlBufferCreate();
	int rc = -ENOMEM;

	*out = NULL;
	if (buf && xmlNodeDump(buf, b->doc, xmlDocGetRootElement(b->doc), 0, 1) >= 0) {
		*out = strdup((const char *)xmlBufferContent(buf));
		rc = *out ? 0 : -ENOMEM;
	}
	if (buf)
		xmlBufferFree(buf);
	xmlFreeDoc(b->doc);
	b->doc = NULL;
	return rc;
}

static void pci_addr_el(struct builder *b, xmlNode *parent, const struct lv_pci *p)
{
	xmlNode *a = b_el1(b, parent, "address", "type", "pci");
	char v[8];

	(void)snprintf(v, sizeof(v), "0x%04x", p->domain);
	b_at(b, a, "domain", v);
	(void)snprintf(v, sizeof(v), "0x%02x", p->bus);
	b_at(b, a, "bus", v);
	(void)snprintf(v, sizeof(v), "0x%02x", p->slot);
	b_at(b, a, "slot", v);
	(void)snprintf(v, sizeof(v), "0x%x", p->function);
	b_at(b, a, "function", v);
}

static int valid_alias(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if (!n || n >= LV_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return 0;
	return 1;
}

#define ROMFILE_MAX 1024

int lv_vf_iface_xml(const struct lv_vf_spec *v, char **out)
{
	struct builder b;
	struct lv_pci p;
	xmlNode *i, *s;
	char m[18];

	if (out)
		*out = NULL;
	if (!v || !out || !v->pci == !v->pool)         /* exactly one of them */
		return -EINVAL;
	if (v->pool && (!v->pool[0] || strlen(v->pool) >= LV_NAME_MAX))
		return -EINVAL;
	if (v->pci && lv_pci_parse(v->pci, &p) < 0)
		return -EINVAL;
	m[0] = '\0';
	if (v->mac && v->mac[0] && (copy_str(m, sizeof(m), v->mac) < 0 || mac_norm(m) < 0))
		return -EINVAL;
	if ((v->alias && !valid_alias(v->alias)) ||
	    (v->persistent_alias && !valid_alias(v->persistent_alias)) ||
	    (v->romfile && strlen(v->romfile) >= ROMFILE_MAX))
		return -EINVAL;
	if (b_begin(&b) < 0)
		return -ENOMEM;
	i = b_el1(&b, NULL, "interface", "type", v->pci ? "hostdev" : "network");
	if (v->pci)
		b_at(&b, i, "managed", "yes");
	if (m[0])
		(void)b_el1(&b, i, "mac", "address", m);
	if (v->pci) {
		s = b_el(&b, i, "source");
		pci_addr_el(&b, s, &p);
	} else {
		(void)b_el1(&b, i, "source", "network", v->pool);
	}
	if (v->persistent_alias) {
		s = b_el1(&b, i, "teaming", "type", "transient");
		b_at(&b, s, "persistent", v->persistent_alias);
	}
	if (v->alias)
		(void)b_el1(&b, i, "alias", "name", v->alias);
	if (v->romfile && v->romfile[0])
		(void)b_el1(&b, i, "rom", "file", v->romfile);
	else if (v->romfile)            /* "": no option ROM, as QEMU's romfile="" */
		(void)b_el1(&b, i, "rom", "enabled", "no");
	return b_end(&b, out);
}

int lv_hostdev_iface_xml(const char *mac, const char *pci, const char *alias,
			 const char *persistent_alias, char **out)
{
	struct lv_vf_spec v = { .mac = mac, .pci = pci, .alias = alias,
				.persistent_alias = persistent_alias };

	if (out)
		*out = NULL;
	if (!mac || !pci || !persistent_alias)
		return -EINVAL;
	return lv_vf_iface_xml(&v, out);
}

int lv_pool_iface_xml(const char *mac, const char *pool, const char *alias,
		      const char *persistent_alias, char **out)
{
	struct lv_vf_spec v = { .mac = mac, .pool = pool, .alias = alias,
				.persistent_alias = persistent_alias };

	if (out)
		*out = NULL;
	if (!mac || !pool || !persistent_alias)
		return -EINVAL;
	return lv_vf_iface_xml(&v, out);
}

/* ---- rewrite ------------------------------------------------------------------------ */

/* The <address> of the transient PCI VF named by alias (its own or its pair's), or NULL;
 * *pool is set when the match takes its VF from a pool. */
static xmlNode *find_vf_address(const xmlNode *devs, const char *alias, const char **pool,
				char *poolbuf, size_t poolsize)
{
	xmlNode *c, *t, *a, *s;
	char v[LV_NAME_MAX], ty[16];

	for (c = devs->children; c; c = c->next) {
		int iface = is_el(c, "interface");

		if (!iface && !is_el(c, "hostdev"))
			continue;
		t = child(c, "teaming");
		if (!t || attr(t, "type", ty, sizeof(ty)) != 1 || strcmp(ty, "transient") != 0)
			continue;
		a = child(c, "alias");
		if (!((a && attr(a, "name", v, sizeof(v)) == 1 && !strcmp(v, alias)) ||
		      (attr(t, "persistent", v, sizeof(v)) == 1 && !strcmp(v, alias))))
			continue;
		s = child(c, "source");
		if (iface && attr(c, "type", ty, sizeof(ty)) == 1 && !strcmp(ty, "network")) {
			if (s && attr(s, "network", poolbuf, poolsize) == 1)
				*pool = poolbuf;
			return NULL;
		}
		a = s ? child(s, "address") : NULL;
		/* a <hostdev>'s source address has no type; an interface's says pci */
		if (a && (attr(a, "type", ty, sizeof(ty)) == 0 || !strcmp(ty, "pci")))
			return a;
	}
	return NULL;
}

int lv_domain_rewrite_vf(const char *xml, const char *alias, const char *new_pci,
			 char **out_xml, char *err, size_t errlen)
{
	char tmp[256], poolbuf[LV_NAME_MAX];
	struct pctx pc = { err ? err : tmp, err ? errlen : sizeof(tmp) };
	const char *pool = NULL;
	xmlNode *root, *devs, *a;
	struct lv_pci p;
	xmlBuffer *buf;
	xmlDoc *doc;
	int rc = 0;

	pc.err[0] = '\0';
	if (out_xml)
		*out_xml = NULL;
	if (!xml || !out_xml || !alias || !alias[0])
		return fail(&pc, -EINVAL, "rewrite: missing argument");
	if (lv_pci_parse(new_pci, &p) < 0)
		return fail(&pc, -EINVAL, "rewrite: '%s' is not a PCI address dddd:bb:ss.f",
			    new_pci ? new_pci : "");
	if ((rc = parse_doc(&pc, xml, "domain", &doc)) < 0)
		return rc;
	root = xmlDocGetRootElement(doc);
	devs = is_el(root, "domain") ? child(root, "devices") : NULL;
	a = devs ? find_vf_address(devs, alias, &pool, poolbuf, sizeof(poolbuf)) : NULL;
	if (!a) {
		rc = pool ? fail(&pc, -EINVAL, "rewrite: the VF paired with %s comes from pool %s: "
				 "libvirt picks it on each host, nothing to rewrite", alias, pool)
			  : fail(&pc, -ENOENT, "rewrite: no transient hostdev VF with alias or "
				 "teaming persistent '%s' in the domain", alias);
		goto out;
	}
	{
		char v[8];

		(void)snprintf(v, sizeof(v), "0x%04x", p.domain);
		if (!xmlSetProp(a, (const xmlChar *)"domain", (const xmlChar *)v))
			rc = -ENOMEM;
		(void)snprintf(v, sizeof(v), "0x%02x", p.bus);
		if (!xmlSetProp(a, (const xmlChar *)"bus", (const xmlChar *)v))
			rc = -ENOMEM;
		(void)snprintf(v, sizeof(v), "0x%02x", p.slot);
		if (!xmlSetProp(a, (const xmlChar *)"slot", (const xmlChar *)v))
			rc = -ENOMEM;
		(void)snprintf(v, sizeof(v), "0x%x", p.function);
		if (!xmlSetProp(a, (const xmlChar *)"function", (const xmlChar *)v))
			rc = -ENOMEM;
	}
	buf = rc < 0 ? NULL : xmlBufferCreate();
	if (!buf || xmlNodeDump(buf, doc, root, 0, 0) < 0 ||
	    !(*out_xml = strdup((const char *)xmlBufferContent(buf))))
		rc = fail(&pc, -ENOMEM, "rewrite: out of memory");
	if (buf)
		xmlBufferFree(buf);
out:
	xmlFreeDoc(doc);
	return rc;
}

/* The domain XML with its <hybond:vm host=…> set to host (added when missing): the
 * destination's answer to libvirt's migrate hook, so that the next `virsh migrate` of
 * the domain asks this host.  Other attributes of the element are kept. */
int lv_domain_set_host(const char *xml, const char *host, char **out_xml, char *err,
		       size_t errlen)
{
	char tmp[256];
	struct pctx pc = { err ? err : tmp, err ? errlen : sizeof(tmp) };
	xmlNode *root, *meta, *m, *vm = NULL;
	xmlBuffer *buf;
	xmlDoc *doc;
	xmlNs *ns;
	int rc = 0;

	pc.err[0] = '\0';
	if (out_xml)
		*out_xml = NULL;
	if (!xml || !out_xml || !host || !host[0] || strlen(host) >= LV_NAME_MAX)
		return fail(&pc, -EINVAL, "set host: missing or oversized argument");
	if ((rc = parse_doc(&pc, xml, "domain", &doc)) < 0)
		return rc;
	root = xmlDocGetRootElement(doc);
	if (!is_el(root, "domain")) {
		rc = fail(&pc, -EINVAL, "not a libvirt domain XML");
		goto out;
	}
	meta = child(root, "metadata");
	if (!meta)
		meta = xmlNewChild(root, NULL, (const xmlChar *)"metadata", NULL);
	for (m = meta ? meta->children : NULL; m && !vm; m = m->next)
		if (is_ns_el(m, LV_HYBOND_NS, "vm"))
			vm = m;
	if (meta && !vm) {
		vm = xmlNewChild(meta, NULL, (const xmlChar *)"vm", NULL);
		ns = vm ? xmlNewNs(vm, (const xmlChar *)LV_HYBOND_NS, (const xmlChar *)"hybond") : NULL;
		if (ns)
			xmlSetNs(vm, ns);
		else
			vm = NULL;
	}
	if (!vm || !xmlSetProp(vm, (const xmlChar *)"host", (const xmlChar *)host)) {
		rc = fail(&pc, -ENOMEM, "set host: out of memory");
		goto out;
	}
	buf = xmlBufferCreate();
	if (!buf || xmlNodeDump(buf, doc, root, 0, 0) < 0 ||
	    !(*out_xml = strdup((const char *)xmlBufferContent(buf))))
		rc = fail(&pc, -ENOMEM, "set host: out of memory");
	if (buf)
		xmlBufferFree(buf);
out:
	xmlFreeDoc(doc);
	return rc;
}

/* ---- VF pools ----------------------------------------------------------------------- */

int lv_network_pool_parse(const char *netxml, struct lv_pool *p, char *err, size_t errlen)
{
	char tmp[256], v[32];
	struct pctx pc = { err ? err : tmp, err ? errlen : sizeof(tmp) };
	xmlNode *root, *c, *fwd = NULL;
	xmlDoc *doc;
	int rc = 0;

	memset(p, 0, sizeof(*p));
	pc.err[0] = '\0';
	if (!netxml)
		return fail(&pc, -EINVAL, "no network XML");
	if ((rc = parse_doc(&pc, netxml, "network", &doc)) < 0)
		return rc;
	root = xmlDocGetRootElement(doc);
	if (!is_el(root, "network")) {
		rc = fail(&pc, -EINVAL, "not a libvirt network XML (root <%s>)",
			  (const char *)root->name);
		goto out;
	}
	for (c = root->children; c && rc >= 0; c = c->next) {
		if (is_el(c, "name"))
			rc = text_c(&pc, c, p->name, sizeof(p->name));
		else if (is_el(c, "forward"))
			fwd = c;
	}
	if (rc < 0)
		goto out;
	if (!fwd || attr(fwd, "mode", v, sizeof(v)) != 1 || strcmp(v, "hostdev") != 0) {
		rc = fail(&pc, -EINVAL, "network %s is not a VF pool: it needs <forward "
			  "mode='hostdev' managed='yes'> with <pf dev=…/> or <address type='pci' …/>",
			  p->name);
		goto out;
	}
	p->managed = yes(fwd, "managed");
	for (c = fwd->children; c && rc >= 0; c = c->next) {
		if (is_el(c, "pf")) {
			if (p->n_pfs == LV_POOL_PFS_MAX)
				rc = fail(&pc, -E2BIG, "network %s: more than %d <pf>", p->name,
					  LV_POOL_PFS_MAX);
			else if ((rc = attr_c(&pc, c, "dev", p->pfs[p->n_pfs], LV_IFNAME_MAX)) == 0)
				rc = fail(&pc, -EINVAL, "network %s: <pf> without dev=", p->name);
			else if (rc > 0)
				p->n_pfs++;
		} else if (is_el(c, "address")) {
			if (attr(c, "type", v, sizeof(v)) != 1 || strcmp(v, "pci") != 0)
				rc = fail(&pc, -EINVAL, "network %s: only PCI addresses are supported",
					  p->name);
			else if (p->n_addrs == LV_POOL_ADDRS_MAX)
				rc = fail(&pc, -E2BIG, "network %s: more than %d addresses", p->name,
					  LV_POOL_ADDRS_MAX);
			else if ((rc = parse_pci_el(&pc, c, &p->addrs[p->n_addrs])) == 0)
				p->n_addrs++;
		}
	}
	if (rc >= 0 && !p->n_pfs && !p->n_addrs)
		rc = fail(&pc, -EINVAL, "network %s: hostdev pool without <pf> or <address>", p->name);
out:
	xmlFreeDoc(doc);
	return rc < 0 ? rc : 0;
}

int lv_pool_pick(const struct lv_pool *p, const struct lv_pci *used, unsigned n_used,
		 struct lv_pci *out)
{
	unsigned i, k;

	if (!p->n_addrs)
		return p->n_pfs ? -ENOENT : -ENOSPC;
	for (i = 0; i < p->n_addrs; i++) {
		for (k = 0; k < n_used; k++)
			if (pci_eq(&p->addrs[i], &used[k]))
				break;
		if (k == n_used) {
			*out = p->addrs[i];
			return 0;
		}
	}
	return -ENOSPC;
}

/* ---- lv_domain_check ---------------------------------------------------------------- */

static const char *const problem_names[] = {
	[LV_P_NO_CHANNEL] = "no-channel",
	[LV_P_NO_METADATA] = "no-metadata",
	[LV_P_STANDBY_TEAMING] = "standby-teaming",
	[LV_P_STANDBY_ALIAS] = "standby-alias",
	[LV_P_STANDBY_MODEL] = "standby-model",
	[LV_P_VF_TEAMING] = "vf-teaming",
	[LV_P_VF_DANGLING] = "vf-dangling",
	[LV_P_NO_VF] = "no-vf",
	[LV_P_BOND_GUEST] = "bond-guest",
	[LV_P_MAC_MISMATCH] = "mac-mismatch",
};

const char *lv_problem_name(enum lv_problem p)
{
	return (unsigned)p < sizeof(problem_names) / sizeof(problem_names[0]) ?
	       problem_names[p] : "?";
}

/* Add an issue; xml (malloc'ed or NULL) is consumed. */
__attribute__((format(printf, 6, 7)))
static void issue(struct lv_advice *a, enum lv_problem code, enum lv_severity sev,
		  const char *where, char *xml, const char *fmt, ...)
{
	struct lv_issue *it;
	va_list ap;

	if (sev == LV_SEV_ERROR)
		a->n_errors++;
	if (a->n < LV_ADVICE_MAX) {
		it = &a->items[a->n++];
		it->code = code;
		it->severity = sev;
		va_start(ap, fmt);
		/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): false positive (va_start above) */
		(void)vsnprintf(it->what, sizeof(it->what), fmt, ap);
		va_end(ap);
		(void)snprintf(it->where, sizeof(it->where), "%s", where ? where : "");
		if (xml && copy_str(it->xml, sizeof(it->xml), xml) < 0)
			(void)snprintf(it->xml, sizeof(it->xml), "(snippet too long)");
	}
	free(xml);
}

/* <NAME K1=V1 [K2=V2]/> */
static char *snippet(const char *name, const char *k1, const char *v1, const char *k2,
		     const char *v2)
{
	struct builder b;
	xmlNode *n;
	char *out = NULL;

	if (b_begin(&b) < 0)
		return NULL;
	n = b_el1(&b, NULL, name, k1, v1);
	if (k2)
		b_at(&b, n, k2, v2);
	(void)b_end(&b, &out);
	return out;
}

static char *channel_snippet(const struct lv_domain *d)
{
	struct builder b;
	xmlNode *c, *s;
	char path[160], *out = NULL;
	const char *id = d->name;

	/* the name is a directory: no '/', and the socket path must fit sun_path */
	if (strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, "..") ||
	    strlen(LV_CHANNEL_DIR) + strlen(id) + 12 >= sizeof(d->channel_path))
		id = d->uuid[0] ? d->uuid : "DOMAIN";
	(void)snprintf(path, sizeof(path), "%s/%s/agent.sock", LV_CHANNEL_DIR, id);
	if (b_begin(&b) < 0)
		return NULL;
	c = b_el1(&b, NULL, "channel", "type", "unix");
	s = b_el1(&b, c, "source", "mode", "bind");
	b_at(&b, s, "path", path);
	s = b_el1(&b, c, "target", "type", "virtio");
	b_at(&b, s, "name", LV_CHANNEL_NAME);
	(void)b_end(&b, &out);
	return out;
}

static char *metadata_snippet(void)
{
	struct builder b;
	xmlNode *m, *v;
	xmlNs *ns;
	char *out = NULL;

	if (b_begin(&b) < 0)
		return NULL;
	m = b_el(&b, NULL, "metadata");
	v = b_el1(&b, m, "vm", "host", "HOST");
	ns = v ? xmlNewNs(v, (const xmlChar *)LV_HYBOND_NS, (const xmlChar *)"hybond") : NULL;
	if (ns)
		xmlSetNs(v, ns);
	else
		b.oom = 1;
	(void)b_end(&b, &out);
	return out;
}

static int is_virtio(const struct lv_iface *f)
{
	return !strcmp(f->model, "virtio");
}

static int vf_is_paired(const struct lv_domain *d, unsigned s)
{
	unsigned i;

	for (i = 0; i < d->n_pairs; i++)
		if (d->pairs[i].standby == s)
			return 1;
	return 0;
}

/* The standby a lone VF with this MAC should name: a virtio interface with the same MAC,
 * else the first persistent one, else the conventional alias. */
static const char *standby_for(const struct lv_domain *d, const char *mac)
{
	unsigned i;

	for (i = 0; i < d->n_ifaces; i++)
		if (is_virtio(&d->ifaces[i]) && mac[0] && !strcmp(d->ifaces[i].mac, mac) &&
		    d->ifaces[i].alias[0])
			return d->ifaces[i].alias;
	for (i = 0; i < d->n_ifaces; i++)
		if (d->ifaces[i].teaming == LV_TEAM_PERSISTENT && d->ifaces[i].alias[0])
			return d->ifaces[i].alias;
	return "ua-standby0";
}

/* a transient VF naming `persistent`, with MAC vf_mac ("" unknown) */
static void check_transient(const struct lv_domain *d, struct lv_advice *a, const char *what,
			    const char *persistent, const char *vf_mac)
{
	int s = find_alias(d, persistent);
	char where[64];

	if (s < 0) {
		issue(a, LV_P_VF_DANGLING, LV_SEV_ERROR, "the virtio <interface>",
		      snippet("alias", "name", persistent[0] ? persistent : "ua-standby0", NULL,
			      NULL),
		      "%s is paired with '%s' but no interface has that alias: give the virtio "
		      "standby <alias name='%s'/> (user aliases start with ua-)", what, persistent,
		      persistent);
		return;
	}
	(void)snprintf(where, sizeof(where), "<interface> with alias %.40s", persistent);
	if (d->ifaces[s].teaming != LV_TEAM_PERSISTENT)
		issue(a, LV_P_STANDBY_TEAMING, LV_SEV_ERROR, where,
		      snippet("teaming", "type", "persistent", NULL, NULL),
		      "the standby %s of %s has no <teaming type='persistent'/>: libvirt then "
		      "neither pairs them nor unplugs the VF for a migration", persistent, what);
	if (vf_mac[0] && d->ifaces[s].mac[0] && strcmp(vf_mac, d->ifaces[s].mac) != 0)
		issue(a, LV_P_MAC_MISMATCH, LV_SEV_ERROR, where, NULL,
		      "%s has MAC %s but its standby %s has %s: a failover pair shares one MAC",
		      what, vf_mac, persistent, d->ifaces[s].mac);
}

static void check_standbys(const struct lv_domain *d, struct lv_advice *a)
{
	unsigned i;
	char where[64];

	for (i = 0; i < d->n_ifaces; i++) {
		const struct lv_iface *f = &d->ifaces[i];
		char *x = NULL;

		if (f->teaming != LV_TEAM_PERSISTENT)
			continue;
		(void)snprintf(where, sizeof(where), "<interface> %u (mac %s)", i + 1,
			       f->mac[0] ? f->mac : "?");
		if (!is_virtio(f))
			issue(a, LV_P_STANDBY_MODEL, LV_SEV_ERROR, where,
			      snippet("model", "type", "virtio", NULL, NULL),
			      "the standby interface %u has model '%s': the standby must be virtio "
			      "(QEMU's failover is virtio-net only)", i + 1, f->model[0] ? f->model :
			      "default");
		if (!f->alias[0]) {
			issue(a, LV_P_STANDBY_ALIAS, LV_SEV_ERROR, where,
			      snippet("alias", "name", "ua-standby0", NULL, NULL),
			      "the standby interface %u has no alias: its VF names it with <teaming "
			      "type='transient' persistent='ALIAS'/>", i + 1);
			continue;
		}
		if (vf_is_paired(d, i))
			continue;
		(void)lv_hostdev_iface_xml(f->mac[0] ? f->mac : "52:54:00:00:00:00", "0000:00:00.0",
					   NULL, f->alias, &x);
		issue(a, LV_P_NO_VF, LV_SEV_ERROR, "<devices>", x,
		      "the standby %s has no VF paired with it: add a transient hostdev interface "
		      "(replace 0000:00:00.0 with one of this host's VFs, or use <interface "
		      "type='network'><source network='POOL'/> for a libvirt VF pool)", f->alias);
	}
}

/* VFs without teaming: a bonding guest, or a failover guest that lacks it */
static void check_lone_vf(const struct lv_domain *d, struct lv_advice *a, int teamed, int bond,
			  const char *what, const char *mac)
{
	const char *s = standby_for(d, mac);

	if (bond)
		issue(a, LV_P_BOND_GUEST, LV_SEV_NOTE, "", NULL,
		      "%s has no teaming (bonding guest): libvirt refuses `virsh migrate` while a "
		      "hostdev is attached; migrate it with `hybond migrate %s --to HOST`",
		      what, d->name);
	else
		issue(a, teamed ? LV_P_VF_TEAMING : LV_P_BOND_GUEST, LV_SEV_ERROR, what,
		      snippet("teaming", "type", "transient", "persistent", s),
		      teamed ? "%s has no <teaming type='transient' persistent='%s'/>: libvirt "
		      "refuses `virsh migrate` while it is attached" :
		      "%s has no teaming: for a net_failover guest add <teaming type='transient' "
		      "persistent='%s'/> here and <teaming type='persistent'/> to the virtio "
		      "standby; for a bonding guest set mode='bond' in the hybond metadata and "
		      "migrate with `hybond migrate` (libvirt refuses `virsh migrate` while a "
		      "hostdev is attached)", what, s);
}

int lv_domain_check(const struct lv_domain *d, struct lv_advice *a)
{
	int teamed = 0, bond = !strcmp(d->meta_mode, "bond"), n_vf = 0, first_virtio = -1;
	int has_persistent = 0;
	unsigned i;
	char what[96];

	memset(a, 0, sizeof(*a));
	if (!d->has_channel)
		issue(a, LV_P_NO_CHANNEL, LV_SEV_ERROR, "<devices>", channel_snippet(d),
		      "no guest channel %s: hybond-hostd talks to the guest agent over it (libvirt "
		      "adds the <controller type='virtio-serial'> itself; the directory must exist "
		      "and be writable by QEMU, or leave path= out and libvirt picks one)",
		      LV_CHANNEL_NAME);
	if (!d->has_metadata)
		issue(a, LV_P_NO_METADATA, LV_SEV_ERROR, "<domain>", metadata_snippet(),
		      "no hybond metadata: host= names the hybond host the domain runs on (on a "
		      "running domain: virsh metadata %s %s --key hybond --set \"<vm host='HOST'/>\")",
		      d->name, LV_HYBOND_NS);
	for (i = 0; i < d->n_ifaces; i++) {
		teamed |= d->ifaces[i].teaming != LV_TEAM_NONE;
		has_persistent |= d->ifaces[i].teaming == LV_TEAM_PERSISTENT;
		if (first_virtio < 0 && is_virtio(&d->ifaces[i]))
			first_virtio = (int)i;
	}
	for (i = 0; i < d->n_hostdevs; i++)
		teamed |= d->hostdevs[i].teaming != LV_TEAM_NONE;
	for (i = 0; i < d->n_qemu_vfs; i++)
		teamed |= d->qemu_vfs[i].failover_pair_id[0] != '\0';
	if (!strcmp(d->meta_mode, "failover"))
		teamed = 1;

	check_standbys(d, a);
	for (i = 0; i < d->n_ifaces; i++) {
		const struct lv_iface *f = &d->ifaces[i];

		(void)snprintf(what, sizeof(what), "interface %u (type %s, mac %s)", i + 1, f->type,
			       f->mac[0] ? f->mac : "?");
		if (f->teaming == LV_TEAM_TRANSIENT) {
			n_vf++;
			check_transient(d, a, what, f->persistent, f->mac);
		} else if (!strcmp(f->type, "hostdev")) {
			n_vf++;
			check_lone_vf(d, a, teamed, bond, what, f->mac);
		}
	}
	for (i = 0; i < d->n_hostdevs; i++) {
		const struct lv_hostdev *h = &d->hostdevs[i];
		char pci[13];

		lv_pci_format(&h->pci, pci);
		(void)snprintf(what, sizeof(what), "hostdev %s", pci);
		n_vf++;
		if (h->teaming == LV_TEAM_TRANSIENT)
			check_transient(d, a, what, h->persistent, "");
		else
			check_lone_vf(d, a, teamed, bond, what, "");
	}
	for (i = 0; i < d->n_qemu_vfs; i++) {
		const struct lv_qemu_vf *v = &d->qemu_vfs[i];

		(void)snprintf(what, sizeof(what), "qemu:commandline device %.40s", v->id);
		n_vf++;
		if (v->failover_pair_id[0])
			check_transient(d, a, what, v->failover_pair_id, v->mac);
		else if (teamed && !bond)
			issue(a, LV_P_VF_TEAMING, LV_SEV_ERROR, what, NULL,
			      "%s has no failover_pair_id=ALIAS of its virtio standby", what);
	}
	if (!teamed && !bond && first_virtio >= 0) {
		const struct lv_iface *f = &d->ifaces[first_virtio];

		(void)snprintf(what, sizeof(what), "<interface> %d (mac %s)", first_virtio + 1,
			       f->mac[0] ? f->mac : "?");
		issue(a, LV_P_STANDBY_TEAMING, LV_SEV_ERROR, what,
		      snippet("teaming", "type", "persistent", NULL, NULL),
		      "the virtio interface %d has no <teaming type='persistent'/>%s: it is the "
		      "standby of a net_failover pair (for a bonding guest set mode='bond' in the "
		      "hybond metadata instead)", first_virtio + 1, f->alias[0] ? "" :
		      " and no <alias name='ua-standby0'/>");
	}
	if (first_virtio < 0 && !has_persistent)     /* a non-virtio standby: reported above */
		issue(a, LV_P_STANDBY_MODEL, LV_SEV_ERROR, "<devices>", NULL,
		      "no virtio interface: hybond pairs each VF with a virtio-net standby "
		      "(<interface> with <model type='virtio'/>, <teaming type='persistent'/> and "
		      "<alias name='ua-standby0'/>)");
	else if (!n_vf && !d->n_pairs && !teamed)
		issue(a, LV_P_NO_VF, LV_SEV_NOTE, "", NULL,
		      "no VF: the domain runs on its virtio interface only; hybond has nothing to "
		      "move (add a transient hostdev interface, `hybond libvirt xml vf`)");
	return a->n_errors ? 1 : 0;
}
