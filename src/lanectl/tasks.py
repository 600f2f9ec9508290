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
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

from lanectl import ids, index, snapshot, yamlio
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
INDEX_VERSION = "tasks-3"
_LIST_KEYS = ("depends_on", "paths", "adrs")
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_SECTION = re.compile(r"^##[ \t]+(.+?)[ \t]*$", re.MULTILINE)


class Task(NamedTuple):
    """One task as parsed from its file (a NamedTuple: 10,000 of them load fast)."""

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
    depends_line: int = 0  # file line of depends_on, for messages; 0 if absent

    @property
    def depends_where(self) -> str:
        return f"{self.rel_path}:{self.depends_line}" if self.depends_line else self.rel_path

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
    """Every readable task, plus the files that could not be read.

    ``tasks`` holds every parsed file, so two files claiming one id are both
    there (``duplicates``); ``by_id`` maps each id to the first of them.
    """

    tasks: tuple[Task, ...]
    broken: tuple[Broken, ...] = ()
    by_id: dict[str, Task] = field(default_factory=dict)
    duplicates: dict[str, tuple[Task, ...]] = field(default_factory=dict)
    known_problems: tuple[str, ...] | None = None  # from a snapshot: problems() is known

    @classmethod
    def of(
        cls,
        tasks: Iterable[Task],
        broken: Iterable[Broken] = (),
        *,
        ordered: bool = False,
        known_problems: tuple[str, ...] | None = None,
    ) -> TaskSet:
        ordered_tasks = (
            tuple(tasks)
            if ordered
            else tuple(sorted(tasks, key=lambda t: (t.created or "", t.id, t.file)))
        )
        by_id: dict[str, Task] = {}
        duplicates: dict[str, tuple[Task, ...]] = {}
        for task in ordered_tasks:
            if by_id.setdefault(task.id, task) is not task:
                duplicates[task.id] = (*duplicates.get(task.id, (by_id[task.id],)), task)
        return cls(ordered_tasks, tuple(broken), by_id, duplicates, known_problems)

    def _broken_ids(self) -> dict[str, Broken]:
        """Ids named by unreadable files (``T-XXXXXXXX-slug.md``), so a prefix finds them."""
        found: dict[str, Broken] = {}
        for item in self.broken:
            head = item.file[: len(ids.TASK_PREFIX) + ids.TASK_ID_CHARS]
            if ids.is_task_id(head) and head not in self.by_id:
                found.setdefault(head, item)
        return found

    def resolve(self, query: str) -> Task:
        """The one task ``query`` (an id or unique prefix, any case) names."""
        prefix = ids.normalise_query(query)
        if prefix is None:
            raise LaneError(f"'{_show(query)}' is not a task id (expected e.g. T-7K2M9Q4D or 7K2M)")
        broken = self._broken_ids()
        if prefix in self.by_id or prefix in broken:
            matches = [prefix]
        else:
            matches = sorted(t for t in (*self.by_id, *broken) if t.startswith(prefix))
        if not matches:
            raise LaneError(f"no task matches '{query}'", hint="see `lanectl task list`")
        if len(matches) > 1:

            def label(tid: str) -> str:
                task = self.by_id.get(tid)
                return f"{tid} ({task.title})" if task else f"{tid} (unreadable file)"

            shown = ", ".join(label(m) for m in matches[:10])
            more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
            raise LaneError(f"'{query}' is ambiguous: {shown}{more}", hint="type more of the id")
        found = matches[0]
        if found in broken:
            raise LaneError(broken[found].message, hint="fix the file, then run `lanectl check`")
        if found in self.duplicates:
            files = ", ".join(t.rel_path for t in self.duplicates[found])
            raise LaneError(
                f"{found} is claimed by more than one file: {files}",
                hint="give all but one of them a new id, then run `lanectl check`",
            )
        return self.by_id[found]

    @cached_property
    def _graph(self) -> dict[str, list[str]]:
        return {t.id: list(t.depends_on) for t in self.tasks}

    @cached_property
    def any_cycle(self) -> bool:
        if self.known_problems is not None:
            return any(": dependency cycle: " in p for p in self.known_problems)
        return has_cycle(self)

    def in_cycle(self, task: Task) -> bool:
        return self.any_cycle and find_cycle(self._graph, task.id) is not None

    def is_ready(self, task: Task) -> bool:
        """State ready and every dependency merged (and no broken dependency data)."""
        if task.state != "ready" or task.id in self.duplicates:
            return False
        for dep in task.depends_on:
            other = self.by_id.get(dep)
            if other is None or other.state != "merged" or dep in self.duplicates:
                return False
        return not self.in_cycle(task)

    def warnings(self) -> list[str]:
        """Unknown keys (ADR 0007): reported, kept on rewrite, never in the way."""
        return [warning for task in self.tasks for warning in task.warnings]

    def problems(self) -> list[str]:
        """One line per error in the task store, each naming the file (and line)."""
        if self.known_problems is not None:
            return list(self.known_problems)
        found = [b.message for b in self.broken]
        for tid, group in sorted(self.duplicates.items()):
            others = ", ".join(t.rel_path for t in group[1:])
            found.append(f"{group[0].rel_path}: duplicate task id {tid} (also in {others})")
        for task in self.tasks:
            found += [
                f"{task.depends_where}: depends_on › unknown task {dep}"
                for dep in task.depends_on
                if dep not in self.by_id
            ]
        for cycle in all_cycles(self) if self.any_cycle else ():
            first = self.by_id[cycle[0]]
            found.append(f"{first.depends_where}: dependency cycle: {' → '.join(cycle)}")
        return found


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


