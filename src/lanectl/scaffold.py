"""``lanectl init``: scaffold policy files and start the state branch; idempotent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from lanectl import config, git, ledger, people, state, templates, workspace
from lanectl.errors import LaneError


@dataclass
class InitResult:
    root: Path
    base_branch: str
    forge: str
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    state_started: bool = False
    agent_keys: list[str] = field(default_factory=list)  # allowed_signers lines added

    @property
    def changed(self) -> bool:
        return bool(self.created) or self.state_started or bool(self.agent_keys)


def _write_new(root: Path, rel: str, text: str, result: InitResult) -> None:
    path = root / rel
    if path.exists():
        result.kept.append(rel)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    state.atomic_write(path, text)
    result.created.append(rel)


def init(repo: Path | None, *, forge: str = "local", forge_repo: str | None = None,
         commit: bool = True) -> InitResult:  # fmt: skip
    top, common = workspace.find_root((repo or Path.cwd()).resolve())
    if forge not in ("local", "github"):
        raise LaneError(f"--forge must be local or github (got '{forge}')")
    if forge == "github" and not forge_repo:
        raise LaneError("--forge github needs --repo OWNER/NAME")
    existing = config.read_raw(top)
    base = (
        config.settings(existing).base_branch
        if existing is not None
        else git.current_branch(top) or "main"
    )
    forge_yaml = (
        json.dumps({"kind": "github", "repo": forge_repo, "token_env": "GITHUB_TOKEN"})
        .replace('"', "")
        .replace(",", ", ")
        if forge == "github"
        else "{kind: local}"
    )
    result = InitResult(top, base, forge)
    email = git.config_get("user.email", top)
    makers = f"[{email}]" if email else "[]"
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    _write_new(
        top,
        config.CONFIG_PATH,
        templates.fill(templates.shipped("config.yaml"), base_branch=base, forge=forge_yaml),
        result,
    )
    _write_new(top, ".lanes/allowed_signers", templates.shipped("allowed_signers"), result)
    _write_new(
        top,
        f"{workspace.DECISIONS_DIR}/0001-record-architecture-decisions.md",
        templates.fill(templates.shipped("adr-0001.md"), date=today, decision_makers=makers),
        result,
    )
    result.agent_keys = people.provision_agent_keys(top, common)
    ws = workspace.open_workspace(top, commit=commit)
    if not ws.state_ready():
        result.state_started = True
    if result.changed:
        actor, role = workspace.actor(ws)
        with state.change(ws, actor, role, "lanectl init") as change:
            ledger.record(
                change,
                "lanectl.initialised",
                data={
                    "created": result.created,
                    "base_branch": base,
                    "forge": forge,
                    "agent_keys": result.agent_keys,
                },
            )
    return result
