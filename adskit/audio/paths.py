"""Where the kit keeps its data: one root folder for downloaded and generated data sets.

:func:`data_dir` is the one function that decides it; :mod:`adskit.audio.download` (real data sets) and
:mod:`adskit.audio.synth` (the embedded synthetic data, whose ``default_data_dir`` is an alias of it) both
read it, so downloads and generated data land under the same root on every platform.

The root is, in order:

1. the ``path`` argument, when a caller passes one;
2. the environment variable ``ADSKIT_DATA`` (:data:`DATA_ENV`), when set and not empty;
3. the user cache folder of the platform, ``pooch.os_cache("adskit")``: ``~/.cache/adskit`` on Linux
   (``$XDG_CACHE_HOME/adskit`` when that variable is set), ``~/Library/Caches/adskit`` on macOS,
   ``%LOCALAPPDATA%\\adskit\\adskit\\Cache`` on Windows.
"""

from __future__ import annotations

import os
from pathlib import Path

import pooch

__all__ = ["DATA_ENV", "data_dir"]

DATA_ENV = "ADSKIT_DATA"


def data_dir(path: str | os.PathLike | None = None) -> Path:
    """Root folder for downloaded and generated data.

    Parameters
    ----------
    path : str, os.PathLike or None
        An explicit root; returned as given (with ``~`` expanded).

    Returns
    -------
    root : Path
        ``path`` if given, else ``$ADSKIT_DATA`` if set, else ``pooch.os_cache("adskit")``
        (``~/.cache/adskit`` on Linux). The folder is not created.

    Examples
    --------
    >>> data_dir("~/data").name
    'data'
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env).expanduser()
    return Path(pooch.os_cache("adskit"))
