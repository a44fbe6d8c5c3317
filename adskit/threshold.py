"""Decision thresholds fitted on cached anomaly scores.

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

Frame and clip rules (a clip score from its frames, ``score > threshold`` per frame or clip) live one layer up,
in :mod:`adskit.scores` (:func:`~adskit.scores.clip_scores`, :func:`~adskit.scores.clip_decisions`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "GammaThreshold",
    "MaxMeanPRFThreshold",
    "NeymanPearsonThreshold",
    "phi_rho",
]


def phi_rho(scores: np.ndarray, rho: float) -> float:
    """phi_rho: the floor(rho K)-th largest of K scores (1-based; the largest if floor(rho K) = 0).

    The Neyman-Pearson threshold of EUSIPCO 2017 (after eq 14); the training false-positive rate of the rule
    ``score > phi_rho`` is then at most rho. No validation: :class:`NeymanPearsonThreshold` is the checked,
    fitted form, and the detectors call this on their own training scores.

    Parameters
    ----------
    scores : array-like [shape=(K,)], K >= 1
        Anomaly scores (higher = more anomalous).
    rho : float
        Target false-positive rate in (0, 1).

    Returns
    -------
    float
        The threshold, on the scale of ``scores``.

    Examples
    --------
    >>> phi_rho(np.arange(20.0), 0.1)  # floor(0.1 * 20) = 2: the 2nd largest
    18.0
    """
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())[::-1]
    k = max(int(np.floor(rho * s.size)), 1)
    return float(s[k - 1])


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
    largest score is taken and the training FPR is 0 <= rho. Same rule as :func:`phi_rho`, which this calls.

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

        Raises
        ------
        ValueError
            If ``rho`` is not in (0, 1), the scores are not a non-empty finite 1-D array, ``y`` is not 0/1 with
            one label per score, or ``y`` leaves no normal score.
        """
        rho = self._rho()
        s = _scores(scores)
        if y is not None:
            s = s[~_labels(y, s.size)]
            if s.size == 0:
                raise ValueError("y: no normal (y == 0) scores to fit on")
        self.threshold_ = phi_rho(s, rho)
        self.train_fpr_ = float(np.mean(s > self.threshold_))
        self.n_fit_ = int(s.size)
        return self

    def check(
        self,
        held_out_normal_scores: Any,
        alpha: float = 0.05,
        groups: Any = None,
        *,
        n_boot: int = 2000,
        random_state: Any = None,
    ) -> dict:
        """Realised false-positive rate on held-out normal scores, with confidence intervals.

        The kit's promise to analysts is that the false-alarm rate on new normal data stays near rho. This
        counts the held-out normal scores above ``threshold_`` and gives the exact binomial (Clopper-Pearson)
        confidence interval of the true FPR at level 1 - alpha, which treats the scores as independent.

        Scores that come in groups (the context vectors of one clip overlap, so they are dependent) need
        ``groups``: the interval is then also computed by a bootstrap that resamples whole groups (``n_boot``
        resamples of the group ids with replacement; the FPR of a resample is its false positives over its
        scores; the interval is the alpha/2 and 1 - alpha/2 quantiles), and a group counts as one false alarm
        if any of its scores exceeds ``threshold_`` (group-level FPR with its Clopper-Pearson interval).

        Parameters
        ----------
        held_out_normal_scores : array-like [shape=(n,)]
            Anomaly scores of normal data not used in :meth:`fit`.
        alpha : float
            1 - confidence level of the intervals, in (0, 1).
        groups : array-like [shape=(n,)], optional
            Group (clip) id of each score; None: scores are independent, no bootstrap.
        n_boot : int
            Bootstrap resamples (with ``groups``).
        random_state : int, sequence of int, np.random.Generator or None
            Seed of the bootstrap (:func:`numpy.random.default_rng`).

        Returns
        -------
        dict
            ``n``, ``n_false_positives``, ``fpr`` (realised, lower = fewer false alarms), ``rho``,
            ``ci_low``, ``ci_high``, ``alpha``, ``rho_in_ci`` (bool) and ``verdict``: ``"holds"`` (rho in
            the interval), ``"conservative"`` (whole interval below rho: fewer false alarms than promised) or
            ``"violated"`` (whole interval above rho: more false alarms than promised). With ``groups`` also
            ``boot_low``, ``boot_high`` (group-bootstrap interval of the FPR), ``n_clips`` (groups),
            ``n_clip_alarms`` (groups with a score above ``threshold_``), ``clip_fpr`` and its Clopper-Pearson
            interval ``clip_ci_low``, ``clip_ci_high``.

        Raises
        ------
        AttributeError
            If the threshold is not fitted.
        ValueError
            If ``alpha`` is not in (0, 1), the scores are not a finite 1-D array, ``groups`` does not have
            one id per score or ``n_boot`` is below 1.
        """
        if not hasattr(self, "threshold_"):
            raise AttributeError("NeymanPearsonThreshold is not fitted yet; call fit(scores) first")
        a = float(alpha)
        if not 0.0 < a < 1.0:
            raise ValueError(f"alpha: expected a number in (0, 1), got {alpha!r}")
        s = _scores(held_out_normal_scores, "held_out_normal_scores")
        alarm = s > self.threshold_
        k = int(np.sum(alarm))
        ci = stats.binomtest(k, s.size).proportion_ci(confidence_level=1.0 - a, method="exact")
        rho = self._rho()
        lo, hi = float(ci.low), float(ci.high)
        verdict = "holds" if lo <= rho <= hi else ("conservative" if hi < rho else "violated")
        out = {
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
        if groups is None:
            return out
        g = np.asarray(groups)
        if g.shape != s.shape:
            raise ValueError(f"groups: expected one id per score, shape {s.shape}, got {g.shape}")
        if int(n_boot) < 1:
            raise ValueError(f"n_boot: expected a positive integer, got {n_boot!r}")
        ids = np.unique(g)
        n_fp = np.array([alarm[g == c].sum() for c in ids])
        n_s = np.array([(g == c).sum() for c in ids])
        idx = np.random.default_rng(random_state).integers(0, ids.size, (int(n_boot), ids.size))
        boot = n_fp[idx].sum(1) / n_s[idx].sum(1)
        k_g = int((n_fp > 0).sum())
        ci_g = stats.binomtest(k_g, ids.size).proportion_ci(confidence_level=1.0 - a, method="exact")
        out.update(
            boot_low=float(np.quantile(boot, a / 2)),
            boot_high=float(np.quantile(boot, 1.0 - a / 2)),
            n_clips=int(ids.size),
            n_clip_alarms=k_g,
            clip_fpr=k_g / ids.size,
            clip_ci_low=float(ci_g.low),
            clip_ci_high=float(ci_g.high),
        )
        return out


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
        """Fit the gamma distribution on normal scores (those with y == 0 if y is given). Returns self.

        Raises
        ------
        TypeError
            If ``percentile``, or ``floc`` when given, is neither a number nor a string (e.g. None).
        ValueError
            If ``percentile`` is not in (0, 1), the scores are not a non-empty finite 1-D array, ``y`` is not
            0/1 with one label per score, fewer than two distinct normal scores remain, or a score is <= ``floc``.
        """
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

        Raises
        ------
        ValueError
            If ``criterion`` is not ``"mean_prf"`` or ``"f1"``, ``y`` is None, the scores are not a non-empty
            finite 1-D array, ``y`` is not 0/1 with one label per score, or ``y`` lacks either class.
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
