"""scripts/gpu_check.sh without a GPU (CUDA hidden, so the test holds on any machine): it says that no GPU is
present, writes the JSON with nothing measured and exits 0."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_without_a_gpu_measures_nothing_and_exits_0(tmp_path):
    out = tmp_path / "nested" / "gpu_check.json"
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "no CUDA GPU present" in res.stdout and "nothing measured" in res.stdout
    report = json.loads(out.read_text())
    assert report["gpu_present"] is False
    assert report["measured"] is False
    assert report["ok"] is True
    assert report["steps"] == []
    assert report["message"] == res.stdout.strip()
    assert report["machine"]["cpu_cores"] >= 1


def test_gpu_check_rejects_a_bad_option(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run(
        ["bash", str(ROOT / "scripts" / "gpu_check.sh"), "--no-such-option"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 2
    assert "--no-such-option" in res.stderr
    assert not (tmp_path / "results").exists()
