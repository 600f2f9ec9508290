"""The README is tested, not trusted: its quick start is exactly two commands,
CI runs the second one, and the walkthrough's commands work as shown."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from conftest import Cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def block_after(heading: str) -> list[str]:
    section = README.split(heading, 1)[1]
    body = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert body is not None
    return [line for line in body.group(1).splitlines() if line.strip()]


def test_quick_start_is_exactly_two_commands_and_ci_runs_the_second() -> None:
    first, second = block_after("## Quick start")
    assert "lanectl demo" in first
    assert first.startswith("python3 -m venv .venv && ")
    assert "pytest" in second
    ci = [
        ln
        for ln in (ROOT / ".ci/run").read_text().splitlines()
        if ln and not ln.startswith(("#", "set ", "cd "))
    ]
    assert ci == [second]


def test_walkthrough_commands_work_as_shown(
    git_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli = Cli(git_repo, capsys)
    prefix = None
    for line in block_after("## Five minutes in your own repository"):
        command = line.split("#", 1)[0].strip()
        if command.startswith("cd ") or not command:
            continue
        if command.startswith("git "):
            import subprocess

            subprocess.run(command, shell=True, cwd=git_repo, check=True, capture_output=True)
            continue
        argv = shlex.split(command)
        assert argv[0] == "lanectl"
        argv = argv[1:]
        if prefix is not None:
            argv = [prefix if a == "7K2M" else a for a in argv]
        if argv[:2] == ["task", "ready"]:
            # the README says: after writing its Goal and Acceptance
            path = next((git_repo / ".git/lanectl/state/.lanes/tasks").glob(f"{prefix}*.md"))
            text = path.read_text()
            text = re.sub(
                r"## Goal\n.*?\n\n", "## Goal\nRetry 5xx with backoff.\n\n", text, flags=re.S
            )
            path.write_text(text.replace("- [ ] \n", "- [ ] three retries with jitter\n"))
        result = cli(*argv)
        assert result.code == 0, f"{command}\n{result.out}\n{result.err}"
        if argv[:2] == ["task", "new"]:
            prefix = re.search(r"Created T-(\w{4})", result.out).group(1)  # type: ignore[union-attr]
            prefix = "T-" + prefix
    listed = cli("--json", "task", "list", "--ready", ok=True).out
    assert prefix in listed
