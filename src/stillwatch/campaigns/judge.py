"""Judging a candidate cluster as a whole, and trimming members tied to it only weakly.

A distillation campaign is a network (coordination) of fraudulent accounts (account) that
harvests a model's answers (usage); legitimate organizations are networks of organic accounts,
and abuse rings are networks of fraudulent accounts that do not harvest. So a cluster is scored
on three cluster-level facts, each the mean over its members (one member's missing signal does
not sink a campaign; one member's strong signal does not make a cluster one):

- ``account``: how non-organic its accounts are (the account group of ``docs/scoring.md``:
  young at first use, unverified, short-lived, tied to bans, registered right after a ban),
  times one minus how organic the cluster is as a whole: the largest of its verified share,
  the share of members naming its most common organization (a legitimate fleet is
  verified accounts of one org, even where some keys were provisioned yesterday) and its
  federated share (:func:`federated_share`: organizations that each keep their own cards and
  sign-ups, tied to each other only by what they send — labs running one public harness);
  and, on top, the members the provider has already banned or suspended, as far as chance
  could not give them (:func:`enforced_excess`), discounted only by one organization's or a
  federation's share: bought accounts, aged and verified, are organic by every other fact;
- ``coordination``: how tightly each member is tied inside the cluster (its internal edge
  weight, ``ramp`` from ``trim_strength`` to ``full_strength``), times a factor for how many
  kinds of tie hold it together (``TIE_KINDS``: shared account attributes, timing, content,
  rented pools; one kind alone — say similar phrasing only — is weaker evidence);
- ``harvest``: how much more than the population its accounts ask for what a distiller
  wants (``harvest_lift``): extended thinking, the largest output cap, reasoning traces in
  the prompt (elicitation), frontier capabilities (coding, agentic, long-horizon, maths,
  data analysis). Each is the members' mean share against every scored account's mean, as
  the excess ``(cluster − population) / (1 − population)``; the four excesses combine as
  independent evidence, frontier capabilities at half weight (many legitimate customers write
  code all day; a key reseller's customers may too). Shapes that spam rings, card testers and key resellers share with
  harvesting (single-turn sweeps, long outputs from short prompts, round-the-clock use) are
  not harvest: they are in the members' own detector scores (``member_harvest``, shown, not
  used), never in the judgement.

The campaign score is the harmonic mean of the three, which the weakest dominates: a
legitimate fleet (organic accounts) and an abuse ring (fraudulent, coordinated, harvesting
nothing) each lack one, and a geometric mean let a ring's two strong facts carry its weak
third over the threshold (0.9, 0.9, 0.2 gives 0.55 geometric, 0.41 harmonic). It is then
weighed by how many accounts say it, ``n / (n + PRIOR_MEMBERS)``: each fact is a mean over the
members plus two imaginary members that show none of it. A handful of unrelated accounts that
happen to share a card, a pasted error message or a few phrases, and happen to be new and to
ask for long answers, is a chance a large population offers many times; thirty accounts that
all do so is not (3 members keep 3/5 of their score, 10 keep 83%, 30 keep 94%). Known misses: a
campaign on aged, verified accounts that the provider does not ban scores low on ``account``;
known false positives: a class of new students sharing one lab's templates that ask for
step-by-step reasoning fills all three.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from stillwatch.campaigns.cluster import NamedValues
from stillwatch.campaigns.signature import SIGNATURE_PURITY, FrameHolders
from stillwatch.campaigns.signup import KEY as BURST_KEY
from stillwatch.campaigns.signup import burst_weight, member_times

# What harvesting a model's answers looks like, detector by detector: asking for reasoning
# traces, targeting a capability, asking for the longest answers count fully; shapes that
# spam rings, classification apps and schedulers share (long outputs from short prompts,
# single-turn requests, round-the-clock or heavy use) count at half weight.
HARVEST_WEIGHTS: dict[str, float] = {
    "tokens.reasoning": 1.0,
    "tokens.max-output": 1.0,
    "content.elicitation": 1.0,
    "content.capability-focus": 1.0,
    "tokens.output-heavy": 0.5,
    "conversation.single-turn": 0.5,
    "rhythm.round-the-clock": 0.5,
    "rhythm.steady-rate": 0.5,
    "volume.heavy": 0.5,
}
CONTENT_DETECTORS = ("content.elicitation", "content.capability-focus")
ACCOUNT_FAMILIES = ("account-profile", "enforcement")


def _ramp(x: np.ndarray, start: float, end: float) -> np.ndarray:
    return np.clip((np.asarray(x, dtype=float) - start) / (end - start), 0.0, 1.0)


@dataclass(frozen=True)
class JudgeSettings:
    trim_strength: float = 0.5
    full_strength: float = 2.0
    min_accounts: int = 3
    owned_strength: float = 0.25
    relative_strength: float = 0.2


def internal_strength(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """Per node: the sum of its edge weights to nodes of its own cluster (label ≥ 0)."""
    same = (labels[a] == labels[b]) & (labels[a] >= 0)
    n = len(labels)
    return np.bincount(a[same], w[same], n) + np.bincount(b[same], w[same], n)


def trim(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray, owned: np.ndarray,
    s: JudgeSettings, owned_weight: np.ndarray | None = None,
    kinds: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Drop members whose only ties inside their cluster are weak: internal strength below
    ``trim_strength``, or below ``relative_strength`` times the median member's (a customer
    who uses one of an operator's phrases is tied to a few of its accounts by that phrase
    alone; the operator's accounts share dozens of frames, cards and sign-up batches), or
    owned ties (payment, frames, bursts, timing: not a rented pool) weighing less than
    ``owned_strength`` (``owned_weight``: each edge's owned kinds alone, where known) — a
    customer of the same proxy provider shares addresses with a campaign and nothing else.
    With ``kinds`` (each edge's owned link types, :func:`kind_bits`), also members tied inside
    only by kinds chance makes (``CHANCE_KINDS``) that the cluster is not made of
    (:func:`defining_kinds`): customers whose prompts are near-duplicates of a few campaign
    accounts' (the same popular prompts), tied by similar phrasing alone to a campaign whose
    members all share its frames. Then drop clusters left with fewer than ``min_accounts``;
    repeated, since a removal weakens the others' ties. Dropped nodes get label -1."""
    labels = labels.copy()
    for _ in range(4):
        strength = internal_strength(labels, a, b, w)
        mine = (
            internal_strength(labels, a[owned], b[owned], w[owned])
            if owned_weight is None
            else internal_strength(labels, a, b, owned_weight)
        )
        typical = _cluster_median(labels, strength)
        weak = (labels >= 0) & (
            (strength < s.trim_strength)
            | (strength < s.relative_strength * typical[np.maximum(labels, 0)])
            | (mine < s.owned_strength)
        )
        if kinds is not None:
            held = member_kinds(labels, a, b, kinds)
            own = defining_kinds(labels, held)[np.maximum(labels, 0)]
            weak |= (labels >= 0) & (held != 0) & by_chance_alone(held, own)
        labels[weak] = -1
        sizes = np.bincount(labels[labels >= 0], minlength=labels.max() + 1 if len(labels) else 0)
        small = (labels >= 0) & (sizes[np.maximum(labels, 0)] < s.min_accounts)
        labels[small] = -1
        if not weak.any() and not small.any():
            break
    return labels


