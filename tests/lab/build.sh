#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/lab/build.sh — the lab's guest: a Debian kernel and a busybox initramfs.
#
#   tests/lab/build.sh [--force]
#
# Output (in $HBL_OUT, default build/lab):
#   vmlinuz             the Debian 12 kernel (linux-image-amd64's current target)
#   initramfs.cpio.gz   busybox-static, /init, the guest modules, hybond-probe and
#                       hybond-guestd (when built) with their shared libraries
#   kernel-<ver>/       the modules the guest needs plus modules.dep (cache)
#   (in the initramfs)  /lib/modules/<ver>/extra/hybond_shim.ko when kmod-shim built
#                       it for that very kernel ($B/kmod/<ver>/, `make kmod`)
#   guest.stamp         hash of every input; nothing is rebuilt while it matches
#
# HBL_KERNEL_META: the image metapackage that picks the kernel (default
# linux-image-amd64, the 6.1 series; linux-image-6.12-amd64 for 6.12). Use a
# separate HBL_OUT per series: only one kernel is kept in an output directory.
#
# Only Debian's apt is used for downloads (apt-get download of the kernel package).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$(realpath -m "${HBL_OUT:-$top/build/lab}")   # absolute: the build cds around
bindir=${HBL_BINDIR:-$top/build/bin}
force=0
[ "${1:-}" = --force ] && force=1

# The modules the guest loads (their dependencies come from modules.dep).
want_mods=(virtio_pci virtio_net virtio_console failover net_failover e1000e
           bonding tls sch_ingress cls_matchall act_mirred)
# Binaries packed into the guest when they exist.
opt_bins=(hybond-probe hybond-guestd hybond-shimctl)
# hybond_shim.ko built by kmod-shim/kmod.mk, per kernel version
kmoddir=${HBL_KMODDIR:-$(dirname "$bindir")/kmod}
# HBL_GUEST_DEB (make check-packages): the hybond-guest package, unpacked into the image
# as dpkg lays it out (/usr/sbin/hybond-guestd, its unit, udev rule, /etc/hybond); /init
# then runs the unit's ExecStart line when the port exists (what udev + BindsTo do)
guest_deb=${HBL_GUEST_DEB:-}

log() { printf 'lab build: %s\n' "$*" >&2; }
die() { printf 'lab build: error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$out"

# --- kernel ----------------------------------------------------------------
resolve_kernel() {
	apt-cache depends "${HBL_KERNEL_META:-linux-image-amd64}" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}'
}

pkg=$(resolve_kernel || true)
if [ -z "$pkg" ]; then
	cached=$(ls -d "$out"/kernel-*/ 2>/dev/null | head -n1 || true)
	if [ -n "$cached" ] && [ -f "$out/vmlinuz" ]; then
		pkg=linux-image-$(basename "$cached" | sed 's/^kernel-//')
		log "apt-cache cannot resolve linux-image-amd64; using cached $pkg"
	else
		log "apt lists missing: running apt-get update"
		apt-get update -qq || die "apt-get update failed"
		pkg=$(resolve_kernel) || true
		[ -n "$pkg" ] || die "cannot resolve linux-image-amd64 with apt-cache depends"
	fi
