"""Notebook 04's scores: RE, SNP and BU autoencoders on one machine's clips, scored once and cached.

:func:`build_scoreset` is the whole data side of the threshold lecture, in this order:

1. **Clips.** The synthetic default is rare-normal data as in ``adskit rare``
   (:func:`adskit.audio.synth.make_dataset` with ``rarity=``:data:`LECTURE_RARITY`: one machine, ``"fan"``; the
   rare-normal process (its own harmonic series, ``distinctness`` :data:`~adskit.audio.synth.RARE_DISTINCTNESS`)
   fills exactly 2 % of the training seconds, half of the normal test clips hold it, and the manifest records its
   segments; test anomalies are knocks, rubs, whines and speed changes;
   "something else" sounds as stand-in anomalies for SNP and BU), made in
   ``<data dir>/notebook04-<fast|full>-rarity2-d0.5-s<seed>``. Or a folder of recordings: ``train/`` holds normal
   clips; ``test/`` labelled clips, read by the kit's one label reader (:func:`adskit.audio.clips.parse_clip`:
   ``normal`` / ``anomaly`` / ``abnormal`` in the name, DCASE 2020 and 2021+ names); a test clip with the word
   ``rare`` in its name and no anomaly word is rare-normal (``normal_rare_02.wav``, ``rare_b.wav``), the other
   normal ones frequent-normal (any format
   :func:`adskit.audio.list_audio_files` lists). Every file is checked first (:func:`adskit.audio.checks.usable_audio`);
   unusable, unlabelled or misplaced files are left out and listed by :func:`lecture_clips`. A folder has
   no something-else sounds, so the generator's bursts, clicks, chirps and tones are used, at the recordings'
   rate; and no segments, so :func:`training_vectors` has no rare-normal mask for it.
2. **Features.** Log-mel context vectors (:func:`feature_config`: the DCASE 2020 front end with 64 mel bands,
   5 frames), computed once per file in a :class:`adskit.audio.cache.FeatureCache`.
3. **Hold-out.** A quarter of the normal training clips (at least 2), drawn with ``seed`` (on the synthetic default
   stratified, so that the fit clips keep their share of the rare-normal clips), is held out: the
   Neyman-Pearson threshold phi_rho is fitted on their clip scores, not on clips the networks saw (those
   score too low, and a threshold fitted on them raises more false alarms than promised).
4. **Training.** One :class:`adskit.detectors.AEDetector` per cost (:data:`COSTS`) on the other clips.
5. **Scores.** Every test clip and every held-out clip scored by each detector
   (:func:`adskit.scores.scores_from_detectors`, clip score = max over frames).
6. **Cache.** The ScoreSet and the three detectors' checkpoints go to one folder under ``cache_dir``, named by
   the data source, size and seed plus a digest of the adskit version, every setting and every input file's
   name, size, modification time and content (SHA-256 of its first and last MiB), so that a library change or an
   edited recording never shows stale
   scores. The folder is written as ``.<name>.partial-<pid>`` and renamed when complete; the next call loads
   it in about a second.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from .._utils import file_edges_sha256, settings_hash
from ..audio.cache import FeatureCache
from ..audio.checks import first_reason, labelled_clips, normal_clips, other_audio, usable_audio
from ..audio.features import FeatureConfig, frame_times, log_mel_batch, stack_context
from ..audio.folders import FolderDataset
from ..audio.synth import (
    RARE_DISTINCTNESS,
    SOMETHING_ELSE_KINDS,
    default_data_dir,
    generate_something_else,
    make_dataset,
    read_manifest,
)
from ..detectors import AEDetector
from ..scores import ScoreSet, scores_from_detectors
from .rare_data import segment_mask

__all__ = [
    "COSTS",
    "LECTURE_RARITY",
    "NETWORKS",
    "SYNTHETIC_SIZES",
    "build_scoreset",
    "feature_config",
    "lecture_clips",
    "training_vectors",
]

#: the three training costs, one autoencoder each (upper-cased as the ScoreSet's method names)
COSTS = ("re", "snp", "bu")
#: synthetic data set per ``fast``: tiny (about a minute on 2 CPU cores) or lecture-sized
SYNTHETIC_SIZES = {
    True: {"n_train": 24, "n_test_normal": 24, "n_test_anomaly": 12, "duration": 4.0, "n_something_else": 16},
    False: {"n_train": 120, "n_test_normal": 48, "n_test_anomaly": 24, "duration": 10.0, "n_something_else": 80},
}
#: AEDetector arguments per ``fast`` (``False``: the detector's own defaults, 3000 updates)
NETWORKS = {
    True: {"hidden": (64, 64), "latent_dim": 8, "n_updates": 300, "batch_size": 256},
    False: {"n_updates": 3000},
}
#: The synthetic default's rarity: the share of the normal training seconds that the rare-normal process fills,
#: exactly (:func:`adskit.audio.synth.make_dataset`'s ``rarity``). 2 % is a rarity the rare-normal experiment
#: measured (``adskit rare --quick --seeds 0 1 2 3 4``: fan, fcn40-small, 1,500 updates, thresholds at 5 % false
#: alarms on frequent-normal calibration clips): RE's false-alarm rate on rare-normal frames was 0.288 against 0.054
#: on held-out frequent-normal frames, about 5 x. With :data:`SYNTHETIC_SIZES` it is one 1.92-s segment in one of the
#: 24 training clips of 4 s (``fast``; the hold-out is stratified, so the fit clips keep it) and eight 3-s segments in the 120
#: clips of 10 s (lecture size); ``make_dataset`` needs segments of 0.5-3 s, at most half a clip each.
LECTURE_RARITY = 0.02
_N_GENERATED_ELSE = 40  # something-else sounds generated for a folder of recordings


def feature_config() -> FeatureConfig:
    """The front end of notebook 04: ``FeatureConfig.preset("dcase2020")`` with 64 mel bands (5 frames)."""
    return dataclasses.replace(FeatureConfig.preset("dcase2020"), n_mels=64)


@dataclass
class _Source:
    """The clips of one data source, in a fixed order (the hold-out draw and the ScoreSet follow it)."""

    name: str  # "synthetic" or "<folder>-<hash of its path>"
    train: list[Path]  # normal training clips
    test: list[Path]
    process: list[str]  # per test clip: "frequent", "rare" or "anomaly"
    segments: list[dict[str, Any]]  # per test clip: {"rare": [(t0, t1), ...], "anomaly": [...]} in s
    something_else: list[Path] | None  # None: generate them
    train_rare: list[list[list[float]]] | None = None  # per training clip: its rare segments in s; None: unknown
    bad: list[dict] = dataclasses.field(default_factory=list)  # files left out, {"path", "role", "reason"}


def _synthetic(fast: bool, seed: int, progress: bool) -> _Source:
    # the rarity is in the name: a folder made before (without it, or with another) is never reused
    name = f"notebook04-{'fast' if fast else 'full'}-rarity{100 * LECTURE_RARITY:g}-d{RARE_DISTINCTNESS:g}-s{seed}"
    root = default_data_dir() / name
    size = SYNTHETIC_SIZES[fast]
    make_dataset(
        root,
        machines=("fan",),
        n_anomaly_sources=0,
        seed=seed,
        progress=progress,
        rarity=LECTURE_RARITY,
        distinctness=RARE_DISTINCTNESS,
        **size,
    )
    files = read_manifest(root)["files"]
    train = [r for r in files if r["split"] == "train"]
    test = [r for r in files if r["split"] == "test"]
    return _Source(
        "synthetic",
        [root / r["path"] for r in train],
        [root / r["path"] for r in test],
        ["anomaly" if r["label"] == "anomaly" else ("rare" if r["rare"] else "frequent") for r in test],
        [{"rare": r["processes"]["rare"], "anomaly": r["processes"]["anomaly"]} for r in test],
        [root / r["path"] for r in files if r["split"] == "something_else"],
        [r["processes"]["rare"] for r in train],
    )


def _folder(data_dir: str | os.PathLike) -> _Source:
    """A folder of recordings through the kit's one label reader and file checker; unusable files go to ``bad``."""
    folder = Path(data_dir).expanduser()
    for sub in ("train", "test"):
        if not (folder / sub).is_dir():
            raise FileNotFoundError(f"data_dir: {folder} has no {sub}/ folder (expected train/ and test/)")
    bad: list[dict] = []
    other_audio(folder / "train", "train", bad)
    other_audio(folder / "test", "test", bad)
    cfg = feature_config()
    train = [c.path for c in normal_clips(FolderDataset(folder / "train").clips, "train", bad)]
    train = usable_audio(train, "train", bad, cfg)
    clips = FolderDataset(folder / "test").clips
    # "rare" marks a rare-normal clip; a name with it and no label word (rare_b.wav) is normal: rare-normal
    rare_unlabelled = [c for c in clips if c.label is None and _is_rare(c.path)]
    labelled = dict(labelled_clips([c for c in clips if c not in rare_unlabelled], "test", bad))
    labelled.update({c.path: 0 for c in rare_unlabelled})
    test = usable_audio(sorted(labelled), "test", bad, cfg)
    if len(train) < 3 or not test:
        raise ValueError(
            f"data_dir: {folder} has {len(train)} usable clips in train/ and {len(test)} labelled usable clips in "
            "test/; expected at least 3 normal training clips (a quarter, at least 2, is held out for phi_rho) "
            f"and one test clip{first_reason(bad, 'test') or first_reason(bad, 'train')}"
        )
    process = ["anomaly" if labelled[f] == 1 else ("rare" if _is_rare(f) else "frequent") for f in test]
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
    return _Source(f"{folder.name}-{digest}", train, test, process, [{} for _ in test], None, bad=bad)


