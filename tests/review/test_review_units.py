"""The monthly review's computations on small hand-made result tables with known answers."""

from __future__ import annotations

import pandas as pd
import pytest

from prodops_lib.io import DropLog
from prodops_lib.params import Taxonomy, ThemeSpec
from prodops_lib.review import (
    ReviewParams,
    build_review,
    load_saved_review,
    previous_period,
    recent_months,
)
from prodops_lib.review.changes import what_changed
from prodops_lib.review.demand_supply import demand_vs_supply, gap_history
from prodops_lib.review.experiments import experiments_by_theme
from prodops_lib.review.inputs import ReviewInputs

THEMES = ["Alpha", "Beta", "Gamma"]
TAXONOMY = Taxonomy([ThemeSpec(t) for t in THEMES], [ThemeSpec("KTLO", "ktlo")])


def effort_frame(month: str, hours: dict[str, float]) -> pd.DataFrame:
    total = sum(hours.values())
    return pd.DataFrame([{"month": month, "theme": t, "team": "ALL", "effort": h, "share": h / total}
                         for t, h in hours.items()])


def demand_frame(month: str, items: dict[str, float], arr: dict[str, float] | None = None) -> pd.DataFrame:
    """As the feedback report's demand_by_theme.csv: shares of all feedback, and of the feedback
    on product themes (``unmapped`` left out), which the review reads."""
    arr = arr or dict.fromkeys(items, 1.0)
    total, mapped = sum(items.values()), sum(n for t, n in items.items() if t != "unmapped")
    arr_mapped = sum(a for t, a in arr.items() if t != "unmapped")
    return pd.DataFrame([{"month": month, "product_theme": t, "items": n, "customers": n, "arr": arr[t],
                          "item_share": n / total, "customer_share": n / total, "arr_share": arr[t] / sum(arr.values()),
                          "product_item_share": None if t == "unmapped" else n / mapped,
                          "product_customer_share": None if t == "unmapped" else n / mapped,
                          "product_arr_share": None if t == "unmapped" else arr[t] / arr_mapped}
                         for t, n in items.items()])


EFFORT = effort_frame("2026-10", {"Alpha": 10, "Beta": 60, "Gamma": 30, "KTLO": 100, "Unclassified": 50})
DEMAND = demand_frame("2026-10", {"Alpha": 50, "Beta": 10, "Gamma": 40, "unmapped": 25})


def test_shares_are_normalised_over_product_themes_and_the_gap_is_in_points():
    result = demand_vs_supply(DEMAND, EFFORT, "2026-10", THEMES, threshold_pp=5)
    frame = result.frame.set_index("theme")
    # demand over mapped items 50/10/40 of 100; effort over product hours 10/60/30 of 100
    assert frame.loc["Alpha", "demand_items_share"] == pytest.approx(0.50)
    assert frame.loc["Alpha", "effort_share"] == pytest.approx(0.10)
    assert frame["gap_pp"].to_dict() == pytest.approx({"Alpha": 40.0, "Beta": -50.0, "Gamma": 10.0})
    assert frame["status"].to_dict() == {"Alpha": "under-served", "Beta": "over-served", "Gamma": "under-served"}
    assert result.most("under-served")["theme"] == "Alpha"
    assert result.most("over-served")["theme"] == "Beta"
    assert result.demand_coverage == pytest.approx(100 / 125)
    assert result.effort_coverage == pytest.approx(100 / 250)
    assert result.non_product_effort.to_dict("list") == {"theme": ["KTLO", "Unclassified"],
                                                          "share_of_all_effort": pytest.approx([0.4, 0.2])}


def test_demand_basis_can_be_arr():
    demand = demand_frame("2026-10", {"Alpha": 50, "Beta": 10, "Gamma": 40},
                          arr={"Alpha": 100.0, "Beta": 800.0, "Gamma": 100.0})
    result = demand_vs_supply(demand, EFFORT, "2026-10", THEMES, basis="arr")
    assert result.frame.set_index("theme")["gap_pp"].to_dict() == pytest.approx(
        {"Alpha": 0.0, "Beta": 20.0, "Gamma": -20.0})


def test_themes_on_one_side_only_are_listed_not_dropped():
    effort = effort_frame("2026-10", {"Alpha": 10, "Beta": 90})
    demand = demand_frame("2026-10", {"Alpha": 50, "Gamma": 50})
    frame = demand_vs_supply(demand, effort, "2026-10", THEMES).frame.set_index("theme")
    assert frame.loc["Gamma", "status"] == "no effort"
    assert frame.loc["Beta", "status"] == "no demand"
    assert len(frame) == 3


