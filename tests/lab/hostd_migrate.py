#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""hybond-hostd end to end in the lab: `hybond migrate VM --to B`, unattended, measured.

  hostd_migrate.py check                 one migration per guest mode (failover, bond);
                                         fails on any loss, a VF not back in use, or
                                         leftovers on the source (make check-lab); the
                                         daemons talk TCP + mutual TLS here (--peer tls:
                                         certtool CA, a veth hA-hB on 198.19.254.0/30)
  hostd_migrate.py bench --runs R        R migrations per mode + the plain-QEMU baseline
                                         (bench.py, same session): build/bench/hostd.json
                                         and the docs/benchmarks.md section (make bench)
  hostd_migrate.py run [--mode M]        one migration, JSON on stdout
  hostd_migrate.py failures [--mode M] [--cases C,..] [--kill-at PHASE]
                                         failure paths, JSON on stdout (make check-lab:
                                         the CHECK_CASES set, both modes); each case ends
                                         with the VM reachable on ONE host on its fast path
                                         (agent's report, VF counters both ways, FDB on the
                                         VF port), nothing left on the other, no journal:
                                         no_agent (refused; --force: plain QEMU order,
                                         warned in JSON and text, reachable on B),
                                         no_dest_vf (B names a VF port that does not exist:
                                         fails before the source moves), dest_dies (B's
                                         incoming QEMU killed: rollback), cancel (`hybond
                                         cancel` in MIGRATING, then Ctrl-C on the CLI),
                                         qemu_cancel (migrate_cancel on the QEMU monitor),
                                         sigkill_dst / sigkill_src (a daemon SIGKILLed in
                                         MIGRATING, started again: journal recovery)

Per run: `lab up` (static eswitch), hybond-hostd in hA and in hB (`ip netns exec`), each
with a generated hostd.conf (peer sockets, launcher `lab vm incoming`, cleanup `lab vm
cleanup`), a VM started on A with the guest agent, registered with `hybond vm add` on
both daemons; hybond-probe udp at 1000 pps each way from the peer namespace; then ONLY
`hybond -j migrate VM --to B` against A's daemon. Checks: lost per direction (the bar
is 0), each outage attributed to the daemon's phase it started in, the guest's VF
counters growing both ways on B (TX and RX on the VF), the MAC's FDB entry on B's VF
port, nothing of the VM left on A (taps, FDB entry, QEMU).
"""
import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
from labkit.hostd import (HostdLab, check, cli, ctl,  # noqa: E402
                          hybond_migrate, journal_left, leftovers,
                          migration_summary, on_host_intact, pid_alive, register,
                          register_host, start_vm, teardown_vm, vf_growth, vm_add_args,
                          vm_status, wait_agent)
from labkit.lab import (B, CLI, LOGS, PFX, QMP_PY, UDP_RATE, fdb_port, inst, lab,  # noqa: E402
                        sh, vm_env)
from labkit.probe import Probe, attribute_phases, probe_summary  # noqa: E402
from labkit.report import fmt, update_doc  # noqa: E402
from labkit.verdict import Fail, sayer  # noqa: E402

DOC_BEGIN = "<!-- hostd-bench:begin -->"
DOC_END = "<!-- hostd-bench:end -->"

say = sayer("hostd_migrate")


class Sniff:
    """stop_sniff.py in a namespace: RARPs from MAC and probe requests to it, stamped."""

    def __init__(self, ns, mac, ifaces=()):
        self.p = subprocess.Popen(["ip", "netns", "exec", PFX + ns, "/usr/bin/python3",
                                   os.path.join(HERE, "stop_sniff.py"), "--mac", mac] + list(ifaces),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.p.stdout.readline()            # {"ready": true}

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        out, _ = self.p.communicate(timeout=30)
        try:
            return json.loads(out.strip().splitlines()[-1])["frames"]
        except (ValueError, IndexError, KeyError):
            return []


def dest_trace(name):
    """The destination daemon's last 'STOP trace' line for VM: MIGRATE_STOPPED read, sendto()."""
    try:
        with open(os.path.join(LOGS, "hostd-B.log")) as f:
            lines = [l for l in f if ("vm %s: STOP trace: recv_us=" % name) in l]
    except OSError:
        return {}
    if not lines:
        return {}
    kv = dict(x.split("=") for x in lines[-1].split("STOP trace: ")[1].split())
    return {k: int(v) for k, v in kv.items()}


