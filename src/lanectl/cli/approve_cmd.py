"""``lanectl approve ID`` · ``lanectl approve --standing --paths GLOBS --until DATE``"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, workspace

if TYPE_CHECKING:
    from lanectl.refusal import Refusal

Opt = typer.Option


def refused(refusal: Refusal, kind: str, json_out: bool) -> typer.Exit:
    """Print a refusal with every failing stage; the caller raises the returned Exit(3)."""
    if json_out:
        emit_json(
            {
                "refused": True,
                "reason": refusal.headline,
                "hint": refusal.hint,
                "stages": [s.to_json() for s in refusal.problems],
                "recorded": kind,
            }
        )
    else:
        lines = [f"refused: {refusal.headline}"]
        width = max((len(s.name) for s in refusal.problems), default=0)
        lines += [f"  ✗ {s.name:<{width}}  {s.reason}" for s in refusal.problems]
        if refusal.hint:
            lines.append(f"  ({refusal.hint})")
        lines.append(f"Recorded {kind} in the ledger.")
        sys.stderr.write("\n".join(lines) + "\n")
    return typer.Exit(3)


def short_id(task_id: str, known: Iterable[str]) -> str:
    """The shortest prefix (at least 4 characters) that names only this task."""
    body = task_id[2:] if task_id.startswith("T-") else task_id
    others = [k[2:] for k in known if k != task_id]
    for n in range(4, len(body)):
        if not any(o.startswith(body[:n]) for o in others):
            return body[:n]
    return task_id


def _confirm(lines: list[str], token: str, prompt: str, yes: bool, json_out: bool) -> None:
    from lanectl.errors import LaneError, Refused

    out = sys.stderr if json_out else sys.stdout
    out.write("\n".join(lines) + "\n")
    if yes:
        return
    if not sys.stdin.isatty():
        raise Refused("no terminal to confirm on", hint="pass --yes to approve from a script")
    out.write(f"{prompt}: ")
    out.flush()
    typed = sys.stdin.readline().strip()
    if typed.upper() != token.upper():
        raise LaneError(f"not approved: you typed '{typed}', not {token}")


def register(app: typer.Typer) -> None:
    @app.command("approve")
    def approve(
        ctx: typer.Context,
        task_id: Annotated[
            str | None, typer.Argument(metavar="ID", help="Task id or unique prefix.")
        ] = None,
        yes: Annotated[bool, Opt("--yes", "-y", help="Do not ask to type the task id.")] = False,
        key: Annotated[
            Path | None,
            Opt(help="Your SSH signing key (private, or .pub beside it); default user.signingkey."),
        ] = None,
        standing: Annotated[
            bool, Opt("--standing", help="A standing approval for low-tier work in a scope.")
        ] = False,
        paths: Annotated[
            list[str] | None, Opt("--paths", help="With --standing: globs, comma-separated.")
        ] = None,
        until: Annotated[
            str | None, Opt(help="With --standing: last day it holds (e.g. 2026-12-31).")
        ] = None,
        json_out: Annotated[bool, JsonFlag] = False,
    ) -> None:
        """Approve a task's reviewed head with your SSH key: a signed, empty commit.

        Humans only; refused (exit 3, recorded) when the gate's stages before
        approval do not hold. With --standing, record a signed standing approval
        for low-tier tasks whose every changed path matches --paths, until --until.
        """
        from lanectl.refusal import Refusal

        json_mode = as_json(ctx, json_out)
        if standing:
            if task_id is not None or not paths or until is None:
                raise typer.BadParameter("--standing takes --paths and --until, and no task ID")
        elif task_id is None or paths or until is not None:
            raise typer.BadParameter("give a task ID (--paths and --until go with --standing)")
        ws = workspace(ctx)
        try:
            if standing:
                assert paths is not None
                assert until is not None
                _standing(ws, key, paths, until, yes, json_mode)
            else:
                assert task_id is not None
                _task(ws, task_id, key, yes, json_mode)
        except Refusal as refusal:
            raise refused(refusal, "approval.refused", json_mode) from None


def _task(ws: object, query: str, key: Path | None, yes: bool, json_mode: bool) -> None:
    from lanectl import approval, tasks
    from lanectl.workspace import Workspace

    assert isinstance(ws, Workspace)
    taskset = tasks.load(ws)
    task = taskset.resolve(query)
    preview = approval.prepare(ws, task, key)
    short = short_id(task.id, taskset.by_id)
    if preview.result.approved:
        approved = preview.result.approval or preview.result.standing
        if json_mode:
            emit_json({"task": task.id, "approval": approved, "already": True})
        else:
            print(
                f"{task.id} is already approved ({str(approved)[:7]}). "
                f"Merge with: lanectl merge {short}"
            )
        return
    prompt = "Type the task id to approve"
    _confirm(preview.lines(), task.id, prompt, yes, json_mode)
    done = approval.commit(ws, preview)
    if json_mode:
        emit_json(
            {
                "task": done.task_id,
                "approval": done.approval,
                "head": done.head,
                "tier": done.tier,
                "approver": done.approver,
            }
        )
    else:
        print(
            f"Approved: commit {done.approval[:7]} (signed, parent {done.head[:7]}). "
            f"Merge with: lanectl merge {short}"
        )


def _standing(
    ws: object, key: Path | None, paths: list[str], until: str, yes: bool, json_mode: bool
) -> None:
    from lanectl import standingops
    from lanectl.workspace import Workspace

    assert isinstance(ws, Workspace)
    grant = standingops.prepare(ws, key, paths, until)
    _confirm(grant.lines(), grant.base, f"Type {grant.base} to record it", yes, json_mode)
    done = standingops.commit(ws, grant)
    if json_mode:
        emit_json(
            {
                "standing_approval": done.commit,
                "base": done.base,
                "paths": list(done.paths),
                "until": done.until,
                "approver": done.approver,
            }
        )
    else:
        print(
            f"Standing approval {done.commit[:7]} recorded on {done.base}: low-tier changes to "
            f"{', '.join(done.paths)} until {done.until}."
        )
