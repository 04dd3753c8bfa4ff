"""Validation of one batch, in a DuckDB of its own (in memory, outside the store's
transaction): the store's transaction then holds only the rows it keeps, and memory follows the
batch. Temporary tables made inside a long transaction would live until it ends. Having its own
DuckDB also lets the next batch be validated, in a background thread, while the store writes
this one.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from stillwatch.engine.store import scratch_connection, sql_literal
from stillwatch.ingest.readers import RAW_LIMIT, Batch
from stillwatch.ingest.sources import SourceFile
from stillwatch.ingest.validate import (
    ACTIONS,
    column_checks,
    naive_timestamp,
    named_zone,
    raw_expression,
    row_hash,
    text_limit,
)
from stillwatch.ipnet import is_ip_or_prefix
from stillwatch.schema import CANONICAL, Table


def _truncate_utf8(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[:max_bytes].decode("utf-8", "ignore")


class Validator:
    """Turns batches of one file into validated rows: canonical columns plus ``_line``,
    ``_pre`` (a parse error), ``_reason``, ``_truncated``, ``_naive``, ``_row_hash``, ``_raw``."""

    def __init__(
        self, source: SourceFile, max_text_bytes: int, memory_limit: str = "512MB"
    ) -> None:
        self.source = source
        self.table: Table = CANONICAL[source.table]
        self.max_text_bytes = max_text_bytes
        self.unknown: set[str] = set()
        self.key_sets: set[int] = set()  # hashes of the JSON key sets seen in this file
        self.repeated: dict[int, list[str]] = {}  # those that name a key twice
        self.con = scratch_connection(memory_limit)
        # Python helpers the validation SQL calls, on rare rows only.
        self.con.create_function("sw_is_ip", is_ip_or_prefix, ["VARCHAR"], "BOOLEAN")
        self.con.create_function("sw_truncate", _truncate_utf8, ["VARCHAR", "BIGINT"], "VARCHAR")

    def close(self) -> None:
        self.con.close()

    # -- sources ---------------------------------------------------------------------------
    def _source(self) -> tuple[str, dict[str, tuple[str, str, str]], str]:
        """(SQL of the source rows, column -> (expression, DuckDB type, JSON type), raw SQL)."""
        if self.source.format == "jsonl":
            paths = ", ".join(f"'$.\"{c}\"'" for c in self.table.names)
            # One parse for the values as text. Their JSON types matter only where a text
            # column holds something that may be an object, array or boolean: only those
            # (rare) lines are parsed again for the types.
            maybe_not_text = " OR ".join(
                f"left(_v[{i + 1}], 1) IN ('{{', '[') OR _v[{i + 1}] IN ('true', 'false')"
                for i, c in enumerate(self.table.columns)
                if c.kind in ("string", "ip")
            )
            # A line that is not JSON makes the extraction fail: try() turns that into NULL.
            # Valid JSON that starts with anything but "{" is not an object.
            sql = f"""
                SELECT *, CASE WHEN _pre IS NULL AND ({maybe_not_text})
                               THEN json_type(_text, [{paths}]) END AS _t
                FROM (
                SELECT _line, _text, _kh,
                  CASE WHEN _all IS NULL THEN 'line is not valid JSON'
                       WHEN NOT starts_with(_text, '{{')
                            AND NOT starts_with(ltrim(_text, ' \t\r\n'), '{{')
                       THEN 'line is not a JSON object'
                       {self._repeated_keys_sql()} END AS _pre,
                  _all AS _v
                FROM (SELECT _line, _text, _all,
                             CASE WHEN _all IS NOT NULL THEN hash(json_keys(_text)) END AS _kh
                      FROM (SELECT _line, _text,
                                   try(json_extract_string(_text, [{paths}])) AS _all
                            FROM batch_rows)))"""
            cols = {
                c: (f"_v[{i + 1}]", "JSON", f"_t[{i + 1}]") for i, c in enumerate(self.table.names)
            }
            return sql, cols, "rtrim(_text, chr(13) || chr(10))"
        described = self.con.execute("DESCRIBE SELECT * FROM batch_rows").fetchall()
        types = {row[0]: row[1] for row in described}
        cols = {c: (f'"{c}"', types[c], "") for c in self.table.names if c in types}
        # Values that are not UTF-8 (CSV is read as bytes) are shown hex-escaped.
        raw = raw_expression(
            {
                c: f"coalesce(try(decode({e})), CAST({e} AS VARCHAR))" if t == "BLOB" else e
                for c, (e, t, _) in cols.items()
            }
        )
        return "SELECT *, CAST(NULL AS VARCHAR) AS _pre FROM batch_rows", cols, raw

    def _repeated_keys_sql(self) -> str:
        """A line naming a key twice is quarantined: which value counts would be a guess (a
        JSON parser takes the first or the last), and for ``account_id`` the guess decides
        whose row it is."""
        return "".join(
            f"WHEN _kh = {h} THEN {sql_literal('repeated key(s) ' + ', '.join(keys))} "
            for h, keys in sorted(self.repeated.items())
        )

    def _note_json_keys(self, stage: pa.Table) -> bool:
        """Learn the key sets of a validated batch's lines (one parse of each line, beside
        the values): unknown keys are named, key sets that repeat a key are remembered.
        True when the batch holds such a line not yet quarantined for it."""
        fresh = [
            h
            for h in pc.unique(stage["_kh"]).to_pylist()
            if h is not None and h not in self.key_sets
        ]
        again = False
        for h in fresh:
            keys = self.con.execute(
                """SELECT json_keys(_text) FROM batch_rows
                   WHERE try(json_extract_string(_text, '$')) IS NOT NULL
                     AND hash(try(json_keys(_text))) = ? LIMIT 1""",
                [h],
            ).fetchall()[0][0]
            self.key_sets.add(h)
            self.unknown.update(k for k in keys if k not in self.table.names)
            repeated = sorted({k for k in keys if keys.count(k) > 1})
            if repeated:
                self.repeated[h] = repeated
                again = True
        return again

    def stage(self, batch: Batch) -> pa.Table:
        """The batch validated, as Arrow: one SQL statement in layers: values beside the
        source columns, then their errors, then the joined reason, then the raw text of bad
        rows (computed for those rows only)."""
        if batch.rows is not None:
            self.con.register("batch_rows", batch.rows)
        else:
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW batch_rows AS {batch.sql}")
        try:
            staged = self._validated()
            if self.source.format == "jsonl":
                if self._note_json_keys(staged):
                    staged = self._validated()
                staged = staged.drop_columns(["_kh"])
            return staged
        finally:
            if batch.rows is not None:
                self.con.unregister("batch_rows")

    def _validated(self) -> pa.Table:
        src_sql, cols, raw = self._source()
        values, errors, naive, named, final, truncs = [], [], [], [], [], []
        for col in self.table.columns:
            expr, typ, json_type = cols.get(col.name, (None, None, ""))
            check = column_checks(col, expr, typ, json_type)
            ok = f'"_ok_{col.name}"'
            values.append(f"{check.value} AS {ok}")
            errors.append(f'{check.error(ok)} AS "_e_{col.name}"')
            if col.kind == "timestamp" and expr is not None and typ is not None:
                values.append(f'{naive_timestamp(col, expr, typ)} AS "_n_{col.name}"')
                naive.append(f'coalesce("_n_{col.name}", false)')
                values.append(f'{named_zone(expr, typ)} AS "_z_{col.name}"')
                named.append(f'coalesce("_z_{col.name}", false)')
            limited, flag = text_limit(col, ok, self.max_text_bytes)
            final.append(f'{limited} AS "_final_{col.name}"')
            if flag != "false":
                truncs.append((col.name, flag))
        error_names = ", ".join(f'"_e_{c}"' for c in self.table.names)
        any_trunc = " OR ".join(f for _, f in truncs) or "false"
        listed = ", ".join(f"CASE WHEN {f} THEN '{n}' END" for n, f in truncs)
        truncated = (
            f"CASE WHEN {any_trunc} THEN list_filter([{listed}], lambda x: x IS NOT NULL) END"
            if truncs
            else "CAST(NULL AS VARCHAR[])"
        )
        hash_sql = (  # exchanges hash only the rows whose id was seen before (_write_keyed)
            "NULL"
            if self.table.name == "exchanges"
            else row_hash(self.table, {c: f'"_final_{c}"' for c in self.table.names})
        )
        # Source columns may share the canonical names: the checked ones carry a prefix.
        names = ", ".join(f'"_final_{c}" AS "{c}"' for c in self.table.names)
        unlisted = (  # an action outside the schema's verbs is kept, and counted
            f'CAST("_final_action" NOT IN {ACTIONS} AS INTEGER)'
            if self.table.name == "enforcements"
            else "0"
        )
        key_sets = ", _kh" if self.source.format == "jsonl" else ""
        return self.con.sql(
            f"""SELECT _line, _pre, {names}, _reason, _truncated, _naive{key_sets},
                   CAST(({" OR ".join(named) or "false"}) AS INTEGER) AS _named,
                   coalesce({unlisted}, 0) AS _unlisted,
                   CASE WHEN _reason IS NULL THEN {hash_sql} END AS _row_hash,
                   CASE WHEN _reason IS NOT NULL
                        THEN left(CAST({raw} AS VARCHAR), {RAW_LIMIT}) END AS _raw
            FROM (
              SELECT *, {", ".join(final)},
                     coalesce(_pre, nullif(concat_ws('; ', {error_names}), '')) AS _reason,
                     {truncated} AS _truncated,
                     CAST(({" OR ".join(naive) or "false"}) AS INTEGER) AS _naive
              FROM (SELECT *, {", ".join(errors)} FROM (
                      SELECT *, {", ".join(values)} FROM ({src_sql}))))"""
        ).to_arrow_table()
