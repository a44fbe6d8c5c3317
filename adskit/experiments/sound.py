"""The sound experiment of the batch-uniformization paper (Koizumi et al., WASPAA 2019, §4.2; spec §1.5).

RE, SNP and BU autoencoders (FCN40 / FCN64 x large / small) are trained on normal machine sounds with the
paper's mini-batches (:class:`adskit.audio.datasets.PaperBatchBuilder`: ten random 3-s normal segments, one
something-else sound mixed in at a random ANR; its frames are the simulated anomalies of SNP and BU). They
are tested on held-out normal clips and on the same clips with anomalous sounds mixed in at each test ANR
(-10, -15, -20 dB), at clip level (max over frames, the paper's rule eq 11; mean, the DCASE rule) and at
frame level, with AUC and pAUC (FPR <= 0.1).

Data:

* default: the embedded synthetic machines (:func:`adskit.audio.ensure_synthetic`): ``<machine>/train`` for
  training, ``something_else/`` for SNP/BU, ``anomaly_sources/`` mixed into ``<machine>/test/normal_*``;
* ``normal_dir`` + ``something_else_dir`` + ``anomalies_dir``: the normal clips are split into train and test,
  the anomalies mixed into the held-out normal clips, as the paper does;
* ``normal_dir`` + ``something_else_dir`` + ``test_dir``: labelled test files (DCASE names) instead.

Unreadable files are reported (``bad_files``) and left out; they do not stop the run.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from .._utils import atomic_write_json, atomic_write_text, check_positive, resolve_device, save_figure
from ..detectors import AEDetector
from ..metrics import auc, pauc, roc
from .runs import Comparison, Experiment, Run, detector_param_names, register, split_overrides

__all__ = [
    "SoundConfig",
    "SoundResult",
    "TestClip",
    "build_test_set",
    "execute_sound",
    "plan_sound",
    "plot_auc_bars",
    "plot_rare_normal",
    "run_sound",
    "write_sound",
]

COSTS = ("re", "snp", "bu")
#: the experiment's own detector choices (quick); every other detector parameter keeps AEDetector's default
QUICK_DETECTOR = {"n_updates": 1500, "c_factor": 1.0, "rho": 0.01}
MODELS = ("fcn40-large", "fcn40-small", "fcn64-large", "fcn64-small")
_NAMES = {"re": "RE", "snp": "SNP", "bu": "BU"}


@dataclass
class SoundConfig:
    """Settings of the sound experiment. Every value the paper lost is marked as ours.

    Data
    ----
    data_dir : synthetic data folder (None: ``ensure_synthetic(synthetic_preset, seed)``)
    machines : synthetic machines to run, each separately
    normal_dir, something_else_dir, anomalies_dir, test_dir : user folders (see the module docstring)
    test_fraction : share of the normal clips held out for testing (user folders without ``test_dir``)
    anr_db : test ANRs in dB (the paper: -10, -15, -20)
    mixes_per_clip : anomalous test clips made from each held-out normal clip at each ANR (ours: 3), with the
        same (clip, anomaly, position) draws at every ANR so that only the ANR changes

    Models and training
    -------------------
    models : AE presets of :meth:`AEDetector.preset`
    costs : "re", "snp", "bu"
    detector : keyword arguments of :meth:`AEDetector.preset` passed through to every detector (its defaults are
        the detector's and the preset's: AMSGrad 1e-3, h = the median heuristic, eps 1e-6). The experiment's own
        choices (:data:`QUICK_DETECTOR`): ``n_updates`` 1500 (quick; ``full``: the preset's 200 epochs x 500
        batches), ``c_factor`` 1 (see below) and ``rho`` 0.01, the false-positive rate of the frame threshold
        phi_rho (fitted on normal training frames) used to say where a detector "fires". ``quick``/``full`` (and
        the CLI) accept these names directly: ``SoundConfig.quick(n_updates=300, h_factor=0.5)``.
    n_segments, segment_seconds : the paper's batch, 10 x 3 s
    train_anr : ANR range of the something-else sounds in training (lost; ours U(-20, -10) dB, the test range)
    C : the clip of SNP/BU. ``"re-max"`` (default, spec §1.5): c_factor x the maximum score of the
        RE detector (trained first, same batches and start) on normal training frames, "the tendency of the
        maximum value of A of normal training samples" (paper §4.1.1), fixed during training. ``"auto"``: the
        detector's own rule (c_factor x the normal scores' running maximum during an RE warm-up of 10 % of
        the updates, then frozen; see ``AEDetector``). A number: fixed.
    max_fpr : pAUC range

    Why the quick defaults are 1500 updates and ``c_factor=1``
    ----------------------------------------------------------
    A sweep on the synthetic default (fcn40-small, 4 x 3 s batches; updates {300, 1500} x c_factor {1, 2, 5} x
    h_factor {0.25, 0.5, 1} x training ANR {U(-20, -10), U(-10, 0)} dB on fan, the best confirmed on a second
    seed and on pump) found two principled changes that help every cost:

    * 300 updates leave every AE under-trained (the RE model's maximum normal score, which sets C, halves
      between 300 and 1500 updates); at 1500 the clip AUC at -10 dB rises for RE, SNP and BU alike (fan seed 0:
      0.61 -> 0.86 for RE, 0.55 -> 0.85 for BU).
    * ``c_factor=1`` puts C at the RE model's maximum normal score: simulated anomalies are pushed just above
      the normal maximum, then give no gradient. With a larger C, and simulated anomalies that are hard to
      tell from normal frames (quiet something-else sounds), lowering the normal term and raising the clipped
      anomalous term pull against each other; the cheapest way down is to inflate every score towards C,
      and the AE stops learning to reconstruct (fan, 1500 updates: SNP clip AUC at -10 dB 0.86 with
      c_factor 1, 0.57 with 2, 0.55 with 5).

    ``full`` keeps ``c_factor=1`` (not swept at full size). h_factor (1 best of {0.25, 0.5, 1}) and the training
    ANR range (U(-10, 0) no better than U(-20, -10)) keep their values. On the synthetic machines SNP and BU
    then score like RE, not above it: they learn to score the *something-else* sounds high, and the synthetic
    test anomalies are further from normal frames than they are close to something-else frames, so what
    helps is learning the normal sounds well. At 300 updates RE fired on the rare-normal warm-up and BU did
    not, but BU had then barely moved from its starting parameters (flat, high scores everywhere); at 1500
    updates RE has learnt the warm-up too and that contrast is gone.
    """

    data_dir: str | None = None
    synthetic_preset: str = "fast"
    machines: tuple[str, ...] = ("fan",)
    normal_dir: str | None = None
    something_else_dir: str | None = None
    anomalies_dir: str | None = None
    test_dir: str | None = None
    test_fraction: float = 0.25
    anr_db: tuple[float, ...] = (-10.0, -15.0, -20.0)
    mixes_per_clip: int = 3
    models: tuple[str, ...] = ("fcn40-small", "fcn64-small")
    costs: tuple[str, ...] = COSTS
    detector: dict = field(default_factory=lambda: dict(QUICK_DETECTOR))
    n_segments: int = 4
    segment_seconds: float = 3.0
    train_anr: tuple[float, float] = (-20.0, -10.0)
    C: float | str = "re-max"
    max_fpr: float = 0.1
    n_calibration_clips: int = 20
    save_models: bool = True
    seed: int = 0
    device: str = "auto"

    DETECTOR: ClassVar[type] = AEDetector  # the estimator ``detector`` configures

    @classmethod
    def quick(cls, **kw: Any) -> SoundConfig:
        """CPU minutes: one synthetic machine (fan), FCN40-small and FCN64-small, 1500 updates of 4 x 3 s.

        Detector parameter names (``n_updates``, ``h_factor``, ``lr``, ...) go into ``detector``.

        Raises
        ------
        ValueError
            If a name is neither a setting nor an :class:`AEDetector` parameter.
        """
        return cls(**split_overrides(cls, AEDetector, kw, QUICK_DETECTOR))

    @classmethod
    def full(cls, **kw: Any) -> SoundConfig:
        """The paper's settings (GPU): all four AEs, 200 epochs x 500 batches of 10 x 3 s, every machine."""
        base = {
            "synthetic_preset": "full",
            "machines": ("fan", "pump", "gearbox", "conveyor"),
            "models": MODELS,
            "n_segments": 10,
        }
        det = {k: v for k, v in QUICK_DETECTOR.items() if k != "n_updates"}  # the preset's schedule
        return cls(**split_overrides(cls, AEDetector, {**base, **kw}, det))

    def _param(self, name: str) -> Any:
        """A detector parameter as the experiment uses it: from ``detector``, else AEDetector's default."""
        if name in self.detector:
            return self.detector[name]
        return inspect.signature(AEDetector.__init__).parameters[name].default

    @property
    def n_updates(self) -> int | None:
        """Updates per detector (None: the preset's schedule)."""
        return self._param("n_updates")

    @property
    def rho(self) -> float:
        """False-positive rate of the frame threshold phi_rho (where a detector "fires")."""
        return float(self._param("rho"))

    @property
    def user_data(self) -> bool:
        return self.normal_dir is not None

    def validate(self) -> SoundConfig:
        bad = sorted(set(self.detector) - detector_param_names(AEDetector))
        if bad:
            raise ValueError(f"detector: {bad} are not parameters of AEDetector")
        for name in ("lr", "h_factor", "c_factor", "rho"):
            check_positive(self._param(name), name)
        check_positive(self._param("eps"), "eps", strict=False)
        for name in ("segment_seconds", "max_fpr"):
            check_positive(getattr(self, name), name)
        if not (isinstance(self.C, str) and self.C in ("re-max", "auto")):
            check_positive(self.C, "C")
        if not 0 < self.test_fraction < 1:
            raise ValueError(f"test_fraction: expected a number in (0, 1), got {self.test_fraction!r}")
        bad = [m for m in self.models if m not in MODELS and m != "dcase2020"]
        if bad or not self.models:
            raise ValueError(f"models: expected some of {MODELS}, got {list(self.models)}")
        bad = [c for c in self.costs if c not in COSTS]
        if bad or not self.costs:
            raise ValueError(f"costs: expected some of {COSTS}, got {list(self.costs)}")
        if self.n_updates is not None and int(self.n_updates) < 1:
            raise ValueError(f"n_updates: expected a positive integer or None, got {self.n_updates!r}")
        if int(self.n_segments) < 1 or int(self.mixes_per_clip) < 1:
            raise ValueError("n_segments/mixes_per_clip: expected positive integers")
        if not self.anr_db:
            raise ValueError("anr_db: expected at least one test ANR")
        if self.user_data:
            if self.something_else_dir is None and any(c != "re" for c in self.costs):
                raise ValueError("something_else_dir: SNP and BU need --something-else sounds for training")
            if (self.anomalies_dir is None) == (self.test_dir is None):
                raise ValueError("anomalies_dir/test_dir: give exactly one of --anomalies DIR or --test DIR")
        elif any(v is not None for v in (self.something_else_dir, self.anomalies_dir, self.test_dir)):
            raise ValueError("normal_dir: --something-else/--anomalies/--test need --normal DIR")
        return self


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


