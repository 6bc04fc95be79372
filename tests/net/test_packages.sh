#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/net/test_packages.sh B — make check-packages: the three Debian packages built from
# a clean copy of the tree, lintian, installed on this machine with apt, checked, used
# for a lab migration, purged; nothing may be left.
#
#  1. `git ls-files` copied to B/pkg/src; dpkg-buildpackage -us -uc -b (nocheck: the unit
#     tests ran in make check); the package version is the Makefile's HYBOND_VERSION
#  2. lintian --pedantic: no error, warning or pedantic tag (overrides are explained in
#     debian/*.lintian-overrides)
#  3. apt-get install of the three .deb: files, conffiles, the hook link, group hybond,
#     user hybond-sentry, /run/hybond and /var/lib/hybond (tmpfiles), the unit enabled,
#     systemd-analyze verify and security on the installed units, dkms: the module
#     registered, then built for the lab's guest kernels (kmod-shim/kvers.sh headers)
#  4. the lab: hostd_migrate.py check (both guest kinds) with the installed hybond-hostd,
#     hybond and hybond-probe, each daemon started by the unit's ExecStartPre/ExecStart
#     lines reading /etc/hybond/hostd.conf (HBL_INSTALLED=1, labkit/hostd.py), the guest
#     image carrying the installed hybond-guestd
#  5. apt-get purge: no file of the packages, no hook, group, user, journal, /run/hybond,
#     dkms tree, /usr/src copy or built module left
#
# Root; writes to the machine's package database, /etc, /usr, /var/lib/dkms. It refuses to
# run where a hybond package is already installed (an operator's: not touched). Always
# purges what it installed, also on failure.
set -euo pipefail

