"""The bench quality payload as one table per scenario: a row per figure, a column per method."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# (key in the worst-of-seeds figures, label, format)
FIGURES: tuple[tuple[str, str, str], ...] = (
    ("pr_auc", "PR-AUC", "{:.3f}"),
    ("roc_auc", "ROC-AUC", "{:.3f}"),
    ("precision", "precision", "{:.3f}"),
    ("recall", "recall", "{:.3f}"),
    ("flagged", "flagged accounts", "{:.0f}"),
    ("false_positives", "false positives", "{:.0f}"),
    ("fp_per_10k", "FP per 10k legitimate", "{:.1f}"),
    ("bcubed_f1", "B-cubed F1", "{:.3f}"),
    ("ari", "adjusted Rand index", "{:.3f}"),
    ("operator_attribution", "operators attributed", "{:.2f}"),
    ("campaigns_matched_share", "campaigns matched", "{:.2f}"),
    ("exchanges_relative_error", "exchanges rel. error", "{:.2f}"),
    ("accounts_relative_error", "accounts rel. error", "{:.2f}"),
    ("first_day_error", "first-day error (days)", "{:.1f}"),
    ("last_day_error", "last-day error (days)", "{:.1f}"),
    ("interval_coverage", "interval coverage", "{:.2f}"),
    ("wall_seconds", "wall time (s)", "{:.1f}"),
    ("ingest_seconds", "  of which ingest (s)", "{:.1f}"),
    ("peak_memory_mb", "peak memory (MB)", "{:.0f}"),
)
LOOK_ALIKES_ONLY = {
    "flagged", "false_positives", "fp_per_10k", "wall_seconds", "ingest_seconds", "peak_memory_mb",
}  # fmt: skip


def _cell(value: Any, fmt: str) -> str:
    return "–" if value is None else fmt.format(value)


def scenario_rows(scenario: dict[str, Any], methods: Sequence[str]) -> list[dict[str, str]]:
    """Rows of one scenario's table: every figure METRICS.md defines, worst over the seeds."""
    worst = scenario["worst"]
    only_flags = scenario["scenario"] == "look-alikes-only"
    rows: list[dict[str, str]] = []
    for key, label, fmt in FIGURES:
        if only_flags and key not in LOOK_ALIKES_ONLY:
            continue
        rows.append({"figure": label, **{m: _cell(worst[m].get(key), fmt) for m in methods}})
        if key == "fp_per_10k":
            # Per look-alike kind: a rate where 10,000 legitimate accounts allow one, else a count.
            kinds = sorted(
                {
                    k.split(":", 1)[1]
                    for m in methods
                    for k in worst[m]
                    if k.startswith("fp_per_10k:")
                }
            )
            prefix, kind_fmt = "fp_per_10k", "{:.1f}"
            if not kinds:
                kinds = sorted(
                    {
                        k.split(":", 1)[1]
                        for m in methods
                        for k in worst[m]
                        if k.startswith("false_positives:")
                    }
                )
                prefix, kind_fmt = "false_positives", "{:.0f}"
            for kind in kinds:
                rows.append(
                    {
                        # A plain "benign" account is an ordinary user, not a look-alike.
                        "figure": f"  {'ordinary users' if kind == 'benign' else kind}",
                        **{m: _cell(worst[m].get(f"{prefix}:{kind}"), kind_fmt) for m in methods},
                    }
                )
    return rows


def scenario_title(scenario: dict[str, Any]) -> str:
    runs = scenario["runs"]
    seeds = sorted({r["seed"] for r in runs})
    first = runs[0]["figures"] if runs else {}
    span = f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 1 else (str(seeds[0]) if seeds else "none")
    return (
        f"{scenario['scenario']} v{scenario.get('scenario_version')} · {scenario['scale']} · "
        f"worst of seeds {span}\n"
        f"{first.get('campaign_accounts', 0)} campaign and "
        f"{first.get('legitimate_accounts', 0)} legitimate accounts (seed {seeds[0] if seeds else '–'})"
    )
