"""One benchmark runner: side-by-side measurements against a reference, as ratios, next to targets.

Usage: python benchmarks/run.py [--quick] [--json PATH] [--markdown PATH] [--only NAME]

Each ``benchmarks/bench_*.py`` module defines ``cases(quick: bool) -> list[Case]``. A case measures adskit and
its reference in the same run (interleaved repeats, median), so the ratio is meaningful on a busy machine even
when the absolute times are not. ``--markdown PATH`` also writes the rows as the README's "Benchmarks" table
(benchmark, adskit, reference, ratio, target, met) under a line with the date, the machine and its load
(``-`` prints it on stdout after the console table).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
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
    pause: float = 0.0,
) -> tuple[float, float]:
    """Median wall time (s) of ``fn_a`` and ``fn_b``, interleaved ``repeats`` times after ``warmup`` calls.

    ``pause`` (s, untimed) is slept before each timed call, so that neither side starts while the other's BLAS or
    OpenMP workers are still busy-waiting (OpenBLAS keeps its threads spinning for a while after a call; on two
    cores that lands on the next call's clock).
    """
    for _ in range(warmup):
        fn_a()
        fn_b()
    ta, tb = [], []
    for _ in range(repeats):
        for fn, times in ((fn_a, ta), (fn_b, tb)):
            if pause:
                time.sleep(pause)
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(ta), statistics.median(tb)


def _load_modules(only: str | None):
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = mod
        spec.loader.exec_module(mod)
        yield path.stem, mod


def _value(v: float, unit: str) -> str:
    """A measured value for the table: 3 significant digits, thousands separated, seconds below 1 s in ms."""
    if unit == "s" and abs(v) < 1:
        v, unit = v * 1e3, "ms"
    unit = {"fr/s": "frames/s"}.get(unit, unit)
    text = f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}"
    return f"{text} {unit}".strip()


def _ratio(r: Result) -> str:
    return f"{r.ratio:.2f}x faster" if "speed-up" in r.ratio_label else f"{r.ratio:.3g}"


def machine_line(load: tuple[float, float]) -> str:
    """Date, cores, GPU (or none) and the 1-minute load average at the start and the end of the run."""
    try:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
        threads = f", torch {torch.__version__} with {torch.get_num_threads()} threads"
    except ImportError:  # pragma: no cover - torch is a dependency
        gpu, threads = "GPU unknown", ""
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{day}, {os.cpu_count()} CPU cores, {gpu}{threads}; load average (1 min) {load[0]:.2f} at the start, "
        f"{load[1]:.2f} at the end"
    )


def markdown_table(rows: list[Result], failed: list[str], header: str, quick: bool = False) -> str:
    """The rows as the README's "Benchmarks" table, under ``header`` (see :func:`machine_line`).

    Columns: benchmark (with its notes), adskit, reference, ratio (as its ``ratio_label`` says), target, met.
    Failed benchmarks follow the table, one line each.
    """
    lines = [
        f"Measured {header}{' (--quick sizes)' if quick else ''}:",
        "",
        "| benchmark | adskit | reference | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        name = f"{r.name} ({r.notes})" if r.notes else r.name
        lines.append(
            f"| {name.replace('|', chr(92) + '|')} | {_value(r.adskit, r.unit)} | {_value(r.reference, r.unit)} | {_ratio(r)} "
            f"| {r.target} | {'yes' if r.meets else '**no**'} |"
        )
    lines += [f"\nFailed: {f}" for f in failed]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    ap.add_argument("--json", type=Path, default=None, help="also write the rows as JSON here")
    ap.add_argument(
        "--only", default=None, help="run only bench_NAME.py if it exists, else the cases whose name contains NAME"
    )
    ap.add_argument("--markdown", default=None, help="also write the README's Benchmarks table here ('-': print it)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    load_start = os.getloadavg()[0]
    rows: list[Result] = []
    failed: list[str] = []
    # --only NAME: the whole module bench_NAME.py when there is one (``--only bu``, ``--only gmm``), else every case
    # whose name contains NAME
    module = f"bench_{args.only}" if args.only and (HERE / f"bench_{args.only}.py").is_file() else None
    for modname, mod in _load_modules(args.only):
        if module is not None and modname != module:
            continue
        for case in mod.cases(args.quick):
            if args.only and module is None and args.only not in case.name:
                continue
            print(f"running {case.name} ...", file=sys.stderr, flush=True)
            try:
                load = os.getloadavg()[0]
                rows.append(case.run())
                rows[-1].extra.setdefault("load_before", load)
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
    machine = machine_line((load_start, os.getloadavg()[0]))
    if args.json:
        from adskit._utils import atomic_write_json

        atomic_write_json(
            args.json, {"quick": args.quick, "machine": machine, "rows": [asdict(r) for r in rows], "failed": failed}
        )
    if args.markdown:
        table = markdown_table(rows, failed, machine, args.quick)
        if args.markdown == "-":
            print("\n" + table, end="")
        else:
            from adskit._utils import atomic_write_text

            atomic_write_text(args.markdown, table)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
