"""Mixing sounds into normal recordings at a given anomaly-to-normal ratio, and the frame labels that follow.

Definitions
-----------
ANR (spec eq. 8, ``y(t) = x(t) + g s(t)``): the energy ratio over the segment where ``s`` is active,

    ANR = 10 log10( sum_{t in seg} (g s(t))^2 / sum_{t in seg} x(t)^2 ),

with ``seg = [start, stop)`` the samples that ``s`` covers. :func:`mix_at_ratio` solves it for ``g``.
The same number serves as the SNR of a test anomaly inserted into a normal clip (EUSIPCO 2017 mixes its
test anomalies at -10, -5, 0, 5 dB; the BU paper at -10, -15, -20 dB ANR).

:func:`mix_snr` instead mixes over the whole length of ``normal`` (the anomaly looped or trimmed to it).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x, s = rng.standard_normal(16000), rng.standard_normal(4000)
>>> y, (start, stop) = mix_at_ratio(x, s, -10.0, position=1000)
>>> (start, stop)
(1000, 5000)
>>> float(round(10 * np.log10(np.sum((y - x)[start:stop] ** 2) / np.sum(x[start:stop] ** 2)), 6))
-10.0
"""

from __future__ import annotations

import numpy as np

from adskit.audio.features import FeatureConfig, n_frames

__all__ = ["frame_labels", "gain_for_ratio", "mix_at_ratio", "mix_snr", "random_excerpt"]


