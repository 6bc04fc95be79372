# SPDX-License-Identifier: LGPL-2.1-or-later
"""The lab handle: paths and environment as tests/lab/lab sees them, the lab as a function.

Every value here is read once, at import (HBL_OUT set later by a script, as
shim_unplug.py does, reaches the lab through sh()'s environment, not these names).
"""
import os
import subprocess

from labkit.verdict import Fail

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))     # tests/lab
TOP = os.path.dirname(os.path.dirname(HERE))
B = os.environ.get("B", "build")
if not os.path.isabs(B):
    B = os.path.join(TOP, B)
LAB = os.path.join(HERE, "lab")
LVLAB = os.path.join(HERE, "lvlab")
QMP_PY = os.path.join(HERE, "qmp.py")
PROBE = os.path.join(B, "bin", "hybond-probe")
GUESTCTL = os.path.join(B, "bin", "hybond-guestctl")
GUESTD = os.path.join(B, "bin", "hybond-guestd")
HOSTD = os.path.join(B, "bin", "hybond-hostd")
CLI = os.path.join(B, "bin", "hybond")
# HBL_INSTALLED=1 (make check-packages): the programs the Debian packages installed, the
# daemons started by their unit's command lines with /etc/hybond/hostd.conf (labkit/hostd.py)
INSTALLED = os.environ.get("HBL_INSTALLED") == "1"
UNIT_DIR = "/lib/systemd/system"
if INSTALLED:
    PROBE, GUESTCTL = "/usr/bin/hybond-probe", "/usr/sbin/hybond-guestctl"
    GUESTD, HOSTD, CLI = "/usr/sbin/hybond-guestd", "/usr/sbin/hybond-hostd", "/usr/bin/hybond"
OUT = os.environ.get("HBL_OUT", os.path.join(B, "lab"))   # guest image (and the logs)
LOGS = os.path.join(OUT, "run")
PFX = os.environ.get("HBL_PREFIX", "hbl-")
RUN = os.environ.get("HBL_RUN", "/run/hybond-lab")
PEER_NS = PFX + "peer"
ECHO_PORT = 7777
UDP_RATE = 1000


def sh(args, check=True, env=None):
    """Run a command (B exported, env added); Fail with its output if check and it fails."""
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, B=B, **(env or {})))
    if check and r.returncode != 0:
        raise Fail("%s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


def lab(*args, check=True):
    return sh([LAB] + list(args), check=check)


def vm_env(name):
    with open(os.path.join(RUN, "vms", name, "vm.env")) as f:
        return dict(l.strip().split("=", 1) for l in f if "=" in l)


def vm_ip(name):
    """The VM's address (without the prefix) and the host it runs on (hA, hB)."""
    env = vm_env(name)
    return env["IP"].split("/")[0], env["HOST"]


def inst(name, host, f):
    return os.path.join(RUN, "vms", name, host, f)


def fdb_port(host, mac):
    """The port of the MAC's static entry on host's br0 (host: hA, hB, fab...), or None."""
    r = sh(["bridge", "-n", PFX + host, "fdb", "show", "br", "br0"], check=False)
    for line in r.stdout.splitlines():
        if line.startswith(mac) and "static" in line:
            return line.split()[2]
    return None


class ReuseLab:
    """Brings the lab up (and builds the guest image) unless it is up already: other VMs
    may live in it, so it is left up, and brought down only if nobody else's VM is left.
    say: the calling script's voice."""

    def __init__(self, say):
        self.say = say

    def __enter__(self):
        st = lab("status").stdout
        self.brought_up = st.startswith("lab: down")
        if self.brought_up:
            lab("build")
            lab("up", "--eswitch", "static")
        elif "eswitch static" not in st:
            raise Fail("the lab is up with a learning eswitch; `lab down` first")
        else:
            self.say("the lab is up already: using it as it is (no image rebuild)")
        return self

    def __exit__(self, *exc):
        vms = os.path.join(RUN, "vms")
        left = os.listdir(vms) if os.path.isdir(vms) else []
        if self.brought_up and not left and not os.environ.get("HBL_KEEP"):
            lab("down", check=False)
