// SPDX-License-Identifier: LGPL-2.1-or-later
/* ctl.c — status as JSON (jansson) over a unix socket; text printed from it. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "log.h"

static json_t *iface_json(const struct gd_link *l)
{
	if (!l)
		return json_null();
	return json_pack("{s:s, s:i, s:b, s:b, s:s, s:I, s:I, s:I}", "name", l->name, "ifindex",
			 l->ifindex, "up", (l->flags & IFF_UP) != 0, "carrier", l->carrier != 0,
			 "pci", l->parent_dev, "rx_packets", (json_int_t)l->rx_packets,
			 "tx_packets", (json_int_t)l->tx_packets, "drops", (json_int_t)l->drops);
}

static json_t *status_json(struct gd_agent *a)
{
	json_t *pairs = json_array(), *root;
	int i;

	for (i = 0; i < a->npairs; i++) {
		const struct gd_pair *p = &a->pairs[i];
		char mac[18];

		if (!p->present)
			continue;
		(void)snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", p->l.mac[0],
			       p->l.mac[1], p->l.mac[2], p->l.mac[3], p->l.mac[4], p->l.mac[5]);
		(void)json_array_append_new(pairs, json_pack(
			"{s:i, s:s, s:s, s:s, s:s, s:b, s:b, s:o, s:o, s:o}",
			"id", (int)p->id, "kind", p->l.kind == GD_PAIR_BOND ? "bond" : "net_failover",
			"mac", mac, "active", gd_pair_active(a, p) == HB_PATH_FAST ? "fast" : "standby",
			"state", gd_state_name(p->state), "tx_pinned", p->pinned,
			"standby_rx", p->ingress_ok,
			"master", iface_json(gd_table_get(&a->links, p->l.master)),
			"standby", iface_json(gd_table_get(&a->links, p->l.standby)),
			"vf", iface_json(gd_table_get(&a->links, p->l.vf))));
	}
	root = json_pack("{s:s, s:b, s:b, s:I, s:I, s:I, s:o}", "agent", GD_AGENT_NAME,
			 "host_connected", a->connected, "session", a->session,
			 "frames_in", (json_int_t)a->frames_in, "frames_bad",
			 (json_int_t)a->frames_bad, "frames_out", (json_int_t)a->frames_out,
			 "pairs", pairs);
	return root;
}

int gd_ctl_listen(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	(void)mkdir(GD_CTL_DIR, 0755);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path) + 1);
	(void)unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 4) < 0) {
		int e = errno;

		(void)close(fd);
		return -e;
	}
	return fd;
}

void gd_ctl_serve(int lfd, struct gd_agent *a)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	json_t *j;
	char *s;

	if (fd < 0)
		return;
	j = status_json(a);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (s) {
		size_t len = strlen(s), off = 0;

		while (off < len) {
			ssize_t n = write(fd, s + off, len - off);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
	}
	free(s);
	json_decref(j);
	(void)close(fd);
}

static void print_iface(const char *role, json_t *i)
{
	if (!json_is_object(i)) {
		(void)printf("  %-8s -\n", role);
		return;
	}
	(void)printf("  %-8s %-10s ifindex %-3d %s carrier %s%s%s rx %lld tx %lld drops %lld\n",
		     role, json_string_value(json_object_get(i, "name")),
		     (int)json_integer_value(json_object_get(i, "ifindex")),
		     json_is_true(json_object_get(i, "up")) ? "up  " : "down",
		     json_is_true(json_object_get(i, "carrier")) ? "yes" : "no",
		     *json_string_value(json_object_get(i, "pci")) ? " pci " : "",
		     json_string_value(json_object_get(i, "pci")),
		     (long long)json_integer_value(json_object_get(i, "rx_packets")),
		     (long long)json_integer_value(json_object_get(i, "tx_packets")),
		     (long long)json_integer_value(json_object_get(i, "drops")));
}

static void print_text(json_t *j)
{
	json_t *p;
	size_t k;

	(void)printf("%s: host %s, session %s, frames in %lld (bad %lld) out %lld\n",
		     json_string_value(json_object_get(j, "agent")),
		     json_is_true(json_object_get(j, "host_connected")) ? "connected" : "absent",
		     json_is_true(json_object_get(j, "session")) ? "open" : "none",
		     (long long)json_integer_value(json_object_get(j, "frames_in")),
		     (long long)json_integer_value(json_object_get(j, "frames_bad")),
		     (long long)json_integer_value(json_object_get(j, "frames_out")));
	json_array_foreach(json_object_get(j, "pairs"), k, p) {
		(void)printf("pair %lld (%s) mac %s: active %s, %s%s, standby RX %s\n",
			     (long long)json_integer_value(json_object_get(p, "id")),
			     json_string_value(json_object_get(p, "kind")),
			     json_string_value(json_object_get(p, "mac")),
			     json_string_value(json_object_get(p, "active")),
			     json_string_value(json_object_get(p, "state")),
			     json_is_true(json_object_get(p, "tx_pinned")) ? ", TX pinned to standby" : "",
			     json_is_true(json_object_get(p, "standby_rx")) ? "accepted" : "NOT accepted");
		print_iface("master", json_object_get(p, "master"));
		print_iface("standby", json_object_get(p, "standby"));
		print_iface("vf", json_object_get(p, "vf"));
	}
}

int gd_ctl_status(const char *path, int json)
{
	struct sockaddr_un sun;
	char buf[65536];
	size_t len = 0;
	json_error_t jerr;
	json_t *j;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	(void)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		(void)fprintf(stderr, "hybond-guestd: cannot reach the daemon at %s: %s\n", path,
			      strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return 1;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	buf[len] = '\0';
	j = json_loads(buf, 0, &jerr);
	if (!j) {
		(void)fprintf(stderr, "hybond-guestd: bad answer from the daemon: %s\n", jerr.text);
		return 1;
	}
	if (json)
		(void)json_dumpf(j, stdout, JSON_INDENT(2));
	else
		print_text(j);
	if (json)
		(void)putchar('\n');
	json_decref(j);
	return 0;
}
