"""What the beta notebook needs beyond the analysis: its parameter file, one call that runs
it, and the page's blocks (escaped through ``display``), the verdict first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from prodops_lib.display import Html, Kpi, bullets, callout, kpi_cards, paragraph, table
from prodops_lib.io import DropLog
from prodops_lib.labels import readable_name

from .adoption import Adoption, measure_adoption
from .impact import BetaImpact, estimate_impact
from .inputs import load_beta
from .readiness import Readiness, blocking_issues, decide_readiness, load_feedback_themes

__all__ = ["TONES", "BetaAnalysis", "BetaMetric", "BetaReport", "adoption_block", "beta_summary", "feedback_block",
           "impact_block", "method_sentences", "run_beta_report", "verdict_block"]

TONES = {"go to general availability": "good", "fix first": "bad", "extend the beta": "warning"}


@dataclass(frozen=True)
class BetaMetric:
    """One outcome metric of the panel; the first listed is the primary one the verdict reads."""

    name: str
    label: str = ""
    direction: Literal["increase", "decrease"] = "increase"


@dataclass(frozen=True)
class BetaReport:
    """``parameters/beta_<name>.yaml``: the beta's files and how to read them.

    ``units`` has unit, in_beta, entry_date; ``panel`` has unit, period and one column per
    metric and for ``usage_column``; ``feedback`` (optional) has theme, beta_units, blocking.
    The window is ``pre_periods`` before entry and ``post_periods`` from entry, with
    ``matching_periods`` before it to choose comparison units on.
    """

    name: str
    units: str
    panel: str
    metrics: list[BetaMetric]
    usage_column: str
    hypothesis: str = ""
    theme: str = ""
    team: str | None = None
    feedback: str | None = None
    frequency: Literal["day", "week"] = "week"
    pre_periods: int = 4
    post_periods: int = 4
    matching_periods: int = 4
    neighbours: int = 5
    alpha: float = 0.05
    min_activation: float = 0.30
    blocking_share: float = 0.10

    def __post_init__(self) -> None:
        if not self.metrics:
            raise ValueError("metrics is empty; list at least the primary metric")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha {self.alpha!r} must be between 0 and 0.5")
        for name in ("pre_periods", "post_periods", "matching_periods", "neighbours"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} {getattr(self, name)!r} must be 1 or more")


@dataclass(frozen=True)
class BetaAnalysis:
    """Everything the page shows: the impact per metric (primary first), adoption, the
    feedback themes and the verdict."""

    impacts: list[BetaImpact]
    adoption: Adoption
    themes: pd.DataFrame | None
    readiness: Readiness

    @property
    def primary(self) -> BetaImpact:
        return self.impacts[0]

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables behind the page, for ``results/``."""
        out = {"impact": pd.concat([impact.to_frame() for impact in self.impacts], ignore_index=True),
               "event_study": pd.concat([impact.event_study.to_frame().assign(metric=impact.metric)
                                         for impact in self.impacts], ignore_index=True),
               "cohorts": self.primary.cohorts, "adoption": self.adoption.to_frame(),
               "readiness": self.readiness.to_frame()}
        if self.themes is not None:
            out["feedback"] = self.themes
        return out


def run_beta_report(report: BetaReport, log: DropLog) -> BetaAnalysis:
    """Load, analyse every metric, measure adoption, read the feedback, decide."""
    names = [metric.name for metric in report.metrics]
    beta = load_beta(report.units, report.panel,
                     names + ([report.usage_column] if report.usage_column not in names else []),
                     frequency=report.frequency, log=log)
    impacts = [estimate_impact(beta, metric.name, label=metric.label or None, direction=metric.direction,
                               pre_periods=report.pre_periods, post_periods=report.post_periods,
                               neighbours=report.neighbours, matching_periods=report.matching_periods,
                               level=1 - report.alpha) for metric in report.metrics]
    adoption = measure_adoption(beta, report.usage_column)
    themes = None
    if report.feedback:
        themes = blocking_issues(load_feedback_themes(report.feedback, log=log), adoption.beta_units,
                                 blocking_share=report.blocking_share)
    readiness = decide_readiness(impacts[0], adoption, themes, min_activation=report.min_activation,
                                 blocking_share=report.blocking_share)
    return BetaAnalysis(impacts, adoption, themes, readiness)


