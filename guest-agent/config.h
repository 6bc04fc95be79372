/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* config.h — /etc/hybond/guest.conf (see hybond-guestd(8) and docs/guest-agent.md).
 *
 *   # bonds the agent creates (if missing) and owns
 *   bond bond0 standby-mac 52:54:00:18:00:10 vf-mac 52:54:00:18:00:10
 *   bond bond1 standby-mac 52:54:00:18:00:11 vf-pci 0000:02:00.0 miimon 100
 *   status-interval-ms 5000
 *   resume-deadline-ms 10000
 *
 * Without a file the agent manages the net_failover pairs and the
 * active-backup bonds it finds (a bond with a virtio slave).
 */
#ifndef GD_CONFIG_H
#define GD_CONFIG_H

#include <net/if.h>
#include <stdint.h>
#include <stdio.h>

#define GD_MAX_BONDS 8

struct gd_bond_conf {
	char name[IFNAMSIZ];
	uint8_t standby_mac[6];
	uint8_t vf_mac[6];
	int has_vf_mac;
	char vf_pci[32];          /* "" = match by MAC */
	uint32_t miimon_ms;
};

struct gd_config {
	struct gd_bond_conf bonds[GD_MAX_BONDS];
	int nbonds;
	uint32_t status_interval_ms;
	uint32_t resume_deadline_ms;
};

void gd_config_defaults(struct gd_config *c);
/* Parses the text of a config file.  Returns 0, or -1 with a message in err
 * ("line N: ..."). */
int gd_config_parse(struct gd_config *c, const char *text, char *err, size_t errlen);
/* Reads PATH; a missing file is not an error (defaults).  Same returns. */
int gd_config_load(struct gd_config *c, const char *path, char *err, size_t errlen);
int gd_parse_mac(const char *s, uint8_t mac[6]);

#endif
