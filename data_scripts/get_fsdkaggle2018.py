"""Download FSDKaggle2018 and copy its short training clips into something_else/ ('something-else' sounds).

    python data_scripts/get_fsdkaggle2018.py --allow-unverified                 # audio_train + meta
    python data_scripts/get_fsdkaggle2018.py --allow-unverified --max-duration 5
    python data_scripts/get_fsdkaggle2018.py --list

The kit has no published hash for these files, so the first download needs --allow-unverified (trust on
first use: the SHA-256 is printed and recorded in <root>/registry.lock.json). The archives are extracted to
<root>/fsdkaggle2018/extracted/; training clips shorter than --max-duration seconds (the paper: 5 s) are
*copied* to <root>/fsdkaggle2018/something_else/, so the extracted data stays complete.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import build_parser, dl, run

NAME = "fsdkaggle2018"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument(
        "--max-duration",
        type=float,
        default=5.0,
        help="copy training clips shorter than this many seconds into something_else/ (default 5; 0: skip)",
    )
    parser.add_argument(
        "--parts",
        nargs="+",
        choices=["audio_train", "meta", "audio_test", "doc"],
        default=["audio_train", "meta"],
    )
    args = parser.parse_args(argv)
    if args.max_duration < 0:
        parser.error("--max-duration must be >= 0")
    ds = dl.get_dataset(NAME)
    files = [f for f in ds.files if f.tags[0] in args.parts]

    def post(folder: Path) -> None:
        if args.max_duration == 0 or "audio_train" not in args.parts:
            return
        extracted = folder / "extracted"
        src = extracted / "FSDKaggle2018.audio_train"
        copies = dl.collect_short_clips(
            src if src.is_dir() else extracted, folder / "something_else", max_duration=args.max_duration
        )
        print(f"copied {len(copies)} clip(s) shorter than {args.max_duration:g} s to {folder / 'something_else'}")

    return run(args, ds, files, post=post)


if __name__ == "__main__":
    sys.exit(main())
