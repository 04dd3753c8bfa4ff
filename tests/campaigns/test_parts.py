"""The campaign stage's parts on hand-made inputs: clustering, trimming, attribution, the
mixture that separates a hydra's resold traffic, the null model's threshold, stable ids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stillwatch.campaigns.attribution import bridges, operator_groups
from stillwatch.campaigns.cluster import (
    NamedValues,
    join_alike,
    leiden_cpm,
    merge_parts,
    rejoin_siblings,
    split_by_owned,
)
from stillwatch.campaigns.find import CampaignSettings, _Graph, _join_and_trim
from stillwatch.campaigns.identity import carry_ids, digest_id
from stillwatch.campaigns.judge import (
    JudgeSettings,
    accounts_weight,
    attach_outer,
    baseline_shares,
    cluster_scores,
    enforced_excess,
    established,
    federated_share,
    harvest_lift,
    kind_bits,
    own_customers,
    separate_values,
    stray_phrases,
    trim,
    without_stray_near,
)
from stillwatch.campaigns.null import null_threshold
from stillwatch.campaigns.signup import burst_weight
from stillwatch.campaigns.size import bootstrap_exchanges, mixture


def _clique(names: list[str], w: float, types: tuple[str, ...] = ("payment",)) -> list[dict]:
    return [
        {"a": x, "b": y, "weight": w, "link_types": list(types)}
        for i, x in enumerate(names)
        for y in names[i + 1 :]
    ]


OuterTie = tuple[int, int, float, list[dict]]


def _outer_ties(
    rows: list[OuterTie],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, NamedValues]:
    """``attach_outer``'s edge arrays from rows (node, member, owned weight, named values)."""
    a = np.array([r[0] for r in rows])
    b = np.array([r[1] for r in rows])
    return a, b, np.array([r[2] for r in rows]), NamedValues.of([r[3] for r in rows])


def test_cpm_keeps_two_rings_joined_by_one_weak_edge_apart() -> None:
    ring1 = [f"a{i}" for i in range(6)]
    ring2 = [f"b{i}" for i in range(5)]
    edges = pd.DataFrame(
        _clique(ring1, 0.8) + _clique(ring2, 0.8)
        + [{"a": "a0", "b": "b0", "weight": 0.3, "link_types": ["payment"]}]
    )  # fmt: skip
    nodes = np.array(sorted(ring1 + ring2), dtype=object)
    labels = leiden_cpm(nodes, edges, resolution=0.05)
    by = dict(zip(nodes, labels, strict=True))
    assert len({by[x] for x in ring1}) == 1 and len({by[x] for x in ring2}) == 1
    assert by["a0"] != by["b0"]
    assert (leiden_cpm(nodes, edges, 0.05) == labels).all()  # repeatable (fixed seed)


def test_pool_only_members_are_trimmed_and_pool_only_groups_split() -> None:
    # Nodes 0-3 share a card (owned); node 4 shares only a proxy range with them (a pool).
    a = np.array([0, 0, 0, 1, 1, 2, 4, 4, 4])
    b = np.array([1, 2, 3, 2, 3, 3, 0, 1, 2])
    w = np.array([0.6] * 6 + [0.3] * 3)
    owned = np.array([True] * 6 + [False] * 3)
    labels = np.zeros(5, dtype=np.int64)
    trimmed = trim(labels, a, b, w, owned, JudgeSettings(trim_strength=0.5, min_accounts=3))
    assert trimmed.tolist() == [0, 0, 0, 0, -1]
    # Two owned groups in one cluster, tied by a pool edge only, come apart.
    a2 = np.array([0, 1, 3, 4, 2])
    b2 = np.array([1, 2, 4, 5, 3])
    owned2 = np.array([True, True, True, True, False])
    parts = split_by_owned(np.zeros(6, dtype=np.int64), a2, b2, owned2)
    assert parts[0] == parts[1] == parts[2] and parts[3] == parts[4] == parts[5]
    assert parts[0] != parts[3]


def test_a_fleet_held_to_a_campaign_by_three_firm_ties_is_split_off() -> None:
    """Two dense groups of owned ties (30 and 12 accounts) inside one cluster, joined by three
    firm owned edges: connected parts keep them together, owned-tie communities do not."""
    big, small = list(range(30)), list(range(30, 42))
    pairs = [(x, y) for g in (big, small) for i, x in enumerate(g) for y in g[i + 1 :]]
    bridges_ = [(0, 30), (1, 31), (2, 32)]
    a = np.array([p[0] for p in pairs + bridges_])
    b = np.array([p[1] for p in pairs + bridges_])
    w = np.array([0.6] * len(pairs) + [0.5] * 3)
    labels = np.zeros(42, dtype=np.int64)
    owned = np.ones(len(a), dtype=bool)
    together = split_by_owned(labels, a, b, owned, w, min_tie=0.25)
    assert len(set(together.tolist())) == 1
    parts = split_by_owned(labels, a, b, owned, w, min_tie=0.25, resolution=0.02)
    assert len(set(parts[big].tolist())) == 1 and len(set(parts[small].tolist())) == 1
    assert parts[0] != parts[30]


def test_a_member_tied_far_more_weakly_than_the_rest_is_trimmed() -> None:
    """A 12-account operator tied by many shared frames (strength ~ 8 each) and a customer
    using one of its phrases, tied to ten of them at 0.1 (strength 1): the customer goes."""
    ops = list(range(12))
    pairs = [(x, y) for i, x in enumerate(ops) for y in ops[i + 1 :]]
    a = np.array([p[0] for p in pairs] + [12] * 10)
    b = np.array([p[1] for p in pairs] + list(range(10)))
    w = np.array([0.75] * len(pairs) + [0.1] * 10)
    labels = np.zeros(13, dtype=np.int64)
    kept = trim(labels, a, b, w, np.ones(len(a), dtype=bool), JudgeSettings())
    assert kept.tolist() == [0] * 12 + [-1]
    # without the relative bar (or among equals) the customer stays
    flat = trim(labels, a, b, w, np.ones(len(a), dtype=bool), JudgeSettings(relative_strength=0))
    assert flat.tolist() == [0] * 13


def test_an_outside_account_joins_when_several_owned_values_tie_it_to_the_campaign() -> None:
    # Cluster 0 is nodes 0-9. Node 10 shares two frames and a sign-up network with it (12
    # edges, three distinct values): it joins. Node 11 shares one frame with 12 members (one
    # value, however many edges): it stays out. Node 12 shares one sign-up network with one
    # member (a single edge, too light). Node 13 is tied to the campaign as to another group
    # (nodes 14-16, cluster 1, not a target): under the share, it stays out.
    labels = np.array([0] * 10 + [-1, -1, -1, -1] + [1, 1, 1])
    rows: list[OuterTie] = []
    for m in range(6):
        rows.append((10, m, 0.1, [{"key": "frame:f1", "weight": 0.1}]))
        rows.append((10, m + 4, 0.1, [{"key": "frame:f2", "weight": 0.1},
                                      {"key": "signup_prefix:1.2.3.0/24", "weight": 0.12}]))  # fmt: skip
    for m in range(10):
        rows.append((11, m, 0.12, [{"key": "frame:f3", "weight": 0.12}]))
    rows.append((12, 0, 0.26, [{"key": "signup_prefix:9.9.9.0/24", "weight": 0.26}]))
    for m in range(6):
        rows.append((13, m, 0.2, [{"key": f"frame:g{m}", "weight": 0.2}]))
        rows.append((13, 14 + m % 3, 0.4, [{"key": f"payment:c{m}", "weight": 0.4}]))
    a, b, ow, values = _outer_ties(rows)
    out = attach_outer(labels, a, b, ow, values, [0], 1.0, 0.8, 0.25)
    assert out[10] == 0
    assert out[11] == -1 and out[12] == -1 and out[13] == -1
    assert (out[:10] == 0).all() and (out[14:] == 1).all()
    # without a reported campaign to join, nobody moves
    assert (attach_outer(labels, a, b, ow, values, [], 1.0, 0.8, 0.25) == labels).all()


