"""Evidence in plain words: one sentence per signal, with its numbers.

Used for ``account_scores.top_reasons`` and ``stillwatch explain``. Never names another
account and never quotes prompt text (frames are shown only by ``explain --show-text``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * float(x):.0f}%"


def _num(x: Any, digits: int = 1) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int) or float(x).is_integer():
        return f"{int(x):,}"
    return f"{float(x):,.{digits}f}"


FEATURE_WORDS: dict[str, Callable[[Any], str]] = {
    "quiet_window_share": lambda v: f"{_pct(v)} of its traffic falls in its quietest six hours",
    "weekend_share": lambda v: f"{_pct(v)} on weekends (flat would be 29%)",
    "hour_of_week_coverage": lambda v: f"active in {_pct(v)} of the hours of the week it spans",
    "interarrival_cv": lambda v: f"gap variation {_num(v, 2)} (random arrivals give 1)",
    "daily_volume_cv": lambda v: f"daily volume varies by {_pct(v)}",
    "exchanges": lambda v: f"{_num(v)} exchanges",
    "active_days": lambda v: f"{_num(v)} active days",
    "exchanges_per_active_day": lambda v: f"{_num(v)} exchanges per active day",
    "max_cap_share": lambda v: f"{_pct(v)} of requests ask for the model's largest output cap",
    "capped_share": lambda v: f"{_pct(v)} of answers run into the cap",
    "output_input_ratio": lambda v: f"{_num(v)} output tokens per input token",
    "thinking_share": lambda v: f"{_pct(v)} of requests ask for extended thinking",
    "reasoning_share": lambda v: f"{_pct(v)} of output is reasoning",
    "conversations": lambda v: f"{_num(v)} conversations",
    "single_turn_share": lambda v: f"{_pct(v)} of conversations are a single turn",
    "mean_turn_depth": lambda v: f"{_num(v, 2)} turns per conversation on average",
    "age_days_at_first_use": lambda v: f"first used {_num(v)} days after registering",
    "verified": lambda v: "identity verified" if v else "not verified",
    "lifetime_days": lambda v: f"active until {_num(v)} days after registering",
    "linked_enforced_accounts": lambda v: (
        f"tied to {_num(v)} suspended or banned account(s) by card, network or domain"
    ),
    "hours_after_linked_ban": lambda v: (
        f"registered {_num(v)} hours after a tied account was banned" if v is not None else ""
    ),
}


def _rule_sentence(evidence: Mapping[str, Any]) -> str:
    parts = []
    for k, v in evidence.items():
        words = FEATURE_WORDS.get(k)
        text = words(v) if words else f"{k} {_num(v, 2) if not isinstance(v, str) else v}"
        if text:
            parts.append(text)
    return "; ".join(parts)


def _infra(e: Mapping[str, Any]) -> str:
    facts = e.get("shared", [])
    bits = [
        f"{f['type'].replace('_', ' ')} {f['value']} held by {f['holders']} accounts "
        f"(weight {f['weight']:.2f}; {_pct(f['usual_share'])} of accounts share some "
        f"{f['type'].replace('_', ' ')})"
        for f in facts[:3]
    ]
    head = (
        f"shares rare infrastructure with {e.get('partners', 0)} account(s), "
        f"{e.get('strong_partners', 0)} of them strongly (tie strength {e.get('tie_strength', 0):.1f} against {e.get('usual_tie_strength', 0):.1f} "
        "for the median account)"
    )
    return head + (": " + "; ".join(bits) if bits else "")


def _sync(e: Mapping[str, Any]) -> str:
    return (
        f"busy in the same minutes as {e['partners']} other account(s) (best Jaccard "
        f"{e['best_jaccard']:.2f}, {e['best_lift']:.0f}x what chance gives; "
        f"{e['active_minutes']} active minutes)"
    )


def _burst(e: Mapping[str, Any]) -> str:
    return (
        f"registered with {e['burst'] - 1} other account(s) within {e['window_hours']:g} h on the "
        f"same {e['key'].replace('_', ' ')} {e['value']} (about {e['expected']:.2f} expected); "
        f"{_pct(e['unverified_share'])} of them unverified"
    )


def _pivot(e: Mapping[str, Any]) -> str:
    return (
        f"moved to a new model {e['lag_hours']:.0f} h after its release together with "
        f"{e['partners_switched']} of its {e['partners_before']} linked accounts "
        f"({_pct(e['share'])}; {_pct(e['population_share'])} of all accounts switched)"
    )


def _frames(e: Mapping[str, Any]) -> str:
    return f"{_pct(e['share'])} of {e['prompts']} sampled prompts use frames shared across accounts"


def _prompts(e: Mapping[str, Any]) -> str:
    return (
        f"{_pct(e['share'])} of its {e['prompts']} distinct prompts are sent word for word by "
        f"other accounts too (up to {e['max_sharing_accounts']})"
    )


def _elicit(e: Mapping[str, Any]) -> str:
    return f"{_pct(e['share'])} of {e['prompts']} sampled prompts ask for reasoning or grading"


def _capability(e: Mapping[str, Any]) -> str:
    return f"{_pct(e['share'])} of {e['prompts']} sampled prompts target {e['capability']}"


def _partner(e: Mapping[str, Any]) -> str:
    near = (
        ""
        if e.get("best_similarity") is None
        else f", frames up to {_pct(e['best_similarity'])} alike"
    )
    return (
        f"carries {e['indicators']} indicator(s) of {e['partner_campaigns']} campaign(s) shared "
        f"by {e['partners']} partner(s) ({', '.join(e['kinds'])}; in up to {_num(e['exchanges'])} "
        f"of its exchanges{near})"
    )


SENTENCES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "infrastructure.shared-rare": _infra,
    "synchrony.same-minutes": _sync,
    "registration.burst": _burst,
    "models.release-pivot": _pivot,
    "content.shared-frames": _frames,
    "prompts.shared-hashes": _prompts,
    "content.elicitation": _elicit,
    "content.capability-focus": _capability,
    "intel.matches": _partner,
}


def sentence(detector: str, evidence: Mapping[str, Any]) -> str:
    """The fact behind a signal, in words with its numbers."""
    words = SENTENCES.get(detector)
    return words(evidence) if words else _rule_sentence(evidence)
