"""Data of the Neyman-Pearson comparison (D, O, calibration and test vectors, test mixtures) and its metrics.

Everything here takes explicit arguments (folders, feature settings, fractions, seeds), never
:class:`~adskit.experiments.neyman_pearson.NPConfig`, so that the experiment imports this module and not the
other way round. Two sources (see :mod:`adskit.experiments.neyman_pearson`): a synthetic data set (D = one
machine's training clips, O = the other machines', anomalies = its isolated anomaly sources), or folders of real
recordings (``normal_dir``, ``other_dir``, ``anomalies_dir`` and/or ``test_dir``).

Every file of the folders is read once and checked before any training (:mod:`adskit.audio.checks`): readable,
finite, not silent; a normal clip (D, calibration or held out: the split comes after the check) long enough that
the anomaly mixed into it, at most ``max_anomaly_fraction`` of the clip, fills one context window
(:func:`normal_min_seconds`); other-machine and labelled test clips long enough for one context window. A normal
clip whose name calls it anomalous or a test file, and a test file whose name carries no label (the label reader
of :func:`adskit.audio.clips.parse_clip`, shared with ``adskit sound``), is set aside too. Each file set aside is
listed in ``NPData.bad_files`` with its reason; the run goes on with the rest.

Loading is deliberately minimal (whole clips in memory, log-mel recomputed each run); the frame sampler and
feature cache of :mod:`adskit.audio` can replace it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._utils import resolve_device
from ..audio import (
    ANOMALY_GROUPS,
    FeatureConfig,
    LogMel,
    frame_labels,
    list_audio_files,
    load_audio,
    mix_at_ratio,
    read_manifest,
    stack_context,
)
from ..audio.checks import first_reason, labelled_clips, min_samples, normal_clips, other_audio, read_usable
from ..audio.folders import FolderDataset
from ..audio.io import no_audio_message
from ..audio.mixing import random_excerpt
from ..metrics import auc, precision_recall_f1, roc
from ..threshold import MaxMeanPRFThreshold, NeymanPearsonThreshold

__all__ = [
    "GROUPS",
    "NPData",
    "clip_level_metrics",
    "fpr_report",
    "load_vectors",
    "normal_min_seconds",
    "snr_metrics",
]

#: anomaly groups of the EUSIPCO 2017 test set (an anomaly whose kind is unknown is in group "other")
GROUPS = ("sustained", "time_varying", "sudden")


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
    bad_files : list of dict
        ``{"path", "role", "reason"}`` of each user file set aside (see the module docstring).
    """

    train: np.ndarray
    other: np.ndarray
    test_normal: np.ndarray
    positives: dict[tuple[float, str], np.ndarray]
    test_clips: list[tuple[np.ndarray, int]]
    info: dict
    calibration: np.ndarray | None = None
    test_normal_clip: np.ndarray | None = None
    bad_files: list[dict] = field(default_factory=list)


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


def normal_min_seconds(feat: FeatureConfig, max_anomaly_fraction: float) -> float:
    """Shortest usable normal clip, in seconds: the anomaly mixed into it must fill one context window.

    A held-out clip receives an anomaly of at most ``max_anomaly_fraction`` of its length; the vectors "inside the
    anomaly" are the positives, so the anomaly must span one context window
    (:func:`adskit.audio.checks.min_samples`): ``min_samples(feat) / feat.sr / max_anomaly_fraction``
    (0.533 s for the "np2017" front end and 0.6). Every normal clip is held to it, before the held-out split, so
    that which clips are set aside does not depend on the seed.

    Examples
    --------
    >>> round(normal_min_seconds(FeatureConfig.preset("np2017"), 0.6), 3)
    0.533
    """
    return min_samples(feat) / feat.sr / float(max_anomaly_fraction)


def _audio_files(folder: str, what: str) -> list[Path]:
    files = list_audio_files(folder)
    if not files:
        raise ValueError(no_audio_message(folder, what))
    return files


def _folder(folder: str, what: str) -> FolderDataset:
    ds = FolderDataset(folder)
    if not len(ds):
        raise ValueError(no_audio_message(folder, what))
    return ds


