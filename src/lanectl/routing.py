"""Which model, vendor endpoint and budget answer a call (SPEC §7, §8).

A call is made *for an agent*, optionally naming a *route*. Without a route
the agent's own provider, model and budget answer it. With one, the route's
model (and budget and provider, when it names them) answer instead, so light
work (summaries, triage, risk classification) goes to a cheaper model:

    routing:
      summarize: {model: claude-haiku-4-5, budget: anthropic-main}

The credential and endpoint belong to the budget (one budget per key); an
agent's ``base_url`` / ``credential_env`` fill in what its budget leaves out.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lanectl.budgetstore import BudgetSpec
from lanectl.errors import LaneError
from lanectl.providers.registry import ProviderSpec

CONFIG = ".lanes/config.yaml"


@dataclass(frozen=True)
class Target:
    provider: ProviderSpec
    model: str
    budget: BudgetSpec
    route: str | None = None
    max_tokens: int | None = None  # a route's cap on output


def _section(raw: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = raw.get(name) or {}
    if not isinstance(value, Mapping):
        raise LaneError(f"{name}: expected a mapping", where=CONFIG, hint="run `lanectl check`")
    return value


def _pick(section: Mapping[str, Any], key: str, what: str) -> Mapping[str, Any]:
    entry = section.get(key)
    if isinstance(entry, Mapping):
        return entry
    close = difflib.get_close_matches(key, [str(k) for k in section], n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(map(str, section))}"
    raise LaneError(f"unknown {what} '{key}'", where=CONFIG, hint=hint if section else None)


def resolve(raw: Mapping[str, Any], *, agent: str, route: str | None = None) -> Target:
    """The target for a call by ``agent`` (through ``route`` if given)."""
    spec = _pick(_section(raw, "agents"), agent, "agent")
    provider = spec.get("provider")
    if provider == "command":
        raise LaneError(
            f"agent {agent} runs an external command, not a provider API",
            hint="give it provider anthropic, openai or openai-compatible to call a model",
        )
    model = spec.get("model")
    budget_name = spec.get("budget")
    cap = None
    if route is not None:
        chosen = _pick(_section(raw, "routing"), route, "route")
        model = chosen.get("model") or model
        budget_name = chosen.get("budget") or budget_name
        provider = chosen.get("provider") or provider
        cap = chosen.get("max_tokens")
    budgets = _section(raw, "budgets")
    budget = _pick(budgets, budget_name, "budget") if budget_name else {}
    kind = budget.get("provider") or provider
    same_vendor = kind == spec.get("provider")
    base_url = budget.get("base_url") or (spec.get("base_url") if same_vendor else None)
    credential = budget.get("credential_env") or (
        spec.get("credential_env") if same_vendor and not budget.get("keyring") else None
    )
    if not model:
        raise LaneError(
            f"agent {agent} has no model" + (f" and route {route} names none" if route else ""),
            where=CONFIG,
            hint=f"add model: to agents › {agent}",
        )
    name = str(budget_name or f"agent-{agent}")
    return Target(
        provider=ProviderSpec(
            kind=str(kind),
            budget=name,
            base_url=str(base_url) if base_url else None,
            credential_env=str(credential) if credential else None,
            keyring=str(budget["keyring"]) if budget.get("keyring") else None,
        ),
        model=str(model),
        budget=BudgetSpec.from_config(name, budget),
        route=route,
        max_tokens=int(cap) if cap else None,
    )
