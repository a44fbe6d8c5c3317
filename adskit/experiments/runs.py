"""One run = one config -> one result folder, written atomically (the unit every sweep schedules).

An experiment (:mod:`~adskit.experiments.verification`, :mod:`~adskit.experiments.sound`,
:mod:`~adskit.experiments.neyman_pearson`) describes itself with an :class:`Experiment`: how its config splits
into independent :class:`Run` s (one per seed, machine, model and cost), how one run is executed, and which of
its numbers the paper compares. Every run writes its result into its own folder::

    ROOT/runs/<experiment>/<name>-<hash>/run.json     records + config + timings (complete, or absent)

The folder is first written as ``.<name>-<hash>.partial/`` and renamed when ``run.json`` is in it, so a folder
without the dot is always complete; an interrupted run leaves only the partial folder, which the next attempt
takes over (a training checkpoint inside it lets the run resume). ``<hash>`` covers every setting of the run
except the device and progress bars, and the fingerprints of the data it reads (``Run.data``, made by the plan
functions with :mod:`adskit.experiments.fingerprints`), so a folder is never reused for other settings, other
data folders, or a data folder whose files changed: such a run trains anew in a new folder, and the old one is
kept (:func:`data_changes` says why).

A record is one number: ``{"experiment", "machine", "model", "cost", "condition", "metric", "value", "seed"}``;
:mod:`adskit.experiments.report` aggregates records over seeds.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import shutil
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._utils import atomic_write_json, seed_everything, settings_hash, to_jsonable
from .fingerprints import describe, fingerprint_changed

__all__ = [
    "RECORD_FIELDS",
    "Comparison",
    "Experiment",
    "Run",
    "config_hash",
    "data_changes",
    "detector_param_names",
    "split_overrides",
    "execute_run",
    "get_experiment",
    "list_experiments",
    "load_run",
    "make_records",
    "register",
    "run_folder",
]

RECORD_FIELDS = ("experiment", "machine", "model", "cost", "condition", "metric", "value", "seed")
#: settings that do not change a run's numbers, left out of its folder hash
_NOT_HASHED = frozenset({"device", "progress"})


#: detector parameters an experiment sets itself (per run), never taken from a config's ``detector`` mapping
EXPERIMENT_OWNED = frozenset({"cost", "extractor", "random_state", "device", "progress"})


def detector_param_names(detector_cls: type) -> frozenset[str]:
    """Keyword arguments of a detector's ``__init__`` that a config may pass through (scikit-learn's params)."""
    sig = inspect.signature(detector_cls.__init__)
    return frozenset(n for n in sig.parameters if n != "self") - EXPERIMENT_OWNED


def split_overrides(
    config_cls: type, detector_cls: type, overrides: Mapping[str, Any], detector_base: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``config_cls``: config fields stay, detector parameters go into ``detector``.

    A name that is a field of the config stays there even when the detector has a parameter of that name; a
    ``detector`` mapping in ``overrides`` is merged over ``detector_base``, then single detector names on top.

    Raises
    ------
    ValueError
        If a name is neither a config field nor a parameter of ``detector_cls`` (the message lists both).
    """
    fields = {f.name for f in dataclasses.fields(config_cls)}
    params = detector_param_names(detector_cls)
    kw: dict[str, Any] = {}
    det = dict(detector_base or {})
    det.update(overrides.get("detector") or {})
    for k, v in overrides.items():
        if k == "detector":
            continue
        if k in fields:
            kw[k] = v
        elif k in params:
            det[k] = v
        else:
            raise ValueError(
                f"{k}: not a setting of {config_cls.__name__} ({sorted(fields - {'detector'})}) nor a parameter "
                f"of {detector_cls.__name__} ({sorted(params)})"
            )
    bad = sorted(set(det) - params)
    if bad:
        raise ValueError(f"detector: {bad} are not parameters of {detector_cls.__name__} ({sorted(params)})")
    kw["detector"] = det
    return kw


#: the entry of a hashed config that holds the data fingerprints (a name no config field has)
_DATA_KEY = "_data_sha256"


