"""CLI latency benchmark (SPEC §13): a benchmark, not a test.

Builds a repository with 10,000 tasks (30% with dependencies), 500 ADRs and
100,000 ledger events (and a 1k-task one beside it, to show how cost grows),
then runs the installed ``lanectl`` as a subprocess, output captured (not a
TTY), and reports the median of several runs of each command, cold (index
cache deleted before every run) and warm.

    .venv/bin/python bench/cli.py [--runs 5] [--dir DIR] [--keep]

Targets: warm ``task list``, ``task list --ready``, ``status`` (and ``log``)
under 0.3 s; ``--help`` under 0.15 s; ``audit`` of 100k events under 3 s;
10k/1k no worse than linear. A command that does not exist yet is reported
as ``n/a``. The last line printed is machine-readable::

    bench-cli warm_list_s=… warm_ready_s=… warm_status_s=… help_s=… audit_s=…
"""

from __future__ import annotations

import argparse
import calendar
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lanectl import ids, ledger

STATES_WEIGHTED = (
    ("merged", 35),
    ("ready", 20),
    ("draft", 15),
    ("building", 6),
    ("review", 6),
    ("changes_requested", 3),
    ("eligible", 3),
    ("approved", 2),
    ("blocked", 4),
    ("cancelled", 6),
)
RISKS = ("low", "medium", "high")
ACTORS = (
    ("alice", "human"),
    ("bob", "human"),
    ("builder-claude", "builder"),
    ("reviewer-gpt", "reviewer"),
    ("security-gemini", "security"),
    ("designer-gpt", "designer"),
)
LOG_ACTOR = "security-gemini"  # the X in `log --actor X`
KINDS = (
    "task.created",
    "task.state",
    "claim.acquired",
    "agent.started",
    "agent.heartbeat",
    "tool.call",
    "tool.denied",
    "review.recorded",
    "gate.evaluated",
    "gate.blocked",
    "budget.throttled",
)
WRITERS = ("bench-host-a1b2c3", "bench-host-d4e5f6", "ci-runner-g7h8j9", "laptop-k1m2n3")
WORDS = (
    "retry", "fetch", "cache", "index", "ledger", "review", "gate", "budget", "pacing",
    "worktree", "merge", "audit", "config", "policy", "signer", "approval", "render", "parse",
    "queue", "claim", "sandbox", "forge", "webhook", "timeout", "backoff", "schema", "migrate",
    "report", "metrics", "trace", "token", "prompt", "diff",
)  # fmt: skip


def _recent_months(count: int = 6) -> tuple[str, ...]:
    """The ``count`` whole months before this one (so no event is in the future)."""
    year, month = time.gmtime()[:2]
    out = []
    for _ in range(count):
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        out.append(f"{year:04d}-{month:02d}")
    return tuple(reversed(out))


MONTHS = _recent_months()
HELP_TARGET_S = 0.15
WARM_TARGET_S = 0.3
AUDIT_TARGET_S = 3.0


# ---------------------------------------------------------------------------
# Building the repository


@dataclass(frozen=True)
class Scale:
    label: str
    tasks: int
    adrs: int
    events: int


SCALES = {
    "1k": Scale("1k", 1_000, 50, 10_000),
    "10k": Scale("10k", 10_000, 500, 100_000),
}


def _git(cwd: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.invalid",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.invalid",
    )
    subprocess.run(
        ["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", *args],
        cwd=cwd,
        env=env,
        check=True,
        capture_output=True,
    )


def _common_dir(repo: Path) -> Path:
    out = subprocess.run(
        ["git", "rev-parse", "--git-common-dir"],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    path = Path(out)
    return path if path.is_absolute() else (repo / path).resolve()


def _title(rng: random.Random, n: int) -> str:
    return f"{rng.choice(WORDS).capitalize()} {' '.join(rng.sample(WORDS, 3))} #{n}"


def _ts(month: str, rng: random.Random) -> tuple[str, int]:
    """A random timestamp in ``month`` as (ISO string with ms, epoch ms)."""
    year, mon = (int(p) for p in month.split("-"))
    day, hour, minute = rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59)
    second, ms = rng.randint(0, 59), rng.randint(0, 999)
    stamp = time.struct_time((year, mon, day, hour, minute, second, 0, 0, 0))
    epoch_ms = calendar.timegm(stamp) * 1000 + ms
    return (
        f"{year:04d}-{mon:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{ms:03d}Z",
        epoch_ms,
    )


