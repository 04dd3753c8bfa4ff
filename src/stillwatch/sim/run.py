"""``simulate``: one scenario, one scale, one seed → a data set folder with its ground truth."""

from __future__ import annotations

import json
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from stillwatch.errors import UsageError
from stillwatch.schema import ACCOUNTS, ENFORCEMENTS, EXCHANGES, LABELS_ACCOUNTS, LABELS_EXCHANGES
from stillwatch.sim import clients
from stillwatch.sim import corpus as corpus_mod
from stillwatch.sim import enforcement as enforcement_mod
from stillwatch.sim.cast import CAMPAIGN, DAY_MS, Cast
from stillwatch.sim.enforcement import Enforcement
from stillwatch.sim.network import AddressBook
from stillwatch.sim.operators import OperatorCast
from stillwatch.sim.organizations import Organizations, populate
from stillwatch.sim.prompts import PromptLibrary
from stillwatch.sim.scenario import (
    FRAMEWORK_SYSTEM_SHARE,
    LEGIT_FAMILY_SHARES,
    RING_TRADES,
    RINGS_PER_SCENARIO,
    SCALES,
    Scenario,
    load,
    ring_params,
)
from stillwatch.sim.sessions import SessionWriter
from stillwatch.sim.sketch import Sketcher
from stillwatch.sim.tactics import OperatorPrompts, RingPrompts
from stillwatch.sim.traffic import Traffic
from stillwatch.sim.writer import StreamWriter, write_table

WINDOW_START = datetime(2026, 4, 22, tzinfo=UTC)
SIMULATOR_VERSION = "2.2"  # 2.1, 2.2: wording only (2.2: composed options, varied content ends)
GENERIC_SYSTEMS = (
    "You are a helpful assistant.",
    "You are a helpful assistant.",
    "You are an expert software engineer.",
    "You are a helpful, concise assistant. Answer in the user's language.",
)
# System prompts that agent frameworks ship: every account using the framework sends one.
FRAMEWORK_SYSTEMS = (
    "You are an autonomous agent. You can call the tools listed below. Think about which tool "
    "to use, call it, observe the result, and repeat until the task is complete. When done, "
    "reply with FINAL ANSWER followed by the answer.",
    "You are a helpful AI assistant with access to a shell and a file editor. Work step by "
    "step. Before each action, explain your reasoning briefly. Never run destructive commands "
    "without confirmation.",
    "Answer the following questions as best you can. You have access to the following tools. "
    "Use the format: Thought, Action, Action Input, Observation (repeat as needed), then "
    "Thought: I now know the final answer, Final Answer.",
)
# The files a simulation writes into its folder: all that --overwrite removes.
OUTPUT_NAMES = (
    "exchanges.parquet",
    "exchanges",
    "accounts.parquet",
    "enforcements.parquet",
    "labels_accounts.parquet",
    "labels_exchanges.parquet",
    "labels_exchanges",
    "manifest.json",
)
# share of rows whose prompt text is kept (hashes are kept for all), per scale
KEEP_TEXT = {"small": 1.0, "medium": 1.0, "large": 0.05}


