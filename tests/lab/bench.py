#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Migration under traffic in the lab: `make demo` and `make bench-baseline`.

  bench.py --demo                      one failover migration, static eswitch, table
  bench.py --runs R --out build/bench  the baseline: R migrations per case
           [--cases failover:static,failover:learning,bond:static,bond:learning]

Every run: hybond-probe udp (1000 pps) and icmp (200 pps) from the peer namespace
to the guest, the migration `--lead` seconds in, the probes running `--duration`
seconds. Plain QEMU failover / bonding: the guest runs no hybond agent. Each
outage the UDP probe saw is lined up with the migration's events (events.jsonl,
offsets in ms from the migrate command) and given its most likely cause.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, HERE)
from labkit.lab import B, LOGS, PEER_NS, PROBE, TOP, lab, sh, vm_ip  # noqa: E402
from labkit.probe import start_probe  # noqa: E402
from labkit.report import meta_info, num  # noqa: E402
from labkit.timeline import CAUSES, classify, collect_events, milestones, outages  # noqa: E402
from labkit.verdict import sayer  # noqa: E402

say = sayer("bench")


# --- one run ---------------------------------------------------------------------------
def one_run(name, mode, eswitch, to, a):
    ip, src = vm_ip(name)
    udp = start_probe("udp", ip, a.udp_rate, a.duration)
    icmp = start_probe("icmp", ip, a.icmp_rate, a.duration)
    t_start = time.time()
    time.sleep(a.lead)
    mig = lab("migrate", name, "--to", to, "-j", check=False)
    res = {}
    if mig.returncode == 0:
        res = json.loads(mig.stdout)
    u_out, u_err = udp.communicate(timeout=a.duration + 60)
    i_out, i_err = icmp.communicate(timeout=a.duration + 60)
    if mig.returncode != 0:
        raise RuntimeError("migration failed: %s" % mig.stderr.strip())
    try:
        u, ic = json.loads(u_out), json.loads(i_out)
    except ValueError:
        raise RuntimeError("hybond-probe gave no JSON: %s %s" % (u_err, i_err))
    t_cmd = res["t_migrate_cmd"]
    evs = collect_events(name, t_start - 1, time.time() + 1)
    ms = milestones(evs, mode, res["from"], res["to"], t_cmd)
    run = {
        "from": res["from"], "to": res["to"],
        "t_migrate_cmd": t_cmd,
        "downtime_ms": res.get("downtime_ms"),
        "total_time_ms": res.get("total_time_ms"),
        "setup_time_ms": res.get("setup_time_ms"),
        "stop_to_resume_ms": (round(ms["RESUME"] - ms["STOP"], 1)
                              if ms["RESUME"] is not None and ms["STOP"] is not None else None),
        "udp": {k: u.get(k) for k in ("sent", "received", "lost_to_guest", "lost_from_guest",
                                      "lost_total", "duplicates", "reordered", "late",
                                      "schedule_slips",
                                      "rtt_ms", "longest_outage_ms")},
        "icmp": {k: ic.get(k) for k in ("sent", "received", "lost_total", "rtt_ms",
                                        "longest_outage_ms")},
        "events_ms": ms,
        "udp_outages": outages(u, t_cmd, ms, mode, ("lost_to_guest", "lost_from_guest")),
        "icmp_outages": outages(ic, t_cmd, ms, mode, ("lost",)),
    }
    return run


# --- cases -----------------------------------------------------------------------------
def run_case(mode, eswitch, a, log_runs=True):
    name = {"failover": "bf", "bond": "bb"}[mode]
    lab("vm", "start", "--host", "A", "--name", name, "--mode", mode, "--agent", "0")
    ip, host = vm_ip(name)
    sh(["ip", "netns", "exec", PEER_NS, "ping", "-q", "-c", "3", "-i", "0.2", "-w", "15", ip])
    runs = []
    for i in range(a.runs):
        to = "B" if host == "hA" else "A"
        r = one_run(name, mode, eswitch, to, a)
        host = r["to"]
        runs.append(r)
        if log_runs:
            say("%s/%s run %d: %s -> %s downtime %s ms, total %s ms, UDP lost %d/%d "
                "(to %d, from %d), ICMP lost %d, longest UDP outage %.0f ms" % (
                    mode, eswitch, i + 1, r["from"], r["to"], r["downtime_ms"],
                    r["total_time_ms"], r["udp"]["lost_total"], r["udp"]["sent"],
                    r["udp"]["lost_to_guest"], r["udp"]["lost_from_guest"],
                    r["icmp"]["lost_total"], r["udp"]["longest_outage_ms"]))
        time.sleep(a.settle)
    lab("vm", "stop", name)
    return {"mode": mode, "eswitch": eswitch, "runs": runs, "summary": summarize(runs)}


