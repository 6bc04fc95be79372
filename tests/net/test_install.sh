#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/net/test_install.sh DESTDIR — what `make install DESTDIR=… PREFIX=/usr` laid out:
# the files and nothing else, the hook link, the units (systemd-analyze verify, and the
# exposure score of hybond-hostd.service: at most EXPOSURE_MAX/10), sysusers.d and
# tmpfiles.d applied to a scratch root, and the installed daemon started the way its unit
# starts it (Type=notify: READY=1 on $NOTIFY_SOCKET, its guest sentry sandboxed, STOPPING=1
# and exit 0 on SIGTERM). Root (the daemon's sentry changes uid). No traffic.
set -euo pipefail

D=${1:?usage: test_install.sh DESTDIR}
EXPOSURE_MAX=40         # systemd-analyze security --threshold (10 x the shown score)
tmp=$(mktemp -d /tmp/hbinst-XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "test_install: FAIL $*" >&2; exit 1; }

# 1. exactly these files
want="etc/hybond/guest.conf
etc/hybond/hostd.conf
etc/libvirt/hooks/qemu.d/hybond
usr/bin/hybond
usr/bin/hybond-probe
usr/lib/modules-load.d/hybond-shim.conf
usr/lib/systemd/system/hybond-guestd.service
usr/lib/systemd/system/hybond-hostd.service
usr/lib/sysusers.d/hybond.conf
usr/lib/tmpfiles.d/hybond.conf
usr/lib/udev/rules.d/60-hybond-guestd.rules
usr/libexec/hybond/hybond-libvirt-hook
usr/sbin/hybond-guestctl
usr/sbin/hybond-guestd
usr/sbin/hybond-hostd
usr/share/doc/hybond/hostd.conf.example
usr/share/man/man1/hybond-probe.1
usr/share/man/man5/guest.conf.5
usr/share/man/man5/hostd.conf.5
usr/share/man/man8/hybond-guestctl.8
usr/share/man/man8/hybond-guestd.8
usr/share/man/man8/hybond-hostd.8
usr/share/man/man8/hybond-libvirt-hook.8
usr/share/man/man8/hybond.8
usr/src/hybond-shim-$HYBOND_VERSION/Kbuild
usr/src/hybond-shim-$HYBOND_VERSION/Makefile
usr/src/hybond-shim-$HYBOND_VERSION/dkms.conf
usr/src/hybond-shim-$HYBOND_VERSION/hb_genl.c
usr/src/hybond-shim-$HYBOND_VERSION/hb_main.c
usr/src/hybond-shim-$HYBOND_VERSION/hb_pair.c
usr/src/hybond-shim-$HYBOND_VERSION/hb_shim.h
usr/src/hybond-shim-$HYBOND_VERSION/hybond_genl.h"
have=$(cd "$D" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
[ "$have" = "$want" ] || fail "installed files differ: $(diff <(echo "$want") <(echo "$have") | grep '^[<>]' | tr '\n' ' ')"
[ "$(readlink "$D/etc/libvirt/hooks/qemu.d/hybond")" = /usr/libexec/hybond/hybond-libvirt-hook ] ||
	fail "the hook link points at $(readlink "$D/etc/libvirt/hooks/qemu.d/hybond")"
"$D/usr/sbin/hybond-hostd" --help >/dev/null || fail "hybond-hostd --help"
# every program says the version of the tree it was built from (the Makefile's)
for b in sbin/hybond-hostd sbin/hybond-guestctl sbin/hybond-guestd bin/hybond \
	 bin/hybond-probe libexec/hybond/hybond-libvirt-hook; do
	v=$("$D/usr/$b" --version) || fail "$b --version"
	[ "$v" = "$(basename "$b") ${HYBOND_VERSION:?}" ] || fail "$b --version: '$v'"
done

# the CLI: options anywhere on the line, numbers parsed strictly (exit 2, say why)
out=$("$D/usr/bin/hybond" status -j -s "$tmp/nobody.sock" 2>&1) && fail "status without a daemon"
case $out in *"$tmp/nobody.sock"*) ;; *) fail "hybond status -j -s: '$out'";; esac
for bad in "--rate abc" "--rate 0" "--cycles 1x" "--cycles 101"; do
	# shellcheck disable=SC2086
	out=$("$D/usr/bin/hybond" -s "$tmp/nobody.sock" drill vm1 $bad --target 198.18.0.1:9 \
		2>&1) && rc=0 || rc=$?
	[ $rc -eq 2 ] && case $out in *"want a whole number"*) true;; *) false;; esac ||
		fail "hybond drill vm1 $bad: exit $rc, '$out'"
