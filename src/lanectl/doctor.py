"""``lanectl doctor``: read-only diagnosis, one named check at a time.

Each check is a function from the workspace to a list of
:class:`~lanectl.forge.base.Advice`; :data:`CHECKS` names them, so a new
diagnosis (the watchdog's stalled work, key setup, …) is one more entry.
A check that cannot run reports that as an ``error`` item instead of
stopping the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lanectl.errors import LaneError
from lanectl.forge.base import Advice
from lanectl.workspace import Workspace

Check = Callable[[Workspace], list[Advice]]


def forge_check(ws: Workspace) -> list[Advice]:
    """Would the forge's settings for the base branch let work around the gate?"""
    from lanectl import signers
    from lanectl.forge.registry import open_forge

    base, _, raw = signers.load_base_config(ws)
    return list(open_forge(ws, raw).protection_report(base).items)


def work_check(ws: Workspace) -> list[Advice]:
    """Running and stuck tasks, classified with evidence by the watchdog (SPEC §9)."""
    from lanectl import tasks, watchdog

    return [Advice(*item) for item in watchdog.doctor_items(ws, tasks.load(ws))]


def sandbox_check(ws: Workspace) -> list[Advice]:
    """Are the processes lanectl starts for agents confined by Landlock (ADR 0032)?"""
    from lanectl import policy, sandboxrules

    base = policy.load_base_config(ws)
    required = sandboxrules.Settings.from_config(base.raw or {}).required
    return [Advice(*sandboxrules.status(required))]


CHECKS: dict[str, Check] = {"work": work_check, "sandbox": sandbox_check, "forge": forge_check}


@dataclass(frozen=True)
class Report:
    results: tuple[tuple[str, tuple[Advice, ...]], ...]  # (check, its items), in order

    @property
    def ok(self) -> bool:
        return not any(a.level in ("warn", "error") for _, items in self.results for a in items)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checks": {name: [a.to_json() for a in items] for name, items in self.results},
        }


def run(ws: Workspace, only: Sequence[str] = ()) -> Report:
    names = [n for n in CHECKS if not only or n in only]
    results: list[tuple[str, tuple[Advice, ...]]] = []
    for name in names:
        try:
            items = tuple(CHECKS[name](ws))
        except LaneError as exc:
            items = (Advice("error", f"{name}-failed", str(exc)),)
        results.append((name, items))
    return Report(tuple(results))
