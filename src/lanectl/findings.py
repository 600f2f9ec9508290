"""What a reviewer model may answer: one JSON object of findings, validated (ADR 0025).

A reviewer never approves. Its answer is parsed into a verdict and findings
and checked here before anything is signed; an answer that breaks a rule is
*invalid* (the caller retries once, then records an incomplete review),
never a pass. The rules, beyond the shape:

* ``pass`` has no ``blocker`` finding (a model that contradicts itself is not
  believed either way);
* ``changes_requested`` names at least one ``blocker`` or ``major`` finding;
* ``veto`` only from the security role, and only with a ``blocker`` finding
  that cites evidence (``path`` and ``line``, or ``evidence``) — SPEC §3.5.

No I/O and no vendor here: text in, :class:`Answer` out, or
:class:`InvalidAnswer` naming the first problem as a key path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lanectl.records import SEVERITIES, VERDICTS

MAX_FINDINGS = 50
MAX_TITLE = 200
MAX_BODY = 4000
MAX_EVIDENCE = 2000
MAX_PATH = 400
MAX_LINE = 10_000_000
CATEGORY = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
ANSWER_KEYS = ("verdict", "findings")
FINDING_KEYS = ("severity", "category", "path", "line", "title", "body", "evidence")
_FENCE = re.compile(r"^```(?:json)?\s*\n(.*)\n```$", re.DOTALL)
RANK = {"pass": 0, "changes_requested": 1, "veto": 2}


class InvalidAnswer(ValueError):
    """The model's answer is not valid findings; ``str()`` is the reason, for the retry."""


@dataclass(frozen=True)
class ModelFinding:
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

    def as_record(self, ident: str) -> dict[str, Any]:
        """The finding as a review record has it (``docs/records.md``), with its id."""
        item: dict[str, Any] = {"id": ident, "severity": self.severity}
        for key in ("category", "path", "line"):
            value = getattr(self, key)
            if value is not None:
                item[key] = value
        item["title"] = self.title
        for key in ("body", "evidence"):
            value = getattr(self, key)
            if value:
                item[key] = value
        return item


@dataclass(frozen=True)
class Answer:
    verdict: str
    findings: tuple[ModelFinding, ...]


def _where(*path: str | int) -> str:
    return " › ".join(str(p) for p in path)


def _text(raw: Any, path: tuple[str | int, ...], limit: int, *, one_line: bool) -> str:
    if not isinstance(raw, str):
        raise InvalidAnswer(f"{_where(*path)}: must be a string (got {type(raw).__name__})")
    value = raw.strip()
    if not value:
        raise InvalidAnswer(f"{_where(*path)}: must not be empty")
    if len(value) > limit:
        raise InvalidAnswer(f"{_where(*path)}: longer than {limit} characters")
    if one_line and ("\n" in value or "\r" in value):
        raise InvalidAnswer(f"{_where(*path)}: must be one line")
    return value


def _path(raw: Any, where: tuple[str | int, ...]) -> str:
    value = _text(raw, where, MAX_PATH, one_line=True)
    parts = value.split("/")
    if value.startswith("/") or ".." in parts or "\\" in value or "\0" in value:
        raise InvalidAnswer(f"{_where(*where)}: must be a path relative to the repository root")
    return value


