"""What an agent's processes get: a scrubbed environment, a private HOME, capped output.

Every process lanectl starts for an agent (an external agent CLI, a check,
a command a model asked to run) gets an environment built from an allow-list,
not a copy of lanectl's own: ``PATH``, ``LANG``, a private ``HOME`` and
``TMPDIR`` under ``<git common dir>/lanectl/homes/<agent>``, the task's
names, and the agent's own credential variable when it needs one (``TMP``
and ``TEMP`` name the same TMPDIR). Nothing
else crosses: no other agent's credential, no forge token, no
``SSH_AUTH_SOCK``, no ``GIT_*``, no ``ANTHROPIC_*``/``OPENAI_*`` beyond its
own. Credentials travel by environment only, never argv, and every byte of
captured output is redacted before it is stored (ADR 0018, docs/agents.md).
Given :class:`~lanectl.sandbox.Rules`, :func:`run` starts the process through
the Landlock wrapper of :mod:`lanectl.sandbox`, so it can read and write only
what the rules allow (ADR 0032).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanectl import ledger
from lanectl.errors import LaneError

if TYPE_CHECKING:
    from lanectl.sandbox import Rules

DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
OUTPUT_CAP = 256 * 1024  # bytes of output kept per process (head and tail)
KILL_GRACE_S = 3.0
UNSANDBOXED = "the sandbox is required (sandbox.required) but Landlock is unavailable"
# Never in an agent's environment, whatever the config says.
FORBIDDEN = (
    "SSH_AUTH_SOCK",
    "SSH_AGENT_PID",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITLAB_TOKEN",
    "LANECTL_HOME",
)
_BASE = ("PATH", "LANG", "HOME", "TMPDIR", "TMP", "TEMP")


def private_home(private_dir: Path, agent: str) -> Path:
    """The agent's own HOME (0700), kept between runs; its TMPDIR inside it."""
    from lanectl import keys

    home = private_dir / "homes" / keys.check_name(agent)
    (home / "tmp").mkdir(mode=0o700, parents=True, exist_ok=True)
    for path in (home.parent, home, home / "tmp"):
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)
    return home


