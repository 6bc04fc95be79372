#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Issue #8's proof: unplugs nobody announced, with and without hybond_shim.ko (kmod-shim/).

  shim_unplug.py [--scenarios unplug,migrate] [--modes failover,bond] [--kernels 6.1,6.12]
                 [--shim on,off] [--runs R] [--hold S] [--fastpath-timeout S]
                 [--reboot-between-runs] [--report DIR] [--check]
  shim_unplug.py --render DIR            shim.md again from DIR/shim.json

Static (hardware-faithful) eswitch; hybond-probe udp at 1000 pps each way from the peer
namespace for every run; one guest per (kernel, guest kind), booted with HBL_SHIM=1, the
shim taken out (rmmod) and put back (insmod) inside that guest between runs (shim on and
off alternate run by run).

unplug (scenario A): hybond-hostd runs in hA and hB (labkit/hostd.py Daemons), the VM is
  registered on both (`hybond vm add`, as hostd_migrate.py does) and the daemon holds the
  VM's qmp.sock; it is told nothing. The script frees QEMU's second monitor (qmp-log.sock:
  it stops the lab's event logger and logs QMP events and the guest's lab port into
  events.jsonl itself) and, as an operator would, sends `device_del` of the VF there,
  waits for DEVICE_DELETED, holds --hold seconds on the standby, then `device_add`s the VF
  again with the lab's options and waits until the guest is back on the fast path: the
  VM MAC's FDB entry on the VF port and the guest's e1000e carrying the probe both ways
  (its rx and tx counters grow by at least a quarter of the probe rate), or
  --fastpath-timeout. QEMU 7.2 refuses to re-add the id of a -device after device_del
  ("Duplicate ID") and a failover standby takes one primary id only, so the re-plug is
  the lab's e1000e with a fresh id (vf1, vf2, ...) and, in failover mode, without
  failover_pair_id: the guest's net_failover takes it as its primary by MAC (as
  labkit/guestchan.py vf_add does); --reboot-between-runs gives every run a fresh guest
  whose VF is vf0 again (the id the daemon was registered with). A guest left off its
  fast path is always rebooted before the next run. Per run: lost to / from the guest,
  each outage's start (ms after device_del) and length, split "at the unplug"
  (device_del .. device_add) and "at the replug" (from device_add); what the daemon did
  (status paths, steer counters).

migrate (scenario C): plain QEMU failover migration (`lab migrate`, A->B, B->A, ...) of a
  failover guest with the host daemons STOPPED (none runs; the guest agent runs and has
  no host): the lab's baseline eswitch handling (source entry removed when the source VF
  is gone, destination entry on its VF port from the start). Outages are given their
  cause from the migration's events (tests/lab/labkit/timeline.py: unplug, stale-fdb,
  stop-and-copy, late-announce, link-up).

--check: with the shim, 0 lost at the unplug in each direction (scenario A); without it
the figures are only reported. Any run that could not be measured fails --check.

Kernels: 6.1 uses the lab image in $HBL_OUT (default $B/lab); 6.12 the image in
$HBL_OUT_612 (default $B/lab-612), built here once with
HBL_KERNEL_META=linux-image-6.12-amd64 (cached; needs `make kmod` for 6.12).
Use a private lab: HBL_PREFIX=x- HBL_RUN=/run/hybond-lab-x B=build/x.
"""
import argparse
import json
import os
import platform
import signal
import socket
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from labkit.hostd import Daemons, cli, ctl, vm_add_args, vm_status, wait_agent  # noqa: E402
from labkit.lab import (B, CLI, GUESTD, HOSTD, LAB, PROBE, UDP_RATE, fdb_port,  # noqa: E402
                        inst, lab, sh, vm_env)
from labkit.probe import Probe, attribute_steps, probe_summary  # noqa: E402
from labkit.timeline import first as first_event, milestones, outages  # noqa: E402
from labkit.verdict import Fail, sayer  # noqa: E402
from qmp import (LineSock, QMPError, append_record, connect_unix, event_ts,  # noqa: E402
                 lab_record, parse_guest_line, read_records)

KERNELS = {
    "6.1": {"meta": "linux-image-amd64",
            "out": os.environ.get("HBL_OUT", os.path.join(B, "lab"))},
    "6.12": {"meta": "linux-image-6.12-amd64",
             "out": os.environ.get("HBL_OUT_612", os.path.join(B, "lab-612"))},
}
MODES = ("failover", "bond", "bond-agent")
DAEMON_MODE = {"failover": "failover", "bond": "bond", "bond-agent": "bond"}
HOLD_S = 3.0               # on the standby between DEVICE_DELETED and device_add
UNPLUG_TIMEOUT_S = 30.0    # device_del -> DEVICE_DELETED
FASTPATH_TIMEOUT_S = 40.0  # device_add -> back on the fast path
COUNTER_WINDOW_S = 0.5     # fast path: the VF's counters grow over this window
VF_MIN_SHARE = 0.25        # ... by this share of the probe rate, each way
SETTLE_S = 1.0
UNPLUG_SLACK_S = 0.25      # outages starting this long before device_del count as its own
SHIM_KO = "/lib/modules/$(uname -r)/extra/hybond_shim.ko"


say = sayer("shim_unplug")


def use_kernel(k):
    """Point the lab (and every helper that reads HBL_OUT at call time) at k's image."""
    os.environ["HBL_OUT"] = KERNELS[k]["out"]
    return os.path.join(KERNELS[k]["out"], "run")


