"""Download, verify and safely extract the real data sets (habit 11: a hash registry, pooch does the work).

The kit never needs these files: every experiment runs on the embedded synthetic default
(``adskit reproduce --quick`` or :func:`adskit.audio.synth.ensure_synthetic`). The real data sets are for
reproducing the papers at full scale; ``data_scripts/get_*.py`` are thin command lines over this module.

Verification
    Every file has a known hash in :data:`REGISTRY` (pooch syntax, ``"md5:..."`` or ``"sha256:..."``) when
    one could be sourced from the publisher, with ``hash_note`` saying where it came from. Where no
    published hash exists, ``known_hash`` is None and :func:`fetch` refuses unless ``allow_unverified=True``;
    it then downloads, prints the SHA-256 it computed and records it in ``<data_dir>/registry.lock.json``
    (trust on first use). Later fetches verify against that record. Verification is never skipped silently.

Resumption
    Per file: a file already present under its final name and matching its hash is not downloaded again.
    A download streams into a temporary file next to the target (pooch) and is moved to its final name only
    after its hash matched, so an interrupted download leaves no partial file under the final name; the
    partial data is discarded and that one file starts again from byte 0 on the next call (no HTTP Range).
    Files already present are hashed again on every call (a 10 GB zip takes a few tens of seconds).

Extraction
    :func:`safe_extract` refuses absolute paths, drive letters, ``..`` escapes, links and device files,
    extracts into a temporary folder beside the target and moves files into place, never overwriting a
    differing user file unless asked, and records the archive hash in a marker so a second call is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

import pooch

from adskit._utils import atomic_write_json

__all__ = [
    "DATA_ENV",
    "REGISTRY",
    "DataSet",
    "DownloadError",
    "HashMismatchError",
    "RemoteFile",
    "UnsafeArchiveError",
    "UnverifiedDownloadError",
    "collect_by_prefix",
    "collect_short_clips",
    "data_dir",
    "dataset_dir",
    "describe",
    "fetch",
    "file_hash",
    "get_dataset",
    "list_datasets",
    "safe_extract",
]

DATA_ENV = "ADSKIT_DATA"
LOCK_NAME = "registry.lock.json"
SYNTHETIC_HINT = (
    "No network or no time? Every experiment of the kit runs on its embedded synthetic default: "
    "`adskit reproduce --quick` on the command line, or `adskit.audio.synth.ensure_synthetic()` in Python."
)


# --------------------------------------------------------------------------------------------- errors


class DownloadError(RuntimeError):
    """A file could not be downloaded (offline, refused connection, HTTP error)."""


class HashMismatchError(ValueError):
    """A downloaded or existing file does not match its known hash."""


class UnverifiedDownloadError(RuntimeError):
    """A file has no known hash and ``allow_unverified`` was not given."""


class UnsafeArchiveError(ValueError):
    """An archive member would write outside the target or is a link or device file."""


# ------------------------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file.

    Parameters
    ----------
    name : str
        File name on disk (also the key in ``registry.lock.json``).
    url : str
        Where to download it from.
    known_hash : str or None
        ``"md5:<hex>"`` or ``"sha256:<hex>"`` (pooch syntax), or None when no published hash exists.
    size : str or None
        Size as the publisher lists it (``"10.9 GB"``), None when unknown.
    hash_note : str
        Where the hash comes from, or why there is none.
    tags : tuple of str
        Labels used by the scripts to select files (machine type, SNR, part).
    """

    name: str
    url: str
    known_hash: str | None
    size: str | None = None
    hash_note: str = ""
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataSet:
    """A data set: its files, licence, citation and the layout the kit expects after extraction.

    ``extract`` is False for archives :func:`safe_extract` cannot open (ToyADMOS ships split 7z volumes).
    """

    name: str
    title: str
    homepage: str
    licence: str
    citation: str
    used_for: str
    layout: str
    files: tuple[RemoteFile, ...]
    extract: bool = True
    notes: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def select(self, names: Iterable[str] | None = None, tags: Iterable[str] | None = None) -> list[RemoteFile]:
        """Return the files named in ``names`` (all if None) that carry every tag in ``tags``."""
        files = list(self.files)
        if names is not None:
            wanted = list(names)
            known = {f.name: f for f in files}
            missing = [n for n in wanted if n not in known]
            if missing:
                raise KeyError(f"{self.name}: no file(s) {missing} in the registry; known: {sorted(known)}")
            files = [known[n] for n in wanted]
        if tags is not None:
            need = set(tags)
            files = [f for f in files if need <= set(f.tags)]
        return files