B=$(realpath "${1:?usage: test_packages.sh BUILD_DIR}")
top=$(cd "$(dirname "$0")/../.." && pwd)
PKGS="hybond-host hybond-guest hybond-shim-dkms"
work=$B/pkg
log=$work/log
installed=
say() { echo "test_packages: $*"; }
fail() { echo "test_packages: FAIL $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "needs root (apt-get install, dkms)"
# an installation of the operator's — a package (also removed but not purged: its
# conffiles), `make install`, the accounts — is never touched: the purge below would
# delete its configuration, journal and accounts
# traces [PATH...]: what of hybond this machine holds, one per line — a package not
# purged, one of hybond's paths (and those given), its accounts. Before the install it must
# print nothing (else an installation is here), and after the purge again.
traces() {
	for p in $PKGS; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		case $st in ""|not-installed) ;; *) echo "dpkg:$p=$st" ;; esac
	done
	for f in /etc/hybond /etc/libvirt/hooks/qemu.d/hybond /var/lib/hybond /var/lib/hybond-host \
		 /var/lib/dkms/hybond-shim /usr/src/hybond-shim-* "$@"; do
		{ [ -e "$f" ] || [ -L "$f" ]; } && echo "$f"
	done
	getent group hybond >/dev/null && echo group:hybond
	getent passwd hybond-sentry >/dev/null && echo user:hybond-sentry
	true
}
# (not /run/hybond: hybond-guestd of a build tree makes it for its socket too)
t=$(traces /usr/sbin/hybond-hostd /usr/sbin/hybond-guestd)
[ -z "$t" ] || fail "hybond is installed here ($(echo $t)): not touching an installation"
# dkms would load the module into this machine's kernel at install
if grep -Eqs '^[[:space:]]*modprobe_on_install=' /etc/dkms/framework.conf \
	/etc/dkms/framework.conf.d/*.conf; then
	fail "modprobe_on_install is set in /etc/dkms: the install would load hybond_shim here"
fi
# another job may hold dpkg's lock: wait for it rather than leave packages installed
APT="apt-get -o DPkg::Lock::Timeout=600"
ver=${HYBOND_VERSION:?HYBOND_VERSION not set (make check-packages sets it)}

purge() {
	[ -n "$installed" ] || return 0
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $APT purge -y -q $PKGS >"$log/purge.log" 2>&1 ||
		{ cat "$log/purge.log"; return 1; }
	installed=
}
cleanup() {
	rc=$?
	set +e
	purge || rc=1
	[ $rc = 0 ] || say "logs in $log"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. build from a clean copy ------------------------------------------------------------
rm -rf "$work"; mkdir -p "$work/src" "$log"
(cd "$top" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$work/src"
cv=$(cd "$work/src" && dpkg-parsechangelog -S Version)
[ "$cv" = "$ver" ] || fail "debian/changelog says $cv, the Makefile's HYBOND_VERSION $ver"
t0=$(date +%s)
(cd "$work/src" && DEB_BUILD_OPTIONS=nocheck dpkg-buildpackage -us -uc -b -Pnocheck) \
	>"$log/build.log" 2>&1 || { tail -40 "$log/build.log"; fail "dpkg-buildpackage"; }
debs=()
for p in $PKGS; do
	d=$(ls "$work"/"${p}"_"${ver}"_*.deb 2>/dev/null | head -n1)
	[ -n "$d" ] || fail "no $p package in $work"
	debs+=("$d")
done
say "built ${PKGS// /, } $ver from a clean copy in $(($(date +%s) - t0)) s"

# --- 2. lintian ------------------------------------------------------------------------------
changes=$(ls "$work"/hybond_"${ver}"_*.changes)
out=$(lintian --pedantic "$changes" 2>&1 | grep -v '^running with root privileges' || true)
[ -z "$out" ] || fail "lintian: $out"
say "lintian --pedantic: clean"

# --- 3. install ------------------------------------------------------------------------------
installed=1
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $APT install -y -q --no-install-recommends "${debs[@]}" \
	>"$log/install.log" 2>&1 || { tail -30 "$log/install.log"; fail "apt-get install"; }
files=$(dpkg -L $PKGS | sort -u)
for f in /usr/sbin/hybond-hostd /usr/bin/hybond /usr/sbin/hybond-guestctl /usr/bin/hybond-probe \
	 /usr/sbin/hybond-guestd /usr/libexec/hybond/hybond-libvirt-hook \
	 /lib/systemd/system/hybond-hostd.service /lib/systemd/system/hybond-guestd.service \
	 /lib/udev/rules.d/60-hybond-guestd.rules /usr/lib/modules-load.d/hybond-shim.conf \
	 "/usr/src/hybond-shim-$ver/dkms.conf" /usr/share/man/man8/hybond-hostd.8.gz \
	 /usr/share/doc/hybond-host/copyright; do
	[ -e "$f" ] || fail "$f not installed"
done
[ "$(readlink /etc/libvirt/hooks/qemu.d/hybond)" = /usr/libexec/hybond/hybond-libvirt-hook ] ||
	fail "the libvirt hook link"
conff=$(dpkg-query -W -f='${Conffiles}\n' hybond-host hybond-guest | awk 'NF {print $1}' | sort)
[ "$conff" = "$(printf '/etc/hybond/guest.conf\n/etc/hybond/hostd.conf')" ] ||
	fail "conffiles: $conff"
for b in /usr/sbin/hybond-hostd /usr/bin/hybond /usr/sbin/hybond-guestd; do
	[ "$($b --version)" = "$(basename $b) $ver" ] || fail "$b --version: $($b --version)"
done
getent group hybond >/dev/null || fail "no group hybond (sysusers.d)"
[ "$(getent passwd hybond-sentry | cut -d: -f7)" = /usr/sbin/nologin ] || fail "no user hybond-sentry"
[ "$(stat -c '%a %U %G' /run/hybond)" = "750 root hybond" ] || fail "/run/hybond: $(stat -c '%a %U %G' /run/hybond)"
[ -d /var/lib/hybond ] || fail "no /var/lib/hybond (tmpfiles.d)"
[ -L /etc/systemd/system/multi-user.target.wants/hybond-hostd.service ] ||
	fail "hybond-hostd.service not enabled"
[ ! -e /etc/systemd/system/multi-user.target.wants/hybond-guestd.service ] ||
	fail "hybond-guestd.service enabled (udev starts it)"
for u in hybond-hostd hybond-guestd; do
	out=$(systemd-analyze verify --man=no "/lib/systemd/system/$u.service" 2>&1) || fail "verify $u: $out"
	[ -z "$out" ] || fail "verify $u: $out"
done
score=$(systemd-analyze security --offline=true hybond-hostd.service 2>&1 | tail -1)
/usr/sbin/hybond-hostd --check --config /etc/hybond/hostd.conf >/dev/null ||
	fail "the packaged hostd.conf does not pass hybond-hostd --check"
say "installed: programs, hook, conffiles, group, user, /run/hybond, unit enabled and verified; hybond-hostd.service $score"

# dkms: the package registered the module (postinst); build it for the guest kernels
dkms status hybond-shim 2>/dev/null | grep -q "hybond-shim/$ver" || fail "dkms does not know hybond-shim/$ver"
kv=$("$top/kmod-shim/kvers.sh")
[ -n "$kv" ] || fail "no guest kernel headers (kmod-shim/kvers.sh)"
while read -r k hdr; do
	dkms build "hybond-shim/$ver" -k "$k" --kernelsourcedir "$hdr" >"$log/dkms-$k.log" 2>&1 ||
		{ cat "$log/dkms-$k.log"; fail "dkms build for $k"; }
	ko=/var/lib/dkms/hybond-shim/$ver/$k/x86_64/module/hybond_shim.ko
	[ -f "$ko" ] || ko=$(ls "/var/lib/dkms/hybond-shim/$ver/$k"/*/module/hybond_shim.ko* | head -n1)
	vm=$(modinfo -F vermagic "$ko") && case $vm in "$k "*) ;; *) fail "$ko: vermagic $vm";; esac
	mv=$(modinfo -F version "$ko" 2>/dev/null || true)
	say "dkms built hybond_shim.ko $mv for $k"