@dataclass
class SoundResult:
    """What :func:`run_sound` returns (and writes as ``sound.json``).

    ``metrics[machine][model][cost][anr]`` holds ``clip_auc`` (max rule), ``clip_pauc``, ``clip_auc_mean``,
    ``clip_pauc_mean``, ``frame_auc`` and ``frame_pauc`` (NaN without frame labels); ``anr`` is a string
    such as ``"-10"`` or ``"test"``. ``rare[machine][model][cost]`` says how a detector treats the rare-normal
    process of the normal test clips: ``fire_rare`` / ``fire_steady`` (fraction of frames above phi_rho)
    and ``auc_rare_vs_steady`` (0.5 = the rare process looks as normal as the steady one).
    """

    metrics: dict
    rare: dict
    config: dict
    timings: dict
    bad_files: list[dict]
    data: dict
    seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)
    curves: dict = field(default_factory=dict, repr=False)  # (machine, model, anr) -> {cost: (fpr, tpr)}
    example: dict = field(default_factory=dict, repr=False)  # the rare-normal clip for the figure
    re_max: dict = field(default_factory=dict)  # "machine/model" -> RE's maximum normal calibration score

    def table_markdown(self, key: str = "clip_auc") -> str:
        """One row per (machine, model, cost), one column per ANR."""
        anrs = _anr_keys(self.metrics)
        lines = ["| machine | model | cost | " + " | ".join(f"{a} dB" if a != "test" else a for a in anrs) + " |"]
        lines.append("|---|---|---|" + "---|" * len(anrs))
        for mach, by_model in self.metrics.items():
            for model, by_cost in by_model.items():
                for cost, by_anr in by_cost.items():
                    vals = " | ".join(f"{by_anr[a][key]:.3f}" for a in anrs)
                    lines.append(f"| {mach} | {model} | {_NAMES[cost]} | {vals} |")
        return "\n".join(lines)

    def pattern(self) -> dict[str, bool]:
        """The paper's claims on our numbers: BU >= SNP > RE in clip AUC at every (machine, model, ANR)."""
        out: dict[str, bool] = {}
        checks_bu, checks_snp, checks_rare = [], [], []
        for by_model in self.metrics.values():
            for by_cost in by_model.values():
                if not all(c in by_cost for c in COSTS):
                    continue
                for a in by_cost["re"]:
                    re_, snp, bu = (by_cost[c][a]["clip_auc"] for c in COSTS)
                    checks_bu.append(bu >= snp)
                    checks_snp.append(snp > re_)
        for by_model in self.rare.values():
            for r in by_model.values():
                if "re" in r and "bu" in r and np.isfinite(r["re"]["fire_rare"]):
                    checks_rare.append(r["bu"]["fire_rare"] < r["re"]["fire_rare"])
        if checks_bu:
            out["clip AUC: BU >= SNP everywhere"] = all(checks_bu)
            out["clip AUC: SNP > RE everywhere"] = all(checks_snp)
        if checks_rare:
            out["rare-normal: RE fires more than BU"] = all(checks_rare)
        return out


