"""Scoring throughput (issue 13, acceptance 3): seconds of audio scored per second of wall time on this CPU.

adskit: ``adskit score``'s path, :func:`adskit.experiments.analyst_score.score_files` with a model directory made
by :func:`adskit.experiments.analyst.fit_model` (preset ``dcase2020``: the DCASE 2020 baseline's network
640-128x4-8 and features; cost RE, a few updates: the weights do not change the time), loaded once. It reads each
file (soundfile), checks it, computes the log-mel with the kit's torch ``LogMel``, stacks 5 frames, runs the
network, takes the clip score, thresholds it and writes the scores CSV.

Reference: the DCASE 2020 Task 2 baseline's path (``common.file_to_vector_array`` and ``01_test.py``):
``librosa.load(sr=None)``, ``librosa.feature.melspectrogram`` (n_fft 1024, hop 512, 128 mels, power 2),
``10 log10(S + eps)``, the numpy loop that stacks 5 frames into a float64 array, then the same network's forward
pass (the same torch module and weights, in float32, with the model's input standardisation so the two paths
compute the same scores) and the mean squared error per frame, clip score = mean over frames.

Same files (10-s 16 kHz mono WAVs of the synthetic generator), same run, interleaved repeats, median
(:func:`run.time_pair`). Target: adskit >= 2x the reference.

Measured 2026-11-29 on the 2-core CPU, 1 thread, 40 files: 1.18x (MSE), 1.08x (Mahalanobis): not met. Why: the
network's forward pass is the same in both paths, 2.4 ms of a 10-s file (309 vectors of 640; median of 100 on one
thread), of about 7.4 ms (adskit) and 8.7 ms (reference) a file; 2x would need the rest of adskit's path (reading,
checks, log-mel, stacking, the score, the CSV) at about 2 ms a file instead of about 5 ms. The Mahalanobis score's
float64 (309 x 640) x (640 x 640) product is paid by both.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from run import Case, Result, time_pair


def _case(quick: bool, score: str) -> Case:
    n_files = 8 if quick else 40
    label = f"scoring {n_files}x10s dcase2020 {score}, CPU"

    def run() -> Result:
        import librosa
        import torch

        from adskit.audio.io import save_audio
        from adskit.audio.synth import generate_clip
        from adskit.experiments.analyst import fit_model
        from adskit.experiments.analyst_model import load_models
        from adskit.experiments.analyst_score import score_files

        tmp = Path(tempfile.mkdtemp(prefix="adskit-bench-scoring-"))
        rng = np.random.default_rng(0)
        sr, seconds = 16000, 10.0
        for k in range(6):
            y, _ = generate_clip("fan", "normal", rng=rng, sr=sr, duration=seconds)
            save_audio(tmp / "train" / f"normal_{k:02d}.wav", y, sr)
        files = []
        for k in range(n_files):
            y, _ = generate_clip("fan", "normal" if k % 2 else "anomaly", rng=rng, sr=sr, duration=seconds)
            files.append(save_audio(tmp / "test" / f"clip_{k:03d}.wav", y, sr))
        fit_model(tmp / "train", tmp / "model", cost="re", score=score, aggregate="mean", seed=0, device="cpu",
                  progress=False, detector_overrides={"n_updates": 20})  # fmt: skip
        t0 = time.perf_counter()
        models = load_models(tmp / "model")
        load_seconds = time.perf_counter() - t0
        m = models[None]
        cfg, det = m.feature_config, m.detector
        net, mean, scale = det.model_.eval(), det.mean_, det.scale_
        maha = m.scorer if score == "mahalanobis" else None

        def ours():
            return score_files(models, [tmp / "test"], tmp / "scores.csv", progress=False)

        def ref():
            out = []
            for path in files:
                y, file_sr = librosa.load(path, sr=None, mono=True)
                S = librosa.feature.melspectrogram(y=y, sr=file_sr, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                                                   n_mels=cfg.n_mels, power=cfg.power)  # fmt: skip
                L = 20.0 / cfg.power * np.log10(S + sys.float_info.epsilon)
                n_vec = L.shape[1] - cfg.frames + 1
                X = np.zeros((n_vec, cfg.n_mels * cfg.frames))
                for t in range(cfg.frames):
                    X[:, cfg.n_mels * t : cfg.n_mels * (t + 1)] = L[:, t : t + n_vec].T
                Z = torch.from_numpy(((X - mean) / scale).astype(np.float32))
                with torch.inference_mode():
                    R = (Z - net(Z)).double().numpy()
                a = (R**2).sum(axis=1) if maha is None else np.einsum("ij,ij->i", (R - maha.location_) @ maha.precision_,
                                                                      R - maha.location_)  # fmt: skip
                out.append(float(a.mean()))
            return np.array(out)

        def floor() -> tuple[float, float, float]:
            """Median seconds per file of the parts both paths must pay: the network's forward pass (the
            scoring copy, BatchNorm folded), the log-mel of one file, and for the Mahalanobis score the float64
            product of the residuals with the precision matrix (0 for mse)."""
            from adskit.audio.features import LogMel, stack_context
            from adskit.audio.io import load_audio

            y, _ = load_audio(files[0], sr=cfg.sr)
            lm = LogMel(cfg, device="cpu")
            Z = det._transform(stack_context(lm(y), cfg.frames))
            fused = det._inference_model()
            t_net, t_mel, t_prod = [], [], [0.0]
            with torch.inference_mode():
                R = (Z - fused(Z)).double().numpy()
                for _ in range(30):
                    t0 = time.perf_counter()
                    fused(Z)
                    t_net.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    lm(y)
                    t_mel.append(time.perf_counter() - t0)
                    if maha is not None:
                        t0 = time.perf_counter()
                        D = R - maha.location_
                        np.einsum("ij,ij->i", D @ maha.precision_, D)
                        t_prod.append(time.perf_counter() - t0)
            return float(np.median(t_net)), float(np.median(t_mel)), float(np.median(t_prod[1:] or t_prod))

        try:
            t_net, t_mel, t_prod = floor()
            t_floor = t_net + t_mel + t_prod
            theirs = ref()
            mine = np.array([r["score"] for r in ours().rows])
            rel = float(np.max(np.abs(mine - theirs) / np.abs(theirs)))
            t_ours, t_ref = time_pair(ours, ref, repeats=3 if quick else 5, warmup=1)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        audio = n_files * seconds
        ratio = t_ref / t_ours
        return Result(
            name=label,
            adskit=audio / t_ours,
            reference=audio / t_ref,
            unit="x",
            ratio=ratio,
            ratio_label="adskit/ref (speed-up)",
            target=">= 2x",
            meets=ratio >= 2.0,
            notes=(
                f"seconds of audio per second (x real time); {audio:.0f} s of audio, median of "
                f"{3 if quick else 5}: adskit {t_ours:.3f} s, reference {t_ref:.3f} s; per file: network "
                f"{1e3 * t_net:.2f} ms + log-mel {1e3 * t_mel:.2f} ms"
                + (f" + Mahalanobis product {1e3 * t_prod:.2f} ms" if maha is not None else "")
                + f", which alone bound the speed-up at {t_ref / n_files / t_floor:.2f}x; model load (once) "
                f"{load_seconds:.3f} s; clip scores agree to {rel:.1e} (relative); librosa {librosa.__version__}, "
                f"torch threads {torch.get_num_threads()}"
            ),
            extra={
                "n_files": n_files,
                "audio_seconds": audio,
                "t_adskit": t_ours,
                "t_reference": t_ref,
                "model_load_seconds": load_seconds,
                "max_rel_score_diff": rel,
                "network_seconds_per_file": t_net,
                "logmel_seconds_per_file": t_mel,
                "mahalanobis_product_seconds_per_file": t_prod,
                "bound_from_shared_parts": t_ref / n_files / t_floor,
                "score": score,
                "torch_threads": torch.get_num_threads(),
            },  # fmt: skip
        )

    return Case(name=label, run=run)


def cases(quick: bool) -> list[Case]:
    """``adskit score`` against the DCASE 2020 baseline's scoring path, with the MSE and the residual Mahalanobis
    score (the DCASE 2023+ baselines' score; the reference then applies the same covariance in numpy)."""
    return [_case(quick, s) for s in ("mse", "mahalanobis")]
