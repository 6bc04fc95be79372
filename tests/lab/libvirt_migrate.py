#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""`virsh migrate` between the two libvirtd of tests/lab/lvlab, under traffic.

  libvirt_migrate.py [--mode plain] [--runs N] [--out FILE] [--keep]

Every run: hybond-probe udp (1000 pps each way: requests to the guest's udp-echo,
replies back) from the peer namespace for --duration seconds, the migration --lead
seconds in, alternating A->B, B->A. Per run: lost to / from the guest, worst RTT,
libvirt's migration time and downtime, the timeline (UNPLUG_PRIMARY, STOP, RESUME,
FAILOVER_NEGOTIATED, VF up in the guest; ms from the migrate command, from
events.jsonl) and each UDP outage with its probable cause (tests/lab/labkit/timeline.py).
JSON: $B/lab/libvirt-MODE.json (B as for the lab: build/lv with the lvlab env).

Modes (MODES below):
  plain           plain `virsh migrate --live --p2p` of a failover guest without a hybond
                  agent (QEMU failover=on + net_failover): the baseline
  hook            hybond-hostd on both hosts, hybond's qemu hook in both libvirtd, the
                  guest agent; the operator types only `virsh migrate` (the destination's
                  hook asks the source daemon to switch before any memory moves)
  reactive        the same, but the destination does not ask the source
                  (libvirt_coordinate = 0): the source reacts to QEMU's UNPLUG_PRIMARY
  hybond-migrate  `hybond migrate VM --to hB` (the libvirt backend migrates peer to peer)
In the hybond modes each run also checks the end state: the source daemon finished
(cleanup), the destination's migration ended on the fast path (the MAC's FDB entry on
the destination's VF port), nothing left on the source; --check fails a run that lost
a packet (hook, hybond-migrate) or did not end on the fast path (all three).
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
from labkit.lab import B, CLI, HOSTD, LAB, PEER_NS, PFX, PROBE, RUN, sh, vm_ip  # noqa: E402
from labkit.libvirt import (HD_DIR, HOOK, LV_DIR, OUT_DIR, Daemons, cli, lvlab,  # noqa: E402
                            register, vm_view, wait_agent)
from labkit.probe import start_probe  # noqa: E402
from labkit.report import meta_info, num  # noqa: E402
from labkit.timeline import CAUSES, collect_events, milestones, outages  # noqa: E402
from labkit.verdict import sayer  # noqa: E402

say = sayer("libvirt_migrate")


# --- modes ---------------------------------------------------------------------------
class Mode:
    """One way of migrating a lab VM between the two libvirtd.

    migrate(name, to, a) -> dict with at least from, to, t_migrate_cmd (realtime s);
      optional: total_time_ms, downtime_ms, setup_time_ms, t_completed, t_vf_up.
      Raise RuntimeError if the migration failed.
    setup(name, a): once after the VM is defined and reachable (e.g. start a hybond
      host agent, install a libvirt hook), or None.
    teardown(name, a): once before the VM is undefined, or None.
    agent: hybond.agent= for the guest (1: hybond-guestd runs in the guest).
    """

    def __init__(self, migrate, setup=None, teardown=None, agent=0, doc=""):
        self.migrate, self.setup, self.teardown = migrate, setup, teardown
        self.agent, self.doc = agent, doc


def migrate_plain(name, to, a):
    """`lvlab migrate`: virsh migrate --live --p2p --persistent --undefinesource
    --migrateuri unix://... on the source's libvirtd; the lab only prepares the
    destination's taps and static FDB entry (VF port) and removes the source's entry
    when the source VF is gone, as the plain QEMU baseline (tests/lab/migrate.py)."""
    r = lvlab("migrate", name, "--to", to, "-j", check=False, timeout=a.migrate_timeout)
    if r.returncode != 0:
        raise RuntimeError("virsh migrate failed: %s" % r.stderr.strip())
    return json.loads(r.stdout.strip().splitlines()[-1])


# --- hybond: the daemons, the hook, the three ways ---------------------------------------
DAEMONS = {}


def hook_env():
    """The hybond qemu hook in both libvirtd (lvlab up reads these; libvirt finds hooks
    only when it starts)."""
    os.environ["HBL_LV_HOOK"] = HOOK
    os.environ["HBL_LV_HOOK_CTL"] = os.path.join(HD_DIR, "%h", "ctl.sock")


