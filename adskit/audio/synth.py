"""The embedded default data: a seeded, offline generator of machine sounds (16 kHz mono).

It is what the kit runs on when a user has no recordings, what the tests and quick experiments use, and a
stand-in for real machines, not a benchmark tuned for one method. Every clip is a sum of

* the machine: a harmonic comb on a rotation speed ``f(t)`` with slow jitter, shaped by the machine's body
  resonances, plus its own mechanical noise (airflow, fluid, mesh, belt) and, for some machines, periodic
  ticks;
* the factory background: coloured noise with a per-clip level, plus occasional distant clatter (short
  low-passed impacts, about one every 7 s), which is normal.

Working processes of a clip (segments in seconds, recorded in ``info``):

* ``"steady"``: the frequent process, full speed with jitter of the rotation speed;
* ``"idle"``: lower speed and level, only the first few harmonics (in about a third of the clips, 1-3 s);
* ``"rare"``: the rare-normal process, a warm-up: the speed rises from half to full over 1-3 s with a
  distinct whirring band and brighter harmonics. It is NORMAL: it occurs in about 12.5 % of normal clips,
  train and test alike (:data:`RARE_FRACTION`).

Anomalies (test clips only), grouped as in the Neyman-Pearson paper (EUSIPCO 2017: sustained,
time-varying, sudden; :data:`ANOMALY_GROUPS`):

* sudden: ``"knock"`` (a few heavy resonant impacts), ``"rattle"`` (a fast train of small bright impacts);
* sustained: ``"rub"`` (narrow-band noise), ``"whine"`` (a narrow tone with slight FM);
* time_varying: ``"sweep"`` (a foreign harmonic part accelerating or decelerating), ``"speed_change"``
  (the machine's own harmonic comb shifted by 5-12 %; not additive, so it has no isolated source).

Additive anomalies are mixed in with :func:`adskit.audio.mixing.mix_at_ratio` at an ANR drawn from
:data:`DEFAULT_ANR_DB` over the anomalous segment.

"Something-else" sounds (training of SNP/BU only, never at test): pink noise bursts, clicks, chirps and pure
tones of 0.3-2 s (:data:`SOMETHING_ELSE_KINDS`).

Examples
--------
>>> import numpy as np
>>> y, info = generate_clip("pump", "anomaly", rng=0, duration=2.0, anomaly_kind="whine")
>>> y.shape, info["anomaly_kind"], info["anomaly_group"]
((32000,), 'whine', 'sustained')
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from adskit._utils import atomic_write_json, check_positive
from adskit.audio.io import save_audio
from adskit.audio.mixing import mix_at_ratio

__all__ = [
    "ANOMALY_GROUPS",
    "ANOMALY_KINDS",
    "DEFAULT_ANR_DB",
    "MACHINES",
    "PRESETS",
    "RARE_FRACTION",
    "SOMETHING_ELSE_KINDS",
    "SYNTH_VERSION",
    "default_data_dir",
    "ensure_synthetic",
    "generate_anomaly_source",
    "generate_clip",
    "generate_something_else",
    "make_dataset",
]

SYNTH_VERSION = 1
RARE_FRACTION = 0.125
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

PRESETS: dict[str, dict[str, Any]] = {
    "fast": {
        "machines": ("fan", "pump", "gearbox", "conveyor"),
        "n_train": 40,
        "n_test_normal": 12,
        "n_test_anomaly": 12,
        "duration": 6.0,
        "n_something_else": 40,
        "n_anomaly_sources": 8,
    },
    "full": {
        "machines": ("fan", "pump", "gearbox", "conveyor"),
        "n_train": 200,
        "n_test_normal": 60,
        "n_test_anomaly": 60,
        "duration": 10.0,
        "n_something_else": 300,
        "n_anomaly_sources": 30,
    },
}


@dataclass(frozen=True)
class MachineSpec:
    """Acoustic recipe of one machine type (frequencies in Hz, levels relative to the harmonic part)."""

    f0: float  # rotation-related fundamental of the harmonic comb
    amps: tuple[float, ...]  # amplitude of harmonic k = 1, 2, ...
    resonances: tuple[tuple[float, float, float], ...]  # (centre Hz, width in ln-frequency, gain) body modes
    am: tuple[float, float]  # (rate as a fraction of f0, depth) periodic amplitude modulation
    jitter: float  # relative std of the slow rotation-speed wander
    mech: tuple[float, float, float]  # mechanical noise band: (centre Hz, width in ln-frequency, level)
    ticks: tuple[float, float, float]  # (revolutions between ticks (0 = none), resonance Hz, level)
    background: tuple[float, float]  # (spectral slope: PSD ~ f^-slope, level)
    idle: tuple[float, int, float]  # (speed factor, harmonics kept, level)
    warmup_band: float  # centre Hz of the whirring band of the warm-up (rare-normal process)


def _gear_amps() -> tuple[float, ...]:
    amps = np.zeros(64)
    amps[0], amps[1] = 0.25, 0.12  # shaft orders
    for m, a in ((19, 1.0), (38, 0.5), (57, 0.25)):  # gear mesh (19 teeth) and its harmonics
        amps[m - 1] = a
        for d, s in ((1, 0.35), (2, 0.12)):  # sidebands at +-1, +-2 shaft orders
            amps[m - 1 - d] += a * s
            if m - 1 + d < amps.size:
                amps[m - 1 + d] += a * s
    return tuple(float(a) for a in amps)


MACHINES: dict[str, MachineSpec] = {
    "fan": MachineSpec(
        f0=52.0,
        amps=tuple(float(k**-1.0) for k in range(1, 31)),
        resonances=((350.0, 0.5, 2.0), (1200.0, 0.4, 1.0)),
        am=(0.2, 0.15),
        jitter=0.004,
        mech=(900.0, 1.2, 1.4),
        ticks=(0.0, 0.0, 0.0),
        background=(1.0, 0.35),
        idle=(0.75, 3, 0.45),
        warmup_band=3000.0,
    ),
    "pump": MachineSpec(
        f0=49.0,
        amps=tuple(float(k**-0.6) for k in range(1, 41)),
        resonances=((600.0, 0.3, 2.5), (1500.0, 0.3, 1.5)),
        am=(1.0 / 7.0, 0.1),
        jitter=0.003,
        mech=(300.0, 0.8, 0.6),
        ticks=(0.0, 0.0, 0.0),
        background=(1.5, 0.3),
        idle=(0.8, 4, 0.4),
        warmup_band=2000.0,
    ),
    "gearbox": MachineSpec(
        f0=24.0,
        amps=_gear_amps(),
        resonances=((900.0, 0.5, 1.5),),
        am=(1.0 / 19.0, 0.2),
        jitter=0.002,
        mech=(1500.0, 0.7, 0.3),
        ticks=(0.0, 0.0, 0.0),
        background=(0.8, 0.3),
        idle=(0.7, 2, 0.4),
        warmup_band=3500.0,
    ),
    "conveyor": MachineSpec(
        f0=30.0,
        amps=tuple(float(k**-1.3) for k in range(1, 21)),
        resonances=((200.0, 0.5, 1.5),),
        am=(0.05, 0.1),
        jitter=0.006,
        mech=(4000.0, 0.6, 0.45),
        ticks=(6.0, 2200.0, 0.6),
        background=(1.2, 0.35),
        idle=(0.75, 3, 0.45),
        warmup_band=1200.0,
    ),
}

_LEVEL = 0.05  # RMS of the machine's harmonic part at full speed


# ----------------------------------------------------------------------------------------- building blocks


def _rng(rng: np.random.Generator | int | None) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _shaped_noise(rng: np.random.Generator, n: int, sr: int, psd) -> np.ndarray:
    """Gaussian noise with power spectral density proportional to ``psd(f)``, unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    spec *= np.sqrt(psd(np.fft.rfftfreq(n, 1.0 / sr)))
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _band(fc: float, width: float):
    """Log-frequency Gaussian bump centred at ``fc`` (width is a std in ln-frequency units)."""
    return lambda f: np.exp(-0.5 * ((np.log(np.maximum(f, 1.0)) - np.log(fc)) / width) ** 2)


