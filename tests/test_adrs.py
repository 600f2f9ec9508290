from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from conftest import Cli, git
from lanectl import adrs
from lanectl.workspace import open_workspace

DECISIONS = "docs/decisions"
GOOD = "status: accepted\ndate: 2025-01-31\ndecision-makers: [alice]\nconsulted: []\ninformed: []\n"


def write_adr(repo: Path, name: str, front: str = GOOD, body: str = "\n# A decision\n") -> Path:
    path = repo / DECISIONS / name
    path.write_text(f"---\n{front}---\n{body}", encoding="utf-8")
    return path


def commit_adr(repo: Path, name: str, front: str = GOOD) -> None:
    write_adr(repo, name, front)
    git(repo, "add", f"{DECISIONS}/{name}")
    git(repo, "commit", "-q", "-m", f"Add {name}")


def problems(repo: Path) -> list[str]:
    return adrs.problems(open_workspace(repo))


def new_adr(cli: Cli, title: str) -> dict[str, object]:
    return json.loads(cli("--json", "adr", "new", title, ok=True).out)


def events(repo: Path, kind: str) -> list[dict[str, object]]:
    log = repo / ".git" / "lanectl" / "state" / ".lanes" / "log"
    found = []
    for path in sorted(log.glob("*/*.jsonl")):
        for line in path.read_text().splitlines():
            event = json.loads(line)
            if event["kind"] == kind:
                found.append(event)
    return found


def snapshot(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((repo / DECISIONS).iterdir())}


def refused(cli: Cli, *argv: str) -> str:
    result = cli(*argv)
    assert result.code == 1, result
    assert "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1, result.err
    assert result.err.startswith("lanectl: ")
    return result.err.strip()


# ---------------------------------------------------------------------------
# new, list, show


def test_new_writes_a_madr_record_and_a_ledger_event(cli: Cli, lane_repo: Path) -> None:
    result = cli("adr", "new", "Use PostgreSQL for orders", ok=True)
    path = lane_repo / DECISIONS / "0002-use-postgresql-for-orders.md"
    assert str(path) in result.out
    assert "Next:" in result.out
    text = path.read_text()
    assert text.startswith("---\nstatus: proposed\n")
    assert f"date: {date.today().isoformat()}\n" in text
    assert "decision-makers: [alice@example.com]\n" in text
    assert "\n# Use PostgreSQL for orders\n" in text
    for section in (
        "## Context and Problem Statement",
        "## Considered Options",
        "### Confirmation",
    ):
        assert section in text
    (event,) = events(lane_repo, "adr.created")
    assert event["data"] == {
        "number": "0002",
        "file": f"{DECISIONS}/0002-use-postgresql-for-orders.md",
        "title": "Use PostgreSQL for orders",
    }
    # The ADR is the user's to commit; the ledger event is committed on the state branch.
    assert (
        git(lane_repo, "status", "--porcelain")
        == f"?? {DECISIONS}/0002-use-postgresql-for-orders.md"
    )
    assert git(lane_repo, "log", "-1", "--format=%s", "main") == "Set up lanectl"
    assert git(lane_repo, "log", "-1", "--format=%s", "lanectl/state").startswith("adr new 0002")


def test_list_and_show(cli: Cli, lane_repo: Path) -> None:
    new_adr(cli, "Use PostgreSQL")
    new_adr(cli, "Use SQLite")
    listed = json.loads(cli("adr", "list", "--json", ok=True).out)
    assert [a["number"] for a in listed] == ["0001", "0002", "0003"]
    assert listed[1]["title"] == "Use PostgreSQL"
    plain = cli("adr", "list", ok=True).out.splitlines()
    assert plain[2].startswith("0003  proposed")
    assert plain[2].endswith("Use SQLite")
    for query in ("2", "0002", "0002-use-postgresql.md", f"{DECISIONS}/0002-use-postgresql"):
        shown = cli("adr", "show", query, ok=True)
        assert "# Use PostgreSQL" in shown.out
    as_json = json.loads(cli("adr", "show", "3", "--json", ok=True).out)
    assert as_json["status"] == "proposed"
    assert as_json["file"] == f"{DECISIONS}/0003-use-sqlite.md"
    assert "# Use SQLite" in as_json["text"]


