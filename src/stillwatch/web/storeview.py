"""What the server reads from the store, in short read-only moments.

DuckDB allows one writing process per file, and a reader blocks a writer. The server therefore
never keeps the store open: each page opens it read-only, reads, and closes (one at a time per
server process); when an ingest or scan holds it, the page answers 503 "busy" at once instead
of waiting. ``ingest`` and ``scan`` wait up to ``LOCK_WAIT_SECONDS`` for such a moment to end.

The risk endpoint must answer a gateway in milliseconds, so it never opens the store: a
background thread keeps :class:`RiskIndex` (the known account ids and the latest scan's
scores), rebuilt when the store file changes and the store is free.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stillwatch.engine.store import Store, open_store
from stillwatch.errors import StoreError, UsageError
from stillwatch.ipnet import is_ip_or_prefix
from stillwatch.ipnet import prefix as ipnet_prefix

log = logging.getLogger("stillwatch.web")

PROMPT_SHOWN = 2000  # characters of a revealed prompt
# An ingest through the API waits this long for the store, then answers 503; a page waits
# this much longer than its own lock wait for an ingest batch in this process to end.
INGEST_LOCK_WAIT = 2.0
WRITE_WAIT = 5.0
SEARCH_LIMIT = 200
CAMPAIGN_STATUSES = ("reported", "candidate", "dismissed", "all")
CAMPAIGN_SORTS = (
    "campaign_id", "operator_id", "status", "score", "accounts", "exchanges", "first_seen",
    "last_seen",
)  # fmt: skip


class StoreBusy(StoreError):
    """An ingest or scan holds the store right now."""


class NoStore(StoreError):
    """There is no store file (yet)."""


def _ipv4_number(column: str) -> str:
    """SQL: the IPv4 address (or a prefix's network address) in ``column`` as a number."""
    addr = f"split_part({column}, '/', 1)"
    parts = " + ".join(
        f"CAST(split_part({addr}, '.', {i + 1}) AS BIGINT) * {256 ** (3 - i)}" for i in range(4)
    )
    return f"CASE WHEN regexp_full_match({addr}, '[0-9]{{1,3}}(\\.[0-9]{{1,3}}){{3}}') THEN {parts} END"


class StoreView:
    """Read-only glances at the store, one at a time."""

    def __init__(self, path: Path, memory_limit: str = "1GB", exchanges_shown: int = 50) -> None:
        self.path = path
        self.memory_limit = memory_limit
        self.exchanges_shown = exchanges_shown
        self._lock = threading.Lock()

    def signature(self) -> tuple[int, int, int, int] | None:
        """Changes whenever the store file or its write-ahead log changes."""
        try:
            st = self.path.stat()
        except OSError:
            return None
        wal = Path(f"{self.path}.wal")
        w = wal.stat() if wal.exists() else None
        return (st.st_mtime_ns, st.st_size, w.st_mtime_ns if w else 0, w.st_size if w else 0)

    @contextmanager
    def glance(self, lock_wait: float = 0.3) -> Iterator[Store]:
        if not self.path.exists():
            raise NoStore(f"{self.path}: no store yet; run `stillwatch ingest` first")
        with self._opened(lock_wait + WRITE_WAIT, lock_wait, writing=False) as store:
            yield store

    @contextmanager
    def _held(self, wait: float) -> Iterator[None]:
        """This process's turn at the store; StoreBusy when another request (an ingest
        through the API) keeps it longer than ``wait`` seconds."""
        if not self._lock.acquire(timeout=wait):
            raise StoreBusy("the store is busy with an ingest; try again in a moment")
        try:
            yield
        finally:
            self._lock.release()

    @contextmanager
    def writing(self, lock_wait: float = INGEST_LOCK_WAIT) -> Iterator[Store]:
        """The store opened for writing, for one ingest batch of ``POST /api/v1/exchanges``:
        waits up to ``lock_wait`` seconds for this process's readers and for another
        process's ingest or scan, then StoreBusy (the route answers 503 with Retry-After)."""
        with self._opened(lock_wait, lock_wait, writing=True) as store:
            yield store

    @contextmanager
    def _opened(self, turn_wait: float, lock_wait: float, writing: bool) -> Iterator[Store]:
        """The store, read-only or (``writing``) made if missing, during this process's turn
        (waited for up to ``turn_wait`` seconds); StoreBusy when another process's ingest or
        scan keeps it longer than ``lock_wait`` seconds."""
        with self._held(turn_wait):
            try:
                store = open_store(
                    self.path,
                    create=writing,
                    read_only=not writing,
                    memory_limit=self.memory_limit,
                    lock_wait=lock_wait,
                )
            except StoreError as exc:
                if "in use" in str(exc):
                    raise StoreBusy(
                        "the store is busy with an ingest or scan; try again in a moment"
                    ) from None
                raise
            try:
                yield store
            finally:
                store.close()

    @staticmethod
    def tables(store: Store) -> set[str]:
        return {r[0] for r in store.sql("SELECT table_name FROM duckdb_tables()")}

    @staticmethod
    def _dicts(store: Store, query: str, params: list[Any]) -> list[dict[str, Any]]:
        cur = store.con.execute(query, params)
        names = [d[0] for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def account(self, account_id: str, *, reveal: bool = False) -> dict[str, Any] | None:
        """The account as the store knows it: its ``accounts`` row, a summary and a sample of
        its exchanges (prompt text only when ``reveal``), its keys, the provider's enforcements,
        its latest score. None when the store has never seen it."""
        with self.glance() as store:
            tables = self.tables(store)
            row = self._dicts(store, "SELECT * FROM accounts WHERE account_id = ?", [account_id])
            summary = self._dicts(
                store,
                """SELECT count(*) AS exchanges, min(ts) AS first_seen, max(ts) AS last_seen,
                          count(DISTINCT ip) AS ips, count(DISTINCT api_key_id) AS api_keys,
                          sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens
                   FROM exchanges WHERE account_id = ?""",
                [account_id],
            )[0]
            if not row and not summary["exchanges"]:
                return None
            text = (
                ", left(prompt, ?) AS prompt, length(prompt) AS prompt_chars"
                if reveal
                else (", length(prompt) AS prompt_chars")
            )
            sample = self._dicts(
                store,
                f"""SELECT * FROM (
                      SELECT ts, model, endpoint, ip, ip_country, api_key_id, input_tokens,
                             output_tokens, reasoning_tokens, status, event_id {text}
                      FROM exchanges WHERE account_id = ?
                      ORDER BY hash(event_id) LIMIT ?) ORDER BY ts""",
                [*([PROMPT_SHOWN] if reveal else []), account_id, self.exchanges_shown],
            )
            models = store.sql(
                """SELECT model, count(*) FROM exchanges WHERE account_id = ?
                   GROUP BY model ORDER BY count(*) DESC LIMIT 20""",
                [account_id],
            )
            keys = store.sql(
                """SELECT api_key_id, count(*) FROM exchanges
                   WHERE account_id = ? AND api_key_id IS NOT NULL
                   GROUP BY api_key_id ORDER BY count(*) DESC LIMIT 200""",
                [account_id],
            )
            enforcements = self._dicts(
                store,
                """SELECT ts, action, api_key_id, reason FROM enforcements
                   WHERE account_id = ? ORDER BY ts""",
                [account_id],
            )
            score = latest_score(store, tables, account_id)
        accounts_row = {k: v for k, v in row[0].items() if not k.startswith("_")} if row else None
        return {
            "account_id": account_id,
            "accounts_row": accounts_row,
            "summary": summary,
            "models": [{"model": m, "exchanges": n} for m, n in models],
            "api_keys": [{"api_key_id": k, "exchanges": n} for k, n in keys],
            "exchanges": sample,
            "prompt_revealed": reveal,
            "enforcements": enforcements,
            "score": score,
        }

    def neighbourhood(self, account_id: str, max_nodes: int) -> dict[str, Any]:
        """The account, what it uses (API keys, /24 or /48 networks, TLS fingerprints, its
        payment fingerprint) and the other accounts sharing a network or fingerprint, for the
        account page's graph. Other accounts stop being drawn once the graph holds ``max_nodes``
        nodes: the rest become one "+N accounts" node per shared value (the account's own
        values, at most 26, are always drawn). Known false positive: a shared network is weak
        evidence (CGNAT, campus NAT) until the other evidence agrees."""
        with self.glance() as store:
            keys = [
                r[0]
                for r in store.sql(
                    """SELECT api_key_id FROM exchanges WHERE account_id = ? AND api_key_id IS NOT NULL
                   GROUP BY api_key_id ORDER BY count(*) DESC LIMIT 10""",
                    [account_id],
                )
            ]
            ips = [
                r[0]
                for r in store.sql(
                    """SELECT ip FROM exchanges WHERE account_id = ? AND ip IS NOT NULL
                   GROUP BY ip ORDER BY count(*) DESC LIMIT 50""",
                    [account_id],
                )
            ]
            tls = [r[0] for r in store.sql(
                """SELECT tls_fingerprint FROM exchanges WHERE account_id = ?
                   AND tls_fingerprint IS NOT NULL GROUP BY tls_fingerprint
                   ORDER BY count(*) DESC LIMIT 5""", [account_id])]  # fmt: skip
            card = store.sql(
                "SELECT payment_fingerprint FROM accounts WHERE account_id = ?", [account_id]
            )
            networks: list[str] = []
            for ip in ips:
                try:
                    net = ipnet_prefix(ip)
                except ValueError:
                    continue
                if net not in networks:
                    networks.append(net)
            networks = networks[:10]
            shared: list[tuple[str, str, list[str]]] = []  # (kind, value, accounts)
            for net in networks:
                network = ipaddress.ip_network(net)
                if network.version == 4:
                    head = net.rsplit(".", 1)[0] + "."
                    rows = store.sql(
                        """SELECT account_id FROM exchanges WHERE starts_with(ip, ?)
                           AND account_id <> ? GROUP BY account_id ORDER BY count(*) DESC
                           LIMIT ?""",
                        [head, account_id, max_nodes],
                    )
                else:
                    rows = []
                shared.append(("network", net, [r[0] for r in rows]))
            for fp in tls:
                rows = store.sql(
                    """SELECT account_id FROM exchanges WHERE tls_fingerprint = ?
                       AND account_id <> ? GROUP BY account_id ORDER BY count(*) DESC LIMIT ?""",
                    [fp, account_id, max_nodes],
                )
                shared.append(("tls", fp, [r[0] for r in rows]))
            if card and card[0][0]:
                rows = store.sql(
                    """SELECT account_id FROM accounts WHERE payment_fingerprint = ?
                       AND account_id <> ? LIMIT ?""",
                    [card[0][0], account_id, max_nodes],
                )
                shared.append(("payment", card[0][0], [r[0] for r in rows]))
        nodes = [{"id": "a:" + account_id, "label": account_id, "kind": "self"}]
        edges: list[dict[str, str]] = []
        for key in keys:
            nodes.append({"id": "k:" + key, "label": key, "kind": "key"})
            edges.append({"source": "a:" + account_id, "target": "k:" + key})
        seen = {"a:" + account_id}
        aggregated = 0
        for kind, value, accounts in shared:
            vid = f"{kind}:{value}"
            nodes.append({"id": vid, "label": value, "kind": kind})
            edges.append({"source": "a:" + account_id, "target": vid})
            rest = 0
            for other in accounts:
                oid = "a:" + other
                if oid not in seen and len(nodes) >= max_nodes - 1:
                    rest += 1
                    continue
                if oid not in seen:
                    seen.add(oid)
                    nodes.append({"id": oid, "label": other, "kind": "account"})
                edges.append({"source": oid, "target": vid})
            if rest:
                nodes.append({"id": vid + ":more", "label": f"+{rest} accounts", "kind": "more"})
                edges.append({"source": vid + ":more", "target": vid})
                aggregated += rest
        return {"nodes": nodes, "edges": edges, "aggregated": aggregated}

    def search(self, query: str) -> dict[str, Any]:
        """Accounts matching an account id (exact or prefix), an IP address, a CIDR prefix, an
        API key, or a TLS or payment fingerprint."""
        q = query.strip()
        if not q:
            return {"query": q, "kind": "empty", "accounts": []}
        with self.glance() as store:
            if is_ip_or_prefix(q):
                kind, accounts = self._search_ip(store, q)
            else:
                kind = "account, key or fingerprint"
                accounts = self._dicts(
                    store,
                    f"""WITH hits AS (
                          SELECT account_id, 'account id' AS matched FROM accounts
                            WHERE account_id = $1 OR starts_with(account_id, $1)
                          UNION SELECT DISTINCT account_id, 'account id' FROM exchanges
                            WHERE account_id = $1 OR starts_with(account_id, $1)
                          UNION SELECT DISTINCT account_id, 'api key' FROM exchanges
                            WHERE api_key_id = $1
                          UNION SELECT DISTINCT account_id, 'tls fingerprint' FROM exchanges
                            WHERE tls_fingerprint = $1
                          UNION SELECT account_id, 'payment fingerprint' FROM accounts
                            WHERE payment_fingerprint = $1)
                        SELECT account_id, string_agg(DISTINCT matched, ', ') AS matched
                        FROM hits GROUP BY account_id ORDER BY account_id LIMIT {SEARCH_LIMIT}""",
                    [q],
                )
            self._add_activity(store, accounts)
        return {"query": q, "kind": kind, "accounts": accounts}

    def _search_ip(self, store: Store, q: str) -> tuple[str, list[dict[str, Any]]]:
        net = ipaddress.ip_network(q, strict=False)
        if net.version == 4:
            lo, hi = int(net.network_address), int(net.broadcast_address)
            rows = self._dicts(
                store,
                f"""SELECT account_id, 'ip ' || string_agg(DISTINCT ip, ', ') AS matched
                    FROM exchanges WHERE ip IS NOT NULL AND NOT contains(ip, ':')
                      AND {_ipv4_number("ip")} BETWEEN ? AND ?
                    GROUP BY account_id ORDER BY account_id LIMIT {SEARCH_LIMIT}""",
                [lo, hi],
            )
        else:
            candidates = [
                r[0]
                for r in store.sql("SELECT DISTINCT ip FROM exchanges WHERE contains(ip, ':')")
                if _within(r[0], net)
            ]
            rows = self._dicts(
                store,
                f"""SELECT account_id, 'ip ' || string_agg(DISTINCT ip, ', ') AS matched
                    FROM exchanges WHERE list_contains(?, ip)
                    GROUP BY account_id ORDER BY account_id LIMIT {SEARCH_LIMIT}""",
                [candidates],
            )
        return ("prefix" if "/" in q else "ip address"), rows

    def _add_activity(self, store: Store, accounts: list[dict[str, Any]]) -> None:
        if not accounts:
            return
        ids = [a["account_id"] for a in accounts]
        activity = {
            r[0]: r[1:]
            for r in store.sql(
                """SELECT account_id, count(*), min(ts), max(ts) FROM exchanges
                   WHERE list_contains(?, account_id) GROUP BY account_id""",
                [ids],
            )
        }
        for a in accounts:
            n, first, last = activity.get(a["account_id"], (0, None, None))
            a.update(exchanges=n, first_seen=first, last_seen=last)

    def campaigns(
        self,
        *,
        status: str = "reported",
        q: str = "",
        min_score: float | None = None,
        sort: str = "exchanges",
        order: str = "desc",
    ) -> dict[str, Any]:
        """The latest finished scan's campaigns (``reported``, ``candidate``, ``dismissed`` or
        ``all``), filtered by a substring of the campaign or operator id and a lowest score,
        sorted by one of ``CAMPAIGN_SORTS``."""
        if status not in CAMPAIGN_STATUSES:
            raise UsageError(f"status {status!r}: expected one of {', '.join(CAMPAIGN_STATUSES)}")
        if sort not in CAMPAIGN_SORTS:
            raise UsageError(f"sort {sort!r}: expected one of {', '.join(CAMPAIGN_SORTS)}")
        if order not in ("asc", "desc"):
            raise UsageError(f"order {order!r}: expected asc or desc")
        try:
            with self.glance() as store:
                scan_id = _latest_campaign_scan(store, self.tables(store))
                if scan_id is None:
                    return {"scanned": False, "scan_id": None, "campaigns": []}
                where: list[str] = ["scan_id = ?"]
                params: list[Any] = [scan_id]
                if status != "all":
                    where.append("status = ?")
                    params.append(status)
                if q.strip():
                    where.append(
                        "(contains(campaign_id, ?) OR contains(coalesce(operator_id, ''), ?))"
                    )
                    params += [q.strip(), q.strip()]
                if min_score is not None:
                    where.append("score >= ?")
                    params.append(min_score)
                rows = self._dicts(
                    store,
                    f"""SELECT campaign_id, operator_id, status, score, threshold, accounts,
                               accounts_low, accounts_high, exchanges, exchanges_low,
                               exchanges_high, member_exchanges, first_seen, last_seen
                        FROM campaigns WHERE {" AND ".join(where)}
                        ORDER BY {sort} {order} NULLS LAST, campaign_id LIMIT 1000""",
                    params,
                )
        except NoStore:
            return {"scanned": False, "scan_id": None, "campaigns": []}
        return {"scanned": True, "scan_id": scan_id, "campaigns": rows}

    def campaign(
        self, campaign_id: str, max_nodes: int, *, member_limit: int = 500
    ) -> dict[str, Any] | None:
        """One campaign of the latest finished scan, as the report shows it
        (``report.facts.campaign_facts``: figures, evidence, member graph capped at
        ``max_nodes``, daily timeline, infrastructure, rhythm, members); prompt samples are
        redacted here (an account's page reveals text, audited). None when unknown."""
        from stillwatch.report.facts import campaign_facts

        with self.glance() as store:
            scan_id = _latest_campaign_scan(store, self.tables(store))
            if scan_id is None or not store.scalar(
                "SELECT count(*) FROM campaigns WHERE scan_id = ? AND campaign_id = ?",
                [scan_id, campaign_id],
            ):
                return None
            facts = campaign_facts(
                store, scan_id, campaign_id, max_nodes=max_nodes, member_limit=member_limit
            )
        return facts | {"scan_id": scan_id}

    def campaign_member_ids(
        self, campaign_id: str, core_only: bool = False
    ) -> tuple[str, list[str]] | None:
        """(scan id, member account ids) of a campaign of the latest scan; None when unknown."""
        with self.glance() as store:
            scan_id = _latest_campaign_scan(store, self.tables(store))
            if scan_id is None:
                return None
            ids = [
                str(r[0])
                for r in store.sql(
                    "SELECT account_id FROM campaign_members WHERE scan_id = ? AND campaign_id = ?"
                    + (" AND role = 'core'" if core_only else "")
                    + " ORDER BY account_id",
                    [scan_id, campaign_id],
                )
            ]
            known = store.scalar(
                "SELECT count(*) FROM campaigns WHERE scan_id = ? AND campaign_id = ?",
                [scan_id, campaign_id],
            )
        return (scan_id, ids) if known else None

    def campaign_members(
        self, campaign_id: str, *, limit: int = 1000, offset: int = 0
    ) -> dict[str, Any] | None:
        """A page of the campaign's members (latest scan): id, role, membership, campaign
        exchanges, first and last day. None when the campaign is unknown."""
        with self.glance() as store:
            scan_id = _latest_campaign_scan(store, self.tables(store))
            if scan_id is None:
                return None
            total = store.scalar(
                "SELECT count(*) FROM campaign_members WHERE scan_id = ? AND campaign_id = ?",
                [scan_id, campaign_id],
            )
            if not total:
                return None
            rows = self._dicts(
                store,
                """SELECT m.account_id, m.role, m.membership,
                          count(e.event_id) AS campaign_exchanges
                   FROM campaign_members m LEFT JOIN campaign_exchanges e
                     ON e.scan_id = m.scan_id AND e.campaign_id = m.campaign_id
                    AND e.account_id = m.account_id
                   WHERE m.scan_id = ? AND m.campaign_id = ?
                   GROUP BY ALL ORDER BY m.account_id LIMIT ? OFFSET ?""",
                [scan_id, campaign_id, limit, offset],
            )
        return {"scan_id": scan_id, "campaign_id": campaign_id, "members": int(total),
                "offset": offset, "accounts": rows}  # fmt: skip


def _within(text: str, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_network(text, strict=False).subnet_of(net)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False


def _latest_campaign_scan(store: Store, tables: set[str]) -> str | None:
    """The latest finished scan (as ``_score_query``), once the campaign tables exist."""
    if not {"campaigns", "scans"} <= tables:
        return None
    found = store.scalar(
        "SELECT scan_id FROM scans WHERE status = 'done' "
        "ORDER BY finished_at DESC NULLS LAST, scan_id DESC LIMIT 1"
    )
    return None if found is None else str(found)


def _score_query(store: Store, tables: set[str]) -> tuple[str, str] | None:
    """SQL selecting (account_id, score, reasons, scan_id) of the latest finished scan
    (``docs/store.md``: ``scans.status = 'done'``, greatest ``finished_at``), and that scan's
    id as a subquery; None before any scan."""
    if not {"account_scores", "scans"} <= tables:
        return None
    latest = (
        "(SELECT scan_id FROM scans WHERE status = 'done' "
        "ORDER BY finished_at DESC NULLS LAST, scan_id DESC LIMIT 1)"
    )
    return (
        f"""SELECT account_id, score, CAST(top_reasons AS VARCHAR) AS reasons, scan_id
            FROM account_scores WHERE scan_id = {latest}""",
        latest,
    )


def latest_score(store: Store, tables: set[str], account_id: str) -> dict[str, Any] | None:
    found = _score_query(store, tables)
    if found is None:
        return None
    rows = store.sql(f"SELECT * FROM ({found[0]}) WHERE account_id = ?", [account_id])
    if not rows:
        return None
    return {"score": rows[0][1], "reasons": rows[0][2], "scan_id": rows[0][3]}


@dataclass
class RiskSnapshot:
    known: frozenset[str] = frozenset()
    scores: dict[str, tuple[float, str | None, str]] = field(default_factory=dict)
    scanned: bool = False
    built_from: tuple[int, int, int, int] | None = None


class RiskIndex:
    """Known accounts and latest scores in memory, for the gateway's risk lookups.

    Memory grows with the store's accounts (about 100 bytes each: ~100 MB for a million).
    Rebuilt by a background thread when the store changes and is free; until then the previous
    snapshot answers, so a score may lag an ingest or scan by a few seconds.
    """

    def __init__(self, view: StoreView, poll_seconds: float = 2.0) -> None:
        self.view = view
        self.poll_seconds = poll_seconds
        self.snapshot = RiskSnapshot()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self) -> bool:
        """Rebuild when the store changed; True when a new snapshot was taken."""
        sig = self.view.signature()
        if sig is None or sig == self.snapshot.built_from:
            return False
        try:
            with self.view.glance(lock_wait=0.0) as store:
                tables = self.view.tables(store)
                known = frozenset(
                    r[0]
                    for r in store.sql(
                        "SELECT account_id FROM accounts UNION SELECT DISTINCT account_id "
                        "FROM exchanges"
                    )
                )
                found = _score_query(store, tables)
                scores = (
                    {r[0]: (float(r[1]), r[2], str(r[3])) for r in store.sql(found[0])}
                    if found
                    else {}
                )
        except StoreError:
            return False  # busy or gone: keep the snapshot, try at the next poll
        # The file may have changed while reading: keep the signature seen before reading,
        # so such a change is read again at the next poll.
        self.snapshot = RiskSnapshot(known, scores, found is not None, sig)
        return True

    def start(self) -> None:
        self.refresh()
        self._thread = threading.Thread(target=self._run, name="risk-index", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception as exc:
                log.error("risk index: refresh failed: %s", type(exc).__name__)
