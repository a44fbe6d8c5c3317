#!/usr/bin/env bash
# Set up .venv with adskit and its extras. Idempotent: a second run only checks.
# Usage: bash scripts/bootstrap.sh [--dev] [--browser]
#   (no flag) the package + notebook UI; --dev adds tests and lint; --browser adds playwright + Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
extras="ui"
browser=0
for a in "$@"; do
  case "$a" in
    --dev) extras="$extras,dev" ;;
    --browser) extras="$extras,browser"; browser=1 ;;
    *) echo "bootstrap: unknown option $a (expected --dev or --browser)" >&2; exit 2 ;;
  esac
done
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
"$VPY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# torch: where no NVIDIA GPU is visible, prefer the small CPU build when the index offers one
# (the package itself only asks for torch>=2.1; this choice is the set-up script's, not the package's).
if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    "$VPY" -m pip install -q "torch>=2.1"
  else
    "$VPY" -m pip install -q "torch==2.13.0" 2>/dev/null || "$VPY" -m pip install -q "torch>=2.1"
  fi
fi
"$VPY" -m pip install -q -e ".[$extras]"
if [ "$browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "bootstrap: could not install chromium; browser tests will be skipped" >&2
  else
    echo "bootstrap: /usr/bin/chromium not found and not root; browser tests will be skipped" >&2
  fi
fi
