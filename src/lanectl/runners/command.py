"""``provider: command`` — an external agent CLI run in the task's worktree.

The agent's ``command`` is an argv template from the base branch's config,
e.g. ``["aider", "--yes", "--message-file", "{prompt_file}"]``; placeholders
are filled per word (``{prompt_file}``, ``{worktree}``, ``{task}``,
``{model}``), never through a shell. The filled argv passes the policy engine
like any command, then runs in the worktree with the scrubbed environment of
:mod:`lanectl.isolation`, under the job's Landlock rules (ADR 0032), a
timeout, and capped, redacted output. What
lanectl can and cannot enforce on such a process is in ``docs/agents.md``.
"""

from __future__ import annotations

from collections.abc import Sequence

from lanectl import config, isolation
from lanectl.errors import LaneError
from lanectl.policy import Action
from lanectl.runners import AgentSpec, BuildJob, RunOutcome


def expand(template: Sequence[str], values: dict[str, str]) -> tuple[str, ...]:
    """Fill ``{name}`` placeholders word by word; an unknown one is an error."""
    unknown = set(values) - set(config.COMMAND_PLACEHOLDERS)
    if unknown:
        raise ValueError(f"unknown placeholder values {sorted(unknown)}")
    argv: list[str] = []
    for word in template:
        for name in config.COMMAND_PLACEHOLDERS:
            word = word.replace("{" + name + "}", values.get(name, ""))
        argv.append(word)
    return tuple(argv)


class CommandRunner:
    def __init__(self, agent: AgentSpec) -> None:
        if not agent.command:
            raise LaneError(
                f"agent {agent.name} has provider command but no command:",
                hint="add command: [program, args…] to it in .lanes/config.yaml",
            )
        self.agent = agent
        self.template = agent.command

    def argv(self, job: BuildJob) -> tuple[str, ...]:
        return expand(
            self.template,
            {
                "prompt_file": str(job.prompt_file),
                "worktree": str(job.worktree),
                "task": job.task.id,
                "model": self.agent.model or "",
            },
        )

    def run(self, job: BuildJob) -> RunOutcome:
        argv = self.argv(job)
        if any(secret in word for word in argv for secret in job.redactor.secrets):
            return RunOutcome(False, "refused: a credential would appear on the command line")
        decision = job.guard.check(Action("run", argv=argv, task=job.task.id))
        if not decision.allowed:
            return RunOutcome(False, f"policy refused the agent command: {decision.reason}")
        captured = isolation.run(
            argv,
            cwd=job.worktree,
            env=job.env,
            timeout=job.timeout_s,
            redactor=job.redactor,
            cancel=job.cancel,
            progress=job.progress,
            on_start=job.on_start,
            sandbox=job.sandbox,
        )
        data = {
            "exit_code": captured.exit_code,
            "duration_s": captured.duration_s,
            "output_bytes": captured.output_bytes,
            "output_tail": captured.tail(1000),
        }
        if captured.cancelled:
            return RunOutcome(
                False,
                "stopped: the lease was lost",
                captured.exit_code,
                captured.duration_s,
                captured.output,
                data,
            )
        if captured.timed_out:
            reason = f"{self.agent.name} ran over its {job.timeout_s:.0f} s limit and was stopped"
            return RunOutcome(
                False, reason, captured.exit_code, captured.duration_s, captured.output, data
            )
        if captured.exit_code != 0:
            reason = f"{self.agent.name} exited {captured.exit_code}: {captured.last_line()}"
            return RunOutcome(
                False, reason, captured.exit_code, captured.duration_s, captured.output, data
            )
        return RunOutcome(
            True,
            f"{self.agent.name} finished in {captured.duration_s:.1f} s",
            0,
            captured.duration_s,
            captured.output,
            data,
        )