def _coloured(slope: float):
    return lambda f: np.where(f < 20.0, 0.0, 1.0 / np.maximum(f, 20.0) ** slope)


def _smooth_walk(rng: np.random.Generator, n: int, sr: int, rate: float) -> np.ndarray:
    """Smooth zero-mean, unit-std random trajectory with control points every ``1 / rate`` s."""
    n_ctrl = int(np.ceil(n / sr * rate)) + 2
    ctrl = rng.standard_normal(n_ctrl)
    return np.interp(np.arange(n) / sr * rate, np.arange(n_ctrl), ctrl)


def _window(n: int, sr: int, t0: float, t1: float, ramp: float = 0.2) -> np.ndarray:
    """0 outside [t0, t1], 1 inside, with raised-cosine ramps of ``ramp`` s inside the interval."""
    t = np.arange(n) / sr
    r = max(min(ramp, (t1 - t0) / 2), 1e-3)
    up = np.clip((t - t0) / r, 0.0, 1.0)
    down = np.clip((t1 - t) / r, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))


def _fade(x: np.ndarray, sr: int, ramp: float = 0.02) -> np.ndarray:
    return x * _window(x.size, sr, 0.0, x.size / sr, ramp)


def _impulses(rng: np.random.Generator, n: int, times: np.ndarray, sr: int, fc, tau, amp) -> np.ndarray:
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


