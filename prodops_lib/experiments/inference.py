"""Frequentist comparison of a variant with the control, from sufficient statistics.

One function, :func:`compare`, handles every kind of metric and is vectorised over groups
(metric x variant, segments, days):

* means: Welch's t-test, ``t = Δ / sqrt(s²_c/n_c + s²_v/n_v)`` with Welch–Satterthwaite degrees
  of freedom (Welch 1947); with ``equal_var``, Student's t-test with the pooled variance
  ``s²_p = ((n_c-1)s²_c + (n_v-1)s²_v) / (n_c+n_v-2)``, ``se = s_p·sqrt(1/n_c + 1/n_v)`` and
  ``n_c + n_v - 2`` degrees of freedom;
* proportions: the pooled two-proportion z-test with a Wald interval, and when an expected
  cell count is below 5, Fisher's exact test with Newcombe's hybrid score interval
  (Newcombe 1998, method 10). On request (``test``): the z-test with Yates' continuity
  correction ``c = min(½(1/n_c + 1/n_v), |Δ|)``, ``z = sign(Δ)(|Δ| - c)/se₀`` and the Wald
  interval widened by ``c`` (as R's ``prop.test``), or Fisher's, Barnard's or Boschloo's exact
  test (:mod:`.exact`) with Newcombe's interval;
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

``alternative`` is ``two-sided``, ``greater`` (the variant's value is higher) or ``less``. A
one-sided test uses the ``1 - α`` quantile and its interval is open on the other side (an
infinite bound), as scipy's ``ttest_ind(...).confidence_interval()`` reports it.

The relative lift ``R̂_v / R̂_c - 1`` gets its interval on the log scale,
``exp(log(R̂_v/R̂_c) ± q·sqrt(V_v/R̂_v² + V_c/R̂_c²)) - 1`` (delta method), which keeps it
inside (-100%, ∞); or, with ``relative_interval="linear"``, ``R̂_v/R̂_c - 1 ± q·se_rel`` with
``se_rel² = V_v/R̂_c² + R̂_v²V_c/R̂_c⁴``. ``q`` is the quantile of the absolute test's own
distribution (Student's t with its degrees of freedom for means, normal otherwise), and the
relative lift's p-value is ``log(R̂_v/R̂_c)/se_log`` (or ``(R̂_v/R̂_c - 1)/se_rel``) on that same
distribution. The lift is reported as n/a, with the reason, when the control estimate is not
distinguishable from zero or the two estimates have opposite signs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .exact import EXACT_TESTS, exact_p_value, newcombe_interval, wilson_interval
from .moments import ArrayFields, Moments
from .regression import Adjustment

__all__ = [
    "ALTERNATIVES", "RELATIVE_INTERVALS", "TESTS", "Effect", "compare", "critical_value", "non_inferiority_p_value",
    "p_value_of", "wilson_interval",
]

SMALL_EXPECTED_COUNT = 5.0
ALTERNATIVES = ("two-sided", "greater", "less")
TESTS = ("auto", "z_continuity", *EXACT_TESTS)
RELATIVE_INTERVALS = ("log", "linear")


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
    statistic: np.ndarray
    dof: np.ndarray
    p_value: np.ndarray
    rel_effect: np.ndarray
    rel_ci_low: np.ndarray
    rel_ci_high: np.ndarray
    log_ratio_se: np.ndarray
    rel_se: np.ndarray
    rel_p_value: np.ndarray
    rel_na_reason: np.ndarray
    method: np.ndarray
    cuped_variance_reduction: np.ndarray


def critical_value(alpha: float, alternative: str = "two-sided", dof: np.ndarray | float | None = None) -> np.ndarray:
    """The quantile an interval extends by: ``1 - α/2`` two-sided, ``1 - α`` one-sided, of the
    normal distribution or, with ``dof``, of Student's t."""
    level = 1 - alpha / 2 if alternative == "two-sided" else 1 - alpha
    return stats.norm.ppf(level) if dof is None else stats.t.ppf(level, dof)


