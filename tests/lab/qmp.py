#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""QMP client and event log for the hybond lab (stdlib only).

As a module:  QMP(path).cmd("query-status") ; .wait_event("STOP", timeout=5)
As a tool:
  qmp.py cmd SOCK COMMAND [JSON-ARGS]     run one command, print its return as JSON
  qmp.py log --qmp SOCK [--guest SOCK] --host hA --out events.jsonl
          log every QMP event (with QEMU's own timestamp) and every line the guest
          writes on its org.hybond.lab.log port (stamped on arrival) as JSON lines,
          until QEMU goes away
  qmp.py wait FILE --event NAME [--host hA] [--match k=v]... [--since TS] [--timeout S]
          wait until events.jsonl has a matching record, print it

events.jsonl records (one JSON object per line):
  {"ts": 1764085000.123456, "host": "hA", "src": "qmp",   "event": "STOP", "data": {}}
  {"ts": ...,               "host": "hB", "src": "guest", "event": "LINK",
   "data": {"ifname": "eth1", "operstate": "up", "carrier": "1", "driver": "e1000e", ...}}
  {"ts": ...,               "host": "hA", "src": "lab",   "event": "MIGRATE_CMD", ...}
ts is realtime in seconds (QMP: the event's own timestamp; guest and lab: host
clock when the line arrived / the action was taken).
"""
import json
import os
import select
import socket
import sys
import time

CONNECT_TIMEOUT_S = 10.0


class QMPError(Exception):
    pass


def connect_unix(path, timeout_s=CONNECT_TIMEOUT_S):
    """Connect to a unix socket, retrying while the server is not there yet."""
    deadline = time.monotonic() + timeout_s
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except (FileNotFoundError, ConnectionRefusedError):
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


class LineSock:
    """Newline-framed reads from a stream socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False

    def fileno(self):
        return self.sock.fileno()

    def read_lines(self):
        """One recv(); returns the complete lines it finished."""
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return []
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        return [l.decode("utf-8", "replace").rstrip("\r") for l in lines]


def event_ts(msg):
    t = msg.get("timestamp", {})
    return t.get("seconds", 0) + t.get("microseconds", 0) / 1e6


class QMP:
    def __init__(self, path, timeout_s=CONNECT_TIMEOUT_S):
        self.path = path
        self.ls = LineSock(connect_unix(path, timeout_s))
        self.pending = []          # complete JSON messages not consumed yet
        self.events = []           # every event seen on this connection
        greeting = self._next(timeout_s)
        if "QMP" not in greeting:
            raise QMPError("%s: no QMP greeting" % path)
        self.cmd("qmp_capabilities")

    def close(self):
        self.ls.sock.close()

    def _fill(self, timeout_s):
        r, _, _ = select.select([self.ls], [], [], max(0.0, timeout_s))
        if not r:
            return False
        for line in self.ls.read_lines():
            if line.strip():
                msg = json.loads(line)
                if "event" in msg:
                    self.events.append(msg)
                self.pending.append(msg)
        if self.ls.eof:
            raise EOFError("%s: QEMU closed the QMP connection" % self.path)
        return True

    def _next(self, timeout_s):
        deadline = time.monotonic() + timeout_s
        while not self.pending:
            if not self._fill(deadline - time.monotonic()) and time.monotonic() >= deadline:
                raise TimeoutError("%s: no QMP message in %.1f s" % (self.path, timeout_s))
        return self.pending.pop(0)

    def cmd(self, name, timeout_s=30.0, **args):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.ls.sock.sendall(json.dumps(req).encode() + b"\n")
        deadline = time.monotonic() + timeout_s
        keep = []
        try:
            while True:
                msg = self._next(deadline - time.monotonic())
                if "event" in msg:
                    keep.append(msg)      # left for wait_event()
                    continue
                if "error" in msg:
                    raise QMPError("%s: %s" % (name, msg["error"].get("desc", msg["error"])))
                return msg.get("return")
        finally:
            self.pending[:0] = keep

    def poll_events(self, timeout_s=0.0):
        """Events that arrived (waiting up to timeout_s for the first)."""
        if not self.pending:
            self._fill(timeout_s)
        while self._fill(0):
            pass
        evs = [m for m in self.pending if "event" in m]
        self.pending = [m for m in self.pending if "event" not in m]
        return evs

    def wait_event(self, name, timeout_s, pred=None):
        deadline = time.monotonic() + timeout_s
        while True:
            for i, m in enumerate(self.pending):
                if m.get("event") == name and (pred is None or pred(m.get("data", {}))):
                    del self.pending[i]
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%s: no %s event in %.1f s" % (self.path, name, timeout_s))
            self._fill(left)


# --- events.jsonl ----------------------------------------------------------------------
def append_record(path, rec):
    line = json.dumps(rec, sort_keys=True) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def lab_record(path, host, event, **data):
    rec = {"ts": time.time(), "host": host, "src": "lab", "event": event, "data": data}
    append_record(path, rec)
    return rec


def parse_guest_line(line):
    """'LINK eth1 up carrier=1 driver=e1000e master=eth0' -> ('LINK', {...})."""
    words = line.split()
    if not words:
        return None, {}
    ev, data, pos = words[0], {"line": line}, []
    for w in words[1:]:
        if "=" in w:
            k, _, v = w.partition("=")
            data[k] = v
        else:
            pos.append(w)
    names = {"LINK": ["ifname", "operstate"], "NEW": ["ifname"], "GONE": ["ifname"],
             "ENSLAVE": ["ifname"]}.get(ev, [])
    for k, v in zip(names, pos):
        data[k] = v
    return ev, data


def read_records(path):
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    try:
                        yield json.loads(line)
                    except ValueError:
                        pass
    except FileNotFoundError:
        return


def record_matches(rec, event, host=None, match=(), since=None):
    if rec.get("event") != event:
        return False
    if host and rec.get("host") != host:
        return False
    if since is not None and rec.get("ts", 0) < since:
        return False
    data = rec.get("data", {})
    return all(str(data.get(k)) == v for k, v in match)


def wait_record(path, event, host=None, match=(), since=None, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while True:
        for rec in read_records(path):
            if record_matches(rec, event, host, match, since):
                return rec
        if time.monotonic() > deadline:
            return None
        time.sleep(0.1)


# --- the logger ------------------------------------------------------------------------
def run_logger(qmp_path, guest_path, host, out):
    q = LineSock(connect_unix(qmp_path))
    q.sock.sendall(b'{"execute": "qmp_capabilities"}\n')
    srcs = [q]
    g = None
    if guest_path:
        try:
            g = LineSock(connect_unix(guest_path))
            srcs.append(g)
        except OSError as e:
            print("qmp.py log: guest port %s: %s" % (guest_path, e), file=sys.stderr)
    lab_record(out, host, "LOGGER_START", pid=os.getpid())
    while True:
        r, _, _ = select.select(srcs, [], [])
        for s in r:
            lines = s.read_lines()
            now = time.time()
            for line in lines:
                if not line.strip():
                    continue
                if s is q:
                    msg = json.loads(line)
                    if "event" in msg:
                        append_record(out, {"ts": event_ts(msg), "host": host, "src": "qmp",
                                            "event": msg["event"], "data": msg.get("data", {})})
                else:
                    ev, data = parse_guest_line(line)
                    if ev:
                        append_record(out, {"ts": now, "host": host, "src": "guest",
                                            "event": ev, "data": data})
            if s.eof:
                srcs.remove(s)
                if s is q:
                    lab_record(out, host, "QEMU_GONE")
                    return 0


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="qmp.py")
    sub = ap.add_subparsers(dest="op", required=True)
    c = sub.add_parser("cmd")
    c.add_argument("sock")
    c.add_argument("command")
    c.add_argument("args", nargs="?", default="{}")
    l = sub.add_parser("log")
    l.add_argument("--qmp", required=True)
    l.add_argument("--guest")
    l.add_argument("--host", required=True)
    l.add_argument("--out", required=True)
    w = sub.add_parser("wait")
    w.add_argument("file")
    w.add_argument("--event", required=True)
    w.add_argument("--host")
    w.add_argument("--match", action="append", default=[])
    w.add_argument("--since", type=float)
    w.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args(argv)
    if a.op == "cmd":
        q = QMP(a.sock)
        print(json.dumps(q.cmd(a.command, **json.loads(a.args)), indent=1))
        return 0
    if a.op == "log":
        return run_logger(a.qmp, a.guest, a.host, a.out)
    if a.op == "wait":
        match = [m.split("=", 1) for m in a.match]
        rec = wait_record(a.file, a.event, a.host, match, a.since, a.timeout)
        if rec is None:
            print("qmp.py wait: no %s%s in %s within %.0f s" % (
                a.event, "".join(" %s=%s" % (k, v) for k, v in match), a.file, a.timeout),
                file=sys.stderr)
            return 1
        print(json.dumps(rec))
        return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (QMPError, TimeoutError, EOFError, OSError) as e:
        print("qmp.py: %s" % e, file=sys.stderr)
        sys.exit(1)