def stop_trace(final, dtr, probe, fab, tap, standby):
    """Everything on one time line, ms relative to QEMU's STOP event stamp (ms)."""
    stop_ms = final.get("stop_realtime_ms")
    st = final.get("stop_trace_us", {})
    if not stop_ms:
        return {}
    t0 = stop_ms / 1e3

    def rel(t):
        return None if t is None else round((t - t0) * 1e3, 3)
    tr = {"qemu_stop_realtime": t0,
          "src_stop_seen_ms": rel(st.get("stop_seen", 0) / 1e6 or None),
          "src_stopped_sent_ms": rel(st.get("stopped_sent", 0) / 1e6 or None),
          "dst_stopped_recv_ms": rel(dtr.get("recv_us", 0) / 1e6 or None),
          "dst_rarp_sent_ms": rel(dtr.get("rarp_sent_us", 0) / 1e6 or None)}
    rarp = sorted(f["ts"] for f in fab if f["k"] == "rarp" and f["ts"] and f["ts"] > t0 - 5)
    tr["fab_rarp_ms"] = [rel(t) for t in rarp[:4]]
    # the source standby tap: requests handed to QEMU's tap queue (PACKET_OUTGOING)
    intap = sorted((f["sent"], f["ts"], f["seq"]) for f in tap
                   if f["k"] == "req" and f["if"] == standby and f["out"])
    near = [x for x in intap if abs(x[1] - t0) < 0.2]
    tr["src_tap_last_ms"] = rel(intap[-1][1]) if intap else None
    tr["src_tap_last_seq"] = intap[-1][2] if intap else None
    outs = []
    for o in probe.get("outages", []):
        if not o.get("lost_to_guest"):
            continue
        lost_in_tap = [(rel(x[0]), rel(x[1]), x[2]) for x in near
                       if o["start_realtime"] - 1e-4 <= x[0] < (o.get("next_ok_realtime") or 1e18)]
        outs.append({"first_lost_sent_ms": rel(o["start_realtime"]),
                     "prev_ok_sent_ms": rel(o.get("prev_ok_realtime")),
                     "next_ok_sent_ms": rel(o.get("next_ok_realtime")),
                     "lost_to_guest": o.get("lost_to_guest"),
                     "lost_in_src_tap": [{"sent_ms": a, "in_tap_ms": b, "seq": c}
                                         for a, b, c in lost_in_tap]})
    tr["outages_to_guest"] = outs
    return tr


def one_run(mode, name):
    lab("vm", "start", "--host", "A", "--name", name, "--mode", mode, "--agent", "1")
    env = vm_env(name)
    mac, ip = env["MAC"], env["IP"].split("/")[0]
    res = {"mode": mode, "vm": name}
    sniffs = {}
    final = {}
    try:
        register(name)
        wait_agent("A", name)
        if TRACE:
            sniffs = {"fab": Sniff("fab", mac), "tap": Sniff("hA", mac, ["hs-" + name])}
        probe = Probe(ip)
        try:
            t_cmd = time.time()
            lines = hybond_migrate(name)
            final = lines[-1]
            res["progress_lines"] = len(lines) - 1
            res["result"] = final
            # fast path in use: the guest's VF counters grow both ways under the probe
            res["vf"] = vf_growth("B", name)
        finally:
            p = probe.stop()
            frames = {k: sn.stop() for k, sn in sniffs.items()}
        if TRACE:
            res["stop_trace"] = stop_trace(final, dest_trace(name), p, frames.get("fab", []),
                                           frames.get("tap", []), "hs-" + name)
            res["probe_outages"] = p.get("outages", [])
        res["udp"] = probe_summary(p)
        res["outages"] = attribute_phases(p, t_cmd, final.get("phases_ms", {}),
                                   final.get("stop_realtime_ms"), final.get("qemu_downtime_ms"))
        res["fdb_B"] = fdb_port("hB", mac)
        res["left_on_A"] = leftovers(name, "hA", mac)
        ping = sh(["ip", "netns", "exec", PFX + "peer", "ping", "-c", "2", "-W", "1", ip],
                  check=False)
        res["reachable"] = ping.returncode == 0
        res["summary"] = migration_summary(p, final)
        res["failures"] = check(res)
        crash = guest_crash(name)
        if crash:
            res["failures"].insert(0, "the guest kernel crashed (%s): %s" % (
                os.path.join(LOGS, name, "serial.log"), crash))
    finally:
        for sn in sniffs.values():
            if sn.p.poll() is None:
                sn.p.kill()
                sn.p.wait()
        for h in ("A", "B"):
            cli(h, "vm", "del", name, check=False)
        lab("vm", "stop", name, check=False)
    return res


# HBL_TRACE=1: sniff the fabric and the source standby tap, line up the STOP -> announce path
TRACE = os.environ.get("HBL_TRACE", "") not in ("", "0")


# --- failures: what an operator sees when `hybond migrate` cannot or must not go on ----------
FAIL_MIGRATE_TIMEOUT_S = 300
RECOVER_TIMEOUT_S = 120   # a restarted daemon: journal -> QMP -> rollback/cleanup, settled
SLOW_BW = 2 << 20         # bytes/s (migrate-set-parameters max-bandwidth): seconds of MIGRATING
FAST_BW = 1 << 30         # bytes/s: back to a quick migration (the "late" SIGKILL cases)


