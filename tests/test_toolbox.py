"""The agent tool sandbox: every call decided by the policy engine, confined to the worktree
(symlinks and races included), run allow-listed and credential-free, outputs redacted."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from conftest import Cli, git
from gatekit import Org
from lanectl import isolation, keys, worktrees
from lanectl.guard import Guard
from lanectl.policy import Action, Actor, Decision, load_context
from lanectl.providers import ToolCall
from lanectl.safefs import Escape, Root
from lanectl.toolbox import Commands, Toolbox, ToolResult, pattern_problem

SECRET = "sk-ant-toolbox-SECRET-0123456789abcdef"


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


def make_box(
    org: Org,
    *,
    agent: str = "builder-claude",
    role: str = "builder",
    write: bool = True,
    commands: Commands | None = None,
    guard_cls: type[Guard] = Guard,
    **kw: Any,
) -> tuple[Toolbox, Path, str]:
    ws = org.ws
    tid = org.task("Tools")
    wt = worktrees.prepare(ws, tid, git(org.repo, "rev-parse", "main")).path
    ctx = load_context(ws, agent, task=tid, worktree=wt)
    guard = guard_cls(ws, Actor(agent, role), ctx, tid)
    home = isolation.private_home(ws.private_dir, agent)
    env = isolation.agent_env(home, credential=("ANTHROPIC_API_KEY", SECRET))
    box = Toolbox(
        guard,
        wt,
        write=write,
        env=env,
        redactor=isolation.Redactor([SECRET]),
        run_timeout_s=kw.pop("run_timeout_s", 20),
        commands=commands or Commands(checks=("python3 -c 'print(1)'",)),
        **kw,
    )
    return box, wt, tid


def call(box: Toolbox, name: str, **args: Any) -> ToolResult:
    return box.call(ToolCall(f"call-{name}", name, args))


def denied(org: Org, tid: str) -> list[dict[str, Any]]:
    return [e for e in org.events("tool.denied") if e.get("task") == tid]


def test_file_tools_write_edit_read_list_and_search(org: Org) -> None:
    box, wt, tid = make_box(org)
    assert [t.name for t in box.tools] == [
        "read_file", "write_file", "edit_file", "list_files", "search", "run", "finish"
    ]  # fmt: skip
    assert call(box, "write_file", path="src/app.py", content="a = 1\nb = 2\n").content == (
        "created src/app.py (12 bytes)"
    )
    assert (wt / "src" / "app.py").read_text() == "a = 1\nb = 2\n"
    assert call(
        box, "edit_file", path="src/app.py", old_text="b = 2", new_text="b = 3"
    ).content == ("edited src/app.py at line 2")
    assert call(box, "read_file", path="src/app.py").content == "a = 1\nb = 3\n"
    part = call(box, "read_file", path="src/app.py", offset=2, limit=1).content
    assert part.startswith("b = 3\n")
    assert "lines 2-2 of 2" in part
    assert "src/app.py" in call(box, "list_files").content.splitlines()
    assert call(box, "list_files", path="src").content == "src/app.py"
    assert call(box, "search", pattern="b = 3").content == "src/app.py:2: b = 3"
    assert call(box, "search", pattern=r"^a\s=", regex=True).content == "src/app.py:1: a = 1"
    assert call(box, "search", pattern="nowhere to be found").content == "no matches"
    missing = call(box, "edit_file", path="src/app.py", old_text="zzz", new_text="y")
    assert missing.is_error
    assert "does not occur" in missing.content
    call(box, "write_file", path="twice.txt", content="x\nx\n")
    twice = call(box, "edit_file", path="twice.txt", old_text="x", new_text="y")
    assert twice.is_error
    assert "occurs 2 times" in twice.content
    assert (wt / "twice.txt").read_text() == "x\nx\n"
    done = call(box, "finish", summary="set b to 3")
    assert done.finished == "set b to 3"
    assert not done.is_error
    # Every call is a tool.call event, with what the watchdog shows.
    calls = [e for e in org.events("tool.call") if e.get("task") == tid]
    assert len(calls) == 13
    assert calls[0]["data"]["summary"] == "write_file src/app.py"
    assert not denied(org, tid)


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("read_file", {}, "missing argument 'path'"),
    ("read_file", {"path": 3}, "'path' must be a string"),
    ("read_file", {"path": "a", "offset": True}, "'offset' must be an integer"),
    ("write_file", {"path": "a"}, "missing argument 'content'"),
    ("write_file", {"path": "a", "content": "x", "mode": 7}, "unknown argument 'mode'"),
    ("edit_file", {"path": "a", "old_text": "", "new_text": "x"}, "old_text is empty"),
    ("search", {"pattern": "(", "regex": True}, "not a regular expression"),
    ("run", {"command": "'unclosed"}, "not a command line"),
    ("run", {"command": ["ls"]}, "'command' must be a string"),
    ("finish", {"summary": "  "}, "give a short summary"),
    ("delete_everything", {}, "there is no tool 'delete_everything'"),
    ("read_file", {"path": "no/such/file"}, "no such file or directory"),
    ("read_file", {"path": "src"}, "that path is a directory"),
]


def test_bad_arguments_are_tool_errors_never_exceptions(org: Org) -> None:
    box, wt, _ = make_box(org)
    (wt / "src").mkdir(exist_ok=True)
    for name, args, message in BAD_CALLS:
        result = call(box, name, **args)
        assert result.is_error, (name, args)
        assert message in result.content, (name, result.content)


def test_paths_out_of_the_worktree_are_refused_and_recorded(org: Org, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside data\n")
    os.symlink(outside, org.repo / "escape")
    git(org.repo, "add", "escape")
    git(org.repo, "commit", "-q", "-m", "a link out")
    box, wt, tid = make_box(org)
    assert (wt / "escape").is_symlink()  # checked out from the repository
    key = keys.find_key(org.ws.common_dir, "reviewer-gpt")
    assert key is not None
    attempts = [
        ("write_file", {"path": "../x", "content": "x"}),
        ("write_file", {"path": str(outside / "abs.txt"), "content": "x"}),
        ("read_file", {"path": "escape/secret.txt"}),
        ("write_file", {"path": "escape/new.txt", "content": "x"}),
        ("read_file", {"path": str(key.private_path)}),
        ("list_files", {"path": "../"}),
        ("search", {"pattern": "outside", "path": "escape"}),
        ("write_file", {"path": ".lanes/config.yaml", "content": "version: 1\n"}),
        ("write_file", {"path": ".git", "content": "gitdir: /tmp/evil\n"}),
    ]
    for name, args in attempts:
        result = call(box, name, **args)
        assert result.is_error, (name, args)
        assert result.content.startswith("refused by policy:"), result.content
    assert not (wt.parent / "x").exists()
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    events = denied(org, tid)
    assert len(events) == len(attempts)
    assert {e["data"]["rule"] for e in events} >= {
        "red.outside-worktree", "lane.change_policy"
    }  # fmt: skip
    assert "reviewer-gpt" in str(events[4]["attempted"])
    # The link itself is listed, never entered; search does not follow it either.
    assert "escape (symlink)" in call(box, "list_files").content
    assert "outside data" not in call(box, "search", pattern="outside data").content


class SwappingGuard(Guard):
    """An attacker racing the tools: right after the policy allows a path, a directory on
    it is replaced by a symlink out of the worktree."""

    swap: tuple[Path, Path] | None = None

    def check(self, action: Action) -> Decision:
        decision = super().check(action)
        if SwappingGuard.swap is not None and action.kind in ("read", "write"):
            victim, target = SwappingGuard.swap
            victim.rename(victim.with_name("moved-away"))
            os.symlink(target, victim)
            SwappingGuard.swap = None
        return decision


def test_a_symlink_swapped_in_between_check_and_use_is_not_followed(
    org: Org, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.txt").write_text("outside data\n")
    box, wt, _ = make_box(org, guard_cls=SwappingGuard)
    (wt / "sub").mkdir()
    (wt / "sub" / "data.txt").write_text("inside\n")
    SwappingGuard.swap = (wt / "sub", outside)
    read = call(box, "read_file", path="sub/data.txt")
    assert read.is_error
    assert "resolves outside the worktree" in read.content
    assert "outside data" not in read.content
    (wt / "sub").unlink()
    (wt / "sub").mkdir()
    SwappingGuard.swap = (wt / "sub", outside)
    wrote = call(box, "write_file", path="sub/planted.txt", content="x")
    assert wrote.is_error
    assert sorted(p.name for p in outside.iterdir()) == ["data.txt"]


class RacingRoot(Root):
    """The race one step later: after the path was resolved, before it is opened."""

    swap: tuple[Path, Path] | None = None

    def resolve(self, path: str) -> str:
        rel = super().resolve(path)
        if self.swap is not None:
            victim, target = self.swap
            victim.rename(victim.with_name(f"moved-{len(list(victim.parent.iterdir()))}"))
            os.symlink(target, victim)
            self.swap = None
        return rel


def test_a_link_swapped_in_after_resolving_fails_the_walk(tmp_path: Path) -> None:
    root, outside = tmp_path / "wt", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "data.txt").write_text("inside\n")
    outside.mkdir()
    (outside / "data.txt").write_text("outside data\n")
    racing = RacingRoot(root)
    racing.swap = (root / "sub", outside)
    with pytest.raises(Escape, match="changed into a link"):
        racing.read_bytes("sub/data.txt")
    (root / "sub").unlink()
    (root / "sub").mkdir()
    racing.swap = (root / "sub", outside)
    with pytest.raises(Escape, match="changed into a link"):
        racing.write_bytes("sub/planted.txt", b"x")
    assert sorted(p.name for p in outside.iterdir()) == ["data.txt"]
    # The last component too: a file replaced by a link is not read through.
    (root / "sub").unlink()
    (root / "sub").mkdir()
    (root / "sub" / "f.txt").write_text("inside\n")
    racing.swap = (root / "sub" / "f.txt", outside / "data.txt")
    with pytest.raises(Escape, match="changed into a link"):
        racing.read_bytes("sub/f.txt")
    # Writing over a link planted at the final name replaces the link, never the target.
    os.symlink(outside / "data.txt", root / "sub" / "g.txt")
    plain = Root(root)
    with pytest.raises(Escape):
        plain.write_bytes("sub/g.txt", b"x")  # it resolves outside: refused up front
    assert (outside / "data.txt").read_text() == "outside data\n"


def test_run_starts_only_allow_listed_commands_without_the_credential(
    org: Org, tmp_path: Path
) -> None:
    probe = "python3 probe.py"
    commands = Commands(checks=(probe,), patterns=("echo ...",))
    git(org.repo, "init", "-q", "--bare", str(tmp_path / "origin.git"))
    git(org.repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    box, wt, tid = make_box(org, commands=commands)
    (wt / "probe.py").write_text(
        "import os\nprint(sorted(os.environ))\nprint('leak', os.environ.get('ANTHROPIC_API_KEY'))\n"
    )
    result = call(box, "run", command=probe)
    assert not result.is_error, result.content
    assert result.content.startswith("exit 0\n")
    assert "ANTHROPIC_API_KEY" not in result.content
    assert "leak None" in result.content
    assert call(box, "run", command=f"echo {SECRET}").content == "exit 0\n[redacted]\n"
    refused = call(box, "run", command="python3 -c 'import os'")
    assert refused.is_error
    assert "not an allow-listed command" in refused.content
    for command, rule in (
        ("scp f deploy@prod:/etc/", "red.outside-pipeline"),
        ("git push origin main", "red.protected-branch"),
        ("cat ../../etc/passwd", "red.outside-worktree"),
    ):
        result = call(box, "run", command=command)
        assert result.is_error, command
        assert result.content.startswith("refused by policy:"), command
        assert denied(org, tid)[-1]["data"]["rule"] == rule
    assert next(e["data"]["rule"] for e in denied(org, tid)) == "tools.commands"


def test_run_has_a_time_limit_and_an_output_cap(org: Org) -> None:
    commands = Commands(patterns=("python3 -c ...",))
    box, _, _ = make_box(org, commands=commands, run_timeout_s=0.5, output_cap=1000)
    slow = call(box, "run", command="python3 -c 'import time; time.sleep(30)'")
    assert slow.is_error
    assert "stopped after" in slow.content
    loud = call(box, "run", command="python3 -c 'print(\"x\" * 50000)'")
    assert len(loud.content) < 1200
    assert "not shown" in loud.content or "not kept" in loud.content


def test_cancel_stops_a_running_command(org: Org) -> None:
    cancel = threading.Event()
    commands = Commands(patterns=("python3 -c ...",))
    box, _, _ = make_box(org, commands=commands, cancel=cancel)
    threading.Timer(0.3, cancel.set).start()
    result = call(box, "run", command="python3 -c 'import time; time.sleep(30)'")
    assert result.is_error
    assert "cancelled" in result.content


def test_the_read_only_set_for_reviewers(org: Org) -> None:
    box, wt, _tid = make_box(org, agent="reviewer-gpt", role="reviewer", write=False)
    assert box.names == ("read_file", "list_files", "search", "run")
    (wt / "notes.txt").write_text("hello\n")
    assert call(box, "read_file", path="notes.txt").content == "hello\n"
    result = call(box, "write_file", path="notes.txt", content="changed")
    assert result.is_error
    assert "no tool 'write_file'" in result.content
    assert (wt / "notes.txt").read_text() == "hello\n"
    assert call(box, "finish", summary="x").is_error


def test_allow_list_patterns() -> None:
    commands = Commands(checks=("python -m pytest -q",), patterns=("ruff check ...", "ls *"))
    assert commands.permits(["python", "-m", "pytest", "-q"])
    assert not commands.permits(["python", "-m", "pytest"])
    assert commands.permits(["ruff", "check"])
    assert commands.permits(["ruff", "check", "src", "--fix"])
    assert not commands.permits(["ruff", "format"])
    assert commands.permits(["ls", "src"])
    assert not commands.permits(["ls", "a", "b"])
    assert pattern_problem("* anything") is not None
    assert pattern_problem("... x") is not None
    assert pattern_problem("git ... log") is not None
    assert pattern_problem("'open") is not None
    assert pattern_problem("git diff ...") is None


def test_the_allow_list_is_validated(cli: Cli, lane_repo: Path) -> None:
    path = lane_repo / ".lanes" / "config.yaml"
    path.write_text(path.read_text() + 'tools: {commands: ["ruff check ...", "* x"]}\n')
    result = cli("check")
    assert result.code == 1
    assert "tools › commands: value error, item 1: the first word must name the program" in (
        result.out
    ), result.out
