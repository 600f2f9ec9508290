"""``provider: anthropic | openai | openai-compatible`` — the builder loop inside lanectl.

The system prompt is the builder prompt of :mod:`lanectl.builderprompt` (the
task, its governing ADRs, notes and the lane's rules) followed by
``templates/prompts/builder-tools.md``; the model works through a
:class:`~lanectl.toolbox.Toolbox` with write access to the job's worktree,
in the conversation loop of :mod:`lanectl.agentloop`, until it calls
``finish``. Then :mod:`lanectl.build` does what it does for every runner:
checks, a signed commit, a signed check result, review or blocked.

Agents, budgets, ``tools:`` and policy all come from the BASE branch's config.
The agent's credential is read by the provider inside this process and goes
only into the SDK client: never argv, never the environment of a command
``run`` starts (ADR 0022).
"""

from __future__ import annotations

import os
import time

from lanectl import agentloop, builderprompt, git, templates
from lanectl.errors import LaneError
from lanectl.policy import load_base_config
from lanectl.runners import AgentSpec, BuildJob, RunOutcome
from lanectl.toolbox import Toolbox, ToolSettings

TOOLS_TEMPLATE = "prompts/builder-tools.md"
FIRST_MESSAGE = (
    "Do task {task_id}: {title}. Start by looking at the files that matter, make the "
    "change, run the checks if you can, and call finish with a summary when it is done."
)


class LLMRunner:
    def __init__(self, agent: AgentSpec) -> None:
        if not agent.model:
            raise LaneError(
                f"agent {agent.name} has provider {agent.provider} but no model:",
                hint=f"add model: to agents › {agent.name} in .lanes/config.yaml",
            )
        self.agent = agent

    def run(self, job: BuildJob) -> RunOutcome:
        from lanectl.gateway import Gateway  # the provider layer, on first use

        agent = self.agent
        base = load_base_config(job.ws)
        if base.raw is None:
            return RunOutcome(False, base.problem or "no policy on the base branch")
        settings = ToolSettings.from_config(base.raw)
        base_sha = git.rev_parse(f"refs/heads/{base.branch}", job.ws.root)
        if base_sha is None:
            return RunOutcome(False, f"the base branch {base.branch} is gone")
        budgets = base.raw.get("budgets") if isinstance(base.raw.get("budgets"), dict) else {}
        budget = budgets.get(agent.budget) if isinstance(budgets, dict) and agent.budget else None
        limits = agentloop.Limits.from_agent(
            agent.raw,
            max_seconds=job.timeout_s,
            budget=budget if isinstance(budget, dict) else None,
        )
        # What `run` starts gets the agent's environment without its credential.
        env = {k: v for k, v in job.env.items() if k != agent.credential_env}
        box = Toolbox(
            job.guard,
            job.worktree,
            write=True,
            env=env,
            redactor=job.redactor,
            run_timeout_s=min(settings.run_timeout_s, job.timeout_s),
            output_cap=settings.output_cap,
            commands=settings.commands,
            cancel=job.cancel,
            progress=job.progress,
            sandbox=job.tool_sandbox,
        )
        checks = ", ".join(f"`{c}`" for c in settings.commands.checks) or "none configured"
        system = job.prompt.rstrip() + builderprompt.fill(
            templates.from_base(job.ws.root, base_sha, TOOLS_TEMPLATE),
            {
                "commands": settings.commands.describe(),
                "run_timeout": f"{box.run_timeout_s:.0f}",
                "max_steps": str(limits.max_steps),
                "max_tokens": str(limits.max_tokens),
                "checks": checks,
            },
        )
        prompt = FIRST_MESSAGE.format(task_id=job.task.id, title=job.task.title)
        if job.on_start is not None:
            job.on_start(os.getpid())  # the agent runs inside this process
        started = time.monotonic()
        gateway = Gateway.open(job.ws, raw=base.raw)
        try:
            result = agentloop.converse(
                gateway,
                agent=agent.name,
                task=job.task.id,
                system=system,
                prompt=prompt,
                toolbox=box,
                limits=limits,
                cancel=job.cancel,
                progress=job.progress,
            )
        finally:
            gateway.close()
        duration = round(time.monotonic() - started, 3)
        text = job.redactor.text(result.final_text)
        data = {**result.to_json(), "duration_s": duration, "output_tail": text[-1000:]}
        data["reason"] = job.redactor.text(result.reason)
        if result.ok:
            summary = job.redactor.text(result.finished_summary or result.reason)
            reason = f"{agent.name} finished in {result.steps} step(s): {summary}"
            return RunOutcome(True, reason[:500], None, duration, text, data)
        return RunOutcome(False, job.redactor.text(result.reason), None, duration, text, data)
