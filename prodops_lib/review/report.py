"""The review page's composite blocks (summary, changes, data quality), built from display
helpers so that every piece of text is redacted and escaped."""

from __future__ import annotations

import pandas as pd

from prodops_lib import display
from prodops_lib.labels import count_of, readable_name
from prodops_lib.review import MonthlyReview

_PP = "{:+.1f} pp"
_PCT = "{:.1%}"


def summary_block(review: MonthlyReview) -> display.Html:
    """The executive summary: KPI cards, then the sentences, largest risk first."""
    comparison = review.demand_supply
    under = comparison.most("under-served")
    over = comparison.most("over-served")
    decided = review.experiments.by_theme["decided"].sum() if len(review.experiments.by_theme) else 0
    known = (comparison.frame["status"] != "unknown").any()
    judged = not (comparison.frame["status"] == "too little effort").any()
    cards = [
        _gap_card("Most under-served", under, known, "bad", judged),
        _gap_card("Most over-served", over, known, "warning", judged),
        display.Kpi("Experiments", f"{len(review.experiments.experiments)}",
                    f"{int(decided)} decided · {len(review.experiments.running)} running"),
        display.Kpi("Inputs missing", f"{len(review.problems)}", None, "bad" if review.problems else "good"),
    ]
    sentences = [display.callout(text, tone=tone) for tone, text in review.summary]
    return display.Html(display.kpi_cards(cards) + "".join(sentences))


def _gap_card(label: str, row: pd.Series | None, known: bool, tone: str, judged: bool = True) -> display.Kpi:
    if not judged:
        return display.Kpi(label, "not judged", "too little effort this month", "warning")
    if not known:
        return display.Kpi(label, "unknown", "demand or supply is missing", "neutral")
    if row is None:
        return display.Kpi(label, "none", "no gap beyond the threshold", "good")
    return display.Kpi(label, str(row["theme"]), f"{row['gap_pp']:+.0f} pp demand − effort", tone)


def comparison_table(review: MonthlyReview) -> display.Html:
    """Conclusion first: the status and the gap, then the two shares it is the difference of,
    then the other ways of counting demand."""
    comparison = review.demand_supply
    basis = f"demand_{comparison.basis}_share"
    others = [c for c in ("demand_items_share", "demand_customers_share", "demand_arr_share") if c != basis]
    frame = comparison.frame[["theme", "status", "gap_pp", basis, "effort_share", *others]]
    formats = {column: _PCT for column in frame.columns if column.endswith("_share")} | {"gap_pp": _PP}
    return display.table(frame, formats=formats, caption=f"Demand and supply by product theme, {review.period}")


def gap_trend_table(review: MonthlyReview) -> display.Html:
    """Per theme: whether its gap is closing, the gap now and how fast the gap's size changes,
    the number the verdict is read from, and the gap's own slope (a gap that crosses from -6 to
    +6 points keeps its size: it is called reversed)."""
    history = review.history
    latest = history.frame.groupby("theme", sort=False)["gap_pp"].last().rename("gap_now_pp")
    frame = history.trend.join(latest, on="theme")[["theme", "verdict", "gap_now_pp", "abs_gap_slope_pp_per_month",
                                                    "gap_slope_pp_per_month", "months"]]
    # reversed, widening and closing gaps first, then the largest gaps
    order = frame["verdict"].str.split(":").str[0].map({"reversed": 0, "widening": 1, "closing": 2}).fillna(3)
    frame = frame.assign(order=order,
                         size=-frame["gap_now_pp"].abs()).sort_values(["order", "size"]).drop(columns=["order", "size"])
    per_month = "{:+.1f} pp"
    return display.table(frame, formats={"gap_now_pp": _PP, "abs_gap_slope_pp_per_month": per_month,
                                         "gap_slope_pp_per_month": per_month},
                         caption="Is each gap closing? (how much the gap's size changes per month, over the months shown)")


