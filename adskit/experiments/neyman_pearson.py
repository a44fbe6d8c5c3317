"""The EUSIPCO 2017 comparison (Table I, Fig. 3): AE+GMM, VAE+GMM and the Neyman-Pearson extractor (PROP).

Data (spec §2.4): normal sounds of one machine are D, sounds of other machine types are O, and test anomalies
of three kinds (sustained, time-varying, sudden) are mixed into held-out normal clips at SNR -10, -5, 0 and 5 dB.
On the embedded synthetic data (:func:`adskit.audio.ensure_synthetic`) D is one machine's training clips, O the
other machines' training clips, the test normals are that machine's normal test clips and the anomalies are the
isolated sources in ``anomaly_sources/``. A folder of real recordings goes through the same path
(``normal_dir``, ``other_dir``, ``anomalies_dir``; or ``test_dir`` of DCASE-named labelled clips).

Evaluation unit: the context vector (64 mel x 21 frames). A mixture contributes its vectors whose centre frame
overlaps the inserted anomaly (:func:`adskit.audio.frame_labels`) as positives; its other vectors are left
out (their context half-overlaps the anomaly); every vector of the held-out normal clips is a negative. For
each SNR we report precision, recall and F1 at the paper's rule (the oracle threshold maximising
mean(P, R, F1), :class:`adskit.threshold.MaxMeanPRFThreshold`) and at two phi_rho, the AUC and the ROC:

* **calibrated phi_rho** (the default, deployed threshold): :class:`adskit.threshold.NeymanPearsonThreshold`
  fitted on the vectors of a held-out **calibration split** of the normal training clips (``calibration_fraction``
  of them, chosen by clip with a seeded shuffle, never seen by any detector). Neighbouring context vectors
  overlap in 20 of 21 frames, so the split is by clip, not by vector.
* **training phi_rho** (the paper's): the same order statistic on the in-sample scores of D, which are
  optimistically low, so its false-positive rate on new normal data exceeds rho.

For both, the realised false-positive rate on the held-out test normals is reported per vector (against rho,
with the Clopper-Pearson interval of :meth:`adskit.threshold.NeymanPearsonThreshold.check`, which treats
vectors as independent, and a clip-bootstrap interval, which does not) and per clip (a clip is a false alarm
if any of its vectors exceeds phi_rho; that rate is far above rho by construction, and is reported, not tested).
The threshold used inside Algorithm 1 is always the paper's training phi_rho.

The data (reading, the calibration split, mixing, context vectors) is in :mod:`adskit.experiments.np_data`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import matplotlib.pyplot as plt
import numpy as np

from .. import plots
from .._utils import check_positive, save_figure
from ..audio import FeatureConfig, ensure_synthetic
from ..detectors.neyman_pearson import NPDetector
from ..scores import clip_scores
from ..threshold import NeymanPearsonThreshold
from .fingerprints import data_fingerprints
from .np_data import NPData, clip_level_metrics, fpr_report, load_vectors, snr_metrics
from .runs import Comparison, Experiment, Run, detector_param_names, make_records, register, split_overrides

__all__ = [
    "METHODS",
    "PAPER_TABLE_I",
    "NPConfig",
    "NPData",
    "NPResult",
    "execute_np",
    "load_np_data",
    "np_figures",
    "plan_np",
    "plot_np_roc",
    "run_neyman_pearson",
]

METHODS = {"AE": "ae", "VAE": "vae", "PROP": "np"}
#: EUSIPCO 2017 Table I (spec §2.5): SNR -> method -> (precision, recall, F1); None where the text lost it
PAPER_TABLE_I: dict[int, dict[str, tuple[float | None, float | None, float]]] = {
    -10: {"AE": (0.62, 0.98, 0.76), "VAE": (0.51, 0.94, 0.67), "PROP": (0.76, 0.91, 0.82)},
    -5: {"AE": (0.94, 0.76, 0.84), "VAE": (0.52, 1.0, 0.68), "PROP": (0.84, 0.96, 0.90)},
    0: {"AE": (None, None, 0.91), "VAE": (None, None, 0.75), "PROP": (None, None, 0.93)},
    5: {"AE": (0.98, 0.91, 0.94), "VAE": (0.86, 0.84, 0.85), "PROP": (0.92, 1.0, 0.96)},
}


@dataclass
class NPConfig:
    """Settings of the comparison. Build with :meth:`quick` (CPU minutes) or :meth:`full` (the paper's).

    Paper values (spec §2.4): D = 32 features, 3 x 512 ReLU, dropout 0.2 / 0.5, L2 1e-5, batch K = 100,
    rho = 0.05, GMM with 16 diagonal components, 500 epochs, the GMM and phi_rho refreshed every step on all
    of D. Ours where the paper is silent: Adam lr 1e-3, one warm-started EM iteration per refresh, STFT
    512 / 256 ("np2017" feature preset), an epoch = one pass over D.

    Parameters
    ----------
    machine : str
        Target machine of the synthetic data (D); the other machine types are O.
    synthetic_preset : {"fast", "full"}
        Size of the generated synthetic data set.
    data_dir : str or None
        Root of a synthetic data set (a ``manifest.json``); None = :func:`adskit.audio.ensure_synthetic`.
    normal_dir, other_dir, anomalies_dir, test_dir : str or None
        Real data instead: normal clips of the target machine (D; the last ``heldout_fraction`` of them,
        after a seeded shuffle, are held out as test normals), clips of other machines (O), isolated anomaly
        sounds (mixed into the held-out normals; the group is read from a known kind prefix of the file name,
        e.g. ``knock_*.wav`` -> sudden, else "other"; one longer than ``max_anomaly_fraction`` of the clip is cut to a
        random excerpt), and labelled test clips (scored per clip as the mean of its vector scores), labelled by
        their names as in ``adskit sound`` (:func:`adskit.audio.clips.parse_clip`: DCASE 2020 ``normal_*`` /
        ``anomaly_*``, DCASE 2021+ ``section_00_..._normal_...``, ``abnormal_*``). Files that cannot be used are
        listed in the result's ``bad_files`` with the reason (:mod:`adskit.experiments.np_data`).
    feature_preset : str
        :meth:`adskit.audio.FeatureConfig.preset` name ("np2017": 64 mel, 10 + 10 context frames).
    snrs : tuple of float
        Mixing SNRs in dB (over the anomaly's segment, :func:`adskit.audio.mix_at_ratio`).
    methods : tuple of str
        Any of "AE", "VAE", "PROP".
    detector : dict
        Keyword arguments of :class:`adskit.detectors.np_vae.NPDetector` (its own defaults are the paper's:
        3 x 512 units, D = 32, batch 100, rho = 0.05, 16 diagonal components, ``n_steps=None`` = 500 epochs of D).
        ``quick`` and ``full`` (and the CLI) accept the detector's parameter names directly, e.g.
        ``NPConfig.quick(n_steps=300, hidden=(64,))``, and put them here; ``extractor``, ``random_state``,
        ``device`` and ``progress`` are set per run by the experiment.
    train_stride, test_stride : int
        Keep every k-th context vector of the training / test clips (neighbours overlap in 20 of 21 frames).
    max_anomaly_fraction : float
        An anomaly source longer than this fraction of the clip it is mixed into is cut to a random excerpt of that
        length; real normal clips must be long enough for that excerpt to fill one context window
        (:func:`adskit.experiments.np_data.normal_min_seconds`: 0.533 s at 0.6 with "np2017").
    heldout_fraction : float
        Real data only: fraction of ``normal_dir`` clips held out for testing.
    calibration_fraction : float
        Fraction in (0, 1) of the normal training clips (at least one) held out, by clip and seeded, to fit
        the calibrated phi_rho; the detectors train on the rest.
    seed : int
        Seeds the data set, the mixing positions and every detector.
    device : str
        "auto", "cpu" or "cuda".
    mode : str
        "quick" or "full", recorded in the report.
    """

    machine: str = "fan"
    synthetic_preset: str = "fast"
    data_dir: str | None = None
    normal_dir: str | None = None
    other_dir: str | None = None
    anomalies_dir: str | None = None
    test_dir: str | None = None
    feature_preset: str = "np2017"
    snrs: tuple[float, ...] = (-10.0, -5.0, 0.0, 5.0)
    methods: tuple[str, ...] = ("AE", "VAE", "PROP")
    detector: dict = field(default_factory=dict)
    DETECTOR: ClassVar[type] = NPDetector  # the estimator ``detector`` configures
    train_stride: int = 1
    test_stride: int = 1
    max_anomaly_fraction: float = 0.6
    heldout_fraction: float = 0.25
    calibration_fraction: float = 0.2
    seed: int = 0
    device: str = "auto"
    mode: str = "full"

    @classmethod
    def quick(cls, **overrides: Any) -> NPConfig:
        """A few CPU minutes on the synthetic "fast" preset: 3 x 128 units, 1,500 steps, the GMM and phi_rho
        refreshed every 5 steps on 2,000 normal vectors, every 2nd training vector. D = 32, batch 100,
        rho = 0.05 and C = 16 as the paper."""
        base = {"synthetic_preset": "fast", "train_stride": 2, "test_stride": 2, "mode": "quick"}
        det = {"hidden": (128, 128, 128), "n_steps": 1500, "em_every": 5, "n_em_vectors": 2000}
        return cls(**split_overrides(cls, NPDetector, {**base, **overrides}, det))

    @classmethod
    def full(cls, **overrides: Any) -> NPConfig:
        """The paper's settings (spec §2.4) on the synthetic "full" preset: 3 x 512, 500 epochs, refresh
        every step on all of D. Hours on a CPU; use a GPU."""
        return cls(**split_overrides(cls, NPDetector, {"synthetic_preset": "full", "mode": "full", **overrides}))

    def detector_params(self) -> dict[str, Any]:
        """Every NPDetector parameter this config trains with (the detector's defaults, ``detector`` over them).

        Raises
        ------
        ValueError
            If ``detector`` names something that is not an NPDetector parameter.
        """
        bad = sorted(set(self.detector) - detector_param_names(NPDetector))
        if bad:
            raise ValueError(f"detector: {bad} are not parameters of NPDetector")
        params = NPDetector(**self.detector).get_params()
        return {k: v for k, v in params.items() if k in detector_param_names(NPDetector)}

    @property
    def rho(self) -> float:
        """The false-positive rate of phi_rho (the detector's ``rho``), also used for the evaluation thresholds."""
        return float(self.detector_params()["rho"])

    def validate(self) -> NPConfig:
        """Check every setting and return self.

        Raises
        ------
        ValueError
            Naming the first setting that is out of range or inconsistent.
        """
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown or not self.methods:
            raise ValueError(f"methods: expected some of {tuple(METHODS)}, got {self.methods!r}")
        if not self.snrs:
            raise ValueError("snrs: expected at least one SNR")
        p = self.detector_params()
        for name in ("train_stride", "test_stride"):
            p[name] = getattr(self, name)
        for name in ("train_stride", "test_stride", "latent_dim", "batch_size", "n_components"):
            v = p[name]
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: expected a positive integer, got {v!r}")
        if not 0.0 < float(p["rho"]) < 1.0:
            raise ValueError(f"rho: expected a false-positive rate in (0, 1), got {p['rho']!r}")
        if not 0.0 < float(self.max_anomaly_fraction) <= 1.0:
            raise ValueError(f"max_anomaly_fraction: expected a number in (0, 1], got {self.max_anomaly_fraction!r}")
        if not 0.0 < float(self.calibration_fraction) < 1.0:
            raise ValueError(f"calibration_fraction: expected a number in (0, 1), got {self.calibration_fraction!r}")
        if not 0.0 < float(self.heldout_fraction) < 1.0:
            raise ValueError(f"heldout_fraction: expected a number in (0, 1), got {self.heldout_fraction!r}")
        check_positive(p["lr"], "lr")
        real = [self.normal_dir, self.other_dir]
        if any(real) and not all(real):
            raise ValueError("normal_dir/other_dir: real data needs both --normal (D) and --other (O)")
        if self.normal_dir and not (self.anomalies_dir or self.test_dir):
            raise ValueError("anomalies_dir/test_dir: real data needs --anomalies DIR or --test DIR to test on")
        if "PROP" in self.methods and p["n_em_vectors"] is not None and p["n_em_vectors"] < p["n_components"]:
            raise ValueError(f"n_em_vectors: expected >= n_components={p['n_components']}")
        return self


#: NPConfig fields that :func:`adskit.experiments.np_data.load_vectors` takes under the same name
_DATA_FIELDS = (
    *("machine", "normal_dir", "other_dir", "anomalies_dir", "test_dir", "snrs", "seed", "device"),
    *("heldout_fraction", "calibration_fraction", "train_stride", "test_stride", "max_anomaly_fraction"),
)


def load_np_data(cfg: NPConfig, progress: bool = True) -> NPData:
    """Read the clips, make the test mixtures and compute every context vector (see the module docstring).

    Parameters
    ----------
    cfg : NPConfig
        Its folders, fractions, strides and seed go to :func:`adskit.experiments.np_data.load_vectors`; with
        neither ``normal_dir`` nor ``data_dir`` the synthetic data set of its seed is made first.
    progress : bool
        tqdm bars.

    Returns
    -------
    NPData
        D, O, the calibration and test vectors and the mixtures' anomalous vectors.

    Raises
    ------
    ValueError
        On an invalid config or unusable data.
    """
    cfg.validate()
    root = None
    if not cfg.normal_dir:
        root = Path(cfg.data_dir) if cfg.data_dir else ensure_synthetic(cfg.synthetic_preset, cfg.seed, progress)
    return load_vectors(
        feature=FeatureConfig.preset(cfg.feature_preset),
        root=root,
        progress=progress,
        **{k: getattr(cfg, k) for k in _DATA_FIELDS},
    )


THRESHOLDS = ("calibrated", "training")


@dataclass
class NPResult:
    """What :func:`run_neyman_pearson` returns.

    ``metrics[method][snr]`` holds ``oracle``, ``at_phi`` (at the calibrated phi_rho) and ``at_phi_train``
    (at the paper's training phi_rho), each precision, recall, F1, FPR; ``auc``, ``auc_by_group`` and ``roc``
    (thinned fpr, tpr). ``fpr_check[method]["calibrated" | "training"]`` is the realised FPR of that phi_rho
    on the held-out normal vectors and clips (see :func:`adskit.experiments.np_data.fpr_report`). ``fpr_tolerance`` is the stated
    tolerance of the promise: |vector-level FPR at the calibrated phi_rho - rho| <= 0.025 (half of rho = 0.05).
    ``bad_files`` lists the user files set aside before training, each ``{"path", "role", "reason"}``.
    """

    metrics: dict[str, dict[str, dict]]
    fpr_check: dict[str, dict]
    config: dict
    data_info: dict
    training: dict[str, dict]
    clip_metrics: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0
    fpr_tolerance: float = 0.025
    bad_files: list[dict] = field(default_factory=list)

    def snrs(self) -> list[str]:
        return list(next(iter(self.metrics.values())))

    def table_markdown(self) -> str:
        """Table I beside the paper's: P / R / F1 at the oracle rule, at both phi_rho, and the AUC."""

        def fmt(v):
            return "lost" if v is None else f"{v:.2f}"

        lines = [
            "| SNR | method | P (ours) | R (ours) | F1 (ours) | P / R / F1 (paper) | P / R / F1 at calibrated "
            "phi_rho | P / R / F1 at training phi_rho (paper) | AUC |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for snr in self.snrs():
            for m in self.metrics:
                o = self.metrics[m][snr]["oracle"]
                a = self.metrics[m][snr]["at_phi"]
                t = self.metrics[m][snr]["at_phi_train"]
                paper = PAPER_TABLE_I.get(int(round(float(snr))), {}).get(m)
                ptxt = " / ".join(fmt(v) for v in paper) if paper else "n/a"
                lines.append(
                    f"| {float(snr):g} dB | {m} | {o['precision']:.2f} | {o['recall']:.2f} | {o['f1']:.2f} | "
                    f"{ptxt} | {a['precision']:.2f} / {a['recall']:.2f} / {a['f1']:.2f} | "
                    f"{t['precision']:.2f} / {t['recall']:.2f} / {t['f1']:.2f} | "
                    f"{self.metrics[m][snr]['auc']:.3f} |"
                )
        return "\n".join(lines)

    def fpr_markdown(self) -> str:
        """Realised FPR of both phi_rho on the held-out normals, per vector and per clip."""
        lines = [
            f"| method | phi_rho fitted on | phi_rho | vector FPR (rho = {self.config['rho']:g}) | 95 % CI "
            "(Clopper-Pearson) | verdict | 95 % CI (clip bootstrap) | clip FPR (any vector) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for m, checks in self.fpr_check.items():
            for which in THRESHOLDS:
                c = checks[which]
                where = f"calibration ({c['n_fit']} vectors)" if which == "calibrated" else "training (paper)"
                boot = f"[{c['boot_low']:.4f}, {c['boot_high']:.4f}]" if "boot_low" in c else "n/a"
                clip = f"{c['clip_fpr']:.2f} ({c['n_clip_alarms']}/{c['n_clips']})" if "clip_fpr" in c else "n/a"
                lines.append(
                    f"| {m} | {where} | {c['threshold']:.2f} | {c['fpr']:.4f} ({c['n_false_positives']}/{c['n']}) | "
                    f"[{c['ci_low']:.4f}, {c['ci_high']:.4f}] | {c['verdict']} | {boot} | {clip} |"
                )
        return "\n".join(lines)

    def pattern(self) -> dict[str, bool]:
        """The paper's claims checked on our numbers (F1 at the oracle rule; FPR within ``fpr_tolerance``)."""
        out: dict[str, bool] = {}
        if "PROP" in self.metrics and self.snrs():  # no SNR without anomaly sounds to mix
            for base in ("VAE", "AE"):
                if base in self.metrics:
                    out[f"F1: PROP >= {base} at every SNR"] = all(
                        self.metrics["PROP"][s]["oracle"]["f1"] >= self.metrics[base][s]["oracle"]["f1"]
                        for s in self.snrs()
                    )
        rho = float(self.config["rho"])
        for m, checks in self.fpr_check.items():
            c = checks["calibrated"]
            out[f"{m}: |FPR at calibrated phi_rho - rho| <= {self.fpr_tolerance:g}"] = (
                abs(c["fpr"] - rho) <= self.fpr_tolerance
            )
        return out


def _train(method: str, cfg: NPConfig, data: NPData, progress: bool) -> NPDetector:
    det = NPDetector(
        **cfg.detector,
        extractor=METHODS[method],
        random_state=cfg.seed,  # same seed: the three start from the same network
        device=cfg.device,
        progress=progress,
    )
    return det.fit(data.train, X_other=data.other)


def run_neyman_pearson(
    config: NPConfig | None = None,
    progress: bool = True,
    data: NPData | None = None,
) -> NPResult:
    """Train AE+GMM, VAE+GMM and PROP and evaluate them per SNR (Table I and Fig. 3 of EUSIPCO 2017).

    Parameters
    ----------
    config : NPConfig or None
        None = :meth:`NPConfig.quick`.
    progress : bool
        tqdm bars.
    data : NPData or None
        Pre-loaded vectors (from :func:`load_np_data`) to skip reading and feature extraction.

    Returns
    -------
    NPResult

    Raises
    ------
    ValueError
        On an invalid config or unusable data, or ``data`` without calibration vectors.
    """
    cfg = (config or NPConfig.quick()).validate()
    t0 = time.perf_counter()
    if data is None:
        data = load_np_data(cfg, progress)
    metrics: dict[str, dict[str, dict]] = {}
    fpr_check: dict[str, dict] = {}
    training: dict[str, dict] = {}
    clip_metrics: dict[str, dict] = {}
    for method in cfg.methods:
        t1 = time.perf_counter()
        det = _train(method, cfg, data, progress)
        fit_seconds = time.perf_counter() - t1
        s_neg = det.anomaly_score(data.test_normal)
        thr_train = NeymanPearsonThreshold(cfg.rho).fit(det.anomaly_score(data.train))
        cal = data.calibration if data.calibration is not None and len(data.calibration) else None
        if cal is None:
            raise ValueError("data: no calibration vectors; build NPData with load_np_data")
        thr = NeymanPearsonThreshold(cfg.rho).fit(det.calibrate(cal).anomaly_score(cal))
        fpr_check[method] = {
            "calibrated": fpr_report(thr, s_neg, data.test_normal_clip, cfg.seed),
            "training": fpr_report(thr_train, s_neg, data.test_normal_clip, cfg.seed),
        }
        per_snr: dict[str, dict] = {}
        for snr in cfg.snrs:
            s_pos = {k[1]: det.anomaly_score(data.positives[k]) for k in data.positives if k[0] == float(snr)}
            if not s_pos:  # no anomaly sounds to mix (a --test folder alone): the labelled clips are the test
                continue
            per_snr[f"{float(snr):g}"] = snr_metrics(s_neg, s_pos, thr.threshold_, thr_train.threshold_)
        metrics[method] = per_snr
        if data.test_clips:
            cs = clip_scores([det.anomaly_score(v) for v, _ in data.test_clips], "mean")
            cy = np.array([lab for _, lab in data.test_clips])
            if 0 < cy.sum() < cy.size:
                clip_metrics[method] = clip_level_metrics(cs, cy)
        training[method] = {
            "fit_seconds": fit_seconds,
            "n_steps": det.n_steps_,
            "timings": det.timings_,
            "acceptance_rate": det.acceptance_rate_,
            "final": {k: float(np.mean(v[-50:])) for k, v in det.history_.items()},
            # per NP step (PROP only; empty for the baselines): what tells learning from collapse
            "diagnostics": {k: np.asarray(v, dtype=float).tolist() for k, v in det.diagnostics_.items()},
            "collapse_warnings": list(det.collapse_warnings_),
        }
    return NPResult(
        metrics=metrics,
        fpr_check=fpr_check,
        config={**asdict(cfg), "rho": cfg.rho, "detector_params": cfg.detector_params()},
        data_info=data.info,
        training=training,
        clip_metrics=clip_metrics,
        seconds=time.perf_counter() - t0,
        bad_files=list(data.bad_files),
    )


def plot_np_roc(res: NPResult, axes=None):
    """Fig. 3: ROC curves of each method, one panel per SNR; the dotted line marks FPR = rho.

    :func:`adskit.plots.plot_roc_per_snr` of ``res.metrics``; returns the Figure.
    """
    return plots.plot_roc_per_snr(res.metrics, float(res.config["rho"]), axes=axes)


# ------------------------------------------------------------------------------------------ the shell's unit

#: the paper's claims as paired comparisons: PROP beats VAE+GMM and AE+GMM (AUC, F1 at the oracle rule, TPR at phi_rho)
COMPARISONS = (
    Comparison("PROP", "VAE", {"auc": 1, "f1_oracle": 1, "tpr_at_phi": 1}),
    Comparison("PROP", "AE", {"auc": 1, "f1_oracle": 1, "tpr_at_phi": 1}),
)


def _model_label(cfg: NPConfig) -> str:
    p = cfg.detector_params()
    return f"F{'x'.join(str(int(h)) for h in p['hidden'])}-D{int(p['latent_dim'])}"


#: the user folders an np run reads (their fingerprints key its result folder)
_USER_FOLDERS = ("normal_dir", "other_dir", "anomalies_dir", "test_dir")


def plan_np(config: NPConfig, seeds: Sequence[int], progress: bool = False) -> list[Run]:
    """One run per (seed, method); the synthetic data set of each seed is made here, so workers only read it.

    The data each run reads is fingerprinted here, once (:func:`adskit.experiments.fingerprints.data_fingerprints`:
    the user folders by their files, a synthetic data set by its manifest), and the fingerprints enter the run's
    folder name: a folder whose files changed gets a new result folder.

    Raises
    ------
    ValueError
        On an invalid config (:meth:`NPConfig.validate`).
    FileNotFoundError
        If a data folder does not exist (the message names its setting).
    """
    cfg = config.validate()
    runs = []
    user = data_fingerprints({k: getattr(cfg, k) for k in _USER_FOLDERS}) if cfg.normal_dir else {}
    for seed in seeds:
        c = replace(cfg, seed=int(seed))
        if not c.normal_dir and c.data_dir is None:
            c = replace(c, data_dir=str(ensure_synthetic(c.synthetic_preset, int(seed), progress)))
        data = user or data_fingerprints({"data_dir": c.data_dir})
        machine = c.machine if not c.normal_dir else "user"
        for m in c.methods:
            runs.append(
                Run(
                    "np",
                    replace(c, methods=(m,)),
                    {"machine": machine, "model": _model_label(c), "cost": m, "seed": int(seed)},
                    data=data,
                )
            )
    return runs


def execute_np(run: Run, folder: Path, needs: Mapping[str, dict], progress: bool) -> dict:
    """Train and evaluate one method on one seed: AUC, F1 (oracle and at phi_rho) and TPR per SNR, FPR at phi_rho."""
    res = run_neyman_pearson(run.config, progress=progress)
    (method,) = run.config.methods
    rows = [
        (f"{snr} dB", metric, float(value))
        for snr, m in res.metrics[method].items()
        for metric, value in (
            ("auc", m["auc"]),
            ("f1_oracle", m["oracle"]["f1"]),
            ("f1_at_phi", m["at_phi"]["f1"]),
            ("tpr_at_phi", m["at_phi"]["recall"]),
        )
    ]
    rows.append(("normal", "fpr_at_phi", float(res.fpr_check[method]["calibrated"]["fpr"])))
    if method in res.clip_metrics:
        rows.append(("test clips", "auc", res.clip_metrics[method]["auc"]))
    return {
        "records": make_records(run, rows),
        "metrics": res.metrics,
        "fpr_check": res.fpr_check,
        "training": res.training,
        "data": res.data_info,
        "rho": float(run.config.rho),
        "bad_files": res.bad_files,
        "warnings": [
            f"{method}'s training collapsed ({', '.join(t['collapse_warnings'])}; NPCollapseWarning): its scores "
            "mean little; the diagnostics are in np_diagnostics.png (lowest seed) and run.json"
            for t in res.training.values()
            if t.get("collapse_warnings")
        ],
    }


def np_figures(results: list[dict], out: Path) -> dict[str, Path]:
    """Fig. 3 (ROC per SNR) and PROP's training diagnostics (:func:`adskit.plots.plot_np_diagnostics`), lowest seed."""
    if not results:
        return {}
    seed = min(int(r["labels"]["seed"]) for r in results)
    metrics = {}
    for r in results:
        if int(r["labels"]["seed"]) == seed:
            metrics.update(r["metrics"])
    metrics = {m: metrics[m] for m in METHODS if metrics.get(m)}  # none with labelled test clips only
    figs = {}
    diag = next(
        (
            r["training"][m]["diagnostics"]
            for r in results
            if int(r["labels"]["seed"]) == seed
            for m in r.get("training", {})
            if len((r["training"][m].get("diagnostics") or {}).get("step", [])) > 0
        ),
        None,
    )
    if diag is not None:  # PROP's training, step by step (issue 14: collapse is read here)
        fig = plots.plot_np_diagnostics({k: np.asarray(v, dtype=float) for k, v in diag.items()})
        fig.suptitle(f"PROP's training diagnostics (seed {seed})", fontsize=10)
        figs["np_diagnostics"] = save_figure(fig, out / "np_diagnostics.png", dpi=100)
        plt.close(fig)
    if metrics:
        fig = plots.plot_roc_per_snr(metrics, float(results[0]["rho"]))
        fig.suptitle(f"ROC per SNR (seed {seed})", fontsize=10)
        figs["np_roc"] = save_figure(fig, out / "np_roc.png", dpi=100)
        plt.close(fig)
    return figs


EXPERIMENT = register(
    Experiment(name="np", plan=plan_np, execute=execute_np, comparisons=COMPARISONS, figures=np_figures)
)
