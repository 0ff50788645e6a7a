"""What the experiment notebooks need beyond the analysis: their parameter files, the summary
the monthly review reads, and the page's composite blocks (escaped through ``display``)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import pandas as pd

from ..display import Html, Kpi, bullets, callout, figure, kpi_cards, paragraph, table
from ..io import DropLog, InputError, load_table
from ..labels import engine_name, money_text, p_equals, p_value_text, readable_name
from ..params import resolve_path
from .aggregate import ROW_DROPS
from .analysis import ExperimentAnalysis, analyse_aggregates, analyse_experiment
from .decision import NOTICEABLE_REDUCTION, interval_text
from .design import DesignSpec, plan_deviations
from .duckdb_source import database_settings
from .engines import ENGINES, EngineSource
from .fake_door import FakeDoorAnalysis, analyse_fake_door
from .priors import report_priors
from .spec import ExperimentSpec
from .srm import P_FLOOR, similar_labels

__all__ = [
    "TONES",
    "ExperimentReport",
    "FakeDoorReport",
    "decision_block",
    "decision_tone",
    "distribution_chart",
    "fake_door_block",
    "fake_door_summary",
    "fake_door_table",
    "novelty_block",
    "over_time",
    "power_block",
    "results_block",
    "review_summary",
    "run_experiment_report",
    "run_fake_door_report",
    "segments_block",
]

TONES = {"ship": "good", "don't ship": "neutral", "keep running": "warning", "investigate": "bad",
         "build": "good", "don't build": "neutral"}  # the last two: fake doors
_PCT_SIGNED = "{:+.2%}"


def _bound(value: object) -> str:
    """An interval bound as a signed percentage; the open side of a one-sided interval in words."""
    return "open (one-sided)" if isinstance(value, float) and math.isinf(value) else _PCT_SIGNED.format(value)


def _with_range(frame: pd.DataFrame) -> pd.DataFrame:
    """The change's interval as one column, ``+2.03% to +18.35%``, where its two bounds were
    (a column less keeps the effects table within an 800 px window); ``—`` when there is none."""
    # "to" stays with the low end: a narrow column wraps it into two lines, "+2.03% to" / "+18.35%"
    text = [f"{_bound(low)}\u00a0to {_bound(high)}" if pd.notna(low) and pd.notna(high) else "—"
            for low, high in zip(frame["rel_ci_low"], frame["rel_ci_high"], strict=True)]
    shown = frame.drop(columns=["rel_ci_low", "rel_ci_high"])
    shown.insert(frame.columns.get_loc("rel_ci_low"), "rel_range", text)
    return shown


@dataclass(frozen=True)
class ExperimentReport:
    """``parameters/ab_<name>.yaml``: where the data is and what the experiment is.

    ``source`` is a CSV or parquet file of units (one row per unit), aggregated inside DuckDB,
    or — with ``aggregates: true`` — one row per variant with n, sum and sum of squares (or
    successes). ``bootstrap_samples`` and ``random_state`` drive quantile metrics. ``design`` is
    the plan signed before the test (:class:`.design.DesignSpec`, read by the design notebook);
    the analysis flags a test decided before its planned weeks or with another primary metric.

    ``engine: spark`` reads ``source`` (a table, a Spark SQL query or a parquet path) on Spark:
    a local session, or the cluster at ``spark_remote`` (else ``SPARK_REMOTE``). ``engine: sql``
    reads it (a table or a query) in the warehouse whose SQLAlchemy URL is in the environment
    variable named by ``connection``. Either way only per-variant sums leave the engine
    (docs/scale.md).
    """

    source: str
    experiment: ExperimentSpec
    aggregates: bool = False
    bootstrap_samples: int = 2000
    random_state: int = 0
    engine: str = "duckdb"
    spark_remote: str | None = None
    connection: str | None = None
    design: DesignSpec | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ValueError(f"engine {self.engine!r} must be one of {', '.join(ENGINES)}")
        if self.engine == "sql" and not self.connection:
            raise ValueError("engine: sql needs connection: the name of the environment variable holding the "
                             "warehouse's SQLAlchemy URL (never the URL itself)")
        if self.connection and "://" in self.connection:
            raise ValueError("connection must name an environment variable, not hold the URL: credentials stay out "
                             "of parameter files")
        if self.engine != "duckdb" and self.aggregates:
            raise ValueError(f"engine {self.engine!r} reads unit-level data; remove aggregates: true")

    def engine_source(self) -> EngineSource | None:
        """Where the data is read, when it is not a file for DuckDB."""
        if self.engine == "duckdb":
            return None
        return EngineSource(self.engine, self.source, self.spark_remote, self.connection)


@dataclass(frozen=True)
class FakeDoorReport:
    """``parameters/fake_door_<name>.yaml``: a fake-door test's counts and its target.

    ``source`` holds one row per arm (``variant, exposures, clicks``); ``control`` names the arm
    that saw the existing entry point (leave it empty for a single-arm test). ``team`` (the team
    that ran it) goes to ``summary.json`` and the ledger.
    """

    name: str
    source: str
    target_click_through: float
    theme: str = ""
    team: str | None = None
    hypothesis: str = ""
    control: str | None = None
    alpha: float = 0.05

    def __post_init__(self) -> None:
        if not 0 < self.target_click_through < 1:
            raise ValueError(f"target_click_through {self.target_click_through!r} must be a rate between 0 and 1 (0.03 = 3%)")
        if not 0 < self.alpha < 0.5:
            raise ValueError(f"alpha {self.alpha!r} must be between 0 and 0.5")


def run_experiment_report(report: ExperimentReport, log: DropLog, *, period: str | None = None,
                          results_dir: str | None = None, report_name: str | None = None) -> ExperimentAnalysis:
    """Analyse the report's source and record what was read and dropped in ``log``. With
    ``prior: learned``, each metric's prior is learned from the experiments before ``period``
    (:func:`.priors.report_priors`: the ledger of the run ``results_dir`` belongs to, the
    ``history`` CSV; ``report_name`` is this report's key in the ledger, left out)."""
    spec = report.experiment
    priors = (report_priors(spec, log, period=period, results_dir=results_dir, report_name=report_name)
              if spec.prior == "learned" else None)
    if report.engine_source():
        analysis = analyse_experiment(report.engine_source(), spec, bootstrap_samples=report.bootstrap_samples,
                                      random_state=report.random_state, priors=priors)
        log.record_input(analysis.source, None, rows_read(analysis))  # "Postgres table analytics.units"
        log.drop_frame(analysis.drops)
    elif report.aggregates:
        frame = load_table(report.source, log=log, label=report.source)
        analysis = analyse_aggregates(frame, spec, source=report.source, priors=priors)
        log.drop_frame(analysis.drops.assign(source=report.source))
    else:
        path = resolve_path(report.source)
        analysis = analyse_experiment(report.source, spec, bootstrap_samples=report.bootstrap_samples,
                                      random_state=report.random_state, priors=priors)
        log.record_input(report.source, path, _rows_in_file(path))
        log.drop_frame(analysis.drops.assign(source=report.source))
    if report.design is not None:
        days = analysis.power.days_observed if analysis.power is not None else None
        deviations = plan_deviations(report.design, spec, days, analysis.decision.verdict)
        analysis = replace(analysis, notes={**analysis.notes, "plan_deviations": deviations})
    return analysis


def engine_where(analysis: ExperimentAnalysis) -> str:
    """Where the unit-level data of an engine analysis stayed: ``on Spark``, ``in Postgres``."""
    name = engine_name(analysis.notes.get("dialect", analysis.data.engine))
    return f"on {name}" if analysis.data.engine == "spark" else f"in {name}"


def rows_read(analysis: ExperimentAnalysis) -> int:
    """The source's rows the analysis read: the units analysed and the rows dropped whole (no
    variant, no unit id, a unit in two variants), as a file's row count would give."""
    whole = analysis.drops[analysis.drops["reason"].isin(ROW_DROPS)]
    return int(sum(analysis.units.values()) + whole["rows"].sum())


def _rows_in_file(path) -> int:
    """Rows of a unit-level file, counted by DuckDB without loading it into pandas."""
    import duckdb

    reader = "read_parquet" if path.suffix.lower() in (".parquet", ".pq") else "read_csv_auto"
    with duckdb.connect(config=database_settings()) as connection:
        return int(connection.execute(f"select count(*) from {reader}(?)", [str(path)]).fetchone()[0])


def load_fake_door(report: FakeDoorReport, log: DropLog) -> pd.DataFrame:
    """The fake door's arms (``variant, exposures, clicks``), counts as numbers; a missing
    column or a count that is not a whole number is a one-line error naming the row."""
    frame = load_table(report.source, log=log, label=report.source)
    for column in ("variant", "exposures", "clicks"):
        if column not in frame.columns:
            raise InputError(f"{report.source}: column {column!r} is missing; a fake door needs variant, exposures "
                             f"and clicks; columns present: {', '.join(map(str, frame.columns))}")
    for column in ("exposures", "clicks"):
        counts = pd.to_numeric(frame[column], errors="coerce")
        bad = counts.isna() | (counts < 0) | (counts % 1 != 0)
        if bad.any():
            row = int(bad.to_numpy().argmax())
            raise InputError(f"{report.source}: column {column!r}, data row {row + 1}: {frame[column].iloc[row]!r} "
                             "is not a count; write a whole number of 0 or more")
        frame[column] = counts.astype("int64")
    return frame


def run_fake_door_report(report: FakeDoorReport, log: DropLog) -> FakeDoorAnalysis:
    frame = load_fake_door(report, log)
    return analyse_fake_door(frame, report.target_click_through, control=report.control, alpha=report.alpha)


def _finite(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(float(value)) else None


def review_summary(analysis: ExperimentAnalysis) -> dict:
    """The one-experiment summary the monthly review reads (``summary.json``): name, theme,
    decision, the primary metric's relative lift and interval for the decided variant (or the
    best one), and the days still needed when the experiment must keep running."""
    spec = analysis.spec
    primary = analysis.results[analysis.results["metric"] == spec.primary_metric.name]
    chosen = primary[primary["variant"] == analysis.decision.variant] if analysis.decision.variant else primary.iloc[0:0]
    if chosen.empty and len(primary):
        sign = 1 if spec.primary_metric.direction == "increase" else -1
        chosen = primary.loc[[(sign * primary["abs_effect"]).idxmax()]]
    row = chosen.iloc[0] if len(chosen) else None
    power = analysis.power
    return {
        **analysis.summary,
        "name": spec.name, "kind": "A/B test", "theme": spec.theme, "team": spec.team,
        "decision": analysis.decision.verdict,
        "primary_metric_label": spec.primary_metric.display_name,
        "status": "running" if analysis.decision.verdict == "keep running" else "decided",
        "variant": None if row is None else str(row["variant"]),
        "rel_effect": None if row is None else _finite(row["rel_effect"]),
        "rel_ci_low": None if row is None else _finite(row["rel_ci_low"]),
        "rel_ci_high": None if row is None else _finite(row["rel_ci_high"]),
        "days_to_go": power.more_days if power is not None and analysis.decision.verdict == "keep running" else None,
        "caveats": caveats(analysis),
        "rel_effect_capped": _capped_effect(analysis, row),
    }


def _capped_effect(analysis: ExperimentAnalysis, row) -> float | None:
    """The primary metric's effect with extreme values capped, when a unit dominated it."""
    for unit in analysis.notes.get("extreme_units", []):
        if row is not None and unit["metric"] == analysis.spec.primary_metric.name:
            return _finite(unit["effect_capped"].get(str(row["variant"])))
    return None


def fake_door_summary(report: FakeDoorReport, analysis: FakeDoorAnalysis) -> dict:
    """The review's summary of a fake-door test: above target → build, below → don't build,
    inconclusive → keep running. A fake door measures demand for something not built yet, so
    it never reads as "ship". The lift is relative to the target click-through."""
    best = analysis.results.loc[analysis.results["click_through"].idxmax()]
    decision = {"above target": "build", "below target": "don't build", "inconclusive": "keep running"}[best["verdict"]]
    target = report.target_click_through
    return {
        **analysis.summary, "name": report.name, "kind": "fake door", "theme": report.theme, "team": report.team,
        "decision": decision,
        "status": "running" if decision == "keep running" else "decided", "primary_metric": "click_through vs target",
        "variant": str(best["variant"]), "rel_effect": best["click_through"] / target - 1,
        "rel_ci_low": best["ci_low"] / target - 1, "rel_ci_high": best["ci_high"] / target - 1, "days_to_go": None,
        # what a fake door is judged on: its click-through against the target, not a lift vs a control
        "click_through": float(best["click_through"]), "click_through_low": float(best["ci_low"]),
        "click_through_high": float(best["ci_high"]), "target_rate": float(target), "verdict": str(best["verdict"]),
    }


def decision_block(analysis: ExperimentAnalysis) -> Html:
    """The decision first (an SRM alarm says the result cannot be trusted), its reasons and the
    headline figures of the primary metric."""
    decision = analysis.decision
    primary = analysis.spec.primary_metric.name
    rows = analysis.results[analysis.results["metric"] == primary]
    untrusted = decision.verdict == "investigate"
    cards = [Kpi("Decision", decision.verdict.upper(), decision.variant, TONES[decision.verdict])]
    for _, row in rows.iterrows():
        lift = "n/a" if pd.isna(row["rel_effect"]) else f"{row['rel_effect']:+.1%}"
        interval = (interval_text(row["rel_ci_low"], row["rel_ci_high"], 1 - analysis.spec.alpha)
                    if pd.notna(row["rel_ci_low"]) else row.get("rel_na_reason"))
        cards.append(Kpi(f"{analysis.spec.metric_label(primary)}: {row['variant']}", lift,
                         "not trustworthy until the split is explained" if untrusted else interval,
                         "good" if row["significant"] and not untrusted else "neutral"))
    srm = analysis.srm
    state, tone = ("mismatch", "bad") if srm.mismatch else (("borderline", "warning") if srm.borderline else ("ok", "good"))
    cards.append(Kpi("Sample ratio", state, p_equals(srm.p_value, P_FLOOR), tone))
    warnings = ([srm.message()] if srm.borderline else []) + variant_label_notes(analysis)
    said = headline(analysis)
    verdict = None if said.lower().startswith(decision.verdict) else decision.verdict.upper() + ":"
    top = callout(said, tone=decision_tone(analysis), title=verdict) + kpi_cards(cards)
    top += "".join(callout(text, tone="warning") for text in warnings)
    power = analysis.power.message() if analysis.power is not None else None
    reasons = [reason for reason in decision.reasons if reason != decision.headline]
    if not untrusted:
        said_power = power_text(analysis)
        return Html(top + bullets(said_power if reason == power else reason for reason in reasons))
    # the alarm first; what the data says about the effects, greyed and not acted on; and no
    # days to wait, since more data cannot repair a broken split
    alarm_texts = (srm.message(), analysis.notes.get("crossover_alarm"))
    alarms = [reason for reason in reasons if reason in alarm_texts]
    measured = [reason for reason in reasons if reason not in alarm_texts and reason != power]
    return Html(top + bullets(alarms) + paragraph("What the data shows, not trustworthy until the split is explained:")
                + bullets(measured, muted=True))


def title(spec: ExperimentSpec) -> str:
    """The experiment as the summary names it: ``Checkout redesign: <hypothesis>``."""
    return readable_name(spec.name) + (f": {spec.hypothesis}" if spec.hypothesis else "")


def variant_label_notes(analysis: ExperimentAnalysis) -> list[str]:
    """A sentence per pair of variant labels that differ only in case or spacing."""
    return [f"Variants {first!r} and {second!r} differ only in case or spacing and are analysed as two arms; "
            "if they are one, fix the labels in the data." for first, second in similar_labels(list(analysis.units))]


def results_block(analysis: ExperimentAnalysis) -> Html:
    """The results as a PM reads them, the conclusion first: which metric moved how much, with
    its interval and whether it is a clear result; the averages after. Raw p-values and each
    test's name are in results.csv and the Method section. An "investigate" decision greys it."""
    columns = ["metric", "variant", "rel_effect", "rel_ci_low", "rel_ci_high", "significant", "chance_to_beat_control",
               "p_value_adjusted", "mean_control", "mean_variant", "role"]
    frame = _with_readable_averages(analysis.results, analysis.spec)[[c for c in columns if c in analysis.results.columns]]
    frame = _with_range(frame.assign(metric=frame["metric"].map(analysis.spec.metric_label)))
    formats = {"rel_effect": _PCT_SIGNED, "p_value_adjusted": p_value_text, "chance_to_beat_control": "{:.1%}"}
    notes = extreme_notes(analysis)
    untrusted = analysis.decision.verdict == "investigate"
    if untrusted:
        notes.insert(0, "These effects are not trustworthy until the split between variants is explained: read "
                        "them as what the data says, not as what the change did.")
    warnings = "".join(callout(text, tone="warning") for text in notes)
    shown = table(frame, formats=formats, muted=untrusted, level=1 - analysis.spec.alpha)
    if analysis.priors:
        shown += paragraph("Chance to beat control weighs this test's data against what past experiments found:")
        shown += bullets(text[0].upper() + text[1:] + "." for text in prior_sentences(analysis))
    return Html(warnings + shown)


def prior_sentences(analysis: ExperimentAnalysis) -> list[str]:
    """The prior of each metric's Bayesian view in words, when they were learned (``prior: learned``)."""
    spec = analysis.spec
    quantiles = [metric for metric in spec.metrics if metric.kind == "quantile"] if analysis.priors else []
    return [prior.text(spec.metric_label(name))
            for name, prior in (analysis.priors or {}).items()] + [
        f"no prior for {metric.display_name}: a quantile's chance comes from its bootstrap" for metric in quantiles]


def _with_readable_averages(results: pd.DataFrame, spec: ExperimentSpec) -> pd.DataFrame:
    """The control and variant averages as text: a rate for proportion metrics (9.94%), an
    amount in its currency for money ($12.40), four significant digits otherwise; a column
    holds several metrics, so one format cannot do."""
    def text(value: float, kind: str, metric: str) -> str:
        if pd.isna(value):
            return "—"
        currency = spec.metric(metric).currency
        if currency is not None:
            return money_text(value, currency)
        return f"{value:.2%}" if kind == "proportion" else f"{value:,.4g}"

    return results.assign(**{column: [text(value, kind, metric) for value, kind, metric
                                      in zip(results[column], results["kind"], results["metric"], strict=True)]
                             for column in ("mean_control", "mean_variant")})


_FWER = ", which keeps the chance of even one false alarm among them at {alpha:.0%}"
_CORRECTIONS = {
    "holm": "Holm's method" + _FWER,
    "bonferroni": "Bonferroni's method" + _FWER,
    "holm_sidak": "the Holm-Šidák method" + _FWER,
    "hochberg": "Hochberg's method" + _FWER + " when the comparisons are independent or move together",
    "fdr_bh": "the Benjamini-Hochberg method, which keeps the expected share of false alarms among the clear "
              "results at {alpha:.0%}",
    "fdr_by": "the Benjamini-Yekutieli method, which keeps the expected share of false alarms among the clear "
              "results at {alpha:.0%} however the comparisons depend on each other",
}
_TESTS = {
    "z_continuity": "a two-proportion z-test with a continuity correction, which is slightly more cautious with "
                    "small counts",
    "fisher": "Fisher's exact test, which computes the p-value from every possible table instead of an approximation",
    "barnard": "Barnard's exact test, which computes the p-value from every possible table and is more powerful "
               "than Fisher's",
    "boschloo": "Boschloo's exact test, which computes the p-value from every possible table and is more powerful "
                "than Fisher's",
}


def _option_sentences(spec: ExperimentSpec) -> list[str]:
    """One sentence per test option a metric sets: one-sided, pooled variance, a chosen test."""
    sentences = []
    for metric in spec.metrics:
        if metric.alternative != "two-sided":
            side = "higher" if metric.alternative == "greater" else "lower"
            win = ("can only declare a win; a change the other way reads as no clear difference"
                   if metric.role == "primary" else "cannot show a change the other way")
            sentences.append(f"{metric.display_name} is tested one-sided ({metric.alternative}): the test asks only whether "
                             f"the variant is {side}, so its interval is open on the other side and it {win}.")
        if metric.equal_var:
            sentences.append(f"{metric.display_name} uses Student's t-test with a variance pooled over both arms, which assumes "
                             "the arms spread equally.")
        if metric.test in _TESTS:
            # the exact tests take seconds a table: per day and per segment the z-test stands in
            stand_in = "" if metric.test == "z_continuity" else (
                " (per day and per segment the default z-test stands in); its interval is Newcombe's score "
                "interval, a different method, so right at the threshold the two can disagree on whether the "
                "result is clear: the p-value decides")
            sentences.append(f"{metric.display_name} uses {_TESTS[metric.test]}{stand_in}.")
    return sentences


def method_block(analysis: ExperimentAnalysis) -> Html:
    """The appendix's Method: one plain sentence per method this report used, with its
    settings, so that the decision and the tables above can stay in plain words."""
    spec, results = analysis.spec, analysis.results
    level = f"{1 - spec.alpha:.0%}"
    compared = results[results["role"] != "guardrail"]
    sentences = [f"Every variant is compared with the control ({spec.control}); intervals are {level} intervals and a "
                 f"result is clear when its p-value is below {spec.alpha:g}."]
    if spec.correction in _CORRECTIONS and len(compared) > 1:
        sentences.append(f"The {len(compared)} primary and secondary comparisons are corrected together by "
                         + _CORRECTIONS[spec.correction].format(alpha=spec.alpha) + ".")
    tests = results.drop_duplicates("metric")[["metric", "method"]].itertuples(index=False)
    sentences.append("Tests: " + "; ".join(f"{spec.metric_label(metric)}, {method}" for metric, method in tests) + ".")
    sentences += _option_sentences(spec)
    if spec.relative_interval == "log":
        sentences.append("A relative lift is the variant's average over the control's, minus one; its interval comes "
                         "from the delta method on the log scale, so it need not be symmetric around the lift.")
    else:
        sentences.append("A relative lift is the variant's average over the control's, minus one; its interval comes "
                         "from the delta method on the ratio itself (linear), so it is symmetric around the lift.")
    covariates = [f"{metric.display_name} ({metric.covariate})" for metric in spec.metrics if metric.covariate]
    if covariates:
        slopes = {metric.cuped_slope for metric in spec.metrics if metric.covariate}
        slope = {"within": "pooled within the arms", "pooled": "fitted to both arms' units together"}
        sentences.append("CUPED adjusts " + ", ".join(covariates) + " for each unit's pre-experiment value: the part a "
                         f"slope {' or '.join(slope[s] for s in sorted(slopes, reverse=True))} predicts is removed, "
                         "which leaves the expected effect unchanged and narrows the interval by as much as the "
                         "pre-experiment value predicts. " + _cuped_gains(analysis))
    adjusted = [f"{metric.display_name} ({', '.join(metric.regression_covariates)})" for metric in spec.metrics
                if metric.regression_covariates]
    if adjusted:
        sentences.append("Regression adjustment compares " + ", ".join(adjusted) + " as if every arm had the same "
                         "average of those covariates (a separate regression in each arm, Lin 2013), which narrows the "
                         "interval by the share of the variation they explain.")
    if (results["role"] == "guardrail").any():
        sentences.append("A guardrail holds when its interval rules out a loss larger than its margin "
                         "(a non-inferiority test).")
    srm_test = ("an exact binomial test" if analysis.srm.method == "exact binomial" else
                "a chi-square test" + (" (the exact test is for two variants)" if spec.srm_test == "exact" else ""))
    sentences.append(f"Sample ratio check: {srm_test} of the units per variant against the planned split; "
                     f"below {spec.srm_alpha:g} the decision is to investigate.")
    if analysis.priors:
        sentences.append("Chance to beat control: the lift's normal approximation with a prior per metric, learned from "
                         "the past experiments of the months before this one (each experiment once, this one left out; "
                         "their true lifts taken as normally spread): " + "; ".join(prior_sentences(analysis)) + ".")
    else:
        prior = ("a flat prior" if spec.prior_sd is None
                 else f"a normal prior on the relative lift (mean {spec.prior_mean:+.1%}, sd {spec.prior_sd:.1%})")
        sentences.append(f"Chance to beat control: the lift's normal approximation with {prior}.")
    if analysis.power is not None:
        one_sided = "" if analysis.power.alternative == "two-sided" else ", one-sided as the primary metric's test"
        sentences.append(f"Power: the smallest change detected {analysis.power.power:.0%} of the time at a "
                         f"significance level of {analysis.power.alpha:.3g} per comparison{one_sided}.")
    sentences += _engine_sentences(analysis)
    sentences.append("Over time: an always-valid confidence sequence, which stays correct however often the result "
                     "is looked at. README's experiments section has the formulas and references.")
    if analysis.novelty:
        corrected = any(trend.family_size > 1 and trend.correction != "none" for trend in analysis.novelty)
        rule = (f"for the primary metric after correcting over its variants. The {level} interval shown is not "
                "corrected, so it can exclude 0 without a trend." if corrected else
                f"so exactly when its {level} interval excludes 0.")
        sentences.append("Novelty and primacy: the lift among the units first exposed on each day, against the days "
                         "they have been exposed by the end, fitted by a straight line weighted by each day's "
                         f"precision; a slope is reported as a trend when its p-value is below {spec.alpha:g}, {rule}")
    return bullets(sentences)


def _cuped_gains(analysis: ExperimentAnalysis) -> str:
    """What CUPED removed per metric: the share of the variance (averaged over the variants)
    and how much narrower that makes the interval (its width goes with the square root)."""
    parts = []
    for metric in (metric for metric in analysis.spec.metrics if metric.covariate):
        shares = analysis.results.loc[analysis.results["metric"] == metric.name, "cuped_variance_reduction"]
        removed = float(shares.mean()) if shares.notna().any() else math.nan
        if not math.isfinite(removed):
            continue
        name = metric.display_name
        if removed < NOTICEABLE_REDUCTION:  # the decision's own threshold: the two never disagree
            parts.append(f"For {name} the pre-experiment value did not reduce the noise (the variance), so the "
                         "interval is about as wide as without it.")
        else:
            parts.append(f"For {name} it removed {removed:.0%} of the noise (the variance): an interval "
                         f"{1 - math.sqrt(1 - removed):.0%} narrower.")
    return " ".join(parts)


def _engine_sentences(analysis: ExperimentAnalysis) -> list[str]:
    """Where the sums were computed, when the data stayed on Spark or in a warehouse."""
    if not isinstance(analysis.data, EngineSource):
        return []
    where = engine_where(analysis)
    sentences = [f"The unit-level data stayed {where}: one query (written once and compiled for its SQL dialect by "
                 "SQLGlot) returned the per-variant sums, after one that checks each unit is in a single variant."]
    if any(metric.kind == "quantile" for metric in analysis.spec.metrics):
        sentences.append(f"Quantiles come from exact order statistics read {where} (a histogram of the values, "
                         "then the few values in the bins that hold the ranks the bootstrap draws), not from an "
                         "approximate percentile, so they equal a local analysis of the same data.")
    return sentences


def _lift(value: float | None) -> str:
    return "not estimable" if value is None or not math.isfinite(value) else f"{value:+,.1%}"


def extreme_notes(analysis: ExperimentAnalysis) -> list[str]:
    """One sentence per unit whose value alone moves a mean, with the effect as measured and
    with values capped (:mod:`prodops_lib.experiments.extremes`)."""
    sentences = []
    for unit in analysis.notes.get("extreme_units", []):
        effects = "; ".join(
            f"{variant}: {_lift(measured)} as measured, {_lift(unit['effect_capped'].get(variant))} with "
            f"values capped at the {1 - unit['cap_quantile']:.0%} and {unit['cap_quantile']:.0%} quantiles"
            for variant, measured in unit["effect"].items())
        label = analysis.spec.metric_label(unit["metric"])
        sentences.append(f"One unit dominates {label}: {unit['description']}. Effect on {label}: "
                         f"{effects}. Check that unit's data; to cap such values in this report, set "
                         f"winsorize_upper on the metric.")
    return sentences


def decision_tone(analysis: ExperimentAnalysis) -> str:
    """The index card's tone for this decision (investigate is bad, keep running a warning); a
    decision with a caveat (:func:`caveats`) is never shown as good."""
    tone = TONES[analysis.decision.verdict]
    return "warning" if tone == "good" and caveats(analysis) else tone


def caveats(analysis: ExperimentAnalysis) -> list[str]:
    """Short reasons to check the data before acting on the decision: a unit that dominates a
    mean, variant labels that are probably one arm, exposures after the end date, a test that
    departs from its plan."""
    notes = analysis.notes
    found = [f"one unit dominates {analysis.spec.metric_label(unit['metric'])}" for unit in notes.get("extreme_units", [])]
    found += [f"variants {first!r} and {second!r} may be one arm" for first, second in similar_labels(list(analysis.units))]
    if notes.get("units_after_end"):
        found.append(f"{notes['units_after_end']:,} units exposed after {notes['exposure_limit']}")
    found += notes.get("plan_deviations", [])
    return list(dict.fromkeys(found))


def headline(analysis: ExperimentAnalysis) -> str:
    """The decision's headline, with its caveats when there are any (for the index and review)."""
    found = caveats(analysis)
    return analysis.decision.headline + (f" Check first: {'; '.join(found)}." if found else "")


def over_time(analysis: ExperimentAnalysis) -> Html:
    """The cumulative effect by day against the always-valid boundary, or why it is missing."""
    column = analysis.spec.timestamp_column
    if not column:
        return paragraph("No exposure timestamp was given (parameter experiment.timestamp_column), so the effect "
                         "cannot be followed over time.")
    notes = "".join(callout(note, tone="warning") for note in timestamp_notes(analysis))
    if analysis.notes.get("units_without_timestamp", 0) >= sum(analysis.units.values()):
        return callout(f"No value of the exposure column {column!r} could be read as a date and time, so the effect "
                       "cannot be followed over time. Check the column's format (ISO 8601, e.g. "
                       "2026-10-01T09:30:00, reads everywhere).", tone="warning")
    if analysis.cumulative is None or analysis.cumulative.empty:
        return Html(notes + paragraph("The effect over time is drawn only for a mean, proportion or ratio metric "
                                      "with some spread, and this experiment's primary metric is not one."))
    from .plots import plot_cumulative

    return Html(notes + figure(plot_cumulative(analysis)))


def novelty_block(analysis: ExperimentAnalysis) -> Html:
    """Whether the primary metric's effect fades or grows with days since exposure
    (:mod:`.novelty`): a sentence per variant and the effect by exposure day with its trend line.
    Other metrics' trends are in novelty_trend.csv (shown here, they would multiply false alarms)."""
    if analysis.by_exposure_day is None:
        return Html("")  # over_time already says why there is nothing over time
    primary = analysis.spec.primary_metric.name
    shown = [trend for trend in analysis.novelty if trend.metric == primary]
    if not shown:
        from .novelty import MIN_COHORTS

        return paragraph(f"A novelty or primacy effect on {primary} cannot be tested: it needs units in both arms on at "
                         f"least {MIN_COHORTS} different exposure days.")
    from .plots import plot_effect_by_exposure_day

    tones = {"none": "neutral", "novelty": "warning", "primacy": "warning"}
    sentences = "".join(callout(trend.message(analysis.spec.metric_label(trend.metric)), tone=tones[trend.verdict])
                        if trend.verdict != "none" else paragraph(trend.message(analysis.spec.metric_label(trend.metric)))
                        for trend in shown)
    return Html(sentences + figure(plot_effect_by_exposure_day(analysis), alt=f"{primary}: effect by days since exposure"))


def timestamp_notes(analysis: ExperimentAnalysis) -> list[str]:
    """Plain sentences about exposure timestamps that are missing, unreadable or late."""
    notes, column = analysis.notes, analysis.spec.timestamp_column
    sentences = []
    if notes.get("units_without_timestamp"):
        sentences.append(f"{notes['units_without_timestamp']:,} units have no readable exposure time in {column!r} "
                         "(empty, or not a date and time): they count in the effect, not in the chart over time.")
    if notes.get("units_after_end"):
        sentences.append(f"{notes['units_after_end']:,} units were first exposed after {notes['exposure_limit']} "
                         f"(latest {notes['latest_exposure']}): check the export's clock and time zone, or whether "
                         "these rows belong to this experiment.")
    return sentences


def distribution_chart(analysis: ExperimentAnalysis, results_dir) -> Html:
    """The distribution per variant of the primary metric, or of the first mean metric when the
    primary is a 0/1 proportion (whose distribution is just its rate); saved as
    ``distribution.csv``."""
    if analysis.data is None:
        return paragraph("This analysis used per-variant aggregates, so there is no unit-level distribution to show.")
    if isinstance(analysis.data, EngineSource):
        return paragraph(f"The unit-level data stayed {engine_where(analysis)}, which returned only per-variant sums, "
                         "so there is no distribution to show.")
    from ..display import save_result
    from .plots import plot_distribution

    spec = analysis.spec
    shown = spec.primary_metric
    if shown.kind == "proportion":
        shown = next((m for m in spec.metrics if m.kind in ("mean", "quantile")), None)
        if shown is None:
            return paragraph(f"The primary metric {spec.primary_metric.display_name} is a 0/1 proportion: its distribution is its rate, shown above.")
    counts = analysis.distribution(shown.name)
    save_result(counts, "distribution", results_dir)
    return Html(paragraph(f"Unit values of {shown.display_name} per variant.") +
                figure(plot_distribution(analysis, shown.name, counts=counts)))


def power_block(analysis: ExperimentAnalysis) -> Html:
    """What the current sample can detect, and the power curve. After a decision to ship or
    not, the time a planned effect would still need is not a reason to wait, and is said so."""
    if analysis.power is None:
        return paragraph("Power is not computed for a quantile primary metric or a metric without variance.")
    from .plots import plot_power_curve

    return Html(paragraph(power_text(analysis)) + figure(plot_power_curve(analysis.power)))


def power_text(analysis: ExperimentAnalysis) -> str:
    """The power sentence; after a decision to ship or not, it says that the days a planned
    effect would still need are not a reason to wait (the summary and the Power section agree)."""
    if analysis.power is None:
        return ""
    text = analysis.power.message()
    if analysis.decision.verdict in ("ship", "don't ship") and analysis.power.more_days:
        text += (f" The decision does not wait for it: the {analysis.decision.verdict} verdict stands on the effect "
                 "already measured; the extra days would only narrow its interval.")
    elif analysis.decision.verdict == "investigate" and analysis.power.more_days:
        text += " Waiting does not help until the split is explained: more data from a broken split is still broken."
    return text


def segments_block(analysis: ExperimentAnalysis) -> Html:
    """Per-segment effects under a visible exploratory warning, or why there are none."""
    if analysis.segments is None or analysis.segments.empty:
        return paragraph("No segment columns were given (parameter experiment.segments).")
    formats = {"rel_effect": _PCT_SIGNED, "p_value_adjusted": p_value_text}
    # the conclusion first, as in the results table; absolute differences, raw p-values and the
    # test's name stay in segments.csv
    columns = ["segment_column", "segment", "metric", "variant", "rel_effect", "rel_ci_low", "rel_ci_high", "significant",
               "p_value_adjusted", "n_control", "n_variant"]
    return Html(callout(analysis.summary["segments_warning"], tone="warning")
                + paragraph("A clear result here is corrected for the number of segments compared; the intervals are "
                            "not, so an interval that excludes zero can still read 'no'.")
                + table(_with_range(analysis.segments[columns].assign(
                            metric=analysis.segments["metric"].map(analysis.spec.metric_label))),
                        formats=formats, max_rows=60,
                        level=1 - analysis.spec.alpha))


def fake_door_block(report: FakeDoorReport, analysis: FakeDoorAnalysis) -> Html:
    """The fake-door verdict first, then its figures."""
    summary = fake_door_summary(report, analysis)
    best = analysis.results.loc[analysis.results["click_through"].idxmax()]
    cards = [
        Kpi("Verdict", str(best["verdict"]).upper(), f"target {report.target_click_through:.1%}", TONES[summary["decision"]]),
        Kpi("Click-through", f"{best['click_through']:.2%}", f"{best['ci_low']:.2%} to {best['ci_high']:.2%}"),
        Kpi("Exposures", f"{int(best['exposures']):,}", f"{int(best['clicks']):,} clicks"),
    ]
    return Html(callout(analysis.headline, tone=TONES[summary["decision"]]) + kpi_cards(cards)
                + paragraph(f"Hypothesis: {report.hypothesis}" if report.hypothesis else ""))


def _points(value: float) -> str:
    return f"{100 * value:+.2f} pp"


def fake_door_table(analysis: FakeDoorAnalysis) -> Html:
    percent = "{:.2%}"
    formats = {c: percent for c in ("click_through", "ci_low", "ci_high", "target_rate", "control_click_through")} | {
        # a difference of two rates is in percentage points
        "abs_effect": _points, "abs_ci_low": _points, "abs_ci_high": _points,
        "p_value_above_target": p_value_text, "p_value_vs_control": p_value_text}
    # two questions, two tables, each with its conclusion first; the tests' names stay in
    # results.csv and the Method
    frame = analysis.to_frame()
    level = 1 - analysis.alpha
    target = ["variant", "verdict", "click_through", "ci_low", "ci_high", "target_rate", "clicks", "exposures",
              "p_value_above_target"]
    shown = table(frame[target], formats=formats, level=level, caption="Against the target set before the test")
    control = ["variant", "abs_effect", "abs_ci_low", "abs_ci_high", "control_click_through", "p_value_vs_control"]
    if "control_click_through" in frame.columns and frame["control_click_through"].notna().any():
        shown += table(frame[control], formats=formats, level=level, caption="Against the control entry point")
    return Html(shown)
