"""``lanectl adr …``"""

from __future__ import annotations

import typer

app = typer.Typer(help="Architecture decision records (MADR 4).", no_args_is_help=True)
