"""The beta's charts on the sample beta: figures, no overlapping labels, no legend over data."""

from __future__ import annotations

import pytest
from matplotlib.figure import Figure

from prodops_lib.beta import (
    estimate_impact,
    load_beta,
    measure_adoption,
    plot_adoption,
    plot_event_study,
)

from ..chart_checks import layout_problems
from ..conftest import ROOT

SAMPLE = ROOT / "data" / "sample" / "beta"


@pytest.fixture(scope="module")
def beta():
    return load_beta(SAMPLE / "units.csv", SAMPLE / "panel.csv", ["sessions", "feature_uses"])


def test_event_study_chart_has_one_point_per_period_and_a_clean_layout(beta) -> None:
    figure = plot_event_study(estimate_impact(beta, "sessions", label="sessions per week", post_periods=6))
    assert isinstance(figure, Figure)
    assert layout_problems(figure) == []
    points = sum(len(line.get_xdata()) for line in figure.axes[0].lines if line.get_marker() == "o")
    assert points == 4 + 6  # four periods before entry (−1 the reference) and six from entry


def test_adoption_chart_has_a_clean_layout(beta) -> None:
    figure = plot_adoption(measure_adoption(beta, "feature_uses"))
    assert layout_problems(figure) == []