def experiments_tables(review: MonthlyReview) -> display.Html:
    """A/B tests (lift against control) and fake doors (click-through against a target) apart:
    the two numbers answer different questions."""
    experiments = review.experiments
    parts = []
    ab = experiments.ab_tests
    if len(ab):
        # an effect the report itself does not trust is not shown as a plain number beside the others
        decision = ab["decision"].where(ab["decision"] != "investigate", "investigate: effect not trustworthy yet")
        # the metric as its own report names it (a summary saved before labels existed: its name)
        metric = ab["primary_metric_label"].fillna(ab["primary_metric"]) if "primary_metric_label" in ab else ab["primary_metric"]
        shown = ab.assign(name=ab["name"].map(readable_name), decision=decision, primary_metric=metric)[
            ["name", "decision", "primary_metric", "rel_effect", "rel_ci_low", "rel_ci_high", "days_to_go", "theme"]]
        parts.append(display.table(shown, formats={"rel_effect": "{:+.1%}", "rel_ci_low": "{:+.1%}", "rel_ci_high": "{:+.1%}",
                                                   "days_to_go": "{:,.0f}"},
                                   caption="A/B tests: the primary metric's change against control"))
    doors = experiments.fake_doors
    if len(doors):
        shown = doors.assign(name=doors["name"].map(readable_name))[
            ["name", "verdict", "click_through", "click_through_low", "click_through_high", "target_rate", "theme"]]
        parts.append(display.table(shown, formats={c: "{:.2%}" for c in ("click_through", "click_through_low",
                                                                          "click_through_high", "target_rate")},
                                   caption="Fake doors: click-through against the target set before the test"))
    betas = experiments.betas
    if len(betas):
        shown = betas.assign(name=betas["name"].map(readable_name),
                             primary_metric=betas["primary_metric_label"].fillna(betas["primary_metric"]))[
            ["name", "decision", "primary_metric", "rel_effect", "rel_ci_low", "rel_ci_high", "theme"]].rename(
            columns={"decision": "readiness", "rel_effect": "change_vs_comparable",
                     "rel_ci_low": "change_vs_comparable_low", "rel_ci_high": "change_vs_comparable_high"})
        parts.append(display.table(shown, formats={c: "{:+.1%}" for c in ("change_vs_comparable", "change_vs_comparable_low",
                                                                         "change_vs_comparable_high")},
                                   caption="Beta releases: readiness, and the primary metric's change against "
                                           "comparable users outside the beta (not randomised)"))
    if not parts:
        parts.append(display.paragraph("No experiment result was found for this period."))
    return display.Html("".join(parts))


def program_block(review: MonthlyReview) -> display.Html:
    """The experiment program's headline: the win rate over its window and what the shipped
    A/B tests added once corrected for the winner's curse (the program report has the rest)."""
    program = review.program
    if not program:
        return display.Html("")
    window = f"{program['first_month']} to {program['period']}"
    if program.get("win_rate") is None:
        text = f"Across the experiment program, {window}: no experiment was decided."
    else:
        text = (f"Across the experiment program, {window}: {program['wins']} of "
                f"{count_of(program['decided'], 'experiment')} decided were wins ({program['win_rate']:.0%}).")
    if program.get("impact_sentence"):  # the program report's own words, so both pages say one thing
        text += " " + program["impact_sentence"]
    return display.callout(text + " The Experiment program report has the details.", tone="neutral",
                           title="Experiment program")


def changes_block(review: MonthlyReview) -> display.Html:
    """Moves since last month, or a plain statement that there is no previous period."""
    changes = review.changes
    parts = [display.paragraph(changes.message)]
    if changes.available:
        parts.append(display.table(changes.allocation_moves, formats={"previous": _PCT, "current": _PCT, "change_pp": _PP},
                                   caption="Largest moves in engineering allocation (share of all effort, unclassified included)"))
        parts.append(display.table(changes.demand_moves, formats={"previous": _PCT, "current": _PCT, "change_pp": _PP},
                                   caption="Largest moves in customer demand (share of feedback on product themes)"))
        if len(changes.decisions):
            parts.append(display.table(changes.decisions, caption="Experiment decisions made this month"))
        else:
            parts.append(display.paragraph("No experiment reached a new decision this month."))
    trend_columns = ["label", "product_theme", "level", "count_before", "count_this_period", "share_before",
                     "share_this_period"]
    for title, rows in (("Emerging feedback themes", changes.emerging), ("Fading feedback themes", changes.fading)):
        if len(rows):
            shown = rows[[c for c in trend_columns if c in rows.columns]]
            # a theme that is its own product theme is one row, not two with the same numbers
            shown = shown.drop_duplicates(subset=[c for c in ("label", "count_before", "count_this_period") if c in shown])
            parts.append(display.table(shown, caption=title, formats={"share_before": _PCT, "share_this_period": _PCT}))
        else:
            parts.append(display.paragraph(f"{title}: none this month."))
    return display.Html("".join(parts))


def data_quality_block(review: MonthlyReview) -> display.Html:
    """Coverage of each input and the inputs that are missing or failed."""
    coverage = review.coverage.copy()
    coverage["value"] = [
        "—" if pd.isna(value) else (f"{value:.0f}" if "experiments" in measure or "inputs" in measure else f"{value:.1%}")
        for measure, value in zip(coverage["measure"], coverage["value"], strict=True)
    ]
    parts = [display.table(coverage, caption="Coverage of each input")]
    if review.problems:
        parts.append(display.callout("Missing or failed inputs:", tone="bad"))
        parts.append(display.bullets(review.problems))
    else:
        parts.append(display.paragraph("Every input of the review was present and complete."))
    return display.Html("".join(parts))
