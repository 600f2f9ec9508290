"""`lanectl run ID`: build → review → gate for one task, stopping at the human approval.

The real LLM builder loop and the real reviewers talk to the simulator through
the real SDKs; commits, records and approvals are signed with real keys; on
the github forge PyGithub talks to the fake GitHub.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import Cli, git, run_in_terminal
from fakegithub import TOKEN, FakeGitHub, fake_github
from gatekit import Org
from lanectl import tasks
from reviewkit import PASS, Reviews, rule, sim
from simkit import close_clients

__all__ = ["close_clients", "fake_github"]
CHECK = "python3 src/hello.py"
HELLO = "print('hello')\n"


def builder(tid: str) -> dict[str, Any]:
    turns = [
        {"tool_calls": [{"name": "write_file",
                         "input": {"path": "src/hello.py", "content": HELLO}}]},
        {"tool_calls": [{"name": "finish", "input": {"summary": "src/hello.py says hello"}}]},
    ]  # fmt: skip
    return {"match": {"agent": "builder-claude", "task": tid}, "turns": turns}


def script(tid: str) -> list[dict[str, Any]]:
    return [builder(tid), rule("reviewer-gpt", PASS), rule("security-gemini", PASS)]


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


def state(org: Org, tid: str) -> str:
    return tasks.load(org.ws).resolve(tid).state


def run_json(org: Org, tid: str) -> tuple[int, dict[str, Any]]:
    result = org.cli("--json", "run", tid)
    return result.code, json.loads(result.out)


@pytest.mark.slow
def test_run_takes_a_task_from_build_to_waiting_for_the_human(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = org.task("Say hello", "--risk", "medium")
    with sim(script(tid)) as running:
        reviews = Reviews(org, running, monkeypatch)
        reviews.configure(checks=[CHECK], dispatch={"lease_s": 5})
        result = org.cli("run", tid)
        assert result.code == 0, result.out + result.err
        sent = reviews.requests()
        # built by the anthropic builder, reviewed by openai and google, in parallel
        assert re.search(rf"^{tid}\s+review\s+checks green", result.out, re.M)
        assert "correctness  recorded   reviewer-gpt: pass" in result.out
        assert "security     recorded   security-gemini: pass" in result.out
        assert "✓ implementation" in result.out
        assert "✓ review.correctness" in result.out
        assert "✓ review.security" in result.out
        assert "✗ approval" in result.out
        assert f"Eligible. Next: lanectl approve {tid}" in result.out
        assert reviews.requests("builder-claude") == 2
        assert (reviews.requests("reviewer-gpt"), reviews.requests("security-gemini")) == (1, 1)

        # Run again: nothing to build, the reviews of this head are current — no model call.
        code, again = run_json(org, tid)
        assert code == 0
        assert again["build"] is None
        assert "already built" in again["build_note"]
        assert {r["status"] for r in again["reviews"]} == {"current"}
        assert again["waiting_for_human"] is True
        assert reviews.requests() == sent
    # It never approves or merges: that stays a person's, and the gate still wants one.
    assert state(org, tid) != "merged"
    assert org.cli("merge", tid).code == 3
    assert org.approve(tid).code == 0
    assert org.cli("merge", tid).code == 0
    assert git(org.repo, "show", "main:src/hello.py") == "print('hello')"


def test_run_refuses_a_draft_and_says_who_marks_it_ready(org: Org) -> None:
    tid = org.task("Not specified yet", ready=False)
    result = org.cli("run", tid)
    assert result.code == 3
    assert f"{tid} is a draft: a human marks it ready" in result.err
    assert f"lanectl task ready {tid}" in result.err


@pytest.mark.slow
def test_run_stops_before_review_when_the_build_is_blocked(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    tid = org.task("Say hello")
    with sim(script(tid)) as running:
        reviews = Reviews(org, running, monkeypatch)
        reviews.configure(checks=["python3 -c 'raise SystemExit(4)'"], dispatch={"lease_s": 5})
        code, out = run_json(org, tid)
        assert code == 1
        assert out["build"]["outcome"] == "blocked"
        assert "failed (exit 4)" in out["stopped"]
        assert out["reviews"] == []
        assert out["gate"] is None
        assert reviews.requests("reviewer-gpt") == 0  # nobody reviews a red build
        plain = org.cli("run", tid)
    assert plain.code == 1
    assert f"Stopped before review: {tid} is blocked" in plain.out


@pytest.mark.slow
def test_run_on_github_opens_the_pull_request_and_posts_the_reviews(
    org: Org, fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    git(org.repo, "remote", "add", "origin", str(fake.git_dir))
    git(org.repo, "push", "-q", "origin", "main")
    tid = org.task("Say hello", "--risk", "medium")
    forge = {"kind": "github", "repo": "octo/shop", "token_env": "GITHUB_TOKEN",
             "api_url": fake.url}  # fmt: skip
    with sim(script(tid)) as running:
        Reviews(org, running, monkeypatch).configure(
            checks=[CHECK], dispatch={"lease_s": 5, "remote": "origin"}, forge=forge
        )
        git(org.repo, "push", "-q", "origin", "main")  # the policy commit, as a team would
        result = org.cli("run", tid)
    assert result.code == 0, result.out + result.err
    head = git(org.repo, "rev-parse", f"lanes/{tid}")
    assert git(fake.git_dir, "rev-parse", f"lanes/{tid}") == head  # the builder pushed it
    assert "github pull request #1 (opened)" in result.out
    posted = fake.state.reviews[1]
    assert sorted(p["event"] for p in posted) == ["COMMENT", "COMMENT"]  # never APPROVE
    assert fake.state.statuses[head][-1]["state"] == "pending"  # waits on the human
    assert f"Eligible. Next: lanectl approve {tid}" in result.out
    assert fake.requests("PUT") == []  # nothing merged
    assert TOKEN not in result.out + result.err


@pytest.mark.slow
def test_run_shows_live_progress_on_a_terminal_and_plain_lines_elsewhere(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = org.task("Say hello"), org.task("Say hello again")
    with sim([*script(first), builder(second)]) as running:
        Reviews(org, running, monkeypatch).configure(checks=[CHECK], dispatch={"lease_s": 5})
        code, screen = run_in_terminal(org.repo, ["run", first], "")
        plain = org.cli("run", second)
    assert code == 0, screen
    assert "\x1b[?25l" in screen  # rich's live view hides the cursor while it spins
    assert re.search(rf"✓ {first}\s+review: checks green", screen)
    assert not re.search(rf"^{first}\s+claimed\s+generation", screen, re.M)
    assert plain.code == 0, plain.out + plain.err
    assert "\x1b[" not in plain.out  # piped: one plain line per event, no escape codes
    assert re.search(rf"^{second}\s+claimed\s+generation 1 for builder-claude", plain.out, re.M)
