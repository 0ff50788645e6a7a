"""Bayesian view and always-valid monitoring against closed forms and simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from prodops_lib.experiments.bayes import normal_posterior
from prodops_lib.experiments.sequential import (
    always_valid_p_values,
    confidence_sequence_halfwidth,
    mixture_variance,
)


def test_flat_prior_posterior_closed_form():
    posterior = normal_posterior(0.03, 0.01)
    # closed form: Φ(3) and σφ(3) - μΦ(-3) (scipy.stats.norm)
    assert posterior.chance_to_beat_control[0] == pytest.approx(0.9986501019683699, rel=1e-12)
    assert posterior.expected_loss[0] == pytest.approx(3.8215431704772745e-06, rel=1e-9)


def test_gaussian_prior_shrinks_the_lift():
    posterior = normal_posterior(0.03, 0.01, prior_mean=0.0, prior_sd=0.02)
    # conjugate normal: precision 1/0.01² + 1/0.02² = 12500, mean 0.03·10000/12500 = 0.024
    assert posterior.mean[0] == pytest.approx(0.024, rel=1e-12)
    assert posterior.sd[0] == pytest.approx(0.00894427190999916, rel=1e-12)
    assert posterior.chance_to_beat_control[0] == pytest.approx(0.9963548209542322, rel=1e-12)
    assert posterior.expected_loss[0] == pytest.approx(1.0013527224131296e-05, rel=1e-9)
    assert posterior.credible_low[0] == pytest.approx(0.0064695491884683674, rel=1e-9)
    assert posterior.credible_high[0] == pytest.approx(0.04153045081153163, rel=1e-9)


def test_expected_loss_agrees_with_monte_carlo():
    rng = np.random.default_rng(5)
    draws = rng.normal(-0.004, 0.01, 2_000_000)
    posterior = normal_posterior(-0.004, 0.01)
    assert posterior.expected_loss[0] == pytest.approx(np.maximum(0, -draws).mean(), rel=5e-3)
    assert posterior.chance_to_beat_control[0] == pytest.approx((draws > 0).mean(), abs=2e-3)
    # lower-is-better flips the sign: the loss is E[max(0, δ)]
    lower = normal_posterior(-0.004, 0.01, direction="decrease")
    assert lower.expected_loss[0] == pytest.approx(np.maximum(0, draws).mean(), rel=5e-3)


def test_confidence_sequence_and_msprt_closed_form():
    # closed form with V = τ² = 1e-4, α = 0.05: sqrt(V(V+τ²)/τ² · (2 log 20 + log 2))
    assert confidence_sequence_halfwidth(np.array([1e-4]), 1e-4, 0.05)[0] == pytest.approx(0.03656394871363849, rel=1e-12)
    # Λ = sqrt(V/(V+τ²)) exp(τ²Δ²/(2V(V+τ²))) with Δ = 0.03; p = 1/Λ
    assert always_valid_p_values(np.array([0.03]), np.array([1e-4]), 1e-4)[0] == pytest.approx(0.14905701283899597, rel=1e-12)


def test_mixture_variance_minimises_the_boundary_at_the_target():
    # a grid search of (1+r)/r·(2 log 20 + log(1+r)) over 2,000,001 points of log r finds r* = 8.2119
    assert mixture_variance(1.0, 0.05) == pytest.approx(8.21194662909872, rel=1e-5)
    assert mixture_variance(3.0, 0.05) == pytest.approx(3 * 8.21194662909872, rel=1e-5)


def test_always_valid_p_value_keeps_its_level_under_daily_peeking():
    """Under no effect, checking a naive p-value every day rejects far more than 5% of the
    time; the mSPRT p-value stays below 5% (simulation, 4,000 experiments x 30 looks)."""
    rng = np.random.default_rng(2024)
    experiments, looks, per_look = 4000, 30, 200
    sums = np.cumsum(rng.normal(0, np.sqrt(per_look), (experiments, looks, 2)), axis=1)
    n = per_look * np.arange(1, looks + 1)
    estimate = (sums[..., 1] - sums[..., 0]) / n
    variance = 2.0 / n
    naive_rejected = (2 * stats.norm.sf(np.abs(estimate) / np.sqrt(variance)) < 0.05).any(axis=1).mean()
    tau2 = mixture_variance(variance[-1], 0.05)
    always_valid = np.array([always_valid_p_values(row, variance, tau2)[-1] for row in estimate])
    assert naive_rejected > 0.15
    assert (always_valid < 0.05).mean() < 0.05
