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

Loading here is deliberately minimal (whole clips in memory, log-mel recomputed each run). The frame sampler
and feature cache of ``adskit.audio.datasets`` can replace :func:`_clip_vectors` / :func:`load_np_data`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from scipy import stats
from tqdm.auto import tqdm

from .._utils import atomic_write_json, atomic_write_text, check_positive, resolve_device, save_figure
from ..audio import (
    ANOMALY_GROUPS,
    FeatureConfig,
    LogMel,
    ensure_synthetic,
    frame_labels,
    list_audio_files,
    load_audio,
    mix_at_ratio,
    stack_context,
)
from ..detectors.np_vae import NPDetector
from ..metrics import auc, precision_recall_f1, roc
from ..threshold import MaxMeanPRFThreshold, NeymanPearsonThreshold
from .runs import Comparison, Experiment, Run, detector_param_names, register, split_overrides

__all__ = [
    "METHODS",
    "PAPER_TABLE_I",
    "NPConfig",
    "NPData",
    "NPResult",
    "execute_np",
    "load_np_data",
    "plan_np",
    "plot_np_roc",
    "report_markdown",
    "run_neyman_pearson",
    "write_neyman_pearson",
]

METHODS = {"AE": "ae", "VAE": "vae", "PROP": "np"}
GROUPS = ("sustained", "time_varying", "sudden")

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
        e.g. ``knock_*.wav`` -> sudden, else "other"), and DCASE-named labelled test clips
        (``normal_*`` / ``anomaly_*``, scored per clip as the mean of its vector scores).
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
        An anomaly source is trimmed to at most this fraction of the clip it is mixed into.
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


@dataclass
class NPData:
    """Vectors of one comparison (each row a context vector of ``feature.dim`` log-mel values).

    Attributes
    ----------
    train : np.ndarray [shape=(K_d, Q)]
        D.
    other : np.ndarray [shape=(K_o, Q)]
        O.
    test_normal : np.ndarray [shape=(N, Q)]
        Every vector of the held-out normal clips (negatives).
    positives : dict
        ``(snr, group) -> (M, Q)`` vectors of mixtures inside the anomaly.
    test_clips : list of (np.ndarray (T_i, Q), int)
        Real labelled test clips (``test_dir``) and their labels (1 = anomalous); empty otherwise.
    info : dict
        Where the data came from and how many clips of each kind.
    calibration : np.ndarray [shape=(K_c, Q)] or None
        Vectors of the calibration clips: normal, held out from D by clip, for the calibrated phi_rho.
    test_normal_clip : np.ndarray [shape=(N,)] or None
        Index of the held-out normal clip each row of ``test_normal`` comes from (clip-level rates).
    """

    train: np.ndarray
    other: np.ndarray
    test_normal: np.ndarray
    positives: dict[tuple[float, str], np.ndarray]
    test_clips: list[tuple[np.ndarray, int]]
    info: dict
    calibration: np.ndarray | None = None
    test_normal_clip: np.ndarray | None = None


def _clip_vectors(y: np.ndarray, logmel: LogMel, frames: int) -> np.ndarray:
    """Context vectors (T - frames + 1, frames * n_mels) of one waveform."""
    with torch.inference_mode():
        S = logmel(y)
    return stack_context(S, frames).cpu().numpy()


def _stack(clips: list[np.ndarray], logmel: LogMel, frames: int, stride: int, desc: str, progress: bool):
    """Context vectors of every clip, concatenated, and the clip index of each row."""
    out = [_clip_vectors(y, logmel, frames)[::stride] for y in tqdm(clips, desc=desc, disable=not progress)]
    if not out:
        raise ValueError(f"{desc}: no clips found")
    ids = np.concatenate([np.full(len(v), i) for i, v in enumerate(out)])
    return np.concatenate(out).astype(np.float32), ids


def _calibration_split(clips: list[np.ndarray], fraction: float, seed: int) -> tuple[list, list]:
    """(training clips, calibration clips): a seeded shuffle of whole clips, at least one of each."""
    if len(clips) < 2:
        raise ValueError(f"calibration_fraction: {len(clips)} normal training clip(s); need 2 to hold one out")
    order = np.random.default_rng([seed, 2017, 1]).permutation(len(clips))
    n_cal = min(max(1, int(round(fraction * len(clips)))), len(clips) - 1)
    return [clips[i] for i in order[n_cal:]], [clips[i] for i in order[:n_cal]]