_DCASE2020_MD5 = {
    # Zenodo record 3678171 (development data). The publisher gives MD5 only; values as indexed in
    # soundata (soundata/datasets/dcase2020task2.py) and in /work/shared/FACTS.md.
    ("dev", "fan"): "649bdfc06263ae7a838963f43b6641e6",
    ("dev", "pump"): "90e7091ef722b7238a7f1009365779cd",
    ("dev", "slider"): "da24a757719f0d94d5aa2d646bbfdc86",
    ("dev", "ToyCar"): "4dec75ca8d9f666aa9e4c1894a740501",
    ("dev", "ToyConveyor"): "03b6aa1bfd09a39d53af0ba39f71fa91",
    ("dev", "valve"): "34d2672f55bb041589ef79c10dc89934",
    # Zenodo record 3727685 (additional training data), same source.
    ("additional", "fan"): "567798854130c8019df8b664c095ed1e",
    ("additional", "pump"): "4e33ae9c0db5cc88437675f5e317caee",
    ("additional", "slider"): "f84f186f4295fc23754abcdd1b0580a7",
    ("additional", "ToyCar"): "a5d4ccd498af70b04dd74b644b820006",
    ("additional", "ToyConveyor"): "0e808ac0b761e9fb13d5e0c65caff00d",
    ("additional", "valve"): "057cdd560caffb8305449541afd28c6d",
    # Zenodo record 3841772 (evaluation test data, no labels), same source.
    ("eval", "fan"): "1eb9356a768cadfd0f2e59a5c57e578b",
    ("eval", "pump"): "23a8f8f924be218c69df67fe07360348",
    ("eval", "slider"): "0193c769073840332ce3aad84b1ccaa2",
    ("eval", "ToyCar"): "bea2bdd612f616be8f2b8eb087b32c7c",
    ("eval", "ToyConveyor"): "ccfcc9847c7d3404d7ee9d6d9e0b2ba2",
    ("eval", "valve"): "f69c551d2088691050d20cccca9d631c",
}
_DCASE2020_PARTS = {
    "dev": ("3678171", "dev_data_{m}.zip"),
    "additional": ("3727685", "eval_data_train_{m}.zip"),
    "eval": ("3841772", "eval_data_test_{m}.zip"),
}
DCASE2020_MACHINES = ("fan", "pump", "slider", "valve", "ToyCar", "ToyConveyor")


def _dcase2020_files() -> tuple[RemoteFile, ...]:
    out = []
    for part, (record, pattern) in _DCASE2020_PARTS.items():
        for m in DCASE2020_MACHINES:
            name = pattern.format(m=m)
            out.append(
                RemoteFile(
                    name=name,
                    url=f"https://zenodo.org/records/{record}/files/{name}?download=1",
                    known_hash="md5:" + _DCASE2020_MD5[(part, m)],
                    hash_note=f"MD5 published with Zenodo record {record} (the publisher gives MD5 only)",
                    tags=(part, m),
                )
            )
    return tuple(out)


_MIMII_FILES = {
    # Zenodo record 3384388, file list with sizes and MD5s as published on the record page
    # (mirrored in github.com/datasets-mila/datasets--mimii README.rst). MD5 only.
    "-6_dB_fan.zip": ("10.9 GB", "f02ae808a58d84b6815b7ec38ff30879"),
    "-6_dB_pump.zip": ("8.2 GB", "d20b783a0ff9c93d58f452f98c37b112"),
    "-6_dB_slider.zip": ("8.0 GB", "49913eda7d37f182cbf8ed5c984140e0"),
    "-6_dB_valve.zip": ("8.0 GB", "fdfaf185fea61b21e11952a070a4ada7"),
    "0_dB_fan.zip": ("10.4 GB", "6354d1cc2165c52168f9ef1bcd9c7c52"),
    "0_dB_pump.zip": ("7.9 GB", "488748295c3f60b25de07b58fe75b049"),
    "0_dB_slider.zip": ("7.5 GB", "4d674c21474f0646ecd75546db6c0c4e"),
    "0_dB_valve.zip": ("7.5 GB", "178478eb0d11c79080a35562bfdeee71"),
    "6_dB_fan.zip": ("10.2 GB", "0890f7d3c2fd8448634e69ff1d66dd47"),
    "6_dB_pump.zip": ("7.7 GB", "a09ba6060c10fc09cd4c8770213b0b9f"),
    "6_dB_slider.zip": ("7.1 GB", "838c2b3441858359c4704ef13a1b27ff"),
    "6_dB_valve.zip": ("6.9 GB", "fe5fb7c337cd701b1d31dc641e621892"),
}


def _mimii_files() -> tuple[RemoteFile, ...]:
    out = []
    for name, (size, md5) in _MIMII_FILES.items():
        snr, _, machine = name.removesuffix(".zip").partition("_dB_")
        out.append(
            RemoteFile(
                name=name,
                url=f"https://zenodo.org/records/3384388/files/{name}?download=1",
                known_hash="md5:" + md5,
                size=size,
                hash_note="MD5 published with Zenodo record 3384388 (the publisher gives MD5 only)",
                tags=(f"{snr}dB", machine),
            )
        )
    return tuple(out)


