"""Data sets of machine sounds: folders of audio files, a feature cache on disk, frame sampling, paper batches.

Four pieces, each usable alone:

* :class:`Clip` and :class:`FolderDataset`: any folder of WAV / FLAC / OGG files, with labels read from the
  DCASE, MIMII or ToyADMOS file and folder names (:func:`parse_clip`) or from a CSV file, ``train`` / ``test``
  subsets from the folder names, and :meth:`FolderDataset.split_train_test` for a folder of normal clips only.
  :func:`dcase2020_dev`, :func:`mimii`, :func:`toyadmos`, :func:`toy_car` and :func:`synthetic` are the
  known layouts.
* :class:`FeatureCache`: the log-mel spectrogram of every file computed once (resampled to ``cfg.sr`` on
  load) and stored as a float32 ``.npy`` file; read back as a read-only ``np.memmap``. A bad file is reported
  in :class:`CacheReport`, the others are cached.
* :class:`FrameSampler`, :func:`iter_clip_vectors` and :func:`dataset_stats`: context vectors drawn at random
  from the memmaps, all vectors of one clip, and per-dimension statistics, all without loading every frame
  of the data set into one array (DCASE 2020 baseline issue 2: out of memory on 8 GB).
* :class:`PaperBatchBuilder`: the mini-batches of the batch-uniformization paper (spec section 1.5): ten
  random 3-s normal segments concatenated, one something-else sound mixed in at a random position and ANR,
  and the context vectors split into normal ``X`` and simulated-anomalous ``X_tilde``.

Labels are ints: 0 normal, 1 anomalous, None unknown (e.g. the DCASE evaluation set, or an unlabelled
folder).

Examples
--------
>>> import numpy as np, tempfile, os
>>> from adskit.audio.io import save_audio
>>> from adskit.audio.features import FeatureConfig
>>> root = tempfile.mkdtemp()
>>> for i in range(3):
...     _ = save_audio(os.path.join(root, "fan", "train", f"normal_id_00_{i:08d}.wav"),
...                    0.1 * np.random.default_rng(i).standard_normal(16000), 16000)
>>> ds = FolderDataset(root)
>>> len(ds), ds[0].label, ds[0].machine, ds[0].split
(3, 0, 'fan', 'train')
>>> cache = FeatureCache(os.path.join(root, ".cache"), FeatureConfig.preset("dcase2020"), device="cpu")
>>> report = cache.build(ds.paths, progress=False)
>>> len(report.ok), cache.get(ds.paths[0]).shape
(3, (32, 128))
>>> X = next(iter(FrameSampler(cache, ds.paths, batch_size=4, random_state=0)))
>>> X.shape
(4, 640)
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import re
import tempfile
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import soundfile as sf
import torch

from adskit._utils import check_positive
from adskit.audio.features import FeatureConfig, LogMel, stack_context
from adskit.audio.io import AUDIO_EXTENSIONS, AudioFileError, audio_info, load_audio
from adskit.audio.mixing import frame_labels, mix_at_ratio

__all__ = [
    "LAYOUTS",
    "CacheReport",
    "Clip",
    "FeatureCache",
    "FolderDataset",
    "FrameSampler",
    "PaperBatchBuilder",
    "VectorStats",
    "dataset_stats",
    "dcase2020_dev",
    "iter_clip_vectors",
    "label_from_name",
    "mimii",
    "parse_clip",
    "synthetic",
    "toy_car",
    "toyadmos",
]

LAYOUTS = ("auto", "dcase2020", "mimii", "toyadmos", "toy_car", "flat")
CACHE_VERSION = 1  # bump when the way features are computed or stored changes

_NORMAL_WORDS = {"normal", "0"}
_ANOMALY_WORDS = {"anomaly", "anomalous", "abnormal", "1"}
_SPLIT_RE = re.compile(r"^(train|test|source_test|target_test|supplemental|eval|dev)$", re.IGNORECASE)
_SNR_RE = re.compile(r"^(-?\d+)_?dB", re.IGNORECASE)


# ------------------------------------------------------------------------------------------------ clips


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

    Notes
    -----
    The rules (first match wins for the label):

    * DCASE 2020: ``<machine>/{train,test}/{normal,anomaly}_id_XX_NNNNNNNN.wav``; DCASE 2021+:
      ``<machine>/<split>/section_XX_{source,target}_{train,test}_{normal,anomaly}_NNNN[_attrs].wav``: the
      word ``normal`` / ``anomaly`` among the ``_``-separated tokens of the file name.
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
        if "anomaly" in low:
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

    Examples
    --------
    >>> label_from_name("fan/test/anomaly_id_00_00000001.wav")
    1
    >>> label_from_name("6dB/pump/id_02/normal/00000000.wav")
    0
    >>> label_from_name("recordings/machine_a.wav") is None
    True
    """
    return parse_clip(path, layout=layout).label


# ------------------------------------------------------------------------------------------ the folder


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


