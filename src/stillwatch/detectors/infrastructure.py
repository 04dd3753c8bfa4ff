"""Shared infrastructure weighted by rarity.

For each attribute type (IP prefix, ASN of a non-ISP kind, payment fingerprint, TLS
fingerprint, user agent, non-public e-mail domain, signup network) every value held by two
or more accounts ties them. A tie is worth what the shared value is surprising:

- *inverse of how many share it*: ``1 - log(holders) / log(accounts)``, so a value two
  accounts hold is worth nearly 1 and one the whole population holds is worth 0;
- *against what the type usually shows*: times ``1 - usual``, where ``usual`` is the share of
  accounts that share some value of that type at all (user agents are shared by nearly every
  account, so sharing one is worth little; payment instruments almost never are);
- *hubs capped*: a value held by more than ``max_group`` accounts (a carrier's CGNAT address,
  a popular SDK build) ties nobody.

An account's *tie strength* is the sum of the weights of the values it shares, each value
counted once however many accounts hold it (so a hub can never outweigh one rare shared
value). Its score is how far that exceeds the median account's, in units of
``full_strength`` (two rare shared values above the median, or about eight busy shared /24s,
score 1). A pair's link weight adds the weights of every value the two share, squashed by
``1 - exp(-sum)``: one rare shared card, or several shared proxy ranges, tie strongly. Pairs go
to the link stage, ``top_k`` per account.

Catches: payment instruments reused across accounts, shared proxy ranges and fingerprints,
throwaway e-mail domains. Known false positives: one organization's accounts (enterprise
fleets, a university lab) share a card, an egress range and a domain legitimately; the
evidence names the shared values so an analyst can see it is one org.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd

from stillwatch.detectors.base import DetectorOutput, ScanContext, check_param
from stillwatch.detectors.pairs import top_k_links
from stillwatch.features.infrastructure import with_prefix_and_kind
from stillwatch.features.registration import registrations

NON_ISP_KINDS = ("cloud", "hosting", "unknown")


class SharedInfrastructure:
    id = "infrastructure.shared-rare"
    version = "1"
    family = "infrastructure"
    requires = (
        "exchanges.ip|exchanges.ip_hash|exchanges.asn|exchanges.tls_fingerprint"
        "|exchanges.user_agent|accounts.payment_fingerprint|accounts.email_domain"
        "|accounts.signup_ip",
    )
    evidence_keys = ("shared", "types", "partners", "strong_partners", "tie_strength",
                     "usual_tie_strength")  # fmt: skip
    description = "accounts tied by rare shared infrastructure (rarity-weighted, hubs capped)"
    false_positives = "one organization's accounts: enterprise fleets, a lab behind one NAT"

    def __init__(
        self,
        max_group: int = 200,
        full_strength: float = 2.0,
        top_k: int = 20,
        min_weight: float = 0.05,
    ) -> None:
        check_param("max_group", max_group, 2, 1_000_000, integer=True)
        check_param("full_strength", full_strength, 0.01, 1000)
        check_param("top_k", top_k, 1, 10_000, integer=True)
        check_param("min_weight", min_weight, 0, 1)
        self.min_weight = min_weight
        self.max_group = max_group
        self.full_strength = full_strength
        self.top_k = top_k

    def memberships(self, ctx: ScanContext) -> pd.DataFrame:
        """(account_id, type, value): which account holds which attribute value."""
        x = with_prefix_and_kind(ctx.sources)
        parts = []
        prefix = x.filter(x.prefix.notnull()).select("account_id", value=x.prefix)
        parts.append(("ip_prefix", prefix))
        asn = x.filter(x.asn.notnull() & x.asn_kind.isin(NON_ISP_KINDS))
        parts.append(("asn", asn.select("account_id", value=asn.asn.cast("string"))))
        for col, kind in (("tls_fingerprint", "tls_fingerprint"), ("user_agent", "user_agent")):
            t = x.filter(x[col].notnull())
            parts.append((kind, t.select("account_id", value=t[col])))
        reg = registrations(ctx.sources)
        pay = reg.filter(reg.payment_fingerprint.notnull())
        parts.append(("payment", pay.select("account_id", value=pay.payment_fingerprint)))
        mail = reg.filter(reg.email_domain_kind == "other")
        parts.append(("email_domain", mail.select("account_id", value=mail.email_domain.lower())))
        net = reg.filter(reg.signup_prefix.notnull())
        parts.append(("signup_prefix", net.select("account_id", value=net.signup_prefix)))
        frames = []
        for kind, t in parts:
            df = t.distinct().to_pandas()
            df["type"] = kind
            frames.append(df)
        if not frames:
            return pd.DataFrame(columns=["account_id", "value", "type"])
        return pd.concat(frames, ignore_index=True)

    def run(self, ctx: ScanContext) -> DetectorOutput:
        out = DetectorOutput()
        m = self.memberships(ctx)
        if m.empty:
            return out
        n_accounts = max(len(ctx.features), 3)
        m = m.assign(holders=m.groupby(["type", "value"]).account_id.transform("size"))
        usual = {
            str(kind): float((g.groupby("account_id").holders.max() >= 2).mean())
            for kind, g in m.groupby("type")
        }
        shared = m[(m.holders >= 2) & (m.holders <= self.max_group)].copy()
        idf = 1 - np.log(shared.holders.to_numpy()) / math.log(n_accounts)
        shared["weight"] = np.clip(idf, 0, 1) * (1 - shared.type.map(usual).to_numpy())
        shared = shared[shared.weight >= self.min_weight]
        if shared.empty:
            return out
        pairs = self._pairs(shared)
        # Pair strength: surprise adds up over every value the two share (Adamic-Adar-like),
        # squashed to [0, 1): one rare shared card, or several shared proxy ranges.
        strength = pairs.groupby(["a", "b"], sort=True).agg(
            total=("weight", "sum"), values=("weight", "size")
        )
        strength["w"] = 1 - np.exp(-strength.total.to_numpy())
        strength = strength.reset_index()
        best_value = pairs.sort_values(
            ["a", "b", "weight", "type", "value"],
            ascending=[True, True, False, True, True],
            kind="stable",
        ).drop_duplicates(["a", "b"])[["a", "b", "type", "value"]]
        strength = strength.merge(best_value, on=["a", "b"], how="left")
        # An account's tie strength: the rarity weights of the values it shares, each value
        # counted once however many hold it, so no hub outweighs one rare shared value.
        strength_of = shared.groupby("account_id").weight.sum()
        everyone = np.zeros(max(len(ctx.features), len(strength_of)))
        everyone[: len(strength_of)] = strength_of.to_numpy()
        usual_strength = float(np.median(everyone))
        partners = pd.concat([strength.a, strength.b]).value_counts()
        strong = pd.concat(
            [strength.a[strength.w >= 0.5], strength.b[strength.w >= 0.5]]
        ).value_counts()
        facts_by_account = self._facts(shared, usual)
        for a, total in strength_of.items():
            score = (float(total) - usual_strength) / self.full_strength
            facts = facts_by_account.get(str(a), [])
            out.add(
                str(a),
                min(1.0, score),
                {
                    "shared": facts[:5],
                    "types": len({f["type"] for f in facts}),
                    "partners": int(partners.get(a, 0)),
                    "strong_partners": int(strong.get(a, 0)),
                    "tie_strength": round(float(total), 3),
                    "usual_tie_strength": round(usual_strength, 3),
                },
            )
        linked = strength[strength.w >= 0.3]
        candidates = [
            (a, b, float(w), str(kind),
             {"values": int(n), "strongest": str(value), "strongest_type": str(kind)})
            for a, b, w, n, kind, value in zip(
                linked.a, linked.b, linked.w, linked["values"], linked.type, linked.value,
                strict=True,
            )
        ]  # fmt: skip
        out.links = top_k_links(self.id, candidates, self.top_k)
        return out

    @staticmethod
    def _pairs(shared: pd.DataFrame) -> pd.DataFrame:
        """Every pair of holders of every shared value: (a, b, type, value, weight)."""
        ordered = shared.sort_values(["type", "value", "account_id"], kind="stable")
        accounts = ordered.account_id.to_numpy().astype(str)
        group = ordered.groupby(["type", "value"], sort=False).ngroup().to_numpy()
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        sizes = np.diff(np.r_[starts, len(group)])
        left, right = [], []
        triu = {}
        for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
            if size not in triu:
                triu[size] = np.triu_indices(size, k=1)
            i, j = triu[size]
            left.append(i + start)
            right.append(j + start)
        li = np.concatenate(left)
        ri = np.concatenate(right)
        return pd.DataFrame(
            {
                "a": accounts[li],
                "b": accounts[ri],
                "type": ordered.type.to_numpy()[li],
                "value": ordered.value.to_numpy()[li],
                "weight": ordered.weight.to_numpy()[li],
            }
        )

    def _facts(
        self, shared: pd.DataFrame, usual: dict[str, float]
    ) -> dict[str, list[dict[str, Any]]]:
        facts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        ordered = shared.sort_values(["account_id", "weight", "type", "value"],
                                     ascending=[True, False, True, True], kind="stable")  # fmt: skip
        for a, kind, value, h, w in zip(ordered.account_id, ordered.type, ordered.value,
                                        ordered.holders, ordered.weight, strict=True):  # fmt: skip
            if len(facts[a]) < 5:
                facts[a].append({"type": kind, "value": str(value), "holders": int(h),
                                 "weight": round(float(w), 4),
                                 "usual_share": round(usual[kind], 4)})  # fmt: skip
        return facts
