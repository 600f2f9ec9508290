"""Identifiers: random task ids and ULIDs, both in Crockford base32.

Task ids are random (40 bits from ``secrets``), never sequential and never a
content hash, so two machines or branches can never allocate the same one
(ADR 0003).
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
TASK_PREFIX = "T-"
TASK_ID_CHARS = 8  # 8 x 5 bits = 40 bits
TASK_ID_RE = re.compile(rf"T-[{ALPHABET}]{{{TASK_ID_CHARS}}}")
_QUERY_RE = re.compile(rf"(?:T-)?[{ALPHABET}]{{1,{TASK_ID_CHARS}}}")
_NORMALISE = str.maketrans({"I": "1", "L": "1", "O": "0"})


def encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_task_id() -> str:
    return TASK_PREFIX + encode(secrets.randbits(5 * TASK_ID_CHARS), TASK_ID_CHARS)


def is_task_id(text: str) -> bool:
    return bool(TASK_ID_RE.fullmatch(text))


def normalise_query(text: str) -> str | None:
    """Turn what a user typed (``7k2m``, ``t-7K2M9Q4D``) into a canonical prefix.

    Returns None when the text cannot be part of a task id (``../x``, ``T-U``),
    so callers refuse it before it comes near a path.
    """
    upper = text.strip().upper()
    body = upper[len(TASK_PREFIX) :] if upper.startswith(TASK_PREFIX) else upper
    body = body.translate(_NORMALISE)
    candidate = TASK_PREFIX + body
    if not _QUERY_RE.fullmatch(candidate):
        return None
    return candidate


_ulid_lock = threading.Lock()
_ulid_last: tuple[int, int] = (0, 0)


def new_ulid(now_ms: int | None = None) -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, monotonic per process."""
    global _ulid_last
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _ulid_lock:
        last_ms, last_rand = _ulid_last
        if ms <= last_ms:
            ms, rand = last_ms, (last_rand + 1) & ((1 << 80) - 1)
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _ulid_last = (ms, rand)
    return encode((ms << 80) | rand, 26)
