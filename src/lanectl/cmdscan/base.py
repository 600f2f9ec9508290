"""Shared pieces of command analysis: findings, facts, one call, paths and hosts.

:mod:`.walk` walks a command through its wrappers; each detector looks at one
call and reports into a :class:`Scan`. Everything here is pure.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from lanectl.cmdscan.shell import Word

# The built-in red rules of SPEC §5.2, and the capability rule for policy files.
CREDENTIAL = "red.credential-reuse"
OUTSIDE_PIPELINE = "red.outside-pipeline"
BRANCH = "red.protected-branch"
MERGE = "red.merge-approve"
NETWORK = "red.network"
OUTSIDE_WORKTREE = "red.outside-worktree"
SECRET_FILE = "red.secret-file"  # noqa: S105 - a rule id, not a secret
DOUBT = "red.cannot-analyse"
CHANGE_POLICY = "lane.change_policy"

LABELS = {
    CREDENTIAL: "reuse service credential across systems",
    OUTSIDE_PIPELINE: "push host config outside pipeline",
    BRANCH: "push, force-push or delete a protected branch",
    MERGE: "merge or approve",
    NETWORK: "network access outside the configured providers",
    OUTSIDE_WORKTREE: "read or write outside the task worktree",
    SECRET_FILE: "read a secret file",
    DOUBT: "run a command lanectl cannot analyse",
    CHANGE_POLICY: "change policy files (.lanes/)",
}
# Credentials that are never an agent's own, whatever the config says.
WELL_KNOWN = {
    "SSH_AUTH_SOCK": "the human's SSH agent socket",
    "GITHUB_TOKEN": "a forge token",
    "GH_TOKEN": "a forge token",
    "GH_ENTERPRISE_TOKEN": "a forge token",
    "GITLAB_TOKEN": "a forge token",
}
_SECRET_PARTS = {"TOKEN", "SECRET", "SECRETS", "PASSWORD", "PASSWD", "PASSPHRASE", "APIKEY",
                 "CREDENTIAL", "CREDENTIALS", "PAT"}  # fmt: skip
_SECRET_PAIRS = {("API", "KEY"), ("ACCESS", "KEY"), ("PRIVATE", "KEY"), ("SECRET", "KEY"),
                 ("AUTH", "SOCK"), ("SIGNING", "KEY")}  # fmt: skip
SECRET_NAME = re.compile(
    r"""^(\.env(\..+)?|.+\.(pem|key|p12|pfx|jks|keystore|kdbx|ppk|gpg|age)
    |id_(rsa|dsa|ecdsa|ed25519)(_sk)?|\.netrc|_netrc|\.git-credentials|\.pgpass|\.npmrc
    |\.pypirc|\.htpasswd|\.vault-token|credentials(\.json|\.ya?ml)?
    |secrets?\.(ya?ml|json|toml|env)|.*service[-_]account.*\.json)$""",
    re.X,
)
ENV_TEMPLATES = {".env.example", ".env.sample", ".env.template", ".env.dist", ".env.defaults"}
CREDENTIAL_DIRS = (".ssh", ".gnupg", ".aws", ".azure", ".kube", ".docker", ".password-store",
                   ".config/gh", ".config/gcloud", ".config/op")  # fmt: skip
HARMLESS_DEVICES = {"/dev/null", "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/zero",
                    "/dev/random", "/dev/urandom", "/dev/tty"}  # fmt: skip
LOOPBACK = {"localhost", "127.0.0.1", "::1", "[::1]"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/@]*@)?(\[[^\]]*\]|[^/:?#]*)")
_SCP = re.compile(r"^(?:[^@/:]+@)?(\[[^\]]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(?!//)")


def looks_secret(name: str) -> bool:
    """An environment variable named like a credential (…_TOKEN, …_API_KEY, …)."""
    parts = name.upper().split("_")
    return bool(_SECRET_PARTS.intersection(parts)) or any(
        pair in _SECRET_PAIRS for pair in itertools.pairwise(parts)
    )


@dataclass(frozen=True)
class ScanFacts:
    """What the analysis needs to know about the actor and the repository."""

    actor: str = "this actor"
    base_branch: str = "main"
    own_branches: frozenset[str] = frozenset()  # e.g. lanes/<task>
    own_ref_prefixes: tuple[str, ...] = ()  # e.g. refs/lanectl/ for the system actor
    remotes: frozenset[str] = frozenset({"origin"})
    own_credentials: frozenset[str] = frozenset()  # env names and keyring refs
    credential_owners: Mapping[str, str] = field(default_factory=dict)  # name → whose it is
    allowed_hosts: frozenset[str] = frozenset()  # the configured provider hosts
    worktree: str | None = None  # absolute path of the task worktree, when known
    may_approve: bool = False  # a human: `lanectl approve|merge` is their path

    def foreign_credential(self, name: str) -> str | None:
        """Why using ``name`` is credential reuse, or None when it is the actor's own."""
        if name in self.own_credentials:
            return None
        if name in self.credential_owners:
            return f"{name} is {self.credential_owners[name]}, not {self.actor}'s"
        if name in WELL_KNOWN:
            return f"{name} is {WELL_KNOWN[name]}, not {self.actor}'s"
        if looks_secret(name):
            return f"{name} looks like a credential and is not one of {self.actor}'s own"
        return None

    def host_allowed(self, host: str) -> bool:
        host = host.lower().strip("[]")
        return host in self.allowed_hosts or host in {h.strip("[]") for h in LOOPBACK}


