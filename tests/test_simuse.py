"""`lanectl sim use`: an org config pointed at the simulator, line by line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import Cli
from lanectl import simuse
from lanectl.errors import LaneError
from lanectl.sim import Simulator

CONFIG = """\
version: 1
agents:  # the org chart
  builder-claude: {role: builder, provider: anthropic, model: m, family: anthropic, budget: a}
  security-gemini: {role: security, provider: openai-compatible, base_url: "https://g.example/v1", model: g, family: google, budget: g}
  lint: {role: builder, provider: command, command: [lint], family: local}
budgets:
  a: {credential_env: ANTHROPIC_API_KEY, rpm: 50}   # tier 1
  g: {credential_env: GEMINI_API_KEY, rpm: 60, time_scale: 5}
  unused: {credential_env: OTHER_KEY, rpm: 1}
"""


def test_every_model_budget_and_agent_url_points_at_the_simulator() -> None:
    pointed = simuse.point(CONFIG, "http://127.0.0.1:8765/v1/", time_scale=20)
    raw = yaml.safe_load(pointed.text)
    assert raw["budgets"]["a"]["base_url"] == "http://127.0.0.1:8765"  # anthropic: no /v1
    assert raw["budgets"]["g"]["base_url"] == "http://127.0.0.1:8765/v1"
    assert raw["budgets"]["g"]["time_scale"] == 20
    assert raw["agents"]["security-gemini"]["base_url"] == "http://127.0.0.1:8765/v1"
    assert "base_url" not in raw["budgets"]["unused"]  # no model agent draws from it
    assert raw["agents"]["lint"] == {"role": "builder", "provider": "command",
                                     "command": ["lint"], "family": "local"}  # fmt: skip
    assert dict(pointed.exports) == {"ANTHROPIC_API_KEY": "sim-anthropic",
                                     "GEMINI_API_KEY": "sim-openai"}  # fmt: skip
    # only the entries it points change; comments and every other line stay
    before, after = CONFIG.splitlines(), pointed.text.splitlines()
    changed = [i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y]
    assert changed == [3, 6, 7]
    assert after[6].endswith("# tier 1")
    assert after[1] == "agents:  # the org chart"


def test_real_time_drops_a_stale_time_scale() -> None:
    raw = yaml.safe_load(simuse.point(CONFIG, "http://127.0.0.1:9").text)
    assert "time_scale" not in raw["budgets"]["g"]


def test_an_entry_not_on_one_line_is_left_to_the_person() -> None:
    text = CONFIG.replace("  a: {credential_env: ANTHROPIC_API_KEY, rpm: 50}   # tier 1",
                          "  a:\n    credential_env: ANTHROPIC_API_KEY")  # fmt: skip
    with pytest.raises(LaneError, match="not written on one line") as err:
        simuse.point(text, "http://127.0.0.1:9")
    assert err.value.where == ".lanes/config.yaml:7"


def test_sim_use_rewrites_the_work_tree_config_and_names_the_fake_keys(cli: Cli) -> None:
    with Simulator() as sim:
        result = cli("sim", "use", sim.url, ok=True)
    assert "Pointed 4 entries of .lanes/config.yaml at the simulator:" in result.out
    assert (
        "export ANTHROPIC_API_KEY=sim-anthropic GEMINI_API_KEY=sim-openai "
        "OPENAI_API_KEY=sim-openai" in result.out
    )
    assert "nothing answers" not in result.out
    raw = yaml.safe_load((Path(cli.cwd) / ".lanes/config.yaml").read_text())
    assert raw["budgets"]["openai-main"]["base_url"] == sim.openai_url
    assert cli("check").code == 0


def test_sim_example_is_a_valid_simulator_config(cli: Cli, tmp_path: Path) -> None:
    from lanectl.sim import load_config

    (tmp_path / "sim.yaml").write_text(cli("sim", "example", ok=True).out)
    config = load_config(tmp_path / "sim.yaml")
    assert {r.match.agent for r in config.script} >= {"builder-*", "reviewer-*", "security-*"}
