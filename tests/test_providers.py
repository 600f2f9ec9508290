"""The provider layer: the real SDKs against the simulator, failures classified by body."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from lanectl import ratelimits
from lanectl.errors import LaneError
from lanectl.providers import (
    Message,
    ProviderError,
    ProviderSpec,
    Request,
    Tool,
    ToolCall,
    anthropic_api,
    build,
    openai_api,
    registry,
)
from lanectl.providers.classify import classify
from simkit import (
    ANTHROPIC_ENV,
    ANTHROPIC_KEY,
    CLAUDE,
    GPT,
    OPENAI_ENV,
    OPENAI_KEY,
    ask,
    close_clients,
    opened,
    provider,
    sim_keys,
    simulator,
)

__all__ = ["close_clients", "sim_keys"]


@pytest.fixture(autouse=True)
def _keys(sim_keys: None) -> None:
    """Every test here talks to the simulator with its keys."""


# ---------------------------------------------------------------------------
# Classification by body (pure)

ANT_429 = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
CASES: list[tuple[int | None, Any, bool, str]] = [
    (429, ANT_429, False, "rate_limited"),
    (429, {"message": "Rate limit reached", "type": "tokens", "code": "rate_limit_exceeded"},
     False, "rate_limited"),
    (429, {"message": "You exceeded your current quota", "type": "insufficient_quota",
           "code": "insufficient_quota"}, False, "quota_exhausted"),
    (400, {"type": "error", "error": {"type": "invalid_request_error",
                                      "message": "Your credit balance is too low"}},
     False, "quota_exhausted"),
    (429, {"message": "Request too large for gpt-5 on tokens per min (TPM)", "type": "tokens",
           "code": "rate_limit_exceeded"}, False, "too_large"),
    (413, {"type": "error", "error": {"type": "request_too_large", "message": "big"}},
     False, "too_large"),
    (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
     False, "overloaded"),
    (503, {"error": "server busy, please try again. maximum pending requests exceeded"},
     False, "overloaded"),
    (None, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
     True, "overloaded"),
    (None, {"message": "stream broke", "type": "server_error"}, True, "overloaded"),
    (401, {"type": "error", "error": {"type": "authentication_error", "message": "x"}},
     False, "auth"),
    (403, {"type": "error", "error": {"type": "permission_error", "message": "x"}}, False, "auth"),
    (500, {"type": "error", "error": {"type": "api_error", "message": "oops"}}, False,
     "server_error"),
    (400, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}},
     False, "bad_request"),
    (None, None, False, "network"),
]  # fmt: skip


@pytest.mark.parametrize(("status", "body", "in_stream", "expected"), CASES)
def test_classified_by_body(status: int | None, body: Any, in_stream: bool, expected: str) -> None:
    assert classify(status, body, in_stream=in_stream).error_class == expected


def test_a_429_body_beats_its_status() -> None:
    # OpenAI answers an empty wallet with 429, like a rate limit: the body decides.
    body = {"message": "quota", "type": "insufficient_quota", "code": "insufficient_quota"}
    verdict = classify(429, body)
    assert (verdict.error_class, verdict.vendor_type) == ("quota_exhausted", "insufficient_quota")


def test_vendor_text_is_scrubbed_of_keys() -> None:
    body = {"message": "Incorrect API key provided: sk-abcdefghijklmnop1234.", "type": "x"}
    assert "sk-abc" not in classify(401, body).detail
    assert "[redacted]" in classify(400, {"message": f"echo {ANTHROPIC_KEY}"}).detail


# ---------------------------------------------------------------------------
# Headers (pure)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("6m0s", 360.0), ("120ms", 0.12), ("1.5s", 1.5), ("1h2m3s", 3723.0), ("0s", 0.0),
     ("20us", 0.00002), ("7", 7.0), ("", None), ("6 minutes", None), ("5x", None)],
)  # fmt: skip
def test_durations(text: str, seconds: float | None) -> None:
    assert (
        ratelimits.parse_duration(text) == pytest.approx(seconds)
        if seconds
        else (ratelimits.parse_duration(text) == seconds)
    )


def test_headers_of_both_vendors() -> None:
    now = 1_800_000_000.0
    seen = ratelimits.observe(
        {
            "anthropic-ratelimit-input-tokens-limit": "60000",
            "anthropic-ratelimit-input-tokens-remaining": "59000",
            "anthropic-ratelimit-input-tokens-reset": "2027-01-15T08:00:02Z",
            "anthropic-ratelimit-tokens-remaining": "1",  # the most restrictive: not a bucket
            "x-ratelimit-limit-requests": "500",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
            "retry-after": "30",
            "retry-after-ms": "1500",
        },
        now,
    )
    assert set(seen.limits) == {"input_tokens", "requests"}
    assert seen.limits["input_tokens"].remaining == 59000
    assert seen.limits["input_tokens"].reset_in == pytest.approx(2.0)
    assert seen.limits["requests"].reset_in == pytest.approx(0.12)
    assert seen.retry_after == pytest.approx(1.5)  # retry-after-ms beats retry-after


def test_retry_after_is_capped_and_understands_dates() -> None:
    now = time.time()
    assert ratelimits.retry_after({"retry-after": "Fri, 31 Dec 2099 23:59:59 GMT"}, now) == 86400
    assert ratelimits.retry_after({"retry-after": "soon"}, now) is None


# ---------------------------------------------------------------------------
# Requests in each vendor's shape (pure)

TOOL = Tool(
    "read_file", "Read a file", {"type": "object", "properties": {"path": {"type": "string"}}}
)
CONVERSATION = (
    Message("user", "Fix it"),
    Message("assistant", "Reading", tool_calls=(ToolCall("t1", "read_file", {"path": "a.py"}),)),
    Message("tool", "print(1)", tool_call_id="t1"),
    Message("user", "and?"),
)


def test_anthropic_body_alternates_and_caches_stable_prefixes() -> None:
    params = {"stop": ["X"], "temperature": 0.2}
    body = anthropic_api.to_body(
        Request(CLAUDE, CONVERSATION, system="You build.", tools=(TOOL,), params=params),
        prompt_cache=True,
        known=frozenset({"stop_sequences"}),
    )
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][2]["content"][0]["type"] == "tool_result"
    assert body["messages"][2]["content"][1] == {"type": "text", "text": "and?"}
    assert body["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["stop_sequences"] == ["X"]
    assert body["extra_body"] == {"temperature": 0.2}  # not an SDK argument: the API decides


def test_openai_body_carries_tool_calls_as_json_strings() -> None:
    body = openai_api.to_body(
        Request(GPT, CONVERSATION, system="You review.", tools=(TOOL,)), compatible=False
    )
    roles = [m["role"] for m in body["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "user"]
    call = body["messages"][2]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"path": "a.py"}
    assert "max_completion_tokens" in body
    assert "max_tokens" in openai_api.to_body(Request(GPT, CONVERSATION), compatible=True)


# ---------------------------------------------------------------------------
# The registry, credentials and lazy imports


def test_registry_builds_plugins_and_refuses_unknown_vendors() -> None:
    built: list[ProviderSpec] = []

    def factory(spec: ProviderSpec) -> Any:
        built.append(spec)
        return object()

    registry.register("test-vendor", factory)
    build(ProviderSpec("test-vendor"))
    assert built
    assert "test-vendor" in registry.kinds()
    with pytest.raises(LaneError, match="unknown provider 'nope'"):
        build(ProviderSpec("nope"))


def test_missing_credential_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ANTHROPIC_ENV)
    with pytest.raises(LaneError, match=rf"\${ANTHROPIC_ENV} is not set") as info:
        build(ProviderSpec("anthropic", budget="b", credential_env=ANTHROPIC_ENV))
    assert "never put keys in config" in str(info.value)


def test_sdks_load_only_when_a_provider_is_built(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "import lanectl.gateway, lanectl.providers, lanectl.pacer, lanectl.cli.budget_cmd\n"
        "print(','.join(m for m in ('anthropic', 'openai', 'httpx2') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


# ---------------------------------------------------------------------------
# The real SDKs against the simulator

SCRIPT = [
    {"match": {"agent": "toolish"},
     "turns": [{"tool_calls": [{"name": "read_file", "input": {"path": "a.py"}, "id": "c1"}]}]},
    {"match": {"agent": "limited"}, "turns": [{"fault": "rate_limited"}]},
    {"match": {"agent": "broke"}, "turns": [{"fault": "quota"}]},
    {"match": {"agent": "busy"}, "turns": [{"fault": "overloaded"}]},
    {"match": {"agent": "cut"}, "turns": [{"text": "one two three four five six seven eight",
                                          "fault": "stream_error"}]},
    {"match": {"agent": "oops"}, "turns": [{"fault": "server_error"}]},
]  # fmt: skip


def once(kind: str, agent: str, **kw: Any) -> Any:
    with simulator(script=SCRIPT) as sim:
        p = provider(sim, kind)
        return p.complete(ask(model=CLAUDE if kind == "anthropic" else GPT, **kw),
                          tags={"agent": agent})  # fmt: skip


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
@pytest.mark.parametrize("stream", [False, True])
def test_a_turn_with_usage_headers_and_request_id(kind: str, stream: bool) -> None:
    seen: list[dict[str, str]] = []
    with simulator() as sim:
        turn = provider(sim, kind).complete(
            ask(model=CLAUDE if kind == "anthropic" else GPT, stream=stream),
            on_headers=lambda h: seen.append(dict(h)),
        )
    assert "Say hello" in turn.text
    assert turn.stop_reason == "end_turn"
    assert turn.usage.input > 0
    assert turn.usage.output > 0
    assert turn.request_id
    assert seen
    assert seen[0] == dict(turn.headers)
    assert ratelimits.observe(turn.headers, time.time()).limits["requests"].limit == 600


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
@pytest.mark.parametrize("stream", [False, True])
def test_tool_calls_come_back_parsed(kind: str, stream: bool) -> None:
    turn = once(kind, "toolish", tools=(TOOL,), stream=stream)
    assert turn.stop_reason == "tool_use"
    assert [(c.name, dict(c.arguments)) for c in turn.tool_calls] == [
        ("read_file", {"path": "a.py"})
    ]


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
@pytest.mark.parametrize(
    ("agent", "stream", "expected"),
    [("limited", False, "rate_limited"), ("broke", False, "quota_exhausted"),
     ("busy", False, "overloaded"), ("cut", True, "overloaded"), ("oops", False, "server_error")],
)  # fmt: skip
def test_every_failure_is_classified_by_body(
    kind: str, agent: str, stream: bool, expected: str
) -> None:
    with pytest.raises(ProviderError) as info:
        once(kind, agent, stream=stream)
    err = info.value
    assert err.error_class == expected, str(err)
    assert ANTHROPIC_KEY not in str(err)
    assert OPENAI_KEY not in str(err)
    if expected == "rate_limited":
        assert err.retry_after is not None
        assert err.retry_after < 1.0
    if expected == "quota_exhausted":
        assert "never retries" in str(err)


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_request_bigger_than_the_bucket_is_too_large(kind: str) -> None:
    with simulator() as sim, pytest.raises(ProviderError) as info:
        provider(sim, kind).complete(ask("x" * 4000, model=CLAUDE if kind == "anthropic" else GPT,
                                         max_tokens=200_000))  # fmt: skip
    assert info.value.error_class == "too_large"


@pytest.mark.parametrize("kind", ["anthropic", "openai"])
def test_a_wrong_key_is_auth_and_its_text_is_not_repeated(
    kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "sk-ant-wrong-Tm90QVZhbGlkS2V5QXRBbGw0MjQyNA"
    monkeypatch.setenv(ANTHROPIC_ENV if kind == "anthropic" else OPENAI_ENV, wrong)
    with simulator() as sim, pytest.raises(ProviderError) as info:
        provider(sim, kind).complete(ask(model=CLAUDE if kind == "anthropic" else GPT))
    assert info.value.error_class == "auth"
    assert wrong not in str(info.value)
    assert f"${ANTHROPIC_ENV if kind == 'anthropic' else OPENAI_ENV}" in str(info.value)


def test_no_answer_at_all_is_network() -> None:
    spec = ProviderSpec("openai", base_url="http://127.0.0.1:9/v1", credential_env=OPENAI_ENV)
    with pytest.raises(ProviderError) as info:
        opened(build(spec)).complete(ask(model=GPT))
    assert info.value.error_class == "network"


def test_ollama_503_is_overloaded_via_mock_transport() -> None:
    # The simulator speaks OpenAI's error shape; Ollama's is a bare string.
    def handler(request: httpx2.Request) -> httpx2.Response:
        assert request.headers["x-lanectl-agent"] == "local"
        return httpx2.Response(503, json={"error": "server busy, please try again."})

    spec = ProviderSpec(
        "openai-compatible",
        base_url="http://ollama.invalid/v1",
        credential_env=OPENAI_ENV,
        options={"http_client": opened(httpx2.Client(transport=httpx2.MockTransport(handler)))},
    )
    with pytest.raises(ProviderError) as info:
        opened(build(spec)).complete(ask(model="llama3"), tags={"agent": "local"})
    assert (info.value.error_class, info.value.status) == ("overloaded", 503)


def test_openai_compatible_needs_a_base_url() -> None:
    with pytest.raises(LaneError, match="needs a base_url"):
        build(ProviderSpec("openai-compatible", budget="g", credential_env=OPENAI_ENV))
