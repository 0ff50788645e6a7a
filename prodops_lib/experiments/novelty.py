"""Does the effect fade (novelty) or grow (primacy) the longer units have had the change?

What the data supports. The kit reads one row per unit: its variant, its outcome over the
whole experiment and one exposure timestamp; the collectors sum each metric by exposure day
(:attr:`.aggregate.CollectedData.daily`). There is no outcome per unit and day, so "the effect
on day d after exposure" cannot be computed. What can be: the effect among the units first
exposed on each day (a cohort), and each cohort has been exposed for ``days_exposed = end day
- exposure day`` days by the end of the data (end day: the experiment's ``end_date``, else
the last exposure day). If the change is new and exciting, recent cohorts, still in their first
days, show a larger effect than cohorts that have had it for weeks: the effect falls with
``days_exposed``. If users first resist and then learn it (primacy), it rises.

The effect of each cohort is read as a ratio: a unit exposed longer has had more time to order
or come back in both arms, and a lift is comparable across cohorts where a difference is not.
The trend is fitted to ``y_d = log(variant / control)`` with its delta-method standard error
(``log_ratio_se``): small daily cohorts make the lift itself skewed, and measured on 300
simulated experiments with a constant effect (4,000 units per arm over 26 days, a 5% base
rate) a slope of the lift raised a false alarm 13.7% of the time at a 5% level, one of the
log ratio 5.7%. The page reports the slope ``b`` as ``exp(b) - 1``, the change of the ratio
per day, "points of lift per day" while the lift is small. Where a lift is not defined (a
control average of 0) the absolute difference and its standard error are fitted instead.

The trend is the weighted least-squares slope of ``y_d`` on ``days_exposed`` with weights
``w_d = 1 / se_d²``::

    slope = Σ w (x - x̄)(y - ȳ) / Σ w (x - x̄)²,    x̄, ȳ weighted means
    s²    = Σ w (y - ŷ)² / (k - 2),                 SE = sqrt(s² / Σ w (x - x̄)²)

with a t interval on ``k - 2`` degrees of freedom (k cohorts): statsmodels ``WLS(y, [1, x],
weights=w).fit()``. Estimating ``s²`` rather than fixing it at 1 lets day-to-day swings beyond
sampling noise (weekdays, campaigns) widen the interval instead of posing as a trend. The
trend is read in the metric's good direction: a significant slope towards worse is a likely
novelty effect, towards better a likely primacy (learning) effect. The primary metric's trends
(one per variant) are adjusted together with the experiment's ``correction``, as its effects
are: on the sample search test, three arms and no planted trend, one variant's slope had
p = 0.029 alone and 0.058 adjusted. Other metrics' trends are in ``novelty_trend.csv`` with
their own p-values and do not enter the page.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from scipy import stats

from ..labels import p_equals
from .aggregate import CollectedData
from .corrections import adjust_p_values
from .effects import compare_metric
from .maturity import analysis_end_day
from .spec import ExperimentSpec, MetricSpec

__all__ = ["MIN_COHORTS", "NoveltyTrend", "effect_by_exposure_day", "novelty_trends", "trends_frame", "weighted_slope"]

MIN_COHORTS = 3  # a slope with its own noise estimate needs at least one degree of freedom

COHORT_COLUMNS = ["metric", "variant", "day", "days_exposed", "n_control", "n_variant", "scale", "effect",
                  "effect_ci_low", "effect_ci_high", "trend_line", "fitted_value", "fitted_se"]
_COHORT_LEVEL = 0.95  # the cohorts' bars on the chart; the trend's interval uses the experiment's alpha


@dataclass(frozen=True)
class NoveltyTrend:
    """The slope of one metric's cohort effects over days exposed, for one variant."""

    metric: str
    variant: str
    control: str
    direction: str
    scale: str  # "relative": fitted to log(variant / control); "absolute": to the difference
    slope_per_day: float  # on the fitted scale
    slope_se: float
    slope_ci_low: float
    slope_ci_high: float
    slope_p_value: float
    cohorts: int
    alpha: float
    slope_p_value_adjusted: float  # over the primary metric's variants; its own p-value for other metrics
    family_size: int = 1
    correction: str = "none"

    @property
    def verdict(self) -> str:
        """``novelty`` (worse with longer exposure), ``primacy`` (better) or ``none``."""
        if not self.slope_p_value_adjusted < self.alpha:
            return "none"
        better = self.slope_per_day > 0 if self.direction == "increase" else self.slope_per_day < 0
        return "primacy" if better else "novelty"

    def _change(self, slope: float) -> float:
        return math.expm1(slope) if self.scale == "relative" else slope

    @property
    def change_per_day(self) -> float:
        """The slope as the page says it: the relative change of variant/control per day
        (``exp(b) - 1``), or the change of the difference per day."""
        return self._change(self.slope_per_day)

    @property
    def change_ci_low(self) -> float:
        return self._change(self.slope_ci_low)

    @property
    def change_ci_high(self) -> float:
        return self._change(self.slope_ci_high)

    @property
    def _unit(self) -> str:
        return " points" if self.scale == "relative" else ""  # of the lift, in percent

    def _number(self, value: float, signed: bool = True) -> str:
        number = value * 100 if self.scale == "relative" else value
        size = abs(number)
        text = f"{size:.2g}" if size < 1 else f"{size:.1f}" if size < 10 else f"{size:,.0f}"
        return (("+" if number >= 0 else "−") if signed else "") + text

    def message(self, metric_label: str | None = None) -> str:
        """One plain sentence for the page (the metric named ``metric_label``, else its name)."""
        level = f"{1 - self.alpha:.0%}"
        what = "lift" if self.scale == "relative" else "difference"
        size = self._number(self.change_per_day, signed=False) + self._unit
        moves = "grows" if self.slope_per_day > 0 else "shrinks"
        interval = f"{level} CI {self._number(self.change_ci_low)} to {self._number(self.change_ci_high)}{self._unit} per day"
        subject = f"The {what} of {self.variant} on {metric_label or self.metric}"
        if self.verdict == "novelty":
            return (f"{subject} {moves} by about {size} per extra day of exposure ({interval}), against "
                    f"the metric's good direction: units that have had the change longer gain less from it, so a "
                    f"novelty effect is likely and the lasting effect is probably smaller than measured.")
        if self.verdict == "primacy":
            return (f"{subject} {moves} by about {size} per extra day of exposure ({interval}), in the "
                    f"metric's good direction: units that have had the change longer gain more from it, so a primacy "
                    f"(learning) effect is likely and the lasting effect may be larger than measured.")
        adjusted = (f"; {p_equals(self.slope_p_value_adjusted)} after correcting for {self.family_size} variants"
                    if self.family_size > 1 and self.correction != "none" else "")
        return (f"{subject} shows no clear sign of a novelty or primacy effect: across {self.cohorts} daily cohorts it "
                f"changes by {self._number(self.change_per_day)}{self._unit} per extra day of exposure "
                f"({interval}{adjusted}).")

    def to_dict(self) -> dict:
        return {**asdict(self), "change_per_day": self.change_per_day, "change_ci_low": self.change_ci_low,
                "change_ci_high": self.change_ci_high, "verdict": self.verdict}


