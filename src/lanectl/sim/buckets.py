"""Token buckets per key, in simulated seconds: admission, refunds, what headers report.

Each limit is a bucket holding up to ``capacity_s`` seconds of its rate (the
initial burst credit), refilled continuously. An outside consumer takes
``outside_fraction`` of every refill, so clients see the key drain faster than
its limit says and learn it only from ``*-remaining`` headers. Admission
reserves the request's whole estimate (Anthropic: input now and ``max_tokens``
of output; OpenAI: input + ``max_tokens``) and :meth:`KeyBudget.settle` refunds
the unused output once the reply is known. Not thread-safe: the server holds
one lock around every call.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from lanectl.sim.config import KeyConfig

REQUESTS, INPUT, OUTPUT, TOKENS = "requests", "input_tokens", "output_tokens", "tokens"


class Bucket:
    """A continuously refilled bucket; ``per_minute`` is the advertised limit."""

    def __init__(self, per_minute: int, capacity_s: float, outside: float, now: float):
        self.per_minute = per_minute
        self.rate = per_minute / 60.0 * (1.0 - outside)  # what is left for our clients
        self.capacity = per_minute / 60.0 * capacity_s
        self.level = self.capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        if now > self.stamp:
            self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (0 if it is now)."""
        short = amount - self.level
        return 0.0 if short <= 0 else short / self.rate

    def until_full(self) -> float:
        return max(0.0, self.capacity - self.level) / self.rate


@dataclass(frozen=True)
class Refusal:
    """Why a request was not admitted, and when it could be."""

    reason: str  # rate_limited | acceleration | too_large
    limit: str  # the bucket name that refused
    retry_after_s: float  # simulated seconds
    requested: int = 0
    per_minute: int = 0


@dataclass(frozen=True)
class BucketView:
    name: str
    per_minute: int
    remaining: int
    reset_s: float  # simulated seconds until full


class KeyBudget:
    """All the buckets of one key plus its acceleration window and quota."""

    def __init__(self, key: KeyConfig, now: float):
        self.key = key
        self.buckets: dict[str, Bucket] = {}
        limits = {REQUESTS: key.rpm}
        if key.vendor == "anthropic":
            limits |= {INPUT: key.input_tpm, OUTPUT: key.output_tpm}
        else:
            limits |= {TOKENS: key.tpm}
        for name, per_minute in limits.items():
            if per_minute is not None:
                self.buckets[name] = Bucket(per_minute, key.capacity_s, key.outside_fraction, now)
        self.recent: deque[float] = deque()  # admission times inside the acceleration window
        self.tokens_used = 0  # for quota_tokens

    def quota_exhausted(self) -> bool:
        return self.key.quota_tokens is not None and self.tokens_used >= self.key.quota_tokens

    def demand(self, input_tokens: int, max_tokens: int) -> dict[str, int]:
        if self.key.vendor == "anthropic":
            return {REQUESTS: 1, INPUT: input_tokens, OUTPUT: max_tokens}
        return {REQUESTS: 1, TOKENS: input_tokens + max_tokens}

    def admit(self, now: float, input_tokens: int, max_tokens: int) -> Refusal | None:
        """Reserve the request's demand, or say why not (nothing is taken then)."""
        for bucket in self.buckets.values():
            bucket.refill(now)
        demand = self.demand(input_tokens, max_tokens)
        for name, amount in demand.items():
            whole = self.buckets.get(name)
            if whole is not None and amount > whole.capacity:
                return Refusal("too_large", name, 0.0, amount, whole.per_minute)
        accel = self.key.acceleration
        if accel is not None:
            while self.recent and self.recent[0] <= now - accel.window_s:
                self.recent.popleft()
            if len(self.recent) >= accel.requests:
                wait = self.recent[0] + accel.window_s - now
                return Refusal("acceleration", REQUESTS, wait, 1, accel.requests)
        waits = {
            name: self.buckets[name].wait_for(amount)
            for name, amount in demand.items()
            if name in self.buckets
        }
        worst = max(waits, key=lambda n: waits[n], default=None)
        if worst is not None and waits[worst] > 0:
            bucket = self.buckets[worst]
            return Refusal("rate_limited", worst, waits[worst], demand[worst], bucket.per_minute)
        for name, amount in demand.items():
            if name in self.buckets:
                self.buckets[name].level -= amount
        if accel is not None:
            self.recent.append(now)
        return None

    def settle(
        self, now: float, reserved_output: int, actual_output: int, input_tokens: int
    ) -> None:
        """Give back the output reserved but not produced; count tokens toward the quota."""
        unused = max(0, reserved_output - actual_output)
        name = OUTPUT if self.key.vendor == "anthropic" else TOKENS
        bucket = self.buckets.get(name)
        if bucket is not None:
            bucket.refill(now)
            bucket.level = min(bucket.capacity, bucket.level + unused)
        self.tokens_used += input_tokens + actual_output

    def views(self, now: float) -> dict[str, BucketView]:
        out: dict[str, BucketView] = {}
        for name, bucket in self.buckets.items():
            bucket.refill(now)
            out[name] = BucketView(
                name, bucket.per_minute, max(0, math.floor(bucket.level)), bucket.until_full()
            )
        return out
