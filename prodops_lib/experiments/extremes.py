"""Units whose value alone decides a mean: found, named, and the effect shown without them.

A mean is as fragile as its largest value. One test account with revenue 10⁶ times the
median, a value of 1e300 from a unit conversion gone wrong, or a bot with a million page
views can turn "no effect" into "+4,000%". For every mean or ratio metric that is not
already winsorized, each variant's largest unit (by absolute value, of the metric's value or
numerator) is flagged when it

- holds at least :data:`DOMINANT_SHARE` of its variant's summed absolute values, or at least
  :data:`DOMINANT_SHARE` of its variant's variance, ``(x - x̄)² / Σ (xᵢ - x̄)²`` (either with at
  least :data:`MIN_UNITS` units, so a tiny test is not flagged for being tiny), or
- is at least :data:`TIMES_MEDIAN` times the median absolute value of the units whose value
  is not 0 (revenue is 0 for most users), or
- is beyond :data:`FLOAT_LIMIT`, where its square (the variance needs it) overflows.

The analysis is then run again with the flagged metrics capped at their
:data:`CAP_QUANTILE` quantile (winsorized, as ``winsorize_upper`` would), and the page shows
both effects. The decision stays on the data as given; the warning says what to check.

The variance share catches the shape of the public Cookie Cats test (90,189 players): one
player with 49,854 game rounds against a median of 17 is only 2% of its arm's rounds and 2,900
times the median, so neither of the first rules fires, yet it holds about 84% of its arm's
variance and alone turns the difference in mean rounds from about 0 into -2%. Legitimately
heavy tails spread their variance over many units: 5% of payers with log-normal spend give
the largest unit about 20% of the variance (tests/experiments/test_bad_input.py).

The units looked at are those that count for the metric, as its mean sees them: a unit
dropped from it (zero denominator, missing value under ``missing: drop``, not yet mature, seen
in several variants) cannot move the mean and is not flagged, and ``missing: zero`` units count
as 0. (Before the check moved into the collectors' pass, it read every row with a finite
value.) Without a unit column a unit is a row, named by its row number in the source.

**What it costs.** The collectors' single aggregation pass adds, per checked metric and
variant, the largest absolute value and (for columns that are not integers) the smallest
non-zero absolute value: one or two aggregates, against 15 to 30 for the sums. With the ``n``,
``Σy`` and ``Σy²`` the pass computes anyway, :func:`may_be_extreme` bounds every rule from
above:

- share: ``Σ|y| ≥ max(|Σy|, Σy² / max|y|)`` (each ``y² ≤ max|y| · |y|``), exact for metrics
  that are never negative;
- variance share: ``(y - ȳ)² ≤ (max|y| + |ȳ|)²`` over ``Σy² - (Σy)²/n``, less a bound on the
  rounding of those sums (``4 n ε Σy²``);
- times the median: the median of the non-zero ``|y|`` is at least the smallest of them (at
  least 1 for integer columns), so the rule cannot fire while ``max|y| < TIMES_MEDIAN ×
  smallest``. No bound on a median can come from moments alone: half of the non-zero values
  could be 1e-300 without moving them.

On a source whose statistics DuckDB reads without touching a row (a parquet file's footer),
the pass leaves out even those aggregates: the column's own largest ``|value|`` bounds every
variant's, and one filtered read of the column, pushed into the parquet reader, bounds the
smallest (:func:`.aggregate_sql._bounds`). A variant those coarser bounds leave open is read
again only for the values above the largest its own sums allow (parquet row groups below it
are skipped), or, without a bound of the smallest, for its own largest and smallest.

Only a variant where some bound reaches its threshold is read again (one query for all such
metrics, or a numpy selection on the frame path): its largest unit's id and signed value, the
exact median of the non-zero ``|y|``, the variance and the sum of ``|y|``, and the rules above
decide on those exact numbers, so the bounds change what is read, never what is flagged
(tests/experiments/test_extremes_single_pass.py checks both, against the old separate scan).
In the common case (no bound reached: the tests' heavy-tailed revenue, the benchmark's
10-million-unit revenue, where each variant's largest unit is about 10,000 to 15,000 times its
smallest non-zero one) nothing is read beyond the single pass. Approximate quantiles
(``approx_quantile``) in the pass were the other option: they cost more than the smallest
value and would need their error bound carried into the rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .spec import MetricSpec

__all__ = ["CAP_QUANTILE", "ExtremeUnit", "checks_extremes", "extreme_unit", "may_be_extreme"]

DOMINANT_SHARE = 0.5
MIN_UNITS = 20
TIMES_MEDIAN = 1e6
FLOAT_LIMIT = 1e150
CAP_QUANTILE = 0.99

_EPSILON = float(np.finfo(float).eps)
_SLACK = 1e-9  # relative room for the rounding of the pass's sums, far below any rule's margin


@dataclass(frozen=True)
class ExtremeUnit:
    """A variant's largest unit of a metric, and why it is flagged."""

    metric: str
    variant: str
    unit: str
    value: float
    times_median: float  # inf when the median is 0
    share: float  # of the variant's summed absolute values
    variance_share: float = float("nan")  # of the variant's summed squared deviations from its mean

    def describe(self) -> str:
        variance = (f" and {self.variance_share:.0%} of its variance"
                    if self.variance_share == self.variance_share else "")  # NaN: not computable
        return (f"{'' if self.unit.startswith('row ') else 'unit '}{self.unit} in {self.variant} has {self.metric} = {self.value:,.6g}, "
                f"{self.times_median:,.0f} times the median unit's, {self.share:.0%} of {self.variant}'s total{variance}")