class FolderDataset:
    """The audio files of a folder, with labels from their names or a CSV.

    Parameters
    ----------
    root : str or os.PathLike
        The folder (searched recursively).
    labels : str, os.PathLike or None
        Optional CSV with columns ``file,label`` (more columns are ignored). ``file`` is the path relative to
        ``root`` or a bare file name (if unique); ``label`` is ``normal``/``anomaly`` (also ``anomalous``,
        ``abnormal``) or ``0``/``1``. CSV labels override the names; files absent from the CSV keep the
        label of their name.
    pattern : str, sequence of str or None
        Glob pattern(s) relative to ``root``; None (default) takes every ``.wav``, ``.flac`` and ``.ogg``
        file at any depth, extension case ignored (``.WAV`` too). Hidden files and folders (starting with
        ".") are skipped.
    layout : {"auto", "dcase2020", "mimii", "toyadmos", "toy_car", "flat"}
        Naming rules, see :func:`parse_clip`.
    machine : str, sequence of str or None
        Keep only these machine types.

    Attributes
    ----------
    root : Path
    clips : list of Clip
        Sorted by path.

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder, or the CSV is missing.
    ValueError
        A malformed CSV (the message names the file and the row), a CSV row naming no file of the folder,
        or an unknown ``layout``.

    Examples
    --------
    >>> import tempfile
    >>> ds = FolderDataset(tempfile.mkdtemp())
    >>> len(ds)
    0
    """

    def __init__(
        self,
        root: str | os.PathLike,
        labels: str | os.PathLike | None = None,
        pattern: str | Sequence[str] | None = None,
        layout: str = "auto",
        machine: str | Sequence[str] | None = None,
    ) -> None:
        root = Path(root).expanduser().resolve()
        if not root.is_dir():
            raise FileNotFoundError(f"root: {root} is not a directory (expected a folder of audio files)")
        if layout not in LAYOUTS:
            raise ValueError(f"layout: expected one of {LAYOUTS}, got {layout!r}")
        if pattern is None:
            found = (p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)
        else:
            patterns = [pattern] if isinstance(pattern, str) else list(pattern)
            found = (p for pat in patterns for p in root.glob(pat))
        files = {
            p for p in found if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
        }
        clips = [parse_clip(p, root, layout) for p in sorted(files)]
        if labels is not None:
            clips = self._apply_csv(root, clips, Path(labels).expanduser())
        self.root = root
        self.layout = layout
        self.clips: list[Clip] = clips
        if machine is not None:
            self.clips = self.filter(machine=machine).clips

    @staticmethod
    def _apply_csv(root: Path, clips: list[Clip], csv_path: Path) -> list[Clip]:
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

    @classmethod
    def from_clips(cls, root: str | os.PathLike, clips: Iterable[Clip], layout: str = "auto") -> FolderDataset:
        """A data set holding the given clips (no folder scan)."""
        ds = cls.__new__(cls)
        ds.root = Path(root).expanduser().resolve()
        ds.layout = layout
        ds.clips = list(clips)
        return ds

    # ---- container protocol
    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self) -> Iterator[Clip]:
        return iter(self.clips)

    def __getitem__(self, i: int) -> Clip:
        return self.clips[i]

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r}, {len(self)} clips: {self.summary()})"

    @property
    def paths(self) -> list[Path]:
        """The files, in order."""
        return [c.path for c in self.clips]

    @property
    def labels(self) -> np.ndarray:
        """Labels as ints, shape (n_clips,): 0 normal, 1 anomalous, -1 unknown."""
        return np.array([-1 if c.label is None else c.label for c in self.clips], dtype=np.int64)

    @property
    def machines(self) -> list[str]:
        """Machine types present (sorted)."""
        return sorted({c.machine for c in self.clips if c.machine is not None})

    @property
    def train(self) -> FolderDataset:
        """Clips under a ``train`` folder."""
        return self.filter(split="train")

    @property
    def test(self) -> FolderDataset:
        """Clips under a ``test`` folder (``source_test`` / ``target_test`` included)."""
        return self.filter(split="test")

    @property
    def normal(self) -> FolderDataset:
        """Clips labelled 0."""
        return self.filter(label=0)

    @property
    def anomalous(self) -> FolderDataset:
        """Clips labelled 1."""
        return self.filter(label=1)

    def filter(
        self,
        machine: str | Sequence[str] | None = None,
        split: str | None = None,
        label: int | None = None,
        section: str | Sequence[str] | None = None,
        **extra: Any,
    ) -> FolderDataset:
        """Clips matching every given criterion (None = any).

        Parameters
        ----------
        machine, section : str or sequence of str
        split : str
        label : int (0 or 1)
        **extra
            Matches ``clip.extra[key] == value`` (e.g. ``snr_db=6``, ``channel="ch1"``).

        Raises
        ------
        ValueError
            A ``machine`` that no clip has (the message lists the machines present).
        """
        keep = self.clips
        if machine is not None:
            wanted = {machine} if isinstance(machine, str) else set(machine)
            missing = wanted - set(self.machines)
            if missing:
                raise ValueError(
                    f"machine: {sorted(missing)} not found under {self.root}; machines present: {self.machines}"
                )
            keep = [c for c in keep if c.machine in wanted]
        if split is not None:
            keep = [c for c in keep if c.split == split]
        if label is not None:
            keep = [c for c in keep if c.label == label]
        if section is not None:
            secs = {section} if isinstance(section, str) else set(section)
            keep = [c for c in keep if c.section in secs]
        for k, v in extra.items():
            keep = [c for c in keep if c.extra.get(k) == v]
        return type(self).from_clips(self.root, keep, self.layout)

    def summary(self) -> dict[str, int]:
        """Counts: ``{"normal", "anomalous", "unlabelled", "train", "test"}``."""
        lab = self.labels
        return {
            "normal": int(np.sum(lab == 0)),
            "anomalous": int(np.sum(lab == 1)),
            "unlabelled": int(np.sum(lab == -1)),
            "train": sum(c.split == "train" for c in self.clips),
            "test": sum(c.split == "test" for c in self.clips),
        }

    def split_train_test(
        self, test_fraction: float = 0.2, random_state: int | np.random.Generator | None = 0, assume_normal: bool = True
    ) -> tuple[FolderDataset, FolderDataset]:
        """Split into train and test sets for a folder without a split (e.g. ``adskit sound --normal DIR``).

        Parameters
        ----------
        test_fraction : float in (0, 1)
            Share of the normal clips held out for testing (per machine, at least one if a machine has two
            or more clips).
        random_state : int, np.random.Generator or None
        assume_normal : bool
            Treat unlabelled clips as normal (label 0), as for a folder the user says is normal.

        Returns
        -------
        train, test : FolderDataset
            Clips get ``split="train"`` / ``"test"``. Anomalous clips (label 1) all go to test: the detectors
            never train on them.
        """
        if not 0.0 < float(test_fraction) < 1.0:
            raise ValueError(f"test_fraction: expected a number in (0, 1), got {test_fraction!r}")
        rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
        clips = [dataclasses.replace(c, label=0) if (assume_normal and c.label is None) else c for c in self.clips]
        train, test = [], []
        groups: dict[Any, list[Clip]] = {}
        for c in clips:
            if c.label == 1:
                test.append(dataclasses.replace(c, split="test"))
            else:
                groups.setdefault(c.machine, []).append(c)
        for key in sorted(groups, key=str):
            group = groups[key]
            n_test = int(round(test_fraction * len(group)))
            if len(group) >= 2:
                n_test = min(max(n_test, 1), len(group) - 1)
            order = rng.permutation(len(group))
            held = set(order[:n_test].tolist())
            for i, c in enumerate(group):
                (test if i in held else train).append(dataclasses.replace(c, split="test" if i in held else "train"))
        train.sort(key=lambda c: c.path)
        test.sort(key=lambda c: c.path)
        return (
            type(self).from_clips(self.root, train, self.layout),
            type(self).from_clips(self.root, test, self.layout),
        )


