"""The comparison units' weights against independent fits: inverse-propensity weights equal
statsmodels' logistic regression odds, and the balance measures equal their closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from prodops_lib.beta.stack import _balance, _propensity_weights


def _groups(seed: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal([1.0, 0.2], [1.0, 0.5], size=(60, 2)), rng.normal([0.0, 0.0], [1.0, 0.5], size=(400, 2))


def test_propensity_weights_are_statsmodels_logit_odds_scaled_to_the_beta_units() -> None:
    treated, controls = _groups()
    features = np.concatenate([treated, controls])
    joined = np.r_[np.ones(len(treated)), np.zeros(len(controls))]
    chance = sm.Logit(joined, sm.add_constant(features)).fit(disp=0).predict(sm.add_constant(controls))
    odds = chance / (1 - chance)
    expected = odds * len(treated) / odds.sum()
    weights = _propensity_weights(treated, controls)
    assert weights == pytest.approx(expected, rel=1e-5)
    assert weights.sum() == pytest.approx(60.0)


def test_balance_is_the_largest_standardised_gap_and_the_effective_count() -> None:
    treated = np.array([[1.0, 10.0], [3.0, 10.0]])
    controls = np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]])
    weight = np.array([1.0, 1.0, 0.0])
    gap, effective = _balance(treated, controls, weight)
    # pooled sd of (1, 3, 0, 2, 4) is sqrt(2); means 2 and 1 (weighted); the constant column counts 0
    assert gap == pytest.approx(1 / np.sqrt(2))
    assert effective == pytest.approx(2.0)  # (1 + 1)² / (1 + 1)
