"""Difference-in-differences on the stacked windows: the average effect and the event study,
both by weighted least squares with standard errors clustered by unit (statsmodels
``cov_type="cluster"``; a comparison unit that serves several cohorts is one cluster).

**Average effect.** Each stacked unit is collapsed to two rows, its mean before entry and its
mean from entry on; per cohort ``s`` the regression is the textbook two-group two-period one,

    y = a_s + b_s·treated + c_s·post + τ_s·treated·post + e,

all cohorts in one fit, so the τ_s share one cluster-robust covariance ``V``. The beta's effect
is their average weighted by beta units, ``τ = Σ w_s τ_s`` with standard error ``√(wᵀVw)``
(the group-time effects aggregated as in Callaway & Sant'Anna 2021). With one cohort and
unit weights this is exactly ``smf.ols("y ~ treated * post").fit(cov_type="cluster")``.

**Event study.** Every period of the window, with unit and period fixed effects per cohort
(removed by weighted two-way demeaning, exact on the balanced windows) and one coefficient per
event time ``k ≠ −1`` (the period before entry is the reference). The leads (k < −1) should be
near zero if beta and comparison units moved in parallel before entry; their joint Wald test
says how surprising they are if they did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from .stack import Stack

__all__ = ["DidEstimate", "EventStudy", "average_effect", "difference_in_differences", "event_study"]


@dataclass(frozen=True)
class DidEstimate:
    """An effect with its cluster-robust standard error and interval."""

    effect: float
    standard_error: float
    ci_low: float
    ci_high: float
    p_value: float
    level: float
    beta_units: int
    comparison_units: int

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(self)])


@dataclass(frozen=True)
class EventStudy:
    """One coefficient per event time (``coefficients``: event_time, effect, standard_error,
    ci_low, ci_high; the reference period −1 reads 0), and the joint test of the leads."""

    coefficients: pd.DataFrame
    leads_chi2: float
    leads_p_value: float
    leads: int

    def to_frame(self) -> pd.DataFrame:
        return self.coefficients


def _estimate(effect: float, variance: float, level: float, beta_units: int, comparison_units: int) -> DidEstimate:
    se = float(np.sqrt(variance))
    z = stats.norm.ppf(0.5 + level / 2)
    p_value = float(2 * stats.norm.sf(abs(effect) / se)) if se > 0 else float("nan")
    return DidEstimate(float(effect), se, float(effect - z * se), float(effect + z * se), p_value, level,
                       beta_units, comparison_units)


def difference_in_differences(frame: pd.DataFrame, *, level: float = 0.95) -> DidEstimate:
    """The two-group two-period estimate from a long frame with columns unit, treated, post,
    value (and optionally stack, weight): see the module docstring."""
    frame = frame.assign(stack=frame.get("stack", 0),
                         weight=frame.get("weight", 1.0))
    stacks = np.sort(frame["stack"].unique())
    in_stack = (frame["stack"].to_numpy()[:, None] == stacks[None, :]).astype(float)
    treated = frame["treated"].to_numpy(dtype=float)[:, None]
    post = frame["post"].to_numpy(dtype=float)[:, None]
    design = np.hstack([in_stack, in_stack * treated, in_stack * post, in_stack * treated * post])
    groups = pd.factorize(frame["unit"])[0]
    fit = sm.WLS(frame["value"].to_numpy(dtype=float), design, weights=frame["weight"].to_numpy(dtype=float)).fit(
        cov_type="cluster", cov_kwds={"groups": groups})
    effects = slice(3 * len(stacks), 4 * len(stacks))
    beta_per_stack = frame[frame["treated"].astype(bool)].groupby("stack")["unit"].nunique().reindex(stacks).to_numpy()
    share = beta_per_stack / beta_per_stack.sum()
    effect = float(share @ fit.params[effects])
    variance = float(share @ fit.cov_params()[effects, effects] @ share)
    is_treated = frame["treated"].astype(bool)
    return _estimate(effect, variance, level, int(frame.loc[is_treated, "unit"].nunique()),
                     int(frame.loc[~is_treated, "unit"].nunique()))


def average_effect(stack: Stack, *, level: float = 0.95) -> DidEstimate:
    """The beta's average effect over the post-entry window (see the module docstring)."""
    pre = stack.values[:, :stack.pre_periods].mean(axis=1)
    post = stack.values[:, stack.pre_periods:].mean(axis=1)
    two_periods = pd.concat([stack.rows.assign(post=False, value=pre), stack.rows.assign(post=True, value=post)],
                            ignore_index=True)
    return difference_in_differences(two_periods, level=level)


def _demean(values: np.ndarray, weight: np.ndarray, stacks: np.ndarray) -> np.ndarray:
    """Remove unit and (per stack) period means, weighted by unit: two-way fixed effects on a
    balanced window. ``values`` is units × periods, or units × periods × regressors."""
    out = values - values.mean(axis=1, keepdims=True)
    for stack in np.unique(stacks):
        members = stacks == stack
        w = weight[members] / weight[members].sum()
        out[members] -= np.tensordot(w, out[members], axes=1)
    return out


def event_study(stack: Stack, *, level: float = 0.95) -> EventStudy:
    """Leads and lags around entry (see the module docstring)."""
    times = stack.event_times
    kept = times != -1
    treated = stack.rows["treated"].to_numpy(dtype=float)
    weight = stack.rows["weight"].to_numpy(dtype=float)
    stacks = stack.rows["stack"].to_numpy()
    dummies = treated[:, None, None] * np.eye(len(times))[None, :, kept]  # unit × period × coefficient
    y = _demean(stack.values.copy(), weight, stacks).ravel()
    x = _demean(dummies, weight, stacks).reshape(-1, int(kept.sum()))
    groups = np.repeat(pd.factorize(stack.rows["unit"])[0], len(times))
    fit = sm.WLS(y, x, weights=np.repeat(weight, len(times))).fit(cov_type="cluster", cov_kwds={"groups": groups})
    z = stats.norm.ppf(0.5 + level / 2)
    se = np.sqrt(np.diag(fit.cov_params()))
    coefficients = pd.DataFrame({"event_time": times[kept], "effect": fit.params, "standard_error": se,
                                 "ci_low": fit.params - z * se, "ci_high": fit.params + z * se})
    reference = pd.DataFrame([{"event_time": -1, "effect": 0.0, "standard_error": 0.0, "ci_low": 0.0, "ci_high": 0.0}])
    coefficients = pd.concat([coefficients, reference]).sort_values("event_time", ignore_index=True)
    leads = np.flatnonzero(times[kept] < -1)
    if len(leads) == 0:
        return EventStudy(coefficients, float("nan"), float("nan"), 0)
    params, cov = fit.params[leads], fit.cov_params()[np.ix_(leads, leads)]
    chi2 = float(params @ np.linalg.solve(cov, params))
    return EventStudy(coefficients, chi2, float(stats.chi2.sf(chi2, len(leads))), len(leads))