def build_image(k):
    r = sh([LAB, "build"], check=False,
           env={"HBL_OUT": KERNELS[k]["out"], "HBL_KERNEL_META": KERNELS[k]["meta"]})
    if r.returncode != 0:
        raise Fail("lab build for %s (HBL_OUT=%s): %s%s" % (k, KERNELS[k]["out"], r.stdout,
                                                          r.stderr.strip()[-800:]))
    kd = [d for d in os.listdir(KERNELS[k]["out"]) if d.startswith("kernel-")]
    return kd[0][len("kernel-"):] if kd else "?"


def guest(name, cmd, check=True):
    return lab("vm", "exec", name, cmd, check=check)


# --- the second monitor and the event log, in this process ------------------------------
class Monitor:
    """QEMU's second QMP monitor (qmp-log.sock) for commands, plus the event log the lab's
    logger kept: the daemon holds qmp.sock and the logger qmp-log.sock, so the logger is
    stopped (by its pidfile, checked to be qmp.py) and this class writes what it wrote:
    every QMP event and every line of the guest's lab port into events.jsonl."""

    def __init__(self, name, host, events):
        self.host, self.events = host, events
        lp = inst(name, host, "logger.pid")
        try:
            with open(lp) as f:
                pid = int(f.read().strip())
            with open("/proc/%d/cmdline" % pid) as f:
                if "qmp.py" in f.read():
                    os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                if not os.path.exists("/proc/%d" % pid):
                    break
                time.sleep(0.05)
            os.unlink(lp)           # `lab vm stop` must not kill a reused PID
        except (OSError, ValueError):
            pass
        self.q = LineSock(connect_unix(inst(name, host, "qmp-log.sock")))
        self.g = LineSock(connect_unix(inst(name, host, "log.sock")))
        self.replies = []
        self.cv = threading.Condition()
        self.closed = False
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()
        self.cmd("qmp_capabilities")
        lab_record(events, host, "SHIM_MONITOR_START")

    def _reader(self):
        import select
        srcs = [self.q, self.g]
        while srcs and not self.closed:
            try:
                r, _, _ = select.select(srcs, [], [], 0.5)
                for s in r:
                    lines = s.read_lines()
                    now = time.time()
                    for line in lines:
                        if not line.strip():
                            continue
                        if s is self.q:
                            msg = json.loads(line)
                            if "event" in msg:
                                append_record(self.events, {
                                    "ts": event_ts(msg), "host": self.host, "src": "qmp",
                                    "event": msg["event"], "data": msg.get("data", {})})
                            elif "return" in msg or "error" in msg:
                                with self.cv:
                                    self.replies.append(msg)
                                    self.cv.notify_all()
                        else:
                            ev, data = parse_guest_line(line)
                            if ev:
                                append_record(self.events, {"ts": now, "host": self.host,
                                                            "src": "guest", "event": ev,
                                                            "data": data})
                    if s.eof:
                        srcs.remove(s)
            except (OSError, ValueError):
                break
        with self.cv:
            self.closed = True
            self.cv.notify_all()

    def cmd(self, command, timeout_s=30.0, **args):
        req = {"execute": command}
        if args:
            req["arguments"] = args
        with self.cv:
            self.replies.clear()
        self.q.sock.sendall(json.dumps(req).encode() + b"\n")
        deadline = time.monotonic() + timeout_s
        with self.cv:
            while not self.replies:
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise Fail("QMP %s on the second monitor: no reply within %.0f s"
                               % (command, timeout_s))
                self.cv.wait(left)
            msg = self.replies.pop(0)
        if "error" in msg:
            raise QMPError("%s: %s" % (command, msg["error"].get("desc", msg["error"])))
        return msg.get("return")

    def close(self):
        self.closed = True
        for s in (self.q, self.g):
            try:
                s.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.t.join(timeout=2)
        for s in (self.q, self.g):
            s.sock.close()


def wait_event(events, event, since, timeout_s, host=None, **match):
    deadline = time.monotonic() + timeout_s
    while True:
        for r in read_records(events):
            if (r.get("event") == event and r.get("ts", 0) >= since
                    and (host is None or r.get("host") == host)
                    and all(str(r.get("data", {}).get(k)) == v for k, v in match.items())):
                return r
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


