/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * host-agent/hostd/esw/announce.h — make the fabric learn where a VM's MAC lives now,
 * and size the queue that holds its frames meanwhile.
 *
 * announce_rarp(): one RARP (as QEMU's self-announce sends, ethertype 0x8035)
 * with the VM's MAC as source, out of the host's uplink, through AF_PACKET.
 * The destination sends it at the source's STOP so the fabric moves the MAC
 * at once and frames wait in the destination's standby tap until the VM runs
 * ("delay, not loss", LAB-NOTES); the source re-sends it on a rollback.
 *
 * link_set_txqlen(): RTM_NEWLINK IFLA_TXQLEN (ip link set DEV txqueuelen N),
 * in the daemon's own network namespace.
 */
#ifndef HYBOND_ANNOUNCE_H
#define HYBOND_ANNOUNCE_H

#include <stdint.h>
#include <stddef.h>

#define ANNOUNCE_FRAME_LEN 60

/* Build the RARP frame (exposed for tests). */
void announce_build_rarp(uint8_t frame[ANNOUNCE_FRAME_LEN], const uint8_t mac[6]);
/* 0 or negative errno; err says which link and why. */
int announce_rarp(const char *ifname, const uint8_t mac[6], unsigned count, char *err, size_t errlen);
int link_set_txqlen(const char *ifname, uint32_t txqlen, char *err, size_t errlen);

/*
 * The hot path of "delay, not loss": an AF_PACKET socket bound to the uplink,
 * the ifindex resolved and the RARP frame built BEFORE the source's STOP, so that
 * at STOP the announce is a single sendto() (no socket(), no if_nametoindex(), no
 * formatting).  fd < 0: not open.
 */
struct announcer {
	int fd;
	int ifindex;
	uint8_t frame[ANNOUNCE_FRAME_LEN];
};

void announcer_init(struct announcer *a);      /* fd = -1 */
/* 0 or negative errno; err says which link and why. */
int announcer_open(struct announcer *a, const char *ifname, const uint8_t mac[6],
		   char *err, size_t errlen);
/* count copies back to back; 0 or the first send's negative errno. */
int announcer_send(struct announcer *a, unsigned count);
void announcer_close(struct announcer *a);

#endif
