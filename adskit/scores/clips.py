"""Frame and clip anomaly scores of a fitted detector: the one clip aggregation, and the decision rules.

* :func:`frame_scores` / :func:`score_clips` - A(x_t) for every context vector of a clip's spectrogram, and one
  score per clip, from any fitted detector with ``anomaly_score(X)`` and ``n_features_in_``.
* :func:`clip_scores` - the one clip aggregation (max, WASPAA 2019 eq 11; or mean, the DCASE baselines'),
  used everywhere a clip score is made; :func:`frame_decisions` / :func:`clip_decisions` apply a threshold.

Directions: every score is an anomaly score, **higher = more anomalous**; the rule is
``anomalous = score > threshold`` (as in :mod:`adskit.threshold`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import sklearn
from sklearn.exceptions import NotFittedError

from .._utils import as_float_tensor
from ..audio.features import stack_context

# the threshold module's own score and threshold checks, so that a rule here fails exactly as there
from ..threshold import _scores, _threshold_value

__all__ = ["AGGREGATES", "clip_decisions", "clip_scores", "frame_decisions", "frame_scores", "score_clips"]

#: clip aggregations of frame scores: WASPAA 2019 eq 11 (max) and the DCASE baselines' mean
AGGREGATES = ("max", "mean")


def check_aggregate(aggregate: str) -> None:
    """Raise ValueError unless ``aggregate`` is one of :data:`AGGREGATES`."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate: expected 'max' or 'mean', got {aggregate!r}")


