"""Neyman-Pearson feature extractor: a VAE whose encoder F maximises TPR - FPR at FPR rho (EUSIPCO 2017).

The estimator :class:`NPDetector` owns Algorithm 1; the model (:class:`adskit.models.vae.VAE`) only has
``forward``. ``fit`` standardises the inputs once (``_standardize``, with :func:`adskit._scaling.fit_scale`)
and runs the loop; per training step it calls these named steps (inherited from
:class:`adskit.detectors.np_algorithm._Algorithm1`):

1. ``_recon_step``: one Adam step of F and G on a mini-batch of other-machine vectors O, minimising the VAE
   cost (19) + (20) (:func:`adskit.losses.vae_loss`; eq 20 with its standard, non-negative sign: spec §2.1);
2. ``_refresh_normal_model``, every ``em_every`` steps: features f = F(x) of the normal set D (dropout off),
   ``em_iter`` warm-started EM iterations of the GMM normal model p(f | z=0) (eq 4), and phi_rho = the
   floor(rho K_d)-th largest L(f) = -ln p(f | z=0) (after eq 14), treated as a constant (eq 10);
3. ``_np_step``: K anomalous features by Algorithm 2 (``sample_anomalous_features``: rejection from N(0, I)
   until L(f) > phi_rho), decoded to inputs by G (eq 18), then one Adam step of F alone **ascending** (12):
   mean sigmoid(L - phi_rho) over the decoded anomalies minus the same over a mini-batch of D
   (:func:`adskit.losses.np_loss`, the sign of eq 11 corrected).

After the loop, ``_final_normal_model`` fits the GMM on the features of all of D.

While training, ``diagnostics_`` records per NP step what tells learning from collapse (Algorithm 2's acceptance
rate, the spread of the normal features against the GMM's floor, saturated sigmoids and the two terms of (12),
phi_rho, held-out TPR with ``X_valid``); :class:`NPCollapseWarning` names a collapse as it happens.
:func:`adskit.plots.plot_np_diagnostics` draws the record.

Directions: L(f) and ``anomaly_score`` are higher = more anomalous (see :mod:`adskit.detectors.base`).

The two baselines of the paper's Table I are the same estimator with ``extractor="ae"`` (a plain autoencoder)
or ``extractor="vae"`` (the VAE cost alone), each trained on D and O together ("Both D and O were used to train
the F of the comparison methods"), followed by the same GMM. The AE is the VAE network used deterministically
(eps = 0, no KL term): the same F with its linear output layer (eq 2) and the same dropout, so the three
methods differ only in their training cost. (:class:`adskit.models.Autoencoder` would put a ReLU on the code,
whose dead units give the GMM zero-variance features.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.utils import check_array
from sklearn.utils.validation import check_is_fitted, validate_data

from .._scaling import fit_scale
from .._threads import cpu_threads
from .._utils import check_positive, resolve_device
from ..models.vae import VAE
from .base import BaseDetector
from .np_algorithm import DIAGNOSTICS, TIMED_PARTS, NPCollapseWarning, _Algorithm1

__all__ = ["DIAGNOSTICS", "EXTRACTORS", "TIMED_PARTS", "NPCollapseWarning", "NPDetector"]

EXTRACTORS = ("np", "vae", "ae")
SLOPES = ("std", "iqr")
SAMPLERS = ("prior", "posterior", "encoded")


class NPDetector(_Algorithm1, BaseDetector):
    """Anomaly detector L(F(x)) = -ln p(F(x) | z=0): a learned feature extractor F plus a GMM (EUSIPCO 2017).

    ``anomaly_score(X)`` is L(F(x)) (eq 4), **higher = more anomalous**; ``threshold_`` is phi_rho on the
    training normal data, so ``predict`` flags about a fraction rho of normal vectors.

    Parameters
    ----------
    extractor : {"np", "vae", "ae"}
        ``"np"`` (PROP): Algorithm 1, the VAE cost on O alternating with the Neyman-Pearson ascent (12) on F;
        needs ``X_other`` in :meth:`fit`. ``"vae"``: the VAE cost (19)+(20) alone, on D and O together.
        ``"ae"``: a plain autoencoder (squared error, the same network with eps = 0 and no KL term) on D and
        O together; F = its encoder.
    hidden : sequence of int
        Hidden widths of F (G mirrors them). The paper: (512, 512, 512).
    latent_dim : int
        D, the feature dimension. The paper: 32.
    input_dropout, hidden_dropout : float
        Dropout of F and G (the paper: 0.2 and 0.5), for all three extractors. On small networks the
        paper's dropout makes the VAE's posterior collapse (G decodes every prior draw to nearly one point,
        so Algorithm 2's "anomalies" are one point): 0 / 0 is the candidate fix of issue 14 (see Notes).
    weight_decay : float
        L2 weight regularisation lambda, as Adam's ``weight_decay`` (the paper: 1e-5).
    lr : float
        Adam step size of the reconstruction (VAE / AE) updates (not given in the paper; 1e-3).
    np_lr : float or None
        Adam step size of the Neyman-Pearson ascent on F; None = ``lr``.
    n_steps : int or None
        Training steps (one step = one pass of Algorithm 1's loop body). None = the paper's 500 epochs of D
        in mini-batches of ``batch_size``.
    batch_size : int
        K, the mini-batch size (the paper: 100); also the number of anomalies drawn per step.
    n_components, covariance_type : GMM normal model (the paper: 16, "diag")
    rho : float
        False-positive rate in (0, 1) of phi_rho, used in training (np) and for ``threshold_`` (the paper: 0.05).
    em_every : int
        Refresh the features of D, the GMM and phi_rho every ``em_every`` steps (the paper: every step, 1).
    em_iter : int
        Warm-started EM iterations per refresh (the paper does not say; 1).
    n_em_vectors : int or None
        Use a fixed random subset of this many normal vectors for the refreshes (all of D if None or
        larger). Algorithm 1 uses all of D; a subset trades accuracy of phi_rho for speed.
    warmup_steps : int
        ``"np"`` only: the first ``warmup_steps`` of the ``n_steps`` run the VAE step alone (a pre-trained
        initialisation of F and G; the paper initialises them at random: 0).
    kl_warmup : int
        ``"np"`` and ``"vae"``: the weight of the KL term (20) rises linearly from 1 / ``kl_warmup`` to 1 over
        the first ``kl_warmup`` steps (KL annealing, a standard remedy for posterior collapse; not in the
        paper: 0 = weight 1 throughout).
    anomaly_sampler : {"prior", "posterior", "encoded"}
        ``"np"`` only: where Algorithm 2 draws its candidates before keeping those with L(f) > phi_rho.
        ``"prior"``: N(0, I) (the paper). ``"posterior"``: the aggregate posterior of O, f = mu(x) +
        sigma(x) eps for x drawn from O (F without dropout), i.e. where the decoder G was trained.
        ``"encoded"``: the features F(x) = mu(x) of x drawn from O, the empirical p(F(x)) of eq 15 (the
        posterior's noise sigma can dwarf the spread of the means). Either way the candidates lie where O's
        features are, not over the whole prior (not in the paper).
    vae_data : {"other", "both"}
        ``"np"`` only: the VAE step draws from O (Algorithm 1, the default) or from D and O together (as
        the baselines do).
    max_draws : int
        Budget of Algorithm 2 per step; when nothing is accepted, :class:`SamplingError` is raised.
    slope : float or {"std", "iqr"}
        Slope of the sigmoid surrogate (11); 1 is the paper's. ``"std"`` / ``"iqr"``: 1 / (standard deviation
        or interquartile range) of L over the normal vectors at each refresh, so the surrogate works on the
        spread of the scores instead of saturating (not in the paper; see Notes).
    gmm_max_iter : int
        EM iterations of the final GMM fit on the features of all of D.
    reg_covar : float
        Variance floor of the GMM (added to every variance); it also caps how much the NP step can gain by
        shrinking the normal features (see Notes).
    reg_covar_relative : bool
        Multiply ``reg_covar`` by the mean per-dimension variance of the features of D at each refresh and in
        the final fit, so the floor follows the feature scale (not in the paper; False = the paper's absolute
        floor).
    standardize_features : bool
        Fit the GMM on features standardised per dimension with the statistics of D at each refresh (and in
        the final fit); L is then the GMM's -ln p on that scale, without the Jacobian (not in the paper).
    standardize_input : bool
        Standardise inputs per dimension with the statistics of D and O together.
    random_state : int
        Seeds the initial parameters, mini-batches, dropout, the reparameterisation noise, Algorithm 2 and
        the GMM initialisation (torch's global generator is forked and restored, never shifted).
    device : "auto", "cpu" or "cuda"
    progress : bool
        Show a tqdm bar.

    Attributes
    ----------
    model_ : adskit.models.vae.VAE
    gmm_ : adskit.gmm.GaussianMixture
        p(f | z=0) on the features of all training normal vectors.
    mean_, scale_ : np.ndarray [shape=(Q,)]
        Input standardisation.
    threshold_, offset_ : float
        The deployed threshold (higher = more anomalous) and ``-threshold_``: phi_rho on the training scores
        after :meth:`fit`, on held-out normal vectors after :meth:`calibrate` (recommended: the training
        scores are in-sample, so the training phi_rho lets through more than rho of new normal vectors).
    train_threshold_ : float
        phi_rho on the training scores (the paper's), kept after :meth:`calibrate`.
    n_calibration_ : int
        Number of vectors :meth:`calibrate` used (0 before).
    feature_mean_, feature_scale_ : np.ndarray [shape=(latent_dim,)]
        Standardisation of the features before the GMM (zeros and ones unless ``standardize_features``).
    history_ : dict of np.ndarray [shape=(n_steps_,)]
        ``"recon"`` (VAE / AE cost), and for ``"np"``: ``"np_objective"`` (surrogate TPR - FPR, higher =
        better), ``"phi"``, ``"slope"`` and ``"acceptance_rate"`` of Algorithm 2.
    timings_ : dict of float
        Seconds spent in each part of the training steps: ``vae_step``, ``feature_pass``, ``em``,
        ``sampling``, ``np_step`` (zero for the parts an extractor does not run) and ``total``.
    acceptance_rate_ : float
        Mean acceptance rate of Algorithm 2 (NaN for the baselines).
    diagnostics_ : dict of np.ndarray [shape=(n_np_steps,)]
        One row per NP step (``"np"`` only; empty arrays for the baselines), the columns of
        :data:`DIAGNOSTICS` described in :class:`adskit.detectors.np_algorithm.NPDiagnostics`: ``step``,
        ``acceptance_rate``, ``feature_trace`` (tr Cov of F(D)), ``gmm_min_var`` and ``gmm_floor``, ``phi``,
        ``tpr_term`` and ``fpr_term`` (the two terms of (12)), ``saturated_anomalous`` and
        ``saturated_normal`` (share of sigmoids < 0.01 or > 0.99), ``valid_tpr`` and ``valid_fpr`` (at
        phi_rho, NaN without ``X_valid``). Observations only: the same fit with or without them.
    collapse_warnings_ : tuple of str
        Causes of the :class:`NPCollapseWarning` raised during the fit: ``"spread"`` (tr Cov of F(D) below
        ``collapse_spread`` = 1 % of its value at the first refresh), ``"saturation_anomalous"`` /
        ``"saturation_normal"`` (more than ``collapse_saturation`` = 90 % of a term's sigmoids saturated).
        The two thresholds are class attributes, not parameters (the fit does not depend on them).
    n_steps_, n_features_in_ : int

    Notes
    -----
    The NP step has a degenerate optimum: F can lower L(F(x)) of D without bound by mapping D to (nearly) one
    point, where the GMM's density is capped only by ``reg_covar``; the non-paper options above bound that
    collapse. Their sweep on the synthetic data is in the README ("What did not reproduce", the Neyman-Pearson
    bullet: "PROP's collapse").

    On the known-answer setting (:func:`adskit.experiments.np_toy.compare_np_options`, 64x64 networks, latent 4,
    500 steps, seeds 0-4, TPR at FPR 0.05; the optimum is 0.804) the literal algorithm reaches 0.005: with the
    paper's dropout the small VAE's posterior collapses (G decodes every prior draw to nearly one point), so
    Algorithm 2's "anomalies" are one point and the NP step shrinks D's features. ``input_dropout=0,
    hidden_dropout=0`` gives 0.672 (paired difference +0.668, 95 % interval [0.574, 0.761]; the VAE baseline
    with the same fix 0.520); on fresh seeds 5-9, 0.685 (+0.685 [0.655, 0.715]; VAE 0.527). No other option
    adds to it reliably: ``anomaly_sampler="posterior"`` was the best of six add-ons on seeds 0-4 (+0.056
    [0.012, 0.100] over no dropout alone) but not on seeds 5-9 (-0.021 [-0.135, 0.093]). ``kl_warmup`` or
    ``anomaly_sampler`` with the paper's dropout change nothing (``"encoded"`` then accepts no candidate).
    The defaults stay the paper's.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> D, O = rng.normal(size=(300, 6)), rng.normal(2.0, 1.0, size=(300, 6))
    >>> det = NPDetector(hidden=(16,), latent_dim=2, n_components=2, n_steps=20, device="cpu").fit(D, X_other=O)
    >>> det.anomaly_score(D[:4]).shape  # higher = more anomalous
    (4,)
    """

    def __init__(
        self,
        extractor: str = "np",
        hidden: Sequence[int] = (512, 512, 512),
        latent_dim: int = 32,
        input_dropout: float = 0.2,
        hidden_dropout: float = 0.5,
        weight_decay: float = 1e-5,
        lr: float = 1e-3,
        np_lr: float | None = None,
        n_steps: int | None = None,
        batch_size: int = 100,
        n_components: int = 16,
        covariance_type: str = "diag",
        rho: float = 0.05,
        em_every: int = 1,
        em_iter: int = 1,
        n_em_vectors: int | None = None,
        warmup_steps: int = 0,
        vae_data: str = "other",
        kl_warmup: int = 0,
        anomaly_sampler: str = "prior",
        max_draws: int = 100_000,
        slope: float | str = 1.0,
        gmm_max_iter: int = 100,
        reg_covar: float = 1e-6,
        reg_covar_relative: bool = False,
        standardize_features: bool = False,
        standardize_input: bool = True,
        random_state: int = 0,
        device: str = "auto",
        progress: bool = False,
    ) -> None:
        self.extractor = extractor
        self.hidden = hidden
        self.latent_dim = latent_dim
        self.input_dropout = input_dropout
        self.hidden_dropout = hidden_dropout
        self.weight_decay = weight_decay
        self.lr = lr
        self.np_lr = np_lr
        self.n_steps = n_steps
        self.batch_size = batch_size
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.rho = rho
        self.em_every = em_every
        self.em_iter = em_iter
        self.n_em_vectors = n_em_vectors
        self.warmup_steps = warmup_steps
        self.vae_data = vae_data
        self.kl_warmup = kl_warmup
        self.anomaly_sampler = anomaly_sampler
        self.max_draws = max_draws
        self.slope = slope
        self.gmm_max_iter = gmm_max_iter
        self.reg_covar = reg_covar
        self.reg_covar_relative = reg_covar_relative
        self.standardize_features = standardize_features
        self.standardize_input = standardize_input
        self.random_state = random_state
        self.device = device
        self.progress = progress

    # ------------------------------------------------------------------ helpers

    def _check_params(self) -> None:
        if self.extractor not in EXTRACTORS:
            raise ValueError(f"extractor: expected one of {EXTRACTORS}, got {self.extractor!r}")
        check_positive(self.lr, "lr")
        if self.np_lr is not None:
            check_positive(self.np_lr, "np_lr")
        check_positive(self.weight_decay, "weight_decay", strict=False)
        if isinstance(self.slope, str):
            if self.slope not in SLOPES:
                raise ValueError(f"slope: expected a positive number or one of {SLOPES}, got {self.slope!r}")
        else:
            check_positive(self.slope, "slope")
        for name in ("batch_size", "em_every", "em_iter", "max_draws", "gmm_max_iter", "n_components"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: expected a positive integer, got {v!r}")
        if int(self.batch_size) < 2:
            raise ValueError(f"batch_size: expected an integer >= 2, got {self.batch_size!r}")
        if self.vae_data not in ("other", "both"):
            raise ValueError(f"vae_data: expected 'other' or 'both', got {self.vae_data!r}")
        for name in ("warmup_steps", "kl_warmup"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ValueError(f"{name}: expected an integer >= 0, got {v!r}")
        if self.anomaly_sampler not in SAMPLERS:
            raise ValueError(f"anomaly_sampler: expected one of {SAMPLERS}, got {self.anomaly_sampler!r}")
        if self.n_steps is not None and (not isinstance(self.n_steps, (int, np.integer)) or self.n_steps < 1):
            raise ValueError(f"n_steps: expected a positive integer or None, got {self.n_steps!r}")
        if not 0.0 < float(self.rho) < 1.0:
            raise ValueError(f"rho: expected a false-positive rate in (0, 1), got {self.rho!r}")

    # ------------------------------------------------------------------ helpers

    def _transform(self, X: np.ndarray) -> torch.Tensor:
        """Standardised inputs Z = (X - mean_) / scale_, float32 on the model's device, shape (n, Q)."""
        return (torch.as_tensor(X, device=self._mean_t.device) - self._mean_t) / self._scale_t

    # ------------------------------------------------------------------ sklearn API

    def fit(self, X: Any, y: Any = None, X_other: Any = None, X_valid: Any = None, y_valid: Any = None) -> NPDetector:
        """Train F (and G) and fit the GMM normal model on F of the normal vectors.

        Parameters
        ----------
        X : array-like [shape=(K_d, Q)]
            Normal vectors of the target machine, D (eq 13); K_d >= n_components.
        y : ignored
        X_other : array-like [shape=(K_o, Q)] or None
            Vectors of other machines, O (eq 16). Required and non-empty for ``extractor="np"``; optional for
            the baselines (trained on D and O together, or on D alone if None).
        X_valid : array-like [shape=(n_v, Q)] or None
            Held-out vectors, observed only (``"np"``): the share of them beyond phi_rho at each refresh goes
            to ``diagnostics_`` (``valid_tpr`` over the anomalous rows, ``valid_fpr`` over the normal ones).
            Training does not see them.
        y_valid : array-like [shape=(n_v,)] or None
            Labels of ``X_valid``: 1 = anomalous, 0 = normal. Required with ``X_valid``.

        Returns
        -------
        self : NPDetector
            Fitted.

        Raises
        ------
        ValueError
            Bad parameters; empty ``X_other`` for "np"; fewer normal vectors than ``n_components`` (or than
            ``n_components`` in the ``n_em_vectors`` subset); X or X_other not finite 2-D arrays of the same
            width; ``X_valid`` without ``y_valid`` of 0/1 labels, one per row.
        SamplingError
            Algorithm 2 accepted nothing within ``max_draws`` at some step.
        FloatingPointError
            A loss or the features became NaN or Inf.
        """
        self._check_params()
        X = validate_data(self, X, dtype=np.float32, ensure_min_samples=2)
        Xo = None
        if X_other is not None:
            Xo = check_array(X_other, dtype=np.float32, ensure_min_samples=0)
            if Xo.shape[0] == 0:
                Xo = None
            elif Xo.shape[1] != X.shape[1]:
                raise ValueError(f"X_other: has {Xo.shape[1]} features, X has {X.shape[1]}")
        if self.extractor == "np" and Xo is None:
            raise ValueError(
                "X_other: extractor='np' needs a non-empty set O of other-machine vectors (Algorithm 1 trains "
                "the VAE on O); use extractor='vae' or 'ae' to train on the normal data alone"
            )
        if X.shape[0] < int(self.n_components):
            raise ValueError(
                f"X: {X.shape[0]} normal vectors, fewer than n_components={self.n_components}; "
                "give more data or lower n_components"
            )
        valid = self._check_valid(X, X_valid, y_valid)
        dev = resolve_device(self.device)
        devices = [dev.index or 0] if dev.type == "cuda" else []
        # dropout draws from the global RNG: seed, then restore; no more torch threads than idle cores
        # (adskit._threads), chosen once for the whole fit, the caller's setting restored after
        with torch.random.fork_rng(devices=devices), cpu_threads(dev):
            torch.manual_seed(int(self.random_state))
            self._fit(X, Xo, dev, valid)
        return self

    @staticmethod
    def _check_valid(X: np.ndarray, X_valid: Any, y_valid: Any) -> tuple[np.ndarray, np.ndarray] | None:
        """(X_valid, y_valid) checked: finite, as wide as X, one 0/1 label per row; None without X_valid."""
        if X_valid is None:
            if y_valid is not None:
                raise ValueError("y_valid: given without X_valid")
            return None
        Xv = check_array(X_valid, dtype=np.float32)
        if Xv.shape[1] != X.shape[1]:
            raise ValueError(f"X_valid: has {Xv.shape[1]} features, X has {X.shape[1]}")
        if y_valid is None:
            raise ValueError("y_valid: X_valid needs labels (1 = anomalous, 0 = normal), one per row")
        yv = np.asarray(y_valid).reshape(-1)
        if yv.shape[0] != Xv.shape[0] or not np.isin(yv, (0, 1)).all():
            raise ValueError(f"y_valid: expected {Xv.shape[0]} labels in {{0, 1}}, got {yv.shape[0]} values")
        return Xv, yv.astype(int)

    def _fit(
        self, X: np.ndarray, Xo: np.ndarray | None, dev: torch.device, valid: tuple[np.ndarray, np.ndarray] | None
    ) -> None:
        """Algorithm 1 (or a baseline's training), then the final normal model and phi_rho."""
        Zd, Zr = self._standardize(X, Xo, dev)
        self.model_ = VAE(
            X.shape[1],
            hidden=self.hidden,
            latent_dim=int(self.latent_dim),
            input_dropout=self.input_dropout,
            hidden_dropout=self.hidden_dropout,
            seed=self.random_state,
        ).to(dev)
        n_steps = int(self.n_steps) if self.n_steps is not None else 500 * math.ceil(Zd.shape[0] / int(self.batch_size))
        gen = torch.Generator().manual_seed(int(self.random_state) + 1)
        zv = None if valid is None else (self._transform(valid[0]), valid[1])
        Zo = self._transform(Xo) if self.extractor == "np" and self.anomaly_sampler != "prior" else None
        self.history_, self.timings_, tracked = self._train(Zd, Zr, n_steps, gen, zv, Zo)
        f_all = self._final_normal_model(Zd, tracked)
        self.n_steps_ = n_steps
        n_warm = min(int(self.warmup_steps), n_steps)
        rates = self.history_.get("acceptance_rate")  # "np" only
        self.acceptance_rate_ = float(rates[n_warm:].mean()) if rates is not None and n_warm < n_steps else math.nan
        with torch.no_grad():
            self._set_offset(-self.gmm_.score_samples(f_all.cpu().double().numpy()))
        self.train_threshold_ = self.threshold_
        self.n_calibration_ = 0

    def _standardize(
        self, X: np.ndarray, Xo: np.ndarray | None, dev: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Fit the input standardisation on D and O together (``mean_``, ``scale_``) and apply it.

        Returns Zd, the standardised D (K_d, Q), and Zr, what the reconstruction step draws from: O alone
        for "np" with ``vae_data="other"`` (Algorithm 1), else D and O together.
        """
        both = X if Xo is None else np.concatenate([X, Xo])
        if self.standardize_input:
            self.mean_, self.scale_ = fit_scale(both, ddof=0)
        else:
            self.mean_, self.scale_ = np.zeros(X.shape[1]), np.ones(X.shape[1])
        self._mean_t = torch.as_tensor(self.mean_, dtype=torch.float32, device=dev)
        self._scale_t = torch.as_tensor(self.scale_, dtype=torch.float32, device=dev)
        other_only = self.extractor == "np" and self.vae_data == "other"
        return self._transform(X), self._transform(Xo if other_only else both)

    def features(self, X: Any, batch_size: int = 8192) -> np.ndarray:
        """Features F(x) per row (the VAE mean, or the AE code).

        Parameters
        ----------
        X : array-like [shape=(n, Q)]
        batch_size : int
            Rows per forward pass.

        Returns
        -------
        np.ndarray [shape=(n, latent_dim)], float64

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If :meth:`fit` has not run.
        ValueError
            If X is not a finite 2-D array with ``n_features_in_`` columns (the input width Q).
        """
        check_is_fitted(self, "gmm_")
        X = validate_data(self, X, dtype=np.float32, reset=False)
        self.model_.eval()
        with torch.no_grad():
            return self._features_batched(self._transform(X), batch_size).cpu().double().numpy()

    def anomaly_score(self, X: Any, batch_size: int = 8192) -> np.ndarray:
        """L(F(x)) = -ln p(F(x) | z=0) per row (eq 4), shape (n,); higher = more anomalous.

        Parameters
        ----------
        X, batch_size
            As :meth:`features`.

        Raises
        ------
        sklearn.exceptions.NotFittedError, ValueError
            As :meth:`features`.
        """
        f = (self.features(X, batch_size) - self.feature_mean_) / self.feature_scale_
        return -self.gmm_.score_samples(f)

    def calibrate(self, X_calibration: Any) -> NPDetector:
        """Re-set ``threshold_`` to phi_rho on held-out normal vectors (the deployable threshold).

        phi_rho fitted on the training vectors (``train_threshold_``, the paper's) sits on in-sample scores,
        which are optimistically low, so its false-positive rate on new normal data exceeds rho. Fitting the
        same order statistic on normal data the detector never trained on gives a threshold whose rate on
        exchangeable new data is about rho. Split the calibration data by recording (clip), not by vector:
        neighbouring context vectors overlap. Returns self; ``predict`` and ``decision_function`` then use it.

        Parameters
        ----------
        X_calibration : array-like [shape=(n, Q)]
            Normal vectors not used in :meth:`fit` (n >= 1 / rho for a threshold below the largest score).

        Raises
        ------
        sklearn.exceptions.NotFittedError, ValueError
            As :meth:`features`.
        """
        s = self.anomaly_score(X_calibration)
        self._set_offset(s)
        self.n_calibration_ = int(s.size)
        return self
