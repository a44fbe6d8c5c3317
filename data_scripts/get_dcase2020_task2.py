"""Download DCASE 2020 Challenge Task 2 data (ToyADMOS + MIMII parts, 16 kHz mono), verified by MD5.

    python data_scripts/get_dcase2020_task2.py --machines fan pump      # development data of two machines
    python data_scripts/get_dcase2020_task2.py --parts dev additional   # plus the additional training data
    python data_scripts/get_dcase2020_task2.py --list                   # what would be downloaded

Development data is extracted to <root>/dcase2020_task2/dev_data/, additional training and evaluation
data to <root>/dcase2020_task2/eval_data/ (the layout of the official baseline).
"""

from __future__ import annotations

import sys

from _common import build_parser, dl, run

NAME = "dcase2020_task2"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument(
        "--machines",
        nargs="+",
        choices=dl.DCASE2020_MACHINES,
        default=list(dl.DCASE2020_MACHINES),
        help="machine types (default: all six)",
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["dev", "additional", "eval"],
        default=["dev"],
        help="dev: development data (default); additional: additional training data; eval: evaluation test",
    )
    args = parser.parse_args(argv)
    ds = dl.get_dataset(NAME)
    files = [f for f in ds.files if f.tags[0] in args.parts and f.tags[1] in args.machines]
    return run(args, ds, files, extract_to=lambda f: "dev_data" if f.tags[0] == "dev" else "eval_data")


if __name__ == "__main__":
    sys.exit(main())
