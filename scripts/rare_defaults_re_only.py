"""How the rare-normal process's default was chosen: plain RE only (BU and SNP are never trained here).

For each (distinctness, rarity, seed): a synthetic "fan" data set (40 training clips of 6 s, the rare process an
exact ``rarity`` share of the training seconds; 24 normal test clips, half of them holding the rare process), an
RE autoencoder (``fcn40-small``, 1,500 updates on random mini-batches of the training context vectors), and the
frame false-alarm rates at the threshold that gives 5 % false alarms on the frequent-normal frames of the even
test clips: on the frequent-normal frames of the odd test clips (held out) and on every rare-normal test frame.
Prints one JSON line per run.

Usage: python scripts/rare_defaults_re_only.py DISTINCTNESS,... RARITY,... SEED,...
e.g.   python scripts/rare_defaults_re_only.py 0,0.5,1 0.005,0.02,0.1 0,1,2
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from adskit.audio import load_audio, read_manifest
from adskit.audio.features import FeatureConfig, log_mel_batch, stack_context
from adskit.audio.synth import make_dataset
from adskit.detectors import AEDetector

CFG = dataclasses.replace(FeatureConfig.preset("paper"), n_mels=40)


def _vectors(root: Path, records: list[dict]) -> list[np.ndarray]:
    waves = [load_audio(root / r["path"], sr=CFG.sr)[0] for r in records]
    return [stack_context(S, CFG.frames) for S in log_mel_batch(waves, cfg=CFG, device="cpu")]


def _rare_mask(record: dict, n_vec: int) -> np.ndarray:
    centre = (np.arange(n_vec) + (CFG.frames - 1) / 2) * CFG.hop_length / CFG.sr  # a vector's centre frame, s
    mask = np.zeros(n_vec, bool)
    for t0, t1 in record["processes"]["rare"]:
        mask |= (centre >= t0) & (centre < t1)
    return mask


def measure(rarity: float, distinctness: float, seed: int, n_updates: int = 1500) -> dict:
    """RE's frame false-alarm rates on held-out frequent-normal and rare-normal frames for one data set."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest = make_dataset(
            Path(tmp) / "data",
            machines=("fan",),
            n_train=40,
            n_test_normal=24,
            n_test_anomaly=0,
            duration=6.0,
            n_something_else=0,
            n_anomaly_sources=0,
            seed=seed,
            progress=False,
            rarity=rarity,
            distinctness=distinctness,
        )
        root, files = manifest.parent, read_manifest(manifest)["files"]
        train = [r for r in files if r["split"] == "train"]
        test = [r for r in files if r["split"] == "test"]
        det = AEDetector.preset("fcn40-small", cost="re", n_updates=n_updates, random_state=seed, device="cpu")
        det.fit(np.vstack(_vectors(root, train)))
        vecs = _vectors(root, test)
        scores = [det.anomaly_score(v) for v in vecs]
        rare = [_rare_mask(r, len(v)) for r, v in zip(test, vecs, strict=True)]
        pairs = list(zip(scores, rare, strict=True))
        thr = np.quantile(np.concatenate([s[~m] for s, m in pairs[0::2]]), 0.95)
        held_out = np.concatenate([s[~m] for s, m in pairs[1::2]])
        rare_frames = np.concatenate([s[m] for s, m in pairs])
    fa_f, fa_r = float((held_out > thr).mean()), float((rare_frames > thr).mean())
    return {
        "rarity": rarity,
        "distinctness": distinctness,
        "seed": seed,
        "fa_frequent": round(fa_f, 4),
        "fa_rare": round(fa_r, 4),
        "ratio": round(fa_r / max(fa_f, 1e-9), 2),
        "n_rare_frames": int(rare_frames.size),
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    for d in map(float, sys.argv[1].split(",")):
        for r in map(float, sys.argv[2].split(",")):
            for s in map(int, sys.argv[3].split(",")):
                print(json.dumps(measure(r, d, s)), flush=True)
