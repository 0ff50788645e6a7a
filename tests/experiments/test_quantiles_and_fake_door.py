"""Quantile bootstrap against the exact bootstrap distribution and scipy; fake-door tests
against statsmodels and scipy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from prodops_lib.experiments import analyse_fake_door, fake_door_test
from prodops_lib.experiments.quantiles import bootstrap_ranks, compare_quantiles, quantile_rng
from prodops_lib.io import InputError

SAMPLE = np.array([3.1, 7.4, 2.2, 9.8, 5.5, 4.1, 6.6, 1.9, 8.3, 5.0, 4.7, 3.8, 6.1, 7.9, 2.8, 5.9, 4.4, 6.9, 3.3, 8.8,
                   5.2, 4.9, 7.1, 2.5, 6.3])


def test_bootstrap_replicates_follow_the_exact_bootstrap_distribution():
    """P(x*_(k) ≤ x_(j)) = P(Bin(n, j/n) ≥ k): the replicates' CDF matches it within the
    Dvoretzky–Kiefer–Wolfowitz band for 50,000 draws."""
    ordered = np.sort(SAMPLE)
    n = len(ordered)
    k, ranks = bootstrap_ranks(n, 0.5, 50_000, np.random.default_rng(1))
    assert k == 13 and ordered[k - 1] == pytest.approx(np.quantile(SAMPLE, 0.5, method="inverted_cdf"))
    exact = stats.binom.sf(k - 1, n, np.arange(1, n + 1) / n)
    empirical = np.array([(ranks <= j).mean() for j in range(1, n + 1)])
    assert np.max(np.abs(empirical - exact)) < 0.01


def test_percentile_interval_matches_scipy_bootstrap():
    ordered = np.sort(SAMPLE)
    _, ranks = bootstrap_ranks(len(SAMPLE), 0.5, 20_000, np.random.default_rng(0))
    interval = np.quantile(ordered[ranks - 1], [0.025, 0.975], method="inverted_cdf")
    # scipy.stats.bootstrap((SAMPLE,), median (inverted_cdf), method="percentile", n_resamples=20000,
    # random_state=0) gives (4.1, 6.6), as does the exact bootstrap distribution above
    assert interval == pytest.approx([4.1, 6.6])


def test_quantile_difference_recovers_a_known_shift():
    """Exponential(scale 10) has median 10·ln 2; a variant with scale 11 has 11·ln 2."""
    rng = np.random.default_rng(3)
    control, variant = np.sort(rng.exponential(10, 4000)), np.sort(rng.exponential(11, 4000))
    k_c, ranks_c = bootstrap_ranks(len(control), 0.5, 2000, quantile_rng(0, 0, 0))
    k_v, ranks_v = bootstrap_ranks(len(variant), 0.5, 2000, quantile_rng(0, 0, 1))
    result = compare_quantiles(control[k_c - 1], control[ranks_c - 1], variant[k_v - 1], variant[ranks_v - 1])
    truth = np.log(2)
    assert result["abs_ci_low"] < truth < result["abs_ci_high"]
    assert result["rel_ci_low"] < 0.1 < result["rel_ci_high"]
    assert 0 < result["p_value"] <= 1 and result["chance_to_beat_control"] > 0.5


def test_fake_door_wilson_interval_and_binomial_test():
    row = fake_door_test(30, 1000, 0.02)
    # statsmodels proportion_confint(30, 1000, method="wilson")
    assert row["ci_low"] == pytest.approx(0.021093738828834696, rel=1e-9)
    assert row["ci_high"] == pytest.approx(0.042503414147587126, rel=1e-9)
    # scipy.stats.binomtest(30, 1000, 0.02, alternative="greater").pvalue
    assert row["p_value_above_target"] == pytest.approx(0.02069651867323949, rel=1e-9)
    assert row["verdict"] == "above target"
    assert fake_door_test(8, 1000, 0.02)["verdict"] == "below target"
    assert fake_door_test(3, 40, 0.05)["verdict"] == "inconclusive"


def test_fake_door_against_a_control_arm():
    counts = pd.DataFrame({"variant": ["door", "control"], "exposures": [1000, 1000], "clicks": [150, 120]})
    analysis = analyse_fake_door(counts, 0.1, control="control")
    row = analysis.to_frame().iloc[0]
    # statsmodels proportions_ztest([150, 120], [1000, 1000]) and confint_proportions_2indep(..., method="wald")
    assert row["p_value_vs_control"] == pytest.approx(0.04964038686536878, rel=1e-9)
    assert row["abs_ci_high"] == pytest.approx(0.05992397117870222, rel=1e-9)
    assert analysis.headline.startswith("15.00% of the people shown the fake door clicked it (95% CI 12.92% to 17.35%): above")
    assert analysis.summary["results"][0]["verdict"] == "above target"


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"variant": ["a"], "exposures": [10], "clicks": [11]}), "clicks must be between 0 and exposures"),
        (pd.DataFrame({"variant": ["a"], "exposures": [0], "clicks": [0]}), "exposures must be at least 1"),
        (pd.DataFrame({"variant": ["a"], "exposures": ["many"], "clicks": [1]}), "must be numbers"),
        (pd.DataFrame({"variant": ["a"], "views": [10], "clicks": [1]}), "column 'exposures' not found"),
    ],
)
def test_fake_door_bad_counts_fail_in_one_line(frame, message):
    with pytest.raises(InputError, match=message) as error:
        analyse_fake_door(frame, 0.05)
    assert "\n" not in str(error.value)
