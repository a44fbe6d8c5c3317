"""Every numbered notebook: stored without outputs, in sync with its jupytext pair, and executed on its FAST path."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
PAIRS = sorted(NB_DIR.glob("[0-9][0-9]_*.py"))


def test_notebooks_exist_and_are_paired():
    assert NOTEBOOKS, "no notebooks found"
    assert {p.stem for p in PAIRS} == {n.stem for n in NOTEBOOKS}, "every .ipynb needs its .py pair and vice versa"


def _code_sources(nb) -> list[str]:
    return [c.source.strip() for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_stored_clean_and_in_sync(path: Path):
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), f"{path.name} has outputs"
    assert not any(c.get("execution_count") for c in nb.cells if c.cell_type == "code")
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert "parameters" in first.metadata.get("tags", []), "first code cell must be tagged 'parameters'"
    assert "FAST = True" in first.source and "SEED" in first.source and "DATA_DIR" in first.source
    paired = jupytext.read(path.with_suffix(".py"))
    assert _code_sources(paired) == _code_sources(nb), f"{path.name} is out of sync: run jupytext --sync {path}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_fast_path(path: Path, tmp_path: Path, synthetic_data_dir, monkeypatch):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("ADSKIT_DATA", str(synthetic_data_dir))
    client = NotebookClient(
        nb,
        timeout=900,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
        env=dict(os.environ),
    )
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code")
