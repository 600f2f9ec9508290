"""The task store through the command line, on real git repositories."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import Cli, git
from lanectl import ids
from lanectl.taskops import append_log

GOOD_BODY = """
## Goal
Fetches survive a flaky network.

## Acceptance
- [ ] a transient error is retried three times

## Log
"""


def state_dir(repo: Path) -> Path:
    return repo / ".git" / "lanectl" / "state"


def tasks_dir(repo: Path) -> Path:
    return state_dir(repo) / ".lanes" / "tasks"


def new_task(cli: Cli, title: str, *extra: str) -> dict[str, object]:
    result = cli("--json", "task", "new", title, *extra, ok=True)
    return json.loads(result.out)


def task_file(repo: Path, task_id: object) -> Path:
    (path,) = tasks_dir(repo).glob(f"{task_id}-*.md")
    return path


def write_task(
    repo: Path,
    task_id: str,
    title: str = "Hand written",
    *,
    state: str = "draft",
    depends: tuple[str, ...] = (),
    extra: str = "",
    body: str = GOOD_BODY,
    slug: str = "hand",
    commit: bool = True,
) -> Path:
    """A task file written by hand (as a person or another clone would) and committed."""
    path = tasks_dir(repo) / f"{task_id}-{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    deps = ", ".join(depends)
    path.write_text(
        f"---\nid: {task_id}\ntitle: {title}\nstate: {state}\nrisk: medium\n"
        f"depends_on: [{deps}]\ncreated: 2026-01-01T00:00:00Z\n{extra}---\n{body}",
        encoding="utf-8",
    )
    if commit:
        commit_by_hand(repo, f"hand-write {task_id}")
    return path


def commit_by_hand(repo: Path, message: str) -> None:
    git(state_dir(repo), "add", "-A", ".lanes")
    git(state_dir(repo), "commit", "-q", "-m", message)


def listed(cli: Cli, *args: str, code: int = 0) -> list[str]:
    result = cli("--json", "task", "list", *args)
    assert result.code == code, result.err
    return [t["id"] for t in json.loads(result.out)]


def state_head(repo: Path) -> str:
    return git(repo, "rev-parse", "lanectl/state")


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def events(repo: Path) -> list[dict[str, object]]:
    out = []
    for path in sorted((state_dir(repo) / ".lanes" / "log").glob("*/*.jsonl")):
        out += [json.loads(line) for line in path.read_text().splitlines()]
    return out


@pytest.fixture
def body_file(tmp_path: Path) -> Path:
    path = tmp_path / "body.md"
    path.write_text(GOOD_BODY)
    return path


# ---------------------------------------------------------------------------
# Creating, listing, showing


def test_new_list_show(cli: Cli, lane_repo: Path) -> None:
    task = new_task(cli, "Retry transient fetch errors", "--risk", "low")
    assert str(task["id"]).startswith("T-")
    assert len(str(task["id"])) == 10
    listed_ids = json.loads(cli("task", "list", "--json", ok=True).out)
    assert [t["id"] for t in listed_ids] == [task["id"]]
    shown = cli("task", "show", str(task["id"])[2:6], ok=True)
    assert "Retry transient fetch errors" in shown.out
    # committed on the state branch by lanectl, with trailers; the user's tree untouched
    log = git(lane_repo, "log", "-1", "--format=%an%n%B", "lanectl/state")
    assert log.startswith("lanectl\n")
    assert f"Lane-Task: {task['id']}" in log
    assert "Lane-Actor: alice@example.com" in log
    assert git(lane_repo, "status", "--porcelain") == ""


def test_new_task_file_shape(cli: Cli, lane_repo: Path) -> None:
    task = new_task(
        cli, "Retry: transient #fetch errors", "--depends", "", "--paths", "src/fetch/**,docs/x.md"
    )
    path = task_file(lane_repo, task["id"])
    assert path.name == f"{task['id']}-retry-transient-fetch-errors.md"
    text = path.read_text()
    front = text.split("---\n")[1]
    keys = [line.split(":")[0] for line in front.splitlines()]
    assert keys == [
        "id", "title", "state", "risk", "depends_on", "paths", "adrs", "created", "state_since"
    ]  # fmt: skip
    assert task["title"] == "Retry: transient #fetch errors"  # quoted, not cut at '#'
    assert task["paths"] == ["src/fetch/**", "docs/x.md"]
    assert task["state"] == "draft"
    assert "## Goal" in text
    assert "## Acceptance" in text
    assert "## Log" in text


def test_ids_are_random_and_distinct(cli: Cli) -> None:
    first = str(new_task(cli, "one")["id"])
    second = str(new_task(cli, "two")["id"])
    assert ids.is_task_id(first)
    assert ids.is_task_id(second)
    assert first != second


def test_list_filters_by_state(cli: Cli, lane_repo: Path) -> None:
    write_task(lane_repo, "T-AAAAAAAA", state="draft", slug="a")
    write_task(lane_repo, "T-BBBBBBBB", state="ready", slug="b")
    assert listed(cli, "--state", "ready") == ["T-BBBBBBBB"]
    assert sorted(listed(cli)) == ["T-AAAAAAAA", "T-BBBBBBBB"]
    bad = cli("task", "list", "--state", "nonsense")
    assert bad.code == 1
    assert "--state must be one of" in one_line(bad.err)


def test_list_plain_output_and_empty_store(cli: Cli, lane_repo: Path) -> None:
    assert cli("task", "list", ok=True).out.strip() == "No tasks."
    write_task(lane_repo, "T-AAAAAAAA", "Plain listing", depends=("T-BBBBBBBB",), state="ready")
    write_task(lane_repo, "T-BBBBBBBB", "Base", slug="b")
    out = cli("task", "list", ok=True).out
    assert re.search(r"T-AAAAAAAA\s+ready\s+medium\s+Plain listing\s+\(after T-BBBBBBBB\)", out)
    assert cli("task", "list", "--ready", ok=True).out.strip() == "No matching tasks."


def test_show_json_has_text_and_readiness(cli: Cli, lane_repo: Path) -> None:
    write_task(lane_repo, "T-AAAAAAAA", "Shown", state="ready")
    shown = json.loads(cli("--json", "task", "show", "aaaa", ok=True).out)
    assert shown["id"] == "T-AAAAAAAA"
    assert shown["ready"] is True
    assert shown["text"].startswith("---\nid: T-AAAAAAAA\n")


# ---------------------------------------------------------------------------
# Prefixes


def test_prefix_resolution_any_case_and_t_prefix(cli: Cli, lane_repo: Path) -> None:
    write_task(lane_repo, "T-7K2M9Q4D", "Retry fetch", slug="retry")
    write_task(lane_repo, "T-3F8A1C0B", "Other", slug="other")
    for query in ("T-7K2M9Q4D", "t-7k2m9q4d", "7K2M", "7k2m", "t-7k", "T-7", "7"):
        out = cli("--json", "task", "show", query, ok=True).out
        assert json.loads(out)["id"] == "T-7K2M9Q4D", query
    # Crockford: I and L read as 1, O as 0
    for query in ("3f8a", "3F8AIC", "3f8alco", "t-3F8A1C0b"):
        out = cli("--json", "task", "show", query, ok=True).out
        assert json.loads(out)["id"] == "T-3F8A1C0B", query
    # every command resolves prefixes the same way
    cli("task", "edit", "7k2m", "--risk", "low", ok=True)
    cli("task", "note", "t-7k2", "prefix works", ok=True)
    assert "prefix works" in task_file(lane_repo, "T-7K2M9Q4D").read_text()


def test_ambiguous_prefix_lists_candidates(cli: Cli, lane_repo: Path) -> None:
    write_task(lane_repo, "T-7K2M0000", "Retry fetch", slug="a")
    write_task(lane_repo, "T-7K2N0000", "Cache fetch", slug="b")
    write_task(lane_repo, "T-9ZZZZZZZ", "Elsewhere", slug="c")
    for argv in (
        ("task", "show", "7k2"),
        ("task", "edit", "7K", "--risk", "low"),
        ("task", "note", "t-7", "x"),
        ("task", "new", "Depends on something", "--depends", "7k2"),
    ):
        before = state_head(lane_repo)
        result = cli(*argv)
        assert result.code == 1, argv
        line = one_line(result.err)
        assert "ambiguous" in line
        assert "T-7K2M0000 (Retry fetch)" in line
        assert "T-7K2N0000 (Cache fetch)" in line
        assert "T-9ZZZZZZZ" not in line
        assert state_head(lane_repo) == before  # nothing committed
    assert json.loads(cli("--json", "task", "show", "7k2m", ok=True).out)["id"] == "T-7K2M0000"


def test_created_tasks_with_a_shared_first_char_are_ambiguous(cli: Cli) -> None:
    seen: dict[str, str] = {}
    while True:
        tid = str(new_task(cli, f"task {len(seen)}")["id"])
        if tid[2] in seen:
            break
        seen[tid[2]] = tid
    result = cli("task", "show", tid[2].lower())
    assert result.code == 1
    line = one_line(result.err)
    assert seen[tid[2]] in line
    assert tid in line


def test_unknown_and_invalid_ids(cli: Cli, lane_repo: Path) -> None:
    write_task(lane_repo, "T-AAAAAAAA")
    missing = cli("task", "show", "ZZZ")
    assert missing.code == 1
    assert "no task matches 'ZZZ'" in one_line(missing.err)
    for query in ("T-", "", "T-AAAAAAAAA", "AU", "../../etc", "T-../x", "a/b"):
        result = cli("task", "show", query)
        assert result.code == 1, query
        assert "is not a task id" in one_line(result.err)


# ---------------------------------------------------------------------------
# Dependencies


def test_depends_resolves_prefixes_and_rejects_unknown(cli: Cli, lane_repo: Path) -> None:
    base = new_task(cli, "Base")
    dep = new_task(cli, "Dependent", "--depends", str(base["id"])[2:6].lower())
    assert dep["depends_on"] == [base["id"]]
    files_before = sorted(p.name for p in tasks_dir(lane_repo).iterdir())
    head = state_head(lane_repo)
    result = cli("task", "new", "Bad", "--depends", f"{base['id']},T-ZZZZZZZZ")
    assert result.code == 1
    assert "--depends: no task matches 'T-ZZZZZZZZ'" in one_line(result.err)
    assert sorted(p.name for p in tasks_dir(lane_repo).iterdir()) == files_before
    assert state_head(lane_repo) == head
    edit = cli("task", "edit", str(dep["id"]), "--depends", "T-ZZZZZZZZ")
    assert edit.code == 1
    assert "no task matches 'T-ZZZZZZZZ'" in one_line(edit.err)
    assert state_head(lane_repo) == head


def test_edit_depends_rejects_self_and_cycles(cli: Cli, lane_repo: Path) -> None:
    a = str(new_task(cli, "A")["id"])
    b = str(new_task(cli, "B", "--depends", a)["id"])
    c = str(new_task(cli, "C", "--depends", b)["id"])
    text_a = task_file(lane_repo, a).read_bytes()
    head = state_head(lane_repo)

    itself = cli("task", "edit", a, "--depends", a)
    assert itself.code == 1
    assert f"{a} cannot depend on itself" in one_line(itself.err)

    cycle = cli("task", "edit", a, "--depends", c)
    assert cycle.code == 1
    assert f"dependency cycle: {a} → {c} → {b} → {a}" in one_line(cycle.err)
    assert task_file(lane_repo, a).read_bytes() == text_a
    assert state_head(lane_repo) == head

    # a harmless edit of the same field still works, and --no-depends clears
    cli("task", "edit", c, "--depends", a, ok=True)
    assert json.loads(cli("--json", "task", "show", c, ok=True).out)["depends_on"] == [a]
    cli("task", "edit", c, "--no-depends", ok=True)
    assert json.loads(cli("--json", "task", "show", c, ok=True).out)["depends_on"] == []


def test_new_depends_on_a_hand_edited_cycle_is_rejected(cli: Cli, lane_repo: Path) -> None:
    write_task(lane_repo, "T-AAAAAAAA", depends=("T-BBBBBBBB",), slug="a", commit=False)
    write_task(lane_repo, "T-BBBBBBBB", depends=("T-AAAAAAAA",), slug="b")
    write_task(lane_repo, "T-CCCCCCCC", depends=("T-AAAAAAAA",), slug="c")
    head = state_head(lane_repo)
    result = cli("task", "new", "Downstream", "--depends", "T-CCCCCCCC")
    assert result.code == 1
    line = one_line(result.err)
    assert "dependency cycle:" in line
    assert "T-AAAAAAAA → T-BBBBBBBB → T-AAAAAAAA" in line
    assert state_head(lane_repo) == head
    # the way out: break the cycle by hand-free editing
    cli("task", "edit", "T-BBBBBBBB", "--no-depends", ok=True)
    cli("task", "new", "Downstream", "--depends", "T-CCCCCCCC", ok=True)


def test_ready_filter_means_ready_and_every_dependency_merged(cli: Cli, lane_repo: Path) -> None:
    tasks = {
        "T-M0000000": ("merged", ()),
        "T-C0000000": ("cancelled", ()),
        "T-R0000000": ("ready", ()),  # no dependencies: ready
        "T-R1000000": ("ready", ("T-M0000000",)),  # dependency merged: ready
        "T-R2000000": ("ready", ("T-M0000000", "T-R0000000")),  # one not merged
        "T-R3000000": ("ready", ("T-C0000000",)),  # a cancelled dependency is not merged
        "T-R4000000": ("ready", ("T-ZZZZZZZZ",)),  # an unknown dependency is not merged
        "T-D0000000": ("draft", ("T-M0000000",)),  # merged deps but not ready itself
        "T-B0000000": ("building", ()),
    }
    for tid, (state, deps) in tasks.items():
        write_task(lane_repo, tid, state=state, depends=deps, slug=tid[2:4], commit=False)
    commit_by_hand(lane_repo, "tasks")
    # the unknown dependency is reported (exit 1) but does not hide the listing
    assert sorted(listed(cli, "--ready", code=1)) == ["T-R0000000", "T-R1000000"]
    ready = ["T-R0000000", "T-R1000000"]
    assert sorted(listed(cli, "--state", "ready", "--ready", code=1)) == ready
    assert sorted(listed(cli, "--state", "ready", code=1)) == [
        "T-R0000000", "T-R1000000", "T-R2000000", "T-R3000000", "T-R4000000"
    ]  # fmt: skip
    # merging the missing dependency makes it ready
    path = tasks_dir(lane_repo) / "T-R0000000-R0.md"
    path.write_text(path.read_text().replace("state: ready", "state: merged"))
    assert sorted(listed(cli, "--ready", code=1)) == ["T-R1000000", "T-R2000000"]


# ---------------------------------------------------------------------------
# Transitions


def test_ready_needs_goal_and_acceptance(cli: Cli, lane_repo: Path, body_file: Path) -> None:
    empty = new_task(cli, "From the template")
    result = cli("task", "ready", str(empty["id"]))
    assert result.code == 1
    line = one_line(result.err)
    assert f".lanes/tasks/{task_file(lane_repo, empty['id']).name}" in line
    assert "Goal and Acceptance sections are empty" in line

    task = new_task(cli, "Specified", "--body-file", str(body_file))
    out = cli("task", "ready", str(task["id"])[2:7], ok=True).out
    assert "draft → ready" in out
    again = cli("task", "ready", str(task["id"]))
    assert again.code == 1
    assert "already ready" in one_line(again.err)
    assert listed(cli, "--ready") == [task["id"]]


def test_ready_refuses_unknown_dependency_and_bad_states(cli: Cli, lane_repo: Path) -> None:
    write_task(lane_repo, "T-AAAAAAAA", depends=("T-ZZZZZZZZ",), slug="a", commit=False)
    write_task(lane_repo, "T-BBBBBBBB", state="merged", slug="b", commit=False)
    write_task(lane_repo, "T-CCCCCCCC", state="blocked", slug="c")
    unknown = cli("task", "ready", "T-AAAAAAAA")
    assert unknown.code == 1
    assert "unknown task T-ZZZZZZZZ" in one_line(unknown.err)
    merged = cli("task", "ready", "T-BBBBBBBB")
    assert merged.code == 1
    assert "is merged" in one_line(merged.err)
    cli("task", "ready", "T-CCCCCCCC", ok=True)  # blocked → ready is allowed


def test_cancel(cli: Cli, lane_repo: Path) -> None:
    task = str(new_task(cli, "Not needed")["id"])
    cli("task", "cancel", task, "--reason", "duplicate of another task", ok=True)
    shown = json.loads(cli("--json", "task", "show", task, ok=True).out)
    assert shown["state"] == "cancelled"
    for verb in ("cancel", "ready"):
        result = cli("task", verb, task)
        assert result.code == 1
        assert "cancelled" in one_line(result.err)
    write_task(lane_repo, "T-MMMMMMMM", state="merged", slug="m")
    merged = cli("task", "cancel", "T-MMMMMMMM")
    assert merged.code == 1
    assert "merged and cannot be cancelled" in one_line(merged.err)


def test_every_state_changing_command_records_an_event(
    cli: Cli, lane_repo: Path, body_file: Path
) -> None:
    tid = str(new_task(cli, "Evented", "--body-file", str(body_file))["id"])
    cli("task", "edit", tid, "--title", "Evented twice", ok=True)
    cli("task", "note", tid, "a note", ok=True)
    cli("task", "ready", tid, ok=True)
    cli("task", "cancel", tid, "--reason", "done elsewhere", ok=True)
    mine = [e for e in events(lane_repo) if e.get("task") == tid]
    assert [e["kind"] for e in mine] == [
        "task.created", "task.edited", "task.note", "task.state", "task.state"
    ]  # fmt: skip
    assert mine[3]["data"] == {"from": "draft", "to": "ready"}
    assert mine[4]["data"] == {"from": "ready", "to": "cancelled"}
    assert mine[4]["reason"] == "done elsewhere"
    assert mine[1]["data"] == {"fields": ["title"]}
    assert all(e["actor"] == "alice@example.com" for e in mine)
    # reads record nothing
    count = len(events(lane_repo))
    cli("task", "list", ok=True)
    cli("task", "show", tid, ok=True)
    assert len(events(lane_repo)) == count


# ---------------------------------------------------------------------------
# Editing keeps what people wrote


HAND_WRITTEN = """\
---
# Owned by the platform team; ask before changing the scope.
id: T-7K2M9Q4D
title: Retry transient fetch errors   # keep it short
x-owner: bob
state: draft
risk: medium            # declared; may be raised
depends_on:
  - T-3F8A1C2B          # the retry policy