def _anr_keys(metrics: dict) -> list[str]:
    for by_model in metrics.values():
        for by_cost in by_model.values():
            for by_anr in by_cost.values():
                return list(by_anr)
    return []


def _anr_key(a: float | None) -> str:
    return "test" if a is None else f"{a:g}"


# ------------------------------------------------------------------------------------------------ data


def _readable(paths, what: str, bad: list[dict], sr: int) -> list[Path]:
    """Paths that load as audio (a bad file is recorded in ``bad`` with the reason, not raised)."""
    from ..audio.io import AudioFileError, load_audio

    ok = []
    for p in paths:
        try:
            y, _ = load_audio(p, sr=None)
            if y.size < 1024 or not np.any(y):
                raise AudioFileError(p, "too short or silent to use")
            ok.append(Path(p))
        except (AudioFileError, OSError, ValueError) as exc:
            bad.append({"path": str(p), "role": what, "reason": str(getattr(exc, "problem", exc))})
    return ok


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
    anomaly_paths : anomalous sounds; one longer than 80 % of a clip is cropped at random
    anr_db : test ANRs in dB (:func:`adskit.audio.mix_at_ratio`, over the inserted segment)
    mixes_per_clip : anomalous clips per normal clip and ANR; the (clip, sound, position) draws are shared by
        every ANR
    sr : rate of the returned waveforms
    seed : the draws' seed
    rare_spans : file name -> rare-normal segments in seconds (synthetic manifest), for the rare analysis

    Returns
    -------
    list of TestClip : the normal clips (``anr=None``, label 0) first, then the mixtures (label 1)
    """
    from ..audio.io import load_audio
    from ..audio.mixing import mix_at_ratio

    rng = np.random.default_rng([int(seed), 7])
    normals = [(Path(p), load_audio(p, sr=sr)[0]) for p in normal_paths]
    sources = [load_audio(p, sr=sr)[0] for p in anomaly_paths]
    clips = [TestClip(p.name, y, 0, rare=[tuple(s) for s in (rare_spans or {}).get(p.name, [])]) for p, y in normals]
    draws = []
    for ci, (_p, y) in enumerate(normals):
        for _ in range(int(mixes_per_clip)):
            si = int(rng.integers(len(sources)))
            s = sources[si]
            m = min(s.size, int(0.8 * y.size))
            c0 = int(rng.integers(0, s.size - m + 1))
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


def _spectrograms(waves: list[np.ndarray], fcfg, device) -> list[np.ndarray]:
    """Log-mel (T, n_mels) of each waveform, one batched call per group of equal length."""
    import torch

    from ..audio.features import LogMel

    lm = LogMel(fcfg, device=device)
    out: list[np.ndarray | None] = [None] * len(waves)
    groups: dict[int, list[int]] = {}
    for i, y in enumerate(waves):
        groups.setdefault(y.size, []).append(i)
    with torch.inference_mode():
        for idx in groups.values():
            for k in range(0, len(idx), 32):
                part = idx[k : k + 32]
                S = lm(torch.from_numpy(np.stack([waves[i] for i in part]).astype(np.float32))).cpu().numpy()
                for j, i in enumerate(part):
                    out[i] = S[j]
    return out  # type: ignore[return-value]


def _prepare(cfg: SoundConfig, machine: str | None, progress: bool) -> dict[str, Any]:
    """Training paths, something-else paths, test clips and the bad-file report for one machine."""
    from ..audio.datasets import FolderDataset, synthetic
    from ..audio.io import list_audio_files

    sr = 16000
    bad: list[dict] = []
    if not cfg.user_data:
        from ..audio.synth import ensure_synthetic

        root = Path(cfg.data_dir) if cfg.data_dir else ensure_synthetic(cfg.synthetic_preset, cfg.seed, progress)
        ds = synthetic(root, machine=machine)
        train = [c.path for c in ds.train if c.label == 0]
        held = [c for c in ds.test if c.label == 0]
        rare = {c.path.name: c.extra.get("processes", {}).get("rare", []) for c in held}
        se = synthetic(root, what="something_else").paths
        anomalies = synthetic(root, what="anomaly_sources").paths
        test_normal = [c.path for c in held]
        source = f"synthetic ({root}, machine {machine})"
        labelled_test = None
    else:
        normal = FolderDataset(cfg.normal_dir)
        if len(normal) == 0:
            raise ValueError(f"normal_dir: no audio file (WAV, FLAC, OGG) found in {cfg.normal_dir}")
        ok = set(_readable(normal.paths, "normal", bad, sr))
        if cfg.test_dir is None:
            tr, te = normal.split_train_test(cfg.test_fraction, random_state=cfg.seed)
            train = [p for p in tr.paths if p in ok]
            test_normal = [p for p in te.paths if p in ok]
            anomalies = _readable(list_audio_files(cfg.anomalies_dir), "anomaly", bad, sr)
            if not anomalies:
                raise ValueError(f"anomalies_dir: no readable audio file in {cfg.anomalies_dir}")
            if not test_normal:
                raise ValueError("normal_dir: no readable normal clip left for testing")
            labelled_test = None
        else:
            train = [p for p in normal.paths if p in ok]
            test_normal, anomalies = [], []
            tds = FolderDataset(cfg.test_dir)
            good = set(_readable(tds.paths, "test", bad, sr))
            labelled_test = [(c.path, c.label) for c in tds if c.path in good and c.label is not None]
            labs = {lab for _, lab in labelled_test}
            if labs != {0, 1}:
                raise ValueError(
                    f"test_dir: needs normal and anomalous files named as in DCASE (normal_*/anomaly_*), "
                    f"found labels {sorted(labs)} in {cfg.test_dir}"
                )
        se = (
            _readable(list_audio_files(cfg.something_else_dir), "something_else", bad, sr)
            if cfg.something_else_dir
            else []
        )
        if not train:
            raise ValueError(f"normal_dir: no readable normal clip left for training in {cfg.normal_dir}")
        rare = {}
        source = f"user folders (normal {cfg.normal_dir})"
    if any(c != "re" for c in cfg.costs) and not se:
        raise ValueError("something_else_dir: no readable something-else sound for SNP/BU training")
    if labelled_test is None:
        tests = build_test_set(test_normal, anomalies, cfg.anr_db, cfg.mixes_per_clip, sr, cfg.seed, rare)
    else:
        from ..audio.io import load_audio

        tests = [TestClip(p.name, load_audio(p, sr=sr)[0], int(lab)) for p, lab in labelled_test]
    return {
        "train": train,
        "something_else": list(se),
        "tests": tests,
        "bad": bad,
        "source": source,
        "n_train": len(train),
        "n_test_normal": sum(t.label == 0 for t in tests),
        "n_test_anomalous": sum(t.label == 1 for t in tests),
    }


# ------------------------------------------------------------------------------------------- evaluation


def _frame_labels(clip: TestClip, n_vec: int, fcfg) -> np.ndarray:
    from ..audio.mixing import frame_labels

    return frame_labels(clip.span, clip.wave.size, fcfg)[:n_vec] if clip.span else np.zeros(n_vec, bool)


def _rare_mask(clip: TestClip, n_vec: int, fcfg) -> np.ndarray:
    from ..audio.features import frame_times

    t = frame_times(n_vec, fcfg)
    m = np.zeros(n_vec, bool)
    for a, b in clip.rare:
        m |= (t >= a) & (t < b)
    return m


def _evaluate(tests: list[TestClip], frames: list[np.ndarray], fcfg, cfg: SoundConfig, phi: float) -> tuple:
    """Metrics per ANR, ROC curves (clip, max rule) and the rare-normal analysis for one detector."""
    from ..threshold import clip_scores

    s_max = clip_scores(frames, "max")
    s_mean = clip_scores(frames, "mean")
    labels = np.array([t.label for t in tests])
    normal_idx = [i for i, t in enumerate(tests) if t.label == 0]
    anrs = sorted({t.anr for t in tests if t.label == 1}, key=lambda a: -1e9 if a is None else -a)
    if any(t.anr is None and t.label == 1 for t in tests):
        anrs = [None]
    metrics, curves = {}, {}
    for a in anrs:
        idx = np.array(normal_idx + [i for i, t in enumerate(tests) if t.label == 1 and t.anr == a])
        y = labels[idx]
        m = {
            "clip_auc": auc(y, s_max[idx]),
            "clip_pauc": pauc(y, s_max[idx], cfg.max_fpr),
            "clip_auc_mean": auc(y, s_mean[idx]),
            "clip_pauc_mean": pauc(y, s_mean[idx], cfg.max_fpr),
            "n_normal": int((y == 0).sum()),
            "n_anomalous": int((y == 1).sum()),
        }
        fy = np.concatenate([_frame_labels(tests[i], frames[i].size, fcfg) for i in idx])
        fs = np.concatenate([frames[i] for i in idx])
        if tests[idx[-1]].span is not None and 0 < fy.sum() < fy.size:
            m["frame_auc"], m["frame_pauc"] = auc(fy.astype(int), fs), pauc(fy.astype(int), fs, cfg.max_fpr)
        else:
            m["frame_auc"] = m["frame_pauc"] = float("nan")
        fpr, tpr, _ = roc(y, s_max[idx])
        metrics[_anr_key(a)], curves[_anr_key(a)] = m, (fpr, tpr)
    rare_f, steady_f = [], []
    for i in normal_idx:
        mask = _rare_mask(tests[i], frames[i].size, fcfg)
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
    return metrics, curves, rare


def _detector(cfg: SoundConfig, model: str, cost: str, progress: bool, c_re: float | None = None) -> AEDetector:
    """The detector of one (model, cost): the preset with ``cfg.detector`` passed through, and the clip C."""
    kw: dict[str, Any] = {
        **cfg.detector,
        "random_state": cfg.seed,  # same seed: RE, SNP and BU start from the same parameters
        "device": cfg.device,
        "progress": progress,
    }
    det = AEDetector.preset(model, cost=cost, **kw)
    if cfg.C == "re-max":
        det.set_params(C=float(det.c_factor) * c_re if c_re is not None else "auto")
    else:
        det.set_params(C=cfg.C)
    return det


def run_sound(
    config: SoundConfig | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    re_max: float | None = None,
    checkpoint_dir: str | Path | None = None,
) -> SoundResult:
    """Train every (model, cost) on each machine and evaluate at each test ANR.

    Writes (when ``out_dir`` is given) ``sound.json``, ``sound_auc.png``, ``sound_roc.png``,
    ``sound_rare.png`` (synthetic data), ``sound.md`` and, with ``save_models``, one checkpoint per detector
    under ``models/`` (an interrupted run resumes from them). Same config (seed included) -> same numbers.

    Parameters
    ----------
    config : SoundConfig, optional
    out_dir : path, optional
    progress : bool
    re_max : float, optional
        With ``C="re-max"`` and no "re" in ``config.costs``: the RE detector's maximum score on the normal
        calibration frames, from an RE run of the same seed, machine and model (how the sweep runs SNP and
        BU as runs of their own). Without it, such a run falls back to ``C="auto"``.
    checkpoint_dir : path, optional
        Where the checkpoints go (default ``out_dir/models``).

    Raises
    ------
    ValueError
        On an invalid config or unusable data folders (the message names the field or folder).
    """
    from ..audio.datasets import PaperBatchBuilder
    from ..audio.features import FeatureConfig, stack_context
    from ..threshold import NeymanPearsonThreshold

    cfg = (config or SoundConfig()).validate()
    t_start = time.perf_counter()
    dev = str(resolve_device(cfg.device))
    machines = [None] if cfg.user_data else list(cfg.machines)
    metrics: dict = {}
    rare: dict = {}
    curves: dict = {}
    timings: dict = {}
    bad: list[dict] = []
    data: dict = {}
    example: dict = {}
    re_maxima: dict[str, float] = {}
    for machine in machines:
        mkey = machine or "user"
        t0 = time.perf_counter()
        prep = _prepare(cfg, machine, progress)
        bad += prep["bad"]
        data[mkey] = {k: prep[k] for k in ("source", "n_train", "n_test_normal", "n_test_anomalous")}
        data[mkey]["n_something_else"] = len(prep["something_else"])
        timings[f"{mkey}/data"] = time.perf_counter() - t0
        tests = prep["tests"]
        calib_paths = prep["train"][: cfg.n_calibration_clips]
        for model in cfg.models:
            det0 = _detector(cfg, model, "re", False)
            fcfg = FeatureConfig(**det0.feature_config)
            t0 = time.perf_counter()
            specs = _spectrograms([t.wave for t in tests], fcfg, dev)
            from ..audio.io import load_audio

            calib = np.concatenate(
                [
                    stack_context(S, fcfg.frames)
                    for S in _spectrograms([load_audio(p, sr=fcfg.sr)[0] for p in calib_paths], fcfg, dev)
                ]
            )
            timings[f"{mkey}/{model}/features"] = time.perf_counter() - t0
            c_re = None if "re" in cfg.costs else re_max
            for cost in sorted(cfg.costs, key=COSTS.index):  # RE first: its maximum sets C ("re-max")
                det = _detector(cfg, model, cost, progress, c_re)
                builder = PaperBatchBuilder(
                    prep["train"],
                    prep["something_else"] or prep["train"][:1],
                    fcfg,
                    segment_seconds=cfg.segment_seconds,
                    n_segments=cfg.n_segments,
                    anr_range=cfg.train_anr,
                    device=dev,
                    random_state=cfg.seed,  # same seed: the three costs see the same batches
                )
                ckpt = None
                ckdir = Path(checkpoint_dir) if checkpoint_dir is not None else None
                if ckdir is None and out_dir is not None:
                    ckdir = Path(out_dir) / "models"
                if cfg.save_models and ckdir is not None:
                    tag = hashlib.sha256(json.dumps(det._config(), sort_keys=True, default=str).encode()).hexdigest()[
                        :8
                    ]
                    ckpt = ckdir / f"{mkey}-{model}-{cost}-{tag}.pt"
                t0 = time.perf_counter()
                # RE drops the something-else frames of each batch (fit_batches ignores X_anomalous for RE)
                det.fit_sampler(
                    builder,
                    calibration=calib,
                    checkpoint=ckpt,
                    checkpoint_every=max(1, det._n_updates(None) // 4) if ckpt else None,
                    resume=ckpt is not None,
                    n_stat_batches=4,
                )
                timings[f"{mkey}/{model}/{cost}/train"] = time.perf_counter() - t0
                t0 = time.perf_counter()
                _, frames = det.score_clips(specs, "max", return_frames=True)
                calib_scores = det.anomaly_score(calib)
                if cost == "re":
                    c_re = float(calib_scores.max())
                    re_maxima[f"{mkey}/{model}"] = c_re
                phi = NeymanPearsonThreshold(cfg.rho).fit(calib_scores).threshold_
                m, c, r = _evaluate(tests, frames, fcfg, cfg, phi)
                timings[f"{mkey}/{model}/{cost}/score"] = time.perf_counter() - t0
                timings[f"{mkey}/{model}/{cost}/frames_per_s"] = det.frames_seen_ / max(det.fit_seconds_, 1e-9)
                metrics.setdefault(mkey, {}).setdefault(model, {})[cost] = m
                rare.setdefault(mkey, {}).setdefault(model, {})[cost] = r
                for a, fc in c.items():
                    curves.setdefault((mkey, model, a), {})[cost] = fc
                if model == cfg.models[-1]:
                    _keep_example(example, tests, specs, frames, fcfg, phi, mkey, model, cost)
    res = SoundResult(
        metrics=metrics,
        rare=rare,
        config=asdict(cfg),
        timings=timings,
        bad_files=bad,
        data=data,
        seconds=time.perf_counter() - t_start,
        curves=curves,
        example=example,
        re_max=re_maxima,
    )
    if out_dir is not None:
        write_sound(res, out_dir)
    return res


def _keep_example(example, tests, specs, frames, fcfg, phi, mkey, model, cost) -> None:
    """Remember the normal test clip with the longest rare-normal segment (first machine, last model)."""
    if example.get("machine") not in (None, mkey):
        return
    cand = [i for i, t in enumerate(tests) if t.label == 0 and t.rare]
    if not cand:
        return
    i = max(cand, key=lambda j: sum(b - a for a, b in tests[j].rare))
    example.update(machine=mkey, model=model, clip=tests[i].name, rare=tests[i].rare, spec=specs[i], fcfg=fcfg)
    example.setdefault("frames", {})[cost] = frames[i]
    example.setdefault("phi", {})[cost] = phi


# ------------------------------------------------------------------------------------------------ figures


def plot_auc_bars(res: SoundResult, key: str = "clip_auc", axes=None):
    """Grouped bars of ``key`` per model (panels) x ANR (groups) x cost (bars), like the paper's Figure 4."""
    import matplotlib.pyplot as plt

    panels = [(m, model) for m, by in res.metrics.items() for model in by]
    if axes is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), squeeze=False)
        axes = axes[0]
    else:
        fig = np.ravel(axes)[0].figure
    for ax, (mach, model) in zip(axes, panels, strict=True):
        by_cost = res.metrics[mach][model]
        anrs = list(next(iter(by_cost.values())))
        costs = list(by_cost)
        width = 0.8 / len(costs)
        for k, cost in enumerate(costs):
            vals = [by_cost[cost][a][key] for a in anrs]
            ax.bar(np.arange(len(anrs)) + (k - (len(costs) - 1) / 2) * width, vals, width, label=_NAMES[cost])
        ax.set_xticks(np.arange(len(anrs)), [f"{a} dB" if a != "test" else a for a in anrs])
        lo = min(by_cost[c][a][key] for c in costs for a in anrs)
        ax.set_ylim(max(0.0, lo - 0.1), 1.0)
        ax.set_title(f"{mach} / {model}", fontsize=9)
        ax.set_ylabel(key.replace("_", " "))
    axes[0].legend(fontsize=8)
    return fig


