"""``lanectl check``, ``status`` and ``demo``."""

import sys
from typing import Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, is_tty, warn, workspace


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
        """Dashboard: tasks by state, what waits on a human and for how long, running
        builders and their budgets, stalls and why, the latest gate events, and the
        coordination tax (time waiting per stage against working, last 24 h)."""
        from lanectl import status as statusmod
        from lanectl import statusview

        board = statusmod.dashboard(workspace(ctx))
        if as_json(ctx, json_out):
            emit_json(board.to_json())
        elif is_tty():
            statusview.rich(board)
        else:
            sys.stdout.write(statusview.plain(board))
        for message in board.status.broken:
            warn(message)
        if board.status.broken:
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
