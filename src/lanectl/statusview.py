"""``lanectl status`` on the screen: plain text when piped, rich tables on a terminal.

Both show the same sections of a :class:`~lanectl.status.Dashboard`, in the order a
person asks: what is there, what waits on me, who is running (and on which budget),
what stalled and why, what is ready and what has waited longest, what the gate
stopped lately, and what the waiting cost (the coordination tax).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from lanectl.timefmt import duration

if TYPE_CHECKING:
    from rich.console import Console

    from lanectl.budgetwatch import Pulse
    from lanectl.status import Dashboard
    from lanectl.watchdog import Diagnosis

SHOWN = 15


def _age(d: Diagnosis) -> str:
    return duration(d.seconds) if d.seconds is not None else "-"


def _what(d: Diagnosis) -> str:
    """The second column: a builder's progress, or THROTTLED / OVERLOADED."""
    if d.kind != "running":
        return d.kind.upper()
    if d.step is not None:
        turn, most = d.step
        return f"step {turn}/{most}" if most else f"step {turn}"
    if d.tool_calls is None:
        return "running"
    return f"{d.tool_calls} tool call{'s' if d.tool_calls != 1 else ''}"


def running_row(board: Dashboard, d: Diagnosis) -> tuple[str, str, str, str]:
    """(task, agent, progress, budget) of one running builder."""
    steps = board.max_steps.get(d.agent or "")
    shown = steps and d.kind == "running" and d.step is None
    what = _what(d) + (f" (max_steps {steps})" if shown else "")
    budget = board.budget_use(d.budget) or "no budget"
    if d.kind != "running":
        budget = f"{d.summary} — not stuck"
    return d.task, d.agent or "-", what, budget


def pulse_line(name: str, pulse: Pulse | None, block: dict[str, Any] | Any) -> str:
    from lanectl.budgetwatch import clock, use

    parts = [use(pulse, block) or "no rpm limit"]
    if pulse is None:
        return f"{name}  " + " · ".join([*parts, "unused on this machine"])
    parts.append(f"{pulse.in_flight} in flight")
    if pulse.queued:
        parts.append(f"{pulse.queued} queued")
    parts.append(f"concurrency {pulse.concurrency}")
    if pulse.halted:
        parts.append(f"STOPPED until {clock(pulse.halted_until)}: {pulse.halt_reason}")
    elif pulse.paused:
        parts.append(f"paused {pulse.paused_until - pulse.now:.0f} s (429, retry-after)")
    for cls, label in (("rate_limited", "429"), ("overloaded", "529/503")):
        if pulse.count(cls):
            parts.append(f"{pulse.count(cls)} × {label} lately")
    return f"{name}  " + " · ".join(parts)


def _when(event: dict[str, Any]) -> str:
    return str(event.get("ts", ""))[:16].replace("T", " ")


WHAT_CHARS = 160  # a gate event's line is a pointer; `lanectl log` has the whole reason


def _event_what(event: dict[str, Any]) -> str:
    """What was attempted and why it was stopped, cut to one readable line."""
    what = str(event.get("reason") or "")
    attempted = event.get("attempted")
    if isinstance(attempted, list) and attempted:
        tried = "; ".join(str(a) for a in attempted)
        what = f"{tried} — {what}" if what else tried
    return what if len(what) <= WHAT_CHARS else what[: WHAT_CHARS - 1].rstrip() + "…"


def event_line(event: dict[str, Any]) -> str:
    return (
        f"{_when(event)}  {event.get('kind', ''):<13} {event.get('actor', '')}  "
        f"{event.get('task') or '-'}  {_event_what(event)}"
    )


def _more(lines: list[str], rows: Sequence[object], hint: str) -> None:
    if len(rows) > SHOWN:
        lines.append(f"  … and {len(rows) - SHOWN} more ({hint})")


