"""The policy in force: built from the BASE branch's ``.lanes/config.yaml``, never the tree.

A task branch (or an agent with a shell) can edit the working tree's config to
exempt itself; the base branch changes only through a reviewed, high-tier
merge. So :func:`load_base_config` reads ``git cat-file blob <base>:.lanes/config.yaml``
and validates it with the full schema; a missing or invalid file yields a
context that refuses everything (fail closed, ADR 0008).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lanectl import config, git
from lanectl.cmdscan import ScanFacts

if TYPE_CHECKING:
    from lanectl.workspace import Workspace

NO_POLICY = "no policy on the base branch"
SYSTEM = "lanectl"
HUMANS = "humans"
FORGE_TOKENS = ("GITHUB_TOKEN", "GH_TOKEN")
PROVIDER_HOSTS = {"anthropic": "api.anthropic.com", "openai": "api.openai.com"}


@dataclass(frozen=True)
class UserRule:
    """One of the base branch's ``policy.red_rules``: globs of commands, paths, hosts."""

    name: str
    commands: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    reason: str | None = None


@dataclass(frozen=True)
class PolicyContext:
    """Everything :func:`lanectl.policy.decide` needs, for one actor, from the base config."""

    base_branch: str
    actor_name: str
    task: str | None = None
    worktree: Path | None = None
    roles: Mapping[str, str] = field(default_factory=dict)  # actor name → role
    credentials: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # name → owners
    budgets_of: Mapping[str, str] = field(default_factory=dict)  # credential → budget name
    provider_hosts: frozenset[str] = frozenset()
    forge_hosts: frozenset[str] = frozenset()
    remotes: frozenset[str] = frozenset({"origin"})
    state_branch: str = config.DEFAULT_STATE_BRANCH
    user_rules: tuple[UserRule, ...] = ()
    refusal: str | None = None  # set when there is no usable policy: everything is denied

    def role_of(self, name: str) -> str | None:
        return self.roles.get(name)

    @property
    def own_branch(self) -> str | None:
        return f"lanes/{self.task}" if self.task else None

    def owns(self, actor: str, role: str, credential: str) -> bool:
        owners = self.credentials.get(credential, ())
        return actor in owners or (role in ("human", SYSTEM) and HUMANS in owners)

    def owner_text(self, credential: str) -> str:
        owners = self.credentials.get(credential, ())
        if HUMANS in owners:
            return "the forge token (used by lanectl and humans only)"
        budget = self.budgets_of.get(credential)
        where = f" (budget {budget})" if budget else ""
        return f"the credential of {', '.join(sorted(owners))}{where}"

    def facts_for(self, actor: str, role: str) -> ScanFacts:
        """What command analysis needs to know about ``actor``."""
        own = {name for name in self.credentials if self.owns(actor, role, name)}
        if role == "human":
            own.add("SSH_AUTH_SOCK")
        branches = {self.own_branch} if self.own_branch and role in ("builder", "human") else set()
        if role == SYSTEM:
            branches.add(self.state_branch)
        hosts = self.provider_hosts | (self.forge_hosts if role in ("human", SYSTEM) else set())
        return ScanFacts(
            actor=actor,
            base_branch=self.base_branch,
            own_branches=frozenset(b for b in branches if b),
            own_ref_prefixes=("refs/lanectl/",) if role == SYSTEM else (),
            remotes=self.remotes,
            own_credentials=frozenset(own),
            credential_owners={n: self.owner_text(n) for n in self.credentials if n not in own},
            allowed_hosts=frozenset(h.lower() for h in hosts),
            worktree=str(self.worktree) if self.worktree is not None else None,
            may_approve=role == "human",
        )


@dataclass(frozen=True)
class BaseConfig:
    branch: str
    raw: dict[str, Any] | None
    problem: str | None  # why there is no usable policy


