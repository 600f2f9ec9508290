"""The github forge with real PyGithub against the loopback fake (tests/fakegithub.py).

Every request goes over HTTP to the fake, which keeps state like GitHub
(pull requests, reviews, comments, statuses, refs in a bare repository) and
checks review comments against the diff hunks the way GitHub does.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import git
from fakegithub import BAD_LINE, FakeGitHub
from lanectl.errors import Refused
from lanectl.forge import compose
from lanectl.forge.base import ForgeError, InlineComment, PullRef, ReviewPost
from lanectl.forge.diffmap import for_range
from lanectl.forge.github import GitHubForge
from lanectl.forge.registry import ForgeSpec
from lanectl.records import Coverage, Finding, Review

TOKEN = "ghp_lanectlFakeToken0123456789ABCDEF"  # a known fake, scanned for in outputs
BRANCH = "lanes/T-AAAAAAAA"
LINES = [f"line {i}\n" for i in range(1, 41)]


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "github.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    return bare


@pytest.fixture
def fake(remote: Path) -> Iterator[FakeGitHub]:
    with FakeGitHub(remote, token=TOKEN) as server:
        yield server


@pytest.fixture
def work(git_repo: Path, remote: Path) -> Path:
    """main with app.py, and the task branch changing line 15 of it, both on "GitHub"."""
    (git_repo / "app.py").write_text("".join(LINES))
    git(git_repo, "add", "app.py")
    git(git_repo, "commit", "-q", "-m", "app")
    git(git_repo, "checkout", "-q", "-b", BRANCH)
    changed = [*LINES]
    changed[14] = "fifteen\n"
    (git_repo / "app.py").write_text("".join(changed))
    git(git_repo, "commit", "-qam", "change line 15")
    git(git_repo, "push", "-q", str(remote), "main", BRANCH)
    return git_repo


def make_forge(fake: FakeGitHub, token: str = TOKEN) -> GitHubForge:
    return GitHubForge(ForgeSpec("github", "octo/shop", "GITHUB_TOKEN", fake.url), token)


@pytest.fixture
def forge(fake: FakeGitHub) -> GitHubForge:
    return make_forge(fake)


def open_pr(forge: GitHubForge, title: str = "T-AAAAAAAA: Fix it", body: str = "spec") -> PullRef:
    return forge.open_or_update_pr("T-AAAAAAAA", BRANCH, "main", title, body)


def record(head: str, findings: list[Finding], agent: str = "reviewer-gpt") -> Review:
    return Review(
        task="T-AAAAAAAA", head=head, agent=agent, role="reviewer", family="openai",
        model="gpt-5", prompt_sha256="1" * 64, diff_sha256="2" * 64, verdict="pass",
        coverage=Coverage(1, ()), findings=tuple(findings), ts="2026-11-24T10:00:00Z",
    )  # fmt: skip


# -- pull requests -------------------------------------------------------------------


def test_open_or_update_pr_is_idempotent(work: Path, fake: FakeGitHub, forge: GitHubForge) -> None:
    first = open_pr(forge)
    assert (first.number, first.created, first.updated) == (1, True, False)
    assert first.url == f"{fake.url}/octo/shop/pull/1"
    again = open_pr(forge)
    assert (again.number, again.created, again.updated) == (1, False, False)
    renamed = open_pr(forge, title="T-AAAAAAAA: Fix it properly")
    assert (renamed.number, renamed.updated) == (1, True)
    assert fake.state.pulls[1]["title"] == "T-AAAAAAAA: Fix it properly"
    assert len(fake.requests("POST", r"/pulls$")) == 1
    assert len(fake.requests("PATCH", r"/pulls/1$")) == 1
    assert fake.requests("GET", r"/pulls$")[0].query["head"] == f"octo:{BRANCH}"


def test_a_502_after_github_opened_the_pr_does_not_open_a_second(
    work: Path, fake: FakeGitHub, forge: GitHubForge
) -> None:
    fake.fail("POST", r"/pulls$", 502, "Bad Gateway", after=True)
    pr = open_pr(forge)
    assert (pr.number, pr.created) == (1, True)
    assert len(fake.requests("POST", r"/pulls$")) == 1  # sent once: read back, not resent
    assert list(fake.state.pulls) == [1]


def test_a_branch_not_on_github_cannot_have_a_pr(work: Path, forge: GitHubForge) -> None:
    with pytest.raises(ForgeError, match="lanes/T-BBBBBBBB is not on GitHub") as caught:
        forge.open_or_update_pr("T-BBBBBBBB", "lanes/T-BBBBBBBB", "main", "t", "b")
    assert caught.value.hint == "push it first: git push <remote> lanes/T-BBBBBBBB"


# -- reviews ---------------------------------------------------------------------------


def test_reviews_are_comments_with_inline_comments_on_diff_lines_only(
    work: Path, fake: FakeGitHub, forge: GitHubForge
) -> None:
    pr = open_pr(forge)
    head = git(work, "rev-parse", BRANCH)
    findings = [
        Finding("F1", "blocker", "off by one", path="app.py", line=15, body="fifteen is wrong"),
        Finding("F2", "minor", "old code", path="app.py", line=35),  # outside every hunk
        Finding("F3", "info", "general remark"),
    ]
    posted = forge.post_review(pr, record(head, findings), for_range(work, "main", BRANCH))
    assert [c.where for c in posted.inline] == ["app.py:15"]
    assert [c.where for c in posted.moved] == ["app.py:35"]
    (review,) = fake.state.reviews[1]
    assert review["event"] == "COMMENT"
    assert review["json"]["state"] == "COMMENTED"
    assert review["json"]["commit_id"] == head
    (comment,) = review["comments"]
    assert (comment["path"], comment["line"], comment["side"]) == ("app.py", 15, "RIGHT")
    assert "off by one" in comment["body"]
    body = review["json"]["body"]
    assert "`app.py:35` (not a line of this diff)" in body
    assert "general remark" in body
    assert "neither approves nor blocks" in body
    # every review lanectl ever sends is a COMMENT
    assert {r.body["event"] for r in fake.requests("POST", r"/reviews$")} == {"COMMENT"}


def test_multi_line_comments_carry_start_line_and_start_side(
    work: Path, fake: FakeGitHub, forge: GitHubForge
) -> None:
    pr = open_pr(forge)
    head = git(work, "rev-parse", BRANCH)
    post = ReviewPost("k1", head, "body", (
        InlineComment("app.py", 16, "these three", start_line=14),
        InlineComment("app.py", 16, "old side", side="LEFT", start_line=13),
        InlineComment("app.py", 30, "reaches past the hunk", start_line=16),
    ))  # fmt: skip
    posted = forge.post_review(pr, post, for_range(work, "main", BRANCH))
    assert [c.body for c in posted.moved] == ["reaches past the hunk"]
    sent = fake.requests("POST", r"/reviews$")[0].body["comments"]
    assert sent[0] == {"path": "app.py", "line": 16, "side": "RIGHT", "body": "these three",
                       "start_line": 14, "start_side": "RIGHT"}  # fmt: skip
    assert (sent[1]["side"], sent[1]["start_side"]) == ("LEFT", "LEFT")


def test_when_github_rejects_a_line_every_comment_goes_to_the_body(
    work: Path, fake: FakeGitHub, forge: GitHubForge
) -> None:
    pr = open_pr(forge)
    head = git(work, "rev-parse", BRANCH)
    fake.fail("POST", r"/reviews$", 422, "Unprocessable Entity", errors=[BAD_LINE])
    finding = Finding("F1", "major", "check this", path="app.py", line=15)
    posted = forge.post_review(pr, record(head, [finding]), for_range(work, "main", BRANCH))
    assert (posted.inline, [c.where for c in posted.moved]) == ((), ["app.py:15"])
    (review,) = fake.state.reviews[1]
    assert review["comments"] == []
    assert "`app.py:15` (not a line of this diff): **major** — check this" in review["json"]["body"]


def test_a_review_is_posted_once_and_found_across_pages(
    work: Path, fake: FakeGitHub, forge: GitHubForge
) -> None:
    fake.page_size = 1
    pr = open_pr(forge)
    head = git(work, "rev-parse", BRANCH)
    hunks = for_range(work, "main", BRANCH)
    for agent in ("reviewer-a", "reviewer-b", "reviewer-c"):
        assert not forge.post_review(pr, record(head, [], agent), hunks).already
    again = forge.post_review(pr, record(head, [], "reviewer-c"), hunks)  # on the last page
    assert again.already
    assert again.review_id == fake.state.reviews[1][2]["json"]["id"]
    assert len(fake.state.reviews[1]) == 3
    assert {r.query.get("page") for r in fake.requests("GET", r"/reviews$")} >= {"2", "3"}


def test_a_502_after_github_stored_a_review_does_not_post_it_twice(
    work: Path, fake: FakeGitHub, forge: GitHubForge
) -> None:
    pr = open_pr(forge)
    head = git(work, "rev-parse", BRANCH)
    fake.fail("POST", r"/reviews$", 502, "Bad Gateway", after=True)
    posted = forge.post_review(pr, record(head, []), for_range(work, "main", BRANCH))
    assert posted.review_id == fake.state.reviews[1][0]["json"]["id"]
    assert len(fake.state.reviews[1]) == 1


# -- the sticky summary ------------------------------------------------------------------


def test_one_sticky_summary_per_role_updated_in_place(
    work: Path, fake: FakeGitHub, forge: GitHubForge
) -> None:
    pr = open_pr(forge)
    forge.upsert_summary(pr, "reviewer", "pass, 0 findings")
    forge.upsert_summary(pr, "reviewer", "changes requested\n<!-- lanectl:summary:security -->")
    forge.upsert_summary(pr, "security", "pass")
    forge.upsert_summary(pr, "security", "pass")  # unchanged: nothing sent
    bodies = [c["body"] for c in fake.state.comments.values()]
    assert len(bodies) == 2
    assert bodies[0].startswith("<!-- lanectl:summary:reviewer -->\nchanges requested")
    assert "&lt;!-- lanectl:summary:security -->" in bodies[0]  # cannot pose as another role's
    assert bodies[1] == "<!-- lanectl:summary:security -->\npass"
    assert len(fake.requests("POST", r"/comments$")) == 2
    assert len(fake.requests("PATCH", r"/issues/comments/")) == 1


# -- statuses ------------------------------------------------------------------------------


def test_the_gate_status_on_a_commit(work: Path, fake: FakeGitHub, forge: GitHubForge) -> None:
    head = git(work, "rev-parse", BRANCH)
    forge.set_status(head, "pending", "eligible; waiting for a signed human approval")
    forge.set_status(head, "failure", "✗ review.security: " + "x" * 200, "https://ci/1")
    first, second = fake.state.statuses[head]
    assert (first["context"], first["state"]) == ("lanectl/gate", "pending")
    assert (second["state"], second["target_url"]) == ("failure", "https://ci/1")
    assert len(second["description"]) == 140
    with pytest.raises(ForgeError, match="status state must be one of"):
        forge.set_status(head, "approved", "no such state")
    with pytest.raises(ForgeError, match=r"422 Validation Failed: No commit found for SHA"):
        forge.set_status("f" * 40, "pending", "not pushed")


# -- merging ----------------------------------------------------------------------------------


def test_merge_sends_the_approval_sha_with_method_merge(
    work: Path, remote: Path, fake: FakeGitHub, forge: GitHubForge
) -> None:
    pr = open_pr(forge)
    head, base = git(work, "rev-parse", BRANCH), git(work, "rev-parse", "main")
    merged = forge.merge(pr, head, title="Merge T-AAAAAAAA: Fix it",
                         message="Lane-Merge: T-AAAAAAAA\n", base_sha=base)  # fmt: skip
    (put,) = fake.requests("PUT", r"/pulls/1/merge$")
    assert put.body == {"sha": head, "merge_method": "merge", "commit_title":
                        "Merge T-AAAAAAAA: Fix it", "commit_message": "Lane-Merge: T-AAAAAAAA\n"}  # fmt: skip
    assert merged == git(remote, "rev-parse", "main")
    assert git(remote, "rev-parse", f"{merged}^1", f"{merged}^2").split() == [base, head]
    assert "Lane-Merge: T-AAAAAAAA" in git(remote, "log", "-1", "--format=%B", merged)


def test_squash_and_rebase_are_refused_before_anything_is_sent(
    work: Path, fake: FakeGitHub, forge: GitHubForge
) -> None:
    pr = open_pr(forge)
    head = git(work, "rev-parse", BRANCH)
    for method in ("squash", "rebase"):
        with pytest.raises(Refused, match=f"only with method 'merge', not '{method}'"):
            forge.merge(pr, head, method)
    assert fake.requests("PUT") == []


def test_merge_refuses_a_head_or_base_that_moved_on_github(
    work: Path, fake: FakeGitHub, forge: GitHubForge
) -> None:
    pr = open_pr(forge)
    head, base = git(work, "rev-parse", BRANCH), git(work, "rev-parse", "main")
    with pytest.raises(ForgeError, match=r"main on GitHub is at \w{7}, but the gate was judged"):
        forge.merge(pr, head, base_sha="0" * 40)
    with pytest.raises(ForgeError, match=f"{BRANCH} on GitHub is at {head[:7]}, not the approved"):
        forge.merge(pr, "e" * 40, base_sha=base)
    # GitHub's own check, when the head moved between lanectl's look and the merge
    fake.fail("PUT", r"/merge$", 409, "Head branch was modified. Review and try the merge again.")
    with pytest.raises(ForgeError) as caught:
        forge.merge(pr, head, base_sha=base)
    assert caught.value.kind == "head_moved"
    assert str(caught.value).startswith(
        "GitHub refused to merge #1 (409 Head branch was modified. Review and try the merge "
        "again.) (the head branch on GitHub is not the commit lanectl judged: push it"
    )
    assert fake.state.pulls[1]["merged"] is False


def test_a_502_after_github_merged_reads_the_merge_back(
    work: Path, remote: Path, fake: FakeGitHub, forge: GitHubForge
) -> None:
    pr = open_pr(forge)
    head = git(work, "rev-parse", BRANCH)
    fake.fail("PUT", r"/merge$", 502, "Bad Gateway", after=True)
    assert forge.merge(pr, head) == git(remote, "rev-parse", "main")
    assert len(fake.requests("PUT")) == 1


# -- errors a person can act on ------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "message", "headers", "kind", "expected"),
    [
        (405, "Pull Request is not mergeable", None, "not_mergeable",
         "GitHub will not merge #1 (405 Pull Request is not mergeable) (the pull request is not "
         "mergeable now (a conflict, a required check or review, or merge commits disabled): "
         "see `lanectl doctor --forge`)"),
        (403, "Resource not accessible by personal access token", None, "forbidden",
         "GitHub refused to merge #1 (403 Resource not accessible by personal access token) "
         "(the token needs read and write access to octo/shop's pull requests"),
        (403, "You have exceeded a secondary rate limit. Please wait a few minutes before you "
         "try again.", {"Retry-After": "60"}, "rate_limited",
         "GitHub secondary rate limit while trying to merge #1; retry after 60 s (lanectl "
         "does not resend on its own: wait, then run the command again)"),
        (429, "Too many requests", {"Retry-After": "7"}, "rate_limited",
         "GitHub secondary rate limit while trying to merge #1; retry after 7 s"),
        (422, "Validation Failed", None, "invalid",
         "GitHub rejected the request to merge #1 (422 Validation Failed)"),
        (502, "Bad Gateway", None, "server",
         "GitHub failed to merge #1 (502 Bad Gateway) (GitHub had a problem"),
    ],
)  # fmt: skip
def test_each_failure_is_one_clear_line(
    work: Path,
    fake: FakeGitHub,
    forge: GitHubForge,
    status: int,
    message: str,
    headers: dict[str, str] | None,
    kind: str,
    expected: str,
) -> None:
    pr = open_pr(forge)
    head = git(work, "rev-parse", BRANCH)
    fake.fail("PUT", r"/merge$", status, message, headers=headers)
    started = time.monotonic()
    with pytest.raises(ForgeError) as caught:
        forge.merge(pr, head)
    assert time.monotonic() - started < 5  # no hidden sleeps or retries
    assert caught.value.kind == kind
    assert str(caught.value).startswith(expected)
    assert "\n" not in str(caught.value)
    assert len(fake.requests("PUT")) == 1  # never resent
    if headers:
        assert caught.value.retry_after == float(headers["Retry-After"])


def test_a_bad_token_is_named_by_its_variable_never_shown(work: Path, fake: FakeGitHub) -> None:
    wrong = "ghp_wrongWrongWrong0123456789"
    with pytest.raises(ForgeError) as caught:
        make_forge(fake, wrong).set_status("a" * 40, "pending", "x")
    assert str(caught.value) == (
        "GitHub rejected the token in $GITHUB_TOKEN (401 Bad credentials) while trying to set "
        "the lanectl/gate status of aaaaaaa (check that $GITHUB_TOKEN holds a valid, unexpired "
        "token for octo/shop)"
    )
    assert caught.value.kind == "auth"
    assert wrong not in repr(make_forge(fake, wrong))


def test_an_unreachable_forge_is_a_network_error(work: Path, fake: FakeGitHub) -> None:
    spec = ForgeSpec("github", "octo/shop", "GITHUB_TOKEN", "http://127.0.0.1:9")
    with pytest.raises(ForgeError, match=r"cannot reach GitHub at http://127.0.0.1:9 to read") as e:
        GitHubForge(spec, TOKEN).open_or_update_pr("T-AAAAAAAA", BRANCH, "main", "t", "b")
    assert e.value.kind == "network"


def test_the_token_goes_to_https_or_this_machine_only(fake: FakeGitHub) -> None:
    for url in ("http://github.example.com", "ftp://127.0.0.1", "http://10.0.0.1:8080"):
        with pytest.raises(ForgeError, match="must be an https:// URL"):
            GitHubForge(ForgeSpec("github", "octo/shop", "GITHUB_TOKEN", url), TOKEN)
    with pytest.raises(ForgeError, match=r"forge › repo \(OWNER/NAME\) is not set"):
        GitHubForge(ForgeSpec("github", None, "GITHUB_TOKEN", fake.url), TOKEN)
    assert compose.MAX_STATUS == 140
