"""Charts of the monthly review; each takes a result object and returns a matplotlib Figure,
built without pyplot (no global state: a notebook shows it once, as the cell's value)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from prodops_lib.charts import (
    COLOURS,
    GREY,
    HIGHLIGHTED,
    label_line_ends,
    label_points,
    legend_outside,
    no_data,
)
from prodops_lib.review.demand_supply import DemandSupply, GapHistory
from prodops_lib.review.experiments import BETA, ExperimentsByTheme

DEMAND_COLOUR, EFFORT_COLOUR = "#0072B2", "#E69F00"
# "investigate" is grey: its split is broken, so its numbers are not to be read as an effect
DECISION_COLOURS = {"ship": "#1b7f4b", "don't ship": "#b03a2e", "keep running": "#8a6100", "investigate": "#9a9a9a",
                    "build": "#1b7f4b", "don't build": "#b03a2e"}
_FAKE_DOOR_COLUMNS = ("click_through", "click_through_low", "click_through_high", "target_rate")


def plot_demand_vs_supply(result: DemandSupply) -> Figure:
    """Paired horizontal bars: each theme's demand share beside its effort share."""
    frame = result.frame.sort_values("gap_pp", na_position="first")
    if frame[f"demand_{result.basis}_share"].isna().all() or frame["effort_share"].isna().all():
        return no_data(f"Demand against supply by theme, {result.period}",
                        "Demand or supply is missing for this period: see Coverage of the inputs.")
    positions = np.arange(len(frame))
    figure = Figure(figsize=(8.5, 0.45 * len(frame) + 1.2), layout="constrained")
    axis = figure.subplots()
    demand = 100 * frame[f"demand_{result.basis}_share"].to_numpy(float)
    effort = 100 * frame["effort_share"].to_numpy(float)
    axis.barh(positions + 0.2, demand, height=0.38, color=DEMAND_COLOUR, label=f"Demand (share of feedback on product themes, by {result.basis})")
    axis.barh(positions - 0.2, effort, height=0.38, color=EFFORT_COLOUR, label="Supply (share of product-theme effort)")
    axis.set_yticks(positions, frame["theme"])
    axis.set_xlabel("Share of product themes (%)")
    axis.set_title(f"Demand against supply by theme, {result.period}")
    legend_outside(figure, below=True)
    return figure


def plot_gap_history(history: GapHistory, highlight: int = HIGHLIGHTED) -> Figure:
    """The gap (demand − supply, pp) per theme over the months shown: the ``highlight`` themes
    with the largest gap in the last month in colour, named at the line's end with that gap
    (the under- and over-served themes the summary names are the largest either way); the
    others thin and grey, named under the chart (their numbers are in the table below it)."""
    if history.frame.empty:
        return no_data("Is the gap closing?", "No month has both demand and supply: see Coverage of the inputs.")
    frame = history.frame.sort_values("month")
    last = frame.groupby("theme", sort=False)["gap_pp"].last()
    highlighted = list(last.abs().sort_values(ascending=False, kind="stable").index[:highlight])
    figure = Figure(figsize=(8.5, 4.4), layout="constrained")
    axis = figure.subplots()
    colours = dict(zip(highlighted, COLOURS, strict=False))
    for theme, group in frame.groupby("theme", sort=False):
        if theme in colours:
            axis.plot(group["month"], group["gap_pp"], marker="o", color=colours[theme], linewidth=2.2, zorder=3)
        else:
            axis.plot(group["month"], group["gap_pp"], color=GREY, linewidth=1.2, zorder=2)
    axis.axhline(0, color="#555", linewidth=1)
    label_line_ends(axis, [last[t] for t in highlighted],
                    [f"{t} ({last[t]:+.1f})" for t in highlighted], [colours[t] for t in highlighted])
    others = [t for t in last.index if t not in colours]
    if others:
        axis.set_xlabel(f"Grey: {', '.join(others)}", fontsize=9, color="#666666", loc="left")
    axis.set_ylabel("Gap: demand − effort (pp)")
    axis.set_title("Is the gap closing? Demand minus supply by month")
    return figure


def plot_demand_supply_scatter(result: DemandSupply) -> Figure:
    """Demand share against effort share, one point per theme, with the diagonal of balance;
    each point named, the names kept apart by :func:`prodops_lib.charts.label_points`."""
    frame = result.frame.dropna(subset=["effort_share", f"demand_{result.basis}_share"])
    if frame.empty:
        return no_data("Demand share against effort share", "Demand or supply is missing for this period.")
    x = 100 * frame["effort_share"].to_numpy(float)
    y = 100 * frame[f"demand_{result.basis}_share"].to_numpy(float)
    figure = Figure(figsize=(6.5, 6.4), layout="constrained")
    axis = figure.subplots()
    top = max([*x, *y, 1.0]) * 1.15
    axis.plot([0, top], [0, top], color="#777", linestyle="--", linewidth=1, label="demand = supply")
    axis.fill_between([0, top], [result.threshold_pp, top + result.threshold_pp], [top] * 2, color=DEMAND_COLOUR,
                      alpha=0.06, label=f"under-served by more than {result.threshold_pp:g} pp")
    axis.scatter(x, y, color=DEMAND_COLOUR, zorder=3)
    axis.set_xlim(0, top)
    axis.set_ylim(0, top)
    axis.set_xlabel("Supply: share of product-theme effort (%)")
    axis.set_ylabel("Demand: share of feedback on product themes (%)")
    axis.set_title("Above the line: under-served")
    legend_outside(figure, below=True, ncols=1)
    label_points(axis, x, y, [str(theme) for theme in frame["theme"]])
    return figure


