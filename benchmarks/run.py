"""One benchmark runner: side-by-side measurements against a reference, as ratios, next to targets.

Usage: python benchmarks/run.py [--quick] [--json PATH] [--only SUBSTRING]

Each ``benchmarks/bench_*.py`` module defines ``cases(quick: bool) -> list[Case]``. A case measures adskit and
its reference in the same run (interleaved repeats, median), so the ratio is meaningful on a busy machine even
when the absolute times are not.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass
class Result:
    """One row of the table. ``ratio`` is expressed so that the target reads as written in the issue."""

    name: str
    adskit: float
    reference: float
    unit: str
    ratio: float
    ratio_label: str  # e.g. "ref/adskit (speed-up)" or "adskit/ref"
    target: str
    meets: bool
    notes: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class Case:
    """A benchmark: ``run()`` returns a :class:`Result` (use :func:`time_pair` for the usual timing)."""

    name: str
    run: Callable[[], Result]


def time_pair(
    fn_a: Callable[[], object],
    fn_b: Callable[[], object],
    *,
    repeats: int = 5,
    warmup: int = 1,
) -> tuple[float, float]:
    """Median wall time (s) of ``fn_a`` and ``fn_b``, interleaved ``repeats`` times after ``warmup`` calls."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    ta, tb = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn_a()
        ta.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fn_b()
        tb.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def _load_modules(only: str | None):
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = mod
        spec.loader.exec_module(mod)
        yield path.stem, mod


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    ap.add_argument("--only", default=None, help="run only cases whose name contains this")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    rows: list[Result] = []
    failed: list[str] = []
    for _modname, mod in _load_modules(args.only):
        for case in mod.cases(args.quick):
            if args.only and args.only not in case.name:
                continue
            print(f"running {case.name} ...", file=sys.stderr, flush=True)
            try:
                rows.append(case.run())
            except Exception as exc:  # a broken benchmark is reported, the others still run
                failed.append(f"{case.name}: {type(exc).__name__}: {exc}")
    header = f"{'benchmark':<44} {'adskit':>12} {'reference':>12} {'ratio':>8}  {'ratio is':<22} {'target':<14} ok"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r.name:<44} {r.adskit:>10.4g}{r.unit:>2} {r.reference:>10.4g}{r.unit:>2} {r.ratio:>8.3f}  "
            f"{r.ratio_label:<22} {r.target:<14} {'yes' if r.meets else 'NO'}"
        )
        if r.notes:
            print(f"    {r.notes}")
    for f in failed:
        print(f"FAILED {f}")
    if args.json:
        from adskit._utils import atomic_write_json

        atomic_write_json(args.json, {"quick": args.quick, "rows": [asdict(r) for r in rows], "failed": failed})
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
