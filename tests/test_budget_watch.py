"""The pacer's probes and budget-aware dispatch: a paused, overloaded or halted budget as
the real pacer leaves it after the real SDK met the simulator (ADR 0028)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Cli
from dispatchkit import Builders, worker
from gatekit import Org
from lanectl import budgetstore, budgetwatch, lease, state, taskops, tasks, watchdog
from lanectl.budgetstore import BudgetSpec, BudgetStore
from lanectl.pacer import Pacer
from lanectl.providers import ProviderError
from lanectl.sim import Simulator
from simkit import ask, close_clients, keys, provider, sim_keys, simulator

__all__ = ["close_clients", "sim_keys"]

BUDGET = "anthropic-main"
CLOCK = r"\d\d:\d\d:\d\d"
# One simulated second is 50 wall seconds: the scripted 429's retry-after (1 sim s)
# pauses the budget for 50 s, long enough to look at it. No latency: replies are instant.
SLOW = 0.02
SCRIPT = [
    {"match": {"contains": "THROTTLE"}, "turns": [{"fault": "rate_limited", "fault_times": "always"}]},
    {"match": {"contains": "OVERLOAD"}, "turns": [{"fault": "overloaded", "fault_times": "always"}]},
    {"match": {"contains": "BROKE"}, "turns": [{"fault": "quota", "fault_times": "always"}]},
]  # fmt: skip


@pytest.fixture(autouse=True)
def _keys(sim_keys: None) -> None:
    """The simulator's keys in the variables the pacer's provider reads."""


@pytest.fixture
def org(cli: Cli, lane_repo: Path, tmp_path: Path) -> Org:
    return Org(lane_repo, cli, tmp_path)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with simulator(
        script=SCRIPT, time_scale=SLOW, keys=keys(),
        latency={"base_ms": 0, "per_token_ms": 0, "jitter": 0},
    ) as running:  # fmt: skip
        yield running


def hit(org: Org, sim: Simulator, what: str, *, task: str | None = None) -> ProviderError:
    """One call through the real pacer on the org's anthropic-main budget and its store.

    The pacer believes the budget is large (it is not what throttles here); one
    attempt, so it gives up after the vendor's answer and leaves the store as the
    answer made it.
    """
    store = BudgetStore(budgetstore.store_path(org.ws.private_dir))
    spec = BudgetSpec(BUDGET, {"requests": 600.0}, max_concurrency=4)
    pacer = Pacer(store, spec, max_attempts=1, backoff_s=0.01)
    try:
        with pytest.raises(ProviderError) as info:
            pacer.run(provider(sim, budget=BUDGET), ask(what), agent="builder-claude", task=task)
    finally:
        store.close()
    return info.value


def move(org: Org, task_id: str, to: str) -> None:
    ws = org.ws
    with state.change(ws, "lanectl", "lanectl", f"test: {to}", task_id) as change:
        taskops.set_state(ws, change, tasks.load(ws).resolve(task_id), to)


def building(org: Org, title: str = "Busy") -> str:
    """A task whose builder (builder-claude, on anthropic-main) holds a live lease."""
    tid = org.task(title)
    move(org, tid, "building")
    lease.acquire(org.repo, tid, actor="builder-claude", ttl=600).renew(progress=time.time())
    return tid


def diagnosis(org: Org, tid: str) -> watchdog.Diagnosis:
    ws = org.ws
    found = watchdog.diagnose(ws, tasks.load(ws), probes=watchdog.probes(ws))
    return {d.task: d for d in found}[tid]


# ---------------------------------------------------------------------------
# The watchdog's probes


def test_without_a_store_there_is_no_probe_and_a_builder_is_running(org: Org) -> None:
    tid = building(org)
    assert watchdog.probes(org.ws) == []
    assert diagnosis(org, tid).kind == "running"
    assert budgetwatch.store_file(org.ws) == budgetstore.store_path(org.ws.private_dir)


def test_a_429_pause_makes_doctor_say_throttled_with_the_eta(
    org: Org, sim: Simulator, builders: Builders
) -> None:
    go = org.tmp / "go"
    builders.script("waiting-agent", worker(f"""
while not pathlib.Path({str(go)!r}).exists():
    time.sleep(0.05)
