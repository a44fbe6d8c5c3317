"""The ScoreSet: cached frame scores of several methods on the same labelled clips, and how to make one.

* :class:`ScoreSet` - frame scores of several methods on the same labelled clips, with their normal training
  clip scores (for phi_rho), audio and segments; saved as ``.npz`` + ``.json`` (no pickle).
* :func:`scores_from_detectors` builds one from fitted detectors; :func:`demo_scoreset` fakes one for tests.

Directions: every score is an anomaly score, **higher = more anomalous**.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .._utils import atomic_write_bytes, atomic_write_json
from ..threshold import NeymanPearsonThreshold
from .clips import check_aggregate, clip_scores

__all__ = ["PROCESSES", "UNLABELLED", "ScoreSet", "demo_scoreset", "scores_from_detectors"]

#: per-clip process tags of a ScoreSet: normal frequent process, normal rare process, anomalous clip, and a clip
#: without a label (an analyst's new recordings: counted as alarms, left out of every rate and the ROC)
PROCESSES = ("frequent", "rare", "anomaly", "unlabelled")
#: the label of an unlabelled clip
UNLABELLED = -1
_FORMAT_VERSION = 1


@dataclass
class ScoreSet:
    """Cached frame anomaly scores of several methods on the same labelled clips.

    Parameters
    ----------
    scores : dict of str -> list of np.ndarray, each [shape=(T_i,)]
        Per method, the frame anomaly scores of every clip (higher = more anomalous). Every method has the
        same clips with the same frame counts.
    labels : np.ndarray [shape=(n_clips,)]
        1 = anomalous clip, 0 = normal clip, -1 (:data:`UNLABELLED`) = not known.
    process : sequence of str [len n_clips]
        ``"frequent"`` (normal, frequent process), ``"rare"`` (normal, contains the rare-normal process),
        ``"anomaly"`` or ``"unlabelled"``; ``"anomaly"`` exactly where ``labels == 1``, ``"unlabelled"`` exactly
        where ``labels == -1``.
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
        Clip score from frame scores (WASPAA 2019 eq 11 uses the max), see :func:`clip_scores`.
    info : dict
        JSON-serialisable notes on where the scores came from (shown in the panel's title).

    Raises
    ------
    ValueError
        If the fields disagree: no methods or clips, labels not 0/1/-1, unknown or inconsistent process tags,
        clip or frame counts that differ between fields, non-finite scores, waveform audio without ``sr``,
        an unknown ``aggregate``.
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
        if not np.isin(self.labels, (0, 1, UNLABELLED)).all():
            raise ValueError("labels: expected 0 (normal), 1 (anomalous) or -1 (not known)")
        if len(self.process) != n:
            raise ValueError(f"process: {len(self.process)} tags for {n} clips")
        bad = sorted(set(self.process) - set(PROCESSES))
        if bad:
            raise ValueError(f"process: unknown tags {bad}; expected {PROCESSES}")
        if any((p == "anomaly") != (y == 1) for p, y in zip(self.process, self.labels, strict=True)):
            raise ValueError("process: 'anomaly' must be exactly the clips with label 1")
        if any((p == "unlabelled") != (y == UNLABELLED) for p, y in zip(self.process, self.labels, strict=True)):
            raise ValueError("process: 'unlabelled' must be exactly the clips with label -1")
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
        check_aggregate(self.aggregate)
        self._clip_cache: dict[str, np.ndarray] = {}

    @property
    def methods(self) -> list[str]:
        """Method names, in the order given."""
        return list(self.scores)

    @property
    def n_clips(self) -> int:
        """Number of test clips."""
        return int(self.labels.size)

    def _check_method(self, method: str) -> None:
        if method not in self.scores:
            raise ValueError(f"method: expected one of {self.methods}, got {method!r}")

    def clip_scores(self, method: str) -> np.ndarray:
        """Clip anomaly scores of ``method``, shape (n_clips,): :func:`clip_scores` with ``aggregate``; cached.

        Raises
        ------
        ValueError
            If ``method`` is not one of :attr:`methods`.
        """
        self._check_method(method)
        if method not in self._clip_cache:
            self._clip_cache[method] = clip_scores(self.scores[method], self.aggregate)
        return self._clip_cache[method]

    def frame_times(self, clip: int) -> np.ndarray:
        """Frame times (s) of one clip, shape (T_clip,), or frame indices when no times were given."""
        if self.times is not None:
            return self.times[clip]
        return np.arange(self.scores[self.methods[0]][clip].size, dtype=np.float64)

    def phi_rho(self, method: str, rho: float) -> float:
        """phi_rho of ``method``: :class:`NeymanPearsonThreshold` fitted on its normal training clip scores.

        Raises
        ------
        ValueError
            If the ScoreSet has no ``train_scores``, ``method`` is unknown, or ``rho`` is not in (0, 1).
        """
        if self.train_scores is None:
            raise ValueError("train_scores: this ScoreSet has no normal training scores to fit phi_rho on")
        self._check_method(method)
        return float(NeymanPearsonThreshold(rho).fit(self.train_scores[method]).threshold_)

    def np_threshold(self, method: str, rho: float) -> float:
        """Deprecated name of :meth:`phi_rho` (renamed because ``np_`` reads as NumPy); kept for old scripts.

        Warns
        -----
        FutureWarning
            Always; the name will be removed.
        """
        warnings.warn(
            "ScoreSet.np_threshold is deprecated: use ScoreSet.phi_rho (the same threshold)", FutureWarning, 2
        )
        return self.phi_rho(method, rho)

    def audio_bytes(self, clip: int) -> bytes | None:
        """WAV (or the file's own format) bytes of one clip for ``ipywidgets.Audio``; None without audio."""
        if self.audio is None:
            return None
        a = self.audio[clip]
        if isinstance(a, (str, os.PathLike)):
            p = Path(a)
            return p.read_bytes() if p.is_file() else None
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
        """Read a ScoreSet written by :meth:`save` (``np.load(allow_pickle=False)``).

        Raises
        ------
        FileNotFoundError
            If ``scoreset.json`` or ``scoreset.npz`` is missing.
        ValueError
            If the JSON is not an adskit ScoreSet of this format version, or the npz does not match it.
        """
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


def _split_scores(detector: Any, clips: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Frame anomaly scores of every clip, float64, from one ``anomaly_score`` call over all frames."""
    cuts = np.cumsum([len(c) for c in clips])[:-1]
    return np.split(np.asarray(detector.anomaly_score(np.concatenate(clips)), np.float64), cuts)


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

    Raises
    ------
    ValueError
        From :class:`ScoreSet` when the inputs disagree, or from :func:`clip_scores`.
    """
    scores, train = {}, {} if train_clips is not None else None
    for name, det in detectors.items():
        scores[name] = _split_scores(det, clips)
        if train_clips is not None:
            train[name] = clip_scores(_split_scores(det, train_clips), aggregate)
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
