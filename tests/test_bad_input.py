"""Bad input: one line on stderr naming the file (and line), exit 1, no traceback,
and every other task still usable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from conftest import Cli, git, run_lanectl
from test_tasks import commit_by_hand, one_line, state_dir, tasks_dir, write_task

GOOD = "T-600D0000"


@pytest.fixture
def good(lane_repo: Path) -> Path:
    return write_task(lane_repo, GOOD, "The good task", slug="good")


def bad_file(repo: Path, name: str, content: bytes | str) -> Path:
    path = tasks_dir(repo) / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    commit_by_hand(repo, f"bad {name}")
    return path


def front(body: str) -> str:
    return f"---\n{body}---\n## Goal\nx\n"


def assert_store_still_usable(cli: Cli, expected_line: str, *, listed_ids: set[str]) -> None:
    """`task list` lists the good tasks and names the problem; the good task works."""
    result = cli("--json", "task", "list")
    assert result.code == 1, result.err
    assert expected_line in one_line(result.err)
    assert one_line(result.err).startswith("lanectl: .lanes/tasks/")
    assert {t["id"] for t in json.loads(result.out)} == listed_ids
    assert json.loads(cli("--json", "task", "show", "600d", ok=True).out)["id"] == GOOD
    cli("task", "note", GOOD, "still writable", ok=True)
    cli("task", "edit", GOOD, "--risk", "low", ok=True)


CASES = {
    "malformed-yaml": (
        front("id: T-BAD00000\ntitle: [unclosed\nstate: draft\nrisk: low\n"),
        "T-BAD00000-x.md:4: malformed YAML: ",
    ),
    "wrong-type-title": (
        front("id: T-BAD00000\ntitle: 42\nstate: draft\nrisk: low\n"),
        "T-BAD00000-x.md:3: title: must be a non-empty string (got int)",
    ),
    "wrong-type-depends": (
        front("id: T-BAD00000\ntitle: t\nstate: draft\nrisk: low\ndepends_on: T-600D0000\n"),
        "T-BAD00000-x.md:6: depends_on: must be a list (got a string)",
    ),
    "wrong-type-state": (
        front("id: T-BAD00000\ntitle: t\nstate: {a: 1}\nrisk: low\n"),
        "T-BAD00000-x.md:4: state: must be a non-empty string (got a mapping)",
    ),
    "bad-dependency-entry": (
        front("id: T-BAD00000\ntitle: t\nstate: draft\nrisk: low\ndepends_on: [../../etc]\n"),
        "T-BAD00000-x.md:6: depends_on › 0: '../../etc' is not a task id",
    ),
    "dependency-with-a-newline": (
        front('id: T-BAD00000\ntitle: t\nstate: draft\nrisk: low\ndepends_on: ["T-600D0000\\n"]\n'),
        "T-BAD00000-x.md:6: depends_on › 0: 'T-600D0000\\n' is not a task id",
    ),
    "unknown-state": (
        front('id: T-BAD00000\ntitle: t\nstate: "done\\nand more"\nrisk: low\n'),
        "T-BAD00000-x.md:4: state: 'done\\nand more' is not one of draft,",
    ),
    "missing-key": (
        front("id: T-BAD00000\ntitle: t\nstate: draft\n"),
        "T-BAD00000-x.md: risk: must be a non-empty string (missing)",
    ),
    "bad-id": (
        front("id: T-BAD0000U\ntitle: t\nstate: draft\nrisk: low\n"),
        "T-BAD00000-x.md:2: id: 'T-BAD0000U' is not a task id like T-7K2M9Q4D",
    ),
    "id-not-file-name": (
        front("id: T-0THER000\ntitle: t\nstate: draft\nrisk: low\n"),
        "T-BAD00000-x.md:2: id T-0THER000 does not match the file name",
    ),
    "no-front-matter": (
        "# Just markdown\n\nid: T-BAD00000\n",
        "T-BAD00000-x.md: no front matter (the file must start with a '---' line)",
    ),
    "empty-file": ("", "T-BAD00000-x.md: no front matter"),
    "unclosed-front-matter": (
        "---\nid: T-BAD00000\ntitle: t\n",
        "T-BAD00000-x.md:1: front matter is not closed by a '---' line",
    ),
    "front-matter-not-a-mapping": (
        front("- id\n- title\n"),
        "T-BAD00000-x.md:2: front matter must be a mapping of keys",
    ),
    "invalid-utf8": (
        b"---\nid: T-BAD00000\ntitle: caf\xe9\nstate: draft\nrisk: low\n---\n",
        "T-BAD00000-x.md:3: invalid UTF-8 (byte 0xe9)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_unreadable_task_file(case: str, cli: Cli, lane_repo: Path, good: Path) -> None:
    content, expected = CASES[case]
    bad_file(lane_repo, "T-BAD00000-x.md", content)
    assert_store_still_usable(cli, expected, listed_ids={GOOD})
    # naming the broken task gives the same one line, not "no task matches"
    shown = cli("task", "show", "bad0")
    assert shown.code == 1
    assert expected in one_line(shown.err)
    # changing it is refused the same way, and nothing is committed
    head = git(lane_repo, "rev-parse", "lanectl/state")
    edited = cli("task", "edit", "T-BAD00000", "--risk", "high")
    assert edited.code == 1
    assert expected in one_line(edited.err)
    assert git(lane_repo, "rev-parse", "lanectl/state") == head


def test_unknown_key_is_reported_and_kept(cli: Cli, lane_repo: Path, good: Path) -> None:
    path = write_task(lane_repo, "T-0DD00000", slug="odd", extra="priority: high\nx-owner: bob\n")
    # reported on one line, but the store works: listing succeeds (ADR 0007)
    result = cli("--json", "task", "list")
    assert result.code == 0
    assert one_line(result.err) == (
        "lanectl: .lanes/tasks/T-0DD00000-odd.md:8: unknown key 'priority' "
        "(prefix extensions with x-)"
    )
    assert {t["id"] for t in json.loads(result.out)} == {GOOD, "T-0DD00000"}
    cli("task", "show", GOOD, ok=True)
    typo = write_task(lane_repo, "T-0DD10000", slug="typo", extra="depend_on: [T-600D0000]\n")
    result = cli("task", "list")
    assert "T-0DD10000-typo.md:8: unknown key 'depend_on'; did you mean 'depends_on'?" in result.err
    shown = cli("task", "show", "0dd1")
    assert shown.code == 0
    assert "did you mean 'depends_on'" in one_line(shown.err)
    # `check` is where they count as problems
    checked = cli("check")
    assert checked.code == 1
    assert "T-0DD00000-odd.md:8: unknown key 'priority'" in checked.out + checked.err
    assert "x-owner" not in checked.out + checked.err
    cli("task", "edit", "0DD0", "--risk", "high", ok=True)
    text = path.read_text()
    assert "priority: high\nx-owner: bob\n" in text
    assert "risk: high\n" in text
    assert "depend_on: [T-600D0000]\n" in typo.read_text()


def test_duplicate_ids(cli: Cli, lane_repo: Path, good: Path) -> None:
    write_task(lane_repo, "T-D0PE0000", "First copy", slug="a", commit=False)
    write_task(lane_repo, "T-D0PE0000", "Second copy", slug="b")
    result = cli("--json", "task", "list")
    assert result.code == 1
    line = one_line(result.err)
    assert line == (
        "lanectl: .lanes/tasks/T-D0PE0000-a.md: duplicate task id T-D0PE0000 "
        "(also in .lanes/tasks/T-D0PE0000-b.md)"
    )
    assert sorted(t["title"] for t in json.loads(result.out)) == [
        "First copy", "Second copy", "The good task"
    ]  # fmt: skip
    for argv in (("task", "show", "d0pe"), ("task", "ready", "T-D0PE0000")):
        refused = cli(*argv)
        assert refused.code == 1
        assert "T-D0PE0000-a.md, .lanes/tasks/T-D0PE0000-b.md" in one_line(refused.err)
    assert_store_still_usable(cli, "duplicate task id T-D0PE0000", listed_ids={GOOD, "T-D0PE0000"})


def test_hand_edited_dependency_cycle(cli: Cli, lane_repo: Path, good: Path) -> None:
    write_task(lane_repo, "T-CA000000", state="ready", depends=("T-CB000000",), slug="a")
    write_task(lane_repo, "T-CB000000", state="merged", depends=("T-CA000000",), slug="b")
    write_task(lane_repo, "T-CC000000", depends=("T-CA000000",), slug="c")
    assert_store_still_usable(
        cli,
        "T-CA000000-a.md:6: dependency cycle: T-CA000000 → T-CB000000 → T-CA000000",
        listed_ids={GOOD, "T-CA000000", "T-CB000000", "T-CC000000"},
    )
    # T-CA000000 is ready and its dependency merged, but a cycle is never ready
    ready = cli("--json", "task", "list", "--ready")
    assert "T-CA000000" not in {t["id"] for t in json.loads(ready.out)}
    refused = cli("task", "ready", "T-CC000000")
    assert refused.code == 1
    assert "dependency cycle" in one_line(refused.err)


def test_a_50_mb_file_is_rejected_by_size_without_reading_it(
    cli: Cli, lane_repo: Path, good: Path
) -> None:
    big = tasks_dir(lane_repo) / "T-B16F11E0-big.md"
    with open(big, "wb") as handle:
        handle.write(b"---\nid: T-B16F11E0\n")
        handle.truncate(50 * 1024 * 1024)
    tracemalloc.start()
    try:
        result = cli("--json", "task", "list")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"peak {peak:,} bytes: the file was read"
    assert result.code == 1
    assert "T-B16F11E0-big.md: file is too large (52,428,800 bytes; the limit is 1,000,000)" in (
        one_line(result.err)
    )
    assert {t["id"] for t in json.loads(result.out)} == {GOOD}
    shown = cli("task", "show", "b16f")
    assert shown.code == 1
    assert "file is too large" in one_line(shown.err)
    cli("task", "show", GOOD, ok=True)


def test_a_symlink_in_the_task_store_is_not_followed(
    cli: Cli, lane_repo: Path, good: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("---\nid: T-5Y0L1NK0\ntitle: secret\nstate: draft\nrisk: low\n---\n")
    (tasks_dir(lane_repo) / "T-5Y0L1NK0-link.md").symlink_to(secret)
    assert_store_still_usable(
        cli,
        "T-5Y0L1NK0-link.md: is a symbolic link; only regular files are read",
        listed_ids={GOOD},
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_the_task_store_does_not_hang(lane_repo: Path, good: Path) -> None:
    os.mkfifo(tasks_dir(lane_repo) / "T-F1F00000-pipe.md")
    proc = subprocess.run(
        [sys.executable, "-m", "lanectl", "task", "list"],
        cwd=lane_repo,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "T-F1F00000-pipe.md: is not a regular file" in one_line(proc.stderr)
    assert GOOD in proc.stdout


@pytest.mark.parametrize(
    "argv",
    [
        ("task", "show", "../../etc"),
        ("task", "show", "../../etc/passwd"),
        ("task", "show", "T-../../x"),
        ("task", "edit", "../x", "--risk", "low"),
        ("task", "note", "/etc/passwd", "hi"),
        ("task", "ready", "..\\x"),
        ("task", "cancel", "T-600D0000/../T-600D0000"),
        ("task", "new", "Escape", "--depends", "../../etc"),
    ],
)
def test_path_like_ids_are_refused(
    argv: tuple[str, ...], cli: Cli, lane_repo: Path, good: Path
) -> None:
    head = git(lane_repo, "rev-parse", "lanectl/state")
    result = cli(*argv)
    assert result.code == 1
    assert "is not a task id (expected e.g. T-7K2M9Q4D or 7K2M)" in one_line(result.err)
    assert git(lane_repo, "rev-parse", "lanectl/state") == head
    assert git(state_dir(lane_repo), "status", "--porcelain") == ""


def test_outside_a_git_repository(tmp_path: Path) -> None:
    nowhere = tmp_path / "not-a-repo"
    nowhere.mkdir()
    for argv in (("task", "list"), ("task", "show", "7K2M"), ("task", "new", "x")):
        proc = run_lanectl(nowhere, *argv)
        assert proc.returncode == 1, proc.stderr
        line = one_line(proc.stderr)
        assert line == (
            f"lanectl: {nowhere} is not inside a git repository "
            "(run `git init` first, or pass --repo PATH)"
        )
        assert proc.stdout == ""
    assert list(nowhere.iterdir()) == []


def test_a_repository_without_lanectl(git_repo: Path) -> None:
    proc = run_lanectl(git_repo, "task", "list")
    assert proc.returncode == 1
    assert "lanectl is not initialised in" in one_line(proc.stderr)
    assert "run `lanectl init` first" in proc.stderr


def test_body_file_problems(cli: Cli, tmp_path: Path) -> None:
    missing = cli("task", "new", "x", "--body-file", str(tmp_path / "nope.md"))
    assert missing.code == 1
    assert "nope.md: cannot read: No such file or directory" in one_line(missing.err)
    binary = tmp_path / "body.md"
    binary.write_bytes(b"## Goal\n\xff\n")
    result = cli("task", "new", "x", "--body-file", str(binary))
    assert result.code == 1
    assert "body.md:2: invalid UTF-8 (byte 0xff)" in one_line(result.err)