def plot_rare_normal(example: dict, axes=None):
    """Where each detector fires on a normal clip with the rare-normal process.

    Top: the log-mel spectrogram with the rare segment marked. Below: each cost's frame scores divided by
    its threshold phi_rho (1 = the threshold; above it, the frame-wise rule calls the frame anomalous).
    """
    import matplotlib.pyplot as plt

    from ..audio.features import frame_times

    costs = list(example["frames"])
    if axes is None:
        fig, axes = plt.subplots(1 + len(costs), 1, figsize=(7.5, 1.6 * (1 + len(costs)) + 0.6), sharex=True)
    else:
        fig = np.ravel(axes)[0].figure
    fcfg = example["fcfg"]
    S = np.asarray(example["spec"])
    dur = S.shape[0] * fcfg.hop_length / fcfg.sr
    axes[0].imshow(S.T, origin="lower", aspect="auto", extent=(0, dur, 0, S.shape[1]), cmap="magma")
    axes[0].set_ylabel("mel bin")
    axes[0].set_title(f"{example['clip']} ({example['machine']}, {example['model']}): normal, with the rare process")
    for a, b in example["rare"]:
        for ax in axes:
            ax.axvspan(a, b, color="tab:cyan", alpha=0.25, lw=0)
    for ax, cost in zip(axes[1:], costs, strict=True):
        f = np.asarray(example["frames"][cost])
        t = frame_times(f.size, fcfg)
        rel = f / example["phi"][cost]
        ax.plot(t, rel, lw=0.9, color="k")
        ax.fill_between(t, 1, rel, where=rel > 1, color="tab:red", alpha=0.6, lw=0)
        ax.axhline(1.0, color="tab:red", lw=0.8, ls="--")
        ax.set_ylabel(f"{_NAMES[cost]}\nA / phi")
    axes[-1].set_xlabel("time (s); shaded: rare-normal process; red: frames above phi_rho")
    return fig