def clip_scores(frames: Sequence[Any], aggregate: str = "max") -> np.ndarray:
    """One anomaly score per clip from its frame scores (higher = more anomalous).

    ``"max"`` is WASPAA 2019 eq 11, A(X) = max_t A(x_t): a clip is anomalous at phi exactly when one of
    its frames is. ``"mean"`` averages the frames (the DCASE baselines' clip score).

    Parameters
    ----------
    frames : sequence of array-like, each [shape=(T_i,)]
        Frame anomaly scores of each clip (lengths may differ; none empty).
    aggregate : {"max", "mean"}

    Returns
    -------
    np.ndarray [shape=(n_clips,)], float64

    Raises
    ------
    ValueError
        If ``aggregate`` is unknown, ``frames`` is empty, or a clip's scores are empty, not 1-D or not finite.

    Examples
    --------
    >>> clip_scores([[0.1, 2.0], [0.5]], "max")
    array([2. , 0.5])
    """
    check_aggregate(aggregate)
    if len(frames) == 0:
        raise ValueError("clips: is empty")
    f = np.max if aggregate == "max" else np.mean
    return np.array([f(_scores(c, f"clips[{i}]")) for i, c in enumerate(frames)], dtype=np.float64)


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

    Raises
    ------
    ValueError
        If the scores are empty, not 1-D or not finite, or the threshold is not a number (or NaN).

    Examples
    --------
    >>> frame_decisions([0.1, 2.0, 0.3], 1.0)
    array([False,  True, False])
    """
    return _scores(frame_scores, "frame_scores") > _threshold_value(threshold)


def clip_decisions(frames: Sequence[Any], threshold: Any) -> np.ndarray:
    """True (anomalous) for each clip with any frame score > threshold (WASPAA 2019 eqs 4 and 11).

    Parameters
    ----------
    frames : sequence of array-like, each [shape=(T_i,)]
        Frame anomaly scores of each clip, higher = more anomalous.
    threshold : float or fitted threshold object

    Returns
    -------
    np.ndarray [shape=(n_clips,), dtype=bool]

    Raises
    ------
    ValueError
        As :func:`clip_scores` and :func:`frame_decisions`.

    Examples
    --------
    >>> clip_decisions([[0.1, 2.0], [0.5, 0.2]], 1.0)
    array([ True, False])
    """
    return clip_scores(frames, "max") > _threshold_value(threshold)


def frame_scores(detector: Any, spectrogram: Any) -> np.ndarray:
    """A(x_t) for every context vector of one clip (higher = more anomalous).

    Parameters
    ----------
    detector : fitted detector
        Anything with ``n_features_in_`` and ``anomaly_score(X) -> (n,)``, e.g. ``AEDetector``; its input
        vectors are ``frames`` stacked frames of ``F`` features (frame-major, as
        :func:`adskit.audio.stack_context` makes them); it receives them as a NumPy array (n, d), float32
        (float64 when a float64 tensor is given).
    spectrogram : array-like [shape=(T, F)]
        Frame-wise features of one clip (e.g. a log-mel spectrogram, time first), or already stacked
        context vectors of shape (T', d). The context length is ``d // F``.

    Returns
    -------
    np.ndarray [shape=(T - frames + 1,)], aligned with ``adskit.audio.frame_times``

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the detector has no ``n_features_in_`` (not fitted).
    ValueError
        If the spectrogram is not a finite 2-D array, ``F`` does not divide the detector's input dimension,
        ``F`` is neither the ``n_mels`` of the detector's ``feature_config_`` (when it has one) nor its input
        dimension, or the clip has fewer frames than the context.
    """
    if not hasattr(detector, "n_features_in_"):
        raise NotFittedError(f"{type(detector).__name__} is not fitted yet; call fit(X) first")
    if isinstance(spectrogram, np.ndarray) and not spectrogram.flags.writeable:
        spectrogram = np.array(spectrogram)  # e.g. a FeatureCache memmap: torch wants writable memory
    S = as_float_tensor(spectrogram, "spectrogram", ndim=2, min_rows=1)
    d, F = int(detector.n_features_in_), S.shape[1]
    cfg = getattr(detector, "feature_config_", None)
    n_mels = cfg.get("n_mels") if isinstance(cfg, dict) else None
    if n_mels is not None and F not in (int(n_mels), d):
        raise ValueError(
            f"spectrogram: {F} features per frame, but the detector was trained on {n_mels}-band features "
            f"(feature_config_ {cfg}); compute the spectrogram with that configuration"
        )
    if d % F != 0:
        raise ValueError(
            f"spectrogram: {F} features per frame do not divide the detector's {d} input dimensions (frames x bins)"
        )
    frames = d // F
    if S.shape[0] < frames:
        raise ValueError(f"spectrogram: {S.shape[0]} frames, fewer than the {frames}-frame context")
    X = stack_context(S, frames) if frames > 1 else S
    with sklearn.config_context(assume_finite=True):  # S was checked finite above; skip the second scan
        return detector.anomaly_score(X.cpu().numpy())


def score_clips(
    detector: Any, spectrograms: Sequence[Any], aggregate: str = "max", return_frames: bool = False
) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
    """One anomaly score per clip (higher = more anomalous) from a fitted detector.

    Parameters
    ----------
    detector : fitted detector, see :func:`frame_scores`
    spectrograms : sequence of array-like, each [shape=(T_i, F)], or an array (n_clips, T, F)
        Frame-wise features per clip (see :func:`frame_scores`).
    aggregate : {"max", "mean"}
        ``"max"`` is the paper's frame-wise rule (eq 11: a clip is anomalous when any frame is), ``"mean"``
        the DCASE baselines' clip score.
    return_frames : bool
        Also return the frame scores of every clip.

    Returns
    -------
    scores : np.ndarray [shape=(n_clips,)]
    frames : list of np.ndarray [shape=(T_i - frames + 1,)], only with ``return_frames``

    Raises
    ------
    ValueError
        If ``aggregate`` is unknown, ``spectrograms`` is empty, or a clip fails :func:`frame_scores` (the
        message names ``spectrograms[i]``).
    sklearn.exceptions.NotFittedError
        If the detector is not fitted.
    """
    check_aggregate(aggregate)
    if len(spectrograms) == 0:
        raise ValueError("spectrograms: is empty")
    per_clip = []
    for i, S in enumerate(spectrograms):
        try:
            per_clip.append(frame_scores(detector, S))
        except ValueError as exc:
            raise ValueError(f"spectrograms[{i}]: {exc}") from exc
    scores = clip_scores(per_clip, aggregate)
    return (scores, per_clip) if return_frames else scores
