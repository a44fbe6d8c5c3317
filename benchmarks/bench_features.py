"""Log-mel throughput: adskit's torch ``LogMel`` on the CPU against ``librosa.feature.melspectrogram`` + log.

Both compute the same output (same STFT, Slaney mel filterbank and log floor) for a batch of 20 ten-second
16 kHz clips; the first (warm-up) calls are excluded by :func:`run.time_pair`.
"""

from __future__ import annotations

import numpy as np
from run import Case, Result, time_pair


def _case(preset: str, quick: bool, threads: int | None) -> Case:
    label = f"log-mel {preset} 20x10s CPU" + (f" {threads} thread" if threads else "")

    def run() -> Result:
        import librosa
        import torch

        from adskit.audio.features import FeatureConfig, LogMel

        cfg = FeatureConfig.preset(preset)
        n_clips = 20
        clips = np.random.default_rng(0).standard_normal((n_clips, 10 * cfg.sr)).astype(np.float32) * 0.1
        module = LogMel(cfg, device="cpu")
        log = (lambda S: 10.0 * np.log10(S)) if cfg.log == "10log10" else np.log

        def ours():
            with torch.inference_mode():
                return module(clips).numpy()

        def ref():
            S = librosa.feature.melspectrogram(
                y=clips,
                sr=cfg.sr,
                n_fft=cfg.n_fft,
                hop_length=cfg.hop_length,
                win_length=cfg.win_length,
                window=cfg.window,
                center=cfg.center,
                pad_mode=cfg.pad_mode,
                power=cfg.power,
                n_mels=cfg.n_mels,
                fmin=cfg.fmin,
                fmax=cfg.fmax,
            )
            return log(np.maximum(S, cfg.log_floor))

        err = float(np.max(np.abs(ours() - np.swapaxes(ref(), -1, -2))))
        before = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        try:
            t_ours, t_ref = time_pair(ours, ref, repeats=3 if quick else 7, warmup=1)
            used = torch.get_num_threads()
        finally:
            torch.set_num_threads(before)
        ratio = t_ref / t_ours
        return Result(
            name=label,
            adskit=t_ours,
            reference=t_ref,
            unit="s",
            ratio=ratio,
            ratio_label="ref/adskit (speed-up)",
            target=">= 1x",
            meets=ratio >= 1.0,
            notes=(
                f"librosa {librosa.__version__}, torch threads {used}"
                + ("" if threads else " (LogMel runs on one: adskit._threads)")
                + f", max |diff| {err:.2e}"
            ),
            extra={"preset": preset, "n_clips": n_clips, "max_abs_diff": err, "torch_threads": used},
        )

    return Case(name=label, run=run)


def cases(quick: bool) -> list[Case]:
    """Each feature preset (the DCASE 2020 baseline's and the BU paper's) with torch's default threads (which
    LogMel lowers to one on the CPU, see adskit._threads; ``bench_threads`` runs these under load) and
    with one thread (librosa's STFT is single-threaded; on a busy 2-core machine one thread is the fair and
    often the faster setting)."""
    return [_case(p, quick, t) for p in ("dcase2020", "paper") for t in (None, 1)]
