"""Thread use on a busy machine (issue 15, deliverable 4): the kit's default torch threads while another process
keeps one core busy.

The benchmark starts a real competing process (a spin loop pinned to the last usable core), runs a benchmark of
``bench_features`` / ``bench_training`` under it (their own interleaved repeats and medians: adskit and its
reference see the same load), and stops it. Rows:

* log-mel (``dcase2020`` and ``paper``), adskit with torch's default threads vs librosa, target >= 1x; the
  extractor applies :func:`adskit._threads.cpu_threads` itself;
* AE training (``dcase2020`` RE, ``fcn64-small`` SNP), adskit vs the bare loop of ``bench_training``, target
  >= 0.9x, as the training loop is now, and "with the thread policy": the same with ``train_loop`` run inside
  ``cpu_threads(plan.device)`` (the call proposed for the training loop; this benchmark wraps it from outside
  until the loop makes it itself, after which both rows measure the same code), and "both 1 thread": adskit
  and the bare loop on one torch thread, the pipeline's own cost under load with threads set aside.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import time
from collections.abc import Iterator

from run import Case, Result

LOAD = "one core busy"


def _spin(stop, core: int | None) -> None:  # the competing process: pure Python, CPU-bound, no I/O
    if core is not None:
        os.sched_setaffinity(0, {core})
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x += 1


@contextlib.contextmanager
def busy_core() -> Iterator[dict]:
    """A competing CPU-bound process on one core (the last this process may use) while the block runs.

    Yields a dict that gains the 1-minute load averages at the start and the end (``load_start``, ``load_end``).
    """
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    ctx = mp.get_context("spawn")
    stop = ctx.Event()
    proc = ctx.Process(target=_spin, args=(stop, cores[-1] if cores else None), daemon=True)
    proc.start()
    time.sleep(0.5)  # let it start spinning
    info = {"competing_pid": proc.pid, "core": cores[-1] if cores else None, "load_start": os.getloadavg()[0]}
    try:
        yield info
    finally:
        info["load_end"] = os.getloadavg()[0]
        stop.set()
        proc.join(5)
        if proc.is_alive():
            proc.terminate()
            proc.join()


@contextlib.contextmanager
def training_policy() -> Iterator[None]:
    """The proposed call, applied from outside: AEDetector's ``train_loop`` inside ``cpu_threads(plan.device)``."""
    import adskit.detectors.ae as ae
    from adskit._threads import cpu_threads

    inner = ae.train_loop

    def train_loop(det, get_batch, plan):
        with cpu_threads(plan.device):
            return inner(det, get_batch, plan)

    ae.train_loop = train_loop
    try:
        yield
    finally:
        ae.train_loop = inner


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread for the block (adskit and the reference alike), then the caller's setting again."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _under_load(label: str, make_case, policy: bool = False, single: bool = False) -> Case:
    def run() -> Result:
        with busy_core() as info, training_policy() if policy else contextlib.nullcontext():
            with one_thread() if single else contextlib.nullcontext():
                res = make_case().run()
        res.name = label
        load = f"{LOAD} (pid {info['competing_pid']}, load {info['load_start']:.1f}->{info['load_end']:.1f})"
        # the notes' "torch threads" is the setting outside the kit's calls; inside, the policy may lower it
        policy_note = "; adskit's training loop inside cpu_threads (from outside)" if policy else ""
        res.notes = f"{load}; {res.notes}{policy_note}"
        res.extra = {**res.extra, **info, "policy_from_outside": policy}
        return res

    return Case(name=label, run=run)


def cases(quick: bool) -> list[Case]:
    """Log-mel (both presets) and AE training (RE and SNP, as it is and with the thread policy), each under a
    competing process on one core."""
    import bench_features
    import bench_training

    out = [
        _under_load(f"log-mel {p} 20x10s CPU, {LOAD}", lambda p=p: bench_features._case(p, quick, None))
        for p in ("dcase2020", "paper")
    ]
    for preset, cost in (("dcase2020", "re"), ("fcn64-small", "snp")):
        for policy in (False, True):
            name = f"AE training {preset} {cost.upper()}, {LOAD}" + (", thread policy" if policy else "")
            out.append(_under_load(name, lambda a=(preset, cost): bench_training._case(*a, quick), policy))
        # both on one thread: the pipeline's own cost under load, threads aside
        name = f"AE training {preset} {cost.upper()}, {LOAD}, both 1 thread"
        out.append(_under_load(name, lambda a=(preset, cost): bench_training._case(*a, quick), single=True))
    return out
