"""Architecture decision records: MADR 4 files in ``docs/decisions`` (SPEC §3.3).

ADRs live in the user's work tree and reach the base branch by normal review:
lanectl writes them but never commits them. Numbers are allocated over the
work tree and the base branch; :func:`problems` finds numbers that collide
with the base branch or any other local branch. The commands that change ADRs
(new, supersede, renumber) are in :mod:`lanectl.adrops`.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from lanectl import git, yamlio
from lanectl.errors import LaneError
from lanectl.workspace import DECISIONS_DIR, Workspace

STATUSES = ("proposed", "accepted", "rejected", "deprecated")
STATUS_CHOICES = ", ".join(STATUSES) + ", superseded by NNNN"
LIST_KEYS = ("decision-makers", "consulted", "informed", "paths")
MAX_NUMBER = 9999
_NAME = re.compile(r"^(\d{4})-(.+)\.md$")
_LOOKS_NUMBERED = re.compile(r"^\d+([-_ .]|$)")
SUPERSEDED = re.compile(r"^superseded by \[?(?:ADR[- ]?)?(\d{1,4})(?!\d)", re.IGNORECASE)
_TITLE = re.compile(r"^#[ \t]+(.+?)[ \t]*$", re.MULTILINE)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Adr:
    number: str  # "0004"
    file: str  # "0004-use-postgres.md"
    title: str
    status: str
    date: str
    decision_makers: tuple[str, ...] = ()
    consulted: tuple[str, ...] = ()
    informed: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    supersedes: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict, compare=False)  # key → file line

    @property
    def rel_path(self) -> str:
        return f"{DECISIONS_DIR}/{self.file}"

    @property
    def slug(self) -> str:
        return self.file[len(self.number) + 1 : -len(".md")]

    @property
    def superseded_by(self) -> str | None:
        match = SUPERSEDED.match(self.status)
        return f"{int(match.group(1)):04d}" if match else None

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        return f"{self.rel_path}:{line}" if line else self.rel_path

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "title": self.title,
            "status": self.status,
            "date": self.date,
            "decision-makers": list(self.decision_makers),
            "consulted": list(self.consulted),
            "informed": list(self.informed),
            "paths": list(self.paths),
            "supersedes": list(self.supersedes),
            "superseded_by": self.superseded_by,
            "file": self.rel_path,
        }


@dataclass(frozen=True)
class Entry:
    """One file in the decisions directory: a valid ADR, or its problems."""

    name: str
    number: str | None
    adr: Adr | None
    problems: tuple[str, ...] = ()


# ---------------------------------------------------------------------------
# Parsing


def number_of(name: str) -> str | None:
    match = _NAME.match(name)
    return match.group(1) if match else None


def _got(value: object) -> str:
    return "missing" if value is None else f"got {type(value).__name__}"


def parse_text(name: str, text: str) -> tuple[Adr | None, list[str]]:
    """The ADR in ``text``, or None and every problem found (each ``file:line: …``)."""
    rel = f"{DECISIONS_DIR}/{name}"
    number = number_of(name)
    if number is None:
        return None, [f"{rel}: ADR files are named NNNN-slug.md; rename it with `git mv`"]
    try:
        front = yamlio.split(text, rel)
        data = yamlio.load(front.yaml_text, rel, first_line=front.first_line)
    except LaneError as exc:
        return None, [str(exc)]
    if not isinstance(data, dict):
        return None, [f"{rel}:1: front matter must be a mapping with status, date, …"]
    key_lines = yamlio.key_lines(front.yaml_text)
    lines = {str(k[0]): front.first_line + n - 1 for k, n in key_lines.items() if len(k) == 1}
    problems: list[str] = []

    def at(*path: str | int) -> str:
        line = key_lines.get(path) or key_lines.get(path[:1])
        return f"{rel}:{front.first_line + line - 1 if line else 1}"

    status = data.get("status")
    if not isinstance(status, str) or not status.strip():
        problems.append(f"{at('status')}: status: must be one of {STATUS_CHOICES} ({_got(status)})")
        status = ""
    status = status.strip()
    if status and status not in STATUSES and not SUPERSEDED.match(status):
        close = difflib.get_close_matches(status, STATUSES, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        problems.append(f"{at('status')}: status: '{status}' is not one of {STATUS_CHOICES}{hint}")
    raw_date = data.get("date")
    if isinstance(raw_date, date):
        raw_date = raw_date.isoformat()
    if not isinstance(raw_date, str) or not _valid_date(raw_date.strip()):
        shown = f"'{raw_date}'" if isinstance(raw_date, str) else _got(raw_date)
        problems.append(f"{at('date')}: date: must be a date like 2025-01-31 ({shown})")
        raw_date = ""
    lists: dict[str, tuple[str, ...]] = {}
    for key in LIST_KEYS:
        value = data.get(key)
        items: list[str] = []
        if value is not None and not isinstance(value, list):
            problems.append(f"{at(key)}: {key}: must be a list, e.g. [alice] ({_got(value)})")
        for index, item in enumerate(value if isinstance(value, list) else []):
            if isinstance(item, str) and item.strip():
                items.append(item.strip())
            else:
                problems.append(f"{at(key, index)}: {key} › {index}: must be a non-empty string")
        lists[key] = tuple(items)
    supersedes: list[str] = []
    value = data.get("supersedes")
    if value is not None and not isinstance(value, list):
        problems.append(f"{at('supersedes')}: supersedes: must be a list like ['0003']")
    for index, item in enumerate(value if isinstance(value, list) else []):
        if isinstance(item, str) and re.fullmatch(r"\d{1,4}", item.strip()):
            supersedes.append(f"{int(item):04d}")
        else:
            problems.append(
                f"{at('supersedes', index)}: supersedes › {index}: '{item}' is not an ADR number;"
                " write numbers quoted, like '0003' (YAML reads an unquoted 0010 as 8)"
            )
    title_match = _TITLE.search(front.body)
    if title_match is None:
        body_line = front.first_line + front.yaml_text.count("\n") + 1
        problems.append(f"{rel}:{body_line}: no title: the body needs a '# Title' line")
    if problems:
        return None, problems
    assert title_match is not None
    adr = Adr(
        number=number,
        file=name,
        title=title_match.group(1).strip(),
        status=status,
        date=raw_date.strip(),
        decision_makers=lists["decision-makers"],
        consulted=lists["consulted"],
        informed=lists["informed"],
        paths=lists["paths"],
        supersedes=tuple(supersedes),
        lines=lines,
    )
    return adr, []


def _valid_date(text: str) -> bool:
    if not _DATE.match(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _tree_names(ws: Workspace) -> list[str]:
    try:
        found = [e.name for e in os.scandir(ws.decisions_dir) if e.is_file()]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n for n in found if n.endswith(".md") and _LOOKS_NUMBERED.match(n))


def scan(ws: Workspace) -> list[Entry]:
    """Every numbered file in the decisions directory, parsed, by number."""
    entries: list[Entry] = []
    for name in _tree_names(ws):
        rel = f"{DECISIONS_DIR}/{name}"
        try:
            text = yamlio.read_bounded(ws.decisions_dir / name, rel)
            adr, problems = parse_text(name, text)
        except LaneError as exc:
            adr, problems = None, [str(exc)]
        except OSError as exc:
            adr, problems = None, [f"{rel}: cannot read: {exc.strerror}"]
        entries.append(Entry(name, number_of(name), adr, tuple(problems)))
    return sorted(entries, key=lambda e: (e.number or "", e.name))


def load(ws: Workspace) -> tuple[list[Adr], list[str]]:
    """(valid ADRs, one message per problem in the files that are not)."""
    entries = scan(ws)
    return [e.adr for e in entries if e.adr], [p for e in entries for p in e.problems]


def read_text(ws: Workspace, adr: Adr) -> str:
    return yamlio.read_bounded(ws.decisions_dir / adr.file, adr.rel_path)


def parse_number(query: str) -> str:
    text = query.strip()
    if not re.fullmatch(r"\d{1,4}", text):
        raise LaneError(f"'{query}' is not an ADR number (e.g. 4 or 0004)")
    return f"{int(text):04d}"


def find(entries: Sequence[Entry], query: str, ws: Workspace) -> Adr:
    """The one ADR ``query`` names (a number or a file name) among ``entries``."""
    name = Path(query.strip()).name
    if re.fullmatch(r"\d{1,4}", name):
        name = parse_number(name)
        hits = [e for e in entries if e.number == name]
    elif number_of(name) or number_of(name + ".md"):
        hits = [e for e in entries if e.name in (name, name + ".md")]
    else:
        raise LaneError(
            f"'{query}' is not an ADR number or file name (e.g. 4, 0004 or 0004-use-postgres.md)"
        )
    if not hits:
        raise LaneError(f"no ADR {name} in {DECISIONS_DIR}", hint="see `lanectl adr list`")
    if len(hits) > 1:
        names = " and ".join(e.name for e in hits)
        raise LaneError(
            f"ADR number {hits[0].number} is used by {names}",
            hint=f"name the file instead, and give one a new number with "
            f"`lanectl adr renumber {hits[-1].name} {free_number(ws, entries)}`",
        )
    if hits[0].adr is None:
        raise LaneError(hits[0].problems[0], hint="fix the file first; `lanectl check` lists all")
    return hits[0].adr


def resolve(ws: Workspace, query: str) -> Adr:
    """The ADR a user means by ``4``, ``0004``, ``0004-x.md`` or its path."""
    return find(scan(ws), query, ws)


# ---------------------------------------------------------------------------
# Numbers across branches


def branch_label(ws: Workspace, ref: str) -> str:
    return f"{ref} (the base branch)" if ref == ws.settings.base_branch else f"branch {ref}"


def branch_files(ws: Workspace) -> list[tuple[str, str]]:
    """(branch, ADR file name) on the base branch and every other local branch.

    The current branch is left out: the work tree stands for it.
    """
    current = git.current_branch(ws.root)
    base = ws.settings.base_branch
    refs = [base, *(b for b in git.local_branches(ws.root) if b != base)]
    return [
        (ref, name)
        for ref in refs
        if ref not in (current, ws.settings.state_branch)
        for name in git.ls_tree_names(ref, DECISIONS_DIR, ws.root)
        if number_of(name)
    ]


def _max_number(names: Iterable[str]) -> int:
    return max((int(n) for name in names if (n := number_of(name))), default=0)


def _format(value: int) -> str:
    if value > MAX_NUMBER:
        raise LaneError(f"ADR numbers are four digits; {value} does not fit")
    return f"{value:04d}"


def next_number(ws: Workspace) -> str:
    """1 + the highest number in the work tree and on the base branch."""
    base = git.ls_tree_names(ws.settings.base_branch, DECISIONS_DIR, ws.root)
    return _format(1 + _max_number([*_tree_names(ws), *base]))


def free_number(
    ws: Workspace, entries: Sequence[Entry], elsewhere: Sequence[tuple[str, str]] | None = None
) -> str:
    """A number used nowhere: not in the tree, on the base branch or any local branch."""
    others = branch_files(ws) if elsewhere is None else elsewhere
    return _format(1 + _max_number([*(e.name for e in entries), *(n for _, n in others)]))


# ---------------------------------------------------------------------------
# Checks


def problems(ws: Workspace) -> list[str]:
    """Every problem with the ADRs, one ``file:line: …`` message each (for ``check``)."""
    entries = scan(ws)
    found = [p for e in entries for p in e.problems]
    found += _link_problems(entries)
    elsewhere = branch_files(ws)
    free = free_number(ws, entries, elsewhere)
    found += _duplicate_problems(entries, free)
    found += _collision_problems(ws, entries, elsewhere, free)
    return found


def _link_problems(entries: Sequence[Entry]) -> list[str]:
    numbers = {e.number for e in entries}
    by_number: dict[str, list[Adr]] = {}
    for entry in entries:
        if entry.adr:
            by_number.setdefault(entry.adr.number, []).append(entry.adr)
    found: list[str] = []
    for adr in (e.adr for e in entries if e.adr):
        target = adr.superseded_by
        if target == adr.number:
            found.append(f"{adr.where('status')}: status: an ADR cannot supersede itself")
        elif target and target not in numbers:
            found.append(
                f"{adr.where('status')}: status: superseded by {target}, but there is no "
                f"ADR {target} in {DECISIONS_DIR}; correct the number"
            )
        elif target and target in by_number:
            newer = by_number[target]
            if not any(adr.number in other.supersedes for other in newer):
                found.append(
                    f"{adr.where('status')}: status: superseded by {target}, but "
                    f"{newer[0].rel_path} does not list it; add "
                    f"`supersedes: ['{adr.number}']` there"
                )
        for old in adr.supersedes:
            if old == adr.number:
                found.append(
                    f"{adr.where('supersedes')}: supersedes: an ADR cannot supersede itself"
                )
            elif old not in numbers:
                found.append(
                    f"{adr.where('supersedes')}: supersedes: there is no ADR {old} in "
                    f"{DECISIONS_DIR}; correct the number"
                )
            elif old in by_number and not any(
                o.superseded_by == adr.number for o in by_number[old]
            ):
                older = by_number[old][0]
                found.append(
                    f"{adr.where('supersedes')}: supersedes {old}, but {older.rel_path} has "
                    f"status '{older.status}'; set it to 'superseded by {adr.number}'"
                )
    return found


def _duplicate_problems(entries: Sequence[Entry], free: str) -> list[str]:
    found: list[str] = []
    first: dict[str, str] = {}
    for entry in entries:
        if entry.number is None:
            continue
        if entry.number in first:
            found.append(
                f"{DECISIONS_DIR}/{entry.name}: ADR number {entry.number} is also used by "
                f"{DECISIONS_DIR}/{first[entry.number]}; give this one a new number with "
                f"`lanectl adr renumber {entry.name} {free}`"
            )
        else:
            first[entry.number] = entry.name
    return found


def _collision_problems(
    ws: Workspace, entries: Sequence[Entry], elsewhere: Sequence[tuple[str, str]], free: str
) -> list[str]:
    """Same number, different file, between the work tree, the base and other branches."""
    tree: dict[str, list[str]] = {}
    for entry in entries:
        if entry.number:
            tree.setdefault(entry.number, []).append(entry.name)
    by_number: dict[str, dict[str, list[str]]] = {}  # number → file name → branches
    for ref, name in elsewhere:
        number = number_of(name)
        assert number is not None
        by_number.setdefault(number, {}).setdefault(name, []).append(ref)
    found: list[str] = []
    for number in sorted(by_number):
        mine = tree.get(number, [])
        others = {n: refs for n, refs in by_number[number].items() if n not in mine}
        where = "; ".join(
            f"{n} on {', '.join(branch_label(ws, r) for r in refs)}"
            for n, refs in sorted(others.items())
        )
        if mine and others:
            for name in mine:
                found.append(
                    f"{DECISIONS_DIR}/{name}: ADR number {number} is also used by {where}; "
                    f"renumber this one with `lanectl adr renumber {name} {free}`, or the "
                    "other on its branch"
                )
        elif not mine and len(others) > 1:
            first = min(others)
            found.append(
                f"{DECISIONS_DIR}/{first} (on {', '.join(others[first])}): ADR number {number} "
                f"is used by {where}; renumber one of them on its branch with "
                f"`lanectl adr renumber {first} {free}`"
            )
    return found
