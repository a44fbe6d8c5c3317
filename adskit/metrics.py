"""Detection metrics (scikit-learn underneath) and divergences between densities on a grid.

Labels: ``y_true`` is 1 for anomalous, 0 for normal. Scores: higher = more anomalous.

The oracle threshold that maximises precision / recall / F1 on labelled scores is
:class:`adskit.threshold.MaxMeanPRFThreshold` (rule ``score > threshold``).
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm

__all__ = [
    "auc",
    "grid_points",
    "kl_divergence",
    "normalize_density",
    "boltzmann_density",
    "pauc",
    "precision_recall_f1",
    "roc",
]


def _check_labels_scores(y_true, scores, need_both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1:
        raise ValueError(f"y_true/scores: expected 1-D arrays, got shapes {y.shape} and {s.shape}")
    if y.shape != s.shape:
        raise ValueError(f"scores: {s.shape[0]} scores for {y.shape[0]} labels")
    if not np.isfinite(s).all():
        raise ValueError("scores: contains NaN or Inf")
    if not np.isin(y, [0, 1, False, True]).all():
        raise ValueError("y_true: expected labels 0 (normal) and 1 (anomalous)")
    y = y.astype(int)
    if need_both and (y.min() == y.max()):
        raise ValueError("y_true: needs both normal (0) and anomalous (1) samples")
    return y, s


def auc(y_true, scores) -> float:
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``); 0.5 = chance, 1 = perfect.

    Parameters
    ----------
    y_true : array-like [shape=(n,)]
        1 = anomalous, 0 = normal; both classes present.
    scores : array-like [shape=(n,)]
        Finite anomaly scores, higher = more anomalous.

    Returns
    -------
    float
        In [0, 1]: the probability that a random anomalous sample scores above a random normal one.

    Raises
    ------
    ValueError
        If the arrays are not 1-D of equal length, a score is NaN or Inf, a label is not 0/1, or only one
        class is present.
    """
    y, s = _check_labels_scores(y_true, scores)
    return float(skm.roc_auc_score(y, s))


def pauc(y_true, scores, max_fpr: float = 0.1) -> float:
    """Partial AUC up to ``max_fpr``, McClish-standardised (``roc_auc_score(max_fpr=...)``).

    This is the value the DCASE 2020-2023 baselines report as "pAUC": 0.5 = chance, 1 = perfect.

    Parameters
    ----------
    y_true, scores : array-like [shape=(n,)]
        As :func:`auc`.
    max_fpr : float
        Upper end of the false-positive range, in (0, 1].

    Returns
    -------
    float
        McClish-standardised partial area, 0.5 = chance, 1 = perfect.

    Raises
    ------
    ValueError
        If ``max_fpr`` is outside (0, 1], or as :func:`auc`.
    """
    if not 0.0 < float(max_fpr) <= 1.0:
        raise ValueError(f"max_fpr: expected a rate in (0, 1], got {max_fpr!r}")
    y, s = _check_labels_scores(y_true, scores)
    return float(skm.roc_auc_score(y, s, max_fpr=float(max_fpr)))


def roc(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve from ``sklearn.metrics.roc_curve`` (rule: anomalous if score >= threshold).

    Parameters
    ----------
    y_true, scores : array-like [shape=(n,)]
        As :func:`auc`.

    Returns
    -------
    fpr, tpr, thresholds : np.ndarray [shape=(m,)]
        Rates at each threshold, thresholds decreasing.

    Raises
    ------
    ValueError
        As :func:`auc`.
    """
    y, s = _check_labels_scores(y_true, scores)
    return skm.roc_curve(y, s)


def precision_recall_f1(y_true, y_pred) -> dict[str, float]:
    """Precision, recall (TPR), F1 and false-positive rate of binary decisions (1 = anomalous).

    Parameters
    ----------
    y_true : array-like [shape=(n,)]
        1 = anomalous, 0 = normal (one class alone is allowed).
    y_pred : array-like [shape=(n,)]
        Decisions, 1 = anomalous, 0 = normal.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``fpr`` (0 when undefined, as scikit-learn's ``zero_division=0``)
        and the counts ``tp``, ``fp``, ``fn``, ``tn``.

    Raises
    ------
    ValueError
        If the arrays are not 1-D of equal length or hold values other than 0/1.
    """
    y, p = _check_labels_scores(y_true, np.asarray(y_pred, dtype=float), need_both=False)
    pred = p.astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    tn = int(((pred == 0) & (y == 0)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    fpr = fp / (fp + tn) if fp + tn else 0.0
    return {"precision": prec, "recall": rec, "f1": f1, "fpr": fpr, "tp": tp, "fp": fp, "fn": fn, "tn": tn}


# ---- densities on a grid (the 2-D verification experiment) ----


def grid_points(lim: float = 3.0, step: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell centres of a square grid on [-lim, lim]^2.

    Returns ``(xs, ys, pts)``: the 1-D centre coordinates (n,) along each axis and all centres as an
    (n*n, 2) array in row-major order (y varies slowest), so ``values.reshape(n, n)`` is an image with
    rows = y.

    Raises
    ------
    ValueError
        If ``lim`` or ``step`` is not positive, or ``step >= 2 lim``.
    """
    if not lim > 0 or not step > 0 or step >= 2 * lim:
        raise ValueError(f"lim/step: expected lim > 0 and 0 < step < 2 lim, got lim={lim!r}, step={step!r}")
    n = int(round(2 * lim / step))
    c = -lim + step * (np.arange(n) + 0.5)
    xx, yy = np.meshgrid(c, c)
    return c, c, np.column_stack([xx.ravel(), yy.ravel()])


def normalize_density(values) -> np.ndarray:
    """Non-negative values on a grid scaled to sum to 1 (a discrete density), same shape.

    Raises
    ------
    ValueError
        If a value is negative, NaN or Inf, or all are zero.
    """
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v).all() or (v < 0).any():
        raise ValueError("values: expected finite, non-negative numbers")
    total = v.sum()
    if total <= 0:
        raise ValueError("values: all zero; cannot normalise")
    return v / total


def boltzmann_density(anomaly_scores) -> np.ndarray:
    """q_g = exp(-A_g) / sum_g' exp(-A_g') on a grid (BU paper eq 6, discretised), computed stably.

    Raises
    ------
    ValueError
        If an anomaly score is NaN or Inf.
    """
    a = np.asarray(anomaly_scores, dtype=np.float64)
    if not np.isfinite(a).all():
        raise ValueError("anomaly_scores: contains NaN or Inf")
    z = -(a - a.min())
    q = np.exp(z)
    return q / q.sum()


def kl_divergence(p, q) -> float:
    """KL[p || q] = sum_{g: p_g > 0} p_g ln(p_g / q_g) between discrete densities on the same grid.

    ``p`` may be zero outside its support (the normal region); ``q`` must be positive wherever p is
    (otherwise the divergence is infinite and ``inf`` is returned). Both are renormalised to sum to 1.

    Raises
    ------
    ValueError
        If p or q is not a valid density (see :func:`normalize_density`), or their shapes differ.
    """
    p = normalize_density(p)
    q = normalize_density(q)
    if p.shape != q.shape:
        raise ValueError(f"q: shape {q.shape} does not match p {p.shape}")
    m = p > 0
    if (q[m] <= 0).any():
        return float("inf")
    return float(np.sum(p[m] * (np.log(p[m]) - np.log(q[m]))))
