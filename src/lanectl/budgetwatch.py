"""A budget as the watchdog, ``status`` and ``dispatch`` see it now (ADR 0028).

The pacer keeps its state in the budget store (:mod:`lanectl.budgetstore`):
a pause after a 429, a halt after ``quota_exhausted`` or a rejected key, the
adaptive concurrency window, the requests in flight and a row per 429, 529/503
and halt. :func:`read` turns that into a :class:`Pulse`; from a pulse come the
watchdog's answer for a running builder (:func:`diagnose`: throttled,
overloaded, quota — with the pacer's ETA) and how many more builders dispatch
may start on the budget (:func:`allowance`). Nothing here writes pacing state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanectl import timefmt

if TYPE_CHECKING:
    from lanectl.budgetstore import BudgetStore
    from lanectl.watchdog import Diagnosis, Probe, Running
    from lanectl.workspace import Workspace

RECENT_S = 60.0  # a 429 or 529 this recent (in the budget's own seconds) still counts
HALTS = ("quota_exhausted", "auth")


@dataclass(frozen=True)
class Pulse:
    """One budget now, from the store; times are seconds since the epoch."""

    budget: str
    now: float
    paused_until: float = 0.0
    retry_after: float | None = None  # what the 429 behind the pause asked for
    halted_until: float = 0.0
    halt_reason: str | None = None
    halt_class: str | None = None  # quota_exhausted | auth
    window: float = math.inf  # the pacer's adaptive concurrency (requests in flight)
    ceiling: float = math.inf  # max_concurrency, as the store has it
    in_flight: int = 0
    queued: int = 0  # admitted, waiting to be sent
    sent_last_minute: int = 0  # requests sent in the last minute (of the budget's time)
    recent: Mapping[str, tuple[int, float]] = field(default_factory=dict)  # cls → (n, last)
    time_scale: float = 1.0

    @property
    def paused(self) -> bool:
        return self.paused_until > self.now

    @property
    def halted(self) -> bool:
        return self.halted_until > self.now

    @property
    def concurrency(self) -> int:
        """Requests the pacer lets fly at once now (never below one)."""
        limit = min(self.window, self.ceiling)
        return max(1, math.floor(limit)) if math.isfinite(limit) else 1_000_000

    def count(self, cls: str) -> int:
        return self.recent.get(cls, (0, 0.0))[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "paused_for_s": round(max(0.0, self.paused_until - self.now), 3),
            "paused_until": timefmt_ts(self.paused_until) if self.paused else None,
            "retry_after_s": None if self.retry_after is None else round(self.retry_after, 3),
            "halted": self.halt_reason if self.halted else None,
            "halt_class": self.halt_class if self.halted else None,
            "halted_until": timefmt_ts(self.halted_until) if self.halted else None,
            "concurrency": self.concurrency if math.isfinite(min(self.window, self.ceiling))
            else None,
            "in_flight": self.in_flight,
            "queued": self.queued,
            "requests_last_minute": self.sent_last_minute,
            "recent": {cls: {"count": n, "last": timefmt_ts(at)}
                       for cls, (n, at) in sorted(self.recent.items())},
        }  # fmt: skip


def timefmt_ts(moment: float) -> str:
    return timefmt.to_ts(datetime.fromtimestamp(moment).astimezone())


def clock(moment: float) -> str:
    """``10:31:12`` in local time, as a person reads a wall clock."""
    return datetime.fromtimestamp(moment).strftime("%H:%M:%S")


# ---------------------------------------------------------------------------
# Reading the store


STORE_NAME = "budgets.sqlite"  # budgetrows.STORE_NAME, without importing the pacer


def store_file(ws: Workspace) -> Path:
    """Where :func:`lanectl.budgetstore.store_path` keeps the store (a test pins it)."""
    return ws.private_dir / STORE_NAME


def open_store(ws: Workspace) -> BudgetStore | None:
    """The budget store, or None when no lanectl process on this machine has used one.

    ``status`` asks on every run: without a store the pacer's modules are not even
    imported."""
    path = store_file(ws)
    if not path.exists():
        return None
    from lanectl import budgetstore

    return budgetstore.BudgetStore(path)


def read(store: BudgetStore, budget: str, now: float | None = None) -> Pulse | None:
    """The budget now, or None when the pacer has never run a call on it."""
    from lanectl import budgetrows

    now = store.clock() if now is None else now
    with store.tx(write=False) as db:
        row = db.execute("SELECT * FROM budget WHERE name = ?", (budget,)).fetchone()
        if row is None:
            return None
        scale = max(float(row["time_scale"] or 1.0), 1e-9)
        minute = now - 60.0 / scale
        queued, sent = db.execute(
            "SELECT COALESCE(SUM(sent IS NULL AND settled IS NULL), 0), "
            "COALESCE(SUM(sent > ?), 0) FROM ticket WHERE budget = ?",
            (minute, budget),
        ).fetchone()
        signals = db.execute(
            "SELECT cls, COUNT(*), MAX(at) FROM signal WHERE budget = ? AND at > ? GROUP BY cls",
            (budget, now - RECENT_S / scale),
        ).fetchall()
        pause = db.execute(
            "SELECT at, until FROM signal WHERE budget = ? AND cls = 'rate_limited' "
            "AND until IS NOT NULL ORDER BY until DESC LIMIT 1",
            (budget,),
        ).fetchone()
        halt = db.execute(
            "SELECT cls FROM signal WHERE budget = ? AND cls IN ('quota_exhausted', 'auth') "
            "ORDER BY at DESC LIMIT 1",
            (budget,),
        ).fetchone()
        in_flight = budgetrows.in_flight(db, budget)
    return Pulse(
        budget=budget,
        now=now,
        paused_until=float(row["paused_until"]),
        retry_after=float(pause["until"] - pause["at"]) if pause is not None else None,
        halted_until=float(row["halted_until"]),
        halt_reason=row["halt_reason"],
        halt_class=str(halt["cls"]) if halt is not None else "quota_exhausted",
        window=float(row["cwnd"]),
        ceiling=float(row["ceiling"]),
        in_flight=in_flight,
        queued=int(queued),
        sent_last_minute=int(sent),
        recent={str(cls): (int(n), float(at)) for cls, n, at in signals},
        time_scale=scale,
    )


def pulses(ws: Workspace, names: list[str], now: float | None = None) -> dict[str, Pulse]:
    """Pulses of the named budgets the store knows (none if there is no store)."""
    store = open_store(ws) if names else None
    if store is None:
        return {}
    try:
        found = {name: read(store, name, now) for name in names}
    finally:
        store.close()
    return {name: pulse for name, pulse in found.items() if pulse is not None}


def budgets_of(raw: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    budgets = raw.get("budgets")
    if not isinstance(budgets, dict):
        return {}
    return {str(k): v for k, v in budgets.items() if isinstance(v, dict)}


def agent_budget(raw: Mapping[str, Any], agent: str | None) -> str | None:
    agents = raw.get("agents")
    entry = agents.get(agent) if isinstance(agents, dict) and agent else None
    budget = entry.get("budget") if isinstance(entry, dict) else None
    return budget if isinstance(budget, str) else None


def sharing(raw: Mapping[str, Any], budget: str) -> list[str]:
    """The agents of the config that draw from ``budget``."""
    agents = raw.get("agents")
    if not isinstance(agents, dict):
        return []
    return sorted(str(n) for n, a in agents.items() if isinstance(a, dict)
                  and a.get("budget") == budget)  # fmt: skip


def use(pulse: Pulse | None, raw_budget: Mapping[str, Any] | None) -> str | None:
    """``38/50 rpm`` (requests sent in the last minute against the configured limit)."""
    rpm = raw_budget.get("rpm") if raw_budget else None
    if pulse is None:
        return f"0/{rpm} rpm" if rpm else None
    used = pulse.sent_last_minute
    return f"{used}/{rpm} rpm" if rpm else f"{used} rpm"


# ---------------------------------------------------------------------------
# The watchdog's probe


def diagnose(
    run: Running, pulse: Pulse, agents: list[str], credential: str | None = None
) -> Diagnosis | None:
    """Throttled, overloaded, quota or auth for a builder on ``pulse``'s budget, or None.

    A halt (a human is needed) comes first, then a pause (a 429's retry-after),
    then recent 529/503s, then recent 429s without a pause.
    """
    from lanectl.watchdog import Diagnosis

    name, now = pulse.budget, pulse.now
    shared = f"{len(agents)} agent{'s' if len(agents) != 1 else ''} share it" if agents else ""
    evidence: list[str] = []
    if len(agents) == 1:
        shared = "1 agent shares it"
    if shared:
        evidence.append(f"{shared}: {', '.join(agents)}")

    def diag(kind: str, summary: str, next_step: str | None, since: float | None,
             until: float | None) -> Diagnosis:  # fmt: skip
        return Diagnosis(
            run.task.id, run.task.title, run.task.state, kind, summary, tuple(evidence),
            None if since is None else max(0.0, now - since), None, next_step, run.agent,
            budget=name, until=until,
        )  # fmt: skip

    if pulse.halted:
        kind = "auth" if pulse.halt_class == "auth" else "quota"
        last = pulse.recent.get(pulse.halt_class or "", (0, None))[1]
        evidence.append(f"halted until {clock(pulse.halted_until)}: {pulse.halt_reason}")
        key = f" for the key in ${credential}" if credential else ""
        fix = (
            f"a human: check the key{key} (revoked or wrong?), then `lanectl dispatch` again"
            if kind == "auth"
            else f"a human: add credit or raise the spend limit{key}; calls on budget {name} "
            f"are refused until {clock(pulse.halted_until)}, then `lanectl dispatch` resumes"
        )
        return diag(
            kind,
            f"budget {name} is stopped: {pulse.halt_reason} — a human is needed"
            + (f"; {shared}" if shared else ""),
            fix,
            last,
            pulse.halted_until,
        )
    n429, n529 = pulse.count("rate_limited"), pulse.count("overloaded")
    window = f"the pacer runs {pulse.concurrency} request(s) at once"
    if pulse.paused:
        left = pulse.paused_until - now
        asked = pulse.retry_after if pulse.retry_after is not None else left
        evidence.append(f"{n429} × 429 in the last {RECENT_S / pulse.time_scale:.0f} s; {window}")
        return diag(
            "throttled",
            f"budget {name} paused until {clock(pulse.paused_until)} (retry-after "
            f"{asked:.0f} s after a 429, {left:.0f} s left)" + (f"; {shared}" if shared else ""),
            "nothing to do: the pacer resumes by itself; raising concurrency will not help — "
            "add a budget or route light work to a cheaper model (routing:)",
            pulse.recent.get("rate_limited", (0, None))[1],
            pulse.paused_until,
        )
    recent = f"in the last {RECENT_S / pulse.time_scale:.0f} s"
    if n529:
        last = pulse.recent["overloaded"][1]
        return diag(
            "overloaded",
            f"the provider behind budget {name} is overloaded: {n529} × 529/503 {recent} "
            f"(last at {clock(last)}); the pacer backs off and retries",
            "nothing to do: it retries with backoff; `lanectl budget` shows the errors",
            last,
            None,
        )
    if n429:
        last = pulse.recent["rate_limited"][1]
        evidence.append(window)
        return diag(
            "throttled",
            f"budget {name}: {n429} × 429 {recent} (last at {clock(last)}); {window} now"
            + (f"; {shared}" if shared else ""),
            "nothing to do: the pacer slows down by itself; add a budget or route light "
            "work to a cheaper model if it lasts",
            last,
            None,
        )
    return None


def probe(ws: Workspace) -> Probe | None:
    """The watchdog's probe for builders that draw from a budget, or None without a store.

    A builder's budget comes from the work tree's config (``agents.<name>.budget``);
    the store is read once, when the first running builder is asked about.
    """
    if not store_file(ws).exists():
        return None
    raw = ws.raw_config
    budgets = budgets_of(raw)
    seen: dict[str, Pulse] = {}
    loaded: list[bool] = []

    def ask(run: Running) -> Diagnosis | None:
        name = run.budget
        if name is None:
            return None
        if not loaded:
            loaded.append(True)
            seen.update(pulses(ws, sorted(budgets)))
        pulse = seen.get(name)
        if pulse is None:
            return None
        cred = budgets.get(name, {}).get("credential_env")
        return diagnose(run, pulse, sharing(raw, name), cred if isinstance(cred, str) else None)

    return ask


# ---------------------------------------------------------------------------
# What dispatch may start


@dataclass(frozen=True)
class Allowance:
    """How many more builders may start on a budget now, and if fewer than wanted, why."""

    budget: str | None
    slots: int | None  # None: no limit
    kind: str = "ok"  # ok | full | paused | halted
    reason: str | None = None
    retry_in: float | None = None  # paused: look again after this many seconds
    limit: int | None = None  # the cap in force (max_concurrency or the pacer's window)
    running: int = 0
    cap: str | None = None  # what sets the limit: "max_concurrency 2", "the pacer's window …"

    def full(self) -> Allowance:
        """This allowance once its slots are taken."""
        return replace(
            self, slots=0, kind="full", running=self.limit or self.running,
            reason=f"{self.limit} builder(s) run on it ({self.cap})",
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "kind": self.kind,
            "reason": self.reason,
            "slots": self.slots,
            "limit": self.limit,
            "running": self.running,
            "retry_in_s": None if self.retry_in is None else round(self.retry_in, 3),
        }


def allowance(
    budget: str | None,
    raw_budget: Mapping[str, Any] | None,
    pulse: Pulse | None,
    running: int,
) -> Allowance:
    """Builders that may still start on ``budget`` with ``running`` already on it.

    The cap is the budget's ``max_concurrency`` and, once the pacer has used the
    budget, its current adaptive concurrency: a builder has one call in flight at
    a time, so more builders than the window only queue. A paused budget (a 429's
    retry-after) and a halted one (quota or credential: a human is needed) start
    nothing.
    """
    if budget is None:
        return Allowance(None, None, running=running)
    if pulse is not None and pulse.halted:
        return Allowance(
            budget, 0, "halted",
            f"stopped until {clock(pulse.halted_until)}: {pulse.halt_reason} — a human is "
            "needed",
            running=running,
        )  # fmt: skip
    if pulse is not None and pulse.paused:
        left = pulse.paused_until - pulse.now
        return Allowance(
            budget, 0, "paused",
            f"paused {left:.0f} s (429, retry-after) until {clock(pulse.paused_until)}",
            retry_in=left, running=running,
        )  # fmt: skip
    configured = raw_budget.get("max_concurrency") if raw_budget else None
    caps: list[tuple[int, str]] = []
    if isinstance(configured, int) and configured > 0:
        caps.append((configured, f"max_concurrency {configured}"))
    if pulse is not None and math.isfinite(pulse.window):
        caps.append((pulse.concurrency, f"the pacer's window is {pulse.concurrency} now"))
    if not caps:
        return Allowance(budget, None, running=running)
    limit, why = min(caps)
    allowed = Allowance(budget, max(0, limit - running), limit=limit, running=running, cap=why)
    return allowed if allowed.slots else allowed.full()
