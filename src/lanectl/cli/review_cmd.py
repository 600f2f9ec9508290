"""``lanectl review ID [--role R]`` · ``lanectl waive ID --diversity``"""

from pathlib import Path
from typing import Annotated, Any

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, workspace
from lanectl.cli.progress import MARKS, reporter

Opt = typer.Option
DONE = ("recorded", "reused", "current", "incomplete", "error", "posted", "status")
DEFAULT_REASON = "no security agent of a third model family is configured"
ROLE_HELP = "reviewer, security or designer (repeatable; default: every role the tier requires)."
DIVERSITY_HELP = (
    "Let the security review come from the correctness reviewer's family (never the builder's)."
)


def register(app: typer.Typer) -> None:
    @app.command("review")
    def review(
        ctx: typer.Context,
        task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id or unique prefix.")],
        role: Annotated[
            list[str] | None,
            Opt("--role", help=ROLE_HELP),
        ] = None,
        json_out: Annotated[bool, JsonFlag] = False,
    ) -> None:
        """Run the cross-family reviews of a task's head: signed findings, never an approval.

        Reviewers come from other model families than the builder (the base
        branch's config). Exit 0 when every review is complete, whatever its
        verdict; 1 when one is incomplete or failed; 3 when the policy refuses
        (a role cannot be assigned as it requires).
        """
        from lanectl import review as reviewmod
        from lanectl.cli.approve_cmd import refused
        from lanectl.refusal import Refusal

        ws = workspace(ctx)
        json_mode = as_json(ctx, json_out)
        try:
            with reporter(json_mode, DONE, width=11) as report:
                outcomes = reviewmod.run_reviews(ws, task_id, role or None, report)
        except Refusal as refusal:
            raise refused(refusal, "review.refused", json_mode) from None
        if json_mode:
            emit_json({"reviews": [o.to_json() for o in outcomes]})
        else:
            _print(outcomes)
        if any(not o.counts for o in outcomes):
            raise typer.Exit(1)

    @app.command("waive")
    def waive(
        ctx: typer.Context,
        task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id or unique prefix.")],
        diversity: Annotated[
            bool,
            Opt("--diversity", help=DIVERSITY_HELP),
        ] = False,
        key: Annotated[
            Path | None,
            Opt(help="Your SSH signing key (private, or .pub beside it); default user.signingkey."),
        ] = None,
        reason: Annotated[str, Opt(help="Why (one line; recorded and shown).")] = DEFAULT_REASON,
        yes: Annotated[bool, Opt("--yes", "-y", help="Do not ask to type the task id.")] = False,
        json_out: Annotated[bool, JsonFlag] = False,
    ) -> None:
        """As a human: sign a waiver of a gate rule for one task (shown by gate and audit).

        Refused (exit 3, recorded) for a key that is not a person's in the base
        branch's allowed_signers.
        """
        from lanectl import waiveops
        from lanectl.cli.approve_cmd import _confirm, refused
        from lanectl.refusal import Refusal

        if not diversity:
            raise typer.BadParameter("say which rule: --diversity")
        ws = workspace(ctx)
        json_mode = as_json(ctx, json_out)
        try:
            pending = waiveops.prepare(ws, task_id, key, reason)
            tid = pending.waiver.task
            _confirm(pending.lines(), tid, "Type the task id to sign the waiver", yes, json_mode)
            done = waiveops.commit(ws, pending)
        except Refusal as refusal:
            raise refused(refusal, "waiver.refused", json_mode) from None
        if json_mode:
            emit_json(done.to_json())
        else:
            print(
                f"Waived {done.kind} for {done.task} ({', '.join(done.roles)}), signed by "
                f"{done.human}: {done.path}. Next: lanectl review {done.task}"
            )


def _print(outcomes: list[Any]) -> None:
    from lanectl.review import ReviewOutcome

    if not outcomes:
        print("No review was needed.")
        return
    first: ReviewOutcome = outcomes[0]
    print(f"Reviews of {first.task} at {first.head[:7]}:")
    width = max(len(o.label) for o in outcomes)
    for o in outcomes:
        mark = MARKS.get(o.status, "?")
        print(f"  {mark} {o.label:<{width}}  {o.agent} ({o.family}): {o.reason}")
        if o.note:
            print(f"    {'':<{width}}  note: {o.note}")
        if o.forge_error:
            print(f"    {'':<{width}}  forge: {o.forge_error}")
    print(f"Next: lanectl gate {first.task}")
