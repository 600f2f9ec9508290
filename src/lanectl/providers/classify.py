"""Classify a failed call by what the vendor's body says (SPEC §8).

SDK exception classes are unreliable evidence: anthropic raises a plain
``APIStatusError`` with status 200 for an error inside a stream, openai maps
500, 502 and 529 to one class and retries ``insufficient_quota`` as if it were
a rate limit. So the class is decided here, purely, from status, body and
whether the error arrived inside a stream.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lanectl.providers.base import ErrorClass

QUOTA_TYPES = frozenset(
    {
        "insufficient_quota",
        "billing_error",
        "billing_hard_limit_reached",
        "quota_exceeded",
        "spend_limit_exceeded",
        "credit_balance_too_low",
    }
)
AUTH_TYPES = frozenset(
    {"authentication_error", "permission_error", "invalid_api_key", "unauthorized", "forbidden"}
)
TOO_LARGE_TYPES = frozenset(
    {"request_too_large", "too_large", "context_length_exceeded", "tokens_exceed_limit"}
)
OVERLOADED_TYPES = frozenset({"overloaded_error", "overloaded", "server_overloaded"})
RATE_TYPES = frozenset({"rate_limit_error", "rate_limit_exceeded", "rate_limited"})
SERVER_TYPES = frozenset({"api_error", "server_error", "internal_error", "internal_server_error"})

QUOTA_TEXT = re.compile(
    r"credit balance|spend(ing)? limit|usage limits?|exceeded your current quota|billing",
    re.IGNORECASE,
)
TOO_LARGE_TEXT = re.compile(
    r"request too large|too large for|larger than (the|your) (whole )?(budget|limit)"
    r"|prompt is too long|maximum context length|exceeds? the (maximum|context|per-minute)",
    re.IGNORECASE,
)
# Things that look like credentials in vendor messages ("Incorrect API key provided: sk-…").
KEY_SHAPES = re.compile(r"\b(sk-[A-Za-z0-9_*.-]{6,}|sk-ant-[A-Za-z0-9_*.-]{6,}|AIza[\w*-]{10,})")
MAX_DETAIL = 200
MIN_SECRET = 8


@dataclass(frozen=True)
class Verdict:
    error_class: ErrorClass
    vendor_type: str | None  # the body's error type or code, as the vendor spelled it
    detail: str  # the vendor's message, shortened and scrubbed of key-like text


def error_fields(body: Any) -> tuple[str | None, str | None, str]:
    """(type, code, message) from any of the vendors' error body shapes."""
    inner: Any = body
    if isinstance(body, dict) and "error" in body:
        inner = body["error"]
    if isinstance(inner, str):
        return None, None, inner
    if not isinstance(inner, dict):
        return None, None, "" if body is None else str(body)
    kind = inner.get("type")
    code = inner.get("code")
    message = inner.get("message")
    return (
        kind if isinstance(kind, str) else None,
        str(code) if isinstance(code, str | int) else None,
        message if isinstance(message, str) else "",
    )


def scrub(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        if len(secret) >= MIN_SECRET:  # a two-letter test key would shred every word
            text = text.replace(secret, "[redacted]")
    text = KEY_SHAPES.sub("[redacted]", text)
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"


def classify(
    status: int | None,
    body: Any,
    *,
    in_stream: bool = False,
    secrets: tuple[str, ...] = (),
) -> Verdict:
    """The failure class of one response. ``status`` None means no HTTP answer."""
    kind, code, message = error_fields(body)
    tokens = {t.lower() for t in (kind, code) if t}
    vendor_type = kind if kind not in (None, "requests", "tokens") else (code or kind)
    detail = scrub(message, secrets)

    def verdict(cls: ErrorClass) -> Verdict:
        if in_stream and cls in ("rate_limited", "server_error", "bad_request", "network"):
            cls = "overloaded"  # a stream that broke after the 200: the vendor gave up on us
        return Verdict(cls, vendor_type, detail)

    if tokens & QUOTA_TYPES or status == 402 or QUOTA_TEXT.search(message):
        return verdict("quota_exhausted")
    if tokens & AUTH_TYPES or status in (401, 403):
        return verdict("auth")
    if tokens & TOO_LARGE_TYPES or status == 413 or TOO_LARGE_TEXT.search(message):
        return verdict("too_large")
    if tokens & OVERLOADED_TYPES or status in (503, 529):
        return verdict("overloaded")
    if tokens & RATE_TYPES or status == 429:
        return verdict("rate_limited")
    if tokens & SERVER_TYPES or (status is not None and status >= 500) or status in (408, 409):
        return verdict("server_error")
    if status is None or (in_stream and status == 200):
        return verdict("network" if not in_stream else "overloaded")
    return verdict("bad_request")


WORDS: dict[str, str] = {
    "rate_limited": "rate limited",
    "overloaded": "overloaded",
    "server_error": "server error",
    "network": "no answer",
    "quota_exhausted": "quota or spend limit exhausted",
    "too_large": "request larger than the whole budget",
    "auth": "credential rejected",
    "bad_request": "request rejected",
}

HINTS: dict[str, str] = {
    "quota_exhausted": "add credit or raise the spend limit in the vendor's console, then run "
    "again; lanectl never retries this",
    "auth": "check the key in ${env} (lanectl reads credentials only from the environment or "
    "the keyring), then run again",
    "too_large": "shrink the prompt or max_tokens, or raise the limit of budget {budget} in "
    ".lanes/config.yaml; lanectl never retries this",
    "bad_request": "the vendor rejected the request as invalid; retrying would send it again "
    "unchanged",
    "rate_limited": "the vendor kept limiting requests; see `lanectl budget` and try later",
    "overloaded": "the vendor stayed overloaded; try again later",
    "server_error": "the vendor kept failing; try again later",
    "network": "check the network and the budget's base_url, then try again",
}


def hint_for(error_class: str, *, env: str | None, budget: str | None) -> str:
    text = HINTS.get(error_class, "")
    return text.replace("${env}", f"${env}" if env else "the configured credential").replace(
        "{budget}", budget or "(none)"
    )
