"""A rebuildable cache of parsed files, under the git common dir (ADR 0006).

It is never the source of truth: an entry is used only while the file's
(mtime_ns, ctime_ns, size, inode) are unchanged, so ``git checkout``, ``git
pull`` and hand edits are seen at once; deleting or damaging the cache costs
one reparse.

Like git's index it guards against *racy* entries: file system clocks tick
coarsely (a jiffy on Linux, a second or two elsewhere), so a file changed
twice within one tick keeps its stamp. An entry is stored only when its stamp
is older than the file system's clock at the start of the scan, read from a
probe file next to the cache; anything changed later gets a newer stamp.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

Record = dict[str, Any]
Parser = Callable[[str, Path, os.stat_result], Record]


def _read(cache_file: Path, version: str) -> dict[str, Any]:
    """The cached entries; empty when the cache is missing, stale or damaged."""
    try:
        cached = json.loads(cache_file.read_bytes())
        entries = cached["entries"] if cached.get("version") == version else None
        if isinstance(entries, dict):
            return entries
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        pass
    return {}


def fs_now(directory: Path) -> int | None:
    """The file system's own clock (ns), read by creating a probe file; None if we cannot."""
    probe = directory / f".clock.{os.getpid()}"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        return None
    try:
        return os.fstat(fd).st_mtime_ns
    finally:
        os.close(fd)
        probe.unlink(missing_ok=True)


Entry = tuple[str, str, os.stat_result]  # (name, path, lstat)


def scan(directory: Path, suffix: str = ".md") -> list[Entry]:
    """Every ``*suffix`` file (not dot files) in ``directory`` with its lstat; [] if absent.

    The one directory scan behind both the snapshot's fingerprint and the
    per-file entries, so a snapshot miss does not stat every file twice.
    """
    found: list[Entry] = []
    try:
        entries = os.scandir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return found
    with entries:
        for entry in entries:
            name = entry.name
            if not name.endswith(suffix) or name.startswith("."):
                continue
            try:
                found.append((name, entry.path, entry.stat(follow_symlinks=False)))
            except FileNotFoundError:
                continue
    return found


def load(
    cache_file: Path,
    directory: Path,
    parse: Parser,
    *,
    version: str,
    suffix: str = ".md",
    scanned: list[Entry] | None = None,
) -> dict[str, Record]:
    """Parsed records of every ``*suffix`` file in ``directory``, by file name.

    ``scanned`` is a :func:`scan` the caller already made of ``directory``.
    """
    old = _read(cache_file, version)
    fresh: dict[str, Any] = {}
    records: dict[str, Record] = {}
    scan_start: int | None = None
    probed = False
    changed = False
    for name, path, st in scanned if scanned is not None else scan(directory, suffix):
        stamp = [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]
        hit = old.get(name)
        # Used only when well formed and stamped exactly as the file is now.
        if (
            type(hit) is list
            and len(hit) == 2
            and hit[0] == stamp
            and type(record := hit[1]) is dict
        ):
            fresh[name] = hit
        else:
            if not probed:
                scan_start, probed = fs_now(cache_file.parent), True
            record = parse(name, Path(path), st)
            changed = True
            # Stamped in the tick we are in: a change later in this tick would
            # keep the stamp, so parse it again next time instead of trusting it.
            if scan_start is not None and max(stamp[0], stamp[1]) < scan_start:
                fresh[name] = [stamp, record]
        records[name] = record
    if changed or fresh.keys() != old.keys():
        save_json(cache_file, {"version": version, "entries": fresh})
    return records


def save_json(cache_file: Path, payload: dict[str, Any]) -> None:
    """Write a cache file atomically; a cache that cannot be written is only slower."""
    tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}.tmp")
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(payload, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, cache_file)
    except OSError:
        # A cache that cannot be written is only slower, never wrong.
        with contextlib.suppress(OSError):
            tmp.unlink()