def _read_folders(
    normal_dir: str,
    other_dir: str,
    anomalies_dir: str | None,
    test_dir: str | None,
    heldout_fraction: float,
    max_anomaly_fraction: float,
    rng: np.random.Generator,
    logmel: LogMel,
    feat: FeatureConfig,
    bad: list[dict],
) -> tuple[list, list, list, dict, list, dict]:
    """Waveforms of D, O and the held-out normals, anomaly sources by group and labelled test clips' vectors.

    Every file is checked first; the ones set aside are appended to ``bad`` (see the module docstring).
    """
    for folder, role in ((normal_dir, "normal"), (other_dir, "other"), (anomalies_dir, "anomaly"), (test_dir, "test")):
        other_audio(folder, role, bad)  # formats this machine cannot read: listed, not skipped silently
    tests = _folder(test_dir, "test_dir") if test_dir else None
    named = normal_clips(_folder(normal_dir, "normal_dir").clips, "normal", bad, tests.paths if tests else ())
    min_s = normal_min_seconds(feat, max_anomaly_fraction)
    why = f"the anomaly mixed into it, at most {max_anomaly_fraction:g} of it, must fill one context window"
    normal = [y for _, y in read_usable([c.path for c in named], "normal", bad, feat.sr, feat, min_s, why)]
    order = rng.permutation(len(normal))
    n_test = max(1, int(round(heldout_fraction * len(normal))))
    if len(normal) - n_test < 1:
        raise ValueError(
            f"normal_dir: {len(normal)} usable clip(s); need at least 2 to hold some out" + first_reason(bad, "normal")
        )
    train_y = [normal[i] for i in order[n_test:]]
    test_y = [normal[i] for i in order[:n_test]]
    other_y = [y for _, y in read_usable(_audio_files(other_dir, "other_dir"), "other", bad, feat.sr, feat)]
    sources: dict[str, list[np.ndarray]] = {}
    test_clips: list[tuple[np.ndarray, int]] = []
    if anomalies_dir:
        for p, y in read_usable(_audio_files(anomalies_dir, "anomalies_dir"), "anomaly", bad, feat.sr):
            sources.setdefault(_group_of(p.name), []).append(y)
        if not sources:
            raise ValueError(
                f"anomalies_dir: no usable anomaly sound in {anomalies_dir}" + first_reason(bad, "anomaly")
            )
    if tests is not None:
        labelled = dict(labelled_clips(tests.clips, "test", bad))
        for p, y in read_usable(list(labelled), "test", bad, feat.sr, feat):
            test_clips.append((_clip_vectors(y, logmel, feat.frames), labelled[p]))
    info = {"source": "folders", "normal_dir": normal_dir, "other_dir": other_dir, "n_bad_files": len(bad)}
    return train_y, other_y, test_y, sources, test_clips, info


def _read_synthetic(root: Path, machine: str, sr: int) -> tuple[list, list, list, dict, list, dict]:
    """Waveforms of D (one machine's training clips), O (the other machines'), its normal test clips, sources."""
    files = read_manifest(root)["files"]
    machines = sorted({r["machine"] for r in files if r.get("machine")})
    if machine not in machines:
        raise ValueError(f"machine: expected one of {machines} (in {root}), got {machine!r}")

    def read(recs):
        return [load_audio(root / r["path"], sr=sr)[0] for r in recs]

    train_y = read([r for r in files if r.get("machine") == machine and r["split"] == "train"])
    other_y = read([r for r in files if r.get("machine") not in (None, machine) and r["split"] == "train"])
    test_y = read([r for r in files if r.get("machine") == machine and r["split"] == "test" and r["label"] == "normal"])
    sources: dict[str, list[np.ndarray]] = {}
    for r in files:
        if r["split"] == "anomaly_source":
            sources.setdefault(r["anomaly_group"], []).append(load_audio(root / r["path"], sr=sr)[0])
    info = {"source": "synthetic", "root": str(root), "machine": machine, "others": machines}
    return train_y, other_y, test_y, sources, [], info


