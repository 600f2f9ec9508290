"""``lanectl task …``"""

import sys
from pathlib import Path
from typing import Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, is_tty, warn, workspace

app = typer.Typer(help="Create, list and change tasks.", no_args_is_help=True)


def _split(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out: list[str] = []
    for value in values:
        out += [part.strip() for part in value.split(",") if part.strip()]
    return out


Multi = Annotated[list[str] | None, typer.Option()]


def _report_problems(problems: list[str]) -> int:
    """One line per problem on stderr; exit 1 when there were any."""
    for problem in problems:
        warn(problem)
    return 1 if problems else 0


@app.command("new")
def new(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="What the task is, in a few words.")],
    risk: Annotated[str, typer.Option(help="Declared tier: low, medium or high.")] = "medium",
    depends: Annotated[
        list[str] | None, typer.Option("--depends", help="Task ids this waits for (repeatable).")
    ] = None,
    paths: Annotated[
        list[str] | None, typer.Option("--paths", help="The builder's write scope (globs).")
    ] = None,
    adrs: Annotated[list[str] | None, typer.Option("--adrs", help="Governing ADR numbers.")] = None,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", help="Markdown body (Goal, Acceptance, …).")
    ] = None,
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Create a task in state draft."""
    from lanectl import state, taskops, tasks, yamlio
    from lanectl import workspace as wsmod

    ws = workspace(ctx)
    body = None
    if body_file is not None:
        body = yamlio.read_bounded(body_file, str(body_file))
    actor, role = wsmod.actor(ws)
    with state.change(ws, actor, role, f"task new: {title}") as change:
        taskset = tasks.load(ws)
        spec = taskops.NewTask(
            title=title,
            risk=risk,
            depends_on=tuple(_split(depends) or ()),
            paths=tuple(_split(paths) or ()),
            adrs=tuple(_split(adrs) or ()),
            body=body,
        )
        task = taskops.create(ws, change, taskset, spec)
        change.summary = f"task new {task.id}: {task.title}"
    if as_json(ctx, json_out):
        emit_json(task.to_json())
    else:
        print(f"Created {task.id}  {task.title}  (draft, risk {task.risk})")
        print(f"  file: {ws.tasks_dir / task.file}")
        print(f"Next: write its Goal and Acceptance, then `lanectl task ready {task.id}`")


@app.command("list")
def list_(
    ctx: typer.Context,
    state_filter: Annotated[
        str | None, typer.Option("--state", help="Only tasks in this state.")
    ] = None,
    ready: Annotated[
        bool, typer.Option("--ready", help="Only ready tasks whose dependencies are merged.")
    ] = False,
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """List tasks."""
    from lanectl import tasks
    from lanectl.errors import LaneError

    if state_filter is not None and state_filter not in tasks.STATES:
        raise LaneError(f"--state must be one of {', '.join(tasks.STATES)}")
    ws = workspace(ctx)
    taskset = tasks.load(ws)
    shown = [
        t
        for t in taskset.tasks
        if (state_filter is None or t.state == state_filter) and (not ready or taskset.is_ready(t))
    ]
    if as_json(ctx, json_out):
        emit_json([t.to_json() for t in shown])
    elif is_tty() and shown:
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, header_style="bold")
        for column in ("id", "state", "risk", "title", "depends on"):
            table.add_column(column)
        for t in shown:
            table.add_row(t.id, t.state, t.risk, t.title, " ".join(t.depends_on))
        Console().print(table)
    else:
        lines = [
            f"{t.id}  {t.state:<17} {t.risk:<6}  {t.title}"
            + (f"  (after {', '.join(t.depends_on)})" if t.depends_on else "")
            for t in shown
        ]
        if lines:
            sys.stdout.write("\n".join(lines) + "\n")
        elif not taskset.broken:
            print("No tasks." if not (state_filter or ready) else "No matching tasks.")
    # Show what can be read, then name every problem (exit 1): one bad file
    # never hides the good ones. Unknown keys are only mentioned (ADR 0007).
    for warning in taskset.warnings():
        warn(warning)
    code = _report_problems(taskset.problems())
    if code:
        raise typer.Exit(code)


@app.command("show")
def show(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id or unique prefix.")],
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Show one task: its fields and its file."""
    from lanectl import tasks

    ws = workspace(ctx)
    taskset = tasks.load(ws)
    task = taskset.resolve(task_id)
    text = tasks.read_text(ws, task)
    for problem in task.warnings:
        warn(problem)
    if as_json(ctx, json_out):
        emit_json({**task.to_json(), "ready": taskset.is_ready(task), "text": text})
        return
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    print(f"# {ws.tasks_dir / task.file}")


