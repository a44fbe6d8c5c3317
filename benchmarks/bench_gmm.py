"""GMM fit: adskit.gmm.GaussianMixture against sklearn.mixture.GaussianMixture.

Two kinds of rows.

**Default against default** (issue 15): the family of data sets below, both fitted with
``GaussianMixture(n_components=16, covariance_type="diag", random_state=seed)`` and nothing else (adskit on
the CPU). One row per data set: time ratio sklearn/adskit, and in the notes the gap of mean log-likelihoods on
the training data (adskit - sklearn; positive = adskit's fit is better). Target: gap >= -1e-3 on every data set,
and ratio >= 2 at N = 100k. The family: 16 diagonal Gaussians, spreads uniform in [0.5, 1.5] per feature;
"well" = centres at least 10 apart; "overlapping" = centres drawn with s.d. 3 / sqrt(D) (a typical distance
of about 4 spreads); "unequal" = well separated, weights proportional to 0.75^c (largest / smallest 75);
"constdim" = well separated with feature 0 replaced by 5 + 0.001 N(0, 1) (variance of the order of reg_covar);
D in {8, 32, 64}, N in {10k, 100k}, seeds 0, 1, 2 (``--quick``: D = 32, seed 0). Each side's time is the median
of 5 interleaved fits (1 with ``--quick``), each after an untimed pause of :data:`PAUSE`.

**Fixed iterations from the same start**: 16 diagonal components, D = 32, 100,000 vectors (20,000 with --quick), the EUSIPCO 2017 normal model's size.
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
KINDS = ("well", "overlapping", "unequal", "constdim")
GAP_TOL = 1e-3  # target: mean log-likelihood gap (adskit - sklearn) >= -GAP_TOL
PAUSE = 0.2  # s before each timed default fit (run.time_pair): scikit-learn's OpenBLAS workers spin ~0.1 s after
# a fit, and on two cores adskit's fit right after paid for it (5-10 %, medians of 7 interleaved pairs)


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


def _fit_result(name: str, t_ad: float, t_sk: float, **fields) -> Result:
    """A row of fit times (s): the ratio is scikit-learn's time over adskit's (a speed-up)."""
    return Result(
        name=name,
        adskit=t_ad,
        reference=t_sk,
        unit="s",
        ratio=t_sk / t_ad,
        ratio_label="sklearn/adskit (speed-up)",
        **fields,
    )


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
        return _fit_result(
            name,
            t_ad,
            t_sk,
            target=">= 2x",
            meets=t_sk / t_ad >= 2.0,
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


def family_data(kind: str, d: int, n: int, seed: int) -> np.ndarray:
    """One data set of the default-vs-default family (see the module docstring), shape (n, d)."""
    rng = np.random.default_rng([seed, d, n, KINDS.index(kind)])
    spreads = rng.uniform(0.5, 1.5, (N_COMPONENTS, d))
    if kind == "overlapping":
        centres = rng.normal(0.0, 3.0 / np.sqrt(d), (N_COMPONENTS, d))
    else:  # at least 10 apart: draw each centre again until it is
        chosen: list[np.ndarray] = []
        while len(chosen) < N_COMPONENTS:
            c = rng.normal(0.0, 3.0, d)
            if all(np.linalg.norm(c - o) >= 10.0 for o in chosen):
                chosen.append(c)
        centres = np.array(chosen)
    w = 0.75 ** np.arange(N_COMPONENTS) if kind == "unequal" else np.ones(N_COMPONENTS)
    lab = rng.choice(N_COMPONENTS, n, p=w / w.sum())
    X = centres[lab] + rng.normal(size=(n, d)) * spreads[lab]
    if kind == "constdim":
        X[:, 0] = 5.0 + 1e-3 * rng.normal(size=n)
    return X


def _default_case(kind: str, d: int, n: int, seed: int, repeats: int) -> Case:
    name = f"gmm_default_{kind}_d{d}_n{n // 1000}k_s{seed}"

    def run() -> Result:
        X = family_data(kind, d, n, seed)
        kw = {"n_components": N_COMPONENTS, "covariance_type": "diag", "random_state": seed}
        fitted = {}

        def fit_adskit():
            fitted["adskit"] = GaussianMixture(**kw, device="cpu").fit(X)

        def fit_sklearn():
            fitted["sklearn"] = SkGMM(**kw).fit(X)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # counted in the notes (n_iter = max_iter)
            t_ad, t_sk = time_pair(fit_adskit, fit_sklearn, repeats=repeats, warmup=0, pause=PAUSE)
        ad, sk = fitted["adskit"], fitted["sklearn"]
        ll_ad, ll_sk = ad.score(X), sk.score(X)
        gap, ratio = ll_ad - ll_sk, t_sk / t_ad
        big = n >= 100_000
        return _fit_result(
            name,
            t_ad,
            t_sk,
            target=f"gap>=-{GAP_TOL:g}" + (", >=2x" if big else ""),
            meets=gap >= -GAP_TOL and (ratio >= 2.0 or not big),
            notes=(
                f"gap {gap:+.5f} (mean ln p adskit {ll_ad:.5f}, sklearn {ll_sk:.5f}); EM iterations "
                f"{ad.n_iter_} vs {sk.n_iter_}; median of {repeats}"
            ),
            extra={
                "kind": kind,
                "d": d,
                "n": n,
                "seed": seed,
                "gap": gap,
                "loglik_adskit": ll_ad,
                "loglik_sklearn": ll_sk,
                "n_iter_adskit": ad.n_iter_,
                "n_iter_sklearn": sk.n_iter_,
            },
        )

    return Case(name=name, run=run)


def cases(quick: bool) -> list[Case]:
    """Default-vs-default family, then EM at float64 (scikit-learn's arithmetic) and float32 from one start."""
    dims, seeds = ((32,), (0,)) if quick else ((8, 32, 64), (0, 1, 2))
    family = [
        _default_case(kind, d, n, seed, repeats=1 if quick else 5)
        for n in (10_000, 100_000)
        for kind in KINDS
        for d in dims
        for seed in seeds
    ]
    return [*family, _case(quick, torch.float64), _case(quick, torch.float32)]
