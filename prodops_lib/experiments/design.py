"""Experiment design: the plan a PM signs off before an A/B test starts, read from pre-period data.

The pre-period source has one row per unit and day (``unit``, ``date_column`` and the metrics'
columns) from before the test. Each unit's metric value over a window is what the A/B analysis
would read for it: the sum of its rows for means and for a ratio's numerator and denominator,
the maximum (did it happen at all) for proportions. From it:

* **baseline and variance** per metric over the whole pre-period window (for a ratio, the
  delta-method variance of :class:`.moments.Moments`);
* **variance reduction**, measured honestly out of sample in time: the window is split into
  two halves; the outcome is each unit's value in the second half and the covariates come from
  the first half only (0 for units not seen then). CUPED's reduction is ``ρ²`` between the
  outcome and the metric's own first-half value; regression adjustment's is the in-sample
  ``R²`` of the outcome on every first-half metric column plus a "seen in the first half"
  indicator;
* **traffic**: the distinct units seen by each day of the window (a test of ``D`` days reaches
  the units the first ``D`` days of the window reached), extended past the window at the
  new-unit rate of its last 7 days;
* **sample size** per variant for the ``mde`` from :func:`.power.required_sample_size`, at the
  significance level the A/B analysis will use (split over the corrected family, as its power
  statement does), and the duration at that traffic; guardrails need their non-inferiority
  margin shown one-sided;
* **sequential**: the always-valid boundary of :mod:`.sequential` (mSPRT, ``τ²`` tuned to the
  planned final variance) has no closed-form sample size. :func:`sequential_inflation` measures
  it: the daily-look process, in units of the final standard error, is simulated (20,000 seeded
  paths of Brownian motion with drift, looks equally spaced in information), and the drift that
  crosses the kit's boundary with the target power is found by root finding; the sample grows by
  the square of its ratio to the fixed-horizon drift ``z_{1-α/2} + z_{power}``;
* the inverse, the effect detectable in a number of weeks; and for fake doors the visits needed to
  tell an expected click-through apart from the demand target (:func:`fake_door_visits`).

The ``design:`` block sits in the A/B parameter file, so the analysis is checked against the
plan (:func:`plan_deviations`).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass, field, fields, replace

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import ndtri

from ..io import Column, DropLog, InputError, Schema, load_table
from ..labels import count_of
from .corrections import FAMILYWISE
from .moments import Moments
from .power import minimum_detectable_effect, required_sample_size
from .sequential import confidence_sequence_halfwidth, mixture_variance
from .spec import ExperimentSpec, MetricSpec

__all__ = [
    "DesignSpec",
    "ExperimentDesign",
    "FakeDoorPlan",
    "MetricPlan",
    "Traffic",
    "VarianceReduction",
    "covariate_column",
    "design_experiment",
    "fake_door_visits",
    "plan_deviations",
    "sequential_inflation",
    "unit_values",
    "variance_reduction",
]

SEQUENTIAL_PATHS = 20_000
SEQUENTIAL_SEED = 20_261_207
TAIL_DAYS = 7  # the window's last days, whose new-unit rate extends traffic past the window


@dataclass(frozen=True)
class DesignSpec:
    """The ``design:`` block of an A/B parameter file: what the test is planned for.

    ``pre_source`` holds one row per unit and day before the test (columns: the experiment's
    ``unit``, ``date_column`` and each metric's columns); ``pre_start``/``pre_end`` restrict it
    to a window (default: all its days). ``mde`` is the relative minimum detectable effect of
    the primary metric (0.05 = 5%; default: the experiment's ``mde``), ``weeks`` the planned duration (also the horizon of the
    detectable-effect answer), ``primary_metric`` the metric the plan was signed for (default:
    the experiment's primary metric), ``variants`` the number of arms counting the control
    (default: the experiment's ``expected_split``, else 2). ``fake_door_target`` and
    ``fake_door_expected`` (click-through rates) ask for the visits a fake door needs, with
    ``fake_door_daily_visits`` for its duration. ``covariates`` maps a metric's CUPED covariate
    (as the A/B analysis names it, e.g. ``pre_searches``) to the pre-period column it is counted
    from (``searches``); a covariate named like a pre-period column needs no entry.
    """

    pre_source: str
    mde: float | None = None
    weeks: int | None = None
    pre_start: dt.date | None = None
    pre_end: dt.date | None = None
    date_column: str = "date"
    primary_metric: str | None = None
    variants: int | None = None
    fake_door_target: float | None = None
    fake_door_expected: float | None = None
    fake_door_daily_visits: float | None = None
    covariates: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mde is not None and (not isinstance(self.mde, int | float) or not 0 < self.mde < 10):
            raise ValueError(f"design: mde is a positive relative effect (0.05 = 5%), got {self.mde!r}")
        if self.weeks is not None and (isinstance(self.weeks, bool) or not isinstance(self.weeks, int)
                                       or self.weeks < 1):
            raise ValueError(f"design: weeks is the planned duration in whole weeks (at least 1), got {self.weeks!r}")
        if self.pre_start and self.pre_end and self.pre_end < self.pre_start:
            raise ValueError(f"design: pre_end {self.pre_end} is before pre_start {self.pre_start}")
        if self.variants is not None and (not isinstance(self.variants, int) or self.variants < 2):
            raise ValueError(f"design: variants counts the control too and must be at least 2, got {self.variants!r}")
        for name in ("fake_door_target", "fake_door_expected"):
            value = getattr(self, name)
            if value is not None and not 0 < value < 1:
                raise ValueError(f"design: {name} is a click-through rate between 0 and 1 (0.03 = 3%), got {value!r}")
        if (self.fake_door_target is None) != (self.fake_door_expected is None):
            raise ValueError("design: fake_door_target and fake_door_expected go together; set both or neither")
        if self.fake_door_daily_visits is not None and not self.fake_door_daily_visits > 0:
            raise ValueError(f"design: fake_door_daily_visits must be positive, got {self.fake_door_daily_visits!r}")


# --------------------------------------------------------------------------- pre-period data


def _metric_columns(spec: ExperimentSpec) -> list[str]:
    names = []
    for metric in _plannable(spec):
        names += [metric.value_column] + ([str(metric.denominator)] if metric.kind == "ratio" else [])
    return list(dict.fromkeys(names))


def _plannable(spec: ExperimentSpec) -> list[MetricSpec]:
    # a quantile's power has no closed form here; the report says it is left out
    return [metric for metric in spec.metrics if metric.kind != "quantile"]


def read_pre_period(design: DesignSpec, spec: ExperimentSpec, log: DropLog | None = None) -> pd.DataFrame:
    """The pre-period rows inside the window, with a ``day`` column (dates)."""
    if not spec.unit:
        raise InputError(f"experiment {spec.name!r}: the design reads one row per unit and day, which needs "
                         "experiment.unit (the unit id column)")
    covariates = {metric.covariate for metric in spec.metrics if metric.covariate}
    unknown = sorted(set(design.covariates) - covariates)
    if unknown:
        raise InputError(f"design.covariates: {unknown[0]!r} is not the covariate of any metric "
                         f"({', '.join(sorted(covariates)) or 'no metric names one'}); map a metric's covariate name "
                         "to its pre-period column")
    measured = _metric_columns(spec)
    named = [name for name in dict.fromkeys(covariate_column(metric, design) for metric in _plannable(spec))
             if name and name not in measured]
    schema = Schema(Column(spec.unit, nullable=False), Column(design.date_column, "datetime", nullable=False),
                    *(Column(name, "float", nullable=False) for name in measured),
                    # a covariate the design maps must be there; one it does not map is read when present
                    *(Column(name, "float", required=name in design.covariates.values()) for name in named))
    rows = load_table(design.pre_source, schema, log=log, label=design.pre_source,
                      settings={design.date_column: "design.date_column",
                                **{column: f"design.covariates.{name}" for name, column in design.covariates.items()}})
    day = rows[design.date_column].dt.normalize()
    start = pd.Timestamp(design.pre_start) if design.pre_start else day.min()
    end = pd.Timestamp(design.pre_end) if design.pre_end else day.max()
    inside = (day >= start) & (day <= end)
    if log is not None and (~inside).any():
        log.drop(design.pre_source, f"outside the pre-period {start.date()} to {end.date()}", int((~inside).sum()))
    rows = rows.loc[inside].assign(day=day[inside])
    if rows["day"].nunique() < 2:
        raise InputError(f"{design.pre_source}: the pre-period {start.date()} to {end.date()} has fewer than 2 days "
                         "of rows; widen design.pre_start/pre_end or check design.date_column")
    return rows


def covariate_column(metric: MetricSpec, design: DesignSpec) -> str | None:
    """The pre-period column a metric's CUPED covariate is counted from, if it names one."""
    return design.covariates.get(metric.covariate, metric.covariate) if metric.covariate else None


def unit_values(rows: pd.DataFrame, spec: ExperimentSpec) -> pd.DataFrame:
    """Each unit's metric columns over ``rows``: sums, and the maximum for proportions."""
    how = {}
    for metric in _plannable(spec):
        how[metric.value_column] = "max" if metric.kind == "proportion" else "sum"
        if metric.kind == "ratio":
            how[str(metric.denominator)] = "sum"
    return rows.groupby(spec.unit, sort=True).agg(how)


def _moments(values: pd.DataFrame, metric: MetricSpec, covariate: np.ndarray | None = None) -> Moments:
    d = values[str(metric.denominator)].to_numpy(float) if metric.kind == "ratio" else None
    return Moments.of_units(values[metric.value_column].to_numpy(float), d, covariate)


# --------------------------------------------------------------------------- variance reduction


@dataclass(frozen=True)
class VarianceReduction:
    """The share of a metric's variance a pre-period adjustment removes, measured on the
    pre-period (outcome from its second half, covariates from its first)."""

    metric: str
    cuped: float
    regression: float
    units: int
    cuped_covariate: str = ""  # the pre-period column CUPED used; empty: the metric's own earlier value

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])


def variance_reduction(rows: pd.DataFrame, spec: ExperimentSpec, metric: MetricSpec,
                       covariate_column: str | None = None) -> VarianceReduction:
    """CUPED's ``ρ²`` with ``covariate_column`` summed over the first half as covariate (the
    column the analysis's covariate is counted from; without one, the metric's own first-half
    value) and regression adjustment's ``R²`` (every first-half metric column and a seen-before
    indicator)."""
    days = np.sort(rows["day"].unique())
    middle = days[len(days) // 2]
    first = unit_values(rows[rows["day"] < middle], spec)
    second = unit_values(rows[rows["day"] >= middle], spec)
    before = first.reindex(second.index)
    seen = before.notna().all(axis=1).to_numpy(float)
    before = before.fillna(0.0)
    if covariate_column:
        earlier = rows[rows["day"] < middle].groupby(spec.unit)[covariate_column].sum()
        covariate = earlier.reindex(second.index).fillna(0.0).to_numpy(float)
    else:
        covariate = before[metric.value_column].to_numpy(float)
    outcome = _moments(second, metric, covariate)
    with np.errstate(invalid="ignore", divide="ignore"):
        cuped = float(outcome.cov_linearized_x**2 / (outcome.var_linearized * outcome.var_x))
    # the unit's contribution L = (y - R d) / d̄ of the delta method, regressed on the first half
    d = second[str(metric.denominator)].to_numpy(float) if metric.kind == "ratio" else np.ones(len(second))
    contribution = (second[metric.value_column].to_numpy(float) - float(outcome.ratio) * d) / float(outcome.mean_d)
    design = np.column_stack([np.ones(len(second)), seen, before.to_numpy(float)])
    fitted = design @ np.linalg.lstsq(design, contribution, rcond=None)[0]
    centred = contribution - contribution.mean()
    total = float(centred @ centred)
    regression = 1.0 - float((contribution - fitted) @ (contribution - fitted)) / total if total > 0 else 0.0
    return VarianceReduction(metric=metric.name, cuped=0.0 if math.isnan(cuped) else cuped,
                             regression=max(regression, 0.0), units=len(second), cuped_covariate=covariate_column or "")


# --------------------------------------------------------------------------- traffic


@dataclass(frozen=True)
class Traffic:
    """Distinct units seen by each day of the pre-period (``reached[k]``: by day ``k + 1``)."""

    reached: tuple[int, ...]
    tail_rate: float

    @property
    def days(self) -> int:
        return len(self.reached)

    @property
    def per_day(self) -> float:
        """The window's average of distinct units per day."""
        return self.reached[-1] / self.days

    def days_for(self, units: float) -> int:
        """Days a test needs to reach ``units`` distinct units (all variants together)."""
        reached = np.asarray(self.reached)
        if units <= reached[-1]:
            return int(np.searchsorted(reached, units) + 1)
        if not self.tail_rate > 0:
            return -1
        return self.days + math.ceil((units - reached[-1]) / self.tail_rate)

    def units_in(self, days: int) -> float:
        """Distinct units a test of ``days`` days reaches."""
        if days <= self.days:
            return float(self.reached[days - 1])
        return self.reached[-1] + (days - self.days) * self.tail_rate

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"day": np.arange(1, self.days + 1), "units_reached": self.reached})


