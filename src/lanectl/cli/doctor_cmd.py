"""``lanectl doctor [--forge]``"""

from typing import Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, workspace

MARKS = {"ok": "✓", "info": "·", "warn": "!", "error": "✗"}


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    def doctor(
        ctx: typer.Context,
        forge: Annotated[
            bool,
            typer.Option(
                "--forge",
                help="Only the forge: would its branch protection, rulesets or merge settings "
                "let work reach the base branch around the gate?",
            ),
        ] = False,
        json_out: Annotated[bool, JsonFlag] = False,
    ) -> None:
        """Read-only diagnosis with what to do about each finding.

        Exit 0 when nothing needs attention, 1 when there are warnings or a check
        could not run. Reads the forge settings from the base branch's config; the
        token comes from the environment variable it names.
        """
        from lanectl import doctor as doctormod

        ws = workspace(ctx)
        report = doctormod.run(ws, ["forge"] if forge else [])
        if as_json(ctx, json_out):
            emit_json(report.to_json())
        else:
            for name, items in report.results:
                print(f"{name}:")
                for item in items:
                    print(f"  {MARKS[item.level]} {item.message}")
                    if item.fix and item.level != "ok":
                        print(f"      fix: {item.fix}")
        if not report.ok:
            raise typer.Exit(1)
