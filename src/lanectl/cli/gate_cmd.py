"""``lanectl gate``"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, warn, workspace

if TYPE_CHECKING:
    from lanectl.gate import GateResult
    from lanectl.workspace import Workspace

MARKS = {"pass": "✓", "fail": "✗", "skip": "–"}


def register(app: typer.Typer) -> None:
    @app.command("gate")
    def gate(
        ctx: typer.Context,
        task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id or unique prefix.")],
        acknowledge: Annotated[
            bool,
            typer.Option(
                "--acknowledge",
                help="As a human: acknowledge the task's open red-rule events (recorded).",
            ),
        ] = False,
        json_out: Annotated[bool, JsonFlag] = False,
    ) -> None:
        """Evaluate the gate for a task's head: ✓/✗ per stage, why, and what to do next.

        Exit 0 when every stage before approval holds (and the approval, when there
        is one); exit 3 otherwise.
        """
        from lanectl import gatefacts, tasks

        ws = workspace(ctx)
        task = tasks.load(ws).resolve(task_id)
        if acknowledge:
            _acknowledge(ws, task.id)
        json_mode = as_json(ctx, json_out)
        if task.state == "merged":
            done = gatefacts.landed(ws, task.id, ws.settings.base_branch)
            if done is not None:  # its branch is in the base now: nothing left to judge
                if json_mode:
                    emit_json({"task": task.id, "merged": True, **done})
                else:
                    approval = str(done.get("approval") or "")[:7]
                    print(
                        f"{task.id}  {task.title}: merged into {ws.settings.base_branch} by "
                        f"{done['merge'][:7]} (approval {approval or 'standing'}), {done['ts']}"
                    )
                return
        result = gatefacts.judge(ws, task)
        if json_mode:
            emit_json(result.to_json())
        else:
            print(render(result))
        _publish(ws, result, json_mode)
        if not result.exit_ok:
            raise typer.Exit(3)


def _publish(ws: Workspace, result: GateResult, json_mode: bool) -> None:
    """On a remote forge, the verdict becomes the ``lanectl/gate`` status of the tip."""
    from lanectl.forge import flow

    done = flow.publish_gate(ws, result)
    if done is None:
        return
    if done.error:
        warn(f"the verdict stands, but {done.error}")
    elif not json_mode:
        print(f"Set {done.forge} status lanectl/gate: {done.state} on {done.sha[:7]}.")


def _acknowledge(ws: object, task_id: str) -> None:
    from lanectl import gatefacts, ledger, state
    from lanectl import workspace as wsmod

    assert isinstance(ws, wsmod.Workspace)
    events = gatefacts.open_blocks(ws, task_id)
    if not events:
        print(f"No open red-rule events for {task_id}.")
        return
    actor, role = wsmod.actor(ws)
    with state.change(ws, actor, role, f"gate acknowledge {task_id}", task=task_id) as change:
        ledger.record(
            change,
            "gate.acknowledged",
            reason="a human reviewed the blocked attempts",
            data={"events": [str(e.get("id")) for e in events]},
        )
    print(f"Acknowledged {len(events)} red-rule event(s) for {task_id}.")


def render(result: object) -> str:
    from lanectl.gate import GateResult

    assert isinstance(result, GateResult)
    tier = result.tier
    declared = "" if tier.declared == tier.effective else f" (declared {tier.declared}"
    if declared and tier.reasons:
        declared += f"; {tier.reasons[0]}"
    declared += ")" if declared else ""
    lines = [f"{result.task_id}  {result.title}    tier: {tier.effective}{declared}"]
    head = result.head[:7] if result.head else "none"
    builder = f", {result.builder}" if result.builder else ""
    lines.append(f"head {head} on lanes/{result.task_id}{builder}")
    lines.append("")
    width = max(len(s.name) for s in result.stages)
    for stage in result.stages:
        lines.append(f"  {MARKS[stage.status]} {stage.name:<{width}}  {stage.reason}")
    for item in result.waivers:
        lines.append(f"  ! {item}")
    for item in result.ignored[:5]:
        lines.append(f"  ! ignored evidence: {item}")
    step = result.next_step()
    if result.approved:
        lines += ["", f"Approved. Merge with: lanectl merge {result.task_id}"]
    elif result.eligible and result.approval is None:
        lines += ["", f"Eligible. Next: lanectl approve {result.task_id}"]
    elif step:
        lines += ["", f"Next: {step}"]
    return "\n".join(lines)