def traffic(rows: pd.DataFrame, unit: str) -> Traffic:
    first_day = rows.groupby(unit)["day"].min()
    days = pd.date_range(rows["day"].min(), rows["day"].max(), freq="D")
    new = first_day.value_counts().reindex(days, fill_value=0).to_numpy()
    return Traffic(reached=tuple(int(v) for v in np.cumsum(new)), tail_rate=float(new[-TAIL_DAYS:].mean()))


# --------------------------------------------------------------------------- sequential


@functools.lru_cache(maxsize=64)
def sequential_inflation(alpha: float, power: float, looks: int, paths: int = SEQUENTIAL_PATHS,
                         seed: int = SEQUENTIAL_SEED) -> float:
    """How many times the fixed-horizon sample the kit's always-valid boundary needs to reach
    ``power`` when the result is looked at ``looks`` times (equally spaced in information);
    a seeded Monte Carlo (``paths`` paths, about ±0.3 points of power)."""
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"sequential_inflation: alpha and power must be between 0 and 1, got {alpha!r}, {power!r}")
    if looks < 1:
        raise ValueError(f"sequential_inflation: looks must be at least 1, got {looks!r}")
    rng = np.random.default_rng(seed)
    fraction = np.arange(1, looks + 1) / looks
    brownian = np.cumsum(rng.standard_normal((paths, looks)) * np.sqrt(np.diff(fraction, prepend=0.0)), axis=1)
    noise = brownian / fraction  # estimate minus the effect, in final standard errors
    variance = 1.0 / fraction
    bound = confidence_sequence_halfwidth(variance, mixture_variance(1.0, alpha), alpha)

    def power_at(drift: float) -> float:
        # a path rejects when |estimate| reaches the boundary at any look
        return float(np.mean((np.abs(drift + noise) >= bound).any(axis=1))) - power

    fixed = ndtri(1 - alpha / 2) + ndtri(power)
    drift = optimize.brentq(power_at, 0.5 * fixed, 4.0 * fixed, xtol=1e-6)
    return float((drift / fixed) ** 2)


