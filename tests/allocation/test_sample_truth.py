"""The bundled sample data: the analysis recovers the truth planted by prodops_lib.samples."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from prodops_lib import params
from prodops_lib.allocation import AllocationParams, analyse, load_inputs
from prodops_lib.io import DropLog

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
PARAMETERS = ROOT / "parameters" / "resource_allocation.yaml"

pytestmark = pytest.mark.skipif(not (SAMPLE / "truth.json").is_file(),
                                reason="data/sample is missing; run `prodops sample-data`")


@pytest.fixture(scope="module")
def truth() -> dict:
    return json.loads((SAMPLE / "truth.json").read_text(encoding="utf-8"))["allocation"]


@pytest.fixture(scope="module")
def run():
    settings = params.load(PARAMETERS, AllocationParams, overrides={"period": "2026-10"})
    log = DropLog()
    inputs = load_inputs(settings, log)
    return inputs, analyse(inputs, settings, log), log


def test_parameters_file_points_at_the_sample():
    settings = params.load(PARAMETERS, AllocationParams)
    for source in (settings.sources.items, settings.sources.worklogs, settings.sources.people):
        assert params.resolve_path(source.path).is_file()
    assert params.resolve_path(settings.rules).is_file() and params.resolve_path(settings.targets).is_file()


def test_every_item_gets_its_true_theme(run):
    _, allocation, _ = run
    truth_items = pd.read_csv(SAMPLE / "truth" / "allocation_items.csv")
    got = allocation.classification.to_frame()[["key", "theme", "weight"]].astype({"key": str, "theme": str})
    merged = truth_items.merge(got, on=["key", "theme"], how="outer", suffixes=("_true", "_got"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"].head()
    assert merged["weight_got"].tolist() == pytest.approx(merged["weight_true"].tolist())


def test_monthly_shares_equal_the_planted_shares(run, truth):
    _, allocation, _ = run
    org = allocation.to_frame().query("team == 'ALL'").set_index(["month", "theme"])["share"]
    for month, by_theme in truth["effort"]["share_by_month"].items():
        for theme, share in by_theme.items():
            assert org[(month, theme)] == pytest.approx(share, abs=1e-6), (month, theme)


def test_mobile_over_and_reporting_under_target(run, truth):
    _, allocation, _ = run
    targets = allocation.targets_frame().set_index("theme")
    assert list(allocation.targets_frame().columns) == ["theme", "target_share", "actual_share", "deviation_pp", "status"]
    assert 0.22 <= targets.loc["Mobile app", "actual_share"] <= 0.25
    assert targets.loc["Mobile app", "status"] == "off target" and targets.loc["Mobile app", "deviation_pp"] > 10
    assert targets.loc["Reporting & dashboards", "status"] == "off target"
    assert targets.loc["Reporting & dashboards", "deviation_pp"] < -10
    assert allocation.targets.biggest_gaps(n=1)["theme"].tolist() == ["Mobile app"]
    unclassified = truth["effort"]["share_by_month"]["2026-10"]["Unclassified"]
    assert allocation.unclassified_share() == pytest.approx(unclassified, abs=1e-6)


def test_bad_rows_are_counted_with_their_reasons(run, truth):
    _, allocation, log = run
    dropped = {(d["source"], d["reason"]): d["rows"] for d in log.drops}
    assert dropped[("worklogs", "item key not in the work-item export")] == truth["dropped_worklogs"]["unknown_issue_key"]
    assert dropped[("worklogs", "column 'Time Spent Seconds': below 0 or not a number")] == truth["dropped_worklogs"]["negative_seconds"]
    missing = truth["author_missing_from_people"]
    note = allocation.effort.notes.iloc[0]
    assert note["issue"] == f"worklogs by 1 person not in the people file on that date (e.g. {missing['author']})"
    assert note["rows"] == missing["worklogs"]
    records = allocation.effort.records
    assert records.loc[records["team"] == "Unknown", "effort"].sum() == pytest.approx(missing["hours"])


def test_team_moves_take_effect_on_their_date(run, truth):
    _, allocation, _ = run
    records = allocation.effort.records
    for move in truth["team_moves"]:
        mine = records[records["person"] == move["person"]]
        before = mine[mine["month"].astype(str) < move["effective_from"][:7]]
        after = mine[mine["month"].astype(str) >= move["effective_from"][:7]]
        assert set(before["team"].astype(str)) == {move["from_team"]}
        assert set(after["team"].astype(str)) == {move["to_team"]}


def test_effort_share_table_for_the_monthly_review(run, truth):
    _, allocation, _ = run
    table = allocation.to_frame()
    assert list(table.columns) == ["month", "theme", "team", "effort", "share"]
    assert sorted(table["month"].unique()) == sorted(truth["effort"]["share_by_month"])
    hours = truth["effort"]["hours_by_month"]["2026-10"]
    org = table.query("team == 'ALL' and month == '2026-10'").set_index("theme")["effort"]
    assert org.to_dict() == pytest.approx(hours, abs=0.01)


def test_the_summary_leads_with_the_planted_gap(run):
    _, allocation, _ = run
    headline, tone = allocation.headline()
    assert headline.startswith("Mobile app is 14.2 pp over plan in 2026-10: 24.2% of classified effort against a 10% target")
    assert tone == "bad"
    points = allocation.summary_points()
    assert points[0].startswith("Where effort went in 2026-10 (7,300 logged hours), as shares of all effort: Mobile app 23.0%")
    assert "Reporting & dashboards 10.3 pp under plan" in points[1]
    assert points[-1] == "5.0% of effort could not be classified (122 of 2,505 items match no rule and inherit no theme)."


def test_largest_items_are_the_items_with_most_effort_this_month(run):
    """Independent pandas computation: worklog hours of October per issue key, from the file."""
    worklogs = pd.read_csv(ROOT / "data" / "sample" / "allocation" / "worklogs.csv")
    worklogs = worklogs[(worklogs["Time Spent Seconds"] > 0) & worklogs["Started"].str.startswith("2026-10")]
    hours = (worklogs.groupby("Issue key")["Time Spent Seconds"].sum() / 3600).sort_values(ascending=False)
    _, allocation, _ = run
    largest = allocation.largest_items(5)
    # no sample item is split between themes in the top five, so each key appears once;
    # ties (two items of 50.5 h) may come in either order
    assert largest["effort"].tolist() == pytest.approx(hours.iloc[:5].tolist())
    assert largest["effort"].tolist() == pytest.approx(hours[largest["key"]].tolist())
    assert largest.columns.tolist() == ["key", "summary", "theme", "effort"]
