#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/lint.sh FILE... — cppcheck and clang-tidy on the project's C sources.
# Fails on any finding. Include paths and defines match the Makefile.
set -euo pipefail
[ $# -gt 0 ] || { echo "lint: no sources given" >&2; exit 2; }
inc=(-Iproto/include -I. -D_GNU_SOURCE)
# one package at a time: pkg-config prints nothing at all when one of a list is missing
for pc in jansson libmnl libnl-route-3.0 cunit libxml-2.0 libvirt; do
	inc+=($(pkg-config --cflags-only-I "$pc" 2>/dev/null))
done
cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	--std=c11 --inline-suppr --suppress=missingIncludeSystem \
	"${inc[@]}" "$@"
rc=0
out=$(clang-tidy --quiet --warnings-as-errors='*' "$@" -- -std=gnu11 "${inc[@]}" 2>&1) || rc=$?
printf '%s\n' "$out" | grep -v 'warnings generated' || true
exit $rc
