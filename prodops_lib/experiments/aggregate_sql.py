"""Sufficient statistics computed where the data is: inside DuckDB (a CSV or parquet file or a
SQL query), on Spark or in a SQL warehouse (:mod:`.engines`).

The units never travel to Python: one aggregate query returns a few sums per variant (and per
day and segment through ``GROUPING SETS``). Every query is written once, in DuckDB's dialect
over the placeholder table :data:`.engines.SOURCE`, and SQLGlot compiles it for the engine
that runs it. Around the aggregate, only cheap or conditional work:

* a unit-id check (:mod:`.unit_check_sql`). On DuckDB (engine-specific, kept for speed): for
  compact integer ids a map of the id range (a byte or a bit per possible id) shows in one
  read of the id column whether any id repeats; only then (or for other ids) does a
  ``GROUP BY`` on a 64-bit hash of the id find candidate repeats, which are regrouped by the id
  itself and excluded by an anti-join. On the other engines the exact check itself: one
  ``GROUP BY`` unit, and the crossover units excluded by a ``NOT IN`` subquery;
* winsorization thresholds when a metric asks for them: exact linear-interpolation percentiles
  from order statistics read by :mod:`.order_statistics` in bounded memory (the same on every
  engine);
* for quantile metrics, the handful of order statistics the bootstrap needs
  (see :mod:`.quantiles`), read exactly in bounded memory by :mod:`.order_statistics` (a
  histogram, then the values of the few bins that hold the wanted ranks; the same on every
  engine, not an approximate percentile).

Follows the rules in :mod:`.aggregate`, so it agrees with :mod:`.aggregate_frame` to 1e-9.
DuckDB-only SQL, run as written (``native=True``): the DESCRIBE of the source's types, the unit
check above, and the extreme-unit query's ordered ``first()``; everything else, the main
aggregate included, is the one definition compiled by SQLGlot for every engine.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..io import InputError
from .aggregate import (
    CollectedData,
    DropCounter,
    check_columns,
    check_metric_units,
    check_variants,
    crossover_alarm,
    metric_moments,
    missing_value_error,
    not_binary_error,
    order_variants,
    wide_to_moments,
)
from .aggregate_frame import MISSING_SEGMENT
from .duckdb_source import Runner, double_literal, private_cursor, quote_name, quote_text
from .engines import SOURCE
from .extremes import (
    FLOAT_LIMIT,
    TIMES_MEDIAN,
    ExtremeUnit,
    checks_extremes,
    extreme_unit,
    may_be_extreme,
)
from .maturity import analysis_end_day, immature_reason, maturity_cutoff
from .order_statistics import Selection, interpolate, linear_quantile, select_ranks
from .quantiles import bootstrap_ranks, quantile_rng
from .regression import (
    MISSING_LEVEL,
    CategoryLevels,
    Term,
    category_levels,
    design_terms,
    term_products,
)
from .spec import ExperimentSpec, MetricSpec
from .unit_check_sql import INTEGER_TYPES, unit_filters_duckdb, unit_filters_exact

__all__ = ["check_numeric", "collect_sql"]

_INTEGER = INTEGER_TYPES
_NUMERIC = (*_INTEGER, "FLOAT", "DOUBLE", "DECIMAL", "BOOLEAN", "UHUGEINT")


def collect_sql(
    query: str,
    spec: ExperimentSpec,
    *,
    connection=None,
    source: str = "sql query",
    bootstrap_samples: int = 2000,
    random_state: int = 0,
    runner=None,
) -> CollectedData:
    """Sums per metric x variant (and day, segment) from the unit-level rows of ``query`` (a
    DuckDB query), or of the source of ``runner`` (a Spark or warehouse runner, :mod:`.engines`)."""
    own = runner is None and connection is None  # a cursor of our own, closed at the end
    run = runner if runner is not None else Runner(connection if connection is not None else private_cursor(),
                                                   source, query)
    con = getattr(run, "connection", None)  # DuckDB's, for its own unit check
    source = run.source
    table = SOURCE
    drops = DropCounter(source)
    notes: dict = {"filled_with_zero": {}, "winsorized": {}}
    variant = f"CAST({quote_name(spec.variant_column)} AS VARCHAR)"
    filters: list[str] = []
    registered = None
    try:
        types = run.columns()
        check_columns(list(types), spec, source)
        for metric in spec.metrics:
            for column in metric.columns:
                check_numeric(run, table, column, types[column], metric, source)
        if spec.unit and run.dialect == "duckdb":
            filters, registered = unit_filters_duckdb(run, con, table, spec, types[spec.unit], variant, drops, notes)
        elif spec.unit:
            filters = unit_filters_exact(run, table, spec, variant, drops, notes)
        keys = ["variant", *(["day"] if spec.timestamp_column else [])]
        sets = [keys] + [["variant", f"s{j}"] for j in range(len(spec.segments))]
        grouping = ", ".join("(" + ", ".join(f"__{key}" for key in group) + ")" for group in sets)
        # one set is a plain GROUP BY: Spark would expand the rows for GROUPING SETS all the same (20% slower)
        grouping = f"GROUPING SETS ({grouping})" if len(sets) > 1 else grouping.strip("()")
        flags = "".join(f", grouping(__s{j}) AS __g{j}" for j in range(len(spec.segments)))
        levels = _category_levels(run, table, spec, variant, filters, notes)
        end_day = _end_day(run, table, spec, variant, filters)
        statistics = run.statistics(sorted({column for metric in spec.metrics for column in metric.columns
                                            if types[column].startswith(_NUMERIC)}))
        bounds = _bounds(run, spec, types, statistics)
        for reading in (table, _nan_as_missing(table, spec, types)):
            if reading != table and run.dialect == "duckdb":  # else nullif(x, NaN) is folded away on parquet
                run.distrust_statistics()
            base = _base(reading, spec, variant, filters, end_day=end_day)
            thresholds = _thresholds(run, base, spec, notes)
            # a NaN read as missing is not in the statistics' count of missing values
            projections, items = _aggregates(spec, thresholds, types, levels, statistics if reading == table else None,
                                             bounds)
            # short aliases, renamed here: Postgres cuts identifiers at 63 bytes
            result = run.frame(
                f"WITH base AS ({_base(reading, spec, variant, filters, projections, end_day)}) SELECT __variant AS variant"
                + (", __day AS day" if spec.timestamp_column else "")
                + "".join(f", __s{j} AS s{j}" for j in range(len(spec.segments))) + flags + ", count(*) AS __rows, "
                + ", ".join(f"{expression} AS __a{k}" for k, (_, expression) in enumerate(items))
                + f" FROM base GROUP BY {grouping}"
            ).rename(columns={f"__a{k}": alias for k, (alias, _) in enumerate(items)})
            if reading != table or not _has_nan(result, spec):
                break
        main = result
        for j in range(len(spec.segments)):
            main = main[main[f"__g{j}"] == 1]
        drops.add("missing variant", int(main.loc[main["variant"].isna(), "__rows"].sum()))
        main = main[main["variant"].notna()]
        overall_wide = main.drop(columns=[c for c in main.columns if c in ("day", *[f"s{j}" for j in range(len(spec.segments))])])
        if spec.timestamp_column:  # a row per variant and day: add the days up
            overall_wide = overall_wide.groupby("variant", sort=False).sum(numeric_only=True).reset_index()
        units = dict(zip(overall_wide["variant"], overall_wide["__rows"].astype(int), strict=True))
        if notes.get("crossover_units") and "crossover_alarm" not in notes:  # the exact check's, now units are known
            notes["crossover_alarm"] = crossover_alarm(notes["crossover_units"],
                                                       sum(units.values()) + notes["crossover_units"], spec)
        check_variants(units, spec, source)
        order = [v for v in order_variants(list(units), spec) if v in units]
        units = {variant: units[variant] for variant in order}
        position = {variant: i for i, variant in enumerate(overall_wide["variant"])}
        overall_wide = overall_wide.iloc[[position[variant] for variant in order]].reset_index(drop=True)
        _diagnostics(overall_wide, spec, drops, notes, source, run, base, thresholds, end_day)
        overall = wide_to_moments(overall_wide, spec.metrics, ["variant"])
        check_metric_units(overall, spec, source, drops)
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
        extremes = _extreme_units(run, base, _base(reading, spec, variant, filters, end_day=end_day,
                                                   labels=_unit_labels(spec, run.dialect)),
                                  spec, main, overall, bounds)
    finally:
        if run.dialect == "duckdb":
            run.trust_statistics()
        if registered:
            con.unregister(registered)
        if own:
            con.close()
    return CollectedData(
        source=source, overall=overall, units=units, drops=drops.to_frame(), daily=daily,
        segments=segments, quantile_draws=quantile_draws, notes=notes, extreme_units=extremes,
    )


def _in_order(rows: pd.DataFrame, order: list[str], keys: list[str]) -> pd.DataFrame:
    position = {variant: i for i, variant in enumerate(order)}
    rows = rows.assign(__position=rows["variant"].map(position))
    return rows.sort_values(["__position", *keys[1:]], kind="stable").drop(columns="__position").reset_index(drop=True)


def _has_nan(result: pd.DataFrame, spec: ExperimentSpec) -> bool:
    """Whether a sum over units is NaN: some floating-point metric column holds NaN, which
    DuckDB counts as a value (pandas, and so the frame path, as missing). Groups without a
    unit for the metric are left out: their sums are NULL, which pandas also shows as NaN."""
    for i in range(len(spec.metrics)):
        counted = result[f"{i}:n"].to_numpy(dtype=float) > 0
        sums = [column for column in result.columns if column.startswith(f"{i}:sum_")]
        if sums and np.isnan(result[sums].to_numpy(dtype=float)[counted]).any():
            return True
    return False


def _nan_as_missing(table: str, spec: ExperimentSpec, types: dict[str, str]) -> str:
    """``table`` with NaN read as NULL in the floating-point metric columns. Only used once a
    NaN has shown up (:func:`_has_nan`): on every row, it cost 17% of the main pass."""
    floats = {column for metric in spec.metrics for column in metric.columns
              if types[column].startswith(("DOUBLE", "FLOAT", "REAL"))}
    if not floats:
        return table
    columns = ", ".join(f"nullif({quote_name(c)}, CAST('NaN' AS DOUBLE)) AS {quote_name(c)}" if c in floats
                        else quote_name(c) for c in types)
    return f"(SELECT {columns} FROM {table}) AS __readable"


# how engines word a value that cannot be cast to a number (Postgres, DuckDB, Spark, Trino, BigQuery, Snowflake)
_CAST_FAILURES = ("invalid input syntax", "could not convert", "conversion error", "cast_invalid_input",
                  "cannot cast", "bad double value", "is not recognized", "invalid number")


def check_numeric(run: Runner, table: str, column: str, kind: str, metric: MetricSpec, source: str) -> None:
    """A one-line error naming the metric and column when a column of type ``kind`` holds a
    value that is not a number (a numeric type needs no query)."""
    if kind.startswith(_NUMERIC):
        return
    fix = "clean the column or fix the source"
    try:
        bad = run.all(
            f"SELECT {quote_name(column)} FROM {table} WHERE {quote_name(column)} IS NOT NULL "
            f"AND TRY_CAST({quote_name(column)} AS DOUBLE) IS NULL LIMIT 1"
        )
    except InputError as error:  # an engine without TRY_CAST (Postgres) fails on the first such value instead
        said = str(error).removeprefix(f"{source}: the query failed: ")
        if not any(words in said.lower() for words in _CAST_FAILURES):
            raise  # a timeout, a lost connection: not the column's fault
        raise InputError(f"{source}: metric {metric.name!r}: column {column!r} is not numeric ({said}); {fix}") from None
    if bad:
        raise InputError(f"{source}: metric {metric.name!r}: column {column!r} is not numeric (value {bad[0][0]!r}); {fix}")


_DAY = "CAST(TRY_CAST({} AS TIMESTAMP) AS DATE)"


def _end_day(run: Runner, table: str, spec: ExperimentSpec, variant: str, filters: list[str]):
    """The day maturity is measured to (:mod:`.maturity`), when a metric needs it: the last
    exposure day of the rows the analysis keeps, as the frame path reads it."""
    if not spec.timestamp_column or not any(metric.maturity_days for metric in spec.metrics):
        return None
    where = " AND ".join([f"{variant} IS NOT NULL", *filters])
    last = run.all(f"SELECT max({_DAY.format(quote_name(spec.timestamp_column))}) FROM {table} WHERE {where}")[0][0]
    return analysis_end_day(spec, last)


def _mature_column(metric: MetricSpec) -> str | None:
    """The base query's flag of the units that count for ``metric`` (None: no maturity rule)."""
    return f"__mature{int(metric.maturity_days)}" if metric.maturity_days else None