def _group_of(name: str) -> str:
    stem = Path(name).stem.lower()
    for kind, group in ANOMALY_GROUPS.items():
        if stem.startswith(kind):
            return group
    for group in GROUPS:
        if stem.startswith(group):
            return group
    return "other"


def _load_dir(folder: str, sr: int, what: str) -> list[tuple[Path, np.ndarray]]:
    files = list_audio_files(folder)
    if not files:
        raise ValueError(f"{what}: no audio files (wav, flac, ogg) under {folder}")
    return [(p, load_audio(p, sr=sr)[0]) for p in files]


def load_np_data(cfg: NPConfig, progress: bool = True) -> NPData:
    """Read the clips, make the test mixtures and compute every context vector (see the module docstring).

    Parameters
    ----------
    cfg : NPConfig
    progress : bool

    Returns
    -------
    NPData
    """
    cfg.validate()
    feat = FeatureConfig.preset(cfg.feature_preset)
    logmel = LogMel(feat, device=resolve_device(cfg.device))
    rng = np.random.default_rng([cfg.seed, 2017])
    sources: dict[str, list[np.ndarray]] = {}
    test_clips: list[tuple[np.ndarray, int]] = []
    if cfg.normal_dir:
        normal = [y for _, y in _load_dir(cfg.normal_dir, feat.sr, "normal_dir")]
        order = rng.permutation(len(normal))
        n_test = max(1, int(round(cfg.heldout_fraction * len(normal))))
        if len(normal) - n_test < 1:
            raise ValueError(f"normal_dir: {len(normal)} clip(s); need at least 2 to hold some out")
        train_y = [normal[i] for i in order[n_test:]]
        test_y = [normal[i] for i in order[:n_test]]
        other_y = [y for _, y in _load_dir(cfg.other_dir, feat.sr, "other_dir")]
        if cfg.anomalies_dir:
            for p, y in _load_dir(cfg.anomalies_dir, feat.sr, "anomalies_dir"):
                sources.setdefault(_group_of(p.name), []).append(y)
        if cfg.test_dir:
            for p, y in _load_dir(cfg.test_dir, feat.sr, "test_dir"):
                name = p.name.lower()
                if not name.startswith(("normal", "anomaly")):
                    raise ValueError(f"test_dir: {p.name} is not DCASE-named (normal_* or anomaly_*)")
                test_clips.append((_clip_vectors(y, logmel, feat.frames), int(name.startswith("anomaly"))))
        info = {"source": "folders", "normal_dir": cfg.normal_dir, "other_dir": cfg.other_dir}
    else:
        import json

        root = Path(cfg.data_dir) if cfg.data_dir else ensure_synthetic(cfg.synthetic_preset, cfg.seed, progress)
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
        files = manifest["files"]
        machines = sorted({r["machine"] for r in files if r.get("machine")})
        if cfg.machine not in machines:
            raise ValueError(f"machine: expected one of {machines} (in {root}), got {cfg.machine!r}")

        def read(recs):
            return [load_audio(root / r["path"], sr=feat.sr)[0] for r in recs]

        train_y = read([r for r in files if r.get("machine") == cfg.machine and r["split"] == "train"])
        other_y = read([r for r in files if r.get("machine") not in (None, cfg.machine) and r["split"] == "train"])
        test_y = read(
            [r for r in files if r.get("machine") == cfg.machine and r["split"] == "test" and r["label"] == "normal"]
        )
        for r in files:
            if r["split"] == "anomaly_source":
                sources.setdefault(r["anomaly_group"], []).append(load_audio(root / r["path"], sr=feat.sr)[0])
        info = {"source": "synthetic", "root": str(root), "machine": cfg.machine, "others": machines}
    if not other_y:
        raise ValueError("other_dir: the set O of other-machine sounds is empty")
    train_y, cal_y = _calibration_split(train_y, float(cfg.calibration_fraction), cfg.seed)
    train, _ = _stack(train_y, logmel, feat.frames, cfg.train_stride, "D (normal)", progress)
    other, _ = _stack(other_y, logmel, feat.frames, cfg.train_stride, "O (other machines)", progress)
    calibration, _ = _stack(cal_y, logmel, feat.frames, cfg.test_stride, "calibration (normal)", progress)
    test_normal, test_ids = _stack(test_y, logmel, feat.frames, cfg.test_stride, "held-out normal", progress)
    positives: dict[tuple[float, str], list[np.ndarray]] = {}
    groups = [g for g in (*GROUPS, "other") if sources.get(g)]
    for i, y in enumerate(tqdm(test_y, desc="mixtures", disable=not progress)):
        for gi, g in enumerate(groups):
            src = sources[g][int(rng.integers(len(sources[g])))]
            src = src[: int(cfg.max_anomaly_fraction * y.size)]
            pos = int(np.random.default_rng([cfg.seed, i, gi]).integers(0, y.size - src.size + 1))
            for snr in cfg.snrs:
                mix, span = mix_at_ratio(y, src, float(snr), position=pos)  # same place at every SNR
                lab = frame_labels(span, y.size, feat)
                vec = _clip_vectors(mix.astype(np.float32), logmel, feat.frames)
                positives.setdefault((float(snr), g), []).append(vec[lab][:: cfg.test_stride])
    pos = {k: np.concatenate(v).astype(np.float32) for k, v in positives.items()}
    info.update(
        n_train_clips=len(train_y),
        n_calibration_clips=len(cal_y),
        n_other_clips=len(other_y),
        n_test_normal_clips=len(test_y),
        anomaly_sources={g: len(sources[g]) for g in groups},
        n_test_clips=len(test_clips),
        feature=feat.to_dict(),
        vectors={"D": len(train), "O": len(other), "calibration": len(calibration), "test_normal": len(test_normal)},
    )
    return NPData(train, other, test_normal, pos, test_clips, info, calibration, test_ids)


