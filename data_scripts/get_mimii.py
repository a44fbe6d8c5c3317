"""Download MIMII (real machine sounds, 8 channels, 16 kHz; CC BY-SA 4.0), verified by MD5.

    python data_scripts/get_mimii.py --machines fan --snr 6      # one 10 GB zip
    python data_scripts/get_mimii.py --list                       # all twelve zips, about 100 GB

Extracted to <root>/mimii/<snr>dB/ (machine IDs 00, 02, 04, 06, each with normal/ and abnormal/ WAVs).
"""

from __future__ import annotations

import sys

from _common import build_parser, dl, run

NAME = "mimii"
MACHINES = ("fan", "pump", "slider", "valve")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--machines", nargs="+", choices=MACHINES, default=list(MACHINES))
    parser.add_argument(
        "--snr",
        nargs="+",
        choices=["-6", "0", "6"],
        default=["-6", "0", "6"],
        help="signal-to-noise ratios in dB (default: all three)",
    )
    args = parser.parse_args(argv)
    ds = dl.get_dataset(NAME)
    snrs = {f"{s}dB" for s in args.snr}
    files = [f for f in ds.files if f.tags[0] in snrs and f.tags[1] in args.machines]
    return run(args, ds, files, extract_to=lambda f: f.tags[0])


if __name__ == "__main__":
    sys.exit(main())
