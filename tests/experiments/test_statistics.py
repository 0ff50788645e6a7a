"""Each statistic against an independent reference, written here as a literal.

How each reference was obtained is in the comment beside it (scipy 1.17, statsmodels 0.15,
or a closed form evaluated once with numpy on the data in this file).
"""

from __future__ import annotations

import numpy as np
import pytest

from prodops_lib.experiments.corrections import adjust_p_values
from prodops_lib.experiments.inference import compare, non_inferiority_p_value, wilson_interval
from prodops_lib.experiments.moments import Moments
from prodops_lib.experiments.srm import srm_test

CONTROL = [12.1, 9.8, 11.4, 10.2, 13.5, 8.9, 10.7, 11.1, 9.5, 12.8]
VARIANT = [13.2, 12.4, 11.9, 14.8, 10.6, 13.9, 12.2, 15.1, 11.7, 12.9, 14.0, 13.3]


def proportion(successes: int, n: int) -> Moments:
    return Moments.of_units(np.r_[np.ones(successes), np.zeros(n - successes)])


def test_welch_t_test_matches_scipy():
    effect = compare(Moments.of_units(CONTROL), Moments.of_units(VARIANT), "mean", alpha=0.05)
    # scipy.stats.ttest_ind(VARIANT, CONTROL, equal_var=False): p and confidence_interval(0.95)
    assert effect.p_value[0] == pytest.approx(0.003808866709614741, rel=1e-9)
    assert effect.abs_ci_low[0] == pytest.approx(0.7327234127746285, rel=1e-9)
    assert effect.abs_ci_high[0] == pytest.approx(3.267276587225375, rel=1e-9)
    assert effect.method[0] == "Welch t-test"


def test_welch_interval_follows_alpha():
    effect = compare(Moments.of_units(CONTROL), Moments.of_units(VARIANT), "mean", alpha=0.10)
    # scipy.stats.ttest_ind(VARIANT, CONTROL, equal_var=False).confidence_interval(0.90)
    assert effect.abs_ci_low[0] == pytest.approx(0.9536804005776292, rel=1e-9)
    assert effect.abs_ci_high[0] == pytest.approx(3.0463195994223744, rel=1e-9)


def test_two_proportion_z_test_matches_statsmodels():
    effect = compare(proportion(120, 1000), proportion(150, 1000), "proportion")
    # statsmodels proportions_ztest([150, 120], [1000, 1000]) (pooled variance)
    assert effect.p_value[0] == pytest.approx(0.04964038686536878, rel=1e-9)
    # statsmodels confint_proportions_2indep(150, 1000, 120, 1000, method="wald")
    assert effect.abs_ci_low[0] == pytest.approx(7.60288212977786e-05, rel=1e-7)
    assert effect.abs_ci_high[0] == pytest.approx(0.05992397117870222, rel=1e-9)
    assert effect.method[0] == "two-proportion z-test"


def test_small_counts_use_fisher_and_newcombe():
    effect = compare(proportion(1, 20), proportion(7, 20), "proportion")
    # scipy.stats.fisher_exact([[7, 13], [1, 19]]).pvalue (R's fisher.test gives 0.04360)
    assert effect.p_value[0] == pytest.approx(0.04359604359604359, rel=1e-9)
    # statsmodels confint_proportions_2indep(7, 20, 1, 20, method="newcomb")
    assert effect.abs_ci_low[0] == pytest.approx(0.048721227668892475, rel=1e-9)
    assert effect.abs_ci_high[0] == pytest.approx(0.5210045257604775, rel=1e-9)
    assert effect.method[0] == "Fisher exact test, Newcombe interval"


ORDERS_C, SESSIONS_C = [2, 0, 1, 3, 1, 0, 2, 4], [5, 2, 3, 6, 4, 1, 5, 7]
ORDERS_V, SESSIONS_V = [3, 1, 2, 4, 2, 1, 3, 5, 2], [5, 3, 3, 6, 4, 2, 5, 7, 4]


