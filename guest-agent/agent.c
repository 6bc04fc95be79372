// SPDX-License-Identifier: LGPL-2.1-or-later
/* agent.c — pairs, the per-pair state machine and the host session.
 *
 * Reading order: gd_agent_link_msg() -> reconcile() (what the kernel did),
 * gd_agent_frame() -> on_request() (what the host asks), gd_agent_tick()
 * (deadlines).  Every action goes through a->ops; nothing here blocks.
 */
#include <errno.h>
#include <string.h>

#include "agent.h"
#include "kmod-shim/hybond_genl.h"
#include "log.h"

/* Protocol timing (docs/protocol.md section 8) and our own pacing. */
#define HELLO_RETRY_US        1000000ull  /* HELLO unanswered: retry after 1 s ... */
#define HELLO_RETRY_SLOW_US   5000000ull  /* ... then every 5 s after 3 tries */
#define HELLO_FAST_TRIES      3
#define DRAIN_RECHECK_US      1000ull     /* BQL has no event: re-read every 1 ms while draining */
#define PIN_RETRY_US          50000ull    /* bond refused the active slave (MII not up yet) */
#define US_PER_MS             1000ull

const char *gd_state_name(enum gd_state s)
{
	switch (s) {
	case GD_ST_IDLE: return "idle";
	case GD_ST_DRAINING: return "draining";
	case GD_ST_RESUMING: return "resuming";
	}
	return "?";
}

void gd_agent_init(struct gd_agent *a, const struct gd_config *cfg, const struct gd_ops *ops,
		   void *ctx, uint32_t caps)
{
	memset(a, 0, sizeof(*a));
	gd_table_init(&a->links);
	a->cfg = cfg;
	a->ops = ops;
	a->ctx = ctx;
	a->caps = caps;
}

/* ---- small helpers ------------------------------------------------------- */

static const struct gd_link *link_of(const struct gd_agent *a, int ifindex)
{
	return gd_table_get(&a->links, ifindex);
}

static bool link_usable(const struct gd_agent *a, int ifindex)
{
	const struct gd_link *l = link_of(a, ifindex);

	return l && gd_link_is_up(l);
}

/* The pair's VF can carry TX: up with carrier, and not being unplugged (the
 * kernel shim's UNPLUG_STARTING came before rtnetlink says anything). */
static bool vf_usable(const struct gd_agent *a, const struct gd_pair *p)
{
	return p->l.vf && p->l.vf != p->leaving_vf && link_usable(a, p->l.vf);
}

/* The carrier reported to the host: none on a VF the kernel shim said is
 * leaving, whatever rtnetlink still shows during the unplug barrier.  The
 * host treats a VF with carrier as usable and would steer RX back to it. */
static uint8_t reported_carrier(const struct gd_pair *p, const struct gd_link *l)
{
	return l->ifindex == p->leaving_vf ? 0 : l->carrier;
}

struct gd_pair *gd_agent_pair(struct gd_agent *a, uint32_t id)
{
	int i;

	for (i = 0; i < a->npairs; i++)
		if (a->pairs[i].id == id && a->pairs[i].present)
			return &a->pairs[i];
	return NULL;
}

uint8_t gd_pair_active(const struct gd_agent *a, const struct gd_pair *p)
{
	if (p->l.kind == GD_PAIR_BOND) {
		const struct gd_link *m = link_of(a, p->l.master);

		return m && p->l.vf && p->l.vf != p->leaving_vf && m->bond_active == p->l.vf
		       ? HB_PATH_FAST : HB_PATH_STANDBY;
	}
	if (p->pinned && p->pin_applied)
		return HB_PATH_STANDBY;
	return vf_usable(a, p) ? HB_PATH_FAST : HB_PATH_STANDBY;
}

