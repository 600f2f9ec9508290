"""Counts of every request the simulator received, SDK-hidden retries included.

Counted per key, per agent, per HTTP status and per outcome; tokens are those
admitted and used (input, and output actually produced). A key longer than 16
characters is shown masked (``sk-live-…wxyz``) so stats can be printed or logged
without leaking a credential; keys the simulator does not know are "(unknown)".
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

OUTCOMES = (
    "ok",  # answered 200 and completed
    "rate_limited",  # 429 from a token bucket
    "acceleration",  # 429 from the acceleration (burst) limit
    "too_large",  # 429: the request alone exceeds a whole bucket
    "quota",  # insufficient_quota (OpenAI 429) / credit balance too low (Anthropic 400)
    "overloaded",  # 529 (Anthropic) / 503 (OpenAI)
    "stream_error",  # an error event inside a 200 stream
    "server_error",  # 500
    "auth",  # 401
    "bad_request",  # 400/404/405/413 for malformed requests
    "aborted",  # the client went away mid-stream
)


def label(key: str | None) -> str:
    if not key:
        return "(unknown)"
    return key if len(key) <= 16 else f"{key[:8]}…{key[-4:]}"


@dataclass
class Tally:
    requests: int = 0
    retries: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)

    def add(self, status: int, outcome: str, retry: int, tokens_in: int, tokens_out: int) -> None:
        self.requests += 1
        self.retries += retry > 0
        self.by_status[str(status)] += 1
        self.outcomes[outcome] += 1
        self.input_tokens += tokens_in
        self.output_tokens += tokens_out

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "by_status": dict(sorted(self.by_status.items())),
            "outcomes": {o: self.outcomes[o] for o in OUTCOMES if self.outcomes[o]},
            "rate_limited": self.by_status["429"],
            "overloaded": self.outcomes["overloaded"] + self.outcomes["stream_error"],
        }


class Stats:
    """Not thread-safe on its own: the server calls it under its lock."""

    def __init__(self) -> None:
        self.total = Tally()
        self.keys: dict[str, Tally] = {}
        self.agents: dict[str, Tally] = {}

    def record(
        self, key: str | None, agent: str | None, status: int, outcome: str, *, retry: int = 0,
        input_tokens: int = 0, output_tokens: int = 0,
    ) -> None:  # fmt: skip
        args = (status, outcome, retry, input_tokens, output_tokens)
        self.total.add(*args)
        self.keys.setdefault(label(key), Tally()).add(*args)
        self.agents.setdefault(agent or "(none)", Tally()).add(*args)

    def as_dict(self) -> dict[str, Any]:
        out = self.total.as_dict()
        out["by_key"] = {k: t.as_dict() for k, t in sorted(self.keys.items())}
        out["by_agent"] = {a: t.as_dict() for a, t in sorted(self.agents.items())}
        return copy.deepcopy(out)
