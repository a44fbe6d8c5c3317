"""Autoencoder detector trained with the RE, SNP or BU cost (Koizumi et al., WASPAA 2019).

The estimator owns the training loop; the model (:class:`adskit.models.Autoencoder`) only has ``forward``.
Three ways to train, one loop underneath:

* ``fit(X, X_anomalous=None)``: frame vectors in memory, mini-batches drawn per epoch without replacement;
* ``fit_batches(batches)``: mini-batches streamed from a callable ``batches(step)`` or an iterable (a feature
  cache, the paper's batch generator), so the training set never has to fit in memory;
* ``fit_sampler(sampler)``: the same for an object with ``batch(step)`` (and, if it has them, training
  statistics ``mean_``/``scale_`` and ``batches_per_epoch``).

Checkpoints (:meth:`AEDetector.save`, :meth:`AEDetector.load`, and ``checkpoint=``/``resume=`` while training)
hold weights, configuration, feature configuration, scaler and version, and are read without unpickling code
(see :mod:`adskit.detectors.checkpoint`).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._utils import as_float_tensor, check_positive, resolve_device
from ..kde import bu_weights, median_heuristic
from ..losses import anomaly_score, bu_loss, re_loss, snp_loss
from ..models import Autoencoder
from .base import BaseDetector
from .checkpoint import load_checkpoint, save_checkpoint

__all__ = ["AE_PRESETS", "AEDetector", "lr_schedule"]

COSTS = ("re", "snp", "bu")
OPTIMIZERS = ("amsgrad", "adam")
_CKPT_KIND = "AEDetector"
#: parameters that may differ between a checkpoint and the detector that resumes from it
_RESUME_FREE = ("progress", "device")


def _paper_features(n_mels: int) -> dict:
    from ..audio.features import FeatureConfig

    return dataclasses.asdict(dataclasses.replace(FeatureConfig.preset("paper"), n_mels=n_mels))


def _paper_schedule() -> dict:
    # CONFIRMED (paper §4.2.2): AMSGrad, 200 epochs of 500 mini-batches, constant for 100 epochs then linearly
    # down to 1/100. The initial rate was lost: 1e-3 is our choice.
    return {
        "optimizer": "amsgrad",
        "lr": 1e-3,
        "n_epochs": 200,
        "batches_per_epoch": 500,
        "decay_start": 0.5,
        "final_factor": 0.01,
        "activation": "relu",
    }


def _fcn(n_mels: int, size: str) -> dict:
    # The paper: encoder = 1 input layer + L hidden layers of H units + 1 output layer to Z (decoder mirrored).
    # L, H and Z were lost. Our choice (spec §1.5): large L=2, H=512, Z=64; small L=1, H=128, Z=16.
    L, H, Z = (2, 512, 64) if size == "large" else (1, 128, 16)
    return {"hidden": (H,) * (L + 1), "latent_dim": Z, "feature_config": _paper_features(n_mels), **_paper_schedule()}


def _dcase2020() -> dict:
    from ..audio.features import FeatureConfig

    # The DCASE 2020 Task 2 baseline: 640-128x4-8-128x4-640, BatchNorm + ReLU, Adam 1e-3 (no decay),
    # 100 epochs, batch 512, on 5 x 128 log-mel frames.
    return {
        "hidden": (128, 128, 128, 128),
        "latent_dim": 8,
        "batchnorm": True,
        "activation": "relu",
        "optimizer": "adam",
        "lr": 1e-3,
        "n_epochs": 100,
        "batches_per_epoch": None,
        "batch_size": 512,
        "final_factor": 1.0,
        "feature_config": dataclasses.asdict(FeatureConfig.preset("dcase2020")),
    }


#: names accepted by :meth:`AEDetector.preset` -> builder of constructor arguments
AE_PRESETS: dict[str, Callable[[], dict]] = {
    "fcn40-large": lambda: _fcn(40, "large"),
    "fcn40-small": lambda: _fcn(40, "small"),
    "fcn64-large": lambda: _fcn(64, "large"),
    "fcn64-small": lambda: _fcn(64, "small"),
    "dcase2020": _dcase2020,
}


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


def _seed(*words: int) -> int:
    """A 63-bit seed for ``torch.Generator.manual_seed`` from several integers."""
    return int(np.random.SeedSequence([int(w) & 0xFFFFFFFF for w in words]).generate_state(2, np.uint64)[0] >> 1)


def _as_matrix(X: Any, name: str, min_rows: int = 1) -> torch.Tensor:
    """A 2-D float tensor from ``X``, with the errors scikit-learn's estimator checks expect (they name ``name``)."""
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError(f"{name}: sparse input is not supported; pass a dense array (e.g. {name}.toarray())")
    if not isinstance(X, torch.Tensor):
        arr = np.asarray(X)
        if np.iscomplexobj(arr):
            raise ValueError(f"{name}: Complex data not supported")
        if arr.dtype == object:
            try:
                arr = arr.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"{name}: expected numbers; argument must be a string or a number ({exc})") from exc
        if arr.ndim == 1:
            raise ValueError(
                f"{name}: expected a 2-D array (n_samples, n_features), got shape {arr.shape}. Reshape your data "
                "with X.reshape(-1, 1) for a single feature or X.reshape(1, -1) for a single sample"
            )
        if arr.ndim == 2 and arr.shape[1] == 0:
            raise ValueError(f"{name}: 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required.")
        X = arr
    return as_float_tensor(X, name, ndim=2, min_rows=min_rows)


