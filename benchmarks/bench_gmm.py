"""GMM EM fit: adskit.gmm.GaussianMixture against sklearn.mixture.GaussianMixture.

16 diagonal components, D = 32, 100,000 vectors (20,000 with --quick), the EUSIPCO 2017 normal model's size.
Both sides start from the same parameters (weights, means, precisions passed as ``*_init``) and run exactly the
same number of EM iterations (``tol=0``), on the CPU, so the two final mean log-likelihoods must agree: they are
printed in the notes. scikit-learn computes in float64; adskit is timed in float64 (same arithmetic) and in
float32 (its fast option), each as its own row. Thread settings are left as they are on both sides.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from run import Case, Result, time_pair
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGMM

from adskit.gmm import GaussianMixture

N_COMPONENTS, N_FEATURES, N_ITER = 16, 32, 20


def _data(n: int, seed: int = 0):
    """A 16-cluster mixture with unequal spreads, and one shared start: uniform weights, random rows, 1/var."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, (N_COMPONENTS, N_FEATURES))
    spreads = rng.uniform(0.5, 1.5, (N_COMPONENTS, N_FEATURES))
    lab = rng.integers(0, N_COMPONENTS, n)
    X = centres[lab] + rng.normal(size=(n, N_FEATURES)) * spreads[lab]
    init = {
        "weights_init": np.full(N_COMPONENTS, 1.0 / N_COMPONENTS),
        "means_init": X[rng.choice(n, N_COMPONENTS, replace=False)],
        "precisions_init": np.tile(1.0 / X.var(0), (N_COMPONENTS, 1)),
    }
    return X, init


def _case(quick: bool, dtype: torch.dtype) -> Case:
    n = 20_000 if quick else 100_000
    name = f"gmm_em_fit_diag16_d32_n{n // 1000}k_{str(dtype).removeprefix('torch.')}"

    def run() -> Result:
        X, init = _data(n)
        kw = {"covariance_type": "diag", "tol": 0.0, "max_iter": N_ITER, **init}
        fitted = {}

        def fit_adskit():
            fitted["adskit"] = GaussianMixture(N_COMPONENTS, device="cpu", dtype=dtype, **kw).fit(X)

        def fit_sklearn():
            # random_from_data: the cheapest of scikit-learn's inits; all three *_init arrays then override it
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                sk = SkGMM(N_COMPONENTS, init_params="random_from_data", random_state=0, **kw)
                fitted["sklearn"] = sk.fit(X)

        t_ad, t_sk = time_pair(fit_adskit, fit_sklearn, repeats=3 if quick else 5)
        ad, sk = fitted["adskit"], fitted["sklearn"]
        assert ad.n_iter_ == sk.n_iter_ == N_ITER
        ll_ad, ll_sk = ad.score(X), sk.score(X)
        ratio = t_sk / t_ad
        return Result(
            name=name,
            adskit=t_ad,
            reference=t_sk,
            unit="s",
            ratio=ratio,
            ratio_label="sklearn/adskit (speed-up)",
            target=">= 2x",
            meets=ratio >= 2.0,
            notes=(
                f"{N_ITER} EM iterations each from the same start; final mean log-likelihood "
                f"adskit {ll_ad:.8f} vs sklearn {ll_sk:.8f} (diff {abs(ll_ad - ll_sk):.1e}); "
                f"torch threads {torch.get_num_threads()}"
            ),
            extra={
                "n": n,
                "dtype": str(dtype),
                "loglik_adskit": ll_ad,
                "loglik_sklearn": ll_sk,
                "lower_bound_adskit": ad.lower_bound_,
                "lower_bound_sklearn": sk.lower_bound_,
            },
        )

    return Case(name=name, run=run)


def cases(quick: bool) -> list[Case]:
    """EM fit at float64 (same arithmetic as scikit-learn) and float32 (adskit's fast option)."""
    return [_case(quick, torch.float64), _case(quick, torch.float32)]
