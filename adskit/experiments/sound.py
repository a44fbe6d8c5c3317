"""The sound experiment of the batch-uniformization paper (Koizumi et al., WASPAA 2019, §4.2; spec §1.5).

RE, SNP and BU autoencoders (FCN40 / FCN64 x large / small) are trained on normal machine sounds with the
paper's mini-batches (:class:`adskit.audio.batches.PaperBatchBuilder`: ten random 3-s normal segments, one
something-else sound mixed in at a random ANR; its frames are the simulated anomalies of SNP and BU). They
are tested on held-out normal clips and on the same clips with anomalous sounds mixed in at each test ANR
(-10, -15, -20 dB), at clip level (max over frames, the paper's rule eq 11; mean, the DCASE rule) and at
frame level, with AUC and pAUC (FPR <= 0.1).

Data (:mod:`adskit.experiments.sound_data`): the embedded synthetic machines by default, or user folders of
normal clips, something-else sounds and anomalous sounds (or labelled test files). Every user file is checked
before training (readable, finite, not silent, long enough: a normal clip holds one training segment, a test file
one context window; a "normal" clip whose name says anomalous or test, a test file whose name carries no label);
a file that fails is reported with its reason (``bad_files``) and left out; it does not stop the run.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from .._utils import check_positive, file_edges_sha256, resolve_device, save_figure, settings_hash
from ..audio.features import FeatureConfig, log_mel_batch
from ..audio.synth import ensure_synthetic
from ..detectors import AEDetector
from ..plots import plot_rare_normal
from ..scores import score_clips
from ..threshold import NeymanPearsonThreshold
from .fingerprints import data_fingerprints
from .runs import Comparison, Experiment, Run, detector_param_names, make_records, register, split_overrides
from .sound_data import (
    TestClip,
    anr_keys,
    build_test_set,
    calibration_vectors,
    check_folders,
    evaluate_clips,
    keep_example,
    load_example,
    paper_batches,
    prepare_sound_data,
    save_example,
)

__all__ = [
    "SoundConfig",
    "SoundResult",
    "TestClip",
    "build_test_set",
    "execute_sound",
    "plan_sound",
    "plot_auc_bars",
    "plot_rare_normal",
    "run_sound",
    "sound_figures",
]

COSTS = ("re", "snp", "bu")
#: the experiment's own detector choices (quick); every other detector parameter keeps AEDetector's default
QUICK_DETECTOR = {"n_updates": 1500, "c_factor": 1.0, "rho": 0.01}
MODELS = ("fcn40-large", "fcn40-small", "fcn64-large", "fcn64-small")
_NAMES = {"re": "RE", "snp": "SNP", "bu": "BU"}


@dataclass
class SoundConfig:
    """Settings of the sound experiment. Every value the paper lost is marked as ours.

    Data
    ----
    data_dir : synthetic data folder (None: ``ensure_synthetic(synthetic_preset, seed)``)
    machines : synthetic machines to run, each separately
    normal_dir, something_else_dir, anomalies_dir, test_dir : user folders (see the module docstring)
    test_fraction : share of the normal clips held out for testing (user folders without ``test_dir``)
    anr_db : test ANRs in dB (the paper: -10, -15, -20)
    mixes_per_clip : anomalous test clips made from each held-out normal clip at each ANR (ours: 3), with the
        same (clip, anomaly, position) draws at every ANR so that only the ANR changes

    Models and training
    -------------------
    models : AE presets of :meth:`AEDetector.preset`
    costs : "re", "snp", "bu"
    detector : keyword arguments of :meth:`AEDetector.preset` passed through to every detector (its defaults are
        the detector's and the preset's: AMSGrad 1e-3, h = the median heuristic, eps 1e-6). The experiment's own
        choices (:data:`QUICK_DETECTOR`): ``n_updates`` 1500 (quick; ``full``: the preset's 200 epochs x 500
        batches), ``c_factor`` 1 (why: see the end) and ``rho`` 0.01, the false-positive rate of the frame threshold
        phi_rho (fitted on normal training frames) used to say where a detector "fires". ``quick``/``full`` (and
        the CLI) accept these names directly: ``SoundConfig.quick(n_updates=300, h_factor=0.5)``.
    n_segments, segment_seconds : the paper's batch, 10 x 3 s
    train_anr : ANR range of the something-else sounds in training (lost; ours U(-20, -10) dB, the test range)
    C : the clip of SNP/BU. ``"re-max"`` (default, spec §1.5): c_factor x the maximum score of the
        RE detector (trained first, same batches and start) on normal training frames, "the tendency of the
        maximum value of A of normal training samples" (paper §4.1.1), fixed during training. ``"auto"``: the
        detector's own rule (c_factor x the normal scores' running maximum during an RE warm-up of 10 % of
        the updates, then frozen; see ``AEDetector``). A number: fixed.
    max_fpr : pAUC range

    Why the quick defaults are 1500 updates and ``c_factor=1`` (a sweep, with its numbers): README.md, "What did not
    reproduce", sound experiment.
    """

    data_dir: str | None = None
    synthetic_preset: str = "fast"
    machines: tuple[str, ...] = ("fan",)
    normal_dir: str | None = None
    something_else_dir: str | None = None
    anomalies_dir: str | None = None
    test_dir: str | None = None
    test_fraction: float = 0.25
    anr_db: tuple[float, ...] = (-10.0, -15.0, -20.0)
    mixes_per_clip: int = 3
    models: tuple[str, ...] = ("fcn40-small", "fcn64-small")
    costs: tuple[str, ...] = COSTS
    detector: dict = field(default_factory=lambda: dict(QUICK_DETECTOR))
    n_segments: int = 4
    segment_seconds: float = 3.0
    train_anr: tuple[float, float] = (-20.0, -10.0)
    C: float | str = "re-max"
    max_fpr: float = 0.1
    n_calibration_clips: int = 20
    save_models: bool = True
    seed: int = 0
    device: str = "auto"

    DETECTOR: ClassVar[type] = AEDetector  # the estimator ``detector`` configures

    @classmethod
    def quick(cls, **kw: Any) -> SoundConfig:
        """CPU minutes: one synthetic machine (fan), FCN40-small and FCN64-small, 1500 updates of 4 x 3 s.

        Detector parameter names (``n_updates``, ``h_factor``, ``lr``, ...) go into ``detector``.

        Raises
        ------
        ValueError
            If a name is neither a setting nor an :class:`AEDetector` parameter.
        """
        return cls(**split_overrides(cls, AEDetector, kw, QUICK_DETECTOR))

    @classmethod
    def full(cls, **kw: Any) -> SoundConfig:
        """The paper's settings (GPU): all four AEs, 200 epochs x 500 batches of 10 x 3 s, every machine."""
        base = {
            "synthetic_preset": "full",
            "machines": ("fan", "pump", "gearbox", "conveyor"),
            "models": MODELS,
            "n_segments": 10,
        }
        det = {k: v for k, v in QUICK_DETECTOR.items() if k != "n_updates"}  # the preset's schedule
        return cls(**split_overrides(cls, AEDetector, {**base, **kw}, det))

    def _param(self, name: str) -> Any:
        """A detector parameter as the experiment uses it: from ``detector``, else AEDetector's default."""
        if name in self.detector:
            return self.detector[name]
        return inspect.signature(AEDetector.__init__).parameters[name].default

    @property
    def n_updates(self) -> int | None:
        """Updates per detector (None: the preset's schedule)."""
        return self._param("n_updates")

    @property
    def rho(self) -> float:
        """False-positive rate of the frame threshold phi_rho (where a detector "fires")."""
        return float(self._param("rho"))

    @property
    def user_data(self) -> bool:
        return self.normal_dir is not None

    def validate(self) -> SoundConfig:
        """Check every setting (and which user folders go together) and return self.

        Raises
        ------
        ValueError
            Naming the first setting that is out of range or inconsistent.
        """
        bad = sorted(set(self.detector) - detector_param_names(AEDetector))
        if bad:
            raise ValueError(f"detector: {bad} are not parameters of AEDetector")
        for name in ("lr", "h_factor", "c_factor", "rho"):
            check_positive(self._param(name), name)
        check_positive(self._param("eps"), "eps", strict=False)
        for name in ("segment_seconds", "max_fpr"):
            check_positive(getattr(self, name), name)
        if not (isinstance(self.C, str) and self.C in ("re-max", "auto")):
            check_positive(self.C, "C")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction: expected a number in (0, 1), got {self.test_fraction!r}")
        bad = [m for m in self.models if m not in MODELS and m != "dcase2020"]
        if bad or not self.models:
            raise ValueError(f"models: expected some of {MODELS}, got {list(self.models)}")
        bad = [c for c in self.costs if c not in COSTS]
        if bad or not self.costs:
            raise ValueError(f"costs: expected some of {COSTS}, got {list(self.costs)}")
        if self.n_updates is not None and int(self.n_updates) < 1:
            raise ValueError(f"n_updates: expected a positive integer or None, got {self.n_updates!r}")
        if int(self.n_segments) < 1 or int(self.mixes_per_clip) < 1:
            raise ValueError("n_segments/mixes_per_clip: expected positive integers")
        if not self.anr_db:
            raise ValueError("anr_db: expected at least one test ANR")
        need_se = any(c != "re" for c in self.costs)
        check_folders(self.normal_dir, self.something_else_dir, self.anomalies_dir, self.test_dir, need_se)
        return self


