"""Claims on tasks as leases: a ref per task, taken and renewed by compare-and-swap.

A claim is ``refs/lanectl/claims/<task>`` pointing at a commit (empty tree)
whose message holds the claim as JSON: actor, host, pid, generation, expiry
and what the holder is running. Each change is a new commit whose parent is
the previous claim, so ``git log refs/lanectl/claims/<task>`` is the claim's
history. Every change is a compare-and-swap against the value the holder last
saw: ``git update-ref <ref> <new> <old>`` locally, or ``git push
--force-with-lease=<ref>:<old>`` to a shared remote, where a rejected push
means another dispatcher won. A claim is taken when there is none, or when
the previous one was released or has expired (generation + 1); it is never
taken while it is live. The holder's branch moves only in the same atomic
update that renews its claim, so a reclaimed builder's late commit or push is
refused: its claim is no longer the one at the ref (ADR 0017).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from lanectl import git
from lanectl.errors import GitError, LaneError, Refused
from lanectl.state import lanectl_env

PREFIX = "refs/lanectl/claims/"
ZERO = "0" * 40
VERSION = 1


def claim_ref(task: str) -> str:
    return PREFIX + task


@dataclass(frozen=True)
class Claim:
    """One claim as stored; times are seconds since the epoch (UTC)."""

    task: str
    actor: str  # the builder agent working the task
    host: str
    pid: int  # the dispatcher holding the lease
    generation: int
    token: str  # random: tells this holder from an earlier one with the same pid
    acquired: float
    renewed: float
    expires: float
    released: bool = False
    reason: str | None = None  # why it was released
    agent_pid: int | None = None  # the agent process (its process group), once started
    agent_start: int | None = None  # its start time in clock ticks (/proc/<pid>/stat)
    progress: float | None = None  # when the agent last showed progress (output, files)
    step: int | None = None  # a model agent's turns so far, at the last renewal
    max_steps: int | None = None
    reclaimed_from: Mapping[str, Any] | None = None  # host/pid/generation of the expired claim

    def live(self, now: float | None = None) -> bool:
        return not self.released and self.expires > (time.time() if now is None else now)

    def to_json(self) -> dict[str, Any]:
        data = {"version": VERSION, **asdict(self)}
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Claim:
        if data.get("version") != VERSION:
            raise ValueError(f"claim version {data.get('version')!r}")
        fields = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        claim = cls(**fields)
        for name in ("task", "actor", "host", "token"):
            if not isinstance(getattr(claim, name), str):
                raise ValueError(f"{name} is not a string")
        for name in ("pid", "generation"):
            value = getattr(claim, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} is not a whole number")
        for name in ("acquired", "renewed", "expires"):
            if isinstance(getattr(claim, name), bool) or not isinstance(
                getattr(claim, name), int | float
            ):
                raise ValueError(f"{name} is not a time")
        return claim


class ClaimHeld(LaneError):
    """Someone else holds the task (or won the race to take it)."""

    def __init__(self, task: str, claim: Claim | None, detail: str = "") -> None:
        who = (
            f"{claim.actor} (pid {claim.pid} on {claim.host}, generation {claim.generation})"
            if claim
            else "another dispatcher"
        )
        super().__init__(f"{task} is claimed by {who}{detail}")
        self.task = task
        self.claim = claim


class LeaseLost(Refused):
    """Our claim is no longer the one at the ref: it expired and was reclaimed, or released."""


# ---------------------------------------------------------------------------
# Reading


def parse(message: str) -> Claim | None:
    """The claim in a claim commit's message (JSON after the subject), or None."""
    _, _, body = message.partition("\n\n")
    try:
        data = json.loads(body)
        return Claim.from_json(data) if isinstance(data, dict) else None
    except (ValueError, TypeError):
        return None


def read(repo: Path, task: str) -> tuple[str, Claim | None] | None:
    """(commit, claim) at the task's claim ref; the claim is None when unreadable."""
    sha = git.rev_parse(claim_ref(task), repo)
    if sha is None:
        return None
    proc = git.run(["cat-file", "commit", sha], repo, check=False)
    text = proc.stdout.decode("utf-8", "replace") if proc.returncode == 0 else ""
    _, _, message = text.partition("\n\n")
    return sha, parse(message)


def list_claims(repo: Path) -> dict[str, tuple[str, Claim | None]]:
    """Every claim ref in the repository: task → (commit, claim or None if unreadable)."""
    text = git.out(
        ["for-each-ref", "--format=%(refname)%00%(objectname)%00%(contents)%00", PREFIX], repo
    )
    parts = text.split("\0")
    found: dict[str, tuple[str, Claim | None]] = {}
    for index in range(0, len(parts) - 2, 3):
        ref, sha, message = parts[index].strip(), parts[index + 1], parts[index + 2]
        if ref.startswith(PREFIX):
            found[ref[len(PREFIX) :]] = (sha, parse(message))
    return found


# ---------------------------------------------------------------------------
# Writing: one claim commit, one compare-and-swap