# --- the guest: shim, VF, fast path ---------------------------------------------------------
def shim_set(name, on):
    if on:
        cmd = "lsmod | grep -q '^hybond_shim ' || insmod %s" % SHIM_KO
    else:
        cmd = "lsmod | grep -q '^hybond_shim ' && rmmod hybond_shim; true"
    guest(name, cmd, check=False)
    loaded = guest(name, "lsmod | grep -c '^hybond_shim '", check=False).stdout.strip() == "1"
    if loaded != on:
        tail = guest(name, "dmesg | tail -n 5", check=False).stdout
        raise Fail("%s: could not %s hybond_shim (is %s in the image? `make kmod "
                   "lab-build`): %s" % (name, "load" if on else "unload", SHIM_KO, tail))


VF_SH = ("for i in /sys/class/net/*; do d=$(readlink $i/device/driver); case \"$d\" in "
         "*/e1000e) echo ${i##*/} $(cat $i/operstate) $(cat $i/statistics/rx_packets) "
         "$(cat $i/statistics/tx_packets);; esac; done")


def vf_sample(name):
    """The guest's e1000e: (ifname, operstate, rx_packets, tx_packets) or None."""
    r = guest(name, VF_SH, check=False)
    for line in r.stdout.splitlines():
        w = line.split()
        if len(w) == 4 and w[2].isdigit() and w[3].isdigit():
            return w[0], w[1], int(w[2]), int(w[3]), time.monotonic()
    return None


def fast_path(name, host, mac, timeout_s, want_flow=True):
    """Wait until the VM MAC's entry is on the VF port and the guest's e1000e is up and
    carries the probe both ways. Returns (t_realtime or None, last state)."""
    deadline = time.monotonic() + timeout_s
    state = {}
    prev = None
    while time.monotonic() < deadline:
        port = fdb_port(host, mac)
        cur = vf_sample(name)
        state = {"fdb_port": port, "vf": cur[:2] if cur else None}
        if cur and cur[1] == "up" and port == "hv-" + name:
            if not want_flow:
                return time.time(), state
            if prev and prev[0] == cur[0]:
                dt = cur[4] - prev[4]
                need = UDP_RATE * dt * VF_MIN_SHARE
                state.update({"vf_rx_delta": cur[2] - prev[2], "vf_tx_delta": cur[3] - prev[3],
                              "window_s": round(dt, 2)})
                if cur[2] - prev[2] >= need and cur[3] - prev[3] >= need:
                    return time.time() - dt, state
            prev = cur
            time.sleep(COUNTER_WINDOW_S)
        else:
            prev = None
            time.sleep(0.2)
    return None, state


def fmt_state(st):
    """What fast_path() saw last, for a message."""
    vf = st.get("vf")
    s = "FDB entry on %s, guest VF %s" % (st.get("fdb_port") or "no port",
                                          "%s %s" % tuple(vf) if vf else "absent")
    if "vf_rx_delta" in st:
        s += ", VF rx/tx +%d/+%d packets in %.1f s" % (st["vf_rx_delta"], st["vf_tx_delta"],
                                                      st["window_s"])
    return s


def vf_add(mon, vm):
    """device_add the lab's e1000e again (see the module doc for the fresh id)."""
    args = dict(driver="e1000e", id=vm["vf_id"], netdev="nv", mac=vm["mac"], bus="rp1",
                romfile="")
    if vm["mode"] == "failover" and vm["vf_id"] == "vf0":
        args["failover_pair_id"] = "standby0"
    try:
        mon.cmd("device_add", **args)
    except QMPError as e:
        if "Duplicate ID" not in str(e):
            raise
        vm["vf_seq"] += 1
        args["id"] = "vf%d" % vm["vf_seq"]
        args.pop("failover_pair_id", None)
        mon.cmd("device_add", **args)
    vm["vf_id"] = args["id"]
    return args


def daemon_view(name):
    v = vm_status("A", name)
    c = v.get("counters") or {}
    return {"paths": v.get("paths"), "steer_standby": c.get("steer_standby"),
            "steer_vf": c.get("steer_vf"), "steer_errors": c.get("steer_errors"),
            "agent_session": v.get("agent_session")}


def shim_lines(name, since_line):
    out = guest(name, "dmesg | grep hybond_shim", check=False).stdout.splitlines()
    return out[since_line:], len(out)


