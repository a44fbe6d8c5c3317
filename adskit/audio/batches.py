"""Training batches streamed from audio: random context vectors from the feature cache, the paper's mixtures.

Both samplers speak the detectors' streaming protocol (what ``AEDetector.fit_batches`` reads):

* ``batch(step)`` returns one batch: ``X`` (:class:`FrameSampler`) or ``(X_normal, X_anomalous)``
  (:class:`PaperBatchBuilder`), float32 arrays of shape (n, frames * n_mels), *not* standardised;
* ``mean_`` and ``scale_`` are the training statistics the consumer standardises those batches with, shape
  (frames * n_mels,), or None when unknown (the consumer then estimates its own from the first batches);
* ``batches_per_epoch`` is the number of batches that make one epoch.

A sampler is a random stream: batches come in draw order, so the same seed gives the same sequence of batches
(``step`` is the consumer's update counter and does not seek; a resumed fit continues the stream).

Examples
--------
>>> import numpy as np, tempfile, os
>>> from adskit.audio.io import save_audio
>>> from adskit.audio.features import FeatureConfig
>>> from adskit.audio.cache import FeatureCache, dataset_stats
>>> root = tempfile.mkdtemp()
>>> noise = [0.1 * np.random.default_rng(i).standard_normal(16000) for i in range(3)]
>>> paths = [save_audio(os.path.join(root, f"clip_{i}.wav"), y, 16000) for i, y in enumerate(noise)]
>>> cache = FeatureCache(os.path.join(root, ".cache"), FeatureConfig.preset("dcase2020"), device="cpu")
>>> stats = dataset_stats(cache, paths)
>>> sampler = FrameSampler(cache, paths, batch_size=4, mean=stats.mean, std=stats.std, random_state=0)
>>> sampler.batch(0).shape, sampler.mean_.shape, sampler.batches_per_epoch
((4, 640), (640,), 21)
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from adskit._scaling import safe_scale
from adskit._utils import check_positive
from adskit.audio.cache import FeatureCache, _channel_key
from adskit.audio.checks import bad_file, first_reason, usable_audio
from adskit.audio.features import FeatureConfig, LogMel, stack_context
from adskit.audio.io import audio_info, load_audio
from adskit.audio.mixing import frame_labels, mix_at_ratio

__all__ = ["IN_MEMORY_MAX_BYTES", "MAX_SOMETHING_ELSE_FRACTION", "FrameSampler", "PaperBatchBuilder"]

#: :class:`FrameSampler` holds the training files' cached frames in memory, one array, when they take at most this
#: many bytes (``in_memory=None``); above it, it reads each batch's rows from the per-file memmaps. 1 GiB is about
#: 6,700 ten-second clips of the ``dcase2020`` preset (160 kB of frames each; the context vectors are views).
IN_MEMORY_MAX_BYTES = 2**30

#: a something-else sound longer than this share of a paper batch (``n_segments x segment_seconds``) is cut to a
#: random excerpt of that length, so that two thirds of the batch's frames at least stay normal
MAX_SOMETHING_ELSE_FRACTION = 1 / 3


def _rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    return random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check_paths(paths: Any) -> list[Path]:
    """``paths`` as a list of Paths: a sequence of files, not one str or path (which would split into letters)."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        raise ValueError(
            f"paths: expected a sequence of audio files (e.g. FolderDataset(folder).paths), got one path {paths!r}"
        )
    return [Path(p) for p in paths]


def _max_open(max_open: int | None, n_files: int) -> int:
    """The streamed sampler's LRU size: ``max_open``, or (None) every file up to half the open-file limit."""
    if max_open is not None:
        if not _is_int(max_open) or max_open < 1:
            raise ValueError(f"max_open: expected an int >= 1 or None, got {max_open!r}")
        return int(max_open)
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        room = 512 if soft == resource.RLIM_INFINITY else soft // 2
    except (ImportError, OSError, ValueError):  # no resource module (Windows) or no limit to read
        room = 256
    return max(1, min(n_files, room))


