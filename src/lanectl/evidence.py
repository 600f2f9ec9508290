"""Signed evidence: review records and check results that count only when verified.

A record is a YAML file on the state branch with a detached SSH signature
beside it (``<record>.yaml.sig``) made with ``ssh-keygen -Y sign -n
lanectl-evidence`` by the producing agent's lanectl-managed key. It counts only
when the signature verifies against the BASE branch's allowed_signers for the
principal ``agent:<agent>`` the record names, that agent's role in the base
branch's config may produce that kind of record, and it names the task and
head being judged. Anything else is ignored, with the reason (SPEC §6.4,
ADR 0009, ``docs/records.md``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanectl import ids, keys, ledger, records, signers, state
from lanectl.errors import LaneError, Refused

if TYPE_CHECKING:
    from lanectl.state import Change
    from lanectl.workspace import Workspace

NAMESPACE = "lanectl-evidence"
SIG_SUFFIX = ".sig"
MAX_RECORD_BYTES = 512 * 1024
MAX_SIG_BYTES = 16 * 1024
DIRS = {records.REVIEW: ".lanes/reviews", records.CHECK: ".lanes/checks"}


@dataclass(frozen=True)
class Verified:
    path: str  # relative to the state branch's root
    record: records.Record
    principal: str
    sha256: str  # of the record file's bytes


@dataclass(frozen=True)
class Ignored:
    path: str
    code: str  # unsigned, bad_signature, malformed, unknown_signer, wrong_signer, …
    reason: str
    agent: str | None = None

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


# ---------------------------------------------------------------------------
# ssh-keygen, with a scrubbed environment


def _keygen(
    args: list[str], home: Path, data: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    # No SSH_AUTH_SOCK (no agent keys), a private HOME (no ~/.ssh), nothing inherited.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(home)}
    try:
        return subprocess.run(
            ["ssh-keygen", *args],
            env=env,
            input=data if data is not None else b"",
            capture_output=True,
            check=False,
            timeout=60,
        )
    except FileNotFoundError:
        raise LaneError(
            "ssh-keygen is not installed or not on PATH",
            hint="install OpenSSH (8.2 or newer) to sign and verify evidence",
        ) from None
    except subprocess.TimeoutExpired:
        raise LaneError(f"ssh-keygen {args[1] if len(args) > 1 else ''} took over 60 s") from None


def _detail(proc: subprocess.CompletedProcess[bytes], scratch: Path) -> str:
    text = proc.stderr.decode("utf-8", "replace").replace(str(scratch) + os.sep, "")
    lines = [ln for ln in text.strip().splitlines() if ln and not ln.startswith("Signing data")]
    return lines[-1] if lines else f"ssh-keygen exit {proc.returncode}"


def sign_record(data: Path | bytes, key_path: Path) -> bytes:
    """A detached ``lanectl-evidence`` signature of ``data`` (armored, ASCII)."""
    payload = data.read_bytes() if isinstance(data, Path) else data
    with tempfile.TemporaryDirectory(prefix="lanectl-sign-") as home:
        proc = _keygen(["-Y", "sign", "-n", NAMESPACE, "-f", str(key_path)], Path(home), payload)
        if proc.returncode != 0 or b"BEGIN SSH SIGNATURE" not in proc.stdout:
            raise LaneError(f"could not sign with {key_path}: {_detail(proc, Path(home))}")
    return proc.stdout


class _Verifier:
    """ssh-keygen checks against one allowed_signers file, in one private scratch dir."""

    def __init__(self, allowed_signers: Path, scratch: Path) -> None:
        self.allowed = allowed_signers
        self.scratch = scratch
        self.home = scratch / "home"
        self.home.mkdir(mode=0o700, exist_ok=True)
        self._count = 0

    def _sig_file(self, signature: bytes) -> Path:
        self._count += 1
        path = self.scratch / f"record-{self._count}.sig"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(signature)
        return path

    def check(self, data: bytes, signature: bytes) -> str | None:
        """None when the signature is sound in our namespace (whoever made it)."""
        sig = self._sig_file(signature)
        proc = _keygen(["-Y", "check-novalidate", "-n", NAMESPACE, "-s", str(sig)], self.home, data)
        return None if proc.returncode == 0 else _detail(proc, self.scratch)

    def principals(self, signature: bytes) -> list[str]:
        sig = self._sig_file(signature)
        proc = _keygen(
            ["-Y", "find-principals", "-s", str(sig), "-f", str(self.allowed)], self.home
        )
        if proc.returncode != 0:
            return []
        return [p for p in proc.stdout.decode("utf-8", "replace").split() if p]

    def verify(self, data: bytes, signature: bytes, principal: str) -> str | None:
        """None when ``principal`` made the signature and may sign evidence."""
        sig = self._sig_file(signature)
        proc = _keygen(
            [
                "-Y",
                "verify",
                "-n",
                NAMESPACE,
                "-I",
                principal,
                "-s",
                str(sig),
                "-f",
                str(self.allowed),
            ],
            self.home,
            data,
        )
        return None if proc.returncode == 0 else _detail(proc, self.scratch)


def verify_record(
    data: bytes, signature: bytes, principal: str, allowed_signers_file: Path
) -> bool:
    """True only when ``principal`` signed ``data`` in namespace lanectl-evidence."""
    with tempfile.TemporaryDirectory(prefix="lanectl-verify-") as scratch:
        return (
            _Verifier(allowed_signers_file, Path(scratch)).verify(data, signature, principal)
            is None
        )


# ---------------------------------------------------------------------------
# Loading one record


def _read_regular(path: Path, limit: int) -> bytes:
    """Read a regular file of at most ``limit`` bytes; never follow a symbolic link."""
    try:
        fd = os.open(
            path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
        )
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LaneError("is a symbolic link") from None
        raise LaneError(f"cannot read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LaneError("is not a regular file")
        if info.st_size > limit:
            raise LaneError(f"is too large ({info.st_size:,} bytes; the limit is {limit:,})")
        data = os.read(fd, limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise LaneError(f"is too large (over {limit:,} bytes)")
    return data


def _expected_name(record: records.Record) -> str:
    return records.relative_path(record.kind, record.task, record.head, record.agent, record.role)


def load_record(
    path: Path,
    rel: str,
    kind: str,
    *,
    task: str,
    head: str,
    trust: signers.Trust,
    verifier: _Verifier,
) -> Verified | Ignored:
    """Verify one record file and its ``.sig`` for ``task`` at ``head``."""
    try:
        data = _read_regular(path, MAX_RECORD_BYTES)
    except LaneError as exc:
        return Ignored(rel, "unreadable", f"unreadable: the record {exc.message}")
    sig_path = path.with_name(path.name + SIG_SUFFIX)
    if not sig_path.exists() and not sig_path.is_symlink():
        return Ignored(rel, "unsigned", f"unsigned: {sig_path.name} is missing")
    try:
        signature = _read_regular(sig_path, MAX_SIG_BYTES)
    except LaneError as exc:
        return Ignored(rel, "unsigned", f"unsigned: the signature {exc.message}")
    problem = verifier.check(data, signature)
    if problem is not None:
        return Ignored(rel, "bad_signature", f"signature does not verify: {problem}")
    try:
        record = records.load(kind, data, rel)
    except LaneError as exc:
        return Ignored(rel, "malformed", f"malformed: {exc}")
    agent = record.agent
    expected = keys.principal(agent)
    found = verifier.principals(signature)
    base = trust.base_branch
    if not found:
        return Ignored(
            rel,
            "unknown_signer",
            f"signer not allowed: the signing key is not in {base}'s {signers.PATH}",
            agent,
        )
    if expected not in found:
        return Ignored(
            rel,
            "wrong_signer",
            f"signed by {', '.join(found)}, not by {expected} whom the record names",
            agent,
        )
    problem = verifier.verify(data, signature, expected)
    if problem is not None:
        return Ignored(
            rel,
            "not_allowed",
            f"signer not allowed: {base}'s {signers.PATH} does not let {expected} sign "
            f"{NAMESPACE} ({problem})",
            agent,
        )
    configured = trust.role_of(agent)
    if configured is None:
        return Ignored(
            rel, "unknown_agent", f"unknown agent: {agent} is not in {base}'s config", agent
        )
    if configured != record.role:
        return Ignored(
            rel,
            "role_mismatch",
            f"role mismatch: the record says {record.role} but {base}'s config makes "
            f"{agent} a {configured}",
            agent,
        )
    if configured not in records.PRODUCERS[kind]:
        return Ignored(
            rel,
            "role_not_allowed",
            f"role not allowed: a {configured} cannot produce a {kind}",
            agent,
        )
    if record.task != task:
        return Ignored(rel, "wrong_task", f"wrong task: names {record.task}, judging {task}", agent)
    if record.head != head:
        return Ignored(
            rel,
            "wrong_head",
            f"wrong head: names {record.head[:12]}, judging {head[:12]}",
            agent,
        )
    if _expected_name(record) != rel:
        return Ignored(
            rel,
            "misplaced",
            f"misplaced: a record with this content belongs at {_expected_name(record)}",
            agent,
        )
    return Verified(rel, record, expected, hashlib.sha256(data).hexdigest())


# ---------------------------------------------------------------------------
# Collecting and writing


def _record_dir(kind: str, task: str, head: str) -> str:
    if kind not in DIRS:
        raise LaneError(f"unknown record kind '{kind}' (expected {' or '.join(records.KINDS)})")
    if not ids.is_task_id(task):
        raise LaneError(f"'{task}' is not a task id")
    if not records.HEAD.match(head):
        raise LaneError(f"'{head}' is not a full commit id")
    return f"{DIRS[kind]}/{task}/{head}"


def collect(ws: Workspace, task: str, head: str, kind: str) -> tuple[list[Verified], list[Ignored]]:
    """Every record of ``kind`` for ``task`` at ``head``: (verified, ignored with reasons)."""
    rel_dir = _record_dir(kind, task, head)
    directory = ws.state_dir / rel_dir
    if not directory.is_dir() or directory.is_symlink():
        return [], []
    names = sorted(os.listdir(directory))
    candidates = [n for n in names if n.endswith(".yaml")]
    ignored = [
        Ignored(f"{rel_dir}/{n}", "stray", "stray file: not a .yaml record or its .yaml.sig")
        for n in names
        if not n.endswith(".yaml") and not (n.endswith(".yaml.sig") and n[:-4] in candidates)
    ]
    try:
        trust = signers.load_trust(ws)
    except LaneError as exc:
        reason = f"no trust: {exc}"
        return [], [Ignored(f"{rel_dir}/{n}", "no_trust", reason) for n in candidates] + ignored
    verified: list[Verified] = []
    with signers.materialized(trust.text) as allowed:
        verifier = _Verifier(allowed, allowed.parent)
        for name in candidates:
            result = load_record(
                directory / name,
                f"{rel_dir}/{name}",
                kind,
                task=task,
                head=head,
                trust=trust,
                verifier=verifier,
            )
            if isinstance(result, Verified):
                verified.append(result)
            else:
                ignored.append(result)
    return verified, ignored


def write_signed_record(
    ws: Workspace, change: Change, kind: str, record: Mapping[str, Any], agent: str
) -> Verified | Ignored:
    """Write ``record`` on the state branch, signed with ``agent``'s key, and log it.

    Refuses (exit 3, ``tool.denied`` event) when ``agent``'s role in the base
    branch's config may not produce ``kind``. Returns what a judge would see:
    the record verified, or the reason it would be ignored.
    """
    trust = signers.load_trust(ws)
    role = trust.role_of(keys.check_name(agent))
    if role is None:
        raise LaneError(
            f"agent {agent} is not in the base branch's config",
            hint=f"run `lanectl agent add {agent} …` and merge the change into {trust.base_branch}",
        )
    body = {**record, "agent": record.get("agent", agent), "role": record.get("role", role)}
    body.setdefault("ts", ledger.now_ts())
    if (
        body["agent"] != agent
        or body["role"] != role
        or role not in records.PRODUCERS.get(kind, ())
    ):
        reason = f"{agent} is a {role} and cannot produce a {kind} record" + (
            f" for {body['role']} {body['agent']}"
            if (body["agent"], body["role"]) != (agent, role)
            else ""
        )
        ledger.record(
            change,
            "tool.denied",
            actor=agent,
            role=role,
            task=str(body.get("task") or "") or None,
            attempted=[f"write a {kind} record"],
            result="blocked",
            reason=reason,
        )
        raise Refused(reason)
    data = records.render(kind, body)
    parsed = records.load(kind, data, "record")
    key = keys.find_key(ws.common_dir, agent)
    if key is None:
        raise LaneError(
            f"agent {agent} has no signing key on this machine",
            hint=f"run `lanectl agent add {agent} …` to create it, then merge the "
            f"allowed_signers change into {trust.base_branch}",
        )
    signature = sign_record(data, key.private_path)
    rel = _expected_name(parsed)
    path = state.ensure(ws) / rel
    state.atomic_write(path, data.decode("utf-8"))
    state.atomic_write(path.with_name(path.name + SIG_SUFFIX), signature.decode("ascii"))
    change.touch(path)
    change.touch(path.with_name(path.name + SIG_SUFFIX))
    with signers.materialized(trust.text) as allowed:
        result = load_record(
            path,
            rel,
            kind,
            task=parsed.task,
            head=parsed.head,
            trust=trust,
            verifier=_Verifier(allowed, allowed.parent),
        )
    summary: dict[str, Any] = {"path": rel, "sha256": hashlib.sha256(data).hexdigest()}
    if isinstance(parsed, records.Review):
        summary["verdict"] = parsed.verdict
    else:
        summary["passed"] = parsed.passed
    if isinstance(result, Ignored):
        summary["ignored"] = result.reason
    ledger.record(
        change,
        f"{kind}.recorded",
        actor=agent,
        role=role,
        task=parsed.task,
        head=parsed.head,
        data=summary,
    )
    return result


def record_ignored(change: Change, task: str, head: str, ignored: list[Ignored]) -> None:
    """Report ignored evidence in the ledger (one ``evidence.ignored`` event each)."""
    for item in ignored:
        ledger.record(
            change,
            "evidence.ignored",
            task=task,
            head=head,
            result="refused",
            reason=item.reason,
            data={"path": item.path, "code": item.code, "agent": item.agent},
        )
