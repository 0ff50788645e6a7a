"""One call from data to decision: :func:`analyse_experiment` and :func:`analyse_aggregates`.

Notebook use::

    analysis = analyse_experiment("data/sample/ab/checkout.parquet", spec)
    analysis.summary          # decision, reasons, SRM, power: JSON-able
    analysis.to_frame()       # the tidy table, one row per metric x variant
    plot_forest(analysis)     # charts in .plots
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..io import SQL, InputError, existing_file
from .aggregate import (
    CollectedData,
    check_metric_units,
    check_variants,
    moments_from_aggregates,
    order_variants,
)
from .aggregate_frame import collect_frame
from .aggregate_sql import collect_sql
from .corrections import FAMILYWISE
from .decision import Decision, decide
from .distribution import value_distribution
from .duckdb_source import file_query, read_unit_file
from .effects import cumulative_table, results_table
from .engines import EngineSource, open_runner
from .extremes import CAP_QUANTILE, ExtremeUnit
from .moments import Moments
from .novelty import NoveltyTrend, effect_by_exposure_day, novelty_trends, trends_frame
from .power import SamplePower, sample_power
from .segments import EXPLORATORY_WARNING, segment_table
from .spec import ExperimentSpec
from .srm import SrmResult, srm_test

if TYPE_CHECKING:
    from .program import LearnedPrior

__all__ = ["ExperimentAnalysis", "analyse_aggregates", "analyse_experiment"]

Source = pd.DataFrame | str | os.PathLike | SQL | EngineSource


@dataclass(frozen=True)
class ExperimentAnalysis:
    """Everything an experiment's report shows.

    ``results`` is the tidy table (see :data:`.effects.RESULT_COLUMNS`); ``cumulative`` the
    per-day series with the always-valid boundary (None without a timestamp column);
    ``segments`` the exploratory per-segment effects (None without segments); ``drops`` the
    rows dropped with their reasons (columns source, reason, rows); ``notes`` the data-quality
    facts that are not drops (values filled with 0, winsorization caps, crossover units).
    ``by_exposure_day`` is each metric's effect per exposure-day cohort and ``novelty`` the
    trend of that effect over days exposed (:mod:`.novelty`). ``priors`` are the priors learned
    for the Bayesian view by metric name (``prior: learned``; None with the spec's fixed prior).
    """

    spec: ExperimentSpec
    results: pd.DataFrame
    srm: SrmResult
    decision: Decision
    power: SamplePower | None
    cumulative: pd.DataFrame | None
    segments: pd.DataFrame | None
    drops: pd.DataFrame
    notes: dict
    source: str
    units: dict[str, int]
    data: object = field(default=None, repr=False, compare=False)
    connection: object = field(default=None, repr=False, compare=False)
    by_exposure_day: pd.DataFrame | None = None
    novelty: list[NoveltyTrend] = field(default_factory=list)
    priors: Mapping[str, LearnedPrior] | None = None

    def to_frame(self) -> pd.DataFrame:
        """The tidy results table (a copy)."""
        return self.results.copy()

    @property
    def summary(self) -> dict:
        """Decision first, then the reasons, SRM, power and data quality; JSON-able."""
        return _jsonable({
            "experiment": self.spec.name, "hypothesis": self.spec.hypothesis, "theme": self.spec.theme,
            "headline": self.decision.headline, "verdict": self.decision.verdict, "variant": self.decision.variant,
            "reasons": self.decision.reasons, "srm": self.srm.to_dict(), "units": self.units,
            "power": self.power.to_dict() if self.power else None, "alpha": self.spec.alpha,
            "correction": self.spec.correction, "primary_metric": self.spec.primary_metric.name,
            "segments_warning": EXPLORATORY_WARNING if self.segments is not None else None,
            "data_quality": {"source": self.source, "drops": self.drops.to_dict("records"), **self.notes,
                             **({} if self.spec.unit or self.data is None else
                                {"unit_check": "no unit column: units seen in several variants were not checked"})},
        })

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table behind the report's charts, by file name, for ``results/``."""
        tables = {"results": self.to_frame(), "srm": self.srm.to_frame(), "drops": self.drops}
        if self.cumulative is not None:
            tables["cumulative"] = self.cumulative
        if self.by_exposure_day is not None:
            tables["effect_by_exposure_day"] = self.by_exposure_day
            tables["novelty_trend"] = trends_frame(self.novelty)
        if self.segments is not None:
            tables["segments"] = self.segments
        if self.power is not None:
            tables["power_curve"] = self.power.curve()
        if self.priors:
            columns = ["metric", "mean", "sd", "n_experiments", "method", "fell_back"]
            tables["priors"] = pd.concat([prior.to_frame()[columns] for prior in self.priors.values()], ignore_index=True)
        return tables

    def distribution(self, metric: str | None = None, bins: int = 40) -> pd.DataFrame:
        """Histogram of a metric's unit values per variant (default: the primary metric).
        Reads the source again; not available for aggregates."""
        if self.data is None:
            raise ValueError(f"{self.source}: the distribution needs unit-level data, and this analysis used aggregates")
        if isinstance(self.data, EngineSource):
            raise ValueError(f"{self.source}: the data stays on {self.data.engine}; only aggregates were read")
        chosen = self.spec.metric(metric) if metric else self.spec.primary_metric
        return value_distribution(self.data, self.spec, chosen, bins=bins, connection=self.connection)

    def _repr_html_(self) -> str:
        reasons = "".join(f"<li>{html.escape(reason)}</li>" for reason in self.decision.reasons)
        table = self.results[["metric", "variant", "rel_effect", "rel_ci_low", "rel_ci_high", "p_value_adjusted",
                              "significant"]].to_html(index=False, escape=True, float_format=lambda v: f"{v:.4g}")
        return (f"<div><p><strong>{html.escape(self.decision.verdict.upper())}</strong>: "
                f"{html.escape(self.decision.headline)}</p><ul>{reasons}</ul>{table}</div>")


def analyse_experiment(
    source: Source,
    spec: ExperimentSpec,
    *,
    bootstrap_samples: int = 2000,
    random_state: int = 0,
    connection=None,
    priors: Mapping[str, LearnedPrior] | None = None,
) -> ExperimentAnalysis:
    """Analyse unit-level data: a DataFrame, a CSV/parquet path (relative paths from the
    project root), a :class:`prodops_lib.io.SQL` query, or an :class:`.engines.EngineSource` (a
    table or query on Spark or in a SQL warehouse). Files and queries are aggregated inside
    DuckDB (``connection`` to reuse one), engine sources where they live. ``random_state``
    seeds the quantile bootstrap. ``priors`` (by metric name, :func:`.priors.report_priors`)
    replace the spec's prior."""
    if not isinstance(spec, ExperimentSpec):
        raise ValueError(f"analyse_experiment: spec must be an ExperimentSpec, got {type(spec).__name__}")
    if bootstrap_samples < 100:
        raise ValueError(f"analyse_experiment: bootstrap_samples must be at least 100, got {bootstrap_samples}")
    options = {"bootstrap_samples": bootstrap_samples, "random_state": random_state}
    collected, data = _collect(source, spec, options, connection)
    analysis = _analyse(collected, spec, data, connection, priors)
    # found by the collector's single pass (see .extremes)
    flagged = sorted(collected.extreme_units, key=lambda unit: (unit.metric, unit.variant))
    if flagged:
        names = {unit.metric for unit in flagged}
        # only the flagged metrics again (and the primary, which a spec needs), without segments or days
        kept = [m for m in spec.metrics if m.name in names or m.role == "primary"]
        capped_spec = dataclasses.replace(
            spec, segments=[], timestamp_column=spec.timestamp_column if any(m.maturity_days for m in kept) else None,
            metrics=[dataclasses.replace(m, winsorize_upper=CAP_QUANTILE, winsorize_lower=1 - CAP_QUANTILE)
                     if m.name in names else m for m in kept])
        capped = _analyse(_collect(source, capped_spec, options, connection)[0], capped_spec, data, connection,
                          priors).results
        analysis.notes["extreme_units"] = [_with_effects(unit, analysis.results, capped) for unit in flagged]
    return analysis


def _with_effects(unit: ExtremeUnit, results: pd.DataFrame, capped: pd.DataFrame) -> dict:
    """The flagged unit, and its metric's relative effects as measured and capped, per variant."""
    def effects(table: pd.DataFrame) -> dict[str, float]:
        rows = table[table["metric"] == unit.metric]
        return {str(v): float(e) for v, e in zip(rows["variant"], rows["rel_effect"], strict=True)}

    return {"metric": unit.metric, "variant": unit.variant, "unit": unit.unit, "value": unit.value,
            "times_median": unit.times_median, "share": unit.share, "variance_share": unit.variance_share,
            "description": unit.describe(),
            "effect": effects(results), "effect_capped": effects(capped), "cap_quantile": CAP_QUANTILE}


def _collect(source: Source, spec: ExperimentSpec, options: dict, connection) -> tuple[CollectedData, object]:
    """The sufficient statistics of ``source``, and the data the analysis can read again."""
    if isinstance(source, pd.DataFrame):
        collected = collect_frame(source, spec, **options)
        data = source
    elif isinstance(source, EngineSource):
        runner = open_runner(source)
        try:
            collected = collect_sql("", spec, runner=runner, **options)
        finally:
            runner.close()
        collected.notes["dialect"] = runner.dialect  # which warehouse, for the report's words
        data = source
    elif isinstance(source, SQL):
        collected = collect_sql(source.query, spec, connection=connection, source=source.name, **options)
        data = source
    elif isinstance(source, str | os.PathLike):
        path = existing_file(source, str(source))
        collected, query = read_unit_file(
            path, path.name, lambda query: collect_sql(query, spec, connection=connection, source=path.name, **options))
        # read again as it was read (the distribution chart): the plain path, or the query that worked
        data = path if query == file_query(path) else SQL(query, (str(path),), path.name)
    else:
        raise ValueError(
            "analyse_experiment: source must be a DataFrame, a CSV/parquet path, prodops_lib.io.SQL or an EngineSource, "
            f"got {type(source).__name__}"
        )
    return collected, data


def analyse_aggregates(frame: pd.DataFrame, spec: ExperimentSpec, *, source: str = "aggregates",
                       priors: Mapping[str, LearnedPrior] | None = None) -> ExperimentAnalysis:
    """Analyse per-variant aggregates (n, sum, sum of squares; or exposures and clicks): see
    :func:`.aggregate.moments_from_aggregates` for the columns. Units per variant for the sample
    ratio check are the primary metric's ``n``."""
    maturing = next((metric.name for metric in spec.metrics if metric.maturity_days), None)
    if maturing:
        raise InputError(f"{source}: metric {maturing!r} has maturity_days, which needs unit-level data with exposure "
                         "times; aggregate only mature units yourself and remove maturity_days")
    overall = moments_from_aggregates(frame, spec, source)
    primary = overall[overall["metric"] == spec.primary_metric.name]
    units = {str(variant): int(n) for variant, n in zip(primary["variant"], primary["n"], strict=True)}
    check_variants(units, spec, source)
    check_metric_units(overall, spec, source)
    empty_drops = pd.DataFrame(columns=["source", "reason", "rows"])
    collected = CollectedData(source=source, overall=overall, units=_ordered(units, spec), drops=empty_drops)
    return _analyse(collected, spec, None, priors=priors)


def _ordered(units: dict[str, int], spec: ExperimentSpec) -> dict[str, int]:
    return {variant: units[variant] for variant in order_variants(list(units), spec) if variant in units}


def _analyse(collected: CollectedData, spec: ExperimentSpec, data: object, connection=None,
             priors: Mapping[str, LearnedPrior] | None = None) -> ExperimentAnalysis:
    _note_late_exposures(collected, spec)
    srm = srm_test(collected.units, spec.expected_split, spec.srm_alpha, method=spec.srm_test)
    results = results_table(collected, spec, priors)
    cumulative = cumulative_table(collected, spec)
    by_exposure_day = effect_by_exposure_day(collected, spec)
    segments = segment_table(collected.segments, spec)
    power = _sample_power(collected, results, spec)
    decision = decide(results, spec, srm, power, collected.notes.get("crossover_alarm"), segments is not None)
    return ExperimentAnalysis(
        spec=spec, results=results, srm=srm, decision=decision, power=power, cumulative=cumulative,
        segments=segments, drops=collected.drops, notes=collected.notes, source=collected.source,
        units=collected.units, data=data, connection=connection,
        by_exposure_day=by_exposure_day, novelty=novelty_trends(by_exposure_day, spec), priors=priors,
    )


def _note_late_exposures(collected: CollectedData, spec: ExperimentSpec, today: dt.date | None = None) -> None:
    """Count units first exposed after the experiment's end date (or after today, when it
    has none): a clock or time-zone error in the export, or rows of a later test. They stay in
    the analysis; the page says how many and the latest date."""
    if collected.daily is None or collected.daily.empty:
        return
    limit = spec.end_date or today or dt.date.today()
    daily = collected.daily
    late = daily[(daily["metric"] == spec.primary_metric.name) & (pd.to_datetime(daily["day"]).dt.date > limit)]
    if len(late):
        collected.notes["units_after_end"] = int(late["n"].sum())
        collected.notes["latest_exposure"] = str(pd.to_datetime(late["day"]).max().date())
        collected.notes["exposure_limit"] = f"{'end_date ' if spec.end_date else 'today, '}{limit}"


def _days_observed(collected: CollectedData, spec: ExperimentSpec) -> int | None:
    if collected.daily is not None and not collected.daily.empty:
        return int(collected.daily.loc[collected.daily["n"] > 0, "day"].nunique())
    if spec.start_date and spec.end_date:
        return (spec.end_date - spec.start_date).days + 1
    return None


def _sample_power(collected: CollectedData, results: pd.DataFrame, spec: ExperimentSpec) -> SamplePower | None:
    """Power of the primary metric at the current sample, with its test's sides; alpha split
    over the corrected family (Bonferroni's bound, which is what Holm's first step needs) when
    the correction controls the family-wise error rate."""
    primary = spec.primary_metric
    if primary.kind == "quantile":
        return None
    overall = collected.overall
    of_primary = overall["metric"].to_numpy() == primary.name
    control = Moments.from_frame(overall).take(np.flatnonzero(of_primary & (overall["variant"].to_numpy() == spec.control)))
    sd = float(np.sqrt(control.var_linearized[0]))
    if not sd > 0:
        return None
    family = int(np.count_nonzero(results["role"].to_numpy() != "guardrail"))
    alpha = spec.alpha / family if spec.correction in FAMILYWISE and family > 1 else spec.alpha
    reduction = results["cuped_variance_reduction"].to_numpy(dtype=float)[results["metric"].to_numpy() == primary.name]
    reduction = reduction[~np.isnan(reduction)]
    return sample_power(
        primary.display_name, float(control.ratio[0]), sd, int(overall["n"].to_numpy()[of_primary].min()), alpha=alpha,
        power=spec.power, variance_reduction=float(reduction.mean()) if reduction.size else 0.0, target_mde=spec.mde,
        days_observed=_days_observed(collected, spec), alternative=primary.alternative,
    )


def _jsonable(value):
    """Plain Python values for JSON: numpy scalars unwrapped, non-finite floats as None."""
    if isinstance(value, dict):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
