"""Units whose value alone decides a mean: found, named, and the effect shown without them.

A mean is as fragile as its largest value. One test account with revenue 10⁶ times the
median, a value of 1e300 from a unit conversion gone wrong, or a bot with a million page
views can turn "no effect" into "+4,000%". For every mean or ratio metric that is not
already winsorized, each variant's largest unit (by absolute value) is flagged when it

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
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import pandas as pd

from ..io import SQL
from .duckdb_source import Runner, file_query, private_cursor, quote_name
from .spec import ExperimentSpec, MetricSpec

__all__ = ["CAP_QUANTILE", "ExtremeUnit", "extreme_units"]

DOMINANT_SHARE = 0.5
MIN_UNITS = 20
TIMES_MEDIAN = 1e6
FLOAT_LIMIT = 1e150
CAP_QUANTILE = 0.99


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


def extreme_units(data: object, spec: ExperimentSpec, connection=None) -> list[ExtremeUnit]:
    """The flagged units of ``data`` (a frame, a file path or :class:`~prodops_lib.io.SQL`),
    found in one pass over the data for every metric."""
    metrics = [m for m in spec.metrics if m.kind in ("mean", "ratio") and not m.winsorized]
    if not metrics:
        return []
    with private_cursor() if connection is None else nullcontext(connection) as cursor:
        if isinstance(data, pd.DataFrame):
            cursor.register("__extremes_frame", data)
            query = "SELECT * FROM __extremes_frame"
        else:
            query = data.query if isinstance(data, SQL) else file_query(str(data))
        run = Runner(cursor, str(getattr(data, "name", "data")))
        try:
            return _largest(run, query, spec, metrics)
        finally:
            if isinstance(data, pd.DataFrame):
                cursor.unregister("__extremes_frame")


def _largest(run: Runner, query: str, spec: ExperimentSpec, metrics: list[MetricSpec]) -> list[ExtremeUnit]:
    # without a unit column, a unit is a data row, numbered as the file numbers them
    unit = f"CAST({quote_name(spec.unit)} AS VARCHAR)" if spec.unit else "'row ' || CAST(__row AS VARCHAR)"
    source = f"(SELECT *, row_number() OVER () AS __row FROM ({query}))" if not spec.unit else f"({query})"
    columns = []
    for metric in metrics:
        value = f"TRY_CAST({quote_name(metric.value_column)} AS DOUBLE)"
        valid = f"{value} IS NOT NULL AND isfinite({value})"
        columns += [f"arg_max({unit}, abs({value})) FILTER (WHERE {valid})",
                    f"max_by({value}, abs({value})) FILTER (WHERE {valid})",
                    f"sum(abs({value})) FILTER (WHERE {valid})",
                    f"median(abs({value})) FILTER (WHERE {valid} AND {value} <> 0)",
                    f"count(*) FILTER (WHERE {valid})",
                    f"var_pop({value}) FILTER (WHERE {valid})", f"avg({value}) FILTER (WHERE {valid})"]
    rows = run.all(f"SELECT CAST({quote_name(spec.variant_column)} AS VARCHAR), {', '.join(columns)} FROM {source} "
                   f"WHERE {quote_name(spec.variant_column)} IS NOT NULL GROUP BY 1 ORDER BY 1")
    flagged = []
    for row in rows:
        variant = row[0]
        for index, metric in enumerate(metrics):
            unit_id, largest, total, median, count, variance, mean = row[1 + 7 * index: 8 + 7 * index]
            if largest is None:
                continue
            size = abs(float(largest))
            share = size / float(total) if total else 0.0
            times = size / float(median) if median else 1.0
            spread = float(variance) * count if variance is not None and size < FLOAT_LIMIT else float("nan")
            variance_share = (float(largest) - float(mean)) ** 2 / spread if spread > 0 else float("nan")
            dominant = share >= DOMINANT_SHARE or variance_share >= DOMINANT_SHARE
            if (count >= MIN_UNITS and dominant) or times >= TIMES_MEDIAN or size >= FLOAT_LIMIT:
                flagged.append(ExtremeUnit(metric.name, str(variant), str(unit_id), float(largest), times, share,
                                           variance_share))
    return sorted(flagged, key=lambda unit: (unit.metric, unit.variant))
