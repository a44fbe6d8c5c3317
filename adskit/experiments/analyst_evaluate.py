"""``adskit evaluate``: a model directory on labelled files -> the DCASE table and the false alarms of its thresholds.

:func:`evaluate_model` reads a folder of labelled files with the kit's one label reader
(:class:`adskit.audio.folders.FolderDataset`, :func:`adskit.audio.checks.labelled_clips`: DCASE names
``normal_*`` / ``anomaly_*``, ``section_XX_*`` or ``*_id_XX_*``, a ``normal`` / ``abnormal`` folder, or a
``file,label`` CSV), scores each file with the model of its section (:func:`adskit.experiments.analyst_score.
score_rows`, the loop of ``adskit score``) and reports:

* per machine type and section / id: AUC and pAUC (max FPR 0.1, McClish-standardised as DCASE reports it:
  :func:`adskit.metrics.auc`, :func:`adskit.metrics.pauc`) of the clip scores (max over frames, higher = more
  anomalous), with the arithmetic and harmonic means over the sections of each machine type (and over every
  section of every type when there are several types), as the DCASE Task 2 results give them;
* with DCASE 2021+ domains in the names (``*_source_*`` / ``*_target_*``, or ``source_test`` / ``target_test``
  folders): the AUC of each domain besides, computed as the DCASE 2022-2025 evaluators do (that domain's normal
  files against every anomalous file of the section; the pAUC stays over all files of the section), and their
  means;
* the frame scores compared: AUC and pAUC of every frame score the model directory holds ("mse" and the residual
  "mahalanobis") under both clip rules ("max", "mean"), per section and with the same means (the decisions and
  thresholds stay those of the model's own score);
* per stored threshold (one per model): the realised false-alarm rate of phi_rho (at the model's rho or the one
  asked) on the normal files it decided, with the exact (Clopper-Pearson) 95 % interval of that rate, beside
  the rate the calibration promises, k / (K + 1).

A file without a label, unreadable, too short, or of a section without a model is a row with its reason, never a
stop. Files written atomically into ``out_dir``: ``evaluate.json`` (everything), ``evaluate.csv`` (the table, one
row per section and mean), ``evaluate_scores.csv`` (the scores compared), ``evaluate_files.csv`` (one row per
file: label, score, decision, error).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scipy import stats

from .._utils import atomic_write_json, atomic_write_text
from ..audio.checks import bad_file, labelled_clips, other_audio
from ..audio.clips import parse_clip
from ..audio.folders import FolderDataset
from ..audio.io import no_audio_message
from ..metrics import auc, pauc
from .analyst_model import SCORES, AnalystModel
from .analyst_score import CHUNK_SECONDS, _csv_text, as_models, score_rows, thresholds

__all__ = ["DOMAINS", "FILES_HEADER", "SCORES_HEADER", "TABLE_HEADER", "EvaluationReport", "evaluate_model"]

#: columns of ``evaluate.csv`` (one row per machine type and section, then the means)
TABLE_HEADER = ("machine", "section", "n_normal", "n_anomalous", "auc", "auc_source", "auc_target", "pauc",
                "false_alarms", "fa_rate", "fa_ci_low", "fa_ci_high")  # fmt: skip
#: columns of ``evaluate_scores.csv`` (one row per frame score, clip rule, machine type and section or mean)
SCORES_HEADER = ("score", "machine", "section", "auc", "auc_source", "auc_target", "pauc")
#: columns of ``evaluate_files.csv`` (one row per file)
FILES_HEADER = ("path", "machine", "section", "domain", "model", "label", "score", "decision", "error")
#: the DCASE 2021+ domains
DOMAINS = ("source", "target")
#: the AUC / pAUC columns a mean row averages
_METRICS = ("auc", "auc_source", "auc_target", "pauc")
#: the confidence of the false-alarm intervals
CONFIDENCE = 0.95
MEANS = ("arithmetic mean", "harmonic mean")


def _interval(k: int, n: int) -> tuple[float | None, float | None]:
    """Exact (Clopper-Pearson) interval of a rate from k events in n trials; None, None without trials."""
    if n == 0:
        return None, None
    ci = stats.binomtest(k, n).proportion_ci(CONFIDENCE, method="exact")
    return float(ci.low), float(ci.high)


def _alarms(files: list[dict]) -> dict:
    """False alarms among the normal files that were scored: count, rate and its interval."""
    dec = [f["decision"] for f in files if f["label"] == 0 and f["decision"] is not None]
    k, n = int(sum(dec)), len(dec)
    lo, hi = _interval(k, n)
    return {"n_normal_scored": n, "false_alarms": k, "fa_rate": k / n if n else None, "fa_ci_low": lo, "fa_ci_high": hi}


def _metrics(files: list[dict], key: str, max_fpr: float) -> dict:
    """AUC and pAUC of one section's labelled files by the score ``key`` (None without both classes), and the
    AUC of each DCASE domain: that domain's normal files against every anomalous file of the section (the DCASE
    2022-2025 evaluators' rule), None when the names carry no domain."""
    ok = [f for f in files if f.get(key) is not None]
    y, s = [f["label"] for f in ok], [f[key] for f in ok]
    both = 0 < y.count(1) < len(y)
    row: dict[str, Any] = {"auc": auc(y, s) if both else None, "pauc": pauc(y, s, max_fpr=max_fpr) if both else None}
    for d in DOMAINS:
        mine = [f for f in ok if f["label"] == 1 or f["domain"] == d]
        yd = [f["label"] for f in mine]
        has = any(f["domain"] == d and f["label"] == 0 for f in mine) and 1 in yd
        row[f"auc_{d}"] = auc(yd, [f[key] for f in mine]) if has else None
    return row


