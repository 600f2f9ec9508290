from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import Cli, run_in_terminal


def new(cli: Cli, title: str, *extra: str, body: Path | None = None) -> str:
    args = ["--json", "task", "new", title, *extra]
    if body is not None:
        args += ["--body-file", str(body)]
    return str(json.loads(cli(*args, ok=True).out)["id"])


def specified(tmp_path: Path) -> Path:
    body = tmp_path / "body.md"
    body.write_text("## Goal\nDo it.\n\n## Acceptance\n- [ ] done\n")
    return body


def test_status_counts_ready_and_time_in_state(cli: Cli, tmp_path: Path) -> None:
    body = specified(tmp_path)
    a = new(cli, "first", "--risk", "high", body=body)
    b = new(cli, "second", "--risk", "low", "--depends", a, body=body)
    new(cli, "third")
    cli("task", "ready", a, ok=True)
    cli("task", "ready", b, ok=True)
    report = json.loads(cli("status", "--json", ok=True).out)
    assert report["total"] == 3
    assert report["by_state"] == {"draft": 1, "ready": 2}
    assert report["by_risk"] == {"low": 1, "medium": 1, "high": 1}
    assert report["by_state_risk"]["ready"] == {"low": 1, "medium": 0, "high": 1}
    assert [r["id"] for r in report["ready"]] == [a]  # b waits on a
    active = {r["id"]: r for r in report["active"]}
    assert active[b]["ready"] is False
    assert all(r["seconds_in_state"] >= 0 for r in report["active"])
    plain = cli("status", ok=True).out
    assert plain.startswith("Tasks: 3 — 1 draft · 2 ready")
    assert "READY FOR A BUILDER (1)" in plain
    assert f"{b}  ready" in plain
    assert "waiting on dependencies" in plain


def test_time_in_state_comes_from_the_task(cli: Cli, lane_repo: Path) -> None:
    tid = new(cli, "old one")
    path = next((lane_repo / ".git/lanectl/state/.lanes/tasks").glob(f"{tid}-*.md"))
    text = path.read_text()
    text = text.replace("state: draft", "state: blocked")
    lines = [
        "state_since: 2020-01-01T00:00:00.000Z" if ln.startswith("state_since:") else ln
        for ln in text.splitlines()
    ]
    path.write_text("\n".join(lines) + "\n")
    report = json.loads(cli("status", "--json", ok=True).out)
    assert report["active"][0]["seconds_in_state"] > 5 * 365 * 86400
    assert "needs a human" in cli("status", ok=True).out


def test_status_on_a_terminal_is_a_rich_table(lane_repo: Path) -> None:
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm", "NO_COLOR": "1"}
    subprocess.run(
        [sys.executable, "-m", "lanectl", "task", "new", "shown on a tty"],
        cwd=lane_repo,
        capture_output=True,
        check=True,
    )
    code, raw = run_in_terminal(lane_repo, ["status"], env=env)
    assert code == 0
    screen = re.sub(r"\x1b\[[0-9;]*m", "", raw)
    assert "by state and risk" in screen
    assert "Tasks: 1" in screen
    # and piped, the same command is plain text without table titles
    piped = subprocess.run(
        [sys.executable, "-m", "lanectl", "status"], cwd=lane_repo, capture_output=True, text=True
    )
    assert "by state and risk" not in piped.stdout
