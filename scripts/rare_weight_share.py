"""How much BU weight the rare-normal vectors get at other bandwidths than the experiment's two rules.

For each rare-normal data set made by ``adskit rare`` (found under ``DATA_ROOT``, default ``adskit.audio.data_dir()
/ "rare"``): the training context vectors of FCN40's front end, standardised as the AE standardises its input,
the median heuristic h0, and on 16 random batches of 512 vectors the share of BU weight on the rare vectors over
their share of vectors (:func:`adskit.bandwidth.weight_share`; 1 = uniform, as SNP) at h = factor x h0. No network
is trained: the weights depend only on the data and h. Prints one JSON line per data set.

Usage: python scripts/rare_weight_share.py [DATA_ROOT] [SEED ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

from adskit.audio import data_dir, read_manifest
from adskit.audio.features import FeatureConfig
from adskit.bandwidth import weight_share
from adskit.detectors import AEDetector
from adskit.experiments.rare_data import load_rare_data
from adskit.kde import median_heuristic

FACTORS = (0.3, 0.5, 0.7, 1.0, 1.5, 2.0)


def measure(root: Path, seed: int = 0) -> dict:
    fcfg = FeatureConfig(**AEDetector.preset("fcn40-small", cost="bu").feature_config)
    data = load_rare_data(root, fcfg)
    X, rare = data.X_train, data.rare_train
    z = (X - X.mean(0)) / X.std(0, ddof=1)
    h0 = median_heuristic(torch.as_tensor(z), random_state=seed)
    rng = np.random.default_rng(seed)
    idx = [rng.choice(len(z), 512, replace=False) for _ in range(16)]
    share = {f: weight_share([z[i] for i in idx], f * h0, [rare[i] for i in idx]) for f in FACTORS}
    return {
        "data": root.name,
        "distinctness": read_manifest(root)["config"].get("distinctness", 0.0),
        "rare_vector_share": round(float(rare.mean()), 4),
        "weight_share_by_h_over_h0": {f"{f:g}": round(float(v), 3) for f, v in share.items()},
        "uniformised_two_groups": round(0.5 / float(rare.mean()), 1),  # rare and frequent weighted equally
    }


if __name__ == "__main__":
    torch.set_num_threads(1)
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else data_dir() / "rare"
    seeds = {int(s) for s in sys.argv[2:]} or {0}
    for folder in sorted(p for p in root.iterdir() if (p / "manifest.json").is_file()):
        if any(f"-s{s}-" in folder.name for s in seeds):
            print(json.dumps(measure(folder)), flush=True)
