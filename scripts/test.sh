#!/usr/bin/env bash
# The whole test suite with the static checks CI runs: ruff, mypy, import contracts, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check src tests
ruff format --check src tests
mypy src
lint-imports
pytest "$@"