def _show(value: Any, limit: int = 60) -> str:
    """A value for a one-line message: short, with no line breaks."""
    if not isinstance(value, str | int | float):
        return f"<{type(value).__name__}>"
    text = str(value).encode("unicode_escape").decode("ascii")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse(name: str, path: Path, st: os.stat_result | None = None) -> index.Record:
    """Parse one task file into a JSON-able record; ``error`` is set when unusable.

    The file is never read whole when it is over the size limit.
    """
    rel = f"{TASKS_DIR}/{name}"
    try:
        text = yamlio.read_bounded(path, rel)
        return _parse_text(rel, name, text)
    except LaneError as exc:
        return {"error": str(exc)}


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
            got = "missing" if value is None else f"got {_type_name(value)}"
            raise LaneError(f"{key}: must be a non-empty string ({got})", where=where(key))
        return value.strip()

    def need_list(key: str) -> list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise LaneError(f"{key}: must be a list (got {_type_name(value)})", where=where(key))
        return value

    task_id = need_str("id")
    assert task_id is not None
    if not ids.is_task_id(task_id):
        raise LaneError(
            f"id: '{_show(task_id)}' is not a task id like T-7K2M9Q4D", where=where("id")
        )
    if not name.startswith(task_id + "-") and name != f"{task_id}.md":
        raise LaneError(f"id {task_id} does not match the file name", where=where("id"))
    state = need_str("state")
    if state not in STATES:
        raise LaneError(
            f"state: '{_show(state)}' is not one of {', '.join(STATES)}", where=where("state")
        )
    risk = need_str("risk")
    if risk not in RISKS:
        raise LaneError(
            f"risk: '{_show(risk)}' is not one of {', '.join(RISKS)}", where=where("risk")
        )
    depends = need_list("depends_on")
    for position, dep in enumerate(depends):
        if not isinstance(dep, str) or not ids.is_task_id(dep):
            raise LaneError(
                f"depends_on › {position}: '{_show(dep)}' is not a task id",
                where=where("depends_on"),
            )
    paths = need_list("paths")
    for position, glob in enumerate(paths):
        if not isinstance(glob, str) or not glob:
            raise LaneError(f"paths › {position}: must be a glob string", where=where("paths"))
    adrs: list[str] = []
    for position, ref in enumerate(need_list("adrs")):
        number = _adr_ref(ref)
        if number is None:
            raise LaneError(
                f"adrs › {position}: '{_show(ref)}' is not an ADR number", where=where("adrs")
            )
        adrs.append(number)
    warnings = []
    for key in data:
        if key in KNOWN_KEYS or str(key).startswith("x-"):
            continue
        import difflib

        close = difflib.get_close_matches(str(key), KNOWN_KEYS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else " (prefix extensions with x-)"
        warnings.append(f"{where(str(key))}: unknown key '{_show(key)}'{hint}")
    sections = _sections(front.body)
    return _compact(
        {
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
            "depends_line": (lines[("depends_on",)] + 1) if ("depends_on",) in lines else 0,
        }
    )


# The cache stores a parsed task as one positional list in Task's field order
# (without ``file``, which is the cache key): a third of the JSON to decode.
_RECORD_FIELDS = tuple(f for f in Task._fields if f != "file")


def _compact(fields: dict[str, Any]) -> index.Record:
    return {"t": [fields[name] for name in _RECORD_FIELDS]}


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), type(value).__name__
    )


def _from_record(name: str, record: index.Record) -> Task:
    (tid, title, state, risk, depends, paths, adrs, created, since, goal, acceptance, warnings,
     line) = record["t"]  # fmt: skip
    if not (type(tid) is str and type(title) is str and type(state) is str):
        raise TypeError("damaged cache record")
    return Task(
        tid, title, state, risk, name,
        tuple(depends) if depends else (), tuple(paths) if paths else (),
        tuple(adrs) if adrs else (), created, since, goal, acceptance,
        tuple(warnings) if warnings else (), int(line or 0),
    )  # fmt: skip