_TOYADMOS_FILES = {
    # Zenodo record 3351307, as published on the record page (mirrored in
    # github.com/datasets-mila/datasets--toyadmos README.rst). MD5 only.
    "LICENSE.pdf": ("144.2 kB", "90cbf7388fdcd09f258a495df8b4ef94"),
    "ToyCar.7z.001": ("8.5 GB", "ffef80180201d9146a708f6c63584024"),
    "ToyCar.7z.002": ("8.5 GB", "3fc10f313d76218ba92e803c7226f38a"),
    "ToyCar.7z.003": ("8.5 GB", "8f2e73292d44a0005184b7d94879ca01"),
    "ToyCar.7z.004": ("8.5 GB", "8caabe9723eb589842bc7a197542e018"),
    "ToyCar.7z.005": ("8.5 GB", "ec55f4514382dc82314fbdf8f5b2ac18"),
    "ToyCar.7z.006": ("8.5 GB", "f3949e18659c79b6cf130f3b9541d0d8"),
    "ToyCar.7z.007": ("8.5 GB", "9d190a0fa008ee7cdcdc61f545acca0e"),
    "ToyCar.7z.008": ("8.5 GB", "ebde18535bca5ce0fe0e3a65efbfb2d5"),
    "ToyConveyor.7z.001": ("8.5 GB", "8f76b5ba31985eb6c5e5f6a19b6e66c8"),
    "ToyConveyor.7z.002": ("8.5 GB", "fc273f3783d77e8b2f442661ad96613f"),
    "ToyConveyor.7z.003": ("8.5 GB", "eec1b5e3566a00a2365a2c01c357ca89"),
    "ToyConveyor.7z.004": ("8.5 GB", "43f2a8b21a4d0e07fb0c860f9533df22"),
    "ToyConveyor.7z.005": ("8.5 GB", "ec26e80f8d90879e6b6977fd114a4756"),
    "ToyConveyor.7z.006": ("8.5 GB", "100225cf93fa8877596f63b0ba379f74"),
    "ToyConveyor.7z.007": ("6.9 GB", "aefee98e98356be0e67a48e418431248"),
    "ToyTrain.7z.001": ("8.5 GB", "b5b10b9b86ae8d9cfc7f9ed5002ebc63"),
    "ToyTrain.7z.002": ("8.5 GB", "886bb09049e303c8cb5fd484dd76cd47"),
    "ToyTrain.7z.003": ("8.5 GB", "e05330cba4367ed529aef1a15dc0fff6"),
    "ToyTrain.7z.004": ("8.5 GB", "cd8e3e80df255d8b4bf52d6a7a6bac3b"),
    "ToyTrain.7z.005": ("8.5 GB", "f2f1b229459835816a925da7795b285a"),
    "ToyTrain.7z.006": ("8.5 GB", "5e41c156b71bbca57bba51bf05076c3d"),
    "ToyTrain.7z.007": ("8.5 GB", "3defb3d43081161bf86c96806c9ba4b1"),
    "ToyTrain.7z.008": ("8.5 GB", "ee5d2055e706291dbcf656c95784455e"),
    "ToyTrain.7z.009": ("2.7 GB", "d36d21abaa745994272416b17b8bed45"),
}


def _toyadmos_files() -> tuple[RemoteFile, ...]:
    out = []
    for name, (size, md5) in _TOYADMOS_FILES.items():
        subset = name.split(".")[0]
        tags = ("licence",) if subset == "LICENSE" else (subset,)
        out.append(
            RemoteFile(
                name=name,
                url=f"https://zenodo.org/records/3351307/files/{name}?download=1",
                known_hash="md5:" + md5,
                size=size,
                hash_note="MD5 published with Zenodo record 3351307 (the publisher gives MD5 only)",
                tags=tags,
            )
        )
    return tuple(out)


_NO_HASH_ZENODO = (
    "no hash sourced for this file: Zenodo lists an MD5 on the record page, but the kit could not read it "
    "from here; fetch refuses unless allow_unverified=True (trust on first use, recorded in "
    "registry.lock.json). Check the printed hash against the record page and send it upstream."
)

