"""The experiment program: learned priors, shrinkage, cumulative impact, false wins, online FDR."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from statsmodels.stats.meta_analysis import combine_effects

from prodops_lib.experiments.program import (
    cumulative_impact,
    expected_false_wins,
    fit_prior,
    fit_priors,
    learned_prior,
    online_fdr,
    shrink_effects,
)
from prodops_lib.io import InputError

EFFECT = np.array([0.031, -0.012, 0.054, 0.008, 0.022, -0.027, 0.015, 0.041, 0.003, 0.019, -0.006, 0.036])
SE = np.array([0.012, 0.015, 0.020, 0.010, 0.011, 0.018, 0.009, 0.016, 0.013, 0.014, 0.012, 0.017])


def ledger(effect=EFFECT, se=SE, metric="conversion", **columns) -> pd.DataFrame:
    return pd.DataFrame({"experiment": [f"e{i}" for i in range(len(effect))], "metric": metric,
                         "effect": effect, "standard_error": se, **columns})


@pytest.mark.parametrize(("method", "tau2", "mean", "mean_se"), [
    # statsmodels 0.15 combine_effects(EFFECT, SE**2, method_re=...), computed once and pasted
    ("pm", 0.00027412798923673174, 0.014552098305544981, 0.006200843635678336),
    ("dl", 0.000186950007548505, 0.014428084335815038, 0.00555768823467441),
])
def test_prior_pins_tau2_and_mean_to_statsmodels_combine_effects(method, tau2, mean, mean_se):
    prior = fit_prior(EFFECT, SE, metric="conversion", method=method, min_experiments=10)
    live = combine_effects(EFFECT, SE**2, method_re=method)
    assert prior.sd**2 == pytest.approx(tau2, abs=1e-9) and prior.sd**2 == pytest.approx(live.tau2, abs=1e-12)
    assert prior.mean == pytest.approx(mean, abs=1e-9) and prior.mean == pytest.approx(live.mean_effect_re, abs=1e-12)
    assert prior.mean_standard_error == pytest.approx(mean_se, abs=1e-9)
    assert (prior.n_experiments, prior.fell_back) == (12, False)
    assert "learned from 12 past experiments" in prior.describe()
    assert prior.to_frame().shape == (1, 8)


def test_prior_falls_back_to_the_flat_default_below_min_experiments():
    prior = fit_prior(EFFECT[:5], SE[:5], metric="revenue", min_experiments=10)
    assert (prior.mean, prior.sd, prior.fell_back, prior.n_experiments) == (0.0, None, True, 5)
    assert "only 5 past experiments" in prior.describe()
    frame = pd.concat([ledger(), ledger(EFFECT[:5], SE[:5], metric="revenue")], ignore_index=True)
    assert learned_prior(frame, "revenue") == (0.0, None)
    mean, sd = learned_prior(frame, "conversion")
    assert (mean, sd**2) == pytest.approx((0.014552098305544981, 0.00027412798923673174), abs=1e-12)
    assert set(fit_priors(frame)) == {"conversion", "revenue"}


def test_shrinkage_is_the_normal_posterior_mean():
    shrunk = shrink_effects(ledger())
    tau2, mu = 0.00027412798923673174, 0.014552098305544981
    expected = (EFFECT / SE**2 + mu / tau2) / (1 / SE**2 + 1 / tau2)
    np.testing.assert_allclose(shrunk["shrunk_effect"], expected, atol=1e-10)
    np.testing.assert_allclose(shrunk["shrunk_sd"], np.sqrt(1 / (1 / SE**2 + 1 / tau2)), atol=1e-10)
    # a flat fallback prior leaves estimates alone
    flat = shrink_effects(ledger(EFFECT[:5], SE[:5]))
    np.testing.assert_array_equal(flat["shrunk_effect"], EFFECT[:5])


def test_local_fdr_matches_bayes_rule_integrated_numerically():
    # Under the prior N(0.01, 0.02²), P(θ≤0 | y) = ∫_{-∞}^0 φ(y; θ, s) φ(θ; μ, τ) dθ / φ(y; μ, sqrt(s²+τ²)),
    # computed once with scipy.integrate.quad for (y, s) = (0.05, 0.02) and (0.03, 0.01) and pasted.
    from prodops_lib.experiments.program import LearnedPrior, _posterior

    prior = LearnedPrior("m", 0.01, 0.02, None, 30, "pm", False)
    mean, variance, _ = _posterior(np.array([0.05, 0.03]), np.array([0.02, 0.01]), prior)
    lfdr = stats.norm.cdf(-mean / np.sqrt(variance))
    np.testing.assert_allclose(lfdr, [0.016947426762344658, 0.0018252172022209245], rtol=1e-7)
    live = integrate.quad(lambda t: stats.norm.pdf(0.05, t, 0.02) * stats.norm.pdf(t, 0.01, 0.02), -np.inf, 0)[0]
    assert lfdr[0] == pytest.approx(live / stats.norm.pdf(0.05, 0.01, math.hypot(0.02, 0.02)), rel=1e-6)


def test_expected_false_wins_averages_the_local_fdr_of_declared_wins():
    decision = np.where(EFFECT / SE > 1.96, "ship", "don't ship")
    wins = expected_false_wins(ledger(decision=decision), "conversion")
    tau2, mu = 0.00027412798923673174, 0.014552098305544981
    y, s = EFFECT[decision == "ship"], SE[decision == "ship"]
    mean = (y / s**2 + mu / tau2) / (1 / s**2 + 1 / tau2)
    np.testing.assert_allclose(wins["local_fdr"], stats.norm.cdf(-mean * np.sqrt(1 / s**2 + 1 / tau2)), rtol=1e-9)
    assert len(wins) == 5 and 0 < wins["local_fdr"].mean() < 0.1
    # a lower-is-better metric: a win is a drop, and a false win is a true effect ≥ 0
    dropped = ledger(-EFFECT, SE, decision=decision)
    np.testing.assert_allclose(expected_false_wins(dropped, "conversion", direction="decrease")["local_fdr"],
                               wins["local_fdr"], rtol=1e-12)


def test_cumulative_impact_naive_and_shrunk_sums_with_intervals():
    shipped = EFFECT / SE > 1.96
    impact = cumulative_impact(ledger(shipped=shipped), "conversion")
    tau2, mu, mu_se = 0.00027412798923673174, 0.014552098305544981, 0.006200843635678336
    y, s = EFFECT[shipped], SE[shipped]
    b = s**2 / (s**2 + tau2)
    assert impact.naive == pytest.approx(y.sum(), abs=1e-12)
    assert impact.shrunk == pytest.approx(np.sum(mu + (1 - b) * (y - mu)), abs=1e-10)
    half = stats.norm.ppf(0.975) * np.sqrt(np.sum(s**2 * (1 - b)) + b.sum() ** 2 * mu_se**2)
    assert impact.shrunk_high - impact.shrunk == pytest.approx(half, abs=1e-10)
    assert impact.shrunk < impact.naive and "winner's curse" in impact.describe()


def simulate_program(rng, n=40, mu=0.005, tau=0.02):
    theta = rng.normal(mu, tau, n)
    se = rng.uniform(0.005, 0.015, n)
    effect = rng.normal(theta, se)
    return theta, ledger(effect, se, shipped=effect / se > 1.96)


def test_over_200_programs_shrunk_impact_beats_naive_sum_and_tau_is_recovered_within_20_percent():
    # "Recovered within 20%": over 200 programs of 40 experiments (τ = 0.02, s_i ~ U(0.005, 0.015)),
    # the median of |τ̂ - τ| / τ is at most 0.20.
    rng = np.random.default_rng(20261206)
    naive_errors, shrunk_errors, relative_tau_errors, covered = [], [], [], []
    for _ in range(200):
        theta, frame = simulate_program(rng)
        impact = cumulative_impact(frame, "conversion", min_experiments=30)
        truth = theta[frame["shipped"].to_numpy()].sum()
        naive_errors.append(impact.naive - truth)
        shrunk_errors.append(impact.shrunk - truth)
        relative_tau_errors.append(abs(learned_prior(frame, "conversion", min_experiments=30)[1] / 0.02 - 1))
        covered.append(impact.shrunk_low <= truth <= impact.shrunk_high)
    naive_mse, shrunk_mse = np.mean(np.square(naive_errors)), np.mean(np.square(shrunk_errors))
    assert shrunk_mse < naive_mse  # measured 0.00099 vs 0.00414 (naive bias +0.055, shrunk -0.00001)
    assert np.mean(covered) >= 0.90  # the shrunk 95% interval: measured 0.93 (the naive one: 0.60)
    assert np.median(relative_tau_errors) <= 0.20  # measured 0.095


def test_online_fdr_follows_lord_plus_plus_in_time_order():
    frame = ledger(EFFECT, SE, decided_at=pd.date_range("2026-01-01", periods=12, freq="W")[::-1])
    stream = online_fdr(frame, order_by="decided_at", alpha=0.05)
    assert list(stream["experiment"]) == [f"e{i}" for i in range(11, -1, -1)]
    np.testing.assert_allclose(stream["p_value"], 2 * stats.norm.sf(np.abs(stream["effect"] / stream["standard_error"])))
    # LORD++ closed form (Ramdas et al. 2017): α_1 = W0·γ_1, γ_j = c·log(max(j,2)) / (j·exp(sqrt(log j)))
    c = 0.07720838
    gamma = lambda j: c * math.log(max(j, 2)) / (j * math.exp(math.sqrt(math.log(j))))  # noqa: E731
    assert stream["test_level"].iloc[0] == pytest.approx(0.025 * gamma(1), rel=1e-12)
    first = ledger(np.array([0.05, 0.0]), np.array([0.005, 0.01]), decided_at=[1, 2])
    after_win = online_fdr(first, order_by="decided_at", alpha=0.05)
    assert after_win["discovery"].tolist() == [True, False]
    assert after_win["test_level"].iloc[1] == pytest.approx(0.025 * gamma(2) + 0.025 * gamma(1), rel=1e-12)


def test_online_fdr_keeps_the_false_discovery_proportion_below_alpha():
    # 200 streams of 200 experiments, 30% with a real effect of 3 standard errors: the mean false
    # discovery proportion (measured 0.006) stays below α = 0.05 while real effects are found.
    rng = np.random.default_rng(7)
    proportions, discoveries = [], []
    for _ in range(200):
        real = rng.random(200) < 0.3
        stream = online_fdr(ledger(rng.normal(np.where(real, 0.03, 0.0), 0.01), np.full(200, 0.01), t=np.arange(200),
                                   real=real), order_by="t", alpha=0.05)
        found = stream["discovery"].to_numpy()
        proportions.append((found & ~stream["real"].to_numpy()).sum() / max(found.sum(), 1))
        discoveries.append(found.sum())
    assert np.mean(proportions) <= 0.05 and np.mean(discoveries) > 10


def test_html_of_results_escapes_metric_names():
    frame = ledger(metric="<script>x</script>", shipped=EFFECT > 0)
    for result in (fit_prior(EFFECT, SE, metric="<script>x</script>"),
                   cumulative_impact(frame, "<script>x</script>")):
        assert "<script>" not in result._repr_html_() and "&lt;script&gt;" in result._repr_html_()


def test_bad_input_gets_one_clear_line():
    with pytest.raises(InputError, match="missing column"):
        fit_priors(pd.DataFrame({"metric": ["a"]}))
    with pytest.raises(InputError, match="method must be one of"):
        fit_prior(EFFECT, SE, method="reml")
    with pytest.raises(InputError, match="standard_error must be positive"):
        shrink_effects(ledger(se=np.zeros(12)))
    with pytest.raises(InputError, match="initial_wealth"):
        online_fdr(ledger(t=np.arange(12)), order_by="t", initial_wealth=0.1)
    with pytest.raises(InputError, match="direction must be"):
        expected_false_wins(ledger(decision="ship"), "conversion", direction="up")
    with pytest.raises(InputError, match="no prior for metric"):
        shrink_effects(ledger(), priors={})
