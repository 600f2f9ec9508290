"""``lanectl sim use URL``: point an org config's budgets at the vendor simulator.

Rehearsing an org offline means giving every budget (and every agent with a
``base_url`` of its own) the simulator's address — Anthropic without ``/v1``,
OpenAI and OpenAI-compatible with it — and the simulator's time scale. This
rewrites exactly those lines of ``.lanes/config.yaml`` (each budget or agent
entry is re-written on its own line, comments elsewhere untouched) and says
which fake keys to export. It changes policy, so the person commits it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lanectl import yamlio
from lanectl.errors import LaneError

ANTHROPIC = ("anthropic",)
OPENAI = ("openai", "openai-compatible")


@dataclass(frozen=True)
class Pointed:
    text: str  # the new config
    changed: tuple[tuple[str, str], ...]  # (budget or agent, base_url)
    exports: tuple[tuple[str, str], ...]  # (credential variable, fake key)


def _vendor(provider: Any) -> str | None:
    if provider in ANTHROPIC:
        return "anthropic"
    if provider in OPENAI:
        return "openai"
    return None


def _replace_entry(lines: list[str], line_no: int, name: str, value: Mapping[str, Any]) -> None:
    """Rewrite the one-line entry ``name: {...}`` at ``line_no`` (1-based), keeping its indent."""
    index = line_no - 1
    match = re.match(r"^(\s*)" + re.escape(name) + r"\s*:\s*\{.*\}\s*(#.*)?$", lines[index])
    if match is None:
        raise LaneError(
            f"'{name}' is not written on one line as {{…}}; point it at the simulator by hand",
            where=f".lanes/config.yaml:{line_no}",
        )
    comment = f"  {match.group(2)}" if match.group(2) else ""
    lines[index] = f"{match.group(1)}{name}: {yamlio.dump_flow(dict(value))}{comment}\n"


def point(text: str, url: str, *, time_scale: float = 1.0) -> Pointed:
    """``text`` with every model budget (and agent base_url) on the simulator at ``url``."""
    url = url.rstrip("/")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    where = ".lanes/config.yaml"
    raw = yamlio.load(text, where)
    if not isinstance(raw, dict):
        raise LaneError("the config is not a mapping", where=f"{where}:1")
    agents = raw.get("agents") if isinstance(raw.get("agents"), dict) else {}
    budgets = raw.get("budgets") if isinstance(raw.get("budgets"), dict) else {}
    assert isinstance(agents, dict)
    assert isinstance(budgets, dict)
    vendors: dict[str, str] = {}
    for agent in agents.values():
        if isinstance(agent, dict) and isinstance(agent.get("budget"), str):
            vendor = _vendor(agent.get("provider"))
            if vendor is not None:
                vendors.setdefault(agent["budget"], vendor)
    from lanectl.sim.config import SimConfig  # the keys `lanectl sim serve` serves by default

    sim_keys: dict[str, str] = {k.vendor: k.key for k in SimConfig.default().keys.values()}
    where_is = yamlio.key_lines(text)
    lines = text.splitlines(keepends=True)
    changed: list[tuple[str, str]] = []
    exports: dict[str, str] = {}
    for name, vendor in vendors.items():
        budget = budgets.get(name)
        if not isinstance(budget, dict) or ("budgets", name) not in where_is:
            continue
        base = url if vendor == "anthropic" else url + "/v1"
        new = {**budget, "base_url": base}
        if time_scale != 1.0:
            new["time_scale"] = time_scale
        else:
            new.pop("time_scale", None)
        _replace_entry(lines, where_is[("budgets", name)], name, new)
        changed.append((name, base))
        if isinstance(budget.get("credential_env"), str):
            exports[budget["credential_env"]] = sim_keys[vendor]
    for name, agent in agents.items():
        if isinstance(agent, dict) and agent.get("base_url") and _vendor(agent.get("provider")):
            base = url if _vendor(agent.get("provider")) == "anthropic" else url + "/v1"
            _replace_entry(lines, where_is[("agents", name)], name, {**agent, "base_url": base})
            changed.append((name, base))
    if not changed:
        raise LaneError(
            "no budget of an anthropic, openai or openai-compatible agent to point at the "
            "simulator",
            where=f"{where}:1",
        )
    return Pointed("".join(lines), tuple(changed), tuple(sorted(exports.items())))


def answers(url: str, wait_s: float = 5.0) -> bool:
    """Whether a simulator answers at ``url`` (its stats page), waiting up to ``wait_s``."""
    import time
    import urllib.error
    import urllib.request

    stats = url.rstrip("/").removesuffix("/v1") + "/_sim/stats"
    if not stats.startswith(("http://127.", "http://localhost", "http://[::1]")):
        return False  # the simulator listens on loopback only; never probe another host
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with urllib.request.urlopen(stats, timeout=1) as reply:  # noqa: S310 (loopback)
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.1)
