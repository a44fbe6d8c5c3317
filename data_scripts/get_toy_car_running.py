"""Download files of the toy-car-running data set (archive.org item `toy_car_running_dataset`).

    python data_scripts/get_toy_car_running.py --list
    python data_scripts/get_toy_car_running.py --file NAME.zip --known-hash md5:<hex from _files.xml>
    python data_scripts/get_toy_car_running.py --file NAME.zip --allow-unverified     # trust on first use

The kit does not know the item's file names or hashes: take them from
https://archive.org/details/toy_car_running_dataset (the MD5 of every file is listed in
https://archive.org/download/toy_car_running_dataset/toy_car_running_dataset_files.xml).
Zip and tar files are extracted to <root>/toy_car_running/extracted/.
"""

from __future__ import annotations

import dataclasses
import sys

from _common import build_parser, dl, run

NAME = "toy_car_running"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--file", action="append", default=[], metavar="NAME", help="file of the item (repeat)")
    parser.add_argument(
        "--known-hash",
        default=None,
        metavar="ALG:HEX",
        help="hash of the single --file, e.g. md5:... from the item's _files.xml",
    )
    args = parser.parse_args(argv)
    base = dl.get_dataset(NAME)
    if args.known_hash and len(args.file) != 1:
        parser.error("--known-hash applies to exactly one --file")
    for name in args.file:
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            parser.error(f"--file {name!r}: give a plain file name of the item")
    note = "hash given on the command line" if args.known_hash else "no hash known to the kit (see --help)"
    files = tuple(
        dl.RemoteFile(
            name=n, url=base.extra["base_url"] + n, known_hash=args.known_hash, hash_note=note, tags=("user",)
        )
        for n in args.file
    )
    ds = dataclasses.replace(base, files=files)
    if not files and not args.list:
        parser.error(f"name the files to fetch with --file (see {base.homepage})")
    return run(args, ds, list(files))


if __name__ == "__main__":
    sys.exit(main())
