"""``lanectl dispatch``"""

from typing import Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, workspace
from lanectl.cli.progress import reporter

FINAL = ("review", "blocked", "lost", "skipped")


def register(app: typer.Typer) -> None:
    @app.command("dispatch")
    def dispatch(
        ctx: typer.Context,
        max_builders: Annotated[
            int, typer.Option("--max", min=1, help="Builders at once (default 1).")
        ] = 1,
        once: Annotated[
            bool, typer.Option("--once", help="Claim one round of tasks, wait for them, stop.")
        ] = False,
        dry_run: Annotated[
            bool,
            typer.Option("--dry-run", help="Say what would be claimed and built; change nothing."),
        ] = False,
        agent: Annotated[
            str | None, typer.Option("--agent", help="The builder agent (default: the first one).")
        ] = None,
        json_out: Annotated[bool, JsonFlag] = False,
    ) -> None:
        """Claim ready tasks (leases) and run their builders in worktrees.

        Without --once it keeps claiming until no ready task is left. Crashed
        builds (expired leases) are reclaimed. Builders start only as the budget
        allows: at most its max_concurrency (and the pacer's current concurrency)
        at once, none while it is paused by a 429 (dispatch waits; --once leaves
        the task ready) or stopped by quota. Exit 0 when every build reached
        review, 1 when one was blocked or lost its lease or a budget is stopped,
        3 when policy refuses.
        """
        from lanectl import dispatch as dispatchmod

        ws = workspace(ctx)
        options = dispatchmod.Options(max=max_builders, once=once, dry_run=dry_run, agent=agent)
        json_mode = as_json(ctx, json_out)
        with reporter(json_mode, FINAL) as report:
            result = dispatchmod.run(ws, options, report)
        if json_mode:
            emit_json(result.to_json())
        elif dry_run:
            _print_plan(result)
        else:
            _print_summary(result)
        if any(r.outcome != "review" for r in result.results) or result.halted:
            raise typer.Exit(1)


def _print_plan(result: object) -> None:
    from lanectl.dispatch import Report

    assert isinstance(result, Report)
    if not result.planned and not result.skipped:
        print("Nothing to dispatch: no task is ready (lanectl status).")
    for plan in result.planned:
        verb = "reclaim and rebuild" if plan["reclaim"] else "claim"
        command = " ".join(plan["command"]) if plan["command"] else "the builder loop"
        print(f"would {verb} {plan['task']}  {plan['title']}")
        print(f"  builder  {plan['agent']}: {command}")
        print(f"  worktree {plan['worktree']} at {plan['start'][:7]}, branch {plan['branch']}")
        print(f"  checks   {', '.join(plan['checks']) or 'none configured'}")
    for task, why in result.skipped:
        print(f"skip {task}: {why}")
    for waiting in result.waiting:
        print(waiting["message"])


def _print_summary(result: object) -> None:
    from lanectl.dispatch import Report

    assert isinstance(result, Report)
    for waiting in result.waiting:
        print(f"{waiting['message']} ({len(waiting.get('tasks') or [])} ready task(s) wait)")
    if not result.results:
        if result.waiting:
            print("Nothing dispatched: the budget allows no more builders now.")
            return
        print(
            "Nothing dispatched"
            + (": every ready task is claimed." if result.skipped else ": no task is ready.")
        )
        return
    counts: dict[str, int] = {}
    for r in result.results:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    print("Dispatched: " + " · ".join(f"{n} {k}" for k, n in counts.items()))
    for r in result.results:
        print(f"  {r.task}  {r.outcome:<7} {r.reason}")
        if r.outcome == "review":
            print(f"  {'':10}  next: lanectl gate {r.task}")
