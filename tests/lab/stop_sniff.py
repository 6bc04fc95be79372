#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Timestamp the STOP -> announce path on the wire (used by hostd_migrate.py --trace).

  ip netns exec hbl-fab tests/lab/stop_sniff.py --mac 52:54:00:18:00:10 [IFACE...]

One AF_PACKET socket (all interfaces of the namespace, or the ones named). Records,
with the kernel's CLOCK_REALTIME reception stamp (SO_TIMESTAMPNS):
  - RARP frames (ethertype 0x8035) whose source is MAC: {"k": "rarp", "ts", "if", "out"}
  - hybond-probe requests to MAC (UDP payload magic HBPR, type 1):
    {"k": "req", "ts", "if", "out", "seq", "sent"} ("sent": the probe's send stamp)
"out" is 1 for PACKET_OUTGOING (the interface transmitted it: on a tap, handed to
the reader, i.e. QEMU), 0 for received. Prints one JSON document at SIGTERM/SIGINT.
"""
import json
import select
import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="stop_sniff.py")
    ap.add_argument("--mac", required=True)
    ap.add_argument("ifaces", nargs="*")
    a = ap.parse_args(argv)
    mac = bytes.fromhex(a.mac.replace(":", ""))
    socks = []
    for name in a.ifaces or [None]:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        if name:
            s.bind((name, 0))
        socks.append(s)
    stop = []
    signal.signal(signal.SIGTERM, lambda *x: stop.append(1))
    signal.signal(signal.SIGINT, lambda *x: stop.append(1))
    out = []
    print(json.dumps({"ready": True}), flush=True)
    while not stop:
        try:
            r, _, _ = select.select(socks, [], [], 0.2)
        except InterruptedError:
            continue
        for s in r:
            try:
                data, anc, _, addr = s.recvmsg(128, socket.CMSG_SPACE(16), socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                continue
            ts = None
            for lvl, typ, d in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS:
                    sec, ns = struct.unpack("qq", d[:16])
                    ts = sec + ns / 1e9
            if len(data) < 14:
                continue
            et = struct.unpack("!H", data[12:14])[0]
            rec = None
            if et == 0x8035 and data[6:12] == mac:
                rec = {"k": "rarp"}
            elif (et == 0x0800 and data[0:6] == mac and len(data) >= 90 and data[23] == 17
                  and data[42:46] == b"HBPR" and data[47] == 1):
                seq, sent = struct.unpack("!Qq", data[58:74])
                rec = {"k": "req", "seq": seq, "sent": sent / 1e9}
            if rec is None:
                continue
            # AF_PACKET address: (ifname, proto, pkttype, hatype, addr)
            rec.update({"ts": ts, "if": addr[0], "out": 1 if addr[2] == PACKET_OUTGOING else 0})
            out.append(rec)
    print(json.dumps({"frames": out}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
