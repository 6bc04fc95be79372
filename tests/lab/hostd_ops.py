#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hybond drill / snapshot / status end to end in the lab, against hybond-hostd.

  hostd_ops.py check            drill (2 cycles) in both guest modes, snapshot of a failover
                                VM with restore of the file; fails on any loss at a switch
                                step, a VM not back on the fast path, a missing last_op
                                (make check-lab)
  hostd_ops.py run [--mode M] [--cycles N] [--unplug] [--snapshot]   one case, JSON on stdout

Uses the lab kit's daemons (hA, hB) and registration (tests/lab/labkit/hostd.py); the
prober is run BY THE DAEMON: `hybond drill VM --target IP:7777 --probe-netns PFXpeer`
makes hybond-hostd start hybond-probe udp in the peer namespace against the guest's echo
responder, and the daemon attributes each outage to the cycle's window (to_standby,
on_standby, [save, paused, resumed_on_standby], back_to_vf). The bar: 0 lost in
to_standby and back_to_vf (the switch steps). A snapshot's pause is reported as delay
(worst RTT) and as whatever was lost in "paused".
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from labkit.hostd import HostdLab, cli, ctl, register, wait_agent  # noqa: E402
from labkit.lab import CLI, ECHO_PORT, OUT, PFX, UDP_RATE, fdb_port, lab, vm_env  # noqa: E402
from labkit.verdict import Fail, sayer  # noqa: E402
from qmp import QMP  # noqa: E402

VF_UP_TIMEOUT_S = 40.0


say = sayer("hostd_ops")


def cli_all(h, *args, timeout=300):
    r = subprocess.run([CLI, "-j", "-s", ctl(h)] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.strip()]
    return r.returncode, lines, r.stderr


def vm_status(h, name):
    st = cli(h, "status")
    return next((v for v in st.get("vms", []) if v["name"] == name), {})


def wait_vf(h, name):
    deadline = time.monotonic() + VF_UP_TIMEOUT_S
    while time.monotonic() < deadline:
        vf = vm_status(h, name).get("pair", {}).get("vf", {})
        if vf.get("present") and vf.get("link") and vf.get("carrier"):
            return
        time.sleep(0.2)
    raise Fail("the guest's VF is not up on %s within %.0f s" % (h, VF_UP_TIMEOUT_S))


def probe_args(ip):
    return ["--target", "%s:%d" % (ip, ECHO_PORT), "--rate", str(UDP_RATE),
            "--probe-netns", PFX + "peer"]


def check_result(res, final, name):
    f = []
    if not final.get("ok"):
        f.append("%s failed: %s" % (final.get("op"), final.get("error")))
    if "probe" not in final:
        f.append("no probe figures")
    if final.get("switch_lost", 1) != 0:
        f.append("lost %s at the switch steps: %s" % (final.get("switch_lost"),
                                                      json.dumps(final.get("phases"))))
    st = vm_status("A", name)
    res["paths"] = st.get("paths")
    if not (st.get("paths") or {}).get("fast_path"):
        f.append("not back on the fast path: %s" % st.get("paths"))
    lo = st.get("last_op") or {}
    if lo.get("op") != final.get("op") or lo.get("started_ms") != final.get("started_ms"):
        f.append("status last_op is not this %s: %s" % (final.get("op"), lo))
    if fdb_port("hA", res["mac"]) != "hv-" + name:
        f.append("FDB entry not on the VF port: %s" % fdb_port("hA", res["mac"]))
    return f


def restore_check(name, path):
    """Restore FILE in a fresh incoming QEMU on B (the lab launcher, -incoming defer,
    migrate-incoming "exec:cat FILE"): the restored VM must run."""
    r = lab("vm", "incoming", name, "--host", "B")
    env = dict(l.split("=", 1) for l in r.stdout.split() if "=" in l)
    q = QMP(env["qmp"])
    try:
        q.cmd("migrate-incoming", uri="exec:cat %s" % path)
        deadline = time.monotonic() + 60
        st = {}
        while time.monotonic() < deadline:
            st = q.cmd("query-status")
            if st.get("running"):
                break
            time.sleep(0.2)
        m = q.cmd("query-migrate")
        return {"running": bool(st.get("running")), "status": st.get("status"),
                "incoming": m.get("status")}
    finally:
        q.close()
        lab("vm", "cleanup", name, "--host", "B", check=False)


def one(mode, name, cycles, unplug, snapshot):
    lab("vm", "start", "--host", "A", "--name", name, "--mode", mode, "--agent", "1")
    env = vm_env(name)
    ip = env["IP"].split("/")[0]
    res = {"mode": mode, "vm": name, "mac": env["MAC"], "failures": []}
    try:
        register(name)
        wait_agent("A", name)
        wait_vf("A", name)
        args = ["drill", name, "--cycles", str(cycles)] + (["--unplug"] if unplug else [])
        rc, lines, err = cli_all("A", *(args + probe_args(ip)))
        final = lines[-1] if lines else {"error": err}
        res["drill"] = final
        res["failures"] += ["drill: " + x for x in check_result(res, final, name)]
        say("%s drill: switch_lost %s, phases %s" % (mode, final.get("switch_lost"),
                                                     json.dumps(final.get("phases"))))
        if snapshot:
            path = os.path.abspath(os.path.join(OUT, "run", "%s-%d.state" % (name, os.getpid())))
            if os.path.exists(path):
                os.unlink(path)
            rc, lines, err = cli_all("A", "snapshot", name, path, *probe_args(ip))
            final = lines[-1] if lines else {"error": err}
            res["snapshot"] = final
            res["failures"] += ["snapshot: " + x for x in check_result(res, final, name)]
            if not os.path.exists(path) or os.path.getsize(path) < 1 << 20:
                res["failures"].append("snapshot: no state file %s" % path)
            say("%s snapshot: switch_lost %s, phases %s, %s" % (
                mode, final.get("switch_lost"), json.dumps(final.get("phases")),
                json.dumps(final.get("snapshot"))))
            if os.path.exists(path):
                res["restore"] = restore_check(name, path)
                if not res["restore"]["running"]:
                    res["failures"].append("restore of %s: %s" % (path, res["restore"]))
                os.unlink(path)
    finally:
        for h in ("A", "B"):
            cli(h, "vm", "del", name, check=False)
        lab("vm", "stop", name, check=False)
    return res


def main(argv):
    ap = argparse.ArgumentParser(prog="hostd_ops.py")
    ap.add_argument("what", choices=("check", "run"))
    ap.add_argument("--mode", choices=("failover", "bond"))
    ap.add_argument("--cycles", type=int, default=2)
    ap.add_argument("--unplug", action="store_true")
    ap.add_argument("--snapshot", action="store_true")
    a = ap.parse_args(argv)
    if a.what == "check":
        cases = [("failover", 2, False, True), ("bond", 2, False, False)]
    else:
        cases = [(m, a.cycles, a.unplug, a.snapshot) for m in ([a.mode] if a.mode else
                                                                ["failover", "bond"])]
    results, failures = [], []
    with HostdLab():
        for i, (mode, cycles, unplug, snap) in enumerate(cases):
            name = "ho%s%d" % (mode[0], i)
            try:
                r = one(mode, name, cycles, unplug, snap)
            except (Fail, OSError, subprocess.TimeoutExpired, KeyError) as e:
                r = {"mode": mode, "vm": name, "failures": [str(e)]}
            results.append(r)
            failures += ["%s: %s" % (mode, f) for f in r["failures"]]
    if a.what == "run":
        print(json.dumps(results, indent=1))
    for f in failures:
        say("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
