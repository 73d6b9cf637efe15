#!/usr/bin/env bash
# Sets up a checkout: Node dependencies (npm ci), the TypeScript build (dist/), and a Python venv (.venv)
# with Optuna. Safe to run again. Used by the README's commands and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

npm ci --no-audit --no-fund
npm run build

if [ "${CARBONBENCH_SKIP_PYTHON:-0}" != "1" ]; then
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --retries 1 -r scripts/requirements.txt
fi
echo "setup done: try ./bin/carbonbench.js doctor"