def test_an_account_tied_through_an_attached_account_joins_in_the_next_round() -> None:
    # Cluster 0 is nodes 0-9. Node 10 shares two frames with it: it joins in the first round.
    # Node 11 shares two other frames with node 10 only: in the first round node 10 is still
    # outside, so node 11 joins in the second. Node 12 shares one frame with node 11 (too light)
    # and a card with cluster 1 (nodes 13-15, not reported): it stays out.
    labels = np.array([0] * 10 + [-1, -1, -1] + [1, 1, 1])
    rows: list[OuterTie] = []
    for m in range(6):
        rows.append((10, m, 0.2, [{"key": "frame:f1", "weight": 0.2}]))
        rows.append((10, m + 4, 0.2, [{"key": "frame:f2", "weight": 0.2}]))
    rows.append((11, 10, 0.6, [{"key": "frame:g1", "weight": 0.6}]))
    rows.append((11, 10, 0.6, [{"key": "frame:g2", "weight": 0.6}]))
    rows.append((12, 11, 0.5, [{"key": "frame:g3", "weight": 0.5}]))
    rows += [(12, n, 0.5, [{"key": "payment:c1", "weight": 0.5}]) for n in (13, 14, 15)]
    a, b, ow, values = _outer_ties(rows)
    once = attach_outer(labels, a, b, ow, values, [0], 1.0, 0.6, 0.25, rounds=1)
    assert once[10] == 0 and once[11] == -1
    out = attach_outer(labels, a, b, ow, values, [0], 1.0, 0.6, 0.25)
    assert out[10] == 0 and out[11] == 0
    assert out[12] == -1 and (out[13:] == 1).all()


def test_one_frame_and_the_campaigns_own_sign_up_batch_attach_an_account() -> None:
    # Cluster 0 (nodes 0-11) registered in two batches of six, a week apart (hours 0.0-0.5
    # and 168.0-168.5). Nodes 12-14 each share one frame with ten members (one value: not
    # enough alone). Node 12 registered inside the first batch: it joins. Node 13 registered
    # a day later, alone: it stays out. Node 14 registered among nine members of a cluster
    # that registers three accounts an hour all fortnight (cluster 1): that is its usual
    # rate, no surprise, it stays out. An unknown time (node 12 as NaN) adds nothing.
    steady = np.arange(15, 15 + 3 * 24 * 14)
    labels = np.array([0] * 12 + [-1, -1, -1] + [1] * len(steady))
    registered = np.r_[np.linspace(0.0, 0.5, 6), np.linspace(168.0, 168.5, 6), 0.2, 24.0,
                       170.2, np.arange(len(steady)) / 3.0]  # fmt: skip
    rows: list[OuterTie] = []
    for node in (12, 13):
        rows += [(node, m, 0.12, [{"key": "frame:f1", "weight": 0.12}]) for m in range(10)]
    rows += [(14, int(m), 0.12, [{"key": "frame:f2", "weight": 0.12}]) for m in steady[:10]]
    a, b, ow, values = _outer_ties(rows)
    out = attach_outer(labels, a, b, ow, values, [0, 1], 1.0, 0.8, 0.25, None, registered)
    assert out[12] == 0
    assert out[13] == -1 and out[14] == -1
    assert (attach_outer(labels, a, b, ow, values, [0, 1], 1.0, 0.8, 0.25) == labels).all()
    unknown = registered.copy()
    unknown[12] = np.nan
    assert (attach_outer(labels, a, b, ow, values, [0, 1], 1.0, 0.8, 0.25, None, unknown)
            == labels).all()  # fmt: skip


def test_a_signature_frame_and_the_campaigns_own_sign_up_batch_attach_a_light_account() -> None:
    # Cluster 0 (nodes 0-29) registered in batches: six at hours 0-0.5, six a week later, the
    # rest a month later. Members 0-27 hold frame "sig" (edges among them name it); frame
    # "common" is held by members 0-4 and by six customers (33-38, registered long before).
    # Nodes 30-32 and 39 each share one frame with member 0 by a light tie (0.1), far under
    # the weight bar. Node 30 sent one prompt, in "sig", and was registered in the first
    # batch: it joins. Node 31 did the same a day after any batch: it stays out. Node 32
    # fills "common" (5 of its 11 other holders members) inside the batch: it stays out.
    # Node 39 fills "sig" inside the batch but sent six prompts, one of them the campaign's:
    # an account whose own facts can be read is not vouched for this way; it stays out.
    # Without registration times or exchange counts nobody joins.
    labels = np.array([0] * 30 + [-1] * 10)
    registered = np.r_[np.linspace(0.0, 0.5, 6), np.linspace(168.0, 168.5, 6),
                       np.linspace(720.0, 722.0, 18), 0.2, 24.0, 0.3, np.full(6, -2000.0),
                       0.4]  # fmt: skip
    exchanges = np.r_[np.full(30, 40), 1, 1, 1, np.full(6, 30), 6]
    rows: list[OuterTie] = [
        (m, m + 1, 0.3, [{"key": "frame:sig", "weight": 0.3}]) for m in range(0, 28, 2)
    ]
    rows += [(m, m + 1, 0.3, [{"key": "frame:common", "weight": 0.05}]) for m in (0, 2)]
    rows += [(m, 4, 0.3, [{"key": "frame:common", "weight": 0.05}]) for m in range(33, 39)]
    rows += [(30, 0, 0.1, [{"key": "frame:sig", "weight": 0.1}]),
             (31, 0, 0.1, [{"key": "frame:sig", "weight": 0.1}]),
             (32, 0, 0.1, [{"key": "frame:common", "weight": 0.1}]),
             (39, 0, 0.1, [{"key": "frame:sig", "weight": 0.1}])]  # fmt: skip
    a, b, ow, values = _outer_ties(rows)
    out = attach_outer(labels, a, b, ow, values, [0], 1.0, 0.6, 0.25, None, registered,
                       exchanges=exchanges)  # fmt: skip
    assert out[30] == 0
    assert (out[31:] == -1).all()
    for without in (
        attach_outer(labels, a, b, ow, values, [0], 1.0, 0.6, 0.25, exchanges=exchanges),
        attach_outer(labels, a, b, ow, values, [0], 1.0, 0.6, 0.25, None, registered),
    ):
        assert (without == labels).all()


def test_phrasing_like_a_few_of_a_large_campaigns_accounts_does_not_attach_on_its_own() -> None:
    # Cluster 0: 200 members. Node 200 phrases like 3 of them (3 near-duplicate pairs, each
    # its own value at 0.5: 0.875 of evidence, and 1.5 of weight), under 2% of the members:
    # the trim's stray rule, so it stays out. Node 201 phrases like 3 and fills one of the
    # campaign's frames: it joins. Node 202 phrases like 5 (2.5% of the members): it joins.
    labels = np.array([0] * 200 + [-1, -1, -1])
    rows: list[OuterTie] = [(m, m + 1, 0.6, [{"key": "frame:f", "weight": 0.05}])
                            for m in range(0, 198, 2)]  # fmt: skip
    for node, partners in ((200, 3), (201, 3), (202, 5)):
        rows += [(node, m, 0.5, [{"key": f"minhash:{node}|{m}", "weight": 0.5}])
                 for m in range(partners)]  # fmt: skip
    rows.append((201, 10, 0.05, [{"key": "frame:f", "weight": 0.05}]))
    a, b, ow, values = _outer_ties(rows)
    out = attach_outer(labels, a, b, ow, values, [0], 1.0, 0.8, 0.25)
    assert out[200] == -1
    assert out[201] == 0 and out[202] == 0
    near = {"minhash:x|1": 0.5, "minhash:x|2": 0.6}
    assert without_stray_near(near, 200) == {}
    assert without_stray_near(near, 50) == near
    assert without_stray_near({**near, "frame:f": 0.1}, 200) == {**near, "frame:f": 0.1}


