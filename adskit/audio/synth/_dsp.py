"""Building blocks of the synthetic sounds: shaped noise, spectral bumps, windows, impacts, harmonic combs.

All randomness comes from the ``np.random.Generator`` passed in; the order of the draws is part of the
generator's output (changing it changes every generated file).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "as_rng",
    "band",
    "coloured",
    "complement",
    "fade",
    "harmonics",
    "impulses",
    "place",
    "shaped_noise",
    "smooth_walk",
    "window",
]


def as_rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def shaped_noise(rng: np.random.Generator, n: int, sr: int, psd) -> np.ndarray:
    """Gaussian noise with power spectral density proportional to ``psd(f)``, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec *= np.sqrt(psd(np.fft.rfftfreq(n, 1.0 / sr)))
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def band(fc: float, width: float):
    """Log-frequency Gaussian bump centred at ``fc`` (width is a std in ln-frequency units)."""
    return lambda f: np.exp(-0.5 * ((np.log(np.maximum(f, 1.0)) - np.log(fc)) / width) ** 2)


def coloured(slope: float):
    return lambda f: np.where(f < 20.0, 0.0, 1.0 / np.maximum(f, 20.0) ** slope)


def smooth_walk(rng: np.random.Generator, n: int, sr: int, rate: float) -> np.ndarray:
    """Smooth zero-mean, unit-std random trajectory with control points every ``1 / rate`` s."""
    n_ctrl = int(np.ceil(n / sr * rate)) + 2
    ctrl = rng.standard_normal(n_ctrl)
    return np.interp(np.arange(n) / sr * rate, np.arange(n_ctrl), ctrl)


def window(n: int, sr: int, t0: float, t1: float, ramp: float = 0.2) -> np.ndarray:
    """0 outside [t0, t1], 1 inside, with raised-cosine ramps of ``ramp`` s inside the interval."""
    t = np.arange(n) / sr
    r = max(min(ramp, (t1 - t0) / 2), 1e-3)
    up = np.clip((t - t0) / r, 0.0, 1.0)
    down = np.clip((t1 - t) / r, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


def fade(x: np.ndarray, sr: int, ramp: float = 0.02) -> np.ndarray:
    return x * window(x.size, sr, 0.0, x.size / sr, ramp)


def impulses(rng: np.random.Generator, n: int, times: np.ndarray, sr: int, fc, tau, amp) -> np.ndarray:
    """Sum of decaying resonant impacts ``amp * exp(-t / tau) sin(2 pi fc t)`` starting at ``times`` (s)."""
    out = np.zeros(n)
    for i, t0 in enumerate(np.atleast_1d(times)):
        i0 = int(t0 * sr)
        if i0 >= n:
            continue
        fc_i = fc[i] if np.ndim(fc) else fc
        tau_i = tau[i] if np.ndim(tau) else tau
        a_i = amp[i] if np.ndim(amp) else amp
        m = min(n - i0, int(8 * tau_i * sr) + 1)
        t = np.arange(m) / sr
        body = np.sin(2 * np.pi * fc_i * t + rng.uniform(0, 2 * np.pi)) + 0.3 * rng.standard_normal(m)
        out[i0 : i0 + m] += a_i * np.exp(-t / tau_i) * body
    return out


def harmonics(phase: np.ndarray, f_inst: np.ndarray, amps: np.ndarray, split: int, sr: int, rng):
    """Harmonic comb ``sum_k amps[k] sin(k phase + phi_k)`` as two parts: harmonics ``<= split`` and above.

    Harmonics reaching 0.45 sr are left out. ``z ** k`` is built by repeated complex multiplication
    (unit modulus, so the rounding drift over 64 harmonics stays near 1e-14).
    """
    z = np.exp(1j * phase)
    zk = np.ones_like(z)
    low = np.zeros(phase.size)
    high = np.zeros(phase.size)
    f_top = float(np.max(f_inst))
    for k in range(1, amps.size + 1):
        zk *= z
        if k * f_top >= 0.45 * sr:
            break
        if amps[k - 1] != 0.0:
            part = low if k <= split else high
            part += amps[k - 1] * (zk * np.exp(1j * rng.uniform(0, 2 * np.pi))).imag
    return low, high


def place(rng: np.random.Generator, duration: float, length: float, taken: list[tuple[float, float]]):
    """A random interval of ``length`` s in [0, duration] clear of ``taken`` (None if none fits)."""
    length = min(length, duration)
    for _ in range(50):
        t0 = float(rng.uniform(0.0, duration - length))
        t1 = t0 + length
        if all(t1 <= a or t0 >= b for a, b in taken):
            return (round(t0, 4), round(t1, 4))
    return None


def complement(duration: float, segs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out, cur = [], 0.0
    for a, b in sorted(segs):
        if a > cur:
            out.append((round(cur, 4), a))
        cur = max(cur, b)
    if cur < duration:
        out.append((round(cur, 4), round(duration, 4)))
    return out
