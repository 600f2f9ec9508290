"""Dispatchers as separate processes: on one repository, and on two clones of one bare
remote, no task is ever built twice (SPEC §13 durability)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import Cli, git
from dispatchkit import Builders, worker
from gatekit import Org
from lanectl import keys, state, tasks
from lanectl.workspace import open_workspace


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


@pytest.fixture
def builders(org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Builders:
    return Builders(org, tmp_path, monkeypatch)


def start(repo: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "lanectl", "--json", "dispatch", *args],
        cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen[str]) -> dict[str, object]:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    report: dict[str, object] = json.loads(out)
    return report


def events(repo: Path, kind: str) -> list[dict[str, object]]:
    log = open_workspace(repo).log_dir
    found = []
    for path in sorted(log.glob("*/*.jsonl")):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event["kind"] == kind:
                found.append(event)
    return found


def test_two_dispatch_processes_on_one_repository_never_build_the_same_task(
    org: Org, builders: Builders
) -> None:
    builders.script("slow-agent", worker("time.sleep(0.4)\n"))
    builders.configure("slow-agent")
    ids = [org.task(f"Task {n}") for n in range(4)]
    first, second = start(org.repo, "--max", "2"), start(org.repo, "--max", "2")
    reports = [finish(first), finish(second)]
    built = sorted(r["task"] for report in reports for r in report["built"])  # type: ignore[attr-defined]
    assert built == sorted(ids)  # each exactly once, between the two of them
    for tid in ids:
        assert len([e for e in events(org.repo, "build.committed") if e["task"] == tid]) == 1
        assert len([e for e in events(org.repo, "claim.acquired") if e["task"] == tid]) == 1
        assert git(org.repo, "rev-list", "--count", f"main..lanes/{tid}") == "1"
        assert tasks.load(org.ws).resolve(tid).state == "review"
    assert org.cli("audit").code == 0


@pytest.fixture
def clones(org: Org, builders: Builders, tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """Clone a (the org) and clone b share a bare remote: main, the state branch with three
    ready tasks, and the claims. b has the builder's key too (copied, as one would)."""
    builders.script("slow-agent", worker("time.sleep(0.8)\n"))
    builders.configure("slow-agent", settings={"remote": "origin", "lease_s": 1.5})
    ids = [org.task(f"Task {n}") for n in range(3)]
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(org.repo, "remote", "add", "origin", str(remote))
    git(org.repo, "push", "-q", "origin", "main", "lanectl/state")
    b = tmp_path / "b"
    git(tmp_path, "clone", "-q", str(remote), str(b))
    source, target = keys.key_dir(org.ws.common_dir), keys.key_dir(b / ".git")
    shutil.copytree(source, target)
    # Check out the state branch from origin/lanectl/state, as b's first write would
    # (a read-only command does not do it yet).
    state.ensure(open_workspace(b))
    assert len(tasks.load(open_workspace(b)).tasks) == 3
    return org.repo, b, ids


def test_two_clones_on_a_bare_remote_never_build_the_same_task(
    clones: tuple[Path, Path, list[str]],
) -> None:
    a, b, ids = clones
    in_a, in_b = start(a, "--once", "--max", "2"), start(b, "--once", "--max", "2")
    reports = [finish(in_a), finish(in_b)]
    built = sorted(r["task"] for report in reports for r in report["built"])  # type: ignore[attr-defined]
    assert built == sorted(ids)
    assert all(report["built"] for report in reports)  # both clones did some of the work
    # Later runs in either clone, whose state still says "ready" for what the other
    # built, build nothing: the remote's claim says the build finished after that.
    # (Wait until the local mirrors of the other clone's claims have expired too.)
    time.sleep(1.6)
    for repo in (a, b):
        again = finish(start(repo, "--once", "--max", "3"))
        assert again["built"] == []
        skipped = {s["task"]: s["reason"] for s in again["skipped"]}  # type: ignore[attr-defined]
        for tid in ids:
            if tasks.load(open_workspace(repo)).resolve(tid).state == "ready":
                assert "this clone's state is behind" in skipped[tid]
    committed = [e["task"] for repo in (a, b) for e in events(repo, "build.committed")]
    assert sorted(committed) == sorted(ids)  # one build of each, across both clones
    for tid in ids:
        tip = git(a, "ls-remote", "origin", f"refs/heads/lanes/{tid}").split()[0]
        git(a, "fetch", "-q", "origin", f"refs/heads/lanes/{tid}")
        assert git(a, "rev-list", "--count", f"main..{tip}") == "1"
