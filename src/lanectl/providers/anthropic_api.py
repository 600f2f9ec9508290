"""Anthropic Messages API through the official SDK (imported here, lazily).

The client is created with ``max_retries=0`` (lanectl owns every retry), an
explicit ``base_url`` (so ``ANTHROPIC_BASE_URL`` in the environment cannot
redirect it) and the key resolved from the budget's credential. Responses are
read through ``with_raw_response`` for their rate-limit headers. The system
prompt and tool definitions carry ``cache_control`` (stable prefixes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import anthropic

from lanectl.providers import credentials
from lanectl.providers.base import (
    HeaderHook,
    Message,
    Request,
    StopReason,
    ToolCall,
    Turn,
    Usage,
)
from lanectl.providers.registry import ProviderSpec
from lanectl.providers.wrap import (
    exchange,
    sdk_params,
    stream_broke,
    tag_headers,
)

DEFAULT_URL = "https://api.anthropic.com"
EPHEMERAL = {"type": "ephemeral"}
_STOPS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
}


def build(spec: ProviderSpec) -> AnthropicProvider:
    return AnthropicProvider(spec)


def to_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Neutral messages → Anthropic's alternating turns (tool results ride in a user turn)."""
    out: list[dict[str, Any]] = []

    def add(role: str, blocks: list[dict[str, Any]]) -> None:
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})

    for message in messages:
        if message.role == "tool":
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.tool_call_id or "",
                "content": message.content,
            }
            if message.is_error:
                block["is_error"] = True
            add("user", [block])
        elif message.role == "assistant":
            blocks: list[dict[str, Any]] = []
            if message.content:
                blocks.append({"type": "text", "text": message.content})
            blocks += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": dict(c.arguments)}
                for c in message.tool_calls
            ]
            add("assistant", blocks)
        else:
            add("user", [{"type": "text", "text": message.content}])
    return out


def to_body(
    request: Request, *, prompt_cache: bool, known: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The keyword arguments of ``messages.create``; parameters the SDK does not
    name (``known``) travel in ``extra_body`` for the API to judge."""
    body: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": to_messages(request.messages),
    }
    if request.system:
        if prompt_cache:
            body["system"] = [{"type": "text", "text": request.system, "cache_control": EPHEMERAL}]
        else:
            body["system"] = request.system
    if request.tools:
        tools = [
            {"name": t.name, "description": t.description, "input_schema": dict(t.input_schema)}
            for t in request.tools
        ]
        if prompt_cache:
            tools[-1]["cache_control"] = EPHEMERAL
        body["tools"] = tools
    extra: dict[str, Any] = {}
    for key, value in request.params.items():
        name = "stop_sequences" if key == "stop" else key
        (body if name in known else extra)[name] = value
    if extra:
        body["extra_body"] = extra
    return body


class AnthropicProvider:
    kind = "anthropic"

    def __init__(self, spec: ProviderSpec) -> None:
        self.spec = spec
        self.identity = f"anthropic {spec.base_url or DEFAULT_URL}"
        self._secret = credentials.resolve(spec)
        self._client = anthropic.Anthropic(
            api_key=self._secret,
            base_url=spec.base_url or DEFAULT_URL,
            max_retries=0,
            timeout=spec.timeout_s,
            open_telemetry=False,
            http_client=spec.options.get("http_client"),
            _strict_response_validation=bool(spec.options.get("strict", False)),
        )
        self._known = sdk_params(self._client.messages.create)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:  # never the key
        return f"AnthropicProvider({self.identity!r})"

    def complete(
        self,
        request: Request,
        *,
        on_headers: HeaderHook | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Turn:
        body = to_body(request, prompt_cache=self.spec.prompt_cache, known=self._known)
        return exchange(
            lambda: self._client.messages.with_raw_response.create(
                **body, stream=request.stream, extra_headers=tag_headers(tags)
            ),
            anthropic.APIError,
            self.spec,
            request,
            secret=self._secret,
            on_headers=on_headers,
            parse_one=self._from_message,
            parse_stream=self._from_stream,
        )

    def _from_message(self, message: Any, headers: Mapping[str, str]) -> Turn:
        texts: list[str] = []
        calls: list[ToolCall] = []
        for block in message.content or []:
            if block.type == "text":
                texts.append(block.text)
            elif block.type == "tool_use":
                calls.append(ToolCall(block.id, block.name, dict(block.input or {})))
        return Turn(
            text="".join(texts),
            tool_calls=tuple(calls),
            stop_reason=_STOPS.get(message.stop_reason or "", "other"),
            usage=_usage(message.usage),
            model=message.model or "",
            headers=headers,
            request_id=headers.get("request-id") or getattr(message, "_request_id", None),
        )

    def _from_stream(self, events: Any, headers: Mapping[str, str], request: Request) -> Turn:
        texts: list[str] = []
        blocks: dict[int, dict[str, Any]] = {}
        stop = ""
        model = request.model
        usage: dict[str, int] = {}
        finished = False
        for event in events:
            kind = event.type
            if kind == "message_start":
                model = event.message.model or model
                usage.update(_usage(event.message.usage).as_dict())
            elif kind == "content_block_start":
                block = event.content_block
                if block.type == "tool_use":
                    blocks[event.index] = {"id": block.id, "name": block.name, "json": []}
            elif kind == "content_block_delta":
                delta = event.delta
                if delta.type == "text_delta":
                    texts.append(delta.text)
                elif delta.type == "input_json_delta" and event.index in blocks:
                    blocks[event.index]["json"].append(delta.partial_json)
            elif kind == "message_delta":
                stop = event.delta.stop_reason or stop
                if event.usage is not None:
                    usage["output"] = event.usage.output_tokens or 0
            elif kind == "message_stop":
                finished = True
        if not finished:
            raise stream_broke(self.spec, request.model, headers)
        calls = tuple(
            ToolCall(b["id"], b["name"], _arguments("".join(b["json"])))
            for _, b in sorted(blocks.items())
        )
        return Turn(
            text="".join(texts),
            tool_calls=calls,
            stop_reason=_STOPS.get(stop, "other"),
            usage=Usage(**usage),
            model=model,
            headers=headers,
            request_id=headers.get("request-id"),
        )


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    return Usage(
        input=usage.input_tokens or 0,
        output=usage.output_tokens or 0,
        cache_read=getattr(usage, "cache_read_input_tokens", None) or 0,
        cache_write=getattr(usage, "cache_creation_input_tokens", None) or 0,
    )


def _arguments(text: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"_invalid_json": text}
    return value if isinstance(value, dict) else {"_value": value}
