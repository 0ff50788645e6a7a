"""Sufficient statistics computed inside DuckDB, from a CSV or parquet file or a SQL query.

The units never travel to Python: one aggregate query returns a few sums per variant (and per
day and segment through ``GROUPING SETS``). Around it, only cheap or conditional work:

* a unit-id check: for integer ids a ``bitstring_agg`` bitmap per variant (a few MB) shows in
  one scan whether any id repeats; only then (or for text ids) does a ``GROUP BY unit`` find
  the repeats, which are excluded by an anti-join;
* winsorization thresholds (``quantile_cont``) when a metric asks for them;
* for quantile metrics, the handful of order statistics the bootstrap needs
  (see :mod:`.quantiles`), fetched as a narrow window of values with their counts.

Follows the rules in :mod:`.aggregate`, so it agrees with :mod:`.aggregate_frame` to 1e-9.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import InputError
from .aggregate import (
    CollectedData,
    DropCounter,
    check_binary,
    check_columns,
    check_metric_units,
    check_variants,
    crossover_alarm,
    metric_moments,
    missing_value_error,
    order_variants,
    wide_to_moments,
)
from .aggregate_frame import MISSING_SEGMENT
from .quantiles import bootstrap_ranks, quantile_rng
from .spec import ExperimentSpec, MetricSpec

__all__ = ["collect_sql", "file_query"]

_INTEGER = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_NUMERIC = (*_INTEGER, "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN", "UHUGEINT")


def _name(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _number(value: float) -> str:
    return f"{_text(repr(float(value)))}::DOUBLE"


def file_query(path: str | Path) -> str:
    """A query reading a CSV or parquet file (by extension)."""
    suffix = Path(path).suffix.lower()
    reader = {".parquet": "read_parquet", ".csv": "read_csv", ".tsv": "read_csv", ".gz": "read_csv"}.get(suffix)
    if reader is None:
        raise InputError(f"{path}: unknown file type {suffix!r}; use a .csv or .parquet file")
    return f"SELECT * FROM {reader}({_text(str(path))})"


def collect_sql(
    query: str,
    spec: ExperimentSpec,
    *,
    connection=None,
    source: str = "sql query",
    bootstrap_samples: int = 2000,
    random_state: int = 0,
) -> CollectedData:
    """Sums per metric x variant (and day, segment) from the unit-level rows of ``query``."""
    import duckdb

    con = connection if connection is not None else duckdb.connect()
    run = _Runner(con, source)
    table = f"({query})"
    types = {name: str(kind) for name, kind, *_ in run.all(f"DESCRIBE SELECT * FROM {table}")}
    check_columns(list(types), spec, source)
    for metric in spec.metrics:
        for column in metric.columns:
            _check_numeric(run, table, column, types[column], metric, source)
    drops = DropCounter(source)
    notes: dict = {"filled_with_zero": {}, "winsorized": {}}
    variant = f"CAST({_name(spec.variant_column)} AS VARCHAR)"
    filters: list[str] = []
    registered = None
    try:
        if spec.unit:
            filters, registered = _unit_filters(run, con, table, spec, types[spec.unit], variant, drops, notes)
        base = _base(table, spec, variant, filters)
        thresholds = _thresholds(run, base, spec, notes)
        keys = ["variant", *(["day"] if spec.timestamp_column else [])]
        sets = [keys] + [["variant", f"s{j}"] for j in range(len(spec.segments))]
        items = _aggregates(spec, thresholds)
        grouping = ", ".join("(" + ", ".join(f"__{key}" for key in group) + ")" for group in sets)
        flags = "".join(f", grouping(__s{j}) AS __g{j}" for j in range(len(spec.segments)))
        result = run.frame(
            f"WITH base AS ({base}) SELECT __variant AS variant"
            + (", __day AS day" if spec.timestamp_column else "")
            + "".join(f", __s{j} AS s{j}" for j in range(len(spec.segments))) + flags + ", count(*) AS __rows, "
            + ", ".join(f"{expression} AS {_name(alias)}" for alias, expression in items)
            + f" FROM base GROUP BY GROUPING SETS ({grouping})"
        )
        main = result
        for j in range(len(spec.segments)):
            main = main[main[f"__g{j}"] == 1]
        if not spec.unit:
            drops.add("missing variant", int(main.loc[main["variant"].isna(), "__rows"].sum()))
        main = main[main["variant"].notna()]
        overall_wide = main.drop(columns=[c for c in main.columns if c in ("day", *[f"s{j}" for j in range(len(spec.segments))])])
        how = {c: "min" if c.endswith(":min") else "max" if c.endswith(":max") else "sum" for c in overall_wide.columns[1:]}
        overall_wide = overall_wide.groupby("variant", sort=False).agg(how).reset_index()
        units = dict(zip(overall_wide["variant"], overall_wide["__rows"].astype(int), strict=True))
        check_variants(units, spec, source)
        order = [v for v in order_variants(list(units), spec) if v in units]
        units = {variant: units[variant] for variant in order}
        overall_wide = overall_wide.set_index("variant").loc[order].reset_index()
        _diagnostics(overall_wide, spec, drops, notes, source, run, base)
        overall = wide_to_moments(overall_wide, spec.metrics, ["variant"])
        check_metric_units(overall, spec, source)
        daily = None
        if spec.timestamp_column:
            dated = main[main["day"].notna()].copy()
            dated["day"] = pd.to_datetime(dated["day"]).astype("datetime64[ns]")
            notes["units_without_timestamp"] = int(main.loc[main["day"].isna(), "__rows"].sum())
            daily = wide_to_moments(_in_order(dated, order, ["variant", "day"]), spec.metrics, ["variant", "day"])
        segments = None
        if spec.segments:
            parts = []
            for j, column in enumerate(spec.segments):
                rows = result[(result[f"__g{j}"] == 0) & result["variant"].notna()].rename(columns={f"s{j}": "segment"})
                parts.append(wide_to_moments(_in_order(rows, order, ["variant"]), spec.metrics, ["variant", "segment"])
                             .assign(segment_column=column))
            segments = pd.concat(parts, ignore_index=True)
        quantile_draws = _quantile_draws(run, base, spec, thresholds, overall_wide, order, bootstrap_samples, random_state)
    finally:
        if registered:
            con.unregister(registered)
    return CollectedData(
        source=source, overall=overall, units=units, drops=drops.to_frame(), daily=daily,
        segments=segments, quantile_draws=quantile_draws, notes=notes,
    )


class _Runner:
    """Runs queries, turning DuckDB errors into one-line input errors."""

    def __init__(self, con, source: str) -> None:
        self.con, self.source = con, source

    def _execute(self, sql: str):
        import duckdb

        try:
            return self.con.execute(sql)
        except duckdb.Error as error:
            first_line = str(error).strip().splitlines()[0]
            raise InputError(f"{self.source}: the query failed: {first_line}") from None

    def all(self, sql: str) -> list[tuple]:
        return self._execute(sql).fetchall()

    def frame(self, sql: str) -> pd.DataFrame:
        return self._execute(sql).df()


def _in_order(rows: pd.DataFrame, order: list[str], keys: list[str]) -> pd.DataFrame:
    position = {variant: i for i, variant in enumerate(order)}
    rows = rows.assign(__position=rows["variant"].map(position))
    return rows.sort_values(["__position", *keys[1:]], kind="stable").drop(columns="__position").reset_index(drop=True)


def _check_numeric(run: _Runner, table: str, column: str, kind: str, metric: MetricSpec, source: str) -> None:
    if kind.startswith(_NUMERIC):
        return
    bad = run.all(
        f"SELECT {_name(column)} FROM {table} WHERE {_name(column)} IS NOT NULL "
        f"AND TRY_CAST({_name(column)} AS DOUBLE) IS NULL LIMIT 1"
    )
    if bad:
        raise InputError(
            f"{source}: metric {metric.name!r}: column {column!r} is not numeric "
            f"(value {bad[0][0]!r}); clean the column or fix the source"
        )


def _unit_filters(run: _Runner, con, table: str, spec: ExperimentSpec, kind: str, variant: str,
                  drops: DropCounter, notes: dict) -> tuple[list[str], str | None]:
    """Count rows without variant or unit; find units in several variants; return the filters."""
    unit = _name(str(spec.unit))
    low = high = None
    if kind.startswith(_INTEGER):
        low, high, rows = run.all(f"SELECT min({unit}), max({unit}), count(*) FROM {table}")[0]
        if low is not None and high - low >= max(8 * rows, 1 << 20):
            low = None
    bits = f"bitstring_agg({unit}, {low}, {high})" if low is not None else "NULL::BIT"
    no_variant, no_unit, with_unit, distinct_sum, distinct_all = run.all(
        f"WITH per_variant AS (SELECT {variant} AS v, count(*) AS n_rows, count({unit}) AS n_units, {bits} AS bits "
        f"FROM {table} GROUP BY ALL) SELECT "
        "coalesce(sum(n_rows) FILTER (WHERE v IS NULL), 0), coalesce(sum(n_rows - n_units) FILTER (WHERE v IS NOT NULL), 0), "
        "coalesce(sum(n_units) FILTER (WHERE v IS NOT NULL), 0), sum(bit_count(bits)) FILTER (WHERE v IS NOT NULL), "
        "bit_count(bit_or(bits) FILTER (WHERE v IS NOT NULL)) FROM per_variant"
    )[0]
    drops.add("missing variant", int(no_variant))
    drops.add("missing unit id", int(no_unit))
    filters = [f"{unit} IS NOT NULL"]
    notes["crossover_units"] = 0
    if low is not None and distinct_sum == with_unit and distinct_all == with_unit:
        return filters, None
    repeated = run.frame(
        f"SELECT {unit} AS unit, count(*) AS n_rows, count(DISTINCT {variant}) AS n_variants FROM {table} "
        f"WHERE {variant} IS NOT NULL AND {unit} IS NOT NULL GROUP BY ALL HAVING count(*) > 1"
    )
    same_variant = repeated[repeated["n_variants"] == 1]
    if not same_variant.empty:
        raise InputError(
            f"{run.source}: unit column {spec.unit!r} has {len(same_variant):,} unit(s) with several rows in one variant "
            f"(e.g. {same_variant['unit'].iloc[0]!r}); the data must have one row per unit"
        )
    if repeated.empty:
        return filters, None
    name = f"__prodops_crossover_{uuid.uuid4().hex}"
    con.register(name, repeated[["unit"]])
    drops.add("unit in more than one variant", int(repeated["n_rows"].sum()))
    notes["crossover_units"] = len(repeated)
    total_units = int(with_unit) - int(repeated["n_rows"].sum()) + len(repeated)
    notes["crossover_alarm"] = crossover_alarm(len(repeated), total_units, spec)
    return [*filters, f"{unit} NOT IN (SELECT unit FROM {_name(name)})"], name


def _base(table: str, spec: ExperimentSpec, variant: str, filters: list[str]) -> str:
    columns = [f"{variant} AS __variant"]
    if spec.timestamp_column:
        columns.append(f"CAST(TRY_CAST({_name(spec.timestamp_column)} AS TIMESTAMP) AS DATE) AS __day")
    columns += [
        f"coalesce(CAST({_name(column)} AS VARCHAR), {_text(MISSING_SEGMENT)}) AS __s{j}"
        for j, column in enumerate(spec.segments)
    ]
    needed = sorted({column for metric in spec.metrics for column in metric.columns})
    columns += [_name(column) for column in needed]
    return f"SELECT {', '.join(columns)} FROM {table}" + (f" WHERE {' AND '.join(filters)}" if filters else "")


class _Expressions:
    """SQL for one metric's values after the missing policy, validity and winsorization."""

    def __init__(self, metric: MetricSpec, thresholds: tuple[float, float] | None = None) -> None:
        self.raw = {role: f"CAST({_name(column)} AS DOUBLE)" for role, column in self._roles(metric).items()}
        filled = {role: f"coalesce({raw}, 0.0)" if metric.missing == "zero" else raw for role, raw in self.raw.items()}
        self.present = " AND ".join(f"{raw} IS NOT NULL" for raw in self.raw.values()) if metric.missing == "drop" else None
        conditions = [self.present] if self.present else []
        if metric.kind == "ratio":
            conditions.append(f"{filled['d']} <> 0")
        self.valid = " AND ".join(f"({c})" for c in conditions) or None
        value = filled["y"]
        if thresholds is not None:
            low, high = thresholds
            clamped = value
            if np.isfinite(low):
                clamped = f"greatest({clamped}, {_number(low)})"
            if np.isfinite(high):
                clamped = f"least({clamped}, {_number(high)})"
            value = f"CASE WHEN {value} = 0 THEN 0.0 ELSE {clamped} END" if metric.winsorize_scope == "nonzero" else clamped
        filled["y"] = value
        self.unmasked = filled
        self.values = {role: f"CASE WHEN {self.valid} THEN {sql} END" if self.valid else sql for role, sql in filled.items()}

    @staticmethod
    def _roles(metric: MetricSpec) -> dict[str, str]:
        roles = {"y": metric.value_column}
        if metric.kind == "ratio":
            roles["d"] = str(metric.denominator)
        if metric.covariate:
            roles["x"] = metric.covariate
        return roles


