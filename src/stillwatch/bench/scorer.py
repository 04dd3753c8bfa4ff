"""The one scorer: ``shared/design/METRICS.md``, exactly, for any method's result.

Conventions where METRICS.md leaves a choice (each stated once, here):

- An account a method did not score gets score 0; scores for accounts the truth does not
  know are ignored.
- A figure that is undefined for a run (no campaign accounts, nothing flagged, too few
  legitimate accounts for a rate per 10,000) is ``None``, never a made-up 0 or 1.
- A scenario without campaign accounts (``look-alikes-only``) gets flagged accounts and
  false positives only.
- False positives per 10,000 by look-alike kind use all legitimate accounts as the
  denominator, so the kinds add up to the overall figure.
- Operator attribution: an operator's flagged accounts "mostly carry" a predicted operator id
  when more than half of them carry it; a campaign reported without an operator id gives its
  accounts none.
- Size: a true campaign no predicted campaign touches is unmatched; errors and coverage are
  over matched campaigns, and ``campaigns_matched`` says how many that was. Ties in the match
  go to the earlier predicted campaign.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.metrics import adjusted_rand_score, average_precision_score, roc_auc_score

from stillwatch.bench.method import MethodResult
from stillwatch.bench.truth import Truth

MIN_LEGITIMATE_FOR_RATE = 10_000


@dataclass(frozen=True)
class CampaignSize:
    """How one true campaign's reported size compares with the truth."""

    campaign_id: str
    matched: bool
    exchanges_relative_error: float | None = None
    accounts_relative_error: float | None = None
    first_day_error: int | None = None
    last_day_error: int | None = None
    covered: bool | None = None
    # Beside the exchanges interval (``covered``): the accounts interval, when reported, and
    # each interval's half-width relative to the estimate.
    accounts_covered: bool | None = None
    exchanges_half_width: float | None = None
    accounts_half_width: float | None = None
    # The raw figures behind them, so intervals can be studied afterwards
    # (``stillwatch bench intervals``): the truth, the estimate, the interval.
    true_exchanges: int | None = None
    true_accounts: int | None = None
    estimated_exchanges: int | None = None
    estimated_accounts: int | None = None
    exchanges_interval: tuple[int, int] | None = None
    accounts_interval: tuple[int, int] | None = None
    member_exchanges: int | None = None


@dataclass(frozen=True)
class QualityFigures:
    """Every figure METRICS.md defines, for one method on one data set."""

    accounts: int
    legitimate_accounts: int
    campaign_accounts: int
    flagged: int
    false_positives: int
    false_positives_by_kind: dict[str, int]
    fp_per_10k: float | None
    fp_per_10k_by_kind: dict[str, float] | None
    pr_auc: float | None = None
    roc_auc: float | None = None
    precision: float | None = None
    recall: float | None = None
    bcubed_precision: float | None = None
    bcubed_recall: float | None = None
    bcubed_f1: float | None = None
    ari: float | None = None
    operators: int = 0
    operator_attribution: float | None = None
    true_campaigns: int = 0
    campaigns_matched: int = 0
    exchanges_relative_error: float | None = None
    accounts_relative_error: float | None = None
    first_day_error: float | None = None
    last_day_error: float | None = None
    covered: int = 0
    campaign_sizes: list[CampaignSize] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def aligned_scores(truth: Truth, result: MethodResult) -> np.ndarray:
    """The method's score for each truth account, in truth order (0 where it gave none)."""
    scores = np.zeros(len(truth.account_ids))
    ids = result.account_scores.account_ids
    if len(ids) == 0:
        return scores
    order = np.argsort(truth.account_ids)
    pos = np.searchsorted(truth.account_ids[order], ids)
    pos = np.clip(pos, 0, len(order) - 1)
    known = truth.account_ids[order][pos] == ids
    scores[order[pos[known]]] = result.account_scores.values[known]
    return scores


