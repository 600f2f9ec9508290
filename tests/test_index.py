"""The index cache: under the git common dir, never the source of truth."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import Cli, git
from lanectl import index, tasks
from test_tasks import commit_by_hand, listed, new_task, state_dir, task_file

Record = dict[str, Any]


def cache_file(repo: Path) -> Path:
    return repo / ".git" / "lanectl" / "cache" / "tasks.json"


def settle(*paths: Path) -> None:
    """Wait until the file system clock has ticked past the files' stamps."""
    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in paths)
    probe = paths[0].parent / ".settle-probe"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        probe.write_bytes(b"")
        now = probe.stat().st_mtime_ns
        probe.unlink()
        if now > newest:
            return
        time.sleep(0.005)
    raise AssertionError("the file system clock did not move")


def cached_entries(repo: Path) -> dict[str, Any]:
    entries: dict[str, Any] = json.loads(cache_file(repo).read_text())["entries"]
    return entries


def titles(cli: Cli) -> dict[str, str]:
    out = cli("--json", "task", "list", ok=True).out
    return {t["id"]: t["title"] for t in json.loads(out)}


def rewrite_in_place(path: Path, old: str, new: str) -> None:
    """Same size, same inode: only the clock stamps can tell the difference."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert data.count(old.encode()) == 1
    with open(path, "r+b") as handle:
        handle.write(data.replace(old.encode(), new.encode()))


# ---------------------------------------------------------------------------
# Where it lives


def test_cache_lives_under_the_git_common_dir(cli: Cli, lane_repo: Path) -> None:
    tid = str(new_task(cli, "Cached")["id"])
    settle(task_file(lane_repo, tid))
    assert listed(cli) == [tid]
    assert cache_file(lane_repo).is_file()
    entries = cached_entries(lane_repo)
    assert list(entries) == [task_file(lane_repo, tid).name]
    assert entries[task_file(lane_repo, tid).name][1]["t"][0] == tid
    # nothing in the user's tree or in the state branch's tree, ignored or not
    assert git(lane_repo, "status", "--porcelain", "--ignored") == ""
    assert git(state_dir(lane_repo), "status", "--porcelain", "--ignored") == ""
    tracked = git(state_dir(lane_repo), "ls-files").splitlines()
    assert all(f.startswith((".lanes/tasks/", ".lanes/log/")) for f in tracked)


def test_a_linked_worktree_shares_the_cache(cli: Cli, lane_repo: Path, tmp_path: Path) -> None:
    tid = str(new_task(cli, "Shared")["id"])
    linked = tmp_path / "linked"
    git(lane_repo, "worktree", "add", "-q", str(linked), "-b", "other")
    shutil.rmtree(cache_file(lane_repo).parent, ignore_errors=True)
    there = Cli(linked, cli.capsys)
    assert listed(there) == [tid]
    assert cache_file(lane_repo).is_file()
    assert git(linked, "status", "--porcelain", "--ignored") == ""


# ---------------------------------------------------------------------------
# Never the source of truth


def test_hand_edit_shows_in_the_next_list(cli: Cli, lane_repo: Path) -> None:
    tid = str(new_task(cli, "Hand edited")["id"])
    path = task_file(lane_repo, tid)
    settle(path)
    assert listed(cli, "--state", "draft") == [tid]
    assert path.name in cached_entries(lane_repo)  # the entry is cached…
    inode = path.stat().st_ino
    rewrite_in_place(path, "state: draft", "state: ready")
    assert path.stat().st_ino == inode
    assert listed(cli, "--state", "ready") == [tid]  # …and not trusted once the file changed
    assert listed(cli, "--state", "draft") == []


def test_deleted_and_added_files_show_at_once(cli: Cli, lane_repo: Path) -> None:
    a = str(new_task(cli, "A")["id"])
    b = str(new_task(cli, "B")["id"])
    settle(task_file(lane_repo, a), task_file(lane_repo, b))
    assert sorted(listed(cli)) == sorted([a, b])
    task_file(lane_repo, a).unlink()
    assert listed(cli) == [b]
    assert list(cached_entries(lane_repo)) == [task_file(lane_repo, b).name]


@pytest.mark.parametrize("damage", ["delete", "garbage", "not-a-mapping", "bad-entries", "stale"])
def test_deleting_or_damaging_the_cache_is_harmless(damage: str, cli: Cli, lane_repo: Path) -> None:
    tid = str(new_task(cli, "Survivor")["id"])
    settle(task_file(lane_repo, tid))
    expected = cli("--json", "task", "list", ok=True).out
    cache = cache_file(lane_repo)
    if damage == "delete":
        shutil.rmtree(cache.parent)
    elif damage == "garbage":
        cache.write_bytes(b"\x00\xff{not json")
    elif damage == "not-a-mapping":
        cache.write_text("[1, 2, 3]")
    elif damage == "bad-entries":
        payload = json.loads(cache.read_text())
        payload["entries"] = {name: 5 for name in payload["entries"]}
        cache.write_text(json.dumps(payload))
    else:  # a current stamp with a record from an older lanectl
        payload = json.loads(cache.read_text())
        for entry in payload["entries"].values():
            entry[1] = {"title": None}
        cache.write_text(json.dumps(payload))
    assert cli("--json", "task", "list", ok=True).out == expected
    assert cli("--json", "task", "show", tid, ok=True).out
    assert cache.is_file()  # rebuilt


def test_checkout_of_an_older_state_commit_is_reflected(cli: Cli, lane_repo: Path) -> None:
    a = str(new_task(cli, "Original title")["id"])
    first = git(lane_repo, "rev-parse", "lanectl/state")
    cli("task", "edit", a, "--title", "Changed title", ok=True)
    b = str(new_task(cli, "Later task")["id"])
    settle(task_file(lane_repo, a), task_file(lane_repo, b))
    assert titles(cli) == {a: "Changed title", b: "Later task"}
    assert len(cached_entries(lane_repo)) == 2

    git(state_dir(lane_repo), "checkout", "-q", first)
    assert titles(cli) == {a: "Original title"}
    git(state_dir(lane_repo), "checkout", "-q", "lanectl/state")
    assert titles(cli) == {a: "Changed title", b: "Later task"}


def test_a_pull_into_the_state_worktree_is_reflected(
    cli: Cli, lane_repo: Path, tmp_path: Path
) -> None:
    """What `git pull` does after fetching: a fast-forward to another clone's commits."""
    a = str(new_task(cli, "Before the pull")["id"])
    settle(task_file(lane_repo, a))
    assert titles(cli) == {a: "Before the pull"}
    other = tmp_path / "other-clone"
    git(lane_repo, "worktree", "add", "-q", str(other), "-b", "incoming", "lanectl/state")
    incoming = other / ".lanes" / "tasks" / task_file(lane_repo, a).name
    incoming.write_text(incoming.read_text().replace("Before the pull", "Pulled in title"))
    git(other, "commit", "-q", "-am", "edited elsewhere")
    git(state_dir(lane_repo), "merge", "-q", "--ff-only", "incoming")
    assert titles(cli) == {a: "Pulled in title"}


