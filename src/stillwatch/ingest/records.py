"""Records of a log file in one of the dialects (``--source``): JSON Lines as lines of text,
CSV as rows of text keyed by the header. The dialect adapter parses and maps them; this module
only cuts the file into records, with their line numbers, in bounded memory.

What a record cannot be handed on as is rejected with its line and reason, never dropped: a
line that is not UTF-8, a record longer than ``max_record_bytes`` (read past, not held), a CSV
record with another number of fields than the header.
"""

from __future__ import annotations

import csv
import io
import json
import re
import zlib
from collections.abc import Iterator
from typing import Any

from stillwatch.errors import InputError
from stillwatch.ingest.readers import RAW_LIMIT, Rejected, _describe_error, _Progress
from stillwatch.ingest.sources import SourceFile

_BOM = b"\xef\xbb\xbf"
_SKIP_CHUNK = 8 * 1024 * 1024
SAMPLE_RECORDS = 200  # records read to tell the dialect (``--source auto``)


_RAW_STRING = 256  # characters of each string kept in a quarantined record's raw text
_RAW_DEPTH = 24
_PLACE = re.compile(r"([A-Za-z_]+)\[([0-9]+)\]")


def raw_text(record: Any, part: str = "") -> str:
    """A record as the quarantine keeps it (at most ``RAW_LIMIT`` characters): a JSON record,
    or a CSV row as a JSON object, with each string over 256 characters shortened, so that its
    fields and identifiers fit even when it carries long prompts (``forget`` finds an account
    by them); for one ``part`` of an OTLP export, that span with its resource. Text that is
    not JSON is kept as it is."""
    value = record
    if isinstance(record, str):
        try:
            value = json.loads(record)
        except (ValueError, RecursionError):
            return record[:RAW_LIMIT]
    if part and isinstance(value, dict):
        value = _part_of(value, part.split(" ", 1)[0]) or value
    try:
        text = json.dumps(_shortened(value, 0), ensure_ascii=False)
    except (ValueError, RecursionError):
        text = record if isinstance(record, str) else str(record)
    return text[:RAW_LIMIT]