done

out=$("$D/usr/bin/hybond" -s "$tmp/nobody.sock" drill vm1 --rate 10 2>&1) && rc=0 || rc=$?
[ $rc -eq 2 ] && case $out in *"needs --target"*) true;; *) false;; esac ||
	fail "hybond drill vm1 --rate 10 (no probe): exit $rc, '$out'"

# 2. the units: syntax and binaries (paths moved into DESTDIR), the exposure score
for u in hybond-hostd hybond-guestd; do
	sed "s|/usr/sbin/|$D/usr/sbin/|g; s|/etc/hybond/|$D/etc/hybond/|g" \
		"$D/usr/lib/systemd/system/$u.service" > "$tmp/$u.service"
	out=$(systemd-analyze verify --man=no "$tmp/$u.service" 2>&1) || fail "verify $u: $out"
	[ -z "$out" ] || fail "verify $u: $out"
done
# the guest unit must start on an image without /etc/hybond (226/NAMESPACE otherwise)
grep -qx 'ReadOnlyPaths=-/etc/hybond' "$D/usr/lib/systemd/system/hybond-guestd.service" ||
	fail "hybond-guestd.service: ReadOnlyPaths of /etc/hybond without '-'"
score=$(systemd-analyze security --offline=true --root="$D" hybond-hostd.service 2>&1 | tail -1)
echo "test_install: hybond-hostd.service $score"
systemd-analyze security --offline=true --root="$D" --threshold=$EXPOSURE_MAX \
	hybond-hostd.service >/dev/null 2>&1 || fail "exposure above $EXPOSURE_MAX/10: $score"

# 3. sysusers.d and tmpfiles.d, applied to a scratch root
mkdir -p "$tmp/root/etc"
systemd-sysusers --root="$tmp/root" "$D/usr/lib/sysusers.d/hybond.conf" >/dev/null 2>&1 ||
	fail "systemd-sysusers"
grep -q '^hybond:' "$tmp/root/etc/group" || fail "no group hybond"
grep -q '^hybond-sentry:.*:/usr/sbin/nologin$' "$tmp/root/etc/passwd" || fail "no hybond-sentry"
systemd-tmpfiles --root="$tmp/root" --create "$D/usr/lib/tmpfiles.d/hybond.conf" ||
	fail "systemd-tmpfiles"
gid=$(awk -F: '$1 == "hybond" {print $3}' "$tmp/root/etc/group")
[ "$(stat -c '%a %g' "$tmp/root/run/hybond")" = "750 $gid" ] ||
	fail "/run/hybond: $(stat -c '%a %g' "$tmp/root/run/hybond"), want 750 $gid"
[ -d "$tmp/root/var/lib/hybond" ] || fail "/var/lib/hybond"

# 4. the installed daemon as its unit starts it: READY=1, a sandboxed sentry, STOPPING=1
cat > "$tmp/hostd.conf" <<CONF
host = inst
ctl_socket = $tmp/hostd.sock
state_dir = $tmp/state
CONF
mkdir -p "$tmp/state"
"$D/usr/sbin/hybond-hostd" --check --config "$tmp/hostd.conf" >/dev/null || fail "--check"
# --check (the unit's ExecStartPre) finds accounts that do not exist
for kv in "ctl_group = hb-nosuch-grp" "sentry_user = hb-nosuch-usr"; do
	printf '%s\n' "$kv" >> "$tmp/hostd.conf"
	out=$("$D/usr/sbin/hybond-hostd" --check --config "$tmp/hostd.conf" 2>&1) &&
		fail "--check with $kv passed"
	case $out in *"no such "*"systemd-sysusers"*) ;; *) fail "--check with $kv: $out";; esac
	sed -i '$d' "$tmp/hostd.conf"
