"""Peak memory of training an autoencoder over a folder of clips through the feature cache and FrameSampler.

Target (issue 3): peak resident memory <= the feature cache's size on disk + 1 GiB, i.e. the kit never needs
all frames of a data set in memory at once (DCASE 2020 baseline issue 2: out of memory on 8 GB).

The measurement runs in a fresh subprocess (``python bench_memory.py --child ...``) so the high-water mark
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) counts only the measured pipeline: imports, building the
feature cache of every clip (DCASE 2020 front end: 128 mels, 5 frames, 640 dims), then a plain torch training
loop of a small ``adskit.models.Autoencoder`` (RE cost, AMSGrad) over FrameSampler batches.
``adskit.detectors.AEDetector`` is not used: its ``fit(X)`` takes an in-memory array, and the point here
is not to make one.

Clips come from the synthetic generator (``adskit.audio.synth.generate_clip``), written as WAV files to a
temporary folder: full run 1,000 clips of 10 s (one DCASE 2020 machine type's worth of training data),
quick run 200 clips of 2 s.

A second row: the peak memory a diagonal GMM fit adds on top of its data, ``adskit.gmm.GaussianMixture`` against
``sklearn.mixture.GaussianMixture`` (16 components, defaults, ``max_iter=3`` on both so that the row measures
buffers, not run length; one torch thread), each side in its own subprocess on the same generated data: full
run 500,000 x 64 float64 values (244 MiB), quick run 100,000 x 64.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))


def _status_mib(field: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of /proc/self/status (Linux) in MiB, None where it cannot be read."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return float(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return None


def _peak_mib() -> float:
    """This process's peak RSS (MiB): ``VmHWM``, or ``ru_maxrss`` where /proc is missing."""
    import resource

    hwm = _status_mib("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _reset_peak() -> float:
    """Reset the peak to the current RSS (Linux: clear_refs 5) and return the RSS now (MiB). Without it an earlier
    transient peak (imports) can hide a later one (the quick run's sklearn fit once measured 0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        now = _status_mib("VmRSS")
    except OSError:
        now = None
    return now if now is not None else _peak_mib()


def _make_clips(folder: Path, n_clips: int, duration: float) -> None:
    from adskit.audio.io import save_audio
    from adskit.audio.synth import MACHINES, generate_clip

    machines = sorted(MACHINES)
    for i in range(n_clips):
        machine = machines[i % len(machines)]
        y, _ = generate_clip(machine, "normal", rng=[0, i], duration=duration)
        save_audio(folder / machine / "train" / f"normal_id_00_{i:08d}.wav", y, 16000)


def _child(root: str, cache_dir: str, n_steps: int, batch_size: int) -> dict:
    """The measured process: cache every clip, then train; report the RSS high-water marks (MiB)."""
    import time

    peak_mib = _peak_mib

    import torch

    from adskit.audio.datasets import FeatureCache, FolderDataset, FrameSampler, dataset_stats
    from adskit.audio.features import FeatureConfig
    from adskit.losses import anomaly_score, re_loss
    from adskit.models import Autoencoder

    torch.set_num_threads(1)
    after_import = peak_mib()
    t0 = time.perf_counter()
    ds = FolderDataset(root)
    cfg = FeatureConfig.preset("dcase2020")
    cache = FeatureCache(cache_dir, cfg, device="cpu")
    report = cache.build(ds.paths, progress=False, on_error="raise")
    after_cache = peak_mib()
    stats = dataset_stats(cache, report.ok)
    sampler = FrameSampler(
        cache, report.ok, batch_size=batch_size, n_batches=n_steps, random_state=0, mean=stats.mean, std=stats.std
    )
    model = Autoencoder(cfg.dim, hidden=(128, 128), latent_dim=8, seed=0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=True)
    losses = []
    for X in sampler:
        x = torch.from_numpy(X)
        loss = re_loss(anomaly_score(x, model(x)))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    return {
        "peak_mib": peak_mib(),
        "after_import_mib": after_import,
        "after_cache_mib": after_cache,
        "cache_mib": cache.size_bytes() / 2**20,
        "n_clips": len(report.ok),
        "n_vectors": sampler.n_vectors_,
        "dim": sampler.dim_,
        "first_loss": losses[0],
        "last_loss": losses[-1],
        "seconds": time.perf_counter() - t0,
    }


def _run(n_clips: int, duration: float, n_steps: int, batch_size: int):
    from run import Result

    with tempfile.TemporaryDirectory(prefix="adskit-bench-memory-") as tmp:
        root = Path(tmp) / "clips"
        _make_clips(root, n_clips, duration)
        out = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--child",
                str(root),
                str(Path(tmp) / "cache"),
                str(n_steps),
                str(batch_size),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"benchmark child failed:\n{out.stderr[-3000:]}")
        m = json.loads(out.stdout.strip().splitlines()[-1])
    budget = m["cache_mib"] + 1024.0
    all_in_one = m["n_vectors"] * m["dim"] * 4 / 2**20
    return Result(
        name=f"memory: AE over {n_clips} clips x {duration:g} s",
        adskit=m["peak_mib"],
        reference=budget,
        unit="MB",
        ratio=m["peak_mib"] / budget,
        ratio_label="peak RSS/(cache+1GiB)",
        target="<= 1",
        meets=m["peak_mib"] <= budget,
        notes=(
            f"peak RSS {m['peak_mib']:.0f} MiB (after imports {m['after_import_mib']:.0f}, after caching "
            f"{m['after_cache_mib']:.0f}); cache {m['cache_mib']:.1f} MiB on disk; stacking every vector would "
            f"take {all_in_one:.0f} MiB; plain torch loop over FrameSampler ({n_steps} steps x {batch_size}), "
            f"synthetic clips"
        ),
        extra=m,
    )


def _gmm_child(side: str, n: int, d: int) -> dict:
    """Peak RSS (MiB) before and after one diagonal GMM fit of ``side`` ("adskit" or "sklearn") on (n, d) data."""
    import warnings

    import numpy as np
    import torch

    torch.set_num_threads(1)
    from threadpoolctl import threadpool_limits

    X = np.random.default_rng(0).normal(size=(n, d))
    kw = {"n_components": 16, "covariance_type": "diag", "random_state": 0, "max_iter": 3}
    if side == "adskit":
        from adskit.gmm import GaussianMixture

        model = GaussianMixture(**kw, device="cpu")
    else:
        from sklearn.mixture import GaussianMixture

        model = GaussianMixture(**kw)
    before = _reset_peak()
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.simplefilter("ignore")  # 3 iterations do not converge, on purpose
        model.fit(X)
    return {"before_mib": before, "peak_mib": _peak_mib(), "data_mib": X.nbytes / 2**20}


def _run_gmm(n: int, d: int):
    from run import Result

    got = {}
    for side in ("adskit", "sklearn"):
        out = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--gmm-child", side, str(n), str(d)],
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"benchmark child ({side}) failed:\n{out.stderr[-3000:]}")
        got[side] = json.loads(out.stdout.strip().splitlines()[-1])
    grow = {k: v["peak_mib"] - v["before_mib"] for k, v in got.items()}
    return Result(
        name=f"memory: GMM fit {n} x {d} float64, added peak vs sklearn",
        adskit=grow["adskit"],
        reference=grow["sklearn"],
        unit="MB",
        ratio=grow["adskit"] / grow["sklearn"] if grow["sklearn"] > 0 else float("nan"),
        ratio_label="adskit/sklearn (added peak RSS)",
        target="(none set)",
        meets=True,
        notes=(
            f"peak RSS added by one fit (16 diagonal components, max_iter=3, one thread) over the data's "
            f"{got['adskit']['data_mib']:.0f} MiB, each side in its own process"
        ),
        extra=got,
    )


def cases(quick: bool):
    from run import Case

    if quick:
        return [
            Case("memory: AE over 200 clips via cache", lambda: _run(200, 2.0, 50, 256)),
            Case("memory: GMM fit vs sklearn", lambda: _run_gmm(100_000, 64)),
        ]
    return [
        Case("memory: AE over 1000 clips via cache", lambda: _run(1000, 10.0, 500, 512)),
        Case("memory: GMM fit vs sklearn", lambda: _run_gmm(500_000, 64)),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
    elif len(sys.argv) == 5 and sys.argv[1] == "--gmm-child":
        print(json.dumps(_gmm_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
    else:
        sys.exit("usage: python benchmarks/run.py [--quick] --only memory")
