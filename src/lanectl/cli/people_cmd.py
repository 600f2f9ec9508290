"""``lanectl human add`` · ``lanectl agent add``"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, workspace

if TYPE_CHECKING:
    from lanectl.people import Registered
    from lanectl.workspace import Workspace

human_app = typer.Typer(help="People who approve and merge (their SSH signing keys).")
agent_app = typer.Typer(help="Agents and their lanectl-managed signing keys.")


def register(app: typer.Typer) -> None:
    app.add_typer(human_app, name="human", no_args_is_help=True)
    app.add_typer(agent_app, name="agent", no_args_is_help=True)


def _report(ws: Workspace, result: Registered, what: str, json_out: bool) -> None:
    from lanectl import config, signers

    changed = [
        path
        for path, flag in (
            (config.CONFIG_PATH, result.config_changed),
            (signers.PATH, result.signers_changed),
        )
        if flag
    ]
    base = ws.settings.base_branch
    if json_out:
        emit_json(
            {
                "name": result.name,
                "principal": result.principal,
                "fingerprint": result.fingerprint,
                "allowed_signers_line": result.signer_line,
                "changed": changed,
                "bootstrap": result.bootstrap,
                "public_key": str(result.key_path) if result.key_path else None,
            }
        )
        return
    if not changed:
        print(
            f"{what} {result.name} is already registered ({result.principal}, {result.fingerprint})"
        )
        return
    print(f"Registered {what} {result.name} as {result.principal} (key {result.fingerprint})")
    for path in changed:
        print(f"  changed {path}")
    if result.key_path is not None:
        print(f"  public key: {result.key_path} (the private half beside it stays out of the repo)")
    if result.bootstrap:
        print(f"No human is on {base} yet: bootstrap, trusted once committed (see the ledger).")
        print(f"Next: git add {' '.join(changed)} && git commit -m 'Register {result.name}'")
    else:
        print(f"This is a policy change: it counts only after a high-tier merge into {base}.")
        print(
            f"Next: commit {' '.join(changed)} on a task branch, take it through `lanectl gate`"
            " and have an existing human approve it."
        )


@human_app.command("add")
def human_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Short id, e.g. alice.")],
    email: Annotated[str, typer.Option("--email", help="The signing principal (git user.email).")],
    key: Annotated[Path, typer.Option("--key", help="The SSH PUBLIC key file (.pub).")],
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Register a person who may approve and merge, with their SSH signing key."""
    from lanectl import people

    ws = workspace(ctx)
    result = people.add_human(ws, name, email, key)
    _report(ws, result, "human", as_json(ctx, json_out))


@agent_app.command("add")
def agent_add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Agent name, e.g. reviewer-gpt.")],
    role: Annotated[str, typer.Option("--role", help="builder, reviewer, security or designer.")],
    provider: Annotated[
        str, typer.Option("--provider", help="anthropic, openai, openai-compatible or command.")
    ],
    model: Annotated[str, typer.Option("--model", help="Model name, e.g. gpt-5.")],
    family: Annotated[str, typer.Option("--family", help="Model family, e.g. openai.")],
    budget: Annotated[str | None, typer.Option("--budget", help="Budget it draws from.")] = None,
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="For openai-compatible providers.")
    ] = None,
    command: Annotated[
        str | None, typer.Option("--command", help="For provider command: the agent CLI.")
    ] = None,
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Register an agent and create its lanectl-managed signing key."""
    from lanectl import people

    ws = workspace(ctx)
    result = people.add_agent(
        ws,
        name,
        role=role,
        provider=provider,
        model=model,
        family=family,
        budget=budget,
        base_url=base_url,
        command=command,
    )
    _report(ws, result, "agent", as_json(ctx, json_out))
