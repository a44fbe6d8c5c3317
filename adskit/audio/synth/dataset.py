"""The synthetic data set on disk: presets, :func:`make_dataset`, :func:`ensure_synthetic`, :func:`read_manifest`.

A data set is a folder in the DCASE layout plus a ``manifest.json`` that records every file (see
:func:`make_dataset`). Every file is made from its own seeded generator, so a preset and a seed give the same
bytes on every run; :func:`read_manifest` is the one reader of the manifest.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from adskit._utils import atomic_write_json, check_positive
from adskit.audio.io import save_audio
from adskit.audio.paths import data_dir
from adskit.audio.synth.machines import MACHINES, RARE_FRACTION, generate_clip
from adskit.audio.synth.sounds import (
    ADDITIVE_KINDS,
    ANOMALY_GROUPS,
    ANOMALY_KINDS,
    SOMETHING_ELSE_KINDS,
    generate_anomaly_source,
    generate_something_else,
)

__all__ = [
    "GENERATOR",
    "MANIFEST_NAME",
    "PRESETS",
    "RARE_DISTINCTNESS",
    "RARE_TEST_FRACTION",
    "SYNTH_VERSION",
    "default_data_dir",
    "ensure_synthetic",
    "make_dataset",
    "read_manifest",
]

SYNTH_VERSION = 1
#: The ``"generator"`` field of every manifest (the module's name before it became a package; kept so that
#: data sets made before and after read the same).
GENERATOR = "adskit.audio.synth"
MANIFEST_NAME = "manifest.json"

PRESETS: dict[str, dict[str, Any]] = {
    "fast": {
        "machines": ("fan", "pump", "gearbox", "conveyor"),
        "n_train": 40,
        "n_test_normal": 12,
        "n_test_anomaly": 12,
        "duration": 6.0,
        "n_something_else": 40,
        "n_anomaly_sources": 8,
    },
    "full": {
        "machines": ("fan", "pump", "gearbox", "conveyor"),
        "n_train": 200,
        "n_test_normal": 60,
        "n_test_anomaly": 60,
        "duration": 10.0,
        "n_something_else": 300,
        "n_anomaly_sources": 30,
    },
}

#: Alias of :func:`adskit.audio.paths.data_dir`, the one root of downloaded and generated data.
default_data_dir = data_dir


def _resolve_config(preset: str, seed: int, sr: int, **overrides) -> dict[str, Any]:
    if preset not in PRESETS:
        raise ValueError(f"preset: expected one of {tuple(PRESETS)}, got {preset!r}")
    cfg = dict(PRESETS[preset])
    for k, v in overrides.items():
        if v is not None:
            cfg[k] = v
    cfg["machines"] = list(cfg["machines"])
    for m in cfg["machines"]:
        if m not in MACHINES:
            raise ValueError(f"machines: unknown machine {m!r}; expected some of {tuple(MACHINES)}")
    for k in ("n_train", "n_test_normal", "n_test_anomaly", "n_something_else", "n_anomaly_sources"):
        if isinstance(cfg[k], bool) or int(cfg[k]) != cfg[k] or cfg[k] < 0:
            raise ValueError(f"{k}: expected an int >= 0, got {cfg[k]!r}")
        cfg[k] = int(cfg[k])
    cfg["duration"] = check_positive(cfg["duration"], "duration")
    if cfg.get("rarity") is not None and not 0.0 < float(cfg["rarity"]) <= 0.5:
        raise ValueError(f"rarity: expected a share of the training seconds in (0, 0.5], got {cfg['rarity']!r}")
    if cfg.get("distinctness") is not None:
        cfg["distinctness"] = check_positive(cfg["distinctness"], "distinctness", strict=False)
    cfg.update(preset=preset, seed=int(seed), sr=int(check_positive(sr, "sr")), version=SYNTH_VERSION)
    return cfg


#: The rare-normal experiment's distinctness, chosen with plain RE only (``scripts/rare_defaults_re_only.py``;
#: fan, fcn40-small, 1,500 updates, seeds 0-2, threshold at 5 % false alarms on held-out frequent-normal frames):
#: RE's frame false-alarm rate on rare-normal frames was 6.7-7.8 x its rate on frequent-normal frames at rarity
#: 0.5 %, 3.7-4.2 x at 2 % and 2.0-2.7 x at 10 %. With distinctness 0 (the warm-up alone) it was 2.4-3.0 x at 2 %
#: (below the 3 x the experiment needs), with 1.0 3.4-4.2 x. The defaults of :func:`make_dataset` stay 0.
RARE_DISTINCTNESS = 0.5
RARE_TEST_FRACTION = 0.5  # with ``rarity`` set: share of the normal test clips that hold the rare process
MIN_RARE_SECONDS = 0.5  # with ``rarity`` set: the shortest rare segment


def _rare_plan(rarity: float, n_clips: int, duration: float) -> tuple[int, float]:
    """(clips holding the rare process, seconds each) so that they total ``rarity`` x the training seconds."""
    total = rarity * n_clips * duration
    n_rare = max(1, math.ceil(total / min(3.0, 0.5 * duration)))
    if n_rare > n_clips or total / n_rare < MIN_RARE_SECONDS:
        raise ValueError(
            f"rarity: {rarity} of {n_clips} training clips of {duration} s is {total:.2f} s of rare process; "
            f"expected segments of {MIN_RARE_SECONDS}-3 s in at most half of each clip (change rarity, n_train "
            "or duration)"
        )
    return n_rare, total / n_rare


def _rare_share(records: list[dict[str, Any]]) -> dict[str, float]:
    """Per machine: seconds of rare process / seconds of normal training audio, as generated."""
    out: dict[str, list[float]] = {}
    for r in records:
        if r.get("split") == "train" and r.get("label") == "normal":
            rare = sum(t1 - t0 for t0, t1 in r["processes"]["rare"])
            acc = out.setdefault(r["machine"], [0.0, 0.0])
            acc[0], acc[1] = acc[0] + rare, acc[1] + r["duration"]
    return {m: round(a / b, 6) for m, (a, b) in out.items()}


def _plan(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """Every file of the data set, with the seed words that make it (independent of the other files)."""
    seed, jobs = cfg["seed"], []
    for mi, machine in enumerate(cfg["machines"]):
        for si, (split, label, count) in enumerate(
            (
                ("train", "normal", cfg["n_train"]),
                ("test", "normal", cfg["n_test_normal"]),
                ("test", "anomaly", cfg["n_test_anomaly"]),
            )
        ):
            sub = np.random.default_rng([seed, mi, si, 10**6])
            rare = np.zeros(count, dtype=bool)
            rare_seconds = [None] * count
            if cfg.get("rarity") is not None and (split, label) == ("train", "normal"):
                # an exact share of the training seconds, in as few segments of at most 3 s as it takes
                n_rare, seconds = _rare_plan(cfg["rarity"], count, cfg["duration"])
                for i in sub.choice(count, n_rare, replace=False):
                    rare[i], rare_seconds[i] = True, seconds
            else:
                share = RARE_TEST_FRACTION if cfg.get("rarity") is not None and split == "test" else RARE_FRACTION
                rare[sub.choice(count, int(round(share * count)), replace=False)] = True
            kinds = [ANOMALY_KINDS[i % len(ANOMALY_KINDS)] for i in sub.permutation(count)]
            for i in range(count):
                jobs.append(
                    {
                        "path": f"{machine}/{split}/{label}_id_00_{i:08d}.wav",
                        "what": "clip",
                        "machine": machine,
                        "split": split,
                        "label": label,
                        "rare": bool(rare[i]),
                        "rare_seconds": rare_seconds[i],
                        "anomaly_kind": kinds[i] if label == "anomaly" else None,
                        "seed": [seed, mi, si, i],
                    }
                )
    for i in range(cfg["n_something_else"]):
        kind = SOMETHING_ELSE_KINDS[i % len(SOMETHING_ELSE_KINDS)]
        jobs.append(
            {
                "path": f"something_else/{kind}_{i:04d}.wav",
                "what": "something_else",
                "kind": kind,
                "seed": [seed, 10**5, 0, i],
            }
        )
    for ki, kind in enumerate(ADDITIVE_KINDS):
        for i in range(cfg["n_anomaly_sources"]):
            jobs.append(
                {
                    "path": f"anomaly_sources/{kind}_{i:04d}.wav",
                    "what": "anomaly_source",
                    "kind": kind,
                    "seed": [seed, 10**5, 1 + ki, i],
                }
            )
    return jobs


def _make_file(job: dict[str, Any], cfg: dict[str, Any], folder: Path) -> dict[str, Any]:
    rng = np.random.default_rng(job["seed"])
    sr = cfg["sr"]
    rec: dict[str, Any] = {"path": job["path"]}
    if job["what"] == "clip":
        y, info = generate_clip(
            job["machine"],
            job["label"],
            rng=rng,
            sr=sr,
            duration=cfg["duration"],
            rare=job["rare"],
            anomaly_kind=job["anomaly_kind"],
            rare_seconds=job["rare_seconds"],
            distinctness=cfg.get("distinctness", 0.0),
        )
        rec.update(
            machine=job["machine"],
            split=job["split"],
            label=job["label"],
            rare=job["rare"],
            processes={k: info[k] for k in ("steady", "idle", "rare", "anomaly")},
            anomaly_kind=info["anomaly_kind"],
            anomaly_group=info["anomaly_group"],
            anr_db=info["anr_db"],
            speed_factor=info["speed_factor"],
            f0=info["f0"],
        )
    elif job["what"] == "something_else":
        y = generate_something_else(job["kind"], rng, sr)
        rec.update(machine=None, split="something_else", label="something_else", kind=job["kind"])
    else:
        y = generate_anomaly_source(job["kind"], rng, sr)
        rec.update(
            machine=None,
            split="anomaly_source",
            label="anomaly",
            anomaly_kind=job["kind"],
            anomaly_group=ANOMALY_GROUPS[job["kind"]],
        )
    rec.update(duration=round(y.size / sr, 6), sr=sr)
    save_audio(folder / job["path"], y, sr)
    return rec


def _manifest_file(root: str | os.PathLike) -> Path:
    path = Path(root).expanduser()
    return path if path.name == MANIFEST_NAME and not path.is_dir() else path / MANIFEST_NAME


def read_manifest(root: str | os.PathLike) -> dict[str, Any]:
    """Read and check the ``manifest.json`` of a synthetic data set (the one reader of that file).

    Parameters
    ----------
    root : str or os.PathLike
        The data set's folder (made by :func:`make_dataset` or :func:`ensure_synthetic`), or its
        ``manifest.json`` itself (what :func:`make_dataset` returns).

    Returns
    -------
    manifest : dict
        ``{"generator", "version", "seed", "preset", "config", "complete", "n_files", "anomaly_groups",
        "rare_fraction", "files"}``. ``files`` is a list of records, one per audio file, each with at least
        ``"path"`` (relative to the folder, POSIX separators) and ``"split"`` (``"train"``, ``"test"``,
        ``"something_else"`` or ``"anomaly_source"``). Machine clips also carry ``"machine"``, ``"label"``
        (``"normal"`` or ``"anomaly"``), ``"rare"``, ``"processes"`` (``{"steady", "idle", "rare",
        "anomaly"}``: lists of ``[t0, t1]`` segments in seconds), ``"anomaly_kind"``, ``"anomaly_group"``,
        ``"anr_db"``, ``"speed_factor"``, ``"f0"``; every record has ``"duration"`` (s) and ``"sr"`` (Hz).
        Paths are not resolved: join them to the folder (``Path(root) / rec["path"]``).

    Raises
    ------
    FileNotFoundError
        There is no ``manifest.json`` in ``root``.
    ValueError
        The file is not JSON, or not a manifest written by this generator (no ``"generator":
        "adskit.audio.synth"``, or ``"files"`` is not a list of records with a relative ``"path"`` and a
        ``"split"``); the message names the file and what was expected.

    Examples
    --------
    >>> root = make_dataset(tmp / "synth", machines=("fan",), n_train=2, progress=False)  # doctest: +SKIP
    >>> [r["path"] for r in read_manifest(root)["files"] if r["split"] == "train"]  # doctest: +SKIP
    ['fan/train/normal_id_00_00000000.wav', 'fan/train/normal_id_00_00000001.wav']
    """
    path = _manifest_file(root)
    expected = "expected the manifest.json of a folder made by adskit.audio.synth.make_dataset"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"root: {path} not found; {expected}") from None
    except IsADirectoryError:
        raise ValueError(f"root: {path} is a folder; {expected}") from None
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"root: {path} is not valid JSON ({exc}); {expected}") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"root: {path} holds a JSON {type(manifest).__name__}, not an object; {expected}")
    if manifest.get("generator") != GENERATOR:
        raise ValueError(f"root: {path} has generator {manifest.get('generator')!r}, not {GENERATOR!r}; {expected}")
    files = manifest.get("files")
    if not isinstance(files, list):
        raise ValueError(f"root: {path} has no 'files' list; {expected}")
    for i, rec in enumerate(files):
        ok = isinstance(rec, dict) and isinstance(rec.get("path"), str) and isinstance(rec.get("split"), str)
        if not ok or rec["path"].startswith("/") or ".." in rec["path"].split("/"):
            raise ValueError(
                f"root: {path}: files[{i}] is {rec!r}; expected a record with a relative 'path' (str, inside "
                f"the folder) and a 'split' (str)"
            )
    return manifest


def _existing_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest at ``path`` if it is one of this generator's, else None (missing, unreadable, foreign)."""
    try:
        return read_manifest(path)
    except (OSError, ValueError):
        return None


