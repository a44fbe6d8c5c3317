"""Arguments shared by every experiment subcommand (written once, used by ``adskit.cli`` and the experiments)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_common_arguments(p: argparse.ArgumentParser) -> None:
    """--out, --seed, --device, --no-progress."""
    p.add_argument("--out", type=Path, required=True, help="output folder (created; existing files are kept)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="auto", help="'auto' (CUDA when present), 'cpu' or 'cuda'")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def add_mode_arguments(p: argparse.ArgumentParser, quick_help: str, full_help: str) -> None:
    """--quick / --full, mutually exclusive (quick is the default)."""
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help=quick_help)
    mode.add_argument("--full", action="store_true", help=full_help)
