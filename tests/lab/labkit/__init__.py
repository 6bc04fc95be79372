# SPDX-License-Identifier: LGPL-2.1-or-later
"""labkit — what the lab's scripts share (tests/lab/*.py import these, never each other).

  lab       the lab's paths and environment, tests/lab/lab as a function, a VM's vm.env,
            the lab brought up or reused (ReuseLab)
  verdict   Fail, say(), the migration verdict (check) every hostd script applies
  probe     hybond-probe from the peer namespace; outages attributed to steps / phases
  timeline  events.jsonl: milestones of a migration and each outage's probable cause
  hostd     hybond-hostd in hA and hB (Daemons), registration, status, the end-state checks
  libvirt   the same daemons on the two libvirtd of tests/lab/lvlab
  guestchan the host side of the guest channel (hybond-guestctl), the VF by QMP
  report    number formats, meta data, the docs/benchmarks.md sections

Nothing here runs at import time; qmp.py (QMP client, event log) stays a tool and a
module of its own beside the scripts.
"""
