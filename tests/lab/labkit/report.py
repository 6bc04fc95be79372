# SPDX-License-Identifier: LGPL-2.1-or-later
"""Numbers in tables, a run's meta data, and the sections of docs/benchmarks.md."""
import os
import time

from labkit.lab import B, TOP, sh

DOC = os.path.join(TOP, "docs", "benchmarks.md")


def num(v):
    """A figure in a baseline / libvirt table: "–", whole above 10, one decimal below."""
    if v is None:
        return "–"
    if isinstance(v, float):
        return "%.0f" % v if abs(v) >= 10 or v == int(v) else "%.1f" % v
    return str(v)


def fmt(v):
    """A figure in a hostd table: "-", floats whole."""
    return "-" if v is None else (("%.0f" % v) if isinstance(v, float) else str(v))


def meta_info():
    """QEMU, the guest kernel of $B/lab, the date (UTC), the cores."""
    q = sh(["qemu-system-x86_64", "--version"], check=False).stdout.split("\n")[0]
    kdirs = [d for d in os.listdir(os.path.join(B, "lab")) if d.startswith("kernel-")]
    return {"date": time.strftime("%Y-%m-%d", time.gmtime()),
            "qemu": q.replace("QEMU emulator version ", "").strip(),
            "guest_kernel": kdirs[0][len("kernel-"):] if kdirs else "?",
            "cores": os.cpu_count()}


def update_doc(begin, end, lines, path=DOC):
    """Replace the section between the markers begin and end (lines included, and the
    line end after end) with lines; append it when the markers are not both there."""
    text = open(path).read() if os.path.exists(path) else ""
    block = begin + "\n" + "\n".join(lines) + "\n" + end + "\n"
    if begin in text and end in text:
        a = text.index(begin)
        b = text.index(end) + len(end)
        if text[b:b + 1] == "\n":
            b += 1
        text = text[:a] + block + text[b:]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(text)