def _thresholds(run: _Runner, base: str, spec: ExperimentSpec, notes: dict) -> dict[int, tuple[float, float]]:
    """Pooled winsorization thresholds per winsorized metric (linear-interpolation percentiles)."""
    wanted = [(i, metric) for i, metric in enumerate(spec.metrics) if metric.winsorized]
    if not wanted:
        return {}
    items = []
    for i, metric in wanted:
        sql = _Expressions(metric)
        condition = [c for c in (sql.valid, f"{sql.unmasked['y']} <> 0" if metric.winsorize_scope == "nonzero" else None) if c]
        levels = [level if level is not None else 0.5 for level in (metric.winsorize_lower, metric.winsorize_upper)]
        where = f" FILTER (WHERE {' AND '.join(condition)})" if condition else ""
        items.append(f"quantile_cont({sql.unmasked['y']}, [{levels[0]!r}, {levels[1]!r}]){where} AS m{i}")
    row = run.all(f"WITH base AS ({base}) SELECT {', '.join(items)} FROM base WHERE __variant IS NOT NULL")[0]
    thresholds = {}
    for (i, metric), (low, high) in zip(wanted, row, strict=True):
        thresholds[i] = (low if metric.winsorize_lower is not None else -np.inf,
                         high if metric.winsorize_upper is not None else np.inf)
        notes["winsorized"][metric.name] = {"lower": thresholds[i][0], "upper": thresholds[i][1]}
    return thresholds


