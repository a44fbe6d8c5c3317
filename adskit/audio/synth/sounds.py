"""Anomalies and "something-else" sounds of the synthetic data, with their kind tables.

Anomalies (test clips only), grouped as in the Neyman-Pearson paper (EUSIPCO 2017: sustained,
time-varying, sudden; :data:`ANOMALY_GROUPS`):

* sudden: ``"knock"`` (a few heavy resonant impacts), ``"rattle"`` (a fast train of small bright impacts);
* sustained: ``"rub"`` (narrow-band noise), ``"whine"`` (a narrow tone with slight FM);
* time_varying: ``"sweep"`` (a foreign harmonic part accelerating or decelerating), ``"speed_change"``
  (the machine's own harmonic comb shifted by 5-12 %; not additive, so it has no isolated source).

Additive anomalies are mixed into a clip by :func:`adskit.audio.synth.generate_clip` at an ANR drawn from
:data:`DEFAULT_ANR_DB` over the anomalous segment.

"Something-else" sounds (training of SNP/BU only, never at test): pink noise bursts, clicks, chirps and pure
tones of 0.3-2 s (:data:`SOMETHING_ELSE_KINDS`).
"""

from __future__ import annotations

import numpy as np

from adskit._utils import check_positive
from adskit.audio.synth._dsp import as_rng, band, coloured, fade, impulses, shaped_noise

__all__ = [
    "ADDITIVE_KINDS",
    "ANOMALY_GROUPS",
    "ANOMALY_KINDS",
    "DEFAULT_ANR_DB",
    "SOMETHING_ELSE_KINDS",
    "generate_anomaly_source",
    "generate_something_else",
]

DEFAULT_ANR_DB = (-15.0, -5.0)
ANOMALY_GROUPS: dict[str, str] = {
    "knock": "sudden",
    "rattle": "sudden",
    "rub": "sustained",
    "whine": "sustained",
    "sweep": "time_varying",
    "speed_change": "time_varying",
}
ANOMALY_KINDS = tuple(ANOMALY_GROUPS)
ADDITIVE_KINDS = tuple(k for k in ANOMALY_KINDS if k != "speed_change")
SOMETHING_ELSE_KINDS = ("pink_burst", "clicks", "chirp", "tone")


def _start(
    kind: str, kinds: tuple[str, ...], rng, sr: int, duration, draw
) -> tuple[np.random.Generator, int, np.ndarray]:
    """Check ``kind``, draw the duration with ``draw(rng, kind)`` if it is None; return ``(rng, n, t)``.

    ``n`` is the number of samples (at least 16) and ``t`` their times in seconds, shape ``(n,)``.
    """
    rng = as_rng(rng)
    if kind not in kinds:
        raise ValueError(f"kind: expected one of {kinds}, got {kind!r}")
    if duration is None:
        duration = draw(rng, kind)
    n = max(int(round(check_positive(duration, "duration") * sr)), 16)
    return rng, n, np.arange(n) / sr


def _anomaly_duration(rng: np.random.Generator, kind: str) -> float:
    """Seconds of an anomaly drawn by kind: sudden 0.8-2.5 s, others 1.5-4 s."""
    return rng.uniform(0.8, 2.5) if ANOMALY_GROUPS[kind] == "sudden" else rng.uniform(1.5, 4.0)


def _peak_half(s: np.ndarray) -> np.ndarray:
    """``s`` scaled to peak 0.5."""
    return 0.5 * s / (np.max(np.abs(s)) + 1e-12)


