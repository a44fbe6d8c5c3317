#!/usr/bin/env bash
# A prepared GPU check (issue 15): on one CUDA device, in under 8 minutes, the gpu tests, log-mel on the GPU
# against librosa on the CPU, one RE and one BU training of `adskit sound --full` cut to a fixed number of updates
# (frames/s on the GPU and on the CPU) and `adskit np --full` for a fixed number of steps. Writes one JSON
# (--out, default results/gpu_check.json) and exits non-zero on any failure. Without a GPU it says so, writes the JSON
# with nothing measured and exits 0.
#
#   bash scripts/gpu_check.sh [--out PATH] [--gpu INDEX] [--sound-updates N] [--cpu-updates N] [--np-steps N]
#   bash scripts/gpu_check.sh --smoke-on-cpu   # the same steps on the CPU with tiny budgets: tests this script
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-$here/../.venv/bin/python}
if [ ! -x "$py" ]; then py=python3; fi
exec "$py" "$here/gpu_check.py" "$@"
