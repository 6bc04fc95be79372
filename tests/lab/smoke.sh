#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/lab/smoke.sh — the lab's smoke test (make check-lab).
#
# static eswitch: a failover-mode guest (QEMU failover=on + net_failover) and a
# bond-mode guest (active-backup, host device_del/device_add) each boot on hA, are
# reached from the peer (ping; UDP echo when hybond-probe is packed), migrate to hB
# and are checked there: reachable, the e1000e "VF" is back in QEMU (query-pci) and
# in the guest (up, enslaved), the source QEMU gone. The failover guest migrates back.
# learning eswitch: one failover migration. Then `lab down` must leave nothing.
# Always tears down; on failure prints the serial logs' tails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
B=${B:-build}
case "$B" in /*) ;; *) B=$top/$B ;; esac
export B
LAB=$here/lab
PY=/usr/bin/python3
LOGS=$B/lab/run
PROBE=$B/bin/hybond-probe
RUN=${HBL_RUN:-/run/hybond-lab}
PFX=${HBL_PREFIX:-hbl-}

passed=0 failed=0 qemu_pids=() t_start=$(date +%s)
step() { printf '\n== %s (%ds)\n' "$*" $(($(date +%s) - t_start)); }
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
fail() {
	failed=$((failed + 1))
	printf 'FAIL %s\n' "$*" >&2
	exit 1
}
check() {	# check DESCRIPTION CMD...: CMD must succeed
	local d=$1
	shift
	if "$@"; then ok "$d"; else fail "$d"; fi
}

show_logs() {
	local f
	for f in "$LOGS"/*/serial.log; do
		[ -f "$f" ] || continue
		printf '\n---- tail of %s\n' "$f"
		tail -n 40 "$f" | tr -d '\033' || true
	done
	for f in "$LOGS"/*/events.jsonl; do
		[ -f "$f" ] || continue
		printf '\n---- tail of %s\n' "$f"
		tail -n 25 "$f" || true
	done
	for f in "$LOGS"/*/qemu-*.err "$LOGS"/*/logger-*.err; do
		[ -s "$f" ] && { printf '\n---- %s\n' "$f"; cat "$f"; }
	done
	return 0
}

leftovers() {	# prints what the lab left behind; fails if anything
	local bad=0 p
	if ip netns list | grep -q "^$PFX"; then
		echo "namespaces left: $(ip netns list | grep "^$PFX" | tr '\n' ' ')"; bad=1
	fi
	for p in "${qemu_pids[@]}"; do
		if [ -d "/proc/$p" ] && [ "$(awk '/^State:/ {print $2}' "/proc/$p/status" 2>/dev/null)" != Z ]; then
			echo "QEMU pid $p still alive"; bad=1
		fi
	done
	[ -e "$RUN" ] && { echo "$RUN left"; bad=1; }
	if ip -o link show | grep -Eq ': h[sv]-[a-z0-9]+[:@]'; then
		echo "taps left in the root namespace"; bad=1
	fi
	return $bad
}

finish() {
	local rc=$?
	trap - EXIT
	if [ $rc -ne 0 ]; then
		[ $failed -gt 0 ] || { failed=$((failed + 1)); echo "FAIL (unexpected error, rc $rc)" >&2; }
		show_logs >&2
	fi
	"$LAB" down >/dev/null 2>&1 || true
	if ! leftovers >&2; then
		failed=$((failed + 1))
		echo "FAIL lab down left something behind" >&2
		rc=1
	fi
	printf '\nlab smoke took %ds\n' $(($(date +%s) - t_start))
	printf 'lab-smoke: %d passed, %d failed\n' "$passed" "$failed"
	exit $rc
}
trap finish EXIT

# --- helpers ---------------------------------------------------------------------
vm_env() { (. "$RUN/vms/$1/vm.env"; eval "echo \$$2"); }
vm_ip() { vm_env "$1" IP | cut -d/ -f1; }

remember_qemu() {	# the QEMU PIDs the lab started, to check they are gone at the end
	local f
	for f in "$RUN"/vms/*/h?/qemu.pid; do
		[ -f "$f" ] && qemu_pids+=("$(cat "$f")")
	done
	return 0
}

reach_ping() {	# reach_ping NAME: 3 echo replies within 15 s
	ip netns exec ${PFX}peer ping -q -n -c 3 -i 0.2 -w 15 "$(vm_ip "$1")" >/dev/null
}

reach_udp() {	# reach_udp NAME: hybond-probe UDP echo, at least 90 % answered
	local out
	out=$(ip netns exec ${PFX}peer "$PROBE" udp --target "$(vm_ip "$1"):7777" --rate 200 \
		--duration 1 --grace-ms 500 -j -q) || return 1
	echo "$out" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print("     udp: sent %d received %d lost %d" % (d["sent"], d["received"], d["lost_total"]))
sys.exit(0 if d["received"] >= 0.9 * d["sent"] else 1)'
}

