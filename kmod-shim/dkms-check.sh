#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# kmod-shim/dkms-check.sh — prove kmod-shim/dkms.conf the way a distribution
# package would use it, then leave the machine as it was (docs/kmod-shim.md,
# "Packaging (DKMS)").  Root; needs Debian's dkms (apt-get install dkms).
#
#   kmod-shim/dkms-check.sh [KVER...]    default: the kernels kvers.sh lists
#
# 1. copies the module sources to /usr/src/NAME-VERSION (both from dkms.conf),
# 2. dkms add, then per kernel dkms build and dkms install, and checks that
#    modinfo -k KVER finds the module under /lib/modules/KVER/updates/dkms
#    (depmod ran) with that kernel's vermagic, then dkms status,
# 3. always (also on failure or ^C): dkms remove --all, the /usr/src copy
#    removed, and what dkms and depmod added restored: the modules.* index
#    files of each kernel (saved before, put back), updates/ if it was not
#    there, the MOK key pair dkms generates to sign modules if there was none.
#
# Nothing is loaded: dkms install only copies and runs depmod (unless
# modprobe_on_install is set in /etc/dkms/framework.conf, which this script
# refuses), and the running kernel is built for, never installed to.
# It refuses to run if NAME is already known to dkms or /usr/src/NAME-VERSION
# exists, so it never touches a real installation.
# Logs: $DKMS_LOG (default: a temporary directory, kept only on failure).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
conf=$here/dkms.conf
confval() { sed -n "s/^$1=\"\\(.*\\)\"\$/\\1/p" "$conf"; }
name=$(confval PACKAGE_NAME)
ver=$(confval 'PACKAGE_VERSION')
# "#MODULE_VERSION#": hybond's version, as make install-dkms and dh_dkms -V fill it in
[ "$ver" = "#MODULE_VERSION#" ] && ver=${HYBOND_VERSION:?HYBOND_VERSION not set (make check-dkms sets it)}
mod=$(confval 'BUILT_MODULE_NAME\[0\]')
src=/usr/src/$name-$ver
tree=/var/lib/dkms
# the files of kmod-shim/ a package ships (Kbuild's objects, their headers, the
# out-of-tree Makefile dkms.conf calls, dkms.conf)
files="Kbuild Makefile dkms.conf hb_main.c hb_pair.c hb_genl.c hb_shim.h hybond_genl.h"

say() { printf 'dkms-check: %s\n' "$*"; }
die() { printf 'dkms-check: error: %s\n' "$*" >&2; exit 1; }

if [ -z "$name" ] || [ -z "$ver" ] || [ -z "$mod" ]; then
	die "$conf: PACKAGE_NAME, PACKAGE_VERSION or BUILT_MODULE_NAME[0] missing"