def beta_summary(report: BetaReport, analysis: BetaAnalysis) -> dict:
    """What the monthly review reads (``summary.json``): the readiness verdict and the primary
    metric's adjusted change, relative to the beta units' counterfactual. A beta is not
    randomised, so the review shows it apart from A/B tests and never counts it as a win."""
    primary = analysis.primary
    low, high = primary.relative_interval
    verdict = analysis.readiness.verdict
    return {"name": report.name, "kind": "beta release", "theme": report.theme, "team": report.team,
            "decision": verdict, "status": "running" if verdict == "extend the beta" else "decided",
            "primary_metric": primary.metric, "primary_metric_label": primary.label,
            "rel_effect": float(primary.relative_effect), "rel_ci_low": float(low), "rel_ci_high": float(high),
            "days_to_go": None, "activation": float(analysis.adoption.activation_share),
            "parallel_trends_doubtful": bool(primary.parallel_trends_doubtful)}


def verdict_block(report: BetaReport, analysis: BetaAnalysis) -> Html:
    """The verdict and its headline, the figures it rests on, then every reason."""
    readiness, impact, adoption = analysis.readiness, analysis.primary, analysis.adoption
    a = impact.adjusted
    cards = [Kpi("Verdict", readiness.verdict.upper(), readable_name(report.name), TONES[readiness.verdict]),
             Kpi(f"{impact.label.capitalize()}: effect", f"{a.effect:+.3g} ({impact.relative_effect:+.1%})",
                 f"{a.level:.0%} CI {a.ci_low:+.3g} to {a.ci_high:+.3g}",
                 "warning" if impact.parallel_trends_doubtful else ("good" if a.ci_low > 0 or a.ci_high < 0 else "neutral")),
             Kpi("Naive beta vs rest", f"{impact.naive.difference:+.3g}", "not the feature's effect: see below"),
             Kpi("Activated", f"{adoption.activation_share:.0%}", f"{adoption.activated_units:,} of {adoption.beta_units:,} beta units")]
    intro = paragraph(f"Hypothesis: {report.hypothesis}") if report.hypothesis else ""
    return Html(callout(readiness.headline, tone=TONES[readiness.verdict]) + kpi_cards(cards) + intro
                + bullets(readiness.reasons))


def impact_block(impact: BetaImpact) -> Html:
    """The naive and adjusted estimates side by side, why they differ, and the pre-trend check."""
    tone = "warning" if impact.parallel_trends_doubtful else "good"
    number = "{:+.3g}"
    formats = {"difference": number, "ci_low": number, "ci_high": number, "beta_units": "{:,.0f}",
               "comparison_units": "{:,.0f}"}
    shown = impact.to_frame().drop(columns="metric")
    return Html(table(shown, formats=formats, level=impact.adjusted.level,
                      caption=f"{impact.label.capitalize()}: two ways to read the beta")
                + paragraph(impact.naive_sentence) + callout(impact.pre_trend_sentence, tone=tone))


def adoption_block(adoption: Adoption) -> Html:
    percent = "{:.0%}"
    return Html(paragraph(f"{adoption.activation_share:.0%} of beta units used the feature at least once "
                          f"({adoption.activated_units:,} of {adoption.beta_units:,}).")
                + table(adoption.by_week, formats={"mean_uses": "{:.2f}", "using_share": percent,
                                                   "retained_share": percent},
                        caption="Use of the feature by week since entering the beta"))


def feedback_block(analysis: BetaAnalysis) -> Html:
    if analysis.themes is None:
        return paragraph("No feedback themes were given for this beta.")
    shown = analysis.themes.drop(columns="blocking").assign(blocks=analysis.themes["blocks"].map({True: "yes", False: "no"}))
    return table(shown, formats={"share_of_beta_units": "{:.0%}"},
                 caption="What beta users raised, most raised first")


def method_sentences(report: BetaReport, analysis: BetaAnalysis) -> list[str]:
    """One sentence per method, with this report's settings."""
    skipped = analysis.primary.cohorts.dropna(subset=["reason"])
    notes = [f"Entry cohort {int(row.cohort)} left out: {row.reason}." for row in skipped.itertuples()]
    return [
        f"Comparison units: for each group of units that entered in the same {report.frequency}, the "
        f"{report.neighbours} nearest units outside the beta (or entering after the window) on the level and trend of "
        f"each metric over the {report.matching_periods} {report.frequency}s before the window (scikit-learn nearest "
        "neighbours, with replacement). Measured on separate periods, so a unit picked for a lucky few weeks does not "
        "bias the estimate by falling back.",
        f"Effect: difference-in-differences over {report.pre_periods} {report.frequency}s before and "
        f"{report.post_periods} from entry, per entry cohort, averaged over beta units; a unit already in the beta is "
        "never a comparison unit. Standard errors are clustered by unit (statsmodels); intervals at "
        f"{1 - report.alpha:.0%}.",
        "Pre-trend check: the event study's coefficients before entry, against the period just before, and their "
        "joint Wald test; below p = 0.05 the parallel-trends assumption is called doubtful.",
        "Naive comparison: the average of beta units from their entry on, minus that of all other units from the "
        "first entry on.",
        *notes,
    ]