def test_an_account_tied_only_by_phrases_few_of_a_large_campaign_hold_is_not_attached() -> None:
    # Cluster 0: 200 members on a ring, every tie naming its template T. Node 200 fills two
    # frames (two values: enough for the weight bar's two distinct frames), each held by two
    # members only: 3 of 201 with it, under 2% (the stray rule of the trim), and nothing else
    # ties it: it stays out. Node 201 fills two frames that five members each hold among
    # themselves (6 of 201): it joins. Node 202 fills a frame as few hold and shares a card
    # with a member: another owned kind, it joins. In a cluster of 30 (any shared phrase
    # held by more than 2%) the first account joins too.
    def case(n: int) -> tuple[np.ndarray, list[OuterTie]]:
        rows: list[OuterTie] = [(m, (m + 1) % n, 0.6, [{"key": "frame:T", "weight": 0.05}])
                                for m in range(n)]  # fmt: skip
        for first, frame in ((10, "resold1"), (20, "resold2")):
            rows += [(m, m + 1, 0.3, [{"key": f"frame:{frame}", "weight": 0.3}])
                     for m in range(first, first + 4)]  # fmt: skip
        for node, frames in ((n, ("agency", "salon")), (n + 1, ("resold1", "resold2"))):
            for first, frame in zip((10, 20), frames, strict=True):
                rows += [(node, m, 0.3, [{"key": f"frame:{frame}", "weight": 0.3}])
                         for m in (first, first + 1)]  # fmt: skip
        rows += [(n + 2, m, 0.3, [{"key": "frame:baker", "weight": 0.3}]) for m in (2, 3)]
        rows.append((n + 2, 4, 0.5, [{"key": "payment:c1", "weight": 0.5}]))
        return np.array([0] * n + [-1, -1, -1]), rows

    labels, rows = case(200)
    a, b, ow, values = _outer_ties(rows)
    out = attach_outer(labels, a, b, ow, values, [0], 1.0, 0.6, 0.25)
    assert out[200] == -1
    assert out[201] == 0 and out[202] == 0
    labels, rows = case(30)
    a, b, ow, values = _outer_ties(rows)
    assert (attach_outer(labels, a, b, ow, values, [0], 1.0, 0.6, 0.25)[30:] == 0).all()


def test_a_phrase_counts_every_member_whose_ties_name_it_not_only_ties_inside() -> None:
    # The graph keeps each account's strongest ties only: in a large campaign two members
    # that fill the same frame are often tied by it to the operator's accounts outside, not
    # to each other. Cluster 0: 200 members on a ring (template T). Frames op1 and op2 are
    # each filled by six members (3% of 201), every tie naming them going to an account
    # outside (nodes 201-212, one tie each: too little to join). Node 200 fills both and is
    # tied by each to two of those members: the operator's frames, held by 7 of 201 with it,
    # not stray; it joins. Counted by ties inside only, none of the six would hold them.
    n = 200
    rows: list[OuterTie] = [(m, (m + 1) % n, 0.6, [{"key": "frame:T", "weight": 0.05}])
                            for m in range(n)]  # fmt: skip
    outside = iter(range(n + 1, n + 13))
    for first, frame in ((10, "op1"), (40, "op2")):
        rows += [(next(outside), m, 0.3, [{"key": f"frame:{frame}", "weight": 0.3}])
                 for m in range(first, first + 6)]  # fmt: skip
        rows += [(n, m, 0.3, [{"key": f"frame:{frame}", "weight": 0.3}])
                 for m in (first, first + 1)]  # fmt: skip
    labels = np.array([0] * n + [-1] * 13)
    a, b, ow, values = _outer_ties(rows)
    out = attach_outer(labels, a, b, ow, values, [0], 1.0, 0.6, 0.25)
    assert out[n] == 0
    assert (out[n + 1 :] == -1).all()


def test_two_of_a_large_campaigns_frames_attach_an_account_one_does_not() -> None:
    # A large campaign's frames are held by thousands of its accounts: each weighs 0.08, two
    # together 0.15, under the 0.25 of evidence. Node 12 fills two of them (f1, f2), node 13
    # only one (f1, twice over), node 14 one frame and one common frame (weight 0): only node
    # 12 holds two independent facts and joins.
    labels = np.array([0] * 12 + [-1, -1, -1])
    rows: list[OuterTie] = []
    for m in range(10):
        rows.append((12, m, 0.08, [{"key": "frame:f1" if m < 5 else "frame:f2", "weight": 0.08}]))
        rows.append((13, m, 0.08, [{"key": "frame:f1", "weight": 0.08}]))
        rows.append((14, m, 0.08, [{"key": "frame:f1" if m < 5 else "frame:common",
                                    "weight": 0.08 if m < 5 else 0.0}]))  # fmt: skip
    a, b, ow, values = _outer_ties(rows)
    out = attach_outer(labels, a, b, ow, values, [0], 0.5, 0.8, 0.25)
    assert out[12] == 0
    assert out[13] == -1 and out[14] == -1


def test_an_account_cpm_left_alone_is_not_merged_in_as_a_part() -> None:
    labels = np.array([0, 0, 0, 0, 1])
    a, b = np.array([0, 0, 1, 2, 4, 4]), np.array([1, 2, 3, 3, 0, 1])
    w = np.array([0.9, 0.9, 0.9, 0.9, 0.4, 0.4])
    owned = np.ones(6, dtype=bool)
    assert len(set(merge_parts(labels, a, b, w, owned, ratio=0.5).tolist())) == 1
    alone = merge_parts(labels, a, b, w, owned, ratio=0.5, min_part=3)
    assert alone[4] != alone[0]


def test_two_large_groups_bridged_by_a_small_part_stay_apart() -> None:
    """A campaign (0: 10 accounts) and an app fleet (1: 10 accounts), each tied firmly to a
    3-account part (2) of customers who half-resemble both: the small part may join one of
    them, never carry the two into one."""
    labels = np.array([0] * 10 + [1] * 10 + [2] * 3)
    a = np.array([20, 21, 22, 20, 21, 22])
    b = np.array([0, 1, 2, 10, 11, 12])
    w = np.array([0.9, 0.9, 0.9, 0.8, 0.8, 0.8])
    merged = merge_parts(labels, a, b, w, np.ones(6, dtype=bool), ratio=0.5)
    assert merged[0] != merged[10]
    assert merged[20] == merged[0]  # joined the one it is tied to most firmly


def test_a_part_tied_through_one_of_its_members_stays_and_that_member_goes() -> None:
    """A campaign (0: 40 accounts) and a class of 20 students (1) who signed up together
    (their batch ties each to the next). One operator account (node 40) sits in the class's
    batch and is tied to 20 campaign accounts by its own phrasing: 20 x 0.6 of owned weight,
    more than half a tie per account of the part, but one member of 21 carries it all.
    The member joins the campaign and the class stays apart. When four of the part's members
    carry the same ties the part joins whole."""
    labels = np.array([0] * 40 + [1] * 21)
    a = list(range(39)) + list(range(40, 60))
    b = list(range(1, 40)) + list(range(41, 61))
    a_all = np.array(a + [40] * 20)
    b_all = np.array(b + list(range(20)))
    w = np.full(len(a_all), 0.6)
    owned = np.ones(len(a_all), dtype=bool)
    out = merge_parts(labels, a_all, b_all, w, owned, ratio=0.5)
    assert out[40] == out[0]
    assert (out[41:] == 1).all()
    spread = np.array(a + [40, 41, 42, 43] * 5)
    whole = merge_parts(labels, spread, b_all, w, owned, ratio=0.5)
    assert (whole == whole[0]).all()


def test_faint_owned_ties_do_not_hold_two_groups_together() -> None:
    """Two operators' groups that CPM put together over a shared proxy range, tied by one
    phrase both happen to use (0.1), come apart; a firm owned tie (0.8) keeps them one."""
    labels = np.zeros(6, dtype=np.int64)
    a = np.array([0, 1, 3, 4, 2, 0])
    b = np.array([1, 2, 4, 5, 3, 5])
    owned = np.array([True, True, True, True, True, False])
    for faint, together in ((0.1, False), (0.8, True)):
        w = np.array([0.8, 0.8, 0.8, 0.8, faint, 0.3])
        parts = split_by_owned(labels, a, b, owned, w, min_tie=0.25)
        assert bool(parts[0] == parts[3]) == together
        assert parts[0] == parts[1] == parts[2] and parts[3] == parts[4] == parts[5]


