"""The Neyman-Pearson algorithms of EUSIPCO 2017: the steps of Algorithm 1, Algorithm 2, a generic NP trainer.

* :class:`_Algorithm1` holds the training steps of Algorithm 1 as methods that
  :class:`adskit.detectors.neyman_pearson.NPDetector` inherits (they read its parameters; the estimator, its
  parameters and its scoring are in :mod:`adskit.detectors.neyman_pearson`): ``_train`` (the loop),
  ``_recon_step`` (VAE / AE cost), ``_refresh_normal_model`` (features of D, warm-started EM, phi_rho),
  ``_np_step`` (Algorithm 2, decoding, the ascent of eq 12) and ``_final_normal_model`` (the GMM on all of D).
* :func:`sample_anomalous_features` (Algorithm 2) draws f ~ N(0, I) (or from another ``proposal``, e.g. the
  aggregate posterior of O) and keeps it when the normal model's anomaly score L(f) exceeds phi_rho (eq 17).
* :class:`NPDiagnostics` records, per NP step, what tells a learning extractor from a collapsing one (Algorithm
  2's acceptance rate, the spread of the normal features, saturated sigmoids, the two terms of (12), held-out
  TPR); :class:`NPCollapseWarning` names a collapse when it happens.
* :func:`train_np_score` trains any score model s(x) by the Neyman-Pearson objective (12) alone, for examples
  where both classes are known (notebook 02's Gaussian examples, whose most powerful test is known in closed
  form).

Directions: every score here is higher = more anomalous.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_array
from tqdm.auto import tqdm

from .._scaling import safe_scale
from .._utils import check_positive
from ..gmm import GaussianMixture
from ..losses import anomaly_score, kl_standard_normal, np_loss, vae_loss
from ..threshold import phi_rho

__all__ = [
    "DIAGNOSTICS",
    "TIMED_PARTS",
    "NPCollapseWarning",
    "NPDiagnostics",
    "SamplingError",
    "sample_anomalous_features",
    "train_np_score",
]

TIMED_PARTS = ("vae_step", "feature_pass", "em", "sampling", "np_step")
SATURATED = (0.01, 0.99)  # a sigmoid of (11) below / above these passes (almost) no gradient
DIAGNOSTICS = (
    "step",
    "acceptance_rate",
    "feature_trace",
    "gmm_min_var",
    "gmm_floor",
    "phi",
    "tpr_term",
    "fpr_term",
    "saturated_anomalous",
    "saturated_normal",
    "valid_tpr",
    "valid_fpr",
)


class SamplingError(RuntimeError):
    """Algorithm 2 accepted no sample within its budget of draws (the message gives the acceptance rate)."""


class NPCollapseWarning(UserWarning):
    """PROP's training is collapsing: the normal features shrank onto (nearly) one point, or the sigmoids of a
    term of (12) saturated so that its gradient vanishes. The message names the cause, the NP step and the
    numbers; ``NPDetector.diagnostics_`` holds the whole record."""


class NPDiagnostics:
    """Read-only observations of Algorithm 1, one row per NP step (steps before ``warmup_steps`` have none).

    Quantities measured at a refresh of the normal model (every ``em_every`` steps) are repeated on the NP
    steps until the next refresh. Every column is an array of the same length (:meth:`as_dict`):

    ``step``
        Training step (0-based, counting the warm-up steps).
    ``acceptance_rate``
        Algorithm 2: accepted / drawn prior samples (1 = every N(0, I) draw already lies beyond phi_rho).
    ``feature_trace``
        tr Cov[F(x)] over the normal vectors of the refresh, on the encoder's own scale (before any feature
        standardisation): the spread the NP step can shrink.
    ``gmm_min_var``, ``gmm_floor``
        The GMM's smallest variance (over components and dimensions; the diagonal for "full") and its floor
        ``reg_covar`` (relative floors resolved); a ratio near 1 means the normal model sits on its floor.
    ``phi``
        phi_rho of the refresh.
    ``tpr_term``, ``fpr_term``
        The two terms of (12): mean sigmoid(slope (L - phi)) over the decoded anomalies and over the normal
        mini-batch (the objective is their difference).
    ``saturated_anomalous``, ``saturated_normal``
        Share of those sigmoids below 0.01 or above 0.99 in each term.
    ``valid_tpr``, ``valid_fpr``
        Share of held-out anomalous / normal vectors with L > phi_rho at the refresh (NaN without a
        validation set, or without rows of that class).

    A collapse raises :class:`NPCollapseWarning` once per cause per fit: ``feature_trace`` below
    ``collapse_spread`` times its value at the first refresh, or a saturated share above
    ``collapse_saturation`` in either term.
    """

    def __init__(self, collapse_spread: float = 0.01, collapse_saturation: float = 0.9) -> None:
        self.collapse_spread = float(collapse_spread)
        self.collapse_saturation = float(collapse_saturation)
        self._rows: dict[str, list[float]] = {k: [] for k in DIAGNOSTICS}
        self._refresh: dict[str, float] = {}
        self._start_trace = math.nan
        self._warned: set[str] = set()

    def refresh(self, step: int, normal: _NormalModel, valid: tuple[torch.Tensor, np.ndarray] | None) -> None:
        """Note the spread, the floor and the held-out rates of a refreshed normal model ``normal``.

        ``valid`` = (features of the validation vectors under F, labels 1 = anomalous / 0 = normal) or None.
        """
        cov = normal.gmm.covariances_
        variances = cov if cov.ndim == 2 else np.diagonal(cov, axis1=-2, axis2=-1)
        tpr = fpr = math.nan
        if valid is not None:
            with torch.no_grad():
                flagged = (normal.anomaly_score(valid[0]) > normal.phi).cpu().numpy()
            y = valid[1]
            tpr = float(flagged[y == 1].mean()) if (y == 1).any() else math.nan
            fpr = float(flagged[y == 0].mean()) if (y == 0).any() else math.nan
        self._refresh = {
            "feature_trace": normal.feature_trace,
            "gmm_min_var": float(variances.min()),
            "gmm_floor": float(normal.gmm.reg_covar),
            "phi": normal.phi,
            "valid_tpr": tpr,
            "valid_fpr": fpr,
        }
        if math.isnan(self._start_trace):
            self._start_trace = normal.feature_trace
        ratio = normal.feature_trace / self._start_trace if self._start_trace > 0 else math.nan
        if ratio < self.collapse_spread:
            self._warn(
                "spread",
                f"PROP collapse at step {step}: the normal features shrank onto nearly one point (trace of their "
                f"covariance {normal.feature_trace:.3g}, {ratio:.2%} of its start {self._start_trace:.3g}; "
                f"warning below {self.collapse_spread:.0%}); the GMM's smallest variance is "
                f"{self._refresh['gmm_min_var']:.3g} against its floor {self._refresh['gmm_floor']:.3g}",
            )

    def np_step(self, step: int, rate: float, s_a: torch.Tensor, s_d: torch.Tensor) -> None:
        """Note one NP step: Algorithm 2's acceptance ``rate`` and the sigmoids s_a, s_d of the two terms of (12)."""
        lo, hi = SATURATED
        row = {
            "step": float(step),
            "acceptance_rate": float(rate),
            "tpr_term": float(s_a.mean()),
            "fpr_term": float(s_d.mean()),
            "saturated_anomalous": float(((s_a < lo) | (s_a > hi)).float().mean()),
            "saturated_normal": float(((s_d < lo) | (s_d > hi)).float().mean()),
            **self._refresh,
        }
        for k in DIAGNOSTICS:
            self._rows[k].append(row[k])
        for term, key, name in (
            ("anomalous", "tpr_term", "TPR (decoded anomalies)"),
            ("normal", "fpr_term", "FPR (normal mini-batch)"),
        ):
            share = row[f"saturated_{term}"]
            if share > self.collapse_saturation:
                self._warn(
                    f"saturation_{term}",
                    f"PROP saturation at step {step}: {share:.0%} of the sigmoids in the {name} term of (12) are "
                    f"below {lo} or above {hi} (warning above {self.collapse_saturation:.0%}), so that term passes "
                    f"almost no gradient (term {row[key]:.3g}, phi_rho {row['phi']:.4g}, Algorithm 2 acceptance "
                    f"rate {rate:.2f})",
                )

    def _warn(self, cause: str, message: str) -> None:
        if cause not in self._warned:
            self._warned.add(cause)
            warnings.warn(message, NPCollapseWarning, stacklevel=6)  # at the caller of fit

    @property
    def warned(self) -> tuple[str, ...]:
        """The causes warned about: "spread", "saturation_anomalous", "saturation_normal"."""
        return tuple(sorted(self._warned))

    def as_dict(self) -> dict[str, np.ndarray]:
        """The record as ``{name: np.ndarray [shape=(n_np_steps,)]}`` over :data:`DIAGNOSTICS`."""
        return {k: np.asarray(v, dtype=float) for k, v in self._rows.items()}


