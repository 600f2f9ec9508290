"""Which lines of a pull request's diff can carry an inline comment.

GitHub rejects a whole review (422) when one inline comment is on a line
outside the diff, so every comment is placed here first: a comment goes
inline only when its lines fall inside one hunk of the unified diff on its
side (RIGHT: the new file's context and added lines; LEFT: the old file's
context and deleted lines); any other goes to the review body.

The diff is the pull request's: ``base...head`` (from the merge base), with
rename detection, three lines of context and every option that could change
the hunks pinned, so the repository's configuration cannot move them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lanectl import git
from lanectl.forge.base import InlineComment

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


@dataclass(frozen=True)
class Hunk:
    old_start: int
    old_count: int
    new_start: int
    new_count: int

    def holds(self, side: str, first: int, last: int) -> bool:
        start, count = (
            (self.new_start, self.new_count)
            if side == "RIGHT"
            else (self.old_start, self.old_count)
        )
        return count > 0 and start <= first <= last < start + count


@dataclass(frozen=True)
class DiffMap:
    """Hunks per file path (the new path; the old one for a deleted file)."""

    files: dict[str, tuple[Hunk, ...]] = field(default_factory=dict)

    def fits(self, comment: InlineComment) -> bool:
        first = comment.start_line if comment.start_line is not None else comment.line
        if first < 1 or first > comment.line:
            return False
        hunks = self.files.get(comment.path, ())
        return any(h.holds(comment.side, first, comment.line) for h in hunks)

    def place(
        self, comments: Sequence[InlineComment]
    ) -> tuple[tuple[InlineComment, ...], tuple[InlineComment, ...]]:
        """(comments that fit on lines of the diff, comments that go to the body)."""
        inline = tuple(c for c in comments if self.fits(c))
        return inline, tuple(c for c in comments if not self.fits(c))


def _unquote(text: str) -> str:
    """A path as git prints it: C-quoted when it holds special characters."""
    if not (len(text) >= 2 and text.startswith('"') and text.endswith('"')):
        return text
    body, out, i = text[1:-1], bytearray(), 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 == len(body):
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in "01234567" and re.fullmatch(r"[0-7]{3}", body[i + 1 : i + 4]):
            out.append(int(body[i + 1 : i + 4], 8))
            i += 4
            continue
        out += _ESCAPES.get(nxt, nxt).encode("utf-8")
        i += 2
    return out.decode("utf-8", "surrogateescape")


def _path(header: str, prefix: str) -> str | None:
    """The path of a ``--- a/x`` / ``+++ b/x`` line; None for /dev/null."""
    raw = header[4:]
    # git quotes names with special characters, and ends a name holding a space with a TAB
    name = _unquote(raw.rstrip("\t")) if raw.startswith('"') else raw.split("\t")[0]
    if name == "/dev/null":
        return None
    return name[len(prefix) :] if name.startswith(prefix) else name


def parse(diff: str) -> DiffMap:
    """Hunks of a unified diff (``git diff`` output with a/ and b/ prefixes)."""
    files: dict[str, list[Hunk]] = {}
    lines = diff.split("\n")
    old_path: str | None = None
    current: list[Hunk] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if line.startswith("diff --git "):
            old_path, current = None, None
        elif line.startswith("--- ") and current is None:
            old_path = _path(line, "a/")
        elif line.startswith("+++ ") and current is None:
            path = _path(line, "b/") or old_path
            if path is not None:
                current = files.setdefault(path, [])
        elif current is not None and (match := _HUNK.match(line)):
            hunk = Hunk(
                int(match.group(1)),
                int(match.group(2) if match.group(2) is not None else 1),
                int(match.group(3)),
                int(match.group(4) if match.group(4) is not None else 1),
            )
            current.append(hunk)
            # Skip the hunk's body by its counts: an added line may read "+++ b/x".
            old, new = hunk.old_count, hunk.new_count
            while (old > 0 or new > 0) and i < len(lines):
                body = lines[i]
                i += 1
                if body.startswith("\\"):  # "\ No newline at end of file"
                    continue
                if body.startswith("-"):
                    old -= 1
                elif body.startswith("+"):
                    new -= 1
                else:  # context (or an empty context line git prints without its space)
                    old, new = old - 1, new - 1
    return DiffMap({path: tuple(hunks) for path, hunks in files.items()})


DIFF_OPTIONS = (
    "--no-color", "--no-ext-diff", "--no-textconv", "--no-relative", "--find-renames",
    "-U3", "--inter-hunk-context=0", "--diff-algorithm=default",
    "--src-prefix=a/", "--dst-prefix=b/",
)  # fmt: skip


def unified(repo: Path, base: str, head: str) -> str:
    """The pull request's diff of ``head`` against ``base`` (from their merge base)."""
    proc = git.run(
        ["-c", "core.quotePath=false", "-c", "core.commitGraph=false", "diff", *DIFF_OPTIONS,
         f"{base}...{head}"],
        repo,
    )  # fmt: skip
    return proc.stdout.decode("utf-8", "surrogateescape")


def for_range(repo: Path, base: str, head: str) -> DiffMap:
    return parse(unified(repo, base, head))
