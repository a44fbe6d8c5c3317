"""Reading and writing audio files, with errors that name the file and say what was expected.

Real machine recordings come as 16 kHz mono (DCASE 2020), 8-channel (MIMII), stereo (DCASE 2026) or 48 kHz
(ToyADMOS). :func:`load_audio` reads any of them at the native rate with soundfile, picks or mixes down the
channels, and resamples once (soxr, high quality) when a target rate is asked for.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from adskit.audio.io import save_audio, load_audio
>>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
>>> t = np.arange(16000) / 16000
>>> _ = save_audio(path, 0.5 * np.sin(2 * np.pi * 440 * t), 16000)
>>> y, sr = load_audio(path)
>>> y.shape, sr
((16000,), 16000)
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from adskit._utils import atomic_write_bytes, check_positive

__all__ = [
    "AUDIO_EXTENSIONS",
    "AudioFileError",
    "audio_info",
    "list_audio_files",
    "list_other_audio_files",
    "load_audio",
    "no_audio_message",
    "save_audio",
]

#: file extensions of the container formats libsndfile may read (the formats of this machine's build decide)
_FORMAT_EXTENSIONS = {
    "WAV": (".wav",),
    "FLAC": (".flac",),
    "OGG": (".ogg", ".oga", ".opus"),
    "MP3": (".mp3",),
    "AIFF": (".aif", ".aiff", ".aifc"),
    "AU": (".au", ".snd"),
    "CAF": (".caf",),
    "W64": (".w64",),
    "RF64": (".rf64",),
}
#: The audio files the kit lists in a folder: every extension whose format this machine's libsndfile reads
#: (WAV, FLAC and OGG always; MP3 from libsndfile 1.1; AIFF, AU, CAF, W64, RF64), compared case-insensitively.
AUDIO_EXTENSIONS = tuple(e for fmt, exts in _FORMAT_EXTENSIONS.items() if fmt in sf.available_formats() for e in exts)
#: Audio formats the kit cannot read here (no libsndfile codec): listed as left out with advice, never skipped
#: silently. MP3 joins them on a libsndfile older than 1.1.
OTHER_AUDIO_EXTENSIONS = tuple(
    e
    for e in (".m4a", ".aac", ".wma", ".mp4", ".amr", ".ape", ".wv", ".mka", ".webm", ".3gp", ".ac3", ".mp3", ".aiff")
    if e not in AUDIO_EXTENSIONS
)


class AudioFileError(ValueError):
    """A file could not be used as audio; the message names the file and what was expected."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def _check_path(path: Path) -> None:
    if not path.exists():
        raise AudioFileError(path, f"file not found (expected an audio file: {', '.join(AUDIO_EXTENSIONS)})")
    if not path.is_file():
        raise AudioFileError(path, "is not a regular file (expected an audio file)")


def _not_readable(path: Path, exc: Exception) -> AudioFileError:
    return AudioFileError(path, f"not a readable audio file (truncated, corrupt or not audio): {exc}")


def _open(path: Path) -> sf.SoundFile:
    """The file opened for reading (a context manager); a missing, unreadable or empty file is an AudioFileError."""
    _check_path(path)
    try:
        fh = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise _not_readable(path, exc) from exc
    if fh.frames <= 0:
        fh.close()
        raise AudioFileError(path, "empty audio file (0 frames); expected at least one sample")
    return fh


def audio_info(path: str | os.PathLike) -> dict:
    """Describe an audio file without reading its samples.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file.

    Returns
    -------
    info : dict
        ``{"path", "sr", "channels", "frames", "duration", "format", "subtype"}``; ``duration`` in seconds.

    Raises
    ------
    AudioFileError
        If the file is missing, empty or not readable audio.
    """
    path = Path(path)
    with _open(path) as info:
        return {
            "path": str(path),
            "sr": int(info.samplerate),
            "channels": int(info.channels),
            "frames": int(info.frames),
            "duration": float(info.frames) / float(info.samplerate),
            "format": str(info.format),
            "subtype": str(info.subtype),
        }