# --- scenario A: unannounced unplug, daemons running --------------------------------------
def unplug_run(vm, mon, hold_s, fp_timeout_s):
    name, host, mac, ev = vm["name"], vm["host"], vm["mac"], vm["events"]
    t = {}
    res = {"scenario": "unplug", "kernel": vm["kernel"], "mode": vm["mode"], "vm": name,
           "shim": vm["shim"], "vf_id_before": vm["vf_id"]}
    res["daemon_before"] = daemon_view(name)
    _, nshim = shim_lines(name, 0)
    probe = Probe(vm["ip"])
    err = None
    try:
        # under the probe: the VF carries it both ways before anything is touched
        t0, st = fast_path(name, host, mac, fp_timeout_s)
        if t0 is None:
            raise Fail("%s not on its fast path before the unplug within %.0f s: %s"
                       % (name, fp_timeout_s, fmt_state(st)))
        t["device_del"] = lab_record(ev, host, "SHIM_VF_DEL_CMD", device=vm["vf_id"])["ts"]
        mon.cmd("device_del", id=vm["vf_id"])
        r = wait_event(ev, "DEVICE_DELETED", t["device_del"], UNPLUG_TIMEOUT_S, host,
                       device=vm["vf_id"])
        if r is None:
            raise Fail("the guest did not release %s within %.0f s (no DEVICE_DELETED)"
                       % (vm["vf_id"], UNPLUG_TIMEOUT_S))
        t["device_deleted"] = r["ts"]
        time.sleep(hold_s)
        res["daemon_on_standby"] = daemon_view(name)
        res["fdb_on_standby"] = fdb_port(host, mac)
        t["device_add"] = lab_record(ev, host, "SHIM_VF_ADD_CMD")["ts"]
        res["vf_add"] = vf_add(mon, vm)
        tf, st = fast_path(name, host, mac, fp_timeout_s)
        res["fast_path_state"] = st
        if tf is None:
            err = "not back on the fast path within %.0f s of device_add (%s)" % (
                fp_timeout_s, fmt_state(st))
            say("%s: %s" % (name, err))
        else:
            t["fast_path"] = tf
    finally:
        p = probe.stop()
    res["error"] = err
    res["fast_path"] = err is None
    # a probe sent just before device_del can still die at the unplug (in flight)
    bounds = [("unplug", t["device_del"] - UNPLUG_SLACK_S), ("replug", t["device_add"])]
    steps, outs = attribute_steps(p, bounds)
    for o in outs:
        o["start_ms"] = round(o["start_ms"] - UNPLUG_SLACK_S * 1e3, 1)
    for s in ("unplug", "replug"):
        steps.setdefault(s, {"lost_to_guest": 0, "lost_from_guest": 0, "lost": 0, "outages": 0})
    res.update({"udp": probe_summary(p), "steps": steps, "outages": outs})
    for o in outs:
        o["at"] = o.pop("step")
    evs = [r for r in read_records(ev) if r.get("ts", 0) >= t["device_del"] - 0.1]

    def first(event, **m):
        x = first_event(evs, event, **m)
        return None if x is None else round((x - t["device_del"]) * 1e3, 1)
    res["t_ms"] = {k: round((v - t["device_del"]) * 1e3, 1) for k, v in sorted(
        t.items(), key=lambda x: x[1])}
    res["events_ms"] = {"DEVICE_DELETED": first("DEVICE_DELETED"),
                        "guest_GONE": first("GONE", src="guest"),
                        "guest_NEW_vf": first("NEW", src="guest", driver="e1000e"),
                        "guest_VF_up": first("LINK", src="guest", driver="e1000e",
                                             operstate="up")}
    res["daemon_after"] = daemon_view(name)
    b, a = res["daemon_before"], res["daemon_after"]
    res["daemon_steered"] = {k: (a.get(k) or 0) - (b.get(k) or 0)
                             for k in ("steer_standby", "steer_vf", "steer_errors")}
    res["shim_dmesg"], _ = shim_lines(name, nshim)
    return res


class UnplugVM:
    """One guest for a series (booted with HBL_SHIM=1), registered with both daemons, with
    the second monitor taken (Monitor). restart(): a fresh boot, for when a run left the
    guest off its fast path (the daemon never gave it back: nothing else would)."""

    def __init__(self, kernel, mode, letter):
        self.name = "su%s%s" % ("a" if mode == "bond-agent" else mode[0], letter)
        self.kernel, self.mode = kernel, mode
        self.mon = None
        self.vm = None
        self.start()

    def start(self):
        name = self.name
        logs = use_kernel(self.kernel)
        sh([LAB, "vm", "start", "--host", "A", "--name", name, "--mode", self.mode,
            "--agent", "1"], env={"HBL_SHIM": "1"})
        env = vm_env(name)
        self.vm = {"name": name, "host": env["HOST"], "mac": env["MAC"],
                   "ip": env["IP"].split("/")[0], "mode": self.mode, "kernel": self.kernel,
                   "vf_id": "vf0", "vf_seq": 0,
                   "events": os.path.join(logs, name, "events.jsonl")}
        for h in ("A", "B"):
            sh([CLI, "-j", "-s", ctl(h), "vm", "add", name] +
               vm_add_args(name, env["MAC"], DAEMON_MODE[self.mode],
                           env["HOST"] if "h" + h == env["HOST"] else None))
        wait_agent("A", name)
        self.mon = Monitor(name, self.vm["host"], self.vm["events"])

    def stop(self):
        if self.mon:
            self.mon.close()
            self.mon = None
        for h in ("A", "B"):
            cli(h, "vm", "del", self.name, check=False)
        lab("vm", "stop", self.name, check=False)

    def restart(self):
        self.stop()
        self.start()


