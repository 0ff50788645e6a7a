"""Reading tracker exports, worklogs, people and targets; every bad input named in one line."""

from __future__ import annotations

import pandas as pd
import pytest

from prodops_lib import params
from prodops_lib.allocation import (
    AllocationParams,
    load_items,
    load_people,
    load_targets,
    load_worklogs,
)
from prodops_lib.io import DropLog, InputError

from .helpers import jira_frame


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


JIRA_CSV = (
    "Summary,Issue key,Issue Type,Labels,Labels,Labels,Component/s,Created,Resolved,Custom field (Story Points),Time Spent\n"
    "Sync,APP-1,Story,billing, Integrations ,,API,03/Oct/26 2:15 PM,05/Oct/26 9:00 AM,5,7200\n"
    "Other,APP-2,Bug,,,,,30/Sep/26 11:59 PM,,,\n"
)


def test_jira_export_collects_repeated_labels_and_parses_jira_dates(tmp_path):
    items = load_items(write(tmp_path, "jira.csv", JIRA_CSV))
    tags = items.tags
    assert tags[tags["field"] == "labels"]["value"].tolist() == ["billing", "integrations"]
    assert tags[tags["field"] == "components"]["value"].tolist() == ["api"]
    assert items.items["created"].tolist() == [pd.Timestamp("2026-10-03 14:15"), pd.Timestamp("2026-09-30 23:59")]
    assert items.items["resolved"].isna().tolist() == [False, True]
    assert items.items["time_spent"].tolist()[0] == 2.0          # 7,200 seconds = 2 hours
    assert items.to_frame()["labels"].tolist() == ["billing, integrations", pd.NA]


@pytest.mark.parametrize(("tracker", "header", "row", "labels"), [
    ("github", "number,title,state,labels,createdAt,closedAt", '17,Fix export,closed,"bug, export",2026-10-01T10:00:00Z,2026-10-02T10:00:00Z', ["bug", "export"]),
    ("linear", "ID,Title,Status,Labels,Estimate,Created,Completed", 'ENG-4,Fix export,Done,"Bug,Export",3,2026-10-01,2026-10-04', ["bug", "export"]),
    ("azure_devops", "ID,Work Item Type,Title,State,Tags,Completed Work,Created Date,Closed Date", "88,Bug,Fix export,Closed,Bug; Export,2.5,2026-10-01,2026-10-03", ["bug", "export"]),
])
def test_other_trackers_map_their_columns(tmp_path, tracker, header, row, labels):
    items = load_items(write(tmp_path, f"{tracker}.csv", f"{header}\n{row}\n"), tracker=tracker)
    assert items.tags["value"].tolist() == labels
    assert items.items["created"].dt.strftime("%Y-%m-%d").tolist() == ["2026-10-01"]
    if tracker == "azure_devops":
        assert items.items["time_spent"].tolist() == [2.5]  # Completed Work is in hours


def test_column_overrides_rename_fields(tmp_path):
    text = "Key,Title,Points\nX-1,Hello,8\n"
    items = load_items(write(tmp_path, "x.csv", text), columns={"key": "Key", "summary": "Title", "story_points": "Points"},
                       needed=("story_points",))
    assert items.items[["key", "summary", "story_points"]].iloc[0].tolist() == ["X-1", "Hello", 8.0]


def test_duplicate_item_keys_are_an_error_naming_both_lines(tmp_path):
    text = JIRA_CSV + "Again,APP-1,Story,,,,,03/Oct/26 2:15 PM,,,\n"
    with pytest.raises(InputError) as caught:
        load_items(write(tmp_path, "dup.csv", text))
    assert str(caught.value) == "work items: item key 'APP-1' appears more than once (data row 1 and data row 3; 1 duplicate rows in all); export each item once"


def test_missing_item_key_is_an_error(tmp_path):
    text = JIRA_CSV + "No key,,Story,,,,,03/Oct/26 2:15 PM,,,\n"
    with pytest.raises(InputError, match=r"^work items: data row 3 has no item key \(1 rows in all\); every item needs one$"):
        load_items(write(tmp_path, "nokey.csv", text))


def test_unparseable_item_date_names_column_line_and_value(tmp_path):
    text = JIRA_CSV.replace("30/Sep/26 11:59 PM", "yesterday")
    with pytest.raises(InputError) as caught:
        load_items(write(tmp_path, "bad.csv", text))
    assert str(caught.value) == "work items: column 'Created', data row 2: 'yesterday' is not a date-time like %d/%b/%y %I:%M %p; fix the value"


@pytest.mark.parametrize("value", ["-3", "lots"])
def test_negative_or_non_numeric_item_effort_is_an_error(tmp_path, value):
    text = JIRA_CSV.replace(",5,7200", f",{value},7200")
    with pytest.raises(InputError) as caught:
        load_items(write(tmp_path, "neg.csv", text))
    assert str(caught.value) == f"work items: column 'Custom field (Story Points)', data row 1: '{value}' is not a number ≥ 0; fix the value"


