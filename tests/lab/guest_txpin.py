#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""TX pin alternatives for a net_failover guest, measured under traffic.

  guest_txpin.py [--runs R] [--methods redirect,linkdown] [-j]

One failover VM (static eswitch), hybond-probe udp at 1000 pps each way for each run;
per run: PIN, settle, UNPIN, settle, with the host's RX steering in the right order:

  redirect  (what hybond-guestd does)  pin: FDB entry -> standby port, PREPARE_SWITCH
            (the agent adds the clsact egress redirect master -> standby) -> SWITCH_DONE;
            unpin: FDB entry -> VF port, RESUME_FAST_PATH (filter deleted) -> FAST_PATH_UP
  linkdown  (the alternative)  pin: FDB entry -> standby port, then `ip link set VF down`
            in the guest (net_failover transmits on the standby when the primary is not
            running); unpin: `ip link set VF up`, wait until the guest reports the VF's
            carrier (net_failover moves TX back by itself), then FDB entry -> VF port
            (the VF cannot receive before that). The agent runs (the standby's ingress
            redirect is needed by both) but is not asked to pin.

Loss per direction is attributed to the step whose window holds an outage's first lost
probe (tests/lab/labkit/probe.py attribute_steps()). Runs alternate between the methods.
Use a private lab: HBL_PREFIX=hbg- HBL_RUN=/run/hybond-lab-g HBL_OUT=build/lab-g.
"""
import argparse
import json
import statistics
import sys
import time

sys.dont_write_bytecode = True
from labkit.guestchan import PREPARE_DEADLINE_MS, RESUME_DEADLINE_MS, VM, fdb_to  # noqa: E402
from labkit.lab import ReuseLab, lab  # noqa: E402
from labkit.probe import SETTLE_S as PROBE_SETTLE_S  # noqa: E402
from labkit.probe import Probe, attribute_steps  # noqa: E402
from labkit.verdict import Fail, sayer  # noqa: E402

SETTLE_S = 1.5
CARRIER_TIMEOUT_S = 30.0

say = sayer("agent_switch")      # as its lines have always read (agent_switch.say)


def guest_carrier(vm, ifname):
    r = lab("vm", "exec", vm.name, "cat /sys/class/net/%s/carrier 2>/dev/null; "
            "cat /sys/class/net/%s/operstate" % (ifname, ifname), check=False)
    return r.stdout.split()


def run_once(vm, method):
    t = {}
    vf = vm.pair["vf"]["name"]
    probe = Probe(vm.ip)
    try:
        t["pin"] = time.time()
        fdb_to(vm.name, vm.host, "hs")
        if method == "redirect":
            r = vm.chan.request("prepare %d %d" % (vm.pair["id"], PREPARE_DEADLINE_MS), 10)
            t["pin_done"] = r["ts"]
        else:
            lab("vm", "exec", vm.name, "ip link set %s down" % vf)
            t["pin_done"] = time.time()
        time.sleep(SETTLE_S)
        t["unpin"] = time.time()
        if method == "redirect":
            fdb_to(vm.name, vm.host, "hv")
            r = vm.chan.request("resume %d %d" % (vm.pair["id"], RESUME_DEADLINE_MS), 15)
            t["unpin_done"] = r["ts"]
        else:
            lab("vm", "exec", vm.name, "ip link set %s up" % vf)
            deadline = time.monotonic() + CARRIER_TIMEOUT_S
            while guest_carrier(vm, vf)[:2] != ["1", "up"]:
                if time.monotonic() > deadline:
                    raise Fail("%s: no carrier after link up" % vf)
                time.sleep(0.05)
            t["vf_carrier"] = time.time()
            fdb_to(vm.name, vm.host, "hv")
            t["unpin_done"] = time.time()
    finally:
        p = probe.stop()
    steps, outs = attribute_steps(p, [("pin", t["pin"]), ("unpin", t["unpin"])])
    z = {"lost_to_guest": 0, "lost_from_guest": 0, "lost": 0, "outages": 0}
    return {"method": method, "sent": p["sent"], "lost_total": p["lost_total"],
            "pin": steps.get("pin", z), "unpin": steps.get("unpin", z),
            "before": steps.get("before", z), "outages": outs,
            "pin_ms": round((t["pin_done"] - t["pin"]) * 1e3, 1),
            "unpin_ms": round((t["unpin_done"] - t["unpin"]) * 1e3, 1)}


def summary(results):
    out = {}
    for m in sorted({r["method"] for r in results}):
        rs = [r for r in results if r["method"] == m]

        def mm(f):
            v = [f(r) for r in rs]
            return {"min": min(v), "median": statistics.median(v), "max": max(v)}
        out[m] = {"runs": len(rs),
                  "pin_lost_to_guest": mm(lambda r: r["pin"]["lost_to_guest"]),
                  "pin_lost_from_guest": mm(lambda r: r["pin"]["lost_from_guest"]),
                  "unpin_lost_to_guest": mm(lambda r: r["unpin"]["lost_to_guest"]),
                  "unpin_lost_from_guest": mm(lambda r: r["unpin"]["lost_from_guest"]),
                  "pin_ms": mm(lambda r: r["pin_ms"]), "unpin_ms": mm(lambda r: r["unpin_ms"])}
    return out


def main(argv):
    ap = argparse.ArgumentParser(prog="guest_txpin.py")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--methods", default="redirect,linkdown")
    ap.add_argument("-j", "--json", action="store_true")
    a = ap.parse_args(argv)
    methods = a.methods.split(",")
    results = []
    with ReuseLab(say):
        vm = VM("txpin", "failover")
        try:
            vm.connect()
            for i in range(a.runs):
                for m in methods:
                    r = run_once(vm, m)
                    r["run"] = i + 1
                    results.append(r)
                    say("%s run %d: pin lost %d/%d (to/from guest) in %.0f ms, unpin lost "
                        "%d/%d in %.0f ms; sent %d, lost %d" % (
                            m, i + 1, r["pin"]["lost_to_guest"], r["pin"]["lost_from_guest"],
                            r["pin_ms"], r["unpin"]["lost_to_guest"],
                            r["unpin"]["lost_from_guest"], r["unpin_ms"], r["sent"],
                            r["lost_total"]))
                    time.sleep(PROBE_SETTLE_S)
        finally:
            vm.stop()
    res = {"results": results, "summary": summary(results)}
    print(json.dumps(res if a.json else res["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
