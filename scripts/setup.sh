#!/usr/bin/env bash
# Create .venv and install seedlens with every extra (CPU torch pinned by constraints/ci.txt).
#   SEEDLENS_EXTRAS=all,test bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
unset PYTHONDONTWRITEBYTECODE  # compile bytecode once instead of at every start
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
.venv/bin/python -m pip install -q -c constraints/ci.txt -e ".[${SEEDLENS_EXTRAS:-all}]" 2>&1 | { grep -v -E '^WARNING: Location' || true; }