REGISTRY: dict[str, DataSet] = {
    "dcase2020_task2": DataSet(
        name="dcase2020_task2",
        title="DCASE 2020 Challenge Task 2 (development, additional training and evaluation data)",
        homepage="https://zenodo.org/records/3678171",
        licence="CC BY-NC-SA 4.0",
        citation=(
            "Koizumi et al., 'Description and discussion on DCASE2020 Challenge Task2: unsupervised "
            "anomalous sound detection for machine condition monitoring', DCASE 2020 Workshop; plus the "
            "ToyADMOS (WASPAA 2019) and MIMII (DCASE 2019) papers"
        ),
        used_for="machine sounds: train on normal clips, test on normal + anomalous clips (AUC / pAUC)",
        layout=(
            "<machine_type>/train/normal_id_XX_*.wav and <machine_type>/test/{normal,anomaly}_id_XX_*.wav, "
            "16 kHz mono, 10 s"
        ),
        files=_dcase2020_files(),
    ),
    "mimii": DataSet(
        name="mimii",
        title="MIMII: sound dataset for malfunctioning industrial machine investigation and inspection",
        homepage="https://zenodo.org/records/3384388",
        licence="CC BY-SA 4.0",
        citation=(
            "Purohit et al., 'MIMII Dataset: sound dataset for malfunctioning industrial machine "
            "investigation and inspection', DCASE 2019 Workshop (arXiv:1909.09347)"
        ),
        used_for="real machine sounds (fan, pump, slider, valve) at -6 / 0 / 6 dB SNR, 8 channels",
        layout=(
            "per machine type: id_00, id_02, id_04, id_06, each with normal/ and abnormal/ WAVs "
            "(16 kHz, 8 channels, 10 s)"
        ),
        files=_mimii_files(),
    ),
    "toyadmos": DataSet(
        name="toyadmos",
        title="ToyADMOS: miniature-machine operating sounds for anomalous sound detection",
        homepage="https://zenodo.org/records/3351307",
        licence="see LICENSE.pdf in the Zenodo record (downloaded with every subset)",
        citation=(
            "Koizumi et al., 'ToyADMOS: a dataset of miniature-machine operating sounds for anomalous sound "
            "detection', WASPAA 2019"
        ),
        used_for="toy car / conveyor / train sounds at 48 kHz, 4 microphones",
        layout="split 7z volumes <subset>.7z.001...; extract with 7-Zip: `7z x ToyCar.7z.001`",
        files=_toyadmos_files(),
        extract=False,
        notes="safe_extract opens zip and tar only; the kit verifies the volumes and prints the 7z command.",
    ),
    "toy_car_running": DataSet(
        name="toy_car_running",
        title="Toy-car-running data set of the batch-uniformization paper",
        homepage="https://archive.org/details/toy_car_running_dataset",
        licence="see the archive.org item page",
        citation=(
            "Koizumi et al., 'Batch uniformization for minimizing maximum anomaly score of DNN-based anomaly "
            "detection in sounds', WASPAA 2019 (arXiv:1907.08338)"
        ),
        used_for="batch-uniformization experiment (rare vs frequent normal sounds)",
        layout="as published in the archive.org item (file names are given on the command line)",
        files=(),
        notes=(
            "The kit knows the archive.org item but not its file names or hashes. Pass the names from the "
            "item page (`--file NAME`); archive.org lists an MD5 for every file in <item>_files.xml, which "
            "you may pass as `--known-hash md5:...`; otherwise the download is trust on first use."
        ),
        extra={"base_url": "https://archive.org/download/toy_car_running_dataset/"},
    ),
    "fsdkaggle2018": DataSet(
        name="fsdkaggle2018",
        title="FSDKaggle2018 (Freesound general-purpose audio tagging), used as 'something-else' sounds",
        homepage="https://zenodo.org/records/2552860",
        licence=("CC BY 4.0 for the data set; each clip keeps its Freesound licence (listed in the meta files)"),
        citation=(
            "Fonseca et al., 'General-purpose tagging of Freesound audio with AudioSet labels: task "
            "description, dataset, and baseline', DCASE 2018 Workshop"
        ),
        used_for="something-else sounds: training clips shorter than 5 s (--max-duration 5)",
        layout="FSDKaggle2018.audio_train/*.wav, FSDKaggle2018.meta/*.csv; something_else/ holds the copies",
        files=tuple(
            RemoteFile(
                name=n,
                url=f"https://zenodo.org/records/2552860/files/{n}?download=1",
                known_hash=None,
                hash_note=_NO_HASH_ZENODO,
                tags=(tag,),
            )
            for n, tag in (
                ("FSDKaggle2018.audio_train.zip", "audio_train"),
                ("FSDKaggle2018.meta.zip", "meta"),
                ("FSDKaggle2018.audio_test.zip", "audio_test"),
                ("FSDKaggle2018.doc.zip", "doc"),
            )
        ),
    ),
    "dcase2016_task2": DataSet(
        name="dcase2016_task2",
        title="DCASE 2016 Task 2 (sound event detection in synthetic audio), isolated training events",
        homepage="https://archive.org/details/dcase2016_task2_train_dev",
        licence="not stated by the kit: read the README inside the archive before redistributing",
        citation=(
            "Mesaros et al., 'Detection and classification of acoustic scenes and events: outcome of the "
            "DCASE 2016 challenge', IEEE/ACM TASLP 26(2), 2018"
        ),
        used_for="test anomalies: door slam, door knock, keys, keyboard, drawer, page turn, phone (20 each)",
        layout="dcase2016_task2_train_dev/dcase2016_task2_train/<class>NNN.wav (44.1 kHz); "
        "test_anomalies/<class>/ holds the copies",
        files=(
            RemoteFile(
                name="dcase2016_task2_train_dev.zip",
                url="https://archive.org/download/dcase2016_task2_train_dev/dcase2016_task2_train_dev.zip",
                known_hash="md5:4e1b5e8887159193e8624dec801eb9e7",
                hash_note=(
                    "MD5 of the archive.org mirror as pinned by the HEAR benchmark "
                    "(hearbenchmark/hear-preprocess, hearpreprocess/dcase2016_task2.py), not a hash "
                    "published by the DCASE 2016 organisers"
                ),
                tags=("train_dev",),
            ),
        ),
    ),
}

