"""What one command leaves at the top of its ``--out`` folder, beside ``summary.json``.

* ``<experiment>.json`` and ``<experiment>.md`` for each experiment in the report (``sound.json``, ``np.json``,
  ``verify.json``; the rare-normal experiment writes its own ``rare.json``): that experiment's cells and
  comparisons, the data each run read (``data``: per machine, the clip counts), the files it left out
  (``bad_files``), its failed runs, the warnings its runs recorded (``warnings``, e.g. a collapsed training) and
  its published models.
* ``models/``: the checkpoints of the runs in the report, one file per run, named by the run's key
  (``<machine>-<model>-<cost>-seed<s>-<hash>.pt``, the hash covering settings and data). The folder is replaced
  as a whole, so it never mixes models of a superseded run (other data or settings) with the current ones; the
  superseded runs keep theirs under ``runs/``. Files are hard links to the run folders' checkpoints where the file
  system allows, copies otherwise.

Every file is written atomically.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path

from .._utils import _UMASK, atomic_write_json, atomic_write_text

__all__ = ["MODELS_DIR", "bad_files_of", "publish_models", "write_command_files"]

MODELS_DIR = "models"


def _merged_data(results: Sequence[dict]) -> dict:
    """The ``data`` description of the runs, merged by top-level key (machine); the lowest seed's wins."""
    merged: dict = {}
    for r in sorted(results, key=lambda r: (r.get("labels") or {}).get("seed", 0)):
        data = r.get("data")
        if isinstance(data, dict):
            for k, v in data.items():
                merged.setdefault(k, v)
    return merged


def bad_files_of(results: Sequence[dict]) -> list[dict]:
    """The bad files the runs listed, each (path, role) once, in run order."""
    seen, out = set(), []
    for r in results:
        for b in r.get("bad_files", []) or []:
            k = (b.get("path"), b.get("role"))
            if k not in seen:
                seen.add(k)
                out.append(b)
    return out


def write_command_files(
    summary: dict,
    results: Sequence[dict],
    failed: Sequence[dict],
    out: str | os.PathLike,
    models: dict[str, list[Path]] | None = None,
    skip: Sequence[str] = (),
    markdown=None,
    figures: dict[str, Path] | None = None,
) -> dict[str, Path]:
    """Write ``<experiment>.json`` and ``<experiment>.md`` for every experiment of ``summary`` not in ``skip``.

    Parameters
    ----------
    summary : dict
        :func:`adskit.experiments.report.summarize`'s output (with ``failed``).
    results : sequence of dict
        The run results in the report.
    failed : sequence of dict
        Failed runs (``{"run", "error", ...}``), listed under the experiment whose key they start with.
    out : path
    models : dict of run key -> list of Path, optional
        What :func:`publish_models` published.
    skip : sequence of str
        Experiments that write their own files (e.g. ``"rare"``).
    markdown : callable (summary, failed) -> str, optional
        Renders one experiment's part of the summary (the report's ``summary_markdown``).
    figures : dict of name -> Path, optional
        The report's figures; those named ``<experiment>_*`` go into that experiment's Markdown.

    Returns
    -------
    dict of name -> Path
        ``"<experiment>_json"`` and ``"<experiment>_md"``.
    """
    out = Path(out)
    models = models or {}
    files: dict[str, Path] = {}
    for exp in sorted({r.get("experiment") for r in results if r.get("experiment")}):
        if exp in skip:
            continue
        mine = [r for r in results if r.get("experiment") == exp]
        fails = [f for f in failed if str(f.get("run", "")).startswith(f"{exp}/") or f.get("experiment") == exp]
        part = {
            "experiment": exp,
            "seeds": sorted({(r.get("labels") or {}).get("seed") for r in mine} - {None}),
            "runs": len(mine),
            "interval": summary.get("interval"),
            "data": _merged_data(mine),
            "bad_files": bad_files_of(mine),
            "failed": fails,
            "warnings": [{"run": r["key"], "warning": w} for r in mine for w in r.get("warnings", []) or []],
            "models": {r["key"]: [str(p) for p in models.get(r["key"], [])] for r in mine if models.get(r["key"])},
            "cells": [c for c in summary.get("cells", []) if c.get("experiment") == exp],
            "comparisons": [c for c in summary.get("comparisons", []) if c.get("experiment") == exp],
        }
        files[f"{exp}_json"] = atomic_write_json(out / f"{exp}.json", part)
        if markdown is not None:
            figs = {k: p for k, p in (figures or {}).items() if k.startswith(f"{exp}_")}
            text = markdown({**summary, **part, "runs": len(mine)}, fails, figs)
            if part["models"]:
                text += f"\n\nModels of these runs: `{MODELS_DIR}/` ({sum(map(len, models.values()))} files).\n"
            files[f"{exp}_md"] = atomic_write_text(out / f"{exp}.md", text)
    return files


def publish_models(results: Sequence[dict], out: str | os.PathLike) -> dict[str, list[Path]]:
    """Put the checkpoints of ``results`` in ``out/models/``, replacing the folder as a whole.

    Parameters
    ----------
    results : sequence of dict
        Run results with ``_folder`` (where :func:`adskit.experiments.runs.load_run` found them) and ``key``.
    out : path

    Returns
    -------
    dict of run key -> list of Path
        The published files. Empty when no run saved a checkpoint (then a ``models/`` the kit made is removed),
        and when ``out/models`` is a folder the kit did not make: it is left as it is, with a UserWarning.
    """
    out = Path(out)
    found: dict[str, list[Path]] = {}
    for r in results:
        folder = r.get("_folder")
        if folder and r.get("key"):
            cks = sorted((Path(folder) / MODELS_DIR).glob("*.pt"))
            if cks:
                found[r["key"]] = cks
    target = out / MODELS_DIR
    marker = ".made-by-adskit"
    if target.exists() and not (target / marker).exists():
        if found:  # never replace what somebody else put there
            warnings.warn(
                f"{target}: a folder the kit did not make, left as it is; the runs' checkpoints stay in their run "
                "folders (choose another --out to have them published there)",
                UserWarning,
                stacklevel=2,
            )
        return {}
    if not found:
        if target.exists():
            shutil.rmtree(target)
        return {}
    tmp = Path(tempfile.mkdtemp(prefix=f".{MODELS_DIR}.", dir=out))
    os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700; give the folder the permissions mkdir would
    published: dict[str, list[Path]] = {}
    for key, cks in found.items():
        for ck in cks:
            name = f"{key}.pt" if len(cks) == 1 else f"{key}-{ck.name}"
            try:
                os.link(ck, tmp / name)
            except OSError:
                shutil.copy2(ck, tmp / name)
            published.setdefault(key, []).append(target / name)
    (tmp / marker).write_text("this folder is replaced by every report of the folder above\n", encoding="utf-8")
    old = None
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{MODELS_DIR}.old.", dir=out))
        os.replace(target, old / MODELS_DIR)
    os.replace(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return published
