"""Path globs as people write them in policy: ``src/**``, ``**/*.tf``, ``docs/*.md``.

``*`` and ``?`` stay within one path segment; ``**`` spans segments (also
none: ``src/**`` matches ``src/a.py`` and ``src/x/y.py``, ``**/*.tf`` matches
``main.tf``). Matching is on POSIX relative paths, case-sensitive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache


@lru_cache(maxsize=1024)
def compile_glob(pattern: str) -> re.Pattern[str]:
    pattern = pattern.strip().lstrip("/")
    if pattern.endswith("/"):
        pattern += "**"
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out) + r"\Z")


def match(pattern: str, path: str) -> bool:
    return compile_glob(pattern).match(path) is not None


def match_any(patterns: Iterable[str], path: str) -> str | None:
    """The first pattern that matches ``path``, or None."""
    for pattern in patterns:
        if match(pattern, path):
            return pattern
    return None