METRICS = [
    ("downtime_ms", "QEMU downtime ms", lambda r: r["downtime_ms"]),
    ("total_time_ms", "total time ms", lambda r: r["total_time_ms"]),
    ("stop_to_resume_ms", "STOP→RESUME ms", lambda r: r["stop_to_resume_ms"]),
    ("udp_lost_to_guest", "UDP lost to guest", lambda r: r["udp"]["lost_to_guest"]),
    ("udp_lost_from_guest", "UDP lost from guest", lambda r: r["udp"]["lost_from_guest"]),
    ("udp_lost_total", "UDP lost", lambda r: r["udp"]["lost_total"]),
    ("udp_longest_outage_ms", "longest UDP outage ms", lambda r: r["udp"]["longest_outage_ms"]),
    ("icmp_lost", "ICMP lost", lambda r: r["icmp"]["lost_total"]),
    ("icmp_longest_outage_ms", "longest ICMP outage ms", lambda r: r["icmp"]["longest_outage_ms"]),
]


def summarize(runs):
    s = {}
    for key, _, get in METRICS:
        vals = [get(r) for r in runs if get(r) is not None]
        if vals:
            s[key] = {"min": min(vals), "median": statistics.median(vals), "max": max(vals)}
    return s


# --- output ----------------------------------------------------------------------------
EV_SHOW = [("UNPLUG_PRIMARY", "UNPLUG_PRIMARY"), ("VF_DEL_CMD", "device_del"),
           ("DEVICE_DELETED", "DEVICE_DELETED"), ("UNPLUG_DONE", "unplug done"),
           ("FDB_DEL", "src FDB del"), ("STOP", "STOP"), ("RESUME", "RESUME"),
           ("FAILOVER_NEGOTIATED", "FAILOVER_NEGOTIATED"), ("VF_ADD_CMD", "device_add"),
           ("VF_NEW_IN_GUEST", "VF in guest"), ("VF_LINK_UP", "VF link-up in guest"),
           ("BOND_ACTIVE_VF", "bond active=VF")]


def case_md(c, a):
    L = []
    L.append("### %s guest, %s eswitch" % (c["mode"], c["eswitch"]))
    L.append("")
    L.append("| run | from→to | QEMU downtime ms | total ms | STOP→RESUME ms | UDP lost to guest "
             "| UDP lost from guest | longest UDP outage ms | ICMP lost | longest ICMP outage ms |")
    L.append("|---|---|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(c["runs"], 1):
        L.append("| %d | %s→%s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            i, r["from"], r["to"], num(r["downtime_ms"]), num(r["total_time_ms"]),
            num(r["stop_to_resume_ms"]), num(r["udp"]["lost_to_guest"]),
            num(r["udp"]["lost_from_guest"]), num(r["udp"]["longest_outage_ms"]),
            num(r["icmp"]["lost_total"]), num(r["icmp"]["longest_outage_ms"])))
    s = c["summary"]
    if len(c["runs"]) > 1:
        keys = ["downtime_ms", "total_time_ms", "stop_to_resume_ms", "udp_lost_to_guest",
                "udp_lost_from_guest", "udp_longest_outage_ms", "icmp_lost",
                "icmp_longest_outage_ms"]
        L.append("| **min / median / max** | | %s |" % " | ".join(
            "%s / %s / %s" % (num(s[k]["min"]), num(s[k]["median"]), num(s[k]["max"]))
            if k in s else "–" for k in keys))
    L.append("")
    L.append("Events and UDP outages per run, ms from the migrate command "
             "(outage: start..end, lost to/from guest, cause):")
    L.append("")
    for i, r in enumerate(c["runs"], 1):
        ev = ", ".join("%s %+.0f" % (label, r["events_ms"][k]) for k, label in EV_SHOW
                       if r["events_ms"].get(k) is not None)
        L.append("- run %d: %s" % (i, ev))
        for o in r["udp_outages"]:
            L.append("  - outage %+.0f..%+.0f (%.0f ms), lost %d/%d — %s" % (
                o["start_ms"], o["end_ms"], o["duration_ms"], o["lost_to_guest"] or 0,
                o["lost_from_guest"] or 0, o["cause"]))
        if not r["udp_outages"]:
            L.append("  - no UDP outage")
    L.append("")
    return L


