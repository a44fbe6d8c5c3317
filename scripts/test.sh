#!/usr/bin/env bash
# Set up .venv (package + dev + browser extras, Chromium where it can be installed) and run every test.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slow"`.
#
# `bash scripts/test.sh --newest-python [pytest args]` instead runs the suite, browser tests aside
# (-m "not browser"; a later -m of yours replaces it), under the newest Python that adskit supports
# (pyproject's requires-python) and that this machine has, when it is newer than the default python3:
# python3.N on PATH or an installed pyenv 3.N.x, newest N first. Its venv is .venv-py3.N (package + dev
# extras). Where there is none, or too little disk for its torch build, it says so and exits 0.
# pytest's exit 5 (no tests collected) is a failure in both modes.
set -uo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg

newest=0
if [ "${1:-}" = "--newest-python" ]; then newest=1; shift; fi

run_pytest() {  # run_pytest VENV_PYTHON [pytest args]
  local vpy=$1; shift
  "$vpy" -m pytest "$@"
  local rc=$?
  if [ "$rc" -eq 5 ]; then
    echo "test.sh: pytest collected no tests; that is a failure here" >&2
    return 1
  fi
  return "$rc"
}

if [ "$newest" = 0 ]; then
  bash scripts/bootstrap.sh --dev --browser || { echo "test.sh: set-up failed" >&2; exit 1; }
  run_pytest .venv/bin/python "$@"
  exit $?
fi

# --- newest supported Python ---
runs() { "$1" -c "import sys" >/dev/null 2>&1; }
# Does interpreter $1 satisfy requires-python? Exit 0 yes, 1 no.
supported() {
  "$1" - <<'EOF'
import sys, tomllib
spec = tomllib.load(open("pyproject.toml", "rb"))["project"].get("requires-python", "")
try:
    from packaging.specifiers import SpecifierSet
except ImportError:
    try:
        from pip._vendor.packaging.specifiers import SpecifierSet
    except ImportError:  # neither packaging nor pip: cannot check, so do not rule it out
        print("test.sh: cannot check %s against requires-python %r" % (sys.executable, spec))
        sys.exit(0)
sys.exit(0 if "%d.%d.%d" % sys.version_info[:3] in SpecifierSet(spec) else 1)
EOF
}
base_py=${PYTHON:-python3}
base_minor=$("$base_py" -c 'import sys; print(sys.version_info[1])') || { echo "test.sh: cannot run $base_py" >&2; exit 1; }
spec=$(sed -n 's/^requires-python *= *"\(.*\)".*/\1/p' pyproject.toml)
pyenv_root=$( (pyenv root 2>/dev/null) || echo "${PYENV_ROOT:-$HOME/.pyenv}")
chosen=""
for ((m = 20; m > base_minor; m--)); do
  cands=()
  # A pyenv shim on PATH refuses to run a version that is not active; runs() skips it then.
  if command -v "python3.$m" >/dev/null 2>&1; then cands+=("$(command -v "python3.$m")"); fi
  for v in $(ls "$pyenv_root/versions" 2>/dev/null | grep -E "^3\.$m\.[0-9]+$" | sort -rV); do
    cands+=("$pyenv_root/versions/$v/bin/python3.$m")
  done
  for c in "${cands[@]}"; do
    runs "$c" || continue
    if supported "$c"; then chosen=$c; break 2; fi
    echo "test.sh: $c ($("$c" -V 2>&1)) is outside requires-python '$spec'; not used"
  done
done
if [ -z "$chosen" ]; then
  echo "test.sh: NOTICE: this machine has no Python newer than 3.$base_minor (the default python3) within" \
       "requires-python '$spec'; the run under the newest Python is skipped"
  exit 0
fi
ver=$("$chosen" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
venv=.venv-py${ver%.*}
echo "test.sh: newest supported Python on this machine: $ver ($chosen); venv $venv; browser tests deselected"
bash scripts/bootstrap.sh --dev --venv "$venv" --python "$chosen"
rc=$?
if [ "$rc" = 3 ]; then  # bootstrap's "not enough disk for a torch build": the machine, not the code
  echo "test.sh: NOTICE: the run under Python $ver is skipped: too little disk for its torch (see above)"
  exit 0
fi
[ "$rc" = 0 ] || { echo "test.sh: set-up of $venv failed" >&2; exit 1; }
run_pytest "$venv/bin/python" -m "not browser" "$@"
