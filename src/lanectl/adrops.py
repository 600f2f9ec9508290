"""Changes to ADRs: ``adr new``, ``adr supersede`` and ``adr renumber``.

Each writes the user's ADR files (never committed by lanectl: they reach the
base branch by normal review), records one ledger event, and for renumber
rewrites task files in the state worktree, which the surrounding
:func:`lanectl.state.change` commits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from lanectl import ledger, tasks, templates, yamlio
from lanectl.adrs import (
    SUPERSEDED,
    Adr,
    branch_files,
    branch_label,
    find,
    free_number,
    next_number,
    number_of,
    parse_number,
    parse_text,
    read_text,
    scan,
)
from lanectl.errors import LaneError
from lanectl.state import Change, atomic_write
from lanectl.workspace import DECISIONS_DIR, Workspace, slugify


@dataclass(frozen=True)
class Renumbered:
    adr: Adr
    old_file: str
    adrs: tuple[str, ...]  # other ADR files whose references were rewritten
    tasks: tuple[str, ...]  # task ids whose references were rewritten
    left: tuple[str, ...]  # task ids whose bare number may mean another ADR: not rewritten


def create(
    ws: Workspace,
    change: Change,
    title: str,
    *,
    decision_makers: Sequence[str] = (),
    today: date | None = None,
) -> Adr:
    title = " ".join(title.split())
    if not title:
        raise LaneError("an ADR needs a title", hint='e.g. `lanectl adr new "Use PostgreSQL"`')
    number = next_number(ws)
    name = f"{number}-{slugify(title)}.md"
    text = templates.fill(
        templates.read("adr.md", ws.root),
        title=title,
        date=(today or date.today()).isoformat(),
        decision_makers=yamlio.dump_flow(list(decision_makers)),
    )
    adr, found = parse_text(name, text)
    if adr is None:
        raise LaneError(
            f"the ADR template makes an invalid record: {found[0]}",
            hint="fix .lanes/templates/adr.md, or delete it to use the shipped template",
        )
    path = ws.decisions_dir / name
    if path.exists():
        raise LaneError(f"{adr.rel_path} already exists", hint="run `lanectl check`")
    atomic_write(path, text)
    ledger.record(
        change, "adr.created", data={"number": number, "file": adr.rel_path, "title": title}
    )
    return adr


def _with_keys(ws: Workspace, adr: Adr, fields: dict[str, Any]) -> str:
    text = read_text(ws, adr)
    front = yamlio.split(text, adr.rel_path)
    yaml_text = front.yaml_text
    for key, value in fields.items():
        yaml_text = yamlio.set_key(yaml_text, key, value)
    return front.with_yaml(yaml_text)


def _reparse(ws: Workspace, name: str) -> Adr:
    text = yamlio.read_bounded(ws.decisions_dir / name, f"{DECISIONS_DIR}/{name}")
    adr, found = parse_text(name, text)
    if adr is None:
        raise LaneError(found[0])
    return adr


def supersede(ws: Workspace, change: Change, old_query: str, new_query: str) -> tuple[Adr, Adr]:
    """Mark ``old`` superseded by ``new`` and link ``new`` back; returns both, updated."""
    entries = scan(ws)
    old = find(entries, old_query, ws)
    new = find(entries, new_query, ws)
    if old.file == new.file:
        raise LaneError(f"ADR {old.number} cannot supersede itself")
    if old.superseded_by:
        raise LaneError(
            f"ADR {old.number} is already superseded by {old.superseded_by}",
            where=old.where("status"),
            hint=f"to replace that decision, supersede {old.superseded_by} instead",
        )
    if new.superseded_by:
        raise LaneError(
            f"ADR {new.number} is itself superseded by {new.superseded_by}",
            hint=f"supersede {old.number} with {new.superseded_by} instead",
        )
    if new.status == "rejected":
        raise LaneError(f"ADR {new.number} was rejected and cannot supersede another decision")
    old_text = _with_keys(ws, old, {"status": f"superseded by {new.number}"})
    links = [*new.supersedes, old.number] if old.number not in new.supersedes else new.supersedes
    new_text = _with_keys(ws, new, {"supersedes": list(links)})
    atomic_write(ws.decisions_dir / old.file, old_text)
    atomic_write(ws.decisions_dir / new.file, new_text)
    ledger.record(
        change,
        "adr.superseded",
        data={"old": old.number, "new": new.number, "files": [old.rel_path, new.rel_path]},
    )
    return _reparse(ws, old.file), _reparse(ws, new.file)


def _rename_links(text: str, old_name: str, new_name: str) -> str:
    """Replace the file name wherever it stands alone: links, paths, mentions."""
    pattern = rf"(?<![\w.-]){re.escape(old_name)}(?![\w-]|\.\w)"
    return re.sub(pattern, new_name, text)


def renumber(ws: Workspace, change: Change, query: str, to: str) -> Renumbered:
    """Give an ADR a new number and rewrite what refers to it."""
    entries = scan(ws)
    target = find(entries, query, ws)
    n, m = target.number, parse_number(to)
    if m == n:
        raise LaneError(f"ADR {target.file} is already number {n}")
    new_name = f"{m}-{target.slug}.md"
    places = [(f"{DECISIONS_DIR}/{e.name} in the work tree", e.name) for e in entries]
    places += [(f"{name} on {branch_label(ws, ref)}", name) for ref, name in branch_files(ws)]
    # The same file name on a branch is this ADR already renumbered there, not a clash.
    taken = [
        label
        for index, (label, name) in enumerate(places)
        if number_of(name) == m and (name != new_name or index < len(entries))
    ]
    if taken:
        raise LaneError(
            f"ADR number {m} is taken by {'; '.join(taken)}",
            hint=f"pick a free number, e.g. `lanectl adr renumber {target.file} "
            f"{free_number(ws, entries)}`",
        )
    # When another file keeps number n, a bare "n" may mean that file: rewrite only
    # references the renumbered ADR confirms from its side (supersede back links).
    shared = any(number_of(name) == n and name != target.file for _, name in places)
    writes: dict[Path, str] = {}
    rewritten: list[str] = []
    for entry in entries:
        if entry.name == target.file:
            continue
        path = ws.decisions_dir / entry.name
        try:
            text = yamlio.read_bounded(path, entry.name)
        except (LaneError, OSError):
            continue  # unreadable: `lanectl check` reports it
        updated = text
        adr = entry.adr
        if adr is not None:
            fields: dict[str, Any] = {}
            if adr.superseded_by == n and (not shared or adr.number in target.supersedes):
                match = SUPERSEDED.match(adr.status)
                assert match is not None
                fields["status"] = adr.status[: match.start(1)] + m + adr.status[match.end(1) :]
            if n in adr.supersedes and (not shared or target.superseded_by == adr.number):
                fields["supersedes"] = list(
                    dict.fromkeys(m if s == n else s for s in adr.supersedes)
                )
            if fields:
                updated = _with_keys(ws, adr, fields)
        updated = _rename_links(updated, target.file, new_name)
        if updated != text:
            writes[path] = updated
            rewritten.append(entry.name)
    task_writes, task_ids, left = _rewrite_tasks(ws, n, m, target.file, new_name, shared=shared)
    own = _rename_links(read_text(ws, target), target.file, new_name)
    new_path = ws.decisions_dir / new_name
    atomic_write(new_path, own)
    (ws.decisions_dir / target.file).unlink()
    for path, text in writes.items():
        atomic_write(path, text)
    for path, text in task_writes.items():
        atomic_write(path, text)
        change.touch(path)
    ledger.record(
        change,
        "adr.renumbered",
        data={
            "from": n,
            "to": m,
            "old_file": target.rel_path,
            "file": f"{DECISIONS_DIR}/{new_name}",
            "adrs": rewritten,
            "tasks": task_ids,
            "left": left,
        },
    )
    return Renumbered(
        _reparse(ws, new_name), target.file, tuple(rewritten), tuple(task_ids), tuple(left)
    )


def _rewrite_tasks(
    ws: Workspace, n: str, m: str, old_name: str, new_name: str, *, shared: bool
) -> tuple[dict[Path, str], list[str], list[str]]:
    writes: dict[Path, str] = {}
    rewritten: list[str] = []
    left: list[str] = []
    for task in tasks.load(ws).tasks:
        path = ws.tasks_dir / task.file
        text = yamlio.read_bounded(path, task.rel_path)
        updated = text
        if n in task.adrs and shared:
            left.append(task.id)
        elif n in task.adrs:
            front = yamlio.split(text, task.rel_path)
            refs = list(dict.fromkeys(m if a == n else a for a in task.adrs))
            updated = front.with_yaml(yamlio.set_key(front.yaml_text, "adrs", refs))
        updated = _rename_links(updated, old_name, new_name)
        if updated != text:
            writes[path] = updated
            rewritten.append(task.id)
    return writes, rewritten, left