# --------------------------------------------------------------------------- the plan


@dataclass(frozen=True)
class MetricPlan:
    """One metric's part of the plan: its baseline, the adjustment measured, and the sample
    and days for its planned effect (the primary's ``mde``; a guardrail's margin)."""

    metric: str
    label: str
    role: str
    kind: str
    baseline: float
    sd: float
    cuped_reduction: float
    regression_reduction: float
    reduction_used: float
    planned_effect: float
    alternative: str
    n_per_variant: int
    n_per_variant_unadjusted: int
    days: int
    n_per_variant_sequential: int
    days_sequential: int
    mde_in_weeks: float | None
    cuped_covariate: str = ""  # the pre-period column CUPED was measured with; empty: the metric's own value


@dataclass(frozen=True)
class FakeDoorPlan:
    """Visits a fake door needs so that its click-through interval leaves the target."""

    target: float
    expected: float
    alpha: float
    power: float
    visits: int
    daily_visits: float | None
    days: int | None

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])

    def message(self) -> str:
        side = "above" if self.expected > self.target else "below"
        text = (f"To show a click-through of {self.expected:.1%} is {side} the {self.target:.1%} target "
                f"{self.power:.0%} of the time, the fake door needs {self.visits:,} visits")
        return text + (f", about {count_of(self.days, 'day')} at {self.daily_visits:,.0f} visits a day."
                       if self.days else ".")


