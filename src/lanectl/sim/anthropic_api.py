"""Anthropic Messages API shapes: request parsing, replies, SSE events, error bodies.

Shapes follow what anthropic 2.12 parses with strict validation (see
/work/shared/reference/facts.md and the SDK's ``types``): a message needs
``id, type, role, model, content, usage``; a stream is message_start,
content_block_start/delta/stop per block, message_delta (with ``usage``),
message_stop; an error inside a stream is ``event: error``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from lanectl.sim.script import Inbound, Truncated, markers, strings

DOCS = "https://docs.claude.com/en/api/rate-limits"
NAMES = {"requests": "requests", "input_tokens": "input tokens", "output_tokens": "output tokens"}


def new_id(prefix: str) -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(24))


def parse(body: Any, key: str, headers: Mapping[str, str], retry: int) -> Inbound:
    """The request as the simulator sees it; ValueError for what the API would reject."""
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    model, messages, max_tokens = body.get("model"), body.get("messages"), body.get("max_tokens")
    if not isinstance(model, str) or not model:
        raise ValueError("model: Field required")
    if not isinstance(messages, list) or not messages:
        raise ValueError("messages: at least one message is required")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise ValueError("max_tokens: Field required (a positive integer)")
    system = "\n".join(strings(body.get("system")))
    meta = body.get("metadata")
    user_id = meta.get("user_id") if isinstance(meta, dict) else None
    agent, task = markers(headers, user_id if isinstance(user_id, str) else None, None, system)
    last_user = ""
    for message in messages:
        if isinstance(message, dict) and message.get("role") == "user":
            last_user = "\n".join(strings(message.get("content")))
    texts = strings(messages)
    if body.get("tools"):
        texts.append(json.dumps(body["tools"]))
    return Inbound(
        vendor="anthropic",
        key=key,
        model=model,
        system=system,
        text="\n".join(texts),
        last_user=last_user,
        assistant_turns=sum(
            1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant"
        ),
        stream=body.get("stream") is True,
        max_tokens=max_tokens,
        agent=agent,
        task=task,
        retry=retry,
    )


def error(etype: str, message: str, request_id: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": etype, "message": message}, "request_id": request_id}


def rate_limit_message(org: str, limit: str, per_minute: int) -> str:
    return (
        f"This request would exceed the rate limit for your organization ({org}) of "
        f"{per_minute:,} {NAMES.get(limit, limit)} per minute. For details, refer to: {DOCS}. "
        "You can see the response headers for current usage. Please reduce the prompt length "
        "or the maximum tokens requested, or try again later. You may also contact sales at "
        "https://www.anthropic.com/contact-sales to discuss your options for a rate limit "
        "increase."
    )


ACCELERATION = (
    "Your organization's usage increased too sharply (acceleration limit). Please ramp up "
    f"your traffic gradually and keep a consistent usage pattern. For details, refer to: {DOCS}."
)
CREDIT = (
    "Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing "
    "to upgrade or purchase credits."
)


def _blocks(reply: Truncated) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text or not reply.tool_calls:
        blocks.append({"type": "text", "text": reply.text})
    for call in reply.tool_calls:
        blocks.append(
            {"type": "tool_use", "id": call.id or new_id("toolu_"), "name": call.name,
             "input": dict(call.input)}
        )  # fmt: skip
    return blocks


def _usage(input_tokens: int, output_tokens: int) -> dict[str, int]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
    }


def message(reply: Truncated, req: Inbound, input_tokens: int, msg_id: str) -> dict[str, Any]:
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": req.model,
        "content": _blocks(reply),
        "stop_reason": reply.stopped,
        "stop_sequence": None,
        "usage": _usage(input_tokens, reply.output_tokens),
    }


def _event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def _pieces(text: str, size: int = 16) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


def frames(
    reply: Truncated, req: Inbound, input_tokens: int, msg_id: str
) -> list[tuple[bytes, int]]:
    """The SSE events of a streamed reply, each with the output tokens produced by then."""
    start = {**message(reply, req, input_tokens, msg_id), "content": [], "stop_reason": None}
    start["usage"] = _usage(input_tokens, 1)
    out: list[tuple[bytes, int]] = [
        (_event("message_start", {"message": start}), 0),
        (_event("ping", {}), 0),
    ]
    blocks = _blocks(reply)
    sizes = [len(b.get("text", "")) or len(json.dumps(b.get("input", {}))) for b in blocks]
    total_chars, done_chars = max(1, sum(sizes)), 0
    for index, block in enumerate(blocks):
        head: dict[str, Any]
        deltas: list[dict[str, Any]]
        if block["type"] == "text":
            head, pieces = {"type": "text", "text": ""}, _pieces(block["text"])
            deltas = [{"type": "text_delta", "text": p} for p in pieces]
        else:
            head = {**block, "input": {}}
            pieces = _pieces(json.dumps(block["input"]), 24)
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
        out.append((_event("content_block_start", {"index": index, "content_block": head}), 0))
        for piece, delta in zip(pieces, deltas, strict=True):
            done_chars += len(piece)
            reached = round(reply.output_tokens * done_chars / total_chars)
            out.append((_event("content_block_delta", {"index": index, "delta": delta}), reached))
        out.append((_event("content_block_stop", {"index": index}), 0))
    delta = {"stop_reason": reply.stopped, "stop_sequence": None}
    usage = {"input_tokens": input_tokens, "output_tokens": reply.output_tokens}
    out.append((_event("message_delta", {"delta": delta, "usage": usage}), reply.output_tokens))
    out.append((_event("message_stop", {}), reply.output_tokens))
    return _monotonic(out)


def _monotonic(out: list[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
    reached, fixed = 0, []
    for data, tokens in out:
        reached = max(reached, tokens)
        fixed.append((data, reached))
    return fixed


def stream_error(request_id: str) -> bytes:
    body = error("overloaded_error", "Overloaded", request_id)
    return f"event: error\ndata: {json.dumps(body)}\n\n".encode()