fi
[ "$(id -u)" = 0 ] || die "needs root (/usr/src, $tree, /lib/modules)"
command -v dkms >/dev/null || die "dkms not installed: apt-get install dkms"
[ -e "$src" ] && die "$src exists: not touching it (an installed package?)"
[ -e "$tree/$name" ] && die "dkms already knows $name ($tree/$name): not touching it"
if grep -Eqs '^[[:space:]]*modprobe_on_install=' /etc/dkms/framework.conf \
	/etc/dkms/framework.conf.d/*.conf; then
	die "modprobe_on_install is set in /etc/dkms: dkms install would load modules"
fi

# "KVER HEADERS_DIR" lines; headers kvers.sh extracted into build/kheaders are
# given to dkms with --kernelsourcedir (they are not installed)
if [ $# -gt 0 ]; then
	lines=$(for k in "$@"; do echo "$k /usr/src/linux-headers-$k"; done)
else
	lines=$("$here/kvers.sh")
fi
kvers=$(echo "$lines" | cut -d' ' -f1)
ksrc() { echo "$lines" | awk -v k="$1" '$1 == k {print $2}'; }
[ -n "$kvers" ] || die "no kernel headers installed (make deps): nothing to build"
running=$(uname -r)

keep_log=
if [ -n "${DKMS_LOG:-}" ]; then
	log=$DKMS_LOG
	mkdir -p "$log"
	keep_log=1
else
	log=$(mktemp -d /tmp/dkms-check.XXXXXX)
fi
save=$(mktemp -d /tmp/dkms-check-save.XXXXXX)

# what dkms install and depmod change, saved to be put back
had_mok=
if [ -e "$tree/mok.key" ] || [ -e "$tree/mok.pub" ]; then had_mok=1; fi
for k in $kvers; do
	d=/lib/modules/$k
	mkdir -p "$save/$k"
	[ -d "$d" ] || touch "$save/$k/.no-dir"
	[ -d "$d/updates" ] && touch "$save/$k/.had-updates"
	(cd "$d" 2>/dev/null && for f in modules.*; do
		[ -f "$f" ] && cp -p "$f" "$save/$k/"
	done) || true
done

cleanup() {
	rc=$?
	set +e
	if [ -d "$tree/$name" ]; then
		dkms remove "$name/$ver" --all >>"$log/remove.log" 2>&1 ||
			{ rc=1; say "dkms remove failed: $log/remove.log"; }
	fi
	rm -rf "$src" "${tree:?}/$name"
	[ -n "$had_mok" ] || rm -f "$tree/mok.key" "$tree/mok.pub"
	for k in $kvers; do
		d=/lib/modules/$k
		[ -d "$d" ] || continue
		if [ -e "$save/$k/.no-dir" ]; then rm -rf "$d"; continue; fi
		rm -f "$d"/modules.*
		cp -p "$save/$k"/modules.* "$d/" 2>/dev/null
		[ -e "$save/$k/.had-updates" ] || rmdir "$d/updates/dkms" "$d/updates" 2>/dev/null
	done
	rm -rf "$save"
	if [ -e "$src" ] || [ -e "$tree/$name" ]; then
		say "left behind: $src or $tree/$name"; rc=1
	fi
	if [ "$rc" = 0 ] && [ -z "$keep_log" ]; then rm -rf "$log"; else say "logs: $log"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. what a package's postinst finds: the sources in /usr/src/NAME-VERSION
mkdir -p "$src"
for f in $files; do cp -p "$here/$f" "$src/"; done
sed -i "/^PACKAGE_VERSION=/s/#MODULE_VERSION#/$ver/" "$src/dkms.conf"
say "$src: $files"

# 2. add, build, install, check
dkms add "$name/$ver" >"$log/add.log" 2>&1 || { cat "$log/add.log"; die "dkms add failed"; }
for k in $kvers; do
	if ! dkms build "$name/$ver" -k "$k" --kernelsourcedir "$(ksrc "$k")" >"$log/build-$k.log" 2>&1; then
		cat "$log/build-$k.log"
		cat "$tree/$name/$ver/$k"/*/log/make.log 2>/dev/null || true
		die "dkms build for $k failed"
	fi
	if [ "$k" = "$running" ]; then
		say "$k: built (the running kernel: not installed)"
		continue
	fi
	# dkms install wants the kernel's module tree; one this script makes for
	# extracted headers is removed again at the end (.no-dir)
	mkdir -p "/lib/modules/$k"
	dkms install "$name/$ver" -k "$k" --kernelsourcedir "$(ksrc "$k")" >"$log/install-$k.log" 2>&1 ||
		{ cat "$log/install-$k.log"; die "dkms install for $k failed"; }
	file=$(modinfo -k "$k" -F filename "$mod" 2>/dev/null) ||
		die "$k: modinfo -k does not find $mod after dkms install (depmod?)"
	vermagic=$(modinfo -k "$k" -F vermagic "$mod")
	case "$file" in
	/lib/modules/"$k"/updates/dkms/"$mod".ko*) ;;
	*) die "$k: $mod resolves to $file, not dkms's updates/dkms" ;;
	esac
	case "$vermagic" in
	"$k "*) ;;
	*) die "$k: $file has vermagic '$vermagic'" ;;
	esac
	dkms status "$name/$ver" -k "$k" 2>/dev/null | grep -q ': installed' ||
		die "$k: dkms status does not say installed"
	say "$k: built and installed: $file (vermagic $k, $(modinfo -k "$k" -F signer "$mod" 2>/dev/null || echo unsigned))"
done
dkms status "$name/$ver" 2>/dev/null | sed 's/^/dkms-check: status: /'
say "ok; removing it again"
