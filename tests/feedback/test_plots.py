"""The feedback charts drawn from the sample's analysis: no overlapping labels, no legend over
the data, and no more highlighted series than can be told apart."""

from __future__ import annotations

import pytest
from matplotlib.colors import same_color

from prodops_lib.charts import GREY, HIGHLIGHTED
from prodops_lib.feedback import plots
from prodops_lib.feedback.cluster import layout_2d

from ..chart_checks import layout_problems


@pytest.fixture(scope="module")
def charts(sample_analysis, sample_settings):
    analysis, _ = sample_analysis
    shown, coordinates = layout_2d(analysis.embeddings.vectors, seed=sample_settings.clustering.seed)
    themes = analysis.themes
    return {
        "theme sizes": plots.theme_sizes(themes, top=15),
        "by source": plots.themes_by_source(analysis.description.by_source, themes, top=15),
        # as the notebook calls it: with the parameters' top_themes, more than can be coloured
        "map": plots.theme_map(coordinates, analysis.description.items.iloc[shown]["theme_id"].to_numpy(), themes,
                               top=sample_settings.top_themes),
        "trend lines": plots.trend_lines(analysis.theme_trends, themes, top=6),
        "trend changes": plots.trend_changes(analysis.issue_trends.changes),
        "k quality": plots.k_quality(analysis.clustering),
    }


def test_every_feedback_chart_of_the_sample_has_no_overlap_and_no_legend_over_data(charts):
    problems = {name: layout_problems(chart) for name, chart in charts.items()}
    assert not any(problems.values()), problems


def test_the_map_and_the_trend_lines_colour_at_most_a_handful_of_themes(charts, sample_settings):
    assert sample_settings.top_themes > HIGHLIGHTED  # the notebook asks for more than are coloured
    map_axis = charts["map"].axes[0]
    coloured = [c for c in map_axis.collections if not same_color(c.get_facecolor()[0][:3], GREY)]
    assert len(coloured) == HIGHLIGHTED <= 6
    assert len(charts["trend lines"].axes[0].lines) <= HIGHLIGHTED


def test_the_trend_changes_legend_has_one_entry_per_colour_drawn(charts):
    labels = [text.get_text() for text in charts["trend changes"].legends[0].get_texts()]
    assert labels[0] == "baseline months" and all(label.startswith("this period, ") for label in labels[1:])
