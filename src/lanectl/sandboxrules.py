"""What an agent's processes may read and write under the sandbox (ADR 0032).

    settings = Settings.from_config(base_raw)             # the base branch's ``sandbox:``
    rules = for_agent(ws, settings, worktree=wt, home=home, network=True)
    isolation.run(argv, ..., sandbox=rules)

**Read** (and execute): the system (``/usr``, ``/bin``, ``/sbin``, ``/lib*``,
``/etc``, ``/opt``, ``/proc``, ``/sys``, ``/run``), the real path of every
``PATH`` entry (with the install directory of a program linked from it, and
the root of a ``…/shims`` entry: pyenv, rbenv, asdf), Python's own prefixes,
the repository's git directory without lanectl's part of it (objects, refs,
config: what git in a worktree needs), and ``sandbox.read``. **Write** (and
read): the worktree, the agent's private HOME (its TMPDIR inside), a few
devices (``/dev/null`` and the like, ptys, ``/dev/shm``), and
``sandbox.write``. Nothing else: not ``$LANECTL_HOME`` (the keys), not your
home directory, not other worktrees, not the state worktree, not ``/tmp``.

A path that would open lanectl's home (it, a directory above it, or one
inside it) is never allowed: found automatically it is left out, configured
it is an error. So is a directory holding your home found automatically.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lanectl import keys
from lanectl.errors import LaneError
from lanectl.sandbox import Rules
from lanectl.workspace import Workspace

SYSTEM = (
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt",
    "/proc", "/sys", "/run",
)  # fmt: skip
DEVICES = (
    "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
    "/dev/ptmx", "/dev/pts", "/dev/shm",  # noqa: S108 (a rule, not a temporary file)
)  # fmt: skip
SCAN_CAP = 4096  # entries of one PATH directory looked at for links to install directories


@dataclass(frozen=True)
class Settings:
    """The base branch's ``sandbox:`` block."""

    required: bool = False
    read: tuple[str, ...] = ()
    write: tuple[str, ...] = ()
    run_network: bool = False

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> Settings:
        block = raw.get("sandbox") if isinstance(raw.get("sandbox"), dict) else {}
        assert isinstance(block, dict)
        return cls(
            required=block.get("required") is True,
            read=tuple(str(p) for p in block.get("read") or ()),
            write=tuple(str(p) for p in block.get("write") or ()),
            run_network=block.get("run_network") is True,
        )


def path_problem(value: str) -> str | None:
    """Why ``value`` cannot be a ``sandbox.read``/``write`` entry (None: it can)."""
    if not value.strip():
        return "empty"
    if not (value.startswith("/") or value == "~" or value.startswith("~/")):
        return "must be an absolute path or start with ~/"
    if ".." in Path(value).parts:
        return "must not contain '..'"
    return None


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(os.path.expanduser(str(path))))


def _covers(outer: Path, inner: Path) -> bool:
    return outer == inner or outer in inner.parents


def _opens(path: Path, protected: Path) -> bool:
    """Whether allowing ``path`` would allow something of ``protected``."""
    return _covers(path, protected) or _covers(protected, path)


def protected() -> Path:
    """lanectl's home: the agents' private keys live under it."""
    return keys.lanectl_home()


def _path_entries(path_var: str) -> list[Path]:
    found: list[Path] = []
    for entry in path_var.split(os.pathsep):
        if not entry or not os.path.isabs(entry) or not os.path.isdir(entry):
            continue
        real = _real(entry)
        found.append(real)
        if real.name == "shims":
            found.append(real.parent)  # pyenv, rbenv, asdf: the shims run the tool from here
        if any(_covers(Path(s), real) for s in SYSTEM):
            continue
        try:
            with os.scandir(real) as scan:
                for count, item in enumerate(scan):
                    if count >= SCAN_CAP:
                        break
                    if item.is_symlink():
                        target = _real(item.path).parent
                        found.append(target.parent if target.name == "bin" else target)
        except OSError:
            continue
    return found