@dataclass
class SoundResult:
    """What :func:`run_sound` returns.

    ``metrics[machine][model][cost][anr]`` holds ``clip_auc`` (max rule), ``clip_pauc``, ``clip_auc_mean``,
    ``clip_pauc_mean``, ``frame_auc`` and ``frame_pauc`` (NaN without frame labels); ``anr`` is a string
    such as ``"-10"`` or ``"test"``. ``rare[machine][model][cost]`` says how a detector treats the rare-normal
    process of the normal test clips: ``fire_rare`` / ``fire_steady`` (fraction of frames above phi_rho)
    and ``auc_rare_vs_steady`` (0.5 = the rare process looks as normal as the steady one).
    """

    metrics: dict
    rare: dict
    config: dict
    timings: dict
    bad_files: list[dict]
    data: dict
    seconds: float = 0.0
    example: dict = field(default_factory=dict, repr=False)  # the rare-normal clip for the figure
    re_max: dict = field(default_factory=dict)  # "machine/model" -> RE's maximum normal calibration score

    def table_markdown(self, key: str = "clip_auc") -> str:
        """One row per (machine, model, cost), one column per ANR."""
        anrs = anr_keys(self.metrics)
        lines = ["| machine | model | cost | " + " | ".join(f"{a} dB" if a != "test" else a for a in anrs) + " |"]
        lines.append("|---|---|---|" + "---|" * len(anrs))
        for mach, by_model in self.metrics.items():
            for model, by_cost in by_model.items():
                for cost, by_anr in by_cost.items():
                    vals = " | ".join(f"{by_anr[a][key]:.3f}" for a in anrs)
                    lines.append(f"| {mach} | {model} | {_NAMES[cost]} | {vals} |")
        return "\n".join(lines)

    def pattern(self) -> dict[str, bool]:
        """The paper's claims on our numbers: BU >= SNP > RE in clip AUC at every (machine, model, ANR)."""
        out: dict[str, bool] = {}
        checks_bu, checks_snp, checks_rare = [], [], []
        for by_model in self.metrics.values():
            for by_cost in by_model.values():
                if not all(c in by_cost for c in COSTS):
                    continue
                for a in by_cost["re"]:
                    re_, snp, bu = (by_cost[c][a]["clip_auc"] for c in COSTS)
                    checks_bu.append(bu >= snp)
                    checks_snp.append(snp > re_)
        for by_model in self.rare.values():
            for r in by_model.values():
                if "re" in r and "bu" in r and np.isfinite(r["re"]["fire_rare"]):
                    checks_rare.append(r["bu"]["fire_rare"] < r["re"]["fire_rare"])
        if checks_bu:
            out["clip AUC: BU >= SNP everywhere"] = all(checks_bu)
            out["clip AUC: SNP > RE everywhere"] = all(checks_snp)
        if checks_rare:
            out["rare-normal: RE fires more than BU"] = all(checks_rare)
        return out