def _positives(
    test_y: list[np.ndarray],
    sources: dict[str, list[np.ndarray]],
    groups: list[str],
    snrs: Sequence[float],
    max_anomaly_fraction: float,
    test_stride: int,
    seed: int,
    rng: np.random.Generator,
    logmel: LogMel,
    feat: FeatureConfig,
    progress: bool,
) -> dict[tuple[float, str], np.ndarray]:
    """Vectors inside the anomaly of each mixture: one source per (clip, group), at the same place at every SNR."""
    positives: dict[tuple[float, str], list[np.ndarray]] = {}
    for i, y in enumerate(tqdm(test_y, desc="mixtures", disable=not progress)):
        for gi, g in enumerate(groups):
            src = sources[g][int(rng.integers(len(sources[g])))]
            # a source longer than max_anomaly_fraction of the clip: a random excerpt (its own stream)
            src, _ = random_excerpt(
                src, max(1, int(max_anomaly_fraction * y.size)), np.random.default_rng([seed, i, gi, 1])
            )
            pos = int(np.random.default_rng([seed, i, gi]).integers(0, y.size - src.size + 1))
            if not np.any(src) or not np.any(y[pos : pos + src.size]):
                continue  # a silent excerpt or stretch: the SNR is undefined; no mixture for this (clip, group)
            for snr in snrs:
                mix, span = mix_at_ratio(y, src, float(snr), position=pos)  # same place at every SNR
                lab = frame_labels(span, y.size, feat)
                vec = _clip_vectors(mix.astype(np.float32), logmel, feat.frames)
                positives.setdefault((float(snr), g), []).append(vec[lab][::test_stride])
    return {k: np.concatenate(v).astype(np.float32) for k, v in positives.items()}


def load_vectors(
    *,
    feature: FeatureConfig,
    seed: int,
    root: str | Path | None = None,
    machine: str = "fan",
    normal_dir: str | None = None,
    other_dir: str | None = None,
    anomalies_dir: str | None = None,
    test_dir: str | None = None,
    snrs: Sequence[float] = (-10.0, -5.0, 0.0, 5.0),
    heldout_fraction: float = 0.25,
    calibration_fraction: float = 0.2,
    train_stride: int = 1,
    test_stride: int = 1,
    max_anomaly_fraction: float = 0.6,
    device: Any = "auto",
    progress: bool = True,
) -> NPData:
    """Read the clips, make the test mixtures and compute every context vector of the comparison.

    Parameters
    ----------
    feature : FeatureConfig
        The front end (the experiment's "np2017" preset: 64 mel, 10 + 10 context frames).
    seed : int
        Seeds the held-out split (folders), the calibration split, the anomaly sources and their positions.
    root : path, optional
        A synthetic data set (its ``manifest.json``); used when ``normal_dir`` is None.
    machine : str
        Synthetic target machine (D); the other machines are O.
    normal_dir, other_dir, anomalies_dir, test_dir : str, optional
        Real data instead (see :class:`~adskit.experiments.neyman_pearson.NPConfig`).
    snrs : sequence of float
        Mixing SNRs in dB (over the anomaly's segment).
    heldout_fraction : float
        Folders only: share of ``normal_dir`` clips held out as test normals.
    calibration_fraction : float
        Share of the normal training clips (at least one) held out, by clip, for the calibrated phi_rho.
    train_stride, test_stride : int
        Keep every k-th context vector of the training / test clips.
    max_anomaly_fraction : float
        An anomaly source longer than this fraction of the clip it is mixed into is cut to a random excerpt of
        that length (the positives are the vectors the excerpt covers); also sets the shortest usable normal clip
        (:func:`normal_min_seconds`).
    device : str or torch.device
        Where the log-mel runs.
    progress : bool
        tqdm bars.

    Returns
    -------
    NPData

    Raises
    ------
    ValueError
        If a folder holds no audio file, too few usable normal clips to hold some out, no usable anomaly sound,
        the synthetic set has no such machine, or O is empty. Single bad files do not raise: they are listed in
        ``NPData.bad_files``.
    """
    feat = feature
    logmel = LogMel(feat, device=resolve_device(device))
    rng = np.random.default_rng([seed, 2017])
    bad: list[dict] = []
    if normal_dir:
        train_y, other_y, test_y, sources, test_clips, info = _read_folders(
            normal_dir,
            other_dir,
            anomalies_dir,
            test_dir,
            heldout_fraction,
            max_anomaly_fraction,
            rng,
            logmel,
            feat,
            bad,
        )
    else:
        train_y, other_y, test_y, sources, test_clips, info = _read_synthetic(Path(root), machine, feat.sr)
    if not other_y:
        raise ValueError("other_dir: the set O of other-machine sounds is empty" + first_reason(bad, "other"))
    train_y, cal_y = _calibration_split(train_y, float(calibration_fraction), seed)
    train, _ = _stack(train_y, logmel, feat.frames, train_stride, "D (normal)", progress)
    other, _ = _stack(other_y, logmel, feat.frames, train_stride, "O (other machines)", progress)
    calibration, _ = _stack(cal_y, logmel, feat.frames, test_stride, "calibration (normal)", progress)
    test_normal, test_ids = _stack(test_y, logmel, feat.frames, test_stride, "held-out normal", progress)
    groups = [g for g in (*GROUPS, "other") if sources.get(g)]
    pos = _positives(
        test_y, sources, groups, snrs, max_anomaly_fraction, test_stride, seed, rng, logmel, feat, progress
    )
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
    return NPData(train, other, test_normal, pos, test_clips, info, calibration, test_ids, bad)