def migrate_cmd(name, *extra, on_line=None):
    """`hybond -j migrate NAME --to B [extra]` against A; every JSON line, the final one, rc.

    on_line(obj) is called for each line as it arrives (progress lines included)."""
    p = subprocess.Popen([CLI, "-j", "-s", ctl("A"), "migrate", name, "--to", "B"] + list(extra),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + FAIL_MIGRATE_TIMEOUT_S
    for l in p.stdout:
        if not l.strip():
            continue
        try:
            o = json.loads(l)
        except ValueError:
            o = {"raw": l.rstrip("\n")}
        lines.append(o)
        if on_line:
            on_line(o)
        if time.monotonic() > deadline:
            p.kill()
            break
    err = p.stderr.read()
    rc = p.wait()
    final = lines[-1] if lines and "progress" not in lines[-1] else {}
    return {"rc": rc, "final": final, "lines": lines, "stderr": err.strip(),
            "phases": [o["progress"].get("phase") for o in lines if "progress" in o]}


def at_active(action):
    """An on_line for migrate_cmd: action() once, at the first progress line of S_MIGRATING
    whose QEMU status is "active" (RAM is moving; the VF is out of the guest)."""
    fired = {}

    def on_line(o):
        p = o.get("progress") or {}
        if fired or p.get("phase") != "S_MIGRATING" or p.get("status") != "active":
            return
        fired.update({"t_ms": p.get("t_ms"), "ram_remaining": p.get("ram_remaining")})
        try:
            fired.update(action() or {})
        except (Fail, OSError, subprocess.SubprocessError, ValueError) as e:
            fired["error"] = "%s: %s" % (type(e).__name__, e)
    return on_line, fired


def on_a_intact(res, f, name, mac, ip, vf_counters=True):
    on_host_intact(res, f, name, mac, ip, "A", vf_counters)


def clear_error(r, f, *words):
    """A failed `hybond migrate`: non-zero exit, ok false, an error naming one of words."""
    e = (r["final"].get("error") or "") + " " + r["stderr"]
    if r["rc"] == 0 or r["final"].get("ok"):
        f.append("hybond migrate did not fail (rc %s, ok %s)" % (r["rc"], r["final"].get("ok")))
    if not e.strip():
        f.append("no error text from hybond migrate")
    elif words and not any(w.lower() in e.lower() for w in words):
        f.append("error does not name %s: %r" % ("/".join(words), e.strip()))


def rolled_back(r, f, agent=True):
    """The phases of a rollback that ended on the fast path (RB_SETTLE: the guest held it)."""
    ph = r["phases"]
    if ph and ph[-1] != "S_FAILED":
        f.append("last phase %s, not S_FAILED" % ph[-1])
    if "S_STEER_STANDBY" in ph and "S_RB_FAST_PATH" not in ph:
        f.append("no S_RB_FAST_PATH in the rollback (phases %s)" % ph)
    if agent and "S_RB_FAST_PATH" in ph and "S_RB_SETTLE" not in ph:
        f.append("no S_RB_SETTLE: the guest never confirmed its fast path (phases %s)" % ph)


def wait_settled(name, hosts=("A", "B"), timeout=RECOVER_TIMEOUT_S):
    """Until no daemon of hosts shows a migration of name (a recovery ran to its end)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = [h for h in hosts if vm_status(h, name).get("migration")]
        if not busy:
            return None
        time.sleep(0.5)
    return "still migrating after %.0f s on %s: %s" % (
        timeout, busy, [vm_status(h, name).get("migration") for h in busy])


def daemons_alive(D, f):
    for h in ("A", "B"):
        if not D.alive(h):
            f.append("hybond-hostd on %s died (see %s/hostd-%s.log); restarted" % (h, LOGS, h))
            D.start(h)


GUEST_CRASH = ("BUG:", "kernel BUG", "Kernel panic", "Oops:", "general protection fault",
               "list_add corruption", "list_del corruption")


def guest_crash(name):
    """The first oops/panic line in the VM's serial log (one file for both hosts, started
    afresh by `lab vm start`), or None: a guest that died says so in the case's failures
    instead of only 'QEMU gone' and unreachable."""
    try:
        with open(os.path.join(LOGS, name, "serial.log"), errors="replace") as fp:
            for line in fp:
                if any(k in line for k in GUEST_CRASH):
                    return line.strip()
    except OSError:
        pass
    return None


class Fx:
    """One VM on A, registered on both daemons, reused by the cases while they leave it
    on A intact (a VM boot under TCG costs more than most cases)."""

    def __init__(self, mode, agent=1, slow=True):
        self.mode, self.agent, self.slow = mode, agent, slow
        self.n = 0
        self.name = None

    def get(self):
        if self.name:
            return self
        self.n += 1
        self.name = "hf%s%s%d" % (self.mode[0], "" if self.agent else "n", self.n)
        self.mac, self.ip = start_vm(self.name, self.mode, self.agent)
        if self.slow:
            # QMP is free until the daemon connects: a slow migration, so a case can act
            # (cancel, SIGKILL) while RAM is moving
            lab("vm", "qmp", self.name, "migrate-set-parameters",
                json.dumps({"max-bandwidth": SLOW_BW}))
        register(self.name)
        if self.agent:
            wait_agent("A", self.name)
        else:
            time.sleep(2)
        return self

    def drop(self):
        if self.name:
            teardown_vm(self.name)
        self.name = None


def case_no_agent(fx, D, mode):
    """No guest agent: refused without --force (VM untouched); with --force plain QEMU order:
    migrates, warns in JSON and text, the destination steers to its VF at RESUME and the
    guest is reachable on B over its VF."""
    x = fx.get()
    name, mac, ip = x.name, x.mac, x.ip
    res, f = {"case": "no_agent", "vm": name, "mode": mode}, []
    r = migrate_cmd(name)
    for _ in range(50):        # the QMP session may not be up yet
        if "not running here" not in (r["final"].get("error") or "") + r["stderr"]:
            break
        time.sleep(0.2)
        r = migrate_cmd(name)
    res["refused"] = {"rc": r["rc"], "error": r["final"].get("error") or r["stderr"],
                      "phases": r["phases"]}
    clear_error(r, f, "agent")
    if r["phases"]:
        f.append("refusal went into phases %s" % r["phases"])
    on_host_intact(res, f, name, mac, ip, "A", vf_counters=False, agent=False)
    probe = Probe(ip)
    try:
        # text mode: what an operator reads; the JSON result is A's last_op
        t = subprocess.run([CLI, "-s", ctl("A"), "migrate", name, "--to", "B", "--force"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           timeout=FAIL_MIGRATE_TIMEOUT_S)
        last = vm_status("A", name).get("last_op") or {}
        res["forced"] = {"rc": t.returncode, "ok": last.get("ok"), "error": last.get("error"),
                         "warning": last.get("warning"), "dest": last.get("dest"),
                         "total_ms": last.get("total_ms"),
                         "qemu_downtime_ms": last.get("qemu_downtime_ms"),
                         "text_warning": [l for l in t.stdout.splitlines()
                                          if l.startswith("warning:")]}
        if t.returncode != 0 or not last.get("ok"):
            f.append("--force: migration failed: %s %s" % (last.get("error"), t.stderr.strip()))
        if "no guest agent" not in (last.get("warning") or ""):
            f.append("--force: no warning in the JSON result: %s" % last.get("warning"))
        if not any("no guest agent" in l for l in res["forced"]["text_warning"]):
            f.append("--force: no 'warning:' line in the text output: %r" % t.stdout[-600:])
        d = last.get("dest") or {}
        if d.get("path") != "fast" or d.get("verified") is not False \
                or "unverified" not in (d.get("text") or ""):
            f.append("--force: destination path not reported as fast, unverified: %s" % d)
        time.sleep(1)
        on_host_intact(res["forced"], f, name, mac, ip, "B", agent=False)
        if res["forced"].get("reachable") is False:
            g = lab("vm", "exec", name, "ip -o link; ip -o addr; cat /proc/net/dev",
                    check=False)
            res["forced"]["guest_net"] = (g.stdout + g.stderr).splitlines()
    finally:
        res["forced_udp"] = probe_summary(probe.stop()) if probe else None
        fx.drop()               # the VM is on B now
    return res, f


def kill_incoming_qemu(name):
    """SIGKILL the incoming QEMU the lab started for this VM on B, by its pidfile."""
    pidfile = inst(name, "hB", "qemu.pid")
    with open(pidfile) as fp:
        pid = int(fp.read().strip())
    with open("/proc/%d/cmdline" % pid) as fp:
        cmd = fp.read()
    if "qemu-system" not in cmd or os.path.dirname(pidfile) not in cmd or "-incoming" not in cmd:
        raise Fail("pid %d is not the incoming QEMU of %s" % (pid, name))
    os.kill(pid, signal.SIGKILL)
    return {"pid": pid}


def free_monitor(name, h="A"):
    """A QMP monitor of the VM's QEMU on h besides the daemon's: the daemon holds qmp.sock,
    the lab's event logger qmp-log.sock; stop the logger (our process, by its pidfile)."""
    lp = inst(name, "h" + h, "logger.pid")
    try:
        with open(lp) as fp:
            pid = int(fp.read().strip())
        with open("/proc/%d/cmdline" % pid) as fp:
            if "qmp.py" in fp.read():
                os.kill(pid, signal.SIGTERM)
                time.sleep(0.5)
    except (OSError, ValueError):
        pass
    return inst(name, "h" + h, "qmp-log.sock")