def predicted_campaign_index(truth: Truth, result: MethodResult) -> np.ndarray:
    """Index of the reported campaign holding each truth account, -1 where none."""
    index_of = {a: k for k, c in enumerate(result.campaigns) for a in c.accounts}
    return np.array([index_of.get(a, -1) for a in truth.account_ids], dtype=np.int64)


def _codes(labels: np.ndarray) -> np.ndarray:
    return np.unique(labels.astype(str), return_inverse=True)[1]


def bcubed(true_labels: np.ndarray, predicted_labels: np.ndarray) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a clustering (labels as integer codes)."""
    n = len(true_labels)
    ones = np.ones(n)
    contingency = sparse.coo_matrix((ones, (true_labels, predicted_labels))).tocsr()
    true_sizes = np.asarray(contingency.sum(axis=1)).ravel()
    predicted_sizes = np.asarray(contingency.sum(axis=0)).ravel()
    cells = contingency.tocoo()
    squared = cells.data**2
    precision = float(np.sum(squared / predicted_sizes[cells.col]) / n)
    recall = float(np.sum(squared / true_sizes[cells.row]) / n)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def operator_attribution(
    true_operators: np.ndarray, predicted_operators: np.ndarray, flagged: np.ndarray
) -> float | None:
    """Share of true operators whose flagged accounts mostly carry one predicted operator id
    that no other true operator's flagged accounts mostly carry."""
    operators = sorted({o for o in true_operators if o is not None})
    if not operators:
        return None
    majority: dict[str, str | None] = {}
    for op in operators:
        mine = flagged & (true_operators == op)
        carried = Counter(p for p in predicted_operators[mine] if p is not None)
        top = carried.most_common(1)
        majority[op] = top[0][0] if top and 2 * top[0][1] > int(mine.sum()) else None
    held = Counter(m for m in majority.values() if m is not None)
    attributed = sum(1 for m in majority.values() if m is not None and held[m] == 1)
    return attributed / len(operators)


def _campaign_sizes(
    truth: Truth, result: MethodResult, predicted: np.ndarray
) -> list[CampaignSize]:
    sizes: list[CampaignSize] = []
    for cid, true in truth.campaigns.items():
        holders = predicted[(truth.campaign_ids == cid) & (predicted >= 0)]
        if len(holders) == 0:
            sizes.append(CampaignSize(cid, matched=False))
            continue
        counts = np.bincount(holders)
        match = result.campaigns[int(np.argmax(counts))]  # argmax: ties go to the earlier
        low, high = match.exchanges_interval
        sizes.append(
            CampaignSize(
                cid,
                matched=True,
                exchanges_relative_error=(
                    abs(match.estimated_exchanges - true.exchanges) / true.exchanges
                    if true.exchanges
                    else None
                ),
                accounts_relative_error=abs(match.estimated_accounts - true.accounts)
                / true.accounts,
                first_day_error=(
                    abs((match.first_day - true.first_day).days) if true.first_day else None
                ),
                last_day_error=(
                    abs((match.last_day - true.last_day).days) if true.last_day else None
                ),
                covered=bool(low <= true.exchanges <= high),
                accounts_covered=(
                    bool(match.accounts_interval[0] <= true.accounts <= match.accounts_interval[1])
                    if match.accounts_interval
                    else None
                ),
                exchanges_half_width=(
                    (high - low) / 2 / match.estimated_exchanges
                    if match.estimated_exchanges
                    else None
                ),
                accounts_half_width=(
                    (match.accounts_interval[1] - match.accounts_interval[0])
                    / 2
                    / match.estimated_accounts
                    if match.accounts_interval and match.estimated_accounts
                    else None
                ),
                true_exchanges=int(true.exchanges),
                true_accounts=int(true.accounts),
                estimated_exchanges=int(match.estimated_exchanges),
                estimated_accounts=int(match.estimated_accounts),
                exchanges_interval=(int(low), int(high)),
                accounts_interval=(
                    (int(match.accounts_interval[0]), int(match.accounts_interval[1]))
                    if match.accounts_interval
                    else None
                ),
                member_exchanges=match.member_exchanges,
            )
        )
    return sizes


