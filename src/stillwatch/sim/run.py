"""``simulate``: one scenario, one scale, one seed → a data set folder with its ground truth."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from stillwatch.errors import UsageError
from stillwatch.schema import ACCOUNTS, ENFORCEMENTS, EXCHANGES, LABELS_ACCOUNTS, LABELS_EXCHANGES
from stillwatch.sim import corpus as corpus_mod
from stillwatch.sim.cast import DAY_MS, Cast
from stillwatch.sim.network import AddressBook
from stillwatch.sim.operators import Enforcement, OperatorCast
from stillwatch.sim.organizations import Organizations, populate
from stillwatch.sim.prompts import PromptLibrary
from stillwatch.sim.scenario import SCALES, Scenario, load
from stillwatch.sim.sessions import SessionWriter
from stillwatch.sim.sketch import Sketcher
from stillwatch.sim.tactics import OperatorPrompts
from stillwatch.sim.traffic import Traffic
from stillwatch.sim.writer import StreamWriter, write_table

WINDOW_START = datetime(2026, 4, 22, tzinfo=UTC)
SIMULATOR_VERSION = "1"
GENERIC_SYSTEMS = (
    "You are a helpful assistant.",
    "You are a helpful assistant.",
    "You are an expert software engineer.",
    "You are a helpful, concise assistant. Answer in the user's language.",
)
# share of rows whose prompt text is kept (hashes are kept for all), per scale
KEEP_TEXT = {"small": 1.0, "medium": 1.0, "large": 0.05}


def _seeded(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _legit_enforcements(
    rng: np.random.Generator, cast: Cast, t0: int, t_end: int
) -> list[Enforcement]:
    """Routine actions on legitimate accounts: throttles, challenges, a few suspensions."""
    out = []
    legit = np.nonzero(cast.arrays["kind"] != "campaign")[0]
    for i in legit[rng.random(len(legit)) < 0.006].tolist():
        ts = int(rng.uniform(t0, t_end))
        action = str(rng.choice(["throttle", "challenge", "suspend"], p=[0.5, 0.35, 0.15]))
        out.append(
            Enforcement(i, ts, action, "rate-abuse" if action == "throttle" else "payment-review")
        )
        if action == "suspend":
            out.append(
                Enforcement(i, ts + int(rng.uniform(2, 48) * 3_600_000), "reinstate", "appeal")
            )
    return out


def build_cast(
    scenario: Scenario,
    scale: str,
    seed: int,
    lib: PromptLibrary,
    t0: int,
    t_end: int,
    release_ms: int | None,
) -> tuple[Cast, AddressBook, list[Enforcement]]:
    cfg = SCALES[scale]
    cast = Cast(id_rng=_seeded(seed, 11))
    for text in GENERIC_SYSTEMS:
        cast.add_system(text)
    book = AddressBook(_seeded(seed, 2))
    rng = _seeded(seed, 3)
    n_legit = int(cfg["legit"] * rng.uniform(1.0, 1.1))
    pop = Organizations(rng, cast, book, t0, t_end, release_ms, cfg["factor"])
    populate(pop, n_legit, scenario.population)
    ops = OperatorCast(_seeded(seed, 4), cast, book, t0, t_end, release_ms, cfg["factor"])
    for i, op in enumerate(scenario.operators):
        ops.build(op, i)
    cast.freeze()
    # generic system prompts: many developers and some operators send the same few
    sys_rng = _seeded(seed, 5)
    system = cast.arrays["system"]
    generic = (system == -1) & (sys_rng.random(len(system)) < 0.3)
    system[generic] = sys_rng.integers(0, len(GENERIC_SYSTEMS), int(generic.sum()))
    enf = ops.enforcements + _legit_enforcements(_seeded(seed, 6), cast, t0, t_end)
    return cast, book, enf


def _ms(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[ms]")


def simulate(
    scenario: str | None = None,
    scale: str = "small",
    seed: int = 1,
    out: str | Path = "dataset",
    scenario_file: str | Path | None = None,
    days: int | None = None,
) -> dict[str, Any]:
    """Write a simulated data set to ``out`` and return its summary (days, accounts, exchanges…)."""
    if scale not in SCALES:
        raise UsageError(f"unknown scale {scale!r}; choose small, medium or large")
    started = time.perf_counter()
    sc = load(scenario, scenario_file, seed)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    n_days = int(days or SCALES[scale]["days"])
    t0 = int(WINDOW_START.timestamp() * 1000)
    t_end = t0 + n_days * DAY_MS
    release_ms = None
    if sc.release_day is not None:
        release_ms = t0 + int(min(sc.release_day, n_days - 2) * DAY_MS)
    corpus = corpus_mod.load()
    lib = PromptLibrary(corpus, _seeded(seed, 1))
    cast, book, enforcements = build_cast(sc, scale, seed, lib, t0, t_end, release_ms)
    op_rng = _seeded(seed, 7)
    operators = [
        OperatorPrompts(
            op_rng,
            lib,
            op["capabilities"],
            str(op["style"]),
            int(op["frames"]),
            float(op["cot_share"]),
            float(op["grader_share"]),
            float(op["zh_share"]),
        )
        for op in sc.operators
    ]
    writer = SessionWriter(
        _seeded(seed, 8),
        lib,
        operators,
        cast.templates,
        [bool(op["wrapper"]) for op in sc.operators],
    )
    sketcher = None
    if KEEP_TEXT[scale] < 1:
        sketcher = Sketcher(
            _seeded(seed, 10),
            corpus,
            [bool(op["wrapper"]) for op in sc.operators],
            [op["style"] == "template" for op in sc.operators],
        )
    traffic = Traffic(
        _seeded(seed, 9),
        cast,
        book,
        writer,
        t0,
        n_days,
        release_ms,
        keep_text=KEEP_TEXT[scale],
        sketcher=sketcher,
        chunks_per_day=4 if scale == "large" else 1,
    )
    book.release()  # the traffic generator holds its own compact copy of the addresses
    parts = scale == "large"
    ex_out = StreamWriter(folder, EXCHANGES, parts, compression="lz4" if parts else "zstd")
    lab_out = StreamWriter(folder, LABELS_EXCHANGES, parts)
    campaign_rows = 0
    for batch, labels in traffic.batches():
        ex_out.write(batch)
        lab_out.write(labels)
        campaign_rows += labels.num_rows
    ex_out.close()
    lab_out.close()
    summary = _write_tables(folder, cast, enforcements, traffic.accounts_seen)
    summary.update(
        scenario=sc.name,
        scale=scale,
        seed=seed,
        days=n_days,
        exchanges=ex_out.rows,
        campaign_exchanges=campaign_rows,
    )
    manifest = {
        "simulator_version": SIMULATOR_VERSION,
        "scenario": sc.name,
        "scenario_version": sc.version,
        "scenario_source": sc.source,
        "seed": seed,
        "scale": scale,
        "window_start": WINDOW_START.isoformat(),
        "days": n_days,
        "release": None
        if release_ms is None
        else datetime.fromtimestamp(release_ms / 1000, UTC).isoformat(),
        "corpus_versions": corpus.versions,
        "text": {
            "corpus_turns_used_verbatim": lib.used_verbatim,
            "corpus_turns_reused_with_variation": lib.varied,
            "generated_prompts": lib.generated,
            "prompt_text_kept_share": KEEP_TEXT[scale],
            "note": (
                "prompt_sha256 is on every row. Where the prompt text is kept it is the SHA-256 "
                "of that text; on rows whose text is not kept (large scale) it is a 256-bit "
                "digest of the prompt's identity (corpus turn, benchmark item, operator frame "
                "and slot), so equal prompts share a value as equal hashes would."
            ),
        },
        "summary": summary,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def _write_tables(
    folder: Path, cast: Cast, enforcements: list[Enforcement], seen: np.ndarray
) -> dict[str, Any]:
    """Accounts (those with traffic), enforcements and account labels."""
    c = cast.arrays
    keep = np.nonzero(seen)[0]
    # rows ordered by their random ids: nothing about role may be read from position
    keep = keep[np.argsort(c["account_id"][keep])]

    def pick(name: str) -> list[Any]:
        return c[name][keep].tolist()

    write_table(
        folder / "accounts.parquet",
        ACCOUNTS,
        {
            "account_id": pick("account_id"),
            "created_at": _ms(pick("created_ms")),
            "email_domain": pick("email_domain"),
            "payment_fingerprint": pick("payment_fingerprint"),
            "signup_ip": pick("signup_ip"),
            "country": pick("country"),
            "signup_path": pick("signup_path"),
            "org_name": pick("org_name"),
            "verified": pick("verified"),
        },
    )
    write_table(
        folder / "labels_accounts.parquet",
        LABELS_ACCOUNTS,
        {
            "account_id": pick("account_id"),
            "operator_id": pick("operator_id"),
            "campaign_id": pick("campaign_id"),
            "kind": pick("kind"),
        },
    )
    enf = sorted(
        (e for e in enforcements if seen[e.account]),
        key=lambda e: (e.ts, c["account_id"][e.account]),
    )
    write_table(
        folder / "enforcements.parquet",
        ENFORCEMENTS,
        {
            "account_id": [c["account_id"][e.account] for e in enf],
            "ts": _ms([e.ts for e in enf]),
            "action": [e.action for e in enf],
            "api_key_id": [None] * len(enf),
            "reason": [e.reason for e in enf],
        },
    )
    kinds = c["kind"][keep].tolist()
    return {
        "accounts": len(keep),
        "campaign_accounts": sum(k == "campaign" for k in kinds),
        "legitimate_accounts": sum(k != "campaign" for k in kinds),
        "operators": len({o for o in c["operator_id"][keep].tolist() if o}),
        "enforcements": len(enf),
    }