def weighted_slope(x: np.ndarray, y: np.ndarray, se: np.ndarray, alpha: float = 0.05) -> dict[str, float]:
    """Weighted least-squares slope of ``y`` on ``x`` (weights ``1/se²``), its standard error
    with the residual scale estimated, the ``1 - alpha`` t interval and the two-sided p-value
    (equal to statsmodels ``WLS(y, add_constant(x), weights=1/se**2).fit()``)."""
    x, y, weights = np.asarray(x, float), np.asarray(y, float), 1.0 / np.asarray(se, float) ** 2
    k = len(x)
    if k < MIN_COHORTS:
        raise ValueError(f"weighted_slope: needs at least {MIN_COHORTS} points, got {k}")
    x_bar, y_bar = np.average(x, weights=weights), np.average(y, weights=weights)
    spread = float(np.sum(weights * (x - x_bar) ** 2))
    if not spread > 0:
        raise ValueError("weighted_slope: every point has the same x; a slope needs at least two different days")
    slope = float(np.sum(weights * (x - x_bar) * (y - y_bar)) / spread)
    residual = y - (y_bar + slope * (x - x_bar))
    scale = float(np.sum(weights * residual**2)) / (k - 2)
    se_slope = math.sqrt(scale / spread)
    critical = float(stats.t.ppf(1 - alpha / 2, k - 2))
    p_value = float(2 * stats.t.sf(abs(slope) / se_slope, k - 2)) if se_slope > 0 else (0.0 if slope else 1.0)
    return {"slope": slope, "intercept": float(y_bar - slope * x_bar), "se": se_slope,
            "ci_low": slope - critical * se_slope, "ci_high": slope + critical * se_slope, "p_value": p_value}


