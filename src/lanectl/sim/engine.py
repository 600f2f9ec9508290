"""The simulator's decisions: who may call, what fails, what is admitted, what it costs.

No sockets here: :meth:`Engine.decide` turns a request into either an
immediate :class:`Answer` (an error, already counted) or an :class:`Admitted`
reply the server then delivers with latency; :meth:`Engine.settle` refunds
unused output and counts the request once it is done. One lock guards the
buckets, the script, the random generator and the counters.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lanectl.sim import anthropic_api as ant
from lanectl.sim import headers as hdr
from lanectl.sim import openai_api as oai
from lanectl.sim.buckets import KeyBudget, Refusal
from lanectl.sim.config import SimConfig, Vendor
from lanectl.sim.script import Inbound, Reply, Script, Truncated, fit
from lanectl.sim.stats import Stats


@dataclass
class Answer:
    """A response decided at once (errors); already counted."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Admitted:
    """A request that passed admission; the server delivers it and calls ``settle``."""

    req: Inbound
    reply: Truncated
    input_tokens: int
    request_id: str
    body_id: str
    headers: dict[str, str]
    latency_ms: float  # before the first byte (simulated)
    per_token_ms: float  # between output tokens (simulated)
    break_after: int | None = None  # stream: an error event after this many output tokens
    fail_overloaded: bool = False  # not streamed: answer 529/503 instead


class Clock:
    """Simulated seconds since start; ``scale`` simulated seconds pass per wall second."""

    def __init__(self, scale: float):
        self.scale = scale
        self.start = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self.start) * self.scale

    def sleep(self, sim_seconds: float) -> None:
        if sim_seconds > 0:
            time.sleep(sim_seconds / self.scale)


def bearer(headers: Mapping[str, str]) -> str | None:
    value = headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


