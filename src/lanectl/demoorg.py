"""The demo's organisation: a small shop repository, its org chart, and the simulator's script.

Everything here is data for :mod:`lanectl.demo`: the files of the throwaway
repository, the ``.lanes/config.yaml`` that points every budget at an
in-process :class:`~lanectl.sim.Simulator`, the fake keys (held in demo-only
environment variables, so a real ``ANTHROPIC_API_KEY`` is never read or
changed), and the scripted model turns: builders from one family (anthropic),
a correctness reviewer (openai) and a security reviewer (google) from two
others, one security agent that tries a red-rule action, and one rate limit
the pacer must absorb.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

TIME_SCALE = 30.0  # a simulated minute of budget passes in two seconds
KEYS = {
    "SHOP_DEMO_ANTHROPIC_KEY": ("sk-ant-demo-Zm9yVGhlRGVtb09ubHlOb3RBS2V5", "anthropic"),
    "SHOP_DEMO_OPENAI_KEY": ("sk-demo-b3BlbmFpRGVtb0tleU5vdFJlYWw", "openai"),
    "SHOP_DEMO_GEMINI_KEY": ("sk-demo-Z2VtaW5pRGVtb0tleU5vdFJlYWw", "openai"),
}
CHECK = "python3 -m unittest discover -s tests -q"

# The shop before any task: a fetch function with no retries, and its test.
BASE_FILES = {
    ".gitignore": "__pycache__/\n",
    "README.md": "# shop\n\nA small shop. `python3 -m unittest` runs its tests.\n",
    "shop/__init__.py": "",
    "shop/fetch.py": (
        '"""Fetch a URL: one attempt, no retries."""\n\n\n'
        "def fetch(get, url):\n"
        "    return get(url)\n"
    ),
    "tests/__init__.py": "",
    "tests/test_fetch.py": (
        "import unittest\n\nfrom shop.fetch import fetch\n\n\n"
        "class FetchTest(unittest.TestCase):\n"
        "    def test_one_attempt(self):\n"
        '        self.assertEqual(fetch(lambda url: "ok", "http://x"), "ok")\n'
    ),
    "deploy/nginx.conf": "server { listen 80; }\n",
}

RETRY = '''"""Retry transient errors with exponential backoff and jitter (ADR 0002)."""

import random
import time


class Transient(Exception):
    """A 5xx or a timeout: worth another attempt."""


def with_retries(call, attempts=3, base_s=0.1, sleep=time.sleep):
    for attempt in range(attempts):
        try:
            return call()
        except Transient:
            if attempt == attempts - 1:
                raise
            sleep(base_s * 2**attempt * random.uniform(0.5, 1.0))
    raise AssertionError("unreachable")
'''
RETRY_TEST = """import unittest

from shop.fetch import fetch
from shop.retry import Transient


class RetryTest(unittest.TestCase):
    def test_a_flaky_server_is_retried(self):
        answers = iter([Transient(), Transient(), "ok"])

        def get(url):
            answer = next(answers)
            if isinstance(answer, Exception):
                raise answer
            return answer

        self.assertEqual(fetch(get, "http://x", sleep=lambda s: None), "ok")
