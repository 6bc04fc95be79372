#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A hostile guest on host A while an honest VM migrates A -> B (docs/security.md).

The hostile "VM" is what hybond-hostd sees of a guest: a QMP socket and the org.hybond.0
channel. Both are served by this script (no QEMU: the daemon reads the channel exactly as
it reads QEMU's chardev, and a hostile guest's root can write to the virtio port at
least as fast). After one honest HELLO and STATUS (a pair with a VF up), the channel
carries, in turn, for the whole run:

  crc     64 KiB blocks of valid headers every 28 bytes, each claiming the rest of the
          block with a wrong payload CRC (the CRC amplification of the review)
  flood   valid PING frames as fast as the socket takes them
  hello   HELLO after HELLO (each resets the session)
  flap    EVENT VF_VANISHED, then a STATUS with the VF up, every 20 ms (the VF watch must
          ask QEMU, which shows none, and hold down)
  random  random bytes

Its QMP answers every command, shows no VF device (query-pci), so the daemon must never
steer the hostile VM's RX to a VF whatever its guest says.

Meanwhile the honest lab VM (agent running) migrates A -> B with `hybond migrate` under
hybond-probe (1000 pps each way). Verdicts:
  - the honest migration meets the bar of a quiet host (labkit.hostd.check: loss only in
    stop-and-copy, <= rate x (downtime + 20 ms); fast path on B);
  - hybond-hostd on A spends at most CPU_MAX of one CPU while the attack runs (measured
    from /proc/PID/stat over the migration), and is alive at the end;
  - the hostile VM was never steered to its VF port (steer counters, FDB).
