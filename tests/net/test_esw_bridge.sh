#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/net/test_esw_bridge.sh [ESW_TOOL] — the bridge eswitch backend in a
# namespace of its own (hbesw-<pid>, no addresses, no traffic; root):
#  - programming the VF port: learning off + the VM MAC's static sticky entry;
#  - steering VF -> standby -> VF -> standby: the entry moves, and `bridge
#    monitor fdb` shows no deletion in between (one atomic replace each time);
#  - steering to none removes it;
#  - errors (unknown port, a link that is no port, bad MAC, unknown netns) come
#    back as clear messages with the errno and a non-zero exit.
set -uo pipefail

TOOL=${1:-build/tests/esw-tool}
NS=hbesw-$$
MAC=52:54:00:18:00:10
fails=0
MONPID=

[ "$(id -u)" = 0 ] || { echo "test_esw_bridge: needs root (skipped)"; exit 0; }
cleanup() {
	[ -n "$MONPID" ] && kill "$MONPID" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -f "/tmp/$NS.mon"
}
trap cleanup EXIT

fail() { printf 'test_esw_bridge: FAIL: %s\n' "$*" >&2; fails=$((fails + 1)); }
nsx() { ip netns exec "$NS" "$@"; }
fdb_port() { nsx bridge fdb show br brx | awk -v m="$MAC" '$1 == m && /static/ && /sticky/ { print $3 }'; }
tool() { "$TOOL" -n "$NS" bridge brx "$@"; }

# expect STATUS PATTERN ARGS... — exit status and a stderr pattern of esw-tool
expect() {
	local want=$1 pat=$2 out rc
	shift 2
	out=$("$TOOL" "$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$want" ] || ! grep -q -e "$pat" <<<"$out"; then
		fail "esw-tool $*: exit $rc (want $want), output: $out (want /$pat/)"
	fi
}

ip netns add "$NS" || exit 1
nsx ip link add brx type bridge
nsx ip link add p1 type veth peer name p1b     # the VF's port
nsx ip link add p2 type veth peer name p2b     # the standby's port
nsx ip link add p3 type veth peer name p3b     # not on the bridge
for l in p1 p2; do nsx ip link set "$l" master brx; done
for l in brx p1 p1b p2 p2b; do nsx ip link set "$l" up; done

tool describe | grep -q "bridge eswitch brx (ifindex [0-9]*) in netns $NS" || fail "describe"

# the VF port: learning off and the MAC's sticky entry
tool vf p1 --mac $MAC --learning off || fail "vf p1"
nsx bridge -d link show dev p1 | grep -q 'learning off' || fail "learning is not off on p1"
nsx bridge -d link show dev p2 | grep -q 'learning on' || fail "learning changed on p2"
[ "$(fdb_port)" = p1 ] || fail "entry not on p1 after vf: '$(fdb_port)'"

# moves, watched by the kernel's own FDB notifications
nsx bridge monitor fdb >"/tmp/$NS.mon" 2>&1 &
MONPID=$!
sleep 0.3       # let the monitor subscribe before the first move
for to in standby vf standby; do
	tool steer $MAC --vf p1 --standby p2 --to $to || fail "steer --to $to"
	want=$([ $to = vf ] && echo p1 || echo p2)
	[ "$(fdb_port)" = "$want" ] || fail "after --to $to the entry is on '$(fdb_port)', want $want"
done
sleep 0.3
kill "$MONPID" 2>/dev/null
wait "$MONPID" 2>/dev/null
MONPID=
grep -q "$MAC dev p2" "/tmp/$NS.mon" || fail "monitor saw no move (output: $(cat /tmp/$NS.mon))"
if grep -i "deleted.*$MAC" "/tmp/$NS.mon"; then
	fail "the entry was deleted during a move: not atomic"
fi
[ "$(nsx bridge fdb show br brx | grep -c "$MAC")" = 1 ] || fail "more than one entry for $MAC"

# VLAN-tagged entry on a VLAN-filtering bridge (if the kernel has it)
if nsx ip link set brx type bridge vlan_filtering 1 2>/dev/null; then
	nsx bridge vlan add dev p1 vid 100
	nsx bridge vlan add dev p2 vid 100
	tool steer $MAC --vf p1 --standby p2 --to vf --vlan 100 || fail "steer --vlan 100"
	nsx bridge fdb show br brx | grep -q "$MAC dev p1 vlan 100 .*sticky" || fail "no vlan 100 entry on p1"
	expect 1 'is the VLAN configured on the port' -n "$NS" bridge brx steer $MAC --vf p1 --to vf --vlan 200
else
	echo "test_esw_bridge: kernel bridge without VLAN filtering: VLAN entries not tested"
	expect 1 'is the VLAN configured on the port' -n "$NS" bridge brx steer $MAC --vf p1 --to vf --vlan 200
fi

# steering to none removes every entry of the MAC (vlan 0 and 100 separately)
tool steer $MAC --vf p1 --standby p2 --to none || fail "steer --to none"
tool steer $MAC --vf p1 --standby p2 --to none --vlan 100 || fail "steer --to none --vlan 100"
[ -z "$(nsx bridge fdb show br brx | grep "$MAC")" ] || fail "entry left after --to none"
tool steer $MAC --vf p1 --standby p2 --to none || fail "--to none twice must succeed"

# errors
expect 1 "no link named 'p9' in netns $NS (No such device)" -n "$NS" bridge brx steer $MAC --vf p9 --to vf
expect 1 'p3 is not a port of bridge brx' -n "$NS" bridge brx steer $MAC --vf p3 --to vf
expect 1 "p1 is a 'veth' link, not a bridge" -n "$NS" bridge p1 describe
expect 2 'invalid MAC' -n "$NS" bridge brx steer 52:54:00:18:00 --vf p1 --to vf
expect 2 'invalid MAC' -n "$NS" bridge brx steer 01:00:5e:00:00:01 --vf p1 --to vf
expect 2 'vf, standby or none' -n "$NS" bridge brx steer $MAC --vf p1 --to nowhere
expect 1 'bridge eswitch models only' -n "$NS" bridge brx vf p1 --spoofchk on
expect 1 "network namespace /run/netns/hbesw-none-$$: No such file" -n "hbesw-none-$$" bridge brx describe

if [ "$fails" -ne 0 ]; then
	echo "test_esw_bridge: $fails failure(s)" >&2
	exit 1
fi
echo "test_esw_bridge: ok"
