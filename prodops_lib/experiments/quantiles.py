"""Quantile metrics (median, p90) by a seeded bootstrap that needs only a few order statistics.

The sample quantile is the inverted-CDF order statistic ``x_(k)``, ``k = max(1, ⌈q·n⌉)``
(numpy ``method="inverted_cdf"``, DuckDB ``quantile_disc``). In a bootstrap resample the
``k``-th smallest value is ``x_(⌈n·U_(k)⌉)``, where ``U_(k)`` is the ``k``-th smallest of ``n``
uniforms, i.e. ``Beta(k, n - k + 1)``. So drawing ``B`` beta variates gives ``B`` exact
bootstrap replicates of the quantile (the classical result that the bootstrap distribution of
an order statistic is ``P(x*_(k) ≤ x_(j)) = P(Bin(n, j/n) ≥ k)``; Efron 1979, §3), and the
data only has to be read at those ranks: DuckDB never sends the full column to Python.

The difference of independent replicates gives a percentile interval and the p-value
``min(1, 2·(min(#{Δ* ≤ 0}, #{Δ* ≥ 0}) + 1) / (B + 1))``: it rejects when the interval excludes
0, and is never reported as exactly 0 (its resolution is ``2/(B+1)``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["bootstrap_ranks", "compare_quantiles", "quantile_rng"]


def quantile_rng(random_state: int, metric_index: int, variant_index: int) -> np.random.Generator:
    """The generator for one metric and variant: independent of the order the work is done in,
    so the pandas and DuckDB paths draw the same replicates."""
    return np.random.default_rng([int(random_state), metric_index, variant_index])


def bootstrap_ranks(n: int, q: float, samples: int, rng: np.random.Generator) -> tuple[int, np.ndarray]:
    """The 1-based rank of the sample quantile and ``samples`` bootstrap replicate ranks."""
    if n < 1:
        raise ValueError("bootstrap_ranks: needs at least one unit")
    k = max(1, int(np.ceil(q * n - 1e-9)))
    draws = rng.beta(k, n - k + 1, size=samples)
    return k, np.clip(np.ceil(n * draws).astype(np.int64), 1, n)


def compare_quantiles(
    point_control: float, draws_control: np.ndarray, point_variant: float, draws_variant: np.ndarray,
    *, alpha: float = 0.05, direction: str = "increase",
) -> dict[str, float | str | None]:
    """Effect, percentile intervals, p-value, chance to beat control and expected loss."""
    difference = draws_variant - draws_control
    low, high = np.quantile(difference, [alpha / 2, 1 - alpha / 2])
    replicates = len(difference)
    tail = min(np.sum(difference <= 0), np.sum(difference >= 0))
    p_value = min(1.0, 2 * (tail + 1) / (replicates + 1))
    result: dict[str, float | str | None] = {
        "mean_control": float(point_control), "mean_variant": float(point_variant),
        "abs_effect": float(point_variant - point_control), "abs_ci_low": float(low), "abs_ci_high": float(high),
        "abs_se": float(np.std(difference, ddof=1)), "p_value": float(p_value), "rel_na_reason": None,
        "rel_effect": np.nan, "rel_ci_low": np.nan, "rel_ci_high": np.nan,
    }
    lift = difference
    if point_control == 0 or np.any(draws_control == 0) or not np.all(np.sign(draws_control) == np.sign(point_control)):
        result["rel_na_reason"] = "control quantile is 0 in some bootstrap replicates"
    else:
        lift = draws_variant / draws_control - 1
        result["rel_effect"] = float(point_variant / point_control - 1)
        result["rel_ci_low"], result["rel_ci_high"] = (float(v) for v in np.quantile(lift, [alpha / 2, 1 - alpha / 2]))
    good = lift if direction == "increase" else -lift
    result["chance_to_beat_control"] = float(np.mean(good > 0) + 0.5 * np.mean(good == 0))
    result["expected_loss"] = float(np.mean(np.maximum(0.0, -good)))
    result["posterior_scale"] = "absolute" if result["rel_na_reason"] else "relative"
    return result