def test_numbers_are_allocated_over_the_base_branch(cli: Cli, lane_repo: Path) -> None:
    git(lane_repo, "checkout", "-q", "-b", "feature")
    git(lane_repo, "checkout", "-q", "main")
    commit_adr(lane_repo, "0002-from-main.md")
    commit_adr(lane_repo, "0005-also-from-main.md")
    git(lane_repo, "checkout", "-q", "feature")
    assert not (lane_repo / DECISIONS / "0005-also-from-main.md").exists()
    assert adrs.next_number(open_workspace(lane_repo)) == "0006"
    assert new_adr(cli, "Feature decision")["number"] == "0006"
    assert problems(lane_repo) == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("adr", "new", "   "), "lanectl: an ADR needs a title"),
        (("adr", "show", "99"), "lanectl: no ADR 0099 in docs/decisions (see `lanectl adr list`)"),
        (("adr", "show", "four"), "lanectl: 'four' is not an ADR number or file name"),
        (("adr", "show", "0009-nope.md"), "lanectl: no ADR 0009-nope.md in docs/decisions"),
    ],
)
def test_bad_arguments(cli: Cli, lane_repo: Path, argv: tuple[str, ...], message: str) -> None:
    assert refused(cli, *argv).startswith(message)
    assert events(lane_repo, "adr.created") == []


def test_a_broken_template_override_writes_nothing(cli: Cli, lane_repo: Path) -> None:
    override = lane_repo / ".lanes" / "templates" / "adr.md"
    override.parent.mkdir(parents=True)
    override.write_text("---\nstatus: maybe\ndate: {date}\n---\n\n# {title}\n")
    message = refused(cli, "adr", "new", "Something")
    assert "the ADR template makes an invalid record" in message
    assert "status: 'maybe' is not one of" in message
    assert "fix .lanes/templates/adr.md" in message
    assert sorted(snapshot(lane_repo)) == ["0001-record-architecture-decisions.md"]


# ---------------------------------------------------------------------------
# supersede


def test_supersede_links_both_ways(cli: Cli, lane_repo: Path) -> None:
    new_adr(cli, "Use PostgreSQL")
    new_adr(cli, "Use SQLite")
    old = lane_repo / DECISIONS / "0002-use-postgresql.md"
    old.write_text(
        old.read_text().replace("informed: []\n", "informed: []\n# by bob\nx-team: db\n")
    )
    result = json.loads(cli("--json", "adr", "supersede", "2", "3", ok=True).out)
    assert result["old"]["status"] == "superseded by 0003"
    assert result["new"]["supersedes"] == ["0002"]
    old_text = old.read_text()
    assert "status: superseded by 0003\n" in old_text
    assert "# by bob\nx-team: db\n" in old_text  # the line editor keeps what it does not own
    ws = open_workspace(lane_repo)
    assert adrs.resolve(ws, "2").superseded_by == "0003"
    assert adrs.resolve(ws, "3").supersedes == ("0002",)
    assert adrs.resolve(ws, "3").status == "proposed"
    assert problems(lane_repo) == []
    (event,) = events(lane_repo, "adr.superseded")
    assert event["data"]["old"] == "0002"
    assert event["data"]["new"] == "0003"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("3", "3", "ADR 0003 cannot supersede itself"),
        ("2", "9", "no ADR 0009 in docs/decisions"),
        ("9", "2", "no ADR 0009 in docs/decisions"),
        ("2", "4", "docs/decisions/0002-a.md:2: ADR 0002 is already superseded by 0003"),
        ("4", "2", "ADR 0002 is itself superseded by 0003 (supersede 0004 with 0003 instead)"),
    ],
)
def test_supersede_refusals(cli: Cli, lane_repo: Path, old: str, new: str, message: str) -> None:
    for title in ("A", "B", "C"):
        new_adr(cli, title)
    cli("adr", "supersede", "2", "3", ok=True)
    before = snapshot(lane_repo)
    assert refused(cli, "adr", "supersede", old, new).startswith(f"lanectl: {message}")
    assert snapshot(lane_repo) == before
    assert len(events(lane_repo, "adr.superseded")) == 1


# ---------------------------------------------------------------------------
# renumber


