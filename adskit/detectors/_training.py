"""The autoencoder's training loop (:func:`train_loop`), the plan of a run and its mini-batch sources.

* :class:`Plan`: what one run needs besides its batches (updates, device, first rows, checkpointing);
  :class:`ClipSchedule`: the clip C of the anomalous term per update.
* :class:`EpochBatches`: standardised vectors on the device, cut into mini-batches by one seeded random
  permutation per epoch; anomalous rows drawn with replacement per update.
* :class:`Stream`: batches streamed from a sampler (an object with ``batch(step)``, and optionally training
  statistics ``mean_``/``scale_`` and ``batches_per_epoch``), a callable ``batches(step)`` or an iterable. A
  sampler's draws are replayed up to the step a resumed run starts at (exact resume); a callable is trusted to
  seek; an iterable continues wherever it is. A
  batch is ``X``, ``(X, X_anomalous)``, a dict with ``"X"`` (and ``"X_anomalous"``) or an object with those
  attributes; arrays may be NumPy (memmaps included) or torch.

:class:`Stream` gives ``(X, X_anomalous or None)`` as read; the loop's batch sources (:class:`EpochBatches`, and
:func:`joined_batch` on a stream's batches) are called as ``source(step) -> (Z, n_b)``: the standardised normal and
anomalous rows of the update joined in one tensor on the device, normal rows first (n_b of them). One copy is made
per update and standardised in place: no second standardisation, no concatenation in the loop.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .._scaling import safe_scale
from .._utils import as_float_tensor
from ..kde import bu_weights
from ..losses import bu_loss, re_loss, snp_loss
from .checkpoint import TrainingProgress
from .presets import feature_config_dict, lr_schedule

Batch = tuple[torch.Tensor, "torch.Tensor | None"]  # what a Stream reads: (X, X_anomalous or None)
Joined = tuple[torch.Tensor, int]  # what the loop takes: (Z, n_b), normal rows Z[:n_b], anomalous rows Z[n_b:]
_HISTORY = ("loss", "normal", "C", "lr", "ess")  # what the loop records per update ("ess": BU only, else NaN)


@dataclass(frozen=True)
class Plan:
    """One training run: how many updates, on which device, from which first rows, where to checkpoint."""

    n_updates: int
    device: torch.device
    z_first: torch.Tensor  # standardised first training rows: the bandwidth and the KDE statistics
    checkpoint: str | Path | None = None
    checkpoint_every: int | None = None
    resume: bool = False
    batch_sizes: tuple[int, ...] | None = None  # streamed: the rows of each first batch in z_first, in order

    def first_batches(self) -> list[torch.Tensor] | None:
        """The first streamed batches inside ``z_first`` (the complete ones), or None when not streamed."""
        if not self.batch_sizes:
            return None
        out, start = [], 0
        for size in self.batch_sizes:
            if start + size > self.z_first.shape[0]:
                break
            out.append(self.z_first[start : start + size])
            start += size
        return out or None

    def __post_init__(self) -> None:
        if self.n_updates < 1:
            raise ValueError(f"n_updates: expected a positive integer, got {self.n_updates!r}")
        if self.checkpoint_every is not None and int(self.checkpoint_every) < 1:
            raise ValueError(f"checkpoint_every: expected a positive integer or None, got {self.checkpoint_every!r}")
        if self.resume and self.checkpoint is None:
            raise ValueError("resume: needs checkpoint=PATH to resume from")

    def writes_at(self, done: int) -> bool:
        """Whether a checkpoint is due after ``done`` updates (the final one is written after the threshold)."""
        return self.checkpoint is not None and bool(self.checkpoint_every) and done % int(self.checkpoint_every) == 0


class ClipSchedule:
    """The clip C of the anomalous term (SNP, BU) per update: a number, or "auto" (see ``AEDetector``'s ``C``).

    "auto": the first ``warm = max(1, int(warmup * n_updates))`` updates run without the anomalous term while an
    exponential moving average (0.9) of the batch maximum of the normal scores is tracked (``ema_max``); C is
    then ``factor`` x that average, frozen. ``value`` is NaN until then. A resumed run passes the ``ema_max``
    and the update it starts from.
    """

    def __init__(
        self, C: float | str, factor: float, warmup: float, n_updates: int, ema_max: float | None = None, start: int = 0
    ) -> None:
        self.auto = isinstance(C, str)
        self.factor, self.ema_max = float(factor), ema_max
        self.warm = max(1, int(float(warmup) * n_updates)) if self.auto else 0
        self.value = float("nan") if self.auto else float(C)
        if self.auto and ema_max is not None and start >= self.warm:
            self.value = self.factor * ema_max

    def warming(self, step: int, normal_scores: torch.Tensor) -> bool:
        """Whether update ``step`` is in the warm-up; if so, track the maximum of its ``normal_scores``."""
        if not (self.auto and step < self.warm):
            return False
        bmax = float(normal_scores.detach().max())
        self.ema_max = bmax if self.ema_max is None else 0.9 * self.ema_max + 0.1 * bmax
        if step == self.warm - 1:
            self.value = self.factor * self.ema_max
        return True


def _seed(*words: int) -> int:
    """A 63-bit seed for ``torch.Generator.manual_seed`` from several integers."""
    return int(np.random.SeedSequence([int(w) & 0xFFFFFFFF for w in words]).generate_state(2, np.uint64)[0] >> 1)


class EpochBatches:
    """Mini-batches of ``Z`` (n, d): epoch e is the permutation seeded by (``seed``, 1, e), cut into
    ``batch_size`` rows (a last partial batch is dropped); the anomalous rows of update t are drawn from ``Za``
    with replacement, seeded by (``seed``, 2, t). Both tensors stay on their device. A call gives ``(Z, n_b)``:
    the rows gathered straight into one new tensor, normal rows first.
    """

    def __init__(
        self, Z: torch.Tensor, Za: torch.Tensor | None, batch_size: int, anomalous_batch_size: int | None, seed: int
    ) -> None:
        self.Z, self.Za, self.seed = Z, Za, int(seed)
        self.batch_size = min(int(batch_size), Z.shape[0])
        self.per_epoch = Z.shape[0] // self.batch_size
        self.anomalous_batch_size = int(anomalous_batch_size or self.batch_size)
        self._epoch, self._perm = -1, None

    def __call__(self, step: int) -> Joined:
        epoch, pos = divmod(step, self.per_epoch)
        n, bs, dev = self.Z.shape[0], self.batch_size, self.Z.device
        if self._epoch != epoch:
            g = torch.Generator().manual_seed(_seed(self.seed, 1, epoch))
            self._epoch, self._perm = epoch, torch.randperm(n, generator=g).to(dev)
        rows = self._perm[pos * bs : (pos + 1) * bs]
        if self.Za is None:
            return self.Z[rows], bs
        g = torch.Generator().manual_seed(_seed(self.seed, 2, step))
        m = min(self.anomalous_batch_size, self.Za.shape[0])
        z = self.Z.new_empty((bs + m, self.Z.shape[1]))
        torch.index_select(self.Z, 0, rows, out=z[:bs])
        torch.index_select(self.Za, 0, torch.randint(0, self.Za.shape[0], (m,), generator=g).to(dev), out=z[bs:])
        return z, bs


def joined_batch(
    X: torch.Tensor, Xa: torch.Tensor | None, mean: torch.Tensor, scale: torch.Tensor, device: torch.device
) -> Joined:
    """``(Z, n_b)``: the rows of ``X`` (n_b, d) and ``Xa`` (m, d) or None, standardised ``(x - mean) / scale`` as
    float32 on ``device``, in one new tensor (normal rows first). The one copy out of the caller's arrays (which are
    never written) is standardised in place: the numbers of standardising each part on its own.
    """
    X = X.to(device, torch.float32, non_blocking=True)
    if Xa is None:
        z = X - mean
    else:
        z = torch.cat([X, Xa.to(device, torch.float32, non_blocking=True)])
        z.sub_(mean)
    return z.div_(scale), X.shape[0]


def _fast_tensor(X: Any, name: str) -> torch.Tensor:
    """A float tensor view of a streamed 2-D batch, without validation's copy and finiteness scan.

    Only for the batches after the first ``k`` (which are fully checked): a memmap slice or a GPU tensor goes to
    the device as it is, and a NaN shows up as a non-finite loss instead (the loop stops on it).
    """
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


def _source(batches: Any) -> tuple[Callable[[int], Any], int | None]:
    """``source(step)`` and the length (None if unknown) of a sampler, a callable or an iterable of batches."""
    if hasattr(batches, "batch") and callable(batches.batch):
        return batches.batch, None
    if callable(batches):
        return batches, None
    if not hasattr(batches, "__iter__"):
        raise ValueError(
            f"batches: expected an object with batch(step), a callable or an iterable, got {type(batches).__name__}"
        )
    try:
        length = len(batches)
    except TypeError:
        length = None
    it = iter(batches)

    def source(step: int) -> Any:
        try:
            return next(it)
        except StopIteration:
            raise ValueError(f"batches: the iterable ended after {step} batches; n_updates asks for more") from None

    return source, length


class Stream:
    """Streamed batches as ``(X, X_anomalous or None)`` tensors on the CPU or wherever they come from.

    The first ``k`` batches are read ahead and fully checked (finite, 2-D, >= 2 normal rows, equal features):
    their normal rows ``first`` give the statistics, and they are then trained on as usual.

    Attributes
    ----------
    d : int, the number of features
    first : torch.Tensor (n_first, d), the normal rows of the first ``k`` batches
    length : int or None, ``len(batches)`` of an iterable with a length
    stats : the sampler when its ``mean_`` and ``scale_`` (training statistics) are set (not None), else None
    batches_per_epoch : int or None, the sampler's epoch length

    Raises
    ------
    ValueError
        If ``batches`` is of none of the three kinds, ``k`` < 1, or one of the first ``k`` batches is bad.
    """

    def __init__(self, batches: Any, k: int) -> None:
        self.source, self.length = _source(batches)
        # a sampler's batch(step) gives its next draw whatever the step (the samplers of adskit.audio.batches):
        # a resumed run replays the draws before its first step, so that it sees the uninterrupted run's batches
        self.replays = hasattr(batches, "batch") and callable(batches.batch)
        self.drawn = 0  # source calls made so far
        known = getattr(batches, "mean_", None) is not None and getattr(batches, "scale_", None) is not None
        self.stats = batches if known else None  # a sampler may say "not known yet" with None
        self.batches_per_epoch = getattr(batches, "batches_per_epoch", None) or None
        self.k = int(k)
        if self.k < 1:
            raise ValueError(f"n_stat_batches: expected an integer >= 1, got {k!r}")
        self.head = {s: self._read(s) for s in range(self.k)}
        self.first = torch.cat([self.head[s][0] for s in range(self.k)])
        self.d = self.first.shape[1]
        for s in range(self.k):
            for part, name in ((self.head[s][0], "X"), (self.head[s][1], "X_anomalous")):
                if part is not None and part.shape[1] != self.d:
                    raise ValueError(f"batches[{s}] {name}: has {part.shape[1]} features, batch 0 has {self.d}")

    def _read(self, step: int) -> Batch:
        if self.replays:
            while self.drawn < step:  # resuming: draw and drop the batches the checkpointed run trained on
                self.source(self.drawn)
                self.drawn += 1
            self.drawn += 1
        X, Xa = _split_batch(self.source(step))
        if step < self.k:
            X = as_float_tensor(X, f"batches[{step}] X", ndim=2, min_rows=2)
            if Xa is not None:
                Xa = as_float_tensor(Xa, f"batches[{step}] X_anomalous", ndim=2, min_rows=0)
        else:
            X = _fast_tensor(X, f"batches[{step}] X")
            Xa = None if Xa is None else _fast_tensor(Xa, f"batches[{step}] X_anomalous")
        return X, (Xa if Xa is not None and Xa.shape[0] > 0 else None)

    def __call__(self, step: int) -> Batch:
        if step in self.head:
            return self.head.pop(step)
        X, Xa = self._read(step)
        if X.shape[1] != self.d:
            raise ValueError(f"batches[{step}] X: has {X.shape[1]} features, batch 0 has {self.d}")
        return X, Xa


def train_loop(det: Any, get_batch: Callable[[int], Joined], plan: Plan) -> TrainingProgress:
    """The AE's training loop for the costs RE, SNP and BU (BU paper eqs 7, 9-10 and 16): build ``det``'s model and run
    ``plan.n_updates`` updates (from the checkpoint if resuming). ``get_batch(step)`` gives ``(Z, n_b)`` (see
    :func:`joined_batch`).

    Sets ``det.feature_config_``, ``det.h_``, ``det._kde_std`` and ``det.model_``; returns the run's progress
    (history, the running maximum behind C="auto", frames seen, seconds).

    Raises
    ------
    FloatingPointError
        If the loss becomes NaN or infinite.
    """
    n = plan.n_updates
    det.feature_config_ = feature_config_dict(det.feature_config)
    kde_std = None  # the KDE input's own standardisation, when the AE input is not standardised
    if det.kde_standardize and not det.standardize_input:
        kde_std = (plan.z_first.mean(0).cpu().numpy(), safe_scale(plan.z_first.std(0)).cpu().numpy())
    det._build_model(plan.z_first.shape[1], plan.device)
    opt = torch.optim.Adam(det.model_.parameters(), lr=float(det.lr), amsgrad=det.optimizer == "amsgrad")
    det.h_, det._kde_std = det._resolve_h(plan.z_first, kde_std, plan.first_batches()), kde_std
    run = TrainingProgress({k: np.full(n, np.nan) if k == "ess" else np.zeros(n) for k in _HISTORY})
    if plan.resume and Path(plan.checkpoint).is_file():
        run = det._resume(plan.checkpoint, opt, n, plan.device)
    run.optimizer, start, hist = opt, run.step, run.history
    hist.setdefault("ess", np.full(n, np.nan))  # a checkpoint written before the ESS was recorded
    clip = ClipSchedule(det.C, det.c_factor, det.c_warmup, n, run.ema_max, start)
    det.model_.train()
    t0, seconds = time.perf_counter(), run.seconds
    bar = tqdm(range(start, n), total=n, initial=start, disable=not det.progress, desc=f"AE[{det.cost}]", leave=False)
    for step in bar:
        z, nb = get_batch(step)
        lr = float(det.lr) * lr_schedule(step, n, det.decay_start, det.final_factor)
        for g in opt.param_groups:
            g["lr"] = lr
        a_all = det._scores_t(z)
        a_n, a_a = a_all[:nb], a_all[nb:]
        in_warmup = clip.warming(step, a_n)  # C="auto" is estimated first, without the anomalous term
        run.ema_max, c_value = clip.ema_max, clip.value
        use_anom = z.shape[0] > nb and not in_warmup
        if det.cost == "re" or (det.cost == "snp" and not use_anom):
            loss = re_loss(a_n)
        elif det.cost == "snp":
            loss = snp_loss(a_n, a_a, c_value)
        else:
            w = bu_weights(z[:nb], det.h_, det.eps, standardize=det._kde_std, warn=step == start)
            hist["ess"][step] = float(1.0 / (w.detach().double().square().sum() * w.shape[0]))  # ESS / B
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
        run.frames += z.shape[0]
        if plan.writes_at(step + 1):
            run.step, run.seconds = step + 1, seconds + time.perf_counter() - t0
            det._write(plan.checkpoint, run)
    run.step, run.seconds = n, seconds + time.perf_counter() - t0
    det.model_.eval()
    return run
