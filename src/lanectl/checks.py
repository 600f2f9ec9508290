"""``lanectl check``: every problem in config, tasks, ADRs and the ledger, at once."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from lanectl import adrs, audit, config, tasks
from lanectl.workspace import Workspace


@dataclass
class CheckReport:
    problems: list[str] = field(default_factory=list)
    tasks: int = 0
    adrs: int = 0
    events: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _task_problems(ws: Workspace, report: CheckReport, adr_numbers: set[str] | None) -> None:
    taskset = tasks.load(ws)
    report.tasks = len(taskset.tasks)
    report.problems += [b.message for b in taskset.broken]
    by_id: dict[str, list[tasks.Task]] = defaultdict(list)
    for task in taskset.tasks:
        by_id[task.id].append(task)
        report.problems += list(task.warnings)
        for dep in task.depends_on:
            if dep not in taskset.by_id:
                report.problems.append(f"{task.rel_path}: depends_on › unknown task {dep}")
        if adr_numbers is not None:
            for ref in task.adrs:
                if ref not in adr_numbers:
                    report.problems.append(f"{task.rel_path}: adrs › unknown ADR {ref}")
    for task_id, same in sorted(by_id.items()):
        if len(same) > 1:
            files = ", ".join(t.rel_path for t in same)
            report.problems.append(f"{same[0].rel_path}: duplicate task id {task_id} ({files})")
    for cycle in tasks.all_cycles(taskset):
        first = taskset.by_id[cycle[0]]
        report.problems.append(f"{first.rel_path}: dependency cycle: {' → '.join(cycle)}")


def run(ws: Workspace) -> CheckReport:
    report = CheckReport()
    report.problems += [str(p) for p in config.validate(ws.root)]
    found, _broken = adrs.load(ws)  # adrs.problems reports the broken ones
    report.adrs = len(found)
    adr_numbers = {a.number for a in found}
    report.problems += adrs.problems(ws)
    _task_problems(ws, report, adr_numbers)
    ledger_report = audit.verify(ws)
    report.events = ledger_report.events
    report.problems += [str(p) for p in ledger_report.problems]
    return report