def _base(table: str, spec: ExperimentSpec, variant: str, filters: list[str],
          projections: list[tuple[str, str]] = (), end_day=None, labels: list[tuple[str, str]] = ()) -> str:
    """The rows the analysis reads: variant, day, segments, the metric columns, each maturity
    flag, ``labels`` (alias, SQL on the source's columns), and (for the main pass) each metric's
    prepared values, computed once per row."""
    columns = [f"{variant} AS __variant"]
    if spec.timestamp_column:
        day = _DAY.format(quote_name(spec.timestamp_column))
        columns.append(f"{day} AS __day")
        flags = {_mature_column(metric): maturity_cutoff(metric, end_day) for metric in spec.metrics if metric.maturity_days}
        columns += [f"coalesce({day} <= DATE {quote_text(str(cutoff))}, false) AS {flag}" if cutoff else f"false AS {flag}"
                    for flag, cutoff in flags.items()]
    columns += [
        f"coalesce(CAST({quote_name(column)} AS VARCHAR), {quote_text(MISSING_SEGMENT)}) AS __s{j}"
        for j, column in enumerate(spec.segments)
    ]
    needed = sorted({column for metric in spec.metrics for column in metric.columns + metric.categorical_covariates})
    columns += [quote_name(column) for column in needed]
    columns += [f"{expression} AS {alias}" for alias, expression in labels]
    rows = f"SELECT {', '.join(columns)} FROM {table}" + (f" WHERE {' AND '.join(filters)}" if filters else "")
    if not projections:
        return rows
    # a level up: the values read the maturity flags, and only DuckDB and Spark let a SELECT use its own aliases
    prepared = ", ".join(f"{expression} AS {alias}" for alias, expression in projections)
    return f"SELECT *, {prepared} FROM ({rows}) AS units"