class Engine:
    def __init__(self, config: SimConfig):
        self.config = config
        self.lock = threading.Lock()
        self.clock = Clock(config.time_scale)
        self.rng = random.Random(config.seed)  # noqa: S311 - reproducible, not secret
        self.script = Script(config)
        self.stats = Stats()
        self.budgets = {k: KeyBudget(c, 0.0) for k, c in config.keys.items()}

    # -- helpers ----------------------------------------------------------

    def _count(
        self, req: Inbound | None, key: str | None, status: int, outcome: str, retry: int,
        agent: str | None = None, tokens_in: int = 0, tokens_out: int = 0,
    ) -> None:  # fmt: skip
        self.stats.record(
            key, req.agent if req else agent, status, outcome, retry=retry,
            input_tokens=tokens_in, output_tokens=tokens_out,
        )  # fmt: skip

    def _error(self, vendor: Vendor, status: int, kind: str, message: str, rid: str,
               code: str | None = None) -> Answer:  # fmt: skip
        if vendor == "anthropic":
            return Answer(status, ant.error(kind, message, rid), {"request-id": rid})
        return Answer(status, oai.error(message, kind, code), {"x-request-id": rid})

    def _limit_headers(self, vendor: Vendor, budget: KeyBudget, now: float) -> dict[str, str]:
        views = budget.views(now)
        scale = self.config.time_scale
        return hdr.anthropic(views, scale) if vendor == "anthropic" else hdr.openai(views, scale)

    # -- the decision -----------------------------------------------------

    def decide(self, vendor: Vendor, headers: Mapping[str, str], raw: bytes) -> Answer | Admitted:
        rid = ant.new_id("req_") if vendor == "anthropic" else oai.new_id("req_")
        try:
            retry = int(headers.get("x-stainless-retry-count", "0"))
        except ValueError:
            retry = 0
        key = bearer(headers) or (headers.get("x-api-key") if vendor == "anthropic" else None)
        known = self.config.keys.get(key or "")
        agent = headers.get("x-lanectl-agent")
        if known is None or known.vendor != vendor:
            with self.lock:
                self._count(None, None, 401, "auth", retry, agent)
            if vendor == "anthropic":
                return self._error(vendor, 401, "authentication_error", "invalid x-api-key", rid)
            return self._error(
                vendor, 401, "invalid_request_error",
                "Incorrect API key provided. You can find your API key at "
                "https://platform.openai.com/account/api-keys.", rid, "invalid_api_key",
            )  # fmt: skip
        assert key is not None
        try:
            body = json.loads(raw or b"null")
            if vendor == "anthropic":
                req = ant.parse(body, key, headers, retry)
            else:
                req = oai.parse(body, key, headers, retry, known.default_max_tokens)
        except ValueError as exc:
            with self.lock:
                self._count(None, key, 400, "bad_request", retry, agent)
            return self._error(vendor, 400, "invalid_request_error", str(exc), rid)
        with self.lock:
            return self._decide_locked(req, rid)

    def _decide_locked(self, req: Inbound, rid: str) -> Answer | Admitted:
        vendor, retry, cfg = req.vendor, req.retry, self.config
        budget = self.budgets[req.key]
        now = self.clock.now()
        reply = self.script.reply(req)
        fault = reply.fault
        if budget.quota_exhausted() or fault == "quota":
            self._count(req, req.key, 429 if vendor == "openai" else 400, "quota", retry)
            if vendor == "anthropic":
                return self._error(vendor, 400, "invalid_request_error", ant.CREDIT, rid)
            return self._error(
                vendor, 429, "insufficient_quota", oai.QUOTA, rid, "insufficient_quota"
            )
        storm = cfg.storm
        in_storm = storm is not None and storm.from_s <= now < (storm.until_s or float("inf"))
        if fault == "overloaded" or (in_storm and storm and self.rng.random() < storm.probability):
            return self._overloaded(req, rid)
        if fault == "server_error":
            self._count(req, req.key, 500, "server_error", retry)
            if vendor == "anthropic":
                return self._error(vendor, 500, "api_error", "Internal server error", rid)
            message = "The server had an error while processing your request. Sorry about that!"
            return self._error(vendor, 500, "server_error", message, rid)
        if fault == "rate_limited":
            refusal: Refusal | None = Refusal(
                "rate_limited", "requests", reply.retry_after_s, 1, cfg.keys[req.key].rpm or 0
            )
        else:
            refusal = budget.admit(now, reply.input_tokens, req.max_tokens)
        if refusal is not None:
            return self._refused(req, rid, refusal, budget, now)
        return self._admit(req, rid, reply, budget, now)

    def _overloaded(self, req: Inbound, rid: str) -> Answer:
        if req.vendor == "anthropic":
            self._count(req, req.key, 529, "overloaded", req.retry)
            return self._error("anthropic", 529, "overloaded_error", "Overloaded", rid)
        self._count(req, req.key, 503, "overloaded", req.retry)
        return self._error(
            "openai", 503, "server_error", "The server is overloaded or not ready yet.", rid
        )

    def _refused(
        self, req: Inbound, rid: str, refusal: Refusal, budget: KeyBudget, now: float
    ) -> Answer:
        vendor, scale, org = req.vendor, self.config.time_scale, self.config.org
        outcome = refusal.reason
        self._count(req, req.key, 429, outcome, req.retry)
        extra = self._limit_headers(vendor, budget, now)
        if outcome == "too_large":
            extra["x-should-retry"] = "false"
        else:
            extra |= hdr.retry_after(
                refusal.retry_after_s, scale, with_ms=vendor == "openai" or scale != 1.0
            )
        if vendor == "anthropic":
            if outcome == "acceleration":
                message = ant.ACCELERATION
            else:
                message = ant.rate_limit_message(org, refusal.limit, refusal.per_minute)
            answer = self._error(vendor, 429, "rate_limit_error", message, rid)
        else:
            wait = hdr.go_duration(refusal.retry_after_s / scale)
            limit = "requests" if refusal.limit == "requests" else "tokens"
            if outcome == "too_large":
                message = oai.too_large_message(
                    req.model, org, limit, refusal.per_minute, refusal.requested
                )
            elif outcome == "acceleration":
                message = oai.acceleration_message(req.model, org, refusal.per_minute, wait)
            else:
                bucket = budget.buckets.get(refusal.limit)
                used = round(bucket.capacity - bucket.level) if bucket else 0
                message = oai.rate_limit_message(
                    req.model, org, limit, refusal.per_minute, used, refusal.requested, wait
                )
            answer = self._error(vendor, 429, limit, message, rid, "rate_limit_exceeded")
        answer.headers |= extra
        return answer

    def _admit(
        self, req: Inbound, rid: str, reply: Reply, budget: KeyBudget, now: float
    ) -> Admitted:
        cfg = self.config
        fitted = fit(reply, req.max_tokens)
        jitter = 1.0 + (self.rng.uniform(-1.0, 1.0) * cfg.latency.jitter)
        break_after = None
        stream_fault = reply.fault == "stream_error"
        sf = cfg.stream_fault
        if (
            not stream_fault
            and req.stream
            and sf is not None
            and self.rng.random() < sf.probability
        ):
            stream_fault = True
        if stream_fault and req.stream:
            break_after = sf.after_tokens if sf else 1
        headers = self._limit_headers(req.vendor, budget, now)
        headers["request-id" if req.vendor == "anthropic" else "x-request-id"] = rid
        return Admitted(
            req=req,
            reply=fitted,
            input_tokens=reply.input_tokens,
            request_id=rid,
            body_id=ant.new_id("msg_") if req.vendor == "anthropic" else oai.new_id("chatcmpl-"),
            headers=headers,
            latency_ms=cfg.latency.base_ms * jitter,
            per_token_ms=cfg.latency.per_token_ms * jitter,
            break_after=break_after,
            fail_overloaded=stream_fault and not req.stream,
        )

    def snapshot(self) -> dict[str, Any]:
        """The counters, with the time scale and the simulated seconds since start."""
        with self.lock:
            out = self.stats.as_dict()
        out["time_scale"] = self.config.time_scale
        out["simulated_s"] = round(self.clock.now(), 3)
        return out

    def settle(self, adm: Admitted, produced: int, status: int, outcome: str) -> dict[str, str]:
        """Refund unused output, count the request; fresh rate-limit headers for a JSON reply."""
        with self.lock:
            budget = self.budgets[adm.req.key]
            now = self.clock.now()
            budget.settle(now, adm.req.max_tokens, produced, adm.input_tokens)
            self._count(
                adm.req, adm.req.key, status, outcome, adm.req.retry,
                tokens_in=adm.input_tokens, tokens_out=produced,
            )  # fmt: skip
            return self._limit_headers(adm.req.vendor, budget, now)

    def overloaded_after_admission(self, adm: Admitted) -> Answer:
        """A non-streamed request that a scripted in-stream fault hits: a plain 529/503."""
        with self.lock:
            budget = self.budgets[adm.req.key]
            budget.settle(self.clock.now(), adm.req.max_tokens, 0, adm.input_tokens)
            return self._overloaded(adm.req, adm.request_id)
