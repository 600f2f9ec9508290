"""The README is tested, not trusted: its quick start is exactly two commands,
CI runs the second one, and the walkthrough's commands work as shown."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


def walkthrough() -> str:
    """Every ```sh block of the walkthrough, in order, as one bash script."""
    section = README.split("## Five minutes in a new repository", 1)[1].split("\n## ", 1)[0]
    return "\n".join(re.findall(r"```sh\n(.*?)```", section, re.DOTALL))


@pytest.mark.slow
def test_the_walkthrough_runs_as_written(tmp_path: Path, isolated_home: Path) -> None:
    """The README's walkthrough, run by bash exactly as written, with three seams:
    the id the first `task new` printed stands in for 7K2M; `approve` gets --yes (no terminal
    here: typing the id at the prompt is tested on a pty in test_approve_merge); a
    line whose comment says it is refused with exit 3 must exit 3."""
    lines = []
    for line in walkthrough().splitlines():
        if "(exit 3)" in line:
            line = f"{line.split('#', 1)[0].rstrip()} || [ $? -eq 3 ]"
        if line.startswith("lanectl approve "):
            line = line.split("#", 1)[0].rstrip() + " --yes"
        lines.append(line.replace("7K2M", '"$TASK"'))
        if line.startswith("lanectl task new ") and not any("TASK=" in x for x in lines):
            lines.append(
                "TASK=$(lanectl --json task list --state draft | "
                "python3 -c 'import json,sys; print(json.load(sys.stdin)[0][\"id\"])')"
            )
    script = "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n"
    script += "\n".join(lines) + "\n"
    (isolated_home / ".ssh").mkdir()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=240, check=False,
    )  # fmt: skip
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Pointed 4 entries of .lanes/config.yaml at the simulator" in out
    assert re.search(r"T-\w{8}\s+review\s+checks green", out)
    assert "correctness  recorded   reviewer-gpt: pass" in out
    assert "security     recorded   security-gemini: pass" in out
    assert "refused: T-" in out  # the merge before the approval
    assert re.search(r"Merged T-\w{8} into main: commit \w+ \(parents \w+ and approval", out)
    assert "every lane merge approved" in out
    shop = tmp_path / "shop"
    notes = subprocess.run(
        ["git", "show", "main:NOTES.md"], cwd=shop, capture_output=True, text=True, check=True
    )
    assert notes.stdout == "Rehearsed offline.\n"


def shown_commands() -> list[str]:
    """Every `lanectl …` the README shows: in code blocks and in inline code."""
    found: list[str] = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", README, re.DOTALL):
        for line in block.splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith("lanectl "):
                found.append(line)
    prose = re.sub(r"```.*?```", "", README, flags=re.DOTALL)
    found += [s for s in re.findall(r"`([^`]+)`", prose) if s.startswith("lanectl ")]
    return found


def test_every_command_the_readme_shows_exists_with_its_options() -> None:
    """Commands and options the README names are lanectl's own (docs tested, not trusted)."""
    import typer.main

    from lanectl.cli import app

    root = typer.main.get_command(app)
    checked = 0
    for shown in shown_commands():
        plain = re.sub(r'"\$\([^)]*\)"', "VALUE", shown)  # "$(git config user.email)"
        words = shlex.split(re.split(r"\s(?:#|>|\||&)", plain)[0], posix=True)[1:]
        command: Any = root
        options = {"--help", "-h", *(o for p in root.params for o in getattr(p, "opts", []))}
        while words and words[0] in (getattr(command, "commands", None) or {}):
            command = command.commands[words.pop(0)]
            options |= {o for p in command.params for o in getattr(p, "opts", [])}
        bare_root = command is root and all(w.startswith("-") for w in words)
        assert bare_root or getattr(command, "commands", None) is None, f"{shown}: no such command"
        for word in words:
            if word == "--":
                break
            if word.startswith("-"):
                assert word.split("=")[0] in options, f"{shown}: {command.name} has no {word}"
        checked += 1
    assert checked >= 40  # the walkthrough, the everyday commands and the prose
