"""The watchdog: crashed, looping, waiting (and the pacer's hook), with evidence; it never
takes work from a builder that makes progress."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import Cli
from dispatchkit import Builders, worker
from gatekit import Org
from lanectl import lease, state, taskops, tasks, watchdog
from lanectl.guard import Guard
from lanectl.policy import Actor, load_context
from lanectl.watchdog import Diagnosis, Running


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


def move(org: Org, task_id: str, to: str, reason: str | None = None) -> None:
    ws = org.ws
    with state.change(ws, "lanectl", "lanectl", f"test: {to}", task_id) as change:
        taskops.set_state(ws, change, tasks.load(ws).resolve(task_id), to, reason=reason)


def diagnoses(org: Org, **kw: object) -> dict[str, Diagnosis]:
    ws = org.ws
    return {d.task: d for d in watchdog.diagnose(ws, tasks.load(ws), **kw)}  # type: ignore[arg-type]


def test_waiting_on_dependencies_reviews_and_humans(org: Org) -> None:
    dep = org.task("Foundation")
    waiting = org.task("Upper floor", "--depends", dep)
    for title, to in (("In review", "review"), ("Eligible", "eligible"),
                      ("Approved", "approved"), ("Stuck", "blocked")):  # fmt: skip
        tid = org.task(title)
        move(org, tid, to, reason="security veto disputed" if to == "blocked" else None)
    found = diagnoses(org)
    assert found[dep].waiting_on == "builder"
    assert found[dep].next == "lanectl dispatch"
    assert found[waiting].waiting_on == "dependency"
    assert f"waiting on {dep} (ready)" in found[waiting].summary
    by_title = {d.title: d for d in found.values()}
    assert by_title["In review"].waiting_on == "review"
    assert by_title["Eligible"].waiting_on == "human approval"
    assert by_title["Eligible"].next == f"lanectl approve {by_title['Eligible'].task}"
    assert by_title["Approved"].waiting_on == "human merge"
    assert by_title["Stuck"].waiting_on == "human decision"
    assert "security veto disputed" in by_title["Stuck"].summary
    assert all(d.kind == "waiting" and d.seconds is not None for d in found.values())
    status = org.cli("status", ok=True).out
    assert "WAITING ON A HUMAN (3)" in status
    assert "lanectl approve" in status
    data = json.loads(org.cli("status", "--json", ok=True).out)
    assert {d["kind"] for d in data["watchdog"]} == {"waiting"}


def test_crashed_without_claim_and_with_an_expired_lease(org: Org) -> None:
    tid = org.task("Orphan")
    move(org, tid, "building")
    found = diagnoses(org)[tid]
    assert found.kind == "crashed"
    assert "no claim" in found.summary
    lease.acquire(org.repo, tid, actor="builder-claude", ttl=0.1)
    time.sleep(0.2)
    found = diagnoses(org)[tid]
    assert found.kind == "crashed"
    assert "lease expired" in found.summary
    assert "(generation 2)" in found.summary
    assert found.stalled
    assert found.next == "lanectl dispatch"
    levels = {
        code: level for level, code, _, _ in watchdog.doctor_items(org.ws, tasks.load(org.ws))
    }
    assert levels["work-crashed"] == "warn"
    doctor = org.cli("doctor")
    assert doctor.code == 1  # a warning: work needs attention
    assert f"{tid} crashed: lease expired" in doctor.out
    assert "fix: lanectl dispatch" in doctor.out
    status = org.cli("status", ok=True).out
    assert "STALLED (1)" in status
    assert "crashed" in status


def test_crashed_when_the_dispatcher_is_gone_before_expiry(org: Org) -> None:
    tid = org.task("Dead dispatcher")
    move(org, tid, "building")
    code = (
        "import sys; from pathlib import Path; from lanectl import lease; "
        f"l = lease.acquire(Path({str(org.repo)!r}), {tid!r}, actor='builder-claude', ttl=600); "
        "print(l.claim.pid)"
    )
    pid = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout)  # fmt: skip
    found = diagnoses(org)[tid]
    assert found.kind == "crashed"
    assert f"dispatcher pid {pid} is gone" in found.summary
    assert "expires in" in found.summary


def test_the_same_call_repeated_is_looping(org: Org) -> None:
    tid = org.task("Loop")
    move(org, tid, "building")
    lease.acquire(org.repo, tid, actor="builder-claude", ttl=600)
    ws = org.ws
    ctx = load_context(ws, "builder-claude", task=tid, worktree=ws.private_dir)
    guard = Guard(ws, Actor("builder-claude", "builder"), ctx, tid)
    for _ in range(4):
        guard.tool_call("run", ["pytest", "-q"], {"command": "pytest -q"})
    assert diagnoses(org)[tid].kind == "running"  # four is not yet a loop
    guard.tool_call("run", ["pytest", "-q"], {"command": "pytest -q"})
    found = diagnoses(org)[tid]
    assert found.kind == "looping"
    assert "5 times in a row: pytest -q" in found.summary
    guard.tool_call("read_file", {"path": "src/x.py"})
    assert diagnoses(org)[tid].kind == "running"  # a different call breaks the run


def test_a_running_builder_and_the_pacer_hook(org: Org) -> None:
    tid = org.task("Busy")
    move(org, tid, "building")
    held = lease.acquire(org.repo, tid, actor="builder-claude", ttl=600)
    held.renew(agent_pid=12345, progress=time.time())
    found = diagnoses(org)[tid]
    assert found.kind == "running"
    assert not found.stalled
    assert "agent pid 12345" in found.evidence
    assert "RUNNING (1)" in org.cli("status", ok=True).out

    def throttled(run: Running) -> Diagnosis | None:
        return Diagnosis(run.task.id, run.task.title, run.task.state, "throttled",
                         "budget anthropic-main paused for 23 s (429, retry-after)")  # fmt: skip

    found = diagnoses(org, probes=[throttled])[tid]
    assert found.kind == "throttled"
    assert found.stalled


def test_a_builder_making_progress_keeps_its_task(
    org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    builders = Builders(org, tmp_path, monkeypatch)
    builders.script("steady-agent", worker("""
for step in range(8):
    print("step", step, flush=True)
    time.sleep(0.25)
"""))  # fmt: skip
    builders.configure("steady-agent", settings={"lease_s": 0.6})
    tid = org.task("Long but alive")
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(builders.dispatch()))
    thread.start()
    time.sleep(1.2)  # twice the lease: only heartbeats keep it
    second = builders.dispatch()
    assert not second.results
    assert second.skipped
    assert second.skipped[0][0] == tid
    assert diagnoses(org)[tid].kind == "running"
    thread.join(30)
    [result] = results[0].results  # type: ignore[attr-defined]
    assert result.outcome == "review"
    assert result.generation == 1
