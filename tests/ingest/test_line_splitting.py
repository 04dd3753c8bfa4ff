"""JSON Lines are split by the reader in buffers: every line, wherever the buffers end."""

from __future__ import annotations

import gzip
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stillwatch.ingest import readers
from stillwatch.ingest.sources import SourceFile
from stillwatch.schema import EXCHANGES

_pieces = st.lists(
    st.sampled_from([b"\n", b"\r\n", b" ", b"\t", b"{}", b'{"a": 1}', b"x", b"\xff", b"\xc3\xa9",
                     b"\xef\xbb\xbf", "文".encode()]),
    max_size=40,
)  # fmt: skip


def _expected(data: bytes) -> tuple[list[tuple[int, str]], list[int]]:
    """(line number, text with its line end) of non-blank lines; numbers of non-UTF-8 lines."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    lines = data.split(b"\n")
    ends = [b"\n"] * (len(lines) - 1) + [b""]
    if data.endswith(b"\n"):
        lines, ends = lines[:-1], ends[:-1]
    rows, bad = [], []
    for number, (line, end) in enumerate(zip(lines, ends, strict=True), start=1):
        try:
            text = (line + end).decode("utf-8")
        except UnicodeDecodeError:
            bad.append(number)
            continue
        if text.strip(" \t\r\n\f\v"):
            rows.append((number, text))
    return rows, bad


def _read(data: bytes, gz: bool, batch_rows: int) -> tuple[list[tuple[int, str]], list[int]]:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("exchanges.jsonl.gz" if gz else "exchanges.jsonl")
        path.write_bytes(gzip.compress(data) if gz else data)
        source = SourceFile(path=path, table="exchanges", format="jsonl", gzip=gz)
        rows, bad = [], []
        for batch in readers.JsonLinesReader(source, EXCHANGES, batch_rows).batches():
            assert batch.rows is not None
            lines, texts = batch.rows["_line"].to_pylist(), batch.rows["_text"].to_pylist()
            rows += list(zip(lines, texts, strict=True))
            bad += [x.line for x in batch.rejected]
        return rows, sorted(bad)


@settings(max_examples=300, deadline=None)
@given(_pieces, st.integers(1, 9), st.integers(1, 40), st.booleans(), st.integers(1, 4))
def test_every_line_once_wherever_buffers_end(
    pieces: list[bytes], chunk: int, batch_bytes: int, gz: bool, batch_rows: int
) -> None:
    data = b"".join(pieces)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(readers, "_CHUNK_BYTES", chunk)
        mp.setattr(readers, "_BATCH_BYTES", batch_bytes)
        assert _read(data, gz, batch_rows) == _expected(data)