def qmp_cmd(mon, *args):
    q = subprocess.run(["/usr/bin/python3", QMP_PY, "cmd", mon] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30)
    return {"rc": q.returncode, "out": (q.stdout + q.stderr).strip()[-300:]}


# --- the cases: a table driven by run_case() ----------------------------------------------
class Case:
    """One failure path of `hybond migrate`, as data for run_case().

    prepare(c)      before the probe starts (c: the case's Ctx)
    trigger(c)      -> (on_line, fired): what happens while `hybond migrate` runs
                    (migrate_cmd's on_line) and the record of what it did
    recover(c, r)   once the CLI returned, under the probe: bring back what the trigger
                    broke and look at where the VM ended (on_host_intact)
    cleanup(c)      in the finally, after the probe stopped
    fired_key       res[fired_key] = fired; report: then these fields of the CLI's result
    missed(fired, r, c) -> the failure when the trigger did not do its part, or None
    journal         the host whose journal must hold the migration after the SIGKILL
    must_complete   the CLI's migration must have succeeded (the kill came after it)
    words           the migration must fail with an error naming one of these ("{vm}": the
                    VM's name); None: it need not fail
    checks          more (c, r) -> failure or None, after the error's
    rollback        the phases of a rollback to the fast path (rolled_back)
    drop            "finally": the VM ends on B, a fresh one next; "unless_on_A": when it
                    did not stay on A
    then(c, r)      what the case does after its verdict
    timed           res["cli_s"]: how long the CLI took
    agent           the fixture: a VM with (1) or without (0) the guest agent
    own(fx, D, mode) a case of another shape, run as it is (no_agent: refused, then --force)
    """

    def __init__(self, name, trigger=None, recover=None, fired_key=None, report=(),
                 missed=None, words=None, checks=(), rollback=False, prepare=None,
                 cleanup=None, journal=None, must_complete=False, drop=None, then=None,
                 timed=False, agent=1, own=None):
        self.name, self.trigger, self.recover = name, trigger, recover
        self.fired_key, self.report, self.missed = fired_key, report, missed
        self.words, self.checks, self.rollback = words, checks, rollback
        self.prepare, self.cleanup, self.then = prepare, cleanup, then
        self.journal, self.must_complete, self.drop = journal, must_complete, drop
        self.timed, self.agent, self.own = timed, agent, own