class _Expressions:
    """SQL for one metric's values after the missing policy, validity and winsorization.

    ``valid`` is the condition a unit must meet to count for the metric (no missing value
    under ``missing: drop``; a non-zero denominator for ratios), ``values`` the expressions to
    sum: with ``missing: drop`` they are NULL for invalid units; otherwise (no NULLs by then)
    ratio units with a zero denominator are multiplied by 0, which is cheaper than ``CASE``.
    """

    def __init__(self, metric: MetricSpec, thresholds: tuple[float, float] | None = None) -> None:
        self.raw_columns = self._roles(metric)
        raw = {role: f"CAST({quote_name(column)} AS DOUBLE)" for role, column in self.raw_columns.items()}
        filled = {role: f"coalesce({sql}, 0.0)" if metric.missing == "zero" else sql for role, sql in raw.items()}
        self.present = " AND ".join(f"{sql} IS NOT NULL" for sql in raw.values()) if metric.missing == "drop" else None
        self.mature = _mature_column(metric)
        nonzero = f"{filled['d']} <> 0" if metric.kind == "ratio" else None
        self.valid = " AND ".join(f"({c})" for c in (self.mature, self.present, nonzero) if c) or None
        value = filled["y"]
        if thresholds is not None:
            low, high = thresholds
            clamped = value
            if np.isfinite(low):
                clamped = f"greatest({clamped}, {double_literal(low)})"
            if np.isfinite(high):
                clamped = f"least({clamped}, {double_literal(high)})"
            value = f"CASE WHEN {value} = 0 THEN 0.0 ELSE {clamped} END" if metric.winsorize_scope == "nonzero" else clamped
        self.unmasked = {**filled, "y": value}
        self.indicator = None  # 1 for units that count, when validity is applied by multiplication
        self.nullable = bool(self.present or self.mature)  # units that do not count are NULL
        if self.nullable:
            self.values = {role: f"CASE WHEN {self.valid} THEN {sql} END" for role, sql in self.unmasked.items()}
            self.count = f"count({self.values['y']})"
        elif nonzero:
            mask = f"({nonzero})::DOUBLE"
            self.values = {role: sql if role == "d" else f"({sql} * {mask})" for role, sql in self.unmasked.items()}
            self.count, self.indicator = f"sum(({nonzero})::INTEGER)", f"({nonzero})::INTEGER"
        else:
            self.values, self.count = dict(self.unmasked), "count(*)"

    def masked(self, expression: str) -> str:
        """``expression`` counted only for the units that count, as ``values`` are."""
        if self.nullable:
            return f"CASE WHEN {self.valid} THEN {expression} END"
        return f"({expression} * ({self.indicator})::DOUBLE)" if self.indicator else expression

    @staticmethod
    def _roles(metric: MetricSpec) -> dict[str, str]:
        roles = {"y": metric.value_column}
        if metric.kind == "ratio":
            roles["d"] = str(metric.denominator)
        if metric.covariate:
            roles["x"] = metric.covariate
        roles.update({f"c{j}": column for j, column in enumerate(metric.covariates)})
        return roles