def unplug_series(kernel, mode, shims, runs, hold_s, fp_timeout_s, letter, reboot=False):
    """runs x shims unplug runs in one guest (rebooted after a run that did not end on the
    fast path, so that the next run starts from it; reboot: before every run but the first,
    so that each run starts with the VF QEMU and the daemon know as vf0)."""
    out = []
    x = None
    try:
        x = UnplugVM(kernel, mode, letter)
        for i in range(runs):
            order = shims if i % 2 == 0 else tuple(reversed(shims))
            for s in order:
                if reboot and x.vm["vf_id"] != "vf0":
                    x.restart()
                shim_set(x.name, s == "on")
                x.vm["shim"] = s
                time.sleep(SETTLE_S)
                try:
                    r = unplug_run(x.vm, x.mon, hold_s, fp_timeout_s)
                except (Fail, QMPError, OSError) as e:
                    r = {"scenario": "unplug", "kernel": kernel, "mode": mode, "vm": x.name,
                         "shim": s, "run": i + 1, "error": "run failed: %s" % e,
                         "fast_path": False}
                    out.append(r)
                    raise Fail(r["error"])
                r["run"] = i + 1
                out.append(r)
                say(line(r))
                if not r["fast_path"] and (i + 1 < runs or s != order[-1]):
                    say("%s: rebooting the guest for the next run (it was left off its fast "
                        "path)" % x.name)
                    r["guest_rebooted_after"] = True
                    x.restart()
                time.sleep(SETTLE_S)
    except (Fail, QMPError, OSError) as e:
        if not out or "run failed" not in (out[-1].get("error") or ""):
            out.append({"scenario": "unplug", "kernel": kernel, "mode": mode,
                        "vm": x.name if x else None, "shim": None, "run": 0,
                        "error": "series failed: %s" % e, "fast_path": False})
        say("FAIL unplug %s/%s: %s" % (kernel, mode, e))
    finally:
        if x:
            x.stop()
    return out


# --- scenario C: plain QEMU failover migration, daemons stopped ---------------------------
def migrate_series(kernel, shims, runs, letter):
    name = "sm%s" % letter
    logs = use_kernel(kernel)
    sh([LAB, "vm", "start", "--host", "A", "--name", name, "--mode", "failover",
        "--agent", "1"], env={"HBL_SHIM": "1"})
    events = os.path.join(logs, name, "events.jsonl")
    out = []
    try:
        for i in range(runs):
            order = shims if i % 2 == 0 else tuple(reversed(shims))
            for s in order:
                shim_set(name, s == "on")
                time.sleep(SETTLE_S)
                env = vm_env(name)
                ip, src = env["IP"].split("/")[0], env["HOST"]
                dst = "B" if src == "hA" else "A"
                _, nshim = shim_lines(name, 0)
                probe = Probe(ip)
                t_start = time.time()
                try:
                    mig = sh([LAB, "migrate", name, "--to", dst, "-j"], check=False)
                finally:
                    p = probe.stop()
                r = {"scenario": "migrate", "kernel": kernel, "mode": "failover", "vm": name,
                     "shim": s, "run": i + 1, "udp": probe_summary(p)}
                if mig.returncode != 0:
                    r["error"] = "lab migrate: %s" % mig.stderr.strip()[-600:]
                    out.append(r)
                    raise Fail("%s: %s" % (name, r["error"]))
                m = json.loads(mig.stdout)
                evs = [x for x in read_records(events) if x.get("ts", 0) >= t_start - 1]
                ms = milestones(evs, "failover", m["from"], m["to"], m["t_migrate_cmd"])
                outs = outages(p, m["t_migrate_cmd"], ms, "failover",
                               ("lost_to_guest", "lost_from_guest"))
                by = {}
                for o in outs:
                    c = by.setdefault(o["cause"], {"lost_to_guest": 0, "lost_from_guest": 0})
                    c["lost_to_guest"] += o.get("lost_to_guest") or 0
                    c["lost_from_guest"] += o.get("lost_from_guest") or 0
                r.update({"from": m["from"], "to": m["to"], "downtime_ms": m.get("downtime_ms"),
                          "total_time_ms": m.get("total_time_ms"), "events_ms": ms,
                          "outages": outs, "by_cause": by, "error": None})
                r["shim_dmesg"], _ = shim_lines(name, nshim)
                out.append(r)
                say(line(r))
                time.sleep(SETTLE_S)
    except (Fail, QMPError, OSError, ValueError, KeyError) as e:
        if not out or not out[-1].get("error"):
            out.append({"scenario": "migrate", "kernel": kernel, "mode": "failover",
                        "vm": name, "shim": None, "run": 0, "error": "series failed: %s" % e})
        say("FAIL %s/migrate: %s" % (kernel, e))
    finally:
        lab("vm", "stop", name, check=False)
    return out


# --- output ---------------------------------------------------------------------------------
def lost2(d):
    return "%d/%d" % ((d or {}).get("lost_to_guest") or 0, (d or {}).get("lost_from_guest") or 0)


