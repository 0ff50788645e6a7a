"""The allocation charts drawn from the bundled sample's allocation: no overlapping labels and
no legend over the data, and each legend names what its colours mean."""

from __future__ import annotations

import pytest

from prodops_lib import allocation, params
from prodops_lib.allocation import plots
from prodops_lib.io import DropLog

from ..chart_checks import layout_problems
from ..conftest import ROOT


@pytest.fixture(scope="module")
def sample():
    settings = params.load(ROOT / "parameters" / "resource_allocation.yaml", allocation.AllocationParams,
                           overrides={"period": "2026-10"})
    return allocation.run_allocation(settings, DropLog())


def test_every_allocation_chart_of_the_sample_has_no_overlap_and_no_legend_over_data(sample):
    charts = {"share area": plots.share_area(sample.shares), "targets": plots.target_deviation(sample.targets),
              "heatmap": plots.team_heatmap(sample.shares), "cost": plots.cost_bars(sample.cost),
              "estimates": plots.estimate_ratio(sample.estimates), "unclassified": plots.unclassified_trend(sample.shares)}
    problems = {name: layout_problems(chart) for name, chart in charts.items()}
    assert not any(problems.values()), problems


def test_the_share_chart_colours_the_five_largest_themes_and_greys_the_rest(sample):
    legend = plots.share_area(sample.shares).legends[0]
    labels = [text.get_text() for text in legend.get_texts()]
    # top down as stacked: Unclassified, the other themes together, then the five largest
    latest = sample.shares.matrix().iloc[-1].drop(sample.shares.unclassified)
    assert labels[:2] == [sample.shares.unclassified, plots.OTHER_THEMES]
    assert sorted(labels[2:]) == sorted(latest.nlargest(5).index)


def test_the_target_chart_says_what_its_colours_mean(sample):
    legend = plots.target_deviation(sample.targets).legends[0]
    labels = [text.get_text() for text in legend.get_texts()]
    statuses = set(sample.targets.for_team()["status"])
    assert len(labels) == len(statuses)
    assert ("on target" in statuses) == any(label.startswith("on target (within ±") for label in labels)
