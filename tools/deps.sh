#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/deps.sh — install the Debian packages hybond needs to build, test and run
# its lab. Idempotent and non-interactive: it asks dpkg what is missing and only then
# runs `apt-get update` (once) and `apt-get install`.
#
#   tools/deps.sh            install what is missing (needs root)
#   tools/deps.sh --check    exit 1 and list what is missing, install nothing
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mapfile -t pkgs < <(grep -v '^\s*#' "$here/debian-packages.txt" | awk 'NF {print $1}')

missing=()
for p in "${pkgs[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "${1:-}" = --check ]; then
	printf 'missing Debian packages: %s\n' "${missing[*]}" >&2
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	printf 'hybond: these Debian packages are missing: %s\n' "${missing[*]}" >&2
	printf 'hybond: run "sudo make deps" (or install them with apt-get) and retry\n' >&2
	exit 1
fi
printf 'hybond: installing %s\n' "${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
