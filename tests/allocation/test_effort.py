"""Effort units, each pinned to a worked example whose numbers are written out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from prodops_lib.allocation import classify, cost_by_theme, measure_effort
from prodops_lib.io import DropLog

from .helpers import items_from, label_rules, people_from, worklogs_from


def by(records, *columns, value="effort") -> dict:
    table = records.groupby(list(columns), observed=True)[value].sum()
    return {key: round(float(v), 9) for key, v in table.items() if v != 0}


# --------------------------------------------------------------------------- March 2026 (31 days)
# Ann (team A, 0.8 FTE, 8,000 a month) logs 3 h on I1 (theme X) and 1 h on I2 (theme Y).
# Bob (team B at 10,000 until 15 March, team A at 12,000 from 16 March) logs 2 h on I1 on the
# 10th and 2 h on I2 on the 20th. Cara (team B, 1.0 FTE, 9,000) joins on 11 March and logs
# nothing; I3 (X) is assigned to her and open all month, I4 (Y) from 21 to 31 March.
ITEMS = [
    {"key": "I1", "labels": ["x"], "created": "2026-02-01", "summary": "one"},
    {"key": "I2", "labels": ["y"], "created": "2026-02-01", "summary": "two"},
    {"key": "I3", "labels": ["x"], "created": "2026-03-01", "assignee": "Cara", "summary": "three"},
    {"key": "I4", "labels": ["y"], "created": "2026-03-21", "resolved": "2026-03-31", "assignee": "Cara", "summary": "four"},
]
LOGS = [("I1", "Ann", "2026-03-05", 3), ("I2", "Ann", "2026-03-20", 1),
        ("I1", "Bob", "2026-03-10", 2), ("I2", "Bob", "2026-03-20", 2)]
PEOPLE = [("Ann", "A", "0.8", "8000", "2026-01-01"), ("Bob", "B", "1", "10000", "2026-01-01"),
          ("Bob", "A", "1", "12000", "2026-03-16"), ("Cara", "B", "1", "9000", "2026-03-11")]


def march(unit: str, **options):
    items = items_from(ITEMS)
    return measure_effort(items, classify(items, label_rules("X", "Y")), unit=unit, worklogs=worklogs_from(LOGS),
                          people=people_from(PEOPLE), period="2026-03", months_of_history=1, **options)


def test_logged_hours_go_to_the_team_of_the_worklog_date():
    effort = march("logged_hours")
    assert by(effort.records, "theme") == {"X": 5.0, "Y": 3.0}
    # Bob's 2 h on the 20th count for team A, where he moved on the 16th.
    assert by(effort.records, "team") == {"A": 6.0, "B": 2.0}


def test_person_months_spread_fte_by_logged_time_or_evenly_by_day():
    effort = march("person_months")
    # Ann: 0.8 × 3/4 = 0.6 on I1 and 0.8 × 1/4 = 0.2 on I2. Bob: 1.0 split 2 h / 2 h = 0.5 each.
    # Cara: 21 of 31 days at 1.0 = 0.677419; days 11–20 all on I3 (10 days), days 21–31 shared by
    # I3 and I4 (5.5 days each): I3 = 15.5/31 = 0.5, I4 = 5.5/31 = 0.177419.
    assert by(effort.records, "item") == {0: pytest.approx(1.1), 1: pytest.approx(0.7),
                                          2: pytest.approx(0.5), 3: pytest.approx(5.5 / 31)}
    assert by(effort.records, "theme") == {"X": pytest.approx(1.6), "Y": pytest.approx(0.7 + 5.5 / 31)}
    assert by(effort.records, "team") == {"A": pytest.approx(1.3), "B": pytest.approx(0.5 + 21 / 31)}
    assert effort.records["effort"].sum() == pytest.approx(0.8 + 1.0 + 21 / 31)


def test_cost_follows_the_same_spread_and_capitalizable_share():
    effort = march("logged_hours")
    cost = cost_by_theme(effort, capitalizable=["X"])
    # Ann: 8,000 × 3/4 = 6,000 on X and 2,000 on Y. Bob's month: 15/31 × 10,000 + 16/31 × 12,000
    # = 342,000/31, half on each item. Cara: 9,000 a month × 15.5/31 days on I3 (X) = 4,500 and
    # × 5.5/31 on I4 (Y) = 1,596.77.
    bob_half = 342_000 / 31 / 2
    expected_x = 6000 + bob_half + 9000 * 15.5 / 31
    expected_y = 2000 + bob_half + 9000 * 5.5 / 31
    frame = cost.frame.set_index("theme")
    assert frame.loc["X", "cost"] == pytest.approx(expected_x)       # 16,016.129…
    assert frame.loc["Y", "cost"] == pytest.approx(expected_y)       # 9,112.903…
    assert cost.capitalizable_share == pytest.approx(expected_x / (expected_x + expected_y))
    assert cost.total_cost == pytest.approx(8000 + 342_000 / 31 + 9000 * 21 / 31)


def test_days_in_progress_split_across_months():
    items = items_from([
        {"key": "E", "type": "Epic", "labels": ["x"], "created": "2026-01-01", "summary": "epic"},
        {"key": "A", "epic": "E", "created": "2026-01-20", "resolved": "2026-02-10", "summary": "a"},
        {"key": "B", "labels": ["y"], "created": "2026-02-25", "summary": "b"},
    ])
    effort = measure_effort(items, classify(items, label_rules("X", "Y")), unit="days_in_progress",
                            period="2026-03", months_of_history=3)
    # A: 20–31 January = 12 days, 1–10 February = 10; B: 25–28 February = 4, March = 31 (open).
    # The epic E has a child, so its own 90 days are not added on top.
    assert by(effort.records, "month", "theme") == {("2026-01", "X"): 12.0, ("2026-02", "X"): 10.0,
                                                    ("2026-02", "Y"): 4.0, ("2026-03", "Y"): 31.0}


def test_story_points_and_item_count_never_add_a_parent_to_its_children():
    items = items_from([
        {"key": "E", "type": "Epic", "labels": ["x"], "points": 13, "resolved": "2026-03-30", "created": "2026-01-01", "summary": "e"},
        {"key": "S1", "epic": "E", "points": 5, "resolved": "2026-03-02", "created": "2026-02-01", "summary": "s1"},
        {"key": "S2", "epic": "E", "points": 3, "resolved": "2026-03-03", "created": "2026-02-01", "summary": "s2"},
        {"key": "S3", "labels": ["y"], "points": 5, "resolved": "2026-03-04", "created": "2026-02-01", "summary": "s3"},
        {"key": "T1", "parent": "S3", "resolved": "2026-03-05", "created": "2026-02-01", "summary": "t1"},
        {"key": "S4", "labels": ["y"], "points": 2, "created": "2026-02-01", "summary": "open"},
    ])
    classification = classify(items, label_rules("X", "Y"))
    log = DropLog()
    points = measure_effort(items, classification, unit="story_points", period="2026-03", months_of_history=1, log=log)
    # E's 13 points are its stories' 5 + 3; S3 keeps its 5 (its sub-task has no points).
    assert by(points.records, "theme") == {"X": 8.0, "Y": 5.0}
    assert log.to_frame().set_index("reason")["rows_dropped"].to_dict() == {
        "no resolved date, so not counted in story points": 1}
    count = measure_effort(items, classification, unit="item_count", period="2026-03", months_of_history=1)
    # Leaf items only: S1, S2 (X), T1 (Y, inherited from S3); E and S3 are represented by children.
    assert by(count.records, "theme") == {"X": 2.0, "Y": 1.0}


def test_split_items_share_their_effort_and_totals_are_kept():
    items = items_from([{"key": "A", "labels": ["x", "y"], "created": "2026-03-01", "summary": "both"},
                        {"key": "B", "labels": ["x"], "created": "2026-03-01", "summary": "one"}])
    logs = worklogs_from([("A", "Ann", "2026-03-02", 4), ("B", "Ann", "2026-03-02", 1)])
    effort = measure_effort(items, classify(items, label_rules("X", "Y", split=True)), worklogs=logs,
                            period="2026-03", months_of_history=1)
    assert by(effort.records, "theme") == {"X": 3.0, "Y": 2.0}
    assert effort.records["effort"].sum() == 5.0


def test_unknown_items_are_dropped_and_unknown_people_kept_or_dropped():
    items = items_from(ITEMS)
    classification = classify(items, label_rules("X", "Y"))
    logs = worklogs_from([*LOGS, ("I9", "Ann", "2026-03-02", 5), ("I1", "Zed", "2026-03-03", 7)])
    log = DropLog()
    kept = measure_effort(items, classification, worklogs=logs, people=people_from(PEOPLE), period="2026-03",
                          months_of_history=1, log=log)
    assert log.to_frame().set_index("reason")["rows_dropped"].to_dict() == {"item key not in the work-item export": 1}
    assert by(kept.records, "team") == {"A": 6.0, "B": 2.0, "Unknown": 7.0}
    assert kept.notes["issue"].tolist()[0] == "worklogs by 1 person not in the people file on that date (e.g. Zed)"
    log = DropLog()
    dropped = measure_effort(items, classification, worklogs=logs, people=people_from(PEOPLE), period="2026-03",
                             months_of_history=1, unknown_people="drop", log=log)
    assert by(dropped.records, "team") == {"A": 6.0, "B": 2.0}
    assert log.to_frame().set_index("reason")["rows_dropped"].to_dict() == {
        "item key not in the work-item export": 1, "person not in the people file on that date": 1}


def test_worklogs_before_a_persons_first_spell_are_not_on_the_roster():
    items = items_from(ITEMS)
    logs = worklogs_from([("I1", "Cara", "2026-03-05", 2), ("I1", "Cara", "2026-03-12", 2)])
    effort = measure_effort(items, classify(items, label_rules("X", "Y")), worklogs=logs, people=people_from(PEOPLE),
                            period="2026-03", months_of_history=1)
    assert by(effort.records, "team") == {"B": 2.0, "Unknown": 2.0}


def test_the_window_ends_at_the_period_and_defaults_to_the_latest_month():
    items = items_from(ITEMS)
    logs = worklogs_from([*LOGS, ("I1", "Ann", "2026-01-15", 1)])
    effort = measure_effort(items, classify(items, label_rules("X", "Y")), worklogs=logs, months_of_history=2)
    assert effort.months == ("2026-02", "2026-03")
    assert effort.records["effort"].sum() == 8.0
    everything = measure_effort(items, classify(items, label_rules("X", "Y")), worklogs=logs, months_of_history=None)
    assert everything.months == ("2026-01", "2026-02", "2026-03")


def test_unit_needs_its_inputs():
    items = items_from(ITEMS)
    classification = classify(items, label_rules("X", "Y"))
    with pytest.raises(ValueError, match=r"^unit 'logged_hours' needs worklogs; pass worklogs= or choose an item-level unit$"):
        measure_effort(items, classification)
    with pytest.raises(ValueError, match=r"^unit: 'hours' is not one of logged_hours, time_spent"):
        measure_effort(items, classification, unit="hours")
    assert np.isnan(measure_effort(items, classification, worklogs=worklogs_from(LOGS)).logged_by_item[2])