"""))  # fmt: skip
    builders.configure("waiting-agent", settings={"lease_s": 5})
    tid = org.task("Throttled builder")
    results: list[object] = []
    thread = threading.Thread(target=lambda: results.append(builders.dispatch()))
    thread.start()
    try:
        deadline = time.time() + 30
        while not [e for e in org.events("agent.started") if e["task"] == tid]:
            assert time.time() < deadline
            time.sleep(0.05)
        err = hit(org, sim, "THROTTLE please", task=tid)
        assert err.error_class == "rate_limited"
        assert sim.stats()["rate_limited"] == 1
        found = diagnosis(org, tid)
        assert found.kind == "throttled"
        assert found.budget == BUDGET
        assert re.search(rf"paused until {CLOCK} \(retry-after 50 s after a 429", found.summary)
        assert "1 agent shares it" in found.summary
        assert "1 agent shares it: builder-claude" in found.evidence
        assert found.until is not None
        assert 40 < found.until - time.time() <= 50
        doctor = org.cli("doctor")
        assert doctor.code == 0, doctor.out  # throttled is information, not a warning
        line = next(ln for ln in doctor.out.splitlines() if tid in ln)
        assert "throttled, not stuck: budget anthropic-main paused until" in line
        assert "retry-after 50 s" in line
        assert "stuck:" not in line.replace("not stuck:", "")
        assert "crashed" not in doctor.out
        assert "fix: nothing to do: the pacer resumes by itself" in doctor.out
        data = json.loads(org.cli("doctor", "--json").out)
        [item] = [i for i in data["checks"]["work"] if tid in i["message"]]
        assert item["code"] == "work-throttled"
    finally:
        go.touch()
        thread.join(60)
    [result] = results[0].results  # type: ignore[attr-defined]
    assert result.outcome == "review"  # it was never taken from its builder


@pytest.fixture
def builders(org: Org, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Builders:
    return Builders(org, tmp_path, monkeypatch)


def test_recent_529s_are_overloaded_and_not_stuck(org: Org, sim: Simulator) -> None:
    tid = building(org)
    assert hit(org, sim, "OVERLOAD now").error_class == "overloaded"
    found = diagnosis(org, tid)
    assert found.kind == "overloaded"
    assert "overloaded: 1 × 529/503" in found.summary
    doctor = org.cli("doctor")
    assert f"{tid} overloaded, not stuck: the provider behind budget anthropic-main" in doctor.out
    assert doctor.code == 0


def test_quota_halts_the_budget_and_doctor_asks_for_a_human(org: Org, sim: Simulator) -> None:
    tid = building(org)
    assert hit(org, sim, "BROKE again").error_class == "quota_exhausted"
    found = diagnosis(org, tid)
    assert found.kind == "quota"
    assert "is stopped: the key's quota or spend limit is exhausted — a human is needed" in (
        found.summary
    )
    assert found.next is not None
    assert "add credit or raise the spend limit" in found.next
    assert "$ANTHROPIC_API_KEY" in found.next  # the variable's name, never its value
    doctor = org.cli("doctor")
    assert doctor.code == 1  # a warning: someone has to act
    assert f"{tid} quota: budget anthropic-main is stopped" in doctor.out
    assert "fix: a human: add credit" in doctor.out


def test_a_probe_answers_only_for_builders_on_that_budget(org: Org, sim: Simulator) -> None:
    tid = building(org)
    other = org.task("Other budget")
    move(org, other, "building")
    lease.acquire(org.repo, other, actor="reviewer-gpt", ttl=600)  # draws from openai-main
    hit(org, sim, "THROTTLE again")
    assert diagnosis(org, tid).kind == "throttled"
    assert diagnosis(org, other).kind == "running"


def test_the_pulse_reads_the_pause_the_window_and_the_signals(org: Org, sim: Simulator) -> None:
    hit(org, sim, "THROTTLE")
    [pulse] = budgetwatch.pulses(org.ws, [BUDGET, "openai-main"]).values()
    assert pulse.paused
    assert pulse.retry_after == pytest.approx(50, abs=1)
    assert pulse.count("rate_limited") == 1
    assert pulse.concurrency == 2  # the 429 halved the window of 4
    assert pulse.sent_last_minute == 1
    data = pulse.to_json()
    assert data["paused_for_s"] > 40
    assert data["recent"]["rate_limited"]["count"] == 1


# ---------------------------------------------------------------------------
# Budget-aware dispatch


def test_dispatch_starts_nothing_on_a_paused_budget(org: Org, sim: Simulator,
                                                    builders: Builders) -> None:  # fmt: skip
    builders.script("fake-agent", worker(""))
    builders.configure("fake-agent")
    tid = org.task("Wait for the budget")
    hit(org, sim, "THROTTLE")
    result = org.cli("dispatch", "--once")
    assert result.code == 0, result.out
    assert re.search(rf"waiting for budget anthropic-main: paused \d+ s \(429, retry-after\) "
                     rf"until {CLOCK}", result.out), result.out  # fmt: skip
    assert "Nothing dispatched" in result.out
    assert builders.state(tid) == "ready"
    assert lease.read(org.repo, tid) is None  # not even claimed
    [event] = org.events("dispatch.waiting")
    assert event["result"] == "blocked"
    assert event["data"]["kind"] == "paused"
    assert event["data"]["tasks"] == [tid]
    plan = json.loads(org.cli("--json", "dispatch", "--dry-run", ok=True).out)
    assert plan["planned"] == []
    assert plan["waiting"][0]["kind"] == "paused"


def test_dispatch_refuses_a_halted_budget_and_says_why(org: Org, sim: Simulator,
                                                       builders: Builders) -> None:  # fmt: skip
    builders.script("fake-agent", worker(""))
    builders.configure("fake-agent")
    tid = org.task("No credit")
    hit(org, sim, "BROKE")
    result = org.cli("dispatch")  # not --once: a halt is not waited out
    assert result.code == 1
    assert "waiting for budget anthropic-main: stopped until" in result.out
    assert "quota or spend limit is exhausted — a human is needed" in result.out
    assert builders.state(tid) == "ready"
    assert org.events("dispatch.waiting")[0]["data"]["kind"] == "halted"


def test_dispatch_never_runs_more_builders_than_max_concurrency(
    org: Org, builders: Builders
) -> None:
    log = builders.out / "spans.jsonl"
    builders.script("slow-agent", worker(f"""
