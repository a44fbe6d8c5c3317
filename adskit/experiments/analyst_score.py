"""The analyst's scoring: frame scores of recordings of any length in chunks, and the per-file score files.

* :func:`recording_scores` - A(x_t) for every context vector of one recording (higher = more anomalous), read in
  chunks with :func:`adskit.audio.io.load_audio` (``start`` / ``frames``): memory stays that of one chunk
  whatever the length (an hour at 44.1 kHz stereo is never in memory), and the scores equal those of the whole
  file read at once (tested to float32 rounding: chunks overlap by the feature window and a resampling margin).
* :func:`score_files` - a model directory (:mod:`adskit.experiments.analyst_model`) applied to files and
  folders: one row per file ``path, score, decision, max_frame_time_s, error`` (score = clip score: the model's
  frame scores, mse or residual Mahalanobis, aggregated by max (WASPAA 2019 eq 11) or mean as the model says;
  decision 1 = anomalous at the Neyman-Pearson threshold phi_rho of the stored calibration clip scores, EUSIPCO
  2017 after eq 14), a bad file a row with its error, never a stop; optional
  frame-score CSVs and the DCASE challenge file pair. A directory of section models (``adskit fit
  --per-section``) scores each file with the model of the section its name gives (:func:`model_for`); a file of
  a section without a model is a row that says so. :func:`score_rows` is the scoring loop, shared with
  ``adskit evaluate`` (:mod:`adskit.experiments.analyst_evaluate`).

The DCASE file pair (the format of the DCASE 2020-2025 Task 2 submissions): ``anomaly_score_<name>.csv`` and
``decision_result_<name>.csv``, no header, one line per file ``<file name>,<value>`` (the anomaly score; the
decision 1 anomalous / 0 normal).
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._utils import atomic_write_text
from ..audio.checks import other_audio, waveform_problem
from ..audio.clips import parse_clip
from ..audio.features import FeatureConfig, LogMel, frame_times, n_frames
from ..audio.io import AudioFileError, audio_info, list_audio_files, load_audio
from ..scores import clip_scores, frame_scores
from .analyst_model import AnalystModel, load_models

__all__ = [
    "CSV_HEADER",
    "ScoreReport",
    "as_models",
    "list_inputs",
    "model_for",
    "recording_scores",
    "score_files",
    "score_rows",
    "thresholds",
]

#: the header of the per-file scores CSV
CSV_HEADER = ("path", "score", "decision", "max_frame_time_s", "error")
#: seconds of audio per chunk when scoring (bounds the memory of one file: about 40 MB at 44.1 kHz stereo)
CHUNK_SECONDS = 60.0
#: resampling margin kept on both sides of a chunk, in seconds: soxr's HQ filter settles within ~100 samples at
#: 16 kHz (measured: 6.7e-8 from the whole file's samples beyond 100 samples); 0.1 s is a wide safety margin
_MARGIN_SECONDS = 0.1


def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


def recording_scores(
    detector: Any,
    path: str | os.PathLike,
    cfg: FeatureConfig,
    *,
    chunk_seconds: float | None = CHUNK_SECONDS,
    channel: str | int = "mix",
    extractor: LogMel | None = None,
    on_chunk: Callable[[float], None] | None = None,
    info: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Frame anomaly scores of one recording of any length, computed chunk by chunk.

    The file is read at its native rate from sample ``start`` for ``frames`` samples
    (:func:`adskit.audio.io.load_audio`, which mixes the channels down and resamples to ``cfg.sr``). Chunk starts
    are multiples of both the STFT hop and the resampling period (so a chunk's samples and frames line up with
    the whole file's), and each chunk is widened by the STFT window and a resampling margin on both sides; only
    the frames whose window lies inside the exact part are kept.

    Parameters
    ----------
    detector : fitted detector
        E.g. :class:`adskit.detectors.AEDetector`, trained on ``cfg``'s context vectors (checked by
        :func:`adskit.scores.frame_scores`).
    path : str or os.PathLike
        An audio file the kit reads (WAV, FLAC, OGG; any rate and channel count).
    cfg : FeatureConfig
        The detector's front end.
    chunk_seconds : float or None
        Audio per chunk, in seconds (None: the whole file in one piece).
    channel : "mix" or int
        As :func:`adskit.audio.io.load_audio`.
    extractor : LogMel or None
        A log-mel extractor of ``cfg`` to reuse (None: one is made, on the CPU).
    on_chunk : callable or None
        Called with the seconds of audio each chunk advances (for a progress bar).
    info : mapping or None
        The file's :func:`adskit.audio.io.audio_info`, when the caller has it already (None: read here).

    Returns
    -------
    times : np.ndarray [shape=(V,)]
        Centre time of each context vector in seconds (:func:`adskit.audio.frame_times`).
    scores : np.ndarray [shape=(V,)], float64
        A(x_t), higher = more anomalous; ``V = n_frames - cfg.frames + 1`` of the whole file at ``cfg.sr``.

    Raises
    ------
    adskit.audio.AudioFileError
        The file cannot be read, holds NaN or Inf, is silent, or is too short for one context window.
    ValueError
        ``chunk_seconds`` is not > 0, or the detector does not match ``cfg`` (:func:`adskit.scores.frame_scores`).
    """
    times, scores = recording_scores_by(
        {"_": detector}, path, cfg, chunk_seconds=chunk_seconds, channel=channel, extractor=extractor,
        on_chunk=on_chunk, info=info,
    )  # fmt: skip
    return times, scores["_"]