def p_value_of(statistic: np.ndarray, alternative: str = "two-sided", dof: np.ndarray | float | None = None) -> np.ndarray:
    """p-value of a z (or, with ``dof``, t) statistic: ``2·P(T > |t|)``, ``P(T > t)`` for
    ``greater``, ``P(T < t)`` for ``less``."""
    def tail(value):
        return stats.norm.sf(value) if dof is None else stats.t.sf(value, dof)

    statistic = np.asarray(statistic, dtype=float)
    if alternative == "greater":
        return tail(statistic)
    if alternative == "less":
        return tail(-statistic)
    return 2 * tail(np.abs(statistic))


def _bounds(estimate, spread, alternative: str) -> tuple[np.ndarray, np.ndarray]:
    """``estimate ∓ spread``, open (infinite) on the side a one-sided test does not look at."""
    low = estimate - spread if alternative != "less" else np.full(np.shape(estimate), -np.inf)
    high = estimate + spread if alternative != "greater" else np.full(np.shape(estimate), np.inf)
    return low, high


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


def _check_options(kind: str, cuped: bool, alternative: str, equal_var: bool, test: str, relative_interval: str) -> None:
    for name, value, allowed in (("alternative", alternative, ALTERNATIVES), ("test", test, TESTS),
                                 ("relative_interval", relative_interval, RELATIVE_INTERVALS)):
        if value not in allowed:
            raise ValueError(f"{name} {value!r} is not one of {', '.join(map(repr, allowed))}")
    if equal_var and kind != "mean":
        raise ValueError(f"equal_var applies to kind 'mean' (Student's t-test), not {kind!r}")
    if test != "auto" and (kind != "proportion" or cuped):
        raise ValueError(f"test {test!r} needs a proportion metric without a covariate")


