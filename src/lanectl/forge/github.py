"""The ``github`` forge, through PyGithub (imported only when a github forge is opened).

The client sends each request once (``retry=None``) and never sleeps
between requests: lanectl owns retries. PyGithub's own retry would resend a
POST or PUT after a 502 — a second pull request, a second review. Instead,
after a failure that may have been carried out anyway (a 5xx, a dropped
connection), lanectl reads the state back and carries on from what is there.

The token comes only from the environment variable ``forge.token_env``
names; it is never printed, logged or put in an error (ADR 0016).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from github import Auth, Github, GithubException
from github.PullRequest import PullRequest
from github.Repository import Repository

from lanectl.forge import compose
from lanectl.forge.base import (
    MERGE_METHOD,
    REVIEW_EVENT,
    STATUS_CONTEXT,
    ForgeError,
    InlineComment,
    Posted,
    ProtectionReport,
    PullRef,
    ReviewPost,
    as_post,
    check_state,
    head_moved,
    refuse_method,
)
from lanectl.forge.diffmap import DiffMap
from lanectl.forge.ghfail import ambiguous, redacted, translate
from lanectl.forge.protection import UNREADABLE, Settings, evaluate
from lanectl.forge.registry import ForgeSpec
from lanectl.records import Review
from lanectl.workspace import Workspace

T = TypeVar("T")
TIMEOUT_S = 30
_FAILURES = (GithubException, requests.exceptions.RequestException)


def _payload(c: InlineComment) -> dict[str, Any]:
    item: dict[str, Any] = {"path": c.path, "line": c.line, "side": c.side, "body": c.body}
    if c.start_line is not None:
        item |= {"start_line": c.start_line, "start_side": c.side}
    return item


class GitHubForge:
    kind = "github"

    def __init__(self, spec: ForgeSpec, token: str) -> None:
        if not spec.repo or "/" not in spec.repo:
            raise ForgeError(
                "forge › repo (OWNER/NAME) is not set for the github forge",
                kind="config",
                hint="set forge: {kind: github, repo: OWNER/NAME} in .lanes/config.yaml "
                "on the base branch",
            )
        spec.check_api_url()
        self.spec = spec
        self.owner = spec.repo.split("/")[0]
        self._token = token
        self._gh = Github(
            base_url=spec.api_url,
            auth=Auth.Token(token),
            timeout=TIMEOUT_S,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            lazy=True,
        )
        self._repo: Repository | None = None

    def __repr__(self) -> str:  # never the token
        return f"GitHubForge({self.spec.repo!r} at {self.spec.api_url!r})"

    # -- plumbing ---------------------------------------------------------------
    @property
    def repo(self) -> Repository:
        if self._repo is None:
            self._repo = self._gh.get_repo(str(self.spec.repo))  # lazy: no request yet
        return self._repo

    def _error(self, exc: Exception, doing: str) -> ForgeError:
        spec = self.spec
        error = translate(exc, doing, str(spec.repo), spec.token_env, spec.api_url)
        return redacted(error, self._token)

    def _call(self, doing: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except _FAILURES as exc:
            raise self._error(exc, doing) from None

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        url = f"{self.spec.api_url}/repos/{self.spec.repo}{path}"
        return self._gh.requester.requestJsonAndCheck("GET", url, parameters=params)[1]

    def ref_sha(self, branch: str) -> str | None:
        """Where ``branch`` is on GitHub (None when it is not there)."""
        try:
            data = self._get(f"/git/ref/heads/{quote(branch)}")
        except GithubException as exc:
            if exc.status == 404:
                return None
            raise self._error(exc, f"read {branch}") from None
        except requests.exceptions.RequestException as exc:
            raise self._error(exc, f"read {branch}") from None
        obj = data.get("object") if isinstance(data, dict) else None
        return str(obj["sha"]) if isinstance(obj, dict) and obj.get("sha") else None

    def _pull(self, pr: PullRef) -> PullRequest:
        if pr.number is None:
            raise ForgeError(f"{pr.head} has no pull request number", kind="not_found")
        return self.repo.get_pull(pr.number)  # lazy

    def _ref(self, pull: PullRequest, head: str, base: str, **flags: bool) -> PullRef:
        return PullRef(self.kind, head, base, pull.number, pull.html_url, pull.head.sha, **flags)

    # -- pull requests ---------------------------------------------------------
    def _find_pull(self, head_branch: str, base: str) -> PullRequest | None:
        pulls = self.repo.get_pulls(state="open", head=f"{self.owner}:{head_branch}", base=base)
        return next(iter(pulls), None)

    def open_or_update_pr(
        self, task: str, head_branch: str, base: str, title: str, body: str
    ) -> PullRef:
        if self.ref_sha(head_branch) is None:
            raise ForgeError(
                f"{head_branch} is not on GitHub ({self.spec.repo})",
                kind="not_found",
                hint=f"push it first: git push <remote> {head_branch}",
            )
        doing = f"find the pull request of {head_branch}"
        found = self._call(doing, lambda: self._find_pull(head_branch, base))
        if found is not None:
            if (found.title, found.body or "") == (title, body):
                return self._ref(found, head_branch, base)
            self._call(f"update #{found.number}", lambda: found.edit(title=title, body=body))
            return self._ref(found, head_branch, base, updated=True)
        try:
            pull = self.repo.create_pull(base=base, head=head_branch, title=title, body=body)
        except _FAILURES as exc:
            # After a 5xx or a dropped connection the pull request may exist; after a 422
            # "already exists" someone else opened it. Read back rather than send it again.
            if ambiguous(exc) or (isinstance(exc, GithubException) and exc.status == 422):
                again = self._call(doing, lambda: self._find_pull(head_branch, base))
                if again is not None:
                    return self._ref(again, head_branch, base, created=ambiguous(exc))
            raise self._error(exc, f"open a pull request for {head_branch}") from None
        return self._ref(pull, head_branch, base, created=True)

    # -- reviews -------------------------------------------------------------------
    def _find_review(self, pull: PullRequest, key: str) -> int | None:
        marker = compose.review_marker(key)
        for review in pull.get_reviews():
            if (review.body or "").startswith(marker):
                return int(review.id)
        return None

    def post_review(self, pr: PullRef, review: Review | ReviewPost, diff_hunks: DiffMap) -> Posted:
        post = as_post(review)
        inline, moved = diff_hunks.place(post.comments)
        pull = self._pull(pr)
        doing = f"read the reviews of {pr.label}"
        existing = self._call(doing, lambda: self._find_review(pull, post.key))
        if existing is not None:
            return Posted(existing, inline, moved, already=True)
        try:
            return Posted(self._create_review(pull, post, inline, moved), inline, moved)
        except _FAILURES as exc:
            if ambiguous(exc):
                again = self._call(doing, lambda: self._find_review(pull, post.key))
                if again is not None:
                    return Posted(again, inline, moved)
            if not (isinstance(exc, GithubException) and exc.status == 422 and inline):
                raise self._error(exc, f"post a review on {pr.label}") from None
        # GitHub placed a line differently than our diff: every comment goes to the body.
        everything = inline + moved
        ident = self._call(
            f"post a review on {pr.label}",
            lambda: self._create_review(pull, post, (), everything),
        )
        return Posted(ident, (), everything)

    def _create_review(
        self,
        pull: PullRequest,
        post: ReviewPost,
        inline: tuple[InlineComment, ...],
        moved: tuple[InlineComment, ...],
    ) -> int:
        created = pull.create_review(
            commit=self.repo.get_commit(post.head),  # lazy: the sha is in its URL
            body=compose.with_moved(post.body, moved),
            event=REVIEW_EVENT,
            comments=[_payload(c) for c in inline],  # type: ignore[misc]
        )
        return int(created.id)

    # -- the sticky summary ------------------------------------------------------
    def upsert_summary(self, pr: PullRef, role: str, markdown: str) -> None:
        if pr.number is None:
            raise ForgeError(f"{pr.head} has no pull request number", kind="not_found")
        issue = self.repo.get_issue(pr.number)  # lazy
        body = compose.summary_body(role, markdown)
        marker = compose.summary_marker(role)

        def find() -> Any:
            return next((c for c in issue.get_comments() if c.body.startswith(marker)), None)

        doing = f"read the comments of {pr.label}"
        found = self._call(doing, find)
        if found is None:
            try:
                issue.create_comment(body)
                return
            except _FAILURES as exc:
                found = self._call(doing, find) if ambiguous(exc) else None
                if found is None:
                    raise self._error(exc, f"comment on {pr.label}") from None
        if found.body != body:
            self._call(f"update the {role} summary on {pr.label}", lambda: found.edit(body))

    # -- the gate's commit status --------------------------------------------------
    def set_status(
        self, sha: str, state: str, description: str, target_url: str | None = None
    ) -> None:
        check_state(state)
        extra = {"target_url": target_url} if target_url else {}
        text = compose.one_line(description, compose.MAX_STATUS)
        commit = self.repo.get_commit(sha)  # lazy
        self._call(
            f"set the {STATUS_CONTEXT} status of {sha[:7]}",
            lambda: commit.create_status(state, description=text, context=STATUS_CONTEXT, **extra),
        )

    # -- merging ---------------------------------------------------------------------
    def merge(
        self,
        pr: PullRef,
        sha: str,
        method: str = MERGE_METHOD,
        *,
        title: str | None = None,
        message: str | None = None,
        base_sha: str | None = None,
    ) -> str | None:
        refuse_method(method)
        if base_sha is not None:
            remote = self.ref_sha(pr.base)
            if remote != base_sha:
                raise ForgeError(
                    f"{pr.base} on GitHub is at {(remote or 'nothing')[:7]}, but the gate was "
                    f"judged against {base_sha[:7]}",
                    kind="base_moved",
                    hint=f"bring your {pr.base} level with GitHub's (git pull, or push it), "
                    "then run lanectl merge again",
                )
        head = self.ref_sha(pr.head)
        if head != sha:
            raise head_moved(pr.head, "GitHub", head, sha)
        pull = self._pull(pr)
        options: dict[str, Any] = {"sha": sha, "merge_method": MERGE_METHOD}
        if title:
            options["commit_title"] = title
        if message:
            options["commit_message"] = message
        try:
            status = pull.merge(**options)
        except _FAILURES as exc:
            if ambiguous(exc):  # it may have merged: look before anything else
                merged = self._call(f"read {pr.label}", lambda: self._merged_at(pr, sha))
                if merged is not None:
                    return merged
            raise self._error(exc, f"merge {pr.label}") from None
        if not status.merged:
            raise ForgeError(
                f"GitHub did not merge {pr.label}: {status.message}", kind="not_mergeable"
            )
        return str(status.sha)

    def _merged_at(self, pr: PullRef, sha: str) -> str | None:
        """The merge commit when ``pr`` is merged with ``sha`` as its head."""
        fresh = self._pull(pr)
        if fresh.merged and fresh.head.sha == sha and fresh.merge_commit_sha:
            return str(fresh.merge_commit_sha)
        return None

    # -- doctor ------------------------------------------------------------------------
    def protection_report(self, base: str) -> ProtectionReport:
        doing = f"read the settings of {self.spec.repo}"
        repository = self._call(doing, lambda: self._get(""))
        try:
            classic: Any = self._get(f"/branches/{quote(base)}/protection")
        except GithubException as exc:
            said = exc.data.get("message") if isinstance(exc.data, dict) else None
            if exc.status == 404 and said == "Branch not protected":
                classic = None
            elif exc.status in (403, 404):
                classic = UNREADABLE
            else:
                raise self._error(exc, f"read {base}'s protection") from None
        except requests.exceptions.RequestException as exc:
            raise self._error(exc, f"read {base}'s protection") from None
        doing = f"read the rules of {base}"
        path = f"/rules/branches/{quote(base)}"
        rules = self._call(doing, lambda: self._get(path, {"per_page": 100}))
        rules = [r for r in rules or [] if isinstance(r, dict)]
        ids = sorted({int(r["ruleset_id"]) for r in rules if r.get("ruleset_id") is not None})
        rulesets: dict[int, Any] = {}
        for ident in ids:
            rulesets[ident] = self._call(doing, partial(self._get, f"/rulesets/{ident}"))
        settings = Settings(
            str(self.spec.repo),
            base,
            repository if isinstance(repository, dict) else {},
            classic,
            tuple(rules),
            {i: r for i, r in rulesets.items() if isinstance(r, dict)},
        )
        return ProtectionReport(self.kind, base, tuple(evaluate(settings)))


def build(ws: Workspace, spec: ForgeSpec) -> GitHubForge:
    return GitHubForge(spec, spec.token())