def _section_row(machine: str, section: str, files: list[dict], max_fpr: float) -> dict:
    ok = [f for f in files if f["score"] is not None]
    y = [f["label"] for f in ok]
    row: dict[str, Any] = {"machine": machine, "section": section, "n_normal": y.count(0), "n_anomalous": y.count(1)}
    row.update(_metrics(files, "score", max_fpr))
    if row["auc"] is None:
        row["note"] = "needs normal and anomalous files with scores"
    return {**row, **_alarms(files)}


def _mean_rows(machine: str, rows: list[dict]) -> list[dict]:
    """DCASE's arithmetic and harmonic means of AUC and pAUC over the sections in ``rows`` (those with both)."""
    out = []
    for name, mean in zip(MEANS, (statistics.fmean, statistics.harmonic_mean), strict=True):
        row: dict[str, Any] = {"machine": machine, "section": name}
        for key in _METRICS:
            v = [r[key] for r in rows if r.get(key) is not None]
            row[key] = float(mean(v)) if v else None
        row["n_sections"] = sum(r["auc"] is not None for r in rows)
        out.append(row)
    return out


def _by_machine(files: list[dict], section_row: Callable[[str, str, list[dict]], dict]) -> list[dict]:
    """Per machine type: one row per section (``section_row(machine, section, files)``) and the two means; then
    the means over every section of every type when there are several types."""
    table = []
    machines = sorted({f["machine"] for f in files if f["label"] is not None})
    for machine in machines:
        mine = [f for f in files if f["machine"] == machine and f["label"] is not None]
        rows = [
            section_row(machine, s, [f for f in mine if f["section"] == s])
            for s in sorted({f["section"] for f in mine})
        ]
        table += rows + _mean_rows(machine, rows)
    if len(machines) > 1:
        table += _mean_rows("all", [r for r in table if r["section"] not in MEANS])
    return table


def _compared(files: list[dict], max_fpr: float) -> list[dict]:
    """The table's AUC / pAUC for every frame score and clip rule the rows' ``compare`` holds."""
    order = {f"{s}, {r}": (i, j) for i, s in enumerate(SCORES) for j, r in enumerate(("max", "mean"))}
    variants = sorted({k for f in files for k in (f.get("compare") or {})}, key=lambda v: order.get(v, (9, 9)))
    out = []
    for v in variants:
        flat = [{**f, "v": (f.get("compare") or {}).get(v)} for f in files]
        rows = _by_machine(flat, lambda m, sec, fs: {"machine": m, "section": sec, **_metrics(fs, "v", max_fpr)})
        out += [{"score": v, **r} for r in rows]
    return out


