"""The generated blocks of ``docs/roles/*.md``: what each lane may do, from the code.

The prose of a role page is written by hand; blocks between
``<!-- docgen:NAME [ARG] -->`` and ``<!-- /docgen -->`` are rewritten from
the capability table in :mod:`lanectl.policy`, the red-rule labels in
:mod:`lanectl.cmdscan`, the model tools in :mod:`lanectl.toolbox` and the
placeholders of the shipped prompt templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from lanectl.docgen import cell
from lanectl.errors import LaneError

ROLES_DIR = "docs/roles"
UNDOCUMENTED = "**undocumented**"
BLOCK = re.compile(r"(<!-- docgen:([\w-]+)(?: ([\w./-]+))? -->\n)(.*?)(<!-- /docgen -->)", re.S)
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


def placeholder_text() -> dict[str, dict[str, str]]:
    """What each placeholder of a shipped prompt is filled with (by the code that fills it)."""
    from lanectl.agentloop import MAX_STEPS, MAX_TOKENS
    from lanectl.builderprompt import ADR_CAP, SECTION_CAP

    section = f"{SECTION_CAP:,} characters at most"
    return {
        "prompts/builder.md": {
            "agent": "the builder's name in `agents`, e.g. `builder-claude`",
            "task_id": "the task id, e.g. `T-7K2M`",
            "title": "the task's title",
            "goal": f"the task file's `## Goal` section ({section})",
            "acceptance": f"the task file's `## Acceptance` section ({section})",
            "notes": "the task file's `## Log`: notes from earlier attempts, reviews and "
            f"decisions ({section})",
            "adrs": "the full text of each ADR the task names (`adrs:`), read from the base "
            f"branch's commit, {ADR_CAP:,} characters each; `(none named by the task)` "
            "otherwise",
            "base": "the base branch, e.g. `main`",
            "worktree": "the absolute path of the task's worktree",
            "paths": "the task's write scope (`paths:`), or `anywhere in the repository`",
            "checks": "the configured `checks`, or `none configured`",
        },
        "prompts/builder-tools.md": {
            "commands": "what `run` may start: the configured `checks` and the base "
            "branch's `tools.commands` patterns, or `none are configured`",
            "run_timeout": "seconds one `run` may take (`tools.run_timeout_s`, at most the "
            "agent's timeout)",
            "max_steps": f"the agent's `max_steps` (unset: {MAX_STEPS})",
            "max_tokens": f"the agent's `max_tokens` (unset: {MAX_TOKENS:,})",
            "checks": "the configured `checks`, or `none configured`",
        },
        **_review_placeholders(),
    }


def _review_placeholders() -> dict[str, dict[str, str]]:
    """The reviewers' templates, as :mod:`lanectl.reviewprompt` fills them."""
    from lanectl.builderprompt import ADR_CAP
    from lanectl.reviewprompt import STANDARD_CAP, STANDARDS_CAP

    base = "the base branch, e.g. `main`"
    adrs = (
        "the full text of every accepted ADR whose `paths:` the diff touches, and of each ADR "
        f"the task names, read from the base branch's commit, {ADR_CAP:,} characters each"
    )
    output = "`prompts/review-output.md`, filled: the untrusted-material rules, the tools and "
    output += "the answer's JSON format"
    return {
        "prompts/reviewer.md": {"base": base, "adrs": adrs, "output": output},
        "prompts/designer.md": {"base": base, "adrs": adrs, "output": output},
        "prompts/security.md": {
            "base": base,
            "standards": f"every `docs/standards/*.md` of the base branch's commit, "
            f"{STANDARD_CAP:,} characters each and {STANDARDS_CAP:,} in all",
            "output": output,
        },
        "prompts/review-output.md": {
            "tools": "what the read-only tools may do: `run`'s allowed commands (the "
            "configured `checks` and `tools.commands`)",
            "verdicts": "the verdicts the role may give (`veto` for security only)",
            "categories": "example finding categories for the role",
            "veto_rule": "for security: that a veto needs a blocker finding with evidence; "
            "empty otherwise",
        },
    }


LANES = ("builder", "review")  # the model loop's tool sets: builders write, reviews read


def _capabilities(role: str | None) -> list[str]:
    from lanectl import policy

    if role not in policy.ROLES:
        raise LaneError(f"docgen:capabilities needs a role ({', '.join(policy.ROLES)})")
    lines = [f"| action | rule | {role} | who may | if it tries anyway |", "|---|---|---|---|---|"]
    for kind, (what, roles) in policy.CAPABILITIES.items():
        may = role in roles
        who = ", ".join(r for r in policy.ROLES if r in roles)
        instead = "" if may else policy.NEXT_STEP.get(kind, "refused")
        lines.append(
            f"| {what} | `lane.{kind}` | {'✓' if may else '✗'} | {who} | {cell(instead)} |"
        )
    return lines


def _red_rules(_: str | None) -> list[str]:
    from lanectl import cmdscan

    lines = ["| rule | refused, for every role |", "|---|---|"]
    for rule, label in cmdscan.LABELS.items():
        if rule.startswith("red."):
            lines.append(f"| `{rule}` | {cell(label)} |")
    return lines


def _tools(lane: str | None) -> list[str]:
    from lanectl.toolbox import READ_TOOLS, SPECS, WRITE_TOOLS

    if lane not in LANES:
        raise LaneError(f"docgen:tools needs one of {', '.join(LANES)}")
    names = (*WRITE_TOOLS, "finish") if lane == "builder" else READ_TOOLS
    lines = ["| tool | what it does |", "|---|---|"]
    lines += [f"| `{name}` | {cell(SPECS[name].description)} |" for name in names]
    return lines


def _placeholders(template: str | None) -> list[str]:
    from lanectl import templates

    if template is None:
        raise LaneError("docgen:placeholders needs a template name, e.g. prompts/builder.md")
    text = templates.shipped(template)
    known = placeholder_text().get(template, {})
    lines = ["| placeholder | filled with |", "|---|---|"]
    for name in dict.fromkeys(_PLACEHOLDER.findall(text)):
        lines.append(f"| `{{{name}}}` | {cell(known.get(name, UNDOCUMENTED))} |")
    return lines


BLOCKS: dict[str, Callable[[str | None], list[str]]] = {
    "capabilities": _capabilities,
    "red-rules": _red_rules,
    "tools": _tools,
    "placeholders": _placeholders,
}


def fill(text: str, where: str) -> str:
    """``text`` with every generated block rewritten."""

    def block(match: re.Match[str]) -> str:
        opening, name, arg, _, closing = match.groups()
        render = BLOCKS.get(name)
        if render is None:
            raise LaneError(f"{where}: unknown block docgen:{name} (known: {', '.join(BLOCKS)})")
        return opening + "\n".join(render(arg)) + "\n" + closing

    return BLOCK.sub(block, text)


def pages(root: Path) -> list[tuple[str, str]]:
    """(path, text) of every role page under ``root`` with its blocks filled."""
    found: list[tuple[str, str]] = []
    for path in sorted((root / ROLES_DIR).glob("*.md")):
        rel = f"{ROLES_DIR}/{path.name}"
        found.append((rel, fill(path.read_text(encoding="utf-8"), rel)))
    return found
