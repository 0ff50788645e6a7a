"""Every notebook in notebooks/: committed clean, parameterized, and runs with its defaults."""

from __future__ import annotations

import json

import nbformat
import papermill
import pytest

from .conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

COMMITTED = NOTEBOOKS + sorted((ROOT / "tests" / "fixtures").rglob("*.ipynb"))


def test_there_are_report_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no notebook"


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs_or_execution_metadata(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(notebook["cells"]):
        assert not cell.get("outputs"), f"{path.name}: cell {index} has outputs; clear them before committing"
        assert cell.get("execution_count") is None, f"{path.name}: cell {index} has an execution count"
        assert "execution" not in cell.get("metadata", {}), f"{path.name}: cell {index} has execution metadata"
    assert "papermill" not in notebook["metadata"], f"{path.name}: papermill metadata committed"
    assert "widgets" not in notebook["metadata"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_report_layout(path):
    notebook = nbformat.read(path, as_version=4)
    first, second = notebook.cells[0], notebook.cells[1]
    assert first.cell_type == "markdown" and first.source.startswith("# "), "cell 1: a markdown title"
    assert second.cell_type == "code" and "parameters" in second.metadata.get("tags", []), "cell 2: the parameters cell"
    for name in ("period", "report_name", "results_dir", "parameters_file"):
        assert f"{name} = " in second.source, f"the parameters cell must define {name}"
    headings = [c.source.splitlines()[0] for c in notebook.cells if c.cell_type == "markdown" and c.source]
    assert any(h.startswith("## Summary") for h in headings), "an executive summary section"
    assert headings.index(next(h for h in headings if h.startswith("## Summary"))) <= 1, "the summary comes first"
    assert any(h.startswith("## Appendix") for h in headings), "an appendix"
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "Markdown(" not in code and ".style" not in code, "data text must go through prodops_lib.display"
    long_cells = [c.source for c in notebook.cells if c.cell_type == "code" and len(c.source.splitlines()) > 12]
    assert not long_cells, f"cells longer than 12 lines belong in prodops_lib: {long_cells[0][:80]!r}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_with_its_default_parameters(path, tmp_path, monkeypatch):
    """As an analyst's "Run all" in JupyterLab: the kernel starts in the notebook's folder and
    only the results folder is redirected, so the test leaves nothing in the checkout."""
    monkeypatch.delenv("PRODOPS_ROOT", raising=False)
    executed = papermill.execute_notebook(
        str(path), str(tmp_path / path.name), parameters={"results_dir": str(tmp_path / "results")},
        kernel_name="python3", cwd=str(path.parent), progress_bar=False,
    )
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    assert (tmp_path / "results" / "headline.json").is_file(), "the notebook saves its headline"
    assert (tmp_path / "results" / "data_quality.csv").is_file(), "the notebook writes its appendix"
