"""Overhead of the experiment shell (run folders + Dask LocalCluster) against a plain loop over the same runs.

The same 2-D verification runs are executed twice in one benchmark run: by a plain Python loop calling
``run_verification`` in this process with one torch thread, and by ``run_sweep`` on a ``LocalCluster`` of one
worker process with one thread (so both have one core: the ratio measures the engine, not parallelism). The
engine's time includes starting and closing the cluster, importing torch in the worker, writing each result
folder atomically and the report's run lookups. Each run's length is calibrated to about ``seconds`` (20 s in
the full benchmark, the length the target is stated for). ratio = engine / loop; target <= 1.10.
"""

from __future__ import annotations

import functools
import statistics
import tempfile
import time

import torch
from run import Case, Result

from adskit.experiments.sweep import run_sweep
from adskit.experiments.verification import VerificationConfig, plan_verification, run_verification


def _config(n_updates: int) -> VerificationConfig:
    return VerificationConfig(n_updates=n_updates, grid_step=0.02, device="cpu")


def _calibrate(seconds: float) -> int:
    """Updates per run so that one run (one cost) takes about ``seconds`` on average on one thread. Measured on
    the three costs together (slope and intercept from two lengths: every run also scores the grid, a fixed
    cost), whose time is three runs'."""
    run_verification(_config(20), progress=False)  # warm-up: the first call pays one-off start-up costs
    times = {}
    for n in (100, 400):
        t0 = time.perf_counter()
        run_verification(_config(n), progress=False)
        times[n] = time.perf_counter() - t0
    per = max((times[400] - times[100]) / 300, 1e-6)
    fixed = max(times[100] - 100 * per, 0.0)
    return max(50, int((3 * seconds - fixed) / per))


@functools.lru_cache(maxsize=2)
def _measure(quick: bool) -> dict[str, float]:
    seconds, n_runs, repeats = (5.0, 4, 1) if quick else (20.0, 6, 2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        n_updates = _calibrate(seconds)
        runs = [r for r in plan_verification(_config(n_updates), [0, 1])][:n_runs]
        loop_t, engine_t = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            for r in runs:
                run_verification(r.config, progress=False)
            loop_t.append(time.perf_counter() - t0)
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                out = run_sweep(runs, tmp, n_workers=1, progress=False)
                engine_t.append(time.perf_counter() - t0)
                assert not out.failed and out.n_executed == len(runs)
    finally:
        torch.set_num_threads(threads)
    return {
        "loop": statistics.median(loop_t),
        "engine": statistics.median(engine_t),
        "n_runs": float(len(runs)),
        "n_updates": float(n_updates),
    }


def _case(quick: bool) -> Case:
    def run() -> Result:
        t = _measure(quick)
        ratio = t["engine"] / t["loop"]
        per_run = t["loop"] / t["n_runs"]
        return Result(
            name="sweep engine vs plain loop",
            adskit=t["engine"],
            reference=t["loop"],
            unit="s",
            ratio=ratio,
            ratio_label="engine / loop",
            target="<= 1.10 (runs of 20 s)",
            meets=ratio <= 1.10,
            notes=f"{int(t['n_runs'])} verification runs of {per_run:.1f} s ({int(t['n_updates'])} updates), "
            "LocalCluster of 1 process x 1 thread vs a loop on 1 thread; cluster start and stop included",
        )

    return Case("sweep engine vs plain loop", run)


def cases(quick: bool) -> list[Case]:
    """The engine-overhead case."""
    return [_case(quick)]