def compare(
    control: Moments,
    variant: Moments,
    kind: str,
    *,
    alpha: float = 0.05,
    cuped: bool = False,
    cuped_slope: str = "within",
    adjustment: Adjustment | None = None,
    alternative: str = "two-sided",
    equal_var: bool = False,
    test: str = "auto",
    relative_interval: str = "log",
) -> Effect:
    """Compare ``variant`` with ``control`` for a metric of ``kind`` (mean, proportion, ratio).

    ``cuped=True`` uses the covariate sums (``sum_x`` ...) to reduce variance, with the slope
    ``cuped_slope`` (``within`` or ``pooled``); ``adjustment`` takes the regression-adjusted
    estimates of :func:`.regression.regression_adjustment` instead. ``equal_var`` (means),
    ``test`` (proportions: ``auto``, ``z_continuity``, ``fisher``, ``barnard``, ``boschloo``),
    ``alternative`` and ``relative_interval`` are described in the module docstring. Returns the
    absolute effect with its ``1 - alpha`` interval, test statistic and p-value, and the
    relative lift with its interval and p-value.
    """
    _check_options(kind, cuped or adjustment is not None, alternative, equal_var, test, relative_interval)
    control, variant = control.atleast_1d(), variant.atleast_1d()
    n_c, n_v = control.n, variant.n
    mean_c, mean_v = control.ratio, variant.ratio
    raw_var_c, raw_var_v = control.var_linearized / n_c, variant.var_linearized / n_v
    dof_c, dof_v, adjusted = n_c - 1, n_v - 1, "CUPED" + (" (pooled slope)" if cuped_slope == "pooled" else "")
    if adjustment is not None:
        cuped, adjusted = True, adjustment.label
        est_c, est_v, var_c, var_v = (adjustment.estimate_control, adjustment.estimate_variant,
                                      adjustment.var_control, adjustment.var_variant)
        dof_c, dof_v = adjustment.df_control, adjustment.df_variant
    elif cuped:
        est_c, unit_var_c, est_v, unit_var_v = _cuped(control, variant, cuped_slope)
        var_c, var_v = unit_var_c / n_c, unit_var_v / n_v
    else:
        est_c, est_v, var_c, var_v = mean_c, mean_v, raw_var_c, raw_var_v
    shape = np.broadcast(n_c, n_v).shape
    exact = np.zeros(shape, dtype=bool)
    if kind == "proportion" and not cuped:
        var_c, var_v = mean_c * (1 - mean_c) / n_c, mean_v * (1 - mean_v) / n_v
    if equal_var:
        with np.errstate(invalid="ignore", divide="ignore"):
            pooled_unit_var = ((n_c - 1) * var_c * n_c + (n_v - 1) * var_v * n_v) / (n_c + n_v - 2)
        var_c, var_v = pooled_unit_var / n_c, pooled_unit_var / n_v
    abs_effect = est_v - est_c
    shared = adjustment.var_shared if adjustment is not None else 0.0  # see regression_adjustment
    abs_se = np.sqrt(var_c + var_v + shared)
    dof = None
    widen = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind == "mean":
            if equal_var:
                dof = np.broadcast_to(n_c + n_v - 2.0, shape)
                label = "Student t-test (pooled variance)"
            else:
                dof = (var_c + var_v) ** 2 / (var_c**2 / dof_c + var_v**2 / dof_v)
                label = "Welch t-test"
            statistic = abs_effect / abs_se
        elif kind == "proportion" and not cuped:
            pooled = (control.sum_y + variant.sum_y) / (n_c + n_v)
            null_se = np.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_v))
            if test == "z_continuity":
                widen = np.minimum(0.5 * (1 / n_c + 1 / n_v), np.abs(abs_effect))
                statistic = np.sign(abs_effect) * (np.abs(abs_effect) - widen) / null_se
                label = "two-proportion z-test with continuity correction"
            else:
                statistic = abs_effect / null_se
                label = "two-proportion z-test"
                expected = np.minimum(pooled, 1 - pooled) * np.minimum(n_c, n_v)
                small = np.broadcast_to(expected < SMALL_EXPECTED_COUNT, shape)
                exact = np.ones(shape, dtype=bool) if test in EXACT_TESTS else small.copy()
        else:
            statistic = abs_effect / abs_se
            label = {"proportion": "z-test", "ratio": "delta method z-test"}[kind]
        crit = critical_value(alpha, alternative, dof)
        p_value = p_value_of(statistic, alternative, dof)
        degenerate = abs_se == 0  # a NaN standard error (too few units) stays NaN
        p_value = np.where(degenerate, _degenerate_p_value(abs_effect, alternative), p_value)
        ci_low, ci_high = _bounds(abs_effect, crit * abs_se + widen, alternative)
        variance_reduction = 1 - (var_c + var_v + shared) / (raw_var_c + raw_var_v) if cuped else np.full(shape, np.nan)
    suffix = "" if alternative == "two-sided" else f", one-sided: {alternative}"
    method = np.full(shape, label, dtype=object)
    if cuped:  # the adjustment's label may differ by group (covariates left out in some)
        method = method + ", " + np.broadcast_to(np.asarray(adjusted, dtype=object), shape)
    method = method + suffix
    statistic = np.array(np.broadcast_to(statistic, shape), dtype=float)
    if exact.any():
        p_value, ci_low, ci_high = (np.array(np.broadcast_to(a, shape), dtype=float) for a in (p_value, ci_low, ci_high))
        chosen = test if test in EXACT_TESTS else "fisher"
        _exact_proportions(control, variant, exact, alpha, alternative, chosen, p_value, ci_low, ci_high)
        method[exact] = f"{EXACT_TESTS[chosen]}, Newcombe interval" + suffix
        statistic[exact] = np.nan  # an exact test enumerates tables; it has no z or t statistic
    z_crit = stats.norm.ppf(1 - alpha / 2)
    extra = (adjustment.var_shared_log, adjustment.var_shared_ratio) if adjustment is not None else (0.0, 0.0)
    relative = _relative(est_c, est_v, var_c, var_v, crit, z_crit, alternative, relative_interval, dof, extra)
    return Effect(
        n_control=n_c, n_variant=n_v, mean_control=mean_c, mean_variant=mean_v,
        estimate_control=est_c, estimate_variant=est_v, var_control=var_c, var_variant=var_v,
        abs_effect=abs_effect, abs_se=abs_se, abs_ci_low=ci_low, abs_ci_high=ci_high, statistic=statistic,
        dof=np.full(shape, np.nan) if dof is None else np.array(np.broadcast_to(dof, shape), dtype=float),
        p_value=p_value, method=method, cuped_variance_reduction=variance_reduction, **relative,
    )