def test_ratio_metric_by_the_delta_method():
    effect = compare(Moments.of_units(ORDERS_C, SESSIONS_C), Moments.of_units(ORDERS_V, SESSIONS_V), "ratio")
    # closed form on the units: R = Σy/Σd, L = (y - R d)/mean(d), Var(R) = var(L, ddof=1)/n, normal reference
    assert effect.mean_control[0] == pytest.approx(0.3939393939393939, rel=1e-12)
    assert effect.mean_variant[0] == pytest.approx(0.5897435897435898, rel=1e-12)
    assert effect.abs_se[0] == pytest.approx(0.06825592782747766, rel=1e-9)
    assert effect.p_value[0] == pytest.approx(0.004121927723555899, rel=1e-9)
    assert effect.abs_ci_low[0] == pytest.approx(0.062025035530974354, rel=1e-9)
    assert effect.abs_ci_high[0] == pytest.approx(0.3295833560774173, rel=1e-9)


def test_relative_lift_interval_on_the_log_scale():
    effect = compare(Moments.of_units(ORDERS_C, SESSIONS_C), Moments.of_units(ORDERS_V, SESSIONS_V), "ratio")
    # closed form: exp(log(Rv/Rc) ± 1.959964 sqrt(Vv/Rv² + Vc/Rc²)) - 1 with the variances above
    assert effect.rel_effect[0] == pytest.approx(0.4970414201183433, rel=1e-9)
    assert effect.rel_ci_low[0] == pytest.approx(0.09831099331602089, rel=1e-9)
    assert effect.rel_ci_high[0] == pytest.approx(1.0405267972266365, rel=1e-9)
    assert effect.rel_na_reason[0] is None


def test_relative_lift_is_na_with_reason_when_control_is_near_zero():
    zero = compare(Moments.of_units([0.0, 0.0, 0.0]), Moments.of_units([1.0, 2.0, 0.0]), "mean")
    assert np.isnan(zero.rel_effect[0]) and zero.rel_na_reason[0] == "control mean is 0"
    noisy = compare(Moments.of_units([-1.0, 1.2, -0.9, 1.0]), Moments.of_units([1.0, 2.0, 3.0, 2.5]), "mean")
    assert np.isnan(noisy.rel_ci_low[0])
    assert "within 1.96 standard errors of 0" in noisy.rel_na_reason[0]
    assert noisy.abs_effect[0] == pytest.approx(2.125 - 0.075)  # the absolute effect is still reported


XC = [10.1, 14.1, 13.7, 8.5, 9.1, 8.4, 11.7, 9.8, 12.2, 4.5, 14.7, 9.7, 12.0, 9.6, 8.9, 11.4, 12.5, 9.4, 9.5, 12.1,
      7.4, 5.5, 11.2, 8.0, 4.2, 7.6, 8.6, 6.4, 5.5, 10.1]
YC = [11.4, 12.9, 11.8, 9.4, 10.4, 8.3, 12.2, 11.4, 11.4, 4.4, 14.3, 10.1, 13.2, 7.8, 8.1, 9.9, 9.4, 9.7, 10.4, 10.6,
      10.0, 7.6, 11.9, 9.0, 6.8, 6.1, 9.8, 8.0, 3.7, 10.6]
XV = [9.2, 12.3, 8.7, 9.9, 11.0, 7.4, 11.8, 9.7, 11.5, 8.4, 13.3, 11.8, 9.5, 11.9, 13.8, 15.4, 5.3, 12.6, 11.4, 9.7,
      7.0, 13.8, 6.2, 11.7, 13.9, 5.2, 9.1, 6.1, 10.7, 14.5]
