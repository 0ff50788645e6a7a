"""The feedback charts, in the report theme (:func:`prodops_lib.display.use_theme`).

Each function draws one chart and returns the figure (a notebook shows it as the cell's
value); the table behind it is named in the docstring, for :func:`prodops_lib.display.save_result`.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from prodops_lib.charts import COLOURS, GREY, HIGHLIGHTED, legend_outside
from prodops_lib.display import PALETTE
from prodops_lib.feedback.cluster import OTHER, Clustering
from prodops_lib.feedback.trends import ThemeTrends

__all__ = ["k_quality", "theme_map", "theme_sizes", "themes_by_source", "trend_changes", "trend_lines"]


def _figure(size: tuple[float, float]):
    figure = Figure(figsize=size, layout="constrained")
    return figure, figure.subplots()


def _name(label: str, width: int = 38) -> str:
    return textwrap.shorten(str(label), width=width, placeholder="…")


def _top(themes: pd.DataFrame, top: int, key: str = "theme_id") -> pd.DataFrame:
    return themes[themes[key] != OTHER].nlargest(top, "n_items")


def theme_sizes(themes: pd.DataFrame, top: int = 15) -> Figure:
    """Items per theme, largest first, coloured by product theme (table: the themes table)."""
    shown = pd.concat([_top(themes, top), themes[themes["theme_id"] == OTHER]])
    products = sorted(set(shown["product_theme"]) - {"unmapped"})
    colour = {p: COLOURS[i % len(COLOURS)] for i, p in enumerate(products)} | {"unmapped": GREY}
    figure, axis = _figure((9.5, 0.32 * len(shown) + 1.2))
    positions = np.arange(len(shown))[::-1]
    axis.barh(positions, shown["n_items"], color=[colour[p] for p in shown["product_theme"]])
    # a theme named after its product theme is not followed by the same name in brackets
    axis.set_yticks(positions, [_name(label if label == product else f"{label}  [{product}]", 60) for label, product
                                in zip(shown["label"], shown["product_theme"], strict=True)], fontsize=9)
    for position, (count, share) in enumerate(zip(shown["n_items"], shown["share"], strict=True)):
        axis.text(count, positions[position], f" {count:,} ({share:.0%})", va="center", fontsize=8)
    axis.set_xlabel("Feedback items (duplicates counted once)")
    axis.set_title("Largest themes; in brackets the product theme of those not named after one")
    axis.margins(x=0.15)
    return figure


def themes_by_source(by_source: pd.DataFrame, themes: pd.DataFrame, top: int = 12) -> Figure:
    """Each top theme's items split by channel (table: the description's ``by_source``)."""
    ids = list(_top(themes, top)["theme_id"])
    matrix = (by_source[by_source["theme_id"].isin(ids)]
              .pivot_table(index="theme_id", columns="source", values="items", fill_value=0).reindex(ids))
    labels = themes.set_index("theme_id").loc[ids, "label"]
    figure, axis = _figure((9.5, 0.34 * len(ids) + 1.4))
    positions = np.arange(len(ids))[::-1]
    left = np.zeros(len(ids))
    for index, source in enumerate(matrix.columns):
        values = matrix[source].to_numpy(dtype=float)
        axis.barh(positions, values, left=left, color=COLOURS[index % len(COLOURS)], label=str(source))
        left += values
    axis.set_yticks(positions, [_name(label) for label in labels], fontsize=9)
    axis.set_xlabel("Feedback items")
    axis.set_title("Where each theme is heard")
    legend_outside(figure, title="channel")
    return figure


def theme_map(coordinates: np.ndarray, labels: np.ndarray, themes: pd.DataFrame, top: int = HIGHLIGHTED) -> Figure:
    """A 2-D map of the feedback (t-SNE), the ``top`` largest themes in colour (at most
    :data:`~prodops_lib.charts.HIGHLIGHTED`: more colours cannot be told apart on a map), the
    rest grey (table: one row per shown item with x, y, theme_id)."""
    ids = list(_top(themes, min(top, HIGHLIGHTED))["theme_id"])
    names = themes.set_index("theme_id")["label"]
    figure, axis = _figure((9.5, 6.2))
    rest = ~np.isin(labels, ids)
    axis.scatter(coordinates[rest, 0], coordinates[rest, 1], s=6, color=GREY, alpha=0.5, linewidths=0,
                 label="other themes")
    for index, theme in enumerate(ids):
        mask = labels == theme
        axis.scatter(coordinates[mask, 0], coordinates[mask, 1], s=9, color=COLOURS[index % len(COLOURS)],
                     alpha=0.85, linewidths=0, label=_name(names[theme], 32))
    axis.set_xticks([])
    axis.set_yticks([])
    axis.set_title("Map of the feedback: nearby points say similar things")
    legend_outside(figure, markerscale=2)
    return figure


def trend_lines(trends: ThemeTrends, table: pd.DataFrame, top: int = HIGHLIGHTED) -> Figure:
    """Monthly share of feedback of the ``top`` largest groups of ``table`` (themes or issues,
    as ``trends.key`` says; at most :data:`~prodops_lib.charts.HIGHLIGHTED` lines, which can
    still be told apart; table: ``trends.monthly``)."""
    key = trends.key
    ids = list(_top(table, min(top, HIGHLIGHTED), key)[key])
    monthly = trends.monthly[trends.monthly[key].isin(ids)]
    figure, axis = _figure((9.5, 4.4))
    for index, theme in enumerate(ids):
        rows = monthly[monthly[key] == theme].sort_values("month")
        axis.plot(rows["month"], rows["share"], marker="o", color=COLOURS[index % len(COLOURS)],
                  label=_name(rows["label"].iloc[0], 34) if len(rows) else str(theme))
    axis.yaxis.set_major_formatter(PercentFormatter(1.0))
    axis.set_ylabel("Share of the month's feedback")
    axis.set_title(f"Largest {'themes' if key == 'theme_id' else 'issues'} month by month")
    legend_outside(figure)
    return figure


def trend_changes(changes: pd.DataFrame, top: int = 10) -> Figure:
    """Share in the period against the baseline for emerging, new and fading themes
    (table: the trends' ``changes``)."""
    moving = changes[changes["trend"] != "steady"].copy()
    figure, axis = _figure((9.5, 0.42 * max(len(moving.head(top)), 2) + 1.4))
    if moving.empty:
        axis.text(0.5, 0.5, "No issue grew or shrank significantly this period", ha="center", va="center",
                  transform=axis.transAxes)
        axis.set_axis_off()
        return figure
    moving = moving.assign(order=moving["trend"].map({"emerging": 0, "new": 1, "fading": 2})) \
        .sort_values(["order", "q_growth"]).head(top)
    positions = np.arange(len(moving))[::-1]
    axis.barh(positions + 0.2, moving["share_before"].fillna(0), height=0.38, color=GREY)
    trend_colours = {"emerging": PALETTE[3], "new": PALETTE[1], "fading": PALETTE[0]}
    axis.barh(positions - 0.2, moving["share_this_period"], height=0.38, color=moving["trend"].map(trend_colours))
    axis.set_yticks(positions, [f"{_name(label, 40)} ({trend})" for label, trend
                                in zip(moving["label"], moving["trend"], strict=True)], fontsize=9)
    axis.xaxis.set_major_formatter(PercentFormatter(1.0))
    axis.set_xlabel("Share of feedback")
    axis.set_title("Emerging, new and fading issues")
    # one entry per colour drawn: "this period" alone would show only the first bar's colour
    shown = [trend for trend in trend_colours if trend in set(moving["trend"])]
    legend_outside(figure, [Patch(color=GREY)] + [Patch(color=trend_colours[t]) for t in shown],
                   ["baseline months"] + [f"this period, {t}" for t in shown], below=True, ncols=len(shown) + 1)
    return figure


def k_quality(clustering: Clustering) -> Figure:
    """How the number of issues was chosen: silhouette and graph modularity of each candidate
    count, their smoothed curves, the modularity plateau shaded and the chosen count marked
    (table: ``clustering.quality``)."""
    quality = clustering.quality
    figure, axis = _figure((7.5, 3.6))
    if quality.empty:
        axis.text(0.5, 0.5, f"The number of issues was fixed at {clustering.k}", ha="center", va="center",
                  transform=axis.transAxes)
        axis.set_axis_off()
        return figure
    plateau = quality[quality["plateau"]]
    axis.axvspan(plateau["k"].min(), plateau["k"].max(), color=GREY, alpha=0.25, linewidth=0,
                 label="counts the modularity supports")
    axis.scatter(quality["k"], quality["silhouette"], s=16, color=PALETTE[0], alpha=0.6)
    axis.plot(quality["k"], quality["smoothed"], color=PALETTE[0], linewidth=2, label="silhouette (smoothed)")
    chosen = quality[quality["chosen"]]
    axis.scatter(chosen["k"], chosen["smoothed"], s=120, facecolors="none", edgecolors=PALETTE[3], linewidths=2,
                 label=f"chosen: {clustering.k} groups ({clustering.n_issues} issues after splits and Other)", zorder=3)
    right = axis.twinx()
    right.scatter(quality["k"], quality["modularity"], s=16, color=PALETTE[1], alpha=0.6, marker="s")
    right.plot(quality["k"], quality["smoothed_modularity"], color=PALETTE[1], linewidth=2, linestyle="--",
               label="modularity (smoothed)")
    right.set_ylabel("Modularity of the neighbour graph")
    right.grid(False)  # one grid, the left axis's: two misaligned grids read as data
    axis.set_xscale("log")
    axis.set_xlabel("Number of groups tried (log scale)")
    axis.set_ylabel("Mean silhouette (cosine)")
    axis.set_title("How the number of issues was chosen")
    legend_outside(figure, below=True, ncols=2)
    return figure