def _prf(res: dict) -> dict[str, float]:
    return {k: float(res[k]) for k in ("precision", "recall", "f1", "fpr")}


THRESHOLDS = ("calibrated", "training")


def _fpr_report(
    thr: NeymanPearsonThreshold, s_neg: np.ndarray, clip_ids: np.ndarray | None, seed: int, n_boot: int = 2000
) -> dict:
    """Realised FPR of a fitted phi_rho on held-out normal scores, per vector and per clip.

    Vector level: :meth:`NeymanPearsonThreshold.check` (Clopper-Pearson, vectors as independent) plus a 95 %
    percentile interval from resampling whole clips (``boot_low``/``boot_high``; overlapping vectors of a clip
    are dependent, so this one is the honest width). Clip level: a clip is a false alarm if any of its vectors
    exceeds phi_rho (``clip_fpr`` with its Clopper-Pearson interval).
    """
    out = {**thr.check(s_neg), "threshold": float(thr.threshold_), "n_fit": thr.n_fit_}
    if clip_ids is None:
        return out
    alarm = s_neg > thr.threshold_
    clips = np.unique(clip_ids)
    n_fp = np.array([alarm[clip_ids == c].sum() for c in clips])
    n_v = np.array([(clip_ids == c).sum() for c in clips])
    idx = np.random.default_rng([seed, 3]).integers(0, clips.size, (n_boot, clips.size))
    boot = n_fp[idx].sum(1) / n_v[idx].sum(1)
    k = int((n_fp > 0).sum())
    ci = stats.binomtest(k, clips.size).proportion_ci(confidence_level=0.95, method="exact")
    out.update(
        boot_low=float(np.quantile(boot, 0.025)),
        boot_high=float(np.quantile(boot, 0.975)),
        n_clips=int(clips.size),
        n_clip_alarms=k,
        clip_fpr=k / clips.size,
        clip_ci_low=float(ci.low),
        clip_ci_high=float(ci.high),
    )
    return out


def _thin_roc(y: np.ndarray, s: np.ndarray, n: int = 200) -> dict[str, list[float]]:
    fpr, tpr, _ = roc(y, s)
    idx = np.unique(np.linspace(0, fpr.size - 1, min(n, fpr.size)).round().astype(int))
    return {"fpr": fpr[idx].tolist(), "tpr": tpr[idx].tolist()}