def _is_rare(path: Path) -> bool:
    """The word ``rare`` among the name's tokens (``normal_rare_02.wav``, ``rare-b.flac``)."""
    return "rare" in path.stem.lower().replace("-", "_").replace(" ", "_").split("_")


def _source(data_dir: str | os.PathLike | None, fast: bool, seed: int, progress: bool) -> _Source:
    return _synthetic(fast, seed, progress) if data_dir is None else _folder(data_dir)


def lecture_clips(
    data_dir: str | os.PathLike | None = None, fast: bool = True, seed: int = 0, progress: bool = True
) -> dict[str, list[dict]]:
    """The clips :func:`build_scoreset` will use, as it reads them now, and the files it leaves out.

    Call it before :func:`build_scoreset` to show what a folder holds; the ScoreSet's clips are the ``test``
    list, in this order.

    Parameters
    ----------
    data_dir, fast, seed, progress
        As :func:`build_scoreset`.

    Returns
    -------
    dict
        ``"train"``: ``[{"path"}]``, the normal training clips (a quarter is held out for phi_rho); ``"test"``:
        ``[{"path", "process"}]`` with process ``"frequent"``, ``"rare"`` or ``"anomaly"``; ``"bad"``:
        ``[{"path", "role", "reason"}]``, files unreadable, non-finite, silent, too short, named as anomalous in
        ``train/`` or without a label in ``test/`` (the kit's one label reader,
        :func:`adskit.audio.clips.parse_clip`).

    Raises
    ------
    ValueError, FileNotFoundError
        As :func:`build_scoreset`.
    """
    source = _source(data_dir, fast, seed, progress)
    return {
        "train": [{"path": str(p)} for p in source.train],
        "test": [{"path": str(p), "process": c} for p, c in zip(source.test, source.process, strict=True)],
        "bad": list(source.bad),
    }


