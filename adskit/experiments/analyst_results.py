"""The analyst's results as a :class:`adskit.scores.ScoreSet`: what ``adskit fit`` and ``adskit score`` wrote, opened
in the threshold explorer without retraining anything.

* :func:`scoreset_from_results` - a model directory (``adskit fit``) and a scores CSV (``adskit score``, with its
  ``--frames`` folder if there is one) -> a ScoreSet. Its ``train_scores`` are the model's stored calibration clip
  scores, so :meth:`ScoreSet.phi_rho` at any rho is the threshold ``adskit score --rho`` applies
  (:meth:`adskit.experiments.analyst_model.AnalystModel.threshold`, EUSIPCO 2017 after eq 14).
* :func:`demo_results` - notebook 04's stand-in for an analyst's results: a small model directory and scores CSV
  made once by the same functions as the commands (:func:`adskit.experiments.analyst.fit_model`,
  :func:`adskit.experiments.analyst_score.score_files`) on the lecture's synthetic clips
  (:func:`adskit.experiments.thresholds.lecture_clips`), in a folder of the data folder named by a digest of the
  adskit version, the settings and the clips; later calls load it.

Directions: every score is an anomaly score, **higher = more anomalous**; ``anomalous = score > threshold``.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from .._utils import file_edges_sha256, settings_hash
from ..audio.checks import bad_file
from ..audio.clips import _apply_label_csv, parse_clip
from ..audio.synth import default_data_dir
from ..scores import UNLABELLED, ScoreSet, clip_scores
from .analyst import fit_model
from .analyst_model import load_models
from .analyst_score import CSV_HEADER, _frames_name, score_files
from .thresholds import _is_rare, lecture_clips

__all__ = ["DEMO_NETWORKS", "DEMO_RHO", "demo_results", "scoreset_from_results"]

#: the demo model's detector arguments over the ``dcase2020`` preset, per ``fast`` (False: the preset's own)
DEMO_NETWORKS: dict[bool, dict[str, Any]] = {
    True: {"hidden": (64, 64), "latent_dim": 8, "n_updates": 300, "batch_size": 256},
    False: {},
}
#: the demo model's default false-alarm rate per file (``adskit fit --rho``; its scores CSV decides at it)
DEMO_RHO = 0.1


def _read_scores_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != CSV_HEADER:
            raise ValueError(
                f"scores_csv: {path} has the header {reader.fieldnames}; expected {','.join(CSV_HEADER)} "
                "(a file written by adskit score)"
            )
        return list(reader)


def _read_frames(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(times, scores) of one ``--frames`` CSV (header ``time_s,score``)."""
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        if next(reader, None) != ["time_s", "score"]:
            raise ValueError(f"{path}: expected the header time_s,score (a frame file written by adskit score)")
        rows = np.array([[float(a), float(b)] for a, b in reader], dtype=np.float64).reshape(-1, 2)
    return rows[:, 0], rows[:, 1]