def _plot_roc_grid(res: SoundResult, max_fpr: float):
    import matplotlib.pyplot as plt

    from ..plots import plot_roc

    keys = list(res.curves)
    ncol = min(len(keys), 3)
    nrow = int(np.ceil(len(keys) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.8 * ncol, 3.6 * nrow), squeeze=False)
    for ax, key in zip(axes.ravel(), keys, strict=False):
        curves = {_NAMES[c]: v for c, v in res.curves[key].items()}
        mach, model, a = key
        plot_roc(curves, ax=ax, title=f"{mach}/{model} {a}{' dB' if a != 'test' else ''}", max_fpr=max_fpr)
    for ax in axes.ravel()[len(keys) :]:
        ax.axis("off")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------ output


def write_sound(res: SoundResult, out_dir: str | Path) -> dict[str, str]:
    """Write ``sound.json``, the figures and ``sound.md`` into ``out_dir``."""
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    fig = plot_auc_bars(res)
    files["auc"] = str(save_figure(fig, out / "sound_auc.png", dpi=110))
    plt.close(fig)
    fig = _plot_roc_grid(res, res.config["max_fpr"])
    files["roc"] = str(save_figure(fig, out / "sound_roc.png", dpi=100))
    plt.close(fig)
    if res.example.get("frames"):
        fig = plot_rare_normal(res.example)
        files["rare"] = str(save_figure(fig, out / "sound_rare.png", dpi=110))
        plt.close(fig)
    payload = {
        "metrics": res.metrics,
        "rare": res.rare,
        "pattern": res.pattern(),
        "bad_files": res.bad_files,
        "data": res.data,
        "config": res.config,
        "timings": res.timings,
        "seconds": res.seconds,
    }
    files["json"] = str(atomic_write_json(out / "sound.json", json.loads(json.dumps(payload, default=_jd))))
    files["md"] = str(atomic_write_text(out / "sound.md", _markdown(res, files)))
    res.files = files
    return files


