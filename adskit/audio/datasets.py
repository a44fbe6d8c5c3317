"""Data sets of machine sounds (a face: the code lives in four modules, re-exported here).

* :mod:`adskit.audio.clips`: what a file's name and folders say (:class:`Clip`, :func:`parse_clip`,
  :func:`label_from_name`, :data:`LAYOUTS`).
* :mod:`adskit.audio.folders`: folders of audio files (:class:`FolderDataset`) and the known layouts
  (:func:`dcase2020_dev`, :func:`mimii`, :func:`toyadmos`, :func:`toy_car`, :func:`synthetic`).
* :mod:`adskit.audio.cache`: the on-disk feature cache (:class:`FeatureCache`, :class:`CacheReport`) and
  streamed statistics (:func:`iter_clip_vectors`, :func:`dataset_stats`, :class:`VectorStats`).
* :mod:`adskit.audio.batches`: training batches (:class:`FrameSampler`, :class:`PaperBatchBuilder` and its
  :data:`MAX_SOMETHING_ELSE_FRACTION`; :data:`IN_MEMORY_MAX_BYTES`, where the sampler stops holding the frames in
  memory).
"""

from adskit.audio.batches import IN_MEMORY_MAX_BYTES, MAX_SOMETHING_ELSE_FRACTION, FrameSampler, PaperBatchBuilder
from adskit.audio.cache import CacheReport, FeatureCache, VectorStats, dataset_stats, iter_clip_vectors
from adskit.audio.clips import LAYOUTS, Clip, label_from_name, parse_clip
from adskit.audio.folders import FolderDataset, dcase2020_dev, mimii, synthetic, toy_car, toyadmos

__all__ = [
    "IN_MEMORY_MAX_BYTES",
    "LAYOUTS",
    "MAX_SOMETHING_ELSE_FRACTION",
    "CacheReport",
    "Clip",
    "FeatureCache",
    "FolderDataset",
    "FrameSampler",
    "PaperBatchBuilder",
    "VectorStats",
    "dataset_stats",
    "dcase2020_dev",
    "iter_clip_vectors",
    "label_from_name",
    "mimii",
    "parse_clip",
    "synthetic",
    "toy_car",
    "toyadmos",
]
