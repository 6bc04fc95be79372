#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Capture the guest's announcements (gratuitous ARP, unsolicited IPv6 NA) on host taps.

  ip netns exec hbg-hA tests/lab/guest_sniff.py --mac 52:54:00:18:00:10 hs-vm1 hv-vm1

One AF_PACKET socket per interface; only frames the interface RECEIVED (from the
guest: a tap's RX is the guest's TX), never the copies the bridge floods out of it
(PACKET_OUTGOING), with the given source MAC. Prints one JSON line per frame until
SIGINT/SIGTERM: {"ts": realtime, "if": "hs-vm1", "kind": "garp"|"na"|"arp", "ip": "..."}.
"ts" is the host's CLOCK_REALTIME at reception (the kernel's SO_TIMESTAMPNS), like
hybond-probe's and events.jsonl's stamps. Used by tests/lab/agent_switch.py.
"""
import ipaddress
import json
import select
import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
SO_TIMESTAMPNS = 35


def classify(frame):
    if len(frame) < 14:
        return None
    et = struct.unpack("!H", frame[12:14])[0]
    if et == 0x0806 and len(frame) >= 42:
        op = struct.unpack("!H", frame[20:22])[0]
        spa, tpa = frame[28:32], frame[38:42]
        kind = "garp" if spa == tpa else "arp"
        return {"kind": kind, "op": op, "ip": str(ipaddress.IPv4Address(spa))}
    if et == 0x86DD and len(frame) >= 14 + 40 + 24 and frame[14 + 6] == 58:
        icmp = frame[54:]
        if icmp[0] == 136:          # neighbour advertisement
            return {"kind": "na", "ip": str(ipaddress.IPv6Address(icmp[8:24])),
                    "override": bool(icmp[4] & 0x20), "solicited": bool(icmp[4] & 0x40)}
    return None


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="guest_sniff.py")
    ap.add_argument("--mac", required=True)
    ap.add_argument("ifaces", nargs="+")
    a = ap.parse_args(argv)
    mac = bytes.fromhex(a.mac.replace(":", ""))
    socks = {}
    for name in a.ifaces:
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.bind((name, 0))
        socks[s.fileno()] = (s, name)
    stop = []
    signal.signal(signal.SIGTERM, lambda *x: stop.append(1))
    signal.signal(signal.SIGINT, lambda *x: stop.append(1))
    print(json.dumps({"ready": True, "ifaces": a.ifaces}), flush=True)
    while not stop:
        try:
            r, _, _ = select.select(list(socks), [], [], 0.2)
        except InterruptedError:
            continue
        for fd in r:
            s, name = socks[fd]
            data, anc, _, addr = s.recvmsg(2048, socket.CMSG_SPACE(16))
            if addr[2] == PACKET_OUTGOING or data[6:12] != mac:
                continue
            c = classify(data)
            if not c:
                continue
            ts = None
            for lvl, typ, val in anc:
                if lvl == socket.SOL_SOCKET and typ == SO_TIMESTAMPNS and len(val) >= 16:
                    sec, nsec = struct.unpack("qq", val[:16])
                    ts = sec + nsec / 1e9
            c.update({"ts": ts, "if": name})
            print(json.dumps(c), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