vf_in_qemu() {	# vf_in_qemu NAME: query-pci on the VM's current QEMU lists vf0 (e1000e)
	"$LAB" vm qmp "$1" query-pci | "$PY" -c '
import json, sys
def walk(devs):
    for d in devs:
        yield d
        yield from walk(d.get("pci_bridge", {}).get("devices", []))
found = [d for b in json.load(sys.stdin) for d in walk(b["devices"]) if d.get("qdev_id") == "vf0"]
sys.exit(0 if found else 1)'
}

# the guest itself: an e1000e interface that is up and enslaved to MASTER
vf_in_guest() {	# vf_in_guest NAME MASTER
	local out
	out=$("$LAB" vm exec "$1" 'for p in /sys/class/net/*; do
		d=$(readlink $p/device/driver) || continue; [ "${d##*/}" = e1000e ] || continue
		m=-; [ -e $p/master ] && { m=$(readlink $p/master); m=${m##*/}; }
		echo "${p##*/} $(cat $p/operstate) $m"; done') || return 1
	echo "     guest e1000e: $out"
	echo "$out" | grep -Eq "^[a-z0-9]+ up $2\$"
}

bond_active_is_vf() {
	local out
	out=$("$LAB" vm exec "$1" 'a=$(cat /sys/class/net/bond0/bonding/active_slave);
		echo $a $(basename $(readlink /sys/class/net/$a/device/driver))') || return 1
	echo "     bond0 active slave: $out"
	case "$out" in *" e1000e") return 0 ;; *) return 1 ;; esac
}

src_gone() {	# src_gone NAME HOST: no QEMU instance of NAME left on HOST
	[ ! -e "$RUN/vms/$1/$2" ] && [ "$(vm_env "$1" HOST)" != "$2" ]
}

migrate_and_check() {	# migrate_and_check NAME FROM TO MASTER
	local name=$1 from=$2 to=$3 master=$4 out
	step "migrate $name $from -> $to"
	if ! out=$("$LAB" migrate "$name" --to "$to" 2>&1); then
		echo "$out" >&2
		fail "migrate $name h$from -> h$to"
	fi
	ok "$out"
	check "$name runs on h$to, source QEMU gone" src_gone "$name" "h$from"
	check "$name: vf0 plugged in the destination QEMU (query-pci)" vf_in_qemu "$name"
	check "$name: the guest has its e1000e up under $master" vf_in_guest "$name" "$master"
	check "$name: ping from peer after migration" reach_ping "$name"
	[ -x "$PROBE" ] && check "$name: UDP echo after migration" reach_udp "$name"
	return 0
}

boot_and_check() {	# boot_and_check NAME HOST MODE MASTER
	local name=$1 host=$2 mode=$3 master=$4
	step "boot $name ($mode) on h$host"
	check "vm start $name --mode $mode" "$LAB" vm start --host "$host" --name "$name" --mode "$mode"
	remember_qemu
	check "$name: vf0 in QEMU (query-pci)" vf_in_qemu "$name"
	check "$name: the guest has its e1000e up under $master" vf_in_guest "$name" "$master"
	check "$name: ping from peer" reach_ping "$name"
	[ -x "$PROBE" ] && check "$name: UDP echo from peer" reach_udp "$name"
	return 0
}

# --- the test ---------------------------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "lab smoke needs root" >&2; exit 1; }
step "build"
check "lab build" "$LAB" build
[ -x "$PROBE" ] || echo "     (no $PROBE: reachability by ping only)"
"$LAB" down >/dev/null 2>&1 || true

step "up --eswitch static"
check "lab up --eswitch static" "$LAB" up --eswitch static
boot_and_check smf A failover eth0
migrate_and_check smf A B eth0
remember_qemu
boot_and_check smb A bond bond0
migrate_and_check smb A B bond0
check "smb: bond0's active slave is the e1000e again" bond_active_is_vf smb
remember_qemu
migrate_and_check smf B A eth0
remember_qemu
check "static FDB on hA's VF port only (smf)" \
	bash -c "bridge -n ${PFX}hA fdb show dev hv-smf | grep -q 'static' && \
		! ip -n ${PFX}hB link show hv-smf >/dev/null 2>&1"

step "down, up --eswitch learning"
remember_qemu
check "lab down" "$LAB" down
check "nothing left after down" leftovers
check "lab up --eswitch learning" "$LAB" up --eswitch learning
boot_and_check slf A failover eth0
migrate_and_check slf A B eth0
remember_qemu

step "down"
check "lab down" "$LAB" down
check "nothing left after down" leftovers
