"""The beta's impact on one metric: the naive beta-vs-rest difference, the matched
difference-in-differences beside it, the event study and the pre-trend check, in plain words."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from prodops_lib.experiments.decision import interval_text
from prodops_lib.io import InputError
from prodops_lib.labels import estimate_format, metric_words, p_equals

from .did import DidEstimate, EventStudy, average_effect, event_study
from .inputs import BetaPanel
from .stack import stack_cohorts

__all__ = ["BetaImpact", "NaiveComparison", "estimate_impact", "naive_comparison"]

DOUBTFUL_P = 0.05  # the leads' joint test below this: parallel trends are doubtful
MAX_IMBALANCE = 0.25  # standardised mean difference left after weighting above which the check is not made
MIN_EFFECTIVE_UNITS = 10  # effective comparison units per cohort below which it is not made either


@dataclass(frozen=True)
class NaiveComparison:
    """Beta units after entry against every other unit over the same weeks (unit means, Welch
    interval), and the same gap in the weeks before the beta opened."""

    beta_mean: float
    rest_mean: float
    difference: float
    ci_low: float
    ci_high: float
    gap_before_beta: float
    level: float

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])

    def covers(self, effect: float) -> bool:
        """Whether the naive interval holds ``effect``: then who joined made little difference."""
        return self.ci_low <= effect <= self.ci_high


@dataclass(frozen=True)
class BetaImpact:
    """The adjusted effect (``adjusted``), its event study, the naive difference and the
    sentences that explain them. ``relative_*`` divide by the beta units' counterfactual mean
    (their mean after entry minus the effect), taken as known."""

    metric: str
    label: str
    direction: str
    adjusted: DidEstimate
    event_study: EventStudy
    naive: NaiveComparison
    cohorts: pd.DataFrame
    counterfactual_mean: float
    parallel_trends_doubtful: bool
    pre_trend_sentence: str
    naive_sentence: str
    weighted: DidEstimate | None = None  # the check: every eligible unit weighted by its odds of joining
    weighted_sentence: str = ""
    frequency: str = "week"  # what one period of the panel is

    def summary_sentences(self) -> list[str]:
        """The impact's reasons in one line each, for the verdict (the Impact section explains them)."""
        number = estimate_format(self.adjusted)
        trends = ("Beta units were already drifting away from comparable units before entry, so the effect cannot be "
                  "read yet." if self.parallel_trends_doubtful else
                  "Before entry, beta units and comparable units moved in parallel, so the comparison holds.")
        naive = self.naive
        who = ("close to the adjusted estimate" if naive.covers(self.adjusted.effect)
               else "mostly who joined, not the feature: beta units were different before they entered")
        lines = [trends, f"Beta units against everyone else: {naive.difference:{number}} {self.label}, {who}."]
        gap = self.cohorts["imbalance"].max()
        if gap > MAX_IMBALANCE:  # level gaps cancel in the difference-in-differences; trend gaps do not
            lines.append(f"The matched units still differ from beta units before entry by up to {gap:.2f} standard "
                         "deviations in level or trend: too few units outside the beta look like them.")
        if self.weighted is not None:
            verdict = "agrees" if agree(self.adjusted, self.weighted) else "disagrees: read the effect with care"
            lines.append(f"A check weighting units by their odds of joining {verdict} ({self.weighted.effect:{number}}).")
        elif self.weighted_sentence:
            lines.append("A check weighting units by their odds of joining was not possible: too few non-beta units "
                         "resemble beta units.")
        return lines
    @property
    def relative_effect(self) -> float:
        return self.adjusted.effect / self.counterfactual_mean

    @property
    def relative_interval(self) -> tuple[float, float]:
        return self.adjusted.ci_low / self.counterfactual_mean, self.adjusted.ci_high / self.counterfactual_mean

    def effect_text(self) -> str:
        """``+0.61 (+5.9% of the level without the beta; 95% CI +0.35 to +0.87)``, in the
        metric's own unit then relative to the beta units' level had they not joined."""
        a, number = self.adjusted, estimate_format(self.adjusted)
        return (f"{a.effect:{number}} ({self.relative_effect:+.1%} of the level without the beta; "
                f"{interval_text(a.ci_low, a.ci_high, a.level, number)})")

    def to_frame(self) -> pd.DataFrame:
        """The naive estimate, the adjusted one, and the weighted check, side by side."""
        a, n = self.adjusted, self.naive

        def row(comparison: str, estimate: DidEstimate) -> dict:
            return {"metric": self.metric, "comparison": comparison, "difference": estimate.effect,
                    "ci_low": estimate.ci_low, "ci_high": estimate.ci_high, "beta_units": estimate.beta_units,
                    "comparison_units": estimate.comparison_units}

        rows = [{"metric": self.metric, "comparison": "everyone outside the beta (naive)", "difference": n.difference,
                 "ci_low": n.ci_low, "ci_high": n.ci_high, "beta_units": None, "comparison_units": None},
                row("matched units, before and after entry (adjusted)", a)]
        if self.weighted is not None:
            rows.append(row("all units weighted by their odds of joining (check)", self.weighted))
        return pd.DataFrame(rows)


