"""lanectl dispatch with command agents: leases, worktrees, signed work, crash safety."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import Cli, git
from dispatchkit import Builders, worker
from gatekit import Org
from lanectl import dispatch, isolation, lease, tasks, watchdog, worktrees


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


@pytest.fixture
def builders(org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Builders:
    return Builders(org, tmp_path, monkeypatch)


def events(org: Org, kind: str, task: str | None = None) -> list[dict[str, object]]:
    return [e for e in org.events(kind) if task is None or e.get("task") == task]


def test_a_command_agent_builds_signed_work_that_passes_implementation(
    org: Org, builders: Builders
) -> None:
    seen = builders.out / "prompt-seen.md"
    builders.script(
        "fake-agent",
        worker(f"""
prompt = pathlib.Path(sys.argv[sys.argv.index("--message-file") + 1]).read_text()
pathlib.Path({str(seen)!r}).write_text(prompt)
"""),
    )
    builders.configure("fake-agent", checks=("test -d src",))
    tid = org.task("Say hello")
    result = org.cli("dispatch", "--once")
    assert result.code == 0, result.out + result.err
    assert f"{tid}  review" in result.out
    assert builders.state(tid) == "review"
    prompt = seen.read_text()
    assert "Do the thing." in prompt
    assert "the thing is done" in prompt
    assert f"lanes/{tid}" in prompt
    assert "test -d src" in prompt
    # One commit on the branch, signed by the builder, with the trailers.
    branch = f"lanes/{tid}"
    assert git(org.repo, "rev-list", "--count", f"main..{branch}") == "1"
    signers = org.repo / ".lanes" / "allowed_signers"
    sig = git(org.repo, "-c", f"gpg.ssh.allowedSignersFile={signers}", "log", "-1",
              "--format=%G? %GS", branch)  # fmt: skip
    assert sig == "G agent:builder-claude"
    body = git(org.repo, "log", "-1", "--format=%B", branch)
    for trailer in (f"Lane-Task: {tid}", "Lane-Actor: builder-claude",
                    "Lane-Model: claude-sonnet-4-6"):  # fmt: skip
        assert trailer in body
    files = git(org.repo, "diff", "--name-only", "main", branch).split()
    assert files == [f"src/{tid}.py"]  # the prompt file is never committed
    # The gate's implementation stage holds: signed commits and a signed green check.
    report = org.gate(tid)
    impl = org.stage(report, "implementation")
    assert impl["passed"], impl
    assert "checks green" in impl["reason"]
    assert report["builder"] == "builder-claude"
    # Lease released, worktree gone, every step in the ledger, chains intact.
    _, claim = lease.read(org.repo, tid)  # type: ignore[misc]
    assert claim is not None
    assert claim.released
    assert claim.generation == 1
    assert not worktrees.path_for(org.ws, tid).exists()
    for kind in ("claim.acquired", "agent.started", "agent.finished", "build.committed",
                 "check.recorded", "claim.released"):  # fmt: skip
        assert len(events(org, kind, tid)) == 1, kind
    assert org.cli("audit").code == 0


def test_a_failing_agent_blocks_the_task_with_its_reason(org: Org, builders: Builders) -> None:
    builders.script(
        "sad-agent", 'print("working…")\nprint("cannot find the module")\nsys.exit(3)\n'
    )
    builders.configure("sad-agent")
    tid = org.task("Impossible")
    result = org.cli("dispatch", "--once")
    assert result.code == 1
    assert builders.state(tid) == "blocked"
    [moved] = [e for e in events(org, "task.state", tid) if e["data"]["to"] == "blocked"]  # type: ignore[index]
    assert moved["reason"] == "builder-claude exited 3: cannot find the module"
    assert git(org.repo, "branch", "--list", f"lanes/{tid}") == ""  # nothing committed
    assert worktrees.path_for(org.ws, tid).exists()  # kept for a human to look at
    [finished] = events(org, "agent.finished", tid)
    assert finished["result"] == "error"
    assert "cannot find the module" in str(finished["data"])
    shown = org.cli("task", "show", tid, ok=True).out
    assert "blocked: builder-claude exited 3" in shown
    status = org.cli("status", ok=True).out
    assert "WAITING ON A HUMAN" in status
    assert "human decision" in status


def test_failing_checks_are_committed_signed_and_block(org: Org, builders: Builders) -> None:
    builders.script("fake-agent", worker(""))
    builders.configure("fake-agent", checks=("test -d src", "test -f missing.txt"))
    tid = org.task("Checks fail")
    assert org.cli("dispatch", "--once").code == 1
    assert builders.state(tid) == "blocked"
    [moved] = [e for e in events(org, "task.state", tid) if e["data"]["to"] == "blocked"]  # type: ignore[index]
    assert str(moved["reason"]).startswith("check `test -f missing.txt` failed (exit 1)")
    impl = org.stage(org.gate(tid), "implementation")
    assert not impl["passed"]
    assert "checks failed" in impl["reason"]


def test_an_agent_that_changes_policy_is_refused(org: Org, builders: Builders) -> None:
    builders.script(
        "greedy-agent",
        'p = pathlib.Path(".lanes/config.yaml")\np.write_text(p.read_text() + "# mine now\\n")\n',
    )
    builders.configure("greedy-agent")
    tid = org.task("Loosen the rules")
    assert org.cli("dispatch", "--once").code == 1
    assert builders.state(tid) == "blocked"
    denied = events(org, "tool.denied", tid)
    assert denied
    assert denied[0]["actor"] == "builder-claude"
    assert ".lanes/config.yaml" in str(denied[0]["attempted"])
    assert git(org.repo, "branch", "--list", f"lanes/{tid}") == ""


def test_dry_run_says_what_it_would_do_and_changes_nothing(org: Org, builders: Builders) -> None:
    builders.script("fake-agent", worker(""))
    builders.configure("fake-agent")
    tid = org.task("Plan only")
    out = org.cli("dispatch", "--dry-run", ok=True).out
    assert f"would claim {tid}" in out
    assert "fake-agent --message-file {prompt_file}" in out
    assert lease.read(org.repo, tid) is None
    assert builders.state(tid) == "ready"
    plan = json.loads(org.cli("--json", "dispatch", "--dry-run", ok=True).out)["planned"]
    assert plan[0]["task"] == tid
    assert plan[0]["reclaim"] is False


def test_several_builders_run_at_once(org: Org, builders: Builders) -> None:
    log = builders.out / "times.jsonl"
    builders.script(
        "slow-agent",
        worker(f"""