class Ctx:
    """One case's run: the VM (from the fixture), the daemons, res (the case's JSON) and
    f (its failures)."""

    def __init__(self, x, D, mode, case, kill_at):
        self.D, self.mode, self.kill_at = D, mode, kill_at
        self.name, self.mac, self.ip = x.name, x.mac, x.ip
        self.res = {"case": case, "vm": x.name, "mode": mode}
        self.f = []


REPORT = {"error": lambda r: r["final"].get("error") or r["stderr"],
          "phases": lambda r: r["phases"], "final": lambda r: r["final"],
          "cli_stderr": lambda r: r["stderr"]}


def run_case(case, fx, D, mode, kill_at="S_MIGRATING"):
    """One case: the trigger during `hybond migrate` under the probe, the recovery, then
    the verdict in a fixed order (trigger, journal, completion, settle, error, the case's
    checks, rollback)."""
    if case.own:
        return case.own(fx, D, mode)
    c = Ctx(fx.get(), D, mode, case.name, kill_at)
    res, f = c.res, c.f
    if case.prepare:
        case.prepare(c)
    on_line, fired = case.trigger(c) if case.trigger else (None, {})
    probe = Probe(c.ip)
    try:
        t0 = time.monotonic()
        r = migrate_cmd(c.name, on_line=on_line)
        if case.timed:
            res["cli_s"] = round(time.monotonic() - t0, 1)
        case.recover(c, r)
    finally:
        res["udp"] = probe_summary(probe.stop())
        if case.cleanup:
            case.cleanup(c)
        if case.drop == "finally":
            fx.drop()               # the VM is on B
    if case.fired_key:
        res[case.fired_key] = fired
    res.update({k: REPORT[k](r) for k in case.report})
    miss = case.missed(fired, r, c) if case.missed else None
    if miss:
        f.append(miss)
    if case.journal and case.journal not in res["journal_after_kill"]:
        f.append("no journal entry on %s after the SIGKILL" % case.journal)
    if case.must_complete and not r["final"].get("ok"):
        f.append("the source did not finish the completed migration: %s" % r["final"])
    if res.get("settle"):
        f.append(res["settle"])
    if case.words is not None:
        clear_error(r, f, *[w.format(vm=c.name) for w in case.words])
    for chk in case.checks:
        x = chk(c, r)
        if x:
            f.append(x)
    if case.rollback:
        rolled_back(r, f)
    if case.then:
        case.then(c, r)
    if case.drop == "unless_on_A" and res.get("runs_on") != "A":
        fx.drop()
    return res, f


# triggers: when, during `hybond migrate`, the case strikes
def at_phase_from(c):
    """B's incoming QEMU killed at the first progress line of c.kill_at or a later phase."""
    order = ("S_STEER_STANDBY", "S_SWITCH_TX", "S_UNPLUG_VF", "S_MIGRATING", "S_STOPPED")
    killed = {}

    def on_line(o):
        ph = (o.get("progress") or {}).get("phase")
        if killed or ph not in order or order.index(ph) < order.index(c.kill_at):
            return
        try:
            killed.update(kill_incoming_qemu(c.name))
            killed.update({"phase": ph, "t_ms": o["progress"].get("t_ms")})
        except (Fail, OSError, ValueError) as e:
            killed["error"] = str(e)
    return on_line, killed


def sigkill_at_switchback(h):
    """The daemon on h SIGKILLed at the source's S_DEST_SWITCHBACK (the migration
    completed); for B, once B is in D_WAIT_VF (the VM resumed there)."""
    def trigger(c):
        fired = {}

        def on_line(o):
            if fired or (o.get("progress") or {}).get("phase") != "S_DEST_SWITCHBACK":
                return
            if h == "B":
                # B in D_WAIT_VF (the VM resumed there), as the case is described. (The guest
                # panics once seen here and at RESUME, list/slub corruption ~50 ms after
                # RESUME, were not the SIGKILL's: QEMU 7.2's TCG migration loses vCPU stores,
                # the same happens with plain QEMU and no daemon; the lab sizes guest RAM to
                # avoid it, see qemu_start in tests/lab/lab and docs/host-agent.md)
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    ph = (vm_status("B", c.name).get("migration") or {}).get("phase")
                    if ph in ("D_WAIT_VF", "D_FAST_PATH", "D_ON_STANDBY"):
                        fired["dest_phase"] = ph
                        break
                    time.sleep(0.05)
            fired.update({"killed_pid": c.D.kill(h), "t_ms": o["progress"].get("t_ms")})
        return on_line, fired
    return trigger


# recoveries: where the VM must end
def back_on_a(c, r):
    """The rollback's end: the VM on A on its fast path, nothing on B."""
    time.sleep(1)
    on_a_intact(c.res, c.f, c.name, c.mac, c.ip)


def restart(c, h):
    """h's daemon started again after its SIGKILL and the VM registered again, as an
    operator (or hostd.conf) would; True when its QEMU runs on h."""
    c.D.start(h)
    here = h == "A" and pid_alive(inst(c.name, "hA", "qemu.pid"))
    register_host(h, c.name, here)
    return here


def dst_restarted(c, r):
    restart(c, "B")
    c.res["settle"] = wait_settled(c.name)
    back_on_a(c, r)