def report_md(cases, meta, a):
    L = ["## Baseline: plain QEMU failover and bonding, no hybond", ""]
    L.append("Measured by `make bench-baseline` (tests/lab/bench.py) on %s: QEMU %s (TCG, "
             "q35, 256 MiB, 1 vCPU), guest kernel %s, %d cores. Per run: hybond-probe UDP at "
             "%d pps and ICMP at %d pps from the peer for %.0f s, the migration %.0f s in; "
             "the guest runs no hybond agent. Failover guests: QEMU `failover=on` + "
             "net_failover (QEMU unplugs and re-plugs the e1000e \"VF\"). Bond guests: "
             "active-backup (e1000e primary, virtio backup, miimon 100); the lab does "
             "`device_del` before and `device_add` after the migration, the guest enslaves "
             "the new e1000e when it appears. Static eswitch: learning off and a sticky "
             "static FDB entry on the VF port (hardware-faithful; removed on the source "
             "when its VF is gone, present on the destination from the start); learning: "
             "plain learning bridges." % (
                 meta["date"], meta["qemu"], meta["guest_kernel"], meta["cores"],
                 a.udp_rate, a.icmp_rate, a.duration, a.lead))
    L.append("")
    L.append("| guest | eswitch | runs | UDP lost (median, min–max) | longest UDP outage ms "
             "(median) | ICMP lost (median) | QEMU downtime ms (median) | STOP→RESUME ms (median) |")
    L.append("|---|---|---|---|---|---|---|---|")
    for c in cases:
        s = c["summary"]
        g = lambda k, f="median": num(s[k][f]) if k in s else "–"  # noqa: E731
        L.append("| %s | %s | %d | %s (%s–%s) of %d | %s | %s | %s | %s |" % (
            c["mode"], c["eswitch"], len(c["runs"]), g("udp_lost_total"),
            g("udp_lost_total", "min"), g("udp_lost_total", "max"),
            c["runs"][0]["udp"]["sent"] if c["runs"] else 0, g("udp_longest_outage_ms"),
            g("icmp_lost"), g("downtime_ms"), g("stop_to_resume_ms")))
    L.append("")
    for c in cases:
        L += case_md(c, a)
    L.append("### What each outage is")
    L.append("")
    for k, v in CAUSES.items():
        L.append("- **%s**: %s." % (k, v))
    L.append("")
    return "\n".join(L)


