"""Generate adskit's embedded synthetic machine-sound data set (DCASE layout + manifest.json).

Usage: python data_scripts/make_synthetic.py [--out DIR] [--preset fast|full] [--seed N] [--quiet]

Without ``--out`` the data goes to ``<data root>/synthetic-<preset>-s<seed>``, where
``adskit.audio.synth.ensure_synthetic`` looks for it; the data root is ``adskit.audio.paths.data_dir()``
(``$ADSKIT_DATA``, else the user cache folder: ``~/.cache/adskit`` on Linux, the same root as the real data
sets' downloads). A second run with the same settings returns at once.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from adskit.audio.paths import data_dir
from adskit.audio.synth import PRESETS, make_dataset


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="target folder (new or empty)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="fast", help="size of the data set")
    ap.add_argument("--seed", type=int, default=0, help="random seed (same seed, same bytes)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar")
    args = ap.parse_args(argv)
    out = args.out or data_dir() / f"synthetic-{args.preset}-s{args.seed}"
    manifest = make_dataset(out, seed=args.seed, preset=args.preset, progress=not args.quiet)
    print(manifest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
