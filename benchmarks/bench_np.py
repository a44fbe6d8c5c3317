"""Cost of one Neyman-Pearson training step (Algorithm 1), split into its parts.

The network and GMM have the paper's sizes (Q = 1344 = 64 mel x 21 frames, F = 3 x 512 ReLU, D = 32, K = 100,
C = 16 diagonal) and the GMM and phi_rho are refreshed every step on all normal vectors, as Algorithm 1 says.
Each part (VAE step on O, feature pass over D, EM + phi_rho, Algorithm 2 + decoding, NP ascent step) is
reported as seconds per step next to the whole step; ratio = part / whole step, so the expensive part is
visible. The whole step is the reference. Medians over repeated short fits (``NPDetector.timings_``).
"""

from __future__ import annotations

import functools
import statistics

import numpy as np
from run import Case, Result

from adskit.detectors.neyman_pearson import TIMED_PARTS, NPDetector


@functools.lru_cache(maxsize=2)
def _measure(quick: bool) -> dict[str, float]:
    n_d, n_steps, repeats = (2000, 6, 3) if quick else (14000, 20, 3)
    rng = np.random.default_rng(0)
    q = 64 * 21
    D = rng.normal(size=(n_d, q)).astype(np.float32)
    O = rng.normal(0.5, 1.2, size=(2 * n_d, q)).astype(np.float32)
    runs = []
    for r in range(repeats):
        det = NPDetector(n_steps=n_steps, em_every=1, gmm_max_iter=1, device="auto", random_state=r)
        det.fit(D, X_other=O)
        runs.append({k: v / n_steps for k, v in det.timings_.items()})
    out = {k: statistics.median(run[k] for run in runs) for k in (*TIMED_PARTS, "total")}
    out["n_d"] = float(n_d)
    return out


def _case(part: str, quick: bool) -> Case:
    def run() -> Result:
        t = _measure(quick)
        whole = t["total"]
        covered = sum(t[p] for p in TIMED_PARTS) / whole
        return Result(
            name=f"np step: {part}",
            adskit=t[part],
            reference=whole,
            unit="s",
            ratio=t[part] / whole,
            ratio_label="part / whole step",
            target="visible split",
            meets=0.9 <= covered <= 1.01,  # the five parts account for the step
            notes=f"K_d = {int(t['n_d'])} normal vectors, all refreshed per step; parts cover {covered:.0%}",
        )

    return Case(f"np step: {part}", run)


def cases(quick: bool) -> list[Case]:
    """One case per part of the Algorithm 1 step."""
    return [_case(p, quick) for p in TIMED_PARTS]