start = time.time()
time.sleep(0.5)
with open({str(log)!r}, "a") as f:
    f.write(json.dumps([start, time.time()]) + "\\n")
"""))  # fmt: skip
    builders.configure("slow-agent")
    config = org.repo / ".lanes" / "config.yaml"
    config.write_text(config.read_text().replace("max_concurrency: 4", "max_concurrency: 2"))
    org.commit_policy("two builders on anthropic-main")
    ids = [org.task(f"Task {n}") for n in range(3)]
    report = builders.dispatch(max=3, once=False)  # keeps going until every task is built
    assert sorted(r.task for r in report.results) == sorted(ids)
    spans = [json.loads(line) for line in log.read_text().splitlines()]
    for start, _ in spans:  # never three at once
        assert sum(1 for s, e in spans if s <= start < e) <= 2
    [waiting] = report.waiting
    assert waiting["kind"] == "full"
    assert waiting["message"] == (
        "waiting for budget anthropic-main: 2 builder(s) run on it (max_concurrency 2)"
    )
    assert len(org.events("dispatch.waiting")) == 1  # said once, not every round


def test_dispatch_follows_the_pacers_adaptive_concurrency(org: Org, builders: Builders) -> None:
    builders.script("slow-agent", worker("time.sleep(0.3)\n"))
    builders.configure("slow-agent")
    ids = [org.task(f"Task {n}") for n in range(2)]
    store = BudgetStore(budgetstore.store_path(org.ws.private_dir))
    # The pacer's own API, as a 429 leaves it: the window halves, then halves again.
    spec = BudgetSpec(BUDGET, {"requests": 600.0}, max_concurrency=4)
    for _ in range(2):
        ticket = store.admit(spec, {"requests": 1.0})
        assert store.launch(ticket).go
        store.settle(ticket, budgetstore.Settlement("void", congestion=True))
    store.close()
    [pulse] = budgetwatch.pulses(org.ws, [BUDGET]).values()
    assert pulse.concurrency == 1
    assert not pulse.paused
    report = builders.dispatch(max=2)
    assert [r.task for r in report.results] == [ids[0]]
    assert builders.state(ids[1]) == "ready"
    assert "the pacer's window is 1 now" in report.waiting[0]["message"]
