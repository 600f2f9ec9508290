from __future__ import annotations

import json
from pathlib import Path

from conftest import Cli, git


def new_task(cli: Cli, title: str, *extra: str) -> dict[str, object]:
    result = cli("--json", "task", "new", title, *extra, ok=True)
    return json.loads(result.out)


def test_new_list_show(cli: Cli, lane_repo: Path) -> None:
    task = new_task(cli, "Retry transient fetch errors", "--risk", "low")
    assert str(task["id"]).startswith("T-")
    assert len(str(task["id"])) == 10
    listed = json.loads(cli("task", "list", "--json", ok=True).out)
    assert [t["id"] for t in listed] == [task["id"]]
    shown = cli("task", "show", str(task["id"])[2:6], ok=True)
    assert "Retry transient fetch errors" in shown.out
    # committed on the state branch by lanectl, with trailers; the user's tree untouched
    log = git(lane_repo, "log", "-1", "--format=%an%n%B", "lanectl/state")
    assert log.startswith("lanectl\n")
    assert f"Lane-Task: {task['id']}" in log
    assert "Lane-Actor: alice@example.com" in log
    assert git(lane_repo, "status", "--porcelain") == ""
