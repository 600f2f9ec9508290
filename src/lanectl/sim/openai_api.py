"""OpenAI Chat Completions shapes: request parsing, replies, stream chunks, error bodies.

Strict parsing in openai 3.54 needs ``id, object, created, model, choices[]``
with ``index, finish_reason, message.role``; a tool call needs ``id``,
``type: "function"``, ``function.name`` and ``function.arguments`` as a JSON
*string*. Streams are ``data: {chunk}`` lines ending in ``data: [DONE]``; with
``stream_options.include_usage`` a last chunk carries ``usage`` and no choices.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from lanectl.sim.script import Inbound, Truncated, markers, strings

DOCS = "Visit https://platform.openai.com/account/rate-limits to learn more."
FINISH = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length"}
UNITS = {
    "requests": ("requests", "requests per min (RPM)"),
    "tokens": ("tokens", "tokens per min (TPM)"),
}
QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: "
    "https://platform.openai.com/docs/guides/error-codes/api-errors."
)


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(12)


def parse(
    body: Any, key: str, headers: Mapping[str, str], retry: int, default_max_tokens: int
) -> Inbound:
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        raise ValueError("you must provide a model parameter")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must contain at least one message")
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is None:
        limit = default_max_tokens
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError("'max_completion_tokens' must be a positive integer")
    system_parts: list[str] = []
    rest: list[Any] = []
    last_user = ""
    for message in messages:
        if not isinstance(message, dict):
            raise ValueError("each message must be an object")
        if message.get("role") in ("system", "developer"):
            system_parts += strings(message.get("content"))
        else:
            rest.append(message)
            if message.get("role") == "user":
                last_user = "\n".join(strings(message.get("content")))
    system = "\n".join(system_parts)
    user = body.get("user")
    agent, task = markers(
        headers, user if isinstance(user, str) else None, body.get("metadata"), system
    )
    texts = strings(rest)
    if body.get("tools"):
        texts.append(json.dumps(body["tools"]))
    options = body.get("stream_options")
    return Inbound(
        vendor="openai",
        key=key,
        model=model,
        system=system,
        text="\n".join(texts),
        last_user=last_user,
        assistant_turns=sum(1 for m in rest if m.get("role") == "assistant"),
        stream=body.get("stream") is True,
        max_tokens=limit,
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        agent=agent,
        task=task,
        retry=retry,
    )


def error(message: str, etype: str, code: str | None, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": etype, "param": param, "code": code}}


def rate_limit_message(
    model: str, org: str, limit: str, per_minute: int, used: int, requested: int, wait: str
) -> str:
    return (
        f"Rate limit reached for {model} in organization {org} on {UNITS[limit][1]}: "
        f"Limit {per_minute}, Used {used}, Requested {requested}. Please try again in {wait}. "
        + DOCS
    )


def too_large_message(model: str, org: str, limit: str, per_minute: int, requested: int) -> str:
    return (
        f"Request too large for {model} in organization {org} on {UNITS[limit][1]}: "
        f"Limit {per_minute}, Requested {requested}. The input or output tokens must be reduced "
        "in order to run successfully. " + DOCS
    )


def acceleration_message(model: str, org: str, limit: int, wait: str) -> str:
    return (
        f"Rate limit reached for {model} in organization {org} on requests per second (RPS): "
        f"Limit {limit}, Used {limit}, Requested 1. Please try again in {wait}. " + DOCS
    )


def _tool_calls(reply: Truncated) -> list[dict[str, Any]]:
    return [
        {
            "id": call.id or new_id("call_"),
            "type": "function",
            "function": {"name": call.name, "arguments": json.dumps(dict(call.input))},
        }
        for call in reply.tool_calls
    ]


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }


def completion(reply: Truncated, req: Inbound, input_tokens: int, cid: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text if reply.text or not reply.tool_calls else None,
        "refusal": None,
    }
    if reply.tool_calls:
        message["tool_calls"] = _tool_calls(reply)
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": req.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": FINISH[reply.stopped],
                "logprobs": None,
            }
        ],
        "usage": _usage(input_tokens, reply.output_tokens),
        "system_fingerprint": None,
    }


def frames(reply: Truncated, req: Inbound, input_tokens: int, cid: str) -> list[tuple[bytes, int]]:
    """``data:`` lines of a streamed reply, each with the output tokens produced by then."""
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body: dict[str, Any] = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": req.model,
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }
        if req.include_usage:
            body["usage"] = None
        return f"data: {json.dumps(body)}\n\n".encode()

    calls = _tool_calls(reply)
    pieces: list[tuple[dict[str, Any], int]] = []
    for i in range(0, len(reply.text), 16):
        pieces.append(({"content": reply.text[i : i + 16]}, len(reply.text[i : i + 16])))
    for index, call in enumerate(calls):
        head = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        pieces.append(({"tool_calls": [{"index": index, **head}]}, 0))
        arguments = call["function"]["arguments"]
        for i in range(0, len(arguments), 24):
            part = arguments[i : i + 24]
            delta = {"tool_calls": [{"index": index, "function": {"arguments": part}}]}
            pieces.append((delta, len(part)))
    total = max(1, sum(size for _, size in pieces))
    first: dict[str, Any] = {"role": "assistant", "content": "" if reply.text else None}
    out: list[tuple[bytes, int]] = [(chunk(first), 0)]
    done = 0
    for delta, size in pieces:
        done += size
        out.append((chunk(delta), round(reply.output_tokens * done / total)))
    out.append((chunk({}, FINISH[reply.stopped]), reply.output_tokens))
    if req.include_usage:
        last = {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": req.model,
            "system_fingerprint": None,
            "choices": [],
            "usage": _usage(input_tokens, reply.output_tokens),
        }
        out.append((f"data: {json.dumps(last)}\n\n".encode(), reply.output_tokens))
    out.append((b"data: [DONE]\n\n", reply.output_tokens))
    return out


def stream_error() -> bytes:
    body = error(
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    )
    return f"data: {json.dumps(body)}\n\n".encode()