done
python3 - "$tmp" "$D/usr/sbin/hybond-hostd" <<'PY' || fail "the daemon under NOTIFY_SOCKET"
import json, os, signal, socket, subprocess, sys, time
tmp, exe = sys.argv[1], sys.argv[2]
ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ns.bind(tmp + "/notify")
ns.settimeout(10)
# stderr is "the journal": a pipe that $JOURNAL_STREAM names, as systemd sets it up
r, w = os.pipe()
st = os.fstat(w)
env = dict(os.environ, NOTIFY_SOCKET=tmp + "/notify",
           JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
p = subprocess.Popen([exe, "--config", tmp + "/hostd.conf"], env=env, stderr=w)
os.close(w)
def stop_daemon():          # whatever happens below, no daemon (and sentry) is left
    if p.poll() is None:
        p.kill()
        p.wait()
import atexit
atexit.register(stop_daemon)
def wait_for(word):
    while True:
        msg = ns.recv(4096).decode()
        if word in msg.split("\n"):
            return msg
ready = wait_for("READY=1")
def find_sentry(not_pid=None):
    """The daemon's guest sentry once its seccomp filter is on (not not_pid), or None."""
    for _ in range(200):
        for ent in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/stat" % ent) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                with open("/proc/%s/cmdline" % ent, "rb") as f:
                    argv = f.read().split(b"\0")
                st = open("/proc/%s/status" % ent).read()
            except (OSError, ValueError):
                continue
            if ppid == p.pid and b"--guest-sentry" in argv and ent != not_pid and \
               "Seccomp:\t2" in st:
                return ent
        time.sleep(0.05)
    return None
sentry = find_sentry()
status = open("/proc/%s/status" % sentry).read() if sentry else ""
assert sentry and "Seccomp:\t2" in status and "NoNewPrivs:\t1" in status, status
# a package upgrade replaces the daemon's file (rename: a new inode) while it runs; a
# sentry it starts again must still be its own build (it runs from the file it keeps
# open), not exit 3 on the new file
import shutil
shutil.copy2(exe, exe + ".new")
os.rename(exe + ".new", exe)
os.kill(int(sentry), signal.SIGKILL)
sentry2 = find_sentry(not_pid=sentry)
assert sentry2 and p.poll() is None, "no sentry after the binary was replaced"
# the daemon itself keeps only the unit's capabilities (main.c drop_caps), also here
# where it was started without the unit: NET_ADMIN NET_RAW SYS_ADMIN SETUID SETGID
# SETPCAP KILL SYS_NICE CHOWN DAC_OVERRIDE
keep = sum(1 << c for c in (12, 13, 21, 7, 6, 8, 5, 23, 0, 1))
caps = {l.split(":")[0]: int(l.split()[1], 16) for l in open("/proc/%d/status" % p.pid)
        if l.startswith("Cap")}
assert caps["CapEff"] and not caps["CapEff"] & ~keep, caps
assert not caps["CapPrm"] & ~keep and not caps["CapBnd"] & ~keep, caps
# SIGHUP: a broken file changes nothing; a [vm] added, then removed, while it runs
def hup(text):
    with open(tmp + "/hostd.conf", "w") as f:
        f.write(text)
    p.send_signal(signal.SIGHUP)
    wait_for("RELOADING=1")
    wait_for("READY=1")
    assert p.poll() is None, "the daemon ended at SIGHUP"
def vms():
    out = subprocess.run([os.path.dirname(exe) + "/../bin/hybond", "-s", tmp + "/hostd.sock",
                          "status", "-j"], capture_output=True, text=True, check=True).stdout
    return sorted(v["name"] for v in json.loads(out.splitlines()[-1])["vms"])
base = open(tmp + "/hostd.conf").read()
hup(base + "txqueuelen = banana\n")
hup(base + "txqueuelen = 8192\n[vm r1]\nmac = 52:54:00:18:00:21\nstandby_port = hs-r1\n"
    "vf_port = hv-r1\nlauncher = true\n")
assert vms() == ["r1"], vms()
hup(base)
assert vms() == [], vms()
p.send_signal(signal.SIGTERM)
stopping = wait_for("STOPPING=1")
rc = p.wait(10)
err = os.read(r, 1 << 20).decode()
assert rc == 0, (rc, err)
# journald's stream: each line starts with its priority, no stamp of our own
lines = err.splitlines()
assert lines and all(l[:1] == "<" and l[2:3] == ">" for l in lines), lines
assert any(l.startswith("<6>guest sentry started") for l in lines), lines
assert any(l.startswith("<3>reload: ") and "txqueuelen" in l for l in lines), lines
assert any(l.startswith("<6>reload: ") and "1 VMs added" in l for l in lines), lines
assert any(l.startswith("<6>reload: ") and "1 removed" in l for l in lines), lines
print("test_install: capabilities kept %x (effective), %x (bounding); the sentry started "
      "again (pid %s) after the binary was replaced" % (caps["CapEff"], caps["CapBnd"], sentry2))
print("test_install: %s (sentry pid %s sandboxed); SIGHUP: a broken file kept the "
      "configuration, a [vm] added and removed; STOPPING=1, exit 0; %d log lines with "
      "journald priorities" % (ready.replace("\n", " "), sentry, len(lines)))
PY
# journald with fields: in a mount namespace of its own, a tmpfs on /run with a datagram
# socket at /run/systemd/journal/socket (what sd_journal_sendv writes to) plays journald;
# the daemon registers a [vm] and stops. Native protocol: KEY=VALUE lines per datagram.
cat > "$tmp/jf.conf" <<CONF
host = inst
ctl_socket = $tmp/jf.sock
state_dir = $tmp/state
[vm j1]
mac = 52:54:00:18:00:22
standby_port = hs-j1
vf_port = hv-j1
launcher = true
CONF
unshare --mount --propagation private python3 - "$tmp" "$D/usr/sbin/hybond-hostd" <<'PY' ||
import os, signal, socket, subprocess, sys, time
tmp, exe = sys.argv[1], sys.argv[2]
subprocess.run(["mount", "-t", "tmpfs", "hbjournal", "/run"], check=True)
os.makedirs("/run/systemd/journal")
j = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
j.bind("/run/systemd/journal/socket")
j.settimeout(10)
err = open(tmp + "/jf.err", "w")
st = os.fstat(err.fileno())
p = subprocess.Popen([exe, "--config", tmp + "/jf.conf"], stderr=err,
                     env=dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino)))