def test_a_needed_column_that_is_missing_says_how_to_map_it():
    frame = jira_frame([{"key": "A-1", "summary": "x"}]).drop(columns=["Custom field (Story Points)"])
    with pytest.raises(InputError) as caught:
        load_items(frame, needed=("story_points",))
    assert str(caught.value) == (
        "work items: column 'Custom field (Story Points)' or 'Custom field (Story point estimate)' (the story_points "
        "field) is missing; set columns.story_points to the export's column; columns present: Issue key, Summary, "
        "Labels, Issue Type, Project, Component/s, Custom field (Epic Link), Parent, Original Estimate, Time Spent, "
        "Created, Resolved, Assignee")
    with pytest.raises(InputError, match=r"^work items: columns.story_pts is not a field the analysis reads; did you mean 'story_points'\?$"):
        load_items(frame, columns={"story_pts": "Points"})


def test_worklogs_drop_and_count_negative_non_numeric_and_undated_rows():
    log = DropLog()
    frame = pd.DataFrame({
        "Issue key": ["A-1", "A-1", "A-2", "A-3", " A-4 "],
        "Author": ["Ann", "Ann", "Bob", "Bob", "Cy"],
        "Started": ["2026-10-01", "2026-10-02", "someday", "2026-10-03", "2026-10-04"],
        "Time Spent Seconds": ["3600", "-60", "60", "an hour", "1800"],
    }).astype("string")
    worklogs = load_worklogs(frame, log=log)
    assert worklogs["hours"].tolist() == [1.0, 0.5]
    assert worklogs["author"].astype(str).tolist() == ["Ann", "Cy"]
    reasons = log.to_frame().set_index("reason")["rows_dropped"].to_dict()
    assert reasons == {"column 'Started': not a date-time like ISO 8601": 1, "column 'Time Spent Seconds': below 0 or not a number": 2}


def test_people_spells_and_their_errors():
    people = load_people(pd.DataFrame({"person": ["Ann", "Ann"], "team": ["A", "B"], "fte": ["1", "0.5"],
                                       "monthly_cost": ["9000", "5000"], "effective_from": ["2026-01-01", "2026-06-01"]}))
    assert people["team"].tolist() == ["A", "B"]
    with pytest.raises(InputError, match=r"^people: column 'fte': 'Ann' has FTE 1\.2; FTE is a fraction of a full-time week, at most 1$"):
        load_people(pd.DataFrame({"person": ["Ann"], "team": ["A"], "fte": ["1.2"]}))
    with pytest.raises(InputError, match=r"^people: 'Ann' has two rows taking effect on 2026-01-01; keep one per date$"):
        load_people(pd.DataFrame({"person": ["Ann", "Ann"], "team": ["A", "B"], "fte": ["1", "1"],
                                  "effective_from": ["2026-01-01", "2026-01-01"]}))


def test_targets_must_add_up_to_100_percent_per_team(tmp_path):
    good = load_targets(write(tmp_path, "t.csv", "theme,team,target_share\nX,,0.6\nY,,0.4\nX,Mobile,1\n"))
    assert good.values.tolist() == [["X", "ALL", 0.6], ["Y", "ALL", 0.4], ["X", "Mobile", 1.0]]
    with pytest.raises(InputError) as caught:
        load_targets(write(tmp_path, "t2.csv", "theme,team,target_share\nX,,0.6\nY,,0.35\n"))
    assert str(caught.value) == "targets: targets for team 'ALL' add up to 95.0%, not 100%; adjust them so each team's shares total 1"
    with pytest.raises(InputError, match=r"^targets: target_share 60 for 'X' is above 1; write shares as fractions \(0\.25 = 25%\)$"):
        load_targets({"X": 60, "Y": 40})
    with pytest.raises(InputError, match=r"^targets: theme 'X' has two targets for team 'ALL'; keep one$"):
        load_targets(write(tmp_path, "t3.csv", "theme,team,target_share\nX,,0.5\nX,,0.5\n"))


def test_allocation_parameters_check_across_fields(tmp_path):
    base = {"sources": {"items": {"path": "items.csv"}}, "rules": "rules.yaml"}
    with pytest.raises(ValueError, match=r"unit: 'logged_hours' needs sources\.worklogs; add the worklog export or choose time_spent, story_points, item_count or days_in_progress$"):
        params.build(AllocationParams, base)
    with pytest.raises(ValueError, match=r"on_target_pp \(5\.0\) must be ≥ 0 and below drifting_pp \(3\.0\)$"):
        params.build(AllocationParams, {**base, "unit": "story_points", "status_bands": {"on_target_pp": 5, "drifting_pp": 3}})
    with pytest.raises(ValueError, match=r"unit: 'person months' is not allowed; expected one of .*\(did you mean 'person_months'\?\)$"):
        params.build(AllocationParams, {**base, "unit": "person months"})
    with pytest.raises(ValueError, match=r"^rules: rules\[0\]: summary: '\[' \(rule for 'X'\) is not a valid regular expression: unterminated character set at position 0$"):
        params.build(AllocationParams, {**base, "unit": "item_count", "rules": {"rules": [{"theme": "X", "summary": "["}]}})
    inline = params.build(AllocationParams, {**base, "unit": "item_count", "period": "2026-10",
                                             "rules": {"rules": [{"theme": "X", "labels": ["x"]}]}})
    assert inline.rules.themes == ["X"]
