#!/usr/bin/python3
"""Record real QMP transcripts for tests/unit/test_qmp.c (stdlib only).

  capture.py session SOCK OUT CMDFILE
      connect to QEMU's QMP socket, then for each line of CMDFILE (one JSON
      command per line, or "#wait SECONDS" to collect events) send it and record
      everything QEMU says until the answer with that id arrives.
  capture.py proxy SOCK OUT
      move SOCK aside (SOCK.real) and relay every connection made to SOCK to it,
      recording both directions, until killed (SIGTERM puts SOCK back).

OUT has one record per line: "S: <line as QEMU sent it>" (QEMU -> client) or
"C: <line the client sent>".  Nothing is re-serialised: bytes are QEMU's own.
"""
import json
import os
import select
import signal
import socket
import sys
import threading
import time


def session(path, out, cmdfile):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    buf = b""
    f = open(out, "w")

    def read_until(pred, timeout):
        nonlocal buf
        end = time.monotonic() + timeout
        while True:
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                f.write("S: " + line.decode() + "\n")
                if pred(line):
                    return
            left = end - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([s], [], [], left)
            if r:
                d = s.recv(65536)
                if not d:
                    return
                buf += d

    read_until(lambda l: b'"QMP"' in l, 5)
    for raw in open(cmdfile):
        raw = raw.strip()
        if not raw:
            continue
        if raw.startswith("#wait"):
            read_until(lambda l: False, float(raw.split()[1]))
            continue
        cid = json.loads(raw).get("id")
        f.write("C: " + raw + "\n")
        s.sendall(raw.encode() + b"\n")
        want = json.dumps(cid).encode()
        read_until(lambda l: b'"id": ' + want in l, 30)
    f.close()


def proxy(path, out):
    real = path + ".real"
    os.rename(path, real)
    lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lst.bind(path)
    lst.listen(4)
    lock = threading.Lock()
    f = open(out, "w", buffering=1)

    def stop(*_):
        lst.close()
        os.unlink(path)
        os.rename(real, path)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)

    def relay(c, n):
        q = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        q.connect(real)
        bufs = {c: b"", q: b""}
        peer = {c: q, q: c}
        tag = {c: "C", q: "S"}
        with lock:
            f.write("# connection %d\n" % n)
        while True:
            r, _, _ = select.select([c, q], [], [])
            for x in r:
                d = x.recv(65536)
                if not d:
                    c.close(); q.close()
                    return
                peer[x].sendall(d)
                bufs[x] += d
                while b"\n" in bufs[x]:
                    line, bufs[x] = bufs[x].split(b"\n", 1)
                    with lock:
                        f.write(tag[x] + ": " + line.decode().rstrip("\r") + "\n")

    n = 0
    while True:
        c, _ = lst.accept()
        n += 1
        threading.Thread(target=relay, args=(c, n), daemon=True).start()


if __name__ == "__main__":
    if sys.argv[1] == "session":
        session(sys.argv[2], sys.argv[3], sys.argv[4])
    elif sys.argv[1] == "proxy":
        proxy(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
