"""Download and verify the files of a registered data set (pooch does the transfer).

Verification
    A file is checked against its known hash in :data:`~adskit.audio.download.REGISTRY`. Where no published
    hash exists, :func:`fetch` refuses unless ``allow_unverified=True``; it then downloads, prints the
    SHA-256 it computed and records it in ``<data_dir>/registry.lock.json`` (trust on first use). Later
    fetches verify against that record. Verification is never skipped silently.

Resumption
    Per file: a file already present under its final name and matching its hash is not downloaded again.
    A download streams into a temporary file next to the target (pooch) and is moved to its final name only
    after its hash matched, so an interrupted download leaves no partial file under the final name; the
    partial data is discarded and that one file starts again from byte 0 on the next call (no HTTP Range).
    Files already present are hashed again on every call (a 10 GB zip takes a few tens of seconds).

Where
    Files land in ``<data_dir>/<data set>/downloads/``; the root is :func:`adskit.audio.paths.data_dir`
    (``$ADSKIT_DATA``, else the platform's user cache folder), the same root as the synthetic data.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pooch
import requests

from adskit._utils import atomic_write_json
from adskit.audio.download.registry import DataSet, RemoteFile, get_dataset
from adskit.audio.paths import DATA_ENV, data_dir

__all__ = [
    "DATA_ENV",
    "LOCK_NAME",
    "SYNTHETIC_HINT",
    "DownloadError",
    "HashMismatchError",
    "UnverifiedDownloadError",
    "data_dir",
    "dataset_dir",
    "fetch",
    "file_hash",
]

LOCK_NAME = "registry.lock.json"
SYNTHETIC_HINT = (
    "No network or no time? Every experiment of the kit runs on its embedded synthetic default: "
    "`adskit reproduce --quick` on the command line, or `adskit.audio.synth.ensure_synthetic()` in Python."
)


# --------------------------------------------------------------------------------------------- errors


class DownloadError(RuntimeError):
    """A file could not be downloaded (offline, refused connection, HTTP error)."""


class HashMismatchError(ValueError):
    """A downloaded or existing file does not match its known hash."""


class UnverifiedDownloadError(RuntimeError):
    """A file has no known hash and ``allow_unverified`` was not given."""


# ------------------------------------------------------------------------------------------ locations

_data_dir = data_dir  # fetch() takes a `data_dir` argument that shadows the function


def dataset_dir(name: str | DataSet, root: str | os.PathLike | None = None) -> Path:
    """Folder of one data set under :func:`~adskit.audio.paths.data_dir`.

    Parameters
    ----------
    name : str or DataSet
        A registered data set.
    root : str, os.PathLike or None
        The data root; None uses :func:`~adskit.audio.paths.data_dir`.

    Returns
    -------
    Path
        ``<root>/<name>``; downloads go to its ``downloads/`` subfolder. Not created.

    Raises
    ------
    KeyError
        ``name`` is not registered.
    """
    return _data_dir(root) / get_dataset(name).name


# --------------------------------------------------------------------------------------------- hashes


def file_hash(path: str | os.PathLike, alg: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file, read in chunks.

    Parameters
    ----------
    path : str or os.PathLike
    alg : str
        Any :mod:`hashlib` name, e.g. ``"md5"``, ``"sha256"``.
    chunk : int
        Bytes read at a time.

    Returns
    -------
    str
        Lower-case hex digest.

    Raises
    ------
    OSError
        The file cannot be read.
    ValueError
        ``alg`` is not a hash algorithm :mod:`hashlib` knows.
    """
    h = hashlib.new(alg)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _split_hash(known: str) -> tuple[str, str]:
    alg, sep, value = known.partition(":")
    if not sep:  # pooch treats a bare hex string as SHA-256
        alg, value = "sha256", known
    alg = alg.lower()
    if alg not in {"md5", "sha1", "sha256", "sha512"}:
        raise ValueError(f"unsupported hash algorithm in {known!r}")
    return alg, value.lower()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ------------------------------------------------------------------------- the trust-on-first-use lock