def _aggregates(spec: ExperimentSpec, thresholds: dict[int, tuple[float, float]]) -> list[tuple[str, str]]:
    """(alias, SQL) for every sum and diagnostic count of the main pass."""
    items = []
    products = {"sum_y": ("y",), "sum_y2": ("y", "y"), "sum_d": ("d",), "sum_d2": ("d", "d"), "sum_yd": ("y", "d"),
                "sum_x": ("x",), "sum_x2": ("x", "x"), "sum_yx": ("y", "x"), "sum_dx": ("d", "x")}
    for i, metric in enumerate(spec.metrics):
        sql = _Expressions(metric, thresholds.get(i))
        items.append((f"{i}:n", f"count({sql.values['y']})" if sql.valid else "count(*)"))
        for role, raw in sql.raw.items():
            items.append((f"{i}:missing:{role}", f"count(*) - count({raw})"))
        if metric.missing == "drop" and len(sql.raw) > 1:
            items.append((f"{i}:incomplete", f"count(*) FILTER (WHERE NOT ({sql.present}))"))
        if metric.kind == "ratio":
            where = f"{sql.unmasked['d']} = 0" + (f" AND {sql.present}" if sql.present else "")
            items.append((f"{i}:zero_denominator", f"count(*) FILTER (WHERE {where})"))
        if metric.kind == "quantile":
            continue
        if metric.kind == "proportion":
            items += [(f"{i}:min", f"min({sql.values['y']})"), (f"{i}:max", f"max({sql.values['y']})")]
        if metric.winsorized:
            capped = f"{sql.values['y']} <> {_Expressions(metric).unmasked['y']}"
            items.append((f"{i}:capped", f"count(*) FILTER (WHERE {capped})"))
        for moment in metric_moments(metric)[1:]:
            factors = [sql.values[role] for role in products[moment]]
            items.append((f"{i}:{moment}", f"sum({' * '.join(factors)})"))
    return items


