"""A person's SSH signing key: which human of the base branch it belongs to, and signing.

The key comes from ``--key`` or git's ``user.signingkey`` (a private key, or
a ``.pub`` with the private key beside it). It counts only when the BASE
branch's ``.lanes/allowed_signers`` lists it for a human of the base branch's
config in a line that allows the ``git`` namespace; a key listed for any
``agent:`` principal is refused outright (ADR 0012). lanectl never reads the
private key: git and the real ``ssh-keygen`` do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanectl import git, keys, signers
from lanectl.errors import LaneError
from lanectl.gate import FAIL, Stage
from lanectl.refusal import Refusal
from lanectl.workspace import Workspace


@dataclass(frozen=True)
class SigningKey:
    path: Path  # the private key, as git's user.signingkey
    keytype: str
    key: str  # base64 of the public key
    fingerprint: str


@dataclass(frozen=True)
class Approver:
    human: str  # id in the base branch's config
    principal: str  # as listed in the base branch's allowed_signers
    name: str
    email: str
    key: SigningKey

    def env(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
        }


def _public_of(private: Path) -> str:
    with tempfile.TemporaryDirectory(prefix="lanectl-home-") as home:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "HOME": home}
        proc = subprocess.run(
            ["ssh-keygen", "-y", "-f", str(private)],
            env=env,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    if proc.returncode != 0:
        raise LaneError(
            f"cannot read the public half of {private}",
            hint=f"put {private.name}.pub beside it, or pass --key {private}.pub",
        )
    return proc.stdout.decode("ascii", "replace")


def signing_key(ws: Workspace, key: Path | None) -> SigningKey:
    """``--key`` or git's ``user.signingkey``: a private key, or a .pub beside its private key."""
    if key is None:
        configured = git.config_get("user.signingkey", ws.root)
        if configured is None:
            raise LaneError(
                "no signing key: pass --key PATH or set git config user.signingkey",
                hint="e.g. --key ~/.ssh/id_ed25519, the key you gave `lanectl human add`",
            )
        if configured.startswith(("key::", "ssh-", "ecdsa-", "sk-")):
            raise LaneError(
                "git's user.signingkey holds a literal key; lanectl needs the key file",
                hint="pass --key PATH",
            )
        key = Path(configured)
    path = key.expanduser()
    path = path if path.is_absolute() else (Path.cwd() / path)
    if path.suffix == ".pub":
        private, public = path.with_suffix(""), path
    else:
        private, public = path, path.with_name(path.name + ".pub")
    if not private.is_file():
        raise LaneError(
            f"{private}: no such private key",
            hint="pass --key with your private key, or its .pub with the private key beside it",
        )
    text = public.read_text("utf-8", "replace") if public.is_file() else _public_of(private)
    keytype, blob, _ = signers.parse_public_key(text, str(public))
    return SigningKey(private, keytype, blob, keys.fingerprint(f"{keytype} {blob}"))


def identify(trust: signers.Trust, raw_config: Mapping[str, Any], key: SigningKey) -> Approver:
    """The human whose key this is on the base branch; refuses agents and strangers."""
    base = trust.base_branch
    lines = [s for s in trust.signers if (s.keytype, s.key) == (key.keytype, key.key)]
    if not lines:
        raise Refusal(
            "this key cannot approve",
            [Stage("approver", FAIL, f"key {key.fingerprint} is not in {base}'s {signers.PATH}")],
            hint=f"register it with `lanectl human add` and merge that change into {base}",
        )
    principals = [p for s in lines for p in s.principals]
    agent = next((p for p in principals if signers.is_agent(p)), None)
    if agent is not None:
        reason = f"key {key.fingerprint} belongs to {agent}; agents never approve"
        raise Refusal("this key cannot approve", [Stage("approver", FAIL, reason)])
    for line in lines:
        for principal in line.principals:
            human = signers.human_of(principal, trust.humans)
            if human is not None and line.allows("git"):
                name, email = _person(raw_config, human, principal)
                return Approver(human, principal, name, email, key)
    reason = (
        f"key {key.fingerprint} is listed for {', '.join(principals)}, who is not a human in "
        f"{base}'s config or may not sign git commits (namespaces)"
    )
    raise Refusal("this key cannot approve", [Stage("approver", FAIL, reason)])


def _person(raw: Mapping[str, Any], human: str, principal: str) -> tuple[str, str]:
    for entry in raw.get("humans") or []:
        if isinstance(entry, dict) and entry.get("id") == human:
            email = str(entry.get("email") or principal)
            return str(entry.get("name") or human), email
    return human, principal


def signed_commit(
    repo: Path, tree: str, parents: Sequence[str], message: str, approver: Approver
) -> str:
    """``git commit-tree -S`` with the approver's key (ssh format, the real ssh-keygen)."""
    program = shutil.which("ssh-keygen")
    if program is None:
        raise LaneError("ssh-keygen is not installed; lanectl needs it to sign the approval")
    args = [
        "-c",
        "gpg.format=ssh",
        "-c",
        f"gpg.ssh.program={program}",
        "-c",
        f"user.signingkey={approver.key.path}",
        "commit-tree",
        "-S",
        tree,
        *[a for p in parents for a in ("-p", p)],
        "-F",
        "-",
    ]
    proc = git.run(args, repo, env=approver.env(), input=message.encode("utf-8"), check=False)
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise LaneError(
            f"could not sign with {approver.key.path}: {lines[-1] if lines else 'git failed'}",
            hint="a key with a passphrase needs a terminal, or load it with ssh-add",
        )
    return proc.stdout.decode().strip()