def _degenerate_p_value(abs_effect: np.ndarray, alternative: str) -> np.ndarray:
    """p-value when neither arm varies: 1 without a difference (or one on the untested side), else 0."""
    if alternative == "greater":
        return np.where(abs_effect > 0, 0.0, 1.0)
    if alternative == "less":
        return np.where(abs_effect < 0, 0.0, 1.0)
    return np.where(abs_effect == 0, 1.0, 0.0)


def _exact_proportions(
    control: Moments, variant: Moments, exact: np.ndarray, alpha: float, alternative: str, test: str,
    p_value: np.ndarray, ci_low: np.ndarray, ci_high: np.ndarray,
) -> None:
    """The exact test's p-value and Newcombe's interval where ``exact`` is set (in place)."""
    counts = np.broadcast_arrays(control.sum_y, control.n, variant.sum_y, variant.n, exact)
    for index in np.flatnonzero(counts[-1]):
        s_c, n_c, s_v, n_v = (round(float(values.flat[index])) for values in counts[:4])
        p_value.flat[index] = exact_p_value(test, s_c, n_c, s_v, n_v, alternative)
        ci_low.flat[index], ci_high.flat[index] = newcombe_interval(s_c, n_c, s_v, n_v, alpha, alternative)


def _relative(est_c, est_v, var_c, var_v, crit, z_crit: float, alternative: str, scale: str,
              dof, extra=(0.0, 0.0)) -> dict[str, np.ndarray]:
    """Relative lift with its delta-method interval (log or linear scale) and p-value, or n/a
    with the reason. ``crit`` and ``dof`` are the absolute test's, so both intervals use one
    distribution; whether the control is distinguishable from zero uses the two-sided z."""
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
        lift = est_v / est_c - 1
        log_ratio = np.log(est_v / est_c)
        # ``extra``: what the pooled covariate mean adds under regression adjustment (log, ratio)
        log_se = np.sqrt(var_v / est_v**2 + var_c / est_c**2 + extra[0])
        rel_se = np.sqrt(var_v / est_c**2 + est_v**2 * var_c / est_c**4 + extra[1])
        if scale == "log":
            # an open side stays ±inf (not expm1(-inf) = -100%), as on the absolute scale
            low, high = (np.where(np.isinf(bound), bound, np.expm1(bound))
                         for bound in _bounds(log_ratio, crit * log_se, alternative))
            statistic = log_ratio / log_se
        else:
            low, high = _bounds(lift, crit * rel_se, alternative)
            statistic = lift / rel_se
        p_value = p_value_of(statistic, alternative, dof)
        return {
            "rel_effect": np.where(valid, lift, np.nan),
            "rel_ci_low": np.where(valid, low, np.nan),
            "rel_ci_high": np.where(valid, high, np.nan),
            "log_ratio_se": np.where(valid, log_se, np.nan),
            "rel_se": np.where(valid, rel_se, np.nan),
            "rel_p_value": np.where(valid, p_value, np.nan),
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