fi
kver=${pkg#linux-image-}
kdir=$out/kernel-$kver

if [ ! -f "$kdir/.complete" ] || [ ! -f "$out/vmlinuz" ] || [ $force = 1 ]; then
	log "fetching $pkg"
	tmp=$(mktemp -d "$out/.kernel.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && apt-get download "$pkg" 2>&1 | grep -v "^W: Download is performed unsandboxed" >&2 || true)
	deb=$(ls "$tmp"/*.deb 2>/dev/null | head -n1)
	[ -n "$deb" ] || die "apt-get download $pkg produced no .deb"
	dpkg-deb -x "$deb" "$tmp/x"
	# 6.12 ships xz-compressed modules: plain .ko for busybox insmod and the list below
	find "$tmp/x/lib/modules/$kver" -name '*.ko.xz' -print0 | xargs -0 -r -P 2 -n 64 xz -d
	depmod -b "$tmp/x" "$kver"
	mdir=$tmp/x/lib/modules/$kver
	# Close the wanted set over modules.dep and keep only those modules.
	rm -rf "$kdir"; mkdir -p "$kdir"
	python3 - "$mdir/modules.dep" "${want_mods[@]}" >"$kdir/modules.load" <<'EOF'
import sys
dep = {}
for line in open(sys.argv[1]):
    path, _, rest = line.partition(":")
    dep[path.strip()] = rest.split()
byname = {p.rsplit("/", 1)[1][:-3].replace("-", "_"): p for p in dep}
order, seen = [], set()
def visit(p):
    if p in seen:
        return
    seen.add(p)
    for d in dep[p]:
        visit(d)
    order.append(p)
# built into the kernel (6.12: virtio_pci) is as good as loaded
try:
    builtin = {l.strip().rsplit("/", 1)[1][:-3].replace("-", "_")
               for l in open(sys.argv[1][:-len("dep")] + "builtin") if l.strip()}
except OSError:
    builtin = set()
for m in sys.argv[2:]:
    if m not in byname and m in builtin:
        continue
    if m not in byname:
        sys.exit("module %s not in modules.dep" % m)
    visit(byname[m])
print("\n".join(order))
EOF
	while read -r m; do
		mkdir -p "$kdir/$(dirname "$m")"
		cp "$mdir/$m" "$kdir/$m"
	done <"$kdir/modules.load"
	cp "$tmp/x/boot/vmlinuz-$kver" "$out/vmlinuz"
	echo "$kver" >"$kdir/version"
	touch "$kdir/.complete"
	rm -rf "$tmp"; trap - EXIT
	# Older kernels are no longer referenced.
	for d in "$out"/kernel-*/; do [ "$d" = "$kdir/" ] || rm -rf "$d"; done
	log "kernel $kver: $(wc -l <"$kdir/modules.load") modules"
fi

# --- initramfs ----------------------------------------------------------------
bins=()
for b in "${opt_bins[@]}"; do
	[ -n "$guest_deb" ] && [ "$b" = hybond-guestd ] && continue   # the package's instead
	[ -x "$bindir/$b" ] && bins+=("$bindir/$b")
done
# hybond_shim.ko only when it was built for this kernel (its vermagic says so)
shim_ko=$kmoddir/$kver/hybond_shim.ko
[ -f "$shim_ko" ] && [ "$(modinfo -F vermagic "$shim_ko" 2>/dev/null | cut -d' ' -f1)" = "$kver" ] ||
	shim_ko=
# Everything the image is made of goes into the stamp.
stamp=$( {
	echo "$kver"
	[ -z "$shim_ko" ] || sha256sum "$shim_ko"
	sha256sum "$here/guest-init" "$here/build.sh" /bin/busybox "$kdir/modules.load"
	[ -z "$guest_deb" ] || sha256sum "$guest_deb"
	for b in "${bins[@]}"; do
		sha256sum "$b"
		ldd "$b" 2>/dev/null | awk '/=>/ {print $3} /^\t\/lib/ {print $1}' | xargs -r sha256sum
	done
} | sha256sum | cut -d' ' -f1)

if [ $force = 0 ] && [ -f "$out/initramfs.cpio.gz" ] && [ "$(cat "$out/guest.stamp" 2>/dev/null)" = "$stamp" ]; then
	log "guest up to date (kernel $kver, $(basename -a "${bins[@]}" 2>/dev/null | tr '\n' ' '))"
	exit 0
fi

root=$(mktemp -d "$out/.root.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,etc,lib,lib64,usr/bin,usr/sbin,var/log}
mknod -m 600 "$root/dev/console" c 5 1	# the kernel opens it before /init runs
mknod -m 666 "$root/dev/null" c 1 3
cp /bin/busybox "$root/bin/busybox"
for a in $(/bin/busybox --list); do
	[ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done
install -m 0755 "$here/guest-init" "$root/init"
mkdir -p "$root/lib/modules/$kver"
(cd "$kdir" && cp -r kernel modules.load "$root/lib/modules/$kver/")

copy_with_libs() {
	local bin=$1 lib
	install -m 0755 "$bin" "$root/bin/$(basename "$bin")"
	ldd "$bin" >/dev/null 2>&1 || return 0	# static
	for lib in $(ldd "$bin" | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/lib/ {print $1}'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
}
for b in "${bins[@]}"; do
	copy_with_libs "$b"
	log "packed $(basename "$b")"
done
if [ -n "$guest_deb" ]; then
	dpkg-deb -x "$guest_deb" "$root" || die "dpkg-deb -x $guest_deb"
	for lib in $(ldd "$root/usr/sbin/hybond-guestd" | awk '/=>/ && $3 ~ /^\// {print $3} /^\t\/lib/ {print $1}'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	log "unpacked $(basename "$guest_deb") (its hybond-guestd, unit, udev rule, guest.conf)"
fi
[ ${#bins[@]} -gt 0 ] || log "no hybond-probe/hybond-guestd in $bindir: guest has ping only"
if [ -n "$shim_ko" ]; then
	mkdir -p "$root/lib/modules/$kver/extra"
	install -m 0644 "$shim_ko" "$root/lib/modules/$kver/extra/hybond_shim.ko"
	log "packed hybond_shim.ko (loaded with hybond.shim=1)"
fi

(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) | gzip -1 >"$out/initramfs.cpio.gz.tmp"
mv "$out/initramfs.cpio.gz.tmp" "$out/initramfs.cpio.gz"
echo "$stamp" >"$out/guest.stamp"
log "initramfs $(du -h "$out/initramfs.cpio.gz" | cut -f1) (kernel $kver)"
