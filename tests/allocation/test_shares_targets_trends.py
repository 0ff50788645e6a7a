"""Shares, plan against actual and trends: worked examples and an independent pandas check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from prodops_lib import params
from prodops_lib.allocation import (
    AllocationInputs,
    AllocationParams,
    StatusBands,
    analyse,
    classify,
    compare_to_targets,
    compute_trends,
    effort_share,
    load_targets,
    measure_effort,
)
from prodops_lib.io import DropLog, InputError

from .helpers import items_from, label_rules, people_from, worklogs_from


def effort_from(hours: dict[str, dict[str, float]], teams: dict[str, str] | None = None):
    """Effort with ``hours[month][theme]`` logged by one person per theme (theme "U" is left
    unclassified); ``teams`` maps theme → team (default team "T")."""
    themes = sorted({t for month in hours.values() for t in month})
    items = items_from([{"key": f"K-{t}", "labels": [t.lower()] if t != "U" else [], "summary": t,
                         "created": "2025-01-01"} for t in themes])
    logs = [(f"K-{t}", f"P-{t}", f"{month}-10", h) for month, by_theme in hours.items() for t, h in by_theme.items()]
    teams = teams or {}
    people = people_from([(f"P-{t}", teams.get(t, "T"), "1", "1000", "2025-01-01") for t in themes])
    classification = classify(items, label_rules(*[t for t in themes if t != "U"], unclassified="U"))
    months = sorted(hours)
    return measure_effort(items, classification, worklogs=worklogs_from(logs), people=people,
                          period=months[-1], months_of_history=len(months))


def test_shares_match_an_independent_groupby():
    hours = {"2026-01": {"X": 10, "Y": 30, "U": 10}, "2026-02": {"X": 5, "Z": 15}}
    shares = effort_share(effort_from(hours, teams={"X": "Red", "Y": "Blue", "Z": "Red", "U": "Blue"})).to_frame()
    rows = pd.DataFrame([(m, t, {"X": "Red", "Y": "Blue", "Z": "Red", "U": "Blue"}[t], h)
                         for m, by_theme in hours.items() for t, h in by_theme.items()],
                        columns=["month", "theme", "team", "effort"])
    org = rows.groupby(["month", "theme"])["effort"].sum()
    expected_org = (org / org.groupby(level="month").transform("sum")).to_dict()
    team = rows.groupby(["month", "team", "theme"])["effort"].sum()
    expected_team = (team / team.groupby(level=["month", "team"]).transform("sum")).to_dict()
    got = shares.set_index(["month", "team", "theme"])["share"]
    for (month, theme), share in expected_org.items():
        assert got[(month, "ALL", theme)] == pytest.approx(share)
    for (month, team_name, theme), share in expected_team.items():
        assert got[(month, team_name, theme)] == pytest.approx(share)
    # Every theme appears in every team-month (zero when absent), and each team-month sums to 1.
    assert got[("2026-02", "ALL", "Y")] == 0.0
    assert shares.groupby(["month", "team"])["share"].sum().tolist() == pytest.approx([1.0] * 5)
    assert list(shares.columns) == ["month", "theme", "team", "effort", "share"]
    assert shares["team"].iloc[0] == "ALL"


def test_yearly_and_quarterly_shares():
    effort = effort_from({"2025-12": {"X": 1, "Y": 3}, "2026-01": {"X": 3, "Y": 1}, "2026-02": {"X": 2, "Y": 2}})
    yearly = effort_share(effort, granularity="year").to_frame().query("team == 'ALL'").set_index(["year", "theme"])["share"]
    assert yearly[("2025", "X")] == 0.25 and yearly[("2026", "X")] == pytest.approx(5 / 8)
    quarterly = effort_share(effort, granularity="quarter").to_frame()
    assert sorted(quarterly["quarter"].unique()) == ["2025Q4", "2026Q1"]


# Effort in the period: X 50, Y 30, Z 15, Unclassified 5; targets X 40%, Y 40%, Z 20%.
PERIOD = {"2026-03": {"X": 50, "Y": 30, "Z": 15, "U": 5}}
TARGETS = {"X": 0.4, "Y": 0.4, "Z": 0.2}


def test_plan_against_actual_on_classified_effort():
    comparison = compare_to_targets(effort_share(effort_from(PERIOD)), load_targets(TARGETS),
                                    bands=StatusBands(on_target_pp=2, drifting_pp=5))
    rows = comparison.for_team().set_index("theme")
    # Classified effort is 95: X 50/95 = 52.63%, Y 31.58%, Z 15.79%.
    assert rows["actual_share"].to_dict() == pytest.approx({"X": 50 / 95, "Y": 30 / 95, "Z": 15 / 95})
    assert rows["deviation_pp"].to_dict() == pytest.approx({"X": 12.631579, "Y": -8.421053, "Z": -4.210526}, abs=1e-6)
    assert rows["status"].to_dict() == {"X": "off target", "Y": "off target", "Z": "drifting"}
    # ½ (0.126316 + 0.084211 + 0.042105) = 0.126316
    assert comparison.misallocation["ALL"] == pytest.approx(0.126316, abs=1e-6)
    assert comparison.biggest_gaps(n=1)["theme"].tolist() == ["X"]


def test_plan_against_actual_on_all_effort_counts_unclassified_as_untargeted():
    comparison = compare_to_targets(effort_share(effort_from(PERIOD)), load_targets(TARGETS), basis="all")
    rows = comparison.for_team().set_index("theme")
    assert rows["deviation_pp"].to_dict() == pytest.approx({"X": 10.0, "Y": -10.0, "Z": -5.0, "U": 5.0})
    assert rows["status"].to_dict() == {"X": "off target", "Y": "off target", "Z": "drifting", "U": "drifting"}
    assert comparison.misallocation["ALL"] == pytest.approx(0.15)


def test_targets_by_category():
    comparison = compare_to_targets(effort_share(effort_from(PERIOD)), load_targets({"roadmap": 0.7, "ktlo": 0.3}),
                                    categories={"X": "roadmap", "Y": "roadmap", "Z": "ktlo"})
    rows = comparison.for_team().set_index("theme")
    # roadmap 80/95 = 84.21% against 70%: +14.21 pp; ktlo 15/95 = 15.79% against 30%.
    assert rows["deviation_pp"].to_dict() == pytest.approx({"roadmap": 14.210526, "ktlo": -14.210526}, abs=1e-6)
    assert comparison.misallocation["ALL"] == pytest.approx(0.142105, abs=1e-6)


def test_team_targets_and_their_errors():
    effort = effort_from(PERIOD, teams={"X": "Red", "Y": "Red", "Z": "Blue", "U": "Blue"})
    shares = effort_share(effort)
    targets = load_targets(pd.DataFrame({"theme": ["X", "Y", "Z", "X", "Y"], "team": ["", "", "", "Red", "Red"],
                                         "target_share": ["0.4", "0.4", "0.2", "0.5", "0.5"]}))
    red = compare_to_targets(shares, targets).for_team("Red").set_index("theme")
    assert red["deviation_pp"].to_dict() == pytest.approx({"X": 12.5, "Y": -12.5})   # 50/80 vs 50%
    with pytest.raises(InputError, match=r"^targets: 'Mobile App' is not one of the themes; known themes: X, Y, Z$"):
        compare_to_targets(shares, load_targets({"Mobile App": 1.0}))
    with pytest.raises(InputError, match=r"^targets: team 'Rd' has no effort in any month; did you mean 'Red'\?$"):
        compare_to_targets(shares, pd.DataFrame({"theme": ["X"], "team": ["Rd"], "target_share": [1.0]}))


def test_trend_changes_rolling_share_and_slope():
    # X's share: 10/100 = 10%, 24/200 = 12%, 17/100 = 17%.
    effort = effort_from({"2026-01": {"X": 10, "Y": 90}, "2026-02": {"X": 24, "Y": 176}, "2026-03": {"X": 17, "Y": 83}})
    trends = compute_trends(effort_share(effort))
    x = trends.to_frame().set_index("theme").loc["X"]
    assert x["share"] == pytest.approx(0.17) and x["previous_share"] == pytest.approx(0.12)
    assert x["change_pp"] == pytest.approx(5.0)
    assert x["rolling_share"] == pytest.approx(51 / 400)            # pooled: (10+24+17)/(100+200+100)
    # Least squares on (0, 10), (1, 12), (2, 17): ((-1)(-3) + 0 + (1)(4)) / 2 = 3.5 pp a month.
    assert x["slope_pp_per_month"] == pytest.approx(3.5)
    assert x["slope_pp_per_month"] == pytest.approx(np.polyfit([0, 1, 2], [10, 12, 17], 1)[0])
    monthly = trends.monthly.set_index(["month", "theme"])
    assert monthly.loc[("2026-02", "X"), "rolling_share"] == pytest.approx(34 / 300)
    assert trends.changed_most(1)["theme"].tolist() in (["X"], ["Y"])
    assert trends.describe_changes(1)[0].startswith(("X: +5.0 pp (12.0% → 17.0%)", "Y: -5.0 pp (88.0% → 83.0%)"))


def test_team_targets_without_a_people_file_are_refused():
    items = items_from([{"key": "K-X", "labels": ["x"], "summary": "x"}])
    settings = params.build(AllocationParams, {"sources": {"items": {"path": "unused.csv"}, "worklogs": {"path": "unused.csv"}},
                                               "rules": "unused.yaml", "period": "2026-03"})
    inputs = AllocationInputs(items, label_rules("X"), worklogs_from([("K-X", "Ann", "2026-03-02", 1)]), None,
                              load_targets(pd.DataFrame({"theme": ["X", "X"], "team": ["", "Mobile"], "target_share": ["1", "1"]})))
    with pytest.raises(InputError, match=r"^targets: team targets \(Mobile\) need sources\.people to know who is in which team; add the people file or keep only organisation targets \(blank team\)$"):
        analyse(inputs, settings, DropLog())


def _eight_hours(**extra):
    items = items_from([{"key": "K-X", "labels": ["x"], "summary": "x"}, {"key": "K-Y", "labels": ["y"], "summary": "y"}])
    settings = params.build(AllocationParams, {"sources": {"items": {"path": "unused.csv"}, "worklogs": {"path": "unused.csv"}},
                                               "rules": "unused.yaml", "period": "2026-03", **extra})
    worklogs = worklogs_from([("K-X", "Ann", "2026-03-02", 6), ("K-Y", "Ann", "2026-03-03", 2)])
    inputs = AllocationInputs(items, label_rules("X", "Y"), worklogs, None, load_targets({"X": 0.5, "Y": 0.5}))
    return analyse(inputs, settings, DropLog())


def test_eight_hours_are_too_little_for_a_verdict_on_gaps_to_plan():
    result = _eight_hours()
    # 6 of 8 hours on X against a 50% plan: a 25-point gap from one item
    assert result.targets.misallocation["ALL"] == pytest.approx(0.25)
    assert result.too_little and result.effort_needed == 80.0
    headline, tone = result.headline()
    assert headline == "2026-03: too little effort for a verdict (8 logged hours, under the 80 needed)."
    assert tone == "warning"
    assert [card.label for card in result.kpis()] == ["Effort, 2026-03", "Verdict", "Unclassified"]
    points = result.summary_points()
    assert points[0].startswith("Too little effort in 2026-03 for a verdict: 8 logged hours, under the 80 that "
                                "min_effort asks for.")
    assert not any("would have to move" in point for point in points)


def test_min_effort_sets_the_bar():
    result = _eight_hours(min_effort=8)
    assert not result.too_little
    assert "25% of classified effort would have to move to match the plan" in result.headline()[0]
    with pytest.raises(params.ParameterError, match="min_effort: must be 0 or more, got -1"):
        _eight_hours(min_effort=-1)
