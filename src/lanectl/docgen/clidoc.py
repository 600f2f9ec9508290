"""``docs/cli.md``: every command's and sub-command's ``--help``, as a user sees it.

The click tree typer builds for :data:`lanectl.cli.app` is walked depth first,
in the order ``--help`` lists the commands, and each command's help is
rendered at a fixed width with no colours, so the page does not depend on the
terminal, the machine or the environment it was generated in.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

PATH = "docs/cli.md"
# What `--help` prints in any terminal at least 80 columns wide (click keeps 2 spare).
WIDTH = 78


def commands() -> Iterator[tuple[str, str, str]]:
    """(command path, one-line summary, help text) for the root and every command below it."""
    import typer
    from typer.main import get_command

    from lanectl.cli import app

    root = get_command(app)

    def walk(command: Any, ctx: typer.Context) -> Iterator[tuple[str, str, str]]:
        yield ctx.command_path, command.get_short_help_str(limit=200), command.get_help(ctx)
        if not hasattr(command, "list_commands"):
            return
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            yield from walk(sub, typer.Context(sub, info_name=name, parent=ctx))

    top = typer.Context(
        root,
        info_name="lanectl",
        terminal_width=WIDTH,
        max_content_width=WIDTH,
        color=False,
        **root.context_settings,
    )
    yield from walk(root, top)


def scrub(text: str) -> str:
    """Replace anything that names this machine: home, temp dir, working directory."""
    for path, shown in (
        (os.getcwd(), "."),
        (tempfile.gettempdir(), "$TMPDIR"),
        (str(Path.home()), "~"),
    ):
        if len(path) > 1:
            text = text.replace(path, shown)
    return text


def anchor(title: str) -> str:
    """The anchor GitHub gives a heading such as ``lanectl task new``."""
    return title.lower().replace(" ", "-")


def render(regenerate: str) -> str:
    found = list(commands())
    lines = [
        "# Command-line reference",
        "",
        "<!-- Generated from `lanectl --help`; do not edit by hand. -->",
        "",
        "The `--help` of every lanectl command, as it prints in a terminal at least",
        "80 columns wide. Every command also takes `-h`. Global options (`--repo`,",
        "`--json`, `-v`, `--no-commit`) go before the command:",
        "`lanectl --json task list`. Exit codes: 0 ok, 1 error, 2 usage, 3 refused by",
        "the gate or by policy.",
        "",
        f"This page is generated: after changing a command, run `{regenerate}`.",
        "",
    ]
    lines += [f"* [`{path}`](#{anchor(path)}): {summary}" for path, summary, _ in found]
    for path, _, text in found:
        lines += ["", f"## `{path}`", "", "```text", scrub(text).rstrip(), "```"]
    return "\n".join(lines) + "\n"
