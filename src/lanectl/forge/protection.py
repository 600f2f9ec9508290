"""Judging a GitHub base branch's protection against the gate (``lanectl doctor --forge``).

Pure functions over the JSON GitHub returns for the repository, the
branch's classic protection, the rules that apply to it (rulesets) and
those rulesets' bypass lists. The gate holds on GitHub only when merge
commits are allowed (a squash or rebase drops the signed approval), the
``lanectl/gate`` status and the audit workflow are required, and nobody can
go around the rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lanectl.forge.base import STATUS_CONTEXT, Advice

AUDIT_CONTEXTS = frozenset({"audit", "lanectl / audit", "lanectl/audit"})
UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Settings:
    """What GitHub said; ``None`` where it said nothing (or the token could not read it)."""

    repo: str
    branch: str
    repository: Mapping[str, Any] = field(default_factory=dict)
    classic: Mapping[str, Any] | str | None = None  # None: not protected; UNREADABLE
    rules: tuple[Mapping[str, Any], ...] = ()  # GET /repos/o/r/rules/branches/<branch>
    rulesets: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)  # by id


def _enabled(classic: Mapping[str, Any], key: str) -> bool:
    value = classic.get(key)
    return bool(value.get("enabled")) if isinstance(value, dict) else bool(value)


def _rules(s: Settings, kind: str) -> list[Mapping[str, Any]]:
    return [r for r in s.rules if r.get("type") == kind]


def _params(rule: Mapping[str, Any]) -> Mapping[str, Any]:
    params = rule.get("parameters")
    return params if isinstance(params, dict) else {}


def required_contexts(s: Settings) -> set[str]:
    found: set[str] = set()
    if isinstance(s.classic, dict):
        checks = s.classic.get("required_status_checks")
        if isinstance(checks, dict):
            found |= {str(c) for c in checks.get("contexts") or []}
            found |= {
                str(c.get("context")) for c in checks.get("checks") or [] if isinstance(c, dict)
            }
    for rule in _rules(s, "required_status_checks"):
        for check in _params(rule).get("required_status_checks") or []:
            if isinstance(check, dict) and check.get("context"):
                found.add(str(check["context"]))
    return found


def _merge_methods(s: Settings) -> list[Advice]:
    b = s.branch
    out: list[Advice] = []
    if s.repository.get("allow_merge_commit") is False:
        out.append(
            Advice(
                "error",
                "squash-only",
                f"{s.repo} does not allow merge commits (squash or rebase only): `lanectl merge` "
                "cannot land work, and a squash drops the signed approval commit",
                "Settings › General › Pull Requests: tick 'Allow merge commits'",
            )
        )
    for rule in _rules(s, "pull_request"):
        methods = _params(rule).get("allowed_merge_methods")
        if isinstance(methods, list) and "merge" not in methods:
            out.append(
                Advice(
                    "error",
                    "squash-only",
                    f"a ruleset allows only {', '.join(map(str, methods))} merges into {b}: "
                    "the signed approval commit cannot stay in history",
                    "allow the 'merge' method in the ruleset's pull request rule",
                )
            )
    if (isinstance(s.classic, dict) and _enabled(s.classic, "required_linear_history")) or _rules(
        s, "required_linear_history"
    ):
        out.append(
            Advice(
                "error",
                "linear-history",
                f"{b} requires a linear history: GitHub refuses true merge commits, so lanectl "
                "cannot merge and approvals would be squashed or rebased away",
                "turn off 'Require linear history' for the base branch",
            )
        )
    only_merge = any(
        _params(r).get("allowed_merge_methods") == ["merge"] for r in _rules(s, "pull_request")
    )
    others = [m for m in ("squash", "rebase") if s.repository.get(f"allow_{m}_merge") is True]
    if others and not only_merge and not out:
        out.append(
            Advice(
                "warn",
                "squash-allowed",
                f"{' and '.join(others)} merges are allowed: a merge made that way in GitHub's "
                "page drops the signed approval (lanectl audit flags it only afterwards)",
                "allow merge commits only, or a ruleset on the base with allowed merge methods "
                "['merge']",
            )
        )
    return out


def _statuses(s: Settings) -> list[Advice]:
    required = required_contexts(s)
    out: list[Advice] = []
    if STATUS_CONTEXT not in required:
        out.append(
            Advice(
                "warn",
                "gate-not-required",
                f"the {STATUS_CONTEXT} status is not required on {s.branch}: anyone with write "
                "access can merge a pull request the gate has not passed",
                f"require the status check '{STATUS_CONTEXT}' in {s.branch}'s protection or a "
                "ruleset",
            )
        )
    if not required & AUDIT_CONTEXTS:
        out.append(
            Advice(
                "warn",
                "audit-not-required",
                f"the lanectl audit workflow is not a required check on {s.branch}: nothing on "
                "GitHub flags lane work merged without a valid approval",
                "copy lanectl's templates/github/lanectl-audit.yml to .github/workflows/ and "
                "require its 'audit' check",
            )
        )
    return out


def _actor(actor: Mapping[str, Any]) -> str:
    kind = str(actor.get("actor_type") or "actor")
    if kind == "OrganizationAdmin":
        return "organization admins"
    if kind == "DeployKey":
        return "deploy keys"
    ident = actor.get("actor_id")
    return f"{kind} {ident}" if ident is not None else kind


def _names(items: Iterable[Any], key: str) -> list[str]:
    return [str(i.get(key)) for i in items if isinstance(i, dict) and i.get(key)]


def _bypass(s: Settings) -> list[Advice]:
    b = s.branch
    out: list[Advice] = []
    if isinstance(s.classic, dict):
        if not _enabled(s.classic, "enforce_admins"):
            out.append(
                Advice(
                    "warn",
                    "admins-bypass",
                    f"administrators are exempt from {b}'s branch protection (enforce_admins "
                    "off): they can merge or push around the gate",
                    "tick 'Do not allow bypassing the above settings'",
                )
            )
        reviews = s.classic.get("required_pull_request_reviews")
        allowances = (
            reviews.get("bypass_pull_request_allowances") if isinstance(reviews, dict) else None
        )
        if isinstance(allowances, dict):
            who = (
                _names(allowances.get("users") or [], "login")
                + _names(allowances.get("teams") or [], "slug")
                + _names(allowances.get("apps") or [], "slug")
            )
            if who:
                out.append(
                    Advice(
                        "warn",
                        "bypass-actors",
                        f"{', '.join(who)} may bypass {b}'s pull request requirement",
                        "remove the bypass allowances from the branch protection",
                    )
                )
        for key, what in (("allow_force_pushes", "force pushes"), ("allow_deletions", "deletion")):
            if _enabled(s.classic, key):
                out.append(
                    Advice(
                        "warn",
                        key.replace("_", "-"),
                        f"{b} allows {what}: history holding the approvals can be rewritten",
                        f"turn off 'Allow {what}' for {b}",
                    )
                )
    for ident, ruleset in sorted(s.rulesets.items()):
        actors = ruleset.get("bypass_actors")
        name = ruleset.get("name") or f"#{ident}"
        if isinstance(actors, list) and actors:
            listed = ", ".join(f"{_actor(a)} ({a.get('bypass_mode', 'always')})" for a in actors)
            out.append(
                Advice(
                    "warn",
                    "bypass-actors",
                    f"ruleset '{name}' lets {listed} bypass its rules on {b}",
                    "remove the bypass list, or keep it to people who never merge lane work",
                )
            )
    return out


def evaluate(s: Settings) -> list[Advice]:
    """Every way the forge's settings would let work reach the base around the gate."""
    if s.classic == UNREADABLE and not s.rules:
        head = [
            Advice(
                "warn",
                "protection-unreadable",
                f"cannot read {s.branch}'s branch protection with this token (it needs admin "
                "read on the repository); the protection checks were skipped",
                "run `lanectl doctor --forge` with a token of a repository admin",
            )
        ]
        return head + _merge_methods(s)
    if s.classic is None and not s.rules:
        return [
            Advice(
                "warn",
                "unprotected",
                f"{s.branch} has no branch protection and no ruleset: anyone with write access "
                "can push or merge around the gate",
                f"protect {s.branch}: require pull requests, the {STATUS_CONTEXT} status and "
                "the audit check, with no bypass",
            ),
            *_merge_methods(s),
        ]
    found = _merge_methods(s) + _statuses(s) + _bypass(s)
    if s.classic == UNREADABLE:
        found.insert(
            0,
            Advice(
                "info",
                "protection-unreadable",
                f"the classic branch protection of {s.branch} is not readable with this token; "
                "only rulesets were checked",
            ),
        )
    if not [a for a in found if a.level in ("warn", "error")]:
        found.append(
            Advice(
                "ok",
                "protected",
                f"{s.branch} takes merge commits only, requires {STATUS_CONTEXT} and the audit "
                "check, and nobody bypasses it",
            )
        )
    return found