static uint32_t elapsed_us(const struct gd_agent *a, const struct gd_pair *p, uint64_t now_us)
{
	uint64_t d;

	if (a->ops->now_us)
		now_us = a->ops->now_us();
	d = now_us - p->req_start_us;

	return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

/* ---- sending ------------------------------------------------------------- */

static void send_msg(struct gd_agent *a, const struct hb_msg *m)
{
	int n = hb_encode(a->txbuf, sizeof(a->txbuf), m);

	if (n < 0) {
		gd_err("encoding %s: %s", hb_msg_name(m->type), hb_strerror(n));
		return;
	}
	if (a->ops->send(a->ctx, a->txbuf, (size_t)n) == 0)
		a->frames_out++;
	else
		gd_debug("%s not sent: no host on the channel", hb_msg_name(m->type));
}

static void send_error(struct gd_agent *a, const struct hb_hdr *req, uint32_t code, int detail,
		       const char *text)
{
	int n;

	/* Never answer an answer or an ERROR (no error loops). */
	if (req && ((req->flags & HB_F_REPLY) || req->type == HB_MSG_ERROR))
		return;
	n = hb_encode_error(a->txbuf, sizeof(a->txbuf), req, code, detail, text);
	if (n >= 0 && a->ops->send(a->ctx, a->txbuf, (size_t)n) == 0)
		a->frames_out++;
	gd_info("ERROR %s to %s seq %u%s%s", hb_error_code_name(code),
		req ? hb_msg_name(req->type) : "-", req ? req->seq : 0, text ? ": " : "",
		text ? text : "");
}

/* Every minor of our major: the guest's messages are those of 1.0 (later minors added
 * daemon-to-daemon messages only), and protocol.md §6 says a receiver accepts any minor. */
#define GD_VER_MIN HB_VERSION(HB_VERSION_MAJOR, 0)

static void send_hello(struct gd_agent *a, uint64_t now_us)
{
	struct hb_msg *m = &a->scratch;

	hb_msg_init(m, HB_MSG_HELLO, hb_seq_next(&a->seq));
	m->u.hello.ver_min = GD_VER_MIN;
	m->u.hello.ver_max = HB_VERSION_CURRENT;
	m->u.hello.caps = a->caps;
	m->u.hello.agent = GD_AGENT_NAME;
	a->hello_seq = m->seq;
	send_msg(a, m);
	a->hello_tries++;
	a->hello_due_us = now_us + (a->hello_tries < HELLO_FAST_TRIES ? HELLO_RETRY_US
								      : HELLO_RETRY_SLOW_US);
}

static void send_event(struct gd_agent *a, const struct gd_pair *p, uint8_t kind, int ifindex)
{
	struct hb_msg *m = &a->scratch;
	const struct gd_link *l = link_of(a, ifindex);
	struct hb_event *e = &m->u.event;

	a->status_dirty = true;
	if (!a->session)
		return;
	hb_msg_init(m, HB_MSG_EVENT, hb_seq_next(&a->seq));
	e->pair_id = p->id;
	e->kind = kind;
	e->active = gd_pair_active(a, p);
	HB_MARK(e, EVENT, ACTIVE);
	if (ifindex > 0) {
		e->ifindex = (uint32_t)ifindex;
		HB_MARK(e, EVENT, IFINDEX);
	}
	if (l) {
		e->ifname = l->name;
		e->link = (l->flags & IFF_UP) ? 1 : 0;
		e->carrier = reported_carrier(p, l);
		HB_MARK(e, EVENT, LINK);
		HB_MARK(e, EVENT, CARRIER);
	}
	send_msg(a, m);
}

static void fill_iface(const struct gd_link *l, struct hb_iface *i)
{
	memset(i, 0, sizeof(*i));
	i->name = l->name;
	i->ifindex = (uint32_t)l->ifindex;
	i->link = (l->flags & IFF_UP) ? 1 : 0;
	i->carrier = l->carrier;
	i->rx_packets = l->rx_packets;
	i->tx_packets = l->tx_packets;
	i->rx_bytes = l->rx_bytes;
	i->tx_bytes = l->tx_bytes;
	i->drops = l->drops;
	HB_MARK(i, IFACE, RX_PACKETS);
	HB_MARK(i, IFACE, TX_PACKETS);
	HB_MARK(i, IFACE, RX_BYTES);
	HB_MARK(i, IFACE, TX_BYTES);
	HB_MARK(i, IFACE, DROPS);
}

int gd_agent_fill_status(struct gd_agent *a, struct hb_msg *m, uint32_t pair_id)
{
	struct hb_status *s = &m->u.status;
	int i;

	s->n_pairs = 0;
	for (i = 0; i < a->npairs; i++) {
		const struct gd_pair *p = &a->pairs[i];
		const struct gd_link *ml = link_of(a, p->l.master), *sl = link_of(a, p->l.standby);
		const struct gd_link *vl = link_of(a, p->l.vf);
		struct hb_pair *o;

		if (!p->present || !ml || !sl || (pair_id && p->id != pair_id))
			continue;
		o = &s->pairs[s->n_pairs++];
		memset(o, 0, sizeof(*o));
		o->id = p->id;
		memcpy(o->mac, p->l.mac, 6);
		o->active = gd_pair_active(a, p);
		fill_iface(ml, &o->master);
		fill_iface(sl, &o->standby);
		if (vl) {
			fill_iface(vl, &o->vf);
			o->vf.carrier = reported_carrier(p, vl);
			HB_MARK(o, PAIR, VF);
			if (vl->parent_dev[0])
				o->vf_pci = vl->parent_dev;
		}
	}
	return s->n_pairs;
}

static void send_status(struct gd_agent *a, const struct hb_hdr *req, uint32_t pair_id)
{
	struct hb_msg *m = &a->scratch;

	if (req) {
		struct hb_msg r;

		memset(&r, 0, sizeof(r));
		r.type = req->type;
		r.seq = req->seq;
		hb_msg_init_reply(m, HB_MSG_STATUS, &r);
	} else {
		hb_msg_init(m, HB_MSG_STATUS, hb_seq_next(&a->seq));
	}
	if (gd_agent_fill_status(a, m, pair_id) == 0 && pair_id) {
		send_error(a, req, HB_ERR_UNKNOWN_PAIR, 0, "no such pair");
		return;
	}
	send_msg(a, m);
}

/* ---- kernel shim: ending its unplug barrier ------------------------------ */

/* The shim's barrier holds a leaving VF's unbind, while the VF still
 * receives, until RELEASE (or its rx_wait_ms): sent once RX is off the VF or
 * nobody will move it.  -ENOENT from the kernel (no barrier waits) is
 * harmless and comes back on the shim socket (main.c). */
static void release_master(struct gd_agent *a, int master, uint32_t pair_id, const char *why)
{
	int rc;

	if (!a->ops->shim_release)
		return;
	rc = a->ops->shim_release(a->ctx, master);
	if (rc < 0)
		gd_warn("pair %u: kernel shim RELEASE for master ifindex %d not sent: %s; the unplug "
			"goes on after the module's rx_wait_ms", pair_id, master, strerror(-rc));
	else
		gd_info("pair %u: kernel shim RELEASE: %s", pair_id, why);
}

static void release_pair(struct gd_agent *a, struct gd_pair *p, const char *why)
{
	p->release_pending = false;
	release_master(a, p->l.master, p->id, why);
}

/* Every pending release, e.g. the host session ended: nobody will move RX. */
static void release_all(struct gd_agent *a, const char *why)
{
	int i;

	for (i = 0; i < a->npairs; i++)
		if (a->pairs[i].release_pending)
			release_pair(a, &a->pairs[i], why);
}

/* A new session: the host's RX steering is not known any more. */
static void forget_host_rx(struct gd_agent *a)
{
	int i;

	for (i = 0; i < a->npairs; i++)
		a->pairs[i].host_rx_standby = false;
}

/* ---- answers to the pending request of a pair ---------------------------- */

static void answer_switch_done(struct gd_agent *a, struct gd_pair *p, uint8_t path,
			       uint32_t queued, uint64_t now_us)
{
	struct hb_msg *m = &a->scratch;

	hb_msg_init(m, HB_MSG_SWITCH_DONE, p->req_seq);
	m->flags = HB_F_REPLY;
	m->u.switch_done.pair_id = p->id;
	m->u.switch_done.path = path;
	m->u.switch_done.queued = queued;
	m->u.switch_done.elapsed_us = elapsed_us(a, p, now_us);
	p->host_rx_standby = path == HB_PATH_STANDBY;  /* the host moved RX before asking */
	gd_info("pair %u: SWITCH_DONE path %s queued %u after %u us", p->id,
		path == HB_PATH_FAST ? "FAST" : "STANDBY", queued, m->u.switch_done.elapsed_us);
	send_msg(a, m);
	p->state = GD_ST_IDLE;
	p->recheck_us = 0;
	a->status_dirty = true;
}

static void answer_fast_path_up(struct gd_agent *a, struct gd_pair *p, uint8_t path,
				uint64_t now_us)
{
	struct hb_msg *m = &a->scratch;

	hb_msg_init(m, HB_MSG_FAST_PATH_UP, p->req_seq);
	m->flags = HB_F_REPLY;
	m->u.fast_path_up.pair_id = p->id;
	m->u.fast_path_up.path = path;
	m->u.fast_path_up.elapsed_us = elapsed_us(a, p, now_us);
	gd_info("pair %u: FAST_PATH_UP path %s after %u us", p->id,
		path == HB_PATH_FAST ? "FAST" : "STANDBY", m->u.fast_path_up.elapsed_us);
	send_msg(a, m);
	p->state = GD_ST_IDLE;
	p->recheck_us = 0;
	a->status_dirty = true;
}

static void answer_pair_error(struct gd_agent *a, struct gd_pair *p, uint16_t req_type,
			      uint32_t code, const char *text)
{
	struct hb_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = req_type;
	h.seq = p->req_seq;
	send_error(a, &h, code, 0, text);
	p->state = GD_ST_IDLE;
	p->recheck_us = 0;
}

/* ---- TX pin -------------------------------------------------------------- */

/* Does the kernel already do what p->pinned wants?  (bond: read back) */
static bool pin_in_kernel(const struct gd_agent *a, const struct gd_pair *p)
{
	const struct gd_link *m;

	if (p->l.kind == GD_PAIR_FAILOVER)
		return p->pin_known && p->pin_applied == p->pinned;
	m = link_of(a, p->l.master);
	if (!m)
		return true;
	if (p->pinned)
		return m->bond_active == p->l.standby && m->bond_primary == p->l.standby;
	/* not pinned: the VF when it is up, else whatever the bond chose */
	return !vf_usable(a, p) || m->bond_active == p->l.vf;
}

static int set_pin(struct gd_agent *a, struct gd_pair *p, bool pinned, uint64_t now_us)
{
	int rc;

	p->pinned = pinned;
	if (pin_in_kernel(a, p))
		return 0;
	rc = a->ops->apply_pin(a->ctx, a, p);
	if (rc == 0) {
		if (p->l.kind == GD_PAIR_FAILOVER) {
			p->pin_applied = pinned;
			p->pin_known = true;
		}
		gd_info("pair %u: TX %s", p->id, pinned ? "pinned to the standby" : "unpinned");
	} else if (p->state == GD_ST_IDLE && !p->recheck_us) {
		p->recheck_us = now_us + PIN_RETRY_US;
	}
	a->status_dirty = true;
	return rc;
}

/* ---- state machine steps ------------------------------------------------- */

static void drain_step(struct gd_agent *a, struct gd_pair *p, uint64_t now_us)
{
	uint32_t pkts = 0;
	int rc = p->l.vf ? a->ops->queued(a->ctx, a, p, &pkts) : 0;

	if (rc > 0 && now_us < p->deadline_us) {
		p->recheck_us = now_us + DRAIN_RECHECK_US;
		return;
	}
	if (rc <= 0)
		pkts = 0;
	(void)a->ops->announce(a->ctx, a, p, p->l.standby);
	answer_switch_done(a, p, HB_PATH_STANDBY, pkts, now_us);
}

static void resume_step(struct gd_agent *a, struct gd_pair *p, uint64_t now_us)
{
	bool vf_ready = vf_usable(a, p);

	if (vf_ready) {
		/* announce through the VF, then move TX onto it */
		if (!p->pinned || pin_in_kernel(a, p) || p->recheck_us == 0)
			(void)a->ops->announce(a->ctx, a, p, p->l.vf);
		if (set_pin(a, p, false, now_us) == 0 && pin_in_kernel(a, p)) {
			answer_fast_path_up(a, p, HB_PATH_FAST, now_us);
			return;
		}
		/* bond refused (its MII monitor has not seen the link yet): retry */
		p->recheck_us = now_us + PIN_RETRY_US;
	}
	if (now_us >= p->deadline_us) {
		p->pinned = true;       /* stay where traffic works */
		if (p->l.vf)
			answer_fast_path_up(a, p, HB_PATH_STANDBY, now_us);
		else
			answer_pair_error(a, p, HB_MSG_RESUME_FAST_PATH, HB_ERR_NO_VF,
					  "no VF appeared before the deadline");
	}
}

/* ---- links -> pairs ------------------------------------------------------ */

static struct gd_pair *pair_for(struct gd_agent *a, const struct gd_pair_links *l)
{
	int i;

	for (i = 0; i < a->npairs; i++)
		if (a->pairs[i].l.kind == l->kind && !memcmp(a->pairs[i].l.mac, l->mac, 6))
			return &a->pairs[i];
	if (a->npairs == HB_MAX_PAIRS)
		return NULL;
	i = a->npairs++;
	memset(&a->pairs[i], 0, sizeof(a->pairs[i]));
	a->pairs[i].id = ++a->next_id;  /* in order of discovery, never reused */
	return &a->pairs[i];
}

static void configured_bonds(struct gd_agent *a)
{
	int i, j;

	for (i = 0; a->cfg && a->links_complete && i < a->cfg->nbonds; i++) {
		const struct gd_bond_conf *b = &a->cfg->bonds[i];
		const struct gd_link *bl = gd_table_by_name(&a->links, b->name);

		if (!bl) {
			if (!a->conf_tried_bond[i]) {
				a->conf_tried_bond[i] = 1;
				gd_info("creating bond %s (guest.conf)", b->name);
				(void)a->ops->create_bond(a->ctx, b);
			}
			continue;
		}
		for (j = 0; j < a->links.n; j++) {
			const struct gd_link *l = &a->links.links[j];

			if (gd_link_role(l) == GD_ROLE_VIRTIO && l->master != bl->ifindex &&
			    !memcmp(gd_link_id_mac(l), b->standby_mac, 6) &&
			    a->conf_tried_standby[i] != l->ifindex) {
				a->conf_tried_standby[i] = l->ifindex;
				gd_info("enslaving standby %s to %s (guest.conf)", l->name, b->name);
				(void)a->ops->enslave_standby(a->ctx, bl->ifindex, l->ifindex);
			}
		}
	}
}

/* Reports link / carrier changes of the pair's interfaces as EVENTs. */
static void report_changes(struct gd_agent *a, struct gd_pair *p)
{
	const int ifs[3] = { p->l.master, p->l.standby, p->l.vf };
	int k;

	if (p->last_vf != p->l.vf) {
		if (p->last_vf) {
			gd_info("pair %u: VF (ifindex %d) vanished", p->id, p->last_vf);
			send_event(a, p, HB_EV_VF_VANISHED, p->last_vf);
		}
		if (p->l.vf) {
			gd_info("pair %u: VF %s appeared", p->id, link_of(a, p->l.vf)->name);
			send_event(a, p, HB_EV_VF_APPEARED, p->l.vf);
		}
		p->last_vf = p->l.vf;
	}
	for (k = 0; k < 3; k++) {
		const struct gd_link *l = link_of(a, ifs[k]);
		uint8_t up = l && (l->flags & IFF_UP), car = l && reported_carrier(p, l);

		if (!l)
			continue;
		if (up != p->last_up[k])
			send_event(a, p, HB_EV_LINK, ifs[k]);
		else if (car != p->last_carrier[k])
			send_event(a, p, HB_EV_CARRIER, ifs[k]);
		p->last_up[k] = up;
		p->last_carrier[k] = car;
	}
}

static void reconcile_pair(struct gd_agent *a, struct gd_pair *p, const struct gd_pair_links *l,
			   uint64_t now_us)
{
	bool was_present = p->present;
	int old_vf = p->l.vf, old_master = p->l.master, old_standby = p->l.standby;

	p->l = *l;
	p->present = true;
	if (p->leaving_vf && !link_of(a, p->leaving_vf))
		p->leaving_vf = 0;      /* gone (VF_VANISHED below): the next VF is another ifindex */
	if (p->release_pending && (!p->leaving_vf || l->vf != p->leaving_vf)) {
		/* the barrier ended before the removal: nothing to release */
		gd_debug("pair %u: leaving VF gone: no RELEASE pending", p->id);
		p->release_pending = false;
	}
	if (!was_present || old_master != l->master || old_standby != l->standby) {
		p->ingress_ok = false;
		p->pin_known = false;   /* a restarted agent may find a stale pin: set it once */
		gd_info("pair %u: %s master %s standby %s", p->id,
			l->kind == GD_PAIR_BOND ? "bond" : "net_failover",
			link_of(a, l->master)->name, link_of(a, l->standby)->name);
	}
	if (!p->ingress_ok)
		p->ingress_ok = a->ops->accept_standby_rx(a->ctx, a, p) == 0;
	if (l->vf_candidate && l->vf_candidate != p->enslave_tried) {
		p->enslave_tried = l->vf_candidate;
		gd_info("pair %u: enslaving VF %s", p->id, link_of(a, l->vf_candidate)->name);
		(void)a->ops->enslave(a->ctx, a, p, l->vf_candidate);
	}
	/* A VF that went away while the host session is up: hold TX on the
	 * standby so that the next VF is not used before RESUME_FAST_PATH
	 * (the host moves RX first, then asks). */
	if (old_vf && !l->vf && !p->pinned && a->session) {
		gd_info("pair %u: VF gone; holding TX on the standby until RESUME_FAST_PATH", p->id);
		p->pinned = true;
	}
	/* Safety: never hold TX on a standby that cannot carry it. */
	if (p->pinned && p->state != GD_ST_DRAINING && !link_usable(a, l->standby) &&
	    vf_usable(a, p)) {
		gd_warn("pair %u: standby lost carrier while the VF is up: TX back to the VF",
			p->id);
		p->pinned = false;
	}
	report_changes(a, p);
	if (!pin_in_kernel(a, p))
		(void)set_pin(a, p, p->pinned, now_us);
	if (p->state == GD_ST_RESUMING)
		resume_step(a, p, now_us);
}

static void reconcile(struct gd_agent *a, uint64_t now_us)
{
	struct gd_pair_links found[HB_MAX_PAIRS];
	bool seen[HB_MAX_PAIRS] = { false };
	int n, i;

	configured_bonds(a);
	n = gd_pairs_find(&a->links, a->cfg, found, HB_MAX_PAIRS);
	for (i = 0; i < n; i++) {
		struct gd_pair *p = pair_for(a, &found[i]);

		if (!p)
			continue;
		seen[p - a->pairs] = true;
		reconcile_pair(a, p, &found[i], now_us);
	}
	for (i = 0; i < a->npairs; i++) {
		if (!seen[i] && a->pairs[i].present) {
			gd_warn("pair %u: master or standby gone", a->pairs[i].id);
			if (a->pairs[i].release_pending)
				release_pair(a, &a->pairs[i], "pair gone");
			a->pairs[i].present = false;
			a->status_dirty = true;
		}
	}
}

void gd_agent_link_msg(struct gd_agent *a, const struct nlmsghdr *nlh, uint64_t now_us)
{
	struct gd_link before, after;
	int ch = gd_table_apply(&a->links, nlh, &before, &after);

	if (ch == -ENOSPC)
		gd_warn("more than %d interfaces: ignoring %s", GD_MAX_LINKS, after.name);
	if (ch <= 0)
		return;
	if (ch & GD_CH_NAME)
		gd_debug("%s renamed to %s", before.name, after.name);
	if (ch & GD_CH_NEW)
		gd_debug("link %d %s bus=%s dev=%s master=%d", after.ifindex, after.name,
			 after.parent_bus, after.parent_dev, after.master);
	reconcile(a, now_us);
}

void gd_agent_links_complete(struct gd_agent *a, uint64_t now_us)
{
	if (a->links_complete)
		return;
	a->links_complete = true;
	reconcile(a, now_us);
}

/* ---- requests from the host ---------------------------------------------- */

static struct gd_pair *request_pair(struct gd_agent *a, const struct hb_msg *m, uint32_t id)
{
	struct gd_pair *p = gd_agent_pair(a, id);
	struct hb_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = m->type;
	h.seq = m->seq;
	if (!p) {
		send_error(a, &h, HB_ERR_UNKNOWN_PAIR, 0, "no such pair");
		return NULL;
	}
	if (p->state != GD_ST_IDLE) {
		send_error(a, &h, HB_ERR_BUSY, 0, gd_state_name(p->state));
		return NULL;
	}
	return p;
}

static void on_prepare(struct gd_agent *a, const struct hb_msg *m, uint64_t now_us)
{
	const struct hb_prepare_switch *r = &m->u.prepare_switch;
	struct gd_pair *p = gd_agent_pair(a, r->pair_id);

	/* The host moves RX first, then asks: a shim barrier waiting for it
	 * may end now, whatever the answer below (even BUSY). */
	if (p && p->release_pending && r->path == HB_PATH_STANDBY)
		release_pair(a, p, "the host moved RX (PREPARE_SWITCH to STANDBY)");
	p = request_pair(a, m, r->pair_id);
	if (!p)
		return;
	p->req_seq = m->seq;
	p->req_start_us = now_us;
	p->deadline_us = now_us + (uint64_t)r->deadline_ms * US_PER_MS;
	gd_info("pair %u: PREPARE_SWITCH to %s within %u ms", p->id,
		r->path == HB_PATH_FAST ? "FAST" : "STANDBY", r->deadline_ms);
	if (r->path == HB_PATH_FAST) {
		if (!vf_usable(a, p)) {
			answer_pair_error(a, p, m->type, HB_ERR_SWITCH_FAILED, "no VF with carrier");
			return;
		}
		(void)a->ops->announce(a->ctx, a, p, p->l.vf);
		if (set_pin(a, p, false, now_us) != 0) {
			p->pinned = true;
			answer_pair_error(a, p, m->type, HB_ERR_SWITCH_FAILED, "cannot unpin TX");
			return;
		}
		answer_switch_done(a, p, HB_PATH_FAST, 0, now_us);
		return;
	}
	if (!link_usable(a, p->l.standby)) {
		answer_pair_error(a, p, m->type, HB_ERR_SWITCH_FAILED,
				  "standby is down or has no carrier: nothing changed");
		return;
	}
	if (p->pinned && pin_in_kernel(a, p)) {
		p->req_start_us = now_us;
		answer_switch_done(a, p, HB_PATH_STANDBY, 0, now_us);
		return;
	}
	if (set_pin(a, p, true, now_us) != 0) {
		p->pinned = false;
		(void)set_pin(a, p, false, now_us);
		answer_pair_error(a, p, m->type, HB_ERR_SWITCH_FAILED, "cannot pin TX to the standby");
		return;
	}
	p->state = GD_ST_DRAINING;
	drain_step(a, p, now_us);
}

static void on_resume(struct gd_agent *a, const struct hb_msg *m, uint64_t now_us)
{
	const struct hb_resume_fast_path *r = &m->u.resume_fast_path;
	struct gd_pair *p = request_pair(a, m, r->pair_id);
	uint32_t ms;

	if (!p)
		return;
	ms = HB_PRESENT(r, RESUME_FAST_PATH, DEADLINE_MS) ? r->deadline_ms
							    : a->cfg->resume_deadline_ms;
	p->host_rx_standby = false;     /* RX goes back to the VF */
	gd_info("pair %u: RESUME_FAST_PATH within %u ms", p->id, ms);
	p->req_seq = m->seq;
	p->req_start_us = now_us;
	p->deadline_us = now_us + (uint64_t)ms * US_PER_MS;
	p->recheck_us = 0;
	p->state = GD_ST_RESUMING;
	resume_step(a, p, now_us);
}

static void on_hello(struct gd_agent *a, const struct hb_msg *m)
{
	const struct hb_hello *h = &m->u.hello;
	struct hb_msg *r = &a->scratch;
	struct hb_hdr hdr;
	int i;

	memset(&hdr, 0, sizeof(hdr));
	hdr.type = m->type;
	hdr.seq = m->seq;
	if (h->ver_min > HB_VERSION_CURRENT || h->ver_max < GD_VER_MIN) {
		send_error(a, &hdr, HB_ERR_UNSUPPORTED_VERSION, 0, "no common version (we speak "
			   "major 1, any minor up to ours)");
		return;
	}
	/* A new HELLO resets the session: pending requests are abandoned, and
	 * a VF_LEAVING of the old session will not be answered. */
	release_all(a, "host session restarted");
	forget_host_rx(a);
	for (i = 0; i < a->npairs; i++) {
		a->pairs[i].state = GD_ST_IDLE;
		a->pairs[i].recheck_us = 0;
	}
	hb_msg_init_reply(r, HB_MSG_HELLO_ACK, m);
	r->u.hello_ack.ver_min = GD_VER_MIN;
	r->u.hello_ack.ver_max = HB_VERSION_CURRENT;
	r->u.hello_ack.ver_use = h->ver_max < HB_VERSION_CURRENT ? h->ver_max : HB_VERSION_CURRENT;
	a->host_ver = r->u.hello_ack.ver_use;
	r->u.hello_ack.caps = a->caps;
	r->u.hello_ack.agent = GD_AGENT_NAME;
	gd_info("HELLO from %s: session open", h->agent);
	send_msg(a, r);
	a->session = true;
	a->hello_due_us = 0;
	a->status_dirty = true;
}

static void on_request(struct gd_agent *a, const struct hb_msg *m, uint64_t now_us)
{
	struct hb_hdr h;

	memset(&h, 0, sizeof(h));
	h.type = m->type;
	h.flags = m->flags;
	h.seq = m->seq;
	if (m->flags & HB_F_REPLY) {
		if (m->type == HB_MSG_HELLO_ACK && m->seq == a->hello_seq) {
			gd_info("HELLO_ACK from %s: session open", m->u.hello_ack.agent);
			a->host_ver = m->u.hello_ack.ver_use;
			forget_host_rx(a);
			a->session = true;
			a->hello_due_us = 0;
			a->status_dirty = true;
		} else if (m->type == HB_MSG_ERROR) {
			gd_warn("host answered seq %u with ERROR %s", m->seq,
				hb_error_code_name(m->u.error.code));
		}
		return;         /* other answers: nothing outstanding to match */
	}
	switch (m->type) {
	case HB_MSG_PING: {
		struct hb_msg *r = &a->scratch;

		hb_msg_init_reply(r, HB_MSG_PONG, m);
		r->u.pong.token = m->u.ping.token;
		send_msg(a, r);
		return;
	}
	case HB_MSG_HELLO:
		on_hello(a, m);
		return;
	case HB_MSG_ERROR:
		gd_warn("host reports ERROR %s", hb_error_code_name(m->u.error.code));
		return;
	case HB_MSG_STATUS:
	case HB_MSG_PREPARE_SWITCH:
	case HB_MSG_RESUME_FAST_PATH:
		break;
	default:
		send_error(a, &h, HB_ERR_UNEXPECTED, 0, "not a request the guest serves");
		return;
	}
	if (!a->session) {
		send_error(a, &h, HB_ERR_UNEXPECTED, 0, "no HELLO_ACK yet");
		if (!a->hello_due_us)
			send_hello(a, now_us);
		return;
	}
	if (m->type == HB_MSG_STATUS)
		send_status(a, &h, HB_PRESENT(&m->u.status, STATUS, PAIR_ID) ? m->u.status.pair_id : 0);
	else if (m->type == HB_MSG_PREPARE_SWITCH)
		on_prepare(a, m, now_us);
	else
		on_resume(a, m, now_us);
}

void gd_agent_frame(struct gd_agent *a, int rc, const struct hb_frame *f, uint64_t now_us)
{
	struct hb_msg m;

	if (rc == HB_E_VERSION) {
		a->frames_bad++;
		send_error(a, &f->hdr, HB_ERR_UNSUPPORTED_VERSION, 0, "unknown major version");
		return;
	}
	if (rc == HB_E_PAYLOAD_CSUM) {
		a->frames_bad++;
		send_error(a, &f->hdr, HB_ERR_MALFORMED, rc, "payload checksum");
		return;
	}
	if (rc != 1) {
		a->frames_bad++;        /* OVERSIZE and garbage: not answered */
		return;
	}
	a->frames_in++;
	rc = hb_msg_decode(f, &m);
	if (rc == HB_E_UNKNOWN_TYPE) {
		a->frames_bad++;
		send_error(a, &f->hdr, HB_ERR_UNKNOWN_MESSAGE, rc, NULL);
		return;
	}
	if (rc < 0) {
		a->frames_bad++;
		send_error(a, &f->hdr, HB_ERR_MALFORMED, rc, hb_strerror(rc));
		return;
	}
	gd_debug("rx %s seq %u%s", hb_msg_name(m.type), m.seq,
		 (m.flags & HB_F_REPLY) ? " (reply)" : "");
	on_request(a, &m, now_us);
}

/* ---- kernel shim (hybond_shim.ko) ---------------------------------------- */

void gd_agent_shim(struct gd_agent *a, bool subscribed)
{
	int i;

	if (subscribed) {
		a->caps |= HB_CAP_KMOD_SHIM;
		return;
	}
	a->caps &= ~(uint32_t)HB_CAP_KMOD_SHIM;
	for (i = 0; i < a->npairs; i++)
		a->pairs[i].release_pending = false;    /* unloaded: no barrier left */
}

static struct gd_pair *pair_of_master(struct gd_agent *a, int master)
{
	int i;

	for (i = 0; i < a->npairs; i++)
		if (a->pairs[i].present && a->pairs[i].l.master == master)
			return &a->pairs[i];
	return NULL;
}

/* The shim's unplug barrier has moved TX off the VF and holds the unbind
 * while the VF still receives: tell the host first (it moves RX to the
 * standby, then sends PREPARE_SWITCH(STANDBY), which releases the barrier),
 * then hold TX on the standby as for a VF that vanished.  Whenever the host
 * will not move RX because of this event, the barrier is released at once. */
static void on_unplug_starting(struct gd_agent *a, struct gd_pair *p, int vf, uint64_t now_us)
{
	if (!vf)
		vf = p->l.vf;
	if (!vf || vf == p->leaving_vf) {
		/* no VF, or VF_LEAVING already sent for it (then its release
		 * stays pending if it is) */
		if (!p->release_pending)
			release_pair(a, p, vf ? "VF_LEAVING already sent" : "pair has no VF");
		return;
	}
	if (vf != p->l.vf && !link_of(a, vf)) {
		gd_debug("pair %u: UNPLUG_STARTING for ifindex %d, already gone", p->id, vf);
		release_pair(a, p, "VF already gone");
		return;                 /* VF_VANISHED went out already */
	}
	p->leaving_vf = vf;
	if (vf == p->l.vf)
		p->last_carrier[2] = 0;         /* reported as such from now on */
	gd_info("pair %u: VF %s is being unplugged (kernel shim): VF_LEAVING%s", p->id,
		link_of(a, vf) ? link_of(a, vf)->name : "?",
		a->session ? "" : " not sent (no host session)");
	send_event(a, p, HB_EV_VF_LEAVING, vf);
	if (!a->session) {
		release_pair(a, p, "no host session to move RX");
	} else if (a->host_ver < HB_VERSION(1, 3)) {
		/* VF_LEAVING is 1.3: an older host ignores it and will not answer */
		release_pair(a, p, "the host's protocol predates VF_LEAVING");
	} else if (p->host_rx_standby) {
		release_pair(a, p, "the host has RX on the standby already");
	} else {
		p->release_pending = true;
		gd_info("pair %u: unplug held until the host moves RX (PREPARE_SWITCH to STANDBY)",
			p->id);
	}
	if (!p->pinned && a->session) {
		gd_info("pair %u: holding TX on the standby until RESUME_FAST_PATH", p->id);
		p->pinned = true;
	}
	if (!pin_in_kernel(a, p))
		(void)set_pin(a, p, p->pinned, now_us);
}

void gd_agent_shim_event(struct gd_agent *a, const struct gd_shim_ev *ev, uint64_t now_us)
{
	struct gd_pair *p = pair_of_master(a, ev->master);

	if (!p) {
		gd_debug("kernel shim: %s for master ifindex %d: not a pair of ours",
			 gd_shim_cmd_name(ev->cmd), ev->master);
		/* the barrier waits because we listen: nobody will move RX */
		if (ev->cmd == HYBOND_CMD_UNPLUG_STARTING)
			release_master(a, ev->master, 0, "not a pair of ours");
		return;
	}
	switch (ev->cmd) {
	case HYBOND_CMD_UNPLUG_STARTING:
		on_unplug_starting(a, p, ev->vf, now_us);
		break;
	case HYBOND_CMD_DRAINED:
		gd_info("pair %u: kernel shim drained VF (ifindex %d) in %u us: %u packet(s), "
			"%u byte(s) left%s", p->id, ev->vf, ev->drain_us, ev->backlog_pkts,
			ev->backlog_bytes, (ev->flags & HYBOND_F_TIMED_OUT) ?
			", drain cap expired (module parameter drain_ms)" : "");
		if (ev->has_release)
			gd_info("pair %u: kernel shim: unplug went on %u us after it started, "
				"on our RELEASE", p->id, ev->release_us);
		else if (ev->flags & HYBOND_F_RX_TIMED_OUT)
			gd_warn("pair %u: kernel shim: unplug went on without RELEASE (module "
				"parameter rx_wait_ms ran out): RX may have been lost", p->id);
		if (p->release_pending && ev->vf == p->leaving_vf) {
			gd_debug("pair %u: barrier over: no RELEASE pending", p->id);
			p->release_pending = false;
		}
		break;
	default:
		/* PRIMARY_ARRIVING, CARRIER_UP: rtnetlink drives the pair */
		gd_debug("pair %u: kernel shim %s VF ifindex %d flags %#x", p->id,
			 gd_shim_cmd_name(ev->cmd), ev->vf, ev->flags);
		break;
	}
}

/* ---- channel and timers -------------------------------------------------- */

void gd_agent_channel(struct gd_agent *a, bool up, uint64_t now_us)
{
	if (up == a->connected)
		return;
	a->connected = up;
	a->session = false;
	release_all(a, up ? "new host connection" : "host left the channel");
	if (up) {
		gd_info("host connected to the channel: HELLO");
		a->hello_tries = 0;
		send_hello(a, now_us);
		a->status_due_us = now_us + (uint64_t)a->cfg->status_interval_ms * US_PER_MS;
	} else {
		gd_info("host left the channel; carrying on with the current paths");
		a->hello_due_us = 0;
	}
}

void gd_agent_tick(struct gd_agent *a, uint64_t now_us)
{
	int i;

	for (i = 0; i < a->npairs; i++) {
		struct gd_pair *p = &a->pairs[i];
		bool due = (p->recheck_us && now_us >= p->recheck_us) ||
			   (p->state != GD_ST_IDLE && now_us >= p->deadline_us);

		if (!p->present || !due)
			continue;
		p->recheck_us = 0;
		if (p->state == GD_ST_DRAINING)
			drain_step(a, p, now_us);
		else if (p->state == GD_ST_RESUMING)
			resume_step(a, p, now_us);
		else if (!pin_in_kernel(a, p))
			(void)set_pin(a, p, p->pinned, now_us);
	}
	if (a->connected && !a->session && a->hello_due_us && now_us >= a->hello_due_us)
		send_hello(a, now_us);
	if (a->session && (a->status_dirty || now_us >= a->status_due_us)) {
		send_status(a, NULL, 0);
		a->status_dirty = false;
		a->status_due_us = now_us + (uint64_t)a->cfg->status_interval_ms * US_PER_MS;
	}
}

uint64_t gd_agent_next_us(const struct gd_agent *a)
{
	uint64_t next = 0;
	int i;

#define CONSIDER(t) do { if ((t) && (!next || (t) < next)) next = (t); } while (0)
	for (i = 0; i < a->npairs; i++) {
		const struct gd_pair *p = &a->pairs[i];

		if (!p->present)
			continue;
		CONSIDER(p->recheck_us);
		if (p->state != GD_ST_IDLE)
			CONSIDER(p->deadline_us);
	}
	if (a->connected && !a->session)
		CONSIDER(a->hello_due_us);
	if (a->session)
		CONSIDER(a->status_dirty ? 1 : a->status_due_us);
#undef CONSIDER
	return next;
}
