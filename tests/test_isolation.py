"""What an agent process gets: an allow-listed environment, its own credential only, no argv
secrets, a private HOME; captured output capped and redacted."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import Cli, git
from dispatchkit import FORGE_TOKEN, OTHER_KEY, OWN_KEY, Builders, worker
from gatekit import Org
from lanectl import isolation, treecommit


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


@pytest.fixture
def builders(org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Builders:
    return Builders(org, tmp_path, monkeypatch)


ALLOWED = {
    "PATH", "LANG", "HOME", "TMPDIR", "TMP", "TEMP", "LANECTL_TASK", "LANECTL_AGENT",
    "LANECTL_WORKTREE",
}  # fmt: skip


HOSTILE = {
    "OPENAI_API_KEY": OTHER_KEY,
    "GEMINI_API_KEY": "AIza-test-gemini-0123456789abcdefghijklmnop",
    "GITHUB_TOKEN": FORGE_TOKEN,
    "GH_TOKEN": FORGE_TOKEN,
    "GIT_DIR": "/elsewhere/.git",
    "GIT_INDEX_FILE": "/elsewhere/index",
    "ANTHROPIC_BASE_URL": "https://attacker.example",
    "OPENAI_BASE_URL": "https://attacker.example/v1",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-test-0123456789",
}


@pytest.fixture
def hostile_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[], None]:
    """Put into lanectl's own environment what an agent must never see (call it once the
    test's own git setup is done: GIT_DIR would redirect that too)."""

    def arm() -> None:
        for name, value in HOSTILE.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "agent.sock"))

    return arm


def test_the_environment_is_built_from_an_allow_list(
    hostile_env: Callable[[], None], tmp_path: Path
) -> None:
    hostile_env()
    home = isolation.private_home(tmp_path / "private", "builder-claude")
    env = isolation.agent_env(
        home, credential=("ANTHROPIC_API_KEY", OWN_KEY), names={"LANECTL_TASK": "T-AAAAAAAA"}
    )
    assert set(env) == {
        "PATH", "LANG", "HOME", "TMPDIR", "TMP", "TEMP", "ANTHROPIC_API_KEY", "LANECTL_TASK",
    }  # fmt: skip
    assert env["TMP"] == env["TEMP"] == env["TMPDIR"] == str(home / "tmp")
    assert env["HOME"] == str(home)
    assert env["ANTHROPIC_API_KEY"] == OWN_KEY
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for forbidden in ("GITHUB_TOKEN", "SSH_AUTH_SOCK", "GIT_DIR", "LANECTL_HOME"):
        with pytest.raises(isolation.LaneError):
            isolation.agent_env(home, credential=(forbidden, "x" * 20))


