"""Is a file usable for its role? One check of audio against the feature configuration, one reading of names.

Every command reads its files through :func:`adskit.audio.io.load_audio` (which names the file in every error) and
checks them here before any training starts:

* :func:`audio_problem` / :func:`waveform_problem`: the reason a file or waveform cannot be used, or None. A
  file is unusable when it cannot be read (missing, corrupt, truncated, not audio), holds NaN or infinite samples,
  is silent (every sample 0), or is too short: shorter than ``min_seconds`` (a rule of the caller, e.g. one
  training segment) or, given a :class:`~adskit.audio.features.FeatureConfig`, too short for one context window
  of ``cfg.frames`` frames at ``cfg.sr`` (:func:`min_samples`).
* :func:`usable_audio` filters paths into the usable ones and appends each other file to a bad-file list as
  ``{"path", "role", "reason"}``; :func:`read_usable` does the same and returns the waveforms it read.
* :func:`normal_clips` and :func:`labelled_clips` read what names say (:func:`adskit.audio.clips.parse_clip`):
  a folder of normal clips gives up the files its names call anomalous or place in a test folder, a folder of
  labelled test files gives up the files whose names carry no label. Both list them with the reason.

A bad file never stops a run: it is listed (the experiments put the list in their results as ``bad_files``, and
the report in ``summary.json`` and ``summary.md``) and the run goes on with the rest.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from adskit.audio.io import save_audio
>>> from adskit.audio.features import FeatureConfig
>>> root = tempfile.mkdtemp()
>>> ok = save_audio(os.path.join(root, "ok.wav"), 0.1 * np.random.default_rng(0).standard_normal(16000), 16000)
>>> silent = save_audio(os.path.join(root, "silent.wav"), np.zeros(16000), 16000)
>>> bad = []
>>> [p.name for p in usable_audio([ok, silent], "normal", bad, FeatureConfig.preset("paper"))]
['ok.wav']
>>> bad[0]["role"], bad[0]["reason"]
('normal', 'silent: every sample is 0')
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

import numpy as np
import soundfile as sf

from adskit.audio.clips import Clip
from adskit.audio.features import FeatureConfig, n_frames
from adskit.audio.io import AudioFileError, list_other_audio_files, load_audio

__all__ = [
    "audio_problem",
    "bad_file",
    "first_reason",
    "labelled_clips",
    "min_samples",
    "normal_clips",
    "other_audio",
    "read_usable",
    "usable_audio",
    "waveform_problem",
]


def min_samples(cfg: FeatureConfig) -> int:
    """Fewest samples at ``cfg.sr`` whose log-mel holds one context vector of ``cfg.frames`` frames.

    Parameters
    ----------
    cfg : FeatureConfig

    Returns
    -------
    n : int
        Samples at ``cfg.sr``: ``n_frames(n, cfg) >= cfg.frames`` (and, with ``center`` and reflect padding,
        more than ``n_fft // 2`` samples, which the padding needs).

    Examples
    --------
    >>> min_samples(FeatureConfig.preset("paper"))  # 11 frames, hop 256: 10 hops
    2560
    """
    if cfg.center:
        n = (cfg.frames - 1) * cfg.hop_length
        if cfg.pad_mode == "reflect":
            n = max(n, cfg.n_fft // 2 + 1)
    else:
        n = cfg.n_fft + (cfg.frames - 1) * cfg.hop_length
    return max(int(n), 1)


def waveform_problem(
    y: np.ndarray, sr: int, cfg: FeatureConfig | None = None, min_seconds: float = 0.0, why: str = "required"
) -> str | None:
    """Why a waveform cannot be used (None when it can): empty, non-finite, silent or too short.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        The waveform, at rate ``sr``.
    sr : int
        Its sampling rate in Hz.
    cfg : FeatureConfig or None
        With a configuration, the waveform must hold one context window at ``cfg.sr`` (its length at that rate is
        ``ceil(n_samples * cfg.sr / sr)``, as the resampler makes it).
    min_seconds : float
        A minimum duration of the caller's (0: none).
    why : str
        What ``min_seconds`` is, for the reason (e.g. ``"one 3-s training segment"``).

    Returns
    -------
    reason : str or None
    """
    y = np.asarray(y)
    if y.size == 0:
        return "empty: no samples"
    finite = np.isfinite(y)
    if not finite.all():
        return f"non-finite samples (NaN or Inf): {int(y.size - finite.sum())} of {y.size}; expected finite audio"
    if not np.any(y):
        return "silent: every sample is 0"
    seconds = y.size / float(sr)
    if min_seconds > 0 and seconds < min_seconds:
        return f"too short: {seconds:.3f} s, expected at least {min_seconds:.3g} s ({why})"
    if cfg is not None:
        n = y.size if int(sr) == cfg.sr else int(np.ceil(y.size * cfg.sr / float(sr)))
        need = min_samples(cfg)
        if n < need:
            return (
                f"too short: {seconds:.3f} s gives {n_frames(n, cfg)} frame(s) at {cfg.sr} Hz, fewer than one "
                f"{cfg.frames}-frame context window (expected at least {need / cfg.sr:.3f} s)"
            )
    return None


def audio_problem(
    path: str | os.PathLike,
    cfg: FeatureConfig | None = None,
    min_seconds: float = 0.0,
    why: str = "required",
    channel: str | int = "mix",
) -> str | None:
    """Why an audio file cannot be used (None when it can), as :func:`waveform_problem` says of its samples.

    Parameters
    ----------
    path : str or os.PathLike
        The file, read at its native rate with :func:`adskit.audio.io.load_audio`.
    cfg, min_seconds, why
        As :func:`waveform_problem`.
    channel : "mix" or int
        As :func:`adskit.audio.io.load_audio`.

    Returns
    -------
    reason : str or None
        The problem :class:`~adskit.audio.io.AudioFileError` states for an unreadable file, else the waveform's.
    """
    return next(_problems([path], None, cfg, min_seconds, why, channel))[2]


def _problems(
    paths: Iterable[str | os.PathLike],
    sr: int | None,
    cfg: FeatureConfig | None,
    min_seconds: float,
    why: str,
    channel: str | int,
) -> Iterator[tuple[Path, np.ndarray | None, str | None]]:
    """``(path, waveform at sr or None, reason or None)`` of each file, read one at a time."""
    for p in map(Path, paths):
        try:
            y, rate = load_audio(p, sr=sr, channel=channel)
        except AudioFileError as exc:
            yield p, None, exc.problem
            continue
        except OSError as exc:  # e.g. permission denied
            yield p, None, f"could not be read: {exc}"
            continue
        reason = waveform_problem(y, rate, cfg, min_seconds, why)
        yield p, (y if reason is None else None), reason


def bad_file(path: str | os.PathLike, role: str, reason: str) -> dict:
    """The entry of a bad-file list: ``{"path", "role", "reason"}`` (what the reports aggregate)."""
    return {"path": str(path), "role": role, "reason": reason}


def other_audio(folder: str | os.PathLike | None, role: str, bad: list[dict]) -> list[Path]:
    """List the audio files of ``folder`` in a format this machine cannot read in ``bad`` (never skipped silently).

    Parameters
    ----------
    folder : path or None
        A folder the user gave (None: nothing to do).
    role : str
        For ``bad`` (``"normal"``, ``"test"``...).
    bad : list of dict
        Gains ``{"path", "role", "reason"}`` per file (:data:`adskit.audio.io.OTHER_AUDIO_EXTENSIONS`: .m4a,
        .aac, .wma...).

    Returns
    -------
    list of Path
        The files listed.
    """
    if folder is None or not Path(folder).is_dir():
        return []
    found = list_other_audio_files(folder)
    for p in found:
        bad.append(
            bad_file(
                p,
                role,
                f"an audio format this machine's libsndfile {sf.__libsndfile_version__} cannot read ({p.suffix}); "
                "convert it to WAV or FLAC (e.g. ffmpeg -i in.m4a out.wav)",
            )
        )
    return found


def first_reason(bad: list[dict], role: str) -> str:
    """How many files of ``role`` ``bad`` lists and the first one's reason, for an error message ("" if none).

    Examples
    --------
    >>> first_reason([bad_file("a.wav", "normal", "silent: every sample is 0")], "normal")
    ' (1 left out, e.g. a.wav: silent: every sample is 0)'
    """
    left = [b for b in bad if b["role"] == role]
    return f" ({len(left)} left out, e.g. {left[0]['path']}: {left[0]['reason']})" if left else ""


def usable_audio(
    paths: Iterable[str | os.PathLike],
    role: str,
    bad: list[dict],
    cfg: FeatureConfig | None = None,
    min_seconds: float = 0.0,
    why: str = "required",
    channel: str | int = "mix",
) -> list[Path]:
    """The files of ``paths`` that :func:`audio_problem` finds usable; each other one is appended to ``bad``.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
    role : str
        What the files are for (``"normal"``, ``"something_else"``, ``"anomaly"``, ``"test"``...), in ``bad``.
    bad : list of dict
        Gains ``{"path", "role", "reason"}`` per unusable file.
    cfg, min_seconds, why, channel
        As :func:`audio_problem`. Give ``cfg`` for files whose own features are computed (clips trained on,
        calibrated on or scored); leave it None for sounds only mixed into others.

    Returns
    -------
    paths : list of Path
        The usable files, in order. Each file is read once and not kept.
    """
    ok = []
    for p, _, reason in _problems(paths, None, cfg, min_seconds, why, channel):
        if reason is None:
            ok.append(p)
        else:
            bad.append(bad_file(p, role, reason))
    return ok


def read_usable(
    paths: Iterable[str | os.PathLike],
    role: str,
    bad: list[dict],
    sr: int,
    cfg: FeatureConfig | None = None,
    min_seconds: float = 0.0,
    why: str = "required",
    channel: str | int = "mix",
) -> list[tuple[Path, np.ndarray]]:
    """:func:`usable_audio`, keeping the waveforms: each file is read once, at ``sr``, and checked.

    Returns
    -------
    files : list of (Path, np.ndarray [shape=(n_samples,)])
        The usable files and their mono waveforms at ``sr``, in order.
    """
    ok = []
    for p, y, reason in _problems(paths, int(sr), cfg, min_seconds, why, channel):
        if reason is None:
            ok.append((p, y))
        else:
            bad.append(bad_file(p, role, reason))
    return ok


def normal_clips(
    clips: Iterable[Clip], role: str, bad: list[dict], exclude: Collection[str | os.PathLike] = ()
) -> list[Clip]:
    """The clips of a folder of normal clips that their names do not contradict; the others go to ``bad``.

    A clip is given up (listed with the reason, never trained on nor scored as normal) when its name or folders
    call it anomalous (label 1 of :func:`adskit.audio.clips.parse_clip`: ``anomaly_*``, ``abnormal_*``, an
    ``abnormal/`` folder...), when it sits in a test folder (``test/``, ``source_test/``, ``eval/``...: a DCASE
    machine folder given whole), or when it is also one of ``exclude`` (e.g. the labelled test files).
    Unlabelled clips are normal: the folder says so.

    Parameters
    ----------
    clips : iterable of Clip
        E.g. ``FolderDataset(normal_dir).clips``.
    role : str
        For ``bad`` (e.g. ``"normal"``).
    bad : list of dict
        Gains ``{"path", "role", "reason"}`` per clip given up.
    exclude : collection of path
        Files that must not be used as normal clips.

    Returns
    -------
    clips : list of Clip
        In order.
    """
    skip = {Path(p).resolve() for p in exclude}
    ok = []
    for c in clips:
        if c.label == 1:
            reason = "named as anomalous (its name or folder says anomaly): not used as a normal clip"
        elif c.split == "test":
            reason = (
                "in a test folder: a test file, not a normal clip (give the train/ folder as the normal clips, "
                "the test/ folder as the labelled test files)"
            )
        elif Path(c.path).resolve() in skip:
            reason = "also one of the labelled test files: not used as a normal clip"
        else:
            ok.append(c)
            continue
        bad.append(bad_file(c.path, role, reason))
    return ok


def labelled_clips(clips: Iterable[Clip], role: str, bad: list[dict]) -> list[tuple[Path, int]]:
    """``(path, label)`` of the clips whose names give a label; the others are appended to ``bad``.

    The label is :func:`adskit.audio.clips.parse_clip`'s, the one reader of every command: the word ``normal``
    or ``anomaly`` / ``anomalous`` / ``abnormal`` among the file name's tokens (DCASE 2020
    ``anomaly_id_00_00000000.wav``, DCASE 2021+ ``section_00_source_test_anomaly_0000_*.wav``, MIMII's word), a
    ``normal`` / ``abnormal`` folder, the ToyADMOS rules, or a labels CSV applied to the clips.

    Parameters
    ----------
    clips : iterable of Clip
    role : str
        For ``bad`` (e.g. ``"test"``).
    bad : list of dict
        Gains ``{"path", "role", "reason"}`` per clip without a label.

    Returns
    -------
    labelled : list of (Path, int)
        Label 0 normal, 1 anomalous, in order.
    """
    out = []
    for c in clips:
        if c.label is None:
            bad.append(
                bad_file(
                    c.path,
                    role,
                    "no label in its name: expected the word normal or anomaly (also anomalous, abnormal) in the "
                    "file name, as DCASE names them, or a normal/abnormal folder; not evaluated",
                )
            )
        else:
            out.append((Path(c.path), int(c.label)))
    return out
