"""A campaign's signature frame: a prompt frame held almost only by its own members.

An operator's account used once or twice sent one of the operator's prompts and nothing
else: one frame shared with the campaign, the same one value a customer who happened to use
one of the operator's phrases shares, and too little for the two distinct frames an outer
account otherwise needs (``judge.MIN_FRAMES``). What such an account can still show is two
independent facts of another kind: what it sent is the campaign's own (a frame that
``SIGNATURE_PURITY`` or more of its other holders in the graph are the campaign's members,
at least ``SIGNATURE_MEMBERS`` of them), and when it was made is the campaign's own (it was
registered in one of the campaign's sign-up bursts, ``signup.burst_weight`` above 0).

Measured before choosing (small development seeds 1–9 of `hydra-loud`, `low-and-slow`,
`proxy-mixed`, `release-pivot`, `multi-operator` and `evasive`, 54 stores, the accounts left
outside every campaign whose owned ties go mostly to one): light accounts (fewer exchanges
than ``judge.PROFILE_EXCHANGES``, the account-profile rule's floor) with a signature frame were 223 campaign accounts and 178 legitimate
ones (a customer's one prompt in a frame the operator fills); with a burst of the
campaign's too, 75 and none. Heavier accounts are left to the other routes: on
`low-and-slow` medium development seed 1, two customers with six and seven exchanges shared
one frame and a burst hour with the campaign. Customers registered in a campaign's burst
rarely send one of its prompts; customers who send one rarely registered in its burst.
docs/campaigns.md §2 step 5 has the recorded sweep.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from stillwatch.campaigns.cluster import NamedValues

# A frame is a campaign's signature when this share of its other holders are its members ...
SIGNATURE_PURITY = 0.9
# ... and at least this many (a phrase two accounts share is not yet anyone's signature).
SIGNATURE_MEMBERS = 5


class FrameHolders:
    """Which accounts hold each prompt frame the graph names (an account holds a frame when
    one of its edges names it), as (key, node) pairs sorted by key."""

    def __init__(self, a: np.ndarray, b: np.ndarray, named: NamedValues) -> None:
        self.key, self.node = named.holders(a, b, ("frame",))
        self.code = pd.Index(named.names)

    def purest(
        self, keys: Iterable[str], cluster: int, labels: np.ndarray,
        memo: dict[tuple[int, int], tuple[int, int]],
    ) -> float:  # fmt: skip
        """The largest share of a frame's other holders that are ``cluster``'s members
        (``labels``), over the frames of ``keys`` (an outside account's values: it holds each)
        held by ``SIGNATURE_MEMBERS`` of its members or more; 0 when none is. ``memo`` keeps
        each (frame, cluster)'s members and holders for one labelling."""
        frames = [k for k in keys if k.startswith("frame:")]
        if not frames:
            return 0.0
        codes = self.code.get_indexer(frames)
        best = 0.0
        for code in codes[codes >= 0].tolist():
            if (code, cluster) not in memo:
                lo, hi = np.searchsorted(self.key, [code, code + 1])
                members = int((labels[self.node[lo:hi]] == cluster).sum())
                memo[(code, cluster)] = (members, int(hi - lo))
            members, holders = memo[(code, cluster)]
            if members >= SIGNATURE_MEMBERS:
                best = max(best, members / max(holders - 1, 1))
        return best
