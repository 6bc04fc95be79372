# SPDX-License-Identifier: LGPL-2.1-or-later
# tests/net/net.mk — network-namespace tests (run as root by `make check`).
#
# hybond-probe: argument validation (unprivileged, no traffic) and the accuracy
# test (root; its own namespaces hbpt-<pid>-*, 198.18.0.0/15 only, ~15 s).

check-net:: $(B)/bin/hybond-probe
	tests/net/test_probe_cli.sh $(B)/bin/hybond-probe
	tests/net/test_probe_accuracy.sh $(B)/bin/hybond-probe