@dataclass
class EvaluationReport:
    """What :func:`evaluate_model` found.

    Attributes
    ----------
    table : list of dict
        Per machine type and section: ``machine``, ``section``, ``n_normal``, ``n_anomalous``, ``auc``, ``pauc``
        (None without both classes), ``auc_source`` / ``auc_target`` (DCASE 2021+ domains; None without), ``false_alarms``, ``fa_rate`` and its interval ``fa_ci_low`` /
        ``fa_ci_high`` on that section's normal files; then, per machine type (and ``"all"`` with several types),
        the rows ``"arithmetic mean"`` and ``"harmonic mean"`` (``auc``, ``pauc``, ``n_sections``).
    thresholds : list of dict
        Per stored threshold (model): ``model`` (section, None pooled), ``rho``, ``threshold``,
        ``n_calibration`` (K), ``expected_fpr`` (k / (K + 1)), the alarms on the normal files it decided
        (``n_normal_scored``, ``false_alarms``, ``fa_rate``, ``fa_ci_low``, ``fa_ci_high``) and
        ``expected_in_interval``.
    files : list of dict
        One per file: ``path``, ``machine``, ``section``, ``model``, ``label`` (0 / 1, None unknown), ``score``,
        ``decision``, ``error``.
    bad_files : list of dict
        ``{"path", "role", "reason"}`` of every file not scored (no label, unreadable, no model...).
    model : dict
        What the model directory is: ``folder``, ``training`` (pooled / per_section), ``cost``, ``preset``,
        ``score`` (mse / mahalanobis), ``aggregate`` (max / mean),
        ``something_else`` (the sources), ``sections``.
    max_fpr : float
    scores : list of dict
        The frame scores compared: per ``score`` ("mse, max", "mse, mean", "mahalanobis, max"...), machine type
        and section (then the means), ``auc``, ``auc_source``, ``auc_target`` and ``pauc``. Empty when not asked;
        a directory written before the residual covariance was always stored holds "mse" only.
    written : dict of str -> Path
    """

    table: list[dict]
    thresholds: list[dict]
    files: list[dict]
    bad_files: list[dict]
    model: dict
    max_fpr: float
    scores: list[dict] = field(default_factory=list)
    written: dict[str, Path] = field(default_factory=dict)

    def markdown(self) -> str:
        """The table, the frame scores compared and the thresholds' false alarms as Markdown (what
        ``adskit evaluate`` prints)."""
        m = self.model
        doms = any(r.get(f"auc_{d}") is not None for r in self.table for d in DOMAINS)
        dom_head = " AUC source | AUC target |" if doms else ""
        lines = [
            f"Model {m['folder']}: {m['training']} ({len(m['sections'])} model(s)), cost {m['cost']}, preset "
            f"{m['preset']}, score {m['score']}, clip rule {m['aggregate']}, something-else: {m['something_else']}. "
            f"pAUC: max FPR {self.max_fpr:g}, McClish."
            + (" Domain AUCs: that domain's normal files against every anomalous file of the section." if doms else ""),
            "",
            f"| machine | section | normal | anomalous | AUC |{dom_head} pAUC | false alarms (normal files) | 95 % interval |",
            "|---|---|---:|---:|---:|" + ("---:|---:|" if doms else "") + "---:|---:|---|",
        ]
        for r in self.table:
            dom = "".join(f" {_f(r.get(f'auc_{d}'))} |" for d in DOMAINS) if doms else ""
            if r["section"] in MEANS:
                n = f"{r['n_sections']} section{'s' if r['n_sections'] != 1 else ''}"
                dom = "".join(f" **{_f(r.get(f'auc_{d}'))}** |" for d in DOMAINS) if doms else ""
                lines.append(f"| {r['machine']} | **{r['section']}** ({n}) | | | **{_f(r['auc'])}** |{dom} "
                             f"**{_f(r['pauc'])}** | | |")  # fmt: skip
                continue
            fa = "-" if r["fa_rate"] is None else f"{r['false_alarms']}/{r['n_normal_scored']} = {r['fa_rate']:.3f}"
            ci = "-" if r["fa_ci_low"] is None else f"[{r['fa_ci_low']:.3f}, {r['fa_ci_high']:.3f}]"
            lines.append(f"| {r['machine']} | {r['section']} | {r['n_normal']} | {r['n_anomalous']} | {_f(r['auc'])} |"
                         f"{dom} {_f(r['pauc'])} | {fa} | {ci} |")  # fmt: skip
        lines += _scores_markdown(self.scores, m["score"], m["aggregate"])
        lines += [
            "",
            "| threshold of model | rho | K | promised rate k/(K+1) | false alarms | 95 % interval | promise in it |",
            "|---|---:|---:|---:|---:|---|---|",
        ]
        for t in self.thresholds:
            fa = "-" if t["fa_rate"] is None else f"{t['false_alarms']}/{t['n_normal_scored']} = {t['fa_rate']:.3f}"
            ci = "-" if t["fa_ci_low"] is None else f"[{t['fa_ci_low']:.3f}, {t['fa_ci_high']:.3f}]"
            within = {True: "yes", False: "**no**", None: "-"}[t["expected_in_interval"]]
            lines.append(f"| {t['model'] or 'pooled'} | {t['rho']:g} | {t['n_calibration']} | "
                         f"{t['expected_fpr']:.3f} | {fa} | {ci} | {within} |")  # fmt: skip
        if self.bad_files:
            lines += ["", f"{len(self.bad_files)} file(s) not evaluated:", ""]
            lines += [f"- {b['path']}: {b['reason']}" for b in self.bad_files]
        return "\n".join(lines) + "\n"


