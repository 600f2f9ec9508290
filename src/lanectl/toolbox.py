"""The tools a model agent gets, each decided by the policy engine first (ADR 0022).

    box = Toolbox(guard, worktree, write=True, env=env, redactor=redactor,
                  run_timeout_s=300, commands=Commands.from_config(raw))
    request = Request(..., tools=box.tools)
    result = box.call(tool_call)          # never raises for the model's mistakes

Builders get ``read_file``, ``write_file``, ``edit_file``, ``list_files``,
``search``, ``run`` and ``finish``; ``write=False`` gives the read-only set
(``read_file``, ``list_files``, ``search``, ``run``) for reviewers. Every call
is recorded (``tool.call``, what the watchdog reads to tell a loop) and
decided through :meth:`Guard.check` before anything happens; a denial is a
``tool.denied`` event and a tool error the model reads (it keeps working).
Paths go through :mod:`lanectl.safefs`, so no symlink leads out of the
worktree, even one planted between the check and the use. ``run`` starts
only the configured checks and the base branch's ``tools.commands`` — argv,
never a shell, with a timeout, capped output, the scrubbed environment of
:mod:`lanectl.isolation` without any credential, and the Landlock rules the
toolbox was given (ADR 0032). Every output is redacted.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanectl import isolation, ledger
from lanectl.guard import Guard
from lanectl.isolation import Progress, Redactor
from lanectl.policy import Action
from lanectl.providers.base import Tool, ToolCall
from lanectl.safefs import Escape, Root
from lanectl.sandbox import Rules

OUTPUT_CAP = 16_000  # characters of one tool result
RUN_TIMEOUT_S = 300.0
MAX_WRITE = 2 * 1024 * 1024  # bytes one write_file/edit_file may leave
LIST_CAP = 1000  # entries list_files shows
SEARCH_CAP = 200  # matching lines search shows
SEARCH_FILE_CAP = 1024 * 1024  # bytes of one file search reads
ANY_MORE = "..."  # the last word of a tools.commands pattern: any further words
GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class ToolResult:
    content: str
    is_error: bool = False
    finished: str | None = None  # the summary of ``finish``


class BadArguments(Exception):
    pass


# -- what `run` may start ----------------------------------------------------------------


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` is not a valid ``tools.commands`` entry (None: it is)."""
    try:
        words = shlex.split(pattern)
    except ValueError as exc:
        return f"not a command line ({exc})"
    if not words:
        return "empty"
    if GLOB_CHARS.search(words[0]) or words[0] == ANY_MORE:
        return "the first word must name the program, without wildcards"
    if ANY_MORE in words[:-1]:
        return f"'{ANY_MORE}' may only be the last word"
    return None


def _words_match(pattern: Sequence[str], argv: Sequence[str]) -> bool:
    if pattern and pattern[-1] == ANY_MORE:
        fixed = pattern[:-1]
        if len(argv) < len(fixed):
            return False
        argv = argv[: len(fixed)]
        pattern = fixed
    return len(pattern) == len(argv) and all(
        fnmatch.fnmatchcase(word, glob) for glob, word in zip(pattern, argv, strict=True)
    )


@dataclass(frozen=True)
class Commands:
    """What ``run`` may start: the configured checks (exactly) and ``tools.commands``
    patterns (one glob per word; a last word ``...`` allows any further words)."""

    checks: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], *, checks: bool = True) -> Commands:
        tools = raw.get("tools") if isinstance(raw.get("tools"), dict) else {}
        assert isinstance(tools, dict)
        return cls(
            checks=tuple(str(c) for c in raw.get("checks") or ()) if checks else (),
            patterns=tuple(str(p) for p in tools.get("commands") or ()),
        )

    def permits(self, argv: Sequence[str]) -> bool:
        for check in self.checks:
            try:
                if shlex.split(check) == list(argv):
                    return True
            except ValueError:
                continue
        for pattern in self.patterns:
            if pattern_problem(pattern) is None and _words_match(shlex.split(pattern), argv):
                return True
        return False

    def describe(self) -> str:
        shown = [*self.checks, *self.patterns]
        return ", ".join(f"`{c}`" for c in shown) if shown else "none are configured"


@dataclass(frozen=True)
class ToolSettings:
    """The base branch's ``tools:`` block."""

    commands: Commands
    run_timeout_s: float = RUN_TIMEOUT_S
    output_cap: int = OUTPUT_CAP

    @classmethod
    def from_config(cls, raw: Mapping[str, Any], *, checks: bool = True) -> ToolSettings:
        tools = raw.get("tools") if isinstance(raw.get("tools"), dict) else {}
        assert isinstance(tools, dict)
        return cls(
            Commands.from_config(raw, checks=checks),
            float(tools.get("run_timeout_s") or RUN_TIMEOUT_S),
            int(tools.get("output_cap") or OUTPUT_CAP),
        )


