"""The builder's prompt: the task, its governing ADRs and the lane's rules, from a template.

``templates/prompts/builder.md`` (overridable in ``.lanes/templates/``) is
filled from the task file (Goal, Acceptance, the Log's notes), the ADRs the
task names, read from the base branch's commit, and the lane's rules. Every
runner uses it: a command agent reads it from a file, the LLM loop sends it
as the system prompt. Context is written down, not remembered (SPEC §7).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from lanectl import git, templates, yamlio
from lanectl.tasks import Task, _sections
from lanectl.workspace import DECISIONS_DIR, Workspace

TEMPLATE = "prompts/builder.md"
SECTION_CAP = 8000
ADR_CAP = 12000
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def fill(template: str, values: dict[str, str]) -> str:
    """One pass: text that came in through a value is never filled again."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "\n[… cut …]"


def governing_adrs(root: Path, base_sha: str, numbers: Sequence[str]) -> list[tuple[str, str]]:
    """(file name, text) of each ADR the task names, as the base branch has it."""
    names = git.ls_tree_names(base_sha, DECISIONS_DIR, root)
    found: list[tuple[str, str]] = []
    for number in numbers:
        for name in names:
            if name.startswith(f"{number}-") and name.endswith(".md"):
                data = git.show_file(base_sha, f"{DECISIONS_DIR}/{name}", root)
                if data is not None:
                    found.append((name, _cap(data.decode("utf-8", "replace"), ADR_CAP)))
    return found


def render(
    ws: Workspace,
    task: Task,
    *,
    agent: str,
    worktree: Path,
    base: str,
    base_sha: str,
    checks: Sequence[str],
) -> str:
    path = ws.tasks_dir / task.file
    body = yamlio.split(yamlio.read_bounded(path, task.rel_path), task.rel_path).body
    parts = {name: text.strip() for name, text in _sections(body).items()}
    adrs = governing_adrs(ws.root, base_sha, task.adrs)
    adr_text = (
        "\n\n".join(f"## {DECISIONS_DIR}/{name}\n{text.strip()}" for name, text in adrs)
        if adrs
        else "(none named by the task)"
    )
    return fill(
        templates.from_base(ws.root, base_sha, TEMPLATE),
        {
            "agent": agent,
            "task_id": task.id,
            "title": task.title,
            "goal": _cap(parts.get("goal") or "(none)", SECTION_CAP),
            "acceptance": _cap(parts.get("acceptance") or "(none)", SECTION_CAP),
            "notes": _cap(parts.get("log") or "(none)", SECTION_CAP),
            "adrs": adr_text,
            "worktree": str(worktree),
            "base": base,
            "paths": ", ".join(task.paths) if task.paths else "anywhere in the repository",
            "checks": ", ".join(f"`{c}`" for c in checks) or "none configured",
        },
    )