def test_missing_side_leaves_the_comparison_unknown():
    frame = demand_vs_supply(None, EFFORT, "2026-10", THEMES).frame
    assert set(frame["status"]) == {"unknown"}


def test_gap_history_slope_matches_a_least_squares_fit():
    effort = pd.concat([effort_frame(m, {"Alpha": a, "Beta": 100 - a, "Gamma": 0.0})
                        for m, a in [("2026-08", 10), ("2026-09", 20), ("2026-10", 30)]])
    demand = pd.concat([demand_frame(m, {"Alpha": 50, "Beta": 50, "Gamma": 0}) for m in ["2026-08", "2026-09", "2026-10"]])
    history = gap_history(demand, effort, ["2026-08", "2026-09", "2026-10"], THEMES)
    alpha = history.frame[history.frame["theme"] == "Alpha"]["gap_pp"].tolist()
    assert alpha == pytest.approx([40.0, 30.0, 20.0])
    trend = history.trend.set_index("theme")
    # gaps 40, 30, 20 → slope −10 pp/month, absolute gap shrinking: closing
    assert trend.loc["Alpha", "gap_slope_pp_per_month"] == pytest.approx(-10.0)
    assert trend.loc["Alpha", "verdict"] == "closing"
    assert trend.loc["Beta", "verdict"] == "closing"  # −40, −30, −20
    assert trend.loc["Gamma", "verdict"] == "steady"