A hostile peer (`hostile.py peer`): the daemons talk TCP + mutual TLS; daemon B is
replaced by a server holding B's certificate that answers A's MIGRATE_PREPARE with
MIGRATE_READY URIs of its choosing (exec:, file:, a unix socket on A, tcp: to another
host). A must refuse the first three before anything moves (no marker file, the VM on
A's fast path) and migrate the last only to B's configured address.

A connection flood (`hostile.py flood`): while an honest VM migrates A -> B over TLS,
an address that is no configured peer (a second address on A's mgmt link) keeps ~200 TCP
connections to B's peer_listen open and reopens them: the migration meets its bar.

A hostile guest through the real port (`hostile.py vport`): the hostile VM is a lab VM
(QEMU, TCG) on A; its root stops hybond-guestd and writes the attack (CRC blocks, a PING
flood, HELLOs, random bytes) into /dev/virtio-ports/org.hybond.0 in a loop, so the bytes
take the path a real guest's do (virtio-serial, QEMU's chardev, the daemon's socket), at
the rate a TCG guest manages. Meanwhile the honest VM migrates A -> B; verdicts as for
check, less the VF checks (the hostile VM has a real VF of its own).

Usage: hostile.py check | bench [--runs N] | peer | flood | vport [--runs N]
(make check-lab: check, peer, flood; make bench-hostile-vport: vport)
"""
import base64
import argparse
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from labkit.hostd import (MGMT_IP, PEER_PORT, HostdLab, check, cli,  # noqa: E402
                          hybond_migrate, leftovers, migration_summary, reachable, register,
                          register_host, start_vm, teardown_vm, vf_growth, vm_status,
                          wait_agent)
from labkit.lab import PFX, RUN, TOP, UDP_RATE, fdb_port, lab, sh, vm_env  # noqa: E402
from labkit.probe import Probe, attribute_phases, probe_summary  # noqa: E402
from labkit.report import fmt, update_doc  # noqa: E402
from labkit.verdict import Fail, sayer  # noqa: E402

say = sayer("hostile")
CPU_MAX = 0.5                   # of one CPU, for hybond-hostd on A while attacked
CORPUS = os.path.join(TOP, "tests", "fuzz", "corpus", "fuzz_decode")
EVIL = "evil0"
EVIL_MAC = "52:54:00:12:34:01"     # pair 1 of STATUS.bin (test_proto_samples.c)
HDR = 28


def frame(path, seq, patch=None):
    """A valid frame from the seed corpus with another seq, payload bytes patched
    ({offset in the payload: byte}), the checksums recomputed."""
    with open(path, "rb") as f:
        b = bytearray(f.read())
    for off, val in (patch or {}).items():
        b[HDR + off] = val
    struct.pack_into("<H", b, 8, 0)     # flags: a request or unsolicited (STATUS.bin is a reply)
    struct.pack_into("<I", b, 12, seq)
    struct.pack_into("<I", b, 20, zlib.crc32(bytes(b[HDR:])) & 0xffffffff)
    struct.pack_into("<I", b, 24, zlib.crc32(bytes(b[:24])) & 0xffffffff)
    return bytes(b)


# EVENT.bin (tests/unit/test_proto_samples.c): PAIR_ID 1, then KIND (its value at payload
# offset 12): 2 = VF_VANISHED.  STATUS.bin: pair 1 with its VF, whose CARRIER (payload
# offset 292) the sample leaves 0: set, the VF is "up".
VANISHED = {12: 2}
VF_UP = {292: 1}


def crc_block():
    """Headers every 28 bytes, each claiming the rest of the 64 KiB block (at most what
    a guest frame may carry, 16 KiB: larger is dropped from the header), wrong CRC."""
    size = 65536
    out = bytearray(size)
    for off in range(0, size - HDR + 1, HDR):
        h = bytearray(struct.pack("<4sBBHHHIIII", b"HYBN", 1, 0, 9, 0, 0, off,
                                  min(size - off - HDR, 16384), 0xdeadbeef, 0))
        struct.pack_into("<I", h, 24, zlib.crc32(bytes(h[:24])) & 0xffffffff)
        out[off:off + HDR] = h
    return bytes(out)


class FakeQMP(threading.Thread):
    """Greets, answers everything; query-status: running; query-pci: no VF behind rp1."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.queries = 0

    def answer(self, c, line):
        try:
            req = json.loads(line)
        except ValueError:
            return
        cmd = req.get("execute", "")
        ret = {}
        if cmd == "query-status":
            ret = {"running": True, "singlestep": False, "status": "running"}
        elif cmd == "query-pci":
            self.queries += 1
            ret = [{"bus": 0, "devices": [{"qdev_id": "rp1", "pci_bridge": {"devices": []}}]}]
        elif cmd == "query-migrate":
            ret = {}
        a = {"return": ret}
        if "id" in req:
            a["id"] = req["id"]
        c.sendall((json.dumps(a) + "\n").encode())

    def serve(self, c):
        c.sendall(b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, '
                  b'"package": ""}, "capabilities": ["oob"]}}\n')
        buf = b""
        while True:
            d = c.recv(65536)
            if not d:
                return
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self.answer(c, line)

    def run(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()


class Attacker(threading.Thread):
    """The hostile guest's side of org.hybond.0: one honest HELLO + STATUS, then the
    attacks in turn (SEGMENT_S each) until stop()."""
    SEGMENT_S = 0.5

    def __init__(self, path):
        super().__init__(daemon=True)
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(4)
        self.stopping = False
        self.sent = {"crc": 0, "flood": 0, "hello": 0, "flap": 0, "random": 0}
        self.block = crc_block()
        self.rng = random.Random(7)

    def stop(self):
        self.stopping = True

    def attack(self, c):
        c.sendall(frame(os.path.join(CORPUS, "HELLO.bin"), 1))
        c.sendall(frame(os.path.join(CORPUS, "STATUS.bin"), 2, VF_UP))
        c.setblocking(False)
        kinds = ["crc", "flood", "hello", "flap", "random"]
        seq, k = 10, 0
        ping = os.path.join(CORPUS, "PING.bin")
        hello = os.path.join(CORPUS, "HELLO.bin")
        event = os.path.join(CORPUS, "EVENT.bin")
        status = os.path.join(CORPUS, "STATUS.bin")
        while not self.stopping:
            kind = kinds[k % len(kinds)]
            k += 1
            t_end = time.monotonic() + self.SEGMENT_S
            while time.monotonic() < t_end and not self.stopping:
                if kind == "crc":
                    data = self.block
                elif kind == "flood":
                    data = b"".join(frame(ping, seq + i) for i in range(64))
                    seq += 64
                elif kind == "hello":
                    data = frame(hello, seq)
                    seq += 1
                elif kind == "flap":
                    data = frame(event, seq, VANISHED) + frame(status, seq + 1, VF_UP)
                    seq += 2
                    time.sleep(0.02)
                else:
                    data = bytes(self.rng.getrandbits(8) for _ in range(4096))
                try:
                    n = c.send(data)
                    self.sent[kind] += n
                except BlockingIOError:
                    time.sleep(0.001)
                except OSError:
                    return          # the daemon closed the channel: it reconnects
            # drain what the daemon answered (ERRORs, HELLO_ACKs, PONGs)
            try:
                while c.recv(65536):
                    pass
            except (BlockingIOError, OSError):
                pass

    def run(self):
        while not self.stopping:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            self.attack(c)
            c.close()


def proc_cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sentry_of(pid):
    """The pid of hybond-hostd PID's guest sentry (its child re-executed with
    --guest-sentry), or None (guest_sentry = off)."""
    for ent in os.listdir("/proc"):
        if not ent.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % ent) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open("/proc/%s/cmdline" % ent, "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"--guest-sentry" in argv and b"peers" not in argv:
            return int(ent)
    return None


def evil_setup(d):
    """The hostile VM on A: its sockets, its eswitch ports (veths on the lab's bridge),
    registered like a lab VM that runs on A."""
    base = os.path.join(RUN, "hostile")
    os.makedirs(base, exist_ok=True)
    for f in ("qmp.sock", "agent.sock"):
        try:
            os.unlink(os.path.join(base, f))
        except OSError:
            pass
    qmp = FakeQMP(os.path.join(base, "qmp.sock"))
    att = Attacker(os.path.join(base, "agent.sock"))
    qmp.start()
    att.start()
    ns = PFX + "hA"
    for port in ("hs-" + EVIL, "hv-" + EVIL):
        sh(["ip", "-n", ns, "link", "del", port], check=False)
        sh(["ip", "-n", ns, "link", "add", port, "type", "veth", "peer", "name", port + "p"])
        sh(["ip", "-n", ns, "link", "set", port, "master", "br0", "up"])
    cli("A", "vm", "add", EVIL, "mac", EVIL_MAC, "mode", "failover", "standby_port",
        "hs-" + EVIL, "vf_port", "hv-" + EVIL, "eswitch", "bridge", "eswitch_bridge", "br0",
        "vf_bus", "rp1", "qmp", os.path.join(base, "qmp.sock"), "agent",
        os.path.join(base, "agent.sock"))
    return qmp, att


def evil_teardown(att):
    att.stop()
    cli("A", "vm", "del", EVIL, check=False)
    for port in ("hs-" + EVIL, "hv-" + EVIL):
        sh(["ip", "-n", PFX + "hA", "link", "del", port], check=False)


def honest_migration(name, res, around=None):
    """The honest VM: started on A, registered, migrated A -> B under the probe; res gets
    the migration's figures and labkit's verdict (check).  around(when) is called at
    "start" (just before `hybond migrate`) and "done" (just after it returned)."""
    lab("vm", "start", "--host", "A", "--name", name, "--mode", "failover", "--agent", "1")
    env = vm_env(name)
    mac, ip = env["MAC"], env["IP"].split("/")[0]
    register(name)
    wait_agent("A", name)
    probe = Probe(ip)
    try:
        if around:
            around("start")
        t_cmd = time.time()
        final = hybond_migrate(name)[-1]
        if around:
            around("done")
        time.sleep(2.0)                         # the guest's VF settles under the probe
        res["vf"] = vf_growth("B", name)
    finally:
        p = probe.stop()
    res["udp"] = probe_summary(p)
    res["outages"] = attribute_phases(p, t_cmd, final.get("phases_ms", {}),
                                      final.get("stop_realtime_ms"),
                                      final.get("qemu_downtime_ms"))
    res["fdb_B"] = fdb_port("hB", mac)
    res["left_on_A"] = leftovers(name, "hA", mac)
    res["reachable"] = reachable(ip)
    res["summary"] = migration_summary(p, final)
    res["failures"] = check(res)


def one_run(d, name, att, qmp):
    res = {"vm": name}
    pid = d.procs["A"].pid
    m = {}

    spid = sentry_of(pid)

    def around(when):                           # hybond-hostd's CPU and the attack's bytes
        m[when] = (proc_cpu_s(pid), time.monotonic(), dict(att.sent),
                   proc_cpu_s(spid) if spid else None)
    try:
        honest_migration(name, res, around)
        (cpu0, t0, sent0, scpu0), (cpu1, t1, sent1, scpu1) = m["start"], m["done"]
        # the guest sentry reads the hostile guest: its CPU is the attack's cost, the
        # daemon's is what is left for every other VM
        res["sentry_cpu"] = round((scpu1 - scpu0) / (t1 - t0), 3) if spid else None
        if spid and sentry_of(pid) != spid:
            res["failures"].append("the guest sentry was replaced during the attack "
                                   "(pid %s, now %s)" % (spid, sentry_of(pid)))
        ev1 = vm_status("A", EVIL)
        res["attack_bytes"] = {k: sent1[k] - sent0[k] for k in sent1}
        res["attack_mb_s"] = round(sum(res["attack_bytes"].values()) / (t1 - t0) / 1e6, 1)
        res["hostd_cpu"] = round((cpu1 - cpu0) / (t1 - t0), 3)
        res["evil"] = {"steer_vf": (ev1.get("counters") or {}).get("steer_vf"),
                       "fdb_A": fdb_port("hA", EVIL_MAC), "qmp_query_pci": qmp.queries,
                       "paths": ev1.get("paths"),
                       "vf_watch": ev1.get("vf_watch")}
        if res["hostd_cpu"] > CPU_MAX:
            res["failures"].append("hybond-hostd on A used %.0f%% of a CPU under attack (max "
                                   "%.0f%%)" % (res["hostd_cpu"] * 100, CPU_MAX * 100))
        if d.procs["A"].poll() is not None:
            res["failures"].append("hybond-hostd on A died")
        if res["evil"]["steer_vf"]:
            res["failures"].append("the hostile VM's RX was steered to its VF port %s times"
                                   % res["evil"]["steer_vf"])
        if res["evil"]["fdb_A"] == "hv-" + EVIL:
            res["failures"].append("the hostile VM's MAC sits on its VF port")
        if sum(res["attack_bytes"].values()) == 0:
            res["failures"].append("the attacker sent nothing (no channel?)")
    finally:
        teardown_vm(name)
    return res


# --- a hostile peer ------------------------------------------------------------------------
MARKER = "/tmp/hybond-hostile-peer-ran"
PEER_URIS = ["exec:touch %s" % MARKER, "file:%s" % MARKER, "unix:/run/libvirt/libvirt-sock",
             "tcp:198.19.254.66:4444"]


def hb_attr(t, v):
    a = struct.pack("<HH", 4 + len(v), t) + v
    return a + b"\0" * (-len(a) % 4)


def hb_frame(typ, flags, seq, payload):
    h = struct.pack("<IBBHHHII", 0x4e425948, 1, 1, typ, flags, 0, seq, len(payload))
    h += struct.pack("<I", zlib.crc32(payload) & 0xffffffff)
    return h + struct.pack("<I", zlib.crc32(h) & 0xffffffff) + payload


def fake_peer(argv):
    """Run inside hB's namespace: B's certificate, every MIGRATE_PREPARE answered with
    MIGRATE_READY(uri); one connection at a time, until killed."""
    import ssl
    pki, addr, port, uri = argv
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(pki, "B.pem"), os.path.join(pki, "B.key"))
    ctx.load_verify_locations(os.path.join(pki, "ca.pem"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = socket.create_server((addr, int(port)))
    mig = socket.create_server((addr, 4444))    # where A's QEMU must go for tcp:*:4444

    def migration_listener():
        while True:
            c, peer = mig.accept()
            print("QEMU connected to %s:4444 from %s" % (addr, peer[0]), file=sys.stderr,
                  flush=True)
            c.close()
    threading.Thread(target=migration_listener, daemon=True).start()
    while True:
        raw, _ = srv.accept()
        try:
            c = ctx.wrap_socket(raw, server_side=True)
            buf = b""
            while True:
                d = c.recv(65536)
                if not d:
                    break
                buf += d
                while len(buf) >= HDR:
                    typ, seq, ln = (struct.unpack_from("<H", buf, 6)[0],
                                    struct.unpack_from("<I", buf, 12)[0],
                                    struct.unpack_from("<I", buf, 16)[0])
                    if len(buf) < HDR + ln:
                        break
                    pl, buf = buf[HDR:HDR + ln], buf[HDR + ln:]
                    if typ == 12:               # MIGRATE_PREPARE: VM is its attr 1
                        vm = pl[4:struct.unpack_from("<H", pl, 0)[0]]
                        c.sendall(hb_frame(13, 1, seq, hb_attr(1, vm) +
                                           hb_attr(2, uri.encode() + b"\0")))
        except (OSError, ssl.SSLError):
            pass
        finally:
            raw.close()


def peer_case(hl, uri, name):
    """A's migration of a real VM to the fake B that offers uri."""
    fp = subprocess.Popen(["ip", "netns", "exec", PFX + "hB", sys.executable,
                           os.path.abspath(__file__), "fake-peer", hl.d.pki, MGMT_IP["B"],
                           str(PEER_PORT), uri], stderr=subprocess.PIPE, text=True)
    res = {"uri": uri, "failures": []}
    try:
        time.sleep(0.5)
        try:
            lines = hybond_migrate(name, timeout_s=120)
            final = lines[-1]
        except Fail as e:
            final = {"ok": False, "error": str(e)}
        res["result"] = {k: final.get(k) for k in ("ok", "error", "errno")}
        v = vm_status("A", name)
        env = vm_env(name)
        mac, ip = env["MAC"], env["IP"].split("/")[0]
        res["on_A"] = {"here": v.get("here"), "paths": v.get("paths"),
                       "fdb_A": fdb_port("hA", mac), "reachable": reachable(ip, 10.0)}
        err = final.get("error") or ""
        if os.path.exists(MARKER):
            res["failures"].append("%s: the peer's URI ran something (%s exists)" % (uri, MARKER))
        if uri.startswith("tcp:"):
            fp.kill()
            res["fake_b"] = fp.communicate(timeout=10)[1].strip()
            if "QEMU connected to %s:4444" % MGMT_IP["B"] not in res["fake_b"]:
                res["failures"].append("%s: A's QEMU did not migrate to B's configured "
                                       "address (fake B saw: %s)" % (uri, res["fake_b"]))
        elif "nothing was run" not in err or final.get("ok"):
            res["failures"].append("%s: not refused as it should be: %s" % (uri, err))
        # on A's fast path: its MAC on A's VF port, TX on the VF, reachable
        if (res["on_A"]["fdb_A"] != "hv-" + name or (v.get("paths") or {}).get("tx") != "vf"
                or not res["on_A"]["reachable"]):
            res["failures"].append("%s: the VM is not on A's fast path after: %s" % (
                uri, res["on_A"]))
    finally:
        if fp.poll() is None:
            fp.kill()
            fp.communicate(timeout=10)
    return res


def run_peer():
    results = []
    if os.path.exists(MARKER):
        os.unlink(MARKER)
    with HostdLab("tls") as hl:
        hl.d.kill("B")                          # B is the fake from here on
        name = "hpeer0"
        start_vm(name, "failover", 1)
        try:
            register_host("A", name, True)
            wait_agent("A", name)
            for uri in PEER_URIS:
                r = peer_case(hl, uri, name)
                results.append(r)
                say("peer offers %s: %s" % (uri, json.dumps(r["result"])))
                wait_agent("A", name)
        finally:
            teardown_vm(name)
    return results


# --- a connection flood ----------------------------------------------------------------------
FLOOD_SRC = ("198.19.254.5", "198.19.254.6")     # a second /30 on the mgmt link: A, B


def flood(argv):
    """Run inside hA's namespace: keep ~n TCP connections from src to dst:port open,
    reopening what closes, until killed."""
    src, dst, port, n = argv[0], argv[1], int(argv[2]), int(argv[3])
    socks = []
    while True:
        socks = [x for x in socks if x.fileno() >= 0]
        while len(socks) < n:
            x = socket.socket()
            x.setblocking(False)
            x.bind((src, 0))
            try:
                x.connect((dst, port))
            except BlockingIOError:
                pass
            except OSError:
                x.close()
                break
            socks.append(x)
        time.sleep(0.05)
        for x in socks:
            try:
                if x.recv(1, socket.MSG_DONTWAIT) == b"":
                    x.close()
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                x.close()


# --- a hostile guest through its real virtio-serial port -------------------------------------
VPORT_VM = "hvp0"


def vport_payload():
    """One pass of the in-guest attack: a CRC block, 64 PINGs, a HELLO, random bytes."""
    ping = os.path.join(CORPUS, "PING.bin")
    rng = random.Random(11)
    return (crc_block() + b"".join(frame(ping, 100 + i) for i in range(64)) +
            frame(os.path.join(CORPUS, "HELLO.bin"), 99) +
            bytes(rng.getrandbits(8) for _ in range(4096)))


def guest_sh(name, cmd, what):
    r = lab("vm", "exec", name, "--timeout", "30", cmd, check=False)
    if r.returncode != 0:
        raise Fail("hostile VM %s: %s: rc %d: %s" % (name, what, r.returncode,
                                                      (r.stdout + r.stderr).strip()[:300]))
    return r.stdout


def vport_attack(name):
    """In the hostile VM: stop hybond-guestd, copy the payload in (base64 over the exec
    port), loop it into org.hybond.0 in the background; counts passes in /tmp/a.n."""
    data = vport_payload()
    b64 = base64.b64encode(data).decode()
    # the port takes one opener: hybond-guestd must be gone before the attack opens it
    guest_sh(name, "kill $(pidof hybond-guestd) 2>/dev/null; i=0; while pidof hybond-guestd "
             ">/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; ! pidof "
             "hybond-guestd >/dev/null && rm -f /tmp/a.b64 /tmp/a.n", "stop hybond-guestd")
    for i in range(0, len(b64), 8000):
        guest_sh(name, "printf %%s '%s' >> /tmp/a.b64" % b64[i:i + 8000], "copy the payload")
    got = guest_sh(name, "base64 -d /tmp/a.b64 > /tmp/a.bin && wc -c < /tmp/a.bin",
                   "decode the payload").strip()
    if got != str(len(data)):
        raise Fail("hostile VM %s: payload %s bytes in the guest, %d sent" % (name, got,
                                                                              len(data)))
    guest_sh(name, "(n=0; while :; do cat /tmp/a.bin || break; n=$((n+1)); echo $n > /tmp/a.n;"
             " done > /dev/virtio-ports/org.hybond.0) </dev/null >/dev/null 2>&1 &",
             "start the attack")
    return len(data)


def proc_rchar(pid):
    """Bytes PID has read (/proc/PID/io rchar): the guest sentry reads only guest channels
    (and the daemon's few commands), so its rchar is what the guests sent. The hostile
    guest's own counter cannot be read meanwhile: its vCPU spins in virtio_console's send
    path and the lab's exec port gets no answer."""
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


VPORT_MIN_MB_S = 1.0            # what the guest sentry must read of the attack meanwhile


def run_vport(runs):
    results = []
    with HostdLab("unix") as hl:
        d = hl.d
        pid = d.procs["A"].pid
        if not sentry_of(pid):
            raise Fail("hostile.py vport measures the guest sentry: run it without "
                       "HBL_GUEST_SENTRY=off")
        start_vm(VPORT_VM, "failover", 1)
        try:
            register(VPORT_VM)
            wait_agent("A", VPORT_VM)
            vport_attack(VPORT_VM)
            time.sleep(3.0)                     # the attack under way
            for i in range(runs):
                name = "hon%d" % i
                res = {"vm": name}
                m = {}
                spid = sentry_of(pid)

                def around(when):
                    m[when] = (proc_cpu_s(pid), time.monotonic(),
                               proc_cpu_s(spid) if spid else None,
                               proc_rchar(spid) if spid else None)
                try:
                    honest_migration(name, res, around)
                    (cpu0, t0, s0, n0), (cpu1, t1, s1, n1) = m["start"], m["done"]
                    res["hostd_cpu"] = round((cpu1 - cpu0) / (t1 - t0), 3)
                    res["sentry_cpu"] = round((s1 - s0) / (t1 - t0), 3) if spid else None
                    res["attack_mb_s"] = (round((n1 - n0) / (t1 - t0) / 1e6, 2)
                                          if n0 is not None and n1 is not None else None)
                    if res["hostd_cpu"] > CPU_MAX:
                        res["failures"].append("hybond-hostd on A used %.0f%% of a CPU under "
                                               "attack (max %.0f%%)" % (res["hostd_cpu"] * 100,
                                                                         CPU_MAX * 100))
                    if (res["attack_mb_s"] or 0) < VPORT_MIN_MB_S:
                        res["failures"].append("the guest sentry read %s MB/s meanwhile "
                                               "(rchar %s -> %s): the attack did not run"
                                               % (res["attack_mb_s"], n0, n1))
                    if spid and sentry_of(pid) != spid:
                        res["failures"].append("the guest sentry was replaced during the "
                                               "attack (pid %s, now %s)" % (spid,
                                                                             sentry_of(pid)))
                    if d.procs["A"].poll() is not None:
                        res["failures"].append("hybond-hostd on A died")
                except (Fail, OSError, subprocess.TimeoutExpired) as e:
                    res.setdefault("failures", []).append(str(e))
                finally:
                    teardown_vm(name)
                results.append(res)
                say("vport run %d: honest %s; hostd CPU %s (guest sentry %s) while the hostile "
                    "guest wrote %s MB/s into its port" % (
                        i + 1, json.dumps(res.get("summary")), res.get("hostd_cpu"),
                        res.get("sentry_cpu"), res.get("attack_mb_s")))
        finally:
            teardown_vm(VPORT_VM)
    return results


def run_flood():
    with HostdLab("tls") as hl:
        sh(["ip", "-n", PFX + "hA", "addr", "add", FLOOD_SRC[0] + "/30", "dev", "mgmt"])
        sh(["ip", "-n", PFX + "hB", "addr", "add", FLOOD_SRC[1] + "/30", "dev", "mgmt"])
        fl = subprocess.Popen(["ip", "netns", "exec", PFX + "hA", sys.executable,
                               os.path.abspath(__file__), "flood-client", FLOOD_SRC[0],
                               MGMT_IP["B"], str(PEER_PORT), "200"])
        name = "hflood0"
        res = {"vm": name}
        log_b = hl.d.log_path("B")
        log_from = os.path.getsize(log_b) if os.path.exists(log_b) else 0
        try:
            time.sleep(2.0)
            honest_migration(name, res)
            with open(log_b) as f:
                f.seek(log_from)
                refused = [l for l in f.read().splitlines()
                           if "not the address of a configured" in l]
            res["refused_at_admission"] = len(refused) + sum(
                int(l.split("(and ")[1].split()[0]) for l in refused if "(and " in l)
            if not res["refused_at_admission"]:
                res["failures"].append("the flood never reached B (nothing refused)")
        except (Fail, OSError, subprocess.TimeoutExpired) as e:
            res["failures"] = [str(e)]
        finally:
            fl.kill()
            fl.wait()
            teardown_vm(name)
    return res


DOC_BEGIN, DOC_END = "<!-- hostile-bench:begin -->", "<!-- hostile-bench:end -->"


def doc_table(results):
    """The docs/benchmarks.md section of a bench run."""
    lines = ["Measured %s, %d run(s) (`make bench-hostile R=%d`; JSON: "
             "$(B)/bench/hostile.json)." % (time.strftime("%Y-%m-%d %H:%M"), len(results),
                                            len(results)), "",
             "| run | honest: lost to / from guest | QEMU downtime ms | floor | dest path | "
             "attack MB/s | hybond-hostd CPU on A | its guest sentry's CPU | hostile VM: "
             "returns refused (no VF in QEMU) / steered to its VF |",
             "|---|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(results):
        s, e = r.get("summary") or {}, r.get("evil") or {}
        vw = e.get("vf_watch") or {}
        lines.append("| %d | %s / %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
            i + 1, fmt(s.get("lost_to_guest")), fmt(s.get("lost_from_guest")),
            fmt(s.get("qemu_downtime_ms")),
            fmt(UDP_RATE * ((s.get("qemu_downtime_ms") or 0) + 20) / 1000.0),
            s.get("dest_path", "-"),
            fmt(r.get("attack_mb_s")), "%.0f %%" % (100 * r["hostd_cpu"])
            if r.get("hostd_cpu") is not None else "-",
            "%.0f %%" % (100 * r["sentry_cpu"]) if r.get("sentry_cpu") is not None else "-",
            fmt(vw.get("no_vf_in_vm")),
            fmt(e.get("steer_vf"))))
    fails = [f for r in results for f in r.get("failures", [])]
    if fails:
        lines += ["", "Failures:"] + ["- " + f for f in fails]
    return lines


def main(argv):
    if argv[:1] == ["fake-peer"]:
        return fake_peer(argv[1:])
    if argv[:1] == ["flood-client"]:
        return flood(argv[1:])
    ap = argparse.ArgumentParser(prog="hostile.py")
    ap.add_argument("what", choices=("check", "bench", "peer", "flood", "vport"))
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    if a.what == "vport":
        try:
            res = run_vport(a.runs)
        except (Fail, OSError, subprocess.TimeoutExpired) as e:
            res = [{"vm": VPORT_VM, "failures": [str(e)]}]
        print(json.dumps(res, indent=1))
        fails = ["run %d: %s" % (i + 1, f) for i, r in enumerate(res) for f in r["failures"]]
        for f in fails:
            say("FAIL " + f)
        say("vport: %d run(s), %d failure(s)" % (len(res), len(fails)))
        return 1 if fails else 0
    if a.what in ("peer", "flood"):
        res = run_peer() if a.what == "peer" else [run_flood()]
        print(json.dumps(res, indent=1))
        fails = [f for r in res for f in r["failures"]]
        for f in fails:
            say("FAIL " + f)
        if a.what == "flood":
            say("flood: honest migration %s; %s connections refused at admission" % (
                json.dumps(res[0].get("summary")), res[0].get("refused_at_admission")))
        say("%s: %d failure(s)" % (a.what, len(fails)))
        return 1 if fails else 0
    runs = 1 if a.what == "check" else a.runs
    results, failures = [], []
    with HostdLab("unix") as hl:
        qmp, att = evil_setup(hl.d)
        try:
            for i in range(runs):
                try:
                    r = one_run(hl.d, "hon%d" % i, att, qmp)
                except (Fail, OSError, subprocess.TimeoutExpired) as e:
                    r = {"vm": "hon%d" % i, "failures": [str(e)]}
                results.append(r)
                failures += ["run %d: %s" % (i + 1, f) for f in r["failures"]]
                say("run %d: honest %s; hostd CPU %s (guest sentry %s) under %s MB/s of attack "
                    "%s; hostile VM %s" % (
                        i + 1, json.dumps(r.get("summary")), r.get("hostd_cpu"),
                        r.get("sentry_cpu"), r.get("attack_mb_s"),
                        json.dumps(r.get("attack_bytes")), json.dumps(r.get("evil"))))
        finally:
            evil_teardown(att)
    print(json.dumps(results, indent=1))
    if a.what == "bench":
        update_doc(DOC_BEGIN, DOC_END, doc_table(results))
        say("wrote the docs/benchmarks.md section")
    for f in failures:
        say("FAIL " + f)
    say("%s: %d run(s), %d failure(s)" % (a.what, runs, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
