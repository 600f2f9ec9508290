"""Evidence records as data: review records (SPEC §3.5) and check results.

No I/O here: parsing a loaded YAML value into frozen dataclasses, with errors
that name the key path (``findings › 0 › severity: …``), and rendering a record
to the canonical YAML that gets signed. Signing and verification live in
:mod:`lanectl.evidence`; the formats are documented in ``docs/records.md``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lanectl import ids, keys, yamlio
from lanectl.errors import LaneError

VERSION = 1
REVIEW = "review"
CHECK = "check"
KINDS = (REVIEW, CHECK)
REVIEW_ROLES = ("reviewer", "security", "designer")
# Which agent roles may produce which kind of record. Approvals are not records:
# they are commits signed by a human key (SPEC §3.6).
PRODUCERS: dict[str, tuple[str, ...]] = {REVIEW: REVIEW_ROLES, CHECK: ("builder",)}
VERDICTS = ("pass", "changes_requested", "veto")
SEVERITIES = ("blocker", "major", "minor", "info")
HEAD = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$")

REVIEW_KEYS = (
    "version", "task", "head", "agent", "role", "family", "model", "prompt_sha256",
    "diff_sha256", "verdict", "coverage", "findings", "reused_from", "ts",
)  # fmt: skip
REUSED_KEYS = ("head", "sha256")
COVERAGE_KEYS = ("files_reviewed", "files_skipped", "truncated")
FINDING_KEYS = ("id", "severity", "category", "path", "line", "title", "body", "evidence")
CHECK_KEYS = ("version", "task", "head", "agent", "role", "checks", "passed", "ts")
RUN_KEYS = ("command", "exit_code", "duration_s", "output_sha256")


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    title: str
    category: str | None = None
    path: str | None = None
    line: int | None = None
    body: str | None = None
    evidence: str | None = None

    @property
    def cites_evidence(self) -> bool:
        return bool(self.evidence) or (self.path is not None and self.line is not None)


@dataclass(frozen=True)
class Coverage:
    files_reviewed: int
    files_skipped: tuple[str, ...]
    truncated: bool = False


@dataclass(frozen=True)
class Reused:
    """The earlier record of the same diff a review was carried over from (ADR 0027)."""

    head: str
    sha256: str  # of that record file's bytes


@dataclass(frozen=True)
class Review:
    task: str
    head: str
    agent: str
    role: str
    family: str
    model: str
    prompt_sha256: str
    diff_sha256: str
    verdict: str
    coverage: Coverage
    findings: tuple[Finding, ...]
    ts: str
    kind: str = REVIEW
    reused_from: Reused | None = None

    @property
    def complete(self) -> bool:
        """Skipped or truncated input makes a review incomplete: not a review (SPEC §3.5)."""
        return not self.coverage.files_skipped and not self.coverage.truncated

    @property
    def blockers(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "blocker")


@dataclass(frozen=True)
class CheckRun:
    command: str
    exit_code: int
    duration_s: float
    output_sha256: str


@dataclass(frozen=True)
class CheckResult:
    task: str
    head: str
    agent: str
    role: str
    checks: tuple[CheckRun, ...]
    passed: bool
    ts: str
    kind: str = CHECK


Record = Review | CheckResult


def relative_path(kind: str, task: str, head: str, agent: str, role: str) -> str:
    """Where a record lives on the state branch (its signature is this path + ``.sig``)."""
    if not ids.is_task_id(task):
        raise LaneError(f"'{task}' is not a task id")
    if not HEAD.match(head):
        raise LaneError(f"'{head}' is not a full commit id")
    keys.check_name(agent)
    if kind == REVIEW:
        if role not in REVIEW_ROLES:
            raise LaneError(f"role '{role}' cannot produce a review")
        return f".lanes/reviews/{task}/{head}/{role}-{agent}.yaml"
    if kind == CHECK:
        return f".lanes/checks/{task}/{head}/{agent}.yaml"
    raise LaneError(f"unknown record kind '{kind}' (expected {' or '.join(KINDS)})")


# ---------------------------------------------------------------------------
# Parsing


def _key_path(path: Sequence[str | int]) -> str:
    return " › ".join(str(p) for p in path)


class _Fields:
    """Typed access to one mapping of a record, naming the key path on every error."""

    def __init__(
        self, raw: Any, path: tuple[str | int, ...], where: str, known: Sequence[str]
    ) -> None:
        self.path = path
        self.where = where
        if not isinstance(raw, dict):
            raise self.error(None, "must be a mapping of keys")
        self.raw: dict[Any, Any] = raw
        for key in raw:
            if key not in known:
                raise self.error(key, f"unknown key (known keys: {', '.join(known)})")

    def error(self, key: str | None, message: str) -> LaneError:
        path = (*self.path, key) if key is not None else self.path
        text = f"{_key_path(path)}: {message}" if path else message
        return LaneError(text, where=self.where)

    def text(
        self,
        key: str,
        *,
        required: bool = True,
        pattern: re.Pattern[str] | None = None,
        choices: Sequence[str] | None = None,
    ) -> str | None:
        value = self.raw.get(key)
        if value is None:
            if required:
                raise self.error(key, "missing")
            return None
        if not isinstance(value, str):
            raise self.error(key, f"must be a string (got {type(value).__name__}; quote it)")
        if choices is not None and value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)} (got '{value}')")
        if pattern is not None and not pattern.match(value):
            raise self.error(key, f"'{value}' has the wrong form")
        if not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def need(self, key: str, **kw: Any) -> str:
        value = self.text(key, required=True, **kw)
        assert value is not None
        return value

    def integer(self, key: str, *, required: bool = True, minimum: int = 0) -> int | None:
        value = self.raw.get(key)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, "must be an integer" if value is not None else "missing")
        if value < minimum:
            raise self.error(key, f"must be at least {minimum}")
        return value

    def number(self, key: str) -> float:
        value = self.raw.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, "must be a number" if value is not None else "missing")
        if not value >= 0:  # also refuses NaN
            raise self.error(key, "must be zero or more")
        return float(value)

    def boolean(self, key: str, *, required: bool = True) -> bool:
        value = self.raw.get(key)
        if value is None and not required:
            return False
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false" if value is not None else "missing")
        return value

    def items(self, key: str) -> list[Any]:
        value = self.raw.get(key)
        if not isinstance(value, list):
            raise self.error(key, "must be a list" if value is not None else "missing")
        return value


def _common(fields: _Fields) -> dict[str, str]:
    if fields.raw.get("version") != VERSION:
        raise fields.error("version", f"must be {VERSION}")
    return {
        "task": fields.need("task", pattern=ids.TASK_ID_RE),
        "head": fields.need("head", pattern=HEAD),
        "agent": fields.need("agent", pattern=keys.AGENT_NAME),
        "ts": fields.need("ts", pattern=TS),
    }


def _finding(raw: Any, path: tuple[str | int, ...], where: str) -> Finding:
    fields = _Fields(raw, path, where, FINDING_KEYS)
    return Finding(
        id=fields.need("id"),
        severity=fields.need("severity", choices=SEVERITIES),
        title=fields.need("title"),
        category=fields.text("category", required=False),
        path=fields.text("path", required=False),
        line=fields.integer("line", required=False, minimum=1),
        body=fields.text("body", required=False),
        evidence=fields.text("evidence", required=False),
    )


def parse_review(raw: Any, where: str) -> Review:
    fields = _Fields(raw, (), where, REVIEW_KEYS)
    common = _common(fields)
    role = fields.need("role", choices=REVIEW_ROLES)
    cov = _Fields(fields.raw.get("coverage"), ("coverage",), where, COVERAGE_KEYS)
    skipped = cov.items("files_skipped")
    if not all(isinstance(item, str) for item in skipped):
        raise cov.error("files_skipped", "must be a list of paths")
    coverage = Coverage(
        files_reviewed=cov.integer("files_reviewed") or 0,
        files_skipped=tuple(skipped),
        truncated=cov.boolean("truncated", required=False),
    )
    findings = tuple(
        _finding(item, ("findings", index), where)
        for index, item in enumerate(fields.items("findings"))
    )
    verdict = fields.need("verdict", choices=VERDICTS)
    reused = None
    if fields.raw.get("reused_from") is not None:
        cited = _Fields(fields.raw["reused_from"], ("reused_from",), where, REUSED_KEYS)
        reused = Reused(cited.need("head", pattern=HEAD), cited.need("sha256", pattern=SHA256))
    if verdict == "veto":
        if role != "security":
            raise fields.error("verdict", "only the security role may veto")
        if not any(f.severity == "blocker" and f.cites_evidence for f in findings):
            raise fields.error(
                "verdict",
                "a veto must cite evidence: a blocker finding with path and line, or evidence",
            )
    return Review(
        role=role,
        family=fields.need("family"),
        model=fields.need("model"),
        prompt_sha256=fields.need("prompt_sha256", pattern=SHA256),
        diff_sha256=fields.need("diff_sha256", pattern=SHA256),
        verdict=verdict,
        coverage=coverage,
        findings=findings,
        reused_from=reused,
        **common,
    )


def parse_check(raw: Any, where: str) -> CheckResult:
    fields = _Fields(raw, (), where, CHECK_KEYS)
    common = _common(fields)
    role = fields.need("role")
    runs: list[CheckRun] = []
    for index, item in enumerate(fields.items("checks")):
        run = _Fields(item, ("checks", index), where, RUN_KEYS)
        code = run.integer("exit_code", minimum=-255)
        assert code is not None
        runs.append(
            CheckRun(
                command=run.need("command"),
                exit_code=code,
                duration_s=run.number("duration_s"),
                output_sha256=run.need("output_sha256", pattern=SHA256),
            )
        )
    passed = fields.boolean("passed")
    if passed != all(r.exit_code == 0 for r in runs):
        raise fields.error("passed", f"says {str(passed).lower()} but the exit codes say otherwise")
    return CheckResult(role=role, checks=tuple(runs), passed=passed, **common)


def parse(kind: str, raw: Any, where: str) -> Record:
    if kind == REVIEW:
        return parse_review(raw, where)
    if kind == CHECK:
        return parse_check(raw, where)
    raise LaneError(f"unknown record kind '{kind}' (expected {' or '.join(KINDS)})")


def load(kind: str, data: bytes, where: str) -> Record:
    """Parse the bytes of a record file (YAML)."""
    return parse(kind, yamlio.load(yamlio.decode(data, where), where), where)


def render(kind: str, record: Mapping[str, Any]) -> bytes:
    """The canonical YAML of a record: keys in documented order, validated first."""
    order = REVIEW_KEYS if kind == REVIEW else CHECK_KEYS
    body = {"version": VERSION, **record}
    ordered = {k: body[k] for k in order if k in body}
    ordered.update({k: v for k, v in body.items() if k not in ordered})  # refused by parse
    text = yamlio.dump_block(ordered)
    parse(kind, yamlio.load(text, "record"), "record")
    return text.encode("utf-8")
