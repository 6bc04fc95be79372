#!/usr/bin/python3
"""The host side of a hybond switch, played against the real guest agent in the lab.

  agent_switch.py check                 1 switch cycle + 1 migration per guest mode and the
                                        edge cases; fails on any error or on a loss at a
                                        switch step (make check-lab)
  agent_switch.py bench --runs R        R switch cycles + R migrations per mode:
                                        build/bench/guest.json and guest.md (make bench-guest)
  agent_switch.py cycle|migrate|edge [--mode failover|bond|bond-agent]   one scenario, JSON
                                        on stdout (bond-agent: the guest's hybond-guestd
                                        builds bond0 from guest.conf; cycle and edge only)
  agent_switch.py render                guest.md and the docs section again from guest.json

Static (hardware-faithful) eswitch; hybond-probe udp at 1000 pps each way from the peer
namespace during each scenario; the host side is hybond-guestctl (guestchan) in
`watch -j --stdin` mode, one connection to the VM's org.hybond.0 chardev.

Switch cycle ("the right order", docs/guest-channel.md):
  step 1 to_standby   move the VM MAC's static sticky FDB entry VF port -> standby port,
                      then PREPARE_SWITCH -> SWITCH_DONE
  step 2 unplug       QMP device_del vf0, wait DEVICE_DELETED
  step 3 switch_back  QMP device_add e1000e (lab options), wait until the guest reports the
                      VF up (EVENT, or a STATUS), FDB entry back to the VF port, then
                      RESUME_FAST_PATH -> FAST_PATH_UP
Migration: step 1 on the source; `lab migrate --agent-fdb --no-wait-vf` (destination
entry on the standby port); the channel moves to the destination's socket; when the guest
reports the new VF up: FDB to the VF port, RESUME_FAST_PATH.
Every UDP outage is attributed to the step whose window holds its first lost packet.

Announcements (cycle): tests/lab/guest_sniff.py captures what the guest sends on the
host's two taps; the check wants a gratuitous ARP for the VM's address received on the
standby tap (and none on the VF tap) between PREPARE_SWITCH and SWITCH_DONE, and on the
VF tap (none on the standby tap) between RESUME_FAST_PATH and FAST_PATH_UP.
"""
import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, HERE)
from qmp import QMP, QMPError, lab_record  # noqa: E402

TOP = os.path.dirname(os.path.dirname(HERE))
B = os.environ.get("B", "build")
if not os.path.isabs(B):
    B = os.path.join(TOP, B)
LAB = os.path.join(HERE, "lab")
PROBE = os.path.join(B, "bin", "hybond-probe")
GUESTCTL = os.path.join(B, "bin", "hybond-guestctl")
GUESTD = os.path.join(B, "bin", "hybond-guestd")
OUT = os.environ.get("HBL_OUT", os.path.join(B, "lab"))   # guest image (and the logs)
LOGS = os.path.join(OUT, "run")
PFX = os.environ.get("HBL_PREFIX", "hbl-")
RUN = os.environ.get("HBL_RUN", "/run/hybond-lab")
PEER_NS = PFX + "peer"
ECHO_PORT = 7777

UDP_RATE = 1000
SETTLE_S = 1.0            # quiet time between steps, so outages fall into one window
PREPARE_DEADLINE_MS = 2000
RESUME_DEADLINE_MS = 10000
VF_UP_TIMEOUT_S = 40.0
SESSION_TIMEOUT_S = 20.0
SWITCH_STEPS = ("to_standby", "switch_back")   # the bar: 0 lost in these
SNIFF = os.path.join(HERE, "guest_sniff.py")
ANNOUNCE_SLACK_S = 0.5    # an announcement counts up to this long after the answer
VM_LETTER = {"failover": "f", "bond": "b", "bond-agent": "a"}


class Fail(Exception):
    pass


def say(msg):
    print("agent_switch: %s" % msg, file=sys.stderr, flush=True)


