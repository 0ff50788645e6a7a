"""The A/B analysis's statistical options, each against scipy, statsmodels or a closed form.

The reference values are written as literals (scipy 1.17, statsmodels 0.15, computed once; the
call is in the comment beside each), and where a call is cheap it is also made live.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower, TTestIndPower

from prodops_lib.experiments import MetricSpec, analyse_experiment
from prodops_lib.experiments.corrections import adjust_p_values
from prodops_lib.experiments.effects import EXTRA_COLUMN_DESCRIPTIONS, EXTRA_COLUMNS
from prodops_lib.experiments.inference import compare
from prodops_lib.experiments.moments import Moments
from prodops_lib.experiments.power import (
    minimum_detectable_effect,
    required_sample_size,
    statistical_power,
)
from prodops_lib.experiments.report import ExperimentReport, method_block
from prodops_lib.experiments.srm import srm_test
from prodops_lib.params import load

from .conftest import make_spec, make_units

CONTROL = [12.1, 9.8, 11.4, 10.2, 13.5, 8.9, 10.7, 11.1, 9.5, 12.8]
VARIANT = [13.2, 12.4, 11.9, 14.8, 10.6, 13.9, 12.2, 15.1, 11.7, 12.9, 14.0, 13.3]


def proportion(successes: int, n: int) -> Moments:
    return Moments.of_units(np.r_[np.ones(successes), np.zeros(n - successes)])


def summary_moments(n: int, mean: float, sd: float) -> Moments:
    """The sums of a group with this mean and sample standard deviation."""
    sum_y2 = (n - 1) * sd**2 + n * mean**2
    return Moments(n=float(n), sum_y=n * mean, sum_y2=sum_y2, sum_d=float(n), sum_d2=float(n), sum_yd=n * mean,
                   sum_x=0.0, sum_x2=0.0, sum_yx=0.0, sum_dx=0.0)


# n = 100 per arm: control 10 (sd 3), variant 11 (sd 3.5)
SMALL_C, SMALL_V = summary_moments(100, 10.0, 3.0), summary_moments(100, 11.0, 3.5)


def test_relative_interval_of_a_mean_uses_the_welch_t_of_the_absolute_interval():
    effect = compare(SMALL_C, SMALL_V, "mean")
    # closed form exp(log(11/10) ± t_{0.975, ν}·sqrt(Vv/11² + Vc/10²)) - 1, ν = 193.47443873410873 (Welch)
    assert effect.dof[0] == pytest.approx(193.47443873410873, rel=1e-12)
    assert effect.rel_ci_low[0] == pytest.approx(0.009100722464839228, rel=1e-9)
    assert effect.rel_ci_high[0] == pytest.approx(0.1990874380155456, rel=1e-9)
    # with z (the old interval) it was 0.009645295873820733 to 0.19844068500589393: 0.63% narrower
    crit = stats.t.ppf(0.975, effect.dof[0])
    assert np.log1p(effect.rel_ci_high[0]) - np.log(1.1) == pytest.approx(crit * effect.log_ratio_se[0], rel=1e-12)
    # scipy.stats.ttest_ind_from_stats(11, 3.5, 100, 10, 3, 100, equal_var=False)
    assert effect.p_value[0] == pytest.approx(0.03127895666323926, rel=1e-9)


def test_relative_lift_p_value_and_linear_interval():
    log_scale = compare(SMALL_C, SMALL_V, "mean")
    linear = compare(SMALL_C, SMALL_V, "mean", relative_interval="linear")
    # closed form: 2·P(T_ν > log(1.1)/se_log) and 2·P(T_ν > 0.1/se_rel), se_rel² = Vv/10² + 11²·Vc/10⁴
    assert log_scale.rel_p_value[0] == pytest.approx(0.030504812969561795, rel=1e-9)
    assert linear.rel_p_value[0] == pytest.approx(0.0389521352720461, rel=1e-9)
    assert linear.rel_se[0] == pytest.approx(0.048104053883222773, rel=1e-12)
    # 0.1 ± t_{0.975, ν}·se_rel
    assert linear.rel_ci_low[0] == pytest.approx(0.005124318696807975, rel=1e-9)
    assert linear.rel_ci_high[0] == pytest.approx(0.19487568130319205, rel=1e-9)
    assert linear.abs_ci_low[0] == log_scale.abs_ci_low[0]  # the absolute interval does not depend on it


def test_student_pooled_t_test_matches_scipy():
    effect = compare(Moments.of_units(CONTROL), Moments.of_units(VARIANT), "mean", equal_var=True)
    # scipy.stats.ttest_ind(VARIANT, CONTROL, equal_var=True): statistic, p, df, confidence_interval(0.95)
    live = stats.ttest_ind(VARIANT, CONTROL, equal_var=True)
    assert effect.statistic[0] == pytest.approx(3.3466847288968435, rel=1e-9) == live.statistic
    assert effect.p_value[0] == pytest.approx(0.0032126011847806056, rel=1e-9)
    assert effect.dof[0] == 20.0
    assert effect.abs_ci_low[0] == pytest.approx(0.7534150263664352, rel=1e-9)
    assert effect.abs_ci_high[0] == pytest.approx(3.2465849736335683, rel=1e-9)
    assert effect.method[0] == "Student t-test (pooled variance)"


def test_one_sided_welch_and_student_tests_match_scipy():
    greater = compare(Moments.of_units(CONTROL), Moments.of_units(VARIANT), "mean", alternative="greater")
    # scipy.stats.ttest_ind(VARIANT, CONTROL, equal_var=False, alternative="greater") and its interval
    assert greater.p_value[0] == pytest.approx(0.0019044333548073704, rel=1e-9)
    assert greater.abs_ci_low[0] == pytest.approx(0.9536804005776294, rel=1e-9)
    assert greater.abs_ci_high[0] == np.inf and greater.rel_ci_high[0] == np.inf
    assert greater.method[0] == "Welch t-test, one-sided: greater"
    less = compare(Moments.of_units(CONTROL), Moments.of_units(VARIANT), "mean", alternative="less", equal_var=True)
    # scipy.stats.ttest_ind(VARIANT, CONTROL, equal_var=True, alternative="less")
    assert less.p_value[0] == pytest.approx(0.9983936994076097, rel=1e-9)
    assert less.abs_ci_low[0] == -np.inf and less.rel_ci_low[0] == -np.inf
    assert less.abs_ci_high[0] == pytest.approx(3.0307025505144036, rel=1e-9)
    assert less.method[0] == "Student t-test (pooled variance), one-sided: less"


def test_one_sided_z_tests_halve_the_two_sided_p_value_on_their_side():
    two_sided = compare(proportion(120, 1000), proportion(150, 1000), "proportion")
    greater = compare(proportion(120, 1000), proportion(150, 1000), "proportion", alternative="greater")
    less = compare(proportion(120, 1000), proportion(150, 1000), "proportion", alternative="less")
    assert greater.p_value[0] == pytest.approx(two_sided.p_value[0] / 2, rel=1e-12)
    assert less.p_value[0] == pytest.approx(1 - two_sided.p_value[0] / 2, rel=1e-12)
    # statsmodels proportions_ztest([150, 120], [1000, 1000], alternative="larger")
    assert greater.statistic[0] == pytest.approx(1.963049807622355, rel=1e-9)
    assert greater.p_value[0] == pytest.approx(0.02482019343268439, rel=1e-9)


def test_continuity_corrected_z_test_matches_yates_and_r_prop_test():
    effect = compare(proportion(120, 1000), proportion(150, 1000), "proportion", test="z_continuity")
    # scipy.stats.chi2_contingency([[150, 850], [120, 880]], correction=True): p, sqrt(statistic)
    assert effect.p_value[0] == pytest.approx(0.057746841509689, rel=1e-9)
    assert effect.statistic[0] == pytest.approx(1.8976148140349434, rel=1e-9)
    # R prop.test(c(150, 120), c(1000, 1000)): Δ ± (z·se_Wald + ½(1/n_c + 1/n_v)), as a closed form
    assert effect.abs_ci_low[0] == pytest.approx(-0.0009239711787022145, rel=1e-9)
    assert effect.abs_ci_high[0] == pytest.approx(0.06092397117870221, rel=1e-9)
    assert effect.method[0] == "two-proportion z-test with continuity correction"
    greater = compare(proportion(120, 1000), proportion(150, 1000), "proportion", test="z_continuity",
                      alternative="greater")
    # closed form: P(Z > (Δ - 0.001)/se₀), lower bound Δ - z_0.95·se_Wald - 0.001
    assert greater.p_value[0] == pytest.approx(0.028873420754844368, rel=1e-9)
    assert greater.abs_ci_low[0] == pytest.approx(0.0038870117439273886, rel=1e-9)


@pytest.mark.parametrize(
    ("test", "alternative", "expected"),
    [  # scipy.stats.<test>_exact([[7, 1], [13, 19]], alternative=...).pvalue (columns: variant, control)
        ("fisher", "two-sided", 0.04359604359604359),
        ("fisher", "greater", 0.0217980217980218),
        ("barnard", "two-sided", 0.02159604731582725),
        ("barnard", "greater", 0.010798023657913642),
        ("boschloo", "two-sided", 0.021502095321059074),
        ("boschloo", "greater", 0.010751047660529537),
    ],
)
def test_exact_tests_on_request_match_scipy(test, alternative, expected):
    effect = compare(proportion(1, 20), proportion(7, 20), "proportion", test=test, alternative=alternative)
    assert effect.p_value[0] == pytest.approx(expected, rel=1e-9)
    assert effect.method[0].startswith({"fisher": "Fisher", "barnard": "Barnard", "boschloo": "Boschloo"}[test])
    assert np.isnan(effect.statistic[0])


def test_an_exact_test_on_request_runs_at_any_count_and_a_one_sided_newcombe_bound_is_open():
    effect = compare(proportion(120, 1000), proportion(150, 1000), "proportion", test="fisher", alternative="greater")
    # scipy.stats.fisher_exact([[150, 120], [850, 880]], alternative="greater")
    assert effect.p_value[0] == pytest.approx(stats.fisher_exact([[150, 120], [850, 880]], alternative="greater").pvalue)
    # statsmodels confint_proportions_2indep(150, 1000, 120, 1000, method="newcomb", alpha=0.10): the lower bound
    assert effect.abs_ci_low[0] == pytest.approx(0.00485148727560189, rel=1e-9)
    assert effect.abs_ci_high[0] == np.inf


def test_barnard_and_boschloo_are_refused_above_their_size_limit():
    with pytest.raises(ValueError, match=r"test .boschloo. enumerates every table .* 1,000 units .*limit 500"):
        compare(proportion(120, 1000), proportion(150, 1000), "proportion", test="boschloo")


@pytest.mark.parametrize(
    ("method", "expected"),
    [  # closed forms on [0.01, 0.04, 0.03, 0.005, 0.2]; statsmodels multipletests gives the same
        # Holm-Šidák: max-accumulated 1 - (1 - p_(j))^(m - j + 1)
        ("holm_sidak", [0.03940399, 0.087327, 0.087327, 0.024751246878125, 0.2]),
        # Hochberg: min over j ≥ i of (m - j + 1)·p_(j)
        ("hochberg", [0.04, 0.08, 0.08, 0.025, 0.2]),
        # Benjamini–Yekutieli: BH times 1 + 1/2 + 1/3 + 1/4 + 1/5 = 137/60
        ("fdr_by", [0.05708333333333333, 0.11416666666666667, 0.11416666666666665, 0.05708333333333333,
                    0.45666666666666667]),
    ],
)
def test_new_corrections_match_their_closed_forms(method, expected):
    p_values = [0.01, 0.04, 0.03, 0.005, 0.2]
    assert adjust_p_values(p_values, method) == pytest.approx(expected, rel=1e-12)
    statsmodels_name = {"holm_sidak": "holm-sidak", "hochberg": "simes-hochberg", "fdr_by": "fdr_by"}[method]
    assert adjust_p_values(p_values, method) == pytest.approx(multipletests(p_values, method=statsmodels_name)[1])


def test_holm_matches_its_closed_form_and_statsmodels():
    p_values = [0.01, 0.04, 0.03, 0.005, 0.2]
    # max-accumulated (m - j + 1)·p_(j) over 0.005, 0.01, 0.03, 0.04, 0.2: 0.025, 0.04, 0.09, 0.09, 0.2
    assert adjust_p_values(p_values, "holm") == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.2], rel=1e-12)
    rng = np.random.default_rng(3)
    for size in (1, 2, 7, 40):  # ties, values near 1 (capped) and NaN left out of the family
        drawn = np.round(rng.uniform(0, 1, size) ** 3, 2)
        drawn[rng.random(size) < 0.1] = np.nan
        present = ~np.isnan(drawn)
        expected = np.full(size, np.nan)
        if present.any():
            expected[present] = multipletests(drawn[present], method="holm")[1]
        assert adjust_p_values(drawn, "holm") == pytest.approx(expected, abs=1e-15, nan_ok=True)


def test_exact_sample_ratio_test_for_two_variants_matches_binomtest():
    result = srm_test({"control": 5150, "treatment": 4850}, method="exact")
    # scipy.stats.binomtest(5150, 10000, 0.5).pvalue
    assert result.p_value == pytest.approx(0.002787967517712775, rel=1e-9)
    assert result.method == "exact binomial"
    unequal = srm_test({"control": 520, "treatment": 480}, {"control": 0.6, "treatment": 0.4}, method="exact")
    # scipy.stats.binomtest(520, 1000, 0.6).pvalue
    assert unequal.p_value == pytest.approx(3.2259807873092316e-07, rel=1e-9)


def test_exact_sample_ratio_test_with_three_variants_keeps_chi_square_and_says_so():
    units = {"control": 1000, "B": 1100, "C": 950}
    result = srm_test(units, method="exact")
    assert result.p_value == pytest.approx(srm_test(units).p_value, rel=1e-12)
    assert result.method == "chi-square (the exact test is for two variants)"


def test_one_sided_power_and_sample_size_match_statsmodels():
    # NormalIndPower().power(0.2, nobs1=200, alpha=0.05, alternative="larger"); effect 0.2 of sd 1
    assert statistical_power(0.2, 1.0, 200, alternative="greater") == pytest.approx(0.638760031312335, rel=1e-9)
    # NormalIndPower().solve_power(0.2, power=0.8, alpha=0.05, alternative="larger")
    assert required_sample_size(0.2, 1.0, alternative="greater") == pytest.approx(309.1278616012884, rel=1e-6)
    assert statistical_power(0.2, 1.0, 200, alternative="less") == pytest.approx(
        NormalIndPower().power(0.2, nobs1=200, alpha=0.05, alternative="larger"))


def test_noncentral_t_power_and_sample_size_match_statsmodels():
    # TTestIndPower().power(0.8, nobs1=15, alpha=0.05), and alternative="larger"
    assert statistical_power(0.8, 1.0, 15, distribution="t") == pytest.approx(0.5617848517410415, rel=1e-9)
    assert statistical_power(0.8, 1.0, 15, alternative="greater", distribution="t") == pytest.approx(
        0.6888567194839921, rel=1e-9)
    # TTestIndPower().solve_power(0.8, power=0.8, alpha=0.05); (0.5, power=0.9, alternative="larger")
    assert required_sample_size(0.8, 1.0, distribution="t") == pytest.approx(25.524571854446116, rel=1e-6)
    assert required_sample_size(0.5, 1.0, power=0.9, alternative="greater", distribution="t") == pytest.approx(
        69.19782186030285, rel=1e-6)
    # TTestIndPower().solve_power(None, nobs1=10, power=0.8, alpha=0.05)
    assert minimum_detectable_effect(10, 1.0, distribution="t") == pytest.approx(1.324947368330822, rel=1e-6)
    assert statistical_power(0.5, 1.0, 40, distribution="t") == pytest.approx(
        TTestIndPower().power(0.5, nobs1=40, alpha=0.05))


def test_results_carry_statistic_relative_se_and_posterior():
    analysis = analyse_experiment(make_units(6000, seed=5), make_spec())
    table = analysis.results
    assert set(EXTRA_COLUMN_DESCRIPTIONS) == set(EXTRA_COLUMNS)
    revenue = table[table["metric"] == "revenue"].iloc[0]
    assert revenue["statistic"] == pytest.approx(revenue["abs_effect"] / revenue["abs_se"], rel=1e-12)
    assert revenue["dof"] > 100
    # a flat prior: the posterior of the relative lift is N(lift, se_rel²)
    assert revenue["posterior_mean"] == pytest.approx(revenue["rel_effect"], rel=1e-12)
    assert revenue["posterior_sd"] == pytest.approx(revenue["rel_se"], rel=1e-12)
    converted = table[table["metric"] == "converted"].iloc[0]
    assert np.isnan(converted["dof"]) and converted["rel_p_value"] < 1


def _write_report(tmp_path, metric_settings: dict, experiment_settings: dict | None = None):
    """A parameter file whose primary metric is ``converted`` with ``metric_settings``."""
    data = make_units(4000, seed=11)
    data = data[data["variant"] != "C"]  # two variants: the exact sample ratio test applies
    data.to_parquet(tmp_path / "units.parquet")
    experiment = {"name": "options", "unit": "user_id", **(experiment_settings or {}), "metrics": [
        {"name": "converted", "kind": "proportion", "role": "primary", **metric_settings},
        {"name": "revenue", "kind": "mean", "equal_var": True, "alternative": "greater"}]}
    path = tmp_path / "ab_options.yaml"
    path.write_text(yaml.safe_dump({"source": str(tmp_path / "units.parquet"), "experiment": experiment}))
    return load(path, ExperimentReport)


def test_options_reach_the_results_method_and_the_method_block_through_the_parameters(tmp_path):
    report = _write_report(tmp_path, {"alternative": "greater", "test": "fisher"},
                           {"correction": "hochberg", "relative_interval": "linear", "srm_test": "exact"})
    analysis = analyse_experiment(report.source, report.experiment)
    methods = dict(zip(analysis.results["metric"], analysis.results["method"], strict=False))
    assert methods["converted"] == "Fisher exact test, Newcombe interval, one-sided: greater"
    assert methods["revenue"] == "Student t-test (pooled variance), one-sided: greater"
    assert analysis.srm.method == "exact binomial"
    text = str(method_block(analysis))
    for sentence in ("converted is tested one-sided (greater)", "revenue uses Student&#x27;s t-test",
                     "converted uses Fisher&#x27;s exact test", "Hochberg&#x27;s method",
                     "delta method on the ratio itself (linear)", "an exact binomial test",
                     "one-sided as the primary metric&#x27;s test"):
        assert sentence in text, sentence
    assert analysis.power is not None and analysis.power.alternative == "greater"


def test_a_one_sided_primary_test_can_declare_a_win_but_never_a_loss():
    data = make_units(9000, seed=2)
    data = data[data["variant"] != "C"]
    greater = [MetricSpec("converted", kind="proportion", role="primary", alternative="greater")]
    won = analyse_experiment(data, make_spec(metrics=greater))
    assert won.decision.verdict == "ship" and "one-sided" in " ".join(won.decision.reasons)
    # the same data with control and B swapped: a clear drop, which a one-sided test does not call a loss
    swapped = data.assign(variant=data["variant"].map({"control": "B", "B": "control"}))
    two_sided = analyse_experiment(swapped, make_spec(metrics=[dataclasses.replace(greater[0], alternative="two-sided")]))
    assert two_sided.decision.headline.startswith("Don't ship: converted got worse")
    one_sided = analyse_experiment(swapped, make_spec(metrics=greater))
    # the headline says it went the other way, not that the sample was too small to tell
    assert one_sided.decision.verdict == "don't ship"
    assert one_sided.decision.headline.startswith("Don't ship: converted did not improve (B -")
    assert one_sided.decision.headline.endswith("it moved the other way, which a one-sided test cannot call a loss.")
    assert not one_sided.results["significant"].iloc[0]


def test_a_continuity_correction_is_kept_per_segment():
    """The Yates-corrected z is cheap, so segments use it too (the exact tests fall back to the
    z-test there); reference: scipy.stats.chi2_contingency(correction=True) on each segment."""
    from scipy.stats import chi2_contingency

    data = make_units(6000, seed=8)
    data = data[data["variant"] != "C"]
    metric = [MetricSpec("converted", kind="proportion", role="primary", test="z_continuity")]
    analysis = analyse_experiment(data, make_spec(metrics=metric, segments=["country"]))
    checked = 0
    for row in analysis.segments.itertuples():
        rows = data[data["country"] == row.segment] if row.segment != "other" else None
        if rows is None:
            continue
        table = pd.crosstab(rows["variant"], rows["converted"]).loc[["control", "B"]].to_numpy()
        assert row.method == "two-proportion z-test with continuity correction"
        assert row.p_value == pytest.approx(chi2_contingency(table, correction=True).pvalue, rel=1e-9)
        checked += 1
    assert checked >= 2


@pytest.mark.parametrize(
    ("metric", "message"),
    [
        ({"alternative": "bigger"}, "metric 'm': alternative 'bigger' is not one of 'two-sided', 'greater', 'less'"),
        ({"test": "fishr", "kind": "proportion"},
         "metric 'm': test 'fishr' is not one of 'auto', 'z_continuity', 'fisher', 'barnard', 'boschloo'"),
        ({"test": "fisher"}, "metric 'm': test 'fisher' is a test of two proportions and m is kind 'mean'"),
        ({"equal_var": True, "kind": "ratio", "numerator": "a", "denominator": "b"},
         "metric 'm': equal_var .* applies to kind 'mean', not 'ratio'"),
        ({"test": "barnard", "kind": "proportion", "covariate": "x"}, "cannot use the covariate 'x'"),
        ({"alternative": "less"}, "alternative 'less' on a primary metric with direction 'increase' can never show"),
    ],
)
def test_bad_test_options_are_one_line_naming_the_parameter(metric, message):
    with pytest.raises(ValueError, match=message) as error:
        make_spec(metrics=[MetricSpec(**{"name": "m", "role": "primary", **metric})])
    assert "\n" not in str(error.value)


def test_a_one_sided_guardrail_and_an_unknown_correction_are_refused():
    with pytest.raises(ValueError, match="a guardrail is already tested one-sided"):
        MetricSpec("g", role="guardrail", alternative="greater")
    with pytest.raises(ValueError, match="correction 'sidak' is not one of 'holm', 'bonferroni', 'holm_sidak', "
                                         "'hochberg', 'fdr_bh', 'fdr_by', 'none'"):
        make_spec(correction="sidak")


def test_an_unknown_option_in_a_parameter_file_names_the_key_and_the_allowed_values(tmp_path):
    with pytest.raises(ValueError, match=r"test.*'fishr' is not allowed.*'fisher'") as error:
        _write_report(tmp_path, {"test": "fishr"})
    assert "\n" not in str(error.value)
