"""`lanectl review` on a github forge: real PyGithub against the fake GitHub, real
reviews through the simulator. Reviews are COMMENTs with inline comments on the
diff's lines, one sticky summary per role, and the lanectl/gate status follows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Cli, git
from fakegithub import FakeGitHub, fake_github
from gatekit import Org
from reviewkit import PASS, Reviews, answer, head_of, rule, sim
from simkit import close_clients

__all__ = ["close_clients", "fake_github"]

CODE = "def fetch(url):\n    for attempt in range(10):\n        pass\n    return url\n"
ON_LINE = {"severity": "major", "category": "correctness", "path": "src/fetch.py", "line": 2,
           "title": "ten retries is too many", "body": "bound it at three (ADR)"}  # fmt: skip
OFF_LINE = {"severity": "minor", "category": "correctness", "path": "src/client.py", "line": 40,
            "title": "the caller does not handle the error"}  # fmt: skip


@pytest.fixture
def reviews(
    cli: Cli, lane_repo: Path, tmp_path: Path, fake: FakeGitHub, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Reviews]:
    org = Org(lane_repo, cli, tmp_path)
    script = [rule("reviewer-gpt", answer("pass", [ON_LINE, OFF_LINE])),
              rule("security-gemini", PASS)]  # fmt: skip
    with sim(script) as running:
        r = Reviews(org, running, monkeypatch)
        r.configure(forge={"kind": "github", "repo": "octo/shop", "token_env": "GITHUB_TOKEN",
                           "api_url": fake.url})  # fmt: skip
        yield r


def push(org: Org, fake: FakeGitHub, *refs: str) -> None:
    git(org.repo, "push", "-q", "--force", str(fake.git_dir), *refs)


def test_reviews_are_posted_as_comments_with_a_sticky_summary_and_the_status(
    reviews: Reviews, fake: FakeGitHub
) -> None:
    org = reviews.org
    tid = org.task("Retry fetch", "--risk", "medium")
    head = org.build(tid, {"src/fetch.py": CODE})
    org.check(tid, head)
    push(org, fake, "main", f"lanes/{tid}")
    result = org.cli("review", tid)
    assert result.code == 0, result.out + result.err
    assert "forge        pull       github pull request #1 (opened)" in result.out
    assert "COMMENT review on #1: 1 inline comment(s), 1 in the body" in result.out
    assert f"Set github status lanectl/gate: pending on {head[:7]}" in result.out

    posted = fake.state.reviews[1]
    assert [p["event"] for p in posted] == ["COMMENT", "COMMENT"]  # agents never approve
    correctness = next(p for p in posted if "correctness review" in p["json"]["body"])
    assert [(c["path"], c["line"], c["side"]) for c in correctness["comments"]] == [
        ("src/fetch.py", 2, "RIGHT")]  # fmt: skip
    assert "ten retries is too many" in correctness["comments"][0]["body"]
    body = correctness["json"]["body"]
    assert "`src/client.py:40` (not a line of this diff)" in body
    assert "the caller does not handle the error" in body
    assert correctness["json"]["commit_id"] == head

    summaries = {c["body"].splitlines()[0]: c for c in fake.state.comments.values()}
    assert set(summaries) == {"<!-- lanectl:summary:reviewer -->",
                              "<!-- lanectl:summary:security -->"}  # fmt: skip
    first = summaries["<!-- lanectl:summary:reviewer -->"]
    assert f"correctness review** of `{head[:12]}`" in first["body"]
    assert fake.state.statuses[head][-1]["state"] == "pending"  # eligible, waiting for a person

    # a new commit: new reviews, the same two summaries edited in place
    newer = org.build(tid, {"src/fetch.py": CODE.replace("range(10)", "range(3)")})
    org.check(tid, newer)
    push(org, fake, f"lanes/{tid}")
    again = org.cli("review", tid)
    assert again.code == 0, again.out + again.err
    assert len(fake.state.comments) == 2
    edited = fake.state.comments[first["id"]]
    assert f"correctness review** of `{newer[:12]}`" in edited["body"]
    assert len(fake.state.reviews[1]) == 4
    assert fake.state.statuses[newer][-1]["state"] == "pending"
    # reviewing the same head again posts nothing new
    org.cli("review", tid, ok=True)
    assert len(fake.state.reviews[1]) == 4
    assert head_of(org, tid) == newer


def test_an_inline_position_github_rejects_falls_back_to_the_body(
    reviews: Reviews, fake: FakeGitHub
) -> None:
    org = reviews.org
    tid = org.task("Retry fetch", "--risk", "low")
    head = org.build(tid, {"src/fetch.py": CODE})
    push(org, fake, "main", f"lanes/{tid}")
    fake.fail("POST", r"/pulls/\d+/reviews$", 422, "Unprocessable Entity",
              errors=["Pull request review thread line must be part of the diff"])  # fmt: skip
    shown = json.loads(org.cli("--json", "review", tid, ok=True).out)["reviews"]
    (review,) = shown
    assert review["forge"]["inline"] == []
    assert review["forge"]["in_body"] == ["src/fetch.py:2", "src/client.py:40"]
    (posted,) = fake.state.reviews[1]
    assert posted["comments"] == []
    assert "`src/fetch.py:2` (not a line of this diff)" in posted["json"]["body"]
    assert fake.state.statuses[head][-1]["state"] == "pending"  # low tier: eligible


def test_without_the_branch_on_github_the_reviews_stand_and_say_so(
    reviews: Reviews, fake: FakeGitHub
) -> None:
    org = reviews.org
    tid = org.task("Retry fetch", "--risk", "low")
    org.build(tid, {"src/fetch.py": CODE})
    push(org, fake, "main")
    result = org.cli("review", tid)
    assert result.code == 0, result.out + result.err  # the signed record is the review
    assert f"reviews not posted: lanes/{tid} is not on GitHub (octo/shop)" in result.out
    assert fake.state.reviews == {}
