"""The analyst's path: train once on a folder of normal recordings, keep the model, score new recordings later.

:func:`fit_model` is ``adskit fit``, in this order:

1. **Clips.** The normal folder is listed and read by the kit's one label reader and checker
   (:func:`adskit.audio.checks.normal_clips`, :func:`adskit.audio.checks.usable_audio`): files named as anomalous
   or sitting in a test folder, unreadable, non-finite, silent or too short files are left out and listed with
   the reason, and the run goes on. A clip shorter than half the median normal clip is left out too: its clip
   score (a maximum over fewer frames) is not comparable with the others'.
2. **Hold-out by clip.** A ``calibration_fraction`` share of the clips (at least 2, drawn with ``seed``) is held
   out; the detector never sees them.
3. **Training.** One :class:`adskit.detectors.AEDetector` (a preset, default ``"dcase2020"``, the DCASE 2020
   Task 2 baseline) trained on random mini-batches of the other clips' context vectors, drawn from a feature
   cache (:class:`adskit.audio.batches.FrameSampler`: memory is the clips' log-mel frames, held once up to 1 GiB,
   not their context vectors). Everything data-dependent is set from the training clips alone: the input standardisation (mean and std of all their
   vectors, :func:`adskit.audio.cache.dataset_stats`), the BU bandwidth (the detector's rule on its first
   batches) and C (``C="auto"``: ``c_factor`` x the running maximum of the normal scores after a warm-up;
   ``c_factor`` 1 here, as ``adskit sound`` measured best). SNP and BU also train on something-else sounds: a
   folder's (a random excerpt of at most :data:`SOMETHING_ELSE_MAX_SECONDS` of each), or, without one, sounds of
   the synthetic generator (bursts, clicks, chirps, tones; :func:`adskit.audio.synth.generate_something_else`).
   With ``per_section`` (the DCASE 2021+ convention) steps 2-4 run once per section / id that the label reader
   finds in the names (:func:`adskit.audio.clips.parse_clip`: ``section_00_*``, ``*_id_00_*``), each model in a
   sub-folder named by its section; with ``other_sections`` too, each model's something-else sounds are the other
   sections' normal training clips (EUSIPCO 2017's "other machines"). Without it, one pooled model (DCASE 2020).
4. **Calibration.** Each held-out clip's clip score (max over frames, WASPAA 2019 eq 11) is stored, so that
   phi_rho (EUSIPCO 2017, after eq 14) can be fitted at any rho later (:meth:`AnalystModel.threshold`).
5. **Model directory.** ``detector.pt`` (safe checkpoint) and ``model.json`` (see
   :mod:`adskit.experiments.analyst_model`), written into a partial sibling folder and renamed into place. A
   folder that holds another model is replaced only with ``force``; a folder with other files never.

Scoring is :func:`adskit.experiments.analyst_score.score_files` (``adskit score``).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from .._utils import atomic_write_json, file_edges_sha256, resolve_device
from ..audio.batches import FrameSampler
from ..audio.cache import FeatureCache, dataset_stats
from ..audio.checks import bad_file, first_reason, normal_clips, other_audio, usable_audio, waveform_problem
from ..audio.features import FeatureConfig, log_mel_batch, stack_context
from ..audio.folders import FolderDataset
from ..audio.io import AudioFileError, audio_info, list_audio_files, load_audio, no_audio_message
from ..audio.synth import SOMETHING_ELSE_KINDS, generate_something_else
from ..detectors import AEDetector, ResidualMahalanobis
from ..scores.clips import AGGREGATES, clip_scores
from .analyst_model import (
    DETECTOR_FILE,
    MODEL_FILE,
    MODEL_FORMAT,
    MODEL_FORMAT_VERSION,
    SCORER_FILE,
    SCORES,
    file_sha256,
    is_model_dir,
    load_models,
    read_model_info,
)
from .analyst_score import recording_scores

__all__ = ["COSTS", "DEFAULT_PRESET", "MAHALANOBIS_MAX_ROWS", "SOMETHING_ELSE_MAX_SECONDS", "fit_model", "fit_summary"]

COSTS = ("re", "snp", "bu")
#: the first-shot default: the DCASE 2020 Task 2 baseline's network and features
DEFAULT_PRESET = "dcase2020"
#: a something-else file longer than this is cut to a random excerpt of this length (seconds)
SOMETHING_ELSE_MAX_SECONDS = 10.0
#: something-else sounds generated when SNP / BU have no folder of them (as notebook 04 does)
N_GENERATED_SOMETHING_ELSE = 40
#: the detector arguments fit_model sets unless ``detector_overrides`` says otherwise
FIT_DEFAULTS: dict[str, Any] = {"c_factor": 1.0}
#: the residual covariance (score "mahalanobis") is fitted on all training vectors, or this many drawn at random
MAHALANOBIS_MAX_ROWS = 20000


def _check_out(out: Path, force: bool) -> None:
    """Refuse, before any work, a folder that holds another model (unless ``force``) or files that are not ours."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out: {out} is a file; expected a new or empty folder for the model")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not is_model_dir(out):
        raise ValueError(
            f"--out: {out} is not empty and holds no adskit model; choose a new or empty folder (nothing is deleted)"
        )
    if not force:
        raise ValueError(
            f"--out: {out} already holds a model; choose another folder, or pass --force to replace that model"
        )
    ours = {MODEL_FILE, DETECTOR_FILE, SCORER_FILE} | set(_section_folders(out))
    extra = sorted(p.name for p in out.iterdir() if p.name not in ours)
    extra += sorted(
        f"{d}/{p.name}"
        for d in _section_folders(out)
        for p in (out / d).iterdir()
        if p.name not in (DETECTOR_FILE, SCORER_FILE)
    )
    if extra:
        raise ValueError(
            f"--out: {out} holds files adskit fit did not write ({', '.join(extra[:3])}); --force replaces a "
            "model only in a folder that holds nothing else; choose another folder (nothing is deleted)"
        )