def _as_wave(x, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1 or a.size == 0 or not np.issubdtype(a.dtype, np.number):
        raise ValueError(f"{name}: expected a non-empty 1-D waveform, got shape {a.shape} dtype {a.dtype}")
    if not np.isfinite(a).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    return a


def _check_ratio(ratio_db: float, name: str) -> float:
    try:
        r = float(ratio_db)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a number of dB, got {ratio_db!r}") from exc
    if not np.isfinite(r):
        raise ValueError(f"{name}: expected a finite number of dB, got {ratio_db!r}")
    return r


def gain_for_ratio(x_seg: np.ndarray, s: np.ndarray, ratio_db: float) -> float:
    """Gain ``g`` with ``10 log10(sum (g s)^2 / sum x_seg^2) = ratio_db``.

    Parameters
    ----------
    x_seg : np.ndarray [shape=(n,)]
        The normal signal over the segment ``s`` will cover.
    s : np.ndarray [shape=(n,)]
        The inserted sound.
    ratio_db : float
        Target ratio in dB.

    Returns
    -------
    g : float

    Raises
    ------
    ValueError
        If ``ratio_db`` is not a finite number, or ``x_seg`` or ``s`` has zero energy (silent).
    """
    r = _check_ratio(ratio_db, "ratio_db")
    e_x = float(np.sum(np.square(x_seg, dtype=np.float64)))
    e_s = float(np.sum(np.square(s, dtype=np.float64)))
    if e_x <= 0.0:
        raise ValueError("normal: the segment where the sound is inserted is silent (energy 0); ANR is undefined")
    if e_s <= 0.0:
        raise ValueError("other: the inserted sound is silent (energy 0); no gain reaches a finite ANR")
    return float(np.sqrt(10.0 ** (r / 10.0) * e_x / e_s))


def random_excerpt(s: np.ndarray, max_samples: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """A sound that fits the room it is mixed into: itself when short enough, else a random excerpt.

    Parameters
    ----------
    s : np.ndarray [shape=(n,)]
        The sound (something-else or anomalous), at the rate of the mixture.
    max_samples : int
        The longest excerpt allowed (each use documents its rule, e.g. a third of a training batch).
    rng : np.random.Generator
        Draws the excerpt's start, uniform over ``0 .. n - max_samples``. A sound that fits draws nothing
        (the generator's state is left as it was), so short sounds give the same stream as before.

    Returns
    -------
    excerpt : np.ndarray [shape=(min(n, max_samples),)]
        A view of ``s``.
    start : int
        Where the excerpt starts in ``s`` (0 when ``s`` fits).

    Raises
    ------
    ValueError
        If ``max_samples`` < 1.

    Examples
    --------
    >>> x, start = random_excerpt(np.arange(10.0), 4, np.random.default_rng(0))
    >>> x.size, bool(np.all(np.diff(x) == 1)), 0 <= start <= 6
    (4, True, True)
    """
    if isinstance(max_samples, bool) or not isinstance(max_samples, (int, np.integer)) or max_samples < 1:
        raise ValueError(f"max_samples: expected an int >= 1, got {max_samples!r}")
    m = min(int(s.shape[0]), int(max_samples))
    start = int(rng.integers(0, s.shape[0] - m + 1))  # integers(0, 1) returns 0 without drawing
    return s[start : start + m], start


def mix_at_ratio(
    normal: np.ndarray,
    other: np.ndarray,
    ratio_db: float,
    position: int | None = None,
    rng: np.random.Generator | int | None = None,
) -> tuple[np.ndarray, tuple[int, int]]:
    """Insert ``other`` into ``normal`` at ANR ``ratio_db`` (spec eq. 8: ``y = x + g s``).

    Parameters
    ----------
    normal : np.ndarray [shape=(n,)]
        Normal waveform ``x``.
    other : np.ndarray [shape=(m,)], m <= n
        Sound ``s`` to insert (a something-else sound for training, an anomaly for testing).
    ratio_db : float
        ANR in dB, the energy ratio over the segment where ``s`` is active (module docstring).
    position : int or None
        First sample of the insertion, ``0 <= position <= n - m``; None draws it uniformly with ``rng``.
    rng : np.random.Generator, int or None
        Randomness for ``position``; an int seeds ``np.random.default_rng``; None is not reproducible.

    Returns
    -------
    mixture : np.ndarray [shape=(n,)]
        ``normal + g * other`` on the segment, ``normal`` elsewhere; float64 if either input is float64,
        else float32 (computed in float64).
    span : tuple of int
        ``(start, stop)``, the half-open sample interval where ``other`` is active.

    Raises
    ------
    ValueError
        ``other`` longer than ``normal``; ``position`` out of range; ``ratio_db`` not finite; the normal
        segment or ``other`` silent (energy 0).
    """
    x = _as_wave(normal, "normal")
    s = _as_wave(other, "other")
    n, m = x.size, s.size
    if m > n:
        raise ValueError(f"other: {m} samples is longer than normal ({n} samples); trim it first")
    _check_ratio(ratio_db, "ratio_db")
    if position is None:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        start = int(gen.integers(0, n - m + 1))
    else:
        if isinstance(position, bool) or not isinstance(position, (int, np.integer)) or not 0 <= position <= n - m:
            raise ValueError(f"position: expected an int in [0, {n - m}], got {position!r}")
        start = int(position)
    stop = start + m
    out_dtype = np.result_type(x.dtype, s.dtype, np.float32)
    y = x.astype(np.float64, copy=True)
    g = gain_for_ratio(y[start:stop], s, ratio_db)
    y[start:stop] += g * s.astype(np.float64)
    return y.astype(out_dtype, copy=False), (start, stop)


def mix_snr(normal: np.ndarray, anomaly: np.ndarray, snr_db: float) -> np.ndarray:
    """Mix ``anomaly`` over the whole of ``normal`` at ``snr_db`` (energy ratio over the full length).

    Parameters
    ----------
    normal : np.ndarray [shape=(n,)]
    anomaly : np.ndarray [shape=(m,)]
        Looped (tiled) if shorter than ``normal``, trimmed if longer.
    snr_db : float
        ``10 log10(sum (g a)^2 / sum normal^2)`` over the ``n`` samples.

    Returns
    -------
    mixture : np.ndarray [shape=(n,)]
    """
    x = _as_wave(normal, "normal")
    a = _as_wave(anomaly, "anomaly")
    a = np.tile(a, -(-x.size // a.size))[: x.size]
    y, _ = mix_at_ratio(x, a, snr_db, position=0)
    return y


def frame_labels(span: tuple[int, int] | None, n_samples: int, cfg: FeatureConfig) -> np.ndarray:
    """Which context vectors of a clip contain the inserted sound.

    A vector is anomalous if its centre STFT frame (``i + cfg.frames // 2``) overlaps the inserted interval
    (spec section 1.5, INFERRED). Frame ``tau`` covers the samples where its window is non-zero:
    ``[c - win_length / 2, c + win_length / 2)`` with centre ``c = tau * hop`` (``center=True``) or
    ``tau * hop + n_fft / 2`` (``center=False``).

    Parameters
    ----------
    span : (int, int) or None
        ``(start, stop)`` samples from :func:`mix_at_ratio`; None (nothing inserted) gives all False.
    n_samples : int
        Length of the clip in samples.
    cfg : FeatureConfig

    Returns
    -------
    labels : np.ndarray [shape=(n_vectors,)], bool
        ``n_vectors = n_frames(n_samples, cfg) - cfg.frames + 1`` (0 if negative), aligned with
        :func:`adskit.audio.features.stack_context` and :func:`adskit.audio.features.frame_times`.

    Raises
    ------
    ValueError
        If ``span`` is not ``(start, stop)`` with ``0 <= start <= stop <= n_samples``.
    """
    n_vec = max(0, n_frames(int(n_samples), cfg) - cfg.frames + 1)
    if span is None:
        return np.zeros(n_vec, dtype=bool)
    start, stop = (int(v) for v in span)
    if not 0 <= start <= stop <= n_samples:
        raise ValueError(f"span: expected 0 <= start <= stop <= n_samples={n_samples}, got {span!r}")
    tau = np.arange(n_vec) + cfg.frames // 2
    centre = tau * cfg.hop_length + (0 if cfg.center else cfg.n_fft // 2)
    half = cfg.win_length / 2
    return (centre - half < stop) & (centre + half > start) & (stop > start)
