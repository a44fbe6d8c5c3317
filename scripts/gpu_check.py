"""A prepared GPU check (issue 15, deliverable 5): minutes on one lent CUDA device, one JSON, non-zero on any failure.

Run it through ``bash scripts/gpu_check.sh [--out PATH] [--gpu INDEX]``. On one CUDA device, within a hard deadline
of 470 s, it runs in turn:

1. ``tests``: the ``gpu``-marked tests (``pytest -m gpu tests``); a failure, or no gpu test passing, fails the step;
2. ``log-mel``: :class:`adskit.audio.features.LogMel` on the GPU (NumPy in, NumPy out, transfers included) against
   librosa on the CPU, 20 x 10 s at 16 kHz, both presets of ``benchmarks/bench_features.py``, interleaved
   repeats, medians (``benchmarks/run.py``'s ``time_pair``), and the largest difference of the outputs;
3. ``data``: the synthetic "fast" data set of seed 0 (made once under the data root, ``$ADSKIT_DATA``);
4. ``sound``: ``adskit sound --full`` with one model (FCN64-large) and the costs RE and BU, cut to
   ``--sound-updates`` updates on the GPU and ``--cpu-updates`` on the CPU; frames/s of each training
   (``frames_per_s`` of the run's timings) on both devices and their ratio;
5. ``np``: ``adskit np --full`` for ``--np-steps`` steps on the GPU (AE, VAE and PROP); seconds per method.

Every step is recorded with its seconds, measurements and error; the JSON (``--out``, default ``results/gpu_check.json``) is written atomically at the
end, also after a failure. Without a CUDA device it says so, writes the JSON with nothing measured and exits 0.
``--smoke-on-cpu`` runs the same steps on the CPU with tiny budgets, to test the script itself (not a measurement).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 470.0  # the whole check, under 8 minutes
MODEL = "fcn64-large"


class Check:
    """The steps run so far and the deadline they share."""

    def __init__(self, device: str, smoke: bool) -> None:
        self.device, self.smoke = device, smoke
        self.deadline = 3600.0 if smoke else DEADLINE_S  # a smoke run tests the script on a slow CPU: no hurry
        self.t0 = time.monotonic()
        self.steps: list[dict] = []
        self.data_dir = ""  # set by the data step

    def left(self) -> float:
        return self.deadline - (time.monotonic() - self.t0)

    def step(self, name: str, fn, *args) -> dict:
        """Run ``fn(*args) -> measurements``; record ok, seconds and the error, if any."""
        rec: dict = {"name": name, "ok": False, "seconds": 0.0, "measurements": {}}
        print(f"gpu_check: {name} ...", file=sys.stderr, flush=True)
        t = time.monotonic()
        try:
            if self.left() < 5:
                raise TimeoutError(f"no time left of the {self.deadline:.0f}-s deadline")
            rec["measurements"] = fn(*args)
            rec["ok"] = True
        except Exception as exc:
            rec["error"] = f"{type(exc).__name__}: {exc}"
            rec["traceback"] = traceback.format_exc(limit=5)
        rec["seconds"] = round(time.monotonic() - t, 2)
        print(f"gpu_check: {name} {'ok' if rec['ok'] else 'FAILED: ' + rec['error']}", file=sys.stderr, flush=True)
        self.steps.append(rec)
        return rec

    def run(self, cmd: list[str], limit: float) -> subprocess.CompletedProcess:
        """``cmd`` in the repository with at most ``limit`` seconds (and what the deadline leaves)."""
        timeout = max(1.0, min(limit * (10 if self.smoke else 1), self.left()))
        env = {**os.environ, "MPLBACKEND": "Agg"}
        try:
            res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError(f"{' '.join(cmd[:4])} ... took more than {timeout:.0f} s") from exc
        if res.returncode != 0:
            tail = (res.stderr or res.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"{' '.join(cmd[:4])} ... exited with {res.returncode}: {' | '.join(tail)}")
        return res


def gpu_tests(check: Check) -> dict:
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py") if "mark.gpu" in p.read_text())
    if not files:
        raise RuntimeError("no test file under tests/ has a gpu mark")
    res = check.run([sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-p", "no:cacheprovider", *files], 90)
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|skipped|deselected|failed|error)", res.stdout)}
    if not counts.get("passed") and not check.smoke:
        raise RuntimeError(f"no gpu test passed: {res.stdout.strip().splitlines()[-1]}")
    return {**counts, "files": files}


def log_mel(check: Check) -> dict:
    import librosa
    import numpy as np
    import torch

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from run import time_pair

    from adskit.audio.features import FeatureConfig, LogMel

    out = {}
    for preset in ("dcase2020", "paper"):
        cfg = FeatureConfig.preset(preset)
        clips = np.random.default_rng(0).standard_normal((20, 10 * cfg.sr)).astype(np.float32) * 0.1
        module = LogMel(cfg, device=check.device)
        log = (lambda S: 10.0 * np.log10(S)) if cfg.log == "10log10" else np.log

        def ours(module=module, clips=clips):
            with torch.inference_mode():
                return module(clips).cpu().numpy()  # the copy back waits for the device

        def ref(cfg=cfg, clips=clips, log=log):
            S = librosa.feature.melspectrogram(
                y=clips, sr=cfg.sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                window=cfg.window, center=cfg.center, pad_mode=cfg.pad_mode, power=cfg.power, n_mels=cfg.n_mels,
                fmin=cfg.fmin, fmax=cfg.fmax,
            )  # fmt: skip
            return np.swapaxes(log(np.maximum(S, cfg.log_floor)), -1, -2)

        diff = float(np.max(np.abs(ours() - ref())))
        if not diff < 0.05:  # dB or nats on noise far above the floor: float32 rounding is ~1e-4
            raise AssertionError(f"log-mel {preset}: GPU and librosa differ by {diff:.3g}")
        t_gpu, t_cpu = time_pair(ours, ref, repeats=2 if check.smoke else 7, warmup=2)
        out[preset] = {"gpu_s": t_gpu, "librosa_cpu_s": t_cpu, "speed_up": t_cpu / t_gpu, "max_abs_diff": diff}
    return out


def data(check: Check) -> dict:
    from adskit.audio.synth import ensure_synthetic

    check.data_dir = str(ensure_synthetic("fast", 0, progress=False))
    return {"data_dir": check.data_dir}


def _runs(out: Path, experiment: str, key: str) -> dict:
    """``key`` of the ``run.json`` of every run of ``experiment`` under the result folder ``out``, by run folder."""
    runs = sorted((out / "runs" / experiment).glob("*/run.json"))
    if not runs:
        raise RuntimeError(f"no {experiment} run was written under {out}")
    return {p.parent.name: json.loads(p.read_text()).get(key) or {} for p in runs}


def sound(check: Check, updates: int, cpu_updates: int, work: Path) -> dict:
    rates: dict = {}
    for side, device, n in (("gpu", check.device, updates), ("cpu", "cpu", cpu_updates)):  # smoke: both CPU
        out = work / f"sound-{side}"
        cmd = [sys.executable, "-m", "adskit", "sound", "--full", "--out", str(out), "--seeds", "0"]
        cmd += ["--machines", "fan", "--models", MODEL, "--costs", "re", "bu", "--n-updates", str(n)]
        cmd += ["--workers", "0", "--device", device, "--no-progress", "--data-dir", check.data_dir]
        check.run(cmd, 120 if side == "gpu" else 100)
        for timings in _runs(out, "sound", "timings").values():
            for key, value in timings.items():
                if key.endswith("/frames_per_s"):
                    cost = key.split("/")[-2]
                    rates.setdefault(cost, {})[f"{side}_frames_per_s"] = value
                    rates[cost][f"{side}_updates"] = n
    for cost in ("re", "bu"):
        r = rates.get(cost, {})
        if "gpu_frames_per_s" not in r or "cpu_frames_per_s" not in r:
            raise RuntimeError(f"sound: no frames/s of {cost.upper()} on both devices in the runs' timings: {rates}")
        r["gpu_over_cpu"] = r["gpu_frames_per_s"] / r["cpu_frames_per_s"]
    return {"model": MODEL, **rates}


def np_steps(check: Check, steps: int, work: Path) -> dict:
    out = work / "np"
    cmd = [sys.executable, "-m", "adskit", "np", "--full", "--out", str(out), "--seeds", "0", "--steps", str(steps)]
    cmd += ["--workers", "0", "--device", check.device, "--no-progress", "--data-dir", check.data_dir]
    t = time.monotonic()
    check.run(cmd, 120)
    methods = {}
    for training in _runs(out, "np", "training").values():
        for method, tr in training.items():
            loop = tr.get("timings", {}).get("total", float("nan"))
            methods[method] = {"n_steps": tr.get("n_steps"), "fit_seconds": tr.get("fit_seconds"), "loop_seconds": loop}
    if sorted(methods) != ["AE", "PROP", "VAE"] or any(m["n_steps"] != steps for m in methods.values()):
        raise RuntimeError(f"np: expected AE, VAE and PROP with {steps} steps each, the runs say {methods}")
    return {"steps": steps, "wall_seconds": time.monotonic() - t, "methods": methods}


def machine(device: str) -> dict:
    import torch

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cpu_cores": os.cpu_count(),
        "load_1min": os.getloadavg()[0],
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }
    if device != "cpu":
        p = torch.cuda.get_device_properties(torch.device(device))
        info["gpu"] = {"name": p.name, "capability": f"{p.major}.{p.minor}", "memory_gib": p.total_memory / 2**30}
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = ROOT / "results" / "gpu_check.json"  # results/ is ignored by git
    ap.add_argument("--out", type=Path, default=default, help=f"the JSON written (default {default})")
    ap.add_argument("--gpu", type=int, default=None, help="CUDA device index (sets CUDA_VISIBLE_DEVICES; default 0)")
    ap.add_argument("--sound-updates", type=int, default=500, help="updates of each sound training on the GPU")
    ap.add_argument("--cpu-updates", type=int, default=40, help="updates of each sound training on the CPU")
    ap.add_argument("--np-steps", type=int, default=100, help="steps of each adskit np method on the GPU")
    ap.add_argument("--smoke-on-cpu", action="store_true", help="tiny budgets on the CPU, to test this script")
    args = ap.parse_args(argv)
    if args.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(args.gpu)  # before torch starts CUDA; subprocesses inherit it
    import torch

    from adskit._utils import atomic_write_json

    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    report = {"check": "scripts/gpu_check.py", "started": started, "deadline_seconds": DEADLINE_S}
    if not torch.cuda.is_available() and not args.smoke_on_cpu:
        msg = (
            f"gpu_check: no CUDA GPU present (torch {torch.__version__}, CUDA build {torch.version.cuda}); "
            f"nothing measured; wrote {args.out}"
        )
        report.update(machine=machine("cpu"), gpu_present=False, measured=False, ok=True, steps=[], message=msg)
        atomic_write_json(args.out, report)
        print(msg)
        return 0
    device = "cpu" if args.smoke_on_cpu else "cuda:0"
    if args.smoke_on_cpu:
        args.sound_updates, args.cpu_updates, args.np_steps = 3, 3, 2
    check = Check(device, args.smoke_on_cpu)
    report.update(machine=machine(device), gpu_present=torch.cuda.is_available(), smoke_on_cpu=args.smoke_on_cpu)
    report["budgets"] = {k: getattr(args, k) for k in ("sound_updates", "cpu_updates", "np_steps")}
    with tempfile.TemporaryDirectory(prefix="adskit-gpu-check-") as tmp:
        work = Path(tmp)
        check.step("tests", gpu_tests, check)
        check.step("log-mel", log_mel, check)
        if check.step("data", data, check)["ok"]:
            check.step("sound", sound, check, args.sound_updates, args.cpu_updates, work)
            check.step("np", np_steps, check, args.np_steps, work)
    ok = all(s["ok"] for s in check.steps)
    seconds = round(time.monotonic() - check.t0, 1)
    msg = (
        f"gpu_check: {'all steps passed' if ok else 'FAILED: ' + ', '.join(s['name'] for s in check.steps if not s['ok'])}"
        f" in {seconds} s on {report['machine'].get('gpu', {}).get('name', 'the CPU (smoke run, not a measurement)')}; "
        f"wrote {args.out}"
    )
    report.update(measured=not args.smoke_on_cpu, ok=ok, seconds=seconds, steps=check.steps, message=msg)
    atomic_write_json(args.out, report)
    print(msg)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