def _cache_root(cache_dir: str | os.PathLike | None) -> Path:
    return default_data_dir() / "results" / "notebook04" if cache_dir is None else Path(cache_dir).expanduser()


def _run_folder(source: _Source, fast: bool, seed: int) -> tuple[str, str]:
    """(label, folder name): ``<source>-<fast|full>-s<seed>`` and the same plus a digest of everything used."""
    label = f"{source.name}-{'fast' if fast else 'full'}-s{seed}"
    files = source.train + source.test + (source.something_else or [])
    settings = {
        "adskit": version("adskit"),
        "features": feature_config().to_dict(),
        "networks": NETWORKS[fast],
        "costs": COSTS,
        "process": source.process,
        "files": [(str(f), f.stat().st_size, f.stat().st_mtime_ns, file_edges_sha256(f)) for f in files],
    }
    digest = settings_hash(settings, 12)
    return label, f"{label}-{digest}"


def _split(source: _Source, seed: int, cache: FeatureCache) -> tuple[np.random.Generator, list, list, np.ndarray]:
    """The hold-out draw: (the generator, drawn on from here; fit clips' vectors; held-out clips' vectors; the
    fit clips' indices into ``source.train``, in the order of their vectors)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(source.train))
    n_hold = max(len(source.train) // 4, 2)
    if source.train_rare is not None:  # stratified: the fit clips keep their share of the rare-normal clips
        rare = [int(i) for i in order if source.train_rare[i]]
        other = [int(i) for i in order if not source.train_rare[i]]
        k = min(len(rare) // 4, n_hold)
        order = np.array(rare[:k] + other[: n_hold - k] + rare[k:] + other[n_hold - k :])
    fit = [cache.vectors(source.train[i]) for i in order[n_hold:]]
    held = [cache.vectors(source.train[i]) for i in order[:n_hold]]
    return rng, fit, held, order[n_hold:]


def _features(source: _Source, cache_root: Path, progress: bool) -> FeatureCache:
    cache = FeatureCache(cache_root / "features", feature_config(), device="cpu")
    cache.build(source.train + source.test + (source.something_else or []), progress=progress, on_error="raise")
    return cache


def _load(folder: Path) -> tuple[ScoreSet, dict[str, AEDetector]] | None:
    """The cached ScoreSet and detectors, or None when the folder is missing or not intact."""
    if not ScoreSet.exists(folder):
        return None
    try:
        return ScoreSet.load(folder), {c.upper(): AEDetector.load(folder / f"{c}.pt", device="cpu") for c in COSTS}
    except (OSError, ValueError):  # CheckpointError is a ValueError
        return None


def _save(folder: Path, scoreset: ScoreSet, detectors: dict[str, AEDetector]) -> None:
    """Write into a partial sibling folder, then rename it into place (a reader never sees half a cache)."""
    tmp = folder.with_name(f".{folder.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    scoreset.save(tmp)
    for c in COSTS:
        detectors[c.upper()].save(tmp / f"{c}.pt")
    shutil.rmtree(folder, ignore_errors=True)  # a folder that failed to load
    try:
        os.replace(tmp, folder)
    except OSError:  # another process finished the same run first: keep its folder
        shutil.rmtree(tmp, ignore_errors=True)


def build_scoreset(
    data_dir: str | os.PathLike | None = None,
    fast: bool = True,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> tuple[ScoreSet, dict[str, AEDetector]]:
    """Train RE, SNP and BU autoencoders and score labelled clips with them, or load the cached result.

    The steps are listed in the module docstring (:mod:`adskit.experiments.thresholds`).

    Parameters
    ----------
    data_dir : str, os.PathLike or None
        None: the synthetic default (generated under :func:`adskit.audio.synth.default_data_dir`); or a
        folder with ``train/`` (normal clips) and ``test/`` (labelled by name; ``rare`` marks rare-normal clips).
    fast : bool
        Tiny data and short training (:data:`SYNTHETIC_SIZES`, :data:`NETWORKS`); False: the lecture size.
    seed : int
        Seeds the synthetic data, the hold-out draw, the generated something-else sounds and the networks.
    cache_dir : str, os.PathLike or None
        Where features and results are cached (default ``<data dir>/results/notebook04``).
    progress : bool
        Show progress bars and one line per trained detector.

    Returns
    -------
    scoreset : ScoreSet
        Methods ``"RE"``, ``"SNP"``, ``"BU"``; frame anomaly scores of every test clip (higher = more
        anomalous), the held-out normal clips' scores as ``train_scores``, frame times, audio paths, segments.
    detectors : dict of str -> AEDetector
        The fitted detectors under the same names (loaded from their checkpoints when cached).

    Raises
    ------
    ValueError
        A folder with fewer than 3 training clips or no test clip.
    FileNotFoundError
        ``data_dir`` has no ``train/`` or ``test/`` folder, or an audio file vanished.
    adskit.audio.AudioFileError
        An audio file cannot be read.
    """
    source = _source(data_dir, fast, seed, progress)
    root = _cache_root(cache_dir)
    label, name = _run_folder(source, fast, seed)
    cached = _load(root / name)
    if cached is not None:
        if progress:
            print(f"loaded cached scores of these files and settings from {root / name}")
        return cached
    if progress:
        earlier = sorted(p.name for p in root.glob(f"{label}-*") if p.is_dir()) if root.is_dir() else []
        why = f" (the cache holds {len(earlier)} result(s) of other files or settings)" if earlier else ""
        print(f"no cached scores for these files and settings{why}: training, into {root / name}")
    cfg = feature_config()
    cache = _features(source, root, progress)
    rng, fit_clips, held_clips, _ = _split(source, seed, cache)
    if source.something_else is not None:
        X_else = np.concatenate([cache.vectors(f) for f in source.something_else])
    else:  # the synthetic generator's something-else sounds, at the recordings' rate
        waves = [generate_something_else(SOMETHING_ELSE_KINDS[i % 4], rng, cfg.sr) for i in range(_N_GENERATED_ELSE)]
        X_else = np.concatenate([stack_context(S, cfg.frames) for S in log_mel_batch(waves, cfg=cfg, device="cpu")])
    X_fit = np.concatenate(fit_clips)
    detectors = {}
    for cost in COSTS:
        det = AEDetector(cost=cost, random_state=seed, device="cpu", **NETWORKS[fast])
        detectors[cost.upper()] = det.fit(X_fit, X_anomalous=None if cost == "re" else X_else)
        if progress:
            print(f"trained {cost.upper()}: {det.n_updates_} updates")
    test_clips = [cache.vectors(f) for f in source.test]
    scoreset = scores_from_detectors(
        detectors,
        test_clips,
        labels=[int(p == "anomaly") for p in source.process],
        process=source.process,
        train_clips=held_clips,
        names=[f.name for f in source.test],
        times=[frame_times(len(c), cfg) for c in test_clips],
        audio=[str(f) for f in source.test],
        segments=source.segments,
        info={"kind": "trained", "title": f"AEs trained on {label}", "features": cfg.to_dict()},
    )
    _save(root / name, scoreset, detectors)
    if progress:
        print(f"scores cached in {root / name}")
    return scoreset, detectors


def training_vectors(
    data_dir: str | os.PathLike | None = None,
    fast: bool = True,
    seed: int = 0,
    n: int | None = 300,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    return_rare: bool = False,
) -> np.ndarray | tuple[np.ndarray, np.ndarray | None]:
    """``n`` context vectors drawn (with ``seed``) from the clips :func:`build_scoreset` fits the detectors on.

    One training batch for the bandwidth panel, or (``n=None``) all the fit vectors for the BU weights'
    diagnostics: the same clips, features and hold-out draw as :func:`build_scoreset` with the same arguments
    (features come from its cache).

    Parameters
    ----------
    data_dir, fast, seed, cache_dir, progress
        As :func:`build_scoreset`.
    n : int >= 1 or None
        How many vectors to draw; None: all N fit vectors, clip after clip in the fit order.
    return_rare : bool
        Also return which of the vectors lie in the rare-normal process.

    Returns
    -------
    X : np.ndarray [shape=(min(n, N), d)], float32
        Rows of the N fit vectors, drawn without replacement by ``np.random.default_rng(seed)`` (all N rows in
        order with ``n=None``).
    rare : np.ndarray [shape=(len(X),)] of bool, or None
        Only with ``return_rare``: True for the rows whose centre time lies in one of their clip's rare-normal
        segments (the manifest's ``processes["rare"]``, :func:`adskit.experiments.rare_data.segment_mask`). None for
        a folder of recordings, which records no segments.

    Raises
    ------
    ValueError
        If ``n`` is neither None nor an int >= 1; otherwise as :func:`build_scoreset`.
    FileNotFoundError, adskit.audio.AudioFileError
        As :func:`build_scoreset`.
    """
    if n is not None and (isinstance(n, bool) or int(n) != n or n < 1):
        raise ValueError(f"n: expected an int >= 1 or None (all fit vectors), got {n!r}")
    source = _source(data_dir, fast, seed, progress)
    _, fit_clips, _, fit_idx = _split(source, seed, _features(source, _cache_root(cache_dir), progress))
    X_fit = np.concatenate(fit_clips)
    rows = (
        np.arange(len(X_fit))
        if n is None
        else np.random.default_rng(seed).choice(len(X_fit), min(int(n), len(X_fit)), replace=False)
    )
    if not return_rare:
        return X_fit[rows]
    if source.train_rare is None:
        return X_fit[rows], None
    cfg = feature_config()
    rare = np.concatenate(
        [segment_mask(source.train_rare[i], len(v), cfg) for i, v in zip(fit_idx, fit_clips, strict=True)]
    )
    return X_fit[rows], rare[rows]