def _read_lock(root: Path) -> dict:
    path = root / LOCK_NAME
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RuntimeError(f"{path}: unreadable ({exc}); fix or delete it (it only holds recorded hashes)") from exc


def _record_lock(root: Path, key: str, entry: dict) -> None:
    lock = _read_lock(root)
    lock[key] = entry
    atomic_write_json(root / LOCK_NAME, dict(sorted(lock.items())))


def _record_tofu(root: Path, key: str, f: RemoteFile, target: Path) -> None:
    sha = file_hash(target)
    _record_lock(
        root,
        key,
        {"url": f.url, "sha256": sha, "verified_with": "trust-on-first-use", "recorded": _now()},
    )
    print(
        f"UNVERIFIED (trust on first use): {target}\n"
        f"  sha256:{sha}\n"
        f"  recorded in {root / LOCK_NAME}; later fetches verify against it. Compare it with the publisher's "
        f"page ({f.url}) if it lists a checksum.",
        file=sys.stderr,
    )


# ---------------------------------------------------------------------------------------------- fetch


class _HashingDownloader:
    """Wrap pooch's HTTPDownloader to remember the hash of what it downloaded (for clear mismatch errors)."""

    def __init__(self, alg: str, progress: bool):
        self.alg = alg
        self.inner = pooch.HTTPDownloader(progressbar=progress, timeout=60)
        self.actual: str | None = None

    def __call__(self, url, output_file, pooch_obj, check_only=False):
        self.inner(url, output_file, pooch_obj)
        self.actual = file_hash(output_file, self.alg)


def _offline_message(url: str, target: Path, known_hash: str | None, exc: BaseException) -> str:
    check = f"it will be verified against {known_hash}" if known_hash else "it has no published hash"
    return (
        f"could not download {url}\n"
        f"  to:     {target}\n"
        f"  reason: {type(exc).__name__}: {exc}\n"
        f"To do it by hand: download {url} with a browser or curl on a machine with internet access, put the "
        f"file at {target} and run the same command again ({check}).\n"
        f"{SYNTHETIC_HINT}"
    )


def _refuse_unverifiable(ds: DataSet, selected: Sequence[RemoteFile], lock: dict, root: Path) -> None:
    """Raise before touching the network if a file has neither a registry hash nor a recorded one."""
    unverifiable = [f for f in selected if f.known_hash is None and f"{ds.name}/{f.name}" not in lock]
    if not unverifiable:
        return
    listing = "\n".join(f"  {f.name}: {f.url}\n    ({f.hash_note or 'no published hash'})" for f in unverifiable)
    raise UnverifiedDownloadError(
        f"{ds.name}: no published hash for {len(unverifiable)} file(s), so they cannot be verified:\n"
        f"{listing}\n"
        "Refusing to download them unverified. If you accept that (trust on first use), run again with "
        "--allow-unverified (allow_unverified=True in Python): the kit downloads, prints the SHA-256 it "
        f"computed and records it in {root / LOCK_NAME}; later fetches verify against that record.\n"
        f"{SYNTHETIC_HINT}"
    )


def _check_present(root: Path, key: str, f: RemoteFile, target: Path, expected: str | None) -> None:
    """Verify a file already under its final name; with no hash anywhere, record it (trust on first use)."""
    if expected is None:  # allow_unverified was given (checked before)
        _record_tofu(root, key, f, target)
        return
    alg, value = _split_hash(expected)
    actual = file_hash(target, alg)
    if actual != value:
        raise HashMismatchError(
            f"{target} exists but its {alg} is {actual}, expected {value} ({f.url}).\n"
            "The kit does not delete files it did not write: move or delete it, then run again."
        )


