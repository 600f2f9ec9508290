"""The conversation loop of a model agent: turns through the gateway, tools from a toolbox.

    result = converse(gateway, agent="builder-claude", task=task_id, system=prompt,
                      prompt="Do the task.", toolbox=box, limits=Limits.from_agent(raw_agent),
                      cancel=lease_lost, progress=progress, until="finish")

Each step is one model turn through :meth:`Gateway.complete` (routing,
response cache, pacing and the ``provider.error`` / ``budget.throttled``
events come with it); the tool calls of a turn are answered by the
:class:`~lanectl.toolbox.Toolbox` and sent back as ``tool`` messages. A
builder ends when it calls ``finish(summary)`` (``until="finish"``); a
reviewer ends with a final answer that calls no tool (``until="text"``).
Every other end is a failure with a reason a human can act on: the step,
token or time limit, a cancelled lease, a provider failure (quota and
credentials need a human and are never retried), or a model that stopped
without finishing after one reminder (ADR 0022).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from lanectl.errors import LaneError
from lanectl.providers.base import Message, ProviderError, Request, Usage

if TYPE_CHECKING:
    from lanectl.gateway import Gateway
    from lanectl.isolation import Progress
    from lanectl.toolbox import Toolbox

MAX_STEPS = 40
MAX_TOKENS = 400_000
REPLY_TOKENS = 8192
REMINDERS = 1  # text-only turns a builder is reminded to use the tools or finish
Until = Literal["finish", "text"]
Stop = Literal[
    "finished", "answered", "max_steps", "max_tokens", "timeout", "cancelled", "provider",
    "no_finish", "error",
]  # fmt: skip
HUMAN_CLASSES = ("quota_exhausted", "auth")
REMINDER = (
    "You answered without calling a tool. Continue the task with the tools, and call "
    "finish(summary) when the task is done (lanectl then runs the checks and commits)."
)
CUT = (
    "Your reply was cut off at the per-turn token limit ({limit}). Continue with shorter "
    "steps: write files in parts, or edit them with edit_file."
)


@dataclass(frozen=True)
class Limits:
    """Per task: model turns, tokens over all turns (input and output), output per turn,
    and wall-clock seconds (None: no time limit of its own)."""

    max_steps: int = MAX_STEPS
    max_tokens: int = MAX_TOKENS
    reply_tokens: int = REPLY_TOKENS
    max_seconds: float | None = None

    @classmethod
    def from_agent(
        cls,
        raw: Mapping[str, Any],
        *,
        max_seconds: float | None = None,
        budget: Mapping[str, Any] | None = None,
    ) -> Limits:
        """From an agent's ``max_steps``, ``max_tokens`` and ``reply_tokens`` config keys.

        Unset, ``reply_tokens`` is 8,192 or half of what ``budget`` lets out per
        minute (``output_tpm``, else ``tpm``) when that is less: every request
        reserves its whole ``max_tokens``, so a default above the budget would
        refuse every call (Anthropic's first tier allows 8,000 output tokens a
        minute) and one equal to it would let a single call run at a time.
        """
        reply = raw.get("reply_tokens")
        if not reply:
            per_minute = (budget or {}).get("output_tpm") or (budget or {}).get("tpm")
            reply = REPLY_TOKENS
            if isinstance(per_minute, int) and per_minute > 0:
                reply = max(1, min(REPLY_TOKENS, per_minute // 2))
        return cls(
            max_steps=int(raw.get("max_steps") or MAX_STEPS),
            max_tokens=int(raw.get("max_tokens") or MAX_TOKENS),
            reply_tokens=int(reply),
            max_seconds=max_seconds,
        )


@dataclass(frozen=True)
class LoopResult:
    ok: bool
    reason: str  # why it ended: a summary when ok, what went wrong otherwise
    final_text: str  # the last text the model wrote (redacted by the caller's toolbox)
    finished_summary: str | None
    steps: int  # model turns
    usage: Usage  # tokens over all turns actually sent (cached answers cost none)
    stop: Stop = "error"
    error_class: str | None = None  # the ProviderError class, when the provider failed
    tool_calls: int = 0
    cached_steps: int = 0
    needs_human: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "stop": self.stop,
            "reason": self.reason,
            "steps": self.steps,
            "tool_calls": self.tool_calls,
            "cached_steps": self.cached_steps,
            "usage": self.usage.as_dict(),
            "error_class": self.error_class,
        }


@dataclass
class _State:
    steps: int = 0
    calls: int = 0
    cached: int = 0
    usage: Usage = field(default_factory=Usage)
    text: str = ""

    @property
    def tokens(self) -> int:
        u = self.usage
        return u.input + u.output + u.cache_read + u.cache_write

    def add(self, usage: Usage) -> None:
        u = self.usage
        self.usage = Usage(
            u.input + usage.input,
            u.output + usage.output,
            u.cache_read + usage.cache_read,
            u.cache_write + usage.cache_write,
        )


def provider_reason(agent: str, err: ProviderError) -> str:
    """One line for a provider failure that ends a conversation."""
    cls = err.error_class
    if cls == "quota_exhausted":
        return f"{agent}'s provider says its quota is exhausted: a human is needed ({err.message})"
    if cls == "auth":
        return f"{agent}'s provider refused its credential: a human is needed ({err.message})"
    if cls == "too_large":
        return f"{agent}'s conversation no longer fits its budget or model ({err.message})"
    if cls == "bad_request":
        return f"{agent}'s provider rejected the request ({err.message})"
    return f"{agent}'s provider kept failing ({cls}): {err.message}"


def converse(
    gateway: Gateway,
    *,
    agent: str,
    task: str | None,
    system: str,
    prompt: str,
    toolbox: Toolbox | None,
    limits: Limits = Limits(),
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    until: Until = "finish",
    route: str | None = None,
) -> LoopResult:
    """Talk with ``agent``'s model until it finishes (or answers), or a limit ends it.

    ``toolbox`` None offers no tools (a plain question, ``until="text"``)."""
    messages: list[Message] = [Message("user", prompt)]
    st = _State()
    started = time.monotonic()
    reminders = 0

    def end(ok: bool, stop: Stop, reason: str, **kw: Any) -> LoopResult:
        return LoopResult(
            ok, reason, st.text, kw.pop("summary", None), st.steps, st.usage, stop,
            tool_calls=st.calls, cached_steps=st.cached, **kw,
        )  # fmt: skip

    def stopped() -> LoopResult | None:
        if cancel is not None and cancel.is_set():
            return end(False, "cancelled", "stopped: the lease was lost")
        if limits.max_seconds is not None and time.monotonic() - started >= limits.max_seconds:
            return end(False, "timeout", f"{agent} ran over its {limits.max_seconds:.0f} s limit")
        return None

    while True:
        if (halted := stopped()) is not None:
            return halted
        if st.steps >= limits.max_steps:
            return end(
                False,
                "max_steps",
                f"{agent} used all {limits.max_steps} steps (max_steps) without finishing",
            )
        if st.tokens >= limits.max_tokens:
            return end(
                False,
                "max_tokens",
                f"{agent} used {st.tokens} tokens, over its limit of {limits.max_tokens} "
                "(max_tokens), without finishing",
            )
        request = Request(
            model="",
            messages=tuple(messages),
            system=system,
            tools=toolbox.tools if toolbox is not None else (),
            max_tokens=limits.reply_tokens,
        )
        try:
            turn = gateway.complete(request, agent=agent, route=route, task=task)
        except ProviderError as err:
            return end(
                False,
                "provider",
                provider_reason(agent, err),
                error_class=err.error_class,
                needs_human=err.error_class in HUMAN_CLASSES,
            )
        except LaneError as err:
            return end(False, "error", f"{agent} could not call its model: {err}")
        st.steps += 1
        if progress is not None:
            progress.step, progress.max_steps = st.steps, limits.max_steps
        if turn.cached:
            st.cached += 1
        else:
            st.add(turn.usage)
        if progress is not None:
            progress.touch()
        st.text = turn.text or st.text
        # A vendor refuses an empty assistant turn in the history.
        said = turn.text if turn.text or turn.tool_calls else "(no reply)"
        messages.append(Message("assistant", said, turn.tool_calls))
        if turn.tool_calls and toolbox is not None:
            for call in turn.tool_calls:
                if (halted := stopped()) is not None:
                    return halted
                result = toolbox.call(call)
                st.calls += 1
                messages.append(
                    Message("tool", result.content, tool_call_id=call.id, is_error=result.is_error)
                )
                if result.finished is not None and until == "finish":
                    return end(True, "finished", result.finished, summary=result.finished)
            continue
        if until == "text" and turn.stop_reason != "max_tokens":
            return end(True, "answered", f"{agent} answered in {st.steps} step(s)")
        if reminders >= REMINDERS:
            said = " ".join(turn.text.split())[:200] or "(nothing)"
            what = "answer" if until == "text" else "calling finish"
            return end(False, "no_finish", f"{agent} stopped without {what}; it said: {said}")
        reminders += 1
        nudge = (
            CUT.format(limit=limits.reply_tokens) if turn.stop_reason == "max_tokens" else REMINDER
        )
        messages.append(Message("user", nudge))
