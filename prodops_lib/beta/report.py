"""What the beta notebook needs beyond the analysis: its parameter file, one call that runs
it, and the page's blocks (escaped through ``display``), the verdict first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

from prodops_lib.display import (
    Html,
    Kpi,
    bullets,
    callout,
    heading,
    kpi_cards,
    paragraph,
    quotes,
    table,
)
from prodops_lib.experiments.decision import interval_text
from prodops_lib.feedback.config import FeedbackParams
from prodops_lib.io import DropLog
from prodops_lib.labels import count_of, estimate_format, readable_name

from .adoption import MIN_OBSERVED, Adoption, measure_adoption
from .feedback import PRAISE_NPS, PRAISE_RATING, BetaFeedback, beta_feedback
from .impact import MAX_IMBALANCE, MIN_EFFECTIVE_UNITS, BetaImpact, estimate_impact
from .inputs import load_beta
from .readiness import Readiness, decide_readiness

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
    metric and for ``usage_column``; ``feedback`` (optional) is the beta users' feedback in the
    feedback report's shape (``sources`` with column maps; each source's ``customer`` column
    names the unit), grouped into issues by :mod:`prodops_lib.beta.feedback`.
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
    feedback: FeedbackParams | None = None
    frequency: Literal["day", "week"] = "week"
    pre_periods: int = 4
    post_periods: int = 4
    matching_periods: int = 4
    neighbours: int = 5
    alpha: float = 0.05
    min_activation: float = 0.30
    blocking_share: float = 0.10

    @property
    def panel_columns(self) -> list[str]:
        """The panel's columns the report reads: every metric, and the usage column."""
        names = [metric.name for metric in self.metrics]
        return names + ([self.usage_column] if self.usage_column not in names else [])

    def __post_init__(self) -> None:
        if not self.metrics:
            raise ValueError("metrics is empty; list at least the primary metric")
        if not 0 < self.blocking_share <= 1:
            raise ValueError(f"blocking_share {self.blocking_share!r} must be above 0 and at most 1")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha {self.alpha!r} must be between 0 and 0.5")
        for name in ("pre_periods", "post_periods", "matching_periods", "neighbours"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} {getattr(self, name)!r} must be 1 or more")


@dataclass(frozen=True)
class BetaAnalysis:
    """Everything the page shows: the impact per metric (primary first), adoption, what beta
    users raised (``None`` without a feedback source) and the verdict."""

    impacts: list[BetaImpact]
    adoption: Adoption
    feedback: BetaFeedback | None
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
               "retention": self.adoption.retention,
               "readiness": self.readiness.to_frame()}
        if self.feedback is not None:
            out["feedback_issues"] = self.feedback.issues
            out["feedback_quotes"] = self.feedback.quotes
        return out


def run_beta_report(report: BetaReport, log: DropLog) -> BetaAnalysis:
    """Load, analyse every metric, measure adoption, read the feedback, decide."""
    beta = load_beta(report.units, report.panel, report.panel_columns, frequency=report.frequency, log=log)
    impacts = [estimate_impact(beta, metric.name, label=metric.label or None, direction=metric.direction,
                               pre_periods=report.pre_periods, post_periods=report.post_periods,
                               neighbours=report.neighbours, matching_periods=report.matching_periods,
                               level=1 - report.alpha) for metric in report.metrics]
    adoption = measure_adoption(beta, report.usage_column)
    feedback = (beta_feedback(report.feedback, beta, log, blocking_share=report.blocking_share)
                if report.feedback is not None else None)
    readiness = decide_readiness(impacts[0], adoption, feedback, min_activation=report.min_activation)
    return BetaAnalysis(impacts, adoption, feedback, readiness)


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
    a, number = impact.adjusted, estimate_format(impact.adjusted)
    cards = [Kpi("Verdict", readiness.verdict.upper(), readable_name(report.name), TONES[readiness.verdict]),
             Kpi(f"{impact.label.capitalize()}: effect", f"{a.effect:{number}} ({impact.relative_effect:+.1%})",
                 interval_text(a.ci_low, a.ci_high, a.level, number),
                 "warning" if impact.parallel_trends_doubtful else ("good" if a.ci_low > 0 or a.ci_high < 0 else "neutral")),
             Kpi("Naive beta vs rest", f"{impact.naive.difference:{number}}", "not the feature's effect: see below"),
             Kpi("Activated", f"{adoption.activation_share:.0%}", f"{adoption.activated_units:,} of {adoption.beta_units:,} beta units")]
    intro = paragraph(f"Hypothesis: {report.hypothesis}") if report.hypothesis else ""
    return Html(callout(readiness.headline, tone=TONES[readiness.verdict]) + kpi_cards(cards) + intro
                + bullets(readiness.reasons))