def setup_hybond(coordinate):
    def setup(name, a):
        DAEMONS["d"] = Daemons(coordinate=coordinate)
        register(name)
        wait_agent("hA", name)
    return setup


def teardown_hybond(name, a):
    d = DAEMONS.pop("d", None)
    if d:
        d.stop()


def fdb_port(h, mac):
    r = sh(["bridge", "-n", PFX + h, "fdb", "show", "br", "br0"], check=False)
    for line in r.stdout.splitlines():
        f = line.split()
        if f and f[0].lower() == mac.lower() and "dev" in f:
            return f[f.index("dev") + 1]
    return None


def settled(name, src, dst, timeout=90.0):
    """Both daemons done with the migration; the end state checked (dict of facts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        vs, vd = vm_view(src, name), vm_view(dst, name)
        if not vs.get("migration") and not vd.get("migration") and vd.get("here"):
            break
        time.sleep(0.2)
    vs, vd = vm_view(src, name), vm_view(dst, name)
    with open(os.path.join(RUN, "vms", name, "vm.env")) as f:
        mac = [l.split("=", 1)[1].strip() for l in f if l.startswith("MAC=")][0]
    return {"src_idle": not vs.get("migration"), "dst_idle": not vd.get("migration"),
            "dst_here": bool(vd.get("here")), "src_here": bool(vs.get("here")),
            "dst_path": (vd.get("pair") or {}).get("active"),
            "dst_fdb": fdb_port(dst, mac), "src_fdb": fdb_port(src, mac),
            # (the source bridge may learn the MAC on its uplink: that is the fabric)
            "fast_path": (fdb_port(dst, mac) == "hv-" + name and
                          fdb_port(src, mac) not in ("hs-" + name, "hv-" + name))}


def restart_libvirtd(name, h):
    """libvirtd on h restarted under the running VM; the daemon must reconnect by itself
    (hv_libvirt: 0.5 s doubling to 5 s) and see the VM running here again."""
    t0 = time.time()
    lvlab("restart-libvirtd", h[1], timeout=200)
    deadline = time.monotonic() + 60
    seen_down = False
    while time.monotonic() < deadline:
        v = vm_view(h, name)
        seen_down = seen_down or not v.get("qmp_connected")
        if v.get("qmp_connected") and v.get("here") and v.get("agent_session"):
            say("libvirtd on %s restarted; hybond-hostd reconnected %.1f s after the restart "
                "began" % (h, time.time() - t0))
            return
        time.sleep(0.2)
    raise RuntimeError("hybond-hostd on %s did not reconnect to the restarted libvirtd "
                       "within 60 s: %s" % (h, vm_view(h, name)))


def migrate_virsh_hybond(name, to, a):
    """Only `virsh migrate` (lvlab migrate --hybond): the daemons do the rest."""
    r = lvlab("migrate", name, "--to", to, "--hybond", "-j", check=False,
              timeout=a.migrate_timeout)
    if r.returncode != 0:
        raise RuntimeError("virsh migrate failed: %s" % r.stderr.strip())
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["end"] = settled(name, res["from"], res["to"])
    # reactive: the source daemon cannot know where the VM went ({moved} is empty): the
    # lab's own record of it follows here
    with open(os.path.join(RUN, "vms", name, "vm.env")) as f:
        if "HOST=%s\n" % res["to"] not in f.read():
            sh([LAB, "vm", "cleanup", name, "--host", res["from"], "--moved-to",
                res["to"]], check=False)
    return res


def migrate_hybond_cli(name, to, a):
    """`hybond migrate NAME --to hX` against the source's daemon."""
    dst = "h" + to[-1]
    src = "hA" if dst == "hB" else "hB"
    t_cmd = time.time()
    r = cli(src, "migrate", name, "--to", dst, check=False, timeout=a.migrate_timeout)
    t_done = time.time()
    if not r.get("ok"):
        raise RuntimeError("hybond migrate failed: %s" % r)
    res = {"from": src, "to": dst, "t_migrate_cmd": t_cmd, "t_completed": t_done,
           "tool": "hybond", "hybond": r, "downtime_ms": r.get("qemu_downtime_ms"),
           "total_time_ms": r.get("qemu_total_ms")}
    # (libvirt undefined the source domain: its completed-job figures are on the
    # destination, as `virsh domjobinfo --completed` shows them)
    ji = lvlab("virsh", dst[1], "domjobinfo", name, "--completed", check=False).stdout
    for line in ji.splitlines():
        k, _, v = line.partition(":")
        f = v.split()
        key = {"Time elapsed": "total_time_ms", "Total downtime": "downtime_ms"}.get(k.strip())
        if key and f and res.get(key) is None:
            try:
                res[key] = float(f[0])
            except ValueError:
                pass
    res["end"] = settled(name, src, dst)
    return res


