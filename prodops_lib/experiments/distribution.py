"""Histogram of a metric's unit values per variant, for the distribution chart.

Bins are equal-width between the pooled minimum and the pooled 99.5th percentile; values
above it go to the last bin, so one extreme unit cannot flatten the picture. Proportions get
two bins (0 and 1); ratio metrics show each unit's own ratio (units with a zero denominator
left out). Rows are those with a variant and a value; files and queries are binned in DuckDB.
"""

from __future__ import annotations

from contextlib import nullcontext

import numpy as np
import pandas as pd

from ..io import SQL
from .duckdb_source import Runner, double_literal, file_query, private_cursor, quote_name
from .order_statistics import Selection, interpolate, linear_quantile, select_ranks
from .spec import ExperimentSpec, MetricSpec

__all__ = ["value_distribution"]

TOP_PERCENTILE = 0.995


def value_distribution(data: object, spec: ExperimentSpec, metric: MetricSpec, bins: int = 40,
                       connection=None) -> pd.DataFrame:
    """Columns variant, bin_low, bin_high, units, share (of the variant's units)."""
    if bins < 1:
        raise ValueError(f"value_distribution: bins must be at least 1, got {bins}")
    if isinstance(data, pd.DataFrame):
        counts = _frame_counts(data, spec, metric, bins)
    else:
        counts = _sql_counts(data, spec, metric, bins, connection)
    counts["share"] = counts["units"] / counts.groupby("variant")["units"].transform("sum")
    return counts


def _edges(low: float, high: float, metric: MetricSpec, bins: int) -> tuple[float, float, int]:
    if metric.kind == "proportion":
        return -0.5, 1.0, 2
    if not high > low:
        high = low + 1.0
    return low, (high - low) / bins, bins


def _frame_counts(frame: pd.DataFrame, spec: ExperimentSpec, metric: MetricSpec, bins: int) -> pd.DataFrame:
    values = pd.to_numeric(frame[metric.value_column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    keep = frame[spec.variant_column].notna().to_numpy().copy()
    if metric.kind == "ratio":
        denominator = pd.to_numeric(frame[str(metric.denominator)], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        keep &= denominator != 0
        with np.errstate(invalid="ignore", divide="ignore"):
            values = values / denominator
    keep &= ~np.isnan(values)
    values, variants = values[keep], frame[spec.variant_column].astype(str).to_numpy()[keep]
    low, width, count = _edges(float(values.min()), float(np.quantile(values, TOP_PERCENTILE)), metric, bins)
    index = np.clip(np.floor((values - low) / width), 0, count - 1).astype(int)
    counts = pd.DataFrame({"variant": variants, "bin": index}).value_counts().rename("units").reset_index()
    return _complete(counts, low, width, count)


def _sql_counts(data: object, spec: ExperimentSpec, metric: MetricSpec, bins: int, connection=None) -> pd.DataFrame:
    query = data.query if isinstance(data, SQL) else file_query(str(data))
    value = f"CAST({quote_name(metric.value_column)} AS DOUBLE)"
    where = f"{quote_name(spec.variant_column)} IS NOT NULL AND {value} IS NOT NULL"
    if metric.kind == "ratio":
        denominator = f"CAST({quote_name(str(metric.denominator))} AS DOUBLE)"
        value = f"{value} / {denominator}"
        where += f" AND {denominator} <> 0"
    with private_cursor() if connection is None else nullcontext(connection) as cursor:
        run = Runner(cursor, str(getattr(data, "name", data)))
        # the edges from exact order statistics (the smallest is rank 1): quantile_cont would hold every value
        ranked = select_ranks(run, query, Selection(value, lambda _, n: [1, *linear_quantile(n, TOP_PERCENTILE)],
                                                    where=where))[None]
        low, width, count = _edges(float(ranked.at([1])[0]), interpolate(ranked, TOP_PERCENTILE), metric, bins)
        counts = run.frame(
            f"SELECT CAST({quote_name(spec.variant_column)} AS VARCHAR) AS variant, CAST(least(greatest(floor(("
            f"{value} - {double_literal(low)}) / {double_literal(width)}), 0), {count - 1}) AS INTEGER) AS bin, "
            f"count(*) AS units FROM ({query}) WHERE {where} GROUP BY ALL"
        )
    return _complete(counts, low, width, count)


def _complete(counts: pd.DataFrame, low: float, width: float, count: int) -> pd.DataFrame:
    """Every variant x bin, with zeros where no unit fell."""
    grid = pd.MultiIndex.from_product([sorted(counts["variant"].unique()), range(count)], names=["variant", "bin"])
    full = counts.groupby(["variant", "bin"])["units"].sum().reindex(grid, fill_value=0).reset_index()
    full["bin_low"] = low + full["bin"] * width
    full["bin_high"] = full["bin_low"] + width
    return full[["variant", "bin_low", "bin_high", "units"]]