def test_hand_edit_committed_by_hand_is_reflected(cli: Cli, lane_repo: Path) -> None:
    a = str(new_task(cli, "Committed by hand")["id"])
    path = task_file(lane_repo, a)
    settle(path)
    assert titles(cli) == {a: "Committed by hand"}
    path.write_text(path.read_text().replace("risk: medium", "risk: high"))
    commit_by_hand(lane_repo, "raise the risk")
    shown = json.loads(cli("--json", "task", "show", a, ok=True).out)
    assert shown["risk"] == "high"


# ---------------------------------------------------------------------------
# The index module itself, over a plain directory


class Counting:
    """The real task parser, counting how often it runs."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, name: str, path: Path, st: os.stat_result) -> Record:
        self.calls.append(name)
        return tasks.parse(name, path, st)


TASK = "---\nid: T-AAAAAAAA\ntitle: t\nstate: draft\nrisk: low\n---\n"


def test_settled_entries_are_reused_and_changed_ones_reparsed(tmp_path: Path) -> None:
    directory, cache = tmp_path / "tasks", tmp_path / "cache" / "tasks.json"
    directory.mkdir()
    path = directory / "T-AAAAAAAA-t.md"
    path.write_text(TASK)
    settle(path)
    parser = Counting()
    first = index.load(cache, directory, parser, version="v")
    assert tasks._from_record("T-AAAAAAAA-t.md", first["T-AAAAAAAA-t.md"]).state == "draft"
    assert index.load(cache, directory, parser, version="v") == first
    assert parser.calls == ["T-AAAAAAAA-t.md"]  # parsed once, then served from the cache
    rewrite_in_place(path, "state: draft", "state: ready")
    again = index.load(cache, directory, parser, version="v")["T-AAAAAAAA-t.md"]
    assert tasks._from_record("T-AAAAAAAA-t.md", again).state == "ready"
    assert len(parser.calls) == 2
    # another version of the records: everything is parsed again
    index.load(cache, directory, parser, version="w")
    assert len(parser.calls) == 3


def test_entries_stamped_at_or_after_the_scan_are_never_trusted(tmp_path: Path) -> None:
    """A file stamped in the current clock tick may change again within it unnoticed."""
    directory, cache = tmp_path / "tasks", tmp_path / "cache" / "tasks.json"
    directory.mkdir()
    path = directory / "T-AAAAAAAA-t.md"
    path.write_text(TASK)
    future = time.time_ns() + 3600 * 10**9
    os.utime(path, ns=(future, future))
    parser = Counting()
    for _ in range(3):
        assert index.load(cache, directory, parser, version="v")["T-AAAAAAAA-t.md"]["t"][0]
    assert len(parser.calls) == 3
    assert json.loads(cache.read_text())["entries"] == {}


def test_only_matching_files_are_indexed(tmp_path: Path) -> None:
    directory, cache = tmp_path / "tasks", tmp_path / "cache" / "tasks.json"
    directory.mkdir()
    (directory / "T-AAAAAAAA-t.md").write_text(TASK)
    (directory / ".T-AAAAAAAA-t.md.123.tmp").write_text("half written")
    (directory / ".hidden.md").write_text("x")
    (directory / "notes.txt").write_text("x")
    (directory / "sub.md").mkdir()
    records = index.load(cache, directory, Counting(), version="v")
    assert sorted(records) == ["T-AAAAAAAA-t.md", "sub.md"]
    assert records["sub.md"] == {"error": ".lanes/tasks/sub.md: is not a regular file"}
    assert index.load(cache, tmp_path / "missing", Counting(), version="v") == {}


def test_an_unwritable_cache_is_only_slower(tmp_path: Path) -> None:
    directory = tmp_path / "tasks"
    directory.mkdir()
    (directory / "T-AAAAAAAA-t.md").write_text(TASK)
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the cache directory should be")
    parser = Counting()
    for _ in range(2):
        records = index.load(blocker / "tasks.json", directory, parser, version="v")
        assert records["T-AAAAAAAA-t.md"]["t"][0] == "T-AAAAAAAA"
    assert len(parser.calls) == 2
    assert blocker.read_text().startswith("a file")


# ---------------------------------------------------------------------------
# The directory snapshot on top of the entries


def snapshot_file(repo: Path) -> Path:
    return repo / ".git" / "lanectl" / "cache" / "tasks-snapshot.json"


def test_snapshot_is_used_when_nothing_changed_and_dropped_when_anything_did(
    cli: Cli, lane_repo: Path
) -> None:
    a = str(new_task(cli, "Alpha")["id"])
    settle(task_file(lane_repo, a))
    assert titles(cli) == {a: "Alpha"}
    snap = snapshot_file(lane_repo)
    assert snap.is_file()
    data = json.loads(snap.read_text())
    assert [row[1] for row in data["rows"]] == [a]
    # same size, same inode, edited in place: the stamps tell
    rewrite_in_place(task_file(lane_repo, a), "title: Alpha", "title: Omega")
    assert titles(cli) == {a: "Omega"}
    # a damaged or deleted snapshot is only slower
    snap.write_text('{"version": "tasks-3", "digest": "x", "rows": [[1]]}')
    assert titles(cli) == {a: "Omega"}
    settle(task_file(lane_repo, a))
    titles(cli)
    data = json.loads(snap.read_text())
    data["rows"] = [["T-ZZZZZZZZ-x.md", "T-ZZZZZZZZ"]]  # wrong shape, right digest
    snap.write_text(json.dumps(data))
    assert titles(cli) == {a: "Omega"}
    snap.unlink()
    assert titles(cli) == {a: "Omega"}