def _seeded(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def build_cast(
    scenario: Scenario,
    scale: str,
    seed: int,
    operator_seed: int,
    t0: int,
    t_end: int,
    release_ms: int | None,
) -> tuple[Cast, AddressBook, list[Enforcement], list[str]]:
    """Every account: the legitimate population (with its abuse rings) from ``seed``, the
    operators' accounts from ``operator_seed``; the enforcements; each ring's trade."""
    cfg = SCALES[scale]
    cast = Cast(id_rng=_seeded(seed, 11))
    for text in (*GENERIC_SYSTEMS, *FRAMEWORK_SYSTEMS):
        cast.add_system(text)
    book = AddressBook(_seeded(seed, 2))
    rng = _seeded(seed, 3)
    n_legit = int(cfg["legit"] * rng.uniform(1.0, 1.1))
    pop = Organizations(rng, cast, book, t0, t_end, release_ms, cfg["factor"])
    populate(pop, n_legit, scenario.population)
    ring_rng = _seeded(seed, 12)
    rings = OperatorCast(ring_rng, cast, book, t0, t_end, release_ms, 1.0, role="ring")
    n_rings = round(RINGS_PER_SCENARIO * n_legit / 11_000 * scenario.population["abuse-ring"])
    trades = []
    for i in range(n_rings):
        trades.append(str(ring_rng.choice(list(RING_TRADES), p=list(RING_TRADES.values()))))
        rings.build(ring_params(ring_rng), i, group=1000 + i)
    ops = OperatorCast(_seeded(operator_seed, 4), cast, book, t0, t_end, release_ms, cfg["factor"])
    for i, op in enumerate(scenario.operators):
        ops.build(op, i)
    cast.freeze()
    a = cast.arrays
    # system prompts: a framework's for most of its users (operators included), a generic
    # one for many developers
    sys_rng = _seeded(seed, 5)
    system = a["system"]
    n = len(system)
    framework = np.isin(a["client"], clients.of_family("framework"))
    uses_framework = (system == -1) & (
        (framework & (sys_rng.random(n) < 0.5))
        | ((a["content"] != CAMPAIGN) & (sys_rng.random(n) < FRAMEWORK_SYSTEM_SHARE))
    )
    system[uses_framework] = len(GENERIC_SYSTEMS) + sys_rng.integers(
        0, len(FRAMEWORK_SYSTEMS), int(uses_framework.sum())
    )
    generic = (system == -1) & (sys_rng.random(n) < 0.3)
    system[generic] = sys_rng.integers(0, len(GENERIC_SYSTEMS), int(generic.sum()))
    ordinary = np.nonzero((a["kind"] != "campaign") & (a["kind"] != "benign:abuse-ring"))[0]
    enf = (
        ops.enforcements
        + rings.enforcements
        + enforcement_mod.legitimate(_seeded(seed, 6), a, ordinary, t0, t_end)
    )
    return cast, book, enf, trades


def _ms(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype="datetime64[ms]")


def simulate(
    scenario: str | None = None,
    scale: str = "small",
    seed: int = 1,
    out: str | Path = "dataset",
    scenario_file: str | Path | None = None,
    days: int | None = None,
    operator_seed: int | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Write a simulated data set to ``out`` and return its summary (days, accounts, exchanges…).

    ``operator_seed`` (default ``seed``) draws the operators (parameters, frames,
    infrastructure, payment) apart from the legitimate population, so one operator can appear
    in data sets with different populations. ``out`` must be empty or new; with ``overwrite``
    the files an earlier simulation wrote there are removed first (and nothing else).
    """
    if scale not in SCALES:
        raise UsageError(f"unknown scale {scale!r}; choose small, medium or large")
    for flag, value in (("--seed", seed), ("--operator-seed", operator_seed)):
        if value is not None and (isinstance(value, bool) or not 0 <= value < 2**63):
            raise UsageError(f"{flag} takes a non-negative integer, got {value}")
    if days is not None and days < 1:
        raise UsageError(f"--days must be at least 1, got {days}")
    started = time.perf_counter()
    op_seed = seed if operator_seed is None else operator_seed
    sc = load(scenario, scenario_file, seed, op_seed)
    folder = Path(out)
    prepare_folder(folder, overwrite)
    n_days = int(days or SCALES[scale]["days"])
    t0 = int(WINDOW_START.timestamp() * 1000)
    t_end = t0 + n_days * DAY_MS
    release_ms = None
    if sc.release_day is not None:
        release_ms = t0 + int(min(sc.release_day, n_days - 2) * DAY_MS)
    corpus = corpus_mod.load()
    lib = PromptLibrary(corpus, _seeded(seed, 1))
    cast, book, enforcements, trades = build_cast(sc, scale, seed, op_seed, t0, t_end, release_ms)
    op_rng = _seeded(op_seed, 7)
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
    ring_rng = _seeded(seed, 13)
    writer = SessionWriter(
        _seeded(seed, 8),
        lib,
        operators,
        cast.templates,
        [bool(op["wrapper"]) for op in sc.operators],
        voice_bits=cast.voices,
        rings=[RingPrompts(ring_rng, lib, trade) for trade in trades],
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
    legit_seen = traffic.accounts_seen & (cast.arrays["kind"] != "campaign")
    n_legit_seen = max(1, int(legit_seen.sum()))
    families = {
        fam: {
            "target_share": LEGIT_FAMILY_SHARES[fam],
            "legitimate_accounts": len(who := writer.spoken.get(fam, set())),
            "legitimate_share": round(len(who) / n_legit_seen, 4),
        }
        for fam in LEGIT_FAMILY_SHARES
    }
    summary.update(
        scenario=sc.name,
        scale=scale,
        seed=seed,
        operator_seed=op_seed,
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
        "operator_seed": op_seed,
        "scale": scale,
        "window_start": WINDOW_START.isoformat(),
        "days": n_days,
        "release": None
        if release_ms is None
        else datetime.fromtimestamp(release_ms / 1000, UTC).isoformat(),
        "corpus_versions": corpus.versions,
        "legitimate_families": {
            "note": (
                "share of legitimate accounts with traffic that sent at least one prompt "
                "of each wording family in their own phrasing (on rows whose text is kept)"
            ),
            **families,
        },
        "abuse_rings": trades,
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


def prepare_folder(folder: Path, overwrite: bool) -> None:
    """Make ``folder`` ready: new or empty; with ``overwrite``, an earlier simulation's files
    are removed. A folder holding anything else is refused: an ingest of the folder would
    take those files for part of the new data set."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder} is a file; give a folder")
    if folder.is_dir():
        present = sorted(p.name for p in folder.iterdir())
        ours = [n for n in present if n in OUTPUT_NAMES]
        others = [n for n in present if n not in OUTPUT_NAMES]
        if others:
            shown = ", ".join(others[:5]) + (" …" if len(others) > 5 else "")
            raise UsageError(
                f"--out {folder} holds files the simulator did not write ({shown}); "
                "choose an empty or new folder"
            )
        if ours and not overwrite:
            raise UsageError(
                f"--out {folder} already holds a data set; add --overwrite to replace it "
                "or choose another folder"
            )
        for name in ours:
            path = folder / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
    folder.mkdir(parents=True, exist_ok=True)


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
