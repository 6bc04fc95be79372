// SPDX-License-Identifier: LGPL-2.1-or-later
/* pair.c — link table and pair discovery. */
#include <errno.h>
#include <string.h>

#include "pair.h"

void gd_table_init(struct gd_table *t)
{
	memset(t, 0, sizeof(*t));
}

const struct gd_link *gd_table_get(const struct gd_table *t, int ifindex)
{
	int i;

	if (ifindex <= 0)
		return NULL;
	for (i = 0; i < t->n; i++)
		if (t->links[i].ifindex == ifindex)
			return &t->links[i];
	return NULL;
}

const struct gd_link *gd_table_by_name(const struct gd_table *t, const char *name)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->links[i].name, name) == 0)
			return &t->links[i];
	return NULL;
}

static int changes(const struct gd_link *a, const struct gd_link *b)
{
	int ch = 0;

	if ((a->flags ^ b->flags) & IFF_UP)
		ch |= GD_CH_UP;
	if (a->carrier != b->carrier)
		ch |= GD_CH_CARRIER;
	if (a->master != b->master)
		ch |= GD_CH_MASTER;
	if (strcmp(a->name, b->name) != 0)
		ch |= GD_CH_NAME;
	if (a->bond_active != b->bond_active || a->bond_primary != b->bond_primary ||
	    a->bond_all_active != b->bond_all_active)
		ch |= GD_CH_BOND;
	return ch;
}

int gd_table_apply(struct gd_table *t, const struct nlmsghdr *nlh, struct gd_link *before,
		   struct gd_link *after)
{
	struct gd_link l, *cur = NULL;
	int rc = gd_link_parse(nlh, &l), i, ch;

	if (rc < 0)
		return rc;
	for (i = 0; i < t->n; i++)
		if (t->links[i].ifindex == l.ifindex)
			cur = &t->links[i];
	if (rc == 0) {                  /* RTM_DELLINK */
		if (!cur)
			return 0;
		if (before)
			*before = *cur;
		if (after)
			*after = *cur;
		*cur = t->links[--t->n];
		return GD_CH_GONE;
	}
	if (!cur) {
		if (t->n == GD_MAX_LINKS)
			return -ENOSPC;
		cur = &t->links[t->n++];
		memset(cur, 0, sizeof(*cur));
		ch = GD_CH_NEW;
	} else {
		ch = changes(cur, &l);
	}
	if (before)
		*before = *cur;
	*cur = l;
	if (after)
		*after = l;
	return ch;
}

static const struct gd_bond_conf *conf_for_bond(const struct gd_config *cfg, const char *name)
{
	int i;

	for (i = 0; cfg && i < cfg->nbonds; i++)
		if (strcmp(cfg->bonds[i].name, name) == 0)
			return &cfg->bonds[i];
	return NULL;
}

/* Does an un-enslaved PCI link belong to this bond pair? */
static int vf_matches(const struct gd_link *l, const struct gd_pair_links *p)
{
	if (l->master != 0 || gd_link_role(l) != GD_ROLE_PCI)
		return 0;
	if (p->conf) {
		if (p->conf->vf_pci[0])
			return strcmp(p->conf->vf_pci, l->parent_dev) == 0;
		return memcmp(gd_link_id_mac(l), p->conf->vf_mac, 6) == 0;
	}
	return memcmp(gd_link_id_mac(l), p->mac, 6) == 0;
}

static void find_vf(const struct gd_table *t, struct gd_pair_links *p)
{
	int i;

	for (i = 0; i < t->n; i++) {
		const struct gd_link *l = &t->links[i];

		if (l->master == p->master && gd_link_role(l) == GD_ROLE_PCI && !p->vf)
			p->vf = l->ifindex;
	}
	if (p->vf || p->kind != GD_PAIR_BOND)
		return;
	for (i = 0; i < t->n && !p->vf_candidate; i++)
		if (vf_matches(&t->links[i], p))
			p->vf_candidate = t->links[i].ifindex;
}

int gd_pairs_find(const struct gd_table *t, const struct gd_config *cfg,
		  struct gd_pair_links *out, int max)
{
	int i, n = 0;

	for (i = 0; i < t->n && n < max; i++) {
		const struct gd_link *s = &t->links[i], *m;
		struct gd_pair_links p;

		if (gd_link_role(s) != GD_ROLE_VIRTIO || !s->master)
			continue;
		m = gd_table_get(t, s->master);
		if (!m)
			continue;
		memset(&p, 0, sizeof(p));
		if (gd_link_role(m) == GD_ROLE_BOND) {
			p.conf = conf_for_bond(cfg, m->name);
			if (m->bond_mode != 1 && !p.conf)
				continue;       /* not active-backup: not ours */
			p.kind = GD_PAIR_BOND;
		} else if (gd_link_role(m) == GD_ROLE_VIRTIO) {
			p.kind = GD_PAIR_FAILOVER;  /* net_failover: master on the same virtio device */
		} else {
			continue;
		}
		memcpy(p.mac, gd_link_id_mac(s), 6);
		p.master = m->ifindex;
		p.standby = s->ifindex;
		find_vf(t, &p);
		out[n++] = p;
	}
	return n;
}
