"""``lanectl init``"""

from typing import Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, opts

NOTES = {
    ".lanes/config.yaml": "humans, agents, budgets, policy (edit me)",
    ".lanes/allowed_signers": "add your SSH public key here (see below)",
}


def register(app: typer.Typer) -> None:
    @app.command("init")
    def init(
        ctx: typer.Context,
        forge: Annotated[str, typer.Option(help="local (offline) or github.")] = "local",
        repo: Annotated[
            str | None, typer.Option("--repo", help="OWNER/NAME on GitHub (with --forge github).")
        ] = None,
        json_out: Annotated[bool, JsonFlag] = False,
    ) -> None:
        """Set up lanectl in this repository (safe to run again)."""
        from lanectl import scaffold

        o = opts(ctx)
        result = scaffold.init(o.repo, forge=forge, forge_repo=repo, commit=o.commit)
        if as_json(ctx, json_out):
            emit_json(
                {
                    "root": str(result.root),
                    "base_branch": result.base_branch,
                    "forge": result.forge,
                    "created": result.created,
                    "kept": result.kept,
                    "changed": result.changed,
                    "agent_keys": result.agent_keys,
                }
            )
            return
        if not result.changed:
            print(f"lanectl is already initialised in {result.root}; nothing changed.")
            return
        print(
            f"Initialised lanectl in {result.root} "
            f"(base branch: {result.base_branch}, forge: {result.forge})"
        )
        width = 24
        for rel in result.created:
            note = NOTES.get(rel, "")
            print(f"  created {rel:<{width}}" + (f"  — {note}" if note else ""))
        for rel in result.kept:
            print(f"  kept    {rel:<{width}}  (already there, unchanged)")
        if result.state_started:
            print("  started the state branch lanectl/state (tasks and the ledger live there)")
        if result.agent_keys:
            print(
                f"  created signing keys for {', '.join(result.agent_keys)} outside the repository"
                " and listed them in .lanes/allowed_signers"
            )
        print("Next:")
        print("  1. lanectl human add you --email you@example.com --key ~/.ssh/id_ed25519.pub")
        print("     (your SSH signing key: you approve and merge)")
        print("  2. git add .lanes docs/decisions && git commit -m 'Set up lanectl'")
        print('  3. lanectl task new "Your first task"')