def _thresholds(run: Runner, base: str, spec: ExperimentSpec, notes: dict) -> dict[int, tuple[float, float]]:
    """Pooled winsorization thresholds per winsorized metric: linear-interpolation percentiles
    from exact order statistics read in bounded memory (:mod:`.order_statistics`)."""
    thresholds = {}
    for i, metric in enumerate(spec.metrics):
        if not metric.winsorized:
            continue
        sql = _Expressions(metric)
        value = sql.unmasked["y"]
        condition = [c for c in ("__variant IS NOT NULL", sql.valid,
                                 f"{value} <> 0" if metric.winsorize_scope == "nonzero" else None) if c]
        levels = [level for level in (metric.winsorize_lower, metric.winsorize_upper) if level is not None]
        window = select_ranks(run, base, Selection(
            value, lambda _, n, levels=levels: np.concatenate([linear_quantile(n, q) for q in levels]),
            where=" AND ".join(condition))).get(None)
        caps = {level: interpolate(window, level) if window else None for level in levels}
        thresholds[i] = (caps[metric.winsorize_lower] if metric.winsorize_lower is not None else -np.inf,
                         caps[metric.winsorize_upper] if metric.winsorize_upper is not None else np.inf)
        notes["winsorized"][metric.name] = {"lower": thresholds[i][0], "upper": thresholds[i][1]}
    return thresholds


def _category_levels(run: Runner, table: str, spec: ExperimentSpec, variant: str, filters: list[str],
                     notes: dict) -> dict[str, CategoryLevels]:
    """The levels of each categorical covariate, by rows (one small ``GROUP BY`` per column)."""
    found = {}
    where = " AND ".join([f"{variant} IS NOT NULL", *filters])
    for name in dict.fromkeys(c for metric in spec.metrics for c in metric.categorical_covariates):
        counts = run.frame(f"SELECT {_level(name)} AS level, count(*) AS n_rows FROM {table} WHERE {where} GROUP BY 1")
        found[name] = category_levels(name, counts.set_index("level")["n_rows"], spec.max_covariate_levels)
        notes.setdefault("covariate_levels", {})[name] = found[name].to_dict()
    return found


def _level(column: str) -> str:
    return f"coalesce(CAST({quote_name(column)} AS VARCHAR), {quote_text(MISSING_LEVEL)})"


def _term_expression(term: Term) -> str:
    """A categorical covariate's indicator (1.0 for units at the term's level)."""
    if term.other_than:
        return f"({_level(term.column)} NOT IN ({', '.join(map(quote_text, term.other_than))}))::DOUBLE"
    return f"({_level(term.column)} = {quote_text(str(term.level))})::DOUBLE"


