"""Times as people type them (``1d``, ``2026-11-24``) and as we print them (``3h 12m``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from lanectl.errors import LaneError

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def to_ts(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ts(text: str) -> datetime | None:
    """A ledger/task timestamp (``2026-11-24T10:00:00.123Z``) → aware datetime."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_moment(text: str, *, option: str, now: datetime | None = None) -> str:
    """``--since 1d`` / ``--until 2026-11-24T10:00Z`` → a comparable ts string."""
    now = now or datetime.now(UTC)
    match = _RELATIVE.match(text.strip())
    if match:
        return to_ts(now - timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)]))
    moment = parse_ts(text.strip())
    if moment is None:
        raise LaneError(
            f"{option} '{text}' is not a time; use e.g. 30m, 2h, 1d, 1w or 2026-11-24T10:00Z"
        )
    return to_ts(moment)


def duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, _ = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"
