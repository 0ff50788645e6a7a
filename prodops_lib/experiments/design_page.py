"""The experiment design page: the plan first, then what it rests on (notebooks/experiment_design.ipynb)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ..charts import legend_outside
from ..display import Html, Kpi, bullets, callout, figure, kpi_cards, paragraph, table
from ..labels import count_of, readable_name
from .design import ExperimentDesign
from .spec import ExperimentSpec

__all__ = ["baselines_block", "detectable_block", "fake_door_block", "plan_block", "plot_detectable_effect",
           "reduction_block"]

_PCT = "{:.1%}".format


def _weeks(days: int) -> str:
    return "beyond the pre-period's traffic" if days < 0 else f"{days / 7:.1f} weeks"


def plan_block(design: ExperimentDesign, spec: ExperimentSpec) -> Html:
    """The plan a PM signs: hypothesis, primary metric and guardrails, and the answer."""
    plan = design.primary
    guardrails = [spec.metric_label(name) for name in design.guardrails]
    secondary = [m.display_name for m in spec.metrics if m.role == "secondary"]
    facts = [f"Hypothesis: {spec.hypothesis or 'not written (parameter experiment.hypothesis)'}",
             f"Primary metric: {plan.label}, to {spec.primary_metric.direction}; the smallest change worth "
             f"detecting is {design.mde:.0%}.",
             "Guardrails: " + (", ".join(guardrails) if guardrails else "none (add a guardrail metric to watch for "
                               "harm)"),
             f"Secondary metrics: {', '.join(secondary) if secondary else 'none'}.",
             f"{design.variants} variants, significance level {design.alpha_per_comparison:.3g} per comparison "
             f"(alpha {design.alpha:g} split over the metrics and variants the analysis corrects for), "
             f"power {design.power:.0%}."]
    tone = "good" if design.weeks and 0 < plan.days <= 7 * design.weeks else "warning"
    cards = [Kpi("Units per variant", f"{plan.n_per_variant:,}", "read once at the end", "neutral"),
             Kpi("Duration", _weeks(plan.days), f"at {design.traffic.per_day:,.0f} new units a day", tone),
             Kpi("Looked at daily", _weeks(plan.days_sequential),
                 f"{plan.n_per_variant_sequential:,} per variant", "neutral")]
    if design.weeks and plan.mde_in_weeks is not None:
        cards.append(Kpi(f"Detectable in {count_of(design.weeks, 'week')}", _PCT(plan.mde_in_weeks),
                         f"planned {design.mde:.0%}", tone))
    verdict = design.message()
    if design.weeks and (plan.days < 0 or plan.days > 7 * design.weeks):  # the conclusion first
        verdict = (f"The planned {count_of(design.weeks, 'week')} are too short for a {design.mde:.0%} change: run "
                   "longer, accept the larger detectable effect, or test fewer variants. " + verdict)
    return Html(callout(verdict, tone=tone, title=f"The plan for {readable_name(spec.name)}") + kpi_cards(cards)
                + bullets(facts))


def baselines_block(design: ExperimentDesign) -> Html:
    """Each metric's baseline and spread over the pre-period, and the sample it needs."""
    frame = design.to_frame()[["label", "role", "kind", "baseline", "sd", "planned_effect", "n_per_variant", "days"]]
    frame = frame.rename(columns={"label": "metric"})
    text = (f"Read from {count_of(design.traffic.reached[-1], 'unit')} seen between {design.pre_start} and "
            f"{design.pre_end}. A guardrail's planned effect is its non-inferiority margin (one-sided); the "
            "others use the planned minimum detectable effect.")
    return Html(paragraph(text) + table(frame, formats={"baseline": "{:.4g}", "sd": "{:.4g}", "planned_effect": _PCT,
                                                        "n_per_variant": "{:,}", "days": "{:,}"}))


def reduction_block(design: ExperimentDesign) -> Html:
    """How much of the noise a pre-period adjustment removes, measured on the pre-period."""
    frame = design.to_frame()
    frame = frame.assign(cuped_with=[column or "its own earlier value" for column in frame["cuped_covariate"]])
    frame = frame[["label", "cuped_with", "cuped_reduction", "regression_reduction", "reduction_used",
                   "n_per_variant_unadjusted", "n_per_variant"]].rename(columns={"label": "metric"})
    used = design.primary.reduction_used
    text = ("Measured by splitting the pre-period in two: each unit's value in the second half, predicted from the "
            "first half (CUPED: the column the analysis's covariate is counted from, else the metric's own earlier "
            "value; regression: every earlier metric and whether the unit was seen at all). The plan uses the "
            "adjustment the analysis is set to use (a metric's covariate or covariates). ")
    text += (f"For {design.primary.label} it removes {used:.1%} of the variance, so the test needs "
             f"{1 - design.primary.n_per_variant / design.primary.n_per_variant_unadjusted:.1%} fewer units."
             if used > 0 else f"{design.primary.label} is planned without an adjustment.")
    return Html(paragraph(text) + table(frame, formats={"cuped_reduction": _PCT, "regression_reduction": _PCT,
                                                        "reduction_used": _PCT, "n_per_variant_unadjusted": "{:,}",
                                                        "n_per_variant": "{:,}"}))


def plot_detectable_effect(design: ExperimentDesign, weeks: range | list[int] = range(1, 13)) -> Figure:
    """The primary metric's detectable effect against the test's length, fixed and sequential."""
    curve = design.detectable_curve(weeks)
    fig = Figure(figsize=(7.5, 3.6))
    axis = fig.subplots()
    axis.plot(curve["weeks"], curve["mde"], marker="o", label="read once at the end")
    axis.plot(curve["weeks"], curve["mde_sequential"], marker="o", linestyle="--", label="looked at daily")
    axis.axhline(design.mde, color="0.55", linestyle=":", label=f"planned {design.mde:.0%}")
    axis.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    axis.set_xlabel("Weeks the test runs")
    axis.set_ylabel(f"Smallest change in {design.primary.label}\ndetected {design.power:.0%} of the time")
    top = float(np.nanmax(curve[["mde", "mde_sequential"]].to_numpy()))
    axis.set_ylim(0, top * 1.1 if math.isfinite(top) else 1)
    legend_outside(fig)
    return fig


def detectable_block(design: ExperimentDesign, weeks: range | list[int] = range(1, 13)) -> Html:
    """The inverse question, as a chart and a table: what a test of a given length can detect."""
    curve = design.detectable_curve(weeks)
    text = (f"The smallest change in {design.primary.label} each length of test detects {design.power:.0%} of the "
            f"time, at the pre-period's traffic: on average {design.traffic.per_day:,.0f} new units a day over its "
            f"{design.traffic.days} days, and {design.traffic.tail_rate:,.0f} a day (its last week's rate) for longer "
            "tests.")
    return Html(paragraph(text) + figure(plot_detectable_effect(design, weeks))
                + table(curve, formats={"units_per_variant": "{:,.0f}", "mde": _PCT, "mde_sequential": _PCT}))


def fake_door_block(design: ExperimentDesign) -> Html:
    """The visits a fake door needs, or how to ask for them."""
    if design.fake_door is None:
        return paragraph("No fake door planned (set design.fake_door_target and design.fake_door_expected).")
    return Html(paragraph(design.fake_door.message()
                          + " Its verdict compares the click-through's interval with the target, so a rate closer "
                            "to the target needs many more visits (halving the gap roughly quadruples them)."))
