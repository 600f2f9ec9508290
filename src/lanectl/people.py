"""Registering humans and agents: config entries, signing keys, allowed_signers lines.

Both are policy changes: they edit ``.lanes/config.yaml`` and
``.lanes/allowed_signers`` in the WORK TREE, keeping every comment and the
order of what a person wrote, and take effect only once committed to the
base branch. The first human is trusted at bootstrap (the ledger says so);
every later change goes through a high-tier merge (SPEC §4, ADR 0009).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanectl import config, git, keys, ledger, signers, state, templates, yamlio
from lanectl.errors import LaneError
from lanectl.workspace import Workspace, actor

ROLES = ("builder", "reviewer", "security", "designer")
PROVIDERS = ("anthropic", "openai", "openai-compatible", "command")
HUMAN_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
EMAIL = re.compile(r"^[^@\s,\"*?!]+@[^@\s,\"*?!]+$")
FAMILY = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
HUMAN_NAMESPACES = "git,lanectl-evidence"
_TOP_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:(?:[ \t]+|$)(.*)$")
_EMPTY_FLOW = re.compile(r"^(\[\s*\]|\{\s*\}|~|null)?[ \t]*(#.*)?$")


@dataclass(frozen=True)
class Registered:
    name: str
    principal: str
    fingerprint: str
    signer_line: str
    config_changed: bool
    signers_changed: bool
    bootstrap: bool  # no human on the base branch yet
    key_path: Path | None = None  # an agent's public key (the private half sits beside it)


# ---------------------------------------------------------------------------
# Text edits that keep comments (only the lines added change)


def _filler(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _span(lines: list[str], key: str) -> tuple[int, int, str] | None:
    """(key line, end of its block exclusive, text after the colon) of a top-level key."""
    for index, line in enumerate(lines):
        match = _TOP_KEY.match(line.rstrip("\r\n"))
        if not match or match.group(1) != key:
            continue
        end = index + 1
        while end < len(lines) and (lines[end][:1] in (" ", "\t", "-") or _filler(lines[end])):
            end += 1
        while end - 1 > index and _filler(lines[end - 1]):
            end -= 1
        return index, end, match.group(2)
    return None


def _insert(text: str, key: str, entry: str, flow_items: list[str]) -> str:
    """Add ``entry`` (one rendered line, no indent) to the block of top-level ``key``."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    found = _span(lines, key)
    if found is None:
        return "".join(lines) + f"{key}:\n  {entry}\n"
    start, end, after = found
    empty = _EMPTY_FLOW.match(after.strip())
    if empty is None:
        if not flow_items or end - start != 1:
            raise LaneError(
                f"cannot add to '{key}:' automatically",
                where=f"{config.CONFIG_PATH}:{start + 1}",
                hint="write it as a block, one entry per line, and run the command again",
            )
        # A one-line flow collection: rewrite it as a block, keeping what it held.
        kept = re.search(r"[\]}][ \t]*(#.*)$", after)
        comment = f"  {kept.group(1)}" if kept else ""
        lines[start:end] = [
            f"{key}:{comment}\n",
            *(f"  {item}\n" for item in flow_items),
            f"  {entry}\n",
        ]
        return "".join(lines)
    comment = f"  {empty.group(2)}" if empty.group(2) else ""
    indent: str | None = None
    for line in lines[start + 1 : end]:
        if not _filler(line):
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            break
    if empty.group(1):  # `key: []` or `key: {}`: now it gets a block
        lines[start] = f"{key}:{comment}\n"
    lines.insert(end, f"{'  ' if indent is None else indent}{entry}\n")
    return "".join(lines)


def _load_config_text(path: Path) -> tuple[str, dict[str, Any]]:
    if not path.exists():
        raise LaneError(f"{config.CONFIG_PATH} is missing", hint="run `lanectl init` first")
    text = yamlio.decode(path.read_bytes(), config.CONFIG_PATH)
    raw = yamlio.load(text, config.CONFIG_PATH)
    if not isinstance(raw, dict):
        raise LaneError("the config must be a mapping of keys", where=f"{config.CONFIG_PATH}:1")
    return text, raw


def _checked(new_text: str, old: dict[str, Any], key: str, expected: Any) -> str:
    """Refuse an edit that changed anything but ``key`` or did not produce ``expected``."""
    new = yamlio.load(new_text, config.CONFIG_PATH)
    others_same = isinstance(new, dict) and {k: v for k, v in new.items() if k != key} == {
        k: v for k, v in old.items() if k != key
    }
    if not others_same or new.get(key) != expected:
        raise LaneError(
            f"could not add to '{key}:' without changing other settings",
            where=config.CONFIG_PATH,
            hint="add the entry by hand (see docs/records.md)",
        )
    return new_text