def fake_door_visits(target: float, expected: float, alpha: float = 0.05, power: float = 0.8,
                     daily_visits: float | None = None) -> FakeDoorPlan:
    """Visits for the one-sample score test of ``expected`` against ``target`` on one side at
    ``α/2``, the side the fake-door verdict uses (its Wilson interval at ``1 - α`` inverts the
    score test): ``n = ((z_{1-α/2}√(p₀q₀) + z_{power}√(p₁q₁)) / (p₁ - p₀))²``."""
    for name, value in (("target", target), ("expected", expected)):
        if not 0 < value < 1:
            raise ValueError(f"fake_door_visits: {name} is a click-through rate between 0 and 1, got {value!r}")
    if target == expected:
        raise ValueError("fake_door_visits: the expected click-through equals the target; no sample can tell them apart")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"fake_door_visits: alpha and power must be between 0 and 1, got {alpha!r}, {power!r}")
    spread = ndtri(1 - alpha / 2) * math.sqrt(target * (1 - target)) + ndtri(power) * math.sqrt(expected * (1 - expected))
    visits = math.ceil((spread / (expected - target)) ** 2)
    days = math.ceil(visits / daily_visits) if daily_visits else None
    return FakeDoorPlan(target=float(target), expected=float(expected), alpha=float(alpha), power=float(power),
                        visits=visits, daily_visits=float(daily_visits) if daily_visits else None, days=days)


