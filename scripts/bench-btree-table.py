#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns btree perf_test reports into a Markdown table and an SVG plot of
cost against tree size, sixfs beside an anchor measured in the same run.

    bench-btree-table.py LOG [--anchor maple|btreemap] [--workloads main|more]
        [--svg OUT.svg] --title TITLE --command CMD [--note TEXT]...

The main workloads (random and sequential inserts and lookups) have an
anchor; the other perf_test workloads (--workloads more) are sixfs's alone.

LOG holds bcachefs-format report lines, from the kernel log or from
`sixfs-bench btree`:
    sixfs: rand_insert: 1.0M with 1 threads in 2 sec, 2051 nsec per iter, 487.5K per sec
    sixfs_anchor: maple_rand_insert: 1.0M with 1 threads in 1 sec, ...
    btreemap: rand_insert: 1.0M with 1 threads in 0 sec, ...
A run of COUNT inserts grows the tree to COUNT keys; a run of COUNT lookups
searches a tree of COUNT keys: COUNT is the tree size of the row.
"""
import argparse
import math
import re
import statistics
import sys
from collections import defaultdict

LINE = re.compile(r"(\S+): ([a-z_]+): (\S+) with (\d+) threads in \d+ sec, (\d+) nsec per iter")
WORKLOAD_SETS = {
    "main": ["rand_insert", "rand_lookup", "seq_insert", "seq_lookup"],
    "more": ["rand_insert_multi", "rand_mixed", "rand_delete", "seq_overwrite", "seq_delete"],
}
ANCHORS = {
    # anchor -> (source, name prefix, column title)
    "maple": ("sixfs_anchor", "maple_", "maple tree"),
    "btreemap": ("btreemap", "", "std BTreeMap"),
}
SUFFIX = {"K": 10**3, "M": 10**6, "G": 10**9}


def count_of(text):
    """'10.0K' -> 10000, '2000000' -> 2000000."""
    if text[-1] in SUFFIX:
        return round(float(text[:-1]) * SUFFIX[text[-1]])
    return int(text)


def parse(path, anchor, workloads):
    src, prefix, _ = ANCHORS.get(anchor, (None, "", ""))
    runs = defaultdict(list)
    for line in open(path, errors="replace"):
        m = LINE.search(line)
        if not m:
            continue
        source, name, count, threads, nsec = m.groups()
        key = None
        if source == "sixfs" and name in workloads:
            key = ("sixfs", name)
        elif source == src and name.startswith(prefix) and name[len(prefix):] in workloads:
            key = ("anchor", name[len(prefix):])
        if key:
            runs[key + (int(threads), count_of(count))].append(int(nsec))
    return {k: statistics.median(v) for k, v in runs.items()}


def human(n):
    for unit, div in (("M", 10**6), ("K", 10**3)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return str(n)


def table(med, anchor, workloads, title, command, notes):
    out = [f"# {title}", "", f"Produced by `{command}`."]
    out += notes
    out += [
        "nsec per operation per thread (lower is better); a row's size is the number of keys",
        "in the tree at the end of the inserts, or searched by the lookups (for updates and",
        "deletes: the keys in the tree when they start).",
        "",
    ]
    if anchor:
        name = ANCHORS[anchor][2]
        out += [f"| workload | threads | keys | sixfs | {name} | sixfs / {name} |", "|---|---|---|---|---|---|"]
    else:
        out += ["| workload | threads | keys | sixfs |", "|---|---|---|---|"]
    sizes = sorted({k[3] for k in med})
    for workload in workloads:
        for threads in (1, 2):
            for size in sizes:
                ours = med.get(("sixfs", workload, threads, size))
                theirs = med.get(("anchor", workload, threads, size))
                if ours is None and theirs is None:
                    continue
                cell = lambda v: f"{v:.0f}" if v is not None else "-"
                if not anchor:
                    out.append(f"| {workload} | {threads} | {human(size)} | {cell(ours)} |")
                    continue
                ratio = f"{ours / theirs:.2f}" if ours and theirs else "-"
                out.append(f"| {workload} | {threads} | {human(size)} | {cell(ours)} | {cell(theirs)} | {ratio} |")
    return "\n".join(out) + "\n"


def svg(med, anchor, title):
    """Log-log plot of ns per operation against keys, one thread."""
    W, H, L, R, T, B = 720, 440, 70, 190, 40, 50
    series = []
    colours = {"rand_insert": "#c0392b", "rand_lookup": "#2471a3", "seq_insert": "#d68910", "seq_lookup": "#1e8449"}
    for workload in WORKLOAD_SETS["main"]:
        for who, dash in (("sixfs", ""), ("anchor", "6,4")):
            pts = sorted((k[3], v) for k, v in med.items() if k[0] == who and k[1] == workload and k[2] == 1 and v > 0)
            if pts:
                label = f"{'sixfs' if who == 'sixfs' else ANCHORS[anchor][2]} {workload}"
                series.append((label, colours[workload], dash, pts))
    if not series:
        return None
    xs = [p[0] for s in series for p in s[3]]
    ys = [p[1] for s in series for p in s[3]]
    x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    x1, y1 = max(x1, x0 + 1), max(y1, y0 + 1)
    px = lambda x: L + (math.log10(x) - x0) / (x1 - x0) * (W - L - R)
    py = lambda y: H - B - (math.log10(y) - y0) / (y1 - y0) * (H - T - B)
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{title}: ns per op, 1 thread</text>']
    for e in range(x0, x1 + 1):
        x = px(10**e)
        o.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H - B}" stroke="#ddd"/>')
        o.append(f'<text x="{x:.1f}" y="{H - B + 16}" text-anchor="middle">10^{e}</text>')
    for e in range(y0, y1 + 1):
        y = py(10**e)
        o.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W - R}" y2="{y:.1f}" stroke="#ddd"/>')
        o.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{10**e}</text>')
    o.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">keys in the tree</text>')
    o.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 {(T + H - B) / 2})">ns per operation</text>')
    for i, (label, colour, dash, pts) in enumerate(series):
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        o.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        for x, y in pts:
            o.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="{colour}"/>')
        ly = T + 10 + i * 18
        o.append(f'<line x1="{W - R + 12}" y1="{ly}" x2="{W - R + 40}" y2="{ly}" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        o.append(f'<text x="{W - R + 46}" y="{ly + 4}">{label}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("log")
    ap.add_argument("--anchor", choices=sorted(ANCHORS))
    ap.add_argument("--workloads", choices=sorted(WORKLOAD_SETS), default="main")
    ap.add_argument("--svg")
    ap.add_argument("--title", default="Btree benchmark")
    ap.add_argument("--command", default="make bench")
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()
    workloads = WORKLOAD_SETS[args.workloads]
    med = parse(args.log, args.anchor, workloads)
    if not med:
        print(f"bench-btree-table: no results in {args.log}", file=sys.stderr)
        return 1
    sys.stdout.write(table(med, args.anchor, workloads, args.title, args.command, args.note))
    if args.svg and args.anchor:
        picture = svg(med, args.anchor, args.title)
        if picture:
            open(args.svg, "w").write(picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
