"""The vendor simulator, driven by the real anthropic and openai SDKs over loopback.

Every client is strict (``_strict_response_validation=True``) so a response the
SDK would only leniently accept fails here. Buckets are tested with small
budgets and a time scale so nothing waits long.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from conftest import Cli
from lanectl.errors import LaneError
from lanectl.sim import SimConfig, Simulator, load_config
from lanectl.sim.headers import go_duration

CLAUDE, GPT = "claude-sonnet-4-6", "gpt-5"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
GO_DURATION = re.compile(r"^(\d+h)?(\d+m)?(\d+(\.\d+)?s|\d+ms)$")
USER = [{"role": "user", "content": "Say hello"}]
KEYS = {
    "ka": {"vendor": "anthropic", "rpm": 600, "input_tpm": 60_000, "output_tpm": 12_000},
    "ko": {"vendor": "openai", "rpm": 600, "tpm": 100_000},
}


@pytest.fixture
def start() -> Iterator[Any]:
    running: list[Simulator] = []

    def make(**config: Any) -> Simulator:
        config.setdefault("keys", KEYS)
        sim = Simulator(SimConfig.from_dict(config)).start()
        running.append(sim)
        return sim

    yield make
    for sim in running:
        sim.stop()


@pytest.fixture
def clients() -> Iterator[Any]:
    made: list[Any] = []

    def make(
        sim: Simulator, *, retries: int = 0, ka: str = "ka", ko: str = "ko"
    ) -> tuple[Any, Any]:
        a = anthropic.Anthropic(
            base_url=sim.anthropic_url, api_key=ka, max_retries=retries,
            _strict_response_validation=True,
        )  # fmt: skip
        o = openai.OpenAI(
            base_url=sim.openai_url, api_key=ko, max_retries=retries,
            _strict_response_validation=True,
        )  # fmt: skip
        made.extend([a, o])
        return a, o

    yield make
    for client in made:
        client.close()


def ask(client: anthropic.Anthropic, max_tokens: int = 50, **kw: Any) -> Any:
    return client.messages.with_raw_response.create(
        model=CLAUDE, max_tokens=max_tokens, messages=kw.pop("messages", USER), **kw
    )


def chat(client: openai.OpenAI, **kw: Any) -> Any:
    return client.chat.completions.with_raw_response.create(
        model=GPT, messages=kw.pop("messages", USER), **kw
    )


# ---------------------------------------------------------------------------
# Replies: JSON and streams, text and tool calls, both vendors

BUILDER_SCRIPT = [
    {
        "match": {"agent": "builder", "task": "T-1"},
        "turns": [
            {
                "tool_calls": [
                    {"name": "read_file", "input": {"path": "README.md", "lines": [1, 2]}}
                ]
            },
            {"text": "The README says hello. Done."},
        ],
    }
]
TOOLS_A = [{"name": "read_file", "description": "Read", "input_schema": {"type": "object"}}]
TOOLS_O = [
    {"type": "function", "function": {"name": "read_file", "parameters": {"type": "object"}}}
]


def test_anthropic_json_text_and_headers(start: Any, clients: Any) -> None:
    sim = start()
    a, _ = clients(sim)
    raw = ask(a)
    message = raw.parse()
    assert message.content[0].text == f"(simulated {CLAUDE}) Say hello"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 3  # "Say hello": 9 characters, one token per four
    assert message.usage.output_tokens == len(message.content[0].text) // 4 + 1
    h = raw.headers
    assert re.fullmatch(r"req_[0-9A-Za-z]{24}", h["request-id"])
    for name in ("requests", "input-tokens", "output-tokens", "tokens"):
        assert int(h[f"anthropic-ratelimit-{name}-limit"]) > 0
        assert int(h[f"anthropic-ratelimit-{name}-remaining"]) >= 0
        assert RFC3339.match(h[f"anthropic-ratelimit-{name}-reset"])
    assert h["anthropic-ratelimit-requests-limit"] == "600"
    assert h["anthropic-ratelimit-requests-remaining"] in ("599", "600")  # refills meanwhile
    assert 60_000 - 3 <= int(h["anthropic-ratelimit-input-tokens-remaining"]) <= 60_000


def test_anthropic_tool_use_then_text_json_and_stream(start: Any, clients: Any) -> None:
    sim = start(script=BUILDER_SCRIPT)
    a, _ = clients(sim)
    marked = {"system": "You build.\nlanectl-agent: builder\nlanectl-task: T-1", "tools": TOOLS_A}
    first = ask(a, **marked).parse()
    assert first.stop_reason == "tool_use"
    call = first.content[0]
    assert (call.type, call.name, call.input) == (
        "tool_use",
        "read_file",
        {"path": "README.md", "lines": [1, 2]},
    )
    assert call.id.startswith("toolu_")
    with a.messages.stream(model=CLAUDE, max_tokens=50, messages=USER, **marked) as stream:
        streamed = stream.get_final_message()
    assert streamed.content[0].input == call.input
    assert streamed.stop_reason == "tool_use"
    history = [
        *USER,
        {
            "role": "assistant",
            "content": [call.model_dump(include={"type", "id", "name", "input"})],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "hello"}],
        },
    ]
    second = ask(a, messages=history, **marked).parse()
    assert second.content[0].text == "The README says hello. Done."
    with a.messages.stream(model=CLAUDE, max_tokens=50, messages=history, **marked) as stream:
        pieces = list(stream.text_stream)
        final = stream.get_final_message()
    assert len(pieces) > 1
    assert "".join(pieces) == "The README says hello. Done."
    assert final.usage.output_tokens == 7
    assert final.stop_reason == "end_turn"
    third = ask(a, messages=[*history, {"role": "assistant", "content": "x"}, *USER], **marked)
    assert third.parse().content[0].text.startswith("(simulated")  # the script is over


def test_openai_json_and_stream_text_and_tool_calls(start: Any, clients: Any) -> None:
    sim = start(script=BUILDER_SCRIPT)
    _, o = clients(sim)
    raw = chat(o)
    reply = raw.parse()
    assert reply.choices[0].message.content == f"(simulated {GPT}) Say hello"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.prompt_tokens == 3
    assert re.fullmatch(r"req_[0-9a-f]{24}", raw.headers["x-request-id"])
    tool = chat(o, user="agent=builder;task=T-1", tools=TOOLS_O).parse()
    call = tool.choices[0].message.tool_calls[0]
    assert tool.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "read_file"
    assert json.loads(call.function.arguments) == {"path": "README.md", "lines": [1, 2]}
    stream = o.chat.completions.create(
        model=GPT, messages=USER, stream=True, stream_options={"include_usage": True},
        metadata={"agent": "builder", "task": "T-1"}, tools=TOOLS_O,
    )  # fmt: skip
    arguments, usage, finish = "", None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                arguments += delta.function.arguments or ""
    assert json.loads(arguments) == {"path": "README.md", "lines": [1, 2]}
    assert finish == "tool_calls"
    assert usage is not None
    assert usage.completion_tokens > 0
    history = [
        *USER,
        {"role": "assistant", "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "hello"},
    ]
    text = o.chat.completions.create(
        model=GPT, messages=history, stream=True, extra_headers={"x-lanectl-agent": "builder",
        "x-lanectl-task": "T-1"},
    )  # fmt: skip
    assert "".join(c.choices[0].delta.content or "" for c in text if c.choices) == (
        "The README says hello. Done."
    )


def test_max_tokens_cuts_the_reply(start: Any, clients: Any) -> None:
    sim = start(script=[{"match": {}, "turns": [{"text": "word " * 100}]}])
    a, o = clients(sim)
    message = ask(a, max_tokens=10).parse()
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 10
    assert chat(o, max_completion_tokens=10).parse().choices[0].finish_reason == "length"


# ---------------------------------------------------------------------------
# Errors: each as the SDK's own exception, with the real body


def test_unknown_key_is_401_in_each_vendors_shape(start: Any, clients: Any) -> None:
    sim = start()
    a, o = clients(sim, ka="nope", ko="ka")  # ka is an Anthropic key: not valid for OpenAI
    with pytest.raises(anthropic.AuthenticationError) as ae:
        ask(a)
    assert ae.value.body["error"]["type"] == "authentication_error"
    assert ae.value.request_id.startswith("req_")
    with pytest.raises(openai.AuthenticationError) as oe:
        chat(o)
    assert oe.value.code == "invalid_api_key"
    assert sim.stats()["by_key"]["(unknown)"]["requests"] == 2


def test_anthropic_accepts_x_api_key_too(start: Any) -> None:
    sim = start()
    body = json.dumps({"model": CLAUDE, "max_tokens": 5, "messages": USER}).encode()
    request = urllib.request.Request(
        sim.anthropic_url + "/v1/messages", data=body,
        headers={"x-api-key": "ka", "content-type": "application/json"},
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.load(response)["type"] == "message"


def test_429_rate_limit_both_vendors(start: Any, clients: Any) -> None:
    keys = {
        "ka": {"vendor": "anthropic", "rpm": 60, "capacity_s": 2},
        "ko": {"vendor": "openai", "rpm": 600, "tpm": 6000, "capacity_s": 1},
    }
    sim = start(keys=keys)
    a, o = clients(sim)
    ask(a)
    ask(a)
    with pytest.raises(anthropic.RateLimitError) as ae:
        ask(a)
    err = ae.value
    assert err.type == "rate_limit_error"
    assert err.status_code == 429
    assert "of 60 requests per minute" in err.body["error"]["message"]
    assert err.request_id == err.response.headers["request-id"]
    assert err.response.headers["retry-after"] == "1"
    assert err.response.headers["anthropic-ratelimit-requests-remaining"] == "0"
    chat(o, max_completion_tokens=50)  # 100 tokens of capacity: 3 + 50 reserved, 3 + ~6 kept
    with pytest.raises(openai.RateLimitError) as oe:
        chat(o, max_completion_tokens=95)
    body = oe.value.body
    assert (oe.value.code, body["type"]) == ("rate_limit_exceeded", "tokens")
    assert body["message"].startswith(
        f"Rate limit reached for {GPT} in organization sim-org on tokens per min (TPM): Limit 6000, Used "
    )
    headers = oe.value.response.headers
    assert int(headers["retry-after-ms"]) > 0
    assert GO_DURATION.match(headers["x-ratelimit-reset-tokens"])
    stats = sim.stats()
    assert stats["rate_limited"] == 2
    assert stats["outcomes"]["rate_limited"] == 2


def test_request_larger_than_the_whole_budget(start: Any, clients: Any) -> None:
    keys = {
        "ka": {"vendor": "anthropic", "input_tpm": 1000, "output_tpm": 500},
        "ko": {"vendor": "openai", "tpm": 1000},
    }
    sim = start(keys=keys)
    a, o = clients(sim)
    with pytest.raises(anthropic.RateLimitError) as ae:
        ask(a, max_tokens=600)
    assert "of 500 output tokens per minute" in ae.value.body["error"]["message"]
    assert ae.value.response.headers["x-should-retry"] == "false"
    assert "retry-after" not in ae.value.response.headers
    with pytest.raises(openai.RateLimitError) as oe:
        chat(o, max_completion_tokens=2000)
    assert oe.value.body["message"].startswith(
        f"Request too large for {GPT} in organization sim-org on tokens per min (TPM): "
        "Limit 1000, Requested 2003."
    )
    assert oe.value.code == "rate_limit_exceeded"
    assert oe.value.body["type"] == "tokens"
    assert sim.stats()["outcomes"] == {"too_large": 2}


def test_529_storm_and_openai_overload(start: Any, clients: Any) -> None:
    sim = start(faults={"overloaded": {"probability": 1.0, "from_s": 0, "until_s": 60}})
    a, o = clients(sim)
    with pytest.raises(anthropic.InternalServerError) as ae:
        ask(a)
    assert ae.value.status_code == 529
    assert type(ae.value).__name__ == "OverloadedError"
    assert ae.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}
    with pytest.raises(openai.InternalServerError) as oe:
        chat(o)
    assert oe.value.status_code == 503
    assert sim.stats()["overloaded"] == 2
    assert sim.stats()["by_status"] == {"503": 1, "529": 1}


def test_storm_window_ends(start: Any, clients: Any) -> None:
    sim = start(time_scale=40, faults={"overloaded": {"from_s": 0, "until_s": 30}})
    a, _ = clients(sim)
    with pytest.raises(anthropic.InternalServerError):
        ask(a)
    while sim.now() < 30:  # 0.75 s on the wall clock
        time.sleep(0.05)
    assert ask(a).parse().type == "message"


def test_overloaded_inside_a_200_stream(start: Any, clients: Any) -> None:
    script = [
        {"match": {}, "turns": [{"text": "Here is a long answer " * 5, "fault": "stream_error"}]}
    ]
    sim = start(script=script, faults={"stream_error": {"probability": 0.0, "after_tokens": 8}})
    a, o = clients(sim)
    received: list[str] = []
    with (
        pytest.raises(anthropic.APIStatusError) as ae,
        a.messages.stream(model=CLAUDE, max_tokens=100, messages=USER) as stream,
    ):
        received.extend(stream.text_stream)  # the text arrives, then the error
    assert ae.value.status_code == 200
    assert ae.value.body["error"]["type"] == "overloaded_error"
    assert received
    assert "".join(received).startswith("Here is a long")
    assert ask(a).parse().content[0].text.startswith("Here is")  # fault_times: 1 — answered now
    stats = sim.stats()
    assert stats["outcomes"]["stream_error"] == 1
    assert stats["overloaded"] == 1
    assert stats["by_status"] == {"200": 2}
    sim2 = start(script=script)
    _, o = clients(sim2)
    with pytest.raises(openai.APIError) as oe:
        for _ in o.chat.completions.create(model=GPT, messages=USER, stream=True):
            pass
    assert oe.value.body is not None  # the error object sent inside the stream


def test_quota_exhausted_after_n_tokens(start: Any, clients: Any) -> None:
    keys = {
        "ka": {"vendor": "anthropic", "quota_tokens": 20},
        "ko": {"vendor": "openai", "quota_tokens": 20},
    }
    sim = start(keys=keys)
    a, o = clients(sim)
    ask(a)  # 3 in + 11 out
    ask(a)  # 28 > 20: the next one is refused
    with pytest.raises(anthropic.BadRequestError) as ae:
        ask(a)
    assert ae.value.body["error"]["message"].startswith("Your credit balance is too low")
    chat(o)
    chat(o)
    with pytest.raises(openai.RateLimitError) as oe:
        chat(o)
    assert oe.value.code == "insufficient_quota"
    assert oe.value.body["type"] == "insufficient_quota"
    assert sim.stats()["outcomes"]["quota"] == 2


def test_scripted_faults_fire_as_often_as_told(start: Any, clients: Any) -> None:
    script = [
        {
            "match": {"contains": "flaky"},
            "turns": [{"text": "ok", "fault": "server_error", "fault_times": 2}],
        },
        {
            "match": {"contains": "broken"},
            "turns": [{"fault": "overloaded", "fault_times": "always"}],
        },
    ]
    sim = start(script=script)
    a, _ = clients(sim)
    flaky = [{"role": "user", "content": "flaky"}]
    for _ in range(2):
        with pytest.raises(anthropic.InternalServerError) as err:
            ask(a, messages=flaky)
        assert err.value.status_code == 500
        assert err.value.body["error"]["type"] == "api_error"
    assert ask(a, messages=flaky).parse().content[0].text == "ok"
    for _ in range(3):
        with pytest.raises(anthropic.InternalServerError):
            ask(a, messages=[{"role": "user", "content": "broken"}])


# ---------------------------------------------------------------------------
# Buckets


def test_output_is_reserved_from_max_tokens_and_refunded(start: Any, clients: Any) -> None:
    keys = {"ka": {"vendor": "anthropic", "output_tpm": 1000}}
    # The slow call holds its reservation for 3 s; the second comes 0.5 s in: wide
    # margins both ways, since the suite shares two cores (0.4 s and 0.15 s raced).
    sim = start(keys=keys, latency={"base_ms": 3000})
    a, _ = clients(sim)
    slow = threading.Thread(target=ask, args=(a,), kwargs={"max_tokens": 800})
    slow.start()
    time.sleep(0.5)
    with pytest.raises(anthropic.RateLimitError) as err:  # 800 of 1000 are reserved
        ask(a, max_tokens=300)
    assert int(err.value.response.headers["anthropic-ratelimit-output-tokens-remaining"]) < 300
    slow.join()
    raw = ask(a, max_tokens=300)  # refunded to the 11 tokens actually produced
    remaining = int(raw.headers["anthropic-ratelimit-output-tokens-remaining"])
    assert 970 <= remaining <= 1000  # not 700: the 300 reserved came back


def test_buckets_refill_continuously(start: Any, clients: Any) -> None:
    # 60 RPM = 1/s, a bucket of 5 s = 5 requests; 10x faster: 10/s on the wall clock
    keys = {"ka": {"vendor": "anthropic", "rpm": 60, "capacity_s": 5}}
    sim = start(keys=keys, time_scale=10)
    a, _ = clients(sim)
    answered = 0
    with pytest.raises(anthropic.RateLimitError) as caught:  # noqa: PT012 - send until refused
        while answered < 20:
            ask(a)
            answered += 1
    assert 5 <= answered < 9  # the burst credit, plus what refilled meanwhile
    err = caught.value
    headers = err.response.headers
    wait_ms = int(headers["retry-after-ms"])
    assert 1 <= wait_ms <= 100  # under 1 simulated second for one request
    assert headers["retry-after"] == "1"  # whole seconds, rounded up
    assert RFC3339.match(headers["anthropic-ratelimit-requests-reset"])
    time.sleep(wait_ms / 1000 + 0.005)
    assert ask(a).parse().type == "message"


def test_acceleration_limit(start: Any, clients: Any) -> None:
    keys = {
        "ka": {"vendor": "anthropic", "rpm": 6000, "acceleration": {"requests": 3, "window_s": 1}},
        "ko": {"vendor": "openai", "rpm": 6000, "acceleration": {"requests": 2, "window_s": 1}},
    }
    sim = start(keys=keys)
    a, o = clients(sim)
    for _ in range(3):
        ask(a)
    with pytest.raises(anthropic.RateLimitError) as ae:
        ask(a)
    assert "acceleration limit" in ae.value.body["error"]["message"]
    assert int(ae.value.response.headers["anthropic-ratelimit-requests-remaining"]) > 90
    chat(o)
    chat(o)
    with pytest.raises(openai.RateLimitError) as oe:
        chat(o)
    assert "requests per second (RPS): Limit 2" in oe.value.body["message"]
    assert sim.stats()["outcomes"]["acceleration"] == 2


def test_outside_consumer_shows_only_in_remaining_headers(start: Any, clients: Any) -> None:
    def refill_after_drain(fraction: float) -> float:
        keys = {
            "ka": {"vendor": "anthropic", "rpm": 600, "capacity_s": 6, "outside_fraction": fraction}
        }
        sim = start(keys=keys, time_scale=10)
        a, _ = clients(sim)
        for _ in range(40):
            raw = ask(a)
        assert raw.headers["anthropic-ratelimit-requests-limit"] == "600"
        before = int(raw.headers["anthropic-ratelimit-requests-remaining"])
        drained = time.monotonic()
        time.sleep(0.2)  # 2 simulated seconds: 20 requests at the full rate
        raw = ask(a)
        took = time.monotonic() - drained
        after = int(raw.headers["anthropic-ratelimit-requests-remaining"]) + 1
        return (after - before) / took / 10  # simulated requests per second regained

    assert 8.5 <= refill_after_drain(0.0) <= 11.5
    assert 5.5 <= refill_after_drain(0.3) <= 8.5


def test_hidden_sdk_retries_are_counted(start: Any, clients: Any) -> None:
    script = [
        {"match": {}, "turns": [{"text": "x", "fault": "rate_limited", "fault_times": "always"}]}
    ]
    sim = start(script=script, time_scale=100)
    a, o = clients(sim, retries=2)
    with pytest.raises(anthropic.RateLimitError):
        ask(a)
    with pytest.raises(openai.RateLimitError):
        chat(o)
    stats = sim.stats()
    assert stats["requests"] == 6
    assert stats["retries"] == 4
    assert stats["by_key"]["ka"]["requests"] == 3
    assert stats["by_key"]["ka"]["retries"] == 2
    sim.reset_stats()
    assert sim.stats()["requests"] == 0


def test_a_scripted_rate_limit_asks_for_its_retry_after(start: Any, clients: Any) -> None:
    turn = {"text": "x", "fault": "rate_limited", "retry_after_s": 20}
    sim = start(script=[{"match": {}, "turns": [turn]}], time_scale=10)
    a, o = clients(sim)
    with pytest.raises(anthropic.RateLimitError) as ant:
        ask(a)
    with pytest.raises(openai.RateLimitError) as oai:
        chat(o)
    # 20 simulated seconds are 2 on the wall clock at time_scale 10
    assert float(ant.value.response.headers["retry-after-ms"]) == pytest.approx(2000, abs=1)
    assert float(oai.value.response.headers["retry-after-ms"]) == pytest.approx(2000, abs=1)
    assert ask(a).parse().content[0].text == "x"  # the second attempt is answered


def test_a_scripted_retry_after_must_be_positive(start: Any) -> None:
    turn = {"text": "x", "fault": "rate_limited", "retry_after_s": 0}
    with pytest.raises(LaneError, match=r"retry_after_s: must be above 0"):
        start(script=[{"match": {}, "turns": [turn]}])


def test_time_scale_shrinks_latency_and_keeps_header_counts(start: Any, clients: Any) -> None:
    keys = {"ka": {"vendor": "anthropic", "rpm": 60}}
    sim = start(keys=keys, time_scale=50, latency={"base_ms": 2000, "per_token_ms": 20})
    a, _ = clients(sim)
    began = time.monotonic()
    raw = ask(a)
    assert time.monotonic() - began < 1.5  # 2.2 simulated seconds, 44 ms
    assert raw.headers["anthropic-ratelimit-requests-limit"] == "60"  # counts are not scaled
    reset = datetime.strptime(
        raw.headers["anthropic-ratelimit-requests-reset"], "%Y-%m-%dT%H:%M:%S.%fZ"
    )
    ahead = reset.replace(tzinfo=UTC).timestamp() - time.time()
    assert -0.5 < ahead < 0.2  # one request refills in 1 simulated second = 20 ms
    assert 2.0 < sim.now() < 50


def test_latency_model(start: Any, clients: Any) -> None:
    sim = start(latency={"base_ms": 100, "per_token_ms": 10})
    a, _ = clients(sim)
    began = time.monotonic()
    ask(a)  # 11 output tokens
    assert 0.2 <= time.monotonic() - began < 2


# ---------------------------------------------------------------------------
# Stats, configuration, the command


def test_stats_endpoint_and_agents(start: Any, clients: Any) -> None:
    sim = start()
    a, _ = clients(sim)
    ask(a, metadata={"user_id": "agent=reviewer-gpt;task=T-9"})
    with urllib.request.urlopen(sim.url + "/_sim/stats", timeout=5) as response:
        stats = json.load(response)
    assert stats["by_agent"]["reviewer-gpt"]["requests"] == 1
    assert stats["time_scale"] == 1.0
    assert stats["simulated_s"] > 0
    assert stats["by_key"]["ka"]["by_status"] == {"200": 1}
    urllib.request.urlopen(
        urllib.request.Request(sim.url + "/_sim/reset", data=b""), timeout=5
    ).close()
    assert sim.stats()["requests"] == 0


def test_long_keys_are_masked_in_stats(start: Any, clients: Any) -> None:
    secret = "sk-sim-0123456789abcdefghij"
    sim = start(keys={secret: {"vendor": "anthropic"}})
    a, _ = clients(sim, ka=secret)
    ask(a)
    assert secret not in json.dumps(sim.stats())


def test_only_loopback() -> None:
    with pytest.raises(LaneError, match="only on loopback"):
        Simulator(host="0.0.0.0")
    with pytest.raises(LaneError):
        Simulator(host="192.168.1.4")


def test_header_formats() -> None:
    assert [go_duration(s) for s in (0, 0.12, 1, 1.5, 17.25, 360, 90.5, 3723)] == [
        "0s", "120ms", "1s", "1.5s", "17.25s", "6m0s", "1m30.5s", "1h2m3s",
    ]  # fmt: skip


def test_a_script_only_config_serves_the_default_keys(tmp_path: Path) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text("script:\n  - match: {agent: a}\n    turns: [{text: hi}]\n")
    assert set(load_config(path).keys) == {"sim-anthropic", "sim-openai"}
    assert SimConfig.from_dict({"keys": {}}).keys == {}


def test_example_config_loads() -> None:
    config = load_config(Path(__file__).parents[1] / "templates" / "sim.yaml")
    assert {k.vendor for k in config.keys.values()} == {"anthropic", "openai"}
    assert config.script


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "keys:\n  k1:\n    vendor: anthropic\n    rmp: 5\n",
            "sim.yaml:4: keys › k1 › rmp: unknown key; did you mean 'rpm'?",
        ),
        (
            "keys:\n  k1:\n    vendor: openai\n    rpm: '50'\n",
            "sim.yaml:4: keys › k1 › rpm: expected a whole number, got str",
        ),
        (
            "keys:\n  k1: {vendor: anthropic, tpm: 5}\n",
            "sim.yaml:2: keys › k1 › tpm: not a limit of anthropic keys (they have rpm and input_tpm and output_tpm)",
        ),
        (
            "keys:\n  k1: {vendor: google}\n",
            "sim.yaml:2: keys › k1 › vendor: must be anthropic or openai",
        ),
        (
            "script:\n  - match: {agent: a}\n    turns:\n      - fault: melt\n",
            "sim.yaml:4: script › 0 › turns › 0 › fault: unknown fault 'melt' (known: overloaded, stream_error, rate_limited, server_error, quota)",
        ),
        (
            "faults:\n  overloaded: {from_s: 10, until_s: 5}\n",
            "sim.yaml:2: faults › overloaded › until_s: must be after from_s",
        ),
        ("time_scale: 0\n", "sim.yaml:1: time_scale: must be above 0"),
        ("keys: [1, 2\n", "sim.yaml:2: malformed YAML"),
        ("version: 2\n", "sim.yaml:1: version: unsupported version 2 (this lanectl reads 1)"),
    ],
)
def test_bad_config_names_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "sim.yaml"
    path.write_text(text)
    with pytest.raises(LaneError) as err:
        load_config(path)
    assert str(err.value).replace(str(tmp_path) + "/", "").startswith(message)


def test_sim_serve_prints_urls_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "lanectl", "sim", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = re.search(r"Anthropic at (http://127\.0\.0\.1:\d+),", first)
        assert url, first
        lines = [proc.stdout.readline() for _ in range(5)]
        assert f"  export ANTHROPIC_BASE_URL={url[1]}\n" in lines
        assert f"  export OPENAI_BASE_URL={url[1]}/v1\n" in lines
        with anthropic.Anthropic(base_url=url[1], api_key="sim-anthropic", max_retries=0) as a:
            assert ask(a).parse().type == "message"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert proc.returncode == 0
    assert "stopped after 1 requests" in err


def test_sim_serve_refuses_other_hosts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = Cli(tmp_path, capsys)("sim", "serve", "--host", "0.0.0.0")
    assert result.code == 1
    assert "only on loopback" in result.err
