"""``lanectl run ID``: one task from build to "waiting for human approval" (SPEC §4).

    result = runflow.run(ws, "T-7K2M9Q4D", report)

Three steps, each the same code its own command runs, so nothing here is a
second path around a rule:

1. **build** — when the task is ``ready`` (or ``building`` with an expired
   lease): :func:`lanectl.dispatch.run` for this one task, under its lease and
   the budgets. A task in review (or later) already has a built head; a
   ``draft`` one is refused (a human marks it ready); a ``blocked`` one says
   why and stops.
2. **review** — :func:`lanectl.review.run_reviews` for every role the tier
   requires, in parallel and paced; a review that is current or reusable costs
   nothing.
3. **gate** — :func:`lanectl.gatefacts.judge` at the head.

It stops there: only a human approves (``lanectl approve``) and merges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lanectl import dispatch, gatefacts, tasks
from lanectl.build import Reporter
from lanectl.errors import LaneError, Refused
from lanectl.workspace import Workspace

if TYPE_CHECKING:
    from lanectl.build import BuildResult
    from lanectl.gate import GateResult
    from lanectl.review import ReviewOutcome

BUILT = ("review", "changes_requested", "eligible", "approved")


@dataclass
class RunResult:
    task: str
    build: BuildResult | None = None  # None: the task was built before
    build_note: str = ""
    reviews: list[ReviewOutcome] = field(default_factory=list)
    gate: GateResult | None = None
    stopped: str = ""  # why it stopped before the gate, if it did

    @property
    def waiting_for_human(self) -> bool:
        """Every stage before approval holds: the next step is a person's."""
        return self.gate is not None and self.gate.eligible

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "build": self.build.to_json() if self.build else None,
            "build_note": self.build_note or None,
            "reviews": [r.to_json() for r in self.reviews],
            "gate": self.gate.to_json() if self.gate else None,
            "waiting_for_human": self.waiting_for_human,
            "stopped": self.stopped or None,
        }


def _build(ws: Workspace, task: tasks.Task, report: Reporter, out: RunResult) -> bool:
    """Build the task if it needs it; False when the run cannot go on."""
    if task.state in BUILT:
        out.build_note = f"already built ({task.state}): reviewing its head"
        report("build", "skipped", out.build_note)
        return True
    if task.state == "draft":
        raise Refused(
            f"{task.id} is a draft: a human marks it ready once its Goal and Acceptance "
            "are written",
            hint=f"lanectl task ready {task.id}",
        )
    if task.state == "blocked":
        out.stopped = f"{task.id} is blocked; see `lanectl task show {task.id}` for why"
        return False
    if task.state in ("merged", "cancelled"):
        raise LaneError(f"{task.id} is {task.state}: there is nothing to run")
    found = dispatch.run(ws, dispatch.Options(max=1, once=True, only=task.id), report)
    out.build = next((r for r in found.results if r.task == task.id), None)
    if out.build is None:
        why = next((w for t, w in found.skipped if t == task.id), None)
        waits = [str(w.get("message")) for w in found.waiting]
        out.stopped = why or (waits[0] if waits else f"{task.id} is not ready to build")
        return False
    if out.build.outcome != "review":
        out.stopped = f"build {out.build.outcome}: {out.build.reason}"
        return False
    return True


def run(ws: Workspace, task_id: str, report: Reporter) -> RunResult:
    """Build (if needed), review and judge one task; never approves or merges."""
    task = tasks.load(ws).resolve(task_id)
    out = RunResult(task.id)
    if not _build(ws, task, report, out):
        return out
    from lanectl import review

    out.reviews = review.run_reviews(ws, task.id, None, report)
    out.gate = gatefacts.judge(ws, tasks.load(ws).resolve(task.id))
    return out