def _git_dirs(common_dir: Path, private_dir: Path) -> list[Path]:
    """The git directory's entries but lanectl's own, and alternate object stores."""
    found: list[Path] = []
    try:
        entries = sorted(common_dir.iterdir())
    except OSError:
        return found
    private = _real(private_dir)
    for entry in entries:
        if _real(entry) != private and not _covers(_real(entry), private):
            found.append(_real(entry))
    try:
        alternates = (common_dir / "objects" / "info" / "alternates").read_text().splitlines()
    except OSError:
        alternates = []
    for line in alternates:
        line = line.strip()
        if line and not line.startswith("#"):
            found.append(_real(line if os.path.isabs(line) else common_dir / "objects" / line))
    return found


def _configured(paths: Sequence[str], key: str, guard: Path) -> list[Path]:
    found: list[Path] = []
    for index, value in enumerate(paths):
        problem = path_problem(value)
        if problem:
            raise LaneError(f"sandbox › {key} › {index}: {value}: {problem}")
        real = _real(value)
        if _opens(real, guard):
            raise LaneError(
                f"sandbox › {key} › {index}: {value} would let agent processes reach "
                f"lanectl's key directory ({guard})",
                hint="name a narrower directory in sandbox on the base branch",
            )
        found.append(real)
    return found


def _automatic(paths: Iterable[Path], guard: Path, home: Path | None) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        if _opens(path, guard) or (home is not None and _covers(path, home)):
            continue
        out.append(path)
    return out


def _unique(paths: Iterable[Path]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(p) for p in paths))


def for_agent(
    ws: Workspace,
    settings: Settings,
    *,
    worktree: Path,
    home: Path,
    network: bool,
) -> Rules:
    """The rules of one agent's processes in ``worktree`` with private ``home``."""
    guard = protected()
    user_home = _real(os.environ["HOME"]) if os.environ.get("HOME") else None
    own = [_real(worktree), _real(home)]
    for path in own:
        if _opens(path, guard):
            raise LaneError(f"cannot sandbox agent processes in {path}: it holds lanectl's keys")
    read = _automatic(
        [
            *(Path(p) for p in SYSTEM),
            *_path_entries(os.environ.get("PATH", "")),
            *(_real(p) for p in {sys.prefix, sys.base_prefix, sys.exec_prefix}),
            *_git_dirs(ws.common_dir, ws.private_dir),
        ],
        guard,
        user_home,
    )
    read += _configured(settings.read, "read", guard)
    write = own + [Path(d) for d in DEVICES] + _configured(settings.write, "write", guard)
    return Rules(_unique(read), _unique(write), network=network, required=settings.required)


def check_settings(settings: Settings) -> None:
    """Refuse (LaneError) configured paths that are malformed or open lanectl's home."""
    guard = protected()
    _configured(settings.read, "read", guard)
    _configured(settings.write, "write", guard)


UNSANDBOXED = "agent processes are not sandboxed"


def status(
    required: bool = False,
) -> tuple[Literal["ok", "warn", "error"], str, str, str | None]:
    """(level, code, message, fix) for ``lanectl doctor``: is Landlock there for agents?"""
    from lanectl import sandbox

    version = sandbox.abi()
    if version > 0:
        net = (
            "; commands of the `run` tool cannot open TCP connections"
            if version >= 4
            else "; this kernel cannot keep `run` off the network (Landlock ABI 4, Linux 6.7)"
        )
        return (
            "ok",
            "sandboxed",
            f"agent processes run under Landlock (ABI {version}): they cannot read lanectl's "
            f"key directory, your home directory or other worktrees{net}",
            None,
        )
    keys_dir = keys.lanectl_home() / "keys"
    reason = sandbox.unavailable_reason()
    switched_off = sandbox.OFF_SWITCH in reason
    fix = (
        f"unset {sandbox.OFF_SWITCH}"
        if switched_off
        else "run lanectl on Linux 5.13 or newer with Landlock enabled (lsm=…,landlock)"
    )
    if required:
        return (
            "error",
            "sandbox-required",
            f"{UNSANDBOXED} and sandbox.required is set: dispatch refuses ({reason})",
            fix,
        )
    return (
        "warn",
        "unsandboxed",
        f"{UNSANDBOXED}: they can read lanectl's key directory ({keys_dir}), your home "
        f"directory and other worktrees ({reason})",
        f"{fix}; or set sandbox: {{required: true}} on the base branch to refuse dispatch",
    )
