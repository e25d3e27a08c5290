#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tabulates scripts/guest/bench-mounted.sh's log: each perf_test workload
on a mounted sixfs beside the same workload on the in-memory btree (ns per
operation per thread, and the ratio mounted / in memory), then node write
and read throughput beside the raw device's.

Usage: bench-mounted-table.py LOG --title T --command C [--note N]...
"""
import argparse
import re

RUN = re.compile(
    r"sixfs: (mounted )?([a-z_]+): ([0-9.]+[KMG]?) with (\d+) threads in \d+ sec, (\d+) nsec per iter"
)
SYNC = re.compile(r"sixfs: mounted sync: (\d+) nodes, (\d+) bytes written in (\d+) usec, ([0-9.]+) MB/s")
CHECK = re.compile(
    r"sixfs: mounted check: clean, depth (\d+), (\d+) nodes \((\d+) bytes\) and (\d+) keys read in (\d+) usec, ([0-9.]+) MB/s"
)
RAW = re.compile(r"raw (write|read): .* copied, ([0-9.]+) seconds, ([0-9.]+)\s*([KMG]?B)/s")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--title", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()

    rows = {}  # (workload, threads, keys) -> {"memory": ns, "mounted": ns}
    order = []
    sync = check = None
    raw = {}
    for line in open(args.log, errors="replace"):
        m = RUN.search(line)
        if m:
            key = (m.group(2), int(m.group(4)), m.group(3))
            if key not in rows:
                rows[key] = {}
                order.append(key)
            # The first run of each counts: the insert that fills the tree
            # for the node I/O rows comes last and may repeat one.
            rows[key].setdefault("mounted" if m.group(1) else "memory", int(m.group(5)))
            continue
        m = SYNC.search(line)
        if m:
            sync = m
            continue
        m = CHECK.search(line)
        if m:
            check = m
            continue
        m = RAW.search(line)
        if m:
            rate = float(m.group(3)) * {"B": 1e-6, "KB": 1e-3, "MB": 1, "GB": 1e3}[m.group(4)]
            raw[m.group(1)] = rate

    print(f"# {args.title}")
    print()
    print(f"Produced by `{args.command}`.")
    for note in args.note:
        print(note)
    print()
    print("nsec per operation per thread (lower is better); the ratio is mounted / in memory.")
    print()
    print("| workload | threads | keys | in memory | mounted | ratio |")
    print("|---|---|---|---|---|---|")
    for w, t, n in order:
        r = rows[(w, t, n)]
        if "memory" not in r:
            continue  # the node I/O rows' insert, not a workload row
        mem, mnt = r.get("memory"), r.get("mounted")
        ratio = f"{mnt / mem:.2f}" if mem and mnt else "-"
        print(f"| {w} | {t} | {n} | {mem if mem else '-'} | {mnt if mnt else '-'} | {ratio} |")
    print()
    print("| throughput | MB/s | raw device MB/s | ratio |")
    print("|---|---|---|---|")
    if sync:
        w = float(sync.group(4))
        rw = raw.get("write")
        print(
            f"| node writes (sync: {sync.group(1)} nodes, {int(sync.group(2)) >> 20} MiB) | {w:.1f} | "
            f"{f'{rw:.1f}' if rw else '-'} | {f'{w / rw:.2f}' if rw else '-'} |"
        )
    if check:
        r = float(check.group(6))
        rr = raw.get("read")
        print(
            f"| node reads (check, cold: {check.group(2)} nodes, depth {check.group(1)}) | {r:.1f} | "
            f"{f'{rr:.1f}' if rr else '-'} | {f'{r / rr:.2f}' if rr else '-'} |"
        )


if __name__ == "__main__":
    main()
