"""Monitoring that stays valid when you look every day: the mixture SPRT.

A fixed-horizon p-value checked daily finds a "significant" result far more often than
``alpha`` (Johari et al. 2017, "Peeking at A/B Tests"). The normal-mixture sequential
probability ratio test (mSPRT) of Johari, Pekelis & Walsh (2017, "Always Valid Inference")
fixes this: with the cumulative difference ``Δ̂_t``, its variance ``V_t`` and a mixing
variance ``τ²``, the likelihood ratio is

    Λ_t = sqrt(V_t / (V_t + τ²)) · exp(τ² Δ̂_t² / (2 V_t (V_t + τ²)))

and ``p_t = min(1, min_{s≤t} 1/Λ_s)`` is an always-valid p-value. Inverting ``Λ_t < 1/α`` gives
the confidence sequence (Howard et al. 2021, "Time-uniform, nonparametric, nonasymptotic
confidence sequences", normal mixture boundary)

    Δ̂_t ± sqrt( V_t (V_t + τ²)/τ² · (2 log(1/α) + log(1 + τ²/V_t)) ),

which covers the true effect at every day simultaneously with probability ``1 - α``.
``τ²`` is chosen so that the boundary is tightest when the variance reaches ``V_target``
(by default the variance at the last day observed).
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

__all__ = ["always_valid_p_values", "confidence_sequence_halfwidth", "mixture_variance"]


def mixture_variance(target_variance: float, alpha: float = 0.05) -> float:
    """The ``τ²`` that minimises the confidence-sequence half-width at ``target_variance``.

    The half-width² is ``V·g(r)`` with ``r = τ²/V`` and ``g(r) = (1+r)/r·(2 log(1/α) + log(1+r))``;
    ``g`` has a single minimum, found numerically over ``log r``.
    """
    if not target_variance > 0:
        raise ValueError(f"mixture_variance: target_variance must be positive, got {target_variance!r}")

    def width(log_r: float) -> float:
        r = np.exp(log_r)
        return (1 + r) / r * (2 * np.log(1 / alpha) + np.log1p(r))

    best = optimize.minimize_scalar(width, bounds=(-10.0, 15.0), method="bounded", options={"xatol": 1e-10})
    return float(np.exp(best.x) * target_variance)


def confidence_sequence_halfwidth(variance: np.ndarray, tau2: float, alpha: float = 0.05) -> np.ndarray:
    """Half-width of the normal-mixture confidence sequence at each look."""
    variance = np.asarray(variance, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(variance * (variance + tau2) / tau2 * (2 * np.log(1 / alpha) + np.log1p(tau2 / variance)))


def always_valid_p_values(estimate: np.ndarray, variance: np.ndarray, tau2: float) -> np.ndarray:
    """Running ``min(1, 1/Λ_t)`` over looks in order (the mSPRT always-valid p-value)."""
    estimate, variance = np.asarray(estimate, dtype=float), np.asarray(variance, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        log_lambda = 0.5 * np.log(variance / (variance + tau2)) + tau2 * estimate**2 / (2 * variance * (variance + tau2))
        p_values = np.minimum(1.0, np.exp(-log_lambda))
    p_values = np.where(np.isnan(p_values), 1.0, p_values)
    return np.minimum.accumulate(p_values)
