#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# tools/man-check.sh PAGE... — the man pages are complete and clean (make check-man):
#   - groff renders each without a warning (man --warnings), lexgrog reads its NAME line
#   - programs (sections 1 and 8) have NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS,
#     FILES, EXAMPLES and SEE ALSO; daemons (hybond-hostd, hybond-guestd) also SIGNALS;
#     files (section 5) have NAME, SYNOPSIS, DESCRIPTION, FILES, EXAMPLES, SEE ALSO
#   - nothing points at docs/*.md (not installed); every hybond page SEE ALSO names is
#     one of the pages given
set -eu
bad=0
err() { echo "man-check: $*" >&2; bad=1; }
names=
for p in "$@"; do
	b=$(basename "$p")
	names="$names ${b%.*}(${b##*.})"
done
for p in "$@"; do
	b=$(basename "$p"); sec=${b##*.}; name=${b%.*}
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$p" 2>&1 >/dev/null) || err "$p: man failed"
	[ -z "$w" ] || err "$p: groff warnings: $w"
	lexgrog "$p" >/dev/null 2>&1 || err "$p: lexgrog cannot read its NAME section"
	case $sec in
	5) want="NAME SYNOPSIS DESCRIPTION FILES EXAMPLES SEE|ALSO" ;;
	*) want="NAME SYNOPSIS DESCRIPTION OPTIONS EXIT|STATUS FILES EXAMPLES SEE|ALSO" ;;
	esac
	case $name in hybond-hostd|hybond-guestd) want="$want SIGNALS" ;; esac
	have=$(sed -n 's/^\.SH  *"\{0,1\}\([^"]*\)"\{0,1\} *$/\1/p' "$p")
	for s in $want; do
		s=$(echo "$s" | tr '|' ' ')
		echo "$have" | grep -qx "$s" || err "$p: no $s section"
	done
	grep -n 'docs/[A-Za-z-]*\.md' "$p" >/dev/null && err "$p: points at docs/*.md (not installed): $(grep -o 'docs/[A-Za-z-]*\.md' "$p" | sort -u | tr '\n' ' ')"
	# hybond pages named in SEE ALSO must exist
	refs=$(sed -n '/^\.SH  *"\{0,1\}SEE ALSO/,$p' "$p" | sed 's/\\f[BIRP]//g; s/\\-/-/g' |
		grep -o '\(hybond[a-z-]*\|hostd\.conf\|guest\.conf\)([0-9])' | sort -u || true)
	for r in $refs; do
		case " $names " in *" $r "*) ;; *) err "$p: SEE ALSO names $r, which is not installed" ;; esac
	done
done
[ $bad = 0 ] && echo "man-check: $# pages complete, no groff warning" || exit 1
