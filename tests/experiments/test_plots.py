"""Charts are figures of the analysis, and leave the global style alone."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest
from matplotlib.figure import Figure

from prodops_lib.experiments import (
    analyse_aggregates,
    analyse_experiment,
    analyse_fake_door,
    plan_experiment,
    plot_cumulative,
    plot_distribution,
    plot_fake_door,
    plot_forest,
    plot_power_curve,
)

from .conftest import make_spec, make_units


@pytest.fixture(scope="module")
def analysis():
    return analyse_experiment(make_units(6000, seed=9, days=5), make_spec(timestamp_column="exposed_at"))


def test_forest_plot_has_one_interval_per_row(analysis):
    figure = plot_forest(analysis)
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    labels = [label.get_text() for label in axes.get_yticklabels()]
    assert len(labels) == len(analysis.results)
    assert "converted · B" in labels


def test_cumulative_plot_draws_the_boundary(analysis):
    axes = plot_cumulative(analysis).axes[0]
    assert any("always-valid" in text.get_text() for text in axes.get_legend().get_texts())
    assert len(axes.collections) == 2  # one boundary band per variant


def test_distribution_plot_shows_every_variant(analysis):
    axes = plot_distribution(analysis, "revenue").axes[0]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == ["B", "C", "control"]


def test_power_curve_from_an_analysis_and_from_a_plan(analysis):
    for power in (analysis, plan_experiment(0.1, 0.05)):
        axes = plot_power_curve(power).axes[0]
        assert axes.get_ylim()[1] == pytest.approx(1.02)


def test_fake_door_plot_marks_the_target():
    result = analyse_fake_door(pd.DataFrame({"variant": ["door"], "exposures": [500], "clicks": [20]}), 0.03)
    assert "target 3.00%" in [text.get_text() for text in plot_fake_door(result).axes[0].get_legend().get_texts()]


def test_plots_do_not_change_the_global_style(analysis):
    before = dict(matplotlib.rcParams)
    plot_forest(analysis)
    plot_cumulative(analysis)
    assert dict(matplotlib.rcParams) == before


def test_charts_that_need_unit_data_say_so():
    aggregates = pd.DataFrame({"variant": ["control", "B"], "n": [100, 100], "successes": [10, 12]})
    result = analyse_aggregates(aggregates, make_spec(unit=None, metrics=[{"name": "ctr", "kind": "proportion", "role": "primary"}]))
    with pytest.raises(ValueError, match="set timestamp_column to see the cumulative effect"):
        plot_cumulative(result)
    with pytest.raises(ValueError, match="the distribution needs unit-level data"):
        plot_distribution(result)