#: The seven DCASE 2016 Task 2 classes used as test anomalies, as file-name prefixes.
DCASE2016_ANOMALY_CLASSES = ("doorslam", "knock", "keysDrop", "keyboard", "drawer", "pageturn", "phone")


def list_datasets() -> list[str]:
    """Names of the registered data sets, sorted."""
    return sorted(REGISTRY)


def get_dataset(name: str | DataSet) -> DataSet:
    """Return the registry entry ``name`` (a :class:`DataSet` passes through)."""
    if isinstance(name, DataSet):
        return name
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown data set {name!r}; known: {list_datasets()}") from None


def describe(name: str | DataSet, files: Sequence[RemoteFile] | None = None) -> str:
    """A human-readable listing: files, URLs, sizes, hashes and where each hash came from (no network)."""
    ds = get_dataset(name)
    files = ds.files if files is None else files
    lines = [
        f"{ds.title}",
        f"  name:     {ds.name}",
        f"  homepage: {ds.homepage}",
        f"  licence:  {ds.licence}",
        f"  cite:     {ds.citation}",
        f"  used for: {ds.used_for}",
        f"  layout:   {ds.layout}",
    ]
    if ds.notes:
        lines.append(f"  note:     {ds.notes}")
    lines.append(f"  files ({len(files)}):")
    for f in files:
        lines.append(f"    {f.name}  [{f.size or 'size unknown'}]  {', '.join(f.tags)}")
        lines.append(f"      url:  {f.url}")
        lines.append(f"      hash: {f.known_hash or 'NONE (trust on first use with --allow-unverified)'}")
        if f.hash_note:
            lines.append(f"      from: {f.hash_note}")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ locations


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """Root folder for downloaded data: ``path`` if given, else ``$ADSKIT_DATA``, else ``~/.cache/adskit``."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path(pooch.os_cache("adskit"))


_data_dir = data_dir  # fetch() takes a `data_dir` argument that shadows the function


def dataset_dir(name: str | DataSet, root: str | os.PathLike | None = None) -> Path:
    """Folder of one data set under :func:`data_dir`; downloads go to its ``downloads/`` subfolder."""
    return _data_dir(root) / get_dataset(name).name


# --------------------------------------------------------------------------------------------- hashes


def file_hash(path: str | os.PathLike, alg: str = "sha256", chunk: int = 1 << 20) -> str:
    """Hex digest of a file, read in chunks (``alg`` is any :mod:`hashlib` name, e.g. md5, sha256)."""
    h = hashlib.new(alg)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _split_hash(known: str) -> tuple[str, str]:
    alg, sep, value = known.partition(":")
    if not sep:  # pooch treats a bare hex string as SHA-256
        alg, value = "sha256", known
    alg = alg.lower()
    if alg not in {"md5", "sha1", "sha256", "sha512"}:
        raise ValueError(f"unsupported hash algorithm in {known!r}")
    return alg, value.lower()


def _read_lock(root: Path) -> dict:
    path = root / LOCK_NAME
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RuntimeError(f"{path}: unreadable ({exc}); fix or delete it (it only holds recorded hashes)") from exc


def _record_lock(root: Path, key: str, entry: dict) -> None:
    lock = _read_lock(root)
    lock[key] = entry
    atomic_write_json(root / LOCK_NAME, dict(sorted(lock.items())))


# ---------------------------------------------------------------------------------------------- fetch


class _HashingDownloader:
    """Wrap pooch's HTTPDownloader to remember the hash of what it downloaded (for clear mismatch errors)."""

    def __init__(self, alg: str, progress: bool):
        self.alg = alg
        self.inner = pooch.HTTPDownloader(progressbar=progress, timeout=60)
        self.actual: str | None = None

    def __call__(self, url, output_file, pooch_obj, check_only=False):
        self.inner(url, output_file, pooch_obj)
        self.actual = file_hash(output_file, self.alg)


