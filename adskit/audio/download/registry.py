"""The registry of real data sets: every file with its URL, size and known hash (habit 11: a hash registry).

Every file has a known hash (pooch syntax, ``"md5:..."`` or ``"sha256:..."``) when one could be sourced from
the publisher, with ``hash_note`` saying where it came from; where no published hash exists, ``known_hash``
is None and :func:`adskit.audio.download.fetch` refuses unless ``allow_unverified=True``. Nothing here
touches the network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = [
    "DCASE2016_ANOMALY_CLASSES",
    "DCASE2020_MACHINES",
    "REGISTRY",
    "DataSet",
    "RemoteFile",
    "describe",
    "get_dataset",
    "list_datasets",
]


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
        """Return the files named in ``names`` (all if None) that carry every tag in ``tags``.

        Parameters
        ----------
        names : iterable of str or None
            File names, in the order wanted; None keeps every file of the data set.
        tags : iterable of str or None
            Keep only files carrying all these tags (e.g. ``["dev", "fan"]``).

        Returns
        -------
        list of RemoteFile

        Raises
        ------
        KeyError
            A name in ``names`` is not a file of this data set (the message lists the known names).
        """
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


def _zenodo_md5_file(record: str, name: str, md5: str, tags: tuple[str, ...], size: str | None = None) -> RemoteFile:
    """A file of a Zenodo record whose page publishes its MD5 (Zenodo gives MD5 only)."""
    return RemoteFile(
        name=name,
        url=f"https://zenodo.org/records/{record}/files/{name}?download=1",
        known_hash="md5:" + md5,
        size=size,
        hash_note=f"MD5 published with Zenodo record {record} (the publisher gives MD5 only)",
        tags=tags,
    )


def _dcase2020_files() -> tuple[RemoteFile, ...]:
    return tuple(
        _zenodo_md5_file(record, pattern.format(m=m), _DCASE2020_MD5[(part, m)], (part, m))
        for part, (record, pattern) in _DCASE2020_PARTS.items()
        for m in DCASE2020_MACHINES
    )


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


def _mimii_tags(name: str) -> tuple[str, str]:
    """``("-6dB", "fan")`` for ``"-6_dB_fan.zip"``."""
    snr, _, machine = name.removesuffix(".zip").partition("_dB_")
    return f"{snr}dB", machine


def _mimii_files() -> tuple[RemoteFile, ...]:
    return tuple(
        _zenodo_md5_file("3384388", name, md5, _mimii_tags(name), size) for name, (size, md5) in _MIMII_FILES.items()
    )


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
        out.append(_zenodo_md5_file("3351307", name, md5, tags, size))
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
    """Return the registry entry ``name`` (a :class:`DataSet` passes through).

    Parameters
    ----------
    name : str or DataSet
        A key of :data:`REGISTRY` (see :func:`list_datasets`).

    Returns
    -------
    DataSet

    Raises
    ------
    KeyError
        ``name`` is not registered (the message lists the known names).
    """
    if isinstance(name, DataSet):
        return name
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown data set {name!r}; known: {list_datasets()}") from None


def describe(name: str | DataSet, files: Sequence[RemoteFile] | None = None) -> str:
    """A human-readable listing: files, URLs, sizes, hashes and where each hash came from (no network).

    Parameters
    ----------
    name : str or DataSet
        A registered data set (see :func:`get_dataset`).
    files : sequence of RemoteFile or None
        The files to list; all files of the data set if None.

    Returns
    -------
    str
        One block of lines, ready to print.

    Raises
    ------
    KeyError
        ``name`` is not registered.
    """
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
