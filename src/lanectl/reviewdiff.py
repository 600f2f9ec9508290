"""The diff a reviewer reads, cut by file and hunk into parts that fit one call (ADR 0027).

The text is ``git diff base...head`` with every option that could change it
pinned (no external diff, no textconv, no colour, no renames: the same
changes the recorded ``diff_sha256`` covers). Parts are packed in file order:
whole files while they fit, a file too big for one call is split at its
hunks (each piece repeats the file's header), and a file with a hunk that
cannot fit even alone — or any file beyond the last call allowed — is
*skipped*: the review lists it in ``coverage.files_skipped`` and is
incomplete (SPEC §3.5). Pure functions over text, apart from :func:`read`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lanectl import git
from lanectl.errors import LaneError

CHARS_PER_TOKEN = 4  # the estimate the pacer and the simulator use
OPTIONS = (
    "--no-ext-diff", "--no-textconv", "--no-color", "--no-renames", "--no-relative",
    "-U3", "--inter-hunk-context=0", "--diff-algorithm=default", "-O/dev/null",
    "--src-prefix=a/", "--dst-prefix=b/",
)  # fmt: skip
SNIFF = 8000  # bytes git looks at for a NUL to call a file binary


def tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) + 1


@dataclass(frozen=True)
class FileDiff:
    path: str
    header: str  # "diff --git …" up to the first hunk (or all of it: binary, mode-only)
    hunks: tuple[str, ...]

    @property
    def text(self) -> str:
        return self.header + "".join(self.hunks)


@dataclass(frozen=True)
class Piece:
    path: str
    text: str
    whole: bool  # the whole file, not one run of its hunks


@dataclass
class Part:
    pieces: list[Piece] = field(default_factory=list)
    size: int = 0  # tokens

    @property
    def paths(self) -> list[str]:
        seen: list[str] = []
        for piece in self.pieces:
            if piece.path not in seen:
                seen.append(piece.path)
        return seen

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.pieces)


@dataclass(frozen=True)
class Plan:
    parts: tuple[Part, ...]
    files: tuple[str, ...]  # every changed file, in diff order
    skipped: tuple[str, ...]  # files no part covers completely

    def covered_by(self, part_indices: Sequence[int]) -> list[str]:
        """Files whose every piece is in the given parts."""
        need: dict[str, set[int]] = {}
        for index, part in enumerate(self.parts):
            for path in part.paths:
                need.setdefault(path, set()).add(index)
        done = set(part_indices)
        return [p for p in self.files if p not in self.skipped and need.get(p, {-1}) <= done]


def _diff(repo: Path, args: Sequence[str]) -> bytes:
    common = ["-c", "core.quotePath=false", "-c", "core.commitGraph=false", "diff", *OPTIONS]
    return git.run([*common, *args], repo).stdout


def _binary(repo: Path, rev: str, path: str) -> bool:
    """What git itself would call binary without attributes: a NUL near the start."""
    data = git.show_file(rev, path, repo)
    return data is not None and b"\0" in data[:SNIFF]


def read(repo: Path, base: str, head: str) -> tuple[str, list[str]]:
    """(diff text, changed paths in the diff's order) of ``base...head``.

    A file the repository's attributes (``-diff``, ``binary``) make git show
    as "Binary files differ" although it is text is shown as text: attributes
    are the repository's to set, and must not hide a change from its reviewer.
    """
    text = _diff(repo, [f"{base}...{head}"]).decode("utf-8", "replace")
    raw = _diff(repo, ["--name-only", "-z", f"{base}...{head}"])
    names = [n for n in raw.decode("utf-8", "replace").split("\0") if n]
    files = split(text, names)
    hidden = [f.path for f in files if not f.hunks and "\nBinary files " in f"\n{f.header}"]
    if not hidden:
        return text, names
    merge_base = git.out(["merge-base", base, head], repo)
    shown: list[str] = []
    for item in files:
        if item.path in hidden and not any(_binary(repo, r, item.path) for r in (merge_base, head)):
            one = _diff(repo, ["--text", f"{base}...{head}", "--", f":(literal){item.path}"])
            shown.append(one.decode("utf-8", "replace"))
        else:
            shown.append(item.text)
    return "".join(shown), names


def split(text: str, paths: Sequence[str]) -> list[FileDiff]:
    """The diff cut at each ``diff --git`` line, matched in order with ``paths``."""
    sections: list[list[str]] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("diff --git ") or not sections:
            sections.append([])
        sections[-1].append(line)
    if sections and not sections[0][0].startswith("diff --git "):
        raise LaneError("git diff printed something before the first file")
    if len(sections) != len(paths):
        raise LaneError(
            f"git diff shows {len(sections)} file(s) but names {len(paths)}; cannot review it"
        )
    files: list[FileDiff] = []
    for path, lines in zip(paths, sections, strict=True):
        header: list[str] = []
        hunks: list[list[str]] = []
        for line in lines:
            if line.startswith("@@ "):
                hunks.append([line])
            elif hunks:
                hunks[-1].append(line)
            else:
                header.append(line)
        files.append(FileDiff(path, "".join(header), tuple("".join(h) for h in hunks)))
    return files


def plan(files: Sequence[FileDiff], room: int, max_parts: int) -> Plan:
    """Pack ``files`` into at most ``max_parts`` parts of at most ``room`` tokens each."""
    parts: list[Part] = []
    skipped: list[str] = []

    def cost(path: str, text: str) -> int:  # the diff, and the path in the part's file list
        return tokens(text) + tokens(path)

    def place(piece: Piece) -> None:
        size = cost(piece.path, piece.text)
        if not parts or parts[-1].size + size > room:
            parts.append(Part())
        parts[-1].pieces.append(piece)
        parts[-1].size += size

    for item in files:
        if cost(item.path, item.text) <= room:
            place(Piece(item.path, item.text, True))
            continue
        header = item.header if item.header.endswith("\n") else item.header + "\n"
        if not item.hunks or any(cost(item.path, header + h) > room for h in item.hunks):
            skipped.append(item.path)
            continue
        run = ""
        for hunk in item.hunks:
            if run and cost(item.path, header + run + hunk) > room:
                place(Piece(item.path, header + run, False))
                run = ""
            run += hunk
        place(Piece(item.path, header + run, False))
    kept = parts[:max_parts]
    for part in parts[max_parts:]:
        for path in part.paths:
            if path not in skipped:
                skipped.append(path)
    order = [f.path for f in files]
    skipped.sort(key=order.index)
    return Plan(tuple(kept), tuple(order), tuple(skipped))
