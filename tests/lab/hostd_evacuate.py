#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`hybond evacuate --to B` in the lab: every VM of host A moves, measured per VM.

  hostd_evacuate.py check            the cases below once, JSON on stdout (make check-lab:
                                     $(B)/lab-evacuate.json); fails on any loss outside
                                     stop-and-copy, a VM not on B's fast path, leftovers on
                                     A, a wrong skip/stop
  hostd_evacuate.py run [--runs R] [--parallel K] [--modes failover,bond] [--cases C,..]
                                     R rounds of the cases, JSON on stdout, a table per run

Cases (each starts its VMs on A; static eswitch; hybond-probe udp at 1000 pps each way to
EVERY VM from the peer namespace, one prober per VM):
  two       two VMs (modes from --modes: failover + bond), `hybond -j evacuate --to B
            --parallel K`: per VM lost per direction (each outage attributed to the phase of
            that VM's migration it started in), QEMU downtime, migration time, the MAC's FDB
            entry on B's VF port, the guest's VF counters growing both ways on B, B's status
            fast_path, A's last_op (the migration's figures, "evacuation": true), nothing of
            the VM left on A; the evacuation's exit status 0
  no_agent  one VM without guest agent + one with: the agentless one is SKIPPED with a
            reason naming the agent and keeps running on A on its fast path, the other moves
            (exit status 1: a VM was skipped); then `evacuate --to B --force` moves the
            agentless one too (plain QEMU order, warned)
  ctrl_c    two VMs, `evacuate --parallel 1`, SIGINT to the CLI once the first VM started:
            the CLI says it stops, the first VM still moves and is reported, the second is
            "not_started" and still runs on A; exit status 1
  refused   `evacuate --to X` (no such peer): refused, exit status 1, no VM touched

The daemons, registration, checks and the prober are the lab kit's (tests/lab/labkit:
hostd, probe), as hostd_migrate.py uses them.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from labkit.hostd import (SESSION_TIMEOUT_S, HostdLab, check, ctl,  # noqa: E402
                          leftovers, on_host_intact, reachable, register, start_vm,
                          teardown_vm, vf_growth, vm_status, wait_agent)
from labkit.lab import CLI, fdb_port  # noqa: E402
from labkit.probe import Probe, attribute_phases, probe_summary  # noqa: E402
from labkit.report import fmt  # noqa: E402
from labkit.verdict import Fail, sayer  # noqa: E402

EVAC_TIMEOUT_S = 600
MODE_LETTER = {"failover": "f", "bond": "b"}


say = sayer("hostd_evacuate")