def _harmonics(phase: np.ndarray, f_inst: np.ndarray, amps: np.ndarray, split: int, sr: int, rng):
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


def _place(rng: np.random.Generator, duration: float, length: float, taken: list[tuple[float, float]]):
    """A random interval of ``length`` s in [0, duration] clear of ``taken`` (None if none fits)."""
    length = min(length, duration)
    for _ in range(50):
        t0 = float(rng.uniform(0.0, duration - length))
        t1 = t0 + length
        if all(t1 <= a or t0 >= b for a, b in taken):
            return (round(t0, 4), round(t1, 4))
    return None


# --------------------------------------------------------------------------------------- sources and clips


def generate_anomaly_source(kind: str, rng: np.random.Generator | int | None, sr: int = 16000, duration=None):
    """An isolated additive anomaly sound (peak 0.5).

    Parameters
    ----------
    kind : {"knock", "rattle", "rub", "whine", "sweep"}
        See :data:`ANOMALY_GROUPS` (``"speed_change"`` is not additive and has no source).
    rng : np.random.Generator, int or None
    sr : int
    duration : float or None
        Seconds; None draws it (sudden 0.8-2.5 s, others 1.5-4 s).

    Returns
    -------
    s : np.ndarray [shape=(round(duration * sr),)], float64
    """
    rng = _rng(rng)
    if kind not in ADDITIVE_KINDS:
        raise ValueError(f"kind: expected one of {ADDITIVE_KINDS}, got {kind!r}")
    if duration is None:
        duration = rng.uniform(0.8, 2.5) if ANOMALY_GROUPS[kind] == "sudden" else rng.uniform(1.5, 4.0)
    n = max(int(round(check_positive(duration, "duration") * sr)), 16)
    t = np.arange(n) / sr
    nyq = sr / 2
    if kind == "knock":
        k = int(rng.integers(2, 6))
        times = np.sort(rng.uniform(0.0, 0.9 * n / sr, k))
        s = _impulses(
            rng,
            n,
            times,
            sr,
            rng.uniform(600, min(2500, 0.8 * nyq), k),
            rng.uniform(0.005, 0.025, k),
            rng.uniform(0.5, 1.0, k),
        )
    elif kind == "rattle":
        rate = rng.uniform(12.0, 35.0)
        times = np.cumsum(rng.uniform(0.6, 1.4, int(n / sr * rate) + 1) / rate)
        times = times[times < n / sr]
        k = times.size
        s = _impulses(
            rng,
            n,
            times,
            sr,
            rng.uniform(2500, min(6000, 0.85 * nyq), k),
            rng.uniform(0.002, 0.005, k),
            rng.uniform(0.3, 1.0, k),
        )
        s = _fade(s, sr, 0.05)
    elif kind == "rub":
        fc = rng.uniform(1000.0, min(5000.0, 0.7 * nyq))
        s = _shaped_noise(rng, n, sr, _band(fc, rng.uniform(0.03, 0.08)))
        s *= 1.0 + 0.5 * np.sin(2 * np.pi * rng.uniform(1.0, 4.0) * t + rng.uniform(0, 2 * np.pi))
        s = _fade(s, sr, 0.1)
    elif kind == "whine":
        f = rng.uniform(1500.0, min(6000.0, 0.7 * nyq))
        inst = f * (1.0 + 0.003 * np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * t))
        ph = 2 * np.pi * np.cumsum(inst) / sr
        s = np.sin(ph) + (0.3 * np.sin(2 * ph) if 2 * f < 0.9 * nyq else 0.0)
        s = _fade(s, sr, 0.2)
    else:  # sweep
        f_a = rng.uniform(150.0, 400.0)
        f_b = f_a * rng.uniform(1.4, 2.0)
        if rng.random() < 0.5:
            f_a, f_b = f_b, f_a
        inst = f_a * (f_b / f_a) ** (t / t[-1])
        ph = 2 * np.pi * np.cumsum(inst) / sr
        s = sum(k**-1.0 * np.sin(k * ph) for k in range(1, 7) if k * max(f_a, f_b) < 0.45 * sr)
        s = _fade(s, sr, 0.15)
    return 0.5 * s / (np.max(np.abs(s)) + 1e-12)


