"""The audio layer: reading files, log-mel features, mixing, the embedded synthetic data and the data folder.

Data flows one way: ``io`` -> ``features`` -> ``mixing`` -> ``synth``; ``paths`` (the one data root, shared
by ``synth`` and ``download``) imports nothing of the kit. Nothing here imports detectors, models or
experiments. ``adskit.audio.download`` (the real data sets) is not imported here: it loads only when used.
"""

from adskit.audio.features import FeatureConfig, LogMel, frame_times, log_mel, log_mel_batch, n_frames, stack_context
from adskit.audio.io import AudioFileError, audio_info, list_audio_files, load_audio, save_audio
from adskit.audio.mixing import frame_labels, mix_at_ratio, mix_snr
from adskit.audio.paths import data_dir
from adskit.audio.synth import (
    ANOMALY_GROUPS,
    ANOMALY_KINDS,
    MACHINES,
    default_data_dir,
    ensure_synthetic,
    generate_clip,
    make_dataset,
    read_manifest,
)

__all__ = [
    "ANOMALY_GROUPS",
    "ANOMALY_KINDS",
    "MACHINES",
    "AudioFileError",
    "FeatureConfig",
    "LogMel",
    "audio_info",
    "data_dir",
    "default_data_dir",
    "ensure_synthetic",
    "frame_labels",
    "frame_times",
    "generate_clip",
    "list_audio_files",
    "load_audio",
    "log_mel",
    "log_mel_batch",
    "make_dataset",
    "mix_at_ratio",
    "mix_snr",
    "n_frames",
    "read_manifest",
    "save_audio",
    "stack_context",
]
