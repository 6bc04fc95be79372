#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run one shell command in a lab guest over its org.hybond.lab.exec port.

  guest.py SOCK [--timeout S] CMD...

The guest's /init reads one command per line from the port, runs it with sh and
answers with its output and a final "__HBL_END rc=N" line. Exits with the guest
command's rc (or 124 on timeout, 125 if the channel does not answer).
"""
import base64
import select
import socket
import sys
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, __import__("os").path.dirname(__file__))
from qmp import connect_unix  # noqa: E402

END = b"__HBL_END rc="


def guest_exec(sock_path, command, timeout_s=20.0):
    """Returns (rc, output); rc None on timeout."""
    s = connect_unix(sock_path, 5.0)
    try:
        # one line on the wire, whatever the command holds (busybox has base64)
        b64 = base64.b64encode(command.encode()).decode()
        s.sendall(('eval "$(echo %s | base64 -d)"\n' % b64).encode())
        buf = b""
        deadline = time.monotonic() + timeout_s
        while True:
            i = buf.find(END)
            if i >= 0 and buf.find(b"\n", i) >= 0:
                rc = int(buf[i + len(END):buf.find(b"\n", i)])
                return rc, buf[:i].decode("utf-8", "replace")
            left = deadline - time.monotonic()
            if left <= 0:
                return None, buf.decode("utf-8", "replace")
            r, _, _ = select.select([s], [], [], left)
            if r:
                data = s.recv(65536)
                if not data:
                    return None, buf.decode("utf-8", "replace")
                buf += data
    finally:
        s.close()


def main(argv):
    timeout_s = 20.0
    if len(argv) > 2 and argv[1] == "--timeout":
        timeout_s = float(argv[2])
        argv = argv[:1] + argv[3:]
    if len(argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        rc, out = guest_exec(argv[0], " ".join(argv[1:]), timeout_s)
    except OSError as e:
        print("guest.py: %s: %s" % (argv[0], e), file=sys.stderr)
        return 125
    sys.stdout.write(out)
    if rc is None:
        print("guest.py: no answer from the guest within %.0f s" % timeout_s, file=sys.stderr)
        return 124
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
