"""What a request is (vendor-neutral), and which scripted turn answers it.

A request's agent and task come from, in order: the ``x-lanectl-agent`` /
``x-lanectl-task`` headers; Anthropic ``metadata.user_id`` or OpenAI ``user``
written ``agent=NAME;task=ID`` (or OpenAI ``metadata: {agent, task}``);
``lanectl-agent: NAME`` / ``lanectl-task: ID`` lines in the system prompt.
The turn is the number of assistant messages already in the conversation, so
the script needs no session state and a retried request gets the same turn.
Tokens are estimated as one per four characters of text, rounded up.
"""

from __future__ import annotations

import fnmatch
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lanectl.sim.config import ALWAYS, FaultKind, Rule, SimConfig, ToolCall, Vendor

MARKER = re.compile(r"\blanectl-(agent|task):[ \t]*(\S+)")
STRUCTURAL = frozenset({"type", "role", "id", "tool_use_id", "tool_call_id", "cache_control"})


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / 4)


@dataclass(frozen=True)
class Inbound:
    """The parts of a request the simulator acts on."""

    vendor: Vendor
    key: str
    model: str
    system: str
    text: str  # every text of the conversation and tool definitions, joined
    last_user: str
    assistant_turns: int
    stream: bool
    max_tokens: int
    include_usage: bool = False
    agent: str | None = None
    task: str | None = None
    retry: int = 0  # x-stainless-retry-count

    @property
    def input_tokens(self) -> int:
        return max(1, estimate_tokens(self.system) + estimate_tokens(self.text))


@dataclass(frozen=True)
class Reply:
    text: str
    tool_calls: tuple[ToolCall, ...]
    input_tokens: int
    output_tokens: int  # before the max_tokens cap
    fault: FaultKind | None = None
    rule: int | None = None
    retry_after_s: float = 1.0  # of a scripted rate_limited fault, in simulated seconds


def strings(value: Any) -> list[str]:
    """Every string leaf of a JSON value, skipping ids and type tags."""
    out: list[str] = []
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key not in STRUCTURAL:
                out += strings(item)
    elif isinstance(value, list):
        for item in value:
            out += strings(item)
    return out


def markers(
    headers: Mapping[str, str], ids: str | None, meta: Any, system: str
) -> tuple[str | None, str | None]:
    """(agent, task) from headers, then a user/metadata field, then the system prompt."""
    found: dict[str, str] = {}
    for name in ("agent", "task"):
        value = headers.get(f"x-lanectl-{name}")
        if value:
            found[name] = value.strip()
    if isinstance(meta, Mapping):
        for name in ("agent", "task"):
            if isinstance(meta.get(name), str):
                found.setdefault(name, meta[name])
    if ids:
        for part in re.split(r"[;,\s]+", ids):
            name, _, value = part.partition("=")
            if name in ("agent", "task") and value:
                found.setdefault(name, value)
    for name, value in MARKER.findall(system):
        found.setdefault(name, value)
    return found.get("agent"), found.get("task")


class Script:
    """The rules of a config, and how many times each scripted fault has fired."""

    def __init__(self, config: SimConfig):
        self.rules = config.script
        self.fired: dict[tuple[object, ...], int] = {}

    def _matches(self, rule: Rule, req: Inbound) -> bool:
        m = rule.match
        pairs = ((m.key, req.key), (m.agent, req.agent), (m.task, req.task), (m.model, req.model))
        for pattern, value in pairs:
            if pattern is not None and (value is None or not fnmatch.fnmatchcase(value, pattern)):
                return False
        return m.contains is None or m.contains in req.system or m.contains in req.text

    def reply(self, req: Inbound) -> Reply:
        """The scripted turn for this request, or the default reply (call under a lock)."""
        for index, rule in enumerate(self.rules):
            if not self._matches(rule, req):
                continue
            if req.assistant_turns >= len(rule.turns):
                break  # the script for this conversation is over: default reply
            turn = rule.turns[req.assistant_turns]
            fault = None
            if turn.fault is not None:
                slot = (index, req.assistant_turns, req.key, req.agent, req.task)
                count = self.fired.get(slot, 0)
                if turn.fault_times == ALWAYS or count < turn.fault_times:
                    self.fired[slot] = count + 1
                    fault = turn.fault
            text = turn.text or ""
            if turn.output_tokens is not None:
                output = turn.output_tokens
            else:
                output = estimate_tokens(text) + sum(_call_tokens(c) for c in turn.tool_calls)
            return Reply(
                text=text,
                tool_calls=turn.tool_calls,
                input_tokens=req.input_tokens if turn.input_tokens is None else turn.input_tokens,
                output_tokens=max(1, output) if turn.text or turn.tool_calls else output,
                fault=fault,
                rule=index,
                retry_after_s=turn.retry_after_s,
            )
        echo = " ".join(req.last_user.split())[:200]
        text = f"(simulated {req.model}) {echo}" if echo else f"(simulated {req.model})"
        return Reply(text, (), req.input_tokens, estimate_tokens(text))


def _call_tokens(call: ToolCall) -> int:
    return estimate_tokens(call.name + json.dumps(dict(call.input)))


@dataclass(frozen=True)
class Truncated:
    """A reply cut to ``max_tokens``: the text and tool calls that fit, and why it stopped."""

    text: str
    tool_calls: tuple[ToolCall, ...]
    output_tokens: int
    stopped: str  # end_turn | tool_use | max_tokens


def fit(reply: Reply, max_tokens: int) -> Truncated:
    """Cut the reply to ``max_tokens`` output tokens, as a model that runs out would."""
    if reply.output_tokens <= max_tokens:
        stopped = "tool_use" if reply.tool_calls else "end_turn"
        return Truncated(reply.text, reply.tool_calls, reply.output_tokens, stopped)
    share = max_tokens / reply.output_tokens if reply.output_tokens else 0.0
    return Truncated(reply.text[: int(len(reply.text) * share)], (), max_tokens, "max_tokens")
