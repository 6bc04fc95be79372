/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/fuzz/mkcorpus.c — writes the seed corpus of the fuzz targets:
 *   DIR/fuzz_decode/<MESSAGE>.bin   one valid frame of every message type
 *   DIR/fuzz_stream/NAME.bin        streams: all frames, garbage, reconnect
 *   DIR/fuzz_peer/NAME.bin          a peer's streams to fuzz_hostd.c's daemon (vm1, peer B)
 * Run by `make fuzz-corpus`; the output is committed.
 */
#include <stdio.h>
#include <string.h>

#include <hybond/proto.h>

#include "../unit/test_proto_samples.h"

static uint8_t buf[4 * HB_FRAME_MAX];

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[512];
	FILE *f;
	int ok;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -1;
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		return -1;
	}
	ok = fwrite(p, 1, n, f) == n;
	if (fclose(f) != 0)
		ok = 0;
	return ok ? 0 : -1;
}

static int sample(uint16_t type, uint8_t *p, size_t cap)
{
	struct hb_msg m;

	hb_sample_msg(type, &m);
	return hb_encode(p, cap, &m);
}

/* One frame of @m appended at *len. */
static int put(struct hb_msg *m, size_t *len)
{
	int n = hb_encode(buf + *len, sizeof(buf) - *len, m);

	if (n < 0)
		return -1;
	*len += (size_t)n;
	return 0;
}

/* fuzz_peer: what a source (B) or a destination (B) says about vm1 to this daemon (A). */
static int peer_corpus(const char *top)
{
	static const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x18, 0x00, 0x10 };
	struct hb_msg m;
	char dir[400];
	size_t len = 0;

	(void)snprintf(dir, sizeof(dir), "%s/fuzz_peer", top);
	hb_msg_init(&m, HB_MSG_PING, 1);
	m.u.ping.token = 7;
	if (put(&m, &len) || write_file(dir, "ping.bin", buf, len))
		return -1;
	/* B migrates vm1 here: PREPARE, STOPPED, RESULT */
	len = 0;
	hb_msg_init(&m, HB_MSG_MIGRATE_PREPARE, 2);
	m.u.migrate_prepare.vm = "vm1";
	memcpy(m.u.migrate_prepare.mac, mac, 6);
	m.u.migrate_prepare.source = "B";
	if (put(&m, &len))
		return -1;
	hb_msg_init(&m, HB_MSG_MIGRATE_STOPPED, 0);
	m.u.migrate_stopped.vm = "vm1";
	if (put(&m, &len))
		return -1;
	hb_msg_init(&m, HB_MSG_MIGRATE_RESULT, 0);
	m.u.migrate_result.vm = "vm1";
	m.u.migrate_result.ok = 1;
	if (put(&m, &len) || write_file(dir, "prepare-stopped-result.bin", buf, len))
		return -1;
	/* libvirt: B's hook asks this source to get vm1 ready */
	len = 0;
	hb_msg_init(&m, HB_MSG_MIGRATE_INCOMING, 3);
	m.u.migrate_incoming.vm = "vm1";
	memcpy(m.u.migrate_incoming.mac, mac, 6);
	m.u.migrate_incoming.dest = "B";
	if (put(&m, &len) || write_file(dir, "incoming.bin", buf, len))
		return -1;
	/* a destination's answers nobody asked for */
	len = 0;
	hb_msg_init(&m, HB_MSG_MIGRATE_READY, 2);
	m.flags = HB_F_REPLY;
	m.u.migrate_ready.vm = "vm1";
	m.u.migrate_ready.uri = "exec:true";
	if (put(&m, &len))
		return -1;
	hb_msg_init(&m, HB_MSG_MIGRATE_FINISHED, 0);
	m.u.migrate_finished.vm = "vm1";
	m.u.migrate_finished.path = HB_PATH_FAST;
	if (put(&m, &len) || write_file(dir, "ready-finished.bin", buf, len))
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	char dir[400], name[64];
	size_t len = 0, half;
	unsigned t;
	int n;

	if (argc != 2) {
		(void)fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	(void)snprintf(dir, sizeof(dir), "%s/fuzz_decode", argv[1]);
	for (t = 1; t < HB_MSG_LAST_; t++) {
		n = sample(t, buf, sizeof(buf));
		if (n < 0)
			return 1;
		(void)snprintf(name, sizeof(name), "%s.bin", hb_msg_name(t));
		if (write_file(dir, name, buf, (size_t)n) < 0)
			return 1;
	}

	(void)snprintf(dir, sizeof(dir), "%s/fuzz_stream", argv[1]);
	for (t = 1; t < HB_MSG_LAST_; t++) {
		n = sample(t, buf + len, sizeof(buf) - len);
		if (n < 0)
			return 1;
		len += (size_t)n;
	}
	if (write_file(dir, "all-messages.bin", buf, len) < 0)
		return 1;

	/* garbage with a fake magic, then a frame */
	memcpy(buf, "garbage HYBN\x01\x00\x09\x00\x00\x00\x00\x00\xff\xff\xff\xff"
	       "\x60\xea\x00\x00zzzzzzzz", 36);
	n = sample(HB_MSG_PING, buf + 36, sizeof(buf) - 36);
	if (n < 0 || write_file(dir, "garbage-then-frame.bin", buf, 36 + (size_t)n) < 0)
		return 1;

	/* half a STATUS (the writer reconnected), then a fresh HELLO */
	n = sample(HB_MSG_STATUS, buf, sizeof(buf));
	if (n < 0)
		return 1;
	half = (size_t)n / 2;
	n = sample(HB_MSG_HELLO, buf + half, sizeof(buf) - half);
	if (n < 0 || write_file(dir, "half-frame-then-hello.bin", buf, half + (size_t)n) < 0)
		return 1;

	if (peer_corpus(argv[1]) < 0)
		return 1;

	/* two frames back to back */
	n = sample(HB_MSG_PREPARE_SWITCH, buf, sizeof(buf));
	if (n < 0)
		return 1;
	len = (size_t)n;
	n = sample(HB_MSG_SWITCH_DONE, buf + len, sizeof(buf) - len);
	if (n < 0 || write_file(dir, "two-frames.bin", buf, len + (size_t)n) < 0)
		return 1;
	return 0;
}