def _host(url: object) -> str | None:
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url).hostname
    except ValueError:
        return None


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def context_from_config(
    raw: Mapping[str, Any] | None,
    *,
    base_branch: str,
    actor_name: str,
    task: str | None = None,
    worktree: Path | None = None,
    remotes: Iterable[str] = ("origin",),
    refusal: str | None = None,
) -> PolicyContext:
    """The context for ``actor_name`` from the BASE branch's config (``raw``).

    ``raw`` None (or a ``refusal``) gives a context that denies every action.
    """
    common: dict[str, Any] = {
        "base_branch": base_branch,
        "actor_name": actor_name,
        "task": task,
        "worktree": worktree.resolve() if worktree is not None else None,
        "remotes": frozenset(remotes),
    }
    if raw is None or refusal:
        return PolicyContext(**common, refusal=refusal or NO_POLICY)
    roles: dict[str, str] = {SYSTEM: SYSTEM}
    credentials: dict[str, set[str]] = {}
    budgets_of: dict[str, str] = {}
    hosts: set[str] = set()
    budgets = _dict(raw.get("budgets"))
    for name, agent in _dict(raw.get("agents")).items():
        agent = _dict(agent)
        if name in roles:
            return PolicyContext(**common, refusal=f"{NO_POLICY}: '{name}' is a reserved name")
        roles[str(name)] = str(agent.get("role"))
        budget_name = agent.get("budget")
        budget = _dict(budgets.get(str(budget_name)))
        own_env = agent.get("credential_env")
        for ref in (own_env, budget.get("credential_env"), budget.get("keyring")):
            if isinstance(ref, str) and ref:
                credentials.setdefault(ref, set()).add(str(name))
                if isinstance(budget_name, str) and ref != own_env:
                    budgets_of[ref] = budget_name
        provider = agent.get("provider")
        host = PROVIDER_HOSTS.get(str(provider)) or _host(agent.get("base_url"))
        if host:
            hosts.add(host)
    for human in raw.get("humans") or []:
        hid = _dict(human).get("id")
        if isinstance(hid, str):
            if hid in roles:
                return PolicyContext(
                    **common, refusal=f"{NO_POLICY}: '{hid}' is both a human and an agent"
                )
            roles[hid] = "human"
    forge = _dict(raw.get("forge"))
    forge_hosts: set[str] = set()
    for token in (*FORGE_TOKENS, forge.get("token_env")):
        if isinstance(token, str) and token:
            credentials.setdefault(token, set()).add(HUMANS)
    if forge.get("kind") == "github":
        forge_hosts |= {_host(forge.get("api_url")) or "api.github.com", "github.com"}
    policy = _dict(raw.get("policy"))
    rules = tuple(
        UserRule(
            name=str(rule.get("name") or f"rule {index + 1}"),
            commands=tuple(str(c) for c in rule.get("commands") or ()),
            paths=tuple(str(p) for p in rule.get("paths") or ()),
            hosts=tuple(str(h) for h in rule.get("hosts") or ()),
            reason=str(rule["reason"]) if rule.get("reason") else None,
        )
        for index, rule in enumerate(policy.get("red_rules") or [])
        if isinstance(rule, dict)
    )
    state = _dict(raw.get("state"))
    return PolicyContext(
        **common,
        roles=roles,
        credentials={k: tuple(sorted(v)) for k, v in credentials.items()},
        budgets_of=budgets_of,
        provider_hosts=frozenset(hosts),
        forge_hosts=frozenset(h for h in forge_hosts if h),
        state_branch=str(state.get("branch") or config.DEFAULT_STATE_BRANCH),
        user_rules=rules,
    )


def load_base_config(ws: Workspace) -> BaseConfig:
    """The base branch's config, validated with the full schema; never the working tree's.

    The base branch's NAME comes from the working tree's config (the user's own
    checkout), and the base branch's config must agree with it.
    """
    base = ws.settings.base_branch
    if base.startswith("lanes/") or base == ws.settings.state_branch:
        return BaseConfig(base, None, f"{NO_POLICY}: '{base}' is a task or state branch")
    blob = git.show_file(f"refs/heads/{base}", config.CONFIG_PATH, ws.root)
    if blob is None:
        return BaseConfig(
            base,
            None,
            f"{NO_POLICY}: {base} has no {config.CONFIG_PATH}; commit the config to {base} "
            "(through a reviewed change) before agents act",
        )
    with tempfile.TemporaryDirectory(prefix="lanectl-policy-") as tmp:
        target = Path(tmp) / config.CONFIG_PATH
        target.parent.mkdir(parents=True)
        target.write_bytes(blob)
        problems = config.validate(Path(tmp))
        raw = None if problems else config.read_raw(Path(tmp))
    if problems or raw is None:
        first = problems[0] if problems else "unreadable"
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return BaseConfig(
            base,
            None,
            f"{NO_POLICY}: {base}:{first}{more}; fix it on {base} through a reviewed change",
        )
    named = raw.get("base_branch", "main")
    if named != base:
        return BaseConfig(
            base, None, f"{NO_POLICY}: {base}'s config names '{named}' as the base branch"
        )
    return BaseConfig(base, raw, None)


def load_context(
    ws: Workspace, actor_name: str, *, task: str | None = None, worktree: Path | None = None
) -> PolicyContext:
    """The policy context for ``actor_name``, from the base branch's config and git remotes."""
    base = load_base_config(ws)
    return context_from_config(
        base.raw,
        base_branch=base.branch,
        actor_name=actor_name,
        task=task,
        worktree=worktree,
        remotes=git.remote_names(ws.root),
        refusal=base.problem,
    )