def write_tasks(tasks_dir: Path, count: int, adrs: int, rng: random.Random) -> list[str]:
    """``count`` task files; 30% depend on 1–3 earlier tasks (so never a cycle)."""
    tasks_dir.mkdir(parents=True, exist_ok=True)
    states = [s for s, _ in STATES_WEIGHTED]
    weights = [w for _, w in STATES_WEIGHTED]
    task_ids: list[str] = []
    seen: set[str] = set()
    for n in range(count):
        task_id = ids.new_task_id()
        while task_id in seen:
            task_id = ids.new_task_id()
        seen.add(task_id)
        depends: list[str] = []
        if task_ids and rng.random() < 0.30:
            depends = rng.sample(task_ids, min(len(task_ids), rng.randint(1, 3)))
        task_ids.append(task_id)
        title = _title(rng, n)
        created, _ = _ts(rng.choice(MONTHS), rng)
        paths = f"['src/{rng.choice(WORDS)}/**']" if rng.random() < 0.5 else "[]"
        adr_refs = f"['{rng.randint(1, adrs):04d}']" if rng.random() < 0.3 else "[]"
        text = (
            "---\n"
            f"id: {task_id}\n"
            f"title: '{title}'\n"
            f"state: {rng.choices(states, weights)[0]}\n"
            f"risk: {rng.choice(RISKS)}\n"
            f"depends_on: [{', '.join(depends)}]\n"
            f"paths: {paths}\n"
            f"adrs: {adr_refs}\n"
            f"created: '{created}'\n"
            f"state_since: '{created}'\n"
            "---\n\n"
            "## Goal\n"
            f"Make {title.lower()} behave as the operators expect, without surprises.\n\n"
            "## Acceptance\n"
            "- [ ] the behaviour is covered by a test\n"
            "- [ ] the docs say what changed\n\n"
            "## Log\n"
            f"- {created[:16]}Z alice: created for the benchmark\n"
        )
        slug = "-".join(title.lower().replace("#", "").split())
        (tasks_dir / f"{task_id}-{slug}.md").write_text(text, encoding="utf-8")
    return task_ids


def write_adrs(decisions: Path, count: int, rng: random.Random) -> None:
    """ADRs 0002..``count`` (0001 comes from ``lanectl init``), MADR 4."""
    decisions.mkdir(parents=True, exist_ok=True)
    statuses = ("accepted", "accepted", "accepted", "proposed", "rejected", "deprecated")
    for number in range(2, count + 1):
        title = f"Use {' '.join(rng.sample(WORDS, 3))} for decision {number}"
        status = rng.choice(statuses)
        slug = "-".join(title.lower().split())
        date, _ = _ts(rng.choice(MONTHS), rng)
        (decisions / f"{number:04d}-{slug}.md").write_text(
            "---\n"
            f"status: {status}\n"
            f"date: {date[:10]}\n"
            "decision-makers: [alice]\n"
            "consulted: [reviewer-gpt]\n"
            "informed: []\n"
            "---\n\n"
            f"# {title}\n\n"
            "## Context and Problem Statement\n\n"
            "We need to settle how this part works so that builders stop guessing.\n\n"
            "## Considered Options\n\n* the simple one\n* the clever one\n\n"
            "## Decision Outcome\n\n"
            'Chosen option: "the simple one", because it is enough.\n\n'
            "### Consequences\n\n* Good, because it is simple\n* Bad, because it is plain\n\n"
            "### Confirmation\n\nA test covers it.\n",
            encoding="utf-8",
        )


def write_ledger(log_dir: Path, count: int, task_ids: list[str], rng: random.Random) -> None:
    """``count`` hash-chained events over several writer files and months."""
    per_file: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for _ in range(count):
        month, writer = rng.choice(MONTHS), rng.choice(WRITERS)
        ts, epoch_ms = _ts(month, rng)
        per_file.setdefault((month, writer), []).append((epoch_ms, ts))
    for (month, writer), stamps in sorted(per_file.items()):
        stamps.sort()
        lines: list[bytes] = []
        prev: bytes | None = None
        for epoch_ms, ts in stamps:
            actor, role = rng.choice(ACTORS)
            kind = rng.choice(KINDS)
            result = "ok"
            attempted = reason = None
            if kind in ("tool.denied", "gate.blocked"):
                result = "blocked"
                reason = "same red rules apply to the reviewer"
                attempted = ["push host config outside pipeline"]
            event = ledger.make_event(
                kind,
                actor=actor,
                role=role,
                task=rng.choice(task_ids),
                head=f"{rng.getrandbits(160):040x}" if kind.startswith("gate.") else None,
                attempted=attempted,
                result=result,
                reason=reason,
                data={"n": len(lines)},
            )
            event["id"] = ids.encode((epoch_ms << 80) | rng.getrandbits(80), 26)
            event["ts"] = ts
            event["prev"] = ledger.line_hash(prev) if prev is not None else None
            prev = ledger.encode(event)
            lines.append(prev)
        path = log_dir / month / f"{writer}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\n".join(lines) + b"\n")