MODES = {
    "plain": Mode(migrate_plain, agent=0,
                  doc="plain virsh migrate, QEMU failover + net_failover, no hybond"),
    "hook": Mode(migrate_virsh_hybond, setup=setup_hybond(True), teardown=teardown_hybond,
                 agent=1, doc="virsh migrate with hybond's qemu hook and both daemons"),
    "reactive": Mode(migrate_virsh_hybond, setup=setup_hybond(False),
                     teardown=teardown_hybond, agent=1,
                     doc="virsh migrate, the source daemon not asked (reacts to "
                         "UNPLUG_PRIMARY)"),
    "hybond-migrate": Mode(migrate_hybond_cli, setup=setup_hybond(True),
                           teardown=teardown_hybond, agent=1,
                           doc="hybond migrate with the libvirt backend"),
}
HYBOND_MODES = ("hook", "reactive", "hybond-migrate")


# --- one run ---------------------------------------------------------------------------
def run_one(mode, name, to, a, setup=None):
    """One migration of NAME to host TO under hybond-probe traffic; returns the run's
    record. setup(name, to, a), if given, runs after the probes started and before
    the migration (per-run preparation of a mode)."""
    m = MODES[mode]
    ip, src = vm_ip(name)
    udp = start_probe("udp", ip, a.udp_rate, a.duration)
    icmp = start_probe("icmp", ip, a.icmp_rate, a.duration) if a.icmp_rate else None
    t_start = time.time()
    time.sleep(a.lead)
    err = None
    res = {}
    try:
        if setup:
            setup(name, to, a)
        res = m.migrate(name, to, a)
    except (RuntimeError, subprocess.TimeoutExpired, ValueError) as e:
        err = str(e)
    u_out, u_err = udp.communicate(timeout=a.duration + 120)
    i_out = icmp.communicate(timeout=a.duration + 120)[0] if icmp else None
    if err:
        raise RuntimeError(err)
    try:
        u = json.loads(u_out)
        ic = json.loads(i_out) if i_out else None
    except ValueError:
        raise RuntimeError("hybond-probe gave no JSON: %s" % u_err)
    t_cmd = res["t_migrate_cmd"]
    evs = collect_events(name, t_start - 1, time.time() + 1)
    ms = milestones(evs, "failover", res["from"], res["to"], t_cmd)
    run = {
        "mode": mode, "from": res["from"], "to": res["to"], "t_migrate_cmd": t_cmd,
        "virsh_s": (round(res["t_completed"] - t_cmd, 3) if res.get("t_completed") else None),
        "total_time_ms": res.get("total_time_ms"),
        "downtime_ms": res.get("downtime_ms"),
        "setup_time_ms": res.get("setup_time_ms"),
        "stop_to_resume_ms": (round(ms["RESUME"] - ms["STOP"], 1)
                              if ms["RESUME"] is not None and ms["STOP"] is not None else None),
        "udp": {k: u.get(k) for k in ("sent", "received", "lost_to_guest", "lost_from_guest",
                                      "lost_unattributed", "lost_total", "duplicates",
                                      "reordered", "late", "schedule_slips", "rtt_ms",
                                      "longest_outage_ms")},
        "events_ms": ms,
        "udp_outages": outages(u, t_cmd, ms, "failover", ("lost_to_guest", "lost_from_guest")),
    }
    for k in ("end", "hybond", "tool"):
        if k in res:
            run[k] = res[k]
    if ic:
        run["icmp"] = {k: ic.get(k) for k in ("sent", "received", "lost_total", "rtt_ms",
                                              "longest_outage_ms")}
    return run


# --- output ------------------------------------------------------------------------------
TIMELINE = [("UNPLUG_PRIMARY", "UNPLUG_PRIMARY"), ("VF_GONE_IN_GUEST", "VF gone in guest"),
            ("UNPLUG_DONE", "wait-unplug done"), ("FDB_DEL", "src FDB del"),
            ("STOP", "STOP"), ("COMPLETED", "completed"), ("RESUME", "RESUME"),
            ("FAILOVER_NEGOTIATED", "FAILOVER_NEGOTIATED"), ("VF_NEW_IN_GUEST", "VF in guest"),
            ("VF_LINK_UP", "VF up in guest")]


