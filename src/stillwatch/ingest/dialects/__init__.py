"""Dialect adapters: the logs users already have (OpenAI and Anthropic bodies in stillwatch's
gateway envelope, OpenTelemetry GenAI spans, LiteLLM, Langfuse and Helicone exports) mapped
onto the canonical tables, and the writers that do the inverse.

An adapter is pure: records in, canonical rows, quarantine reasons and unmapped field names
out; reading files and storing rows stay with ``stillwatch.ingest``. ``docs/formats.md`` has
every mapping table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stillwatch.errors import UsageError
from stillwatch.ingest.dialects.anthropic import Anthropic
from stillwatch.ingest.dialects.anthropic_write import AnthropicWriter
from stillwatch.ingest.dialects.base import Dialect, MappedRecord, Quarantined
from stillwatch.ingest.dialects.helicone import Helicone
from stillwatch.ingest.dialects.helicone_write import HeliconeWriter
from stillwatch.ingest.dialects.langfuse import Langfuse
from stillwatch.ingest.dialects.langfuse_write import LangfuseWriter
from stillwatch.ingest.dialects.litellm import LiteLLM
from stillwatch.ingest.dialects.litellm_write import LiteLLMWriter
from stillwatch.ingest.dialects.openai import OpenAI
from stillwatch.ingest.dialects.openai_write import OpenAIWriter
from stillwatch.ingest.dialects.otel_genai import OtelGenAI
from stillwatch.ingest.dialects.otel_genai_write import OtelGenAIWriter
from stillwatch.ingest.dialects.write import Writer

DIALECTS: dict[str, type[Dialect]] = {
    d.name: d for d in (OpenAI, Anthropic, OtelGenAI, LiteLLM, Langfuse, Helicone)
}
WRITERS: dict[str, type[Writer]] = {
    w.name: w
    for w in (
        OpenAIWriter, AnthropicWriter, OtelGenAIWriter, LiteLLMWriter, LangfuseWriter, HeliconeWriter
    )
}  # fmt: skip
DETECT_THRESHOLD = 0.5  # below this mean confidence, ``auto`` names no dialect


def adapter(name: str, settings: Mapping[str, Any] | Any = None) -> Dialect:
    """The adapter for ``name``, with its ``<name>_account_from`` setting from ``settings``
    (a mapping or a resolved-settings object) where given."""
    if name not in DIALECTS:
        raise UsageError(f"unknown log dialect {name!r}; known: {', '.join(DIALECTS)}")
    cls = DIALECTS[name]
    value = None
    if settings is not None:
        value = (
            settings.get(cls.setting)
            if isinstance(settings, Mapping)
            else getattr(settings, cls.setting, None)
        )
    return cls(value)


def detect(
    sample: Sequence[Any], settings: Mapping[str, Any] | Any = None
) -> tuple[str | None, dict[str, float]]:
    """The dialect a sample of records (text or parsed) is written in, with every dialect's
    confidence; None when no dialect reaches ``DETECT_THRESHOLD`` (the caller then tries the
    canonical reader, or says it cannot tell)."""
    scores = {name: adapter(name, settings).detect(sample) for name in DIALECTS}
    best = max(scores, key=lambda n: scores[n])
    return (best if scores[best] >= DETECT_THRESHOLD else None), scores


__all__ = [
    "DIALECTS",
    "WRITERS",
    "Dialect",
    "MappedRecord",
    "Quarantined",
    "Writer",
    "adapter",
    "detect",
]
