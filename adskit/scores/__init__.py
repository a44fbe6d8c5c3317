"""The scores stage: frame and clip anomaly scores of a fitted detector, and the cached :class:`ScoreSet`.

The pipeline's layer between the estimators and everything that reads their scores (thresholds, metrics,
widgets, experiments): audio -> features -> detectors -> **scores** -> threshold / metrics -> views. A face over

* :mod:`adskit.scores.clips` - :func:`frame_scores` / :func:`score_clips` of any fitted detector, the one clip
  aggregation :func:`clip_scores`, and the rules :func:`frame_decisions` / :func:`clip_decisions`;
* :mod:`adskit.scores.scoreset` - :class:`ScoreSet` (with its ``.npz`` + ``.json`` persistence),
  :func:`scores_from_detectors` and :func:`demo_scoreset`.

Directions: every score is an anomaly score, **higher = more anomalous**; the rule is
``anomalous = score > threshold`` (as in :mod:`adskit.threshold`).

Examples
--------
>>> clip_scores([[0.1, 2.0], [0.5]])
array([2. , 0.5])
>>> ss = demo_scoreset(seed=0)            # synthetic scores for tests only, no detector trained
>>> ss.clip_scores("RE").shape
(80,)
"""

from .clips import AGGREGATES, clip_decisions, clip_scores, frame_decisions, frame_scores, score_clips
from .scoreset import PROCESSES, UNLABELLED, ScoreSet, demo_scoreset, scores_from_detectors

__all__ = [
    "AGGREGATES",
    "PROCESSES",
    "UNLABELLED",
    "ScoreSet",
    "clip_decisions",
    "clip_scores",
    "demo_scoreset",
    "frame_decisions",
    "frame_scores",
    "score_clips",
    "scores_from_detectors",
]