def _offline_message(url: str, target: Path, known_hash: str | None, exc: BaseException) -> str:
    check = f"it will be verified against {known_hash}" if known_hash else "it has no published hash"
    return (
        f"could not download {url}\n"
        f"  to:     {target}\n"
        f"  reason: {type(exc).__name__}: {exc}\n"
        f"To do it by hand: download {url} with a browser or curl on a machine with internet access, put the "
        f"file at {target} and run the same command again ({check}).\n"
        f"{SYNTHETIC_HINT}"
    )


def fetch(
    name: str | DataSet,
    files: Iterable[str] | None = None,
    data_dir: str | os.PathLike | None = None,
    allow_unverified: bool = False,
    progress: bool = True,
    *,
    tags: Iterable[str] | None = None,
) -> list[Path]:
    """Download and verify files of a registered data set; return their local paths.

    Parameters
    ----------
    name : str or DataSet
        Registry key (see :func:`list_datasets`) or a :class:`DataSet` (tests use one on 127.0.0.1).
    files : iterable of str, optional
        File names to fetch; all files of the data set if None.
    data_dir : path-like, optional
        Root folder; default ``$ADSKIT_DATA`` or ``~/.cache/adskit``. Files land in
        ``<data_dir>/<name>/downloads/``.
    allow_unverified : bool
        Allow files without a known hash: download, print the SHA-256 and record it in
        ``<data_dir>/registry.lock.json`` (trust on first use). Later calls verify against that record.
    progress : bool
        Show a progress bar (tqdm).
    tags : iterable of str, optional
        Keep only files carrying all these tags (e.g. ``["dev", "fan"]``).

    Returns
    -------
    list of Path
        Local paths, in the order of ``files`` (or of the registry).

    Raises
    ------
    DownloadError
        Offline, connection refused or HTTP error; the message names the URL, the target path, the manual
        steps and the synthetic default.
    HashMismatchError
        The downloaded (or already present) file does not match its hash; the bad download is deleted.
    UnverifiedDownloadError
        A file has no known hash and ``allow_unverified`` is False; nothing is downloaded.

    Examples
    --------
    >>> fetch("dcase2020_task2", tags=["dev", "fan"])  # doctest: +SKIP
    [PosixPath('/home/me/.cache/adskit/dcase2020_task2/downloads/dev_data_fan.zip')]
    """
    import requests  # pooch depends on it; imported here to keep `import adskit` light

    ds = get_dataset(name)
    root = _data_dir(data_dir)
    folder = root / ds.name / "downloads"
    selected = ds.select(files, tags)
    lock = _read_lock(root)

    # Refuse before touching the network if any file has neither a registry hash nor a recorded one.
    unverifiable = [f for f in selected if f.known_hash is None and f"{ds.name}/{f.name}" not in lock]
    if unverifiable and not allow_unverified:
        listing = "\n".join(f"  {f.name}: {f.url}\n    ({f.hash_note or 'no published hash'})" for f in unverifiable)
        raise UnverifiedDownloadError(
            f"{ds.name}: no published hash for {len(unverifiable)} file(s), so they cannot be verified:\n"
            f"{listing}\n"
            "Refusing to download them unverified. If you accept that (trust on first use), run again with "
            "--allow-unverified (allow_unverified=True in Python): the kit downloads, prints the SHA-256 it "
            f"computed and records it in {root / LOCK_NAME}; later fetches verify against that record.\n"
            f"{SYNTHETIC_HINT}"
        )

    paths = []
    for f in selected:
        key = f"{ds.name}/{f.name}"
        target = folder / f.name
        recorded = lock.get(key, {}).get("sha256")
        expected = f.known_hash or (f"sha256:{recorded}" if recorded else None)

        if target.exists():
            if expected is not None:
                alg, value = _split_hash(expected)
                actual = file_hash(target, alg)
                if actual != value:
                    raise HashMismatchError(
                        f"{target} exists but its {alg} is {actual}, expected {value} ({f.url}).\n"
                        "The kit does not delete files it did not write: move or delete it, then run again."
                    )
                paths.append(target)
                continue
            # present, no hash anywhere, allow_unverified given: hash it and record (trust on first use)
            _record_tofu(root, key, f, target)
            paths.append(target)
            continue

        alg = _split_hash(expected)[0] if expected else "sha256"
        downloader = _HashingDownloader(alg, progress)
        try:
            pooch.retrieve(
                f.url,
                known_hash=expected,
                fname=f.name,
                path=folder,
                downloader=downloader,
                progressbar=progress,
            )
        except ValueError as exc:
            if expected is None or "hash" not in str(exc).lower():
                raise
            _, value = _split_hash(expected)
            raise HashMismatchError(
                f"{f.name}: the download from {f.url} has {alg} {downloader.actual or '(unknown)'}, "
                f"expected {value}. The download was deleted and nothing was written to {target}.\n"
                "The file may be corrupted in transit or changed upstream; try again, and if it persists, "
                "report it (the registry may need updating)."
            ) from exc
        except (requests.exceptions.RequestException, OSError) as exc:
            raise DownloadError(_offline_message(f.url, target, expected, exc)) from exc

        if expected is None:
            _record_tofu(root, key, f, target)
        elif f.known_hash is not None and key not in lock:
            # Verified against the publisher's hash: also record the SHA-256 for future registry upgrades.
            _record_lock(
                root,
                key,
                {
                    "url": f.url,
                    "sha256": file_hash(target) if alg != "sha256" else _split_hash(expected)[1],
                    "verified_with": f.known_hash,
                    "recorded": _now(),
                },
            )
        paths.append(target)
    return paths


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _record_tofu(root: Path, key: str, f: RemoteFile, target: Path) -> None:
    sha = file_hash(target)
    _record_lock(
        root,
        key,
        {"url": f.url, "sha256": sha, "verified_with": "trust-on-first-use", "recorded": _now()},
    )
    print(
        f"UNVERIFIED (trust on first use): {target}\n"
        f"  sha256:{sha}\n"
        f"  recorded in {root / LOCK_NAME}; later fetches verify against it. Compare it with the publisher's "
        f"page ({f.url}) if it lists a checksum.",
        file=sys.stderr,
    )