def _download(f: RemoteFile, target: Path, expected: str | None, progress: bool) -> None:
    """Download ``f`` to ``target`` through pooch, verified against ``expected``; translate pooch's errors."""
    alg = _split_hash(expected)[0] if expected else "sha256"
    downloader = _HashingDownloader(alg, progress)
    try:
        pooch.retrieve(
            f.url,
            known_hash=expected,
            fname=f.name,
            path=target.parent,
            downloader=downloader,
            progressbar=progress,
        )
    except ValueError as exc:
        if expected is None or "hash" not in str(exc).lower():
            raise
        _, value = _split_hash(expected)
        raise HashMismatchError(
            f"{f.name}: the download from {f.url} has {alg} {downloader.actual or '(unknown)'}, "
            f"expected {value}. The download was deleted and nothing was written to {target}.\n"
            "The file may be corrupted in transit or changed upstream; try again, and if it persists, "
            "report it (the registry may need updating)."
        ) from exc
    except (requests.exceptions.RequestException, OSError) as exc:
        raise DownloadError(_offline_message(f.url, target, expected, exc)) from exc


def _record_download(root: Path, key: str, f: RemoteFile, target: Path, expected: str | None, locked: bool) -> None:
    """Record a new download's SHA-256: trust on first use, or beside the publisher's hash it matched."""
    if expected is None:
        _record_tofu(root, key, f, target)
    elif f.known_hash is not None and not locked:
        # Verified against the publisher's hash: also record the SHA-256 for future registry upgrades.
        alg, value = _split_hash(expected)
        _record_lock(
            root,
            key,
            {
                "url": f.url,
                "sha256": file_hash(target) if alg != "sha256" else value,
                "verified_with": f.known_hash,
                "recorded": _now(),
            },
        )


def fetch(
    name: str | DataSet,
    files: Iterable[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    allow_unverified: bool = False,
    progress: bool = True,
    *,
    tags: Iterable[str] | None = None,
) -> list[Path]:
    """Download and verify files of a registered data set; return their local paths.

    Parameters
    ----------
    name : str or DataSet
        Registry key (see :func:`~adskit.audio.download.list_datasets`) or a :class:`DataSet` (tests use one
        on 127.0.0.1).
    files : iterable of str, optional
        File names to fetch; all files of the data set if None.
    data_dir : path-like, optional
        Root folder; default :func:`adskit.audio.paths.data_dir` (``$ADSKIT_DATA``, else the platform's user
        cache folder, ``~/.cache/adskit`` on Linux). Files land in ``<data_dir>/<name>/downloads/``.
    allow_unverified : bool
        Allow files without a known hash: download, print the SHA-256 and record it in
        ``<data_dir>/registry.lock.json`` (trust on first use). Later calls verify against that record.
    progress : bool
        Show a progress bar (tqdm).
    tags : iterable of str, optional
        Keep only files carrying all these tags (e.g. ``["dev", "fan"]``).

    Returns
    -------
    list of Path
        Local paths, in the order of ``files`` (or of the registry).

    Raises
    ------
    DownloadError
        Offline, connection refused or HTTP error; the message names the URL, the target path, the manual
        steps and the synthetic default.
    HashMismatchError
        The downloaded (or already present) file does not match its hash; the bad download is deleted.
    UnverifiedDownloadError
        A file has no known hash and ``allow_unverified`` is False; nothing is downloaded.
    KeyError
        ``name`` is not registered, or a name in ``files`` is not a file of it.
    RuntimeError
        ``registry.lock.json`` exists but cannot be read.

    Examples
    --------
    >>> fetch("dcase2020_task2", tags=["dev", "fan"])  # doctest: +SKIP
    [PosixPath('/home/me/.cache/adskit/dcase2020_task2/downloads/dev_data_fan.zip')]
    """
    ds = get_dataset(name)
    root = _data_dir(data_dir)
    folder = root / ds.name / "downloads"
    selected = ds.select(files, tags)
    lock = _read_lock(root)
    if not allow_unverified:
        _refuse_unverifiable(ds, selected, lock, root)

    paths = []
    for f in selected:
        key = f"{ds.name}/{f.name}"
        target = folder / f.name
        recorded = lock.get(key, {}).get("sha256")
        expected = f.known_hash or (f"sha256:{recorded}" if recorded else None)
        if target.exists():
            _check_present(root, key, f, target, expected)
        else:
            _download(f, target, expected, progress)
            _record_download(root, key, f, target, expected, locked=key in lock)
        paths.append(target)
    return paths
