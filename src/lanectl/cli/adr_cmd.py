"""``lanectl adr …``"""

import sys
from typing import Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, warn, workspace

app = typer.Typer(help="Architecture decision records (MADR 4).", no_args_is_help=True)

Number = Annotated[str, typer.Argument(metavar="N", help="ADR number (4 or 0004) or file name.")]


@app.command("new")
def new(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="The decision, in a few words.")],
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Write a new proposed ADR from the MADR 4 template (you commit it)."""
    from lanectl import adrops, state
    from lanectl import workspace as wsmod

    ws = workspace(ctx)
    actor, role = wsmod.actor(ws)
    with state.change(ws, actor, role, f"adr new: {title}") as change:
        adr = adrops.create(ws, change, title, decision_makers=[actor])
        change.summary = f"adr new {adr.number}: {adr.title}"
    if as_json(ctx, json_out):
        emit_json(adr.to_json())
        return
    print(f"Created ADR {adr.number}  {adr.title}  ({adr.status})")
    print(f"  file: {ws.decisions_dir / adr.file}")
    print(
        "Next: write its context, options and outcome, set `status: accepted` once decided, "
        f"then `git add {adr.rel_path}` and commit it"
    )


@app.command("list")
def list_(ctx: typer.Context, json_out: Annotated[bool, JsonFlag] = False) -> None:
    """List ADRs by number; files that do not parse are reported on stderr."""
    from lanectl import adrs

    ws = workspace(ctx)
    found, broken = adrs.load(ws)
    if as_json(ctx, json_out):
        emit_json([adr.to_json() for adr in found])
    elif found:
        width = max(len(adr.status) for adr in found)
        sys.stdout.write(
            "".join(f"{a.number}  {a.status:<{width}}  {a.date}  {a.title}\n" for a in found)
        )
    elif not broken:
        print('No ADRs in docs/decisions. Next: lanectl adr new "The decision"')
    for message in broken:
        warn(message)
    if broken:
        raise typer.Exit(1)


@app.command("show")
def show(ctx: typer.Context, number: Number, json_out: Annotated[bool, JsonFlag] = False) -> None:
    """Print one ADR."""
    from lanectl import adrs

    ws = workspace(ctx)
    adr = adrs.resolve(ws, number)
    text = adrs.read_text(ws, adr)
    if as_json(ctx, json_out):
        emit_json({**adr.to_json(), "text": text})
        return
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    print(f"# {ws.decisions_dir / adr.file}")


@app.command("supersede")
def supersede(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(metavar="OLD", help="The ADR being replaced.")],
    new_: Annotated[str, typer.Argument(metavar="NEW", help="The ADR that replaces it.")],
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Mark OLD as superseded by NEW, and link NEW back to OLD."""
    from lanectl import adrops, state
    from lanectl import workspace as wsmod

    ws = workspace(ctx)
    actor, role = wsmod.actor(ws)
    with state.change(ws, actor, role, f"adr supersede {old} {new_}") as change:
        older, newer = adrops.supersede(ws, change, old, new_)
        change.summary = f"adr supersede {older.number} by {newer.number}"
    if as_json(ctx, json_out):
        emit_json({"old": older.to_json(), "new": newer.to_json()})
        return
    print(f"ADR {older.number} is now '{older.status}'; {newer.number} lists it under supersedes")
    print(f"Next: git add {older.rel_path} {newer.rel_path} and commit them")


@app.command("renumber")
def renumber(
    ctx: typer.Context,
    number: Number,
    to: Annotated[str, typer.Argument(metavar="M", help="The new number.")],
    json_out: Annotated[bool, JsonFlag] = False,
) -> None:
    """Give ADR N the number M, rewriting references in ADRs and tasks."""
    from lanectl import adrops, state
    from lanectl import workspace as wsmod
    from lanectl.workspace import DECISIONS_DIR

    ws = workspace(ctx)
    actor, role = wsmod.actor(ws)
    with state.change(ws, actor, role, f"adr renumber {number} {to}") as change:
        result = adrops.renumber(ws, change, number, to)
        change.summary = f"adr renumber {result.old_file} to {result.adr.number}"
    if as_json(ctx, json_out):
        emit_json(
            {
                **result.adr.to_json(),
                "old_file": f"{DECISIONS_DIR}/{result.old_file}",
                "rewritten_adrs": list(result.adrs),
                "rewritten_tasks": list(result.tasks),
                "left_tasks": list(result.left),
            }
        )
        return
    print(f"Renumbered {result.old_file} → {result.adr.file}")
    if result.adrs or result.tasks:
        print(f"  rewrote references in: {', '.join([*result.adrs, *result.tasks])}")
    if result.left:
        print(
            f"  not rewritten (another ADR still has that number, so they may mean it): "
            f"{', '.join(result.left)}; check them with `lanectl task show`"
        )
    print(
        f"Next: git add -A {DECISIONS_DIR} and commit; `git grep -n {result.old_file}` "
        "finds links outside the ADRs"
    )