# ------------------------------------------------------------------------------------------ extraction

_DRIVE = re.compile(r"^[A-Za-z]:")
MARKER_PREFIX = ".adskit-extracted-"


def _check_member_name(name: str, archive: Path, target: Path) -> PurePosixPath:
    norm = name.replace("\\", "/")
    if not norm or "\x00" in norm:
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an empty or NUL-containing name")
    if norm.startswith("/"):
        raise UnsafeArchiveError(f"{archive}: member {name!r} is an absolute path; refusing to extract")
    if _DRIVE.match(norm):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has a drive letter; refusing to extract")
    rel = PurePosixPath(norm)
    if ".." in rel.parts:
        raise UnsafeArchiveError(f"{archive}: member {name!r} contains '..' and could escape {target}")
    dest = (target / rel).resolve()
    if not dest.is_relative_to(target.resolve()):
        raise UnsafeArchiveError(f"{archive}: member {name!r} would be written outside {target}")
    return PurePosixPath(*[p for p in rel.parts if p not in ("", ".")])


def _zip_members(zf: zipfile.ZipFile, archive: Path, target: Path):
    for info in zf.infolist():
        rel = _check_member_name(info.filename, archive, target)
        mode = (info.external_attr >> 16) & 0xFFFF
        kind = stat.S_IFMT(mode)
        if kind == stat.S_IFLNK:
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a symbolic link; refusing to extract")
        if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise UnsafeArchiveError(f"{archive}: member {info.filename!r} is a special file; refusing to extract")
        yield rel, info.is_dir(), (lambda info=info: zf.open(info))


def _tar_members(tf: tarfile.TarFile, archive: Path, target: Path):
    for m in tf.getmembers():
        rel = _check_member_name(m.name, archive, target)
        if m.issym():
            raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a symbolic link; refusing to extract")
        if m.islnk():
            raise UnsafeArchiveError(f"{archive}: member {m.name!r} is a hard link; refusing to extract")
        if not (m.isfile() or m.isdir()):
            raise UnsafeArchiveError(
                f"{archive}: member {m.name!r} is a device, FIFO or other special file; refusing to extract"
            )
        yield rel, m.isdir(), (lambda m=m: tf.extractfile(m))


