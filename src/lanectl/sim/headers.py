"""Rate-limit headers with the vendors' real names and formats.

Anthropic: ``anthropic-ratelimit-{requests,input-tokens,output-tokens,tokens}-
{limit,remaining,reset}`` with RFC 3339 resets (when the bucket is full again);
``-tokens-`` repeats the most restrictive token bucket. OpenAI:
``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` with Go-style
duration resets (``120ms``, ``1.5s``, ``6m0s``). ``retry-after`` is whole
seconds; ``retry-after-ms`` is added where the seconds would be too coarse.

Counts are what the real vendor would send for the configured key (``limit`` is
the configured per-minute limit, ``remaining`` the bucket's level); times are
wall-clock. At time scale s the buckets refill s times faster, so resets and
retry-after come s times sooner and a client that sleeps as told sleeps the
right amount (ADR "vendor simulator scope" explains the choice).
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from lanectl.sim.buckets import INPUT, OUTPUT, REQUESTS, TOKENS, BucketView

ANTHROPIC_NAMES = {
    REQUESTS: "requests",
    INPUT: "input-tokens",
    OUTPUT: "output-tokens",
}


def rfc3339(wall: float, *, precise: bool) -> str:
    """``2026-11-24T10:00:01Z``; with ``precise``, milliseconds too."""
    if not precise:
        return datetime.fromtimestamp(math.ceil(wall), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    stamp = datetime.fromtimestamp(wall, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def go_duration(seconds: float) -> str:
    """Durations as OpenAI writes them: ``0s``, ``120ms``, ``1.5s``, ``6m0s``, ``1h2m3s``."""
    if seconds <= 0:
        return "0s"
    ms = math.ceil(seconds * 1000)
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{secs}"
    if minutes:
        return f"{minutes}m{secs}"
    return secs


def anthropic(views: dict[str, BucketView], scale: float) -> dict[str, str]:
    wall = time.time()
    precise = scale != 1.0
    out: dict[str, str] = {}

    def put(prefix: str, view: BucketView) -> None:
        out[f"anthropic-ratelimit-{prefix}-limit"] = str(view.per_minute)
        out[f"anthropic-ratelimit-{prefix}-remaining"] = str(view.remaining)
        out[f"anthropic-ratelimit-{prefix}-reset"] = rfc3339(
            wall + view.reset_s / scale, precise=precise
        )

    for name, prefix in ANTHROPIC_NAMES.items():
        if name in views:
            put(prefix, views[name])
    tokens = [views[n] for n in (INPUT, OUTPUT) if n in views]
    if tokens:
        put("tokens", min(tokens, key=lambda v: v.remaining / max(1, v.per_minute)))
    return out


def openai(views: dict[str, BucketView], scale: float) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, suffix in ((REQUESTS, "requests"), (TOKENS, "tokens")):
        view = views.get(name)
        if view is None:
            continue
        out[f"x-ratelimit-limit-{suffix}"] = str(view.per_minute)
        out[f"x-ratelimit-remaining-{suffix}"] = str(view.remaining)
        out[f"x-ratelimit-reset-{suffix}"] = go_duration(view.reset_s / scale)
    return out


def retry_after(sim_seconds: float, scale: float, *, with_ms: bool) -> dict[str, str]:
    wall = max(0.0, sim_seconds / scale)
    out = {"retry-after": str(max(1, math.ceil(wall)))}
    if with_ms:
        out["retry-after-ms"] = str(max(1, math.ceil(wall * 1000)))
    return out
