"""The layout checker finds what it should, and the shared chart helpers pass it.

``tests/chart_checks.py`` is what every plot test relies on to say "no overlap", so it is
first shown to catch planted overlaps (it would otherwise pass vacuously)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from prodops_lib.charts import label_line_ends, label_points, legend_outside, spread

from .chart_checks import layout_problems


def _figure() -> tuple[Figure, object]:
    figure = Figure(figsize=(6, 4), layout="constrained")
    return figure, figure.subplots()


def test_the_checker_finds_two_texts_drawn_on_each_other():
    figure, axis = _figure()
    axis.set_xlim(0, 10)
    axis.set_ylim(0, 10)
    axis.text(5, 5, "Billing & invoicing")
    axis.text(5.2, 5.1, "Search")
    assert layout_problems(figure) == ["texts overlap: 'Billing & invoicing' and 'Search'"]


def test_the_checker_finds_a_legend_over_a_line_and_over_bars():
    figure, axis = _figure()
    axis.plot([0, 1], [0.9, 0.9], label="a line along the top")
    axis.bar([0.5], [0.5], width=1.0, label="bars")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.legend(loc="upper center")
    problems = layout_problems(figure)
    assert any("covers line 'a line along the top'" in p for p in problems)
    figure, axis = _figure()
    axis.bar(np.arange(5), [5, 5, 5, 5, 5], label="bars")
    axis.legend(loc="center")
    assert any("covers patch" in p for p in layout_problems(figure))


def test_the_checker_finds_a_legend_over_scatter_markers_and_areas():
    figure, axis = _figure()
    axis.scatter([0.5], [0.5], label="a point")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.legend(loc="center")
    assert any("covers markers" in p for p in layout_problems(figure))
    figure, axis = _figure()
    axis.fill_between([0, 1], [0, 0], [1, 1], label="an area")
    axis.legend(loc="center")
    assert any("covers" in p and "an area" in p for p in layout_problems(figure))


def test_the_checker_reads_rotated_labels_as_the_rectangles_they_are():
    # 35°-rotated tick labels: their axis-aligned extents overlap, the drawn text does not
    figure, axis = _figure()
    names = ["Reporting & dashboards", "Performance & reliability", "Permissions & admin", "Maintenance (KTLO)"]
    axis.set_xticks(range(4), names, rotation=35, ha="right")
    assert layout_problems(figure) == []
    # horizontal, the same long labels do run into each other
    figure, axis = _figure()
    axis.set_xticks(range(4), names)
    assert any(p.startswith("texts overlap") for p in layout_problems(figure))


def test_the_checker_ignores_tick_labels_outside_the_view_and_hidden_axes():
    figure, axis = _figure()
    axis.plot([0, 1], [0, 1])
    axis.set_xticks([0, 1, 50], ["zero", "one", "far away, on top of nothing"])
    axis.set_xlim(0, 1)
    twin = axis.twinx()  # its x axis is hidden: its tick labels would sit on the first axis's
    twin.plot([0, 1], [1, 0])
    assert layout_problems(figure) == []


def test_a_legend_outside_covers_no_data_even_when_data_fill_the_axes():
    for below in (False, True):
        figure, axis = _figure()
        axis.fill_between([0, 1], [0, 0], [1, 1], label="everywhere")
        axis.plot([0, 1], [0, 1], marker="o", label="diagonal")
        axis.set_xlabel("a label the legend must not cover")
        legend_outside(figure, below=below)
        assert layout_problems(figure) == []
        assert len(figure.legends) == 1


def test_point_labels_of_a_tight_cluster_are_pushed_apart():
    figure, axis = _figure()
    rng = np.random.default_rng(3)
    x, y = 10 + rng.normal(0, 0.3, 8), 10 + rng.normal(0, 0.3, 8)
    axis.scatter(x, y)
    axis.set_xlim(0, 20)
    axis.set_ylim(0, 20)
    names = ["Billing & invoicing", "Search", "Performance & reliability", "Onboarding", "Mobile app",
             "Integrations", "Permissions & admin", "Reporting & dashboards"]
    texts = label_points(axis, x, y, names)
    assert [t.get_text() for t in texts] == names
    assert layout_problems(figure) == []


def test_point_labels_are_placed_the_same_way_every_time():
    def positions():
        _, axis = _figure()
        axis.scatter([1, 1.05, 1.1], [1, 1.02, 0.98])
        return [t.get_position() for t in label_points(axis, [1, 1.05, 1.1], [1, 1.02, 0.98], ["a", "b", "c"])]
    assert positions() == positions()


def test_line_end_labels_of_lines_ending_together_are_stacked_apart_in_order():
    figure, axis = _figure()
    ends = [2.0, 2.05, 1.95, -10.0]
    for end in ends:
        axis.plot([0, 1], [0, end])
    texts = label_line_ends(axis, ends, ["two", "two and a bit", "just under two", "minus ten"],
                            ["C0", "C1", "C2", "C3"])
    assert layout_problems(figure) == []
    heights = {t.get_text(): t.xy[1] for t in texts}
    assert heights["two and a bit"] > heights["two"] > heights["just under two"] > heights["minus ten"]
    assert heights["minus ten"] == pytest.approx(-10.0, abs=0.01)  # alone: not moved


def test_spread_keeps_lone_labels_in_place_and_centres_colliding_ones():
    assert spread([0.0, 10.0, 10.2, 30.0], step=2.0).tolist() == pytest.approx([0.0, 9.1, 11.1, 30.0])
    # a block that grows into its neighbour merges with it, still centred, still in order
    assert spread([0.0, 1.0, 2.0, 3.0], step=2.0).tolist() == pytest.approx([-1.5, 0.5, 2.5, 4.5])
    assert spread([5.0, 1.0], step=2.0).tolist() == pytest.approx([5.0, 1.0])
