"""Sample ratio mismatch: were units split between variants the way the design says?

Pearson's chi-square goodness-of-fit test over all variants,
``χ² = Σ (observed - expected)² / expected`` with ``k - 1`` degrees of freedom, where
``expected = N · planned share``; or, with ``method="exact"`` and two variants, the exact
binomial test of the first variant's count against ``Binomial(N, planned share)`` (two-sided,
summing the probabilities of every count no more likely than the observed one, as
``scipy.stats.binomtest``). With more than two variants the exact test would be the exact
multinomial test, whose outcomes number about ``N^(k-1)/(k-1)!`` (5·10⁷ for 10,000 units in
three arms): not cheap, so those keep the chi-square test, and the result says so. A tiny p-value (default alarm below 0.001, the threshold
used by Fabijan et al. 2019, "Diagnosing Sample Ratio Mismatch in Online Controlled
Experiments") means assignment or logging is broken, and no effect estimate can be trusted
until the cause is found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd
from scipy import stats

from ..labels import p_equals

__all__ = ["BORDERLINE", "P_FLOOR", "SRM_METHODS", "SrmResult", "similar_labels", "srm_test"]

SRM_METHODS = ("chi_square", "exact")

# below this p the split is called borderline, even when it is above srm_alpha: not enough to
# block a decision, enough to check the assignment before trusting it
BORDERLINE = 0.01
# the alarm is at 0.001 (srm_alpha): p-values are written down to 1e-6 so they can be read against it
P_FLOOR = 1e-6


def similar_labels(variants: list[str]) -> list[tuple[str, str]]:
    """Pairs of variant labels that differ only in case or spacing ("Control", "control "):
    two arms in the data that are probably one."""
    pairs, folded = [], {}
    for variant in variants:
        key = " ".join(str(variant).split()).casefold()
        if key in folded:
            pairs.append((folded[key], variant))
        folded.setdefault(key, variant)
    return pairs


@dataclass(frozen=True)
class SrmResult:
    """Observed and expected units per variant, the chi-square test and its verdict."""

    observed: dict[str, int]
    expected_share: dict[str, float]
    statistic: float
    dof: int
    p_value: float
    alpha: float
    method: str = "chi-square"

    @property
    def mismatch(self) -> bool:
        """True when the split is implausible under the design (p below ``alpha``)."""
        return self.p_value < self.alpha

    @property
    def borderline(self) -> bool:
        """Not a mismatch, but p below :data:`BORDERLINE`."""
        return not self.mismatch and self.p_value < BORDERLINE

    @property
    def expected(self) -> dict[str, float]:
        total = sum(self.observed.values())
        return {variant: total * share for variant, share in self.expected_share.items()}

    def message(self) -> str:
        """One sentence for a PM."""
        counts = ", ".join(
            f"{variant} {self.observed[variant]:,} (expected {self.expected[variant]:,.0f})" for variant in self.observed
        )
        if self.mismatch:
            return (
                f"The split between variants is off by more than chance explains: units per variant were {counts} "
                f"({p_equals(self.p_value, P_FLOOR)}). Assignment or logging is broken, so this result cannot be trusted."
            )
        if self.borderline:
            return (f"Units split close to a mismatch (sample ratio check {p_equals(self.p_value, P_FLOOR)}, below "
                    f"{BORDERLINE:g} though above the {self.alpha:g} alarm): {counts}. Check the assignment "
                    "before trusting the effects.")
        return f"Units split as designed (sample ratio check {p_equals(self.p_value, P_FLOOR)}): {counts}."

    def to_frame(self) -> pd.DataFrame:
        expected = self.expected
        return pd.DataFrame(
            {
                "variant": list(self.observed),
                "units": list(self.observed.values()),
                "expected_share": [self.expected_share[v] for v in self.observed],
                "expected_units": [expected[v] for v in self.observed],
            }
        )

    def to_dict(self) -> dict:
        return {
            "observed": dict(self.observed), "expected_share": dict(self.expected_share),
            "statistic": self.statistic, "dof": self.dof, "p_value": self.p_value, "alpha": self.alpha,
            "mismatch": self.mismatch, "message": self.message(), "method": self.method,
        }


def srm_test(
    units: Mapping[str, int],
    expected_split: Mapping[str, float] | None = None,
    alpha: float = 0.001,
    method: str = "chi_square",
) -> SrmResult:
    """Chi-square (or, for two variants, exact binomial) test of the units per variant against
    ``expected_split`` (default: equal).

    ``units`` maps variant to unit count; every variant in ``expected_split`` must appear.
    ``method`` is ``chi_square`` or ``exact`` (see the module docstring).
    """
    if method not in SRM_METHODS:
        raise ValueError(f"srm_test: method {method!r} is not one of {', '.join(map(repr, SRM_METHODS))}")
    observed = {str(variant): int(count) for variant, count in units.items()}
    if len(observed) < 2:
        raise ValueError(f"srm_test: units needs at least two variants, got {list(observed)}")
    if expected_split is None:
        shares = {variant: 1.0 / len(observed) for variant in observed}
    else:
        shares = {str(variant): float(share) for variant, share in expected_split.items()}
        extra = sorted(set(observed) - set(shares))
        if extra:
            raise ValueError(f"srm_test: variant {extra[0]!r} has units but no share in expected_split ({', '.join(shares)})")
        observed = {variant: observed.get(variant, 0) for variant in shares}
        total_share = sum(shares.values())
        if abs(total_share - 1) > 1e-6:
            raise ValueError(f"srm_test: expected_split sums to {total_share:.6g}; the shares must sum to 1")
    total = sum(observed.values())
    if total == 0:
        raise ValueError("srm_test: no units in any variant")
    if method == "exact" and len(observed) == 2:
        first = next(iter(observed))
        # the statistic is the first variant's count, the binomial test's own statistic
        return SrmResult(observed=observed, expected_share=shares, statistic=float(observed[first]), dof=0,
                         p_value=float(stats.binomtest(observed[first], total, shares[first]).pvalue), alpha=alpha,
                         method="exact binomial")
    statistic = sum((observed[v] - total * shares[v]) ** 2 / (total * shares[v]) for v in observed)
    dof = len(observed) - 1
    return SrmResult(
        observed=observed, expected_share=shares, statistic=float(statistic), dof=dof,
        p_value=float(stats.chi2.sf(statistic, dof)), alpha=alpha,
        method="chi-square" if method == "chi_square" else "chi-square (the exact test is for two variants)",
    )
