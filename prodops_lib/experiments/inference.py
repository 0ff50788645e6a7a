"""Frequentist comparison of a variant with the control, from sufficient statistics.

One function, :func:`compare`, handles every kind of metric and is vectorised over groups
(metric x variant, segments, days):

* means: Welch's t-test, ``t = Δ / sqrt(s²_c/n_c + s²_v/n_v)`` with Welch–Satterthwaite degrees
  of freedom (Welch 1947);
* proportions: the pooled two-proportion z-test with a Wald interval, and when an expected
  cell count is below 5, Fisher's exact test with Newcombe's hybrid score interval
  (Newcombe 1998, method 10);
* ratios: the delta method on the linearised unit values (Deng et al. 2018), normal reference;
* CUPED (Deng et al. 2013): each arm's estimate becomes ``R̂ - θ (x̄_arm - x̄)``, ``x̄`` the
  covariate mean of the two arms compared, and its unit variance ``s²_L - 2θ s_Lx + θ² s²_x``;
  the relative lift is the ratio of the adjusted means. ``θ`` is by default the slope *within
  arms* (``Σ_a (n_a-1) s_Lx,a / Σ_a (n_a-1) s²_x,a``, the ANCOVA slope of ``y ~ T + x``), which
  removes the share ``ρ²`` of the variance explained by the pre-period covariate; with
  ``cuped_slope="pooled"`` it is the slope over all units of the two arms *ignoring arms*
  (``cov(L + R̂_a, x) / var(x)`` on the pooled units, as some engines compute it), which also
  absorbs the difference between the arms' means and so differs slightly when the effect or the
  covariate imbalance is large;
* regression adjustment with several covariates (Lin 2013): estimates and variances computed
  by :mod:`.regression` and passed in as ``adjustment``.

The relative lift ``R̂_v / R̂_c - 1`` gets its interval on the log scale,
``exp(log(R̂_v/R̂_c) ± z·sqrt(V_v/R̂_v² + V_c/R̂_c²)) - 1`` (delta method), which keeps it
inside (-100%, ∞). It is reported as n/a, with the reason, when the control estimate is not
distinguishable from zero or the two estimates have opposite signs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .moments import ArrayFields, Moments
from .regression import Adjustment

__all__ = ["Effect", "compare", "non_inferiority_p_value", "wilson_interval"]

SMALL_EXPECTED_COUNT = 5.0


@dataclass(frozen=True)
class Effect(ArrayFields):
    """Variant minus control for one or more groups (each field an array)."""

    n_control: np.ndarray
    n_variant: np.ndarray
    mean_control: np.ndarray
    mean_variant: np.ndarray
    estimate_control: np.ndarray
    estimate_variant: np.ndarray
    var_control: np.ndarray
    var_variant: np.ndarray
    abs_effect: np.ndarray
    abs_se: np.ndarray
    abs_ci_low: np.ndarray
    abs_ci_high: np.ndarray
    p_value: np.ndarray
    rel_effect: np.ndarray
    rel_ci_low: np.ndarray
    rel_ci_high: np.ndarray
    log_ratio_se: np.ndarray
    rel_se: np.ndarray
    rel_na_reason: np.ndarray
    method: np.ndarray
    cuped_variance_reduction: np.ndarray


def wilson_interval(successes: np.ndarray, n: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (Wilson 1927):
    ``(p̂ + z²/2n ± z·sqrt(p̂(1-p̂)/n + z²/4n²)) / (1 + z²/n)``."""
    successes, n = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def _cuped(control: Moments, variant: Moments, slope: str = "within") -> tuple[np.ndarray, ...]:
    """θ (within arms, or over the pooled units), and each arm's adjusted estimate and unit variance."""
    weight_c, weight_v = control.n - 1.0, variant.n - 1.0
    pooled_cov = weight_c * control.cov_linearized_x + weight_v * variant.cov_linearized_x
    pooled_var = weight_c * control.var_x + weight_v * variant.var_x
    if slope == "pooled":  # add the between-arm terms: Σ_a n_a (R̂_a - R̄)(x̄_a - x̄) and Σ_a n_a (x̄_a - x̄)²
        share = control.n * variant.n / (control.n + variant.n)
        gap_x = control.mean_x - variant.mean_x
        pooled_cov = pooled_cov + share * (control.ratio - variant.ratio) * gap_x
        pooled_var = pooled_var + share * gap_x**2
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = np.where(pooled_var > 0, pooled_cov / pooled_var, 0.0)
    pooled_mean_x = (control.sum_x + variant.sum_x) / (control.n + variant.n)
    adjusted = []
    for arm in (control, variant):
        estimate = arm.ratio - theta * (arm.mean_x - pooled_mean_x)
        unit_var = arm.var_linearized - 2 * theta * arm.cov_linearized_x + theta**2 * arm.var_x
        adjusted += [estimate, np.maximum(unit_var, 0.0)]
    return tuple(adjusted)