def config_hash(config: Any, n: int = 10, data: Mapping[str, Mapping] | None = None) -> str:
    """SHA-256 (first ``n`` hex digits) of a config's JSON, without the device and progress settings.

    Parameters
    ----------
    config : dataclass instance or dict
        A run's config (or its JSON form, as stored in ``run.json``: both give the same hash).
    n : int
        Hex digits kept.
    data : mapping of setting name -> fingerprint dict, optional
        The fingerprints of the data the run reads (``Run.data``); their ``sha256`` enter the hash. None or
        empty: the hash of the settings alone (runs that read no data folder keep the keys they always had).
    """
    d = to_jsonable(config)
    if isinstance(d, dict):
        d = {k: v for k, v in d.items() if k not in _NOT_HASHED}
        if data:
            d[_DATA_KEY] = {name: fp["sha256"] for name, fp in sorted(data.items())}
    return settings_hash(d, n)


@dataclass(frozen=True)
class Run:
    """One independent training + evaluation.

    Attributes
    ----------
    experiment : str
        Registered experiment name ("verify", "sound", "np").
    config : object
        The experiment's config narrowed to this run (one seed, machine, model, cost); picklable.
    labels : dict
        ``machine``, ``model``, ``cost``, ``seed`` of the run (strings, and an int seed).
    needs : tuple of Run
        Runs whose results this one reads (e.g. SNP and BU read the clip C from the RE run of their seed).
    data : dict of setting name -> fingerprint dict
        Fingerprints of the data folders the run reads, by the setting that names each (``"normal_dir"``,
        ``"data_dir"``, ...; :func:`adskit.experiments.fingerprints.data_fingerprints`), computed once by the
        plan function; they enter :attr:`key`. Empty for runs that read no data folder.
    """

    experiment: str
    config: Any = field(compare=False)
    labels: dict = field(compare=False)
    needs: tuple = field(default=(), compare=False)
    data: dict = field(default_factory=dict, compare=False)

    @property
    def key(self) -> str:
        """Folder name: ``<machine>-<model>-<cost>-seed<k>-<hash>`` (file-name safe; the hash covers the settings
        and the data fingerprints)."""
        lab = self.labels
        digest = config_hash(self.config, data=self.data)
        name = f"{lab['machine']}-{lab['model']}-{lab['cost']}-seed{lab['seed']}-{digest}"
        return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)

    @property
    def name(self) -> str:
        """Human-readable name for progress and error messages."""
        return f"{self.experiment}/{self.key}"


@dataclass(frozen=True)
class Comparison:
    """A claim of the paper: ``a`` beats ``b`` on each metric, in the direction given (+1 higher, -1 lower)."""

    a: str
    b: str
    metrics: Mapping[str, int]


@dataclass(frozen=True)
class Experiment:
    """How one paper experiment plugs into the shell.

    Attributes
    ----------
    name : str
    plan : callable (config, seeds) -> list of Run
        Splits a config into independent runs (prerequisites first).
    execute : callable (run, folder, needs, progress) -> dict
        Trains and evaluates one run inside ``folder`` (which exists); ``needs`` maps each needed run's key to
        its result. Returns a JSON-able dict with at least ``records`` (list of record dicts).
    comparisons : tuple of Comparison
    prepare : callable (config, seeds, progress) -> config, optional
        Runs once in the client before planning (e.g. makes the synthetic data, so workers only read it);
        returns the config to plan from.
    figures : callable (results, out_dir) -> dict of name -> Path, optional
        Experiment-specific figures drawn by the report from the run results (e.g. Figure 2 of the first seed).
    report : callable (summary, results, out_dir) -> dict of name -> Path, optional
        Experiment-specific files written beside ``summary.json`` (e.g. the rare-normal experiment's ``rare.json``,
        ``rare.md`` and its figures); PNG files among them are shown in ``summary.md``.
    """

    name: str
    plan: Callable[[Any, Sequence[int]], list[Run]]
    execute: Callable[[Run, Path, Mapping[str, dict], bool], dict]
    comparisons: tuple[Comparison, ...] = ()
    prepare: Callable[[Any, Sequence[int], bool], Any] | None = None
    figures: Callable[[list[dict], Path], dict[str, Path]] | None = None
    report: Callable[[dict, list[dict], Path], dict[str, Path]] | None = None


