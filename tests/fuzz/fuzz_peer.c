// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * tests/fuzz/fuzz_peer.c — libFuzzer target for what a peer daemon sends: the input is the
 * byte stream of one connection to the daemon's peer socket (unix: a local peer, no TLS),
 * through the peer channel's reader and decoder to peer_route.c and the operations it
 * starts (MIGRATE_PREPARE, MIGRATE_INCOMING for the registered vm1; the rest of the
 * migration protocol on that connection), in the daemon of fuzz_hostd.c.
 * Invariants: no crash, no leak; every frame the daemon answers with is a valid frame.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host-agent/hostd/peer/peer.h"
#include "host-agent/hostd/peer_route.h"
#include "tests/fuzz/fuzz_hostd.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sockaddr_un sa = { .sun_family = AF_UNIX };
static struct hb_stream rx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_init("fuzz-peer");
	peer_route_init(&fz_d);
	(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/peer.sock", fz_dir);
	if (peer_listen(fz_d.l, sa.sun_path, &hostd_peer_ops, NULL) < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[1 << 17];
	struct hb_frame f;
	ssize_t n;
	size_t off = 0;
	int fd;

	if (size > (1u << 16))
		return 0;
	fz_vm1();
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	fz_turns(1);                    /* accepted */
	while (off < size) {            /* the peer's bytes, as the socket takes them */
		n = send(fd, data + off, size - off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
		fz_turns(2);
	}
	fz_turns(3);
	/* what the daemon answered: frames only, each one valid */
	hb_stream_init(&rx);
	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		size_t skipped = 0;
		int rc;

		if (hb_stream_feed(&rx, buf, (size_t)n) != (size_t)n)
			abort();
		while ((rc = hb_stream_next(&rx, &f, &skipped)) != 0) {
			struct hb_msg m;

			if (rc < 0 || skipped || hb_msg_decode(&f, &m) < 0)
				abort();
		}
	}
	(void)close(fd);
	fz_turns(2);
	return 0;
}
