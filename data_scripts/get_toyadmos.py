"""Download ToyADMOS (toy car / conveyor / train, 48 kHz, 4 mics) split 7z volumes, verified by MD5.

    python data_scripts/get_toyadmos.py --subsets ToyCar     # about 68 GB, 8 volumes + LICENSE.pdf
    python data_scripts/get_toyadmos.py --list

The volumes are 7-Zip split archives, which the kit does not open itself: after the download the script
prints the `7z x` command to run (7-Zip, or p7zip on Linux). LICENSE.pdf is always downloaded: read it.
"""

from __future__ import annotations

import sys

from _common import build_parser, dl, run

NAME = "toyadmos"
SUBSETS = ("ToyCar", "ToyConveyor", "ToyTrain")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--subsets", nargs="+", choices=SUBSETS, default=list(SUBSETS))
    args = parser.parse_args(argv)
    ds = dl.get_dataset(NAME)
    files = [f for f in ds.files if f.tags[0] in (*args.subsets, "licence")]
    code = run(args, ds, files)
    if code == 0 and not args.list:
        down = dl.dataset_dir(ds, args.data_dir) / "downloads"
        out = dl.dataset_dir(ds, args.data_dir) / "extracted"
        print("All volumes verified. Extract each subset with 7-Zip, for example:")
        for s in args.subsets:
            print(f"  7z x '{down / (s + '.7z.001')}' -o'{out}'")
    return code


if __name__ == "__main__":
    sys.exit(main())
