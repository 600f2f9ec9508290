"""`lanectl status` as the dashboard: every section, in plain text and in --json, from
real tasks, claims, ledger events and the budget store the real pacer wrote."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Cli, run_in_terminal
from gatekit import Org
from lanectl import (
    budgetstore,
    coordtax,
    isolation,
    lease,
    ledger,
    logquery,
    state,
    status,
    statusview,
    taskops,
    tasks,
)
from lanectl.budgetstore import BudgetSpec, BudgetStore
from lanectl.guard import Guard
from lanectl.pacer import Pacer
from lanectl.policy import Action, Actor, load_context
from lanectl.providers import ProviderError
from lanectl.sim import Simulator
from simkit import ask, close_clients, keys, provider, sim_keys, simulator

__all__ = ["close_clients", "sim_keys"]

BUDGET = "anthropic-main"
SCRIPT = [{"match": {"contains": "THROTTLE"},
           "turns": [{"fault": "rate_limited", "fault_times": "always"}]}]  # fmt: skip


@pytest.fixture(autouse=True)
def _keys(sim_keys: None) -> None:
    """The simulator's keys in the variables the pacer's provider reads."""


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    made = Org(lane_repo, cli, tmp_path)
    config = lane_repo / ".lanes" / "config.yaml"
    config.write_text(
        config.read_text().replace(
            "budget: anthropic-main}", "budget: anthropic-main, max_steps: 60}", 1
        )
    )
    made.commit_policy("builder-claude: 60 steps")
    return made


@pytest.fixture
def sim() -> Iterator[Simulator]:
    # One simulated second is 50 wall seconds: a scripted 429 pauses for 50 s.
    with simulator(script=SCRIPT, time_scale=0.02, keys=keys(),
                   latency={"base_ms": 0, "per_token_ms": 0, "jitter": 0}) as running:  # fmt: skip
        yield running


def call(org: Org, sim: Simulator, text: str, task: str) -> None:
    """One request through the real pacer on anthropic-main (one attempt)."""
    store = BudgetStore(budgetstore.store_path(org.ws.private_dir))
    pacer = Pacer(store, BudgetSpec(BUDGET, {"requests": 600.0}, max_concurrency=4), max_attempts=1)
    try:
        pacer.run(provider(sim, budget=BUDGET), ask(text), agent="builder-claude", task=task)
    except ProviderError:
        pass
    finally:
        store.close()


def move(org: Org, task_id: str, to: str, reason: str | None = None) -> None:
    ws = org.ws
    with state.change(ws, "lanectl", "lanectl", f"test: {to}", task_id) as change:
        taskops.set_state(ws, change, tasks.load(ws).resolve(task_id), to, reason=reason)


def building(org: Org, title: str, calls: int = 0) -> str:
    """A task builder-claude is building: a live lease and ``calls`` tool calls."""
    tid = org.task(title)
    move(org, tid, "building")
    lease.acquire(org.repo, tid, actor="builder-claude", ttl=600).renew(progress=time.time())
    ws = org.ws
    guard = Guard(ws, Actor("builder-claude", "builder"),
                  load_context(ws, "builder-claude", task=tid, worktree=ws.private_dir), tid)  # fmt: skip
    for n in range(calls):
        guard.tool_call("read_file", {"path": f"src/{n}.py"})
    return tid


def plain(org: Org) -> str:
    return org.cli("status", ok=True).out


def board_json(org: Org) -> dict[str, object]:
    data: dict[str, object] = json.loads(org.cli("status", "--json", ok=True).out)
    return data


def section(text: str, title: str) -> str:
    """The lines of one section of the plain dashboard (up to the next blank line)."""
    start = text.index(title)
    end = text.find("\n\n", start)
    return text[start : end if end >= 0 else len(text)]


def test_waiting_on_a_human_with_how_long_and_the_next_command(org: Org) -> None:
    eligible, approved, stuck = org.task("Eligible"), org.task("Approved"), org.task("Stuck")
    move(org, eligible, "eligible")
    move(org, approved, "approved")
    move(org, stuck, "blocked", reason="security veto disputed")
    shown = section(plain(org), "WAITING ON A HUMAN (3)")
    assert re.search(rf"{eligible}  human approval +\d+s  lanectl approve {eligible}", shown)
    assert f"{approved}  human merge" in shown
    assert f"lanectl merge {approved}" in shown
    assert f"lanectl task show {stuck}" in shown
    data = board_json(org)
    rows = {r["task"]: r for r in data["waiting_on_human"]}  # type: ignore[attr-defined]
    assert rows[eligible]["waiting_on"] == "human approval"
    assert rows[eligible]["next"] == f"lanectl approve {eligible}"
    assert rows[eligible]["seconds"] >= 0
    assert data["by_state"] == {"eligible": 1, "approved": 1, "blocked": 1}


def test_running_builders_show_progress_and_their_budget_use(org: Org, sim: Simulator) -> None:
    tid = building(org, "Busy", calls=3)
    call(org, sim, "hello", tid)
    text = plain(org)
    row = section(text, "RUNNING (1)").splitlines()[1]
    assert row.split() == [tid, "builder-claude", "3", "tool", "calls", "(max_steps", "60)",
                           "anthropic-main", "1/50", "rpm"]  # fmt: skip
    budgets = section(text, "BUDGETS")
    assert "anthropic-main  1/50 rpm · 0 in flight · concurrency 4" in budgets
    [running] = board_json(org)["running"]  # type: ignore[misc]
    assert running["task"] == tid
    assert running["kind"] == "running"
    assert running["tool_calls"] == 3
    assert running["max_steps"] == 60
    assert running["rpm_used"] == 1
    assert running["rpm_limit"] == 50
    assert running["budget_use"] == "anthropic-main 1/50 rpm"


def test_a_model_builder_shows_the_step_it_is_at(org: Org) -> None:
    tid = org.task("Thinking")
    move(org, tid, "building")
    held = lease.acquire(org.repo, tid, actor="builder-claude", ttl=600)
    progress = isolation.Progress()
    progress.step, progress.max_steps = 14, 60  # what the agent loop sets each turn
    held.renew(**progress.heartbeat())  # what the build's heartbeat records
    row = section(plain(org), "RUNNING (1)").splitlines()[1]
    assert row.split()[:4] == [tid, "builder-claude", "step", "14/60"]
    [running] = board_json(org)["running"]  # type: ignore[misc]
    assert running["step"] == [14, 60]


def test_a_throttled_builder_is_shown_throttled_not_stuck(org: Org, sim: Simulator) -> None:
    tid = building(org, "Held by the pacer")
    call(org, sim, "THROTTLE", tid)
    text = plain(org)
    assert "STALLED" not in text  # alive: the pacer holds its calls
    row = section(text, "RUNNING (1)").splitlines()[1]
    assert re.search(
        rf"{tid}  builder-claude +THROTTLED +budget anthropic-main paused until "
        r"\d\d:\d\d:\d\d \(retry-after 50 s after a 429, \d+ s left\); 1 agent shares it "
        "— not stuck", row), row  # fmt: skip
    assert "paused " in section(text, "BUDGETS")
    data = board_json(org)
    [running] = data["running"]  # type: ignore[misc]
    assert running["kind"] == "throttled"
    assert running["until"] is not None
    assert data["stalled"] == []
    assert data["budgets"][BUDGET]["paused_for_s"] > 40  # type: ignore[index]


def test_stalls_are_shown_with_their_diagnosis_and_the_next_step(org: Org) -> None:
    tid = org.task("Orphan")
    move(org, tid, "building")  # building, but nobody holds a claim
    shown = section(plain(org), "STALLED (1)")
    assert f"{tid}  crashed" in shown
    assert "no claim holds it" in shown
    assert "next: lanectl dispatch" in shown
    [stall] = board_json(org)["stalled"]  # type: ignore[misc]
    assert stall["kind"] == "crashed"
    assert stall["next"] == "lanectl dispatch"


def test_the_latest_gate_events_are_shown(org: Org) -> None:
    tid = org.task("Guarded")
    ws = org.ws
    guard = Guard(ws, Actor("security-gemini", "security"),
                  load_context(ws, "security-gemini", task=tid, worktree=ws.private_dir), tid)  # fmt: skip
    scp = ("scp", "nginx.conf", "deploy@prod-web-1:/etc/nginx/")
    assert not guard.check(Action("run", argv=scp, task=tid)).allowed
    move(org, tid, "review")
    assert org.cli("merge", tid).code == 3  # refused: nothing the gate needs is there
    shown = section(plain(org), "GATE EVENTS")
    lines = shown.splitlines()[1:]
    assert len(lines) == 2
    assert "tool.denied" in lines[0]
    assert "security-gemini" in lines[0]
    assert "push host config outside pipeline (scp nginx.conf" in lines[0]
    assert "merge.refused" in lines[1]
    data = board_json(org)
    assert [e["kind"] for e in data["gate_events"]] == ["tool.denied", "merge.refused"]  # type: ignore[attr-defined]
    assert all(e["task"] == tid for e in data["gate_events"])  # type: ignore[attr-defined]


def test_latest_reads_back_from_the_newest_month_only_as_far_as_needed(tmp_path: Path) -> None:
    log = tmp_path / "log"

    def write(month: str, writer: str, kinds: list[str]) -> None:
        for n, kind in enumerate(kinds):
            event = ledger.make_event(kind, actor=writer, role="builder", result="blocked")
            event["ts"] = f"{month}-10T10:00:{n:02d}.000Z"
            ledger.append(ledger.file_for(log, writer, event["ts"]), event)

    write("2026-10", "a", ["gate.blocked"] * 3)
    write("2026-11", "a", ["tool.denied", "tool.call", "merge.refused"])
    write("2026-11", "b", ["tool.call", "gate.blocked", "task.state"])
    kinds = status.GATE_KINDS
    found = logquery.latest(log, kinds, 3)
    assert [(e["ts"][5:7], e["kind"]) for e in found] == [
        ("11", "tool.denied"), ("11", "gate.blocked"), ("11", "merge.refused")]  # fmt: skip
    assert [e["ts"][5:7] for e in logquery.latest(log, kinds, 5)] == ["10", "10", "11", "11", "11"]
    assert logquery.latest(log, ("gate.blocked",), 1)[0]["actor"] == "b"
    assert logquery.latest(log, kinds, 0) == []


def test_the_coordination_tax_adds_up_time_per_stage() -> None:
    from lanectl.tasks import TaskSet

    hour = 3600.0
    now = 100 * hour
    moves = [  # one task: ready → building (2 h) → review (1 h) → eligible (30 min so far)
        coordtax.Move("T-AAAAAAAA", now - 4 * hour, "draft", "ready"),
        coordtax.Move("T-AAAAAAAA", now - 3.5 * hour, "ready", "building"),
        coordtax.Move("T-AAAAAAAA", now - 1.5 * hour, "building", "review"),
        coordtax.Move("T-AAAAAAAA", now - 0.5 * hour, "review", "eligible"),
        coordtax.Move("T-BBBBBBBB", now - 30 * hour, "ready", "building"),  # outside the window
    ]
    tax = coordtax.compute(TaskSet(()), moves, now)
    assert tax.by_state == {"ready": 0.5 * hour, "building": 2 * hour, "review": hour,
                            "eligible": 0.5 * hour}  # fmt: skip
    assert tax.working == 2 * hour
    assert tax.waiting == 2 * hour
    assert tax.waiting_share == 0.5
    assert tax.summary() == ("working 2.0 h · waiting on dispatch 30 min · waiting on review "
                             "1.0 h · waiting on humans 30 min")  # fmt: skip
    assert tax.moves == 4
    assert tax.to_json()["by_stage_s"]["humans"] == 1800  # type: ignore[index]


def test_status_shows_the_coordination_tax_from_the_ledger(org: Org) -> None:
    waiting, worked = org.task("Waits for a builder"), org.task("Built")
    move(org, worked, "building")
    move(org, worked, "review")
    draft = org.task("Still a draft", ready=False)
    ws = org.ws
    # An hour from now: the ready task waited an hour on dispatch, the built one on review.
    board = status.dashboard(ws, now=time.time() + 3600)
    tax = board.tax
    assert tax.tasks == 2  # the draft costs nothing
    assert tax.by_stage["dispatch"] == pytest.approx(3600, abs=30)
    assert tax.by_stage["review"] == pytest.approx(3600, abs=30)
    assert tax.working < 30
    assert tax.moves >= 4
    text = statusview.plain(board)
    assert re.search(
        r"COORDINATION TAX \(last 24 h\)   (working \d+ (s|min) · )?waiting on dispatch 1\.0 h · "
        r"waiting on review 1\.0 h   — 100% of task time spent waiting",
        text,
    ), text
    assert "of task time spent waiting" in text
    data = board.to_json()["coordination_tax"]
    assert data["window_s"] == 86400
    assert data["tasks"] == 2
    assert set(data["by_stage_s"]) == {"working", "dispatch", "review", "rework", "humans"}
    assert draft not in {d.task for d in board.diagnoses}
    assert waiting in {r.task.id for r in board.status.ready}


def test_the_json_has_every_section(org: Org) -> None:
    org.task("Something")
    data = board_json(org)
    for key in ("total", "by_state", "by_risk", "ready", "active", "watchdog", "waiting_on_human",
                "running", "stalled", "budgets", "gate_events", "coordination_tax"):  # fmt: skip
        assert key in data, key
    assert set(data["budgets"]) == {"anthropic-main", "openai-main", "google-main"}  # type: ignore[arg-type]
    assert data["budgets"]["anthropic-main"]["rpm_limit"] == 50  # type: ignore[index]


def test_on_a_terminal_the_dashboard_is_rich_tables(org: Org) -> None:
    eligible = org.task("Needs approval")
    move(org, eligible, "eligible")
    env = {**os.environ, "COLUMNS": "160", "TERM": "xterm", "NO_COLOR": "1"}
    code, raw = run_in_terminal(org.repo, ["status"], env=env)
    assert code == 0
    screen = re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", raw)
    assert "WAITING ON A HUMAN (1)" in screen
    assert f"lanectl approve {eligible}" in screen
    assert "COORDINATION TAX (last 24 h)" in screen
    assert "by state and risk" in screen
