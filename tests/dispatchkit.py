"""Command builders for tests: small Python agent scripts on PATH, configured on main.

``Builders`` turns an :class:`gatekit.Org` into one whose ``builder-claude``
is a ``provider: command`` agent running a script the test writes, with the
configured checks and ``dispatch:`` settings committed to main (policy is
read from the base branch). A fake credential is exported for it, so tests
can look for the value wherever it must not be. Agents run in the Landlock
sandbox (ADR 0032): what a script reports to its test it writes under
``builders.out``, the one directory outside its worktree the config's
``sandbox.write`` gives it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gatekit import Org
from lanectl import dispatch, tasks
from lanectl.dispatch import Options, Report

OWN_KEY = "sk-ant-test-OWNKEY-0123456789abcdef"  # builder-claude's (anthropic-main)
OTHER_KEY = "sk-test-OTHERKEY-fedcba9876543210"  # reviewer-gpt's (openai-main)
FORGE_TOKEN = "ghp_FORGETOKEN0123456789abcdefABCDEF"
PRELUDE = "import os, sys, time, json, pathlib\n"


class Builders:
    def __init__(self, org: Org, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.org = org
        self.tmp = tmp
        self.bin = tmp / "agent-bin"
        self.bin.mkdir(exist_ok=True)
        self.out = tmp / "agent-out"
        self.out.mkdir(exist_ok=True)
        monkeypatch.setenv("PATH", f"{self.bin}{os.pathsep}{os.environ['PATH']}")
        monkeypatch.setenv("ANTHROPIC_API_KEY", OWN_KEY)

    def script(self, name: str, body: str) -> str:
        path = self.bin / name
        path.write_text(f"#!{sys.executable}\n{PRELUDE}{textwrap.dedent(body)}")
        path.chmod(0o755)
        return name

    def configure(
        self,
        program: str,
        *,
        checks: tuple[str, ...] = (),
        settings: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        sandbox: dict[str, Any] | None = None,
    ) -> None:
        """builder-claude runs ``program --message-file {prompt_file}``; commit it to main."""
        path = self.org.repo / ".lanes" / "config.yaml"
        text = path.read_text()
        agent = {
            "role": "builder", "provider": "command", "model": "claude-sonnet-4-6",
            "family": "anthropic", "budget": "anthropic-main",
            "command": [program, "--message-file", "{prompt_file}"], **(extra or {}),
        }  # fmt: skip
        text, n = re.subn(
            r"^  builder-claude: \{.*\}$",
            f"  builder-claude: {json.dumps(agent)}",
            text,
            flags=re.M,
        )
        assert n == 1
        text = re.sub(r"^checks: .*$", f"checks: {json.dumps(list(checks))}", text, flags=re.M)
        text = re.sub(r"^dispatch: .*\n", "", text, flags=re.M)
        text = re.sub(r"^sandbox: .*\n", "", text, flags=re.M)
        text += f"dispatch: {json.dumps({'lease_s': 5, **(settings or {})})}\n"
        text += f"sandbox: {json.dumps({'write': [str(self.out)], **(sandbox or {})})}\n"
        path.write_text(text)
        self.org.commit_policy("command builder")

    def dispatch(self, **options: Any) -> Report:
        reported: list[tuple[str, str, str]] = []
        opts = Options(**{"once": True, **options})
        return dispatch.run(self.org.ws, opts, lambda *event: reported.append(event))

    def state(self, task_id: str) -> str:
        return tasks.load(self.org.ws).resolve(task_id).state


def worker(body: str) -> str:
    """A builder that writes src/<task>.py (the task id comes from LANECTL_TASK)."""
    return (
        body
        + """
task = os.environ["LANECTL_TASK"]
pathlib.Path("src").mkdir(exist_ok=True)
pathlib.Path(f"src/{task}.py").write_text(f"print({task!r})\\n")
print("wrote", task)
"""
    )