@dataclass(frozen=True)
class ExperimentDesign:
    """The whole plan: per-metric rows (:meth:`to_frame`), the traffic, the detectable-effect
    curve and, when asked for, the fake door's visits."""

    experiment: str
    hypothesis: str
    primary_metric: str
    guardrails: tuple[str, ...]
    mde: float
    alpha: float
    alpha_per_comparison: float
    power: float
    variants: int
    pre_start: dt.date
    pre_end: dt.date
    weeks: int | None
    traffic: Traffic
    sequential_factor: float
    metrics: tuple[MetricPlan, ...]
    fake_door: FakeDoorPlan | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per metric."""
        return pd.DataFrame([{item.name: getattr(plan, item.name) for item in fields(MetricPlan)}
                             for plan in self.metrics])

    @property
    def primary(self) -> MetricPlan:
        return next(plan for plan in self.metrics if plan.metric == self.primary_metric)

    def message(self) -> str:
        plan = self.primary
        baseline = f"{plan.baseline:.1%}" if plan.kind == "proportion" else f"{plan.baseline:.4g}"
        text = (f"To detect a {self.mde:.0%} change in {plan.label} (from {baseline}) with {self.power:.0%} "
                f"power, each of the {self.variants} variants needs {plan.n_per_variant:,} units: "
                f"{_duration(plan.days)} at the pre-period's traffic")
        if plan.reduction_used > 0:
            text += (f" (the pre-period adjustment removes {plan.reduction_used:.1%} of the variance; without it, "
                     f"{plan.n_per_variant_unadjusted:,})")
        text += (f". To look at the result every day (with the stricter threshold that makes early looks safe), it needs "
                 f"{plan.n_per_variant_sequential:,} per "
                 f"variant: {_duration(plan.days_sequential)}.")
        if self.weeks and plan.mde_in_weeks is not None:
            text += f" In the planned {count_of(self.weeks, 'week')} it detects {plan.mde_in_weeks:.1%}."
        return text

    def detectable_effect(self, weeks: float, metric: str | None = None) -> float:
        """The relative effect detected with the plan's power in ``weeks`` (fixed horizon)."""
        plan = next(p for p in self.metrics if p.metric == (metric or self.primary_metric))
        return _detectable(plan, self.traffic.units_in(round(weeks * 7)) / self.variants, self.alpha_per_comparison,
                           self.power)

    def detectable_curve(self, weeks: range | list[int] = range(1, 9)) -> pd.DataFrame:
        """The primary metric's detectable effect by test length, fixed-horizon and sequential."""
        plan = self.primary
        rows = []
        for week in weeks:
            n = self.traffic.units_in(7 * week) / self.variants
            fixed = _detectable(plan, n, self.alpha_per_comparison, self.power)
            rows.append({"weeks": week, "units_per_variant": n, "mde": fixed,
                         "mde_sequential": fixed * math.sqrt(self.sequential_factor)})
        return pd.DataFrame(rows)


