#!/usr/bin/env bash
# The demo on the embedded default: simulate traffic, ingest it into DuckDB, show the store.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/stillwatch demo "$@"
