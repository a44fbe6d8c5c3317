"""Shared command-line plumbing for the ``get_*.py`` scripts (one thin script per data set).

Every script takes ``--data-dir`` (default :func:`adskit.audio.paths.data_dir`: ``$ADSKIT_DATA``, else the
user cache folder, ``~/.cache/adskit`` on Linux), ``--allow-unverified``, ``--list`` (print files, URLs,
sizes and hashes without touching the network), ``--overwrite`` and ``--no-progress``. Exit codes: 0 done,
2 download / verification refused or failed (the message says why and what to do).
"""

from __future__ import annotations

import argparse
import sys
import tarfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

try:
    from adskit.audio import download as dl
except ImportError:  # running from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from adskit.audio import download as dl


def build_parser(name: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every data script shares."""
    ds = dl.get_dataset(name)
    parser = argparse.ArgumentParser(
        description=f"{description}\n\nLicence: {ds.licence}\nHomepage: {ds.homepage}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help=(
            f"root folder for data (default: ${dl.DATA_ENV}, else the user cache folder, now {dl.data_dir()}); "
            f"files go to <root>/{name}/"
        ),
    )
    parser.add_argument(
        "--allow-unverified",
        action="store_true",
        help="download files without a published hash; print and record their SHA-256 (trust on first use)",
    )
    parser.add_argument("--list", action="store_true", help="print files, URLs, sizes and hashes; download nothing")
    parser.add_argument("--overwrite", action="store_true", help="replace extracted files whose content differs")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def is_archive(path: Path) -> bool:
    """True for a zip or tar file (what :func:`adskit.audio.download.safe_extract` opens)."""
    return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)


def run(
    args: argparse.Namespace,
    dataset: str | dl.DataSet,
    files: Sequence[dl.RemoteFile],
    *,
    extract_to: Callable[[dl.RemoteFile], str] | str = "extracted",
    post: Callable[[Path], None] | None = None,
) -> int:
    """List, or fetch + verify + extract ``files`` of ``dataset``, then run ``post(dataset_folder)``."""
    ds = dl.get_dataset(dataset)
    if args.list:
        print(dl.describe(ds, files))
        return 0
    if not files:
        print(f"error: nothing selected from {ds.name}; see --list and --help", file=sys.stderr)
        return 2
    try:
        paths = dl.fetch(
            ds,
            [f.name for f in files],
            data_dir=args.data_dir,
            allow_unverified=args.allow_unverified,
            progress=not args.no_progress,
        )
    except (dl.DownloadError, dl.UnverifiedDownloadError, dl.HashMismatchError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    folder = dl.dataset_dir(ds, args.data_dir)
    for f, path in zip(files, paths, strict=True):
        print(f"verified  {path}")
        if not ds.extract or not is_archive(path):
            continue
        sub = extract_to(f) if callable(extract_to) else extract_to
        try:
            out = dl.safe_extract(path, folder / sub, overwrite=args.overwrite)
        except (dl.UnsafeArchiveError, FileExistsError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"extracted {len(out)} file(s) to {folder / sub}")
    if post is not None:
        post(folder)
    return 0