def _section_folders(folder: Path) -> list[str]:
    """The sub-folders of a model directory that its ``model.json`` names (one per section model)."""
    try:
        models = read_model_info(folder).get("models", [])
    except (OSError, ValueError):
        return []
    parts = [Path(e.get("detector", DETECTOR_FILE)).parts for e in models]
    return [p[0] for p in parts if len(p) == 2 and (folder / p[0]).is_dir()]


def _place(tmp: Path, out: Path) -> None:
    """Move the finished ``tmp`` folder to ``out`` (new, empty, or a model replaced with --force)."""
    if out.is_dir() and not any(out.iterdir()):
        out.rmdir()
    if not out.exists():
        os.replace(tmp, out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    os.replace(out, old)
    os.replace(tmp, out)
    shutil.rmtree(old)  # only model.json and the detectors it names (checked by _check_out)


def _record(paths: list[Path]) -> list[dict]:
    """Each file's path, size and SHA-256 of its first and last MiB (the kit's content fingerprint)."""
    out = []
    for p in paths:
        size = p.stat().st_size
        out.append({"path": str(p), "size": size, "sha256_edges": file_edges_sha256(p, size)})
    return out


def _normal_files(
    normal_dir: Path, cfg: FeatureConfig, bad: list[dict]
) -> tuple[list[Path], dict[Path, float], dict[Path, str | None]]:
    """Usable normal clips, their durations and sections (the label reader's); the others go to ``bad``."""
    other_audio(normal_dir, "normal", bad)
    found = FolderDataset(normal_dir).clips
    if not found:
        raise ValueError(no_audio_message(normal_dir, "normal_dir"))
    clips = normal_clips(found, "normal", bad)
    sections = {c.path: c.section for c in clips}
    paths = usable_audio([c.path for c in clips], "normal", bad, cfg)
    seconds = {p: audio_info(p)["duration"] for p in paths}
    if not seconds:
        return [], seconds, sections
    half = 0.5 * float(np.median(list(seconds.values())))
    keep = []
    for p in paths:
        if seconds[p] < half:
            reason = (
                f"too short: {seconds[p]:.3f} s, under half the median normal clip ({2 * half:.3f} s): its clip "
                "score (max over fewer frames) is not comparable with the others'"
            )
            bad.append(bad_file(p, "normal", reason))
            del seconds[p]
        else:
            keep.append(p)
    return keep, seconds, sections


def _by_section(
    paths: list[Path], sections: dict[Path, str | None], per_section: bool, bad: list[dict]
) -> dict[str | None, list[Path]]:
    """The clips each model trains and calibrates on: all of them (pooled), or those of each section / id."""
    if not per_section:
        return {None: paths}
    groups: dict[str | None, list[Path]] = {}
    for p in paths:
        if sections.get(p) is None:
            reason = "no section or id in its name (section_XX, id_XX, as DCASE names them): no model to train it in"
            bad.append(bad_file(p, "normal", reason))
        else:
            groups.setdefault(sections[p], []).append(p)
    for sec in sorted(groups):
        if len(groups[sec]) < 3:
            n = len(groups[sec])
            for p in groups.pop(sec):
                reason = f"section {sec} has {n} usable clip(s); at least 3 are needed (2 are held out for calibration)"
                bad.append(bad_file(p, "normal", f"{reason}: no model for it"))
    return dict(sorted(groups.items()))


def _something_else(
    folder: Path | None, cfg: FeatureConfig, rng: np.random.Generator, bad: list[dict]
) -> tuple[np.ndarray, dict]:
    """Context vectors of the something-else sounds, (m, d), and what model.json says of them."""
    waves, used = [], []
    if folder is None:
        for i in range(N_GENERATED_SOMETHING_ELSE):
            waves.append(generate_something_else(SOMETHING_ELSE_KINDS[i % 4], rng, cfg.sr).astype(np.float32))
        record = {"source": "generated", "n": len(waves), "kinds": list(SOMETHING_ELSE_KINDS)}
    else:
        other_audio(folder, "something_else", bad)
        for p in list_audio_files(folder):
            try:
                info = audio_info(p)
                want = int(SOMETHING_ELSE_MAX_SECONDS * info["sr"])
                start = int(rng.integers(0, info["frames"] - want + 1)) if info["frames"] > want else 0
                y, _ = load_audio(p, sr=cfg.sr, start=start, frames=min(want, info["frames"]))
            except AudioFileError as exc:
                bad.append(bad_file(p, "something_else", exc.problem))
                continue
            reason = waveform_problem(y, cfg.sr, cfg)
            if reason is not None:
                bad.append(bad_file(p, "something_else", reason))
                continue
            waves.append(y)
            used.append(p)
        if not waves:
            raise ValueError(f"something_else_dir: no usable sound in {folder}{first_reason(bad, 'something_else')}")
        record = {"source": "folder", "folder": str(folder), "excerpt_seconds": SOMETHING_ELSE_MAX_SECONDS}
        record["files"] = _record(used)
    X = np.concatenate([stack_context(S, cfg.frames) for S in log_mel_batch(waves, cfg=cfg, device="cpu")])
    return X, record


class _WithSomethingElse:
    """A sampler's normal batches with ``batch_size`` something-else rows beside each: drawn with replacement from
    an array (m, d), or the raw batches of another sampler (the other sections' clips)."""

    def __init__(self, sampler: FrameSampler, X_else: np.ndarray | FrameSampler, rng: np.random.Generator) -> None:
        self.sampler, self.X_else, self.rng = sampler, X_else, rng
        self.mean_, self.scale_ = sampler.mean_, sampler.scale_
        self.batches_per_epoch = sampler.batches_per_epoch

    def batch(self, step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        X = self.sampler.batch(step)
        if isinstance(self.X_else, FrameSampler):
            return X, self.X_else.batch(step)
        return X, self.X_else[self.rng.integers(0, len(self.X_else), len(X))]


def _feature_config(det: AEDetector) -> FeatureConfig:
    return FeatureConfig(**det.feature_config) if det.feature_config else FeatureConfig.preset("dcase2020")


def _finite(x: Any) -> Any:
    """A float for JSON: None for NaN / Inf."""
    return float(x) if x is not None and math.isfinite(float(x)) else None


def _fitted(det: AEDetector) -> dict:
    """The values the detector set from the training data."""
    return {
        "scaler": {"mean": det.mean_.tolist(), "scale": det.scale_.tolist()},
        "h": _finite(det.h_),
        "bandwidth": getattr(det, "bandwidth_", None),
        "C": _finite(det.C_) if det.cost != "re" else None,
        "C_rule": det.C if isinstance(det.C, str) else "fixed",
        "c_factor": float(det.c_factor),
        "n_updates": int(det.n_updates_),
        "frames_seen": int(det.frames_seen_),
        "fit_seconds": float(det.fit_seconds_),
    }


def fit_model(
    normal_dir: str | os.PathLike,
    out: str | os.PathLike,
    *,
    something_else_dir: str | os.PathLike | None = None,
    cost: str = "re",
    score: str = "mse",
    aggregate: str = "max",
    preset: str = DEFAULT_PRESET,
    seed: int = 0,
    calibration_fraction: float = 0.25,
    rho: float = 0.01,
    per_section: bool = False,
    other_sections: bool = False,
    device: str = "auto",
    force: bool = False,
    progress: bool = True,
    detector_overrides: dict | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Train a detector on a folder of normal recordings and write a model directory (``adskit fit``).

    The steps are listed in the module docstring (:mod:`adskit.experiments.analyst`).

    Parameters
    ----------
    normal_dir : str or os.PathLike
        Folder of normal recordings of one machine (recursive; WAV, FLAC, OGG, any rate and channel count).
    out : str or os.PathLike
        The model directory to write (created; see ``force``).
    something_else_dir : str, os.PathLike or None
        Sounds that are not the machine, for SNP and BU (ignored by RE); None: generated ones.
    cost : {"re", "snp", "bu"}
        The training cost (WASPAA 2019 eqs 7, 9-10, 16). RE, the default, is the DCASE baseline's.
    score : {"mse", "mahalanobis"}
        The frame score: the AE's squared reconstruction error (BU paper eq 5), or the residual Mahalanobis
        distance of the DCASE 2023-2026 baselines (:class:`adskit.detectors.ResidualMahalanobis`, fitted after
        training on the residuals of the training vectors: all of them, or :data:`MAHALANOBIS_MAX_ROWS` drawn at
        random; shrinkage where the covariance is ill conditioned). The residual covariance is fitted and saved
        as ``mahalanobis.pt`` beside the detector whichever score is chosen, so that ``adskit evaluate`` can
        report both; ``score`` says which one gives the calibration, the threshold and the decisions.
    aggregate : {"max", "mean"}
        The clip score: max over frames (WASPAA 2019 eq 11) or their mean (the DCASE baselines').
    preset : str
        An :meth:`AEDetector.preset` name: the network, schedule and features (default ``"dcase2020"``).
    seed : int
        Seeds the hold-out draw, the networks, the mini-batches and the something-else excerpts.
    calibration_fraction : float in (0, 1)
        Share of the usable normal clips held out for calibration (at least 2 clips, at least 1 left to train).
    rho : float in (0, 1)
        The default false-alarm rate per file stored for ``adskit score``.
    per_section : bool
        One model per section / id that the label reader finds in the file names (``section_00_*``, ``*_id_00_*``;
        the DCASE 2021+ convention), each with its own hold-out, training and calibration, in a sub-folder named by
        the section; clips without a section, and sections of fewer than 3 usable clips, are listed and left out.
        False (default): one pooled model of all clips (DCASE 2020).
    other_sections : bool
        With ``per_section`` and cost SNP or BU: each model's something-else sounds are the other sections' normal
        training clips (the EUSIPCO 2017 "other machines"), drawn as random context vectors beside each batch,
        instead of ``something_else_dir`` or generated sounds.
    device : "auto", "cpu" or "cuda"
        Where the detector trains.
    force : bool
        Replace a model already in ``out`` (a folder holding anything else is never touched).
    progress : bool
        Progress bars (features, training).
    detector_overrides : dict or None
        Further :class:`AEDetector` arguments over the preset's (e.g. ``{"n_updates": 500}``).
    cache_dir : str, os.PathLike or None
        Where the training clips' log-mel features are cached (None: a temporary folder, removed at the end).

    Returns
    -------
    Path
        The model directory.

    Raises
    ------
    ValueError
        A bad argument; ``out`` holds another model (without ``force``) or other files; fewer than 3 usable
        normal clips (per section: no section with 3); a something-else folder without a usable sound;
        ``other_sections`` without ``per_section``, with cost RE, with ``something_else_dir``, or with one section.
    FileNotFoundError
        ``normal_dir`` or ``something_else_dir`` is not a folder.
    FloatingPointError
        Training diverged.
    """
    if cost not in COSTS:
        raise ValueError(f"cost: expected one of {COSTS}, got {cost!r}")
    if score not in SCORES:
        raise ValueError(f"score: expected one of {SCORES}, got {score!r}")
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate: expected one of {AGGREGATES}, got {aggregate!r}")
    if not 0.0 < float(calibration_fraction) < 1.0:
        raise ValueError(f"calibration_fraction: expected a share in (0, 1), got {calibration_fraction!r}")
    if not 0.0 < float(rho) < 1.0:
        raise ValueError(f"rho: expected a false-alarm rate in (0, 1), got {rho!r}")
    if other_sections and not per_section:
        raise ValueError("other_sections: needs per_section (a pooled model trains on every section's clips)")
    if other_sections and cost == "re":
        raise ValueError("other_sections: RE trains on normal clips only; choose cost snp or bu")
    if other_sections and something_else_dir is not None:
        raise ValueError("other_sections, something_else_dir: give one source of something-else sounds")
    out, normal_dir = Path(out), Path(normal_dir)
    _check_out(out, force)
    resolve_device(device)
    kw = {**FIT_DEFAULTS, **(detector_overrides or {})}

    def new_detector() -> AEDetector:
        return AEDetector.preset(preset, cost=cost, random_state=seed, device=device, progress=progress, **kw)

    cfg = _feature_config(new_detector())
    bad: list[dict] = []
    paths, seconds, sections = _normal_files(normal_dir, cfg, bad)
    groups = _by_section(paths, sections, per_section, bad)
    if not groups or (not per_section and len(paths) < 3):
        what = "no section with 3 usable normal clips" if per_section else f"{len(paths)} usable normal clips"
        raise ValueError(
            f"normal_dir: {what} in {normal_dir}; expected at least 3 (2 are held out for calibration)"
            f"{first_reason(bad, 'normal')}"
        )
    if other_sections and len(groups) < 2:
        raise ValueError(f"other_sections: {normal_dir} has one section with a model ({next(iter(groups))}); no others")
    asked = {"preset": preset, "cost": cost, "seed": int(seed), "fraction": float(calibration_fraction),
             "rho": float(rho), "normal_dir": str(normal_dir), "score": score, "aggregate": aggregate}  # fmt: skip
    rng = np.random.default_rng(seed)
    split: dict[str | None, tuple[list[Path], list[Path]]] = {}
    for sec, group in groups.items():
        n_cal = min(max(round(float(calibration_fraction) * len(group)), 2), len(group) - 1)
        order = rng.permutation(len(group))
        split[sec] = sorted(group[i] for i in order[:n_cal]), sorted(group[i] for i in order[n_cal:])
    X_else, else_record = None, {"source": None, "why": "RE trains on normal vectors only"}
    if something_else_dir is not None:
        else_record["ignored_folder"] = str(something_else_dir)
    if cost != "re" and not other_sections:
        X_else, else_record = _something_else(
            None if something_else_dir is None else Path(something_else_dir), cfg, rng, bad
        )
    entries, detectors, scorers = [], [], []
    with tempfile.TemporaryDirectory(prefix="adskit-fit-") as tmp_cache:
        cache = FeatureCache(tmp_cache if cache_dir is None else cache_dir, cfg, device="cpu")
        cache.build([p for _, train in split.values() for p in train], progress=progress, on_error="raise")
        for sec, (calib, train) in split.items():
            det = new_detector()
            stats = dataset_stats(cache, train)
            sampler = FrameSampler(cache, train, batch_size=int(det.batch_size), random_state=seed, mean=stats.mean,
                                   std=stats.std)  # fmt: skip
            source, record = sampler, else_record
            if other_sections:
                others = [p for o, (_, t) in split.items() if o != sec for p in t]
                X_else = FrameSampler(cache, others, batch_size=int(det.batch_size), random_state=rng)
                record = {"source": "other_sections", "sections": [o for o in split if o != sec],
                          "files": len(others), "why": "the other sections' normal training clips"}  # fmt: skip
            if X_else is not None:
                source = _WithSomethingElse(sampler, X_else, rng)
            det.fit_batches(source)
            det.progress = False
            maha = _fit_mahalanobis(det, cache, train, sampler)  # always: adskit evaluate compares both scores
            detectors.append(det)
            scorers.append(maha)
            entries.append(_entry(det, det if score == "mse" else maha, sec, calib, train, seconds, record, asked))
            _note_scorer(entries[-1], maha, sec)
    info = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "adskit_version": version("adskit"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "features": cfg.to_dict(),
        "training": "per_section" if per_section else "pooled",
        "models": entries,
        "bad_files": bad,
    }
    tmp = out.with_name(f".{out.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        for det, scorer, entry in zip(detectors, scorers, entries, strict=True):
            det.save(tmp / entry["detector"])
            entry["detector_sha256"] = file_sha256(tmp / entry["detector"])
            scorer.save(tmp / entry["scorer"])
            entry["scorer_sha256"] = file_sha256(tmp / entry["scorer"])
        atomic_write_json(tmp / MODEL_FILE, info)
        _check_out(out, force)  # again: another process may have written there meanwhile
        _place(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _fit_mahalanobis(
    det: AEDetector, cache: FeatureCache, train: list[Path], sampler: FrameSampler
) -> ResidualMahalanobis:
    """The residual covariance of the training vectors: all of them, or :data:`MAHALANOBIS_MAX_ROWS` drawn at
    random (with replacement, by the sampler) when they are more."""
    if sampler.n_vectors_ <= MAHALANOBIS_MAX_ROWS:
        R = np.concatenate([det.residuals(np.array(cache.vectors(p))) for p in train])
    else:
        n = -(-MAHALANOBIS_MAX_ROWS // sampler.batch_size)
        R = np.concatenate([det.residuals(sampler.batch(step)) for step in range(n)])[:MAHALANOBIS_MAX_ROWS]
    return ResidualMahalanobis(det).fit_residuals(R)


def _entry(
    det: AEDetector,
    scorer: AEDetector | ResidualMahalanobis,
    section: str | None,
    calib: list[Path],
    train: list[Path],
    seconds: dict[Path, float],
    else_record: dict,
    asked: dict,
) -> dict:
    """One model's entry of ``model.json``, with the clip scores of its calibration clips."""
    frames = [recording_scores(scorer, p, _feature_config(det))[1] for p in calib]
    cal_scores = [float(v) for v in clip_scores(frames, asked["aggregate"])]
    where = "" if section is None else f"{section}/"
    entry = {
        "section": section,
        "detector": f"{where}{DETECTOR_FILE}",
        "preset": asked["preset"],
        "cost": asked["cost"],
        "seed": asked["seed"],
        "settings": det.settings(),
        "score": asked["score"],
        "aggregate": asked["aggregate"],
        "fitted": _fitted(det),
        "calibration": {
            "clip_scores": cal_scores,
            "seconds": [min(seconds[p] for p in calib), max(seconds[p] for p in calib)],
            "fraction": asked["fraction"],
            "default_rho": asked["rho"],
        },
        "data": {
            "normal_dir": asked["normal_dir"],
            "train": _record(train),
            "calibration": _record(calib),
            "something_else": else_record,
        },
    }
    return entry


def _note_scorer(entry: dict, maha: ResidualMahalanobis, section: str | None) -> None:
    """Record the residual Mahalanobis scorer in a model entry (its file, and how its covariance was fitted)."""
    entry["scorer"] = f"{'' if section is None else f'{section}/'}{SCORER_FILE}"
    entry["fitted"]["mahalanobis"] = {"method": maha.method_, "shrinkage": maha.shrinkage_,
                                      "condition": _finite(maha.condition_), "n_residuals": maha.n_residuals_}  # fmt: skip


def fit_summary(folder: str | os.PathLike) -> list[str]:
    """Lines that say what a model directory holds (for ``adskit fit``'s standard error), files left out last.

    Raises
    ------
    FileNotFoundError, ValueError
        As :func:`adskit.experiments.analyst_model.load_models`.
    """
    models = load_models(folder)
    info = next(iter(models.values())).info
    lines = []
    if len(models) > 1 or None not in models:
        lines.append(f"wrote {folder}: {len(models)} models, one per section ({', '.join(map(str, models))})")
    for sec, m in models.items():
        e, k = m.entry, len(m.calibration_scores)
        fitted = e["fitted"]
        set_ = ", ".join(f"{n} = {fitted[n]:.4g}" for n in ("h", "C") if fitted[n] is not None)
        thr = m.threshold(m.default_rho)
        where = f"wrote {m.folder}" if sec is None else f"section {sec}"
        lines += [
            f"{where}: {e['cost'].upper()} on preset {e['preset']}, {fitted['n_updates']} updates on "
            f"{len(e['data']['train'])} clips (trained in {fitted['fit_seconds']:.0f} s); set from the training data: the scaler"
            + (f", {set_}" if set_ else "")
            + ("" if e["data"]["something_else"].get("source") != "other_sections" else
               f"; something-else sounds: the clips of sections {', '.join(e['data']['something_else']['sections'])}"),
            f"calibration: {k} held-out clips, clip scores {np.min(m.calibration_scores):.4g} to "
            f"{np.max(m.calibration_scores):.4g}; at rho = {m.default_rho:g} the threshold is {thr.threshold_:.4g}",
        ]  # fmt: skip
        if 1.0 / (k + 1) > m.default_rho:
            lines.append(
                f"warning: {k} calibration clips cannot promise rho = {m.default_rho:g}: expect about "
                f"{1 / (k + 1):.3g} false alarms per normal file at the smallest threshold; more normal clips promise "
                "smaller rates"
            )
    lines += [f"warning: left out ({b['role']}): {b['path']}: {b['reason']}" for b in info["bad_files"]]
    return lines