# ------------------------------------------------------------------------------------------- one run


_DATA_FIELDS = ("normal_dir", "something_else_dir", "anomalies_dir", "test_dir", "test_fraction", "anr_db")


def _machine_data(cfg: SoundConfig, machine: str | None, progress: bool) -> dict[str, Any]:
    """:func:`~adskit.experiments.sound_data.prepare_sound_data` with the config's folders and test settings.

    User files are checked against the feature configuration of every model of ``cfg`` and normal clips against
    one training segment (``segment_seconds``), before any training.
    """
    root = None
    if not cfg.user_data:
        root = Path(cfg.data_dir) if cfg.data_dir else ensure_synthetic(cfg.synthetic_preset, cfg.seed, progress)
    return prepare_sound_data(
        root=root,
        machine=machine,
        mixes_per_clip=cfg.mixes_per_clip,
        seed=cfg.seed,
        need_something_else=any(c != "re" for c in cfg.costs),
        feature_configs=[FeatureConfig(**_detector(cfg, m, "re", False).feature_config) for m in cfg.models],
        min_normal_seconds=cfg.segment_seconds,  # a normal clip must hold one training segment
        **{k: getattr(cfg, k) for k in _DATA_FIELDS},
    )


def _detector(cfg: SoundConfig, model: str, cost: str, progress: bool, c_re: float | None = None) -> AEDetector:
    """The detector of one (model, cost): the preset with ``cfg.detector`` passed through, and the clip C."""
    kw: dict[str, Any] = {
        **cfg.detector,
        "random_state": cfg.seed,  # same seed: RE, SNP and BU start from the same parameters
        "device": cfg.device,
        "progress": progress,
    }
    det = AEDetector.preset(model, cost=cost, **kw)
    if cfg.C == "re-max":
        det.set_params(C=float(det.c_factor) * c_re if c_re is not None else "auto")
    else:
        det.set_params(C=cfg.C)
    return det