def _duration(days: int) -> str:
    if days < 0:
        return "longer than the pre-period's traffic can say (no new units in its last week)"
    return f"about {count_of(days, 'day')} ({days / 7:.1f} weeks)"


def _detectable(plan: MetricPlan, n_per_variant: float, alpha: float, power: float) -> float:
    if n_per_variant <= 1:
        return float("nan")
    return minimum_detectable_effect(n_per_variant, plan.sd, alpha, power, plan.reduction_used,
                                     plan.alternative) / abs(plan.baseline)


def _alpha_per_comparison(spec: ExperimentSpec, variants: int) -> float:
    # as the analysis's power statement: Bonferroni's bound over the corrected family
    family = sum(metric.role != "guardrail" for metric in spec.metrics) * (variants - 1)
    return spec.alpha / family if spec.correction in FAMILYWISE and family > 1 else spec.alpha


def design_experiment(spec: ExperimentSpec, design: DesignSpec, log: DropLog | None = None,
                      rows: pd.DataFrame | None = None) -> ExperimentDesign:
    """The plan from the pre-period (``rows`` as :func:`read_pre_period` returns them, else read)."""
    primary = spec.primary_metric
    if primary.kind == "quantile":
        raise ValueError(f"experiment {spec.name!r}: the primary metric {primary.name!r} is a quantile, whose sample "
                         "size the design cannot compute; plan on a mean, proportion or ratio metric")
    mde = design.mde or spec.mde
    if mde is None:
        raise ValueError(f"experiment {spec.name!r}: the design needs the effect to detect; set design.mde or "
                         "experiment.mde (relative, 0.05 = 5%)")
    design = replace(design, mde=mde)
    rows = read_pre_period(design, spec, log) if rows is None else rows
    variants = design.variants or (len(spec.expected_split) if spec.expected_split else 2)
    alpha = _alpha_per_comparison(spec, variants)
    reach = traffic(rows, str(spec.unit))
    values = unit_values(rows, spec)
    planned_days = 7 * design.weeks if design.weeks else None
    fixed = [_metric_plan(rows, values, spec, metric, design, alpha, variants, reach, planned_days)
             for metric in _plannable(spec)]
    # looked at daily: over the planned weeks, else over the primary metric's fixed-horizon days
    looks = planned_days or next(plan.days for plan in fixed if plan.metric == primary.name)
    factor = sequential_inflation(alpha, spec.power, min(max(looks, 1), 120))
    metrics = tuple(_with_sequential(plan, factor, variants, reach) for plan in fixed)
    start, end = rows["day"].min().date(), rows["day"].max().date()
    fake_door = (fake_door_visits(design.fake_door_target, design.fake_door_expected, spec.alpha, spec.power,
                                  design.fake_door_daily_visits) if design.fake_door_target is not None else None)
    return ExperimentDesign(
        experiment=spec.name, hypothesis=spec.hypothesis, primary_metric=primary.name,
        guardrails=tuple(m.name for m in spec.metrics if m.role == "guardrail"), mde=float(design.mde),
        alpha=float(spec.alpha), alpha_per_comparison=float(alpha), power=float(spec.power), variants=variants,
        pre_start=start, pre_end=end, weeks=design.weeks, traffic=reach, sequential_factor=factor, metrics=metrics,
        fake_door=fake_door,
    )