def test_parts_with_strong_owned_ties_merge() -> None:
    labels = np.array([0, 0, 1, 1])
    a, b = np.array([0, 2, 0, 1]), np.array([1, 3, 2, 3])
    w = np.array([0.9, 0.9, 0.8, 0.8])
    merged = merge_parts(labels, a, b, w, np.array([True] * 4), ratio=0.5)
    assert len(set(merged.tolist())) == 1
    apart = merge_parts(labels, a, b, w, np.array([True, True, False, False]), ratio=0.5)
    assert len(set(apart.tolist())) == 2  # ties by a rented pool only: kept apart


def _bridging(
    rows: list[tuple[str, str, float, list[str], list[str]]],
) -> tuple[pd.DataFrame, NamedValues]:
    """Edges (a, b, owned weight, link types, owned values named) as ``edge_frame`` and
    ``owned_value_rows`` give."""
    edges = pd.DataFrame(
        [{"a": a, "b": b, "weight": w, "link_types": t, "owned_weight": w if v else 0.0}
         for a, b, w, t, v in rows]
    )  # fmt: skip
    return edges, NamedValues.of([[{"key": k, "weight": w} for k in v] for _, _, w, _, v in rows])


def test_campaigns_sharing_only_a_proxy_provider_are_two_operators() -> None:
    edges, named = _bridging(
        [("n1", "e1", 0.4, ["ip_prefix"], []),
         ("n2", "e2", 0.4, ["ip_prefix", "asn"], []),
         ("n1", "w1", 0.9, ["payment"], ["payment:pm_1"]),
         ("n2", "w2", 0.9, ["frame"], ["frame:f1"])]
    )  # fmt: skip
    campaign_of = {"n1": 0, "n2": 0, "e1": 1, "e2": 1, "w1": 2, "w2": 2}
    ties = bridges(edges, named, campaign_of)
    assert (0, 1) not in ties
    assert ties[(0, 2)] == pytest.approx((1.8, 1 - 0.1 * 0.1))
    ops = operator_groups([2, 2, 2], ties, ratio=0.2)
    assert ops[0] == ops[2] != ops[1]
    # A few chance ties between two large campaigns do not make them one operator.
    assert len(set(operator_groups([500, 400], {(0, 1): (3.0, 0.9)}, ratio=0.2).tolist())) == 2


def test_one_common_phrase_shared_by_many_pairs_is_not_an_operator() -> None:
    # Thirty pairs of accounts of two campaigns tied by one frame held by many accounts.
    rows = [(f"x{i}", f"y{i}", 0.12, ["frame"], ["frame:common"]) for i in range(30)]
    campaign_of = {**{f"x{i}": 0 for i in range(30)}, **{f"y{i}": 1 for i in range(30)}}
    ties = bridges(*_bridging(rows), campaign_of)
    assert ties[(0, 1)] == pytest.approx((3.6, 0.12))
    assert len(set(operator_groups([121, 10], ties, ratio=0.2).tolist())) == 2
    # The same weight spread over many distinct frames and cards is an operator carrying over.
    rows = [(f"x{i}", f"y{i}", 0.12, ["frame"], [f"frame:f{i}"]) for i in range(30)]
    ties = bridges(*_bridging(rows), campaign_of)
    assert len(set(operator_groups([121, 10], ties, ratio=0.2).tolist())) == 1


def _cells(counts: dict[str, int]) -> pd.Series:
    return pd.Series(counts, dtype=float)


def test_mixture_separates_resold_traffic_from_the_campaign() -> None:
    legit = _cells({"chat-deep": 6000, "chat-short": 3000, "code": 1000})
    # Members: 5,000 campaign exchanges in a cell ordinary customers rarely use, plus 3,000
    # resold exchanges shaped like everyone else's.
    members = _cells({"sweep": 5000, "chat-deep": 1800, "chat-short": 900, "code": 300})
    est = mixture(members, legit)
    assert est.legit_share == pytest.approx(3000 / 8000, abs=0.03)
    assert est.confidence["sweep"] > 0.99 and est.confidence["chat-deep"] < 0.1
    total = sum(members[c] * est.confidence[c] for c in members.index)
    assert total == pytest.approx(5000, rel=0.05)
    pure = mixture(_cells({"sweep": 5000, "code": 20}), legit)
    assert pure.legit_share == 0.0  # a campaign without resold traffic keeps everything


def test_bootstrap_interval_holds_the_estimate_and_narrows_without_resold_traffic() -> None:
    rng = np.random.default_rng(3)
    legit = _cells({"chat": 9000, "code": 1000})
    rows = []
    for _ in range(40):
        rows.append({"sweep": rng.integers(50, 150), "chat": rng.integers(20, 80), "code": 5})
    per = pd.DataFrame(rows).fillna(0)
    point, low, high = bootstrap_exchanges(per, legit, rounds=100, seed=1)
    assert low <= point <= high
    assert point == pytest.approx(per.sweep.sum(), rel=0.08)
    pure = per.assign(chat=0, code=0)
    p2, l2, h2 = bootstrap_exchanges(pure, legit, rounds=100, seed=1)
    assert p2 == l2 == h2 == pure.sweep.sum()


def _population(n: int, rng: np.random.Generator, share_campaign: float) -> pd.DataFrame:
    campaign = rng.random(n) < share_campaign
    return pd.DataFrame({
        "account": np.where(campaign, 0.9, rng.random(n) * 0.4),
        "harvest": np.where(campaign, 0.8, rng.random(n) * 0.4),
        "content": 0.0, "verified": ~campaign & (rng.random(n) < 0.3), "org_name": None,
        "exchanges": 50.0,
        "thinking_share": np.where(campaign, 0.9, rng.random(n) * 0.5),
        "max_cap_share": np.where(campaign, 0.8, rng.random(n) * 0.2),
        "elicitation_share": np.where(campaign, 0.6, rng.random(n) * 0.1),
        "targeted_share": np.where(campaign, 0.9, rng.random(n) * 0.6),
    })  # fmt: skip


def test_null_threshold_follows_the_target_rate() -> None:
    rng = np.random.default_rng(5)
    pop = _population(3000, rng, 0.05)
    labels = np.repeat(np.arange(60), 5)  # 60 clusters of 5 accounts
    coordination = np.ones(len(labels))
    loose = null_threshold(labels, coordination, pop, 60, target_fpr=0.01, min_score=0.0, rounds=50)
    strict = null_threshold(
        labels, coordination, pop, 60, target_fpr=1e-5, min_score=0.0, rounds=50
    )
    assert strict.threshold >= loose.threshold > 0
    assert strict.null_threshold <= strict.null_max + 1e-6
    floor = null_threshold(labels, coordination, pop, 60, target_fpr=0.5, min_score=0.45, rounds=5)
    assert floor.threshold >= 0.45  # the floor holds where the null allows less


def test_ids_carry_over_growth_merge_and_split() -> None:
    prev = {"cmp-old1": {"a", "b", "c", "d"}, "cmp-old2": {"e", "f", "g"},
            "cmp-old3": {"p", "q", "r", "s", "v"}}  # fmt: skip
    first = {"cmp-old1": "scan-1", "cmp-old2": "scan-2", "cmp-old3": "scan-1"}
    new = {
        0: {"a", "b", "c", "d", "x", "y"},  # grew
        1: {"e", "f", "g", "h"} | {"z"},  # grew too
        2: {"p", "q", "r"},  # old3 split: the larger part keeps the id…
        3: {"s", "v", "u"},  # …the smaller part is new
        4: {"k", "l", "m"},  # new
    }
    ids, notes = carry_ids(new, prev, first)
    assert ids[0] == "cmp-old1" and ids[1] == "cmp-old2" and ids[2] == "cmp-old3"
    assert ids[3] == digest_id("cmp", sorted(new[3])) and ids[4].startswith("cmp-")
    assert notes[3] == {"split_from": ["cmp-old3"]} and notes[4] == {}
    merged, _ = carry_ids({0: {"a", "b", "c", "d", "e", "f", "g"}}, prev, first)
    assert merged[0] == "cmp-old1"  # the one sharing most members keeps its id
    _, merge_notes = carry_ids({0: {"a", "b", "c", "d", "e", "f", "g"}}, prev, first)
    assert merge_notes[0]["merged_ids"] == ["cmp-old2"]
    assert ids == carry_ids(new, prev, first)[0]  # deterministic