def demo_table(c):
    r = c["runs"][0]
    rows = [
        ("UDP sent / received", "%d / %d" % (r["udp"]["sent"], r["udp"]["sent"] - r["udp"]["lost_total"])),
        ("UDP lost to guest", r["udp"]["lost_to_guest"]),
        ("UDP lost from guest", r["udp"]["lost_from_guest"]),
        ("UDP longest outage", "%.0f ms" % r["udp"]["longest_outage_ms"]),
        ("ICMP sent / lost", "%d / %d" % (r["icmp"]["sent"], r["icmp"]["lost_total"])),
        ("ICMP longest outage", "%.0f ms" % r["icmp"]["longest_outage_ms"]),
        ("QEMU downtime", "%s ms" % r["downtime_ms"]),
        ("QEMU total migration time", "%s ms" % r["total_time_ms"]),
        ("STOP→RESUME", "%s ms" % num(r["stop_to_resume_ms"])),
    ]
    w = max(len(k) for k, _ in rows)
    out = ["", "hybond demo: %s guest, %s eswitch, %s -> %s, plain QEMU failover (no hybond agent)"
           % (c["mode"], c["eswitch"], r["from"], r["to"]), ""]
    out += ["  %-*s  %s" % (w, k, v) for k, v in rows]
    out.append("")
    out.append("  events (ms from the migrate command):")
    for k, label in EV_SHOW:
        if r["events_ms"].get(k) is not None:
            out.append("    %+7.0f  %s" % (r["events_ms"][k], label))
    out.append("  UDP outages:")
    for o in r["udp_outages"]:
        out.append("    %+7.0f..%+.0f ms  lost %d to / %d from guest  %s" % (
            o["start_ms"], o["end_ms"], o["lost_to_guest"] or 0, o["lost_from_guest"] or 0,
            o["cause"]))
    return "\n".join(out) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(prog="bench.py")
    ap.add_argument("--demo", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(B, "bench"))
    ap.add_argument("--cases", default="failover:static,failover:learning,bond:static,bond:learning")
    ap.add_argument("--udp-rate", type=int, default=1000)
    ap.add_argument("--icmp-rate", type=int, default=200)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--lead", type=float, default=2.0)
    ap.add_argument("--settle", type=float, default=1.0)
    ap.add_argument("--report", metavar="JSON",
                    help="only write baseline.md again from a baseline.json")
    a = ap.parse_args(argv)
    if a.report:
        with open(a.report) as f:
            data = json.load(f)
        m = data["meta"]
        a.udp_rate, a.icmp_rate = m["udp_rate_pps"], m["icmp_rate_pps"]
        a.duration, a.lead = m["duration_s"], m["lead_s"]
        for c in data["cases"]:        # causes as classify() sees them now
            for r in c["runs"]:
                for o in r["udp_outages"] + r["icmp_outages"]:
                    o["cause"] = classify(o, r["events_ms"], c["mode"])
        md = report_md(data["cases"], m, a)
        with open(os.path.join(os.path.dirname(a.report), "baseline.md"), "w") as f:
            f.write(md)
        sys.stdout.write(md)
        return 0
    if os.geteuid() != 0:
        sys.exit("bench.py: needs root (namespaces, QEMU taps)")
    if not os.access(PROBE, os.X_OK):
        sys.exit("bench.py: %s missing (make %s)" % (PROBE, os.path.relpath(PROBE, TOP)))
    cases = [tuple(c.split(":")) for c in a.cases.split(",")]
    if a.demo:
        cases, a.runs = [("failover", "static")], 1
    lab("build")
    lab("down", check=False)
    results = []
    t0 = time.time()
    try:
        for eswitch in ("static", "learning"):
            modes = [m for m, e in cases if e == eswitch]
            if not modes:
                continue
            lab("up", "--eswitch", eswitch)
            for mode in modes:
                say("%s guest, %s eswitch: %d run(s)" % (mode, eswitch, a.runs))
                results.append(run_case(mode, eswitch, a))
            lab("down")
    except (RuntimeError, subprocess.TimeoutExpired, KeyError) as e:
        say("FAILED: %s" % e)
        for f in sorted(os.listdir(LOGS)) if os.path.isdir(LOGS) else []:
            p = os.path.join(LOGS, f, "serial.log")
            if os.path.exists(p):
                say("tail of %s:\n%s" % (p, "".join(open(p, errors="replace").readlines()[-20:])))
        return 1
    finally:
        lab("down", check=False)
    meta = meta_info()
    meta.update({"udp_rate_pps": a.udp_rate, "icmp_rate_pps": a.icmp_rate,
                 "duration_s": a.duration, "lead_s": a.lead, "runs": a.runs,
                 "wall_s": round(time.time() - t0)})
    if a.demo:
        sys.stdout.write(demo_table(results[0]))
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "demo-baseline.json"), "w") as f:
            json.dump({"meta": meta, "case": results[0]}, f, indent=1)
        return 0
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "baseline.json"), "w") as f:
        json.dump({"meta": meta, "cases": results}, f, indent=1)
    md = report_md(results, meta, a)
    with open(os.path.join(a.out, "baseline.md"), "w") as f:
        f.write(md)
    sys.stdout.write(md)
    say("wrote %s/baseline.json and baseline.md (%d s)" % (a.out, meta["wall_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