# ----------------------------------------------------------------------------------- known layouts


def _check_root(root: str | os.PathLike, name: str) -> Path:
    r = Path(root).expanduser()
    if not r.is_dir():
        raise FileNotFoundError(f"root: {r} is not a directory (expected the {name} folder)")
    return r


def dcase2020_dev(
    root: str | os.PathLike, machine: str | Sequence[str] | None = None, section: str | None = None
) -> FolderDataset:
    """DCASE 2020 Task 2 development data: ``<machine>/{train,test}/{normal,anomaly}_id_XX_*.wav``.

    Parameters
    ----------
    root : str or os.PathLike
        The ``dev_data`` folder, or its parent (``<data>/dcase2020_task2``, as ``data_scripts`` extracts it).
    machine : str, sequence of str or None
        ``"fan"``, ``"pump"``, ``"slider"``, ``"valve"``, ``"ToyCar"``, ``"ToyConveyor"``; None keeps all.
    section : str or None
        Machine ID, e.g. ``"id_00"``.

    Returns
    -------
    FolderDataset
        Use ``.train`` and ``.test``.
    """
    r = _check_root(root, "DCASE 2020 Task 2 development")
    if (r / "dev_data").is_dir():
        r = r / "dev_data"
    ds = FolderDataset(r, layout="dcase2020", pattern="*/*/*.wav", machine=machine)
    return ds.filter(section=section) if section is not None else ds


def mimii(
    root: str | os.PathLike,
    machine: str | Sequence[str] | None = None,
    snr: int | str | None = None,
    id: str | int | None = None,  # noqa: A002 (the data set's own word)
) -> FolderDataset:
    """MIMII: ``[<snr>dB/]<machine>/id_XX/{normal,abnormal}/NNNNNNNN.wav`` (16 kHz, 8 channels, mixed down).

    Parameters
    ----------
    root : str or os.PathLike
        The MIMII folder (``<data>/mimii`` as ``data_scripts/get_mimii.py`` extracts it, one ``<snr>dB``
        folder per SNR), or one SNR folder.
    machine : str, sequence of str or None
        ``"fan"``, ``"pump"``, ``"slider"``, ``"valve"``.
    snr : int, str or None
        -6, 0 or 6 (dB); ``"6dB"`` also works.
    id : str, int or None
        Machine ID: ``0``, ``"00"`` or ``"id_00"``.

    Returns
    -------
    FolderDataset
        MIMII has no train/test split: use :meth:`FolderDataset.split_train_test` (anomalous clips all go
        to test), or the DCASE 2020 set, which is a split of it.
    """
    r = _check_root(root, "MIMII")
    ds = FolderDataset(r, layout="mimii", machine=machine)
    m_root = _SNR_RE.match(r.resolve().name)
    if m_root:  # root is one SNR folder: its clips have no SNR folder below root
        ds.clips = [
            c if "snr_db" in c.extra else dataclasses.replace(c, extra={**c.extra, "snr_db": int(m_root.group(1))})
            for c in ds.clips
        ]
    if snr is not None:
        m = re.match(r"^(-?\d+)", str(snr))
        if m is None:
            raise ValueError(f"snr: expected -6, 0 or 6 (dB), got {snr!r}")
        ds = ds.filter(snr_db=int(m.group(1)))
    if id is not None:
        s = str(id)
        ds = ds.filter(section=s if s.startswith("id_") else f"id_{int(s):02d}")
    return ds


