"""Run a request through a budget: wait for it, send once, learn, retry or stop (SPEC §8).

    store = BudgetStore(budgetstore.store_path(ws.private_dir))
    pacer = Pacer(store, BudgetSpec.from_config("anthropic-main", raw_budget))
    turn = pacer.run(provider, request, agent="builder-claude", task="T-7K2M9Q4D")

``run`` is thread-safe and blocks until the call is answered or cannot be:
many agent threads (and other processes using the same store file) share one
budget. What it does, and why, is ADR 0020; the arithmetic is
:mod:`lanectl.budgetmodel`, the shared state :mod:`lanectl.budgetstore`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from lanectl import ratelimits
from lanectl.budgetmodel import actual, cost, estimate_input_tokens
from lanectl.budgetstore import BudgetSpec, BudgetStore, Gate, Settlement, Ticket
from lanectl.providers.base import Provider, ProviderError, Request, Turn

STOPS_BUDGET = frozenset({"quota_exhausted", "auth"})  # every caller would fail the same way
MAX_NAP_S = 1.0  # re-check at least this often, for changes other processes make


@dataclass(frozen=True)
class PacerEvent:
    """Something the ledger should hold: ``provider.error`` or ``budget.throttled``."""

    kind: str
    result: str  # error | blocked
    reason: str
    data: Mapping[str, Any]
    agent: str
    task: str | None


EventSink = Callable[[PacerEvent], None]


@dataclass
class _Call:
    agent: str
    task: str | None
    attempts: int = 0
    waited: float = 0.0
    n429: int = 0
    n529: int = 0
    errors: int = 0
    counted: dict[str, float] = field(default_factory=dict)


class Pacer:
    """Every request on one budget goes through here; share one per budget and process."""

    def __init__(
        self,
        store: BudgetStore,
        spec: BudgetSpec,
        *,
        sink: EventSink | None = None,
        max_attempts: int = 12,
        backoff_s: float = 0.5,
        max_backoff_s: float = 16.0,
        poll_s: float = 0.05,
        halt_s: float = 120.0,
        slow_wait_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.spec = spec
        self.sink = sink
        self.max_attempts = max_attempts
        scale = max(spec.time_scale, 1e-9)
        self.backoff_s = backoff_s / scale
        self.max_backoff_s = max_backoff_s / scale
        self.poll_s = poll_s
        self.halt_s = halt_s
        self.slow_wait_s = slow_wait_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrets
        self._wake = threading.Condition()
        self._answered = 0  # successes so far: evidence the vendor is serving again

    # -- the one entry point ----------------------------------------------

    def run(
        self, provider: Provider, request: Request, *, agent: str = "", task: str | None = None
    ) -> Turn:
        """Send ``request`` when the budget allows; retry what is worth retrying.

        Returns the turn (with ``attempts`` and ``waited_s`` filled in). Raises
        :class:`ProviderError` for quota, credential, size and invalid-request
        failures (never retried) and when retries run out; each failure is
        reported to the sink before anything is raised.
        """
        call = _Call(agent, task)
        demand = cost(estimate_input_tokens(request), request.max_tokens)
        try:
            while True:
                try:
                    ticket = self.store.admit(self.spec, demand)
                except ProviderError as err:  # too large for the whole budget: never sent
                    self._report(err, request, call, retry_in=None)
                    raise
                call.attempts += 1
                turn = self._attempt(provider, request, ticket, call)
                if turn is not None:
                    return replace(turn, attempts=call.attempts, waited_s=call.waited)
        finally:
            self._count(request, call)

    # -- one attempt --------------------------------------------------------

    def _attempt(
        self, provider: Provider, request: Request, ticket: Ticket, call: _Call
    ) -> Turn | None:
        try:
            call.waited += self._wait(ticket, call)
        except BaseException:
            self.store.abandon(ticket)
            self._notify()
            raise
        seen: dict[str, Any] = {}

        def on_headers(headers: Mapping[str, str]) -> None:
            seen["at"] = time.time()
            if request.stream and ticket.sent is not None:
                # A stream's headers are the vendor's view when it admitted the request.
                self.store.observe(ticket, ratelimits.observe(headers, seen["at"]), ticket.sent)

        tags = {"agent": call.agent, "task": call.task or ""}
        try:
            turn = provider.complete(request, on_headers=on_headers, tags=tags)
        except ProviderError as err:
            self._failed(err, request, ticket, call)
            return None
        except BaseException:
            self.store.settle(ticket, Settlement("keep"))
            self._notify()
            raise
        usage = turn.usage
        used = actual(usage.input + usage.cache_read + usage.cache_write, usage.output)
        observed = None if request.stream else ratelimits.observe(turn.headers, time.time())
        self.store.settle(
            ticket,
            Settlement("used", used, observed, seen.get("at"), success=True),
        )
        with self._wake:
            self._answered += 1
            self._wake.notify_all()
        for key in ("input", "output", "cache_read", "cache_write"):
            call.counted[key] = call.counted.get(key, 0) + getattr(usage, key)
        return turn

    def _wait(self, ticket: Ticket, call: _Call) -> float:
        """Block until the ticket may be sent; returns the seconds spent queued."""
        start = time.monotonic()
        reported = False
        while True:
            gate: Gate = self.store.peek(ticket)
            if gate.go:
                gate = self.store.launch(ticket)
                if gate.go:
                    return time.monotonic() - start
            waited = time.monotonic() - start
            if not reported and waited + gate.wait > self.slow_wait_s:
                reported = True
                self._emit(
                    "budget.throttled",
                    "blocked",
                    f"budget {self.spec.name}: a call is queued for "
                    f"{waited + gate.wait:.0f} s ({gate.reason})",
                    {"budget": self.spec.name, "wait_s": round(waited + gate.wait, 3),
                     "cause": gate.reason},
                    call,
                )  # fmt: skip
            # A budget, pause or pacing wait is known to the millisecond: sleep it out
            # (another thread of this process wakes us sooner when it gives budget back).
            # A slot in the window frees when a request ends, maybe in another process.
            nap = gate.wait if gate.reason != "window" else self.poll_s
            with self._wake:
                self._wake.wait(timeout=min(max(nap, 0.0005), MAX_NAP_S))

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    # -- failures ----------------------------------------------------------

    def _failed(self, err: ProviderError, request: Request, ticket: Ticket, call: _Call) -> None:
        """Settle a failed attempt, report it, and raise unless it is worth retrying."""
        now = time.time()
        served = self._answered
        cls = err.error_class
        answered = err.status is not None  # the vendor refused it: nothing was charged
        observation = ratelimits.observe(err.headers, now) if err.headers else None
        call.errors += 1
        retry_in: float | None = None
        pause_until = None
        if cls == "rate_limited":
            call.n429 += 1
            retry_in = err.retry_after
            if retry_in is None:
                retry_in = self._until_refilled(observation)
            pause_until = now + retry_in
        elif cls == "overloaded":
            call.n529 += 1
        if err.retryable and retry_in is None:
            retry_in = self._backoff(call.attempts)
        final = not err.retryable or call.attempts >= self.max_attempts
        paused = self.store.settle(
            ticket,
            Settlement(
                "void" if answered else "keep",
                observation=observation,
                observed_at=now,
                congestion=cls == "rate_limited",
                overloaded=cls == "overloaded",
                pause_until=pause_until,
                widen=cls == "rate_limited",
            ),
        )
        self._notify()
        if cls in STOPS_BUDGET:
            self.store.halt(self.spec.name, now + self.halt_s, _halt_reason(err), cls)
        self._report(err, request, call, retry_in=None if final else retry_in)
        if paused and pause_until is not None:
            self._emit(
                "budget.throttled",
                "blocked",
                f"budget {self.spec.name} paused for {pause_until - now:.1f} s after a 429",
                {"budget": self.spec.name, "pause_s": round(pause_until - now, 3),
                 "until": round(pause_until, 3), "cause": "rate_limited"},
                call,
            )  # fmt: skip
        if final:
            if err.retryable:
                raise ProviderError(
                    cls,
                    f"{err.message} (gave up after {call.attempts} attempts)",
                    status=err.status,
                    vendor_type=err.vendor_type,
                    headers=err.headers,
                    request_id=err.request_id,
                    hint=err.hint,
                ) from None
            raise err
        if cls != "rate_limited" and retry_in:  # a 429's pause in the store covers everyone
            self._back_off(retry_in, served)

    def _back_off(self, retry_in: float, served: int) -> None:
        """Wait ``retry_in``, or less once another request here succeeds after the base
        backoff: a vendor that answers half its requests is worth asking again soon; one
        that answers none gets the whole exponential backoff."""
        deadline = time.monotonic() + retry_in
        time.sleep(min(retry_in, self.backoff_s * self._rng.uniform(0.75, 1.0)))
        with self._wake:
            while self._answered == served:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._wake.wait(timeout=left)

    def _backoff(self, attempt: int) -> float:
        base = min(self.max_backoff_s, self.backoff_s * 2.0 ** max(0, attempt - 1))
        return float(base * self._rng.uniform(0.75, 1.0))

    def _until_refilled(self, observation: ratelimits.Observation | None) -> float:
        """A 429 without retry-after: wait for the emptiest bucket's reset, or back off."""
        if observation is not None:
            resets = [
                lim.reset_in
                for lim in observation.limits.values()
                if lim.reset_in is not None and lim.remaining is not None and lim.remaining < 1
            ]
            if resets:
                return min(max(resets), self.max_backoff_s)
        return self.backoff_s

    # -- reporting -----------------------------------------------------------

    def _report(
        self, err: ProviderError, request: Request, call: _Call, *, retry_in: float | None
    ) -> None:
        data: dict[str, Any] = {
            "class": err.error_class,
            "budget": self.spec.name,
            "model": request.model,
            "attempt": call.attempts,
        }
        if err.status is not None:
            data["status"] = err.status
        if err.vendor_type:
            data["type"] = err.vendor_type
        if err.request_id:
            data["request_id"] = err.request_id
        data["retry_in_s"] = round(retry_in, 3) if retry_in is not None else None
        data["action"] = "retry" if retry_in is not None else "stop"
        self._emit("provider.error", "error", err.message, data, call)

    def _emit(
        self, kind: str, result: str, reason: str, data: Mapping[str, Any], call: _Call
    ) -> None:
        if self.sink is not None:
            self.sink(PacerEvent(kind, result, reason, dict(data), call.agent, call.task))

    def _count(self, request: Request, call: _Call) -> None:
        self.store.count(
            self.spec.name,
            call.agent,
            call.task or "",
            request.model,
            calls=1,
            requests=call.attempts,
            throttle_s=call.waited,
            n429=call.n429,
            n529=call.n529,
            errors=call.errors,
            **call.counted,
        )


def _halt_reason(err: ProviderError) -> str:
    if err.error_class == "auth":
        return "the vendor rejected the credential"
    return "the key's quota or spend limit is exhausted"