def agent_env(
    home: Path,
    *,
    credential: tuple[str, str] | None = None,
    names: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of an agent process (built up, never filtered down)."""
    env = {
        "PATH": os.environ.get("PATH") or DEFAULT_PATH,
        "LANG": os.environ.get("LANG") or "C.UTF-8",
        "HOME": str(home),
        "TMPDIR": str(home / "tmp"),
        "TMP": str(home / "tmp"),
        "TEMP": str(home / "tmp"),
    }
    for key, value in (names or {}).items():
        if not key.startswith("LANECTL_") or key == "LANECTL_HOME":
            raise ValueError(f"not a task name variable: {key}")
        env[key] = value
    if credential is not None:
        name, value = credential
        check_credential_name(name)
        env[name] = value
    return env


def check_credential_name(name: str) -> None:
    """Refuse a credential variable no agent may hold (a forge token, the SSH agent, …)."""
    if name in FORBIDDEN or name.startswith(("GIT_", "LANECTL_")) or name in _BASE:
        raise LaneError(
            f"{name} cannot be an agent's credential variable",
            hint="give the agent a credential of its own (credential_env of its budget)",
        )


class Redactor:
    """Replaces every known secret value with ``[redacted]``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def text(self, value: str) -> str:
        return str(ledger.redact(value, self.secrets))

    def bytes(self, value: bytes) -> bytes:
        for secret in self.secrets:
            value = value.replace(secret.encode(), b"[redacted]")
        return value


@dataclass(frozen=True)
class Captured:
    """How a process ended and what it said (capped, redacted)."""

    argv: tuple[str, ...]
    exit_code: int  # negative: killed by that signal
    duration_s: float
    output: str  # head and tail, redacted
    output_bytes: int  # everything it wrote
    output_sha256: str  # of everything it wrote
    timed_out: bool = False
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.cancelled

    def tail(self, limit: int = 2000) -> str:
        return self.output[-limit:]

    def last_line(self) -> str:
        lines = [ln.strip() for ln in self.output.splitlines() if ln.strip()]
        return lines[-1][:200] if lines else "no output"


class Progress:
    """What a running agent shows of itself: output and file changes, for the heartbeat."""

    def __init__(self) -> None:
        self.last = time.time()
        self.pid: int | None = None
        self.started: int | None = None
        self.step: int | None = None  # a model agent's turns so far (the agent loop sets it)
        self.max_steps: int | None = None

    def heartbeat(self) -> dict[str, Any]:
        """What each lease renewal records of the agent's progress."""
        beat: dict[str, Any] = {"progress": self.last}
        if self.step is not None:
            beat |= {"step": self.step, "max_steps": self.max_steps}
        return beat

    def touch(self) -> None:
        self.last = time.time()


class _Capture:
    """Keeps the head and the tail of a stream within the cap, hashing all of it."""

    def __init__(self, cap: int, progress: Progress | None = None) -> None:
        self.cap = cap
        self.progress = progress
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.digest = hashlib.sha256()

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.digest.update(chunk)
        if self.progress is not None:
            self.progress.touch()
        room = self.cap // 2 - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            del self.tail[: max(0, len(self.tail) - self.cap // 2)]

    def text(self, redactor: Redactor) -> str:
        skipped = self.total - len(self.head) - len(self.tail)
        middle = f"\n[… {skipped} bytes not kept …]\n".encode() if skipped > 0 else b""
        data = redactor.bytes(bytes(self.head) + middle + bytes(self.tail))
        return data.decode("utf-8", "replace")


def _stat(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name (state first), or None."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rsplit(")", 1)[-1].split()


def start_time(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), to tell it from a reused pid."""
    fields = _stat(pid)
    try:
        return int(fields[19]) if fields else None
    except (IndexError, ValueError):
        return None


def alive(pid: int, started: int | None = None) -> bool:
    """Whether ``pid`` runs (and is the same process when ``started`` is given).

    A zombie (exited, not yet reaped by its new parent) does not run.
    """
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat(pid)
    if fields and fields[0] in ("Z", "X"):
        return False
    return started is None or start_time(pid) in (None, started)


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    redactor: Redactor,
    cap: int = OUTPUT_CAP,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    on_start: Callable[[int], None] | None = None,
    sandbox: Rules | None = None,
) -> Captured:
    """Run ``argv`` in its own process group; stop it (and everything it started) on
    timeout or ``cancel``. stdin is closed; stdout and stderr are captured together.

    With ``sandbox``, the process runs under those Landlock rules; where Landlock is
    unavailable it runs without them, unless the rules are ``required`` (then it does
    not start: exit 126)."""
    started = time.monotonic()
    launch = list(argv)
    if sandbox is not None:
        from lanectl import sandbox as landlock

        if landlock.abi() > 0:
            launch = landlock.wrap(argv, sandbox)
        elif sandbox.required:
            why = f"refused to start {argv[0]}: {UNSANDBOXED} ({landlock.unavailable_reason()})"
            empty = hashlib.sha256().hexdigest()
            return Captured(tuple(argv), landlock.DENIED, 0.0, redactor.text(why), 0, empty)
    try:
        proc = subprocess.Popen(
            launch,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        return Captured(
            tuple(argv),
            127,
            0.0,
            redactor.text(f"cannot start {argv[0]}: {exc.strerror}"),
            0,
            hashlib.sha256().hexdigest(),
        )
    capture = _Capture(cap, progress)
    assert isinstance(proc.stdout, io.BufferedReader)
    stream = proc.stdout

    def pump() -> None:
        while chunk := stream.read1(65536):
            capture.feed(chunk)

    reader = threading.Thread(target=pump, name=f"output-{proc.pid}", daemon=True)
    reader.start()
    if progress is not None:
        progress.pid, progress.started = proc.pid, start_time(proc.pid)
    if on_start is not None:
        on_start(proc.pid)
    timed_out = cancelled = False
    deadline = started + timeout
    while proc.poll() is None:
        if cancel is not None and cancel.is_set():
            cancelled = True
        elif time.monotonic() >= deadline:
            timed_out = True
        if timed_out or cancelled:
            kill_group(proc.pid, signal.SIGTERM)
            try:
                proc.wait(KILL_GRACE_S)
            except subprocess.TimeoutExpired:
                kill_group(proc.pid)
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(0.2)
    kill_group(proc.pid)  # what it left running in the background stops with it
    proc.wait()
    reader.join(5)
    stream.close()
    return Captured(
        argv=tuple(argv),
        exit_code=proc.returncode,
        duration_s=round(time.monotonic() - started, 3),
        output=capture.text(redactor),
        output_bytes=capture.total,
        output_sha256=capture.digest.hexdigest(),
        timed_out=timed_out,
        cancelled=cancelled,
    )
