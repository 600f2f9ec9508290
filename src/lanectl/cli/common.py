"""Small things every command module shares: options, output, the workspace."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from lanectl.workspace import Workspace


@dataclass(frozen=True)
class Opts:
    repo: Path | None = None
    json: bool = False
    verbose: bool = False
    commit: bool = True


def opts(ctx: typer.Context) -> Opts:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Opts) else Opts()


def as_json(ctx: typer.Context, flag: bool) -> bool:
    return flag or opts(ctx).json


def workspace(ctx: typer.Context, *, require_init: bool = True, lenient: bool = False) -> Workspace:
    from lanectl.workspace import open_workspace

    o = opts(ctx)
    return open_workspace(o.repo, require_init=require_init, commit=o.commit, lenient=lenient)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def is_tty() -> bool:
    return sys.stdout.isatty()


def warn(message: str) -> None:
    sys.stderr.write(f"lanectl: {message}\n")


JsonFlag = typer.Option("--json", help="Machine-readable output.")
