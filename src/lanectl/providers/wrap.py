"""Turn whatever an SDK raised into one classified :class:`ProviderError`.

Both official SDKs expose the same duck-typed attributes on their errors
(``status_code``, ``body``, ``response.headers``, ``request_id``); the class is
decided from those by :func:`classify.classify`, not from the exception type.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from lanectl import ratelimits
from lanectl.providers.base import HeaderHook, ProviderError, Request, Turn
from lanectl.providers.classify import WORDS, classify, hint_for
from lanectl.providers.registry import ProviderSpec


def lower_headers(headers: Any) -> dict[str, str]:
    if headers is None:
        return {}
    items = headers.items() if hasattr(headers, "items") else headers
    return {str(k).lower(): str(v) for k, v in items}


def sdk_params(method: Any) -> frozenset[str]:
    """The request parameters an SDK method names (its signature, less the plumbing)."""
    plumbing = {"extra_headers", "extra_query", "extra_body", "timeout", "self"}
    return frozenset(inspect.signature(method).parameters) - plumbing


def tag_headers(tags: Mapping[str, str] | None) -> dict[str, str]:
    """``x-lanectl-agent`` / ``x-lanectl-task``: printable ASCII only, never empty."""
    out: dict[str, str] = {}
    for name, value in (tags or {}).items():
        clean = "".join(ch for ch in value if 32 < ord(ch) < 127)[:128]
        if clean:
            out[f"x-lanectl-{name}"] = clean
    return out


def _network(exc: BaseException) -> bool:
    names = {cls.__name__ for cls in type(exc).__mro__}
    return bool(
        names & {"APIConnectionError", "APITimeoutError", "HTTPError", "TransportError"}
        or isinstance(exc, OSError | TimeoutError)
    )


def to_error(
    exc: BaseException,
    spec: ProviderSpec,
    model: str,
    *,
    secret: str,
    in_stream: bool = False,
) -> ProviderError:
    status: int | None = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    headers = lower_headers(getattr(response, "headers", None))
    body = getattr(exc, "body", None)
    if in_stream and status == 200:
        status = None  # the 200 was the stream's; the error came inside it
    if body is None and status is None and _network(exc) and not in_stream:
        verdict = classify(None, None, secrets=(secret,))
        detail = type(exc).__name__
    else:
        if body is None and not _network(exc):
            body = {"message": str(getattr(exc, "message", "")) or type(exc).__name__}
        verdict = classify(status, body, in_stream=in_stream, secrets=(secret,))
        detail = verdict.detail or type(exc).__name__
    if verdict.error_class == "rate_limited" and headers.get("x-should-retry") == "false":
        # Anthropic answers a request bigger than the whole bucket with a plain
        # rate_limit_error body; only "do not retry" tells it from a busy key.
        verdict = replace(verdict, error_class="too_large")
    if verdict.error_class == "auth":
        detail = "the vendor did not accept the key"  # their text may quote part of it
    request_id = getattr(exc, "request_id", None) or headers.get("request-id")
    request_id = request_id or headers.get("x-request-id")
    where = f" (budget {spec.budget})" if spec.budget else ""
    code = " ".join(str(p) for p in (status, verdict.vendor_type) if p)
    stream = " inside the stream" if in_stream else ""
    message = f"{spec.kind} {model}{where}: {WORDS[verdict.error_class]}{stream}"
    message += f" ({code})" if code else ""
    message += f": {detail}" if detail else ""
    return ProviderError(
        verdict.error_class,
        message,
        status=status,
        vendor_type=verdict.vendor_type,
        retry_after=ratelimits.retry_after(headers, time.time()),
        headers=headers,
        request_id=str(request_id) if request_id else None,
        hint=hint_for(verdict.error_class, env=spec.credential_env, budget=spec.budget or None),
    )


def stream_broke(spec: ProviderSpec, model: str, headers: Mapping[str, str]) -> ProviderError:
    """A stream that ended without its final event: the vendor dropped us mid-answer."""
    where = f" (budget {spec.budget})" if spec.budget else ""
    return ProviderError(
        "overloaded",
        f"{spec.kind} {model}{where}: overloaded inside the stream: it ended before the answer did",
        headers=headers,
        hint=hint_for("overloaded", env=spec.credential_env, budget=spec.budget or None),
    )


def exchange(
    send: Callable[[], Any],
    sdk_error: type[BaseException],
    spec: ProviderSpec,
    request: Request,
    *,
    secret: str,
    on_headers: HeaderHook | None,
    parse_one: Callable[[Any, Mapping[str, str]], Turn],
    parse_stream: Callable[[Any, Mapping[str, str], Request], Turn],
) -> Turn:
    """Send one request through an SDK's raw-response call and parse it.

    The one sequence both vendors share: an SDK error becomes a classified
    :class:`ProviderError`; headers reach ``on_headers`` before the body is
    read; anything that breaks while parsing (an error event or a dropped
    connection mid-stream) is classified too, as in-stream when streaming.
    """
    try:
        raw = send()
    except sdk_error as exc:
        raise to_error(exc, spec, request.model, secret=secret) from None
    headers = lower_headers(raw.headers)
    if on_headers is not None:
        on_headers(headers)
    try:
        if request.stream:
            return parse_stream(raw.parse(), headers, request)
        return parse_one(raw.parse(), headers)
    except ProviderError:
        raise
    except Exception as exc:
        raise to_error(exc, spec, request.model, secret=secret, in_stream=request.stream) from None