"""
FETCH_OLD = "def fetch(get, url):\n    return get(url)\n"
FETCH_NEW = (
    "from shop.retry import with_retries\n\n\n"
    "def fetch(get, url, sleep=None):\n"
    "    kwargs = {} if sleep is None else {'sleep': sleep}\n"
    "    return with_retries(lambda: get(url), **kwargs)\n"
)
ROTATE = """#!/bin/sh
# Rotate the deploy key: make the new one, publish it, revoke the old one.
# Run by the release pipeline (never by an agent): see ADR 0002.
set -eu
ssh-keygen -q -t ed25519 -N '' -f deploy/keys/deploy_next
echo "publish deploy/keys/deploy_next.pub through the pipeline, then revoke the old key"
"""
TYPO_OLD = "A small shop."
TYPO_NEW = "A small shop that retries what it fetches."


@dataclass(frozen=True)
class DemoTask:
    key: str  # how the demo refers to it
    title: str
    risk: str
    goal: str
    acceptance: tuple[str, ...]
    paths: tuple[str, ...]


TASKS = (
    DemoTask(
        "fetch",
        "Retry transient fetch errors",
        "medium",
        "Fetches that fail with a 5xx or a timeout are retried with backoff.",
        ("Three attempts with jitter", "A test simulates a flaky server"),
        ("shop/**", "tests/**"),
    ),
    DemoTask(
        "rotate",
        "Rotate the deploy credentials",
        "high",
        "The deploy key can be rotated by the release pipeline; the old key is revoked.",
        ("A rotation script the pipeline runs", "No agent ever touches production"),
        ("deploy/**",),
    ),
    DemoTask(
        "readme",
        "Say in the README that fetches are retried",
        "low",
        "Readers of the README know the shop retries transient fetch errors.",
        ("README.md mentions retries",),
        ("README.md",),
    ),
)


def config(sim_url: str) -> str:
    """The demo's ``.lanes/config.yaml``: every budget on the simulator, time sped up.

    Humans are added by `lanectl human add`, as a user would.
    """

    def flow(value: dict[str, Any]) -> str:
        return json.dumps(value)

    budget = {"time_scale": TIME_SCALE}
    lines = [
        "# The demo's org chart: builders from one family, reviewers from two others.",
        "version: 1",
        "base_branch: main",
        "state: {branch: lanectl/state, commit: true}",
        "forge: {kind: local}",
        "humans: []",
        "agents:",
        "  builder-claude: "
        + flow({"role": "builder", "provider": "anthropic", "model": "claude-sonnet-4-6",
                "family": "anthropic", "budget": "anthropic-main", "reply_tokens": 2048}),
        "  reviewer-gpt: "
        + flow({"role": "reviewer", "provider": "openai", "model": "gpt-5",
                "family": "openai", "budget": "openai-main"}),
        "  security-gemini: "
        + flow({"role": "security", "provider": "openai-compatible",
                "model": "gemini-2.5-pro", "family": "google", "budget": "google-main"}),
        "budgets:",
        "  anthropic-main: "
        + flow({"credential_env": "SHOP_DEMO_ANTHROPIC_KEY", "base_url": sim_url,
                "rpm": 40, "input_tpm": 80000, "output_tpm": 16000, "max_concurrency": 3,
                **budget}),
        "  openai-main: "
        + flow({"credential_env": "SHOP_DEMO_OPENAI_KEY", "base_url": sim_url + "/v1",
                "rpm": 500, "tpm": 200000, **budget}),
        "  google-main: "
        + flow({"credential_env": "SHOP_DEMO_GEMINI_KEY", "base_url": sim_url + "/v1",
                "rpm": 60, "tpm": 100000, **budget}),
        "policy:",
        "  diversity: strict",
        "  approval: {required_from: low}",
        "  risk:",
        '    - {paths: [".lanes/**", ".github/workflows/**"], tier: high, reason: governance}',
        '    - {paths: ["deploy/**"], tier: high, reason: production credentials}',
        '    - {paths: ["README.md", "docs/**"], tier: low, reason: documentation}',
        "  red_rules: []",
        "prices:  # US dollars per million tokens, for `lanectl budget`",
        '  claude-sonnet-4-6: {input: 3, output: 15}',
        '  gpt-5: {input: 1.25, output: 10}',
        '  gpt-5-mini: {input: 0.25, output: 2}',
        '  gemini-2.5-pro: {input: 1.25, output: 10}',
        f"checks: [{json.dumps(CHECK)}]",
        "dispatch: {lease_s: 30}",
        "",
    ]  # fmt: skip
    return "\n".join(lines)


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "input": arguments}


def _answer(verdict: str, *findings: dict[str, Any]) -> str:
    return json.dumps({"verdict": verdict, "findings": list(findings)})


def sim_config() -> dict[str, Any]:
    """The simulator: three fake keys, the scripted turns, one 429 for the pacer."""
    keys: dict[str, Any] = {}
    for value, vendor in KEYS.values():
        if vendor == "anthropic":
            keys[value] = {"vendor": vendor, "rpm": 40, "input_tpm": 80000, "output_tpm": 16000}
        else:
            keys[value] = {"vendor": vendor, "rpm": 500, "tpm": 200000}
    builder = "builder-*"
    script = [
        {
            "match": {"agent": builder, "contains": "Retry transient fetch errors"},
            "turns": [
                {"text": "Reading the code first.",
                 "tool_calls": [_call("read_file", path="shop/fetch.py")]},
                {"text": "A retry helper, then fetch uses it.",
                 "tool_calls": [_call("write_file", path="shop/retry.py", content=RETRY)],
                 # The budget's first 429: the pacer pauses the whole budget, once.
                 "fault": "rate_limited", "retry_after_s": 15},
                {"tool_calls": [_call("edit_file", path="shop/fetch.py",
                                      old_text=FETCH_OLD, new_text=FETCH_NEW)]},
                {"tool_calls": [_call("write_file", path="tests/test_retry.py",
                                      content=RETRY_TEST)]},
                {"tool_calls": [_call("run", command=CHECK)]},
                {"tool_calls": [_call("finish", summary="fetch retries transient errors "
                                      "three times with jittered backoff; a test covers it")]},
            ],
        },
        {
            "match": {"agent": builder, "contains": "Rotate the deploy credentials"},
            "turns": [
                {"tool_calls": [_call("list_files", path="deploy")]},
                {"tool_calls": [_call("write_file", path="deploy/rotate.sh", content=ROTATE)]},
                {"tool_calls": [_call("finish", summary="deploy/rotate.sh for the pipeline")]},
            ],
        },
        {
            "match": {"agent": builder, "contains": "Say in the README"},
            "turns": [
                {"tool_calls": [_call("edit_file", path="README.md",
                                      old_text=TYPO_OLD, new_text=TYPO_NEW)]},
                {"tool_calls": [_call("finish", summary="README says fetches are retried")]},
            ],
        },
        {
            # The security agent reviewing the deploy change reaches for production.
            "match": {"agent": "security-*", "contains": "deploy/rotate.sh"},
            "turns": [
                {"text": "Let me check the token and push the config where it runs.",
                 "tool_calls": [_call("run", command="printenv GITHUB_TOKEN"),
                                _call("run", command="scp deploy/nginx.conf "
                                      "deploy@prod-web-1:/etc/nginx/")]},
                {"text": _answer("pass", {
                    "severity": "minor", "category": "security", "path": "deploy/rotate.sh",
                    "line": 5, "title": "write the new key with umask 077"})},
            ],
        },
        {
            "match": {"agent": "security-*"},
            "turns": [{"text": _answer("pass")}],
        },
        {
            "match": {"agent": "reviewer-*", "contains": "shop/retry.py"},
            "turns": [{"text": _answer("pass", {
                "severity": "minor", "category": "correctness", "path": "shop/retry.py",
                "line": 17, "title": "the final raise is unreachable; a comment would do",
            })}],
        },
        {
            "match": {"agent": "reviewer-*"},
            "turns": [{"text": _answer("pass")}],
        },
        {
            "match": {"agent": "designer-*"},
            "turns": [{"text": _answer("pass", {
                "severity": "info", "category": "design", "title":
                "the pipeline, not an agent, runs the rotation, as ADR 0002 wants",
            })}],
        },
    ]  # fmt: skip
    return {
        "time_scale": TIME_SCALE,
        "seed": 7,
        "keys": keys,
        "latency": {"base_ms": 300, "per_token_ms": 2, "jitter": 0.1},
        "script": script,
    }