def test_renumber_rewrites_references_in_adrs_and_tasks(cli: Cli, lane_repo: Path) -> None:
    new_adr(cli, "Use PostgreSQL")
    new_adr(cli, "Use SQLite")
    cli("adr", "supersede", "2", "3", ok=True)
    body = (
        "\n# Caching\n\nSee [the old one](0002-use-postgresql.md), "
        "[context](./0002-use-postgresql.md#context) and docs/decisions/0002-use-postgresql.md.\n"
        "Unrelated: 0002-use-postgresql.mdx and x0002-use-postgresql.md.\n"
    )
    other = write_adr(lane_repo, "0004-caching.md", body=body)
    task = json.loads(cli("--json", "task", "new", "Migrate", "--adrs", "2,1", ok=True).out)

    result = json.loads(cli("--json", "adr", "renumber", "2", "7", ok=True).out)

    assert result["file"] == f"{DECISIONS}/0007-use-postgresql.md"
    assert result["rewritten_adrs"] == ["0003-use-sqlite.md", "0004-caching.md"]
    assert result["rewritten_tasks"] == [task["id"]]
    assert not (lane_repo / DECISIONS / "0002-use-postgresql.md").exists()
    moved = (lane_repo / DECISIONS / "0007-use-postgresql.md").read_text()
    assert "status: superseded by 0003\n" in moved
    ws = open_workspace(lane_repo)
    assert adrs.resolve(ws, "3").supersedes == ("0007",)
    assert other.read_text() == f"---\n{GOOD}---\n" + (
        "\n# Caching\n\nSee [the old one](0007-use-postgresql.md), "
        "[context](./0007-use-postgresql.md#context) and docs/decisions/0007-use-postgresql.md.\n"
        "Unrelated: 0002-use-postgresql.mdx and x0002-use-postgresql.md.\n"
    )
    shown = json.loads(cli("task", "show", str(task["id"]), "--json", ok=True).out)
    assert shown["adrs"] == ["0007", "0001"]
    # the task file is committed on the state branch; the ADRs are left to the user
    state = lane_repo / ".git" / "lanectl" / "state"
    assert git(state, "status", "--porcelain") == ""
    assert f".lanes/tasks/{task['id']}" in git(state, "show", "--name-only", "--format=", "HEAD")
    (event,) = events(lane_repo, "adr.renumbered")
    assert event["data"]["from"] == "0002"
    assert event["data"]["to"] == "0007"
    assert event["data"]["tasks"] == [task["id"]]
    assert problems(lane_repo) == []


def test_renumber_refuses_a_taken_number(cli: Cli, lane_repo: Path) -> None:
    git(lane_repo, "branch", "other")
    git(lane_repo, "checkout", "-q", "-b", "feature")
    git(lane_repo, "checkout", "-q", "main")
    commit_adr(lane_repo, "0005-on-main.md")
    git(lane_repo, "checkout", "-q", "other")
    commit_adr(lane_repo, "0006-on-other.md")
    git(lane_repo, "checkout", "-q", "feature")
    new_adr(cli, "Mine")
    assert sorted(snapshot(lane_repo))[-1] == "0006-mine.md"  # over the tree and main only
    before = snapshot(lane_repo)
    cases = {
        "1": "ADR number 0001 is taken by docs/decisions/0001-record-architecture-decisions.md "
        "in the work tree",
        "5": "ADR number 0005 is taken by 0005-on-main.md on main (the base branch)",
        "0006": "ADR 0006-mine.md is already number 0006",
        "seven": "'seven' is not an ADR number",
    }
    for to, message in cases.items():
        assert refused(cli, "adr", "renumber", "6", to).startswith(f"lanectl: {message}")
    # and a number used on another local branch, with a free one suggested
    cli("adr", "renumber", "6", "7", ok=True)
    message = refused(cli, "adr", "renumber", "7", "6")
    assert message.startswith(
        "lanectl: ADR number 0006 is taken by 0006-on-other.md on branch other"
    )
    assert message.endswith("(pick a free number, e.g. `lanectl adr renumber 0007-mine.md 0008`)")
    assert "0007-mine.md" in snapshot(lane_repo)
    assert len(before) == len(snapshot(lane_repo))


def test_renumber_fixes_a_collision_and_keeps_ambiguous_task_refs(
    cli: Cli, lane_repo: Path
) -> None:
    git(lane_repo, "checkout", "-q", "-b", "feature")
    new_adr(cli, "Mine")
    git(lane_repo, "add", DECISIONS)
    git(lane_repo, "commit", "-q", "-m", "ADR 0002 on feature")
    git(lane_repo, "checkout", "-q", "main")
    commit_adr(lane_repo, "0002-theirs.md")
    git(lane_repo, "checkout", "-q", "feature")
    task = json.loads(cli("--json", "task", "new", "Use it", "--adrs", "2", ok=True).out)
    assert problems(lane_repo) == [
        f"{DECISIONS}/0002-mine.md: ADR number 0002 is also used by 0002-theirs.md on main "
        "(the base branch); renumber this one with `lanectl adr renumber 0002-mine.md 0003`, "
        "or the other on its branch"
    ]
    result = cli("adr", "renumber", "0002-mine.md", "3", ok=True)
    assert "Renumbered 0002-mine.md → 0003-mine.md" in result.out
    assert (
        f"not rewritten (another ADR still has that number, so they may mean it): {task['id']}"
        in (result.out)
    )
    shown = json.loads(cli("task", "show", str(task["id"]), "--json", ok=True).out)
    assert shown["adrs"] == ["0002"]
    assert problems(lane_repo) == []


