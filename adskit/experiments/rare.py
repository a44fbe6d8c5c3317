"""The rare-normal experiment: what RE, SNP and BU do to false alarms on a rare-but-normal process.

The claim under test is the BU paper's motivation (Koizumi et al., WASPAA 2019, §1 and §3): a detector trained
on the mean reconstruction error (RE) learns rare normal sounds poorly and fires on them; batch uniformization
(BU, eq 16) weights rare training vectors up and should not. The paper shows it only on the 2-D toy; here it is
measured on sounds, with the rarity as a controlled variable.

For each rarity (the exact share of training seconds the rare process fills, :mod:`adskit.audio.synth`), cost
and seed, an AE is trained on random mini-batches of the training vectors (not the paper's 10 x 3-s segments, see
below) and thresholded at phi_rho, rho = ``fa_target`` (5 %), on calibration clips of frequent-normal sound. At
that threshold it reports the false-alarm rate on the rare-normal frames and clips, on held-out frequent-normal
frames and clips (about 5 % if the threshold generalises), and the true-positive rate on anomalous clips
(:func:`adskit.experiments.rare_data.evaluate_rare`). BU runs with two bandwidth rules: the median heuristic
("BU") and a target effective sample size ("BU-ESS", :func:`adskit.bandwidth.ess_bandwidth`), and report how
far their weights are from uniform: the mean ESS of the training batches, the least ESS any h reaches on the data,
and the share of weight the rare vectors receive against their share of vectors.

Deviations from the paper (ours): random mini-batches of 512 vectors, so that a batch holds the rare process at
its training share (the paper's batches of ten 3-s segments hold it in clumps); C from the detector's own rule
(``C="auto"``: c_factor x the running maximum of the normal scores during a 10 % RE warm-up) so that no run
needs another; simulated anomalies as in the sound experiment (something-else sounds mixed into normal clips).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import matplotlib.pyplot as plt
import numpy as np

from .._utils import atomic_write_json, atomic_write_text, check_positive, resolve_device, save_figure, settings_hash
from ..audio.features import FeatureConfig
from ..audio.paths import data_dir
from ..audio.synth import RARE_DISTINCTNESS
from ..bandwidth import ess_curve, parse_bandwidth_rule, weight_share
from ..detectors import AEDetector
from ..plots import plot_rare_normal, plot_rarity_curves
from .rare_data import evaluate_rare, load_rare_data, make_rare_dataset
from .runs import Comparison, Experiment, Run, detector_param_names, make_records, register, split_overrides
from .sound_data import load_example, save_example

__all__ = ["RareConfig", "execute_rare", "plan_rare", "rare_report", "rare_tables"]

COSTS = ("re", "snp", "bu")
QUICK_RARITIES = (0.005, 0.02, 0.1)
FULL_RARITIES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
#: the experiment's own detector choices; every other parameter keeps AEDetector's (and the preset's) default
QUICK_DETECTOR = {"n_updates": 1500, "c_factor": 1.0}
#: the cost labels of the runs: BU once per bandwidth rule
LABELS = ("RE", "SNP", "BU", "BU-ESS")
#: the numbers each run records (besides the BU weights' diagnostics)
METRICS = (
    "fa_rare_frames",
    "fa_frequent_frames",
    "fa_rare_clips",
    "fa_frequent_clips",
    "tpr_anomaly",
    "tpr_anomaly_frames",
    "auc_anomaly",
    "auc_rare_vs_frequent",
)
DIAGNOSTICS = ("mean_ess", "min_ess", "ess_h0", "h_over_h0", "rare_weight_share", "rare_vector_share")


@dataclass
class RareConfig:
    """Settings of the rare-normal experiment (all of them ours: the paper has no such experiment on sounds).

    Data (one synthetic data set per rarity and seed, made in ``data_dir``, default ``adskit.audio.data_dir()/rare``)
    ----
    machine : synthetic machine
    rarities : shares of the training seconds the rare process fills (each exact, in (0, 0.5])
    distinctness : how far the rare process's spectrum is from the frequent one (default
        :data:`adskit.audio.synth.RARE_DISTINCTNESS`, 0.5, chosen with RE alone; 0 = the warm-up ramp only)
    n_train, n_test_normal, n_test_anomaly, n_something_else, duration : clips of the data set (half the normal test
        clips hold the rare process; the others are split into calibration and held-out frequent clips)
    train_anr : ANR range (dB) of the something-else sounds that make SNP's and BU's simulated anomalies

    Detectors
    ---------
    model : AE preset of :meth:`AEDetector.preset`
    costs : "re", "snp", "bu"
    bandwidths : BU's bandwidth rules, each a run of its own: "median" (label "BU") and/or "ess:q" (label "BU-ESS")
    detector : keyword arguments passed to every detector (:data:`QUICK_DETECTOR`: 1500 updates, c_factor 1)
    fa_target : the false-alarm rate on frequent-normal calibration clips that sets the thresholds
    """

    machine: str = "fan"
    rarities: tuple[float, ...] = QUICK_RARITIES
    distinctness: float = RARE_DISTINCTNESS
    n_train: int = 40
    n_test_normal: int = 80
    n_test_anomaly: int = 20
    n_something_else: int = 20
    duration: float = 6.0
    train_anr: tuple[float, float] = (-20.0, -10.0)
    model: str = "fcn40-small"
    costs: tuple[str, ...] = COSTS
    bandwidths: tuple[str, ...] = ("median", "ess:0.5")
    detector: dict = field(default_factory=lambda: dict(QUICK_DETECTOR))
    fa_target: float = 0.05
    data_dir: str | None = None
    dataset: str | None = None  # set per run by plan_rare: the data set of its rarity and seed
    seed: int = 0
    device: str = "auto"

    DETECTOR: ClassVar[type] = AEDetector

    @classmethod
    def quick(cls, **kw: Any) -> RareConfig:
        """Rarities 0.5, 2 and 10 %, both bandwidth rules, fcn40-small, 1500 updates (CPU minutes).

        Raises
        ------
        ValueError
            If a name is neither a setting nor an :class:`AEDetector` parameter.
        """
        return cls(**split_overrides(cls, AEDetector, kw, QUICK_DETECTOR))

    @classmethod
    def full(cls, **kw: Any) -> RareConfig:
        """Every rarity of the issue (0.5, 1, 2, 5, 10, 20 %), the rest as quick (run with 5 seeds)."""
        return cls(**split_overrides(cls, AEDetector, {"rarities": FULL_RARITIES, **kw}, QUICK_DETECTOR))

    def validate(self) -> RareConfig:
        """Check every setting and return self.

        Raises
        ------
        ValueError
            Naming the first setting that is out of range.
        """
        bad = sorted(set(self.detector) - detector_param_names(AEDetector))
        if bad:
            raise ValueError(f"detector: {bad} are not parameters of AEDetector")
        if "h" in self.detector:
            raise ValueError("detector: h is set per run by bandwidths (e.g. bandwidths=('median', 'ess:0.5'))")
        if not self.rarities or any(not 0.0 < float(r) <= 0.5 for r in self.rarities):
            raise ValueError(f"rarities: expected shares in (0, 0.5], got {list(self.rarities)}")
        bad = [c for c in self.costs if c not in COSTS]
        if bad or not self.costs:
            raise ValueError(f"costs: expected some of {COSTS}, got {list(self.costs)}")
        rules = [parse_bandwidth_rule(b)[0] for b in self.bandwidths]
        if "bu" in self.costs and (not rules or any(r == "fixed" for r in rules) or len(set(rules)) < len(rules)):
            raise ValueError(f"bandwidths: expected 'median' and/or one 'ess:q', got {list(self.bandwidths)}")
        if not 0.0 < float(self.fa_target) < 0.5:
            raise ValueError(f"fa_target: expected a rate in (0, 0.5), got {self.fa_target!r}")
        check_positive(self.duration, "duration")
        check_positive(self.distinctness, "distinctness", strict=False)
        for name in ("n_train", "n_test_normal", "n_test_anomaly", "n_something_else"):
            if int(getattr(self, name)) < (4 if name == "n_test_normal" else 1):
                raise ValueError(
                    f"{name}: expected a positive integer (n_test_normal >= 4), got {getattr(self, name)!r}"
                )
        return self

    def data_settings(self, rarity: float, seed: int) -> dict:
        """The settings of the data set of one rarity and seed (its folder name carries their hash)."""
        keys = ("machine", "distinctness", "n_train", "n_test_normal", "n_test_anomaly", "n_something_else", "duration")
        return {"rarity": float(rarity), "seed": int(seed), **{k: getattr(self, k) for k in keys}}


def label_of(cost: str, bandwidth: str | None) -> str:
    """The run's cost label: "RE", "SNP", "BU" (median heuristic) or "BU-ESS" (an ESS target)."""
    if cost != "bu":
        return cost.upper()
    return "BU" if parse_bandwidth_rule(bandwidth)[0] == "median" else "BU-ESS"