paths: ["src/fetch/**"]
priority: high
created: 2026-11-24T10:00:00Z
---
## Goal
Fetches survive a flaky network.
"""


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    a, b = before.splitlines(), after.splitlines()
    assert len(a) == len(b), (before, after)
    return [(x, y) for x, y in zip(a, b, strict=True) if x != y]


def test_edit_changes_only_the_touched_line(cli: Cli, lane_repo: Path) -> None:
    write_task(lane_repo, "T-3F8A1C2B", slug="policy", commit=False)
    path = tasks_dir(lane_repo) / "T-7K2M9Q4D-retry.md"
    path.write_text(HAND_WRITTEN)
    commit_by_hand(lane_repo, "hand-written task")

    cli("task", "edit", "7K2M", "--risk", "high", ok=True)
    after = path.read_text()
    assert changed_lines(HAND_WRITTEN, after) == [
        (
            "risk: medium            # declared; may be raised",
            "risk: high            # declared; may be raised",
        )
    ]

    before = after
    cli("task", "edit", "7K2M", "--title", "Retry: fetch errors", ok=True)
    after = path.read_text()
    assert changed_lines(before, after) == [
        (
            "title: Retry transient fetch errors   # keep it short",
            "title: 'Retry: fetch errors'   # keep it short",
        )
    ]
    assert "x-owner: bob\n" in after
    assert "priority: high\n" in after

    before = after
    cli("task", "edit", "7K2M", "--no-depends", ok=True)
    after = path.read_text()
    expected = before.replace(
        "depends_on:\n  - T-3F8A1C2B          # the retry policy\n", "depends_on: []\n"
    )
    assert after == expected

    # a state change touches only state and state_since (appended, as it was absent)
    before = after
    cli("task", "cancel", "7K2M", ok=True)
    after = path.read_text()
    front_before = before.split("---\n")[1].replace("state: draft", "state: cancelled")
    front_after = after.split("---\n")[1]
    assert front_after.startswith(front_before)
    assert re.fullmatch(r"state_since: \S+\n", front_after[len(front_before) :])
    assert after.endswith("---\n## Goal\nFetches survive a flaky network.\n")


def test_edit_keeps_crlf_and_closing_fence(cli: Cli, lane_repo: Path) -> None:
    path = tasks_dir(lane_repo) / "T-AAAAAAAA-crlf.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    text = (
        "---\r\nid: T-AAAAAAAA\r\ntitle: Windows  # yes\r\nstate: draft\r\nrisk: low\r\n"
        "...\r\n## Goal\r\nx\r\n"
    )
    path.write_bytes(text.encode())
    cli("task", "edit", "AAAA", "--risk", "high", ok=True)
    assert path.read_bytes() == text.replace("risk: low", "risk: high").encode()


def test_edit_with_nothing_to_change(cli: Cli) -> None:
    tid = str(new_task(cli, "Unchanged")["id"])
    result = cli("task", "edit", tid)
    assert result.code == 1
    assert "nothing to change" in one_line(result.err)


def test_edit_rejects_bad_values(cli: Cli) -> None:
    tid = str(new_task(cli, "Validated")["id"])
    for argv, message in (
        (("--risk", "extreme"), "risk must be one of low, medium, high"),
        (("--title", "   "), "a task needs a title"),
        (("--adrs", "four"), "'four' is not an ADR number"),
    ):
        result = cli("task", "edit", tid, *argv)
        assert result.code == 1
        assert message in one_line(result.err)
    cli("task", "edit", tid, "--adrs", "4,12", ok=True)
    assert json.loads(cli("--json", "task", "show", tid, ok=True).out)["adrs"] == ["0004", "0012"]


# ---------------------------------------------------------------------------
# Notes go at the end of the Log section


def test_note_goes_into_the_log_section_wherever_it_is(cli: Cli, lane_repo: Path) -> None:
    body = (
        "\n## Goal\nx\n\n## Log\n- 2026-01-01T00:00Z bob: first\n\n"
        "## Acceptance\n- [ ] y\n### Sub\nz\n"
    )
    path = write_task(lane_repo, "T-AAAAAAAA", body=body)
    cli("task", "note", "AAAA", "second   note\nwith a newline", ok=True)
    text = path.read_text()
    log = text.split("## Log\n")[1].split("## Acceptance")[0]
    lines = log.splitlines()
    assert lines[0] == "- 2026-01-01T00:00Z bob: first"
    assert re.fullmatch(r"- \d{4}-\d\d-\d\dT\d\d:\d\dZ alice@example\.com: second note with a newline",
                        lines[1])  # fmt: skip
    assert text.endswith("## Acceptance\n- [ ] y\n### Sub\nz\n")
    assert text.count("## Log") == 1


def test_note_adds_a_log_section_when_missing(cli: Cli, lane_repo: Path) -> None:
    path = write_task(lane_repo, "T-AAAAAAAA", body="\n## Goal\nx")
    cli("task", "note", "AAAA", "hello", ok=True)
    text = path.read_text()
    assert re.search(r"## Goal\nx\n\n## Log\n- \S+ alice@example\.com: hello\n$", text)
    empty = cli("task", "note", "AAAA", "   ")
    assert empty.code == 1
    assert "the note is empty" in one_line(empty.err)


def test_append_log_cases() -> None:
    entry = "- e\n"
    assert append_log("## Log\n", entry) == "## Log\n- e\n"
    assert append_log("## Log\n- a\n\n\n", entry) == "## Log\n- a\n- e\n\n\n"
    assert append_log("## Log\n- a\n## Next\n", entry) == "## Log\n- a\n- e\n## Next\n"
    assert append_log("## Log\n- a\n# Top\n", entry) == "## Log\n- a\n- e\n# Top\n"
    assert append_log("## Log\n- a\n### Deeper\nb\n", entry) == "## Log\n- a\n### Deeper\nb\n- e\n"
    assert append_log("## Logging\n", entry) == "## Logging\n\n## Log\n- e\n"
    # a heading inside a code fence is not a section
    fenced = "## Log\n```\n## Not\n```\n## Next\n"
    assert append_log(fenced, entry) == "## Log\n```\n## Not\n```\n- e\n## Next\n"
    assert append_log("## Log\r\n- a\r\n", entry) == "## Log\r\n- a\r\n- e\r\n"
    assert append_log("", entry) == "## Log\n- e\n"


# ---------------------------------------------------------------------------
# Commits: lanectl's own, never the user's work


def test_commits_leave_the_users_work_and_branch_alone(
    cli: Cli, lane_repo: Path, body_file: Path
) -> None:
    repo = lane_repo
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "staged.txt").write_text("staged\n")
    git(repo, "add", "staged.txt")
    (repo / "README.md").write_text("# shop\nunstaged edit\n")
    (repo / "untracked.txt").write_text("mine\n")
    (repo / ".lanes" / "local-note.txt").write_text("also mine\n")

    def snapshot() -> tuple[str, ...]:
        return (
            git(repo, "status", "--porcelain", "--untracked-files=all"),
            git(repo, "diff", "--cached"),
            git(repo, "diff"),
            git(repo, "rev-parse", "HEAD", "main", "feature"),
            git(repo, "symbolic-ref", "HEAD"),
            git(repo, "stash", "list"),
        )

    before = snapshot()
    state_before = state_head(repo)
    tid = str(new_task(cli, "On a feature branch", "--body-file", str(body_file))["id"])
    cli("task", "edit", tid, "--risk", "high", ok=True)
    cli("task", "note", tid, "noted", ok=True)
    cli("task", "ready", tid, ok=True)
    cli("task", "cancel", tid, ok=True)
    assert snapshot() == before

    commits = git(repo, "rev-list", f"{state_before}..lanectl/state").splitlines()
    assert len(commits) == 5
    for sha in commits:
        meta = git(repo, "show", "-s", "--format=%an <%ae>%n%cn <%ce>%n%B", sha)
        assert meta.startswith(
            "lanectl <lanectl@lanectl.invalid>\nlanectl <lanectl@lanectl.invalid>"
        )
        assert f"Lane-Task: {tid}" in meta
        assert "Lane-Actor: alice@example.com" in meta
        files = git(repo, "show", "--format=", "--name-only", sha).splitlines()
        assert files
        assert all(f.startswith((".lanes/tasks/", ".lanes/log/")) for f in files)
    assert git(state_dir(repo), "status", "--porcelain") == ""


def test_commit_includes_only_what_the_command_touched(cli: Cli, lane_repo: Path) -> None:
    # Someone left a hand edit uncommitted in the state worktree: lanectl must not sweep it in.
    write_task(lane_repo, "T-AAAAAAAA", commit=False)
    tid = str(new_task(cli, "Separate")["id"])
    files = git(lane_repo, "show", "--format=", "--name-only", "lanectl/state").splitlines()
    assert not any("T-AAAAAAAA" in f for f in files)
    assert any(tid in f for f in files)
    assert "T-AAAAAAAA" in git(state_dir(lane_repo), "status", "--porcelain")


def test_no_commit_flag_leaves_the_state_dirty(cli: Cli, lane_repo: Path) -> None:
    head = state_head(lane_repo)
    out = cli("--no-commit", "--json", "task", "new", "Uncommitted", ok=True).out
    tid = json.loads(out)["id"]
    assert state_head(lane_repo) == head
    dirty = git(state_dir(lane_repo), "status", "--porcelain", "--untracked-files=all")
    assert tid in dirty
    assert ".lanes/log/" in dirty
    cli("--no-commit", "task", "note", tid, "still uncommitted", ok=True)
    assert state_head(lane_repo) == head
    assert listed(cli) == [tid]  # the store reads files, committed or not
    # the next committing command that touches the file commits it
    cli("task", "edit", tid, "--risk", "low", ok=True)
    assert state_head(lane_repo) != head
    assert git(state_dir(lane_repo), "status", "--porcelain") == ""


def test_config_switch_turns_committing_off(cli: Cli, lane_repo: Path) -> None:
    config = lane_repo / ".lanes" / "config.yaml"
    text = config.read_text()
    assert "  commit: true\n" in text
    config.write_text(text.replace("  commit: true\n", "  commit: false\n"))
    head = state_head(lane_repo)
    tid = str(new_task(cli, "By hand")["id"])
    cli("task", "edit", tid, "--risk", "high", ok=True)
    assert state_head(lane_repo) == head
    assert tid in git(state_dir(lane_repo), "status", "--porcelain", "--untracked-files=all")


def test_state_changes_refuse_a_detached_state_worktree(cli: Cli, lane_repo: Path) -> None:
    cli("task", "new", "first", ok=True)
    state = lane_repo / ".git/lanectl/state"
    git(state, "checkout", "-q", "--detach")
    result = cli("task", "new", "second")
    assert result.code == 1
    assert "is detached, not on lanectl/state" in result.err
    assert "checkout lanectl/state" in result.err
    git(state, "checkout", "-q", "lanectl/state")
    cli("task", "new", "second", ok=True)
