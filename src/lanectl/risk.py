"""Risk tiers (SPEC §5.3): effective tier = max(declared, computed from the diff).

The computed tier comes from the BASE branch's ``policy.risk`` rules plus
built-in rules that config cannot switch off: any change under ``.lanes/`` or
to CI workflows is high, and a secret found in the added lines is high and
blocks eligibility. A task can raise its tier, never lower it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lanectl import git, globs

TIERS = ("low", "medium", "high")
BUILTIN_RULES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    ((".lanes/**",), "high", "governance: lanectl policy, keys and state"),
    (
        (".github/workflows/**", ".gitlab-ci.yml", ".circleci/**", "Jenkinsfile"),
        "high",
        "CI workflow",
    ),
)
# Pattern detectors only: the entropy detectors flag hashes and test data,
# and a false "secret" would block eligibility for nothing (ADR 0010).
SECRET_PLUGINS = (
    "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "BasicAuthDetector",
    "CloudantDetector", "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector",
    "IbmCloudIamDetector", "IbmCosHmacDetector", "JwtTokenDetector", "KeywordDetector",
    "MailchimpDetector", "NpmDetector", "OpenAIDetector", "PrivateKeyDetector",
    "PypiTokenDetector", "SendGridDetector", "SlackDetector", "SoftlayerDetector",
    "SquareOAuthDetector", "StripeDetector", "TelegramBotTokenDetector", "TwilioKeyDetector",
)  # fmt: skip
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def rank(tier: str) -> int:
    return TIERS.index(tier) if tier in TIERS else len(TIERS) - 1  # unknown → high


def higher(a: str, b: str) -> str:
    return a if rank(a) >= rank(b) else b


@dataclass(frozen=True)
class Reason:
    tier: str
    why: str
    path: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.why}" if self.path else self.why


@dataclass(frozen=True)
class SecretFinding:
    path: str
    line: int
    kind: str

    def __str__(self) -> str:  # never the secret itself
        return f"{self.path}:{self.line}: {self.kind}"


@dataclass(frozen=True)
class RiskResult:
    declared: str
    computed: str
    effective: str
    reasons: tuple[Reason, ...] = ()
    secrets: tuple[SecretFinding, ...] = field(default=())
    paths: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "declared": self.declared,
            "computed": self.computed,
            "effective": self.effective,
            "reasons": [{"tier": r.tier, "why": r.why, "path": r.path} for r in self.reasons],
            "secrets": [{"path": s.path, "line": s.line, "kind": s.kind} for s in self.secrets],
            "paths": list(self.paths),
        }


def rules_from_config(raw: dict[str, Any]) -> list[tuple[tuple[str, ...], str, str]]:
    policy = raw.get("policy") if isinstance(raw.get("policy"), dict) else {}
    assert isinstance(policy, dict)
    rules: list[tuple[tuple[str, ...], str, str]] = []
    for rule in policy.get("risk") or []:
        if not isinstance(rule, dict):
            continue
        paths = tuple(p for p in rule.get("paths") or [] if isinstance(p, str))
        tier = rule.get("tier") if rule.get("tier") in TIERS else "high"
        rules.append((paths, str(tier), str(rule.get("reason") or f"policy rule {paths}")))
    return rules


def compute(
    declared: str,
    paths: Sequence[str],
    rules: Iterable[tuple[tuple[str, ...], str, str]],
    secrets: Sequence[SecretFinding] = (),
) -> RiskResult:
    """Pure: the tier for a set of changed paths under the given rules.

    Each path takes the highest tier of any rule that matches it (a low-tier
    rule never lowers another rule's verdict); paths no rule names count low.
    """
    all_rules = list(BUILTIN_RULES) + list(rules)
    computed = "low"
    reasons: list[Reason] = []
    for path in paths:
        best: Reason | None = None
        for patterns, tier, why in all_rules:
            if globs.match_any(patterns, path) and (best is None or rank(tier) > rank(best.tier)):
                best = Reason(tier, why, path)
        if best is not None and rank(best.tier) > 0:
            reasons.append(best)
            computed = higher(computed, best.tier)
    if secrets:
        computed = "high"
        reasons += [
            Reason("high", f"possible secret ({s.kind})", f"{s.path}:{s.line}") for s in secrets
        ]
    return RiskResult(
        declared=declared,
        computed=computed,
        effective=higher(declared, computed),
        reasons=tuple(reasons),
        secrets=tuple(secrets),
        paths=tuple(paths),
    )


def changed_paths(repo: Path, base: str, head: str) -> list[str]:
    """Paths changed between the merge base of ``base`` and ``head`` (renames as delete+add)."""
    text = git.out(
        ["diff", "--name-only", "-z", "--no-renames", "--no-ext-diff", f"{base}...{head}"], repo
    )
    return [p for p in text.split("\0") if p]


def added_lines(repo: Path, base: str, head: str) -> list[tuple[str, int, str]]:
    """(path, line number, text) of every line ``head`` adds relative to the merge base."""
    text = git.out(
        ["diff", "-U0", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-color",
         f"{base}...{head}"],
        repo,
    )  # fmt: skip
    out: list[tuple[str, int, str]] = []
    path: str | None = None
    line = 0
    for raw in text.splitlines():
        if raw.startswith("+++ "):
            target = raw[4:]
            path = target[2:] if target.startswith("b/") else None
        elif raw.startswith("@@"):
            match = _HUNK.match(raw)
            line = int(match.group(1)) if match else 0
        elif raw.startswith("+") and path is not None:
            out.append((path, line, raw[1:]))
            line += 1
    return out


def scan_secrets(lines: Iterable[tuple[str, int, str]]) -> list[SecretFinding]:
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import transient_settings

    found: list[SecretFinding] = []
    plugins = [{"name": name} for name in SECRET_PLUGINS]
    with transient_settings({"plugins_used": plugins}):
        for path, number, text in lines:
            kinds = sorted({s.type for s in scan_line(text)})
            found += [SecretFinding(path, number, kind) for kind in kinds]
    return found


def assess(
    repo: Path, base: str, head: str, declared: str, raw_base_config: dict[str, Any]
) -> RiskResult:
    paths = changed_paths(repo, base, head)
    secrets = scan_secrets(added_lines(repo, base, head))
    return compute(declared, paths, rules_from_config(raw_base_config), secrets)