# ---------------------------------------------------------------------------
# check: front matter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "---\nstatus: acepted\ndate: 2025-01-31\n---\n# X\n",
            [
                "docs/decisions/0002-x.md:2: status: 'acepted' is not one of proposed, accepted, "
                "rejected, deprecated, superseded by NNNN; did you mean 'accepted'?"
            ],
        ),
        (
            "---\ndate: 2025-01-31\n---\n# X\n",
            [
                "docs/decisions/0002-x.md:1: status: must be one of proposed, accepted, rejected, "
                "deprecated, superseded by NNNN (missing)"
            ],
        ),
        (
            "---\nstatus: accepted\ndate: [2025\n---\n# X\n",
            ["docs/decisions/0002-x.md:4: malformed YAML: did not find expected ',' or ']'"],
        ),
        (
            "# X\n\nNo front matter.\n",
            ["docs/decisions/0002-x.md: no front matter (the file must start with a '---' line)"],
        ),
        (
            "---\nstatus: accepted\n# X\n",
            ["docs/decisions/0002-x.md:1: front matter is not closed by a '---' line"],
        ),
        (
            "---\n- accepted\n---\n# X\n",
            ["docs/decisions/0002-x.md:1: front matter must be a mapping with status, date, …"],
        ),
        (
            "---\nstatus: accepted\ndate: 2025\ndecision-makers: alice\nconsulted: [bob, 3]\n"
            "paths: src/**\n---\n# X\n",
            [
                "docs/decisions/0002-x.md:3: date: must be a date like 2025-01-31 (got int)",
                "docs/decisions/0002-x.md:4: decision-makers: must be a list, e.g. [alice] (got str)",
                "docs/decisions/0002-x.md:5: consulted › 1: must be a non-empty string",
                "docs/decisions/0002-x.md:6: paths: must be a list, e.g. [alice] (got str)",
            ],
        ),
        (
            "---\nstatus: accepted\ndate: 31/01/2025\n---\n# X\n",
            ["docs/decisions/0002-x.md:3: date: must be a date like 2025-01-31 ('31/01/2025')"],
        ),
        (
            "---\nstatus: accepted\ndate: 2025-01-31\nsupersedes:\n  - '0001'\n  - 10\n---\n# X\n",
            [
                "docs/decisions/0002-x.md:6: supersedes › 1: '10' is not an ADR number; write "
                "numbers quoted, like '0003' (YAML reads an unquoted 0010 as 8)"
            ],
        ),
        (
            "---\nstatus: accepted\ndate: 2025-01-31\n---\n\nNo heading here.\n",
            ["docs/decisions/0002-x.md:5: no title: the body needs a '# Title' line"],
        ),
    ],
)
def test_check_reports_bad_front_matter(
    cli: Cli, lane_repo: Path, text: str, expected: list[str]
) -> None:
    (lane_repo / DECISIONS / "0002-x.md").write_text(text)
    assert [p for p in problems(lane_repo) if "supersedes:" not in p] == expected
    result = cli("adr", "list")
    assert result.code == 1
    assert result.err.splitlines()[0] == f"lanectl: {expected[0]}"
    assert "Traceback" not in result.err
    assert refused(cli, "adr", "show", "2").startswith(f"lanectl: {expected[0]}")


def test_check_reports_badly_named_and_unreadable_files(cli: Cli, lane_repo: Path) -> None:
    (lane_repo / DECISIONS / "4-short.md").write_text("---\n---\n")
    (lane_repo / DECISIONS / "0005-latin1.md").write_bytes(b"---\nstatus: d\xe9cid\xe9\n---\n")
    (lane_repo / DECISIONS / "README.md").write_text("not an ADR\n")
    expected = [
        "docs/decisions/4-short.md: ADR files are named NNNN-slug.md; rename it with `git mv`",
        "docs/decisions/0005-latin1.md:2: invalid UTF-8 (byte 0xe9)",
    ]
    assert problems(lane_repo) == expected
    # the other commands still work around them
    assert new_adr(cli, "Next one")["number"] == "0006"
    cli("adr", "renumber", "6", "8", ok=True)
    assert problems(lane_repo) == expected