def compare(
    control: Moments,
    variant: Moments,
    kind: str,
    *,
    alpha: float = 0.05,
    cuped: bool = False,
    cuped_slope: str = "within",
    adjustment: Adjustment | None = None,
) -> Effect:
    """Compare ``variant`` with ``control`` for a metric of ``kind`` (mean, proportion, ratio).

    ``cuped=True`` uses the covariate sums (``sum_x`` ...) to reduce variance, with the slope
    ``cuped_slope`` (``within`` or ``pooled``); ``adjustment`` takes the regression-adjusted
    estimates of :func:`.regression.regression_adjustment` instead. Returns the absolute effect
    with its ``1 - alpha`` interval and two-sided p-value, and the relative lift with its
    log-scale interval.
    """
    control, variant = control.atleast_1d(), variant.atleast_1d()
    n_c, n_v = control.n, variant.n
    mean_c, mean_v = control.ratio, variant.ratio
    raw_var_c, raw_var_v = control.var_linearized / n_c, variant.var_linearized / n_v
    dof_c, dof_v, label = n_c - 1, n_v - 1, "CUPED" + (" (pooled slope)" if cuped_slope == "pooled" else "")
    if adjustment is not None:
        cuped, label = True, adjustment.label
        est_c, est_v, var_c, var_v = (adjustment.estimate_control, adjustment.estimate_variant,
                                      adjustment.var_control, adjustment.var_variant)
        dof_c, dof_v = adjustment.df_control, adjustment.df_variant
    elif cuped:
        est_c, unit_var_c, est_v, unit_var_v = _cuped(control, variant, cuped_slope)
        var_c, var_v = unit_var_c / n_c, unit_var_v / n_v
    else:
        est_c, est_v, var_c, var_v = mean_c, mean_v, raw_var_c, raw_var_v
    shape = np.broadcast(n_c, n_v).shape
    method = np.full(shape, "", dtype=object)
    exact = np.zeros(shape, dtype=bool)
    if kind == "proportion" and not cuped:
        var_c, var_v = mean_c * (1 - mean_c) / n_c, mean_v * (1 - mean_v) / n_v
    abs_effect = est_v - est_c
    abs_se = np.sqrt(var_c + var_v)
    z_crit = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "mean":
            dof = (var_c + var_v) ** 2 / (var_c**2 / dof_c + var_v**2 / dof_v)
            crit = stats.t.ppf(1 - alpha / 2, dof)
            p_value = 2 * stats.t.sf(np.abs(abs_effect / abs_se), dof)
            method[...] = np.char.add("Welch t-test, ", np.asarray(label, dtype=str)) if cuped else "Welch t-test"
        elif kind == "proportion" and not cuped:
            pooled = (control.sum_y + variant.sum_y) / (n_c + n_v)
            null_se = np.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_v))
            crit = np.full(shape, z_crit)
            p_value = 2 * stats.norm.sf(np.abs(abs_effect / null_se))
            method[...] = "two-proportion z-test"
            expected = np.minimum(pooled, 1 - pooled) * np.minimum(n_c, n_v)
            exact = np.broadcast_to(expected < SMALL_EXPECTED_COUNT, shape).copy()
        else:
            crit = np.full(shape, z_crit)
            p_value = 2 * stats.norm.sf(np.abs(abs_effect / abs_se))
            test = {"proportion": "z-test", "ratio": "delta method z-test"}[kind]
            method[...] = np.char.add(f"{test}, ", np.asarray(label, dtype=str)) if cuped else test
        degenerate = abs_se == 0  # a NaN standard error (too few units) stays NaN
        p_value = np.where(degenerate, np.where(abs_effect == 0, 1.0, 0.0), p_value)
        ci_low, ci_high = abs_effect - crit * abs_se, abs_effect + crit * abs_se
        variance_reduction = 1 - (var_c + var_v) / (raw_var_c + raw_var_v) if cuped else np.full(shape, np.nan)
    if exact.any():
        p_value, ci_low, ci_high = (np.array(np.broadcast_to(a, shape), dtype=float) for a in (p_value, ci_low, ci_high))
        _exact_proportions(control, variant, exact, alpha, p_value, ci_low, ci_high)
        method[exact] = "Fisher exact test, Newcombe interval"
    relative = _relative(est_c, est_v, var_c, var_v, z_crit)
    return Effect(
        n_control=n_c, n_variant=n_v, mean_control=mean_c, mean_variant=mean_v,
        estimate_control=est_c, estimate_variant=est_v, var_control=var_c, var_variant=var_v,
        abs_effect=abs_effect, abs_se=abs_se, abs_ci_low=ci_low, abs_ci_high=ci_high,
        p_value=p_value, method=method, cuped_variance_reduction=variance_reduction, **relative,
    )