def test_harvest_lift_is_the_excess_over_the_population() -> None:
    pop = pd.DataFrame({"thinking_share": [0.2] * 8 + [0.9, 1.0],
                        "max_cap_share": [0.0] * 10,
                        "elicitation_share": [np.nan] * 10,
                        "targeted_share": [0.5] * 10})  # fmt: skip
    base = baseline_shares(pop)
    assert base["thinking_share"] == pytest.approx(0.35)
    assert np.isnan(base["elicitation_share"])
    lab = np.array([0, 0, 1, 1])  # cluster 0: two ordinary accounts; 1: the two thinkers
    lift = harvest_lift(lab, pop.iloc[[0, 1, 8, 9]].reset_index(drop=True), 2, base)
    assert lift["thinking"][0] == 0.0  # below the population: no lift, never negative
    assert lift["thinking"][1] == pytest.approx((0.95 - 0.35) / 0.65)
    assert lift["elicitation"].tolist() == [0.0, 0.0]  # unknown without prompt text
    assert lift["targeted"].tolist() == [0.0, 0.0]  # the population's own share


def test_a_ring_that_harvests_nothing_scores_below_one_that_does() -> None:
    # Two clusters alike in every way but what their traffic asks for.
    members = pd.DataFrame({
        "account": [0.9] * 10, "harvest": [0.5] * 10, "content": [0.0] * 10,
        "verified": [False] * 10, "org_name": [None] * 10,
        "thinking_share": [0.05] * 5 + [0.9] * 5, "max_cap_share": [0.0] * 10,
        "elicitation_share": [0.0] * 5 + [0.5] * 5, "targeted_share": [0.3] * 5 + [0.9] * 5,
    })  # fmt: skip
    base = {"thinking_share": 0.3, "max_cap_share": 0.05, "elicitation_share": 0.05,
            "targeted_share": 0.45}  # fmt: skip
    table = cluster_scores(np.repeat([0, 1], 5), members, np.ones(10), 2, base)
    assert table.harvest[0] == 0.0 and table.harvest[1] > 0.8
    # beside the weight of five accounts, the harvesting ring's facts are strong, the other's nil
    assert table.score[1] / accounts_weight(5) > 0.75 > table.score[0] / accounts_weight(5)


def test_a_network_the_provider_already_bans_is_not_organic_however_its_accounts_look() -> None:
    """Bought accounts: aged and verified, each with no fact of its own that says operator
    (account 0), tied by the same frames and harvesting. Half of one cluster's accounts are
    banned or suspended already: that cluster is not organic, the other (none banned) still
    is. A reinstated account is not enforced (``enforced`` False), unknown counts as not."""
    n = 40
    members = pd.DataFrame({
        "account": [0.0] * n, "harvest": [0.5] * n, "content": [0.0] * n,
        "verified": [True] * n, "org_name": [None] * n,
        "enforced": [True, False] * 10 + [False] * 19 + [None],
        "thinking_share": [0.9] * n, "max_cap_share": [0.0] * n,
        "elicitation_share": [0.5] * n, "targeted_share": [0.9] * n,
    })  # fmt: skip
    base = {"thinking_share": 0.3, "max_cap_share": 0.05, "elicitation_share": 0.05,
            "targeted_share": 0.45}  # fmt: skip
    table = cluster_scores(np.repeat([0, 1], 20), members, np.ones(n), 2, base)
    assert table.enforced_share.tolist() == [0.5, 0.0]
    # counted as far as chance could not give it: the share's lower Wilson bound (0.30)
    assert table.account[0] == pytest.approx(enforced_excess(np.array([0.5]), 20, 0.0)[0])
    assert table.account[0] > 0.25 and table.account[1] == 0.0
    assert table.score[0] > 0.45 > table.score[1]  # over the default floor; the other nil
    # the population's own rate is not evidence: at a rate of half, half enforced says nothing
    assert cluster_scores(np.repeat([0, 1], 20), members, np.ones(n), 2,
                          {**base, "enforced": 0.5}).account[0] == 0.0  # fmt: skip
    # without an enforcements column: as before, nothing enforced
    bare = cluster_scores(np.repeat([0, 1], 20), members.drop(columns="enforced"), np.ones(n),
                          2, base)  # fmt: skip
    assert bare.account.tolist() == [0.0, 0.0]


def test_a_few_enforced_members_of_a_small_cluster_are_chance_many_of_a_large_one_are_not() -> None:
    rate = 0.02  # about what ordinary accounts see
    small, large = enforced_excess(np.array([2 / 6, 100 / 200]), np.array([6, 200]), rate)
    assert small < 0.1 < 0.4 < large
    assert enforced_excess(np.array([rate]), np.array([10_000]), rate)[0] == 0.0
    # the larger the cluster, the nearer its share
    shares = enforced_excess(np.full(3, 0.5), np.array([10, 100, 1000]), 0.0)
    assert shares[0] < shares[1] < shares[2] < 0.5


def test_few_accounts_alike_say_less_than_many() -> None:
    # The same member facts over 3 and over 30 accounts: the handful keeps 3/5 of the score.
    n = 33
    members = pd.DataFrame({
        "account": [0.6] * n, "harvest": [0.5] * n, "content": [0.0] * n,
        "verified": [False] * n, "org_name": [None] * n,
        "thinking_share": [0.9] * n, "max_cap_share": [0.0] * n,
        "elicitation_share": [0.5] * n, "targeted_share": [0.9] * n,
    })  # fmt: skip
    base = {"thinking_share": 0.3, "max_cap_share": 0.05, "elicitation_share": 0.05,
            "targeted_share": 0.45}  # fmt: skip
    table = cluster_scores(np.repeat([0, 1], [3, 30]), members, np.full(n, 0.6), 2, base)
    assert table.account[0] == table.account[1]
    assert table.harvest[0] == pytest.approx(table.harvest[1])
    assert table.score[0] / table.score[1] == pytest.approx((3 / 5) / (30 / 32))


def test_a_group_tied_to_a_campaign_by_one_shared_phrase_does_not_join_it() -> None:
    """A campaign (0: 10 accounts) and a group of 4 customers (1) with its own ties, each of
    whom pasted the same public prompt the campaign wraps: their ties to the campaign weigh
    plenty (4 x 5 edges) but name one frame. Named by several distinct frames, they join."""
    labels = np.array([0] * 10 + [1] * 4)
    inside = [(i, j) for i in range(10) for j in range(i + 1, 10)]
    own = [(i, j) for i in range(10, 14) for j in range(i + 1, 14)]
    cross = [(i, j) for i in range(10, 14) for j in range(5)]
    a = np.array([p[0] for p in inside + own + cross])
    b = np.array([p[1] for p in inside + own + cross])
    w = np.array([0.8] * len(inside) + [0.8] * len(own) + [0.15] * len(cross))
    owned = np.ones(len(a), dtype=bool)
    firm = [[{"key": "payment:card", "weight": 0.8}]] * (len(inside) + len(own))
    one_phrase = firm + [[{"key": "frame:public-prompt", "weight": 0.15}]] * len(cross)
    merged = merge_parts(labels, a, b, w, owned, 0.5, 2, NamedValues.of(one_phrase), 0.25)
    assert merged[10] != merged[0]
    assert merge_parts(labels, a, b, w, owned, 0.5, 2)[10] == 0  # weight alone would join it
    several = firm + [[{"key": f"frame:{k % 3}", "weight": 0.15}] for k in range(len(cross))]
    assert merge_parts(labels, a, b, w, owned, 0.5, 2, NamedValues.of(several), 0.25)[10] == 0


