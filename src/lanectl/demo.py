"""``lanectl demo``: a narrated tour in a throwaway repository, offline.

Until the builders, reviewers and the gate land, the tour shows what exists:
init, tasks with dependencies, an ADR, the status view, the ledger and its
audit. Every step checks its expected outcome and the demo exits non-zero if
one did not happen, so it doubles as a smoke test.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from contextlib import redirect_stdout
from io import StringIO
from pathlib import Path

from lanectl import git

GOAL = """
## Goal
{goal}

## Acceptance
{acceptance}

## Log
"""


class DemoFailed(Exception):
    pass


class Tour:
    def __init__(self, repo: Path):
        self.repo = repo
        self.step = 0

    def say(self, text: str) -> None:
        self.step += 1
        print(f"\n{self.step}. {text}")

    def lanectl(self, *argv: str, expect: int = 0, show: bool = True) -> str:
        from lanectl.cli import app
        from lanectl.cli.errors import run

        print(f"   $ lanectl {shlex.join(argv)}")
        buffer = StringIO()
        with redirect_stdout(buffer):
            code = run(app, ["--repo", str(self.repo), *argv])
        out = buffer.getvalue()
        if show and out.strip():
            for line in out.rstrip("\n").splitlines():
                print(f"     {line}")
        if code != expect:
            raise DemoFailed(f"`lanectl {' '.join(argv)}` exited {code}, expected {expect}")
        return out

    def expect(self, condition: bool, what: str) -> None:
        if not condition:
            raise DemoFailed(what)
        print(f"   ✓ {what}")


def _git(repo: Path, *args: str) -> None:
    git.run(list(args), repo)


def _body(path: Path, goal: str, acceptance: list[str]) -> str:
    path.write_text(
        GOAL.format(goal=goal, acceptance="\n".join(f"- [ ] {a}" for a in acceptance)),
        encoding="utf-8",
    )
    return str(path)


def tour(t: Tour, scratch: Path) -> None:
    repo = t.repo
    t.say("A fresh git repository; lanectl sets itself up in it.")
    t.lanectl("init")
    _git(repo, "add", ".lanes", "docs")
    _git(repo, "commit", "-q", "-m", "Set up lanectl")
    t.expect((repo / ".lanes/config.yaml").is_file(), "config and ADR 0001 are in the work tree")
    again = t.lanectl("init")
    t.expect("nothing changed" in again, "a second init changes nothing")

    t.say("Tasks are files with random ids, so two machines never collide.")

    def new(title: str, *extra: str, goal: str, acceptance: list[str]) -> str:
        body = _body(scratch / f"{len(list(scratch.iterdir()))}.md", goal, acceptance)
        out = t.lanectl("--json", "task", "new", title, "--body-file", body, *extra, show=False)
        task = json.loads(out)
        print(f"     created {task['id']}  {task['title']}  (risk {task['risk']})")
        return str(task["id"])

    fetch = new(
        "Retry transient fetch errors",
        "--risk",
        "medium",
        goal="Fetches that fail with a 5xx or a timeout are retried with backoff.",
        acceptance=["Three retries with jitter", "A test simulates a flaky server"],
    )
    docs = new(
        "Document the retry policy",
        "--risk",
        "low",
        "--depends",
        fetch[2:6],
        goal="Operators know when and how often we retry.",
        acceptance=["docs/retries.md explains the policy"],
    )
    creds = new(
        "Rotate the deploy credentials",
        "--risk",
        "high",
        goal="The deploy key is rotated; the old key is revoked.",
        acceptance=["New key in the vault", "Old key revoked"],
    )

    t.say("A human marks specified work ready; dependencies hold the rest back.")
    t.lanectl("task", "ready", fetch[:6])
    t.lanectl("task", "ready", docs[:6])
    ready = t.lanectl("task", "list", "--ready")
    t.expect(fetch in ready and docs not in ready, "only the task whose dependencies are met")
    bad = t.lanectl("task", "edit", fetch[:6], "--depends", docs[:6], expect=1, show=False)
    del bad
    t.expect(True, "a dependency cycle is refused (exit 1)")

    t.say("Decisions are written down as ADRs, and tasks cite them.")
    out = t.lanectl("--json", "adr", "new", "Retry with exponential backoff", show=False)
    number = str(json.loads(out)["number"])
    print(f"     created ADR {number}")
    t.lanectl("task", "edit", fetch[:6], "--adrs", number)
    t.lanectl("task", "note", creds[:6], "Waiting on the vault team for a maintenance window.")

    t.say("Lanes are enforced in code, and red rules bind every role, the security agent too.")
    t.lanectl(
        "policy", "explain", "--actor", "security-gemini", "--",
        "scp", "nginx.conf", "deploy@prod-web-1:/etc/nginx/",
        expect=3,
    )  # fmt: skip
    t.lanectl("policy", "explain", "--actor", "reviewer-gpt", "--write", "src/fetch.py", expect=3)
    t.lanectl("policy", "explain", "--actor", "builder-claude", "--", "python", "-m", "pytest")
    t.expect(True, "a reviewer cannot write code; nobody reaches production outside the pipeline")

    t.say("The gate says what a task still needs, stage by stage.")
    gate = t.lanectl("gate", fetch[:6], expect=3)
    t.expect("✗ implementation" in gate, "no signed work yet, so the gate holds")

    t.say("The dashboard: what is where, what is ready, how long it has waited.")
    t.lanectl("status")

    t.say("Every change is an event in the ledger (append-only, hash-chained).")
    log = t.lanectl("log", "--kind", "task.state")
    t.expect(log.count("kind: task.state") == 2, "both ready transitions are in the ledger")
    t.lanectl("audit")
    t.lanectl("check")

    t.say("Where things live (inspect them with plain git):")
    common = repo / ".git"
    print(f"     policy:  {repo / '.lanes/config.yaml'}  (and .lanes/allowed_signers)")
    print(f"     ADRs:    {repo / 'docs/decisions'}")
    print(f"     state:   branch lanectl/state, checked out at {common / 'lanectl/state'}")
    print("              git log lanectl/state   # every change, authored by lanectl")
    print(f"     caches:  {common / 'lanectl/cache'}  (safe to delete)")


def run(directory: str | None, *, keep: bool) -> int:
    if shutil.which("git") is None:
        print("lanectl demo needs git on PATH", file=sys.stderr)
        return 1
    base = (
        Path(directory).resolve() if directory else Path(tempfile.mkdtemp(prefix="lanectl-demo-"))
    )
    repo = base / "shop"
    if repo.exists():
        print(f"lanectl: {repo} already exists; choose another --dir", file=sys.stderr)
        return 1
    repo.mkdir(parents=True)
    scratch = base / "scratch"
    scratch.mkdir()
    keep = keep or directory is not None
    print(f"lanectl demo — a throwaway repository at {repo}")
    try:
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "config", "user.name", "Alice Example")
        _git(repo, "config", "user.email", "alice@example.com")
        (repo / "README.md").write_text("# shop\n", encoding="utf-8")
        _git(repo, "add", "README.md")
        _git(repo, "commit", "-q", "-m", "A small shop")
        # Agent signing keys of the throwaway repository stay in the throwaway directory.
        previous_home = os.environ.get("LANECTL_HOME")
        os.environ["LANECTL_HOME"] = str(base / "lanectl-home")
        try:
            tour(Tour(repo), scratch)
        finally:
            if previous_home is None:
                os.environ.pop("LANECTL_HOME", None)
            else:
                os.environ["LANECTL_HOME"] = previous_home
    except (DemoFailed, subprocess.SubprocessError) as exc:
        print(f"\n✗ demo failed: {exc}", file=sys.stderr)
        print(f"  the repository is kept at {repo} for inspection", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n✓ demo complete: every expected outcome happened.")
    if keep:
        print(f"  The repository is kept at {repo}.")
    else:
        shutil.rmtree(base, ignore_errors=True)
        print("  (run with --keep to inspect the repository afterwards)")
    return 0