@dataclass
class NPResult:
    """What :func:`run_neyman_pearson` returns (and writes as ``neyman_pearson.json``).

    ``metrics[method][snr]`` holds ``oracle``, ``at_phi`` (at the calibrated phi_rho) and ``at_phi_train``
    (at the paper's training phi_rho), each precision, recall, F1, FPR; ``auc``, ``auc_by_group`` and ``roc``
    (thinned fpr, tpr). ``fpr_check[method]["calibrated" | "training"]`` is the realised FPR of that phi_rho
    on the held-out normal vectors and clips (see :func:`_fpr_report`). ``fpr_tolerance`` is the stated
    tolerance of the promise: |vector-level FPR at the calibrated phi_rho - rho| <= 0.025 (half of rho = 0.05).
    """

    metrics: dict[str, dict[str, dict]]
    fpr_check: dict[str, dict]
    config: dict
    data_info: dict
    training: dict[str, dict]
    clip_metrics: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0
    fpr_tolerance: float = 0.025
    files: dict[str, str] = field(default_factory=dict)

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
        if "PROP" in self.metrics:
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
    out_dir: str | Path | None = None,
    progress: bool = True,
    data: NPData | None = None,
) -> NPResult:
    """Train AE+GMM, VAE+GMM and PROP and evaluate them per SNR (Table I and Fig. 3 of EUSIPCO 2017).

    Parameters
    ----------
    config : NPConfig or None
        None = :meth:`NPConfig.quick`.
    out_dir : str, Path or None
        If given, writes ``neyman_pearson.json``, ``np_roc.png`` and ``neyman_pearson.md`` there.
    progress : bool
        tqdm bars.
    data : NPData or None
        Pre-loaded vectors (from :func:`load_np_data`) to skip reading and feature extraction.

    Returns
    -------
    NPResult
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
            "calibrated": _fpr_report(thr, s_neg, data.test_normal_clip, cfg.seed),
            "training": _fpr_report(thr_train, s_neg, data.test_normal_clip, cfg.seed),
        }
        per_snr: dict[str, dict] = {}
        for snr in cfg.snrs:
            keys = [k for k in data.positives if k[0] == float(snr)]
            s_pos = {k[1]: det.anomaly_score(data.positives[k]) for k in keys}
            s = np.concatenate([s_neg, *s_pos.values()])
            y = np.r_[np.zeros(s_neg.size), np.ones(s.size - s_neg.size)].astype(int)
            best = MaxMeanPRFThreshold().fit(s, y)
            at_phi = precision_recall_f1(y, s > thr.threshold_)
            at_phi_train = precision_recall_f1(y, s > thr_train.threshold_)
            oracle = precision_recall_f1(y, s > best.threshold_)
            per_snr[f"{float(snr):g}"] = {
                "oracle": {**_prf(oracle), "threshold": best.threshold_},
                "at_phi": _prf(at_phi),
                "at_phi_train": _prf(at_phi_train),
                "auc": auc(y, s),
                "auc_by_group": {
                    g: auc(np.r_[np.zeros(s_neg.size), np.ones(v.size)], np.r_[s_neg, v]) for g, v in s_pos.items()
                },
                "n_positive": int(y.sum()),
                "n_negative": int(s_neg.size),
                "roc": _thin_roc(y, s),
            }
        metrics[method] = per_snr
        if data.test_clips:
            cs = np.array([det.anomaly_score(v).mean() for v, _ in data.test_clips])
            cy = np.array([lab for _, lab in data.test_clips])
            if 0 < cy.sum() < cy.size:
                best = MaxMeanPRFThreshold().fit(cs, cy)
                clip_metrics[method] = {
                    "auc": auc(cy, cs),
                    "oracle": _prf(precision_recall_f1(cy, cs > best.threshold_)),
                }
        training[method] = {
            "fit_seconds": fit_seconds,
            "n_steps": det.n_steps_,
            "timings": det.timings_,
            "acceptance_rate": det.acceptance_rate_,
            "final": {k: float(np.mean(v[-50:])) for k, v in det.history_.items()},
        }
    res = NPResult(
        metrics=metrics,
        fpr_check=fpr_check,
        config={**asdict(cfg), "rho": cfg.rho, "detector_params": cfg.detector_params()},
        data_info=data.info,
        training=training,
        clip_metrics=clip_metrics,
        seconds=time.perf_counter() - t0,
    )
    if out_dir is not None:
        write_neyman_pearson(res, out_dir)
    return res


def plot_np_roc(res: NPResult, axes=None):
    """Fig. 3: ROC curves of each method, one panel per SNR; the dotted line marks FPR = rho."""
    import matplotlib.pyplot as plt

    from ..plots import plot_roc

    snrs = res.snrs()
    if axes is None:
        fig, axes = plt.subplots(1, len(snrs), figsize=(3.6 * len(snrs), 3.6), squeeze=False)
        axes = axes[0]
    fig = np.ravel(axes)[0].figure
    for ax, snr in zip(np.ravel(axes), snrs, strict=False):
        curves = {
            f"{m} (AUC {res.metrics[m][snr]['auc']:.2f})": (
                np.asarray(res.metrics[m][snr]["roc"]["fpr"]),
                np.asarray(res.metrics[m][snr]["roc"]["tpr"]),
            )
            for m in res.metrics
        }
        plot_roc(curves, ax=ax, title=f"{snr} dB")
        ax.axvline(float(res.config["rho"]), color="0.5", ls=":", lw=0.8)
    fig.tight_layout()
    return fig


def write_neyman_pearson(res: NPResult, out_dir: str | Path) -> dict[str, str]:
    """Write ``neyman_pearson.json``, ``np_roc.png`` and ``neyman_pearson.md`` into ``out_dir``."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    fig = plot_np_roc(res)
    files = {"roc": str(save_figure(fig, out / "np_roc.png", dpi=110))}
    plt.close(fig)
    payload = {
        "metrics": res.metrics,
        "fpr_check": res.fpr_check,
        "fpr_tolerance": res.fpr_tolerance,
        "pattern": res.pattern(),
        "paper": {str(k): v for k, v in PAPER_TABLE_I.items()},
        "clip_metrics": res.clip_metrics,
        "training": res.training,
        "data": res.data_info,
        "config": res.config,
        "seconds": res.seconds,
    }
    files["json"] = str(atomic_write_json(out / "neyman_pearson.json", payload))
    files["md"] = str(atomic_write_text(out / "neyman_pearson.md", report_markdown(res)))
    res.files = files
    return files


