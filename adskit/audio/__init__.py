"""The audio layer: reading files, log-mel features, mixing, and the embedded synthetic data.

Data flows one way: ``io`` -> ``features`` -> ``mixing`` -> ``synth``; nothing here imports detectors,
models or experiments.
"""

from adskit.audio.features import FeatureConfig, LogMel, frame_times, log_mel, n_frames, stack_context
from adskit.audio.io import AudioFileError, audio_info, list_audio_files, load_audio, save_audio
from adskit.audio.mixing import frame_labels, mix_at_ratio, mix_snr
from adskit.audio.synth import (
    ANOMALY_GROUPS,
    ANOMALY_KINDS,
    MACHINES,
    default_data_dir,
    ensure_synthetic,
    generate_clip,
    make_dataset,
)

__all__ = [
    "ANOMALY_GROUPS",
    "ANOMALY_KINDS",
    "MACHINES",
    "AudioFileError",
    "FeatureConfig",
    "LogMel",
    "audio_info",
    "default_data_dir",
    "ensure_synthetic",
    "frame_labels",
    "frame_times",
    "generate_clip",
    "list_audio_files",
    "load_audio",
    "log_mel",
    "make_dataset",
    "mix_at_ratio",
    "mix_snr",
    "n_frames",
    "save_audio",
    "stack_context",
]