def protected_ref(ref: str, facts: ScanFacts, *, any_branch: bool = True) -> str | None:
    """What ``ref`` is when the actor may not change it, else None.

    The base branch and other tasks' branches are always protected; any other
    branch that is not the actor's own is protected unless ``any_branch`` is off.
    """
    if ref.startswith("refs/heads/"):
        ref = ref[len("refs/heads/") :]
    elif ref.startswith("refs/"):
        if any(ref.startswith(p) for p in facts.own_ref_prefixes):
            return None
        return f"the ref {ref}"
    if ref == facts.base_branch:
        return f"the base branch {ref}"
    if ref in facts.own_branches:
        return None
    if ref.startswith("lanes/"):
        return f"another task's branch {ref}"
    return f"the branch {ref}, which is not your task's" if any_branch else None


def branch_rule_reason(facts: ScanFacts) -> str:
    own = ", ".join(sorted(facts.own_branches)) or "none: no task given"
    return (
        f"only the actor's own task branch may be pushed or updated ({own}); the base branch "
        "changes only through `lanectl merge` after a signed human approval"
    )


@dataclass(frozen=True)
class Finding:
    rule: str  # e.g. red.outside-pipeline
    attempted: str  # human-readable: "push host config outside pipeline (scp …)"
    reason: str  # why, and what to do instead


@dataclass(frozen=True)
class Analysis:
    findings: tuple[Finding, ...]
    commands: tuple[str, ...]  # every simple command seen, as shown
    hosts: tuple[str, ...]  # every host the command contacts (for user rules)
    paths: tuple[str, ...]  # path arguments inside the worktree (for symlink checks)


def show(words: Sequence[Word], limit: int = 160) -> str:
    def one(text: str) -> str:
        if text and not re.search(r"[\s'\"\\;&|<>]", text):
            return text
        return "'" + text.replace("'", "'\\''") + "'"

    text = " ".join(one(w.text) for w in words)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Call:
    """One command to judge: its words (``words[0]`` names it) and how it is fed."""

    words: tuple[Word, ...]
    dynamic_tail: bool = False  # more arguments arrive at run time (xargs, find -exec)
    stdin: bool = False  # a pipe or redirection feeds its standard input
    cwd: str = ""  # directory relative to the worktree, after a literal `cd`

    @property
    def name(self) -> str:
        return posixpath.basename(self.words[0].text) if self.words else ""

    @property
    def args(self) -> tuple[Word, ...]:
        return self.words[1:]

    @property
    def shown(self) -> str:
        return show(self.words)

    def sub(self, words: Sequence[Word], **changes: bool) -> Call:
        return Call(
            tuple(words),
            changes.get("dynamic_tail", self.dynamic_tail),
            changes.get("stdin", self.stdin),
            self.cwd,
        )


class Scan:
    """Collects findings, hosts and paths for one analysis."""

    def __init__(self, facts: ScanFacts) -> None:
        self.facts = facts
        self.findings: dict[tuple[str, str], Finding] = {}
        self.commands: list[str] = []
        self.hosts: list[str] = []
        self.paths: list[str] = []
        self.written: set[str] = set()  # files this command line writes (redirections)

    def red(self, rule: str, shown: str, reason: str, label: str | None = None) -> None:
        attempted = f"{label or LABELS[rule]} ({shown})"
        self.findings.setdefault((rule, attempted), Finding(rule, attempted, reason))

    def doubt(self, shown: str, why: str) -> None:
        self.red(DOUBT, shown, f"cannot analyse {why}; denied (when in doubt, deny)")

    def host(self, host: str) -> None:
        if host and host not in self.hosts:
            self.hosts.append(host)

    def result(self) -> Analysis:
        return Analysis(
            tuple(self.findings.values()),
            tuple(self.commands),
            tuple(self.hosts),
            tuple(dict.fromkeys(self.paths)),
        )


