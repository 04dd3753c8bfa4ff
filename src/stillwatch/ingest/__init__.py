"""Ingest: files in the canonical schema → validated, deduplicated rows in the store."""

from stillwatch.ingest.run import RunReport, ingest, ingest_file
from stillwatch.ingest.sources import SourceFile, discover

__all__ = ["RunReport", "SourceFile", "discover", "ingest", "ingest_file"]
