"""Decision thresholds fitted on cached anomaly scores, and frame / clip decision rules.

Every score here is an anomaly score A(x) or L(f): **higher = more anomalous**. Every rule is
``anomalous = score > threshold_`` (EUSIPCO 2017 eq 5; WASPAA 2019 eq 4), so ``predict`` returns True for
anomalous. Thresholds are small objects fitted on stored score arrays: moving a slider re-thresholds the
cached scores, nothing retrains.

* :class:`NeymanPearsonThreshold` - phi_rho, the floor(rho K)-th largest normal training score (EUSIPCO 2017,
  after eq 14); its training false-positive rate is at most rho, and :meth:`NeymanPearsonThreshold.check`
  tests the promise on held-out normal scores.
* :class:`GammaThreshold` - the DCASE 2021-2023 baseline rule (gamma fit, ppf at a percentile);
  no rate promised.
* :class:`MaxMeanPRFThreshold` - the threshold maximising mean(precision, recall, F1) on labelled scores, the
  EUSIPCO 2017 Table I reporting rule: an oracle chosen on the test set, for reporting only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from .detectors.base import np_threshold

__all__ = [
    "GammaThreshold",
    "MaxMeanPRFThreshold",
    "NeymanPearsonThreshold",
    "clip_decisions",
    "clip_scores",
    "frame_decisions",
]


def _scores(scores: Any, name: str = "scores") -> np.ndarray:
    """1-D finite float64 array of at least one score; ValueError naming ``name`` otherwise."""
    try:
        s = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected an array of numbers") from exc
    if s.ndim == 0:
        s = s.reshape(1)
    if s.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array of scores, got shape {s.shape}")
    if s.size == 0:
        raise ValueError(f"{name}: is empty")
    if not np.isfinite(s).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    return s


def _labels(y: Any, n: int) -> np.ndarray:
    """Binary labels (1 = anomalous) of length n as a bool array."""
    a = np.asarray(y)
    if a.shape != (n,):
        raise ValueError(f"y: expected shape ({n},) to match scores, got {a.shape}")
    if not np.isin(a, (0, 1)).all():
        raise ValueError("y: expected labels 0 (normal) and 1 (anomalous)")
    return a.astype(bool)


def _threshold_value(threshold: Any) -> float:
    """A number, or a fitted threshold object's ``threshold_``."""
    value = getattr(threshold, "threshold_", threshold)
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"threshold: expected a number or a fitted threshold, got {threshold!r}") from exc
    if np.isnan(v):
        raise ValueError("threshold: is NaN")
    return v


class _Threshold:
    """Shared ``predict`` / ``__repr__`` of the threshold objects."""

    _params: tuple[str, ...] = ()

    def predict(self, scores: Any) -> np.ndarray:
        """True where ``score > threshold_`` (anomalous), shape (n,).

        Parameters
        ----------
        scores : array-like [shape=(n,)]
            Anomaly scores, higher = more anomalous.
        """
        if not hasattr(self, "threshold_"):
            raise AttributeError(f"{type(self).__name__} is not fitted yet; call fit(scores) first")
        return _scores(scores) > self.threshold_

    def __repr__(self) -> str:
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self._params)
        fitted = f", threshold_={self.threshold_:.6g}" if hasattr(self, "threshold_") else ""
        return f"{type(self).__name__}({args}){fitted}"


