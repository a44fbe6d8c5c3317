"""Autoencoder detector trained with the RE, SNP or BU cost (Koizumi et al., WASPAA 2019).

The estimator knows only vectors X (the model, :class:`adskit.models.Autoencoder`, only has ``forward``): ``fit``
trains on an array in memory, ``fit_batches`` on mini-batches streamed from a sampler, a callable or an iterable,
one loop underneath. Named set-ups are in :mod:`adskit.detectors.presets`, frame and clip scores of audio clips in
:mod:`adskit.scores`, and the checkpoint files (``save``/``load``, ``checkpoint=``/``resume=``), read without
unpickling code, in :mod:`adskit.detectors.checkpoint`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .._scaling import fit_scale, parse_scaler
from .._threads import cpu_threads
from .._utils import check_positive, resolve_device
from ..bandwidth import ess_bandwidth, parse_bandwidth_rule
from ..kde import median_heuristic, standardize_with
from ..losses import anomaly_score
from ..models import Autoencoder, fuse_batchnorm
from ._training import EpochBatches, Plan, Stream, joined_batch, train_loop
from .base import BaseDetector
from .checkpoint import CheckpointMixin
from .presets import AE_PRESETS, feature_config_dict, lr_schedule

__all__ = ["AE_PRESETS", "AEDetector", "lr_schedule"]

COSTS = ("re", "snp", "bu")
OPTIMIZERS = ("amsgrad", "adam")
_FIRST_ROWS = 4096  # rows of the first training data that set the bandwidth and the KDE statistics


class AEDetector(CheckpointMixin, BaseDetector):
    """Autoencoder anomaly detector: ``anomaly_score(X) = ||z - D(E(z))||^2`` (eq 5; higher = more anomalous).

    ``z`` is the input standardised per dimension with training statistics (``standardize_input``), so any
    feature scale works.

    Parameters
    ----------
    cost : "re" | "snp" | "bu"
        RE: mean reconstruction error (eq 7). SNP: RE minus the clipped error of simulated anomalies (9-10).
        BU: KDE-weighted RE minus the same clipped term (16); without anomalies, the weighted term alone.
    hidden, latent_dim, decoder_hidden, activation, batchnorm : the architecture (see ``Autoencoder``)
    h : float, "median" or "ess:q"
        KDE bandwidth (BU only), in the units of the KDE input (exponent ``2 h^2``); "median" = ``h_factor``
        x the median heuristic (:func:`adskit.kde.median_heuristic`) on the first training rows; "ess:q" (q in
        (0, 1)) = the h whose BU weights have effective sample size q x the batch on the first training rows
        (:func:`adskit.bandwidth.ess_bandwidth`; ``h_factor`` does not apply). ``bandwidth_`` records the rule
        and, for "ess:q", the ESS reached, the median heuristic's ESS and the least ESS any h gives.
    h_factor : float > 0, multiplier of the median heuristic (the spec sweeps 0.25, 0.5, 1)
    eps : float >= 0, the BU weight regulariser (16)
    C : float or "auto"
        Clip of the anomalous term (SNP, BU). "auto" follows "the tendency of the maximum value of A of normal
        training samples" (paper §4.1.1) as the spec proposes (train RE briefly, take the maximum normal score):
        the first ``c_warmup`` share of the updates runs without the anomalous term (RE, or the weighted term
        for BU) while tracking an exponential moving average (0.9) of the batch maximum of the normal scores;
        C is then frozen at ``c_factor`` x that value. A C that kept following the normal scores fed back on
        itself (raising C let the normal scores rise, which raised C), so it is fixed after the warm-up.
    c_factor : float, multiplier for C="auto"
    c_warmup : float in [0, 1), share of the updates spent estimating C when C="auto" (default 0.1)
    standardize_input : bool, standardise inputs per dimension with training statistics
    kde_standardize : bool, standardise the KDE input with training statistics (paper §4.2.2); with
        ``standardize_input`` the AE input already is
    optimizer : "amsgrad" (the paper) or "adam" (the DCASE 2020 baseline)
    lr : float, initial step size
    n_updates : int or None, total mini-batch updates; None = ``n_epochs`` x ``batches_per_epoch``
    n_epochs : int or None, epochs (None: 100 for ``fit``; ``fit_batches`` then needs ``n_updates``)
    batches_per_epoch : int or None, updates per epoch (None: one pass over X in ``fit``)
    batch_size, anomalous_batch_size : normal and anomalous rows per update in ``fit`` (anomalous: None =
        ``batch_size``); a streamed batch brings its own sizes
    decay_start, final_factor : the rate is constant until ``decay_start`` x updates, then linear down to
        ``final_factor`` x lr (see :func:`lr_schedule`; the paper: 0.5 and 0.01)
    feature_config : dict, str or None, the feature front end the vectors come from (a
        :class:`adskit.audio.FeatureConfig`, its dict, or a preset name); opaque metadata kept in checkpoints
    rho : float in (0, 1), false-positive rate of the default threshold ``offset_`` (see ``BaseDetector``)
    random_state : int, seeds the initial parameters and the mini-batch draws; equal seeds give RE, SNP and
        BU identical starting parameters
    device : "auto", "cpu" or "cuda"
    progress : bool, show a tqdm bar

    Attributes
    ----------
    model_ : Autoencoder
    mean_, scale_ : np.ndarray (d,), input standardisation (zeros/ones when off)
    h_ : float, the bandwidth used (NaN unless BU); C_ : float, the final clip
    n_updates_ : int; history_ : dict of per-update arrays ("loss", "normal" mean score, "C", "lr", and "ess":
        the BU weights' effective sample size / batch, NaN for RE and SNP)
    frames_seen_ : int, normal + anomalous rows used; fit_seconds_ : float, wall time of the loop
    feature_config_ : dict or None
    threshold_, offset_ : the default decision threshold (see ``BaseDetector``)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(200, 4))
    >>> det = AEDetector("re", hidden=(8,), latent_dim=2, n_updates=20, batch_size=50, device="cpu").fit(X)
    >>> det.anomaly_score(X[:3]).shape, det.predict(X[:3]).shape
    ((3,), (3,))
    """

    _checkpoint_kind = "AEDetector"

    def __init__(
        self,
        cost: str = "bu",
        hidden: Sequence[int] = (128, 128, 128, 128),
        latent_dim: int = 8,
        decoder_hidden: Sequence[int] | None = None,
        activation: str = "relu",
        batchnorm: bool = False,
        h: float | str = "median",
        h_factor: float = 1.0,
        eps: float = 1e-6,
        C: float | str = "auto",
        c_factor: float = 2.0,
        c_warmup: float = 0.1,
        standardize_input: bool = True,
        kde_standardize: bool = True,
        optimizer: str = "amsgrad",
        lr: float = 1e-3,
        n_updates: int | None = None,
        n_epochs: int | None = None,
        batches_per_epoch: int | None = None,
        batch_size: int = 512,
        anomalous_batch_size: int | None = None,
        decay_start: float = 0.5,
        final_factor: float = 0.01,
        feature_config: dict | str | None = None,
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
        self.h_factor = h_factor
        self.eps = eps
        self.C = C
        self.c_factor = c_factor
        self.c_warmup = c_warmup
        self.standardize_input = standardize_input
        self.kde_standardize = kde_standardize
        self.optimizer = optimizer
        self.lr = lr
        self.n_updates = n_updates
        self.n_epochs = n_epochs
        self.batches_per_epoch = batches_per_epoch
        self.batch_size = batch_size
        self.anomalous_batch_size = anomalous_batch_size
        self.decay_start = decay_start
        self.final_factor = final_factor
        self.feature_config = feature_config
        self.rho = rho
        self.random_state = random_state
        self.device = device
        self.progress = progress

    @classmethod
    def preset(cls, name: str, cost: str = "bu", **overrides: Any) -> AEDetector:
        """A detector with a named architecture, schedule and feature configuration.

        Parameters
        ----------
        name : str
            ``"fcn40-large"``, ``"fcn40-small"``, ``"fcn64-large"``, ``"fcn64-small"`` (the BU paper's four AEs) or
            ``"dcase2020"`` (the DCASE 2020 Task 2 baseline): see :mod:`adskit.detectors.presets`.
        cost : "re" | "snp" | "bu"
        **overrides : any constructor argument (e.g. ``n_updates=200`` for a quick run)

        Raises
        ------
        ValueError
            If ``name`` is not a preset.

        Examples
        --------
        >>> AEDetector.preset("fcn64-small", cost="re").hidden
        (128, 128)
        """
        if name not in AE_PRESETS:
            raise ValueError(f"name: expected one of {sorted(AE_PRESETS)}, got {name!r}")
        return cls(cost=cost, **{**AE_PRESETS[name](), **overrides})

    # ------------------------------------------------------------------------------------------- helpers
    def _check_params(self) -> None:
        if self.cost not in COSTS:
            raise ValueError(f"cost: expected one of {COSTS}, got {self.cost!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {self.optimizer!r}")
        for name in ("lr", "eps", "h_factor", "c_factor", "final_factor"):
            check_positive(getattr(self, name), name, strict=name != "eps")
        parse_bandwidth_rule(self.h)
        if not (isinstance(self.C, str) and self.C == "auto"):
            check_positive(self.C, "C")
        if not 0.0 <= float(self.c_warmup) < 1.0:
            raise ValueError(f"c_warmup: expected a share of the updates in [0, 1), got {self.c_warmup!r}")
        if int(self.batch_size) < 2:
            raise ValueError(f"batch_size: expected an integer >= 2, got {self.batch_size!r}")
        for name in ("n_updates", "n_epochs", "batches_per_epoch", "anomalous_batch_size"):
            v = getattr(self, name)
            if v is not None and int(v) < 1:
                raise ValueError(f"{name}: expected a positive integer or None, got {v!r}")
        if not 0.0 < float(self.rho) < 1.0:
            raise ValueError(f"rho: expected a false-positive rate in (0, 1), got {self.rho!r}")
        if not 0.0 <= float(self.decay_start) <= 1.0:
            raise ValueError(f"decay_start: expected a fraction in [0, 1], got {self.decay_start!r}")
        feature_config_dict(self.feature_config)

    def settings(self) -> dict:
        """The constructor arguments as JSON-serialisable values (what checkpoints store and compare on resume).

        Returns
        -------
        dict
            :meth:`get_params` with tuples as lists and ``feature_config`` as a plain dict.
        """
        params = self.get_params()
        for k in ("hidden", "decoder_hidden"):
            if params[k] is not None:
                params[k] = [int(v) for v in params[k]]
        params["feature_config"] = feature_config_dict(self.feature_config)
        return params

    def planned_updates(self, per_epoch: int | None = None, length: int | None = None) -> int:
        """Total updates a fit will make: ``n_updates``, else ``n_epochs`` (default 100) x the epoch length, else
        ``length`` (the length of an iterable of batches, when the detector sets none of the three).

        Parameters
        ----------
        per_epoch : int or None
            Batches per epoch of the data (a sampler's ``batches_per_epoch``); the detector's own
            ``batches_per_epoch`` wins.
        length : int or None
            The number of batches of a finite iterable.

        Raises
        ------
        ValueError
            If neither the detector nor the arguments say how many updates to make.
        """
        if self.n_updates is not None:
            return int(self.n_updates)
        if per_epoch is None and length is not None and self.n_epochs is None and self.batches_per_epoch is None:
            return int(length)
        bpe = int(self.batches_per_epoch) if self.batches_per_epoch is not None else per_epoch
        if bpe is None:
            raise ValueError(
                "n_updates: streamed training needs n_updates, or n_epochs and batches_per_epoch "
                "(or a sampler with batches_per_epoch)"
            )
        return (int(self.n_epochs) if self.n_epochs is not None else 100) * int(bpe)

    def _fit_scaler(self, X: torch.Tensor, dev: torch.device, scaler: Any = None) -> None:
        """Set the input standardisation: ``scaler`` if given, else the mean and std (ddof=1) of X."""
        d = X.shape[1]
        if scaler is not None:
            mean, scale = parse_scaler(scaler, d)  # checked even when standardize_input is off
        elif self.standardize_input:
            mean, scale = fit_scale(X, ddof=1)
        if not self.standardize_input:
            mean, scale = torch.zeros(d), torch.ones(d)
        self._set_scaler(torch.as_tensor(mean).float(), torch.as_tensor(scale).float(), dev)

    def _set_scaler(self, mean: torch.Tensor, scale: torch.Tensor, dev: torch.device) -> None:
        """``mean_``/``scale_`` (NumPy float64) and their float32 copies on the device."""
        self.mean_ = mean.detach().cpu().numpy().astype(np.float64)
        self.scale_ = scale.detach().cpu().numpy().astype(np.float64)
        self._mean_t = mean.detach().to(dev, torch.float32)
        self._scale_t = scale.detach().to(dev, torch.float32)

    def _transform(self, X: torch.Tensor) -> torch.Tensor:
        return (X - self._mean_t) / self._scale_t

    def _scores_t(self, Z: torch.Tensor) -> torch.Tensor:
        return anomaly_score(Z, self.model_(Z))

    def _inference_model(self) -> torch.nn.Module:
        """``model_`` for scoring: in evaluation mode, BatchNorm folded into its Linear layers
        (:func:`adskit.models.fuse_batchnorm`: the same outputs up to rounding, a pass cheaper per layer). Made
        again whenever ``model_`` changes (another module, device, or any parameter or buffer written in place:
        their version counters)."""
        state = self.model_.state_dict(keep_vars=True).values()
        key = (id(self.model_), *((t.device, t.dtype, t._version) for t in state))
        cached = self.__dict__.get("_fused")
        if cached is None or cached[0] != key:
            cached = (key, fuse_batchnorm(self.model_))
            self.__dict__["_fused"] = cached
        return cached[1]

    @torch.no_grad()
    def _scores(
        self, X: torch.Tensor, standardized: bool = False, batch_size: int = 8192, per_row: Callable | None = None
    ) -> np.ndarray:
        """A(x) per row (float64, (n,)), ``batch_size`` rows per pass; X raw, or the standardised Z on the device.
        ``per_row(z, net)`` replaces A (a function of the standardised batch and the network, e.g. the
        residuals)."""
        if self.model_.training:
            self.model_.eval()
        net = self._inference_model()
        dev = self._mean_t.device
        per_row = (lambda z, f: anomaly_score(z, f(z))) if per_row is None else per_row
        out = []
        for i in range(0, X.shape[0], batch_size):
            z = X[i : i + batch_size]
            out.append(per_row(z if standardized else self._transform(z.to(dev, torch.float32)), net).cpu())
        return torch.cat(out).double().numpy()

    # ------------------------------------------------------------------------------------------- fitting
    def fit(
        self,
        X,
        y=None,
        X_anomalous=None,
        *,
        checkpoint: str | Path | None = None,
        checkpoint_every: int | None = None,
        resume: bool = False,
    ) -> AEDetector:
        """Train on normal vectors X (n, d) and, for SNP/BU, simulated anomalous vectors (m, d).

        Each epoch draws a random permutation of X (from ``random_state`` and the epoch number) and cuts it
        into ``batch_size`` mini-batches; the anomalous rows of an update are drawn with replacement.

        Parameters
        ----------
        X : array-like [shape=(n, d)], n >= 2, normal training vectors
        y : ignored (unsupervised; present for the scikit-learn API)
        X_anomalous : array-like [shape=(m, d)] or None; required for SNP, optional for BU, ignored by RE
        checkpoint : path or None, write a resumable checkpoint here every ``checkpoint_every`` updates and
            at the end
        checkpoint_every : int or None (None: only at the end)
        resume : bool, continue from ``checkpoint`` if it exists (same settings required)

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad parameters; X or X_anomalous not a finite 2-D array (scikit-learn's messages), fewer than 2
            rows in X, or X_anomalous with other features; cost="snp" without X_anomalous; ``resume`` from a
            checkpoint written with other settings or without optimizer state.
        FloatingPointError
            If the loss becomes NaN or Inf (training diverged).
        CheckpointError
            If ``resume`` finds a damaged or foreign file at ``checkpoint``.
        """
        self._check_params()
        dev = resolve_device(self.device)
        X = torch.as_tensor(validate_data(self, X, dtype=np.float32, ensure_min_samples=2))
        Xa = None
        if X_anomalous is not None:
            Xa = check_array(X_anomalous, dtype=np.float32, ensure_min_samples=0, input_name="X_anomalous")
            if Xa.shape[0] == 0:
                Xa = None
            elif Xa.shape[1] != X.shape[1]:
                raise ValueError(f"X_anomalous: has {Xa.shape[1]} features, X has {X.shape[1]}")
        if self.cost == "snp" and Xa is None:
            raise ValueError("X_anomalous: cost='snp' needs simulated anomalous samples")
        Xa = None if self.cost == "re" else Xa
        self._fit_scaler(X, dev)
        Z = self._transform(X.to(dev, torch.float32))
        Za = None if Xa is None else self._transform(torch.as_tensor(Xa).to(dev, torch.float32))
        batches = EpochBatches(Z, Za, self.batch_size, self.anomalous_batch_size, self.random_state)
        plan = Plan(self.planned_updates(batches.per_epoch), dev, Z[:_FIRST_ROWS], checkpoint, checkpoint_every, resume)
        return self._train(batches, plan, Z, standardized=True)

    def fit_batches(
        self,
        batches: Any,
        n_updates: int | None = None,
        *,
        scaler: Any = None,
        n_stat_batches: int = 8,
        calibration=None,
        checkpoint: str | Path | None = None,
        checkpoint_every: int | None = None,
        resume: bool = False,
    ) -> AEDetector:
        """Train on streamed mini-batches instead of one in-memory array.

        Parameters
        ----------
        batches : sampler, callable or iterable
            A sampler: an object with ``batch(step)`` for step = 0, 1, ... and optionally ``mean_``/``scale_``
            (training statistics, e.g. streamed over a feature cache: the scaler unless ``scaler`` is given)
            and ``batches_per_epoch`` (the epoch length of ``n_epochs`` when the detector sets neither
            ``n_updates`` nor ``batches_per_epoch``), such as :class:`adskit.audio.batches.FrameSampler`; a callable
            ``batches(step)`` (resumes exactly); or an iterable of batches (resuming continues from wherever
            it is). A batch is ``X`` (n_b, d), ``(X, X_anomalous)`` with X_anomalous (m_b, d) or None, a
            dict with ``"X"`` (and ``"X_anomalous"``), or an object with attributes ``X`` (and
            ``X_anomalous``). Arrays may be NumPy (memmaps included) or torch.
        n_updates : int or None, number of updates; None uses the detector's ``n_updates`` or ``n_epochs`` x
            the epoch length, else ``len(batches)``
        scaler : None, ``(mean, std)`` arrays (d,), or an object with ``mean_`` and ``scale_``
            Training statistics for the input standardisation. None takes the sampler's, else estimates them
            from the normal rows of the first ``n_stat_batches`` batches (which are then trained on as usual).
        n_stat_batches : int >= 1
        calibration : array-like [shape=(k, d)] or None
            Normal vectors whose scores set the default threshold ``offset_``; None uses the normal rows of
            the first ``n_stat_batches`` batches.
        checkpoint, checkpoint_every, resume : as in :meth:`fit`

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad parameters; ``batches`` of none of the three kinds or an iterable that ends too soon; a batch
            that is not 2-D with the features of batch 0 (the first ``n_stat_batches``: also finite, >= 2 rows);
            cost="snp" and a batch without X_anomalous; no ``n_updates`` to be had; a bad ``scaler`` or
            ``calibration``; ``resume`` problems as in :meth:`fit`.
        FloatingPointError
            If the loss becomes NaN or Inf (training diverged, or a streamed batch held NaN).
        CheckpointError
            If ``resume`` finds a damaged or foreign file at ``checkpoint``.
        """
        self._check_params()
        dev = resolve_device(self.device)
        stream = Stream(batches, n_stat_batches)
        if calibration is not None:
            calibration = check_array(calibration, dtype=np.float32, input_name="calibration")
            if calibration.shape[1] != stream.d:
                raise ValueError(f"calibration: has {calibration.shape[1]} features, batches have {stream.d}")
        self._fit_scaler(stream.first, dev, stream.stats if scaler is None else scaler)

        def get_batch(step: int) -> tuple[torch.Tensor, int]:
            X, Xa = stream(step)
            Xa = None if self.cost == "re" else Xa
            if self.cost == "snp" and Xa is None:
                raise ValueError(f"batches[{step}]: cost='snp' needs X_anomalous rows in every batch")
            return joined_batch(X, Xa, self._mean_t, self._scale_t, dev)

        if n_updates is None:
            n_updates = self.planned_updates(stream.batches_per_epoch, stream.length)
        z_first = self._transform(stream.first[:_FIRST_ROWS].to(dev, torch.float32))
        sizes = tuple(int(stream.head[s][0].shape[0]) for s in range(stream.k))
        plan = Plan(int(n_updates), dev, z_first, checkpoint, checkpoint_every, resume, batch_sizes=sizes)
        return self._train(get_batch, plan, stream.first if calibration is None else torch.as_tensor(calibration))

    def fit_sampler(self, sampler: Any, n_updates: int | None = None, **kwargs: Any) -> AEDetector:
        """The old name of :meth:`fit_batches`, which takes samplers directly (same arguments, same result).

        Raises
        ------
        ValueError, FloatingPointError, CheckpointError
            As :meth:`fit_batches`.
        """
        return self.fit_batches(sampler, n_updates, **kwargs)

    # ------------------------------------------------------------------------------------------- the loop
    def _train(self, get_batch: Callable[[int], Any], plan: Plan, rows: torch.Tensor, standardized: bool = False):
        """Run the loop, keep its result, set the threshold on the scores of ``rows`` (normal vectors, raw or
        standardised on the device) and write the final checkpoint."""
        with cpu_threads(plan.device):  # no more torch threads than idle cores, chosen once, restored after
            run = train_loop(self, get_batch, plan)
        self._adopt(run)
        self._set_offset(self._scores(rows, standardized))
        if plan.checkpoint is not None:
            self._write(plan.checkpoint, run)
        return self

    def _resolve_h(self, z_first: torch.Tensor, kde_std: Any, batches: list | None = None) -> float:
        """The bandwidth of this run (BU only), fixed on the first training rows; sets ``bandwidth_``. An ESS
        target is searched on the first streamed ``batches`` when given, else on random batches of z_first."""
        if self.cost != "bu":
            return float("nan")
        rule, value = parse_bandwidth_rule(self.h)
        if rule == "median":
            h = float(self.h_factor) * median_heuristic(z_first, standardize=kde_std, random_state=self.random_state)
            self.bandwidth_ = {"rule": "median", "h": h}
        elif rule == "ess":
            choice = ess_bandwidth(
                batches if batches else z_first,
                value,
                batch_size=int(self.batch_size),
                eps=float(self.eps),
                standardize=kde_std,
                random_state=self.random_state,
            )
            h, self.bandwidth_ = choice.h, {"rule": "ess", **choice.as_dict()}
        else:
            h = float(value)
            self.bandwidth_ = {"rule": "fixed", "h": h}
        return h

    def _build_model(self, d: int, dev: torch.device) -> None:
        self.n_features_in_ = int(d)
        self.model_ = Autoencoder(
            d,
            hidden=self.hidden,
            latent_dim=self.latent_dim,
            decoder_hidden=self.decoder_hidden,
            activation=self.activation,
            batchnorm=self.batchnorm,
            seed=self.random_state,
        ).to(dev)

    # ------------------------------------------------------------------------------------------- scoring
    def kde_input(self, X) -> np.ndarray:
        """The rows of X as batch uniformization's KDE sees them in training (BU paper eq 16's x_n).

        X is standardised with ``mean_``/``scale_`` and then, when the input is not standardised and
        ``kde_standardize`` is set, with the KDE's own statistics of the first training rows. Use it to measure
        the weights a fitted detector gave (:func:`adskit.bandwidth.weight_share`, :func:`adskit.bandwidth.ess_curve`
        with ``h_``).

        Parameters
        ----------
        X : array-like [shape=(n, d)]

        Returns
        -------
        np.ndarray [shape=(n, d)], float64

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the detector is not fitted.
        ValueError
            As :meth:`anomaly_score`.
        """
        z = self._transform(torch.as_tensor(self._fitted_input(X)).to(self._mean_t.device)).double().cpu()
        return standardize_with(z, self._kde_std).numpy()

    def anomaly_score(self, X, batch_size: int = 8192) -> np.ndarray:
        """A(x) = ||z - D(E(z))||^2 of the standardised input z, per row of X (n, d); higher = more anomalous.

        Parameters
        ----------
        X : array-like [shape=(n, d)]
        batch_size : int, rows per forward pass

        Returns
        -------
        np.ndarray [shape=(n,)], float64

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the detector is not fitted.
        ValueError
            If X is not a finite 2-D array with ``n_features_in_`` columns (scikit-learn's messages).
        """
        return self._scores(torch.as_tensor(self._fitted_input(X)), batch_size=batch_size)

    def residuals(self, X, batch_size: int = 8192) -> np.ndarray:
        """The reconstruction residuals r = z - D(E(z)) of the standardised input z, per row of X (n, d).

        ``anomaly_score(X)`` is ``(r ** 2).sum(axis=1)``; the residual Mahalanobis score of the DCASE 2023-2026
        baselines (:class:`adskit.detectors.ResidualMahalanobis`) is fitted on them.

        Parameters
        ----------
        X, batch_size : as :meth:`anomaly_score`

        Returns
        -------
        np.ndarray [shape=(n, d)], float64

        Raises
        ------
        sklearn.exceptions.NotFittedError, ValueError
            As :meth:`anomaly_score`.
        """
        X = torch.as_tensor(self._fitted_input(X))
        return self._scores(X, batch_size=batch_size, per_row=lambda z, net: z - net(z))

    def _fitted_input(self, X) -> np.ndarray:
        """X checked against the fitted detector (float32, ``n_features_in_`` columns, finite)."""
        check_is_fitted(self, "model_")
        return validate_data(self, X, dtype=np.float32, reset=False)
