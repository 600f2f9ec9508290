"""``lanectl run ID``"""

from typing import Annotated

import typer

from lanectl.cli import dispatch_cmd, review_cmd
from lanectl.cli.common import JsonFlag, as_json, emit_json, workspace
from lanectl.cli.progress import reporter

FINAL = (*dispatch_cmd.FINAL, *review_cmd.DONE)  # what ends a build's row, and a review's


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        ctx: typer.Context,
        task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id or unique prefix.")],
        json_out: Annotated[bool, JsonFlag] = False,
    ) -> None:
        """Build, review and judge one task, stopping at the human approval.

        Builds the task when it is ready (as `lanectl dispatch` would, for this
        task only), runs every review its tier requires (as `lanectl review`),
        then prints the gate. Never approves or merges. Exit 0 when the task
        waits only for a human (approve, then merge); 1 when the build or a
        review did not complete; 3 when the gate or the policy refuses.
        """
        from lanectl import runflow
        from lanectl.cli.approve_cmd import refused
        from lanectl.cli.gate_cmd import render
        from lanectl.refusal import Refusal

        ws = workspace(ctx)
        json_mode = as_json(ctx, json_out)
        try:
            with reporter(json_mode, FINAL, width=11) as report:
                result = runflow.run(ws, task_id, report)
        except Refusal as refusal:
            raise refused(refusal, "review.refused", json_mode) from None
        if json_mode:
            emit_json(result.to_json())
        if result.gate is None:
            if not json_mode:
                print(f"Stopped before review: {result.stopped}")
            raise typer.Exit(1)
        incomplete = [r for r in result.reviews if not r.counts]
        if not json_mode:
            for r in result.reviews:
                print(f"{r.label:<11}  {r.agent} ({r.family}): {r.reason}")
            print()
            print(render(result.gate))
        if incomplete:
            raise typer.Exit(1)
        if not result.waiting_for_human:
            raise typer.Exit(3)
