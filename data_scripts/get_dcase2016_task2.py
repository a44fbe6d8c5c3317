"""Download DCASE 2016 Task 2 isolated events and copy the 7 test-anomaly classes into test_anomalies/.

    python data_scripts/get_dcase2016_task2.py
    python data_scripts/get_dcase2016_task2.py --list

Classes (file-name prefix): door slam (doorslam), door knock (knock), keys (keysDrop), keyboard (keyboard),
drawer (drawer), page turn (pageturn), phone ringing (phone); 20 recordings each. The archive is extracted
to <root>/dcase2016_task2/extracted/ and the selected files are *copied* to
<root>/dcase2016_task2/test_anomalies/<class>/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from _common import build_parser, dl, run

NAME = "dcase2016_task2"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser(NAME, __doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=20, help="files per class (default 20)")
    args = parser.parse_args(argv)
    ds = dl.get_dataset(NAME)

    def post(folder: Path) -> None:
        got = dl.collect_by_prefix(folder / "extracted", folder / "test_anomalies", per_class=args.per_class)
        for cls, paths in got.items():
            flag = "" if len(paths) == args.per_class else f"  (expected {args.per_class})"
            print(f"  {cls:10s} {len(paths):3d} file(s){flag}")
        print(f"test anomalies in {folder / 'test_anomalies'}")

    return run(args, ds, list(ds.files), post=post)


if __name__ == "__main__":
    sys.exit(main())
