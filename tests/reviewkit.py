"""Reviews for tests: an Org whose agents call the simulator, three model families.

The scaffolded agents keep their names (and so their lanectl-managed keys):
builder-claude (anthropic), reviewer-gpt (openai), security-gemini (google,
an openai-compatible endpoint of the simulator with a key of its own). The
config is committed to main, since agents and budgets are read from there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from gatekit import Org
from lanectl import review
from lanectl.review import ReviewOutcome
from lanectl.sim import Simulator
from simkit import (
    ANTHROPIC_ENV,
    ANTHROPIC_KEY,
    CLAUDE,
    GPT,
    OPENAI_ENV,
    OPENAI_KEY,
    keys,
    simulator,
)

GEMINI_KEY = "sk-simtest-R2VtaW5pS2V5TmV2ZXJJbkxvZ3M"
GEMINI_ENV = "SIM_GEMINI_KEY"
GEMINI = "gemini-2.5-pro"
FILES = {"src/fetch.py": "def fetch():\n    return 1\n"}


def answer(verdict: str = "pass", findings: Sequence[dict[str, Any]] = ()) -> str:
    return json.dumps({"verdict": verdict, "findings": list(findings)})


PASS = answer()


def rule(agent: str, *texts: str, **match: str) -> dict[str, Any]:
    """A script rule: ``agent``'s first, second, … answers in one conversation."""
    return {"match": {"agent": agent, **match}, "turns": [{"text": t} for t in texts]}


def passing(*agents: str) -> list[dict[str, Any]]:
    return [rule(a, PASS) for a in agents]


@contextmanager
def sim(script: Sequence[dict[str, Any]], **config: Any) -> Iterator[Simulator]:
    three = keys() | {GEMINI_KEY: {"vendor": "openai", "rpm": 600, "tpm": 100_000}}
    with simulator(keys=three, script=list(script), **config) as running:
        yield running


def agents_config(sim: Simulator) -> tuple[dict[str, Any], dict[str, Any]]:
    agents = {
        "builder-claude": {"role": "builder", "provider": "anthropic", "model": CLAUDE,
                           "family": "anthropic", "budget": "anthropic-main"},
        "reviewer-gpt": {"role": "reviewer", "provider": "openai", "model": GPT,
                         "family": "openai", "budget": "openai-main"},
        "security-gemini": {"role": "security", "provider": "openai-compatible",
                            "model": GEMINI, "family": "google", "budget": "google-main"},
    }  # fmt: skip
    scale = sim.time_scale
    budgets = {
        "anthropic-main": {"credential_env": ANTHROPIC_ENV, "base_url": sim.anthropic_url,
                           "rpm": 600, "input_tpm": 60_000, "output_tpm": 12_000,
                           "time_scale": scale},
        "openai-main": {"credential_env": OPENAI_ENV, "base_url": sim.openai_url,
                        "rpm": 600, "tpm": 100_000, "time_scale": scale},
        "google-main": {"credential_env": GEMINI_ENV, "base_url": sim.openai_url,
                        "provider": "openai-compatible", "rpm": 600, "tpm": 100_000,
                        "time_scale": scale},
    }  # fmt: skip
    return agents, budgets


class Reviews:
    def __init__(self, org: Org, sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.org = org
        self.sim = sim
        monkeypatch.setenv(ANTHROPIC_ENV, ANTHROPIC_KEY)
        monkeypatch.setenv(OPENAI_ENV, OPENAI_KEY)
        monkeypatch.setenv(GEMINI_ENV, GEMINI_KEY)

    def configure(
        self,
        *,
        agents: dict[str, Any] | None = None,
        drop: Sequence[str] = (),
        order: Sequence[str] = (),
        **extra: Any,
    ) -> None:
        """Point the agents at the simulator (plus ``agents``, less ``drop``); commit to main."""
        path = self.org.repo / ".lanes" / "config.yaml"
        raw = yaml.safe_load(path.read_text())
        base_agents, budgets = agents_config(self.sim)
        every = {**base_agents, **(agents or {})}
        first = {k: every[k] for k in order}
        raw["agents"] = {k: v for k, v in {**first, **every}.items() if k not in drop}
        raw["budgets"] = budgets
        for key, value in extra.items():
            if key == "diversity":
                raw["policy"]["diversity"] = value
            else:
                raw[key] = value
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
        self.org.commit_policy("review agents on the simulator")

    @staticmethod
    def add_agent_key(org: Org, name: str, role: str, family: str) -> None:
        """`lanectl agent add` (its key and allowed_signers line), committed to main."""
        org.cli(
            "agent", "add", name, "--role", role, "--provider", "openai", "--model", GPT,
            "--family", family, "--budget", "openai-main", ok=True,
        )  # fmt: skip
        org.commit_policy(f"add {name}")

    def run(self, tid: str, *roles: str) -> list[ReviewOutcome]:
        return review.run_reviews(self.org.ws, tid, list(roles) or None)

    def requests(self, agent: str | None = None) -> int:
        stats = self.sim.stats()
        if agent is None:
            return int(stats["requests"])
        return int(stats["by_agent"].get(agent, {}).get("requests", 0))

    def record(self, outcome: ReviewOutcome) -> dict[str, Any]:
        assert outcome.path is not None
        path = self.org.ws.state_dir / outcome.path
        loaded: dict[str, Any] = yaml.safe_load(path.read_text())
        return loaded


def by_role(outcomes: Sequence[ReviewOutcome]) -> dict[str, ReviewOutcome]:
    return {o.role: o for o in outcomes}


def head_of(org: Org, tid: str) -> str:
    from conftest import git

    return git(org.repo, "rev-parse", f"lanes/{tid}")


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
