"""Hooks for the notebook runs of README's test command (``--nbval-lax notebooks/`` and
``--nbval tests/golden/``); they do nothing in a run without nbval.

nbval starts each notebook's kernel in the notebook's own folder with this process's
environment, so here:

- every report's results go to a temporary folder (``PRODOPS_INTERACTIVE_DIR``, honoured by
  ``params.report_paths``), never into the checkout, and ``PRODOPS_ROOT`` is unset: paths
  resolve upwards from the notebook's folder, as in JupyterLab;
- the golden notebooks (``tests/golden``, see ``regenerate.py`` there) share one folder laid out
  as a period's run (``<tmp>/golden/<period>/results/<name>``), holding the input-check warnings
  ``prodops report`` writes before running the notebooks (each appendix shows them), and run in
  the bundle's order: the monthly review reads the others' results.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
GOLDEN = ROOT / "tests" / "golden"
BUNDLE = ROOT / "parameters" / "monthly.yaml"
RESULTS = pytest.StashKey[Path]()


def _is_golden(path: Path) -> bool:
    return path.suffix == ".ipynb" and path.parent == GOLDEN


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("nbval", False) or config.getoption("nbval_lax", False):
        config.stash[RESULTS] = Path(tempfile.mkdtemp(prefix="prodops-nbval-"))
        os.environ.pop("PRODOPS_ROOT", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if RESULTS in config.stash:
        shutil.rmtree(config.stash[RESULTS], ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slots = [index for index, item in enumerate(items) if _is_golden(item.path)]
    if not slots:
        return
    from prodops_lib.report.bundle import load_bundle

    order = {entry.name: index for index, entry in enumerate(load_bundle(BUNDLE).reports)}
    golden = sorted((items[index] for index in slots), key=lambda item: order.get(item.path.stem, len(order)))
    for index, item in zip(slots, golden, strict=True):
        items[index] = item  # a stable sort: each notebook's cells keep their order


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before nbval starts a notebook's kernel: where its results go."""
    if item.path.suffix != ".ipynb" or RESULTS not in item.config.stash:
        return
    folder = item.config.stash[RESULTS] / "interactive"
    if _is_golden(item.path):
        from prodops_lib.report.bundle import load_bundle
        from prodops_lib.report.check import check_bundle
        from prodops_lib.report.run import write_check_warnings

        period = load_bundle(BUNDLE).default_period
        folder = item.config.stash[RESULTS] / "golden" / period / "results"
        if not folder.is_dir():
            folder.mkdir(parents=True)
            write_check_warnings(folder, {check.entry.name: check.check.warnings
                                          for check in check_bundle(BUNDLE, period=period) if check.check})
    os.environ["PRODOPS_INTERACTIVE_DIR"] = str(folder)
