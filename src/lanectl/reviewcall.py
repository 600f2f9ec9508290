"""One reviewer reads one change: a model call per part, each answer validated (ADR 0025).

For every part of the diff (:mod:`lanectl.reviewdiff`) the reviewer gets its
system prompt and a user message with the part fenced as untrusted material
(:mod:`lanectl.reviewprompt`), through the :class:`~lanectl.gateway.Gateway`
(routing, pacing, the response cache). An answer that is not valid findings
(:mod:`lanectl.findings`) — or was cut off, or is a tool call — is evicted
from the response cache and asked for once more, with the reason, bypassing
the cache. A second bad answer, or a provider failure, leaves that part
unreviewed: its files are skipped and the review is incomplete, never a pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from lanectl import findings, reviewdiff, reviewprompt
from lanectl.errors import LaneError
from lanectl.findings import Answer, InvalidAnswer
from lanectl.gateway import Gateway
from lanectl.providers.base import Message, Request, Turn

Progress = Callable[[str, str], None]  # (phase, message)


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
    max_tokens: int


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


def _accept(turn: Turn, role: str) -> Answer:
    if turn.stop_reason == "max_tokens":
        raise InvalidAnswer("the answer was cut off at the output limit; keep it shorter")
    if turn.tool_calls and not turn.text.strip():
        raise InvalidAnswer("the answer was a tool call; answer with the JSON object")
    return findings.parse(turn.text, role)


def request_for(job: Job, index: int) -> Request:
    part = job.plan.parts[index]
    material = reviewprompt.Material(job.task_text, job.commits, part.text, tuple(part.paths))
    user = reviewprompt.user_message(
        task_id=job.task_id,
        head=job.head,
        base=job.base,
        part=index + 1,
        parts=len(job.plan.parts),
        material=material,
    )
    return Request(
        model=job.model,
        messages=(Message("user", user),),
        system=job.system.text,
        max_tokens=job.max_tokens,
    )


def run(gw: Gateway, job: Job, progress: Progress | None = None) -> Done:
    say = progress or (lambda phase, message: None)
    answers: list[Answer] = []
    answered: list[int] = []
    done = Done(Answer("pass", ()), [], [], False)
    total = len(job.plan.parts)
    for index in range(total):
        say("reviewing", f"{job.agent}: part {index + 1} of {total}")
        request = request_for(job, index)
        try:
            turn = gw.complete(request, agent=job.agent, task=job.task_id)
            done.calls += 0 if turn.cached else 1
            try:
                answers.append(_accept(turn, job.role))
            except InvalidAnswer as bad:
                gw.evict(request, agent=job.agent)  # never serve this answer again
                say("retrying", f"{job.agent}: part {index + 1}: {bad}")
                retry = replace(
                    request,
                    messages=(
                        *request.messages,
                        Message("assistant", turn.text.strip() or "(no text)"),
                        Message("user", reviewprompt.retry_message(str(bad))),
                    ),
                )
                again = gw.complete(retry, agent=job.agent, task=job.task_id, use_cache=False)
                done.calls += 1
                done.retries += 1
                try:
                    answers.append(_accept(again, job.role))
                except InvalidAnswer as worse:
                    gw.evict(retry, agent=job.agent)
                    done.problems.append(
                        f"part {index + 1}: invalid answer twice (first: {bad}; then: {worse})"
                    )
                    continue
        except LaneError as exc:  # a provider failure, a halted budget: stop asking
            done.problems.append(f"part {index + 1}: {exc.message}")
            break
        answered.append(index)
    done.answer = findings.combine(answers)
    done.covered = job.plan.covered_by(answered)
    done.skipped = [p for p in job.plan.files if p not in done.covered]
    done.truncated = len(answered) < total
    return done
