"""Building gated repositories for tests: real keys, real signed commits and records.

An ``Org`` is a repository after ``lanectl init`` with a human (alice) added by
``lanectl human add`` and everything committed to main; the agents of the
scaffolded config (builder-claude/anthropic, reviewer-gpt/openai,
security-gemini/google) have lanectl-managed keys. Helpers make the evidence a
gate reads, exactly as the documented formats say (docs/records.md).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from conftest import Cli, git
from lanectl import evidence, gatefacts, keys, ledger, state
from lanectl.workspace import Workspace, open_workspace

BODY = "## Goal\nDo the thing.\n\n## Acceptance\n- [ ] the thing is done\n"


def keygen(path: Path, comment: str) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


class Org:
    def __init__(self, repo: Path, cli: Cli, tmp: Path) -> None:
        self.repo = repo
        self.cli = cli
        self.tmp = tmp
        self.human_keys: dict[str, Path] = {}
        self.add_human("alice", "alice@example.com")
        git(repo, "add", ".lanes", "docs")
        git(repo, "commit", "-q", "-m", "Add alice")

    @property
    def ws(self) -> Workspace:
        return open_workspace(self.repo)

    # -- people and policy -------------------------------------------------
    def add_human(self, name: str, email: str) -> Path:
        key = keygen(self.tmp / f"{name}_key", email)
        self.cli("human", "add", name, "--email", email, "--key", f"{key}.pub", ok=True)
        self.human_keys[name] = key
        return key

    def agent_key(self, agent: str) -> Path:
        found = keys.find_key(self.ws.common_dir, agent)
        assert found is not None, agent
        return found.private_path

    def commit_policy(self, message: str = "policy") -> None:
        git(self.repo, "add", ".lanes", "docs")
        git(self.repo, "commit", "-q", "-m", message)

    # -- tasks ---------------------------------------------------------------
    def task(self, title: str = "Retry fetch", *extra: str, ready: bool = True) -> str:
        body = self.tmp / "body.md"
        body.write_text(BODY)
        out = self.cli(
            "--json", "task", "new", title, "--body-file", str(body), *extra, ok=True
        ).out
        task_id = str(json.loads(out)["id"])
        if ready:
            self.cli("task", "ready", task_id, ok=True)
        return task_id

    def signed_commit(
        self,
        branch: str,
        files: dict[str, str],
        key: Path,
        message: str,
        *,
        start: str = "main",
        author: tuple[str, str] = ("lanectl builder", "builder@lanectl.invalid"),
    ) -> str:
        """Commit ``files`` on ``branch`` (created from ``start``) signed with ``key``."""
        wt = self.tmp / f"wt-{branch.replace('/', '-')}"
        if not wt.exists():
            exists = git(self.repo, "branch", "--list", branch)
            args = ["worktree", "add", "-q", str(wt), branch] if exists else [
                "worktree", "add", "-q", "-b", branch, str(wt), start]  # fmt: skip
            git(self.repo, *args)
        for rel, text in files.items():
            path = wt / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(wt, "add", "-A")
        git(
            wt,
            "-c", "gpg.format=ssh", "-c", f"user.signingkey={key}",
            "-c", f"user.name={author[0]}", "-c", f"user.email={author[1]}",
            "commit", "-q", "-S", "--allow-empty", "-m", message,
        )  # fmt: skip
        return git(wt, "rev-parse", "HEAD")

    def build(self, task_id: str, files: dict[str, str], agent: str = "builder-claude") -> str:
        return self.signed_commit(
            f"lanes/{task_id}",
            files,
            self.agent_key(agent),
            f"Build {task_id}\n\nLane-Task: {task_id}\nLane-Actor: {agent}\nLane-Model: test",
        )

    # -- evidence ------------------------------------------------------------
    def record(self, kind: str, record: dict[str, Any], agent: str) -> object:
        ws = self.ws
        with state.change(ws, agent, str(record["role"]), f"{kind} {record['task']}") as change:
            return evidence.write_signed_record(ws, change, kind, record, agent)

    def check(
        self, task_id: str, head: str, *, passed: bool = True, agent: str = "builder-claude"
    ) -> object:
        run = {"command": "pytest -q", "exit_code": 0 if passed else 1, "duration_s": 1.0,
               "output_sha256": "0" * 64}  # fmt: skip
        return self.record(
            "check",
            {
                "version": 1,
                "task": task_id,
                "head": head,
                "agent": agent,
                "role": "builder",
                "checks": [run],
                "passed": passed,
                "ts": ledger.now_ts(),
            },
            agent,
        )

    def review(
        self,
        task_id: str,
        head: str,
        agent: str,
        role: str,
        *,
        verdict: str = "pass",
        findings: list[dict[str, Any]] | None = None,
        skipped: list[str] | None = None,
        family: str | None = None,
        diff: str | None = None,
    ) -> object:
        families = {
            "reviewer-gpt": "openai",
            "security-gemini": "google",
            "builder-claude": "anthropic",
        }
        ws = self.ws
        return self.record(
            "review",
            {
                "version": 1,
                "task": task_id,
                "head": head,
                "agent": agent,
                "role": role,
                "family": family or families.get(agent, "openai"),
                "model": "test-model",
                "prompt_sha256": "1" * 64,
                "diff_sha256": diff or gatefacts.diff_sha256(ws.root, "main", head),
                "verdict": verdict,
                "coverage": {"files_reviewed": 1, "files_skipped": skipped or []},
                "findings": findings or [],
                "ts": ledger.now_ts(),
            },
            agent,
        )

    def reviewed(self, task_id: str, head: str) -> None:
        """Checks green and correctness + security reviews passing at ``head``."""
        self.check(task_id, head)
        self.review(task_id, head, "reviewer-gpt", "reviewer")
        self.review(task_id, head, "security-gemini", "security")

    # -- approval --------------------------------------------------------------
    def approval_commit(
        self,
        task_id: str,
        *,
        key: Path | None = None,
        parent: str | None = None,
        tier: str = "medium",
        approves: str | None = None,
        names_task: str | None = None,
        tree_from: str | None = None,
    ) -> str:
        """A hand-made approval commit (what `lanectl approve` makes), for forgeries too."""
        branch = f"lanes/{task_id}"
        head = parent or git(self.repo, "rev-parse", branch)
        tree = git(self.repo, "rev-parse", f"{tree_from or head}^{{tree}}")
        message = (
            f"Approve {names_task or task_id}\n\nLane-Task: {names_task or task_id}\n"
            f"Lane-Approves: {approves or head}\nLane-Tier: {tier}\nLane-Gate: {'0' * 64}\n"
        )
        sha = git(
            self.repo,
            "-c", "gpg.format=ssh", "-c", f"user.signingkey={key or self.human_keys['alice']}",
            "commit-tree", "-S", tree, "-p", head, "-m", message,
        )  # fmt: skip
        git(self.repo, "update-ref", f"refs/heads/{branch}", sha)
        return sha

    def gate(self, task_id: str) -> dict[str, Any]:
        result = self.cli("--json", "gate", task_id)
        assert result.code in (0, 3), result.err
        return dict(json.loads(result.out))

    @staticmethod
    def stage(report: dict[str, Any], name: str) -> dict[str, Any]:
        return next(s for s in report["stages"] if s["stage"] == name)

    # -- the human's commands --------------------------------------------------
    def eligible(self, files: dict[str, str], *extra: str, title: str = "Retry fetch") -> str:
        """A task built by builder-claude, with green checks and passing reviews."""
        tid = self.task(title, *extra)
        head = self.build(tid, files)
        self.reviewed(tid, head)
        return tid

    def approve(self, task_id: str, *extra: str, key: Path | None = None) -> Any:
        """`lanectl approve ID --yes --key KEY`, as alice runs it by default."""
        signing = key or self.human_keys["alice"]
        return self.cli("approve", task_id, "--yes", "--key", str(signing), *extra)

    def events(self, kind: str) -> list[dict[str, Any]]:
        out = self.cli("log", "--kind", kind, "--json", ok=True).out
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def standing_commit(
        self, paths: str, until: str, *, key: Path | None = None, branch: str = "main"
    ) -> str:
        """A hand-made standing approval on ``branch`` (an expired one, for instance)."""
        tip = git(self.repo, "rev-parse", branch)
        message = (
            f"Standing approval\n\nLane-Standing-Paths: {paths}\nLane-Standing-Until: {until}\n"
        )
        sha = git(
            self.repo,
            "-c", "gpg.format=ssh", "-c", f"user.signingkey={key or self.human_keys['alice']}",
            "commit-tree", "-S", f"{tip}^{{tree}}", "-p", tip, "-m", message,
        )  # fmt: skip
        git(self.repo, "update-ref", f"refs/heads/{branch}", sha, tip)
        return sha
