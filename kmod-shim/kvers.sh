#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kmod-shim/kvers.sh — the guest kernels hybond_shim.ko is built for, one
# "KVER HEADERS_DIR" line per series (6.1: linux-image-amd64, 6.12:
# linux-image-6.12-amd64).
#
#   kmod-shim/kvers.sh            list, fetching headers that are not there yet
#   kmod-shim/kvers.sh --cached   list only what is already there (no download)
#
# KVER is resolved exactly as tests/lab/build.sh picks the lab's guest kernel
# (apt-cache depends on the image metapackage), so the module packed into the
# initramfs matches the kernel that boots.  The headers come the way the guest
# kernels come: `apt-get download` + `dpkg-deb -x` into $KHEADERS (default
# build/kheaders/KVER), never installed — Debian's 6.12 headers package depends
# on the 6.12 image, and installing it would put a new default kernel into
# /boot of the machine that builds.  Headers installed in /usr/src by the
# operator (linux-headers-KVER) are used as they are.  A series whose headers
# cannot be had is skipped with a note on stderr.
set -u

here=$(cd "$(dirname "$0")" && pwd)
kh=${KHEADERS:-$(cd "$here/.." && pwd)/build/kheaders}
cached=0
[ "${1:-}" = --cached ] && cached=1

dep_of() {	# dep_of PKG PREFIX -> first dependency named PREFIX[0-9]...
	apt-cache depends "$1" 2>/dev/null |
		awk -v p="$2" '$1 == "Depends:" && index($2, p) == 1 && substr($2, length(p) + 1, 1) ~ /[0-9]/ {print $2; exit}'
}

# fetch KVER: headers of KVER extracted into $kh/KVER/root; prints the tree
fetch() {
	d=$kh/$1
	tree=$d/root/usr/src/linux-headers-$1
	if [ -f "$d/.complete" ]; then echo "$tree"; return 0; fi
	[ $cached = 1 ] && return 1
	pkg=linux-headers-$1
	# its -common and linux-kbuild-* (never the image it also depends on)
	deps=$(apt-cache depends "$pkg" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-(headers-.*-common|kbuild-)/ {print $2}')
	[ -n "$deps" ] || return 1
	rm -rf "$d"; mkdir -p "$d/deb"
	# shellcheck disable=SC2086
	(cd "$d/deb" && apt-get download "$pkg" $deps 2>&1 |
		grep -v "^W: Download is performed unsandboxed" >&2) || true
	for deb in "$d"/deb/*.deb; do
		[ -f "$deb" ] || return 1
		dpkg-deb -x "$deb" "$d/root" || return 1
	done
	# the flavour's Makefile includes the -common tree by its absolute path
	sed -i "s|^include /usr/src/|include $d/root/usr/src/|" "$tree/Makefile" || return 1
	rm -rf "$d/deb"
	[ -f "$tree/Makefile" ] && [ -e "$tree/scripts/Makefile.build" ] || return 1
	touch "$d/.complete"
	echo "kmod-shim: headers for $1 extracted into $d/root (not installed)" >&2
	echo "$tree"
}

for series in "" 6.12-; do
	img=$(dep_of "linux-image-${series}amd64" linux-image-)
	kver=${img#linux-image-}
	if [ -z "$kver" ]; then
		echo "kmod-shim: apt-cache cannot resolve linux-image-${series}amd64 (apt-get update?): skipped" >&2
		continue
	fi
	if [ -d "/usr/src/linux-headers-$kver" ]; then
		echo "$kver /usr/src/linux-headers-$kver"
	elif tree=$(fetch "$kver"); then
		echo "$kver $tree"
	else
		echo "kmod-shim: no headers for $kver (linux-image-${series}amd64): skipped" >&2
	fi
done