def _fast_tensor(X: Any, name: str) -> torch.Tensor:
    """A float tensor view of a 2-D batch without the finiteness scan (the training loop checks the loss)."""
    t = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X, dtype=np.float32))
    if t.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array, got shape {tuple(t.shape)}")
    return t if t.is_floating_point() else t.float()


def _split_batch(b: Any) -> tuple[Any, Any]:
    """``(X, X_anomalous)`` from a batch: an array, a ``(X, Xa)`` tuple, a dict or an object with ``X``."""
    if isinstance(b, tuple):
        if len(b) != 2:
            raise ValueError(f"batches: a tuple batch must be (X, X_anomalous), got a tuple of {len(b)}")
        return b
    if isinstance(b, dict):
        if "X" not in b:
            raise ValueError(f"batches: a dict batch needs an 'X' entry, got keys {sorted(b)}")
        return b["X"], b.get("X_anomalous")
    if hasattr(b, "X") and not isinstance(b, (np.ndarray, torch.Tensor)):
        return b.X, getattr(b, "X_anomalous", None)
    return b, None


class AEDetector(BaseDetector):
    """Autoencoder anomaly detector: ``anomaly_score(X) = ||z - D(E(z))||^2`` (eq 5; higher = more anomalous).

    ``z`` is the input standardised per dimension with training statistics (``standardize_input``), so any
    feature scale works.

    Parameters
    ----------
    cost : "re" | "snp" | "bu"
        RE: mean reconstruction error (eq 7). SNP: RE minus the clipped error of simulated anomalies (9-10).
        BU: KDE-weighted RE minus the same clipped term (16); without anomalies, the weighted term alone.
    hidden, latent_dim, decoder_hidden, activation, batchnorm : the architecture (see ``Autoencoder``)
    h : float or "median"
        KDE bandwidth (BU only), in the units of the KDE input (exponent ``2 h^2``); "median" = ``h_factor``
        x the median heuristic (:func:`adskit.kde.median_heuristic`) on the first training batch.
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
        :class:`adskit.audio.FeatureConfig` as a dict, or a preset name); stored in checkpoints
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
    n_updates_ : int; history_ : dict of per-update arrays ("loss", "normal" mean score, "C", "lr")
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

    # ------------------------------------------------------------------------------------------- presets
    @classmethod
    def preset(cls, name: str, cost: str = "bu", **overrides: Any) -> AEDetector:
        """A detector with a named architecture, schedule and feature configuration.

        Parameters
        ----------
        name : str
            * ``"fcn40-large"``, ``"fcn40-small"``, ``"fcn64-large"``, ``"fcn64-small"``: the BU paper's four
              AEs (§4.2.2) on the ``"paper"`` features with 40 or 64 mels and 11 context frames (440 or 704
              dims). The sizes were lost from the paper; ours: large = encoder d-512-512-512-64 (L=2 hidden
              layers, H=512, Z=64), small = d-128-128-16 (L=1, H=128, Z=16), decoders mirrored, ReLU.
              Schedule: AMSGrad 1e-3, 200 epochs x 500 mini-batches, constant for 100 epochs then linear
              down to 1/100.
            * ``"dcase2020"``: the DCASE 2020 Task 2 baseline, 640-128x4-8-128x4-640 with BatchNorm, Adam
              1e-3, 100 epochs, batch 512, on the ``"dcase2020"`` features. Unlike the baseline, inputs are
              standardised and A sums (not averages) the squared errors over dimensions.
        cost : "re" | "snp" | "bu"
        **overrides : any constructor argument (e.g. ``n_updates=200`` for a quick run)

        Examples
        --------
        >>> AEDetector.preset("fcn64-small", cost="re").hidden
        (128, 128)
        """
        if name not in AE_PRESETS:
            raise ValueError(f"name: expected one of {sorted(AE_PRESETS)}, got {name!r}")
        kw = AE_PRESETS[name]()
        kw.update(overrides)
        return cls(cost=cost, **kw)

    # ------------------------------------------------------------------------------------------- helpers
    def _check_params(self) -> None:
        if self.cost not in COSTS:
            raise ValueError(f"cost: expected one of {COSTS}, got {self.cost!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {self.optimizer!r}")
        check_positive(self.lr, "lr")
        check_positive(self.eps, "eps", strict=False)
        check_positive(self.h_factor, "h_factor")
        if not (isinstance(self.h, str) and self.h == "median"):
            check_positive(self.h, "h")
        if not (isinstance(self.C, str) and self.C == "auto"):
            check_positive(self.C, "C")
        check_positive(self.c_factor, "c_factor")
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
        check_positive(self.final_factor, "final_factor")

    def _feature_config_dict(self) -> dict | None:
        fc = self.feature_config
        if fc is None or isinstance(fc, dict):
            return fc
        from ..audio.features import FeatureConfig

        if isinstance(fc, str):
            return dataclasses.asdict(FeatureConfig.preset(fc))
        if isinstance(fc, FeatureConfig):
            return dataclasses.asdict(fc)
        raise ValueError(f"feature_config: expected None, a dict, a preset name or a FeatureConfig, got {fc!r}")

    def _transform(self, X: torch.Tensor) -> torch.Tensor:
        return (X - self._mean_t) / self._scale_t

    def _scores_t(self, Z: torch.Tensor) -> torch.Tensor:
        return anomaly_score(Z, self.model_(Z))

    def _set_scaler(self, mean: torch.Tensor, scale: torch.Tensor, dev: torch.device) -> None:
        self.mean_ = mean.detach().cpu().numpy().astype(np.float64)
        self.scale_ = scale.detach().cpu().numpy().astype(np.float64)
        self._mean_t = mean.detach().to(dev, torch.float32)
        self._scale_t = scale.detach().to(dev, torch.float32)

    def _stats(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        d = X.shape[1]
        if not self.standardize_input:
            return torch.zeros(d), torch.ones(d)
        Xd = X.double()
        mean, scale = Xd.mean(0), Xd.std(0)
        return mean.float(), self._safe_scale(scale).float()

    @staticmethod
    def _safe_scale(scale: torch.Tensor) -> torch.Tensor:
        scale = torch.as_tensor(scale, dtype=torch.float64)
        floor = 1e-8 * float(scale.max().clamp(min=1e-30))
        return torch.where(scale > floor, scale, torch.ones_like(scale))

    def _check_X(self, X: Any, name: str = "X") -> torch.Tensor:
        X = _as_matrix(X, name)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name} has {X.shape[1]} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input"
            )
        return X

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X) first")

    def _n_updates(self, per_epoch: int | None) -> int:
        if self.n_updates is not None:
            return int(self.n_updates)
        bpe = int(self.batches_per_epoch) if self.batches_per_epoch is not None else per_epoch
        if bpe is None:
            raise ValueError(
                "n_updates: streamed training needs n_updates, or n_epochs and batches_per_epoch "
                "(or a sampler with batches_per_epoch)"
            )
        return (int(self.n_epochs) if self.n_epochs is not None else 100) * int(bpe)

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
        """
        self._check_params()
        dev = resolve_device(self.device)
        X = _as_matrix(X, "X")
        if X.shape[0] < 2:
            raise ValueError("X: got 1 sample; an autoencoder needs at least 2 training rows (n_samples=1)")
        d = X.shape[1]
        Xa = None
        if X_anomalous is not None:
            Xa = _as_matrix(X_anomalous, "X_anomalous", min_rows=0)
            if Xa.shape[0] == 0:
                Xa = None
            elif Xa.shape[1] != d:
                raise ValueError(f"X_anomalous: has {Xa.shape[1]} features, X has {d}")
        if self.cost == "snp" and Xa is None:
            raise ValueError("X_anomalous: cost='snp' needs simulated anomalous samples")
        if self.cost == "re":
            Xa = None
        mean, scale = self._stats(X)
        self._set_scaler(mean, scale, dev)
        Z = self._transform(X.to(dev, torch.float32))
        Za = self._transform(Xa.to(dev, torch.float32)) if Xa is not None else None
        n = Z.shape[0]
        bs = min(int(self.batch_size), n)
        per_epoch = n // bs
        mbs = int(self.anomalous_batch_size or bs)
        seed = int(self.random_state)
        cache: dict[str, Any] = {"epoch": -1, "perm": None}

        def get_batch(step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
            epoch, pos = divmod(step, per_epoch)
            if cache["epoch"] != epoch:
                g = torch.Generator().manual_seed(_seed(seed, 1, epoch))
                cache["epoch"], cache["perm"] = epoch, torch.randperm(n, generator=g).to(dev)
            xb = Z[cache["perm"][pos * bs : (pos + 1) * bs]]
            xa = None
            if Za is not None:
                g = torch.Generator().manual_seed(_seed(seed, 2, step))
                xa = Za[torch.randint(0, Za.shape[0], (min(mbs, Za.shape[0]),), generator=g).to(dev)]
            return xb, xa

        n_updates = self._n_updates(per_epoch)
        opt = self._loop(get_batch, n_updates, d, dev, Z[:4096], checkpoint, checkpoint_every, resume)
        self._set_offset(self.anomaly_score(X))
        self._finish(checkpoint, opt)
        return self

    def fit_batches(
        self,
        batches: Callable[[int], Any] | Iterable[Any],
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
        batches : callable or iterable
            ``batches(step)`` for step = 0, 1, ... (resumes exactly), or an iterable of batches (resuming
            continues from wherever it is). A batch is ``X`` (n_b, d), ``(X, X_anomalous)`` with
            X_anomalous (m_b, d) or None, a dict with ``"X"`` (and ``"X_anomalous"``), or an object with
            attributes ``X`` (and ``X_anomalous``). Arrays may be NumPy (memmaps included) or torch.
        n_updates : int or None, number of updates; None uses the detector's ``n_updates`` or
            ``n_epochs`` x ``batches_per_epoch``, else ``len(batches)``
        scaler : None, ``(mean, std)`` arrays (d,), or an object with ``mean_`` and ``scale_``
            Training statistics for the input standardisation. None estimates them from the normal rows of
            the first ``n_stat_batches`` batches (which are then trained on as usual).
        n_stat_batches : int >= 1
        calibration : array-like [shape=(k, d)] or None
            Normal vectors whose scores set the default threshold ``offset_``; None uses the normal rows of
            the first ``n_stat_batches`` batches.
        checkpoint, checkpoint_every, resume : as in :meth:`fit`

        Returns
        -------
        self
        """
        self._check_params()
        if int(n_stat_batches) < 1:
            raise ValueError(f"n_stat_batches: expected an integer >= 1, got {n_stat_batches!r}")
        dev = resolve_device(self.device)
        if callable(batches):
            source: Callable[[int], Any] = batches
            length = None
        else:
            try:
                length = len(batches)  # type: ignore[arg-type]
            except TypeError:
                length = None
            it = iter(batches)

            def source(step: int) -> Any:
                try:
                    return next(it)
                except StopIteration:
                    raise ValueError(
                        f"batches: the iterable ended after {step} batches; n_updates asks for more"
                    ) from None

        head: dict[int, tuple[torch.Tensor, torch.Tensor | None]] = {}
        k = int(n_stat_batches)

        def raw(step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
            if step in head:
                return head.pop(step)
            X, Xa = _split_batch(source(step))
            if step < k:  # full checks on the first batches; later a NaN shows up as a non-finite loss
                X = as_float_tensor(X, f"batches[{step}] X", ndim=2, min_rows=2)
                if Xa is not None:
                    Xa = as_float_tensor(Xa, f"batches[{step}] X_anomalous", ndim=2, min_rows=0)
            else:
                X = _fast_tensor(X, f"batches[{step}] X")
                Xa = None if Xa is None else _fast_tensor(Xa, f"batches[{step}] X_anomalous")
            return X, (Xa if Xa is not None and Xa.shape[0] > 0 else None)

        for s in range(k):
            head[s] = raw(s)
        first = torch.cat([head[s][0] for s in range(k)])
        d = first.shape[1]
        for s in range(k):
            for part, name in ((head[s][0], "X"), (head[s][1], "X_anomalous")):
                if part is not None and part.shape[1] != d:
                    raise ValueError(f"batches[{s}] {name}: has {part.shape[1]} features, batch 0 has {d}")
        if scaler is None:
            mean, scale = self._stats(first)
        else:
            if hasattr(scaler, "mean_") and hasattr(scaler, "scale_"):
                mean, std = scaler.mean_, scaler.scale_
            else:
                try:
                    mean, std = scaler
                except (TypeError, ValueError) as exc:
                    raise ValueError("scaler: expected None, (mean, std) or an object with mean_ and scale_") from exc
            mean = torch.as_tensor(np.asarray(mean, dtype=np.float64)).reshape(-1)
            std = self._safe_scale(torch.as_tensor(np.asarray(std, dtype=np.float64)).reshape(-1))
            if mean.shape[0] != d or std.shape[0] != d:
                raise ValueError(f"scaler: mean/std have {mean.shape[0]}/{std.shape[0]} entries, batches have {d}")
            if not self.standardize_input:
                mean, std = torch.zeros(d), torch.ones(d)
            mean, scale = mean.float(), std.float()
        self._set_scaler(mean, scale, dev)
        use_anom = self.cost != "re"

        def get_batch(step: int) -> tuple[torch.Tensor, torch.Tensor | None]:
            X, Xa = raw(step)
            if X.shape[1] != d:
                raise ValueError(f"batches[{step}] X: has {X.shape[1]} features, batch 0 has {d}")
            xb = self._transform(X.to(dev, torch.float32, non_blocking=True))
            xa = None
            if use_anom and Xa is not None:
                xa = self._transform(Xa.to(dev, torch.float32, non_blocking=True))
            if self.cost == "snp" and xa is None:
                raise ValueError(f"batches[{step}]: cost='snp' needs X_anomalous rows in every batch")
            return xb, xa

        if n_updates is None:
            if self.n_updates is None and self.n_epochs is None and self.batches_per_epoch is None:
                if length is None:
                    raise ValueError("n_updates: pass it (or set n_updates / n_epochs x batches_per_epoch)")
                n_updates = int(length)
            else:
                n_updates = self._n_updates(None)
        n_updates = int(n_updates)
        if n_updates < 1:
            raise ValueError(f"n_updates: expected a positive integer, got {n_updates!r}")
        z_first = self._transform(first[:4096].to(dev, torch.float32))
        opt = self._loop(get_batch, n_updates, d, dev, z_first, checkpoint, checkpoint_every, resume)
        self._set_offset(self.anomaly_score(first if calibration is None else calibration))
        self._finish(checkpoint, opt)
        return self

    def fit_sampler(self, sampler: Any, n_updates: int | None = None, **kwargs: Any) -> AEDetector:
        """Train from a sampler object (a frame sampler over a feature cache, the paper's batch builder).

        Parameters
        ----------
        sampler : object
            Provides batches through ``sampler.batch(step)``, or is callable as ``sampler(step)``, or is
            iterable. When it has ``mean_`` and ``scale_`` (training statistics, e.g. streamed over a feature
            cache) they are the scaler; when it has ``batches_per_epoch`` and the detector has no
            ``batches_per_epoch``, it sets the epoch length of ``n_epochs``.
        n_updates : int or None, as in :meth:`fit_batches`
        **kwargs : passed to :meth:`fit_batches` (``calibration``, ``checkpoint``, ``resume``, ...)

        Returns
        -------
        self
        """
        if hasattr(sampler, "batch") and callable(sampler.batch):
            batches: Any = sampler.batch
        elif callable(sampler) or hasattr(sampler, "__iter__"):
            batches = sampler
        else:
            raise ValueError(
                f"sampler: expected an object with batch(step), a callable or an iterable, got {type(sampler).__name__}"
            )
        if "scaler" not in kwargs and hasattr(sampler, "mean_") and hasattr(sampler, "scale_"):
            kwargs["scaler"] = (sampler.mean_, sampler.scale_)
        bpe = getattr(sampler, "batches_per_epoch", None)
        if n_updates is None and self.n_updates is None and self.batches_per_epoch is None and bpe:
            n_updates = (int(self.n_epochs) if self.n_epochs is not None else 100) * int(bpe)
        return self.fit_batches(batches, n_updates, **kwargs)

    # ------------------------------------------------------------------------------------------- the loop
    def _resolve_h(self, z_first: torch.Tensor, kde_std: Any) -> float:
        if self.cost != "bu":
            return float("nan")
        if isinstance(self.h, str):
            base = median_heuristic(z_first, standardize=kde_std, random_state=self.random_state)
            return float(self.h_factor) * base
        return float(self.h)

    def _config(self) -> dict:
        params = self.get_params()
        for k in ("hidden", "decoder_hidden"):
            if params[k] is not None:
                params[k] = [int(v) for v in params[k]]
        params["feature_config"] = self._feature_config_dict()
        return params

    def _new_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model_.parameters(), lr=float(self.lr), amsgrad=self.optimizer == "amsgrad")

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

    def _loop(
        self,
        get_batch: Callable[[int], tuple[torch.Tensor, torch.Tensor | None]],
        n_updates: int,
        d: int,
        dev: torch.device,
        z_first: torch.Tensor,
        checkpoint: str | Path | None,
        checkpoint_every: int | None,
        resume: bool,
    ) -> torch.optim.Optimizer:
        if checkpoint_every is not None and int(checkpoint_every) < 1:
            raise ValueError(f"checkpoint_every: expected a positive integer or None, got {checkpoint_every!r}")
        if resume and checkpoint is None:
            raise ValueError("resume: needs checkpoint=PATH to resume from")
        self.feature_config_ = self._feature_config_dict()
        kde_std = None
        if self.kde_standardize and not self.standardize_input:
            s = z_first.std(0)
            kde_std = (z_first.mean(0).cpu().numpy(), torch.where(s > 0, s, torch.ones_like(s)).cpu().numpy())
        self._build_model(d, dev)
        opt = self._new_optimizer()
        hist = {k: np.zeros(n_updates) for k in ("loss", "normal", "C", "lr")}
        start, ema_max, frames, seconds = 0, None, 0, 0.0
        self.h_ = self._resolve_h(z_first, kde_std)
        if resume and Path(checkpoint).is_file():
            start, ema_max, frames, seconds, kde_std = self._restore(checkpoint, opt, hist, n_updates, dev)
        self._kde_std = kde_std
        auto_c = isinstance(self.C, str)
        c_value = float("nan") if auto_c else float(self.C)
        warm = max(1, int(float(self.c_warmup) * n_updates)) if auto_c else 0
        if auto_c and ema_max is not None and start >= warm:
            c_value = float(self.c_factor) * ema_max
        self.n_updates_ = n_updates
        self.model_.train()
        t0 = time.perf_counter()
        bar = tqdm(
            range(start, n_updates),
            total=n_updates,
            initial=start,
            disable=not self.progress,
            desc=f"AE[{self.cost}]",
            leave=False,
        )
        for step in bar:
            xb, xa = get_batch(step)
            lr = float(self.lr) * lr_schedule(step, n_updates, self.decay_start, self.final_factor)
            for g in opt.param_groups:
                g["lr"] = lr
            nb = xb.shape[0]
            both = xb if xa is None else torch.cat([xb, xa])
            a_all = self._scores_t(both)
            a_n, a_a = a_all[:nb], a_all[nb:]
            in_warmup = auto_c and step < warm
            if in_warmup:  # estimate C from the normal scores; no anomalous term yet
                bmax = float(a_n.detach().max())
                ema_max = bmax if ema_max is None else 0.9 * ema_max + 0.1 * bmax
                if step == warm - 1:
                    c_value = float(self.c_factor) * ema_max
            use_anom = xa is not None and not in_warmup
            if self.cost == "re" or (self.cost == "snp" and not use_anom):
                loss = re_loss(a_n)
            elif self.cost == "snp":
                loss = snp_loss(a_n, a_a, c_value)
            else:
                w = bu_weights(xb, self.h_, self.eps, standardize=kde_std, warn=step == start)
                loss = bu_loss(a_n, w, a_a if use_anom else None, c_value if use_anom else None)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            value = float(loss.detach())
            if not math.isfinite(value):
                raise FloatingPointError(
                    f"training diverged at update {step} (the loss became {value}); lower lr or check the inputs"
                )
            hist["loss"][step], hist["normal"][step] = value, float(a_n.detach().mean())
            hist["C"][step], hist["lr"][step] = c_value, lr
            frames += nb + (0 if xa is None else xa.shape[0])
            if checkpoint is not None and checkpoint_every and (step + 1) % int(checkpoint_every) == 0:
                self._write(checkpoint, opt, hist, step + 1, ema_max, frames, seconds + time.perf_counter() - t0)
        self.fit_seconds_ = seconds + time.perf_counter() - t0
        self.frames_seen_ = int(frames)
        self.C_ = c_value
        self.history_ = hist
        self._ema_max = ema_max
        self.model_.eval()
        return opt

    def _finish(self, checkpoint: str | Path | None, opt: torch.optim.Optimizer) -> None:
        """Write the final checkpoint (with the threshold) when training wrote checkpoints."""
        if checkpoint is not None:
            self._write(
                checkpoint, opt, self.history_, self.n_updates_, self._ema_max, self.frames_seen_, self.fit_seconds_
            )

    # ------------------------------------------------------------------------------------------- checkpoints
    def _write(self, path, opt, hist, step, ema_max, frames, seconds) -> Path:
        state = {
            "step": int(step),
            "n_updates": int(self.n_updates_),
            "n_features_in": int(self.n_features_in_),
            "h": self.h_,
            "ema_max": ema_max,
            "frames_seen": int(frames),
            "fit_seconds": float(seconds),
        }
        for k in ("threshold_", "offset_"):
            if hasattr(self, k):
                state[k.rstrip("_")] = float(getattr(self, k))
        tensors = {f"history/{k}": torch.as_tensor(v) for k, v in hist.items()}
        if self._kde_std is not None:
            tensors["kde/mean"] = torch.as_tensor(np.asarray(self._kde_std[0], dtype=np.float64))
            tensors["kde/std"] = torch.as_tensor(np.asarray(self._kde_std[1], dtype=np.float64))
        return save_checkpoint(
            path,
            kind=_CKPT_KIND,
            config=self._config(),
            feature_config=self.feature_config_,
            state=state,
            state_dict=self.model_.state_dict(),
            scaler={"mean": torch.as_tensor(self.mean_), "scale": torch.as_tensor(self.scale_)},
            tensors=tensors,
            optimizer=opt.state_dict() if opt is not None else None,
        )

    def _restore(self, path, opt, hist, n_updates, dev):
        ck = load_checkpoint(path, kind=_CKPT_KIND)
        mine = self._config()
        diff = sorted(k for k in mine if k not in _RESUME_FREE and ck.config.get(k) != mine[k])
        if diff:
            raise ValueError(
                f"resume: {ck.path} was written with other settings ({', '.join(diff)}); "
                "use the same settings or another checkpoint path"
            )
        if int(ck.state.get("n_updates", -1)) != n_updates or int(ck.state["n_features_in"]) != self.n_features_in_:
            raise ValueError(f"resume: {ck.path} is for {ck.state.get('n_updates')} updates / other data")
        self.model_.load_state_dict(ck.state_dict)
        self.model_.to(dev)
        if ck.optimizer is None:
            raise ValueError(f"resume: {ck.path} holds no optimizer state (saved for inference only)")
        opt.load_state_dict(ck.optimizer)
        self._set_scaler(ck.scaler["mean"], ck.scaler["scale"], dev)
        for k in hist:
            hist[k][:] = ck.tensors[f"history/{k}"].numpy()
        self.h_ = float(ck.state["h"]) if ck.state.get("h") is not None else float("nan")
        kde_std = None
        if "kde/mean" in ck.tensors:
            kde_std = (ck.tensors["kde/mean"].numpy(), ck.tensors["kde/std"].numpy())
        return (
            int(ck.state["step"]),
            ck.state.get("ema_max"),
            int(ck.state.get("frames_seen", 0)),
            float(ck.state.get("fit_seconds", 0.0)),
            kde_std,
        )

    def save(self, path: str | Path) -> Path:
        """Write the fitted detector (weights, config, feature config, scaler, threshold, version) atomically.

        Read it back with :meth:`load`; the file is loaded with ``torch.load(weights_only=True)``, never
        unpickled. Returns the path.
        """
        self._check_fitted()
        return self._write(
            path,
            None,
            self.history_,
            self.n_updates_,
            getattr(self, "_ema_max", None),
            self.frames_seen_,
            self.fit_seconds_,
        )

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> AEDetector:
        """A fitted detector from a checkpoint written by :meth:`save` or during training.

        Raises :class:`adskit.detectors.checkpoint.CheckpointError` for anything but an intact adskit
        AEDetector checkpoint (pickled code is refused, not run).
        """
        ck = load_checkpoint(path, kind=_CKPT_KIND)
        config = dict(ck.config)
        for k in ("hidden", "decoder_hidden"):
            if config.get(k) is not None:
                config[k] = tuple(config[k])
        try:
            det = cls(**{**config, "device": device})
        except TypeError as exc:
            raise ValueError(f"{ck.path}: config does not match this AEDetector ({exc})") from exc
        det._check_params()
        dev = resolve_device(device)
        st = ck.state
        det._build_model(int(st["n_features_in"]), dev)
        det.model_.load_state_dict(ck.state_dict)
        det.model_.to(dev).eval()
        det._set_scaler(ck.scaler["mean"], ck.scaler["scale"], dev)
        det.feature_config_ = ck.feature_config
        det.h_ = float(st["h"]) if st.get("h") is not None else float("nan")
        det._ema_max = st.get("ema_max")
        det._kde_std = (
            (ck.tensors["kde/mean"].numpy(), ck.tensors["kde/std"].numpy()) if "kde/mean" in ck.tensors else None
        )
        det.n_updates_ = int(st["n_updates"])
        det.history_ = {k[len("history/") :]: v.numpy() for k, v in ck.tensors.items() if k.startswith("history/")}
        det.C_ = float(det.history_["C"][-1]) if det.history_.get("C") is not None and det.n_updates_ else float("nan")
        det.frames_seen_ = int(st.get("frames_seen", 0))
        det.fit_seconds_ = float(st.get("fit_seconds", 0.0))
        if "threshold" in st:
            det.threshold_ = float(st["threshold"])
            det.offset_ = float(st["offset"])
        det.checkpoint_version_ = ck.adskit_version
        return det

    # ------------------------------------------------------------------------------------------- scoring
    @torch.no_grad()
    def anomaly_score(self, X, batch_size: int = 8192) -> np.ndarray:
        """A(x) = ||z - D(E(z))||^2 of the standardised input z, per row of X (n, d); higher = more anomalous.

        Parameters
        ----------
        X : array-like [shape=(n, d)]
        batch_size : int, rows per forward pass

        Returns
        -------
        np.ndarray [shape=(n,)], float64
        """
        self._check_fitted()
        X = self._check_X(X)
        self.model_.eval()
        dev = self._mean_t.device
        out = [
            self._scores_t(self._transform(X[i : i + batch_size].to(dev, torch.float32))).cpu()
            for i in range(0, X.shape[0], batch_size)
        ]
        return torch.cat(out).double().numpy()

    def frame_scores(self, spectrogram) -> np.ndarray:
        """A(x_t) for every context vector of one clip (higher = more anomalous).

        Parameters
        ----------
        spectrogram : array-like [shape=(T, F)]
            Frame-wise features of one clip (e.g. a log-mel spectrogram, time first), or already stacked
            context vectors of shape (T', d). The context length is ``d // F``.

        Returns
        -------
        np.ndarray [shape=(T - frames + 1,)], aligned with ``adskit.audio.frame_times``
        """
        from ..audio.features import stack_context

        self._check_fitted()
        S = as_float_tensor(spectrogram, "spectrogram", ndim=2, min_rows=1)
        F = S.shape[1]
        if self.n_features_in_ % F != 0:
            raise ValueError(
                f"spectrogram: {F} features per frame do not divide the detector's {self.n_features_in_} "
                "input dimensions (frames x bins)"
            )
        frames = self.n_features_in_ // F
        if S.shape[0] < frames:
            raise ValueError(f"spectrogram: {S.shape[0]} frames, fewer than the {frames}-frame context")
        return self.anomaly_score(stack_context(S, frames) if frames > 1 else S)

    def score_clips(self, spectrograms, aggregate: str = "max", return_frames: bool = False):
        """One anomaly score per clip (higher = more anomalous).

        ``"max"`` is the paper's frame-wise rule (eq 11: a clip is anomalous when any frame is), ``"mean"``
        the DCASE baselines' clip score.

        Parameters
        ----------
        spectrograms : sequence of array-like, each [shape=(T_i, F)], or an array (n_clips, T, F)
            Frame-wise features per clip (see :meth:`frame_scores`).
        aggregate : "max" | "mean"
        return_frames : bool, also return the frame scores of every clip

        Returns
        -------
        scores : np.ndarray [shape=(n_clips,)]
        frames : list of np.ndarray [shape=(T_i - frames + 1,)], only with ``return_frames``
        """
        from ..threshold import clip_scores

        if aggregate not in ("max", "mean"):
            raise ValueError(f"aggregate: expected 'max' or 'mean', got {aggregate!r}")
        if len(spectrograms) == 0:
            raise ValueError("spectrograms: is empty")
        per_clip = []
        for i, S in enumerate(spectrograms):
            try:
                per_clip.append(self.frame_scores(S))
            except ValueError as exc:
                raise ValueError(f"spectrograms[{i}]: {exc}") from exc
        scores = clip_scores(per_clip, aggregate)
        return (scores, per_clip) if return_frames else scores
