"""``prodops check`` for an experiment or fake-door report: the file's columns (used and not),
the variants and units found, exposure dates, and warnings such as a control that is not in
the data or two variant labels that differ only in case or spacing (:mod:`prodops_lib.check`).
Unit-level files are summarised inside DuckDB, so a check of millions of rows takes seconds."""

from __future__ import annotations

import pandas as pd

from prodops_lib.check import InputCheck, describe_columns, describe_drops
from prodops_lib.io import DropLog, InputError, existing_file, load_table
from prodops_lib.labels import count_of
from prodops_lib.params import resolve_path

from .design import covariate_column, read_pre_period
from .duckdb_source import database_settings
from .engines import open_runner
from .ledger import read_import_csv
from .report import ExperimentReport, FakeDoorReport, load_fake_door
from .srm import BORDERLINE, similar_labels, srm_test

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
    check.lines.append(f"sample ratio check: p = {result.p_value:.2g} ({result.method} against the planned split)")
    if result.mismatch:
        check.warnings.append(f"sample ratio mismatch (p = {result.p_value:.2g} < {spec.srm_alpha:g}): the "
                              "report will say investigate, not ship")
    elif result.borderline:
        check.warnings.append(f"sample ratio borderline (p = {result.p_value:.2g} < {BORDERLINE:g}): check "
                              "the assignment before trusting the effects")


def _unit_level(report: ExperimentReport, check: InputCheck) -> None:
    import duckdb

    spec = report.experiment
    path = resolve_path(report.source)
    if not path.is_file():
        raise InputError(f"{report.source}: file not found (looked at {path}); check source:")
    reader = "read_parquet(?)" if path.suffix.lower() in (".parquet", ".pq") else "read_csv(?, all_varchar=true)"
    # the analysis's memory bound and spill folder: a distinct count of 100M text ids needs gigabytes otherwise
    with duckdb.connect(config=database_settings()) as connection:
        try:
            columns = [row[0] for row in connection.execute(f"describe select * from {reader}", [str(path)]).fetchall()]
        except duckdb.Error as error:
            raise InputError(f"{report.source}: not readable as a table ({str(error).splitlines()[0]})") from None
        if spec.variant_column not in columns:
            raise InputError(f"{report.source}: variant column {spec.variant_column!r} (experiment.variant_column) "
                             f"is missing; columns present: {', '.join(columns[:12])}")
        unit = f'count(distinct "{spec.unit}")' if spec.unit in columns else "count(*)"
        arms = connection.execute(
            f'select cast("{spec.variant_column}" as varchar) as variant, count(*) as rows, {unit} as units '
            f"from {reader} group by 1 order by 1", [str(path)]).df()
        if spec.timestamp_column and spec.timestamp_column in columns:
            stamps = connection.execute(
                f'select min(try_cast("{spec.timestamp_column}" as timestamp)), '
                f'max(try_cast("{spec.timestamp_column}" as timestamp)), '
                f'count(*) filter (where "{spec.timestamp_column}" is not null and '
                f'try_cast("{spec.timestamp_column}" as timestamp) is null) from {reader}', [str(path)]).fetchone()
            first, last, unreadable = stamps
            if first is not None:
                check.lines.append(f"exposures: {first:%Y-%m-%d} to {last:%Y-%m-%d}")
                check.months = [str(m) for m in pd.period_range(first, last, freq="M")]
            if unreadable:
                check.warnings.append(f"{unreadable:,} values of {spec.timestamp_column!r} are not timestamps; "
                                      "those units are dropped and counted in the report")
    used = {"unit": spec.unit, "variant": spec.variant_column, "timestamp": spec.timestamp_column,
            "segments": spec.segments or None}
    for metric in spec.metrics:
        used[f"metric {metric.name}"] = [c for c in (metric.column or (None if metric.numerator else metric.name),
                                                     metric.numerator, metric.denominator, metric.covariate) if c]
        used[f"metric {metric.name}"] += metric.regression_covariates
    missing = sorted({c for value in used.values() if value for c in ([value] if isinstance(value, str) else value)}
                     - set(columns))
    if missing:
        raise InputError(f"{report.source}: column {missing[0]!r} named in the experiment is missing; "
                         f"columns present: {', '.join(columns[:12])}")
    check.lines.insert(0, f"{report.source}: {int(arms['rows'].sum()):,} rows")
    check.lines.extend("  " + line for line in describe_columns(columns, used))
    check.tables["variants found"] = arms
    check.warnings.extend(_variant_warnings(arms["variant"].astype(str).tolist(), spec.control, spec.expected_split))
    _sample_ratio(dict(zip(arms["variant"].astype(str), arms["units"], strict=True)), spec, check)
    if spec.unit and spec.unit not in columns:
        check.warnings.append(f"unit column {spec.unit!r} is missing: every row is counted as a unit")


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
        source = report.engine_source()
        runner = open_runner(source)  # the extra is installed, the variable set, the source readable
        columns = list(runner.columns())
        runner.close()
        check.lines.append(f"{report.engine} source: {len(columns)} columns; read where it lives, only per-variant "
                           "sums come back")
    else:
        _unit_level(report, check)
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
