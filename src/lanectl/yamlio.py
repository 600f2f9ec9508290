"""The one YAML module: safe loading with line numbers, front matter, and a
line editor that changes only the text of the keys it touches.

People edit these files by hand; lanectl must keep their comments, key order
and keys it does not know (STYLE §10).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import yaml

from lanectl.errors import LaneError

try:
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - libyaml is in every wheel we ship on
    _Loader = yaml.SafeLoader

MAX_FILE_BYTES = 1_000_000


class _StringDateLoader(_Loader):  # type: ignore[misc]
    """Safe loader that keeps timestamps as the strings people wrote."""


_StringDateLoader.add_constructor(
    "tag:yaml.org,2002:timestamp",
    lambda loader, node: loader.construct_scalar(node),
)


def decode(data: bytes, where: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise LaneError(
            f"file is too large ({len(data):,} bytes; the limit is {MAX_FILE_BYTES:,})",
            where=where,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LaneError(
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x})", where=f"{where}:{line}"
        ) from None


def load(text: str, where: str, *, first_line: int = 1) -> Any:
    """``yaml.safe_load`` with a one-line error naming ``where:line``."""
    try:
        return yaml.load(text, Loader=_StringDateLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = first_line + mark.line if mark is not None else first_line
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise LaneError(f"malformed YAML: {problem}", where=f"{where}:{line}") from None


def key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map every key path in a YAML document to its 1-based line number.

    Used only to point error messages at the right line; costs a compose pass.
    """
    lines: dict[tuple[str | int, ...], int] = {}
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return lines

    def walk(node: yaml.Node, path: tuple[str | int, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = (*path, str(key_node.value))
                lines[key] = key_node.start_mark.line + 1
                walk(value_node, key)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                key = (*path, index)
                lines[key] = item.start_mark.line + 1
                walk(item, key)

    if root is not None:
        walk(root, ())
    return lines


def dump_flow(value: Any) -> str:
    """One-line YAML for a value: ``[a, b]``, ``'x: y'``, ``medium``."""
    text: str = yaml.safe_dump(
        value, default_flow_style=True, width=1_000_000, allow_unicode=True, sort_keys=False
    )
    text = text.rstrip("\n")
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    return text


def dump_block(value: Any) -> str:
    text: str = yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=100)
    return text


# ---------------------------------------------------------------------------
# Front matter


_FENCE = re.compile(r"^---[ \t]*$")
_END = re.compile(r"^(---|\.\.\.)[ \t]*$")


@dataclass(frozen=True)
class FrontMatter:
    yaml_text: str  # the lines between the fences, each ending in "\n"
    body: str
    first_line: int  # file line number of the first YAML line


def split(text: str, where: str) -> FrontMatter:
    lines = text.splitlines(keepends=True)
    if not lines or not _FENCE.match(lines[0].rstrip("\r\n")):
        raise LaneError("no front matter (the file must start with a '---' line)", where=where)
    for index in range(1, len(lines)):
        if _END.match(lines[index].rstrip("\r\n")):
            return FrontMatter("".join(lines[1:index]), "".join(lines[index + 1 :]), 2)
    raise LaneError("front matter is not closed by a '---' line", where=f"{where}:1")


def join(front: str, body: str) -> str:
    if front and not front.endswith("\n"):
        front += "\n"
    return f"---\n{front}---\n{body}"


_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]|$)")


def _top_level_spans(front: str) -> Iterator[tuple[str, int, int]]:
    """(key, first line index, end line index exclusive) of each top-level key."""
    lines = front.splitlines(keepends=True)
    starts: list[tuple[str, int]] = []
    for index, line in enumerate(lines):
        match = _TOP_KEY.match(line)
        if match:
            starts.append((match.group(1), index))
    for position, (key, start) in enumerate(starts):
        end = starts[position + 1][1] if position + 1 < len(starts) else len(lines)
        # Trailing comment or blank lines belong to what follows, not to this key.
        while end - 1 > start and (
            not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")
        ):
            end -= 1
        yield key, start, end


_TRAILING_COMMENT = re.compile(r"[ \t]+#[^'\"]*$")


def set_key(front: str, key: str, value: Any) -> str:
    """Set top-level ``key`` to ``value`` changing only that key's text.

    A comment at the end of the key's line is kept; a missing key is appended.
    """
    lines = front.splitlines(keepends=True)
    rendered = f"{key}: {dump_flow(value)}"
    for name, start, end in _top_level_spans(front):
        if name != key:
            continue
        first = lines[start].rstrip("\r\n")
        comment = ""
        if end - start == 1:
            match = _TRAILING_COMMENT.search(first)
            if match:
                comment = match.group(0)
        lines[start:end] = [rendered + comment + "\n"]
        return "".join(lines)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    lines.append(rendered + "\n")
    return "".join(lines)