def sample_anomalous_features(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    phi: float,
    n: int,
    dim: int,
    *,
    max_draws: int = 100_000,
    batch: int | None = None,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
    proposal: Callable[[int], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Algorithm 2: draw f ~ N(0_D, I_D) and keep it if L(f) > phi (rejection sampling of eq 17).

    Draws in batches until ``n`` are accepted or ``max_draws`` draws are spent. ``proposal`` replaces the
    prior N(0, I) by another candidate distribution (not in the paper).

    Parameters
    ----------
    score_fn : callable
        L: a (m, D) tensor -> (m,) anomaly scores (higher = more anomalous), e.g. ``lambda f:
        -gmm.log_prob(f)``.
    phi : float
        phi_rho, the threshold to exceed.
    n : int
        Number of samples wanted (>= 1).
    dim : int
        D.
    max_draws : int
        Budget of draws (>= n).
    batch : int or None
        Draws per round; None = ``max(4 n, 256)``.
    generator : torch.Generator or None
        CPU generator for the draws (seeded by the caller); None uses torch's global one.
    device : str or torch.device
        Where ``score_fn`` runs.
    proposal : callable or None
        m -> (m, dim) tensor of candidates on ``device`` (it owns its random stream); None = the paper's
        N(0, I) drawn with ``generator``.

    Returns
    -------
    f : torch.Tensor [shape=(m, dim)], m <= n
        Accepted samples, every one with L(f) > phi. **Fallback**: if the budget ends with
        0 < m < n accepted, the m are returned (the caller averages over m).
    stats : dict
        ``n_drawn``, ``n_accepted`` (before truncation to n) and ``acceptance_rate``.

    Raises
    ------
    SamplingError
        No draw was accepted; the message gives the acceptance rate 0 / n_drawn, phi and the largest L seen.
    ValueError
        If ``n``, ``dim`` or ``batch`` is below 1, ``max_draws < n``, ``phi`` is NaN, or ``score_fn`` does not
        return one score per draw.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> f, st = sample_anomalous_features(lambda f: (f**2).sum(1), 4.0, 10, 2, generator=g)
    >>> bool(((f**2).sum(1) > 4.0).all()), f.shape[0]
    (True, 10)
    """
    n, dim, max_draws = int(n), int(dim), int(max_draws)
    if n < 1:
        raise ValueError(f"n: expected a positive number of samples, got {n!r}")
    if dim < 1:
        raise ValueError(f"dim: expected a positive dimension, got {dim!r}")
    if max_draws < n:
        raise ValueError(f"max_draws: expected at least n={n}, got {max_draws!r}")
    phi = float(phi)
    if math.isnan(phi):
        raise ValueError("phi: is NaN")
    size = int(batch) if batch is not None else max(4 * n, 256)
    if size < 1:
        raise ValueError(f"batch: expected a positive integer, got {batch!r}")
    kept: list[torch.Tensor] = []
    n_drawn = n_acc = 0
    top = -math.inf
    with torch.no_grad():
        while n_acc < n and n_drawn < max_draws:
            m = min(size, max_draws - n_drawn)
            if proposal is None:
                f = torch.randn(m, dim, generator=generator).to(device)
            else:
                f = proposal(m)
                if f.shape != (m, dim):
                    raise ValueError(f"proposal: expected candidates of shape ({m}, {dim}), got {tuple(f.shape)}")
            L = score_fn(f)
            if L.shape != (m,):
                raise ValueError(f"score_fn: expected {m} scores of shape ({m},), got {tuple(L.shape)}")
            ok = L > phi  # a NaN score is never accepted
            n_drawn += m
            n_acc += int(ok.sum())
            finite = L[torch.isfinite(L)]
            if finite.numel():
                top = max(top, float(finite.max()))
            if bool(ok.any()):
                kept.append(f[ok])
    rate = n_acc / max(n_drawn, 1)
    if n_acc == 0:
        raise SamplingError(
            f"Algorithm 2 accepted no sample: acceptance rate 0/{n_drawn} with phi={phi:.4g} "
            f"(largest L seen {top:.4g}); the normal model covers the whole "
            f"{'N(0, I) prior' if proposal is None else 'proposal'}. Raise max_draws, raise rho, or train the VAE "
            "longer so its features spread"
        )
    return torch.cat(kept)[:n], {"n_drawn": float(n_drawn), "n_accepted": float(n_acc), "acceptance_rate": rate}


def train_np_score(
    model: torch.nn.Module,
    X_normal: Any,
    X_anomalous: Any,
    rho: float = 0.05,
    n_steps: int = 500,
    lr: float = 1e-2,
    batch_size: int = 256,
    slope: float = 1.0,
    random_state: int = 0,
) -> dict[str, np.ndarray]:
    """Train any score function s(x) by the Neyman-Pearson objective (12) alone, in place.

    The core of Algorithm 1 without the VAE and GMM, for examples where both classes are known (the
    notebook's Gaussian examples, where the most powerful test is known in closed form). Per step:
    phi_rho = floor(rho N)-th largest s over **all** normal vectors (a constant), then one Adam step
    maximising mean sigmoid(slope (s(a) - phi)) over an anomalous mini-batch minus the same over a normal one.

    Parameters
    ----------
    model : torch.nn.Module
        Maps (n, d) -> (n,) or (n, 1) scores, higher = more anomalous.
    X_normal : array-like [shape=(N, d)]
    X_anomalous : array-like [shape=(M, d)]
    rho : float
        Target false-positive rate in (0, 1).
    n_steps, lr, batch_size, slope : optimisation settings
    random_state : int
        Seeds the mini-batch draws.

    Returns
    -------
    history : dict
        ``"objective"`` (TPR - FPR surrogate per step) and ``"phi"`` (phi_rho per step), each (n_steps,).

    Raises
    ------
    ValueError
        If ``rho`` is outside (0, 1), ``lr`` is not positive, or the two sets are not finite 2-D arrays with
        the same number of features.
    """
    if not 0.0 < float(rho) < 1.0:
        raise ValueError(f"rho: expected a false-positive rate in (0, 1), got {rho!r}")
    xn = torch.as_tensor(check_array(X_normal, dtype=np.float32))
    xa = torch.as_tensor(check_array(X_anomalous, dtype=np.float32))
    if xa.shape[1] != xn.shape[1]:
        raise ValueError(f"X_anomalous: has {xa.shape[1]} features, X_normal has {xn.shape[1]}")
    gen = torch.Generator().manual_seed(int(random_state))
    opt = torch.optim.Adam(model.parameters(), lr=check_positive(lr, "lr"))
    hist = {"objective": np.zeros(int(n_steps)), "phi": np.zeros(int(n_steps))}
    bs = int(batch_size)

    def s(x: torch.Tensor) -> torch.Tensor:
        return model(x).reshape(-1)

    for step in range(int(n_steps)):
        with torch.no_grad():
            phi = phi_rho(s(xn).numpy(), float(rho))
        i_n = torch.randint(0, xn.shape[0], (min(bs, xn.shape[0]),), generator=gen)
        i_a = torch.randint(0, xa.shape[0], (min(bs, xa.shape[0]),), generator=gen)
        loss = np_loss(s(xa[i_a]), s(xn[i_n]), phi, slope)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist["objective"][step] = -float(loss.detach())
        hist["phi"][step] = phi
    return hist


# ---------------------------------------------------------------------- Algorithm 1


@dataclass(frozen=True)
class _NormalModel:
    """p(f | z=0) at one refresh of Algorithm 1, with the constants the NP step uses until the next refresh.

    ``anomaly_score(f)`` = L(f) = -ln p((f - mean) / scale) under ``gmm`` (eq 4), higher = more anomalous.
    """

    gmm: GaussianMixture
    mean: torch.Tensor  # (D,) feature standardisation (zeros unless standardize_features)
    scale: torch.Tensor  # (D,)
    phi: float  # phi_rho on the refreshed features of D
    slope: float  # the sigmoid slope of (11)
    feature_trace: float = math.nan  # tr Cov of the raw features of D at the refresh (a diagnostic only)

    def anomaly_score(self, f: torch.Tensor) -> torch.Tensor:
        return -self.gmm.log_prob((f - self.mean) / self.scale)


class _Algorithm1:
    """The training steps of Algorithm 1, inherited by :class:`~adskit.detectors.neyman_pearson.NPDetector`.

    The methods read the estimator's parameters (``extractor``, ``batch_size``, ``rho``, ...) and its
    ``model_`` (a :class:`adskit.models.vae.VAE`); they take the data and the training state as arguments and
    return what they compute (``_final_normal_model`` sets ``gmm_`` and the feature standardisation).
    """

    def _features(self, Z: torch.Tensor) -> torch.Tensor:
        """F(z) of standardised inputs (n, Q) -> (n, D): the encoder's mean (the code for the AE)."""
        return self.model_.encoder(Z)[0]

    def _features_batched(self, Z: torch.Tensor, batch: int = 8192) -> torch.Tensor:
        return torch.cat([self._features(Z[i : i + batch]) for i in range(0, Z.shape[0], batch)])

    def _floor(self, f: torch.Tensor) -> float:
        """The GMM variance floor for features f: ``reg_covar``, times their mean variance if relative."""
        if not self.reg_covar_relative:
            return float(self.reg_covar)
        return float(self.reg_covar) * max(float(f.var(0, unbiased=False).mean()), 1e-30)

    def _standardizer(self, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-dimension mean and scale (ddof 0) of features f (identity when ``standardize_features`` is off).

        In f's dtype (float32), as the NP step uses them; the floor is :func:`adskit._scaling.safe_scale`'s.
        """
        if not self.standardize_features:
            return torch.zeros_like(f[0]), torch.ones_like(f[0])
        return f.mean(0), safe_scale(f.std(0, unbiased=False))

    def _slope(self, L: torch.Tensor) -> float:
        """Sigmoid slope of (11): the number given, or 1 / (std or IQR) of the normal scores L."""
        if not isinstance(self.slope, str):
            return float(self.slope)
        L = L[torch.isfinite(L)].double()
        if self.slope == "std":
            spread = float(L.std(unbiased=False))
        else:
            q = torch.quantile(L, torch.tensor([0.25, 0.75], dtype=L.dtype, device=L.device))
            spread = float(q[1] - q[0])
        return 1.0 / max(spread, 1e-12)

    def _new_gmm(self, max_iter: int, reg_covar: float, warm_start: bool = False) -> GaussianMixture:
        return GaussianMixture(
            n_components=int(self.n_components),
            covariance_type=self.covariance_type,
            max_iter=int(max_iter),
            reg_covar=float(reg_covar),
            warm_start=warm_start,
            random_state=int(self.random_state),
            device=self.device,
        )

    collapse_spread = 0.01  # NPCollapseWarning when tr Cov[F(D)] falls below this fraction of its start
    collapse_saturation = 0.9  # ... or when this share of a term's sigmoids of (12) is saturated

    def _train(
        self,
        Zd: torch.Tensor,
        Zr: torch.Tensor,
        n_steps: int,
        gen: torch.Generator,
        valid: tuple[torch.Tensor, np.ndarray] | None = None,
        Zo: torch.Tensor | None = None,
    ) -> tuple[dict[str, np.ndarray], dict[str, float], _NormalModel | None]:
        """The training loop; returns the history, the timings and the last tracked normal model ("np").

        ``Zo`` (the standardised O) is what ``anomaly_sampler="posterior"`` or ``"encoded"`` encodes for
        Algorithm 2's candidates.

        Sets ``diagnostics_`` (:meth:`NPDiagnostics.as_dict`; empty arrays for the baselines) and
        ``collapse_warnings_`` (the causes warned about); ``valid`` = (standardised validation vectors, labels
        1 = anomalous / 0 = normal) adds held-out rates. Observing changes no number: the diagnostics draw no
        random numbers and run F without dropout, as the refresh does.
        """
        diag = NPDiagnostics(self.collapse_spread, self.collapse_saturation)
        dev, bs, wd = Zd.device, int(self.batch_size), float(self.weight_decay)
        opt = torch.optim.Adam(self.model_.parameters(), lr=float(self.lr), weight_decay=wd)
        hist: dict[str, np.ndarray] = {"recon": np.zeros(n_steps)}
        timings = dict.fromkeys(TIMED_PARTS, 0.0)
        is_np, warm = self.extractor == "np", int(self.warmup_steps)
        normal: _NormalModel | None = None
        if is_np:
            opt_np = torch.optim.Adam(
                self.model_.encoder.parameters(), lr=float(self.np_lr or self.lr), weight_decay=wd
            )
            n_em = Zd.shape[0] if self.n_em_vectors is None else min(int(self.n_em_vectors), Zd.shape[0])
            if n_em < int(self.n_components):
                raise ValueError(f"n_em_vectors: {n_em} vectors for EM, fewer than n_components={self.n_components}")
            em_idx = torch.randperm(Zd.shape[0], generator=gen)[:n_em].to(dev)
            for k in ("np_objective", "phi", "slope", "acceptance_rate"):
                hist[k] = np.zeros(n_steps)
        t_start = time.perf_counter()
        for step in tqdm(range(n_steps), disable=not self.progress, desc=f"NP[{self.extractor}]", leave=False):
            t0 = time.perf_counter()
            xb = Zr[torch.randint(0, Zr.shape[0], (min(bs, Zr.shape[0]),), generator=gen).to(dev)]
            hist["recon"][step] = self._recon_step(xb, opt, gen, self._kl_weight(step))
            timings["vae_step"] += time.perf_counter() - t0
            if not is_np or step < warm:
                continue
            self.model_.eval()  # features, GMM, phi_rho and the NP step use F without dropout
            if (step - warm) % int(self.em_every) == 0:
                normal = self._refresh_normal_model(Zd[em_idx], normal, step, timings)
                with torch.no_grad():
                    fv = None if valid is None else (self._features_batched(valid[0]), valid[1])
                diag.refresh(step, normal, fv)
            objective, rate, (s_a, s_d) = self._np_step(Zd, normal, opt_np, gen, timings, Zo)
            hist["np_objective"][step], hist["acceptance_rate"][step] = objective, rate
            hist["phi"][step], hist["slope"][step] = normal.phi, normal.slope
            diag.np_step(step, rate, s_a, s_d)
        timings["total"] = time.perf_counter() - t_start
        self.diagnostics_, self.collapse_warnings_ = diag.as_dict(), diag.warned
        bad = [k for k, v in hist.items() if not np.isfinite(v).all()]
        if bad:
            raise FloatingPointError(
                f"training diverged ({', '.join(bad)} became NaN or Inf); lower lr or np_lr, or check the input"
            )
        return hist, timings, normal

    def _kl_weight(self, step: int) -> float:
        """Weight of the KL term (20) at a training step: 1 (the paper), or the ``kl_warmup`` linear ramp."""
        warm = int(getattr(self, "kl_warmup", 0))
        return 1.0 if warm == 0 else min(1.0, (step + 1) / warm)

    def _recon_step(
        self, xb: torch.Tensor, opt: torch.optim.Optimizer, gen: torch.Generator, kl_weight: float = 1.0
    ) -> float:
        """One Adam step of F and G on the mini-batch xb: the VAE cost (19) + ``kl_weight`` x (20), or squared
        error for "ae"."""
        self.model_.train()
        if self.extractor == "ae":  # deterministic: zeta = f, no KL term
            x_hat, _, _ = self.model_(xb, torch.zeros(xb.shape[0], int(self.latent_dim), device=xb.device))
            loss = anomaly_score(xb, x_hat).mean()
        else:
            noise = torch.randn(xb.shape[0], int(self.latent_dim), generator=gen).to(xb.device)
            x_hat, f, log_var = self.model_(xb, noise)
            if kl_weight == 1.0:
                loss = vae_loss(xb, x_hat, f, log_var)
            else:  # KL warm-up against posterior collapse (not in the paper)
                loss = anomaly_score(xb, x_hat).mean() + kl_weight * kl_standard_normal(f, log_var).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss.detach())

    def _refresh_normal_model(
        self, Z: torch.Tensor, previous: _NormalModel | None, step: int, timings: dict[str, float]
    ) -> _NormalModel:
        """Features of the normal vectors Z, ``em_iter`` EM iterations warm-started from ``previous`` (a new
        mixture; ``previous`` is left as it is), phi_rho and the slope on them.

        Raises FloatingPointError if the features are not finite.
        """
        t0 = time.perf_counter()
        with torch.no_grad():
            fd = self._features_batched(Z)
        if not bool(torch.isfinite(fd).all()):
            raise FloatingPointError(
                f"training diverged at step {step}: the features of D became NaN or Inf (the NP ascent "
                "inflated the encoder until the VAE's variance overflowed); lower np_lr, or use slope=1"
            )
        t1 = time.perf_counter()
        timings["feature_pass"] += t1 - t0
        f_mu, f_sd = self._standardizer(fd)
        z = (fd - f_mu) / f_sd
        floor = self._floor(z)
        gmm = self._new_gmm(1, floor) if previous is None else previous.gmm.with_params(reg_covar=floor)
        gmm.partial_em(z, int(self.em_iter))
        with torch.no_grad():
            L_d = -gmm.log_prob(z)
            phi = phi_rho(L_d.cpu().numpy(), float(self.rho))
            slope = self._slope(L_d)
            trace = float(fd.double().var(0, unbiased=False).sum())  # diagnostics only
        timings["em"] += time.perf_counter() - t1
        return _NormalModel(gmm, f_mu, f_sd, phi, slope, trace)

    def _np_step(
        self,
        Zd: torch.Tensor,
        normal: _NormalModel,
        opt: torch.optim.Optimizer,
        gen: torch.Generator,
        timings: dict[str, float],
        Zo: torch.Tensor | None = None,
    ) -> tuple[float, float, tuple[torch.Tensor, torch.Tensor]]:
        """Algorithm 2, decoding by G (eq 18) and one Adam step of F ascending (12).

        Algorithm 2's candidates come from N(0, I) (``anomaly_sampler="prior"``, the paper), from the
        aggregate posterior of O (``"posterior"``: f = mu(x) + sigma(x) eps for x drawn from ``Zo``, F without
        dropout), which is where G was trained to decode from, or from the features of O (``"encoded"``: f =
        F(x) = mu(x), the empirical p(F(x)) of eq 15).

        Returns the surrogate TPR - FPR (higher = better), Algorithm 2's acceptance rate and, for the
        diagnostics, the sigmoids of the two terms of (12) before the step (detached: (m,) and (K,)).
        """
        bs, dev = int(self.batch_size), Zd.device
        t0 = time.perf_counter()
        f_a, st = sample_anomalous_features(
            normal.anomaly_score,
            normal.phi,
            bs,
            int(self.latent_dim),
            max_draws=int(self.max_draws),
            generator=gen,
            device=dev,
            proposal=self._posterior_proposal(Zo, gen)
            if getattr(self, "anomaly_sampler", "prior") != "prior"
            else None,
        )
        with torch.no_grad():
            x_a = self.model_.decoder(f_a)  # eq 18
        t1 = time.perf_counter()
        timings["sampling"] += t1 - t0
        xd = Zd[torch.randint(0, Zd.shape[0], (min(bs, Zd.shape[0]),), generator=gen).to(dev)]
        l_a, l_d = normal.anomaly_score(self._features(x_a)), normal.anomaly_score(self._features(xd))
        loss = np_loss(l_a, l_d, normal.phi, normal.slope)
        with torch.no_grad():  # the same sigmoids as np_loss, observed only
            terms = (torch.sigmoid(normal.slope * (l_a - normal.phi)), torch.sigmoid(normal.slope * (l_d - normal.phi)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        timings["np_step"] += time.perf_counter() - t1
        return -float(loss.detach()), st["acceptance_rate"], terms

    def _posterior_proposal(self, Zo: torch.Tensor | None, gen: torch.Generator) -> Callable[[int], torch.Tensor]:
        """m -> m draws of the aggregate posterior of O, q(f) = mean over x in O of N(mu(x), sigma(x)^2), or of
        its means F(x) alone (``anomaly_sampler="encoded"``)."""
        if Zo is None or Zo.shape[0] == 0:
            raise ValueError(f"anomaly_sampler: {self.anomaly_sampler!r} needs the set O (X_other) to encode")
        encoded = self.anomaly_sampler == "encoded"

        def draw(m: int) -> torch.Tensor:
            x = Zo[torch.randint(0, Zo.shape[0], (m,), generator=gen).to(Zo.device)]
            eps = torch.randn(m, int(self.latent_dim), generator=gen).to(Zo.device)
            with torch.no_grad():
                mu, log_var = self.model_.encoder(x)
                return mu if encoded else mu + torch.exp(0.5 * log_var) * eps

        return draw

    def _final_normal_model(self, Zd: torch.Tensor, tracked: _NormalModel | None) -> torch.Tensor:
        """Fit p(f | z=0) on the features of all of D (``gmm_``, ``feature_mean_``, ``feature_scale_``).

        For "np" the tracked mixture continues to convergence (a warm-started copy); the baselines fit a new
        one. Returns the standardised features of D, shape (K_d, D).
        """
        self.model_.eval()
        with torch.no_grad():
            f = self._features_batched(Zd)
        f_mu, f_sd = self._standardizer(f)
        self.feature_mean_, self.feature_scale_ = f_mu.cpu().double().numpy(), f_sd.cpu().double().numpy()
        f = (f - f_mu) / f_sd
        floor = self._floor(f)
        if tracked is not None:
            gmm = tracked.gmm.with_params(warm_start=True, max_iter=int(self.gmm_max_iter), reg_covar=floor)
        else:
            gmm = self._new_gmm(int(self.gmm_max_iter), floor, warm_start=self.extractor == "np")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.gmm_ = gmm.fit(f)
        return f
