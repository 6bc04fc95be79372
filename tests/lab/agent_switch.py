#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
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
from labkit.guestchan import (PREPARE_DEADLINE_MS, RESUME_DEADLINE_MS, VM,  # noqa: E402
                              fdb_to, qmp_exec, vf_add, vf_del, vf_up_pred)
from labkit.lab import (B, GUESTCTL, GUESTD, LAB, OUT, PFX, PROBE, UDP_RATE,  # noqa: E402
                        ReuseLab, inst, lab, sh, vm_env)
from labkit.probe import Probe, attribute_steps, probe_summary  # noqa: E402
from labkit.report import update_doc  # noqa: E402
from labkit.verdict import Fail, sayer  # noqa: E402

SETTLE_S = 1.0            # quiet time between steps, so outages fall into one window
VF_UP_TIMEOUT_S = 40.0
SWITCH_STEPS = ("to_standby", "switch_back")   # the bar: 0 lost in these
SNIFF = os.path.join(HERE, "guest_sniff.py")
ANNOUNCE_SLACK_S = 0.5    # an announcement counts up to this long after the answer
VM_LETTER = {"failover": "f", "bond": "b", "bond-agent": "a"}
DOC_BEGIN = "<!-- BEGIN bench-guest (tests/lab/agent_switch.py) -->"
DOC_END = "<!-- END bench-guest -->"

say = sayer("agent_switch")


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


# --- scenarios ---------------------------------------------------------------------------------
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
    steps, outs = attribute_steps(probe, bounds)
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
            update_doc(DOC_BEGIN, DOC_END, md)
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
    with ReuseLab(say):
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
            update_doc(DOC_BEGIN, DOC_END, md)
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
