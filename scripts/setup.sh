#!/usr/bin/env bash
# Sets up a checkout: Node dependencies (npm ci), the TypeScript build (dist/), and a Python venv (.venv)
# with Optuna (scripts/requirements.txt). With --test, also CPU torch + transformers for the
# transformers-engine tests (scripts/requirements-test.txt), chromium (report browser test) and the
# PostgreSQL server binaries (PostgreSQL store tests). Safe to run again. Used by the README's
# commands and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
with_test=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    *) echo "setup.sh: unknown argument $arg (allowed: --test)" >&2; exit 2 ;;
  esac
done

npm ci --no-audit --no-fund
npm run build

if [ "${CARBONBENCH_SKIP_PYTHON:-0}" != "1" ]; then
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --retries 1 -r scripts/requirements.txt
  if [ "$with_test" = "1" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --retries 1 -r scripts/requirements-test.txt
  fi
fi
if [ "$with_test" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  # The report's browser test drives Debian's chromium through playwright-core (which never downloads one).
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "setup.sh: chromium is not installed and cannot be installed here (needs root and apt-get): the report's browser test will be skipped" >&2
  fi
fi
if [ "$with_test" = "1" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  # The PostgreSQL store tests start a throwaway server on loopback (tests/helpers/postgres-global.ts)
  # from Debian's server binaries; they are not started as a service here.
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "setup.sh: PostgreSQL server binaries are not installed and cannot be installed here (needs root and apt-get): the PostgreSQL tests will be skipped" >&2
  fi
fi
echo "setup done: try ./bin/carbonbench.js doctor"
