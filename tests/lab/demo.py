#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""tests/lab/demo.py — `make demo`: the main job.

One migration of a failover guest (static, hardware-faithful eswitch, UDP at 1000 pps
each way) with plain QEMU failover and no hybond agent (tests/lab/bench.py --demo), then
one with hybond (hybond-hostd in both lab hosts, guest agent, `hybond migrate`;
tests/lab/hostd_migrate.py run), printed side by side. Exit status: non-zero when either
run failed to complete; loss is data, not an error.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from labkit.verdict import sayer  # noqa: E402

B = os.environ.get("B", "build")
OUT = os.path.join(B, "bench")

say = sayer("demo")


def plain():
    r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "bench.py"), "--demo",
                        "--out", OUT], stdout=subprocess.PIPE, text=True)
    sys.stdout.write(r.stdout)
    if r.returncode:
        raise RuntimeError("the plain-QEMU run failed (exit %d)" % r.returncode)
    with open(os.path.join(OUT, "demo-baseline.json")) as f:
        run = json.load(f)["case"]["runs"][0]
    u = run["udp"]
    return {"lost_to_guest": u.get("lost_to_guest"), "lost_from_guest": u.get("lost_from_guest"),
            "longest_outage_ms": u.get("longest_outage_ms"),
            "max_rtt_ms": (u.get("rtt_ms") or {}).get("max"),
            "qemu_downtime_ms": run.get("downtime_ms"), "total_ms": run.get("total_time_ms"),
            "sent": u.get("sent")}


def hybond():
    r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "hostd_migrate.py"), "run",
                        "--mode", "failover"], stdout=subprocess.PIPE, text=True)
    try:
        res = json.loads(r.stdout)[0]
    except (ValueError, IndexError) as e:
        raise RuntimeError("the hybond run printed no result (exit %d): %s" % (r.returncode, e))
    if "summary" not in res:
        raise RuntimeError("the hybond run failed: %s" % "; ".join(res.get("failures", [])))
    s = dict(res["summary"])
    s["failures"] = res.get("failures", [])
    s["bar_missed"] = res.get("bar_missed", [])
    return s


def fmt(v, unit=""):
    if v is None:
        return "-"
    return ("%.0f" % v if isinstance(v, float) else str(v)) + unit


def main():
    say("run 1 of 2: plain QEMU failover, no hybond agent")
    p = plain()
    say("run 2 of 2: hybond (hybond-hostd + hybond-guestd, `hybond migrate`)")
    h = hybond()
    rows = [("UDP lost to guest", "lost_to_guest", ""),
            ("UDP lost from guest", "lost_from_guest", ""),
            ("longest outage", "longest_outage_ms", " ms"),
            ("worst round trip (the delay)", "max_rtt_ms", " ms"),
            ("QEMU downtime", "qemu_downtime_ms", " ms"),
            ("total time (hybond: whole operation)", "total_ms", " ms")]
    w = max(len(r[0]) for r in rows)
    print("\nhybond demo: failover guest, static eswitch, A -> B, UDP 1000 pps each way\n")
    print("  %-*s  %14s  %14s" % (w, "", "plain QEMU", "hybond"))
    for label, k, unit in rows:
        print("  %-*s  %14s  %14s" % (w, label, fmt(p.get(k), unit), fmt(h.get(k), unit)))
    if h.get("vf_up_to_fast_path_ms") is not None:
        print("  %-*s  %14s  %14s" % (w, "VF link-up -> fast path", "-",
                                      fmt(h["vf_up_to_fast_path_ms"], " ms")))
    for m in h["bar_missed"]:
        print("\n  hybond missed the 0-loss bar: " + m)
    for f in h["failures"]:
        print("\n  hybond run FAILED a check: " + f)
    print()
    return 1 if h["failures"] else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        say("FAILED: %s" % e)
        sys.exit(1)