def _jd(o: Any) -> Any:
    if isinstance(o, float) and not np.isfinite(o):
        return None
    if isinstance(o, (np.generic,)):
        return o.item()
    if isinstance(o, (Path, tuple)):
        return str(o) if isinstance(o, Path) else list(o)
    return str(o)


def _markdown(res: SoundResult, files: dict[str, str]) -> str:
    cfg = res.config
    lines = ["## Sound experiment (BU paper §4.2, Figure 4)\n"]
    for mkey, d in res.data.items():
        lines.append(
            f"Data ({mkey}): {d['source']}; {d['n_train']} training clips, {d['n_something_else']} something-else "
            f"sounds; test: {d['n_test_normal']} normal clips and {d['n_test_anomalous']} anomalous clips.\n"
        )
    n_upd = cfg["detector"].get("n_updates")
    upd = n_upd if n_upd is not None else "200 epochs x 500"
    lines.append(
        f"Models {', '.join(cfg['models'])}; {upd} updates of {cfg['n_segments']} x {cfg['segment_seconds']:g} s "
        f"segments; seed {cfg['seed']}.\n"
    )
    lines.append("### Clip AUC (max over frames, eq 11)\n\n" + res.table_markdown("clip_auc") + "\n")
    lines.append(f"### Clip pAUC (FPR <= {cfg['max_fpr']:g}, max rule)\n\n" + res.table_markdown("clip_pauc") + "\n")
    lines.append("### Clip AUC (mean over frames, DCASE rule)\n\n" + res.table_markdown("clip_auc_mean") + "\n")
    if np.isfinite(
        [v["frame_auc"] for m in res.metrics.values() for c in m.values() for a in c.values() for v in a.values()]
    ).any():
        lines.append("### Frame AUC\n\n" + res.table_markdown("frame_auc") + "\n")
    if any(np.isfinite(r["fire_rare"]) for m in res.rare.values() for c in m.values() for r in c.values()):
        lines.append("### Rare-normal process (normal test clips)\n")
        lines.append("| machine | model | cost | frames above phi: rare | steady | AUC rare vs steady |")
        lines.append("|---|---|---|---|---|---|")
        for mk, by_model in res.rare.items():
            for model, by_cost in by_model.items():
                for cost, r in by_cost.items():
                    lines.append(
                        f"| {mk} | {model} | {_NAMES[cost]} | {r['fire_rare']:.3f} | {r['fire_steady']:.3f} | "
                        f"{r['auc_rare_vs_steady']:.3f} |"
                    )
        lines.append("")
    for k, v in res.pattern().items():
        lines.append(f"- {k}: {'reproduced' if v else 'NOT reproduced'}")
    if res.bad_files:
        lines.append("\nUnreadable files, left out:\n")
        lines += [f"- `{b['path']}` ({b['role']}): {b['reason']}" for b in res.bad_files]
    lines.append("")
    for k in ("auc", "roc", "rare"):
        if k in files:
            lines.append(f"![{k}]({Path(files[k]).name})")
    lines.append(f"\nrun time: {res.seconds:.1f} s\n")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ the shell's unit

