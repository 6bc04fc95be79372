#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/net/test_probe_accuracy.sh [PROBE] — hybond-probe's accuracy, measured.
#
# Three network namespaces of our own (hbpt-<pid>-{c,r,s}), 198.18.0.0/15 only:
#
#   client c 198.18.0.1 --veth-- 198.18.0.254 r 198.18.1.254 --veth-- 198.18.1.1 s (udp-echo)
#
# The router r drops one direction at a time with a blackhole route (silent
# drop, no ICMP, takes effect at once). Each fault window's edges are timed with
# bash's $EPOCHREALTIME (CLOCK_REALTIME, us) right around the `ip route`
# command, so an edge is known to lie inside [before, after]. Checks:
#   1 no fault, udp at 10000 pps: 0 lost, 0 duplicates, no outage
#   2 outage toward the guest (two concurrent sessions): lost count, outage
#     start/end within one packet interval of the measured edges, all of it
#     attributed to "to guest", none to "from guest"
#   3 the same for the direction from the guest
#   4 icmp mode with an outage
#   plus: garbage datagrams are ignored by the responder.
# Needs root (netns); prints SKIPPED otherwise. Cleans up on any exit.
# Environment: NOFAULT_RATE (10000), NOFAULT_SECONDS (3), FAULT_RATE (5000),
# HBPT_SAVE=DIR copies the JSON results there.
set -euo pipefail

PROBE=$(realpath "${1:-build/bin/hybond-probe}")
NOFAULT_RATE=${NOFAULT_RATE:-10000}
NOFAULT_SECONDS=${NOFAULT_SECONDS:-3}
FAULT_RATE=${FAULT_RATE:-5000}

if [ "$(id -u)" -ne 0 ]; then
	echo "test_probe_accuracy: SKIPPED (needs root for network namespaces)"
	exit 0
fi
for t in ip python3; do
	command -v "$t" >/dev/null || { echo "test_probe_accuracy: FAIL: $t not installed" >&2; exit 1; }
done
[ -x "$PROBE" ] || { echo "test_probe_accuracy: FAIL: $PROBE not built" >&2; exit 1; }

NS_C=hbpt-$$-c
NS_R=hbpt-$$-r
NS_S=hbpt-$$-s
C_IP=198.18.0.1
S_IP=198.18.1.1
PORT=7000
TMP=$(mktemp -d /tmp/hbpt-$$.XXXXXX)
PIDS=()
FAILS=0

cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	ip netns del "$NS_C" 2>/dev/null || true
	ip netns del "$NS_R" 2>/dev/null || true
	ip netns del "$NS_S" 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'test_probe_accuracy: %s\n' "$*"; }

# --- topology -----------------------------------------------------------------
ip netns add "$NS_C"
ip netns add "$NS_R"
ip netns add "$NS_S"
ip -n "$NS_C" link add vc type veth peer name vr netns "$NS_R"
ip -n "$NS_S" link add vs type veth peer name vrs netns "$NS_R"
ip -n "$NS_C" addr add $C_IP/24 dev vc
ip -n "$NS_R" addr add 198.18.0.254/24 dev vr
ip -n "$NS_R" addr add 198.18.1.254/24 dev vrs
ip -n "$NS_S" addr add $S_IP/24 dev vs
for ns in "$NS_C" "$NS_R" "$NS_S"; do ip -n "$ns" link set lo up; done
ip -n "$NS_C" link set vc up
ip -n "$NS_R" link set vr up
ip -n "$NS_R" link set vrs up
ip -n "$NS_S" link set vs up
ip -n "$NS_C" route add default via 198.18.0.254
ip -n "$NS_S" route add default via 198.18.1.254
ip netns exec "$NS_R" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'

# Prober and responder under SCHED_FIFO when allowed: on a busy 2-core machine
# this keeps the sender on its schedule (it sleeps in ppoll between packets).
RT=()
if [ -z "${HBPT_NO_RT:-}" ] && command -v chrt >/dev/null && chrt -f 10 true 2>/dev/null; then
	RT=(chrt -f 10)
fi
ip netns exec "$NS_S" "${RT[@]}" "$PROBE" udp-echo --listen $S_IP:$PORT --quiet &
ECHO_PID=$!
PIDS+=("$ECHO_PID")
for _ in $(seq 50); do
	ip netns exec "$NS_S" ss -Huln "sport = :$PORT" | grep -q . && break
	sleep 0.05
done