def generate_anomaly_source(kind: str, rng: np.random.Generator | int | None, sr: int = 16000, duration=None):
    """An isolated additive anomaly sound (peak 0.5).

    Parameters
    ----------
    kind : {"knock", "rattle", "rub", "whine", "sweep"}
        See :data:`ANOMALY_GROUPS` (``"speed_change"`` is not additive and has no source).
    rng : np.random.Generator, int or None
        All randomness of the source; an int seeds ``np.random.default_rng``.
    sr : int
        Sampling rate in Hz.
    duration : float or None
        Seconds; None draws it (sudden 0.8-2.5 s, others 1.5-4 s).

    Returns
    -------
    source : np.ndarray [shape=(max(round(duration * sr), 16),)], float64
        Peak 0.5, to be mixed into a recording at a chosen ANR (:func:`adskit.audio.mixing.mix_at_ratio`).

    Raises
    ------
    ValueError
        ``kind`` is not an additive anomaly kind, or ``duration`` is not > 0.
    """
    rng, n, t = _start(kind, ADDITIVE_KINDS, rng, sr, duration, _anomaly_duration)
    nyq = sr / 2
    if kind == "knock":
        k = int(rng.integers(2, 6))
        times = np.sort(rng.uniform(0.0, 0.9 * n / sr, k))
        fc = rng.uniform(600, min(2500, 0.8 * nyq), k)  # drawn in this order: fc, tau, amplitude, phases
        tau = rng.uniform(0.005, 0.025, k)
        s = impulses(rng, n, times, sr, fc, tau, rng.uniform(0.5, 1.0, k))
    elif kind == "rattle":
        rate = rng.uniform(12.0, 35.0)
        times = np.cumsum(rng.uniform(0.6, 1.4, int(n / sr * rate) + 1) / rate)
        times = times[times < n / sr]
        k = times.size
        fc = rng.uniform(2500, min(6000, 0.85 * nyq), k)
        tau = rng.uniform(0.002, 0.005, k)
        s = impulses(rng, n, times, sr, fc, tau, rng.uniform(0.3, 1.0, k))
        s = fade(s, sr, 0.05)
    elif kind == "rub":
        fc = rng.uniform(1000.0, min(5000.0, 0.7 * nyq))
        s = shaped_noise(rng, n, sr, band(fc, rng.uniform(0.03, 0.08)))
        s *= 1.0 + 0.5 * np.sin(2 * np.pi * rng.uniform(1.0, 4.0) * t + rng.uniform(0, 2 * np.pi))
        s = fade(s, sr, 0.1)
    elif kind == "whine":
        f = rng.uniform(1500.0, min(6000.0, 0.7 * nyq))
        inst = f * (1.0 + 0.003 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t))
        ph = 2 * np.pi * np.cumsum(inst) / sr
        s = np.sin(ph) + (0.3 * np.sin(2 * ph) if 2 * f < 0.9 * nyq else 0.0)
        s = fade(s, sr, 0.2)
    else:  # sweep
        f_a = rng.uniform(150.0, 400.0)
        f_b = f_a * rng.uniform(1.4, 2.0)
        if rng.random() < 0.5:
            f_a, f_b = f_b, f_a
        inst = f_a * (f_b / f_a) ** (t / t[-1])
        ph = 2 * np.pi * np.cumsum(inst) / sr
        s = sum(k**-1.0 * np.sin(k * ph) for k in range(1, 7) if k * max(f_a, f_b) < 0.45 * sr)
        s = fade(s, sr, 0.15)
    return _peak_half(s)


def generate_something_else(kind: str, rng: np.random.Generator | int | None, sr: int = 16000, duration=None):
    """A "something-else" sound for SNP/BU training (peak 0.5).

    Parameters
    ----------
    kind : {"pink_burst", "clicks", "chirp", "tone"}
    rng : np.random.Generator, int or None
        All randomness of the sound; an int seeds ``np.random.default_rng``.
    sr : int
        Sampling rate in Hz.
    duration : float or None
        Seconds; None draws it uniformly in [0.3, 2].

    Returns
    -------
    sound : np.ndarray [shape=(max(round(duration * sr), 16),)], float64
        Peak 0.5.

    Raises
    ------
    ValueError
        ``kind`` is not one of :data:`SOMETHING_ELSE_KINDS`, or ``duration`` is not > 0.
    """
    rng, n, t = _start(kind, SOMETHING_ELSE_KINDS, rng, sr, duration, lambda rng, kind: rng.uniform(0.3, 2.0))
    top = 0.45 * sr
    if kind == "pink_burst":
        s = fade(shaped_noise(rng, n, sr, coloured(1.0)), sr, 0.02)
    elif kind == "clicks":
        rate = rng.uniform(5.0, 30.0)
        times = np.arange(rng.uniform(0, 1 / rate), n / sr, 1 / rate)
        s = impulses(rng, n, times, sr, rng.uniform(1000, top, times.size), 0.001, rng.uniform(0.5, 1, times.size))
    elif kind == "chirp":
        f_a, f_b = rng.uniform(100.0, top, 2)
        s = fade(np.sin(2 * np.pi * np.cumsum(f_a * (f_b / f_a) ** (t / t[-1])) / sr), sr, 0.02)
    else:
        s = fade(np.sin(2 * np.pi * rng.uniform(100.0, top) * t + rng.uniform(0, 2 * np.pi)), sr, 0.02)
    return _peak_half(s)