def _diagnostics(wide: pd.DataFrame, spec: ExperimentSpec, drops: DropCounter, notes: dict, source: str,
                 run: _Runner, base: str) -> None:
    """Turn the diagnostic counts into errors, counted drops and notes, as the frame path does."""
    for i, metric in enumerate(spec.metrics):
        roles = _Expressions._roles(metric)
        missing = {role: int(wide[f"{i}:missing:{role}"].sum()) for role in roles}
        if metric.missing == "error":
            for role, count in missing.items():
                if count:
                    raise missing_value_error(metric, roles[role], count, source)
        elif metric.missing == "zero":
            for role, count in missing.items():
                if count:
                    notes["filled_with_zero"][f"{metric.name}: {roles[role]}"] = count
        else:
            dropped = int(wide[f"{i}:incomplete"].sum()) if len(roles) > 1 else missing["y"]
            drops.add(f"metric {metric.name!r}: missing value", dropped)
        if metric.kind == "ratio":
            drops.add(f"metric {metric.name!r}: zero denominator", int(wide[f"{i}:zero_denominator"].sum()))
        if metric.winsorized:
            notes["winsorized"][metric.name]["units_capped"] = int(wide[f"{i}:capped"].sum())
        if metric.kind == "proportion":
            check_binary(metric, float(wide[f"{i}:min"].min()), float(wide[f"{i}:max"].max()),
                         float(wide[f"{i}:sum_y"].sum()), float(wide[f"{i}:sum_y2"].sum()), source)
            wide[f"{i}:sum_y2"] = wide[f"{i}:sum_y"]
        moments = [f"{i}:{moment}" for moment in metric_moments(metric)[1:]] if metric.kind != "quantile" else []
        if moments and not np.isfinite(wide[moments].to_numpy(dtype=float)).all():
            for column in metric.columns:
                if run.all(f"WITH base AS ({base}) SELECT count(*) FROM base WHERE isinf(CAST({_name(column)} AS DOUBLE))")[0][0]:
                    raise InputError(f"{source}: metric {metric.name!r}: column {column!r} has infinite values; remove or cap them")


