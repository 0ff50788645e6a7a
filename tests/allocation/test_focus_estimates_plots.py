"""Concentration, estimates against actuals and the charts, on worked examples."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from prodops_lib.allocation import (
    classify,
    compare_to_targets,
    compute_concentration,
    cost_by_theme,
    effort_share,
    estimate_vs_actual,
    load_targets,
    measure_effort,
    plots,
)

from .helpers import items_from, label_rules, people_from, worklogs_from


def focus_effort():
    # P: 6 h on X, 2 h on Y, 4 h unclassified; Q: 5 h on X. Both in team T; R (team S): 1 h X, 1 h Y, 1 h Z.
    items = items_from([{"key": "IX", "labels": ["x"], "summary": "x"}, {"key": "IY", "labels": ["y"], "summary": "y"},
                        {"key": "IZ", "labels": ["z"], "summary": "z"}, {"key": "IU", "summary": "u"}])
    logs = worklogs_from([("IX", "P", "2026-03-02", 6), ("IY", "P", "2026-03-03", 2), ("IU", "P", "2026-03-04", 4),
                          ("IX", "Q", "2026-03-02", 5),
                          ("IX", "R", "2026-03-02", 1), ("IY", "R", "2026-03-02", 1), ("IZ", "R", "2026-03-02", 1)])
    people = people_from([("P", "T", "1", "9000", "2026-01-01"), ("Q", "T", "1", "6000", "2026-01-01"),
                          ("R", "S", "0.5", "4000", "2026-01-01")])
    return measure_effort(items, classify(items, label_rules("X", "Y", "Z")), worklogs=logs, people=people,
                          period="2026-03", months_of_history=1)


def test_effective_number_of_themes_per_person_month():
    focus = compute_concentration(focus_effort())
    people = focus.person_months.set_index("person")
    # P: classified shares 6/8 and 2/8 → 1 / (0.5625 + 0.0625) = 1.6; Q: one theme → 1.
    assert people.loc["P", "themes_worked"] == 2 and people.loc["P", "effective_themes"] == pytest.approx(1.6)
    assert people.loc["Q", "effective_themes"] == pytest.approx(1.0)
    assert people.loc["R", "effective_themes"] == pytest.approx(3.0)
    teams = focus.to_frame().set_index("team")
    assert teams.loc["T", "mean_effective_themes"] == pytest.approx(1.3)
    assert teams.loc["T", "mean_themes_worked"] == pytest.approx(1.5)
    assert focus.to_frame()["team"].tolist() == ["S", "T"]          # thinnest-spread first


def test_estimates_against_actuals_pool_hours_per_theme():
    items = items_from([
        {"key": "I1", "labels": ["x"], "estimate": 36000, "resolved": "2026-03-10", "summary": "a"},
        {"key": "I2", "labels": ["x"], "estimate": 72000, "resolved": "2026-03-11", "summary": "b"},
        {"key": "I3", "labels": ["y"], "estimate": 14400, "resolved": "2026-03-12", "summary": "c"},
        {"key": "I4", "labels": ["x", "y"], "estimate": 28800, "resolved": "2026-03-13", "summary": "d"},
        {"key": "I5", "labels": ["y"], "estimate": 3600, "summary": "open"},
    ])
    logs = worklogs_from([("I1", "P", "2026-03-01", 15), ("I2", "P", "2026-03-02", 10), ("I3", "P", "2026-03-03", 6),
                          ("I4", "P", "2026-03-04", 8), ("I5", "P", "2026-03-05", 9)])
    accuracy = estimate_vs_actual(items, classify(items, label_rules("X", "Y", split=True)), worklogs=logs,
                                  months=["2026-03"])
    rows = accuracy.to_frame().set_index("theme")
    # X: estimates 10 + 20 + 8/2 = 34 h, actuals 15 + 10 + 8/2 = 29 h; Y: 4 + 4 = 8 h and 6 + 4 = 10 h.
    assert rows.loc["X", ["items", "estimate_hours", "actual_hours"]].tolist() == pytest.approx([2.5, 34, 29])
    assert rows.loc["X", "actual_to_estimate"] == pytest.approx(29 / 34)
    assert rows.loc["Y", "actual_to_estimate"] == pytest.approx(1.25)
    assert rows.loc["X", "median_item_ratio"] == pytest.approx(1.0)   # ratios 1.5, 0.5, 1.0
    assert accuracy.overall_ratio == pytest.approx(39 / 42)


def test_charts_draw_what_the_tables_hold():
    effort = focus_effort()
    shares = effort_share(effort)
    area = plots.share_area(shares)
    assert len(area.axes[0].collections) == 4                 # X, Y, Z and Unclassified
    comparison = compare_to_targets(shares, load_targets({"X": 0.5, "Y": 0.3, "Z": 0.2}))
    bars = plots.target_deviation(comparison)
    widths = sorted(round(p.get_width(), 6) for p in bars.axes[0].patches if p.get_height() < 1)
    assert widths == sorted(round(v, 6) for v in comparison.for_team()["deviation_pp"])
    heat = plots.team_heatmap(shares)
    assert heat.axes[0].images[0].get_array().shape == (2, 4)  # teams T and S × 4 themes
    cost = cost_by_theme(effort, capitalizable=["X"])
    assert len(plots.cost_bars(cost).axes[0].patches) == 4
    line = plots.unclassified_trend(shares)
    assert list(line.axes[0].lines[0].get_ydata()) == pytest.approx([4 / 20])
    plt.close("all")
