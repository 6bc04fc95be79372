#!/usr/bin/env bash
# tests/data/netlink-iproute2/capture.sh — record the rtnetlink requests iproute2
# sends for the eswitch operations hybond performs (see README in this directory).
# Needs root, strace and iproute2. Works in its own netns hbesw-cap, removed after.
set -euo pipefail
cd "$(dirname "$0")"
NS=hbesw-cap
MAC=52:54:00:18:00:10
ip netns del $NS 2>/dev/null || true
ip netns add $NS
trap 'ip netns del $NS' EXIT
# ifindex: 2 brx, 3 p1b, 4 p1, 5 p2b, 6 p2 (a fresh netns numbers links in order)
ip -n $NS link add brx type bridge
ip -n $NS link add p1 type veth peer name p1b
ip -n $NS link add p2 type veth peer name p2b
ip -n $NS link set p1 master brx
ip -n $NS link set p2 master brx

# cap NAME CMD... — the command's sendmsg calls, decoded and as hex, in NAME.strace
cap() {
	local name=$1
	shift
	{
		echo "\$ $*"
		ip netns exec $NS strace -e trace=sendmsg -e write=all "$@" 2>&1 >/dev/null |
			grep -v -e '^+++' -e '^---' || true
	} >"$name.strace"
}
cap fdb-replace-sticky   bridge fdb replace $MAC dev p1 master static sticky
cap fdb-replace-sticky-vlan bridge fdb replace $MAC dev p1 master static sticky vlan 100
cap fdb-del              bridge fdb del $MAC dev p1 master
cap fdb-del-vlan         bridge fdb del $MAC dev p1 master vlan 100
cap link-learning-off    bridge link set dev p1 learning off
cap link-learning-on     bridge link set dev p2 learning on
# sriov-legacy "standby" steering: the VM MAC in the PF's own unicast filter (NTF_SELF)
cap pf-fdb-add-self      bridge fdb add $MAC dev p1 self permanent
cap pf-fdb-del-self      bridge fdb del $MAC dev p1 self
# The VF commands fail on a veth (no VFs) but iproute2 sends the request first.
cap vf-mac               ip link set dev p1 vf 0 mac $MAC
cap vf-mac-clear         ip link set dev p1 vf 3 mac 00:00:00:00:00:00
cap vf-vlan              ip link set dev p1 vf 0 vlan 100
cap vf-vlan-qos          ip link set dev p1 vf 0 vlan 100 qos 3
cap vf-vlan-proto        ip link set dev p1 vf 0 vlan 100 proto 802.1ad
cap vf-spoofchk-on       ip link set dev p1 vf 0 spoofchk on
cap vf-trust-off         ip link set dev p1 vf 0 trust off
cap vf-state-auto        ip link set dev p1 vf 0 state auto
cap vf-state-disable     ip link set dev p1 vf 0 state disable
cap vf-all               ip link set dev p1 vf 2 mac $MAC vlan 100 spoofchk on trust off state enable
