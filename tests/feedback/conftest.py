"""Shared fixtures: the sample feedback run once through the whole pipeline (MiniLM)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prodops_lib import params
from prodops_lib.feedback import FeedbackParams, analyse_feedback
from prodops_lib.io import DropLog

ROOT = Path(__file__).resolve().parents[2]
PARAMETERS = ROOT / "parameters" / "feedback_clustering.yaml"


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory):
    """The sample parameters, embeddings cached in a fresh folder (the first run is cold)."""
    cache = tmp_path_factory.mktemp("embeddings")
    return params.load(PARAMETERS, FeedbackParams, {"clustering": {"cache_dir": str(cache)}})


@pytest.fixture(scope="session")
def sample_analysis(sample_settings):
    log = DropLog()
    return analyse_feedback(sample_settings, "2026-10", log), log
