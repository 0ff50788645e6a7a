"""Charts of the experiment program; each takes the program and returns a matplotlib Figure,
built without pyplot (a notebook shows it once, as the cell's value)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from prodops_lib.charts import COLOURS, GREY, legend_outside, no_data
from prodops_lib.labels import metric_words
from prodops_lib.program import ExperimentProgram

STARTED, CONCLUDED, OPEN = COLOURS[0], COLOURS[1], "#555555"
MEASURED, CORRECTED = GREY, COLOURS[0]


def plot_velocity(program: ExperimentProgram) -> Figure:
    """Started and concluded per month as bars, open at each month's end as a line."""
    velocity = program.velocity
    title = f"Experiments per month, {program.months[0]} to {program.months[-1]}"
    if not (velocity[["started", "concluded", "open"]].to_numpy().sum()):
        return no_data(title, "No experiment started, concluded or ran in these months.")
    positions = np.arange(len(velocity))
    figure = Figure(figsize=(8.5, 3.6), layout="constrained")
    axis = figure.subplots()
    axis.bar(positions - 0.2, velocity["started"], width=0.38, color=STARTED, label="Started")
    axis.bar(positions + 0.2, velocity["concluded"], width=0.38, color=CONCLUDED, label="Concluded")
    axis.plot(positions, velocity["open"], "o-", color=OPEN, linewidth=2, label="Open at the month's end")
    axis.set_xticks(positions, velocity["month"], rotation=45, ha="right")
    axis.set_ylabel("Experiments")
    axis.yaxis.get_major_locator().set_params(integer=True)
    axis.set_title(title)
    legend_outside(figure, below=True)
    return figure


def plot_win_rates(program: ExperimentProgram) -> Figure:
    """Win rate by product theme, each bar labelled with its wins out of decided experiments."""
    rates = program.win_rates[program.win_rates["group"] == "theme"].sort_values("win_rate", na_position="first")
    title = f"Win rate by product theme, {program.months[0]} to {program.months[-1]}"
    if rates.empty:
        return no_data(title, "No experiment was decided in these months.")
    overall = program.overall["win_rate"]
    positions = np.arange(len(rates))
    figure = Figure(figsize=(8.5, 0.42 * len(rates) + 1.4), layout="constrained")
    axis = figure.subplots()
    axis.barh(positions, 100 * rates["win_rate"].fillna(0), color=COLOURS[0], height=0.6)
    for position, (_, row) in zip(positions, rates.iterrows(), strict=True):
        axis.text(100 * (row["win_rate"] if row["win_rate"] == row["win_rate"] else 0) + 1, position,
                  f"{int(row['wins'])} of {int(row['decided'])}", va="center", fontsize=9)
    axis.axvline(100 * overall, color=OPEN, linestyle="--", linewidth=1.2, label=f"All experiments ({overall:.0%})")
    axis.set_yticks(positions, rates["name"])
    axis.set_xlim(0, max(100.0, 100 * float(rates["win_rate"].max()) + 15))
    axis.set_xlabel("Win rate among decided experiments (%)")
    axis.set_title(title)
    legend_outside(figure, below=True)
    return figure


def plot_impact(program: ExperimentProgram) -> Figure:
    """Per primary metric: the shipped tests' summed lift as measured and once corrected for the
    winner's curse, each with its interval."""
    impact = program.impact
    title = "What shipped A/B tests added up to"
    if impact.empty:
        return no_data(title, "No A/B test was shipped in these months.")
    positions = np.arange(len(impact))
    figure = Figure(figsize=(8.5, 0.8 * len(impact) + 1.5), layout="constrained")
    axis = figure.subplots()
    for offset, prefix, colour, label in ((-0.15, "naive", MEASURED, "As measured (sum of the shipped results)"),
                                         (0.15, "shrunk", CORRECTED, "Corrected for the winner's curse")):
        point = 100 * impact[prefix].to_numpy(float)
        low, high = 100 * impact[f"{prefix}_low"].to_numpy(float), 100 * impact[f"{prefix}_high"].to_numpy(float)
        axis.errorbar(point, positions + offset, xerr=[point - low, high - point], fmt="o", color=colour,
                      markersize=7, linewidth=2.5, capsize=0, label=label)
    axis.axvline(0, color="#555", linewidth=1)
    axis.set_yticks(positions, [f"{metric_words(m)} ({n} shipped)" for m, n in
                                zip(impact["metric"], impact["n_shipped"], strict=True)])
    axis.set_ylim(len(impact) - 0.5, -0.5)
    axis.set_xlabel("Summed relative lift of the shipped tests (%), with interval")
    axis.set_title(title)
    legend_outside(figure, below=True)
    return figure
