# SPDX-License-Identifier: LGPL-2.1-or-later
"""A migration's timeline from events.jsonl, and each probe outage's probable cause.

milestones() picks the events that explain outages (ms from the migrate command),
classify() names the migration windows an outage overlaps (CAUSES), outages() does both
for a probe's JSON. Used by the plain-QEMU baseline (bench.py), libvirt_migrate.py and
shim_unplug.py's plain migrations.
"""
import os

from labkit.lab import LOGS
from qmp import read_records

CAUSES = {
    "unplug": "source VF being unplugged (wait-unplug / device_del): the guest has "
              "released the VF but the source eswitch still steers RX to the VF port",
    "stale-fdb": "stale FDB: a bridge still forwards the VM MAC to a port where no "
                 "VF is any more, until the guest's own traffic re-teaches it",
    "stop-and-copy": "stop-and-copy: the VM is paused between STOP on the source and "
                     "RESUME on the destination",
    "late-announce": "late announce: the fabric still sends to the source host until "
                     "the resumed guest's announcement (GARP/RARP) reaches it",
    "link-up": "VF link-up delay: on the destination the eswitch steers RX to the VF "
               "port (static FDB) whose tap queue (1000 frames) holds it only until "
               "it overflows, or net_failover drops what arrives on the standby while "
               "the new VF is registered but not up (RX_HANDLER_EXACT); either way "
               "until the guest's e1000e has link (0.5-2.5 s after the re-plug)",
    "other": "not explained by the migration's events (outside every window above)",
}


def collect_events(name, t_from, t_to):
    path = os.path.join(LOGS, name, "events.jsonl")
    return [r for r in read_records(path) if t_from <= r.get("ts", 0) <= t_to]


def first(evs, event, host=None, src=None, after=None, **match):
    for r in evs:
        if r["event"] != event or (host and r["host"] != host) or (src and r["src"] != src):
            continue
        if after is not None and r["ts"] < after:
            continue
        if all(str(r["data"].get(k)) == v for k, v in match.items()):
            return r["ts"]
    return None


def milestones(evs, mode, src, dst, t_cmd):
    """The events that explain outages, as ms offsets from the migrate command."""
    t_begin = first(evs, "MIGRATE_BEGIN") or t_cmd
    m = {
        "VF_DEL_CMD": first(evs, "VF_DEL_CMD", src, after=t_begin),
        "UNPLUG_PRIMARY": first(evs, "UNPLUG_PRIMARY", src, after=t_begin),
        "DEVICE_DELETED": first(evs, "DEVICE_DELETED", src, after=t_begin, device="vf0"),
        "VF_GONE_IN_GUEST": first(evs, "GONE", src, "guest", after=t_begin),
        "UNPLUG_DONE": (first(evs, "MIGRATION", src, after=t_cmd, status="active")
                        if mode == "failover" else None),
        "FDB_DEL": first(evs, "FDB_DEL", src, after=t_begin),
        "STOP": first(evs, "STOP", src, after=t_cmd),
        "COMPLETED": first(evs, "MIGRATION", src, after=t_cmd, status="completed"),
        "RESUME": first(evs, "RESUME", dst, after=t_cmd),
        "FAILOVER_NEGOTIATED": first(evs, "FAILOVER_NEGOTIATED", dst, after=t_cmd),
        "VF_ADD_CMD": first(evs, "VF_ADD_CMD", dst, after=t_cmd),
        "VF_NEW_IN_GUEST": first(evs, "NEW", dst, "guest", after=t_cmd, driver="e1000e"),
        "VF_LINK_UP": first(evs, "LINK", dst, "guest", after=t_cmd, driver="e1000e",
                            operstate="up"),
    }
    if mode == "bond":
        vf_up = m["VF_LINK_UP"]
        m["BOND_ACTIVE_VF"] = None
        if vf_up is not None:
            for r in evs:
                if (r["event"] == "BOND" and r["host"] == dst and r["ts"] >= vf_up - 0.2
                        and r["data"].get("active", "-") not in ("-", "eth0")):
                    m["BOND_ACTIVE_VF"] = r["ts"]
                    break
    return {k: (round((v - t_cmd) * 1000.0, 1) if v is not None else None) for k, v in m.items()}


def classify(o, ms, mode):
    """The migration windows an outage [start_ms, end_ms] overlaps, as its causes."""
    s, e = o["start_ms"], o["end_ms"]
    g = ms.get
    unplug_start = g("UNPLUG_PRIMARY") if mode == "failover" else g("VF_DEL_CMD")
    unplug_end = g("FDB_DEL") or g("UNPLUG_DONE") or g("DEVICE_DELETED")
    stop, resume = g("STOP"), g("RESUME")
    vf_in = g("VF_NEW_IN_GUEST")
    vf_up = g("BOND_ACTIVE_VF") or g("VF_LINK_UP")
    slack = 20.0          # event stamps and probe send times are a few ms apart
    windows = []
    if unplug_start is not None and unplug_end is not None:
        windows.append(("unplug", unplug_start - 50, unplug_end + slack))
        if stop is not None:
            windows.append(("stale-fdb", unplug_end + slack, stop - slack))
    if stop is not None and resume is not None:
        windows.append(("stop-and-copy", stop - slack, resume + slack))
        after = vf_in if vf_in is not None else resume + 300
        windows.append(("late-announce", resume + slack, after))
        if vf_up is not None:
            windows.append(("link-up", after, vf_up + 100))
    causes = [name for name, a, b in windows if a < b and s < b and e > a]
    return " + ".join(causes) if causes else "other"


def outages(probe, t_cmd, ms, mode, lost_keys):
    out = []
    for o in probe.get("outages", []):
        x = {"start_ms": round((o["start_realtime"] - t_cmd) * 1000.0, 1),
             "end_ms": round((o["end_realtime"] - t_cmd) * 1000.0, 1),
             "duration_ms": round(o["duration_ms"], 1)}
        for k in lost_keys:
            x[k] = o.get(k)
        x["cause"] = classify(x, ms, mode)
        out.append(x)
    return out
