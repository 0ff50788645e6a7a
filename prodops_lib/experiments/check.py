"""``prodops check`` for an experiment or fake-door report: the file's columns (used and not),
the variants and units found, exposure dates, and warnings such as a control that is not in
the data or two variant labels that differ only in case or spacing (:mod:`prodops_lib.check`).
Unit-level files are summarised inside DuckDB, so a check of millions of rows takes seconds."""

from __future__ import annotations

import pandas as pd

from prodops_lib.check import InputCheck, describe_columns, describe_drops
from prodops_lib.io import DropLog, InputError, existing_file, load_table
from prodops_lib.labels import count_of, p_equals
from prodops_lib.params import resolve_path

from .aggregate import DropCounter, check_columns
from .aggregate_sql import check_numeric
from .design import covariate_column, read_pre_period
from .duckdb_source import Runner, private_cursor, quote_name, read_unit_file
from .engines import SOURCE, open_runner
from .ledger import read_import_csv
from .report import ExperimentReport, FakeDoorReport, load_fake_door
from .srm import BORDERLINE, P_FLOOR, similar_labels, srm_test
from .unit_check_sql import unit_filters_exact

__all__ = ["check_design", "check_experiment", "check_fake_door"]


def _variant_warnings(variants: list[str], control: str | None, expected: dict[str, float] | None) -> list[str]:
    warnings = [f"variants {first!r} and {second!r} differ only in case or spacing; they are counted as two "
                "arms: fix the labels in the data" for first, second in similar_labels(variants)]
    if control and control not in variants:
        warnings.append(f"control {control!r} is not among the variants found ({', '.join(map(repr, variants))}); "
                        "set experiment.control")
    for name in expected or {}:
        if name not in variants:
            warnings.append(f"expected_split names {name!r}, which is not in the data")
    return warnings


def _sample_ratio(units: dict[str, int], spec, check: InputCheck) -> None:
    """The sample ratio check the report will make, and a warning when it fails (p below the
    experiment's ``srm_alpha``) or is borderline (p below 0.01)."""
    if len(units) < 2 or (spec.expected_split and set(units) - set(spec.expected_split)):
        return  # the variant warnings say what is wrong
    result = srm_test(units, spec.expected_split, alpha=spec.srm_alpha, method=spec.srm_test)
    check.lines.append(f"sample ratio check: {p_equals(result.p_value, P_FLOOR)} ({result.method} against the planned split)")
    if result.mismatch:
        check.warnings.append(f"sample ratio mismatch ({p_equals(result.p_value, P_FLOOR)}, below {spec.srm_alpha:g}): the "
                              "report will say investigate, not ship")
    elif result.borderline:
        check.warnings.append(f"sample ratio borderline ({p_equals(result.p_value, P_FLOOR)}, below {BORDERLINE:g}): check "
                              "the assignment before trusting the effects")


def _unit_level(run, spec) -> InputCheck:
    """The rows, columns, variants and units, and exposure dates of the unit-level source of
    ``run`` (a DuckDB runner over a file, or a Spark or warehouse runner: the same queries,
    compiled for each), with the report's own one-line errors for a missing or non-numeric column."""
    check = InputCheck()
    types = run.columns()
    columns = list(types)
    check_columns(columns, spec, run.source)
    for metric in spec.metrics:
        for column in metric.columns:
            check_numeric(run, SOURCE, column, types[column], metric, run.source)
    variant = f"CAST({quote_name(spec.variant_column)} AS VARCHAR)"
    # one pass: rows, units (and ids, to find a unit with two rows in one variant) and exposure times per variant
    unit = quote_name(str(spec.unit))
    counts = [f"count(DISTINCT {unit}) AS units", f"count({unit}) AS ids"] if spec.unit else ["count(*) AS units"]
    if spec.timestamp_column:
        stamp = quote_name(spec.timestamp_column)
        counts += [f"min(TRY_CAST({stamp} AS TIMESTAMP)) AS first", f"max(TRY_CAST({stamp} AS TIMESTAMP)) AS last"]
        if run.dialect in ("duckdb", "spark"):  # elsewhere (Postgres) a value that is not a time fails, as in the report
            counts.append(f"count(*) FILTER (WHERE {stamp} IS NOT NULL AND TRY_CAST({stamp} AS TIMESTAMP) IS NULL) "
                          "AS unreadable")
    arms = run.frame(f"SELECT {variant} AS variant, count(*) AS rows, {', '.join(counts)} FROM {SOURCE} "
                     "GROUP BY 1 ORDER BY 1")
    if spec.unit and (arms["ids"] > arms["units"])[arms["variant"].notna()].any():
        unit_filters_exact(run, SOURCE, spec, variant, DropCounter(run.source), {})  # the report's own error
    rows = int(arms["rows"].sum())
    missing = arms["variant"].isna()
    if missing.any():  # not an arm: the report drops these rows before the sample ratio test
        check.warnings.append(f"{count_of(int(arms.loc[missing, 'rows'].sum()), 'row')} without a variant in "
                              f"{spec.variant_column!r}; the report drops them and counts them in its data quality")
    if spec.timestamp_column:
        _exposures(arms, spec, check)
    arms = arms.loc[~missing, ["variant", "rows", "units"]].reset_index(drop=True)
    arms[["rows", "units"]] = arms[["rows", "units"]].astype("int64")
    arms["variant"] = arms["variant"].astype(str).astype(object)  # one type whichever engine answered
    used = {"unit": spec.unit, "variant": spec.variant_column, "timestamp": spec.timestamp_column,
            "segments": spec.segments or None}
    for metric in spec.metrics:
        used[f"metric {metric.name}"] = [*metric.columns, *metric.categorical_covariates]
    check.lines.insert(0, f"{run.source}: {rows:,} rows")
    check.lines.extend("  " + line for line in describe_columns(columns, used))
    check.tables["variants found"] = arms
    check.warnings.extend(_variant_warnings(arms["variant"].tolist(), spec.control, spec.expected_split))
    _sample_ratio(dict(zip(arms["variant"], arms["units"], strict=True)), spec, check)
    return check


