"""OpenAI Chat Completions through the official SDK; also every OpenAI-compatible server.

``openai-compatible`` (Google, Mistral, DeepSeek, Ollama, vLLM, …) is the same
client pointed at the budget's ``base_url`` (which includes ``/v1``). Clients
are created with ``max_retries=0``: the SDK would otherwise retry
``insufficient_quota`` and sleep on any retry-after up to two minutes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import openai

from lanectl.errors import LaneError
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

DEFAULT_URL = "https://api.openai.com/v1"
_STOPS: dict[str, StopReason] = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
}


def build(spec: ProviderSpec) -> OpenAIProvider:
    return OpenAIProvider(spec)


def to_messages(system: str, messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if system:
        out.append({"role": "system", "content": system})
    for message in messages:
        if message.role == "tool":
            out.append(
                {
                    "role": "tool",
                    "tool_call_id": message.tool_call_id or "",
                    "content": message.content,
                }
            )
        elif message.role == "assistant":
            entry: dict[str, Any] = {"role": "assistant", "content": message.content or None}
            if message.tool_calls:
                entry["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": json.dumps(dict(c.arguments))},
                    }
                    for c in message.tool_calls
                ]
            out.append(entry)
        else:
            out.append({"role": "user", "content": message.content})
    return out


def to_body(
    request: Request, *, compatible: bool, known: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The keyword arguments of ``chat.completions.create``; parameters the SDK does
    not name (``known``) travel in ``extra_body``."""
    body: dict[str, Any] = {
        "model": request.model,
        "messages": to_messages(request.system, request.messages),
    }
    # Compatible servers (Ollama, vLLM, …) know max_tokens; OpenAI wants the new name.
    body["max_tokens" if compatible else "max_completion_tokens"] = request.max_tokens
    if request.tools:
        body["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": dict(t.input_schema),
                },
            }
            for t in request.tools
        ]
    extra: dict[str, Any] = {}
    for key, value in request.params.items():
        name = "stop" if key == "stop_sequences" else key
        (body if name in known else extra)[name] = value
    if extra:
        body["extra_body"] = extra
    return body


class OpenAIProvider:
    def __init__(self, spec: ProviderSpec) -> None:
        if spec.kind == "openai-compatible" and not spec.base_url:
            raise LaneError(
                f"budget {spec.budget or '(none)'}: provider openai-compatible needs a base_url",
                hint="add base_url: https://…/v1 to the budget or agent in .lanes/config.yaml",
            )
        self.spec = spec
        self.kind = spec.kind
        self.identity = f"{spec.kind} {spec.base_url or DEFAULT_URL}"
        self._secret = credentials.resolve(spec)
        self._client = openai.OpenAI(
            api_key=self._secret,
            base_url=spec.base_url or DEFAULT_URL,
            max_retries=0,
            timeout=spec.timeout_s,
            http_client=spec.options.get("http_client"),
            _strict_response_validation=bool(spec.options.get("strict", False)),
        )
        self._known = sdk_params(self._client.chat.completions.create)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:  # never the key
        return f"OpenAIProvider({self.identity!r})"

    def complete(
        self,
        request: Request,
        *,
        on_headers: HeaderHook | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Turn:
        body = to_body(request, compatible=self.kind != "openai", known=self._known)
        if request.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return exchange(
            lambda: self._client.chat.completions.with_raw_response.create(
                **body, extra_headers=tag_headers(tags)
            ),
            openai.APIError,
            self.spec,
            request,
            secret=self._secret,
            on_headers=on_headers,
            parse_one=self._from_completion,
            parse_stream=self._from_stream,
        )

    def _from_completion(self, completion: Any, headers: Mapping[str, str]) -> Turn:
        choice = completion.choices[0] if completion.choices else None
        message = choice.message if choice is not None else None
        calls = tuple(
            ToolCall(c.id, c.function.name, _arguments(c.function.arguments))
            for c in (getattr(message, "tool_calls", None) or [])
            if getattr(c, "function", None) is not None
        )
        return Turn(
            text=(message.content or "") if message is not None else "",
            tool_calls=calls,
            stop_reason=_STOPS.get((choice.finish_reason or "") if choice else "", "other"),
            usage=_usage(completion.usage),
            model=completion.model or "",
            headers=headers,
            request_id=headers.get("x-request-id"),
        )

    def _from_stream(self, chunks: Any, headers: Mapping[str, str], request: Request) -> Turn:
        texts: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish = ""
        usage = Usage()
        model = request.model
        for chunk in chunks:
            model = chunk.model or model
            if chunk.usage is not None:
                usage = _usage(chunk.usage)
            for choice in chunk.choices or []:
                delta = choice.delta
                if delta is not None and delta.content:
                    texts.append(delta.content)
                for call in (getattr(delta, "tool_calls", None) or []) if delta else []:
                    entry = calls.setdefault(call.index, {"id": "", "name": "", "args": []})
                    entry["id"] = call.id or entry["id"]
                    if call.function is not None:
                        entry["name"] = call.function.name or entry["name"]
                        entry["args"].append(call.function.arguments or "")
                finish = choice.finish_reason or finish
        if not finish:
            raise stream_broke(self.spec, request.model, headers)
        return Turn(
            text="".join(texts),
            tool_calls=tuple(
                ToolCall(c["id"], c["name"], _arguments("".join(c["args"])))
                for _, c in sorted(calls.items())
            ),
            stop_reason=_STOPS.get(finish, "other"),
            usage=usage,
            model=model,
            headers=headers,
            request_id=headers.get("x-request-id"),
        )


def _usage(usage: Any) -> Usage:
    """OpenAI counts cached prompt tokens inside prompt_tokens; split them out."""
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    cached = (getattr(details, "cached_tokens", None) or 0) if details is not None else 0
    prompt = usage.prompt_tokens or 0
    return Usage(
        input=max(0, prompt - cached), output=usage.completion_tokens or 0, cache_read=cached
    )


def _arguments(text: str | None) -> dict[str, Any]:
    if not text or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {"_invalid_json": text}
    return value if isinstance(value, dict) else {"_value": value}
