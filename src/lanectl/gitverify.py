"""Reading commits and their SSH signatures defensively (SPEC §6.3, §6.4).

What the repository, or an agent with access to it, can change about what
git shows must not change a verdict. Every read here runs with:

* the allowed-signers file we materialised from the base branch, and an
  explicit (empty unless the base branch has one) revocation list, passed
  with ``-c`` so repository config cannot point git elsewhere;
* ``gpg.format=ssh`` and ``gpg.ssh.program`` set to the real ``ssh-keygen``
  (a repository could name a script that always says "good");
* no commit-graph (it stores parents), no replace refs, no grafts, no mailmap;
* a refusal for shallow repositories (history could be cut off).

Git finds the principal by key and never compares it with the author: the
principal (``%GS``) is what identifies a signer; author and committer fields
prove nothing.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lanectl import git
from lanectl.errors import LaneError

SEP = "\x1f"
END = "\x1e"
FORMAT = SEP.join(["%H", "%P", "%T", "%G?", "%GS", "%GF", "%an", "%ae", "%(trailers:only,unfold)"])


@dataclass(frozen=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    tree: str
    status: str  # %G?: G good, B bad, U unknown key, N none, E cannot check, X/Y expired, R revoked
    principal: str  # %GS, "" when none
    fingerprint: str
    author_name: str
    author_email: str
    trailers: tuple[tuple[str, str], ...]

    @property
    def good(self) -> bool:
        return self.status == "G" and bool(self.principal)

    def trailer(self, key: str) -> str | None:
        values = [v for k, v in self.trailers if k.lower() == key.lower()]
        return values[-1] if values else None

    def trailer_values(self, key: str) -> list[str]:
        return [v for k, v in self.trailers if k.lower() == key.lower()]


def _ssh_keygen() -> str:
    found = shutil.which("ssh-keygen")
    if found is None:
        raise LaneError("ssh-keygen is not installed; lanectl needs it to verify signatures")
    return found


@contextmanager
def verifying(allowed_signers: Path, revoked: Path | None = None) -> Iterator[tuple[str, ...]]:
    """``-c`` options that make git verify SSH signatures against our files only."""
    revocation = revoked or allowed_signers.with_name("revoked_signers")
    if revoked is None:
        revocation.write_text("")
    yield (
        "-c", "gpg.format=ssh",
        "-c", f"gpg.ssh.program={_ssh_keygen()}",
        "-c", f"gpg.ssh.allowedSignersFile={allowed_signers}",
        "-c", f"gpg.ssh.revocationFile={revocation}",
        "-c", "gpg.ssh.defaultKeyCommand=",
        "-c", "log.showSignature=false",
        "-c", "log.mailmap=false",
        "-c", "core.commitGraph=false",
        "-c", "i18n.logOutputEncoding=UTF-8",
    )  # fmt: skip


def refuse_shallow(repo: Path) -> None:
    if git.out(["rev-parse", "--is-shallow-repository"], repo) == "true":
        raise LaneError(
            "this repository is shallow: history may be missing, so nothing can be verified",
            hint="run `git fetch --unshallow`",
        )


def _parse(record: str) -> Commit:
    fields = record.split(SEP)
    if len(fields) != 9:
        raise LaneError("unexpected output from git log while reading signatures")
    sha, parents, tree, status, principal, fingerprint, name, email, trailers = fields
    pairs: list[tuple[str, str]] = []
    for line in trailers.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip():
            pairs.append((key.strip(), value.strip()))
    return Commit(
        sha=sha,
        parents=tuple(parents.split()),
        tree=tree,
        status=status,
        principal=principal,
        fingerprint=fingerprint,
        author_name=name,
        author_email=email,
        trailers=tuple(pairs),
    )


def commits(
    repo: Path, revisions: Sequence[str], options: Sequence[str], *, first_parent: bool = False
) -> list[Commit]:
    """Commits in ``revisions`` (e.g. ``["H", "^base"]``), newest first, with signatures."""
    args = [*options, "log", f"--format={FORMAT}{END}", "--no-show-signature"]
    if first_parent:
        args.append("--first-parent")
    text = git.out([*args, *revisions, "--"], repo)
    return [_parse(r.strip("\n")) for r in text.split(END) if r.strip("\n")]


def commit(repo: Path, sha: str, options: Sequence[str]) -> Commit:
    found = commits(repo, ["-1", sha], options)
    if not found:
        raise LaneError(f"no commit {sha}")
    return found[0]


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    proc = git.run(
        ["-c", "core.commitGraph=false", "merge-base", "--is-ancestor", ancestor, descendant],
        repo,
        check=False,
    )
    return proc.returncode == 0


def merges_cleanly(repo: Path, base: str, head: str) -> bool:
    proc = git.run(
        ["-c", "core.commitGraph=false", "merge-tree", "--write-tree", base, head],
        repo,
        check=False,
    )
    return proc.returncode == 0