def scoreset_from_results(
    model_dir: str | os.PathLike,
    scores_csv: str | os.PathLike,
    frames_dir: str | os.PathLike | None = None,
    labels: str | os.PathLike | None = None,
    *,
    section: str | None = None,
) -> ScoreSet:
    """The results of ``adskit fit`` and ``adskit score`` as a ScoreSet for the threshold explorer (no retraining).

    Parameters
    ----------
    model_dir : str or os.PathLike
        A model directory written by ``adskit fit`` (:func:`adskit.experiments.analyst.fit_model`).
    scores_csv : str or os.PathLike
        The per-file CSV written by ``adskit score`` with that model (header
        ``path,score,decision,max_frame_time_s,error``; score = clip score, higher = more anomalous).
    frames_dir : str, os.PathLike or None
        The ``--frames`` folder of the same run (one ``<file name>.csv`` per scored file, ``time_s,score``): each
        clip's frame scores; a file without its frame CSV, or whose frames do not give its clip score (another
        run's frames), is left out and listed. None: each clip is a series of one frame, its clip score, at
        ``max_frame_time_s``.
    labels : str, os.PathLike or None
        A ``file,label`` CSV as ``adskit evaluate --labels`` reads it (:class:`adskit.audio.folders.FolderDataset`):
        paths relative to the deepest folder holding every scored file, or unique file names; its labels
        override the names'.
    section : str or None
        With a directory of section models (``adskit fit --per-section``): the section whose model and files to
        open (a ScoreSet has one threshold per method); the other files are left out. None: the pooled model.

    Returns
    -------
    ScoreSet
        One method, named after the model's cost (``"RE"``, ``"SNP"``, ``"BU"``; ``"RE mahalanobis"`` with that
        score), its ``aggregate``, ``train_scores`` = the model's calibration clip scores. Labels and process tags
        come from the file names by the kit's one label reader (:func:`adskit.audio.clips.parse_clip`:
        ``normal_*`` / ``anomaly_*``, DCASE 2021+ and MIMII names): ``"anomaly"``; a normal file with the word
        ``rare`` in its name (also without a label word, ``rare_b.wav``) ``"rare"``, as notebook 04 reads
        folders; other normal files ``"frequent"``; a file whose name gives no label (an analyst's new
        recordings) ``"unlabelled"`` (label -1: the panel counts its alarms, no rate or ROC uses it). Files with
        an error in the CSV and files of another section are left out and listed in ``info["left_out"]``
        (``{"path", "role", "reason"}``). ``info`` also holds ``model_dir``,
        ``scores_csv``, ``default_rho`` (the model's), ``csv_decisions`` (the CSV's decision per kept clip) and
        ``kind`` ``"results"``. ``audio`` = the CSV's paths (relative ones are read from the current folder, as
        ``adskit score`` wrote them); a file that is gone has no player.

    Raises
    ------
    FileNotFoundError
        No model directory, scores CSV, frames folder or labels CSV.
    ValueError
        A CSV that is not ``adskit score``'s, a directory of section models without ``section`` (or with an unknown
        one), a bad labels CSV, or no file with a score left.
    """
    models = load_models(model_dir)
    if section not in models:
        have = ", ".join("pooled" if k is None else str(k) for k in models)
        raise ValueError(f"section: {model_dir} holds the models {have}; got {section!r} (give one section)")
    model = models[section]
    scores_csv = Path(scores_csv)
    rows = _read_scores_csv(scores_csv)
    if frames_dir is not None and not Path(frames_dir).is_dir():
        raise FileNotFoundError(f"frames_dir: {frames_dir} is not a folder (expected adskit score's --frames folder)")
    left_out: list[dict] = []
    frame_files: dict[str, Path] = {}
    used: set[str] = set()
    for r in rows:  # adskit score names frame files in the order of the scored rows
        if not r["error"]:
            frame_files[r["path"]] = Path(frames_dir or ".") / _frames_name(Path(r["path"]), used)
    ok = []
    for r in rows:
        if r["error"]:
            left_out.append(bad_file(r["path"], "score", f"not scored: {r['error']}"))
        elif len(models) > 1 and parse_clip(r["path"]).section != section:
            left_out.append(bad_file(r["path"], "score", f"another section's file (this ScoreSet is {section}'s)"))
        else:
            ok.append(r)
    clips = [dataclasses.replace(parse_clip(r["path"]), path=Path(r["path"]).absolute()) for r in ok]
    if labels is not None and clips:
        root = Path(os.path.commonpath([str(c.path.parent) for c in clips]))
        clips = _apply_label_csv(root, clips, Path(labels).expanduser())
    # as notebook 04 reads folders: a name with the word "rare" and no label word is a rare-normal recording
    clips = [dataclasses.replace(c, label=0) if c.label is None and _is_rare(c.path) else c for c in clips]
    label_of = {c.path: UNLABELLED if c.label is None else int(c.label) for c in clips}
    names, process, scores, times, audio, decisions = [], [], [], [], [], []
    for r, c in zip(ok, clips, strict=True):
        y = label_of[c.path]
        if frames_dir is None:
            t, s = np.array([float(r["max_frame_time_s"] or 0.0)]), np.array([float(r["score"])])
        else:
            f = frame_files[r["path"]]
            if not f.is_file():
                left_out.append(bad_file(r["path"], "score", f"no frame scores: {f} is missing"))
                continue
            t, s = _read_frames(f)
            agg = float(clip_scores([s], model.aggregate)[0]) if s.size else float("nan")
            if not np.isclose(agg, float(r["score"]), rtol=1e-6, atol=0.0):
                left_out.append(
                    bad_file(
                        r["path"],
                        "score",
                        f"its frames in {f} give the clip score {agg:.9g}, the CSV "
                        f"{r['score']} (frames of another run?)",
                    )  # fmt: skip
                )
                continue
        names.append(Path(r["path"]).name)
        process.append(
            "unlabelled"
            if y == UNLABELLED
            else "anomaly"
            if y == 1
            else "rare"
            if _is_rare(Path(r["path"]))
            else "frequent"
        )
        scores.append(s)
        times.append(t)
        audio.append(r["path"])
        decisions.append(int(r["decision"]))
    if not names:
        first = f": e.g. {left_out[0]['path']}: {left_out[0]['reason']}" if left_out else ""
        raise ValueError(f"scores_csv: {scores_csv} has no file with a score{first}")
    method = model.entry["cost"].upper() + ("" if model.score == "mse" else f" {model.score}")
    return ScoreSet(
        {method: scores},
        np.array([UNLABELLED if p == "unlabelled" else int(p == "anomaly") for p in process]),
        process,
        names=names,
        times=times,
        train_scores={method: model.calibration_scores},
        audio=audio,
        aggregate=model.aggregate,
        info={
            "kind": "results",
            "title": f"model {Path(model_dir).name}, scores {scores_csv.name}",
            "model_dir": str(model_dir),
            "scores_csv": str(scores_csv),
            "section": section,
            "default_rho": model.default_rho,
            "csv_decisions": decisions,
            "left_out": left_out,
        },
    )