def _f(x: float | None, nd: int = 3) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _scores_markdown(scores: list[dict], own: str, rule: str) -> list[str]:
    """The frame scores compared, one column per score and clip rule, cells "AUC / pAUC"."""
    variants = list(dict.fromkeys(r["score"] for r in scores))
    if not variants:
        return []
    keys = list(dict.fromkeys((r["machine"], r["section"]) for r in scores))
    cell = {(r["score"], r["machine"], r["section"]): r for r in scores}
    mine = f"{own}, {rule}"
    head = " | ".join(f"**{v}** (decisions)" if v == mine else v for v in variants)
    lines = ["", f"Frame scores and clip rules compared (AUC / pAUC; the decisions use {mine}):", "",
             f"| machine | section | {head} |", "|---|---|" + "---:|" * len(variants)]  # fmt: skip
    for machine, section in keys:
        cells = []
        for v in variants:
            r = cell.get((v, machine, section))
            cells.append("-" if r is None else f"{_f(r['auc'])} / {_f(r['pauc'])}")
        sec = f"**{section}**" if section in MEANS else section
        lines.append(f"| {machine} | {sec} | " + " | ".join(cells) + " |")
    if len(variants) < 4:
        lines += ["", "(This model directory holds no residual covariance: refit it with this adskit to compare "
                      "the Mahalanobis score.)"]  # fmt: skip
    return lines


def _csv(rows: list[dict], header: tuple[str, ...]) -> str:
    cell = lambda x: "" if x is None else f"{x:.9g}" if isinstance(x, float) else x  # noqa: E731
    return _csv_text([[cell(r.get(k)) for k in header] for r in rows], header)


def _describe(models: Mapping[str | None, AnalystModel]) -> dict:
    first = next(iter(models.values()))
    sources = sorted({str(m.entry["data"]["something_else"].get("source")) for m in models.values()})
    return {
        "folder": str(first.folder),
        "training": first.info.get("training", "pooled" if None in models else "per_section"),
        "cost": first.entry["cost"],
        "preset": first.entry["preset"],
        "score": first.score,
        "aggregate": first.aggregate,
        "something_else": ", ".join(sources),
        "sections": [s for s in models],
    }