#: the paper's claims as paired comparisons: clip AUC/pAUC BU >= SNP > RE; RE fires more on the rare process
COMPARISONS = (
    Comparison("BU", "RE", {"clip_auc": 1, "clip_pauc": 1, "fire_rare": -1}),
    Comparison("SNP", "RE", {"clip_auc": 1, "clip_pauc": 1}),
    Comparison("BU", "SNP", {"clip_auc": 1, "clip_pauc": 1}),
)


def plan_sound(config: SoundConfig, seeds: Sequence[int], progress: bool = False) -> list[Run]:
    """One run per (seed, machine, model, cost).

    With ``C="re-max"`` the SNP and BU runs need the RE run of their seed, machine and model (its maximum
    normal score sets their C). On the synthetic default each seed has its own data set, made here (in the
    calling process) so that workers only read it.
    """
    from ..audio.synth import ensure_synthetic

    cfg = config.validate()
    runs: list[Run] = []
    for seed in seeds:
        c = replace(cfg, seed=int(seed))
        if not c.user_data and c.data_dir is None:
            c = replace(c, data_dir=str(ensure_synthetic(c.synthetic_preset, int(seed), progress)))
        for machine in [None] if c.user_data else list(c.machines):
            for model in c.models:
                first: Run | None = None
                for cost in sorted(c.costs, key=COSTS.index):
                    unit = replace(c, machines=(machine,) if machine else c.machines, models=(model,), costs=(cost,))
                    needs = (first,) if first is not None and c.C == "re-max" else ()
                    run = Run(
                        "sound",
                        unit,
                        {"machine": machine or "user", "model": model, "cost": _NAMES[cost], "seed": int(seed)},
                        needs,
                    )
                    if cost == "re":
                        first = run
                    runs.append(run)
    return runs


