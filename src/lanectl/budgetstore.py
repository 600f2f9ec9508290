"""One budget per credential, shared by every lanectl process on the machine (ADR 0020).

A SQLite file under the git common dir (``<common>/lanectl/budgets.sqlite``)
holds each budget's buckets, its concurrency window and pause, one row per
request in flight (a *ticket*), and the usage counters ``lanectl budget``
reports. Every change is one ``BEGIN IMMEDIATE`` transaction, so two
processes can never both spend the last of a bucket. The arithmetic lives in
:mod:`lanectl.budgetmodel`; this module only loads, applies and saves it.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from lanectl import budgetrows as rows
from lanectl.budgetmodel import (
    BURST_GROWTH,
    BURST_WINDOW_S,
    Bucket,
    burst_bucket,
    sustainable,
)
from lanectl.budgetrows import COUNTERS, DIMENSIONS, SCHEMA, SCHEMA_VERSION, STORE_NAME
from lanectl.errors import LaneError
from lanectl.ratelimits import Observation
from lanectl.sqlitedb import Store

DONE_HORIZON_S = 600.0  # keep settled tickets this long (sim s) for corrections and drain
SWEEP_EVERY_S = 2.0


@dataclass(frozen=True)
class BudgetSpec:
    """A budget's configured limits (per minute, by dimension) and concurrency."""

    name: str
    limits: Mapping[str, float] = field(default_factory=dict)
    max_concurrency: int | None = None
    time_scale: float = 1.0  # >1 only against a simulator whose clock runs faster
    initial_window: float = 8.0

    @classmethod
    def from_config(cls, name: str, raw: Mapping[str, Any]) -> BudgetSpec:
        keys = {"rpm": "requests", "input_tpm": "input_tokens", "output_tpm": "output_tokens"}
        keys["tpm"] = "tokens"
        limits = {dim: float(raw[k]) for k, dim in keys.items() if raw.get(k)}
        concurrency = raw.get("max_concurrency")
        return cls(
            name=name,
            limits=limits,
            max_concurrency=int(concurrency) if concurrency else None,
            time_scale=float(raw.get("time_scale") or 1.0),
        )


@dataclass
class Ticket:
    """One request's claim on a budget, from admission until it is settled."""

    id: int
    budget: str
    cost: dict[str, float]
    marks: dict[str, float]  # dim → the bucket credit this ticket waits for
    admitted: float
    sent: float | None = None


@dataclass(frozen=True)
class Gate:
    go: bool
    wait: float = 0.0  # seconds until it is worth asking again
    reason: str = ""  # budget | paused | window


@dataclass(frozen=True)
class Settlement:
    """How a request ended, for :meth:`BudgetStore.settle`."""

    charge: Literal["used", "void", "keep"]  # refund to usage / server took nothing / keep all
    used: Mapping[str, float] = field(default_factory=dict)
    observation: Observation | None = None
    observed_at: float | None = None  # wall time of the server's snapshot
    success: bool = False
    congestion: bool = False  # a 429: halve the window
    overloaded: bool = False  # a 529 (or 503, or an error in the stream): halve, recover fast
    pause_until: float | None = None  # a 429: nobody on this budget sends before then
    widen: bool = False  # a rate-limit 429 the buckets should have prevented


class Halted(LaneError):
    """The budget is stopped (quota or credential) until a human acts."""