def rarity_condition(rarity: float) -> str:
    """The record's condition for a rarity, e.g. ``"rarity 0.5 %"``."""
    return f"rarity {100 * float(rarity):g} %"


def plan_rare(config: RareConfig, seeds: Sequence[int], progress: bool = False) -> list[Run]:
    """One run per (seed, rarity, cost and bandwidth rule); the data sets are made here, so workers only read them.

    Raises
    ------
    ValueError
        On an invalid config (:meth:`RareConfig.validate`) or a rarity the clips cannot hold.
    """
    cfg = config.validate()
    root = Path(cfg.data_dir) if cfg.data_dir else data_dir() / "rare"
    runs = []
    for seed in seeds:
        for rarity in cfg.rarities:
            settings = cfg.data_settings(rarity, int(seed))
            name = f"{cfg.machine}-rarity{100 * float(rarity):g}-s{int(seed)}-{settings_hash(settings, 8)}"
            folder = make_rare_dataset(
                root / name,
                **{k: v for k, v in settings.items() if k not in ("machine",)},
                machine=cfg.machine,
                progress=progress,
            )
            for cost in sorted(cfg.costs, key=COSTS.index):
                for bw in cfg.bandwidths if cost == "bu" else (None,):
                    unit = replace(
                        cfg,
                        rarities=(float(rarity),),
                        costs=(cost,),
                        bandwidths=(bw,) if bw else (),
                        dataset=str(folder),
                        seed=int(seed),
                    )
                    labels = {"machine": cfg.machine, "model": cfg.model, "cost": label_of(cost, bw), "seed": int(seed)}
                    runs.append(Run("rare", unit, labels))
    return runs


