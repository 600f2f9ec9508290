"""The provider interface: one request shape in, one assistant turn out (ADR 0019).

Everything here is plain data with no vendor SDK behind it, so the pacer, the
response cache, routing and their tests use it without importing anthropic or
openai. Vendors implement :class:`Provider` in their own modules, registered
in :mod:`lanectl.providers.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from lanectl.errors import LaneError

Role = Literal["user", "assistant", "tool"]
StopReason = Literal["end_turn", "tool_use", "max_tokens", "stop_sequence", "other"]
HeaderHook = Callable[[Mapping[str, str]], None]

# Failure classes, decided from the response body (SPEC §8), never from the
# SDK's exception class. The first four retried by the pacer; the rest stop.
ErrorClass = Literal[
    "rate_limited",  # 429 rate_limit_error / rate_limit_exceeded: pause the whole budget
    "overloaded",  # 529 overloaded_error, an error inside a stream, 503 from Ollama
    "server_error",  # other 5xx
    "network",  # connection refused/reset, timeout
    "quota_exhausted",  # insufficient_quota, spend limit, billing: a human must act
    "too_large",  # bigger than the whole budget (or the model's window): never fits
    "auth",  # 401/403: a human must fix the credential
    "bad_request",  # any other 4xx: retrying sends the same mistake
]
RETRYABLE: frozenset[str] = frozenset({"rate_limited", "overloaded", "server_error", "network"})


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    input_schema: Mapping[str, Any]


@dataclass(frozen=True)
class Message:
    """One conversation entry in a vendor-neutral shape.

    ``user``/``assistant`` carry ``content``; an assistant turn may also carry
    ``tool_calls``; a ``tool`` message answers the call named ``tool_call_id``.
    """

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    is_error: bool = False


@dataclass(frozen=True)
class Request:
    model: str
    messages: tuple[Message, ...]
    system: str = ""
    tools: tuple[Tool, ...] = ()
    max_tokens: int = 1024
    params: Mapping[str, Any] = field(default_factory=dict)  # temperature, stop, …
    stream: bool = False


@dataclass(frozen=True)
class Usage:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "input": self.input,
            "output": self.output,
            "cache_read": self.cache_read,
            "cache_write": self.cache_write,
        }


@dataclass(frozen=True)
class Turn:
    """The assistant's answer, with what it cost and what the vendor said about limits."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    stop_reason: StopReason
    usage: Usage
    model: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    request_id: str | None = None
    cached: bool = False  # answered from lanectl's response cache: no request sent
    attempts: int = 1  # requests sent for this call, retries included
    waited_s: float = 0.0  # time spent queued for budget before the request that answered


class Provider(Protocol):
    """One vendor API. ``complete`` sends exactly one request: no retries inside."""

    kind: str  # "anthropic", "openai", "openai-compatible", or a plugin's name
    identity: str  # kind and endpoint: part of the response-cache key

    def complete(
        self,
        request: Request,
        *,
        on_headers: HeaderHook | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Turn:
        """Send ``request`` once; call ``on_headers`` as soon as response headers are in.

        ``tags`` (agent, task) travel as ``x-lanectl-<name>`` headers, which
        the simulator uses to pick a scripted reply; vendors ignore them.
        Raises :class:`ProviderError` for every failure, classified by body.
        """
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class ProviderError(LaneError):
    """A failed call, classified by what the vendor's body said (one line, no secrets)."""

    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        status: int | None = None,
        vendor_type: str | None = None,
        retry_after: float | None = None,
        headers: Mapping[str, str] | None = None,
        request_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.error_class: ErrorClass = error_class
        self.status = status
        self.vendor_type = vendor_type
        self.retry_after = retry_after
        self.headers: Mapping[str, str] = dict(headers or {})
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        return self.error_class in RETRYABLE
