"""What a clip's file name and folders say about it: label, machine, section, split (DCASE, MIMII, ToyADMOS).

:class:`Clip` holds one audio file and its metadata; :func:`parse_clip` reads them from the path by the naming
rules of the known layouts (:data:`LAYOUTS`); :func:`label_from_name` gives only the label. A ``file,label``
CSV can override the names' labels (read and applied here, for :class:`adskit.audio.folders.FolderDataset`).
Labels are ints: 0 normal, 1 anomalous, None unknown (e.g. the DCASE evaluation set, or an unlabelled folder).

Examples
--------
>>> c = parse_clip("fan/test/anomaly_id_00_00000001.wav")
>>> c.label, c.machine, c.section, c.split
(1, 'fan', 'id_00', 'test')
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["LAYOUTS", "Clip", "label_from_name", "parse_clip"]

LAYOUTS = ("auto", "dcase2020", "mimii", "toyadmos", "toy_car", "flat")

_NORMAL_WORDS = {"normal", "0"}
_ANOMALY_WORDS = {"anomaly", "anomalous", "abnormal", "1"}
#: words of a file name that label it anomalous (a digit token is an id there, never a label)
_ANOMALY_NAME_WORDS = _ANOMALY_WORDS - {"1"}
_SPLIT_RE = re.compile(r"^(train|test|source_test|target_test|supplemental|eval|dev)$", re.IGNORECASE)
_SNR_RE = re.compile(r"^(-?\d+)_?dB", re.IGNORECASE)


@dataclass(frozen=True)
class Clip:
    """One audio file of a data set and what its name (or a CSV, or a manifest) says about it.

    Parameters
    ----------
    path : Path
        The file (absolute).
    label : int or None
        0 normal, 1 anomalous, None unknown.
    machine : str or None
        Machine type (``"fan"``, ``"ToyCar"``...).
    section : str or None
        Machine instance: ``"id_00"`` (DCASE 2020, MIMII), ``"section_00"`` (DCASE 2021+), ``"case1"``
        (ToyADMOS).
    split : str or None
        ``"train"``, ``"test"`` or None (no split folder).
    extra : dict
        Anything else the layout knows: ``snr_db`` (MIMII), ``domain`` (DCASE 2021+), ``channel``,
        ``condition`` (ToyADMOS ``ab01``...), ``processes`` and ``anomaly`` spans (synthetic manifest).
    """

    path: Path
    label: int | None = None
    machine: str | None = None
    section: str | None = None
    split: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False)


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[_\-\s.]+", name) if t]


def _label_word(word: str) -> int | None:
    w = word.strip().lower()
    if w in _NORMAL_WORDS:
        return 0
    if w in _ANOMALY_WORDS:
        return 1
    return None


def parse_clip(path: str | os.PathLike, root: str | os.PathLike | None = None, layout: str = "auto") -> Clip:
    """Read label, machine, section and split from a file's name and folders.

    Parameters
    ----------
    path : str or os.PathLike
        The audio file (need not exist).
    root : str, os.PathLike or None
        The data set folder; only the folders below it are read (None: all folders of ``path``).
    layout : {"auto", "dcase2020", "mimii", "toyadmos", "toy_car", "flat"}
        Which naming rules apply. ``"auto"`` tries them in the order below; ``"flat"`` reads nothing
        (labels then come from a CSV only).

    Returns
    -------
    clip : Clip

    Raises
    ------
    ValueError
        An unknown ``layout``.

    Notes
    -----
    The rules (first match wins for the label):

    * DCASE 2020: ``<machine>/{train,test}/{normal,anomaly}_id_XX_NNNNNNNN.wav``; DCASE 2021+:
      ``<machine>/<split>/section_XX_{source,target}_{train,test}_{normal,anomaly}_NNNN[_attrs].wav``: the
      word ``normal`` / ``anomaly`` among the ``_``-separated tokens of the file name (``anomalous`` and
      MIMII's ``abnormal`` also mark an anomalous file, e.g. ``abnormal_003.wav``).
    * MIMII: ``[<snr>dB/]<machine>/id_XX/{normal,abnormal}/NNNNNNNN.wav``: the parent folder.
      The SNR is read from a folder named ``-6dB``, ``6_dB_fan``... (``extra["snr_db"]``).
    * ToyADMOS (as the released archives name them, e.g.
      ``ToyCar/case1/AnomalousSound_IND/1101010001_ToyCar_case1_ab01_IND_ch1_0001.wav`` and
      ``ToyCar/case1/NormalSound_IND/1100010001_ToyCar_case1_normal_IND_ch1_0001.wav``): folders
      ``NormalSound_*`` / ``AnomalousSound_*``, else a ``normal`` token or an ``abNN`` token (the anomaly
      condition, ``extra["condition"]``); with ``layout="toyadmos"`` also a file name starting with ``ab``
      (anomalous) or ``N`` + digit (normal), as some re-distributions rename them.
      Channel (``chN``) and recording mode (``IND`` / ``CNT``) go to ``extra``.
    * Generic: a folder named ``normal``, ``anomaly``, ``anomalous`` or ``abnormal`` on the way to the file.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout: expected one of {LAYOUTS}, got {layout!r}")
    p = Path(path)
    parts = list(p.parts[:-1])
    if root is not None:
        try:
            parts = list(p.relative_to(root).parts[:-1])
        except ValueError:
            pass
    stem = p.stem
    toks = _tokens(stem)
    low = [t.lower() for t in toks]
    label: int | None = None
    machine = section = split = None
    extra: dict[str, Any] = {}
    if layout == "flat":
        return Clip(p, None, None, None, None, {})

    # split folder: the nearest folder named train / test / source_test...
    split_idx = None
    for i in range(len(parts) - 1, -1, -1):
        if _SPLIT_RE.match(parts[i]):
            name = parts[i].lower()
            split = "train" if name in ("train", "dev", "supplemental") else "test"
            if name in ("source_test", "target_test"):
                extra["domain"] = name.split("_")[0]
            split_idx = i
            break
    if split_idx is not None and split_idx > 0:
        machine = parts[split_idx - 1]

    # file-name rules (DCASE 2020 / 2021+, ToyADMOS tokens)
    if layout in ("auto", "dcase2020", "toyadmos", "toy_car"):
        if _ANOMALY_NAME_WORDS.intersection(low):
            label = 1
        elif "normal" in low:
            label = 0
        for i, t in enumerate(low):
            if t in ("id", "section") and i + 1 < len(low) and low[i + 1].isdigit():
                section = f"{t}_{toks[i + 1]}"
                break
        if "source" in low or "target" in low:
            extra["domain"] = "source" if "source" in low else "target"
    if layout in ("auto", "toyadmos"):
        for t in toks:
            if re.fullmatch(r"ab\d+", t, re.IGNORECASE):
                extra["condition"] = t
                label = 1 if label is None else label
            elif re.fullmatch(r"ch\d+", t, re.IGNORECASE):
                extra["channel"] = t
            elif t in ("IND", "CNT"):
                extra["mode"] = t
        for folder in parts:
            if re.fullmatch(r"Toy(Car|Conveyor|Train)", folder) and machine is None:
                machine = folder
            if re.fullmatch(r"case\d+", folder, re.IGNORECASE):
                section = folder
            if folder.lower().startswith("normalsound"):
                label = 0
            elif folder.lower().startswith("anomaloussound"):
                label = 1
        if layout == "toyadmos" and label is None:
            if stem.lower().startswith("ab"):
                label = 1
            elif re.match(r"N\d", stem):
                label = 0

    # folder rules (MIMII and generic)
    if layout in ("auto", "mimii", "toy_car", "toyadmos", "dcase2020"):
        for i in range(len(parts) - 1, -1, -1):
            word = parts[i].lower()
            if word in ("normal", "anomaly", "anomalous", "abnormal"):
                label = _label_word(word) if label is None else label
            elif re.fullmatch(r"id_\d+", word):
                section = section or parts[i]
                if i > 0 and (machine is None or layout == "mimii"):
                    machine = parts[i - 1]
            else:
                m = _SNR_RE.match(parts[i])
                if m:
                    extra["snr_db"] = int(m.group(1))
    return Clip(p, label, machine, section, split, extra)


def label_from_name(path: str | os.PathLike, layout: str = "auto") -> int | None:
    """The label a file's name and folders give: 0 normal, 1 anomalous, None unknown (see :func:`parse_clip`).

    Raises
    ------
    ValueError
        An unknown ``layout``.

    Examples
    --------
    >>> label_from_name("fan/test/anomaly_id_00_00000001.wav")
    1
    >>> label_from_name("6dB/pump/id_02/normal/00000000.wav")
    0
    >>> label_from_name("section_00_source_test_anomaly_0001_noAttribute.wav"), label_from_name("abnormal_003.wav")
    (1, 1)
    >>> label_from_name("recordings/machine_a.wav") is None
    True
    """
    return parse_clip(path, layout=layout).label


# ------------------------------------------------------------------------------- labels from a CSV file


def _read_label_csv(csv_path: Path) -> list[tuple[int, str, int]]:
    """Rows ``(line number, file, label)`` of a ``file,label`` CSV; errors name the file and the row."""
    if not csv_path.is_file():
        raise FileNotFoundError(f"labels: CSV file {csv_path} not found (expected columns 'file,label')")
    with open(csv_path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(
                f"labels: {csv_path} is empty; expected a header 'file,label' and one row per file"
            ) from None
        cols = [h.strip().lower() for h in header]
        if "file" not in cols or "label" not in cols:
            raise ValueError(
                f"labels: {csv_path} row 1: expected a header with columns 'file' and 'label', got {header}"
            )
        fi, li = cols.index("file"), cols.index("label")
        rows = []
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not c.strip() for c in row):
                continue
            if len(row) <= max(fi, li):
                raise ValueError(f"labels: {csv_path} row {line_no}: expected {len(cols)} columns, got {row}")
            lab = _label_word(row[li])
            if lab is None:
                raise ValueError(
                    f"labels: {csv_path} row {line_no}: label {row[li]!r} of {row[fi]!r} is not one of "
                    "normal/anomaly/anomalous/abnormal/0/1"
                )
            rows.append((line_no, row[fi].strip(), lab))
    return rows


def _apply_label_csv(root: Path, clips: list[Clip], csv_path: Path) -> list[Clip]:
    """``clips`` with the labels of a ``file,label`` CSV (paths relative to ``root``, or unique file names)."""
    by_rel = {c.path.relative_to(root).as_posix(): i for i, c in enumerate(clips)}
    by_name: dict[str, list[int]] = {}
    for i, c in enumerate(clips):
        by_name.setdefault(c.path.name, []).append(i)
    out = list(clips)
    for line_no, name, lab in _read_label_csv(csv_path):
        q = Path(name)
        key: str | None = q.as_posix()  # Path drops a leading "./"
        if q.is_absolute():
            try:
                key = q.resolve().relative_to(root).as_posix()
            except ValueError:
                key = None
        if key in by_rel:
            idx = by_rel[key]
        elif len(by_name.get(name, [])) == 1:
            idx = by_name[name][0]
        elif len(by_name.get(name, [])) > 1:
            raise ValueError(
                f"labels: {csv_path} row {line_no}: file name {name!r} is ambiguous in {root} "
                f"({len(by_name[name])} files); give the path relative to the folder"
            )
        else:
            raise ValueError(f"labels: {csv_path} row {line_no}: file {name!r} not found under {root}")
        out[idx] = dataclasses.replace(out[idx], label=lab)
    return out