def src_restarted(c, r):
    """Wherever the VM runs after A's recovery, it is there on its fast path."""
    res = c.res
    res["journal_after_kill"] = journal_left(c.name)
    time.sleep(1)
    on_a = restart(c, "A")
    res["settle"] = wait_settled(c.name)
    time.sleep(1)
    qa, qb = on_a and pid_alive(inst(c.name, "hA", "qemu.pid")), \
        pid_alive(inst(c.name, "hB", "qemu.pid"))
    res["runs_on"] = "A" if qa and not qb else "B" if qb and not qa else \
        "both" if qa else "none"
    if res["runs_on"] in ("A", "B"):
        on_host_intact(res, c.f, c.name, c.mac, c.ip, res["runs_on"])
    else:
        c.f.append("the VM's QEMU runs on %s" % res["runs_on"])


def restarted_late(h):
    def recover(c, r):
        c.res["journal_after_kill"] = journal_left(c.name)
        time.sleep(1)
        restart(c, h)
        c.res["settle"] = wait_settled(c.name)
        time.sleep(1)
        on_host_intact(c.res, c.f, c.name, c.mac, c.ip, "B")
    return recover


# the cases' own steps
def bad_dest_vf(c):
    """B's registration names a VF port that does not exist (hx-NAME)."""
    env = vm_env(c.name)
    cli("B", "vm", "del", c.name)
    cli("B", "vm", "add", c.name, *vm_add_args(c.name, env["MAC"], env["MODE"],
                                               vf_port="hx-" + c.name))


def good_dest_vf(c):
    cli("B", "vm", "del", c.name, check=False)
    register_host("B", c.name, False)


def source_moved(c, r):
    moved = [ph for ph in r["phases"] if ph in ("S_STEER_STANDBY", "S_SWITCH_TX",
                                                "S_UNPLUG_VF", "S_MIGRATING", "S_STOPPED")]
    if moved:
        return "the source moved before the destination failed: %s" % moved
    return None


def qemu_left_on_b(c, r):
    c.res["qemu_on_B"] = pid_alive(inst(c.name, "hB", "qemu.pid"))
    if c.res["qemu_on_B"]:
        return "an incoming QEMU left running on B"
    return None


def take_monitor(c):
    c.mon = free_monitor(c.name)


def fast_bandwidth(c):
    c.res["bandwidth"] = qmp_cmd(free_monitor(c.name), "migrate-set-parameters",
                                 json.dumps({"max-bandwidth": FAST_BW}))