def naive_comparison(beta: BetaPanel, metric: str, *, level: float = 0.95) -> NaiveComparison:
    """What a dashboard shows: beta units from their entry on against units outside the beta
    from the first entry on; and the gap between them before anyone entered."""
    panel = beta.panel
    opened = max(int(beta.units.loc[beta.units["in_beta"], "entry_index"].min()), 0)
    before = panel[panel["period_index"] < opened].groupby(["unit", "in_beta"])[metric].mean().reset_index()
    after = panel[(panel["in_beta"] & (panel["event_time"] >= 0))
                  | (~panel["in_beta"] & (panel["period_index"] >= opened))]
    unit_means = after.groupby(["unit", "in_beta"])[metric].mean().reset_index()
    beta_means = unit_means.loc[unit_means["in_beta"], metric]
    rest_means = unit_means.loc[~unit_means["in_beta"], metric]
    difference = float(beta_means.mean() - rest_means.mean())
    se = float(np.sqrt(beta_means.var() / len(beta_means) + rest_means.var() / len(rest_means)))
    z = stats.norm.ppf(0.5 + level / 2)
    gap = (before.loc[before["in_beta"], metric].mean() - before.loc[~before["in_beta"], metric].mean()
           if before["in_beta"].any() and (~before["in_beta"]).any() else float("nan"))
    return NaiveComparison(float(beta_means.mean()), float(rest_means.mean()), difference,
                           float(difference - z * se), float(difference + z * se), float(gap), level)


def _pre_trend_sentence(study: EventStudy, label: str, number: str, frequency: str) -> tuple[bool, str]:
    if study.leads == 0:
        return False, ("Parallel trends cannot be checked: the window has fewer than two periods before entry; "
                       "set pre_periods to 2 or more.")
    leads = study.coefficients[study.coefficients["event_time"] < -1]
    largest = leads.loc[leads["effect"].abs().idxmax()]
    if study.leads_p_value < DOUBTFUL_P:
        return True, (f"Parallel trends are doubtful: before entering the beta, beta units already drifted away from "
                      f"their comparison units (by up to {largest['effect']:{number}} {label}, "
                      f"{int(-largest['event_time'])} {frequency}s before entry; differences this large arise by chance "
                      f"with {p_equals(study.leads_p_value)}). Part of the estimated effect may be that drift, not the "
                      "feature.")
    return False, (f"Before entry, beta units and their comparison units moved in parallel: the differences before "
                   f"entry are small (largest {largest['effect']:{number}} {label}) and common by chance "
                   f"({p_equals(study.leads_p_value)}).")


def _naive_sentence(naive: NaiveComparison, adjusted: DidEstimate, label: str, number: str) -> str:
    compared = (f"Beta units against everyone else: {naive.difference:{number}} {label}; against comparable units, "
                f"before and after entry: {adjusted.effect:{number}}.")
    if naive.covers(adjusted.effect):
        return compared + " The two agree: the beta units were not very different before they entered."
    more = "more" if naive.gap_before_beta > 0 else "fewer"
    return (compared + f" They differ because beta units already had {abs(naive.gap_before_beta):{number[1:]}} {more} {label} "
            "before the beta opened: the units that joined were different to begin with, and the naive comparison "
            "credits the feature with that. The adjusted estimate compares each beta unit with non-beta units that "
            "looked like it before entry, and subtracts the difference they already had.")