# ------------------------------------------------------------------------------------------- evaluation


def _prf(res: dict) -> dict[str, float]:
    return {k: float(res[k]) for k in ("precision", "recall", "f1", "fpr")}


def fpr_report(thr: NeymanPearsonThreshold, s_neg: np.ndarray, clip_ids: np.ndarray | None, seed: int) -> dict:
    """Realised FPR of a fitted phi_rho on the held-out normal vectors, per vector and per clip.

    :meth:`NeymanPearsonThreshold.check` with the clips as groups: the Clopper-Pearson interval treats vectors as
    independent, the clip bootstrap (``boot_low``/``boot_high``) resamples whole clips (overlapping vectors of a
    clip are dependent, so this one is the honest width); ``clip_fpr``: a clip is a false alarm if any of its
    vectors exceeds phi_rho. Adds the ``threshold`` and the number ``n_fit`` of scores it was fitted on.
    """
    chk = thr.check(s_neg, groups=clip_ids, random_state=[seed, 3])
    return {**chk, "threshold": float(thr.threshold_), "n_fit": thr.n_fit_}


def _thin_roc(y: np.ndarray, s: np.ndarray, n: int = 200) -> dict[str, list[float]]:
    fpr, tpr, _ = roc(y, s)
    idx = np.unique(np.linspace(0, fpr.size - 1, min(n, fpr.size)).round().astype(int))
    return {"fpr": fpr[idx].tolist(), "tpr": tpr[idx].tolist()}


def snr_metrics(s_neg: np.ndarray, s_pos: Mapping[str, np.ndarray], phi: float, phi_train: float) -> dict[str, Any]:
    """Metrics of one method at one SNR: the held-out normal vectors against the mixtures' anomalous vectors.

    Parameters
    ----------
    s_neg : np.ndarray [shape=(N,)]
        Anomaly scores (higher = more anomalous) of the held-out normal vectors (negatives).
    s_pos : mapping of str -> np.ndarray
        Anomaly group -> scores of the mixtures' vectors inside the anomaly (positives).
    phi, phi_train : float
        The calibrated and the training phi_rho.

    Returns
    -------
    dict
        ``oracle`` (P, R, F1, FPR at the threshold maximising mean(P, R, F1), and that ``threshold``), ``at_phi``
        and ``at_phi_train`` (P, R, F1, FPR), ``auc``, ``auc_by_group``, ``n_positive``, ``n_negative`` and
        ``roc`` (thinned ``fpr``, ``tpr`` lists).
    """
    s = np.concatenate([s_neg, *s_pos.values()])
    y = np.r_[np.zeros(s_neg.size), np.ones(s.size - s_neg.size)].astype(int)
    best = MaxMeanPRFThreshold().fit(s, y)
    at_phi = precision_recall_f1(y, s > phi)
    at_phi_train = precision_recall_f1(y, s > phi_train)
    oracle = precision_recall_f1(y, s > best.threshold_)
    return {
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


def clip_level_metrics(cs: np.ndarray, cy: np.ndarray) -> dict[str, Any]:
    """AUC and P, R, F1, FPR at the oracle threshold of labelled clips' scores ``cs`` (labels ``cy``, 1 = anomalous)."""
    best = MaxMeanPRFThreshold().fit(cs, cy)
    return {"auc": auc(cy, cs), "oracle": _prf(precision_recall_f1(cy, cs > best.threshold_))}
