"""Operations that change tasks: each writes the file, records a ledger event,
and is committed by the surrounding :func:`lanectl.state.change`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanectl import ids, ledger, templates, yamlio
from lanectl.errors import LaneError
from lanectl.state import Change, atomic_write
from lanectl.tasks import RISKS, Task, TaskSet, check_dependencies, parse
from lanectl.workspace import Workspace, slugify

# Which state may move to which by a person's command (the gate and the
# builders move tasks through the middle states in later features).
READY_FROM = ("draft", "blocked", "changes_requested")
CANCEL_FROM_NOT = ("merged", "cancelled")


@dataclass(frozen=True)
class NewTask:
    title: str
    risk: str = "medium"
    depends_on: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    adrs: tuple[str, ...] = ()
    body: str | None = None


def _resolve_deps(taskset: TaskSet, queries: Sequence[str]) -> list[str]:
    resolved: list[str] = []
    for query in queries:
        try:
            task_id = taskset.resolve(query).id
        except LaneError as exc:
            exc.message = f"--depends: {exc.message}"
            raise
        if task_id not in resolved:
            resolved.append(task_id)
    return resolved


def _check_risk(risk: str) -> None:
    if risk not in RISKS:
        raise LaneError(f"risk must be one of {', '.join(RISKS)} (got '{risk}')")


def _check_adrs(refs: Sequence[str]) -> list[str]:
    out = []
    for ref in refs:
        text = ref.strip()
        if not text.isdigit() or len(text) > 4:
            raise LaneError(f"'{ref}' is not an ADR number (e.g. 0004)")
        out.append(f"{int(text):04d}")
    return out


def create(ws: Workspace, change: Change, taskset: TaskSet, spec: NewTask) -> Task:
    title = " ".join(spec.title.split())
    if not title:
        raise LaneError("a task needs a title")
    _check_risk(spec.risk)
    depends = _resolve_deps(taskset, spec.depends_on)
    task_id = ids.new_task_id()
    while task_id in taskset.by_id:  # 40 bits: a clash is near impossible, but cheap to rule out
        task_id = ids.new_task_id()
    problems = check_dependencies(taskset, task_id, depends)
    if problems:
        raise LaneError("; ".join(problems))
    now = ledger.now_ts()
    front: dict[str, Any] = {
        "id": task_id,
        "title": title,
        "state": "draft",
        "risk": spec.risk,
        "depends_on": depends,
        "paths": list(spec.paths),
        "adrs": _check_adrs(spec.adrs),
        "created": now,
        "state_since": now,
    }
    front_text = "".join(f"{k}: {yamlio.dump_flow(v)}\n" for k, v in front.items())
    body = spec.body if spec.body is not None else templates.read("task.md", ws.root)
    if not body.startswith("\n"):
        body = "\n" + body
    path = ws.tasks_dir / f"{task_id}-{slugify(title)}.md"
    atomic_write(path, yamlio.join(front_text, body))
    change.touch(path)
    change.task = task_id
    ledger.record(change, "task.created", task=task_id, data={"title": title, "risk": spec.risk})
    return _reparse(path)


def _reparse(path: Path) -> Task:
    from lanectl.tasks import _from_record

    record = parse(path.name, path)
    if record.get("error"):
        raise LaneError(record["error"])
    return _from_record(path.name, record)


def _rewrite(ws: Workspace, change: Change, task: Task, fields: dict[str, Any]) -> Task:
    """Change only the lines of ``fields``; every other byte of the file is kept."""
    path = ws.tasks_dir / task.file
    text = yamlio.read_bounded(path, task.rel_path)
    front = yamlio.split(text, task.rel_path)
    yaml_text = front.yaml_text
    for key, value in fields.items():
        try:
            yaml_text = yamlio.set_key(yaml_text, key, value)
        except LaneError as exc:
            exc.where = task.rel_path
            raise
    atomic_write(path, front.with_yaml(yaml_text))
    change.touch(path)
    return _reparse(path)


def edit(
    ws: Workspace,
    change: Change,
    taskset: TaskSet,
    task: Task,
    *,
    title: str | None = None,
    risk: str | None = None,
    depends_on: Sequence[str] | None = None,
    paths: Sequence[str] | None = None,
    adrs: Sequence[str] | None = None,
) -> Task:
    fields: dict[str, Any] = {}
    if title is not None:
        fields["title"] = " ".join(title.split())
        if not fields["title"]:
            raise LaneError("a task needs a title")
    if risk is not None:
        _check_risk(risk)
        fields["risk"] = risk
    if depends_on is not None:
        depends = _resolve_deps(taskset, depends_on)
        problems = check_dependencies(taskset, task.id, depends)
        if problems:
            raise LaneError("; ".join(problems))
        fields["depends_on"] = depends
    if paths is not None:
        fields["paths"] = list(paths)
    if adrs is not None:
        fields["adrs"] = _check_adrs(adrs)
    if not fields:
        raise LaneError("nothing to change", hint="see `lanectl task edit --help`")
    updated = _rewrite(ws, change, task, fields)
    ledger.record(change, "task.edited", task=task.id, data={"fields": sorted(fields)})
    return updated


def set_state(
    ws: Workspace, change: Change, task: Task, new_state: str, *, reason: str | None = None
) -> Task:
    updated = _rewrite(ws, change, task, {"state": new_state, "state_since": ledger.now_ts()})
    ledger.record(
        change,
        "task.state",
        task=task.id,
        reason=reason,
        data={"from": task.state, "to": new_state},
    )
    return updated


def mark_ready(ws: Workspace, change: Change, taskset: TaskSet, task: Task) -> Task:
    if task.state == "ready":
        raise LaneError(f"{task.id} is already ready")
    if task.state not in READY_FROM:
        raise LaneError(
            f"{task.id} is {task.state}; only a task that is {', '.join(READY_FROM)} can be "
            "marked ready"
        )
    missing = [
        name
        for name, ok in (("Goal", task.has_goal), ("Acceptance", task.has_acceptance))
        if not ok
    ]
    if missing:
        raise LaneError(
            f"{task.id} is not specified yet: the {' and '.join(missing)} section"
            f"{'s are' if len(missing) > 1 else ' is'} empty",
            where=task.rel_path,
            hint="write them, then run `lanectl task ready` again",
        )
    problems = check_dependencies(taskset, task.id, task.depends_on)
    if problems:
        raise LaneError("; ".join(problems), where=task.rel_path)
    return set_state(ws, change, task, "ready")


def cancel(ws: Workspace, change: Change, task: Task, reason: str | None) -> Task:
    if task.state in CANCEL_FROM_NOT:
        raise LaneError(f"{task.id} is {task.state} and cannot be cancelled")
    return set_state(ws, change, task, "cancelled", reason=reason)


_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t#]*$")
_FENCE = re.compile(r"^[ ]{0,3}(`{3,}|~{3,})")


def append_log(body: str, entry: str) -> str:
    """``body`` with ``entry`` (a line ending in "\\n") as the last line of its
    ``## Log`` section, wherever that section is; a Log section is added at the
    end when there is none. Every other byte is kept."""
    lines = body.splitlines(keepends=True)
    log_at: int | None = None
    end = len(lines)
    fence: str | None = None
    for index, line in enumerate(lines):
        text = line.rstrip("\r\n")
        opened = _FENCE.match(text)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = None
            continue
        if opened:
            fence = opened.group(1)
            continue
        heading = _HEADING.match(text)
        if heading is None or len(heading.group(1)) > 2:
            continue
        if log_at is not None:
            end = index  # the next section at the same or a higher level
            break
        if len(heading.group(1)) == 2 and heading.group(2).strip().lower() == "log":
            log_at = index
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    if log_at is None:
        return "".join(lines) + ("\n" if lines else "") + "## Log\n" + entry
    last = end
    while last - 1 > log_at and not lines[last - 1].strip():
        last -= 1
    newline = "\r\n" if lines[log_at].endswith("\r\n") else "\n"
    lines.insert(last, entry.rstrip("\n") + newline)
    return "".join(lines)


def note(ws: Workspace, change: Change, task: Task, text: str) -> Task:
    # The work log is committed and shared: a pasted credential never lands in it.
    text = ledger.redact(" ".join(text.split()), ledger.secret_values(ws.raw_config))
    if not text:
        raise LaneError("the note is empty")
    path = ws.tasks_dir / task.file
    content = yamlio.read_bounded(path, task.rel_path)
    front = yamlio.split(content, task.rel_path)
    stamp = ledger.now_ts()[:16] + "Z"
    entry = f"- {stamp} {change.actor}: {text}\n"
    atomic_write(path, front.with_body(append_log(front.body, entry)))
    change.touch(path)
    ledger.record(change, "task.note", task=task.id, data={"text": text})
    return task