def checks_extremes(metric: MetricSpec) -> bool:
    """Whether the collectors look for a dominating unit in ``metric`` (winsorized metrics are
    capped already; proportions are 0/1; quantiles do not move with one unit)."""
    return metric.kind in ("mean", "ratio") and not metric.winsorized


def may_be_extreme(n: np.ndarray, sum_y: np.ndarray, sum_y2: np.ndarray, largest: np.ndarray,
                   smallest: np.ndarray) -> np.ndarray:
    """Per variant, whether a rule could flag its largest unit, from the pass's sums (units
    ``n``, ``Σy``, ``Σy²``), the largest ``|y|`` and a lower bound of the median non-zero
    ``|y|``, such as the smallest non-zero one (NaN: none known). False is a proof that no rule
    fires; True means: look closer."""
    n, sum_y, sum_y2, largest, smallest = (np.asarray(a, dtype=float) for a in (n, sum_y, sum_y2, largest, smallest))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # inf compares as it should
        present = largest > 0  # NaN (no unit) and all-zero variants: no rule can fire
        counted = n >= MIN_UNITS
        absolute = np.maximum(np.abs(sum_y), sum_y2 / largest)  # a lower bound of Σ|y|
        share = counted & (largest >= DOMINANT_SHARE * (1 - _SLACK) * absolute)
        spread = sum_y2 - sum_y * sum_y / n - 4 * n * _EPSILON * sum_y2  # a lower bound of Σ(y - ȳ)²
        deviation = (largest + np.abs(sum_y / n)) * (1 + _SLACK)
        variance = counted & ~(deviation * deviation < DOMINANT_SHARE * spread)  # also when spread ≤ 0 or not finite
        median = ~(largest < TIMES_MEDIAN * (1 - _SLACK) * smallest)  # also when smallest is NaN
        overflow = ~np.isfinite(sum_y2) | (largest >= FLOAT_LIMIT)
    return present & (share | variance | median | overflow)


def extreme_unit(metric: str, variant: str, unit: str, value: float, count: int, total: float, median: float | None,
                 variance: float | None, mean: float) -> ExtremeUnit | None:
    """The rules on exact numbers: the variant's largest unit ``unit`` with signed ``value``,
    over ``count`` units with ``total`` absolute value, ``median`` non-zero absolute value
    (None: all values are 0), population ``variance`` and ``mean``. None when not flagged."""
    size = abs(float(value))
    share = size / float(total) if total else 0.0
    times = size / float(median) if median else 1.0
    spread = float(variance) * count if variance is not None and size < FLOAT_LIMIT else float("nan")
    variance_share = (float(value) - float(mean)) ** 2 / spread if spread > 0 else float("nan")
    dominant = share >= DOMINANT_SHARE or variance_share >= DOMINANT_SHARE
    if (count >= MIN_UNITS and dominant) or times >= TIMES_MEDIAN or size >= FLOAT_LIMIT:
        return ExtremeUnit(metric, str(variant), str(unit), float(value), times, share, variance_share)
    return None
