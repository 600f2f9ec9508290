"""``docs/config.md``: every key of ``.lanes/config.yaml`` from the pydantic schema.

Each model of :func:`lanectl.config._models` becomes a section and each field a
row: its type, default, constraints (from the field's metadata and the
docstrings of its validators) and its ``Field(description=...)``.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from lanectl.docgen import cell

PATH = "docs/config.md"
UNDOCUMENTED = "**undocumented**"
SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}
BOUNDS = (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤"))


@dataclass(frozen=True)
class Section:
    title: str  # the key path, e.g. agents.<name>
    model: type[BaseModel]


def anchor(title: str) -> str:
    """The anchor GitHub gives a heading (punctuation dropped, spaces to hyphens)."""
    return re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")


def _heading(section: Section) -> str:
    return "Top level" if not section.title else f"`{section.title}`"


def _optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _nested(annotation: Any) -> tuple[str, type[BaseModel]] | None:
    """(suffix of the key path, model) when a field holds one model or a collection of them."""
    annotation = _optional(annotation)
    origin = get_origin(annotation)
    if origin is list and _is_model(get_args(annotation)[0]):
        return "[]", get_args(annotation)[0]
    if origin is dict and _is_model(get_args(annotation)[1]):
        return ".<name>", get_args(annotation)[1]
    if _is_model(annotation):
        return "", annotation
    return None


def _is_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


def sections(model: type[BaseModel], title: str = "") -> Iterator[Section]:
    """The model and every model under it, depth first in field order."""
    yield Section(title, model)
    for name, field in model.model_fields.items():
        nested = _nested(field.annotation)
        if nested is not None:
            suffix, sub = nested
            yield from sections(sub, f"{title}.{name}{suffix}" if title else f"{name}{suffix}")


def _type(annotation: Any, where: dict[type[BaseModel], str]) -> str:
    annotation = _optional(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        values = [f"`{_yaml(v)}`" for v in get_args(annotation)]
        return values[0] if len(values) == 1 else "one of " + ", ".join(values)
    if origin is list:
        item = _type(get_args(annotation)[0], where)
        return f"list of {item}s" if item in SCALARS.values() else f"list of {item}"
    if origin is dict:
        return f"mapping of name → {_type(get_args(annotation)[1], where)}"
    if _is_model(annotation):
        title = f"`{where[annotation]}`"
        return f"[{title}](#{anchor(title)})"
    return SCALARS.get(annotation, str(annotation))


def _yaml(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, list | dict) and not value:
        return "[]" if isinstance(value, list) else "{}"
    return str(value)


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{_yaml(value)}`"


def _validator_notes(model: type[BaseModel]) -> dict[str, list[str]]:
    notes: dict[str, list[str]] = {}
    for decorator in model.__pydantic_decorators__.field_validators.values():
        doc = inspect.getdoc(decorator.func)
        if doc:
            for name in decorator.info.fields:
                notes.setdefault(name, []).append(" ".join(doc.split()))
    return notes


def _constraints(field: FieldInfo, notes: list[str]) -> str:
    found: list[str] = []
    items = "item" if get_origin(_optional(field.annotation)) is list else "character"
    for meta in field.metadata:
        for attr, sign in BOUNDS:
            if getattr(meta, attr, None) is not None:
                found.append(f"{sign} {getattr(meta, attr)}")
        if getattr(meta, "min_length", None) is not None:
            count = meta.min_length
            found.append(f"at least {count} {items}{'s' if count != 1 else ''}")
        if getattr(meta, "pattern", None) is not None:
            found.append(f"matches `{meta.pattern}`")
    return "; ".join(found + notes)


def undocumented(model: type[BaseModel] | None = None) -> list[str]:
    """Key paths of fields without a description."""
    model = model or _schema()
    return [
        f"{section.title + '.' if section.title else ''}{name}"
        for section in sections(model)
        for name, field in section.model.model_fields.items()
        if not field.description
    ]


def _schema() -> type[BaseModel]:
    from lanectl import config

    return config._models()


def render(regenerate: str) -> str:
    found = list(sections(_schema()))
    where = {section.model: section.title for section in found}
    lines = [
        "# Configuration reference: `.lanes/config.yaml`",
        "",
        "<!-- Generated from the schema in src/lanectl/config.py; do not edit by hand. -->",
        "",
        "The org chart, budgets and policy of a repository. It is policy: lanectl",
        "judges a task by the **base branch's** copy, never the working tree's, so",
        "change it through a reviewed, high-tier merge. `lanectl check` validates the",
        "working tree's copy against this schema and names file, line and key path for",
        "every problem. Unknown keys are errors (with a suggestion), values are not",
        'converted (`rpm: "50"` is not a number), and anything that looks like a',
        "literal secret is refused: name the environment variable that holds it.",
        "`lanectl init` writes a commented example (`templates/config.yaml`).",
        "",
        f"This page is generated: after changing the schema, run `{regenerate}`.",
        "",
    ]
    lines += [f"* [{_heading(s)}](#{anchor(_heading(s))})" for s in found]
    for section in found:
        lines += ["", f"## {_heading(section)}", ""]
        doc = inspect.getdoc(section.model)
        if doc:
            lines += [" ".join(doc.split()), ""]
        lines += ["| key | type | default | constraints | description |", "|---|---|---|---|---|"]
        notes = _validator_notes(section.model)
        for name, field in section.model.model_fields.items():
            row = (
                f"`{name}`",
                _type(field.annotation, where),
                _default(field),
                _constraints(field, notes.get(name, [])),
                field.description or UNDOCUMENTED,
            )
            lines.append("| " + " | ".join(cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"
