"""One standardiser: per-dimension mean and scale, with one floor rule for (near-)constant dimensions.

Every place that standardises (the detectors, the KDE, the feature samplers and the dataset statistics) takes
its statistics from here, so the floor rule is written once: a dimension whose standard deviation is at most
``RELATIVE_FLOOR`` times the largest one (or exactly 0) gets scale 1, i.e. it is only centred. This is
``sklearn.preprocessing.StandardScaler``'s rule (it sets zero scales to 1) made relative, so that a dimension
that is constant up to float rounding is not blown up.

Functions accept NumPy arrays or torch tensors and return the same kind.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

RELATIVE_FLOOR = 1e-8  # a scale at or below this fraction of the largest one is treated as constant


def safe_scale(scale: Any) -> Any:
    """Replace (near-)zero standard deviations by 1.

    Parameters
    ----------
    scale : np.ndarray or torch.Tensor, shape (D,)
        Per-dimension standard deviations (non-negative).

    Returns
    -------
    np.ndarray or torch.Tensor, shape (D,)
        ``scale`` where it exceeds ``RELATIVE_FLOOR * max(scale)`` (and 0), else 1; same kind and dtype.
    """
    if isinstance(scale, torch.Tensor):
        floor = RELATIVE_FLOOR * float(scale.max().clamp(min=1e-30)) if scale.numel() else 0.0
        return torch.where(scale > floor, scale, torch.ones_like(scale))
    scale = np.asarray(scale)
    floor = RELATIVE_FLOOR * max(float(scale.max()), 1e-30) if scale.size else 0.0
    return np.where(scale > floor, scale, np.ones_like(scale))


def fit_scale(X: Any, *, ddof: int = 0) -> tuple[Any, Any]:
    """Per-dimension mean and (floored) standard deviation of ``X``, computed in float64.

    Parameters
    ----------
    X : np.ndarray or torch.Tensor, shape (N, D)
        Training data.
    ddof : int
        Delta degrees of freedom of the standard deviation (0: population, as scikit-learn's ``StandardScaler``).

    Returns
    -------
    mean, scale : np.ndarray or torch.Tensor, shape (D,), float64
        Same kind as ``X``; ``scale`` passed through :func:`safe_scale`.

    Raises
    ------
    ValueError
        If ``X`` is not 2-D or has fewer than ``ddof + 1`` rows.
    """
    if X.ndim != 2 or X.shape[0] < ddof + 1:
        raise ValueError(f"X: expected a 2-D array with at least {ddof + 1} row(s), got shape {tuple(X.shape)}")
    if isinstance(X, torch.Tensor):
        Xd = X.double()
        return Xd.mean(0), safe_scale(Xd.std(0, correction=ddof))
    X = np.asarray(X)
    return X.mean(0, dtype=np.float64), safe_scale(X.std(0, dtype=np.float64, ddof=ddof))


def parse_scaler(obj: Any, d: int, name: str = "scaler") -> tuple[np.ndarray, np.ndarray]:
    """Read training-set statistics given as ``(mean, std)`` or as a fitted object with ``mean_`` and ``scale_``.

    Parameters
    ----------
    obj : tuple of array-like, or an object with ``mean_`` and ``scale_`` (e.g. ``StandardScaler``)
        The statistics; each of shape (D,).
    d : int
        The number of dimensions D the data have.
    name : str
        The argument's name, for error messages.

    Returns
    -------
    mean, scale : np.ndarray, shape (D,), float64
        ``scale`` passed through :func:`safe_scale`.

    Raises
    ------
    ValueError
        If ``obj`` is neither form, or mean/std do not have ``d`` entries.
    """
    if hasattr(obj, "mean_") and hasattr(obj, "scale_"):
        mean, std = obj.mean_, obj.scale_
    else:
        try:
            mean, std = obj
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: expected (mean, std) or an object with mean_ and scale_") from exc
    mean = np.asarray(mean, dtype=np.float64).reshape(-1)
    std = np.asarray(std, dtype=np.float64).reshape(-1)
    if mean.shape[0] != d or std.shape[0] != d:
        raise ValueError(f"{name}: mean/std have {mean.shape[0]}/{std.shape[0]} entries, the data have {d}")
    return mean, safe_scale(std)