YV = [13.3, 10.1, 9.0, 11.9, 14.1, 9.5, 11.2, 11.1, 12.1, 9.3, 12.4, 12.9, 11.0, 12.3, 13.6, 13.3, 6.4, 14.8, 11.7, 8.5,
      10.5, 14.7, 11.0, 12.4, 13.3, 4.9, 12.2, 11.6, 10.2, 13.5]


def test_cuped_equals_regression_adjustment():
    effect = compare(Moments.of_units(YC, x=XC), Moments.of_units(YV, x=XV), "mean", cuped=True)
    # statsmodels OLS y ~ 1 + treatment + x: the treatment coefficient (pooled within-arm slope)
    assert effect.abs_effect[0] == pytest.approx(1.1480553679131458, rel=1e-9)
    # closed form: θ pooled, se = sqrt(var(y_c - θx_c)/n + var(y_v - θx_v)/n), reduction 1 - se²/se_raw²
    assert effect.abs_se[0] == pytest.approx(0.3751138086155408, rel=1e-9)
    assert effect.cuped_variance_reduction[0] == pytest.approx(0.6203778460537434, rel=1e-9)
    assert effect.method[0] == "Welch t-test, CUPED"


def test_cuped_for_ratio_metrics_reduces_to_mean_cuped_when_denominators_are_one():
    ones_c, ones_v = np.ones(len(YC)), np.ones(len(YV))
    as_ratio = compare(Moments.of_units(YC, ones_c, XC), Moments.of_units(YV, ones_v, XV), "ratio", cuped=True)
    # the same OLS treatment coefficient as above
    assert as_ratio.abs_effect[0] == pytest.approx(1.1480553679131458, rel=1e-9)
    assert as_ratio.abs_se[0] == pytest.approx(0.3751138086155408, rel=1e-9)


def test_non_inferiority_p_value_closed_form():
    # z = (log(1 - 0.012) - log(1 - 0.05)) / 0.015 = 2.6147…, p = 1 - Φ(z) (closed form, scipy.stats.norm.sf)
    p_value = non_inferiority_p_value(np.array([-0.012]), np.array([0.015]), 0.05, "increase")
    assert p_value[0] == pytest.approx(0.0044651071443888675, rel=1e-9)
    # lower is better: z = (log(1.05) - log(1.012)) / 0.015
    p_lower = non_inferiority_p_value(np.array([0.012]), np.array([0.015]), 0.05, "decrease")
    assert p_lower[0] == pytest.approx(0.006996567855283641, rel=1e-9)


def test_srm_matches_scipy_chisquare():
    # scipy.stats.chisquare([5120, 4880]): statistic 5.76, p 0.01639507184919225
    result = srm_test({"control": 5120, "B": 4880})
    assert result.statistic == pytest.approx(5.76, rel=1e-12)
    assert result.p_value == pytest.approx(0.01639507184919225, rel=1e-9)
    assert not result.mismatch  # the default alarm is p < 0.001
    # scipy.stats.chisquare([3500, 3300, 3200], f_exp=[3400, 3300, 3300])
    uneven = srm_test({"control": 3500, "B": 3300, "C": 3200}, {"control": 0.34, "B": 0.33, "C": 0.33})
    assert uneven.p_value == pytest.approx(0.05050213075383813, rel=1e-9)


def test_srm_alarm_fires_below_alpha():
    # scipy.stats.chisquare([2100, 7900], f_exp=[2000, 8000]).pvalue = 0.0124…
    result = srm_test({"control": 2100, "B": 7900}, {"control": 0.2, "B": 0.8}, alpha=0.05)
    assert result.p_value == pytest.approx(0.01241933065155227, rel=1e-9)
    assert result.mismatch and "cannot be trusted" in result.message()