def sh(args, check=True, env=None):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, B=B, **(env or {})))
    if check and r.returncode != 0:
        raise Fail("%s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


def lab(*args, check=True):
    return sh([LAB] + list(args), check=check)


def vm_env(name):
    with open(os.path.join(RUN, "vms", name, "vm.env")) as f:
        return dict(l.strip().split("=", 1) for l in f if "=" in l)


def inst(name, host, f):
    return os.path.join(RUN, "vms", name, host, f)


def rec(name, host, event, **data):
    return lab_record(os.path.join(LOGS, name, "events.jsonl"), host, event, **data)["ts"]


# --- the eswitch: the VM MAC's static entry ---------------------------------------------
def fdb_to(name, host, port_kind):
    """Move the VM MAC's static sticky entry to the standby ("hs") or VF ("hv") tap."""
    env = vm_env(name)
    port = "%s-%s" % (port_kind, name)
    sh(["bridge", "-n", PFX + host, "fdb", "replace", env["MAC"], "dev", port, "master",
        "static", "sticky"])
    return rec(name, host, "AGENT_FDB", port=port)


# --- the guest channel: hybond-guestctl watch -j --stdin ----------------------------------
class Chan:
    """One guestctl process; every JSON line it prints is kept, with an index to wait on."""

    def __init__(self, sock, log_path):
        self.log = open(log_path, "a")
        self.p = subprocess.Popen([GUESTCTL, "--sock", sock, "watch", "-j", "--stdin"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.log, text=True, bufsize=1)
        self.recs = []
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        for line in self.p.stdout:
            self.log.write(line)
            self.log.flush()
            try:
                r = json.loads(line)
            except ValueError:
                continue
            with self.cv:
                self.recs.append(r)
                self.cv.notify_all()
        with self.cv:
            self.recs.append({"eof": True, "ts": time.time()})
            self.cv.notify_all()

    def mark(self):
        with self.cv:
            return len(self.recs)

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def wait(self, pred, timeout_s, since=0):
        deadline = time.monotonic() + timeout_s
        with self.cv:
            i = since
            while True:
                while i < len(self.recs):
                    r = self.recs[i]
                    i += 1
                    if pred(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def request(self, line, timeout_s):
        what = line.split()[0]
        i = self.mark()
        self.send(line)
        r = self.wait(lambda x: x.get("result") in (what, "send", "parse"), timeout_s, i)
        if r is None:
            raise Fail("%s: no result from guestctl within %.0f s" % (line, timeout_s))
        if not r.get("ok"):
            raise Fail("%s: %s" % (line, r.get("error")))
        return r

    def close(self):
        try:
            self.send("quit")
            self.p.wait(timeout=3)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.p.terminate()
            self.p.wait(timeout=3)
        self.log.close()


def is_status(r):
    return r.get("type") == "STATUS" and r.get("dir") == "rx" and "pairs" in r.get("body", {})


def wait_session_status(chan, since, timeout_s=SESSION_TIMEOUT_S):
    """Session up, then the guest's first STATUS: returns its first pair."""
    if chan.wait(lambda r: r.get("session") == "up", timeout_s, since) is None:
        raise Fail("no session with the guest agent within %.0f s (no HELLO)" % timeout_s)
    r = chan.wait(lambda r: is_status(r) and r["body"]["pairs"], timeout_s, since)
    if r is None:
        raise Fail("the guest agent reported no failover pair within %.0f s" % timeout_s)
    return r["body"]["pairs"][0]


def vf_up_pred(pair):
    """The guest says a VF of the pair is up: an EVENT on an interface that is neither the
    master nor the standby with link and carrier, or a STATUS whose VF has both."""
    others = (pair["master"]["name"], pair["standby"]["name"])

    def pred(r):
        b = r.get("body", {})
        if r.get("type") == "EVENT" and b.get("pair_id") == pair["id"]:
            return (b.get("ifname") not in others and b.get("link") == 1
                    and b.get("carrier") == 1)
        if is_status(r):
            for p in b["pairs"]:
                vf = p.get("vf")
                if p["id"] == pair["id"] and vf and vf.get("link") == 1 and vf.get("carrier") == 1:
                    return True
        return False
    return pred


# --- QMP -----------------------------------------------------------------------------------
def qmp_exec(q, command, args, timeout_s=30.0):
    """One QMP command with arguments as a dict: QMP.cmd() cannot pass an argument called
    "name" (set_link has one)."""
    q.ls.sock.sendall(json.dumps({"execute": command, "arguments": args}).encode() + b"\n")
    deadline = time.monotonic() + timeout_s
    keep = []
    try:
        while True:
            msg = q._next(deadline - time.monotonic())
            if "event" in msg:
                keep.append(msg)      # left for wait_event()
                continue
            if "error" in msg:
                raise QMPError("%s: %s" % (command, msg["error"].get("desc", msg["error"])))
            return msg.get("return")
    finally:
        q.pending[:0] = keep


def vf_add(q, vm, link_off=False):
    """Plug an e1000e "VF" with the lab's options. QEMU 7.2 cannot re-add a device whose id
    came from -device ("Duplicate ID 'vf0'": its QemuOpts outlive device_del), and a failover
    standby takes only that one primary id ("Cannot attach more than one primary device"):
    so a re-plug in the same QEMU is a plain e1000e with the same MAC and a fresh id, which
    net_failover enslaves as its primary by MAC (bonding: the guest enslaves it)."""
    env = vm_env(vm.name)
    args = dict(driver="e1000e", id="vf0", netdev="nv", mac=env["MAC"], bus="rp1", romfile="")
    if env["MODE"] == "failover":
        args["failover_pair_id"] = "standby0"
    try:
        q.cmd("device_add", **args)
    except QMPError as e:
        if "Duplicate ID" not in str(e):
            raise
        vm.vf_seq += 1
        args["id"] = "vf%d" % vm.vf_seq
        args.pop("failover_pair_id", None)
        q.cmd("device_add", **args)
    vm.vf_id = args["id"]
    if link_off:
        qmp_exec(q, "set_link", {"name": vm.vf_id, "up": False})


def vf_del(q, vm, timeout_s=30.0):
    q.cmd("device_del", id=vm.vf_id)
    try:
        q.wait_event("DEVICE_DELETED", timeout_s, lambda d: d.get("device") == vm.vf_id)
    except TimeoutError:
        raise Fail("the guest did not release %s within %.0f s" % (vm.vf_id, timeout_s))


# --- announcements on the wire ------------------------------------------------------------
class Sniffer:
    """tests/lab/guest_sniff.py in the host's namespace on the VM's two taps."""

    def __init__(self, vm):
        env = vm_env(vm.name)
        self.vm = vm
        self.ifs = {"standby": "hs-" + vm.name, "vf": "hv-" + vm.name}
        self.p = subprocess.Popen(["ip", "netns", "exec", PFX + vm.host, "/usr/bin/python3",
                                   SNIFF, "--mac", env["MAC"]] + list(self.ifs.values()),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = self.p.stdout.readline()
        if '"ready"' not in first:
            raise Fail("guest_sniff.py did not start: %s%s" % (first, self.p.stderr.read()))
        self.frames = []
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        for line in self.p.stdout:
            try:
                self.frames.append(json.loads(line))
            except ValueError:
                pass

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.t.join(timeout=2)
        return self.frames

    def check(self, t0, t1, right, ip):
        """GARPs for ip received on each tap within [t0, t1]: right is "standby" or "vf"."""
        n = {k: sum(1 for f in self.frames if f["if"] == v and f["kind"] == "garp" and
                    f["ip"] == ip and f["ts"] is not None and t0 <= f["ts"] <= t1)
             for k, v in self.ifs.items()}
        na = {k: sum(1 for f in self.frames if f["if"] == v and f["kind"] == "na" and
                     f["ts"] is not None and t0 <= f["ts"] <= t1) for k, v in self.ifs.items()}
        wrong = "vf" if right == "standby" else "standby"
        return {"garp": n, "na": na, "expected_on": right,
                "ok": n[right] >= 1 and n[wrong] == 0}


# --- the probe -------------------------------------------------------------------------------
class Probe:
    def __init__(self, ip, max_s=600):
        self.p = subprocess.Popen(["ip", "netns", "exec", PEER_NS, PROBE, "udp", "--target",
                                   "%s:%d" % (ip, ECHO_PORT), "--rate", str(UDP_RATE),
                                   "--duration", str(max_s), "--grace-ms", "1000", "-j", "-q"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)          # a clean stretch before the first step

    def stop(self):
        time.sleep(SETTLE_S)
        self.p.send_signal(signal.SIGINT)
        out, err = self.p.communicate(timeout=30)
        try:
            return json.loads(out)
        except ValueError:
            raise Fail("hybond-probe gave no JSON: %s" % err.strip())


def attribute(probe, bounds):
    """Loss per step: bounds is [(step, t_start)], in order; an outage belongs to the step
    whose window holds its first lost packet."""
    steps = {s: {"lost_to_guest": 0, "lost_from_guest": 0, "lost": 0, "outages": 0}
             for s, _ in bounds}
    steps["before"] = {"lost_to_guest": 0, "lost_from_guest": 0, "lost": 0, "outages": 0}
    outs = []
    for o in probe.get("outages", []):
        step = "before"
        for s, t in bounds:
            if o["start_realtime"] >= t:
                step = s
        st = steps[step]
        st["lost_to_guest"] += o.get("lost_to_guest") or 0
        st["lost_from_guest"] += o.get("lost_from_guest") or 0
        st["lost"] += o.get("lost") or 0
        st["outages"] += 1
        outs.append({"step": step, "start_ms": round((o["start_realtime"] - bounds[0][1]) * 1e3, 1),
                     "duration_ms": round(o["duration_ms"], 1), "lost": o.get("lost"),
                     "lost_to_guest": o.get("lost_to_guest"),
                     "lost_from_guest": o.get("lost_from_guest")})
    if not steps["before"]["outages"]:
        del steps["before"]
    return steps, outs


def probe_summary(p):
    return {k: p.get(k) for k in ("sent", "received", "lost_to_guest", "lost_from_guest",
                                  "lost_unattributed", "lost_total", "duplicates", "reordered",
                                  "longest_outage_ms", "interrupted")}


# --- scenarios ---------------------------------------------------------------------------------
class VM:
    def __init__(self, name, mode, agent=1):
        self.name, self.mode = name, mode
        lab("vm", "start", "--host", "A", "--name", name, "--mode", mode, "--agent", str(agent))
        env = vm_env(name)
        self.ip = env["IP"].split("/")[0]
        self.host = env["HOST"]
        self.chan = None
        self.pair = None
        self.vf_id = "vf0"
        self.vf_seq = 0

    def connect(self):
        self.chan = Chan(inst(self.name, self.host, "agent.sock"),
                         os.path.join(LOGS, self.name, "guestctl.jsonl"))
        self.pair = wait_session_status(self.chan, 0)
        return self.pair

    def qmp(self):
        return QMP(inst(self.name, self.host, "qmp.sock"))

    def stop(self):
        if self.chan:
            self.chan.close()
            self.chan = None
        lab("vm", "stop", self.name, check=False)


def step_to_standby(vm, t):
    t["to_standby"] = time.time()
    t["fdb_standby"] = fdb_to(vm.name, vm.host, "hs")
    t["prepare_req"] = time.time()
    r = vm.chan.request("prepare %d %d" % (vm.pair["id"], PREPARE_DEADLINE_MS),
                        PREPARE_DEADLINE_MS / 1e3 + 5)
    t["switch_done"] = r["ts"]
    return r


def step_switch_back(vm, t, since, vf_timeout_s=VF_UP_TIMEOUT_S):
    r = vm.chan.wait(vf_up_pred(vm.pair), vf_timeout_s, since)
    if r is None:
        raise Fail("the guest did not report its new VF up within %.0f s" % vf_timeout_s)
    t["vf_up_reported"] = r["ts"]
    t["fdb_vf"] = fdb_to(vm.name, vm.host, "hv")
    t["resume_req"] = time.time()
    r = vm.chan.request("resume %d %d" % (vm.pair["id"], RESUME_DEADLINE_MS),
                        RESUME_DEADLINE_MS / 1e3 + 5)
    t["fast_path_up"] = r["ts"]
    return r


def result(kind, vm, t, probe, bounds, extra=None):
    steps, outs = attribute(probe, bounds)
    t0 = bounds[0][1]
    res = {"scenario": kind, "mode": vm.mode, "vm": vm.name, "udp": probe_summary(probe),
           "steps": steps, "outages": outs,
           "t_ms": {k: round((v - t0) * 1e3, 1) for k, v in sorted(t.items(), key=lambda x: x[1])}}
    res.update(extra or {})
    res["switch_lost"] = sum(steps.get(s, {}).get("lost", 0) for s in SWITCH_STEPS)
    return res


def scenario_cycle(vm):
    """Switch to standby, unplug, re-plug and switch back, on one host."""
    t = {}
    sniff = Sniffer(vm)
    probe = Probe(vm.ip)
    q = vm.qmp()
    try:
        step_to_standby(vm, t)
        time.sleep(SETTLE_S)
        t["unplug"] = time.time()
        vf_del(q, vm)
        t["vf_deleted"] = time.time()
        time.sleep(SETTLE_S)
        t["switch_back"] = time.time()
        since = vm.chan.mark()
        vf_add(q, vm)
        t["vf_added"] = time.time()
        step_switch_back(vm, t, since)
    finally:
        q.close()
        p = probe.stop()
        sniff.stop()
    ann = {"prepare": sniff.check(t["prepare_req"], t["switch_done"] + ANNOUNCE_SLACK_S,
                                  "standby", vm.ip),
           "resume": sniff.check(t["resume_req"], t["fast_path_up"] + ANNOUNCE_SLACK_S,
                                 "vf", vm.ip)}
    return result("cycle", vm, t, p, [("to_standby", t["to_standby"]), ("unplug", t["unplug"]),
                                      ("switch_back", t["switch_back"])],
                  {"announce": ann, "announce_ok": ann["prepare"]["ok"] and ann["resume"]["ok"]})


def scenario_migrate(vm):
    """Step 1 on the source, the lab's migration, step 3 on the destination."""
    t = {}
    src = vm.host
    dst = "hB" if src == "hA" else "hA"
    probe = Probe(vm.ip)
    try:
        step_to_standby(vm, t)
        time.sleep(SETTLE_S)
        t["migration"] = time.time()
        mig = subprocess.Popen([LAB, "migrate", vm.name, "--to", dst[1], "-j", "--no-wait-vf",
                                "--agent-fdb"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=dict(os.environ, B=B))
        # the channel follows the VM: connect to the destination's chardev as soon as it
        # exists (the guest says HELLO when it runs there)
        dsock = inst(vm.name, dst, "agent.sock")
        deadline = time.monotonic() + 60
        while not os.path.exists(dsock) and mig.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        since = vm.chan.mark()
        vm.chan.send("connect " + dsock)
        out, err = mig.communicate(timeout=300)
        if mig.returncode != 0:
            raise Fail("lab migrate: %s" % err.strip())
        m = json.loads(out)
        vm.host = dst
        t["migrate_cmd"] = m["t_migrate_cmd"]
        t["migrate_done"] = m["t_completed"]
        t["switch_back"] = time.time()
        step_switch_back(vm, t, since)
    finally:
        p = probe.stop()
    # the migration window runs until the guest reports the VF up on the destination
    bounds = [("to_standby", t["to_standby"]), ("migration", t["migration"]),
              ("switch_back", t.get("vf_up_reported", t["switch_back"]))]
    return result("migrate", vm, t, p, bounds, {
        "from": src, "to": dst, "downtime_ms": m.get("downtime_ms"),
        "total_time_ms": m.get("total_time_ms")})


def scenario_no_link(vm):
    """A re-plugged VF that never gets link: RESUME_FAST_PATH must not succeed, the pair
    stays on the standby without loss; then the link comes and the switch back works."""
    t = {}
    probe = Probe(vm.ip)
    q = vm.qmp()
    out = {}
    try:
        step_to_standby(vm, t)
        time.sleep(SETTLE_S)
        t["unplug"] = time.time()
        vf_del(q, vm)
        time.sleep(SETTLE_S)
        t["replug_link_off"] = time.time()
        since = vm.chan.mark()
        vf_add(q, vm, link_off=True)
        early = vm.chan.wait(vf_up_pred(vm.pair), 6.0, since)
        out["vf_up_reported_while_link_off"] = early is not None
        i = vm.chan.mark()
        vm.chan.send("resume %d 3000" % vm.pair["id"])
        r = vm.chan.wait(lambda x: x.get("result") == "resume", 10, i)
        out["resume_without_link"] = {"ok": r and r.get("ok"), "error": r and r.get("error")}
        t["resume_refused"] = time.time()
        time.sleep(SETTLE_S)
        t["switch_back"] = time.time()
        since = vm.chan.mark()
        qmp_exec(q, "set_link", {"name": vm.vf_id, "up": True})
        step_switch_back(vm, t, since)
    finally:
        q.close()
        p = probe.stop()
    res = result("no_link", vm, t, p, [("to_standby", t["to_standby"]), ("unplug", t["unplug"]),
                                        ("no_link", t["replug_link_off"]),
                                        ("switch_back", t["switch_back"])], out)
    res["passed"] = (not out["vf_up_reported_while_link_off"]
                     and not out["resume_without_link"]["ok"])
    return res


def scenario_no_hello(vm):
    """A host that connects and never answers: the guest keeps forwarding; afterwards a
    normal host gets a session at once."""
    vm.chan.close()
    vm.chan = None
    probe = Probe(vm.ip)
    t = {"silent_host": time.time()}
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(inst(vm.name, vm.host, "agent.sock"))
    s.settimeout(0.2)
    got = b""
    end = time.monotonic() + 8.0
    while time.monotonic() < end:
        try:
            d = s.recv(65536)
            if not d:
                break
            got += d
        except socket.timeout:
            pass
    s.close()
    t["normal_host"] = time.time()
    p = probe.stop()
    hellos = got.count(b"HYBN")
    alive = lab("vm", "exec", vm.name, "pidof hybond-guestd", check=False).returncode == 0
    t0 = time.monotonic()
    vm.connect()
    res = result("no_hello", vm, t, p, [("silent_host", t["silent_host"]),
                                         ("normal_host", t["normal_host"])])
    res.update({"frames_from_guest_while_silent": hellos, "agent_alive": alive,
                "session_after_s": round(time.monotonic() - t0, 2)})
    res["passed"] = alive and hellos >= 1 and p["lost_total"] == 0
    return res


def scenario_no_vf(mode):
    """The agent starts in a guest that has no VF (restarted after the VF's device_del);
    the pair works on the standby; a VF plugged later is taken into use."""
    name = "ag%sn" % mode[0]
    vm = VM(name, mode)
    try:
        q = vm.qmp()
        t = {}
        fdb_to(name, vm.host, "hs")
        vf_del(q, vm)
        # restart the agent now that there is no VF (booting with --agent 0 would also
        # turn on guest-init's own re-enslaving of a hot-plugged VF, which races the agent's)
        lab("vm", "exec", name, "kill $(pidof hybond-guestd); sleep 0.5; hybond-guestd "
            "--foreground --channel /dev/virtio-ports/org.hybond.0 </dev/null >/dev/console "
            "2>&1 3>&- &")
        pair = vm.connect()
        out = {"vf_in_first_status": "vf" in pair, "active": pair.get("active")}
        probe = Probe(vm.ip)
        try:
            t["to_standby"] = time.time()
            r = vm.chan.request("prepare %d %d" % (pair["id"], PREPARE_DEADLINE_MS), 10)
            out["prepare_without_vf"] = r["answer"]["body"]
            i = vm.chan.mark()
            vm.chan.send("resume %d 2000" % pair["id"])
            r = vm.chan.wait(lambda x: x.get("result") == "resume", 10, i)
            out["resume_without_vf"] = {"ok": r and r.get("ok"), "error": r and r.get("error")}
            time.sleep(SETTLE_S)
            t["switch_back"] = time.time()
            since = vm.chan.mark()
            vf_add(q, vm)
            step_switch_back(vm, t, since)
        finally:
            q.close()
            p = probe.stop()
        res = result("no_vf", vm, t, p, [("to_standby", t["to_standby"]),
                                          ("switch_back", t["switch_back"])], out)
        res["passed"] = not out["vf_in_first_status"] and not out["resume_without_vf"]["ok"]
        return res
    finally:
        vm.stop()


def guest_ipconf(vm):
    """bond0's ifindex, its IPv4 addresses, the default route's device, the standby's master."""
    out = lab("vm", "exec", vm.name, "cat /sys/class/net/bond0/ifindex; ip -4 -o addr show; "
              "ip -4 route show default; readlink /sys/class/net/%s/master"
              % vm.pair["standby"]["name"]).stdout.splitlines()
    addrs = sorted("%s@%s" % (l.split()[3], l.split()[1]) for l in out[1:]
                   if " inet " in l and not l.split()[1] == "lo")
    dflt = [l.split()[l.split().index("dev") + 1] for l in out if l.startswith("default")
            and "dev" in l.split()]
    return {"bond_ifindex": out[0].strip() if out else None, "addrs": addrs,
            "default_dev": dflt[0] if dflt else None,
            "standby_master": os.path.basename(out[-1].strip()) if out else None}


def ipconf_ok(c, vm):
    return (c["addrs"] == ["%s@bond0" % vm_env(vm.name)["IP"]] and c["default_dev"] == "bond0"
            and c["standby_master"] == "bond0")


def scenario_agent_restart(vm):
    """bond-agent guest: the IP configuration the agent carried over to the bond it created
    is on bond0 (after the cycle's unplug/re-plug too); hybond-guestd restarted under
    traffic must neither recreate the bond nor lose a packet, and the host gets a session."""
    before = guest_ipconf(vm)
    vm.chan.close()
    vm.chan = None
    probe = Probe(vm.ip)
    t = {"restart": time.time()}
    try:
        lab("vm", "exec", vm.name, "kill $(pidof hybond-guestd); sleep 0.5; hybond-guestd "
            "--foreground --channel /dev/virtio-ports/org.hybond.0 </dev/null >/dev/console "
            "2>&1 3>&- &")
        time.sleep(SETTLE_S)
        vm.connect()
    finally:
        p = probe.stop()
    after = guest_ipconf(vm)
    res = result("agent_restart", vm, t, p, [("restart", t["restart"])],
                 {"before": before, "after": after})
    res["passed"] = (ipconf_ok(before, vm) and ipconf_ok(after, vm) and
                     before["bond_ifindex"] == after["bond_ifindex"] and p["lost_total"] == 0)
    return res


# --- driver -------------------------------------------------------------------------------------
def fmt_steps(r):
    return ", ".join("%s %d (to %d, from %d)" % (s, v["lost"], v["lost_to_guest"],
                                               v["lost_from_guest"])
                     for s, v in r["steps"].items())


def line(r):
    s = "%s/%s: sent %d, lost %d; per step: %s" % (
        r["mode"], r["scenario"], r["udp"]["sent"], r["udp"]["lost_total"], fmt_steps(r) or "-")
    if r["scenario"] == "migrate":
        s += "; %s->%s QEMU downtime %s ms" % (r["from"], r["to"], r["downtime_ms"])
    if "passed" in r:
        s += "; edge case %s" % ("passed" if r["passed"] else "FAILED")
    if "announce" in r:
        a = r["announce"]
        s += "; GARP at PREPARE standby/VF tap %d/%d, at RESUME %d/%d (%s)" % (
            a["prepare"]["garp"]["standby"], a["prepare"]["garp"]["vf"],
            a["resume"]["garp"]["standby"], a["resume"]["garp"]["vf"],
            "ok" if r["announce_ok"] else "WRONG")
    return s


class Lab:
    """Brings the lab up (and builds the guest image) unless it is up already: other VMs
    may live in it, so it is left up, and brought down only if nobody else's VM is left."""

    def __enter__(self):
        st = lab("status").stdout
        self.brought_up = st.startswith("lab: down")
        if self.brought_up:
            lab("build")
            lab("up", "--eswitch", "static")
        elif "eswitch static" not in st:
            raise Fail("the lab is up with a learning eswitch; `lab down` first")
        else:
            say("the lab is up already: using it as it is (no image rebuild)")
        return self

    def __exit__(self, *exc):
        vms = os.path.join(RUN, "vms")
        left = os.listdir(vms) if os.path.isdir(vms) else []
        if self.brought_up and not left and not os.environ.get("HBL_KEEP"):
            lab("down", check=False)


def run_vm(name, mode, fn, n, edge_fns, results):
    vm = VM(name, mode)
    try:
        vm.connect()
        say("%s: VM %s, guest agent \"%s\", pair %d (master %s, standby %s)" % (
            mode, name, vm.chan.wait(lambda r: r.get("session") == "up", 1)["agent"],
            vm.pair["id"], vm.pair["master"]["name"], vm.pair["standby"]["name"]))
        for i in range(n):
            r = fn(vm)
            r["run"] = i + 1
            say(line(r))
            results.append(r)
            time.sleep(SETTLE_S)
        for efn in edge_fns:
            r = efn(vm)
            say(line(r))
            results.append(r)
    finally:
        vm.stop()


def run_mode(mode, cycles, migrations, edges):
    """Cycles (and two edge cases) in one VM, migrations in another: after a re-plug in
    the same QEMU the VF is no longer QEMU's failover primary (see vf_add), and the lab's
    migration expects one (failover) or vf0 (bond)."""
    results = []
    m = VM_LETTER[mode]
    if mode == "bond-agent":
        # the bond is the agent's (guest.conf); `lab migrate` knows failover|bond only
        if cycles or edges:
            run_vm("ag%sc" % m, mode, scenario_cycle, cycles,
                   (scenario_agent_restart,) if edges else (), results)
        return results
    if cycles or edges:
        run_vm("ag%sc" % m, mode, scenario_cycle, cycles,
               (scenario_no_link, scenario_no_hello) if edges else (), results)
    if migrations:
        run_vm("ag%sm" % m, mode, scenario_migrate, migrations, (), results)
    if edges:
        r = scenario_no_vf(mode)
        say(line(r))
        results.append(r)
    return results


def summarize(results):
    out = {}
    for r in results:
        if r["scenario"] not in ("cycle", "migrate"):
            continue
        key = "%s/%s" % (r["mode"], r["scenario"])
        for step, v in r["steps"].items():
            for d in ("lost_to_guest", "lost_from_guest"):
                out.setdefault(key, {}).setdefault("%s.%s" % (step, d), []).append(v[d])
        out[key].setdefault("udp_lost_total", []).append(r["udp"]["lost_total"])
        if r.get("downtime_ms") is not None:
            out[key].setdefault("downtime_ms", []).append(r["downtime_ms"])
    return {k: {m: {"min": min(v), "median": statistics.median(v), "max": max(v), "n": len(v)}
                for m, v in d.items()} for k, d in out.items()}


def md_report(results, meta):
    L = ["## hybond guest agent: the switch in the right order", ""]
    L.append("Measured by `make bench-guest R=%d` (tests/lab/agent_switch.py) on %s: QEMU %s "
             "(TCG), guest kernel %s, %s. Static (hardware-faithful) eswitch; hybond-probe udp "
             "at %d pps each way from the peer for the whole scenario; the host side is "
             "hybond-guestctl (guestchan) talking to hybond-guestd over org.hybond.0. "
             "A cycle: (1) FDB entry VF port → standby port, PREPARE_SWITCH → SWITCH_DONE; "
             "(2) device_del vf0 → DEVICE_DELETED; (3) device_add e1000e, the guest's EVENT "
             "that the VF is up, FDB entry → VF port, RESUME_FAST_PATH → FAST_PATH_UP. "
             "A migration: (1) on the source, `lab migrate --agent-fdb` (destination entry on "
             "the standby port; failover: QEMU unplugs/re-plugs, bond: the lab does), then (3) "
             "on the destination. Loss is counted per step: an outage belongs to the step "
             "whose window holds its first lost packet. The bar: 0 lost in either direction "
             "at the switch to standby and at the switch back." % (
                 meta["runs"], meta["date"], meta["qemu"], meta["guest_kernel"],
                 meta["agent"], UDP_RATE))
    L.append("")
    L.append("| guest | scenario | runs | lost at the switch to standby (max) | lost during "
             "unplug / migration (median, min–max) | lost at the switch back (max) | "
             "QEMU downtime ms (median) |")
    L.append("|---|---|---|---|---|---|---|")
    for mode in ("failover", "bond"):
        for sc in ("cycle", "migrate"):
            rs = [r for r in results if r["mode"] == mode and r["scenario"] == sc]
            if not rs:
                continue
            mid = "unplug" if sc == "cycle" else "migration"

            def lost(r, step):
                return r["steps"].get(step, {}).get("lost", 0)
            mids = [lost(r, mid) for r in rs]
            dts = [r["downtime_ms"] for r in rs if r.get("downtime_ms") is not None]
            L.append("| %s | %s | %d | %d | %s (%d–%d) | %d | %s |" % (
                mode, "switch cycle" if sc == "cycle" else "migration", len(rs),
                max(lost(r, "to_standby") for r in rs), statistics.median(mids), min(mids),
                max(mids), max(lost(r, "switch_back") for r in rs),
                statistics.median(dts) if dts else "–"))
    L.append("")
    L.append("Where the migration's loss is: every run had exactly one outage in the migration "
             "window, all toward the guest, ending when the migration completed: stop-and-copy "
             "(the fabric still delivers to the source host until the guest, resumed on the "
             "destination, is heard from). No loss at the source's unplug (RX was already on "
             "the standby port, TX pinned to the standby) nor after the destination's re-plug "
             "(the entry stays on the standby port until the guest reports the new VF up). "
             "Turning that last outage into delay (an announce from the destination at the "
             "source's STOP, LAB-NOTES \"delay, not loss\") is host-daemon work, not part of "
             "this test.")
    L.append("")
    L.append("Per run (lost: total (to guest / from guest)):")
    L.append("")
    L.append("| mode | scenario | run | UDP sent | to standby lost (to/from guest) | unplug or "
             "migration lost (to/from) | switch back lost (to/from) | QEMU downtime ms |")
    L.append("|---|---|---|---|---|---|---|---|")
    for r in results:
        if r["scenario"] not in ("cycle", "migrate"):
            continue
        st = r["steps"]
        mid = st.get("unplug") or st.get("migration") or {}

        def c(v):
            return "%d (%d/%d)" % (v.get("lost", 0), v.get("lost_to_guest", 0),
                                   v.get("lost_from_guest", 0)) if v else "0 (0/0)"
        L.append("| %s | %s | %d | %d | %s | %s | %s | %s |" % (
            r["mode"], r["scenario"], r["run"], r["udp"]["sent"], c(st.get("to_standby")),
            c(mid), c(st.get("switch_back")),
            "–" if r.get("downtime_ms") is None else r["downtime_ms"]))
    L.append("")
    edges = [r for r in results if r["scenario"] not in ("cycle", "migrate")]
    if edges:
        L.append("Edge cases (one run each):")
        L.append("")
        for r in edges:
            L.append("- %s" % line(r))
        L.append("")
    return L


def update_doc(lines, path=os.path.join(TOP, "docs", "benchmarks.md")):
    begin = "<!-- BEGIN bench-guest (tests/lab/agent_switch.py) -->"
    end = "<!-- END bench-guest -->"
    text = open(path).read() if os.path.exists(path) else ""
    block = begin + "\n" + "\n".join(lines) + "\n" + end + "\n"
    if begin in text and end in text:
        a = text.index(begin)
        b = text.index(end) + len(end) + 1
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(text)


def meta(runs):
    q = sh(["qemu-system-x86_64", "--version"], check=False).stdout.split("\n")[0]
    k = [d for d in os.listdir(OUT) if d.startswith("kernel-")]
    return {"date": time.strftime("%Y-%m-%d"), "qemu": q.replace("QEMU emulator version ", ""),
            "guest_kernel": k[0][7:] if k else "?", "runs": runs,
            "agent": "guest agent %s" % ("present" if os.path.exists(GUESTD) else "absent"),
            "host": platform.node()}


def main(argv):
    ap = argparse.ArgumentParser(prog="agent_switch.py")
    ap.add_argument("what", choices=("check", "bench", "cycle", "migrate", "edge", "render"))
    ap.add_argument("--mode", choices=("failover", "bond", "bond-agent", "both"), default="both",
                    help="both: failover and bond, and for check also bond-agent")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--out", default=os.path.join(B, "bench"))
    ap.add_argument("--max-switch-loss", type=int, default=0,
                    help="check: packets that may be lost at the switch steps (default 0)")
    a = ap.parse_args(argv)
    if a.what == "render":      # guest.md and the doc section again from guest.json
        with open(os.path.join(a.out, "guest.json")) as f:
            d = json.load(f)
        md = md_report(d["results"], d["meta"])
        with open(os.path.join(a.out, "guest.md"), "w") as f:
            f.write("\n".join(md) + "\n")
        if not d["failures"]:
            update_doc(md)
        return 0
    for f in (GUESTCTL, PROBE):
        if not os.access(f, os.X_OK):
            raise SystemExit("agent_switch: %s missing: make all" % f)
    if not os.access(GUESTD, os.X_OK):
        raise SystemExit("agent_switch: %s missing (the guest agent): nothing to test" % GUESTD)
    modes = ("failover", "bond") if a.mode == "both" else (a.mode,)
    if a.mode == "both" and a.what == "check":
        modes += ("bond-agent",)
    cyc, mig, edges = {"check": (1, 1, True), "bench": (a.runs, a.runs, False),
                       "cycle": (a.runs, 0, False), "migrate": (0, a.runs, False),
                       "edge": (0, 0, True)}[a.what]
    results, failures = [], []
    with Lab():
        for mode in modes:
            try:
                results += run_mode(mode, cyc, mig, edges)
            except (Fail, TimeoutError, OSError) as e:
                failures.append("%s: %s" % (mode, e))
                say("FAIL %s: %s" % (mode, e))
    for r in results:
        if r["scenario"] in ("cycle", "migrate") and r["switch_lost"] > a.max_switch_loss:
            failures.append("%s/%s run %d: %d lost at the switch steps" % (
                r["mode"], r["scenario"], r["run"], r["switch_lost"]))
        if r.get("announce_ok") is False:
            failures.append("%s/%s run %d: announcements not where expected: %s" % (
                r["mode"], r["scenario"], r.get("run", 0), json.dumps(r["announce"])))
        if r.get("passed") is False:
            failures.append("%s/%s: edge case failed: %s" % (r["mode"], r["scenario"],
                                                              json.dumps(r)))
    if a.what == "bench":
        os.makedirs(a.out, exist_ok=True)
        m = meta(a.runs)
        with open(os.path.join(a.out, "guest.json"), "w") as f:
            json.dump({"meta": m, "results": results, "summary": summarize(results),
                       "failures": failures}, f, indent=1)
        md = md_report(results, m)
        with open(os.path.join(a.out, "guest.md"), "w") as f:
            f.write("\n".join(md) + "\n")
        if failures:
            say("wrote %s/guest.json and guest.md; docs/benchmarks.md left alone (failures)"
                % a.out)
        else:
            update_doc(md)
            say("wrote %s/guest.json, guest.md and the docs/benchmarks.md section" % a.out)
    elif a.what != "check":
        print(json.dumps(results, indent=1))
    if failures:
        for f in failures:
            say("FAIL %s" % f)
        return 1
    say("passed (%d scenarios)" % len(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