class BudgetStore(Store):
    """Thread-safe: one SQLite connection per thread, one transaction per change."""

    def __init__(self, path: Path, *, clock: Any = time.time) -> None:
        self.clock = clock
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._swept = 0.0
        super().__init__(path, "budget store", SCHEMA)
        with self.tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            if row is None:
                db.execute("INSERT INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
            elif row["value"] != SCHEMA_VERSION:
                raise LaneError(
                    f"the budget store {self.path} has schema {row['value']}, this lanectl "
                    f"uses {SCHEMA_VERSION}",
                    hint="delete the file (it holds only pacing state and usage counts)",
                )

    # -- loading and saving -----------------------------------------------

    def _ensure(self, db: sqlite3.Connection, spec: BudgetSpec, now: float) -> None:
        ceiling = float(spec.max_concurrency) if spec.max_concurrency else float("inf")
        row = db.execute("SELECT ceiling, time_scale FROM budget WHERE name = ?", (spec.name,))
        found = row.fetchone()
        if found is None:
            db.execute(
                "INSERT INTO budget (name, cwnd, ssthresh, ceiling, time_scale) VALUES (?,?,?,?,?)",
                (spec.name, min(spec.initial_window, ceiling), float("inf"), ceiling,
                 spec.time_scale),
            )  # fmt: skip
        elif found["ceiling"] != ceiling or found["time_scale"] != spec.time_scale:
            db.execute(
                "UPDATE budget SET ceiling = ?, time_scale = ? WHERE name = ?",
                (ceiling, spec.time_scale, spec.name),
            )
        buckets = rows.buckets(db, spec.name)
        configured = dict(
            db.execute("SELECT dim, configured FROM bucket WHERE budget = ?", (spec.name,))
        )
        for dim, limit in spec.limits.items():
            fresh = Bucket.per_minute(limit, now, time_scale=spec.time_scale)
            have = buckets.get(dim)
            if have is None:
                rows.save_bucket(db, spec.name, dim, fresh, limit)
            elif configured.get(dim) != limit or have.scale != spec.time_scale:
                # The config changed (a limit a header lowered stays lowered otherwise).
                moved = replace(have.resized(fresh.capacity, fresh.rate, now), scale=fresh.scale)
                rows.save_bucket(db, spec.name, dim, moved, limit)

    def _sweep(self, db: sqlite3.Connection, budget: str, time_scale: float, now: float) -> None:
        """Forget settled tickets past the horizon and tickets of processes that died."""
        if now - self._swept < SWEEP_EVERY_S:
            return
        self._swept = now
        horizon = now - DONE_HORIZON_S / max(time_scale, 1e-9)
        db.execute("DELETE FROM ticket WHERE budget = ? AND settled < ?", (budget, horizon))
        rows.forget_signals(db, budget, horizon)
        holders = db.execute(
            "SELECT DISTINCT pid FROM ticket WHERE host = ? AND settled IS NULL", (self._host,)
        ).fetchall()
        for (pid,) in holders:
            if pid != self._pid and not _alive(pid):
                # Their charges stay in the buckets (the vendor may have counted them).
                db.execute("DELETE FROM ticket WHERE host = ? AND pid = ?", (self._host, pid))

    # -- the operations ---------------------------------------------------

    def admit(self, spec: BudgetSpec, cost: Mapping[str, float]) -> Ticket:
        """Reserve ``cost`` in every bucket the budget has; returns the ticket to wait on.

        Raises :class:`Halted` when the budget is stopped, and ``too_large``
        (as a :class:`ProviderError`) when the cost exceeds a whole bucket.
        """
        from lanectl.providers.base import ProviderError

        now = self.clock()
        with self.tx() as db:
            self._ensure(db, spec, now)
            _, row = rows.window(db, spec.name)
            if row["halted_until"] > now:
                raise _halted(spec.name, row, now)
            self._sweep(db, spec.name, spec.time_scale, now)
            buckets = rows.buckets(db, spec.name)
            charged = {dim: cost.get(dim, 0.0) for dim in buckets}
            for dim, bucket in buckets.items():
                if charged[dim] > bucket.capacity:
                    raise ProviderError(
                        "too_large",
                        f"budget {spec.name}: the request needs {charged[dim]:,.0f} "
                        f"{dim.replace('_', ' ')} but the budget allows {bucket.capacity:,.0f} "
                        "per minute",
                        hint=f"shrink the prompt or max_tokens, or raise the limit of budget "
                        f"{spec.name} in .lanes/config.yaml; lanectl never retries this",
                    )
            marks: dict[str, float] = {}
            for dim, bucket in buckets.items():
                after, marks[dim] = bucket.reserve(charged[dim], now)
                rows.save_bucket(db, spec.name, dim, after)
            cols = ", ".join(f"c_{d}" for d in DIMENSIONS)
            cursor = db.execute(
                f"INSERT INTO ticket (budget, host, pid, admitted, {cols}) "  # noqa: S608
                f"VALUES (?, ?, ?, ?, {', '.join('?' * len(DIMENSIONS))})",
                (spec.name, self._host, self._pid, now,
                 *(charged.get(d, 0.0) for d in DIMENSIONS)),
            )  # fmt: skip
            ticket_id = int(cursor.lastrowid or 0)
        return Ticket(ticket_id, spec.name, charged, marks, now)

    def _gate(self, db: sqlite3.Connection, ticket: Ticket, now: float) -> Gate:
        window, row = rows.window(db, ticket.budget)
        if row["halted_until"] > now:
            raise _halted(ticket.budget, row, now)
        if row["paused_until"] > now:
            return Gate(False, row["paused_until"] - now, "paused")
        buckets = rows.buckets(db, ticket.budget)
        ready = now
        for dim, mark in ticket.marks.items():
            bucket = buckets.get(dim)
            if bucket is not None:
                ready = max(ready, bucket.ready_at(mark, ticket.cost.get(dim, 0.0), now))
        if ready > now:
            return Gate(False, ready - now, "budget")
        if not window.allows(rows.in_flight(db, ticket.budget)):
            return Gate(False, 0.0, "window")
        if row["next_launch"] > now:
            return Gate(False, row["next_launch"] - now, "pacing")
        return Gate(True)

    def peek(self, ticket: Ticket) -> Gate:
        """Whether ``ticket`` may go now (read only; cheap enough to poll)."""
        with self.tx(write=False) as db:
            return self._gate(db, ticket, self.clock())

    def launch(self, ticket: Ticket) -> Gate:
        """Take a slot in the window and mark the ticket sent, if it may go now."""
        with self.tx() as db:
            now = self.clock()
            gate = self._gate(db, ticket, now)
            if gate.go:
                db.execute("UPDATE ticket SET sent = ? WHERE id = ?", (now, ticket.id))
                ticket.sent = now
                # Spread the window over a round trip: launches never bunch up (a
                # vendor's acceleration limit counts requests per second).
                window, row = rows.window(db, ticket.budget)
                gap = row["latency"] / max(1.0, min(window.cwnd, window.ceiling))
                db.execute(
                    "UPDATE budget SET next_launch = MAX(next_launch, ?) + ? WHERE name = ?",
                    (now, gap, ticket.budget),
                )
        return gate

    def observe(self, ticket: Ticket, observation: Observation, observed_at: float) -> None:
        """Correct the buckets from a server snapshot taken at ``observed_at``."""
        with self.tx() as db:
            rows.correct(db, ticket.budget, observation, observed_at, self.clock())

    def settle(self, ticket: Ticket, how: Settlement) -> bool:
        """End a ticket: refund, correct from headers, adapt the window, maybe pause.

        Returns True if this call started (or extended) a pause of the whole budget.
        """
        with self.tx() as db:
            now = self.clock()
            buckets = rows.buckets(db, ticket.budget)
            refunds: dict[str, float] = {}
            net: dict[str, float] = {}
            for dim, bucket in buckets.items():
                charged = ticket.cost.get(dim, 0.0)
                if how.charge == "void":
                    give, net[dim] = charged, 0.0
                elif how.charge == "used" and dim in how.used:
                    give = charged - how.used[dim]
                    net[dim] = how.used[dim]
                else:
                    give, net[dim] = 0.0, charged
                if how.charge == "used":
                    refunds[dim] = give
                    bucket = bucket.used(net[dim])
                if give:
                    bucket = bucket.give_back(give, now)
                if how.widen and charged > 0 and _short(how.observation, dim, charged):
                    bucket = bucket.widen(charged, now)
                elif how.success and dim == "burst":
                    grown = bucket.capacity * BURST_GROWTH
                    bucket = bucket.resized(grown, bucket.rate * BURST_GROWTH, now)
                rows.save_bucket(db, ticket.budget, dim, bucket)
            if how.widen and not any(
                _short(how.observation, d, ticket.cost.get(d, 0.0)) for d in buckets
            ):
                self._learn_burst(db, ticket, buckets.get("burst"), now)
            sets = ", ".join(f"c_{d} = ?, r_{d} = ?" for d in net)
            db.execute(
                f"UPDATE ticket SET settled = ?, received = ?{', ' + sets if sets else ''} "  # noqa: S608
                "WHERE id = ?",
                (now, how.observed_at or now,
                 *(v for d in net for v in (net[d], refunds.get(d, 0.0))), ticket.id),
            )  # fmt: skip
            if how.observation is not None:
                rows.correct(db, ticket.budget, how.observation, how.observed_at or now, now)
            window, row = rows.window(db, ticket.budget)
            sent = ticket.sent if ticket.sent is not None else now
            latency = row["latency"]
            if how.success and ticket.sent is not None:
                took = now - ticket.sent
                latency = took if latency <= 0 else 0.9 * latency + 0.1 * took
            if how.congestion or how.overloaded:
                floor = sustainable(rows.buckets(db, ticket.budget), latency, now)
                window = window.on_congestion(sent, now, overloaded=how.overloaded, floor=floor)
            elif how.success:
                # Launched within the last round trip, failed ones too: with launches
                # paced over a round trip, that is how much of the window was in use.
                used = db.execute(
                    "SELECT COUNT(*) FROM ticket WHERE budget = ? AND sent > ?",
                    (ticket.budget, now - latency),
                ).fetchone()[0]
                window = window.on_success(max(int(used), rows.in_flight(db, ticket.budget) + 1))
            paused = False
            pause = row["paused_until"]
            if how.pause_until is not None and how.pause_until > pause:
                pause, paused = how.pause_until, pause <= now
            if how.congestion:
                rows.add_signal(db, ticket.budget, "rate_limited", now, how.pause_until)
            elif how.overloaded:
                rows.add_signal(db, ticket.budget, "overloaded", now)
            next_launch = row["next_launch"]
            if how.charge == "void" and ticket.sent is not None:
                # Refused at once: give its launch slot back, or a storm of instant 529s
                # would use up the pacing meant for requests that take a round trip.
                gap = latency / max(1.0, min(window.cwnd, window.ceiling))
                next_launch = max(now, next_launch - gap)
            db.execute(
                "UPDATE budget SET cwnd = ?, ssthresh = ?, last_decrease = ?, paused_until = ?, "
                "latency = ?, next_launch = ? WHERE name = ?",
                (window.cwnd, window.ssthresh, window.last_decrease, pause, latency,
                 next_launch, ticket.budget),
            )  # fmt: skip
        return paused

    def _learn_burst(
        self, db: sqlite3.Connection, ticket: Ticket, have: Bucket | None, now: float
    ) -> None:
        """A 429 with room in every bucket: a short-window (acceleration) limit we now honour."""
        budget = ticket.budget
        scale = float(
            db.execute("SELECT time_scale FROM budget WHERE name = ?", (budget,)).fetchone()[0]
        )
        sent = ticket.sent if ticket.sent is not None else now
        recent = db.execute(
            "SELECT COUNT(*) FROM ticket WHERE budget = ? AND sent > ? AND sent <= ?",
            (budget, sent - BURST_WINDOW_S / scale, sent),
        ).fetchone()[0]
        learnt = burst_bucket(int(recent), now, scale)
        if have is not None and have.capacity + have.rate / scale <= learnt.capacity + (
            learnt.rate / scale
        ):
            learnt = burst_bucket(int(0.9 * (have.capacity + have.rate / scale)), now, scale)
        rows.save_bucket(db, budget, "burst", learnt)

    def abandon(self, ticket: Ticket) -> None:
        """A ticket given up before it was sent: the vendor never saw it."""
        self.settle(ticket, Settlement("void"))

    def halt(self, budget: str, until: float, reason: str, cls: str = "quota_exhausted") -> None:
        """Stop every call on ``budget`` until ``until``: ``cls`` (quota_exhausted or auth)
        needs a human."""
        with self.tx() as db:
            db.execute(
                "UPDATE budget SET halted_until = MAX(halted_until, ?), halt_reason = ? "
                "WHERE name = ?",
                (until, reason, budget),
            )
            rows.add_signal(db, budget, cls, self.clock(), until)

    # -- usage counters ---------------------------------------------------

    def count(self, budget: str, agent: str, task: str, model: str, **counts: float) -> None:
        unknown = set(counts) - set(COUNTERS)
        if unknown:
            raise ValueError(f"unknown usage counters {sorted(unknown)}")
        cols = list(counts)
        with self.tx() as db:
            db.execute(
                f"INSERT INTO usage (budget, agent, task, model, {', '.join(cols)}, last_ts) "  # noqa: S608
                f"VALUES (?, ?, ?, ?, {', '.join('?' * len(cols))}, ?) "
                "ON CONFLICT (budget, agent, task, model) DO UPDATE SET "
                + ", ".join(f"{c} = {c} + excluded.{c}" for c in cols)
                + ", last_ts = excluded.last_ts",
                (budget, agent, task, model, *counts.values(), self.clock()),
            )

    def usage(self) -> list[dict[str, Any]]:
        with self.tx(write=False) as db:
            rows = db.execute("SELECT * FROM usage ORDER BY budget, agent, task, model").fetchall()
        return [dict(r) for r in rows]

    def snapshot(self, budget: str) -> dict[str, Any]:
        """The budget as the pacer sees it now (for `lanectl budget`, tests and benchmarks)."""
        now = self.clock()
        with self.tx(write=False) as db:
            row = db.execute("SELECT * FROM budget WHERE name = ?", (budget,)).fetchone()
            if row is None:
                return {}
            buckets = rows.buckets(db, budget)
            in_flight = rows.in_flight(db, budget)
        return {
            "paused_for_s": max(0.0, row["paused_until"] - now),
            "halted": row["halt_reason"] if row["halted_until"] > now else None,
            "window": row["cwnd"],
            "in_flight": in_flight,
            "buckets": {
                dim: {
                    "capacity": b.capacity,
                    "level": b.level,
                    "per_s": b.rate,
                    "drain_per_s": b.drain,
                    "margin": b.margin,
                }
                for dim, b in ((d, x.at(now)) for d, x in buckets.items())
            },
        }


def store_path(private_dir: Path) -> Path:
    return private_dir / STORE_NAME


def _halted(budget: str, row: sqlite3.Row, now: float) -> Halted:
    return Halted(
        f"budget {budget} is stopped for {row['halted_until'] - now:.0f} s more: "
        f"{row['halt_reason']}",
        hint="fix that (credit, spend limit or key), then run again; calls on this budget "
        "are refused until then so nothing is wasted",
    )


def _short(observation: Observation | None, dim: str, needed: float) -> bool:
    """Whether the server said this bucket could not cover ``needed`` (or said nothing)."""
    if observation is None or not observation.limits:
        return True
    seen = observation.limits.get(dim)
    return seen is not None and seen.remaining is not None and seen.remaining < needed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
