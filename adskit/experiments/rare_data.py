"""Data and measurements of the rare-normal experiment (:mod:`adskit.experiments.rare`).

One data set per (machine, rarity, distinctness, seed) is made by :func:`adskit.audio.synth.make_dataset`: the
rare-normal process fills exactly ``rarity`` of the training seconds, and half of the normal test clips hold it.
The normal test clips without it are split in two: *calibration* clips (even positions), on which the thresholds
are set, and held-out *frequent* clips (odd positions), on which the false-alarm rate the thresholds give is
checked. :func:`evaluate_rare` turns one detector's frame scores into the experiment's numbers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import load_audio, read_manifest
from ..audio.features import FeatureConfig, frame_times, log_mel_batch, stack_context
from ..audio.mixing import frame_labels, mix_at_ratio
from ..audio.synth import make_dataset
from ..metrics import auc as roc_auc
from ..threshold import NeymanPearsonThreshold

__all__ = ["ROLES", "RareData", "evaluate_rare", "load_rare_data", "make_rare_dataset", "segment_mask"]

#: what each test clip is for: thresholds ("calibration"), checking them ("frequent"), the rare-normal process
#: ("rare") and detection ("anomaly")
ROLES = ("calibration", "frequent", "rare", "anomaly")


def make_rare_dataset(
    root: str | os.PathLike,
    *,
    rarity: float,
    seed: int,
    machine: str = "fan",
    distinctness: float,
    n_train: int = 40,
    n_test_normal: int = 80,
    n_test_anomaly: int = 20,
    n_something_else: int = 20,
    duration: float = 6.0,
    progress: bool = False,
) -> Path:
    """Make (or reuse, when its settings match) one rare-normal data set in ``root``; returns its manifest's folder.

    Raises
    ------
    ValueError
        If ``rarity`` cannot be laid out in the training clips (:func:`adskit.audio.synth.make_dataset`).
    FileExistsError
        If ``root`` holds other files or a data set made with other settings.
    """
    manifest = make_dataset(
        root,
        machines=(machine,),
        n_train=n_train,
        n_test_normal=n_test_normal,
        n_test_anomaly=n_test_anomaly,
        duration=duration,
        n_something_else=n_something_else,
        n_anomaly_sources=0,
        seed=seed,
        progress=progress,
        rarity=rarity,
        distinctness=distinctness,
    )
    return Path(manifest).parent


def segment_mask(segments: Sequence[Sequence[float]], n_vectors: int, fcfg: FeatureConfig) -> np.ndarray:
    """Bool (n_vectors,): True for the context vectors whose centre time lies in one of ``segments`` (seconds)."""
    t = frame_times(n_vectors, fcfg)
    m = np.zeros(n_vectors, bool)
    for a, b in segments:
        m |= (t >= a) & (t < b)
    return m


@dataclass
class RareData:
    """The context vectors of one rare-normal data set for one front end.

    Attributes
    ----------
    root : Path
    rare_share : float
        The rare process's share of the training seconds (from the manifest).
    train, train_rare : list of np.ndarray
        Per training clip: vectors (n_i, d) and a bool mask of its rare-normal vectors (n_i,).
    test, specs : list of np.ndarray
        Per test clip: vectors (n_i, d) and its log-mel spectrogram (n_mels, T_i) for figures.
    roles : list of str
        Per test clip, one of :data:`ROLES`.
    rare_masks, anomaly_masks : list of np.ndarray
        Per test clip: bool masks of the vectors inside the rare-normal and the anomalous segments.
    names : list of str
        Per test clip, its path in the data set.
    rare_segments : list of list of [float, float]
        Per test clip, its rare-normal segments in seconds.
    anomalous : np.ndarray [shape=(m, d)]
        Simulated anomalies for SNP and BU (see :func:`load_rare_data`).
    """

    root: Path
    rare_share: float
    train: list[np.ndarray]
    train_rare: list[np.ndarray]
    test: list[np.ndarray]
    specs: list[np.ndarray]
    roles: list[str]
    rare_masks: list[np.ndarray]
    anomaly_masks: list[np.ndarray]
    names: list[str]
    rare_segments: list[list[list[float]]]
    anomalous: np.ndarray = field(repr=False)

    @property
    def X_train(self) -> np.ndarray:
        """All training vectors, (N, d)."""
        return np.concatenate(self.train)

    @property
    def rare_train(self) -> np.ndarray:
        """Bool (N,): the rare-normal training vectors."""
        return np.concatenate(self.train_rare)


def _vectors(waves: Sequence[np.ndarray], fcfg: FeatureConfig, device: Any) -> tuple[list, list]:
    specs = log_mel_batch(list(waves), cfg=fcfg, device=device)
    return [stack_context(S, fcfg.frames) for S in specs], specs


def load_rare_data(
    root: str | os.PathLike,
    fcfg: FeatureConfig,
    *,
    device: Any = "cpu",
    train_anr: tuple[float, float] = (-20.0, -10.0),
    mixes_per_sound: int = 3,
    seed: int = 0,
) -> RareData:
    """Read a rare-normal data set (:func:`make_rare_dataset`) into context vectors.

    The simulated anomalies of SNP and BU (the BU paper's "something else" frames) are made as in the sound
    experiment: each something-else sound of the data set is inserted ``mixes_per_sound`` times into a random
    training clip at an ANR drawn from ``U(train_anr)`` dB (:func:`adskit.audio.mixing.mix_at_ratio`), and the
    vectors whose centre frame overlaps it are kept.

    Raises
    ------
    FileNotFoundError
        If ``root`` holds no manifest.
    ValueError
        If the data set has no training clip of the machine, or no something-else sound.
    """
    root = Path(root)
    manifest = read_manifest(root)
    files = manifest["files"]
    train = [r for r in files if r["split"] == "train"]
    test = [r for r in files if r["split"] == "test"]
    others = [r for r in files if r["split"] == "something_else"]
    if not train or not others:
        raise ValueError(f"{root}: expected training clips and something-else sounds, found {len(train)}/{len(others)}")
    share = manifest.get("rare_share_train", {})
    load = lambda r: load_audio(root / r["path"], sr=fcfg.sr)[0]  # noqa: E731
    train_waves = [load(r) for r in train]
    train_vec, _ = _vectors(train_waves, fcfg, device)
    train_rare = [segment_mask(r["processes"]["rare"], len(v), fcfg) for r, v in zip(train, train_vec, strict=True)]
    test_vec, specs = _vectors([load(r) for r in test], fcfg, device)
    roles, k = [], 0
    for r in test:
        if r["label"] == "anomaly":
            roles.append("anomaly")
        elif r["processes"]["rare"]:
            roles.append("rare")
        else:
            roles.append("calibration" if k % 2 == 0 else "frequent")
            k += 1
    rng = np.random.default_rng([int(seed), 7])
    mixes, spans = [], []
    for r in others:
        s = load(r)
        for _ in range(int(mixes_per_sound)):
            x = train_waves[int(rng.integers(len(train_waves)))]
            y, span = mix_at_ratio(x, s[: x.size], float(rng.uniform(*train_anr)), rng=rng)
            mixes.append(y)
            spans.append(span)
    mix_vec, _ = _vectors(mixes, fcfg, device)
    anomalous = np.concatenate(
        [v[frame_labels(sp, y.size, fcfg)[: len(v)]] for v, sp, y in zip(mix_vec, spans, mixes, strict=True)]
    )
    return RareData(
        root=root,
        rare_share=float(next(iter(share.values()), float("nan"))),
        train=train_vec,
        train_rare=train_rare,
        test=test_vec,
        specs=specs,
        roles=roles,
        rare_masks=[segment_mask(r["processes"]["rare"], len(v), fcfg) for r, v in zip(test, test_vec, strict=True)],
        anomaly_masks=[
            segment_mask(r["processes"]["anomaly"], len(v), fcfg) for r, v in zip(test, test_vec, strict=True)
        ],
        names=[r["path"] for r in test],
        rare_segments=[[[float(a), float(b)] for a, b in r["processes"]["rare"]] for r in test],
        anomalous=anomalous,
    )


def _rate(x: np.ndarray, thr: float) -> float:
    return float(np.mean(x > thr)) if x.size else float("nan")


def evaluate_rare(
    frames: Sequence[np.ndarray],
    roles: Sequence[str],
    rare_masks: Sequence[np.ndarray],
    anomaly_masks: Sequence[np.ndarray],
    fa_target: float = 0.05,
) -> dict[str, float]:
    """The experiment's numbers for one detector's frame scores (higher = more anomalous).

    Two thresholds, each phi_rho at rho = ``fa_target`` (:class:`adskit.threshold.NeymanPearsonThreshold`) on the
    calibration clips: one on their frames, one on their clip scores (max over frames, BU paper eq 11). A
    rare-normal clip's maximum is taken over all its frames, so a clip-level decision compared with the frame
    threshold would fire on almost every clip; each level therefore has its own threshold, set at the same
    false-alarm rate.

    Parameters
    ----------
    frames : sequence of np.ndarray [shape=(n_i,)]
        Frame scores per test clip.
    roles : sequence of str
        Per clip, one of :data:`ROLES`.
    rare_masks, anomaly_masks : sequence of bool np.ndarray [shape=(n_i,)]
        Per clip, the frames inside the rare-normal / anomalous segments.
    fa_target : float in (0, 1)
        The false-alarm rate the thresholds are set for.

    Returns
    -------
    dict
        ``fa_frequent_frames`` / ``fa_frequent_clips`` (held-out frequent-normal clips: about ``fa_target`` when the
        thresholds generalise), ``fa_rare_frames`` (frames inside the rare segments), ``fa_rare_clips``,
        ``tpr_anomaly`` (anomalous clips), ``tpr_anomaly_frames`` (frames inside the anomalous segments),
        ``auc_anomaly`` (clip AUC, anomalous against held-out frequent and rare-normal clips),
        ``auc_rare_vs_frequent`` (frame AUC of rare-normal against held-out frequent-normal frames; 0.5 = the
        rare process looks as normal as the frequent one), the two thresholds and the frame counts.

    Raises
    ------
    ValueError
        If the lengths disagree, a role is unknown, or there is no calibration clip.
    """
    n = len(frames)
    if not (len(roles) == len(rare_masks) == len(anomaly_masks) == n):
        raise ValueError("frames, roles, rare_masks, anomaly_masks: expected one entry per clip each")
    bad = sorted(set(roles) - set(ROLES))
    if bad:
        raise ValueError(f"roles: expected some of {ROLES}, got {bad}")
    f = [np.asarray(s, dtype=np.float64).reshape(-1) for s in frames]
    pick = lambda role: [i for i in range(n) if roles[i] == role]  # noqa: E731
    cal, freq, rare, anom = (pick(r) for r in ROLES)
    if not cal:
        raise ValueError("roles: expected at least one calibration clip")
    clip = np.array([s.max() for s in f])
    phi_frame = NeymanPearsonThreshold(fa_target).fit(np.concatenate([f[i] for i in cal])).threshold_
    phi_clip = NeymanPearsonThreshold(fa_target).fit(clip[cal]).threshold_
    cat = lambda idx, masks=None: (  # noqa: E731
        np.concatenate([f[i] if masks is None else f[i][np.asarray(masks[i], bool)] for i in idx])
        if idx
        else np.zeros(0)
    )
    freq_frames, rare_frames = cat(freq), cat(rare, rare_masks)
    anom_frames = cat(anom, anomaly_masks)
    normal_clips = freq + rare
    auc = float("nan")
    if anom and normal_clips:
        y = np.r_[np.zeros(len(normal_clips)), np.ones(len(anom))]
        auc = float(roc_auc(y, np.r_[clip[normal_clips], clip[anom]]))
    auc_rf = float("nan")
    if freq_frames.size and rare_frames.size:
        auc_rf = float(
            roc_auc(np.r_[np.zeros(freq_frames.size), np.ones(rare_frames.size)], np.r_[freq_frames, rare_frames])
        )
    return {
        "fa_frequent_frames": _rate(freq_frames, phi_frame),
        "fa_rare_frames": _rate(rare_frames, phi_frame),
        "fa_frequent_clips": _rate(clip[freq], phi_clip),
        "fa_rare_clips": _rate(clip[rare], phi_clip),
        "tpr_anomaly": _rate(clip[anom], phi_clip),
        "tpr_anomaly_frames": _rate(anom_frames, phi_frame),
        "auc_anomaly": auc,
        "auc_rare_vs_frequent": auc_rf,
        "phi_frame": float(phi_frame),
        "phi_clip": float(phi_clip),
        "n_rare_frames": int(rare_frames.size),
        "n_frequent_frames": int(freq_frames.size),
    }
