"""Validation of one batch, in a DuckDB of its own (in memory, outside the store's
transaction): the store's transaction then holds only the rows it keeps, and memory follows the
batch. Temporary tables made inside a long transaction would live until it ends. Having its own
DuckDB also lets the next batch be validated, in a background thread, while the store writes
this one.
"""

from __future__ import annotations

import pyarrow as pa

from stillwatch.engine.store import scratch_connection
from stillwatch.ingest.readers import RAW_LIMIT, Batch
from stillwatch.ingest.sources import SourceFile
from stillwatch.ingest.validate import (
    column_checks,
    naive_timestamp,
    raw_expression,
    row_hash,
    text_limit,
)
from stillwatch.ipnet import is_ip_or_prefix
from stillwatch.schema import CANONICAL, Table

KEY_SAMPLE_ROWS = 5_000


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
                SELECT _line, _text,
                  CASE WHEN _all IS NULL THEN 'line is not valid JSON'
                       WHEN NOT starts_with(_text, '{{')
                            AND NOT starts_with(ltrim(_text, ' \t\r\n'), '{{')
                       THEN 'line is not a JSON object' END AS _pre,
                  _all AS _v
                FROM (SELECT _line, _text, try(json_extract_string(_text, [{paths}])) AS _all
                      FROM batch_rows))"""
            cols = {
                c: (f"_v[{i + 1}]", "JSON", f"_t[{i + 1}]") for i, c in enumerate(self.table.names)
            }
            return sql, cols, "rtrim(_text, chr(13) || chr(10))"
        described = self.con.execute("DESCRIBE SELECT * FROM batch_rows").fetchall()
        types = {row[0]: row[1] for row in described}
        cols = {c: (f'"{c}"', types[c], "") for c in self.table.names if c in types}
        raw = raw_expression({c: expr for c, (expr, _, _) in cols.items()})
        return "SELECT *, CAST(NULL AS VARCHAR) AS _pre FROM batch_rows", cols, raw

    def _note_json_keys(self) -> None:
        """Unknown keys, looked for on a sample of each batch: a whole parse of every line
        would cost a third of the ingest for a warning about columns that are ignored."""
        rows = self.con.execute(
            f"""SELECT DISTINCT k FROM (
                 SELECT unnest(CASE WHEN try(json_type(_text)) = 'OBJECT'
                                    THEN json_keys(_text) END) AS k
                 FROM (SELECT _text FROM batch_rows
                       USING SAMPLE {KEY_SAMPLE_ROWS} ROWS (reservoir, 7)))"""
        ).fetchall()
        self.unknown.update(k for (k,) in rows if k not in self.table.names)

    def stage(self, batch: Batch) -> pa.Table:
        """The batch validated, as Arrow: one SQL statement in layers: values beside the
        source columns, then their errors, then the joined reason, then the raw text of bad
        rows (computed for those rows only)."""
        if batch.rows is not None:
            self.con.register("batch_rows", batch.rows)
        else:
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW batch_rows AS {batch.sql}")
        try:
            if self.source.format == "jsonl":
                self._note_json_keys()
            return self._validated()
        finally:
            if batch.rows is not None:
                self.con.unregister("batch_rows")

    def _validated(self) -> pa.Table:
        src_sql, cols, raw = self._source()
        values, errors, naive, final, truncs = [], [], [], [], []
        for col in self.table.columns:
            expr, typ, json_type = cols.get(col.name, (None, None, ""))
            check = column_checks(col, expr, typ, json_type)
            ok = f'"_ok_{col.name}"'
            values.append(f"{check.value} AS {ok}")
            errors.append(f'{check.error(ok)} AS "_e_{col.name}"')
            if col.kind == "timestamp" and expr is not None and typ is not None:
                values.append(f'{naive_timestamp(col, expr, typ)} AS "_n_{col.name}"')
                naive.append(f'coalesce("_n_{col.name}", false)')
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
        return self.con.sql(
            f"""SELECT _line, _pre, {names}, _reason, _truncated, _naive,
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
