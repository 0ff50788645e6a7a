"""The bundled sample beta and its planted truth, shared by the beta tests."""

from __future__ import annotations

import json

import pytest

from ..conftest import ROOT

SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))["beta"]