class NeymanPearsonThreshold(_Threshold):
    """phi_rho: the floor(rho K)-th largest of K normal training scores (EUSIPCO 2017, after eq 14).

    With the rule ``anomalous = score > phi_rho`` at most floor(rho K) - 1 training scores exceed phi_rho
    (fewer with ties), so the training false-positive rate is < rho. If floor(rho K) = 0 (K < 1/rho) the
    largest score is taken and the training FPR is 0 <= rho. Same rule as
    :func:`adskit.detectors.base.np_threshold`, which this calls.

    Relation to quantiles: with k = max(floor(rho K), 1), phi_rho = ``np.quantile(scores, 1 - (k - 0.5) / K,
    method="inverted_cdf")`` exactly (the half keeps q between two jumps of the empirical CDF, so rounding
    cannot move it). The better known ``np.quantile(scores, 1 - rho, method="inverted_cdf")`` is the
    (floor(rho K) + 1)-th largest score, one order statistic lower, with training FPR floor(rho K) / K <= rho:
    the paper's phi_rho is the more conservative of the two.

    Parameters
    ----------
    rho : float
        Target false-positive rate in (0, 1) (the paper uses 0.05).

    Attributes
    ----------
    threshold_ : float
        phi_rho on the anomaly-score scale (higher = more anomalous).
    train_fpr_ : float
        Fraction of the fit scores above phi_rho; always <= rho.
    n_fit_ : int
        Number K of normal scores it was fitted on.

    Examples
    --------
    >>> t = NeymanPearsonThreshold(rho=0.1).fit(np.arange(20.0))
    >>> t.threshold_, t.train_fpr_   # the 2nd largest; 1 of 20 scores above it
    (18.0, 0.05)
    """

    _params = ("rho",)

    def __init__(self, rho: float = 0.05) -> None:
        self.rho = rho

    def _rho(self) -> float:
        try:
            rho = float(self.rho)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"rho: expected a number in (0, 1), got {self.rho!r}") from exc
        if not 0.0 < rho < 1.0:
            raise ValueError(f"rho: expected a false-positive rate in (0, 1), got {self.rho!r}")
        return rho

    def fit(self, scores: Any, y: Any = None) -> NeymanPearsonThreshold:
        """Fit phi_rho on normal scores.

        Parameters
        ----------
        scores : array-like [shape=(K,)]
            Anomaly scores of normal training data (higher = more anomalous).
        y : array-like [shape=(K,)] or None
            If given, only the scores with y == 0 (normal) are used.

        Returns
        -------
        self
        """
        rho = self._rho()
        s = _scores(scores)
        if y is not None:
            s = s[~_labels(y, s.size)]
            if s.size == 0:
                raise ValueError("y: no normal (y == 0) scores to fit on")
        self.threshold_ = np_threshold(s, rho)
        self.train_fpr_ = float(np.mean(s > self.threshold_))
        self.n_fit_ = int(s.size)
        return self

    def check(self, held_out_normal_scores: Any, alpha: float = 0.05) -> dict:
        """Realised false-positive rate on held-out normal scores, with a Clopper-Pearson interval.

        The kit's promise to analysts is that the false-alarm rate on new normal data stays near rho. This
        counts the held-out normal scores above ``threshold_`` and gives the exact binomial (Clopper-Pearson)
        confidence interval of the true FPR at level 1 - alpha.

        Parameters
        ----------
        held_out_normal_scores : array-like [shape=(n,)]
            Anomaly scores of normal data not used in :meth:`fit`.
        alpha : float
            1 - confidence level of the interval, in (0, 1).

        Returns
        -------
        dict
            ``n``, ``n_false_positives``, ``fpr`` (realised, lower = fewer false alarms), ``rho``,
            ``ci_low``, ``ci_high``, ``alpha``, ``rho_in_ci`` (bool) and ``verdict``: ``"holds"`` (rho in
            the interval), ``"conservative"`` (whole interval below rho: fewer false alarms than promised) or
            ``"violated"`` (whole interval above rho: more false alarms than promised).
        """
        if not hasattr(self, "threshold_"):
            raise AttributeError("NeymanPearsonThreshold is not fitted yet; call fit(scores) first")
        a = float(alpha)
        if not 0.0 < a < 1.0:
            raise ValueError(f"alpha: expected a number in (0, 1), got {alpha!r}")
        s = _scores(held_out_normal_scores, "held_out_normal_scores")
        k = int(np.sum(s > self.threshold_))
        ci = stats.binomtest(k, s.size).proportion_ci(confidence_level=1.0 - a, method="exact")
        rho = self._rho()
        lo, hi = float(ci.low), float(ci.high)
        verdict = "holds" if lo <= rho <= hi else ("conservative" if hi < rho else "violated")
        return {
            "n": int(s.size),
            "n_false_positives": k,
            "fpr": k / s.size,
            "rho": rho,
            "ci_low": lo,
            "ci_high": hi,
            "alpha": a,
            "rho_in_ci": lo <= rho <= hi,
            "verdict": verdict,
        }


