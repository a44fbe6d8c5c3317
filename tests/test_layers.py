"""The house's layering, kept by a test.

Every module of ``adskit/`` is parsed (not imported) and every ``import`` / ``from ... import`` in it is read,
function-local ones included. Each module belongs to one room; rooms sit on floors. A module may import its own
room, any room on a lower floor, and the same-floor rooms listed in ``SIDEWAYS``; anything else is an upward (or
forbidden sideways) import and fails the test, naming the file, line and rule. The rooms and floors are written
down here once; they follow the intended house: math and decisions know no estimator, estimators know only X (no
audio), scores sit between the estimators and the views/experiments, and the CLI is a thin face over the
experiments.
"""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "adskit"

# room -> (floor, module prefixes); a module belongs to the room with the longest matching prefix
ROOMS: dict[str, tuple[int, tuple[str, ...]]] = {
    "Base": (0, ("adskit._utils", "adskit._scaling")),
    "Math": (1, ("adskit.kde", "adskit.bandwidth", "adskit.losses", "adskit.gmm")),
    "Decide": (1, ("adskit.threshold", "adskit.metrics")),
    "Models": (1, ("adskit.models",)),
    "Audio": (2, ("adskit.audio",)),
    "Detectors": (2, ("adskit.detectors",)),
    "Scores": (3, ("adskit.scores",)),
    "Views": (4, ("adskit.plots", "adskit.widgets")),
    "Experiments": (5, ("adskit.experiments",)),
    "Face": (6, ("adskit.cli", "adskit.__main__")),
    "Package": (7, ("adskit",)),  # adskit/__init__.py: the package face may re-export anything
}
# same-floor imports that are allowed (importer, imported); every other same-floor pair is forbidden
SIDEWAYS: set[tuple[str, str]] = {("Decide", "Math")}


def room_of(module: str) -> str | None:
    """The room of a dotted module name inside adskit (None outside the package)."""
    best, best_len = None, -1
    for room, (_, prefixes) in ROOMS.items():
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best_len:
                best, best_len = room, len(p)
    return best


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, root: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every import in the file, at any depth (function-local ones included)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # "from . import x" / "from .pkg import sub": the names may be submodules
            found += [(node.lineno, f"{target}.{a.name}") for a in node.names if a.name != "*"]
    return found


def violations(root: Path) -> list[str]:
    """Every import in the package ``root`` that breaks the rooms' order, as 'file:line: A -> B (rule)'."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        src_room = room_of(module_name(path, root))
        assert src_room is not None, f"{path}: in no room; add it to ROOMS"
        floor = ROOMS[src_room][0]
        seen = set()
        for line, target in imports_of(path, root):
            dst_room = room_of(target) if target.split(".")[0] == "adskit" else None
            if dst_room in (None, src_room, "Package") or (line, dst_room) in seen:
                continue
            seen.add((line, dst_room))
            dst_floor = ROOMS[dst_room][0]
            if dst_floor > floor:
                bad.append(f"{path.relative_to(root.parent)}:{line}: {src_room} -> {dst_room} (upward: {target})")
            elif dst_floor == floor and (src_room, dst_room) not in SIDEWAYS:
                bad.append(f"{path.relative_to(root.parent)}:{line}: {src_room} -> {dst_room} (sideways: {target})")
    return bad


def test_every_module_has_a_room() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert room_of(module_name(path, PACKAGE)) is not None, path


def test_no_module_imports_a_layer_above_it() -> None:
    assert violations(PACKAGE) == []


@pytest.mark.parametrize(
    ("file", "line", "rule"),
    [
        ("threshold.py", "from .detectors.base import BaseDetector", "Decide -> Detectors (upward"),
        ("detectors/base.py", "from ..audio.features import FeatureConfig", "Detectors -> Audio (sideways"),
        ("kde.py", "def f():\n    import adskit.widgets\n    return adskit.widgets\n", "Math -> Views (upward"),
        ("scores.py", "from .plots import plot_cells", "Scores -> Views (upward"),
    ],
)
def test_a_planted_upward_import_fails(tmp_path: Path, file: str, line: str, rule: str) -> None:
    """The check is not vacuous: a copy of the package with one planted import is caught, function-local too."""
    copy = tmp_path / "adskit"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / file
    if not target.exists():
        target.write_text('"""placeholder"""\n', encoding="utf-8")
    target.write_text(target.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")
    found = violations(copy)
    assert any(rule in v and v.startswith(f"adskit/{file}:") for v in found), found
