"""The generated reference pages in ``docs/`` and the check that keeps them fresh.

    python -m lanectl.docgen           # rewrite every generated page
    python -m lanectl.docgen --check   # exit 1 naming each stale page

Generated: ``docs/cli.md`` (every ``--help``), ``docs/config.md`` (the config
schema) and the marked blocks of ``docs/roles/*.md`` (the capability table).
``tests/test_docs.py`` fails when a page is stale, so CI does too (ADR 0030).
Not imported by the ``lanectl`` command: it is a tool for this source tree.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REGENERATE = ".venv/bin/python -m lanectl.docgen"


@dataclass(frozen=True)
class Page:
    path: str  # relative to the source tree
    text: str


def cell(text: str) -> str:
    """``text`` as one Markdown table cell: one line, pipes escaped, and ``<…>`` outside
    code spans kept as text (GitHub would take ``<task>`` for an HTML tag)."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    for index in range(0, len(parts), 2):
        parts[index] = parts[index].replace("<", "&lt;")
    return "`".join(parts)


def source_root() -> Path | None:
    """The lanectl source checkout this code runs from (None for an installed wheel)."""
    root = Path(__file__).resolve().parents[3]
    if (root / "pyproject.toml").is_file() and (root / "src" / "lanectl").is_dir():
        return root
    return None


def pages(root: Path) -> list[Page]:
    """Every generated page as it should be now."""
    from lanectl.docgen import clidoc, configdoc, roledoc

    return [
        Page(clidoc.PATH, clidoc.render(REGENERATE)),
        Page(configdoc.PATH, configdoc.render(REGENERATE)),
        *(Page(path, text) for path, text in roledoc.pages(root)),
    ]


def stale(root: Path) -> list[str]:
    """The generated pages whose file differs from what the code says now."""
    out: list[str] = []
    for page in pages(root):
        target = root / page.path
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current != page.text:
            out.append(page.path)
    return out


def write(root: Path) -> list[str]:
    """Rewrite the stale pages; the paths written."""
    written: list[str] = []
    for page in pages(root):
        target = root / page.path
        if target.is_file() and target.read_text(encoding="utf-8") == page.text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page.text, encoding="utf-8")
        written.append(page.path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lanectl.docgen",
        description="Regenerate the reference pages in docs/ (CLI, config, role tables).",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a page is stale")
    parser.add_argument("--root", type=Path, help="the lanectl source tree (default: this one)")
    args = parser.parse_args(argv)
    root = args.root or source_root()
    if root is None or not (root / "docs").is_dir():
        sys.stderr.write("docgen: run it in a lanectl source checkout, or pass --root\n")
        return 1
    if args.check:
        found = stale(root)
        for path in found:
            sys.stderr.write(f"docgen: {path} is stale; regenerate with `{REGENERATE}`\n")
        if not found:
            print("docgen: every generated page is up to date")
        return 1 if found else 0
    for path in write(root):
        print(f"docgen: wrote {path}")
    return 0
