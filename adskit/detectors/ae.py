"""Autoencoder detector trained with the RE, SNP or BU cost (Koizumi et al., WASPAA 2019).

The estimator owns the training loop; the model (:class:`adskit.models.Autoencoder`) only has ``forward``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .._utils import as_float_tensor, check_positive, resolve_device
from ..kde import bu_weights, median_heuristic
from ..losses import anomaly_score, bu_loss, re_loss, snp_loss
from ..models import Autoencoder
from .base import BaseDetector

__all__ = ["AEDetector", "lr_schedule"]

COSTS = ("re", "snp", "bu")


def lr_schedule(step: int, n_steps: int, decay_start: float = 0.5, final_factor: float = 0.01) -> float:
    """Learning-rate factor: 1 until ``decay_start * n_steps``, then linear down to ``final_factor``.

    The BU paper: constant for 100 epochs, then linearly to 1/100 over epochs 100-200 (decay_start=0.5,
    final_factor=0.01). ``final_factor=1`` keeps the rate constant.
    """
    start = decay_start * n_steps
    if step < start or n_steps <= start:
        return 1.0
    frac = min((step - start) / max(n_steps - start, 1), 1.0)
    return 1.0 + frac * (final_factor - 1.0)


class AEDetector(BaseDetector):
    """Autoencoder anomaly detector: ``anomaly_score(X) = ||x - D(E(x))||^2`` (eq 5; higher = more anomalous).

    Parameters
    ----------
    cost : "re" | "snp" | "bu"
        RE: mean reconstruction error (eq 7). SNP: RE minus the clipped error of simulated anomalies (9-10).
        BU: KDE-weighted RE minus the same clipped term (16); without anomalies, the weighted term alone.
    hidden, latent_dim, decoder_hidden, activation, batchnorm : the architecture (see ``Autoencoder``)
    h : float or "median"
        KDE bandwidth (BU only), in the units of the KDE input; "median" = median heuristic on the training
        data (after ``kde_standardize``).
    eps : float >= 0, the BU weight regulariser (16)
    C : float or "auto"
        Clip of the anomalous term (SNP, BU). "auto" follows "the tendency of the maximum value of A of normal
        training samples" (paper §4.1.1): at each update C = ``c_factor`` x an exponential moving average of the
        batch maximum of the normal scores.
    c_factor : float, multiplier for C="auto"
    standardize_input : bool, standardise inputs per dimension with training statistics (any feature scale)
    kde_standardize : bool, standardise the KDE input per dimension with training statistics (paper §4.2.2);
        with ``standardize_input`` the AE input already is
    lr, n_updates, batch_size, anomalous_batch_size, decay_start, final_factor : AMSGrad optimisation;
        ``n_updates`` total mini-batch updates (default: 100 epochs); the rate is constant then decays
        linearly (see :func:`lr_schedule`)
    rho : float in (0, 1), false-positive rate of the default threshold ``offset_`` (see ``BaseDetector``)
    random_state : int, seeds the initial parameters and the mini-batch draws; equal seeds give RE, SNP and
        BU identical starting parameters
    device : "auto", "cpu" or "cuda"
    progress : bool, show a tqdm bar

    Attributes
    ----------
    model_ : Autoencoder
    mean_, scale_ : np.ndarray (d,), input standardisation (zeros/ones when off)
    h_ : float, the bandwidth used; C_ : float, the final clip; history_ : dict of per-update losses
    threshold_, offset_ : the default decision threshold (see ``BaseDetector``)
    """

    def __init__(
        self,
        cost: str = "bu",
        hidden: Sequence[int] = (128, 128, 128, 128),
        latent_dim: int = 8,
        decoder_hidden: Sequence[int] | None = None,
        activation: str = "relu",
        batchnorm: bool = False,
        h: float | str = "median",
        eps: float = 1e-6,
        C: float | str = "auto",
        c_factor: float = 2.0,
        standardize_input: bool = True,
        kde_standardize: bool = True,
        lr: float = 1e-3,
        n_updates: int | None = None,
        batch_size: int = 512,
        anomalous_batch_size: int | None = None,
        decay_start: float = 0.5,
        final_factor: float = 0.01,
        rho: float = 0.05,
        random_state: int = 0,
        device: str = "auto",
        progress: bool = False,
    ) -> None:
        self.cost = cost
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.decoder_hidden = decoder_hidden
        self.activation = activation
        self.batchnorm = batchnorm
        self.h = h
        self.eps = eps
        self.C = C
        self.c_factor = c_factor
        self.standardize_input = standardize_input
        self.kde_standardize = kde_standardize
        self.lr = lr
        self.n_updates = n_updates
        self.batch_size = batch_size
        self.anomalous_batch_size = anomalous_batch_size
        self.decay_start = decay_start
        self.final_factor = final_factor
        self.rho = rho
        self.random_state = random_state
        self.device = device
        self.progress = progress

    # ---- helpers ----
    def _check_params(self) -> None:
        if self.cost not in COSTS:
            raise ValueError(f"cost: expected one of {COSTS}, got {self.cost!r}")
        check_positive(self.lr, "lr")
        check_positive(self.eps, "eps", strict=False)
        if not (isinstance(self.h, str) and self.h == "median"):
            check_positive(self.h, "h")
        if not (isinstance(self.C, str) and self.C == "auto"):
            check_positive(self.C, "C")
        check_positive(self.c_factor, "c_factor")
        if int(self.batch_size) < 2:
            raise ValueError(f"batch_size: expected an integer >= 2, got {self.batch_size!r}")
        if not 0.0 < float(self.rho) < 1.0:
            raise ValueError(f"rho: expected a false-positive rate in (0, 1), got {self.rho!r}")

    def _transform(self, X: torch.Tensor) -> torch.Tensor:
        return (X - self._mean_t) / self._scale_t

    def _scores_t(self, Z: torch.Tensor) -> torch.Tensor:
        return anomaly_score(Z, self.model_(Z))

    # ---- sklearn API ----
    def fit(self, X, y=None, X_anomalous=None) -> AEDetector:
        """Train on normal vectors X (n, d) and, for SNP/BU, simulated anomalous vectors (m, d).

        ``y`` is ignored (unsupervised; present for the scikit-learn API). Returns self.
        """
        self._check_params()
        dev = resolve_device(self.device)
        X = as_float_tensor(X, "X", ndim=2, min_rows=2)
        self.n_features_in_ = X.shape[1]
        Xa = None
        if X_anomalous is not None:
            Xa = as_float_tensor(X_anomalous, "X_anomalous", ndim=2, min_rows=0)
            if Xa.shape[0] == 0:
                Xa = None
            elif Xa.shape[1] != X.shape[1]:
                raise ValueError(f"X_anomalous: has {Xa.shape[1]} features, X has {X.shape[1]}")
        if self.cost == "snp" and Xa is None:
            raise ValueError("X_anomalous: cost='snp' needs simulated anomalous samples")
        if self.standardize_input:
            mean = X.mean(0)
            scale = X.std(0)
            scale = torch.where(scale > 1e-8 * scale.max().clamp(min=1e-30), scale, torch.ones_like(scale))
        else:
            mean, scale = torch.zeros(X.shape[1]), torch.ones(X.shape[1])
        self.mean_, self.scale_ = mean.numpy().astype(np.float64), scale.numpy().astype(np.float64)
        self._mean_t, self._scale_t = mean.to(dev), scale.to(dev)
        Z = self._transform(X.to(dev))
        Za = self._transform(Xa.to(dev)) if Xa is not None else None

        # KDE input statistics (BU): training-set statistics of the AE input
        kde_std = None
        if self.kde_standardize and not self.standardize_input:
            s = Z.std(0)
            kde_std = (Z.mean(0).cpu().numpy(), torch.where(s > 0, s, torch.ones_like(s)).cpu().numpy())
        if self.cost == "bu":
            self.h_ = (
                median_heuristic(Z[:4096], standardize=kde_std, random_state=self.random_state)
                if isinstance(self.h, str)
                else float(self.h)
            )
        else:
            self.h_ = float("nan")

        self.model_ = Autoencoder(
            self.n_features_in_,
            hidden=self.hidden,
            latent_dim=self.latent_dim,
            decoder_hidden=self.decoder_hidden,
            activation=self.activation,
            batchnorm=self.batchnorm,
            seed=self.random_state,
        ).to(dev)
        opt = torch.optim.Adam(self.model_.parameters(), lr=float(self.lr), amsgrad=True)
        n, bs = Z.shape[0], min(int(self.batch_size), Z.shape[0])
        n_updates = int(self.n_updates) if self.n_updates is not None else 100 * math.ceil(n / bs)
        mbs = int(self.anomalous_batch_size or bs)
        gen = torch.Generator(device="cpu").manual_seed(int(self.random_state) + 1)
        use_anom = Za is not None and self.cost in ("snp", "bu")
        auto_c = isinstance(self.C, str)
        c_value = float("nan") if auto_c else float(self.C)
        ema_max = None
        hist = {"loss": np.zeros(n_updates), "normal": np.zeros(n_updates), "C": np.zeros(n_updates)}
        self.model_.train()
        perm, pos = torch.randperm(n, generator=gen), 0
        for step in tqdm(range(n_updates), disable=not self.progress, desc=f"AE[{self.cost}]", leave=False):
            if pos + bs > n:
                perm, pos = torch.randperm(n, generator=gen), 0
            idx = perm[pos : pos + bs]
            pos += bs
            xb = Z[idx.to(dev)]
            for g in opt.param_groups:
                g["lr"] = float(self.lr) * lr_schedule(step, n_updates, self.decay_start, self.final_factor)
            a_n = self._scores_t(xb)
            if use_anom:
                ia = torch.randint(0, Za.shape[0], (min(mbs, Za.shape[0]),), generator=gen)
                a_a = self._scores_t(Za[ia.to(dev)])
            if auto_c:
                bmax = float(a_n.detach().max())
                ema_max = bmax if ema_max is None else 0.99 * ema_max + 0.01 * bmax
                c_value = float(self.c_factor) * ema_max
            if self.cost == "re":
                loss = re_loss(a_n)
            elif self.cost == "snp":
                loss = snp_loss(a_n, a_a, c_value)
            else:
                w = bu_weights(xb, self.h_, self.eps, standardize=kde_std, warn=step == 0)
                loss = bu_loss(a_n, w, a_a if use_anom else None, c_value if use_anom else None)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            hist["loss"][step] = float(loss.detach())
            hist["normal"][step] = float(a_n.detach().mean())
            hist["C"][step] = c_value
        if not np.isfinite(hist["loss"]).all():
            raise FloatingPointError("training diverged (a loss became NaN or Inf); lower lr or check the input scale")
        self.C_ = c_value
        self.n_updates_ = n_updates
        self.history_ = hist
        self.model_.eval()
        self._set_offset(self.anomaly_score(X))
        return self

    @torch.no_grad()
    def anomaly_score(self, X, batch_size: int = 8192) -> np.ndarray:
        """A(x) = ||z - D(E(z))||^2 of the standardised input z, per row of X (n, d); higher = more anomalous."""
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X) first")
        X = as_float_tensor(X, "X", ndim=2, min_rows=1)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X: has {X.shape[1]} features, the detector was fitted on {self.n_features_in_}")
        self.model_.eval()
        dev = self._mean_t.device
        out = [
            self._scores_t(self._transform(X[i : i + batch_size].to(dev))).cpu()
            for i in range(0, X.shape[0], batch_size)
        ]
        return torch.cat(out).double().numpy()
