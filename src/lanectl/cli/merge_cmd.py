"""``lanectl merge ID``"""

from typing import Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, workspace


def register(app: typer.Typer) -> None:
    @app.command("merge")
    def merge(
        ctx: typer.Context,
        task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id or unique prefix.")],
        json_out: Annotated[bool, JsonFlag] = False,
    ) -> None:
        """Merge an approved task into the base branch with a true merge commit.

        The whole gate is evaluated again first and the approval verified with the
        base branch's signers; otherwise exit 3 with every reason (recorded). On a
        github forge, GitHub merges the pull request with sha= the approval commit.
        """
        from lanectl import merge as mergemod
        from lanectl import tasks
        from lanectl.cli.approve_cmd import refused
        from lanectl.refusal import Refusal

        json_mode = as_json(ctx, json_out)
        ws = workspace(ctx)
        task = tasks.load(ws).resolve(task_id)
        try:
            done = mergemod.merge(ws, task)
        except Refusal as refusal:
            raise refused(refusal, "merge.refused", json_mode) from None
        if json_mode:
            emit_json(
                {
                    "task": done.task_id,
                    "merge": done.commit,
                    "approval": done.approval,
                    "standing": done.standing,
                    "head": done.head,
                    "base": done.base,
                    "base_before": done.base_before,
                    "base_moved": done.base_moved,
                    "merger": done.merger,
                    "pull": done.pull.to_json() if done.pull else None,
                }
            )
            return
        second = (
            f"head {done.head[:7]}, covered by standing approval {done.approval[:7]}"
            if done.standing
            else f"approval {done.approval[:7]}"
        )
        where = f" on {done.pull.forge} ({done.pull.label})" if done.pull else ""
        print(
            f"Merged {done.task_id} into {done.base}{where}: commit {done.commit[:7]} "
            f"(parents {done.base_before[:7]} and {second})."
        )
        if done.pull:
            print(f"  Bring your {done.base} up to date with `git pull`.")
        if done.base_moved:
            print(f"  {done.base} had moved since the task branched; the merge was clean.")