def _same_content(a: Path, b: Path) -> bool:
    return a.stat().st_size == b.stat().st_size and file_hash(a) == file_hash(b)


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike, *, overwrite: bool = False) -> list[Path]:
    """Extract a zip or tar(.gz/.bz2/.xz) archive into ``target`` safely; return the extracted file paths.

    Every member is checked before anything is written: absolute paths, drive letters, ``..`` escapes,
    symbolic and hard links, device files and FIFOs raise :class:`UnsafeArchiveError` naming the member and
    the archive. Files are extracted into a temporary folder beside ``target`` (same file system) and then
    moved into place. An existing identical file is left alone; an existing differing file raises
    ``FileExistsError`` (before anything is moved) unless ``overwrite=True``. A marker
    ``target/.adskit-extracted-<archive name>.json`` records the archive's SHA-256: a second call with the
    same archive returns at once. No permission bits, owners or times are taken from the archive.

    Parameters
    ----------
    archive : path-like
        The ``.zip``, ``.tar``, ``.tar.gz``/``.tgz``, ``.tar.bz2`` or ``.tar.xz`` file.
    target : path-like
        Destination folder (created if needed).
    overwrite : bool
        Replace existing files whose content differs from the archive's.

    Returns
    -------
    list of Path
        Paths of the regular files of the archive, under ``target``.
    """
    archive = Path(archive)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    digest = file_hash(archive)
    marker = target / f"{MARKER_PREFIX}{archive.name}.json"
    if marker.exists():
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            info = {}
        listed = [target / p for p in info.get("files", [])]
        if info.get("sha256") == digest and all(p.is_file() for p in listed):
            return listed

    if zipfile.is_zipfile(archive):
        opener, members = zipfile.ZipFile, _zip_members
    elif tarfile.is_tarfile(archive):
        opener, members = (lambda p: tarfile.open(p, mode="r:*")), _tar_members
    else:
        raise ValueError(f"{archive}: not a zip or tar archive (7z volumes are extracted with 7-Zip)")

    staging = Path(tempfile.mkdtemp(prefix=f".adskit-extract-{archive.name}-", dir=target.parent))
    try:
        rels = []
        with opener(archive) as arc:
            checked = list(members(arc, archive, target))  # validates every member before writing anything
            for rel, is_dir, open_member in checked:
                out = staging.joinpath(*rel.parts)
                if is_dir:
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                src = open_member()
                if src is None:
                    raise UnsafeArchiveError(f"{archive}: member {str(rel)!r} has no readable content")
                with src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                rels.append(rel)

        conflicts = []
        for rel in rels:
            dest = target.joinpath(*rel.parts)
            if dest.is_symlink() or (dest.exists() and not dest.is_file()):
                conflicts.append(f"{dest} (not a regular file)")
            elif dest.exists() and not overwrite and not _same_content(dest, staging.joinpath(*rel.parts)):
                conflicts.append(str(dest))
        if conflicts:
            shown = "\n  ".join(conflicts[:10]) + ("\n  ..." if len(conflicts) > 10 else "")
            raise FileExistsError(
                f"{archive}: {len(conflicts)} file(s) already exist in {target} with different content:\n  "
                f"{shown}\nNothing was changed. Move them away, or pass overwrite=True (--overwrite) to "
                "replace them."
            )
        for rel in rels:
            src = staging.joinpath(*rel.parts)
            dest = target.joinpath(*rel.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if dest.exists() and not overwrite:
                continue  # identical (checked above)
            os.replace(src, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)

    atomic_write_json(
        marker,
        {"archive": archive.name, "sha256": digest, "files": [str(r) for r in rels], "extracted": _now()},
    )
    return [target.joinpath(*r.parts) for r in rels]


# ----------------------------------------------------------------------------------- post-processing


def _copy_new(src: Path, dest: Path) -> Path:
    """Copy ``src`` to ``dest`` unless an identical file is there; refuse to replace a differing one."""
    if dest.exists():
        if _same_content(src, dest):
            return dest
        raise FileExistsError(f"{dest} exists with different content; not replacing it with {src}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    shutil.copy2(src, tmp)
    os.replace(tmp, dest)
    return dest


def collect_short_clips(
    src: str | os.PathLike, dst: str | os.PathLike, max_duration: float = 5.0, pattern: str = "*.wav"
) -> list[Path]:
    """Copy audio files shorter than ``max_duration`` seconds from ``src`` (recursively) into ``dst``.

    Copies, never moves: the extracted data set stays intact. Used for the FSDKaggle2018
    'something-else' sounds (the paper keeps training clips shorter than 5 s). Returns the copies, sorted.
    """
    import soundfile as sf

    if max_duration <= 0:
        raise ValueError(f"max_duration: expected a number > 0, got {max_duration!r}")
    src, dst = Path(src), Path(dst)
    out = []
    for path in sorted(src.rglob(pattern)):
        if dst in path.parents:
            continue
        info = sf.info(str(path))
        if info.frames / info.samplerate < max_duration:
            out.append(_copy_new(path, dst / path.name))
    return out


def collect_by_prefix(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    prefixes: Sequence[str] = DCASE2016_ANOMALY_CLASSES,
    per_class: int | None = 20,
    pattern: str = "*.wav",
) -> dict[str, list[Path]]:
    """Copy files whose name is ``<prefix><digits>.wav`` into ``dst/<prefix>/``, at most ``per_class`` each.

    Used for the DCASE 2016 Task 2 test anomalies (7 classes, 20 files each). Copies, never moves.
    Returns ``{prefix: [copied paths]}``; files are taken in sorted name order.
    """
    src, dst = Path(src), Path(dst)
    out: dict[str, list[Path]] = {}
    for prefix in prefixes:
        rx = re.compile(rf"^{re.escape(prefix)}\d+\.wav$", re.IGNORECASE)
        found = sorted(p for p in src.rglob(pattern) if rx.match(p.name) and dst not in p.parents)
        if per_class is not None:
            found = found[:per_class]
        out[prefix] = [_copy_new(p, dst / prefix / p.name) for p in found]
    return out