start = time.time()
time.sleep(0.6)
with open({str(log)!r}, "a") as f:
    f.write(json.dumps([start, time.time()]) + "\\n")
"""),
    )
    builders.configure("slow-agent")
    ids = [org.task(f"Task {n}") for n in range(3)]
    report = builders.dispatch(max=3)
    assert sorted(r.task for r in report.results) == sorted(ids)
    assert {r.outcome for r in report.results} == {"review"}
    spans = [json.loads(line) for line in log.read_text().splitlines()]
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # all three overlapped


def test_two_dispatchers_never_build_the_same_task(org: Org, builders: Builders) -> None:
    builders.script("slow-agent", worker("time.sleep(0.3)\n"))
    builders.configure("slow-agent")
    ids = [org.task(f"Task {n}") for n in range(2)]
    reports: list[dispatch.Report] = []
    barrier = threading.Barrier(2)

    def one() -> None:
        barrier.wait()
        reports.append(builders.dispatch(max=2))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    built = sorted(r.task for report in reports for r in report.results)
    assert built == sorted(ids)  # each exactly once, between the two of them
    for tid in ids:
        assert len(events(org, "build.committed", tid)) == 1
        assert git(org.repo, "rev-list", "--count", f"main..lanes/{tid}") == "1"
        assert builders.state(tid) == "review"


def test_a_reclaimed_build_commits_nothing(org: Org, builders: Builders) -> None:
    go = org.tmp / "go"
    builders.script("waiting-agent", worker(f"""