def worst_rtt(r):
    rtt = r["udp"].get("rtt_ms") or {}
    return rtt.get("max")


def table(mode, runs):
    L = ["", "libvirt %s: %d run(s), hybond-probe udp %s" % (
        mode, len(runs), "(lost to guest / from guest; ms)"), ""]
    hdr = ("run", "from→to", "sent", "lost to", "lost from", "worst RTT", "longest out",
           "virsh s", "mig ms", "downtime", "STOP→RESUME")
    L.append("  %-3s %-7s %6s %7s %9s %9s %11s %7s %6s %8s %11s" % hdr)
    for i, r in enumerate(runs, 1):
        u = r["udp"]
        L.append("  %-3d %-7s %6s %7s %9s %9s %11s %7s %6s %8s %11s" % (
            i, "%s→%s" % (r["from"][1:], r["to"][1:]), u["sent"], num(u["lost_to_guest"]),
            num(u["lost_from_guest"]), num(worst_rtt(r)), num(u["longest_outage_ms"]),
            num(r["virsh_s"]), num(r["total_time_ms"]), num(r["downtime_ms"]),
            num(r["stop_to_resume_ms"])))
    L.append("")
    L.append("  timeline, ms from the virsh migrate command:")
    for i, r in enumerate(runs, 1):
        L.append("  run %d: %s" % (i, ", ".join(
            "%s %+.0f" % (label, r["events_ms"][k]) for k, label in TIMELINE
            if r["events_ms"].get(k) is not None)))
        for o in r["udp_outages"]:
            L.append("      outage %+.0f..%+.0f (%.0f ms) lost %d to / %d from guest — %s" % (
                o["start_ms"], o["end_ms"], o["duration_ms"], o["lost_to_guest"] or 0,
                o["lost_from_guest"] or 0, o["cause"]))
    return "\n".join(L) + "\n"


def summarize(runs):
    get = {"udp_lost_to_guest": lambda r: r["udp"]["lost_to_guest"],
           "udp_lost_from_guest": lambda r: r["udp"]["lost_from_guest"],
           "udp_lost_total": lambda r: r["udp"]["lost_total"],
           "udp_worst_rtt_ms": worst_rtt,
           "udp_longest_outage_ms": lambda r: r["udp"]["longest_outage_ms"],
           "virsh_s": lambda r: r["virsh_s"],
           "total_time_ms": lambda r: r["total_time_ms"],
           "downtime_ms": lambda r: r["downtime_ms"],
           "stop_to_resume_ms": lambda r: r["stop_to_resume_ms"]}
    s = {}
    for k, f in get.items():
        v = [f(r) for r in runs if f(r) is not None]
        if v:
            s[k] = {"min": min(v), "median": statistics.median(v), "max": max(v)}
    return s


# --- main ----------------------------------------------------------------------------------
def check_runs(mode, runs, a):
    """--check: what is wrong with the runs (empty: fine)."""
    bad = []
    for i, r in enumerate(runs, 1):
        if mode in HYBOND_MODES and not r.get("end", {}).get("fast_path"):
            bad.append("run %d: not on the destination's fast path: %s" % (i, r.get("end")))
        lost = (r["udp"]["lost_to_guest"] or 0) + (r["udp"]["lost_from_guest"] or 0)
        if mode in ("hook", "hybond-migrate") and lost:
            # the bar is 0; as in hostd_migrate.py check, a loss passes only inside
            # stop-and-copy and under rate x (downtime + 20 ms): the floor QEMU leaves
            # (docs/benchmarks.md, "Why 0-2 packets remain")
            causes = {o["cause"] for o in r["udp_outages"]
                      if (o.get("lost_to_guest") or 0) + (o.get("lost_from_guest") or 0)}
            floor = a.udp_rate * ((r.get("downtime_ms") or 0) + 20) / 1000.0
            what = "lost %s to / %s from the guest (%s)" % (
                r["udp"]["lost_to_guest"], r["udp"]["lost_from_guest"],
                ", ".join(sorted(causes)))
            if causes - {"stop-and-copy"} or lost > floor:
                bad.append("run %d: %s: outside stop-and-copy or over the floor %.0f"
                           % (i, what, floor))
            else:
                say("%s run %d: %s, within the stop-and-copy floor %.0f" % (mode, i, what,
                                                                           floor))
    return bad


