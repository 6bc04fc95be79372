# SPDX-License-Identifier: LGPL-2.1-or-later
"""Verdicts: the one failure type and the scripts' voice on stderr.

Fail is a RuntimeError: the scripts that grew up on tests/lab/bench.py catch
RuntimeError, the others Fail; both see every failure of a kit helper.
"""
import sys


class Fail(RuntimeError):
    pass


def sayer(prefix):
    """say(msg) for a script: "PREFIX: msg" on stderr, flushed (verdict lines, progress)."""
    def say(msg):
        print("%s: %s" % (prefix, msg), file=sys.stderr, flush=True)
    return say