class GammaThreshold(_Threshold):
    """DCASE 2021-2023 baseline rule: fit a gamma distribution to normal scores, threshold = its ppf.

    ``a, loc, scale = scipy.stats.gamma.fit(scores)``; ``threshold_ = gamma.ppf(percentile, a, loc, scale)``.
    It **promises no false-positive rate**: the realised rate is 1 - percentile only as far as the scores
    are gamma distributed (use :class:`NeymanPearsonThreshold` for a guarantee).

    Positivity: like the DCASE baseline, the location is fitted freely by default (``floc=None``), so any
    real scores work (negative log-likelihoods can be negative); scipy keeps loc below the smallest score.
    With a fixed location (``floc=0`` is the textbook two-parameter gamma) every score must exceed ``floc``,
    else a ValueError names ``scores``; nothing is shifted silently.

    Parameters
    ----------
    percentile : float
        In (0, 1); the DCASE baselines use 0.9.
    floc : float or None
        Fixed location of the gamma distribution, or None to fit it.

    Attributes
    ----------
    threshold_ : float
        On the anomaly-score scale (higher = more anomalous).
    shape_, loc_, scale_ : float
        The fitted gamma parameters.
    n_fit_ : int

    Examples
    --------
    >>> s = np.random.default_rng(0).gamma(2.0, 1.0, size=1000)
    >>> t = GammaThreshold(percentile=0.9).fit(s)
    >>> bool(3.0 < t.threshold_ < 5.0)
    True
    """

    _params = ("percentile", "floc")

    def __init__(self, percentile: float = 0.9, floc: float | None = None) -> None:
        self.percentile = percentile
        self.floc = floc

    def fit(self, scores: Any, y: Any = None) -> GammaThreshold:
        """Fit the gamma distribution on normal scores (those with y == 0 if y is given). Returns self."""
        p = float(self.percentile)
        if not 0.0 < p < 1.0:
            raise ValueError(f"percentile: expected a number in (0, 1), got {self.percentile!r}")
        s = _scores(scores)
        if y is not None:
            s = s[~_labels(y, s.size)]
        if s.size < 2 or np.ptp(s) == 0:
            raise ValueError("scores: need at least two distinct normal scores to fit a gamma distribution")
        if self.floc is None:
            a, loc, scale = stats.gamma.fit(s)
        else:
            floc = float(self.floc)
            if not np.all(s > floc):
                raise ValueError(
                    f"scores: a gamma fit with floc={floc} needs every score > {floc}, "
                    f"got min {s.min():.6g}; shift the scores or use floc=None"
                )
            a, loc, scale = stats.gamma.fit(s, floc=floc)
        self.shape_, self.loc_, self.scale_ = float(a), float(loc), float(scale)
        self.threshold_ = float(stats.gamma.ppf(p, a, loc=loc, scale=scale))
        self.n_fit_ = int(s.size)
        return self


class MaxMeanPRFThreshold(_Threshold):
    """Threshold maximising mean(precision, recall, F1) on labelled scores (EUSIPCO 2017 Table I rule).

    This is an **oracle**: it is chosen on the labelled test scores themselves, so the P/R/F1 it reports are
    optimistic; it is a reporting convention, not a deployable threshold.

    Candidates are every distinct score u (rule ``score > u``) plus one just below the smallest score (all
    anomalous). The scores are sorted once and precision, recall and F1 of all candidates come from
    cumulative sums (no loop over thresholds). Precision with no positive prediction counts as 0, and so
    does F1 (scikit-learn's ``zero_division=0``). Ties in the criterion go to the **highest** threshold
    (fewest alarms).

    Parameters
    ----------
    criterion : {"mean_prf", "f1"}
        Maximise mean(precision, recall, F1) (the paper's) or F1 alone.

    Attributes
    ----------
    threshold_ : float
        On the anomaly-score scale (higher = more anomalous).
    best_score_, precision_, recall_, f1_ : float
        Criterion, precision, recall and F1 at ``threshold_`` on the fit data (higher = better).

    Examples
    --------
    >>> t = MaxMeanPRFThreshold().fit([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    >>> t.threshold_, t.f1_
    (0.2, 1.0)
    """

    _params = ("criterion",)

    def __init__(self, criterion: str = "mean_prf") -> None:
        self.criterion = criterion

    def fit(self, scores: Any, y: Any) -> MaxMeanPRFThreshold:
        """Choose the threshold on scores with labels y (1 = anomalous, 0 = normal). Returns self.

        Parameters
        ----------
        scores : array-like [shape=(n,)]
            Anomaly scores, higher = more anomalous.
        y : array-like [shape=(n,)]
            Labels, at least one of each class.
        """
        if self.criterion not in ("mean_prf", "f1"):
            raise ValueError(f"criterion: expected 'mean_prf' or 'f1', got {self.criterion!r}")
        if y is None:
            raise ValueError("y: labels are required (1 = anomalous, 0 = normal)")
        s = _scores(scores)
        lab = _labels(y, s.size)
        n_pos = int(lab.sum())
        if n_pos == 0 or n_pos == s.size:
            raise ValueError("y: needs both normal (0) and anomalous (1) labels")
        order = np.argsort(-s, kind="stable")
        s_desc, y_desc = s[order], lab[order]
        # last index of each group of equal scores in descending order
        ends = np.flatnonzero(np.r_[s_desc[1:] != s_desc[:-1], True])
        tp = np.r_[0, np.cumsum(y_desc)[ends]]  # candidate j: everything above the j-th distinct value
        pp = np.r_[0, ends + 1]  # predicted positives
        fp = pp - tp
        fn = n_pos - tp
        with np.errstate(divide="ignore", invalid="ignore"):
            precision = np.where(pp > 0, tp / np.maximum(pp, 1), 0.0)
            recall = tp / n_pos
            denom = 2 * tp + fp + fn
            f1 = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)
        crit = f1 if self.criterion == "f1" else (precision + recall + f1) / 3.0
        # candidate thresholds: distinct values descending, then one just below the minimum
        cands = np.r_[s_desc[ends], np.nextafter(s_desc[-1], -np.inf)]
        j = int(np.argmax(crit))  # first maximum = highest threshold
        self.threshold_ = float(cands[j])
        self.best_score_ = float(crit[j])
        self.precision_, self.recall_, self.f1_ = float(precision[j]), float(recall[j]), float(f1[j])
        return self