def _aggregates(spec: ExperimentSpec, thresholds: dict[int, tuple[float, float]], types: dict[str, str],
                levels: dict[str, CategoryLevels], statistics: dict[str, tuple] | None = None,
                bounds: dict[int, tuple[float, float]] | None = None) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The per-row values to prepare in the base query (alias, SQL), and every sum and
    diagnostic count of the main pass (alias, SQL). A count of missing values that the source's
    ``statistics`` show is 0 is the constant 0, and a metric with extreme-unit ``bounds`` known
    before the pass is not scanned in it (:func:`_bounds`): each aggregate costs a few percent."""
    projections, items = [], []
    products = {"sum_y": ("y",), "sum_y2": ("y", "y"), "sum_d": ("d",), "sum_d2": ("d", "d"), "sum_yd": ("y", "d"),
                "sum_x": ("x",), "sum_x2": ("x", "x"), "sum_yx": ("y", "x"), "sum_dx": ("d", "x")}

    def complete(column: str) -> bool:
        return statistics is not None and column in statistics and statistics[column][2] == 0

    must_be_present: dict[str | None, set[str]] = {}  # maturity flag: the columns of metrics with missing: error
    for i, metric in enumerate(spec.metrics):
        sql = _Expressions(metric, thresholds.get(i))
        among = f" FILTER (WHERE {sql.mature})" if sql.mature else ""  # immature units' values are not looked at
        if metric.missing == "error":  # any missing value stops the analysis: one count for all such columns
            must_be_present.setdefault(sql.mature, set()).update(c for c in sql.raw_columns.values() if not complete(c))
        else:  # dropped or filled, and counted in the report: one count per column
            items += [(f"{i}:missing:{role}", "0" if complete(column) else
                       f"count(*){among} - count({quote_name(column)}){among}")
                      for role, column in sql.raw_columns.items()]
        if sql.mature:
            items.append((f"{i}:immature", f"count(*) FILTER (WHERE NOT {sql.mature})"))
        if metric.missing == "drop" and len(sql.raw_columns) > 1:
            items.append((f"{i}:incomplete", "0" if all(map(complete, sql.raw_columns.values())) else
                          f"count(*) FILTER (WHERE {sql.mature + ' AND ' if sql.mature else ''}NOT ({sql.present}))"))
        if metric.kind == "quantile":
            # the sum is only read by _has_nan: a NaN in the column shows up in it
            items += [(f"{i}:n", sql.count), (f"{i}:sum_y", f"sum({sql.values['y']})")]
            continue
        values = {role: f"__m{i}{role}" for role in sql.values}
        projections += [(values[role], expression) for role, expression in sql.values.items()]
        if sql.indicator:
            projections.append((f"__m{i}k", sql.indicator))
        items.append((f"{i}:n", f"sum(__m{i}k)" if sql.indicator else f"count({values['y']})" if sql.nullable else "count(*)"))
        if metric.kind == "proportion" and not types[metric.value_column].startswith((*_INTEGER, "BOOLEAN")):
            items.append((f"{i}:not_binary", f"sum(abs({values['y']} * ({values['y']} - 1)))"))
        if metric.winsorized:
            items.append((f"{i}:capped", f"count(*) FILTER (WHERE {values['y']} <> {_Expressions(metric).values['y']})"))
        for moment in metric_moments(metric)[1:]:
            items.append((f"{i}:{moment}", f"sum({' * '.join(values[role] for role in products[moment])})"))
        terms = design_terms(metric, levels)
        for term in terms:
            if term.level is not None:
                values[term.id] = f"__m{i}{term.id.replace('.', '_')}"
                projections.append((values[term.id], sql.masked(_term_expression(term))))
        for moment, roles in term_products(metric.kind, [term.id for term in terms]).items():
            items.append((f"{i}:{moment}", f"sum({' * '.join(values[role] for role in roles)})"))
        if checks_extremes(metric) and i not in (bounds or {}):
            items += _scan(values["y"], types[metric.value_column], alias=f"{i}:")
    for k, (mature, columns) in enumerate(sorted(must_be_present.items(), key=lambda item: str(item[0]))):
        if columns:  # a sum is NULL when any of its terms is: the rows missing some value
            among = f" FILTER (WHERE {mature})" if mature else ""
            present = " + ".join(f"CAST({quote_name(column)} AS DOUBLE)" for column in sorted(columns))
            items.append((f"missing_any:{k}", f"count(*){among} - count({present}){among}"))
    return projections, items


def _scan(value: str, kind: str, where: str | None = None, alias: str = "") -> list[tuple[str, str]]:
    """What :mod:`.extremes` needs beyond the sums (alias, SQL): the largest ``|value|`` and,
    unless the column holds integers (whose non-zero values are at least 1), the smallest
    non-zero one; ``where`` restricts both to some rows."""
    among = f" FILTER (WHERE {where})" if where else ""
    items = [(f"{alias}largest", f"max(abs({value})){among}")]
    if not kind.startswith((*_INTEGER, "BOOLEAN")):
        items.append((f"{alias}smallest", f"min(nullif(abs({value}), 0)){among}"))  # cheaper than a FILTER of its own
    return items


def _bounds(run: Runner, spec: ExperimentSpec, types: dict[str, str],
            statistics: dict[str, tuple] | None) -> dict[int, tuple[float, float, int]]:
    """Per checked metric whose column has free statistics (:meth:`.Runner.statistics`),
    ``(largest, limit, near_zero)``, known before the main pass, which then leaves out its own
    two aggregates (a quarter of the floor's time at 100 million units, docs/scale.md):

    * ``largest``: the column's largest ``|value|``, which bounds every unit's;
    * ``limit``: ``2 · largest / TIMES_MEDIAN``. While a variant's median non-zero ``|y|`` is
      above it, the "times the median" rule cannot fire there (:func:`_median_floor`);
    * ``near_zero``: how many non-zero values of the whole column lie within ``limit`` of 0, by
      one filtered read that DuckDB pushes into the parquet reader (3% of the floor).

    Integer columns need no read: their non-zero values are at least 1 (``limit`` 1, none near 0)."""
    bounds = {}
    for i, metric in enumerate(spec.metrics):
        column = metric.value_column
        if not checks_extremes(metric) or statistics is None or column not in statistics:
            continue
        low, high, _ = statistics[column]
        largest = max(abs(float(low)), abs(float(high))) if low is not None else 0.0
        if np.isnan(largest):
            continue
        if types[column].startswith((*_INTEGER, "BOOLEAN")):
            bounds[i] = (largest, 1.0, 0)
        elif 0 < largest < np.inf:
            limit, name = 2 * largest / TIMES_MEDIAN, quote_name(column)
            near_zero = run.all(f"SELECT count(*) FROM {SOURCE} WHERE {name} BETWEEN {double_literal(-limit)} AND "
                                f"{double_literal(limit)} AND {name} <> 0")[0][0]
            bounds[i] = (largest, limit, int(near_zero))
        else:  # all 0 (no rule fires) or infinite (the overflow rule decides)
            bounds[i] = (largest, float("nan"), 0)
    return bounds


def _median_floor(bound: tuple[float, float, int], sum_y: float, sum_y2: float) -> float:
    """A lower bound of a variant's median non-zero ``|y|`` from :func:`_bounds` and the
    variant's ``Σy`` and ``Σy²`` (NaN: none). The variant has at least ``Σy² / largest²``
    non-zero values (each is at most ``largest``) and at least ``(Σy)² / Σy²`` (Cauchy–Schwarz),
    and its median is at most ``limit`` only if half of them are among the column's
    ``near_zero``: with fewer, the median is above ``limit``."""
    largest, limit, near_zero = bound
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        non_zero = max(sum_y2 / (largest * largest), sum_y * sum_y / sum_y2)
    if near_zero == 0 or near_zero < (1 - 1e-9) * non_zero / 2:
        return limit
    return float("nan")


def _unit_labels(spec: ExperimentSpec, dialect: str) -> list[tuple[str, str]]:
    """Each row's unit label for :func:`_extreme_units` (its id; without a unit column its row
    number in the source, ``row 1`` first) and its position, which breaks ties. Distributed
    engines have no row order: there ties go to the smaller id, and a row without an id is
    named as such."""
    if dialect != "duckdb":
        return [("__unit", f"CAST({quote_name(spec.unit)} AS VARCHAR)" if spec.unit else "'a row (no unit column)'")]
    label = f"CAST({quote_name(spec.unit)} AS VARCHAR)" if spec.unit else "'row ' || CAST(row_number() OVER () AS VARCHAR)"
    return [("__unit", label), ("__row", "row_number() OVER ()")]


def _extreme_units(run: Runner, base: str, labelled: str, spec: ExperimentSpec, main: pd.DataFrame,
                   overall: pd.DataFrame, bounds: dict[int, tuple[float, float]]) -> list[ExtremeUnit]:
    """The units that dominate a metric (:mod:`.extremes`), read in up to three steps, each only
    for the variants the step before could not clear:

    1. bounds with the main pass's sums: the pass's own largest and smallest non-zero ``|y|``
       (per variant and day: combined here), or the ``bounds`` known before it (:func:`_bounds`);
    2. for variants that only the bounds before the pass left open, their own largest and
       smallest, in one query over ``base``;
    3. the exact read of the rest, in one query over ``labelled`` (the base rows with unit labels).
    """
    checked = [(i, metric) for i, metric in enumerate(spec.metrics) if checks_extremes(metric)]
    if not checked:
        return []
    # numpy on a few rows: pandas' groupby would cost more than the two aggregates at a million units
    row_of = {(name, variant): k for k, (name, variant) in enumerate(zip(overall["metric"], overall["variant"], strict=True))}
    sums = [overall[moment].to_numpy(dtype=float) for moment in ("n", "sum_y", "sum_y2")]

    def open_ones(extents: dict[tuple[int, str], tuple[float, float]]) -> list[tuple[int, str]]:
        """The (metric, variant) pairs where a rule may fire, given each one's largest and
        smallest non-zero |y| (or bounds of them)."""
        pairs = list(extents)
        rows = [row_of[(spec.metrics[i].name, variant)] for i, variant in pairs]
        largest, smallest = np.array([extents[pair] for pair in pairs], dtype=float).reshape(-1, 2).T
        maybe = may_be_extreme(*(moment[rows] for moment in sums), largest, smallest)
        return [pair for pair, open_ in zip(pairs, maybe, strict=True) if open_]

    main_variants = main["variant"].to_numpy()
    extents = {}
    for i, metric in checked:
        for variant in (v for name, v in row_of if name == metric.name):
            if i in bounds:  # a lower bound of the median stands in for one of the smallest
                row = row_of[(metric.name, variant)]
                extents[(i, variant)] = (bounds[i][0], _median_floor(bounds[i], sums[1][row], sums[2][row]))
            else:
                rows = main_variants == variant
                extents[(i, variant)] = (np.fmax.reduce(main[f"{i}:largest"].to_numpy(dtype=float)[rows]),
                                         np.fmin.reduce(main[f"{i}:smallest"].to_numpy(dtype=float)[rows])
                                         if f"{i}:smallest" in main else 1.0)
    suspects = open_ones(extents)
    bounded = [(i, variant) for i, variant in suspects if i in bounds]
    own = {}  # step 2: each open variant's own largest (and smallest, where the bounds gave none)
    for i in sorted({i for i, _ in bounded}):
        sql = _Expressions(spec.metrics[i])
        value = sql.unmasked["y"]
        among = {pair: " AND ".join(c for c in (f"__variant = {quote_text(pair[1])}", sql.valid) if c)
                 for pair in bounded if pair[0] == i}
        unbounded = [pair for pair in among if np.isnan(extents[pair][1])]
        if unbounded:  # no bound of the median: the largest and smallest, from every value of these variants
            columns = [expression for pair in unbounded for _, expression in _scan(value, "DOUBLE", among[pair])]
            where = f"__variant IN ({', '.join(sorted(quote_text(v) for _, v in unbounded))})"
            row = run.all(f"WITH base AS ({base}) SELECT {', '.join(columns)} FROM base WHERE {where}")[0]
            own.update({pair: (row[2 * k], row[2 * k + 1]) for k, pair in enumerate(unbounded)})
        if pairs := [pair for pair in among if pair not in unbounded]:
            # only the values that could fire a rule: above the largest |y| each variant's sums allow, which
            # the parquet reader skips whole row groups for (under 1% of the floor at 100M units)
            rows = [row_of[(spec.metrics[i].name, variant)] for _, variant in pairs]
            floors = np.array([extents[pair][1] for pair in pairs])
            allowed = _largest_allowed(*(moment[rows] for moment in sums), bounds[i][0], floors)
            columns = [f"max(abs({value})) FILTER (WHERE {among[pair]} AND abs({value}) > {double_literal(limit)})"
                       for pair, limit in zip(pairs, allowed, strict=True)]
            row = run.all(f"WITH base AS ({base}) SELECT {', '.join(columns)} FROM base "
                          f"WHERE abs({value}) > {double_literal(allowed.min())}")[0]
            own.update({pair: (largest if largest is not None else 0.0, extents[pair][1])  # 0: none above, cleared
                        for pair, largest in zip(pairs, row, strict=True)})
    suspects = [pair for pair in suspects if pair not in own] + open_ones(own)
    if not suspects:
        return []
    columns, largest = [], []
    for i, variant in suspects:
        sql = _Expressions(spec.metrics[i])
        value = sql.unmasked["y"]
        among = " AND ".join(c for c in (f"__variant = {quote_text(variant)}", sql.valid) if c)
        if run.dialect == "duckdb":  # DuckDB's ordered first(): the largest unit within the same pass
            order = f"ORDER BY abs({value}) DESC, __row) FILTER (WHERE {among})"
            columns += [f"first(__unit {order}", f"first({value} {order}"]
        else:  # elsewhere one small sorted query per suspect (rare: the sums rule most variants out)
            largest.append(run.all(f"WITH base AS ({labelled}) SELECT __unit, {value} FROM base WHERE {among} "
                                   f"ORDER BY abs({value}) DESC, __unit LIMIT 1")[0])
        columns += [f"count(*) FILTER (WHERE {among})", f"sum(abs({value})) FILTER (WHERE {among})",
                    f"median(abs({value})) FILTER (WHERE {among} AND {value} <> 0)",
                    f"var_pop({value}) FILTER (WHERE {among})", f"avg({value}) FILTER (WHERE {among})"]
    row = run.all(f"WITH base AS ({labelled}) SELECT {', '.join(columns)} FROM base "
                  f"WHERE __variant IN ({', '.join(sorted({quote_text(v) for _, v in suspects}))})",
                  **({"native": True} if run.dialect == "duckdb" else {}))[0]
    if largest:
        row = [value for k in range(len(suspects)) for value in (*largest[k], *row[5 * k: 5 * k + 5])]
    flagged = []
    for k, (i, variant) in enumerate(suspects):
        unit, value, count, total, median, variance, mean = row[7 * k: 7 * k + 7]
        if value is not None and (unit_found := extreme_unit(spec.metrics[i].name, variant, unit, value, count, total,
                                                              median, variance, mean)):
            flagged.append(unit_found)
    return flagged


def _largest_allowed(n: np.ndarray, sum_y: np.ndarray, sum_y2: np.ndarray, largest: float,
                     smallest: np.ndarray) -> np.ndarray:
    """Per variant, a largest ``|y|`` at which :func:`.extremes.may_be_extreme` still rules every
    rule out, given the variant's sums and ``smallest``: no value above it, no flag. Found by
    bisection between 0 and ``largest`` (where some rule may fire), since a larger largest never
    makes a rule less likely to fire: the next double up may fire one."""
    # on the bits of the doubles, which order non-negative doubles as their values: 64 steps to adjacent doubles
    low = np.zeros(len(n), dtype=np.int64)
    high = np.full(len(n), min(largest, FLOAT_LIMIT), dtype=float).view(np.int64)
    smallest_of = np.broadcast_to(np.asarray(smallest, dtype=float), (len(n),))
    while (high - low > 1).any():
        middle = low + (high - low) // 2
        firing = may_be_extreme(n, sum_y, sum_y2, middle.view(float), smallest_of)
        low, high = np.where(firing, low, middle), np.where(firing, middle, high)
    return low.view(float)


def _diagnostics(wide: pd.DataFrame, spec: ExperimentSpec, drops: DropCounter, notes: dict, source: str,
                 run: Runner, base: str, thresholds: dict, end_day=None) -> None:
    """Turn the diagnostic counts into errors, counted drops and notes, as the frame path does."""
    numeric = [column for column in wide.columns if column != "variant"]
    values = wide[numeric].to_numpy(dtype=float)  # one block: pandas look-ups per column add up here
    total = dict(zip(numeric, np.nansum(values, axis=0).tolist(), strict=True))
    finite = dict(zip(numeric, np.isfinite(values).all(axis=0).tolist(), strict=True))
    if any(total[name] for name in total if name.startswith("missing_any:")):
        total.update(_missing_counts(run, base, spec, thresholds))
    for i, metric in enumerate(spec.metrics):
        sql = _Expressions(metric, thresholds.get(i))
        missing = {role: int(total.get(f"{i}:missing:{role}", 0)) for role in sql.raw_columns}
        immature = int(total[f"{i}:immature"]) if sql.mature else 0
        if sql.mature:
            drops.add(immature_reason(metric, maturity_cutoff(metric, end_day)), immature)
        incomplete = 0
        if metric.missing == "error":
            for role, count in missing.items():
                if count:
                    raise missing_value_error(metric, sql.raw_columns[role], count, source)
        elif metric.missing == "zero":
            for role, count in missing.items():
                if count:
                    notes["filled_with_zero"][f"{metric.name}: {sql.raw_columns[role]}"] = count
        elif metric.missing == "drop":
            incomplete = int(total[f"{i}:incomplete"]) if len(sql.raw_columns) > 1 else missing["y"]
            drops.add(f"metric {metric.name!r}: missing value", incomplete)
        if metric.kind == "ratio":
            zero = int(total["__rows"]) - immature - incomplete - int(total[f"{i}:n"])
            drops.add(f"metric {metric.name!r}: zero denominator", zero)
        if metric.winsorized:
            notes["winsorized"][metric.name]["units_capped"] = int(total[f"{i}:capped"])
        if metric.kind == "proportion":
            # integer and boolean columns: y² ≥ y for every integer, so Σy² = Σy exactly when all are 0/1
            odd = (total[f"{i}:not_binary"] > 0 if f"{i}:not_binary" in total
                   else total[f"{i}:sum_y2"] != total[f"{i}:sum_y"])
            if odd:
                value = sql.unmasked["y"]
                example = run.all(f"WITH base AS ({base}) SELECT {value} FROM base WHERE __variant IS NOT NULL AND "
                                  f"{sql.valid or 'true'} AND {value} NOT IN (0, 1) LIMIT 1")[0][0]
                raise not_binary_error(metric, example, source)
            wide[f"{i}:sum_y2"] = wide[f"{i}:sum_y"]
        moments = [f"{i}:{moment}" for moment in metric_moments(metric)[1:]] if metric.kind != "quantile" else []
        moments += [name for name in finite if name.startswith(f"{i}:sum_") and name not in moments]
        if not all(finite[moment] for moment in moments):
            for column in metric.columns:
                infinite = f"abs(CAST({quote_name(column)} AS DOUBLE)) = CAST('Infinity' AS DOUBLE)"
                if run.all(f"WITH base AS ({base}) SELECT count(*) FROM base WHERE {infinite}")[0][0]:
                    raise InputError(f"{source}: metric {metric.name!r}: column {column!r} has infinite values; remove or cap them")


def _missing_counts(run: Runner, base: str, spec: ExperimentSpec, thresholds: dict) -> dict[str, int]:
    """Some row misses a value of a metric with ``missing: error`` (the main pass's one count
    for all of them): each such column's count, under the main pass's names, so the metrics are
    checked in order as on the frame path."""
    counts = {}
    for i, metric in enumerate(spec.metrics):
        if metric.missing == "error":
            sql = _Expressions(metric, thresholds.get(i))
            among = f" FILTER (WHERE {sql.mature})" if sql.mature else ""
            counts.update({f"{i}:missing:{role}": f"count(*){among} - count({quote_name(column)}){among}"
                           for role, column in sql.raw_columns.items()})
    row = run.all(f"WITH base AS ({base}) SELECT {', '.join(counts.values())} FROM base WHERE __variant IS NOT NULL")[0]
    return {name: int(count) for name, count in zip(counts, row, strict=True)}


def _quantile_draws(run: Runner, base: str, spec: ExperimentSpec, thresholds: dict, wide: pd.DataFrame,
                    order: list[str], samples: int, random_state: int) -> dict:
    """Bootstrap replicates of each quantile metric, reading only the ranks they need: per
    metric, a histogram of each variant's values, then the values of the bins that hold the
    wanted ranks (:mod:`.order_statistics`; on Spark each query costs a job)."""
    draws = {}
    for i, metric in enumerate(spec.metrics):
        if metric.kind != "quantile":
            continue
        sql = _Expressions(metric, thresholds.get(i))
        counts = dict(zip(wide["variant"], wide[f"{i}:n"].astype(int), strict=True))
        wanted = {}  # variant: (k, ranks)
        for position, variant in enumerate(order):
            if counts.get(variant, 0):
                wanted[variant] = bootstrap_ranks(counts[variant], float(metric.quantile), samples,
                                                  quantile_rng(random_state, i, position))
        if not wanted:
            continue
        where = " AND ".join(c for c in (f"__variant IN ({', '.join(map(quote_text, wanted))})", sql.valid) if c)
        windows = select_ranks(run, base, Selection(sql.unmasked["y"], lambda variant, _, wanted=wanted: np.append(*wanted[variant]),
                                                    where=where, group="__variant"))
        for variant, (k, ranks) in wanted.items():
            window = windows[variant]
            draws[(metric.name, variant)] = (float(window.at(np.array([k]))[0]), window.at(ranks), window.n)
    return draws
