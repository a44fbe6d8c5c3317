"""Download, verify and safely extract the real data sets (habit 11: a hash registry, pooch does the work).

The kit never needs these files: every experiment runs on the embedded synthetic default
(``adskit reproduce --quick`` or :func:`adskit.audio.synth.ensure_synthetic`). The real data sets are for
reproducing the papers at full scale; ``data_scripts/get_*.py`` are thin command lines over this package.

* :mod:`~adskit.audio.download.registry`: :data:`REGISTRY` of :class:`DataSet` and :class:`RemoteFile` with
  known hashes, :func:`list_datasets`, :func:`get_dataset`, :func:`describe` (no network);
* :mod:`~adskit.audio.download.fetch`: :func:`fetch` (download + verify, trust on first use recorded in
  ``<data_dir>/registry.lock.json``), :func:`file_hash`, :func:`dataset_dir` and the errors;
* :mod:`~adskit.audio.download.extract`: :func:`safe_extract` and the collectors.

The data root is :func:`adskit.audio.paths.data_dir`, re-exported here as :func:`data_dir`: ``$ADSKIT_DATA``,
else the platform's user cache folder (``~/.cache/adskit`` on Linux), the same root as the synthetic data.
This module only re-exports.
"""

from adskit.audio.download.extract import (
    MARKER_PREFIX,
    UnsafeArchiveError,
    collect_by_prefix,
    collect_short_clips,
    safe_extract,
)
from adskit.audio.download.fetch import (
    DATA_ENV,
    LOCK_NAME,
    SYNTHETIC_HINT,
    DownloadError,
    HashMismatchError,
    UnverifiedDownloadError,
    data_dir,
    dataset_dir,
    fetch,
    file_hash,
)
from adskit.audio.download.registry import (
    DCASE2016_ANOMALY_CLASSES,
    DCASE2020_MACHINES,
    REGISTRY,
    DataSet,
    RemoteFile,
    describe,
    get_dataset,
    list_datasets,
)

__all__ = [
    "DATA_ENV",
    "DCASE2016_ANOMALY_CLASSES",
    "DCASE2020_MACHINES",
    "LOCK_NAME",
    "MARKER_PREFIX",
    "REGISTRY",
    "SYNTHETIC_HINT",
    "DataSet",
    "DownloadError",
    "HashMismatchError",
    "RemoteFile",
    "UnsafeArchiveError",
    "UnverifiedDownloadError",
    "collect_by_prefix",
    "collect_short_clips",
    "data_dir",
    "dataset_dir",
    "describe",
    "fetch",
    "file_hash",
    "get_dataset",
    "list_datasets",
    "safe_extract",
]
