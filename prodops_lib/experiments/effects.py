"""The tidy results: one row per metric x variant, and the same comparison per day and segment.

Each row compares a variant with the control (:func:`.inference.compare`, or the bootstrap of
:mod:`.quantiles`), adds the Bayesian view (:mod:`.bayes`) on the relative lift, adjusts
p-values over every primary and secondary comparison (:mod:`.corrections`) and tests
guardrails for non-inferiority. Guardrails are not adjusted: the experiment passes only if
*every* guardrail passes, an intersection-union test, which keeps its level without correction
(Berger 1982).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..io import InputError
from ..labels import count_of
from .aggregate import CollectedData
from .bayes import normal_posterior
from .corrections import adjust_p_values
from .inference import compare, non_inferiority_p_value
from .moments import MOMENT_COLUMNS, Moments
from .quantiles import compare_quantiles
from .regression import CovariateSums, regression_adjustment, term_columns
from .sequential import always_valid_p_values, confidence_sequence_halfwidth, mixture_variance
from .spec import ExperimentSpec, MetricSpec

if TYPE_CHECKING:
    from .program import LearnedPrior

__all__ = ["EXTRA_COLUMNS", "EXTRA_COLUMN_DESCRIPTIONS", "RESULT_COLUMNS", "RESULT_COLUMN_DESCRIPTIONS", "compare_columns",
           "compare_metric", "cumulative_table", "results_table"]

RESULT_COLUMNS = [
    "metric", "variant", "control", "n_control", "n_variant", "mean_control", "mean_variant",
    "abs_effect", "abs_ci_low", "abs_ci_high", "rel_effect", "rel_ci_low", "rel_ci_high",
    "p_value", "p_value_adjusted", "significant", "chance_to_beat_control", "expected_loss",
]
RESULT_COLUMN_DESCRIPTIONS = {
    "metric": "metric name from the parameters",
    "variant": "the variant compared with the control",
    "control": "the control variant",
    "n_control": "units of the control counted for this metric (after drops)",
    "n_variant": "units of the variant counted for this metric (after drops)",
    "mean_control": "control mean (rate for proportions, Σnumerator/Σdenominator for ratios, the quantile for quantiles)",
    "mean_variant": "variant mean, as mean_control",
    "abs_effect": "variant minus control (adjusted when the metric has a covariate or covariates)",
    "abs_ci_low": "lower bound of the (1 - alpha) interval of abs_effect",
    "abs_ci_high": "upper bound of the (1 - alpha) interval of abs_effect",
    "rel_effect": "relative lift, variant / control - 1 (empty when n/a: see rel_na_reason)",
    "rel_ci_low": "lower bound of the relative lift's interval (delta method on the log scale, or linear: "
                  "relative_interval); -inf when a one-sided test leaves it open",
    "rel_ci_high": "upper bound of the relative lift's interval (as rel_ci_low); inf when a one-sided test leaves it open",
    "p_value": "p-value of the test named in method (two-sided unless method says one-sided)",
    "p_value_adjusted": "p-value adjusted over all primary and secondary rows (correction in adjustment)",
    "significant": "p_value_adjusted < alpha (guardrails: p_value < alpha)",
    "chance_to_beat_control": "posterior probability that the variant is better (normal approximation)",
    "expected_loss": "posterior expected loss of shipping the variant, in units of the lift (posterior_scale)",
}
EXTRA_COLUMNS = [
    "role", "kind", "direction", "method", "adjustment", "abs_se", "cuped_variance_reduction", "rel_na_reason",
    "posterior_scale", "credible_low", "credible_high", "guardrail_status", "non_inferiority_margin",
    "non_inferiority_p_value", "statistic", "dof", "rel_se", "rel_p_value", "posterior_mean", "posterior_sd",
]
EXTRA_COLUMN_DESCRIPTIONS = {
    "role": "primary, secondary or guardrail, from the parameters",
    "kind": "mean, proportion, ratio or quantile",
    "direction": "which way is good: increase or decrease",
    "method": "the test and interval used, with CUPED and one-sided when they apply",
    "adjustment": "the multiple-testing correction applied to p_value (none for guardrails)",
    "abs_se": "standard error of abs_effect",
    "cuped_variance_reduction": "share of the variance removed by the covariate (CUPED)",
    "rel_na_reason": "why the relative lift is n/a, when it is",
    "posterior_scale": "relative or absolute: the scale of the posterior and expected_loss",
    "credible_low": "lower bound of the (1 - alpha) credible interval, on posterior_scale",
    "credible_high": "upper bound of the (1 - alpha) credible interval, on posterior_scale",
    "guardrail_status": "guardrails: breached, non-inferior, no detectable harm or inconclusive",
    "non_inferiority_margin": "guardrails: the relative loss allowed",
    "non_inferiority_p_value": "guardrails: one-sided p-value that the loss is smaller than the margin",
    "statistic": "the t or z statistic of the test in method (empty for exact tests and quantiles)",
    "dof": "degrees of freedom of a t-test (empty for z and exact tests)",
    "rel_se": "standard error of rel_effect (delta method)",
    "rel_p_value": "p-value of the relative lift on rel_ci_low/high's scale, same distribution and sides as p_value",
    "posterior_mean": "posterior mean of the lift, on posterior_scale (empty for quantiles: bootstrap)",
    "posterior_sd": "posterior standard deviation of the lift, on posterior_scale (empty for quantiles)",
}
_EFFECT_COLUMNS = [
    "n_control", "n_variant", "mean_control", "mean_variant", "abs_effect", "abs_se", "abs_ci_low", "abs_ci_high",
    "statistic", "dof", "p_value", "rel_effect", "rel_ci_low", "rel_ci_high", "rel_se", "log_ratio_se", "rel_p_value",
    "rel_na_reason", "method", "cuped_variance_reduction",
]


def compare_columns(moments: pd.DataFrame, metric: MetricSpec, control: str, alpha: float,
                    keys: list[str], relative_interval: str = "log") -> dict[str, np.ndarray]:
    """Every non-control variant against ``control`` within each group of ``keys`` (besides
    variant), for one mean, proportion or ratio metric, as columns, with the metric's
    ``alternative``, ``equal_var`` and ``test``. An exact ``test`` runs on the overall
    comparison only (no ``keys``): per day and per segment the default test stands in, as
    Barnard's and Boschloo's tests take seconds a table. Groups where an arm has fewer than two
    units are left out."""
    of_metric = moments["metric"].to_numpy() == metric.name
    is_control = moments["variant"].to_numpy() == control
    if keys:
        rows = moments[of_metric]
        paired = rows[~is_control[of_metric]].merge(rows[is_control[of_metric]].drop(columns=["variant"]),
                                                    on=["metric", *keys], suffixes=("", "_c"), how="inner")
        paired = paired[(paired["n"] >= 2) & (paired["n_c"] >= 2)].reset_index(drop=True)
        control_moments = Moments(**{name: paired[f"{name}_c"].to_numpy(dtype=float) for name in MOMENT_COLUMNS})
        variant_moments = Moments.from_frame(paired)
        columns = {name: paired[name].to_numpy() for name in ["metric", "variant", *keys]}
        if metric.regression_covariates:
            sums = (CovariateSums.from_frame(paired, metric.kind, "_c"), CovariateSums.from_frame(paired, metric.kind))
    else:
        # positions rather than filtered frames: this runs for every metric of every analysis
        everything = Moments.from_frame(moments)
        variants = np.flatnonzero(of_metric & ~is_control)
        control_moments = everything.take(np.flatnonzero(of_metric & is_control))
        variant_moments = everything.take(variants)
        columns = {name: moments[name].to_numpy()[variants] for name in ("metric", "variant")}
        if metric.regression_covariates:
            of_metric_sums = CovariateSums.from_frame(moments[of_metric], metric.kind)
            position = np.cumsum(of_metric) - 1  # row -> position among the metric's rows
            sums = (of_metric_sums.take(position[of_metric & is_control]), of_metric_sums.take(position[variants]))
    size = len(columns["variant"])
    if size == 0:
        return {**columns, **{name: np.array([]) for name in _EFFECT_COLUMNS}}
    adjustment = None
    if metric.regression_covariates:
        adjustment = regression_adjustment(control_moments, variant_moments, *sums, term_columns=term_columns(metric))
    try:
        effect = compare(control_moments, variant_moments, metric.kind, alpha=alpha, cuped=bool(metric.covariate),
                         cuped_slope=metric.cuped_slope, adjustment=adjustment, alternative=metric.alternative,
                         equal_var=metric.equal_var, test=metric.test if not keys or metric.test == "z_continuity" else "auto",
                         relative_interval=relative_interval)
    except ValueError as error:  # an exact test refused at this size: name the metric
        raise InputError(f"metric {metric.name!r}: {error}") from None
    columns.update({name: np.broadcast_to(getattr(effect, name), (size,)) for name in _EFFECT_COLUMNS})
    return columns


def compare_metric(moments: pd.DataFrame, metric: MetricSpec, control: str, alpha: float, keys: list[str],
                   relative_interval: str = "log") -> pd.DataFrame:
    """:func:`compare_columns` as a frame."""
    return pd.DataFrame(compare_columns(moments, metric, control, alpha, keys, relative_interval))


def _quantile_columns(collected: CollectedData, metric: MetricSpec, variants: list[str], control: str,
                      alpha: float) -> dict[str, np.ndarray]:
    for variant in [control, *variants]:
        units = collected.quantile_draws.get((metric.name, variant), (0, 0, 0))[2]
        if units < 2:
            raise InputError(f"{collected.source}: metric {metric.name!r}: variant {variant!r} has {count_of(units, 'unit')} "
                             "with a value after drops; each variant needs at least 2")
    rows = []
    point_c, draws_c, n_c = collected.quantile_draws[(metric.name, control)]
    for variant in variants:
        point_v, draws_v, n_v = collected.quantile_draws[(metric.name, variant)]
        result = compare_quantiles(point_c, draws_c, point_v, draws_v, alpha=alpha, direction=metric.direction)
        scale = "abs" if result["rel_na_reason"] else "rel"
        rows.append({"metric": metric.name, "variant": variant, "n_control": n_c, "n_variant": n_v,
                     "method": f"bootstrap of the {metric.quantile:g} quantile", **result,
                     "credible_low": result[f"{scale}_ci_low"], "credible_high": result[f"{scale}_ci_high"],
                     "cuped_variance_reduction": np.nan})
    return {name: np.array([row[name] for row in rows], dtype=object if name in ("rel_na_reason",) else None)
            for name in rows[0]}


def results_table(collected: CollectedData, spec: ExperimentSpec,
                  priors: Mapping[str, LearnedPrior] | None = None) -> pd.DataFrame:
    """The tidy table: :data:`RESULT_COLUMNS` then the extra columns, one row per metric x variant.
    ``priors`` (by metric name) replace the spec's prior in a metric's Bayesian view."""
    variants = [variant for variant in collected.units if variant != spec.control]
    parts = []
    for metric in spec.metrics:
        if metric.kind == "quantile":
            part = _quantile_columns(collected, metric, variants, spec.control, spec.alpha)
        else:
            part = compare_columns(collected.overall, metric, spec.control, spec.alpha, keys=[],
                                   relative_interval=spec.relative_interval)
            part.update(_posterior(part, metric, spec, (priors or {}).get(metric.name)))
        size = len(part["variant"])
        part.update(role=np.full(size, metric.role, dtype=object), kind=np.full(size, metric.kind, dtype=object),
                    direction=np.full(size, metric.direction, dtype=object), **_guardrail(part, metric, spec.alpha))
        parts.append(part)
    for part in parts:  # columns a quantile's bootstrap does not have
        part.update({name: np.full(len(part["variant"]), np.nan) for name in _NUMERIC_EXTRAS if name not in part})
    table = {name: np.concatenate([np.asarray(part[name], dtype=object if name in _TEXT else float) for part in parts])
             for name in set(RESULT_COLUMNS + EXTRA_COLUMNS) - {"control", "p_value_adjusted", "adjustment", "significant"}}
    table["control"] = np.full(len(table["metric"]), spec.control, dtype=object)
    family = table["role"] != "guardrail"
    table["p_value_adjusted"] = table["p_value"].copy()
    table["p_value_adjusted"][family] = adjust_p_values(table["p_value"][family], spec.correction)
    table["adjustment"] = np.where(family, spec.correction, "none (guardrail)").astype(object)
    table["significant"] = table["p_value_adjusted"] < spec.alpha
    return pd.DataFrame({name: table[name] for name in RESULT_COLUMNS + EXTRA_COLUMNS})


_NUMERIC_EXTRAS = ("statistic", "dof", "rel_se", "rel_p_value", "posterior_mean", "posterior_sd")
_TEXT = {"metric", "variant", "role", "kind", "direction", "method", "rel_na_reason", "posterior_scale", "guardrail_status"}


def _posterior(part: dict[str, np.ndarray], metric: MetricSpec, spec: ExperimentSpec,
               learned: LearnedPrior | None) -> dict[str, np.ndarray]:
    """Posterior of the relative lift (prior learned for the metric, else the spec's), or of the
    absolute effect with a flat prior where the relative lift is n/a."""
    relative = np.array([reason is None for reason in part["rel_na_reason"]], dtype=bool)
    prior_mean, prior_sd = (spec.prior_mean, spec.prior_sd) if learned is None else (learned.mean, learned.sd)
    on_relative = normal_posterior(part["rel_effect"], part["rel_se"], direction=metric.direction,
                                   prior_mean=prior_mean, prior_sd=prior_sd, alpha=spec.alpha)
    on_absolute = normal_posterior(part["abs_effect"], part["abs_se"], direction=metric.direction, alpha=spec.alpha)
    columns = {name: np.where(relative, getattr(on_relative, name), getattr(on_absolute, name))
               for name in ("chance_to_beat_control", "expected_loss", "credible_low", "credible_high")}
    columns["posterior_mean"] = np.where(relative, on_relative.mean, on_absolute.mean)
    columns["posterior_sd"] = np.where(relative, on_relative.sd, on_absolute.sd)
    columns["posterior_scale"] = np.where(relative, "relative", "absolute").astype(object)
    return columns


def _guardrail(part: dict[str, np.ndarray], metric: MetricSpec, alpha: float) -> dict[str, np.ndarray]:
    """Guardrail status: ``breached`` (significantly worse), ``non-inferior`` (worse by less than
    the margin, one-sided test on the log scale; for quantiles, the bootstrap interval within
    the margin), ``no detectable harm`` (no margin, not worse) or ``inconclusive``."""
    size = len(part["variant"])
    margin = metric.non_inferiority_margin
    columns = {"non_inferiority_margin": np.full(size, np.nan if margin is None else margin),
               "non_inferiority_p_value": np.full(size, np.nan), "guardrail_status": np.full(size, None, dtype=object)}
    if metric.role != "guardrail" or size == 0:
        return columns
    increase = metric.direction == "increase"
    worse = part["abs_ci_high"] < 0 if increase else part["abs_ci_low"] > 0
    if margin is None:
        status = np.where(worse, "breached", "no detectable harm")
    else:
        if metric.kind == "quantile":
            within = part["rel_ci_low"] > -margin if increase else part["rel_ci_high"] < margin
        else:
            columns["non_inferiority_p_value"] = non_inferiority_p_value(part["rel_effect"], part["log_ratio_se"],
                                                                         margin, metric.direction)
            within = columns["non_inferiority_p_value"] < alpha
        status = np.where(worse, "breached", np.where(within, "non-inferior", "inconclusive"))
    columns["guardrail_status"] = status.astype(object)
    return columns


def cumulative_table(collected: CollectedData, spec: ExperimentSpec) -> pd.DataFrame | None:
    """Cumulative effect per day for every mean, proportion and ratio metric, with the naive
    fixed-horizon interval and the always-valid confidence sequence and p-value (mSPRT)."""
    if collected.daily is None or collected.daily.empty:
        return None
    daily = collected.daily
    days = np.sort(daily["day"].unique())
    parts = []
    for metric in spec.metrics:
        if metric.kind == "quantile":
            continue
        # per metric: the regression adjustment's sums exist for some metrics only (NaN for the others)
        rows = daily[daily["metric"].to_numpy() == metric.name].dropna(axis=1, how="all")
        sums = [name for name in rows.columns if name.startswith("sum_") or name == "n"]
        grid = pd.MultiIndex.from_product([[metric.name], list(collected.units), days], names=["metric", "variant", "day"])
        cumulative = (rows.groupby(["metric", "variant", "day"])[sums].sum()
                      .reindex(grid, fill_value=0.0).groupby(level=["metric", "variant"]).cumsum().reset_index())
        series = compare_metric(cumulative, metric, spec.control, spec.alpha, keys=["day"],
                                relative_interval=spec.relative_interval)
        for _, rows in series.groupby("variant", sort=False):
            rows = rows.sort_values("day").copy()
            variance = rows["abs_se"].to_numpy() ** 2
            if not variance[-1] > 0:
                continue
            tau2 = mixture_variance(float(variance[-1]), spec.alpha)
            half = confidence_sequence_halfwidth(variance, tau2, spec.alpha)
            rows["cs_low"], rows["cs_high"] = rows["abs_effect"] - half, rows["abs_effect"] + half
            rows["always_valid_p_value"] = always_valid_p_values(rows["abs_effect"].to_numpy(), variance, tau2)
            parts.append(rows)
    if not parts:
        return None
    columns = ["metric", "variant", "day", "n_control", "n_variant", "abs_effect", "abs_ci_low", "abs_ci_high",
               "cs_low", "cs_high", "p_value", "always_valid_p_value", "rel_effect", "rel_ci_low", "rel_ci_high"]
    return pd.concat(parts, ignore_index=True)[columns]
