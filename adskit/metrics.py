"""Detection metrics (scikit-learn underneath) and divergences between densities on a grid.

Labels: ``y_true`` is 1 for anomalous, 0 for normal. Scores: higher = more anomalous.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

__all__ = [
    "ThresholdSweep",
    "auc",
    "best_threshold",
    "grid_points",
    "kl_divergence",
    "normalize_density",
    "boltzmann_density",
    "pauc",
    "precision_recall_f1",
    "roc",
    "threshold_sweep",
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
    """Area under the ROC curve (``sklearn.metrics.roc_auc_score``); 0.5 = chance, 1 = perfect."""
    y, s = _check_labels_scores(y_true, scores)
    return float(skm.roc_auc_score(y, s))


def pauc(y_true, scores, max_fpr: float = 0.1) -> float:
    """Partial AUC up to ``max_fpr``, McClish-standardised (``roc_auc_score(max_fpr=...)``).

    This is the value the DCASE 2020-2023 baselines report as "pAUC": 0.5 = chance, 1 = perfect.
    """
    if not 0.0 < float(max_fpr) <= 1.0:
        raise ValueError(f"max_fpr: expected a rate in (0, 1], got {max_fpr!r}")
    y, s = _check_labels_scores(y_true, scores)
    return float(skm.roc_auc_score(y, s, max_fpr=float(max_fpr)))


def roc(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve: ``(fpr, tpr, thresholds)`` from ``sklearn.metrics.roc_curve`` (rule: score >= threshold)."""
    y, s = _check_labels_scores(y_true, scores)
    return skm.roc_curve(y, s)


def precision_recall_f1(y_true, y_pred) -> dict[str, float]:
    """Precision, recall (TPR), F1 and false-positive rate of binary decisions (1 = anomalous)."""
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


@dataclass(frozen=True)
class ThresholdSweep:
    """Every distinct threshold t (rule: anomalous if score >= t) with the rates it gives."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    fpr: np.ndarray

    @property
    def mean_prf(self) -> np.ndarray:
        return (self.precision + self.recall + self.f1) / 3.0


def threshold_sweep(y_true, scores) -> ThresholdSweep:
    """Precision, recall, F1 and FPR at every distinct score used as threshold, in one sorted pass."""
    y, s = _check_labels_scores(y_true, scores)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(1 - y_sorted)
    last = np.r_[np.nonzero(np.diff(s_sorted))[0], s_sorted.size - 1]  # last index of each distinct score
    tp, fp, thr = tp[last].astype(float), fp[last].astype(float), s_sorted[last]
    n_pos, n_neg = float(y.sum()), float(y.size - y.sum())
    prec = tp / (tp + fp)
    rec = tp / n_pos
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(prec + rec > 0, 2 * prec * rec / (prec + rec), 0.0)
    return ThresholdSweep(thr, prec, rec, f1, fp / n_neg)


def best_threshold(y_true, scores, criterion: str = "f1") -> tuple[float, float]:
    """The threshold (rule: score >= t) that maximises ``criterion`` on labelled scores, and its value.

    ``criterion``: ``"f1"``, ``"mean_prf"`` (mean of precision, recall and F1: the EUSIPCO 2017 reporting
    rule) or ``"youden"`` (TPR - FPR). Ties go to the highest threshold (fewest alarms). This is an oracle
    (test-set-optimal) threshold: good for reporting a method's best case, not for deployment.
    """
    sw = threshold_sweep(y_true, scores)
    values = {"f1": sw.f1, "mean_prf": sw.mean_prf, "youden": sw.recall - sw.fpr}
    if criterion not in values:
        raise ValueError(f"criterion: expected one of {sorted(values)}, got {criterion!r}")
    v = values[criterion]
    i = int(np.argmax(v))  # first = highest threshold among ties
    return float(sw.thresholds[i]), float(v[i])


# ---- densities on a grid (the 2-D verification experiment) ----


def grid_points(lim: float = 3.0, step: float = 0.01) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cell centres of a square grid on [-lim, lim]^2.

    Returns ``(xs, ys, pts)``: the 1-D centre coordinates (n,) along each axis and all centres as an
    (n*n, 2) array in row-major order (y varies slowest), so ``values.reshape(n, n)`` is an image with
    rows = y.
    """
    if not lim > 0 or not step > 0 or step >= 2 * lim:
        raise ValueError(f"lim/step: expected lim > 0 and 0 < step < 2 lim, got lim={lim!r}, step={step!r}")
    n = int(round(2 * lim / step))
    c = -lim + step * (np.arange(n) + 0.5)
    xx, yy = np.meshgrid(c, c)
    return c, c, np.column_stack([xx.ravel(), yy.ravel()])


def normalize_density(values) -> np.ndarray:
    """Non-negative values on a grid scaled to sum to 1 (a discrete density)."""
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v).all() or (v < 0).any():
        raise ValueError("values: expected finite, non-negative numbers")
    total = v.sum()
    if total <= 0:
        raise ValueError("values: all zero; cannot normalise")
    return v / total


def boltzmann_density(anomaly_scores) -> np.ndarray:
    """q_g = exp(-A_g) / sum_g' exp(-A_g') on a grid (BU paper eq 6, discretised), computed stably."""
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
    """
    p = normalize_density(p)
    q = normalize_density(q)
    if p.shape != q.shape:
        raise ValueError(f"q: shape {q.shape} does not match p {p.shape}")
    m = p > 0
    if (q[m] <= 0).any():
        return float("inf")
    return float(np.sum(p[m] * (np.log(p[m]) - np.log(q[m]))))