def _shortened(value: Any, depth: int) -> Any:
    if isinstance(value, str):
        extra = len(value) - _RAW_STRING
        return value if extra <= 0 else f"{value[:_RAW_STRING]}… ({extra} more characters)"
    if depth > _RAW_DEPTH and isinstance(value, dict | list):
        return "…"
    if isinstance(value, dict):
        return {k: _shortened(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_shortened(v, depth + 1) for v in value]
    return value


def _part_of(record: dict[str, Any], place: str) -> Any:
    """The object at ``place`` (``resourceSpans[0].scopeSpans[1].spans[4]``), with the
    resource of its ``resourceSpans`` entry; None when the place is not there."""
    value: Any = record
    resource = None
    for step in place.split("."):
        match = _PLACE.fullmatch(step)
        if not match or not isinstance(value, dict):
            return None
        items = value.get(match.group(1))
        index = int(match.group(2))
        if not isinstance(items, list) or index >= len(items):
            return None
        value = items[index]
        if match.group(1) == "resourceSpans" and isinstance(value, dict):
            resource = value.get("resource")
    return {"resource": resource, "span": value} if resource is not None else value


class RecordReader:
    """``records()`` yields ``(line, record)`` or :class:`Rejected`, in file order; ``done``
    is how far into the file (bytes on disk) reading has gone."""

    def __init__(self, source: SourceFile, max_record_bytes: int) -> None:
        self.source = source
        self.max_record_bytes = max_record_bytes
        self.columns: list[str] | None = None
        self._file: _Progress | None = None
        self._end = 0  # where reading stopped, once the file is closed
        if source.format == "csv":
            self.columns = self._header()

    @property
    def done(self) -> int:
        if self._file is not None:
            try:
                return self._file.done
            except ValueError:  # closed under us: the end was reached
                pass
        return self._end

    def _open(self) -> _Progress:
        try:
            return _Progress(self.source)
        except OSError as exc:
            raise InputError(str(self.source.path), f"unreadable: {exc.strerror or exc}") from None

    def records(self) -> Iterator[tuple[int, Any] | Rejected]:
        self._file = self._open()
        try:
            if self.source.format == "csv":
                yield from self._csv(self._file.stream)
            else:
                yield from self._lines(self._file.stream)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(str(self.source.path), f"unreadable: {_describe_error(exc)}") from None
        finally:
            self._end = self.done
            self._file.close()
            self._file = None

    def sample(self, count: int = SAMPLE_RECORDS) -> list[Any]:
        """The first ``count`` records that could be read (for telling the dialect)."""
        found: list[Any] = []
        reader = RecordReader(self.source, self.max_record_bytes)
        for item in reader.records():
            if not isinstance(item, Rejected):
                found.append(item[1])
            if len(found) >= count:
                break
        return found

    # -- JSON Lines ------------------------------------------------------------------------
    def _lines(self, stream: Any) -> Iterator[tuple[int, Any] | Rejected]:
        limit = self.max_record_bytes
        number = 0
        while True:
            data = stream.readline(limit + 1)
            if not data:
                return
            number += 1
            if number == 1 and data.startswith(_BOM):  # exports from Windows tools start so
                data = data[len(_BOM) :]
            if len(data) > limit and not data.endswith(b"\n"):
                head = data[:RAW_LIMIT].decode("utf-8", "replace")
                while (rest := stream.readline(_SKIP_CHUNK)) and not rest.endswith(b"\n"):
                    pass  # read past the rest of the record without holding it
                yield Rejected(number, f"record longer than {limit} bytes (max_record_bytes)", head)
                continue
            if not data.strip():
                continue
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raw = data.rstrip(b"\r\n").decode("utf-8", "replace")[:RAW_LIMIT]
                yield Rejected(number, "line is not valid UTF-8", raw)
                continue
            yield number, text.rstrip("\r\n")

    # -- CSV -------------------------------------------------------------------------------
    def _text(self, stream: Any) -> io.TextIOWrapper:
        # Bytes that are not UTF-8 survive as surrogates; the row holding them is rejected.
        return io.TextIOWrapper(stream, encoding="utf-8-sig", errors="surrogateescape", newline="")

    def _header(self) -> list[str]:
        file = self._open()
        try:
            text = self._text(file.stream)
            first = next(csv.reader(text), None)
            text.detach()
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(str(self.source.path), f"unreadable: {_describe_error(exc)}") from None
        except csv.Error as exc:
            raise InputError(
                str(self.source.path), f"no readable CSV header: {exc}", "CSV"
            ) from None
        finally:
            file.close()
        names = [n.strip() for n in first or []]
        if not names or not any(names):
            raise InputError(str(self.source.path), "no header line", "a CSV header line")
        if any(_not_utf8(n) for n in names):
            raise InputError(str(self.source.path), "header is not UTF-8 text", "CSV")
        if len(set(names)) != len(names) or "" in names:
            raise InputError(
                str(self.source.path),
                f"header has empty or repeated column names: {','.join(names)[:200]!r}",
                "a CSV header naming each column once",
            )
        return names

    def _csv(self, stream: Any) -> Iterator[tuple[int, Any] | Rejected]:
        assert self.columns is not None
        header = self.columns
        csv.field_size_limit(max(csv.field_size_limit(), self.max_record_bytes))
        text = self._text(stream)
        try:
            yield from self._csv_rows(csv.reader(text), header)
        finally:
            text.detach()  # the file is closed by its owner, after the position is read

    def _csv_rows(self, reader: Any, header: list[str]) -> Iterator[tuple[int, Any] | Rejected]:
        try:
            next(reader)  # the header, read by _header()
        except (StopIteration, csv.Error):
            return
        end = reader.line_num
        while True:
            start = end + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                end = reader.line_num
                yield Rejected(start, f"not a readable CSV record: {exc}", "")
                continue
            end = reader.line_num
            if not fields or fields == [""]:
                continue  # a blank line
            raw = _csv_line(fields)
            if len(fields) != len(header):
                reason = f"CSV record has {len(fields)} fields, the header {len(header)}"
                yield Rejected(start, reason, raw)
            elif any(_not_utf8(v) for v in fields):
                yield Rejected(start, "record is not valid UTF-8", raw)
            else:
                yield start, dict(zip(header, fields, strict=True))


def _not_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _csv_line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue().encode("utf-8", "replace").decode("utf-8")[:RAW_LIMIT]