def build(repo: Path, scale: Scale, lanectl: str, seed: int) -> None:
    rng = random.Random(seed)
    repo.mkdir(parents=True)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    (repo / "README.md").write_text(f"lanectl benchmark repository ({scale.label})\n")
    _git(repo, "add", "README.md")
    _git(repo, "commit", "--quiet", "-m", "Start")
    proc = run_cli(lanectl, repo, ["init"])
    if proc.returncode != 0:
        raise SystemExit(f"lanectl init failed:\n{proc.stderr.decode(errors='replace')}")
    write_adrs(repo / "docs" / "decisions", scale.adrs, rng)
    _git(repo, "add", "--", ".lanes", "docs")
    _git(repo, "commit", "--quiet", "-m", "Set up lanectl with benchmark ADRs")
    state = _common_dir(repo) / "lanectl" / "state"
    task_ids = write_tasks(state / ".lanes" / "tasks", scale.tasks, scale.adrs, rng)
    write_ledger(state / ".lanes" / "log", scale.events, task_ids, rng)
    _git(state, "add", "--all", "--", ".lanes")
    _git(state, "commit", "--quiet", "-m", f"benchmark state: {scale.label}")


# ---------------------------------------------------------------------------
# Timing


def find_lanectl() -> str:
    beside = Path(sys.executable).with_name("lanectl")
    if beside.exists():
        return str(beside)
    found = shutil.which("lanectl")
    if found:
        return found
    raise SystemExit("lanectl is not installed (run from the project venv: .venv/bin/python)")


def run_cli(lanectl: str, repo: Path, args: list[str]) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.pop("COLUMNS", None)
    # Measure what users get: Python caching bytecode (some sandboxes and CI
    # images set PYTHONDONTWRITEBYTECODE, which recompiles every module on
    # every run and adds ~40 ms to each command).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return subprocess.run(
        [lanectl, *args], cwd=repo, env=env, capture_output=True, stdin=subprocess.DEVNULL
    )


@dataclass(frozen=True)
class Command:
    key: str
    args: tuple[str, ...]
    target_s: float | None  # for the 10k warm median
    cold: bool = True  # does a cold run mean anything (reads the index)?


COMMANDS = (
    Command("help", ("--help",), HELP_TARGET_S, cold=False),
    Command("list", ("task", "list"), WARM_TARGET_S),
    Command("ready", ("task", "list", "--ready"), WARM_TARGET_S),
    Command("status", ("status",), WARM_TARGET_S),
    Command("log", ("log", "--actor", LOG_ACTOR, "--json"), WARM_TARGET_S),
    Command("audit", ("audit",), AUDIT_TARGET_S),
)


@dataclass
class Result:
    available: bool = True
    cold: float | None = None
    warm: float | None = None
    note: str = ""
    codes: set[int] = field(default_factory=set)


def _missing(proc: subprocess.CompletedProcess[bytes]) -> bool:
    err = proc.stderr.decode(errors="replace")
    return proc.returncode == 2 and ("No such command" in err or "No such option" in err)


def _timed(lanectl: str, repo: Path, args: list[str]) -> tuple[float, int, bytes]:
    start = time.perf_counter()
    proc = run_cli(lanectl, repo, args)
    return time.perf_counter() - start, proc.returncode, proc.stdout


@dataclass(frozen=True)
class Target:
    label: str
    repo: Path
    cache: Path  # <common>/lanectl/cache, deleted before each cold run


def measure(lanectl: str, targets: list[Target], command: Command, runs: int) -> dict[str, Result]:
    """Median times of ``command`` in each repository.

    Runs alternate between the repositories (1k, 10k, 1k, 10k, …) so that load
    from other processes on the machine falls on every scale alike and the
    10k/1k ratio stays fair.
    """
    args = list(command.args)
    results: dict[str, Result] = {}
    live: list[Target] = []
    for target in targets:
        probe = run_cli(lanectl, target.repo, args)  # also warms the OS file cache
        if _missing(probe):
            lines = probe.stderr.decode(errors="replace").strip().splitlines()
            results[target.label] = Result(available=False, note=lines[-1] if lines else "")
            continue
        result = results[target.label] = Result()
        live.append(target)
        if probe.returncode != 0:
            lines = probe.stderr.decode(errors="replace").strip().splitlines()
            result.note = f"exit {probe.returncode}: {lines[-1] if lines else ''}"[:100]

    def series(cold: bool) -> dict[str, float]:
        times: dict[str, list[float]] = {t.label: [] for t in live}
        for _ in range(runs):
            for target in live:
                if cold:
                    shutil.rmtree(target.cache, ignore_errors=True)
                elapsed, code, _ = _timed(lanectl, target.repo, args)
                times[target.label].append(elapsed)
                results[target.label].codes.add(code)
        return {label: statistics.median(values) for label, values in times.items()}

    if command.cold:
        for label, value in series(cold=True).items():
            results[label].cold = value
    for target in live:
        run_cli(lanectl, target.repo, args)  # leave a warm cache behind the cold runs
    for label, value in series(cold=False).items():
        results[label].warm = value
    return results


