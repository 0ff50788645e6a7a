"""Shared test fixtures: the project root, the real datasets beside the checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
RUNNER_FIXTURES = ROOT / "tests" / "fixtures" / "runner"


@pytest.fixture
def project_root() -> Path:
    return ROOT


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared datasets are not beside the checkout ({SHARED_DATA})")
    return SHARED_DATA
