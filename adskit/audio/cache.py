"""The feature cache: log-mel spectrograms computed once per file, stored as float32 ``.npy``, read as memmaps.

:class:`FeatureCache` computes the log-mel spectrogram of every file once (resampled to ``cfg.sr`` on load) and
stores it as a float32 ``.npy`` file, read back as a read-only ``np.memmap``; a bad file is reported in
:class:`CacheReport`, the others are cached. :func:`iter_clip_vectors` and :func:`dataset_stats` give all
context vectors of each clip and per-dimension statistics without loading every frame of the data set into
one array (DCASE 2020 baseline issue 2: out of memory on 8 GB).

Examples
--------
>>> import numpy as np, tempfile, os
>>> from adskit.audio.io import save_audio
>>> root = tempfile.mkdtemp()
>>> noise = [0.1 * np.random.default_rng(i).standard_normal(16000) for i in range(3)]
>>> paths = [save_audio(os.path.join(root, f"clip_{i}.wav"), y, 16000) for i, y in enumerate(noise)]
>>> cache = FeatureCache(os.path.join(root, ".cache"), FeatureConfig.preset("dcase2020"), device="cpu")
>>> report = cache.build(paths, progress=False)
>>> len(report.ok), cache.get(paths[0]).shape
(3, (32, 128))
>>> dataset_stats(cache, paths).count
84
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch

from adskit._scaling import safe_scale
from adskit._utils import atomic_write_bytes, file_edges_sha256
from adskit.audio.features import FeatureConfig, log_mel_batch, stack_context
from adskit.audio.io import AudioFileError, load_audio

__all__ = ["CACHE_VERSION", "CacheReport", "FeatureCache", "VectorStats", "dataset_stats", "iter_clip_vectors"]

CACHE_VERSION = 2  # bump when the way features are computed or stored changes


@dataclass
class CacheReport:
    """What :meth:`FeatureCache.build` did.

    Attributes
    ----------
    computed : list of Path
        Files whose features were computed now.
    cached : list of Path
        Files already in the cache.
    failed : list of (Path, str)
        Files that could not be used, with the reason (corrupt, empty, too short...).
    seconds : float
        Wall time of the build.
    """

    computed: list[Path] = field(default_factory=list)
    cached: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> list[Path]:
        """Files with features in the cache (computed or cached)."""
        return [*self.cached, *self.computed]

    def __str__(self) -> str:
        lines = [
            f"{len(self.computed)} computed, {len(self.cached)} already cached, {len(self.failed)} failed "
            f"({self.seconds:.1f} s)"
        ]
        lines += [f"  FAILED {p}: {why}" for p, why in self.failed]
        return "\n".join(lines)


def _channel_key(channel: str | int) -> str:
    if channel == "mix":
        return "mix"
    if isinstance(channel, (int, np.integer)) and not isinstance(channel, bool):
        return f"ch{int(channel)}"
    raise ValueError(f"channel: expected 'mix' or an int channel index, got {channel!r}")


class FeatureCache:
    """Log-mel spectrograms computed once per file and feature configuration, stored as float32 ``.npy``.

    Parameters
    ----------
    cache_dir : str or os.PathLike
        Folder of the cache; may be shared between feature configurations (each has a sub-folder named by
        ``feature_config.key()``). The cache only ever writes inside it and never touches the audio files.
    feature_config : FeatureConfig
        The front end; audio is resampled to ``feature_config.sr`` when read.
    channel : "mix" or int
        Channel mix-down or selection (see :func:`adskit.audio.io.load_audio`).
    device : str or torch.device
        Where the log-mel runs (:func:`adskit.audio.features.log_mel_batch`): ``"auto"`` (CUDA if present),
        ``"cpu"``, ``"cuda"``.
    batch_size : int
        Files read per batch in :meth:`build` (files of equal length go through one extractor call).

    Raises
    ------
    ValueError
        ``feature_config`` is not a :class:`FeatureConfig`, ``batch_size < 1`` or an invalid ``channel``.

    Notes
    -----
    The key of a file is a hash of its absolute path, size and modification time (ns), the feature
    configuration's key, the channel and :data:`CACHE_VERSION`; so editing a file or changing a parameter
    gives a new entry (old entries stay until the cache folder is removed). Entries are written to a
    temporary file and renamed (atomic, :func:`adskit._utils.atomic_write_bytes`): a crash never leaves a
    half-written ``.npy`` under its final name, and two processes filling the same cache write identical bytes.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        feature_config: FeatureConfig,
        channel: str | int = "mix",
        device: str | torch.device = "auto",
        batch_size: int = 16,
    ) -> None:
        if not isinstance(feature_config, FeatureConfig):
            raise ValueError(f"feature_config: expected a FeatureConfig, got {type(feature_config).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
        self.cache_dir = Path(cache_dir).expanduser()
        self.cfg = feature_config
        self.channel = channel
        self._channel_key = _channel_key(channel)
        self.device = device
        self.batch_size = int(batch_size)

    @property
    def folder(self) -> Path:
        """Sub-folder of this feature configuration and channel."""
        return self.cache_dir / f"{self.cfg.key()}-{self._channel_key}"

    def key(self, path: str | os.PathLike) -> str:
        """Cache key of ``path`` (20 hex digits); changes with the file's size, mtime, content and the configuration.

        The content is :func:`adskit._utils.file_edges_sha256` (SHA-256 of the first and last MiB), so a file
        replaced by another of the same size and modification time (``cp -p``) gets a new entry.

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        """
        p = Path(path).expanduser().resolve()
        try:
            st = p.stat()
        except FileNotFoundError:
            raise FileNotFoundError(f"path: {p} not found (expected an audio file)") from None
        content = file_edges_sha256(p, st.st_size)
        blob = json.dumps(
            [str(p), st.st_size, st.st_mtime_ns, content, self.cfg.key(), self._channel_key, CACHE_VERSION]
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]

    def entry(self, path: str | os.PathLike) -> Path:
        """The ``.npy`` file that holds (or will hold) the features of ``path``.

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist (as :meth:`key`).
        """
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(path).stem)[:40]
        return self.folder / f"{stem}-{self.key(path)}.npy"

    def is_cached(self, path: str | os.PathLike) -> bool:
        """Whether the features of ``path`` are in the cache (FileNotFoundError if ``path`` does not exist)."""
        return self.entry(path).is_file()

    def _write(self, target: Path, S: np.ndarray) -> None:
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(S, dtype=np.float32), allow_pickle=False)
        atomic_write_bytes(target, buf.getvalue())

    def _compute(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        """Log-mel of several waveforms (at most ``batch_size``: one extractor call per group of equal length)."""
        return log_mel_batch(waves, cfg=self.cfg, device=self.device, batch_size=self.batch_size)

    def get(self, path: str | os.PathLike) -> np.memmap:
        """The log-mel spectrogram of ``path``, computed and stored on first use.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        S : np.memmap [shape=(T, n_mels)], float32, read-only
            Only the rows you index are read from disk.

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        AudioFileError
            The file is corrupt, empty or too short for one STFT frame.
        """
        target = self.entry(path)
        if not target.is_file():
            y = self._load(Path(path))
            self._write(target, self._compute([y])[0])
        return np.load(target, mmap_mode="r", allow_pickle=False)

    def _load(self, path: Path) -> np.ndarray:
        y, _ = load_audio(path, sr=self.cfg.sr, channel=self.channel)
        need = self.cfg.n_fft // 2 + 1 if self.cfg.center else self.cfg.n_fft
        if y.size < need:
            raise AudioFileError(
                path, f"too short: {y.size} samples at {self.cfg.sr} Hz, expected at least {need} (one frame)"
            )
        return y

    def n_frames(self, path: str | os.PathLike) -> int:
        """Number of frames T of the spectrogram of ``path`` (computed if not cached; raises as :meth:`get`)."""
        return int(self.get(path).shape[0])

    def build(self, paths: Iterable[str | os.PathLike], progress: bool = True, on_error: str = "report") -> CacheReport:
        """Compute the features of every file not yet cached.

        Parameters
        ----------
        paths : iterable of str or os.PathLike
        progress : bool
            Show a tqdm progress bar.
        on_error : {"report", "raise"}
            ``"report"``: a file that cannot be read is listed in ``report.failed`` with the reason and the
            others are still cached; ``"raise"``: the first such error is raised.

        Returns
        -------
        report : CacheReport

        Raises
        ------
        ValueError
            An unknown ``on_error``.
        AudioFileError
            With ``on_error="raise"``: the first file that is missing or cannot be read.
        """
        from tqdm.auto import tqdm

        if on_error not in ("report", "raise"):
            raise ValueError(f"on_error: expected 'report' or 'raise', got {on_error!r}")
        t0 = time.perf_counter()
        report = CacheReport()
        todo: list[tuple[Path, Path]] = []
        for p in map(Path, paths):
            try:
                target = self.entry(p)
            except FileNotFoundError as exc:
                if on_error == "raise":
                    raise AudioFileError(p, "file not found (expected an audio file)") from exc
                report.failed.append((p, "file not found"))
                continue
            if target.is_file():
                report.cached.append(p)
            else:
                todo.append((p, target))
        bar = tqdm(total=len(todo), desc="features", unit="file", disable=not progress)
        for b in range(0, len(todo), self.batch_size):
            batch, waves = [], []
            for p, target in todo[b : b + self.batch_size]:
                try:
                    waves.append(self._load(p))
                    batch.append((p, target))
                except (AudioFileError, OSError, ValueError) as exc:
                    if on_error == "raise":
                        raise
                    report.failed.append((p, str(getattr(exc, "problem", exc))))
            for (p, target), S in zip(batch, self._compute(waves) if waves else [], strict=True):
                self._write(target, S)
                report.computed.append(p)
            bar.update(len(todo[b : b + self.batch_size]))
        bar.close()
        report.seconds = time.perf_counter() - t0
        return report

    def size_bytes(self, paths: Iterable[str | os.PathLike] | None = None) -> int:
        """Bytes on disk of the cached entries of ``paths`` (None: every entry of this configuration)."""
        if paths is None:
            return sum(f.stat().st_size for f in self.folder.glob("*.npy")) if self.folder.is_dir() else 0
        return sum(e.stat().st_size for e in (self.entry(p) for p in paths) if e.is_file())

    def vectors(self, path: str | os.PathLike, frames: int | None = None) -> np.ndarray:
        """All context vectors of one clip (for scoring).

        Parameters
        ----------
        path : str or os.PathLike
        frames : int or None
            Context length; None uses ``cfg.frames``.

        Returns
        -------
        X : np.ndarray [shape=(T - frames + 1, frames * n_mels)], float32
            Empty (0 rows) if the clip has fewer than ``frames`` frames.

        Raises
        ------
        AudioFileError
            As :meth:`get`.
        """
        frames = self.cfg.frames if frames is None else frames
        S = self.get(path)
        if S.shape[0] < frames:
            return np.zeros((0, frames * S.shape[1]), dtype=np.float32)
        return stack_context(np.asarray(S), frames)


def iter_clip_vectors(
    cache: FeatureCache, paths: Iterable[str | os.PathLike], frames: int | None = None
) -> Iterator[tuple[Path, np.ndarray]]:
    """Yield ``(path, X)`` with all context vectors of each clip, one clip in memory at a time.

    Parameters
    ----------
    cache : FeatureCache
    paths : iterable of str or os.PathLike
    frames : int or None
        Context length; None uses ``cache.cfg.frames``.

    Yields
    ------
    path : Path
    X : np.ndarray [shape=(n_vectors, frames * n_mels)], float32

    Raises
    ------
    AudioFileError
        A clip that is not cached and cannot be read (see :meth:`FeatureCache.get`).
    """
    for p in paths:
        yield Path(p), cache.vectors(p, frames)


class VectorStats(NamedTuple):
    """Per-dimension mean and standard deviation (``ddof=0``) of context vectors, and their count.

    ``mean_`` and ``scale_`` (the floored std, :func:`adskit._scaling.safe_scale`) make it a scaler: pass it
    as ``scaler=`` to a detector's streamed fit, or its fields to :class:`adskit.audio.batches.FrameSampler`.
    """

    mean: np.ndarray
    std: np.ndarray
    count: int

    @property
    def mean_(self) -> np.ndarray:
        """The mean, shape (d,), float64 (scikit-learn's scaler name)."""
        return self.mean

    @property
    def scale_(self) -> np.ndarray:
        """The std with (near-)constant dimensions set to 1, shape (d,), float64."""
        return safe_scale(self.std)


def dataset_stats(cache: FeatureCache, paths: Iterable[str | os.PathLike], frames: int | None = None) -> VectorStats:
    """Per-dimension mean and std of all context vectors of ``paths``, streamed one clip at a time.

    Clip statistics are merged with Chan et al.'s pairwise update (the parallel form of Welford's
    algorithm) in float64, so the result equals ``np.mean`` / ``np.std`` over the stacked vectors without
    ever stacking them.

    Parameters
    ----------
    cache, paths, frames
        As in :func:`iter_clip_vectors`.

    Returns
    -------
    stats : VectorStats
        ``mean``, ``std`` of shape (frames * n_mels,), float64; ``count`` vectors.

    Raises
    ------
    ValueError
        No context vector at all (every clip shorter than ``frames``).
    AudioFileError
        A clip that is not cached and cannot be read (see :meth:`FeatureCache.get`).
    """
    n = 0
    mean = m2 = None
    for _, X in iter_clip_vectors(cache, paths, frames):
        k = X.shape[0]
        if k == 0:
            continue
        Xd = X.astype(np.float64)
        mu_b = Xd.mean(axis=0)
        m2_b = np.square(Xd - mu_b).sum(axis=0)
        if mean is None:
            n, mean, m2 = k, mu_b, m2_b
            continue
        tot = n + k
        delta = mu_b - mean
        mean = mean + delta * (k / tot)
        m2 = m2 + m2_b + np.square(delta) * (n * k / tot)
        n = tot
    if mean is None:
        raise ValueError("paths: no context vector found (no clip, or every clip shorter than `frames`)")
    return VectorStats(mean, np.sqrt(m2 / n), n)
