"""The command line: options in, typed values out to plain functions.

No domain logic lives here (STYLE §1). Heavy modules are imported inside the
commands that need them so ``lanectl --help`` stays quick.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from lanectl import __version__
from lanectl.cli import (
    adr_cmd,
    approve_cmd,
    budget_cmd,
    completion_cmd,
    dispatch_cmd,
    doctor_cmd,
    gate_cmd,
    init_cmd,
    ledger_cmd,
    merge_cmd,
    misc_cmd,
    people_cmd,
    policy_cmd,
    review_cmd,
    run_cmd,
    sim_cmd,
    task_cmd,
)
from lanectl.cli.common import Opts

app = typer.Typer(
    name="lanectl",
    help="Run a small organisation of AI agents in this git repository: lanes enforced in "
    "code, cross-family review, a signed human gate, paced dispatch.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,  # `lanectl completion SHELL` instead (ADR 0030)
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"lanectl {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    repo: Annotated[
        Path | None, typer.Option("--repo", help="Repository to act on (default: here).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Show tracebacks.")] = False,
    no_commit: Annotated[
        bool, typer.Option("--no-commit", help="Write state files but do not commit them.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    ctx.obj = Opts(repo=repo, json=json_out, verbose=verbose, commit=not no_commit)


app.add_typer(task_cmd.app, name="task")
app.add_typer(adr_cmd.app, name="adr")
app.add_typer(policy_cmd.app, name="policy")
app.add_typer(sim_cmd.app, name="sim")
init_cmd.register(app)
misc_cmd.register(app)
ledger_cmd.register(app)
people_cmd.register(app)
gate_cmd.register(app)
budget_cmd.register(app)
approve_cmd.register(app)
merge_cmd.register(app)
dispatch_cmd.register(app)
run_cmd.register(app)
doctor_cmd.register(app)
completion_cmd.register(app)
review_cmd.register(app)


def main(argv: list[str] | None = None) -> None:
    from lanectl.cli.errors import run

    if completion_cmd.COMPLETE_VAR in os.environ:  # a shell asking what TAB completes to
        completion_cmd.prepare()
    sys.exit(run(app, argv))
