"""Aggregate run folders over seeds: every cell with a 95 % interval, every paper comparison paired by seed.

Intervals are Student-t intervals (:func:`scipy.stats.t.interval`, ``n - 1`` degrees of freedom) of the mean over
seeds: for a cell, of the metric; for a comparison, of the paired difference ``a - b`` over the seeds both ran.
With one seed there is no interval (``None``). A comparison's verdict is "reproduced" when its interval excludes 0
in the paper's direction, "reversed" when it excludes 0 the other way, otherwise "no difference detected".

``summary.json``::

    {"cells": [{"experiment", "machine", "model", "cost", "condition", "metric", "mean", "ci_low", "ci_high",
                "n_seeds", "seeds", "values"}],
     "comparisons": [{"experiment", "machine", "model", "condition", "metric", "a", "b", "mean_diff", "ci_low",
                      "ci_high", "n_seeds", "verdict", "direction"}],
     "failed": [...], "runs": n, "seeds": [...], "interval": "..."}
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy import stats

from .._utils import atomic_write_json, atomic_write_text, save_figure
from ..plots import plot_cells, plot_comparisons
from .outputs import bad_files_of, publish_models, write_command_files
from .runs import get_experiment, load_run

__all__ = [
    "INTERVAL",
    "collect_results",
    "compare",
    "mean_interval",
    "spread_sentence",
    "summarize",
    "superseded",
    "summary_markdown",
    "verdict",
    "write_report",
]

INTERVAL = (
    "95 % Student-t interval over seeds (scipy.stats.t.interval, n - 1 degrees of freedom; for a rate, AUC, "
    "ESS fraction or share of vectors, clipped to [0, 1], and its paired differences to [-1, 1])"
)
#: metrics that live in [0, 1] (rates, AUCs, F1, ESS fractions, the rare vectors' share; not the rare weight
#: share, a ratio to that share): a t interval knows no bounds, so theirs
#: is clipped to the range (clipping never moves 0 in or out of a difference's interval, so verdicts are unchanged)
UNIT_METRICS = re.compile(r"^(.*auc.*|fire_.*|f1_.*|tpr.*|fpr.*|fa_.*|.*ess.*|.*vector_share)$")
VERDICTS = ("reproduced", "reversed", "no difference detected")
_CELL_KEYS = ("experiment", "machine", "model", "cost", "condition", "metric")


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float | None, float | None]:
    """Mean and Student-t ``confidence`` interval of the mean of ``values``.

    Returns ``(mean, low, high)``; ``low`` and ``high`` are None with fewer than two values. When all values are
    equal the interval is the point itself.

    Raises
    ------
    ValueError
        If ``values`` is empty or not finite.
    """
    v = np.asarray(values, dtype=float)
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise ValueError(f"values: expected finite numbers, got {values!r}")
    m = float(v.mean())
    if v.size < 2:
        return m, None, None
    sem = float(stats.sem(v))
    if sem == 0.0:
        return m, m, m
    lo, hi = stats.t.interval(confidence, v.size - 1, loc=m, scale=sem)
    return m, float(lo), float(hi)


def verdict(ci_low: float | None, ci_high: float | None, direction: int) -> str:
    """ "reproduced" / "reversed" / "no difference detected" for a difference ``a - b`` whose paper direction
    is ``direction`` (+1: the paper says a > b; -1: a < b)."""
    if ci_low is None or ci_high is None:
        return "no difference detected"
    lo, hi = (ci_low, ci_high) if direction > 0 else (-ci_high, -ci_low)
    if lo > 0:
        return "reproduced"
    if hi < 0:
        return "reversed"
    return "no difference detected"


def collect_results(folders: Iterable[str | os.PathLike], current: Sequence[dict] = ()) -> list[dict]:
    """Every complete run result (``run.json``) under the given folders, searched recursively, one per cell.

    Runs with different keys that record numbers for the same cells (experiment, machine, model, cost, condition,
    metric, seed) were made with other settings or other data (e.g. a data folder whose files changed since);
    only one of them is kept: the one among ``current`` (the runs a command just planned), else the
    one finished last. :func:`superseded` lists the others. Each result keeps its folder, nothing is deleted.

    Parameters
    ----------
    folders : iterable of path
    current : sequence of dict, optional
        Results that win their cell (a sweep's ``results``).

    Returns
    -------
    list of dict
        In folder order.
    """
    found = _all_results(folders)
    return [r for r in found if r.get("key") not in _losers(found, current)]


def superseded(folders: Iterable[str | os.PathLike], current: Sequence[dict] = ()) -> list[dict]:
    """The complete runs under ``folders`` that :func:`collect_results` leaves out (same cell, other key)."""
    found = _all_results(folders)
    losers = _losers(found, current)
    return [r for r in found if r.get("key") in losers]


def _all_results(folders: Iterable[str | os.PathLike]) -> list[dict]:
    out, seen = [], set()
    for folder in folders:
        for p in sorted(Path(folder).rglob("run.json")):
            if any(part.endswith(".partial") for part in p.parts):
                continue
            res = load_run(p.parent)
            if res is not None and res.get("key") not in seen:
                seen.add(res.get("key"))
                out.append(res)
    return out


def _losers(results: Sequence[dict], current: Sequence[dict]) -> set:
    """Keys of the results that another result of the same cells supersedes.

    Two runs compete when they record a number for the same (experiment, machine, model, cost, condition,
    metric, seed): the report could hold only one of them. Runs of one experiment that differ in a setting the
    labels do not show (e.g. the rarity of ``adskit rare``, which is in the condition) do not compete.
    """
    now = {r.get("key") for r in current}

    def cells(r: dict) -> set:
        return {json.dumps([rec.get(k) for k in (*_CELL_KEYS, "seed")], default=str) for rec in r.get("records", [])}

    def rank(r: dict) -> tuple[bool, str]:  # a current run first, then the one finished last (ISO time)
        return r.get("key") in now, str(r.get("finished", ""))

    claimed: set = set()
    losers: set = set()
    for r in sorted(results, key=rank, reverse=True):
        mine = cells(r)
        if mine & claimed:
            losers.add(r.get("key"))
        else:
            claimed |= mine
    return losers


def _records(results: Iterable[dict]) -> list[dict]:
    recs = []
    for r in results:
        for rec in r.get("records", []):
            if rec.get("value") is not None and np.isfinite(rec["value"]):
                recs.append(rec)
    return recs


def summarize(results: Sequence[dict], confidence: float = 0.95) -> dict:
    """Cells (mean and interval over seeds) and the paper's comparisons (paired over seeds) of run results.

    Parameters
    ----------
    results : sequence of dict
        Run results (from :func:`collect_results` or a sweep).
    confidence : float
        Interval level (default 0.95).

    Returns
    -------
    dict
        ``{"cells": [...], "comparisons": [...], "seeds": [...], "runs": n, "interval": str}`` (see the module
        docstring).
    """
    recs = _records(results)
    groups: dict[tuple, dict[int, float]] = defaultdict(dict)
    for rec in recs:
        groups[tuple(str(rec[k]) for k in _CELL_KEYS)][int(rec["seed"])] = float(rec["value"])
    cells = []
    for key, by_seed in sorted(groups.items()):
        seeds = sorted(by_seed)
        vals = [by_seed[s] for s in seeds]
        m, lo, hi = _clipped(mean_interval(vals, confidence), key[-1], 0.0)
        cells.append(
            {
                **dict(zip(_CELL_KEYS, key, strict=True)),
                "mean": m,
                "ci_low": lo,
                "ci_high": hi,
                "n_seeds": len(seeds),
                "seeds": seeds,
                "values": vals,
            }
        )
    comparisons = []
    experiments = sorted({k[0] for k in groups})
    for name in experiments:
        try:
            exp = get_experiment(name)
        except ValueError:
            continue
        for comp in exp.comparisons:
            comparisons += compare(groups, name, comp.a, comp.b, comp.metrics, confidence)
    all_seeds = sorted({int(r["seed"]) for r in recs})
    return {
        "cells": cells,
        "comparisons": comparisons,
        "seeds": all_seeds,
        "runs": len(results),
        "interval": INTERVAL.replace("95 %", f"{confidence:.0%}".replace("%", " %")),
    }


def _clipped(mih: tuple, metric: str, low: float) -> tuple[float, float | None, float | None]:
    """``(mean, lo, hi)`` with the interval clipped to ``[low, 1]`` when ``metric`` is in :data:`UNIT_METRICS`."""
    m, lo, hi = mih
    if lo is None or not UNIT_METRICS.match(metric):
        return m, lo, hi
    return m, max(lo, low), min(hi, 1.0)


def compare(groups: dict, experiment: str, a: str, b: str, metrics: dict, confidence: float = 0.95) -> list[dict]:
    """Paired differences ``a - b`` over the seeds both ran, per (machine, model, condition, metric)."""
    out = []
    for key, by_seed_a in groups.items():
        exp, machine, model, cost, condition, metric = key
        if exp != experiment or cost != a or metric not in metrics:
            continue
        by_seed_b = groups.get((exp, machine, model, b, condition, metric))
        if not by_seed_b:
            continue
        seeds = sorted(set(by_seed_a) & set(by_seed_b))
        if not seeds:
            continue
        diffs = [by_seed_a[s] - by_seed_b[s] for s in seeds]
        m, lo, hi = _clipped(mean_interval(diffs, confidence), metric, -1.0)
        direction = int(metrics[metric])
        out.append(
            {
                "experiment": exp,
                "machine": machine,
                "model": model,
                "condition": condition,
                "metric": metric,
                "a": a,
                "b": b,
                "mean_diff": m,
                "ci_low": lo,
                "ci_high": hi,
                "n_seeds": len(seeds),
                "verdict": verdict(lo, hi, direction),
                "direction": "a > b" if direction > 0 else "a < b",
            }
        )
    return sorted(out, key=lambda c: (c["machine"], c["model"], c["metric"], c["a"], c["b"], c["condition"]))


def _fmt_ci(lo: float | None, hi: float | None) -> str:
    return "n/a (1 seed)" if lo is None else f"[{lo:.3f}, {hi:.3f}]"


def spread_sentence(summary: dict, experiment: str | None = None) -> str:
    """One sentence on how much the cells varied across seeds (largest interval half-width and seed range)."""
    cells = [c for c in summary["cells"] if experiment in (None, c["experiment"]) and c["n_seeds"] > 1]
    if not cells:
        return "One seed per cell: no statement about the spread across seeds is possible."
    half = max(cells, key=lambda c: c["ci_high"] - c["ci_low"])
    rng = max(cells, key=lambda c: max(c["values"]) - min(c["values"]))
    n = sorted({c["n_seeds"] for c in cells})
    return (
        f"Across {'/'.join(map(str, n))} seeds the widest 95 % interval is ±{(half['ci_high'] - half['ci_low']) / 2:.3f} "
        f"({half['metric']}, {half['model']} {half['cost']} {half['condition']}), and the largest range between "
        f"seeds is {max(rng['values']) - min(rng['values']):.3f} ({rng['metric']}, {rng['model']} {rng['cost']} "
        f"{rng['condition']})."
    )


def summary_markdown(summary: dict, failed: Sequence[dict] = (), figures: dict | None = None) -> str:
    """Markdown tables: cells per experiment and metric, then the comparisons with their verdicts."""
    lines = ["# Results over seeds\n", f"Seeds {summary['seeds']}; {summary['runs']} runs; {summary['interval']}.\n"]
    by_exp: dict[str, list[dict]] = defaultdict(list)
    for c in summary["cells"]:
        by_exp[c["experiment"]].append(c)
    for exp, cells in by_exp.items():
        lines.append(f"## {exp}\n")
        lines.append(spread_sentence(summary, exp) + "\n")
        metrics = list(dict.fromkeys(c["metric"] for c in cells))
        for metric in metrics:
            rows = [c for c in cells if c["metric"] == metric]
            conds = list(dict.fromkeys(c["condition"] for c in rows))
            lines.append(f"### {metric}: mean [95 % interval] over seeds\n")
            lines.append("| machine | model | cost | " + " | ".join(conds) + " | seeds |")
            lines.append("|---|---|---|" + "---|" * (len(conds) + 1))
            seen = list(dict.fromkeys((c["machine"], c["model"], c["cost"]) for c in rows))
            for mach, model, cost in seen:
                vals = []
                ns = set()
                for cond in conds:
                    c = next(
                        (
                            x
                            for x in rows
                            if (x["machine"], x["model"], x["cost"], x["condition"]) == (mach, model, cost, cond)
                        ),
                        None,
                    )
                    if c is None:
                        vals.append("")
                        continue
                    ns.add(c["n_seeds"])
                    vals.append(f"{c['mean']:.3f} {_fmt_ci(c['ci_low'], c['ci_high'])}")
                lines.append(
                    f"| {mach} | {model} | {cost} | " + " | ".join(vals) + f" | {'/'.join(map(str, sorted(ns)))} |"
                )
            lines.append("")
        comps = [c for c in summary["comparisons"] if c["experiment"] == exp]
        if comps:
            lines.append(f"### {exp}: the paper's comparisons, paired over seeds\n")
            lines.append(
                "| machine | model | metric | condition | a vs b (paper: a better) | mean a - b | 95 % interval | seeds | verdict |"
            )
            lines.append("|---|---|---|---|---|---|---|---|---|")
            for c in comps:
                lines.append(
                    f"| {c['machine']} | {c['model']} | {c['metric']} | {c['condition']} | {c['a']} vs {c['b']} "
                    f"({c['direction']}) | {c['mean_diff']:+.3f} | {_fmt_ci(c['ci_low'], c['ci_high'])} | "
                    f"{c['n_seeds']} | {c['verdict']} |"
                )
            counts = {v: sum(c["verdict"] == v for c in comps) for v in VERDICTS}
            lines.append("\n" + ", ".join(f"{n} {v}" for v, n in counts.items()) + f" (of {len(comps)}).\n")
    bad = summary.get("bad_files") or []
    if bad:
        lines.append("## Files left out (unreadable or unusable)\n")
        lines += [f"- `{b.get('path')}` ({b.get('role')}): {b.get('reason')}" for b in bad]
        lines.append("")
    if failed:
        lines.append("## Failed runs\n")
        lines += [f"- `{f['run']}`: {f['error']}" for f in failed]
        lines.append("")
    for name, path in (figures or {}).items():
        lines.append(f"![{name}]({Path(path).name})\n")
    return "\n".join(lines)


def write_report(
    folders: Sequence[str | os.PathLike] | str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    failed: Sequence[dict] = (),
    results: Sequence[dict] | None = None,
) -> dict[str, Path]:
    """Aggregate the run folders under ``folders`` and write ``summary.json``, ``summary.md`` and PNG figures.

    Also, through :mod:`adskit.experiments.outputs`: ``<experiment>.json`` / ``.md`` per experiment (unless the
    experiment writes its own, like ``rare.json``) and ``models/``, the checkpoints of the reported runs.

    Parameters
    ----------
    folders : path or sequence of paths
        Searched recursively for complete runs (``run.json``).
    out_dir : path, optional
        Where to write (default: the first folder).
    failed : sequence of dict
        Failed runs to list (from a sweep).
    results : sequence of dict, optional
        Run results already in memory (skips the search).

    Returns
    -------
    dict of name -> Path

    Raises
    ------
    FileNotFoundError
        If no complete run is found.
    """
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    out = Path(out_dir if out_dir is not None else folders[0])
    out.mkdir(parents=True, exist_ok=True)
    results = list(results) if results is not None else collect_results(folders)
    if not results:
        raise FileNotFoundError(f"folders: no complete run (run.json) under {[str(f) for f in folders]}")
    summary = summarize(results)
    summary["failed"] = list(failed)
    summary["bad_files"] = bad_files_of(results)
    files: dict[str, Path] = {}
    files["json"] = atomic_write_json(out / "summary.json", summary)
    figs: dict[str, Path] = {}
    for exp in sorted({c["experiment"] for c in summary["cells"]}):
        e = get_experiment(exp)
        mine = [r for r in results if r.get("experiment") == exp]
        if e.report is not None:  # the experiment's own numbers first (it writes its JSON before its figures)
            made = _guarded(exp, "report", e.report, summary, mine, out) or {}
            figs.update({k: p for k, p in made.items() if Path(p).suffix == ".png"})
            files.update({k: p for k, p in made.items() if Path(p).suffix != ".png"})
        figs.update(_guarded(exp, "figures", _cell_figures, summary, exp, out) or {})
        if e.figures is not None:
            figs.update(_guarded(exp, "figures", e.figures, mine, out) or {})
    files.update(figs)
    files["md"] = atomic_write_text(out / "summary.md", summary_markdown(summary, failed, figs))
    models = publish_models(results, out)
    own = [e for e in {r.get("experiment") for r in results} if e and get_experiment(e).report is not None]
    files.update(
        write_command_files(summary, results, failed, out, models, skip=own, markdown=summary_markdown, figures=figs)
    )
    return files


def _guarded(exp: str, what: str, make, *args):
    """``make(*args)``, or None when it raises: a figure (or an experiment's extra file) never loses the numbers, which
    are written before and after it; the failure is said."""
    try:
        return make(*args)
    except Exception as exc:
        print(f"adskit report: {what} for {exp} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return None


def _cell_figures(summary: dict, exp: str, out: Path) -> dict[str, Path]:
    """Every cell of ``exp`` with its interval, and its paired comparisons (when it has any)."""
    figs = {}
    fig = plot_cells(summary["cells"], exp)
    figs[f"{exp}_cells"] = save_figure(fig, out / f"{exp}_cells.png", dpi=100)
    plt.close(fig)
    comps = [c for c in summary["comparisons"] if c["experiment"] == exp]
    if comps:
        fig = plot_comparisons(comps, title=f"{exp}: paired differences a - b over seeds")
        figs[f"{exp}_comparisons"] = save_figure(fig, out / f"{exp}_comparisons.png", dpi=100)
        plt.close(fig)
    return figs