def test_a_command_agent_sees_only_its_own_credential_never_in_argv(
    org: Org, builders: Builders, hostile_env: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file, go, seen = (builders.out / n for n in ("agent.pid", "go", "seen.json"))
    builders.script(
        "spy-agent",
        worker(f"""
pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid()))
while not pathlib.Path({str(go)!r}).exists():
    time.sleep(0.02)
pathlib.Path({str(seen)!r}).write_text(json.dumps({{"env": dict(os.environ), "cwd": os.getcwd()}}))
print("my key is", os.environ.get("ANTHROPIC_API_KEY"))
print("forge token:", os.environ.get("GITHUB_TOKEN"))
"""),
    )
    builders.configure("spy-agent")
    tid = org.task("Spy")
    hostile_env()
    thread = threading.Thread(target=builders.dispatch)
    thread.start()
    deadline = time.time() + 30
    while not pid_file.exists() and time.time() < deadline:
        time.sleep(0.02)
    pid = int(pid_file.read_text())
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    environ = Path(f"/proc/{pid}/environ").read_bytes()
    go.touch()
    thread.join(60)
    for secret in (OWN_KEY, OTHER_KEY, FORGE_TOKEN):
        assert not any(secret.encode() in arg for arg in cmdline)
    assert b"OPENAI_API_KEY" not in environ
    assert FORGE_TOKEN.encode() not in environ
    report = json.loads(seen.read_text())
    env = report["env"]
    assert set(env) - {"PWD", "SHLVL", "_", "LC_CTYPE"} == ALLOWED | {"ANTHROPIC_API_KEY"}
    assert env["ANTHROPIC_API_KEY"] == OWN_KEY
    assert env["HOME"] == str(org.ws.private_dir / "homes" / "builder-claude")
    assert report["cwd"] == str(org.ws.private_dir / "worktrees" / tid)
    # What it printed is redacted wherever lanectl kept it; no secret anywhere in git.
    for name in ("GIT_DIR", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name)  # for the test's own git calls below
    [finished] = [e for e in org.events("agent.finished") if e["task"] == tid]
    assert "my key is [redacted]" in json.dumps(finished)
    everything = git(org.repo, "log", "--all", "-p", "--format=%B")
    for secret in (OWN_KEY, OTHER_KEY, FORGE_TOKEN):
        assert secret not in everything
        assert secret not in org.cli("log", "--json", ok=True).out


def test_a_forge_token_cannot_be_made_an_agent_credential(
    org: Org, builders: Builders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", FORGE_TOKEN)
    builders.script("fake-agent", worker(""))
    builders.configure("fake-agent", extra={"credential_env": "GITHUB_TOKEN"})
    org.task("Token")
    [result] = builders.dispatch().results
    assert result.outcome == "blocked"
    assert "GITHUB_TOKEN cannot be an agent's credential" in result.reason


def test_a_missing_credential_blocks_before_the_agent_runs(
    org: Org, builders: Builders, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = org.tmp / "ran"
    builders.script("fake-agent", f"pathlib.Path({str(ran)!r}).touch()\n")
    builders.configure("fake-agent")
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    org.task("No key")
    [result] = builders.dispatch().results
    assert result.outcome == "blocked"
    assert "$ANTHROPIC_API_KEY" in result.reason
    assert not ran.exists()


def test_output_is_capped_hashed_and_redacted(tmp_path: Path) -> None:
    code = (
        f"import sys\nsys.stdout.write({OWN_KEY!r} + '\\n')\n"
        f"sys.stdout.write('x' * 1_000_000 + '\\n')\nsys.stdout.write('end ' + {OWN_KEY!r})\n"
    )
    expected = f"{OWN_KEY}\n{'x' * 1_000_000}\nend {OWN_KEY}".encode()
    captured = isolation.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        timeout=30,
        redactor=isolation.Redactor([OWN_KEY]),
        cap=4096,
    )
    assert captured.ok
    assert captured.output_bytes == len(expected)
    assert captured.output_sha256 == hashlib.sha256(expected).hexdigest()
    assert len(captured.output) < 4096 + 100
    assert OWN_KEY not in captured.output
    assert captured.output.startswith("[redacted]")
    assert captured.output.endswith("end [redacted]")
    assert "bytes not kept" in captured.output


def test_a_timeout_stops_the_whole_process_group(tmp_path: Path) -> None:
    child = tmp_path / "child.pid"
    script = f"sleep 30 & echo $! > {child}; wait"
    started = time.monotonic()
    captured = isolation.run(
        ["sh", "-c", script],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        timeout=0.5,
        redactor=isolation.Redactor([]),
    )
    assert captured.timed_out
    assert not captured.ok
    assert time.monotonic() - started < 10
    assert not isolation.alive(int(child.read_text()))


def test_nothing_is_inherited_by_git_in_the_worktree(
    org: Org, builders: Builders, hostile_env: Callable[[], None]
) -> None:
    """lanectl's own git calls ignore GIT_DIR/GIT_INDEX_FILE from its environment."""
    builders.script("fake-agent", worker(""))
    builders.configure("fake-agent")
    tid = org.task("Env")
    hostile_env()
    [result] = builders.dispatch().results
    assert result.outcome == "review", result.reason
    out = subprocess.run(
        ["git", "log", "-1", "--format=%s", f"lanes/{tid}"],
        cwd=org.repo, capture_output=True, text=True, check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    ).stdout  # fmt: skip
    assert out.strip() == "Env"


def test_the_snapshot_runs_no_filter_and_follows_no_link(git_repo: Path, tmp_path: Path) -> None:
    """What lanectl commits is what is on disk: no clean filter an agent configured runs, and
    a link is committed as a link, never as the file it points to."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not for the repository\n")
    (git_repo / "docs").mkdir()
    (git_repo / "docs" / "a.md").write_text("a\n")
    git(git_repo, "add", "docs")
    git(git_repo, "commit", "-q", "-m", "docs")
    start = git(git_repo, "rev-parse", "HEAD")
    ran = tmp_path / "filter-ran"
    git(git_repo, "config", "filter.evil.clean", f"touch {ran}; cat")
    (git_repo / ".gitattributes").write_text("* filter=evil\n")
    (git_repo / "new.txt").write_text("hello\n")
    (git_repo / "README.md").write_text("changed\n")
    (git_repo / "link").symlink_to(outside / "secret.txt")
    shutil.rmtree(git_repo / "docs")
    (git_repo / "docs").symlink_to(outside)  # the directory swapped for a link out
    snap = treecommit.snapshot(git_repo, git_repo, start)
    assert not ran.exists()
    assert snap.changed == (".gitattributes", "README.md", "docs", "docs/a.md", "link", "new.txt")
    entries = dict(
        line.split("\t")[::-1] for line in git(git_repo, "ls-tree", "-r", snap.tree).splitlines()
    )
    assert entries["link"].startswith("120000")
    assert entries["docs"].startswith("120000")
    assert "docs/a.md" not in entries
    assert "docs/secret.txt" not in entries
    blob = entries["link"].split()[2]
    assert git(git_repo, "cat-file", "blob", blob) == str(outside / "secret.txt")
