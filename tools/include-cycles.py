#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""include-cycles.py DIR... — fail when the modules below DIR include each other in a cycle.

A module is a folder's X.c with its X.h (X_int.h and X_*.c count as X: hv_libvirt.c,
hv_libvirt_worker.c and hv_libvirt_int.h are one module).  Module A depends on B when
one of A's files includes B's header.  Every strongly connected component with more
than one module is a cycle: printed with the includes that close it; exit 1.
"""
import os
import re
import sys

INC = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(path, known):
    d, f = os.path.split(path)
    stem = f.rsplit('.', 1)[0]
    if stem.endswith('_int'):
        stem = stem[:-4]
    # X_worker.c belongs to X when X.h exists in the folder
    while stem not in known.get(d, set()) and '_' in stem:
        stem = stem.rsplit('_', 1)[0]
    return os.path.join(d, stem)


def main(dirs):
    files = []
    for top in dirs:
        for root, _, names in os.walk(top):
            files += [os.path.join(root, n) for n in names if n.endswith(('.c', '.h'))]
    known = {}
    for f in files:
        if f.endswith('.h'):
            d, n = os.path.split(f)
            known.setdefault(d, set()).add(n[:-2])
    deps, why = {}, {}
    for f in files:
        a = module_of(f, known)
        deps.setdefault(a, set())
        for inc in INC.findall(open(f, encoding='utf-8').read()):
            tgt = inc if '/' in inc else os.path.join(os.path.dirname(f), inc)
            tgt = os.path.normpath(tgt)
            if not os.path.exists(tgt):
                continue            # proto/include, system-like headers
            b = module_of(tgt, known)
            if b != a:
                deps[a].add(b)
                why.setdefault((a, b), '%s includes %s' % (f, inc))
    # Tarjan's strongly connected components
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(deps.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(deps):
        if v not in index:
            visit(v)
    for comp in sccs:
        print('include cycle among %d modules: %s' % (len(comp), ' '.join(comp)))
        for a in comp:
            for b in sorted(deps[a]):
                if b in comp:
                    print('  %s -> %s: %s' % (a, b, why[(a, b)]))
    if not sccs:
        print('include-cycles: no cycle among %d modules in %s' % (len(deps), ' '.join(dirs)))
    return 1 if sccs else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:] or ['host-agent']))
