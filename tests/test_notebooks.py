"""Every notebook in notebooks/: committed clean and parameterized. README's test command runs
each with its defaults (nbval --nbval-lax) and compares the sample bundle's pages with the golden
notebooks in tests/golden (nbval --nbval)."""

from __future__ import annotations

import json
import re
import shutil

import nbformat
import papermill
import pytest

from prodops_lib.report.bundle import load_bundle

from .conftest import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

COMMITTED = NOTEBOOKS + sorted((ROOT / "tests" / "fixtures").rglob("*.ipynb"))

GOLDEN = sorted((ROOT / "tests" / "golden").glob("*.ipynb"))  # executed on purpose: not in COMMITTED


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
    # typed and commented, so papermill --help-notebook documents each one
    for name in ("period", "report_name", "results_dir", "parameters_file"):
        assert re.search(rf"^{name}: str = .+  # \w", second.source, re.M), f"the parameters cell must define {name}"
    headings = [c.source.splitlines()[0] for c in notebook.cells if c.cell_type == "markdown" and c.source]
    assert any(h.startswith("## Summary") for h in headings), "an executive summary section"
    assert headings.index(next(h for h in headings if h.startswith("## Summary"))) <= 1, "the summary comes first"
    assert any(h.startswith("## Appendix") for h in headings), "an appendix"
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "Markdown(" not in code and ".style" not in code, "data text must go through prodops_lib.display"
    long_cells = [c.source for c in notebook.cells if c.cell_type == "code" and len(c.source.splitlines()) > 12]
    assert not long_cells, f"cells longer than 12 lines belong in prodops_lib: {long_cells[0][:80]!r}"


def test_every_report_of_the_bundle_has_a_golden_notebook_that_reruns_anywhere():
    """nbval re-runs tests/golden/<name>.ipynb (README's test command); regenerate them with
    ./run golden. A golden must name its parameter file from the project root and leave its
    results folder to the test run, and keep its execution counts (nbval compares only cells
    that ran)."""
    bundle = load_bundle(ROOT / "parameters" / "monthly.yaml")
    assert {path.stem for path in GOLDEN} == {entry.name for entry in bundle.reports}, "run ./run golden"
    for path in GOLDEN:
        notebook = nbformat.read(path, as_version=4)
        injected = next(c.source for c in notebook.cells if "injected-parameters" in c.metadata.get("tags", []))
        assert 'results_dir = ""' in injected and 'parameters_file = "parameters/' in injected, path.name
        assert f'period = "{bundle.default_period}"' in injected, f"{path.name}: run ./run golden"
        ran = [c for c in notebook.cells if c.cell_type == "code" and c.outputs]
        assert ran and all(c.execution_count for c in ran), path.name


def test_plain_papermill_with_only_a_parameter_file_reports_on_that_file_into_its_own_folder(tmp_path):
    # results paths are read from the project root, like every path in the kit
    folder = ROOT / "reports" / "interactive" / "ab_search_ranking"
    shutil.rmtree(folder, ignore_errors=True)
    checkout = ROOT / "reports" / "interactive" / "ab_checkout_redesign" / "summary.json"
    before = checkout.stat().st_mtime if checkout.exists() else None
    try:
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "ab_test.ipynb"), str(tmp_path / "out.ipynb"),
            parameters={"parameters_file": str(ROOT / "parameters" / "ab_search_ranking.yaml")},
            cwd=str(tmp_path), progress_bar=False, kernel_name="python3")
        assert json.loads((folder / "summary.json").read_text())["name"] == "search_ranking"
        assert (checkout.stat().st_mtime if checkout.exists() else None) == before  # the checkout's untouched
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_papermill_f_with_a_kit_parameter_file_fails_loudly_with_the_right_command(tmp_path):
    import yaml

    with pytest.raises(papermill.PapermillExecutionError, match=r"-p parameters_file YOUR_FILE\.yaml"):
        papermill.execute_notebook(
            str(ROOT / "notebooks" / "ab_test.ipynb"), str(tmp_path / "out.ipynb"),
            parameters=yaml.safe_load((ROOT / "parameters" / "ab_search_ranking.yaml").read_text()),
            cwd=str(tmp_path), progress_bar=False, kernel_name="python3")


def test_run_test_runs_the_readme_test_command_word_for_word():
    command = re.search(r"^TEST_COMMAND='(.+)'$", (ROOT / "run").read_text(encoding="utf-8"), re.M)
    assert command, "run defines TEST_COMMAND"
    assert f"\n{command.group(1)}\n" in (ROOT / "README.md").read_text(encoding="utf-8")