# --- checks (python3: JSON and float arithmetic) ---------------------------------
# check_run FILE KIND RATE [T_A T_B T_C T_D]
#   KIND nofault | to_guest | from_guest | icmp; the four times bound the fault
#   window: it started inside [T_A, T_B] and ended inside [T_C, T_D].
check_run() {
	python3 - "$@" <<'PY' || FAILS=$((FAILS + 1))
import json, math, sys
path, kind, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = json.load(open(path))
iv = 1.0 / rate
name = "%s (%s)" % (kind, path.rsplit("/", 1)[-1])
bad = []
def want(cond, msg):
    if not cond:
        bad.append(msg)
want(r["sent"] == r["received"] + r["lost_total"],
     "sent %d != received %d + lost_total %d" % (r["sent"], r["received"], r["lost_total"]))
want(r["duplicates"] == 0, "duplicates %d, expected 0" % r["duplicates"])
want(r["schedule_slips"] == 0, "the sender fell behind its schedule %d times" % r["schedule_slips"])
want(r["send_errors"] == 0, "send errors %d" % r["send_errors"])
if kind == "nofault":
    want(r["lost_total"] == 0, "lost_total %d, expected 0" % r["lost_total"])
    want(r["outages"] == [], "%d outages, expected none" % len(r["outages"]))
    want(r["lost_to_guest"] == 0 and r["lost_from_guest"] == 0, "per-direction loss not 0")
    print("test_probe_accuracy: %s: sent %d received %d lost 0 dup 0 reordered %d "
          "rtt median %.3f p99 %.3f max %.3f ms" % (name, r["sent"], r["received"],
          r["reordered"], r["rtt_ms"]["median"], r["rtt_ms"]["p99"], r["rtt_ms"]["max"]))
else:
    ta, tb, tc, td = (float(x) for x in sys.argv[4:8])
    # The prober's own view of each edge: the fault began in (prev_ok, start]
    # and ended in [end, next_ok), send times. With a regular sender these are
    # one packet interval wide; if the sender was held up right at an edge
    # (a busy machine) they are wider and the allowances below widen with them.
    o = r["outages"][0] if r["outages"] else None
    gap = 0.0
    if o:
        g1 = o["start_realtime"] - o["prev_ok_realtime"] if o["prev_ok_realtime"] else iv
        g2 = o["next_ok_realtime"] - o["end_realtime"] if o["next_ok_realtime"] else iv
        gap = max(0.0, g1 - iv) + max(0.0, g2 - iv)
    lo = math.floor((tc - tb) * rate) - 1 - math.ceil(gap * rate)
    hi = math.ceil((td - ta) * rate) + 1 + math.ceil(gap * rate)
    lost = r["lost_total"]
    want(lo <= lost <= hi, "lost_total %d outside [%d, %d] expected from the window" % (lost, lo, hi))
    want(len(r["outages"]) == 1, "%d outages, expected exactly 1" % len(r["outages"]))
    if o:
        s0, s1 = o["prev_ok_realtime"], o["start_realtime"]
        want(s1 >= ta - iv and s0 is not None and s0 <= tb + iv,
             "outage start (%.6f, %.6f] does not meet [%.6f, %.6f] (fault began in [%.6f, %.6f] +- 1 interval)"
             % (s0 or 0, s1, ta - iv, tb + iv, ta, tb))
        e0, e1 = o["end_realtime"], o["next_ok_realtime"]
        want(e0 <= td + iv and e1 is not None and e1 >= tc - iv,
             "outage end [%.6f, %.6f) does not meet [%.6f, %.6f] (fault ended in [%.6f, %.6f] +- 1 interval)"
             % (e0, e1 or 0, tc - iv, td + iv, tc, td))
        want(abs(o["duration_ms"] - (e1 - s1) * 1e3) < 2e-3 if e1 else False,  # stamps are rounded to 1 us each
             "duration_ms %.6f != next_ok - start" % o["duration_ms"])
        dlo, dhi = (tc - tb - iv - gap) * 1e3, (td - ta + iv + gap) * 1e3
        want(dlo <= o["duration_ms"] <= dhi, "outage duration %.3f ms outside [%.3f, %.3f]"
             % (o["duration_ms"], dlo, dhi))
        want(abs(r["longest_outage_ms"] - o["duration_ms"]) < 1e-9, "longest_outage_ms mismatch")
        if kind == "icmp":
            want(o["lost"] == lost, "outage lost %d != lost_total %d" % (o["lost"], lost))
        else:
            want(o["lost_to_guest"] + o["lost_from_guest"] == lost, "outage per-direction sum != lost")
    if kind == "to_guest":
        want(r["lost_to_guest"] == lost, "lost_to_guest %d, expected all %d" % (r["lost_to_guest"], lost))
        want(r["lost_from_guest"] == 0, "lost_from_guest %d, expected 0" % r["lost_from_guest"])
    elif kind == "from_guest":
        want(r["lost_from_guest"] == lost, "lost_from_guest %d, expected all %d" % (r["lost_from_guest"], lost))
        want(r["lost_to_guest"] == 0, "lost_to_guest %d, expected 0" % r["lost_to_guest"])
    o = o or {}
    print("test_probe_accuracy: %s: rate %d, fault window %.3f..%.3f ms long; lost %d "
          "(allowed %d..%d), to_guest %s from_guest %s; outage %.6f..%.6f, %.3f ms; "
          "edges vs. measured: start %+.3f ms, end %+.3f ms"
          % (name, rate, (tc - tb) * 1e3, (td - ta) * 1e3, lost, lo, hi,
             r.get("lost_to_guest", "-"), r.get("lost_from_guest", "-"),
             o.get("start_realtime", 0), o.get("end_realtime", 0), o.get("duration_ms", 0),
             (o.get("start_realtime", 0) - tb) * 1e3, (o.get("end_realtime", 0) - tc) * 1e3))
for b in bad:
    print("test_probe_accuracy: FAIL %s: %s" % (name, b), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

# fault_window DEST SECONDS_BEFORE SECONDS_LONG — blackholes DEST in the router,
# sets FW=(T_A T_B T_C T_D).
fault_window() {
	local dest=$1 before=$2 long=$3 ta tb tc td
	sleep "$before"
	ta=$EPOCHREALTIME
	ip -n "$NS_R" route add blackhole "$dest/32"
	tb=$EPOCHREALTIME
	sleep "$long"
	tc=$EPOCHREALTIME
	ip -n "$NS_R" route del blackhole "$dest/32"
	td=$EPOCHREALTIME
	FW=("$ta" "$tb" "$tc" "$td")
}

client() { # client OUTFILE ARGS... (in the client namespace, JSON to OUTFILE)
	local out=$1
	shift
	ip netns exec "$NS_C" "${RT[@]}" "$PROBE" "$@" -j >"$out"
}

# --- 0: garbage is ignored --------------------------------------------------------
ip netns exec "$NS_C" bash -c "
	printf 'junk' > /dev/udp/$S_IP/$PORT
	head -c 48 /dev/zero > /dev/udp/$S_IP/$PORT
	printf 'HBPR\\x01\\x07\\x00\\x00%040d' 0 > /dev/udp/$S_IP/$PORT
	head -c 1400 /dev/urandom > /dev/udp/$S_IP/$PORT" || true
sleep 0.1
if ! kill -0 "$ECHO_PID" 2>/dev/null; then
	log "FAIL: udp-echo died on garbage datagrams"
	exit 1
fi

# --- 1: no fault at 10 kpps ---------------------------------------------------------
client "$TMP/nofault.json" udp --target $S_IP:$PORT --rate "$NOFAULT_RATE" \
	--duration "$NOFAULT_SECONDS" --grace-ms 1000
check_run "$TMP/nofault.json" nofault "$NOFAULT_RATE"

# --- 2: outage toward the guest, two sessions at once ---------------------------------
client "$TMP/to_guest_a.json" udp --target $S_IP:$PORT --rate "$FAULT_RATE" --duration 2 \
	--grace-ms 500 &
A=$!
PIDS+=("$A")
client "$TMP/to_guest_b.json" udp --target $S_IP:$PORT --rate 1000 --duration 2 --grace-ms 500 &
B=$!
PIDS+=("$B")
fault_window $S_IP 0.7 0.5
wait "$A"
wait "$B"
check_run "$TMP/to_guest_a.json" to_guest "$FAULT_RATE" "${FW[@]}"
check_run "$TMP/to_guest_b.json" to_guest 1000 "${FW[@]}"

# --- 3: outage from the guest ---------------------------------------------------------
client "$TMP/from_guest.json" udp --target $S_IP:$PORT --rate "$FAULT_RATE" --duration 2 \
	--grace-ms 500 &
A=$!
PIDS+=("$A")
fault_window $C_IP 0.7 0.3
wait "$A"
check_run "$TMP/from_guest.json" from_guest "$FAULT_RATE" "${FW[@]}"

# --- 4: icmp with an outage -------------------------------------------------------------
client "$TMP/icmp.json" icmp --target $S_IP --rate "$FAULT_RATE" --duration 2 --grace-ms 500 &
A=$!
PIDS+=("$A")
fault_window $S_IP 0.7 0.4
wait "$A"
check_run "$TMP/icmp.json" icmp "$FAULT_RATE" "${FW[@]}"

if ! kill -0 "$ECHO_PID" 2>/dev/null; then
	log "FAIL: udp-echo is no longer running"
	FAILS=$((FAILS + 1))
fi
if [ -n "${HBPT_SAVE:-}" ]; then
	mkdir -p "$HBPT_SAVE"
	cp "$TMP"/*.json "$HBPT_SAVE"/
fi
if [ "$FAILS" -ne 0 ]; then
	log "FAILED ($FAILS check(s))"
	exit 1
fi
log "passed"
