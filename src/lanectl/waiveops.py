"""``lanectl waive ID --diversity``: a person signs a waiver in their own terminal.

The key is the person's SSH key (``--key`` or git's ``user.signingkey``); it
must be listed in the BASE branch's allowed_signers for a human of the base
branch's config — an agent's key or a stranger's is refused (exit 3,
``waiver.refused`` recorded). The record is signed with ``ssh-keygen``, written
to the state branch, verified back exactly as the gate will verify it, and
recorded as ``waiver.recorded`` (ADR 0024).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lanectl import evidence, ledger, state, tasks, waivers
from lanectl.errors import LaneError
from lanectl.gate import FAIL, Stage
from lanectl.humankeys import Approver, identify, signing_key
from lanectl.refusal import Refusal, ledger_writable, record_refusal
from lanectl.signers import load_base_config, load_trust
from lanectl.workspace import Workspace, actor

CLOSED = ("merged", "cancelled")


@dataclass(frozen=True)
class Pending:
    """A waiver about to be signed (what the person confirms)."""

    waiver: waivers.Waiver
    approver: Approver

    def lines(self) -> list[str]:
        w = self.waiver
        return [
            f"You are waiving the {w.kind} rule for {w.task} ({', '.join(w.roles)} review):",
            "  its security review may come from the correctness reviewer's model family",
            "  (never the builder's); the gate will cite this waiver, and audit lists it.",
            f"  reason: {w.reason}",
            f"  signing as {self.approver.human} ({self.approver.principal}) with "
            f"{self.approver.key.fingerprint}",
        ]


def _refuse(ws: Workspace, who: str, task: str, refusal: Refusal) -> Refusal:
    record_refusal(
        ws, "waiver.refused", who, task=task, head=None, attempted=f"waive a rule for {task}",
        refusal=refusal,
    )  # fmt: skip
    return refusal


def prepare(
    ws: Workspace,
    query: str,
    key: Path | None,
    reason: str,
    *,
    kind: str = "diversity",
    roles: Sequence[str] = ("security",),
) -> Pending:
    task = tasks.load(ws).resolve(query)
    if task.state in CLOSED:
        raise LaneError(f"{task.id} is {task.state}; there is nothing to waive")
    text = " ".join(reason.split())
    if not text:
        raise LaneError("--reason must say why (one line)")
    if len(text) > waivers.MAX_REASON:
        raise LaneError(f"--reason is longer than {waivers.MAX_REASON} characters")
    signing = signing_key(ws, key)
    trust = load_trust(ws)
    _, _, raw = load_base_config(ws)
    try:
        approver = identify(trust, raw, signing)
    except Refusal as stranger:
        raise _refuse(ws, actor(ws)[0], task.id, stranger) from None
    waiver = waivers.Waiver(kind, task.id, tuple(roles), approver.human, text, ledger.now_ts())
    waivers.relative_path(task.id, kind, approver.human)  # a valid place for it
    waivers.render(waiver)  # and a valid record
    return Pending(waiver, approver)


def commit(ws: Workspace, pending: Pending) -> waivers.Waiver:
    """Sign, write, verify back and record the waiver."""
    ledger_writable(ws)
    w, who = pending.waiver, pending.approver
    data = waivers.render(w)
    signature = evidence.sign_record(data, who.key.path)
    rel = waivers.relative_path(w.task, w.kind, who.human)
    path = state.ensure(ws) / rel
    sig = path.with_name(path.name + evidence.SIG_SUFFIX)
    why: str | None = None
    with state.change(ws, who.human, "human", f"waive {w.kind} for {w.task}", task=w.task) as ch:
        state.atomic_write(path, data.decode("utf-8"))
        state.atomic_write(sig, signature.decode("ascii"))
        found, ignored = waivers.collect(ws, w.task)
        mine = next((f for f in found if f.path == rel), None)
        if mine is None:
            why = next((i.reason for i in ignored if i.path == rel), "it does not verify")
            for leftover in (path, sig):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        else:
            ch.touch(path)
            ch.touch(sig)
            waivers.record_event(ch, mine, data, who.key.fingerprint)
    if mine is None:
        refusal = Refusal(
            "the waiver does not count; nothing was recorded",
            [Stage("waiver", FAIL, why or "it does not verify")],
        )
        raise _refuse(ws, who.human, w.task, refusal)
    return mine