def _metric_plan(rows, values, spec, metric, design, alpha, variants, reach, planned_days) -> MetricPlan:
    moments = _moments(values, metric)
    baseline, sd = float(moments.ratio), float(np.sqrt(moments.var_linearized))
    if not sd > 0 or baseline == 0:
        raise InputError(f"{design.pre_source}: metric {metric.name!r} is constant ({baseline:g}) over the pre-period, "
                         "so no sample size can be computed; check its column or the window")
    column = covariate_column(metric, design)
    measured = variance_reduction(rows, spec, metric, column if column in rows.columns else None)
    used = measured.cuped if metric.covariate else (measured.regression if metric.regression_covariates else 0.0)
    used = min(used, 0.99)
    if metric.role == "guardrail" and metric.non_inferiority_margin:
        effect, alternative = metric.non_inferiority_margin, "greater"
    else:
        effect, alternative = design.mde, metric.alternative
    absolute = effect * abs(baseline)
    n = math.ceil(required_sample_size(absolute, sd, alpha, spec.power, used, alternative))
    unadjusted = math.ceil(required_sample_size(absolute, sd, alpha, spec.power, 0.0, alternative))
    days = reach.days_for(n * variants)
    plan = MetricPlan(
        metric=metric.name, label=metric.display_name, role=metric.role, kind=metric.kind, baseline=baseline, sd=sd,
        cuped_reduction=measured.cuped, regression_reduction=measured.regression, reduction_used=used,
        planned_effect=float(effect), alternative=alternative, n_per_variant=n, n_per_variant_unadjusted=unadjusted,
        days=days, n_per_variant_sequential=n, days_sequential=days, mde_in_weeks=None,
        cuped_covariate=measured.cuped_covariate,
    )
    mde_in_weeks = _detectable(plan, reach.units_in(planned_days) / variants, alpha, spec.power) if planned_days else None
    return replace(plan, mde_in_weeks=mde_in_weeks)


def _with_sequential(plan: MetricPlan, factor: float, variants: int, reach: Traffic) -> MetricPlan:
    n = math.ceil(plan.n_per_variant * factor)
    return replace(plan, n_per_variant_sequential=n, days_sequential=reach.days_for(n * variants))


# --------------------------------------------------------------------------- the analysis against the plan


def plan_deviations(design: DesignSpec, spec: ExperimentSpec, days_observed: int | None, verdict: str) -> list[str]:
    """Short caveats when the analysed test departs from its plan: decided before the planned
    weeks were up (a result read early is more often a false alarm), or a primary metric that
    is not the one the plan was signed for."""
    found = []
    planned = design.primary_metric
    if planned and planned != spec.primary_metric.name:
        found.append(f"the primary metric is {spec.primary_metric.display_name}, but the plan was signed for "
                     f"{planned.replace('_', ' ')}")
    if design.weeks and days_observed is not None and days_observed < 7 * design.weeks and verdict != "keep running":
        found.append(f"decided after {count_of(days_observed, 'day')} of the {7 * design.weeks} planned")
    return found