def plot_experiment_lifts(result: ExperimentsByTheme) -> Figure:
    """The period's experiments, each judged on its own scale: A/B tests as the primary
    metric's relative lift against control with its interval, fake doors as click-through
    with its interval against their target (a rate against a target is no lift, so never on
    the lift axis). Colour: the decision; an experiment to investigate is grey and hollow, its
    split being broken."""
    experiments = result.experiments
    fake = _is_fake_door(experiments)
    beta = experiments["kind"].eq(BETA)
    # a beta's change is against comparable users, not a randomised control: never on this axis
    ab_tests = experiments[~fake & ~beta].dropna(subset=["rel_effect"]).reset_index(drop=True)
    missing = [c for c in _FAKE_DOOR_COLUMNS if c not in experiments.columns]  # summaries without click-through
    fake_doors = experiments[fake].reindex(columns=[*experiments.columns, *missing]).dropna(subset=["click_through"])
    fake_doors = fake_doors.reset_index(drop=True)
    if ab_tests.empty and fake_doors.empty:
        return no_data("Experiments by theme", "No experiment result was found for this period.")
    rows = [len(table) for table in (ab_tests, fake_doors) if len(table)]
    figure = Figure(figsize=(8.5, 0.5 * sum(rows) + 1.3 * len(rows) + 0.6), layout="constrained")
    axes = figure.subplots(len(rows), 1, height_ratios=[n + 1.2 for n in rows], squeeze=False)[:, 0]
    panels = iter(axes)
    if len(ab_tests):
        _lift_panel(next(panels), ab_tests)
    if len(fake_doors):
        _fake_door_panel(next(panels), fake_doors)
    decisions = [d for d in DECISION_COLOURS if d in set(ab_tests["decision"]) | set(fake_doors["decision"])]
    handles = [Line2D([], [], marker="o", linewidth=2.5, color=DECISION_COLOURS[d],
                      markerfacecolor="white" if d == "investigate" else DECISION_COLOURS[d]) for d in decisions]
    labels = [f"{d} (not trustworthy)" if d == "investigate" else d for d in decisions]
    if len(fake_doors):
        handles.append(Line2D([], [], color="#b03a2e", linestyle="--"))
        labels.append("fake door's target")
    legend_outside(figure, handles, labels, below=True, ncols=min(len(handles), 5))
    return figure


def _is_fake_door(experiments: pd.DataFrame) -> pd.Series:
    """Which experiments are fake doors (every row has its kind: :mod:`.inputs` infers it for
    summaries saved before it was recorded)."""
    return experiments["kind"].eq("fake door")


def _row_label(row: pd.Series) -> str:
    return f"{row['name']} · {row['theme']}"


def _interval(axis: Axes, position: int, point: float, low: float, high: float, decision: str) -> None:
    colour = DECISION_COLOURS.get(decision, "#34495e")
    if np.isfinite(low) and np.isfinite(high):
        axis.plot([low, high], [position, position], color=colour, linewidth=2.5, solid_capstyle="butt")
    axis.plot(point, position, "o", color=colour, markersize=7,
              markerfacecolor="white" if decision == "investigate" else colour, zorder=3)


def _lift_panel(axis: Axes, tests: pd.DataFrame) -> None:
    for position, row in tests.iterrows():
        _interval(axis, position, 100 * row["rel_effect"], 100 * row["rel_ci_low"], 100 * row["rel_ci_high"],
                  row["decision"])
    axis.axvline(0, color="#555", linewidth=1)
    axis.set_yticks(range(len(tests)), [_row_label(row) for _, row in tests.iterrows()])
    axis.set_ylim(len(tests) - 0.5, -0.5)
    axis.set_xlabel("Primary metric: relative lift against control (%) with interval")
    axis.set_title("A/B tests: primary metric against control")


def _fake_door_panel(axis: Axes, doors: pd.DataFrame) -> None:
    for position, row in doors.iterrows():
        _interval(axis, position, 100 * row["click_through"], 100 * row["click_through_low"],
                  100 * row["click_through_high"], row["decision"])
        if pd.notna(row["target_rate"]):  # each door has its own target: a tick on its row
            axis.plot([100 * row["target_rate"]] * 2, [position - 0.35, position + 0.35], "--", color="#b03a2e",
                      linewidth=1.5)
    axis.set_yticks(range(len(doors)), [_row_label(row) for _, row in doors.iterrows()])
    axis.set_ylim(len(doors) - 0.5, -0.5)
    low = min(doors["click_through_low"].min(), doors["target_rate"].min())
    high = max(doors["click_through_high"].max(), doors["target_rate"].max())
    margin = 0.15 * (high - low) if high > low else 0.01
    axis.set_xlim(100 * max(low - margin, 0), 100 * (high + margin))
    axis.set_xlabel("Click-through (%) with interval, against the door's target")
    axis.set_title("Fake doors: click-through against target (not a lift)")
