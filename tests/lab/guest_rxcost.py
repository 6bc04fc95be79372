#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Cost of the standby RX redirect (tc ingress matchall mirred redirect standby -> master).

  guest_rxcost.py [--runs R] [--rates 2000,5000,10000,20000] [--seconds S] [-j]

A failover guest with NO VF registered (vf0 unplugged: net_failover then accepts
standby RX by itself, so the standby path works with and without the redirect) and
the VM MAC's static FDB entry on the standby port. Two configurations, alternated run
by run in the same VM:
  redirect  hybond-guestd as shipped (clsact + matchall + mirred ingress redirect on
            the standby: every frame is received twice, on the standby and again on
            the master)
  none      hybond-guestd --debug-no-rx-redirect (the filter deleted: the frame goes
            through net_failover's rx_handler only)
At each rate hybond-probe udp runs S seconds from the peer to the guest's udp-echo;
recorded: probes delivered to the guest per second (sent - lost_to_guest), replies
lost, and the guest's own counters (master and standby rx_packets, /proc/net/dev).
Use a private lab: HBL_PREFIX=hbg- HBL_RUN=/run/hybond-lab-g HBL_OUT=build/lab-g.
"""
import argparse
import json
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True
from labkit.guestchan import VM, fdb_to, vf_del  # noqa: E402
from labkit.lab import ECHO_PORT, PEER_NS, PROBE, ReuseLab, lab  # noqa: E402
from labkit.verdict import Fail, sayer  # noqa: E402

AGENT = ("hybond-guestd --foreground --channel /dev/virtio-ports/org.hybond.0 %s "
         "</dev/null >/dev/console 2>&1 3>&- &")

say = sayer("agent_switch")      # as its lines have always read (agent_switch.say)


def netdev(vm):
    out = lab("vm", "exec", vm.name, "cat /proc/net/dev").stdout
    d = {}
    for line in out.splitlines():
        if ":" in line:
            name, rest = line.split(":", 1)
            f = rest.split()
            d[name.strip()] = {"rx_packets": int(f[1]), "rx_drop": int(f[3])}
    return d


def set_config(vm, cfg):
    opt = "--debug-no-rx-redirect" if cfg == "none" else ""
    lab("vm", "exec", vm.name, "kill $(pidof hybond-guestd) 2>/dev/null; sleep 0.3; " +
        AGENT % opt)
    time.sleep(1.0)
    log = lab("vm", "log", vm.name).stdout.splitlines()
    want = "debug-no-rx-redirect" if cfg == "none" else "RX accepted (tc ingress redirect"
    tail = log[-15:]
    if not any(want in l for l in tail):
        raise Fail("agent did not report %r: %s" % (want, "\n".join(tail)))


def measure(vm, rate, seconds, names):
    before = netdev(vm)
    p = subprocess.run(["ip", "netns", "exec", PEER_NS, PROBE, "udp", "--target",
                        "%s:%d" % (vm.ip, ECHO_PORT), "--rate", str(rate), "--duration",
                        str(seconds), "--grace-ms", "1000", "-j", "-q"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    after = netdev(vm)
    r = json.loads(p.stdout)
    delivered = r["sent"] - (r.get("lost_to_guest") or 0)
    res = {"rate": rate, "sent": r["sent"], "lost_to_guest": r.get("lost_to_guest"),
           "lost_from_guest": r.get("lost_from_guest"), "received": r.get("received"),
           "delivered_pps": round(delivered / seconds), "sent_pps": round(r["sent"] / seconds)}
    for role, ifn in names.items():
        res["%s_rx" % role] = after[ifn]["rx_packets"] - before[ifn]["rx_packets"]
        res["%s_drop" % role] = after[ifn]["rx_drop"] - before[ifn]["rx_drop"]
    return res


def main(argv):
    ap = argparse.ArgumentParser(prog="guest_rxcost.py")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rates", default="2000,5000,10000,20000")
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("-j", "--json", action="store_true")
    a = ap.parse_args(argv)
    rates = [int(x) for x in a.rates.split(",")]
    results = []
    with ReuseLab(say):
        vm = VM("rxcost", "failover")
        try:
            pair = vm.connect()
            names = {"master": pair["master"]["name"], "standby": pair["standby"]["name"]}
            fdb_to(vm.name, vm.host, "hs")            # RX to the standby port
            q = vm.qmp()
            try:
                vf_del(q, vm)                         # no VF registered
            finally:
                q.close()
            vm.chan.close()
            vm.chan = None
            for i in range(a.runs):
                for cfg in (("redirect", "none") if i % 2 == 0 else ("none", "redirect")):
                    set_config(vm, cfg)
                    for rate in rates:
                        r = measure(vm, rate, a.seconds, names)
                        r.update({"config": cfg, "run": i + 1})
                        results.append(r)
                        say("run %d %-8s rate %5d: delivered %5d/s, lost to/from guest "
                            "%s/%s, master rx %d" % (i + 1, cfg, rate, r["delivered_pps"],
                                                     r["lost_to_guest"], r["lost_from_guest"],
                                                     r["master_rx"]))
        finally:
            vm.stop()
    summ = {}
    for cfg in ("redirect", "none"):
        for rate in rates:
            rs = [r for r in results if r["config"] == cfg and r["rate"] == rate]
            v = [r["delivered_pps"] for r in rs]
            lt = [r["lost_to_guest"] for r in rs]
            lf = [r["lost_from_guest"] for r in rs]
            summ["%s/%d" % (cfg, rate)] = {
                "runs": len(rs), "delivered_pps": [min(v), statistics.median(v), max(v)],
                "lost_to_guest": [min(lt), statistics.median(lt), max(lt)],
                "lost_from_guest": [min(lf), statistics.median(lf), max(lf)]}
    print(json.dumps({"results": results, "summary": summ} if a.json else summ, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
