"""Charts of the monthly review; each takes a result object and returns a matplotlib Figure,
built without pyplot (no global state: a notebook shows it once, as the cell's value)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from prodops_lib.review.demand_supply import DemandSupply, GapHistory
from prodops_lib.review.experiments import ExperimentsByTheme

DEMAND_COLOUR, EFFORT_COLOUR = "#0072B2", "#E69F00"


def _no_data(title: str, message: str) -> Figure:
    """A small figure that says why a chart is empty, instead of empty axes."""
    figure = Figure(figsize=(8.5, 1.6), layout="constrained")
    axis = figure.subplots()
    axis.set_axis_off()
    axis.set_title(title)
    axis.text(0.5, 0.4, message, ha="center", va="center", fontsize=11, color="#8a6100", wrap=True)
    return figure


def plot_demand_vs_supply(result: DemandSupply) -> Figure:
    """Paired horizontal bars: each theme's demand share beside its effort share."""
    frame = result.frame.sort_values("gap_pp", na_position="first")
    if frame[f"demand_{result.basis}_share"].isna().all() or frame["effort_share"].isna().all():
        return _no_data(f"Demand against supply by theme, {result.period}",
                        "Demand or supply is missing for this period: see Coverage of the inputs.")
    positions = np.arange(len(frame))
    figure = Figure(figsize=(8.5, 0.45 * len(frame) + 1.2), layout="constrained")
    axis = figure.subplots()
    demand = 100 * frame[f"demand_{result.basis}_share"].to_numpy(float)
    effort = 100 * frame["effort_share"].to_numpy(float)
    axis.barh(positions + 0.2, demand, height=0.38, color=DEMAND_COLOUR, label=f"Demand (share of feedback, by {result.basis})")
    axis.barh(positions - 0.2, effort, height=0.38, color=EFFORT_COLOUR, label="Supply (share of product effort)")
    axis.set_yticks(positions, frame["theme"])
    axis.set_xlabel("Share of product themes (%)")
    axis.set_title(f"Demand against supply by theme, {result.period}")
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    return figure


def plot_gap_history(history: GapHistory) -> Figure:
    """The gap (demand − supply, pp) per theme over the months shown."""
    if history.frame.empty:
        return _no_data("Is the gap closing?", "No month has both demand and supply: see Coverage of the inputs.")
    figure = Figure(figsize=(8.5, 4.2), layout="constrained")
    axis = figure.subplots()
    for theme, group in history.frame.groupby("theme", sort=False):
        axis.plot(group["month"], group["gap_pp"], marker="o", label=theme)
    axis.axhline(0, color="#555", linewidth=1)
    axis.set_ylabel("Gap: demand − effort (pp)")
    axis.set_title("Is the gap closing? Demand minus supply by month")
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9)
    return figure


def plot_demand_supply_scatter(result: DemandSupply) -> Figure:
    """Demand share against effort share, one point per theme, with the diagonal of balance."""
    frame = result.frame.dropna(subset=["effort_share", f"demand_{result.basis}_share"])
    if frame.empty:
        return _no_data("Demand share against effort share", "Demand or supply is missing for this period.")
    x = 100 * frame["effort_share"].to_numpy(float)
    y = 100 * frame[f"demand_{result.basis}_share"].to_numpy(float)
    figure = Figure(figsize=(6.5, 6), layout="constrained")
    axis = figure.subplots()
    top = max([*x, *y, 1.0]) * 1.15
    axis.plot([0, top], [0, top], color="#777", linestyle="--", linewidth=1, label="demand = supply")
    axis.fill_between([0, top], [result.threshold_pp, top + result.threshold_pp], [top] * 2, color=DEMAND_COLOUR, alpha=0.06)
    axis.scatter(x, y, color=DEMAND_COLOUR, zorder=3)
    for theme, xi, yi in zip(frame["theme"], x, y, strict=True):
        axis.annotate(str(theme), (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=9)
    axis.set_xlim(0, top)
    axis.set_ylim(0, top)
    axis.set_xlabel("Supply: share of product effort (%)")
    axis.set_ylabel("Demand: share of feedback (%)")
    axis.set_title("Above the line: under-served")
    axis.legend(loc="lower right")
    return figure


def plot_experiment_lifts(result: ExperimentsByTheme) -> Figure:
    """Primary-metric relative lift with its interval, one row per experiment, grouped by theme."""
    frame = result.experiments.dropna(subset=["rel_effect"]).reset_index(drop=True)
    if frame.empty:
        return _no_data("Experiments by theme", "No experiment result was found for this period.")
    figure = Figure(figsize=(8.5, 0.5 * max(len(frame), 1) + 1.3), layout="constrained")
    axis = figure.subplots()
    colours = {"ship": "#1b7f4b", "don't ship": "#b03a2e", "keep running": "#8a6100", "investigate": "#b03a2e"}
    for position, row in frame.iterrows():
        colour = colours.get(row["decision"], "#34495e")
        low, high = 100 * row["rel_ci_low"], 100 * row["rel_ci_high"]
        if np.isfinite(low) and np.isfinite(high):
            axis.plot([low, high], [position, position], color=colour, linewidth=2.5)
        axis.plot(100 * row["rel_effect"], position, "o", color=colour)
    axis.axvline(0, color="#555", linewidth=1)
    axis.set_yticks(range(len(frame)), [f"{r['name']} · {r['theme']}" for _, r in frame.iterrows()])
    axis.invert_yaxis()
    axis.set_xlabel("Primary metric: relative lift (%) with interval")
    axis.set_title("Experiments by theme (colour: decision)")
    return figure
