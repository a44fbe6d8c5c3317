"""Interactive panels (ipywidgets) for thresholds and KDE bandwidths, driven only by cached arrays.

Two panels, each a function returning an ``ipywidgets.VBox`` subclass that exposes ``.state`` (a dict) for
tests and notebooks:

* :func:`bandwidth_explorer` - sliders for the KDE bandwidth h and the BU regulariser eps over one batch of
  normal vectors; the BU weights drawn over the data (a 2-D PCA projection when D > 2), the Gram diagnostics
  of :func:`adskit.kde.gram_diagnostics` and the warning zones of :func:`adskit.kde.bu_weights` (weights
  degenerate to uniform, or onto a few points). The pairwise distances are computed once; a slider move only
  exponentiates them.
* :func:`threshold_explorer` - cached anomaly scores of several detectors (RE, SNP, BU, NP, ...) on normal
  clips (frequent and rare-normal processes marked) and anomalous clips, held in a :class:`ScoreSet`; one
  slider for the target false-alarm rate rho (each method's threshold is then its own phi_rho,
  :class:`adskit.threshold.NeymanPearsonThreshold` fitted on its normal training scores) or for the raw
  threshold of one method. Per method: false alarms on rare-normal and frequent-normal clips, detections, the
  ROC point, and the selected clip's score over time with the frames above threshold highlighted; an audio
  player for the clip. Nothing retrains: a slider re-thresholds stored arrays.

The pure computations are plain functions (:func:`threshold_state`, :func:`bandwidth_state`) that tests call
directly; the panels only re-render. Figures are drawn once and then updated by blitting the artists that
change (matplotlib's Agg canvas, sent to the browser as a PNG in an ``ipywidgets.Image``), which keeps an
update well under 100 ms and works the same in JupyterLab, Voila and a headless test.

Directions: every score is an anomaly score, **higher = more anomalous**; the rule is
``anomalous = score > threshold`` (as in :mod:`adskit.threshold`); a clip's score is the maximum of its frame
scores (WASPAA 2019 eq 11) unless the ScoreSet says ``aggregate="mean"``.

Examples
--------
>>> ss = demo_scoreset(seed=0)            # synthetic scores for tests only, no detector trained
>>> st = threshold_state(ss, "RE", threshold=float(np.median(ss.clip_scores("RE"))))
>>> st["n_rare"], st["n_frequent"], st["n_anomaly"]
(10, 40, 30)
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from threadpoolctl import threadpool_limits

from ._utils import atomic_write_bytes, atomic_write_json, check_positive
from .kde import IDENTITY_BELOW, ILL_ABOVE, median_heuristic, standardize_with
from .metrics import roc
from .threshold import NeymanPearsonThreshold

__all__ = [
    "ESS_COLLAPSED_BELOW",
    "ESS_UNIFORM_ABOVE",
    "PROCESSES",
    "BandwidthExplorer",
    "ScoreSet",
    "ThresholdExplorer",
    "bandwidth_explorer",
    "bandwidth_state",
    "demo_scoreset",
    "pairwise_sq_dists",
    "pca_2d",
    "scores_from_detectors",
    "threshold_explorer",
    "threshold_state",
]

#: per-clip process tags of a ScoreSet: normal frequent process, normal rare process, anomalous clip
PROCESSES = ("frequent", "rare", "anomaly")
#: effective-sample-size fractions at which :func:`adskit.kde.bu_weights` warns (uniform / collapsed)
ESS_UNIFORM_ABOVE = 0.995
ESS_COLLAPSED_BELOW = 0.02
_FORMAT_VERSION = 1
_COLORS = {"RE": "tab:red", "SNP": "tab:blue", "BU": "tab:green", "NP": "tab:purple"}
_FALLBACK = ("tab:orange", "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan")


def _color(method: str, i: int) -> str:
    return _COLORS.get(method.upper(), _FALLBACK[i % len(_FALLBACK)])


# --------------------------------------------------------------------------------------------- ScoreSet


@dataclass
class ScoreSet:
    """Cached frame anomaly scores of several methods on the same labelled clips.

    Parameters
    ----------
    scores : dict of str -> list of np.ndarray, each [shape=(T_i,)]
        Per method, the frame anomaly scores of every clip (higher = more anomalous). Every method has the
        same clips with the same frame counts.
    labels : np.ndarray [shape=(n_clips,)]
        1 = anomalous clip, 0 = normal clip.
    process : sequence of str [len n_clips]
        ``"frequent"`` (normal, frequent process), ``"rare"`` (normal, contains the rare-normal process) or
        ``"anomaly"``; ``"anomaly"`` exactly where ``labels == 1``.
    names : list of str or None
        Clip names for the clip selector (default ``clip 0``, ...).
    times : list of np.ndarray [shape=(T_i,)] or None
        Frame times in seconds (default: frame indices).
    train_scores : dict of str -> np.ndarray [shape=(K,)] or None
        Per method, clip scores (same ``aggregate``) of *normal training* clips: what a rho slider fits
        phi_rho on. Without them only the raw-threshold slider is offered.
    audio : list of (str or np.ndarray) or None
        Per clip, a path to an audio file or a mono waveform (then ``sr`` is required), for the player.
    sr : int or None
        Sampling rate of waveform ``audio``.
    segments : list of dict or None
        Per clip, ``{"rare": [(t0, t1), ...], "anomaly": [...]}`` in seconds, shaded in the time plot.
    aggregate : {"max", "mean"}
        Clip score from frame scores (WASPAA 2019 eq 11 uses the max).
    info : dict
        JSON-serialisable notes on where the scores came from (shown in the panel's title).
    """

    scores: dict[str, list[np.ndarray]]
    labels: np.ndarray
    process: list[str]
    names: list[str] | None = None
    times: list[np.ndarray] | None = None
    train_scores: dict[str, np.ndarray] | None = None
    audio: list[Any] | None = None
    sr: int | None = None
    segments: list[dict[str, list[tuple[float, float]]]] | None = None
    aggregate: str = "max"
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.scores:
            raise ValueError("scores: expected at least one method")
        self.scores = {
            str(m): [np.asarray(c, dtype=np.float64).reshape(-1) for c in clips] for m, clips in self.scores.items()
        }
        self.labels = np.asarray(self.labels).astype(np.int64).reshape(-1)
        self.process = [str(p) for p in self.process]
        n = self.labels.size
        if n == 0:
            raise ValueError("labels: no clips")
        if not np.isin(self.labels, (0, 1)).all():
            raise ValueError("labels: expected 0 (normal) and 1 (anomalous)")
        if len(self.process) != n:
            raise ValueError(f"process: {len(self.process)} tags for {n} clips")
        bad = sorted(set(self.process) - set(PROCESSES))
        if bad:
            raise ValueError(f"process: unknown tags {bad}; expected {PROCESSES}")
        if any((p == "anomaly") != bool(y) for p, y in zip(self.process, self.labels, strict=True)):
            raise ValueError("process: 'anomaly' must be exactly the clips with label 1")
        lengths = None
        for m, clips in self.scores.items():
            if len(clips) != n:
                raise ValueError(f"scores[{m!r}]: {len(clips)} clips, labels has {n}")
            ls = [c.size for c in clips]
            if min(ls) == 0:
                raise ValueError(f"scores[{m!r}]: a clip has no frames")
            if not all(np.isfinite(c).all() for c in clips):
                raise ValueError(f"scores[{m!r}]: contains NaN or Inf")
            if lengths is not None and ls != lengths:
                raise ValueError(f"scores[{m!r}]: frame counts differ from the other methods")
            lengths = ls
        self.names = [f"clip {i}" for i in range(n)] if self.names is None else [str(s) for s in self.names]
        if len(self.names) != n:
            raise ValueError(f"names: {len(self.names)} names for {n} clips")
        if self.times is not None:
            self.times = [np.asarray(t, dtype=np.float64).reshape(-1) for t in self.times]
            if [t.size for t in self.times] != lengths:
                raise ValueError("times: frame counts differ from the scores")
        if self.train_scores is not None:
            self.train_scores = {
                str(m): np.asarray(s, dtype=np.float64).reshape(-1) for m, s in self.train_scores.items()
            }
            missing = sorted(set(self.scores) - set(self.train_scores))
            if missing:
                raise ValueError(f"train_scores: no training scores for {missing}")
        if self.audio is not None:
            if len(self.audio) != n:
                raise ValueError(f"audio: {len(self.audio)} entries for {n} clips")
            self.audio = [a if isinstance(a, (str, os.PathLike)) else np.asarray(a, np.float32) for a in self.audio]
            if any(not isinstance(a, (str, os.PathLike)) for a in self.audio) and self.sr is None:
                raise ValueError("sr: waveform audio needs a sampling rate")
        if self.segments is not None and len(self.segments) != n:
            raise ValueError(f"segments: {len(self.segments)} entries for {n} clips")
        if self.aggregate not in ("max", "mean"):
            raise ValueError(f"aggregate: expected 'max' or 'mean', got {self.aggregate!r}")
        self._clip_cache: dict[str, np.ndarray] = {}

    @property
    def methods(self) -> list[str]:
        """Method names, in the order given."""
        return list(self.scores)

    @property
    def n_clips(self) -> int:
        return int(self.labels.size)

    def clip_scores(self, method: str) -> np.ndarray:
        """Clip anomaly scores of ``method`` (n_clips,), max (or mean) of the frame scores; cached."""
        if method not in self.scores:
            raise ValueError(f"method: expected one of {self.methods}, got {method!r}")
        if method not in self._clip_cache:
            f = np.max if self.aggregate == "max" else np.mean
            self._clip_cache[method] = np.array([f(c) for c in self.scores[method]])
        return self._clip_cache[method]

    def frame_times(self, clip: int) -> np.ndarray:
        """Frame times (s) of one clip, or frame indices when no times were given."""
        if self.times is not None:
            return self.times[clip]
        return np.arange(self.scores[self.methods[0]][clip].size, dtype=np.float64)

    def np_threshold(self, method: str, rho: float) -> float:
        """phi_rho of ``method``: :class:`NeymanPearsonThreshold` fitted on its normal training clip scores."""
        if self.train_scores is None:
            raise ValueError("train_scores: this ScoreSet has no normal training scores to fit phi_rho on")
        return float(NeymanPearsonThreshold(rho).fit(self.train_scores[method]).threshold_)

    def audio_bytes(self, clip: int) -> bytes | None:
        """WAV (or the file's own format) bytes of one clip for ``ipywidgets.Audio``; None without audio."""
        if self.audio is None:
            return None
        a = self.audio[clip]
        if isinstance(a, (str, os.PathLike)):
            p = Path(a)
            return p.read_bytes() if p.is_file() else None
        import soundfile as sf

        buf = io.BytesIO()
        sf.write(buf, np.clip(a, -1.0, 1.0), int(self.sr), format="WAV", subtype="PCM_16")
        return buf.getvalue()

    # ---- persistence: .npz (numbers) + .json (everything else), no pickle ----
    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``scoreset.npz`` and ``scoreset.json`` into ``folder`` (atomically; the JSON last).

        The JSON records the SHA-256 of the npz, so :meth:`load` never pairs halves of two saves.
        Returns the folder.
        """
        folder = Path(folder)
        lengths = np.array([c.size for c in self.scores[self.methods[0]]], dtype=np.int64)
        arrays: dict[str, np.ndarray] = {"labels": self.labels, "frame_counts": lengths}
        for i, m in enumerate(self.methods):
            arrays[f"scores_{i}"] = np.concatenate(self.scores[m])
            if self.train_scores is not None:
                arrays[f"train_{i}"] = self.train_scores[m]
        if self.times is not None:
            arrays["times"] = np.concatenate(self.times)
        audio_paths = None
        if self.audio is not None:
            if all(isinstance(a, (str, os.PathLike)) for a in self.audio):
                audio_paths = [str(a) for a in self.audio]
            else:
                wav = [np.zeros(0, np.float32) if isinstance(a, (str, os.PathLike)) else a for a in self.audio]
                arrays["audio"] = np.concatenate(wav)
                arrays["audio_counts"] = np.array([w.size for w in wav], dtype=np.int64)
        buf = io.BytesIO()
        np.savez_compressed(buf, **arrays)
        data = buf.getvalue()
        atomic_write_bytes(folder / "scoreset.npz", data)
        meta = {
            "format": "adskit.ScoreSet",
            "version": _FORMAT_VERSION,
            "npz_sha256": hashlib.sha256(data).hexdigest(),
            "methods": self.methods,
            "process": self.process,
            "names": self.names,
            "has_train_scores": self.train_scores is not None,
            "has_times": self.times is not None,
            "audio_paths": audio_paths,
            "sr": self.sr,
            "segments": self.segments,
            "aggregate": self.aggregate,
            "info": self.info,
        }
        atomic_write_json(folder / "scoreset.json", meta)
        return folder

    @classmethod
    def exists(cls, folder: str | os.PathLike) -> bool:
        """True when ``folder`` holds a complete saved ScoreSet."""
        folder = Path(folder)
        return (folder / "scoreset.json").is_file() and (folder / "scoreset.npz").is_file()

    @classmethod
    def load(cls, folder: str | os.PathLike) -> ScoreSet:
        """Read a ScoreSet written by :meth:`save` (``np.load(allow_pickle=False)``)."""
        folder = Path(folder)
        meta = json.loads((folder / "scoreset.json").read_text(encoding="utf-8"))
        if meta.get("format") != "adskit.ScoreSet" or meta.get("version") != _FORMAT_VERSION:
            raise ValueError(f"{folder / 'scoreset.json'}: not an adskit ScoreSet of version {_FORMAT_VERSION}")
        data = (folder / "scoreset.npz").read_bytes()
        if hashlib.sha256(data).hexdigest() != meta["npz_sha256"]:
            raise ValueError(f"{folder / 'scoreset.npz'}: does not match scoreset.json (interrupted save?)")
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            cuts = np.cumsum(z["frame_counts"])[:-1]
            scores = {m: np.split(z[f"scores_{i}"], cuts) for i, m in enumerate(meta["methods"])}
            train = {m: z[f"train_{i}"] for i, m in enumerate(meta["methods"])} if meta["has_train_scores"] else None
            times = np.split(z["times"], cuts) if meta["has_times"] else None
            audio = meta["audio_paths"]
            if "audio" in z.files:
                audio = np.split(z["audio"], np.cumsum(z["audio_counts"])[:-1])
            labels = z["labels"]
        segments = meta["segments"]
        if segments is not None:
            segments = [{k: [tuple(s) for s in v] for k, v in d.items()} for d in segments]
        return cls(
            scores=scores,
            labels=labels,
            process=meta["process"],
            names=meta["names"],
            times=times,
            train_scores=train,
            audio=audio,
            sr=meta["sr"],
            segments=segments,
            aggregate=meta["aggregate"],
            info=meta["info"],
        )


def scores_from_detectors(
    detectors: Mapping[str, Any],
    clips: Sequence[np.ndarray],
    labels: Sequence[int],
    process: Sequence[str],
    *,
    train_clips: Sequence[np.ndarray] | None = None,
    aggregate: str = "max",
    **kwargs: Any,
) -> ScoreSet:
    """Score feature clips with fitted detectors and cache the result as a :class:`ScoreSet`.

    Parameters
    ----------
    detectors : dict of str -> fitted detector
        Anything with ``anomaly_score(X) -> (n,)`` (higher = more anomalous), e.g. ``AEDetector``.
    clips : sequence of np.ndarray, each [shape=(T_i, d)]
        Feature vectors (frames) of each test clip.
    labels, process : per clip, see :class:`ScoreSet`
    train_clips : sequence of np.ndarray [shape=(T_j, d)] or None
        Normal training clips; their clip scores become ``train_scores`` (for the rho slider).
    aggregate : {"max", "mean"}
    **kwargs : passed to :class:`ScoreSet` (names, times, audio, sr, segments, info)

    Returns
    -------
    ScoreSet
    """
    counts = [len(c) for c in clips]
    cuts = np.cumsum(counts)[:-1]
    f = np.max if aggregate == "max" else np.mean
    scores, train = {}, {} if train_clips is not None else None
    for name, det in detectors.items():
        scores[name] = np.split(np.asarray(det.anomaly_score(np.concatenate(clips)), np.float64), cuts)
        if train_clips is not None:
            tcounts = np.cumsum([len(c) for c in train_clips])[:-1]
            per = np.split(np.asarray(det.anomaly_score(np.concatenate(train_clips)), np.float64), tcounts)
            train[name] = np.array([f(p) for p in per])
    return ScoreSet(scores, np.asarray(labels), list(process), train_scores=train, aggregate=aggregate, **kwargs)


def demo_scoreset(seed: int = 0, n_frequent: int = 40, n_rare: int = 10, n_anomaly: int = 30) -> ScoreSet:
    """A ScoreSet of SYNTHETIC SCORE DISTRIBUTIONS for widget tests and benchmarks: NO detector is trained.

    It imitates what the paper reports, so that the panels have something realistic to show: on the
    rare-normal segment of a clip, "RE" scores rise (the mean-trained autoencoder reconstructs the rare
    process badly) while "BU" scores stay flat; "SNP" sits between. Anomalous segments rise for every method.
    Never present these numbers as results: ``info["kind"] == "demo"`` and the panel says so.

    Returns
    -------
    ScoreSet with methods RE, SNP, BU; 100 frames of 0.032 s per clip; waveforms at 8 kHz (0.5 s of tone)
    """
    rng = np.random.default_rng(seed)
    n = n_frequent + n_rare + n_anomaly
    T, dt = 100, 0.032
    process = ["frequent"] * n_frequent + ["rare"] * n_rare + ["anomaly"] * n_anomaly
    rise = {"RE": 2.2, "SNP": 1.2, "BU": 0.25}  # score lift of the rare-normal segment, per method
    scores: dict[str, list[np.ndarray]] = {m: [] for m in rise}
    segments = []
    for p in process:
        seg: dict[str, list[tuple[float, float]]] = {"rare": [], "anomaly": []}
        mask = np.zeros(T, dtype=bool)
        if p != "frequent":
            a = int(rng.integers(10, 60))
            b = a + int(rng.integers(15, 35))
            mask[a:b] = True
            seg["rare" if p == "rare" else "anomaly"].append((round(a * dt, 4), round(b * dt, 4)))
        segments.append(seg)
        base = rng.gamma(4.0, 0.25, size=T)
        for m, r in rise.items():
            s = base * rng.uniform(0.9, 1.1, size=T)
            if p == "rare":
                s = s + mask * r * rng.uniform(0.8, 1.2, size=T)
            elif p == "anomaly":
                s = s + mask * rng.uniform(1.5, 3.5) * rng.uniform(0.8, 1.2, size=T)
            scores[m].append(s)
    train = {m: np.max(rng.gamma(4.0, 0.25, size=(60, T)), axis=1) for m in rise}
    for m, r in rise.items():  # 10 % of the training clips hold the rare process too
        train[m][:6] += r
    times = [dt * np.arange(T) for _ in range(n)]
    sr = 8000
    tt = np.arange(sr // 2) / sr
    audio = [0.2 * np.sin(2 * np.pi * (220 + 40 * (p != "frequent")) * tt).astype(np.float32) for p in process]
    labels = np.array([p == "anomaly" for p in process], dtype=int)
    return ScoreSet(
        scores,
        labels,
        process,
        names=[f"{p}_{i:03d}" for i, p in enumerate(process)],
        times=times,
        train_scores=train,
        audio=audio,
        sr=sr,
        segments=segments,
        info={"kind": "demo", "title": "demo scores (synthetic distributions, no detector trained)"},
    )


# ------------------------------------------------------------------------------------ pure computations


def threshold_state(scoreset: ScoreSet, method: str, threshold: float, clip: int | None = None) -> dict[str, Any]:
    """Counts and rates of the rule ``clip score > threshold`` for one method.

    Parameters
    ----------
    scoreset : ScoreSet
    method : str
    threshold : float, on the method's anomaly-score scale (higher = more anomalous)
    clip : int or None, a clip whose above-threshold frames to list

    Returns
    -------
    dict
        ``threshold``; ``fp_rare`` / ``n_rare`` (false alarms on rare-normal clips), ``fp_frequent`` /
        ``n_frequent``, ``fp`` / ``n_normal``; ``tp`` / ``n_anomaly``, ``fn``; ``fpr`` = fp / n_normal and
        ``tpr`` = tp / n_anomaly (the ROC point; lower fpr and higher tpr are better), ``fpr_rare``,
        ``fpr_frequent``; with ``clip``: ``highlighted`` (int array of frame indices above threshold) and
        ``clip_alarm`` (bool).
    """
    s = scoreset.clip_scores(method)
    thr = float(threshold)
    alarm = s > thr
    proc = np.asarray(scoreset.process)
    rare, freq, anom = proc == "rare", proc == "frequent", proc == "anomaly"
    out: dict[str, Any] = {"method": method, "threshold": thr}
    out["fp_rare"], out["n_rare"] = int((alarm & rare).sum()), int(rare.sum())
    out["fp_frequent"], out["n_frequent"] = int((alarm & freq).sum()), int(freq.sum())
    out["fp"], out["n_normal"] = out["fp_rare"] + out["fp_frequent"], out["n_rare"] + out["n_frequent"]
    out["tp"], out["n_anomaly"] = int((alarm & anom).sum()), int(anom.sum())
    out["fn"] = out["n_anomaly"] - out["tp"]

    def rate(k: int, n: int) -> float:
        return k / n if n else float("nan")

    out["fpr"], out["tpr"] = rate(out["fp"], out["n_normal"]), rate(out["tp"], out["n_anomaly"])
    out["fpr_rare"], out["fpr_frequent"] = (
        rate(out["fp_rare"], out["n_rare"]),
        rate(out["fp_frequent"], out["n_frequent"]),
    )
    if clip is not None:
        frames = scoreset.scores[method][int(clip)]
        out["highlighted"] = np.flatnonzero(frames > thr)
        out["clip_alarm"] = bool(alarm[int(clip)])
    return out


def pairwise_sq_dists(x: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (B, B), float64, diagonal 0 (centred first, as :mod:`adskit.kde` does)."""
    z = np.asarray(x, dtype=np.float64)
    z = z - z.mean(0, keepdims=True)
    sq = np.einsum("ij,ij->i", z, z)
    d2 = sq[:, None] + sq[None, :] - 2.0 * (z @ z.T)
    np.maximum(d2, 0.0, out=d2)
    np.fill_diagonal(d2, 0.0)
    return d2


def bandwidth_state(d2: np.ndarray, h: float, eps: float = 1e-6, condition: bool = True) -> dict[str, Any]:
    """BU weights and Gram diagnostics of a batch from its cached squared distances.

    Same numbers as :func:`adskit.kde.bu_weights` and :func:`adskit.kde.gram_diagnostics` (tested against
    them), without recomputing the distances.

    Parameters
    ----------
    d2 : np.ndarray [shape=(B, B)], squared pairwise distances (see :func:`pairwise_sq_dists`)
    h : float > 0, bandwidth; eps : float >= 0, regulariser of eq 16
    condition : bool, also compute cond(K) (one symmetric eigen-decomposition, the costly part)

    Returns
    -------
    dict
        ``weights`` (B,) summing to 1 (higher = rarer sample), ``p_hat`` (B,), ``mean_offdiag``,
        ``condition_number`` (nan if not computed), ``weight_ratio`` (max/min w), ``ess_fraction``
        (1 = uniform), ``status`` ("ok" | "identity" | "ill-conditioned", the Gram rule) and ``weights_status``
        ("ok" | "uniform" | "collapsed", the BandwidthWarning rule).
    """
    h = check_positive(h, "h")
    eps = check_positive(eps, "eps", strict=False)
    B = d2.shape[0]
    K = np.exp(d2 * (-0.5 / (h * h)))
    p = K.mean(1)
    inv = 1.0 / (p + eps)
    w = inv / inv.sum()
    mean_off = float((p.sum() * B - B) / (B * (B - 1)))
    ess = 1.0 / float(w @ w) / B
    cond = float("nan")
    if condition:
        ev = np.linalg.eigvalsh(K)
        cond = float(ev[-1] / ev[0]) if ev[0] > 0 else float("inf")
    status = "identity" if mean_off < IDENTITY_BELOW else ("ill-conditioned" if mean_off > ILL_ABOVE else "ok")
    wstatus = "uniform" if ess > ESS_UNIFORM_ABOVE else ("collapsed" if ess < ESS_COLLAPSED_BELOW else "ok")
    return {
        "h": h,
        "eps": eps,
        "weights": w,
        "p_hat": p,
        "mean_offdiag": mean_off,
        "condition_number": cond,
        "weight_ratio": float(w.max() / w.min()),
        "ess_fraction": ess,
        "status": status,
        "weights_status": wstatus,
    }


def pca_2d(x: np.ndarray) -> np.ndarray:
    """First two principal components of ``x`` (B, D) as (B, 2); ``x`` itself when D <= 2 (padded to 2)."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[1] == 2:
        return x
    if x.shape[1] == 1:
        return np.column_stack([x[:, 0], np.zeros(x.shape[0])])
    z = x - x.mean(0)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    return z @ vt[:2].T


# ------------------------------------------------------------------------------------------- rendering


class _BlitFigure:
    """A matplotlib Figure on an Agg canvas: static parts drawn once, animated artists blitted, PNG out."""

    def __init__(self, figsize: tuple[float, float], dpi: int = 80) -> None:
        self.fig = Figure(figsize=figsize, dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.animated: list[Any] = []
        self._bg = None

    def animate(self, artist: Any) -> Any:
        artist.set_animated(True)
        self.animated.append(artist)
        return artist

    def invalidate(self) -> None:
        """Redraw the static background on the next render (after axes limits or static artists changed)."""
        self._bg = None

    def render(self) -> bytes:
        from PIL import Image

        if self._bg is None:
            self.canvas.draw()
            self._bg = self.canvas.copy_from_bbox(self.fig.bbox)
        else:
            self.canvas.restore_region(self._bg)
        for a in self.animated:
            if a.get_visible():
                a.axes.draw_artist(a)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(self.canvas.buffer_rgba())).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()


def _spans(segs: Sequence[tuple[float, float]], y0: float, y1: float) -> list[np.ndarray]:
    return [np.array([[a, y0], [b, y0], [b, y1], [a, y1]]) for a, b in segs]


# ------------------------------------------------------------------------------------ threshold panel


class ThresholdExplorer(widgets.VBox):
    """Threshold panel over a :class:`ScoreSet` (build it with :func:`threshold_explorer`).

    Widgets (all public attributes): ``mode`` (ToggleButtons "rho" | "threshold"), ``rho`` (slider of the
    target false-alarm rate), ``threshold`` (slider of the raw threshold of ``method``), ``method``
    (Dropdown), ``clip`` (Dropdown of clip indices), ``counts`` (HTML table), ``summary`` (Label, CSS class
    ``adskit-fp-count``), ``image`` (the figure), ``audio``.

    ``state`` holds, after every update: ``mode``, ``rho``, ``thresholds`` {method: float}, ``methods``
    {method: :func:`threshold_state` dict, including ``highlighted`` frames of the selected clip}, ``clip``,
    ``update_ms`` (wall time of the last update, figure included).
    """

    def __init__(
        self,
        scoreset: ScoreSet,
        rho: float = 0.05,
        mode: str | None = None,
        clip: int | None = None,
        figsize: tuple[float, float] | None = None,
        dpi: int = 80,
    ) -> None:
        self.scoreset = ss = scoreset
        self.state: dict[str, Any] = {}
        self._syncing = False
        has_train = ss.train_scores is not None
        mode = mode or ("rho" if has_train else "threshold")
        if mode not in ("rho", "threshold"):
            raise ValueError(f"mode: expected 'rho' or 'threshold', got {mode!r}")
        if mode == "rho" and not has_train:
            raise ValueError("mode: 'rho' needs a ScoreSet with train_scores")
        m0 = ss.methods[0]
        self._thresholds = (
            {m: ss.np_threshold(m, rho) for m in ss.methods}
            if has_train
            else {m: float(np.quantile(ss.clip_scores(m), 0.9)) for m in ss.methods}
        )
        style = {"description_width": "initial"}
        self.mode = widgets.ToggleButtons(
            options=[("target false-alarm rate ρ", "rho"), ("raw threshold", "threshold")]
            if has_train
            else [("raw threshold", "threshold")],
            value=mode,
            description="slider sets:",
            style={"description_width": "initial", "button_width": "190px"},
        )
        self.rho = widgets.FloatSlider(
            value=float(rho),
            min=0.01,
            max=0.5,
            step=0.01,
            description="ρ (false-alarm rate)",
            continuous_update=False,
            readout_format=".2f",
            style=style,
            layout=widgets.Layout(width="480px"),
        )
        self.rho.add_class("adskit-rho-slider")
        self.method = widgets.Dropdown(options=ss.methods, value=m0, description="method:", style=style)
        lo, hi = self._range(m0)
        self.threshold = widgets.FloatSlider(
            value=float(np.clip(self._thresholds[m0], lo, hi)),
            min=lo,
            max=hi,
            step=(hi - lo) / 200,
            description="threshold φ",
            continuous_update=False,
            readout_format=".4g",
            style=style,
            layout=widgets.Layout(width="480px"),
        )
        self.threshold.add_class("adskit-threshold-slider")
        if clip is None:  # start on a rare-normal clip: the lecture's point
            rare = [i for i, p in enumerate(ss.process) if p == "rare"]
            clip = rare[0] if rare else 0
        self.clip = widgets.Dropdown(
            options=[(f"{i}: [{p}] {nm}", i) for i, (p, nm) in enumerate(zip(ss.process, ss.names, strict=True))],
            value=int(clip),
            description="clip:",
            style=style,
            layout=widgets.Layout(width="480px"),
        )
        self.clip.add_class("adskit-clip")
        self.counts = widgets.HTML()
        self.counts.add_class("adskit-counts")
        self.summary = widgets.Label()
        self.summary.add_class("adskit-fp-count")
        self.image = widgets.Image(format="png")
        self.image.add_class("adskit-figure")
        self.audio = widgets.Audio(format="wav", autoplay=False, loop=False)
        self.audio.add_class("adskit-audio")
        self._audio_note = widgets.HTML()
        title = ss.info.get("title", "")
        head = f"<b>Thresholds</b> &mdash; {len(ss.methods)} methods, {ss.n_clips} clips"
        if ss.info.get("kind") == "demo":
            head += " &mdash; <span style='color:#b00'>DEMO SCORES: no detector was trained</span>"
        elif title:
            head += f" &mdash; {title}"
        self._build_figure(figsize, dpi)
        super().__init__(
            [
                widgets.HTML(head),
                self.mode,
                widgets.HBox([self.rho, self.threshold, self.method]),
                self.summary,
                self.counts,
                self.clip,
                self.image,
                widgets.HBox([self.audio, self._audio_note]),
            ]
        )
        self.add_class("adskit-threshold-explorer")
        self.mode.observe(self._on_mode, names="value")
        self.rho.observe(self._on_rho, names="value")
        self.threshold.observe(self._on_threshold, names="value")
        self.method.observe(self._on_method, names="value")
        self.clip.observe(self._on_clip, names="value")
        self._show_mode(mode)
        self._load_audio(int(clip))
        self.update()

    # ---- figure ----
    def _range(self, method: str) -> tuple[float, float]:
        s = self.scoreset.clip_scores(method)
        lo, hi = float(s.min()), float(s.max())
        pad = 0.02 * (hi - lo or 1.0)
        return lo - pad, hi + pad

    def _build_figure(self, figsize: tuple[float, float] | None, dpi: int) -> None:
        ss = self.scoreset
        n = len(ss.methods)
        self._fig = bf = _BlitFigure(figsize or (10.0, 1.1 + 1.15 * n), dpi=dpi)
        gs = bf.fig.add_gridspec(
            n, 2, width_ratios=(1.0, 2.4), left=0.07, right=0.98, bottom=0.12, top=0.9, wspace=0.22, hspace=0.35
        )
        ax_roc = bf.fig.add_subplot(gs[:, 0])
        self._roc_pts = {}
        self._lines, self._above, self._hlines, self._spans, self._span_y = {}, {}, {}, {}, {}
        tmax = max(float(ss.frame_times(i)[-1]) for i in range(ss.n_clips))
        for k, m in enumerate(ss.methods):
            c = _color(m, k)
            if 0 < ss.labels.sum() < ss.n_clips:
                fpr, tpr, _ = roc(ss.labels, ss.clip_scores(m))
                ax_roc.plot(fpr, tpr, color=c, lw=1.2, label=m)
            (self._roc_pts[m],) = ax_roc.plot([], [], "o", color=c, ms=8, mec="k")
            bf.animate(self._roc_pts[m])
            ax = bf.fig.add_subplot(gs[k, 1])
            allv = np.concatenate(ss.scores[m])
            lo, hi = float(allv.min()), float(allv.max())
            pos = lo > 0 and hi / lo > 50
            if pos:
                ax.set_yscale("log")
                ax.set_ylim(lo / 1.3, hi * 1.3)
            else:
                ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.1 * (hi - lo))
            ax.set_xlim(0, tmax)
            ax.set_ylabel(m, color=c, fontsize=9)
            ax.tick_params(labelsize=7)
            if k < n - 1:
                ax.tick_params(labelbottom=False)
            y0, y1 = ax.get_ylim()
            self._spans[m] = bf.animate(ax.add_collection(PolyCollection([], facecolors=[], alpha=0.25, lw=0)))
            self._span_y[m] = (y0, y1)
            (self._lines[m],) = ax.plot([], [], color=c, lw=1.0)
            (self._above[m],) = ax.plot([], [], "o", color="k", ms=2.5, mfc="gold")
            self._hlines[m] = ax.axhline(y0, color="k", ls="--", lw=0.8)
            for a in (self._lines[m], self._above[m], self._hlines[m]):
                bf.animate(a)
        ax.set_xlabel("time (s)" if ss.times is not None else "frame", fontsize=8)
        ax_roc.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls=":")
        ax_roc.set_xlim(-0.02, 1.02)
        ax_roc.set_ylim(-0.02, 1.02)
        ax_roc.set_xlabel("false-positive rate (normal clips)", fontsize=8)
        ax_roc.set_ylabel("true-positive rate", fontsize=8)
        ax_roc.tick_params(labelsize=7)
        ax_roc.set_title("ROC, dots = current thresholds", fontsize=9)
        ax_roc.legend(loc="lower right", fontsize=7)
        bf.fig.text(
            0.36,
            0.955,
            "selected clip: frame scores (dots above φ; shaded orange = rare-normal, red = anomaly)",
            fontsize=8,
        )

    # ---- callbacks (read only their argument and the panel itself) ----
    def _on_mode(self, change: dict) -> None:
        self._show_mode(change["new"])
        if change["new"] == "rho":
            self._set_rho_thresholds(self.rho.value)
        self.update()

    def _on_rho(self, change: dict) -> None:
        if self._syncing:
            return
        self._set_rho_thresholds(change["new"])
        self.update()

    def _on_threshold(self, change: dict) -> None:
        if self._syncing:
            return
        self._thresholds[self.method.value] = float(change["new"])
        self.update()

    def _on_method(self, change: dict) -> None:
        m = change["new"]
        lo, hi = self._range(m)
        self._syncing = True
        try:
            with self.threshold.hold_trait_notifications():
                self.threshold.max = max(hi, self.threshold.min)
                self.threshold.min = lo
                self.threshold.max = hi
                self.threshold.step = (hi - lo) / 200
                self.threshold.value = float(np.clip(self._thresholds[m], lo, hi))
        finally:
            self._syncing = False
        self.update()

    def _on_clip(self, change: dict) -> None:
        self._load_audio(int(change["new"]))
        self.update()

    # ---- helpers ----
    def _show_mode(self, mode: str) -> None:
        self.rho.layout.display = None if mode == "rho" else "none"
        self.threshold.layout.display = "none" if mode == "rho" else None
        self.method.layout.display = "none" if mode == "rho" else None

    def _set_rho_thresholds(self, rho: float) -> None:
        for m in self.scoreset.methods:
            self._thresholds[m] = self.scoreset.np_threshold(m, rho)

    def _load_audio(self, clip: int) -> None:
        data = self.scoreset.audio_bytes(clip)
        self.audio.value = data or b""
        self.audio.layout.display = None if data else "none"
        self._audio_note.value = "" if data else "<i>no audio for this clip</i>"

    def update(self) -> dict[str, Any]:
        """Recompute every count from the cached scores and redraw; returns ``state``."""
        t0 = time.perf_counter()
        ss, clip = self.scoreset, int(self.clip.value)
        per = {m: threshold_state(ss, m, self._thresholds[m], clip=clip) for m in ss.methods}
        self.state = {
            "mode": self.mode.value,
            "rho": float(self.rho.value),
            "thresholds": dict(self._thresholds),
            "methods": per,
            "clip": clip,
            "process": ss.process[clip],
        }
        self.counts.value = self._table(per)
        self.summary.value = "false alarms (rare-normal / frequent-normal): " + " · ".join(
            f"{m} {s['fp_rare']}/{s['fp_frequent']}" for m, s in per.items()
        )
        self._draw(per, clip)
        self.state["update_ms"] = 1000.0 * (time.perf_counter() - t0)
        return self.state

    def _table(self, per: dict[str, dict[str, Any]]) -> str:
        rho_col = self.mode.value == "rho"
        head = (
            "<tr><th>method</th><th>threshold φ</th><th>false alarms, rare-normal</th>"
            "<th>false alarms, frequent-normal</th><th>detections (TP)</th><th>ROC point (FPR, TPR)</th>"
            "<th>selected clip: frames &gt; φ</th></tr>"
        )
        rows = []

        def alarm(s: dict[str, Any]) -> str:
            return " &rarr; <b>alarm</b>" if s["clip_alarm"] else ""

        for m, s in per.items():
            rows.append(
                f"<tr><td><b>{m}</b></td><td>{s['threshold']:.4g}{' (φ<sub>ρ</sub>)' if rho_col else ''}</td>"
                f"<td class='adskit-fp-rare' data-method='{m}'>{s['fp_rare']} / {s['n_rare']}</td>"
                f"<td class='adskit-fp-frequent' data-method='{m}'>{s['fp_frequent']} / {s['n_frequent']}</td>"
                f"<td class='adskit-tp' data-method='{m}'>{s['tp']} / {s['n_anomaly']}</td>"
                f"<td class='adskit-roc' data-method='{m}'>({s['fpr']:.2f}, {s['tpr']:.2f})</td>"
                f"<td class='adskit-frames' data-method='{m}'>{s['highlighted'].size} of "
                f"{self.scoreset.scores[m][self.state['clip']].size}{alarm(s)}</td></tr>"
            )
        style = "border-collapse:collapse;font-size:13px"
        return f"<table style='{style}' cellpadding='4' border='1'>{head}{''.join(rows)}</table>"

    def _draw(self, per: dict[str, dict[str, Any]], clip: int) -> None:
        ss = self.scoreset
        t = ss.frame_times(clip)
        seg = ss.segments[clip] if ss.segments is not None else {}
        for m, s in per.items():
            self._roc_pts[m].set_data([s["fpr"]], [s["tpr"]])
            y = ss.scores[m][clip]
            self._lines[m].set_data(t, y)
            h = s["highlighted"]
            self._above[m].set_data(t[h], y[h])
            self._hlines[m].set_ydata([s["threshold"], s["threshold"]])
            y0, y1 = self._span_y[m]
            verts = _spans(seg.get("rare", []), y0, y1) + _spans(seg.get("anomaly", []), y0, y1)
            colors = ["orange"] * len(seg.get("rare", [])) + ["red"] * len(seg.get("anomaly", []))
            self._spans[m].set_verts(verts)
            self._spans[m].set_facecolors(colors)
        self.image.value = self._fig.render()


def threshold_explorer(
    scoreset: ScoreSet, rho: float = 0.05, mode: str | None = None, **kwargs: Any
) -> ThresholdExplorer:
    """Build the threshold panel (see :class:`ThresholdExplorer`).

    Parameters
    ----------
    scoreset : ScoreSet, cached scores (see :func:`scores_from_detectors`)
    rho : float, initial target false-alarm rate
    mode : "rho" | "threshold" | None (rho when the ScoreSet has training scores)
    **kwargs : clip (initial clip index), figsize, dpi

    Returns
    -------
    ThresholdExplorer (an ``ipywidgets.VBox``); display it, read ``.state``.

    Examples
    --------
    >>> panel = threshold_explorer(demo_scoreset(0))
    >>> panel.rho.value = 0.2
    >>> panel.state["rho"]
    0.2
    """
    return ThresholdExplorer(scoreset, rho=rho, mode=mode, **kwargs)


# ------------------------------------------------------------------------------------ bandwidth panel


class BandwidthExplorer(widgets.VBox):
    """Bandwidth panel over one batch of normal vectors (build it with :func:`bandwidth_explorer`).

    Widgets: ``h`` and ``eps`` (log sliders), ``status`` (HTML, CSS class ``adskit-bw-status``), ``image``.
    ``state`` is the :func:`bandwidth_state` dict of the current (h, eps) plus ``update_ms``.
    """

    def __init__(
        self,
        x: Any,
        h: float | None = None,
        eps: float = 1e-6,
        standardize: Any = None,
        max_points: int = 400,
        random_state: int = 0,
        dpi: int = 80,
    ) -> None:
        import torch

        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 3:
            raise ValueError(f"x: expected a (B, D) batch with B >= 3, got shape {x.shape}")
        if x.shape[0] > max_points:
            x = x[np.random.default_rng(random_state).choice(x.shape[0], max_points, replace=False)]
        z = standardize_with(torch.as_tensor(x), standardize)
        z = z.numpy() if isinstance(z, torch.Tensor) else np.asarray(z)
        self.x = x
        with threadpool_limits(1):
            self.d2 = pairwise_sq_dists(z)
        self.xy = pca_2d(z)
        self.projected = x.shape[1] > 2
        h0 = float(h) if h is not None else median_heuristic(z)
        self.h0 = h0
        self.state: dict[str, Any] = {}
        # eps-independent curves over an h grid, computed once: p_hat (G, B) and the mean off-diagonal
        lg = np.log10(h0)
        self._hgrid = np.logspace(lg - 2, lg + 2, 49)
        B = self.d2.shape[0]
        self._pgrid = np.stack([np.exp(self.d2 * (-0.5 / (g * g))).mean(1) for g in self._hgrid])
        self._offgrid = (self._pgrid.sum(1) * B - B) / (B * (B - 1))
        style = {"description_width": "initial"}
        self.h = widgets.FloatLogSlider(
            value=h0, base=10, min=lg - 2, max=lg + 2, step=0.02, description="bandwidth h",
            continuous_update=False, readout_format=".3g", style=style, layout=widgets.Layout(width="460px"),
        )  # fmt: skip
        self.h.add_class("adskit-h-slider")
        self.eps = widgets.FloatLogSlider(
            value=max(float(eps), 1e-9), base=10, min=-9, max=0, step=0.25, description="eps",
            continuous_update=False, readout_format=".1e", style=style, layout=widgets.Layout(width="460px"),
        )  # fmt: skip
        self.eps.add_class("adskit-eps-slider")
        self.status = widgets.HTML()
        self.status.add_class("adskit-bw-status")
        self.image = widgets.Image(format="png")
        self.image.add_class("adskit-figure")
        self._build_figure(dpi)
        head = f"<b>Bandwidth explorer</b> &mdash; batch of {B} vectors of dimension {x.shape[1]}"
        if self.projected:
            head += " (drawn on its first two principal components)"
        super().__init__([widgets.HTML(head), widgets.HBox([self.h, self.eps]), self.status, self.image])
        self.add_class("adskit-bandwidth-explorer")
        self.h.observe(self._on_change, names="value")
        self.eps.observe(self._on_change, names="value")
        self.update()

    def _build_figure(self, dpi: int) -> None:
        import matplotlib as mpl

        self._fig = bf = _BlitFigure((10.0, 3.6), dpi=dpi)
        ax, ax2 = bf.fig.subplots(
            1, 2, gridspec_kw={"left": 0.06, "right": 0.93, "bottom": 0.15, "top": 0.9, "wspace": 0.3}
        )
        B = self.d2.shape[0]
        self._norm = mpl.colors.LogNorm(vmin=0.1, vmax=float(min(B, 30)))
        self._sc = bf.animate(
            ax.scatter(self.xy[:, 0], self.xy[:, 1], c=np.ones(B), s=8, cmap="magma", norm=self._norm)
        )
        bf.fig.colorbar(self._sc, ax=ax, label="weight × B (1 = uniform)")
        ax.set_title("BU weights" + (" (PCA projection)" if self.projected else ""), fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
        ax.tick_params(labelsize=7)
        ax2.set_xscale("log")
        ax2.plot(self._hgrid, self._offgrid, color="tab:blue", label="mean off-diagonal K")
        lo_ok = self._hgrid[self._offgrid >= IDENTITY_BELOW]
        hi_ok = self._hgrid[self._offgrid <= ILL_ABOVE]
        g0, g1 = self._hgrid[0], self._hgrid[-1]
        if lo_ok.size and lo_ok[0] > g0:
            ax2.axvspan(g0, lo_ok[0], color="0.85", label="K ≈ identity")
        if hi_ok.size and hi_ok[-1] < g1:
            ax2.axvspan(hi_ok[-1], g1, color="0.7", label="K ill-conditioned")
        for yv in (ESS_UNIFORM_ABOVE, ESS_COLLAPSED_BELOW):
            ax2.axhline(yv, color="tab:orange", ls=":", lw=0.8)
        (self._ess_line,) = ax2.plot([], [], color="tab:orange", label="ESS / B of the weights")
        (self._warn_pts,) = ax2.plot([], [], "x", color="tab:red", ms=4, label="BandwidthWarning")
        self._vline = ax2.axvline(self.h0, color="k", lw=1.0)
        for a in (self._ess_line, self._warn_pts, self._vline):
            bf.animate(a)
        ax2.set_xlim(g0, g1)
        ax2.set_ylim(-0.03, 1.03)
        ax2.set_xlabel("h", fontsize=8)
        ax2.tick_params(labelsize=7)
        ax2.set_title("Gram diagnostics and warning zones", fontsize=9)
        ax2.legend(loc="center left", fontsize=7)

    def _on_change(self, change: dict) -> None:
        self.update()

    def update(self) -> dict[str, Any]:
        """Recompute the weights and diagnostics from the cached distances and redraw; returns ``state``."""
        t0 = time.perf_counter()
        h, eps = float(self.h.value), float(self.eps.value)
        with threadpool_limits(1):  # small matrices: BLAS threads on a busy machine only add waiting
            st = bandwidth_state(self.d2, h, eps)
        B = st["weights"].size
        rel = st["weights"] * B
        self._sc.set_array(rel)
        self._sc.set_sizes(6.0 + 40.0 * np.clip(rel / max(rel.max(), 1e-12), 0, 1))
        inv = 1.0 / (self._pgrid + eps)
        w = inv / inv.sum(1, keepdims=True)
        ess = 1.0 / (w * w).sum(1) / B
        bad = (ess > ESS_UNIFORM_ABOVE) | (ess < ESS_COLLAPSED_BELOW)
        self._ess_line.set_data(self._hgrid, ess)
        self._warn_pts.set_data(self._hgrid[bad], ess[bad])
        self._vline.set_xdata([h, h])
        self.image.value = self._fig.render()
        ok = st["status"] == "ok" and st["weights_status"] == "ok"
        colour = "#080" if ok else "#b00"
        self.status.value = (
            f"h = {h:.3g}, eps = {eps:.1e} &nbsp;|&nbsp; mean off-diagonal K = {st['mean_offdiag']:.3g} "
            f"(ok in [{IDENTITY_BELOW}, {ILL_ABOVE}]) &nbsp;|&nbsp; cond(K) = {st['condition_number']:.3g} "
            f"&nbsp;|&nbsp; max/min weight = {st['weight_ratio']:.3g} &nbsp;|&nbsp; ESS = {st['ess_fraction']:.1%} "
            f"&nbsp;|&nbsp; <b style='color:{colour}'>Gram: {st['status']}, weights: {st['weights_status']}</b>"
        )
        st["update_ms"] = 1000.0 * (time.perf_counter() - t0)
        self.state = st
        return st


def bandwidth_explorer(
    x: Any, h: float | None = None, eps: float = 1e-6, standardize: Any = None, **kwargs: Any
) -> BandwidthExplorer:
    """Build the bandwidth panel (see :class:`BandwidthExplorer`).

    Parameters
    ----------
    x : array-like [shape=(B, D)], one batch of normal vectors (2-D points or feature vectors; at most
        ``max_points`` are kept, drawn with ``random_state``)
    h : float or None, initial bandwidth (None: :func:`adskit.kde.median_heuristic`); the slider spans
        1/100 to 100 times it
    eps : float, initial regulariser of the BU weights (eq 16)
    standardize : None, (mean, std) or fitted scaler, applied before the KDE (as in ``bu_weights``)
    **kwargs : max_points (400), random_state (0), dpi (80)

    Returns
    -------
    BandwidthExplorer (an ``ipywidgets.VBox``); display it, read ``.state``.

    Examples
    --------
    >>> from adskit.experiments.verification import make_ring_data
    >>> panel = bandwidth_explorer(make_ring_data(300, 0.0, 2.0, random_state=0))
    >>> panel.h.value = panel.h0 / 100
    >>> panel.state["status"]
    'identity'
    """
    return BandwidthExplorer(x, h=h, eps=eps, standardize=standardize, **kwargs)
