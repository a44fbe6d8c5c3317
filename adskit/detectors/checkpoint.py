"""Checkpoints that hold tensors and JSON, written atomically and read without unpickling code.

A checkpoint is one file written by ``torch.save`` whose content is a plain dictionary of tensors, numbers,
strings, lists and dicts (nothing else), read back with ``torch.load(weights_only=True)``: a file that holds
a pickled object (a class, a function, a ``__reduce__`` payload) is refused before anything in it runs.

Layout of the dictionary (``format_version`` 1)::

    format           "adskit-checkpoint"
    format_version   1
    adskit_version   version of adskit that wrote it
    kind             what it holds, e.g. "AEDetector"
    meta_json        JSON text: {"config": ..., "feature_config": ..., "state": ...}
    state_dict       the model's ``state_dict()`` (tensors)
    scaler           {"mean": tensor (d,), "scale": tensor (d,)}: the input standardisation
    tensors          further named tensors (training history, ...)
    optimizer        the optimizer's ``state_dict()`` or None (to resume training)
    digest           SHA-256 over everything above, so an edited or damaged file is refused

The digest is a consistency check, not a signature: it catches a file edited by hand, truncated or mixed from
two runs. Safety against malicious files comes from ``weights_only=True``.

:class:`CheckpointMixin` gives a detector ``save``, ``load`` and resumable training checkpoints in this format
(what an ``AEDetector`` writes into ``meta_json``, ``scaler`` and ``tensors`` is listed there), and
:class:`TrainingProgress` is the state of a run that such a checkpoint carries.

Examples
--------
>>> import tempfile, os, torch
>>> path = os.path.join(tempfile.mkdtemp(), "m.pt")
>>> _ = save_checkpoint(path, kind="demo", config={"a": 1}, state_dict={"w": torch.ones(2)})
>>> ck = load_checkpoint(path, kind="demo")
>>> ck.config, ck.state_dict["w"].tolist()
({'a': 1}, [1.0, 1.0])
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .._utils import _json_default, atomic_write_bytes, resolve_device

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "Checkpoint",
    "CheckpointError",
    "CheckpointMixin",
    "TrainingProgress",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT = "adskit-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A file is not a usable adskit checkpoint; the message names the file and the reason."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {problem}")


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns."""

    path: Path
    kind: str
    adskit_version: str
    config: dict
    feature_config: dict | None
    state: dict
    state_dict: dict[str, torch.Tensor]
    scaler: dict[str, torch.Tensor] = field(default_factory=dict)
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    optimizer: dict | None = None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("adskit")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without installing
        return "unknown"