class FrameSampler:
    """Random mini-batches of context vectors from the feature cache (its frames held in memory, or read from its
    memmaps).

    Each vector is drawn uniformly over all context positions of all files (with replacement): a global
    position is drawn and mapped to (file, offset) through the cumulative per-file counts.

    Where the rows come from (``in_memory``; the same rows, bit for bit, and the same random stream either way):

    * **in memory** (the default up to :data:`IN_MEMORY_MAX_BYTES` of cached frames): every file's (T, n_mels)
      frames are read once, into one array, and a batch is one gather from it, as fast as indexing a tensor in
      memory whatever the number of files. Memory: the frames (not the context vectors, which are views) plus
      one batch.
    * **streamed** from the per-file memmaps: only the ``frames`` rows a vector needs are read, file by file (one
      gather per distinct file in the batch). Memory: one batch plus the open memmaps. Slower with many files:
      a batch of 512 from 1,000 ten-second clips took 1.8 ms with every memmap open, against 0.29 ms in memory,
      and 60 ms when at most 64 were open.

    Parameters
    ----------
    cache : FeatureCache
        Features are computed for files not yet cached (call :meth:`FeatureCache.build` first to skip bad
        files: here they raise).
    paths : sequence of str or os.PathLike
        The training files.
    frames : int or None
        Context length; None uses ``cache.cfg.frames``.
    batch_size : int
        Vectors per batch.
    n_batches : int or None
        Length of one pass of ``iter()`` (and ``batches_per_epoch``); None: ``iter()`` yields batches forever.
    random_state : int, np.random.Generator or None
        Same seed, same batches.
    mean, std : np.ndarray [shape=(frames * n_mels,)] or None
        Training statistics of the vectors (e.g. :func:`adskit.audio.cache.dataset_stats`), kept as
        ``mean_`` / ``scale_``: a detector's streamed fit standardises the raw :meth:`batch` output with them,
        and :meth:`sample` / ``iter()`` return batches already standardised ``(X - mean_) / scale_``. One
        given alone: the other is 0 (mean) or 1 (std).
    max_open : int or None
        Streamed only: memmaps kept open at once (an LRU; each holds a file descriptor). None: every file, up to
        half the process's open-file limit (``RLIMIT_NOFILE``; 512 when it is unlimited, 256 where it cannot be
        read).
    in_memory : bool or None
        True: hold the frames in memory; False: stream them from the memmaps; None: in memory when they take at
        most :data:`IN_MEMORY_MAX_BYTES`.

    Attributes
    ----------
    counts_ : np.ndarray [shape=(n_files,)]
        Context vectors per file (``T - frames + 1``, 0 for a clip shorter than ``frames``).
    n_vectors_ : int
        Their sum.
    dim_ : int
        ``frames * n_mels``.
    mean_, scale_ : np.ndarray [shape=(dim_,)], float32, or None
        The statistics (``scale_`` is ``std`` with (near-)constant dimensions set to 1, so they are only
        centred); None when not given.
    batches_per_epoch : int
        ``n_batches``, or ``ceil(n_vectors_ / batch_size)`` (as many vectors as the data set holds) without it.
    in_memory_ : bool
        Whether the frames are held in memory.
    frames_nbytes_ : int
        Bytes of the training files' cached frames (float32), what ``in_memory`` holds.

    Raises
    ------
    ValueError
        ``paths`` is one path instead of a sequence; ``frames``, ``batch_size``, ``n_batches`` or ``max_open`` is
        not an int >= 1 (or None where allowed); ``in_memory`` is not True, False or None; ``mean`` or ``std``
        has not ``frames * n_mels`` finite values; or no file in ``paths`` holds a context vector (all too short).
    AudioFileError
        A file that is not cached and cannot be read.

    Examples
    --------
    See the module docstring.
    """

    def __init__(
        self,
        cache: FeatureCache,
        paths: Sequence[str | os.PathLike],
        frames: int | None = None,
        batch_size: int = 512,
        n_batches: int | None = None,
        random_state: int | np.random.Generator | None = None,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
        max_open: int | None = None,
        in_memory: bool | None = None,
    ) -> None:
        self.cache = cache
        self.paths = _check_paths(paths)
        if frames is not None and (not _is_int(frames) or frames < 1):
            raise ValueError(f"frames: expected an int >= 1 or None, got {frames!r}")
        self.frames = cache.cfg.frames if frames is None else int(frames)
        if not _is_int(batch_size) or batch_size < 1:
            raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
        self.batch_size = int(batch_size)
        if n_batches is not None and (not _is_int(n_batches) or n_batches < 1):
            raise ValueError(f"n_batches: expected an int >= 1 or None, got {n_batches!r}")
        self.n_batches = None if n_batches is None else int(n_batches)
        if in_memory is not None and not isinstance(in_memory, (bool, np.bool_)):
            raise ValueError(f"in_memory: expected True, False or None, got {in_memory!r}")
        self.rng = _rng(random_state)
        self.max_open = _max_open(max_open, len(self.paths))
        self._open: OrderedDict[int, np.ndarray] = OrderedDict()
        self._entries = []
        lengths = []
        for p in self.paths:
            entry = cache.entry(p)  # hashes the file once (get() would hash it again)
            if not entry.is_file():
                cache.get(p)  # computes and stores it
            self._entries.append(entry)
            lengths.append(np.load(entry, mmap_mode="r", allow_pickle=False).shape[0])
        lengths = np.asarray(lengths, dtype=np.int64)
        counts = np.maximum(0, lengths - self.frames + 1)
        self.counts_ = counts
        self.n_vectors_ = int(self.counts_.sum())
        if self.n_vectors_ == 0:
            longest = f"the longest has {int(lengths.max())} frames" if len(lengths) else "no file given"
            raise ValueError(
                f"paths, frames: no context vector of frames={self.frames} frames in {len(self.paths)} file(s) "
                f"({longest})"
            )
        self._starts = np.concatenate([[0], np.cumsum(self.counts_)])
        self.dim_ = self.frames * cache.cfg.n_mels
        self.frames_nbytes_ = int(lengths.sum()) * cache.cfg.n_mels * 4
        self.in_memory_ = bool(self.frames_nbytes_ <= IN_MEMORY_MAX_BYTES if in_memory is None else in_memory)
        self._all: np.ndarray | None = None  # in memory: the context vectors of all files, a view of one array
        if self.in_memory_:
            self._all, self._first = self._read_all(lengths, cache.cfg.n_mels)
        self.batches_per_epoch = int(n_batches) if n_batches is not None else -(-self.n_vectors_ // self.batch_size)
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        if mean is not None or std is not None:
            d = self.dim_
            self.mean_ = np.zeros(d, np.float32) if mean is None else self._statistic(mean, "mean")
            self.scale_ = np.ones(d, np.float32) if std is None else safe_scale(self._statistic(std, "std"))

    def _statistic(self, value: Any, name: str) -> np.ndarray:
        """``mean`` or ``std`` as a finite float32 (dim_,) array, or a ValueError naming it and the expected size."""
        a = np.asarray(value, dtype=np.float32)
        if a.size != self.dim_:
            raise ValueError(
                f"{name}: expected {self.dim_} values (frames={self.frames} x n_mels={self.cache.cfg.n_mels}), got "
                f"shape {a.shape}: statistics of another feature configuration or context length?"
            )
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name}: expected finite values, got NaN or infinity")
        return a.reshape(self.dim_)

    def _read_all(self, lengths: np.ndarray, n_mels: int) -> tuple[np.ndarray, np.ndarray]:
        """Every file's frames, one after the other in one (sum T, n_mels) float32 array read once (one file open
        at a time), as a read-only (sum T - frames + 1, frames * n_mels) view of context vectors (vector r is
        frames r .. r + frames - 1), and each file's first row in it (a vector is drawn only where it lies in one
        file)."""
        first = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        stack = np.empty((int(lengths.sum()), n_mels), dtype=np.float32)
        for entry, a, n in zip(self._entries, first, lengths, strict=True):
            stack[a : a + n] = np.load(entry, mmap_mode="r", allow_pickle=False)
        view = np.lib.stride_tricks.as_strided(
            stack, shape=(stack.shape[0] - self.frames + 1, self.dim_), strides=stack.strides, writeable=False
        )
        return view, first

    def _windows(self, i: int) -> np.ndarray:
        """File ``i``'s context vectors, (T - frames + 1, frames * n_mels), a read-only view of its memmap (kept open,
        at most ``max_open`` files): vector t is frames t .. t + frames - 1, which lie next to each other in the
        C-ordered (T, n_mels) array, so a gather copies one contiguous run per vector (a (rows, frames) index into the
        (T, n_mels) array took about four times as long). The view is of a plain ndarray: indexing a ``np.memmap``
        object goes through its Python-level subclass hooks at every gather (about a tenth of a small model's step).
        """
        view = self._open.get(i)
        if view is None:
            # a plain ndarray over the same mapped memory (a copy only if the file is not C-ordered)
            mm = np.ascontiguousarray(np.load(self._entries[i], mmap_mode="r", allow_pickle=False))
            view = np.lib.stride_tricks.as_strided(
                mm, shape=(mm.shape[0] - self.frames + 1, self.dim_), strides=mm.strides, writeable=False
            )
            self._open[i] = view
            if len(self._open) > self.max_open:
                self._open.popitem(last=False)
        else:
            self._open.move_to_end(i)
        return view

    def locate(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` uniform positions: ``(file index, offset)``, each of shape (n,)."""
        g = self.rng.integers(0, self.n_vectors_, size=int(n))
        f = np.searchsorted(self._starts, g, side="right") - 1
        return f, g - self._starts[f]

    def _draw(self, n: int) -> np.ndarray:
        """``n`` random context vectors, raw: (n, dim_) float32, a new array."""
        if not _is_int(n) or n < 0:
            raise ValueError(f"n: expected an int >= 0, got {n!r}")
        if n == 0:
            return np.empty((0, self.dim_), dtype=np.float32)
        files, offsets = self.locate(n)
        if self._all is not None:
            return self._all[self._first[files] + offsets]
        X = np.empty((n, self.dim_), dtype=np.float32)
        order = np.argsort(files, kind="stable")
        uniq, first = np.unique(files[order], return_index=True)
        bounds = [*first[1:], n]
        for fi, a, b in zip(uniq, first, bounds, strict=True):
            rows = order[a:b]
            X[rows] = self._windows(int(fi))[offsets[rows]].reshape(len(rows), self.dim_)
        return X

    def batch(self, step: int | None = None) -> np.ndarray:
        """The next batch, raw (the detectors' streaming protocol; standardise with ``mean_`` / ``scale_``).

        Parameters
        ----------
        step : int or None
            The consumer's update counter; batches come in draw order whatever it is.

        Returns
        -------
        X : np.ndarray [shape=(batch_size, frames * n_mels)], float32
        """
        return self._draw(self.batch_size)

    def sample(self, n: int | None = None) -> np.ndarray:
        """One batch for a plain training loop: standardised with ``mean_`` / ``scale_`` when they are known.

        Parameters
        ----------
        n : int >= 0 or None
            Number of vectors; None uses ``batch_size``.

        Returns
        -------
        X : np.ndarray [shape=(n, frames * n_mels)], float32
            ``(X - mean_) / scale_``, or the raw vectors when ``mean_`` is None.

        Raises
        ------
        ValueError
            If ``n`` is not an int >= 0.
        """
        X = self._draw(self.batch_size if n is None else n)
        if self.mean_ is not None:
            X -= self.mean_
            X /= self.scale_
        return X

    def __iter__(self) -> Iterator[np.ndarray]:
        """Batches of :meth:`sample`: ``n_batches`` of them, or forever when it is None."""
        i = 0
        while self.n_batches is None or i < self.n_batches:
            yield self.sample()
            i += 1

    def __len__(self) -> int:
        if self.n_batches is None:
            raise TypeError("FrameSampler with n_batches=None is endless and has no len()")
        return int(self.n_batches)


class PaperBatchBuilder:
    """Mini-batches of the batch-uniformization paper's sound experiment (WASPAA 2019 §4.2, spec §1.5).

    Each batch: ``n_segments`` random ``segment_seconds``-long segments of the normal files, concatenated
    (10 x 3 s = 30 s); one random something-else sound (a random excerpt of at most
    :data:`MAX_SOMETHING_ELSE_FRACTION` of the batch when longer) mixed in at a random position and an ANR drawn
    uniformly from ``anr_range`` (:func:`adskit.audio.mixing.mix_at_ratio`, eq 8, ``y = x + g s``); the
    log-mel of the mixture; context vectors; a vector is simulated-anomalous (``x_tilde``) when its centre
    frame overlaps the inserted interval (:func:`adskit.audio.mixing.frame_labels`), normal otherwise.

    Parameters
    ----------
    normal_paths : sequence of str or os.PathLike
        Normal training files; each is cut into ``floor(duration / segment_seconds)`` whole segments
        (files shorter than one segment are left out and listed in ``bad_files_``).
    something_else_paths : sequence of str or os.PathLike
        Something-else sounds (FSDKaggle2018 clips < 5 s in the paper); one longer than
        :data:`MAX_SOMETHING_ELSE_FRACTION` of the batch (a minute-long recording, say) is cut to a random
        excerpt of that length at each draw; the frame labels mark what the excerpt covers.
    feature_config : FeatureConfig
        Front end (``FeatureConfig.preset("paper")`` for the paper).
    segment_seconds : float
        Segment length (3 s in the paper).
    n_segments : int
        Segments per batch (10 in the paper).
    anr_range : (float, float)
        ANR bounds in dB. The paper's values were lost; U(-20, -10) dB (the test range) is OUR PROPOSAL.
    channel : "mix" or int
        Channel mix-down or selection.
    device : str or torch.device
        Where the log-mel runs.
    random_state : int, np.random.Generator or None
        Same seed, same batches.
    check : bool
        Check every file first (:func:`adskit.audio.checks.usable_audio`: readable, finite, not silent; normal
        files also long enough for one context window of ``feature_config``) and leave the bad ones out, listed
        in ``bad_files_``. False skips the reading, for files the caller has checked already.

    Attributes
    ----------
    segments : list of (Path, int, int)
        Every whole segment: file, its native sampling rate (Hz), start sample at that rate.
    something_else : list of Path
        The something-else sounds drawn from.
    bad_files_ : list of dict
        ``{"path", "role", "reason"}`` of each file left out (role ``"normal"`` or ``"something_else"``).
    mean_, scale_ : None
        No training statistics (every mixture is new): a detector estimates its own from the first batches.
    batches_per_epoch : int
        ``ceil(len(segments) / n_segments)``: as many segments as the normal files hold.

    Raises
    ------
    ValueError
        Invalid ``segment_seconds``, ``n_segments``, ``anr_range`` or ``channel``, no usable normal file holding
        a whole segment, or no usable something-else file (the message gives the first reason).
    AudioFileError
        A normal file that cannot be read (with ``check=False``; with the check it is listed instead).

    Notes
    -----
    Waveforms are read lazily: only the segment's samples at the native rate (soundfile partial read),
    mixed down, then resampled to ``cfg.sr`` (soxr) when the file's rate differs, all through
    :func:`adskit.audio.io.load_audio`. Resampling a segment alone differs from resampling the whole file only
    in a few samples at the segment's edges. Something-else files are read whole at each draw. A draw whose
    something-else sound or normal segment is silent (ANR undefined) is redrawn.
    """

    mean_ = None
    scale_ = None

    def __init__(
        self,
        normal_paths: Sequence[str | os.PathLike],
        something_else_paths: Sequence[str | os.PathLike],
        feature_config: FeatureConfig,
        segment_seconds: float = 3.0,
        n_segments: int = 10,
        anr_range: tuple[float, float] = (-20.0, -10.0),
        channel: str | int = "mix",
        device: str | torch.device = "auto",
        random_state: int | np.random.Generator | None = None,
        check: bool = True,
    ) -> None:
        self.cfg = feature_config
        self.segment_seconds = check_positive(segment_seconds, "segment_seconds")
        if isinstance(n_segments, bool) or not isinstance(n_segments, (int, np.integer)) or n_segments < 1:
            raise ValueError(f"n_segments: expected an int >= 1, got {n_segments!r}")
        self.n_segments = int(n_segments)
        lo, hi = (float(v) for v in anr_range)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise ValueError(f"anr_range: expected (low, high) finite dB with low <= high, got {anr_range!r}")
        self.anr_range = (lo, hi)
        self.channel = channel
        _channel_key(channel)
        self.rng = _rng(random_state)
        self.segment_samples = int(round(self.segment_seconds * self.cfg.sr))
        self.bad_files_: list[dict] = []
        self._info: dict[Path, dict] = {}  # audio_info of the something-else files, read once
        normal = [Path(p) for p in normal_paths]
        self.something_else = [Path(p) for p in something_else_paths]
        if check:
            normal = usable_audio(normal, "normal", self.bad_files_, self.cfg, channel=channel)
            self.something_else = usable_audio(self.something_else, "something_else", self.bad_files_, channel=channel)
        self.segments: list[tuple[Path, int, int]] = []  # (file, native sr, start sample at native rate)
        for p in normal:
            info = audio_info(p)
            seg_native = int(round(self.segment_seconds * info["sr"]))
            n_seg = info["frames"] // seg_native
            if n_seg == 0:
                reason = f"too short: {info['duration']:.3f} s holds no whole {self.segment_seconds:g}-s segment"
                self.bad_files_.append(bad_file(p, "normal", reason))
            for k in range(n_seg):
                self.segments.append((p, info["sr"], k * seg_native))
        if not self.segments:
            raise ValueError(
                f"normal_paths: no file holds a whole {self.segment_seconds:g}-s segment "
                f"({len(normal_paths)} given){first_reason(self.bad_files_, 'normal')}"
            )
        if not self.something_else:
            raise ValueError(
                "something_else_paths: expected at least one usable something-else sound file "
                f"({len(something_else_paths)} given){first_reason(self.bad_files_, 'something_else')}"
            )
        self.batches_per_epoch = -(-len(self.segments) // self.n_segments)
        self._logmel = LogMel(self.cfg, device=device)

    def _read_segment(self, path: Path, sr: int, start: int) -> np.ndarray:
        n_native = int(round(self.segment_seconds * sr))
        y, _ = load_audio(path, sr=self.cfg.sr, channel=self.channel, start=start, frames=n_native)
        out = np.zeros(self.segment_samples, dtype=np.float32)
        m = min(out.size, y.size)
        out[:m] = y[:m]
        return out

    def _read_something_else(self, path: Path, max_samples: int) -> np.ndarray:
        """The sound, or a random excerpt of ``max_samples`` when it is longer (as :func:`adskit.audio.mixing.random_excerpt`).

        A long file (a minute, an hour) is not read whole: only the excerpt's span is read and resampled, so a
        draw costs the same whatever the file's length.
        """
        info = self._info.get(path) or self._info.setdefault(path, audio_info(path))
        native, n = int(info["sr"]), int(info["frames"])
        n_out = n if native == self.cfg.sr else int(np.ceil(n * self.cfg.sr / native))
        if n_out <= max_samples:
            return load_audio(path, sr=self.cfg.sr, channel=self.channel)[0]
        start = int(self.rng.integers(0, n_out - max_samples + 1))  # the draw random_excerpt makes
        first = int(np.floor(start * native / self.cfg.sr))
        span = min(n - first, int(np.ceil(max_samples * native / self.cfg.sr)) + 1)
        y, _ = load_audio(path, sr=self.cfg.sr, channel=self.channel, start=first, frames=span)
        return y[:max_samples]

    def next_with_info(self) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """One batch with its provenance (the next draw of the stream, as :meth:`batch`).

        Returns
        -------
        X : np.ndarray [shape=(n_vectors, frames * n_mels)], float32
            All context vectors of the 30-s mixture, in time order.
        is_anomalous : np.ndarray [shape=(n_vectors,)], bool
            True for the vectors whose centre frame overlaps the inserted sound.
        info : dict
            ``segments`` (list of ``(path, start in s)``), ``other`` (the something-else file), ``span``
            (``(start, stop)`` samples at ``cfg.sr`` in the mixture), ``anr_db``, ``mixture`` (the waveform,
            float32).

        Raises
        ------
        ValueError
            100 draws in a row were silent (normal segment or something-else sound).
        AudioFileError
            A file that cannot be read.
        """
        for _attempt in range(100):
            picks = self.rng.integers(0, len(self.segments), size=self.n_segments)
            segs = [self.segments[i] for i in picks]
            x = np.concatenate([self._read_segment(p, sr, st) for p, sr, st in segs])
            other_path = self.something_else[int(self.rng.integers(0, len(self.something_else)))]
            s = self._read_something_else(other_path, max(1, int(MAX_SOMETHING_ELSE_FRACTION * x.size)))
            anr = float(self.rng.uniform(*self.anr_range))
            position = int(self.rng.integers(0, x.size - s.size + 1))
            try:
                y, span = mix_at_ratio(x, s, anr, position=position)
            except ValueError:  # silent segment or silent sound: ANR undefined, draw again
                continue
            break
        else:
            raise ValueError("something_else_paths: 100 draws in a row were silent (normal segment or sound)")
        with torch.inference_mode():
            S = self._logmel(torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))).cpu().numpy()
        X = stack_context(S, self.cfg.frames)
        lab = frame_labels(span, y.size, self.cfg)
        info = {
            "segments": [(p, st / sr) for p, sr, st in segs],
            "other": other_path,
            "span": span,
            "anr_db": anr,
            "mixture": y.astype(np.float32, copy=False),
        }
        return X, lab, info

    def batch(self, step: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The next batch (the detectors' streaming protocol); ``step`` does not seek, as in :meth:`FrameSampler.batch`.

        Returns
        -------
        X_normal : np.ndarray [shape=(N, frames * n_mels)], float32
        X_anomalous : np.ndarray [shape=(M, frames * n_mels)], float32
            The vectors overlapping the inserted something-else sound (``x_tilde``).

        Raises
        ------
        ValueError, AudioFileError
            As :meth:`next_with_info`.
        """
        X, lab, _ = self.next_with_info()
        return X[~lab], X[lab]

    def __iter__(self) -> PaperBatchBuilder:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray]:
        return self.batch()