def toyadmos(
    root: str | os.PathLike,
    machine: str | Sequence[str] | None = None,
    case: int | str | None = None,
    channel: int | str | None = None,
    mode: str | None = "IND",
) -> FolderDataset:
    """ToyADMOS: ``<ToyCar|ToyConveyor|ToyTrain>/caseN/{NormalSound,AnomalousSound}_{IND,CNT}/*_chM_*.wav``.

    Parameters
    ----------
    root : str or os.PathLike
        The folder holding the extracted sub-data sets (48 kHz, resampled by the feature cache).
    machine : str, sequence of str or None
        ``"ToyCar"``, ``"ToyConveyor"``, ``"ToyTrain"``.
    case : int, str or None
        ``1`` or ``"case1"``.
    channel : int, str or None
        Microphone: ``1`` or ``"ch1"`` (each microphone is a separate file).
    mode : {"IND", "CNT"} or None
        Individual (IND, the labelled clips) or continuous (CNT) recordings; None keeps both.

    Returns
    -------
    FolderDataset
        No train/test split: use :meth:`FolderDataset.split_train_test`.
    """
    r = _check_root(root, "ToyADMOS")
    ds = FolderDataset(r, layout="toyadmos", machine=machine)
    if case is not None:
        c = str(case)
        ds = ds.filter(section=c if c.lower().startswith("case") else f"case{int(c)}")
    if channel is not None:
        ch = str(channel)
        ds = ds.filter(channel=ch if ch.lower().startswith("ch") else f"ch{int(ch)}")
    if mode is not None:
        ds = ds.filter(mode=mode)
    return ds


def toy_car(root: str | os.PathLike) -> FolderDataset:
    """The toy-car-running set of the batch-uniformization paper (archive.org ``toy_car_running_dataset``).

    The kit does not know that item's file names (see ``adskit.audio.download``): the clips are read with
    the generic rules (``train`` / ``test`` folders, ``normal`` / ``anomaly`` words or folders). ASSUMPTION:
    an unlabelled clip of this set is a normal recording (the paper makes its anomalies by mixing DCASE 2016
    sounds into normal clips), so unlabelled clips get label 0 here.

    Parameters
    ----------
    root : str or os.PathLike
        ``<data>/toy_car_running/extracted`` or any folder holding the item's audio.

    Returns
    -------
    FolderDataset
    """
    r = _check_root(root, "toy-car-running")
    if (r / "extracted").is_dir():
        r = r / "extracted"
    ds = FolderDataset(r, layout="toy_car")
    ds.clips = [dataclasses.replace(c, label=0) if c.label is None else c for c in ds.clips]
    return ds


def synthetic(
    root: str | os.PathLike, machine: str | Sequence[str] | None = None, what: str = "clips"
) -> FolderDataset:
    """The synthetic data set of :mod:`adskit.audio.synth`, read from its ``manifest.json``.

    Parameters
    ----------
    root : str or os.PathLike
        Folder made by :func:`adskit.audio.synth.make_dataset` (or ``ensure_synthetic``).
    machine : str, sequence of str or None
        Keep only these machines (clips only).
    what : {"clips", "something_else", "anomaly_sources"}
        Machine clips (train and test), the something-else sounds (SNP/BU training) or the isolated
        anomaly sources.

    Returns
    -------
    FolderDataset
        Each clip's ``extra`` holds the manifest record: ``processes`` (``{"steady", "idle", "rare",
        "anomaly"}``: lists of ``(t0, t1)`` segments in seconds; ``"rare"`` are the rare-normal spans),
        ``anomaly`` (the anomalous spans), ``rare``, ``anomaly_kind``, ``anomaly_group``, ``anr_db``...
    """
    r = _check_root(root, "synthetic data set").resolve()
    mpath = r / "manifest.json"
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
        records = manifest["files"]
    except FileNotFoundError:
        raise FileNotFoundError(
            f"root: {mpath} not found; expected a folder made by adskit.audio.synth.make_dataset"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"root: {mpath} is not a synthetic-data manifest ({exc})") from exc
    kinds = {"clips": None, "something_else": "something_else", "anomaly_sources": "anomaly_source"}
    if what not in kinds:
        raise ValueError(f"what: expected one of {tuple(kinds)}, got {what!r}")
    clips = []
    for rec in records:
        split = rec.get("split")
        if (kinds[what] is None and split not in ("train", "test")) or (kinds[what] and split != kinds[what]):
            continue
        lab = {"normal": 0, "anomaly": 1}.get(rec.get("label")) if what == "clips" else None
        extra = {k: v for k, v in rec.items() if k not in ("path", "machine", "split", "label")}
        extra["anomaly"] = [tuple(s) for s in rec.get("processes", {}).get("anomaly", [])]
        name = Path(rec["path"]).name
        sec = parse_clip(name).section
        clips.append(Clip(r / rec["path"], lab, rec.get("machine"), sec, split if what == "clips" else None, extra))
    clips.sort(key=lambda c: c.path)
    ds = FolderDataset.from_clips(r, clips, layout="dcase2020")
    return ds.filter(machine=machine) if machine is not None else ds


# ------------------------------------------------------------------------------------------ feature cache


@dataclass
class CacheReport:
    """What :meth:`FeatureCache.build` did.

    Attributes
    ----------
    computed : list of Path
        Files whose features were computed now.
    cached : list of Path
        Files already in the cache.
    failed : list of (Path, str)
        Files that could not be used, with the reason (corrupt, empty, too short...).
    seconds : float
        Wall time of the build.
    """

    computed: list[Path] = field(default_factory=list)
    cached: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> list[Path]:
        """Files with features in the cache (computed or cached)."""
        return [*self.cached, *self.computed]

    def __str__(self) -> str:
        lines = [
            f"{len(self.computed)} computed, {len(self.cached)} already cached, {len(self.failed)} failed "
            f"({self.seconds:.1f} s)"
        ]
        lines += [f"  FAILED {p}: {why}" for p, why in self.failed]
        return "\n".join(lines)


def _channel_key(channel: str | int) -> str:
    if channel == "mix":
        return "mix"
    if isinstance(channel, (int, np.integer)) and not isinstance(channel, bool):
        return f"ch{int(channel)}"
    raise ValueError(f"channel: expected 'mix' or an int channel index, got {channel!r}")