@pytest.mark.parametrize(
    ("method", "expected"),
    [  # statsmodels.stats.multitest.multipletests([0.01, 0.04, 0.03, 0.005, 0.2], method=...)[1]
        ("holm", [0.04, 0.09, 0.09, 0.025, 0.2]),
        ("bonferroni", [0.05, 0.2, 0.15, 0.025, 1.0]),
        ("fdr_bh", [0.025, 0.05, 0.05, 0.025, 0.2]),
        ("none", [0.01, 0.04, 0.03, 0.005, 0.2]),
    ],
)
def test_corrections_match_statsmodels(method, expected):
    assert adjust_p_values([0.01, 0.04, 0.03, 0.005, 0.2], method) == pytest.approx(expected, rel=1e-12)


def test_corrections_leave_missing_p_values_out_of_the_family():
    adjusted = adjust_p_values([0.01, np.nan, 0.04], "bonferroni")
    assert adjusted[0] == pytest.approx(0.02) and np.isnan(adjusted[1]) and adjusted[2] == pytest.approx(0.08)


def test_wilson_interval_matches_statsmodels():
    low, high = wilson_interval(np.array([30, 3]), np.array([1000, 40]))
    # statsmodels proportion_confint(30, 1000, method="wilson") and (3, 40)
    assert low == pytest.approx([0.021093738828834696, 0.025836025774588184], rel=1e-9)
    assert high == pytest.approx([0.042503414147587126, 0.1986423352431055], rel=1e-9)


# a 0/1 metric with a pre-period covariate (numpy seed 11: y ~ Bernoulli(0.15 + 0.08x), +0.10 in the variant)
PC_Y = [0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0]
PC_X = [2.6, 5.7, 2.0, 3.8, 4.2, 6.9, 4.1, 1.8, 4.5, 2.2, 1.2, 3.3, 0.3, 1.7, 0.6, 4.7, 1.3, 4.2, 3.7, 2.1, 3.2, 5.3, 1.4,
        0.4]
PV_Y = [0, 1, 1, 1, 1, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 1, 1, 1, 1, 1]
PV_X = [3.7, 6.3, 3.9, 4.8, 3.9, 0.4, 2.0, 1.7, 3.2, 3.8, 3.6, 5.2, 2.2, 5.8, 0.5, 3.5, 1.0, 0.8, 6.0, 2.0, 3.0, 8.8, 1.5,
        7.0, 1.3, 2.5]
# orders (y) per session (d) with pre-period orders (x) from the same unit propensity (numpy seed 5)
RC_Y = [4, 6, 2, 2, 3, 0, 3, 0, 1, 0, 3, 1, 5, 1, 0, 0, 1, 2, 1, 1]
RC_D = [8, 10, 2, 10, 6, 7, 8, 4, 11, 2, 4, 5, 7, 6, 3, 2, 2, 2, 3, 11]
RC_X = [5, 1, 0, 1, 1, 3, 4, 2, 1, 4, 5, 1, 4, 1, 3, 4, 6, 5, 5, 0]
RV_Y = [3, 0, 10, 1, 1, 4, 4, 4, 4, 2, 7, 4, 1, 4, 0, 0, 2, 0, 1, 3, 2, 4]
RV_D = [9, 2, 10, 3, 5, 4, 7, 4, 4, 2, 11, 4, 3, 8, 3, 10, 9, 5, 6, 5, 9, 6]
RV_X = [3, 0, 6, 6, 2, 6, 3, 8, 5, 5, 8, 8, 3, 2, 1, 1, 1, 1, 2, 1, 4, 5]


def test_cuped_for_proportions_equals_regression_adjustment():
    effect = compare(Moments.of_units(PC_Y, x=PC_X), Moments.of_units(PV_Y, x=PV_X), "proportion", cuped=True)
    # statsmodels OLS y ~ 1 + treatment + x on the 0/1 values: the treatment coefficient
    assert effect.abs_effect[0] == pytest.approx(-0.026468882193284374, rel=1e-9)
    # closed form with θ = 0.053685586126514355, the OLS slope: sqrt(var(y_c - θx_c)/n_c + var(y_v - θx_v)/n_v)
    assert effect.abs_se[0] == pytest.approx(0.1404781350145037, rel=1e-9)
    assert effect.cuped_variance_reduction[0] == pytest.approx(0.04826662306873941, rel=1e-9)
    assert effect.method[0] == "z-test, CUPED"


