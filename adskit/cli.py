"""The ``adskit`` command: a thin argparse layer over :mod:`adskit.experiments`.

adskit reproduce --quick --out DIR             every paper experiment over seeds on the synthetic data + report
adskit verify | sound | rare | np [options] --out DIR  one experiment over seeds (``--seeds 0 1 2``), on Dask
adskit sweep EXPERIMENT [options] --out DIR     the same, spelled as a sweep (``--scheduler ADDRESS`` for a cluster)
adskit report DIR [DIR ...]                     aggregate result folders: summary.json, summary.md, figures
adskit fit --normal DIR --out MODEL_DIR         train on normal recordings, keep the model (the analyst's path)
adskit score MODEL_DIR INPUT... --out CSV       score new recordings: one row per file, alarms at --rho
adskit evaluate MODEL_DIR TEST_DIR --out DIR    labelled files: AUC / pAUC per section, DCASE means, false alarms

Every experiment runs as one :class:`~adskit.experiments.runs.Run` per (seed, machine, model, cost), each in its
own result folder, on a ``distributed.LocalCluster`` (or the scheduler given); a re-run skips complete runs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from . import __version__
from ._utils import atomic_write_text, resolve_device
from .detectors.presets import AE_PRESETS
from .experiments.analyst import DEFAULT_PRESET, fit_model, fit_summary
from .experiments.analyst_evaluate import evaluate_model
from .experiments.analyst_score import score_files
from .experiments.neyman_pearson import METHODS, NPConfig
from .experiments.np_toy import run_np_toy, toy_markdown
from .experiments.rare import RareConfig
from .experiments.report import collect_results, spread_sentence, superseded, write_report
from .experiments.runs import data_changes, detector_param_names, get_experiment
from .experiments.sound import COSTS, MODELS, SoundConfig
from .experiments.sweep import run_sweep
from .experiments.verification import VerificationConfig

#: experiments in the order ``adskit reproduce`` runs them
EXPERIMENTS = ("verify", "sound", "rare", "np")
QUICK_SEEDS = (0, 1, 2)
#: what ``adskit reproduce --quick`` changes from each experiment's quick settings to save time on a 2-core CPU with 3
#: seeds (said in its report): the sound experiment with one AE (FCN40-small) instead of two; the rare-normal
#: experiment at rarities 0.5 and 2 % (not 10 %) and with the median heuristic only (18 runs instead of 36)
REPRODUCE_QUICK = {
    "sound": {"models": ("fcn40-small",)},
    "rare": {"rarities": (0.005, 0.02), "bandwidths": ("median",)},
}
FULL_SEEDS = (0, 1, 2, 3, 4)


# ------------------------------------------------------------------------------------------ shared arguments


def add_common_arguments(p: argparse.ArgumentParser, quick_help: str, full_help: str) -> None:
    """--out, --seeds, --device, --no-progress, --quick/--full, --workers, --scheduler."""
    p.add_argument("--out", type=Path, required=True, help="result folder (created; complete runs in it are kept)")
    p.add_argument(
        "--seeds", type=int, nargs="+", help=f"seeds (default {' '.join(map(str, QUICK_SEEDS))}; --full: 0-4)"
    )
    p.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # one seed: the same as --seeds S
    p.add_argument("--device", default="auto", type=_device, help="'auto' (CUDA when present), 'cpu' or 'cuda'")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help=quick_help)
    mode.add_argument("--full", action="store_true", help=full_help)
    p.add_argument(
        "--workers",
        type=int,
        help="worker processes of the local Dask cluster (default: the cores; 0: no Dask, one run after another)",
    )
    p.add_argument("--scheduler", help="address of a running Dask scheduler (e.g. tcp://host:8786) instead")


def _verify_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--n-updates", dest="n_updates", type=int, help="training updates per cost (default 5000)")
    p.add_argument("--h", type=float, help="KDE bandwidth (default 0.2)")
    p.add_argument("--eps", type=float, help="BU weight regulariser (default 1e-6)")
    p.add_argument("--C", type=float, help="clip of the anomalous term (default 5)")
    p.add_argument("--lr", type=float, help="AMSGrad step size (default 1e-3)")
    p.add_argument("--widths", type=int, nargs=3, metavar=("A", "B", "C"), help="AE widths (default 64 2 64)")
    p.add_argument("--costs", nargs="+", choices=("RE", "SNP", "BU"), help="costs (default RE SNP BU)")


def _sound_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--normal", dest="normal_dir", type=Path, help="folder of normal clips (split into train and test)")
    p.add_argument("--something-else", dest="something_else_dir", type=Path, help="folder of something-else sounds")
    p.add_argument("--anomalies", dest="anomalies_dir", type=Path, help="anomalous sounds mixed into held-out clips")
    p.add_argument(
        "--test", dest="test_dir", type=Path, help="labelled test files (DCASE names) instead of --anomalies"
    )
    p.add_argument("--anr", dest="anr_db", type=float, nargs="+", help="test ANRs in dB (default -10 -15 -20)")
    p.add_argument("--models", nargs="+", choices=MODELS, help="AE presets")
    p.add_argument("--costs", nargs="+", choices=COSTS, help="training costs (default re snp bu)")
    p.add_argument("--machines", nargs="+", help="synthetic machines (default: fan; --full: all four)")
    p.add_argument("--n-updates", dest="n_updates", type=int, help="updates per detector")
    p.add_argument("--h-factor", dest="h_factor", type=float, help="BU bandwidth = factor x median heuristic")
    p.add_argument("--c-factor", dest="c_factor", type=float, help="C = factor x max RE score on normal frames")
    p.add_argument("--C", type=float, help="a fixed clip C for SNP/BU instead of factor x max RE score")
    p.add_argument("--test-fraction", dest="test_fraction", type=float, help="held-out share of --normal clips")
    p.add_argument("--data-dir", dest="data_dir", type=Path, help="synthetic data folder (default: made per seed)")


def _np_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--machine", help="synthetic target machine (default fan); the others are O")
    p.add_argument("--data-dir", dest="data_dir", type=Path, help="root of a synthetic data set (manifest.json)")
    p.add_argument("--normal", dest="normal_dir", type=Path, help="folder of normal clips of the target machine (D)")
    p.add_argument("--other", dest="other_dir", type=Path, help="folder of other-machine clips (O)")
    p.add_argument("--anomalies", dest="anomalies_dir", type=Path, help="folder of isolated anomaly sounds to mix in")
    p.add_argument("--test", dest="test_dir", type=Path, help="folder of DCASE-named labelled test clips")
    p.add_argument("--steps", dest="n_steps", type=int, help="training steps per method")
    p.add_argument("--hidden", type=int, nargs="+", help="hidden widths of F (default 128 x 3 quick, 512 x 3 full)")
    p.add_argument("--snrs", type=float, nargs="+", help="mixing SNRs in dB (default -10 -5 0 5)")
    p.add_argument("--methods", nargs="+", choices=tuple(METHODS), help="subset of AE VAE PROP")
    p.add_argument("--em-every", dest="em_every", type=int, help="refresh GMM and phi_rho every N steps")
    p.add_argument("--reg-covar", dest="reg_covar", type=float, help="GMM variance floor (default 1e-6)")
    p.add_argument("--vae-data", dest="vae_data", choices=("other", "both"), help="PROP's VAE step on O or D+O")
    p.add_argument(
        "--reg-covar-relative",
        dest="reg_covar_relative",
        action=argparse.BooleanOptionalAction,
        help="scale the GMM variance floor by the mean feature variance",
    )
    p.add_argument(
        "--calibration-fraction",
        dest="calibration_fraction",
        type=float,
        help="fraction of normal training clips held out for the calibrated phi_rho (default 0.2)",
    )
    p.add_argument("--input-dropout", dest="input_dropout", type=float, help="dropout on F's and G's input")
    p.add_argument("--hidden-dropout", dest="hidden_dropout", type=float, help="dropout in F's and G's hidden layers")
    p.add_argument(
        "--toy",
        action="store_true",
        help="the known-answer setting instead of sounds (8-D Gaussians, the most powerful test known): TPR and "
        "realised FPR at rho of AE, VAE, PROP and the optimum over the seeds; writes OUT/np_toy.json",
    )


def _rare_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rarity",
        dest="rarities",
        type=float,
        nargs="+",
        help="shares of the training seconds the rare process fills (default 0.005 0.02 0.1; --full: six, 0.005-0.2)",
    )
    p.add_argument("--costs", nargs="+", choices=COSTS, help="training costs (default re snp bu)")
    p.add_argument(
        "--bandwidths", nargs="+", help="BU's bandwidth rules, a run each: median and/or ess:q (default median ess:0.5)"
    )
    p.add_argument("--model", choices=MODELS, help="AE preset (default fcn40-small)")
    p.add_argument("--machine", help="synthetic machine (default fan)")
    p.add_argument("--distinctness", type=float, help="how far the rare process's spectrum is from the frequent one")
    p.add_argument("--n-updates", dest="n_updates", type=int, help="updates per detector (default 1500)")
    p.add_argument(
        "--data-dir", dest="data_dir", type=Path, help="where the data sets are made (default: data root/rare)"
    )


_OPTIONS = {"verify": _verify_options, "sound": _sound_options, "rare": _rare_options, "np": _np_options}
_HELP = {
    "verify": (
        "2-D verification experiment (BU paper §4.1, Table 1)",
        "the defaults (5,000 updates)",
        "the same, 5 seeds",
    ),
    "sound": (
        "sound experiment: RE / SNP / BU autoencoders (BU paper §4.2)",
        "CPU minutes: one machine, two small AEs (default)",
        "the paper's settings: four AEs, 200 x 500 updates (GPU)",
    ),
    "rare": (
        "rare-normal false alarms of RE / SNP / BU against the rarity of a normal process",
        "CPU minutes: rarities 0.5, 2, 10 %%, fcn40-small (default)",
        "rarities 0.5, 1, 2, 5, 10, 20 %%, 5 seeds",
    ),
    "np": (
        "Neyman-Pearson feature extractor vs AE/VAE + GMM (EUSIPCO 2017 Table I)",
        "CPU minutes: smaller network, fewer steps (default)",
        "the paper's settings (GPU recommended)",
    ),
}


# ------------------------------------------------------------------------------------------ configs from arguments


#: the config class of each experiment
CONFIGS = {"verify": VerificationConfig, "sound": SoundConfig, "rare": RareConfig, "np": NPConfig}


def config_from_args(name: str, args: argparse.Namespace) -> Any:
    """The experiment's config from parsed arguments: every option whose name is a config field, in the mode chosen.

    Options left out keep the config's defaults; detector options (``--steps``, ``--hidden``, ...) go into the
    config's ``detector`` mapping, so their defaults stay the detector's. Paths become strings, lists tuples.

    Raises
    ------
    ValueError
        If an option names neither a config setting nor a detector parameter (from the config's ``quick``/``full``).
    """
    cls = CONFIGS[name]
    names = {f.name for f in dataclasses.fields(cls)}
    if hasattr(cls, "DETECTOR"):
        names |= detector_param_names(cls.DETECTOR)  # passed through to the detector as one mapping
    kw: dict[str, Any] = {"device": getattr(args, "device", "auto")}
    for n in sorted(names - {"seed", "device", "detector"}):
        v = getattr(args, n, None)
        if v is not None:
            kw[n] = str(v) if isinstance(v, Path) else tuple(v) if isinstance(v, list) else v
    full = bool(getattr(args, "full", False))
    if hasattr(cls, "quick"):
        return cls.full(**kw) if full else cls.quick(**kw)
    return cls(**kw)


def seeds_from_args(args: argparse.Namespace) -> list[int]:
    """``--seeds`` as given, ``--seed S`` as one seed, else the mode's default (quick: 3 seeds, full: 5)."""
    if getattr(args, "seeds", None):
        return list(dict.fromkeys(int(s) for s in args.seeds))
    if getattr(args, "seed", None) is not None:
        return [int(args.seed)]
    return list(FULL_SEEDS if getattr(args, "full", False) else QUICK_SEEDS)


# ------------------------------------------------------------------------------------------ commands


def _say(text: str) -> None:
    """A line about the work (plans, progress, warnings, where files went): stderr, so stdout holds the numbers."""
    print(text, file=sys.stderr, flush=True)


def _sweep(names: list[str], args: argparse.Namespace, overrides: dict | None = None) -> int:
    seeds = seeds_from_args(args)
    progress = not args.no_progress
    out: Path = args.out
    runs = []
    for name in names:
        cfg = config_from_args(name, args)
        if (overrides or {}).get(name):
            cfg = dataclasses.replace(cfg, **overrides[name])
        runs += get_experiment(name).plan(cfg, seeds)
    _say(f"{len(runs)} runs ({', '.join(names)}; seeds {seeds}) into {out}")
    for line in data_changes(out, runs):
        _say(line)
    t0 = time.perf_counter()
    res = run_sweep(runs, out, scheduler=args.scheduler, n_workers=args.workers, progress=progress)
    _say(
        f"{res.n_executed} executed, {res.n_skipped} already complete, {len(res.failed)} failed "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    for f in res.failed:
        _say(f"FAILED {f['run']}: {f['error']}")
    if not res.results:
        first = f": {res.failed[0]['error']}" if res.failed else ""
        _say(f"adskit: no run completed; nothing to report{first}")
        return 1
    _print_superseded(superseded([out], current=res.results), out)
    reported = collect_results([out], current=res.results)
    files = write_report(out, out_dir=out, failed=res.failed, results=reported)
    summary = json.loads(Path(files["json"]).read_text())
    for name in names:
        print(f"{name}: {spread_sentence(summary, name)}")
    for c in summary["comparisons"]:
        ci = "n/a" if c["ci_low"] is None else f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
        print(
            f"{c['experiment']} {c['machine']}/{c['model']} {c['metric']} {c['condition']}: {c['a']} - {c['b']} = "
            f"{c['mean_diff']:+.3f} {ci} over {c['n_seeds']} seed{'' if c['n_seeds'] == 1 else 's'}: {c['verdict']}",
            flush=True,
        )
    own = [files[k] for k in files if k.endswith("_json") and k != "json"]
    _say(f"wrote {files['json']} and {files['md']}" + (f" (also {', '.join(p.name for p in own)})" if own else ""))
    # last, where they are seen: what the runs warned about, then every file left out, with its reason
    for r in reported:
        for w in r.get("warnings", []) or []:
            _say(f"warning: {r.get('experiment')}/{r.get('key')}: {w}")
    for b in summary.get("bad_files", []):
        _say(f"warning: left out ({b.get('role')}): {b.get('path')}: {b.get('reason')}")
    return 1 if res.failed else 0


def _print_superseded(old: list[dict], where: Path) -> None:
    """Say which complete runs a report leaves out because a run of the same cell replaced them."""
    if old:
        names = ", ".join(sorted(r["key"] for r in old))
        _say(
            f"left out of the report: {len(old)} earlier run(s) of the same cells with other settings or data, "
            f"kept under {where}: {names}"
        )


def cmd_experiment(args: argparse.Namespace) -> int:
    """``adskit verify|sound|rare|np`` and ``adskit sweep EXPERIMENT`` (``np --toy``: the known-answer setting)."""
    if getattr(args, "toy", False):
        return _np_toy(args)
    return _sweep([args.experiment], args)


def _np_toy(args: argparse.Namespace) -> int:
    seeds = list(dict.fromkeys(int(s) for s in args.seeds)) if args.seeds else [0, 1, 2, 3, 4]
    names = ("n_steps", "hidden", "input_dropout", "hidden_dropout")
    detector = {n: (tuple(v) if isinstance(v, list) else v) for n in names if (v := getattr(args, n, None)) is not None}
    _say(f"known-answer setting, seeds {seeds}, detector {detector or 'TOY_DETECTOR'} into {args.out}")
    res = run_np_toy(seeds=seeds, detector=detector or None, out=args.out)
    print(toy_markdown(res))
    _say(f"wrote {args.out / 'np_toy.json'}")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Every experiment (or ``--only`` some) in one sweep, then ``report.md`` beside the summary."""
    only = args.only or list(EXPERIMENTS)
    unknown = sorted(set(only) - set(EXPERIMENTS))
    if unknown:
        print(f"adskit: --only: unknown step(s) {unknown}; known: {list(EXPERIMENTS)}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    changed = {} if args.full else REPRODUCE_QUICK
    rc = _sweep([n for n in EXPERIMENTS if n in only], args, changed)
    md = (args.out / "summary.md").read_text(encoding="utf-8") if (args.out / "summary.md").exists() else ""
    header = (
        "# adskit reproduction report\n\n"
        f"Mode {'full' if args.full else 'quick'}; seeds {seeds_from_args(args)}; device {args.device}; "
        f"{time.perf_counter() - t0:.0f} s wall. Made by `adskit reproduce`; every number is a mean over seeds with "
        "its 95 % interval, and every comparison a paired difference over seeds."
        + "".join(f" Changed from `adskit {n} --quick` to fit the time: {v}." for n, v in changed.items() if n in only)
        + "\n\n"
    )
    report = atomic_write_text(args.out / "report.md", header + md.split("\n", 1)[-1])
    _say(f"wrote {report}")
    return rc


def _device(text: str) -> str:
    """``--device``: refused before any run starts when this machine cannot use it."""
    try:
        resolve_device(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def cmd_report(args: argparse.Namespace) -> int:
    """``adskit report DIR [DIR ...]``: aggregate every complete run found under the folders."""
    missing = [str(f) for f in args.folders if not Path(f).is_dir()]
    if missing:
        raise FileNotFoundError(f"DIR: no such folder: {', '.join(missing)}")
    _print_superseded(superseded(args.folders), args.folders[0])
    files = write_report(args.folders, out_dir=args.out)
    print(Path(files["md"]).read_text(encoding="utf-8"))
    print(f"wrote {', '.join(str(p) for p in files.values())}")
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    """``adskit fit``: train on a folder of normal recordings, write a model directory."""
    overrides = {} if args.n_updates is None else {"n_updates": args.n_updates}
    out = fit_model(
        args.normal,
        args.out,
        something_else_dir=args.something_else,
        cost=args.cost,
        score=args.score,
        aggregate=args.aggregate,
        preset=args.preset,
        seed=args.seed,
        calibration_fraction=args.calibration_fraction,
        rho=args.rho,
        per_section=args.per_section,
        other_sections=args.other_sections,
        device=args.device,
        force=args.force,
        progress=not args.no_progress,
        detector_overrides=overrides,
    )
    for line in fit_summary(out):
        _say(line)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """``adskit score``: one CSV row per file (score, decision at rho, time of the maximum, error)."""
    report = score_files(
        args.model_dir,
        args.inputs,
        args.out,
        rho=args.rho,
        frames_dir=args.frames,
        dcase_dir=args.dcase_dir,
        dcase_name=args.dcase_name,
        device=args.device,
        progress=not args.no_progress,
    )
    _say(f"wrote {', '.join(str(p) for p in report.files.values())}")
    for w in report.warnings:
        _say(f"warning: {w}")
    _say(report.summary())
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``adskit evaluate``: the Markdown table to stdout, evaluate.json / .csv into --out, files left out last."""
    report = evaluate_model(
        args.model_dir,
        args.test_dir,
        args.out,
        labels=args.labels,
        rho=args.rho,
        max_fpr=args.max_fpr,
        device=args.device,
        progress=not args.no_progress,
    )
    print(report.markdown(), end="", flush=True)
    _say(f"wrote {', '.join(str(p) for p in report.written.values())}")
    for b in report.bad_files:
        _say(f"warning: left out ({b['role']}): {b['path']}: {b['reason']}")
    return 0


def _add_analyst_parsers(sub) -> None:
    """``adskit fit``, ``adskit score`` and ``adskit evaluate``."""
    p = sub.add_parser("fit", help="train a detector on a folder of normal recordings; write a model directory")
    p.add_argument(
        "--normal", type=Path, required=True, metavar="DIR", help="folder of normal recordings of one machine"
    )
    p.add_argument(
        "--something-else",
        type=Path,
        metavar="DIR",
        help="sounds that are not the machine, for SNP/BU (else generated)",
    )
    p.add_argument("--cost", choices=("re", "snp", "bu"), default="re", help="training cost (default re)")
    p.add_argument(
        "--score",
        choices=("mse", "mahalanobis"),
        default="mse",
        help="frame score: squared reconstruction error, or the residual Mahalanobis of DCASE 2023+ (default mse)",
    )
    p.add_argument(
        "--aggregate", choices=("max", "mean"), default="max", help="clip score: max or mean of frames (default max)"
    )
    p.add_argument(
        "--preset", default=DEFAULT_PRESET, help=f"AE preset: {', '.join(AE_PRESETS)} (default {DEFAULT_PRESET})"
    )
    p.add_argument("--seed", type=int, default=0, help="seeds the hold-out, the network and the batches (default 0)")
    p.add_argument("--calibration-fraction", type=float, default=0.25, help="share of clips held out for the threshold")
    p.add_argument("--rho", type=float, default=0.01, help="default false-alarm rate per file (default 0.01)")
    p.add_argument("--n-updates", type=int, help="training updates (default: the preset's schedule)")
    p.add_argument("--device", default="auto", type=_device, help="'auto' (CUDA when present), 'cpu' or 'cuda'")
    p.add_argument(
        "--per-section",
        action="store_true",
        help="one model per section/id in the file names (DCASE 2021+; default: one pooled model, DCASE 2020)",
    )
    p.add_argument(
        "--other-sections",
        action="store_true",
        help="with --per-section and --cost snp/bu: the other sections' normal clips are the something-else sounds",
    )
    p.add_argument("--force", action="store_true", help="replace a model already in --out")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument("--out", type=Path, required=True, metavar="MODEL_DIR", help="the model directory to write")
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser("score", help="score recordings with a model directory: one CSV row per file")
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR", help="a folder written by adskit fit")
    p.add_argument("inputs", type=Path, nargs="+", metavar="INPUT", help="audio files or folders (recursive)")
    p.add_argument("--rho", type=float, help="false-alarm rate per file (default: the model's)")
    p.add_argument("--out", type=Path, required=True, metavar="CSV", help="the scores CSV")
    p.add_argument(
        "--frames", type=Path, metavar="DIR", help="also write one CSV of frame scores per file into this folder"
    )
    p.add_argument("--dcase-dir", type=Path, metavar="DIR", help="also write the DCASE file pair into this folder")
    p.add_argument("--dcase-name", metavar="NAME", help="NAME in anomaly_score_NAME.csv / decision_result_NAME.csv")
    p.add_argument("--device", default="cpu", type=_device, help="'cpu' (default), 'auto' or 'cuda'")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("evaluate", help="labelled files: AUC / pAUC per machine and section, false alarms at rho")
    p.add_argument("model_dir", type=Path, metavar="MODEL_DIR", help="a folder written by adskit fit")
    p.add_argument("test_dir", type=Path, metavar="TEST_DIR", help="labelled audio files (DCASE names), recursive")
    p.add_argument("--labels", type=Path, metavar="CSV", help="a file,label CSV (overrides the names' labels)")
    p.add_argument("--rho", type=float, help="false-alarm rate of the thresholds (default: each model's)")
    p.add_argument("--max-fpr", type=float, default=0.1, help="upper FPR of the pAUC (default 0.1, as DCASE)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for evaluate.json / evaluate.csv")
    p.add_argument("--device", default="cpu", type=_device, help="'cpu' (default), 'auto' or 'cuda'")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_evaluate)


def _add_experiment_parsers(sub) -> None:
    """One sub-parser per experiment, with the shared arguments and the experiment's options."""
    for name in EXPERIMENTS:
        help_, quick, full = _HELP[name]
        p = sub.add_parser(name, help=help_)
        add_common_arguments(p, quick, full)
        _OPTIONS[name](p)
        p.set_defaults(func=cmd_experiment, experiment=name)


def build_parser() -> argparse.ArgumentParser:
    """The ``adskit`` argument parser."""
    ap = argparse.ArgumentParser(prog="adskit", description="Unsupervised anomalous sound detection kit.")
    ap.add_argument("--version", action="version", version=f"adskit {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("reproduce", help="every paper experiment over seeds, then report.md")
    add_common_arguments(p, "CPU minutes on the embedded synthetic data (default)", "the papers' settings (GPU)")
    p.add_argument("--only", nargs="+", help=f"run only these experiments (of {list(EXPERIMENTS)})")
    p.set_defaults(func=cmd_reproduce)

    _add_experiment_parsers(sub)  # adskit verify | sound | rare | np
    p = sub.add_parser("sweep", help="one experiment over seeds on Dask (a local cluster, or --scheduler ADDRESS)")
    _add_experiment_parsers(p.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT"))

    _add_analyst_parsers(sub)  # adskit fit | score | evaluate
    p = sub.add_parser("report", help="aggregate result folders over seeds (summary.json, summary.md, figures)")
    p.add_argument("folders", type=Path, nargs="+", help="folders searched for complete runs (run.json)")
    p.add_argument("--out", type=Path, help="where to write (default: the first folder)")
    p.set_defaults(func=cmd_report)
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``adskit`` console script; returns the exit code (2 on bad arguments).

    The commands only write figure files, so they draw with matplotlib's Agg whatever backend the session selects
    (``MPLBACKEND``, a matplotlibrc): a GUI backend without a display can never fail a finished run.
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():  # restored on return: a caller's own warning display is left as it was
        warnings.showwarning = _show_warning
        try:
            return int(args.func(args) or 0)
        except (ValueError, FileNotFoundError) as exc:
            print(f"adskit: error: {exc}", file=sys.stderr)
            return 2


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A warning as one line on standard error, ``warning: <Category>: <message>``: a command's user reads what
    happened, not the library's source line."""
    print(f"warning: {category.__name__}: {message}", file=sys.stderr if file is None else file)


if __name__ == "__main__":
    raise SystemExit(main())
