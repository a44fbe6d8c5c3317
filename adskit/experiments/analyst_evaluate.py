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
* per stored threshold (one per model): the realised false-alarm rate of phi_rho (at the model's rho or the one
  asked) on the normal files it decided, with the exact (Clopper-Pearson) 95 % interval of that rate, beside
  the rate the calibration promises, k / (K + 1).

A file without a label, unreadable, too short, or of a section without a model is a row with its reason, never a
stop. Files written atomically into ``out_dir``: ``evaluate.json`` (everything), ``evaluate.csv`` (the table, one
row per section and mean), ``evaluate_files.csv`` (one row per file: label, score, decision, error).
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping
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
from .analyst_model import AnalystModel
from .analyst_score import CHUNK_SECONDS, _csv_text, as_models, score_rows, thresholds

__all__ = ["FILES_HEADER", "TABLE_HEADER", "EvaluationReport", "evaluate_model"]

#: columns of ``evaluate.csv`` (one row per machine type and section, then the means)
TABLE_HEADER = ("machine", "section", "n_normal", "n_anomalous", "auc", "pauc", "false_alarms", "fa_rate",
                "fa_ci_low", "fa_ci_high")  # fmt: skip
#: columns of ``evaluate_files.csv`` (one row per file)
FILES_HEADER = ("path", "machine", "section", "model", "label", "score", "decision", "error")
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


def _section_row(machine: str, section: str, files: list[dict], max_fpr: float) -> dict:
    ok = [f for f in files if f["score"] is not None]
    y = [f["label"] for f in ok]
    s = [f["score"] for f in ok]
    row: dict[str, Any] = {"machine": machine, "section": section, "n_normal": y.count(0), "n_anomalous": y.count(1)}
    both = 0 < y.count(1) < len(y)
    row["auc"] = auc(y, s) if both else None
    row["pauc"] = pauc(y, s, max_fpr=max_fpr) if both else None
    if not both:
        row["note"] = "needs normal and anomalous files with scores"
    return {**row, **_alarms(files)}


def _mean_rows(machine: str, rows: list[dict]) -> list[dict]:
    """DCASE's arithmetic and harmonic means of AUC and pAUC over the sections in ``rows`` (those with both)."""
    out = []
    for name, mean in zip(MEANS, (statistics.fmean, statistics.harmonic_mean), strict=True):
        row: dict[str, Any] = {"machine": machine, "section": name}
        for key in ("auc", "pauc"):
            v = [r[key] for r in rows if r[key] is not None]
            row[key] = float(mean(v)) if v else None
        row["n_sections"] = sum(r["auc"] is not None for r in rows)
        out.append(row)
    return out


@dataclass
class EvaluationReport:
    """What :func:`evaluate_model` found.

    Attributes
    ----------
    table : list of dict
        Per machine type and section: ``machine``, ``section``, ``n_normal``, ``n_anomalous``, ``auc``, ``pauc``
        (None without both classes), ``false_alarms``, ``fa_rate`` and its interval ``fa_ci_low`` /
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
    written : dict of str -> Path
    """

    table: list[dict]
    thresholds: list[dict]
    files: list[dict]
    bad_files: list[dict]
    model: dict
    max_fpr: float
    written: dict[str, Path] = field(default_factory=dict)

    def markdown(self) -> str:
        """The table and the thresholds' false alarms as Markdown (what ``adskit evaluate`` prints)."""

        def f(x: float | None, nd: int = 3) -> str:
            return "-" if x is None else f"{x:.{nd}f}"

        m = self.model
        lines = [
            f"Model {m['folder']}: {m['training']} ({len(m['sections'])} model(s)), cost {m['cost']}, preset "
            f"{m['preset']}, score {m['score']}, clip rule {m['aggregate']}, something-else: {m['something_else']}. "
            f"pAUC: max FPR {self.max_fpr:g}, McClish.",
            "",
            "| machine | section | normal | anomalous | AUC | pAUC | false alarms (normal files) | 95 % interval |",
            "|---|---|---:|---:|---:|---:|---:|---|",
        ]
        for r in self.table:
            if r["section"] in MEANS:
                n = f"{r['n_sections']} section{'s' if r['n_sections'] != 1 else ''}"
                lines.append(f"| {r['machine']} | **{r['section']}** ({n}) | | | "
                             f"**{f(r['auc'])}** | **{f(r['pauc'])}** | | |")  # fmt: skip
                continue
            fa = "-" if r["fa_rate"] is None else f"{r['false_alarms']}/{r['n_normal_scored']} = {r['fa_rate']:.3f}"
            ci = "-" if r["fa_ci_low"] is None else f"[{r['fa_ci_low']:.3f}, {r['fa_ci_high']:.3f}]"
            lines.append(f"| {r['machine']} | {r['section']} | {r['n_normal']} | {r['n_anomalous']} | {f(r['auc'])} | "
                         f"{f(r['pauc'])} | {fa} | {ci} |")  # fmt: skip
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
        No audio in ``test_dir``, a malformed labels CSV, ``rho`` or ``max_fpr`` out of range, a bad model.
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
    rows = score_rows(models, {p: "" for p in labelled}, rho, chunk_seconds=chunk_seconds, progress=progress)
    files = []
    for r in rows:
        p = Path(r["path"])
        c = clip_of[p]
        machine = c.machine or parse_clip(p).machine or "-"
        files.append({"path": str(p), "machine": machine, "section": c.section or "-", "model": r["section"],
                      "label": labelled[p], "score": r["score"], "decision": r["decision"], "error": r["error"]})  # fmt: skip
        if r["error"]:
            bad.append(bad_file(p, "test", r["error"]))
    unscored = {b["path"] for b in bad} - {f["path"] for f in files}
    files += [{"path": b["path"], "machine": "-", "section": "-", "model": None, "label": None, "score": None,
               "decision": None, "error": b["reason"]} for b in bad if b["path"] in unscored]  # fmt: skip
    table = []
    machines = sorted({f["machine"] for f in files if f["label"] is not None})
    for machine in machines:
        mine = [f for f in files if f["machine"] == machine and f["label"] is not None]
        sec_rows = [_section_row(machine, s, [f for f in mine if f["section"] == s], max_fpr)
                    for s in sorted({f["section"] for f in mine})]  # fmt: skip
        table += sec_rows + _mean_rows(machine, sec_rows)
    if len(machines) > 1:
        table += _mean_rows("all", [r for r in table if r["section"] not in MEANS])
    per_threshold = []
    for sec, t in thr.items():
        a = _alarms([f for f in files if f["model"] == sec and not f["error"]])
        inside = None if a["fa_ci_low"] is None else a["fa_ci_low"] <= t["expected_fpr"] <= a["fa_ci_high"]
        per_threshold.append({"model": sec, **t, **a, "expected_in_interval": inside})
    report = EvaluationReport(table, per_threshold, files, bad, _describe(models), float(max_fpr))
    if out_dir is not None:
        out_dir = Path(out_dir)
        report.written["json"] = atomic_write_json(
            out_dir / "evaluate.json",
            {"model": report.model, "test_dir": str(test_dir), "labels": None if labels is None else str(labels),
             "max_fpr": report.max_fpr, "confidence": CONFIDENCE, "table": table, "thresholds": per_threshold,
             "files": files, "bad_files": bad},
        )  # fmt: skip
        report.written["csv"] = atomic_write_text(out_dir / "evaluate.csv", _csv(table, TABLE_HEADER))
        report.written["files_csv"] = atomic_write_text(out_dir / "evaluate_files.csv", _csv(files, FILES_HEADER))
    return report
