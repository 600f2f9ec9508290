"""Shared pieces for tests that run the real SDKs through lanectl against the simulator.

The keys are fake but shaped like real ones, so a leak into output, the
ledger or a file would be caught by the secret scans (STYLE §15).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from lanectl.budgetstore import BudgetSpec, BudgetStore
from lanectl.pacer import Pacer, PacerEvent
from lanectl.providers import Message, ProviderSpec, Request, build
from lanectl.providers.base import Provider
from lanectl.sim import SimConfig, Simulator

ANTHROPIC_KEY = "sk-ant-simtest-Q2hlY2tUaGVLZXlOZXZlTGVha3M"
OPENAI_KEY = "sk-simtest-TmV2ZXJJblRoZUxlZGdlck9yTG9ncw"
ANTHROPIC_ENV, OPENAI_ENV = "SIM_ANTHROPIC_KEY", "SIM_OPENAI_KEY"
CLAUDE, HAIKU, GPT = "claude-sonnet-4-6", "claude-haiku-4-5", "gpt-5"
SCALE = 20.0


def keys(**anthropic: Any) -> dict[str, Any]:
    ant = {"vendor": "anthropic", "rpm": 600, "input_tpm": 60_000, "output_tpm": 12_000}
    return {
        ANTHROPIC_KEY: {**ant, **anthropic},
        OPENAI_KEY: {"vendor": "openai", "rpm": 600, "tpm": 100_000},
    }


@contextmanager
def simulator(**config: Any) -> Iterator[Simulator]:
    config.setdefault("keys", keys())
    config.setdefault("time_scale", SCALE)
    with Simulator(SimConfig.from_dict(config)) as sim:
        yield sim


OPEN: list[Any] = []


@pytest.fixture(autouse=True)
def close_clients() -> Iterator[None]:
    """Close every SDK client a test built (unclosed sockets fail the run)."""
    yield
    while OPEN:
        OPEN.pop().close()


@pytest.fixture
def sim_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulator's keys in the variables the budgets name (import it autouse)."""
    monkeypatch.setenv(ANTHROPIC_ENV, ANTHROPIC_KEY)
    monkeypatch.setenv(OPENAI_ENV, OPENAI_KEY)


def provider(sim: Simulator, kind: str = "anthropic", budget: str = "b") -> Provider:
    anthropic = kind == "anthropic"
    spec = ProviderSpec(
        kind,
        budget=budget,
        base_url=sim.anthropic_url if anthropic else sim.openai_url,
        credential_env=ANTHROPIC_ENV if anthropic else OPENAI_ENV,
        options={"strict": True},
    )
    made: Provider = opened(build(spec))
    return made


def opened(thing: Any) -> Any:
    """Remember something with ``close()`` for :func:`close_clients`."""
    OPEN.append(thing)
    return thing


def ask(text: str = "Say hello", *, model: str = CLAUDE, **kw: Any) -> Request:
    return Request(model=model, messages=(Message("user", text),), **kw)


class Events(list[PacerEvent]):
    def __call__(self, event: PacerEvent) -> None:
        self.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self]

    def classes(self) -> list[str]:
        return [str(e.data.get("class")) for e in self if e.kind == "provider.error"]


def pacer(
    tmp: Path,
    name: str = "b",
    *,
    scale: float = SCALE,
    events: Events | None = None,
    **limits: float,
) -> Pacer:
    spec = BudgetSpec(name, dict(limits), time_scale=scale)
    return Pacer(BudgetStore(tmp / "budgets.sqlite"), spec, sink=events, backoff_s=0.2)


def write_config(repo: Path, sim: Simulator, **extra: Any) -> None:
    """Point the lane repo's agents and budgets at the simulator."""
    path = repo / ".lanes" / "config.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["agents"] = {
        "builder-claude": {"role": "builder", "provider": "anthropic", "model": CLAUDE,
                           "family": "anthropic", "budget": "anthropic-main"},
        "reviewer-gpt": {"role": "reviewer", "provider": "openai", "model": GPT,
                         "family": "openai", "budget": "openai-main"},
    }  # fmt: skip
    raw["budgets"] = {
        "anthropic-main": {"credential_env": ANTHROPIC_ENV, "base_url": sim.anthropic_url,
                           "rpm": 600, "input_tpm": 60_000, "output_tpm": 12_000,
                           "time_scale": sim.time_scale},
        "openai-main": {"credential_env": OPENAI_ENV, "base_url": sim.openai_url,
                        "rpm": 600, "tpm": 100_000, "time_scale": sim.time_scale},
    }  # fmt: skip
    raw["routing"] = {"summarize": {"model": HAIKU, "budget": "anthropic-main"}}
    raw["prices"] = {CLAUDE: {"input": 3.0, "output": 15.0}, HAIKU: {"input": 1.0, "output": 5.0}}
    raw.update(extra)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def scan_for(secret: str, *roots: Path) -> list[str]:
    """Every file under ``roots`` (and every git object reachable in them) holding ``secret``."""
    found: list[str] = []
    needle = secret.encode()
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and needle in path.read_bytes():
                found.append(str(path))
        if (root / ".git").exists():
            proc = subprocess.run(
                ["git", "-C", str(root), "log", "--all", "-p", "--format=%H %s%n%b"],
                capture_output=True,
                check=False,
            )
            if needle in proc.stdout:
                found.append(f"{root}: git history")
    return found