def plain(board: Dashboard) -> str:
    """The whole dashboard as plain text (what a pipe or a log gets)."""
    report = board.status
    lines: list[str] = []
    parts = " · ".join(f"{n} {s}" for s, n in report.by_state.items())
    lines.append(f"Tasks: {report.total}" + (f" — {parts}" if parts else ""))
    if report.by_risk:
        lines.append("Risk:  " + " · ".join(f"{n} {r}" for r, n in report.by_risk.items()))
    if rows := board.on_human:
        lines += ["", f"WAITING ON A HUMAN ({len(rows)})"]
        for d in rows[:SHOWN]:
            lines.append(f"  {d.task}  {d.waiting_on or '':<15} {_age(d):>8}  {d.next or ''}")
        _more(lines, rows, "lanectl doctor")
    if running := board.running:
        lines += ["", f"RUNNING ({len(running)})"]
        for d in running[:SHOWN]:
            task, agent, what, budget = running_row(board, d)
            lines.append(f"  {task}  {agent:<16} {what:<14} {budget}")
        _more(lines, running, "lanectl doctor")
    if stalled := board.stalled:
        lines += ["", f"STALLED ({len(stalled)})"]
        for d in stalled[:SHOWN]:
            lines.append(f"  {d.task}  {d.kind:<15} {_age(d):>8}  {d.summary}")
            if d.next:
                lines.append(f"  {'':10}  next: {d.next}")
        _more(lines, stalled, "lanectl doctor")
    shown_budgets = [n for n in board.budgets if n in board.pulses]
    if shown_budgets:
        lines += ["", "BUDGETS"]
        for name in shown_budgets:
            lines.append("  " + pulse_line(name, board.pulses[name], board.budgets[name]))
    if report.ready:
        lines += ["", f"READY FOR A BUILDER ({len(report.ready)})"]
        for row in report.ready[:SHOWN]:
            lines.append(
                f"  {row.task.id}  {row.task.risk:<6}  {duration(row.seconds_in_state):>8}  "
                f"{row.task.title}"
            )
        _more(lines, report.ready, "lanectl task list --ready")
    waiting = [r for r in report.active if not r.ready]
    if waiting:
        from lanectl.status import next_step

        lines += ["", "LONGEST IN STATE"]
        for row in waiting[:SHOWN]:
            lines.append(
                f"  {row.task.id}  {row.task.state:<17} {duration(row.seconds_in_state):>8}  "
                f"{row.task.title} — {next_step(row)}"
            )
        _more(lines, waiting, "lanectl status --json")
    if board.gate_events:
        lines += [
            "",
            f"GATE EVENTS (latest {len(board.gate_events)}; lanectl log --result blocked)",
        ]
        lines += [f"  {event_line(e)}" for e in board.gate_events]
    tax = board.tax
    if tax.tasks:
        share = tax.waiting_share
        lines += [
            "",
            f"COORDINATION TAX (last {tax.window_s / 3600:.0f} h)   {tax.summary()}"
            + (f"   — {share:.0%} of task time spent waiting" if share is not None else ""),
        ]
    if not report.total:
        lines.append('Next: lanectl task new "What needs doing"')
    return "\n".join(lines) + "\n"


def rich(board: Dashboard, console: Console | None = None) -> None:
    """The dashboard as tables on a terminal."""
    from rich.console import Console
    from rich.markup import escape as esc
    from rich.table import Table

    from lanectl.status import next_step

    console = console or Console()
    report = board.status

    def table(title: str, *columns: str) -> Table:
        t = Table(title=title, title_justify="left", box=None, header_style="bold")
        for column in columns:
            t.add_column(column)
        return t

    parts = " · ".join(f"{n} {s}" for s, n in report.by_state.items())
    console.print(f"[bold]Tasks: {report.total}[/bold]" + (f" — {parts}" if parts else ""))
    if report.by_state_risk:
        t = table("by state and risk", "state", "low", "medium", "high")
        for state, counts in report.by_state_risk.items():
            t.add_row(esc(state), *(str(counts[r]) for r in ("low", "medium", "high")))
        console.print(t)
    if rows := board.on_human:
        t = table(f"WAITING ON A HUMAN ({len(rows)})", "task", "on", "for", "next", "why")
        for d in rows[:SHOWN]:
            t.add_row(*(esc(x) for x in (d.task, d.waiting_on or "", _age(d), d.next or "",
                                         d.summary)))  # fmt: skip
        console.print(t)
    if running := board.running:
        t = table(f"RUNNING ({len(running)})", "task", "agent", "progress", "budget")
        for d in running[:SHOWN]:
            task, agent, what, budget = (esc(x) for x in running_row(board, d))
            t.add_row(task, agent, f"[yellow]{what}[/yellow]" if d.kind != "running" else what,
                      budget)  # fmt: skip
        console.print(t)
    if stalled := board.stalled:
        t = table(f"STALLED ({len(stalled)})", "task", "diagnosis", "for", "why", "next")
        for d in stalled[:SHOWN]:
            t.add_row(esc(d.task), f"[red]{esc(d.kind)}[/red]", _age(d), esc(d.summary),
                      esc(d.next or ""))  # fmt: skip
        console.print(t)
    if shown := [n for n in board.budgets if n in board.pulses]:
        t = table("BUDGETS", "budget", "now")
        for name in shown:
            line = pulse_line(name, board.pulses[name], board.budgets[name])
            t.add_row(esc(name), esc(line.split("  ", 1)[1]))
        console.print(t)
    if report.active:
        t = table("where work waits", "id", "state", "in state", "title", "next")
        for row in report.active[:SHOWN]:
            t.add_row(*(esc(x) for x in (row.task.id, row.task.state,
                                         duration(row.seconds_in_state), row.task.title,
                                         next_step(row))))  # fmt: skip
        console.print(t)
        if len(report.active) > SHOWN:
            console.print(f"… and {len(report.active) - SHOWN} more (lanectl status --json)")
    if board.gate_events:
        t = table("GATE EVENTS (latest)", "when", "kind", "actor", "task", "what")
        for e in board.gate_events:
            t.add_row(*(esc(x) for x in (_when(e), str(e.get("kind", "")),
                                         str(e.get("actor", "")), str(e.get("task") or "-"),
                                         _event_what(e))))  # fmt: skip
        console.print(t)
    if board.tax.tasks:
        tax = board.tax
        share = tax.waiting_share
        console.print(
            f"[bold]COORDINATION TAX (last {tax.window_s / 3600:.0f} h)[/bold]   "
            f"{esc(tax.summary())}"
            + (f"   — {share:.0%} of task time spent waiting" if share is not None else "")
        )
    if not report.total:
        console.print('Next: lanectl task new "What needs doing"')
