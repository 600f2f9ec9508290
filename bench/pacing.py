"""Pacing benchmark (SPEC §13): many agents, one Anthropic budget, three ways to share it.

Starts the vendor simulator with a known budget (600 RPM, 60k input TPM, 12k
output TPM, buckets holding one minute, at most 10 requests admitted per
simulated second) and runs W calls from N concurrent agents with a fixed size
mix, in three modes, each against a fresh simulator (full buckets):

* naive — every agent at once, the SDK's default retries (``max_retries=2``);
* semaphore — the same agents behind a fixed concurrency of 4, SDK retries;
* lanectl — every call through one shared :class:`lanectl.pacer.Pacer`.

Scenarios: plain; an outside consumer draining 30% of the key; a 529 storm
(half of all requests overloaded for a simulated minute). Efficiency is the
best possible makespan ÷ the achieved one, the best being the largest, over
requests, input and output tokens, of (total demand − the bucket's initial
burst credit) ÷ its per-second rate (after the outside consumer's share). A
mode that abandons calls is measured against the best makespan of the calls it
completed, and marked ✗: it failed, however fast. Requests sent, 429s and
529s are counted at the simulator, SDK-hidden retries included. Queue wait is
a call's time minus the service time of the attempt that answered it. Times
are simulated seconds; the simulator runs ``--scale`` times faster than the
wall clock, and the clients' wall-clock constants — the SDK's backoff (0.5–8
s), the pacer's poll interval — are divided by the same factor, so no mode is
penalised for waiting in wall-clock time.

    .venv/bin/python bench/pacing.py [--quick] [--scale 30] [--agents 20] [--calls 400]

Targets: lanectl at ≥ 0.90 efficiency with ≤ 1% of its requests answered 429
and no call abandoned, in every scenario; under 3 minutes (``--quick``: under
60 s). The last line is machine-readable (the worst scenario)::

    bench-pacing efficiency=… rate429=… naive_efficiency=… naive_rate429=… abandoned=… …
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lanectl.sim import SimConfig, Simulator
from lanectl.sim.script import estimate_tokens

KEY = "sim-bench-anthropic"
KEY_ENV = "LANECTL_BENCH_SIM_KEY"
MODEL = "claude-sonnet-4-6"
LIMITS = {"requests": 600, "input_tokens": 60_000, "output_tokens": 12_000}
ACCELERATION = {"requests": 10, "window_s": 1}
LATENCY = {"base_ms": 800, "per_token_ms": 8}  # no jitter: service time is known exactly
# (name, input tokens, output tokens, max_tokens), mixed 5 small : 3 medium : 2 large
SIZES = {"s": (200, 50, 120), "m": (600, 150, 300), "l": (1500, 400, 800)}
MIX = "smslmsmsls"
SEMAPHORE = 4
SCENARIOS: dict[str, dict[str, Any]] = {
    "plain": {},
    "outside 30%": {"outside_fraction": 0.3},
    "529 storm": {"storm": {"probability": 0.5, "from_s": 20, "until_s": 80}},
}
MODES = ("naive", "semaphore", "lanectl")


@dataclass(frozen=True)
class Call:
    agent: int
    size: str
    text: str

    @property
    def output(self) -> int:
        return SIZES[self.size][1]

    @property
    def max_tokens(self) -> int:
        return SIZES[self.size][2]


@dataclass(frozen=True)
class Done:
    call: Call
    ok: bool
    start: float
    end: float


@dataclass(frozen=True)
class Row:
    scenario: str
    mode: str
    makespan_s: float
    best_s: float
    completed: int
    abandoned: int
    requests: int
    n429: int
    n529: int
    p95_wait_s: float
    max_wait_s: float

    @property
    def efficiency(self) -> float:
        return self.best_s / self.makespan_s if self.makespan_s > 0 else 0.0

    @property
    def rate429(self) -> float:
        return self.n429 / self.requests if self.requests else 0.0


def workload(agents: int, calls: int) -> list[list[Call]]:
    """``calls`` calls dealt round-robin to ``agents``; text of exactly 4 chars a token."""
    work: list[list[Call]] = [[] for _ in range(agents)]
    for i in range(calls):
        size = MIX[i % len(MIX)]
        marker = f"[size:{size}] call {i} "
        text = marker + "x" * (4 * SIZES[size][0] - len(marker))
        work[i % agents].append(Call(i % agents, size, text))
    return work


def sim_config(scenario: str, scale: float) -> SimConfig:
    extra = SCENARIOS[scenario]
    key = {
        "vendor": "anthropic", "rpm": LIMITS["requests"], "input_tpm": LIMITS["input_tokens"],
        "output_tpm": LIMITS["output_tokens"], "acceleration": ACCELERATION,
        "outside_fraction": extra.get("outside_fraction", 0.0),
    }  # fmt: skip
    script = [
        {"match": {"contains": f"[size:{name}]"},
         "turns": [{"text": f"done ({name})", "usage": {"output_tokens": out}}]}
        for name, (_, out, _) in SIZES.items()
    ]  # fmt: skip
    faults = {"overloaded": extra["storm"]} if "storm" in extra else {}
    return SimConfig.from_dict(
        {"time_scale": scale, "seed": 7, "keys": {KEY: key}, "latency": LATENCY,
         "faults": faults, "script": script}
    )  # fmt: skip


def best_makespan(calls: list[Call], outside: float) -> float:
    """max over dimensions of (demand − initial burst credit) ÷ rate, in simulated seconds."""
    demand = {
        "requests": len(calls),
        "input_tokens": sum(max(1, estimate_tokens(c.text)) for c in calls),
        "output_tokens": sum(c.output for c in calls),
    }
    return max(
        0.0,
        *((demand[d] - LIMITS[d]) / (LIMITS[d] / 60.0 * (1 - outside)) for d in LIMITS),
    )


def service_s(output: int, scale: float) -> float:
    return (LATENCY["base_ms"] + LATENCY["per_token_ms"] * output) / 1000 / scale


def run_agents(work: list[list[Call]], one: Callable[[Call], bool], scale: float) -> list[Done]:
    """Every agent in its own thread, its calls one after another."""
    done: list[Done] = []
    lock = threading.Lock()
    go = threading.Barrier(len(work))

    def agent(calls: list[Call]) -> None:
        go.wait()
        for call in calls:
            start = time.monotonic()
            ok = one(call)
            with lock:
                done.append(Done(call, ok, start, time.monotonic()))

    threads = [threading.Thread(target=agent, args=(calls,)) for calls in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done


def sdk_mode(sim: Simulator, work: list[list[Call]], scale: float, limit: int | None) -> list[Done]:
    import anthropic
    import anthropic._base_client as base

    base.INITIAL_RETRY_DELAY, base.MAX_RETRY_DELAY = 0.5 / scale, 8.0 / scale
    gate = threading.BoundedSemaphore(limit) if limit else None
    clients = [
        anthropic.Anthropic(base_url=sim.anthropic_url, api_key=KEY, max_retries=2) for _ in work
    ]

    def one(call: Call) -> bool:
        def send() -> bool:
            try:
                clients[call.agent].messages.create(
                    model=MODEL, max_tokens=call.max_tokens,
                    messages=[{"role": "user", "content": call.text}],
                )  # fmt: skip
            except anthropic.APIError:
                return False
            return True

        if gate is None:
            return send()
        with gate:
            return send()

    try:
        return run_agents(work, one, scale)
    finally:
        for client in clients:
            client.close()


def lanectl_mode(sim: Simulator, work: list[list[Call]], scale: float) -> list[Done] | None:
    try:
        from lanectl.budgetstore import BudgetSpec, BudgetStore
        from lanectl.pacer import Pacer
        from lanectl.providers import Message, ProviderError, ProviderSpec, Request, build
    except ImportError as exc:
        print(f"lanectl mode: n/a ({exc})", file=sys.stderr)
        return None
    os.environ[KEY_ENV] = KEY
    with tempfile.TemporaryDirectory(prefix="bench-pacing-") as tmp:
        spec = BudgetSpec("bench", dict(LIMITS), time_scale=scale)
        # Its wall-clock poll interval is scaled like the SDK backoff above.
        pacer = Pacer(BudgetStore(Path(tmp) / "budgets.sqlite"), spec, poll_s=0.05 / scale)
        providers = [
            build(ProviderSpec("anthropic", budget="bench", base_url=sim.anthropic_url,
                               credential_env=KEY_ENV))
            for _ in work
        ]  # fmt: skip

        def one(call: Call) -> bool:
            request = Request(MODEL, (Message("user", call.text),), max_tokens=call.max_tokens)
            try:
                pacer.run(providers[call.agent], request, agent=f"agent-{call.agent}")
            except ProviderError:
                return False
            return True

        try:
            return run_agents(work, one, scale)
        finally:
            for provider in providers:
                close = getattr(provider, "close", None)
                if close is not None:
                    close()


def measure(scenario: str, mode: str, work: list[list[Call]], scale: float) -> Row | None:
    outside = SCENARIOS[scenario].get("outside_fraction", 0.0)
    with Simulator(sim_config(scenario, scale)) as sim:
        if mode == "lanectl":
            done = lanectl_mode(sim, work, scale)
        else:
            done = sdk_mode(sim, work, scale, SEMAPHORE if mode == "semaphore" else None)
        stats = sim.stats()
    if done is None:
        return None
    first = min(d.start for d in done)
    last = max(d.end for d in done)
    waits = sorted(
        max(0.0, d.end - d.start - service_s(d.call.output, scale)) * scale for d in done if d.ok
    )
    p95 = waits[max(0, int(len(waits) * 0.95) - 1)] if waits else 0.0
    return Row(
        scenario=scenario,
        mode=mode,
        makespan_s=(last - first) * scale,
        best_s=best_makespan([d.call for d in done if d.ok], outside),  # the work it did
        completed=sum(d.ok for d in done),
        abandoned=sum(not d.ok for d in done),
        requests=stats["requests"],
        n429=stats["rate_limited"],
        n529=stats["by_status"].get("529", 0) + stats.get("outcomes", {}).get("stream_error", 0),
        p95_wait_s=p95,
        max_wait_s=waits[-1] if waits else 0.0,
    )


def table(rows: list[Row]) -> str:
    head = (
        "| scenario | mode | makespan s | best s | efficiency | completed | abandoned "
        "| requests sent | 429 | 429 rate | 529 | queue wait p95 / max s |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        flag = " ✗" if r.abandoned else ""
        lines.append(
            f"| {r.scenario} | {r.mode} | {r.makespan_s:.0f} | {r.best_s:.0f} "
            f"| {r.efficiency:.2f}{flag} | {r.completed} | {r.abandoned} | {r.requests} "
            f"| {r.n429} | {r.rate429:.1%} | {r.n529} | {r.p95_wait_s:.0f} / {r.max_wait_s:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="A smaller run, under 60 s.")
    parser.add_argument("--scale", type=float, default=None, help="Simulated s per wall s.")
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--calls", type=int, default=None, help="W, calls in all.")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS))
    parser.add_argument("--mode", action="append", choices=MODES)
    args = parser.parse_args(argv)
    scale = args.scale or (40.0 if args.quick else 30.0)
    calls = args.calls or (240 if args.quick else 400)
    work = workload(args.agents, calls)
    began = time.monotonic()
    print(
        f"budget: {LIMITS['requests']} RPM, {LIMITS['input_tokens']:,} input TPM, "
        f"{LIMITS['output_tokens']:,} output TPM, buckets of one minute, at most "
        f"{ACCELERATION['requests']} requests per second; {calls} calls from {args.agents} "
        f"agents (mix {MIX}); time ×{scale:g}",
        flush=True,
    )
    rows: list[Row] = []
    for scenario in args.scenario or list(SCENARIOS):
        for mode in args.mode or MODES:
            row = measure(scenario, mode, work, scale)
            if row is None:
                continue
            rows.append(row)
            print(
                f"  {scenario:<12} {mode:<9} efficiency {row.efficiency:.2f}, "
                f"{row.requests} requests, {row.n429} × 429, {row.abandoned} abandoned",
                flush=True,
            )
    print()
    print(table(rows))
    print(f"\nwall time {time.monotonic() - began:.0f} s")

    def worst(mode: str) -> tuple[str, str, str]:
        mine = [r for r in rows if r.mode == mode]
        if not mine:
            return "n/a", "n/a", "n/a"
        return (
            f"{min(r.efficiency for r in mine):.3f}",
            f"{max(r.rate429 for r in mine):.4f}",
            str(sum(r.abandoned for r in mine)),
        )

    eff, r429, lost = worst("lanectl")
    n_eff, n_r429, n_lost = worst("naive")
    print(
        f"bench-pacing efficiency={eff} rate429={r429} naive_efficiency={n_eff} "
        f"naive_rate429={n_r429} abandoned={lost} naive_abandoned={n_lost}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