# A phrase (a frame, a prompt) held inside a cluster by fewer than this share of its members
# is not one of its templates: an operator runs its templates on its accounts at large.
STRAY_SHARE = 0.02
PHRASE_KINDS = ("frame", "prompt")
CONTENT_KINDS = (*PHRASE_KINDS, "minhash")


def firm_or_stray(
    kind: np.ndarray, share: np.ndarray, near: np.ndarray, size: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per owned value tying an account to a cluster of ``size`` members — its link type
    ``kind``; for a phrase, the ``share`` of the members holding it; ``near``, how many members
    the account's near-duplicate prompts tie it to — whether it is firm (a tie of another owned
    kind: a card, a sign-up batch, timing; or a phrase held by ``STRAY_SHARE`` of the members
    or more) and whether it is stray (a phrase held by fewer; near-duplicate prompts to fewer
    than ``STRAY_SHARE`` of the members: they name the pair, not a phrase, and a customer's
    prompts resemble a few accounts'). An account with a stray value and no firm one is tied
    only by what a few of the cluster's accounts send: :func:`stray_phrases` reads a member
    so, :meth:`PhraseHolders.stray` an account outside."""
    phrase = np.isin(kind, PHRASE_KINDS)
    firm = ~np.isin(kind, CONTENT_KINDS) | (phrase & (share >= STRAY_SHARE))
    stray = phrase & (share < STRAY_SHARE)
    stray |= (kind == "minhash") & (near < STRAY_SHARE * size)
    return firm, stray


def stray_phrases(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, named: NamedValues
) -> np.ndarray:
    """Members (a mask) tied inside their cluster only by phrases few of its members use and
    by near-duplicate prompts — or by near-duplicate prompts alone, to fewer than
    ``STRAY_SHARE`` of its members: no tie of another owned kind (a card, a sign-up batch,
    timing) and no phrase held by ``STRAY_SHARE`` of the cluster or more — of its members,
    and of those tied inside by another owned kind where they are ``2 / STRAY_SHARE`` or more
    (the smaller share: customers of one popular template do not vouch for it themselves).

    Why: a campaign that resells customers' traffic carries their prompts, and the templates
    people reuse (a marketing agency's "write a 150-word post for us, our keyword is …") are
    then shared by a few of its accounts and by other customers of the same template.
    `proxy-mixed` medium, development seed 1: 73 customers sat inside the 4,305-account
    campaign, each tied to ten or twenty of its accounts by such a phrase; every one's phrases
    were held by under 1% of the campaign, every campaign account held one held by 12% or more
    (holders then counted by ties inside the cluster; counted as :class:`PhraseHolders` does,
    the customers stay out just the same).
    In a cluster of fewer than ``2 / STRAY_SHARE`` members any shared phrase is held by more
    than that share, so small clusters are left as they are."""
    out = np.zeros(len(labels), dtype=bool)
    if not len(named.edge) or not len(labels) or labels.max() < 0:
        return out
    ea, eb = a[named.edge], b[named.edge]
    c = labels[ea]
    inner = (c == labels[eb]) & (c >= 0)
    c, key, kind = c[inner], named.key[inner], named.kind[inner]
    node = np.concatenate([ea[inner], eb[inner]])
    c2, key2 = np.tile(c, 2), np.tile(key, 2)
    kind2 = np.tile(kind, 2)
    size = np.bincount(labels[labels >= 0])
    targets = np.unique(c)
    held_by = named.holders(a, b, PHRASE_KINDS)  # read once, counted twice
    share = PhraseHolders(labels, a, b, named, targets, held_by).count(c2, key2) / size[c2]
    # ... and among the members tied inside by an owned value other than content (a card, a
    # sign-up batch, timing, a network): customers who all paste one popular template are tied
    # to each other by it, and hold it as many as they are; counted among the anchored members
    # (where there are 2 / STRAY_SHARE of them or more) they do not vouch for it themselves
    anchored = np.zeros(len(labels), dtype=bool)
    anchored[node[~np.isin(kind2, CONTENT_KINDS)]] = True
    among = np.where(anchored, labels, -1)
    if anchored.any():
        base = np.bincount(among[among >= 0], minlength=len(size))
        counted = base[c2] >= 2 / STRAY_SHARE
        some = targets[base[targets] > 0]
        held = PhraseHolders(among, a, b, named, some, held_by).count(c2, key2)
        share = np.where(counted, np.minimum(share, held / np.maximum(base[c2], 1)), share)
    partners = np.bincount(node, kind2 == "minhash", len(labels))
    firm, stray = firm_or_stray(kind2, share, partners[node], size[c2])
    has_firm = np.bincount(node, firm, len(labels)) > 0
    has_stray = np.bincount(node, stray, len(labels)) > 0
    return has_stray & ~has_firm & (labels >= 0)


class PhraseHolders:
    """How many members of each target cluster hold each phrase (``PHRASE_KINDS``), for the
    clusters as ``labels`` stand (for attachment, the campaigns as judged, before anyone is
    attached). A member holds a phrase when one of its edges names it, whoever is at the other
    end (:meth:`NamedValues.holders`): the graph keeps each account's strongest ties only, so
    two members holding the same phrase are often not tied to each other by it."""

    def __init__(
        self, labels: np.ndarray, a: np.ndarray, b: np.ndarray, named: NamedValues,
        targets: Sequence[int] | np.ndarray,
        holders: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:  # fmt: skip
        """``holders``: ``named.holders(a, b, PHRASE_KINDS)`` when the caller has it already
        (one sort of every phrase holder in the graph, the same for any ``labels``)."""
        self.labels = labels.copy()
        self.size = np.bincount(labels[labels >= 0], minlength=int(labels.max()) + 2)
        target = np.zeros(len(self.size), dtype=bool)
        target[np.asarray(targets, dtype=np.int64)] = True
        key, node = holders if holders is not None else named.holders(a, b, PHRASE_KINDS)
        c = labels[node]
        mine = (c >= 0) & target[np.maximum(c, 0)]
        # how many members of each cluster hold each key: sorted codes cluster * n_keys + key
        self.n_keys = int(key.max()) + 1 if len(key) else 1
        codes = c[mine].astype(np.int64) * self.n_keys + key[mine]
        self.held_codes, self.held_counts = np.unique(codes, return_counts=True)

    def count(self, clusters: np.ndarray, keys: np.ndarray) -> np.ndarray:
        """How many of each ``clusters[i]``'s members hold phrase ``keys[i]`` (0 for a key
        of another kind)."""
        keys = np.asarray(keys, dtype=np.int64)
        codes = np.asarray(clusters, dtype=np.int64) * self.n_keys + keys
        if not len(self.held_codes):
            return np.zeros(len(codes), dtype=np.int64)
        at = np.minimum(np.searchsorted(self.held_codes, codes), len(self.held_codes) - 1)
        found = (self.held_codes[at] == codes) & (keys < self.n_keys)
        return np.where(found, self.held_counts[at], 0)

    def held(self, cluster: int, key: int) -> int:
        """How many of ``cluster``'s members hold phrase ``key``: :meth:`count` for one pair,
        without its arrays (attachment asks once per phrase of each outer account, a few
        hundred thousand times at the large scale: 4.5 times faster so)."""
        if key >= self.n_keys:
            return 0
        code = cluster * self.n_keys + key
        at = int(np.searchsorted(self.held_codes, code))
        found = at < len(self.held_codes) and self.held_codes[at] == code
        return int(self.held_counts[at]) if found else 0

    @staticmethod
    def only_phrases(seen: Mapping[str, float]) -> bool:
        """Whether every owned value in ``seen`` is of a content kind (the only accounts
        :meth:`stray` may find stray)."""
        return bool(seen) and {k.partition(":")[0] for k in seen} <= set(CONTENT_KINDS)

    def stray(self, cluster: int, seen: Mapping[str, float], tied: Mapping[int, set[int]]) -> bool:
        """Whether an account outside every cluster, whose owned values shared with
        ``cluster`` are ``seen`` and whose edges naming each phrase (a key code) reach the
        members ``tied[key]``, would be a stray member of it (:func:`firm_or_stray`): each
        phrase held, counting the account and the members attached since (those it reaches
        by it), by fewer than ``STRAY_SHARE`` of the members and the account, near-duplicate
        prompts to fewer than ``STRAY_SHARE`` of them, and no owned value of another kind."""
        if not tied or not self.only_phrases(seen):
            return False
        # firm_or_stray on these values, worked out: with a phrase among them, the account is
        # stray exactly when every phrase is held by under STRAY_SHARE (none is firm);
        # near-duplicate prompts are never firm and cannot change that
        size = int(self.size[cluster]) + 1
        for key, members in tied.items():
            reach = np.fromiter(members, np.int64, len(members))
            attached = int((self.labels[reach] != cluster).sum())
            if (self.held(cluster, key) + attached + 1) / size >= STRAY_SHARE:
                return False
        return True


def phrase_ties(
    values: NamedValues, a: np.ndarray, b: np.ndarray, node: int, edges: Sequence[int]
) -> dict[int, set[int]]:
    """Per phrase (a key code) that ``node``'s ``edges`` name, the accounts at their other
    ends."""
    tied: dict[int, set[int]] = {}
    for e in edges:
        member = int(b[e]) if int(a[e]) == node else int(a[e])
        for r in range(int(values.starts[e]), int(values.starts[e + 1])):
            if values.kind[r] in PHRASE_KINDS:
                tied.setdefault(int(values.key[r]), set()).add(member)
    return tied


# An established customer's account facts: an account-profile (and ban-tie) score under this,
# with identity verification passed and five exchanges or more (so the profile was measured).
ESTABLISHED_ACCOUNT = 0.2
# The account-profile rule reads accounts with this many exchanges or more
# (``detectors/rules/behaviour.yaml``, ``account.young-unverified``); an account with fewer is
# light: its own facts are not measured.
PROFILE_EXCHANGES = 5


def exchange_counts(exchanges: np.ndarray) -> np.ndarray:
    """Each node's number of exchanges as floats, NaN where unknown (pandas NA, None)."""
    n = pd.to_numeric(pd.Series(list(exchanges), dtype=object), errors="coerce")
    return n.to_numpy(dtype=float, na_value=np.nan)


def established(account: np.ndarray, verified: np.ndarray, exchanges: np.ndarray) -> np.ndarray:
    """Per node, whether its own facts are an established customer's: verified, measured
    (``exchanges`` ≥ ``PROFILE_EXCHANGES``, the account-profile rule's floor) and an ``account`` fact under
    ``ESTABLISHED_ACCOUNT`` (not young at first use, not short-lived, not tied to bans).
    Unknown verification (no accounts table) is not established."""
    ok = pd.array(list(verified), dtype="boolean").fillna(False).to_numpy(dtype=bool)
    return (
        ok
        & (exchange_counts(exchanges) >= PROFILE_EXCHANGES)
        & (np.asarray(account, dtype=float) < ESTABLISHED_ACCOUNT)
    )


# Established accounts that, as most of a card group, make it an organization's (own_customers).
ORGANIZATION_ESTABLISHED = 3


def own_customers(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, kinds: np.ndarray, customer: np.ndarray
) -> np.ndarray:
    """Give each organization inside a cluster a cluster of its own: two or more members
    joined to one another by account ties (a card, a non-public mail domain, a sign-up network
    or batch: ``ACCOUNT_BITS`` of ``kinds``), fewer than half the cluster, every one an
    established customer (``customer``: :func:`established`), and tied to the rest of the
    cluster by phrases alone (frames, prompts, near-duplicates; rented pools aside).

    Why: a synthetic-data vendor writes the same kind of grader and reasoning prompts as an
    operator and may fill a few of its frames; its accounts pay with the vendor's own card and
    so hold together, and that group was joined to the campaign by the phrases
    (`multi-operator` small, development seed 8: six verified accounts of one vendor, 3–12
    months old, inside a campaign of 50 by three shared frames; 5.6 false positives per
    10,000). An operator's card groups are tied to each other by its phrases the same way, but
    their accounts are young, unverified or short-lived: over the 27 small development stores
    no such group of an operator's was all established (the lowest account fact in a group,
    0.33: unverified). An organization also takes on a new account now and then, or keeps
    one unverified: a group counts as established when all of it is, or when most of it is
    and at least ``ORGANIZATION_ESTABLISHED`` of its accounts are (`multi-operator` small,
    development seed 17: five of a vendor's accounts, three established, one unverified and
    one made the day it first sent, inside a campaign of 76; over 71 small development stores
    no operator's card group held more than two established accounts, in groups of 27–91).
    The organization's group is then judged on its own, as any cluster.
    Returns new labels (the organizations numbered after the existing clusters)."""
    labels = labels.copy()
    n = len(labels)
    if not len(a) or not n or labels.max() < 0:
        return labels
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    inside = (labels[a] == labels[b]) & (labels[a] >= 0)
    joined = inside & ((kinds & ACCOUNT_BITS) != 0)
    graph = coo_matrix((np.ones(int(joined.sum())), (a[joined], b[joined])), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    cross = inside & (group[a] != group[b])
    if not cross.any():
        return labels
    k = int(group.max()) + 1
    # per group: the owned kinds of its ties to the rest of its cluster, size, all established
    out_kinds = np.zeros(k, dtype=np.int64)
    np.bitwise_or.at(
        out_kinds, np.r_[group[a[cross]], group[b[cross]]], np.r_[kinds[cross], kinds[cross]]
    )
    in_cluster = labels >= 0
    size = np.bincount(group[in_cluster], minlength=k)
    established_n = np.bincount(group[in_cluster], customer[in_cluster].astype(float), k)
    settled = (established_n == size) | (
        (established_n >= ORGANIZATION_ESTABLISHED) & (2 * established_n > size)
    )
    cluster_size = np.bincount(labels[in_cluster])
    first = np.full(k, -1, dtype=np.int64)
    first[group[::-1]] = np.arange(n)[::-1]  # a member of each group (its cluster's label)
    whose = labels[np.maximum(first, 0)]
    phrases = sum(_KIND_BIT[t] for t in CONTENT_KINDS)
    apart = (
        (size >= 2) & settled & (whose >= 0) & (out_kinds != 0) & ((out_kinds & ~phrases) == 0)
        & (2 * size < cluster_size[np.maximum(whose, 0)])
    )  # fmt: skip
    nxt = int(labels.max()) + 1
    for g in np.flatnonzero(apart).tolist():
        labels[(group == g) & in_cluster] = nxt
        nxt += 1
    return labels


def kind_bits(link_types: Iterable[Iterable[str]], pools: Iterable[str]) -> np.ndarray:
    """Per edge, its owned link types as bits (one bit per type of ``TIE_KINDS``, one more for
    any other type); rented pools (``pools``) are left out."""
    skip = set(pools)
    other = 1 << len(_KIND_BIT)
    return np.array(
        [sum({_KIND_BIT.get(t, other) for t in ts if t not in skip}) for ts in link_types],
        dtype=np.int64,
    )


def by_chance_alone(kinds: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Whether ties of ``kinds`` (bits) are made only of kinds chance makes
    (``CHANCE_KINDS``) and of none of ``own``, the kinds their cluster is made of (no rule
    where ``own`` is 0)."""
    return (own != 0) & ((kinds & own) == 0) & ((kinds & ~CHANCE_BITS) == 0)


def member_kinds(labels: np.ndarray, a: np.ndarray, b: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Per node, the owned link types (bits) of its edges inside its own cluster."""
    held = np.zeros(len(labels), dtype=np.int64)
    inner = (labels[a] == labels[b]) & (labels[a] >= 0)
    np.bitwise_or.at(held, a[inner], kinds[inner])
    np.bitwise_or.at(held, b[inner], kinds[inner])
    return held


def defining_kinds(labels: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Per cluster, the owned link types (bits) that at least ``KIND_REACH`` of its members
    hold inside it: what the cluster is made of."""
    k = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 0
    out = np.zeros(k, dtype=np.int64)
    inside = labels >= 0
    size = np.bincount(labels[inside], minlength=k)
    for i in range(int(held.max()).bit_length() if len(held) else 0):
        has = np.bincount(labels[inside], ((held[inside] >> i) & 1).astype(float), k)
        out[has >= KIND_REACH * np.maximum(size, 1)] |= 1 << i
    return out


def note_values(seen: dict[str, float], named: Iterable[tuple[str, float]]) -> None:
    """Add an edge's owned values (``NamedValues.on_edge``: key, weight) to ``seen``, each
    value at its largest weight."""
    for key, weight in named:
        seen[key] = max(seen.get(key, 0.0), weight)


def value_evidence(seen: Mapping[str, float]) -> float:
    """The evidence of distinct owned values, ``1 − Π(1 − weight)``: each value counts once,
    however many edges name it."""
    return 1.0 - float(np.prod([1.0 - min(x, 0.999) for x in seen.values()]))


# Rounds of attachment: an account that joined brings its ties, so an account tied mostly to
# it and to the campaign's other members joins in the next round. A cap, not a setting: the
# large scale's campaign took 18 rounds to stop (docs/campaigns.md "In rounds").
ATTACH_ROUNDS = 50
# The owned weight an outer account with a campaign's account facts needs (see _attach_once).
ACCOUNT_TIE = 0.25


def attach_outer(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, owned_weight: np.ndarray,
    owned_values: NamedValues, targets: list[int],
    min_weight: float, min_share: float, min_evidence: float,
    kinds: np.ndarray | None = None, registered: np.ndarray | None = None,
    profile: np.ndarray | None = None, min_profile: float = np.inf, rounds: int = ATTACH_ROUNDS,
    exchanges: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """:func:`_attach_once` repeated until nobody joins, at most ``rounds`` times. Each account
    meets the same bars against the campaign as it stands when it joins: its owned ties go
    mostly to the campaign's members (the core's and those attached before it), through
    several distinct values. An operator's short-lived accounts tie to each other as much as
    to the core (``low-and-slow`` at large scale: 43% of the missed accounts' tie weight went
    to the reported campaign, 42% to other missed accounts), so one round leaves out those
    whose ties reach the core only through accounts that join in it. A cluster's sign-up
    batches are read once, the first time an account's tie to it needs them (so accounts
    attached in earlier rounds may be among them), and kept for the later rounds."""
    times: dict[int, np.ndarray] = {}
    holders = FrameHolders(a, b, owned_values) if registered is not None else None
    light = None if exchanges is None else exchange_counts(exchanges) < PROFILE_EXCHANGES
    phrases = PhraseHolders(labels, a, b, owned_values, targets) if len(targets) else None
    for _ in range(rounds):
        grown = _attach_once(labels, a, b, owned_weight, owned_values, targets, min_weight,
                            min_share, min_evidence, kinds, registered, times,
                            profile, min_profile, holders, light, phrases)  # fmt: skip
        if (grown == labels).all():
            break
        labels = grown
    return labels


def _attach_once(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, owned_weight: np.ndarray,
    owned_values: NamedValues, targets: list[int],
    min_weight: float, min_share: float, min_evidence: float,
    kinds: np.ndarray | None, registered: np.ndarray | None, times: dict[int, np.ndarray],
    profile: np.ndarray | None = None, min_profile: float = np.inf,
    holders: FrameHolders | None = None, light: np.ndarray | None = None,
    phrases: PhraseHolders | None = None,
) -> np.ndarray:  # fmt: skip
    """Attach accounts left outside every cluster to the target cluster their owned ties
    point to: those ties weigh at least ``min_weight`` (one shared sign-up network is not
    enough) and at least ``min_share`` of the account's owned weight, and the
    distinct owned values those edges name (a frame, a card, a sign-up network; each pair for
    pair-wise kinds) reach ``min_evidence`` as ``1 − Π(1 − weight)``, each value at its largest
    weight — the measure attribution uses between campaigns. An operator's account used for a
    day or two shares two or three of its frames and its sign-up network with the campaign and
    nothing with anyone else: too little weight for the clustering's density, which asks more
    of a node the larger the cluster, yet several independent owned facts. A customer who
    happens to use one of the operator's phrases shares that one value, however many of the
    operator's accounts it ties them to. With ``kinds`` (:func:`kind_bits`), ties made only
    of kinds chance makes that the cluster is not made of do not count (the trim's rule,
    :func:`by_chance_alone`). With ``registered`` (each node's registration time in hours,
    NaN unknown), an account registered in one of the cluster's own sign-up bursts adds that
    as one more value (:func:`signup.burst_weight`): one frame of the operator's and one of
    its batches are two independent facts (each cluster's member sign-up times, read from
    the labels of the round that first needs them, are kept in ``times``). With ``profile``
    (each node's account-profile fact, :func:`member_facts`), an account whose own facts look
    like an operator's (``min_profile`` or more: young at first use, unverified,
    short-lived) needs, instead of the weight and evidence bars, only ``ACCOUNT_TIE`` of
    owned weight and the share, with ``MIN_VALUES`` independent values
    (:func:`separate_values`): an operator's account used for a handful of exchanges shares
    two of its frames, or a frame and a card, with the campaign and nothing with anyone else,
    too little weight for the bar above; a new customer who uses one of the operator's
    phrases names one, however young. Sign-up batches do not count here: being young is
    already a fact of when it registered, and a young customer's sign-up hour falls in a
    large campaign's batches often enough (``hydra-loud`` medium development seed 3: two
    customers, each one frame and a batch). With ``holders`` and ``light`` too (each node's
    exchanges under ``PROFILE_EXCHANGES``, so its profile is not read), a light account
    (:mod:`signature`) that shares one of the cluster's
    signature frames (held almost only by its members) and was registered in one of its
    sign-up bursts joins whatever its weight: an operator's account used once shows what it
    sent and when it was made, nothing more. With ``phrases`` (:class:`PhraseHolders`), an
    account the trim would take out as a stray member (:func:`stray_phrases`: tied only by
    phrases fewer than ``STRAY_SHARE`` of the campaign hold, and by near-duplicate prompts)
    joins by no route unless it was registered in one of the campaign's own sign-up bursts.
    Returns new labels."""
    labels = labels.copy()
    if not len(targets) or not len(a):
        return labels
    target = np.zeros(int(labels.max()) + 2, dtype=bool)
    target[np.asarray(targets)] = True
    la, lb = labels[a], labels[b]
    if kinds is not None:
        defining = np.zeros(len(target), dtype=np.int64)
        found = defining_kinds(labels, member_kinds(labels, a, b, kinds))
        defining[: len(found)] = found
        off_kind = np.zeros(len(a), dtype=bool)
        for other in (la, lb):
            off_kind |= (other >= 0) & by_chance_alone(kinds, defining[np.maximum(other, 0)])
    else:
        off_kind = np.zeros(len(a), dtype=bool)
    owned_anywhere = np.bincount(np.r_[a, b], np.r_[owned_weight, owned_weight], len(labels))
    owned_weight = np.where(off_kind, 0.0, owned_weight)
    # every edge from an account outside to a target cluster: its a sides, then its b sides
    edges, outer, into_cluster = [], [], []
    for node_side, other in ((a, lb), (b, la)):
        own_label = labels[node_side]
        edge = np.flatnonzero(
            (own_label < 0) & (other >= 0) & target[np.maximum(other, 0)] & (owned_weight > 0)
        )
        edges.append(edge)
        outer.append(node_side[edge].astype(np.int64))
        into_cluster.append(other[edge].astype(np.int64))
    edge, node_of, cluster_of = np.concatenate(edges), np.concatenate(outer), np.concatenate(
        into_cluster)  # fmt: skip
    # each (account, cluster)'s owned weight, summed in the order of its edges above (bincount
    # adds in order, as a running sum would)
    pair, at = np.unique(node_of * len(target) + cluster_of, return_inverse=True)
    into = np.bincount(at, owned_weight[edge], len(pair))
    pair_node, pair_cluster = pair // len(target), pair % len(target)
    # each account's heaviest tie (equal ones: the lower cluster), when it weighs anything
    order = np.lexsort((pair_cluster, -into, pair_node))
    _, first = np.unique(pair_node[order], return_index=True)
    chosen = order[first]
    chosen = chosen[into[chosen] > 0.0]
    # each pair's edges in their order above
    by_pair = np.argsort(at, kind="stable")
    pair_start = np.searchsorted(at[by_pair], np.arange(len(pair) + 1))
    before = labels.copy()  # the clusters as they stood, for their members' sign-up times
    memo: dict[tuple[int, int], tuple[int, int]] = {}  # and who holds their frames
    sizes = np.bincount(before[before >= 0], minlength=len(target))

    def burst(node: int, cluster: int) -> float:
        """How firmly ``node``'s sign-up falls in one of ``cluster``'s sign-up bursts (its
        members' sign-up times read once per cluster)."""
        assert registered is not None
        if cluster not in times:
            times[cluster] = member_times(before, registered, cluster)
        return burst_weight(float(registered[node]), times[cluster])

    for p in chosen.tolist():
        node, cluster, weight = int(pair_node[p]), int(pair_cluster[p]), float(into[p])
        if weight < min_share * owned_anywhere[node]:
            continue
        named: dict[str, float] = {}
        pair_edges = edge[by_pair[pair_start[p] : pair_start[p + 1]]].tolist()
        for e in pair_edges:
            note_values(named, owned_values.on_edge(int(e)))
        seen = without_stray_near(named, int(sizes[cluster]))
        # what it sends is held by few of the campaign's members: a stray member, unless it
        # was registered in one of the campaign's own sign-up bursts (a tie of another kind,
        # as a registration-burst edge is to the trim)
        if (phrases is not None and phrases.only_phrases(seen)
                and phrases.stray(cluster, seen, phrase_ties(owned_values, a, b, node, pair_edges))
                and (registered is None or burst(node, cluster) <= 0)):  # fmt: skip
            continue
        if (profile is not None and profile[node] >= min_profile and weight >= ACCOUNT_TIE
                and separate_values(seen) >= MIN_VALUES):  # fmt: skip
            labels[node] = cluster
            continue
        if (
            holders is not None
            and light is not None
            and registered is not None
            and light[node]
            and (holders.purest(seen, cluster, before, memo) >= SIGNATURE_PURITY)
            and burst(node, cluster) > 0
        ):
            labels[node] = cluster
            continue
        if weight < min_weight:
            continue
        if independent_frames(seen):
            labels[node] = cluster
            continue
        if value_evidence(seen) < min_evidence and registered is not None:
            seen = {**seen, BURST_KEY: burst(node, cluster)}
        if value_evidence(seen) >= min_evidence:
            labels[node] = cluster
    return labels


def without_stray_near(seen: Mapping[str, float], size: int) -> dict[str, float]:
    """``seen`` (an outer account's owned values shared with a cluster of ``size`` members)
    without its near-duplicate phrasing when that is all it shares and ties it to fewer than
    ``STRAY_SHARE`` of the members: the trim's rule for a member tied by near-duplicate
    prompts alone (:func:`stray_phrases`), so that an account the trim took out as a stray is
    not let back in on the same evidence. Each near-duplicate pair is a value of its own, so
    otherwise a customer whose phrasing resembles twenty accounts' of a campaign of two
    thousand names twenty values (`multi-operator` medium development seed 2: eight
    customers, seven of them writing in Chinese, whose long histories repeat the phrasing the
    operator's prompts were built from). Beside another owned value (the operator's light
    accounts there share one of its frames too) the phrasing counts as before.
    """
    near = [k for k in seen if k.startswith("minhash:")]
    alone = not any(w > 0 for k, w in seen.items() if not k.startswith("minhash:"))
    if near and alone and len(near) < STRAY_SHARE * size:
        return {}
    return dict(seen)


# Distinct frames of one cluster that make an outer account's tie to it: a customer who uses
# one of an operator's phrases shares that one; two are two independent facts.
MIN_FRAMES = 2
# Independent values (see separate_values) that tie an outer account whose own account facts
# look like an operator's (see _attach_once).
MIN_VALUES = 2
# What an account sends (CONTENT_KINDS): a copied prompt names its frame and its hash,
# near-duplicate phrasing names each pair apart; together one fact however many keys.


def separate_values(seen: Mapping[str, float]) -> int:
    """How many independent facts ``seen`` (an outer account's owned values shared with one
    cluster) holds: what it sends counts as its largest number of distinct frames or of
    distinct prompts (one if it only phrases alike); same-minute activity once (its keys
    name pairs); each card, e-mail domain, sign-up network and replacement after a ban once;
    sign-up batches not at all (a batch is its network or the campaign's hour again, and
    being young already says when it registered)."""
    content: dict[str, set[str]] = {kind: set() for kind in CONTENT_KINDS}
    other: set[str] = set()
    for key, weight in seen.items():
        if weight <= 0:
            continue
        kind, _, value = key.partition(":")
        if kind in content:
            content[kind].add(value)
        elif kind == "same_minutes":
            other.add(kind)
        elif kind != "registration_burst":
            other.add(key)
    sent = max(len(content["frame"]), len(content["prompt"]), min(len(content["minhash"]), 1))
    return sent + len(other)


def independent_frames(seen: Mapping[str, float]) -> bool:
    """Whether ``seen`` (an outer account's owned values shared with one cluster, each at its
    largest weight) names ``MIN_FRAMES`` distinct frames that are not common (weight > 0).

    A frame's rarity weight, ``1 / log2(1 + accounts)``, is what two accounts sharing it say of
    each other; a large campaign's frames are held by thousands of its accounts, so at medium
    scale two of them weigh 0.15 together, under ``min_evidence``, while at small scale the
    same two frames pass. Whether an account belongs to that campaign is another question: two
    of its frames in an account's few prompts are two independent facts however many other
    accounts fill them (``hydra-loud`` medium development seed 2: of the outer accounts tied to
    a reported campaign by exactly two distinct frames and nothing else, 468 were its accounts
    and none a customer)."""
    return sum(1 for k, w in seen.items() if k.startswith("frame:") and w > 0) >= MIN_FRAMES


def _cluster_median(labels: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per cluster label (0..max), the median of ``values`` over its members."""
    k = int(labels.max()) + 1 if len(labels) and labels.max() >= 0 else 1
    out = np.zeros(k)
    inside = labels >= 0
    if inside.any():
        med = pd.Series(values[inside]).groupby(labels[inside]).median()
        out[med.index.to_numpy()] = med.to_numpy()
    return out


def member_facts(families: pd.DataFrame, detectors: pd.DataFrame) -> pd.DataFrame:
    """Per account: ``account`` (its account families: rows of ``families``, family → score),
    ``profile`` (the account-profile family alone: what the account is, not whom it shares
    a card or a network with),
    ``harvest`` (``HARVEST_WEIGHTS`` over its detector scores: rows of ``detectors``,
    detector → score) and ``content`` (its content harvest detectors alone), in [0, 1]."""

    def strongest(frame: pd.DataFrame, names: tuple[str, ...]) -> np.ndarray:
        present = [c for c in names if c in frame.columns]
        if not present:
            return np.zeros(len(frame))
        return frame[present].fillna(0).to_numpy().max(axis=1)

    det = detectors.reindex(families.index)
    weighted = [det[d].fillna(0).to_numpy() * w for d, w in HARVEST_WEIGHTS.items() if d in det]
    harvest = np.max(weighted, axis=0) if weighted else np.zeros(len(families))
    return pd.DataFrame(
        {"account": strongest(families, ACCOUNT_FAMILIES),
         "profile": strongest(families, ("account-profile",)), "harvest": harvest,
         "content": strongest(det, CONTENT_DETECTORS)},
        index=families.index,
    )  # fmt: skip


def cluster_scores(
    labels: np.ndarray,
    members: pd.DataFrame,
    coordination: np.ndarray,
    n_clusters: int,
    baseline: Mapping[str, float],
    account_measured: bool = True,
    federated: np.ndarray | None = None,
) -> pd.DataFrame:
    """Per cluster (0..n_clusters-1): size, ``account`` (members' mean, discounted by how
    organic the cluster is, with its enforced members on top), ``harvest`` (its
    lift over ``baseline``, :func:`harvest_lift`), ``coordination`` (mean), and the campaign
    score; the members' own mean harvest and content scores beside them, for explanation.
    ``account_measured`` False (no account-group detector could run: logs without an accounts
    or enforcements table) judges on coordination and harvest alone — an unmeasured fact is
    left out, as for account scores (``docs/scoring.md``), never counted as 0.

    ``members``: one row per graph node (aligned with ``labels``) with ``account``,
    ``harvest``, ``content``, ``verified``, ``org_name``, ``enforced`` (optional) and the
    ``LIFT_SHARES``;
    ``federated``: per cluster, :func:`federated_share` (none: 0, as in the null model)."""
    inside = labels >= 0
    lab = labels[inside]
    size = np.bincount(lab, minlength=n_clusters).astype(float)
    safe = np.maximum(size, 1)

    def mean(col: np.ndarray) -> np.ndarray:
        return np.bincount(lab, np.nan_to_num(col[inside]), n_clusters) / safe

    # Organic organizations: verified accounts, one org name for most members.
    verified = mean(_flags(members, "verified"))
    org = members.org_name.where(members.org_name.notna(), None).to_numpy(dtype=object)
    top_org = _top_share(lab, org[inside], size, n_clusters)
    fed = np.zeros(n_clusters) if federated is None else np.asarray(federated, dtype=float)
    organic = np.maximum(np.maximum(verified, top_org), fed)
    # Members the provider has already banned or suspended (and not reinstated): an operator's
    # network loses accounts to bans and replaces them. Counted beyond what the population's
    # rate gives a cluster of its size by chance (:func:`enforced_excess`), not discounted by
    # the members being verified (bought accounts, aged and verified, look organic by every
    # other fact of their own), only by their being one organization's or a federation's,
    # whose accounts are enforced together when it is (``docs/campaigns.md`` §3).
    enforced = mean(_flags(members, "enforced"))
    excess = enforced_excess(enforced, size, baseline.get("enforced", 0.0))
    by_bans = excess * (1 - np.maximum(top_org, fed))
    acc = 1 - (1 - mean(members.account.to_numpy(dtype=float)) * (1 - organic)) * (1 - by_bans)
    har = mean(members.harvest.to_numpy(dtype=float))
    content = mean(members.content.to_numpy(dtype=float))
    lift = harvest_lift(lab, members[inside], n_clusters, baseline)
    harvest = 1 - np.prod([1 - LIFT_WEIGHTS[k] * x for k, x in lift.items()], axis=0)
    coo = mean(coordination)
    facts = (acc, coo, harvest) if account_measured else (coo, harvest)
    score = harmonic_mean(*facts) * accounts_weight(size)
    return pd.DataFrame(
        {"size": size.astype(int), "account": acc, "harvest": harvest, "coordination": coo,
         "verified_share": verified, "top_org_share": top_org, "federated_share": fed,
         "enforced_share": enforced,
         "member_harvest": har, "content_harvest": content,
         **{f"lift_{k}": v for k, v in lift.items()}, "score": score}
    )  # fmt: skip


# Evidence from few accounts counts less: two imaginary members without any of it.
PRIOR_MEMBERS = 2.0


def accounts_weight(size: np.ndarray | float) -> np.ndarray | float:
    """How much a cluster of ``size`` accounts says: ``n / (n + PRIOR_MEMBERS)``."""
    return size / (size + PRIOR_MEMBERS)


# What a distiller asks for more than other customers do: per-account shares, each pooled over
# a cluster's members and compared with the population (``harvest_lift``).
LIFT_SHARES = ("thinking_share", "max_cap_share", "elicitation_share", "targeted_share")
# How much each excess says of harvesting: capability targeting alone is weaker evidence.
LIFT_WEIGHTS = {"thinking": 1.0, "max_cap": 1.0, "elicitation": 1.0, "targeted": 0.5}


def harmonic_mean(*facts: np.ndarray) -> np.ndarray:
    """Per cluster, the harmonic mean of facts in [0, 1] (0 when any is 0)."""
    stacked = np.vstack([np.asarray(f, dtype=float) for f in facts])
    with np.errstate(divide="ignore"):
        inv = np.where(stacked > 0, 1.0 / np.maximum(stacked, 1e-12), np.inf).sum(axis=0)
    return np.where(np.isfinite(inv), len(facts) / inv, 0.0)


def baseline_shares(population: pd.DataFrame) -> dict[str, float]:
    """Every scored account's mean of each ``LIFT_SHARES`` column (accounts where it is
    known); each account counts once, so a few heavy or harvesting accounts barely move it.
    ``enforced``: the share of every scored account banned or suspended (unknown: not)."""
    out = {}
    for col in LIFT_SHARES:
        x = population[col].astype(float) if col in population else pd.Series(dtype=float)
        out[col] = float(x.mean()) if x.notna().any() else float("nan")
    out["enforced"] = float(_flags(population, "enforced").mean()) if len(population) else 0.0
    return out


# How sure a cluster's enforced share must be before it counts: the lower end of its Wilson
# interval at this many standard errors (two of six ordinary customers enforced is chance
# among a thousand clusters; half of two hundred is not).
ENFORCED_Z = 2.0


def enforced_excess(share: np.ndarray, size: np.ndarray, rate: float) -> np.ndarray:
    """Per cluster, how far its enforced ``share`` of ``size`` members lies beyond the
    population's ``rate``: the lower end of the share's Wilson score interval at
    ``ENFORCED_Z``, as an excess ``max(0, (low − rate) / (1 − rate))`` in [0, 1]."""
    n = np.maximum(np.asarray(size, dtype=float), 1.0)
    p = np.clip(np.asarray(share, dtype=float), 0.0, 1.0)
    z2 = ENFORCED_Z**2
    centre = p + z2 / (2 * n)
    spread = ENFORCED_Z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = (centre - spread) / (1 + z2 / n)
    rate = min(max(float(rate), 0.0), 0.999) if np.isfinite(rate) else 0.0
    return np.clip((low - rate) / (1 - rate), 0.0, 1.0)


def harvest_lift(
    lab: np.ndarray, members: pd.DataFrame, k: int, baseline: Mapping[str, float]
) -> dict[str, np.ndarray]:
    """Per share of ``LIFT_SHARES`` and cluster (``lab``: each clustered member's cluster,
    rows of ``members`` aligned): the excess of the members' mean share over the population's,
    ``max(0, (c − p) / (1 − p))`` in [0, 1]; 0 where the share is unknown (no prompt text)."""
    out = {}
    for col in LIFT_SHARES:
        p = baseline.get(col, float("nan"))
        x = members[col].to_numpy(dtype=float) if col in members else np.full(len(lab), np.nan)
        known = ~np.isnan(x)
        n = np.bincount(lab[known], minlength=k).astype(float)
        c = np.bincount(lab[known], x[known], minlength=k) / np.maximum(n, 1)
        if np.isnan(p) or p >= 1:
            out[col.removesuffix("_share")] = np.zeros(k)
            continue
        out[col.removesuffix("_share")] = np.where(n > 0, np.clip((c - p) / (1 - p), 0, 1), 0.0)
    return out


def _flags(members: pd.DataFrame, column: str) -> np.ndarray:
    """``members[column]`` as 0/1 floats, unknown (or no such column) 0."""
    if column not in members:
        return np.zeros(len(members))
    return members[column].fillna(False).to_numpy(dtype=float)


def _top_share(lab: np.ndarray, values: np.ndarray, size: np.ndarray, k: int) -> np.ndarray:
    """Per cluster, the share of its members holding its most common non-null value."""
    out = np.zeros(k)
    present = np.array([v is not None for v in values], dtype=bool)
    if not present.any():
        return out
    df = pd.DataFrame({"c": lab[present], "v": values[present]})
    top = df.groupby(["c", "v"]).size().groupby(level=0).max()
    out[top.index.to_numpy()] = top.to_numpy() / np.maximum(size[top.index.to_numpy()], 1)
    return out


# Owned account ties (cards, sign-ups) between members of different organizations, at most
# this share of all such ties between named members, leave a cluster federated.
FEDERATED_CROSS = 0.1


def federated_share(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, kinds: np.ndarray,
    weight: np.ndarray, org: np.ndarray, k: int,
) -> np.ndarray:  # fmt: skip
    """Per cluster, the share of its members that belong to an organization with two members
    or more in it, when the cluster is a federation of organizations: its ``accounts`` ties
    (``TIE_KINDS``: a card, a non-public e-mail domain, a sign-up network or batch; weighed by
    ``weight``; ``kinds``: each edge's :func:`kind_bits`) join members of one organization,
    and at most ``FEDERATED_CROSS`` of them join members of two. Otherwise 0 (also where no
    such tie joins named members).

    Labs that run the same public benchmark harness send the same templates, so content ties
    them into one cluster of many organizations (the top organization's share is small), each
    lab's accounts young keys or unverified as often as not; but each lab pays with its own
    cards and signs up on its own network. An operator's accounts share its cards across
    whatever organization names they were given (`hydra-loud` medium, development seed 1:
    every such tie of a campaign joins two organizations; none of a harness cluster's does).
    Known miss: an operator who names one fake organization per card and keeps each card's
    accounts apart is federated too, and its accounts' youth counts for less; coordination
    and harvest still count."""
    out = np.zeros(k)
    if k == 0 or not len(a):
        return out
    la, lb = labels[a], labels[b]
    code = pd.factorize(pd.Series(org, dtype=object))[0]  # -1: no organization named
    inner = (la == lb) & (la >= 0) & (code[a] >= 0) & (code[b] >= 0) & ((kinds & ACCOUNT_BITS) != 0)
    if not inner.any():
        return out
    same = code[a[inner]] == code[b[inner]]
    c = la[inner]
    within = np.bincount(c[same], weight[inner][same], k)
    cross = np.bincount(c[~same], weight[inner][~same], k)
    federation = (within > 0) & (cross <= FEDERATED_CROSS * (within + cross))
    inside = (labels >= 0) & (code >= 0)
    df = pd.DataFrame({"c": labels[inside], "org": org[inside]})
    per_org = df.groupby(["c", "org"]).org.transform("size")
    grouped = np.bincount(df.c[per_org.to_numpy() >= 2], minlength=k)
    size = np.bincount(labels[labels >= 0], minlength=k)
    out[federation] = grouped[federation] / np.maximum(size[federation], 1)
    return out


# Kinds of tie: a campaign is usually tied in several ways at once (cards or sign-up batches,
# a scheduler, templates, rented ranges); one kind alone is weaker evidence of common control.
TIE_KINDS: dict[str, str] = {
    "payment": "accounts", "email_domain": "accounts", "signup_prefix": "accounts",
    "registration_burst": "accounts",
    "same_minutes": "timing",
    "frame": "content", "minhash": "content", "prompt": "content",
    "ip_prefix": "pool", "asn": "pool", "tls_fingerprint": "pool", "user_agent": "pool",
    "registration_path": "pool",
}  # fmt: skip
# Coordination factor by the number of kinds of tie that reach a third of the members.
KIND_FACTOR = {0: 0.0, 1: 0.6, 2: 0.85}
KIND_REACH = 1 / 3
# Each kind of tie's bit (``kind_bits``; one more bit for any other type).
_KIND_BIT = {t: 1 << i for i, t in enumerate(sorted(TIE_KINDS))}
# Owned kinds of tie that unrelated customers also make by chance: the same popular prompt,
# near-duplicate phrasing. A member tied inside by these alone, when its cluster is not made
# of them, is trimmed (``by_chance_alone``).
CHANCE_KINDS = ("minhash", "prompt")
CHANCE_BITS = sum(_KIND_BIT[t] for t in CHANCE_KINDS)
ACCOUNT_BITS = sum(bit for t, bit in _KIND_BIT.items() if TIE_KINDS[t] == "accounts")


def tie_kinds(
    labels: np.ndarray, a: np.ndarray, b: np.ndarray, link_types: Sequence[Iterable[str]], k: int,
    codes: np.ndarray | None = None,
) -> np.ndarray:  # fmt: skip
    """Per cluster, how many kinds of tie (``TIE_KINDS``) its internal edges carry to at least
    ``KIND_REACH`` of its members. ``link_types``: each edge's link types, or with ``codes``
    (each edge's index into it) each distinct set of them once."""
    out = np.zeros(k, dtype=np.int64)
    if k == 0:
        return out
    if codes is None:
        codes = np.arange(len(link_types))
    # each set of link types as bits of the kinds of tie it carries
    bit = {kind: 1 << i for i, kind in enumerate(sorted(set(TIE_KINDS.values()) | {"pool"}))}
    carried = np.array(
        [sum({bit[TIE_KINDS.get(t, "pool")] for t in ts}) for ts in link_types], dtype=np.int64
    )
    same = (labels[a] == labels[b]) & (labels[a] >= 0)
    ea, eb = a[same].astype(np.int64), b[same].astype(np.int64)
    edge_bits = carried[codes[same]] if len(carried) else np.zeros(len(ea), dtype=np.int64)
    c = labels[ea].astype(np.int64)
    size = np.bincount(labels[labels >= 0], minlength=k)
    n = max(len(labels), 1)
    counted = np.zeros(k, dtype=np.int64)
    for b_ in bit.values():
        has = (edge_bits & b_) != 0
        # each (cluster, member) once: the members its edges of this kind reach
        held = np.unique(np.r_[c[has] * n + ea[has], c[has] * n + eb[has]]) // n
        reach = np.bincount(held, minlength=k)
        counted += (reach > 0) & (reach >= KIND_REACH * size)
    out[:] = counted
    return out


def kind_factor(kinds: np.ndarray) -> np.ndarray:
    return np.array([KIND_FACTOR.get(int(x), 1.0) for x in kinds])


def coordination_of(strength: np.ndarray, s: JudgeSettings) -> np.ndarray:
    return _ramp(strength, s.trim_strength, s.full_strength) * 0.5 + 0.5 * (strength > 0)
