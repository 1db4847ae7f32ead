#!/usr/bin/env bash
# Set up everything the test suite needs on a fresh machine and run it:
# the virtual environment, Debian's headless Chromium (browser tests), a private PostgreSQL cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
unset PYTHONDONTWRITEBYTECODE
SEEDLENS_EXTRAS=all,test bash scripts/setup.sh

if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test.sh: installing Debian chromium for the browser tests"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

source scripts/postgres.sh start
trap 'bash scripts/postgres.sh stop "${SEEDLENS_TEST_PG_DIR:-}"' EXIT

.venv/bin/python -m pytest -n "${SEEDLENS_TEST_WORKERS:-2}" --dist worksteal --durations=25 "$@"
