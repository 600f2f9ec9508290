"""What ``lanectl budget`` reports: use per budget, agent and task, and what it cost.

Pure arithmetic over the budget store's usage counters and the config's
``prices:`` table (US dollars per million tokens). Cache reads and writes are
priced at ``cache_read`` / ``cache_write`` when given, else at the input price
(an over-estimate for vendors that discount cached input).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from lanectl.budgetrows import COUNTERS

TOKENS = ("input", "output", "cache_read", "cache_write")


def row_cost(row: Mapping[str, Any], prices: Mapping[str, Any]) -> float | None:
    """Dollars for one usage row, or None if its model has no price."""
    price = prices.get(str(row.get("model", "")))
    if not isinstance(price, Mapping):
        return None
    per = {
        "input": float(price.get("input") or 0.0),
        "output": float(price.get("output") or 0.0),
    }
    per["cache_read"] = float(price.get("cache_read", per["input"]) or 0.0)
    per["cache_write"] = float(price.get("cache_write", per["input"]) or 0.0)
    return sum(float(row.get(k) or 0.0) * per[k] for k in TOKENS) / 1_000_000.0


def _sum(rows: Iterable[Mapping[str, Any]], prices: Mapping[str, Any]) -> dict[str, Any]:
    total: dict[str, Any] = {c: 0.0 for c in COUNTERS}
    cost: float | None = 0.0
    unpriced = False
    for row in rows:
        for c in COUNTERS:
            total[c] += float(row.get(c) or 0.0)
        one = row_cost(row, prices)
        if one is None:
            unpriced = unpriced or any(float(row.get(k) or 0.0) for k in TOKENS)
        elif cost is not None:
            cost += one
    out: dict[str, Any] = {
        c: round(v, 3) if c == "throttle_s" else int(v) for c, v in total.items()
    }
    out["cost_usd"] = round(cost, 6) if cost is not None else None
    out["cost_complete"] = not unpriced
    return out


def build(
    usage: list[dict[str, Any]],
    prices: Mapping[str, Any],
    now: Mapping[str, Mapping[str, Any]] | None = None,
    cache: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """The whole report as plain data (what ``--json`` prints)."""
    budgets: dict[str, list[dict[str, Any]]] = {}
    for row in usage:
        budgets.setdefault(str(row["budget"]), []).append(row)
    report: list[dict[str, Any]] = []
    for name in sorted(budgets):
        rows = budgets[name]
        entry: dict[str, Any] = {"budget": name, "total": _sum(rows, prices)}
        for axis in ("agent", "task", "model"):
            groups: dict[str, list[dict[str, Any]]] = {}
            for row in rows:
                groups.setdefault(str(row[axis]), []).append(row)
            entry[f"by_{axis}"] = [
                {axis: key or "(none)", **_sum(group, prices)}
                for key, group in sorted(groups.items())
            ]
        if now is not None and name in now:
            entry["now"] = dict(now[name])
        report.append(entry)
    models = {str(r["model"]) for r in usage if any(float(r.get(k) or 0) for k in TOKENS)}
    return {
        "budgets": report,
        "unpriced_models": sorted(m for m in models if not isinstance(prices.get(m), Mapping)),
        "response_cache": dict(cache) if cache is not None else None,
    }


def _k(value: float) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    return f"{value:.0f}"


def _line(label: str, s: Mapping[str, Any], width: int) -> str:
    cost = s["cost_usd"]
    money = "" if cost is None else f"${cost:,.2f}" + ("" if s["cost_complete"] else "+")
    return (
        f"{label:<{width}} {int(s['calls']):>6} {int(s['requests']):>6} "
        f"{_k(s['input']):>7} {_k(s['output']):>7} {_k(s['cache_read']):>7} "
        f"{int(s['cache_hits']):>5} {s['throttle_s']:>8.1f} {int(s['n429']):>4} "
        f"{int(s['n529']):>4} {money:>9}"
    )


def render(report: Mapping[str, Any]) -> str:
    """The report as aligned text for a terminal."""
    if not report["budgets"]:
        return "No model calls recorded yet.\n"
    labels = [b["budget"] for b in report["budgets"]]
    for b in report["budgets"]:
        for axis in ("agent", "task"):
            labels += [f"  {g[axis]}" for g in b[f"by_{axis}"]]
    width = max(12, *(len(x) for x in labels))
    head = (
        f"{'':<{width}} {'calls':>6} {'reqs':>6} {'input':>7} {'output':>7} {'cached':>7} "
        f"{'hits':>5} {'throttle':>8} {'429':>4} {'529':>4} {'cost':>9}"
    )
    lines = [head]
    for b in report["budgets"]:
        lines.append(_line(b["budget"], b["total"], width))
        now = b.get("now") or {}
        if now:
            state = [f"window {now.get('window', 0):.0f}"]
            if now.get("paused_for_s"):
                state.append(f"paused {now['paused_for_s']:.1f} s")
            if now.get("halted"):
                state.append(f"STOPPED: {now['halted']}")
            for dim, bucket in (now.get("buckets") or {}).items():
                state.append(
                    f"{dim.replace('_', ' ')} {_k(max(0.0, bucket['level']))}"
                    f"/{_k(bucket['capacity'])}"
                )
            lines.append(f"{'':<{width}} now: " + " · ".join(state))
        for axis in ("agent", "task"):
            groups = b[f"by_{axis}"]
            if len(groups) > 1 or (groups and groups[0][axis] != "(none)"):
                lines.append(f"  by {axis}:")
                lines += [_line(f"  {g[axis]}", g, width) for g in groups]
    cache = report.get("response_cache")
    if cache:
        lines.append(
            f"response cache: {cache['hits']} hits, {cache['misses']} misses, "
            f"{cache['entries']} entries"
        )
    if report["unpriced_models"]:
        lines.append(
            "no price for: " + ", ".join(report["unpriced_models"])
            + " (add them under prices: in .lanes/config.yaml; '+' marks a partial cost)"
        )  # fmt: skip
    return "\n".join(lines) + "\n"
