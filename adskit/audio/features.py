"""Log-mel features: one frozen configuration, a batched torch extractor and context stacking.

Every parameter is written down once in :class:`FeatureConfig` (librosa's own defaults, ``n_fft=2048`` and
``sr=22050``, are not the ones the papers or DCASE use). :class:`LogMel` computes the log-mel spectrogram in
torch on any device and reproduces ``librosa.feature.melspectrogram`` (same centring, padding, window and
Slaney mel filterbank, taken from ``librosa.filters.mel``) to float32 precision; :func:`log_mel` runs it on one
waveform and :func:`log_mel_batch` on many (one batched call per group of equal length). :func:`stack_context`
concatenates neighbouring frames into the input vectors of the detectors.

Vector layout (frame-major)
---------------------------
A context vector ``i`` of :func:`stack_context` is ``[S[i], S[i + 1], ..., S[i + frames - 1]]``, each
``S[t]`` a row of ``F`` mel bins, so element ``k * F + f`` is mel bin ``f`` of frame ``i + k``. This is the
layout of the DCASE 2020 baseline (``vector_array[:, n_mels * t: n_mels * (t + 1)]``) and of
``x_t = ln(M|X_{t-P}|, ..., M|X_{t+P}|)`` in the batch-uniformization paper. Its centre frame is
``i + frames // 2`` (the exact centre for the odd ``frames`` of every preset).

Examples
--------
>>> import numpy as np
>>> from adskit.audio.features import FeatureConfig, log_mel, stack_context
>>> cfg = FeatureConfig.preset("paper")
>>> y = np.random.default_rng(0).standard_normal(16000).astype(np.float32)
>>> S = log_mel(y, cfg, device="cpu")
>>> S.shape
(63, 64)
>>> stack_context(S, cfg.frames).shape
(53, 704)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from adskit._threads import cpu_threads
from adskit._utils import check_positive, resolve_device

__all__ = ["FeatureConfig", "LogMel", "frame_times", "log_mel", "log_mel_batch", "n_frames", "stack_context"]

_PAD_MODES = ("constant", "reflect")
_CPU_CHUNK_SAMPLES = 2**20


@dataclass(frozen=True)
class FeatureConfig:
    """Every parameter of the log-mel front end, explicit; build one with :meth:`preset`.

    Parameters
    ----------
    sr : int
        Sampling rate in Hz the audio is expected at.
    n_fft : int
        FFT length in samples.
    hop_length : int
        Frame shift in samples.
    win_length : int
        Window length in samples (<= n_fft; the window is zero-padded to n_fft, centred, as librosa does).
    window : str
        Window name for ``librosa.filters.get_window`` (periodic, ``fftbins=True``).
    center : bool
        If True, frame ``t`` is centred on sample ``t * hop_length`` (signal padded by ``n_fft // 2``).
    pad_mode : {"reflect", "constant"}
        Padding used when ``center`` is True.
    n_mels : int
        Number of mel bands (Slaney mel scale and area normalisation, librosa's default filterbank).
    fmin, fmax : float
        Filterbank range in Hz; ``fmax=None`` means ``sr / 2``.
    power : float
        Exponent on the STFT magnitude: 1 for magnitude, 2 for power.
    log : {"10log10", "ln"}
        ``"10log10"``: ``10 * log10(max(S, log_floor))`` (dB); ``"ln"``: ``ln(max(S, log_floor))``.
    log_floor : float
        Floor (amin) applied to the mel spectrogram before the log.
    frames : int
        Number of consecutive frames per context vector (feature dimension ``frames * n_mels``).
    """

    sr: int = 16000
    n_fft: int = 1024
    hop_length: int = 512
    win_length: int = 1024
    window: str = "hann"
    center: bool = True
    pad_mode: str = "reflect"
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    power: float = 2.0
    log: Literal["10log10", "ln"] = "10log10"
    log_floor: float = float(np.finfo(np.float64).eps)
    frames: int = 5

    def __post_init__(self) -> None:
        for name in ("sr", "n_fft", "hop_length", "win_length", "n_mels", "frames"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: expected a positive int, got {v!r}")
        if self.win_length > self.n_fft:
            raise ValueError(f"win_length: expected <= n_fft={self.n_fft}, got {self.win_length}")
        if self.pad_mode not in _PAD_MODES:
            raise ValueError(f"pad_mode: expected one of {_PAD_MODES}, got {self.pad_mode!r}")
        if self.log not in ("10log10", "ln"):
            raise ValueError(f"log: expected '10log10' or 'ln', got {self.log!r}")
        check_positive(self.power, "power")
        check_positive(self.log_floor, "log_floor")
        check_positive(self.fmin, "fmin", strict=False)
        top = self.sr / 2 if self.fmax is None else check_positive(self.fmax, "fmax")
        if not self.fmin < top <= self.sr / 2:
            raise ValueError(f"fmax: expected fmin < fmax <= sr/2 = {self.sr / 2}, got fmin={self.fmin}, fmax={top}")

    @property
    def dim(self) -> int:
        """Dimension of one context vector, ``frames * n_mels``."""
        return self.frames * self.n_mels

    @classmethod
    def preset(cls, name: str) -> FeatureConfig:
        """A named configuration.

        Parameters
        ----------
        name : {"dcase2020", "paper", "np2017"}
            * ``"dcase2020"``: the DCASE 2020 Task 2 baseline, as its code does it: 16 kHz, n_fft 1024,
              hop 512, 128 mels, power 2, ``10 log10(S + eps)`` (we write ``max(S, eps)``, identical except
              within eps of zero), 5 frames, so 640 dims. The baseline called librosa 0.6/0.7, whose
              default ``pad_mode`` was ``"reflect"``; we keep it.
            * ``"paper"``: the batch-uniformization paper (WASPAA 2019, spec section 1.5). CONFIRMED: 16 kHz,
              STFT window 512 and shift 256, mel magnitudes ``x = ln(M|X|)`` with context frames.
              OUR PROPOSALS (values lost from the paper): 64 mels (FCN64; use
              ``dataclasses.replace(cfg, n_mels=40)`` for FCN40), power 1 (magnitude), floor 1e-8,
              symmetric context P = 5 (``frames=11``, 704 dims), hann window, ``pad_mode="reflect"``.
            * ``"np2017"``: the Neyman-Pearson feature extractor (EUSIPCO 2017, spec section 2.4).
              CONFIRMED: 16 kHz, 64 mels, P_b = P_f = 10 (``frames=21``, 1344 dims). OUR PROPOSALS: STFT
              512 / 256 (the group's usual choice), power 1, natural log with floor 1e-8, hann,
              ``pad_mode="reflect"``.

        Returns
        -------
        cfg : FeatureConfig

        Raises
        ------
        ValueError
            If ``name`` is not ``"dcase2020"``, ``"paper"`` or ``"np2017"``.
        """
        if name == "dcase2020":
            return cls()
        if name in ("paper", "np2017"):  # the same front end; the context differs (P = 5 vs P_b = P_f = 10)
            return cls(
                n_fft=512,
                hop_length=256,
                win_length=512,
                n_mels=64,
                power=1.0,
                log="ln",
                log_floor=1e-8,
                frames=11 if name == "paper" else 21,
            )
        raise ValueError(f"name: expected 'dcase2020', 'paper' or 'np2017', got {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """All fields as a JSON-serialisable dict."""
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Short stable hash (12 hex digits) of every field, for cache file names."""
        blob = json.dumps(self.to_dict(), sort_keys=True, default=repr)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def n_frames(n_samples: int, cfg: FeatureConfig) -> int:
    """Number of STFT frames for ``n_samples`` samples (as ``librosa.stft`` counts them)."""
    if cfg.center:
        return 1 + n_samples // cfg.hop_length
    return max(0, 1 + (n_samples - cfg.n_fft) // cfg.hop_length)


class LogMel(torch.nn.Module):
    """Batched log-mel spectrogram in torch, matching ``librosa.feature.melspectrogram`` + log.

    Parameters
    ----------
    cfg : FeatureConfig
        The front end.
    device : str or torch.device
        ``"auto"`` (CUDA if present, else CPU), ``"cpu"``, ``"cuda"``...

    Notes
    -----
    Call it on a waveform tensor or array of shape ``(..., n_samples)``; it returns
    ``(..., T, n_mels)`` float32 on ``self.device`` with ``T = n_frames(n_samples, cfg)``
    (time first, mel last: the layout :func:`stack_context` expects). :meth:`mel_power` returns the mel
    spectrogram before the log in librosa's ``(..., n_mels, T)`` layout, for comparison with librosa.

    Examples
    --------
    >>> import torch
    >>> m = LogMel(FeatureConfig.preset("dcase2020"), device="cpu")
    >>> m(torch.zeros(2, 16000)).shape
    torch.Size([2, 32, 128])
    """

    def __init__(self, cfg: FeatureConfig, device: str | torch.device = "auto") -> None:
        super().__init__()
        import librosa

        self.cfg = cfg
        dev = resolve_device(device)
        win = librosa.filters.get_window(cfg.window, cfg.win_length, fftbins=True)
        win = librosa.util.pad_center(win, size=cfg.n_fft)
        fb = librosa.filters.mel(
            sr=cfg.sr, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, dtype=np.float32
        )
        self.register_buffer("window", torch.as_tensor(np.asarray(win, dtype=np.float32)).to(dev))
        self.register_buffer("mel_basis", torch.as_tensor(fb).to(dev))

    @property
    def device(self) -> torch.device:
        """Device the buffers (and the outputs) live on."""
        return self.window.device

    def _as_wave(self, y: Any) -> torch.Tensor:
        t = y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y, dtype=np.float32))
        if t.ndim < 1 or t.shape[-1] == 0:
            raise ValueError(f"y: expected a non-empty (..., n_samples) waveform, got shape {tuple(t.shape)}")
        if not self.cfg.center and t.shape[-1] < self.cfg.n_fft:
            raise ValueError(f"y: {t.shape[-1]} samples is shorter than n_fft={self.cfg.n_fft} (center=False)")
        if self.cfg.center and self.cfg.pad_mode == "reflect" and t.shape[-1] <= self.cfg.n_fft // 2:
            raise ValueError(
                f"y: {t.shape[-1]} samples too few for reflect padding by n_fft // 2 = {self.cfg.n_fft // 2}"
            )
        return t.to(device=self.device, dtype=torch.float32)

    def _mel_tf(self, y: Any) -> torch.Tensor:
        """Mel spectrogram before the log, time first: (..., T, n_mels)."""
        cfg = self.cfg
        t = self._as_wave(y)
        lead = t.shape[:-1]
        flat = t.reshape(-1, 1, t.shape[-1])
        rows = max(1, _CPU_CHUNK_SAMPLES // t.shape[-1])
        if t.device.type == "cpu" and flat.shape[0] > rows:
            # On a CPU, chunks of ~2**20 samples (six 10-s clips) keep the frame and spectrum arrays in cache:
            # up to 2x faster than one big batch for 20 ten-second clips (GPUs take the whole batch).
            parts = [self._mel_flat(flat[i : i + rows]) for i in range(0, flat.shape[0], rows)]
            mel = torch.cat(parts)
        else:
            mel = self._mel_flat(flat)
        return mel.reshape(*lead, mel.shape[-2], cfg.n_mels)

    def _mel_flat(self, flat: torch.Tensor) -> torch.Tensor:
        """(B, 1, n) waveforms -> (B, T, n_mels) mel spectrogram."""
        cfg = self.cfg
        if cfg.center:
            pad = cfg.n_fft // 2
            flat = torch.nn.functional.pad(flat, (pad, pad), mode=cfg.pad_mode)
        # The STFT as librosa computes it: frames of n_fft samples every hop_length, times the window
        # (zero-padded to n_fft, centred), then a real FFT. torch.stft gives the same numbers; framing by
        # hand and one batched rfft is about five times faster on a CPU.
        frames = flat[:, 0].unfold(-1, cfg.n_fft, cfg.hop_length) * self.window  # (B, T, n_fft)
        spec = torch.fft.rfft(frames, dim=-1)  # (B, T, n_fft // 2 + 1)
        # |X|^p from the power |X|^2 (re^2 + im^2): on a CPU, sqrt of it is ~2x faster than the complex abs()
        # (which guards against overflow that audio amplitudes never reach)
        mag = spec.real.square() + spec.imag.square()
        if cfg.power == 1.0:
            mag = mag.sqrt_()
        elif cfg.power != 2.0:
            mag = mag.pow_(cfg.power / 2)
        return torch.matmul(mag, self.mel_basis.T)  # (B, T, n_mels)

    def mel_power(self, y: Any) -> torch.Tensor:
        """Mel spectrogram ``M |STFT(y)| ** power`` before the log.

        Parameters
        ----------
        y : array-like or torch.Tensor [shape=(..., n_samples)]

        Returns
        -------
        S : torch.Tensor [shape=(..., n_mels, T)]
            Same layout as ``librosa.feature.melspectrogram``.
        """
        with cpu_threads(self.device, small=True):
            return self._mel_tf(y).transpose(-1, -2)

    def forward(self, y: Any) -> torch.Tensor:
        """Log-mel spectrogram.

        Parameters
        ----------
        y : array-like or torch.Tensor [shape=(..., n_samples)]
            Waveforms at ``cfg.sr``.

        Returns
        -------
        S : torch.Tensor [shape=(..., T, n_mels)]
            ``10 log10(max(mel, floor))`` or ``ln(max(mel, floor))`` per ``cfg.log``.
        """
        # On a CPU, one torch thread for the whole call (adskit._threads, restored after): with one core busy
        # elsewhere, torch's default two threads made this 2-4x slower than librosa, and on a 2-core machine one
        # thread was as fast as two or faster whenever other work ran (benchmarks/bench_threads.py). GPUs: as is.
        with cpu_threads(self.device, small=True):
            mel = self._mel_tf(y).clamp_min_(self.cfg.log_floor)
            return torch.log10(mel).mul_(10.0) if self.cfg.log == "10log10" else torch.log_(mel)


def log_mel(y: Any, cfg: FeatureConfig, device: str | torch.device = "auto") -> np.ndarray:
    """Log-mel spectrogram of one waveform as a NumPy array.

    Parameters
    ----------
    y : np.ndarray [shape=(n_samples,)]
        Waveform at ``cfg.sr``.
    cfg : FeatureConfig
    device : str or torch.device

    Returns
    -------
    S : np.ndarray [shape=(T, n_mels)], float32
    """
    with torch.inference_mode():
        return LogMel(cfg, device=device)(y).cpu().numpy()


def log_mel_batch(
    waves: Sequence[np.ndarray],
    *,
    cfg: FeatureConfig,
    device: str | torch.device = "auto",
    batch_size: int = 32,
) -> list[np.ndarray]:
    """Log-mel spectrograms of many waveforms, one batched :class:`LogMel` call per group of equal length.

    Waveforms of equal length are stacked and go through the extractor together (at most ``batch_size`` at
    a time); each result equals :func:`log_mel` of that waveform alone (to float32 rounding; bit for bit in our
    CPU tests).

    Parameters
    ----------
    waves : sequence of np.ndarray [shape=(n_samples_i,)]
        Waveforms at ``cfg.sr``, of any lengths (cast to float32).
    cfg : FeatureConfig
        The front end.
    device : str or torch.device
        Where the extractor runs: ``"auto"`` (CUDA if present), ``"cpu"``, ``"cuda"``...
    batch_size : int
        Most waveforms per extractor call (bounds the memory of a group of many equal-length clips).

    Returns
    -------
    specs : list of np.ndarray [shape=(T_i, n_mels)], float32
        In the order of ``waves``; ``T_i = n_frames(n_samples_i, cfg)``. Empty for an empty ``waves``.

    Raises
    ------
    ValueError
        A waveform that is not 1-D, or too short for one frame (see :class:`LogMel`), or ``batch_size < 1``.

    Examples
    --------
    >>> cfg = FeatureConfig.preset("paper")
    >>> rng = np.random.default_rng(0)
    >>> specs = log_mel_batch([rng.standard_normal(n) for n in (16000, 8000, 16000)], cfg=cfg, device="cpu")
    >>> [S.shape for S in specs]
    [(63, 64), (32, 64), (63, 64)]
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
    groups: dict[int, list[int]] = {}
    for i, y in enumerate(waves):
        if np.ndim(y) != 1:
            raise ValueError(f"waves[{i}]: expected a 1-D waveform, got shape {np.shape(y)}")
        groups.setdefault(np.size(y), []).append(i)
    out: list[np.ndarray | None] = [None] * len(waves)
    if not groups:
        return []
    extractor = LogMel(cfg, device=device)
    with torch.inference_mode():
        for idx in groups.values():
            for k in range(0, len(idx), batch_size):
                part = idx[k : k + batch_size]
                S = extractor(torch.from_numpy(np.stack([waves[i] for i in part]).astype(np.float32))).cpu().numpy()
                for j, i in enumerate(part):
                    out[i] = S[j]
    return out  # type: ignore[return-value]


def stack_context(S: np.ndarray | torch.Tensor, frames: int) -> np.ndarray | torch.Tensor:
    """Concatenate ``frames`` consecutive rows of ``S`` into context vectors (frame-major layout).

    Parameters
    ----------
    S : np.ndarray or torch.Tensor [shape=(T, F)]
        Frame-wise features, time first (the output of :class:`LogMel` for one clip).
    frames : int
        Context length (>= 1).

    Returns
    -------
    X : same type as ``S`` [shape=(T - frames + 1, frames * F)]
        ``X[i, k * F + f] = S[i + k, f]``. A new contiguous array (a copy, not a view).

    Raises
    ------
    ValueError
        If ``frames < 1`` or ``T < frames``, or ``S`` is not 2-D.

    Examples
    --------
    >>> stack_context(np.arange(8).reshape(4, 2), 3)
    array([[0, 1, 2, 3, 4, 5],
           [2, 3, 4, 5, 6, 7]])
    """
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise ValueError(f"frames: expected an int >= 1, got {frames!r}")
    if S.ndim != 2:
        raise ValueError(f"S: expected a 2-D (T, F) array, got shape {tuple(S.shape)}")
    T, F = S.shape
    if T < frames:
        raise ValueError(f"frames: {frames} is more than the {T} frame(s) of S (shape {tuple(S.shape)})")
    if isinstance(S, torch.Tensor):
        # unfold gives (T - frames + 1, F, frames); make it frame-major.
        return S.unfold(0, frames, 1).transpose(1, 2).reshape(T - frames + 1, frames * F)
    win = np.lib.stride_tricks.sliding_window_view(np.asarray(S), frames, axis=0)  # (T-frames+1, F, frames)
    # np.array copies even when the window is already contiguous (frames == T), so the result is always writable
    return np.array(win.transpose(0, 2, 1), order="C").reshape(T - frames + 1, frames * F)


def frame_times(n_vectors: int, cfg: FeatureConfig) -> np.ndarray:
    """Centre time (seconds) of each context vector, to line vectors up with labels.

    Parameters
    ----------
    n_vectors : int
        Number of context vectors (``T - cfg.frames + 1``).
    cfg : FeatureConfig

    Returns
    -------
    t : np.ndarray [shape=(n_vectors,)]
        Time of the centre of the centre frame ``i + frames // 2`` of vector ``i``: ``tau * hop / sr`` with
        ``center=True``, plus ``n_fft / 2 / sr`` with ``center=False``.

    Raises
    ------
    ValueError
        If ``n_vectors`` is negative.
    """
    if n_vectors < 0:
        raise ValueError(f"n_vectors: expected >= 0, got {n_vectors}")
    tau = np.arange(n_vectors) + cfg.frames // 2
    offset = 0.0 if cfg.center else cfg.n_fft / 2
    return (tau * cfg.hop_length + offset) / cfg.sr
