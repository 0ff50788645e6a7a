"""Charts are figures of the analysis, leave the global style alone, and on every sample
experiment draw no overlapping labels and no legend over the data."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest
from matplotlib.figure import Figure

from prodops_lib import display, params
from prodops_lib.experiments import (
    analyse_aggregates,
    analyse_experiment,
    analyse_fake_door,
    plan_experiment,
    plot_cumulative,
    plot_distribution,
    plot_effect_by_exposure_day,
    plot_fake_door,
    plot_forest,
    plot_power_curve,
)
from prodops_lib.experiments.report import (
    ExperimentReport,
    FakeDoorReport,
    run_experiment_report,
    run_fake_door_report,
)
from prodops_lib.io import DropLog

from ..chart_checks import layout_problems
from ..conftest import ROOT
from .conftest import make_spec, make_units


def legend_texts(figure) -> list[str]:
    return [text.get_text() for legend in figure.legends for text in legend.get_texts()]


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
    assert any("boundary valid at every look" in text for text in legend_texts(axes.figure))
    assert len(axes.collections) == 2  # one boundary band per variant


def test_distribution_plot_shows_every_variant(analysis):
    assert legend_texts(plot_distribution(analysis, "revenue")) == ["B", "C", "control"]


def test_power_curve_from_an_analysis_and_from_a_plan(analysis):
    for power in (analysis, plan_experiment(0.1, 0.05)):
        axes = plot_power_curve(power).axes[0]
        assert axes.get_ylim()[1] == pytest.approx(1.02)


def test_fake_door_plot_marks_the_target():
    result = analyse_fake_door(pd.DataFrame({"variant": ["door"], "exposures": [500], "clicks": [20]}), 0.03)
    assert "target 3.00%" in legend_texts(plot_fake_door(result))


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


@pytest.mark.parametrize("name", ["ab_checkout_redesign", "ab_onboarding_checklist", "ab_search_ranking",
                                  "ab_dashboard_aggregates"])
def test_every_chart_of_a_sample_experiment_has_no_overlap_and_no_legend_over_data(name):
    report = params.load(ROOT / "parameters" / f"{name}.yaml", ExperimentReport)
    analysis = run_experiment_report(report, DropLog(), period="2026-10")
    with matplotlib.rc_context():  # drawn in the reports' theme (its fonts are larger), as the pages show them
        display.use_theme()
        problems = {chart: layout_problems(figure) for chart, figure in _sample_charts(analysis, report).items()}
    assert not any(problems.values()), problems


def _sample_charts(analysis, report) -> dict[str, Figure]:
    charts = {"forest": plot_forest(analysis)}
    if analysis.cumulative is not None:
        charts["cumulative"] = plot_cumulative(analysis)
    if analysis.by_exposure_day is not None:
        charts["by_exposure_day"] = plot_effect_by_exposure_day(analysis)
    if analysis.power is not None:
        charts["power"] = plot_power_curve(analysis.power)
    if not report.aggregates:
        charts["distribution"] = plot_distribution(analysis)
    return charts


def test_the_sample_fake_door_chart_has_no_overlap_and_no_legend_over_data():
    report = params.load(ROOT / "parameters" / "fake_door_ai_summary.yaml", FakeDoorReport)
    assert layout_problems(plot_fake_door(run_fake_door_report(report, DropLog()))) == []


def test_a_cumulative_legend_of_three_variants_stays_off_the_data(analysis):
    figure = plot_cumulative(analysis)  # B and C: six entries
    assert len(legend_texts(figure)) == 6
    assert layout_problems(figure) == []