while not pathlib.Path({str(go)!r}).exists():
    time.sleep(0.05)
"""))  # fmt: skip
    builders.configure("waiting-agent", settings={"lease_s": 1})
    tid = org.task("Slow one")
    ws = org.ws
    results: list[dispatch.Report] = []
    thread = threading.Thread(target=lambda: results.append(builders.dispatch()))
    thread.start()
    deadline = time.time() + 20
    while not events(org, "agent.started", tid) and time.time() < deadline:
        time.sleep(0.05)
    # Another dispatcher, whose clock says the lease ran out, reclaims the task.
    thief = lease.acquire(ws.root, tid, actor="builder-claude", ttl=60, now=time.time() + 3600)
    assert thief.generation == 2
    go.touch()
    thread.join(30)
    [result] = results[0].results
    assert result.outcome == "lost"
    assert "no longer ours" in result.reason
    assert git(org.repo, "branch", "--list", f"lanes/{tid}") == ""
    assert builders.state(tid) == "building"  # the new holder's to finish
    assert events(org, "claim.lost", tid)
    _, claim = lease.read(org.repo, tid)  # type: ignore[misc]
    assert claim is not None
    assert claim.token == thief.claim.token


def test_sigkill_mid_build_loses_nothing_and_a_restart_reclaims(
    org: Org, builders: Builders
) -> None:
    marker = builders.out / "first-run"
    builders.script("flaky-agent", worker(f"""
first = pathlib.Path({str(marker)!r})
if not first.exists():
    first.write_text(str(os.getpid()))
    pathlib.Path("half-done.txt").write_text("partial")
    time.sleep(120)
"""))  # fmt: skip
    builders.configure("flaky-agent", settings={"lease_s": 1.5})
    tid = org.task("Survive a crash")
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, "-m", "lanectl", "dispatch", "--once"],
        cwd=org.repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 30
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    orphan = int(marker.read_text())
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # Nothing committed is lost: the ledger is intact and the task is still building.
    assert org.cli("audit").code == 0
    assert builders.state(tid) == "building"
    [diag] = [d for d in watchdog.diagnose(org.ws, tasks.load(org.ws)) if d.task == tid]
    assert diag.kind == "crashed"
    assert f"pid {proc.pid} is gone" in diag.summary
    # Before expiry nobody may take it; after expiry a restart reclaims it.
    early = builders.dispatch()
    assert not early.results
    assert "claimed by builder-claude" in early.skipped[0][1]
    time.sleep(1.6)
    [result] = builders.dispatch().results
    assert result.outcome == "review"
    assert result.generation == 2
    assert not isolation.alive(orphan)  # the orphaned agent of the dead dispatcher was stopped
    assert events(org, "agent.stopped", tid)
    files = git(org.repo, "diff", "--name-only", "main", f"lanes/{tid}").split()
    assert files == [f"src/{tid}.py"]  # the crashed run's half-done file was reset away
    assert git(org.repo, "rev-list", "--count", f"main..lanes/{tid}") == "1"
    assert org.stage(org.gate(tid), "implementation")["passed"]
    assert org.cli("audit").code == 0


def test_the_command_template_is_validated(cli: Cli, lane_repo: Path) -> None:
    path = lane_repo / ".lanes" / "config.yaml"
    text = path.read_text()
    for command, message in (
        ('"aider --message-file {prompt_file}"', "command: input should be a valid list"),
        ('[aider, --message-file, "{prompt}"]', "unknown placeholder {prompt}"),
        ('["{worktree}/agent"]', "the first item must name the program"),
    ):
        path.write_text(text.replace(
            "builder-claude: {role: builder, provider: anthropic,",
            f"builder-claude: {{role: builder, provider: command, command: {command},",
        ))  # fmt: skip
        result = cli("check")
        assert result.code == 1
        assert message in result.out, result.out
    path.write_text(text.replace("family: anthropic,", "family: anthropic, command: [x],", 1))
    assert "only a provider command agent runs a command" in cli("check").out
