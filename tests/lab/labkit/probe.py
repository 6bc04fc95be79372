# SPDX-License-Identifier: LGPL-2.1-or-later
"""hybond-probe from the peer namespace, and its outages laid on a scenario's steps."""
import json
import signal
import subprocess
import time

from labkit.lab import ECHO_PORT, PEER_NS, PROBE, UDP_RATE
from labkit.verdict import Fail

SETTLE_S = 1.0            # quiet time after the last step, so outages fall into one window


class Probe:
    """hybond-probe udp, UDP_RATE each way to the guest's echo responder, for one scenario:
    a clean second before the first step, SETTLE_S after the last; stop() -> its JSON."""

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


def start_probe(kind, ip, rate, duration_s):
    """hybond-probe KIND (udp, icmp) for duration_s, running on its own: the caller reads
    its JSON with communicate()."""
    target = "%s:%d" % (ip, ECHO_PORT) if kind == "udp" else ip
    return subprocess.Popen(["ip", "netns", "exec", PEER_NS, PROBE, kind, "--target", target,
                             "--rate", str(rate), "--duration", str(duration_s), "-j", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def probe_summary(p):
    return {k: p.get(k) for k in ("sent", "received", "lost_to_guest", "lost_from_guest",
                                  "lost_unattributed", "lost_total", "duplicates", "reordered",
                                  "longest_outage_ms", "interrupted")}


def attribute_steps(probe, bounds):
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


def attribute_phases(probe, t_cmd, phases_ms, stop_rt_ms=None, downtime_ms=None):
    """Each outage's phase: the daemon's phase it started in (phase entry times are the
    daemon's monotonic offsets laid on the CLI's command time: a few ms of slack). An
    outage that starts within QEMU's stop-and-copy by the STOP event's own realtime stamp
    (STOP - max(5 ms, downtime) .. STOP + downtime + 25 ms) is S_STOPPED whatever the phase
    clock says: with a 0 ms downtime S_STOPPED lasts a few ms and the floor's frame lands past
    its end. The window opens before STOP because QEMU's downtime starts before it:
    migration_completion() stamps the start, then vm_stop_force_state(FINISH_MIGRATE) pauses
    the vCPUs and only then emits STOP, and the downtime ends after STOP — so the stop-and-copy
    began at most `downtime` ms before the STOP stamp (under load, pausing TCG vCPUs takes
    longer than 5 ms: CI saw -5.6 ms with a 12 ms downtime)."""
    bounds = sorted(((p, t_cmd + ms / 1e3) for p, ms in phases_ms.items()), key=lambda x: x[1])
    out = []
    for o in probe.get("outages", []):
        step = "before"
        for p, t in bounds:
            if o["start_realtime"] >= t:
                step = p
        t_rel = o["start_realtime"] * 1e3 - stop_rt_ms if stop_rt_ms else None
        dt = max(downtime_ms or 0, 0)
        if t_rel is not None and -max(5.0, dt) <= t_rel <= dt + 25.0:
            step = "S_STOPPED"
        out.append({"phase": step,
                    "after_stop_ms": round(t_rel, 1) if t_rel is not None else None,
                    "start_ms": round((o["start_realtime"] - t_cmd) * 1e3, 1),
                    "duration_ms": round(o["duration_ms"], 1), "lost": o.get("lost"),
                    "lost_to_guest": o.get("lost_to_guest"),
                    "lost_from_guest": o.get("lost_from_guest")})
    return out
