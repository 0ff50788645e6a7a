"""Charts of an experiment, each a function from a result object to a matplotlib Figure.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state, so a notebook shows each
once) and take colours from the active style's cycle: the theme is set once, by
:func:`prodops_lib.display.use_theme`, never here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from prodops_lib.charts import MoneyFormatter, legend_outside
from prodops_lib.labels import readable_name

from .analysis import ExperimentAnalysis
from .fake_door import FakeDoorAnalysis
from .power import PowerPlan, SamplePower

__all__ = ["plot_cumulative", "plot_distribution", "plot_effect_by_exposure_day", "plot_fake_door", "plot_forest",
           "plot_power_curve"]

BETTER, WORSE, NEUTRAL = "C0", "C3", "0.55"


def _colour(row: pd.Series) -> str:
    if not row["significant"] or pd.isna(row["abs_effect"]):
        return NEUTRAL
    better = row["abs_effect"] > 0 if row["direction"] == "increase" else row["abs_effect"] < 0
    return BETTER if better else WORSE


def plot_forest(analysis: ExperimentAnalysis, *, relative: bool = True) -> Figure:
    """Every metric's lift per variant with its interval (relative, log-scale delta method;
    absolute where the lift is n/a). Blue: significantly better, red: significantly worse
    (adjusted p-values), grey: not significant, and every effect grey when the decision is to
    investigate (the split cannot be trusted); guardrail margins as dotted ticks; a one-sided
    interval's open side as a dashed arrow."""
    table = analysis.results
    untrusted = analysis.decision.verdict == "investigate"  # a broken split: no effect is trustworthy
    figure = Figure(figsize=(8.0, 0.45 * len(table) + 1.4), layout="constrained")
    axes = figure.subplots()
    labels = []
    for position, (_, row) in enumerate(table.iloc[::-1].iterrows()):
        use_relative = relative and pd.notna(row["rel_effect"])
        point, low, high = ((row["rel_effect"], row["rel_ci_low"], row["rel_ci_high"]) if use_relative
                            else (row["abs_effect"], row["abs_ci_low"], row["abs_ci_high"]))
        colour = "0.65" if untrusted else _colour(row)
        if np.isinf(low) != np.isinf(high):  # a one-sided interval: an arrow towards its open side
            reach = (point - low) if np.isinf(high) else (high - point)
            low, high = (low, point) if np.isinf(high) else (point, high)
            axes.annotate("", xy=(point + (reach if low < point else -reach), position), xytext=(point, position),
                          arrowprops={"arrowstyle": "->", "color": colour, "linestyle": "--"})
        axes.errorbar(point, position, xerr=[[point - low], [high - point]], fmt="o", color=colour, capsize=3)
        margin = row["non_inferiority_margin"]
        if use_relative and pd.notna(margin):
            axes.plot([-margin if row["direction"] == "increase" else margin] * 2, [position - 0.3, position + 0.3],
                      ":", color=WORSE)
        suffix = "" if use_relative or not relative else " (absolute)"
        labels.append(f"{analysis.spec.metric_label(row['metric'])} · {row['variant']}{suffix}")
    axes.axvline(0, color="0.3", linewidth=1)
    axes.set_yticks(range(len(labels)), labels)
    if relative:
        axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel(f"{'relative lift' if relative else 'difference'} vs {analysis.spec.control} "
                    f"({1 - analysis.spec.alpha:.0%} interval)")
    axes.set_title(f"{readable_name(analysis.spec.name)}: each metric's change against {analysis.spec.control}"
                   + (" (not trustworthy until the split is explained)" if untrusted else ""))
    return figure


def plot_cumulative(analysis: ExperimentAnalysis, metric: str | None = None, variant: str | None = None) -> Figure:
    """The cumulative effect by day with the naive daily interval and the always-valid
    confidence sequence: a novelty effect shows as a drift; stop early only when the sequence
    (not the naive band) leaves zero."""
    if analysis.cumulative is None:
        raise ValueError(f"experiment {analysis.spec.name!r}: no daily data; set timestamp_column to see the cumulative effect")
    chosen = metric or analysis.spec.primary_metric.name
    series = analysis.cumulative[analysis.cumulative["metric"] == chosen]
    if variant is not None:
        series = series[series["variant"] == variant]
    if series.empty:
        raise ValueError(f"experiment {analysis.spec.name!r}: no cumulative series for metric {chosen!r}"
                         + (f" and variant {variant!r}" if variant else ""))
    untrusted = analysis.decision.verdict == "investigate"  # greyed as the forest plot is
    figure = Figure(layout="constrained")
    axes = figure.subplots()
    for index, (name, rows) in enumerate(series.groupby("variant", sort=False)):
        colour = "0.65" if untrusted else f"C{index}"
        axes.plot(rows["day"], rows["abs_effect"], marker="o", color=colour, label=f"{name}: cumulative effect")
        axes.fill_between(rows["day"], rows["cs_low"], rows["cs_high"], color=colour, alpha=0.12,
                          label=f"{name}: {1 - analysis.spec.alpha:.0%} boundary valid at every look")
        axes.plot(rows["day"], rows["abs_ci_low"], "--", color=colour, linewidth=0.8, label=f"{name}: naive daily interval")
        axes.plot(rows["day"], rows["abs_ci_high"], "--", color=colour, linewidth=0.8)
    axes.axhline(0, color="0.3", linewidth=1)
    currency = analysis.spec.metric(chosen).currency
    if currency is not None:
        axes.yaxis.set_major_formatter(MoneyFormatter(currency, signed=True))
    # the title names the metric: a long metric name on the y axis ran over the first date
    axes.set_ylabel(f"difference, variant − {analysis.spec.control}")
    axes.set_title(f"{analysis.spec.metric_label(chosen)}: cumulative effect by day"
                   + (" (not trustworthy until the split is explained)" if untrusted else ""))
    legend_outside(figure, below=True)
    figure.autofmt_xdate()
    return figure


