"""The difference-in-differences against statsmodels OLS with unit-clustered errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from prodops_lib.beta import (
    align,
    average_effect,
    difference_in_differences,
    event_study,
    stack_cohorts,
)

# a textbook panel: four units outside the beta, four in it, one period before and one after
TEXTBOOK = {"c1": (10, 11), "c2": (12, 12.5), "c3": (9, 10.5), "c4": (11, 11.2),
            "t1": (13, 15), "t2": (12, 14.5), "t3": (14, 15.2), "t4": (11, 13.9)}


def _textbook() -> pd.DataFrame:
    return pd.DataFrame([{"unit": unit, "treated": int(unit[0] == "t"), "post": post, "value": values[post]}
                         for unit, values in TEXTBOOK.items() for post in (0, 1)])


def test_two_group_two_period_estimate_equals_statsmodels_clustered_ols() -> None:
    frame = _textbook()
    estimate = difference_in_differences(frame)
    reference = smf.ols("value ~ treated * post", frame).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(frame["unit"])[0]})
    # statsmodels 0.15.0: coefficient and cluster-robust (CR1) standard error of treated:post
    assert reference.params["treated:post"] == pytest.approx(1.35, abs=1e-12)
    assert reference.bse["treated:post"] == pytest.approx(0.4808846015417821, abs=1e-12)
    # closed form of the coefficient: (2.15 − 0.80), the treated minus the control mean change
    assert estimate.effect == pytest.approx(1.35, abs=1e-9)
    assert estimate.standard_error == pytest.approx(0.4808846015417821, abs=1e-9)
    assert estimate.p_value == pytest.approx(0.004995460900630203, abs=1e-9)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((0.40748350025821756, 2.2925164997417924), abs=1e-9)
    assert (estimate.beta_units, estimate.comparison_units) == (4, 4)


def _small_beta(seed: int = 3, units: int = 60, periods: int = 6, entry: tuple[int, ...] = (3,)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit_ids = [f"u{i:02d}" for i in range(units)]
    in_beta = np.arange(units) % 3 == 0
    entry_period = np.where(in_beta, rng.choice(np.asarray(entry), size=units), -1)
    start = pd.Timestamp("2026-01-05")
    unit_frame = pd.DataFrame({"unit": unit_ids, "in_beta": in_beta,
                               "entry_date": pd.Series(start + pd.to_timedelta(entry_period * 7, unit="D")).where(in_beta)})
    week = np.arange(periods)
    value = (rng.normal(size=(units, 1)) + 0.3 * week + np.where(in_beta[:, None] & (week >= entry_period[:, None]), 1.0, 0)
             + rng.normal(size=(units, periods)))
    panel = pd.DataFrame({"unit": np.repeat(unit_ids, periods), "period": np.tile(start + pd.to_timedelta(week * 7, unit="D"), units),
                          "value": value.ravel()})
    return unit_frame, panel


def test_event_study_coefficients_equal_statsmodels_two_way_fixed_effects() -> None:
    units, panel = _small_beta()
    beta = align(units, panel, ["value"])
    stack = stack_cohorts(beta, "value", pre_periods=3, post_periods=3, neighbours=None)
    study = event_study(stack)
    long = stack.to_frame().assign(event_time=lambda f: f["event_time"].astype(int))
    for k in (-3, -2, 0, 1, 2):
        long[f"d{k + 3}"] = (long["treated"] & (long["event_time"] == k)).astype(float)
    reference = smf.ols("value ~ C(unit) + C(event_time) + d0 + d1 + d3 + d4 + d5", long).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(long["unit"])[0]})
    mine = study.coefficients.set_index("event_time")
    for k in (-3, -2, 0, 1, 2):
        assert mine.loc[k, "effect"] == pytest.approx(reference.params[f"d{k + 3}"], abs=1e-9)
        # the same cluster-robust variance; statsmodels' CR1 factor (N−1)/(N−K) counts the 60 unit
        # and 5 period dummies it estimates, which the two-way demeaning removes instead
        rows, with_dummies, demeaned = len(long), 5 + 60 + 5, 5
        factor = np.sqrt((rows - demeaned) / (rows - with_dummies))
        assert mine.loc[k, "standard_error"] * factor == pytest.approx(reference.bse[f"d{k + 3}"], rel=1e-9)
    assert mine.loc[-1, "effect"] == 0.0


def test_stacked_average_is_the_beta_unit_weighted_mean_of_cohort_two_by_twos() -> None:
    units, panel = _small_beta(entry=(3, 4), periods=8)
    beta = align(units, panel, ["value"])
    stack = stack_cohorts(beta, "value", pre_periods=2, post_periods=2, neighbours=None)
    estimate = average_effect(stack)
    long = stack.to_frame()
    cohort_effects, sizes = [], []
    for _, cohort in long.groupby("stack"):
        means = cohort.assign(post=cohort["event_time"] >= 0).groupby(["treated", "post"])["value"].mean()
        cohort_effects.append((means[True, True] - means[True, False]) - (means[False, True] - means[False, False]))
        sizes.append(cohort.loc[cohort["treated"], "unit"].nunique())
    assert estimate.effect == pytest.approx(np.average(cohort_effects, weights=sizes), abs=1e-9)


def test_a_beta_unit_that_entered_before_the_panel_is_never_a_comparison_unit() -> None:
    units, panel = _small_beta(entry=(3,))
    early = units.index[units["in_beta"]][:2]
    units.loc[early, "entry_date"] = pd.Timestamp("2025-12-01")  # five weeks before the panel's first period
    stack = stack_cohorts(align(units, panel, ["value"]), "value", pre_periods=2, post_periods=2, neighbours=None)
    comparison = set(stack.rows.loc[~stack.rows["treated"], "unit"])
    assert comparison.isdisjoint(units.loc[units["in_beta"], "unit"])
    left_out = stack.cohorts.set_index("cohort").loc[-5]
    assert (left_out["beta_units"], left_out["beta_units_used"]) == (2, 0)