def test_a_gap_that_crosses_sides_past_the_threshold_is_reversed_though_its_size_is_steady():
    # Alpha's gap −8, −7, −9, −6, +7 (the sample's Integrations): its size's slope is −0.3 pp a
    # month (least squares of 8, 7, 9, 6, 7: −3.0 / 10), "steady" on size alone; its own slope is +3.1 (31 / 10)
    months = ["2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
    gaps = {"Alpha": [-8, -7, -9, -6, 7], "Beta": [3, 2, 3, -2, 1]}
    demand = pd.concat([demand_frame(m, {"Alpha": 30, "Beta": 30, "Gamma": 40}) for m in months])
    # effort out of 100: Alpha and Beta take their gap from Gamma, whose gap is minus their sum
    effort = pd.concat([effort_frame(m, {"Alpha": 30 - gaps["Alpha"][i], "Beta": 30 - gaps["Beta"][i],
                                         "Gamma": 40 + gaps["Alpha"][i] + gaps["Beta"][i]})
                        for i, m in enumerate(months)])
    history = gap_history(demand, effort, months, THEMES, threshold_pp=5.0)
    frame = history.frame.pivot(index="month", columns="theme", values="gap_pp")
    assert frame["Alpha"].tolist() == pytest.approx([-8, -7, -9, -6, 7])
    trend = history.trend.set_index("theme")
    assert trend.loc["Alpha", "abs_gap_slope_pp_per_month"] == pytest.approx(-0.3)
    assert trend.loc["Alpha", "gap_slope_pp_per_month"] == pytest.approx(3.1)
    assert trend.loc["Alpha", "verdict"] == "reversed: now under-served"
    # Gamma: 5, 5, 6, 8, −8; Beta crossed twice but ends within the threshold: its size steady
    assert trend.loc["Gamma", "verdict"] == "reversed: now over-served"
    assert trend.loc["Beta", "verdict"] == "steady"
    # a crossing that ends short of the threshold is read from the size's slope as before
    wider = gap_history(demand, effort, months, THEMES, threshold_pp=7.5).trend.set_index("theme")
    assert wider.loc["Alpha", "verdict"] == "steady"
    assert wider.loc["Gamma", "verdict"] == "reversed: now over-served"
    # with too little effort this month, no theme is called under- or over-served
    held = gap_history(demand, effort, months, THEMES, too_little_effort=True).trend.set_index("theme")
    assert not held["verdict"].str.startswith("reversed").any()


def test_a_gap_from_balanced_to_under_served_is_not_reversed_and_a_month_without_effort_is_skipped():
    months = ["2026-07", "2026-08", "2026-09", "2026-10"]
    demand = pd.concat([demand_frame(m, {"Alpha": 30, "Beta": 30, "Gamma": 40}) for m in months])
    # Alpha's gap: 0, −1, (no product effort in 2026-09: no gap), +8: it crossed from balanced, not from over-served
    hours = {"2026-07": {"Alpha": 30, "Beta": 30, "Gamma": 40}, "2026-08": {"Alpha": 31, "Beta": 30, "Gamma": 39},
             "2026-09": {"KTLO": 100}, "2026-10": {"Alpha": 22, "Beta": 30, "Gamma": 48}}
    effort = pd.concat([effort_frame(m, hours[m]) for m in months])
    history = gap_history(demand, effort, months, THEMES, threshold_pp=5.0)
    trend = history.trend.set_index("theme")
    assert trend.loc["Alpha", "months"] == 3
    # sizes 0, 1, 8 over three months: least squares slope (8 − 0) / 2 = +4 pp a month
    assert trend.loc["Alpha", "abs_gap_slope_pp_per_month"] == pytest.approx(4.0)
    assert trend.loc["Alpha", "verdict"] == "widening"


def test_experiments_win_rate_counts_only_decided_experiments():
    experiments = pd.DataFrame({
        "name": ["a", "b", "c", "d", "e"], "theme": ["Alpha", "Alpha", "Alpha", "Beta", "Nope"],
        "decision": ["ship", "don't ship", "keep running", "investigate", "ship"], "kind": ["A/B test"] * 5,
        "primary_metric": ["m"] * 5, "days_to_go": [None, None, 12.0, None, None],
    })
    result = experiments_by_theme(experiments, THEMES)
    by_theme = result.by_theme.set_index("theme")
    assert by_theme.loc["Alpha", ["experiments", "decided", "wins"]].tolist() == [3, 2, 1]
    assert by_theme.loc["Alpha", "win_rate"] == pytest.approx(0.5)
    assert pd.isna(by_theme.loc["Beta", "win_rate"])
    assert result.unthemed["name"].tolist() == ["e"]
    assert result.running[["name", "days_to_go"]].values.tolist() == [["c", 12.0]]


def test_a_beta_release_is_shown_apart_and_never_counted_as_a_win():
    """A beta is not randomised: it has its own table and column, not a place among the wins."""
    from prodops_lib.review.plots import plot_experiment_lifts

    experiments = pd.DataFrame({
        "name": ["a", "b"], "theme": ["Alpha", "Alpha"], "kind": ["A/B test", "beta release"],
        "decision": ["ship", "go to general availability"], "primary_metric": ["m", "sessions"],
        "primary_metric_label": ["m", "sessions per week"], "rel_effect": [0.05, 0.04],
        "rel_ci_low": [0.01, 0.03], "rel_ci_high": [0.09, 0.05], "days_to_go": [None, None],
    })
    result = experiments_by_theme(experiments, THEMES)
    alpha = result.by_theme.set_index("theme").loc["Alpha"]
    assert alpha[["experiments", "decided", "wins", "betas"]].tolist() == [1, 1, 1, 1]
    assert result.ab_tests["name"].tolist() == ["a"] and result.betas["name"].tolist() == ["b"]
    chart = plot_experiment_lifts(result)
    assert [label.get_text() for label in chart.axes[0].get_yticklabels()] == ["a · Alpha"]


def test_what_changed_compares_with_last_period():
    current = {"allocation_by_theme": pd.DataFrame({"theme": ["Alpha", "Beta"], "share": [0.30, 0.70]}),
               "demand_supply": pd.DataFrame({"theme": ["Alpha", "Beta"], "demand_items_share": [0.6, 0.4]}),
               "experiments": pd.DataFrame({"name": ["a", "b", "c"], "decision": ["ship", "keep running", "investigate"]})}
    previous = {"allocation_by_theme": pd.DataFrame({"theme": ["Alpha", "Beta", "Gamma"], "share": [0.10, 0.80, 0.10]}),
                "demand_supply": pd.DataFrame({"theme": ["Alpha", "Beta"], "demand_items_share": [0.5, 0.5]}),
                "experiments": pd.DataFrame({"name": ["a", "c"], "decision": ["keep running", "keep running"]})}
    trends = pd.DataFrame({"label": ["slack broken", "old"], "product_theme": ["Alpha", "Beta"], "trend": ["emerging", "fading"]})
    changes = what_changed("2026-10", current, previous, trends, top=2)
    assert changes.available and changes.previous_period == "2026-09"
    assert changes.allocation_moves[["theme", "change_pp"]].values.tolist() == [["Alpha", pytest.approx(20.0)], ["Beta", pytest.approx(-10.0)]]
    assert changes.demand_moves["change_pp"].tolist() == pytest.approx([10.0, -10.0])
    assert changes.decisions.values.tolist() == [["a", "keep running", "ship", "decided"],
                                                  ["c", "keep running", "investigate", "changed"]]
    assert changes.emerging["label"].tolist() == ["slack broken"]
    assert changes.fading["label"].tolist() == ["old"]
    assert set(changes.to_frame()["kind"]) == {"effort share", "demand share", "decision"}


def test_without_a_previous_period_it_says_so():
    current = {"experiments": pd.DataFrame({"name": ["a"], "decision": ["ship"]})}
    changes = what_changed("2026-01", current, None, None)
    assert not changes.available
    assert changes.message.startswith("No saved review for 2025-12")


def test_periods():
    assert previous_period("2026-01") == "2025-12"
    assert previous_period("2026-10") == "2026-09"
    assert recent_months("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]


def test_summary_puts_the_largest_risk_first_and_has_at_most_five_sentences(tmp_path):
    experiments = pd.DataFrame({"name": ["srm_one", "winner", "slow"], "theme": ["Alpha", "Beta", "Gamma"],
                                "decision": ["investigate", "ship", "keep running"], "status": None, "kind": "A/B test",
                                "primary_metric": "m", "rel_effect": [0.1, 0.05, 0.01], "rel_ci_low": [0.0, 0.01, -0.05],
                                "rel_ci_high": [0.2, 0.09, 0.07], "days_to_go": [None, None, 20.0], "report": "x"})
    trends = pd.DataFrame({"label": ["slack broken"], "product_theme": ["Alpha"], "trend": ["emerging"]})
    inputs = ReviewInputs(EFFORT, DEMAND, trends, experiments, problems=[])
    review = build_review(inputs, TAXONOMY, ReviewParams(taxonomy="unused.yaml"), "2026-10", previous=None)
    sentences = [text for _, text in review.summary]
    assert len(sentences) == 5
    assert sentences[0] == "1 experiment cannot be trusted yet and needs investigation: Srm one."
    assert sentences[1] == ("Alpha is the most under-served theme: 50% of feedback on product themes but 10% of "
                            "product-theme effort (+40 pp).")
    assert sentences[2].startswith("Beta gets the most effort relative to demand: 60% of product-theme effort against 10%")
    assert sentences[3] == "Emerging in feedback this month: 'slack broken' (Alpha)."
    assert sentences[4] == "20% of engineering effort could not be classified into a theme."
    assert review.headline == f"{sentences[0]} {sentences[1]}"
    coverage = review.coverage.set_index("measure")["value"]
    assert coverage["share of effort not classified into a theme"] == pytest.approx(0.2)
    # what next month reads back
    for name, table in review.saved_tables().items():
        table.to_csv(tmp_path / f"{name}.csv", index=False)
    saved = load_saved_review(tmp_path, DropLog())
    assert saved is not None and saved["allocation_by_theme"]["share"].sum() == pytest.approx(1.0)


def test_emerging_product_themes_are_named_with_their_leading_feedback_theme():
    from prodops_lib.review.summary import _theme_names

    rows = pd.DataFrame({"label": ["slack / channel", "Integrations", "dark mode"],
                         "product_theme": ["Integrations", "Integrations", "unmapped"],
                         "level": ["theme", "product theme", "theme"]})
    assert _theme_names(rows) == ["Integrations (led by 'slack / channel')", "'dark mode'"]


def test_too_little_effort_is_not_judged_as_under_or_over_served(tmp_path):
    # the allocation report's own verdict, as its notebook saves it
    folder = tmp_path / "resource_allocation"
    folder.mkdir()
    EFFORT.to_csv(folder / "effort_share.csv", index=False)
    (folder / "effort_total.json").write_text('{"period": "2026-10", "effort": 8.0, "unit": "logged hours", '
                                              '"effort_needed": 80, "too_little": true}', encoding="utf-8")
    from prodops_lib.review.inputs import load_review_inputs
    from prodops_lib.review.report import summary_block
    from prodops_lib.review.spec import ReviewSources

    loaded = load_review_inputs(tmp_path, ReviewSources(allocation="resource_allocation", feedback=None), DropLog())
    inputs = ReviewInputs(loaded.effort, DEMAND, None, loaded.experiments, problems=[],
                          too_little_effort=loaded.too_little_effort)
    review = build_review(inputs, TAXONOMY, ReviewParams(taxonomy="unused.yaml"), "2026-10", previous=None)
    assert set(review.demand_supply.frame["status"]) == {"too little effort"}
    assert review.demand_supply.most("under-served") is None
    assert review.summary[0] == ("warning", "Too little engineering effort in 2026-10 to judge demand against supply "
                                            "(8.0 logged hours, under the 80 needed): the shares are shown, not judged.")
    assert not any("under-served theme" in text for _, text in review.summary)
    page = str(summary_block(review))
    assert page.count(">not judged<") == 2 and "too little effort this month" in page