def impact_block(impact: BetaImpact) -> Html:
    """The naive and adjusted estimates side by side, why they differ, and the pre-trend check."""
    tone = "warning" if impact.parallel_trends_doubtful else "good"
    number = "{:" + estimate_format(impact.adjusted) + "}"
    formats = {"difference": number, "ci_low": number, "ci_high": number, "beta_units": "{:,.0f}",
               "comparison_units": "{:,.0f}"}
    shown = impact.to_frame().drop(columns="metric")
    return Html(table(shown, formats=formats, level=impact.adjusted.level,
                      caption=f"{impact.label.capitalize()}: the naive reading, the adjusted one, and a check")
                + paragraph(impact.naive_sentence) + (paragraph(impact.weighted_sentence) if impact.weighted_sentence else "")
                + callout(impact.pre_trend_sentence, tone=tone))


def adoption_block(adoption: Adoption, *, retention_week: int = 4) -> Html:
    percent = "{:.0%}"
    retained = adoption.retention_after(retention_week)
    kept = (f" {retained:.0%} of those who used it used it again in week {retention_week} after their first use."
            if retained == retained else "")
    return Html(paragraph(f"{adoption.activation_share:.0%} of beta units used the feature at least once "
                          f"({adoption.activated_units:,} of {adoption.beta_units:,}).{kept} Weeks that fewer than "
                          f"{MIN_OBSERVED:.0%} of the units have reached yet are left out.")
                + table(adoption.by_week, formats={"mean_uses": "{:.2f}", "using_share": percent},
                        caption="Use of the feature by week since entering the beta")
                + table(adoption.retention, formats={"retained_share": percent},
                        caption="Retention: units using the feature, by week since their first use"))


def feedback_block(analysis: BetaAnalysis, *, quoted_issues: int = 5) -> Html:
    """What beta users raised: one row per issue under its theme, with the share of beta units
    that raised it, then the quotes of the ``quoted_issues`` largest issues, problems before
    praise (redacted by the loader, escaped here)."""
    feedback = analysis.feedback
    if feedback is None:
        return paragraph("No feedback source was given for this beta: add a feedback: block to its parameters.")
    intro = (f"{count_of(feedback.texts, 'feedback text')} from {count_of(feedback.units_writing, 'beta unit')} "
             f"({feedback.units_writing / feedback.beta_units:.0%} of {feedback.beta_units:,}), written after entry.")
    if not feedback.grouped:
        return paragraph(intro + f" Too few to group into issues: at least {feedback.texts_needed} are needed.")
    issues = feedback.issues
    # a theme of one issue is that issue: its name is shown once
    shown = issues.assign(theme=issues["theme"].where(issues["theme"] != issues["issue"], ""),
                          kind=issues["praise"].map({True: "praise", False: "problem or request"}),
                          blocks=issues["blocks"].map({True: "yes", False: "no"}))
    columns = ["theme", "issue", "beta_units", "share_of_beta_units", "items", "average_rating", "average_nps", "kind",
               "blocks"]
    shown = shown[columns].dropna(axis="columns", how="all")
    shown = shown.drop(columns=[*(["theme"] if shown["theme"].eq("").all() else []),
                                *([] if feedback.scored else ["kind"])])
    rows = table(shown, formats={"share_of_beta_units": "{:.0%}", "average_rating": "{:.1f}", "average_nps": "{:.1f}"},
                 caption="What beta users raised, by the beta units that raised it")
    # problems before praise: what might hold the release back is what a PM reads first
    quoted = issues[issues["issue_id"] >= 0].sort_values("praise", kind="stable").head(quoted_issues)
    return Html(paragraph(intro + f" An issue blocks general availability when {feedback.blocking_share:.0%} or more "
                          "of beta units raised it" + (", unless its scores make it praise." if feedback.scored else "."))
                + rows + "".join(heading(f"{row.issue} — {count_of(int(row.beta_units), 'beta unit')}", 3)
                                 + quotes(feedback.quotes_for(int(row.issue_id))) for row in quoted.itertuples()))


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
        "Check: the same difference-in-differences with every comparable unit (outside the beta, or entering after "
        "the window) weighted by its odds of joining, from a logistic regression on the same level and trend "
        "(scikit-learn; inverse-propensity weights for the beta units, Abadie 2005). It is made only when the weights "
        f"leave the groups within {MAX_IMBALANCE:g} standard deviations on level and trend with at least "
        f"{MIN_EFFECTIVE_UNITS} effective comparison units per entry cohort.",
        "Pre-trend check: the event study's coefficients before entry, against the period just before, and their "
        "joint Wald test; below p = 0.05 the parallel-trends assumption is called doubtful.",
        "Naive comparison: the average of beta units from their entry on, minus that of all other units from the "
        "first entry on.",
        *([_feedback_method(report)] if report.feedback is not None else []),
        *notes,
    ]


def _feedback_method(report: BetaReport) -> str:
    options = report.feedback.clustering
    return ("Feedback: texts from beta units on or after their entry day, cleaned, redacted and grouped into issues and "
            f"themes by the feedback report's pipeline ({options.embedding} embeddings, issues of at least "
            f"{options.min_issue_size} texts); an issue's size is the number of beta units that raised it. An issue "
            f"blocks general availability when {report.blocking_share:.0%} or more of beta units raised it, unless its "
            f"average score is praise ({PRAISE_RATING:g} stars of 5 or more, or {PRAISE_NPS:g} of 10 on the recommend "
            "scale).")
