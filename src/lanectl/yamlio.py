"""The one YAML module: safe loading with line numbers, front matter, and a
line editor that changes only the text of the keys it touches.

People edit these files by hand; lanectl must keep their comments, key order
and keys it does not know (STYLE §10).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanectl.errors import LaneError

if TYPE_CHECKING:
    import yaml
else:

    class _LazyYaml:
        """PyYAML costs ~20 ms to import; warm listings read only caches and never need it."""

        def __getattr__(self, name: str) -> Any:
            import yaml as module

            return getattr(module, name)

    yaml = _LazyYaml()

MAX_FILE_BYTES = 1_000_000


@cache
def _loaders() -> tuple[Any, Any]:
    """(safe loader, safe loader that keeps timestamps as the strings people wrote)."""
    base: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader

    class StringDateLoader(base):  # type: ignore[misc]
        pass

    StringDateLoader.add_constructor(
        "tag:yaml.org,2002:timestamp",
        lambda loader, node: loader.construct_scalar(node),
    )
    return base, StringDateLoader


def decode(data: bytes, where: str, *, limit: int = MAX_FILE_BYTES) -> str:
    if len(data) > limit:
        raise LaneError(
            f"file is too large ({len(data):,} bytes; the limit is {limit:,})", where=where
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LaneError(
            f"invalid UTF-8 (byte 0x{data[exc.start]:02x})", where=f"{where}:{line}"
        ) from None


def read_bounded(path: Path, where: str, limit: int = MAX_FILE_BYTES) -> str:
    """Read a small text file people may have edited, refusing surprises.

    Never reads more than ``limit`` + 1 bytes (a 50 MB file is rejected by its
    size, not loaded), never follows a symbolic link and never blocks on a FIFO
    or a device: only regular files are read.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LaneError(
                "is a symbolic link; only regular files are read", where=where
            ) from None
        raise LaneError(f"cannot read: {exc.strerror}", where=where) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise LaneError("is not a regular file", where=where)
        if st.st_size > limit:
            raise LaneError(
                f"file is too large ({st.st_size:,} bytes; the limit is {limit:,})", where=where
            )
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise LaneError(f"cannot read: {exc.strerror}", where=where) from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:  # it grew while we read it
        raise LaneError(f"file is too large (over the limit of {limit:,} bytes)", where=where)
    return decode(data, where, limit=limit)


def load(text: str, where: str, *, first_line: int = 1) -> Any:
    """``yaml.safe_load`` with a one-line error naming ``where:line``."""
    try:
        return yaml.load(text, Loader=_loaders()[1])
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
        root = yaml.compose(text, Loader=_loaders()[0])
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
    """One-line YAML for a value: ``[a, b]``, ``'x: y'``, ``medium``, ``"a\\nb"``."""

    def dump(style: str | None) -> str:
        text: str = yaml.safe_dump(
            value,
            default_flow_style=True,
            default_style=style,
            width=1_000_000,
            allow_unicode=True,
            sort_keys=False,
        )
        text = text.rstrip("\n")
        if text.endswith("\n..."):
            text = text[: -len("\n...")]
        return text

    text = dump(None)
    # A line break inside a value folds onto more lines; escape it instead.
    return text if "\n" not in text else dump('"')


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
    opening: str = "---\n"  # the fence lines exactly as written
    closing: str = "---\n"

    def with_yaml(self, yaml_text: str) -> str:
        """The whole file with new front matter and everything else byte-for-byte."""
        return self.opening + yaml_text + self.closing + self.body

    def with_body(self, body: str) -> str:
        return self.opening + self.yaml_text + self.closing + body


def split(text: str, where: str) -> FrontMatter:
    lines = text.splitlines(keepends=True)
    if not lines or not _FENCE.match(lines[0].rstrip("\r\n")):
        raise LaneError("no front matter (the file must start with a '---' line)", where=where)
    for index in range(1, len(lines)):
        if _END.match(lines[index].rstrip("\r\n")):
            return FrontMatter(
                yaml_text="".join(lines[1:index]),
                body="".join(lines[index + 1 :]),
                first_line=2,
                opening=lines[0],
                closing=lines[index],
            )
    raise LaneError("front matter is not closed by a '---' line", where=f"{where}:1")


def join(front: str, body: str) -> str:
    if front and not front.endswith("\n"):
        front += "\n"
    return f"---\n{front}---\n{body}"


def _is_filler(line: str) -> bool:
    """A blank or comment-only line: it belongs to what follows, not to a value."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def set_key(front: str, key: str, value: Any) -> str:
    """Set top-level ``key`` to ``value`` changing only that key's text.

    The key's lines (its value may span several) become one line; a comment on
    the key's line or at the end of its value is kept, and so is every other
    byte of the front matter. A missing key is appended.
    """
    lines = front.splitlines(keepends=True)
    try:
        root = yaml.compose(front, Loader=_loaders()[0])
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise LaneError(f"front matter{line}: malformed YAML, cannot set {key}") from None
    if root is not None and not isinstance(root, yaml.MappingNode):
        raise LaneError(f"front matter is not a mapping, cannot set {key}")
    found: tuple[yaml.Node, yaml.Node] | None = None
    for key_node, value_node in root.value if root is not None else []:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            found = (key_node, value_node)  # the last one wins, as it does when loading
    rendered = f"{key}: {dump_flow(value)}"
    if found is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(rendered + "\n")
        return "".join(lines)
    key_node, value_node = found
    start = key_node.start_mark.line
    end_mark = value_node.end_mark
    if end_mark.column == 0 and end_mark.line > start:
        # A block value ends where the next token starts; comments and blank
        # lines before that belong to what follows.
        end = end_mark.line
        while end - 1 > start and _is_filler(lines[end - 1]):
            end -= 1
        tail = ""
    else:
        end = end_mark.line + 1
        tail = lines[end_mark.line][end_mark.column :]
    if value_node.start_mark.line > start or not tail.strip():
        # `key:   # why` with the value below: the comment is on the key's line.
        after = lines[start][key_node.end_mark.column :].lstrip(" \t")
        tail = after[1:] if after.startswith(":") else ""
    comment = tail.rstrip("\r\n")
    comment = comment if comment.strip().startswith("#") else ""
    newline = "\r\n" if lines[start].endswith("\r\n") else "\n"
    lines[start:end] = [rendered + comment + newline]
    return "".join(lines)
