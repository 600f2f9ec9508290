"""``lanectl policy explain``: ask the policy engine, record nothing."""

from typing import Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, workspace

app = typer.Typer(help="Test your policy: what may an actor do?", no_args_is_help=True)

Paths = Annotated[list[str] | None, typer.Option(metavar="PATH")]


@app.command("explain")
def explain(
    ctx: typer.Context,
    actor: Annotated[str, typer.Option("--actor", help="An agent or human in config, or lanectl.")],
    command: Annotated[
        list[str] | None, typer.Argument(help="The command to judge, after `--`.")
    ] = None,
    task: Annotated[str | None, typer.Option("--task", help="The task it works on.")] = None,
    write: Annotated[
        list[str] | None, typer.Option("--write", metavar="PATH", help="A file it writes.")
    ] = None,
    read: Annotated[
        list[str] | None, typer.Option("--read", metavar="PATH", help="A file it reads.")
    ] = None,
    credential: Annotated[
        list[str] | None,
        typer.Option("--credential", metavar="NAME", help="A credential it uses (env name)."),
    ] = None,
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Allow or deny, the rule that decided and why; exit 0 allow, 3 deny. Records nothing.

    Judged with the BASE branch's .lanes/config.yaml, paths relative to the repository top.
    Example: lanectl policy explain --actor builder-claude --task T-7K2M -- git push origin main
    """
    from lanectl import policy
    from lanectl.errors import LaneError

    ws = workspace(ctx)
    argv = list(command or [])
    if len(argv) == 1 and any(c.isspace() for c in argv[0]):
        argv = ["sh", "-c", argv[0]]  # one quoted command line: judge it as the shell would
    actions = [policy.Action("read", paths=(p,)) for p in read or []]
    actions += [policy.Action("write", paths=(p,)) for p in write or []]
    actions += [policy.Action("credential", credential=c) for c in credential or []]
    if argv:
        actions.append(policy.Action("run", argv=tuple(argv)))
    if not actions:
        raise LaneError(
            "nothing to explain", hint="give a command after --, or --read/--write/--credential"
        )
    task_id = _task_id(ws, task) if task else None
    context = policy.load_context(ws, actor, task=task_id, worktree=ws.root)
    if context.refusal is None and context.role_of(actor) is None:
        known = sorted(context.roles)
        raise LaneError(
            f"unknown actor '{actor}': not an agent or human in {context.base_branch}'s config",
            hint=f"known actors: {', '.join(known)}",
        )
    result = policy.explain(context, actions)
    if as_json(ctx, json_out):
        emit_json(result.to_json())
    else:
        _print(result)
    if not result.allowed:
        raise typer.Exit(3)


def _task_id(ws: object, query: str) -> str:
    from lanectl import ids, tasks
    from lanectl.workspace import Workspace

    assert isinstance(ws, Workspace)
    prefix = ids.normalise_query(query)
    if prefix is not None and ids.is_task_id(prefix):
        return prefix
    return tasks.load(ws).resolve(query).id


def _print(result: object) -> None:
    from lanectl.policy import Explanation

    assert isinstance(result, Explanation)
    who = f"{result.actor.name} ({result.actor.role})"
    task = f", task {result.task}" if result.task else ""
    print(f"{who}{task}; policy from {result.base_branch}:.lanes/config.yaml")
    for action, decision in result.checks:
        mark = "✓ allow" if decision.allowed else "✗ deny "
        print(f"{mark}  {action.describe()}")
        print(f"    rule:      {decision.rule}")
        if not decision.allowed:
            for attempted in decision.attempted:
                print(f"    attempted: {attempted}")
        print(f"    reason:    {decision.reason}")
