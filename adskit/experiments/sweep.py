"""Execute many runs on Dask distributed: a ``LocalCluster`` by default, or any scheduler by address.

The kit writes no scheduler of its own. Each :class:`~adskit.experiments.runs.Run` becomes one Dask task that
calls :func:`~adskit.experiments.runs.execute_run`; a run that needs another (SNP and BU read C from the RE run of
their seed) receives that task's future as an argument, so Dask orders them. Runs whose folder is complete are
skipped before anything is submitted, so running the same sweep again resumes it. A worker that dies (killed,
out of memory) has its task re-run elsewhere by Dask; a run that raises is reported by name with its error, and
the others go on.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
from tqdm.auto import tqdm

from .runs import Run, error_text, execute_run, load_run, run_folder, write_error

__all__ = ["SweepOutcome", "default_workers", "run_sweep"]


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` returns.

    Attributes
    ----------
    results : list of dict
        One result per complete run (skipped ones included), in the order of the runs given.
    failed : list of dict
        ``{"run": name, "error": "Type: message", "traceback": path}`` per run that raised.
    n_skipped : int
        Runs that were complete before the sweep started.
    n_executed : int
        Runs executed by this sweep.
    """

    results: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    n_skipped: int = 0
    n_executed: int = 0


def default_workers() -> int:
    """Worker processes for a local cluster: the cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _task(run: Run, root: str, *needed: dict) -> dict:
    """Dask task: execute one run (results of ``run.needs`` arrive as positional arguments)."""
    needs = {dep.key: res for dep, res in zip(run.needs, needed, strict=False) if isinstance(res, dict)}
    try:
        return execute_run(run, root, needs=needs, progress=False)
    except Exception as exc:
        write_error(root, run, exc)
        raise


#: Dask settings for the local cluster's workers. Dask starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (glibc
#: returns freed memory to the OS eagerly); torch's many small allocations per training step then run about 1.8x
#: slower (BU, 2-D verification, one thread: 4.8 s against 2.7 s per run on this machine). None unsets it, so a
#: worker keeps the allocator's default, or the value the user exported. Workers of an existing cluster
#: (``--scheduler``) take their own configuration: see the README's SLURM example.
WORKER_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


def _ordered(runs: Sequence[Run]) -> list[Run]:
    """Runs with every prerequisite before its dependants (prerequisites not listed are added)."""
    seen: dict[str, Run] = {}

    def visit(r: Run) -> None:
        if r.key in seen:
            return
        for d in r.needs:
            visit(d)
        seen[r.key] = r

    for r in runs:
        visit(r)
    return list(seen.values())


def run_sweep(
    runs: Sequence[Run],
    root: str | os.PathLike,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    progress: bool = True,
) -> SweepOutcome:
    """Execute ``runs`` into ``root`` on Dask and collect their results.

    Parameters
    ----------
    runs : sequence of Run
        From an experiment's ``plan``; prerequisites (``Run.needs``) are executed first, added if missing.
    root : path
        Sweep folder; each run writes ``root/runs/<experiment>/<key>/run.json``.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://host:8786``, e.g. one started by dask-jobqueue on a
        SLURM cluster). None: start a ``distributed.LocalCluster`` for this sweep.
    n_workers : int, optional
        Worker processes of the local cluster (one thread each); default: the cores available. 0 runs every
        run in this process, one after the other (no Dask; for debugging).
    progress : bool
        One progress bar over the runs.

    Returns
    -------
    SweepOutcome

    Raises
    ------
    ValueError
        If ``n_workers`` is negative.
    OSError
        If the scheduler cannot be reached.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    order = _ordered(runs)
    done = {r.key: load_run(run_folder(root, r)) for r in order}
    pending = [r for r in order if done[r.key] is None]
    out = SweepOutcome(n_skipped=len(order) - len(pending))
    failed: dict[str, dict] = {}
    bar = tqdm(total=len(order), initial=out.n_skipped, desc="runs", unit="run", disable=not progress)
    if n_workers is not None and int(n_workers) < 0:
        raise ValueError(f"n_workers: expected 0 (in this process) or a positive number, got {n_workers!r}")
    try:
        if pending and n_workers == 0 and scheduler is None:
            for r in pending:
                bar.set_postfix_str(r.key[:40])
                try:
                    done[r.key] = execute_run(r, root, progress=False)
                    out.n_executed += 1
                except Exception as exc:
                    failed[r.key] = {
                        "run": r.name,
                        "error": error_text(exc),
                        "traceback": str(write_error(root, r, exc)),
                    }
                bar.update(1)
        elif pending:
            _run_on_dask(pending, root, done, failed, scheduler, n_workers, bar, out)
    finally:
        bar.close()
    wanted = {r.key for r in runs}
    out.results = [done[r.key] for r in order if r.key in wanted and done[r.key] is not None]
    out.failed = list(failed.values())
    return out


def local_cluster(n_workers: int) -> Any:
    """The sweep's ``distributed.LocalCluster``: ``n_workers`` processes of one thread, any free dashboard port,
    workers started with :data:`WORKER_CONFIG`.

    Raises
    ------
    RuntimeError
        If a worker process cannot start.
    """
    from distributed import LocalCluster  # here: importing distributed takes a second

    with dask.config.set(WORKER_CONFIG):
        return LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: two sweeps on one machine do not collide
        )


def _run_on_dask(pending, root, done, failed, scheduler, n_workers, bar, out) -> None:
    from distributed import Client, as_completed  # here: importing distributed takes a second

    cluster = None
    if scheduler is None:
        cluster = local_cluster(int(n_workers or default_workers()))
        client = Client(cluster)
    else:
        client = Client(scheduler)
    try:
        futures = {}
        for r in pending:
            deps = [futures[d.key] if d.key in futures else done[d.key] for d in r.needs]
            futures[r.key] = client.submit(
                _task, r, str(root), *deps, key=f"{r.key}-{uuid.uuid4().hex[:6]}", pure=False
            )
        by_future = {f.key: k for k, f in futures.items()}
        runs = {r.key: r for r in pending}
        for fut in as_completed(list(futures.values())):
            k = by_future[fut.key]
            try:
                done[k] = fut.result()
                out.n_executed += 1
            except Exception as exc:
                r = runs[k]
                # The result folder is the truth: a run can finish and be written while fetching its result
                # fails (its worker died holding the result, a lost connection); then read it from disk.
                done[k] = load_run(run_folder(root, r))
                if done[k] is not None:
                    out.n_executed += 1
                    bar.set_postfix_str(k[:40])
                    bar.update(1)
                    continue
                err = error_text(exc)
                if any(d.key in failed for d in r.needs):
                    err = f"not run: a run it needs failed ({err})"
                failed[k] = {"run": r.name, "error": err}
            bar.set_postfix_str(k[:40])
            bar.update(1)
    finally:
        client.close()
        if cluster is not None:
            _close_quietly(cluster)


def _close_quietly(cluster: Any) -> None:
    """Close a local cluster without the nanny's "still alive after 4.0 seconds, killing" warning.

    A worker that holds torch and its thread pools can take longer than the nanny's grace period to exit; the
    nanny then kills it, which is what closing means here. Every result is already on disk, so that warning
    (otherwise the last line a user reads) says nothing; other warnings still show.
    """
    nanny = logging.getLogger("distributed.nanny")
    level = nanny.level
    nanny.setLevel(logging.ERROR)
    try:
        cluster.close()
    finally:
        nanny.setLevel(level)