def _demo_key(clips: dict[str, list[dict]], fast: bool, seed: int) -> str:
    """The demo folder's name: a digest of the adskit version, the settings and every clip's identity."""
    files = [Path(r["path"]) for r in clips["train"] + clips["test"]]
    settings = {
        "adskit": version("adskit"),
        "networks": DEMO_NETWORKS[fast],
        "rho": DEMO_RHO,
        "seed": seed,
        "files": [(f.name, f.stat().st_size, f.stat().st_mtime_ns, file_edges_sha256(f)) for f in files],
    }
    return f"{'fast' if fast else 'full'}-s{seed}-{settings_hash(settings, 12)}"


def demo_results(
    fast: bool = True, seed: int = 0, cache_dir: str | os.PathLike | None = None, progress: bool = False
) -> dict[str, Any]:
    """A model directory, scores CSV and frames folder as ``adskit fit`` / ``adskit score`` write them, on the lecture
    clips; made once, then loaded.

    The same calls as ``adskit fit --normal <lecture>/fan/train --cost re --rho 0.1 --out model`` (with
    :data:`DEMO_NETWORKS` over the ``dcase2020`` preset) and ``adskit score model <lecture>/fan/test --frames
    frames --out scores.csv``, written into a partial folder and renamed into place.

    Parameters
    ----------
    fast : bool
        The lecture's tiny clips and a tiny network (:data:`DEMO_NETWORKS`); False: lecture size, the preset's
        network.
    seed : int
        The lecture clips' seed and the model's.
    cache_dir : str, os.PathLike or None
        Where the folder goes (default ``<data dir>/results/notebook04-analyst``); its name is a digest of the
        adskit version, the settings and the clips (:func:`_demo_key`), so another version never reuses it.
    progress : bool

    Returns
    -------
    dict
        ``model_dir``, ``scores_csv``, ``frames_dir`` (Path), ``made`` (True: made now, False: loaded) and
        ``folder``.
    """
    clips = lecture_clips(None, fast=fast, seed=seed, progress=progress)
    root = default_data_dir() / "results" / "notebook04-analyst" if cache_dir is None else Path(cache_dir)
    folder = root / _demo_key(clips, fast, seed)
    out = {"folder": folder, "model_dir": folder / "model", "scores_csv": folder / "scores.csv",
           "frames_dir": folder / "frames"}  # fmt: skip
    if out["scores_csv"].is_file():
        return {**out, "made": False}
    tmp = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    train_dir = Path(clips["train"][0]["path"]).parent
    test_dir = Path(clips["test"][0]["path"]).parent
    fit_model(train_dir, tmp / "model", cost="re", rho=DEMO_RHO, seed=seed, device="cpu", progress=progress,
              detector_overrides=DEMO_NETWORKS[fast])  # fmt: skip
    score_files(tmp / "model", [test_dir], tmp / "scores.csv", frames_dir=tmp / "frames", progress=progress)
    shutil.rmtree(folder, ignore_errors=True)  # a folder without its scores CSV: incomplete
    try:
        os.replace(tmp, folder)
    except OSError:  # another process finished the same folder first: keep its folder
        shutil.rmtree(tmp, ignore_errors=True)
    return {**out, "made": True}
