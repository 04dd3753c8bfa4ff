"""Two simulated providers that saw the same operator, as the sharing tests use them.

Each provider is a ``stillwatch simulate`` data set of the ``hydra-loud`` scenario with one
operator seed and its own population seed (so the same operators among different legitimate
accounts), ingested and scanned into its own store by the commands a user runs. Built once per
test session (about a minute and a half at small scale, two days).

What each side would share is derived here from its store directly — the tables and the
canonical forms, not the ``intel`` code that exports — so the tests can check the export,
the bundle, the import and the match against it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
from typer.testing import CliRunner

from stillwatch.intel.canonical import (
    PUBLIC_MAIL_DOMAINS,
    email_domain,
    ip_prefix,
    skeleton,
    tls_fingerprint,
)

OPERATOR_SEED = 5
POPULATION_SEEDS = {"a": 11, "b": 12}
DAYS = 1
MIN_CONFIDENCE = 50  # campaign score x 100; the scan's floor is 0.45
MIN_ACCOUNTS = 2  # intel_min_indicator_accounts, default
# No cap on frames per campaign, so what is shared is every frame that passes the rules.
ENV = {"STILLWATCH_INTEL_MAX_SKELETONS": "1000000"}


@dataclass
class Provider:
    name: str
    folder: Path  # the simulated data set, with its ground truth
    store: Path
    bundle: Path  # its export of every campaign
    scan_id: str = ""  # its scan
    campaigns: list[str] = field(default_factory=list)  # the campaigns it shares
    # what it shares, derived from its store: value -> the campaigns (ids) sharing it
    shared: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    # its flagged low-entropy values, as PSI items
    flagged: set[str] = field(default_factory=set)
    # every account's values in its whole traffic: account -> value -> exchanges
    values: dict[str, dict[tuple[str, str], int]] = field(default_factory=dict)


def run(*args: str, cwd: Path, ok: tuple[int, ...] = (0, 1)) -> str:
    """A ``stillwatch`` command, in this process (no interpreter start-up per command); every
    path is absolute, so ``cwd`` only names where a separate process would run."""
    from stillwatch.cli.app import _register, app

    _register()
    done = CliRunner().invoke(app, list(args), env=ENV)
    if done.exception is not None and not isinstance(done.exception, SystemExit):
        raise done.exception
    assert done.exit_code in ok, (args, done.exit_code, done.output[-2000:])
    return done.stdout


def build(root: Path) -> tuple[Provider, Provider, Path]:
    key = root / "community.key"
    run("intel", "keygen", "--out", str(key), cwd=root, ok=(0,))
    providers = []
    for name, seed in POPULATION_SEEDS.items():
        folder, store = root / name, root / f"{name}.duckdb"
        run("simulate", "--scenario", "hydra-loud", "--seed", str(seed), "--operator-seed",
            str(OPERATOR_SEED), "--days", str(DAYS), "--out", str(folder), cwd=root, ok=(0,))  # fmt: skip
        run("ingest", str(folder), "--store", str(store), cwd=root)
        run("scan", "--store", str(store), cwd=root)
        bundle = root / f"{name}-bundle.json"
        run("intel", "export", "--all", "--tlp", "amber", "--community-key", str(key),
            "--identity", f"Provider {name.upper()}", "--min-confidence", str(MIN_CONFIDENCE),
            "--store", str(store), "--out", str(bundle), cwd=root, ok=(0,))  # fmt: skip
        provider = Provider(name, folder, store, bundle)
        derive(provider)
        providers.append(provider)
    return providers[0], providers[1], key


def _values(account_rows: list[tuple[str, str | None, str | None, str | None, int]]) -> dict[str, dict[tuple[str, str], int]]:  # fmt: skip
    """account -> (kind tag, canonical value) -> exchanges, from (account, ip, tls, prompt,
    exchanges) rows."""
    out: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    frames: dict[str, str | None] = {}
    for account, ip, fp, prompt, n in account_rows:
        if ip and (prefix := ip_prefix(ip)):
            out[account][("ip-prefix/1", prefix)] += n
        if fp and (found := tls_fingerprint(fp)):
            out[account][(found[0].tag, found[1])] += n
        if prompt:
            if prompt not in frames:
                frames[prompt] = skeleton(prompt)
            if frame := frames[prompt]:
                out[account][("prompt-skeleton/1", frame)] += n
    return out


def derive(p: Provider) -> None:
    """What ``p`` shares, from its store's tables: the reported campaigns of its latest scan
    at or above the minimum confidence; per campaign the values at least two members carry in
    their campaign exchanges, leaving out values most of whose holders in the whole traffic are
    outside the campaign; prompt frames and TLS fingerprints as indicators, prefixes and
    private mail domains as PSI items."""
    con = duckdb.connect(str(p.store), read_only=True)
    try:
        scan = con.execute(
            "SELECT scan_id FROM scans WHERE status = 'done' ORDER BY finished_at DESC LIMIT 1"
        ).fetchone()[0]  # type: ignore[index]
        campaigns = [
            r[0]
            for r in con.execute(
                "SELECT campaign_id FROM campaigns WHERE scan_id = ? AND status = 'reported' "
                "AND round(100 * score) >= ?",
                [scan, MIN_CONFIDENCE],
            ).fetchall()
        ]
        everything = con.execute(
            """SELECT account_id, ip, tls_fingerprint, prompt, count(*) FROM exchanges
               GROUP BY ALL"""
        ).fetchall()
        p.campaigns = campaigns
        p.scan_id = scan
        p.values = _values(everything)
        domains = dict(con.execute("SELECT account_id, email_domain FROM accounts").fetchall())
        for account, domain in domains.items():
            if domain and (canonical := email_domain(domain)):
                p.values[account][("email-domain/1", canonical)] += 0
        holders: dict[tuple[str, str], int] = defaultdict(int)
        for account_values in p.values.values():
            for value in account_values:
                holders[value] += 1
        for cid in campaigns:
            rows = con.execute(
                """SELECT e.account_id, e.ip, e.tls_fingerprint, e.prompt, count(*)
                   FROM campaign_exchanges c JOIN exchanges e USING (event_id)
                   WHERE c.scan_id = ? AND c.campaign_id = ? GROUP BY ALL""",
                [scan, cid],
            ).fetchall()
            carriers: dict[tuple[str, str], set[str]] = defaultdict(set)
            for account, account_values in _values(rows).items():
                for value in account_values:
                    carriers[value].add(account)
            members = [
                r[0]
                for r in con.execute(
                    "SELECT account_id FROM campaign_members WHERE scan_id = ? AND campaign_id = ?",
                    [scan, cid],
                ).fetchall()
            ]
            for account in members:
                if domains.get(account) and (canonical := email_domain(domains[account])):
                    carriers[("email-domain/1", canonical)].add(account)
            for value, accounts in carriers.items():
                kind = value[0]
                if len(accounts) < MIN_ACCOUNTS:
                    continue
                if len(accounts) < 0.5 * holders[value]:
                    continue  # not the campaign's own: most holders are outside it
                if kind in ("ip-prefix/1", "email-domain/1"):
                    if value[1] not in PUBLIC_MAIL_DOMAINS:
                        p.flagged.add(f"{kind}:{value[1]}")
                else:
                    p.shared.setdefault(value, set()).add(cid)
    finally:
        con.close()


def store_strings(store: Path) -> dict[str, set[str]]:
    """Every raw IP, account id, e-mail domain and prompt in a store."""
    con = duckdb.connect(str(store), read_only=True)
    try:

        def col(sql: str) -> set[str]:
            return {str(r[0]) for r in con.execute(sql).fetchall() if r[0] is not None}

        return {
            "ip": col("SELECT DISTINCT ip FROM exchanges")
            | col("SELECT DISTINCT signup_ip FROM accounts"),
            "account id": col("SELECT account_id FROM accounts")
            | col("SELECT DISTINCT account_id FROM exchanges"),
            "e-mail domain": col("SELECT DISTINCT email_domain FROM accounts"),
            "prompt": col("SELECT DISTINCT prompt FROM exchanges"),
        }
    finally:
        con.close()


def bundle_strings(bundle: Path) -> list[str]:
    """Every string in a bundle, keys and values."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                found.append(k)
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        elif isinstance(node, str):
            found.append(node)

    walk(json.loads(bundle.read_text()))
    return found