def effect_by_exposure_day(collected: CollectedData, spec: ExperimentSpec) -> pd.DataFrame | None:
    """Each metric's effect among the units first exposed on each day, with the days they have
    been exposed by the end day and the fitted trend (:data:`COHORT_COLUMNS`). None without
    exposure days. Cohorts exposed after the end date, or too small to compare, are left out."""
    if collected.daily is None or collected.daily.empty:
        return None
    days = pd.to_datetime(collected.daily["day"])
    end_day = analysis_end_day(spec, days.max().date())
    parts = []
    for metric in spec.metrics:
        if metric.kind == "quantile":
            continue
        cohorts = compare_metric(collected.daily, metric, spec.control, spec.alpha, keys=["day"])
        if cohorts.empty:
            continue
        cohorts["days_exposed"] = (pd.Timestamp(end_day) - pd.to_datetime(cohorts["day"])).dt.days
        cohorts = cohorts[cohorts["days_exposed"] >= 0]
        parts.append(_with_scale(cohorts, metric))
    if not parts:
        return None
    table = pd.concat(parts, ignore_index=True)
    table["trend_line"] = np.nan
    for _, rows in table.groupby(["metric", "variant"], sort=False):
        usable = rows[_usable(rows)]
        if len(usable) >= MIN_COHORTS and usable["days_exposed"].nunique() > 1:
            fit = weighted_slope(usable["days_exposed"], usable["fitted_value"], usable["fitted_se"], spec.alpha)
            line = fit["intercept"] + fit["slope"] * rows["days_exposed"]
            table.loc[rows.index, "trend_line"] = np.expm1(line) if rows["scale"].iloc[0] == "relative" else line
    return table[COHORT_COLUMNS].sort_values(["metric", "variant", "days_exposed"], kind="stable").reset_index(drop=True)


def _with_scale(cohorts: pd.DataFrame, metric: MetricSpec) -> pd.DataFrame:
    """The lift per cohort and its log ratio to fit, or the difference when some cohort has no
    lift (a control average of 0)."""
    relative = bool(cohorts["rel_na_reason"].isna().all() and np.isfinite(cohorts["log_ratio_se"].to_numpy(float)).all())
    z = float(stats.norm.ppf(0.5 + _COHORT_LEVEL / 2))
    out = cohorts[["metric", "variant", "day", "days_exposed", "n_control", "n_variant"]].copy()
    out["scale"] = "relative" if relative else "absolute"
    if relative:
        out["effect"] = cohorts["rel_effect"].to_numpy(float)
        out["fitted_value"], out["fitted_se"] = np.log1p(out["effect"]), cohorts["log_ratio_se"].to_numpy(float)
        out["effect_ci_low"] = np.expm1(out["fitted_value"] - z * out["fitted_se"])
        out["effect_ci_high"] = np.expm1(out["fitted_value"] + z * out["fitted_se"])
    else:
        out["effect"] = out["fitted_value"] = cohorts["abs_effect"].to_numpy(float)
        out["fitted_se"] = cohorts["abs_se"].to_numpy(float)
        out["effect_ci_low"], out["effect_ci_high"] = out["effect"] - z * out["fitted_se"], out["effect"] + z * out["fitted_se"]
    return out


def _usable(rows: pd.DataFrame) -> pd.Series:
    return np.isfinite(rows["fitted_value"]) & np.isfinite(rows["fitted_se"]) & (rows["fitted_se"] > 0)


def novelty_trends(by_day: pd.DataFrame | None, spec: ExperimentSpec) -> list[NoveltyTrend]:
    """The trend of every metric x variant with at least :data:`MIN_COHORTS` usable cohorts."""
    if by_day is None:
        return []
    trends = []
    for (name, variant), rows in by_day.groupby(["metric", "variant"], sort=False):
        usable = rows[_usable(rows)]
        if len(usable) < MIN_COHORTS or usable["days_exposed"].nunique() < 2:
            continue
        fit = weighted_slope(usable["days_exposed"], usable["fitted_value"], usable["fitted_se"], spec.alpha)
        trends.append(NoveltyTrend(
            metric=str(name), variant=str(variant), control=spec.control, direction=spec.metric(str(name)).direction,
            scale=str(usable["scale"].iloc[0]), slope_per_day=fit["slope"], slope_se=fit["se"],
            slope_ci_low=fit["ci_low"], slope_ci_high=fit["ci_high"], slope_p_value=fit["p_value"],
            cohorts=len(usable), alpha=spec.alpha, slope_p_value_adjusted=fit["p_value"]))
    primary = [i for i, trend in enumerate(trends) if trend.metric == spec.primary_metric.name]
    adjusted = adjust_p_values([trends[i].slope_p_value for i in primary], spec.correction) if primary else []
    for i, p_value in zip(primary, adjusted, strict=True):
        trends[i] = replace(trends[i], slope_p_value_adjusted=float(p_value), family_size=len(primary),
                            correction=spec.correction)
    return trends


def trends_frame(trends: list[NoveltyTrend]) -> pd.DataFrame:
    """The trends as a table, one row per metric x variant (``novelty_trend.csv``)."""
    columns = ["metric", "variant", "control", "scale", "change_per_day", "change_ci_low", "change_ci_high",
               "slope_per_day", "slope_se", "slope_ci_low", "slope_ci_high", "slope_p_value", "slope_p_value_adjusted",
               "correction", "cohorts", "verdict"]
    return pd.DataFrame([trend.to_dict() for trend in trends], columns=columns)
