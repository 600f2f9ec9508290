"""JSON shaped like GitHub's own (REST, 2022-11-28), every URL pointing at the fake."""

from __future__ import annotations

from typing import Any

NOW = "2026-11-24T10:00:00Z"
BOT = "lanectl-bot"


class Shapes:
    url: str
    full_name: str
    owner: str
    state: Any

    def api(self, path: str) -> str:
        return f"{self.url}/repos/{self.full_name}{path}"

    def user_json(self, login: str = BOT, ident: int = 1) -> dict[str, Any]:
        return {
            "login": login,
            "id": ident,
            "node_id": f"U_{ident}",
            "avatar_url": f"{self.url}/avatars/{login}",
            "url": f"{self.url}/users/{login}",
            "html_url": f"{self.url}/{login}",
            "type": "User",
            "site_admin": False,
        }

    def repo_json(self) -> dict[str, Any]:
        name = self.full_name.split("/")[1]
        return {
            "id": 42,
            "node_id": "R_42",
            "name": name,
            "full_name": self.full_name,
            "owner": self.user_json(self.owner, 2),
            "private": True,
            "html_url": f"{self.url}/{self.full_name}",
            "description": None,
            "fork": False,
            "url": self.api(""),
            "pulls_url": self.api("/pulls{/number}"),
            "issues_url": self.api("/issues{/number}"),
            "statuses_url": self.api("/statuses/{sha}"),
            "git_refs_url": self.api("/git/refs{/sha}"),
            "branches_url": self.api("/branches{/branch}"),
            "default_branch": "main",
            "permissions": {"admin": True, "maintain": True, "push": True, "pull": True},
            "delete_branch_on_merge": False,
            **self.state.settings,
        }

    def ref_json(self, branch: str, sha: str) -> dict[str, Any]:
        return {
            "ref": f"refs/heads/{branch}",
            "node_id": f"REF_{branch}",
            "url": self.api(f"/git/refs/heads/{branch}"),
            "object": {"type": "commit", "sha": sha, "url": self.api(f"/git/commits/{sha}")},
        }

    def branch_side(self, branch: str, sha: str | None) -> dict[str, Any]:
        return {
            "label": f"{self.owner}:{branch}",
            "ref": branch,
            "sha": sha,
            "user": self.user_json(self.owner, 2),
            "repo": self.repo_json(),
        }

    def pull_json(
        self, pull: dict[str, Any], head_sha: str | None, base_sha: str | None
    ) -> dict[str, Any]:
        n = pull["number"]
        return {
            "url": self.api(f"/pulls/{n}"),
            "id": 5000 + n,
            "node_id": f"PR_{n}",
            "html_url": f"{self.url}/{self.full_name}/pull/{n}",
            "diff_url": f"{self.url}/{self.full_name}/pull/{n}.diff",
            "patch_url": f"{self.url}/{self.full_name}/pull/{n}.patch",
            "issue_url": self.api(f"/issues/{n}"),
            "commits_url": self.api(f"/pulls/{n}/commits"),
            "review_comments_url": self.api(f"/pulls/{n}/comments"),
            "review_comment_url": self.api("/pulls/comments{/number}"),
            "comments_url": self.api(f"/issues/{n}/comments"),
            "statuses_url": self.api(f"/statuses/{head_sha}"),
            "number": n,
            "state": pull["state"],
            "locked": False,
            "title": pull["title"],
            "user": self.user_json(),
            "body": pull["body"],
            "labels": [],
            "created_at": NOW,
            "updated_at": NOW,
            "closed_at": NOW if pull["state"] == "closed" else None,
            "merged_at": NOW if pull["merged"] else None,
            "merge_commit_sha": pull.get("merge_commit_sha"),
            "draft": False,
            "head": self.branch_side(pull["head"], head_sha),
            "base": self.branch_side(pull["base"], base_sha),
            "_links": {
                "self": {"href": self.api(f"/pulls/{n}")},
                "html": {"href": f"{self.url}/{self.full_name}/pull/{n}"},
                "issue": {"href": self.api(f"/issues/{n}")},
            },
            "author_association": "OWNER",
            "merged": pull["merged"],
            "mergeable": True,
            "mergeable_state": "clean",
            "merged_by": self.user_json() if pull["merged"] else None,
            "comments": 0,
            "review_comments": 0,
            "commits": 1,
            "additions": 1,
            "deletions": 0,
            "changed_files": 1,
        }

    def review_json(self, n: int, ident: int, body: Any) -> dict[str, Any]:
        states = {
            "APPROVE": "APPROVED",
            "REQUEST_CHANGES": "CHANGES_REQUESTED",
            "COMMENT": "COMMENTED",
        }
        return {
            "id": ident,
            "node_id": f"PRR_{ident}",
            "user": self.user_json(),
            "body": body.get("body") or "",
            "state": states.get(body.get("event") or "", "PENDING"),
            "html_url": f"{self.url}/{self.full_name}/pull/{n}#pullrequestreview-{ident}",
            "pull_request_url": self.api(f"/pulls/{n}"),
            "author_association": "OWNER",
            "_links": {
                "html": {"href": f"{self.url}/{self.full_name}/pull/{n}#pullrequestreview-{ident}"},
                "pull_request": {"href": self.api(f"/pulls/{n}")},
            },
            "submitted_at": NOW,
            "commit_id": body.get("commit_id"),
        }

    def comment_json(self, n: int, ident: int, text: str) -> dict[str, Any]:
        return {
            "id": ident,
            "node_id": f"IC_{ident}",
            "url": self.api(f"/issues/comments/{ident}"),
            "html_url": f"{self.url}/{self.full_name}/pull/{n}#issuecomment-{ident}",
            "issue_url": self.api(f"/issues/{n}"),
            "body": text,
            "user": self.user_json(),
            "created_at": NOW,
            "updated_at": NOW,
            "author_association": "OWNER",
        }

    def status_json(self, sha: str, ident: int, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.api(f"/statuses/{sha}"),
            "avatar_url": f"{self.url}/avatars/{BOT}",
            "id": ident,
            "node_id": f"SC_{ident}",
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context") or "default",
            "created_at": NOW,
            "updated_at": NOW,
            "creator": self.user_json(),
        }

    def protection_json(
        self,
        contexts: list[str],
        enforce_admins: bool,
        linear: bool,
        force_pushes: bool,
        bypass_users: list[str],
    ) -> dict[str, Any]:
        base = self.api("/branches/main/protection")
        return {
            "url": base,
            "required_status_checks": {
                "url": f"{base}/required_status_checks",
                "strict": True,
                "contexts": contexts,
                "contexts_url": f"{base}/required_status_checks/contexts",
                "checks": [{"context": c, "app_id": None} for c in contexts],
            },
            "required_pull_request_reviews": {
                "url": f"{base}/required_pull_request_reviews",
                "dismiss_stale_reviews": True,
                "require_code_owner_reviews": False,
                "required_approving_review_count": 0,
                "require_last_push_approval": False,
                "bypass_pull_request_allowances": {
                    "users": [self.user_json(u, 100 + i) for i, u in enumerate(bypass_users)],
                    "teams": [],
                    "apps": [],
                },
            },
            "enforce_admins": {"url": f"{base}/enforce_admins", "enabled": enforce_admins},
            "required_linear_history": {"enabled": linear},
            "allow_force_pushes": {"enabled": force_pushes},
            "allow_deletions": {"enabled": False},
            "block_creations": {"enabled": False},
            "required_conversation_resolution": {"enabled": False},
            "lock_branch": {"enabled": False},
            "allow_fork_syncing": {"enabled": False},
        }

    def ruleset_json(
        self,
        ident: int,
        name: str,
        rules: list[dict[str, Any]],
        bypass_actors: list[dict[str, Any]],
        include: list[str],
        enforcement: str,
    ) -> dict[str, Any]:
        return {
            "id": ident,
            "name": name,
            "target": "branch",
            "source_type": "Repository",
            "source": self.full_name,
            "enforcement": enforcement,
            "bypass_actors": bypass_actors,
            "current_user_can_bypass": "never",
            "node_id": f"RRS_{ident}",
            "_links": {"self": {"href": self.api(f"/rulesets/{ident}")}},
            "conditions": {"ref_name": {"include": include, "exclude": []}},
            "rules": rules,
            "created_at": NOW,
            "updated_at": NOW,
        }