def load(ws: Workspace) -> TaskSet:
    """Every task file, parsed; from the snapshot when nothing changed (ADR 0006)."""
    snap_file = ws.cache_dir / "tasks-snapshot.json"
    scanned = index.scan(ws.tasks_dir, ".md")
    digest, newest = snapshot.fingerprint(scanned)
    cached = snapshot.read(snap_file, INDEX_VERSION, digest)
    if cached is not None:
        try:
            return TaskSet.of(
                (_from_record(row[0], {"t": row[1:]}) for row in cached["rows"]),
                (Broken(str(f), str(m)) for f, m in cached["broken"]),
                ordered=True,
                known_problems=tuple(str(p) for p in cached["problems"]),
            )
        except (KeyError, TypeError, ValueError):
            pass  # a damaged snapshot: rebuild it from the files
    taskset = _load_files(ws, scanned)
    scan_start = index.fs_now(ws.cache_dir)
    if scan_start is not None and newest < scan_start:
        rows = [[t.file, *t[:4], *t[5:]] for t in taskset.tasks]
        snapshot.write(
            snap_file,
            {
                "version": INDEX_VERSION,
                "digest": digest,
                "rows": rows,
                "broken": [[b.file, b.message] for b in taskset.broken],
                "problems": taskset.problems(),
            },
        )
    return taskset


def _load_files(ws: Workspace, scanned: list[index.Entry]) -> TaskSet:
    records = index.load(
        ws.cache_dir / "tasks.json",
        ws.tasks_dir,
        lambda name, path, st: parse(name, path, st),
        version=INDEX_VERSION,
        scanned=scanned,
    )
    tasks: list[Task] = []
    broken: list[Broken] = []
    for name in sorted(records):
        record = records[name]
        try:
            if not record.get("error"):
                tasks.append(_from_record(name, record))
                continue
        except (KeyError, TypeError, ValueError, AttributeError):
            # A damaged cache entry: the file is the truth, read it again.
            record = parse(name, ws.tasks_dir / name)
            if not record.get("error"):
                tasks.append(_from_record(name, record))
                continue
        broken.append(Broken(name, str(record["error"])))
    return TaskSet.of(tasks, broken)


def read_text(ws: Workspace, task: Task) -> str:
    return yamlio.read_bounded(ws.tasks_dir / task.file, task.rel_path)


# ---------------------------------------------------------------------------
# Dependencies


def check_dependencies(taskset: TaskSet, task_id: str, depends: Sequence[str]) -> list[str]:
    """Problems with ``task_id`` depending on ``depends``: unknown ids and cycles.

    A cycle anywhere below ``task_id`` counts too (a hand-edited one between two
    of its dependencies): the task could never become ready.
    """
    problems = [f"unknown task {dep}" for dep in depends if dep not in taskset.by_id]
    if task_id in depends:
        problems.append(f"{task_id} cannot depend on itself")
    graph = {t.id: list(t.depends_on) for t in taskset.tasks}
    graph[task_id] = [dep for dep in depends if dep != task_id]
    cycle = reachable_cycle(graph, task_id)
    if cycle:
        problems.append("dependency cycle: " + " → ".join(cycle))
    return problems


def reachable_cycle(graph: dict[str, list[str]], start: str) -> list[str] | None:
    """A cycle reachable from ``start`` (through it or below it), as a path, or None."""
    color: dict[str, int] = {start: 1}  # 1 = on the current path, 2 = done
    path = [start]
    stack: list[tuple[str, int]] = [(start, 0)]
    while stack:
        node, child = stack[-1]
        deps = graph.get(node, [])
        if child >= len(deps):
            stack.pop()
            path.pop()
            color[node] = 2
            continue
        stack[-1] = (node, child + 1)
        nxt = deps[child]
        state = color.get(nxt)
        if state == 1:
            return [*path[path.index(nxt) :], nxt]
        if state is None and nxt in graph:
            color[nxt] = 1
            path.append(nxt)
            stack.append((nxt, 0))
    return None


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


def has_cycle(taskset: TaskSet) -> bool:
    """Whether any dependency cycle exists (Kahn's algorithm; cheap, for every listing)."""
    graph = {t.id: t.depends_on for t in taskset.tasks if t.depends_on}
    waiting = {tid: sum(1 for d in deps if d in graph) for tid, deps in graph.items()}
    users: dict[str, list[str]] = {}
    for tid, deps in graph.items():
        for dep in deps:
            if dep in graph:
                users.setdefault(dep, []).append(tid)
    free = [tid for tid, n in waiting.items() if n == 0]
    done = 0
    while free:
        tid = free.pop()
        done += 1
        for user in users.get(tid, ()):
            waiting[user] -= 1
            if waiting[user] == 0:
                free.append(user)
    return done < len(graph)


def all_cycles(taskset: TaskSet) -> list[list[str]]:
    """Each dependency cycle once (for ``check`` and ``task list``)."""
    # A task without dependencies can never be on a cycle: leave it out.
    graph = {t.id: list(t.depends_on) for t in taskset.tasks if t.depends_on}
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
