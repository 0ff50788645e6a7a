"""Tracker exports as they really come: Jira's REST JSON and Cloud CSV names, GitHub's two
spellings, label cells in every common form, dates in any common format or language, keys
made of several columns, and mapping errors that name the parameter and the columns present."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from prodops_lib import params
from prodops_lib.allocation import AllocationParams, load_items, load_worklogs
from prodops_lib.allocation.sources import cell_values, detect_separator
from prodops_lib.io import DropLog, InputError


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# a page of Jira's REST search (GET /rest/api/2/search?expand=names), trimmed to the fields read
JIRA_SEARCH = {
    "expand": "names,schema", "startAt": 0, "maxResults": 50, "total": 2,
    "names": {"customfield_10016": "Story point estimate", "customfield_10014": "Epic Link", "summary": "Summary"},
    "issues": [
        {"id": "10001", "self": "https://example.atlassian.net/rest/api/2/issue/10001", "key": "PROJ-1",
         "fields": {"summary": "Fix login", "issuetype": {"id": "1", "name": "Bug"},
                    "status": {"name": "Done", "statusCategory": {"key": "done"}},
                    "project": {"key": "PROJ", "name": "Project X"}, "labels": ["billing", "UI"],
                    "components": [{"id": "7", "name": "Web App"}], "timespent": 7200, "timeoriginalestimate": 3600,
                    "created": "2024-01-02T10:15:30.000+0100", "resolutiondate": "2024-02-03T09:00:00.000+0100",
                    "assignee": {"displayName": "Ann Lee", "emailAddress": "ann@example.com"},
                    "customfield_10016": 3.0, "customfield_10014": "PROJ-9"}},
        {"id": "10002", "key": "PROJ-2",
         "fields": {"summary": "Add export", "issuetype": {"name": "Story"}, "status": {"name": "To Do"},
                    "project": {"key": "PROJ", "name": "Project X"}, "labels": [], "components": [],
                    "timespent": None, "created": "2024-01-05T11:00:00.000+0000", "resolutiondate": None,
                    "assignee": None}},
    ],
}


def test_jira_rest_json_reads_with_the_jira_preset(tmp_path):
    path = write(tmp_path, "search.json", json.dumps(JIRA_SEARCH))
    items = load_items(path, tracker="jira", columns={"story_points": "Custom field (Story point estimate)"})
    frame = items.items
    assert frame["key"].tolist() == ["PROJ-1", "PROJ-2"]
    assert frame["issue_type"].tolist() == ["Bug", "Story"]
    assert frame["time_spent"].tolist()[0] == 2.0  # 7,200 seconds
    assert frame["estimate"].tolist()[0] == 1.0
    assert frame["story_points"].tolist()[0] == 3.0
    assert frame["epic"].tolist()[0] == "PROJ-9"
    assert frame["assignee"].tolist()[0] == "Ann Lee"  # the display name, never the e-mail address
    # +01:00 offsets become UTC
    assert frame["created"].tolist() == [pd.Timestamp("2024-01-02 09:15:30"), pd.Timestamp("2024-01-05 11:00")]
    assert items.tags.values.tolist() == [[0, "components", "web app"], [0, "labels", "billing"], [0, "labels", "ui"]]


def test_json_that_is_not_a_list_of_records_is_one_line(tmp_path):
    with pytest.raises(InputError, match=r"x\.json: holds an object with lists under 'pages'; expected a list "
                                         r"of records, or one under 'issues', "):
        load_items(write(tmp_path, "x.json", '{"pages": [1, 2]}'))
    with pytest.raises(InputError, match=r"x\.json: not valid JSON at line 1, column 13 .*; export it again$"):
        load_items(write(tmp_path, "x.json", '{"issues": [}'))


def test_github_rest_and_cli_spellings_both_read(tmp_path):
    cli = [{"number": 17, "title": "Fix export", "state": "CLOSED", "labels": [{"name": "bug", "color": "d73a4a"}],
            "createdAt": "2026-10-01T10:00:00Z", "closedAt": "2026-10-02T10:00:00Z",
            "assignees": [{"login": "ann", "name": ""}]}]
    rest = [{"number": 17, "title": "Fix export", "state": "closed", "labels": [{"name": "bug"}],
             "created_at": "2026-10-01T10:00:00Z", "closed_at": "2026-10-02T10:00:00Z", "assignees": []}]
    for name, records in (("cli.json", cli), ("rest.json", rest)):
        items = load_items(write(tmp_path, name, json.dumps(records)), tracker="github")
        assert items.items["created"].tolist() == [pd.Timestamp("2026-10-01 10:00")]
        assert items.items["resolved"].tolist() == [pd.Timestamp("2026-10-02 10:00")]
        assert items.tags["value"].tolist() == ["bug"]


def test_jira_cloud_names_its_story_points_differently_and_the_preset_reads_both(tmp_path):
    text = "Issue key,Summary,Custom field (Story point estimate),Created\nA-1,x,5,2026-10-01 10:00\n"
    items = load_items(write(tmp_path, "cloud.csv", text), needed=("story_points",))
    assert items.items["story_points"].tolist() == [5.0]
    assert items.columns["story_points"] == "Custom field (Story point estimate)"


@pytest.mark.parametrize(("cell", "separator", "values"), [
    ("['bug', 'ui']", ",", ["bug", "ui"]),           # Python list text (a pandas or script export)
    ('["bug","ui"]', None, ["bug", "ui"]),           # JSON list text, whatever the separator
    ("[bug, ui]", None, ["bug", "ui"]),               # unquoted list text
    ("['a', b]", None, ["a", "b"]),                   # half-quoted: neither JSON nor Python reads it
    ('["say \\"hi\\""]', None, ['say "hi"']),          # JSON escapes decoded
    ("[null, \"x\"]", None, ["x"]),                    # a null is no value
    ("bug; ui", ";", ["bug", " ui"]),
    ("bug ui", " ", ["bug", "ui"]),
    ("bug", None, ["bug"]),
    ("[]", ",", []),
])
def test_label_cells_in_every_common_form(cell, separator, values):
    assert cell_values(cell, separator) == values


def test_the_separator_is_detected_when_the_tracker_has_none():
    from prodops_lib.allocation.sources import JIRA_LABELS

    # Jira writes one value per repeated column: a label cell with several is split at spaces,
    # ',' or ';' (a Jira label holds no spaces); a component is never split ("Search, Discovery")
    assert detect_separator(pd.Index(["a;b", "c"]), "labels", None)[0] == JIRA_LABELS
    assert detect_separator(pd.Index(["billing ui"]), "labels", None)[0] == JIRA_LABELS
    assert detect_separator(pd.Index(["Search, Discovery", "UI | UX"]), "components", None)[0] is None
    assert detect_separator(pd.Index(["Web App"]), "components", None)[0] is None
    assert detect_separator(pd.Index(["['a', 'b']"]), "labels", None) == (None, "list text read as lists")
    assert detect_separator(pd.Index(["a; b"]), "labels", ";")[0] == ";"


def test_jira_components_with_commas_stay_whole_and_one_rule_decides_for_all_copies(tmp_path):
    text = ("Issue key,Summary,Component/s,Component/s,Labels,Labels,Created\n"
            "A-1,x,\"Search, Discovery\",UI | UX,billing,\"ops, infra\",2026-10-01\n")
    items = load_items(write(tmp_path, "jira.csv", text))
    tags = items.tags.groupby("field")["value"].apply(list).to_dict()
    assert tags == {"components": ["search, discovery", "ui | ux"], "labels": ["billing", "ops", "infra"]}
    assert items.tag_reading["Labels"] == items.tag_reading["Labels.1"]


def test_single_cell_jira_labels_match_every_label_not_only_single_label_items(tmp_path):
    text = "Issue key,Summary,Labels,Created\nA-1,x,billing ui,2026-10-01\nA-2,y,billing,2026-10-02\nA-3,z,\"['ui', 'billing']\",2026-10-02\n"
    items = load_items(write(tmp_path, "jira.csv", text))
    billing = items.tags[items.tags["value"] == "billing"]["item"].tolist()
    assert billing == [0, 1, 2]
    assert items.tag_reading == {"Labels": "split at spaces, ',' or ';' (detected; a Jira label holds no spaces), "
                                           "list text read as lists"}


def test_label_separator_can_be_set(tmp_path):
    text = "Issue key,Summary,Labels,Created\nA-1,x,billing/ui,2026-10-01\n"
    items = load_items(write(tmp_path, "jira.csv", text), label_separator="/")
    assert items.tags["value"].tolist() == ["billing", "ui"]
    assert items.tag_reading == {"Labels": "split at '/' (as set)"}


@pytest.mark.parametrize(("created", "expected", "how"), [
    ("12/Mär/24 10:15 AM", "2024-03-12 10:15", "format %d/%b/%y %I:%M %p (the tracker's usual format, month names in German)"),
    ("12/mars/24 10:15 AM", "2024-03-12 10:15", "format %d/%b/%y %I:%M %p (the tracker's usual format, month names in French)"),
    ("2024-03-12T10:15:00+02:00", "2024-03-12 08:15", "ISO 8601 (detected)"),
    ("12.03.2024 10:15", "2024-03-12 10:15", "format %d.%m.%Y %H:%M (detected)"),
    ("3/12/2024 10:15:00 AM", "2024-03-12 10:15", None),
])
def test_dates_in_any_common_format_or_language(tmp_path, created, expected, how):
    text = f"Issue key,Summary,Created\nA-1,x,{created}\nA-2,y,{created}\n"
    items = load_items(write(tmp_path, "x.csv", text))
    assert items.items["created"].tolist() == [pd.Timestamp(expected)] * 2
    if how:
        assert items.raw.attrs["date_readings"]["Created"] == how


def test_a_wrong_date_format_says_which_format_the_values_have(tmp_path):
    text = "Issue key,Summary,Created\nA-1,x,12.03.2024 10:15\nA-2,y,13.03.2024 10:15\n"
    with pytest.raises(InputError) as caught:
        load_items(write(tmp_path, "x.csv", text), date_format="%Y-%m-%d")
    assert str(caught.value) == (
        "work items: column 'Created': 2 of 2 values cannot be read with date_format '%Y-%m-%d' (first: "
        "'12.03.2024 10:15', data row 1); they read as format %d.%m.%Y %H:%M; set date_format: '%d.%m.%Y %H:%M'")


def test_a_date_column_nobody_can_read_asks_for_the_format_not_for_every_value_to_be_fixed(tmp_path):
    rows = "".join(f"A-{i},x,le {i} du mois\n" for i in range(1, 30))
    with pytest.raises(InputError, match=r"^work items: column 'Created': 29 of 29 values cannot be read as dates "
                                         r"\(first: 'le 1 du mois', data row 1\); set date_format to their format"):
        load_items(write(tmp_path, "x.csv", "Issue key,Summary,Created\n" + rows))


def test_a_key_of_several_columns(tmp_path):
    items_text = "Project,Number,Title,Created\nAPP,1,x,2026-10-01\nWEB,1,y,2026-10-01\n"
    items = load_items(write(tmp_path, "i.csv", items_text), tracker="github",
                       columns={"key": ["Project", "Number"], "summary": "Title", "created": "Created"})
    assert items.items["key"].tolist() == ["APP-1", "WEB-1"]
    settings = params.build(AllocationParams, {"sources": {"items": {"path": "i.csv"}, "worklogs": {
        "path": str(write(tmp_path, "w.csv", "Project,Number,Who,When,Seconds\nWEB,1,ann,2026-10-02,3600\n")),
        "columns": {"key": ["Project", "Number"], "author": "Who", "date": "When", "time": "Seconds"}}},
        "rules": "unused.yaml"})
    worklogs = load_worklogs(settings.sources.worklogs, log=DropLog())
    assert worklogs["key"].tolist() == ["WEB-1"] and worklogs["hours"].tolist() == [1.0]


def test_a_missing_mapped_column_names_the_parameter_and_the_columns_present(tmp_path):
    with pytest.raises(InputError) as caught:
        load_items(write(tmp_path, "x.csv", "Key,Title\nA-1,x\n"), setting="sources.items.columns")
    assert str(caught.value) == ("work items: column 'Issue key' (the key) is missing; set sources.items.columns.key "
                                 "to the export's column; columns present: Key, Title")
    with pytest.raises(InputError, match=r"columns.key names column 'Nr', which the export does not have; "
                                         r"columns present: Key, Title$"):
        load_items(write(tmp_path, "x.csv", "Key,Title\nA-1,x\n"), columns={"key": ["Key", "Nr"]})


@pytest.mark.parametrize(("example", "tracker", "columns", "keys"), [
    ("jira_cloud.csv", "jira", {}, ["SHOP-101", "SHOP-102"]),
    ("jira_search.json", "jira", {"story_points": "Custom field (Story point estimate)"}, ["SHOP-101", "SHOP-102", "SHOP-103"]),
    ("github_issues.json", "github", {}, ["412", "415"]),
    ("linear.csv", "linear", {}, ["ENG-88", "ENG-91"]),
    ("azure_devops.csv", "azure_devops", {}, ["2301", "2302"]),
])
def test_the_documented_example_exports_read_with_their_presets(example, tracker, columns, keys):
    items = load_items(params.project_root() / "docs" / "examples" / example, tracker=tracker, columns=columns)
    assert items.items["key"].tolist() == keys
    assert items.items["created"].notna().all()
    assert len(items.tags) >= len(keys) - 1  # every example item but one has a label


def test_the_inputs_page_lists_every_field_and_every_preset_column():
    from prodops_lib.allocation.sources import ITEM_FIELDS, TRACKERS

    page = (params.project_root() / "docs" / "inputs.md").read_text(encoding="utf-8")
    for field in ITEM_FIELDS:
        assert f"`{field}`" in page, field
    for preset in TRACKERS.values():
        for columns in preset.columns.values():
            for column in (columns,) if isinstance(columns, str) else columns:
                assert f"`{column}`" in page or f"({column.removeprefix('Custom field ')})" in page, column


def test_the_check_says_how_many_github_items_are_pull_requests(tmp_path):
    from prodops_lib.allocation.check import check_allocation

    records = [{"number": n, "title": f"t{n}", "state": "closed", "labels": [], "created_at": "2026-10-01T10:00:00Z",
                "closed_at": "2026-10-02T10:00:00Z", **({"pull_request": {"url": "x"}} if n % 2 else {})}
               for n in range(1, 5)]
    path = write(tmp_path, "issues.json", json.dumps(records))
    rules = write(tmp_path, "rules.yaml", "inherit_from: []\nrules:\n  - {theme: Fixes, summary: 't'}\n")
    settings = params.build(AllocationParams, {"sources": {"items": {"path": str(path), "tracker": "github"}},
                                               "rules": str(rules), "unit": "item_count", "item_date": "created"})
    warnings = check_allocation(settings).warnings
    assert "2 of 4 items are pull requests (GitHub lists them with issues); if they describe the same work as the " \
           "issues, export issues only" in warnings


def test_jira_cloud_parent_ids_become_keys_so_children_inherit(tmp_path):
    from prodops_lib.allocation import Rule, ThemeRules
    from prodops_lib.allocation.themes import classify

    text = ("Summary,Issue key,Issue id,Issue Type,Labels,Created,Parent\n"
            "Billing epic,SHOP-90,10090,Epic,billing,01/Oct/26 9:00 AM,\n"
            "Child,SHOP-91,10091,Story,,02/Oct/26 9:00 AM,10090\n")
    items = load_items(write(tmp_path, "cloud.csv", text))
    assert items.items["parent"].tolist() == [pd.NA, "SHOP-90"]
    result = classify(items, ThemeRules(rules=[Rule(theme="Billing", labels=["billing"])], inherit_from=["parent"]))
    assert result.summary().set_index("how")["items"].to_dict() == {"labels": 1, "inherited": 1}


def test_github_assignees_listed_in_json_are_read_as_one_person():
    items = load_items(params.project_root() / "docs" / "examples" / "github_issues.json", tracker="github")
    assert items.items["assignee"].tolist() == ["Dana Ruiz", pd.NA]


def test_dates_with_offsets_that_change_at_daylight_saving_and_one_bad_value_are_one_line(tmp_path):
    text = ("Issue key,Summary,Resolved\nA-1,x,2024-03-13T10:00:00.000+0100\nA-2,y,n/a\n"
            "A-3,z,2024-04-13T10:00:00.000+0200\n")
    with pytest.raises(InputError, match=r"column 'Resolved', data row 2: 'n/a' is not a date-time like ISO 8601; "
                                         r"fix the value$"):
        load_items(write(tmp_path, "x.csv", text), needed=("resolved",))


def test_a_date_format_with_month_names_reads_them_in_any_language(tmp_path):
    text = "Issue key,Summary,Created\nA-1,x,12/Mär/24 10:15 AM\nA-2,y,01/Dez/24 9:00 PM\n"
    items = load_items(write(tmp_path, "x.csv", text), date_format="%d/%b/%y %I:%M %p")
    assert items.items["created"].tolist() == [pd.Timestamp("2024-03-12 10:15"), pd.Timestamp("2024-12-01 21:00")]


def test_json_lines_errors_name_their_line_and_an_empty_list_is_said(tmp_path):
    with pytest.raises(InputError, match=r"x\.jsonl: not valid JSON at line 3, column \d+ "):
        load_items(write(tmp_path, "x.jsonl", '{"number": 1}\n{"number": 2}\n{"number": \n'), tracker="github")
    lines = '{"number": 1, "title": "a", "createdAt": "2026-01-01"}\n{"number": 2, "title": "b", "createdAt": "2026-01-02"}\n'
    assert load_items(write(tmp_path, "lines.json", lines), tracker="github").items["key"].tolist() == ["1", "2"]
    with pytest.raises(InputError, match=r"empty\.json: holds no records \(an empty list\)"):
        load_items(write(tmp_path, "empty.json", '{"issues": []}'))
