# SPDX-License-Identifier: LGPL-2.1-or-later
"""The host side of a hybond switch by hand: the guest channel (hybond-guestctl `watch -j
--stdin`), the VM MAC's static FDB entry, the e1000e "VF" by QMP, one VM on host A.

agent_switch.py plays a switch with these against the real guest agent; guest_rxcost.py
and guest_txpin.py measure its pieces.
"""
import json
import os
import subprocess
import threading
import time

from labkit.lab import GUESTCTL, LOGS, PFX, inst, lab, sh, vm_env
from labkit.verdict import Fail
from qmp import QMP, QMPError, lab_record

PREPARE_DEADLINE_MS = 2000
RESUME_DEADLINE_MS = 10000
SESSION_TIMEOUT_S = 20.0


def rec(name, host, event, **data):
    return lab_record(os.path.join(LOGS, name, "events.jsonl"), host, event, **data)["ts"]


# --- the eswitch: the VM MAC's static entry ---------------------------------------------
def fdb_to(name, host, port_kind):
    """Move the VM MAC's static sticky entry to the standby ("hs") or VF ("hv") tap."""
    env = vm_env(name)
    port = "%s-%s" % (port_kind, name)
    sh(["bridge", "-n", PFX + host, "fdb", "replace", env["MAC"], "dev", port, "master",
        "static", "sticky"])
    return rec(name, host, "AGENT_FDB", port=port)


