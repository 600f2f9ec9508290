"""Signed human waivers: a person's decision that a task may bend a gate rule (ADR 0024).

The one kind so far is ``diversity``: under ``diversity: strict`` with no
security agent from a third family configured, a human may let the task's
security review come from the correctness reviewer's family (never the
builder's). A waiver is a small YAML record on the state branch,

    .lanes/waivers/<task>/diversity-<human>.yaml   (+ .sig beside it)

signed by the human's own SSH key (``ssh-keygen -Y sign -n lanectl-evidence``)
and verified like every piece of evidence against the BASE branch's
``allowed_signers`` — but for a *human* principal of the base branch's
config: a waiver signed by an agent's key, or by a key the base branch does
not list, is ignored with the reason. ``lanectl gate`` cites the waivers it
counts and ``lanectl audit`` lists them all.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanectl import evidence, ids, keys, ledger, records, signers, yamlio
from lanectl.errors import LaneError

if TYPE_CHECKING:
    from lanectl.workspace import Workspace

DIR = ".lanes/waivers"
KINDS = ("diversity",)
WAIVABLE = {"diversity": ("security",)}
KEYS = ("version", "kind", "task", "roles", "human", "reason", "ts")
MAX_BYTES = 64 * 1024
MAX_REASON = 500


@dataclass(frozen=True)
class Waiver:
    kind: str
    task: str
    roles: tuple[str, ...]
    human: str
    reason: str
    ts: str
    path: str = ""  # on the state branch
    principal: str = ""  # who signed it, as allowed_signers names them

    def label(self) -> str:
        return f"{self.kind} waiver by {self.human} ({self.reason})"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "task": self.task,
            "roles": list(self.roles),
            "human": self.human,
            "principal": self.principal,
            "reason": self.reason,
            "ts": self.ts,
            "path": self.path,
        }


def relative_path(task: str, kind: str, human: str) -> str:
    if not ids.is_task_id(task):
        raise LaneError(f"'{task}' is not a task id")
    if kind not in KINDS:
        raise LaneError(f"unknown waiver kind '{kind}' (known: {', '.join(KINDS)})")
    if not keys.AGENT_NAME.match(human):
        raise LaneError(f"'{human}' is not a valid person id")
    return f"{DIR}/{task}/{kind}-{human}.yaml"


def parse(raw: Any, where: str) -> Waiver:
    """A waiver record as data; raises LaneError naming the key."""
    if not isinstance(raw, dict):
        raise LaneError("must be a mapping of keys", where=where)
    for key in raw:
        if key not in KEYS:
            raise LaneError(f"{key}: unknown key (known keys: {', '.join(KEYS)})", where=where)
    if raw.get("version") != 1:
        raise LaneError("version: must be 1", where=where)

    def text(key: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise LaneError(f"{key}: must be a non-empty string", where=where)
        return value

    kind = text("kind")
    if kind not in KINDS:
        raise LaneError(f"kind: must be one of {', '.join(KINDS)}", where=where)
    task = text("task")
    if not ids.is_task_id(task):
        raise LaneError(f"task: '{task}' is not a task id", where=where)
    roles = raw.get("roles")
    if (
        not isinstance(roles, list)
        or not roles
        or any(r not in WAIVABLE[kind] for r in roles)
        or len(set(roles)) != len(roles)
    ):
        raise LaneError(
            f"roles: must list roles a {kind} waiver may cover ({', '.join(WAIVABLE[kind])})",
            where=where,
        )
    reason = text("reason")
    if len(reason) > MAX_REASON or "\n" in reason:
        raise LaneError(f"reason: one line of at most {MAX_REASON} characters", where=where)
    ts = text("ts")
    if not records.TS.match(ts):
        raise LaneError("ts: must be an RFC 3339 time", where=where)
    return Waiver(kind, task, tuple(roles), text("human"), reason, ts)


def render(waiver: Waiver) -> bytes:
    body = {
        "version": 1,
        "kind": waiver.kind,
        "task": waiver.task,
        "roles": list(waiver.roles),
        "human": waiver.human,
        "reason": waiver.reason,
        "ts": waiver.ts,
    }
    text = yamlio.dump_block(body)
    parse(yamlio.load(text, "waiver"), "waiver")
    return text.encode("utf-8")


# ---------------------------------------------------------------------------
# Verification


def _load(
    directory: Path, name: str, rel: str, trust: signers.Trust, verifier: Any
) -> Waiver | evidence.Ignored:
    path = directory / name
    try:
        data = evidence._read_regular(path, MAX_BYTES)
        signature = evidence._read_regular(path.with_name(name + evidence.SIG_SUFFIX), 16 * 1024)
    except LaneError as exc:
        return evidence.Ignored(rel, "unsigned", f"unreadable or unsigned: {exc.message}")
    problem = verifier.check(data, signature)
    if problem is not None:
        return evidence.Ignored(rel, "bad_signature", f"signature does not verify: {problem}")
    try:
        waiver = parse(yamlio.load(yamlio.decode(data, rel), rel), rel)
    except LaneError as exc:
        return evidence.Ignored(rel, "malformed", f"malformed: {exc}")
    found = verifier.principals(signature)
    base = trust.base_branch
    agents = [p for p in found if signers.is_agent(p)]
    if agents:
        return evidence.Ignored(
            rel, "not_human", f"signed by {agents[0]}: only a person's key can waive a rule"
        )
    humans = {p: signers.human_of(p, trust.humans) for p in found}
    if not found:
        return evidence.Ignored(
            rel,
            "unknown_signer",
            f"signer not allowed: the signing key is not in {base}'s {signers.PATH}",
        )
    principal = next((p for p, h in humans.items() if h == waiver.human), None)
    if principal is None:
        who = ", ".join(found)
        return evidence.Ignored(
            rel,
            "wrong_signer",
            f"signed by {who}, not by {waiver.human} whom the waiver names (or not a person "
            f"in {base}'s config)",
        )
    problem = verifier.verify(data, signature, principal)
    if problem is not None:
        return evidence.Ignored(
            rel,
            "not_allowed",
            f"signer not allowed: {base}'s {signers.PATH} does not let {principal} sign "
            f"{evidence.NAMESPACE} ({problem})",
        )
    if relative_path(waiver.task, waiver.kind, waiver.human) != rel:
        return evidence.Ignored(rel, "misplaced", "misplaced: its content names another file")
    return Waiver(
        waiver.kind, waiver.task, waiver.roles, waiver.human, waiver.reason, waiver.ts, rel,
        principal,
    )  # fmt: skip


def _scan(ws: Workspace, task_dirs: list[str]) -> tuple[list[Waiver], list[evidence.Ignored]]:
    found: list[Waiver] = []
    ignored: list[evidence.Ignored] = []
    work: list[tuple[Path, str, str]] = []
    for task in task_dirs:
        directory = ws.state_dir / DIR / task
        if not directory.is_dir() or directory.is_symlink():
            continue
        names = sorted(os.listdir(directory))
        for name in names:
            rel = f"{DIR}/{task}/{name}"
            if name.endswith(".yaml"):
                work.append((directory, name, rel))
            elif not (name.endswith(".yaml.sig") and name[:-4] in names):
                ignored.append(evidence.Ignored(rel, "stray", "stray file in a waiver directory"))
    if not work:
        return found, ignored
    try:
        trust = signers.load_trust(ws)
    except LaneError as exc:
        return [], ignored + [evidence.Ignored(r, "no_trust", f"no trust: {exc}") for *_, r in work]
    with signers.materialized(trust.text) as allowed:
        verifier = evidence._Verifier(allowed, allowed.parent)
        for directory, name, rel in work:
            result = _load(directory, name, rel, trust, verifier)
            (found if isinstance(result, Waiver) else ignored).append(result)  # type: ignore[arg-type]
    return found, ignored


def collect(ws: Workspace, task: str) -> tuple[list[Waiver], list[evidence.Ignored]]:
    """The task's waivers that verify, and those ignored with the reason."""
    if not ids.is_task_id(task):
        raise LaneError(f"'{task}' is not a task id")
    return _scan(ws, [task])


def collect_all(ws: Workspace) -> tuple[list[Waiver], list[evidence.Ignored]]:
    """Every waiver on the state branch (for ``lanectl audit``)."""
    root = ws.state_dir / DIR
    if not root.is_dir() or root.is_symlink():
        return [], []
    return _scan(ws, sorted(n for n in os.listdir(root) if ids.is_task_id(n)))


def covering(waivers: list[Waiver], kind: str, role: str) -> Waiver | None:
    return next((w for w in waivers if w.kind == kind and role in w.roles), None)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_event(change: Any, waiver: Waiver, data: bytes, fingerprint: str) -> None:
    ledger.record(
        change,
        "waiver.recorded",
        task=waiver.task,
        reason=waiver.reason,
        data={
            "kind": waiver.kind,
            "roles": list(waiver.roles),
            "path": waiver.path,
            "sha256": digest(data),
            "principal": waiver.principal,
            "fingerprint": fingerprint,
        },
    )