def _quantile_draws(run: _Runner, base: str, spec: ExperimentSpec, thresholds: dict, wide: pd.DataFrame,
                    order: list[str], samples: int, random_state: int) -> dict:
    """Bootstrap replicates of each quantile metric, reading only the ranks they need."""
    draws = {}
    for i, metric in enumerate(spec.metrics):
        if metric.kind != "quantile":
            continue
        sql = _Expressions(metric, thresholds.get(i))
        counts = dict(zip(wide["variant"], wide[f"{i}:n"].astype(int), strict=True))
        for position, variant in enumerate(order):
            n = counts.get(variant, 0)
            if n == 0:
                continue
            k, ranks = bootstrap_ranks(n, float(metric.quantile), samples, quantile_rng(random_state, i, position))
            low_rank, high_rank = int(min(k, ranks.min())), int(max(k, ranks.max()))
            where = f"__variant = {_text(variant)}" + (f" AND {sql.valid}" if sql.valid else "")
            value = sql.unmasked["y"]
            low, high = run.all(
                f"WITH base AS ({base}) SELECT quantile_disc({value}, [{(low_rank - 0.5) / n!r}, {(high_rank - 0.5) / n!r}]) "
                f"FROM base WHERE {where}"
            )[0][0]
            window = run.frame(
                f"WITH base AS ({base}) SELECT CASE WHEN {value} < {_number(low)} THEN NULL ELSE {value} END AS value, "
                f"count(*) AS units FROM base WHERE {where} AND {value} <= {_number(high)} GROUP BY ALL ORDER BY value NULLS FIRST"
            )
            below = int(window.loc[window["value"].isna(), "units"].sum())
            window = window[window["value"].notna()]
            last_rank = below + np.cumsum(window["units"].to_numpy())
            values = window["value"].to_numpy(dtype=float)

            def at(rank: np.ndarray, values=values, last_rank=last_rank) -> np.ndarray:
                return values[np.searchsorted(last_rank, rank, side="left")]

            draws[(metric.name, variant)] = (float(at(np.array([k]))[0]), at(ranks), n)
    return draws
