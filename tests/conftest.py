"""Shared fixtures: real git repositories in temp dirs, never the real home.

Every test runs with HOME pointed at a temp dir holding a pinned git identity,
and with provider/forge credentials and the agent socket removed from the
environment (STYLE §12–13).
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lanectl.cli import app
from lanectl.cli.errors import run

SCRUB = (
    "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY",
    "OPENAI_BASE_URL", "GITHUB_TOKEN", "GH_TOKEN", "GEMINI_API_KEY", "SSH_AUTH_SOCK",
)  # fmt: skip


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("home")
    (home / ".gitconfig").write_text(
        "[user]\n\tname = Alice Example\n\temail = alice@example.com\n"
        "[init]\n\tdefaultBranch = main\n"
        '[protocol "file"]\n\tallow = always\n'
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LANECTL_HOME", str(home / ".lanectl"))
    for name in SCRUB:
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("GIT_"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_TEMPLATE_DIR", "")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    return home


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return proc.stdout.strip()


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "README.md").write_text("# shop\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


@dataclass
class Result:
    code: int
    out: str
    err: str


class Cli:
    def __init__(self, cwd: Path, capsys: pytest.CaptureFixture[str]):
        self.cwd = cwd
        self.capsys = capsys

    def __call__(self, *argv: str, ok: bool | None = None) -> Result:
        old = Path.cwd()
        os.chdir(self.cwd)
        try:
            self.capsys.readouterr()
            code = run(app, list(argv))
        finally:
            os.chdir(old)
        captured = self.capsys.readouterr()
        result = Result(code, captured.out, captured.err)
        if ok is True:
            assert code == 0, f"lanectl {' '.join(argv)} → {code}\n{result.out}\n{result.err}"
        return result


@pytest.fixture
def lane_repo(git_repo: Path, capsys: pytest.CaptureFixture[str]) -> Iterator[Path]:
    """A git repository after `lanectl init`, with the policy files committed."""
    cli = Cli(git_repo, capsys)
    cli("init", ok=True)
    git(git_repo, "add", ".lanes", "docs")
    git(git_repo, "commit", "-q", "-m", "Set up lanectl")
    return git_repo


@pytest.fixture
def cli(lane_repo: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(lane_repo, capsys)


def run_lanectl(
    cwd: Path, *argv: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run lanectl as a separate process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "lanectl", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        input=input,
        check=False,
    )


def run_in_terminal(
    cwd: Path, argv: list[str], typed: str = "", env: dict[str, str] | None = None
) -> tuple[int, str]:
    """Run lanectl on a pseudo-terminal, type ``typed`` at its prompt; (exit code, screen)."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lanectl", *argv], cwd=cwd, stdin=child, stdout=child,
        stderr=child, env=env,
    )  # fmt: skip
    os.close(child)
    screen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        screen += chunk
        if b"to approve: " in screen and typed:
            os.write(main, typed.encode() + b"\n")
            typed = ""
    os.close(main)
    return proc.wait(timeout=60), screen.decode("utf-8", "replace")