def report_markdown(res: NPResult) -> str:
    """The Markdown section of the report (tables, pattern, settings, timings)."""
    c = {**res.config, **res.config.get("detector_params", {})}
    settings = (
        f"mode {c['mode']}; data {res.data_info.get('source')} ({res.data_info.get('machine', '')}); "
        f"hidden {tuple(c['hidden'])}, D = {c['latent_dim']}, batch {c['batch_size']}, rho = {c['rho']}, "
        f"GMM C = {c['n_components']} diag (variance floor {c['reg_covar']:g}"
        f"{' x mean feature variance' if c.get('reg_covar_relative') else ''}"
        f"{', on standardised features' if c.get('standardize_features') else ''}); "
        f"PROP's sigmoid slope {c.get('slope', 1.0)}; PROP's VAE step on "
        f"{'O' if c['vae_data'] == 'other' else 'D and O'}; steps {c['n_steps'] or '500 epochs'}, GMM/phi_rho refresh every "
        f"{c['em_every']} step(s) on {c['n_em_vectors'] or 'all'} normal vectors ({c['em_iter']} EM iteration); "
        f"vector strides train {c['train_stride']} / test {c['test_stride']}; calibration split "
        f"{c.get('calibration_fraction')} of the normal training clips; seed {c['seed']}"
    )
    vec = res.data_info.get("vectors", {})
    timing = "; ".join(
        f"{m} {t['fit_seconds']:.0f} s"
        + (f" (Algorithm 2 acceptance {t['acceptance_rate']:.3f})" if np.isfinite(t["acceptance_rate"]) else "")
        for m, t in res.training.items()
    )
    parts = [
        "## Neyman-Pearson feature extractor (EUSIPCO 2017, Table I)\n",
        "Precision / recall / F1 per SNR at the paper's rule (the oracle threshold maximising mean(P, R, F1) on "
        "the test vectors), at the calibrated phi_rho (the deployed threshold, fitted on held-out calibration "
        "clips of normal data) and at the training phi_rho (the paper's, fitted on the in-sample scores of D). The "
        "paper used a private engine recording; its numbers are shown for the pattern only.\n",
        res.table_markdown(),
        "\nRealised false-positive rate of each phi_rho on the held-out normal test clips. Vector level, against "
        "rho: the Clopper-Pearson CI treats vectors as independent (neighbouring vectors overlap, so it is too "
        "narrow); the clip bootstrap resamples whole clips. Clip level: a clip counts as a false alarm if any of "
        "its vectors exceeds phi_rho, so that rate is far above rho by construction (a clip-level promise needs a "
        f"threshold on clip scores). Tolerance of the promise: |vector FPR at the calibrated phi_rho - rho| <= "
        f"{res.fpr_tolerance:g}.\n",
        res.fpr_markdown(),
        "\n" + "\n".join(f"- {k}: {'yes' if v else 'NO'}" for k, v in res.pattern().items()),
        f"\n\n![ROC curves per SNR](np_roc.png)\n\n- settings: {settings}",
        f"- vectors: D {vec.get('D')} ({res.data_info.get('n_train_clips')} clips), O {vec.get('O')}, calibration "
        f"{vec.get('calibration')} ({res.data_info.get('n_calibration_clips')} clips), held-out normal "
        f"{vec.get('test_normal')} ({res.data_info.get('n_test_normal_clips')} clips)",
        f"- training: {timing}; total {res.seconds:.0f} s",
    ]
    if res.clip_metrics:
        parts.append(
            "- labelled test clips (clip score = mean vector score): "
            + "; ".join(f"{m} AUC {v['auc']:.3f}, F1 {v['oracle']['f1']:.2f}" for m, v in res.clip_metrics.items())
        )
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------------------------ the shell's unit