class Evac:
    """`hybond -j evacuate …` against a host's daemon, every line stamped as it arrives."""

    def __init__(self, host, *args):
        self.t_cmd = time.time()
        self.p = subprocess.Popen([CLI, "-j", "-s", ctl(host), "evacuate"] + list(args),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        for l in self.p.stdout:
            if not l.strip():
                continue
            try:
                o = json.loads(l)
            except ValueError:
                o = {"raw": l.rstrip("\n")}
            with self.cv:
                self.lines.append((time.time(), o))
                self.cv.notify_all()

    def wait_event(self, event, timeout_s=EVAC_TIMEOUT_S):
        deadline = time.monotonic() + timeout_s
        with self.cv:
            while True:
                for ts, o in self.lines:
                    if (o.get("progress") or {}).get("event") == event:
                        return o["progress"]
                left = deadline - time.monotonic()
                if left <= 0 or self.p.poll() is not None:
                    return None
                self.cv.wait(min(left, 0.5))

    def finish(self):
        try:
            rc = self.p.wait(timeout=EVAC_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.t.join(timeout=10)
        err = self.p.stderr.read()
        final = self.lines[-1][1] if self.lines and "progress" not in self.lines[-1][1] else {}
        return {"rc": rc, "final": final, "stderr": err.strip(),
                "events": [dict(o["progress"], at=ts) for ts, o in self.lines if "progress" in o]}

    def started_at(self, name):
        for ts, o in self.lines:
            p = o.get("progress") or {}
            if p.get("event") == "started" and p.get("vm") == name:
                return ts
        return None

    def finished(self, name):
        for ts, o in self.lines:
            p = o.get("progress") or {}
            if p.get("event") in ("finished", "skipped") and p.get("vm") == name:
                return p
        return {}


def start_vms(spec):
    """spec: [(name, mode, agent)] -> {name: {mac, ip, mode, agent}}, registered on A and B."""
    vms = {}
    for name, mode, agent in spec:
        mac, ip = start_vm(name, mode, agent)
        vms[name] = {"mac": mac, "ip": ip, "mode": mode, "agent": agent}
    for name in vms:
        register(name)
    for name, v in vms.items():
        if v["agent"]:
            wait_agent("A", name)
        else:
            wait_qmp("A", name)
    return vms


def wait_qmp(h, name, timeout_s=SESSION_TIMEOUT_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if vm_status(h, name).get("qmp_connected"):
            return
        time.sleep(0.2)
    raise Fail("vm %s: no QMP session on %s within %.0f s" % (name, h, timeout_s))


def intact_on_a(res, f, name, v):
    """hostd_migrate's check that the VM still runs on A on its fast path and nothing of it
    is on B (without an agent there is no agent report to ask)."""
    on_host_intact(res, f, name, v["mac"], v["ip"], "A", vf_counters=False,
                   agent=bool(v["agent"]))


def teardown(vms):
    for name in vms:
        teardown_vm(name)


def moved_checks(name, v, ev, probe, vf, host="B", other="A"):
    """One VM that should now run on HOST: the figures and hostd_migrate.check()'s verdict.

    vf: vf_growth() on HOST, measured while the probes still ran."""
    fin = ev.finished(name)
    res = {"vm": name, "mode": v["mode"], "status": fin.get("status"), "reason": fin.get("reason")}
    result = fin.get("result") or {}
    t_start = ev.started_at(name)
    res["vf"] = vf
    st = vm_status(host, name)
    res["fast_path_on_%s" % host] = (st.get("paths") or {}).get("fast_path")
    res["udp"] = probe_summary(probe)
    res["outages"] = (attribute_phases(probe, t_start, result.get("phases_ms", {}))
                      if t_start else [])
    res["fdb_B"] = fdb_port("h" + host, v["mac"])
    res["left_on_A"] = leftovers(name, "h" + other, v["mac"])
    res["reachable"] = reachable(v["ip"])
    d = result.get("dest") or {}
    res["summary"] = {
        "lost_to_guest": probe.get("lost_to_guest"), "lost_from_guest": probe.get("lost_from_guest"),
        "longest_outage_ms": probe.get("longest_outage_ms"),
        "max_rtt_ms": (probe.get("rtt_ms") or {}).get("max"),
        "qemu_downtime_ms": result.get("qemu_downtime_ms"), "total_ms": result.get("total_ms"),
        "start_ms": fin.get("start_ms"), "end_ms": fin.get("end_ms"),
        "vf_up_to_fast_path_ms": d.get("fast_path_ms"), "dest_path": d.get("path")}
    f = []
    if fin.get("status") != "ok":
        f.append("%s: %s (%s)" % (name, fin.get("status"), fin.get("reason")))
    else:
        f += ["%s: %s" % (name, x) for x in check(res)]
        if not res["fast_path_on_%s" % host]:
            f.append("%s: %s's status does not say fast_path: %s" % (name, host, st.get("paths")))
    res["failures"] = f
    return res


def probes_for(vms):
    return {name: Probe(v["ip"]) for name, v in vms.items()}


def stop_probes(probes):
    out = {}
    for name, p in probes.items():
        try:
            out[name] = p.stop()
        except Fail as e:
            out[name] = {"error": str(e)}
    return out


def case_two(run, modes, k):
    names = ["he%d%s%d" % (i, MODE_LETTER[m], run) for i, m in enumerate(modes)]
    vms = start_vms([(n, m, 1) for n, m in zip(names, modes)])
    res = {"case": "two", "run": run, "parallel": k, "vms": []}
    f = []
    try:
        probes = probes_for(vms)
        try:
            ev = Evac("A", "--to", "B", "--parallel", str(k))
            out = ev.finish()
            # the fast path under the probes: VF counters are read while they run
            per = {name: {"vf": vf_growth("B", name)} for name in vms}
        finally:
            p = stop_probes(probes)
        res["rc"], res["summary"] = out["rc"], out["final"].get("summary")
        res["total_ms"] = out["final"].get("total_ms")
        res["events"] = [(e.get("event"), e.get("vm"), e.get("t_ms")) for e in out["events"]]
        if out["rc"] != 0 or not out["final"].get("ok"):
            f.append("evacuate: rc %s, %s %s" % (out["rc"], out["final"].get("error"),
                                                 out["stderr"]))
        starts = [e for e in out["events"] if e.get("event") == "started"]
        if max((e.get("running") or 0) for e in starts or [{}]) > k:
            f.append("more than %d migrations at once: %s" % (k, res["events"]))
        for name, v in vms.items():
            r = moved_checks(name, v, ev, p.get(name, {}), per[name]["vf"])
            lo = vm_status("A", name).get("last_op") or {}
            if not (lo.get("evacuation") and lo.get("ok")):
                r["failures"].append("%s: A's status last_op is not the evacuation's migration: %s"
                                     % (name, lo))
            res["vms"].append(r)
            f += r["failures"]
    finally:
        teardown(vms)
    res["failures"] = f
    res["bar_missed"] = [m for r in res["vms"] for m in r.get("bar_missed", [])]
    return res


def case_no_agent(run, k):
    a, g = "hna%d" % run, "hng%d" % run
    vms = start_vms([(a, "failover", 0), (g, "failover", 1)])
    res = {"case": "no_agent", "run": run, "vms": []}
    f = []
    try:
        probes = probes_for(vms)
        try:
            ev = Evac("A", "--to", "B", "--parallel", str(k))
            out = ev.finish()
            res["rc"], res["summary"] = out["rc"], out["final"].get("summary")
            skipped = ev.finished(a)
            res["skipped"] = {"status": skipped.get("status"), "reason": skipped.get("reason")}
            if out["rc"] == 0:
                f.append("evacuate exited 0 although %s was skipped" % a)
            if skipped.get("status") != "skipped" or "agent" not in (skipped.get("reason") or ""):
                f.append("%s not skipped for want of an agent: %s" % (a, skipped))
            intact = {}
            intact_on_a(intact, f, a, vms[a])
            res["skipped"].update({k2: intact.get(k2) for k2 in ("qemu_on_A", "fdb_A", "reachable")})
            per_g = {"vf": vf_growth("B", g)}
            # --force: the agentless one goes too, in plain QEMU order
            ev2 = Evac("A", "--to", "B", "--force")
            out2 = ev2.finish()
        finally:
            p = stop_probes(probes)
        r = moved_checks(g, vms[g], ev, p.get(g, {}), per_g["vf"])
        res["vms"].append(r)
        f += r["failures"]
        fin = ev2.finished(a)
        forced = {"rc": out2["rc"], "status": fin.get("status"), "reason": fin.get("reason"),
                  "warning": fin.get("warning"), "qemu_downtime_ms": fin.get("qemu_downtime_ms"),
                  "total_ms": fin.get("total_ms"), "udp": probe_summary(p.get(a, {})),
                  "left_on_A": leftovers(a, "hA", vms[a]["mac"]),
                  "fdb_B": fdb_port("hB", vms[a]["mac"])}
        time.sleep(1)
        forced["reachable_on_B"] = reachable(vms[a]["ip"])
        res["forced"] = forced
        if out2["rc"] != 0 or fin.get("status") != "ok":
            f.append("--force: %s did not move: %s %s" % (a, fin, out2["stderr"]))
        if not fin.get("warning"):
            f.append("--force: no warning for the agentless VM")
        if forced["left_on_A"]:
            f.append("--force: left on A: %s" % forced["left_on_A"])
        if not forced["reachable_on_B"]:
            f.append("--force: %s not reachable on B" % a)
    finally:
        teardown(vms)
    res["failures"] = f
    res["bar_missed"] = [m for r in res["vms"] for m in r.get("bar_missed", [])]
    return res


def case_ctrl_c(run):
    names = ["hc0f%d" % run, "hc1b%d" % run]
    vms = start_vms([(names[0], "failover", 1), (names[1], "bond", 1)])
    res = {"case": "ctrl_c", "run": run}
    f = []
    try:
        ev = Evac("A", "--to", "B", "--parallel", "1")
        first = ev.wait_event("started", 120)
        if first:
            ev.p.send_signal(signal.SIGINT)
        out = ev.finish()
        res["rc"], res["summary"] = out["rc"], out["final"].get("summary")
        res["events"] = [(e.get("event"), e.get("vm"), e.get("status")) for e in out["events"]]
        res["stderr"] = out["stderr"]
        if not first:
            f.append("no VM started")
        else:
            moved = ev.finished(first["vm"])
            other = [n for n in names if n != first["vm"]][0]
            vms_final = {x["vm"]: x for x in out["final"].get("vms", [])}
            if moved.get("status") != "ok":
                f.append("the running VM %s did not finish its migration: %s" % (first["vm"], moved))
            if (vms_final.get(other) or {}).get("status") != "not_started":
                f.append("%s not reported not_started: %s" % (other, vms_final.get(other)))
            if not any(e.get("event") == "stopping" for e in out["events"]):
                f.append("no 'stopping' line from the daemon")
            if "no new migration" not in out["stderr"]:
                f.append("the CLI did not say it stops: %r" % out["stderr"])
            if out["rc"] == 0:
                f.append("exit status 0 after a stopped evacuation")
            intact = {}
            intact_on_a(intact, f, other, vms[other])
            res["not_started_on_A"] = {k2: intact.get(k2) for k2 in ("qemu_on_A", "fdb_A", "reachable")}
            res["moved_left_on_A"] = leftovers(first["vm"], "hA", vms[first["vm"]]["mac"])
            if res["moved_left_on_A"]:
                f.append("left on A: %s" % res["moved_left_on_A"])
    finally:
        teardown(vms)
    res["failures"] = f
    return res


def case_refused(run):
    name = "hr%d" % run
    vms = start_vms([(name, "failover", 1)])
    res = {"case": "refused", "run": run}
    f = []
    try:
        out = Evac("A", "--to", "X").finish()
        res["rc"], res["error"] = out["rc"], out["final"].get("error")
        if out["rc"] == 0 or "no peer 'X'" not in (out["final"].get("error") or ""):
            f.append("evacuate --to X not refused clearly: %s" % out)
        if out["events"]:
            f.append("progress lines although refused: %s" % out["events"])
        if vm_status("A", name).get("migration"):
            f.append("a migration started")
        intact_on_a(res, f, name, vms[name])
    finally:
        teardown(vms)
    res["failures"] = f
    return res


def table(results):
    out = ["| case | run | VM | mode | result | lost to guest | lost from guest | longest outage ms "
           "| QEMU downtime ms | migration ms | start ms | end ms | path on B |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for v in r.get("vms", []):
            s = v.get("summary", {})
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["case"], r["run"], v["vm"], v["mode"], v.get("status"),
                fmt(s.get("lost_to_guest")), fmt(s.get("lost_from_guest")),
                fmt(s.get("longest_outage_ms")), fmt(s.get("qemu_downtime_ms")),
                fmt(s.get("total_ms")), fmt(s.get("start_ms")), fmt(s.get("end_ms")),
                fmt(s.get("dest_path"))))
        if r["case"] == "no_agent":
            sk, fo = r.get("skipped", {}), r.get("forced", {})
            out.append("| no_agent | %s | %s | failover | %s (then --force: %s, lost %s/%s, "
                       "downtime %s ms) | | | | | | | | |" % (
                           r["run"], "hna%d" % r["run"], sk.get("status"), fo.get("status"),
                           fmt((fo.get("udp") or {}).get("lost_to_guest")),
                           fmt((fo.get("udp") or {}).get("lost_from_guest")),
                           fmt(fo.get("qemu_downtime_ms"))))
    return out


CASES = ("two", "no_agent", "ctrl_c", "refused")


def main(argv):
    ap = argparse.ArgumentParser(prog="hostd_evacuate.py")
    ap.add_argument("what", choices=("check", "run"))
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--modes", default="failover,bond")
    ap.add_argument("--cases", default=",".join(CASES))
    a = ap.parse_args(argv)
    modes = a.modes.split(",")
    cases = a.cases.split(",")
    runs = 1 if a.what == "check" else a.runs
    fn = {"two": lambda i: case_two(i, modes, a.parallel),
          "no_agent": lambda i: case_no_agent(i, a.parallel),
          "ctrl_c": case_ctrl_c, "refused": case_refused}
    results, failures, misses = [], [], []
    with HostdLab():
        for i in range(1, runs + 1):
            for c in cases:
                try:
                    r = fn[c](i)
                except (Fail, OSError, subprocess.TimeoutExpired) as e:
                    r = {"case": c, "run": i, "failures": ["%s: %s" % (type(e).__name__, e)]}
                results.append(r)
                failures += ["%s run %d: %s" % (c, i, x) for x in r["failures"]]
                misses += ["%s run %d: %s" % (c, i, x) for x in r.get("bar_missed", [])]
                say("%s run %d: %s" % (c, i, "PASS" if not r["failures"] else
                                       "FAIL: " + "; ".join(r["failures"])))
    for line in table(results):
        print(line, file=sys.stderr)
    print(json.dumps(results, indent=1))      # check too: make check-lab keeps it
    for m in misses:
        say("bar missed (0 lost): " + m)
    for x in failures:
        say("FAIL " + x)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
