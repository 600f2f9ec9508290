"""Refusals by the human gate: every failing stage, recorded in the ledger.

``lanectl approve`` and ``lanectl merge`` refuse with exit 3 and write
``approval.refused`` / ``merge.refused`` events that list every reason, after
asking the policy engine (ADR 0008) like every action lanectl performs.
"""

from __future__ import annotations

from collections.abc import Sequence

from lanectl import ledger, state
from lanectl.errors import Refused
from lanectl.gate import FAIL, Stage
from lanectl.workspace import Workspace, writer_id


class Refusal(Refused):
    """The gate or the approver check said no; ``problems`` are every failing stage."""

    def __init__(self, message: str, problems: Sequence[Stage], hint: str | None = None):
        detail = "; ".join(f"{s.name}: {s.reason}" for s in problems)
        super().__init__(f"{message}: {detail}" if detail else message, hint=hint)
        self.headline = message
        self.problems = tuple(problems)


def record_refusal(
    ws: Workspace,
    kind: str,
    who: str,
    *,
    task: str | None,
    head: str | None,
    attempted: str,
    refusal: Refusal,
) -> None:
    """Write ``approval.refused`` / ``merge.refused`` (committed: the refusal is evidence)."""
    with state.change(ws, who, "human", f"{kind} {task or ''}".strip(), task=task) as change:
        ledger.record(
            change,
            kind,
            task=task,
            head=head,
            attempted=[attempted],
            result="refused",
            reason="; ".join(f"{s.name}: {s.reason}" for s in refusal.problems) or refusal.headline,
            data={"stages": [s.to_json() for s in refusal.problems]},
        )


def ledger_writable(ws: Workspace) -> None:
    """Refuse before changing a branch if the outcome could not be recorded afterwards."""
    state.ensure(ws)
    ledger.check_tail(ledger.file_for(ws.log_dir, writer_id(ws), ledger.now_ts()))


def policy_allows(ws: Workspace, human: str, kind: str, task: str | None) -> None:
    """Ask the policy engine (ADR 0008), like every action lanectl performs."""
    from lanectl import policy

    context = policy.load_context(ws, human, task=task)
    decision = policy.decide(
        policy.Actor(human, "human"), policy.Action(kind=kind, task=task), context
    )
    if not decision.allowed:
        raise Refusal(
            f"policy does not let {human} {kind}", [Stage("policy", FAIL, decision.reason)]
        )
