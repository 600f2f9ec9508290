"""Builders are runners: one interface for every way an agent can do a task's work.

:mod:`lanectl.build` prepares a :class:`BuildJob` (worktree, prompt, scrubbed
environment, policy guard) and hands it to the runner for the agent's
provider; whatever the runner did, the same path follows — checks, a signed
commit, a signed check result (:mod:`lanectl.build`). The ``command`` runner
runs an external agent CLI; the LLM builder loop (:mod:`lanectl.runners.llm`)
is the runner for ``anthropic``, ``openai`` and ``openai-compatible``. Both
are built-ins of the same registry plugins use through :func:`register`
(STYLE §4), imported only when a build needs them.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lanectl.errors import LaneError

if TYPE_CHECKING:
    from lanectl.guard import Guard
    from lanectl.isolation import Progress, Redactor
    from lanectl.sandbox import Rules
    from lanectl.tasks import Task
    from lanectl.workspace import Workspace


@dataclass(frozen=True)
class AgentSpec:
    """One agent as the base branch's config describes it."""

    name: str
    role: str
    provider: str
    family: str
    model: str | None = None
    command: tuple[str, ...] | None = None
    credential_env: str | None = None  # its own, or its budget's
    budget: str | None = None
    timeout_s: float | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def model_label(self) -> str:
        return self.model or self.provider

    @classmethod
    def from_config(cls, name: str, raw: Mapping[str, Any]) -> AgentSpec:
        """``raw`` is the whole (validated) config: the agent and its budget."""
        agents = raw.get("agents") or {}
        agent = agents.get(name)
        if not isinstance(agent, dict):
            raise LaneError(f"no agent '{name}' in the base branch's config")
        budget = agent.get("budget")
        budgets = raw.get("budgets") or {}
        budget_cfg = budgets.get(budget) if isinstance(budget, str) else None
        credential = agent.get("credential_env") or (
            budget_cfg.get("credential_env") if isinstance(budget_cfg, dict) else None
        )
        command = agent.get("command")
        return cls(
            name=name,
            role=str(agent.get("role")),
            provider=str(agent.get("provider")),
            family=str(agent.get("family")),
            model=agent.get("model"),
            command=tuple(command) if command else None,
            credential_env=credential,
            budget=budget if isinstance(budget, str) else None,
            timeout_s=agent.get("timeout_s"),
            raw=dict(agent),
        )


@dataclass
class BuildJob:
    """Everything a runner gets for one build of one task."""

    ws: Workspace
    task: Task
    agent: AgentSpec
    worktree: Path
    prompt: str
    prompt_file: Path  # inside the worktree; removed before the commit
    env: dict[str, str]  # the scrubbed environment for every process it starts
    redactor: Redactor
    guard: Guard  # asks the policy engine, records denials and tool calls
    progress: Progress
    cancel: threading.Event  # set when the lease is lost: stop now
    timeout_s: float
    check_timeout_s: float
    on_start: Callable[[int], None] | None = None  # the agent process started (pid)
    sandbox: Rules | None = None  # Landlock rules of the agent's process and the checks
    tool_sandbox: Rules | None = None  # of what the `run` tool starts (ADR 0032)


@dataclass(frozen=True)
class RunOutcome:
    ok: bool
    reason: str  # why it failed, or a summary of what it did
    exit_code: int | None = None
    duration_s: float = 0.0
    output: str = ""  # redacted, capped
    data: Mapping[str, Any] = field(default_factory=dict)  # for the agent.finished event


class Runner(Protocol):
    def run(self, job: BuildJob) -> RunOutcome: ...


Factory = Callable[[AgentSpec], Runner]

_BUILTIN: dict[str, tuple[str, str]] = {
    "command": ("lanectl.runners.command", "CommandRunner"),
    "anthropic": ("lanectl.runners.llm", "LLMRunner"),
    "openai": ("lanectl.runners.llm", "LLMRunner"),
    "openai-compatible": ("lanectl.runners.llm", "LLMRunner"),
}
_REGISTERED: dict[str, Factory] = {}


def register(provider: str, factory: Factory) -> None:
    """Add (or replace) the runner for ``provider``: ``factory(agent)`` returns a Runner."""
    _REGISTERED[provider] = factory


def providers() -> list[str]:
    return sorted({*_BUILTIN, *_REGISTERED})


def for_agent(agent: AgentSpec) -> Runner:
    factory = _REGISTERED.get(agent.provider)
    if factory is None:
        target = _BUILTIN.get(agent.provider)
        if target is None:
            raise LaneError(
                f"no builder runner for provider '{agent.provider}' (agent {agent.name}) yet",
                hint="configure a builder with provider: command (docs/agents.md), or pass --agent",
            )
        factory = getattr(importlib.import_module(target[0]), target[1])
    return factory(agent)
