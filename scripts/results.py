#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Counts the results of `make check` and prints one summary.

Reads the logs that scripts/check.sh collected:
  --lint FILE    lines "ok NAME" / "not ok NAME" from the static checks
  --fuzz FILE    the same lines from scripts/fuzz.sh, one per parser; a
                 missing or empty file counts as a failure
  --fsck FILE    "ok fsck DISK" / "not ok fsck DISK": fsck -n on the host
                 of each disk the guest wrote
  --cargo FILE:RC  the output of a `cargo test` run (libtest format) and its
                 exit code; may be repeated
  --guest FILE   the guest's output: SIXFS_SECTION blocks of KTAP/TAP, and
                 the exit code of scripts/run-guest.sh (non-zero also when the
                 kernel log showed a splat)
  --kunit-sources DIR  the module's Rust sources: every suite declared there
                 with `test_suite! { NAME; ...` must have run in the guest;
                 each one that did not counts as a failure
The last line printed is "N passed, N failed" (", N skipped" when any were
skipped); the exit code is 1 when anything failed or nothing ran.
"""
import argparse
import pathlib
import re
import sys
from collections import Counter

RESULT = re.compile(r"^(not )?ok \d+ (.*?)(?: # (SKIP|skip).*)?$")


class Tally:
    def __init__(self):
        self.kinds = {}
        self.failures = []

    def add(self, kind, name, status):
        self.kinds.setdefault(kind, Counter())[status] += 1
        if status == "failed":
            self.failures.append(f"{kind}: {name}")

    def failures_of(self, kind):
        return [f for f in self.failures if f.startswith(kind + ":")]


def tap_status(match):
    if match.group(3):
        return "skipped"
    return "failed" if match.group(1) else "passed"


def read_lint(tally, path, kind="lint"):
    for line in open(path, errors="replace"):
        m = re.match(r"^(not )?ok (.*)$", line.strip())
        if m:
            tally.add(kind, m.group(2), "failed" if m.group(1) else "passed")


def read_fuzz(tally, path):
    """scripts/fuzz.sh's lines; none at all means the fuzzers never ran."""
    if pathlib.Path(path).exists():
        read_lint(tally, path, "fuzz")
    if "fuzz" not in tally.kinds:
        tally.add("fuzz", "no fuzz target ran", "failed")


def read_cargo(tally, path, rc):
    failed_before = len(tally.failures_of("cargo"))
    for line in open(path, errors="replace"):
        m = re.match(r"^test (\S+) \.\.\. (ok|FAILED|ignored)", line)
        if m:
            status = {"ok": "passed", "FAILED": "failed", "ignored": "skipped"}[m.group(2)]
            tally.add("cargo", m.group(1), status)
    if rc != 0 and len(tally.failures_of("cargo")) == failed_before:
        tally.add("cargo", f"{path}: cargo exited {rc} (build failure?)", "failed")


SUITE = re.compile(r"\btest_suite!\s*\{\s*(\w+)\s*;")


def expected_suites(root):
    """The KUnit suites declared in the Rust sources under root, read at
    check time so that no list needs maintaining by hand. Line comments are
    skipped (examples in documentation)."""
    names = set()
    for path in sorted(pathlib.Path(root).rglob("*.rs")):
        text = re.sub(r"//[^\n]*", "", path.read_text(errors="replace"))
        names.update(SUITE.findall(text))
    return names


def read_guest(tally, path, rc, expected=()):
    """KUnit suites (cases one indent level below "# Subtest: NAME") and
    kselftest binaries (top-level TAP), each checked against its plan; each
    suite in `expected` that did not run at all is a failure."""
    unit = None  # (kind, name) of the suite or binary being read
    planned, counted, failed = {}, Counter(), Counter()
    for raw in open(path, errors="replace"):
        line = raw.rstrip("\r\n")
        if line.startswith("SIXFS_SECTION "):
            parts = line.split()
            unit = ("kunit", None) if parts[1] == "kunit" else ("kselftest", parts[2])
            continue
        if unit is None:
            continue
        kind = unit[0]
        if line.startswith("not ok - "):
            tally.add(kind, line[len("not ok - "):], "failed")
            continue
        if kind == "kunit":
            if not line.startswith("    ") or line.startswith("     "):
                continue
            line = line[4:]
            if line.startswith("# Subtest: "):
                unit = ("kunit", line[len("# Subtest: "):])
                continue
        elif line.startswith("SIXFS_EXIT "):
            code = int(line.split()[1])
            # 4 is kselftest's "skipped"; a crash shows as missing results.
            if code not in (0, 4) and counted[unit] >= planned.get(unit, 0) and not failed[unit]:
                tally.add(kind, f"{unit[1]}: exited {code}", "failed")
            continue
        m = re.match(r"^1\.\.(\d+)$", line)
        if m:
            planned[unit] = int(m.group(1))
            continue
        m = RESULT.match(line)
        if m:
            status = tap_status(m)
            tally.add(kind, f"{unit[1]}: {m.group(2)}", status)
            counted[unit] += 1
            failed[unit] += status == "failed"
    for (kind, name), n in planned.items():
        for i in range(counted[(kind, name)], n):
            tally.add(kind, f"{name}: result {i + 1} of {n} missing", "failed")
    ran = {name for kind, name in planned if kind == "kunit"}
    for name in sorted(set(expected) - ran):
        tally.add("kunit", f"{name}: suite did not run", "failed")
    tally.add("guest", "finished with a clean kernel log", "passed" if rc == 0 else "failed")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lint")
    ap.add_argument("--fuzz")
    ap.add_argument("--fsck", help="'ok fsck DISK' lines: fsck -n of the disks the guest wrote")
    ap.add_argument("--cargo", action="append", default=[])
    ap.add_argument("--guest")
    ap.add_argument("--guest-rc", type=int, default=0)
    ap.add_argument("--kunit-sources")
    args = ap.parse_args()

    tally = Tally()
    if args.lint:
        read_lint(tally, args.lint)
    if args.fuzz:
        read_fuzz(tally, args.fuzz)
    if args.fsck:
        read_lint(tally, args.fsck, "fsck")
    for run in args.cargo:
        path, _, rc = run.rpartition(":")
        read_cargo(tally, path, int(rc))
    if args.guest:
        expected = expected_suites(args.kunit_sources) if args.kunit_sources else ()
        if args.kunit_sources and not expected:
            tally.add("kunit", f"no test_suite! found in {args.kunit_sources}", "failed")
        read_guest(tally, args.guest, args.guest_rc, expected)

    total = Counter()
    print("\n== sixfs test summary ==")
    for kind, counts in tally.kinds.items():
        total.update(counts)
        print(f"  {kind:10} {counts['passed']:5} passed {counts['failed']:5} failed {counts['skipped']:5} skipped")
    for failure in tally.failures:
        print(f"  FAILED {failure}")
    line = f"{total['passed']} passed, {total['failed']} failed"
    if total["skipped"]:
        line += f", {total['skipped']} skipped"
    print(line)
    return 1 if total["failed"] or not total["passed"] else 0


if __name__ == "__main__":
    sys.exit(main())
