"""The review's charts: fake doors apart from A/B lifts, an experiment to investigate in grey,
at most a handful of highlighted gap lines, and no overlapping labels or legend over data, on
small hand-made results and on the bundled sample's own review."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from matplotlib.colors import same_color

from prodops_lib import params, review
from prodops_lib.charts import GREY, HIGHLIGHTED
from prodops_lib.io import DropLog
from prodops_lib.review import plots
from prodops_lib.review.demand_supply import GapHistory
from prodops_lib.review.experiments import experiments_by_theme
from prodops_lib.review.inputs import load_review_inputs
from prodops_lib.review.spec import ReviewSources

from ..chart_checks import layout_problems
from ..conftest import ROOT

THEMES = ["Alpha", "Beta", "Gamma"]


def experiments_frame(**columns) -> pd.DataFrame:
    """Rows as the review reads them from each experiment's summary.json."""
    frame = pd.DataFrame({
        "name": ["checkout", "onboarding", "door"], "kind": ["A/B test", "A/B test", "fake door"],
        "theme": ["Alpha", "Beta", "Alpha"], "decision": ["ship", "investigate", "ship"],
        "status": ["decided"] * 3, "primary_metric": ["converted", "activated", "click_through vs target"],
        "rel_effect": [0.10, 0.04, 0.40], "rel_ci_low": [0.02, -0.01, 0.18], "rel_ci_high": [0.18, 0.09, 0.66],
        "days_to_go": [None] * 3, "click_through": [None, None, 0.042], "click_through_low": [None, None, 0.035],
        "click_through_high": [None, None, 0.050], "target_rate": [None, None, 0.03],
    })
    return frame.assign(**columns)


def panels(figure) -> dict[str, object]:
    return {("fake door" if axis.get_title().startswith("Fake doors") else "A/B"): axis for axis in figure.axes}


def ticks(axis) -> list[str]:
    return [label.get_text() for label in axis.get_yticklabels()]


def test_fake_doors_are_drawn_apart_from_the_ab_lifts_against_their_target():
    figure = plots.plot_experiment_lifts(experiments_by_theme(experiments_frame(), THEMES))
    by_kind = panels(figure)
    assert set(by_kind) == {"A/B", "fake door"}
    assert not any("door" in label for label in ticks(by_kind["A/B"]))
    assert ticks(by_kind["fake door"]) == ["door · Alpha"]
    door = by_kind["fake door"]
    points = [line for line in door.lines if line.get_marker() == "o"]
    assert [line.get_xdata()[0] for line in points] == pytest.approx([4.2])  # click-through, not the +40% lift
    targets = [line for line in door.lines if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in targets] == pytest.approx([3.0])
    assert "against control" in by_kind["A/B"].get_xlabel() and "Click-through" in door.get_xlabel()
    assert layout_problems(figure) == []


def test_an_experiment_to_investigate_is_grey_and_hollow():
    figure = plots.plot_experiment_lifts(experiments_by_theme(experiments_frame(), THEMES))
    ab = panels(figure)["A/B"]
    row = ticks(ab).index("onboarding · Beta")
    drawn = [line for line in ab.lines if list(line.get_ydata()[:1]) == [row]]
    assert drawn and all(same_color(line.get_color(), plots.DECISION_COLOURS["investigate"]) for line in drawn)
    assert same_color(next(line for line in drawn if line.get_marker() == "o").get_markerfacecolor(), "white")
    legend_texts = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "investigate (not trustworthy)" in legend_texts


def test_a_fake_door_is_kept_off_the_lift_axis_when_its_summary_predates_the_kind(tmp_path):
    # summaries saved before the review recorded the kind: the one with a target is a fake door
    for name, extra in (("checkout", {}), ("door", {"target_rate": 0.03, "click_through": 0.042})):
        (tmp_path / name).mkdir()
        row = experiments_frame().set_index("name").loc[name].drop("kind").to_dict() | extra
        (tmp_path / name / "summary.json").write_text(json.dumps({"name": name, **{k: v for k, v in row.items()
                                                                                   if v == v and v is not None}}))
    inputs = load_review_inputs(tmp_path, ReviewSources(allocation=None, feedback=None, experiments=["checkout", "door"]),
                                DropLog())
    assert inputs.experiments.set_index("name")["kind"].to_dict() == {"checkout": "A/B test", "door": "fake door"}
    figure = plots.plot_experiment_lifts(experiments_by_theme(inputs.experiments, THEMES))
    assert not any("door" in label for label in ticks(panels(figure)["A/B"]))


