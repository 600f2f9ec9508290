"""The red rules an action trips (SPEC §5.2), built in and from the base branch's policy.

Command lines go through :mod:`lanectl.cmdscan`; paths are resolved under the
task worktree (symlinks and ``..`` included); the base branch's
``policy.red_rules`` match commands, paths and hosts by glob. Each finding
names its rule, what was attempted and why.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING

from lanectl import cmdscan, globs
from lanectl.cmdscan import Finding, ScanFacts

if TYPE_CHECKING:
    from lanectl.policy import Action, Actor
    from lanectl.policybase import PolicyContext


def red_findings(
    actor: Actor, action: Action, ctx: PolicyContext, facts: ScanFacts
) -> list[Finding]:
    found: list[Finding] = []
    kind = action.kind
    analysis = None
    if kind == "run" and not action.argv:
        found.append(Finding(cmdscan.DOUBT, "run an empty command", "there is no command to run"))
    if action.argv:
        analysis = cmdscan.analyse(action.argv, facts)
        found += analysis.findings
        for rel in analysis.paths:  # a symlink inside the worktree may point anywhere
            found += path_findings(rel, ctx, write=False, lexical_ok=True)
    for path in action.paths:
        found += path_findings(path, ctx, write=kind in ("write", "commit", "change_policy"))
    if kind in ("commit", "push") and action.ref:
        what = cmdscan.protected_ref(action.ref, facts)
        if what is not None:
            verb = "commit to" if kind == "commit" else "push to"
            found.append(
                Finding(
                    cmdscan.BRANCH,
                    f"{verb} {what} ({action.ref})",
                    cmdscan.branch_rule_reason(facts),
                )
            )
    if kind == "push" and action.host and action.host not in facts.remotes:
        found.append(
            Finding(
                cmdscan.OUTSIDE_PIPELINE,
                f"push to a remote that is not configured ({action.host})",
                f"{action.host} is not a configured remote of this repository; work leaves "
                "only through a configured remote",
            )
        )
    if kind in ("merge", "approve") and actor.role != "human":
        label = "merge into the base branch" if kind == "merge" else "approve a task"
        found.append(
            Finding(
                cmdscan.MERGE,
                f"{label} ({action.task or action.ref or '?'})",
                "only a human merges (`lanectl merge`) or approves (`lanectl approve`, signed "
                "with their own key)",
            )
        )
    if kind == "credential":
        name = action.credential or ""
        if name not in facts.own_credentials:
            why = facts.foreign_credential(name) or (
                f"{name or '(none)'} is not a credential the base branch's config gives to "
                f"{actor.name}"
            )
            found.append(
                Finding(
                    cmdscan.CREDENTIAL,
                    f"{cmdscan.LABELS[cmdscan.CREDENTIAL]} ({name})",
                    why + "; each actor uses only its own credential, which lanectl passes to it",
                )
            )
    if kind == "network":
        host = (action.host or "").lower()
        if not host or not facts.host_allowed(host):
            allowed = ", ".join(sorted(facts.allowed_hosts)) or "none configured"
            found.append(
                Finding(
                    cmdscan.NETWORK,
                    f"{cmdscan.LABELS[cmdscan.NETWORK]} ({host or '?'})",
                    f"{host or 'that host'} is not a configured provider host ({allowed})",
                )
            )
    found += user_findings(action, ctx, analysis)
    return found


def path_findings(
    path: str, ctx: PolicyContext, *, write: bool, lexical_ok: bool = False
) -> list[Finding]:
    """Outside the worktree (after symlinks and ``..``), secret files, credential stores."""
    verb = "write" if write else "read"
    root = ctx.worktree
    lexical = cmdscan.classify(path, worktree=str(root) if root else None)
    if lexical is None:
        return []
    rel = lexical.rel
    resolved_name = os.path.basename(path.rstrip("/"))
    credential, secret = lexical.credential, lexical.secret
    if root is not None and "\0" not in path:
        target = Path(os.path.realpath(root / path))
        try:
            rel = target.relative_to(root).as_posix()
        except ValueError:
            rel = None
        resolved_name = target.name
        credential |= cmdscan.credential_store(str(target))
        secret |= cmdscan.secret_name(resolved_name)
    if lexical_ok and rel is not None and not credential and not secret:
        return []
    if credential:
        return [
            Finding(
                cmdscan.CREDENTIAL,
                f"{cmdscan.LABELS[cmdscan.CREDENTIAL]} ({path})",
                f"{path} is a credential store of a human or another system",
            )
        ]
    if secret:
        named = f" ({resolved_name})" if resolved_name != os.path.basename(path) else ""
        return [
            Finding(
                cmdscan.SECRET_FILE,
                f"{verb} a secret file ({path})",
                f"{path} is named like a secret file{named}; secrets are "
                "passed by lanectl in the environment, never through files",
            )
        ]
    if rel is None:
        where = f" {root}" if root else ""
        return [
            Finding(
                cmdscan.OUTSIDE_WORKTREE,
                f"{verb} outside the task worktree ({path})",
                f"{path} resolves outside the task worktree{where}; work only on files inside it",
            )
        ]
    if write and (rel == ".lanes" or rel.startswith(".lanes/")):
        return [
            Finding(
                cmdscan.CHANGE_POLICY,
                f"write policy files ({path})",
                f"{rel} is policy; only a human changes .lanes/, as a high-tier "
                "change through the gate",
            )
        ]
    if write and (rel == ".git" or rel.startswith(".git/")):
        return [
            Finding(
                cmdscan.OUTSIDE_WORKTREE,
                f"write git's own files ({path})",
                f"{rel} is git's config or hooks, not part of the task",
            )
        ]
    return []


def user_findings(
    action: Action, ctx: PolicyContext, analysis: cmdscan.Analysis | None
) -> list[Finding]:
    commands = analysis.commands if analysis else ()
    paths = [posixpath.normpath(p) for p in action.paths]
    paths += list(analysis.paths) if analysis else []
    hosts = ([action.host.lower()] if action.host else []) + list(
        analysis.hosts if analysis else []
    )
    found: list[Finding] = []
    for rule in ctx.user_rules:
        hits = [c for c in commands if any(_command_match(c, p) for p in rule.commands)]
        hits += [p for p in paths if globs.match_any(rule.paths, p)]
        hits += [h for h in hosts if any(fnmatch.fnmatchcase(h, p.lower()) for p in rule.hosts)]
        if hits:
            reason = rule.reason or f"the base branch's policy rule '{rule.name}' forbids it"
            found.append(Finding(f"user.{rule.name}", f"{rule.name} ({hits[0]})", reason))
    return found


def _command_match(command: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(command, pattern) or fnmatch.fnmatchcase(command, pattern + " *")