def _train(
    cfg: SoundConfig, det: AEDetector, prep: dict, fcfg: FeatureConfig, calib: np.ndarray, ckdir: Path | None, name: str
) -> None:
    """Train ``det`` on the paper's batches of the machine's training clips (the same batches for every cost).

    With ``save_models`` and a checkpoint folder ``ckdir``, it checkpoints to ``ckdir/<name>-<hash>.pt`` and
    resumes from there. The hash covers the detector's settings and the files it trains on (path, size and
    :func:`adskit._utils.file_edges_sha256` of every training and something-else file), so a folder reused for
    other data or settings starts a new checkpoint instead of resuming another's.
    """
    ckpt = None
    if cfg.save_models and ckdir is not None:
        files = [(str(p), os.path.getsize(p), file_edges_sha256(p)) for p in [*prep["train"], *prep["something_else"]]]
        ckpt = Path(ckdir) / f"{name}-{settings_hash({'settings': det.settings(), 'data': files}, 8)}.pt"
    builder = paper_batches(  # same seed: the three costs see the same batches
        prep["train"],
        prep["something_else"],
        fcfg,
        segment_seconds=cfg.segment_seconds,
        n_segments=cfg.n_segments,
        anr_range=cfg.train_anr,
        device=str(resolve_device(cfg.device)),
        seed=cfg.seed,
    )
    # RE drops the something-else frames of each batch (fit_batches ignores X_anomalous for RE)
    det.fit_batches(
        builder,
        calibration=calib,
        checkpoint=ckpt,
        checkpoint_every=max(1, det.planned_updates() // 4) if ckpt else None,
        resume=ckpt is not None,
        n_stat_batches=4,
    )


def run_sound(
    config: SoundConfig | None = None,
    progress: bool = True,
    re_max: float | None = None,
    checkpoint_dir: str | Path | None = None,
) -> SoundResult:
    """Train every (model, cost) on each machine and evaluate at each test ANR.

    Same config (seed included) -> same numbers. The sweep (``adskit sound``) runs one (seed, machine, model,
    cost) per call through :func:`execute_sound` and writes the result folders and the report.

    Parameters
    ----------
    config : SoundConfig, optional
        Default: ``SoundConfig()`` (the quick settings).
    progress : bool
        Progress bars.
    re_max : float, optional
        With ``C="re-max"`` and no "re" in ``config.costs``: the RE detector's maximum score on the normal
        calibration frames, from an RE run of the same seed, machine and model (how the sweep runs SNP and
        BU as runs of their own). Without it, such a run falls back to ``C="auto"``.
    checkpoint_dir : path, optional
        With ``save_models``, one checkpoint per detector goes here (an interrupted run resumes from them);
        None: no checkpoints.

    Returns
    -------
    SoundResult

    Raises
    ------
    ValueError
        On an invalid config or unusable data folders (the message names the field or folder).
    """
    cfg = (config or SoundConfig()).validate()
    t_start = time.perf_counter()
    dev = str(resolve_device(cfg.device))
    machines = [None] if cfg.user_data else list(cfg.machines)
    metrics, rare, timings, data, example = {}, {}, {}, {}, {}
    bad: list[dict] = []
    re_maxima: dict[str, float] = {}
    for machine in machines:
        mkey = machine or "user"
        t0 = time.perf_counter()
        prep = _machine_data(cfg, machine, progress)
        bad += prep["bad"]
        data[mkey] = {k: prep[k] for k in ("source", "n_train", "n_test_normal", "n_test_anomalous")}
        data[mkey]["n_something_else"] = len(prep["something_else"])
        timings[f"{mkey}/data"] = time.perf_counter() - t0
        tests = prep["tests"]
        calib_paths = prep["train"][: cfg.n_calibration_clips]
        for model in cfg.models:
            fcfg = FeatureConfig(**_detector(cfg, model, "re", False).feature_config)
            t0 = time.perf_counter()
            specs = log_mel_batch([t.wave for t in tests], cfg=fcfg, device=dev)
            calib = calibration_vectors(calib_paths, fcfg, dev)
            timings[f"{mkey}/{model}/features"] = time.perf_counter() - t0
            c_re = None if "re" in cfg.costs else re_max
            for cost in sorted(cfg.costs, key=COSTS.index):  # RE first: its maximum sets C ("re-max")
                det = _detector(cfg, model, cost, progress, c_re)
                t0 = time.perf_counter()
                _train(cfg, det, prep, fcfg, calib, checkpoint_dir, f"{mkey}-{model}-{cost}")
                timings[f"{mkey}/{model}/{cost}/train"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                _, frames = score_clips(det, specs, "max", return_frames=True)
                calib_scores = det.anomaly_score(calib)
                if cost == "re":
                    c_re = float(calib_scores.max())
                    re_maxima[f"{mkey}/{model}"] = c_re
                phi = NeymanPearsonThreshold(cfg.rho).fit(calib_scores).threshold_
                m, r = evaluate_clips(tests, frames, fcfg, phi, cfg.max_fpr)
                timings[f"{mkey}/{model}/{cost}/score"] = time.perf_counter() - t0
                timings[f"{mkey}/{model}/{cost}/frames_per_s"] = det.frames_seen_ / max(det.fit_seconds_, 1e-9)
                metrics.setdefault(mkey, {}).setdefault(model, {})[cost] = m
                rare.setdefault(mkey, {}).setdefault(model, {})[cost] = r
                if model == cfg.models[-1]:
                    keep_example(example, tests, specs, frames, fcfg, phi, mkey, model, cost)
    return SoundResult(
        metrics=metrics,
        rare=rare,
        config=asdict(cfg),
        timings=timings,
        bad_files=bad,
        data=data,
        seconds=time.perf_counter() - t_start,
        example=example,
        re_max=re_maxima,
    )


# ------------------------------------------------------------------------------------------------ figures


def plot_auc_bars(res: SoundResult | Mapping, key: str = "clip_auc", axes=None):
    """Grouped bars of ``key`` per model x ANR x cost, like the paper's Figure 4 (:func:`adskit.plots.plot_auc_bars`).

    ``res`` is a :class:`SoundResult` or its ``metrics`` mapping. Returns the Figure.
    """
    return plots.plot_auc_bars(res.metrics if isinstance(res, SoundResult) else res, key, axes=axes)


# ------------------------------------------------------------------------------------------ the shell's unit

#: the paper's claims as paired comparisons: clip AUC/pAUC BU >= SNP > RE; RE fires more on the rare process
COMPARISONS = (
    Comparison("BU", "RE", {"clip_auc": 1, "clip_pauc": 1, "fire_rare": -1}),
    Comparison("SNP", "RE", {"clip_auc": 1, "clip_pauc": 1}),
    Comparison("BU", "SNP", {"clip_auc": 1, "clip_pauc": 1}),
)


#: the user folders a sound run reads (their fingerprints key its result folder)
_USER_FOLDERS = ("normal_dir", "something_else_dir", "anomalies_dir", "test_dir")


def plan_sound(config: SoundConfig, seeds: Sequence[int], progress: bool = False) -> list[Run]:
    """One run per (seed, machine, model, cost).

    With ``C="re-max"`` the SNP and BU runs need the RE run of their seed, machine and model (its maximum
    normal score sets their C). On the synthetic default each seed has its own data set, made here (in the
    calling process) so that workers only read it. The data each run reads is fingerprinted here, once
    (:func:`adskit.experiments.fingerprints.data_fingerprints`: the user folders by their files, a synthetic
    data set by its manifest), and the fingerprints enter the run's folder name: a folder whose files changed
    gets a new result folder.

    Raises
    ------
    ValueError
        On an invalid config (:meth:`SoundConfig.validate`).
    FileNotFoundError
        If a data folder vanished since the config was checked.
    """
    cfg = config.validate()
    runs: list[Run] = []
    user = data_fingerprints({k: getattr(cfg, k) for k in _USER_FOLDERS}) if cfg.user_data else {}
    for seed in seeds:
        c = replace(cfg, seed=int(seed))
        if not c.user_data and c.data_dir is None:
            c = replace(c, data_dir=str(ensure_synthetic(c.synthetic_preset, int(seed), progress)))
        data = user or data_fingerprints({"data_dir": c.data_dir})
        for machine in [None] if c.user_data else list(c.machines):
            for model in c.models:
                first: Run | None = None
                for cost in sorted(c.costs, key=COSTS.index):
                    unit = replace(c, machines=(machine,) if machine else c.machines, models=(model,), costs=(cost,))
                    needs = (first,) if first is not None and c.C == "re-max" else ()
                    run = Run(
                        "sound",
                        unit,
                        {"machine": machine or "user", "model": model, "cost": _NAMES[cost], "seed": int(seed)},
                        needs,
                        data,
                    )
                    if cost == "re":
                        first = run
                    runs.append(run)
    return runs


_RECORDED = ("clip_auc", "clip_pauc", "clip_auc_mean", "clip_pauc_mean", "frame_auc")
_RECORDED_RARE = ("fire_rare", "fire_steady", "auc_rare_vs_steady")


def _records(run: Run, res: SoundResult) -> list[dict]:
    """One record per (ANR, metric) and per rare-normal metric of a one-machine result; non-finite values left out."""
    rows = []
    for by_model in res.metrics.values():
        for by_cost in by_model.values():
            for by_anr in by_cost.values():
                for anr, m in by_anr.items():
                    rows += [(f"{anr} dB" if anr != "test" else anr, k, m[k]) for k in _RECORDED]
    for by_model in res.rare.values():
        for by_cost in by_model.values():
            for r in by_cost.values():
                rows += [("rare-normal", k, r[k]) for k in _RECORDED_RARE]
    return [r for r in make_records(run, rows) if r["value"] is not None and np.isfinite(r["value"])]


def execute_sound(run: Run, folder: Path, needs: Mapping[str, dict], progress: bool) -> dict:
    """Train and evaluate one (seed, machine, model, cost); records per ANR and for the rare-normal frames."""
    cfg: SoundConfig = run.config
    re_max = next((float(r["re_max"]) for r in needs.values() if r.get("re_max") is not None), None)
    res = run_sound(cfg, progress=progress, re_max=re_max, checkpoint_dir=folder / "models")
    return {
        "records": _records(run, res),
        "re_max": next(iter(res.re_max.values()), None),
        "metrics": res.metrics,
        "rare": res.rare,
        "bad_files": res.bad_files,
        "data": res.data,
        "timings": res.timings,
        "example": save_example(res.example, folder),
    }


def sound_figures(results: list[dict], out: Path) -> dict[str, Path]:
    """The rare-normal figure (a clip's scores over time, per cost) of the lowest seed's last model."""
    ex = load_example(results, [_NAMES[c] for c in COSTS])
    if ex is None:
        return {}
    fig = plot_rare_normal(ex)
    path = save_figure(fig, out / "sound_rare.png", dpi=100)
    plt.close(fig)
    return {"sound_rare": path}


EXPERIMENT = register(
    Experiment(name="sound", plan=plan_sound, execute=execute_sound, comparisons=COMPARISONS, figures=sound_figures)
)