def run_mode(mode, a):
    """Define the VM on A, the mode's setup, a.runs migrations (alternating), teardown,
    undefine; (runs, error or None). The libvirtds stay up."""
    m = MODES[mode]
    name = a.name
    lvlab("undefine", name, check=False)
    runs, err = [], None
    try:
        lvlab("define", name, "--host", "A", "--mode", "failover", "--agent", str(m.agent),
              timeout=600)
        ip, host = vm_ip(name)
        sh(["ip", "netns", "exec", PEER_NS, "ping", "-q", "-c", "3", "-i", "0.2",
            "-w", "20", ip])
        if m.setup:
            m.setup(name, a)
        for i in range(a.runs):
            to = "B" if host == "hA" else "A"
            if a.restart_libvirtd and mode in HYBOND_MODES:
                restart_libvirtd(name, host)
            r = run_one(mode, name, to, a)
            host = r["to"]
            runs.append(r)
            say("%s run %d: %s -> %s, UDP lost %s to / %s from guest of %s, worst RTT %s ms, "
                "migration %s ms, downtime %s ms" % (
                    mode, i + 1, r["from"], r["to"], r["udp"]["lost_to_guest"],
                    r["udp"]["lost_from_guest"], r["udp"]["sent"], num(worst_rtt(r)),
                    num(r["total_time_ms"]), num(r["downtime_ms"])))
            time.sleep(a.settle)
        if a.check:
            bad = check_runs(mode, runs, a)
            if bad:
                raise RuntimeError("; ".join(bad))
    except (RuntimeError, subprocess.TimeoutExpired, KeyError, subprocess.CalledProcessError) as e:
        err = str(e)
        say("%s FAILED: %s" % (mode, e))
        p = os.path.join(OUT_DIR, "run", name, "serial.log")
        if os.path.exists(p):
            say("tail of %s:\n%s" % (p, "".join(open(p, errors="replace").readlines()[-15:])))
    finally:
        if m.teardown:
            m.teardown(name, a)
        if not a.keep:
            lvlab("undefine", name, check=False)
    return runs, err


def compare(results):
    """One line per mode: the medians and worst cases side by side (make demo-libvirt)."""
    L = ["", "libvirt: the ways side by side (hybond-probe udp 1000 pps each way; lost "
         "packets per run: median [max])", "",
         "  %-15s %4s %12s %12s %12s %s" % ("mode", "runs", "lost to", "lost from",
                                             "worst RTT", "")]
    for mode, (runs, err) in results.items():
        s = summarize(runs)

        def mm(k):
            v = s.get(k)
            return "%s [%s]" % (num(v["median"]), num(v["max"])) if v else "–"
        L.append("  %-15s %4d %12s %12s %12s %s" % (
            mode, len(runs), mm("udp_lost_to_guest"), mm("udp_lost_from_guest"),
            mm("udp_worst_rtt_ms"), "FAILED: " + err[:60] if err else MODES[mode].doc))
    return "\n".join(L) + "\n"


def report_md(d):
    """The docs/benchmarks.md section from the JSON of a --modes run in directory d."""
    L = []
    for mode in ("plain", "reactive", "hook", "hybond-migrate"):
        f = os.path.join(d, "libvirt-%s.json" % mode)
        if not os.path.exists(f):
            continue
        with open(f) as fh:
            j = json.load(fh)
        if not L:
            L += ["Measured %s, %d run(s) per mode, alternating A->B / B->A "
                  "(`make bench-libvirt R=%d`; JSON: $(B)/bench/libvirt-MODE.json)." % (
                      time.strftime("%Y-%m-%d %H:%M", time.localtime(
                          j["runs"][0]["t_migrate_cmd"] if j["runs"] else time.time())),
                      j["meta"]["runs"], j["meta"]["runs_asked"]), "",
                  "| mode | run | lost to guest | lost from guest | longest outage ms | "
                  "worst RTT ms | downtime ms | STOP→RESUME ms | where the loss is |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for i, r in enumerate(j["runs"], 1):
            u = r["udp"]
            where = "; ".join("%d/%d %s" % (o.get("lost_to_guest") or 0,
                                            o.get("lost_from_guest") or 0, o["cause"])
                              for o in r["udp_outages"]
                              if (o.get("lost_to_guest") or 0) + (o.get("lost_from_guest") or 0))
            L.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
                mode, i, u["lost_to_guest"], u["lost_from_guest"],
                num(u["longest_outage_ms"]), num(worst_rtt(r)), num(r["downtime_ms"]),
                num(r["stop_to_resume_ms"]), where or "–"))
        if j["meta"].get("failed"):
            L.append("| %s | – | FAILED: %s | | | | | | |" % (mode, j["meta"].get("error")))
    return "\n".join(L) + "\n"