def _commit(repo: Path, claim: Claim, parent: str | None) -> str:
    state = (
        "released"
        if claim.released
        else f"until {time.strftime('%H:%M:%S', time.gmtime(claim.expires))}Z"
    )
    subject = f"claim {claim.task} generation {claim.generation} by {claim.actor} ({state})"
    message = subject + "\n\n" + json.dumps(claim.to_json(), sort_keys=True) + "\n"
    args = ["commit-tree", git.EMPTY_TREE]
    if parent:
        args += ["-p", parent]
    git.run(["hash-object", "-t", "tree", "-w", "--stdin"], repo, input=b"")
    return git.out([*args, "-F", "-"], repo, env=lanectl_env(), input=message.encode())


def _remote_value(repo: Path, remote: str, ref: str) -> str | None:
    proc = git.run(["ls-remote", "--refs", remote, ref], repo, check=False)
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines() or ["no answer"]
        raise LaneError(
            f"cannot reach remote '{remote}' to check claims: {detail[0]}",
            hint="check the remote, or unset dispatch.remote to claim locally",
        )
    for line in proc.stdout.decode().splitlines():
        sha, _, name = line.partition("\t")
        if name == ref:
            return sha
    return None


def _fetch(repo: Path, remote: str, ref: str, sha: str) -> None:
    """Have the remote's claim commit locally, and mirror it at the local ref."""
    if git.run(["cat-file", "-e", f"{sha}^{{commit}}"], repo, check=False).returncode != 0:
        git.run(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote, ref], repo)
    git.run(["update-ref", ref, sha], repo)


def _push(repo: Path, remote: str, updates: Mapping[str, tuple[str, str | None]]) -> str | None:
    """Atomically move each ref to new if it still has old: None when done, else git's why."""
    args = ["push", "--porcelain", "--atomic", "--no-verify"]
    for ref, (_new, old) in updates.items():
        args.append(f"--force-with-lease={ref}:{old or ''}")
    args += [remote, *(f"{new}:{ref}" for ref, (new, _old) in updates.items())]
    proc = git.run(args, repo, check=False)
    if proc.returncode == 0:
        return None
    text = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip()
    lines = [ln for ln in text.splitlines() if ln.startswith("!")] or text.splitlines()[-1:]
    return lines[0] if lines else f"exit {proc.returncode}"


def _swap(repo: Path, ref: str, new: str, old: str | None, remote: str | None) -> bool:
    """Compare-and-swap ``ref`` from ``old`` (None: must not exist) to ``new``.

    False when someone else moved it first; a refusal for any other reason
    (the remote is down, a server hook said no) is an error.
    """
    if remote is not None:
        why = _push(repo, remote, {ref: (new, old)})
        if why is not None:
            if _remote_value(repo, remote, ref) != old:
                return False  # lost the race (stale info, or a lock held by the winner)
            raise LaneError(f"'{remote}' refused the claim update: {why}")
        git.run(["update-ref", ref, new], repo)
        return True
    proc = git.run(["update-ref", "-m", "lanectl claim", ref, new, old or ZERO], repo, check=False)
    if proc.returncode == 0:
        return True
    why = proc.stderr.decode("utf-8", "replace").strip()
    if ".lock" in why or git.rev_parse(ref, repo) != old:
        return False  # moved, or being moved right now by another dispatcher
    raise GitError(f"cannot update {ref}: {why}")


def current(repo: Path, task: str, remote: str | None = None) -> tuple[str, Claim | None] | None:
    """(commit, claim) where claims are coordinated: the remote's when there is one."""
    return _current(repo, task, remote)


def _current(repo: Path, task: str, remote: str | None) -> tuple[str, Claim | None] | None:
    if remote is None:
        return read(repo, task)
    sha = _remote_value(repo, remote, claim_ref(task))
    if sha is None:
        return None
    _fetch(repo, remote, claim_ref(task), sha)
    return read(repo, task)


def acquire(
    repo: Path,
    task: str,
    *,
    actor: str,
    ttl: float,
    remote: str | None = None,
    now: float | None = None,
) -> Lease:
    """Take the task's claim, or raise :class:`ClaimHeld` when it is live or the race is lost."""
    now = time.time() if now is None else now
    found = _current(repo, task, remote)
    old_sha, old = found if found is not None else (None, None)
    if old is not None and old.live(now):
        left = old.expires - now
        raise ClaimHeld(task, old, f"; the lease runs for {left:.0f} s more")
    reclaimed: dict[str, Any] | None = None
    if old is not None and not old.released:
        reclaimed = {
            "host": old.host,
            "pid": old.pid,
            "generation": old.generation,
            "agent_pid": old.agent_pid,
            "agent_start": old.agent_start,
            "expired": old.expires,
        }
    elif old is None and old_sha is not None:
        reclaimed = {"unreadable": old_sha}
    claim = Claim(
        task=task,
        actor=actor,
        host=socket.gethostname(),
        pid=os.getpid(),
        generation=(old.generation + 1) if old is not None else 1,
        token=secrets.token_hex(8),
        acquired=now,
        renewed=now,
        expires=now + ttl,
        reclaimed_from=reclaimed,
    )
    sha = _commit(repo, claim, old_sha)
    if not _swap(repo, claim_ref(task), sha, old_sha, remote):
        latest = read(repo, task) if remote is None else None
        raise ClaimHeld(task, latest[1] if latest else None, " (it won the race to claim it)")
    return Lease(repo, claim, sha, ttl=ttl, remote=remote)


