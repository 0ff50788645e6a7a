"""Exact tests for two proportions, and the score intervals that go with them.

* Fisher's exact test conditions on both margins (hypergeometric; Fisher 1935);
* Barnard's test (Barnard 1945) and Boschloo's test (Boschloo 1970) condition on the arm sizes
  only and maximise the p-value over the unknown common rate, which makes them more powerful
  than Fisher's at the same level. scipy's ``barnard_exact`` and ``boschloo_exact`` enumerate
  every table with the same arm sizes, so their cost grows with ``n_c · n_v`` times the
  nuisance grid: about 1 s (Barnard) and 5 s (Boschloo) at 500 units per arm, 7 s and 37 s at
  1,000 (measured with scipy 1.17). They are refused above :data:`MAX_UNCONDITIONAL_UNITS` per
  arm, where the z-test and Fisher's test agree with them anyway.

The interval is Newcombe's hybrid score interval for a difference of proportions (Newcombe
1998, method 10), built from each arm's Wilson interval (Wilson 1927).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["EXACT_TESTS", "MAX_UNCONDITIONAL_UNITS", "exact_p_value", "newcombe_interval", "wilson_interval"]

EXACT_TESTS = {"fisher": "Fisher exact test", "barnard": "Barnard exact test", "boschloo": "Boschloo exact test"}
MAX_UNCONDITIONAL_UNITS = 500


def wilson_interval(successes: np.ndarray, n: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a proportion (Wilson 1927):
    ``(p̂ + z²/2n ± z·sqrt(p̂(1-p̂)/n + z²/4n²)) / (1 + z²/n)``."""
    successes, n = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    z = stats.norm.ppf(1 - alpha / 2)
    share = successes / n
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def exact_p_value(test: str, successes_control: int, n_control: int, successes_variant: int, n_variant: int,
                  alternative: str = "two-sided") -> float:
    """p-value of ``test`` (fisher, barnard, boschloo) for variant against control;
    ``greater`` is the alternative that the variant's rate is higher."""
    # columns are the arms (variant first), as barnard_exact and boschloo_exact read them
    table = [[successes_variant, successes_control], [n_variant - successes_variant, n_control - successes_control]]
    if test == "fisher":
        return float(stats.fisher_exact(table, alternative=alternative).pvalue)
    if max(n_control, n_variant) > MAX_UNCONDITIONAL_UNITS:
        raise ValueError(
            f"test {test!r} enumerates every table and would take minutes with {max(n_control, n_variant):,} units in "
            f"an arm (limit {MAX_UNCONDITIONAL_UNITS:,}); use test 'fisher' or the default z-test, which agree with it "
            "at this size")
    function = stats.barnard_exact if test == "barnard" else stats.boschloo_exact
    return float(function(table, alternative=alternative).pvalue)


def newcombe_interval(successes_control: float, n_control: float, successes_variant: float, n_variant: float,
                      alpha: float = 0.05, alternative: str = "two-sided") -> tuple[float, float]:
    """Newcombe's hybrid score interval of ``p_v - p_c``:
    ``(Δ - sqrt((p_v - l_v)² + (u_c - p_c)²), Δ + sqrt((u_v - p_v)² + (p_c - l_c)²))`` with ``l, u``
    each arm's Wilson bounds. One-sided: the level-``1 - α`` bound on the tested side, and an open
    other side."""
    two_sided_alpha = alpha if alternative == "two-sided" else 2 * alpha
    low_v, high_v = wilson_interval(successes_variant, n_variant, two_sided_alpha)
    low_c, high_c = wilson_interval(successes_control, n_control, two_sided_alpha)
    share_v, share_c = successes_variant / n_variant, successes_control / n_control
    low = share_v - share_c - float(np.hypot(share_v - low_v, high_c - share_c))
    high = share_v - share_c + float(np.hypot(high_v - share_v, share_c - low_c))
    return (low if alternative != "less" else -np.inf), (high if alternative != "greater" else np.inf)
