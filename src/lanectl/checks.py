"""``lanectl check``: every problem in config, allowed signers, tasks, ADRs and the
ledger, at once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lanectl import adrs, audit, config, signers, tasks, yamlio
from lanectl.errors import LaneError
from lanectl.workspace import Workspace


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    tasks: int = 0
    adrs: int = 0
    events: int = 0
    state_dir: str = ""  # where .lanes/tasks and .lanes/log paths are, relative to the repo

    @property
    def ok(self) -> bool:
        return not self.problems


def _signer_problems(ws: Workspace) -> list[str]:
    """The work tree's allowed_signers, checked like the base branch's will be."""
    path = ws.root / signers.PATH
    if not path.exists():
        return [f"{signers.PATH}: missing; run `lanectl init`"]
    try:
        text = yamlio.decode(path.read_bytes(), signers.PATH)
    except LaneError as exc:
        return [str(exc)]
    _found, problems = signers.parse_all(text)
    return [str(p) for p in problems]


def run(ws: Workspace) -> CheckReport:
    report = CheckReport(state_dir=os.path.relpath(ws.state_dir, ws.root))
    report.problems += [str(p) for p in config.validate(ws.root)]
    report.problems += _signer_problems(ws)
    found, _broken = adrs.load(ws)  # adrs.problems reports the broken ones
    report.adrs = len(found)
    numbers = {a.number for a in found}
    report.problems += adrs.problems(ws)
    taskset = tasks.load(ws)
    report.tasks = len(taskset.tasks)
    report.problems += taskset.problems() + taskset.warnings()
    report.problems += [
        f"{task.rel_path}: adrs › unknown ADR {ref}"
        for task in taskset.tasks
        for ref in task.adrs
        if ref not in numbers
    ]
    ledger_report = audit.verify(ws)
    report.events = ledger_report.events
    report.problems += [str(p) for p in ledger_report.problems]
    return report
