"""Shipped templates (``templates/`` in the source tree, ``lanectl/templates`` in the
wheel), overridable per repository in ``.lanes/templates/``."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from lanectl.errors import LaneError


def _shipped(name: str) -> str | None:
    packaged = resources.files("lanectl").joinpath("templates", name)
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # An editable install of a source checkout: the templates sit beside src/.
    source = Path(__file__).resolve().parents[2] / "templates" / name
    if source.is_file():
        return source.read_text(encoding="utf-8")
    return None


def read(name: str, root: Path | None = None) -> str:
    if root is not None:
        override = root / ".lanes" / "templates" / name
        if override.is_file():
            return override.read_text(encoding="utf-8")
    text = _shipped(name)
    if text is None:
        raise LaneError(f"template {name} is missing from this lanectl installation")
    return text


def shipped(name: str) -> str:
    text = _shipped(name)
    if text is None:
        raise LaneError(f"template {name} is missing from this lanectl installation")
    return text


def fill(text: str, **values: str) -> str:
    """Replace ``{name}`` for the given names only (templates contain YAML braces)."""
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


OVERRIDE_DIR = ".lanes/templates"


def from_base(repo: Path, base_sha: str, name: str) -> str:
    """A template as the base branch at ``base_sha`` overrides it, else the shipped one.

    Prompt templates are policy: a task branch or a dispatcher's work tree must
    not be able to rewrite what an agent is told, so overrides count only from
    the base branch's commit (ADR 0026).
    """
    from lanectl import git

    override = git.show_file(base_sha, f"{OVERRIDE_DIR}/{name}", repo)
    if override is not None:
        return override.decode("utf-8", "replace")
    return shipped(name)