# -- options -------------------------------------------------------------------


def positionals(
    args: Sequence[Word], takes_value: Collection[str] = (), *, stop_at_first: bool = False
) -> list[Word]:
    """Non-option words; options named in ``takes_value`` consume the next word.

    Short clusters (``-vp 22``) and glued values (``-p22``, ``--port=22``) are
    understood; ``--`` ends the options. ``stop_at_first`` returns the first
    positional and everything after it (for commands whose options come first).
    """
    out: list[Word] = []
    i = 0
    while i < len(args):
        text = args[i].text
        if text == "--":
            out += args[i + 1 :]
            break
        if text.startswith("--") and "=" not in text and text in takes_value:
            i += 2
            continue
        if text.startswith("-") and not text.startswith("--") and len(text) > 1:
            for pos in range(1, len(text)):
                if "-" + text[pos] in takes_value:
                    if pos == len(text) - 1:
                        i += 1
                    break
            i += 1
            continue
        if text.startswith("--"):
            i += 1
            continue
        if stop_at_first:
            return [*out, *args[i:]]
        out.append(args[i])
        i += 1
    return out


def has_option(args: Sequence[Word], *names: str) -> bool:
    """Whether any of ``names`` (``-f``, ``--force``) is given, also in a short cluster."""
    for word in args:
        text = word.text
        if text == "--":
            return False
        for name in names:
            if text == name or (name.startswith("--") and text.startswith(name + "=")):
                return True
            if (
                len(name) == 2
                and not name.startswith("--")
                and text.startswith("-")
                and not text.startswith("--")
                and name[1] in text[1:]
            ):
                return True
    return False


# -- hosts and paths -------------------------------------------------------------


def url_host(text: str) -> str | None:
    match = _URL.match(text)
    return match.group(1).lower() if match else None


def remote_host(text: str) -> str | None:
    """The host of an ssh/scp/rsync target (``user@host:path``, ``host::module``, URLs)."""
    host = url_host(text)
    if host is not None:
        return host
    match = _SCP.match(text)
    return match.group(1).lower() if match else None


def secret_name(name: str) -> bool:
    return name not in ENV_TEMPLATES and SECRET_NAME.match(name) is not None


def credential_store(path: str) -> bool:
    """A path inside a credential store: ~/.ssh, ~/.aws, /proc/*/environ, …"""
    padded = "/" + path.strip("/") + "/"
    if re.search(r"/proc/[^/]+/environ/", padded):
        return True
    return any(f"/{d}/" in padded for d in CREDENTIAL_DIRS)


@dataclass(frozen=True)
class PathFacts:
    rel: str | None  # normalised, relative to the worktree; None when outside
    outside: bool
    credential: bool  # inside a credential store (~/.ssh, ~/.aws, …)
    secret: bool  # a file named like a secret (.env, *.pem, id_rsa, .netrc, …)


def classify(text: str, *, cwd: str = "", worktree: str | None = None) -> PathFacts | None:
    """What a path argument points at, lexically; None for devices and non-paths."""
    if not text or text == "-" or text in HARMLESS_DEVICES or text.startswith("/dev/fd/"):
        return None
    home = re.match(r"^(~[^/]*|\$HOME|\$\{HOME\})(/|$)", text)
    if home:
        rest = text[home.end() :]
        return PathFacts(None, True, credential_store("/" + rest), secret_name(_base(rest)))
    if text.startswith("/"):
        norm = posixpath.normpath(text)
        root = worktree.rstrip("/") if worktree else None
        if root and (norm == root or norm.startswith(root + "/")):
            text = norm[len(root) :].lstrip("/") or "."
        else:
            return PathFacts(None, True, credential_store(norm), secret_name(_base(norm)))
    norm = posixpath.normpath(posixpath.join(cwd, text))
    if norm == ".." or norm.startswith("../"):
        return PathFacts(None, True, credential_store(norm), secret_name(_base(norm)))
    return PathFacts(norm, False, credential_store(norm), secret_name(_base(norm)))


def _base(path: str) -> str:
    return posixpath.basename(path.rstrip("/"))


def is_policy_path(rel: str) -> bool:
    return rel == ".lanes" or rel.startswith(".lanes/")


def is_git_internal(rel: str) -> bool:
    return rel == ".git" or rel.startswith(".git/")