class Lease:
    """A claim we hold: renew it, move our branch under it, release it. Thread-safe."""

    def __init__(
        self, repo: Path, claim: Claim, sha: str, *, ttl: float, remote: str | None
    ) -> None:
        self.repo = repo
        self.ttl = ttl
        self.remote = remote
        self._claim = claim
        self._sha = sha
        self._lock = threading.RLock()
        self.lost = threading.Event()

    @property
    def claim(self) -> Claim:
        return self._claim

    @property
    def sha(self) -> str:
        return self._sha

    @property
    def task(self) -> str:
        return self._claim.task

    @property
    def generation(self) -> int:
        return self._claim.generation

    def _lost(self, what: str) -> LeaseLost:
        self.lost.set()
        found = read(self.repo, self.task) if self.remote is None else None
        now = found[1] if found else None
        by = ""
        if now is not None and now.token != self._claim.token:
            by = f"; it is now generation {now.generation} ({now.actor}, pid {now.pid}"
            by += f" on {now.host})"
        return LeaseLost(
            f"{what} refused: the claim on {self.task} (generation {self.generation}) is no "
            "longer ours" + by,
            hint="its lease expired and another dispatcher reclaimed the task",
        )

    def check(self) -> None:
        """Raise :class:`LeaseLost` unless our claim is still the one at the ref."""
        with self._lock:
            ref = claim_ref(self.task)
            current = (
                git.rev_parse(ref, self.repo)
                if self.remote is None
                else _remote_value(self.repo, self.remote, ref)
            )
            if current != self._sha:
                raise self._lost("the work")

    def renew(self, **changes: Any) -> None:
        """Extend the lease (and record ``changes``, e.g. the agent's pid or progress)."""
        with self._lock:
            now = time.time()
            claim = replace(self._claim, renewed=now, expires=now + self.ttl, **changes)
            sha = _commit(self.repo, claim, self._sha)
            if not _swap(self.repo, claim_ref(self.task), sha, self._sha, self.remote):
                raise self._lost("renewing the lease")
            self._claim, self._sha = claim, sha

    def advance_branch(self, branch: str, new: str, old: str | None) -> None:
        """Move ``refs/heads/<branch>`` from ``old`` to ``new`` in one atomic update that
        also renews our claim: refused (:class:`LeaseLost`) when the claim moved on,
        and (a plain :class:`LaneError`) when the branch is not at ``old``."""
        ref = f"refs/heads/{branch}"
        with self._lock:
            now = time.time()
            claim = replace(self._claim, renewed=now, expires=now + self.ttl)
            sha = _commit(self.repo, claim, self._sha)
            cref = claim_ref(self.task)
            if self.remote is not None:
                why = _push(self.repo, self.remote, {cref: (sha, self._sha), ref: (new, old)})
                if why is not None:
                    if _remote_value(self.repo, self.remote, cref) != self._sha:
                        raise self._lost(f"pushing {branch}")
                    raise LaneError(f"'{self.remote}' refused {branch}: {why}")
                git.run(["update-ref", cref, sha], self.repo)
                git.run(["update-ref", ref, new], self.repo)
            else:
                script = (
                    f"start\nupdate {cref} {sha} {self._sha}\n"
                    f"update {ref} {new} {old or ZERO}\nprepare\ncommit\n"
                )
                proc = git.run(
                    ["update-ref", "--stdin"], self.repo, input=script.encode(), check=False
                )
                if proc.returncode != 0:
                    if git.rev_parse(cref, self.repo) != self._sha:
                        raise self._lost(f"committing to {branch}")
                    raise GitError(
                        f"{branch} moved during the build (it is not at {(old or 'nothing')[:12]})"
                    )
            self._claim, self._sha = claim, sha

    def release(self, reason: str) -> bool:
        """Mark the claim released (the next claim is generation + 1); False if not ours."""
        with self._lock:
            claim = replace(self._claim, released=True, reason=reason, expires=time.time())
            sha = _commit(self.repo, claim, self._sha)
            try:
                swapped = _swap(self.repo, claim_ref(self.task), sha, self._sha, self.remote)
            except LaneError:
                return False
            if swapped:
                self._claim, self._sha = claim, sha
            return swapped


class Heartbeat:
    """Renews a lease every ``interval`` seconds until stopped; notes when it is lost.

    ``progress`` returns fields to record with each renewal (the agent's last
    sign of progress). A renewal that fails for a transient reason (a remote
    that does not answer) is retried at the next beat; a lost claim stops it.
    """

    def __init__(
        self,
        lease: Lease,
        interval: float,
        progress: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.lease = lease
        self.interval = interval
        self.progress = progress
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{lease.task}", daemon=True
        )

    def start(self) -> Heartbeat:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.lease.renew(**(dict(self.progress()) if self.progress else {}))
            except LeaseLost:
                return
            except LaneError:
                continue
