#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/spdx-check.sh — every source file of the tree names its license (LICENSE):
# C, headers, scripts, makefiles, man pages, units and config examples carry an
# SPDX-License-Identifier line; kmod-shim/ is GPL-2.0 (the kernel's), the rest
# LGPL-2.1-or-later. Data (tests/data, fuzz corpora, captures) and prose (*.md) are
# not sources. Part of `make check-layout`.
set -eu
cd "$(dirname "$0")/.."
bad=0
git ls-files | grep -vE '^(tests/data/|tests/fuzz/corpus/|debian/(changelog|control|copyright|source/)|LICENSE$|kmod-shim/COPYING$)' |
	grep -vE '\.(bin|strace|md|xml|txt|cmds|capture|install|supp|lintian-overrides)$|(^|/)\.(gitignore|clang-tidy)$' |
	while read -r f; do
		[ -L "$f" ] && continue
		case $f in kmod-shim/*) want='GPL-2.0' ;; *) want='LGPL-2.1-or-later' ;; esac
		if ! head -n 3 "$f" | grep -q "SPDX-License-Identifier: $want"; then
			echo "spdx-check: $f: no 'SPDX-License-Identifier: $want' in its first 3 lines" >&2
			echo x
		fi
	done | grep -c x >/dev/null && bad=1
[ $bad = 0 ] && echo "spdx-check: every source names its license" || exit 1