def test_a_campaign_split_into_its_cards_is_one_again_and_an_app_fleet_is_not() -> None:
    """One cluster before the split: a campaign's four cards (0-3, 8 accounts each; every
    account tied to one account of each other card by 0.2, five frames) and an app fleet (4,
    8 accounts) tied to the campaign by three firm ties. No card is tied to any one other
    card by half a tie per account (merge_parts leaves them apart); each is to the rest."""
    labels = np.repeat(np.arange(5), 8)
    parent = np.zeros(40, dtype=np.int64)
    rows: list[tuple[int, int, float, str]] = []
    for card in range(5):
        members = range(card * 8, card * 8 + 8)
        rows += [(i, j, 0.8, f"payment:{card}") for i in members for j in members if i < j]
    for i in range(32):
        for other in range(4):
            if other != i // 8:
                rows += [(i, other * 8 + (i + d) % 8, 0.2, f"frame:{(i + d) % 5}") for d in (0,)]
    rows += [(32 + d, d, 0.8, "signup_prefix:10.0.0.0/24") for d in range(3)]
    a = np.array([r[0] for r in rows])
    b = np.array([r[1] for r in rows])
    w = np.array([r[2] for r in rows])
    owned = np.ones(len(rows), dtype=bool)
    values = NamedValues.of([[{"key": r[3], "weight": r[2]}] for r in rows])
    assert len(set(merge_parts(labels, a, b, w, owned, 0.5, 2, values, 0.25)[:32])) == 4
    out = rejoin_siblings(parent, labels, a, b, w, owned, 0.5, 2, values, 0.25)
    assert len(set(out[:32].tolist())) == 1
    assert set(out[32:].tolist()) == {4} and out[0] != 4


def test_named_values_count_each_distinct_value_once_at_its_largest_weight() -> None:
    named = NamedValues.of([
        [{"key": "frame:x", "weight": 0.2}],
        [{"key": "frame:x", "weight": 0.5}, {"key": "payment:c", "weight": 0.8}],
        [{"key": "frame:y", "weight": 0.3}],
    ])  # fmt: skip
    # group 0: edges 0 and 1 (x at 0.5, c at 0.8); group 1: edge 2 (y); edge 1 also in group 1
    out = named.evidence([np.array([0, 0, 1]), np.array([-1, 1, -1])], 3)
    assert out[0] == pytest.approx(1 - 0.5 * 0.2)
    assert out[1] == pytest.approx(1 - 0.5 * 0.2 * 0.7)
    assert out[2] == 0.0


def _ring(names: list[str], frames: list[str], neighbours: int = 5) -> list[dict]:
    """A large group's sparse ties (``pairs.sparse_group_pairs``): each member tied to the next
    ``neighbours`` around a circle, each edge naming one of the group's frames."""
    n = len(names)
    return [
        {"a": min(names[i], names[(i + s) % n]), "b": max(names[i], names[(i + s) % n]),
         "weight": 0.3, "value": frames[(i + s) % len(frames)]}
        for i in range(n) for s in range(1, neighbours + 1)
    ]  # fmt: skip


def test_a_campaign_cut_into_arcs_is_one_again_and_another_operator_is_not() -> None:
    """Two operators of 600 accounts, each tied sparsely on a ring by its own six frames; a
    third group of 40 shares one phrase with the first and otherwise its own card. CPM cuts
    each ring into arcs joined by a handful of edges; the arcs of one operator are held
    together by the same frames and are one again, apart from the other operator's."""
    first = [f"a{i:03d}" for i in range(600)]
    second = [f"b{i:03d}" for i in range(600)]
    third = [f"c{i:02d}" for i in range(40)]
    rows = _ring(first, [f"frame:a{j}" for j in range(6)])
    rows += _ring(second, [f"frame:b{j}" for j in range(6)])
    rows += [
        {"a": x, "b": y, "weight": 0.6, "value": "payment:card-c" if i % 3 else "frame:a0"}
        for i, (x, y) in enumerate((x, y) for k, x in enumerate(third) for y in third[k + 1 :])
    ]
    # the other operator's ring touches the first at one point; the third group too
    rows += [{"a": "a000", "b": "b000", "weight": 0.3, "value": "frame:a0"},
             {"a": "a300", "b": "c00", "weight": 0.3, "value": "frame:a0"}]  # fmt: skip
    edges = pd.DataFrame(rows).drop_duplicates(["a", "b"])
    nodes = np.array(sorted(first + second + third), dtype=object)
    index = pd.Index(nodes)
    a, b = index.get_indexer(edges.a), index.get_indexer(edges.b)
    labels = leiden_cpm(nodes, edges, resolution=0.02)
    assert len(set(labels[index.get_indexer(first)])) > 3  # cut into arcs
    named = NamedValues.of([[{"key": v, "weight": 0.3}] for v in edges.value])
    joined = join_alike(labels, a, b, named, min_similarity=0.5, min_evidence=0.25)
    by = dict(zip(nodes, joined, strict=True))
    assert len({by[x] for x in first}) == 1
    assert len({by[x] for x in second}) == 1
    assert by["a000"] != by["b000"]
    assert len({by[x] for x in third}) == 1 and by["c00"] != by["a000"]
    # without a shared profile nothing joins: every part keeps its label
    plain = NamedValues.of([[{"key": f"pair:{i}", "weight": 0.3}] for i in range(len(edges))])
    assert (join_alike(labels, a, b, plain, 0.5, 0.25) == labels).all()