_REGISTRY: dict[str, Experiment] = {}


def register(exp: Experiment) -> Experiment:
    """Add an experiment to the registry (by its name) and return it."""
    _REGISTRY[exp.name] = exp
    return exp


def _load_builtins() -> None:
    # function-local: each experiment module imports this one (to register itself), so a top-level import
    # would be an import circle
    from . import neyman_pearson, rare, sound, verification  # noqa: F401


def get_experiment(name: str) -> Experiment:
    """The registered experiment called ``name``.

    Raises
    ------
    ValueError
        If no experiment has that name.
    """
    _load_builtins()
    if name not in _REGISTRY:
        raise ValueError(f"experiment: expected one of {sorted(_REGISTRY)}, got {name!r}")
    return _REGISTRY[name]


def list_experiments() -> list[str]:
    """Names of the registered experiments."""
    _load_builtins()
    return sorted(_REGISTRY)


def run_folder(root: str | os.PathLike, run: Run) -> Path:
    """The complete-result folder of ``run`` under ``root`` (``root/runs/<experiment>/<key>``)."""
    return Path(root) / "runs" / run.experiment / run.key


def load_run(folder: str | os.PathLike) -> dict | None:
    """The result in ``folder/run.json``, or None when the folder holds no complete result."""
    p = Path(folder) / "run.json"
    if not p.is_file():
        return None
    try:
        res = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    res["_folder"] = str(Path(folder))  # where it is now (not stored: a result folder may move)
    return res