def load_audio(
    path: str | os.PathLike,
    sr: int | None = None,
    channel: str | int = "mix",
    dtype: Any = np.float32,
    min_duration: float = 0.0,
    start: int = 0,
    frames: int | None = None,
) -> tuple[np.ndarray, int]:
    """Read an audio file (or a stretch of it) as a mono waveform, optionally resampled: the kit's one reader.

    Parameters
    ----------
    path : str or os.PathLike
        WAV, FLAC or OGG file (anything libsndfile reads).
    sr : int or None
        Target sampling rate in Hz; None keeps the file's native rate. Resampling is done once, after the
        channel selection, with ``librosa.resample(res_type="soxr_hq")``.
    channel : "mix" or int
        ``"mix"`` averages all channels (mix-down); an int selects one channel (0-based; negative counts
        from the end, as in Python).
    dtype : numpy dtype
        Floating dtype of the result, values in [-1, 1] for PCM files.
    min_duration : float
        Minimum duration in seconds (at the native rate, of the whole file); shorter files raise
        :class:`AudioFileError`.
    start : int
        First sample to read, at the native rate (0: the beginning).
    frames : int or None
        Number of samples to read from ``start``, at the native rate (None: to the end; fewer when the file
        ends first). Only that stretch is decoded (soundfile partial read), then resampled.

    Returns
    -------
    y : np.ndarray [shape=(n_samples,)]
        The mono waveform.
    sr : int
        Its sampling rate (the target ``sr`` if given, else the native rate).

    Raises
    ------
    AudioFileError
        Missing, empty, truncated/corrupt or non-audio file; samples that are NaN or infinite (float files);
        shorter than ``min_duration``; channel index out of range; nothing left to read after ``start``.
    ValueError
        Invalid ``sr``, ``channel``, ``min_duration``, ``start`` or ``frames`` arguments.
    """
    path = Path(path)
    if sr is not None:
        sr = int(check_positive(sr, "sr"))
    check_positive(min_duration, "min_duration", strict=False)
    if not (channel == "mix" or (isinstance(channel, (int, np.integer)) and not isinstance(channel, bool))):
        raise ValueError(f"channel: expected 'mix' or an int channel index, got {channel!r}")
    if isinstance(start, bool) or not isinstance(start, (int, np.integer)) or start < 0:
        raise ValueError(f"start: expected an int sample index >= 0, got {start!r}")
    if frames is not None and (isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1):
        raise ValueError(f"frames: expected None or an int >= 1, got {frames!r}")
    with _open(path) as info:  # one open: the header checks, then the samples
        n_ch = int(info.channels)
        if channel != "mix" and not -n_ch <= int(channel) < n_ch:
            raise AudioFileError(
                path, f"channel index {channel} out of range: the file has {n_ch} channel(s) (0..{n_ch - 1})"
            )
        duration = info.frames / info.samplerate
        if duration < min_duration:
            raise AudioFileError(path, f"too short: {duration:.3f} s, expected at least {min_duration:g} s")
        native_sr = int(info.samplerate)
        try:
            first = min(int(start), info.frames)
            n = info.frames - first if frames is None else min(int(frames), info.frames - first)
            if first:
                info.seek(first)
            data = info.read(n, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioFileError(path, f"could not decode audio (truncated or corrupt): {exc}") from exc
    if data.shape[0] == 0:
        where = f" from sample {start} (the file has {info.frames})" if start else ""
        raise AudioFileError(path, f"empty audio file (0 frames decoded{where}); expected at least one sample")
    finite = np.isfinite(data)
    if not finite.all():
        n_bad = int(data.shape[0] - finite.all(axis=1).sum())
        raise AudioFileError(
            path, f"non-finite samples (NaN or Inf) in {n_bad} of {data.shape[0]} frames; expected finite audio"
        )
    y = data.mean(axis=1) if channel == "mix" else data[:, int(channel)]
    y = np.ascontiguousarray(y, dtype=np.float32)
    if sr is not None and sr != native_sr:
        import librosa

        y = librosa.resample(y, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
        native_sr = sr
    return y.astype(dtype, copy=False), int(native_sr)


def save_audio(path: str | os.PathLike, y: np.ndarray, sr: int, clip: bool = False) -> Path:
    """Write a waveform as 16-bit PCM WAV, atomically (temporary file, then rename).

    Parameters
    ----------
    path : str or os.PathLike
        Destination; parent folders are created.
    y : np.ndarray [shape=(n_samples,) or (n_samples, n_channels)]
        Samples in [-1, 1].
    sr : int
        Sampling rate in Hz.
    clip : bool
        If True, samples outside [-1, 1] are clipped; if False (default) they raise ValueError, so a
        too-loud mixture is never silently distorted.

    Returns
    -------
    path : Path
        The written file.
    """
    sr = int(check_positive(sr, "sr"))
    y = np.asarray(y, dtype=np.float64)
    if y.ndim not in (1, 2) or y.shape[0] == 0:
        raise ValueError(f"y: expected a non-empty (n,) or (n, channels) array, got shape {y.shape}")
    if not np.isfinite(y).all():
        raise ValueError("y: contains NaN or Inf")
    peak = float(np.max(np.abs(y)))
    if peak > 1.0:
        if not clip:
            raise ValueError(f"y: peak {peak:.3f} exceeds 1.0 (16-bit PCM range); scale it or pass clip=True")
        y = np.clip(y, -1.0, 1.0)
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype="PCM_16")
    return atomic_write_bytes(path, buf.getvalue())


def list_other_audio_files(folder: str | os.PathLike) -> list[Path]:
    """Audio files under ``folder`` (recursive) in a format the kit cannot read here (:data:`OTHER_AUDIO_EXTENSIONS`).

    Raises
    ------
    FileNotFoundError
        If ``folder`` does not exist or is not a directory.
    """
    return list_audio_files(folder, OTHER_AUDIO_EXTENSIONS) if OTHER_AUDIO_EXTENSIONS else []


def no_audio_message(folder: str | os.PathLike, what: str) -> str:
    """``"<what>: no audio file found in <folder>"``, saying which extensions were looked for and what was there.

    E.g. ``"normal_dir: no audio file found in rec (looked for .wav, .flac, ...; found 3 .m4a, 1 .txt)"``.
    """
    folder = Path(folder)
    found: dict[str, int] = {}
    if folder.is_dir():
        for p in folder.rglob("*"):
            if p.is_file() and not p.name.startswith("."):
                found[p.suffix.lower() or "(no extension)"] = found.get(p.suffix.lower() or "(no extension)", 0) + 1
    there = ", ".join(f"{n} {ext}" for ext, n in sorted(found.items(), key=lambda kv: -kv[1])[:6]) or "nothing"
    return (
        f"{what}: no audio file found in {folder} (looked for {', '.join(AUDIO_EXTENSIONS)}, any case; found {there})"
    )


def list_audio_files(folder: str | os.PathLike, exts: Sequence[str] = AUDIO_EXTENSIONS) -> list[Path]:
    """All audio files under ``folder`` (recursive), sorted by path.

    Parameters
    ----------
    folder : str or os.PathLike
        Folder to search.
    exts : sequence of str
        Accepted extensions, with the dot; compared case-insensitively.

    Returns
    -------
    files : list of Path
        Sorted; hidden files (name starting with ".") are skipped.

    Raises
    ------
    FileNotFoundError
        If ``folder`` does not exist or is not a directory.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder: {folder} is not a directory")
    wanted = {e.lower() for e in exts}
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in wanted and not p.name.startswith(".")
    )