def _feed(h: Any, obj: Any) -> None:
    """Feed a canonical byte form of ``obj`` (tensors, dicts, lists, scalars) into the hash ``h``."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    elif isinstance(obj, dict):
        h.update(b"D")
        for k in sorted(obj, key=lambda k: (type(k).__name__, str(k))):
            h.update(repr(k).encode())
            _feed(h, obj[k])
    elif isinstance(obj, (list, tuple)):
        h.update(b"L" + str(len(obj)).encode())
        for v in obj:
            _feed(h, v)
    else:
        h.update(b"S" + repr(obj).encode())


def _digest(payload: dict) -> str:
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in payload.items() if k != "digest"})
    return h.hexdigest()


def save_checkpoint(
    path: str | os.PathLike,
    *,
    kind: str,
    config: dict,
    state_dict: dict[str, torch.Tensor],
    scaler: dict[str, Any] | None = None,
    feature_config: dict | None = None,
    state: dict | None = None,
    tensors: dict[str, Any] | None = None,
    optimizer: dict | None = None,
) -> Path:
    """Write a checkpoint atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    path : str or os.PathLike, the file to write (parents created); a reader never sees half a file
    kind : str, what the checkpoint holds (checked by :func:`load_checkpoint`)
    config : dict, JSON-serialisable constructor arguments
    state_dict : dict of str -> torch.Tensor, the model weights (moved to the CPU)
    scaler : dict of str -> array (d,), e.g. ``{"mean": ..., "scale": ...}``
    feature_config : dict or None, the feature front end the model was trained on
    state : dict, JSON-serialisable training state (step, fitted scalars, ...)
    tensors : dict of str -> array, further arrays (training history, random-generator state, ...)
    optimizer : dict or None, ``optimizer.state_dict()`` (only tensors, numbers and lists inside)

    Returns
    -------
    Path : the written file
    """

    def to_t(v: Any) -> torch.Tensor:
        return v.detach().cpu() if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v))

    meta = {"config": config, "feature_config": feature_config, "state": state or {}}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "adskit_version": _version(),
        "kind": str(kind),
        "meta_json": json.dumps(meta, default=_json_default, sort_keys=True),
        "state_dict": {k: to_t(v) for k, v in state_dict.items()},
        "scaler": {k: to_t(v) for k, v in (scaler or {}).items()},
        "tensors": {k: to_t(v) for k, v in (tensors or {}).items()},
        "optimizer": _cpu(optimizer) if optimizer is not None else None,
    }
    payload["digest"] = _digest(payload)
    buf = io.BytesIO()
    torch.save(payload, buf)
    return atomic_write_bytes(path, buf.getvalue())


def _cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


def load_checkpoint(path: str | os.PathLike, kind: str | None = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`, refusing anything else.

    Parameters
    ----------
    path : str or os.PathLike
    kind : str or None, the expected ``kind`` (None accepts any)

    Returns
    -------
    Checkpoint : tensors on the CPU

    Raises
    ------
    CheckpointError
        Missing file; a file that holds pickled code (refused by ``torch.load(weights_only=True)``, nothing
        in it is executed); not an adskit checkpoint; a newer format; the wrong ``kind``; a digest mismatch
        (edited, truncated or damaged).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "file not found (expected a checkpoint written by adskit)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for code objects, RuntimeError/EOFError for damaged files
        raise CheckpointError(
            path,
            "refused: not a plain tensor/JSON checkpoint (it holds pickled objects, or is truncated or corrupt); "
            f"adskit loads checkpoints with torch.load(weights_only=True) only. Cause: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}",
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(path, f"not an adskit checkpoint (no format = {FORMAT!r} entry)")
    fv = payload.get("format_version")
    if not isinstance(fv, int) or fv > FORMAT_VERSION:
        raise CheckpointError(
            path, f"format_version {fv!r} is newer than this adskit reads ({FORMAT_VERSION}); upgrade adskit"
        )
    if payload.get("digest") != _digest(payload):
        raise CheckpointError(path, "digest mismatch: the file was edited, truncated or damaged after it was written")
    if kind is not None and payload.get("kind") != kind:
        raise CheckpointError(path, f"holds a {payload.get('kind')!r}, expected a {kind!r}")
    try:
        meta = json.loads(payload["meta_json"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(path, "meta_json is missing or not valid JSON") from exc
    return Checkpoint(
        path=path,
        kind=str(payload["kind"]),
        adskit_version=str(payload.get("adskit_version", "unknown")),
        config=meta.get("config", {}),
        feature_config=meta.get("feature_config"),
        state=meta.get("state", {}),
        state_dict=dict(payload.get("state_dict", {})),
        scaler=dict(payload.get("scaler", {})),
        tensors=dict(payload.get("tensors", {})),
        optimizer=payload.get("optimizer"),
    )


@dataclass
class TrainingProgress:
    """Where a training run is: what a checkpoint carries so that a resumed run continues exactly."""

    history: dict[str, np.ndarray]  # per-update arrays (n_updates,), e.g. "loss"
    step: int = 0  # updates done
    ema_max: float | None = None  # AEDetector: moving average of the batch maximum of normal scores (C="auto")
    frames: int = 0  # rows trained on
    seconds: float = 0.0  # wall time of the loop
    optimizer: Any = field(default=None, repr=False)  # the torch optimizer (None: saved for inference only)


class CheckpointMixin:
    """``save``, ``load`` and resumable training checkpoints of a detector that wraps one torch model.

    What a detector's checkpoint holds (the layout of ``AEDetector`` checkpoints since format version 1):

    * ``config``: ``_config()``, the constructor arguments; ``feature_config``: ``feature_config_``;
    * ``state``: ``step``, ``n_updates``, ``n_features_in``, ``h`` (``h_``), ``ema_max``, ``frames_seen``,
      ``fit_seconds``, and ``threshold``/``offset`` once the detector has them;
    * ``state_dict``: ``model_``'s weights; ``scaler``: ``mean_``/``scale_``; ``optimizer`` while training;
    * ``tensors``: ``history/<name>`` per-update arrays, and ``kde/mean``, ``kde/std`` when the detector
      standardises its KDE input itself (``_kde_std``).

    The detector provides ``_config()``, ``_check_params()``, ``_build_model(n_features, device)`` and
    ``_set_scaler(mean, scale, device)``; ``_checkpoint_kind`` names what the file holds, and
    ``_resume_free`` lists the constructor arguments that may differ between a checkpoint and the detector
    that resumes from it.
    """

    _checkpoint_kind: str
    _resume_free: tuple[str, ...] = ("progress", "device")

    def _adopt(self, run: TrainingProgress) -> None:
        """Set the fitted attributes that describe a finished (or loaded) run."""
        self.history_ = run.history
        self.n_updates_ = len(run.history["loss"])
        self.C_ = float(run.history["C"][-1]) if self.n_updates_ else float("nan")
        self.frames_seen_ = int(run.frames)
        self.fit_seconds_ = float(run.seconds)
        self._ema_max = run.ema_max

    def _write(self, path: str | os.PathLike, run: TrainingProgress) -> Path:
        """Write the detector and ``run`` to ``path`` atomically; returns the path."""
        state = {
            "step": int(run.step),
            "n_updates": len(run.history["loss"]),
            "n_features_in": int(self.n_features_in_),
            "h": self.h_,
            "ema_max": run.ema_max,
            "frames_seen": int(run.frames),
            "fit_seconds": float(run.seconds),
        }
        state.update({k.rstrip("_"): float(getattr(self, k)) for k in ("threshold_", "offset_") if hasattr(self, k)})
        tensors = {f"history/{k}": torch.as_tensor(v) for k, v in run.history.items()}
        if self._kde_std is not None:
            tensors["kde/mean"] = torch.as_tensor(np.asarray(self._kde_std[0], dtype=np.float64))
            tensors["kde/std"] = torch.as_tensor(np.asarray(self._kde_std[1], dtype=np.float64))
        return save_checkpoint(
            path,
            kind=self._checkpoint_kind,
            config=self.settings(),
            feature_config=self.feature_config_,
            state=state,
            state_dict=self.model_.state_dict(),
            scaler={"mean": torch.as_tensor(self.mean_), "scale": torch.as_tensor(self.scale_)},
            tensors=tensors,
            optimizer=None if run.optimizer is None else run.optimizer.state_dict(),
        )

    def _from_checkpoint(self, ck: Checkpoint, dev: torch.device) -> TrainingProgress:
        """Set weights (into the built ``model_``) and fitted attributes from ``ck``; returns its progress."""
        st = ck.state
        self.model_.load_state_dict(ck.state_dict)
        self.model_.to(dev).eval()
        self._set_scaler(ck.scaler["mean"], ck.scaler["scale"], dev)
        self.feature_config_ = ck.feature_config
        self.h_ = float(st["h"]) if st.get("h") is not None else float("nan")
        kde = "kde/mean" in ck.tensors
        self._kde_std = (ck.tensors["kde/mean"].numpy(), ck.tensors["kde/std"].numpy()) if kde else None
        for k in ("threshold", "offset"):
            if k in st:
                setattr(self, f"{k}_", float(st[k]))
        run = TrainingProgress(
            {k[len("history/") :]: v.numpy() for k, v in ck.tensors.items() if k.startswith("history/")},
            step=int(st["step"]),
            ema_max=st.get("ema_max"),
            frames=int(st.get("frames_seen", 0)),
            seconds=float(st.get("fit_seconds", 0.0)),
        )
        self._adopt(run)
        return run

    def _resume(self, path: str | os.PathLike, optimizer: Any, n_updates: int, dev: torch.device) -> TrainingProgress:
        """Continue a run: check the settings, load weights and optimizer state; returns the progress.

        Raises
        ------
        CheckpointError
            Anything but an intact checkpoint of this kind.
        ValueError
            Other settings, another number of updates or features, or no optimizer state in the file.
        """
        ck = load_checkpoint(path, kind=self._checkpoint_kind)
        mine = self.settings()
        diff = sorted(k for k in mine if k not in self._resume_free and ck.config.get(k) != mine[k])
        if diff:
            raise ValueError(
                f"resume: {ck.path} was written with other settings ({', '.join(diff)}); "
                "use the same settings or another checkpoint path"
            )
        if int(ck.state.get("n_updates", -1)) != n_updates or int(ck.state["n_features_in"]) != self.n_features_in_:
            raise ValueError(f"resume: {ck.path} is for {ck.state.get('n_updates')} updates / other data")
        if ck.optimizer is None:
            raise ValueError(f"resume: {ck.path} holds no optimizer state (saved for inference only)")
        run = self._from_checkpoint(ck, dev)
        optimizer.load_state_dict(ck.optimizer)
        run.optimizer = optimizer
        return run

    def save(self, path: str | os.PathLike) -> Path:
        """Write the fitted detector (weights, config, feature config, scaler, threshold, version) atomically.

        Read it back with :meth:`load`; the file is loaded with ``torch.load(weights_only=True)``, never
        unpickled.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (parent folders are created).

        Returns
        -------
        Path
            The written file.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If the detector is not fitted.
        OSError
            If the file cannot be written (an existing file is then left as it was).
        """
        check_is_fitted(self, "model_")
        ema_max = getattr(self, "_ema_max", None)
        run = TrainingProgress(self.history_, self.n_updates_, ema_max, self.frames_seen_, self.fit_seconds_)
        return self._write(path, run)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "auto") -> Any:
        """A fitted detector from a checkpoint written by :meth:`save` or during training.

        Parameters
        ----------
        path : str or os.PathLike
        device : "auto", "cpu" or "cuda"
            Where the model goes (a checkpoint written on a GPU loads on the CPU).

        Returns
        -------
        detector
            With ``checkpoint_version_``, the adskit version that wrote the file.

        Raises
        ------
        CheckpointError
            Anything but an intact adskit checkpoint of this kind (pickled code is refused, not run).
        ValueError
            If the stored settings are not valid constructor arguments of this class.
        """
        ck = load_checkpoint(path, kind=cls._checkpoint_kind)
        config = {k: tuple(v) if isinstance(v, list) else v for k, v in ck.config.items()}
        try:
            det = cls(**{**config, "device": device})
        except TypeError as exc:
            raise ValueError(f"{ck.path}: config does not match this {cls.__name__} ({exc})") from exc
        det._check_params()
        dev = resolve_device(device)
        det._build_model(int(ck.state["n_features_in"]), dev)
        det._from_checkpoint(ck, dev)
        det.checkpoint_version_ = ck.adskit_version
        return det