def frame_decisions(frame_scores: Any, threshold: Any) -> np.ndarray:
    """Frame-wise rule H(A(x_t), phi) of WASPAA 2019 eq 4: True (anomalous) where score > threshold.

    Parameters
    ----------
    frame_scores : array-like [shape=(T,)]
        Anomaly scores per frame, higher = more anomalous.
    threshold : float or fitted threshold object (anything with ``threshold_``)

    Returns
    -------
    np.ndarray [shape=(T,), dtype=bool]

    Examples
    --------
    >>> frame_decisions([0.1, 2.0, 0.3], 1.0)
    array([False,  True, False])
    """
    return _scores(frame_scores, "frame_scores") > _threshold_value(threshold)


def clip_scores(clips: Sequence[Any], aggregate: str = "max") -> np.ndarray:
    """One anomaly score per clip from its frame scores (higher = more anomalous).

    ``"max"`` is WASPAA 2019 eq 11, A(X) = max_t A(x_t): a clip is anomalous at phi exactly when one of
    its frames is. ``"mean"`` averages the frames (the DCASE baselines' clip score).

    Parameters
    ----------
    clips : sequence of array-like, each [shape=(T_i,)]
        Frame scores of each clip (lengths may differ; none empty).
    aggregate : {"max", "mean"}

    Returns
    -------
    np.ndarray [shape=(n_clips,)]

    Examples
    --------
    >>> clip_scores([[0.1, 2.0], [0.5]], "max")
    array([2. , 0.5])
    """
    if aggregate not in ("max", "mean"):
        raise ValueError(f"aggregate: expected 'max' or 'mean', got {aggregate!r}")
    if len(clips) == 0:
        raise ValueError("clips: is empty")
    f = np.max if aggregate == "max" else np.mean
    return np.array([f(_scores(c, f"clips[{i}]")) for i, c in enumerate(clips)], dtype=np.float64)


def clip_decisions(clips: Sequence[Any], threshold: Any) -> np.ndarray:
    """True (anomalous) for each clip with any frame score > threshold (WASPAA 2019 eqs 4 and 11).

    Parameters
    ----------
    clips : sequence of array-like, each [shape=(T_i,)]
        Frame anomaly scores of each clip, higher = more anomalous.
    threshold : float or fitted threshold object

    Returns
    -------
    np.ndarray [shape=(n_clips,), dtype=bool]

    Examples
    --------
    >>> clip_decisions([[0.1, 2.0], [0.5, 0.2]], 1.0)
    array([ True, False])
    """
    return clip_scores(clips, "max") > _threshold_value(threshold)
