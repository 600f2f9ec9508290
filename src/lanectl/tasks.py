"""Tasks: one markdown file each, YAML front matter + body (SPEC §3.2).

Parsing, validation and the operations commands perform. Files live in the
state worktree (``.lanes/tasks/<id>-<slug>.md``); reads go through the index
cache so listing 10,000 tasks does not parse 10,000 files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanectl import ids, index, yamlio
from lanectl.errors import LaneError
from lanectl.workspace import TASKS_DIR, Workspace

STATES = (
    "draft", "ready", "building", "review", "changes_requested",
    "eligible", "approved", "merged", "blocked", "cancelled",
)  # fmt: skip
RISKS = ("low", "medium", "high")
KNOWN_KEYS = (
    "id", "title", "state", "risk", "depends_on", "paths", "adrs", "created", "state_since",
)  # fmt: skip
INDEX_VERSION = "tasks-1"
_LIST_KEYS = ("depends_on", "paths", "adrs")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SECTION = re.compile(r"^##[ \t]+(.+?)[ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    state: str
    risk: str
    file: str
    depends_on: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    adrs: tuple[str, ...] = ()
    created: str | None = None
    state_since: str | None = None
    has_goal: bool = False
    has_acceptance: bool = False
    warnings: tuple[str, ...] = ()

    @property
    def rel_path(self) -> str:
        return f"{TASKS_DIR}/{self.file}"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "state": self.state,
            "risk": self.risk,
            "depends_on": list(self.depends_on),
            "paths": list(self.paths),
            "adrs": list(self.adrs),
            "created": self.created,
            "state_since": self.state_since,
            "file": self.rel_path,
        }


@dataclass(frozen=True)
class Broken:
    file: str
    message: str  # "path[:line]: what is wrong"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class TaskSet:
    tasks: tuple[Task, ...]
    broken: tuple[Broken, ...] = ()
    by_id: dict[str, Task] = field(default_factory=dict)

    @classmethod
    def of(cls, tasks: Iterable[Task], broken: Iterable[Broken] = ()) -> TaskSet:
        ordered = tuple(sorted(tasks, key=lambda t: (t.created or "", t.id)))
        by_id: dict[str, Task] = {}
        for task in ordered:
            by_id.setdefault(task.id, task)
        return cls(ordered, tuple(broken), by_id)

    def resolve(self, query: str) -> Task:
        prefix = ids.normalise_query(query)
        if prefix is None:
            raise LaneError(f"'{query}' is not a task id (expected e.g. T-7K2M9Q4D or 7K2M)")
        exact = self.by_id.get(prefix)
        if exact is not None:
            return exact
        matches = sorted(tid for tid in self.by_id if tid.startswith(prefix))
        if not matches:
            raise LaneError(f"no task matches '{query}'", hint="see `lanectl task list`")
        if len(matches) > 1:
            shown = ", ".join(f"{m} ({self.by_id[m].title})" for m in matches[:10])
            more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
            raise LaneError(f"'{query}' is ambiguous: {shown}{more}")
        return self.by_id[matches[0]]

    def is_ready(self, task: Task) -> bool:
        """State ready and every dependency merged."""
        if task.state != "ready":
            return False
        for dep in task.depends_on:
            other = self.by_id.get(dep)
            if other is None or other.state != "merged":
                return False
        return True


# ---------------------------------------------------------------------------
# Parsing


def _sections(body: str) -> dict[str, str]:
    found: dict[str, str] = {}
    matches = list(_SECTION.finditer(body))
    for position, match in enumerate(matches):
        end = matches[position + 1].start() if position + 1 < len(matches) else len(body)
        found[match.group(1).strip().lower()] = body[match.end() : end]
    return found


def _has_content(text: str | None, *, checklist: bool = False) -> bool:
    if text is None:
        return False
    text = _COMMENT.sub("", text)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if checklist:
        lines = [ln for ln in lines if re.sub(r"^[-*]\s*(\[[ xX]\])?", "", ln).strip()]
    return bool(lines)


def _adr_ref(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and value >= 0:
        return f"{value:04d}"
    if isinstance(value, str) and re.fullmatch(r"\d{1,4}", value.strip()):
        return f"{int(value):04d}"
    return None


def parse(name: str, path: Path, st: os.stat_result | None = None) -> index.Record:
    """Parse one task file into a JSON-able record; ``error`` is set when unusable."""
    rel = f"{TASKS_DIR}/{name}"
    try:
        size = (st or path.stat()).st_size
        if size > yamlio.MAX_FILE_BYTES:
            raise LaneError(
                f"file is too large ({size:,} bytes; the limit is {yamlio.MAX_FILE_BYTES:,})",
                where=rel,
            )
        text = yamlio.decode(path.read_bytes(), rel)
        return _parse_text(rel, name, text)
    except LaneError as exc:
        return {"error": str(exc)}
    except OSError as exc:
        return {"error": f"{rel}: cannot read: {exc.strerror}"}


def _parse_text(rel: str, name: str, text: str) -> index.Record:
    front = yamlio.split(text, rel)
    data = yamlio.load(front.yaml_text, rel, first_line=front.first_line)
    if not isinstance(data, dict):
        raise LaneError("front matter must be a mapping of keys", where=f"{rel}:2")
    lines = yamlio.key_lines(front.yaml_text) if data else {}

    def where(key: str) -> str:
        line = lines.get((key,))
        return f"{rel}:{line + 1}" if line else rel

    def need_str(key: str, *, required: bool = True) -> str | None:
        value = data.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            got = "missing" if value is None else f"got {type(value).__name__}"
            raise LaneError(f"{key}: must be a non-empty string ({got})", where=where(key))
        return value.strip()

    def need_list(key: str) -> list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise LaneError(f"{key}: must be a list (got {type(value).__name__})", where=where(key))
        return value

    task_id = need_str("id")
    assert task_id is not None
    if not ids.is_task_id(task_id):
        raise LaneError(f"id: '{task_id}' is not a task id like T-7K2M9Q4D", where=where("id"))
    if not name.startswith(task_id + "-") and name != f"{task_id}.md":
        raise LaneError(f"id {task_id} does not match the file name", where=where("id"))
    state = need_str("state")
    if state not in STATES:
        raise LaneError(f"state: '{state}' is not one of {', '.join(STATES)}", where=where("state"))
    risk = need_str("risk")
    if risk not in RISKS:
        raise LaneError(f"risk: '{risk}' is not one of {', '.join(RISKS)}", where=where("risk"))
    depends = need_list("depends_on")
    for position, dep in enumerate(depends):
        if not isinstance(dep, str) or not ids.is_task_id(dep):
            raise LaneError(
                f"depends_on › {position}: '{dep}' is not a task id", where=where("depends_on")
            )
    paths = need_list("paths")
    for position, glob in enumerate(paths):
        if not isinstance(glob, str) or not glob:
            raise LaneError(f"paths › {position}: must be a glob string", where=where("paths"))
    adrs: list[str] = []
    for position, ref in enumerate(need_list("adrs")):
        number = _adr_ref(ref)
        if number is None:
            raise LaneError(f"adrs › {position}: '{ref}' is not an ADR number", where=where("adrs"))
        adrs.append(number)
    warnings = []
    for key in data:
        if key in KNOWN_KEYS or str(key).startswith("x-"):
            continue
        import difflib

        close = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else " (prefix extensions with x-)"
        warnings.append(f"{where(str(key))}: unknown key '{key}'{hint}")
    sections = _sections(front.body)
    return {
        "id": task_id,
        "title": need_str("title"),
        "state": state,
        "risk": risk,
        "depends_on": depends,
        "paths": paths,
        "adrs": adrs,
        "created": need_str("created", required=False),
        "state_since": need_str("state_since", required=False),
        "has_goal": _has_content(sections.get("goal")),
        "has_acceptance": _has_content(sections.get("acceptance"), checklist=True),
        "warnings": warnings,
    }


def _from_record(name: str, record: index.Record) -> Task:
    return Task(
        id=record["id"],
        title=record["title"],
        state=record["state"],
        risk=record["risk"],
        file=name,
        depends_on=tuple(record["depends_on"]),
        paths=tuple(record["paths"]),
        adrs=tuple(record["adrs"]),
        created=record["created"],
        state_since=record["state_since"],
        has_goal=record["has_goal"],
        has_acceptance=record["has_acceptance"],
        warnings=tuple(record["warnings"]),
    )


def load(ws: Workspace) -> TaskSet:
    records = index.load(
        ws.cache_dir / "tasks.json",
        ws.tasks_dir,
        lambda name, path, st: parse(name, path, st),
        version=INDEX_VERSION,
    )
    tasks: list[Task] = []
    broken: list[Broken] = []
    for name in sorted(records):
        record = records[name]
        if record.get("error"):
            broken.append(Broken(name, record["error"]))
        else:
            tasks.append(_from_record(name, record))
    return TaskSet.of(tasks, broken)


def read_text(ws: Workspace, task: Task) -> str:
    return (ws.tasks_dir / task.file).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------
# Dependencies


def check_dependencies(taskset: TaskSet, task_id: str, depends: Sequence[str]) -> list[str]:
    """Problems with ``task_id`` depending on ``depends``: unknown ids and cycles."""
    problems = [f"unknown task {dep}" for dep in depends if dep not in taskset.by_id]
    if task_id in depends:
        problems.append(f"{task_id} cannot depend on itself")
    graph = {t.id: list(t.depends_on) for t in taskset.tasks}
    graph[task_id] = list(depends)
    cycle = find_cycle(graph, task_id)
    if cycle and task_id not in depends:
        problems.append("dependency cycle: " + " → ".join(cycle))
    return problems


def find_cycle(graph: dict[str, list[str]], start: str) -> list[str] | None:
    """A cycle through ``start`` in the dependency graph, as a path, or None."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, []):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def all_cycles(taskset: TaskSet) -> list[list[str]]:
    """Each dependency cycle once (for ``check``)."""
    graph = {t.id: list(t.depends_on) for t in taskset.tasks}
    color: dict[str, int] = {}
    cycles: list[list[str]] = []
    for root in sorted(graph):
        if color.get(root):
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = []
        while stack:
            node, child = stack.pop()
            if child == 0:
                color[node] = 1
                path.append(node)
            deps = graph.get(node, [])
            if child < len(deps):
                stack.append((node, child + 1))
                nxt = deps[child]
                if color.get(nxt) == 1:
                    cycles.append([*path[path.index(nxt) :], nxt])
                elif not color.get(nxt) and nxt in graph:
                    stack.append((nxt, 0))
            else:
                color[node] = 2
                path.pop()
    return cycles
