"""Bayesian view of a lift: normal approximation with an optional Gaussian prior.

With the estimated lift ``δ̂`` and its standard error ``s`` as a normal likelihood and a prior
``δ ~ N(μ₀, τ²)`` (flat when no ``τ`` is given), the posterior is normal with precision
``1/s² + 1/τ²`` and mean ``(δ̂/s² + μ₀/τ²) / (1/s² + 1/τ²)`` (conjugate normal model, e.g.
Gelman et al., *Bayesian Data Analysis*, §2.5; the approach of GrowthBook's engine). For a
posterior ``N(μ, σ²)`` and a metric where higher is better:

* chance to beat control ``P(δ > 0) = Φ(μ/σ)``;
* expected loss of shipping ``E[max(0, -δ)] = σ·φ(μ/σ) - μ·Φ(-μ/σ)`` (what you give up, on
  average, in the cases where the variant is actually worse);
* credible interval ``μ ± z_{1-α/2}·σ``.

For lower-is-better metrics the signs flip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri  # Φ and Φ⁻¹, as scipy.stats.norm's cdf and ppf

from .moments import ArrayFields

__all__ = ["Posterior", "normal_posterior"]


@dataclass(frozen=True)
class Posterior(ArrayFields):
    """Posterior of the lift (arrays, one entry per comparison)."""

    mean: np.ndarray
    sd: np.ndarray
    chance_to_beat_control: np.ndarray
    expected_loss: np.ndarray
    credible_low: np.ndarray
    credible_high: np.ndarray


def normal_posterior(
    estimate: np.ndarray | float,
    standard_error: np.ndarray | float,
    *,
    direction: str = "increase",
    prior_mean: float = 0.0,
    prior_sd: float | None = None,
    alpha: float = 0.05,
) -> Posterior:
    """Posterior of a lift from its estimate and standard error (see the module docstring)."""
    estimate = np.atleast_1d(np.asarray(estimate, dtype=float))
    standard_error = np.atleast_1d(np.asarray(standard_error, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = 1.0 / standard_error**2
        if prior_sd is None:
            mean, sd = estimate, standard_error
        else:
            prior_precision = 1.0 / prior_sd**2
            mean = (estimate * precision + prior_mean * prior_precision) / (precision + prior_precision)
            sd = np.sqrt(1.0 / (precision + prior_precision))
        good = mean if direction == "increase" else -mean
        standardised = good / sd
        chance = ndtr(standardised)
        density = np.exp(-0.5 * standardised**2) / np.sqrt(2 * np.pi)  # φ
        loss = sd * density - good * ndtr(-standardised)
    z = ndtri(1 - alpha / 2)
    return Posterior(
        mean=mean, sd=sd, chance_to_beat_control=chance, expected_loss=loss,
        credible_low=mean - z * sd, credible_high=mean + z * sd,
    )
