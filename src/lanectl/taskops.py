"""Operations that change tasks: each writes the file, records a ledger event,
and is committed by the surrounding :func:`lanectl.state.change`."""

from __future__ import annotations

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
    return [taskset.resolve(q).id for q in queries]


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
    path = ws.tasks_dir / task.file
    text = yamlio.decode(path.read_bytes(), task.rel_path)
    front = yamlio.split(text, task.rel_path)
    yaml_text = front.yaml_text
    for key, value in fields.items():
        yaml_text = yamlio.set_key(yaml_text, key, value)
    atomic_write(path, yamlio.join(yaml_text, front.body))
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


def note(ws: Workspace, change: Change, task: Task, text: str) -> Task:
    text = " ".join(text.split())
    if not text:
        raise LaneError("the note is empty")
    path = ws.tasks_dir / task.file
    content = yamlio.decode(path.read_bytes(), task.rel_path)
    stamp = ledger.now_ts()[:16] + "Z"
    entry = f"- {stamp} {change.actor}: {text}\n"
    if not content.endswith("\n"):
        content += "\n"
    if "\n## Log" not in content:
        content += "\n## Log\n"
    content += entry
    atomic_write(path, content)
    change.touch(path)
    ledger.record(change, "task.note", task=task.id, data={"text": text})
    return task
