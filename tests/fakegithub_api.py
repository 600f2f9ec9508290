"""The endpoints of the fake GitHub: each handler takes (query, body, *path groups)."""

from __future__ import annotations

import fnmatch
import os
import subprocess
from typing import Any

from fakegithub_shapes import Shapes

Response = tuple[int, Any, dict[str, str]]
BAD_LINE = "Pull request review thread line must be part of the diff"
METHOD_SETTINGS = {
    "merge": ("allow_merge_commit", "Merge commits"),
    "squash": ("allow_squash_merge", "Squash merges"),
    "rebase": ("allow_rebase_merge", "Rebase merges"),
}


class Api(Shapes):
    """Mixed into FakeGitHub, which provides state, git, ref, page, invalid and not_found."""

    ROUTES = (
        ("GET", r"", "get_repo"),
        ("GET", r"/git/ref/heads/(.+)", "get_ref"),
        ("GET", r"/pulls", "list_pulls"),
        ("POST", r"/pulls", "create_pull"),
        ("GET", r"/pulls/(\d+)", "get_pull"),
        ("PATCH", r"/pulls/(\d+)", "update_pull"),
        ("GET", r"/pulls/(\d+)/reviews", "list_reviews"),
        ("POST", r"/pulls/(\d+)/reviews", "create_review"),
        ("PUT", r"/pulls/(\d+)/merge", "merge_pull"),
        ("GET", r"/issues/(\d+)/comments", "list_comments"),
        ("POST", r"/issues/(\d+)/comments", "create_comment"),
        ("PATCH", r"/issues/comments/(\d+)", "edit_comment"),
        ("POST", r"/statuses/([0-9a-f]+)", "create_status"),
        ("GET", r"/commits/([0-9a-f]+)/statuses", "list_statuses"),
        ("GET", r"/branches/(.+)/protection", "get_protection"),
        ("GET", r"/rules/branches/(.+)", "branch_rules"),
        ("GET", r"/rulesets/(\d+)", "get_ruleset"),
    )

    # -- repository and refs -------------------------------------------------------
    def get_repo(self, query: dict[str, str], body: Any) -> Response:
        return 200, self.repo_json(), {}

    def get_ref(self, query: dict[str, str], body: Any, branch: str) -> Response:
        sha = self.ref(branch)
        return (200, self.ref_json(branch, sha), {}) if sha else self.not_found()

    # -- pull requests -------------------------------------------------------------
    def _pull_out(self, pull: dict[str, Any]) -> dict[str, Any]:
        head = self.ref(pull["head"]) if pull["state"] == "open" else pull.get("closed_head")
        return self.pull_json(pull, head, self.ref(pull["base"]))

    def list_pulls(self, query: dict[str, str], body: Any) -> Response:
        state = query.get("state", "open")
        pulls = [
            self._pull_out(p)
            for _, p in sorted(self.state.pulls.items(), reverse=True)
            if state in ("all", p["state"])
            and ("head" not in query or query["head"] == f"{self.owner}:{p['head']}")
            and ("base" not in query or query["base"] == p["base"])
        ]
        return self.page(f"/repos/{self.full_name}/pulls", query, pulls)

    def create_pull(self, query: dict[str, str], body: Any) -> Response:
        head, base = body.get("head"), body.get("base")
        if not body.get("title"):
            return self.invalid(
                "Validation Failed",
                [{"resource": "PullRequest", "field": "title", "code": "missing_field"}],
            )
        for name, branch in (("head", head), ("base", base)):
            if not isinstance(branch, str) or self.ref(branch) is None:
                return self.invalid(
                    "Validation Failed",
                    [{"resource": "PullRequest", "field": name, "code": "invalid"}],
                )
        if any(
            p["head"] == head and p["base"] == base and p["state"] == "open"
            for p in self.state.pulls.values()
        ):
            message = f"A pull request already exists for {self.owner}:{head}."
            return self.invalid(
                "Validation Failed",
                [{"resource": "PullRequest", "code": "custom", "message": message}],
            )
        if not self.git("rev-list", f"refs/heads/{base}..refs/heads/{head}"):
            return self.invalid(
                "Validation Failed",
                [
                    {
                        "resource": "PullRequest",
                        "code": "custom",
                        "message": f"No commits between {base} and {head}",
                    }
                ],
            )
        number = max(self.state.pulls, default=0) + 1
        pull = {"number": number, "state": "open", "title": body["title"], "body": body.get("body"),
                "head": head, "base": base, "merged": False}  # fmt: skip
        self.state.pulls[number] = pull
        self.state.reviews[number] = []
        return 201, self._pull_out(pull), {}

    def get_pull(self, query: dict[str, str], body: Any, n: str) -> Response:
        pull = self.state.pulls.get(int(n))
        return (200, self._pull_out(pull), {}) if pull else self.not_found()

    def update_pull(self, query: dict[str, str], body: Any, n: str) -> Response:
        pull = self.state.pulls.get(int(n))
        if pull is None:
            return self.not_found()
        for key in ("title", "body", "state"):
            if key in body:
                pull[key] = body[key]
        return 200, self._pull_out(pull), {}

    # -- reviews -------------------------------------------------------------------
    def list_reviews(self, query: dict[str, str], body: Any, n: str) -> Response:
        if int(n) not in self.state.pulls:
            return self.not_found()
        items = [r["json"] for r in self.state.reviews[int(n)]]
        return self.page(f"/repos/{self.full_name}/pulls/{n}/reviews", query, items)

    def _bad_comment(self, comment: Any, spans: dict[str, list[tuple[int, int, int, int]]]) -> bool:
        if not isinstance(comment, dict) or not comment.get("path") or not comment.get("body"):
            return True
        if "position" in comment or not isinstance(comment.get("line"), int):
            return True
        side = comment.get("side", "RIGHT")
        line, start = comment["line"], comment.get("start_line")
        if start is not None and (comment.get("start_side") is None or not start < line):
            return True  # GitHub needs start_side for a multi-line comment
        first = start if start is not None else line
        for old_start, old_count, new_start, new_count in spans.get(comment["path"], []):
            begin, count = (new_start, new_count) if side == "RIGHT" else (old_start, old_count)
            if count and begin <= first and line < begin + count:
                return False
        return True

    def create_review(self, query: dict[str, str], body: Any, n: str) -> Response:
        pull = self.state.pulls.get(int(n))
        if pull is None:
            return self.not_found()
        event, comments = body.get("event"), body.get("comments") or []
        if event not in (None, "APPROVE", "REQUEST_CHANGES", "COMMENT"):
            return self.invalid("Unprocessable Entity", [f"event {event} is not valid"])
        if event in ("APPROVE", "REQUEST_CHANGES"):  # the token opened this pull request
            verb = "approve" if event == "APPROVE" else "request changes on"
            return self.invalid("Unprocessable Entity", [f"Can not {verb} your own pull request"])
        if event == "COMMENT" and not body.get("body") and not comments:
            return self.invalid("Unprocessable Entity", ["Review Comment is missing body"])
        commit = body.get("commit_id") or self.ref(pull["head"])
        if not self.has_commit(str(commit)):
            return self.invalid("Unprocessable Entity", [f"No commit found for SHA: {commit}"])
        spans = self.hunks(f"refs/heads/{pull['base']}", str(commit))
        if any(self._bad_comment(c, spans) for c in comments):
            return self.invalid("Unprocessable Entity", [BAD_LINE])
        ident = self._next()
        review = {"json": self.review_json(int(n), ident, {**body, "commit_id": commit}),
                  "event": event, "comments": comments}  # fmt: skip
        self.state.reviews[int(n)].append(review)
        return 200, review["json"], {}

    # -- merging -------------------------------------------------------------------
    def required_contexts(self, branch: str) -> set[str]:
        found: set[str] = set()
        if self.state.protection is not None:
            found |= set(self.state.protection["required_status_checks"]["contexts"])
        for rule in self._rules(branch):
            if rule["type"] == "required_status_checks":
                found |= {c["context"] for c in rule["parameters"]["required_status_checks"]}
        return found

    def merge_pull(self, query: dict[str, str], body: Any, n: str) -> Response:
        pull = self.state.pulls.get(int(n))
        if pull is None:
            return self.not_found()
        not_mergeable = (405, {"message": "Pull Request is not mergeable"}, {})
        if pull["state"] != "open":
            return not_mergeable
        method = body.get("merge_method") or "merge"
        if method not in METHOD_SETTINGS:
            return self.invalid("Validation Failed", [{"field": "merge_method", "code": "invalid"}])
        setting, label = METHOD_SETTINGS[method]
        allowed = [
            r["parameters"].get("allowed_merge_methods")
            for r in self._rules(pull["base"])
            if r["type"] == "pull_request"
        ]
        if not self.state.settings[setting] or any(
            m is not None and method not in m for m in allowed
        ):
            return 405, {"message": f"{label} are not allowed on this repository."}, {}
        head, base = self.ref(pull["head"]), self.ref(pull["base"])
        if body.get("sha") and body["sha"] != head:
            return 409, {"message": "Head branch was modified. Review and try the merge again."}, {}
        for context in sorted(self.required_contexts(pull["base"])):
            latest = [s for s in self.state.statuses.get(str(head), []) if s["context"] == context]
            if not latest or latest[-1]["state"] != "success":
                return 405, {"message": f'Required status check "{context}" is expected.'}, {}
        proc = subprocess.run(["git", "merge-tree", "--write-tree", str(base), str(head)],
                              cwd=self.git_dir, capture_output=True, text=True)  # fmt: skip
        if proc.returncode != 0:
            return not_mergeable
        title = (
            body.get("commit_title") or f"Merge pull request #{n} from {self.owner}/{pull['head']}"
        )
        text = f"{title}\n\n{body.get('commit_message') or pull['title']}"
        parents = ["-p", str(base)] + (["-p", str(head)] if method == "merge" else [])
        env = {**os.environ, "GIT_AUTHOR_NAME": "lanectl-bot", "GIT_AUTHOR_EMAIL": "bot@example.com",
               "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}  # fmt: skip
        sha = self.git("commit-tree", proc.stdout.split()[0], *parents, "-m", text, env=env)
        self.git("update-ref", f"refs/heads/{pull['base']}", sha, str(base))
        pull.update(state="closed", merged=True, merge_commit_sha=sha, closed_head=head)
        return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}, {}

    # -- issue comments ------------------------------------------------------------
    def list_comments(self, query: dict[str, str], body: Any, n: str) -> Response:
        items = [
            c
            for _, c in sorted(self.state.comments.items())
            if c["issue_url"].endswith(f"/issues/{n}")
        ]
        return self.page(f"/repos/{self.full_name}/issues/{n}/comments", query, items)

    def create_comment(self, query: dict[str, str], body: Any, n: str) -> Response:
        if int(n) not in self.state.pulls:
            return self.not_found()
        if not body.get("body"):
            return self.invalid(
                "Validation Failed",
                [{"resource": "IssueComment", "field": "body", "code": "missing_field"}],
            )
        ident = self._next()
        self.state.comments[ident] = self.comment_json(int(n), ident, body["body"])
        return 201, self.state.comments[ident], {}

    def edit_comment(self, query: dict[str, str], body: Any, ident: str) -> Response:
        comment = self.state.comments.get(int(ident))
        if comment is None:
            return self.not_found()
        comment["body"] = body.get("body") or comment["body"]
        return 200, comment, {}

    # -- commit statuses -----------------------------------------------------------
    def create_status(self, query: dict[str, str], body: Any, sha: str) -> Response:
        if not self.has_commit(sha):
            return self.invalid(
                "Validation Failed",
                [
                    {
                        "resource": "Status",
                        "code": "custom",
                        "message": f"No commit found for SHA: {sha}",
                    }
                ],
            )
        if body.get("state") not in ("error", "failure", "pending", "success"):
            return self.invalid(
                "Validation Failed", [{"resource": "Status", "field": "state", "code": "invalid"}]
            )
        if len(body.get("description") or "") > 140:
            return self.invalid(
                "Validation Failed",
                [
                    {
                        "resource": "Status",
                        "code": "custom",
                        "message": "description is too long (maximum is 140 characters)",
                    }
                ],
            )
        status = self.status_json(sha, self._next(), body)
        self.state.statuses.setdefault(sha, []).append(status)
        return 201, status, {}

    def list_statuses(self, query: dict[str, str], body: Any, sha: str) -> Response:
        items = list(reversed(self.state.statuses.get(sha, [])))
        return self.page(f"/repos/{self.full_name}/commits/{sha}/statuses", query, items)

    # -- protection and rulesets -----------------------------------------------------
    def get_protection(self, query: dict[str, str], body: Any, branch: str) -> Response:
        if not self.state.protection_readable:
            return 403, {"message": "Resource not accessible by personal access token"}, {}
        if self.state.protection is None or branch != "main":
            return self.not_found("Branch not protected")
        return 200, self.state.protection, {}

    def _matches(self, patterns: list[str], branch: str) -> bool:
        return any(
            p == "~ALL"
            or (p == "~DEFAULT_BRANCH" and branch == "main")
            or fnmatch.fnmatchcase(f"refs/heads/{branch}", p)
            for p in patterns
        )

    def _rules(self, branch: str) -> list[dict[str, Any]]:
        found = []
        for ident, ruleset in sorted(self.state.rulesets.items()):
            ref_name = ruleset["conditions"]["ref_name"]
            if ruleset["enforcement"] != "active" or not self._matches(ref_name["include"], branch):
                continue
            if self._matches(ref_name["exclude"], branch):
                continue
            for rule in ruleset["rules"]:
                found.append({**rule, "ruleset_source_type": "Repository",
                              "ruleset_source": self.full_name, "ruleset_id": ident})  # fmt: skip
        return found

    def branch_rules(self, query: dict[str, str], body: Any, branch: str) -> Response:
        return self.page(
            f"/repos/{self.full_name}/rules/branches/{branch}", query, self._rules(branch)
        )

    def get_ruleset(self, query: dict[str, str], body: Any, ident: str) -> Response:
        ruleset = self.state.rulesets.get(int(ident))
        return (200, ruleset, {}) if ruleset else self.not_found()
