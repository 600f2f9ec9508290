"""The one way lanectl calls a model: route, cache, pace, record (SPEC §7, §8).

    gw = Gateway.open(ws)
    turn = gw.complete(Request(model="", messages=(Message("user", "…"),)),
                       agent="reviewer-gpt", route="summarize", task="T-7K2M9Q4D")

``complete`` resolves the target (:mod:`lanectl.routing`), answers from the
response cache when it can (no request sent), and otherwise runs the request
through the budget's :class:`~lanectl.pacer.Pacer`. Failures are ledger events
(``provider.error``, ``budget.throttled``) via the sink. Providers, and with
them the vendor SDKs, are built on first use. Thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lanectl.budgetstore import BudgetStore, store_path
from lanectl.pacer import EventSink, Pacer, PacerEvent
from lanectl.providers.base import Provider, Request, Turn
from lanectl.providers.registry import ProviderSpec, build
from lanectl.respcache import ResponseCache, request_key
from lanectl.routing import resolve

if TYPE_CHECKING:
    from lanectl.workspace import Workspace

RESPONSES = "responses.sqlite"


class Gateway:
    def __init__(
        self,
        raw_config: Mapping[str, Any],
        store: BudgetStore,
        cache: ResponseCache | None = None,
        *,
        sink: EventSink | None = None,
        provider_options: Mapping[str, Any] | None = None,
        pacer_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.raw_config = raw_config
        self.store = store
        self.cache = cache
        self.sink = sink
        self.provider_options = dict(provider_options or {})
        self.pacer_options = dict(pacer_options or {})
        self._lock = threading.Lock()
        self._providers: dict[tuple[Any, ...], Provider] = {}
        self._pacers: dict[str, Pacer] = {}

    @classmethod
    def open(
        cls,
        ws: Workspace,
        *,
        sink: EventSink | None = None,
        raw: Mapping[str, Any] | None = None,
    ) -> Gateway:
        """A gateway on the workspace's config, budget store and cache; events to the ledger.

        ``raw`` is the config to use instead of the work tree's: agents acting on
        a task pass the BASE branch's (:func:`lanectl.policy.load_base_config`).
        """
        raw = ws.raw_config if raw is None else raw
        settings = raw.get("cache") if isinstance(raw.get("cache"), dict) else {}
        assert isinstance(settings, dict)
        cache = None
        if settings.get("responses", True) is not False:
            cache = ResponseCache(
                ws.private_dir / RESPONSES,
                max_age_days=float(settings.get("max_age_days") or 30.0),
            )
        return cls(
            raw,
            BudgetStore(store_path(ws.private_dir)),
            cache,
            sink=sink if sink is not None else ledger_sink(ws, raw),
        )

    def provider(self, spec: ProviderSpec) -> Provider:
        if self.provider_options:
            spec = replace(spec, options={**spec.options, **self.provider_options})
        key = (spec.kind, spec.budget, spec.base_url, spec.credential_env, spec.keyring)
        with self._lock:
            found = self._providers.get(key)
            if found is None:
                found = self._providers[key] = build(spec)
            return found

    def complete(
        self,
        request: Request,
        *,
        agent: str,
        route: str | None = None,
        task: str | None = None,
        use_cache: bool = True,
    ) -> Turn:
        """Answer ``request`` for ``agent``; the route (or agent) decides the model."""
        target = resolve(self.raw_config, agent=agent, route=route)
        if route is not None or not request.model:
            request = replace(request, model=target.model)
        if target.max_tokens is not None and request.max_tokens > target.max_tokens:
            request = replace(request, max_tokens=target.max_tokens)
        provider = self.provider(target.provider)
        key = request_key(provider.identity, request) if self.cache is not None else ""
        if self.cache is not None and use_cache:
            hit = self.cache.get(key)
            if hit is not None:
                self.store.count(
                    target.budget.name, agent, task or "", request.model, calls=1, cache_hits=1
                )
                return hit
        with self._lock:
            pacer = self._pacers.get(target.budget.name)
            if pacer is None or pacer.spec != target.budget:
                pacer = Pacer(self.store, target.budget, sink=self.sink, **self.pacer_options)
                self._pacers[target.budget.name] = pacer
        turn = pacer.run(provider, request, agent=agent, task=task)
        if self.cache is not None:
            self.cache.put(key, provider.identity, turn)
        return turn

    def close(self) -> None:
        with self._lock:
            providers, self._providers = list(self._providers.values()), {}
        for provider in providers:
            provider.close()
        self.store.close()
        if self.cache is not None:
            self.cache.close()

    def evict(self, request: Request, *, agent: str, route: str | None = None) -> bool:
        """Forget the cached answer to ``request`` (it was unusable): True if there was one."""
        if self.cache is None:
            return False
        target = resolve(self.raw_config, agent=agent, route=route)
        if route is not None or not request.model:
            request = replace(request, model=target.model)
        return self.cache.evict(request_key(self.provider(target.provider).identity, request))


def ledger_sink(ws: Workspace, raw: Mapping[str, Any] | None = None) -> EventSink:
    """Record pacer events in the ledger, as the agent they happened to (one commit each)."""
    lock = threading.Lock()

    def roles() -> Mapping[str, Any]:
        agents = (ws.raw_config if raw is None else raw).get("agents")
        return agents if isinstance(agents, dict) else {}

    def sink(event: PacerEvent) -> None:
        from lanectl import ledger, state

        actor = event.agent or "lanectl"
        spec = roles().get(actor)
        role = str(spec.get("role")) if isinstance(spec, dict) and spec.get("role") else "lanectl"
        summary = f"{event.kind}: {event.reason[:60]}"
        with lock, state.change(ws, actor, role, summary, task=event.task) as change:
            ledger.record(
                change,
                event.kind,
                task=event.task,
                result=event.result,
                reason=event.reason,
                data=dict(event.data),
            )

    return sink
