"""The simulator's configuration: keys and their budgets, latency, faults, the script.

Read from YAML (``load_config``) or a plain dict (``SimConfig.from_dict``), and
validated strictly: the first problem is raised as one line naming
``file:line › key path`` (STYLE §8). Stdlib and PyYAML only; the format is
described in ``templates/sim.yaml`` and ADR "vendor simulator scope".
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lanectl.errors import LaneError

Vendor = Literal["anthropic", "openai"]
FaultKind = Literal["overloaded", "stream_error", "rate_limited", "server_error", "quota"]
FAULT_KINDS: tuple[FaultKind, ...] = (
    "overloaded",
    "stream_error",
    "rate_limited",
    "server_error",
    "quota",
)
ALWAYS = 0  # Turn.fault_times value meaning "every time"


@dataclass(frozen=True)
class Acceleration:
    """At most ``requests`` admitted in any ``window_s`` seconds (simulated time)."""

    requests: int
    window_s: float = 1.0


@dataclass(frozen=True)
class KeyConfig:
    """One API key and its budget. A limit left at None is not enforced."""

    key: str
    vendor: Vendor
    rpm: int | None = None
    input_tpm: int | None = None  # anthropic
    output_tpm: int | None = None  # anthropic
    tpm: int | None = None  # openai: input + output
    capacity_s: float = 60.0  # bucket capacity (the initial burst credit) in seconds of rate
    acceleration: Acceleration | None = None
    outside_fraction: float = 0.0  # share of every rate drained by a consumer we do not see
    quota_tokens: int | None = None  # quota exhausted once this many tokens were admitted
    default_max_tokens: int = 1024  # openai requests without max_completion_tokens


@dataclass(frozen=True)
class Latency:
    base_ms: float = 0.0
    per_token_ms: float = 0.0
    jitter: float = 0.0  # ± this fraction, uniformly, from the seeded generator


@dataclass(frozen=True)
class Storm:
    """529 ``overloaded_error`` with ``probability`` between ``from_s`` and ``until_s``."""

    probability: float = 1.0
    from_s: float = 0.0
    until_s: float | None = None


@dataclass(frozen=True)
class StreamFault:
    """An ``overloaded_error`` inside a 200 stream after ``after_tokens`` output tokens."""

    probability: float = 1.0
    after_tokens: int = 1


@dataclass(frozen=True)
class Match:
    """Glob patterns (fnmatch) a request must all satisfy; None matches anything."""

    key: str | None = None
    agent: str | None = None
    task: str | None = None
    model: str | None = None
    contains: str | None = None  # a substring of the system prompt or any message


@dataclass(frozen=True)
class ToolCall:
    name: str
    input: Mapping[str, Any]
    id: str | None = None


@dataclass(frozen=True)
class Turn:
    text: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    input_tokens: int | None = None
    output_tokens: int | None = None
    fault: FaultKind | None = None
    fault_times: int = 1  # how many attempts fail before the turn answers; ALWAYS = every one
    retry_after_s: float = 1.0  # simulated seconds a scripted rate_limited fault asks to wait


@dataclass(frozen=True)
class Rule:
    match: Match
    turns: tuple[Turn, ...]
    line: int = 0  # where the rule starts in the file, for `sim serve` messages


@dataclass(frozen=True)
class SimConfig:
    keys: Mapping[str, KeyConfig] = field(default_factory=dict)
    time_scale: float = 1.0
    seed: int = 0
    org: str = "sim-org"
    latency: Latency = Latency()
    storm: Storm | None = None
    stream_fault: StreamFault | None = None
    script: tuple[Rule, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "sim config") -> SimConfig:
        return _parse(data, where, {})

    @classmethod
    def default(cls) -> SimConfig:
        """Two keys with the limits of a modest real account; no faults, no script."""
        return cls(
            keys={
                "sim-anthropic": KeyConfig(
                    "sim-anthropic", "anthropic", rpm=50, input_tpm=30_000, output_tpm=8_000
                ),
                "sim-openai": KeyConfig("sim-openai", "openai", rpm=500, tpm=200_000),
            }
        )


def load_config(path: str | Path) -> SimConfig:
    """Read and validate a simulator YAML file; errors name ``file:line``."""
    from lanectl import yamlio

    where = str(path)
    text = yamlio.read_bounded(Path(path), where)
    raw = yamlio.load(text, where)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise LaneError("the simulator config must be a mapping of keys", where=f"{where}:1")
    return _parse(raw, where, yamlio.key_lines(text))


# ---------------------------------------------------------------------------
# Validation


Loc = tuple[str | int, ...]


class _Reader:
    def __init__(self, where: str, lines: Mapping[Loc, int]):
        self.where = where
        self.lines = lines

    def fail(self, loc: Loc, message: str) -> LaneError:
        probe = loc
        while probe and probe not in self.lines:
            probe = probe[:-1]
        at = f"{self.where}:{self.lines[probe]}" if probe else self.where
        path = " › ".join(str(p) for p in loc) if loc else "(top level)"
        return LaneError(f"{path}: {message}", where=at)

    def mapping(self, value: Any, loc: Loc, known: tuple[str, ...]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(loc, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if key not in known:
                close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
                hint = f"; did you mean '{close[0]}'?" if close else f" (known: {', '.join(known)})"
                raise self.fail((*loc, str(key)), f"unknown key{hint}")
        return value

    def number(
        self, data: Mapping[str, Any], loc: Loc, name: str, default: float, *, lo: float = 0.0,
        hi: float | None = None, above: bool = False,
    ) -> float:  # fmt: skip
        value = data.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail((*loc, name), f"expected a number, got {_kind(value)}")
        if (value <= lo) if above else (value < lo):
            raise self.fail((*loc, name), f"must be {'above' if above else 'at least'} {lo:g}")
        if hi is not None and value > hi:
            raise self.fail((*loc, name), f"must be at most {hi:g}")
        return float(value)

    def count(self, data: Mapping[str, Any], loc: Loc, name: str, *, lo: int = 1) -> int | None:
        value = data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail((*loc, name), f"expected a whole number, got {_kind(value)}")
        if value < lo:
            raise self.fail((*loc, name), f"must be at least {lo}")
        return value

    def text(self, data: Mapping[str, Any], loc: Loc, name: str) -> str | None:
        value = data.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.fail((*loc, name), f"expected text, got {_kind(value)}")
        return value


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


TOP = ("version", "time_scale", "seed", "org", "keys", "latency", "faults", "script")
KEY_FIELDS = (
    "vendor", "rpm", "input_tpm", "output_tpm", "tpm", "capacity_s", "acceleration",
    "outside_fraction", "quota_tokens", "default_max_tokens",
)  # fmt: skip


def _parse(data: Mapping[str, Any], where: str, lines: Mapping[Loc, int]) -> SimConfig:
    r = _Reader(where, lines)
    top = r.mapping(data, (), TOP)
    version = top.get("version", 1)
    if version != 1:
        raise r.fail(("version",), f"unsupported version {version!r} (this lanectl reads 1)")
    keys: dict[str, KeyConfig] = {}
    raw_keys = r.mapping(top.get("keys"), ("keys",), tuple(str(k) for k in top.get("keys") or {}))
    for name, spec in raw_keys.items():
        if not isinstance(name, str) or not name.strip():
            raise r.fail(("keys",), "every key must be a non-empty string")
        keys[name] = _key(r, name, spec)
    latency = r.mapping(top.get("latency"), ("latency",), ("base_ms", "per_token_ms", "jitter"))
    faults = r.mapping(top.get("faults"), ("faults",), ("overloaded", "stream_error"))
    org = r.text(top, (), "org") or "sim-org"
    seed = r.count(top, (), "seed", lo=0) or 0
    script = top.get("script") or []
    if not isinstance(script, list):
        raise r.fail(("script",), f"expected a list of rules, got {_kind(script)}")
    if "keys" not in top:  # a script-only file gets the two default keys
        keys = dict(SimConfig.default().keys)
    return SimConfig(
        keys=keys,
        time_scale=r.number(top, (), "time_scale", 1.0, above=True),
        seed=seed,
        org=org,
        latency=Latency(
            base_ms=r.number(latency, ("latency",), "base_ms", 0.0),
            per_token_ms=r.number(latency, ("latency",), "per_token_ms", 0.0),
            jitter=r.number(latency, ("latency",), "jitter", 0.0, hi=1.0),
        ),
        storm=_storm(r, faults.get("overloaded")),
        stream_fault=_stream_fault(r, faults.get("stream_error")),
        script=tuple(_rule(r, index, rule) for index, rule in enumerate(script)),
    )


def _key(r: _Reader, name: str, spec: Any) -> KeyConfig:
    loc: Loc = ("keys", name)
    body = r.mapping(spec, loc, KEY_FIELDS)
    vendor = body.get("vendor")
    if vendor not in ("anthropic", "openai"):
        raise r.fail((*loc, "vendor"), "must be anthropic or openai")
    wrong = ("tpm",) if vendor == "anthropic" else ("input_tpm", "output_tpm")
    for key in wrong:
        if body.get(key) is not None:
            other = "input_tpm and output_tpm" if vendor == "anthropic" else "tpm"
            raise r.fail((*loc, key), f"not a limit of {vendor} keys (they have rpm and {other})")
    accel = body.get("acceleration")
    acceleration = None
    if accel is not None:
        spec_a = r.mapping(accel, (*loc, "acceleration"), ("requests", "window_s"))
        requests = r.count(spec_a, (*loc, "acceleration"), "requests")
        if requests is None:
            raise r.fail((*loc, "acceleration", "requests"), "required")
        window = r.number(spec_a, (*loc, "acceleration"), "window_s", 1.0, above=True)
        acceleration = Acceleration(requests, window)
    return KeyConfig(
        key=name,
        vendor=vendor,
        rpm=r.count(body, loc, "rpm"),
        input_tpm=r.count(body, loc, "input_tpm"),
        output_tpm=r.count(body, loc, "output_tpm"),
        tpm=r.count(body, loc, "tpm"),
        capacity_s=r.number(body, loc, "capacity_s", 60.0, above=True),
        acceleration=acceleration,
        outside_fraction=r.number(body, loc, "outside_fraction", 0.0, hi=0.99),
        quota_tokens=r.count(body, loc, "quota_tokens", lo=0),
        default_max_tokens=r.count(body, loc, "default_max_tokens") or 1024,
    )


def _storm(r: _Reader, spec: Any) -> Storm | None:
    if spec is None:
        return None
    loc: Loc = ("faults", "overloaded")
    body = r.mapping(spec, loc, ("probability", "from_s", "until_s"))
    start = r.number(body, loc, "from_s", 0.0)
    until = None
    if body.get("until_s") is not None:
        until = r.number(body, loc, "until_s", 0.0)
        if until <= start:
            raise r.fail((*loc, "until_s"), "must be after from_s")
    return Storm(r.number(body, loc, "probability", 1.0, hi=1.0), start, until)


def _stream_fault(r: _Reader, spec: Any) -> StreamFault | None:
    if spec is None:
        return None
    loc: Loc = ("faults", "stream_error")
    body = r.mapping(spec, loc, ("probability", "after_tokens"))
    after = r.count(body, loc, "after_tokens", lo=0)
    return StreamFault(
        r.number(body, loc, "probability", 1.0, hi=1.0), 1 if after is None else after
    )


def _rule(r: _Reader, index: int, spec: Any) -> Rule:
    loc: Loc = ("script", index)
    body = r.mapping(spec, loc, ("match", "turns"))
    m = r.mapping(body.get("match"), (*loc, "match"), ("key", "agent", "task", "model", "contains"))
    match = Match(**{k: r.text(m, (*loc, "match"), k) for k in m})
    turns = body.get("turns")
    if not isinstance(turns, list) or not turns:
        raise r.fail((*loc, "turns"), "expected a non-empty list of turns")
    parsed = tuple(_turn(r, (*loc, "turns", i), t) for i, t in enumerate(turns))
    return Rule(match, parsed, r.lines.get(loc, 0))


def _turn(r: _Reader, loc: Loc, spec: Any) -> Turn:
    body = r.mapping(
        spec, loc, ("text", "tool_calls", "usage", "fault", "fault_times", "retry_after_s")
    )
    calls: list[ToolCall] = []
    raw_calls = body.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise r.fail((*loc, "tool_calls"), f"expected a list, got {_kind(raw_calls)}")
    for i, call in enumerate(raw_calls):
        cloc: Loc = (*loc, "tool_calls", i)
        c = r.mapping(call, cloc, ("name", "input", "id"))
        name = r.text(c, cloc, "name")
        if not name:
            raise r.fail((*cloc, "name"), "required")
        args = c.get("input") or {}
        if not isinstance(args, dict):
            raise r.fail((*cloc, "input"), f"expected a mapping, got {_kind(args)}")
        calls.append(ToolCall(name, args, r.text(c, cloc, "id")))
    usage = r.mapping(body.get("usage"), (*loc, "usage"), ("input_tokens", "output_tokens"))
    fault = body.get("fault")
    if fault is not None and fault not in FAULT_KINDS:
        raise r.fail((*loc, "fault"), f"unknown fault {fault!r} (known: {', '.join(FAULT_KINDS)})")
    times_raw = body.get("fault_times", 1)
    times = ALWAYS if times_raw == "always" else r.count(body, loc, "fault_times") or 1
    text = r.text(body, loc, "text")
    if text is None and not calls and fault is None and not usage:
        raise r.fail(loc, "a turn needs text, tool_calls, usage or a fault")
    return Turn(
        text=text,
        tool_calls=tuple(calls),
        input_tokens=r.count(usage, (*loc, "usage"), "input_tokens", lo=0),
        output_tokens=r.count(usage, (*loc, "usage"), "output_tokens", lo=0),
        fault=fault,
        fault_times=times,
        retry_after_s=r.number(body, loc, "retry_after_s", 1.0, above=True),
    )