def agree(first: DidEstimate, second: DidEstimate) -> bool:
    """Two estimates agree when each lies inside the other's interval."""
    return first.ci_low <= second.effect <= first.ci_high and second.ci_low <= first.effect <= second.ci_high


def _weighted_check(beta: BetaPanel, metric: str, adjusted: DidEstimate, level: float, number: str,
                    **window) -> tuple[DidEstimate | None, str]:
    """The estimate with comparison units weighted by their odds of joining, and its sentence;
    no estimate when the weights cannot make the comparison units resemble the beta units."""
    stack = stack_cohorts(beta, metric, comparison="weighting", **window)
    used = stack.cohorts.dropna(subset=["imbalance"])
    gap, effective = float(used["imbalance"].max()), float(used["effective_comparison_units"].min())
    if gap > MAX_IMBALANCE or effective < MIN_EFFECTIVE_UNITS:
        return None, ("Check not possible: weighting units by their odds of joining could not make them resemble the "
                      f"beta units before entry (a gap of {gap:.2f} standard deviations remains; "
                      f"{effective:.0f} effective comparison units), so the effect rests on matching alone.")
    weighted = average_effect(stack, level=level)
    found = (f"Check: weighting every comparable unit (outside the beta, or entering it later) by its odds of joining, "
             f"instead of matching, gives {weighted.effect:{number}} "
             f"({interval_text(weighted.ci_low, weighted.ci_high, weighted.level, number)})")
    if agree(adjusted, weighted):
        return weighted, found + ": the two ways of choosing comparison units agree."
    return weighted, (found + ": the two ways of choosing comparison units disagree, so the estimate depends on which "
                      "units count as comparable; read it with care.")


def estimate_impact(beta: BetaPanel, metric: str, *, label: str | None = None, direction: str = "increase",
                    pre_periods: int = 4, post_periods: int = 4, neighbours: int | None = 5,
                    matching_periods: int = 4, level: float = 0.95) -> BetaImpact:
    """Estimate the beta's effect on ``metric`` (see :mod:`prodops_lib.beta.stack` and
    :mod:`prodops_lib.beta.did` for the method)."""
    if metric not in beta.metrics:
        raise InputError(f"metric {metric!r} is not in the panel's metrics {list(beta.metrics)}; add it under metrics")
    if direction not in ("increase", "decrease"):
        raise InputError(f"direction {direction!r} is not increase or decrease; set direction: increase or decrease")
    label = label or metric_words(metric)
    stack = stack_cohorts(beta, metric, pre_periods=pre_periods, post_periods=post_periods, neighbours=neighbours,
                          matching_periods=matching_periods)
    if stack.rows.empty:
        reasons = "; ".join(sorted(set(stack.cohorts["reason"].dropna())))
        raise InputError(f"metric {metric!r}: no entry cohort can be analysed ({reasons}); lower pre_periods, "
                         "post_periods or matching_periods, or give a longer panel")
    adjusted = average_effect(stack, level=level)
    study = event_study(stack, level=level)
    naive = naive_comparison(beta, metric, level=level)
    treated = stack.rows["treated"].to_numpy()
    counterfactual = float(stack.values[treated, pre_periods:].mean() - adjusted.effect)
    number = estimate_format(adjusted)
    doubtful, pre_sentence = _pre_trend_sentence(study, label, number, beta.frequency)
    weighted, weighted_sentence = None, ""
    if neighbours is not None:
        weighted, weighted_sentence = _weighted_check(beta, metric, adjusted, level, number, pre_periods=pre_periods,
                                                      post_periods=post_periods, neighbours=neighbours,
                                                      matching_periods=matching_periods)
    return BetaImpact(metric, label, direction, adjusted, study, naive, stack.cohorts, counterfactual, doubtful,
                      pre_sentence, _naive_sentence(naive, adjusted, label, number), weighted, weighted_sentence,
                      beta.frequency)
