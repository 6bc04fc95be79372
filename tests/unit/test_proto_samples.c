/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/unit/test_proto_samples.c — sample messages (see the header).
 * Values are distinct and non-zero so that a field decoded into the wrong
 * place shows up in a round trip.
 */
#include <string.h>

#include "test_proto_samples.h"

static void sample_iface(struct hb_iface *i, const char *name, uint32_t idx,
			 uint64_t base)
{
	i->name = name;
	i->ifindex = idx;
	i->link = 1;
	i->carrier = 1;
	i->rx_packets = base + 1;
	i->tx_packets = base + 2;
	i->rx_bytes = base + 3;
	i->tx_bytes = 0xfedcba9876543210ull - base;
	i->drops = base + 5;
	HB_MARK(i, IFACE, RX_PACKETS);
	HB_MARK(i, IFACE, TX_PACKETS);
	HB_MARK(i, IFACE, RX_BYTES);
	HB_MARK(i, IFACE, TX_BYTES);
	HB_MARK(i, IFACE, DROPS);
}

static void sample_pair(struct hb_pair *p, uint32_t id, int with_vf)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x00 };

	p->id = id;
	memcpy(p->mac, mac, sizeof(mac));
	p->mac[5] = (uint8_t)id;
	p->active = with_vf ? HB_PATH_FAST : HB_PATH_STANDBY;
	sample_iface(&p->master, "eth0", 2 + 3 * id, (uint64_t)1000 * id);
	sample_iface(&p->standby, "eth0nsby", 3 + 3 * id, (uint64_t)2000 * id);
	if (with_vf) {
		p->vf_pci = "0000:00:05.0";
		sample_iface(&p->vf, "enp0s5", 4 + 3 * id, (uint64_t)3000 * id);
		p->vf.carrier = 0;
		HB_MARK(p, PAIR, VF);
	}
}

