"""Who reviews a task: reviewers assigned by model family (SPEC §6.1, ADR 0024).

Pure: the base branch's agents, the builder's family (from who signed the
commits, never from a field), the policy and any signed human waivers in,
one :class:`Pick` per role or a :class:`Gap` saying what to configure out.

* correctness (role ``reviewer``): a family other than the builder's. Always,
  with ``diversity: strict``; with ``warn`` the builder's family is a
  fallback, named as such. No waiver lets the builder's family review its
  own work under ``strict``.
* security: a family other than the builder's *and* the correctness
  reviewer's under ``strict``. When no such agent is configured, a signed
  human diversity waiver (:mod:`lanectl.waivers`) lets the security review
  come from the correctness reviewer's family — still never the builder's.
* design: preferably another family than the builder's.

Only agents lanectl can call are assigned (a provider API, and a model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LABELS = {"reviewer": "correctness", "security": "security", "designer": "design"}


@dataclass(frozen=True)
class Pick:
    role: str
    agent: str
    family: str
    model: str
    note: str = ""  # why this pick bends a rule (a waiver, diversity warn)


@dataclass(frozen=True)
class Gap:
    role: str
    reason: str
    fix: str


@dataclass(frozen=True)
class Assignment:
    picks: tuple[Pick, ...]
    gaps: tuple[Gap, ...]

    def pick(self, role: str) -> Pick | None:
        return next((p for p in self.picks if p.role == role), None)


def callable_agents(agents: Mapping[str, Mapping[str, Any]], role: str) -> list[Pick]:
    """Agents of ``role`` that lanectl can call, in config order."""
    found: list[Pick] = []
    for name, spec in agents.items():
        if not isinstance(spec, Mapping) or spec.get("role") != role:
            continue
        if spec.get("provider") == "command" or not spec.get("model"):
            continue
        found.append(Pick(role, str(name), str(spec.get("family")), str(spec.get("model"))))
    return found


def _add_hint(role: str, families: str) -> str:
    return (
        f"add a {role} agent from {families} to .lanes/config.yaml and merge it into the "
        f"base branch (lanectl agent add NAME --role {role} --provider P --model M --family F)"
    )


def assign(
    agents: Mapping[str, Mapping[str, Any]],
    *,
    roles: Sequence[str],
    builder_family: str | None,
    diversity: str,
    task: str,
    waived: Mapping[str, str] | None = None,
    reviewer_family: str | None = None,
) -> Assignment:
    """One pick per role in ``roles``, or the gap that stops it.

    ``builder_family`` is None for a human builder. ``waived`` maps a role to
    the human who waived its diversity rule. ``reviewer_family`` is the family
    of the correctness review that already counts at the head, if any.
    """
    waived = dict(waived or {})
    strict = diversity == "strict"
    picks: list[Pick] = []
    gaps: list[Gap] = []
    builder = builder_family or "(a person)"
    reviewers = callable_agents(agents, "reviewer")
    diverse = [r for r in reviewers if r.family != builder_family]
    securities = callable_agents(agents, "security")

    def third_for(family: str | None) -> list[Pick]:
        return [s for s in securities if s.family not in {builder_family, family}]

    if "reviewer" in roles:
        if diverse:
            # prefer a reviewer that leaves a third family for the security review
            wanted = "security" in roles
            chosen = next((r for r in diverse if wanted and third_for(r.family)), diverse[0])
            picks.append(chosen)
            reviewer_family = chosen.family
        elif reviewers and not strict:
            fallback = reviewers[0]
            note = f"same family as the builder ({builder}): allowed because diversity is warn"
            picks.append(Pick(fallback.role, fallback.agent, fallback.family, fallback.model, note))
            reviewer_family = fallback.family
        else:
            gaps.append(
                Gap(
                    "reviewer",
                    f"no reviewer agent from a family other than the builder's ({builder}) "
                    "is configured",
                    _add_hint("reviewer", f"a family other than {builder}"),
                )
            )
    elif reviewer_family is None and diverse:
        reviewer_family = diverse[0].family
    if "security" in roles:
        third = third_for(reviewer_family)
        not_builder = [s for s in securities if s.family != builder_family]
        families = " and ".join(
            sorted({f for f in (builder_family, reviewer_family) if f is not None})
        )
        if third:
            picks.append(third[0])
        elif not not_builder and (strict or not securities):
            gaps.append(
                Gap(
                    "security",
                    f"no security agent from a family other than the builder's ({builder}) "
                    "is configured",
                    _add_hint("security", f"a family other than {families or builder}"),
                )
            )
        elif strict and "security" in waived:
            chosen = not_builder[0]
            note = f"third family waived by {waived['security']}"
            picks.append(Pick(chosen.role, chosen.agent, chosen.family, chosen.model, note))
        elif strict:
            gaps.append(
                Gap(
                    "security",
                    f"diversity is strict and no security agent from a family other than "
                    f"{families} is configured",
                    _add_hint("security", f"a third family (not {families})")
                    + f", or a human waives it: lanectl waive {task} --diversity --key KEY",
                )
            )
        else:
            chosen = (not_builder or securities)[0]
            note = "no third family: allowed because diversity is warn"
            picks.append(Pick(chosen.role, chosen.agent, chosen.family, chosen.model, note))
    if "designer" in roles:
        designers = callable_agents(agents, "designer")
        preferred = [d for d in designers if d.family != builder_family] or designers
        if preferred:
            picks.append(preferred[0])
        else:
            gaps.append(
                Gap(
                    "designer",
                    "the design review is required and no designer agent is configured",
                    _add_hint("designer", "any family (preferably not the builder's)"),
                )
            )
    return Assignment(tuple(picks), tuple(gaps))