def line(r):
    if r.get("udp") is None:
        return "%s %s/%s shim %s run %s: %s" % (r["scenario"], r["kernel"], r["mode"],
                                               r.get("shim"), r.get("run"), r.get("error"))
    s = "%s %s/%s shim %s run %d: sent %d, lost to/from guest %d/%d" % (
        r["scenario"], r["kernel"], r["mode"], r["shim"], r["run"], r["udp"]["sent"],
        r["udp"]["lost_to_guest"] or 0, r["udp"]["lost_from_guest"] or 0)
    if r["scenario"] == "unplug":
        s += "; at the unplug %s, at the replug %s; outages %s; %s" % (
            lost2(r["steps"]["unplug"]), lost2(r["steps"]["replug"]), fmt_outs(r["outages"]),
            "fast path %.1f s after device_add" % ((r["t_ms"]["fast_path"] -
                                                    r["t_ms"]["device_add"]) / 1e3)
            if "fast_path" in r["t_ms"] else "NOT back on the fast path: %s" % r["error"])
    else:
        s += "; %s->%s, QEMU downtime %s ms; by cause %s" % (
            r["from"], r["to"], r["downtime_ms"],
            ", ".join("%s %s" % (k, lost2(v)) for k, v in r["by_cause"].items()) or "-")
    return s


def fmt_outs(outs, key="start_ms"):
    return ", ".join("%s +%.0f ms %.0f ms (%s)" % (o.get("at", o.get("cause")), o[key],
                                                   o["duration_ms"], lost2(o))
                     for o in outs) or "none"


def rng(v):
    v = [x for x in v if x is not None]
    if not v:
        return "–"
    return "%s (%s–%s)" % (fmt(statistics.median(v)), fmt(min(v)), fmt(max(v)))


def fmt(x):
    return ("%.1f" % x) if isinstance(x, float) and x != int(x) else str(int(x))