void hb_sample_msg(uint16_t type, struct hb_msg *m)
{
	hb_msg_init(m, type, 0x1000u + type);
	switch (type) {
	case HB_MSG_HELLO:
		m->u.hello.ver_min = HB_VERSION(1, 0);
		m->u.hello.ver_max = HB_VERSION_CURRENT;
		m->u.hello.caps = HB_CAP_NET_FAILOVER | HB_CAP_KMOD_SHIM;
		m->u.hello.agent = "hybond-guest 0.1.0";
		break;
	case HB_MSG_HELLO_ACK:
		m->flags = HB_F_REPLY;
		m->u.hello_ack.ver_min = HB_VERSION(1, 0);
		m->u.hello_ack.ver_max = HB_VERSION(1, 3);
		m->u.hello_ack.caps = HB_CAP_BONDING;
		m->u.hello_ack.agent = "hybond-host 0.1.0";
		m->u.hello_ack.ver_use = HB_VERSION_CURRENT;
		break;
	case HB_MSG_STATUS:
		m->flags = HB_F_REPLY;
		sample_pair(&m->u.status.pairs[0], 1, 1);
		sample_pair(&m->u.status.pairs[1], 2, 0);
		m->u.status.n_pairs = 2;
		m->u.status.pair_id = 7;
		HB_MARK(&m->u.status, STATUS, PAIR_ID);
		break;
	case HB_MSG_PREPARE_SWITCH:
		m->u.prepare_switch.pair_id = 1;
		m->u.prepare_switch.path = HB_PATH_STANDBY;
		m->u.prepare_switch.deadline_ms = 2000;
		break;
	case HB_MSG_SWITCH_DONE:
		m->flags = HB_F_REPLY;
		m->u.switch_done.pair_id = 1;
		m->u.switch_done.path = HB_PATH_STANDBY;
		m->u.switch_done.queued = 3;
		m->u.switch_done.elapsed_us = 1234;
		break;
	case HB_MSG_RESUME_FAST_PATH:
		m->u.resume_fast_path.pair_id = 1;
		m->u.resume_fast_path.deadline_ms = 5000;
		HB_MARK(&m->u.resume_fast_path, RESUME_FAST_PATH, DEADLINE_MS);
		break;
	case HB_MSG_FAST_PATH_UP:
		m->flags = HB_F_REPLY;
		m->u.fast_path_up.pair_id = 1;
		m->u.fast_path_up.path = HB_PATH_FAST;
		m->u.fast_path_up.elapsed_us = 250000;
		break;
	case HB_MSG_EVENT:
		m->u.event.pair_id = 1;
		m->u.event.kind = HB_EV_CARRIER;
		m->u.event.ifname = "enp0s5";
		m->u.event.ifindex = 7;
		m->u.event.link = 1;
		m->u.event.carrier = 1;
		m->u.event.active = HB_PATH_FAST;
		HB_MARK(&m->u.event, EVENT, IFINDEX);
		HB_MARK(&m->u.event, EVENT, LINK);
		HB_MARK(&m->u.event, EVENT, CARRIER);
		HB_MARK(&m->u.event, EVENT, ACTIVE);
		break;
	case HB_MSG_PING:
		m->u.ping.token = 0x0123456789abcdefull;
		break;
	case HB_MSG_PONG:
		m->flags = HB_F_REPLY;
		m->u.pong.token = 0x0123456789abcdefull;
		break;
	case HB_MSG_ERROR:
		m->flags = HB_F_REPLY;
		m->u.error.code = HB_ERR_UNKNOWN_PAIR;
		m->u.error.text = "no pair 9";
		m->u.error.req_type = HB_MSG_PREPARE_SWITCH;
		m->u.error.detail = 0;
		HB_MARK(&m->u.error, ERROR, REQ_TYPE);
		HB_MARK(&m->u.error, ERROR, DETAIL);
		break;
	case HB_MSG_MIGRATE_PREPARE: {
		static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x18, 0x00, 0x10 };

		m->u.migrate_prepare.vm = "vm1";
		memcpy(m->u.migrate_prepare.mac, mac, sizeof(mac));
		m->u.migrate_prepare.mode = 1;
		m->u.migrate_prepare.source = "hA";
		break;
	}
	case HB_MSG_MIGRATE_READY:
		m->flags = HB_F_REPLY;
		m->u.migrate_ready.vm = "vm1";
		m->u.migrate_ready.uri = "unix:/run/hybond-lab/vms/vm1/hB/mig.sock";
		break;
	case HB_MSG_MIGRATE_STOPPED:
		m->u.migrate_stopped.vm = "vm1";
		break;
	case HB_MSG_MIGRATE_RESULT:
		m->u.migrate_result.vm = "vm1";
		m->u.migrate_result.ok = 1;
		m->u.migrate_result.downtime_ms = 42;
		m->u.migrate_result.text = "completed";
		HB_MARK(&m->u.migrate_result, MIGRATE_RESULT, DOWNTIME_MS);
		break;
	case HB_MSG_MIGRATE_FINISHED:
		m->u.migrate_finished.vm = "vm1";
		m->u.migrate_finished.path = HB_PATH_FAST;
		m->u.migrate_finished.resumed_ms = 1500;
		m->u.migrate_finished.vf_up_ms = 2100;
		m->u.migrate_finished.fast_path_ms = 12;
		m->u.migrate_finished.text = "fast path up";
		HB_MARK(&m->u.migrate_finished, MIGRATE_FINISHED, RESUMED_MS);
		HB_MARK(&m->u.migrate_finished, MIGRATE_FINISHED, VF_UP_MS);
		HB_MARK(&m->u.migrate_finished, MIGRATE_FINISHED, FAST_PATH_MS);
		break;
	case HB_MSG_MIGRATE_INCOMING: {
		static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x18, 0x00, 0x10 };

		m->u.migrate_incoming.vm = "vm1";
		memcpy(m->u.migrate_incoming.mac, mac, sizeof(mac));
		m->u.migrate_incoming.dest = "hB";
		break;
	}
	default:
		break;
	}
}
