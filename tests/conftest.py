"""Shared test fixtures: the project root, the real datasets beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
RUNNER_FIXTURES = ROOT / "tests" / "fixtures" / "runner"


def runner_project(folder: Path, bundle_yaml: str | None = None) -> Path:
    """A copy of the runner's fixture project in ``folder / "project"``, its bundle file
    replaced by ``bundle_yaml`` when given."""
    import shutil

    project = folder / "project"
    shutil.copytree(RUNNER_FIXTURES, project)
    if bundle_yaml is not None:
        (project / "parameters" / "bundle.yaml").write_text(bundle_yaml, encoding="utf-8")
    return project


@pytest.fixture
def project_root() -> Path:
    return ROOT


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared datasets are not beside the checkout ({SHARED_DATA})")
    return SHARED_DATA


@pytest.fixture(scope="session")
def sample_reports(tmp_path_factory) -> dict:
    """The bundled sample report run for two consecutive months into one folder, as a team would
    run it month after month: the second month's review reads the first month's results."""
    from prodops_lib.report import cli
    from prodops_lib.report.bundle import load_bundle

    bundle = load_bundle(ROOT / "parameters" / "monthly.yaml")
    out = tmp_path_factory.mktemp("reports")
    year, month = (int(p) for p in bundle.default_period.split("-"))
    previous = f"{year - (month == 1):04d}-{(month - 2) % 12 + 1:02d}"
    codes = {period: cli.main(["report", "--out", str(out), "--period", period, "--no-progress"])
             for period in (previous, bundle.default_period)}
    return {"bundle": bundle, "out": out, "codes": codes, "previous": previous, "period": bundle.default_period}
