#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/net/test_probe_cli.sh [PROBE] — hybond-probe's argument validation:
# bad input exits 2 with a message naming the option; needs no privileges and
# sends no traffic.
set -uo pipefail

PROBE=${1:-build/bin/hybond-probe}
fails=0

# expect STATUS PATTERN ARGS... — exit status and a stderr/stdout pattern
expect() {
	local want=$1 pat=$2 out rc
	shift 2
	out=$("$PROBE" "$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$want" ] || ! grep -q -e "$pat" <<<"$out"; then
		printf 'test_probe_cli: FAIL: hybond-probe %s: exit %d (want %d), output: %s (want /%s/)\n' \
			"$*" "$rc" "$want" "$out" "$pat" >&2
		fails=$((fails + 1))
	fi
}

T=198.18.1.1
expect 2 'usage:'
expect 0 'usage:' --help
expect 0 'hybond-probe' --version
expect 2 "unknown command 'bogus'" bogus
expect 2 -- '--target is required' udp --rate 10 --duration 1
expect 2 -- '--target is required' icmp
expect 2 -- '--listen is required' udp-echo
expect 2 -- "--target: invalid value '$T'" udp --target $T --rate 10 --duration 1
expect 2 -- "--target: invalid value '$T:0'" udp --target $T:0
expect 2 -- "--target: invalid value '$T:65536'" udp --target $T:65536
expect 2 -- "--target: invalid value '198.18.1.300:7'" udp --target 198.18.1.300:7
expect 2 -- "--target: invalid value 'example.org:7'" udp --target example.org:7
expect 2 -- "--target: invalid value '$T:7'" icmp --target $T:7
expect 2 -- "--rate: invalid value '0'" udp --target $T:7 --rate 0
expect 2 -- "--rate: invalid value '100001'" udp --target $T:7 --rate 100001
expect 2 -- "--rate: invalid value 'fast'" icmp --target $T --rate fast
expect 2 -- "--duration: invalid value '0'" udp --target $T:7 --duration 0
expect 2 -- "--duration: invalid value '-3'" udp --target $T:7 --duration -3
expect 2 -- "--duration: invalid value '1h'" udp --target $T:7 --duration 1h
expect 2 -- '--duration 0.001 is too short' udp --target $T:7 --rate 10 --duration 0.001
expect 2 -- 'at most 10000000' udp --target $T:7 --rate 100000 --duration 101
expect 2 -- "--grace-ms: invalid value 'x'" udp --target $T:7 --grace-ms x
expect 2 -- "--size: invalid value '47'" udp --target $T:7 --size 47
expect 2 -- "--size: invalid value '1473'" udp --target $T:7 --size 1473
expect 2 -- "--listen: invalid value '70000'" udp-echo --listen 70000
expect 2 -- "--listen: invalid value '1.2.3:7'" udp-echo --listen 1.2.3:7
expect 2 -- 'unrecognized option' udp --target $T:7 --bogus
expect 2 -- "unexpected argument 'extra'" udp --target $T:7 extra

if [ "$fails" -ne 0 ]; then
	echo "test_probe_cli: FAILED ($fails)"
	exit 1
fi
echo "test_probe_cli: passed"
