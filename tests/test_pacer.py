"""The pacer: the budget model (pure), the shared store, and what lanectl does when a
vendor limits, refuses or drops a call (the real SDKs against the simulator)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import anthropic
import pytest

from lanectl.budgetmodel import (
    Bucket,
    Window,
    burst_bucket,
    estimate_input_tokens,
    sustainable,
)
from lanectl.budgetstore import BudgetSpec, BudgetStore, Halted
from lanectl.providers import ProviderError
from lanectl.sim import Simulator
from lanectl.sim.stats import label
from simkit import (
    ANTHROPIC_ENV,
    ANTHROPIC_KEY,
    OPENAI_KEY,
    Events,
    ask,
    close_clients,
    keys,
    opened,
    pacer,
    provider,
    sim_keys,
    simulator,
)

__all__ = ["close_clients", "sim_keys"]


@pytest.fixture(autouse=True)
def _keys(sim_keys: None) -> None:
    """Every test here talks to the simulator with its keys."""


def stats(sim: Simulator, key: str = ANTHROPIC_KEY) -> dict[str, int]:
    """What the simulator counted for ``key`` (hidden retries included)."""
    empty = {"requests": 0, "rate_limited": 0, "overloaded": 0}
    found: dict[str, int] = sim.stats()["by_key"].get(label(key), empty)
    return found


# ---------------------------------------------------------------------------
# The model (pure)


def test_reservations_queue_in_order_and_refunds_move_the_queue() -> None:
    b = Bucket(capacity=10, rate=1.0, level=10, stamp=0.0)
    b, first = b.reserve(10, 0.0)  # the whole burst: goes at once
    b, second = b.reserve(5, 0.0)
    b, third = b.reserve(3, 0.0)
    assert b.ready_at(first, 10, 0.0) == 0.0
    assert b.ready_at(second, 5, 0.0) == pytest.approx(5.0)
    assert b.ready_at(third, 3, 0.0) == pytest.approx(8.0)
    b = b.give_back(2, 1.0)  # the first used 8, not 10
    assert b.ready_at(second, 5, 1.0) == pytest.approx(3.0)
    assert b.ready_at(third, 3, 1.0) == pytest.approx(6.0)


def test_a_full_bucket_never_overflows_and_a_refund_cannot_exceed_it() -> None:
    b = Bucket(capacity=10, rate=1.0, level=10, stamp=0.0)
    assert b.at(100.0).level == 10
    assert b.give_back(5, 0.0).level == 10


def test_headers_only_lower_the_level_and_teach_a_margin() -> None:
    b = Bucket(capacity=10_000, rate=10.0, level=900, stamp=0.0)
    higher = b.observe(remaining=950, target=950, observed_at=0.0, now=0.0, ours=0.0)
    assert higher.level == 900  # a snapshot may predate our refunds: never raise
    lower = b.observe(remaining=600, target=600, observed_at=0.0, now=0.0, ours=0.0)
    assert lower.level == pytest.approx(600 + lower.tolerance)
    assert lower.margin >= 1.5 * 300
    later = lower.at(30.0)  # the cushion decays
    assert later.margin < lower.margin / 2


def test_a_consumer_we_cannot_see_is_measured_between_snapshots() -> None:
    b = Bucket(capacity=6000, rate=100.0, level=2000, stamp=0.0, largest=100)
    b = b.observe(remaining=2000, target=2000, observed_at=0.0, now=0.0, ours=0.0)
    # we took 1000 in 30 s; the server's level fell 1000 *despite* 3000 refill
    b = b.observe(remaining=1000, target=1000, observed_at=30.0, now=30.0, ours=1000.0)
    # the server used 1000 + 3000 refill = 4000, we 1000: someone else takes 100/s,
    # and a measurement moves the estimate half way
    assert b.drain == pytest.approx(0.5 * 100, rel=0.01)
    assert b.net_rate < b.rate
    assert b.at(330.0).drain < b.drain / 2  # not measured again: it fades


def test_window_slow_starts_and_halves_once_per_round() -> None:
    w = Window(cwnd=4, ceiling=8)
    assert w.allows(3)
    assert not w.allows(4)
    assert w.on_success(in_flight=1).cwnd == 4  # not using the window: no growth
    w = w.on_success(in_flight=4)
    assert w.cwnd == 5
    for _ in range(20):
        w = w.on_success(in_flight=int(w.cwnd))
    assert w.cwnd == 8  # the configured max_concurrency
    cut = w.on_congestion(sent_at=10.0, now=11.0)
    assert cut.cwnd == 4
    assert cut.ssthresh == 4
    assert cut.on_congestion(sent_at=10.5, now=11.2) == cut  # sent before the cut: same round
    assert cut.on_congestion(sent_at=11.1, now=12.0).cwnd == 2
    stormy = w.on_congestion(sent_at=10.0, now=11.0, overloaded=True)
    assert (stormy.cwnd, stormy.ssthresh) == (4, 8)  # a 529: slow-start back to where it was
    assert stormy.on_success(in_flight=4).cwnd == 5


def test_a_529_never_cuts_the_window_below_what_the_budget_keeps_busy() -> None:
    w = Window(cwnd=16)
    assert w.on_congestion(1.0, 2.0, overloaded=True, floor=3).cwnd == 8  # halved
    assert w.on_congestion(1.0, 2.0, overloaded=True, floor=12).cwnd == 12  # the floor
    assert w.on_congestion(1.0, 2.0, overloaded=True, floor=40).cwnd == 16  # not at all
    assert w.on_congestion(1.0, 2.0, floor=40).cwnd == 8  # a 429 always halves
    # 600 tokens a second, 1 s round trips, 100 tokens a request, 300 in hand: 15 busy
    busy = {"t": Bucket(capacity=6000, rate=600.0, level=300, stamp=0.0, mean_cost=100)}
    assert sustainable(busy, 1.0, 0.0) == 15
    assert sustainable(busy, 0.0, 0.0) == float("inf")  # no latency known yet: no cut


def test_an_acceleration_limit_is_learnt_as_requests_per_second() -> None:
    b = burst_bucket(sent_in_window=11, now=0.0, scale=1.0)  # a 429 at our 11th in a second
    assert b.capacity + b.rate * 1.0 <= 10  # never more than 10 in any second from now
    b, first = b.reserve(1, 0.0)
    assert b.ready_at(first, 1, 0.0) > 0.0  # it starts empty: we just hit the limit


def test_input_estimate_is_not_below_the_vendors_count() -> None:
    request = ask("word " * 1000, system="You are careful.")
    assert estimate_input_tokens(request) >= (5000 + 16) / 4


# ---------------------------------------------------------------------------
# The shared store


def test_two_stores_on_one_file_share_one_budget(tmp_path: Path) -> None:
    spec = BudgetSpec("b", {"requests": 10}, time_scale=1.0)
    one, two = BudgetStore(tmp_path / "s.sqlite"), BudgetStore(tmp_path / "s.sqlite")
    tickets = [one.admit(spec, {"requests": 1}) for _ in range(6)]
    tickets += [two.admit(spec, {"requests": 1}) for _ in range(6)]
    ready = [t for t in tickets if (one if t in tickets[:6] else two).peek(t).go]
    assert len(ready) == 10  # the other process's reservations count
    assert two.peek(tickets[-1]).reason == "budget"


def test_a_request_bigger_than_the_budget_is_refused_before_sending(tmp_path: Path) -> None:
    events = Events()
    with simulator() as sim:
        p = pacer(tmp_path, events=events, input_tokens=1000)
        with pytest.raises(ProviderError) as info:
            p.run(provider(sim), ask("x" * 8000), agent="a1")
        assert stats(sim)["requests"] == 0
    assert info.value.error_class == "too_large"
    assert "raise the limit of budget b" in str(info.value)
    assert events.classes() == ["too_large"]


def test_a_vendor_limit_we_did_not_know_is_too_large_and_not_retried(tmp_path: Path) -> None:
    events = Events()
    with simulator(keys=keys(input_tpm=1000)) as sim:
        with pytest.raises(ProviderError) as info:
            pacer(tmp_path, events=events).run(provider(sim), ask("x" * 8000), agent="a1")
        assert stats(sim)["requests"] == 1
    assert info.value.error_class == "too_large"
    assert events[0].data["action"] == "stop"


# ---------------------------------------------------------------------------
# What lanectl does, against the simulator

SCRIPT = [
    {"match": {"agent": "limited"}, "turns": [{"fault": "rate_limited", "text": "ok"}]},
    {"match": {"agent": "broke"}, "turns": [{"fault": "quota", "fault_times": "always"}]},
    {"match": {"agent": "busy"}, "turns": [{"fault": "overloaded", "fault_times": 2, "text": "ok"}]},
    {"match": {"agent": "cut"}, "turns": [{"text": "one two three four five six seven eight nine",
                                          "fault": "stream_error"}]},
    {"match": {"agent": "oops"}, "turns": [{"fault": "server_error", "text": "ok"}]},
]  # fmt: skip


def test_a_429_pauses_the_whole_budget_not_only_the_caller(tmp_path: Path) -> None:
    events = Events()
    other: dict[str, float] = {}
    with simulator(script=SCRIPT, time_scale=2.0) as sim:
        p = pacer(tmp_path, events=events, scale=2.0)
        prov = provider(sim)

        def bystander() -> None:
            other["start"] = time.time()
            other["waited"] = p.run(prov, ask(), agent="bystander").waited_s

        def sink(event: object) -> None:
            events(event)  # type: ignore[arg-type]
            if getattr(event, "kind", "") == "budget.throttled":
                other["until"] = event.data["until"]  # type: ignore[attr-defined]
                threading.Thread(target=bystander).start()

        p.sink = sink
        turn = p.run(prov, ask(), agent="limited")
        while "waited" not in other:
            time.sleep(0.01)
        s = stats(sim)
    assert turn.attempts == 2
    assert s["rate_limited"] == 1
    assert s["requests"] == 3
    pause = other["until"] - other["start"]
    assert pause > 0.2  # retry-after-ms: 1 simulated second at time scale 2
    assert other["waited"] >= pause - 0.05  # the bystander waited out the pause too
    throttled = [e for e in events if e.kind == "budget.throttled"]
    assert throttled[0].data["cause"] == "rate_limited"
    assert throttled[0].data["pause_s"] > 0
    assert events.classes() == ["rate_limited"]


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_quota_stops_the_budget_and_tells_the_human(tmp_path: Path, kind: str) -> None:
    events = Events()
    key = ANTHROPIC_KEY if kind == "anthropic" else OPENAI_KEY
    with simulator(script=SCRIPT) as sim:
        p = pacer(tmp_path, events=events)
        prov = provider(sim, kind)
        with pytest.raises(ProviderError) as info:
            p.run(prov, ask(model="claude-sonnet-4-6" if kind == "anthropic" else "gpt-5"),
                  agent="broke")  # fmt: skip
        assert stats(sim, key)["requests"] == 1  # never retried
        with pytest.raises(Halted, match="quota or spend limit is exhausted"):
            p.run(prov, ask(), agent="someone-else")
        assert stats(sim, key)["requests"] == 1  # the next call never left
    assert info.value.error_class == "quota_exhausted"
    assert "add credit or raise the spend limit" in str(info.value)
    assert events[0].data["action"] == "stop"


def test_a_rejected_key_stops_without_retrying(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ANTHROPIC_ENV, "sk-ant-revoked-UmV2b2tlZEtleUZvclRlc3Rz")
    events = Events()
    with simulator() as sim:
        with pytest.raises(ProviderError) as info:
            pacer(tmp_path, events=events).run(provider(sim), ask(), agent="a1")
        assert sim.stats()["requests"] == 1
    assert info.value.error_class == "auth"
    assert f"${ANTHROPIC_ENV}" in str(info.value)
    assert "revoked" not in str(info.value)


@pytest.mark.parametrize(
    ("agent", "stream", "cls", "attempts"),
    [("busy", False, "overloaded", 3), ("cut", True, "overloaded", 2),
     ("oops", False, "server_error", 2)],
)  # fmt: skip
def test_transient_failures_are_retried_with_backoff(
    tmp_path: Path, agent: str, stream: bool, cls: str, attempts: int
) -> None:
    events = Events()
    with simulator(script=SCRIPT) as sim:
        p = pacer(tmp_path, events=events)
        turn = p.run(provider(sim), ask(stream=stream), agent=agent)
    assert turn.attempts == attempts
    assert turn.text
    assert events.classes() == [cls] * (attempts - 1)
    assert all(e.data["action"] == "retry" for e in events)


def test_headers_correct_the_estimate_when_someone_else_drains_the_key(tmp_path: Path) -> None:
    with simulator(time_scale=1.0) as sim:
        outsider = opened(
            anthropic.Anthropic(base_url=sim.anthropic_url, api_key=ANTHROPIC_KEY, max_retries=0)
        )
        for _ in range(6):  # 6 × 5000 input tokens the pacer never saw
            outsider.messages.create(
                model="claude-sonnet-4-6", max_tokens=10,
                messages=[{"role": "user", "content": "x" * 20_000}],
            )  # fmt: skip
        p = pacer(tmp_path, scale=1.0, input_tokens=60_000, output_tokens=12_000, requests=600)
        p.run(provider(sim), ask(), agent="a1")
        level = p.store.snapshot("b")["buckets"]["input_tokens"]["level"]
    assert level < 60_000 - 29_000  # without the headers it would believe ~59,990


def test_after_an_outside_drain_the_pacer_waits_instead_of_hitting_429(tmp_path: Path) -> None:
    with simulator(time_scale=10.0) as sim:
        outsider = opened(
            anthropic.Anthropic(base_url=sim.anthropic_url, api_key=ANTHROPIC_KEY, max_retries=0)
        )
        for _ in range(11):  # leaves ~5,000 of 60,000 input tokens
            outsider.messages.create(
                model="claude-sonnet-4-6", max_tokens=10,
                messages=[{"role": "user", "content": "x" * 20_000}],
            )  # fmt: skip
        p = pacer(tmp_path, scale=10.0, input_tokens=60_000, output_tokens=12_000, requests=600)
        prov = provider(sim)
        p.run(prov, ask(), agent="a1")  # learns the drain from its headers
        big = p.run(prov, ask("y" * 40_000), agent="a1")  # needs 10,000
        assert stats(sim)["rate_limited"] == 0
    assert big.waited_s > 0.1


def _many(p_run: object, n_threads: int, per_thread: int, prov: object) -> list[object]:
    out: list[object] = []

    def work(i: int) -> None:
        for j in range(per_thread):
            out.append(p_run(prov, ask(f"job {i}-{j} " + "z" * 2000, max_tokens=300),  # type: ignore[operator]
                             agent=f"agent-{i}"))  # fmt: skip

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_many_agents_on_one_budget_finish_without_a_retry_storm(tmp_path: Path) -> None:
    with simulator(keys=keys(input_tpm=12_000, output_tpm=6_000), time_scale=50.0,
                   latency={"base_ms": 300, "per_token_ms": 2}) as sim:  # fmt: skip
        p = pacer(tmp_path, scale=50.0, input_tokens=12_000, output_tokens=6_000, requests=600)
        turns = _many(p.run, 8, 10, provider(sim))
        s = stats(sim)
    assert len(turns) == 80
    assert s["rate_limited"] <= 1  # ≤ 1 % of 80


WORKER = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from lanectl.budgetstore import BudgetSpec, BudgetStore
    from lanectl.pacer import Pacer
    from lanectl.providers import Message, ProviderSpec, Request, build

    url, store, agent, n, scale, gate = sys.argv[1:7]
    spec = BudgetSpec("shared", {"input_tokens": 3000, "requests": 600, "output_tokens": 12000},
                      time_scale=float(scale))
    pacer = Pacer(BudgetStore(Path(store)), spec)
    provider = build(ProviderSpec("anthropic", budget="shared", base_url=url,
                                  credential_env="SIM_ANTHROPIC_KEY"))
    Path(gate, agent).touch()
    deadline = time.monotonic() + 30
    while len(list(Path(gate).iterdir())) < 2:  # start together
        if time.monotonic() > deadline:
            sys.exit("the other worker never started")
        time.sleep(0.005)

    def work(t):
        for i in range(int(n)):
            text = f"{agent} {t} {i} " + "q" * 2000
            pacer.run(provider, Request("claude-sonnet-4-6", (Message("user", text),),
                                        max_tokens=20), agent=agent)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    provider.close()
    print("done")
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("shared", [True, False])
def test_two_processes_sharing_one_budget_never_exceed_it(tmp_path: Path, shared: bool) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    gate = tmp_path / "gate"
    gate.mkdir()
    scale = 100.0
    env = {**os.environ, ANTHROPIC_ENV: ANTHROPIC_KEY}
    with simulator(keys=keys(input_tpm=3000), time_scale=scale,
                   latency={"base_ms": 400}) as sim:  # fmt: skip
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    str(script),
                    sim.anthropic_url,
                    str(tmp_path / ("store.sqlite" if shared else f"private-{i}.sqlite")),
                    f"proc{i}",
                    "2",
                    str(scale),
                    str(gate),
                ],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        outputs = [p.communicate(timeout=60) for p in procs]
        s = stats(sim)
        simulated = sim.now()
    assert all(out.strip() == "done" for out, _ in outputs), outputs
    if not shared:  # the control: two private budgets overrun the key before headers tell
        assert s["rate_limited"] > 0
        return
    assert s["requests"] == 16
    assert s["rate_limited"] == 0
    demand = 16 * (2000 + 12) / 4  # input tokens of 16 requests, as the simulator counts
    assert simulated >= (demand - 3000) / (3000 / 60)  # the budget, not luck, set the pace
