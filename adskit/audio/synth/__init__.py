"""The embedded default data: a seeded, offline generator of machine sounds (16 kHz mono).

It is what the kit runs on when a user has no recordings, what the tests and quick experiments use, and a
stand-in for real machines, not a benchmark tuned for one method. The package holds:

* :mod:`~adskit.audio.synth.machines`: the machine recipes (:data:`MACHINES`) and :func:`generate_clip`, one
  recording with its working processes (steady, idle, the rare-normal warm-up) and, for test anomalies, one
  anomalous segment;
* :mod:`~adskit.audio.synth.sounds`: the anomalies (:data:`ANOMALY_GROUPS`, :func:`generate_anomaly_source`)
  and the "something-else" sounds for SNP/BU training (:func:`generate_something_else`);
* :mod:`~adskit.audio.synth.dataset`: a data set on disk in the DCASE layout (:data:`PRESETS`,
  :func:`make_dataset`, :func:`ensure_synthetic`) and the one reader of its manifest (:func:`read_manifest`);
* ``_dsp``: the signal building blocks.

This module only re-exports; the data folder is decided by :func:`adskit.audio.paths.data_dir`
(:func:`default_data_dir` is an alias of it).

Examples
--------
>>> y, info = generate_clip("pump", "anomaly", rng=0, duration=2.0, anomaly_kind="whine")
>>> y.shape, info["anomaly_kind"], info["anomaly_group"]
((32000,), 'whine', 'sustained')
"""

from adskit.audio.synth.dataset import (
    GENERATOR,
    MANIFEST_NAME,
    PRESETS,
    RARE_DISTINCTNESS,
    RARE_TEST_FRACTION,
    SYNTH_VERSION,
    default_data_dir,
    ensure_synthetic,
    make_dataset,
    read_manifest,
)
from adskit.audio.synth.machines import MACHINES, RARE_FRACTION, MachineSpec, generate_clip
from adskit.audio.synth.sounds import (
    ADDITIVE_KINDS,
    ANOMALY_GROUPS,
    ANOMALY_KINDS,
    DEFAULT_ANR_DB,
    SOMETHING_ELSE_KINDS,
    generate_anomaly_source,
    generate_something_else,
)

__all__ = [
    "ADDITIVE_KINDS",
    "ANOMALY_GROUPS",
    "ANOMALY_KINDS",
    "DEFAULT_ANR_DB",
    "GENERATOR",
    "MACHINES",
    "MANIFEST_NAME",
    "PRESETS",
    "RARE_DISTINCTNESS",
    "RARE_FRACTION",
    "RARE_TEST_FRACTION",
    "SOMETHING_ELSE_KINDS",
    "SYNTH_VERSION",
    "MachineSpec",
    "default_data_dir",
    "ensure_synthetic",
    "generate_anomaly_source",
    "generate_clip",
    "generate_something_else",
    "make_dataset",
    "read_manifest",
]