def plot_effect_by_exposure_day(analysis: ExperimentAnalysis, metric: str | None = None) -> Figure:
    """Each exposure-day cohort's effect (lift, or difference where a lift is n/a) against the
    days it has been exposed by the end, with its interval and the weighted trend line
    (:mod:`.novelty`): a line falling in the good direction's opposite is a novelty effect."""
    chosen = metric or analysis.spec.primary_metric.name
    table = analysis.by_exposure_day
    series = None if table is None else table[table["metric"] == chosen]
    if series is None or series.empty:
        raise ValueError(f"experiment {analysis.spec.name!r}: no effect by exposure day for metric {chosen!r}; "
                         "it needs timestamp_column and a mean, proportion or ratio metric")
    relative = series["scale"].iloc[0] == "relative"
    figure = Figure(layout="constrained")
    axes = figure.subplots()
    for index, (name, rows) in enumerate(series.groupby("variant", sort=False)):
        colour = f"C{index}"
        x = rows["days_exposed"].to_numpy(dtype=float) + 0.12 * index  # variants side by side
        effect = rows["effect"].to_numpy(dtype=float)
        axes.errorbar(x, effect, yerr=[effect - rows["effect_ci_low"], rows["effect_ci_high"] - effect], fmt="o",
                      color=colour, capsize=2, alpha=0.8, label=f"{name}: cohort effect (95% interval)")
        if rows["trend_line"].notna().any():
            axes.plot(x, rows["trend_line"], color=colour, linewidth=2, label=f"{name}: weighted trend")
    axes.axhline(0, color="0.3", linewidth=1)
    if relative:
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel("days exposed by the end (units first exposed that many days before the last day)")
    axes.set_ylabel(f"{'lift' if relative else 'difference'} vs {analysis.spec.control}")
    axes.set_title(f"{analysis.spec.metric_label(chosen)}: effect by days since exposure")
    legend_outside(figure, below=True)
    return figure


def plot_distribution(analysis: ExperimentAnalysis, metric: str | None = None, bins: int = 40,
                      counts: pd.DataFrame | None = None) -> Figure:
    """Share of units per value bin, one outline per variant (values above the 99.5th
    percentile are in the last bin); ``counts`` reuses a table from ``analysis.distribution``."""
    counts = analysis.distribution(metric, bins=bins) if counts is None else counts
    chosen = metric or analysis.spec.primary_metric.name
    figure = Figure(layout="constrained")
    axes = figure.subplots()
    for index, (name, rows) in enumerate(counts.groupby("variant", sort=False)):
        edges = np.append(rows["bin_low"].to_numpy(), rows["bin_high"].iloc[-1])
        axes.stairs(rows["share"].to_numpy(), edges, color=f"C{index}", linewidth=1.6, label=str(name))
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel(analysis.spec.metric_label(chosen))
    axes.set_ylabel("share of units")
    axes.set_title(f"Distribution of {analysis.spec.metric_label(chosen)} per variant")
    legend_outside(figure)
    return figure


def plot_power_curve(power: ExperimentAnalysis | SamplePower | PowerPlan) -> Figure:
    """Power against the relative effect at the current (or planned) sample, with the target
    power and the minimum detectable effect marked."""
    if isinstance(power, ExperimentAnalysis):
        if power.power is None:
            raise ValueError(f"experiment {power.spec.name!r}: no power curve for a quantile or constant primary metric")
        power = power.power
    curve = power.curve()
    target = power.power
    mde = power.mde_now if isinstance(power, SamplePower) else power.mde
    n = power.n_per_variant
    figure = Figure(layout="constrained")
    axes = figure.subplots()
    axes.plot(curve["rel_effect"], curve["power"], color="C0")
    axes.axhline(target, color="0.5", linestyle=":", label=f"{target:.0%} power")
    axes.axvline(mde, color="C1", linestyle="--", label=f"smallest change detected {target:.0%} of the time: {mde:.1%}")
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel("true relative effect")
    axes.set_ylabel("power")
    axes.set_ylim(0, 1.02)
    axes.set_title(f"Power with {n:,} units per variant")
    legend_outside(figure, below=True)
    return figure


def plot_fake_door(result: FakeDoorAnalysis) -> Figure:
    """Click-through per arm with its Wilson interval against the target rate."""
    table = result.results
    figure = Figure(figsize=(7.0, 0.6 * len(table) + 1.6), layout="constrained")
    axes = figure.subplots()
    positions = np.arange(len(table))
    rate = table["click_through"].to_numpy()
    axes.errorbar(rate, positions, xerr=[rate - table["ci_low"], table["ci_high"] - rate], fmt="o", color="C0", capsize=4)
    axes.axvline(result.target_rate, color="C3", linestyle="--", label=f"target {result.target_rate:.2%}")
    axes.set_yticks(positions, table["variant"].astype(str))
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel(f"click-through ({1 - result.alpha:.0%} Wilson interval)")
    axes.set_title("Click-through of each arm against the target")
    legend_outside(figure, below=True)
    return figure
