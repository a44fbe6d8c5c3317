"""Every numbered notebook: stored without outputs, in sync with its jupytext pair, and executed on its FAST path."""

from __future__ import annotations

import os
import re
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


def _text(cell) -> str:
    """Everything a code cell printed or displayed as text (stream, text/plain, text/markdown)."""
    out = []
    for o in cell.get("outputs", []):
        out.append(o.get("text", ""))
        data = o.get("data", {})
        out.append(data.get("text/markdown", ""))
    return "".join(out)


def _shows_figure(source: str) -> bool:
    return "plt.show()" in source or "display(Image(" in source


def _headings_in_code(nb) -> list[str]:
    """Markdown headings written as comments in a code cell (invisible in Voila, which hides code)."""
    return [
        line for c in nb.cells if c.cell_type == "code" for line in c.source.splitlines() if re.match(r"#\s*#+\s", line)
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_section_headings_are_markdown_cells(path: Path):
    nb = nbformat.read(path, as_version=4)
    assert not _headings_in_code(nb), f"{path.name}: a heading sits in a code cell: {_headings_in_code(nb)}"
    headings = [
        ln for c in nb.cells if c.cell_type == "markdown" for ln in c.source.splitlines() if ln.startswith("## ")
    ]
    assert len(headings) >= 3, f"{path.name}: expected its sections as '## ' markdown headings"
    # rendered as Voila shows it (code hidden): every section heading is an <h2> of the page
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter(exclude_input=True, exclude_input_prompt=True).from_notebook_node(nb)
    shown = [re.sub(r"<[^>]+>|&[a-z#0-9]+;", "", h) for h in re.findall(r"<h2[^>]*>(.*?)</h2>", html, re.S)]
    for h in headings:
        words = re.findall(r"[A-Za-z]{4,}", h)[:3]
        assert any(all(w in x for w in words) for x in shown), f"{path.name}: {h!r} is not a heading of the page"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_twice_in_one_kernel_with_its_figures(path: Path, tmp_path: Path, synthetic_data_dir):
    """The FAST path, run top to bottom twice in one kernel (a student's "Run All" again), under
    ``MPLBACKEND=Agg`` (a headless server): no error, and every cell that shows a figure has one in its output
    on the second run too. The environment goes to the kernel through ``setup_kernel`` (nbclient passes it to
    the kernel manager there, not from the constructor)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env = dict(os.environ, MPLBACKEND="Agg", ADSKIT_DATA=str(synthetic_data_dir))
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel(env=env):
        for _run in range(2):
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)  # raises CellExecutionError on an error
            figures = {
                i: any("image/png" in o.get("data", {}) for o in c.get("outputs", []))
                for i, c in enumerate(nb.cells)
                if c.cell_type == "code" and _shows_figure(c.source)
            }
            missing = [i for i, ok in figures.items() if not ok]
            assert not missing, f"{path.name}: cells {missing} show no figure under MPLBACKEND=Agg (run {_run + 1})"
    _check_prose_follows_output(path.stem, nb)


def _check_prose_follows_output(stem: str, nb) -> None:
    """Where a notebook interprets a verdict it printed, the interpretation agrees with it."""
    text = "\n".join(_text(c) for c in nb.cells if c.cell_type == "code")
    if stem.startswith("01"):
        verdicts = dict(
            re.findall(r"^(uniform: BU < SNP < RE|p: SNP lowest): (reproduced|NOT reproduced)$", text, re.M)
        )
        assert set(verdicts) == {"uniform: BU < SNP < RE", "p: SNP lowest"}, text[-2000:]
        snp = verdicts["p: SNP lowest"] == "reproduced"
        assert ("SNP has the lowest KL[p‖q]" in text and "as in the paper" in text) == snp
        assert ("SNP has the lowest KL[p‖q] is **not reproduced**" in text) == (not snp)
        order = verdicts["uniform: BU < SNP < RE"] == "reproduced"
        assert ("BU is closest to the uniform target" in text) == order
        assert ("order BU < SNP < RE in KL[p_U‖q] is **not reproduced**" in text) == (not order)
    if stem.startswith("03"):
        verdicts = re.findall(r"^.+: (reproduced|NOT reproduced)$", text, re.M)
        said = re.search(r"This run reproduces (\d+) of the paper's (\d+) orderings", text)
        assert said and int(said[1]) == verdicts.count("reproduced") and int(said[2]) == len(verdicts)
        aucs = dict(re.findall(r"/(RE|SNP|BU): fires .*AUC rare vs steady ([\d.]+)", text))
        sentence = next(line for line in text.splitlines() if line.startswith("In this run: "))
        for cost, auc in aucs.items():
            k = round(100 * float(auc))
            group = "like steady" if 45 <= k <= 55 else "higher" if k > 55 else "lower"
            part = next(p for p in sentence.split("; ") if cost in p.split(" score ")[0].replace(",", " ").split())
            assert group in part, (cost, auc, sentence)
