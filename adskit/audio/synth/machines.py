"""The machines of the synthetic data and :func:`generate_clip`, one recording of one machine (16 kHz mono).

Every clip is a sum of

* the machine: a harmonic comb on a rotation speed ``f(t)`` with slow jitter, shaped by the machine's body
  resonances, plus its own mechanical noise (airflow, fluid, mesh, belt) and, for some machines, periodic
  ticks;
* the factory background: coloured noise with a per-clip level, plus occasional distant clatter (short
  low-passed impacts, about one every 7 s), which is normal;
* for an anomalous clip, one anomaly (:mod:`adskit.audio.synth.sounds`).

Working processes of a clip (segments in seconds, recorded in ``info``):

* ``"steady"``: the frequent process, full speed with jitter of the rotation speed;
* ``"idle"``: lower speed and level, only the first few harmonics (in about a third of the clips, 1-3 s);
* ``"rare"``: the rare-normal process, a warm-up: the speed rises from half to full over 1-3 s with a
  distinct whirring band and brighter harmonics. It is NORMAL: it occurs in about 12.5 % of normal clips,
  train and test alike (:data:`RARE_FRACTION`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from adskit._utils import check_positive
from adskit.audio.mixing import mix_at_ratio
from adskit.audio.synth._dsp import (
    as_rng,
    band,
    coloured,
    complement,
    harmonics,
    impulses,
    place,
    shaped_noise,
    smooth_walk,
    window,
)
from adskit.audio.synth.sounds import ANOMALY_GROUPS, ANOMALY_KINDS, DEFAULT_ANR_DB, generate_anomaly_source

__all__ = ["MACHINES", "RARE_FRACTION", "MachineSpec", "generate_clip"]

RARE_FRACTION = 0.125


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


RARE_SERIES_RATIO = 1.47  # the rare process's own series: partials at k x 1.47 x f0, between the machine's


def _rare_series(phase: np.ndarray, f_inst: np.ndarray, sr: int, n_partials: int = 12) -> np.ndarray:
    """The rare process's own harmonic series (1/k amplitudes, below Nyquist), at the machine's level."""
    out = np.zeros_like(phase)
    for k in range(1, n_partials + 1):
        f = k * RARE_SERIES_RATIO * f_inst
        out += np.where(f < 0.45 * sr, np.sin(k * RARE_SERIES_RATIO * phase) / k, 0.0)
    return _LEVEL * out / (np.sqrt(np.mean(out**2)) + 1e-12)


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
    rare_seconds: float | None = None,
    distinctness: float = 0.0,
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
    rare_seconds : float or None
        Length of the rare-normal segment, when there is one (None: drawn in U(1, 3) s; the draw is made either
        way, so the rest of the clip does not change with it). Must be shorter than ``duration``.
    distinctness : float >= 0
        How far the rare process's spectrum is from the frequent one. 0 (default): the warm-up only (a speed
        ramp of the steady sound with a whirring band). Above 0 the rare process also has its own harmonic series,
        partials at k x 1.47 x the rotation frequency (between the machine's own), at ``distinctness`` x the
        machine's level; 1 makes it as loud as the machine's harmonic part. No random draw depends on it.

    Returns
    -------
    y : np.ndarray [shape=(round(duration * sr),)], float32
        Waveform, peak below 1.
    info : dict
        ``{"machine", "label", "sr", "duration", "f0", "steady": [(t0, t1)], "idle": [...], "rare": [...],
        "anomaly": [...], "anomaly_kind", "anomaly_group", "anr_db", "speed_factor"}``; segments in seconds.

    Raises
    ------
    ValueError
        Unknown ``machine`` or ``label``, an ``anomaly_kind`` with a normal label or not in
        :data:`~adskit.audio.synth.ANOMALY_KINDS`, or a ``sr`` / ``duration`` that is not > 0.

    Examples
    --------
    >>> y, info = generate_clip("pump", "anomaly", rng=0, duration=2.0, anomaly_kind="whine")
    >>> y.shape, info["anomaly_kind"], info["anomaly_group"]
    ((32000,), 'whine', 'sustained')
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
    distinctness = check_positive(distinctness, "distinctness", strict=False)
    if rare_seconds is not None and not 0 < rare_seconds < duration:
        raise ValueError(f"rare_seconds: expected a length in (0, duration={duration}) s, got {rare_seconds!r}")
    spec = MACHINES[machine]
    rng = as_rng(rng)
    n = int(round(duration * sr))
    t = np.arange(n) / sr

    # ---- timeline: rare warm-up, idle, anomaly (non-overlapping)
    taken: list[tuple[float, float]] = []
    is_rare = bool(rng.random() < RARE_FRACTION) if rare is None else bool(rare)
    rare_len = rng.uniform(1.0, 3.0) if is_rare else None
    rare_seg = place(rng, duration, rare_len if rare_seconds is None else rare_seconds, taken) if is_rare else None
    taken += [rare_seg] if rare_seg else []
    idle_seg = place(rng, duration, rng.uniform(1.0, 3.0), taken) if rng.random() < 1 / 3 else None
    taken += [idle_seg] if idle_seg else []
    kind = group = anr = speed_factor = None
    anom_seg = None
    if label == "anomaly":
        kind = anomaly_kind or str(rng.choice(ANOMALY_KINDS))
        group = ANOMALY_GROUPS[kind]
        length = rng.uniform(0.8, 2.5) if group == "sudden" else rng.uniform(1.5, 4.0)
        anom_seg = place(rng, duration, min(length, 0.6 * duration), taken)
        if anom_seg is None:  # a short clip: anomaly takes precedence over the idle segment
            idle_seg = None
            taken = [rare_seg] if rare_seg else []
            anom_seg = place(rng, duration, min(length, 0.6 * duration), taken) or (0.0, duration)

    # ---- speed, level and brightness envelopes
    f0 = spec.f0 * (1.0 + float(np.clip(rng.normal(0.0, 0.01), -0.025, 0.025)))
    speed = np.ones(n)
    level = np.ones(n)
    rich = np.ones(n)
    warm = np.zeros(n)
    if idle_seg:
        w = window(n, sr, *idle_seg, ramp=0.3)
        speed += (spec.idle[0] - 1.0) * w
        level += (spec.idle[2] - 1.0) * w
        rich -= w
    if rare_seg:
        t0, t1 = rare_seg
        w = window(n, sr, t0, t1, ramp=0.15)
        progress = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
        speed *= 1.0 - w * 0.5 * (1.0 - progress) ** 1.5
        level *= 1.0 - w * 0.4 * (1.0 - progress)
        rich += 0.8 * w
        warm = w * (0.4 + 0.6 * progress)
    if kind == "speed_change":
        speed_factor = float(rng.uniform(1.05, 1.12) if rng.random() < 0.5 else rng.uniform(0.88, 0.95))
        speed *= 1.0 + (speed_factor - 1.0) * window(n, sr, *anom_seg, ramp=0.25)
    f_inst = f0 * speed * (1.0 + spec.jitter * smooth_walk(rng, n, sr, 3.0))
    phase = 2 * np.pi * np.cumsum(f_inst) / sr

    # ---- the machine
    amps = np.asarray(spec.amps, dtype=float)
    kf = np.arange(1, amps.size + 1) * f0
    body = 1.0 + sum(g * band(fc, w)(kf) for fc, w, g in spec.resonances)
    amps = amps * body * np.exp(rng.normal(0.0, 0.15, amps.size))  # per-clip timbre variation
    low, high = harmonics(phase, f_inst, amps, spec.idle[1], sr, rng)
    hum = low + rich * high
    hum *= _LEVEL / (np.sqrt(np.mean(hum**2)) + 1e-12)
    am_rate, am_depth = spec.am
    hum *= 1.0 + am_depth * np.sin(am_rate * phase + rng.uniform(0, 2 * np.pi))
    mech_fc, mech_w, mech_level = spec.mech
    mech = _LEVEL * mech_level * shaped_noise(rng, n, sr, band(mech_fc, mech_w))
    mech *= 1.0 + 0.1 * smooth_walk(rng, n, sr, 2.0)
    machine_sig = hum + mech * speed
    every, tick_fc, tick_level = spec.ticks
    if every > 0:
        rev = phase / (2 * np.pi) / every
        idx = np.flatnonzero(np.diff(np.floor(rev)) > 0) + 1
        ticks = impulses(
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
        machine_sig += _LEVEL * 0.6 * warm * shaped_noise(rng, n, sr, band(spec.warmup_band, 0.15))
        if distinctness > 0:
            machine_sig += distinctness * window(n, sr, *rare_seg, ramp=0.15) * _rare_series(phase, f_inst, sr)
    machine_sig *= level * 10.0 ** (rng.normal(0.0, 1.5) / 20.0)

    # ---- the factory background
    slope, bg_level = spec.background
    bg = _LEVEL * bg_level * 10.0 ** (rng.normal(0.0, 2.0) / 20.0) * shaped_noise(rng, n, sr, coloured(slope))
    n_clatter = rng.poisson(duration / 7.0)
    if n_clatter:
        times = rng.uniform(0.0, duration, n_clatter)
        clat = impulses(
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
    steady = complement(duration, [s for s in (rare_seg, idle_seg) if s])
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