def test_cuped_for_ratios_equals_regression_on_the_linearised_units():
    effect = compare(Moments.of_units(RC_Y, RC_D, RC_X), Moments.of_units(RV_Y, RV_D, RV_X), "ratio", cuped=True)
    # from the units, not from sums: L = (y - R·d) / mean(d) per arm; θ = 0.08500813079398863, the x
    # coefficient of statsmodels OLS L ~ 1 + treatment + x; effect (R_v - R_c) - θ(x̄_v - x̄_c), the
    # raw difference being 0.1542841462578034; se = sqrt(var(L_c - θx_c)/n_c + var(L_v - θx_v)/n_v)
    assert effect.abs_effect[0] == pytest.approx(0.07932243092128616, rel=1e-9)
    assert effect.abs_se[0] == pytest.approx(0.08428188930604064, rel=1e-9)
    assert effect.cuped_variance_reduction[0] == pytest.approx(0.3163206580890896, rel=1e-9)
    assert effect.method[0] == "delta method z-test, CUPED"


# Expected variance reduction: the mean over the two arms of ρ²(L, x), L the unit's linearised value.
# p = 0.8·Beta(2, 6): E[p] = 0.2, Var(p) = 0.013333, E[p²] = 0.053333; x ~ Bin(8, p), Var(x) = 2.02667;
# Cov(L, x) = 8·f·Var(p) for an arm with lift f. Proportions: Var(y) = fE[p](1 - fE[p]), so
# ρ² = 0.03509 (f = 1) and 0.04192 (f = 1.15). Ratios, d uniform on 1..8 (E[d] = 4.5, E[d²] = 25.5):
# Var(L) = (E[d²]f²Var(p) + E[d](fE[p] - f²E[p²])) / E[d]², so ρ² = 0.11368 and 0.12880.
@pytest.mark.parametrize(("kind", "expected_reduction"), [("proportion", 0.03851), ("ratio", 0.12124)])
def test_cuped_intervals_keep_their_coverage(kind, expected_reduction):
    """600 simulated experiments with a known effect: the CUPED estimate is unbiased, its
    standard error matches the spread of the estimates, 95% intervals cover ~95%, and the
    variance reduction is the closed form's."""
    rng = np.random.default_rng(2026)
    lift, n, hits, estimates, errors, reductions = 1.15, 1500, 0, [], [], []
    truth = 0.2 * (lift - 1)  # E[propensity] = 0.8 / 4; for ratios too, as d is independent of it
    for _ in range(600):
        arms = []
        for factor in (1.0, lift):
            propensity = 0.8 * rng.beta(2, 6, n)  # at most 0.8, so 0.8 * lift stays a probability
            x = rng.binomial(8, propensity).astype(float)
            if kind == "proportion":
                arms.append(Moments.of_units((rng.random(n) < propensity * factor).astype(float), x=x))
            else:
                d = rng.integers(1, 9, n)
                arms.append(Moments.of_units(rng.binomial(d, propensity * factor), d, x))
        effect = compare(arms[0], arms[1], kind, cuped=True)
        estimates.append(effect.abs_effect[0])
        errors.append(effect.abs_se[0])
        hits += effect.abs_ci_low[0] < truth < effect.abs_ci_high[0]
        reductions.append(effect.cuped_variance_reduction[0])
    estimates = np.array(estimates)
    assert abs(estimates.mean() - truth) < 3 * estimates.std() / np.sqrt(len(estimates))
    assert np.std(estimates, ddof=1) / np.mean(errors) == pytest.approx(1.0, abs=0.08)
    assert 0.93 <= hits / 600 <= 0.97
    assert np.mean(reductions) == pytest.approx(expected_reduction, abs=0.004)
