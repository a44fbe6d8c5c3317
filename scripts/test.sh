#!/usr/bin/env bash
# Set up .venv (package + dev + browser extras, Chromium where it can be installed) and run every test.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh --dev --browser || { echo "test.sh: set-up failed" >&2; exit 1; }
export MPLBACKEND=Agg
.venv/bin/python -m pytest "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
exit "$rc"
