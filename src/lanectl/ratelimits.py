"""What a response's headers say about the budget, as plain numbers (SPEC §8).

Anthropic sends ``anthropic-ratelimit-<dim>-{limit,remaining,reset}`` with
RFC 3339 reset times; OpenAI and most compatible servers send
``x-ratelimit-{limit,remaining,reset}-<dim>`` with Go-style durations
(``6m0s``, ``120ms``). ``retry-after-ms`` beats ``retry-after`` (seconds or an
HTTP date). Pure functions: the caller passes the wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime

# Budget dimensions: requests per minute, and tokens per minute either split
# (Anthropic: input and output buckets) or combined (OpenAI: one bucket).
DIMENSIONS = ("requests", "input_tokens", "output_tokens", "tokens")

_ANTHROPIC = {
    "requests": "requests",
    "input-tokens": "input_tokens",
    "output-tokens": "output_tokens",
    # anthropic-ratelimit-tokens-* reports the most restrictive of the two
    # token limits, not a bucket of its own: it is deliberately not read.
}
_OPENAI = {"requests": "requests", "tokens": "tokens"}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|h|m|s)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
MAX_WAIT_S = 24 * 3600.0  # a retry-after beyond a day is nonsense: the SDK would sleep 49 days


@dataclass(frozen=True)
class Limit:
    limit: float | None = None
    remaining: float | None = None
    reset_in: float | None = None  # seconds from the response until the bucket is full


@dataclass(frozen=True)
class Observation:
    limits: Mapping[str, Limit] = field(default_factory=dict)
    retry_after: float | None = None  # seconds

    def __bool__(self) -> bool:
        return bool(self.limits) or self.retry_after is not None


def parse_duration(text: str) -> float | None:
    """Seconds in a Go duration (``6m0s``, ``1h2m3.5s``, ``120ms``) or a plain number."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if value >= 0 else None
    total = 0.0
    pos = 0
    for match in _DURATION_PART.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNIT[match.group(2)]
        pos = match.end()
    return total if pos == len(text) and pos > 0 else None


def parse_instant(text: str, now: float) -> float | None:
    """Seconds from ``now`` until an RFC 3339 time (or a number of seconds)."""
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return parse_duration(text)
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - now)


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """``retry-after-ms`` if present, else ``retry-after`` (seconds or HTTP date)."""
    value: float | None = None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = None
    if value is None and (text := headers.get("retry-after")) is not None:
        try:
            value = float(text)
        except ValueError:
            try:
                value = parsedate_to_datetime(text).timestamp() - now
            except (TypeError, ValueError, IndexError):
                value = None
    if value is None or value != value:  # NaN
        return None
    return min(max(0.0, value), MAX_WAIT_S)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value >= 0 else None


def observe(headers: Mapping[str, str], now: float) -> Observation:
    """Every limit the headers state, keyed by dimension (lower-case header names)."""
    limits: dict[str, Limit] = {}
    for part, dim in _ANTHROPIC.items():
        prefix = f"anthropic-ratelimit-{part}-"
        if prefix + "limit" in headers or prefix + "remaining" in headers:
            reset = headers.get(prefix + "reset")
            limits[dim] = Limit(
                _number(headers.get(prefix + "limit")),
                _number(headers.get(prefix + "remaining")),
                parse_instant(reset, now) if reset else None,
            )
    for part, dim in _OPENAI.items():
        if dim in limits:
            continue
        limit = headers.get(f"x-ratelimit-limit-{part}")
        remaining = headers.get(f"x-ratelimit-remaining-{part}")
        if limit is None and remaining is None:
            continue
        reset = headers.get(f"x-ratelimit-reset-{part}")
        limits[dim] = Limit(
            _number(limit), _number(remaining), parse_duration(reset) if reset else None
        )
    return Observation(limits, retry_after(headers, now))