def test_labs_sharing_a_harness_are_a_federation_and_an_operator_is_not() -> None:
    """Cluster 0: four labs of three accounts, each paying with its own card, all tied by one
    harness frame. Cluster 1: an operator's twelve accounts under the same four organization
    names, its cards shared across them. Only the first is a federation of organizations."""
    org = np.array([f"lab{i // 3}" for i in range(12)] * 2, dtype=object)
    labels = np.repeat([0, 1], 12)
    rows: list[tuple[int, int, list[str]]] = []
    for base, cards_follow_org in ((0, True), (12, False)):
        for i in range(12):
            for j in range(i + 1, 12):
                same_card = (i // 3 == j // 3) if cards_follow_org else (i % 4 == j % 4)
                rows.append((base + i, base + j, ["frame", "payment"] if same_card else ["frame"]))
    a = np.array([r[0] for r in rows])
    b = np.array([r[1] for r in rows])
    types = [r[2] for r in rows]
    share = federated_share(labels, a, b, kind_bits(types, ()), np.full(len(rows), 0.5), org, 2)
    assert share[0] == 1.0 and share[1] == 0.0
    # members without an organization name are no federation's
    unnamed = np.array([None] * 24, dtype=object)
    assert (
        federated_share(labels, a, b, kind_bits(types, ()), np.full(len(rows), 0.5), unnamed, 2)
        == 0
    ).all()


def test_members_tied_only_by_a_kind_the_cluster_is_not_made_of_are_trimmed() -> None:
    """Thirty campaign accounts share frames (every pair); two customers whose prompts are
    near-duplicates of eight campaign accounts' each are tied to them by similar phrasing
    alone, strongly enough for every other bar. They are trimmed, and do not come back as
    outer members; one more campaign account left outside, tied by frames, does."""
    core = list(range(30))
    rows = [(x, y, ["frame"]) for i, x in enumerate(core) for y in core[i + 1 :]]
    rows += [(c, m, ["minhash"]) for c in (30, 31) for m in range(8)]
    rows += [(32, m, ["frame"]) for m in range(4)]
    a = np.array([r[0] for r in rows])
    b = np.array([r[1] for r in rows])
    types = [r[2] for r in rows]
    w = np.full(len(rows), 0.6)
    owned = np.ones(len(rows), dtype=bool)
    labels = np.r_[np.zeros(32, dtype=np.int64), -1]
    kinds = kind_bits(types, ())
    kept = trim(labels, a, b, w, owned, JudgeSettings(), owned_weight=w)
    assert (kept[:32] == 0).all()  # without kinds every bar is met
    trimmed = trim(labels, a, b, w, owned, JudgeSettings(), owned_weight=w, kinds=kinds)
    assert (trimmed[:30] == 0).all() and (trimmed[30:] == -1).all()
    values = NamedValues.of([[{"key": f"{t[0]}:{x}-{y}", "weight": 0.6}] for x, y, t in rows])
    out = attach_outer(trimmed, a, b, w, values, [0], 1.0, 0.8, 0.25, kinds)
    assert out[32] == 0 and out[30] == -1 and out[31] == -1
    assert attach_outer(trimmed, a, b, w, values, [0], 1.0, 0.8, 0.25)[30] == 0


def _stray_case(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, NamedValues]:
    """A campaign of ``n`` accounts on a ring, every tie naming its template ``frame:T``; a
    customer (node n) tied to two of them by a template of its own trade and to a third by a
    near-duplicate prompt; a campaign account (n + 1) tied by a phrase of its resold traffic
    and by a card; a customer (n + 2) tied to two of them by near-duplicate prompts alone."""
    rows = [(i, (i + 1) % n, "frame:T") for i in range(n)]
    rows += [(n, 0, "frame:agency"), (n, 1, "frame:agency"), (n, 2, f"minhash:{n}|2")]
    rows += [(n + 1, 3, "frame:resold"), (n + 1, 4, "frame:resold"), (n + 1, 5, "payment:c9")]
    rows += [(n + 2, 6, f"minhash:{n + 2}|6"), (n + 2, 7, f"minhash:{n + 2}|7")]
    a = np.array([r[0] for r in rows])
    b = np.array([r[1] for r in rows])
    named = NamedValues.of([[{"key": r[2], "weight": 0.4}] for r in rows])
    return np.zeros(n + 3, dtype=np.int64), a, b, named


def test_a_member_tied_only_by_phrases_few_of_a_large_campaign_use_is_stray() -> None:
    labels, a, b, named = _stray_case(200)
    stray = stray_phrases(labels, a, b, named)
    # the customers, not the carded one, not nodes 0 and 1 (two partners are 1% of 203)
    assert np.flatnonzero(stray).tolist() == [200, 202]
    labels[[-3, -2, -1]] = -1  # outside every cluster: nothing to say
    assert not stray_phrases(labels, a, b, named).any()
    # In a cluster of 30 the same phrase is held by a tenth of the members: not stray.
    labels, a, b, named = _stray_case(30)
    assert not stray_phrases(labels, a, b, named).any()
    # Four more members fill node 200's template, each tied by it to an account outside the
    # cluster (the graph keeps every account's strongest ties only): held by 7 of 203, it is
    # no stray phrase.
    labels, a, b, named = _stray_case(200)
    outside = np.arange(203, 207)
    a, b = np.r_[a, outside], np.r_[b, 20, 21, 22, 23]
    named = NamedValues.of(
        [[{"key": k, "weight": w} for k, w in named.on_edge(e)] for e in range(len(a) - 4)]
        + [[{"key": "frame:agency", "weight": 0.4}]] * 4
    )  # fmt: skip
    stray = stray_phrases(np.r_[labels, [-1] * 4], a, b, named)
    assert np.flatnonzero(stray).tolist() == [202]


def test_customers_of_one_popular_template_do_not_vouch_for_it_themselves() -> None:
    """A campaign of 200 accounts on a ring, each tie naming its template and a card; three of
    them carry resold prompts of a popular template. Twelve customers who all paste that
    template are tied to each other by it and to those three: counted over the whole cluster
    they hold it as 15 of 212 (7%), but among the members tied by something other than content
    (the 200 carded ones) it is held by 3 (1.5%): the customers are stray, the campaign is not.
    `proxy-mixed` small development seed 13: twelve such customers sat in a campaign."""
    n, customers = 200, list(range(200, 212))
    rows = [(i, (i + 1) % n, ["frame:T", f"payment:c{i // 2}"]) for i in range(n)]
    rows += [(x, y, ["frame:popular"]) for k, x in enumerate(customers) for y in customers[k + 1 :]]
    rows += [(x, m, ["frame:popular"]) for x in customers for m in range(3)]
    a = np.array([r[0] for r in rows])
    b = np.array([r[1] for r in rows])
    named = NamedValues.of([[{"key": k, "weight": 0.4} for k in r[2]] for r in rows])
    labels = np.zeros(n + len(customers), dtype=np.int64)
    assert np.flatnonzero(stray_phrases(labels, a, b, named)).tolist() == customers
    # without the cards no member is anchored, and the holders are counted over all as before
    plain = NamedValues.of([[{"key": k, "weight": 0.4} for k in r[2] if not k.startswith("pay")]
                            for r in rows])  # fmt: skip
    assert not stray_phrases(labels, a, b, plain).any()


def test_a_ring_joined_through_members_the_trim_removes_is_apart_after_a_second_pass() -> None:
    """A campaign (0-59, frames on every pair); twelve customers (60-71) tied to eight of its
    accounts and to five accounts of an abuse ring (72-76) by near-duplicate prompts alone;
    the ring's thirty accounts (72-101) share a card. The customers join the campaign, the
    ring joins them the next round (its card ties its five to the rest), then the trim takes
    out the customers — tied by a chance kind the cluster is not made of — and not the ring,
    held by its card. Joined again without the customers, the ring stays apart."""
    rows = [(i, j, 0.4, "frame", f"frame:T{(i + j) % 6}") for i in range(60)
            for j in range(i + 1, 60)]  # fmt: skip
    customers, ring = list(range(60, 72)), list(range(72, 102))
    for k, x in enumerate(customers):
        rows += [(x, y, 0.6, "minhash", f"minhash:{x}|{y}") for y in customers[k + 1 :]]
        rows += [(m, x, 0.6, "minhash", f"minhash:{m}|{x}") for m in range(8)]
        rows += [(x, r, 0.6, "minhash", f"minhash:{x}|{r}") for r in ring[:5]]
    rows += [(x, y, 0.8, "payment", "payment:ring") for k, x in enumerate(ring)
             for y in ring[k + 1 :]]  # fmt: skip
    a = np.array([r[0] for r in rows])
    b = np.array([r[1] for r in rows])
    w = np.array([r[2] for r in rows])
    named = NamedValues.of([[{"key": r[4], "weight": r[2]}] for r in rows])
    graph = _Graph(a, b, w, w, np.ones(len(rows), dtype=bool), named,
                   kind_bits([[r[3]] for r in rows], ()))  # fmt: skip
    cs = CampaignSettings()
    js = JudgeSettings(cs.trim_strength, 2.0, cs.min_accounts)
    once = _join_and_trim(np.zeros(102, dtype=np.int64), graph, cs, js)
    assert (once[60:72] == -1).all()  # the customers are trimmed ...
    assert set(once[72:].tolist()) == {once[0]}  # ... and the ring stays in with the campaign
    twice = _join_and_trim(once, graph, cs, js)
    assert set(twice[:60].tolist()) == {twice[0]} and twice[0] >= 0
    assert len(set(twice[72:].tolist())) == 1 and twice[72] not in (twice[0], -1)


def test_named_values_of_a_subset_of_edges_keep_each_edges_own_values() -> None:
    named = NamedValues.of([
        [{"key": "frame:f1", "weight": 0.5}, {"key": "payment:p1", "weight": 0.9}],
        [],
        [{"key": "frame:f1", "weight": 0.2}],
        [{"key": "frame:f2", "weight": 0.4}],
    ])  # fmt: skip
    assert named.on_edge(0) == [("frame:f1", 0.5), ("payment:p1", 0.9)]
    assert named.on_edge(1) == []
    kept = named.subset(np.array([False, True, True, False]))
    assert kept.on_edge(0) == [] and kept.on_edge(1) == [("frame:f1", 0.2)]
    assert list(kept.kind) == ["frame"] and len(kept.starts) == 3


def test_an_account_that_looks_like_an_operators_joins_on_two_values_under_the_weight() -> None:
    # Cluster 0 is nodes 0-9. Nodes 10 and 11 each share a frame with two members and a
    # sign-up network with one (0.32 of owned weight, under one certain tie; evidence 0.21,
    # under 0.25): two values. Node 10's account facts look like a campaign's (0.9: young,
    # unverified, short-lived): it joins; node 11's (0.2) do not: it stays out. Node 12
    # looks like one too but shares a single frame with ten members (a new customer using
    # one of the operator's phrases): one value, it stays out. Node 13 looks like one and
    # names two values, by 0.2 of weight in all (under ACCOUNT_TIE): it stays out. Node 14
    # looks like one and shares one sign-up network with one member, weighing 0.3: evidence
    # over 0.25, but one value under the weight bar: it stays out. Node 15 looks like one,
    # shares one frame with five members and registered inside the campaign's sign-up batch:
    # the batch is no second value here (being young already says when it registered).
    labels = np.array([0] * 10 + [-1] * 6)
    rows: list[OuterTie] = []
    for node in (10, 11):
        rows += [(node, m, 0.1, [{"key": "frame:f1", "weight": 0.1}]) for m in (0, 1)]
        rows.append((node, 2, 0.12, [{"key": "signup_prefix:1.2.3.0/24", "weight": 0.12}]))
    rows += [(12, m, 0.12, [{"key": "frame:f2", "weight": 0.12}]) for m in range(10)]
    rows += [(13, 3, 0.1, [{"key": "frame:f3", "weight": 0.1}]),
             (13, 4, 0.1, [{"key": "payment:c1", "weight": 0.1}]),
             (14, 5, 0.3, [{"key": "signup_prefix:5.6.7.0/24", "weight": 0.3}])]  # fmt: skip
    rows += [(15, m, 0.1, [{"key": "frame:f4", "weight": 0.1}]) for m in range(5)]
    a, b, ow, values = _outer_ties(rows)
    profile = np.r_[np.zeros(10), 0.9, 0.2, 0.9, 0.9, 0.9, 0.9]
    registered = np.r_[np.linspace(0.0, 0.5, 10), [np.nan] * 5, 0.2]
    out = attach_outer(labels, a, b, ow, values, [0], 1.0, 0.6, 0.25, None, registered,
                       profile, 0.5)  # fmt: skip
    assert out[10] == 0
    assert (out[11:] == -1).all()
    assert burst_weight(0.2, np.linspace(0.0, 0.5, 10)) > 0  # node 15's batch is one
    # without account facts, or with the route off, node 10 stays out too
    assert (attach_outer(labels, a, b, ow, values, [0], 1.0, 0.6, 0.25) == labels).all()
    off = attach_outer(labels, a, b, ow, values, [0], 1.0, 0.6, 0.25, None, None, profile, np.inf)
    assert (off == labels).all()


@pytest.mark.parametrize(
    ("seen", "n"),
    [
        ({"frame:a": 0.1, "frame:b": 0.1}, 2),  # two frames
        ({"frame:a": 0.1, "prompt:p": 0.1}, 1),  # one copied prompt: its frame and its hash
        ({"frame:a": 0.1, "minhash:x|y": 0.2, "minhash:x|z": 0.2}, 1),  # one phrase, alike
        ({"minhash:x|y": 0.2}, 1),
        ({"signup_prefix:n": 0.2, "registration_burst:n": 0.5}, 1),  # one network, its burst
        ({"frame:a": 0.1, "registration_burst:campaign": 0.5}, 1),  # the campaign's batch
        ({"frame:a": 0.1, "same_minutes:x|y": 0.2, "same_minutes:x|z": 0.2}, 2),
        ({"frame:a": 0.1, "payment:c": 0.3}, 2),
        ({"frame:a": 0.1, "frame:common": 0.0}, 1),  # a common frame says nothing
    ],
)
def test_separate_values_count_each_fact_once(seen: dict[str, float], n: int) -> None:
    assert separate_values(seen) == n


def _kind(*types: str) -> int:
    return int(kind_bits([list(types)], ())[0])


def test_an_organization_joined_to_a_campaign_by_phrases_is_judged_on_its_own() -> None:
    # Cluster 0: an operator's accounts 0-9 (card groups 0-4 and 5-9, tied to each other by
    # frames) and an organization's accounts 10-13, held together by their own card and tied
    # to the operator's by frames alone; the organization's accounts are established
    # customers, the operator's are not. Cluster 1 (14-23): the same, but two of the
    # organization's four accounts (nodes 16, 17) are not established. Cluster 2 (24-33): the
    # organization (24-27) shares a sign-up network with the operator's accounts besides the
    # frames.
    labels = np.array([0] * 14 + [1] * 10 + [2] * 10)
    card, frame = _kind("payment"), _kind("frame")
    edges = []
    for lo, hi in ((0, 5), (5, 10), (10, 14), (14, 18), (18, 24), (24, 28), (28, 34)):
        edges += [(x, x + 1, card) for x in range(lo, hi - 1)]
    edges += [(0, 5, frame), (4, 9, frame)]  # the operator's card groups, by its phrases
    edges += [(10, 0, frame), (11, 3, frame), (12, 7, frame | _kind("minhash"))]
    edges += [(14, 18, frame), (15, 19, frame)]
    edges += [(24, 28, frame | _kind("signup_prefix")), (25, 29, frame)]
    a, b, kinds = (np.array(x) for x in zip(*edges, strict=True))
    customer = np.zeros(34, dtype=bool)
    customer[[10, 11, 12, 13, 14, 15, 24, 25, 26, 27]] = True  # nodes 16 and 17 are not
    out = own_customers(labels, a, b, kinds, customer)
    assert len(set(out[10:14])) == 1 and out[10] > 2  # a cluster of its own
    assert (out[:10] == 0).all()  # the operator's card groups stay one campaign
    assert (out[14:] == labels[14:]).all()
    # an organization that is most of its cluster is the cluster: left as it is
    most = np.full(34, -1)
    most[[0, 3, 10, 11, 12, 13]] = 0
    assert (own_customers(most, a, b, kinds, customer) == most).all()


def test_an_organization_with_a_new_account_is_still_an_organization() -> None:
    # One cluster: an operator's accounts 0-9 (two card groups tied by frames, none
    # established, or one) and a vendor's five accounts 10-14 on its own card, tied to the
    # operator's by frames alone. Three of the vendor's are established; one is unverified and
    # one was made the day it first sent. With two established of five it stays.
    labels = np.zeros(15, dtype=np.int64)
    card, frame = _kind("payment"), _kind("frame")
    edges = [(x, x + 1, card) for lo, hi in ((0, 5), (5, 10), (10, 15)) for x in range(lo, hi - 1)]
    edges += [(0, 5, frame), (4, 9, frame), (10, 0, frame), (12, 6, frame), (14, 3, frame)]
    a, b, kinds = (np.array(x) for x in zip(*edges, strict=True))
    customer = np.zeros(15, dtype=bool)
    customer[[2, 10, 11, 12]] = True  # one of the operator's accounts is established too
    out = own_customers(labels, a, b, kinds, customer)
    assert len(set(out[10:])) == 1 and out[10] > 0  # the vendor's: a cluster of its own
    assert (out[:10] == 0).all()
    customer[12] = False  # two established of five: not the vendor's group for sure
    assert (own_customers(labels, a, b, kinds, customer) == 0).all()


@pytest.mark.parametrize(
    ("account", "verified", "exchanges", "expected"),
    [
        (0.0, True, 200, True),
        (0.0, True, 3, False),  # too few exchanges: the profile was not measured
        (0.0, False, 200, False),
        (0.0, None, 200, False),  # no accounts table: unknown
        (0.0, pd.NA, pd.NA, False),  # a nullable column's missing values
        (0.33, True, 200, False),  # young at first use, or short-lived
    ],
)
def test_an_established_customer_is_verified_measured_and_neither_young_nor_short_lived(
    account: float, verified: object, exchanges: object, expected: bool
) -> None:
    got = established(
        np.array([account]), np.array([verified], dtype=object), np.array([exchanges])
    )
    assert bool(got[0]) is expected
