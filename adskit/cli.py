"""The ``adskit`` command: a thin argparse layer over :mod:`adskit.experiments`.

adskit reproduce --quick --out DIR     every paper experiment on the embedded synthetic data + report.md
adskit verify --out DIR                the 2-D verification experiment (BU paper §4.1, Table 1)
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ._utils import atomic_write_text, seed_everything
from .experiments._cli import add_common_arguments as _add_common
from .experiments._cli import add_mode_arguments

#: experiments run by ``adskit reproduce``, in order: name -> (runner(args, out_dir) -> markdown section)
REPRODUCE_STEPS: dict[str, Callable[[argparse.Namespace, Path], str]] = {}


def _verification_config(args: argparse.Namespace):
    from .experiments.verification import VerificationConfig

    kw = {"seed": args.seed, "device": args.device}
    for name in ("n_updates", "h", "eps", "C", "lr"):
        v = getattr(args, name, None)
        if v is not None:
            kw[name] = v
    if getattr(args, "widths", None):
        kw["widths"] = tuple(args.widths)
    return VerificationConfig(**kw)


def _run_verify(args: argparse.Namespace, out: Path) -> str:
    from .experiments.verification import run_verification

    res = run_verification(_verification_config(args), out_dir=out, progress=not args.no_progress)
    print(res.table_markdown())
    for k, v in res.pattern().items():
        print(f"{k}: {'reproduced' if v else 'NOT reproduced'}")
    print(f"wrote {', '.join(res.files.values())} ({res.seconds:.1f} s)")
    return Path(res.files["md"]).read_text()


REPRODUCE_STEPS["verification"] = _run_verify


def _run_sound(args: argparse.Namespace, out: Path) -> str:
    from .experiments.sound import run_sound_step

    return run_sound_step(args, out)


REPRODUCE_STEPS["sound"] = _run_sound


def cmd_sound(args: argparse.Namespace) -> int:
    seed_everything(args.seed)
    _run_sound(args, args.out)
    return 0


def _run_np(args: argparse.Namespace, out: Path) -> str:
    from .experiments.neyman_pearson import run_np_step

    return run_np_step(args, out)


REPRODUCE_STEPS["neyman_pearson"] = _run_np


def cmd_verify(args: argparse.Namespace) -> int:
    seed_everything(args.seed)
    _run_verify(args, args.out)
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    seed_everything(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    sections = [
        "# adskit reproduction report\n",
        f"Mode: {'quick' if args.quick else 'full'}; seed {args.seed}; device {args.device}.\n",
    ]
    only = set(args.only or REPRODUCE_STEPS)
    unknown = only - set(REPRODUCE_STEPS)
    if unknown:
        print(
            f"adskit: --only: unknown step(s) {sorted(unknown)}; known: {list(REPRODUCE_STEPS)}",
            file=sys.stderr,
        )
        return 2
    failed = []
    for name, step in REPRODUCE_STEPS.items():
        if name not in only:
            continue
        print(f"== {name} ==", flush=True)
        t0 = time.perf_counter()
        sub = args.out / name
        try:
            sections.append(step(args, sub).replace("](", f"]({name}/"))
        except Exception as exc:  # one failed experiment is reported, the others still run
            failed.append(name)
            sections.append(f"## {name}\n\nFAILED: {type(exc).__name__}: {exc}\n")
            print(f"adskit: {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        sections.append(f"\n_{name}: {time.perf_counter() - t0:.1f} s_\n")
    report = atomic_write_text(args.out / "report.md", "\n".join(sections))
    print(f"wrote {report}")
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    ap = argparse.ArgumentParser(prog="adskit", description="Unsupervised anomalous sound detection kit.")
    ap.add_argument("--version", action="version", version=f"adskit {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("reproduce", help="run the paper experiments and write report.md")
    _add_common(p)
    add_mode_arguments(p, "CPU minutes on the embedded synthetic data", "the papers' settings (GPU recommended)")
    p.add_argument("--only", nargs="+", help=f"run only these steps (of {list(REPRODUCE_STEPS)})")
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("verify", help="2-D verification experiment (BU paper §4.1, Table 1)")
    _add_common(p)
    p.add_argument("--n-updates", dest="n_updates", type=int, help="training updates per cost (default 5000)")
    p.add_argument("--h", type=float, help="KDE bandwidth (default 0.2)")
    p.add_argument("--eps", type=float, help="BU weight regulariser (default 1e-6)")
    p.add_argument("--C", type=float, help="clip of the anomalous term (default 5)")
    p.add_argument("--lr", type=float, help="AMSGrad step size (default 1e-3)")
    p.add_argument("--widths", type=int, nargs=3, metavar=("A", "B", "C"), help="AE widths (default 64 2 64)")
    p.set_defaults(func=cmd_verify)

    from .experiments.neyman_pearson import add_np_parser
    from .experiments.sound import add_sound_parser

    add_sound_parser(sub).set_defaults(func=cmd_sound)

    add_np_parser(sub, _add_common)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "command", None) == "reproduce" and not (args.quick or args.full):
        args.quick = True
    try:
        return int(args.func(args) or 0)
    except ValueError as exc:
        print(f"adskit: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