class FeatureCache:
    """Log-mel spectrograms computed once per file and feature configuration, stored as float32 ``.npy``.

    Parameters
    ----------
    cache_dir : str or os.PathLike
        Folder of the cache; may be shared between feature configurations (each has a sub-folder named by
        ``feature_config.key()``). The cache only ever writes inside it and never touches the audio files.
    feature_config : FeatureConfig
        The front end; audio is resampled to ``feature_config.sr`` when read.
    channel : "mix" or int
        Channel mix-down or selection (see :func:`adskit.audio.io.load_audio`).
    device : str or torch.device
        Where :class:`LogMel` runs: ``"auto"`` (CUDA if present), ``"cpu"``, ``"cuda"``.
    batch_size : int
        Files read per batch in :meth:`build` (files of equal length go through one LogMel call).

    Notes
    -----
    The key of a file is a hash of its absolute path, size and modification time (ns), the feature
    configuration's key, the channel and :data:`CACHE_VERSION`; so editing a file or changing a parameter
    gives a new entry (old entries stay until the cache folder is removed). Entries are written to a
    temporary file and renamed (atomic): a crash never leaves a half-written ``.npy`` under its final name,
    and two processes filling the same cache write identical bytes.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        feature_config: FeatureConfig,
        channel: str | int = "mix",
        device: str | torch.device = "auto",
        batch_size: int = 16,
    ) -> None:
        if not isinstance(feature_config, FeatureConfig):
            raise ValueError(f"feature_config: expected a FeatureConfig, got {type(feature_config).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
        self.cache_dir = Path(cache_dir).expanduser()
        self.cfg = feature_config
        self.channel = channel
        self._channel_key = _channel_key(channel)
        self.device = device
        self.batch_size = int(batch_size)
        self._logmel: LogMel | None = None

    @property
    def folder(self) -> Path:
        """Sub-folder of this feature configuration and channel."""
        return self.cache_dir / f"{self.cfg.key()}-{self._channel_key}"

    def _extractor(self) -> LogMel:
        if self._logmel is None:
            self._logmel = LogMel(self.cfg, device=self.device)
        return self._logmel

    def key(self, path: str | os.PathLike) -> str:
        """Cache key of ``path`` (20 hex digits); changes with the file's size, mtime and the configuration.

        Raises
        ------
        FileNotFoundError
            ``path`` does not exist.
        """
        p = Path(path).expanduser().resolve()
        try:
            st = p.stat()
        except FileNotFoundError:
            raise FileNotFoundError(f"path: {p} not found (expected an audio file)") from None
        blob = json.dumps([str(p), st.st_size, st.st_mtime_ns, self.cfg.key(), self._channel_key, CACHE_VERSION])
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]

    def entry(self, path: str | os.PathLike) -> Path:
        """The ``.npy`` file that holds (or will hold) the features of ``path``."""
        stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(path).stem)[:40]
        return self.folder / f"{stem}-{self.key(path)}.npy"

    def is_cached(self, path: str | os.PathLike) -> bool:
        """Whether the features of ``path`` are in the cache."""
        return self.entry(path).is_file()

    def _write(self, target: Path, S: np.ndarray) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.save(fh, np.ascontiguousarray(S, dtype=np.float32), allow_pickle=False)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _compute(self, waves: list[np.ndarray]) -> list[np.ndarray]:
        """Log-mel of several waveforms, one LogMel call per group of equal length."""
        out: list[np.ndarray | None] = [None] * len(waves)
        groups: dict[int, list[int]] = {}
        for i, y in enumerate(waves):
            groups.setdefault(y.size, []).append(i)
        m = self._extractor()
        with torch.inference_mode():
            for idx in groups.values():
                S = m(torch.from_numpy(np.stack([waves[i] for i in idx]))).cpu().numpy()
                for j, i in enumerate(idx):
                    out[i] = S[j]
        return out  # type: ignore[return-value]

    def get(self, path: str | os.PathLike) -> np.memmap:
        """The log-mel spectrogram of ``path``, computed and stored on first use.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        S : np.memmap [shape=(T, n_mels)], float32, read-only
            Only the rows you index are read from disk.

        Raises
        ------
        AudioFileError
            The file is missing, corrupt, empty or too short for one STFT frame.
        """
        target = self.entry(path)
        if not target.is_file():
            y = self._load(Path(path))
            self._write(target, self._compute([y])[0])
        return np.load(target, mmap_mode="r", allow_pickle=False)

    def _load(self, path: Path) -> np.ndarray:
        y, _ = load_audio(path, sr=self.cfg.sr, channel=self.channel)
        need = self.cfg.n_fft // 2 + 1 if self.cfg.center else self.cfg.n_fft
        if y.size < need:
            raise AudioFileError(
                path, f"too short: {y.size} samples at {self.cfg.sr} Hz, expected at least {need} (one frame)"
            )
        return y

    def n_frames(self, path: str | os.PathLike) -> int:
        """Number of frames T of the cached spectrogram of ``path`` (reads the ``.npy`` header only)."""
        return int(self.get(path).shape[0])

    def build(self, paths: Iterable[str | os.PathLike], progress: bool = True, on_error: str = "report") -> CacheReport:
        """Compute the features of every file not yet cached.

        Parameters
        ----------
        paths : iterable of str or os.PathLike
        progress : bool
            Show a tqdm progress bar.
        on_error : {"report", "raise"}
            ``"report"``: a file that cannot be read is listed in ``report.failed`` with the reason and the
            others are still cached; ``"raise"``: the first such error is raised.

        Returns
        -------
        report : CacheReport
        """
        from tqdm.auto import tqdm

        if on_error not in ("report", "raise"):
            raise ValueError(f"on_error: expected 'report' or 'raise', got {on_error!r}")
        t0 = time.perf_counter()
        report = CacheReport()
        todo: list[tuple[Path, Path]] = []
        for p in map(Path, paths):
            try:
                target = self.entry(p)
            except FileNotFoundError as exc:
                if on_error == "raise":
                    raise AudioFileError(p, "file not found (expected an audio file)") from exc
                report.failed.append((p, "file not found"))
                continue
            if target.is_file():
                report.cached.append(p)
            else:
                todo.append((p, target))
        bar = tqdm(total=len(todo), desc="features", unit="file", disable=not progress)
        for b in range(0, len(todo), self.batch_size):
            batch, waves = [], []
            for p, target in todo[b : b + self.batch_size]:
                try:
                    waves.append(self._load(p))
                    batch.append((p, target))
                except (AudioFileError, OSError, ValueError) as exc:
                    if on_error == "raise":
                        raise
                    report.failed.append((p, str(getattr(exc, "problem", exc))))
            for (p, target), S in zip(batch, self._compute(waves) if waves else [], strict=True):
                self._write(target, S)
                report.computed.append(p)
            bar.update(len(todo[b : b + self.batch_size]))
        bar.close()
        report.seconds = time.perf_counter() - t0
        return report

    def size_bytes(self, paths: Iterable[str | os.PathLike] | None = None) -> int:
        """Bytes on disk of the cached entries of ``paths`` (None: every entry of this configuration)."""
        if paths is None:
            return sum(f.stat().st_size for f in self.folder.glob("*.npy")) if self.folder.is_dir() else 0
        return sum(e.stat().st_size for e in (self.entry(p) for p in paths) if e.is_file())

    def vectors(self, path: str | os.PathLike, frames: int | None = None) -> np.ndarray:
        """All context vectors of one clip (for scoring).

        Returns
        -------
        X : np.ndarray [shape=(T - frames + 1, frames * n_mels)], float32
            Empty (0 rows) if the clip has fewer than ``frames`` frames.
        """
        frames = self.cfg.frames if frames is None else frames
        S = self.get(path)
        if S.shape[0] < frames:
            return np.zeros((0, frames * S.shape[1]), dtype=np.float32)
        return stack_context(np.asarray(S), frames)


def iter_clip_vectors(
    cache: FeatureCache, paths: Iterable[str | os.PathLike], frames: int | None = None
) -> Iterator[tuple[Path, np.ndarray]]:
    """Yield ``(path, X)`` with all context vectors of each clip, one clip in memory at a time.

    Parameters
    ----------
    cache : FeatureCache
    paths : iterable of str or os.PathLike
    frames : int or None
        Context length; None uses ``cache.cfg.frames``.

    Yields
    ------
    path : Path
    X : np.ndarray [shape=(n_vectors, frames * n_mels)], float32
    """
    for p in paths:
        yield Path(p), cache.vectors(p, frames)


class VectorStats(NamedTuple):
    """Per-dimension mean and standard deviation (``ddof=0``) of context vectors, and their count."""

    mean: np.ndarray
    std: np.ndarray
    count: int


def dataset_stats(cache: FeatureCache, paths: Iterable[str | os.PathLike], frames: int | None = None) -> VectorStats:
    """Per-dimension mean and std of all context vectors of ``paths``, streamed one clip at a time.

    Clip statistics are merged with Chan et al.'s pairwise update (the parallel form of Welford's
    algorithm) in float64, so the result equals ``np.mean`` / ``np.std`` over the stacked vectors without
    ever stacking them.

    Parameters
    ----------
    cache : FeatureCache
    paths : iterable of str or os.PathLike
    frames : int or None
        Context length; None uses ``cache.cfg.frames``.

    Returns
    -------
    stats : VectorStats
        ``mean``, ``std`` of shape (frames * n_mels,), float64; ``count`` vectors.

    Raises
    ------
    ValueError
        No context vector at all (every clip shorter than ``frames``).
    """
    n = 0
    mean = m2 = None
    for _, X in iter_clip_vectors(cache, paths, frames):
        k = X.shape[0]
        if k == 0:
            continue
        Xd = X.astype(np.float64)
        mu_b = Xd.mean(axis=0)
        m2_b = np.square(Xd - mu_b).sum(axis=0)
        if mean is None:
            n, mean, m2 = k, mu_b, m2_b
            continue
        tot = n + k
        delta = mu_b - mean
        mean = mean + delta * (k / tot)
        m2 = m2 + m2_b + np.square(delta) * (n * k / tot)
        n = tot
    if mean is None:
        raise ValueError("paths: no context vector found (no clip, or every clip shorter than `frames`)")
    return VectorStats(mean, np.sqrt(m2 / n), n)


# ---------------------------------------------------------------------------------------- frame sampler


class FrameSampler:
    """Random mini-batches of context vectors read from the feature cache's memmaps.

    Each vector is drawn uniformly over all context positions of all files (with replacement): a global
    position is drawn, mapped to (file, offset) through the cumulative per-file counts, and only the
    ``frames`` rows it needs are read from that file's memmap. Memory: one batch plus the open memmaps.

    Parameters
    ----------
    cache : FeatureCache
        Features are computed for files not yet cached (call :meth:`FeatureCache.build` first to skip bad
        files: here they raise).
    paths : sequence of str or os.PathLike
        The training files.
    frames : int or None
        Context length; None uses ``cache.cfg.frames``.
    batch_size : int
        Vectors per batch.
    n_batches : int or None
        Length of one pass of ``iter()``; None yields batches forever.
    random_state : int, np.random.Generator or None
        Same seed, same batches.
    mean, std : np.ndarray [shape=(frames * n_mels,)] or None
        If given, batches are standardised ``(X - mean) / std`` (see :func:`dataset_stats`).
    max_open : int
        Memmaps kept open at once (an LRU: file descriptors are limited).

    Attributes
    ----------
    counts_ : np.ndarray [shape=(n_files,)]
        Context vectors per file (``T - frames + 1``, 0 for a clip shorter than ``frames``).
    n_vectors_ : int
        Their sum.
    dim_ : int
        ``frames * n_mels``.

    Examples
    --------
    See the module docstring.
    """

    def __init__(
        self,
        cache: FeatureCache,
        paths: Sequence[str | os.PathLike],
        frames: int | None = None,
        batch_size: int = 512,
        n_batches: int | None = None,
        random_state: int | np.random.Generator | None = None,
        mean: np.ndarray | None = None,
        std: np.ndarray | None = None,
        max_open: int = 64,
    ) -> None:
        self.cache = cache
        self.paths = [Path(p) for p in paths]
        self.frames = cache.cfg.frames if frames is None else int(frames)
        if self.frames < 1:
            raise ValueError(f"frames: expected an int >= 1, got {frames!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size: expected an int >= 1, got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.n_batches = n_batches
        self.rng = (
            random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
        )
        self.max_open = int(max_open)
        self._open: OrderedDict[int, np.memmap] = OrderedDict()
        self._entries = []
        counts = []
        for p in self.paths:
            S = cache.get(p)
            self._entries.append(cache.entry(p))
            counts.append(max(0, S.shape[0] - self.frames + 1))
            del S
        self.counts_ = np.asarray(counts, dtype=np.int64)
        self.n_vectors_ = int(self.counts_.sum())
        if self.n_vectors_ == 0:
            raise ValueError(
                f"paths: no context vector of {self.frames} frames in {len(self.paths)} file(s) "
                "(no file, or every clip is too short)"
            )
        self._starts = np.concatenate([[0], np.cumsum(self.counts_)])
        self.dim_ = self.frames * cache.cfg.n_mels
        self.mean = None if mean is None else np.asarray(mean, dtype=np.float32).reshape(self.dim_)
        if std is None:
            self.std = None
        else:
            sd = np.asarray(std, dtype=np.float32).reshape(self.dim_)
            self.std = np.where(sd > 0, sd, np.float32(1.0))  # constant dimensions are only centred

    def _memmap(self, i: int) -> np.memmap:
        mm = self._open.get(i)
        if mm is None:
            mm = np.load(self._entries[i], mmap_mode="r", allow_pickle=False)
            self._open[i] = mm
            if len(self._open) > self.max_open:
                self._open.popitem(last=False)
        else:
            self._open.move_to_end(i)
        return mm

    def locate(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` uniform positions: ``(file index, offset)``, each of shape (n,)."""
        g = self.rng.integers(0, self.n_vectors_, size=int(n))
        f = np.searchsorted(self._starts, g, side="right") - 1
        return f, g - self._starts[f]

    def sample(self, n: int | None = None) -> np.ndarray:
        """One batch.

        Parameters
        ----------
        n : int or None
            Number of vectors; None uses ``batch_size``.

        Returns
        -------
        X : np.ndarray [shape=(n, frames * n_mels)], float32
        """
        n = self.batch_size if n is None else int(n)
        files, offsets = self.locate(n)
        X = np.empty((n, self.dim_), dtype=np.float32)
        ar = np.arange(self.frames)
        order = np.argsort(files, kind="stable")
        uniq, first = np.unique(files[order], return_index=True)
        bounds = [*first[1:], n]
        for fi, a, b in zip(uniq, first, bounds, strict=True):
            rows = order[a:b]
            mm = self._memmap(int(fi))
            X[rows] = mm[offsets[rows, None] + ar].reshape(len(rows), self.dim_)
        if self.mean is not None:
            X -= self.mean
        if self.std is not None:
            X /= self.std
        return X

    def __iter__(self) -> Iterator[np.ndarray]:
        i = 0
        while self.n_batches is None or i < self.n_batches:
            yield self.sample()
            i += 1

    def __len__(self) -> int:
        if self.n_batches is None:
            raise TypeError("FrameSampler with n_batches=None is endless and has no len()")
        return int(self.n_batches)