def _bu_diagnostics(det: AEDetector, X: np.ndarray, rare: np.ndarray, seed: int) -> dict[str, float]:
    """How far a fitted BU detector's weights are from uniform, on random batches of its training vectors."""
    z = det.kde_input(X)
    b = min(int(det.batch_size), len(z))
    h, ess, h0 = ess_curve(z, batch_size=b, n_batches=4, eps=float(det.eps), random_state=seed)
    rng = np.random.default_rng([seed, 11])
    idx = [rng.choice(len(z), b, replace=False) for _ in range(16)]
    share = weight_share([z[i] for i in idx], float(det.h_), [rare[i] for i in idx], eps=float(det.eps))
    return {
        "mean_ess": float(np.nanmean(det.history_["ess"])),
        "min_ess": float(ess.min()),
        "ess_h0": float(np.interp(np.log(h0), np.log(h), ess)),
        "h_over_h0": float(det.h_ / h0),
        "rare_weight_share": float(share),
        "curve_h_over_h0": (h / h0).tolist(),
        "curve_ess": ess.tolist(),
    }


def execute_rare(run: Run, folder: Path, needs: Mapping[str, dict], progress: bool) -> dict:
    """Train and evaluate one (seed, rarity, cost, bandwidth rule); records per metric under ``rarity k %``."""
    cfg: RareConfig = run.config
    (cost,), (rarity,) = cfg.costs, cfg.rarities
    kw = {**cfg.detector, "random_state": cfg.seed, "device": cfg.device, "progress": progress}
    if cost == "bu":
        kw["h"] = cfg.bandwidths[0]
    det = AEDetector.preset(cfg.model, cost=cost, **kw)
    fcfg = FeatureConfig(**det.feature_config)
    data = load_rare_data(
        cfg.dataset, fcfg, device=str(resolve_device(cfg.device)), train_anr=cfg.train_anr, seed=cfg.seed
    )
    X, rare = data.X_train, data.rare_train
    n = det.planned_updates(length=len(X))
    det.fit(
        X,
        X_anomalous=None if cost == "re" else data.anomalous,
        checkpoint=folder / "model.pt",
        checkpoint_every=max(1, n // 4),
        resume=True,
    )
    frames = [det.anomaly_score(v) for v in data.test]
    m = evaluate_rare(frames, data.roles, data.rare_masks, data.anomaly_masks, cfg.fa_target)
    diag = _bu_diagnostics(det, X, rare, cfg.seed) if cost == "bu" else {}
    diag["rare_vector_share"] = float(rare.mean())
    cond = rarity_condition(rarity)
    rows = [(cond, k, m[k]) for k in METRICS] + [(cond, k, diag[k]) for k in DIAGNOSTICS if k in diag]
    records = [r for r in make_records(run, rows) if r["value"] is not None and np.isfinite(r["value"])]
    rare_clips = [i for i, r in enumerate(data.roles) if r == "rare"]
    example = {}
    if rare_clips:
        i = max(rare_clips, key=lambda j: int(data.rare_masks[j].sum()))
        example = {
            "machine": cfg.machine,
            "model": f"{cfg.model}, rarity {100 * rarity:g} %",
            "clip": Path(data.names[i]).name,
            "rare": data.rare_segments[i],
            "spec": data.specs[i],
            "fcfg": fcfg,
            "frames": {run.labels["cost"]: frames[i]},
            "phi": {run.labels["cost"]: m["phi_frame"]},
        }
    return {
        "records": records,
        "rarity": float(rarity),
        "bandwidth": cfg.bandwidths[0] if cost == "bu" else None,
        "metrics": m,
        "diagnostics": diag,
        "bandwidth_choice": getattr(det, "bandwidth_", None),
        "rare_share_seconds": data.rare_share,
        "example": save_example(example, folder) if example else None,
    }


# ------------------------------------------------------------------------------------------ report

#: the comparisons: BU (each rule) and SNP against RE, as the issue asks; and BU against SNP, which isolates the
#: weights (SNP is BU with uniform weights, so BU - RE mixes the weights' effect with the anomalous term's). The
#: direction is the paper's: fewer false alarms on rare-normal sound, no fewer detected anomalies.
_DIRECTIONS = {"fa_rare_frames": -1, "fa_rare_clips": -1, "tpr_anomaly": 1}
COMPARISONS = tuple(
    Comparison(a, b, _DIRECTIONS)
    for a, b in (("BU", "RE"), ("BU-ESS", "RE"), ("SNP", "RE"), ("BU", "SNP"), ("BU-ESS", "SNP"))
)


def _rarity(condition: str) -> float:
    return float(condition.split()[1]) / 100


def rare_tables(summary: Mapping, results: Sequence[Mapping] = ()) -> dict:
    """``rare.json``'s content from a ``summary.json`` (:func:`adskit.experiments.report.summarize`).

    One cell per (rarity, cost label), with the issue's fields: ``rarity`` (share), ``cost``, ``bandwidth`` (the rule,
    None for RE and SNP), each metric's mean (``fa_rare_frames``, ``fa_frequent_frames``, ``fa_rare_clips``,
    ``fa_frequent_clips``, ``tpr_anomaly``, ...), 95 % intervals as ``<metric>_ci`` ([low, high], None with one seed),
    the BU diagnostics (``mean_ess``, ``min_ess``, ``rare_weight_share``, ...; None for RE and SNP) and ``n_seeds``;
    then the comparisons of the experiment, as in ``summary.json``.
    """
    rules = {r["labels"]["cost"]: r.get("bandwidth") for r in results}
    cells: dict[tuple, dict] = {}
    for c in summary["cells"]:
        if c["experiment"] != "rare":
            continue
        key = (_rarity(c["condition"]), c["cost"])
        cell = cells.setdefault(
            key,
            {
                "rarity": key[0],
                "cost": "BU" if c["cost"].startswith("BU") else c["cost"],
                "label": c["cost"],
                "bandwidth": rules.get(c["cost"]),
                "machine": c["machine"],
                "model": c["model"],
                **{k: None for k in (*METRICS, *DIAGNOSTICS)},
                "n_seeds": 0,
            },
        )
        cell[c["metric"]] = c["mean"]
        cell[f"{c['metric']}_ci"] = None if c["ci_low"] is None else [c["ci_low"], c["ci_high"]]
        cell["n_seeds"] = max(cell["n_seeds"], c["n_seeds"])
    order = {lab: i for i, lab in enumerate(LABELS)}
    out = sorted(cells.values(), key=lambda c: (c["rarity"], order.get(c["label"], 9)))
    comps = [c for c in summary["comparisons"] if c["experiment"] == "rare"]
    settings = {}
    if results and results[0].get("config"):
        cfg = results[0]["config"]
        settings = {
            "machine": cfg.get("machine"),
            "model": cfg.get("model"),
            "n_updates": (cfg.get("detector") or {}).get("n_updates"),
            "distinctness": cfg.get("distinctness"),
            "fa_target": cfg.get("fa_target"),
            "rarities": sorted({float(r["rarity"]) for r in results if r.get("rarity") is not None}),
            "bandwidths": sorted({r["bandwidth"] for r in results if r.get("bandwidth")}),
        }
    return {
        "cells": out,
        "comparisons": comps,
        "settings": settings,
        "seeds": summary.get("seeds"),
        "interval": summary.get("interval"),
    }


def _fmt(cell: Mapping, key: str) -> str:
    v, ci = cell.get(key), cell.get(f"{key}_ci")
    if v is None:
        return ""
    return f"{v:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def _settings_line(st: Mapping) -> str:
    """What was run, and what of the full experiment was left out (quick mode drops rarities and rules)."""
    if not st:
        return ""
    left = [r for r in FULL_RARITIES if r not in st["rarities"]]
    rules = ", ".join(st["bandwidths"]) or "none (no BU run)"
    return (
        f"Machine {st['machine']}, {st['model']}, {st['n_updates']} updates, distinctness {st['distinctness']}; "
        f"rarities {', '.join(f'{100 * r:g} %' for r in st['rarities'])}; BU bandwidth rules: {rules}."
        + (f" Not run here (`--full` runs them): rarities {', '.join(f'{100 * r:g} %' for r in left)}." if left else "")
        + "\n"
    )


def rare_markdown(tables: Mapping) -> str:
    """``rare.md``: the cells per rarity and cost, the BU weights' diagnostics, then the paired comparisons."""
    cells = tables["cells"]
    lines = [
        "# Rare-normal false alarms\n",
        _settings_line(tables.get("settings") or {}),
        f"Seeds {tables.get('seeds')}; {tables.get('interval')}. Thresholds: phi_rho at 5 % false alarms on "
        "frequent-normal calibration clips (frames and clip maxima each). `fa_frequent_*` is measured on held-out "
        "frequent-normal clips and should be near 5 %.\n",
        "| rarity | cost | bandwidth | FA rare frames | FA frequent frames | FA rare clips | FA frequent clips | "
        "TPR anomalous clips | seeds |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        lines.append(
            f"| {100 * c['rarity']:g} % | {c['cost']} | {c['bandwidth'] or ''} | {_fmt(c, 'fa_rare_frames')} | "
            f"{_fmt(c, 'fa_frequent_frames')} | {_fmt(c, 'fa_rare_clips')} | {_fmt(c, 'fa_frequent_clips')} | "
            f"{_fmt(c, 'tpr_anomaly')} | {c['n_seeds']} |"
        )
    bu = [c for c in cells if c["cost"] == "BU"]
    if bu:
        lines += [
            "\n## BU's weights: how far from uniform\n",
            "ESS / B = 1 means uniform weights (BU = SNP). `min ESS` is the least any bandwidth reaches on the data; "
            "`rare weight share` is the weight on rare-normal vectors over their share of vectors (1 = as SNP).\n",
            "| rarity | bandwidth | mean ESS / B in training | min ESS / B over h | h / median heuristic | "
            "rare weight share |",
            "|---|---|---|---|---|---|",
        ]
        for c in bu:
            lines.append(
                f"| {100 * c['rarity']:g} % | {c['bandwidth']} | {_fmt(c, 'mean_ess')} | {_fmt(c, 'min_ess')} | "
                f"{_fmt(c, 'h_over_h0')} | {_fmt(c, 'rare_weight_share')} |"
            )
    comps = tables["comparisons"]
    if comps:
        lines += [
            "\n## Paired differences over seeds (a - b)\n",
            "| rarity | metric | a - b | mean | 95 % interval | seeds | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for c in sorted(comps, key=lambda c: (_rarity(c["condition"]), c["metric"], c["a"])):
            ci = "n/a" if c["ci_low"] is None else f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
            lines.append(
                f"| {c['condition'].split(' ', 1)[1]} | {c['metric']} | {c['a']} - {c['b']} | {c['mean_diff']:+.3f} | "
                f"{ci} | {c['n_seeds']} | {c['verdict']} |"
            )
    return "\n".join(lines) + "\n"


def rare_report(summary: Mapping, results: Sequence[Mapping], out: Path) -> dict[str, Path]:
    """Write ``rare.json``, ``rare.md``, ``rare_fa.png`` (false alarms on rare-normal frames against rarity),
    ``rare_tpr.png`` (anomaly TPR against rarity) and ``rare_example.png`` (a rare-normal clip's scores per cost)."""
    results = [r for r in results if r.get("experiment") == "rare"]
    tables = rare_tables(summary, results)
    files = {"rare_json": atomic_write_json(out / "rare.json", tables)}
    files["rare_md"] = atomic_write_text(out / "rare.md", rare_markdown(tables))
    target = next((float(r["config"]["fa_target"]) for r in results), 0.05)
    for name, metric, title in (
        ("rare_fa", "fa_rare_frames", "False alarms on rare-normal frames"),
        ("rare_tpr", "tpr_anomaly", "True positives on anomalous clips"),
    ):
        fig = plot_rarity_curves(
            tables["cells"], metric, target=target if metric.startswith("fa") else None, title=title
        )
        files[name] = save_figure(fig, out / f"{name}.png", dpi=100)
        plt.close(fig)
    with_ex = [r for r in results if r.get("example")]
    if with_ex:
        rarity = min(float(r["rarity"]) for r in with_ex)
        ex = load_example([r for r in with_ex if float(r["rarity"]) == rarity], LABELS)
        if ex is not None:
            fig = plot_rare_normal(ex)
            files["rare_example"] = save_figure(fig, out / "rare_example.png", dpi=100)
            plt.close(fig)
    return files


EXPERIMENT = register(
    Experiment(name="rare", plan=plan_rare, execute=execute_rare, comparisons=COMPARISONS, report=rare_report)
)