# --- the guest channel: hybond-guestctl watch -j --stdin ----------------------------------
class Chan:
    """One guestctl process; every JSON line it prints is kept, with an index to wait on."""

    def __init__(self, sock, log_path):
        self.log = open(log_path, "a")
        self.p = subprocess.Popen([GUESTCTL, "--sock", sock, "watch", "-j", "--stdin"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.log, text=True, bufsize=1)
        self.recs = []
        self.cv = threading.Condition()
        self.t = threading.Thread(target=self._reader, daemon=True)
        self.t.start()

    def _reader(self):
        for line in self.p.stdout:
            self.log.write(line)
            self.log.flush()
            try:
                r = json.loads(line)
            except ValueError:
                continue
            with self.cv:
                self.recs.append(r)
                self.cv.notify_all()
        with self.cv:
            self.recs.append({"eof": True, "ts": time.time()})
            self.cv.notify_all()

    def mark(self):
        with self.cv:
            return len(self.recs)

    def send(self, line):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()

    def wait(self, pred, timeout_s, since=0):
        deadline = time.monotonic() + timeout_s
        with self.cv:
            i = since
            while True:
                while i < len(self.recs):
                    r = self.recs[i]
                    i += 1
                    if pred(r):
                        return r
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cv.wait(left)

    def request(self, line, timeout_s):
        what = line.split()[0]
        i = self.mark()
        self.send(line)
        r = self.wait(lambda x: x.get("result") in (what, "send", "parse"), timeout_s, i)
        if r is None:
            raise Fail("%s: no result from guestctl within %.0f s" % (line, timeout_s))
        if not r.get("ok"):
            raise Fail("%s: %s" % (line, r.get("error")))
        return r

    def close(self):
        try:
            self.send("quit")
            self.p.wait(timeout=3)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            self.p.terminate()
            self.p.wait(timeout=3)
        self.log.close()


def is_status(r):
    return r.get("type") == "STATUS" and r.get("dir") == "rx" and "pairs" in r.get("body", {})


def wait_session_status(chan, since, timeout_s=SESSION_TIMEOUT_S):
    """Session up, then the guest's first STATUS: returns its first pair."""
    if chan.wait(lambda r: r.get("session") == "up", timeout_s, since) is None:
        raise Fail("no session with the guest agent within %.0f s (no HELLO)" % timeout_s)
    r = chan.wait(lambda r: is_status(r) and r["body"]["pairs"], timeout_s, since)
    if r is None:
        raise Fail("the guest agent reported no failover pair within %.0f s" % timeout_s)
    return r["body"]["pairs"][0]


def vf_up_pred(pair):
    """The guest says a VF of the pair is up: an EVENT on an interface that is neither the
    master nor the standby with link and carrier, or a STATUS whose VF has both."""
    others = (pair["master"]["name"], pair["standby"]["name"])

    def pred(r):
        b = r.get("body", {})
        if r.get("type") == "EVENT" and b.get("pair_id") == pair["id"]:
            return (b.get("ifname") not in others and b.get("link") == 1
                    and b.get("carrier") == 1)
        if is_status(r):
            for p in b["pairs"]:
                vf = p.get("vf")
                if p["id"] == pair["id"] and vf and vf.get("link") == 1 and vf.get("carrier") == 1:
                    return True
        return False
    return pred


# --- QMP -----------------------------------------------------------------------------------
def qmp_exec(q, command, args, timeout_s=30.0):
    """One QMP command with arguments as a dict: QMP.cmd() cannot pass an argument called
    "name" (set_link has one)."""
    q.ls.sock.sendall(json.dumps({"execute": command, "arguments": args}).encode() + b"\n")
    deadline = time.monotonic() + timeout_s
    keep = []
    try:
        while True:
            msg = q._next(deadline - time.monotonic())
            if "event" in msg:
                keep.append(msg)      # left for wait_event()
                continue
            if "error" in msg:
                raise QMPError("%s: %s" % (command, msg["error"].get("desc", msg["error"])))
            return msg.get("return")
    finally:
        q.pending[:0] = keep


def vf_add(q, vm, link_off=False):
    """Plug an e1000e "VF" with the lab's options. QEMU 7.2 cannot re-add a device whose id
    came from -device ("Duplicate ID 'vf0'": its QemuOpts outlive device_del), and a failover
    standby takes only that one primary id ("Cannot attach more than one primary device"):
    so a re-plug in the same QEMU is a plain e1000e with the same MAC and a fresh id, which
    net_failover enslaves as its primary by MAC (bonding: the guest enslaves it)."""
    env = vm_env(vm.name)
    args = dict(driver="e1000e", id="vf0", netdev="nv", mac=env["MAC"], bus="rp1", romfile="")
    if env["MODE"] == "failover":
        args["failover_pair_id"] = "standby0"
    try:
        q.cmd("device_add", **args)
    except QMPError as e:
        if "Duplicate ID" not in str(e):
            raise
        vm.vf_seq += 1
        args["id"] = "vf%d" % vm.vf_seq
        args.pop("failover_pair_id", None)
        q.cmd("device_add", **args)
    vm.vf_id = args["id"]
    if link_off:
        qmp_exec(q, "set_link", {"name": vm.vf_id, "up": False})


def vf_del(q, vm, timeout_s=30.0):
    q.cmd("device_del", id=vm.vf_id)
    try:
        q.wait_event("DEVICE_DELETED", timeout_s, lambda d: d.get("device") == vm.vf_id)
    except TimeoutError:
        raise Fail("the guest did not release %s within %.0f s" % (vm.vf_id, timeout_s))


# --- one VM on host A, with its channel -----------------------------------------------------
class VM:
    def __init__(self, name, mode, agent=1):
        self.name, self.mode = name, mode
        lab("vm", "start", "--host", "A", "--name", name, "--mode", mode, "--agent", str(agent))
        env = vm_env(name)
        self.ip = env["IP"].split("/")[0]
        self.host = env["HOST"]
        self.chan = None
        self.pair = None
        self.vf_id = "vf0"
        self.vf_seq = 0

    def connect(self):
        self.chan = Chan(inst(self.name, self.host, "agent.sock"),
                         os.path.join(LOGS, self.name, "guestctl.jsonl"))
        self.pair = wait_session_status(self.chan, 0)
        return self.pair

    def qmp(self):
        return QMP(inst(self.name, self.host, "qmp.sock"))

    def stop(self):
        if self.chan:
            self.chan.close()
            self.chan = None
        lab("vm", "stop", self.name, check=False)
