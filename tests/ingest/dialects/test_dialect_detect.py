"""``--source auto``: each fixture file is told apart from the others and from canonical rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from stillwatch.ingest.dialects import detect

FIXTURES = Path(__file__).parent / "fixtures"


def sample(name: str) -> list[object]:
    path = FIXTURES / name
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    return path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    ("name", "dialect"),
    [
        ("openai.jsonl", "openai"),
        ("anthropic.jsonl", "anthropic"),
        ("otel_genai.jsonl", "otel-genai"),
        ("litellm_spend_logs.jsonl", "litellm"),
        ("litellm_spend_logs.csv", "litellm"),
        ("litellm_standard_logging_payload.jsonl", "litellm"),
        ("langfuse_observations_v2.jsonl", "langfuse"),
        ("langfuse_observations_legacy.jsonl", "langfuse"),
        ("langfuse_api_observations.jsonl", "langfuse"),
        ("helicone.jsonl", "helicone"),
    ],
)
def test_each_fixture_is_detected(name: str, dialect: str) -> None:
    found, scores = detect(sample(name))
    assert found == dialect, scores
    runner_up = sorted(scores.values())[-2]
    assert scores[dialect] - runner_up >= 0.3, scores


def test_canonical_rows_and_noise_are_no_dialect() -> None:
    canonical = [
        json.dumps(
            {"event_id": f"e{i}", "ts": "2026-04-22T13:05:09Z", "account_id": "a", "model": "m"}
        )
        for i in range(5)
    ]
    assert detect(canonical)[0] is None
    assert detect(["not json", "{", "[]", "42"])[0] is None
    assert detect([])[0] is None
