"""Which n-grams learned on one seed still mark campaigns on another (the guard's ``across``).

For each scenario and both directions between two seeds: the guard's two figures (best single
item, count score) and every learned n-gram that reaches precision 0.5 at recall 0.2 of one
operator on the other seed, with its campaign and legitimate holders. Data sets are simulated
at small scale into ``--data`` (kept, so a second run only measures).

    python -m tests.sim.transfer_report --seeds 3,4 low-and-slow hydra-loud
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pyarrow as pa

from stillwatch.sim import simulate
from tests.sim import sim_guard as g


def dataset(data: Path, scenario: str, seed: int) -> Path:
    out = data / f"{scenario}-{seed}"
    if not (out / "manifest.json").exists():
        out.mkdir(parents=True, exist_ok=True)
        simulate(scenario=scenario, scale="small", seed=seed, out=out, overwrite=True)
    return out


def transferring(source: list[dict], target: g.Items) -> list[tuple[float, float, int, int, str]]:
    """Learned n-grams at precision ≥ 0.5 and recall ≥ 0.2 of one operator on ``target``:
    (precision, recall, campaign holders, legitimate holders, n-gram)."""
    con = target.con
    learned = [s["item"] for s in source if s["kind"].startswith("ngram:")]
    con.register("_l", pa.table({"item": learned or ["-"]}))
    rows = con.execute(
        """WITH held AS (SELECT 'ngram:' || h AS item, account_id FROM grams)
        SELECT item, l.operator_id, count(*) FROM held JOIN labels l USING (account_id)
        SEMI JOIN _l USING (item) GROUP BY ALL"""
    ).fetchall()
    con.unregister("_l")
    camp: dict[str, int] = {}
    legit: dict[str, int] = {}
    reach: dict[str, float] = {}
    for item, op, k in rows:
        if op is None:
            legit[item] = legit.get(item, 0) + k
        else:
            camp[item] = camp.get(item, 0) + k
            reach[item] = max(reach.get(item, 0.0), k / target.operators[op])
    out = []
    for item, c in camp.items():
        p = c / (c + legit.get(item, 0))
        if reach[item] >= g.ACROSS_RECALL and p >= g.ACROSS_PRECISION:
            out.append((p, reach[item], c, legit.get(item, 0), g.describe(item)))
    return sorted(out, reverse=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="+")
    ap.add_argument("--seeds", default="1,2", help="two seeds, comma-separated")
    ap.add_argument("--data", type=Path, default=Path("/tmp/stillwatch-transfer"))
    args = ap.parse_args()
    a, b = (int(x) for x in args.seeds.split(","))
    for scenario in args.scenarios:
        its = {s: g.items(dataset(args.data, scenario, s)) for s in (a, b)}
        learned = {s: g.indicative(it) for s, it in its.items()}
        for x, y in ((a, b), (b, a)):
            single, count, name = g.across(learned[x], its[y], "ngrams")
            print(f"{scenario} {x}->{y}: single {single:.2f} count {count:.2f} {name}")
            for p, r, c, n, gram in transferring(learned[x], its[y])[:10]:
                print(f"    precision {p:.2f} recall {r:.2f} campaign {c} legitimate {n} {gram}")
        for it in its.values():
            it.con.close()


if __name__ == "__main__":
    main()