# ------------------------------------------------------------------------------- the paper's mini-batches


class PaperBatchBuilder:
    """Mini-batches of the batch-uniformization paper's sound experiment (WASPAA 2019 §4.2, spec §1.5).

    Each batch: ``n_segments`` random ``segment_seconds``-long segments of the normal files, concatenated
    (10 x 3 s = 30 s); one random something-else sound mixed in at a random position and an ANR drawn
    uniformly from ``anr_range`` (:func:`adskit.audio.mixing.mix_at_ratio`, eq 8, ``y = x + g s``); the
    log-mel of the mixture; context vectors; a vector is simulated-anomalous (``x_tilde``) when its centre
    frame overlaps the inserted interval (:func:`adskit.audio.mixing.frame_labels`), normal otherwise.

    Parameters
    ----------
    normal_paths : sequence of str or os.PathLike
        Normal training files; each is cut into ``floor(duration / segment_seconds)`` whole segments
        (files shorter than one segment are skipped).
    something_else_paths : sequence of str or os.PathLike
        Something-else sounds (FSDKaggle2018 clips < 5 s in the paper); one longer than the mixture is
        cropped at random.
    feature_config : FeatureConfig
        Front end (``FeatureConfig.preset("paper")`` for the paper).
    segment_seconds : float
        Segment length (3 s in the paper).
    n_segments : int
        Segments per batch (10 in the paper).
    anr_range : (float, float)
        ANR bounds in dB. The paper's values were lost; U(-20, -10) dB (the test range) is OUR PROPOSAL.
    channel : "mix" or int
        Channel mix-down or selection.
    device : str or torch.device
        Where the log-mel runs.
    random_state : int, np.random.Generator or None
        Same seed, same batches.

    Notes
    -----
    Waveforms are read lazily: only the segment's samples at the native rate (soundfile partial read),
    mixed down, then resampled to ``cfg.sr`` (soxr) when the file's rate differs. Resampling a segment alone
    differs from resampling the whole file only in a few samples at the segment's edges. Something-else
    files are read whole (they are short). A draw whose something-else sound or normal segment is silent
    (ANR undefined) is redrawn.
    """

    def __init__(
        self,
        normal_paths: Sequence[str | os.PathLike],
        something_else_paths: Sequence[str | os.PathLike],
        feature_config: FeatureConfig,
        segment_seconds: float = 3.0,
        n_segments: int = 10,
        anr_range: tuple[float, float] = (-20.0, -10.0),
        channel: str | int = "mix",
        device: str | torch.device = "auto",
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.cfg = feature_config
        self.segment_seconds = check_positive(segment_seconds, "segment_seconds")
        if isinstance(n_segments, bool) or not isinstance(n_segments, (int, np.integer)) or n_segments < 1:
            raise ValueError(f"n_segments: expected an int >= 1, got {n_segments!r}")
        self.n_segments = int(n_segments)
        lo, hi = (float(v) for v in anr_range)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise ValueError(f"anr_range: expected (low, high) finite dB with low <= high, got {anr_range!r}")
        self.anr_range = (lo, hi)
        self.channel = channel
        _channel_key(channel)
        self.rng = (
            random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
        )
        self.segment_samples = int(round(self.segment_seconds * self.cfg.sr))
        self.segments: list[tuple[Path, int, int]] = []  # (file, native sr, start sample at native rate)
        for p in map(Path, normal_paths):
            info = audio_info(p)
            seg_native = int(round(self.segment_seconds * info["sr"]))
            for k in range(info["frames"] // seg_native):
                self.segments.append((p, info["sr"], k * seg_native))
        if not self.segments:
            raise ValueError(
                f"normal_paths: no file holds a whole {self.segment_seconds:g}-s segment ({len(normal_paths)} given)"
            )
        self.something_else = [Path(p) for p in something_else_paths]
        if not self.something_else:
            raise ValueError("something_else_paths: expected at least one something-else sound file")
        self._logmel = LogMel(self.cfg, device=device)

    def _read_segment(self, path: Path, sr: int, start: int) -> np.ndarray:
        n_native = int(round(self.segment_seconds * sr))
        try:
            data, _ = sf.read(str(path), start=start, frames=n_native, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioFileError(path, f"could not decode audio (truncated or corrupt): {exc}") from exc
        y = data.mean(axis=1) if self.channel == "mix" else data[:, int(self.channel)]
        if sr != self.cfg.sr:
            import librosa

            y = librosa.resample(np.ascontiguousarray(y), orig_sr=sr, target_sr=self.cfg.sr, res_type="soxr_hq")
        out = np.zeros(self.segment_samples, dtype=np.float32)
        m = min(out.size, y.size)
        out[:m] = y[:m]
        return out

    def next_with_info(self) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        """One batch with its provenance.

        Returns
        -------
        X : np.ndarray [shape=(n_vectors, frames * n_mels)], float32
            All context vectors of the 30-s mixture, in time order.
        is_anomalous : np.ndarray [shape=(n_vectors,)], bool
            True for the vectors whose centre frame overlaps the inserted sound.
        info : dict
            ``segments`` (list of ``(path, start in s)``), ``other`` (the something-else file), ``span``
            (``(start, stop)`` samples at ``cfg.sr`` in the mixture), ``anr_db``, ``mixture`` (the waveform,
            float32).
        """
        for _attempt in range(100):
            picks = self.rng.integers(0, len(self.segments), size=self.n_segments)
            segs = [self.segments[i] for i in picks]
            x = np.concatenate([self._read_segment(p, sr, st) for p, sr, st in segs])
            other_path = self.something_else[int(self.rng.integers(0, len(self.something_else)))]
            s, _ = load_audio(other_path, sr=self.cfg.sr, channel=self.channel)
            if s.size > x.size:
                c0 = int(self.rng.integers(0, s.size - x.size + 1))
                s = s[c0 : c0 + x.size]
            anr = float(self.rng.uniform(*self.anr_range))
            position = int(self.rng.integers(0, x.size - s.size + 1))
            try:
                y, span = mix_at_ratio(x, s, anr, position=position)
            except ValueError:  # silent segment or silent sound: ANR undefined, draw again
                continue
            break
        else:
            raise ValueError("something_else_paths: 100 draws in a row were silent (normal segment or sound)")
        with torch.inference_mode():
            S = self._logmel(torch.from_numpy(np.ascontiguousarray(y, dtype=np.float32))).cpu().numpy()
        X = stack_context(S, self.cfg.frames)
        lab = frame_labels(span, y.size, self.cfg)
        info = {
            "segments": [(p, st / sr) for p, sr, st in segs],
            "other": other_path,
            "span": span,
            "anr_db": anr,
            "mixture": y.astype(np.float32, copy=False),
        }
        return X, lab, info

    def next(self) -> tuple[np.ndarray, np.ndarray]:
        """One batch: ``(X_normal [shape=(N, d)], X_anomalous [shape=(M, d)])``, float32, ``d = frames * n_mels``."""
        X, lab, _ = self.next_with_info()
        return X[~lab], X[lab]

    def __iter__(self) -> PaperBatchBuilder:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray]:
        return self.next()