# ---------------------------------------------------------------------------
# check: links, duplicates, collisions


SUPERSEDED_BY_3 = GOOD.replace("accepted", "superseded by 0003")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (
            {"0002-a.md": GOOD.replace("accepted", "superseded by 0009")},
            "docs/decisions/0002-a.md:2: status: superseded by 0009, but there is no ADR 0009 in "
            "docs/decisions; correct the number",
        ),
        (
            {"0002-a.md": SUPERSEDED_BY_3, "0003-b.md": GOOD},
            "docs/decisions/0002-a.md:2: status: superseded by 0003, but docs/decisions/0003-b.md "
            "does not list it; add `supersedes: ['0002']` there",
        ),
        (
            {"0002-a.md": GOOD, "0003-b.md": GOOD + "supersedes: ['0002']\n"},
            "docs/decisions/0003-b.md:7: supersedes 0002, but docs/decisions/0002-a.md has status "
            "'accepted'; set it to 'superseded by 0003'",
        ),
        (
            {"0002-a.md": GOOD + "supersedes: ['0008']\n"},
            "docs/decisions/0002-a.md:7: supersedes: there is no ADR 0008 in docs/decisions; "
            "correct the number",
        ),
        (
            {"0002-a.md": GOOD.replace("accepted", "superseded by 2")},
            "docs/decisions/0002-a.md:2: status: an ADR cannot supersede itself",
        ),
    ],
)
def test_check_reports_broken_supersede_links(
    lane_repo: Path, files: dict[str, str], expected: str
) -> None:
    for name, front in files.items():
        write_adr(lane_repo, name, front)
    assert problems(lane_repo) == [expected]


def test_check_accepts_madr_link_style_supersede(lane_repo: Path) -> None:
    write_adr(
        lane_repo, "0002-a.md", GOOD.replace("accepted", "superseded by [ADR-0003](0003-b.md)")
    )
    write_adr(lane_repo, "0003-b.md", GOOD + "supersedes: ['2']\n")
    assert problems(lane_repo) == []


def test_check_reports_a_duplicate_number_in_the_tree(cli: Cli, lane_repo: Path) -> None:
    write_adr(lane_repo, "0002-a.md")
    write_adr(lane_repo, "0002-b.md")
    assert problems(lane_repo) == [
        "docs/decisions/0002-b.md: ADR number 0002 is also used by docs/decisions/0002-a.md; "
        "give this one a new number with `lanectl adr renumber 0002-b.md 0003`"
    ]
    message = refused(cli, "adr", "show", "2")
    assert message == (
        "lanectl: ADR number 0002 is used by 0002-a.md and 0002-b.md (name the file instead, and "
        "give one a new number with `lanectl adr renumber 0002-b.md 0003`)"
    )
    cli("adr", "renumber", "0002-b.md", "3", ok=True)
    assert problems(lane_repo) == []


def test_check_reports_a_collision_with_another_local_branch(lane_repo: Path) -> None:
    git(lane_repo, "checkout", "-q", "-b", "other")
    commit_adr(lane_repo, "0002-other.md")
    git(lane_repo, "checkout", "-q", "-b", "x", "main")
    commit_adr(lane_repo, "0003-x.md")
    git(lane_repo, "checkout", "-q", "-b", "y", "main")
    commit_adr(lane_repo, "0003-y.md")
    git(lane_repo, "checkout", "-q", "main")
    write_adr(lane_repo, "0002-mine.md")
    assert problems(lane_repo) == [
        "docs/decisions/0002-mine.md: ADR number 0002 is also used by 0002-other.md on branch "
        "other; renumber this one with `lanectl adr renumber 0002-mine.md 0004`, or the other on "
        "its branch",
        "docs/decisions/0003-x.md (on x): ADR number 0003 is used by 0003-x.md on branch x; "
        "0003-y.md on branch y; renumber one of them on its branch with "
        "`lanectl adr renumber 0003-x.md 0004`",
    ]


def test_check_is_quiet_when_branches_share_the_same_files(lane_repo: Path) -> None:
    assert problems(lane_repo) == []
    commit_adr(lane_repo, "0002-shared.md")
    git(lane_repo, "branch", "feature")
    git(lane_repo, "checkout", "-q", "-b", "later")
    commit_adr(lane_repo, "0003-later.md")
    git(lane_repo, "checkout", "-q", "main")
    assert problems(lane_repo) == []