def generate_something_else(kind: str, rng: np.random.Generator | int | None, sr: int = 16000, duration=None):
    """A "something-else" sound for SNP/BU training (peak 0.5).

    Parameters
    ----------
    kind : {"pink_burst", "clicks", "chirp", "tone"}
    rng : np.random.Generator, int or None
    sr : int
    duration : float or None
        Seconds; None draws it uniformly in [0.3, 2].

    Returns
    -------
    s : np.ndarray [shape=(round(duration * sr),)], float64
    """
    rng = _rng(rng)
    if kind not in SOMETHING_ELSE_KINDS:
        raise ValueError(f"kind: expected one of {SOMETHING_ELSE_KINDS}, got {kind!r}")
    if duration is None:
        duration = rng.uniform(0.3, 2.0)
    n = max(int(round(check_positive(duration, "duration") * sr)), 16)
    t = np.arange(n) / sr
    top = 0.45 * sr
    if kind == "pink_burst":
        s = _fade(_shaped_noise(rng, n, sr, _coloured(1.0)), sr, 0.02)
    elif kind == "clicks":
        rate = rng.uniform(5.0, 30.0)
        times = np.arange(rng.uniform(0, 1 / rate), n / sr, 1 / rate)
        s = _impulses(rng, n, times, sr, rng.uniform(1000, top, times.size), 0.001, rng.uniform(0.5, 1, times.size))
    elif kind == "chirp":
        f_a, f_b = rng.uniform(100.0, top, 2)
        s = _fade(np.sin(2 * np.pi * np.cumsum(f_a * (f_b / f_a) ** (t / t[-1])) / sr), sr, 0.02)
    else:
        s = _fade(np.sin(2 * np.pi * rng.uniform(100.0, top) * t + rng.uniform(0, 2 * np.pi)), sr, 0.02)
    return 0.5 * s / (np.max(np.abs(s)) + 1e-12)


