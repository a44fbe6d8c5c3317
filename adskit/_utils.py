"""Small shared helpers: device choice, seeding, input validation, atomic writes, JSON conversion and hashing.

Nothing here knows about audio, models or experiments; every other module may import it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
import os
import random
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """Return a torch device; ``"auto"`` (or None) picks CUDA when present, else the CPU.

    Raises
    ------
    ValueError
        If ``device`` is not a valid device name, or asks for CUDA when CUDA is not available.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} was asked for but CUDA is not available; use device='auto'")
    return dev


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) for notebooks and the CLI.

    Library code never calls this: it takes ``random_state`` / ``seed`` arguments instead.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (notebooks and the CLI seed the legacy global RNG on purpose)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def as_float_tensor(
    x: Any, name: str, *, ndim: int | None = 2, min_rows: int = 1, device=None, keep_float64: bool = False
) -> torch.Tensor:
    """Convert ``x`` to a float tensor, checking shape and finiteness; errors name the argument.

    NumPy input becomes float32 (what the models use) unless ``keep_float64`` and it is float64 already;
    tensors keep their floating dtype.

    Raises
    ------
    ValueError
        If ``x`` is not numeric, is not ``ndim``-D, has fewer than ``min_rows`` rows, or contains NaN or Inf.
    """
    if isinstance(x, torch.Tensor):
        t = x
        if not t.is_floating_point():
            t = t.float()
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # pragma: no cover - numpy raises many kinds
            raise ValueError(f"{name}: expected an array of numbers, got {type(x).__name__}") from exc
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{name}: expected an array of numbers, got dtype {arr.dtype}")
        keep = arr.dtype == np.float32 or (keep_float64 and arr.dtype == np.float64)
        if keep and not arr.flags.writeable:
            arr = arr.copy()  # a read-only view (a memmap of the feature cache): torch needs writable memory
        t = torch.as_tensor(arr if keep else arr.astype(np.float32))
    if ndim is not None and t.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {tuple(t.shape)}")
    if t.ndim >= 1 and t.shape[0] < min_rows:
        raise ValueError(f"{name}: expected at least {min_rows} row(s), got {t.shape[0]}")
    if not all_finite(t):
        raise ValueError(f"{name}: contains NaN or Inf")
    if device is not None:
        t = t.to(device)
    return t


def all_finite(t: torch.Tensor) -> bool:
    """Whether every entry of the floating tensor ``t`` is finite (True for an empty one).

    One sum first (a NaN or an Inf anywhere makes it NaN or infinite), the elementwise test only when the sum is not
    finite (an overflow of large finite entries is then told apart): one pass instead of the several temporaries of
    ``torch.isfinite(t).all()`` on the training hot path, with the same answer.
    """
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def exp_floor(dtype: torch.dtype) -> float:
    """The lowest input worth passing to ``exp``: one above ln(smallest normal number) of ``dtype``.

    torch's CPU ``exp`` takes a slow path when the result is subnormal or zero: 10-40x slower per element (measured
    on x86: float32 inputs below -87.3, float64 below -708.4). Most inputs of the GMM E-step (log-weights of
    well-separated clusters) and of the BU kernel sums (far pairs at a small bandwidth) are such. Flooring changes
    each such exp(x) from ~0 to at most e times the smallest normal number, about 3e-38 (float32) or 6e-308
    (float64): nothing a sum that holds a 1 can see.

    Parameters
    ----------
    dtype : torch.dtype
        A floating-point dtype.

    Returns
    -------
    float
        ln(``torch.finfo(dtype).tiny``) + 1.
    """
    return math.log(torch.finfo(dtype).tiny) + 1.0


def check_positive(value: float, name: str, *, strict: bool = True) -> float:
    """Raise ValueError naming ``name`` unless ``value`` is a finite number > 0 (>= 0 if not strict)."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: expected a number, got {value!r}") from exc
    if not np.isfinite(v) or (v <= 0 if strict else v < 0):
        raise ValueError(f"{name}: expected a finite number {'>' if strict else '>='} 0, got {value!r}")
    return v


_UMASK = os.umask(0o022)
os.umask(_UMASK)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the permissions open() would
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write a UTF-8 text file."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically write ``obj`` as indented JSON (NumPy/torch scalars and arrays, paths, dataclasses converted)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def to_jsonable(obj: Any) -> Any:
    """``obj`` with every part JSON can write natively: the package's one JSON converter.

    Dataclass instances become dicts, mappings dicts (keys that JSON cannot write become strings), tuples lists,
    paths strings, NumPy / torch scalars Python numbers and arrays nested lists; anything else is returned as
    it is (so ``json.dumps`` still raises on an unknown type). Non-finite floats are kept (``NaN`` in JSON).

    Parameters
    ----------
    obj : object

    Returns
    -------
    object
        Built of dict, list, str, int, float, bool and None only (for the types above).
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, Mapping):
        return {_json_key(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, torch.Tensor):
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def settings_hash(obj: Any, n: int = 10) -> str:
    """First ``n`` hex digits of the SHA-256 of ``obj`` as sorted-key JSON (``str`` for what JSON cannot write).

    A short, stable name for a set of settings (result folders, checkpoint and cache file names).
    """
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:n]


#: bytes hashed at each end of a file by :func:`file_edges_sha256` (a file of at most twice this is hashed whole)
EDGE_BYTES = 1 << 20


def file_edges_sha256(path: str | os.PathLike, size: int | None = None) -> str:
    """SHA-256 of the first and last :data:`EDGE_BYTES` of a file (of the whole file when it is small).

    A cheap content identity: it sees a file replaced by another of the same size and modification time (as
    ``cp -p`` makes), which a (size, mtime) key does not; audio headers and both ends of the samples are covered.

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    size = os.path.getsize(path) if size is None else int(size)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        if size <= 2 * EDGE_BYTES:
            h.update(fh.read())
        else:
            h.update(fh.read(EDGE_BYTES))
            fh.seek(size - EDGE_BYTES)
            h.update(fh.read(EDGE_BYTES))
    return h.hexdigest()


def _json_key(k: Any) -> Any:
    return k if k is None or isinstance(k, (str, int, float, bool)) else str(k)


def _json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` hook: :func:`to_jsonable` for one object JSON cannot write itself."""
    out = to_jsonable(o)
    if out is o:
        raise TypeError(f"not JSON serialisable: {type(o).__name__}")
    return out


def save_figure(fig, path: str | os.PathLike, **kwargs) -> Path:
    """Save a matplotlib figure atomically (PNG by the suffix of ``path``)."""
    path = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".") or "png", bbox_inches="tight", **kwargs)
    return atomic_write_bytes(path, buf.getvalue())
