"""Safe extraction of downloaded archives, and the collectors that copy the files an experiment uses.

:func:`safe_extract` refuses absolute paths, drive letters, ``..`` escapes, links and device files,
extracts into a temporary folder beside the target and moves files into place, never overwriting a
differing user file unless asked, and records the archive hash in a marker so a second call is a no-op.
The collectors copy (never move) files out of an extracted data set.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import soundfile as sf

from adskit._utils import atomic_write_json
from adskit.audio.download.fetch import _now, file_hash
from adskit.audio.download.registry import DCASE2016_ANOMALY_CLASSES

__all__ = ["MARKER_PREFIX", "UnsafeArchiveError", "collect_by_prefix", "collect_short_clips", "safe_extract"]


class UnsafeArchiveError(ValueError):
    """An archive member would write outside the target or is a link or device file."""


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


def _marked_files(marker: Path, target: Path, digest: str) -> list[Path] | None:
    """The files a marker lists, if it records this archive digest and they are all still there."""
    if not marker.exists():
        return None
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        info = {}
    listed = [target / p for p in info.get("files", [])]
    return listed if info.get("sha256") == digest and all(p.is_file() for p in listed) else None


def _reader(archive: Path):
    """``(open, members)`` for a zip or tar archive: the opener and its checked-member iterator."""
    if zipfile.is_zipfile(archive):
        return zipfile.ZipFile, _zip_members
    if tarfile.is_tarfile(archive):
        return (lambda p: tarfile.open(p, mode="r:*")), _tar_members
    raise ValueError(f"{archive}: not a zip or tar archive (7z volumes are extracted with 7-Zip)")


def _stage(archive: Path, target: Path, staging: Path, opener, members) -> list[PurePosixPath]:
    """Check every member, then write the regular files into ``staging``; return their relative paths."""
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
    return rels


def _check_conflicts(archive: Path, target: Path, staging: Path, rels, overwrite: bool) -> None:
    """Raise FileExistsError, before anything is moved, if a staged file would replace a differing one."""
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

    Raises
    ------
    UnsafeArchiveError
        A member is an absolute path, has a drive letter or ``..``, is a link or a special file, or has no
        readable content; nothing is written to ``target``.
    FileExistsError
        A file of the archive exists in ``target`` with different content (or is not a regular file) and
        ``overwrite`` is False; nothing is changed.
    ValueError
        ``archive`` is neither a zip nor a tar file.
    """
    archive = Path(archive)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    digest = file_hash(archive)
    marker = target / f"{MARKER_PREFIX}{archive.name}.json"
    done = _marked_files(marker, target, digest)
    if done is not None:
        return done

    opener, members = _reader(archive)
    staging = Path(tempfile.mkdtemp(prefix=f".adskit-extract-{archive.name}-", dir=target.parent))
    try:
        rels = _stage(archive, target, staging, opener, members)
        _check_conflicts(archive, target, staging, rels, overwrite)
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
    'something-else' sounds (the paper keeps training clips shorter than 5 s).

    Parameters
    ----------
    src, dst : str or os.PathLike
        Folder searched recursively (``dst`` inside it is skipped), and the folder the copies go to.
    max_duration : float
        Seconds; a file is kept when its duration is strictly shorter.
    pattern : str
        Glob pattern of the files considered.

    Returns
    -------
    list of Path
        The copies, in sorted order of their sources.

    Raises
    ------
    ValueError
        ``max_duration`` is not > 0.
    FileExistsError
        A file of the same name exists in ``dst`` with different content.
    soundfile.LibsndfileError
        A matching file cannot be read as audio.
    """
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

    Parameters
    ----------
    src, dst : str or os.PathLike
        Folder searched recursively (``dst`` inside it is skipped), and the folder the copies go to.
    prefixes : sequence of str
        Class names as file-name prefixes (matched case-insensitively).
    per_class : int or None
        At most this many files per prefix, in sorted name order; None keeps all.
    pattern : str
        Glob pattern of the files considered.

    Returns
    -------
    dict of str to list of Path
        ``{prefix: [copied paths]}``.

    Raises
    ------
    FileExistsError
        A file of the same name exists in ``dst/<prefix>/`` with different content.
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
