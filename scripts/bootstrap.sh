#!/usr/bin/env bash
# Set up a virtual environment with adskit and its extras. Idempotent: a second run only checks.
# Usage: bash scripts/bootstrap.sh [--dev] [--browser] [--venv DIR] [--python EXE]
#   (no flag) the package + notebook UI in .venv, made with python3;
#   --dev adds tests and lint; --browser adds playwright + Chromium;
#   --venv DIR (or env VENV) puts the venv in DIR (relative paths are from the repository root);
#   --python EXE (or env PYTHON) makes it with that interpreter: a path, or a name such as python3.13
#   (a name that only pyenv knows, e.g. a pyenv version that is installed but not active, is found too).
# e.g. `VENV=.venv-py3.13 PYTHON=python3.13 bash scripts/bootstrap.sh --dev`
#   or `bash scripts/bootstrap.sh --dev --venv .venv-py3.13 --python python3.13`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
py_given=${PYTHON:+1}
extras="ui"
browser=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) extras="$extras,dev" ;;
    --browser) extras="$extras,browser"; browser=1 ;;
    --venv) [ $# -ge 2 ] || { echo "bootstrap: --venv needs a directory" >&2; exit 2; }; VENV=$2; shift ;;
    --venv=*) VENV=${1#--venv=} ;;
    --python) [ $# -ge 2 ] || { echo "bootstrap: --python needs an interpreter" >&2; exit 2; }; PY=$2; py_given=1; shift ;;
    --python=*) PY=${1#--python=}; py_given=1 ;;
    *) echo "bootstrap: unknown option $1 (expected --dev, --browser, --venv DIR or --python EXE)" >&2; exit 2 ;;
  esac
  shift
done

# A name like python3.13 may be a pyenv shim that refuses to run because that version is not the active
# one ("pyenv: python3.13: command not found"): then take the newest installed pyenv 3.13.x directly.
runs() { "$1" -c "import sys" >/dev/null 2>&1; }
resolve_python() {
  runs "$PY" && return 0
  if [[ "$PY" =~ ^python(3\.[0-9]+)$ ]]; then
    local mm=${BASH_REMATCH[1]} root v
    root=$( (pyenv root 2>/dev/null) || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    for v in $(ls "$root/versions" 2>/dev/null | grep -E "^${mm//./\\.}\.[0-9]+$" | sort -rV); do
      if runs "$root/versions/$v/bin/$PY"; then PY="$root/versions/$v/bin/$PY"; return 0; fi
    done
  fi
  echo "bootstrap: cannot run the interpreter '$PY'" >&2
  exit 1
}

if [ -x "$VENV/bin/python" ]; then
  # Never reuse a venv made by another Python than the one asked for: say so instead of mixing.
  if [ -n "$py_given" ]; then
    resolve_python
    want=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    have=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo "?")
    if [ "$want" != "$have" ]; then
      echo "bootstrap: $VENV holds Python $have, not $want ($PY); remove it or choose another --venv" >&2
      exit 1
    fi
  fi
else
  resolve_python
  "$PY" -m venv "$VENV"
fi
VPY=$VENV/bin/python
pyver=$("$VPY" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
"$VPY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
# torch: where no NVIDIA GPU is visible, ask for torch 2.13.0, which is a small CPU build where pip finds
# one (on these machines, a file on local disk for Python 3.11). For another Python pip then downloads
# that release from PyPI, where the Linux build is the CUDA one (several GB; it runs on the CPU too):
# PyPI offers no CPU-only torch. The package itself only asks for torch>=2.1; this choice is the
# set-up script's, not the package's.
if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
  echo "bootstrap: installing torch into $VENV (Python $pyver) ..."
  t0=$SECONDS
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
    "$VPY" -m pip install -q --no-cache-dir "torch>=2.1"
  else
    # Is there a CPU build among this machine's own wheels (pip's find-links)? Asked without an index,
    # so nothing is downloaded to find out.
    if "$VPY" -m pip install -q --dry-run --no-deps --no-index "torch==2.13.0" >/dev/null 2>&1; then
      "$VPY" -m pip install -q --no-cache-dir "torch==2.13.0"
    else
      # None for this Python: the registry's Linux build is the CUDA one, about 6 GB in the venv. Say so
      # before pip runs out of disk half-way (exit 3: the machine, not the code).
      free_gb=$(df -Pk "$VENV" | awk 'NR == 2 {print int($4 / 1048576)}')
      if [ "${free_gb:-0}" -lt 7 ]; then
        echo "bootstrap: no CPU-only torch for Python $pyver here, and the CUDA build needs about 7 GB free;" \
             "$free_gb GB free under $VENV. Free some disk or choose another --venv." >&2
        exit 3
      fi
      "$VPY" -m pip install -q --no-cache-dir "torch==2.13.0" || "$VPY" -m pip install -q --no-cache-dir "torch>=2.1"
    fi
  fi
  "$VPY" -W ignore -c 'import torch, sys
kind = "CPU" if torch.version.cuda is None else "CUDA " + torch.version.cuda
print("bootstrap: torch %s (%s build) for Python %d.%d in %s" % (torch.__version__, kind, *sys.version_info[:2], sys.prefix))' \
    || { echo "bootstrap: torch does not import in $VENV" >&2; exit 1; }
  echo "bootstrap: torch installed in $((SECONDS - t0)) s"
fi
"$VPY" -m pip install -q -e ".[$extras]"
echo "bootstrap: $VENV ready (Python $pyver, extras $extras)"
if [ "$browser" = 1 ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "bootstrap: could not install chromium; browser tests will be skipped" >&2
  else
    echo "bootstrap: /usr/bin/chromium not found and not root; browser tests will be skipped" >&2
  fi
fi
