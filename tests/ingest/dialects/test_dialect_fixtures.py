"""Each adapter on fixture files built on its format's published examples: the mapped rows
exactly, the quarantine reasons, the skipped parts and the unmapped fields."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from stillwatch.errors import UsageError
from stillwatch.ingest.dialects import adapter
from stillwatch.ingest.dialects.base import MappedRecord
from stillwatch.settings import resolve

FIXTURES = Path(__file__).parent / "fixtures"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text(encoding="utf-8").splitlines()


def mapped(dialect: str, records: list[Any], account_from: str | None = None) -> list[MappedRecord]:
    a = adapter(dialect, {f"{dialect.replace('-', '_')}_account_from": account_from})
    return [a.map(r) for r in records]


OPENAI_ENV = {
    "api_key_id": "key_7f3a",
    "ip": "203.0.113.7",
    "user_agent": "OpenAI/Python 1.82.0",
    "tls_fingerprint": "t13d1516h2_8daaf6152771_b0da82dd1658",
    "account_id": "org-acme",
}


def test_openai_chat_with_tool_call_answer() -> None:
    m = mapped("openai", lines("openai.jsonl"))[0]
    assert m.exchanges == [
        {
            **OPENAI_ENV,
            "event_id": "req_chat_1",
            "ts": "2026-04-22T13:05:09.123Z",
            "latency_ms": 1830,
            "status": "ok",
            "endpoint": "chat.completions",
            "model": "gpt-5-mini",
            "end_user_id": "user_123456",
            "tools_count": 1,
            "max_tokens": 800,
            "thinking": True,
            "system_prompt": "You are a weather assistant.",
            "prompt": "What's the weather like in Boston today?",
            "turn_index": 1,
            "response": '[tool call] get_current_weather({"location": "Boston, MA"})',
            "input_tokens": 82,
            "output_tokens": 17,
            "reasoning_tokens": 64,
        }
    ]
    # prompt_cache_key is a cache bucket, not an identity: reported, not mapped
    assert set(m.unmapped) == {
        "project_id",
        "request.tool_choice",
        "request.prompt_cache_key",
        "response.choices[0].finish_reason",
        "response.model",
        "response.usage.prompt_tokens_details",
    }


def test_openai_streamed_chunks_deprecated_user_and_unknown_field() -> None:
    m = mapped("openai", lines("openai.jsonl"))[1]
    assert m.exchanges == [
        {
            **OPENAI_ENV,
            "event_id": "req_chat_2",
            "ts": "2026-04-22T13:06:10.000Z",  # epoch milliseconds in the envelope
            "latency_ms": 950,
            "status": "ok",
            "endpoint": "chat.completions",
            "model": "gpt-4o",
            "end_user_id": "end-user-42",
            "temperature": 0.7,
            "tools_count": 0,
            "max_tokens": 100,
            "system_prompt": "Be brief.",
            "prompt": "Say hello",
            "turn_index": 0,
            "response": "Hello there!",
            "input_tokens": 14,
            "output_tokens": 3,
        }
    ]
    assert m.unmapped == ["project_id", "request.x_new_param"]


def test_openai_responses_items_and_sse_stream() -> None:
    third, fourth = mapped("openai", lines("openai.jsonl"))[2:4]
    row = third.exchanges[0]
    assert (row["endpoint"], row["system_prompt"], row["prompt"], row["turn_index"]) == (
        "responses",
        "You are a coding agent.",
        "Now explain the fix",
        1,  # the reasoning + function call run is one earlier model turn
    )
    assert row["conversation_id"] == "conv_689667905b048191b4740501625afd940c7533ace33a2dab"
    assert (row["input_tokens"], row["output_tokens"], row["reasoning_tokens"]) == (328, 1052, 960)
    assert (row["thinking"], row["max_tokens"], row["tools_count"]) == (True, 2000, 1)
    assert row["response"] == "The test compared floats with ==."
    streamed = fourth.exchanges[0]
    assert streamed["response"] == "Once upon a time, a unicorn slept."
    assert (streamed["input_tokens"], streamed["output_tokens"]) == (36, 87)
    assert streamed["prompt"] == "Tell me a three sentence bedtime story about a unicorn."
    assert "latency_ms" not in streamed and streamed["ts"] == "2026-04-22T13:08:00.500Z"


def test_openai_error_missing_account_and_truncated_line() -> None:
    error, no_account, cut = mapped("openai", lines("openai.jsonl"))[4:7]
    assert error.exchanges[0]["status"] == "rate_limited"
    assert not {"response", "input_tokens", "output_tokens"} & set(error.exchanges[0])
    assert [q.reason for q in no_account.quarantined] == [
        "no account_id: none of account_id present"
    ]
    assert cut.exchanges == [] and cut.quarantined[0].reason.startswith("record is not valid JSON")
    # With a fallback to the key, the same record still has no account: none of them is there
    again = mapped("openai", lines("openai.jsonl")[5:6], "account,key")[0]
    assert again.quarantined[0].reason == "no account_id: none of account_id, api_key_id present"
    by_end_user = mapped("openai", lines("openai.jsonl")[:1], "end_user")[0]
    assert by_end_user.exchanges[0]["account_id"] == "user_123456"


ANTHROPIC_ENV = {
    "api_key_id": "apikey_01Rj",
    "ip": "2001:db8::7",
    "user_agent": "Anthropic/Python 0.52.0",
    "tls_fingerprint": "t13d1715h2_5b57614c22b0_3d5424432f57",
    "account_id": "org-lab",
}


def test_anthropic_blocks_thinking_tool_use_cache_usage() -> None:
    m = mapped("anthropic", lines("anthropic.jsonl"))[0]
    assert m.exchanges == [
        {
            **ANTHROPIC_ENV,
            "event_id": "req_011CPz",
            "ts": "2026-04-22T14:00:00.250Z",
            "latency_ms": 7300,
            "status": "ok",
            "endpoint": "messages",
            "model": "claude-sonnet-4-5",
            "end_user_id": "13803d75-b4b5-4c3e-b2a2-6f21399b021b",
            "system_prompt": "You are a senior engineer.\nRepository: stillwatch",
            "prompt": "What's the weather in San Francisco?",
            "turn_index": 0,
            "max_tokens": 16000,
            "tools_count": 2,
            "thinking": True,
            # thinking text is not the answer; the tool call is
            "response": "I'll check the weather.\n"
            '[tool call] get_weather({"location": "San Francisco, CA"})',
            "input_tokens": 472 + 1024 + 2048,  # cache writes and reads count as input
            "output_tokens": 189,
        }
    ]
    assert set(m.unmapped) == {
        "project_id",
        "response.model",
        "response.stop_reason",
        "response.usage.service_tier",
    }


def test_anthropic_stream_after_tool_result() -> None:
    row = mapped("anthropic", lines("anthropic.jsonl"))[1].exchanges[0]
    # the last user turn holds only a tool result: the prompt is the user's own last words
    assert row["prompt"] == "What's the weather in San Francisco?"
    assert row["turn_index"] == 1
    assert (
        row["response"]
        == 'It is 15 degrees and foggy.\n[tool call] read_file({"path": "notes.md"})'
    )
    assert (row["input_tokens"], row["output_tokens"]) == (25, 15)
    assert "thinking" not in row and row["tools_count"] == 0


def test_anthropic_overloaded_and_foreign_record() -> None:
    overloaded, foreign = mapped("anthropic", lines("anthropic.jsonl"))[2:4]
    row = overloaded.exchanges[0]
    assert (row["status"], row["thinking"], row["prompt"]) == ("overloaded", False, "Hello, Claude")
    assert "input_tokens" not in row and "response" not in row
    assert foreign.quarantined[0].reason == (
        "not an Anthropic Messages exchange (endpoint '/v1/chat/completions')"
    )


def test_otel_genai_new_and_old_names_skips_and_quarantine() -> None:
    m = mapped("otel-genai", lines("otel_genai.jsonl"))[0]
    new, error, old = m.exchanges
    assert new == {
        "event_id": "chatcmpl-otel-1",
        "ts": "2026-04-22T14:00:00.123Z",
        "conversation_id": "conv_5j66UpCpwteGg4YSxUnt7lPY",
        "turn_index": 1,
        "ip": "198.51.100.23",
        "user_agent": "my-agent/2.1 openai-python/1.82.0",
        "model": "gpt-4o",
        "endpoint": "chat.completions",
        "system_prompt": "You are a helpful bot",
        "prompt": "Weather in Paris?",
        "response": "The weather in Paris is currently rainy with a temperature of 57°F.",
        "input_tokens": 97,
        "output_tokens": 52,
        "max_tokens": 200,
        "temperature": 0.5,
        "tools_count": 1,
        "status": "ok",
        "latency_ms": 1500,
        "account_id": "acct-77",
    }
    assert error == {
        "event_id": "5b8efff798038103d269b633813fc60e-bbb19b7ec3c1b174",
        "ts": "2026-04-22T14:01:40.000Z",
        "model": "gpt-4o",
        "endpoint": "chat.completions",
        "status": "rate_limited",
        "latency_ms": 40,
        "account_id": "acct-77",
    }
    assert old == {
        "event_id": "5b8efff798038103d269b633813fc60d-aaa19b7ec3c1b174",
        "ts": "2026-04-22T14:01:00.000Z",
        "conversation_id": "sess-1",
        "turn_index": 0,
        "model": "claude-3-5-sonnet-20241022",
        "endpoint": "messages",
        "system_prompt": "Answer in French.",
        "prompt": "Good morning",
        "response": "Bonjour",
        "input_tokens": 40,
        "output_tokens": 12,
        "tools_count": 1,
        "status": "ok",
        "latency_ms": 2500,
        "account_id": "acct-88",  # the deprecated enduser.id
    }
    assert m.skipped == {
        "span is not a GenAI call": 1,
        "GenAI execute_tool span, not an inference call": 1,
    }
    assert [(q.reason, q.part) for q in m.quarantined] == [
        (
            "no account_id: none of user.id present",
            "resourceSpans[0].scopeSpans[0].spans[4] (chat gpt-4o)",
        )
    ]
    assert "attributes.server.address" in m.unmapped and "resource.service.name" in m.unmapped
    by_service = mapped("otel-genai", lines("otel_genai.jsonl"), "service")[0]
    assert {r["account_id"] for r in by_service.exchanges} == {"weather-agent"}
    assert by_service.exchanges[0]["end_user_id"] == "acct-77"  # user.id is now an end user


LITELLM_ROW = {
    "event_id": "chatcmpl-litellm-1",
    "ts": "2026-04-22T15:00:00.123Z",  # stored without a zone, in UTC
    "latency_ms": 1333,
    "endpoint": "chat.completions",
    "model": "gpt-4o",  # model_group: what the caller asked for, not the azure deployment
    "input_tokens": 20,
    "output_tokens": 8,
    "api_key_id": "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b",
    "end_user_id": "customer-9",
    "ip": "192.0.2.44",
    "conversation_id": "sess-abc",
    "status": "ok",
    "user_agent": "OpenAI/Python 1.82.0",
    "temperature": 0.0,
    "tools_count": 0,
    "max_tokens": 50,
    "system_prompt": "You sort tickets.",
    "prompt": "Printer is on fire",
    "turn_index": 0,
    "response": "Category: hardware / urgent",
    "reasoning_tokens": 0,
    "account_id": "team-support",
}


@pytest.mark.parametrize("source", ["jsonl", "csv"])
def test_litellm_spend_logs(source: str) -> None:
    if source == "jsonl":
        records: list[Any] = lines("litellm_spend_logs.jsonl")
    else:
        with open(FIXTURES / "litellm_spend_logs.csv", newline="", encoding="utf-8") as fh:
            records = list(csv.DictReader(fh))
    first, failed, orphan = mapped("litellm", records)
    assert first.exchanges == [LITELLM_ROW]
    assert first.accounts == [{"account_id": "team-support", "org_name": "Support Bots"}]
    assert (
        "spend" in first.unmapped and "proxy_server_request.headers.authorization" in first.unmapped
    )
    assert failed.exchanges[0]["status"] == "rate_limited"
    assert failed.exchanges[0]["account_id"] == "a73dc2"  # no team, empty user: the key
    assert [q.reason for q in orphan.quarantined] == [
        "no account_id: none of team_id, user, api_key present"
    ]
    by_org = mapped("litellm", records[:1], "organization")[0]
    assert by_org.exchanges[0]["account_id"] == "org-1" and by_org.accounts == []


def test_litellm_standard_logging_payload() -> None:
    m = mapped("litellm", lines("litellm_standard_logging_payload.jsonl"))[0]
    assert m.exchanges == [
        {
            "event_id": "chatcmpl-slp-1",
            "ts": "2026-04-22T15:01:40.250Z",
            "latency_ms": 1250,
            "endpoint": "chat.completions",
            "model": "claude-sonnet",
            "input_tokens": 21,
            "output_tokens": 9,
            "api_key_id": "5a6b7c",
            "ip": "192.0.2.50",
            "status": "ok",
            "temperature": 0.2,
            "tools_count": 0,
            "max_tokens": 300,
            "prompt": "Summarise this ticket",
            "turn_index": 0,
            "response": "A printer fire.",
            "account_id": "team-red",
        }
    ]


def test_langfuse_enriched_legacy_and_api_layouts() -> None:
    generation, span, error = mapped("langfuse", lines("langfuse_observations_v2.jsonl"))
    assert generation.exchanges == [
        {
            "event_id": "obs-gen-1",
            "ts": "2024-05-29T13:46:19.963Z",
            "model": "gpt-4o",
            "conversation_id": "session-9",
            "latency_ms": 1500,
            "status": "ok",
            "max_tokens": 256,
            "temperature": 0.7,
            "tools_count": 0,
            "system_prompt": "Summarize.",
            "prompt": "Long text ...",
            "turn_index": 0,
            "response": "Short text.",
            "input_tokens": 120,
            "output_tokens": 45,
            "account_id": "user-42",
        }
    ]
    assert "usage_details.input_cached_tokens" in generation.unmapped
    assert span.exchanges == [] and span.skipped == {"SPAN observation, not a model call": 1}
    assert error.exchanges[0]["status"] == "rate_limited"
    assert error.exchanges[0]["prompt"] == "plain text prompt"
    legacy = lines("langfuse_observations_legacy.jsonl")
    assert [q.reason for q in mapped("langfuse", legacy)[0].quarantined] == [
        "no account_id: none of user_id present"
    ]
    assert mapped("langfuse", legacy, "metadata:tenant")[0].exchanges[0]["account_id"] == "acme"
    assert mapped("langfuse", legacy, "project")[0].exchanges[0]["account_id"] == (
        "clkpwwm0m000gmm094odg11gi"
    )
    api = mapped("langfuse", lines("langfuse_api_observations.jsonl"))[0].exchanges[0]
    assert (api["system_prompt"], api["prompt"], api["response"]) == ("be nice", "hello", "hi!")
    assert (api["account_id"], api["max_tokens"], api["temperature"]) == ("u-api", 64, 1.0)


def test_helicone_export() -> None:
    ok, overloaded = mapped("helicone", lines("helicone.jsonl"))
    assert ok.exchanges == [
        {
            "event_id": "7a1b2c3d-0000-4000-8000-000000000001",
            "ts": "2026-04-22T17:00:00.000Z",
            "latency_ms": 1234,
            "status": "ok",
            "model": "gpt-4o-mini",
            "ip_country": "FR",
            "input_tokens": 14,
            "output_tokens": 2,
            "endpoint": "chat.completions",
            "temperature": 0.3,
            "tools_count": 0,
            "prompt": "What is the capital of France?",
            "turn_index": 0,
            "response": "Paris.",
            "account_id": "customer-acme",
            "conversation_id": "sess-77",
        }
    ]
    assert set(ok.unmapped) == {
        "cache_enabled",
        "costUSD",
        "helicone_user",
        "prompt_cache_read_tokens",
        "prompt_cache_write_tokens",
        "request_properties.App",
        "response.choices[0].finish_reason",
        "response.model",
        "response_created_at",
        "response_id",
        "response_model",
        "signed_body_url",
        "time_to_first_token",
    }
    assert overloaded.quarantined[0].reason == "no account_id: none of request_user_id present"
    again = mapped("helicone", lines("helicone.jsonl")[1:], "user,property:Account")[0]
    row = again.exchanges[0]
    assert (row["account_id"], row["status"], row["endpoint"]) == (
        "acct-from-prop",
        "overloaded",
        "messages",
    )
    assert (row["system_prompt"], row["prompt"], row["max_tokens"]) == ("Be terse.", "Ping", 300)


def test_settings_choose_the_account_source() -> None:
    settings = resolve(env={"STILLWATCH_LITELLM_ACCOUNT_FROM": "end_user"})
    row = adapter("litellm", settings).map(lines("litellm_spend_logs.jsonl")[0]).exchanges[0]
    assert row["account_id"] == "customer-9"
    with pytest.raises(UsageError, match="litellm_account_from: project is not a source"):
        adapter("litellm", {"litellm_account_from": "team,project"})
    with pytest.raises(UsageError, match="unknown log dialect"):
        adapter("splunk")