def _mean(values: list[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return float(np.mean(present)) if present else None


def score(truth: Truth, result: MethodResult) -> QualityFigures:
    """Score one method's result against the truth of one data set."""
    in_campaign = truth.in_campaign
    legitimate = ~in_campaign
    predicted = predicted_campaign_index(truth, result)
    flagged = predicted >= 0
    n_legit = int(legitimate.sum())
    n_campaign = int(in_campaign.sum())

    fp_mask = flagged & legitimate
    by_kind = Counter(str(k).removeprefix("benign:") for k in truth.kinds[fp_mask])
    look_alike_kinds = sorted({str(k).removeprefix("benign:") for k in truth.kinds[legitimate]})
    fp_by_kind = {k: by_kind.get(k, 0) for k in look_alike_kinds}
    rate_defined = n_legit >= MIN_LEGITIMATE_FOR_RATE
    base = dict(
        accounts=len(truth.account_ids),
        legitimate_accounts=n_legit,
        campaign_accounts=n_campaign,
        flagged=int(flagged.sum()),
        false_positives=int(fp_mask.sum()),
        false_positives_by_kind=fp_by_kind,
        fp_per_10k=(1e4 * int(fp_mask.sum()) / n_legit) if rate_defined else None,
        fp_per_10k_by_kind=(
            {k: 1e4 * v / n_legit for k, v in fp_by_kind.items()} if rate_defined else None
        ),
    )
    if n_campaign == 0:
        return QualityFigures(**base)  # type: ignore[arg-type]

    scores = aligned_scores(truth, result)
    pr_auc = float(average_precision_score(in_campaign, scores))
    roc_auc = float(roc_auc_score(in_campaign, scores)) if n_legit else None
    true_positives = int((flagged & in_campaign).sum())
    precision = true_positives / int(flagged.sum()) if flagged.any() else None
    recall = true_positives / n_campaign

    # Campaign level, over accounts in a true campaign or flagged: legitimate accounts are
    # their own true clusters, unflagged accounts their own predicted ones.
    universe = np.flatnonzero(in_campaign | flagged)
    own = np.array([f"account:{a}" for a in truth.account_ids[universe]], dtype=object)
    true_labels = np.where(in_campaign[universe], truth.campaign_ids[universe].astype(str), own)
    predicted_labels = np.where(
        flagged[universe], np.char.add("campaign:", predicted[universe].astype(str)), own
    )
    t_codes, p_codes = _codes(true_labels), _codes(predicted_labels)
    b_precision, b_recall, b_f1 = bcubed(t_codes, p_codes)
    operators = truth.operators
    ari = float(adjusted_rand_score(t_codes, p_codes)) if len(operators) >= 2 else None

    # The trailing None is what index -1 (an unflagged account) picks up.
    campaign_operator = np.array([c.operator_id for c in result.campaigns] + [None], dtype=object)
    attribution = operator_attribution(truth.operator_ids, campaign_operator[predicted], flagged)

    sizes = _campaign_sizes(truth, result, predicted)
    matched = [s for s in sizes if s.matched]
    return QualityFigures(
        **base,  # type: ignore[arg-type]
        pr_auc=pr_auc,
        roc_auc=roc_auc,
        precision=precision,
        recall=recall,
        bcubed_precision=b_precision,
        bcubed_recall=b_recall,
        bcubed_f1=b_f1,
        ari=ari,
        operators=len(operators),
        operator_attribution=attribution,
        true_campaigns=len(sizes),
        campaigns_matched=len(matched),
        exchanges_relative_error=_mean([s.exchanges_relative_error for s in matched]),
        accounts_relative_error=_mean([s.accounts_relative_error for s in matched]),
        first_day_error=_mean([s.first_day_error for s in matched]),
        last_day_error=_mean([s.last_day_error for s in matched]),
        covered=sum(1 for s in matched if s.covered),
        campaign_sizes=sizes,
    )
