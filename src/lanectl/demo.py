"""``lanectl demo``: the whole organisation end to end in a throwaway repository, offline.

SPEC §12: a shop repository, an org on the in-process vendor simulator
(:mod:`lanectl.demoorg`) and a throwaway signing key for alice. Three tasks
across tiers are built at once by builders of one family under one shared
budget that takes a 429; reviewers of two other families review in
parallel; the security agent tries a red-rule action and is blocked; a merge
is refused without approval, then approved and merged; a standing approval
covers the low-tier task. Every step checks its expected outcome and the demo
exits non-zero if one did not happen, so it doubles as a smoke test.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from contextlib import redirect_stderr, redirect_stdout
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

from lanectl import demoorg, git
from lanectl.demoorg import BASE_FILES, KEYS, TASKS, TIME_SCALE
from lanectl.sim import SimConfig, Simulator

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

    def _call(self, argv: tuple[str, ...], expect: int, show: bool = False) -> tuple[str, str]:
        from lanectl.cli import app
        from lanectl.cli.errors import run

        out, err = StringIO(), StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            code = run(app, ["--repo", str(self.repo), *argv])
        if show or code != expect:
            for line in (out.getvalue() + err.getvalue()).rstrip("\n").splitlines():
                print(f"     {line}")
        if code != expect:
            detail = (err.getvalue().strip() or out.getvalue().strip()).splitlines()[-1:]
            raise DemoFailed(
                f"`lanectl {shlex.join(argv)}` exited {code}, expected {expect}"
                + (f": {detail[0]}" if detail else "")
            )
        return out.getvalue(), err.getvalue()

    def lanectl(self, *argv: str, expect: int = 0, show: bool = True) -> str:
        print(f"   $ lanectl {shlex.join(argv)}")
        out, err = self._call(argv, expect, show)
        return out + err

    def json(self, *argv: str, expect: int = 0, echo: bool = False) -> dict[str, Any]:
        """Run with --json and parse the answer (``echo``: show the command line)."""
        if echo:
            print(f"   $ lanectl {shlex.join(argv)}")
        out, _ = self._call(("--json", *argv), expect)
        value = json.loads(out)
        if not isinstance(value, dict):
            raise DemoFailed(f"`lanectl {shlex.join(argv)}` answered {type(value).__name__}")
        return value

    def gate(self, task_id: str, expect: int) -> dict[str, Any]:
        self.lanectl("gate", task_id[:6], expect=expect)
        return self.json("gate", task_id[:6], expect=expect)

    def state(self, task_id: str) -> str:
        return str(self.json("task", "show", task_id)["state"])

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


def tour(t: Tour, scratch: Path, sim: Simulator, human_key: Path) -> None:
    repo = t.repo
    ids = setup(t, scratch, sim, human_key)
    fetch, rotate, readme = ids["fetch"], ids["rotate"], ids["readme"]

    t.say(
        "Three builders from one family (anthropic) build at once, on branches, paced by the "
        "one budget they share. The simulator answers one request with a 429."
    )
    t.lanectl("dispatch", "--max", "3", "--once")
    for key, task_id in ids.items():
        t.expect(t.state(task_id) == "review", f"{key}: built, signed, checks green, in review")
    anthropic = _counts(sim.stats(), KEYS["SHOP_DEMO_ANTHROPIC_KEY"][0])  # nothing came before
    print(
        f"     simulator: {anthropic['requests']} requests on the anthropic key, "
        f"{anthropic['rate_limited']} answered 429, {anthropic['retries']} hidden SDK retries"
    )
    t.expect(
        anthropic["rate_limited"] == 1 and anthropic["retries"] == 0,
        "the 429 paused the whole budget once; no retry storm (lanectl owns every retry)",
    )
    t.lanectl("log", "--kind", "budget.throttled", "--limit", "1")

    t.say(
        "Reviews come from other families: correctness from openai, security from google, "
        "in parallel. Reviewers record findings; they cannot approve."
    )
    t.lanectl("review", fetch[:6])
    t.say("The security agent reviewing the deploy change reaches for production — and is held.")
    t.lanectl("review", rotate[:6])
    blocked = t.lanectl("log", "--result", "blocked", "--actor", "security-gemini")
    t.expect(
        "printenv GITHUB_TOKEN" in blocked and "prod-web-1" in blocked,
        "the same red rules bind the security agent: both attempts blocked and recorded",
    )
    gate = t.gate(rotate, expect=3)
    t.expect(
        not _stage(gate, "eligibility")["passed"],
        "the deploy task is not eligible while a red-rule event is open",
    )

    t.say("The gate for the retry task: everything holds but the human.")
    gate = t.gate(fetch, expect=0)
    t.expect(
        [s["stage"] for s in gate["stages"] if s["status"] == "fail"] == ["approval"],
        "spec, signed build, both reviews and eligibility hold; approval is missing",
    )
    t.lanectl("merge", fetch[:6], expect=3)
    t.expect(True, "merge refused for lack of a signed human approval (exit 3, recorded)")

    t.say("Alice approves in her own terminal: an empty commit signed with her SSH key.")
    t.lanectl("approve", fetch[:6], "--yes", "--key", str(human_key))
    t.lanectl("merge", fetch[:6])
    t.expect(t.state(fetch) == "merged", "merged with a true merge; the signed approval is kept")
    t.expect((repo / "shop/retry.py").is_file(), "the retry code is on main")

    t.say(
        "Ceremony scales with risk. `lanectl run` takes the low-tier task through review "
        "and the gate (it was built already) and stops at the human."
    )
    t.lanectl("run", readme[:6])
    t.say("A standing approval, signed once, covers low-tier README changes.")
    t.lanectl(
        "approve", "--standing", "--paths", "README.md", "--until", _in_days(30),
        "--yes", "--key", str(human_key),
    )  # fmt: skip
    t.lanectl("merge", readme[:6])
    t.expect(t.state(readme) == "merged", "the low-tier task merged under the standing approval")

    t.say("The dashboard: where work is, what it waits for, and the coordination tax.")
    t.lanectl("status")
    t.lanectl("budget")

    t.say("The ledger: every action, every refusal, hash-chained; the audit checks main too.")
    t.lanectl("log", "--kind", "merge.refused", "--limit", "1")
    t.lanectl("audit")

    t.say("Where things live (inspect them with plain git):")
    common = repo / ".git"
    rows = (
        ("policy", f"{repo / '.lanes/config.yaml'}  (and .lanes/allowed_signers)"),
        ("ADRs", str(repo / "docs/decisions")),
        ("tasks", f"branch lanectl/state, checked out at {common / 'lanectl/state'}/.lanes/tasks"),
        ("reviews", f"{common / 'lanectl/state'}/.lanes/reviews/<task>/<head>/ (signed)"),
        ("ledger", f"{common / 'lanectl/state'}/.lanes/log/  (lanectl log, lanectl audit)"),
        ("history", f"git -C {repo} log --graph --show-signature main"),
        ("caches", f"{common / 'lanectl'}  (rebuildable)"),
    )
    for name, where in rows:
        print(f"     {name + ':':<9}{where}")


def setup(t: Tour, scratch: Path, sim: Simulator, human_key: Path) -> dict[str, str]:
    """The shop, lanectl in it, alice's key, the org on the simulator, three ready tasks."""
    repo = t.repo
    t.say("A small shop repository; lanectl sets itself up in it.")
    for rel, text in BASE_FILES.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "A small shop")
    t.lanectl("init")
    (repo / ".lanes/config.yaml").write_text(demoorg.config(sim.url), encoding="utf-8")
    print(f"     (the budgets point at the vendor simulator on {sim.url}, time x{TIME_SCALE:g})")
    t.lanectl("human", "add", "alice", "--email", "alice@example.com", "--key", f"{human_key}.pub")
    t.lanectl(
        "agent", "add", "designer-gpt", "--role", "designer", "--provider", "openai",
        "--model", "gpt-5-mini", "--family", "openai", "--budget", "openai-main",
    )  # fmt: skip
    _git(repo, "add", ".lanes", "docs")
    _git(repo, "commit", "-q", "-m", "Set up lanectl: org chart, alice's key, agent keys")
    t.lanectl("check")

    t.say("A decision is written down once, and the tasks that touch it cite it.")
    adr = t.json("adr", "new", "Retry with exponential backoff", echo=True)
    print(f"     created docs/decisions/{Path(str(adr['file'])).name}")
    _git(repo, "add", "docs")
    _git(repo, "commit", "-q", "-m", "ADR: retry with exponential backoff")

    t.say("Tasks across tiers; a human marks each ready once its spec is written.")
    ids: dict[str, str] = {}
    for spec in TASKS:
        body = _body(scratch / f"{spec.key}.md", spec.goal, list(spec.acceptance))
        task = t.json(
            "task", "new", spec.title, "--risk", spec.risk, "--body-file", body,
            "--paths", ",".join(spec.paths), "--adrs", str(adr["number"]), echo=True,
        )  # fmt: skip
        ids[spec.key] = str(task["id"])
        print(f"     {task['id']}  {spec.title}  (risk {spec.risk})")
        t.lanectl("task", "ready", task["id"][:6], show=False)
    ready = t.lanectl("task", "list", "--ready")
    t.expect(all(i in ready for i in ids.values()), "all three are ready")
    return ids


