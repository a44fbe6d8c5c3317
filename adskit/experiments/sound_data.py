"""Data of the sound experiment: training and something-else files, test clips, their labels, their evaluation.

Everything here takes explicit arguments, never :class:`~adskit.experiments.sound.SoundConfig`, so that the
experiment imports this module and not the other way round. Three sources: the embedded synthetic machines
(``root`` and a ``machine``); a folder of normal clips split into train and test, with anomalous sounds mixed into
the held-out clips; or a folder of normal clips for training and one of DCASE-named labelled test files.
Every user file is checked before training (:mod:`adskit.audio.checks`: readable, finite, not silent, long enough
for one context window of every feature configuration that will read it; normal clips also long enough for one
training segment; names that call a "normal" clip anomalous or a test file; test files whose names carry no
label). A file that fails is reported in a list of ``{"path", "role", "reason"}`` and left out; it does not stop
a run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..audio.batches import PaperBatchBuilder
from ..audio.checks import first_reason, labelled_clips, min_samples, normal_clips, other_audio, usable_audio
from ..audio.features import FeatureConfig, frame_times, log_mel_batch, stack_context
from ..audio.folders import FolderDataset, synthetic
from ..audio.io import list_audio_files, load_audio, no_audio_message
from ..audio.mixing import frame_labels, mix_at_ratio, random_excerpt
from ..metrics import auc, pauc
from ..scores import clip_scores

__all__ = [
    "MAX_ANOMALY_FRACTION",
    "TestClip",
    "anr_keys",
    "build_test_set",
    "calibration_vectors",
    "check_folders",
    "clip_frame_labels",
    "evaluate_clips",
    "keep_example",
    "load_example",
    "paper_batches",
    "prepare_sound_data",
    "rare_mask",
    "readable",
    "save_example",
]

SR = 16000  # rate of the test waveforms; features resample to their own rate
#: an anomalous sound longer than this share of the held-out clip it is mixed into is cut to a random excerpt of
#: that length (the frame labels mark what the excerpt covers), so that every test mixture keeps normal frames
MAX_ANOMALY_FRACTION = 0.8


@dataclass
class TestClip:
    """One test clip: waveform at 16 kHz (or the feature rate), label and where the anomaly / rare process is."""

    name: str
    wave: np.ndarray = field(repr=False)
    label: int
    anr: float | None = None  # None: a normal clip (shared by every ANR) or a labelled test file
    span: tuple[int, int] | None = None  # samples of the inserted anomaly
    rare: list[tuple[float, float]] = field(default_factory=list)  # rare-normal segments, seconds
    source: str | None = None


def check_folders(
    normal_dir: str | None,
    something_else_dir: str | None,
    anomalies_dir: str | None,
    test_dir: str | None,
    need_something_else: bool,
) -> None:
    """Raise ValueError naming the folder unless the user folders form one of the sources above (or none is given).

    Raises
    ------
    ValueError
        If something-else sounds are needed (SNP, BU) and missing, not exactly one of ``anomalies_dir`` and
        ``test_dir`` accompanies ``normal_dir``, or a folder is given without ``normal_dir``.
    """
    if normal_dir is not None:
        if something_else_dir is None and need_something_else:
            raise ValueError("something_else_dir: SNP and BU need --something-else sounds for training")
        if (anomalies_dir is None) == (test_dir is None):
            raise ValueError("anomalies_dir/test_dir: give exactly one of --anomalies DIR or --test DIR")
    elif any(v is not None for v in (something_else_dir, anomalies_dir, test_dir)):
        raise ValueError("normal_dir: --something-else/--anomalies/--test need --normal DIR")


#: the former name of :func:`adskit.audio.checks.usable_audio` (readable, finite, not silent; ``cfg=`` adds the
#: context-window length), kept so that callers of ``readable(paths, role, bad)`` still work
readable = usable_audio


def build_test_set(
    normal_paths: list[Path],
    anomaly_paths: list[Path],
    anr_db: tuple[float, ...],
    mixes_per_clip: int,
    sr: int,
    seed: int,
    rare_spans: dict[str, list] | None = None,
) -> list[TestClip]:
    """Held-out normal clips, and the same clips with an anomalous sound mixed in at each ANR.

    Parameters
    ----------
    normal_paths : held-out normal clips (any rate, channels mixed down, resampled to ``sr``)
    anomaly_paths : anomalous sounds; one longer than :data:`MAX_ANOMALY_FRACTION` (80 %) of a clip is cut to a
        random excerpt of that length
    anr_db : test ANRs in dB (:func:`adskit.audio.mix_at_ratio`, over the inserted segment)
    mixes_per_clip : anomalous clips per normal clip and ANR; the (clip, sound, position) draws are shared by
        every ANR
    sr : rate of the returned waveforms
    seed : the draws' seed
    rare_spans : file name -> rare-normal segments in seconds (synthetic manifest), for the rare analysis

    Returns
    -------
    list of TestClip : the normal clips (``anr=None``, label 0) first, then the mixtures (label 1)

    Raises
    ------
    adskit.audio.AudioFileError
        If a file cannot be read (filter with :func:`adskit.audio.checks.usable_audio` first).
    """
    rng = np.random.default_rng([int(seed), 7])
    normals = [(Path(p), load_audio(p, sr=sr)[0]) for p in normal_paths]
    sources = [load_audio(p, sr=sr)[0] for p in anomaly_paths]
    clips = [TestClip(p.name, y, 0, rare=[tuple(s) for s in (rare_spans or {}).get(p.name, [])]) for p, y in normals]
    draws = []
    for ci, (_p, y) in enumerate(normals):
        for _ in range(int(mixes_per_clip)):
            si = int(rng.integers(len(sources)))
            excerpt, c0 = random_excerpt(sources[si], max(1, int(MAX_ANOMALY_FRACTION * y.size)), rng)
            m = excerpt.size
            pos = int(rng.integers(0, y.size - m + 1))
            draws.append((ci, si, c0, m, pos))
    for a in anr_db:
        for ci, si, c0, m, pos in draws:
            p, y = normals[ci]
            try:
                mix, span = mix_at_ratio(y, sources[si][c0 : c0 + m], float(a), position=pos)
            except ValueError:  # a silent stretch: the ANR is undefined; skip this draw
                continue
            clips.append(
                TestClip(f"{p.stem}+{Path(anomaly_paths[si]).stem}@{a:g}dB", mix, 1, float(a), span, [], str(si))
            )
    return clips


def _synthetic_files(root: Path, machine: str | None) -> dict[str, Any]:
    ds = synthetic(root, machine=machine)
    held = [c for c in ds.test if c.label == 0]
    return {
        "train": [c.path for c in ds.train if c.label == 0],
        "test_normal": [c.path for c in held],
        "rare": {c.path.name: c.extra.get("processes", {}).get("rare", []) for c in held},
        "something_else": synthetic(root, what="something_else").paths,
        "anomalies": synthetic(root, what="anomaly_sources").paths,
        "labelled_test": None,
        "source": f"synthetic ({root}, machine {machine})",
    }


def _user_files(
    normal_dir: str,
    something_else_dir: str | None,
    anomalies_dir: str | None,
    test_dir: str | None,
    test_fraction: float,
    seed: int,
    bad: list[dict],
    fcfg: FeatureConfig | None,
    min_normal_seconds: float,
) -> dict[str, Any]:
    for folder, role in ((normal_dir, "normal"), (something_else_dir, "something_else")):
        other_audio(folder, role, bad)
    other_audio(anomalies_dir, "anomaly", bad)
    other_audio(test_dir, "test", bad)
    normal = FolderDataset(normal_dir)
    if len(normal) == 0:
        raise ValueError(no_audio_message(normal_dir, "normal_dir"))
    tests = FolderDataset(test_dir) if test_dir is not None else None
    named = normal_clips(normal.clips, "normal", bad, exclude=tests.paths if tests is not None else ())
    why = f"one {min_normal_seconds:g}-s training segment"
    ok = set(usable_audio([c.path for c in named], "normal", bad, fcfg, min_normal_seconds, why))
    kept = FolderDataset.from_clips(normal.root, [c for c in named if c.path in ok])
    out: dict[str, Any] = {"rare": {}, "labelled_test": None, "source": f"user folders (normal {normal_dir})"}
    if tests is None:
        tr, te = kept.split_train_test(test_fraction, random_state=seed)
        out["train"], out["test_normal"] = tr.paths, te.paths
        out["anomalies"] = usable_audio(list_audio_files(anomalies_dir), "anomaly", bad)
        if not out["anomalies"]:
            raise ValueError(f"anomalies_dir: no usable audio file in {anomalies_dir}" + first_reason(bad, "anomaly"))
        if not out["test_normal"]:
            raise ValueError("normal_dir: no usable normal clip left for testing" + first_reason(bad, "normal"))
    else:
        out["train"] = kept.paths
        out["test_normal"], out["anomalies"] = [], []
        labelled = labelled_clips(tests.clips, "test", bad)
        good = set(usable_audio([p for p, _ in labelled], "test", bad, fcfg))
        out["labelled_test"] = [(p, lab) for p, lab in labelled if p in good]
        labs = {lab for _, lab in out["labelled_test"]}
        if labs != {0, 1}:
            raise ValueError(
                f"test_dir: needs usable normal and anomalous files, labelled by their names as in DCASE "
                f"(normal_*/anomaly_*, section_00_..._normal_/_anomaly_...), found labels {sorted(labs)} in {test_dir}"
            )
    out["something_else"] = (
        usable_audio(list_audio_files(something_else_dir), "something_else", bad) if something_else_dir else []
    )
    if not out["train"]:
        raise ValueError(
            f"normal_dir: no usable normal clip left for training in {normal_dir}" + first_reason(bad, "normal")
        )
    return out


def prepare_sound_data(
    *,
    root: str | Path | None = None,
    machine: str | None = None,
    normal_dir: str | None = None,
    something_else_dir: str | None = None,
    anomalies_dir: str | None = None,
    test_dir: str | None = None,
    test_fraction: float = 0.25,
    anr_db: tuple[float, ...] = (-10.0, -15.0, -20.0),
    mixes_per_clip: int = 3,
    seed: int = 0,
    need_something_else: bool = True,
    feature_configs: Sequence[FeatureConfig] = (),
    min_normal_seconds: float = 0.0,
) -> dict[str, Any]:
    """Training paths, something-else paths, test clips and the bad-file report of one machine.

    Parameters
    ----------
    root : path, optional
        Synthetic data set (with ``machine``); used when ``normal_dir`` is None.
    machine : str, optional
        Synthetic machine.
    normal_dir, something_else_dir, anomalies_dir, test_dir : str, optional
        User folders (see the module docstring); ``normal_dir`` selects them.
    test_fraction : float
        Share of the normal clips held out for testing (user folders without ``test_dir``).
    anr_db, mixes_per_clip, seed
        The test mixtures (:func:`build_test_set`); ``seed`` also seeds the train/test split.
    need_something_else : bool
        Whether a cost that trains on something-else sounds (SNP, BU) will run.
    feature_configs : sequence of FeatureConfig
        The front ends that will read the files (one per model): user normal and test clips must hold one
        context window of each (:func:`adskit.audio.checks.min_samples`).
    min_normal_seconds : float
        User normal clips shorter than this (seconds; e.g. one training segment) are left out and listed.

    Returns
    -------
    dict
        ``train`` and ``something_else`` (paths), ``tests`` (list of :class:`TestClip`), ``bad`` (files left out:
        ``{"path", "role", "reason"}``, see the module docstring), ``source`` (text), ``n_train``,
        ``n_test_normal``, ``n_test_anomalous``.

    Raises
    ------
    ValueError
        If a folder has no usable file (the message gives the first reason), a labelled test folder lacks one of
        the two labels, or no something-else sound is usable while ``need_something_else``.
    """
    bad: list[dict] = []
    if normal_dir is None:
        files = _synthetic_files(Path(root), machine)
    else:
        strictest = max(feature_configs, key=lambda c: min_samples(c) / c.sr, default=None)
        files = _user_files(
            normal_dir,
            something_else_dir,
            anomalies_dir,
            test_dir,
            test_fraction,
            seed,
            bad,
            strictest,
            float(min_normal_seconds),
        )
    se = list(files["something_else"])
    if need_something_else and not se:
        raise ValueError(
            "something_else_dir: no usable something-else sound for SNP/BU training"
            + first_reason(bad, "something_else")
        )
    if files["labelled_test"] is None:
        tests = build_test_set(
            files["test_normal"], files["anomalies"], anr_db, mixes_per_clip, SR, seed, files["rare"]
        )
    else:
        tests = [TestClip(p.name, load_audio(p, sr=SR)[0], int(lab)) for p, lab in files["labelled_test"]]
    return {
        "train": files["train"],
        "something_else": se,
        "tests": tests,
        "bad": bad,
        "source": files["source"],
        "n_train": len(files["train"]),
        "n_test_normal": sum(t.label == 0 for t in tests),
        "n_test_anomalous": sum(t.label == 1 for t in tests),
    }


def paper_batches(
    train: Sequence[Path],
    something_else: Sequence[Path],
    fcfg: FeatureConfig,
    *,
    segment_seconds: float,
    n_segments: int,
    anr_range: tuple[float, float],
    device: Any,
    seed: int,
) -> PaperBatchBuilder:
    """The paper's mini-batches of one machine (:class:`adskit.audio.PaperBatchBuilder`), seeded by ``seed``.

    Without something-else sounds (an RE-only run) the first training clip stands in for them; RE drops the
    something-else frames of each batch anyway. The files are not checked again (``check=False``):
    :func:`prepare_sound_data` checked them.
    """
    return PaperBatchBuilder(
        train,
        something_else or train[:1],
        fcfg,
        segment_seconds=segment_seconds,
        n_segments=n_segments,
        anr_range=anr_range,
        device=device,
        random_state=seed,
        check=False,
    )


def calibration_vectors(paths: Sequence[str | Path], fcfg: FeatureConfig, device: Any) -> np.ndarray:
    """Context vectors (n, frames * n_mels) of the normal calibration clips, for phi_rho and the clip C.

    Raises
    ------
    ValueError
        If ``paths`` is empty or a clip is shorter than one context.
    """
    specs = log_mel_batch([load_audio(p, sr=fcfg.sr)[0] for p in paths], cfg=fcfg, device=device)
    return np.concatenate([stack_context(S, fcfg.frames) for S in specs])


def keep_example(
    example: dict,
    tests: list[TestClip],
    specs: list[np.ndarray],
    frames: list[np.ndarray],
    fcfg: FeatureConfig,
    phi: float,
    machine: str,
    model: str,
    cost: str,
) -> None:
    """Remember in ``example`` the normal test clip with the longest rare-normal segment (first machine seen).

    ``example`` gains ``machine``, ``model``, ``clip``, ``rare`` (segments, s), ``spec`` (its log-mel), ``fcfg``
    and, per ``cost``, its ``frames`` scores and threshold ``phi`` (what :func:`adskit.plots.plot_rare_normal`
    draws). Nothing happens for another machine or a test set without rare-normal segments.
    """
    if example.get("machine") not in (None, machine):
        return
    cand = [i for i, t in enumerate(tests) if t.label == 0 and t.rare]
    if not cand:
        return
    i = max(cand, key=lambda j: sum(b - a for a, b in tests[j].rare))
    example.update(machine=machine, model=model, clip=tests[i].name, rare=tests[i].rare, spec=specs[i], fcfg=fcfg)
    example.setdefault("frames", {})[cost] = frames[i]
    example.setdefault("phi", {})[cost] = phi


def save_example(example: dict, folder: Path) -> dict | None:
    """Store a one-cost run's example clip (:func:`keep_example`): arrays to ``folder/example.npz``.

    Returns the rest (``clip``, ``machine``, ``model``, ``rare``, ``phi``, ``fcfg`` as a dict) for the run's
    result, or None when the run kept no example.
    """
    if not example.get("frames"):
        return None
    (frames,) = example["frames"].values()
    (phi,) = example["phi"].values()
    np.savez_compressed(
        folder / "example.npz", spec=np.asarray(example["spec"], np.float32), frames=np.asarray(frames, np.float32)
    )
    return {
        "clip": example["clip"],
        "machine": example["machine"],
        "model": example["model"],
        "rare": example["rare"],
        "phi": float(phi),
        "fcfg": asdict(example["fcfg"]),
    }


def load_example(results: Sequence[Mapping], cost_order: Sequence[str]) -> dict | None:
    """The example clip of the lowest seed (first machine, its model), every cost's scores joined in one mapping.

    Parameters
    ----------
    results : sequence of mapping
        Run results (``labels``, ``example`` as :func:`save_example` returned it, ``_folder`` holding
        ``example.npz``).
    cost_order : sequence of str
        Cost labels in the order to draw them.

    Returns
    -------
    dict or None
        What :func:`adskit.plots.plot_rare_normal` draws (the model name gains ", seed k"); None when no run
        kept an example.
    """
    with_ex = [r for r in results if r.get("example")]
    if not with_ex:
        return None
    seed = min(int(r["labels"]["seed"]) for r in with_ex)
    first = min((r for r in with_ex if int(r["labels"]["seed"]) == seed), key=lambda r: r["labels"]["machine"])
    sel = [
        r
        for r in with_ex
        if int(r["labels"]["seed"]) == seed
        and r["example"]["clip"] == first["example"]["clip"]
        and r["labels"]["model"] == first["labels"]["model"]
        and r["labels"]["machine"] == first["labels"]["machine"]
    ]
    sel.sort(key=lambda r: list(cost_order).index(r["labels"]["cost"]))
    ex = dict(first["example"], fcfg=FeatureConfig(**first["example"]["fcfg"]), frames={}, phi={})
    for r in sel:
        cost = r["labels"]["cost"].lower()
        with np.load(Path(r["_folder"]) / "example.npz") as z:
            ex["spec"] = z["spec"]
            ex["frames"][cost] = z["frames"]
        ex["phi"][cost] = r["example"]["phi"]
    ex["model"] = f"{ex['model']}, seed {seed}"
    return ex


def clip_frame_labels(clip: TestClip, n_vec: int, fcfg: FeatureConfig) -> np.ndarray:
    """Bool (n_vec,): True for the context vectors whose centre frame overlaps the inserted anomaly."""
    return frame_labels(clip.span, clip.wave.size, fcfg)[:n_vec] if clip.span else np.zeros(n_vec, bool)


def rare_mask(clip: TestClip, n_vec: int, fcfg: FeatureConfig) -> np.ndarray:
    """Bool (n_vec,): True for the context vectors centred inside a rare-normal segment of the clip."""
    t = frame_times(n_vec, fcfg)
    m = np.zeros(n_vec, bool)
    for a, b in clip.rare:
        m |= (t >= a) & (t < b)
    return m


def anr_keys(metrics: Mapping) -> list[str]:
    """The ANR keys (``"-10"``, ..., or ``"test"``) of ``metrics[machine][model][cost]``, in their order."""
    for by_model in metrics.values():
        for by_cost in by_model.values():
            for by_anr in by_cost.values():
                return list(by_anr)
    return []


def _anr_key(a: float | None) -> str:
    return "test" if a is None else f"{a:g}"


def evaluate_clips(
    tests: list[TestClip], frames: list[np.ndarray], fcfg: FeatureConfig, phi: float, max_fpr: float
) -> tuple[dict, dict]:
    """Metrics per ANR and the rare-normal analysis of one detector's scores.

    Parameters
    ----------
    tests : list of TestClip
        The test set (:func:`build_test_set` or labelled files).
    frames : list of np.ndarray [shape=(n_vectors_i,)]
        The detector's anomaly scores (higher = more anomalous) of each test clip's context vectors.
    fcfg : FeatureConfig
        The front end the scores were computed with (frame times and labels).
    phi : float
        The detector's frame threshold phi_rho: a frame "fires" when its score exceeds it.
    max_fpr : float
        pAUC range.

    Returns
    -------
    metrics : dict
        ANR key (``"-10"``, or ``"test"`` for labelled files) -> ``clip_auc``, ``clip_pauc`` (max over frames),
        ``clip_auc_mean``, ``clip_pauc_mean`` (mean rule), ``frame_auc``, ``frame_pauc`` (NaN without frame
        labels), ``n_normal``, ``n_anomalous``.
    rare : dict
        ``fire_rare`` / ``fire_steady`` (fraction of frames above ``phi`` inside / outside the rare-normal
        segments of the normal clips), ``auc_rare_vs_steady``, ``n_rare_frames``, ``phi``.
    """
    s_max = clip_scores(frames, "max")
    s_mean = clip_scores(frames, "mean")
    labels = np.array([t.label for t in tests])
    normal_idx = [i for i, t in enumerate(tests) if t.label == 0]
    anrs = sorted({t.anr for t in tests if t.label == 1}, key=lambda a: -1e9 if a is None else -a)
    if any(t.anr is None and t.label == 1 for t in tests):
        anrs = [None]
    metrics = {}
    for a in anrs:
        idx = np.array(normal_idx + [i for i, t in enumerate(tests) if t.label == 1 and t.anr == a])
        y = labels[idx]
        m = {
            "clip_auc": auc(y, s_max[idx]),
            "clip_pauc": pauc(y, s_max[idx], max_fpr),
            "clip_auc_mean": auc(y, s_mean[idx]),
            "clip_pauc_mean": pauc(y, s_mean[idx], max_fpr),
            "n_normal": int((y == 0).sum()),
            "n_anomalous": int((y == 1).sum()),
        }
        fy = np.concatenate([clip_frame_labels(tests[i], frames[i].size, fcfg) for i in idx])
        fs = np.concatenate([frames[i] for i in idx])
        if tests[idx[-1]].span is not None and 0 < fy.sum() < fy.size:
            m["frame_auc"], m["frame_pauc"] = auc(fy.astype(int), fs), pauc(fy.astype(int), fs, max_fpr)
        else:
            m["frame_auc"] = m["frame_pauc"] = float("nan")
        metrics[_anr_key(a)] = m
    rare_f, steady_f = [], []
    for i in normal_idx:
        mask = rare_mask(tests[i], frames[i].size, fcfg)
        rare_f.append(frames[i][mask])
        steady_f.append(frames[i][~mask])
    rf, sf = np.concatenate(rare_f), np.concatenate(steady_f)
    rare = {
        "fire_rare": float(np.mean(rf > phi)) if rf.size else float("nan"),
        "fire_steady": float(np.mean(sf > phi)) if sf.size else float("nan"),
        "auc_rare_vs_steady": auc(np.r_[np.ones(rf.size), np.zeros(sf.size)], np.r_[rf, sf])
        if rf.size and sf.size
        else float("nan"),
        "n_rare_frames": int(rf.size),
        "phi": float(phi),
    }
    return metrics, rare