@app.command("edit")
def edit(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id or unique prefix.")],
    title: Annotated[str | None, typer.Option(help="New title.")] = None,
    risk: Annotated[str | None, typer.Option(help="New declared tier.")] = None,
    depends: Annotated[
        list[str] | None,
        typer.Option("--depends", help="Replace dependencies (repeat, or comma-separate)."),
    ] = None,
    no_depends: Annotated[
        bool, typer.Option("--no-depends", help="Remove every dependency.")
    ] = False,
    paths: Annotated[list[str] | None, typer.Option("--paths", help="Replace write scope.")] = None,
    adrs: Annotated[list[str] | None, typer.Option("--adrs", help="Replace ADR refs.")] = None,
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Change fields of a task; comments, order and other keys are kept."""
    from lanectl import state, taskops, tasks
    from lanectl import workspace as wsmod

    ws = workspace(ctx)
    actor, role = wsmod.actor(ws)
    with state.change(ws, actor, role, "task edit") as change:
        taskset = tasks.load(ws)
        task = taskset.resolve(task_id)
        change.task, change.summary = task.id, f"task edit {task.id}"
        updated = taskops.edit(
            ws,
            change,
            taskset,
            task,
            title=title,
            risk=risk,
            depends_on=[] if no_depends else _split(depends),
            paths=_split(paths),
            adrs=_split(adrs),
        )
    if as_json(ctx, json_out):
        emit_json(updated.to_json())
    else:
        print(f"Updated {updated.id}  {updated.title}")


def _transition(ctx: typer.Context, task_id: str, verb: str, json_out: bool, **kw: str) -> None:
    from lanectl import state, taskops, tasks
    from lanectl import workspace as wsmod

    ws = workspace(ctx)
    actor, role = wsmod.actor(ws)
    with state.change(ws, actor, role, f"task {verb}") as change:
        taskset = tasks.load(ws)
        task = taskset.resolve(task_id)
        change.task, change.summary = task.id, f"task {verb} {task.id}"
        if verb == "ready":
            updated = taskops.mark_ready(ws, change, taskset, task)
        else:
            updated = taskops.cancel(ws, change, task, kw.get("reason"))
    if as_json(ctx, json_out):
        emit_json(updated.to_json())
    else:
        print(f"{updated.id} is now {updated.state}  ({task.state} → {updated.state})")


@app.command("ready")
def ready(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id or unique prefix.")],
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Mark a specified task ready for a builder (a human's decision)."""
    _transition(ctx, task_id, "ready", json_out)


@app.command("cancel")
def cancel(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id or unique prefix.")],
    reason: Annotated[str | None, typer.Option(help="Why, for the log.")] = None,
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Cancel a task that has not merged."""
    _transition(ctx, task_id, "cancel", json_out, reason=reason or "")


@app.command("note")
def note(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id or unique prefix.")],
    text: Annotated[str, typer.Argument(help="The note, appended to the task's Log.")],
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Append a line to the task's work log."""
    from lanectl import state, taskops, tasks
    from lanectl import workspace as wsmod

    ws = workspace(ctx)
    actor, role = wsmod.actor(ws)
    with state.change(ws, actor, role, "task note") as change:
        taskset = tasks.load(ws)
        task = taskset.resolve(task_id)
        change.task, change.summary = task.id, f"task note {task.id}"
        taskops.note(ws, change, task, text)
    if as_json(ctx, json_out):
        emit_json({"id": task.id, "note": text})
    else:
        print(f"Noted on {task.id}.")