def evaluate_model(
    model: AnalystModel | Mapping[str | None, AnalystModel] | str | os.PathLike,
    test_dir: str | os.PathLike,
    out_dir: str | os.PathLike | None = None,
    *,
    labels: str | os.PathLike | None = None,
    rho: float | None = None,
    max_fpr: float = 0.1,
    compare_scores: bool = True,
    chunk_seconds: float | None = CHUNK_SECONDS,
    device: str = "cpu",
    progress: bool = True,
) -> EvaluationReport:
    """Score labelled files with a model directory and report AUC, pAUC and the thresholds' false alarms.

    Parameters
    ----------
    model : AnalystModel, mapping of section -> AnalystModel, str or os.PathLike
        A model directory of ``adskit fit`` (pooled or per section), or its models loaded.
    test_dir : str or os.PathLike
        Labelled files (recursive): DCASE names (``normal_id_00_*.wav``, ``section_00_*_anomaly_*.wav``),
        ``normal`` / ``abnormal`` folders, or ``labels``.
    out_dir : str, os.PathLike or None
        Where ``evaluate.json``, ``evaluate.csv`` and ``evaluate_files.csv`` are written (atomically); None:
        nothing is written.
    labels : str, os.PathLike or None
        A ``file,label`` CSV (:class:`adskit.audio.folders.FolderDataset`): its labels override the names'.
    rho : float in (0, 1) or None
        The false-alarm rate of the thresholds; None: each model's default.
    max_fpr : float in (0, 1]
        The pAUC's upper false-positive rate (DCASE: 0.1).
    compare_scores : bool
        Also report every frame score the directory holds under both clip rules (:attr:`EvaluationReport.scores`;
        a second pass over each file for the score that is not the model's own).
    chunk_seconds, device, progress
        As :func:`adskit.experiments.analyst_score.score_files`.

    Returns
    -------
    EvaluationReport

    Raises
    ------
    FileNotFoundError
        ``test_dir`` is not a folder, the labels CSV or the model directory is missing.
    ValueError
        No audio in ``test_dir``, no labelled file among its readable ones, a malformed labels CSV, ``rho`` or
        ``max_fpr`` out of range, a bad model.
    """
    if not 0.0 < float(max_fpr) <= 1.0:
        raise ValueError(f"max_fpr: expected a rate in (0, 1], got {max_fpr!r}")
    models = as_models(model, device)
    thr = thresholds(models, rho)
    test_dir = Path(test_dir)
    ds = FolderDataset(test_dir, labels=labels)
    bad: list[dict] = []
    other_audio(test_dir, "test", bad)
    if not ds.clips and not bad:
        raise ValueError(no_audio_message(test_dir, "test_dir"))
    clip_of = {c.path: c for c in ds.clips}
    labelled = dict(labelled_clips(ds.clips, "test", bad))
    if ds.clips and not labelled:
        raise ValueError(
            f"test_dir: none of the {len(ds.clips)} audio file(s) under {test_dir} has a label: evaluate needs "
            "DCASE names (normal_*, anomaly_*) or a labels CSV (--labels); to score unlabelled recordings, use "
            "adskit score"
        )
    rows = score_rows(models, {p: "" for p in labelled}, rho, compare=compare_scores, chunk_seconds=chunk_seconds,
                      progress=progress)  # fmt: skip
    files = []
    for r in rows:
        p = Path(r["path"])
        c = clip_of[p]
        named = parse_clip(p)
        machine = c.machine or named.machine or "-"
        domain = c.extra.get("domain") or named.extra.get("domain") or "-"
        files.append({"path": str(p), "machine": machine, "section": c.section or "-", "domain": domain,
                      "model": r["section"], "label": labelled[p], "score": r["score"], "decision": r["decision"],
                      "error": r["error"], "compare": r.get("compare")})  # fmt: skip
        if r["error"]:
            bad.append(bad_file(p, "test", r["error"]))
    unscored = {b["path"] for b in bad} - {f["path"] for f in files}
    files += [{"path": b["path"], "machine": "-", "section": "-", "domain": "-", "model": None, "label": None,
               "score": None, "decision": None, "error": b["reason"], "compare": None}
              for b in bad if b["path"] in unscored]  # fmt: skip
    table = _by_machine(files, lambda m, sec, fs: _section_row(m, sec, fs, max_fpr))
    compared = _compared(files, max_fpr)
    for f in files:
        f.pop("compare")
    per_threshold = []
    for sec, t in thr.items():
        a = _alarms([f for f in files if f["model"] == sec and not f["error"]])
        inside = None if a["fa_ci_low"] is None else a["fa_ci_low"] <= t["expected_fpr"] <= a["fa_ci_high"]
        per_threshold.append({"model": sec, **t, **a, "expected_in_interval": inside})
    report = EvaluationReport(table, per_threshold, files, bad, _describe(models), float(max_fpr), compared)
    if out_dir is not None:
        out_dir = Path(out_dir)
        report.written["json"] = atomic_write_json(
            out_dir / "evaluate.json",
            {"model": report.model, "test_dir": str(test_dir), "labels": None if labels is None else str(labels),
             "max_fpr": report.max_fpr, "confidence": CONFIDENCE, "table": table, "scores": compared,
             "thresholds": per_threshold, "files": files, "bad_files": bad},
        )  # fmt: skip
        report.written["csv"] = atomic_write_text(out_dir / "evaluate.csv", _csv(table, TABLE_HEADER))
        report.written["scores_csv"] = atomic_write_text(out_dir / "evaluate_scores.csv", _csv(compared, SCORES_HEADER))
        report.written["files_csv"] = atomic_write_text(out_dir / "evaluate_files.csv", _csv(files, FILES_HEADER))
    return report
