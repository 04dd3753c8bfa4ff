"""The software that sends requests: SDK user agents and the TLS fingerprints that go with them.

A fingerprint belongs to the runtime's TLS stack (CPython's OpenSSL, Node, Go, curl), so many
SDKs share one and a user agent implies its fingerprint. Operators use the same SDKs as
everyone else; a fingerprint is shared by thousands of unrelated accounts.
"""

from __future__ import annotations

import numpy as np

_TLS = {
    "cpython-openssl3": "t13d1715h2_5b57614c22b0_3d5424432f57",
    "cpython-openssl1": "t13d1812h2_e8a523a41297_7b8d1a4fe1c5",
    "node20": "t13d1516h2_8daaf6152771_02713d6af862",
    "node22": "t13d1516h2_8daaf6152771_b0da82dd1658",
    "go": "t13d1311h2_f57a46bbacb6_ab7e3b40a677",
    "curl": "t13d3112h2_e8f1e7e78f70_6bebaf5329ac",
    "java": "t13d3012h2_a09f3c656075_7f0f34a4126d",
    "browser": "t13d1516h2_8daaf6152771_e5627efa2ab1",
}

# (user agent, tls stack, family, weight among legitimate developer accounts)
CLIENTS: tuple[tuple[str, str, str, float], ...] = (
    ("anthropic-python/0.39.0", "cpython-openssl3", "python-sdk", 0.10),
    ("anthropic-python/0.42.0", "cpython-openssl3", "python-sdk", 0.12),
    ("anthropic-python/0.45.2", "cpython-openssl3", "python-sdk", 0.10),
    ("anthropic-python/0.42.0", "cpython-openssl1", "python-sdk", 0.03),
    ("OpenAI/Python 1.54.3", "cpython-openssl3", "python-sdk", 0.09),
    ("OpenAI/Python 1.59.7", "cpython-openssl3", "python-sdk", 0.07),
    ("anthropic-typescript/0.32.1", "node20", "node-sdk", 0.08),
    ("anthropic-typescript/0.36.3", "node22", "node-sdk", 0.07),
    ("OpenAI/JS 4.73.0", "node20", "node-sdk", 0.05),
    ("ai-sdk/4.1.0 (vercel)", "node22", "node-sdk", 0.04),
    ("langchain-anthropic/0.3.1 anthropic-python/0.42.0", "cpython-openssl3", "framework", 0.05),
    ("litellm/1.55.2", "cpython-openssl3", "framework", 0.04),
    ("python-requests/2.32.3", "cpython-openssl3", "raw-http", 0.04),
    ("python-httpx/0.27.2", "cpython-openssl3", "raw-http", 0.03),
    ("curl/8.5.0", "curl", "raw-http", 0.02),
    ("Go-http-client/2.0", "go", "raw-http", 0.02),
    ("anthropic-sdk-go/0.2.0", "go", "go-sdk", 0.01),
    ("anthropic-java/0.8.0", "java", "java-sdk", 0.01),
    ("claude-cli/1.0.44 (external, cli)", "node22", "agent-cli", 0.02),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36",
        "browser",
        "browser",
        0.01,
    ),
)
USER_AGENTS = np.array([ua for ua, *_ in CLIENTS], dtype=object)
TLS_FINGERPRINTS = np.array([_TLS[t] for _, t, _, _ in CLIENTS], dtype=object)
FAMILIES = tuple(f for _, _, f, _ in CLIENTS)
WEIGHTS = np.array([w for *_, w in CLIENTS]) / sum(w for *_, w in CLIENTS)


def of_family(*families: str) -> np.ndarray:
    """Indices of the clients in ``families`` (an agent fleet uses the CLI, a router httpx…)."""
    return np.array([i for i, f in enumerate(FAMILIES) if f in families], dtype=np.int64)


_FAMILY_CACHE: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}


def draw(rng: np.random.Generator, n: int, families: tuple[str, ...] = ()) -> np.ndarray:
    """Client indices drawn as legitimate developers choose them (optionally within families)."""
    if families not in _FAMILY_CACHE:
        idx = of_family(*families) if families else np.arange(len(CLIENTS))
        _FAMILY_CACHE[families] = (idx, np.cumsum(WEIGHTS[idx] / WEIGHTS[idx].sum()))
    idx, cum = _FAMILY_CACHE[families]
    pos = np.minimum(np.searchsorted(cum, rng.random(n), side="right"), len(idx) - 1)
    return idx[pos]
