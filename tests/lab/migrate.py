#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Live-migrate a lab VM to the other host: `lab migrate NAME --to B [-j]`.

Phases (each one is also a "lab" record in build/lab/run/NAME/events.jsonl):
  PREPARE   destination taps (static eswitch: the VM MAC's sticky FDB entry on the
            destination's VF port, as a NIC has it from the start) and a QEMU with
            the same devices and -incoming defer (bond mode: without the e1000e)
  UNPLUG    bond mode: device_del vf0 on the source, wait DEVICE_DELETED
            (failover mode: QEMU unplugs the primary itself: UNPLUG_PRIMARY,
            status wait-unplug)
  MIGRATE   migrate uri=unix:...; when the source VF is gone, the static FDB entry
            on the source's VF port is removed
  RESUME    destination RESUME; bond mode: device_add of a fresh e1000e; failover
            mode: QEMU re-plugs the primary after FAILOVER_NEGOTIATED
  FINISH    source QEMU quit, its taps removed; wait until the guest reports its
            e1000e up on the destination
A failed migration leaves the source running (its VF and FDB entry restored) and
removes the destination.

--agent-fdb (a hybond host agent drives the eswitch): the destination's static
entry for the VM MAC starts on the STANDBY port, and the lab neither removes nor
restores the source's entry; the caller moves both (tests/lab/agent_switch.py).
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import QMP, QMPError, lab_record, wait_record  # noqa: E402

RUN = os.environ.get("HBL_RUN", "/run/hybond-lab")
PFX = os.environ.get("HBL_PREFIX", "hbl-")
LOGS = os.environ.get("HBL_LOGS", "build/lab/run")
LAB = os.environ.get("HBL_LAB", os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab"))

UNPLUG_TIMEOUT_S = 30.0
MIGRATE_TIMEOUT_S = 300.0
RESUME_TIMEOUT_S = 30.0
NEGOTIATE_TIMEOUT_S = 30.0


class MigrationFailed(Exception):
    pass


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.strip().partition("=")
            if k:
                env[k] = v
    return env


class Migration:
    def __init__(self, name, dst, vf_timeout_s, wait_vf, agent_fdb=False):
        self.name = name
        self.vm = load_env(os.path.join(RUN, "vms", name, "vm.env"))
        self.mode = self.vm["MODE"]
        self.mac = self.vm["MAC"]
        self.src = self.vm["HOST"]
        self.dst = "h" + dst.lstrip("h")
        if self.dst not in ("hA", "hB"):
            raise SystemExit("lab migrate: --to A|B")
        if self.dst == self.src:
            raise SystemExit("lab migrate: %s already runs on %s" % (name, self.src))
        with open(os.path.join(RUN, "eswitch")) as f:
            self.eswitch = f.read().strip()
        self.events = os.path.join(LOGS, name, "events.jsonl")
        self.vf_timeout_s = vf_timeout_s
        self.wait_vf = wait_vf
        self.agent_fdb = agent_fdb
        self.qs = self.qd = None
        self.src_fdb_removed = False
        self.src_vf_deleted = False
        self.dst_started = False
        self.result = {"vm": name, "mode": self.mode, "eswitch": self.eswitch,
                       "from": self.src, "to": self.dst}

    def inst(self, host, f=""):
        return os.path.join(RUN, "vms", self.name, host, f)

    def rec(self, event, host=None, **data):
        return lab_record(self.events, host or self.src, event, **data)["ts"]

    def lab(self, *args, env=None):
        r = subprocess.run([LAB] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, env=dict(os.environ, **env) if env else None)
        if r.returncode != 0:
            raise MigrationFailed("lab %s: %s" % (" ".join(args), r.stdout.strip()))

    def fdb_src(self, op):
        """Add/remove the VM MAC's static entry on the source's VF port."""
        if self.eswitch != "static" or self.agent_fdb:
            return
        if op == "del" and not self.src_fdb_removed:
            subprocess.run(["bridge", "-n", PFX + self.src, "fdb", "del", self.mac, "dev",
                            "hv-" + self.name, "master"], stderr=subprocess.DEVNULL)
            self.src_fdb_removed = True
            self.rec("FDB_DEL", port="hv-" + self.name)
        elif op == "add" and self.src_fdb_removed:
            self.lab("_fdb-add", self.name, self.src)
            self.src_fdb_removed = False
            self.rec("FDB_ADD", port="hv-" + self.name)

    # --- phases --------------------------------------------------------------------
    def prepare(self):
        self.rec("MIGRATE_BEGIN", to=self.dst, mode=self.mode, eswitch=self.eswitch)
        self.qs = QMP(self.inst(self.src, "qmp.sock"))
        st = self.qs.cmd("query-status")
        if st.get("status") != "running":
            raise MigrationFailed("source QEMU is %s, not running" % st.get("status"))
        self.dst_started = True
        # --agent-fdb: the destination steers the VM MAC to the standby port until
        # the host agent moves it (after the guest reports its new VF up)
        self.lab("_dest-prepare", self.name, self.dst,
                 env={"HBL_DST_FDB": "standby"} if self.agent_fdb else None)
        self.qd = QMP(self.inst(self.dst, "qmp.sock"))
        caps = [{"capability": "events", "state": True}]
        self.qs.cmd("migrate-set-capabilities", capabilities=caps)
        self.qd.cmd("migrate-set-capabilities", capabilities=caps)
        self.uri = "unix:" + self.inst(self.dst, "mig.sock")
        self.qd.cmd("migrate-incoming", uri=self.uri)
        self.rec("PREPARED", host=self.dst)

    def unplug(self):
        if self.mode != "bond":
            return
        self.rec("VF_DEL_CMD", device="vf0")
        self.qs.cmd("device_del", id="vf0")
        try:
            self.qs.wait_event("DEVICE_DELETED", UNPLUG_TIMEOUT_S,
                               lambda d: d.get("device") == "vf0")
        except TimeoutError:
            raise MigrationFailed("the guest did not release vf0 within %.0f s" % UNPLUG_TIMEOUT_S)
        self.src_vf_deleted = True
        self.fdb_src("del")

    def migrate(self):
        self.result["t_migrate_cmd"] = self.rec("MIGRATE_CMD", uri=self.uri)
        self.qs.cmd("migrate", uri=self.uri)
        deadline = time.monotonic() + MIGRATE_TIMEOUT_S
        last_query = 0.0
        while True:
            status = None
            for e in self.qs.poll_events(0.2):
                d = e.get("data", {})
                if e["event"] == "DEVICE_DELETED" and d.get("device") == "vf0":
                    self.fdb_src("del")
                elif e["event"] == "MIGRATION":
                    status = d.get("status")
            if status is None and time.monotonic() - last_query > 1.0:
                last_query = time.monotonic()
                status = self.qs.cmd("query-migrate").get("status")
            if status == "active" and self.mode == "failover":
                # QEMU leaves wait-unplug only once the guest released the primary
                self.fdb_src("del")
            if status == "completed":
                break
            if status in ("failed", "cancelled"):
                info = self.qs.cmd("query-migrate")
                raise MigrationFailed("migration %s: %s" % (status, info.get("error-desc", "?")))
            if time.monotonic() > deadline:
                self.qs.cmd("migrate_cancel")
                raise MigrationFailed("migration did not complete within %.0f s" % MIGRATE_TIMEOUT_S)
        # the MIGRATION event can beat the final statistics: wait for total-time
        for _ in range(50):
            info = self.qs.cmd("query-migrate")
            if info.get("total-time"):
                break
            time.sleep(0.02)
        self.result.update({
            "status": info.get("status"),
            "downtime_ms": info.get("downtime"),
            "total_time_ms": info.get("total-time"),
            "setup_time_ms": info.get("setup-time"),
            "ram_transferred": info.get("ram", {}).get("transferred"),
        })
        self.result["t_completed"] = self.rec("MIGRATE_DONE", **{
            k: info.get(k) for k in ("downtime", "total-time", "setup-time")})

    def resume(self):
        try:
            self.qd.wait_event("RESUME", RESUME_TIMEOUT_S)
        except TimeoutError:
            st = self.qd.cmd("query-status")
            if st.get("status") != "running":
                raise MigrationFailed("destination did not resume (status %s)" % st.get("status"))
        if self.mode == "bond":
            self.result["t_vf_add_cmd"] = self.rec("VF_ADD_CMD", host=self.dst, device="vf0")
            self.qd.cmd("device_add", driver="e1000e", id="vf0", netdev="nv", mac=self.mac,
                        bus="rp1", romfile="")
        # the source is over: quit it, drop its taps, the VM now lives on dst
        self.qs.close()
        self.qs = None
        self.lab("_src-finish", self.name, self.src, self.dst)
        self.rec("SOURCE_GONE")
        if self.mode == "failover":
            try:
                self.qd.wait_event("FAILOVER_NEGOTIATED", NEGOTIATE_TIMEOUT_S)
            except TimeoutError:
                print("lab migrate: warning: no FAILOVER_NEGOTIATED on %s within %.0f s"
                      % (self.dst, NEGOTIATE_TIMEOUT_S), file=sys.stderr)

    def finish(self):
        if not self.wait_vf:
            return
        rec = wait_record(self.events, "LINK", self.dst,
                          [("driver", "e1000e"), ("operstate", "up")],
                          since=self.result["t_migrate_cmd"], timeout_s=self.vf_timeout_s)
        if rec is None:
            raise MigrationFailed("migrated, but the guest did not report its e1000e up on %s "
                                  "within %.0f s" % (self.dst, self.vf_timeout_s))
        self.result["t_vf_up"] = rec["ts"]

    # --- failure ---------------------------------------------------------------------------
    def rollback(self):
        """Destination away, source running with its VF and FDB entry."""
        if self.qd:
            self.qd.close()
        if self.dst_started:
            try:
                self.lab("_dest-abort", self.name, self.dst)
            except MigrationFailed as e:
                print("lab migrate: %s" % e, file=sys.stderr)
        if self.qs is None:
            return
        try:
            st = self.qs.cmd("query-status").get("status")
            if st not in ("running",):
                self.qs.cmd("cont")
            if self.src_vf_deleted:
                self.qs.cmd("device_add", driver="e1000e", id="vf0", netdev="nv", mac=self.mac,
                            bus="rp1", romfile="")
            self.fdb_src("add")
            self.rec("ROLLED_BACK", status=st)
        except (QMPError, EOFError, OSError, MigrationFailed) as e:
            print("lab migrate: rollback on %s: %s" % (self.src, e), file=sys.stderr)

    def run(self):
        try:
            self.prepare()
            self.unplug()
            self.migrate()
        except (MigrationFailed, QMPError, TimeoutError, EOFError, OSError) as e:
            self.rec("MIGRATE_FAILED", error=str(e))
            self.rollback()
            raise MigrationFailed("%s stays on %s: %s" % (self.name, self.src, e))
        self.resume()
        self.finish()
        if self.qd:
            self.qd.close()
        return self.result


def fmt_summary(r):
    s = "migrate %s %s -> %s (%s, eswitch %s): %s; QEMU downtime %s ms, total %s ms" % (
        r["vm"], r["from"], r["to"], r["mode"], r["eswitch"], r.get("status"),
        r.get("downtime_ms"), r.get("total_time_ms"))
    if "t_vf_up" in r:
        s += "; VF up in the guest %.2f s after the migrate command" % (
            r["t_vf_up"] - r["t_migrate_cmd"])
    return s


def main(argv):
    ap = argparse.ArgumentParser(prog="lab migrate")
    ap.add_argument("name")
    ap.add_argument("--to", required=True, help="destination host: A or B")
    ap.add_argument("-j", "--json", action="store_true", help="print the result as JSON")
    ap.add_argument("--no-wait-vf", action="store_true",
                    help="do not wait for the guest to report its VF up")
    ap.add_argument("--vf-timeout", type=float, default=60.0)
    ap.add_argument("--agent-fdb", action="store_true",
                    help="a host agent owns the FDB: destination entry on the standby port, "
                         "source entry left alone")
    a = ap.parse_args(argv)
    m = Migration(a.name, a.to, a.vf_timeout, not a.no_wait_vf, a.agent_fdb)
    try:
        r = m.run()
    except MigrationFailed as e:
        print("lab migrate: FAILED: %s" % e, file=sys.stderr)
        return 1
    print(json.dumps(r) if a.json else fmt_summary(r))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