# -- the tool specifications -------------------------------------------------------------


def _schema(
    required: Mapping[str, Any], optional: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


_PATH = {"type": "string", "description": "relative to the worktree root"}
SPECS: dict[str, Tool] = {
    "read_file": Tool(
        "read_file",
        "Read a text file of the worktree. Optional 1-based start line and line count.",
        _schema(
            {"path": _PATH},
            {
                "offset": {"type": "integer", "minimum": 1},
                "limit": {"type": "integer", "minimum": 1},
            },
        ),
    ),
    "write_file": Tool(
        "write_file",
        "Create or replace a file of the worktree with the given content.",
        _schema({"path": _PATH, "content": {"type": "string"}}),
    ),
    "edit_file": Tool(
        "edit_file",
        "Replace the exact text old_text with new_text in a file; old_text must occur once.",
        _schema({"path": _PATH, "old_text": {"type": "string"}, "new_text": {"type": "string"}}),
    ),
    "list_files": Tool(
        "list_files",
        "List the files under a directory of the worktree (default: all of it), recursively.",
        _schema({}, {"path": _PATH}),
    ),
    "search": Tool(
        "search",
        "Find lines containing a text (or matching a regular expression when regex is true) "
        "in the worktree's files; answers path:line: text.",
        _schema(
            {"pattern": {"type": "string"}},
            {"path": _PATH, "regex": {"type": "boolean"}},
        ),
    ),
    "run": Tool(
        "run",
        "Run one allow-listed command (the configured checks and the commands the repository "
        "allows) in the worktree, as argv without a shell; answers its exit code and output.",
        _schema({"command": {"type": "string", "description": "e.g. python -m pytest -q"}}),
    ),
    "finish": Tool(
        "finish",
        "Say the task is done, with a short summary of what you changed and why. lanectl "
        "then runs the checks, commits your work and sends it to review.",
        _schema({"summary": {"type": "string"}}),
    ),
}
WRITE_TOOLS = ("read_file", "write_file", "edit_file", "list_files", "search", "run")
READ_TOOLS = ("read_file", "list_files", "search", "run")


_LABELS: dict[type, str] = {str: "a string", int: "an integer", bool: "true or false"}


def _args(call: ToolCall, types: Mapping[str, type], required: Sequence[str]) -> dict[str, Any]:
    args = call.arguments
    if not isinstance(args, Mapping):
        raise BadArguments("the arguments must be a JSON object")
    unknown = sorted(set(args) - set(types))
    if unknown:
        raise BadArguments(f"unknown argument '{unknown[0]}' (known: {', '.join(types)})")
    for name in required:
        if name not in args:
            raise BadArguments(f"missing argument '{name}'")
    out: dict[str, Any] = {}
    for name, value in args.items():
        want = types[name]
        if isinstance(value, bool) and want is int:  # JSON true is not a line number
            raise BadArguments(f"'{name}' must be an integer")
        if not isinstance(value, want):
            raise BadArguments(f"'{name}' must be {_LABELS.get(want, 'valid')}")
        out[name] = value
    return out


class Toolbox:
    """One agent's tools on one worktree. Thread-compatible, not thread-safe."""

    def __init__(
        self,
        guard: Guard,
        worktree: Path,
        *,
        write: bool,
        env: Mapping[str, str],
        redactor: Redactor,
        run_timeout_s: float = RUN_TIMEOUT_S,
        output_cap: int = OUTPUT_CAP,
        commands: Commands = Commands(),
        finish: bool | None = None,
        cancel: threading.Event | None = None,
        progress: Progress | None = None,
        sandbox: Rules | None = None,
    ) -> None:
        self.guard = guard
        self.root = Root(worktree)
        self.write = write
        # Never a credential in what `run` starts, whatever the caller passed.
        self.env = {k: v for k, v in env.items() if v not in redactor.secrets}
        self.redactor = redactor
        self.run_timeout_s = run_timeout_s
        self.output_cap = output_cap
        self.commands = commands
        self.cancel = cancel
        self.progress = progress
        self.sandbox = sandbox
        names = list(WRITE_TOOLS if write else READ_TOOLS)
        if finish if finish is not None else write:
            names.append("finish")
        self.tools: tuple[Tool, ...] = tuple(SPECS[n] for n in names)
        self._handlers: dict[str, Callable[[ToolCall], ToolResult]] = {
            "read_file": self._read_file,
            "write_file": self._write_file,
            "edit_file": self._edit_file,
            "list_files": self._list_files,
            "search": self._search,
            "run": self._run,
            "finish": self._finish,
        }

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tools)

    # -- the one entry point ------------------------------------------------------------

    def call(self, call: ToolCall) -> ToolResult:
        """Answer one tool call; the model's mistakes and denials are tool errors."""
        if self.progress is not None:
            self.progress.touch()
        if call.name not in self.names:
            result = ToolResult(
                f"there is no tool '{call.name}' here (tools: {', '.join(self.names)})", True
            )
        else:
            try:
                result = self._handlers[call.name](call)
            except BadArguments as exc:
                result = ToolResult(f"{call.name}: {exc}", True)
            except Escape as exc:
                result = ToolResult(f"refused: {exc}", True)
            except IsADirectoryError:
                result = ToolResult(f"{call.name}: that path is a directory", True)
            except FileNotFoundError:
                result = ToolResult(f"{call.name}: no such file or directory", True)
            except NotADirectoryError:
                result = ToolResult(f"{call.name}: a part of that path is not a directory", True)
            except OSError as exc:
                result = ToolResult(f"{call.name}: {exc.strerror or exc}", True)
        content = self._cap(self.redactor.text(result.content))
        finished = self.redactor.text(result.finished) if result.finished is not None else None
        self._record(call, result)
        return ToolResult(content, result.is_error, finished)

    def _record(self, call: ToolCall, result: ToolResult) -> None:
        args = call.arguments if isinstance(call.arguments, Mapping) else {"?": str(call.arguments)}
        shown = {k: v for k, v in args.items() if k in ("path", "pattern", "command")}
        summary = " ".join([call.name, *(str(v) for v in shown.values())])[:200]
        data: dict[str, Any] = {"summary": self.redactor.text(summary), "error": result.is_error}
        if call.name == "run" and isinstance(args.get("command"), str):
            data["command"] = self.redactor.text(args["command"][:200])
        self.guard.tool_call(call.name, ledger.redact(dict(args), self.redactor.secrets), data)

    def _cap(self, text: str) -> str:
        if len(text) <= self.output_cap:
            return text
        half = self.output_cap // 2
        cut = len(text) - 2 * half
        return f"{text[:half]}\n[… {cut} characters not shown …]\n{text[-half:]}"

    def _decide(self, action: Action) -> str | None:
        """None when the policy engine allows ``action``; else why not (recorded)."""
        decision = self.guard.check(action)
        return None if decision.allowed else decision.reason

    def _path_action(self, kind: str, path: str) -> ToolResult | None:
        denied = self._decide(Action(kind, paths=(path,), task=self.guard.task))
        return ToolResult(f"refused by policy: {denied}", True) if denied else None

    # -- file tools ---------------------------------------------------------------------

    def _read_file(self, call: ToolCall) -> ToolResult:
        args = _args(call, {"path": str, "offset": int, "limit": int}, ("path",))
        path = args["path"]
        if refused := self._path_action("read", path):
            return refused
        data, size = self.root.read_bytes(path)
        if b"\0" in data[:8192]:
            return ToolResult(f"{path} is a binary file ({size} bytes); not shown", True)
        text = data.decode("utf-8", "replace")
        lines = text.splitlines(keepends=True)
        start = args.get("offset", 1) - 1
        chosen = lines[start : start + args["limit"]] if "limit" in args else lines[start:]
        body = "".join(chosen)
        notes = []
        if size > len(data):
            notes.append(f"only the first {len(data)} of {size} bytes were read")
        if start or "limit" in args:
            notes.append(f"lines {start + 1}-{start + len(chosen)} of {len(lines)}")
        if len(body) > self.output_cap:
            notes.append("cut to fit: read it in parts with offset and limit")
        return ToolResult(body + (f"\n[{'; '.join(notes)}]" if notes else ""))

    def _check_size(self, data: bytes) -> None:
        if len(data) > MAX_WRITE:
            raise BadArguments(f"the content is {len(data)} bytes; the limit is {MAX_WRITE}")

    def _write_file(self, call: ToolCall) -> ToolResult:
        args = _args(call, {"path": str, "content": str}, ("path", "content"))
        path, data = args["path"], args["content"].encode("utf-8")
        if refused := self._path_action("write", path):
            return refused
        self._check_size(data)
        created = self.root.write_bytes(path, data)
        return ToolResult(f"{'created' if created else 'replaced'} {path} ({len(data)} bytes)")

    def _edit_file(self, call: ToolCall) -> ToolResult:
        args = _args(
            call, {"path": str, "old_text": str, "new_text": str}, ("path", "old_text", "new_text")
        )
        path, old, new = args["path"], args["old_text"], args["new_text"]
        if not old:
            raise BadArguments("old_text is empty; use write_file to create a file")
        if refused := self._path_action("write", path):
            return refused
        data, size = self.root.read_bytes(path, MAX_WRITE + 1)
        if size > MAX_WRITE:
            return ToolResult(f"{path} is {size} bytes, too big to edit here", True)
        text = data.decode("utf-8", "surrogateescape")
        count = text.count(old)
        if count == 0:
            return ToolResult(
                f"old_text does not occur in {path}; read it and copy it exactly", True
            )
        if count > 1:
            return ToolResult(
                f"old_text occurs {count} times in {path}; include more context to make it unique",
                True,
            )
        out = text.replace(old, new, 1).encode("utf-8", "surrogateescape")
        self._check_size(out)
        self.root.write_bytes(path, out)
        line = text[: text.index(old)].count("\n") + 1
        return ToolResult(f"edited {path} at line {line}")

    def _list_files(self, call: ToolCall) -> ToolResult:
        args = _args(call, {"path": str}, ())
        path = args.get("path", ".")
        if refused := self._path_action("read", path):
            return refused
        lines: list[str] = []
        for entry in self.root.walk(path, limit=LIST_CAP + 1):
            if entry.kind == "dir":
                continue
            lines.append(
                entry.rel + {"link": " (symlink)", "other": " (special)"}.get(entry.kind, "")
            )
            if len(lines) > LIST_CAP:
                lines[-1] = f"[… more than {LIST_CAP} entries; list a subdirectory]"
                break
        return ToolResult("\n".join(lines) if lines else "(no files)")

    def _search(self, call: ToolCall) -> ToolResult:
        args = _args(call, {"pattern": str, "path": str, "regex": bool}, ("pattern",))
        pattern, path = args["pattern"], args.get("path", ".")
        if not pattern:
            raise BadArguments("the pattern is empty")
        try:
            matcher = re.compile(pattern if args.get("regex") else re.escape(pattern))
        except re.error as exc:
            raise BadArguments(f"not a regular expression: {exc}") from None
        if refused := self._path_action("read", path):
            return refused
        found: list[str] = []
        for entry in self.root.walk(path):
            if entry.kind != "file" or entry.size > SEARCH_FILE_CAP:
                continue
            try:
                data, _ = self.root.read_bytes(entry.rel, SEARCH_FILE_CAP)
            except (Escape, OSError):
                continue
            if b"\0" in data[:8192]:
                continue
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if matcher.search(line[:2000]):
                    found.append(f"{entry.rel}:{number}: {line[:300]}")
                    if len(found) >= SEARCH_CAP:
                        found.append(f"[… stopped at {SEARCH_CAP} matches; narrow the search]")
                        return ToolResult("\n".join(found))
        return ToolResult("\n".join(found) if found else "no matches")

    # -- run and finish -------------------------------------------------------------------

    def _run(self, call: ToolCall) -> ToolResult:
        command = _args(call, {"command": str}, ("command",))["command"]
        try:
            argv = tuple(shlex.split(command))
        except ValueError as exc:
            raise BadArguments(f"not a command line: {exc}") from None
        if not argv:
            raise BadArguments("the command is empty")
        action = Action("run", argv=argv, task=self.guard.task)
        if denied := self._decide(action):
            return ToolResult(f"refused by policy: {denied}", True)
        if not self.commands.permits(argv):
            reason = (
                f"`{shlex.join(argv)}` is not an allow-listed command; run may start "
                f"{self.commands.describe()} (tools.commands on the base branch)"
            )
            self.guard.deny(action, "tools.commands", reason)
            return ToolResult(f"refused: {reason}", True)
        captured = isolation.run(
            argv,
            cwd=self.root.path,
            env=self.env,
            timeout=self.run_timeout_s,
            redactor=self.redactor,
            cap=max(self.output_cap * 2, 1024),
            cancel=self.cancel,
            progress=self.progress,
            sandbox=self.sandbox,
        )
        if captured.timed_out:
            head = f"stopped after {self.run_timeout_s:.0f} s (the time limit of run)"
        elif captured.cancelled:
            head = "stopped: the build was cancelled"
        else:
            head = f"exit {captured.exit_code}"
        body = captured.output
        failed = captured.timed_out or captured.cancelled or captured.exit_code == 127
        return ToolResult(f"{head}\n{body}" if body else head, failed)

    def _finish(self, call: ToolCall) -> ToolResult:
        summary = _args(call, {"summary": str}, ("summary",))["summary"].strip()
        if not summary:
            raise BadArguments("give a short summary of what you did")
        return ToolResult(
            "finished; lanectl runs the checks and commits your work", finished=summary
        )