# ---------------------------------------------------------------------------
# Report


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()} "
        f"{platform.machine()} ({cpu}), load average {load}"
    )


def report(results: dict[str, dict[str, Result]], small: str, large: str) -> tuple[str, bool]:
    width = max(len("lanectl " + " ".join(c.args)) for c in COMMANDS)
    header = (
        f"{'command':<{width}} {small + ' cold':>8} {small + ' warm':>8} {large + ' cold':>9} "
        f"{large + ' warm':>9} {large + '/' + small:>7} {'target':>8}  ok?"
    )
    lines = [header, "-" * len(header)]
    all_ok = True
    for command in COMMANDS:
        a = results[small][command.key]
        b = results[large][command.key]
        name = "lanectl " + " ".join(command.args)
        if not (a.available and b.available):
            lines.append(f"{name:<{width}} {'n/a':>8} {'n/a':>8} {'n/a':>9} {'n/a':>9} {'n/a':>7}")
            continue
        ratio = b.warm / a.warm if a.warm and b.warm else None
        value = b.warm
        ok = command.target_s is None or (value is not None and value <= command.target_s)
        # "At most linear": 10x the data may cost at most 10x the time.
        linear = ratio is None or ratio <= 10.0 * 1.1
        ok = ok and linear and not b.note
        all_ok = all_ok and ok
        target = f"<{command.target_s:g} s" if command.target_s is not None else ""
        lines.append(
            f"{name:<{width}} {_fmt(a.cold):>8} {_fmt(a.warm):>8} "
            f"{_fmt(b.cold):>9} {_fmt(b.warm):>9} "
            f"{'n/a' if ratio is None else f'{ratio:.2f}x':>7} {target:>8}  "
            f"{'ok' if ok else 'NO'}" + (f"  ({b.note})" if b.note else "")
        )
    return "\n".join(lines), all_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per case (>= 5)")
    parser.add_argument("--dir", type=Path, help="build the repositories here (must not exist)")
    parser.add_argument("--keep", action="store_true", help="keep the generated repositories")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target is missed (default: report)"
    )
    args = parser.parse_args(argv)
    if args.runs < 5:
        parser.error("--runs must be at least 5 (a median of fewer runs means little)")
    lanectl = find_lanectl()
    print(f"machine: {machine()}")
    print(f"lanectl: {lanectl}")
    base = args.dir or Path(tempfile.mkdtemp(prefix="lanectl-bench-"))
    if args.dir:
        if args.dir.exists() and any(args.dir.iterdir()):
            parser.error(f"--dir {args.dir} exists and is not empty")
        base.mkdir(parents=True, exist_ok=True)
    base = base.resolve()
    results: dict[str, dict[str, Result]] = {}
    try:
        targets = []
        for scale in SCALES.values():
            repo = base / scale.label
            start = time.perf_counter()
            build(repo, scale, lanectl, args.seed)
            print(
                f"built {scale.label}: {scale.tasks:,} tasks, {scale.adrs} ADRs, "
                f"{scale.events:,} ledger events in {time.perf_counter() - start:.1f} s ({repo})"
            )
            targets.append(Target(scale.label, repo, _common_dir(repo) / "lanectl" / "cache"))
            results[scale.label] = {}
        for command in COMMANDS:
            by_scale = measure(lanectl, targets, command, args.runs)
            shown = []
            for label, result in by_scale.items():
                results[label][command.key] = result
                shown.append(
                    f"{label} warm {_fmt(result.warm)} s" if result.available else f"{label} n/a"
                )
                if result.note:
                    shown.append(f"({result.note})")
            print(f"  {' '.join(command.args):<36} {'  '.join(shown)}")
            sys.stdout.flush()
    finally:
        if args.keep:
            print(f"kept the repositories in {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print()
    print(f"median of {args.runs} runs, seconds; cold = index cache deleted before each run")
    table, all_ok = report(results, "1k", "10k")
    print(table)
    if hasattr(os, "getloadavg") and os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        print(
            f"note: the machine was busy (load average {os.getloadavg()[0]:.2f} on "
            f"{os.cpu_count()} CPUs); other processes inflate these medians, rerun when idle"
        )
    print()
    large = results["10k"]

    def warm(key: str) -> str:
        r = large[key]
        return _fmt(r.warm if r.available else None)

    print(
        f"bench-cli warm_list_s={warm('list')} warm_ready_s={warm('ready')} "
        f"warm_status_s={warm('status')} help_s={warm('help')} audit_s={warm('audit')}"
    )
    return 1 if args.strict and not all_ok else 0


if __name__ == "__main__":
    sys.exit(main())