def main(argv):
    ap = argparse.ArgumentParser(prog="libvirt_migrate.py")
    ap.add_argument("--mode", default="plain", choices=sorted(MODES))
    ap.add_argument("--modes", help="several modes, comma-separated, in one session "
                    "(the libvirtds stay up between them); overrides --mode")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--name", default="lvm")
    ap.add_argument("--out", help="JSON file (default $B/lab/libvirt-MODE.json; with "
                    "--modes: a directory)")
    ap.add_argument("--udp-rate", type=int, default=1000)
    ap.add_argument("--icmp-rate", type=int, default=0, help="also ICMP at this rate (0: no)")
    ap.add_argument("--duration", type=float, default=12.0)
    ap.add_argument("--lead", type=float, default=2.0)
    ap.add_argument("--settle", type=float, default=2.0)
    ap.add_argument("--migrate-timeout", type=float, default=400.0)
    ap.add_argument("--keep", action="store_true",
                    help="leave the VM and the libvirtds up at the end")
    ap.add_argument("--check", action="store_true",
                    help="fail unless every hybond run ended on the destination's fast "
                         "path and hook / hybond-migrate lost nothing outside the "
                         "stop-and-copy floor")
    ap.add_argument("--restart-libvirtd", action="store_true",
                    help="hybond modes: restart the source host's libvirtd before each "
                         "migration (the daemon must reconnect on its own)")
    ap.add_argument("--report", metavar="DIR",
                    help="print the docs/benchmarks.md table from DIR's JSON and exit")
    a = ap.parse_args(argv)
    if a.report:
        sys.stdout.write(report_md(a.report))
        return 0
    modes = a.modes.split(",") if a.modes else [a.mode]
    for mode in modes:
        if mode not in MODES:
            sys.exit("libvirt_migrate.py: unknown mode %s (%s)" % (mode, ", ".join(MODES)))
    if os.geteuid() != 0:
        sys.exit("libvirt_migrate.py: needs root")
    if not os.access(PROBE, os.X_OK):
        sys.exit("libvirt_migrate.py: %s missing" % PROBE)
    was_up = lvlab("status", check=False).stdout.count("libvirtd pid") == 2
    if set(modes) & set(HYBOND_MODES):
        for f in (HOSTD, CLI, HOOK):
            if not os.access(f, os.X_OK):
                sys.exit("libvirt_migrate.py: %s missing (make)" % f)
        hook_env()
        if was_up and not os.path.exists(os.path.join(LV_DIR, "hA", "etc", "hooks", "qemu.d",
                                                      "hybond")):
            say("libvirtd runs without hybond's hook: restarting them (lvlab down/up)")
            lvlab("down", check=False, timeout=300)
            was_up = False
    lvlab("up", timeout=300)
    results = {}
    rc = 0
    try:
        for mode in modes:
            t0 = time.time()
            runs, err = run_mode(mode, a)
            results[mode] = (runs, err)
            rc |= err is not None
            m = MODES[mode]
            meta = meta_info() if os.path.isdir(os.path.join(B, "lab")) else {}
            meta.update({"mode": mode, "doc": m.doc, "udp_rate_pps": a.udp_rate,
                         "icmp_rate_pps": a.icmp_rate, "duration_s": a.duration,
                         "lead_s": a.lead, "runs": len(runs), "runs_asked": a.runs,
                         "wall_s": round(time.time() - t0),
                         "libvirt": sh(["libvirtd", "--version"], check=False).stdout.strip(),
                         "failed": err is not None, "error": err})
            if runs:
                sys.stdout.write(table(mode, runs))
            if a.modes:
                out = os.path.join(a.out or os.path.join(B, "lab"), "libvirt-%s.json" % mode)
            else:
                out = a.out or os.path.join(B, "lab", "libvirt-%s.json" % mode)
            os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
            with open(out, "w") as f:
                json.dump({"meta": meta, "runs": runs, "summary": summarize(runs),
                           "causes": CAUSES}, f, indent=1)
            say("wrote %s (%d s)" % (out, meta["wall_s"]))
        if len(modes) > 1:
            sys.stdout.write(compare(results))
    finally:
        if not a.keep and not was_up:
            lvlab("down", check=False, timeout=300)
    return 1 if rc else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
