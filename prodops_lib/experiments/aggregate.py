"""From data to sufficient statistics, with every dropped row counted.

Two collectors produce the same :class:`CollectedData`: :mod:`.aggregate_frame` (numpy over a
pandas frame) and :mod:`.aggregate_sql` (one DuckDB pass over a CSV, parquet file or SQL query,
so the units never have to fit in pandas). Both emit a *wide* frame of sums per group,
``<metric index>:<moment>`` columns, which :func:`wide_to_moments` turns into one row per
metric and variant. :func:`moments_from_aggregates` reads teams' dashboard numbers (n, sum,
sum of squares, or exposures and clicks per variant) into the same shape.

The rules both collectors follow, so their results agree to rounding:

* rows without a variant (or without a unit id) are dropped and counted;
* a unit seen in more than one variant is dropped entirely and counted; above
  ``max_crossover_share`` of units the analysis raises an alarm; a unit with several rows in
  one variant is an error (the data must have one row per unit);
* per metric, ``missing: error`` stops on a missing value, ``drop`` removes the unit from that
  metric (counted), ``zero`` fills 0 (counted); ratio units with a zero denominator are dropped
  from that metric (counted: they add nothing to either sum);
* winsorization thresholds are linear-interpolation percentiles of the metric's valid values,
  pooled over variants (over non-zero values with ``winsorize_scope: nonzero``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..io import InputError
from ..labels import count_of
from .moments import MOMENT_COLUMNS
from .spec import ExperimentSpec, MetricSpec

__all__ = ["CollectedData", "DropCounter", "moments_from_aggregates", "wide_to_moments"]

DROP_COLUMNS = ["source", "reason", "rows"]
ROW_DROPS = ("missing variant", "missing unit id", "unit in more than one variant")


@dataclass
class DropCounter:
    """Rows dropped, by reason, as the frame the report's drop log ingests."""

    source: str
    entries: list[dict] = field(default_factory=list)

    def add(self, reason: str, rows: int) -> None:
        if rows:
            self.entries.append({"source": self.source, "reason": reason, "rows": int(rows)})

    def to_frame(self) -> pd.DataFrame:
        """Whole-row drops first, in the order they are applied, then per-metric drops."""
        first = {reason: i for i, reason in enumerate(ROW_DROPS)}
        ordered = sorted(self.entries, key=lambda entry: first.get(entry["reason"], len(first)))
        return pd.DataFrame(ordered, columns=DROP_COLUMNS)


@dataclass(frozen=True)
class CollectedData:
    """Sums per metric and variant (and per day and segment), and what was dropped."""

    source: str
    overall: pd.DataFrame
    units: dict[str, int]
    drops: pd.DataFrame
    daily: pd.DataFrame | None = None
    segments: pd.DataFrame | None = None
    quantile_draws: dict[tuple[str, str], tuple[float, np.ndarray, int]] = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    extreme_units: list = field(default_factory=list)  # units that dominate a metric (see .extremes)


def metric_moments(metric: MetricSpec) -> list[str]:
    """The sums a collector must compute for ``metric`` (the others follow from them)."""
    names = ["n", "sum_y", "sum_y2"]
    if metric.kind == "ratio":
        names += ["sum_d", "sum_d2", "sum_yd"]
    if metric.covariate:
        names += ["sum_x", "sum_x2", "sum_yx"] + (["sum_dx"] if metric.kind == "ratio" else [])
    return names


