"""``lanectl audit``: verify every ledger chain, find torn tails, and repair them."""

from __future__ import annotations

from dataclasses import dataclass, field

from lanectl import git, ledger
from lanectl.state import Change
from lanectl.workspace import LOG_DIR, Workspace


@dataclass
class AuditReport:
    files: int = 0
    events: int = 0
    problems: list[ledger.Problem] = field(default_factory=list)
    repaired: list[tuple[str, int, int]] = field(default_factory=list)  # (file, line, bytes)

    @property
    def ok(self) -> bool:
        return not self.problems


def _committed_prefix_problem(ws: Workspace, rel: str, data: bytes) -> ledger.Problem | None:
    """The ledger is append-only: what was committed must still be a prefix of the file."""
    committed = git.show_file("HEAD", rel, ws.state_dir)
    if committed is None or data.startswith(committed):
        return None
    old, new = committed.split(b"\n"), data.split(b"\n")
    for number, (a, b) in enumerate(zip(old, new, strict=False), start=1):
        if a != b:
            return ledger.Problem(
                rel, number, "differs from the committed ledger (edited by hand?)"
            )
    return ledger.Problem(
        rel, len(new), "committed lines are missing from the file (truncated by hand?)"
    )


def verify(ws: Workspace) -> AuditReport:
    report = AuditReport()
    for path in ledger.files(ws.log_dir):
        rel = f"{LOG_DIR}/{path.relative_to(ws.log_dir).as_posix()}"
        report.files += 1
        count, problems = ledger.verify_file(path, rel)
        report.events += count
        report.problems += problems
        if ws.state_ready():
            drift = _committed_prefix_problem(ws, rel, path.read_bytes())
            if drift is not None and not any(p.line == drift.line and not p.torn for p in problems):
                report.problems.append(drift)
    return report


def repair(ws: Workspace, change: Change, report: AuditReport) -> AuditReport:
    """Cut every torn tail off (a crash mid-write) and record that we did."""
    for problem in [p for p in report.problems if p.torn]:
        path = ws.state_dir / problem.path
        removed = ledger.repair_torn(path)
        if removed:
            change.touch(path)
            report.repaired.append((problem.path, problem.line, removed))
    report.problems = [p for p in report.problems if not p.torn]
    for rel, line, removed in report.repaired:
        ledger.record(
            change,
            "ledger.repaired",
            reason="torn last line cut off by lanectl audit --repair",
            data={"file": rel, "line": line, "bytes_removed": removed},
        )
    return report
