"""The pacing algorithm as pure data and arithmetic (ADR 0020); no I/O, no clock.

A budget is one token bucket per dimension (requests, input tokens, output
tokens, or combined tokens). A bucket holds ``level`` (may go below zero:
reservations queue as debt), refilled at ``rate`` less the learnt ``drain``
up to ``capacity`` (a full bucket is burst credit, spent at once). ``credit``
counts every token ever added (refill, refunds) less corrections, so a
reservation waits for a *position* in that count: ready once credit has caught
up with the debt ahead of it plus the margin. Refunds, corrections and rate
changes move every queued request correctly, in reservation order.

Headers (``*-remaining``) correct the level, only ever downwards (a snapshot
may predate refunds we have not processed) and only beyond a noise tolerance
(integer rounding, clock jitter). Two snapshots far enough apart also measure
what a consumer we cannot see takes: the server's consumption between them
less ours is the ``drain``, taken off the refill rate. ``margin`` is a
decaying cushion of recent errors, doubled by a 429 the bucket should have
prevented.

Concurrency is an AIMD window (slow start, halve on 429/529 at most once per
window of requests, add ``1/cwnd`` per success once past ``ssthresh``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

from lanectl.providers.base import Request

INF = math.inf
DRAIN_WINDOW_S = 20.0  # measure the outside drain over at least this long (sim s) …
DRAIN_WINDOW_COSTS = 20.0  # … and over a refill of at least this many of the largest requests
DRAIN_SMOOTHING = 0.5  # weight of a new drain measurement
DRAIN_DECAY_S = 300.0  # an estimate not measured again fades with this time constant (sim s)
FULLISH = 0.8  # a bucket above this share of capacity may have wasted refill: no measurement
JITTER_S = 0.005  # clock and scheduling jitter tolerated in a correction (wall s)
MARGIN_GAIN = 1.5  # cushion kept per token of error seen
MARGIN_DECAY_S = 30.0  # the cushion decays with this time constant (sim s)
MAX_MARGIN_SHARE = 0.25  # never keep more than this share of a bucket spare
MAX_DRAIN_SHARE = 0.75  # never believe others take more than this share of the rate
SUSTAIN_HEADROOM = (
    2.0  # a 529 never cuts the window below this many times what the budget keeps busy
)
BURST_WINDOW_S = 1.0  # the window an acceleration limit is assumed to count over (sim s)
BURST_GROWTH = 1.001  # a learnt burst limit grows by this factor per success


@dataclass(frozen=True)
class Bucket:
    capacity: float  # tokens (or requests) the bucket holds when full: the burst credit
    rate: float  # nominal refill per wall second
    level: float  # at ``stamp``; below zero while reservations queue
    stamp: float  # wall-clock seconds
    credit: float = 0.0  # every token added so far, less corrections
    margin: float = 0.0  # head-room kept unspent
    drain: float = 0.0  # refill per second someone else takes (measured)
    scale: float = 1.0  # time scale: the time constants are in simulated seconds
    ref_at: float = 0.0  # the snapshot the next drain measurement starts from …
    ref_level: float = -1.0  # … and its remaining (-1: none)
    largest: float = 0.0  # the largest cost reserved: sets how long a measurement must run
    mean_cost: float = 0.0  # a moving average of what one request really uses here

    @classmethod
    def per_minute(cls, limit: float, now: float, *, time_scale: float = 1.0) -> Bucket:
        rate = float(limit) * time_scale / 60.0
        return cls(float(limit), rate, float(limit), now, scale=time_scale)

    @property
    def net_rate(self) -> float:
        return max(self.rate - self.drain, self.rate * (1.0 - MAX_DRAIN_SHARE))

    @property
    def tolerance(self) -> float:
        return 1.0 + self.rate * JITTER_S

    def at(self, now: float) -> Bucket:
        """Refilled up to ``now``; the margin and the drain estimate fade with time."""
        elapsed = now - self.stamp
        if elapsed <= 0:
            return self
        level = min(self.capacity, self.level + self.net_rate * elapsed)
        sim = elapsed * self.scale
        return replace(
            self,
            level=level,
            stamp=now,
            credit=self.credit + max(0.0, level - self.level),
            margin=self.margin * math.exp(-sim / MARGIN_DECAY_S),
            drain=self.drain * math.exp(-sim / DRAIN_DECAY_S),
        )

    def reserve(self, cost: float, now: float) -> tuple[Bucket, float]:
        """(bucket after, mark): the reservation may go once ``credit - mark``, which
        starts as the level after it, reaches the margin."""
        b = self.at(now)
        after = replace(b, level=b.level - cost, largest=max(b.largest, cost))
        return after, b.credit + cost - b.level

    def used(self, amount: float) -> Bucket:
        """Learn what a request really took (for :func:`sustainable`)."""
        mean = amount if self.mean_cost <= 0 else 0.9 * self.mean_cost + 0.1 * amount
        return replace(self, mean_cost=mean)

    def ready_at(self, mark: float, cost: float, now: float) -> float:
        """When a reservation holding ``mark`` may go (``now`` if it may go now)."""
        b = self.at(now)
        margin = min(b.margin, max(0.0, b.capacity - cost))
        short = mark + margin - b.credit
        return now if short <= 0 else now + short / b.net_rate

    def give_back(self, tokens: float, now: float) -> Bucket:
        """Refund ``tokens`` (negative: charge more), never above a full bucket."""
        b = self.at(now)
        level = min(b.capacity, b.level + tokens)
        return replace(b, level=level, credit=b.credit + (level - b.level))

    def observe(
        self, remaining: float, target: float, observed_at: float, now: float, ours: float
    ) -> Bucket:
        """Learn from a server snapshot: ``remaining`` then, ``target`` for our level now.

        ``target`` is what the server has left for what it has not yet seen;
        our level is lowered to it (never raised) past the noise tolerance.
        ``ours`` is what we took, as the server saw it, since :attr:`ref_at`.
        """
        b = self.at(now)
        error = b.level - target
        if error > b.tolerance:
            lowered = error - b.tolerance
            b = replace(b, level=b.level - lowered, credit=b.credit - lowered)
        margin = max(b.margin, MARGIN_GAIN * max(0.0, error), b.tolerance)
        b = replace(b, margin=min(margin, b.capacity * MAX_MARGIN_SHARE))
        return b._measure_drain(remaining, observed_at, ours)

    def _measure_drain(self, remaining: float, observed_at: float, ours: float) -> Bucket:
        """Server consumption between two snapshots, less ours, is someone else's.

        Both ends are approximate (when exactly the server charged and refunded
        requests in flight), so the window must cover many requests' worth of
        refill for that to wash out.
        """
        fullish = self.capacity * FULLISH
        if self.ref_level < 0 or remaining > fullish or self.ref_level > fullish:
            return replace(self, ref_at=observed_at, ref_level=remaining)
        span = observed_at - self.ref_at
        if (
            span * self.scale < DRAIN_WINDOW_S
            or span * self.rate < DRAIN_WINDOW_COSTS * self.largest
        ):
            return self
        used = self.ref_level - remaining + self.rate * span
        outside = (used - ours) / span
        drain = self.drain + DRAIN_SMOOTHING * (outside - self.drain)
        return replace(
            self,
            drain=min(max(0.0, drain), self.rate * MAX_DRAIN_SHARE),
            ref_at=observed_at,
            ref_level=remaining,
        )

    def widen(self, cost: float, now: float) -> Bucket:
        """A 429 this bucket should have prevented: keep at least one more request spare."""
        b = self.at(now)
        margin = min(max(b.margin * 2.0, cost), b.capacity * MAX_MARGIN_SHARE)
        return replace(b, margin=margin)

    def resized(self, capacity: float, rate: float, now: float) -> Bucket:
        """The same level under a new limit (a header or the config changed it)."""
        b = self.at(now)
        return replace(
            b, capacity=capacity, rate=rate, level=min(b.level, capacity), ref_level=-1.0
        )


@dataclass(frozen=True)
class Window:
    """AIMD concurrency: how many requests may be in flight at once."""

    cwnd: float = 8.0
    ssthresh: float = INF
    last_decrease: float = 0.0
    ceiling: float = INF  # max_concurrency from config

    def allows(self, in_flight: int) -> bool:
        return in_flight < max(1, math.floor(min(self.cwnd, self.ceiling)))

    def on_success(self, in_flight: int) -> Window:
        """Grow only when the window was used: ``in_flight`` counts this request, and
        (paced) the requests launched within the last round trip."""
        if in_flight < math.floor(min(self.cwnd, self.ceiling)) - 1:
            return self
        step = 1.0 if self.cwnd < self.ssthresh else 1.0 / self.cwnd
        return replace(self, cwnd=min(self.cwnd + step, max(self.ceiling, 1.0)))

    def on_congestion(
        self, sent_at: float, now: float, *, overloaded: bool = False, floor: float = 0.0
    ) -> Window:
        """Halve on 429/529, once per round: requests sent before the last cut don't cut again.

        After a 429 (we overran our budget) growth is linear from the half.
        After a 529 (the vendor is overloaded, whatever we do) the window
        halves no lower than ``floor``, the concurrency the budget itself
        sustains (see :func:`sustainable`), and slow-starts back to where it
        was: each failed request already backs off on its own, and starving
        the budget would not make the vendor any less busy.
        """
        if sent_at < self.last_decrease:
            return self
        current = min(self.cwnd, self.ceiling)
        half = max(1.0, current / 2.0)
        if overloaded:
            return replace(
                self, cwnd=max(half, min(current, floor)), ssthresh=current, last_decrease=now
            )
        return replace(self, cwnd=half, ssthresh=half, last_decrease=now)


def sustainable(buckets: Mapping[str, Bucket], latency_s: float, now: float) -> float:
    """Requests in flight the budget can keep busy over the next round trip: what its
    tightest bucket holds now plus twice what it refills in one latency, in requests
    of the size requests really use. A 529 never cuts the window below this; before
    the first answer (no latency known) it does not cut it at all."""
    if latency_s <= 0:
        return INF
    counts = [
        (max(0.0, b.at(now).level) + SUSTAIN_HEADROOM * b.net_rate * latency_s)
        / (b.mean_cost or b.largest)
        for b in buckets.values()
        if b.mean_cost > 0 or b.largest > 0
    ]
    return float(math.ceil(min(counts))) if counts else INF


# ---------------------------------------------------------------------------
# Costs

CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD = 4  # role markers and separators per message


def estimate_input_tokens(request: Request) -> int:
    """A cautious local estimate (about four characters a token); refunded from usage."""
    chars = len(request.system)
    overhead = MESSAGE_OVERHEAD
    for message in request.messages:
        chars += len(message.content)
        overhead += MESSAGE_OVERHEAD
        for call in message.tool_calls:
            chars += len(call.name) + len(str(call.arguments))
    for tool in request.tools:
        chars += len(tool.name) + len(tool.description) + len(str(tool.input_schema))
    return math.ceil(chars / CHARS_PER_TOKEN) + overhead


def cost(input_tokens: int, max_tokens: int) -> dict[str, float]:
    """What one request reserves in each dimension a budget may have (output = max_tokens)."""
    return actual(input_tokens, max_tokens)


def burst_bucket(sent_in_window: int, now: float, scale: float) -> Bucket:
    """A short-window limit learnt from a 429 no bucket explains (an acceleration limit).

    ``sent_in_window`` is how many requests we had sent in the second up to the
    refused one: the limit is at most one fewer. A bucket of capacity ``c`` and
    rate ``r`` admits at most ``c + r`` in any second, so it is shaped to that.
    """
    limit = max(2.0, float(sent_in_window - 1))
    capacity = max(1.0, limit / 4.0)
    rate = (limit - capacity) * scale / BURST_WINDOW_S
    return Bucket(capacity=capacity, rate=rate, level=0.0, stamp=now, scale=scale)


def actual(input_tokens: int, output_tokens: int) -> dict[str, float]:
    """What one answered request really used, per dimension (requests are never refunded)."""
    return {
        "requests": 1.0,
        "burst": 1.0,
        "input_tokens": float(input_tokens),
        "output_tokens": float(output_tokens),
        "tokens": float(input_tokens + output_tokens),
    }
