"""The SiP dataset (Jones & Cullum, arXiv:1901.01621): 10,266 real tasks of a software company,
2004–2014. Its categories are mapped to themes through the parameters, exactly as a user would,
and the yearly shares are checked against an independent pandas computation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prodops_lib import params
from prodops_lib.allocation import AllocationParams, effort_share, load_items, run_allocation
from prodops_lib.io import DropLog, InputError

SIP = Path(__file__).resolve().parents[3] / "shared" / "data" / "allocation" / "sip"
pytestmark = pytest.mark.skipif(not (SIP / "Sip-task-info.csv").is_file(),
                                reason=f"the SiP dataset is not beside the checkout ({SIP})")

SUPPORT = ["Support", "In House Support", "Client Support", "Consultancy"]
RELEASE = ["Release", "Testing"]
RULES = {
    "inherit_from": [],
    "rules": [
        {"theme": "Management", "fields": {"Category": ["Management"]}},
        {"theme": "New features", "issue_types": ["Enhancement"]},
        {"theme": "Bug fixing", "issue_types": ["Bug"]},
        {"theme": "Support", "issue_types": SUPPORT},
        {"theme": "Release & testing", "issue_types": RELEASE},
    ],
}


@pytest.fixture(scope="module")
def sip() -> tuple[pd.DataFrame, pd.DataFrame]:
    tasks = pd.read_csv(SIP / "Sip-task-info.csv", encoding="latin-1")
    dates = pd.read_csv(SIP / "est-act-dates.csv", encoding="latin-1")
    return tasks, dates.drop_duplicates("TaskNumber")   # the README: 2,033 exact duplicate rows


@pytest.fixture(scope="module")
def exported(sip, tmp_path_factory) -> Path:
    """The two tables a user would export: one row per task, one row per developer's work."""
    tasks, dates = sip
    folder = tmp_path_factory.mktemp("sip")
    columns = ["TaskNumber", "Summary", "Category", "SubCategory", "ProjectCode", "HoursEstimate", "HoursActual"]
    tasks.drop_duplicates("TaskNumber")[columns].to_csv(folder / "tasks.csv", index=False)
    work = tasks.merge(dates[["TaskNumber", "CompletedOn"]], on="TaskNumber", how="left")
    work[["TaskNumber", "DeveloperID", "CompletedOn", "DeveloperHoursActual"]].to_csv(folder / "work.csv", index=False)
    return folder


def settings_for(folder: Path) -> AllocationParams:
    return params.build(AllocationParams, {
        "sources": {
            "items": {"path": str(folder / "tasks.csv"), "tracker": "jira", "time_unit": "hours",
                      "columns": {"key": "TaskNumber", "summary": "Summary", "issue_type": "SubCategory",
                                  "project": "ProjectCode", "estimate": "HoursEstimate", "time_spent": "HoursActual"}},
            "worklogs": {"path": str(folder / "work.csv"), "time_unit": "hours", "date_format": "%d-%b-%y",
                         "columns": {"key": "TaskNumber", "author": "DeveloperID", "date": "CompletedOn",
                                     "time": "DeveloperHoursActual"}},
        },
        "rules": RULES, "unit": "logged_hours", "months_of_history": None,
    }, source="sip parameters")


def test_yearly_shares_match_an_independent_pandas_computation(sip, exported):
    log = DropLog()
    allocation = run_allocation(settings_for(exported), log)
    yearly = effort_share(allocation.effort, granularity="year").to_frame().query("team == 'ALL'")
    got = yearly.set_index(["year", "theme"])["share"]

    tasks, dates = sip
    work = tasks.merge(dates[["TaskNumber", "CompletedOn"]], on="TaskNumber", how="left")
    work["date"] = pd.to_datetime(work["CompletedOn"], format="%d-%b-%y")
    dated = work.dropna(subset=["date"])
    theme = np.select(
        [dated["Category"] == "Management", dated["SubCategory"] == "Enhancement", dated["SubCategory"] == "Bug",
         dated["SubCategory"].isin(SUPPORT), dated["SubCategory"].isin(RELEASE)],
        ["Management", "New features", "Bug fixing", "Support", "Release & testing"], "Unclassified")
    hours = dated.groupby([dated["date"].dt.year.astype(str), theme])["DeveloperHoursActual"].sum()
    expected = hours / hours.groupby(level=0).transform("sum")

    assert len(expected) > 40                                   # 11 years × several themes
    for (year, name), share in expected.items():
        assert got[(year, name)] == pytest.approx(share, abs=1e-12), (year, name)
    assert got.groupby(level=0).sum().tolist() == pytest.approx([1.0] * got.index.get_level_values(0).nunique())
    # Every worklog without a completion date is dropped and counted, none silently.
    undated = int(work["date"].isna().sum())
    assert undated > 0
    assert {d["reason"]: d["rows"] for d in log.drops} == {"column 'CompletedOn': missing value": undated}
    assert allocation.effort.records["effort"].sum() == pytest.approx(dated["DeveloperHoursActual"].sum())


def test_a_row_per_developer_is_not_an_items_export(sip, tmp_path):
    tasks, _ = sip
    tasks.to_csv(tmp_path / "rows.csv", index=False)
    first = tasks["TaskNumber"][tasks["TaskNumber"].duplicated()].iloc[0]
    rows = (np.flatnonzero(tasks["TaskNumber"].to_numpy() == first)[:2] + 1).tolist()
    with pytest.raises(InputError) as caught:
        load_items(tmp_path / "rows.csv", columns={"key": "TaskNumber"})
    duplicates = int(tasks["TaskNumber"].duplicated().sum())
    assert str(caught.value) == (f"work items: item key '{first}' appears more than once (data row {rows[0]} and "
                                 f"data row {rows[1]}; {duplicates} duplicate rows in all); export each item once")