done <<<"$kv"

# --- 4. a lab migration with the installed programs --------------------------------------
bin=$work/bin
mkdir -p "$bin"
ln -sf /usr/bin/hybond-probe "$bin/"
[ -x "$B/bin/hybond-shimctl" ] && ln -sf "$B/bin/hybond-shimctl" "$bin/"
# the guest image holds the hybond-guest package as dpkg lays it out (tests/lab/build.sh)
(cd "$top" && HBL_BINDIR=$bin HBL_KMODDIR=$B/kmod HBL_GUEST_DEB=${debs[1]} B=$B \
	tests/lab/lab build) >"$log/lab-build.log" 2>&1 ||
	{ tail -20 "$log/lab-build.log"; fail "lab build with the hybond-guest package"; }
grep -q "unpacked hybond-guest_" "$log/lab-build.log" || fail "the guest image without the package"
(cd "$top" && HBL_INSTALLED=1 B=$B /usr/bin/python3 tests/lab/hostd_migrate.py check) \
	>"$log/hostd_migrate.json" 2>"$log/hostd_migrate.log" ||
	{ tail -20 "$log/hostd_migrate.log"; fail "hostd_migrate.py check with the installed programs"; }
grep '^hostd_migrate:.*lost' "$log/hostd_migrate.log" | sed 's/^/test_packages: /' | tail -4 || true
n=$(grep -rl "hybond-guestd started from its unit's ExecStart, package layout" "$B/lab/run" 2>/dev/null | wc -l)
[ "$n" -gt 0 ] || fail "no lab guest started hybond-guestd from the package's unit"
say "lab migration check passed with the installed programs and unit command lines (the guests: the hybond-guest package's layout, $n logs say so)"

# --- 5. purge: nothing left ------------------------------------------------------------------
purge || fail "apt-get purge"
left= mods=
for f in $files; do
	case $f in /|/etc|/lib|/usr|/usr/*/|/lib/systemd|/lib/systemd/system|/lib/udev|/lib/udev/rules.d) continue ;; esac
	if [ -d "$f" ]; then    # a directory of hybond's own, or a shared one (kept)
		case $f in *hybond*) left="$left $f" ;; esac
	elif [ -e "$f" ] || [ -L "$f" ]; then
		left="$left $f"
	fi
done
for k in $(echo "$kv" | cut -d' ' -f1) "$(uname -r)"; do
	mods="$mods /lib/modules/$k/updates/dkms/hybond_shim.ko"
done
# shellcheck disable=SC2086
t=$(traces /run/hybond /etc/systemd/system/multi-user.target.wants/hybond-hostd.service $mods)
[ -z "$t" ] || left="$left $(echo $t)"
[ -z "$left" ] || fail "left after purge:$left"
say "purged: no file, hook, group, user, journal, dkms tree or module left"
say ok
