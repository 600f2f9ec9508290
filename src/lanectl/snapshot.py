"""A whole-directory snapshot cache: when no file in a directory changed, load
the already-parsed, already-sorted result in one JSON read (ADR 0006).

The fingerprint is a hash over every file's name and stat stamp, so any
edit, checkout, pull, addition or removal changes it. A snapshot is written
only when every file's stamp is older than the file system clock at the
start of the scan (a file changed twice within one tick keeps its stamp).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from lanectl.index import Entry, save_json


def fingerprint(scanned: list[Entry]) -> tuple[str, int]:
    """(digest over names and stamps, newest mtime/ctime in ns) of a directory scan."""
    parts = [
        (name, st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino) for name, _, st in scanned
    ]
    newest = max((max(p[1], p[2]) for p in parts), default=0)
    # Not sorted: a directory nobody changed lists in the same order, and a
    # different order only costs a rebuild. repr of (str, int…) tuples is
    # deterministic and fast (C), unlike hash(), which is salted per process.
    return hashlib.sha256(repr(parts).encode("utf-8", "surrogateescape")).hexdigest(), newest


def read(path: Path, version: str, digest: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != version:
        return None
    if data.get("digest") != digest:
        return None
    return data


def write(path: Path, payload: dict[str, Any]) -> None:
    save_json(path, payload)
