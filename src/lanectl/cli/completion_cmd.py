"""``lanectl completion SHELL``: print the shell's completion script (ADR 0030).

The script is typer's; a TAB then runs ``lanectl`` with ``_LANECTL_COMPLETE``
set, and :func:`prepare` (called by ``main`` only then) installs typer's
completion classes, whose output format the scripts expect. Nothing here is
imported on the way to ``--help``.
"""

from enum import StrEnum
from typing import Annotated

import typer

COMPLETE_VAR = "_LANECTL_COMPLETE"


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"


def prepare() -> None:
    """Answer a shell's completion request in the format typer's scripts read."""
    from typer._completion_classes import completion_init

    completion_init()


def register(app: typer.Typer) -> None:
    @app.command("completion")
    def completion(
        shell: Annotated[Shell, typer.Argument(metavar="SHELL", help="bash, zsh or fish.")],
    ) -> None:
        """Print the shell completion script for bash, zsh or fish.

        \b
        bash: lanectl completion bash > ~/.local/share/bash-completion/completions/lanectl
        zsh:  add  eval "$(lanectl completion zsh)"  to ~/.zshrc, after compinit
        fish: lanectl completion fish > ~/.config/fish/completions/lanectl.fish
        """
        from typer._completion_shared import get_completion_script

        print(get_completion_script(prog_name="lanectl", complete_var=COMPLETE_VAR, shell=shell))
