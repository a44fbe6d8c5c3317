"""Data sets as folders of audio files: labels from names or a CSV, filters, a train/test split, known layouts.

:class:`FolderDataset` holds the clips (:class:`adskit.audio.clips.Clip`) of any folder of WAV / FLAC / OGG
files, with labels read from the DCASE, MIMII or ToyADMOS file and folder names
(:func:`adskit.audio.clips.parse_clip`) or from a ``file,label`` CSV, ``train`` / ``test`` subsets from the
folder names, and :meth:`FolderDataset.split_train_test` for a folder of normal clips only.
:func:`dcase2020_dev`, :func:`mimii`, :func:`toyadmos`, :func:`toy_car` and :func:`synthetic` are the known
layouts.

Examples
--------
>>> import numpy as np, tempfile, os
>>> from adskit.audio.io import save_audio
>>> root = tempfile.mkdtemp()
>>> for i in range(3):
...     _ = save_audio(os.path.join(root, "fan", "train", f"normal_id_00_{i:08d}.wav"), np.zeros(1600), 16000)
>>> ds = FolderDataset(root)
>>> len(ds), ds[0].label, ds[0].machine, ds[0].split
(3, 0, 'fan', 'train')
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from adskit.audio.clips import _SNR_RE, LAYOUTS, Clip, _apply_label_csv, parse_clip
from adskit.audio.io import AUDIO_EXTENSIONS
from adskit.audio.synth import read_manifest

__all__ = ["FolderDataset", "dcase2020_dev", "mimii", "synthetic", "toy_car", "toyadmos"]


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
            clips = _apply_label_csv(root, clips, Path(labels).expanduser())
        self.root = root
        self.layout = layout
        self.clips: list[Clip] = clips
        if machine is not None:
            self.clips = self.filter(machine=machine).clips

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

        Raises
        ------
        ValueError
            ``test_fraction`` not in (0, 1).
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

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder.
    ValueError
        A ``machine`` the folder does not have.
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

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder.
    ValueError
        A ``machine`` the folder does not have, or an ``snr`` that is not a number of dB.
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

    Raises
    ------
    FileNotFoundError, ValueError
        ``root`` is not a folder; a ``machine`` the folder does not have.
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

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder.
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

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder or holds no ``manifest.json``.
    ValueError
        A manifest this generator did not write (see :func:`adskit.audio.synth.read_manifest`), an unknown
        ``what``, or a ``machine`` the data set does not have.
    """
    r = _check_root(root, "synthetic data set").resolve()
    records = read_manifest(r)["files"]
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