def execute_sound(run: Run, folder: Path, needs: Mapping[str, dict], progress: bool) -> dict:
    """Train and evaluate one (seed, machine, model, cost); records per ANR and for the rare-normal frames."""
    cfg: SoundConfig = run.config
    re_max = next((float(r["re_max"]) for r in needs.values() if r.get("re_max") is not None), None)
    res = run_sound(cfg, out_dir=None, progress=progress, re_max=re_max, checkpoint_dir=folder / "models")
    lab = {k: run.labels[k] for k in ("model", "cost", "seed")}
    recs = []
    for mkey, by_model in res.metrics.items():
        for by_cost in by_model.values():
            for by_anr in by_cost.values():
                for anr, m in by_anr.items():
                    for metric in ("clip_auc", "clip_pauc", "clip_auc_mean", "clip_pauc_mean", "frame_auc"):
                        recs.append(
                            {
                                **lab,
                                "experiment": "sound",
                                "machine": mkey,
                                "condition": f"{anr} dB" if anr != "test" else anr,
                                "metric": metric,
                                "value": m[metric],
                            }
                        )
    for mkey, by_model in res.rare.items():
        for by_cost in by_model.values():
            for r in by_cost.values():
                for metric in ("fire_rare", "fire_steady", "auc_rare_vs_steady"):
                    recs.append(
                        {
                            **lab,
                            "experiment": "sound",
                            "machine": mkey,
                            "condition": "rare-normal",
                            "metric": metric,
                            "value": r[metric],
                        }
                    )
    recs = [r for r in recs if r["value"] is not None and np.isfinite(r["value"])]
    ex = res.example
    if ex.get("frames"):
        (frames,) = ex["frames"].values()
        (phi,) = ex["phi"].values()
        np.savez_compressed(
            folder / "example.npz", spec=np.asarray(ex["spec"], np.float32), frames=np.asarray(frames, np.float32)
        )
        example = {
            "clip": ex["clip"],
            "machine": ex["machine"],
            "model": ex["model"],
            "rare": ex["rare"],
            "phi": float(phi),
            "fcfg": asdict(ex["fcfg"]),
        }
    else:
        example = None
    return {
        "records": recs,
        "re_max": next(iter(res.re_max.values()), None),
        "metrics": res.metrics,
        "rare": res.rare,
        "bad_files": res.bad_files,
        "data": res.data,
        "timings": res.timings,
        "example": example,
    }


def sound_figures(results: list[dict], out: Path) -> dict[str, Path]:
    """The rare-normal figure (a clip's scores over time, per cost) of the lowest seed's last model."""
    import matplotlib.pyplot as plt

    from ..audio.features import FeatureConfig

    with_ex = [r for r in results if r.get("example")]
    if not with_ex:
        return {}
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
    sel.sort(key=lambda r: [_NAMES[c] for c in COSTS].index(r["labels"]["cost"]))
    ex = dict(first["example"], fcfg=FeatureConfig(**first["example"]["fcfg"]), frames={}, phi={})
    for r in sel:
        cost = r["labels"]["cost"].lower()
        with np.load(Path(r["_folder"]) / "example.npz") as z:
            ex["spec"] = z["spec"]
            ex["frames"][cost] = z["frames"]
        ex["phi"][cost] = r["example"]["phi"]
    ex["model"] = f"{ex['model']}, seed {seed}"
    fig = plot_rare_normal(ex)
    path = save_figure(fig, out / "sound_rare.png", dpi=100)
    plt.close(fig)
    return {"sound_rare": path}


EXPERIMENT = register(
    Experiment(name="sound", plan=plan_sound, execute=execute_sound, comparisons=COMPARISONS, figures=sound_figures)
)
