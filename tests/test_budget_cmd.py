"""`lanectl budget`, the response cache, routing and the ledger, through the gateway
with the real SDKs against the simulator."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Cli
from lanectl import config
from lanectl.budgetstore import Halted
from lanectl.gateway import Gateway
from lanectl.providers import ProviderError
from lanectl.sim import Simulator
from lanectl.workspace import open_workspace
from simkit import (
    ANTHROPIC_ENV,
    ANTHROPIC_KEY,
    HAIKU,
    OPENAI_ENV,
    OPENAI_KEY,
    ask,
    close_clients,
    opened,
    scan_for,
    simulator,
    write_config,
)

__all__ = ["close_clients"]

SCRIPT = [
    {"match": {"agent": "builder-claude", "task": "T-FLAKYAAAA"},
     "turns": [{"fault": "rate_limited", "text": "patched"}]},
    {"match": {"agent": "builder-claude", "task": "T-STORMYAAA"},
     "turns": [{"fault": "overloaded", "text": "survived"}]},
    {"match": {"agent": "reviewer-gpt", "task": "T-BROKEAAAA"},
     "turns": [{"fault": "quota", "fault_times": "always"}]},
]  # fmt: skip


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Simulator]:
    monkeypatch.setenv(ANTHROPIC_ENV, ANTHROPIC_KEY)
    monkeypatch.setenv(OPENAI_ENV, OPENAI_KEY)
    with simulator(script=SCRIPT) as running:
        yield running


@pytest.fixture
def gw(cli: Cli, sim: Simulator) -> Gateway:
    write_config(cli.cwd, sim)
    gateway: Gateway = opened(Gateway.open(open_workspace(cli.cwd)))  # events go to the ledger
    gateway.pacer_options = {"backoff_s": 0.2}
    return gateway


def report(cli: Cli) -> dict[str, dict[str, object]]:
    out = json.loads(cli("budget", "--json", ok=True).out)
    return {b["budget"]: b for b in out["budgets"]} | {"_": out}


def test_a_cache_hit_sends_no_request(cli: Cli, sim: Simulator, gw: Gateway) -> None:
    first = gw.complete(ask("Summarise the diff"), agent="builder-claude", task="T-AAAAAAAA")
    assert sim.stats()["requests"] == 1
    again = gw.complete(ask("Summarise the diff"), agent="builder-claude", task="T-AAAAAAAA")
    assert sim.stats()["requests"] == 1  # answered locally
    assert again.cached
    assert not first.cached
    assert again.text == first.text
    fresh = gw.complete(
        ask("Summarise the diff"), agent="builder-claude", task="T-AAAAAAAA", use_cache=False
    )
    assert not fresh.cached
    assert sim.stats()["requests"] == 2
    assert gw.evict(ask("Summarise the diff"), agent="builder-claude")
    gw.complete(ask("Summarise the diff"), agent="builder-claude")
    assert sim.stats()["requests"] == 3  # evicted: asked again
    budget = report(cli)["anthropic-main"]["total"]
    assert budget["calls"] == 4  # type: ignore[index]
    assert budget["requests"] == 3  # type: ignore[index]
    assert budget["cache_hits"] == 1  # type: ignore[index]
    cache = report(cli)["_"]["response_cache"]
    assert cache == {"hits": 1, "misses": 2, "entries": 1}


def test_the_cache_key_is_the_whole_request(gw: Gateway, sim: Simulator) -> None:
    gw.complete(ask("same"), agent="builder-claude")
    gw.complete(ask("same", system="Be brief."), agent="builder-claude")
    gw.complete(ask("same", max_tokens=99), agent="builder-claude")
    gw.complete(ask("same", params={"temperature": 0.2}), agent="builder-claude")
    gw.complete(ask("same"), agent="builder-claude", route="summarize")  # another model
    gw.complete(ask("same", stream=True), agent="builder-claude")  # streaming: same answer
    assert sim.stats()["requests"] == 5


def test_routes_send_light_work_to_the_cheaper_model(cli: Cli, gw: Gateway) -> None:
    turn = gw.complete(ask("triage this"), agent="builder-claude", route="summarize")
    assert f"(simulated {HAIKU})" in turn.text
    models = {m["model"]: m for m in report(cli)["anthropic-main"]["by_model"]}  # type: ignore[index]
    assert set(models) == {HAIKU}
    usage = models[HAIKU]
    expected = (usage["input"] * 1.0 + usage["output"] * 5.0) / 1e6
    assert usage["cost_usd"] == pytest.approx(expected)


def test_budget_text_names_budgets_agents_tasks_and_unpriced_models(cli: Cli, gw: Gateway) -> None:
    gw.complete(ask(), agent="builder-claude", task="T-AAAAAAAA")
    gw.complete(ask(model=""), agent="reviewer-gpt", task="T-BBBBBBBB")
    out = cli("budget", ok=True).out
    for text in ("anthropic-main", "openai-main", "builder-claude", "T-BBBBBBBB", "now: window"):
        assert text in out
    assert "no price for: gpt-5" in out


def test_budget_before_any_call(cli: Cli) -> None:
    assert cli("budget", ok=True).out == "No model calls recorded yet.\n"


def test_failures_are_ledger_events_and_no_secret_leaks(
    cli: Cli,
    gw: Gateway,
    sim: Simulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert gw.complete(ask("fix it"), agent="builder-claude", task="T-FLAKYAAAA").text == "patched"
    assert (
        gw.complete(ask("and this"), agent="builder-claude", task="T-STORMYAAA").text == "survived"
    )
    with pytest.raises(ProviderError) as info:
        gw.complete(ask(model=""), agent="reviewer-gpt", task="T-BROKEAAAA")
    assert "add credit or raise the spend limit" in str(info.value)
    with pytest.raises(Halted, match="openai-main is stopped"):  # nothing more is sent
        gw.complete(ask("next", model=""), agent="reviewer-gpt", task="T-BBBBBBBB")
    monkeypatch.setenv(ANTHROPIC_ENV, "sk-ant-simtest-V3JvbmdLZXlXcm9uZ0tleVdyb25n")
    wrong = opened(Gateway.open(open_workspace(cli.cwd)))
    with pytest.raises(ProviderError, match="credential rejected"):
        wrong.complete(ask("other"), agent="builder-claude", task="T-BBBBBBBB")
    lines = cli("log", "--kind", "provider.error", "--json", ok=True).out.splitlines()
    errors = [json.loads(line) for line in lines]
    assert [e["data"]["class"] for e in errors] == [
        "rate_limited", "overloaded", "quota_exhausted", "auth",
    ]  # fmt: skip
    assert errors[0]["actor"] == "builder-claude"
    assert errors[0]["role"] == "builder"
    assert errors[0]["task"] == "T-FLAKYAAAA"
    assert errors[2]["data"]["action"] == "stop"
    throttled = cli("log", "--kind", "budget.throttled", "--json", ok=True).out.splitlines()
    assert json.loads(throttled[0])["data"]["cause"] == "rate_limited"
    shown = cli("budget", ok=True).out + cli("log", ok=True).out + cli("budget", "--json").out
    captured = cli.capsys.readouterr()
    for secret in (ANTHROPIC_KEY, OPENAI_KEY, "sk-ant-simtest-V3JvbmdLZXlXcm9uZ0tleVdyb25n"):
        assert secret not in shown + captured.out + captured.err
        assert scan_for(secret, cli.cwd) == []  # work tree, state branch, stores, caches


def test_budget_does_not_import_the_sdks(cli: Cli, gw: Gateway) -> None:
    gw.complete(ask(), agent="builder-claude")
    code = (
        "import sys; from lanectl.cli import main\n"
        "try:\n    main(['budget'])\nexcept SystemExit:\n    pass\n"
        "print('HEAVY=' + ','.join(m for m in ('anthropic', 'openai') if m in sys.modules))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cli.cwd, check=True
    )
    assert "anthropic-main" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY="


@pytest.mark.parametrize(
    ("snippet", "message"),
    [
        ("prices:\n  m: {input: -1, output: 2}\n", "prices › m › input: input should be greater"),
        ("prices:\n  m: {input: 1, ouput: 2}\n", "did you mean 'output'?"),
        ("budgets:\n  g: {provider: openai-compatible, credential_env: G_KEY}\n",
         "provider openai-compatible needs base_url"),
        ("budgets:\n  g: {credential_env: G_KEY, keyring: lanectl/g}\n",
         "give credential_env or keyring, not both"),
        ("routing:\n  triage: {model: '', budget: nope}\n", "routing › triage › model"),
    ],
)  # fmt: skip
def test_config_sections_are_validated(git_repo: Path, snippet: str, message: str) -> None:
    (git_repo / ".lanes").mkdir()
    (git_repo / ".lanes" / "config.yaml").write_text("version: 1\n" + snippet)
    problems = [str(p) for p in config.validate(git_repo)]
    assert any(message in p for p in problems), problems
