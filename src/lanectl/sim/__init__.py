"""A vendor simulator: Anthropic Messages and OpenAI Chat Completions on loopback.

    from lanectl.sim import SimConfig, Simulator, load_config

    with Simulator(load_config("sim.yaml")) as sim:
        client = anthropic.Anthropic(base_url=sim.anthropic_url, api_key="sim-anthropic")
        ...
        sim.stats()["rate_limited"]

Scripted replies per agent and task, per-key token buckets with the real
rate-limit headers and error bodies, latency, fault injection, and a count of
every request received (SDK-hidden retries included). Stdlib and PyYAML only;
it never imports a vendor SDK. Scope and limits: ADR "vendor simulator scope";
user guide: docs/simulator.md.
"""

from __future__ import annotations

from lanectl.sim.config import SimConfig, load_config
from lanectl.sim.server import Simulator

__all__ = ["SimConfig", "Simulator", "load_config"]
