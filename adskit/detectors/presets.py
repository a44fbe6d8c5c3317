"""Named autoencoder set-ups: architecture, training schedule (with :func:`lr_schedule`) and feature front end.

The feature configurations are plain dicts: exactly what :meth:`adskit.audio.FeatureConfig.to_dict` gives for
the same preset (a test holds the two equal), so that the estimators never import the audio front end. To an
estimator a feature configuration is opaque metadata, stored in ``feature_config_`` and in checkpoints.

* ``"fcn40-large"``, ``"fcn40-small"``, ``"fcn64-large"``, ``"fcn64-small"``: the BU paper's four AEs (WASPAA
  2019 §4.2.2) on the ``"paper"`` features with 40 or 64 mels and 11 context frames (440 or 704 dims). The
  sizes were lost from the paper; ours: large = encoder d-512-512-512-64 (L=2 hidden layers, H=512, Z=64),
  small = d-128-128-16 (L=1, H=128, Z=16), decoders mirrored, ReLU. Schedule: AMSGrad 1e-3, 200 epochs x 500
  mini-batches, constant for 100 epochs then linear down to 1/100.
* ``"dcase2020"``: the DCASE 2020 Task 2 baseline, 640-128x4-8-128x4-640 with BatchNorm, Adam 1e-3, 100 epochs,
  batch 512, on the ``"dcase2020"`` features. Unlike the baseline, inputs are standardised and A sums (not
  averages) the squared errors over dimensions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

__all__ = ["AE_PRESETS", "FEATURE_PRESETS", "feature_config_dict", "lr_schedule"]

# The DCASE 2020 Task 2 front end: 16 kHz, n_fft 1024, hop 512, 128 mels, power 2, 10 log10, 5 frames (640 dims).
_DCASE2020_FEATURES: dict[str, Any] = {
    "sr": 16000,
    "n_fft": 1024,
    "hop_length": 512,
    "win_length": 1024,
    "window": "hann",
    "center": True,
    "pad_mode": "reflect",
    "n_mels": 128,
    "fmin": 0.0,
    "fmax": None,
    "power": 2.0,
    "log": "10log10",
    "log_floor": 2.220446049250313e-16,  # float(np.finfo(np.float64).eps)
    "frames": 5,
}
# The papers' front end (BU paper: STFT 512 / 256, ln of mel magnitudes; NP paper: 64 mels, 21 frames).
_PAPER_STFT: dict[str, Any] = {
    "n_fft": 512,
    "hop_length": 256,
    "win_length": 512,
    "n_mels": 64,
    "power": 1.0,
    "log": "ln",
    "log_floor": 1e-8,
}

#: the feature presets of :meth:`adskit.audio.FeatureConfig.preset`, as the dicts ``to_dict()`` gives
FEATURE_PRESETS: dict[str, dict[str, Any]] = {
    "dcase2020": _DCASE2020_FEATURES,
    "paper": {**_DCASE2020_FEATURES, **_PAPER_STFT, "frames": 11},
    "np2017": {**_DCASE2020_FEATURES, **_PAPER_STFT, "frames": 21},
}


def feature_config_dict(fc: Any) -> dict | None:
    """A feature configuration as a plain dict (what checkpoints store).

    Parameters
    ----------
    fc : None, dict, str or dataclass instance
        None or a dict (returned as is), a name in :data:`FEATURE_PRESETS`, or a configuration object such as
        :class:`adskit.audio.FeatureConfig` (converted with :func:`dataclasses.asdict`).

    Returns
    -------
    dict or None

    Raises
    ------
    ValueError
        If ``fc`` is an unknown name or of another type.
    """
    if fc is None or isinstance(fc, dict):
        return fc
    if isinstance(fc, str):
        if fc not in FEATURE_PRESETS:
            raise ValueError(f"feature_config: expected one of {sorted(FEATURE_PRESETS)}, got {fc!r}")
        return dict(FEATURE_PRESETS[fc])
    if dataclasses.is_dataclass(fc) and not isinstance(fc, type):
        return dataclasses.asdict(fc)
    raise ValueError(f"feature_config: expected None, a dict, a preset name or a FeatureConfig, got {fc!r}")


def lr_schedule(step: int, n_steps: int, decay_start: float = 0.5, final_factor: float = 0.01) -> float:
    """Learning-rate factor: 1 until ``decay_start * n_steps``, then linear down to ``final_factor``.

    The BU paper: constant for 100 epochs, then linearly to 1/100 over epochs 100-200 (decay_start=0.5,
    final_factor=0.01). ``final_factor=1`` keeps the rate constant.
    """
    start = decay_start * n_steps
    if step < start or n_steps <= start:
        return 1.0
    frac = min((step - start) / max(n_steps - start, 1), 1.0)
    return 1.0 + frac * (final_factor - 1.0)


def _paper_features(n_mels: int) -> dict:
    return {**FEATURE_PRESETS["paper"], "n_mels": n_mels}


def _paper_schedule() -> dict:
    # CONFIRMED (paper §4.2.2): AMSGrad, 200 epochs of 500 mini-batches, constant for 100 epochs then linearly
    # down to 1/100. The initial rate was lost: 1e-3 is our choice.
    return {
        "optimizer": "amsgrad",
        "lr": 1e-3,
        "n_epochs": 200,
        "batches_per_epoch": 500,
        "decay_start": 0.5,
        "final_factor": 0.01,
        "activation": "relu",
    }


def _fcn(n_mels: int, size: str) -> dict:
    # The paper: encoder = 1 input layer + L hidden layers of H units + 1 output layer to Z (decoder mirrored).
    # L, H and Z were lost. Our choice (spec §1.5): large L=2, H=512, Z=64; small L=1, H=128, Z=16.
    L, H, Z = (2, 512, 64) if size == "large" else (1, 128, 16)
    return {"hidden": (H,) * (L + 1), "latent_dim": Z, "feature_config": _paper_features(n_mels), **_paper_schedule()}


def _dcase2020() -> dict:
    # The DCASE 2020 Task 2 baseline: 640-128x4-8-128x4-640, BatchNorm + ReLU, Adam 1e-3 (no decay),
    # 100 epochs, batch 512, on 5 x 128 log-mel frames.
    return {
        "hidden": (128, 128, 128, 128),
        "latent_dim": 8,
        "batchnorm": True,
        "activation": "relu",
        "optimizer": "adam",
        "lr": 1e-3,
        "n_epochs": 100,
        "batches_per_epoch": None,
        "batch_size": 512,
        "final_factor": 1.0,
        "feature_config": dict(FEATURE_PRESETS["dcase2020"]),
    }


#: names accepted by :meth:`adskit.detectors.AEDetector.preset` -> builder of constructor arguments
AE_PRESETS: dict[str, Callable[[], dict]] = {
    "fcn40-large": lambda: _fcn(40, "large"),
    "fcn40-small": lambda: _fcn(40, "small"),
    "fcn64-large": lambda: _fcn(64, "large"),
    "fcn64-small": lambda: _fcn(64, "small"),
    "dcase2020": _dcase2020,
}
