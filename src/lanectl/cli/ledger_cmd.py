"""``lanectl log`` and ``lanectl audit``."""

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from lanectl.cli.common import JsonFlag, as_json, emit_json, workspace

Opt = typer.Option


def register(app: typer.Typer) -> None:
    @app.command("log")
    def log(
        ctx: typer.Context,
        actor: Annotated[str | None, Opt(help="Only events by this actor.")] = None,
        role: Annotated[
            str | None, Opt(help="builder, reviewer, security, human, lanectl, …")
        ] = None,
        kind: Annotated[str | None, Opt(help="Event kind, e.g. task.state or task.")] = None,
        task: Annotated[str | None, Opt(help="Task id or unique prefix.")] = None,
        result: Annotated[str | None, Opt(help="ok, blocked, refused or error.")] = None,
        since: Annotated[str | None, Opt(help="30m, 2h, 1d, 1w or a time.")] = None,
        until: Annotated[str | None, Opt(help="30m, 2h, 1d, 1w or a time.")] = None,
        limit: Annotated[int | None, Opt(help="Only the last N matching events.")] = None,
        json_out: Annotated[bool, JsonFlag] = False,
    ) -> None:
        """Query the ledger (YAML in the gate_event shape; JSON lines with --json)."""
        from lanectl import ledger, logquery, timefmt
        from lanectl.errors import LaneError

        ws = workspace(ctx)
        if result is not None and result not in ledger.RESULTS:
            raise LaneError(f"--result must be one of {', '.join(ledger.RESULTS)}")
        task_id = None
        if task is not None:
            from lanectl import ids, tasks

            normal = ids.normalise_query(task)
            if normal is not None and ids.is_task_id(normal):
                task_id = normal  # a full id need not exist any more (cancelled, renamed)
            else:
                task_id = tasks.load(ws).resolve(task).id
        filters = logquery.Filters(
            actor=actor,
            role=role,
            kind=kind,
            task=task_id,
            result=result,
            since=timefmt.parse_moment(since, option="--since") if since else None,
            until=timefmt.parse_moment(until, option="--until") if until else None,
        )
        pairs = logquery.scan(ws.log_dir, filters)
        if limit is not None:
            pairs = pairs[-limit:] if limit > 0 else []
        events = [event for event, _ in pairs]
        if as_json(ctx, json_out):
            text = b"".join(line + b"\n" for _, line in pairs).decode("ascii", "replace")
            sys.stdout.write(text)
        elif events:
            sys.stdout.write(logquery.as_yaml(events))
        else:
            print("No matching events.", file=sys.stderr)

    @app.command("audit")
    def audit(
        ctx: typer.Context,
        repair: Annotated[
            bool, Opt("--repair", help="Cut off a torn last line (a crash mid-write).")
        ] = False,
        rev: Annotated[
            str | None,
            Opt(help="History to check (default: the base branch; in CI e.g. HEAD)."),
        ] = None,
        json_out: Annotated[bool, JsonFlag] = False,
    ) -> None:
        """Verify the ledger's hash chains and that every merge on the base branch was approved.

        Exit 1 when a chain is broken or torn, a lane merge lacks a valid approval,
        or an agent committed to the base branch directly.
        """
        from lanectl import audit as auditmod
        from lanectl import historyaudit, state
        from lanectl import workspace as wsmod
        from lanectl.errors import LaneError

        ws = workspace(ctx)
        report = auditmod.verify(ws)
        if repair and any(p.torn for p in report.problems):
            actor, role = wsmod.actor(ws)
            with state.change(ws, actor, role, "audit --repair", repairing=True) as change:
                report = auditmod.repair(ws, change, report)
        history: historyaudit.HistoryReport | None = None
        history_error: str | None = None
        try:
            history = historyaudit.audit(ws, rev)
        except LaneError as exc:
            history_error = str(exc)
        history_ok = history is not None and history.ok
        from lanectl import waivers

        waived, unsound = waivers.collect_all(ws)
        if as_json(ctx, json_out):
            emit_json(
                {
                    "ok": report.ok and history_ok,
                    "files": report.files,
                    "events": report.events,
                    "problems": [
                        {"file": p.path, "line": p.line, "message": p.message, "torn": p.torn}
                        for p in report.problems
                    ],
                    "repaired": [
                        {"file": f, "line": ln, "bytes_removed": b} for f, ln, b in report.repaired
                    ],
                    "history": {
                        "ok": history_ok,
                        "error": history_error,
                        "rev": history.rev if history else rev,
                        "commits": history.commits if history else 0,
                        "merges": history.merges if history else 0,
                        "lane_merges": history.lane_merges if history else 0,
                        "findings": [f.to_json() for f in history.findings] if history else [],
                    },
                    "waivers": [w.to_json() for w in waived],
                    "ignored_waivers": [{"path": i.path, "reason": i.reason} for i in unsound],
                }
            )
        else:
            _print_ledger(report)
            _print_history(history, history_error)
            _print_waivers(waived, unsound)
        if not report.ok or not history_ok:
            raise typer.Exit(1)


def _print_ledger(report: object) -> None:
    from lanectl.audit import AuditReport

    assert isinstance(report, AuditReport)
    for rel, line, removed in report.repaired:
        print(f"repaired {rel}:{line}: cut off a torn line ({removed} bytes); recorded")
    for problem in report.problems:
        print(f"{problem}", file=sys.stderr)
    if report.ok:
        print(f"✓ ledger: {report.events} events in {report.files} files, chains intact")
    else:
        torn = any(p.torn for p in report.problems)
        hint = "; run `lanectl audit --repair` to cut off a torn line" if torn else ""
        print(f"✗ ledger: {len(report.problems)} problem(s){hint}", file=sys.stderr)


def _print_history(history: object, error: str | None) -> None:
    from lanectl.historyaudit import HistoryReport

    if error is not None or not isinstance(history, HistoryReport):
        print(f"✗ history: {error}", file=sys.stderr)
        return
    rev = history.rev.removeprefix("refs/heads/")
    counts = f"{history.commits} commits on {rev}, {history.lane_merges} lane merge(s)"
    if history.ok:
        print(f"✓ history: {counts}; every lane merge approved, no agent commits")
        return
    for finding in history.findings:
        print(f"  {finding}", file=sys.stderr)
    print(f"✗ history: {len(history.findings)} problem(s) in {counts}", file=sys.stderr)


def _print_waivers(waived: Sequence[object], unsound: Sequence[object]) -> None:
    from lanectl.evidence import Ignored
    from lanectl.waivers import Waiver

    if not waived and not unsound:
        return
    print(f"· waivers: {len(waived)} signed by a person")
    for w in waived:
        assert isinstance(w, Waiver)
        print(f"  {w.task}  {w.kind} ({', '.join(w.roles)}) by {w.human} ({w.principal}) "
              f"at {w.ts}: {w.reason}")  # fmt: skip
    for item in unsound:
        assert isinstance(item, Ignored)
        print(f"  ! ignored {item.path}: {item.reason}", file=sys.stderr)