def test_only_ab_tests_or_only_fake_doors_draw_one_panel():
    frame = experiments_frame()
    only_ab = plots.plot_experiment_lifts(experiments_by_theme(frame[frame["kind"] == "A/B test"], THEMES))
    assert list(panels(only_ab)) == ["A/B"]
    only_doors = plots.plot_experiment_lifts(experiments_by_theme(frame[frame["kind"] == "fake door"], THEMES))
    assert list(panels(only_doors)) == ["fake door"]


def gap_frame(gaps: dict[str, list[float]]) -> GapHistory:
    months = [f"2026-{m:02d}" for m in range(5, 5 + len(next(iter(gaps.values()))))]
    rows = [{"month": month, "theme": theme, "demand_share": None, "effort_share": None, "gap_pp": gap}
            for theme, values in gaps.items() for month, gap in zip(months, values, strict=True)]
    return GapHistory(pd.DataFrame(rows), pd.DataFrame())


def test_gap_history_highlights_the_largest_gaps_of_the_last_month_and_greys_the_rest():
    gaps = {f"Theme {i}": [float(i), float(i)] for i in range(1, 9)}
    gaps["Theme 1"] = [30.0, -40.0]  # the largest gap now, small before
    figure = plots.plot_gap_history(gap_frame(gaps))
    axis = figure.axes[0]
    coloured = [line for line in axis.lines if not same_color(line.get_color(), GREY) and line.get_marker() == "o"]
    grey = [line for line in axis.lines if same_color(line.get_color(), GREY)]
    assert len(coloured) == HIGHLIGHTED <= 6 and len(grey) == 8 - HIGHLIGHTED
    named = [text.get_text().split(" (")[0] for text in axis.texts]
    assert named[0] == "Theme 1" and named[1:] == ["Theme 8", "Theme 7", "Theme 6", "Theme 5"][:HIGHLIGHTED - 1]
    assert "Theme 2" in axis.get_xlabel()  # the grey ones are named under the chart
    assert layout_problems(figure) == []


@pytest.fixture(scope="module")
def sample_review(sample_reports):
    """The monthly review of the bundled sample, built from the results its run saved."""
    period = sample_reports["period"]
    settings = params.load(ROOT / "parameters" / "monthly_review.yaml", review.ReviewParams)
    inputs = review.load_review_inputs(sample_reports["out"] / period / "results", settings.sources, DropLog())
    return review.build_review(inputs, params.load_taxonomy(settings.taxonomy), settings, period, None)


@pytest.mark.slow
def test_every_review_chart_of_the_sample_has_no_overlap_and_no_legend_over_data(sample_review):
    charts = {"demand vs supply": plots.plot_demand_vs_supply(sample_review.demand_supply),
              "scatter": plots.plot_demand_supply_scatter(sample_review.demand_supply),
              "gap history": plots.plot_gap_history(sample_review.history),
              "experiments": plots.plot_experiment_lifts(sample_review.experiments)}
    problems = {name: layout_problems(chart) for name, chart in charts.items()}
    assert not any(problems.values()), problems


@pytest.mark.slow
def test_the_sample_gap_history_highlights_the_planted_under_and_over_served_themes(sample_review):
    truth = json.loads((ROOT / "data" / "sample" / "truth.json").read_text(encoding="utf-8"))["review"]
    figure = plots.plot_gap_history(sample_review.history)
    named = {text.get_text().split(" (")[0] for text in figure.axes[0].texts}
    assert len(named) <= 6 and {truth["under_served"], truth["over_served"]} <= named


@pytest.mark.slow
def test_the_sample_fake_door_is_not_on_the_ab_panel(sample_review):
    doors = [name for name in sample_review.experiments.experiments["name"] if name.startswith("fake_door")]
    assert doors, "the sample has a fake door"
    figure = plots.plot_experiment_lifts(sample_review.experiments)
    by_kind = panels(figure)
    assert not any(name in label for name in doors for label in ticks(by_kind["A/B"]))
    assert all(any(name in label for label in ticks(by_kind["fake door"])) for name in doors)