def generate_clip(
    machine: str,
    label: str = "normal",
    rng: np.random.Generator | int | None = None,
    sr: int = 16000,
    duration: float = 10.0,
    rare: bool | None = None,
    anomaly_kind: str | None = None,
    anr_db: float | None = None,
    anr_range: tuple[float, float] = DEFAULT_ANR_DB,
) -> tuple[np.ndarray, dict[str, Any]]:
    """One synthetic recording of a machine.

    Parameters
    ----------
    machine : str
        A key of :data:`MACHINES` ("fan", "pump", "gearbox", "conveyor").
    label : {"normal", "anomaly"}
        ``"anomaly"`` adds one anomalous segment.
    rng : np.random.Generator, int or None
        All randomness of the clip; an int seeds ``np.random.default_rng``.
    sr : int
        Sampling rate in Hz.
    duration : float
        Seconds.
    rare : bool or None
        Force the rare-normal warm-up on (True) or off (False); None draws it with probability
        :data:`RARE_FRACTION`.
    anomaly_kind : str or None
        One of :data:`ANOMALY_KINDS` (anomaly clips only); None draws it uniformly.
    anr_db : float or None
        ANR of an additive anomaly over its segment; None draws it uniformly in ``anr_range``.
    anr_range : (float, float)
        Range for the drawn ANR, dB.

    Returns
    -------
    y : np.ndarray [shape=(round(duration * sr),)], float32
        Waveform, peak below 1.
    info : dict
        ``{"machine", "label", "sr", "duration", "f0", "steady": [(t0, t1)], "idle": [...], "rare": [...],
        "anomaly": [...], "anomaly_kind", "anomaly_group", "anr_db", "speed_factor"}``; segments in seconds.
    """
    if machine not in MACHINES:
        raise ValueError(f"machine: expected one of {tuple(MACHINES)}, got {machine!r}")
    if label not in ("normal", "anomaly"):
        raise ValueError(f"label: expected 'normal' or 'anomaly', got {label!r}")
    if anomaly_kind is not None and (label != "anomaly" or anomaly_kind not in ANOMALY_KINDS):
        raise ValueError(
            f"anomaly_kind: expected None or one of {ANOMALY_KINDS} with label='anomaly', "
            f"got {anomaly_kind!r} with label={label!r}"
        )
    sr = int(check_positive(sr, "sr"))
    duration = check_positive(duration, "duration")
    spec = MACHINES[machine]
    rng = _rng(rng)
    n = int(round(duration * sr))
    t = np.arange(n) / sr

    # ---- timeline: rare warm-up, idle, anomaly (non-overlapping)
    taken: list[tuple[float, float]] = []
    is_rare = bool(rng.random() < RARE_FRACTION) if rare is None else bool(rare)
    rare_seg = _place(rng, duration, rng.uniform(1.0, 3.0), taken) if is_rare else None
    taken += [rare_seg] if rare_seg else []
    idle_seg = _place(rng, duration, rng.uniform(1.0, 3.0), taken) if rng.random() < 1 / 3 else None
    taken += [idle_seg] if idle_seg else []
    kind = group = anr = speed_factor = None
    anom_seg = None
    if label == "anomaly":
        kind = anomaly_kind or str(rng.choice(ANOMALY_KINDS))
        group = ANOMALY_GROUPS[kind]
        length = rng.uniform(0.8, 2.5) if group == "sudden" else rng.uniform(1.5, 4.0)
        anom_seg = _place(rng, duration, min(length, 0.6 * duration), taken)
        if anom_seg is None:  # a short clip: anomaly takes precedence over the idle segment
            idle_seg = None
            taken = [rare_seg] if rare_seg else []
            anom_seg = _place(rng, duration, min(length, 0.6 * duration), taken) or (0.0, duration)

    # ---- speed, level and brightness envelopes
    f0 = spec.f0 * (1.0 + float(np.clip(rng.normal(0.0, 0.01), -0.025, 0.025)))
    speed = np.ones(n)
    level = np.ones(n)
    rich = np.ones(n)
    warm = np.zeros(n)
    if idle_seg:
        w = _window(n, sr, *idle_seg, ramp=0.3)
        speed += (spec.idle[0] - 1.0) * w
        level += (spec.idle[2] - 1.0) * w
        rich -= w
    if rare_seg:
        t0, t1 = rare_seg
        w = _window(n, sr, t0, t1, ramp=0.15)
        progress = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
        speed *= 1.0 - w * 0.5 * (1.0 - progress) ** 1.5
        level *= 1.0 - w * 0.4 * (1.0 - progress)
        rich += 0.8 * w
        warm = w * (0.4 + 0.6 * progress)
    if kind == "speed_change":
        speed_factor = float(rng.uniform(1.05, 1.12) if rng.random() < 0.5 else rng.uniform(0.88, 0.95))
        speed *= 1.0 + (speed_factor - 1.0) * _window(n, sr, *anom_seg, ramp=0.25)
    f_inst = f0 * speed * (1.0 + spec.jitter * _smooth_walk(rng, n, sr, 3.0))
    phase = 2 * np.pi * np.cumsum(f_inst) / sr

    # ---- the machine
    amps = np.asarray(spec.amps, dtype=float)
    kf = np.arange(1, amps.size + 1) * f0
    body = 1.0 + sum(g * _band(fc, w)(kf) for fc, w, g in spec.resonances)
    amps = amps * body * np.exp(rng.normal(0.0, 0.15, amps.size))  # per-clip timbre variation
    low, high = _harmonics(phase, f_inst, amps, spec.idle[1], sr, rng)
    hum = low + rich * high
    hum *= _LEVEL / (np.sqrt(np.mean(hum**2)) + 1e-12)
    am_rate, am_depth = spec.am
    hum *= 1.0 + am_depth * np.sin(am_rate * phase + rng.uniform(0, 2 * np.pi))
    mech_fc, mech_w, mech_level = spec.mech
    mech = _LEVEL * mech_level * _shaped_noise(rng, n, sr, _band(mech_fc, mech_w))
    mech *= 1.0 + 0.1 * _smooth_walk(rng, n, sr, 2.0)
    machine_sig = hum + mech * speed
    every, tick_fc, tick_level = spec.ticks
    if every > 0:
        rev = phase / (2 * np.pi) / every
        idx = np.flatnonzero(np.diff(np.floor(rev)) > 0) + 1
        ticks = _impulses(
            rng,
            n,
            idx / sr,
            sr,
            tick_fc * rng.uniform(0.9, 1.1, idx.size),
            0.004,
            rng.uniform(0.6, 1.4, idx.size),
        )
        machine_sig += _LEVEL * tick_level * 3.0 * ticks
    if rare_seg:
        machine_sig += _LEVEL * 0.6 * warm * _shaped_noise(rng, n, sr, _band(spec.warmup_band, 0.15))
    machine_sig *= level * 10.0 ** (rng.normal(0.0, 1.5) / 20.0)

    # ---- the factory background
    slope, bg_level = spec.background
    bg = _LEVEL * bg_level * 10.0 ** (rng.normal(0.0, 2.0) / 20.0) * _shaped_noise(rng, n, sr, _coloured(slope))
    n_clatter = rng.poisson(duration / 7.0)
    if n_clatter:
        times = rng.uniform(0.0, duration, n_clatter)
        clat = _impulses(
            rng,
            n,
            times,
            sr,
            rng.uniform(300, 1200, n_clatter),
            rng.uniform(0.01, 0.04, n_clatter),
            rng.uniform(0.5, 1.0, n_clatter),
        )
        bg += _LEVEL * 0.8 * clat
    y = machine_sig + bg

    # ---- the anomaly
    if kind is not None and kind != "speed_change":
        a0, a1 = (int(round(v * sr)) for v in anom_seg)
        src = generate_anomaly_source(kind, rng, sr, duration=(a1 - a0) / sr)[: a1 - a0]
        anr = float(rng.uniform(*anr_range)) if anr_db is None else float(anr_db)
        y, _ = mix_at_ratio(y, src, anr, position=a0)

    peak = float(np.max(np.abs(y)))
    if peak > 0.98:
        y = y * (0.98 / peak)
    steady = _complement(duration, [s for s in (rare_seg, idle_seg) if s])
    info = {
        "machine": machine,
        "label": label,
        "sr": sr,
        "duration": duration,
        "f0": round(f0, 4),
        "steady": steady,
        "idle": [idle_seg] if idle_seg else [],
        "rare": [rare_seg] if rare_seg else [],
        "anomaly": [anom_seg] if anom_seg else [],
        "anomaly_kind": kind,
        "anomaly_group": group,
        "anr_db": anr,
        "speed_factor": speed_factor,
    }
    return y.astype(np.float32), info


