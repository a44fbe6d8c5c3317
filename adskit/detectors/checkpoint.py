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

from .._utils import _json_default, atomic_write_bytes

__all__ = ["FORMAT", "FORMAT_VERSION", "Checkpoint", "CheckpointError", "load_checkpoint", "save_checkpoint"]

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
