"""Who may sign: ``.lanes/allowed_signers`` and the org chart, read from the BASE branch.

Trust comes only from the base branch's committed files (``git cat-file`` of
``refs/heads/<base>``): never the work tree, never a task branch, never a path
named in the repository's git config. The file is parsed strictly (lanectl
supports a subset of ssh-keygen's ALLOWED SIGNERS format: no wildcard
principals, no certificate authorities) and handed to ``ssh-keygen`` as a
private temp file that is removed after use.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lanectl import config, git, keys, yamlio
from lanectl.errors import LaneError

if TYPE_CHECKING:
    from lanectl.workspace import Workspace

PATH = ".lanes/allowed_signers"
KEY_TYPES = (
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
)
OPTIONS = ("namespaces", "valid-after", "valid-before")
_OPTION = re.compile(r'([a-z-]+)(?:=("[^"]*"|[^,"\s]*))?(?:,|$)')
_TIME = re.compile(r"^\d{8}(\d{4}(\d{2})?)?Z?$")
_PRINCIPAL = re.compile(r"^[^\s,*?!\"]+$")
PRIVATE_KEY_MARK = "PRIVATE KEY-----"


@dataclass(frozen=True)
class Signer:
    """One line of allowed_signers."""

    line: int
    principals: tuple[str, ...]
    options: tuple[tuple[str, str], ...]  # (name, value without quotes)
    keytype: str
    key: str  # base64
    comment: str = ""

    @property
    def namespaces(self) -> tuple[str, ...] | None:
        """The namespaces this key may sign in; None means any namespace."""
        for name, value in self.options:
            if name == "namespaces":
                return tuple(n.strip() for n in value.split(",") if n.strip())
        return None

    def allows(self, namespace: str) -> bool:
        allowed = self.namespaces
        return allowed is None or namespace in allowed


def _check_key(keytype: str, key: str, where: str) -> None:
    if keytype not in KEY_TYPES:
        raise LaneError(
            f"unsupported key type '{keytype}' (expected one of: {', '.join(KEY_TYPES)})",
            where=where,
        )
    try:
        blob = base64.b64decode(key, validate=True)
    except ValueError:
        raise LaneError("the key is not valid base64", where=where) from None
    length = int.from_bytes(blob[:4], "big") if len(blob) >= 4 else -1
    if length <= 0 or blob[4 : 4 + length].decode("ascii", "replace") != keytype:
        raise LaneError(f"the key data is not a {keytype} key", where=where)


def _parse_options(text: str, where: str) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        match = _OPTION.match(text, position)
        if not match or match.end() == position:
            raise LaneError(f"cannot read the options '{text}'", where=where)
        name, value = match.group(1), (match.group(2) or "").strip('"')
        if name == "cert-authority":
            raise LaneError(
                "cert-authority lines are not supported by lanectl; list each key", where=where
            )
        if name not in OPTIONS:
            raise LaneError(
                f"unknown option '{name}' (lanectl understands: {', '.join(OPTIONS)})", where=where
            )
        if not value:
            raise LaneError(f"option {name} needs a value", where=where)
        if name != "namespaces" and not _TIME.match(value):
            raise LaneError(f"option {name} must look like YYYYMMDD[HHMM[SS]][Z]", where=where)
        found.append((name, value))
        position = match.end()
    return tuple(found)


def _split_options(rest: str) -> tuple[str, str]:
    """Split ``rest`` at the first whitespace outside double quotes."""
    quoted = False
    for index, char in enumerate(rest):
        if char == '"':
            quoted = not quoted
        elif char in " \t" and not quoted:
            return rest[:index], rest[index:].lstrip()
    return rest, ""


def parse_line(raw: str, number: int, where: str = PATH) -> Signer | None:
    """One line of the file; None for blank and comment lines."""
    here = f"{where}:{number}"
    text = raw.strip()
    if not text or text.startswith("#"):
        return None
    head, rest = [*re.split(r"[ \t]+", text, maxsplit=1), ""][:2]
    if head.startswith('"'):
        end = text.find('"', 1)
        if end < 0:
            raise LaneError("unclosed quote in the principals", where=here)
        head, rest = text[1:end], text[end + 1 :]
    rest = rest.strip()
    principals = tuple(p for p in head.split(","))
    for item in principals:
        if not _PRINCIPAL.match(item):
            raise LaneError(
                f"principal '{item}' is not supported: lanectl needs plain principals "
                "(no wildcards, negations, quotes or empty names)",
                where=here,
            )
        if item.startswith(keys.PRINCIPAL_PREFIX) and not keys.AGENT_NAME.match(
            item[len(keys.PRINCIPAL_PREFIX) :]
        ):
            raise LaneError(f"'{item}' does not name a valid agent", where=here)
    options: tuple[tuple[str, str], ...] = ()
    first = rest.split(None, 1)[0] if rest else ""
    if "=" in first or first.startswith("cert-authority"):
        option_text, rest = _split_options(rest)
        options = _parse_options(option_text, here)
    parts = rest.split(None, 2)
    if len(parts) < 2:
        raise LaneError(
            "expected: principals [options] keytype base64-key [comment]",
            where=here,
        )
    _check_key(parts[0], parts[1], here)
    return Signer(
        number, principals, options, parts[0], parts[1], parts[2] if len(parts) > 2 else ""
    )


def parse_all(text: str, where: str = PATH) -> tuple[list[Signer], list[LaneError]]:
    """Every signer line, and every problem (each naming ``where:LINE``)."""
    signers: list[Signer] = []
    problems: list[LaneError] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        try:
            signer = parse_line(raw, number, where)
        except LaneError as exc:
            problems.append(exc)
            continue
        if signer is not None:
            signers.append(signer)
    problems += _mixed_keys(signers, where)
    return signers, problems


def parse(text: str, where: str = PATH) -> list[Signer]:
    """Every signer line; raises the first problem."""
    signers, problems = parse_all(text, where)
    if problems:
        raise problems[0]
    return signers


def _mixed_keys(signers: list[Signer], where: str) -> list[LaneError]:
    """A key listed both for an agent and for a person would let that agent approve."""
    kinds: dict[str, tuple[bool, int]] = {}
    problems: list[LaneError] = []
    for signer in signers:
        for item in signer.principals:
            agent = is_agent(item)
            seen = kinds.setdefault(signer.key, (agent, signer.line))
            if seen[0] != agent:
                problems.append(
                    LaneError(
                        f"this key is also listed on line {seen[1]} for "
                        f"{'an agent' if seen[0] else 'a person'}; agents and people need their "
                        "own keys",
                        where=f"{where}:{signer.line}",
                    )
                )
    return problems


def parse_public_key(text: str, where: str) -> tuple[str, str, str]:
    """(keytype, base64, comment) of a ``.pub`` file with exactly one key."""
    if PRIVATE_KEY_MARK in text:
        raise LaneError("this is a PRIVATE key; pass the public half (the .pub file)", where=where)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    if len(lines) != 1:
        raise LaneError("expected exactly one SSH public key line", where=where)
    parts = lines[0].split(None, 2)
    if len(parts) < 2:
        raise LaneError("expected 'keytype base64-key [comment]'", where=where)
    _check_key(parts[0], parts[1], where)
    return parts[0], parts[1], parts[2] if len(parts) > 2 else ""


# ---------------------------------------------------------------------------
# Principals


def is_agent(principal: str) -> bool:
    return principal.startswith(keys.PRINCIPAL_PREFIX)


def agent_of(principal: str) -> str | None:
    if not is_agent(principal):
        return None
    name = principal[len(keys.PRINCIPAL_PREFIX) :]
    return name if keys.AGENT_NAME.match(name) else None


def human_of(principal: str, humans: tuple[tuple[str, str], ...]) -> str | None:
    """The configured human (id) a principal names, by email (any case) or id."""
    if is_agent(principal):
        return None
    for human_id, email in humans:
        if principal == human_id or (email and principal.lower() == email.lower()):
            return human_id
    return None


# ---------------------------------------------------------------------------
# Trust from the base branch


@dataclass(frozen=True)
class Trust:
    base_branch: str
    commit: str  # the base commit everything here was read from
    text: str  # allowed_signers at that commit ("" when absent)
    signers: tuple[Signer, ...]
    agents: tuple[tuple[str, str], ...]  # (agent name, role) from the base config
    humans: tuple[tuple[str, str], ...]  # (id, email) from the base config

    def role_of(self, agent: str) -> str | None:
        return dict(self.agents).get(agent)


def base_commit(ws: Workspace) -> tuple[str, str]:
    """(base branch name, its commit), refusing a base that names a task or the state branch."""
    base = ws.settings.base_branch
    if base.startswith("lanes/") or base == ws.settings.state_branch:
        raise LaneError(
            f"base_branch '{base}' is a task or state branch; trust is never read from it",
            where=config.CONFIG_PATH,
            hint="check out your base branch (e.g. main) and run the command again",
        )
    commit = git.rev_parse(f"refs/heads/{base}", ws.root)
    if commit is None:
        raise LaneError(
            f"the base branch '{base}' does not exist yet",
            hint=f"commit .lanes/config.yaml and {PATH} to {base} first",
        )
    return base, commit


def _base_config(commit: str, base: str, ws: Workspace) -> dict[str, Any]:
    data = git.show_file(commit, config.CONFIG_PATH, ws.root)
    if data is None:
        raise LaneError(
            f"{config.CONFIG_PATH} is not committed on the base branch {base}",
            hint=f"commit it to {base} first",
        )
    raw = yamlio.load(yamlio.decode(data, config.CONFIG_PATH), config.CONFIG_PATH)
    if not isinstance(raw, dict):
        raise LaneError(f"the config on {base} is not a mapping", where=config.CONFIG_PATH)
    named = raw.get("base_branch", "main")
    if named != base:
        raise LaneError(
            f"the work tree says the base branch is '{base}' but {base}'s own config says "
            f"'{named}'",
            where=config.CONFIG_PATH,
            hint="check out the base branch, or fix base_branch there",
        )
    return raw


def load_base_config(ws: Workspace) -> tuple[str, str, dict[str, Any]]:
    """(base branch, its commit, its .lanes/config.yaml): policy as the base branch has it."""
    base, commit = base_commit(ws)
    return base, commit, _base_config(commit, base, ws)


def load_trust(ws: Workspace) -> Trust:
    """Signers, agents and humans as committed on the base branch (fail closed on errors)."""
    base, commit = base_commit(ws)
    raw = _base_config(commit, base, ws)
    data = git.show_file(commit, PATH, ws.root)
    text = yamlio.decode(data, PATH) if data is not None else ""
    try:
        signers = parse(text)
    except LaneError as exc:
        exc.message += (
            f" (in the base branch {base}; fix it there: every signature fails until then)"
        )
        raise
    agents: list[tuple[str, str]] = []
    raw_agents = raw.get("agents")
    if isinstance(raw_agents, dict):
        for name, value in raw_agents.items():
            if (
                isinstance(name, str)
                and isinstance(value, dict)
                and isinstance(value.get("role"), str)
            ):
                agents.append((name, value["role"]))
    settings = config.settings(raw)
    return Trust(base, commit, text, tuple(signers), tuple(agents), settings.humans)


@contextmanager
def materialized(text: str) -> Iterator[Path]:
    """``text`` as a private allowed_signers file (0600 in a 0700 dir), removed afterwards.

    The directory is also a scratch space for the caller (signature files, a HOME).
    """
    directory = Path(tempfile.mkdtemp(prefix="lanectl-signers-"))
    try:
        path = directory / "allowed_signers"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        yield path
    finally:
        shutil.rmtree(directory, ignore_errors=True)
