"""Power and sample size for a two-arm comparison, usable before the experiment starts.

For a difference ``δ`` between two arms of ``n`` units each, with unit standard deviation
``σ`` (``sqrt(p(1-p))`` for a baseline conversion rate ``p``) and CUPED removing a share ``r``
of the variance, the estimate has standard error ``se = σ·sqrt(2(1-r)/n)`` and the two-sided
z-test at level ``α`` has power

    power(δ, n) = Φ(|δ|/se - z_{1-α/2}) + Φ(-|δ|/se - z_{1-α/2})

(the normal-approximation formula of statsmodels' ``NormalIndPower``; Chow, Shao & Wang,
*Sample Size Calculations in Clinical Research*, §3.2). A one-sided test (``alternative``
``greater`` or ``less``, the effect on its tested side) has power ``Φ(|δ|/se - z_{1-α})``.

``distribution="t"`` gives the exact power of Student's t-test instead: with ``ν = 2n - 2``
degrees of freedom and noncentrality ``λ = |δ|/se``, ``power = P(T'_{ν,λ} > t_{1-α/2,ν}) +
P(T'_{ν,λ} < -t_{1-α/2,ν})`` (one-sided: the first term with ``t_{1-α,ν}``) for ``T'`` noncentral
t (statsmodels' ``TTestIndPower``); it matters below a few dozen units per arm.

The required ``n`` for a minimum detectable effect (MDE) and the MDE reachable with a given
``n`` solve ``power = target``. With several variants, ``comparisons`` splits ``α``
Bonferroni-style.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

# Φ and Φ⁻¹: scipy.stats.norm's cdf and ppf without its argument handling, about 70x faster
# per call, which adds up inside the root finders below
from scipy.special import ndtr, ndtri

from prodops_lib.labels import count_of

ALTERNATIVES = ("two-sided", "greater", "less")
DISTRIBUTIONS = ("normal", "t")

__all__ = [
    "PowerPlan",
    "SamplePower",
    "minimum_detectable_effect",
    "plan_experiment",
    "power_curve",
    "required_sample_size",
    "sample_power",
    "statistical_power",
]


def _standard_error(sd: float, n_per_variant: np.ndarray | float, variance_reduction: float) -> np.ndarray:
    return sd * np.sqrt(2.0 * (1.0 - variance_reduction) / np.asarray(n_per_variant, dtype=float))


def statistical_power(
    effect: np.ndarray | float, sd: float, n_per_variant: np.ndarray | float,
    alpha: float = 0.05, variance_reduction: float = 0.0, alternative: str = "two-sided",
    distribution: str = "normal",
) -> np.ndarray:
    """Power of the test (two-sided, or one-sided with the effect on its side) to detect an
    absolute ``effect`` with ``n_per_variant`` per arm; ``distribution`` is ``normal`` or ``t``."""
    level = 1 - alpha / 2 if alternative == "two-sided" else 1 - alpha
    shift = np.abs(np.asarray(effect, dtype=float)) / _standard_error(sd, n_per_variant, variance_reduction)
    if distribution == "t":
        dof = 2.0 * np.asarray(n_per_variant, dtype=float) - 2.0
        crit = stats.t.ppf(level, dof)
        power = stats.nct.sf(crit, dof, shift)
        if alternative != "two-sided":
            return power
        # the far tail: scipy's nct.cdf returns NaN where it underflows (below 1e-40 at λ = 10, ν = 18)
        return power + np.nan_to_num(stats.nct.cdf(-crit, dof, shift), nan=0.0)
    z = ndtri(level)
    return ndtr(shift - z) + ndtr(-shift - z) if alternative == "two-sided" else ndtr(shift - z)


def _check_test(alternative: str, distribution: str) -> None:
    if alternative not in ALTERNATIVES:
        raise ValueError(f"power: alternative {alternative!r} is not one of {', '.join(map(repr, ALTERNATIVES))}")
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"power: distribution {distribution!r} is not one of {', '.join(map(repr, DISTRIBUTIONS))}")


def _check(sd: float, alpha: float, power: float, variance_reduction: float) -> None:
    if not sd > 0:
        raise ValueError(f"power: the standard deviation must be positive, got {sd!r}")
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"power: alpha and power must be between 0 and 1, got alpha={alpha!r}, power={power!r}")
    if not 0 <= variance_reduction < 1:
        raise ValueError(f"power: variance_reduction must be in [0, 1), got {variance_reduction!r}")


def required_sample_size(
    effect: float, sd: float, alpha: float = 0.05, power: float = 0.8, variance_reduction: float = 0.0,
    alternative: str = "two-sided", distribution: str = "normal",
) -> float:
    """Units per variant (not rounded) to detect an absolute ``effect`` with ``power``."""
    _check(sd, alpha, power, variance_reduction)
    _check_test(alternative, distribution)
    if effect == 0:
        raise ValueError("required_sample_size: the effect (MDE) must be non-zero")
    z_sum = ndtri(1 - alpha / 2 if alternative == "two-sided" else 1 - alpha) + ndtri(power)
    start = 2 * (1 - variance_reduction) * (z_sum * sd / effect) ** 2  # one-tail approximation
    # Student's t needs more than one unit per arm (2n - 2 degrees of freedom)
    low = max(start * 0.5, 1.5) if distribution == "t" else start * 0.5
    return float(optimize.brentq(
        lambda n: statistical_power(effect, sd, n, alpha, variance_reduction, alternative, distribution) - power,
        low, start * 2 + 10, xtol=1e-10,
    ))


def minimum_detectable_effect(
    n_per_variant: float, sd: float, alpha: float = 0.05, power: float = 0.8, variance_reduction: float = 0.0,
    alternative: str = "two-sided", distribution: str = "normal",
) -> float:
    """The smallest absolute effect detected with ``power`` given ``n_per_variant`` units per arm."""
    _check(sd, alpha, power, variance_reduction)
    _check_test(alternative, distribution)
    if not n_per_variant > 1:
        raise ValueError(f"minimum_detectable_effect: n_per_variant must exceed 1, got {n_per_variant!r}")
    se = float(_standard_error(sd, n_per_variant, variance_reduction))
    start = (ndtri(1 - alpha / 2 if alternative == "two-sided" else 1 - alpha) + ndtri(power)) * se
    # t quantiles exceed z quantiles: up to ~4x the normal MDE at 2 units per arm
    high = start * (8 if distribution == "t" else 2)
    return float(optimize.brentq(
        lambda effect: statistical_power(effect, sd, n_per_variant, alpha, variance_reduction, alternative,
                                         distribution) - power,
        start * 0.5, high, xtol=1e-12 * max(1.0, start),
    ))


def power_curve(
    baseline_mean: float, sd: float, n_per_variant: float, alpha: float = 0.05,
    variance_reduction: float = 0.0, relative_effects: np.ndarray | None = None,
    alternative: str = "two-sided", distribution: str = "normal",
) -> pd.DataFrame:
    """Power against the relative effect at a fixed sample (columns rel_effect, abs_effect, power)."""
    if relative_effects is None:
        mde = minimum_detectable_effect(n_per_variant, sd, alpha, 0.8, variance_reduction, alternative,
                                        distribution) / abs(baseline_mean)
        relative_effects = np.linspace(0, 2.5 * mde, 51)
    relative_effects = np.asarray(relative_effects, dtype=float)
    absolute = relative_effects * abs(baseline_mean)
    return pd.DataFrame({
        "rel_effect": relative_effects, "abs_effect": absolute,
        "power": statistical_power(absolute, sd, n_per_variant, alpha, variance_reduction, alternative, distribution),
    })


@dataclass(frozen=True)
class PowerPlan:
    """A sample-size plan: units per variant for the MDE, and how long that takes."""

    baseline_mean: float
    sd: float
    mde: float
    mde_abs: float
    alpha: float
    power: float
    variance_reduction: float
    variants: int
    n_per_variant: int
    total_units: int
    daily_units: float | None
    days: int | None
    alternative: str = "two-sided"
    distribution: str = "normal"

    def curve(self, n_per_variant: float | None = None) -> pd.DataFrame:
        """Power against the relative effect at ``n_per_variant`` (default: the planned sample)."""
        return power_curve(self.baseline_mean, self.sd, n_per_variant or self.n_per_variant, self.alpha,
                           self.variance_reduction, alternative=self.alternative, distribution=self.distribution)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])

    def message(self) -> str:
        text = (f"To detect a {self.mde:.1%} relative change (from {self.baseline_mean:.4g}) with "
                f"{self.power:.0%} power at alpha {self.alpha:g}, each of the {self.variants} variants needs "
                f"{self.n_per_variant:,} units ({self.total_units:,} in total)")
        return text + (f", about {self.days} days at {self.daily_units:,.0f} units a day." if self.days else ".")


def plan_experiment(
    baseline_mean: float,
    mde: float,
    *,
    baseline_sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    variance_reduction: float = 0.0,
    variants: int = 2,
    daily_units: float | None = None,
    alternative: str = "two-sided",
    distribution: str = "normal",
) -> PowerPlan:
    """Plan an experiment from a baseline alone.

    ``mde`` is relative (0.02 = 2%). Without ``baseline_sd`` the metric is taken as a
    conversion rate with ``sd = sqrt(p(1-p))``. ``variance_reduction`` is the CUPED share
    ``ρ²`` expected from a covariate; with ``variants > 2`` each comparison with the control gets
    ``alpha / (variants - 1)``. ``daily_units`` (all variants together) gives the duration.
    ``alternative`` and ``distribution`` (``normal`` or ``t``) as in :func:`statistical_power`.
    """
    if baseline_sd is None:
        if not 0 < baseline_mean < 1:
            raise ValueError(f"plan_experiment: without baseline_sd the baseline is a rate in (0, 1), got {baseline_mean!r}")
        baseline_sd = math.sqrt(baseline_mean * (1 - baseline_mean))
    if not mde > 0:
        raise ValueError(f"plan_experiment: mde is a positive relative effect (0.02 = 2%), got {mde!r}")
    if baseline_mean == 0:
        raise ValueError("plan_experiment: baseline_mean is 0, so a relative MDE is undefined")
    if variants < 2:
        raise ValueError(f"plan_experiment: variants counts the control too and must be at least 2, got {variants}")
    mde_abs = mde * abs(baseline_mean)
    per_comparison_alpha = alpha / (variants - 1)
    n = math.ceil(required_sample_size(mde_abs, baseline_sd, per_comparison_alpha, power, variance_reduction,
                                       alternative, distribution))
    days = math.ceil(n * variants / daily_units) if daily_units else None
    return PowerPlan(
        baseline_mean=float(baseline_mean), sd=float(baseline_sd), mde=float(mde), mde_abs=float(mde_abs),
        alpha=float(per_comparison_alpha), power=float(power), variance_reduction=float(variance_reduction),
        variants=int(variants), n_per_variant=n, total_units=n * variants,
        daily_units=float(daily_units) if daily_units else None, days=days, alternative=alternative,
        distribution=distribution,
    )


@dataclass(frozen=True)
class SamplePower:
    """Power of a running experiment's primary metric: what it can detect now, and how long
    until it reaches the sample its planned ``target_mde`` needs."""

    metric: str
    baseline_mean: float
    sd: float
    variance_reduction: float
    alpha: float
    power: float
    n_per_variant: int
    mde_now: float
    mde_now_abs: float
    target_mde: float | None
    required_n: int | None
    days_observed: int | None
    more_days: int | None
    alternative: str = "two-sided"

    def curve(self) -> pd.DataFrame:
        """Power against the relative effect at the current sample."""
        return power_curve(self.baseline_mean, self.sd, self.n_per_variant, self.alpha, self.variance_reduction,
                           alternative=self.alternative)

    def message(self) -> str:
        # the significance level per comparison is in the report's Method section
        adjusted = ", with the pre-experiment adjustment" if self.variance_reduction > 0 else ""
        text = (f"With {self.n_per_variant:,} units per variant, the smallest change in {self.metric} this sample "
                f"detects {self.power:.0%} of the time was {self.mde_now:.1%}{adjusted}.")
        if self.required_n is not None:
            text += f" The planned {self.target_mde:.1%} needs {self.required_n:,} units per variant"
            if self.required_n <= self.n_per_variant:
                text += ", which this sample has."
            elif self.more_days is not None:
                text += f": about {count_of(self.more_days, 'more day')} at the current traffic."
            else:
                text += "."
        return text

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def sample_power(
    metric: str,
    baseline_mean: float,
    sd: float,
    n_per_variant: int,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    variance_reduction: float = 0.0,
    target_mde: float | None = None,
    days_observed: int | None = None,
    alternative: str = "two-sided",
) -> SamplePower:
    """The MDE reachable with ``n_per_variant`` and, for a relative ``target_mde``, the units per
    variant it needs and the days left at the observed traffic (``n_per_variant / days_observed``
    units per variant per day); for the test's ``alternative`` (one-sided: ``z_{1-α}``)."""
    variance_reduction = min(max(variance_reduction, 0.0), 0.99)
    mde_abs = minimum_detectable_effect(n_per_variant, sd, alpha, power, variance_reduction, alternative)
    scale = abs(baseline_mean)
    required = more_days = None
    if target_mde is not None and scale > 0:
        required = math.ceil(required_sample_size(target_mde * scale, sd, alpha, power, variance_reduction,
                                                  alternative))
        if required <= n_per_variant:
            more_days = 0
        elif days_observed:
            more_days = math.ceil((required - n_per_variant) / (n_per_variant / days_observed))
    return SamplePower(
        metric=metric, baseline_mean=float(baseline_mean), sd=float(sd), variance_reduction=float(variance_reduction),
        alpha=float(alpha), power=float(power), n_per_variant=int(n_per_variant),
        mde_now=mde_abs / scale if scale > 0 else float("nan"), mde_now_abs=float(mde_abs),
        target_mde=target_mde, required_n=required, days_observed=days_observed, more_days=more_days,
        alternative=alternative,
    )
