"""The one policy decision (SPEC §5): may this actor take this action?

:func:`decide` is pure over its inputs (plus resolving symlinks under the task
worktree): the built-in red rules of SPEC §5.2 first — they bind every agent,
the security agent and lanectl's own automation included — then the base
branch's ``policy.red_rules``, then the capability table of SPEC §5.1.
:func:`enforce` decides and writes every denial to the ledger in the essay's
``gate_event`` shape. Every feature that acts or brokers an action for an
actor asks here and nowhere else (ADR 0008).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lanectl import cmdscan, policyrules
from lanectl.cmdscan import Finding
from lanectl.policybase import (
    NO_POLICY,
    SYSTEM,
    PolicyContext,
    context_from_config,
    load_base_config,
    load_context,
)

if TYPE_CHECKING:
    from lanectl.state import Change

__all__ = [
    "NO_POLICY",
    "Action",
    "Actor",
    "Decision",
    "Explanation",
    "PolicyContext",
    "context_from_config",
    "decide",
    "enforce",
    "explain",
    "load_base_config",
    "load_context",
]  # fmt: skip

AGENT_ROLES = ("builder", "reviewer", "security", "designer")
ROLES = (*AGENT_ROLES, "human", SYSTEM)
KINDS = ("run", "read", "write", "commit", "push", "merge", "approve", "record_review", "veto",
         "change_policy", "credential", "network")  # fmt: skip
EVERYONE = frozenset(ROLES)
# The capability table of SPEC §5.1: kind → (what it is, roles that may).
CAPABILITIES: dict[str, tuple[str, frozenset[str]]] = {
    "read": ("read the repository", EVERYONE),
    "run": ("run checks and allow-listed commands", EVERYONE),
    "credential": ("use its own credential", EVERYONE),
    "network": ("reach the configured providers", EVERYONE),
    "write": ("write files in its own task worktree", frozenset({"builder", "human"})),
    "commit": ("commit to its own task branch", frozenset({"builder", "human"})),
    "push": ("push its own branch", frozenset({"builder", "human", SYSTEM})),
    "record_review": ("record review findings",
                      frozenset({"reviewer", "security", "designer", "human"})),
    "veto": ("veto a task", frozenset({"security", "human"})),
    "approve": ("approve (a signed approval commit)", frozenset({"human"})),
    "merge": ("merge into the base branch, with `lanectl merge`", frozenset({"human"})),
    "change_policy": ("change .lanes/ policy, keys and config (a high-tier change)",
                      frozenset({"human"})),
}  # fmt: skip
# When one action trips several rules, the most specific one is named first.
PRIORITY = {rule: rank for rank, rule in enumerate((
    cmdscan.CREDENTIAL, cmdscan.OUTSIDE_PIPELINE, cmdscan.BRANCH, cmdscan.MERGE,
    cmdscan.SECRET_FILE, cmdscan.NETWORK, cmdscan.OUTSIDE_WORKTREE, cmdscan.CHANGE_POLICY,
    cmdscan.DOUBT,
))}  # fmt: skip
NEXT_STEP = {
    "approve": "a human approves with `lanectl approve <task>` in their own terminal",
    "merge": "a human merges with `lanectl merge <task>` after the gate holds",
    "change_policy": "propose the change in a task; a human takes it through the gate",
    "write": "only the task's builder writes in its worktree; reviewers record findings",
    "commit": "only the task's builder commits, to lanes/<task>",
    "push": "only the task's builder pushes, its own branch lanes/<task>",
    "veto": "record a finding with severity blocker; the security lane decides on vetoes",
    "record_review": "reviews come from the reviewer, security and designer lanes",
}


@dataclass(frozen=True)
class Actor:
    name: str
    role: str  # builder | reviewer | security | designer | human | lanectl


@dataclass(frozen=True)
class Action:
    kind: str  # one of KINDS
    paths: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    credential: str | None = None
    ref: str | None = None
    host: str | None = None
    task: str | None = None

    def describe(self) -> str:
        shown = {
            "run": f"run `{shlex.join(self.argv)}`",
            "credential": f"use credential {self.credential}",
            "network": f"connect to {self.host}",
            "push": f"push {self.ref or '?'} to {self.host or 'a remote'}",
            "commit": f"commit to {self.ref or 'the checked-out branch'}",
        }.get(self.kind)
        if shown is None:
            shown = self.kind.replace("_", " ")
            target = ", ".join(self.paths) or self.task or self.ref
            shown += f" {target}" if target else ""
        return shown

    def to_json(self) -> dict[str, Any]:
        found = {k: v for k, v in self.__dict__.items() if v not in ((), None)}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in found.items()}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule: str  # the rule that decided: red.*, user.<name>, lane.<kind>, policy.*, actor.*
    reason: str
    attempted: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "rule": self.rule,
            "reason": self.reason,
            "attempted": list(self.attempted),
        }


def _deny(rule: str, reason: str, action: Action) -> Decision:
    return Decision(False, rule, reason, (action.describe(),))


def decide(actor: Actor, action: Action, ctx: PolicyContext) -> Decision:
    """Allow or deny ``action`` for ``actor``, naming the rule that decided and why."""
    if ctx.refusal:
        return _deny("policy.missing", ctx.refusal, action)
    configured = ctx.role_of(actor.name)
    if configured is None:
        return _deny(
            "actor.unknown",
            f"'{actor.name}' is not an agent or human in {ctx.base_branch}'s "
            ".lanes/config.yaml; add it with `lanectl agent add` or `lanectl human add`",
            action,
        )
    if configured != actor.role or actor.role not in ROLES:
        return _deny(
            "actor.role",
            f"{actor.name} is a {configured} in {ctx.base_branch}'s config, not a {actor.role}",
            action,
        )
    if actor.name != ctx.actor_name:
        return _deny(
            "actor.context",
            f"this policy context is for {ctx.actor_name}, not {actor.name}",
            action,
        )
    if action.kind not in KINDS:
        return _deny("action.unknown", f"unknown action '{action.kind}'", action)
    facts = ctx.facts_for(actor.name, actor.role)
    findings = policyrules.red_findings(actor, action, ctx, facts)
    if actor.role == "human":  # humans change policy (high tier) and approve: their lane
        findings = [f for f in findings if f.rule != cmdscan.CHANGE_POLICY]
    if findings:
        findings.sort(key=lambda f: PRIORITY.get(f.rule, len(PRIORITY)))
        attempted = tuple(dict.fromkeys(f.attempted for f in findings))
        return Decision(False, findings[0].rule, _why(findings, actor), attempted)
    capability = _capability(actor, action, ctx)
    if capability is not None:
        return capability
    what, _ = CAPABILITIES[action.kind]
    return Decision(
        True,
        f"lane.{action.kind}",
        f"the {actor.role} lane may {what}; no red rule applies",
        (action.describe(),),
    )


def enforce(
    change: Change, actor: Actor, action: Action, ctx: PolicyContext, *, kind: str | None = None
) -> Decision:
    """Decide, and record every denial: ``tool.denied`` for agents, else ``gate.blocked``."""
    decision = decide(actor, action, ctx)
    if not decision.allowed:
        from lanectl import ledger

        ledger.record(
            change,
            kind or ("tool.denied" if actor.role in AGENT_ROLES else "gate.blocked"),
            actor=actor.name,
            role=actor.role,
            task=action.task or ctx.task,
            attempted=decision.attempted,
            result="blocked",
            reason=decision.reason,
            data={"rule": decision.rule, "action": action.kind},
        )
    return decision


def _why(findings: list[Finding], actor: Actor) -> str:
    first = findings[0]
    more = f" (and {len(findings) - 1} more finding(s))" if len(findings) > 1 else ""
    if first.rule.startswith("user."):
        binds = "a policy rule of the base branch; it binds every actor"
    elif actor.role == "human":
        binds = (
            "a red rule: through lanectl a human needs a high-tier approval for this, and "
            "lanectl never runs it itself; run it yourself if it is right"
        )
    elif actor.role == SYSTEM:
        binds = "a built-in red rule; it binds lanectl's own automation too"
    else:
        binds = (
            "a built-in red rule; the same red rules apply to every lane, "
            f"the {actor.role} lane included"
        )
    return f"{first.reason}{more} [{binds}]"


# -- the capability table ----------------------------------------------------------------


def _capability(actor: Actor, action: Action, ctx: PolicyContext) -> Decision | None:
    what, roles = CAPABILITIES[action.kind]
    role = actor.role
    if role not in roles:
        may = ", ".join(r for r in ROLES if r in roles)
        hint = NEXT_STEP.get(action.kind, "")
        return _deny(
            f"lane.{action.kind}",
            f"the {role} lane may not {what} (only: {may})" + (f"; {hint}" if hint else ""),
            action,
        )
    if role != "builder" or action.kind not in ("write", "commit", "push"):
        return None
    if ctx.task is None or ctx.worktree is None:
        return _deny(
            f"lane.{action.kind}",
            f"a builder may {what} only while working on a task in its worktree (no task given)",
            action,
        )
    if action.task not in (None, ctx.task):
        return _deny(
            f"lane.{action.kind}",
            f"{action.task} is not this builder's task ({ctx.task}); it works only on its own",
            action,
        )
    if (
        action.kind in ("commit", "push")
        and action.ref not in (None, ctx.own_branch)
        and (action.ref != f"refs/heads/{ctx.own_branch}")
    ):
        return _deny(f"lane.{action.kind}", f"a builder may {what} ({ctx.own_branch}) only", action)
    return None


# -- explain: what `lanectl policy explain` shows -----------------------------------------


@dataclass(frozen=True)
class Explanation:
    actor: Actor
    base_branch: str
    task: str | None
    checks: tuple[tuple[Action, Decision], ...]

    @property
    def allowed(self) -> bool:
        return all(decision.allowed for _, decision in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "actor": self.actor.name,
            "role": self.actor.role,
            "task": self.task,
            "base_branch": self.base_branch,
            "allowed": self.allowed,
            "decisions": [
                {"action": action.to_json(), **decision.to_json()}
                for action, decision in self.checks
            ],
        }


def explain(ctx: PolicyContext, actions: Sequence[Action]) -> Explanation:
    """Decide each action for the context's actor; records nothing."""
    role = ctx.role_of(ctx.actor_name) or "unknown"
    actor = Actor(ctx.actor_name, role)
    return Explanation(
        actor, ctx.base_branch, ctx.task, tuple((a, decide(actor, a, ctx)) for a in actions)
    )