def wide_to_moments(wide: pd.DataFrame, metrics: list[MetricSpec], keys: list[str]) -> pd.DataFrame:
    """One row per metric x group, with all :data:`MOMENT_COLUMNS` (means get ``d ≡ 1``);
    ``wide`` holds ``<i>:<moment>`` columns for the ``i``-th of ``metrics``."""
    columns: dict[str, list] = {name: [] for name in ["metric", *keys, *MOMENT_COLUMNS]}
    size = len(wide)
    zeros = np.zeros(size)
    for index, metric in enumerate(metrics):
        if metric.kind == "quantile":
            continue
        sums = {}
        for name in metric_moments(metric):
            values = wide[f"{index}:{name}"].to_numpy(dtype=float)
            sums[name] = np.where(np.isnan(values), 0.0, values)  # SQL sums over no rows are NULL
        if metric.kind != "ratio":
            sums["sum_d"], sums["sum_d2"], sums["sum_yd"] = sums["n"], sums["n"], sums["sum_y"]
        for name in ("sum_x", "sum_x2", "sum_yx"):
            sums.setdefault(name, zeros)
        sums.setdefault("sum_dx", sums["sum_x"] if metric.kind != "ratio" else zeros)
        # regression adjustment's term sums (see .regression), NaN for metrics without them
        for name in wide.columns:
            prefix, _, moment = str(name).partition(":")
            if prefix == str(index) and moment not in MOMENT_COLUMNS and moment.startswith("sum_") and ":" not in moment:
                values = wide[name].to_numpy(dtype=float)
                sums[moment] = np.where(np.isnan(values), 0.0, values)
        columns["metric"].append(np.full(size, metric.name, dtype=object))
        for key in keys:
            columns[key].append(wide[key].to_numpy())
        for name in sums:
            columns.setdefault(name, [np.full(len(part), np.nan) for part in columns["metric"][:-1]]).append(sums[name])
        for parts in columns.values():
            if len(parts) < len(columns["metric"]):
                parts.append(np.full(size, np.nan))
    return pd.DataFrame({name: np.concatenate(parts) if parts else [] for name, parts in columns.items()})


def order_variants(found: list[str], spec: ExperimentSpec) -> list[str]:
    """Control first, then the expected split's order, then the rest by name."""
    planned = list(spec.expected_split or {})
    rest = sorted(variant for variant in found if variant != spec.control and variant not in planned)
    return [spec.control] + [v for v in planned if v != spec.control] + rest


def check_columns(available: list[str], spec: ExperimentSpec, source: str) -> None:
    """Every column the spec names exists (one-line error naming the first that does not)."""
    names = list(map(str, available))
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    wanted = [("variant_column", spec.variant_column)]
    if spec.unit:
        wanted.append(("unit", spec.unit))
    if spec.timestamp_column:
        wanted.append(("timestamp_column", spec.timestamp_column))
    wanted += [(f"segments[{i}]", column) for i, column in enumerate(spec.segments)]
    for metric in spec.metrics:
        roles = [("column", metric.value_column)]
        if metric.kind == "ratio":
            roles = [("numerator", str(metric.numerator)), ("denominator", str(metric.denominator))]
        if metric.covariate:
            roles.append(("covariate", metric.covariate))
        roles += [(f"covariates[{j}]", column) for j, column in enumerate(metric.covariates)]
        roles += [(f"categorical_covariates[{j}]", column) for j, column in enumerate(metric.categorical_covariates)]
        wanted += [(f"metric {metric.name!r} {role}", column) for role, column in roles]
    for role, column in wanted:
        if column not in names:
            raise InputError(f"{source}: {role} {column!r} is not a column (columns: {shown})")
        if names.count(column) > 1:
            raise InputError(f"{source}: {role} {column!r} names {names.count(column)} columns; rename the duplicates")


def check_variants(units: dict[str, int], spec: ExperimentSpec, source: str) -> None:
    """The control exists, every planned variant has units, no unplanned variant appears."""
    found = [variant for variant, count in units.items() if count > 0]
    listed = ", ".join(map(repr, found)) or "none"
    if spec.control not in found:
        raise InputError(
            f"{source}: control {spec.control!r} not found in column {spec.variant_column!r} "
            f"(found: {listed}); set control to the control variant's name"
        )
    if spec.expected_split:
        for variant in spec.expected_split:
            if units.get(variant, 0) == 0:
                raise InputError(f"{source}: variant {variant!r} in expected_split has no units in column {spec.variant_column!r}")
        for variant in found:
            if variant not in spec.expected_split:
                raise InputError(
                    f"{source}: variant {variant!r} in column {spec.variant_column!r} is not in expected_split "
                    f"({', '.join(spec.expected_split)}); add its share or filter it out"
                )
    if len(found) < 2:
        raise InputError(f"{source}: column {spec.variant_column!r} has only one variant ({listed}); need a control and a variant")


