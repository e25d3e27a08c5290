#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Tabulates scripts/guest/bench-vs-bcachefs.sh's log: each perf_test
workload on a mounted bcachefs (its own perf_test) and on a mounted sixfs,
ns per iteration per thread, and the ratio sixfs / bcachefs. Without a
bcachefs line in the log the bcachefs columns are left out.

Usage: bench-vs-table.py LOG --title T --command C [--note N]...
"""
import argparse
import re

# "vs FS NAME COUNT THREADS: <kernel log line>|failed|no report"
LINE = re.compile(r"^vs (bcachefs|sixfs) ([a-z_]+) (\d+) (\d+): (.*)$")
NS = re.compile(r"(\d+) nsec per iter")


def keys(n):
    for unit, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "K")):
        if n >= unit and n % unit == 0:
            return f"{n // unit}{suffix}"
    return str(n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--title", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--note", action="append", default=[])
    args = ap.parse_args()

    rows = {}  # (workload, threads, count) -> {fs: ns or "failed"}
    order = []
    for line in open(args.log, errors="replace"):
        m = LINE.match(line.rstrip("\r\n"))
        if not m:
            continue
        fs, name, count, threads, report = m.groups()
        key = (name, int(threads), int(count))
        if key not in rows:
            rows[key] = {}
            order.append(key)
        ns = NS.search(report)
        rows[key][fs] = int(ns.group(1)) if ns else "failed"
    with_bcachefs = any("bcachefs" in r for r in rows.values())

    print(f"# {args.title}")
    print()
    print(f"Produced by `{args.command}`.")
    for note in args.note:
        print(note)
    print()
    print("nsec per iteration per thread (wall time × threads / count, both sides' own report; lower is better).")
    print()
    if with_bcachefs:
        print("| workload | threads | keys | bcachefs | sixfs | sixfs / bcachefs |")
        print("|---|---|---|---|---|---|")
    else:
        print("| workload | threads | keys | sixfs |")
        print("|---|---|---|---|")
    for key in order:
        w, t, n = key
        r = rows[key]
        six = r.get("sixfs", "-")
        if not with_bcachefs:
            print(f"| {w} | {t} | {keys(n)} | {six} |")
            continue
        bch = r.get("bcachefs", "-")
        ratio = f"{six / bch:.2f}" if isinstance(six, int) and isinstance(bch, int) and bch else "-"
        print(f"| {w} | {t} | {keys(n)} | {bch} | {six} | {ratio} |")


if __name__ == "__main__":
    main()
