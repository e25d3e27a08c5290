#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that the module's imports keep the layering of
Documentation/architecture.rst: every `use` of a file under rust/ names a
layer at or below its own, and the files of one layer import each other
without a circle.

The layer order is read from architecture.rst, from the line that starts
with "Layer order:", so the document and the check cannot disagree.
Exits 1 and prints every offending import otherwise.
"""

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUST = ROOT / "rust"


def layer_order():
    text = (ROOT / "Documentation" / "architecture.rst").read_text()
    m = re.search(r"^Layer order:\s*(.+?)\.?$", text, re.M)
    if not m:
        sys.exit("check-layers: no 'Layer order:' line in Documentation/architecture.rst")
    return [name.strip(" `") for name in m.group(1).split("<")]


def layer_of(path, order):
    """The layer of a file: its folder under rust/, the crate root files
    (sixfs.rs, and the other top-level files) being the top layer."""
    rel = path.relative_to(RUST)
    if len(rel.parts) == 1:
        return "root"
    top = rel.parts[0]
    if top == "platform" and len(rel.parts) > 2 and rel.parts[1] == "kernel":
        # The kernel platform is glue that the platform layer re-exports:
        # it may use the glue, and sits with the platform.
        return "platform"
    return top if top in order else None


def use_statements(text):
    """Every `use` statement of a file, and every path written out in the
    code (`super::cache::TAKEN`), comments stripped, one string each."""
    text = re.sub(r"//[^\n]*", "", text)
    for m in re.finditer(r"\b(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", text):
        yield re.sub(r"\s+", "", m.group(1))
    text = re.sub(r"\b(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", "", text)
    for m in re.finditer(r"(?<![\w:])((?:crate|super)(?:::\w+)+)", text):
        yield m.group(1)


def expand(tree):
    """`a::{b,c::{d,e}}` -> a::b, a::c::d, a::c::e."""
    m = re.match(r"^(.*?)\{(.*)\}$", tree)
    if not m:
        return [tree]
    prefix, inner = m.groups()
    parts, depth, cur = [], 0, ""
    for ch in inner:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    if cur:
        parts.append(cur)
    return [p for part in parts if part for p in expand(prefix + part)]


def target(path, imported, files):
    """The file (or folder) an import path leads to: the deepest existing
    module along it. Returns a path relative to rust/ without .rs, or None
    for paths outside the crate (core, kernel, ...)."""
    parts = imported.split("::")
    here = list(path.relative_to(RUST).with_suffix("").parts)
    if here[-1] == "mod":
        here = here[:-1]
    else:
        here = here[:-1] + [here[-1]]
    if parts[0] == "crate":
        base, rest = [], parts[1:]
    elif parts[0] == "super":
        base, rest = here[:-1], parts[1:]
        while rest and rest[0] == "super":
            base, rest = base[:-1], rest[1:]
    elif parts[0] == "self":
        base, rest = here, parts[1:]
    else:
        return None
    found = None
    cur = list(base)
    for name in rest:
        cur = cur + [name]
        key = "/".join(cur)
        if key in files:
            found = key
        else:
            break
    if found is None and base:
        found = "/".join(base) + "/mod" if "/".join(base) + "/mod" in files else None
    return found


def main():
    order = layer_order() + ["root"]
    rank = {name: i for i, name in enumerate(order)}
    sources = sorted(p for p in RUST.rglob("*.rs"))
    files = {}
    for p in sources:
        rel = p.relative_to(RUST).with_suffix("")
        files["/".join(rel.parts)] = p
        if rel.name == "mod":
            files["/".join(rel.parts[:-1])] = p
    errors = []
    edges = {}
    for p in sources:
        mine = layer_of(p, order)
        if mine is None:
            errors.append(f"{p.relative_to(ROOT)}: in no layer of the layer order")
            continue
        for stmt in use_statements(p.read_text()):
            for imported in expand(stmt):
                dest = target(p, imported, files)
                if dest is None:
                    continue
                dest_path = files[dest]
                theirs = layer_of(dest_path, order)
                if theirs is None:
                    continue
                if rank[theirs] > rank[mine]:
                    errors.append(
                        f"{p.relative_to(ROOT)}: `use {imported}` reaches up from {mine} to {theirs}"
                    )
                elif theirs == mine and dest_path != p and dest_path.name != "mod.rs" and p.name != "mod.rs":
                    edges.setdefault(p, set()).add(dest_path)
    # Circles among the files of one layer (tests excluded: nothing imports
    # them, and they import what they test).
    state = {}

    def visit(node, stack):
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                errors.append("import circle: " + " -> ".join(str(c.relative_to(ROOT)) for c in cycle))
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node, [])
    for e in errors:
        print(e)
    if errors:
        print(f"check-layers: {len(errors)} import(s) break the layer order {' < '.join(order)}")
        return 1
    print(f"check-layers: ok ({len(sources)} files, layer order {' < '.join(order)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