def execute_run(run: Run, root: str | os.PathLike, needs: Mapping[str, dict] | None = None, progress: bool = False):
    """Execute ``run`` into its folder under ``root`` unless a complete result is already there.

    The work happens in ``.<key>.partial/`` (kept across attempts, so checkpoints inside it let a killed run
    resume), and the folder is renamed to ``<key>`` once ``run.json`` is written: a folder without the dot is
    always complete. Seeds the global generators with the run's seed first.

    Parameters
    ----------
    run : Run
    root : path
        Sweep folder (``root/runs/<experiment>/...``).
    needs : mapping of run key -> result, optional
        Results of ``run.needs`` (read from disk when missing).
    progress : bool
        Progress bars inside the run.

    Returns
    -------
    dict
        The run's result (``records``, ``config``, ``labels``, ``seconds``, ...), also in ``run.json``.

    Raises
    ------
    RuntimeError
        If a needed run has no complete result.
    ValueError
        If a data folder of the run changed after it was planned (its files, sizes or modification times
        differ from ``run.data``): the run would train on data its folder name does not describe.
    Exception
        Whatever the experiment raises; the partial folder is kept for inspection and resumption.
    """
    final = run_folder(root, run)
    done = load_run(final)
    if done is not None:
        return done
    changed = fingerprint_changed(run.data)
    if changed:
        raise ValueError(
            f"{run.name}: data changed after the run was planned ({'; '.join(changed)}); run the command again "
            "to train on the new data in a new folder"
        )
    exp = get_experiment(run.experiment)
    got: dict[str, dict] = dict(needs or {})
    for dep in run.needs:
        if dep.key not in got:
            res = load_run(run_folder(root, dep))
            if res is None:
                raise RuntimeError(f"{run.name}: needs the result of {dep.name}, which is not complete")
            got[dep.key] = res
    partial = final.parent / f".{final.name}.partial"
    partial.mkdir(parents=True, exist_ok=True)
    for junk in partial.rglob(".*.tmp"):  # a write cut short by a killed attempt (checkpoints are kept)
        junk.unlink(missing_ok=True)
    # what this folder is for, readable while it is partial (data_changes compares later runs with it)
    atomic_write_json(partial / PLAN_FILE, _identity(run))
    seed_everything(int(run.labels["seed"]))
    t0 = time.perf_counter()
    result = dict(exp.execute(run, partial, got, progress))
    result.update(
        _identity(run),
        seconds=time.perf_counter() - t0,
        finished=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    result = to_jsonable(result)
    atomic_write_json(partial / "run.json", result)
    try:
        os.replace(partial, final)
    except OSError:  # another attempt finished first: keep its folder, drop ours
        if load_run(final) is None:
            raise
        shutil.rmtree(partial, ignore_errors=True)
        return load_run(final)
    return {**result, "_folder": str(final)}


#: the file in a partial folder that says which run it belongs to (labels, config, data fingerprints)
PLAN_FILE = "plan.json"


def _identity(run: Run) -> dict:
    """What identifies a run in its folder: experiment, key, labels, config and data fingerprints (JSON)."""
    return {
        "experiment": run.experiment,
        "key": run.key,
        "labels": to_jsonable(run.labels),
        "config": to_jsonable(run.config),
        "data_fingerprints": to_jsonable(run.data),
    }


def _earlier(folder: Path) -> tuple[dict, bool] | None:
    """The identity stored in a run folder (complete: ``run.json``; partial: ``plan.json``), and whether partial."""
    partial = folder.name.endswith(".partial")
    p = folder / (PLAN_FILE if partial else "run.json")
    try:
        d = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return (d, partial) if isinstance(d, dict) and "config" in d and "labels" in d else None


def data_changes(root: str | os.PathLike, runs: Sequence[Run]) -> list[str]:
    """Why runs are about to train anew although a folder of the same settings exists: their data changed.

    For each run without a complete folder under ``root``, every other folder of its experiment (complete, or
    partial: an interrupted run) with the same labels and the same settings but other data fingerprints gives
    one line per data folder that differs. The earlier folders are kept as they are.

    Parameters
    ----------
    root : path
        Sweep folder (``root/runs/<experiment>/...``).
    runs : sequence of Run

    Returns
    -------
    list of str
        E.g. ``"data in rec/normal (normal_dir: 6 files, 0.8 MB then, 7 files, 0.9 MB now) changed since run
        user-fcn40-small-RE-seed0-1a2b3c4d5e: training anew in user-fcn40-small-RE-seed0-6f7a8b9c0d; the old
        folder is kept"``.
    """
    lines: list[str] = []
    cache: dict[str, list[tuple[str, dict, bool]]] = {}
    for run in runs:
        if load_run(run_folder(root, run)) is not None:
            continue
        if run.experiment not in cache:
            base = Path(root) / "runs" / run.experiment
            found = [(f.name, _earlier(f)) for f in sorted(base.iterdir())] if base.is_dir() else []
            cache[run.experiment] = [(name, *e) for name, e in found if e is not None]
        labels, settings = to_jsonable(run.labels), config_hash(run.config)
        for name, old, partial in cache[run.experiment]:
            if old.get("key") == run.key or old["labels"] != labels or config_hash(old["config"]) != settings:
                continue
            what = f"the interrupted run {name}" if partial else f"run {name}"
            before = old.get("data_fingerprints")
            if not before and run.data:
                lines.append(
                    f"{what} records no fingerprint of its data (made before result folders were keyed by "
                    f"data): training anew in {run.key}; the old folder is kept"
                )
                continue
            for setting, fp in run.data.items():
                prev = (before or {}).get(setting)
                if prev is None or prev.get("sha256") != fp["sha256"]:
                    then = describe(prev) if prev else "not read"
                    how = f"{then} then, {describe(fp)} now"
                    if then == describe(fp):
                        how = f"{then}, other contents or modification times"
                    lines.append(
                        f"data in {fp['path']} ({setting}: {how}) changed since {what}: training anew in {run.key}; "
                        "the old folder is kept"
                    )
    return lines


def make_records(run: Run, rows: Iterable[tuple[str, str, Any]]) -> list[dict]:
    """The records of ``run``: one per ``(condition, metric, value)`` row, with the run's labels and experiment."""
    return [
        {**run.labels, "experiment": run.experiment, "condition": cond, "metric": metric, "value": value}
        for cond, metric, value in rows
    ]


def error_text(exc: BaseException) -> str:
    """One line naming the error, for reports (the full traceback goes to the run's ``error.txt``)."""
    return f"{type(exc).__name__}: {exc}"


def write_error(root: str | os.PathLike, run: Run, exc: BaseException) -> Path:
    """Keep the traceback of a failed run beside its partial folder."""
    final = run_folder(root, run)
    path = final.parent / f".{final.name}.error.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(traceback.format_exception(exc)), encoding="utf-8")
    return path
