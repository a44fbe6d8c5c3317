"""Fingerprints of the data a run reads, so that a result folder is keyed by the data as well as the settings.

A run's folder name (:attr:`adskit.experiments.runs.Run.key`) hashes its settings and the fingerprints of its data
folders. Each fingerprint is computed once, by the plan function in the calling process, and travels with the
run (``Run.data``); a folder whose files were added, removed, resized, rewritten or replaced gets another
fingerprint, so the run trains anew in a new folder and the old folder is kept.

What a user folder's fingerprint covers, per file: the path relative to the folder, the size in bytes, the
modification time (ns), and the SHA-256 of the first and last MiB (the whole file when it is at most 2 MiB: every
10-s clip at 16 kHz, so for clip folders this is a full content hash). Why not always the whole file: real folders
hold many GB, and the command fingerprints them on every invocation; SHA-256 runs at about 1 GB/s from memory here,
slower from disk. The modification time catches an edit inside a long file that keeps its size (any write
updates it); the edge hashes catch a file replaced by another of the same size whose time was preserved
(``cp -p``, ``rsync -t``). A ``touch`` or a copy without preserved times counts as a change: the safe side (a
retraining), never a silent reuse. The files covered are those the readers read: audio files
(:data:`adskit.audio.io.AUDIO_EXTENSIONS`) and label tables (``.csv``), hidden files excepted, recursively.

A synthetic data set (made deterministically from its preset and seed) is keyed by its ``manifest.json``, which
records every file, the generator version and the settings.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from .._utils import EDGE_BYTES, file_edges_sha256
from ..audio.io import AUDIO_EXTENSIONS
from ..audio.synth import MANIFEST_NAME, read_manifest

__all__ = [
    "EDGE_BYTES",
    "FINGERPRINT_EXTENSIONS",
    "data_fingerprints",
    "describe",
    "fingerprint_changed",
    "folder_fingerprint",
    "manifest_fingerprint",
]

#: the files a folder's fingerprint covers: what the readers read (audio, and label tables)
FINGERPRINT_EXTENSIONS = (*AUDIO_EXTENSIONS, ".csv")


def _listing(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.suffix.lower() in FINGERPRINT_EXTENSIONS and not p.name.startswith(".") and p.is_file()
    )


def folder_fingerprint(folder: str | os.PathLike, name: str = "folder", edges: bool = True) -> dict:
    """Fingerprint of the data files under ``folder`` (see the module docstring for what it covers and why).

    Parameters
    ----------
    folder : path
        A folder of audio files (searched recursively, as the readers do).
    name : str
        The argument or setting that named the folder, for the error message.
    edges : bool
        Also hash the first and last MiB of every file (False: ``stat`` only, no file is opened).

    Returns
    -------
    dict
        ``{"kind": "folder", "path": str, "files": int, "bytes": int, "stat": str, "sha256": str}``: ``stat``
        hashes the file list with sizes and modification times (cheap: one ``stat`` per file, what a worker
        re-checks before it starts), ``sha256`` also the edge hashes (what the run's key uses; None without
        ``edges``); 64 hex digits each.

    Raises
    ------
    FileNotFoundError
        If ``folder`` is not a directory (the message names ``name``).
    """
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{name}: {root} is not a folder")
    stat_rows, rows, total = [], [], 0
    for p in _listing(root):
        st = p.stat()
        row = [p.relative_to(root).as_posix(), st.st_size, st.st_mtime_ns]
        stat_rows.append(row)
        if edges:
            rows.append([*row, file_edges_sha256(p, st.st_size)])
        total += st.st_size
    return {
        "kind": "folder",
        "path": str(root),
        "files": len(stat_rows),
        "bytes": total,
        "stat": _digest(stat_rows),
        "sha256": _digest(rows) if edges else None,
    }


def manifest_fingerprint(root: str | os.PathLike, name: str = "data_dir") -> dict:
    """Fingerprint of a synthetic data set: the SHA-256 of its ``manifest.json``.

    Returns
    -------
    dict
        ``{"kind": "manifest", "path": str, "files": int, "stat": str, "sha256": str}`` (``stat`` = ``sha256``).

    Raises
    ------
    FileNotFoundError
        If ``root`` holds no ``manifest.json`` (the message names ``name``).
    ValueError
        If the manifest is not one of :func:`adskit.audio.synth.make_dataset`'s.
    """
    root = Path(root).expanduser()
    try:
        manifest = read_manifest(root)
    except FileNotFoundError:
        raise FileNotFoundError(f"{name}: {root} holds no {MANIFEST_NAME} (expected a synthetic data set)") from None
    digest = hashlib.sha256((root / MANIFEST_NAME).read_bytes()).hexdigest()
    return {"kind": "manifest", "path": str(root), "files": len(manifest["files"]), "stat": digest, "sha256": digest}


def data_fingerprints(folders: Mapping[str, str | os.PathLike | None], edges: bool = True) -> dict[str, dict]:
    """Fingerprints of the folders a run reads, by the setting that names each (None entries left out).

    A folder holding a synthetic data set's ``manifest.json`` is keyed by it (:func:`manifest_fingerprint`),
    any other by its files (:func:`folder_fingerprint`).

    Parameters
    ----------
    folders : mapping of setting name -> path or None
        E.g. ``{"normal_dir": "rec/normal", "something_else_dir": "rec/other", "test_dir": None}``.
    edges : bool
        As in :func:`folder_fingerprint` (False: the cheap ``stat`` digest only).

    Returns
    -------
    dict of setting name -> fingerprint dict

    Raises
    ------
    FileNotFoundError
        If a folder does not exist (the message names its setting).
    """
    out = {}
    for name, folder in folders.items():
        if folder is None:
            continue
        if (Path(folder).expanduser() / MANIFEST_NAME).is_file():
            try:
                out[name] = manifest_fingerprint(folder, name)
                continue
            except ValueError:  # a manifest.json of something else: the folder's files are the data
                pass
        out[name] = folder_fingerprint(folder, name, edges)
    return out


def fingerprint_changed(planned: Mapping[str, dict]) -> list[str]:
    """The settings whose folder no longer matches its planned fingerprint (by the cheap ``stat`` digest).

    Parameters
    ----------
    planned : mapping of setting name -> fingerprint dict (``Run.data``)

    Returns
    -------
    list of str
        One line per changed or vanished folder, naming the setting, the folder and the file counts.
    """
    out = []
    for name, fp in planned.items():
        try:
            now = data_fingerprints({name: fp["path"]}, edges=False)[name]
        except (OSError, ValueError) as exc:
            out.append(f"{name} {fp['path']}: {exc}")
            continue
        if now["stat"] != fp["stat"]:
            out.append(f"{name} {fp['path']}: {describe(fp)} when planned, {describe(now)} now")
    return out


def describe(fp: Mapping) -> str:
    """``"12 files, 3.1 MB"`` (or ``"synthetic data set of 12 files"``) for messages."""
    if fp.get("kind") == "manifest":
        return f"synthetic data set of {fp.get('files')} files"
    return f"{fp.get('files')} files, {fp.get('bytes', 0) / 1e6:.1f} MB"


def _digest(rows: list) -> str:
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode("utf-8")).hexdigest()