def append_human(text: str, raw: dict[str, Any], entry: dict[str, str]) -> str:
    current = raw.get("humans") or []
    if not isinstance(current, list):
        raise LaneError("humans must be a list", where=config.CONFIG_PATH)
    items = [yamlio.dump_flow(item) for item in current]
    new = _insert(text, "humans", f"- {yamlio.dump_flow(entry)}", [f"- {i}" for i in items])
    return _checked(new, raw, "humans", [*current, entry])


def add_agent_entry(text: str, raw: dict[str, Any], name: str, entry: dict[str, str]) -> str:
    current = raw.get("agents") or {}
    if not isinstance(current, dict):
        raise LaneError("agents must be a mapping", where=config.CONFIG_PATH)
    items = [f"{k}: {yamlio.dump_flow(v)}" for k, v in current.items()]
    new = _insert(text, "agents", f"{name}: {yamlio.dump_flow(entry)}", items)
    return _checked(new, raw, "agents", {**current, name: entry})


def add_signer_line(text: str, line: str, where: str = signers.PATH) -> tuple[str, bool]:
    """``text`` with ``line`` appended unless that principal already has that key."""
    new = signers.parse_line(line, 1, "new line")
    assert new is not None
    existing, _problems = signers.parse_all(text, where)
    for signer in existing:
        if signer.key != new.key:
            continue
        if set(new.principals) <= set(signer.principals):
            return text, False
        raise LaneError(
            f"this key is already registered for {', '.join(signer.principals)}",
            where=f"{where}:{signer.line}",
            hint="every person and agent needs a key of their own",
        )
    if text and not text.endswith("\n"):
        text += "\n"
    return text + line + "\n", True


# ---------------------------------------------------------------------------
# Commands


def _signers_text(root: Path) -> str:
    path = root / signers.PATH
    if path.exists():
        return yamlio.decode(path.read_bytes(), signers.PATH)
    return templates.shipped("allowed_signers")


def _base_has_humans(ws: Workspace) -> bool:
    try:
        _base, commit = signers.base_commit(ws)
    except LaneError:
        return False
    data = git.show_file(commit, config.CONFIG_PATH, ws.root)
    if data is None:
        return False
    try:
        raw = yamlio.load(yamlio.decode(data, config.CONFIG_PATH), config.CONFIG_PATH)
    except LaneError:
        return True  # unreadable: assume people exist, so nothing is "bootstrap"
    return bool(isinstance(raw, dict) and config.settings(raw).humans)


def add_human(ws: Workspace, name: str, email: str, key_file: Path) -> Registered:
    if not HUMAN_ID.match(name):
        raise LaneError(
            f"'{name}' is not a valid id", hint="use lower-case letters, digits, '.', '_', '-'"
        )
    if not EMAIL.match(email):
        raise LaneError(f"'{email}' is not an email address")
    if not key_file.is_file():
        raise LaneError("no such file (pass the .pub file of your SSH key)", where=str(key_file))
    try:
        with open(key_file, "rb") as handle:
            key_text = yamlio.decode(handle.read(64 * 1024), str(key_file))
    except OSError as exc:
        raise LaneError(f"cannot read the key: {exc.strerror}", where=str(key_file)) from None
    keytype, blob, _comment = signers.parse_public_key(key_text, str(key_file))
    line = f'{email} namespaces="{HUMAN_NAMESPACES}" {keytype} {blob} {name}'
    config_path = ws.root / config.CONFIG_PATH
    text, raw = _load_config_text(config_path)
    entry = {"id": name, "email": email}
    config_changed = True
    for human in raw.get("humans") or []:
        if isinstance(human, dict) and human.get("id") == name:
            if str(human.get("email", "")).lower() != email.lower():
                raise LaneError(
                    f"human {name} is already configured with email {human.get('email')}",
                    where=config.CONFIG_PATH,
                )
            config_changed = False
    new_signers, signers_changed = add_signer_line(_signers_text(ws.root), line)
    new_config = append_human(text, raw, entry) if config_changed else text
    bootstrap = not _base_has_humans(ws)
    result = Registered(
        name,
        email,
        keys.fingerprint(f"{keytype} {blob}"),
        line,
        config_changed,
        signers_changed,
        bootstrap,
    )
    _write_and_record(
        ws,
        new_config if config_changed else None,
        new_signers if signers_changed else None,
        "policy.human_added",
        result,
    )
    return result


