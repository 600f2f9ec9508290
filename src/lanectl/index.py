"""A rebuildable cache of parsed files, under the git common dir (ADR 0006).

It is never the source of truth: an entry is used only while the file's
(mtime_ns, ctime_ns, size, inode) are unchanged, so ``git checkout``, ``git
pull`` and hand edits are seen at once; deleting the cache costs one reparse.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

Record = dict[str, Any]
Parser = Callable[[str, Path, os.stat_result], Record]


def _stamp(st: os.stat_result) -> list[int]:
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]


def load(
    cache_file: Path, directory: Path, parse: Parser, *, version: str, suffix: str = ".md"
) -> dict[str, Record]:
    """Parsed records of every ``*suffix`` file in ``directory``, by file name."""
    try:
        cached = json.loads(cache_file.read_bytes())
        if cached.get("version") != version or not isinstance(cached.get("entries"), dict):
            cached = {"entries": {}}
    except (OSError, ValueError, AttributeError):
        cached = {"entries": {}}
    old: dict[str, Any] = cached["entries"]
    fresh: dict[str, Any] = {}
    records: dict[str, Record] = {}
    changed = False
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        entries = []
    for entry in entries:
        name = entry.name
        if not name.endswith(suffix) or name.startswith("."):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        stamp = _stamp(st)
        hit = old.get(name)
        if hit is not None and hit[0] == stamp:
            record = hit[1]
        else:
            record = parse(name, Path(entry.path), st)
            changed = True
        fresh[name] = [stamp, record]
        records[name] = record
    if changed or len(fresh) != len(old):
        _save(cache_file, {"version": version, "entries": fresh})
    return records


def _save(cache_file: Path, payload: dict[str, Any]) -> None:
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, cache_file)
    except OSError:
        pass  # a cache that cannot be written is only slower, never wrong
