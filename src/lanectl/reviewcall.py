"""One reviewer reads one change: a conversation per part, each answer validated (ADR 0025).

For every part of the diff (:mod:`lanectl.reviewdiff`) the reviewer gets its
system prompt and a user message with the part fenced as untrusted material
(:mod:`lanectl.reviewprompt`), and talks through :func:`lanectl.agentloop.converse`
(``until="text"``) over the :class:`~lanectl.gateway.Gateway` — routing,
pacing, the response cache — with its read-only tools when it has them
(:mod:`lanectl.reviewtools`). The final answer must be valid findings
(:mod:`lanectl.findings`). One that is not — or a conversation that ran out of
steps — is evicted from the response cache and asked for once more, in a fresh
conversation that says why, bypassing the cache. A second bad answer, or a
provider failure, leaves that part unreviewed: its files are skipped and the
review is incomplete, never a pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

from lanectl import agentloop, findings, reviewdiff, reviewprompt
from lanectl.findings import Answer, InvalidAnswer
from lanectl.providers.base import Request, Turn

if TYPE_CHECKING:
    from lanectl.gateway import Gateway
    from lanectl.toolbox import Toolbox

Progress = Callable[[str, str], None]  # (phase, message)
FAILED = ("provider", "error", "cancelled", "timeout")  # ends that asking again cannot mend


@dataclass(frozen=True)
class Job:
    task_id: str
    head: str
    base: str
    role: str
    agent: str
    model: str
    system: reviewprompt.SystemPrompt
    task_text: str
    commits: str
    plan: reviewdiff.Plan
    limits: agentloop.Limits
    toolbox: Toolbox | None = None


@dataclass
class Done:
    """What the model said about the parts it answered, and what it did not cover."""

    answer: Answer
    covered: list[str]
    skipped: list[str]
    truncated: bool  # some part got no valid answer
    problems: list[str] = field(default_factory=list)
    calls: int = 0  # requests that reached a provider (cache hits excluded)
    retries: int = 0
    tool_calls: int = 0


class _Exchange:
    """The gateway as one conversation sees it: counts, remembers, may bypass the cache."""

    def __init__(self, gw: Gateway, *, use_cache: bool) -> None:
        self.gw = gw
        self.use_cache = use_cache
        self.calls = 0
        self.last: Request | None = None

    def complete(
        self,
        request: Request,
        *,
        agent: str,
        route: str | None = None,
        task: str | None = None,
        use_cache: bool = True,
    ) -> Turn:
        turn = self.gw.complete(
            request, agent=agent, route=route, task=task, use_cache=use_cache and self.use_cache
        )
        self.last = request
        self.calls += 0 if turn.cached else 1
        return turn

    def forget(self, agent: str) -> None:
        """Never serve the final answer of this conversation again (it was unusable)."""
        if self.last is not None:
            self.gw.evict(self.last, agent=agent)


def prompt_for(job: Job, index: int, problem: str | None = None) -> str:
    part = job.plan.parts[index]
    material = reviewprompt.Material(job.task_text, job.commits, part.text, tuple(part.paths))
    text = reviewprompt.user_message(
        task_id=job.task_id,
        head=job.head,
        base=job.base,
        part=index + 1,
        parts=len(job.plan.parts),
        material=material,
    )
    return text if problem is None else f"{text}\n\n{reviewprompt.retry_message(problem)}"


def _ask(
    gw: Gateway, job: Job, prompt: str, *, use_cache: bool
) -> tuple[agentloop.LoopResult, _Exchange]:
    exchange = _Exchange(gw, use_cache=use_cache)
    result = agentloop.converse(
        cast("Gateway", exchange),  # converse only calls complete()
        agent=job.agent,
        task=job.task_id,
        system=job.system.text,
        prompt=prompt,
        toolbox=job.toolbox,
        limits=job.limits,
        until="text",
    )
    return result, exchange


def _accept(result: agentloop.LoopResult, role: str) -> Answer:
    if not result.ok:
        raise InvalidAnswer(result.reason)
    return findings.parse(result.final_text, role)


def _part(
    gw: Gateway, job: Job, index: int, done: Done, say: Progress
) -> tuple[Answer | None, bool]:
    """Review one part: an answer, retried once past the cache when it is invalid.

    Returns (the answer or None when it stayed invalid, whether the model call failed).
    """
    problem: str | None = None
    for attempt in range(2):
        result, exchange = _ask(gw, job, prompt_for(job, index, problem), use_cache=attempt == 0)
        done.calls += exchange.calls
        done.retries += attempt
        done.tool_calls += result.tool_calls
        if result.stop in FAILED:
            done.problems.append(f"part {index + 1}: {result.reason}")
            return None, True
        try:
            return _accept(result, job.role), False
        except InvalidAnswer as bad:
            exchange.forget(job.agent)
            if problem is not None:
                done.problems.append(
                    f"part {index + 1}: invalid answer twice (first: {problem}; then: {bad})"
                )
                return None, False
            say("retrying", f"{job.agent}: part {index + 1}: {bad}")
            problem = str(bad)
    raise AssertionError("unreachable")


def run(gw: Gateway, job: Job, progress: Progress | None = None) -> Done:
    say = progress or (lambda phase, message: None)
    answers: list[Answer] = []
    answered: list[int] = []
    done = Done(Answer("pass", ()), [], [], False)
    total = len(job.plan.parts)
    for index in range(total):
        say("reviewing", f"{job.agent}: part {index + 1} of {total}")
        answer, failed = _part(gw, job, index, done, say)
        if failed:
            break
        if answer is not None:
            answers.append(answer)
            answered.append(index)
    done.answer = findings.combine(answers)
    done.covered = job.plan.covered_by(answered)
    done.skipped = [p for p in job.plan.files if p not in done.covered]
    done.truncated = len(answered) < total
    return done