def _finding(raw: Any, index: int) -> ModelFinding:
    at = ("findings", index)
    if not isinstance(raw, dict):
        raise InvalidAnswer(f"{_where(*at)}: must be an object")
    unknown = [k for k in raw if k not in FINDING_KEYS]
    if unknown:
        raise InvalidAnswer(
            f"{_where(*at, str(unknown[0]))}: unknown key (known: {', '.join(FINDING_KEYS)})"
        )
    severity = raw.get("severity")
    if severity not in SEVERITIES:
        raise InvalidAnswer(f"{_where(*at, 'severity')}: must be one of {', '.join(SEVERITIES)}")
    category = raw.get("category")
    if category is not None and (not isinstance(category, str) or not CATEGORY.match(category)):
        raise InvalidAnswer(
            f"{_where(*at, 'category')}: must be a short lower-case word (e.g. correctness)"
        )
    line = raw.get("line")
    if line is not None and (
        isinstance(line, bool) or not isinstance(line, int) or not 1 <= line <= MAX_LINE
    ):
        raise InvalidAnswer(f"{_where(*at, 'line')}: must be a line number, 1 or more")
    path = raw.get("path")
    if line is not None and path is None:
        raise InvalidAnswer(f"{_where(*at, 'line')}: a line needs a path")
    if "title" not in raw:
        raise InvalidAnswer(f"{_where(*at, 'title')}: missing")
    return ModelFinding(
        severity=str(severity),
        title=_text(raw["title"], (*at, "title"), MAX_TITLE, one_line=True),
        category=category,
        path=_path(path, (*at, "path")) if path is not None else None,
        line=line,
        body=_text(raw["body"], (*at, "body"), MAX_BODY, one_line=False)
        if raw.get("body") is not None
        else None,
        evidence=_text(raw["evidence"], (*at, "evidence"), MAX_EVIDENCE, one_line=False)
        if raw.get("evidence") is not None
        else None,
    )


def _json_object(text: str) -> Any:
    body = text.strip()
    fenced = _FENCE.match(body)
    if fenced:
        body = fenced.group(1).strip()
    if not body.startswith("{"):
        raise InvalidAnswer("the answer must be one JSON object and nothing else")
    try:
        return json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidAnswer(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None


def check_verdict(verdict: str, findings: Sequence[ModelFinding], role: str) -> None:
    """The verdict must agree with the findings (and a veto must cite evidence)."""
    blockers = [f for f in findings if f.severity == "blocker"]
    if verdict == "pass" and blockers:
        raise InvalidAnswer(
            "verdict: pass with a blocker finding; a blocker means changes_requested"
            + (" or veto" if role == "security" else "")
        )
    if verdict == "changes_requested" and not any(
        f.severity in ("blocker", "major") for f in findings
    ):
        raise InvalidAnswer(
            "verdict: changes_requested needs at least one blocker or major finding"
        )
    if verdict == "veto":
        if role != "security":
            raise InvalidAnswer("verdict: only the security reviewer may veto")
        if not any(f.cites_evidence for f in blockers):
            raise InvalidAnswer(
                "verdict: a veto must cite evidence: a blocker finding with path and line, "
                "or evidence"
            )


def parse(text: str, role: str) -> Answer:
    """The model's answer for ``role`` as findings; raises :class:`InvalidAnswer`."""
    raw = _json_object(text)
    if not isinstance(raw, dict):
        raise InvalidAnswer("the answer must be a JSON object")
    unknown = [k for k in raw if k not in ANSWER_KEYS]
    if unknown:
        raise InvalidAnswer(f"{unknown[0]}: unknown key (known: {', '.join(ANSWER_KEYS)})")
    verdict = raw.get("verdict")
    if verdict not in VERDICTS:
        short = isinstance(verdict, str) and len(verdict) < 40
        shown = verdict if short else type(verdict).__name__
        raise InvalidAnswer(f"verdict: must be one of {', '.join(VERDICTS)} (got {shown!r})")
    items = raw.get("findings")
    if not isinstance(items, list):
        raise InvalidAnswer("findings: must be a list (it may be empty)")
    if len(items) > MAX_FINDINGS:
        raise InvalidAnswer(f"findings: more than {MAX_FINDINGS}; keep the most important")
    findings = tuple(_finding(item, i) for i, item in enumerate(items))
    check_verdict(str(verdict), findings, role)
    return Answer(str(verdict), findings)


def combine(answers: Sequence[Answer]) -> Answer:
    """The answers of several parts of one review: the worst verdict, every finding."""
    if not answers:
        return Answer("pass", ())
    verdict = max((a.verdict for a in answers), key=lambda v: RANK[v])
    return Answer(verdict, tuple(f for a in answers for f in a.findings))
