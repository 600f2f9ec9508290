"""``lanectl check``, ``status`` and ``demo``."""

import sys
from typing import Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, is_tty, warn, workspace

SHOWN = 15


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check(ctx: typer.Context, json_out: Annotated[bool, JsonFlag] = False) -> None:
        """Validate config, tasks, ADRs and the ledger; print every problem."""
        from lanectl import checks

        ws = workspace(ctx, require_init=False, lenient=True)
        report = checks.run(ws)
        if as_json(ctx, json_out):
            emit_json(
                {
                    "ok": report.ok,
                    "problems": report.problems,
                    "tasks": report.tasks,
                    "adrs": report.adrs,
                    "events": report.events,
                }
            )
        else:
            for problem in report.problems:
                print(problem)
            if any(p.startswith((".lanes/tasks/", ".lanes/log/")) for p in report.problems):
                print(
                    f"(.lanes/tasks and .lanes/log are on the state branch, checked out at "
                    f"{report.state_dir})"
                )
            summary = f"{report.tasks} tasks, {report.adrs} ADRs, {report.events} ledger events"
            if report.ok:
                print(f"✓ config, {summary}: no problems")
            else:
                print(f"✗ {len(report.problems)} problem(s) in config, {summary}")
        if not report.ok:
            raise typer.Exit(1)

    @app.command("status")
    def status(ctx: typer.Context, json_out: Annotated[bool, JsonFlag] = False) -> None:
        """Dashboard: tasks by state and risk, what is ready, how long each has waited."""
        from lanectl import status as statusmod
        from lanectl import tasks, watchdog

        ws = workspace(ctx)
        taskset = tasks.load(ws)
        report = statusmod.summarize(taskset)
        diagnoses = watchdog.diagnose(
            ws, taskset, probes=watchdog.probes(ws), deep=False, states=watchdog.STATUS_STATES
        )
        if as_json(ctx, json_out):
            emit_json({**report.to_json(), "watchdog": [d.to_json() for d in diagnoses]})
        elif is_tty():
            _rich_status(report)
        else:
            sys.stdout.write(_plain_status(report))
        if not as_json(ctx, json_out) and (lines := watchdog.status_lines(diagnoses)):
            sys.stdout.write("\n".join(lines) + "\n")
        for message in report.broken:
            warn(message)
        if report.broken:
            raise typer.Exit(1)

    @app.command("demo")
    def demo(
        ctx: typer.Context,
        directory: Annotated[
            str | None, typer.Option("--dir", help="Where to build the demo repository.")
        ] = None,
        keep: Annotated[bool, typer.Option("--keep", help="Keep the demo repository.")] = False,
    ) -> None:
        """A guided tour in a throwaway repository (offline)."""
        from lanectl import demo as demomod

        code = demomod.run(directory, keep=keep)
        if code:
            raise typer.Exit(code)


def _plain_status(report: object) -> str:
    from lanectl import status as statusmod
    from lanectl.timefmt import duration

    assert isinstance(report, statusmod.Status)
    lines: list[str] = []
    parts = " · ".join(f"{n} {s}" for s, n in report.by_state.items())
    lines.append(f"Tasks: {report.total}" + (f" — {parts}" if parts else ""))
    if report.by_risk:
        lines.append("Risk:  " + " · ".join(f"{n} {r}" for r, n in report.by_risk.items()))
    if report.ready:
        lines.append("")
        lines.append(f"READY FOR A BUILDER ({len(report.ready)})")
        for row in report.ready[:SHOWN]:
            lines.append(
                f"  {row.task.id}  {row.task.risk:<6}  {duration(row.seconds_in_state):>8}  "
                f"{row.task.title}"
            )
        if len(report.ready) > SHOWN:
            lines.append(f"  … and {len(report.ready) - SHOWN} more (lanectl task list --ready)")
    waiting = [r for r in report.active if not r.ready]
    if waiting:
        lines.append("")
        lines.append("LONGEST IN STATE")
        for row in waiting[:SHOWN]:
            lines.append(
                f"  {row.task.id}  {row.task.state:<17} {duration(row.seconds_in_state):>8}  "
                f"{row.task.title} — {statusmod.next_step(row)}"
            )
        if len(waiting) > SHOWN:
            lines.append(f"  … and {len(waiting) - SHOWN} more (lanectl status --json)")
    if not report.total:
        lines.append('Next: lanectl task new "What needs doing"')
    return "\n".join(lines) + "\n"


def _rich_status(report: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from lanectl import status as statusmod
    from lanectl.timefmt import duration

    assert isinstance(report, statusmod.Status)
    console = Console()
    parts = " · ".join(f"{n} {s}" for s, n in report.by_state.items())
    console.print(f"[bold]Tasks: {report.total}[/bold]" + (f" — {parts}" if parts else ""))
    if report.by_state_risk:
        table = Table(title="by state and risk", box=None, header_style="bold")
        table.add_column("state")
        for risk in ("low", "medium", "high"):
            table.add_column(risk, justify="right")
        for state, counts in report.by_state_risk.items():
            table.add_row(state, *(str(counts[r]) for r in ("low", "medium", "high")))
        console.print(table)
    if report.active:
        table = Table(title="where work waits", box=None, header_style="bold")
        for column in ("id", "state", "in state", "title", "next"):
            table.add_column(column)
        for row in report.active[:SHOWN]:
            table.add_row(
                row.task.id,
                row.task.state,
                duration(row.seconds_in_state),
                row.task.title,
                statusmod.next_step(row),
            )
        console.print(table)
        if len(report.active) > SHOWN:
            console.print(f"… and {len(report.active) - SHOWN} more (lanectl status --json)")
    if not report.total:
        console.print('Next: lanectl task new "What needs doing"')