def make_dataset(
    root: str | os.PathLike,
    machines: tuple[str, ...] | list[str] | None = None,
    n_train: int | None = None,
    n_test_normal: int | None = None,
    n_test_anomaly: int | None = None,
    duration: float | None = None,
    n_something_else: int | None = None,
    n_anomaly_sources: int | None = None,
    seed: int = 0,
    preset: str = "fast",
    sr: int = 16000,
    progress: bool = True,
    rarity: float | None = None,
    distinctness: float | None = None,
) -> Path:
    """Write the synthetic data set in the DCASE layout and return its manifest.

    Layout under ``root``::

        <machine>/train/normal_id_00_%08d.wav     normal training clips
        <machine>/test/normal_id_00_%08d.wav      normal test clips
        <machine>/test/anomaly_id_00_%08d.wav     anomalous test clips (kinds balanced)
        something_else/<kind>_%04d.wav            something-else sounds (training of SNP/BU only)
        anomaly_sources/<kind>_%04d.wav           isolated additive anomalies, to mix into user recordings
        manifest.json                             one record per file (path relative to root, machine,
                                                  split, label, processes with segments in s, rare flag,
                                                  anomaly kind, group and ANR), written last

    Parameters
    ----------
    root : str or os.PathLike
        Target folder; must not exist, be empty, or hold a manifest of this generator.
    machines, n_train, n_test_normal, n_test_anomaly, duration, n_something_else, n_anomaly_sources
        Override the preset's values (None keeps them). ``n_anomaly_sources`` is per additive kind.
        Exactly ``round(RARE_FRACTION * n)`` clips of each (machine, split, label) group hold the warm-up.
    seed : int
        Every file is made from its own ``np.random.default_rng([seed, ...])``: same seed, same bytes.
    preset : {"fast", "full"}
        ``"fast"``: 4 machines x (40 train + 12 test normal + 12 test anomaly) x 6 s, 40 something-else,
        8 sources per kind (about 26 min of audio). ``"full"``: 4 x (200 + 60 + 60) x 10 s, 300, 30.
    sr : int
        Sampling rate in Hz.
    progress : bool
        Show a tqdm progress bar.
    rarity : float in (0, 0.5] or None
        The share of each machine's normal *training* seconds in the rare-normal process, exactly: it is cut
        into the fewest equal segments of 0.5-3 s (at most half a clip), one per chosen clip. None (default):
        the warm-up in ``round(RARE_FRACTION * n)`` clips with lengths drawn in 1-3 s. With ``rarity`` set, half
        of the normal test clips hold the rare process (:data:`RARE_TEST_FRACTION`, so that false alarms on it
        can be measured) and anomalous test clips keep :data:`RARE_FRACTION`.
    distinctness : float >= 0 or None
        How far the rare process's spectrum is from the frequent one (see
        :func:`~adskit.audio.synth.generate_clip`); None = 0, the warm-up alone.

    Returns
    -------
    manifest : Path
        ``root / "manifest.json"``.

    Raises
    ------
    FileExistsError
        ``root`` holds files not made by this generator, or a data set made with other settings.
    ValueError
        Unknown ``preset`` or machine, a count that is not an int >= 0, or ``duration`` / ``sr`` not > 0.

    Notes
    -----
    Idempotent: a complete manifest with the same settings (seed, preset, version, counts) is returned
    at once.
    Files are generated in a temporary sibling folder and moved into place, so ``root`` never holds a
    half-written data set and no file a user put there is deleted or overwritten; files of a matching
    manifest that went missing are regenerated.
    """
    cfg = _resolve_config(
        preset,
        seed,
        sr,
        machines=machines,
        n_train=n_train,
        n_test_normal=n_test_normal,
        n_test_anomaly=n_test_anomaly,
        duration=duration,
        n_something_else=n_something_else,
        n_anomaly_sources=n_anomaly_sources,
        rarity=rarity,
        distinctness=distinctness,
    )
    root = Path(root).expanduser()
    manifest_path = root / MANIFEST_NAME
    existing = _existing_manifest(manifest_path)
    if existing is not None:
        if existing.get("config") != json.loads(json.dumps(cfg)):
            raise FileExistsError(
                f"root: {root} holds a synthetic data set made with other settings "
                f"({existing.get('config')}); choose another folder or remove it yourself"
            )
        missing = [r["path"] for r in existing["files"] if not (root / r["path"]).is_file()]
        if existing.get("complete") and not missing:
            return manifest_path
    elif root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(
            f"root: {root} exists and holds files not made by adskit's synthetic generator "
            "(no matching manifest.json); refusing to write there, choose an empty or new folder"
        )

    root.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
    try:
        jobs = _plan(cfg)
        records = [_make_file(job, cfg, tmp) for job in tqdm(jobs, desc="synthetic data", disable=not progress)]
        manifest = {
            "generator": GENERATOR,
            "version": SYNTH_VERSION,
            "seed": cfg["seed"],
            "preset": preset,
            "config": cfg,
            "complete": True,
            "n_files": len(records),
            "anomaly_groups": ANOMALY_GROUPS,
            "rare_fraction": RARE_FRACTION,
            **({"rare_share_train": _rare_share(records)} if cfg.get("rarity") is not None else {}),
            "files": records,
        }
        atomic_write_json(tmp / MANIFEST_NAME, manifest)
        if existing is None:
            if root.exists():
                root.rmdir()  # empty (checked above); fails, and keeps anything, if a file appeared since
            os.replace(tmp, root)
        else:  # our own data set with files missing: put back only those
            for r in records:
                dest = root / r["path"]
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(tmp / r["path"], dest)
            os.replace(tmp / MANIFEST_NAME, manifest_path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        done = _existing_manifest(manifest_path)
        same = done is not None and done.get("config") == json.loads(json.dumps(cfg)) and done.get("complete")
        if isinstance(exc, OSError) and same:
            return manifest_path  # another process finished the same data set first
        raise
    shutil.rmtree(tmp, ignore_errors=True)
    return manifest_path


def ensure_synthetic(preset: str = "fast", seed: int = 0, progress: bool = True) -> Path:
    """The synthetic data set in ``data_dir() / f"synthetic-{preset}-s{seed}"``, made on first use.

    Parameters
    ----------
    preset : {"fast", "full"}
        See :data:`PRESETS`.
    seed : int
        Seed of every file (see :func:`make_dataset`).
    progress : bool
        Show a tqdm progress bar while generating.

    Returns
    -------
    root : Path
        Folder holding ``manifest.json`` and the DCASE layout (see :func:`make_dataset`), under the data
        root :func:`adskit.audio.paths.data_dir` (``$ADSKIT_DATA``, else ``~/.cache/adskit`` on Linux).

    Raises
    ------
    FileExistsError
        The folder holds foreign files or a data set made with other settings.
    ValueError
        Unknown ``preset``.
    """
    root = data_dir() / f"synthetic-{preset}-s{int(seed)}"
    make_dataset(root, seed=seed, preset=preset, progress=progress)
    return root