def add_agent(
    ws: Workspace,
    name: str,
    *,
    role: str,
    provider: str,
    model: str,
    family: str,
    budget: str | None = None,
    base_url: str | None = None,
    command: str | None = None,
) -> Registered:
    keys.check_name(name)
    if role not in ROLES:
        raise LaneError(f"--role must be one of {', '.join(ROLES)} (got '{role}')")
    if provider not in PROVIDERS:
        raise LaneError(f"--provider must be one of {', '.join(PROVIDERS)} (got '{provider}')")
    if not FAMILY.match(family):
        raise LaneError(f"--family '{family}' should be a lower-case name such as openai")
    if provider == "command" and not command:
        raise LaneError("--provider command needs --command")
    text, raw = _load_config_text(ws.root / config.CONFIG_PATH)
    budgets: dict[str, Any] = raw["budgets"] if isinstance(raw.get("budgets"), dict) else {}
    if budget is not None and budget not in budgets:
        known = ", ".join(sorted(budgets)) or "none yet"
        raise LaneError(f"unknown budget '{budget}' (budgets: {known})", where=config.CONFIG_PATH)
    entry = {"role": role, "provider": provider, "model": model, "family": family}
    entry.update(
        {k: v for k, v in (("budget", budget), ("base_url", base_url), ("command", command)) if v}
    )
    agents: dict[str, Any] = raw["agents"] if isinstance(raw.get("agents"), dict) else {}
    existing = agents.get(name)
    if existing is not None and existing != entry:
        raise LaneError(
            f"agent {name} already exists with other settings",
            where=config.CONFIG_PATH,
            hint="edit .lanes/config.yaml by hand to change it",
        )
    key = keys.ensure_key(ws.common_dir, name)
    new_signers, signers_changed = add_signer_line(_signers_text(ws.root), key.signer_line)
    new_config = add_agent_entry(text, raw, name, entry) if existing is None else None
    result = Registered(
        name,
        key.principal,
        keys.fingerprint(key.public),
        key.signer_line,
        new_config is not None,
        signers_changed,
        not _base_has_humans(ws),
        keys.public_key_path(ws.common_dir, name),
    )
    _write_and_record(
        ws,
        new_config,
        new_signers if signers_changed else None,
        "policy.agent_added",
        result,
        data={"role": role, "family": family},
    )
    return result


def _write_and_record(
    ws: Workspace,
    config_text: str | None,
    signers_text: str | None,
    kind: str,
    result: Registered,
    data: dict[str, Any] | None = None,
) -> None:
    if config_text is None and signers_text is None:
        return
    if config_text is not None:
        state.atomic_write(ws.root / config.CONFIG_PATH, config_text)
    if signers_text is not None:
        state.atomic_write(ws.root / signers.PATH, signers_text)
    who, role = actor(ws)
    reason = (
        "bootstrap: no human on the base branch yet, so this one is trusted once committed"
        if result.bootstrap
        else "policy change: counts only after a high-tier merge into the base branch"
    )
    with state.change(ws, who, role, f"{kind.replace('.', ' ')}: {result.name}") as change:
        ledger.record(
            change,
            kind,
            reason=reason,
            data={
                "name": result.name,
                "principal": result.principal,
                "fingerprint": result.fingerprint,
                "bootstrap": result.bootstrap,
                **(data or {}),
            },
        )


def provision_agent_keys(root: Path, common_dir: Path) -> list[str]:
    """For ``lanectl init``: a key for every configured agent, listed in allowed_signers.

    Returns the agents whose line was added to the work tree's allowed_signers.
    """
    raw = config.read_raw(root) or {}
    agents = raw.get("agents")
    if not isinstance(agents, dict):
        return []
    path = root / signers.PATH
    text = _signers_text(root)
    added: list[str] = []
    for name in agents:
        if not isinstance(name, str) or not keys.AGENT_NAME.match(name):
            continue  # `lanectl check` reports bad names
        key = keys.ensure_key(common_dir, name)
        try:
            text, changed = add_signer_line(text, key.signer_line)
        except LaneError:
            continue  # the same key listed for someone else: `check` reports it
        if changed:
            added.append(name)
    if added:
        state.atomic_write(path, text)
    return added