def check_metric_units(overall: pd.DataFrame, spec: ExperimentSpec, source: str,
                       drops: DropCounter | None = None) -> None:
    """Every metric has at least two units with a value in every variant; the error names the
    drops of that metric (a zero denominator, a missing value) that left too few."""
    too_few = np.flatnonzero(overall["n"].to_numpy() < 2)
    if too_few.size:
        row = overall.iloc[too_few[0]]
        prefix = f"metric {row['metric']!r}: "
        reasons = [f"{entry['reason'].removeprefix(prefix)}: {entry['rows']:,} rows"
                   for entry in (drops.entries if drops else []) if entry["reason"].startswith(prefix)]
        why = f" ({'; '.join(reasons)} dropped in all variants)" if reasons else ""
        raise InputError(
            f"{source}: metric {row['metric']!r}: variant {row['variant']!r} has {count_of(int(row['n']), 'unit')} with a value "
            f"after drops{why}; each variant needs at least 2"
        )


def not_binary_error(metric: MetricSpec, example: float, source: str) -> InputError:
    """A proportion metric has a value other than 0 and 1 (found by ``Σ|y(y-1)| > 0``, which is
    zero exactly when every value is 0 or 1)."""
    return InputError(
        f"{source}: metric {metric.name!r} (kind 'proportion') needs 0/1 values in column "
        f"{metric.value_column!r}, found {example:g}; use kind 'mean' for other values"
    )


def missing_value_error(metric: MetricSpec, column: str, count: int, source: str) -> InputError:
    return InputError(
        f"{source}: metric {metric.name!r}: column {column!r} has {count_of(count, 'missing value')}; "
        "set missing: drop or missing: zero for this metric"
    )


def crossover_alarm(crossover_units: int, total_units: int, spec: ExperimentSpec) -> str | None:
    """A warning when more than ``max_crossover_share`` of units were seen in several variants."""
    if total_units and crossover_units / total_units > spec.max_crossover_share:
        return (
            f"{crossover_units:,} units ({crossover_units / total_units:.2%}) were seen in more than one variant "
            f"(alarm above {spec.max_crossover_share:.2%}); they were dropped, but assignment may be broken"
        )
    return None


_ALIASES = {
    "n": ("n", "units", "exposures", "users"),
    "sum_y": ("sum_y", "sum", "successes", "clicks", "conversions"),
    "sum_y2": ("sum_y2", "sum_sq", "sum_squares"),
}


def moments_from_aggregates(frame: pd.DataFrame, spec: ExperimentSpec, source: str = "aggregates") -> pd.DataFrame:
    """Read per-variant aggregates into the moments frame.

    One row per variant (and per metric when a ``metric`` column is present; without it the
    rows describe the spec's single metric). Columns: the variant column; ``n`` (or
    ``units``/``exposures``/``users``); ``sum`` (or ``successes``/``clicks``/``conversions``);
    ``sum_sq`` for means (proportions use ``sum``); ratio metrics add ``sum_d, sum_d2, sum_yd``
    and a covariate ``sum_x, sum_x2, sum_yx`` (and ``sum_dx`` for ratios).
    """
    if spec.variant_column not in frame.columns:
        raise InputError(f"{source}: variant_column {spec.variant_column!r} is not a column ({', '.join(map(str, frame.columns))})")
    rename = {}
    for standard, aliases in _ALIASES.items():
        present = [alias for alias in aliases if alias in frame.columns]
        if len(present) > 1:
            raise InputError(f"{source}: columns {present[0]!r} and {present[1]!r} both mean {standard!r}; keep one")
        if present:
            rename[present[0]] = standard
    data = frame.rename(columns=rename)
    if "metric" not in data.columns:
        if len(spec.metrics) != 1:
            raise InputError(f"{source}: several metrics in the spec, so the aggregates need a 'metric' column")
        data = data.assign(metric=spec.metrics[0].name)
    parts = []
    for metric in spec.metrics:
        if metric.kind == "quantile":
            raise InputError(f"{source}: metric {metric.name!r} is a quantile and needs unit-level data, not aggregates")
        if metric.regression_covariates:
            raise InputError(f"{source}: metric {metric.name!r}: regression adjustment (covariates) needs unit-level "
                             "data, not aggregates; use 'covariate' (CUPED) with sum_x, sum_x2, sum_yx")
        rows = data[data["metric"].astype(str) == metric.name]
        if rows.empty:
            raise InputError(f"{source}: no aggregate rows for metric {metric.name!r}")
        needed = metric_moments(metric)
        if metric.kind == "proportion" and "sum_y2" not in rows.columns:
            rows = rows.assign(sum_y2=rows["sum_y"])
        for name in needed:
            if name not in rows.columns:
                raise InputError(f"{source}: metric {metric.name!r} (kind {metric.kind!r}) needs a column {name!r}")
            values = pd.to_numeric(rows[name], errors="coerce")
            if values.isna().any():
                bad = rows[name][values.isna()].iloc[0]
                raise InputError(f"{source}: column {name!r} for metric {metric.name!r} has a non-numeric value {bad!r}")
        wide = pd.DataFrame({"variant": rows[spec.variant_column].astype(str).to_numpy()})
        for name in needed:
            wide[f"0:{name}"] = pd.to_numeric(rows[name]).to_numpy(dtype=float)
        duplicated = wide["variant"][wide["variant"].duplicated()]
        if not duplicated.empty:
            raise InputError(f"{source}: variant {duplicated.iloc[0]!r} has two rows for metric {metric.name!r}")
        moments = wide_to_moments(wide, [metric], ["variant"])
        _check_aggregates(moments, metric, source)
        parts.append(moments)
    return pd.concat(parts, ignore_index=True)


