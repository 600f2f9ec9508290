"""A reviewer's read-only tools: a detached checkout of the head and a read-only toolbox.

Each review gets ``<git common dir>/lanectl/worktrees/<task>.<role>``, checked
out detached at the head under review with the repository's filter drivers
switched off (as a builder's worktree is, ADR 0018), and a
:class:`~lanectl.toolbox.Toolbox` with ``write=False``: ``read_file``,
``list_files``, ``search`` and ``run`` (the configured checks and the base
branch's ``tools.commands`` only). Every call is decided by the policy engine
for the reviewer's own lane through a :class:`~lanectl.guard.Guard`, recorded
(``tool.call``), and a denial is a ``tool.denied`` event and a tool error.
Commands it runs get a private ``HOME``, no credential at all, and the Landlock
rules of the ``run`` tool (ADR 0032).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanectl import ids, isolation, ledger, sandboxrules, worktrees
from lanectl.errors import LaneError
from lanectl.guard import Guard
from lanectl.policy import Actor, load_context
from lanectl.toolbox import Toolbox, ToolSettings
from lanectl.workspace import Workspace


@dataclass(frozen=True)
class Kit:
    box: Toolbox
    worktree: Path
    settings: ToolSettings


def path_for(ws: Workspace, task: str, role: str) -> Path:
    if not ids.is_task_id(task) or not role.isalpha():
        raise LaneError(f"no review worktree for '{task}' / '{role}'")
    return ws.private_dir / "worktrees" / f"{task}.{role}"


def prepare(
    ws: Workspace, raw: Mapping[str, Any], task: str, head: str, agent: str, role: str
) -> Kit:
    """The worktree at ``head`` and the read-only toolbox for ``agent`` (call serially)."""
    path = path_for(ws, task, role)
    worktrees.remove_path(ws, path)
    worktrees.add_detached(ws, path, head)
    ctx = load_context(ws, agent, task=task, worktree=path)
    guard = Guard(ws, Actor(agent, role), ctx, task)
    settings = ToolSettings.from_config(raw)
    home = isolation.private_home(ws.private_dir, agent)
    names = {"LANECTL_TASK": task, "LANECTL_AGENT": agent, "LANECTL_WORKTREE": str(path)}
    secrets = [*ledger.secret_values(dict(raw)), *ledger.secret_values(ws.raw_config)]
    confine = sandboxrules.Settings.from_config(raw)
    rules = sandboxrules.for_agent(
        ws, confine, worktree=path, home=home, network=confine.run_network
    )
    box = Toolbox(
        guard,
        path,
        write=False,
        env=isolation.agent_env(home, names=names),  # no credential: a reviewer runs none
        redactor=isolation.Redactor(secrets),
        run_timeout_s=settings.run_timeout_s,
        output_cap=settings.output_cap,
        commands=settings.commands,
        sandbox=rules,
    )
    return Kit(box, path, settings)


def remove(ws: Workspace, task: str, role: str) -> None:
    worktrees.remove_path(ws, path_for(ws, task, role))
