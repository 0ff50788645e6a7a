"""The monthly review on the bundled sample, run for two consecutive months (issue: the review
names the planted under- and over-served themes, and "what changed" agrees with differences
computed independently from the two months)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ..conftest import ROOT

pytestmark = pytest.mark.slow
TRUTH = json.loads((ROOT / "data" / "sample" / "truth.json").read_text(encoding="utf-8"))


def results(sample_reports, period: str, report: str) -> Path:
    return sample_reports["out"] / period / "results" / report


def test_both_months_ran_clean(sample_reports):
    assert sample_reports["codes"] == {sample_reports["previous"]: 0, sample_reports["period"]: 0}


def test_the_review_names_the_planted_under_and_over_served_themes(sample_reports):
    period = sample_reports["period"]
    folder = results(sample_reports, period, "monthly_review")
    comparison = pd.read_csv(folder / "demand_supply.csv")
    under, over = TRUTH["review"]["under_served"], TRUTH["review"]["over_served"]
    assert comparison.loc[comparison["gap_pp"].idxmax(), "theme"] == under
    assert comparison.loc[comparison["gap_pp"].idxmin(), "theme"] == over
    statuses = dict(zip(comparison["theme"], comparison["status"], strict=True))
    assert statuses[under] == "under-served" and statuses[over] == "over-served"
    sentences = json.loads((folder / "summary.json").read_text())["summary"]
    assert any(s.startswith(f"{under} is the most under-served theme") for s in sentences)
    assert any(s.startswith(f"{over} gets the most effort relative to demand") for s in sentences)
    assert len(sentences) <= 5


def _org_shares(sample_reports, period: str) -> pd.Series:
    """Effort share of all effort per theme, from the allocation report's own table."""
    table = pd.read_csv(results(sample_reports, period, "resource_allocation") / "effort_share.csv")
    month = table[(table["team"] == "ALL") & (table["month"] == period)]
    return month.groupby("theme")["effort"].sum() / month["effort"].sum()


def _truth_shares(period: str) -> pd.Series:
    """The same, from the raw sample files and the true item themes: worklog hours of the
    month (negative ones and unknown items left out), split by each item's true theme weights.
    Independent of the allocation code."""
    sample = ROOT / "data" / "sample"
    worklogs = pd.read_csv(sample / "allocation" / "worklogs.csv")
    themes = pd.read_csv(sample / "truth" / "allocation_items.csv")
    month = worklogs[worklogs["Started"].str.startswith(period) & (worklogs["Time Spent Seconds"] > 0)]
    joined = month.merge(themes, left_on="Issue key", right_on="key", how="inner")
    hours = (joined["Time Spent Seconds"] * joined["weight"]).groupby(joined["theme"]).sum()
    return hours / hours.sum()


def _demand_shares(sample_reports, period: str) -> pd.Series:
    """Share of mapped feedback items per product theme, from the feedback report's table."""
    table = pd.read_csv(results(sample_reports, period, "feedback_clustering") / "demand_by_theme.csv")
    month = table[(table["month"] == period) & (table["product_theme"] != "unmapped")]
    items = month.groupby("product_theme")["items"].sum()
    return items / items.sum()


def _check_top_moves(listed: pd.DataFrame, expected_change_pp: pd.Series) -> None:
    """Every listed move equals the independent difference, and none left out is larger."""
    assert len(listed) > 0
    for theme, change in zip(listed["item"], listed["change"], strict=True):
        assert change == pytest.approx(expected_change_pp[theme], abs=1e-6), theme
    left_out = expected_change_pp.drop(listed["item"])
    assert left_out.abs().max() <= listed["change"].abs().min() + 1e-9


def test_what_changed_agrees_with_independent_differences(sample_reports):
    previous, period = sample_reports["previous"], sample_reports["period"]
    changes = pd.read_csv(results(sample_reports, period, "monthly_review") / "changes.csv")
    effort_moves = changes[changes["kind"] == "effort share"]
    truth_change = 100 * (_truth_shares(period) - _truth_shares(previous))
    report_change = 100 * (_org_shares(sample_reports, period) - _org_shares(sample_reports, previous))
    assert report_change.to_dict() == pytest.approx(truth_change.to_dict(), abs=1e-6)
    _check_top_moves(effort_moves, truth_change)
    demand_moves = changes[changes["kind"] == "demand share"]
    demand_change = 100 * (_demand_shares(sample_reports, period) - _demand_shares(sample_reports, previous))
    _check_top_moves(demand_moves, demand_change)
    # the planted emerging theme moved up the most, the fading one down
    assert demand_moves.iloc[0]["item"] in (TRUTH["review"]["emerging_demand"], TRUTH["review"]["fading_demand"])
    assert demand_change[TRUTH["review"]["emerging_demand"]] > 0 > demand_change[TRUTH["review"]["fading_demand"]]
    # the same experiments ran both months with the same data: no decision changed
    assert changes[changes["kind"] == "decision"].empty


def test_the_first_month_says_there_is_nothing_to_compare_with(sample_reports):
    previous = sample_reports["previous"]
    page = (sample_reports["out"] / previous / "monthly_review.html").read_text(encoding="utf-8")
    assert "No saved review for" in page


def test_the_review_runs_standalone_on_a_folder_of_results(sample_reports, tmp_path):
    """An analyst points the review at a saved period's results, outside any bundle run."""
    import papermill
    import yaml

    period = sample_reports["period"]
    settings = yaml.safe_load((ROOT / "parameters" / "monthly_review.yaml").read_text(encoding="utf-8"))
    settings["results_root"] = str(sample_reports["out"] / period / "results")
    parameters_file = tmp_path / "review.yaml"
    parameters_file.write_text(yaml.safe_dump(settings), encoding="utf-8")
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "monthly_review.ipynb"), str(tmp_path / "review.ipynb"),
        parameters={"period": period, "parameters_file": str(parameters_file), "results_dir": str(tmp_path / "out")},
        kernel_name="python3", cwd=str(ROOT), progress_bar=False,
    )
    standalone = pd.read_csv(tmp_path / "out" / "demand_supply.csv")
    in_bundle = pd.read_csv(results(sample_reports, period, "monthly_review") / "demand_supply.csv")
    pd.testing.assert_frame_equal(standalone, in_bundle)
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["problems"] == []