def md_report(results, meta):
    L = ["## Unplugs nobody announced: hybond_shim.ko (issue #8)", ""]
    L.append("Measured by `make bench-shim R=%d` (tests/lab/shim_unplug.py) on %s: QEMU %s "
             "(TCG), guest kernels %s, 2 cores. Static (hardware-faithful) eswitch; "
             "hybond-probe udp at %d pps each way from the peer for each run. "
             "\"to/from\" = lost to / from the guest." % (
                 meta["runs"], meta["date"], meta["qemu"], ", ".join(meta["guest_kernels"]),
                 UDP_RATE))
    L.append("")
    ua = [r for r in results if r["scenario"] == "unplug"]
    if ua:
        L.append("### Unannounced unplug, host daemons running but not told")
        L.append("")
        L.append("`device_del` of the VF from QEMU's second monitor (an operator, not the "
                 "daemon), DEVICE_DELETED, %.0f s on the standby, `device_add` of the VF "
                 "again, until the guest is back on the fast path (FDB entry on the VF port, "
                 "the guest's VF carrying the probe both ways) or %.0f s. \"At the unplug\": "
                 "outages that start between device_del and device_add; \"at the replug\": "
                 "from device_add on (an outage that starts up to %.0f ms before device_del, a "
                 "probe in flight, counts as the unplug's)." % (
                     meta["hold_s"], meta["fastpath_timeout_s"], UNPLUG_SLACK_S * 1e3))
        L.append("")
        L.append("| kernel | guest | shim | runs | lost at the unplug to guest | from guest | "
                 "lost at the replug to guest | from guest | longest outage ms | "
                 "device_add → fast path s | back on the fast path |")
        L.append("|---|---|---|---|---|---|---|---|---|---|---|")
        for k, mode, s in sorted({(r["kernel"], r["mode"], r["shim"]) for r in ua
                                  if r.get("udp")}):
            rs = [r for r in ua if (r["kernel"], r["mode"], r["shim"]) == (k, mode, s)
                  and r.get("udp")]
            fp = [(r["t_ms"]["fast_path"] - r["t_ms"]["device_add"]) / 1e3 for r in rs
                  if "fast_path" in r["t_ms"]]
            L.append("| %s | %s | %s | %d | %s | %s | %s | %s | %s | %s | %d of %d |" % (
                k, mode, s, len(rs),
                rng([r["steps"]["unplug"]["lost_to_guest"] for r in rs]),
                rng([r["steps"]["unplug"]["lost_from_guest"] for r in rs]),
                rng([r["steps"]["replug"]["lost_to_guest"] for r in rs]),
                rng([r["steps"]["replug"]["lost_from_guest"] for r in rs]),
                rng([r["udp"]["longest_outage_ms"] for r in rs]),
                ("%.1f" % statistics.median(fp)) if fp else "–",
                sum(1 for r in rs if r["fast_path"]), len(rs)))
        L.append("")
        L.append("Per run (outages: where, start ms after device_del, length ms, lost "
                 "to/from guest; daemon: FDB steers to standby / to VF during the run):")
        L.append("")
        L.append("| kernel | guest | shim | run | UDP sent | outages | fast path after "
                 "device_add s | FDB entry in the hold | daemon steers standby/VF | "
                 "shim barrier |")
        L.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in ua:
            if not r.get("udp"):
                L.append("| %s | %s | %s | %s | – | %s | – | – | – | – |" % (
                    r["kernel"], r["mode"], r.get("shim"), r.get("run"), r.get("error")))
                continue
            fp = r["t_ms"].get("fast_path")
            bar = [x.split("unplug barrier: ", 1)[1] for x in r.get("shim_dmesg", [])
                   if "unplug barrier: " in x]
            L.append("| %s | %s | %s | %d | %d | %s | %s | %s | %s/%s | %s |" % (
                r["kernel"], r["mode"], r["shim"], r["run"], r["udp"]["sent"],
                fmt_outs(r["outages"]),
                "%.1f" % ((fp - r["t_ms"]["device_add"]) / 1e3) if fp is not None
                else "no (%s)" % r["error"], r.get("fdb_on_standby") or "none",
                r["daemon_steered"]["steer_standby"], r["daemon_steered"]["steer_vf"],
                "; ".join(bar) or "–"))
        L.append("")
    mg = [r for r in results if r["scenario"] == "migrate"]
    if mg:
        L.append("### Plain QEMU failover migration, host daemons stopped")
        L.append("")
        L.append("`lab migrate` (QEMU failover: UNPLUG_PRIMARY, wait-unplug, migration, "
                 "re-plug on the destination), no hybond-hostd anywhere, the guest agent "
                 "running without a host; the lab's baseline eswitch handling (source entry "
                 "removed when the source VF is gone, destination entry on its VF port from "
                 "the start). Causes from tests/lab/bench.py's windows.")
        L.append("")
        L.append("| kernel | shim | runs | lost to guest | lost from guest | at the unplug "
                 "to/from (max) | stop-and-copy to/from (max) | QEMU downtime ms |")
        L.append("|---|---|---|---|---|---|---|---|")
        for k, s in sorted({(r["kernel"], r["shim"]) for r in mg if r.get("udp")}):
            rs = [r for r in mg if (r["kernel"], r["shim"]) == (k, s) and r.get("udp")]

            def mx(cause, d):
                return max(sum(v[d] for c, v in r["by_cause"].items() if cause in c)
                           for r in rs)
            L.append("| %s | %s | %d | %s | %s | %d/%d | %d/%d | %s |" % (
                k, s, len(rs), rng([r["udp"]["lost_to_guest"] for r in rs]),
                rng([r["udp"]["lost_from_guest"] for r in rs]),
                mx("unplug", "lost_to_guest"), mx("unplug", "lost_from_guest"),
                mx("stop-and-copy", "lost_to_guest"), mx("stop-and-copy", "lost_from_guest"),
                rng([r["downtime_ms"] for r in rs])))
        L.append("")
        L.append("Per run (outages: cause, start ms after the migrate command, length ms, "
                 "lost to/from guest):")
        L.append("")
        for r in mg:
            if r.get("udp") and r.get("outages") is not None:
                L.append("- %s shim %s run %d %s→%s: %s" % (r["kernel"], r["shim"], r["run"],
                                                          r["from"], r["to"],
                                                          fmt_outs(r["outages"])))
            else:
                L.append("- %s shim %s run %s: %s" % (r["kernel"], r.get("shim"),
                                                      r.get("run"), r.get("error")))
        L.append("")
    return L


def check_results(results):
    f = []
    for r in results:
        if r.get("udp") is None or (r["scenario"] == "migrate" and r.get("error")):
            f.append("%s %s/%s shim %s run %s: not measured: %s" % (
                r["scenario"], r["kernel"], r["mode"], r.get("shim"), r.get("run"),
                r.get("error")))
            continue
        if r["scenario"] == "unplug" and r["shim"] == "on":
            u = r["steps"]["unplug"]
            if u["lost_to_guest"] or u["lost_from_guest"]:
                f.append("unplug %s/%s shim on run %d: lost %d to / %d from the guest at the "
                         "unplug (outages %s)" % (r["kernel"], r["mode"], r["run"],
                                                  u["lost_to_guest"], u["lost_from_guest"],
                                                  fmt_outs([o for o in r["outages"]
                                                            if o["at"] == "unplug"])))
            if not r["fast_path"]:
                f.append("unplug %s/%s shim on run %d: %s" % (r["kernel"], r["mode"],
                                                              r["run"], r["error"]))
    return f


def meta_info(a, kvers):
    q = sh(["qemu-system-x86_64", "--version"], check=False).stdout.split("\n")[0]
    return {"date": time.strftime("%Y-%m-%d"), "qemu": q.replace("QEMU emulator version ", ""),
            "guest_kernels": [kvers[k] for k in a.kernels], "runs": a.runs,
            "hold_s": a.hold, "fastpath_timeout_s": a.fastpath_timeout,
            "reboot_between_runs": a.reboot_between_runs,
            "modes": a.modes, "shim": a.shim, "scenarios": a.scenarios,
            "udp_rate": UDP_RATE, "host": platform.node()}


