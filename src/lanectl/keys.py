"""lanectl-managed SSH keys: one ed25519 key per agent, outside every work tree.

Agents sign their evidence (review records, check results) with a key that
lanectl keeps under ``$LANECTL_HOME/keys/<repo-id>/<agent>``, never inside
the repository, so a model working in a task worktree cannot read or forge
another actor's key (ADR 0009). The public half is registered in the base
branch's ``.lanes/allowed_signers`` under the principal ``agent:<name>``.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lanectl import git
from lanectl.errors import LaneError

KEY_TYPE = "ssh-ed25519"
AGENT_NAMESPACES = "lanectl-evidence,git"
AGENT_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
PRINCIPAL_PREFIX = "agent:"


@dataclass(frozen=True)
class AgentKey:
    agent: str
    private_path: Path  # never read by lanectl itself; only ssh-keygen opens it
    public: str  # "ssh-ed25519 AAAA…" (type and base64, no comment)
    created: bool  # made by this call

    @property
    def principal(self) -> str:
        return principal(self.agent)

    @property
    def signer_line(self) -> str:
        return allowed_signers_line(self.agent, self.public)


def check_name(agent: str) -> str:
    if not AGENT_NAME.match(agent):
        raise LaneError(
            f"'{agent}' is not a valid agent name",
            hint="use lower-case letters, digits, '.', '_' or '-', starting with a letter or digit",
        )
    return agent


def principal(agent: str) -> str:
    return PRINCIPAL_PREFIX + check_name(agent)


def allowed_signers_line(agent: str, public_key: str) -> str:
    """``agent:<name> namespaces="lanectl-evidence,git" ssh-ed25519 AAAA… agent:<name>``."""
    parts = public_key.split()
    if len(parts) < 2:
        raise LaneError(f"not an SSH public key for agent {agent}")
    who = principal(agent)
    return f'{who} namespaces="{AGENT_NAMESPACES}" {parts[0]} {parts[1]} {who}'


def lanectl_home() -> Path:
    """``$LANECTL_HOME``, else ``${XDG_DATA_HOME:-~/.local/share}/lanectl``."""
    explicit = os.environ.get("LANECTL_HOME")
    if explicit:
        return Path(explicit).expanduser().resolve()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return (Path(data).expanduser() / "lanectl").resolve()


def repo_id(common_dir: Path) -> str:
    """A short, stable name for one repository on this machine (its git common dir)."""
    return hashlib.sha256(str(common_dir.resolve()).encode("utf-8", "surrogateescape")).hexdigest()[
        :16
    ]


def key_dir(common_dir: Path) -> Path:
    return lanectl_home() / "keys" / repo_id(common_dir)


def private_key_path(common_dir: Path, agent: str) -> Path:
    return key_dir(common_dir) / check_name(agent)


def public_key_path(common_dir: Path, agent: str) -> Path:
    return key_dir(common_dir) / f"{check_name(agent)}.pub"


def _keygen(args: list[str], *, home: Path) -> subprocess.CompletedProcess[bytes]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": str(home)}
    try:
        return subprocess.run(
            ["ssh-keygen", *args],
            env=env,
            capture_output=True,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise LaneError(
            "ssh-keygen is not installed or not on PATH",
            hint="install OpenSSH (8.2 or newer) to sign and verify evidence",
        ) from None


def _first_line(data: bytes) -> str:
    lines = data.decode("utf-8", "replace").strip().splitlines()
    return lines[0] if lines else "no detail"


def _refuse_inside_repository(directory: Path, common_dir: Path) -> None:
    roots = [common_dir.resolve()]
    try:
        roots += [p.resolve() for p in git.worktree_paths(common_dir)]
    except LaneError:
        roots.append(common_dir.resolve().parent)
    for root in roots:
        if directory == root or root in directory.parents:
            raise LaneError(
                f"agent keys would be stored inside the repository ({directory})",
                hint="set LANECTL_HOME to a directory outside every work tree",
            )


def _private_dir(path: Path) -> None:
    """Create ``path`` (and parents) with mode 0700 and tighten it if it exists."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def _public_from_private(private: Path, home: Path) -> str:
    proc = _keygen(["-y", "-f", str(private)], home=home)
    if proc.returncode != 0:
        raise LaneError(
            f"cannot read the agent key {private}: {_first_line(proc.stderr)}",
            hint="delete it and run `lanectl agent add` again",
        )
    parts = proc.stdout.decode("ascii", "replace").split()
    if len(parts) < 2 or parts[0] != KEY_TYPE:
        raise LaneError(f"{private} is not an {KEY_TYPE} key")
    return f"{parts[0]} {parts[1]}"


def find_key(common_dir: Path, agent: str) -> AgentKey | None:
    """The agent's key on this machine, or None. Fixes loose permissions."""
    private = private_key_path(common_dir, agent)
    if not private.is_file() or private.is_symlink():
        return None
    if private.stat().st_mode & 0o077:
        private.chmod(0o600)
    public_path = public_key_path(common_dir, agent)
    public: str | None = None
    if public_path.is_file():
        parts = public_path.read_text(encoding="ascii", errors="replace").split()
        if len(parts) >= 2 and parts[0] == KEY_TYPE:
            public = f"{parts[0]} {parts[1]}"
    if public is None:
        with tempfile.TemporaryDirectory(prefix="lanectl-home-") as home:
            public = _public_from_private(private, Path(home))
        public_path.write_text(f"{public} {principal(agent)}\n", encoding="ascii")
    return AgentKey(agent, private, public, created=False)


def ensure_key(common_dir: Path, agent: str) -> AgentKey:
    """Create the agent's key if it does not exist yet (safe to call again and in parallel)."""
    check_name(agent)
    directory = key_dir(common_dir)
    _refuse_inside_repository(directory, common_dir)
    existing = find_key(common_dir, agent)
    if existing is not None:
        return existing
    directory.parent.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _private_dir(directory.parent)
    _private_dir(directory)
    scratch = Path(tempfile.mkdtemp(prefix=f".new-{agent}-", dir=directory))
    try:
        tmp = scratch / "key"
        proc = _keygen(
            ["-q", "-t", "ed25519", "-N", "", "-C", principal(agent), "-f", str(tmp)], home=scratch
        )
        if proc.returncode != 0:
            raise LaneError(
                f"ssh-keygen could not create a key for {agent}: {_first_line(proc.stderr)}"
            )
        tmp.chmod(0o600)
        created = True
        try:
            os.link(tmp, private_key_path(common_dir, agent))  # first creator wins
        except FileExistsError:
            created = False
        if created:
            os.replace(tmp.with_suffix(".pub"), public_key_path(common_dir, agent))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    key = find_key(common_dir, agent)
    if key is None:
        raise LaneError(f"the key for agent {agent} vanished while it was being created")
    return AgentKey(key.agent, key.private_path, key.public, created=created)


def fingerprint(public_key: str) -> str:
    """``SHA256:…`` of a public key line, as ssh-keygen prints it."""
    import base64

    parts = public_key.split()
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (IndexError, ValueError):
        raise LaneError("not an SSH public key") from None
    digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return f"SHA256:{digest}"
