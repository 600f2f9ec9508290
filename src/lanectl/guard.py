"""The policy engine as a builder meets it: every action decided first, denials recorded.

A :class:`Guard` is one agent working on one task in its worktree. Runners
and the build path ask it before each action they take or broker for the
agent (run a command, use a credential, commit, push); it asks
:func:`lanectl.policy.decide` with the base branch's policy and, when the
answer is no, records a ``tool.denied`` event (SPEC §5.1). It also records
the ``tool.call`` events the watchdog reads to tell a looping builder.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lanectl import ledger, policy, state
from lanectl.policy import Action, Actor, Decision, PolicyContext
from lanectl.workspace import Workspace


def call_digest(tool: str, args: Any) -> str:
    """What makes two tool calls "the same call" (for the watchdog)."""
    text = json.dumps([tool, args], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Guard:
    ws: Workspace
    actor: Actor
    ctx: PolicyContext
    task: str

    def decide(self, action: Action) -> Decision:
        """Decide without recording (to plan, or for a dry run)."""
        return policy.decide(self.actor, action, self.ctx)

    def check(self, action: Action) -> Decision:
        """Decide, and write a denial to the ledger."""
        decision = self.decide(action)
        if not decision.allowed:
            with state.change(
                self.ws, self.actor.name, self.actor.role, f"denied {action.kind}", self.task
            ) as change:
                policy.enforce(change, self.actor, action, self.ctx)
        return decision

    def deny(self, action: Action, rule: str, reason: str) -> Decision:
        """Record a denial decided outside the policy engine (a tool's own limit, such as
        the ``run`` allow-list), in the same ``tool.denied`` shape."""
        decision = Decision(False, rule, reason, (action.describe(),))
        with state.change(
            self.ws, self.actor.name, self.actor.role, f"denied {action.kind}", self.task
        ) as change:
            ledger.record(
                change,
                "tool.denied" if self.actor.role in policy.AGENT_ROLES else "gate.blocked",
                task=action.task or self.task,
                attempted=decision.attempted,
                result="blocked",
                reason=reason,
                data={"rule": rule, "action": action.kind},
            )
        return decision

    def tool_call(self, tool: str, args: Any, data: Mapping[str, Any] | None = None) -> None:
        """Record one tool call the agent made (``tool.call``), redacted like every event."""
        with state.change(self.ws, self.actor.name, self.actor.role, f"{tool}", self.task) as ch:
            ledger.record(
                ch,
                "tool.call",
                data={"tool": tool, "call": call_digest(tool, args), **(data or {})},
            )