#: the paper's claims as paired comparisons: PROP beats VAE+GMM and AE+GMM (AUC, F1 at the oracle rule, TPR at phi_rho)
COMPARISONS = (
    Comparison("PROP", "VAE", {"auc": 1, "f1_oracle": 1, "tpr_at_phi": 1}),
    Comparison("PROP", "AE", {"auc": 1, "f1_oracle": 1, "tpr_at_phi": 1}),
)


def _model_label(cfg: NPConfig) -> str:
    p = cfg.detector_params()
    return f"F{'x'.join(str(int(h)) for h in p['hidden'])}-D{int(p['latent_dim'])}"


def plan_np(config: NPConfig, seeds: Sequence[int], progress: bool = False) -> list[Run]:
    """One run per (seed, method); the synthetic data set of each seed is made here, so workers only read it."""
    cfg = config.validate()
    runs = []
    for seed in seeds:
        c = replace(cfg, seed=int(seed))
        if not c.normal_dir and c.data_dir is None:
            c = replace(c, data_dir=str(ensure_synthetic(c.synthetic_preset, int(seed), progress)))
        machine = c.machine if not c.normal_dir else "user"
        for m in c.methods:
            runs.append(
                Run(
                    "np",
                    replace(c, methods=(m,)),
                    {"machine": machine, "model": _model_label(c), "cost": m, "seed": int(seed)},
                )
            )
    return runs


def execute_np(run: Run, folder: Path, needs: Mapping[str, dict], progress: bool) -> dict:
    """Train and evaluate one method on one seed: AUC, F1 (oracle and at phi_rho) and TPR per SNR, FPR at phi_rho."""
    res = run_neyman_pearson(run.config, out_dir=None, progress=progress)
    lab = run.labels
    (method,) = run.config.methods
    recs = []
    for snr, m in res.metrics[method].items():
        for metric, value in (
            ("auc", m["auc"]),
            ("f1_oracle", m["oracle"]["f1"]),
            ("f1_at_phi", m["at_phi"]["f1"]),
            ("tpr_at_phi", m["at_phi"]["recall"]),
        ):
            recs.append({**lab, "experiment": "np", "condition": f"{snr} dB", "metric": metric, "value": float(value)})
    chk = res.fpr_check[method]["calibrated"]
    recs.append({**lab, "experiment": "np", "condition": "normal", "metric": "fpr_at_phi", "value": float(chk["fpr"])})
    if method in res.clip_metrics:
        recs.append(
            {
                **lab,
                "experiment": "np",
                "condition": "test clips",
                "metric": "auc",
                "value": res.clip_metrics[method]["auc"],
            }
        )
    return {
        "records": recs,
        "metrics": res.metrics,
        "fpr_check": res.fpr_check,
        "training": res.training,
        "data": res.data_info,
        "rho": float(run.config.rho),
    }


def np_figures(results: list[dict], out: Path) -> dict[str, Path]:
    """Fig. 3 (ROC per SNR) of the lowest seed."""
    import matplotlib.pyplot as plt

    if not results:
        return {}
    seed = min(int(r["labels"]["seed"]) for r in results)
    metrics = {}
    for r in results:
        if int(r["labels"]["seed"]) == seed:
            metrics.update(r["metrics"])
    order = [m for m in METHODS if m in metrics]
    res = NPResult(
        metrics={m: metrics[m] for m in order},
        fpr_check={},
        config={"rho": results[0]["rho"]},
        data_info={},
        training={},
    )
    fig = plot_np_roc(res)
    fig.suptitle(f"ROC per SNR (seed {seed})", fontsize=10)
    path = save_figure(fig, out / "np_roc.png", dpi=100)
    plt.close(fig)
    return {"np_roc": path}


EXPERIMENT = register(
    Experiment(name="np", plan=plan_np, execute=execute_np, comparisons=COMPARISONS, figures=np_figures)
)
