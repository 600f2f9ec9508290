"""The budget store's tables, and loading and saving their rows inside a transaction.

:mod:`lanectl.budgetstore` holds the operations; this module knows the schema,
how a row becomes a :class:`~lanectl.budgetmodel.Bucket` or
:class:`~lanectl.budgetmodel.Window` and back, and :func:`correct`, which
brings the buckets in line with a vendor's rate-limit headers (ADR 0020).
"""

from __future__ import annotations

import sqlite3

from lanectl.budgetmodel import Bucket, Window
from lanectl.errors import LaneError
from lanectl.ratelimits import Observation

SCHEMA_VERSION = "1"
# The vendor's dimensions, and "burst": an acceleration limit learnt from a 429.
DIMENSIONS = ("requests", "input_tokens", "output_tokens", "tokens", "burst")
STORE_NAME = "budgets.sqlite"
COUNTERS = (
    "calls", "requests", "input", "output", "cache_read", "cache_write", "cache_hits",
    "throttle_s", "n429", "n529", "errors",
)  # fmt: skip
_DIM_COLS = ", ".join(
    f"c_{d} REAL NOT NULL DEFAULT 0, r_{d} REAL NOT NULL DEFAULT 0" for d in DIMENSIONS
)
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS budget (
  name TEXT PRIMARY KEY, paused_until REAL NOT NULL DEFAULT 0,
  halted_until REAL NOT NULL DEFAULT 0, halt_reason TEXT,
  cwnd REAL NOT NULL, ssthresh REAL NOT NULL, last_decrease REAL NOT NULL DEFAULT 0,
  ceiling REAL NOT NULL, time_scale REAL NOT NULL DEFAULT 1,
  latency REAL NOT NULL DEFAULT 0, next_launch REAL NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS bucket (
  budget TEXT NOT NULL, dim TEXT NOT NULL, capacity REAL NOT NULL, rate REAL NOT NULL,
  level REAL NOT NULL, stamp REAL NOT NULL, credit REAL NOT NULL, margin REAL NOT NULL,
  drain REAL NOT NULL, scale REAL NOT NULL, ref_at REAL NOT NULL, ref_level REAL NOT NULL,
  largest REAL NOT NULL,
  mean_cost REAL NOT NULL, configured REAL,
  PRIMARY KEY (budget, dim));
CREATE TABLE IF NOT EXISTS ticket (
  id INTEGER PRIMARY KEY AUTOINCREMENT, budget TEXT NOT NULL, host TEXT NOT NULL,
  pid INTEGER NOT NULL, admitted REAL NOT NULL, sent REAL, received REAL, settled REAL,
  {_DIM_COLS});
CREATE INDEX IF NOT EXISTS ticket_budget ON ticket (budget, settled, sent);
CREATE TABLE IF NOT EXISTS usage (
  budget TEXT NOT NULL, agent TEXT NOT NULL, task TEXT NOT NULL, model TEXT NOT NULL,
  {", ".join(f"{c} REAL NOT NULL DEFAULT 0" for c in COUNTERS)},
  last_ts REAL NOT NULL DEFAULT 0, PRIMARY KEY (budget, agent, task, model));
CREATE TABLE IF NOT EXISTS signal (
  budget TEXT NOT NULL, cls TEXT NOT NULL, at REAL NOT NULL, until REAL);
CREATE INDEX IF NOT EXISTS signal_budget ON signal (budget, at);
"""
# ``signal``: one row per 429, 529/503 and halt, for the watchdog (ADR 0028). Added
# after schema 1 without a version change: CREATE IF NOT EXISTS adds it to an older
# file, and an older lanectl ignores it.


def buckets(db: sqlite3.Connection, budget: str) -> dict[str, Bucket]:
    rows = db.execute("SELECT * FROM bucket WHERE budget = ?", (budget,)).fetchall()
    return {
        r["dim"]: Bucket(
            r["capacity"], r["rate"], r["level"], r["stamp"], r["credit"], r["margin"],
            r["drain"], r["scale"], r["ref_at"], r["ref_level"],
            r["largest"], r["mean_cost"],
        )
        for r in rows
    }  # fmt: skip


def save_bucket(
    db: sqlite3.Connection,
    budget: str,
    dim: str,
    b: Bucket,
    configured: float | None = None,
) -> None:
    """Save ``b``; ``configured`` records the config's limit when it is (re)applied."""
    db.execute(
        "INSERT INTO bucket VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (budget, dim) DO UPDATE "
        "SET capacity = excluded.capacity, rate = excluded.rate, level = excluded.level, "
        "stamp = excluded.stamp, credit = excluded.credit, margin = excluded.margin, "
        "drain = excluded.drain, scale = excluded.scale, "
        "ref_at = excluded.ref_at, ref_level = excluded.ref_level, "
        "largest = excluded.largest, "
        "mean_cost = excluded.mean_cost, "
        "configured = COALESCE(excluded.configured, bucket.configured)",
        (budget, dim, b.capacity, b.rate, b.level, b.stamp, b.credit, b.margin, b.drain,
         b.scale, b.ref_at, b.ref_level, b.largest, b.mean_cost,
         configured),
    )  # fmt: skip


def window(db: sqlite3.Connection, budget: str) -> tuple[Window, sqlite3.Row]:
    row = db.execute("SELECT * FROM budget WHERE name = ?", (budget,)).fetchone()
    if row is None:
        raise LaneError(f"budget {budget} is not in the budget store")
    return Window(row["cwnd"], row["ssthresh"], row["last_decrease"], row["ceiling"]), row


def in_flight(db: sqlite3.Connection, budget: str) -> int:
    row = db.execute(
        "SELECT COUNT(*) FROM ticket WHERE budget = ? AND sent IS NOT NULL AND settled IS NULL",
        (budget,),
    ).fetchone()
    return int(row[0])


def correct(
    db: sqlite3.Connection,
    budget: str,
    observation: Observation,
    observed_at: float,
    now: float,
) -> None:
    """Correct from a server snapshot taken at about ``observed_at``: a JSON reply's
    headers when it was received, a stream's when the request was sent (the vendor's
    view as it admitted it)."""
    if not observation.limits:
        return
    have = buckets(db, budget)
    scale = float(
        db.execute("SELECT time_scale FROM budget WHERE name = ?", (budget,)).fetchone()[0]
    )
    for dim, seen in observation.limits.items():
        bucket = have.get(dim)
        if seen.limit is not None and seen.limit > 0:
            learnt = Bucket.per_minute(seen.limit, now, time_scale=scale)
            if bucket is None:
                bucket = learnt
            elif learnt.capacity < bucket.capacity:  # the key is smaller than configured
                bucket = bucket.resized(learnt.capacity, learnt.rate, now)
        if bucket is None or seen.remaining is None:
            continue
        # What the server had not counted at its snapshot: tickets sent after it
        # (or not yet), at their current charge; plus the refunds of charges it had
        # counted, for answers that came after it (the vendor refunds as it answers,
        # so answers received before the snapshot were refunded in it too).
        unseen, refunded = db.execute(
            f"SELECT COALESCE(SUM(CASE WHEN sent IS NULL OR sent > ? THEN c_{dim} END), 0), "  # noqa: S608
            f"COALESCE(SUM(CASE WHEN sent <= ? AND received > ? THEN r_{dim} END), 0) "
            "FROM ticket WHERE budget = ?",
            (observed_at, observed_at, observed_at, budget),
        ).fetchone()
        # Headers round down: the level is half a unit more, on average.
        remaining = seen.remaining + (0.5 if seen.remaining == int(seen.remaining) else 0.0)
        target = remaining + bucket.net_rate * max(0.0, now - observed_at)
        target += float(refunded) - float(unseen)
        ours = 0.0
        if bucket.ref_level >= 0:
            # As the vendor saw us since the last reference snapshot: whole charges
            # as requests were sent, refunds as answers came back.
            ours = float(
                db.execute(
                    f"SELECT COALESCE(SUM(CASE WHEN sent > ? AND sent <= ? "  # noqa: S608
                    f"THEN c_{dim} + r_{dim} END), 0) - COALESCE(SUM(CASE WHEN received > ? "
                    f"AND received <= ? THEN r_{dim} END), 0) FROM ticket WHERE budget = ?",
                    (bucket.ref_at, observed_at, bucket.ref_at, observed_at, budget),
                ).fetchone()[0]
            )
        bucket = bucket.observe(remaining, target, observed_at, now, ours)
        save_bucket(db, budget, dim, bucket)


def add_signal(
    db: sqlite3.Connection, budget: str, cls: str, at: float, until: float | None = None
) -> None:
    """Remember that the vendor said ``cls`` (rate_limited, overloaded, quota_exhausted,
    auth) at ``at``; ``until`` is the pause or halt it caused."""
    db.execute("INSERT INTO signal VALUES (?, ?, ?, ?)", (budget, cls, at, until))


def forget_signals(db: sqlite3.Connection, budget: str, before: float) -> None:
    db.execute("DELETE FROM signal WHERE budget = ? AND at < ?", (budget, before))