# Slack for the variance checks: Σy² - (Σy)²/n loses digits to floating point (relative 1e-9),
# and dashboards round their sums (half a cent on each moves Σy² - (Σy)²/n by up to
# 0.005 · (1 + 2|ȳ|)), so only a clear negative variance is refused
_FLOAT_ERROR, _HALF_CENT = 1e-9, 0.005


def _check_aggregates(moments: pd.DataFrame, metric: MetricSpec, source: str) -> None:
    """Numbers no set of units could produce: a fractional or non-positive ``n``, successes
    outside ``[0, n]``, a negative variance, or a covariance larger than Cauchy–Schwarz allows.
    Analysed anyway they would give confident nonsense (a zero-width interval, a lift of
    +1400%), so each is a one-line error naming the variant and the column."""
    sums = {name: moments[name].to_numpy(dtype=float) for name in MOMENT_COLUMNS}
    n = sums["n"]

    def fail(row: int, problem: str, fix: str) -> None:
        raise InputError(f"{source}: metric {metric.name!r}, variant {moments['variant'].iloc[row]!r}: {problem}; {fix}")

    for row in np.flatnonzero(~(n > 0) | (n != np.round(n))):
        fail(row, f"n is {n[row]:g}, not a positive whole number of units", "fix the count or remove the variant's row")
    if metric.kind == "proportion":
        for row in np.flatnonzero((sums["sum_y"] < 0) | (sums["sum_y"] > n)):
            fail(row, f"{sums['sum_y'][row]:g} successes out of {n[row]:g} units", "successes must lie between 0 and n")
        for row in np.flatnonzero(sums["sum_y2"] != sums["sum_y"]):
            fail(row, "sum_y2 differs from the successes", "a 0/1 metric's sum of squares equals its sum; drop the column")
    pairs = {"y": ("sum_y", "sum_y2"), "d": ("sum_d", "sum_d2"), "x": ("sum_x", "sum_x2")}
    centred = {}
    for role, (total, squares) in pairs.items():
        centred[role] = sums[squares] - sums[total] ** 2 / n
        slack = _FLOAT_ERROR * np.abs(sums[squares]) + _HALF_CENT * (1 + 2 * np.abs(sums[total] / n))
        for row in np.flatnonzero(centred[role] < -slack):
            fail(row, f"{squares} = {sums[squares][row]:.10g} is below {total}²/n = {sums[total][row] ** 2 / n[row]:.10g} "
                      "(a negative variance)", f"check that {squares} is the sum of squared unit values")
    for (a, b), product in {("y", "d"): "sum_yd", ("y", "x"): "sum_yx", ("d", "x"): "sum_dx"}.items():
        total_a, total_b = pairs[a][0], pairs[b][0]
        covariance = sums[product] - sums[total_a] * sums[total_b] / n
        bound = np.sqrt(np.maximum(centred[a], 0) * np.maximum(centred[b], 0))
        slack = (_FLOAT_ERROR * np.sqrt(np.abs(sums[pairs[a][1]] * sums[pairs[b][1]]))
                 + _HALF_CENT * (1 + np.abs(sums[total_a] / n) + np.abs(sums[total_b] / n)))
        for row in np.flatnonzero(np.abs(covariance) > bound + slack):
            fail(row, f"{product} = {sums[product][row]:.10g} implies a correlation beyond ±1",
                 f"check that {product} is the sum of the products of unit values")
