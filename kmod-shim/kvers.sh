#!/bin/sh
# kmod-shim/kvers.sh — the guest kernels hybond_shim.ko is built for, one
# "KVER HEADERS_DIR" line per series (6.1: linux-image-amd64, 6.12:
# linux-image-6.12-amd64).
#
# KVER is resolved exactly as tests/lab/build.sh picks the lab's guest kernel
# (apt-cache depends on the image metapackage), so the module packed into the
# initramfs matches the kernel that boots.  If that version's headers are not
# installed (apt lists newer than the installed linux-headers-* metapackage),
# the version the installed headers metapackage depends on is used instead
# and a note goes to stderr: that module then does not match the lab kernel
# and build.sh will not pack it.  A series with no headers at all is skipped.
set -u

dep_of() {	# dep_of TOOL PKG PREFIX -> first dependency named PREFIX[0-9]...
	case "$1" in
	apt) apt-cache depends "$2" 2>/dev/null |
		awk -v p="$3" '$1 == "Depends:" && index($2, p) == 1 && substr($2, length(p) + 1, 1) ~ /[0-9]/ {print $2; exit}' ;;
	dpkg) dpkg-query -W -f='${Depends}\n' "$2" 2>/dev/null | tr ',' '\n' |
		awk -v p="$3" '{ if (index($1, p) == 1 && substr($1, length(p) + 1, 1) ~ /[0-9]/) {print $1; exit} }' ;;
	esac
}

for series in "" 6.12-; do
	img=$(dep_of apt "linux-image-${series}amd64" linux-image-)
	kver=${img#linux-image-}
	if [ -n "$kver" ] && [ -d "/usr/src/linux-headers-$kver" ]; then
		echo "$kver /usr/src/linux-headers-$kver"
		continue
	fi
	hdr=$(dep_of dpkg "linux-headers-${series}amd64" linux-headers-)
	hver=${hdr#linux-headers-}
	if [ -n "$hver" ] && [ -d "/usr/src/linux-headers-$hver" ]; then
		[ -n "$kver" ] && echo "kmod-shim: headers for the lab kernel $kver missing; building for $hver" >&2
		echo "$hver /usr/src/linux-headers-$hver"
	else
		echo "kmod-shim: no headers for linux-image-${series}amd64${kver:+ ($kver)}: skipped" >&2
	fi
done
