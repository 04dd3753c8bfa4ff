"""Readers turn one file into batches of rows numbered by their place in the file.

They check only what a file must be as a whole (its format, its header); rows are judged
later, in SQL, by :mod:`stillwatch.ingest.validate`. A row the reader itself cannot parse (a
JSON line that is not UTF-8, a CSV record with the wrong number of fields) is handed on as a
rejected row with its line and reason, never dropped.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import queue
import stat
import tempfile
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from stillwatch.errors import InputError
from stillwatch.ingest.sources import SourceFile
from stillwatch.schema import TEXT_COLUMNS, Table

RAW_LIMIT = 2000  # characters of a bad row's raw text kept in the quarantine
_CHUNK_BYTES = 32 * 1024 * 1024
# A JSON Lines batch also ends at this much text: long lines make big batches.
_BATCH_BYTES = 512 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"


@dataclass
class Rejected:
    line: int | None
    reason: str
    raw: str
    part: str = ""  # which part of a dialect record (an OTLP export's span), where not all


@dataclass
class Batch:
    """Rows of one file: ``_line`` (1-based line or row) and the file's columns, as read.

    The rows are an Arrow table, or (Parquet) a SQL query DuckDB runs on the file itself.
    """

    rows: pa.Table | None = None
    sql: str = ""
    rejected: list[Rejected] = field(default_factory=list)
    progress: int = 0  # bytes (or rows, for Parquet) of the file done after this batch

    @property
    def empty(self) -> bool:
        return not self.sql and (self.rows is None or self.rows.num_rows == 0)


def _describe_error(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


class _Progress:
    """A raw file whose position tells how far reading has gone, gzip or not."""

    def __init__(self, source: SourceFile) -> None:
        self.raw = open(source.path, "rb")  # noqa: SIM115 - closed by close()
        self.stream: io.BufferedIOBase = (
            gzip.GzipFile(fileobj=self.raw) if source.gzip else self.raw
        )

    @property
    def done(self) -> int:
        return self.raw.tell()

    def close(self) -> None:
        self.stream.close()
        self.raw.close()


def total_units(source: SourceFile) -> int:
    """What progress counts up to: bytes on disk, or rows for Parquet."""
    if source.format == "parquet" and not source.gzip:
        try:
            return int(pq.ParquetFile(source.path).metadata.num_rows)
        except Exception:
            return 0
    return source.path.stat().st_size


def literal_path(path: Path) -> str:
    """``path`` as a SQL string DuckDB reads as this one file: its readers take ``*``, ``?``
    and ``[`` as a glob (``ex[1].parquet`` would read ``ex1.parquet``), so each is escaped as a
    one-character class."""
    text = "".join(f"[{ch}]" if ch in "*?[" else ch for ch in str(path))
    return text.replace("'", "''")


class ParquetReader:
    def __init__(self, source: SourceFile, table: Table, batch_rows: int) -> None:
        self.source, self.table, self.batch_rows = source, table, batch_rows
        self._tmp: Any = None
        path: Path = source.path
        if source.gzip:
            self._tmp = tempfile.NamedTemporaryFile(suffix=".parquet")  # noqa: SIM115
            try:
                with gzip.open(source.path, "rb") as fin:
                    while chunk := fin.read(_CHUNK_BYTES):
                        self._tmp.write(chunk)
            except (OSError, EOFError, zlib.error) as exc:
                raise InputError(
                    str(source.path), f"not readable gzip: {_describe_error(exc)}"
                ) from None
            self._tmp.flush()
            path = Path(self._tmp.name)
        elif "\\" in str(path):
            # DuckDB reads a backslash as a path separator, and no escape keeps it: the file
            # is read through a link with a plain name
            self._tmp = tempfile.TemporaryDirectory()
            link = Path(self._tmp.name) / "file.parquet"
            link.symlink_to(path.resolve())
            path = link
        try:
            self.file = pq.ParquetFile(path)
            self._path = path
        except Exception as exc:
            raise InputError(
                str(source.path), f"not a Parquet file: {_describe_error(exc)}", "Parquet"
            ) from None
        self.columns = list(self.file.schema_arrow.names)
        repeated = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if repeated:
            raise InputError(
                str(source.path),
                f"column name(s) {', '.join(repeated)} repeated",
                "a Parquet file naming each column once",
            )

    def _ranges(self) -> Iterator[tuple[int, int]]:
        """Row ranges of about ``batch_rows`` that end on row-group boundaries, so that no
        row group is decoded twice."""
        meta = self.file.metadata
        start = end = 0
        for i in range(meta.num_row_groups):
            end += meta.row_group(i).num_rows
            if end - start >= self.batch_rows:
                yield start, end
                start = end
        if end > start:
            yield start, end

    def batches(self) -> Iterator[Batch]:
        """Row ranges read by DuckDB itself (parallel; the range filter prunes row groups)."""
        wanted = ", ".join(f'"{c}"' for c in self.columns if c in self.table.names)
        path = literal_path(self._path)
        try:
            for start, end in self._ranges():
                yield Batch(
                    sql=f"""SELECT file_row_number + 1 AS _line, {wanted}
                            FROM read_parquet('{path}', file_row_number = true)
                            WHERE file_row_number >= {start} AND file_row_number < {end}""",
                    progress=end,
                )
        finally:
            if isinstance(self._tmp, tempfile.TemporaryDirectory):
                self._tmp.cleanup()
            elif self._tmp is not None:
                self._tmp.close()


class JsonLinesReader:
    """JSON Lines, split into lines by Arrow; each line is parsed later, in SQL."""

    columns: list[str] | None = None

    def __init__(
        self, source: SourceFile, table: Table, batch_rows: int, max_text_bytes: int = 1 << 20
    ) -> None:
        self.source, self.table, self.batch_rows = source, table, batch_rows
        self.max_text_bytes = max_text_bytes
        # Longer lines are shortened in Python before SQL sees them (see _shorten).
        self.long_line = 3 * max_text_bytes + _LONG_LINE_SLACK

    def batches(self) -> Iterator[Batch]:
        reader = _Progress(self.source)
        try:
            yield from self._batches(reader)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(
                str(self.source.path), f"unreadable: {_describe_error(exc)}", "JSON Lines"
            ) from None
        finally:
            reader.close()

    def _batches(self, reader: _Progress) -> Iterator[Batch]:
        next_line = 1
        pending: list[pa.Table] = []
        pending_rows = pending_bytes = 0
        rejected: list[Rejected] = []
        for data, length in _line_chunks(reader.stream):
            last = length < 0
            if not last:
                table, bad, next_line = _split_lines(data, length, next_line)
                rejected += bad
                if table.num_rows and length > self.long_line:
                    table, bad = self._shorten_long(table)
                    rejected += bad
                if table.num_rows:
                    pending.append(table)
                    pending_rows += table.num_rows
                    pending_bytes += length
            while (
                pending_rows >= self.batch_rows
                or pending_bytes >= _BATCH_BYTES
                or (last and (pending or rejected))
            ):
                rows = pa.concat_tables(pending) if pending else _empty_lines()
                head, rest = rows.slice(0, self.batch_rows), rows.slice(self.batch_rows)
                pending, pending_rows = ([rest], rest.num_rows) if rest.num_rows else ([], 0)
                pending_bytes = pending_bytes * pending_rows // max(rows.num_rows, 1)
                # A rejected line goes with the batch its number falls in (or the last one).
                first_rest = rest["_line"][0].as_py() if pending else None
                now = [x for x in rejected if first_rest is None or (x.line or 0) < first_rest]
                rejected = rejected[len(now) :]
                yield Batch(head, rejected=now, progress=reader.done)
                del rows, head  # the consumer lets go of them once validated

    def _shorten_long(self, table: pa.Table) -> tuple[pa.Table, list[Rejected]]:
        """Lines too long for DuckDB's JSON parser within the memory limit (a 50 MB prompt)
        are parsed here: text over ``max_text_bytes`` is cut to just over it (the validation
        then cuts it to size and flags it, as for any long text), a line that is not a JSON
        object, or has an oversized value where no long text belongs, is rejected."""
        texts = table["_text"]
        sizes = pc.binary_length(texts).to_numpy(zero_copy_only=False)
        long = np.flatnonzero(sizes > self.long_line)
        if len(long) == 0:
            return table, []
        lines = table["_line"].to_numpy()
        rejected: list[Rejected] = []
        kept_lines: list[int] = []
        kept_texts: list[str] = []
        for i in long:
            text = texts[int(i)].as_py()
            line = int(lines[i])
            problem, short = _shorten(text, self.table.names, self.max_text_bytes)
            if problem:
                rejected.append(Rejected(line, problem, text[:RAW_LIMIT].rstrip("\r\n")))
            else:
                kept_lines.append(line)
                kept_texts.append(short)
        keep = np.ones(table.num_rows, dtype=bool)
        keep[long] = False
        shortened = pa.table(
            {
                "_line": pa.array(kept_lines, pa.int64()),
                "_text": pa.array(kept_texts, table.schema.field("_text").type),
            }
        )
        merged = pa.concat_tables([table.filter(pa.array(keep)), shortened])
        return merged.sort_by("_line"), rejected


_LONG_LINE_SLACK = 4 * 1024 * 1024
# Text columns are cut to this much over the limit: the validation then sees them as too long.
_OVER = 4


def _shorten(text: str, known: list[str], max_text_bytes: int) -> tuple[str, str]:
    """(problem, shortened line) for one very long JSON line."""
    try:
        pairs = json.loads(text, object_pairs_hook=list)
    except (ValueError, RecursionError):
        return "line is not valid JSON", ""
    if not isinstance(pairs, list) or not all(isinstance(p, tuple) for p in pairs):
        return "line is not a JSON object", ""
    out = []
    for key, value in pairs:
        size = len(json.dumps(value, ensure_ascii=False)) if not isinstance(value, str) else 0
        if isinstance(value, str) and key in TEXT_COLUMNS:
            data = value.encode("utf-8")
            if len(data) > max_text_bytes:
                value = data[: max_text_bytes + _OVER].decode("utf-8", "ignore")
        elif key not in known:
            value = None  # an unknown column is only named, never read
        elif (len(value) if isinstance(value, str) else size) > max_text_bytes:
            return f"{key}: a value of over {max_text_bytes} bytes where no long text belongs", ""
        out.append(
            json.dumps(key, ensure_ascii=False) + ":" + json.dumps(value, ensure_ascii=False)
        )
    return "", "{" + ",".join(out) + "}"


def _line_chunks(stream: io.BufferedIOBase) -> Iterator[tuple[bytearray, int]]:
    """Buffers of about ``_CHUNK_BYTES`` and the length of each that ends at a line end (or
    the file's end); then ``(b"", -1)``. Each buffer is read into once and never copied."""
    carry = b""
    first = True
    while True:
        data = bytearray(len(carry) + max(_CHUNK_BYTES, len(_BOM)))
        data[: len(carry)] = carry
        view = memoryview(data)
        used = len(carry)
        while used < len(data) and (n := stream.readinto(view[used:])):
            used += n
        view.release()
        at_end = used == len(carry)
        if first and data.startswith(_BOM):  # exports from Windows tools start so
            del data[: len(_BOM)]
            used -= len(_BOM)
        first = False
        if at_end:
            if carry:
                yield data, used
            yield bytearray(), -1
            return
        cut = data.rfind(b"\n", 0, used) if used == len(data) else used - 1
        if cut < 0:  # one line longer than the buffer: read on
            carry = bytes(data[:used])
            continue
        carry = bytes(data[cut + 1 : used])
        yield data, cut + 1


def _empty_lines() -> pa.Table:
    return pa.table({"_line": pa.array([], pa.int64()), "_text": pa.array([], pa.string())})


def _split_lines(
    data: bytes | bytearray, length: int, first_line: int
) -> tuple[pa.Table, list[Rejected], int]:
    """Non-blank lines of ``data[:length]`` with their numbers; lines that are not UTF-8
    are rejected.

    The lines are views into ``data`` (no copy), so each keeps its line end: JSON allows
    white space there, and the quarantine trims it.
    """
    view = np.frombuffer(data, np.uint8, count=length)
    ends = np.flatnonzero(view == 10) + 1
    if len(ends) == 0 or ends[-1] != length:
        ends = np.append(ends, length)
    offsets = np.concatenate(([0], ends))
    count = len(ends)
    large = length >= 2**31 - 1
    offsets = offsets.astype(np.int64 if large else np.int32)
    text_type = pa.large_string() if large else pa.string()
    text = pa.Array.from_buffers(
        text_type, count, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    rejected: list[Rejected] = []
    try:
        text.validate(full=True)  # UTF-8, checked by Arrow
    except pa.ArrowInvalid:
        text, rejected = _decode_lines(data, offsets, first_line, text_type)
    numbers = np.arange(first_line, first_line + count, dtype=np.int64)
    # Blank lines are not rows. Only lines that start with white space can be blank.
    starts = offsets[:-1]
    maybe = np.flatnonzero(np.isin(view[starts], _SPACE)) if length else np.array([], np.int64)
    drop = [int(i) for i in maybe if not data[offsets[i] : offsets[i + 1]].strip()]
    drop += [x.line - first_line for x in rejected if x.line is not None]
    table = pa.table({"_line": numbers, "_text": text})
    if drop:
        keep = np.ones(count, dtype=bool)
        keep[drop] = False
        table = table.filter(pa.array(keep))
    return table, rejected, first_line + count


_SPACE = np.frombuffer(b" \t\r\n\f\v", np.uint8)


def _decode_lines(
    data: bytes | bytearray, offsets: Any, first_line: int, text_type: pa.DataType
) -> tuple[pa.Array, list[Rejected]]:
    """Rare: find the lines that are not UTF-8 one by one, keep the rest."""
    good: list[str | None] = []
    rejected: list[Rejected] = []
    for i in range(len(offsets) - 1):
        raw = data[offsets[i] : offsets[i + 1]]
        try:
            good.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            good.append(None)
            rejected.append(
                Rejected(
                    first_line + i,
                    "line is not valid UTF-8",
                    raw.rstrip(b"\r\n").decode("utf-8", "replace")[:RAW_LIMIT],
                )
            )
    return pa.array(good, text_type), rejected


class CsvReader:
    def __init__(self, source: SourceFile, table: Table, batch_rows: int) -> None:
        self.source, self.table, self.batch_rows = source, table, batch_rows
        self.columns = self._header()

    def _header(self) -> list[str]:
        reader = _Progress(self.source)
        try:
            head = reader.stream.read(1024 * 1024)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(str(self.source.path), f"unreadable: {_describe_error(exc)}") from None
        finally:
            reader.close()
        line = head.removeprefix(_BOM).split(b"\n", 1)[0].rstrip(b"\r")
        if not line.strip():
            raise InputError(str(self.source.path), "no header line", "a CSV header line")
        try:
            first = line.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(str(self.source.path), "header is not UTF-8 text", "CSV") from None
        names = next(csv.reader(io.StringIO(first)), [])
        names = [n.strip() for n in names]
        if len(set(names)) != len(names) or "" in names:
            raise InputError(
                str(self.source.path),
                f"header has empty or repeated column names: {first[:200]!r}",
                "a CSV header naming each column once",
            )
        return names

    def batches(self) -> Iterator[Batch]:
        """Values are read as bytes: a value that is not UTF-8 quarantines its row alone (the
        validation decodes it). Line numbers are physical: the line each record starts on,
        counting the line ends inside quoted values."""
        reader = _Progress(self.source)
        rejected: list[Rejected] = []
        numbering = _CsvLines()

        def on_invalid(row: Any) -> str:
            text = str(row.text)
            numbering.skip(row.number, text.count("\n"))
            rejected.append(
                Rejected(
                    row.number,
                    f"CSV record has {row.actual_columns} fields, the header {row.expected_columns}",
                    text[:RAW_LIMIT],
                )
            )
            return "skip"

        wanted = [c for c in self.columns if c in self.table.names]
        try:
            stream = pacsv.open_csv(
                reader.stream,
                read_options=pacsv.ReadOptions(
                    use_threads=False,
                    block_size=16 * 1024 * 1024,
                    column_names=self.columns,
                    skip_rows=1,
                ),
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=on_invalid
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.binary() for c in self.columns},
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
            pending: list[pa.RecordBatch] = []
            pending_rows = 0
            exhausted = False
            while not exhausted:
                try:
                    rb = stream.read_next_batch()
                    pending.append(rb)
                    pending_rows += rb.num_rows
                except StopIteration:
                    exhausted = True
                if pending_rows < self.batch_rows and not exhausted:
                    continue
                rows = pa.Table.from_batches(pending, schema=stream.schema)
                numbers = numbering.good(_newlines(rows), rejected)
                rows = rows.select(wanted).add_column(0, "_line", pa.array(numbers))
                yield Batch(rows, rejected=rejected, progress=reader.done)
                rejected = []
                pending, pending_rows = [], 0
        except pa.ArrowInvalid as exc:
            raise InputError(
                str(self.source.path), f"not readable as CSV: {_describe_error(exc)}", "CSV"
            ) from None
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(str(self.source.path), f"unreadable: {_describe_error(exc)}") from None
        finally:
            reader.close()


def _newlines(rows: pa.Table) -> Any:
    """Line ends inside each record's values, every column counted."""
    total = np.zeros(rows.num_rows, dtype=np.int64)
    for column in rows.columns:
        counts = pc.fill_null(pc.count_substring(column, "\n"), 0)
        total += counts.to_numpy().astype(np.int64)
    return total


class _CsvLines:
    """The physical line each CSV record starts on.

    The CSV reader numbers records (the header is 1) and hands the skipped ones over with
    their numbers; the good ones come in order without numbers. A record starts on its number
    plus the line ends inside all the records before it.
    """

    def __init__(self) -> None:
        self.skipped: list[int] = []  # record numbers of skipped records, increasing
        self.skipped_newlines: list[int] = []
        self.good_before = 0
        self.good_newlines_before = 0

    def skip(self, number: int, newlines: int) -> None:
        self.skipped.append(number)
        self.skipped_newlines.append(newlines)

    def good(self, newlines: Any, rejected: list[Rejected]) -> Any:
        """Lines of the next good records (their line ends in ``newlines``); renumbers the
        records in ``rejected`` (skipped among or just after them) to their lines too."""
        n = len(newlines)
        skipped = np.asarray(self.skipped, dtype=np.int64)
        skipped_before = np.concatenate(([0], np.cumsum(self.skipped_newlines, dtype=np.int64)))
        gaps = skipped - 2 - np.arange(len(skipped))  # good records before each skipped one
        k = np.arange(self.good_before, self.good_before + n, dtype=np.int64)
        numbers = k + 2 + np.searchsorted(gaps, k, side="right")
        inclusive = np.cumsum(newlines, dtype=np.int64)
        exclusive = inclusive - newlines
        lines = (
            numbers
            + self.good_newlines_before
            + exclusive
            + skipped_before[np.searchsorted(skipped, numbers)]
        )
        for x in rejected:
            if x.line is None:
                continue
            i = int(np.searchsorted(skipped, x.line))
            local = min(int(x.line) - 2 - i - self.good_before, n)
            good_newlines = self.good_newlines_before + (
                int(inclusive[local - 1]) if local > 0 else 0
            )
            x.line = int(x.line) + good_newlines + int(skipped_before[i])
        self.good_before += n
        self.good_newlines_before += int(inclusive[-1]) if n else 0
        return lines


def open_reader(source: SourceFile, table: Table, batch_rows: int, max_text_bytes: int) -> Any:
    check_regular(source.path)
    if source.path.stat().st_size == 0:
        raise InputError(str(source.path), "empty file")
    try:
        with open(source.path, "rb"):
            pass
    except OSError as exc:
        raise InputError(str(source.path), f"unreadable: {exc.strerror or exc}") from None
    if source.format == "jsonl":
        return JsonLinesReader(source, table, batch_rows, max_text_bytes)
    readers = {"parquet": ParquetReader, "csv": CsvReader}
    return readers[source.format](source, table, batch_rows)


def check_regular(path: Path) -> None:
    """A FIFO, a device or standard input would block or never end: only regular files."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputError(str(path), f"unreadable: {exc.strerror or exc}") from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe, device or socket)"
        raise InputError(str(path), kind, "a regular file; save standard input to a file first")


T = TypeVar("T")
_END = object()


def prefetched(items: Iterator[T]) -> Iterator[T]:
    """Make the next item in a background thread while the caller works on the current one
    (file reads, Arrow and DuckDB all release the GIL). At most two items are alive: the
    one in use and the next, made or being made."""
    ready: queue.SimpleQueue[Any] = queue.SimpleQueue()
    room = threading.Semaphore(1)
    stop = threading.Event()

    def make() -> None:
        try:
            while True:
                while not room.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                item = next(items, _END)
                ready.put(item)
                if item is _END:
                    return
                del item  # held by the consumer alone, freed when it is done
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put(exc)

    worker = threading.Thread(target=make, name="stillwatch-prefetch", daemon=True)
    worker.start()
    try:
        while (item := ready.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            room.release()  # the next one may be made while this one is used
            yield cast(T, item)
            del item
    finally:
        stop.set()
        worker.join()  # it stops after the item in hand: the caller may close its tools
