"""Power and sample size against statsmodels' normal power calculations."""

from __future__ import annotations

import math

import pytest

from prodops_lib.experiments import (
    minimum_detectable_effect,
    plan_experiment,
    required_sample_size,
    statistical_power,
)
from prodops_lib.experiments.power import sample_power


def test_required_sample_size_matches_statsmodels():
    # statsmodels zt_ind_solve_power(effect_size=0.1, alpha=0.05, power=0.8, ratio=1, alternative="two-sided")
    assert required_sample_size(0.1, 1.0) == pytest.approx(1569.7721019023288, rel=1e-8)
    assert required_sample_size(2.0, 20.0) == pytest.approx(1569.7721019023288, rel=1e-8)


def test_cuped_variance_scales_the_sample_size():
    # the power function depends on n/(1 - r) only, so n shrinks by exactly (1 - r): 0.7 x 1569.7721…
    assert required_sample_size(0.1, 1.0, variance_reduction=0.3) == pytest.approx(1098.84047133163, rel=1e-8)


def test_power_and_mde_match_statsmodels():
    # statsmodels NormalIndPower().power(effect_size=0.05, nobs1=5000, alpha=0.05, ratio=1)
    assert statistical_power(0.05, 1.0, 5000)[()] == pytest.approx(0.7054180011138002, rel=1e-9)
    # the effect at which statsmodels NormalIndPower().power(effect, 5000, 0.05) = 0.8000000000001517
    # (statsmodels' own solve_power stops early at 0.0560298, where its power is 0.79997)
    assert minimum_detectable_effect(5000, 1.0) == pytest.approx(0.05603163574028242, rel=1e-9)


def test_plan_from_a_baseline_conversion_rate_alone():
    plan = plan_experiment(0.10, 0.05, daily_units=20_000)
    # statsmodels zt_ind_solve_power(effect_size=0.005/sqrt(0.1·0.9)) = 56511.79566715046, rounded up
    assert plan.n_per_variant == 56512
    assert plan.total_units == 2 * 56512
    assert plan.days == math.ceil(2 * 56512 / 20_000)
    assert "56,512 units" in plan.message()
    curve = plan.curve()
    assert curve["power"].is_monotonic_increasing
    # at the planned MDE the curve gives the planned power (to the rounding of n)
    assert statistical_power(plan.mde_abs, plan.sd, plan.n_per_variant)[()] == pytest.approx(0.8, abs=1e-4)


def test_several_variants_split_alpha():
    two = plan_experiment(0.10, 0.05, variants=2)
    three = plan_experiment(0.10, 0.05, variants=3)
    assert three.alpha == pytest.approx(0.025)
    # statsmodels zt_ind_solve_power(effect_size=0.005/sqrt(0.09), alpha=0.025, power=0.8) = 68436.2565…
    assert three.n_per_variant > two.n_per_variant
    assert three.n_per_variant == 68437


def test_sample_power_days_left_at_current_traffic():
    power = sample_power("conversion", 0.10, 0.3, 10_000, alpha=0.05, target_mde=0.05, days_observed=5)
    assert power.required_n == 56512
    # 46,512 more units per variant at 10,000 / 5 = 2,000 a day -> 23.3, so 24 days
    assert power.more_days == 24
    assert power.mde_now == pytest.approx(minimum_detectable_effect(10_000, 0.3) / 0.10, rel=1e-12)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: plan_experiment(1.5, 0.05), r"baseline is a rate in \(0, 1\)"),
        (lambda: plan_experiment(0.1, -0.05), "mde is a positive relative effect"),
        (lambda: plan_experiment(0.1, 0.05, variants=1), "variants counts the control"),
        (lambda: required_sample_size(0.0, 1.0), "must be non-zero"),
        (lambda: required_sample_size(0.1, 0.0), "standard deviation must be positive"),
    ],
)
def test_power_rejects_bad_parameters_in_one_line(call, message):
    with pytest.raises(ValueError, match=message) as error:
        call()
    assert "\n" not in str(error.value)