def _counts(stats: dict[str, Any], key: str) -> dict[str, int]:
    """What the simulator counted for ``key``."""
    from lanectl.sim.stats import label

    row = (stats.get("by_key") or {}).get(label(key)) or {}
    return {k: int(row.get(k, 0)) for k in ("requests", "retries", "rate_limited")}


def _stage(gate: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in gate["stages"] if s["stage"] == name)


def _in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).strftime("%Y-%m-%d")


def _keygen(path: Path) -> Path:
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice@example.com", "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def run(directory: str | None, *, keep: bool) -> int:
    for tool in ("git", "ssh-keygen"):
        if shutil.which(tool) is None:
            print(f"lanectl demo needs {tool} on PATH", file=sys.stderr)
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
    # The demo's keys, agent keys and fake credentials stay in the demo: its own
    # LANECTL_HOME, and variables no real provider reads.
    env = {"LANECTL_HOME": str(base / "lanectl-home")} | {k: v for k, (v, _) in KEYS.items()}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "config", "user.name", "Alice Example")
        _git(repo, "config", "user.email", "alice@example.com")
        human_key = _keygen(base / "alice_demo_key")
        with Simulator(SimConfig.from_dict(demoorg.sim_config())) as sim:
            tour(Tour(repo), scratch, sim, human_key)
    except (DemoFailed, subprocess.SubprocessError) as exc:
        print(f"\n✗ demo failed: {exc}", file=sys.stderr)
        print(f"  the repository is kept at {repo} for inspection", file=sys.stderr)
        return 1
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(scratch, ignore_errors=True)
    print("\n✓ demo complete: every expected outcome happened.")
    if keep:
        print(f"  The repository is kept at {repo}.")
    else:
        shutil.rmtree(base, ignore_errors=True)
        print("  (run with --keep to inspect the repository afterwards)")
    return 0
