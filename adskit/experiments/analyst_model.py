"""The analyst's model directory: what ``adskit fit`` writes and ``adskit score`` reads.

A model directory holds two files, written together (a partial sibling folder renamed into place):

* ``detector.pt`` - the fitted :class:`adskit.detectors.AEDetector` in the kit's safe checkpoint format
  (:mod:`adskit.detectors.checkpoint`: tensors + JSON, read with ``torch.load(weights_only=True)``, never
  unpickled);
* ``mahalanobis.pt`` - the residual covariance (:class:`adskit.detectors.ResidualMahalanobis`), in the same
  safe format: written whatever the score (``adskit evaluate`` reports both), used for decisions with score
  "mahalanobis" (directories of adskit 0.x before this change hold it with that score only);
* ``model.json`` - everything else, readable without the kit (:data:`MODEL_FORMAT`, version
  :data:`MODEL_FORMAT_VERSION`)::

      format, format_version, adskit_version, created
      features        the FeatureConfig the detector was trained on (FeatureConfig.to_dict())
      models          one entry per model: one pooled model (section None; DCASE 2020), or one per section / id
                      (``adskit fit --per-section``; DCASE 2021+), each detector in a sub-folder named by its section
        section, detector ("detector.pt" or "<section>/detector.pt"), detector_sha256, preset, cost, seed,
                        settings (constructor arguments)
        score           the score of the calibration, threshold and decisions: "mse" (the AE's squared
                        reconstruction error) or "mahalanobis" (the residual Mahalanobis distance of the DCASE
                        2023-2026 baselines); ``scorer``, ``scorer_sha256``: the residual covariance's file
        aggregate       "max" (clip score = max over frames, WASPAA 2019 eq 11) or "mean" (the DCASE baselines')
        fitted          values set from the training data: scaler mean/scale (d,), h and the bandwidth rule (BU),
                        C (SNP/BU), updates, seconds
        calibration     clip_scores (K,), files, seconds (min, max), fraction, default_rho
        data            normal_dir, train / calibration files (path, size, sha256 of the first and last MiB),
                        something_else (where the SNP/BU sounds came from)
      bad_files       files left out, {"path", "role", "reason"}

:func:`load_model` reads it back as an :class:`AnalystModel`; :meth:`AnalystModel.threshold` fits phi_rho
(EUSIPCO 2017, after eq 14) on the stored calibration clip scores at any rho, without retraining.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio.features import FeatureConfig
from ..detectors import AEDetector, ResidualMahalanobis
from ..threshold import NeymanPearsonThreshold

__all__ = [
    "DETECTOR_FILE",
    "MODEL_FILE",
    "MODEL_FORMAT",
    "MODEL_FORMAT_VERSION",
    "SCORER_FILE",
    "SCORES",
    "AnalystModel",
    "file_sha256",
    "is_model_dir",
    "load_model",
    "load_models",
    "read_model_info",
]

MODEL_FORMAT = "adskit-model"
MODEL_FORMAT_VERSION = 1
MODEL_FILE = "model.json"
DETECTOR_FILE = "detector.pt"
SCORER_FILE = "mahalanobis.pt"
#: the frame scores a model directory can hold
SCORES = ("mse", "mahalanobis")


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a whole file (read in 1-MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def is_model_dir(folder: str | os.PathLike) -> bool:
    """True when ``folder`` holds a ``model.json`` of the kit's model format (any version)."""
    try:
        info = json.loads((Path(folder) / MODEL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("format") == MODEL_FORMAT


@dataclass
class AnalystModel:
    """A loaded model directory.

    Attributes
    ----------
    folder : Path
    info : dict
        ``model.json`` as read.
    entry : dict
        The model entry used (``info["models"][i]``).
    detector : AEDetector
        Fitted, from the safe checkpoint.
    feature_config : FeatureConfig
    calibration_scores : np.ndarray [shape=(K,)], float64
        Clip scores (``aggregate`` over frames, higher = more anomalous) of the held-out normal calibration clips.
    scorer : AEDetector, ResidualMahalanobis or None
        What gives the frame scores (:attr:`score`): the detector itself (None: "mse") or the residual
        Mahalanobis scorer on it.
    mahalanobis : ResidualMahalanobis or None
        The residual Mahalanobis scorer when the directory stores one (whatever :attr:`score` is).
    """

    folder: Path
    info: dict
    entry: dict
    detector: AEDetector
    feature_config: FeatureConfig
    calibration_scores: np.ndarray
    scorer: AEDetector | ResidualMahalanobis | None = None
    mahalanobis: ResidualMahalanobis | None = None

    def __post_init__(self) -> None:
        if self.scorer is None:
            self.scorer = self.detector
        if self.mahalanobis is None and isinstance(self.scorer, ResidualMahalanobis):
            self.mahalanobis = self.scorer

    @property
    def scorers(self) -> dict[str, AEDetector | ResidualMahalanobis]:
        """Every frame score this directory can give, by name (:data:`SCORES`): "mse" always, "mahalanobis" when
        the residual covariance is stored (every directory ``adskit fit`` writes now)."""
        out: dict[str, AEDetector | ResidualMahalanobis] = {"mse": self.detector}
        if self.mahalanobis is not None:
            out["mahalanobis"] = self.mahalanobis
        return out

    @property
    def score(self) -> str:
        """The frame score: "mse" or "mahalanobis"."""
        return str(self.entry.get("score", "mse"))

    @property
    def aggregate(self) -> str:
        """The clip rule: "max" or "mean"."""
        return str(self.entry.get("aggregate", "max"))

    @property
    def default_rho(self) -> float:
        """The rho ``fit`` was given (used by ``score`` when none is asked)."""
        return float(self.entry["calibration"]["default_rho"])

    @property
    def calibration_seconds(self) -> tuple[float, float]:
        """Shortest and longest calibration clip, in seconds: the files the rho promise is about."""
        lo, hi = self.entry["calibration"]["seconds"]
        return float(lo), float(hi)

    def threshold(self, rho: float) -> NeymanPearsonThreshold:
        """phi_rho fitted on the calibration clip scores (EUSIPCO 2017 after eq 14; ``score > phi`` = anomalous).

        Parameters
        ----------
        rho : float in (0, 1)
            The false-alarm rate per file asked for.

        Returns
        -------
        NeymanPearsonThreshold
            Fitted: ``threshold_``, ``n_fit_`` (K).

        Raises
        ------
        ValueError
            If ``rho`` is not in (0, 1).
        """
        return NeymanPearsonThreshold(rho=rho).fit(self.calibration_scores)


def read_model_info(folder: str | os.PathLike) -> dict:
    """``model.json`` of a model directory, checked for the format and version.

    Raises
    ------
    FileNotFoundError
        No ``model.json`` in ``folder``.
    ValueError
        Not valid JSON, not a model of this format, or a newer format version.
    """
    meta = Path(folder) / MODEL_FILE
    if not meta.is_file():
        raise FileNotFoundError(f"MODEL_DIR: {folder} holds no {MODEL_FILE} (expected a folder made by adskit fit)")
    try:
        info = json.loads(meta.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"{meta}: not valid JSON ({exc})") from exc
    if not isinstance(info, dict) or info.get("format") != MODEL_FORMAT:
        raise ValueError(f"{meta}: not an adskit model (no format = {MODEL_FORMAT!r})")
    if int(info.get("format_version", 0)) > MODEL_FORMAT_VERSION:
        raise ValueError(f"{meta}: format_version {info['format_version']} is newer than this adskit; upgrade")
    return info


def _load_entry(folder: Path, info: dict, entry: dict, device: str) -> AnalystModel:
    ckpt = folder / entry["detector"]
    if ckpt.is_file() and file_sha256(ckpt) != entry.get("detector_sha256"):
        raise ValueError(f"{ckpt}: not the checkpoint {MODEL_FILE} was written with (SHA-256 differs)")
    detector = AEDetector.load(ckpt, device=device)
    maha = None
    score = entry.get("score", "mse")
    if score not in SCORES:
        raise ValueError(f"{folder / MODEL_FILE}: score {score!r} is not one this adskit knows ({SCORES}); upgrade")
    if score == "mahalanobis" or entry.get("scorer"):
        path = folder / entry["scorer"]
        if path.is_file() and file_sha256(path) != entry.get("scorer_sha256"):
            raise ValueError(f"{path}: not the file {MODEL_FILE} was written with (SHA-256 differs)")
        maha = ResidualMahalanobis.load(path, detector)
    scores = np.asarray(entry["calibration"]["clip_scores"], dtype=np.float64)
    scorer = maha if score == "mahalanobis" else None
    return AnalystModel(folder, info, entry, detector, FeatureConfig(**info["features"]), scores, scorer, maha)


def load_model(folder: str | os.PathLike, section: str | None = None, device: str = "cpu") -> AnalystModel:
    """Read one model of a model directory written by :func:`adskit.experiments.analyst.fit_model`.

    The detector is loaded with ``torch.load(weights_only=True)`` (:meth:`AEDetector.load`): a file holding
    pickled code is refused, nothing in it runs.

    Parameters
    ----------
    folder : str or os.PathLike
    section : str or None
        Which model entry: None the pooled model, else a section / id (``"id_00"``, ``"section_01"``) of a
        directory written with ``per_section=True``.
    device : "auto", "cpu" or "cuda"

    Returns
    -------
    AnalystModel

    Raises
    ------
    FileNotFoundError
        No ``model.json`` in ``folder``.
    ValueError
        Not a model of this format, a newer format version, no entry for ``section``, or a ``detector.pt``
        that is not the one ``model.json`` was written with (its SHA-256 differs).
    adskit.detectors.CheckpointError
        The checkpoint is damaged or not a plain tensor/JSON file (a ValueError too).
    """
    folder = Path(folder)
    info = read_model_info(folder)
    entries = [e for e in info.get("models", []) if e.get("section") == section]
    if not entries:
        have = [e.get("section") for e in info.get("models", [])]
        raise ValueError(f"{folder / MODEL_FILE}: no model for section {section!r} (it has {have})")
    return _load_entry(folder, info, entries[0], device)


def load_models(folder: str | os.PathLike, device: str = "cpu") -> dict[str | None, AnalystModel]:
    """Every model of a model directory, by section (None: the pooled model), in the order of ``model.json``.

    Raises
    ------
    FileNotFoundError, ValueError, adskit.detectors.CheckpointError
        As :func:`load_model`; also a directory without any model entry.
    """
    folder = Path(folder)
    info = read_model_info(folder)
    out = {e.get("section"): _load_entry(folder, info, e, device) for e in info.get("models", [])}
    if not out:
        raise ValueError(f"{folder / MODEL_FILE}: holds no model entry")
    return out