entries = []
try:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        e = dict(l.split("=", 1) for l in j.recv(65536).decode().splitlines() if "=" in l)
        entries.append(e)
        if e.get("HYBOND_VM") == "j1":
            break
finally:
    p.send_signal(signal.SIGTERM)
    p.wait(10)
vm = [e for e in entries if e.get("HYBOND_VM") == "j1"]
assert vm, entries
assert all(e.get("SYSLOG_IDENTIFIER") == "hybond-hostd" for e in entries), entries
assert vm[0]["MESSAGE"].startswith("vm j1: ") and vm[0]["PRIORITY"] in "3467", vm[0]
assert any(e["MESSAGE"].startswith("guest sentry started") and e["PRIORITY"] == "6"
           for e in entries), entries
print("test_install: journald fields: %d entries, e.g. PRIORITY=%s HYBOND_VM=j1 MESSAGE=%s"
      % (len(entries), vm[0]["PRIORITY"], vm[0]["MESSAGE"][:60]))
PY
	fail "hybond-hostd's journal entries and fields"
# the guest agent too (1 s in an empty network namespace, no channel, no pairs)
: > "$tmp/guestd.err"
js=$(stat -c '%d:%i' "$tmp/guestd.err")
had_run=; [ -e /run/hybond ] && had_run=1
JOURNAL_STREAM=$js unshare -n timeout 1 "$D/usr/sbin/hybond-guestd" -f -C "$tmp/none.conf" \
	-c "$tmp/no-port" 2>>"$tmp/guestd.err" || true
[ -n "$had_run" ] || rm -rf /run/hybond         # its control socket's directory
grep -q '^<6>hybond-guestd .* running' "$tmp/guestd.err" &&
	! grep -qv '^<[0-7]>' "$tmp/guestd.err" ||
	fail "hybond-guestd under journald: $(head -3 "$tmp/guestd.err")"
echo "test_install: ok"
