"""Features: measured facts per account and per time window, as Ibis expressions.

Every expression here is written once against the store's canonical tables and runs on any
Ibis backend: DuckDB by default (the store), PySpark in a test. Nothing here opens a
connection (only ``engine/`` does) or reads the simulator.

- :mod:`.sources` the canonical tables as Ibis tables, and the small shared expressions;
- :mod:`.volume` volume and token shape; :mod:`.rhythm` daily and weekly rhythm;
- :mod:`.conversation`, :mod:`.models`, :mod:`.infrastructure`, :mod:`.registration`,
  :mod:`.enforcement` the rest of ``docs/store.md``'s ``account_features``;
- :mod:`.account` joins them into one row per account, and the per-day window.
"""