def write_report(d, results, meta, failures):
    os.makedirs(d, exist_ok=True)
    for r in results:
        fn = "%s-%s-%s-shim%s-run%s.json" % (r["scenario"], r["kernel"], r["mode"],
                                             r.get("shim") or "-", r.get("run"))
        with open(os.path.join(d, fn), "w") as f:
            json.dump(r, f, indent=1)
    with open(os.path.join(d, "shim.json"), "w") as f:
        json.dump({"meta": meta, "results": results, "failures": failures}, f, indent=1)
    with open(os.path.join(d, "shim.md"), "w") as f:
        f.write("\n".join(md_report(results, meta)) + "\n")
    say("wrote %s/shim.json, shim.md and one JSON per run" % d)


def csv(v, allowed):
    items = [x.strip() for x in v.split(",") if x.strip()]
    bad = [x for x in items if x not in allowed]
    if bad or not items:
        raise argparse.ArgumentTypeError("%s: choose from %s" % (v, ",".join(allowed)))
    return tuple(items)


def main(argv):
    ap = argparse.ArgumentParser(prog="shim_unplug.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenarios", type=lambda v: csv(v, ("unplug", "migrate")),
                    default=("unplug", "migrate"), help="unplug,migrate (default both)")
    ap.add_argument("--modes", type=lambda v: csv(v, MODES), default=("failover", "bond"),
                    help="guest kinds for the unplug scenario: failover,bond (default), "
                         "bond-agent (migrate: always failover)")
    ap.add_argument("--kernels", type=lambda v: csv(v, tuple(KERNELS)), default=("6.1", "6.12"),
                    help="guest kernels: 6.1,6.12 (default both)")
    ap.add_argument("--shim", type=lambda v: csv(v, ("on", "off")), default=("on", "off"),
                    help="on,off (default both, alternated run by run)")
    ap.add_argument("--runs", type=int, default=5, help="runs per case (default 5)")
    ap.add_argument("--hold", type=float, default=HOLD_S,
                    help="seconds on the standby between DEVICE_DELETED and device_add")
    ap.add_argument("--fastpath-timeout", type=float, default=FASTPATH_TIMEOUT_S)
    ap.add_argument("--reboot-between-runs", action="store_true",
                    help="unplug: a fresh guest for every run (its VF is vf0 again, the id "
                         "the daemon registered; slower)")
    ap.add_argument("--report", help="directory: one JSON per run, shim.json, shim.md")
    ap.add_argument("--render", metavar="DIR", help="shim.md again from DIR/shim.json")
    ap.add_argument("--check", action="store_true",
                    help="fail unless the shim runs lost 0 at the unplug each way")
    a = ap.parse_args(argv)
    if a.render:
        with open(os.path.join(a.render, "shim.json")) as f:
            d = json.load(f)
        with open(os.path.join(a.render, "shim.md"), "w") as f:
            f.write("\n".join(md_report(d["results"], d["meta"])) + "\n")
        return 0
    for f in (PROBE, HOSTD, CLI, GUESTD):
        if not os.access(f, os.X_OK):
            raise SystemExit("shim_unplug: %s missing: make B=%s all lab-build" % (f, B))
    if os.geteuid() != 0:
        raise SystemExit("shim_unplug: needs root (the lab)")
    results, failures = [], []
    kvers = {k: build_image(k) for k in a.kernels}
    say("guest images: %s" % ", ".join("%s = %s (%s)" % (k, kvers[k], KERNELS[k]["out"])
                                       for k in a.kernels))
    use_kernel(a.kernels[0])
    lab("down", check=False)
    lab("up", "--eswitch", "static")
    try:
        if "unplug" in a.scenarios:
            D = Daemons()
            try:
                for ki, k in enumerate(a.kernels):
                    for m in a.modes:
                        results += unplug_series(k, m, a.shim, a.runs, a.hold,
                                                 a.fastpath_timeout, str(ki),
                                                 a.reboot_between_runs)
            finally:
                D.stop()
        if "migrate" in a.scenarios:
            for ki, k in enumerate(a.kernels):
                results += migrate_series(k, a.shim, a.runs, str(ki))
    finally:
        use_kernel(a.kernels[0])
        lab("down", check=False)
    failures = check_results(results)
    meta = meta_info(a, kvers)
    if a.report:
        write_report(a.report, results, meta, failures)
    else:
        print(json.dumps({"meta": meta, "results": results}, indent=1))
    print("\n".join(md_report(results, meta)), file=sys.stderr)
    if a.check:
        for f in failures:
            say("FAIL %s" % f)
        if failures:
            return 1
        say("check passed (%d runs)" % len(results))
    elif failures:
        say("%d run(s) miss the bar or were not measured (--check would fail):" % len(failures))
        for f in failures:
            say("  %s" % f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