def recording_scores_by(
    detectors: Mapping[str, Any],
    path: str | os.PathLike,
    cfg: FeatureConfig,
    *,
    chunk_seconds: float | None = CHUNK_SECONDS,
    channel: str | int = "mix",
    extractor: LogMel | None = None,
    on_chunk: Callable[[float], None] | None = None,
    info: Mapping[str, Any] | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """:func:`recording_scores` under several detectors of one front end: the file is read and its log-mel
    computed once, and each detector scores the same frames.

    Parameters
    ----------
    detectors : mapping of str -> fitted detector
        E.g. :attr:`adskit.experiments.analyst_model.AnalystModel.scorers` ("mse", "mahalanobis"), all trained on ``cfg``.
    path, cfg, chunk_seconds, channel, extractor, on_chunk, info
        As :func:`recording_scores`.

    Returns
    -------
    times : np.ndarray [shape=(V,)]
    scores : dict of str -> np.ndarray [shape=(V,)], float64
        The frame scores of each detector, under its key.

    Raises
    ------
    As :func:`recording_scores`.
    """
    path = Path(path)
    info = audio_info(path) if info is None else info
    sr0, n0, t_sr = info["sr"], info["frames"], cfg.sr
    g = math.gcd(sr0, t_sr)
    per_n, per_t = sr0 // g, t_sr // g  # per_n native samples <-> per_t target samples, exactly
    unit_t = _lcm(cfg.hop_length, per_t)  # chunk starts: multiples of the hop and the resampling period
    n_total = -(-n0 * t_sr // sr0)  # the whole file's length at cfg.sr (librosa: ceil(n * ratio))
    pad = cfg.n_fft // 2 if cfg.center else 0
    n_vec = n_frames(n_total, cfg) - cfg.frames + 1
    extractor = LogMel(cfg, device="cpu") if extractor is None else extractor
    if chunk_seconds is None:
        step = max(n_vec, 1)
    else:
        if not chunk_seconds > 0:
            raise ValueError(f"chunk_seconds: expected a number > 0 or None, got {chunk_seconds!r}")
        step = max(int(chunk_seconds * t_sr) // cfg.hop_length, 1)
    if n_vec < 1 or step >= n_vec:  # one piece: the whole file, checked as every command checks files
        y, _ = load_audio(path, sr=t_sr, channel=channel)
        reason = waveform_problem(y, t_sr, cfg)
        if reason is not None:
            raise AudioFileError(path, reason)
        if on_chunk is not None:
            on_chunk(n0 / sr0)
        S = extractor(y).cpu().numpy()
        return frame_times(n_vec, cfg), {k: frame_scores(d, S) for k, d in detectors.items()}
    margin = int(math.ceil(_MARGIN_SECONDS * t_sr))
    out: dict[str, list[np.ndarray]] = {k: [] for k in detectors}
    loud, done = False, 0.0
    for v0 in range(0, n_vec, step):
        v1 = min(v0 + step, n_vec)
        f0, f1 = v0, v1 + cfg.frames - 1  # frames [f0, f1) make vectors [v0, v1)
        ts = max(0, (f0 * cfg.hop_length - pad - margin) // unit_t * unit_t)
        te = (f1 - 1) * cfg.hop_length - pad + cfg.n_fft + margin
        ns = ts // per_t * per_n
        ne = -(-te * per_n // per_t) if te < n_total else n0
        y, _ = load_audio(path, sr=t_sr, channel=channel, start=ns, frames=None if ne >= n0 else ne - ns)
        loud = loud or bool(np.any(y))
        S = extractor(y).cpu().numpy()
        a = f0 - ts // cfg.hop_length
        for k, d in detectors.items():
            out[k].append(frame_scores(d, S[a : a + (f1 - f0)]))
        if on_chunk is not None:  # seconds of the file done so far, minus those said before
            here = n0 / sr0 if v1 == n_vec else v1 * cfg.hop_length / t_sr
            on_chunk(here - done)
            done = here
    if not loud:
        raise AudioFileError(path, "silent: every sample is 0")
    return frame_times(n_vec, cfg), {k: np.concatenate(v) for k, v in out.items()}


def list_inputs(inputs: Sequence[str | os.PathLike]) -> dict[Path, str]:
    """The audio files named by ``inputs``, in order, each with the reason it cannot be scored ("" if none known).

    Files are taken as given (a path that does not exist or is not audio becomes a row with its error); folders
    are searched recursively (sorted) for the formats the kit reads, and the audio files in formats this machine
    cannot read are listed too, with advice (:func:`adskit.audio.checks.other_audio`). A file named twice is
    listed once.

    Raises
    ------
    ValueError
        If ``inputs`` is empty.
    """
    if not inputs:
        raise ValueError("INPUT: expected at least one file or folder")
    out: dict[Path, str] = {}
    for item in map(Path, inputs):
        if not item.is_dir():
            out.setdefault(item, "")
            continue
        for p in list_audio_files(item):
            out.setdefault(p, "")
        bad: list[dict] = []
        other_audio(item, "score", bad)
        for b in bad:
            out.setdefault(Path(b["path"]), b["reason"])
    return out


def model_for(models: Mapping[str | None, AnalystModel], path: str | os.PathLike) -> tuple[str | None, str]:
    """Which model scores a file: its section's (read from its name by :func:`adskit.audio.clips.parse_clip`),
    else the pooled one.

    Parameters
    ----------
    models : mapping of section (None: pooled) -> AnalystModel
        As :func:`adskit.experiments.analyst_model.load_models` returns.
    path : str or os.PathLike

    Returns
    -------
    section : str or None
        The key of the model in ``models``.
    error : str
        "" when a model was found, else why none scores the file (then ``section`` is the file's own).
    """
    section = parse_clip(path).section
    if section in models:
        return section, ""
    if None in models:
        return None, ""
    have = ", ".join(str(k) for k in models)
    if section is None:
        return None, f"no section or id in its name (section_XX, id_XX): the model has one model per section ({have})"
    return section, f"no model for its section {section}: the model directory has models for {have}"


def thresholds(models: Mapping[str | None, AnalystModel], rho: float | None = None) -> dict[str | None, dict]:
    """phi_rho of each model (EUSIPCO 2017 after eq 14) on its calibration clip scores, and what it promises.

    Parameters
    ----------
    models : mapping of section -> AnalystModel
    rho : float in (0, 1) or None
        The false-alarm rate per file asked for; None: each model's default.

    Returns
    -------
    dict of section -> dict
        ``rho``, ``threshold`` (``score > threshold`` is anomalous), ``n_calibration`` (K) and ``expected_fpr``:
        k / (K + 1) with k = max(floor(rho K), 1), the rate new normal files like the calibration clips exceed it
        with (exchangeability); above ``rho`` when K < 1 / rho.

    Raises
    ------
    ValueError
        If ``rho`` is not in (0, 1).
    """
    out = {}
    for sec, m in models.items():
        thr = m.threshold(m.default_rho if rho is None else rho)
        k = max(int(np.floor(thr.rho * thr.n_fit_)), 1)
        out[sec] = {"rho": float(thr.rho), "threshold": float(thr.threshold_), "n_calibration": int(thr.n_fit_),
                    "expected_fpr": k / (thr.n_fit_ + 1)}  # fmt: skip
    return out


def score_rows(
    models: Mapping[str | None, AnalystModel],
    paths: Mapping[Path, str],
    rho: float | None = None,
    *,
    frames: bool = False,
    compare: bool = False,
    chunk_seconds: float | None = CHUNK_SECONDS,
    progress: bool = True,
) -> list[dict]:
    """Score files, each with the model of its section (:func:`model_for`): one row per file, errors as rows.

    Parameters
    ----------
    models : mapping of section -> AnalystModel
    paths : mapping of Path -> str
        The files and a known reason each cannot be scored ("" if none), as :func:`list_inputs` gives.
    rho : float in (0, 1) or None
        As :func:`thresholds`.
    frames : bool
        Keep each file's frame times and scores in the row (``"frames"``: two arrays (V,)).
    compare : bool
        Also give every scored row ``"compare"``: the clip score of each frame score the model directory holds
        (:attr:`AnalystModel.scorers`: "mse", "mahalanobis") under each clip rule ("max", "mean"), keyed
        ``"<score>, <rule>"``, all from one reading of the file and one log-mel (:func:`recording_scores_by`).
    chunk_seconds : float or None
        As :func:`recording_scores`.
    progress : bool
        A progress bar over the seconds of audio (standard error).

    Returns
    -------
    rows : list of dict
        ``path``, ``section`` (the model's key), ``score`` (clip score: the model's ``aggregate``, max or mean, of
        its frame scores, ``score`` mse or mahalanobis; higher = more anomalous;
        None with an error), ``decision`` (1 anomalous / 0 normal at the model's phi_rho; None), ``max_frame_time_s``,
        ``seconds`` (the file's duration, None if unknown), ``error`` ("" when scored).
    """
    from tqdm.auto import tqdm

    thr = thresholds(models, rho)
    infos: dict[Path, dict] = {}
    for p in paths:
        try:
            infos[p] = audio_info(p)
        except (AudioFileError, OSError):
            pass  # the row says why
    durations = {p: i["duration"] for p, i in infos.items()}
    extractors = {sec: LogMel(m.feature_config, device="cpu") for sec, m in models.items()}
    rows = []
    bar = tqdm(total=sum(durations.values()), unit="s", desc="scoring", disable=not progress, file=sys.stderr)
    for p, known in paths.items():
        sec, error = model_for(models, p)
        row = {"path": str(p), "section": sec, "score": None, "decision": None, "max_frame_time_s": None,
               "seconds": durations.get(p), "error": known or error}  # fmt: skip
        if row["error"]:
            rows.append(row)
            continue
        m = models[sec]
        try:
            scorers = m.scorers if compare else {m.score: m.scorer}  # every frame score from one pass
            times, by = recording_scores_by(
                scorers, p, m.feature_config, chunk_seconds=chunk_seconds, extractor=extractors[sec],
                on_chunk=bar.update, info=infos.get(p),
            )  # fmt: skip
            s = by[m.score]
            i = int(np.argmax(s))
            row.update(score=float(clip_scores([s], m.aggregate)[0]), max_frame_time_s=float(times[i]))
            row["decision"] = int(row["score"] > thr[sec]["threshold"])
            if compare:
                row["compare"] = {
                    f"{k}, {r}": float(clip_scores([v], r)[0]) for k, v in by.items() for r in ("max", "mean")
                }
            if frames:
                row["frames"] = (times, s)
        except (AudioFileError, OSError, ValueError) as exc:
            row["error"] = exc.problem if isinstance(exc, AudioFileError) else str(exc)
        rows.append(row)
    bar.close()
    return rows


@dataclass
class ScoreReport:
    """What :func:`score_files` did: the rows, the thresholds and the files written.

    Attributes
    ----------
    rows : list of dict
        One per file, as :func:`score_rows` gives (``path``, ``section``, ``score``, ``decision``,
        ``max_frame_time_s``, ``seconds``, ``error``).
    models : dict of section -> dict
        Each model's threshold and promise (:func:`thresholds`); the key None is a pooled model.
    files : dict of str -> Path
        ``"csv"``, and ``"anomaly_score"`` / ``"decision_result"`` (DCASE) when written.
    warnings : list of str

    The properties ``rho``, ``threshold``, ``n_calibration`` and ``expected_fpr`` are those of the one model (with
    several, the smallest K and the largest expected rate; ``threshold`` None).
    """

    rows: list[dict]
    models: dict[str | None, dict]
    files: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def rho(self) -> float:
        """The false-alarm rate asked for (the first model's when each has its default)."""
        return next(iter(self.models.values()))["rho"]

    @property
    def threshold(self) -> float | None:
        """phi_rho on the clip-score scale (``score > threshold`` is anomalous); None with several models."""
        return next(iter(self.models.values()))["threshold"] if len(self.models) == 1 else None

    @property
    def n_calibration(self) -> int:
        """K, the calibration clip scores the threshold was fitted on (the smallest K of several models)."""
        return min(t["n_calibration"] for t in self.models.values())

    @property
    def expected_fpr(self) -> float:
        """k / (K + 1): the rate of false alarms to expect on new normal files like the calibration clips."""
        return max(t["expected_fpr"] for t in self.models.values())

    @property
    def n_anomalous(self) -> int:
        """Files decided anomalous."""
        return sum(r["decision"] == 1 for r in self.rows)

    @property
    def n_errors(self) -> int:
        """Files with an error (no score)."""
        return sum(bool(r["error"]) for r in self.rows)

    def summary(self) -> str:
        """One line: files, anomalous at rho, errors."""
        if self.threshold is not None:
            how = f"threshold {self.threshold:.6g} from {self.n_calibration} calibration clips"
        else:
            how = f"the thresholds of {len(self.models)} section models, each with its section's files"
        n, bad = len(self.rows), self.n_errors
        return (
            f"{n - bad} of {n} files scored: {self.n_anomalous} anomalous at rho = {self.rho:g} ({how}), "
            f"{bad} not scored (error)"
        )


def _csv_text(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    if header is not None:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _num(x: float | None) -> str:
    return "" if x is None else f"{x:.9g}"


def _frames_name(path: Path, used: set[str]) -> str:
    name, k = f"{path.name}.csv", 2
    while name in used:
        name, k = f"{path.name}-{k}.csv", k + 1
    used.add(name)
    return name


def _span(lo: float, hi: float) -> str:
    """'10 s' when every calibration clip has one length, else '8-12 s'."""
    return f"{lo:.3g} s" if f"{lo:.3g}" == f"{hi:.3g}" else f"{lo:.3g}-{hi:.3g} s"


def _length_warnings(rows: list[dict], models: Mapping[str | None, AnalystModel]) -> list[str]:
    """Files much shorter or longer than the calibration clips of the model that scored them."""
    out = []
    for sec, m in models.items():
        lo, hi = m.calibration_seconds
        mine = [(r["path"], r["seconds"]) for r in rows if r["section"] == sec and r["seconds"] is not None]
        short = [p for p, d in mine if d < 0.5 * lo]
        long_ = [p for p, d in mine if d > 1.5 * hi]
        of = "" if sec is None else f" of section {sec}"
        if short:
            out.append(
                f"{len(short)} file(s) shorter than half the calibration clips{of} ({_span(lo, hi)}), e.g. "
                f"{short[0]}: a maximum over fewer frames alarms less often than rho promises"
            )
        if long_:
            out.append(
                f"{len(long_)} file(s) longer than 1.5 x the calibration clips{of} ({_span(lo, hi)}), e.g. "
                f"{long_[0]}: a maximum over more frames alarms more often than rho promises; read its frame scores "
                "(--frames)"
            )
    return out


def _promise_warnings(models: Mapping[str | None, dict]) -> list[str]:
    """A warning per model whose K calibration clips cannot promise the rho asked for."""
    out = []
    for sec, t in models.items():
        if t["expected_fpr"] > t["rho"]:
            of = "" if sec is None else f"section {sec}: "
            out.append(
                f"{of}rho = {t['rho']:g} is below what {t['n_calibration']} calibration clips can promise: the "
                f"threshold is their largest score, and about {t['expected_fpr']:.3g} of new normal files will exceed "
                "it; fit with more normal clips or a larger --calibration-fraction"
            )
    return out


def as_models(
    model: AnalystModel | Mapping[str | None, AnalystModel] | str | os.PathLike, device: str = "cpu"
) -> dict[str | None, AnalystModel]:
    """Models by section from a model directory (loaded: :func:`adskit.experiments.analyst_model.load_models`),
    one loaded model, or a mapping of them."""
    if isinstance(model, AnalystModel):
        return {model.entry.get("section"): model}
    if isinstance(model, Mapping):
        return dict(model)
    return load_models(model, device=device)


def score_files(
    model: AnalystModel | Mapping[str | None, AnalystModel] | str | os.PathLike,
    inputs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    rho: float | None = None,
    frames_dir: str | os.PathLike | None = None,
    dcase_dir: str | os.PathLike | None = None,
    dcase_name: str | None = None,
    chunk_seconds: float | None = CHUNK_SECONDS,
    device: str = "cpu",
    progress: bool = True,
) -> ScoreReport:
    """Score recordings with a fitted model: one CSV row per file, a bad file a row with its error.

    Parameters
    ----------
    model : AnalystModel, mapping of section -> AnalystModel, str or os.PathLike
        A model directory written by :func:`adskit.experiments.analyst.fit_model`, or its models loaded. A
        directory of section models scores each file with its section's model (:func:`model_for`); a file whose
        section has no model is a row with that error.
    inputs : sequence of str or os.PathLike
        Files and folders (searched recursively for WAV / FLAC / OGG, any rate and channel count).
    out : str or os.PathLike
        The scores CSV, written atomically; header :data:`CSV_HEADER`; score = clip score (the model's frame
        score and clip rule: max over frames, WASPAA 2019 eq 11, or mean; higher = more anomalous), decision 1 anomalous / 0 normal, both empty with an error.
    rho : float in (0, 1) or None
        False-alarm rate per file; the threshold is phi_rho (EUSIPCO 2017, after eq 14) of the model's stored
        calibration clip scores (:class:`adskit.threshold.NeymanPearsonThreshold`). None: each model's default.
    frames_dir : str, os.PathLike or None
        Also write one CSV per scored file here, ``<file name>.csv`` (``-2``, ``-3``... for repeated names), with
        header ``time_s,score`` (centre time of each context vector in seconds, its anomaly score).
    dcase_dir, dcase_name : str or None
        Also write ``anomaly_score_<name>.csv`` and ``decision_result_<name>.csv`` (DCASE 2020-2025 Task 2: no
        header, ``<file name>,<value>``); files with errors are left out of them (and said so).
    chunk_seconds : float or None
        Audio per chunk (:func:`recording_scores`).
    device : "auto", "cpu" or "cuda"
        Where the detector runs (features are computed on the CPU).
    progress : bool
        A progress bar over the seconds of audio.

    Returns
    -------
    ScoreReport

    Raises
    ------
    ValueError
        ``rho`` not in (0, 1); no input; only one of ``dcase_dir`` / ``dcase_name``; a bad model directory.
    adskit.detectors.CheckpointError
        The model's checkpoint is damaged or holds pickled code (refused, never run).
    """
    if (dcase_dir is None) != (dcase_name is None):
        raise ValueError("dcase_dir, dcase_name: give both (the folder and the name of the DCASE file pair)")
    models = as_models(model, device)
    thr = thresholds(models, rho)
    paths = list_inputs(inputs)
    rows = score_rows(models, paths, rho, frames=frames_dir is not None, chunk_seconds=chunk_seconds,
                      progress=progress)  # fmt: skip
    report = ScoreReport(rows, thr)
    report.warnings += _length_warnings(rows, models) + _promise_warnings(thr)
    no_model = [r for r in rows if r["error"].startswith("no model for its section")]
    if no_model:
        report.warnings.append(f"{len(no_model)} file(s) of sections without a model, e.g. {no_model[0]['path']}")
    used: set[str] = set()
    frames_out = {
        _frames_name(Path(r["path"]), used): _csv_text(
            zip(map(_num, r["frames"][0]), map(_num, r["frames"][1]), strict=True), ("time_s", "score")
        )
        for r in rows
        if "frames" in r
    }
    table = [[r["path"], _num(r["score"]), "" if r["decision"] is None else r["decision"],
              _num(r["max_frame_time_s"]), r["error"]] for r in rows]  # fmt: skip
    report.files["csv"] = atomic_write_text(out, _csv_text(table, CSV_HEADER))
    for name, text in frames_out.items():
        atomic_write_text(Path(frames_dir) / name, text)
    if dcase_dir is not None:
        ok = [r for r in rows if not r["error"]]
        names = [Path(r["path"]).name for r in ok]
        if len(set(names)) < len(names):
            report.warnings.append("DCASE files: some file names repeat in different folders; the files are ambiguous")
        if len(ok) < len(rows):
            report.warnings.append(f"DCASE files: {len(rows) - len(ok)} file(s) with errors are left out of them")
        d = Path(dcase_dir)
        report.files["anomaly_score"] = atomic_write_text(
            d / f"anomaly_score_{dcase_name}.csv",
            _csv_text([(n, _num(r["score"])) for n, r in zip(names, ok, strict=True)]),
        )
        report.files["decision_result"] = atomic_write_text(
            d / f"decision_result_{dcase_name}.csv",
            _csv_text([(n, r["decision"]) for n, r in zip(names, ok, strict=True)]),
        )
    return report