def _exposures(arms: pd.DataFrame, spec, check: InputCheck) -> None:
    """The exposure dates (and months) of the variants' first and last exposure times, and
    the values that are not times."""
    first, last = pd.to_datetime(arms["first"]).min(), pd.to_datetime(arms["last"]).max()
    if pd.notna(first):
        check.lines.append(f"exposures: {first:%Y-%m-%d} to {last:%Y-%m-%d}")
        check.months = [str(m) for m in pd.period_range(first, last, freq="M")]
    unreadable = int(arms["unreadable"].sum()) if "unreadable" in arms else 0
    if unreadable:
        check.warnings.append(f"{unreadable:,} values of {spec.timestamp_column!r} are not times; those units count "
                              "in the effect, not in the chart over time")


def check_experiment(report: ExperimentReport, period: str | None = None) -> InputCheck:
    """What the experiment report reads: rows, columns, variants and units, exposure dates."""
    del period  # an experiment is analysed whole
    check = InputCheck()
    if report.aggregates:
        log = DropLog()
        frame = load_table(report.source, log=log, label=report.source)
        check.lines.append(f"{report.source}: {describe_drops(log, report.source)} (aggregates, one row per variant)")
        column = report.experiment.variant_column
        if column not in frame.columns:
            raise InputError(f"{report.source}: variant column {column!r} (experiment.variant_column) is missing; "
                             f"columns present: {', '.join(map(str, frame.columns[:12]))}")
        check.tables["variants found"] = frame
        check.warnings.extend(_variant_warnings(frame[column].astype(str).tolist(), report.experiment.control,
                                                report.experiment.expected_split))
    elif report.engine_source():
        runner = open_runner(report.engine_source())  # the extra is installed, the variable set, the source readable
        try:
            check = _unit_level(runner, report.experiment)
        finally:
            runner.close()
        check.lines.insert(1, "  read where it lives: only counts and per-variant sums come back")
    else:
        path = resolve_path(report.source)
        if not path.is_file():
            raise InputError(f"{report.source}: file not found (looked at {path}); check source:")
        check, _ = read_unit_file(path, report.source,
                                  lambda query: _unit_level(Runner(private_cursor(), report.source, query), report.experiment))
    history = report.experiment.history
    if history:  # read now, so a bad history file is found before the run
        past = read_import_csv(existing_file(history, f"experiment.history ({history})"))
        check.lines.append(f"{history}: {count_of(len(past), 'past result')} to learn priors from")
    return check


def check_fake_door(report: FakeDoorReport, period: str | None = None) -> InputCheck:
    """What the fake-door report reads: one row per arm with exposures and clicks."""
    del period
    check = InputCheck()
    log = DropLog()
    frame = load_fake_door(report, log)
    check.lines.append(f"{report.source}: {describe_drops(log, report.source)}")
    check.tables["arms found"] = frame[["variant", "exposures", "clicks"]]
    check.warnings.extend(_variant_warnings(frame["variant"].astype(str).tolist(), report.control, None))
    return check


def check_design(report: ExperimentReport, period: str | None = None) -> InputCheck:
    """What the design notebook reads: the pre-period rows of the ``design:`` block, its window,
    units and days, and which columns the variance reduction will use."""
    del period  # a plan reads only its pre-period
    if report.design is None:
        raise InputError(f"experiment {report.experiment.name!r}: no design: block in its parameters; add one with "
                         "pre_source (see docs/inputs.md)")
    check, log = InputCheck(), DropLog()
    rows = read_pre_period(report.design, report.experiment, log)
    check.lines.append(f"{report.design.pre_source}: {describe_drops(log, report.design.pre_source)}")
    unit = str(report.experiment.unit)
    check.lines.append(f"{count_of(rows[unit].nunique(), 'unit')} over {count_of(rows['day'].nunique(), 'day')}, "
                       f"{rows['day'].min():%Y-%m-%d} to {rows['day'].max():%Y-%m-%d}")
    for metric in report.experiment.metrics:
        column = covariate_column(metric, report.design)
        if column in rows.columns:
            check.lines.append(f"{metric.name}: CUPED measured with {column!r}")
        elif column:
            check.warnings.append(f"{metric.name}: CUPED measured with its own earlier value ({metric.covariate!r} is "
                                  "not a pre-period column; map it under design.covariates)")
    if rows["day"].nunique() < 14:
        check.warnings.append(f"only {count_of(rows['day'].nunique(), 'day')} of pre-period: traffic and variance are "
                              "read from a short window; two weeks or more are steadier")
    return check