def _complement(duration: float, segs: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out, cur = [], 0.0
    for a, b in sorted(segs):
        if a > cur:
            out.append((round(cur, 4), a))
        cur = max(cur, b)
    if cur < duration:
        out.append((round(cur, 4), round(duration, 4)))
    return out


# ----------------------------------------------------------------------------------------------- data set


def default_data_dir() -> Path:
    """Folder for generated and downloaded data: ``$ADSKIT_DATA`` if set, else ``~/.cache/adskit``."""
    env = os.environ.get("ADSKIT_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "adskit"


def _resolve_config(preset: str, seed: int, sr: int, **overrides) -> dict[str, Any]:
    if preset not in PRESETS:
        raise ValueError(f"preset: expected one of {tuple(PRESETS)}, got {preset!r}")
    cfg = dict(PRESETS[preset])
    for k, v in overrides.items():
        if v is not None:
            cfg[k] = v
    cfg["machines"] = list(cfg["machines"])
    for m in cfg["machines"]:
        if m not in MACHINES:
            raise ValueError(f"machines: unknown machine {m!r}; expected some of {tuple(MACHINES)}")
    for k in ("n_train", "n_test_normal", "n_test_anomaly", "n_something_else", "n_anomaly_sources"):
        if isinstance(cfg[k], bool) or int(cfg[k]) != cfg[k] or cfg[k] < 0:
            raise ValueError(f"{k}: expected an int >= 0, got {cfg[k]!r}")
        cfg[k] = int(cfg[k])
    cfg["duration"] = check_positive(cfg["duration"], "duration")
    cfg.update(preset=preset, seed=int(seed), sr=int(check_positive(sr, "sr")), version=SYNTH_VERSION)
    return cfg


def _plan(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every file of the data set, with the seed words that make it (independent of the other files)."""
    seed, jobs = cfg["seed"], []
    for mi, machine in enumerate(cfg["machines"]):
        for si, (split, label, count) in enumerate(
            (
                ("train", "normal", cfg["n_train"]),
                ("test", "normal", cfg["n_test_normal"]),
                ("test", "anomaly", cfg["n_test_anomaly"]),
            )
        ):
            sub = np.random.default_rng([seed, mi, si, 10**6])
            rare = np.zeros(count, dtype=bool)
            rare[sub.choice(count, int(round(RARE_FRACTION * count)), replace=False)] = True
            kinds = [ANOMALY_KINDS[i % len(ANOMALY_KINDS)] for i in sub.permutation(count)]
            for i in range(count):
                jobs.append(
                    {
                        "path": f"{machine}/{split}/{label}_id_00_{i:08d}.wav",
                        "what": "clip",
                        "machine": machine,
                        "split": split,
                        "label": label,
                        "rare": bool(rare[i]),
                        "anomaly_kind": kinds[i] if label == "anomaly" else None,
                        "seed": [seed, mi, si, i],
                    }
                )
    for i in range(cfg["n_something_else"]):
        kind = SOMETHING_ELSE_KINDS[i % len(SOMETHING_ELSE_KINDS)]
        jobs.append(
            {
                "path": f"something_else/{kind}_{i:04d}.wav",
                "what": "something_else",
                "kind": kind,
                "seed": [seed, 10**5, 0, i],
            }
        )
    for ki, kind in enumerate(ADDITIVE_KINDS):
        for i in range(cfg["n_anomaly_sources"]):
            jobs.append(
                {
                    "path": f"anomaly_sources/{kind}_{i:04d}.wav",
                    "what": "anomaly_source",
                    "kind": kind,
                    "seed": [seed, 10**5, 1 + ki, i],
                }
            )
    return jobs


def _make_file(job: dict[str, Any], cfg: dict[str, Any], folder: Path) -> dict[str, Any]:
    rng = np.random.default_rng(job["seed"])
    sr = cfg["sr"]
    rec: dict[str, Any] = {"path": job["path"]}
    if job["what"] == "clip":
        y, info = generate_clip(
            job["machine"],
            job["label"],
            rng=rng,
            sr=sr,
            duration=cfg["duration"],
            rare=job["rare"],
            anomaly_kind=job["anomaly_kind"],
        )
        rec.update(
            machine=job["machine"],
            split=job["split"],
            label=job["label"],
            rare=job["rare"],
            processes={k: info[k] for k in ("steady", "idle", "rare", "anomaly")},
            anomaly_kind=info["anomaly_kind"],
            anomaly_group=info["anomaly_group"],
            anr_db=info["anr_db"],
            speed_factor=info["speed_factor"],
            f0=info["f0"],
        )
    elif job["what"] == "something_else":
        y = generate_something_else(job["kind"], rng, sr)
        rec.update(machine=None, split="something_else", label="something_else", kind=job["kind"])
    else:
        y = generate_anomaly_source(job["kind"], rng, sr)
        rec.update(
            machine=None,
            split="anomaly_source",
            label="anomaly",
            anomaly_kind=job["kind"],
            anomaly_group=ANOMALY_GROUPS[job["kind"]],
        )
    rec.update(duration=round(y.size / sr, 6), sr=sr)
    save_audio(folder / job["path"], y, sr)
    return rec


def _read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and m.get("generator") == __name__ else None


def make_dataset(
    root: str | os.PathLike,
    machines: tuple[str, ...] | list[str] | None = None,
    n_train: int | None = None,
    n_test_normal: int | None = None,
    n_test_anomaly: int | None = None,
    duration: float | None = None,
    n_something_else: int | None = None,
    n_anomaly_sources: int | None = None,
    seed: int = 0,
    preset: str = "fast",
    sr: int = 16000,
    progress: bool = True,
) -> Path:
    """Write the synthetic data set in the DCASE layout and return its manifest.

    Layout under ``root``::

        <machine>/train/normal_id_00_%08d.wav     normal training clips
        <machine>/test/normal_id_00_%08d.wav      normal test clips
        <machine>/test/anomaly_id_00_%08d.wav     anomalous test clips (kinds balanced)
        something_else/<kind>_%04d.wav            something-else sounds (training of SNP/BU only)
        anomaly_sources/<kind>_%04d.wav           isolated additive anomalies, to mix into user recordings
        manifest.json                             one record per file (path relative to root, machine,
                                                  split, label, processes with segments in s, rare flag,
                                                  anomaly kind, group and ANR), written last

    Parameters
    ----------
    root : str or os.PathLike
        Target folder; must not exist, be empty, or hold a manifest of this generator.
    machines, n_train, n_test_normal, n_test_anomaly, duration, n_something_else, n_anomaly_sources
        Override the preset's values (None keeps them). ``n_anomaly_sources`` is per additive kind.
        Exactly ``round(RARE_FRACTION * n)`` clips of each (machine, split, label) group hold the warm-up.
    seed : int
        Every file is made from its own ``np.random.default_rng([seed, ...])``: same seed, same bytes.
    preset : {"fast", "full"}
        ``"fast"``: 4 machines x (40 train + 12 test normal + 12 test anomaly) x 6 s, 40 something-else,
        8 sources per kind (about 26 min of audio). ``"full"``: 4 x (200 + 60 + 60) x 10 s, 300, 30.
    sr : int
        Sampling rate in Hz.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    manifest : Path
        ``root / "manifest.json"``.

    Raises
    ------
    FileExistsError
        ``root`` holds files not made by this generator, or a data set made with other settings.

    Notes
    -----
    Idempotent: a complete manifest with the same settings (seed, preset, version, counts) is returned
    at once.
    Files are generated in a temporary sibling folder and moved into place, so ``root`` never holds a
    half-written data set and no file a user put there is deleted or overwritten; files of a matching
    manifest that went missing are regenerated.
    """
    from tqdm.auto import tqdm

    cfg = _resolve_config(
        preset,
        seed,
        sr,
        machines=machines,
        n_train=n_train,
        n_test_normal=n_test_normal,
        n_test_anomaly=n_test_anomaly,
        duration=duration,
        n_something_else=n_something_else,
        n_anomaly_sources=n_anomaly_sources,
    )
    root = Path(root).expanduser()
    manifest_path = root / "manifest.json"
    existing = _read_manifest(manifest_path) if manifest_path.exists() else None
    if existing is not None:
        if existing.get("config") != json.loads(json.dumps(cfg)):
            raise FileExistsError(
                f"root: {root} holds a synthetic data set made with other settings "
                f"({existing.get('config')}); choose another folder or remove it yourself"
            )
        missing = [r["path"] for r in existing["files"] if not (root / r["path"]).is_file()]
        if existing.get("complete") and not missing:
            return manifest_path
    elif root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(
            f"root: {root} exists and holds files not made by adskit's synthetic generator "
            "(no matching manifest.json); refusing to write there, choose an empty or new folder"
        )

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        jobs = _plan(cfg)
        records = [_make_file(job, cfg, tmp) for job in tqdm(jobs, desc="synthetic data", disable=not progress)]
        manifest = {
            "generator": __name__,
            "version": SYNTH_VERSION,
            "seed": cfg["seed"],
            "preset": preset,
            "config": cfg,
            "complete": True,
            "n_files": len(records),
            "anomaly_groups": ANOMALY_GROUPS,
            "rare_fraction": RARE_FRACTION,
            "files": records,
        }
        atomic_write_json(tmp / "manifest.json", manifest)
        if existing is None:
            if root.exists():
                root.rmdir()  # empty (checked above); fails, and keeps anything, if a file appeared since
            os.replace(tmp, root)
        else:  # our own data set with files missing: put back only those
            for r in records:
                dest = root / r["path"]
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp / r["path"], dest)
            os.replace(tmp / "manifest.json", manifest_path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        done = _read_manifest(manifest_path) if manifest_path.exists() else None
        same = done is not None and done.get("config") == json.loads(json.dumps(cfg)) and done.get("complete")
        if isinstance(exc, OSError) and same:
            return manifest_path  # another process finished the same data set first
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return manifest_path


def ensure_synthetic(preset: str = "fast", seed: int = 0, progress: bool = True) -> Path:
    """The synthetic data set in ``default_data_dir() / f"synthetic-{preset}-s{seed}"``, made on first use.

    Parameters
    ----------
    preset : {"fast", "full"}
    seed : int
    progress : bool

    Returns
    -------
    root : Path
        Folder holding ``manifest.json`` and the DCASE layout (see :func:`make_dataset`).
    """
    root = default_data_dir() / f"synthetic-{preset}-s{int(seed)}"
    make_dataset(root, seed=seed, preset=preset, progress=progress)
    return root