def _exact_proportions(
    control: Moments, variant: Moments, exact: np.ndarray, alpha: float,
    p_value: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray,
) -> None:
    """Fisher's exact p-value and Newcombe's interval where counts are small (in place)."""
    counts = np.broadcast_arrays(control.sum_y, control.n, variant.sum_y, variant.n, exact)
    for index in np.flatnonzero(counts[-1]):
        s_c, n_c, s_v, n_v = (round(float(values.flat[index])) for values in counts[:4])
        p_value.flat[index] = stats.fisher_exact([[s_v, n_v - s_v], [s_c, n_c - s_c]]).pvalue
        low_v, high_v = wilson_interval(s_v, n_v, alpha)
        low_c, high_c = wilson_interval(s_c, n_c, alpha)
        share_v, share_c = s_v / n_v, s_c / n_c
        ci_low.flat[index] = share_v - share_c - np.hypot(share_v - low_v, high_c - share_c)
        ci_high.flat[index] = share_v - share_c + np.hypot(high_v - share_v, share_c - low_c)


def _relative(est_c, est_v, var_c, var_v, z_crit: float) -> dict[str, np.ndarray]:
    """Relative lift with its log-scale delta-method interval, or n/a with the reason."""
    est_c, est_v, var_c, var_v = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (est_c, est_v, var_c, var_v)))
    reason = np.full(est_c.shape, None, dtype=object)
    with np.errstate(invalid="ignore", divide="ignore"):
        se_c = np.sqrt(var_c)
        for index in np.ndindex(est_c.shape):
            if est_c[index] == 0:
                reason[index] = "control mean is 0"
            elif abs(est_c[index]) <= z_crit * se_c[index]:
                reason[index] = f"control mean {est_c[index]:.4g} is within {z_crit:.2f} standard errors of 0"
            elif not est_v[index] / est_c[index] > 0:
                reason[index] = "variant and control means are not both positive or both negative"
        valid = np.array([item is None for item in reason.flat], dtype=bool).reshape(est_c.shape)
        log_ratio = np.log(est_v / est_c)
        log_se = np.sqrt(var_v / est_v**2 + var_c / est_c**2)
        rel_se = np.sqrt(var_v / est_c**2 + est_v**2 * var_c / est_c**4)
        return {
            "rel_effect": np.where(valid, est_v / est_c - 1, np.nan),
            "rel_ci_low": np.where(valid, np.expm1(log_ratio - z_crit * log_se), np.nan),
            "rel_ci_high": np.where(valid, np.expm1(log_ratio + z_crit * log_se), np.nan),
            "log_ratio_se": np.where(valid, log_se, np.nan),
            "rel_se": np.where(valid, rel_se, np.nan),
            "rel_na_reason": reason,
        }


def non_inferiority_p_value(rel_effect: np.ndarray, log_ratio_se: np.ndarray, margin: float, direction: str) -> np.ndarray:
    """One-sided p-value that the variant is no worse than ``margin`` (relative).

    On the log scale: for a metric where higher is better, H0 is ``R_v/R_c ≤ 1 - margin`` and
    ``z = (log(R̂_v/R̂_c) - log(1 - margin)) / se_log``; for lower-is-better, H0 is
    ``R_v/R_c ≥ 1 + margin``. p = 1 - Φ(z). NaN when the relative lift is n/a.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ratio = np.log1p(np.asarray(rel_effect, dtype=float))
        if direction == "increase":
            z = (log_ratio - np.log1p(-margin)) / np.asarray(log_ratio_se, dtype=float)
        else:
            z = (np.log1p(margin) - log_ratio) / np.asarray(log_ratio_se, dtype=float)
    return stats.norm.sf(z)