def ctrl_c(c, r):
    """The same cancel with Ctrl-C on a text-mode `hybond migrate` ("cancelling…"); then
    `hybond cancel` without a migration must be refused."""
    name, res, f = c.name, c.res, c.f
    sub, g = {}, []
    p = subprocess.Popen([CLI, "-s", ctl("A"), "migrate", name, "--to", "B"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = []
    for line in p.stdout:
        out.append(line.rstrip("\n"))
        if "S_MIGRATING" in line and " active," in line and "sigint" not in sub:
            p.send_signal(signal.SIGINT)
            sub["sigint"] = line.strip()
    err = p.stderr.read()
    sub.update({"rc": p.wait(), "stdout_tail": out[-4:], "stderr": err.strip()})
    res["ctrl_c"] = sub
    if "sigint" not in sub:
        g.append("Ctrl-C: S_MIGRATING/active never printed")
    if "cancelling" not in err:
        g.append("Ctrl-C: no 'cancelling…' on stderr: %r" % err)
    if sub["rc"] == 0 or not any(l.startswith("error:") and "cancel" in l for l in out):
        g.append("Ctrl-C: no failed result naming the cancel (rc %s): %s" % (sub["rc"], out[-3:]))
    time.sleep(1)
    probe = Probe(c.ip)
    try:
        on_a_intact(sub, g, name, c.mac, c.ip)
    finally:
        probe.stop()
    f += ["ctrl-c: " + e for e in g]
    nothing = cli("A", "cancel", name, check=False)
    res["cancel_idle"] = nothing
    if nothing.get("ok") or "no migration" not in (nothing.get("error") or ""):
        f.append("cancel without a migration not refused clearly: %s" % nothing)


def killed(who):
    def missed(fired, r, c):
        if "killed_pid" not in fired:
            return "%s was not killed in MIGRATING: %s" % (who, fired)
        return None
    return missed


def late_case(name, h):
    """A daemon SIGKILLed after the migration completed (the source in DEST_SWITCHBACK, the
    destination waiting for the guest's VF), then started again and the VM registered again
    as an operator (or hostd.conf) would: the VM ends on B's fast path (B's daemon alone, or
    its recovery from D_WAIT_VF), A's side is cleaned up (A's daemon, or its recovery from
    DEST_SWITCHBACK: QEMU postmigrate -> CLEANUP)."""
    def missed(fired, r, c):
        if "killed_pid" not in fired:
            return "the daemon on %s was not killed in S_DEST_SWITCHBACK: %s" % (h, fired)
        return None
    return Case(name, prepare=fast_bandwidth, trigger=sigkill_at_switchback(h),
                recover=restarted_late(h), drop="finally", fired_key="kill",
                report=("phases", "final", "cli_stderr"), missed=missed, journal=h,
                must_complete=h == "B")


CASES = {c.name: c for c in (
    # No guest agent: refused without --force (VM untouched); with --force plain QEMU
    # order: migrates, warns in JSON and text, the destination steers to its VF at RESUME
    # and the guest is reachable on B over its VF.
    Case("no_agent", agent=0, own=case_no_agent),
    # B's registration names a VF port that does not exist: fail before S moves anything.
    Case("no_dest_vf", prepare=bad_dest_vf, recover=back_on_a, cleanup=good_dest_vf,
         timed=True, report=("error", "phases"), words=("hx-{vm}", "port", "VF"),
         checks=(source_moved, qemu_left_on_b)),
    # The incoming QEMU on B dies after MIGRATE_READY (--kill-at: at this source phase or
    # later): S rolls back to its fast path, and stays there although QEMU re-plugs a
    # failover primary late (RB_SETTLE).
    Case("dest_dies", prepare=lambda c: c.res.update(kill_at=c.kill_at),
         trigger=at_phase_from, recover=back_on_a, fired_key="killed",
         report=("error", "phases"),
         missed=lambda k, r, c: None if "pid" in k else
         "the incoming QEMU was not killed (%s; phases seen %s)"
         % (k.get("error", "phase not reached"), r["phases"]),
         words=("incoming", "destination", "migration failed", "cancelled"), rollback=True),
    # `hybond cancel` during MIGRATING: QMP migrate_cancel, the rollback, the VM on A on its
    # fast path; then Ctrl-C on a text-mode `hybond migrate` does the same ("cancelling…");
    # cancel is refused without a migration.
    Case("cancel",
         trigger=lambda c: at_active(lambda: {"answer": cli("A", "cancel", c.name,
                                                            check=False)}),
         recover=back_on_a, fired_key="cancel", report=("error", "phases"),
         missed=lambda fired, r, c: None if (fired.get("answer") or {}).get("ok") else
         "hybond cancel was not accepted: %s" % fired,
         words=("cancel",),
         checks=(lambda c, r: None if r["final"].get("cancelled") else
                 "the result does not say cancelled: %s" % r["final"],
                 lambda c, r: None if "S_CANCEL" in r["phases"] else
                 "no S_CANCEL (QMP migrate_cancel) in the phases %s" % r["phases"]),
         rollback=True, then=ctrl_c),
    # Someone runs migrate_cancel on the source QEMU's monitor: the same clean rollback.
    Case("qemu_cancel", prepare=take_monitor,
         trigger=lambda c: at_active(lambda: qmp_cmd(c.mon, "migrate_cancel")),
         recover=back_on_a, fired_key="qmp_cancel", report=("error", "phases"),
         missed=lambda fired, r, c: None if (fired.get("rc") if fired else None) == 0 else
         "migrate_cancel on the QEMU monitor failed: %s" % fired,
         words=("cancelled",), rollback=True),
    # B's daemon SIGKILLed while RAM moves: A cancels (QMP) and rolls back to its fast
    # path; B's restarted daemon finds its journal and cleans its side up.
    Case("sigkill_dst", trigger=lambda c: at_active(lambda: {"killed_pid": c.D.kill("B")}),
         recover=dst_restarted, fired_key="kill", report=("error", "phases"),
         missed=killed("B's daemon"), words=("peer",), rollback=True),
    # A's daemon SIGKILLed while RAM moves, then started again (the VM registered again):
    # its journal says S_MIGRATING, QEMU says where the migration stands; the VM ends on
    # the fast path on whichever host runs it, nothing left on the other one.
    Case("sigkill_src", trigger=lambda c: at_active(lambda: {"killed_pid": c.D.kill("A")}),
         recover=src_restarted, fired_key="kill", report=("phases", "cli_stderr"),
         missed=killed("A's daemon"), journal="A", drop="unless_on_A"),
    late_case("sigkill_src_late", "A"),
    late_case("sigkill_dst_late", "B"),
)}


# make check-lab: everything in failover mode; in bond mode what differs there (the VF is
# unplugged and re-plugged by the daemon: no-agent device_add, cancel and SIGKILL rollbacks)
CHECK_CASES = {"failover": ["no_dest_vf", "cancel", "qemu_cancel", "dest_dies", "sigkill_dst",
                            "sigkill_src", "sigkill_src_late", "sigkill_dst_late", "no_agent"],
               "bond": ["cancel", "sigkill_src", "no_agent"]}


def failures_run(D, plan, kill_at):
    out = []
    for mode, cases in plan:
        fx = {1: Fx(mode, 1), 0: Fx(mode, 0, slow=False)}
        for c in cases:
            x = fx[CASES[c].agent]
            t0 = time.monotonic()
            try:
                r, f = run_case(CASES[c], x, D, mode, kill_at)
            except (Fail, OSError, subprocess.SubprocessError, ValueError) as e:
                r, f = {"case": c, "mode": mode}, ["%s: %s" % (type(e).__name__, e)]
            daemons_alive(D, f)
            crash = guest_crash(r["vm"]) if r.get("vm") else None
            if crash:
                f.insert(0, "the guest kernel crashed (%s): %s" % (
                    os.path.join(LOGS, r["vm"], "serial.log"), crash))
            if f:               # a failed case may leave the VM anywhere: a fresh one next
                x.drop()
            r["failures"] = f
            r["case_s"] = round(time.monotonic() - t0, 1)
            say("failures %s (%s): %s in %.0f s" % (c, mode, "PASS" if not f else
                                                     "FAIL: " + "; ".join(f), r["case_s"]))
            out.append(r)
        for x in fx.values():
            x.drop()
    return out


def md_table(results):
    out = ["| mode | run | lost to guest | lost from guest | longest outage ms | worst RTT ms | "
           "QEMU downtime ms | total ms | VF up after resume ms | VF up -> fast path ms |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        s = r.get("summary", {})
        out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["mode"], r.get("run", "-"), fmt(s.get("lost_to_guest")), fmt(s.get("lost_from_guest")),
            fmt(s.get("longest_outage_ms")), fmt(s.get("max_rtt_ms")),
            fmt(s.get("qemu_downtime_ms")), fmt(s.get("total_ms")),
            fmt(s.get("vf_up_after_resume_ms")), fmt(s.get("vf_up_to_fast_path_ms"))))
    return out


def baseline(runs, out):
    """The plain-QEMU baseline in the same session (bench.py, static eswitch)."""
    r = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "bench.py"), "--runs", str(runs),
                        "--out", out, "--cases", "failover:static,bond:static"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, B=B))
    try:
        with open(os.path.join(out, "baseline.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"error": r.stderr[-2000:]}


def main(argv):
    ap = argparse.ArgumentParser(prog="hostd_migrate.py")
    ap.add_argument("what", choices=("check", "bench", "run", "failures"))
    ap.add_argument("--mode", choices=("failover", "bond"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(B, "bench"))
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--cases", help="failures: comma-separated subset of %s (default: the "
                    "make check-lab set per mode)" % ",".join(CASES))
    ap.add_argument("--kill-at", default="S_MIGRATING",
                    choices=("S_STEER_STANDBY", "S_SWITCH_TX", "S_UNPLUG_VF", "S_MIGRATING"),
                    help="failures dest_dies: kill B's incoming QEMU at this source phase")
    ap.add_argument("--peer", choices=("unix", "tls"),
                    help="the daemons' peer channel: unix sockets, or TCP + mutual TLS over a "
                    "veth (default: tls for check, unix otherwise)")
    a = ap.parse_args(argv)
    peer = a.peer or ("tls" if a.what == "check" else "unix")
    if a.what == "failures":
        modes = [a.mode] if a.mode else ["failover", "bond"]
        plan = [(m, a.cases.split(",") if a.cases else CHECK_CASES[m]) for m in modes]
        bad = [c for _, cs in plan for c in cs if c not in CASES]
        if bad:
            ap.error("unknown case(s) %s" % bad)
        t0 = time.monotonic()
        with HostdLab(peer) as hl:
            res = failures_run(hl.d, plan, a.kill_at)
        print(json.dumps(res, indent=1))
        failed = [r for r in res if r["failures"]]
        say("failures: %d of %d cases passed in %.0f s" % (len(res) - len(failed), len(res),
                                                           time.monotonic() - t0))
        for r in failed:
            say("FAIL %s (%s): %s" % (r["case"], r["mode"], "; ".join(r["failures"])))
        return 1 if failed else 0
    modes = [a.mode] if a.mode else ["failover", "bond"]
    runs = a.runs if a.what == "bench" else 1
    results, failures, misses = [], [], []
    say("peer channel: %s" % peer)
    with HostdLab(peer):
        if peer == "tls":
            pc = cli("A", "peer-check", "B", check=False)
            say("peer-check B: %s" % json.dumps(pc))
            if not pc.get("ok"):
                failures.append("hybond peer-check B: %s" % pc.get("error"))
        for mode in modes:
            for i in range(runs):
                name = "hd%s%d" % (mode[0], i)
                try:
                    r = one_run(mode, name)
                except (Fail, OSError, subprocess.TimeoutExpired) as e:
                    r = {"mode": mode, "vm": name, "failures": [str(e)]}
                r["run"] = i + 1
                results.append(r)
                for f in r["failures"]:
                    failures.append("%s run %d: %s" % (mode, i + 1, f))
                for f in r.get("bar_missed", []):
                    misses.append("%s run %d: %s" % (mode, i + 1, f))
                say("%s run %d: %s" % (mode, i + 1, json.dumps(r.get("summary"))))
    base = None
    if a.what == "bench" and not a.no_baseline:
        base = baseline(runs, a.out)
    if a.what == "bench":
        os.makedirs(a.out, exist_ok=True)
        meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S"), "host": platform.node(),
                "runs": runs, "udp_rate_pps": UDP_RATE}
        with open(os.path.join(a.out, "hostd.json"), "w") as f:
            json.dump({"meta": meta, "results": results, "failures": failures, "bar_missed": misses,
                       "baseline": base}, f, indent=1)
        lines = ["### hybond migrate (hybond-hostd, static eswitch, %d pps each way)" %
                 UDP_RATE, "", "Measured %s, %d runs per mode (`make bench`)." % (
                     meta["date"], runs), ""] + md_table(results)
        if misses:
            lines += ["", "Runs that missed the 0-loss bar (all within the floor rate x "
                      "(downtime + 20 ms), all at stop-and-copy):"] + ["- " + f for f in misses]
        if failures:
            lines += ["", "Runs that failed:"] + ["- " + f for f in failures]
        update_doc(DOC_BEGIN, DOC_END, lines)
        say("wrote %s/hostd.json and the docs/benchmarks.md section" % a.out)
    elif a.what == "run":
        print(json.dumps(results, indent=1))
    for f in misses:
        say("bar missed (0 lost): " + f)
    for f in failures:
        say("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
